/* Per-CPU data set-up and cross-CPU function calls over IPIs. */
#include <lego/smp.h>
#include <lego/sched.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/string.h>
#include <lego/bitmap.h>
#include <lego/mm.h>
#include <asm/apic.h>
#include <asm/irq.h>
#include <asm/cpu.h>
#include <asm/page.h>

struct cpu_local *cpu_locals[CONFIG_NR_CPUS];
int nr_cpus_possible = 1;
atomic_t nr_cpus_online = ATOMIC_INIT(0);

void cpu_local_init(struct cpu_local *c, int cpu, u32 apic_id)
{
	memset(c, 0, sizeof(*c));
	c->self = c;
	c->cpu = cpu;
	c->apic_id = apic_id;
	spin_lock_init(&c->rq.lock);
	INIT_LIST_HEAD(&c->rq.queue);
	spin_lock_init(&c->timers.lock);
	INIT_LIST_HEAD(&c->timers.list);
	spin_lock_init(&c->calls.lock);
	INIT_LIST_HEAD(&c->calls.list);
}

struct call_req {
	smp_call_fn fn;
	void *arg;
	atomic_t pending;
};

struct call_entry {
	struct list_head node;
	struct call_req *req;
};

void smp_handle_call_ipi(void)
{
	struct call_queue *q = &this_cpu()->calls;

	for (;;) {
		spin_lock(&q->lock);
		struct call_entry *e = list_first_entry_or_null(&q->list, struct call_entry, node);
		if (e)
			list_del_init(&e->node);
		spin_unlock(&q->lock);
		if (!e)
			return;
		struct call_req *r = e->req;
		r->fn(r->arg);
		/* After this the caller may free r and e. */
		atomic_dec(&r->pending);
	}
}

static void call_ipi(struct pt_regs *regs, void *arg)
{
	smp_handle_call_ipi();
}

static void call_post(struct cpu_local *c, struct call_entry *e, struct call_req *req)
{
	atomic_inc(&req->pending);
	e->req = req;
	unsigned long f = spin_lock_irqsave(&c->calls.lock);
	list_add_tail(&e->node, &c->calls.list);
	spin_unlock_irqrestore(&c->calls.lock, f);
	lapic_send_ipi(c->apic_id, VEC_CALL_FUNC);
}

void smp_call_mask(const unsigned long *mask, smp_call_fn fn, void *arg)
{
	struct call_req req = { .fn = fn, .arg = arg, .pending = ATOMIC_INIT(0) };
	int me = smp_processor_id();

	if (irqs_disabled())
		panic("smp_call_mask with interrupts disabled (could deadlock)");
	/* One queue entry per target, so all run in parallel. Without memory
	 * for them, fall back to one target at a time with a single entry. */
	int ncpus = READ_ONCE(nr_cpus_possible);
	struct call_entry *entries = kmalloc(ncpus * sizeof(*entries));
	struct call_entry one;
	preempt_disable();	/* stay on this CPU while "me" matters */
	for (int cpu = 0; cpu < ncpus; cpu++) {
		struct cpu_local *c = cpu_local_of(cpu);
		if (cpu == me || !bitmap_test_bit(mask, cpu) || !c || !c->online)
			continue;
		call_post(c, entries ? &entries[cpu] : &one, &req);
		while (!entries && atomic_read(&req.pending))
			cpu_relax();
	}
	if (bitmap_test_bit(mask, me)) {
		unsigned long f = local_irq_save();
		fn(arg);
		local_irq_restore(f);
	}
	while (atomic_read(&req.pending))
		cpu_relax();
	preempt_enable();
	kfree(entries);
}

void smp_call_all(smp_call_fn fn, void *arg)
{
	unsigned long mask[BITS_TO_LONGS(CONFIG_NR_CPUS)];

	memset(mask, 0xff, sizeof(mask));
	smp_call_mask(mask, fn, arg);
}

void smp_send_reschedule(int cpu)
{
	lapic_send_ipi(cpu_local_of(cpu)->apic_id, VEC_RESCHEDULE);
}

struct flush_range {
	unsigned long start, end;
};

static void flush_local(void *arg)
{
	struct flush_range *r = arg;

	if (r->end - r->start > 64 * PAGE_SIZE) {
		/* Cheaper to drop everything; global pages need a CR4.PGE toggle. */
		u64 cr4 = read_cr4();
		write_cr4(cr4 & ~X86_CR4_PGE);
		write_cr4(cr4);
		return;
	}
	for (unsigned long va = r->start; va < r->end; va += PAGE_SIZE)
		invlpg(va);
}

void tlb_shootdown_kernel(unsigned long start, unsigned long end)
{
	struct flush_range r = { ALIGN_DOWN(start, PAGE_SIZE), ALIGN_UP(end, PAGE_SIZE) };
	smp_call_all(flush_local, &r);
}

volatile bool smp_stopping;

/* Halt every other CPU, whatever it is doing (NMI ignores the interrupt
 * flag). Used on panic and when power-off fails. */
void smp_stop_others(void)
{
	smp_stopping = true;
	if (atomic_read(&nr_cpus_online) > 1)
		lapic_send_nmi_all_but_self();
}

void smp_init(void);
void smp_init(void)
{
	irq_register_vector(VEC_CALL_FUNC, call_ipi, NULL);
}
