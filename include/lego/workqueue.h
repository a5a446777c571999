/* Work queues: deferred functions run by a pool of kernel threads. */
#ifndef LEGO_WORKQUEUE_H
#define LEGO_WORKQUEUE_H

#include <lego/list.h>
#include <lego/wait.h>

struct work;
typedef void (*work_fn_t)(struct work *w);

struct work {
	struct list_head node;
	work_fn_t fn;
	bool pending;		/* queued and not yet started; wq->wq.lock */
};

/* wq.lock protects items, nr_pending, nr_running and stopping. */
struct workqueue {
	struct wait_queue wq;		/* workers sleep here */
	struct wait_queue idle_wq;	/* flushers sleep here */
	struct list_head items;
	unsigned nr_pending;
	unsigned nr_running;
	bool stopping;
	unsigned nr_workers;
	struct thread **workers;
	/* Set by the creator before use: queue_work prefers an idle worker on
	 * the queuing CPU when nothing else waits to run there. For queuers
	 * that block right after queuing (the network receive thread). */
	bool wake_local;
	char name[24];
};

static inline void work_init(struct work *w, work_fn_t fn)
{
	INIT_LIST_HEAD(&w->node);
	w->fn = fn;
	w->pending = false;
}

/* Start nworkers threads (each on the least loaded CPU, or all on cpu). */
struct workqueue *workqueue_create(const char *name, unsigned nworkers, int cpu);
/* Returns false if w was already pending. */
bool queue_work(struct workqueue *wq, struct work *w);
/* Wait until every item queued before the call has finished. */
void workqueue_flush(struct workqueue *wq);
void workqueue_destroy(struct workqueue *wq);

extern struct workqueue *system_wq;

#endif
