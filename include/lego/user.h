/* Threads that run in ring 3.
 *
 * A kernel thread becomes a user thread by attaching a user address space
 * (include/lego/uspace.h) and a set of hooks with user_thread_setup(), then
 * leaves for ring 3 with user_enter(). From then on it comes back into the
 * kernel only through a syscall, an exception or an interrupt, each time on
 * its own kernel stack with a struct user_regs frame at the top. The
 * processor monitor supplies the hooks: the syscall table, the fault
 * handler that fills the ExCache, and the fault handler for kernel accesses
 * to user memory (copy_from_user and friends). */
#ifndef LEGO_USER_H
#define LEGO_USER_H

#include <lego/compiler.h>
#include <lego/user_check.h>
#include <asm/user_regs.h>

struct uspace;
struct thread;
struct pt_regs;

/* Hooks of user threads. Every one runs in the user thread's own context
 * with interrupts enabled and may sleep.
 *   syscall:      returns the value for rax (negative errno on error). It
 *                 may edit regs; user_regs_request_iret() then makes the
 *                 return restore every register.
 *   fault:        an exception in ring 3. 0 means resolved (the faulting
 *                 instruction is retried); anything else kills the thread
 *                 with that exit code.
 *   access_fault: a page fault on a user address inside copy_from_user and
 *                 friends. 0 means the page is now mapped (the access is
 *                 retried); otherwise the copy fails with -EFAULT. May be
 *                 NULL. */
struct user_ops {
	long (*syscall)(struct user_regs *regs);
	int (*fault)(struct user_regs *regs, int vector, unsigned long error, unsigned long cr2);
	int (*access_fault)(unsigned long addr, unsigned long error);
	/* Optional: an interrupt came from ring 3 and is about to return
	 * there (interrupts enabled, not nested): a chance to end a thread
	 * that never enters the kernel by itself (a kill while it spins). */
	void (*interrupted)(struct user_regs *regs);
};

/* User part of a thread. Owned by the thread; the context switch reads and
 * writes fs_base, gs_base and the FPU area only while the thread is
 * switched in or out on its CPU, with interrupts off. */
struct user_thread {
	struct uspace *us;		/* holds a reference */
	const struct user_ops *ops;
	unsigned long fs_base;		/* saved while switched out */
	unsigned long gs_base;		/* user GS base, saved while switched out */
	void *fpu;			/* XSAVE/FXSAVE area, 64-byte aligned */
	void *fpu_alloc;		/* what kmalloc returned for it */
	bool full_restore;		/* leave the current syscall through iretq */
};

/* The hooks of threads set up with ops == NULL; the processor monitor
 * installs its own at start. The built-in default answers every syscall
 * with -ENOSYS and kills the thread on every fault, with a report. */
void user_set_default_ops(const struct user_ops *ops);
const struct user_ops *user_default_ops(void);
bool user_default_ops_builtin(void);

/* Make the calling kernel thread a user thread of us (a reference is
 * taken) and switch to us. -ENOMEM, or -EBUSY if it already is one. */
int user_thread_setup(struct uspace *us, const struct user_ops *ops);
/* Start ring-3 execution at entry with stack pointer rsp, every other
 * general register zero, interrupts enabled, fresh FPU state. */
void user_enter(unsigned long entry, unsigned long rsp) __noreturn;
/* Start ring-3 execution with every register from regs (cs, ss and the
 * privileged rflags bits are forced to user values), fresh FPU state: a
 * clone()d thread's first entry. */
void user_enter_regs(const struct user_regs *regs) __noreturn;
/* End the calling user thread (exit code code) from kernel context. */
void user_kill(int code) __noreturn;
/* The syscall in progress returns through iretq (all registers restored
 * from regs, e.g. after a signal frame was built or torn down). */
void user_regs_request_iret(void);

/* Linux arch_prctl(2) codes handled by arch_prctl_user(). */
#define ARCH_SET_GS 0x1001
#define ARCH_SET_FS 0x1002
#define ARCH_GET_FS 0x1003
#define ARCH_GET_GS 0x1004
/* arch_prctl for the calling user thread: SET takes the new base, GET a
 * user pointer where the base is stored. 0 or -EINVAL, -EPERM (base not a
 * user address), -EFAULT. */
long arch_prctl_user(int code, unsigned long addr);
/* The calling user thread's FS base (fork copies it). */
unsigned long user_fs_base(void);

/* ---- used by the arch and scheduler code ---- */
/* From the interrupt exit path when the interrupt came from ring 3. */
void user_irq_exit(struct pt_regs *regs);
void user_cpu_init(void);
/* Context switch, interrupts off, prev still the running stack. */
void user_switch(struct thread *prev, struct thread *next);
/* From thread_free: drops the address space and the FPU area. */
void user_thread_free(struct thread *t);
/* Kernel stack top of t: rsp0 for traps from ring 3. */
unsigned long thread_stack_top(const struct thread *t);

#endif
