/* Sleeping mutexes with direct hand-off to the longest waiter. */
#include <lego/mutex.h>
#include <lego/sched.h>
#include <lego/panic.h>

struct mutex_waiter {
	struct list_head node;
	struct thread *thread;
};

void mutex_init(struct mutex *m)
{
	spin_lock_init(&m->wait_lock);
	m->owner = NULL;
	INIT_LIST_HEAD(&m->waiters);
}

void mutex_lock(struct mutex *m)
{
	struct thread *me = current;
	unsigned long f = spin_lock_irqsave(&m->wait_lock);

	if (!m->owner) {
		m->owner = me;
		spin_unlock_irqrestore(&m->wait_lock, f);
		return;
	}
	if (m->owner == me)
		panic("mutex %p: recursive lock by %s", (void *)m, me->name);
	struct mutex_waiter w = { .thread = me };
	list_add_tail(&w.node, &m->waiters);
	/* mutex_unlock makes us the owner before waking us. */
	while (READ_ONCE(m->owner) != me) {
		sched_prepare_block();
		spin_unlock_irqrestore(&m->wait_lock, f);
		if (READ_ONCE(m->owner) != me)
			schedule();
		me->state = THREAD_RUNNABLE;
		f = spin_lock_irqsave(&m->wait_lock);
	}
	spin_unlock_irqrestore(&m->wait_lock, f);
}

bool mutex_trylock(struct mutex *m)
{
	bool ok = false;
	unsigned long f = spin_lock_irqsave(&m->wait_lock);
	if (!m->owner) {
		m->owner = current;
		ok = true;
	}
	spin_unlock_irqrestore(&m->wait_lock, f);
	return ok;
}

void mutex_unlock(struct mutex *m)
{
	unsigned long f = spin_lock_irqsave(&m->wait_lock);
	if (m->owner != current)
		panic("mutex %p: unlocked by %s, which does not own it", (void *)m, current->name);
	if (list_empty(&m->waiters)) {
		m->owner = NULL;
	} else {
		struct mutex_waiter *w = list_first_entry(&m->waiters, struct mutex_waiter, node);
		list_del(&w->node);
		m->owner = w->thread;
		thread_wake(w->thread);
	}
	spin_unlock_irqrestore(&m->wait_lock, f);
}

bool mutex_is_locked(struct mutex *m)
{
	return READ_ONCE(m->owner) != NULL;
}
