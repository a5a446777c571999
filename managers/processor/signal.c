/* Signals (Linux x86-64 semantics, issue 8): rt_sigaction, rt_sigprocmask,
 * sigaltstack, rt_sigreturn with the kernel's rt_sigframe layout, kill,
 * tgkill, default actions, handlers run on return to ring 3 (after a
 * syscall, an interrupt or a fault), SIGCHLD, SIGPIPE, SIGSEGV from
 * faults, EINTR for sleeping calls, alarm and setitimer(ITIMER_REAL).
 *
 * State: the actions (struct proc.sig) and the process-wide pending set
 * are under proc->lock; a thread's blocked mask is the thread's own. A
 * signal goes to the process; the first thread that returns to ring 3
 * with it unblocked runs the handler (Linux picks a thread the same way).
 * The interrupted FPU state stays in the kernel (a small per-thread
 * stack) rather than in the user frame, so a handler cannot corrupt what
 * XRSTOR loads; the frame's fpstate pointer is NULL. */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/sched.h>
#include <lego/smp.h>
#include <lego/string.h>
#include <lego/time.h>
#include <lego/uaccess.h>
#include <lego/user.h>
#include <lego/workqueue.h>
#include <asm/cpu.h>
#include <asm/fpu.h>
#include "proc.h"
#include "futex.h"
#include "signal.h"

#define SIG_DFL 0
#define SIG_IGN 1
#define SA_SIGINFO 0x4
#define SA_RESTART 0x10000000
#define SA_ONSTACK 0x08000000
#define SA_RESTORER 0x04000000
#define SA_NODEFER 0x40000000
#define SA_RESETHAND 0x80000000
#define SS_ONSTACK 1
#define SS_DISABLE 2

#define BIT(sig) (1ull << ((sig) - 1))
#define UNBLOCKABLE (BIT(SIGKILL) | BIT(SIGSTOP))

#define ksigaction sig_action

struct kstack {
	u64 sp;
	s32 flags;
	u32 pad;
	u64 size;
};

struct ksigcontext {
	u64 r8, r9, r10, r11, r12, r13, r14, r15;
	u64 rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
	u16 cs, gs, fs, ss;
	u64 err, trapno, oldmask, cr2;
	u64 fpstate;
	u64 reserved[8];
};

struct kucontext {
	u64 flags;
	u64 link;
	struct kstack stack;
	struct ksigcontext mc;
	u64 sigmask;
};

struct ksiginfo {
	s32 signo, errno_, code, pad;
	union {
		struct { s32 pid; u32 uid; } kill;
		struct { s32 pid; u32 uid; s32 status; s64 utime, stime; } chld;
		struct { u64 addr; } fault;
		u8 raw[112];
	};
};

struct rt_sigframe {
	u64 pretcode;
	struct kucontext uc;
	struct ksiginfo info;
};

_Static_assert(sizeof(struct ksigcontext) == 256, "Linux sigcontext");
_Static_assert(sizeof(struct kucontext) == 304, "Linux ucontext");
_Static_assert(sizeof(struct ksiginfo) == 128, "Linux siginfo");

/* What a signal does by default. */
static bool default_ignored(int sig)
{
	return sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT ||
	       sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

bool signal_pending(struct proc *p)
{
	struct pthr *t = pthr_current();
	u64 blocked = t && t->p == p ? t->sigmask : 0;
	return (__atomic_load_n(&p->sig_pending, __ATOMIC_ACQUIRE) & ~blocked) || p->exiting;
}

void signal_send(struct proc *p, int sig)
{
	if (sig < 1 || sig > 64)
		return;
	spin_lock(&p->lock);
	u64 h = p->sig[sig - 1].handler;
	bool ignore = h == SIG_IGN || (h == SIG_DFL && default_ignored(sig));
	bool fatal = sig == SIGKILL || (h == SIG_DFL && !default_ignored(sig));
	if (!ignore && !fatal)
		p->sig_pending |= BIT(sig);
	spin_unlock(&p->lock);
	if (fatal)
		proc_exit_group(p, (u32)sig);
	else if (!ignore)
		proc_wake_sleepers(p);
}

/* Build the frame for sig on the user stack and point regs at the
 * handler. ret: the value the interrupted syscall returned (its rax). */
static int setup_frame(struct proc *p, struct pthr *t, struct user_regs *r, int sig,
		       const struct ksigaction *ka, const struct ksiginfo *info)
{
	u64 sp = r->rsp;

	if ((ka->flags & SA_ONSTACK) && t->altstack_size && !(sp > t->altstack_sp &&
	    sp <= t->altstack_sp + t->altstack_size))
		sp = t->altstack_sp + t->altstack_size;
	else
		sp -= 128;	/* the red zone */
	sp -= sizeof(struct rt_sigframe);
	sp = (sp & ~15ull) - 8;	/* as after a call: (rsp + 8) % 16 == 0 */
	if (!(ka->flags & SA_RESTORER) || !ka->restorer)
		return -EFAULT;	/* x86-64 needs the libc's restorer */
	if (t->nfpu == SIG_NEST_MAX)
		return -EFAULT;

	struct rt_sigframe f;
	memset(&f, 0, sizeof(f));
	f.pretcode = ka->restorer;
	f.uc.stack = (struct kstack){ t->altstack_sp,
				      t->altstack_size ? 0 : SS_DISABLE, 0, t->altstack_size };
	struct ksigcontext *m = &f.uc.mc;
	m->r8 = r->r8, m->r9 = r->r9, m->r10 = r->r10, m->r11 = r->r11;
	m->r12 = r->r12, m->r13 = r->r13, m->r14 = r->r14, m->r15 = r->r15;
	m->rdi = r->rdi, m->rsi = r->rsi, m->rbp = r->rbp, m->rbx = r->rbx;
	m->rdx = r->rdx, m->rax = r->rax, m->rcx = r->rcx, m->rsp = r->rsp;
	m->rip = r->rip, m->eflags = r->rflags;
	m->cs = (u16)r->cs, m->ss = (u16)r->ss;
	m->err = r->error, m->trapno = r->vector;
	/* rt_sigsuspend's caller gets its own mask back, not the suspend one. */
	u64 restore = t->frame_mask_set ? t->frame_mask : t->sigmask;
	t->frame_mask_set = false;
	m->oldmask = restore;
	f.uc.sigmask = restore;
	f.info = *info;
	if (copy_to_user((void *)sp, &f, sizeof(f)))
		return -EFAULT;

	/* The FPU state of the interrupted code, kept for rt_sigreturn. */
	void *raw;
	void *area = fpu_state_alloc(&raw);
	if (!area)
		return -EFAULT;
	unsigned long fl = local_irq_save();
	fpu_save(area);
	local_irq_restore(fl);
	t->fpu[t->nfpu] = (struct sig_fpu){ area, raw, sp };
	t->nfpu++;

	r->rdi = (u64)sig;
	r->rsi = sp + offsetof(struct rt_sigframe, info);
	r->rdx = sp + offsetof(struct rt_sigframe, uc);
	r->rax = 0;
	r->rsp = sp;
	r->rip = ka->handler;
	r->rflags &= ~(1ull << 10);	/* DF clear, as the ABI wants on entry */
	t->sigmask |= ka->mask | (ka->flags & SA_NODEFER ? 0 : BIT(sig));
	t->sigmask &= ~UNBLOCKABLE;
	user_regs_request_iret();
	return 0;
}

bool signal_deliver(struct proc *p, struct user_regs *r)
{
	return signal_deliver_restart(p, r, -1);
}

/* Syscalls Linux restarts after a handler installed with SA_RESTART. */
static bool restartable(long nr)
{
	switch (nr) {
	case 0: case 1: case 17: case 18: case 19: case 20:	/* read/write family */
	case 61: case 202: case 40:		/* wait4, futex, sendfile */
		return true;
	default:
		return false;
	}
}

bool signal_deliver_restart(struct proc *p, struct user_regs *r, long nr)
{
	struct pthr *t = pthr_current();

	if (!t || !(__atomic_load_n(&p->sig_pending, __ATOMIC_ACQUIRE) & ~t->sigmask))
		return false;
	spin_lock(&p->lock);
	u64 ready = p->sig_pending & ~t->sigmask;
	int sig = ready ? __builtin_ctzll(ready) + 1 : 0;
	struct ksigaction ka = { 0 };
	struct ksiginfo info;
	memset(&info, 0, sizeof(info));
	if (sig) {
		p->sig_pending &= ~BIT(sig);
		ka = p->sig[sig - 1];
		if (ka.flags & SA_RESETHAND)
			p->sig[sig - 1].handler = SIG_DFL;
	}
	spin_unlock(&p->lock);
	if (!sig)
		return false;
	if (ka.handler == SIG_IGN)
		return false;
	if (ka.handler == SIG_DFL) {	/* changed after it was queued */
		if (!default_ignored(sig))
			proc_exit_group(p, (u32)sig);
		return false;
	}
	info.signo = sig;
	/* An interrupted syscall that SA_RESTART restarts: the frame resumes
	 * at its syscall instruction (2 bytes back) with its number in rax. */
	if (nr >= 0 && (long)r->rax == -EINTR && (ka.flags & SA_RESTART) && restartable(nr)) {
		r->rax = (u64)nr;
		r->rip -= 2;
	}
	if (setup_frame(p, t, r, sig, &ka, &info) < 0) {
		/* No room or no restorer: Linux kills with SIGSEGV. */
		proc_exit_group(p, 11);
	}
	return true;
}

bool signal_fault(struct proc *p, struct user_regs *r, int sig, u64 addr)
{
	struct pthr *t = pthr_current();

	spin_lock(&p->lock);
	struct ksigaction ka = p->sig[sig - 1];
	bool run = ka.handler > SIG_IGN && !(t->sigmask & BIT(sig));
	if (run && (ka.flags & SA_RESETHAND))
		p->sig[sig - 1].handler = SIG_DFL;
	spin_unlock(&p->lock);
	if (!run)
		return false;
	struct ksiginfo info;
	memset(&info, 0, sizeof(info));
	info.signo = sig;
	info.code = 1;		/* SEGV_MAPERR and the like */
	info.fault.addr = addr;
	return setup_frame(p, t, r, sig, &ka, &info) == 0;
}

static long sys_rt_sigreturn(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct pthr *t = pthr_current();
	struct rt_sigframe f;
	u64 sp = r->rsp - 8;	/* the handler's ret popped pretcode */

	if (copy_from_user(&f, (const void *)sp, sizeof(f))) {
		proc_exit_group(p, 11);
		return -EFAULT;
	}
	const struct ksigcontext *m = &f.uc.mc;
	r->r8 = m->r8, r->r9 = m->r9, r->r10 = m->r10, r->r11 = m->r11;
	r->r12 = m->r12, r->r13 = m->r13, r->r14 = m->r14, r->r15 = m->r15;
	r->rdi = m->rdi, r->rsi = m->rsi, r->rbp = m->rbp, r->rbx = m->rbx;
	r->rdx = m->rdx, r->rcx = m->rcx, r->rsp = m->rsp, r->rip = m->rip;
	/* Only the arithmetic flags, DF, TF and AC come from the frame. */
	r->rflags = (r->rflags & ~0x40dd5ull) | (m->eflags & 0x40dd5ull);
	t->sigmask = f.uc.sigmask & ~UNBLOCKABLE;
	/* The FPU state saved when this frame was built (the newest one at
	 * or below this frame; frames of handlers that longjmp'ed away are
	 * dropped). */
	while (t->nfpu && t->fpu[t->nfpu - 1].sp < sp) {
		t->nfpu--;
		kfree(t->fpu[t->nfpu].raw);
	}
	if (t->nfpu) {
		t->nfpu--;
		unsigned long fl = local_irq_save();
		fpu_restore(t->fpu[t->nfpu].area);
		local_irq_restore(fl);
		kfree(t->fpu[t->nfpu].raw);
	}
	user_regs_request_iret();
	return (long)m->rax;	/* the interrupted code's rax */
}

static long sys_rt_sigaction(struct user_regs *r)
{
	struct proc *p = proc_current();
	int sig = (int)r->rdi;
	struct ksigaction ka, old;

	if (r->r10 != 8)
		return -EINVAL;
	if (sig < 1 || sig > 64)
		return -EINVAL;
	if (r->rsi && copy_from_user(&ka, (const void *)r->rsi, sizeof(ka)))
		return -EFAULT;
	if (r->rsi && (sig == SIGKILL || sig == SIGSTOP))
		return -EINVAL;
	spin_lock(&p->lock);
	old = p->sig[sig - 1];
	if (r->rsi) {
		ka.mask &= ~UNBLOCKABLE;
		p->sig[sig - 1] = ka;
		/* Setting SIG_IGN (or a default that ignores) discards it. */
		if (ka.handler == SIG_IGN || (ka.handler == SIG_DFL && default_ignored(sig)))
			p->sig_pending &= ~BIT(sig);
	}
	spin_unlock(&p->lock);
	if (r->rdx && copy_to_user((void *)r->rdx, &old, sizeof(old)))
		return -EFAULT;
	return 0;
}

static long sys_rt_sigprocmask(struct user_regs *r)
{
	struct pthr *t = pthr_current();
	u64 set;

	if (r->r10 != 8)
		return -EINVAL;
	u64 old = t->sigmask;
	if (r->rsi) {
		if (copy_from_user(&set, (const void *)r->rsi, 8))
			return -EFAULT;
		switch (r->rdi) {
		case 0: t->sigmask |= set; break;	/* SIG_BLOCK */
		case 1: t->sigmask &= ~set; break;	/* SIG_UNBLOCK */
		case 2: t->sigmask = set; break;	/* SIG_SETMASK */
		default: return -EINVAL;
		}
		t->sigmask &= ~UNBLOCKABLE;
	}
	if (r->rdx && copy_to_user((void *)r->rdx, &old, 8))
		return -EFAULT;
	return 0;
}

static long sys_rt_sigpending(struct user_regs *r)
{
	struct proc *p = proc_current();
	u64 pend = __atomic_load_n(&p->sig_pending, __ATOMIC_ACQUIRE) & pthr_current()->sigmask;
	if (r->rsi != 8)
		return -EINVAL;
	return copy_to_user((void *)r->rdi, &pend, 8) ? -EFAULT : 0;
}

static long sys_rt_sigsuspend(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct pthr *t = pthr_current();
	u64 set;

	if (r->rsi != 8)
		return -EINVAL;
	if (copy_from_user(&set, (const void *)r->rdi, 8))
		return -EFAULT;
	u64 old = t->sigmask;
	t->sigmask = set & ~UNBLOCKABLE;
	while (!signal_pending(p))
		sched_block_until(ktime_ns() + 100000000ull);
	/* The handler runs with the suspend mask; its frame restores the
	 * old one (Linux's saved_sigmask). */
	t->frame_mask = old;
	t->frame_mask_set = true;
	if (!signal_deliver(p, r)) {
		t->frame_mask_set = false;
		t->sigmask = old;
	}
	return -EINTR;
}

static long sys_sigaltstack(struct user_regs *r)
{
	struct pthr *t = pthr_current();
	struct kstack ns, os = { t->altstack_sp, t->altstack_size ? 0 : SS_DISABLE, 0,
				 t->altstack_size };

	if (r->rsi && copy_to_user((void *)r->rsi, &os, sizeof(os)))
		return -EFAULT;
	if (r->rdi) {
		if (copy_from_user(&ns, (const void *)r->rdi, sizeof(ns)))
			return -EFAULT;
		if (ns.flags & SS_DISABLE) {
			t->altstack_sp = 0;
			t->altstack_size = 0;
		} else {
			if (ns.size < 2048)
				return -ENOMEM;
			t->altstack_sp = ns.sp;
			t->altstack_size = ns.size;
		}
	}
	return 0;
}

/* ---- alarm, setitimer(ITIMER_REAL) ---- */

/* The timer fires in interrupt context: sending needs a thread. */
static void alarm_work(struct work *w)
{
	struct proc *p = container_of(w, struct proc, alarm_work);

	signal_send(p, SIGALRM);
	proc_put(p);
}

static void alarm_fire(struct timer *tm)
{
	struct proc *p = container_of(tm, struct proc, alarm_timer);

	if (!queue_work(system_wq, &p->alarm_work))
		proc_put(p);
}

/* Arm (ns > 0) or cancel p's alarm; returns the ns that were left.
 * (setitimer's interval is not repeated: one shot.) */
static u64 alarm_set(struct proc *p, u64 ns)
{
	u64 now = ktime_ns(), left = 0;

	spin_lock(&p->lock);
	if (p->alarm_at > now)
		left = p->alarm_at - now;
	bool was = p->alarm_at != 0;
	p->alarm_at = ns ? now + ns : 0;
	spin_unlock(&p->lock);
	if (was && timer_cancel(&p->alarm_timer))
		proc_put(p);
	if (ns) {
		proc_get(p);	/* the armed timer's */
		timer_arm(&p->alarm_timer, now + ns);
	}
	return left;
}

static long sys_alarm(struct user_regs *r)
{
	u64 left = alarm_set(proc_current(), r->rdi * 1000000000ull);
	return (long)((left + 999999999ull) / 1000000000ull);
}

struct kitimerval {
	s64 isec, iusec, sec, usec;
};

static long sys_setitimer(struct user_regs *r)
{
	struct kitimerval nv, ov;

	if (r->rdi != 0)	/* ITIMER_REAL only */
		return -EINVAL;
	memset(&nv, 0, sizeof(nv));
	if (r->rsi && copy_from_user(&nv, (const void *)r->rsi, sizeof(nv)))
		return -EFAULT;
	u64 ns = (u64)nv.sec * 1000000000ull + (u64)nv.usec * 1000ull;
	u64 left = alarm_set(proc_current(), ns);
	memset(&ov, 0, sizeof(ov));
	ov.sec = (s64)(left / 1000000000ull);
	ov.usec = (s64)(left % 1000000000ull / 1000);
	if (r->rdx && copy_to_user((void *)r->rdx, &ov, sizeof(ov)))
		return -EFAULT;
	return 0;
}

void signal_proc_init(struct proc *p)
{
	p->alarm_timer.fn = alarm_fire;
	p->alarm_timer.cpu = -1;
	INIT_LIST_HEAD(&p->alarm_timer.node);
	work_init(&p->alarm_work, alarm_work);
}

void signal_proc_exit(struct proc *p)
{
	alarm_set(p, 0);
}

void signal_thread_exit(struct pthr *t)
{
	while (t->nfpu) {
		t->nfpu--;
		kfree(t->fpu[t->nfpu].raw);
	}
}

/* fork: the child has the parent's actions, nothing pending. */
void signal_fork(struct proc *child, struct proc *parent)
{
	spin_lock(&parent->lock);
	memcpy(child->sig, parent->sig, sizeof(child->sig));
	spin_unlock(&parent->lock);
}

/* execve: handlers go back to the default; ignored stays ignored. */
void signal_exec(struct proc *p)
{
	spin_lock(&p->lock);
	for (int i = 0; i < 64; i++)
		if (p->sig[i].handler > SIG_IGN)
			memset(&p->sig[i], 0, sizeof(p->sig[i]));
	spin_unlock(&p->lock);
	struct pthr *t = pthr_current();
	signal_thread_exit(t);
	t->altstack_sp = 0;
	t->altstack_size = 0;
}

void signal_init(void)
{
	sys_register(13, sys_rt_sigaction);
	sys_register(14, sys_rt_sigprocmask);
	sys_register(15, sys_rt_sigreturn);
	sys_register(127, sys_rt_sigpending);
	sys_register(130, sys_rt_sigsuspend);
	sys_register(131, sys_sigaltstack);
	sys_register(37, sys_alarm);
	sys_register(38, sys_setitimer);	/* partial: ITIMER_REAL only, no repeat */
}
