/* Per-CPU one-shot timers. A timer fires on the CPU that armed it, from the
 * local APIC timer interrupt, which is programmed for the earliest of the
 * next timer and the running thread's time slice (only when the CPU is
 * oversubscribed). No periodic tick: an idle CPU sleeps until needed.
 *
 * The APIC timer is reprogrammed lazily: only when it must fire earlier
 * than it is set to. A later or no deadline leaves it armed, and the
 * interrupt it then raises finds nothing to do and sets the real one.
 * Under emulation each write of the timer is an exit to the device model,
 * measured at 8-13 us in the rack; eager reprogramming wrote it about five
 * times per RPC request served (slice armed and disarmed around every
 * hand-off between threads), a lazy one close to never. */
#include <lego/time.h>
#include <lego/smp.h>
#include <lego/sched.h>
#include <lego/panic.h>
#include <asm/apic.h>
#include <asm/cpu.h>

void timer_init(struct timer *t, timer_fn_t fn)
{
	INIT_LIST_HEAD(&t->node);
	t->fn = fn;
	t->cpu = -1;
	t->expires_ns = 0;
}

void timer_arm(struct timer *t, u64 expires_ns)
{
	/* It may be pending on another CPU's list, under that CPU's lock. */
	timer_cancel(t);

	unsigned long f = local_irq_save();
	struct cpu_local *c = this_cpu();
	spin_lock(&c->timers.lock);
	t->expires_ns = expires_ns;
	t->cpu = c->cpu;
	struct list_head *pos;
	list_for_each(pos, &c->timers.list)
		if (list_entry(pos, struct timer, node)->expires_ns > expires_ns)
			break;
	list_add_tail(&t->node, pos);	/* before pos: keeps the list sorted */
	spin_unlock(&c->timers.lock);
	timer_program_cpu();
	local_irq_restore(f);
}

bool timer_cancel(struct timer *t)
{
	int cpu = READ_ONCE(t->cpu);
	if (cpu < 0)
		return false;
	struct timer_base *b = &cpu_local_of(cpu)->timers;
	bool was = false;
	unsigned long f = spin_lock_irqsave(&b->lock);
	if (!list_empty(&t->node)) {
		list_del_init(&t->node);
		was = true;
	}
	t->cpu = -1;
	spin_unlock_irqrestore(&b->lock, f);
	return was;
}

u64 timers_next_expiry(void)
{
	struct timer_base *b = &this_cpu()->timers;
	u64 next = UINT64_MAX;
	unsigned long f = spin_lock_irqsave(&b->lock);
	if (!list_empty(&b->list))
		next = list_first_entry(&b->list, struct timer, node)->expires_ns;
	spin_unlock_irqrestore(&b->lock, f);
	return next;
}

/* From the APIC timer interrupt: the one-shot has fired. */
void timers_run_expired(void)
{
	struct timer_base *b = &this_cpu()->timers;

	b->armed_ns = 0;

	for (;;) {
		spin_lock(&b->lock);
		struct timer *t = list_first_entry_or_null(&b->list, struct timer, node);
		if (!t || t->expires_ns > ktime_ns()) {
			spin_unlock(&b->lock);
			return;
		}
		list_del_init(&t->node);
		t->cpu = -1;
		spin_unlock(&b->lock);
		t->fn(t);
	}
}

void timer_program_cpu(void)
{
	unsigned long f = local_irq_save();
	struct cpu_local *c = this_cpu();
	struct timer_base *b = &c->timers;
	u64 next = timers_next_expiry();
	u64 slice = READ_ONCE(c->rq.slice_end_ns);

	if (slice && READ_ONCE(c->rq.nr_queued) && slice < next)
		next = slice;
	if (next != UINT64_MAX) {
		u64 now = ktime_ns();
		/* Armed for a time still ahead and no later than needed: it
		 * will fire in time (its handler then programs the rest). */
		if (!(b->armed_ns && b->armed_ns > now && b->armed_ns <= next)) {
			u64 at = next > now + 1000 ? next : now + 1000;
			lapic_timer_oneshot(at - now);
			b->armed_ns = at;
		}
	}
	local_irq_restore(f);
}
