/* panic: stop every CPU and print what is needed to debug the failure: the
 * CPU, the thread and what it was doing, the registers, and a symbolised
 * frame-pointer backtrace. */
#include <lego/panic.h>
#include <lego/printk.h>
#include <lego/smp.h>
#include <lego/sched.h>
#include <lego/kallsyms.h>
#include <lego/mm.h>
#include <asm/ptregs.h>
#include <asm/cpu.h>
#include <asm/apic.h>
#include <lego/time.h>

volatile int panic_cpu = -1;
static bool apic_ready;

void panic_apic_ready(void);
void panic_apic_ready(void)
{
	apic_ready = true;
}

/* A frame pointer is followed only while it stays on a mapped kernel stack
 * and moves up; anything else ends the walk rather than faulting. */
static bool frame_ok(unsigned long fp, unsigned long prev)
{
	if (fp & 7 || fp <= prev)
		return false;
	if (fp >= STACK_AREA_BASE && fp < STACK_AREA_BASE + STACK_AREA_SIZE)
		return true;
	if (fp >= KERNEL_VMA)
		return true;	/* boot and static stacks in the image */
	if (fp >= PAGE_OFFSET && fp < PAGE_OFFSET + (1ul << 40))
		return true;
	return false;
}

/* A return address points after its call instruction, which may already be
 * the next function when the call was the last instruction (noreturn
 * callees); look up addr - 1 for those. */
static void print_frame(unsigned long addr, bool is_return)
{
	unsigned long off, size;
	const char *name = kallsyms_lookup(addr - is_return, &off, &size);

	off += is_return;
	if (name)
		printk(KERN_EMERG "  [<%016lx>] %s+0x%lx/0x%lx\n", addr, name, off, size);
	else
		printk(KERN_EMERG "  [<%016lx>] ?\n", addr);
}

void dump_backtrace(unsigned long rip, unsigned long rbp)
{
	printk(KERN_EMERG "Backtrace:\n");
	print_frame(rip, false);
	unsigned long prev = 0, last = 0;
	int repeats = 0;
	/* Deep recursion (a stack overflow) repeats one frame many times:
	 * collapse the run so the frames below it still fit. */
	for (int depth = 0; depth < 4096 && rbp && frame_ok(rbp, prev); depth++) {
		unsigned long ret = ((unsigned long *)rbp)[1];
		if (!ret)
			break;
		if (ret == last && depth > 0) {
			repeats++;
		} else {
			if (repeats)
				printk(KERN_EMERG "  ... previous frame repeated %d more times\n", repeats);
			repeats = 0;
			print_frame(ret, true);
			last = ret;
		}
		prev = rbp;
		rbp = ((unsigned long *)rbp)[0];
	}
	if (repeats)
		printk(KERN_EMERG "  ... previous frame repeated %d more times\n", repeats);
}

static void stop_other_cpus(void)
{
	if (apic_ready && atomic_read(&nr_cpus_online) > 1) {
		smp_stop_others();
		udelay(10000);
	}
}

static bool panic_enter(void)
{
	local_irq_disable();
	int me = this_cpu() ? smp_processor_id() : 0;
	int expected = -1;
	if (!__atomic_compare_exchange_n(&panic_cpu, &expected, me, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST)) {
		/* Another CPU is already panicking (or we recursed): stop. */
		if (expected != me)
			for (;;)
				halt();
		return false;
	}
	stop_other_cpus();
	printk_panic_mode();
	return true;
}

static void __noreturn panic_halt(void)
{
	printk(KERN_EMERG "lego: system halted\n");
	for (;;) {
		local_irq_disable();
		halt();
	}
}

static void print_header(const char *fmt, va_list ap)
{
	char msg[256];
	struct cpu_local *c = this_cpu();

	vsnprintf(msg, sizeof(msg), fmt, ap);
	printk(KERN_EMERG "------------[ kernel panic ]------------\n");
	printk(KERN_EMERG "PANIC on CPU %d: %s\n", c ? c->cpu : 0, msg);
	struct thread *t = c ? c->current_thread : NULL;
	if (t)
		printk(KERN_EMERG "thread: '%s' (tid %d)%s%s\n", t->name, t->tid,
		       t->activity ? ", doing: " : "", t->activity ? t->activity : "");
	if (c && c->irq_depth)
		printk(KERN_EMERG "in interrupt context (depth %d)\n", c->irq_depth);
}

static void __noreturn panic_dump(struct pt_regs *r, const char *fmt, va_list ap)
{
	print_header(fmt, ap);
	printk(KERN_EMERG "CR2: %016lx CR3: %016lx CR0: %016lx CR4: %016lx\n",
	       (unsigned long)read_cr2(), (unsigned long)read_cr3(), (unsigned long)read_cr0(),
	       (unsigned long)read_cr4());
	printk(KERN_EMERG "RIP: %016lx RSP: %016lx RFLAGS: %016lx CS: %04lx SS: %04lx\n",
	       (unsigned long)r->rip, (unsigned long)r->rsp, (unsigned long)r->rflags,
	       (unsigned long)r->cs, (unsigned long)r->ss);
	printk(KERN_EMERG "RIP is at %pS\n", (void *)r->rip);
	printk(KERN_EMERG "RAX: %016lx RBX: %016lx RCX: %016lx\n", (unsigned long)r->rax,
	       (unsigned long)r->rbx, (unsigned long)r->rcx);
	printk(KERN_EMERG "RDX: %016lx RSI: %016lx RDI: %016lx\n", (unsigned long)r->rdx,
	       (unsigned long)r->rsi, (unsigned long)r->rdi);
	printk(KERN_EMERG "RBP: %016lx R8:  %016lx R9:  %016lx\n", (unsigned long)r->rbp,
	       (unsigned long)r->r8, (unsigned long)r->r9);
	printk(KERN_EMERG "R10: %016lx R11: %016lx R12: %016lx\n", (unsigned long)r->r10,
	       (unsigned long)r->r11, (unsigned long)r->r12);
	printk(KERN_EMERG "R13: %016lx R14: %016lx R15: %016lx\n", (unsigned long)r->r13,
	       (unsigned long)r->r14, (unsigned long)r->r15);
	dump_backtrace(r->rip, r->rbp);
	panic_halt();
}

void panic_regs(struct pt_regs *r, const char *fmt, ...)
{
	if (!panic_enter())
		panic_halt();	/* a fault inside the panic path itself */
	va_list ap;
	va_start(ap, fmt);
	panic_dump(r, fmt, ap);
}

void panic(const char *fmt, ...)
{
	struct pt_regs r;

	/* Capture the registers as they are here; the backtrace starts at our
	 * caller. */
	__asm__ __volatile__(
		"movq %%rax, 14*8(%0)\n\tmovq %%rbx, 13*8(%0)\n\tmovq %%rcx, 12*8(%0)\n\t"
		"movq %%rdx, 11*8(%0)\n\tmovq %%rsi, 10*8(%0)\n\tmovq %%rdi, 9*8(%0)\n\t"
		"movq %%r8, 7*8(%0)\n\tmovq %%r9, 6*8(%0)\n\tmovq %%r10, 5*8(%0)\n\t"
		"movq %%r11, 4*8(%0)\n\tmovq %%r12, 3*8(%0)\n\tmovq %%r13, 2*8(%0)\n\t"
		"movq %%r14, 1*8(%0)\n\tmovq %%r15, 0*8(%0)\n\t"
		"movq %%rsp, 20*8(%0)\n\tpushfq\n\tpopq 19*8(%0)\n\t"
		"movw %%cs, 18*8(%0)\n\tmovw %%ss, 21*8(%0)"
		: : "r"(&r) : "memory");
	r.cs &= 0xffff;
	r.ss &= 0xffff;
	r.rbp = ((unsigned long *)read_rbp())[0];
	r.rip = (unsigned long)__builtin_return_address(0);
	r.vector = r.error = 0;
	if (!panic_enter())
		panic_halt();
	va_list ap;
	va_start(ap, fmt);
	panic_dump(&r, fmt, ap);
}
