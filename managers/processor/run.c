/* The processor monitor's RPC face (include/uapi/lego/processor.h): RUN
 * starts a program for a client (legoctl run), STDIN feeds it, KILL ends
 * it, STATS reports the ExCache; the program's console output and its end
 * go back to the client as calls of ours (OUTPUT, EXIT). */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/rpc.h>
#include <lego/string.h>
#include <lego/uaccess.h>
#include <lego/wait.h>
#include "proc.h"

/* OUTPUT messages carry at most this much (one RPC message, with room). */
#define OUTPUT_CHUNK (32u * 1024)

long proc_output(struct proc *p, u32 fd, const void *buf, size_t len)
{
	u8 *msg = kmalloc(sizeof(struct lego_proc_output) + OUTPUT_CHUNK);
	size_t done = 0;

	if (!msg)
		return -ENOMEM;
	while (done < len) {
		u32 n = (u32)(len - done < OUTPUT_CHUNK ? len - done : OUTPUT_CHUNK);
		struct lego_proc_output o = { p->token, (u32)p->pid, fd };
		memcpy(msg, &o, sizeof(o));
		memcpy(msg + sizeof(o), (const u8 *)buf + done, n);
		int r = rpc_call(&p->client, LEGO_OP_PROC_OUTPUT, msg, (u32)sizeof(o) + n, NULL, 0,
				 NULL, 0);
		if (r < 0) {
			/* The client is gone (or refuses): a broken pipe. */
			kfree(msg);
			return done ? (long)done : -EPIPE;
		}
		done += n;
	}
	kfree(msg);
	return (long)done;
}

long proc_input(struct proc *p, void *ubuf, size_t len)
{
	u8 tmp[512];

	if (!len)
		return 0;
	wait_event(p->in_wq, __atomic_load_n(&p->in_len, __ATOMIC_ACQUIRE) ||
			     __atomic_load_n(&p->in_eof, __ATOMIC_ACQUIRE) || signal_pending(p));
	if (!__atomic_load_n(&p->in_len, __ATOMIC_ACQUIRE) &&
	    !__atomic_load_n(&p->in_eof, __ATOMIC_ACQUIRE))
		return -EINTR;
	/* Bounce through the stack: copy_to_user may sleep, the lock not. */
	size_t want = len < sizeof(tmp) ? len : sizeof(tmp), n = 0;
	spin_lock(&p->lock);
	while (n < want && p->in_len) {
		tmp[n++] = p->in_buf[p->in_head];
		p->in_head = (p->in_head + 1) % PROC_STDIN_BUF;
		p->in_len--;
	}
	spin_unlock(&p->lock);
	if (n && copy_to_user(ubuf, tmp, n))
		return -EFAULT;
	return (long)n;
}

static int op_run(struct rpc_req *r)
{
	struct lego_proc_run_req q;
	char *msg;

	if (r->len < sizeof(q))
		return -EINVAL;
	memcpy(&q, r->data, sizeof(q));
	if (r->len != sizeof(q) + q.path_len + q.strings_len)
		return -EINVAL;
	const char *path = (const char *)r->data + sizeof(q);
	const char *strings = path + q.path_len;
	char *pathz = kzalloc((size_t)q.path_len + 1);
	struct lego_proc_run_reply *out = kzalloc(sizeof(*out));
	msg = kzalloc(LEGO_PROC_MSG_MAX);
	if (!pathz || !out || !msg) {
		kfree(pathz);
		kfree(out);
		kfree(msg);
		return -ENOMEM;
	}
	memcpy(pathz, path, q.path_len);
	int e = proc_run(&q, pathz, strings, r->src_ip, out, msg, LEGO_PROC_MSG_MAX);
	if (e < 0) {
		/* The reason as the error reply's payload. */
		size_t n = strlen(msg);
		char *rep = n ? rpc_reply_alloc(r, (u32)n + 1) : NULL;
		if (rep)
			memcpy(rep, msg, n + 1);
	} else {
		struct lego_proc_run_reply *rep = rpc_reply_alloc(r, sizeof(*rep));
		if (rep)
			*rep = *out;
		else
			e = -ENOMEM;	/* the process runs regardless; the client retries? no: it is told */
	}
	kfree(pathz);
	kfree(out);
	kfree(msg);
	return e;
}

static int op_stdin(struct rpc_req *r)
{
	struct lego_proc_stdin_req q;

	if (r->len < sizeof(q))
		return -EINVAL;
	memcpy(&q, r->data, sizeof(q));
	if (q.flags & ~LEGO_PROC_STDIN_EOF)
		return -EINVAL;
	struct proc *p = proc_find(q.pid, q.token);
	if (!p)
		return -ESRCH;
	const u8 *d = (const u8 *)r->data + sizeof(q);
	u32 n = r->len - (u32)sizeof(q);
	int e = 0;
	spin_lock(&p->lock);
	if (p->in_eof) {
		e = n ? -EPIPE : 0;
	} else if (n > PROC_STDIN_BUF - p->in_len) {
		e = -EAGAIN;	/* all or nothing: the client sends it again */
	} else {
		for (u32 i = 0; i < n; i++)
			p->in_buf[(p->in_head + p->in_len + i) % PROC_STDIN_BUF] = d[i];
		p->in_len += n;
		if (q.flags & LEGO_PROC_STDIN_EOF)
			p->in_eof = true;
	}
	spin_unlock(&p->lock);
	wake_up_all(&p->in_wq);
	proc_put(p);
	return e;
}

static int op_kill(struct rpc_req *r)
{
	struct lego_proc_kill_req q;

	if (r->len != sizeof(q))
		return -EINVAL;
	memcpy(&q, r->data, sizeof(q));
	if (!q.signal || q.signal > 64)
		return -EINVAL;
	struct proc *p = proc_find(q.pid, q.token);
	if (!p)
		return -ESRCH;
	pr_info("processor: pid %d (%s): killed by the client with signal %u\n", p->pid, p->exe,
		q.signal);
	proc_exit_group(p, q.signal);
	proc_put(p);
	return 0;
}

static int op_stats(struct rpc_req *r)
{
	char *buf = rpc_reply_alloc(r, 4096);
	if (!buf)
		return -ENOMEM;
	size_t n = excache_report(buf, 4095);
	buf[n] = '\0';
	r->reply_len = (u32)n + 1;
	return 0;
}

void run_init(void)
{
	rpc_register(LEGO_OP_PROC_RUN, op_run, "proc-run");
	rpc_register(LEGO_OP_PROC_STDIN, op_stdin, "proc-stdin");
	rpc_register(LEGO_OP_PROC_KILL, op_kill, "proc-kill");
	rpc_register(LEGO_OP_PROC_STATS, op_stats, "proc-stats");
}
