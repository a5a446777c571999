/* Wait queues and completions. */
#ifndef LEGO_WAIT_H
#define LEGO_WAIT_H

#include <lego/list.h>
#include <lego/spinlock.h>
#include <lego/sched.h>

/* lock protects waiters. */
struct wait_queue {
	spinlock_t lock;
	struct list_head waiters;
};

struct wait_entry {
	struct thread *thread;
	struct list_head node;
};

#define WAIT_QUEUE_INIT(n) { SPINLOCK_INIT, LIST_HEAD_INIT((n).waiters) }
#define DEFINE_WAIT_QUEUE(n) struct wait_queue n = WAIT_QUEUE_INIT(n)

void wait_queue_init(struct wait_queue *wq);

static inline void wait_entry_init(struct wait_entry *w)
{
	w->thread = NULL;
	INIT_LIST_HEAD(&w->node);
}

void prepare_to_wait(struct wait_queue *wq, struct wait_entry *w);
/* Returns true if a waker had already taken w off the queue. */
bool finish_wait(struct wait_queue *wq, struct wait_entry *w);
/* Like wake_up_one, but prefers a waiter whose thread runs on cpu (a
 * wake-up on the waker's own CPU needs no inter-processor interrupt). */
void wake_up_one_on(struct wait_queue *wq, int cpu);
void wake_up_one(struct wait_queue *wq);
void wake_up_all(struct wait_queue *wq);

/* Sleep until cond holds. cond is re-evaluated after every wake-up. */
#define wait_event(wq, cond)                                                     \
	do {                                                                     \
		struct wait_entry __we;                                          \
		wait_entry_init(&__we);                                          \
		for (;;) {                                                       \
			prepare_to_wait(&(wq), &__we);                           \
			if (cond)                                                \
				break;                                           \
			sched_block();                                           \
		}                                                                \
		finish_wait(&(wq), &__we);                                       \
	} while (0)

/* As wait_event, for at most timeout_ns. Evaluates to true if cond holds. */
#define wait_event_timeout(wq, cond, timeout_ns)                                 \
	({                                                                       \
		struct wait_entry __we;                                          \
		wait_entry_init(&__we);                                          \
		u64 __deadline = ktime_ns() + (timeout_ns);                      \
		bool __ok;                                                       \
		for (;;) {                                                       \
			prepare_to_wait(&(wq), &__we);                           \
			if ((__ok = (cond)))                                     \
				break;                                           \
			if (ktime_ns() >= __deadline)                            \
				break;                                           \
			sched_block_until(__deadline);                           \
		}                                                                \
		/* Woken but leaving without the event: pass the wake-up on. */  \
		if (finish_wait(&(wq), &__we) && !__ok)                          \
			wake_up_one(&(wq));                                      \
		__ok;                                                            \
	})

/* Block until woken or until the monotonic clock passes deadline_ns. */
void sched_block_until(u64 deadline_ns);

/* A one-shot (or counting) event. lock inside wq protects done. */
struct completion {
	unsigned done;
	struct wait_queue wq;
};

void completion_init(struct completion *c);
void complete(struct completion *c);
void complete_all(struct completion *c);
/* Completions not yet consumed (for tests). */
unsigned completion_done_count(struct completion *c);
void wait_for_completion(struct completion *c);
/* Returns true if completed, false on timeout. */
bool wait_for_completion_timeout(struct completion *c, u64 timeout_ns);

#endif
