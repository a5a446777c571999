/* legoctl run --strace: every syscall of a traced process goes to the
 * client as a TRACE call-back (include/uapi/lego/processor.h), with the
 * contents of the arguments the client cannot read itself: paths, the data
 * of a write, what a read returned. legoctl decodes and prints them. The
 * traced thread waits for each record to be taken, so the order is the
 * program's and a trace costs one round trip per syscall. */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/rpc.h>
#include <lego/string.h>
#include <lego/uaccess.h>
#include "proc.h"

enum sarg { S_NONE, S_PATH, S_IN, S_OUT };

/* Which arguments carry contents: (kind, index) for up to two. For S_IN
 * the length is the next argument; for S_OUT it is the result. */
static const struct {
	u16 nr;
	u8 k0, a0, k1, a1;
} sargs[] = {
	{ 0, S_OUT, 1, S_NONE, 0 },	/* read */
	{ 1, S_IN, 1, S_NONE, 0 },	/* write */
	{ 2, S_PATH, 0, S_NONE, 0 },	/* open */
	{ 4, S_PATH, 0, S_NONE, 0 },	/* stat */
	{ 6, S_PATH, 0, S_NONE, 0 },	/* lstat */
	{ 17, S_OUT, 1, S_NONE, 0 },	/* pread64 */
	{ 18, S_IN, 1, S_NONE, 0 },	/* pwrite64 */
	{ 21, S_PATH, 0, S_NONE, 0 },	/* access */
	{ 59, S_PATH, 0, S_NONE, 0 },	/* execve */
	{ 76, S_PATH, 0, S_NONE, 0 },	/* truncate */
	{ 80, S_PATH, 0, S_NONE, 0 },	/* chdir */
	{ 82, S_PATH, 0, S_PATH, 1 },	/* rename */
	{ 83, S_PATH, 0, S_NONE, 0 },	/* mkdir */
	{ 84, S_PATH, 0, S_NONE, 0 },	/* rmdir */
	{ 85, S_PATH, 0, S_NONE, 0 },	/* creat */
	{ 86, S_PATH, 0, S_PATH, 1 },	/* link */
	{ 87, S_PATH, 0, S_NONE, 0 },	/* unlink */
	{ 88, S_PATH, 0, S_PATH, 1 },	/* symlink */
	{ 89, S_PATH, 0, S_NONE, 0 },	/* readlink */
	{ 90, S_PATH, 0, S_NONE, 0 },	/* chmod */
	{ 257, S_PATH, 1, S_NONE, 0 },	/* openat */
	{ 258, S_PATH, 1, S_NONE, 0 },	/* mkdirat */
	{ 262, S_PATH, 1, S_NONE, 0 },	/* newfstatat */
	{ 263, S_PATH, 1, S_NONE, 0 },	/* unlinkat */
	{ 264, S_PATH, 1, S_PATH, 3 },	/* renameat */
	{ 266, S_PATH, 0, S_PATH, 2 },	/* symlinkat */
	{ 267, S_PATH, 1, S_NONE, 0 },	/* readlinkat */
	{ 268, S_PATH, 1, S_NONE, 0 },	/* fchmodat */
	{ 269, S_PATH, 1, S_NONE, 0 },	/* faccessat */
	{ 316, S_PATH, 1, S_PATH, 3 },	/* renameat2 */
	{ 332, S_PATH, 1, S_NONE, 0 },	/* statx */
	{ 439, S_PATH, 1, S_NONE, 0 },	/* faccessat2 */
};

/* Copy what argument a of kind k shows into out (at most
 * LEGO_PROC_TRACE_STR bytes); returns the length. */
static u16 grab(enum sarg k, const u64 *args, unsigned a, long ret, char *out)
{
	long n = 0;

	switch (k) {
	case S_PATH:
		n = strncpy_from_user(out, (const char *)args[a], LEGO_PROC_TRACE_STR);
		return n < 0 ? 0 : (u16)n;
	case S_IN:
		n = (long)(args[a + 1] < LEGO_PROC_TRACE_STR ? args[a + 1] : LEGO_PROC_TRACE_STR);
		break;
	case S_OUT:
		n = ret > 0 ? (ret < (long)LEGO_PROC_TRACE_STR ? ret : LEGO_PROC_TRACE_STR) : 0;
		break;
	default:
		return 0;
	}
	if (n <= 0 || copy_from_user(out, (const void *)args[a], (size_t)n))
		return 0;
	return (u16)n;
}

void strace_report(struct proc *p, const u64 args[6], u64 nr, long ret, bool noreturn)
{
	u8 *msg = kmalloc(sizeof(struct lego_proc_trace) + 2 * LEGO_PROC_TRACE_STR);
	struct lego_proc_trace t;

	if (!msg)
		return;
	memset(&t, 0, sizeof(t));
	t.token = p->token;
	t.pid = (u32)p->pid;
	t.tid = (u32)pthr_current()->tid;
	t.nr = nr;
	t.ret = ret;
	memcpy(t.args, args, sizeof(t.args));
	t.str_arg[0] = t.str_arg[1] = 0xff;
	t.flags = noreturn ? LEGO_PROC_TRACE_NORETURN : 0;
	u32 off = sizeof(t);
	for (unsigned i = 0; i < sizeof(sargs) / sizeof(sargs[0]); i++) {
		if (sargs[i].nr != nr)
			continue;
		/* A successful execve replaced the memory the path was in. */
		if (nr == 59 && noreturn)
			break;
		const u8 k[2] = { sargs[i].k0, sargs[i].k1 }, a[2] = { sargs[i].a0, sargs[i].a1 };
		for (int j = 0; j < 2; j++) {
			if (k[j] == S_NONE || (k[j] == S_OUT && ret <= 0))
				continue;
			u16 n = grab((enum sarg)k[j], args, a[j], ret, (char *)msg + off);
			t.str_arg[j] = a[j];
			t.str_len[j] = n;
			off += n;
		}
		break;
	}
	memcpy(msg, &t, sizeof(t));
	rpc_call(&p->client, LEGO_OP_PROC_TRACE, msg, off, NULL, 0, NULL, 0);
	kfree(msg);
}
