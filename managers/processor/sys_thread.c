/* Threads (paper §4.3.1): clone for threads of the calling process. A
 * new thread goes to the core with the fewest threads and runs to completion there
 * (proc_thread_start). futex is futex.c's; a clone of a process is
 * sys_proc.c's. */
#include <lego/errno.h>
#include <lego/string.h>
#include <lego/uaccess.h>
#include "proc.h"
#include "futex.h"

#define CLONE_VM 0x00000100
#define CLONE_FS 0x00000200
#define CLONE_FILES 0x00000400
#define CLONE_SIGHAND 0x00000800
#define CLONE_THREAD 0x00010000
#define CLONE_SYSVSEM 0x00040000
#define CLONE_SETTLS 0x00080000
#define CLONE_PARENT_SETTID 0x00100000
#define CLONE_CHILD_CLEARTID 0x00200000
#define CLONE_DETACHED 0x00400000
#define CLONE_CHILD_SETTID 0x01000000
#define CSIGNAL 0xff

#define THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | \
		      CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | \
		      CLONE_CHILD_CLEARTID | CLONE_DETACHED | CLONE_CHILD_SETTID)

static long sys_clone(struct user_regs *r)
{
	struct proc *p = proc_current();
	u64 flags = r->rdi, sp = r->rsi;
	const u64 need = CLONE_VM | CLONE_THREAD | CLONE_SIGHAND;

	if (!(flags & CLONE_VM))
		return sys_clone_process(r);	/* a new process: sys_proc.c */
	if ((flags & need) != need)
		return -EINVAL;	/* shared memory without being a thread: not supported */
	if (flags & ~(u64)(THREAD_FLAGS | CSIGNAL))
		return -EINVAL;
	struct user_regs child = *r;
	child.rax = 0;		/* the child's clone() returns 0 */
	if (sp)
		child.rsp = sp;
	struct pthr_ids ids = {
		.parent_tid = flags & CLONE_PARENT_SETTID ? r->rdx : 0,
		.child_tid = flags & CLONE_CHILD_SETTID ? r->r10 : 0,
		.clear_child_tid = flags & CLONE_CHILD_CLEARTID ? r->r10 : 0,
	};
	return proc_thread_start(p, &child, 0, 0, flags & CLONE_SETTLS ? r->r8 : 0, &ids, NULL);
}

void sys_thread_init(void)
{
	sys_register(56, sys_clone);	/* partial: threads and processes; CLONE_VM without CLONE_THREAD refused */
	futex_init();
}
