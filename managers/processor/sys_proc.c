/* Process syscalls: fork, vfork, clone of a process, execve (with "#!"
 * scripts), wait4, kill and the process-group calls busybox's shell uses.
 * Processes of one program tree live on the pComponent that ran the
 * program; each has its own address space at the memory nodes (the
 * home's FORK copies it, §4.4.1). */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/string.h>
#include <lego/uaccess.h>
#include <lego/user.h>
#include <uapi/lego/linux_abi.h>
#include <uapi/lego/memory.h>
#include "proc.h"
#include "sys_file_int.h"

/* Strings of argv + envp together (the home's EXEC request must fit one
 * RPC message with the path). */
#define EXEC_STRINGS_MAX (128u * 1024)
#define EXEC_ARGS_MAX 4096u

static long sys_fork(struct user_regs *r)
{
	return proc_fork(proc_current(), r, 0, user_fs_base(), NULL);
}

/* A clone that makes a process (no CLONE_VM): fork with clone's extras.
 * sys_thread.c's clone hands these over. */
long sys_clone_process(struct user_regs *r)
{
	u64 flags = r->rdi;
	const u64 clone_settls = 0x00080000, clone_parent_settid = 0x00100000,
		  clone_child_cleartid = 0x00200000, clone_child_settid = 0x01000000,
		  clone_vfork = 0x00004000, csignal = 0xff;
	const u64 known = clone_settls | clone_parent_settid | clone_child_cleartid |
			  clone_child_settid | clone_vfork | csignal;

	if (flags & ~known)
		return -EINVAL;
	struct pthr_ids ids = {
		.parent_tid = flags & clone_parent_settid ? r->rdx : 0,
		.child_tid = flags & clone_child_settid ? r->r10 : 0,
		.clear_child_tid = flags & clone_child_cleartid ? r->r10 : 0,
	};
	u64 fs = flags & clone_settls ? r->r8 : user_fs_base();
	return proc_fork(proc_current(), r, r->rsi, fs, &ids);
}

/* NULL-terminated user vector of strings into buf: returns the count. */
static long copy_strv(const u64 *uvec, char *buf, u32 *used, u32 cap)
{
	long n = 0;

	if (!uvec)
		return 0;
	for (;;) {
		u64 up;
		if (copy_from_user(&up, uvec + n, sizeof(up)))
			return -EFAULT;
		if (!up)
			return n;
		if ((u32)n >= EXEC_ARGS_MAX)
			return -E2BIG;
		long l = strncpy_from_user(buf + *used, (const char *)up, cap - *used);
		if (l < 0)
			return l;
		if ((u32)l >= cap - *used)
			return -E2BIG;
		*used += (u32)l + 1;
		n++;
	}
}

/* The first line of a "#!" script: interpreter and optional argument. */
static int script_interp(struct proc *p, const char *path, size_t n, char *interp,
			 char *arg)
{
	char line[256];
	struct lego_st_req h;
	u32 got = 0;

	memset(&h, 0, sizeof(h));
	h.len = sizeof(line) - 1;
	h.path_len = (u16)n;
	int r = proc_st_call(p, LEGO_OP_ST_READ, &h, path, NULL, NULL, line, sizeof(line) - 1,
			     &got);
	if (r < 0 || got < 3 || line[0] != '#' || line[1] != '!')
		return -ENOEXEC;
	line[got] = '\0';
	char *e = strchr(line, '\n');
	if (!e)
		return -ENOEXEC;	/* longer than Linux takes too */
	*e = '\0';
	char *s = line + 2;
	while (*s == ' ' || *s == '\t')
		s++;
	char *t = s;
	while (*t && *t != ' ' && *t != '\t')
		t++;
	if (t == s)
		return -ENOEXEC;
	char *a = t;
	while (*a == ' ' || *a == '\t')
		a++;
	*t = '\0';
	/* The rest of the line is one argument, trailing blanks cut. */
	char *ae = a + strlen(a);
	while (ae > a && (ae[-1] == ' ' || ae[-1] == '\t'))
		*--ae = '\0';
	strlcpy(interp, s, LINUX_PATH_MAX);
	strlcpy(arg, a, 256);
	return 0;
}

static long sys_execve(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct sf_lookup *l = sf_lookup_alloc();
	char *strings = kmalloc(EXEC_STRINGS_MAX);
	char *interp = kmalloc(LINUX_PATH_MAX), arg[256], why[LEGO_PROC_MSG_MAX];
	u32 used = 0;
	long argc, envc, e;

	if (!l || !strings || !interp) {
		e = -ENOMEM;
		goto out;
	}
	e = sf_lookup_user(p, AT_FDCWD, (const char *)r->rdi, SF_FOLLOW, l);
	if (e < 0)
		goto out;
	if (!l->exists) {
		e = -ENOENT;
		goto out;
	}
	/* Room for a script's interpreter and argument in front. */
	const u32 front = LINUX_PATH_MAX + 256 + LEGO_ST_PATH_MAX;
	used = front;
	argc = copy_strv((const u64 *)r->rsi, strings, &used, EXEC_STRINGS_MAX);
	if (argc < 0) {
		e = argc;
		goto out;
	}
	envc = copy_strv((const u64 *)r->rdx, strings, &used, EXEC_STRINGS_MAX);
	if (envc < 0) {
		e = envc;
		goto out;
	}
	const char *path = l->w.done;
	size_t plen = l->w.done_len;
	e = proc_execve(p, r, path, plen, strings + front, used - front, (u32)argc, (u32)envc,
			why, sizeof(why));
	if (e != -ENOEXEC)
		goto out;
	/* A script: interpreter [arg] path argv[1..] (argv[0] replaced). */
	if (script_interp(p, path, plen, interp, arg) < 0)
		goto out;
	u32 a0 = argc ? (u32)strlen(strings + front) + 1 : 0;
	u32 head = (u32)strlen(interp) + 1 + (arg[0] ? (u32)strlen(arg) + 1 : 0) + (u32)plen + 1;
	u32 start = front + a0 - head;
	char *w = strings + start;
	memcpy(w, interp, strlen(interp) + 1);
	w += strlen(interp) + 1;
	if (arg[0]) {
		memcpy(w, arg, strlen(arg) + 1);
		w += strlen(arg) + 1;
	}
	memcpy(w, path, plen);
	w[plen] = '\0';
	long nargc = (argc ? argc - 1 : 0) + 2 + (arg[0] ? 1 : 0);
	/* The interpreter's own path, as the user would give it. */
	struct sf_lookup *li = sf_lookup_alloc();
	if (!li) {
		e = -ENOMEM;
		goto out;
	}
	strlcpy(li->upath, interp, sizeof(li->upath));
	li->ulen = strlen(li->upath);
	e = sf_resolve(p, AT_FDCWD, li, SF_FOLLOW);
	if (e == 0 && !li->exists)
		e = -ENOENT;
	if (e == 0)
		e = proc_execve(p, r, li->w.done, li->w.done_len, strings + start,
				used - start, (u32)nargc, (u32)envc, why, sizeof(why));
	sf_lookup_free(li);
out:
	if (l)
		sf_lookup_free(l);
	kfree(strings);
	kfree(interp);
	return e;
}

static long sys_wait4(struct user_regs *r)
{
	u32 status = 0;
	if (r->rdx & ~(1ull | 2ull | 8ull | 0x01000000ull | 0x40000000ull | 0x80000000ull))
		return -EINVAL;	/* WNOHANG WUNTRACED WCONTINUED __WNOTHREAD __WALL __WCLONE */
	long pid = proc_wait(proc_current(), (int)r->rdi, (int)r->rdx, &status);
	if (pid > 0 && r->rsi && copy_to_user((void *)r->rsi, &status, sizeof(status)))
		return -EFAULT;
	if (pid >= 0 && r->r10) {
		u8 ru[144] = { 0 };	/* struct rusage: nothing measured */
		if (copy_to_user((void *)r->r10, ru, sizeof(ru)))
			return -EFAULT;
	}
	return pid;
}

static long kill_one(struct proc *t, int sig)
{
	if (sig)
		signal_send(t, sig);
	return 0;
}

static long sys_kill(struct user_regs *r)
{
	struct proc *p = proc_current();
	int pid = (int)r->rdi, sig = (int)r->rsi;

	if (sig < 0 || sig > 64)
		return -EINVAL;
	if (pid > 0) {
		struct proc *t = proc_find_pid(pid);
		if (!t || t->token != p->token) {
			if (t)
				proc_put(t);
			return -ESRCH;
		}
		if (t == p) {
			proc_put(t);
			return kill_one(p, sig);	/* may not return */
		}
		long e = kill_one(t, sig);
		proc_put(t);
		return e;
	}
	/* Process groups: the caller's own (0, -1) or -pid. */
	int pgid = pid == 0 || pid == -1 ? p->pgid : -pid;
	bool self = false, any = false;
	for (int cand = 1; cand < (int)0x7fffffff; cand++) {
		struct proc *t = proc_find_pid(cand);
		if (!t) {
			if (cand > p->pid + 4096)
				break;	/* pids are dense and increasing */
			continue;
		}
		if (t->token == p->token && (t->pgid == pgid || pid == -1)) {
			any = true;
			if (t == p)
				self = true;
			else
				kill_one(t, sig);
		}
		proc_put(t);
	}
	if (self)
		kill_one(p, sig);
	return any ? 0 : -ESRCH;
}

static long sys_tgkill(struct user_regs *r)
{
	struct proc *p = proc_current();
	int sig = (int)r->rdx;

	if ((int)r->rdi != p->pid)
		return -ESRCH;
	if (sig < 0 || sig > 64)
		return -EINVAL;
	return kill_one(p, sig);
}

static long sys_tkill(struct user_regs *r)
{
	struct proc *p = proc_current();
	int sig = (int)r->rsi;
	if (sig < 0 || sig > 64)
		return -EINVAL;
	return kill_one(p, sig);
}

static long sys_getppid(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct proc *par = p->parent;	/* read once: a pointer, never freed under us */
	return par ? par->pid : 1;
}

static long sys_setpgid(struct user_regs *r)
{
	struct proc *p = proc_current();
	int pid = (int)r->rdi, pgid = (int)r->rsi;

	if (pgid < 0)
		return -EINVAL;
	struct proc *t = pid ? proc_find_pid(pid) : p;
	if (!t)
		return -ESRCH;
	if (t != p && t->parent != p) {
		proc_put(t);
		return -ESRCH;
	}
	t->pgid = pgid ? pgid : t->pid;
	if (t != p)
		proc_put(t);
	return 0;
}

static long sys_getpgid(struct user_regs *r)
{
	struct proc *p = proc_current();
	int pid = (int)r->rdi;
	if (!pid || pid == p->pid)
		return p->pgid;
	struct proc *t = proc_find_pid(pid);
	if (!t)
		return -ESRCH;
	long g = t->pgid;
	proc_put(t);
	return g;
}

static long sys_getpgrp(struct user_regs *r)
{
	return proc_current()->pgid;
}

static long sys_setsid(struct user_regs *r)
{
	struct proc *p = proc_current();
	if (p->pgid == p->pid)
		return -EPERM;
	p->sid = p->pgid = p->pid;
	return p->sid;
}

static long sys_getsid(struct user_regs *r)
{
	struct proc *p = proc_current();
	int pid = (int)r->rdi;
	if (!pid || pid == p->pid)
		return p->sid;
	struct proc *t = proc_find_pid(pid);
	if (!t)
		return -ESRCH;
	long s = t->sid;
	proc_put(t);
	return s;
}

/* waitid: as wait4, the result as a siginfo. */
static long sys_waitid(struct user_regs *r)
{
	int idtype = (int)r->rdi, id = (int)r->rsi, options = (int)r->r10;
	const int wexited = 4, wnohang = 1, p_all = 0, p_pid = 1, p_pgid = 2;
	u32 status = 0;

	if (!(options & wexited))
		return -EINVAL;	/* stopped/continued children are not tracked */
	int pid = idtype == p_all ? -1 : idtype == p_pid ? id : idtype == p_pgid ? -id : 0;
	if (idtype != p_all && idtype != p_pid && idtype != p_pgid)
		return -EINVAL;
	if (idtype == p_pgid && !id)
		pid = 0;
	long got = proc_wait(proc_current(), pid, options & wnohang, &status);
	if (got < 0)
		return got;
	if (r->rdx) {
		s32 si[32];
		memset(si, 0, sizeof(si));
		if (got > 0) {
			si[0] = SIGCHLD;
			si[2] = status & 0x7f ? 2 : 1;	/* CLD_KILLED : CLD_EXITED */
			si[4] = (s32)got;
			si[6] = status & 0x7f ? (s32)(status & 0x7f) : (s32)((status >> 8) & 0xff);
		}
		if (copy_to_user((void *)r->rdx, si, sizeof(si)))
			return -EFAULT;
	}
	return 0;
}

void sys_proc_init(void)
{
	sys_register(57, sys_fork);
	sys_register(58, sys_fork);	/* partial: vfork as fork (a copy, the parent not suspended) */
	sys_register(59, sys_execve);
	sys_register(61, sys_wait4);	/* partial: no stopped/continued children, rusage zero */
	sys_register(247, sys_waitid);	/* partial: WEXITED only */
	sys_register(62, sys_kill);	/* partial: stop/continue ignored */
	sys_register(234, sys_tgkill);	/* partial: to the process, not the thread */
	sys_register(200, sys_tkill);	/* partial: to the process, not the thread */
	sys_register(110, sys_getppid);
	sys_register(109, sys_setpgid);
	sys_register(121, sys_getpgid);
	sys_register(111, sys_getpgrp);
	sys_register(112, sys_setsid);
	sys_register(124, sys_getsid);
}
