/* segv: bad memory accesses, one case per run, selected by argv[1]. No signal
 * handler is installed, so the cases that fault must kill the process with
 * SIGSEGV (exit status 139 from a shell or from `legoctl run`).
 *
 *   segv null     read address 0                            -> SIGSEGV
 *   segv ro       write into a string literal (.rodata)     -> SIGSEGV
 *   segv ro-mmap  write into a PROT_READ anonymous page     -> SIGSEGV
 *   segv wild     call a function at an unmapped address    -> SIGSEGV
 *   segv kernel   read a kernel-half address                -> SIGSEGV
 *   segv efault   bad pointers passed to system calls must fail with EFAULT
 *                 and the program lives on: prints one line per call and
 *                 "efault ok", exits 0
 *
 * The faulting cases first print "segv: <case>: faulting now" on stdout; if
 * the access does not fault they print "segv: <case>: survived" on stderr
 * and exit 1. The efault case needs stdout to be something that copies the
 * data (a terminal, pipe or file; not /dev/null, whose write never reads the
 * buffer), and opens its own executable, argv[0], to have a file to read. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Hides a pointer's value from the compiler so that it cannot reason about
 * (and drop or trap on) the invalid access that follows. */
#define launder(p) ({ __typeof__(p) __p = (p); __asm__ volatile("" : "+r"(__p)); __p; })

static const char literal[] = "a string in .rodata";

static void announce(const char *what)
{
	printf("segv: %s: faulting now\n", what);
	fflush(stdout);
}

static int survived(const char *what)
{
	fprintf(stderr, "segv: %s: survived\n", what);
	return 1;
}

static int case_null(void)
{
	volatile int *p = launder((volatile int *)0);

	announce("null");
	(void)*p;
	return survived("null");
}

static int case_ro(void)
{
	volatile char *p = launder((volatile char *)(uintptr_t)literal);

	announce("ro");
	p[0] = 'A';
	return survived("ro");
}

static int case_ro_mmap(void)
{
	volatile char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "segv: ro-mmap: mmap: %s\n", strerror(errno));
		return 1;
	}
	if (p[0] != 0) {
		fprintf(stderr, "segv: ro-mmap: fresh page not zero\n");
		return 1;
	}
	announce("ro-mmap");
	p[0] = 1;
	return survived("ro-mmap");
}

static int case_wild(void)
{
	void (*fn)(void) = launder((void (*)(void))(uintptr_t)0xdead0000ul);

	announce("wild");
	fn();
	return survived("wild");
}

static int case_kernel(void)
{
	volatile uint64_t *p = launder((volatile uint64_t *)(uintptr_t)0xffffffff80000000ul);

	announce("kernel");
	(void)*p;
	return survived("kernel");
}

/* Prints "<what>: EFAULT" if ret/errno say EFAULT; returns nonzero if not. */
static int want_efault(const char *what, long ret)
{
	int e = errno;

	if (ret == -1 && e == EFAULT) {
		printf("segv: efault: %s: EFAULT\n", what);
		return 0;
	}
	fprintf(stderr, "segv: efault: %s returned %ld (%s), expected -1 EFAULT\n", what, ret,
		ret == -1 ? strerror(e) : "no error");
	return 1;
}

static int case_efault(const char *self)
{
	void *bad = launder((void *)1);
	void *kern = launder((void *)(uintptr_t)0xffff800000000000ul);
	int err = 0, fd;

	/* stdout is written directly below; empty stdio's buffer first */
	fflush(stdout);
	errno = 0;
	err |= want_efault("write(1, 0x1, 10)", write(1, bad, 10));
	fflush(stdout);
	errno = 0;
	err |= want_efault("write(1, kernel address, 10)", write(1, kern, 10));
	fflush(stdout);

	fd = open(self, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "segv: efault: open %s: %s\n", self, strerror(errno));
		err = 1;
	} else {
		errno = 0;
		err |= want_efault("read(file, 0x1, 10)", read(fd, bad, 10));
		errno = 0;
		err |= want_efault("read(file, kernel address, 10)", read(fd, kern, 10));
		close(fd);
	}
	errno = 0;
	fd = open(launder((const char *)1), O_RDONLY);
	err |= want_efault("open(0x1)", fd);
	if (fd >= 0)
		close(fd);
	errno = 0;
	err |= want_efault("uname(0x1)", uname(launder((struct utsname *)1)));

	if (err) {
		printf("segv: efault: FAIL\n");
		fflush(stdout);
		return 1;
	}
	printf("efault ok\n");
	return fflush(stdout) != 0;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	if (!strcmp(c, "null"))
		return case_null();
	if (!strcmp(c, "ro"))
		return case_ro();
	if (!strcmp(c, "ro-mmap"))
		return case_ro_mmap();
	if (!strcmp(c, "wild"))
		return case_wild();
	if (!strcmp(c, "kernel"))
		return case_kernel();
	if (!strcmp(c, "efault"))
		return case_efault(argv[0]);
	fprintf(stderr, "usage: segv null|ro|ro-mmap|wild|kernel|efault\n");
	return 2;
}
