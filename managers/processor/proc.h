/* Processes and threads of the processor monitor (paper §4.3).
 *
 * A process runs on one pComponent; its memory lives at mComponents (the
 * home keeps its layout, vRegion owners its pages) and is cached here in
 * the ExCache; its files live at the vNode's sComponent behind the vNode's
 * buffer-cache mComponent. The process struct keeps what the processor
 * needs locally: the vRegion array to route page requests (§4.4.1), a
 * copy of the layout for page permissions and the p-local ranges (§4.4.2,
 * the hint of §5.6), and the Linux state (fds, cwd, §4.3.3).
 *
 * Design: docs/processor.md. */
#ifndef PROCESSOR_PROC_H
#define PROCESSOR_PROC_H

#include <lego/types.h>
#include <lego/list.h>
#include <lego/mutex.h>
#include <lego/spinlock.h>
#include <lego/wait.h>
#include <lego/rpc.h>
#include <lego/vregion.h>
#include <lego/excache.h>
#include <lego/fdtable.h>
#include <asm/user_regs.h>
#include <uapi/lego/processor.h>
#include <lego/time.h>
#include <lego/workqueue.h>
#include "signal.h"
#include <uapi/lego/storage.h>

/* A range of the layout copy. */
struct prange {
	u64 start, end;
	u32 prot;			/* LEGO_PROT_* */
	u32 flags;			/* LEGO_MEM_VMA_* */
};

/* A growable sorted array of disjoint ranges. Lock: the owner's. */
struct prange_set {
	struct prange *r;
	u32 n, cap;
};

#define PROC_STDIN_BUF (64u * 1024)
#define PROC_CWD_MAX 1024
#define PROC_CMDLINE_MAX 4096

/* Locks, outermost first: mm_lock, fs_lock, lock. va_lock is a leaf. */
struct proc {
	/* Table (proc_table_lock). */
	struct proc *hnext;
	u32 refs;

	/* Constant after proc_create. */
	int pid;
	u64 token;
	u64 mm;				/* address-space id at the memory nodes */
	u32 vnode;
	u32 run_flags;			/* LEGO_PROC_RUN_* */
	char vnode_name[16];
	char exe[PROC_CWD_MAX];		/* the program's path in the vNode */
	/* /proc/self/cmdline: argv as NUL-terminated strings, cut at
	 * PROC_CMDLINE_MAX bytes; set at RUN and execve (by the process's
	 * own thread, read by it: no lock). */
	char cmdline[PROC_CMDLINE_MAX];
	u32 cmdline_len;
	struct rpc_endpoint home, storage, cache, client;
	struct uspace *us;
	struct excache_proc xc;

	/* mm_lock: serialises layout changes and protects the layout copy,
	 * the p-local ranges and the heap. */
	struct mutex mm_lock;
	struct prange_set layout;	/* the vmas as the home's MAPS said */
	struct prange_set plocal;	/* anonymous private ranges made here */
	u64 start_brk, brk;
	u64 stack_top;

	/* va_lock: the vRegion array copy (routing of page requests). */
	spinlock_t va_lock;
	struct vregion_array va;
	u32 va_gen;

	/* fs_lock: the Linux file state. */
	struct mutex fs_lock;
	struct fd_table *fds;
	char cwd[PROC_CWD_MAX];
	u32 umask;

	/* proc_tree_lock: the process tree. The RUN process has no parent
	 * and reports its end to the client; the others report to their
	 * parent (wait4), or to no one once orphaned. */
	struct proc *parent;		/* holds a reference */
	bool is_root;			/* started by RUN (constant) */
	struct list_head children;	/* live children (struct proc.sibling) */
	struct list_head sibling;
	struct list_head zombies;	/* ended children (struct zombie) */
	struct wait_queue child_wq;	/* wait4 sleepers */
	int pgid, sid;

	/* lock: signal actions and the pending set (signal.c); alarm_at. */
	struct sig_action sig[64];
	u64 sig_pending;
	u64 alarm_at;			/* monotonic ns, 0: no alarm */
	struct timer alarm_timer;	/* holds a reference while armed */
	struct work alarm_work;

	/* lock: threads, exit, stdin. */
	spinlock_t lock;
	struct list_head threads;	/* struct pthr.node */
	int nr_threads;
	int next_tid;
	bool exiting;			/* exit_group or a kill started */
	u32 exit_status;		/* wait status for the client */
	u8 *in_buf;			/* stdin ring, PROC_STDIN_BUF bytes */
	u32 in_head, in_len;
	bool in_eof;
	struct wait_queue in_wq;	/* readers of stdin */
	struct wait_queue exit_wq;	/* the last thread's leaving */
};

/* One user thread of a process (struct thread.monitor_data). The fields
 * are the thread's own except node (proc->lock). */
struct pthr {
	struct list_head node;
	struct proc *p;
	struct thread *t;
	int tid;
	u64 clear_child_tid;		/* set_tid_address / CLONE_CHILD_CLEARTID */
	u64 robust_list;
	u64 sigmask;			/* blocked signals */
	char name[16];			/* prctl(PR_SET_NAME) */
	u64 altstack_sp, altstack_size;	/* sigaltstack; size 0: none */
	u64 frame_mask;			/* rt_sigsuspend: the mask the next frame restores */
	bool frame_mask_set;
	u32 nfpu;			/* saved FPU states of running handlers */
	struct sig_fpu fpu[SIG_NEST_MAX];
};

struct proc *proc_current(void);
struct pthr *pthr_current(void);
void proc_get(struct proc *p);
void proc_put(struct proc *p);
struct proc *proc_find(u32 pid, u64 token);	/* with a reference, or NULL */

/* RUN: create the process, EXEC it at the home, start its first thread.
 * On failure a message for the client goes to msg. */
int proc_run(const struct lego_proc_run_req *q, const char *path, const char *strings,
	     u32 src_ip, struct lego_proc_run_reply *out, char *msg, size_t msglen);

/* clone's thread-id words (user addresses, 0: none). */
struct pthr_ids {
	u64 parent_tid;			/* CLONE_PARENT_SETTID */
	u64 child_tid;			/* CLONE_CHILD_SETTID */
	u64 clear_child_tid;		/* CLONE_CHILD_CLEARTID */
};

/* A new user thread of p entering ring 3 at rip with rsp (or with regs,
 * a clone's registers); fs_base: its FS base (0: none); ids: clone's tid
 * words, written before the thread runs. Returns the tid. */
int proc_thread_start(struct proc *p, const struct user_regs *regs, u64 rip, u64 rsp,
		      u64 fs_base, const struct pthr_ids *ids, struct pthr **out);
/* The calling user thread ends (exit). The last one ends the process. */
void proc_thread_exit(int code) __noreturn;
/* The whole process ends with wait status (exit_group, a fatal signal, a
 * kill from the client). The calling thread (if it is one of p's) ends
 * too: this returns only when called from outside the process. */
void proc_exit_group(struct proc *p, u32 status);
/* Every sleeping thread of p looks at its condition again, every thread
 * in ring 3 passes through the kernel soon (a reschedule interrupt to the
 * other CPUs): how exits and signals reach them. */
void proc_wake_sleepers(struct proc *p);

/* Layout: refresh the copy from the home (MAPS), and the routing array
 * from a layout reply. mm_lock held. */
int proc_layout_refresh(struct proc *p);
void proc_vregions_update(struct proc *p, const struct lego_mem_layout_reply *l, u32 len);
/* p-local bookkeeping (mm_lock held). */
int prange_add(struct prange_set *s, u64 start, u64 end, u32 prot, u32 flags);
void prange_remove(struct prange_set *s, u64 start, u64 end);
const struct prange *prange_find(const struct prange_set *s, u64 addr);

/* Every vma of p as its home reports them (MAPS, paged), in address
 * order: fn gets each record and its path (NULL: none; path_len bytes,
 * no NUL). fn returns 0 to go on, > 0 to stop (the walk returns 0), < 0
 * to fail with that error. proc_maps.c. */
typedef int (*proc_maps_fn)(void *ctx, const struct lego_mem_vma_rec *rec, const char *path);
int proc_maps_walk(struct proc *p, proc_maps_fn fn, void *ctx);

/* A request to the home of p: 0/the status, reply into buf. */
int proc_home_call(struct proc *p, u16 op, const void *req, u32 len, void *reply, u32 max,
		   u32 *got);

/* A storage request (storage.h) for p's vNode through its buffer-cache
 * mComponent (LEGO_OP_MEM_BC, §4.5): h's path_len/path2_len/len describe
 * path, path2 and data (data NULL: none); vnode is filled in. Returns the
 * storage status; a silent node is -EIO. */
int proc_st_call(struct proc *p, u16 op, const struct lego_st_req *h, const char *path,
		 const char *path2, const void *data, void *reply, u32 max, u32 *got);

/* Console: bytes written to fd 1/2 go to the client (blocks until it
 * acknowledged). Returns bytes sent or a negative errno. */
long proc_output(struct proc *p, u32 fd, const void *buf, size_t len);
/* stdin: up to len bytes into buf (blocks for data or EOF); 0 at EOF. */
long proc_input(struct proc *p, void *ubuf, size_t len);

/* An ended child, until its parent reaps it (proc_tree_lock). */
struct zombie {
	struct list_head node;
	int pid, pgid;
	u32 status;			/* wait status */
};

/* fork: a copy of the calling process (memory through the home's FORK,
 * fds shared, one thread starting from regs with rax 0). Returns the
 * child's pid. */
long proc_fork(struct proc *p, const struct user_regs *regs, u64 child_sp, u64 fs_base,
	       const struct pthr_ids *ids);
/* execve: replace the calling process's program. 0: regs now start it. */
long proc_execve(struct proc *p, struct user_regs *regs, const char *path, size_t path_len,
		 const char *strings, u32 strings_len, u32 argc, u32 envc, char *why,
		 size_t whylen);
/* wait4: reap a child (pid > 0: that one, -1 or 0 or < -1: any; WNOHANG in
 * options). Returns its pid (status into *status), 0, or -ECHILD/-EINTR. */
long proc_wait(struct proc *p, int pid, int options, u32 *status);
/* Every live process of this pComponent whose pid matches (for kill). */
struct proc *proc_find_pid(int pid);	/* with a reference */

void proc_init(void);
void sys_proc_init(void);
void poll_init(void);
/* strace.c: one syscall of a --strace process, to the client. */
void strace_report(struct proc *p, const u64 args[6], u64 nr, long ret, bool noreturn);
/* The services of every process's fd table (proc.c). */
extern const struct fd_ops proc_fd_ops;
long sys_clone_process(struct user_regs *r);
void run_init(void);
void syscall_init(void);

/* The syscall table (syscall.c). */
typedef long (*sys_fn_t)(struct user_regs *r);
#define NR_SYSCALLS 460
extern sys_fn_t sys_table[NR_SYSCALLS];
void sys_register(unsigned nr, sys_fn_t fn);
void sys_basic_init(void);
void sys_mm_init(void);
void sys_file_init(void);
void sys_thread_init(void);

#endif
