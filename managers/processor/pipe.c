/* Pipes between the processes of a pComponent (pipe, pipe2): a 64 KiB
 * ring per pipe, two open file descriptions (FD_KIND_PIPE, the read end
 * O_RDONLY, the write end O_WRONLY) whose obj is the pipe. Linux's rules:
 * reads block until data or until no writer is left (EOF), writes block
 * until all is written, a write of at most PIPE_BUF bytes is atomic, a
 * write with no reader left is EPIPE and SIGPIPE (whose default action
 * ends the process), O_NONBLOCK makes waiting EAGAIN.
 *
 * Locking: pipe->lock protects the ring and the open flags; the wait
 * queues have their own. User memory is copied outside the lock through
 * a bounce buffer, since the copy may fault and sleep. */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/spinlock.h>
#include <lego/string.h>
#include <lego/uaccess.h>
#include <lego/time.h>
#include <lego/wait.h>
#include <uapi/lego/linux_abi.h>
#include "proc.h"
#include "pipe.h"

#define PIPE_SIZE (64u * 1024)
#define PIPE_BUF_ATOMIC 4096u
#define PIPE_CHUNK 4096u

struct pipe {
	spinlock_t lock;
	u8 *buf;			/* PIPE_SIZE bytes */
	u32 head, len;			/* lock */
	bool reader, writer;		/* each end still open; lock */
	struct wait_queue rq, wq;	/* readers wait for data, writers for room */
};

static void pipe_free(struct pipe *pp)
{
	kfree(pp->buf);
	kfree(pp);
}

void pipe_release(struct fd_file *f)
{
	struct pipe *pp = f->obj;
	bool gone;

	if (!pp)
		return;
	spin_lock(&pp->lock);
	if ((f->mode & O_ACCMODE) == O_RDONLY)
		pp->reader = false;
	else
		pp->writer = false;
	gone = !pp->reader && !pp->writer;
	spin_unlock(&pp->lock);
	/* The other end learns of it: EOF for readers, EPIPE for writers. */
	wake_up_all(&pp->rq);
	wake_up_all(&pp->wq);
	if (gone)
		pipe_free(pp);
}

long pipe_create(struct proc *p, const struct fd_ops *ops, u32 flags, int fds[2])
{
	struct pipe *pp = kzalloc(sizeof(*pp));
	struct fd_file *r = NULL, *w = NULL;
	long e;

	if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
		return -EINVAL;
	if (!pp || !(pp->buf = kmalloc(PIPE_SIZE))) {
		kfree(pp);
		return -ENOMEM;
	}
	spin_lock_init(&pp->lock);
	wait_queue_init(&pp->rq);
	wait_queue_init(&pp->wq);
	pp->reader = pp->writer = true;
	u32 st = flags & O_NONBLOCK;
	e = fd_file_new(ops, FD_KIND_PIPE, "", 0, O_RDONLY | st, pp, &r);
	if (e) {
		pipe_free(pp);
		return e;
	}
	e = fd_file_new(ops, FD_KIND_PIPE, "", 0, O_WRONLY | st, pp, &w);
	if (e) {
		/* Releasing the read end, with no writer, frees the pipe. */
		spin_lock(&pp->lock);
		pp->writer = false;
		spin_unlock(&pp->lock);
		fd_file_put(r);
		return e;
	}
	u32 fdf = flags & O_CLOEXEC ? FD_CLOEXEC : 0;
	mutex_lock(&p->fs_lock);
	e = fd_table_install(p->fds, r, 0, fdf);
	if (e >= 0) {
		fds[0] = (int)e;
		e = fd_table_install(p->fds, w, 0, fdf);
		if (e >= 0)
			fds[1] = (int)e;
		else
			fd_table_close(p->fds, fds[0]);
	}
	mutex_unlock(&p->fs_lock);
	fd_file_put(r);		/* the table holds them now (or they go) */
	fd_file_put(w);
	return e < 0 ? e : 0;
}

static bool nonblock(struct fd_file *f)
{
	return __atomic_load_n(&f->flags, __ATOMIC_RELAXED) & O_NONBLOCK;
}

long pipe_read(struct proc *p, struct fd_file *f, u8 *ubuf, u64 count)
{
	struct pipe *pp = f->obj;
	u8 *bounce;
	u64 done = 0;

	if (!count)
		return 0;
	bounce = kmalloc(PIPE_CHUNK);
	if (!bounce)
		return -ENOMEM;
	for (;;) {
		spin_lock(&pp->lock);
		u32 n = 0;
		while (done + n < count && n < PIPE_CHUNK && pp->len) {
			bounce[n++] = pp->buf[pp->head];
			pp->head = (pp->head + 1) % PIPE_SIZE;
			pp->len--;
		}
		bool eof = !pp->len && !pp->writer;
		spin_unlock(&pp->lock);
		if (n) {
			wake_up_all(&pp->wq);
			if (copy_to_user(ubuf + done, bounce, n)) {
				kfree(bounce);
				return done ? (long)done : -EFAULT;
			}
			done += n;
			/* What is there now is enough: no waiting for more. */
			if (done == count || !__atomic_load_n(&pp->len, __ATOMIC_ACQUIRE))
				break;
			continue;
		}
		if (done || eof)
			break;
		if (nonblock(f)) {
			kfree(bounce);
			return -EAGAIN;
		}
		/* Looked at again every 100 ms too: a signal or a kill does not
		 * wake this queue. */
		wait_event_timeout(pp->rq, __atomic_load_n(&pp->len, __ATOMIC_ACQUIRE) ||
					   !__atomic_load_n(&pp->writer, __ATOMIC_ACQUIRE) ||
					   signal_pending(p), 100000000ull);
		if (signal_pending(p) && !__atomic_load_n(&pp->len, __ATOMIC_ACQUIRE)) {
			kfree(bounce);
			return -EINTR;
		}
	}
	kfree(bounce);
	return (long)done;
}

long pipe_write(struct proc *p, struct fd_file *f, const u8 *ubuf, u64 count)
{
	struct pipe *pp = f->obj;
	u8 *bounce;
	u64 done = 0;

	if (!count)
		return 0;
	bounce = kmalloc(PIPE_CHUNK);
	if (!bounce)
		return -ENOMEM;
	while (done < count) {
		u32 n = (u32)(count - done < PIPE_CHUNK ? count - done : PIPE_CHUNK);
		if (copy_from_user(bounce, ubuf + done, n)) {
			kfree(bounce);
			return done ? (long)done : -EFAULT;
		}
		u32 put = 0;
		while (put < n) {
			spin_lock(&pp->lock);
			if (!pp->reader) {
				spin_unlock(&pp->lock);
				kfree(bounce);
				if (done + put)
					return (long)(done + put);
				signal_send(p, SIGPIPE);	/* by default the end */
				return -EPIPE;
			}
			u32 room = PIPE_SIZE - pp->len;
			/* Small writes go in whole or wait (atomic, PIPE_BUF). */
			bool fits = count <= PIPE_BUF_ATOMIC ? room >= n - put : room > 0;
			u32 k = 0;
			if (fits) {
				k = n - put < room ? n - put : room;
				for (u32 i = 0; i < k; i++)
					pp->buf[(pp->head + pp->len + i) % PIPE_SIZE] = bounce[put + i];
				pp->len += k;
			}
			spin_unlock(&pp->lock);
			if (k) {
				put += k;
				wake_up_all(&pp->rq);
				continue;
			}
			if (nonblock(f)) {
				kfree(bounce);
				return done + put ? (long)(done + put) : -EAGAIN;
			}
			wait_event_timeout(pp->wq,
					   PIPE_SIZE - __atomic_load_n(&pp->len, __ATOMIC_ACQUIRE) >=
						   (count <= PIPE_BUF_ATOMIC ? n - put : 1) ||
					   !__atomic_load_n(&pp->reader, __ATOMIC_ACQUIRE) ||
					   signal_pending(p), 100000000ull);
			if (signal_pending(p)) {
				kfree(bounce);
				return done + put ? (long)(done + put) : -EINTR;
			}
		}
		done += n;
	}
	kfree(bounce);
	return (long)done;
}

/* For poll/FIONREAD: bytes buffered, and whether each end is open. */
void pipe_state(struct fd_file *f, u32 *len, bool *reader, bool *writer)
{
	struct pipe *pp = f->obj;

	spin_lock(&pp->lock);
	*len = pp->len;
	*reader = pp->reader;
	*writer = pp->writer;
	spin_unlock(&pp->lock);
}

static long do_pipe2(u64 ufds, u32 flags)
{
	struct proc *p = proc_current();
	int fds[2];
	long e = pipe_create(p, &proc_fd_ops, flags, fds);

	if (e < 0)
		return e;
	if (copy_to_user((void *)ufds, fds, sizeof(fds))) {
		mutex_lock(&p->fs_lock);
		fd_table_close(p->fds, fds[0]);
		fd_table_close(p->fds, fds[1]);
		mutex_unlock(&p->fs_lock);
		return -EFAULT;
	}
	return 0;
}

static long sys_pipe(struct user_regs *r)
{
	return do_pipe2(r->rdi, 0);
}

static long sys_pipe2(struct user_regs *r)
{
	return do_pipe2(r->rdi, (u32)r->rsi);
}

void pipe_init(void)
{
	sys_register(22, sys_pipe);
	sys_register(293, sys_pipe2);
}
