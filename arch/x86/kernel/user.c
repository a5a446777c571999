/* Ring 3: CPU set-up (SYSCALL MSRs, SMEP/SMAP, FSGSBASE, XSAVE, PCID), the
 * syscall dispatcher behind syscall_64.S, user exceptions, entering user
 * mode and the per-thread state switched with the thread (kernel stack for
 * traps, address space, FPU, FS/GS bases). See lego/user.h. */
#include <lego/user.h>
#include <lego/uspace.h>
#include <lego/uaccess.h>
#include <lego/sched.h>
#include <lego/smp.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/errno.h>
#include <lego/string.h>
#include <asm/cpu.h>
#include <asm/msr.h>
#include <asm/fpu.h>
#include <asm/smap.h>
#include <asm/segment.h>
#include <asm/ptregs.h>
#include <asm/user_regs.h>

#define X86_CR4_FSGSBASE (1ul << 16)
#define X86_CR4_SMEP (1ul << 20)
#define X86_CR4_SMAP (1ul << 21)
#define CPUID7_EBX_FSGSBASE (1u << 0)
#define CPUID7_EBX_SMEP (1u << 7)
#define CPUID7_EBX_SMAP (1u << 20)
#define MSR_CSTAR 0xc0000083

#define RFLAGS_TF (1ul << 8)
#define RFLAGS_IF (1ul << 9)
#define RFLAGS_DF (1ul << 10)
#define RFLAGS_NT (1ul << 14)
#define RFLAGS_AC (1ul << 18)

/* The entry code uses these offsets and relies on one frame layout. */
BUILD_BUG_ON(offsetof(struct cpu_local, user_rsp_scratch) != PCPU_USER_RSP);
BUILD_BUG_ON(offsetof(struct cpu_local, kstack_top) != PCPU_KSTACK_TOP);
BUILD_BUG_ON(sizeof(struct user_regs) != sizeof(struct pt_regs));
BUILD_BUG_ON(sizeof(struct user_regs) != UREGS_SLOTS * 8);
BUILD_BUG_ON(offsetof(struct user_regs, rax) != offsetof(struct pt_regs, rax));
BUILD_BUG_ON(offsetof(struct user_regs, rax) != UREGS_RAX * 8);
BUILD_BUG_ON(offsetof(struct user_regs, vector) != offsetof(struct pt_regs, vector));
BUILD_BUG_ON(offsetof(struct user_regs, rip) != offsetof(struct pt_regs, rip));
BUILD_BUG_ON(offsetof(struct user_regs, rip) != UREGS_RIP * 8);
BUILD_BUG_ON(offsetof(struct user_regs, ss) != offsetof(struct pt_regs, ss));
BUILD_BUG_ON(USER_CS_SEL != (GDT_USER_CS | 3) || USER_DS_SEL != (GDT_USER_DS | 3));

void syscall_entry(void);
void syscall32_entry(void);
void user_enter_frame(struct user_regs *frame) __noreturn;
int syscall_dispatch(struct user_regs *regs);
void user_exception(struct pt_regs *regs);
bool user_access_fault(struct pt_regs *regs, unsigned long cr2);

/* CPU features: decided by the boot CPU, read-only afterwards. */
bool x86_smap_on;
static bool smep_on, fsgsbase_on;
static bool features_decided;

void user_cpu_init(void)
{
	if (!features_decided) {
		u32 a, b, c, d;
		cpuid(0, 0, &a, &b, &c, &d);
		if (a >= 7) {
			cpuid(7, 0, &a, &b, &c, &d);
			smep_on = b & CPUID7_EBX_SMEP;
			x86_smap_on = b & CPUID7_EBX_SMAP;
			fsgsbase_on = b & CPUID7_EBX_FSGSBASE;
		}
		features_decided = true;
	}
	u64 cr4 = read_cr4();
	if (smep_on)
		cr4 |= X86_CR4_SMEP;
	if (x86_smap_on)
		cr4 |= X86_CR4_SMAP;
	if (fsgsbase_on)
		cr4 |= X86_CR4_FSGSBASE;
	write_cr4(cr4);

	/* SYSRET takes CS from STAR[63:48] + 16 and SS from + 8, which is why
	 * the GDT has user 32-bit code, user data, user 64-bit code in that
	 * order (asm/segment.h); SYSCALL takes CS from STAR[47:32], SS + 8. */
	wrmsr(MSR_STAR, ((u64)(GDT_USER_CS32 | 3) << 48) | ((u64)GDT_KERNEL_CS << 32));
	wrmsr(MSR_LSTAR, (u64)syscall_entry);
	wrmsr(MSR_CSTAR, (u64)syscall32_entry);
	wrmsr(MSR_FMASK, RFLAGS_IF | RFLAGS_DF | RFLAGS_TF | RFLAGS_AC | RFLAGS_NT);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);

	fpu_cpu_init();
	uspace_cpu_init();
}

void user_features_report(void);
void user_features_report(void)
{
	pr_info("user: smep %s, smap %s, fsgsbase %s, pcid %s, fpu %s (xcr0 %#lx, %zu bytes)\n",
		smep_on ? "on" : "off", x86_smap_on ? "on" : "off", fsgsbase_on ? "on" : "off",
		uspace_has_pcid() ? "on" : "off", fpu_uses_xsave() ? "xsave" : "fxsave",
		(unsigned long)fpu_xcr0(), fpu_state_size());
}

/* ---- hooks ---- */

static long default_syscall(struct user_regs *regs)
{
	return -ENOSYS;
}

static const char *const user_vector_names[32] = {
	[0] = "divide error", [1] = "debug", [3] = "breakpoint", [4] = "overflow",
	[5] = "bound range", [6] = "invalid opcode", [7] = "device not available",
	[10] = "invalid TSS", [11] = "segment not present", [12] = "stack fault",
	[13] = "general protection", [14] = "page fault", [16] = "x87 error",
	[17] = "alignment check", [19] = "SIMD error", [21] = "control protection",
};

static void user_report(struct user_regs *r, int vector, unsigned long error, unsigned long cr2)
{
	struct thread *t = current;
	const char *name = vector >= 0 && vector < 32 && user_vector_names[vector] ?
		user_vector_names[vector] : "exception";

	printk(KERN_ERR "user fault: thread '%s' (tid %d) %s (vector %d) at user rip %016lx error 0x%lx cr2 %016lx\n",
	       t->name, t->tid, name, vector, (unsigned long)r->rip, error, cr2);
	printk(KERN_ERR "user fault: RSP %016lx RFLAGS %016lx RAX %016lx RBX %016lx\n",
	       (unsigned long)r->rsp, (unsigned long)r->rflags, (unsigned long)r->rax,
	       (unsigned long)r->rbx);
	printk(KERN_ERR "user fault: RCX %016lx RDX %016lx RSI %016lx RDI %016lx\n",
	       (unsigned long)r->rcx, (unsigned long)r->rdx, (unsigned long)r->rsi,
	       (unsigned long)r->rdi);
	printk(KERN_ERR "user fault: RBP %016lx R8  %016lx R9  %016lx R10 %016lx\n",
	       (unsigned long)r->rbp, (unsigned long)r->r8, (unsigned long)r->r9,
	       (unsigned long)r->r10);
	printk(KERN_ERR "user fault: R11 %016lx R12 %016lx R13 %016lx R14 %016lx R15 %016lx\n",
	       (unsigned long)r->r11, (unsigned long)r->r12, (unsigned long)r->r13,
	       (unsigned long)r->r14, (unsigned long)r->r15);
}

static int default_fault(struct user_regs *r, int vector, unsigned long error, unsigned long cr2)
{
	user_report(r, vector, error, cr2);
	printk(KERN_ERR "user fault: killing thread '%s'\n", current->name);
	return -EFAULT;
}

static const struct user_ops builtin_ops = {
	.syscall = default_syscall,
	.fault = default_fault,
};

/* Set by the processor monitor at start (user_set_default_ops); read
 * without a lock, a pointer store being atomic. */
static const struct user_ops *default_ops = &builtin_ops;

void user_set_default_ops(const struct user_ops *ops)
{
	WRITE_ONCE(default_ops, ops ? ops : &builtin_ops);
}

const struct user_ops *user_default_ops(void)
{
	return READ_ONCE(default_ops);
}

bool user_default_ops_builtin(void)
{
	return user_default_ops() == &builtin_ops;
}

static const struct user_ops *ops_of(struct user_thread *u)
{
	return u->ops ? u->ops : user_default_ops();
}

/* ---- thread state ---- */

unsigned long thread_stack_top(const struct thread *t)
{
	return (unsigned long)t->stack + t->stack_size;
}

static unsigned long fs_base_read(void)
{
	if (fsgsbase_on) {
		unsigned long v;
		__asm__ __volatile__("rdfsbase %0" : "=r"(v));
		return v;
	}
	return rdmsr(MSR_FS_BASE);
}

static void fs_base_write(unsigned long v)
{
	if (fsgsbase_on)
		__asm__ __volatile__("wrfsbase %0" : : "r"(v) : "memory");
	else
		wrmsr(MSR_FS_BASE, v);
}

/* Load u's registers on this CPU; interrupts off. In the kernel the user
 * GS base sits in MSR_KERNEL_GS_BASE (swapgs exchanged it). */
static void user_state_load(struct user_thread *u)
{
	uspace_switch(u->us);
	fpu_restore(u->fpu);
	fs_base_write(u->fs_base);
	wrmsr(MSR_KERNEL_GS_BASE, u->gs_base);
}

void user_switch(struct thread *prev, struct thread *next)
{
	struct cpu_local *c = this_cpu();

	if (prev->user) {
		struct user_thread *u = prev->user;
		fpu_save(u->fpu);
		u->fs_base = fs_base_read();
		u->gs_base = rdmsr(MSR_KERNEL_GS_BASE);
	}
	unsigned long top = thread_stack_top(next);
	c->arch.tss.rsp[0] = top;
	c->kstack_top = top;
	if (next->user)
		user_state_load(next->user);
	else
		uspace_switch(NULL);
}

int user_thread_setup(struct uspace *us, const struct user_ops *ops)
{
	struct thread *t = current;

	if (t->user)
		return -EBUSY;
	struct user_thread *u = kzalloc(sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->fpu = fpu_state_alloc(&u->fpu_alloc);
	if (!u->fpu) {
		kfree(u);
		return -ENOMEM;
	}
	uspace_get(us);
	u->us = us;
	u->ops = ops;

	unsigned long f = local_irq_save();
	t->user = u;
	/* The switch into this thread set rsp0 already; the rest is new. */
	user_state_load(u);
	local_irq_restore(f);
	return 0;
}

void user_thread_free(struct thread *t)
{
	struct user_thread *u = t->user;

	t->user = NULL;
	uspace_put(u->us);
	kfree(u->fpu_alloc);
	kfree(u);
}

void user_enter(unsigned long entry, unsigned long rsp)
{
	struct thread *t = current;
	struct user_regs f;

	if (!t->user)
		panic("user_enter from thread '%s' without a user address space", t->name);
	/* IRETQ to a kernel or non-canonical address would fault in ring 0. */
	if (entry >= USER_TOP || !user_canonical(rsp)) {
		printk(KERN_ERR "user: thread '%s': bad entry %#lx or stack %#lx\n", t->name, entry, rsp);
		user_kill(-EFAULT);
	}
	memset(&f, 0, sizeof(f));
	f.rip = entry;
	f.cs = USER_CS_SEL;
	f.rflags = user_rflags_sanitize(0);
	f.rsp = rsp;
	f.ss = USER_DS_SEL;
	local_irq_disable();
	/* Fresh FPU state: the initial image, not whatever ran before. */
	fpu_state_init(t->user->fpu);
	fpu_restore(t->user->fpu);
	user_enter_frame(&f);
}

void user_enter_regs(const struct user_regs *regs)
{
	struct thread *t = current;
	struct user_regs f = *regs;

	if (!t->user)
		panic("user_enter_regs from thread '%s' without a user address space", t->name);
	if (f.rip >= USER_TOP || !user_canonical(f.rsp)) {
		printk(KERN_ERR "user: thread '%s': bad entry %#lx or stack %#lx\n", t->name,
		       (unsigned long)f.rip, (unsigned long)f.rsp);
		user_kill(-EFAULT);
	}
	f.cs = USER_CS_SEL;
	f.ss = USER_DS_SEL;
	f.rflags = user_rflags_sanitize(f.rflags);
	local_irq_disable();
	fpu_state_init(t->user->fpu);
	fpu_restore(t->user->fpu);
	user_enter_frame(&f);
}

void user_kill(int code)
{
	thread_exit(code);
}

void user_regs_request_iret(void)
{
	if (current->user)
		current->user->full_restore = true;
}

unsigned long user_fs_base(void)
{
	return current->user ? fs_base_read() : 0;
}

long arch_prctl_user(int code, unsigned long addr)
{
	struct user_thread *u = current->user;
	unsigned long v;

	if (!u)
		return -EINVAL;
	switch (code) {
	case ARCH_SET_FS:
	case ARCH_SET_GS:
		if (addr >= USER_TOP)
			return -EPERM;
		unsigned long f = local_irq_save();
		if (code == ARCH_SET_FS) {
			u->fs_base = addr;
			fs_base_write(addr);
		} else {
			u->gs_base = addr;
			wrmsr(MSR_KERNEL_GS_BASE, addr);
		}
		local_irq_restore(f);
		return 0;
	case ARCH_GET_FS:
		v = fs_base_read();
		return copy_to_user((void *)addr, &v, sizeof(v));
	case ARCH_GET_GS:
		v = rdmsr(MSR_KERNEL_GS_BASE);
		return copy_to_user((void *)addr, &v, sizeof(v));
	default:
		return -EINVAL;
	}
}

/* ---- entries from ring 3 ---- */

/* A fault of the running user thread: the hook resolves it or the thread
 * dies. Interrupts on while the hook runs (it may fetch a page). */
static void user_fault_call(struct user_regs *regs, int vector, unsigned long error, unsigned long cr2)
{
	struct user_thread *u = current->user;

	local_irq_enable();
	int r = ops_of(u)->fault(regs, vector, error, cr2);
	if (r)
		user_kill(r);
	local_irq_disable();
}

/* Called by syscall_64.S with interrupts on. Nonzero: return by iretq. */
int syscall_dispatch(struct user_regs *regs)
{
	struct user_thread *u = current->user;

	if (!u)
		panic("syscall from thread '%s' that has no user state", current->name);
	if (regs->vector == USER_VEC_SYSCALL32) {
		/* Not part of the ABI; what Intel CPUs do with it. */
		user_fault_call(regs, 6, 0, 0);
		u->full_restore = true;
	} else {
		u->full_restore = false;
		regs->rax = ops_of(u)->syscall(regs);
	}
	/* The hook may have rewritten the frame: only a 64-bit user return
	 * with harmless flags may leave, and never a kernel or
	 * non-canonical rip (SYSRET or IRET would fault in ring 0). */
	regs->cs = USER_CS_SEL;
	regs->ss = USER_DS_SEL;
	regs->rflags = user_rflags_sanitize(regs->rflags);
	if (regs->rip >= USER_TOP || !user_canonical(regs->rsp)) {
		user_fault_call(regs, 13, 0, 0);
		if (regs->rip >= USER_TOP || !user_canonical(regs->rsp))
			user_kill(-EFAULT);
		u->full_restore = true;
	}
	return u->full_restore || !user_sysret_ok(regs->rip, regs->cs, regs->ss, regs->rflags);
}

/* An exception taken in ring 3 (traps.c); interrupts off. */
void user_irq_exit(struct pt_regs *pregs)
{
	struct thread *t = current;

	if (!t->user || !t->user->ops || !t->user->ops->interrupted)
		return;
	/* The thread's own kernel stack with nothing of the kernel's below
	 * the frame: it may sleep (and never come back, to exit). */
	local_irq_enable();
	t->user->ops->interrupted((struct user_regs *)pregs);
	local_irq_disable();
}

void user_exception(struct pt_regs *pregs)
{
	struct user_regs *regs = (struct user_regs *)pregs;
	unsigned long cr2 = read_cr2();	/* before anything can fault again */

	if (!current->user)
		panic_regs(pregs, "exception %d in ring 3 in thread '%s' without user state",
			   (int)regs->vector, current->name);
	user_fault_call(regs, (int)regs->vector, regs->error, regs->vector == 14 ? cr2 : 0);
}

/* A kernel fault at an exception-table instruction (traps.c); interrupts
 * off. A page fault on a user address first goes to the access_fault hook,
 * which may map the page; otherwise the copy resumes at its fixup. */
bool user_access_fault(struct pt_regs *regs, unsigned long cr2)
{
	unsigned long fixup = extable_fixup(regs->rip);
	if (!fixup)
		return false;
	struct user_thread *u = current ? current->user : NULL;
	/* The hook may sleep: not under a spinlock or with interrupts off. */
	bool may_sleep = this_cpu()->preempt_count == 0 && (regs->rflags & X86_RFLAGS_IF);
	if (regs->vector == 14 && cr2 < USER_TOP && u && ops_of(u)->access_fault && may_sleep) {
		local_irq_enable();
		int r = ops_of(u)->access_fault(cr2, regs->error);
		local_irq_disable();
		if (r == 0)
			return true;
	}
	regs->rip = fixup;
	return true;
}
