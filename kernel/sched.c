/* Per-CPU scheduling (paper section 4.3.1).
 *
 * A thread belongs to one CPU's run queue for its whole life. A CPU runs
 * its current thread until the thread blocks or exits; only when more
 * threads are runnable on the CPU than it can run does the one-shot timer
 * slice between them (CONFIG_SCHED_SLICE_MS). An idle CPU halts with its
 * timer off unless a kernel timer is pending.
 *
 * Locking: a run queue's lock is taken with interrupts off. Only the owning
 * CPU takes threads off its queue and switches to them; other CPUs only add
 * woken threads, then kick the owner with an IPI. Because of that, a CPU
 * may drop its queue lock before switch_stack has saved the outgoing
 * thread: nobody else can start that thread in the meantime. */
#include <lego/sched.h>
#include <lego/time.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/mm.h>
#include <lego/string.h>
#include <lego/user.h>
#include <asm/cpu.h>
#include <asm/irq.h>
#include <asm/apic.h>

struct thread *switch_stack(unsigned long *prev_rsp, unsigned long next_rsp, struct thread *prev);
void sched_finish_switch(struct thread *prev);
void thread_free(struct thread *t);

#define SLICE_NS ((u64)CONFIG_SCHED_SLICE_MS * NSEC_PER_MSEC)

/* Caller holds rq->lock. Tells the CPU owning rq that it has work. */
static void rq_kick(struct runqueue *rq, int cpu)
{
	if (rq->curr && !rq->curr->is_idle && rq->slice_end_ns == 0)
		rq->slice_end_ns = ktime_ns() + SLICE_NS;
	if (cpu == smp_processor_id()) {
		if (rq->curr && rq->curr->is_idle)
			this_cpu()->need_resched = true;
		else
			timer_program_cpu();
	} else {
		smp_send_reschedule(cpu);
	}
}

/* Caller holds rq->lock. */
static void rq_enqueue(struct runqueue *rq, struct thread *t)
{
	if (t->on_rq)
		return;
	t->on_rq = true;
	list_add_tail(&t->rq_node, &rq->queue);
	rq->nr_queued++;
}

void sched_enqueue_new(struct thread *t);
void sched_enqueue_new(struct thread *t)
{
	struct runqueue *rq = &cpu_local_of(t->cpu)->rq;
	unsigned long f = spin_lock_irqsave(&rq->lock);
	rq->nr_threads++;
	t->state = THREAD_RUNNABLE;
	rq_enqueue(rq, t);
	rq_kick(rq, t->cpu);
	spin_unlock_irqrestore(&rq->lock, f);
}

void thread_wake(struct thread *t)
{
	struct runqueue *rq = &cpu_local_of(t->cpu)->rq;
	unsigned long f = spin_lock_irqsave(&rq->lock);
	if (t->state == THREAD_BLOCKED) {
		t->state = THREAD_RUNNABLE;
		/* If it has not switched out yet, schedule() will see it
		 * runnable and keep running it. */
		if (rq->curr != t) {
			rq_enqueue(rq, t);
			rq_kick(rq, t->cpu);
		}
	}
	spin_unlock_irqrestore(&rq->lock, f);
}

void sched_prepare_block(void)
{
	__atomic_store_n(&current->state, THREAD_BLOCKED, __ATOMIC_SEQ_CST);
}

void sched_block(void)
{
	schedule();
}

/* preempted: the switch comes from an interrupt, not from the thread. A
 * thread can be preempted after marking itself BLOCKED but before it
 * actually blocks (while it tests its wait condition or arms a timeout);
 * it must stay runnable then, or nothing might ever wake it. It runs again
 * later, re-tests and blocks properly. */
static void __schedule(bool preempted)
{
	struct cpu_local *c = this_cpu();
	struct runqueue *rq = &c->rq;
	struct thread *prev = c->current_thread, *next = NULL;

	if (c->preempt_count)
		panic("schedule() while atomic (preempt count %d)", c->preempt_count);
	unsigned long f = local_irq_save();
	spin_lock(&rq->lock);
	c->need_resched = false;
	if (!list_empty(&rq->queue)) {
		next = list_first_entry(&rq->queue, struct thread, rq_node);
		list_del_init(&next->rq_node);
		next->on_rq = false;
		rq->nr_queued--;
	}
	bool keep = prev->state == THREAD_RUNNABLE || (preempted && prev->state == THREAD_BLOCKED);
	if (keep && !prev->is_idle) {
		if (next)
			rq_enqueue(rq, prev);
		else
			next = prev;
	}
	if (!next)
		next = c->idle;
	rq->curr = next;
	rq->slice_end_ns = (rq->nr_queued && !next->is_idle) ? ktime_ns() + SLICE_NS : 0;
	spin_unlock(&rq->lock);

	if (next != prev) {
		/* A thread leaving another CPU (future migration) must be
		 * fully switched out before we load its stack. */
		while (READ_ONCE(next->on_cpu))
			cpu_relax();
		next->on_cpu = true;
		c->current_thread = next;
		/* Kernel stack for traps from ring 3, address space, FPU. */
		user_switch(prev, next);
		prev = switch_stack(&prev->rsp, next->rsp, prev);
		sched_finish_switch(prev);
	}
	timer_program_cpu();
	local_irq_restore(f);
}

void schedule(void)
{
	__schedule(false);
}

/* Runs in the thread that was just switched to. */
void sched_finish_switch(struct thread *prev)
{
	/* Decide before clearing on_cpu: after that, a joiner may free prev. */
	bool reap = prev->state == THREAD_DEAD && prev->detached;

	__atomic_store_n(&prev->on_cpu, false, __ATOMIC_RELEASE);
	if (reap)
		thread_free(prev);
}

void thread_yield(void)
{
	schedule();
}

/* Timer interrupt: slice expired on an oversubscribed CPU? */
void sched_timer_tick(void)
{
	struct cpu_local *c = this_cpu();
	struct runqueue *rq = &c->rq;

	spin_lock(&rq->lock);
	if (rq->nr_queued && rq->slice_end_ns && ktime_ns() >= rq->slice_end_ns) {
		c->need_resched = true;
		/* Re-arm in case preemption is deferred by a held lock. */
		rq->slice_end_ns = ktime_ns() + SLICE_NS;
	}
	spin_unlock(&rq->lock);
}

/* Interrupt exit with need_resched set and preemption allowed. */
void sched_irq_exit(void)
{
	__schedule(true);
}

static void resched_ipi(struct pt_regs *regs, void *arg)
{
	struct cpu_local *c = this_cpu();

	spin_lock(&c->rq.lock);
	if (c->rq.curr && c->rq.curr->is_idle && c->rq.nr_queued)
		c->need_resched = true;
	spin_unlock(&c->rq.lock);
	timer_program_cpu();
}

void sched_init(void);
void sched_init(void)
{
	irq_register_vector(VEC_RESCHEDULE, resched_ipi, NULL);
}

/* The CPU's first context becomes its idle thread. */
void sched_init_cpu(struct thread *idle)
{
	struct cpu_local *c = this_cpu();

	idle->is_idle = true;
	idle->pinned = true;
	idle->on_cpu = true;
	idle->cpu = c->cpu;
	idle->state = THREAD_RUNNABLE;
	c->idle = idle;
	c->current_thread = idle;
	c->rq.curr = idle;
}

void cpu_idle_loop(void)
{
	struct cpu_local *c = this_cpu();

	c->current_thread->activity = "idle";
	for (;;) {
		local_irq_disable();
		if (c->need_resched || READ_ONCE(c->rq.nr_queued)) {
			local_irq_enable();
			schedule();
			continue;
		}
		/* sti;hlt is atomic: an interrupt cannot slip in between. */
		safe_halt();
	}
}

int sched_nr_threads(int cpu)
{
	return READ_ONCE(cpu_local_of(cpu)->rq.nr_threads);
}

/* Called with the thread's state already DEAD; unaccounts it. */
void sched_thread_dead(struct thread *t);
void sched_thread_dead(struct thread *t)
{
	struct runqueue *rq = &cpu_local_of(t->cpu)->rq;
	unsigned long f = spin_lock_irqsave(&rq->lock);
	rq->nr_threads--;
	spin_unlock_irqrestore(&rq->lock, f);
}
