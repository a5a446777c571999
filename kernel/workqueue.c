/* Work queues: a list of pending items served by a pool of kernel threads.
 * An item may be queued again once it has started running. */
#include <lego/workqueue.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/string.h>
#include <lego/smp.h>

struct workqueue *system_wq;

static bool wq_has_work(struct workqueue *wq)
{
	return READ_ONCE(wq->nr_pending) || READ_ONCE(wq->stopping);
}

static int worker_main(void *arg)
{
	struct workqueue *wq = arg;

	for (;;) {
		wait_event(wq->wq, wq_has_work(wq));
		unsigned long f = spin_lock_irqsave(&wq->wq.lock);
		if (list_empty(&wq->items)) {
			bool stop = wq->stopping;
			spin_unlock_irqrestore(&wq->wq.lock, f);
			if (stop)
				return 0;
			continue;
		}
		struct work *w = list_first_entry(&wq->items, struct work, node);
		list_del_init(&w->node);
		w->pending = false;
		wq->nr_pending--;
		wq->nr_running++;
		spin_unlock_irqrestore(&wq->wq.lock, f);

		current->activity = wq->name;
		w->fn(w);
		current->activity = NULL;

		f = spin_lock_irqsave(&wq->wq.lock);
		bool idle = --wq->nr_running == 0 && wq->nr_pending == 0;
		spin_unlock_irqrestore(&wq->wq.lock, f);
		if (idle)
			wake_up_all(&wq->idle_wq);
	}
}

struct workqueue *workqueue_create(const char *name, unsigned nworkers, int cpu)
{
	struct workqueue *wq = kzalloc(sizeof(*wq));
	if (!wq)
		return NULL;
	wq->workers = kzalloc(nworkers * sizeof(*wq->workers));
	if (!wq->workers) {
		kfree(wq);
		return NULL;
	}
	wait_queue_init(&wq->wq);
	wait_queue_init(&wq->idle_wq);
	INIT_LIST_HEAD(&wq->items);
	strlcpy(wq->name, name, sizeof(wq->name));
	for (unsigned i = 0; i < nworkers; i++) {
		wq->workers[i] = thread_create(worker_main, wq, cpu, "%s/%u", name, i);
		if (!wq->workers[i]) {
			workqueue_destroy(wq);
			return NULL;
		}
		wq->nr_workers++;
	}
	return wq;
}

bool queue_work(struct workqueue *wq, struct work *w)
{
	unsigned long f = spin_lock_irqsave(&wq->wq.lock);
	if (w->pending || wq->stopping) {
		spin_unlock_irqrestore(&wq->wq.lock, f);
		return false;
	}
	w->pending = true;
	list_add_tail(&w->node, &wq->items);
	wq->nr_pending++;
	spin_unlock_irqrestore(&wq->wq.lock, f);
	/* wake_local: an idle worker on this CPU if there is one and it
	 * would run next. Waking a thread on another CPU costs an
	 * inter-processor interrupt, which is slow under emulation (and the
	 * item's data is in this CPU's cache). Otherwise the longest idle. */
	if (wq->wake_local && !READ_ONCE(this_cpu()->rq.nr_queued))
		wake_up_one_on(&wq->wq, smp_processor_id());
	else
		wake_up_one(&wq->wq);
	return true;
}

static bool wq_idle(struct workqueue *wq)
{
	return READ_ONCE(wq->nr_pending) == 0 && READ_ONCE(wq->nr_running) == 0;
}

void workqueue_flush(struct workqueue *wq)
{
	wait_event(wq->idle_wq, wq_idle(wq));
}

void workqueue_destroy(struct workqueue *wq)
{
	workqueue_flush(wq);
	unsigned long f = spin_lock_irqsave(&wq->wq.lock);
	wq->stopping = true;
	spin_unlock_irqrestore(&wq->wq.lock, f);
	wake_up_all(&wq->wq);
	for (unsigned i = 0; i < wq->nr_workers; i++)
		thread_join(wq->workers[i]);
	kfree(wq->workers);
	kfree(wq);
}
