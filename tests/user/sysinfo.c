/* sysinfo: the small system calls that static programs make, one line each,
 * "<call>: ok" or "<call>: FAIL" (details on stderr). Only values that are
 * the same on every correct system are printed, so the output can be diffed
 * against the same binary run on a Linux host:
 *
 *   uname: ok machine=x86_64
 *   getpid: ok
 *   gettid: ok tid==pid
 *   getuid/geteuid/getgid/getegid: ok
 *   clock_gettime(MONOTONIC): ok
 *   clock_gettime(REALTIME): ok
 *   nanosleep(10ms): ok
 *   getrandom(16): ok
 *   sched_getaffinity: ok
 *   prlimit64(RLIMIT_STACK): ok
 *   ioctl(1, TIOCGWINSZ): ok          (success or ENOTTY both count)
 *   readlink(/proc/self/exe): ok name=sysinfo
 *   sysinfo: ok
 *
 * Exits 0 if every call behaved, 1 otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void line(const char *what, int ok, const char *extra)
{
	printf("%s: %s%s%s\n", what, ok ? "ok" : "FAIL", ok && extra ? " " : "",
	       ok && extra ? extra : "");
	if (!ok)
		failures++;
}

static void fail_errno(const char *what)
{
	fprintf(stderr, "sysinfo: %s: %s\n", what, strerror(errno));
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static void check_uname(void)
{
	struct utsname u;
	char extra[80];
	int ok = uname(&u) == 0;

	if (!ok)
		fail_errno("uname");
	else if (strcmp(u.machine, "x86_64") != 0) {
		fprintf(stderr, "sysinfo: uname: machine is \"%s\"\n", u.machine);
		ok = 0;
	}
	snprintf(extra, sizeof(extra), "machine=%s", ok ? u.machine : "?");
	line("uname", ok, extra);
}

static void check_ids(void)
{
	pid_t pid = getpid();
	long tid = syscall(SYS_gettid);

	if (pid <= 0)
		fprintf(stderr, "sysinfo: getpid returned %ld\n", (long)pid);
	line("getpid", pid > 0, NULL);
	/* the main thread's tid is its process id */
	if (tid != pid)
		fprintf(stderr, "sysinfo: gettid returned %ld, pid %ld\n", tid, (long)pid);
	line("gettid", tid == pid, "tid==pid");
	/* these cannot fail; calling them checks they are implemented */
	(void)getuid();
	(void)geteuid();
	(void)getgid();
	(void)getegid();
	line("getuid/geteuid/getgid/getegid", 1, NULL);
}

static void check_clocks(void)
{
	struct timespec a, b, req = { .tv_sec = 0, .tv_nsec = 10 * 1000 * 1000 };
	int ok;

	ok = clock_gettime(CLOCK_MONOTONIC, &a) == 0 && a.tv_nsec >= 0 && a.tv_nsec < 1000000000;
	if (!ok)
		fail_errno("clock_gettime(CLOCK_MONOTONIC)");
	line("clock_gettime(MONOTONIC)", ok, NULL);

	ok = clock_gettime(CLOCK_REALTIME, &b) == 0 && b.tv_nsec >= 0 && b.tv_nsec < 1000000000;
	if (!ok)
		fail_errno("clock_gettime(CLOCK_REALTIME)");
	line("clock_gettime(REALTIME)", ok, NULL);

	ok = clock_gettime(CLOCK_MONOTONIC, &a) == 0;
	while (ok && nanosleep(&req, &req) != 0)
		ok = errno == EINTR;
	if (!ok)
		fail_errno("nanosleep");
	if (ok && clock_gettime(CLOCK_MONOTONIC, &b) == 0 && ts_ns(&b) - ts_ns(&a) < 10000000) {
		fprintf(stderr, "sysinfo: nanosleep(10ms) returned after %lld ns\n",
			(long long)(ts_ns(&b) - ts_ns(&a)));
		ok = 0;
	}
	line("nanosleep(10ms)", ok, NULL);
}

static void check_random(void)
{
	unsigned char buf[16];
	ssize_t n;
	size_t i;
	int ok, nonzero = 0;

	memset(buf, 0, sizeof(buf));
	do
		n = getrandom(buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		fail_errno("getrandom");
	for (i = 0; i < sizeof(buf); i++)
		nonzero |= buf[i];
	/* 16 zero bytes from a working generator: chance 2^-128 */
	ok = n == (ssize_t)sizeof(buf) && nonzero;
	if (n >= 0 && !ok)
		fprintf(stderr, "sysinfo: getrandom returned %zd bytes%s\n", n,
			nonzero ? "" : ", all zero");
	line("getrandom(16)", ok, NULL);
}

static void check_affinity(void)
{
	cpu_set_t set;
	int ok;

	CPU_ZERO(&set);
	ok = sched_getaffinity(0, sizeof(set), &set) == 0;
	if (!ok)
		fail_errno("sched_getaffinity");
	else if (CPU_COUNT(&set) < 1) {
		fprintf(stderr, "sysinfo: sched_getaffinity: empty CPU set\n");
		ok = 0;
	}
	line("sched_getaffinity", ok, NULL);
}

static void check_prlimit(void)
{
	struct rlimit rl;
	int ok;

	/* the raw system call, as glibc and musl use it for getrlimit */
	ok = syscall(SYS_prlimit64, 0, RLIMIT_STACK, NULL, &rl) == 0;
	if (!ok)
		fail_errno("prlimit64");
	else if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_max != RLIM_INFINITY &&
		 rl.rlim_cur > rl.rlim_max) {
		fprintf(stderr, "sysinfo: prlimit64: soft limit above hard limit\n");
		ok = 0;
	}
	line("prlimit64(RLIMIT_STACK)", ok, NULL);
}

static void check_winsz(void)
{
	struct winsize ws;
	int ok;

	ok = ioctl(1, TIOCGWINSZ, &ws) == 0 || errno == ENOTTY;
	if (!ok)
		fail_errno("ioctl(1, TIOCGWINSZ)");
	line("ioctl(1, TIOCGWINSZ)", ok, NULL);
}

static void check_exe(const char *argv0)
{
	char buf[4096], extra[64];
	const char *name, *want;
	ssize_t n;
	int ok;

	n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
	ok = n > 0;
	if (!ok) {
		fail_errno("readlink(/proc/self/exe)");
		line("readlink(/proc/self/exe)", 0, NULL);
		return;
	}
	buf[n] = '\0';
	name = strrchr(buf, '/');
	name = name ? name + 1 : buf;
	want = strrchr(argv0, '/');
	want = want ? want + 1 : argv0;
	/* the link names the file that was executed, as an absolute path */
	if (buf[0] != '/' || strcmp(name, want) != 0) {
		fprintf(stderr, "sysinfo: readlink(/proc/self/exe) is \"%s\", argv[0] \"%s\"\n",
			buf, argv0);
		ok = 0;
	}
	snprintf(extra, sizeof(extra), "name=%.50s", name);
	line("readlink(/proc/self/exe)", ok, extra);
}

int main(int argc, char **argv)
{
	(void)argc;
	check_uname();
	check_ids();
	check_clocks();
	check_random();
	check_affinity();
	check_prlimit();
	check_winsz();
	check_exe(argv[0] ? argv[0] : "");
	printf("sysinfo: %s\n", failures ? "FAIL" : "ok");
	if (fflush(stdout) != 0)
		return 1;
	return failures ? 1 : 0;
}
