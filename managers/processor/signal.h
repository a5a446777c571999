/* Signals (signal.c). */
#ifndef PROCESSOR_SIGNAL_H
#define PROCESSOR_SIGNAL_H

#include <lego/types.h>
#include <asm/user_regs.h>

struct proc;
struct pthr;

/* Linux x86-64 signal numbers used by the monitor. */
#define SIGINT 2
#define SIGILL 4
#define SIGTRAP 5
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGSEGV 11
#define SIGPIPE 13
#define SIGALRM 14
#define SIGCHLD 17
#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGTTIN 21
#define SIGTTOU 22
#define SIGURG 23
#define SIGWINCH 28

/* A signal's action, as rt_sigaction's struct sigaction (x86-64). */
struct sig_action {
	u64 handler;			/* 0 SIG_DFL, 1 SIG_IGN, else the function */
	u64 flags;
	u64 restorer;
	u64 mask;
};

/* The FPU state of code a handler interrupted (kept in the kernel). */
struct sig_fpu {
	void *area, *raw;		/* fpu_state_alloc's */
	u64 sp;				/* the frame it belongs to */
};
#define SIG_NEST_MAX 8

void signal_init(void);
void signal_proc_init(struct proc *p);
void signal_proc_exit(struct proc *p);
void signal_thread_exit(struct pthr *t);
void signal_fork(struct proc *child, struct proc *parent);
void signal_exec(struct proc *p);

/* Send sig to p: ignored, fatal by default (p ends), or queued for a
 * handler (sleepers woken: they return -EINTR). */
void signal_send(struct proc *p, int sig);
/* A signal the calling thread of p should act on now (or p ends). */
bool signal_pending(struct proc *p);
/* Run a pending, unblocked handler: the frame is built and regs point at
 * it. true when one was set up. */
bool signal_deliver(struct proc *p, struct user_regs *r);
/* The same after syscall nr returned r->rax: an -EINTR under SA_RESTART
 * makes the frame restart it (nr < 0: not after a syscall). */
bool signal_deliver_restart(struct proc *p, struct user_regs *r, long nr);
/* A fault signal (SIGSEGV, ...) with a handler installed and unblocked:
 * set it up (true); false: the default action applies. */
bool signal_fault(struct proc *p, struct user_regs *r, int sig, u64 addr);

#endif
