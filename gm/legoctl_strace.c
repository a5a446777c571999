/*
 * legoctl run --strace: print one TRACE record (include/uapi/lego/processor.h)
 * the way strace(1) does: "name(args) = result", with paths and data
 * quoted, open flags, *at() directory fds, mmap protections and flags,
 * and errors by name. Syscalls the decoder does not know print their six
 * arguments in hex.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <uapi/lego/processor.h>
#include "legoctl.h"

static const char *const names[] = {
#include "syscall_names.h"
};

/* How an argument prints. */
enum ak { A_INT, A_HEX, A_FD, A_DIRFD, A_STR, A_OFLAGS, A_MODE, A_PROT, A_MMAP, A_PTR };

/* Arguments of the syscalls strace users look at most. */
static const struct sc {
	uint16_t nr;
	uint8_t n;
	uint8_t k[6];
} scs[] = {
	{ 0, 3, { A_FD, A_STR, A_INT } },		/* read */
	{ 1, 3, { A_FD, A_STR, A_INT } },		/* write */
	{ 2, 3, { A_STR, A_OFLAGS, A_MODE } },		/* open */
	{ 3, 1, { A_FD } },				/* close */
	{ 4, 2, { A_STR, A_PTR } },			/* stat */
	{ 5, 2, { A_FD, A_PTR } },			/* fstat */
	{ 6, 2, { A_STR, A_PTR } },			/* lstat */
	{ 8, 3, { A_FD, A_INT, A_INT } },		/* lseek */
	{ 9, 6, { A_PTR, A_INT, A_PROT, A_MMAP, A_FD, A_HEX } },	/* mmap */
	{ 10, 3, { A_PTR, A_INT, A_PROT } },		/* mprotect */
	{ 11, 2, { A_PTR, A_INT } },			/* munmap */
	{ 12, 1, { A_PTR } },				/* brk */
	{ 16, 3, { A_FD, A_HEX, A_PTR } },		/* ioctl */
	{ 17, 4, { A_FD, A_STR, A_INT, A_INT } },	/* pread64 */
	{ 18, 4, { A_FD, A_STR, A_INT, A_INT } },	/* pwrite64 */
	{ 20, 3, { A_FD, A_PTR, A_INT } },		/* writev */
	{ 21, 2, { A_STR, A_INT } },			/* access */
	{ 22, 1, { A_PTR } },				/* pipe */
	{ 32, 1, { A_FD } },				/* dup */
	{ 33, 2, { A_FD, A_FD } },			/* dup2 */
	{ 39, 0, { 0 } },				/* getpid */
	{ 40, 4, { A_FD, A_FD, A_PTR, A_INT } },	/* sendfile */
	{ 56, 5, { A_HEX, A_PTR, A_PTR, A_PTR, A_PTR } },	/* clone */
	{ 57, 0, { 0 } },				/* fork */
	{ 59, 3, { A_STR, A_PTR, A_PTR } },		/* execve */
	{ 60, 1, { A_INT } },				/* exit */
	{ 61, 4, { A_INT, A_PTR, A_INT, A_PTR } },	/* wait4 */
	{ 62, 2, { A_INT, A_INT } },			/* kill */
	{ 63, 1, { A_PTR } },				/* uname */
	{ 72, 3, { A_FD, A_INT, A_HEX } },		/* fcntl */
	{ 79, 2, { A_PTR, A_INT } },			/* getcwd */
	{ 80, 1, { A_STR } },				/* chdir */
	{ 82, 2, { A_STR, A_STR } },			/* rename */
	{ 83, 2, { A_STR, A_MODE } },			/* mkdir */
	{ 84, 1, { A_STR } },				/* rmdir */
	{ 87, 1, { A_STR } },				/* unlink */
	{ 89, 3, { A_STR, A_PTR, A_INT } },		/* readlink */
	{ 158, 2, { A_HEX, A_HEX } },			/* arch_prctl */
	{ 186, 0, { 0 } },				/* gettid */
	{ 202, 6, { A_PTR, A_INT, A_INT, A_PTR, A_PTR, A_INT } },	/* futex */
	{ 217, 3, { A_FD, A_PTR, A_INT } },		/* getdents64 */
	{ 218, 1, { A_PTR } },				/* set_tid_address */
	{ 228, 2, { A_INT, A_PTR } },			/* clock_gettime */
	{ 231, 1, { A_INT } },				/* exit_group */
	{ 257, 4, { A_DIRFD, A_STR, A_OFLAGS, A_MODE } },	/* openat */
	{ 258, 3, { A_DIRFD, A_STR, A_MODE } },		/* mkdirat */
	{ 262, 4, { A_DIRFD, A_STR, A_PTR, A_HEX } },	/* newfstatat */
	{ 263, 3, { A_DIRFD, A_STR, A_HEX } },		/* unlinkat */
	{ 267, 4, { A_DIRFD, A_STR, A_PTR, A_INT } },	/* readlinkat */
	{ 269, 3, { A_DIRFD, A_STR, A_INT } },		/* faccessat */
	{ 293, 2, { A_PTR, A_OFLAGS } },		/* pipe2 */
	{ 302, 4, { A_INT, A_INT, A_PTR, A_PTR } },	/* prlimit64 */
	{ 318, 3, { A_PTR, A_INT, A_HEX } },		/* getrandom */
};

static void put_quoted(FILE *o, const uint8_t *s, size_t n, bool cut)
{
	fputc('"', o);
	for (size_t i = 0; i < n; i++) {
		uint8_t c = s[i];
		if (c == '"' || c == '\\')
			fprintf(o, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", o);
		else if (c == '\t')
			fputs("\\t", o);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(o, "\\x%02x", c);
		else
			fputc(c, o);
	}
	fputc('"', o);
	if (cut)
		fputs("...", o);
}

struct flagname {
	uint64_t bit;
	const char *name;
};

static void put_flags(FILE *o, uint64_t v, const struct flagname *t, size_t n, const char *zero)
{
	bool first = true;
	if (!v) {
		fputs(zero, o);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (t[i].bit && (v & t[i].bit) == t[i].bit) {
			fprintf(o, "%s%s", first ? "" : "|", t[i].name);
			first = false;
			v &= ~t[i].bit;
		}
	if (v)
		fprintf(o, "%s%#" PRIx64, first ? "" : "|", v);
}

static void put_oflags(FILE *o, uint64_t v)
{
	static const struct flagname t[] = {
		{ 0100, "O_CREAT" }, { 0200, "O_EXCL" }, { 0400, "O_NOCTTY" }, { 01000, "O_TRUNC" },
		{ 02000, "O_APPEND" }, { 04000, "O_NONBLOCK" }, { 0200000, "O_DIRECTORY" },
		{ 0400000, "O_NOFOLLOW" }, { 02000000, "O_CLOEXEC" }, { 0100000, "O_LARGEFILE" },
	};
	static const char *const acc[4] = { "O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE" };
	fputs(acc[v & 3], o);
	if (v & ~3ull) {
		fputc('|', o);
		put_flags(o, v & ~3ull, t, sizeof(t) / sizeof(t[0]), "0");
	}
}

void strace_print(FILE *o, const struct lego_proc_trace *t, const uint8_t *strs, size_t slen)
{
	const struct sc *sc = NULL;
	const char *name = t->nr < sizeof(names) / sizeof(names[0]) ? names[t->nr] : NULL;
	const uint8_t *str[6] = { 0 };
	size_t strn[6] = { 0 };
	size_t off = 0;

	for (int j = 0; j < 2; j++)
		if (t->str_arg[j] < 6 && off + t->str_len[j] <= slen) {
			str[t->str_arg[j]] = strs + off;
			strn[t->str_arg[j]] = t->str_len[j];
			off += t->str_len[j];
		}
	for (size_t i = 0; i < sizeof(scs) / sizeof(scs[0]); i++)
		if (scs[i].nr == t->nr)
			sc = &scs[i];
	fprintf(o, "[pid %u] ", t->pid);
	if (t->tid != t->pid)
		fprintf(o, "[tid %u] ", t->tid);
	if (name)
		fprintf(o, "%s(", name);
	else
		fprintf(o, "syscall_%" PRIu64 "(", t->nr);
	int n = sc ? sc->n : 6;
	for (int i = 0; i < n; i++) {
		uint64_t v = t->args[i];
		if (i)
			fputs(", ", o);
		switch (sc ? sc->k[i] : A_HEX) {
		case A_INT:
			fprintf(o, "%" PRId64, (int64_t)v);
			break;
		case A_FD:
			fprintf(o, "%d", (int)v);
			break;
		case A_DIRFD:
			if ((int)v == -100)
				fputs("AT_FDCWD", o);
			else
				fprintf(o, "%d", (int)v);
			break;
		case A_STR:
			if (str[i])
				put_quoted(o, str[i], strn[i],
					   (t->nr == 0 || t->nr == 17 ? (uint64_t)t->ret :
					    t->nr == 1 || t->nr == 18 ? t->args[2] : 0) > strn[i]);
			else
				fprintf(o, "%#" PRIx64, v);
			break;
		case A_OFLAGS:
			put_oflags(o, v);
			break;
		case A_MODE:
			fprintf(o, "0%" PRIo64, v);
			break;
		case A_PROT: {
			static const struct flagname pt[] = {
				{ 1, "PROT_READ" }, { 2, "PROT_WRITE" }, { 4, "PROT_EXEC" },
			};
			put_flags(o, v, pt, 3, "PROT_NONE");
			break;
		}
		case A_MMAP: {
			static const struct flagname mt[] = {
				{ 0x01, "MAP_SHARED" }, { 0x02, "MAP_PRIVATE" }, { 0x10, "MAP_FIXED" },
				{ 0x20, "MAP_ANONYMOUS" }, { 0x100, "MAP_GROWSDOWN" },
				{ 0x4000, "MAP_NORESERVE" }, { 0x20000, "MAP_STACK" },
				{ 0x100000, "MAP_FIXED_NOREPLACE" },
			};
			put_flags(o, v, mt, sizeof(mt) / sizeof(mt[0]), "0");
			break;
		}
		case A_PTR:
			if (v)
				fprintf(o, "%#" PRIx64, v);
			else
				fputs("NULL", o);
			break;
		default:
			fprintf(o, "%#" PRIx64, v);
		}
	}
	fputc(')', o);
	if (t->flags & LEGO_PROC_TRACE_NORETURN)
		fputs(t->nr == 59 ? " = 0\n" : " = ?\n", o);
	else if (t->ret < 0 && t->ret >= -4095)
		fprintf(o, " = -1 %s (%s)\n", strerrorname_np((int)-t->ret) ?
			strerrorname_np((int)-t->ret) : "E?", strerror((int)-t->ret));
	else if (t->nr == 9 || t->nr == 12 || (t->ret > 0xffff && (uint64_t)t->ret > 0x400000))
		fprintf(o, " = %#" PRIx64 "\n", (uint64_t)t->ret);
	else
		fprintf(o, " = %" PRId64 "\n", t->ret);
}
