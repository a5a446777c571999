/* Syscalls that need no storage and no memory node: identity, time,
 * randomness, limits, signals' bookkeeping, the console. Numbers and
 * structure layouts are Linux x86-64's. */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/net.h>
#include <lego/printk.h>
#include <lego/random.h>
#include <lego/sched.h>
#include <lego/smp.h>
#include <lego/string.h>
#include <lego/time.h>
#include <lego/uaccess.h>
#include <lego/user.h>
#include <lego/wait.h>
#include <lego/wallclock.h>
#include "proc.h"

struct ktimespec {
	s64 sec, nsec;
};

struct ktimeval {
	s64 sec, usec;
};

struct kutsname {
	char sysname[65], nodename[65], release[65], version[65], machine[65], domainname[65];
};

struct krlimit {
	u64 cur, max;
};

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_THREAD_CPUTIME_ID 3
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7

#define RLIMIT_STACK 3
#define RLIMIT_NOFILE 7
#define RLIM_INFINITY (~0ull)

static long sys_exit(struct user_regs *r)
{
	proc_thread_exit((int)r->rdi);
}

static long sys_exit_group(struct user_regs *r)
{
	proc_exit_group(proc_current(), ((u32)r->rdi & 0xff) << 8);
	return 0;	/* not reached */
}

static long sys_getpid(struct user_regs *r)
{
	return proc_current()->pid;
}

static long sys_gettid(struct user_regs *r)
{
	return pthr_current()->tid;
}

static long sys_zero(struct user_regs *r)
{
	return 0;	/* getuid, geteuid, getgid, getegid: root in its vNode */
}

static long sys_uname(struct user_regs *r)
{
	struct kutsname u;
	struct proc *p = proc_current();

	memset(&u, 0, sizeof(u));
	strlcpy(u.sysname, "Linux", sizeof(u.sysname));	/* what programs compare against */
	snprintf(u.nodename, sizeof(u.nodename), "%s", p->vnode_name[0] ? p->vnode_name : "lego");
	strlcpy(u.release, "6.1.0-legoos", sizeof(u.release));
	snprintf(u.version, sizeof(u.version), "#1 LegoOS splitkernel (pComponent %s)",
		 net_config.name);
	strlcpy(u.machine, "x86_64", sizeof(u.machine));
	strlcpy(u.domainname, "(none)", sizeof(u.domainname));
	return copy_to_user((void *)r->rdi, &u, sizeof(u)) ? -EFAULT : 0;
}

static u64 clock_ns(int clk, int *err)
{
	*err = 0;
	switch (clk) {
	case CLOCK_REALTIME:
	case CLOCK_REALTIME_COARSE:
		return wallclock_ns();
	case CLOCK_MONOTONIC:
	case CLOCK_MONOTONIC_RAW:
	case CLOCK_MONOTONIC_COARSE:
	case CLOCK_BOOTTIME:
	case CLOCK_PROCESS_CPUTIME_ID:	/* run to completion: wall time is CPU time */
	case CLOCK_THREAD_CPUTIME_ID:
		return ktime_ns();
	default:
		*err = -EINVAL;
		return 0;
	}
}

static long sys_clock_gettime(struct user_regs *r)
{
	int err;
	u64 ns = clock_ns((int)r->rdi, &err);
	if (err)
		return err;
	struct ktimespec ts = { (s64)(ns / 1000000000ull), (s64)(ns % 1000000000ull) };
	return copy_to_user((void *)r->rsi, &ts, sizeof(ts)) ? -EFAULT : 0;
}

static long sys_clock_getres(struct user_regs *r)
{
	int err;
	clock_ns((int)r->rdi, &err);
	if (err)
		return err;
	struct ktimespec ts = { 0, 1 };
	if (r->rsi && copy_to_user((void *)r->rsi, &ts, sizeof(ts)))
		return -EFAULT;
	return 0;
}

static long sys_gettimeofday(struct user_regs *r)
{
	u64 ns = wallclock_ns();
	struct ktimeval tv = { (s64)(ns / 1000000000ull), (s64)(ns % 1000000000ull / 1000) };
	if (r->rdi && copy_to_user((void *)r->rdi, &tv, sizeof(tv)))
		return -EFAULT;
	if (r->rsi) {
		u32 tz[2] = { 0, 0 };
		if (copy_to_user((void *)r->rsi, tz, sizeof(tz)))
			return -EFAULT;
	}
	return 0;
}

static long sys_time(struct user_regs *r)
{
	s64 t = (s64)(wallclock_ns() / 1000000000ull);
	if (r->rdi && copy_to_user((void *)r->rdi, &t, sizeof(t)))
		return -EFAULT;
	return t;
}

/* Sleep until the monotonic deadline; -EINTR when the process ends. */
static long sleep_until(struct proc *p, u64 deadline)
{
	while (ktime_ns() < deadline) {
		if (signal_pending(p))
			return -EINTR;
		u64 step = ktime_ns() + 100000000ull;	/* look at exiting every 100 ms */
		sched_block_until(deadline < step ? deadline : step);
	}
	return 0;
}

static long do_nanosleep(const void *ureq, void *urem, bool absolute, int clk)
{
	struct ktimespec ts;
	if (copy_from_user(&ts, ureq, sizeof(ts)))
		return -EFAULT;
	if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
		return -EINVAL;
	u64 t = (u64)ts.sec * 1000000000ull + (u64)ts.nsec;
	u64 deadline;
	if (!absolute) {
		deadline = ktime_ns() + t;
	} else if (clk == CLOCK_REALTIME) {
		u64 now = wallclock_ns();
		deadline = ktime_ns() + (t > now ? t - now : 0);
	} else {
		deadline = t;
	}
	long e = sleep_until(proc_current(), deadline);
	/* Interrupted: the time left, for a relative sleep. */
	if (e == -EINTR && urem && !absolute) {
		u64 now = ktime_ns(), left = deadline > now ? deadline - now : 0;
		struct ktimespec rem = { (s64)(left / 1000000000ull), (s64)(left % 1000000000ull) };
		if (copy_to_user(urem, &rem, sizeof(rem)))
			return -EFAULT;
	}
	return e;
}

static long sys_nanosleep(struct user_regs *r)
{
	return do_nanosleep((const void *)r->rdi, (void *)r->rsi, false, CLOCK_MONOTONIC);
}

static long sys_clock_nanosleep(struct user_regs *r)
{
	int err;
	clock_ns((int)r->rdi, &err);
	if (err)
		return err;
	return do_nanosleep((const void *)r->rdx, (void *)r->r10, r->rsi & 1 /* TIMER_ABSTIME */,
			    (int)r->rdi);
}

static long sys_getrandom(struct user_regs *r)
{
	u8 buf[256];
	u64 len = r->rsi, done = 0;

	if (r->rdx & ~7ull)	/* GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE */
		return -EINVAL;
	if (len > 33554431)
		len = 33554431;
	while (done < len) {
		u64 n = len - done < sizeof(buf) ? len - done : sizeof(buf);
		get_random_bytes(buf, n);
		if (copy_to_user((u8 *)r->rdi + done, buf, n))
			return done ? (long)done : -EFAULT;
		done += n;
	}
	return (long)done;
}

static long rlimit_of(unsigned res, struct krlimit *l)
{
	switch (res) {
	case RLIMIT_STACK:
		*l = (struct krlimit){ 8ull << 20, RLIM_INFINITY };
		return 0;
	case RLIMIT_NOFILE: {
		struct proc *p = proc_current();
		*l = (struct krlimit){ p->fds->limit, 4096 };
		return 0;
	}
	default:
		if (res >= 16)
			return -EINVAL;
		*l = (struct krlimit){ RLIM_INFINITY, RLIM_INFINITY };
		return 0;
	}
}

static long sys_prlimit64(struct user_regs *r)
{
	struct krlimit old, nl;
	unsigned res = (unsigned)r->rsi;

	if (r->rdi && (int)r->rdi != proc_current()->pid)
		return -ESRCH;
	long e = rlimit_of(res, &old);
	if (e)
		return e;
	if (r->rdx) {
		if (copy_from_user(&nl, (const void *)r->rdx, sizeof(nl)))
			return -EFAULT;
		if (nl.cur > nl.max)
			return -EINVAL;
		if (res == RLIMIT_NOFILE) {
			struct proc *p = proc_current();
			mutex_lock(&p->fs_lock);
			e = fd_table_set_limit(p->fds, nl.cur > 4096 ? 4096 : (u32)nl.cur);
			mutex_unlock(&p->fs_lock);
			if (e)
				return e;
		}
	}
	if (r->r10 && copy_to_user((void *)r->r10, &old, sizeof(old)))
		return -EFAULT;
	return 0;
}

static long sys_getrlimit(struct user_regs *r)
{
	struct krlimit l;
	long e = rlimit_of((unsigned)r->rdi, &l);
	if (e)
		return e;
	return copy_to_user((void *)r->rsi, &l, sizeof(l)) ? -EFAULT : 0;
}

static long sys_sched_getaffinity(struct user_regs *r)
{
	u64 len = r->rsi;
	u8 mask[64];
	int cpus = atomic_read(&nr_cpus_online);

	if (len < 8 || (len & 7))
		return -EINVAL;
	if (len > sizeof(mask))
		len = sizeof(mask);
	memset(mask, 0, sizeof(mask));
	for (int i = 0; i < cpus && i < 512; i++)
		mask[i / 8] |= (u8)(1u << (i % 8));
	if (copy_to_user((void *)r->rdx, mask, len))
		return -EFAULT;
	return (long)len;
}

static long sys_sched_yield(struct user_regs *r)
{
	thread_yield();
	return 0;
}




static long sys_arch_prctl(struct user_regs *r)
{
	return arch_prctl_user((int)r->rdi, r->rsi);
}

static long sys_set_tid_address(struct user_regs *r)
{
	struct pthr *t = pthr_current();
	t->clear_child_tid = r->rdi;
	return t->tid;
}

static long sys_set_robust_list(struct user_regs *r)
{
	if (r->rsi != 24)
		return -EINVAL;
	pthr_current()->robust_list = r->rdi;
	return 0;
}

static long sys_umask(struct user_regs *r)
{
	struct proc *p = proc_current();
	u32 old = p->umask;
	p->umask = (u32)r->rdi & 0777;
	return old;
}

static long sys_getcwd(struct user_regs *r)
{
	struct proc *p = proc_current();
	char buf[PROC_CWD_MAX];

	mutex_lock(&p->fs_lock);
	strlcpy(buf, p->cwd, sizeof(buf));
	mutex_unlock(&p->fs_lock);
	size_t n = strlen(buf) + 1;
	if (r->rsi < n)
		return -ERANGE;
	return copy_to_user((void *)r->rdi, buf, n) ? -EFAULT : (long)n;
}

static long sys_madvise(struct user_regs *r)
{
	return (r->rdi & 4095) ? -EINVAL : 0;	/* advice only */
}


struct ksysinfo {
	s64 uptime;
	u64 loads[3];
	u64 totalram, freeram, sharedram, bufferram, totalswap, freeswap;
	u16 procs, pad;
	u32 pad2;
	u64 totalhigh, freehigh;
	u32 mem_unit;
	u8 reserved[4];
};

static long sys_sysinfo(struct user_regs *r)
{
	struct ksysinfo si;

	memset(&si, 0, sizeof(si));
	si.uptime = (s64)(ktime_ns() / 1000000000ull);
	si.totalram = mem_usable_bytes;
	si.freeram = page_alloc_free_bytes();
	si.procs = 1;
	si.mem_unit = 1;
	return copy_to_user((void *)r->rdi, &si, sizeof(si)) ? -EFAULT : 0;
}

/* Nothing is measured per process yet: all times and counts are zero. */
static long sys_getrusage(struct user_regs *r)
{
	u8 ru[144] = { 0 };
	s32 who = (s32)r->rdi;
	if (who != 0 && who != -1 && who != 1)	/* SELF, CHILDREN, THREAD */
		return -EINVAL;
	return copy_to_user((void *)r->rsi, ru, sizeof(ru)) ? -EFAULT : 0;
}

static long sys_times(struct user_regs *r)
{
	u64 tms[4] = { 0, 0, 0, 0 };
	if (r->rdi && copy_to_user((void *)r->rdi, tms, sizeof(tms)))
		return -EFAULT;
	return (long)(ktime_ns() / 10000000ull);	/* clock ticks (100 Hz) since boot */
}

#define PR_SET_NAME 15
#define PR_GET_NAME 16

static long sys_prctl(struct user_regs *r)
{
	struct pthr *t = pthr_current();
	switch (r->rdi) {
	case PR_SET_NAME: {
		char n[16];
		long l = strncpy_from_user(n, (const char *)r->rsi, sizeof(n));
		if (l < 0)
			return l;
		n[sizeof(n) - 1] = '\0';
		memcpy(t->name, n, sizeof(t->name));
		return 0;
	}
	case PR_GET_NAME:
		return copy_to_user((void *)r->rsi, t->name, sizeof(t->name)) ? -EFAULT : 0;
	default:
		return -EINVAL;
	}
}

void sys_basic_init(void)
{
	sys_register(60, sys_exit);
	sys_register(231, sys_exit_group);
	sys_register(39, sys_getpid);
	sys_register(186, sys_gettid);
	sys_register(102, sys_zero);	/* getuid */
	sys_register(104, sys_zero);	/* getgid */
	sys_register(107, sys_zero);	/* geteuid */
	sys_register(108, sys_zero);	/* getegid */
	sys_register(63, sys_uname);
	sys_register(228, sys_clock_gettime);
	sys_register(229, sys_clock_getres);
	sys_register(96, sys_gettimeofday);
	sys_register(201, sys_time);
	sys_register(35, sys_nanosleep);
	sys_register(230, sys_clock_nanosleep);
	sys_register(318, sys_getrandom);
	sys_register(302, sys_prlimit64);
	sys_register(97, sys_getrlimit);
	sys_register(204, sys_sched_getaffinity);
	sys_register(24, sys_sched_yield);
	sys_register(158, sys_arch_prctl);
	sys_register(218, sys_set_tid_address);
	sys_register(273, sys_set_robust_list);
	sys_register(95, sys_umask);
	sys_register(79, sys_getcwd);
	sys_register(99, sys_sysinfo);	/* partial: no load averages, one process */
	sys_register(98, sys_getrusage);	/* partial: nothing measured, zeros */
	sys_register(100, sys_times);	/* partial: CPU times are zero */
	sys_register(157, sys_prctl);	/* partial: PR_SET_NAME and PR_GET_NAME only */
	sys_register(28, sys_madvise);	/* partial: advice accepted and ignored */
}
