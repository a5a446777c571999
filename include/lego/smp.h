/* Per-CPU data, reached through the GS base, and cross-CPU calls. */
#ifndef LEGO_SMP_H
#define LEGO_SMP_H

#include <lego/compiler.h>
#include <lego/list.h>
#include <lego/spinlock.h>
#include <lego/atomic.h>
#include <asm/desc.h>

struct thread;
struct uspace;

/* Run queue of one CPU. lock protects every field. Only the owning CPU ever
 * runs threads from it; other CPUs only add woken threads. */
struct runqueue {
	spinlock_t lock;
	struct list_head queue;		/* runnable, not running */
	unsigned nr_queued;
	unsigned nr_threads;		/* threads assigned to this CPU, for placement */
	struct thread *curr;
	u64 slice_end_ns;		/* preempt curr after this when queue non-empty */
};

/* Per-CPU timers, sorted by expiry. lock protects list. */
struct timer_base {
	spinlock_t lock;
	struct list_head list;
	u64 armed_ns;		/* when the APIC timer fires; 0: not armed (owning CPU, irqs off) */
};

/* Pending cross-CPU function calls. lock protects list. */
struct call_queue {
	spinlock_t lock;
	struct list_head list;
};

struct cpu_local {
	struct cpu_local *self;		/* must stay at offset 0: %gs:0 */
	struct thread *current_thread;	/* must stay at offset 8: %gs:8 */
	/* SYSCALL entry scratch (asm/user_regs.h PCPU_*; offsets 16 and 24):
	 * the user rsp while the entry saves it, and the kernel stack top of
	 * the running thread (set at each switch, like the TSS rsp0). */
	unsigned long user_rsp_scratch;
	unsigned long kstack_top;
	struct uspace *uspace;		/* user address space in CR3 (NULL: kernel); irqs off */
	int cpu;
	u32 apic_id;
	int preempt_count;		/* this CPU only */
	int irq_depth;			/* this CPU only */
	bool need_resched;		/* set by timer/IPI, read at irq exit */
	bool online;
	bool dedicated;			/* owned by one busy thread: new threads go elsewhere */
	struct thread *idle;
	struct runqueue rq;
	struct timer_base timers;
	struct call_queue calls;
	u64 irq_count;
	struct arch_cpu arch;
};

extern struct cpu_local *cpu_locals[];
/* CPUs started so far (ids 0..nr_cpus_possible-1; final once
 * smp_boot_aps returns). Bounds every loop over cpu_locals[]. */
extern int nr_cpus_possible;
extern atomic_t nr_cpus_online;

static inline struct cpu_local *this_cpu(void)
{
	struct cpu_local *c;
	__asm__("movq %%gs:0, %0" : "=r"(c));
	return c;
}

static inline int smp_processor_id(void)
{
	return this_cpu()->cpu;
}

static inline struct cpu_local *cpu_local_of(int cpu)
{
	return cpu_locals[cpu];
}

void cpu_local_init(struct cpu_local *c, int cpu, u32 apic_id);
void smp_boot_aps(void);

/* Run fn(arg) on every online CPU in mask (bit per CPU; the caller included
 * if its bit is set) and wait until all have finished. May not be called
 * with interrupts disabled: two CPUs waiting on each other would deadlock. */
typedef void (*smp_call_fn)(void *arg);
void smp_call_mask(const unsigned long *mask, smp_call_fn fn, void *arg);
void smp_call_all(smp_call_fn fn, void *arg);
void smp_handle_call_ipi(void);
void smp_send_reschedule(int cpu);
void smp_stop_others(void);

/* Invalidate [start, end) of the kernel address space on every online CPU. */
void tlb_shootdown_kernel(unsigned long start, unsigned long end);

#endif
