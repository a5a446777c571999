/* Kernel threads and the per-CPU scheduler.
 *
 * Following LegoOS (paper section 4.3.1), a thread is placed on one core and
 * runs there to completion: there is no load balancing and no preemption
 * unless the core has more runnable threads than it can run, in which case
 * the timer slices among them (CONFIG_SCHED_SLICE_MS). */
#ifndef LEGO_SCHED_H
#define LEGO_SCHED_H

#include <lego/compiler.h>
#include <lego/list.h>
#include <lego/smp.h>

struct user_thread;

enum thread_state {
	THREAD_RUNNABLE,	/* running or on its run queue */
	THREAD_BLOCKED,		/* waiting; only thread_wake makes it runnable */
	THREAD_DEAD,		/* exited; waiting to be joined or reaped */
};

typedef int (*thread_fn_t)(void *arg);

/* Ownership: state goes RUNNABLE->BLOCKED only by the thread itself and
 * BLOCKED->RUNNABLE by thread_wake under the rq lock (or by the thread when
 * it stops waiting); on_rq and rq_node are under the rq lock; on_cpu is
 * cleared by the CPU that switched away from it; exit_code and joiner are
 * under join_lock; everything else is the thread's own. */
struct thread {
	unsigned long rsp;		/* saved stack pointer while switched out */
	void *stack;			/* lowest address of the stack (above the guard page) */
	size_t stack_size;
	int tid;
	int cpu;			/* the CPU whose run queue owns it */
	bool pinned;
	bool detached;
	bool is_idle;
	bool on_rq;			/* on its run queue; rq lock */
	volatile bool on_cpu;		/* its context is live on a CPU */
	const char *activity;		/* what it is doing, for panic reports */
	u8 net_tx_batch;		/* netdev_tx_batch_begin depth (net/netdev.c) */
	struct user_thread *user;	/* ring-3 state (lego/user.h); NULL for kernel threads */
	volatile enum thread_state state;
	thread_fn_t fn;
	void *arg;
	int exit_code;
	struct list_head rq_node;
	struct list_head all_node;
	spinlock_t join_lock;
	struct thread *joiner;		/* blocked in thread_join; join_lock */
	char name[24];
	void *monitor_data;		/* the monitor's record of the thread (the
					 * processor's struct pthr); the thread's own */
};

#define current (this_cpu()->current_thread)

#define THREAD_CPU_ANY (-1)

/* Create a runnable thread on cpu (THREAD_CPU_ANY: the online CPU that
 * hosts fewest threads). Returns NULL when out of memory or cpu is offline. */
struct thread *thread_create(thread_fn_t fn, void *arg, int cpu, const char *fmt, ...) __printf(4, 5);
/* Wait for t to exit, free it, and return its exit code. */
int thread_join(struct thread *t);
/* Let t free itself when it exits; it must not be joined afterwards. */
void thread_detach(struct thread *t);
void thread_exit(int code) __noreturn;
void thread_yield(void);
/* Block the calling thread until thread_wake; the caller must have set
 * current->state = THREAD_BLOCKED (through sched_prepare_block) first so that
 * a wake between the check and the block is not lost. */
void sched_prepare_block(void);
void sched_block(void);
void thread_wake(struct thread *t);
void schedule(void);

void sched_init_cpu(struct thread *idle);
void sched_timer_tick(void);
void sched_irq_exit(void);
void cpu_idle_loop(void) __noreturn;
struct thread *thread_adopt_boot(const char *name, void *stack_base, size_t size);
int sched_nr_threads(int cpu);

#endif
