/* Sleeping mutual exclusion. Waiters are served in FIFO order: unlock hands
 * the mutex directly to the first waiter so that it cannot be starved. */
#ifndef LEGO_MUTEX_H
#define LEGO_MUTEX_H

#include <lego/list.h>
#include <lego/spinlock.h>

struct thread;

/* wait_lock protects owner and waiters. */
struct mutex {
	spinlock_t wait_lock;
	struct thread *owner;
	struct list_head waiters;
};

#define MUTEX_INIT(n) { SPINLOCK_INIT, NULL, LIST_HEAD_INIT((n).waiters) }
#define DEFINE_MUTEX(n) struct mutex n = MUTEX_INIT(n)

void mutex_init(struct mutex *m);
void mutex_lock(struct mutex *m);
bool mutex_trylock(struct mutex *m);
void mutex_unlock(struct mutex *m);
bool mutex_is_locked(struct mutex *m);

#endif
