/* The Linux syscall shim of the processor monitor (paper §4.3.3, §5): the
 * table, the entry and fault hooks of user threads, and what a fault
 * means: an ExCache miss (§4.3.2), a stack that grows, or a signal that
 * ends the process (SIGSEGV for a bad access, SIGILL, SIGFPE...).
 *
 * The table is filled once at boot by the sys_*.c files (sys_register),
 * read-only afterwards: no lock. An unknown syscall returns -ENOSYS and is
 * logged once per number (unknown_seen, atomic bit operations). */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/sched.h>
#include <lego/string.h>
#include <lego/user.h>
#include <lego/uspace.h>
#include <uapi/lego/memory.h>
#include "proc.h"
#include "sys_file.h"
#include "pipe.h"

sys_fn_t sys_table[NR_SYSCALLS];
static u64 unknown_seen[(NR_SYSCALLS + 63) / 64];

void sys_register(unsigned nr, sys_fn_t fn)
{
	if (nr < NR_SYSCALLS)
		sys_table[nr] = fn;
}

/* A signal to handle on the way back: the frame keeps the syscall's
 * result as the interrupted rax; the handler starts with rax 0. */
static long after_syscall(struct proc *p, struct user_regs *r, long v)
{
	if (!(__atomic_load_n(&p->sig_pending, __ATOMIC_ACQUIRE) & ~pthr_current()->sigmask))
		return v;
	r->rax = (u64)v;
	return signal_deliver_restart(p, r, (long)r->error) ? 0 : v;
}

/* A syscall of a process run with --strace: reported to the client after
 * it returned, or before when it does not return (exit, exit_group). */
static long traced_syscall(struct proc *p, struct user_regs *r, u64 nr)
{
	const u64 args[6] = { r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9 };
	long v;

	if (nr == 60 || nr == 231)
		strace_report(p, args, nr, 0, true);
	if (nr < NR_SYSCALLS && sys_table[nr]) {
		v = sys_table[nr](r);
	} else {
		v = -ENOSYS;
	}
	/* execve: a zero return means the new program starts on return. */
	strace_report(p, args, nr, v, nr == 59 && v == 0);
	if (p->exiting)
		proc_thread_exit(0);
	return after_syscall(p, r, v);
}

static long proc_syscall(struct user_regs *r)
{
	struct proc *p = proc_current();
	u64 nr = r->error;

	if (p->exiting)
		proc_thread_exit(0);
	if (p->run_flags & LEGO_PROC_RUN_STRACE)
		return traced_syscall(p, r, nr);
	if (nr < NR_SYSCALLS && sys_table[nr]) {
		long v = sys_table[nr](r);
		if (p->exiting)
			proc_thread_exit(0);
		return after_syscall(p, r, v);
	}
	if (nr < NR_SYSCALLS &&
	    !(__atomic_fetch_or(&unknown_seen[nr / 64], 1ull << (nr % 64), __ATOMIC_RELAXED) &
	      (1ull << (nr % 64))))
		pr_warn("processor: pid %d (%s): syscall %llu not implemented (-ENOSYS; logged "
			"once)\n", p->pid, p->exe, (unsigned long long)nr);
	return -ENOSYS;
}

/* addr lies below a stack vma (MAP_GROWSDOWN) within the stack limit: the
 * owner grows the vma on a fetch (as Linux on a fault); then the layout
 * copy learns it. 0 when the stack now covers addr. */
static int grow_stack(struct proc *p, u64 addr)
{
	const u64 limit = 8ull << 20;	/* RLIMIT_STACK's default */
	bool below = false;

	spin_lock(&p->va_lock);
	for (u32 i = 0; i < p->layout.n; i++) {
		const struct prange *l = &p->layout.r[i];
		if (l->start > addr) {
			below = (l->flags & LEGO_MEM_VMA_GROWSDOWN) && l->end - addr <= limit;
			break;
		}
	}
	spin_unlock(&p->va_lock);
	if (!below)
		return -EFAULT;
	mutex_lock(&p->mm_lock);
	struct rpc_endpoint owner;
	int r = -EFAULT;
	spin_lock(&p->va_lock);
	if (p->va.shift) {
		struct vregion *v = vregion_find(&p->va, (u32)(addr >> p->va.shift));
		if (v) {
			owner = (struct rpc_endpoint){ v->owner_ip, v->owner_port };
			r = 0;
		}
	}
	spin_unlock(&p->va_lock);
	if (r == 0) {
		struct lego_mem_page_req q;
		u8 *page = kmalloc(LEGO_PAGE_SIZE);
		u32 got;
		memset(&q, 0, sizeof(q));
		q.mm = p->mm;
		q.addr = addr & ~(u64)(LEGO_PAGE_SIZE - 1);
		q.access = LEGO_MEM_ACCESS_WRITE;
		r = page ? rpc_call(&owner, LEGO_OP_MEM_PAGE_FETCH, &q, sizeof(q), page,
				    LEGO_PAGE_SIZE, &got, 0) : -ENOMEM;
		kfree(page);
		if (r >= 0)
			r = proc_layout_refresh(p);
	}
	mutex_unlock(&p->mm_lock);
	return r < 0 ? r : 0;
}

/* A user page fault: the ExCache's business, or a stack to grow. */
static int user_page_fault(struct proc *p, u64 addr, bool write, bool exec)
{
	int r = excache_fault(&p->xc, addr, write, exec);
	if (r == -EFAULT && grow_stack(p, addr) == 0)
		r = excache_fault(&p->xc, addr, write, exec);
	return r;
}

static int proc_fault(struct user_regs *r, int vector, unsigned long error, unsigned long cr2)
{
	struct proc *p = proc_current();
	int sig;
	int e = 0;

	if (p->exiting)
		proc_thread_exit(0);
	switch (vector) {
	case 14:	/* #PF */
		e = user_page_fault(p, cr2, error & 2, error & 0x10);
		if (e == 0)
			return 0;
		sig = SIGSEGV;
		break;
	case 0:		/* #DE */
	case 16:	/* #MF */
	case 19:	/* #XM */
		sig = SIGFPE;
		break;
	case 6:		/* #UD */
		sig = SIGILL;
		break;
	case 1:
	case 3:
		sig = SIGTRAP;
		break;
	case 17:	/* #AC */
		sig = SIGBUS;
		break;
	default:	/* #GP, #SS, #NP... */
		sig = SIGSEGV;
		break;
	}
	if (signal_fault(p, r, sig, cr2))
		return 0;	/* its handler runs */
	pr_info("processor: pid %d (%s) tid %d: signal %d: vector %d error %#lx at rip %#llx, "
		"address %#lx%s%s\n", p->pid, p->exe, pthr_current()->tid, sig, vector, error,
		(unsigned long long)r->rip, cr2, e == -EHOSTUNREACH ? " (memory node unreachable)"
		: e == -ENOMEM ? " (out of memory)" : "",
		e == -EACCES ? " (access not allowed)" : "");
	proc_exit_group(p, (u32)sig);
	return 1;
}

/* copy_from_user and friends touched a user page the ExCache does not
 * hold: fill it as the user access would. */
static int proc_access_fault(unsigned long addr, unsigned long error)
{
	struct proc *p = proc_current();

	if (!p)
		return -EFAULT;
	return user_page_fault(p, addr, error & 2, false) ? -EFAULT : 0;
}

/* A kill or exit_group of the process reaches a thread that spins in
 * ring 3 here (the killer sends a reschedule IPI to every CPU). */
static void proc_interrupted(struct user_regs *r)
{
	struct proc *p = proc_current();

	if (p && p->exiting)
		proc_thread_exit(0);
	if (p)
		signal_deliver(p, r);
}

const struct user_ops proc_user_ops = { proc_syscall, proc_fault, proc_access_fault,
					proc_interrupted };

void syscall_init(void)
{
	user_set_default_ops(&proc_user_ops);
	sys_basic_init();
	sys_mm_init();
	sys_file_init();
	sys_thread_init();
	sys_proc_init();
	pipe_init();
	signal_init();
	poll_init();
}
