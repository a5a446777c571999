/* Wait queues and completions. A waiter is on the queue while it may need
 * a wake-up; wake_up_one takes the waiter off the queue as it wakes it, so
 * two wake-ups always reach two different waiters. */
#include <lego/wait.h>
#include <lego/time.h>
#include <asm/cpu.h>

void wait_queue_init(struct wait_queue *wq)
{
	spin_lock_init(&wq->lock);
	INIT_LIST_HEAD(&wq->waiters);
}

void prepare_to_wait(struct wait_queue *wq, struct wait_entry *w)
{
	unsigned long f = spin_lock_irqsave(&wq->lock);
	w->thread = current;
	if (list_empty(&w->node))
		list_add_tail(&w->node, &wq->waiters);
	/* Blocked before the caller tests its condition: a wake-up between
	 * the test and the block then just makes the block return. */
	sched_prepare_block();
	spin_unlock_irqrestore(&wq->lock, f);
}

bool finish_wait(struct wait_queue *wq, struct wait_entry *w)
{
	unsigned long f = spin_lock_irqsave(&wq->lock);
	bool taken = list_empty(&w->node);
	current->state = THREAD_RUNNABLE;
	if (!taken)
		list_del_init(&w->node);
	spin_unlock_irqrestore(&wq->lock, f);
	return taken;
}

static void wake_locked(struct wait_queue *wq, bool all);

void wake_up_one(struct wait_queue *wq)
{
	unsigned long f = spin_lock_irqsave(&wq->lock);
	wake_locked(wq, false);
	spin_unlock_irqrestore(&wq->lock, f);
}

void wake_up_one_on(struct wait_queue *wq, int cpu)
{
	unsigned long f = spin_lock_irqsave(&wq->lock);
	struct wait_entry *w;
	list_for_each_entry(w, &wq->waiters, node)
		if (w->thread->cpu == cpu) {
			list_del_init(&w->node);
			thread_wake(w->thread);
			spin_unlock_irqrestore(&wq->lock, f);
			return;
		}
	wake_locked(wq, false);
	spin_unlock_irqrestore(&wq->lock, f);
}

void wake_up_all(struct wait_queue *wq)
{
	unsigned long f = spin_lock_irqsave(&wq->lock);
	wake_locked(wq, true);
	spin_unlock_irqrestore(&wq->lock, f);
}

static void block_timeout_fn(struct timer *t);

struct block_timer {
	struct timer timer;
	struct thread *thread;
};

static void block_timeout_fn(struct timer *t)
{
	thread_wake(container_of(t, struct block_timer, timer)->thread);
}

void sched_block_until(u64 deadline_ns)
{
	struct block_timer bt;

	timer_init(&bt.timer, block_timeout_fn);
	bt.thread = current;
	timer_arm(&bt.timer, deadline_ns);
	schedule();
	timer_cancel(&bt.timer);
}

void msleep(unsigned long ms)
{
	u64 deadline = ktime_ns() + ms * NSEC_PER_MSEC;

	while (ktime_ns() < deadline) {
		sched_prepare_block();
		sched_block_until(deadline);
		current->state = THREAD_RUNNABLE;
	}
}

void completion_init(struct completion *c)
{
	c->done = 0;
	wait_queue_init(&c->wq);
}

#define COMPLETION_ALL (~0u)

/* Caller holds wq->lock. */
static void wake_locked(struct wait_queue *wq, bool all)
{
	while (!list_empty(&wq->waiters)) {
		struct wait_entry *w = list_first_entry(&wq->waiters, struct wait_entry, node);
		list_del_init(&w->node);
		thread_wake(w->thread);
		if (!all)
			break;
	}
}

/* The wake-up happens under the lock: the completion may live on the
 * waiter's stack, and once we unlock the waiter may consume it and return,
 * so the unlock must be our last touch of it. */
void complete(struct completion *c)
{
	unsigned long f = spin_lock_irqsave(&c->wq.lock);
	if (c->done != COMPLETION_ALL)
		c->done++;
	wake_locked(&c->wq, false);
	spin_unlock_irqrestore(&c->wq.lock, f);
}

void complete_all(struct completion *c)
{
	unsigned long f = spin_lock_irqsave(&c->wq.lock);
	c->done = COMPLETION_ALL;
	wake_locked(&c->wq, true);
	spin_unlock_irqrestore(&c->wq.lock, f);
}

static bool completion_consume(struct completion *c)
{
	bool ok = false;
	unsigned long f = spin_lock_irqsave(&c->wq.lock);
	if (c->done) {
		if (c->done != COMPLETION_ALL)
			c->done--;
		ok = true;
	}
	spin_unlock_irqrestore(&c->wq.lock, f);
	return ok;
}

void wait_for_completion(struct completion *c)
{
	wait_event(c->wq, completion_consume(c));
}

bool wait_for_completion_timeout(struct completion *c, u64 timeout_ns)
{
	return wait_event_timeout(c->wq, completion_consume(c), timeout_ns);
}

unsigned completion_done_count(struct completion *c)
{
	return READ_ONCE(c->done);
}
