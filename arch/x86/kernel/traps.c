/* Exception and interrupt dispatch. Every CPU exception that the kernel does
 * not expect ends in a panic naming the exception, with the register dump
 * and a backtrace; device and IPI vectors go to registered handlers. */
#include <lego/printk.h>
#include <lego/user.h>
#include <lego/panic.h>
#include <lego/smp.h>
#include <lego/sched.h>
#include <lego/errno.h>
#include <asm/ptregs.h>
#include <asm/irq.h>
#include <asm/cpu.h>
#include <asm/apic.h>
#include <asm/page.h>

void x86_interrupt(struct pt_regs *regs);
void user_exception(struct pt_regs *regs);
bool user_access_fault(struct pt_regs *regs, unsigned long cr2);
extern volatile bool smp_stopping;

static const char *const exception_names[32] = {
	[0] = "Divide error (#DE)",
	[1] = "Debug (#DB)",
	[2] = "Non-maskable interrupt (NMI)",
	[3] = "Breakpoint (#BP)",
	[4] = "Overflow (#OF)",
	[5] = "BOUND range exceeded (#BR)",
	[6] = "Invalid opcode (#UD)",
	[7] = "Device not available (#NM)",
	[8] = "Double fault (#DF)",
	[9] = "Coprocessor segment overrun",
	[10] = "Invalid TSS (#TS)",
	[11] = "Segment not present (#NP)",
	[12] = "Stack-segment fault (#SS)",
	[13] = "General protection (#GP)",
	[14] = "Page fault (#PF)",
	[16] = "x87 floating-point error (#MF)",
	[17] = "Alignment check (#AC)",
	[18] = "Machine check (#MC)",
	[19] = "SIMD floating-point (#XM)",
	[20] = "Virtualization (#VE)",
	[21] = "Control protection (#CP)",
	[28] = "Hypervisor injection (#HV)",
	[29] = "VMM communication (#VC)",
	[30] = "Security (#SX)",
};

struct irq_slot {
	irq_handler_t handler;
	void *arg;
};

static struct irq_slot irq_table[256];	/* written at init under irq_table_lock */
static DEFINE_SPINLOCK(irq_table_lock);

int irq_register_vector(u8 vector, irq_handler_t h, void *arg)
{
	int ret = 0;

	if (vector < 32)
		return -EINVAL;
	unsigned long f = spin_lock_irqsave(&irq_table_lock);
	if (irq_table[vector].handler) {
		ret = -EBUSY;
	} else {
		irq_table[vector].arg = arg;
		WRITE_ONCE(irq_table[vector].handler, h);
	}
	spin_unlock_irqrestore(&irq_table_lock, f);
	return ret;
}

int irq_alloc_vector(irq_handler_t h, void *arg)
{
	for (int v = VEC_IRQ_BASE + 16; v < VEC_LAPIC_TIMER; v++)
		if (irq_register_vector(v, h, arg) == 0)
			return v;
	return -ENOSPC;
}

static void handle_exception(struct pt_regs *regs)
{
	int vec = (int)regs->vector;
	const char *name = exception_names[vec] ? exception_names[vec] : "Reserved exception";

	if (vec == VEC_NMI) {
		/* Another CPU panicked and wants us stopped. */
		if ((panic_cpu >= 0 && panic_cpu != smp_processor_id()) || smp_stopping) {
			for (;;) {
				local_irq_disable();
				halt();
			}
		}
		printk(KERN_WARNING "cpu %d: unexpected NMI at %pS\n", smp_processor_id(),
		       (void *)regs->rip);
		return;
	}
	/* Ring 3: the thread's fault hook decides (lego/user.h); never a
	 * panic. */
	if (regs->cs & 3) {
		user_exception(regs);
		return;
	}
	/* copy_from_user and friends: the fixup turns the fault into -EFAULT. */
	if ((vec == 14 || vec == 13) && user_access_fault(regs, read_cr2()))
		return;
	/* A fault just below the running thread's stack is a stack overflow
	 * into the guard page; say so, it is otherwise easy to misread. */
	struct thread *t = this_cpu()->current_thread;
	unsigned long cr2 = read_cr2();
	if ((vec == 14 || vec == 8) && t && t->stack && cr2 < (unsigned long)t->stack &&
	    cr2 >= (unsigned long)t->stack - PAGE_SIZE)
		printk(KERN_EMERG "kernel stack overflow: thread '%s' ran past its %zu-byte stack "
		       "into the guard page\n", t->name, t->stack_size);
	if (vec == 14)
		panic_regs(regs, "%s at %016lx error 0x%lx [%s, %s, %s%s]", name, (unsigned long)regs->rip,
			   (unsigned long)regs->error, (regs->error & 1) ? "protection" : "not-present",
			   (regs->error & 2) ? "write" : "read", (regs->error & 4) ? "user" : "kernel",
			   (regs->error & 16) ? ", instruction fetch" : "");
	panic_regs(regs, "%s at %016lx error 0x%lx", name, (unsigned long)regs->rip,
		   (unsigned long)regs->error);
}

void x86_interrupt(struct pt_regs *regs)
{
	struct cpu_local *c = this_cpu();
	int vec = (int)regs->vector;

	if (vec < 32) {
		handle_exception(regs);
		return;
	}
	if (vec == VEC_SPURIOUS)
		return;

	c->irq_depth++;
	c->irq_count++;
	struct irq_slot *s = &irq_table[vec];
	irq_handler_t h = READ_ONCE(s->handler);
	if (h)
		h(regs, s->arg);
	else
		printk(KERN_WARNING "cpu %d: interrupt on unused vector %d\n", c->cpu, vec);
	lapic_eoi();
	c->irq_depth--;

	/* Only a preemptible context may be switched away from here: not a
	 * nested interrupt and not while a spinlock is held. */
	if (c->irq_depth == 0 && c->preempt_count == 0 && c->need_resched)
		sched_irq_exit();
	if ((regs->cs & 3) == 3 && c->irq_depth == 0)
		user_irq_exit(regs);
}
