/* poll and ppoll over the descriptions a process can have: the console,
 * pipes, storage files and pseudo-files (always ready, as regular files
 * are on Linux). Readiness is computed from each description's state and
 * looked at again every 10 ms until something is ready, the timeout
 * passes or a signal arrives (-EINTR): simple, and a poller wakes at most
 * 10 ms late, which the programs that poll the console and pipes (busybox
 * sh's read, more, ...) do not notice. */
#include <lego/errno.h>
#include <lego/string.h>
#include <lego/mm.h>
#include <lego/sched.h>
#include <lego/time.h>
#include <lego/uaccess.h>
#include <lego/wait.h>
#include <uapi/lego/linux_abi.h>
#include "proc.h"
#include "pipe.h"
#include "sys_file_int.h"

#define POLLIN 0x001
#define POLLPRI 0x002
#define POLLOUT 0x004
#define POLLERR 0x008
#define POLLHUP 0x010
#define POLLNVAL 0x020
#define POLLRDNORM 0x040
#define POLLWRNORM 0x100
#define POLL_MAX 1024u

struct kpollfd {
	s32 fd;
	s16 events, revents;
};

static u16 ready_of(struct proc *p, int fd)
{
	struct fd_file *f;
	u16 ev = 0;

	if (fd < 0)
		return 0;	/* ignored, as Linux */
	if (sf_get(p, fd, FD_NEED_ANY, &f))
		return POLLNVAL;
	u32 acc = f->mode & O_ACCMODE;
	switch (f->kind) {
	case FD_KIND_CONSOLE:
		if (acc != O_WRONLY && (__atomic_load_n(&p->in_len, __ATOMIC_ACQUIRE) ||
					__atomic_load_n(&p->in_eof, __ATOMIC_ACQUIRE)))
			ev |= POLLIN | POLLRDNORM;
		if (acc != O_RDONLY)
			ev |= POLLOUT | POLLWRNORM;
		break;
	case FD_KIND_PIPE: {
		u32 len;
		bool reader, writer;
		pipe_state(f, &len, &reader, &writer);
		if (acc == O_RDONLY) {
			if (len)
				ev |= POLLIN | POLLRDNORM;
			if (!writer)
				ev |= POLLHUP;
		} else {
			if (!reader)
				ev |= POLLERR;
			else if (len < 64u * 1024)
				ev |= POLLOUT | POLLWRNORM;
		}
		break;
	}
	default:
		ev = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;
	}
	fd_file_put(f);
	return ev;
}

/* deadline: monotonic ns, 0 = wait for ever, 1 = do not wait. */
static long do_poll(u64 ufds, u32 n, u64 deadline)
{
	struct proc *p = proc_current();

	if (n > POLL_MAX)
		return -EINVAL;
	struct kpollfd *v = kmalloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	if (n && copy_from_user(v, (const void *)ufds, n * sizeof(*v))) {
		kfree(v);
		return -EFAULT;
	}
	long ready;
	for (;;) {
		ready = 0;
		for (u32 i = 0; i < n; i++) {
			u16 ev = ready_of(p, v[i].fd);
			/* Errors, hang-ups and bad fds are reported unasked. */
			v[i].revents = (s16)(ev & ((u16)v[i].events | POLLERR | POLLHUP | POLLNVAL));
			if (v[i].revents)
				ready++;
		}
		if (ready || deadline == 1 || (deadline && ktime_ns() >= deadline))
			break;
		if (signal_pending(p)) {
			kfree(v);
			return -EINTR;
		}
		u64 next = ktime_ns() + 10000000ull;
		sched_block_until(deadline && deadline < next ? deadline : next);
	}
	if (n && copy_to_user((void *)ufds, v, n * sizeof(*v)))
		ready = -EFAULT;
	kfree(v);
	return ready;
}

static long sys_poll(struct user_regs *r)
{
	int ms = (int)r->rdx;
	u64 deadline = ms < 0 ? 0 : ms == 0 ? 1 : ktime_ns() + (u64)ms * 1000000ull;
	return do_poll(r->rdi, (u32)r->rsi, deadline);
}

static long sys_ppoll(struct user_regs *r)
{
	struct { s64 sec, nsec; } ts;
	u64 deadline = 0;

	if (r->rdx) {
		if (copy_from_user(&ts, (const void *)r->rdx, sizeof(ts)))
			return -EFAULT;
		if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
			return -EINVAL;
		u64 t = (u64)ts.sec * 1000000000ull + (u64)ts.nsec;
		deadline = t ? ktime_ns() + t : 1;
	}
	/* The signal mask argument (r10) is not applied while waiting. */
	return do_poll(r->rdi, (u32)r->rsi, deadline);
}

void select_init(void);

void poll_init(void)
{
	select_init();
	sys_register(7, sys_poll);
	sys_register(271, sys_ppoll);	/* partial: the signal mask is not applied */
}

/* select and pselect6 through the poll machinery: the three fd_sets
 * become pollfds, the results go back into the sets. */
static long do_select(int nfds, u64 urd, u64 uwr, u64 uex, u64 deadline)
{
	u64 rd[16] = { 0 }, wr[16] = { 0 }, ex[16] = { 0 };
	u32 words = ((u32)nfds + 63) / 64;

	if (nfds < 0 || nfds > 1024)
		return -EINVAL;
	size_t bytes = words * 8;
	if ((urd && copy_from_user(rd, (const void *)urd, bytes)) ||
	    (uwr && copy_from_user(wr, (const void *)uwr, bytes)) ||
	    (uex && copy_from_user(ex, (const void *)uex, bytes)))
		return -EFAULT;
	struct proc *p = proc_current();
	u64 ord[16], owr[16], oex[16];
	long n;
	for (;;) {
		memset(ord, 0, sizeof(ord));
		memset(owr, 0, sizeof(owr));
		memset(oex, 0, sizeof(oex));
		n = 0;
		for (int fd = 0; fd < nfds; fd++) {
			u64 bit = 1ull << (fd % 64);
			bool r = rd[fd / 64] & bit, w = wr[fd / 64] & bit, e = ex[fd / 64] & bit;
			if (!r && !w && !e)
				continue;
			u16 ev = ready_of(p, fd);
			if (ev & POLLNVAL)
				return -EBADF;
			if (r && (ev & (POLLIN | POLLHUP | POLLERR))) {
				ord[fd / 64] |= bit;
				n++;
			}
			if (w && (ev & (POLLOUT | POLLERR))) {
				owr[fd / 64] |= bit;
				n++;
			}
		}
		if (n || deadline == 1 || (deadline && ktime_ns() >= deadline))
			break;
		if (signal_pending(p))
			return -EINTR;
		u64 next = ktime_ns() + 10000000ull;
		sched_block_until(deadline && deadline < next ? deadline : next);
	}
	if ((urd && copy_to_user((void *)urd, ord, bytes)) ||
	    (uwr && copy_to_user((void *)uwr, owr, bytes)) ||
	    (uex && copy_to_user((void *)uex, oex, bytes)))
		return -EFAULT;
	return n;
}

static long sys_select(struct user_regs *r)
{
	struct { s64 sec, usec; } tv;
	u64 deadline = 0;

	if (r->r8) {
		if (copy_from_user(&tv, (const void *)r->r8, sizeof(tv)))
			return -EFAULT;
		if (tv.sec < 0 || tv.usec < 0)
			return -EINVAL;
		u64 t = (u64)tv.sec * 1000000000ull + (u64)tv.usec * 1000ull;
		deadline = t ? ktime_ns() + t : 1;
	}
	return do_select((int)r->rdi, r->rsi, r->rdx, r->r10, deadline);
}

static long sys_pselect6(struct user_regs *r)
{
	struct { s64 sec, nsec; } ts;
	u64 deadline = 0;

	if (r->r8) {
		if (copy_from_user(&ts, (const void *)r->r8, sizeof(ts)))
			return -EFAULT;
		if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
			return -EINVAL;
		u64 t = (u64)ts.sec * 1000000000ull + (u64)ts.nsec;
		deadline = t ? ktime_ns() + t : 1;
	}
	return do_select((int)r->rdi, r->rsi, r->rdx, r->r10, deadline);
}

void select_init(void)
{
	sys_register(23, sys_select);	/* partial: exceptional conditions never reported */
	sys_register(270, sys_pselect6);	/* partial: the signal mask is not applied */
}
