/* futex(2) for the processes of this pComponent: WAIT, WAKE, their
 * BITSET variants, REQUEUE and CMP_REQUEUE, private or not (a process's
 * futexes are its own either way: processes share no memory here).
 *
 * Waiters hang in a hash of buckets keyed by (process, user address).
 * Each bucket has a mutex, not a spinlock, because WAIT reads the user
 * word under it and that read may miss in the ExCache and sleep; the
 * mutex makes "compare the word, then queue" atomic against a waker that
 * changes the word and then wakes, so no wake-up is lost. */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/mutex.h>
#include <lego/sched.h>
#include <lego/time.h>
#include <lego/uaccess.h>
#include <lego/wait.h>
#include <lego/wallclock.h>
#include "proc.h"
#include "futex.h"

#define FUTEX_BUCKETS 64

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_BITSET_ANY 0xffffffffu

/* A thread waiting; on its own stack. p, uaddr, bitset, node: the
 * bucket's mutex; woken: set by the waker under it. */
struct fwaiter {
	struct list_head node;
	struct proc *p;
	u64 uaddr;
	u32 bitset;
	struct thread *t;
	bool woken;
};

static struct fbucket {
	struct mutex lock;
	struct list_head waiters;
} buckets[FUTEX_BUCKETS];

static struct fbucket *bucket_of(struct proc *p, u64 uaddr)
{
	u64 k = (uaddr >> 2) ^ ((u64)(unsigned long)p >> 6);
	k *= 0x9e3779b97f4a7c15ull;
	return &buckets[k >> 58];
}

static int wake_locked(struct fbucket *b, struct proc *p, u64 uaddr, u32 bitset, int n)
{
	struct fwaiter *w, *tmp;
	int woken = 0;

	list_for_each_entry_safe(w, tmp, &b->waiters, node) {
		if (woken >= n)
			break;
		if (w->p != p || w->uaddr != uaddr || !(w->bitset & bitset))
			continue;
		list_del_init(&w->node);
		w->woken = true;
		thread_wake(w->t);
		woken++;
	}
	return woken;
}

int futex_wake_addr(struct proc *p, u64 uaddr, int n)
{
	struct fbucket *b = bucket_of(p, uaddr);

	mutex_lock(&b->lock);
	int r = wake_locked(b, p, uaddr, FUTEX_BITSET_ANY, n);
	mutex_unlock(&b->lock);
	return r;
}

void futex_wake_all(struct proc *p)
{
	for (int i = 0; i < FUTEX_BUCKETS; i++) {
		struct fbucket *b = &buckets[i];
		struct fwaiter *w, *tmp;

		mutex_lock(&b->lock);
		list_for_each_entry_safe(w, tmp, &b->waiters, node)
			if (w->p == p) {
				list_del_init(&w->node);
				w->woken = true;
				thread_wake(w->t);
			}
		mutex_unlock(&b->lock);
	}
}

/* deadline_ns: on the monotonic clock, 0 for none. */
static long futex_wait(struct proc *p, u64 uaddr, u32 val, u32 bitset, u64 deadline_ns)
{
	struct fbucket *b = bucket_of(p, uaddr);
	struct fwaiter w = { .p = p, .uaddr = uaddr, .bitset = bitset, .t = current };
	u32 cur;

	if (!bitset)
		return -EINVAL;
	mutex_lock(&b->lock);
	if (copy_from_user(&cur, (const void *)uaddr, sizeof(cur))) {
		mutex_unlock(&b->lock);
		return -EFAULT;
	}
	if (cur != val) {
		mutex_unlock(&b->lock);
		return -EAGAIN;
	}
	if (signal_pending(p)) {
		mutex_unlock(&b->lock);
		return -EINTR;
	}
	list_add_tail(&w.node, &b->waiters);
	for (;;) {
		sched_prepare_block();
		mutex_unlock(&b->lock);
		if (deadline_ns)
			sched_block_until(deadline_ns);
		else
			sched_block();
		mutex_lock(&b->lock);
		if (w.woken)
			break;
		if (deadline_ns && ktime_ns() >= deadline_ns) {
			list_del(&w.node);
			mutex_unlock(&b->lock);
			return -ETIMEDOUT;
		}
		if (signal_pending(p)) {
			list_del(&w.node);
			mutex_unlock(&b->lock);
			return -EINTR;
		}
	}
	mutex_unlock(&b->lock);
	return 0;
}

static long futex_requeue(struct proc *p, u64 uaddr, int nwake, int nmove, u64 uaddr2,
			  bool cmp, u32 val)
{
	struct fbucket *b1 = bucket_of(p, uaddr), *b2 = bucket_of(p, uaddr2);
	struct fwaiter *w, *tmp;
	int done = 0;

	/* Two buckets: always lock the lower address first. */
	if (b1 > b2) {
		mutex_lock(&b2->lock);
		mutex_lock(&b1->lock);
	} else {
		mutex_lock(&b1->lock);
		if (b2 != b1)
			mutex_lock(&b2->lock);
	}
	if (cmp) {
		u32 cur;
		if (copy_from_user(&cur, (const void *)uaddr, sizeof(cur))) {
			done = -EFAULT;
			goto out;
		}
		if (cur != val) {
			done = -EAGAIN;
			goto out;
		}
	}
	done = wake_locked(b1, p, uaddr, FUTEX_BITSET_ANY, nwake);
	list_for_each_entry_safe(w, tmp, &b1->waiters, node) {
		if (nmove <= 0)
			break;
		if (w->p != p || w->uaddr != uaddr)
			continue;
		list_del(&w->node);
		w->uaddr = uaddr2;
		list_add_tail(&w->node, &b2->waiters);
		nmove--;
		done++;
	}
out:
	if (b2 != b1)
		mutex_unlock(&b2->lock);
	mutex_unlock(&b1->lock);
	return done;
}

struct ktimespec {
	s64 sec, nsec;
};

static long sys_futex(struct user_regs *r)
{
	struct proc *p = proc_current();
	u64 uaddr = r->rdi, uaddr2 = r->r8, utime = r->r10;
	int op = (int)r->rsi, cmd = op & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
	u32 val = (u32)r->rdx, val3 = (u32)r->r9;
	u64 deadline = 0;

	if (uaddr & 3)
		return -EINVAL;
	if ((cmd == FUTEX_WAIT || cmd == FUTEX_WAIT_BITSET) && utime) {
		struct ktimespec ts;
		if (copy_from_user(&ts, (const void *)utime, sizeof(ts)))
			return -EFAULT;
		if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
			return -EINVAL;
		u64 t = (u64)ts.sec * 1000000000ull + (u64)ts.nsec;
		if (cmd == FUTEX_WAIT) {
			deadline = ktime_ns() + t;	/* relative */
		} else if (op & FUTEX_CLOCK_REALTIME) {
			u64 now = wallclock_ns();
			deadline = ktime_ns() + (t > now ? t - now : 0);
		} else {
			deadline = t;			/* absolute, monotonic */
		}
		if (!deadline)
			deadline = 1;
	}
	switch (cmd) {
	case FUTEX_WAIT:
		return futex_wait(p, uaddr, val, FUTEX_BITSET_ANY, deadline);
	case FUTEX_WAIT_BITSET:
		return futex_wait(p, uaddr, val, val3, deadline);
	case FUTEX_WAKE:
		return futex_wake_addr(p, uaddr, (int)val);
	case FUTEX_WAKE_BITSET: {
		if (!val3)
			return -EINVAL;
		struct fbucket *b = bucket_of(p, uaddr);
		mutex_lock(&b->lock);
		int n = wake_locked(b, p, uaddr, val3, (int)val);
		mutex_unlock(&b->lock);
		return n;
	}
	case FUTEX_REQUEUE:
		return futex_requeue(p, uaddr, (int)val, (int)utime, uaddr2, false, 0);
	case FUTEX_CMP_REQUEUE:
		return futex_requeue(p, uaddr, (int)val, (int)utime, uaddr2, true, val3);
	default:
		return -ENOSYS;
	}
}

void futex_init(void)
{
	for (int i = 0; i < FUTEX_BUCKETS; i++) {
		mutex_init(&buckets[i].lock);
		INIT_LIST_HEAD(&buckets[i].waiters);
	}
	sys_register(202, sys_futex);	/* partial: WAIT/WAKE(_BITSET), (CMP_)REQUEUE; no PI, no WAKE_OP */
}
