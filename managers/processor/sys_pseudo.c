/* Pseudo-files of the processor's Linux state layer (paper §5): devices
 * (/dev/null, zero, random, urandom, tty, console), /proc/self/exe and
 * /proc/self/fd/N (symlinks), and read-only text files of /proc and /sys
 * made afresh at each read from what this pComponent knows (the maps from
 * the home's MAPS). They live here, not on the storage: the lookup
 * (sys_lookup.c) asks this table before the storage for files, after it
 * for directories. /proc/<pid> of the calling process is an alias of
 * /proc/self (other pids: not there). The table is constant: no lock.
 * Reads and seeks of the text files move the description's offset under
 * its lock (sys_file_int.h). */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/random.h>
#include <lego/smp.h>
#include <lego/string.h>
#include <lego/time.h>
#include <lego/uaccess.h>
#include <lego/wallclock.h>
#include <uapi/lego/memory.h>
#include <lego/vpath.h>
#include "sys_file_int.h"

enum sf_text {
	SFT_VERSION,
	SFT_UPTIME,
	SFT_LOADAVG,
	SFT_MOUNTS,
	SFT_CPUINFO,
	SFT_CPU_ONLINE,
	SFT_SELF_STATUS,
	SFT_SELF_CMDLINE,
	SFT_SELF_MAPS,
	SFT_SELF_STAT,
	SFT_MEMINFO,
	SFT_STAT,
};

#define SF_TEXT_MAX (32u * 1024)

static const struct sf_pseudo sf_pseudo_table[] = {
	{ "/proc/self/exe", SFP_EXE, S_IFLNK | 0777, 0, 0, 0x7f000001, 0 },
	{ "/dev/null", SFP_NULL, S_IFCHR | 0666, 1, 3, 0x7f000002, 0 },
	{ "/dev/zero", SFP_ZERO, S_IFCHR | 0666, 1, 5, 0x7f000003, 0 },
	{ "/dev/random", SFP_RANDOM, S_IFCHR | 0666, 1, 8, 0x7f000004, 0 },
	{ "/dev/urandom", SFP_RANDOM, S_IFCHR | 0666, 1, 9, 0x7f000005, 0 },
	{ "/dev/tty", SFP_TTY, S_IFCHR | 0666, 5, 0, 0x7f000006, 0 },
	{ "/proc/version", SFP_TEXT, S_IFREG | 0444, 0, 0, 0x7f000020, SFT_VERSION },
	{ "/proc/uptime", SFP_TEXT, S_IFREG | 0444, 0, 0, 0x7f000021, SFT_UPTIME },
	{ "/proc/loadavg", SFP_TEXT, S_IFREG | 0444, 0, 0, 0x7f000022, SFT_LOADAVG },
	{ "/proc/mounts", SFP_TEXT, S_IFREG | 0444, 0, 0, 0x7f000023, SFT_MOUNTS },
	{ "/proc/cpuinfo", SFP_TEXT, S_IFREG | 0444, 0, 0, 0x7f000024, SFT_CPUINFO },
	{ "/sys/devices/system/cpu/online", SFP_TEXT, S_IFREG | 0444, 0, 0, 0x7f000025,
	  SFT_CPU_ONLINE },
	{ "/proc/self/status", SFP_TEXT, S_IFREG | 0444, 0, 0, 0x7f000026, SFT_SELF_STATUS },
	{ "/proc/self/cmdline", SFP_TEXT, S_IFREG | 0444, 0, 0, 0x7f000027, SFT_SELF_CMDLINE },
	{ "/proc/self/maps", SFP_TEXT, S_IFREG | 0444, 0, 0, 0x7f000028, SFT_SELF_MAPS },
	{ "/proc/self/stat", SFP_TEXT, S_IFREG | 0444, 0, 0, 0x7f000029, SFT_SELF_STAT },
	{ "/proc/meminfo", SFP_TEXT, S_IFREG | 0444, 0, 0, 0x7f00002a, SFT_MEMINFO },
	{ "/proc/stat", SFP_TEXT, S_IFREG | 0444, 0, 0, 0x7f00002b, SFT_STAT },
	{ "/dev/console", SFP_TTY, S_IFCHR | 0600, 5, 1, 0x7f000007, 0 },
	/* Directories: they stand in only where the storage has none. */
	{ "/proc", SFP_DIR, S_IFDIR | 0555, 0, 0, 0x7f000010, 0 },
	{ "/proc/self", SFP_DIR, S_IFDIR | 0555, 0, 0, 0x7f000011, 0 },
	{ "/proc/self/fd", SFP_DIR, S_IFDIR | 0500, 0, 0, 0x7f000017, 0 },
	{ "/dev", SFP_DIR, S_IFDIR | 0755, 0, 0, 0x7f000012, 0 },
	{ "/sys", SFP_DIR, S_IFDIR | 0555, 0, 0, 0x7f000013, 0 },
	{ "/sys/devices", SFP_DIR, S_IFDIR | 0755, 0, 0, 0x7f000014, 0 },
	{ "/sys/devices/system", SFP_DIR, S_IFDIR | 0755, 0, 0, 0x7f000015, 0 },
	{ "/sys/devices/system/cpu", SFP_DIR, S_IFDIR | 0755, 0, 0, 0x7f000016, 0 },
};

#define SF_NPSEUDO (sizeof(sf_pseudo_table) / sizeof(sf_pseudo_table[0]))

/* Every /proc/self/fd/N: one entry, N is read from the path (not in the
 * table: sf_pseudo_dirent lists the open fds instead). */
static const struct sf_pseudo sf_fd_link = {
	"/proc/self/fd/", SFP_FDLINK, S_IFLNK | 0700, 0, 0, 0x7f000100, 0
};

#define SF_FD_DIR "/proc/self/fd"
#define SF_FD_PREFIX "/proc/self/fd/"
#define SF_ALIAS_MAX 64		/* longer /proc/<pid>/... paths name nothing here */

/* s[0..n) as a decimal number without sign or leading zero: its value,
 * or -1. */
static long sf_decimal(const char *s, size_t n)
{
	long v = 0;

	if (n == 0 || n > 9 || (s[0] == '0' && n > 1))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

static int sf_self_pid(void)
{
	struct proc *p = proc_current();

	return p ? p->pid : -1;
}

const struct sf_pseudo *sf_pseudo_find(const char *path, size_t n, bool dirs)
{
	char alias[SF_ALIAS_MAX];
	size_t pl = sizeof("/proc/") - 1, fl = sizeof(SF_FD_PREFIX) - 1;

	/* /proc/<own pid>[/...] is /proc/self[/...]. */
	if (n > pl && !memcmp(path, "/proc/", pl)) {
		size_t d = pl;
		while (d < n && path[d] != '/')
			d++;
		if (sf_decimal(path + pl, d - pl) == sf_self_pid() &&
		    n - d + sizeof("/proc/self") <= sizeof(alias)) {
			memcpy(alias, "/proc/self", sizeof("/proc/self") - 1);
			memcpy(alias + sizeof("/proc/self") - 1, path + d, n - d);
			n = n - d + sizeof("/proc/self") - 1;
			path = alias;
		}
	}
	if (!dirs && n > fl && !memcmp(path, SF_FD_PREFIX, fl)) {
		/* Only the open fds are there, as on Linux (a closed one is
		 * ENOENT to lstat too). */
		struct proc *p = proc_current();
		long fd = sf_decimal(path + fl, n - fl);
		struct fd_file *f;

		if (!p || fd < 0 || sf_get(p, (int)fd, FD_NEED_ANY, &f) < 0)
			return NULL;
		fd_file_put(f);
		return &sf_fd_link;
	}
	for (size_t i = 0; i < SF_NPSEUDO; i++) {
		const struct sf_pseudo *e = &sf_pseudo_table[i];
		if ((e->kind == SFP_DIR) != dirs)
			continue;
		if (strlen(e->path) == n && memcmp(e->path, path, n) == 0)
			return e;
	}
	return NULL;
}

void sf_pseudo_st(struct proc *p, const struct sf_pseudo *e, struct lego_st_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->ino = e->ino;
	st->mode = e->mode;
	st->nlink = e->kind == SFP_DIR ? 2 : 1;
	/* Text files say 0 bytes, as Linux's /proc does: readers read to EOF. */
	if (e->kind == SFP_EXE)
		st->size = strlen(p->exe);
	else if (e->kind == SFP_FDLINK)
		st->size = 64;	/* what Linux reports for these links */
}

static long sf_link_out(const char *s, size_t len, char *buf, size_t cap)
{
	if (len > cap)
		len = cap;
	memcpy(buf, s, len);
	return (long)len;
}

/* What fd's description is, as Linux's /proc/self/fd/N link names it. */
static long sf_fd_target(struct proc *p, int fd, char *buf, size_t cap)
{
	struct fd_file *f;
	char *tmp;
	long r;
	int w;

	r = sf_get(p, fd, FD_NEED_ANY, &f);
	if (r < 0)
		return r == -EBADF ? -ENOENT : r;
	tmp = kmalloc(LEGO_ST_PATH_MAX);
	if (!tmp) {
		fd_file_put(f);
		return -ENOMEM;
	}
	switch (f->kind) {
	case FD_KIND_REG:
	case FD_KIND_DIR:
		r = sf_desc_path(f, tmp);
		if (r >= 0)
			r = sf_link_out(tmp, (size_t)r, buf, cap);
		break;
	case FD_KIND_PIPE:
		/* Both ends share the pipe object: the same number, as the
		 * same inode on Linux. */
		w = snprintf(tmp, LEGO_ST_PATH_MAX, "pipe:[%lu]",
			     (((unsigned long)f->obj >> 6) & 0xffffffu));
		r = sf_link_out(tmp, (size_t)w, buf, cap);
		break;
	case FD_KIND_CONSOLE:
		r = sf_link_out("/dev/console", sizeof("/dev/console") - 1, buf, cap);
		break;
	case FD_KIND_PSEUDO: {
		const struct sf_pseudo *e = f->obj;
		r = sf_link_out(e->path, strlen(e->path), buf, cap);
		break;
	}
	default:
		r = sf_link_out("anon_inode:[unknown]", sizeof("anon_inode:[unknown]") - 1, buf,
				cap);
		break;
	}
	kfree(tmp);
	fd_file_put(f);
	return r;
}

long sf_pseudo_readlink(struct proc *p, const struct sf_pseudo *e, const char *path, size_t n,
			char *buf, size_t cap)
{
	size_t b = n;

	switch (e->kind) {
	case SFP_EXE:
		return sf_link_out(p->exe, strlen(p->exe), buf, cap);
	case SFP_FDLINK:
		while (b && path[b - 1] != '/')
			b--;
		return sf_fd_target(p, (int)sf_decimal(path + b, n - b), buf, cap);
	default:
		return -EINVAL;
	}
}

static int sf_cpus(void)
{
	int n = atomic_read(&nr_cpus_online);

	return n > 0 ? n : 1;
}

/* The parent's pid as getppid says it (the RUN process: 1). The tree
 * fields are proc_tree_lock's (proc.c); one racy read of each is what
 * a reader of /proc sees anyway. */
static int sf_ppid(struct proc *p)
{
	struct proc *par = READ_ONCE(p->parent);

	return par ? par->pid : 1;
}

/* /proc/self/maps, a line per vma the home reports. */
struct maps_text {
	char *buf;
	size_t cap, n;
};

static int maps_line(void *ctx, const struct lego_mem_vma_rec *rec, const char *path)
{
	struct maps_text *t = ctx;
	const char *name = path;
	size_t nlen = rec->path_len;

	if (!path && (rec->flags & LEGO_MEM_VMA_HEAP)) {
		name = "[heap]";
		nlen = 6;
	} else if (!path && (rec->flags & LEGO_MEM_VMA_STACK)) {
		name = "[stack]";
		nlen = 7;
	}
	int w = linux_maps_line(t->buf + t->n, t->cap - t->n, rec->start, rec->end, rec->prot,
				rec->flags & LEGO_MEM_VMA_SHARED,
				(rec->flags & LEGO_MEM_VMA_FILE) ? rec->pgoff * PAGE_SIZE : 0,
				0, 0, 0, name, nlen);
	if (w < 0 || (size_t)w >= t->cap - t->n)
		return 1;	/* full: the first lines are what fits */
	t->n += (size_t)w;
	return 0;
}

/* Returns the length, or a negative errno. */
static long sf_maps_text(struct proc *p, char *buf, size_t cap)
{
	struct maps_text t = { buf, cap, 0 };
	int r = proc_maps_walk(p, maps_line, &t);

	return r < 0 ? r : (long)t.n;
}

/* The sum of the layout copy's ranges: the address space's size. */
static u64 sf_vsize(struct proc *p)
{
	u64 sum = 0;

	spin_lock(&p->va_lock);
	for (u32 i = 0; i < p->layout.n; i++)
		sum += p->layout.r[i].end - p->layout.r[i].start;
	spin_unlock(&p->va_lock);
	return sum;
}

static int sf_kb_line(char *buf, size_t cap, const char *name, u64 bytes)
{
	return snprintf(buf, cap, "%-15s %8llu kB\n", name, (unsigned long long)(bytes / 1024));
}

/* /proc/meminfo. MemTotal is this pComponent's RAM (the page allocator's
 * usable bytes) and MemFree what the allocator has free: the ExCache
 * lives in that RAM and the process's memory lives at the mComponents,
 * so there is no single "process memory" size. No swap, no page cache
 * (files are cached at the vNode's buffer-cache mComponent). */
static size_t sf_meminfo(char *buf, size_t cap)
{
	static const char *const zero[] = {
		"Buffers:", "Cached:", "SwapCached:", "Active:", "Inactive:", "SwapTotal:",
		"SwapFree:", "Dirty:", "Writeback:", "AnonPages:", "Mapped:", "Shmem:",
	};
	u64 total = mem_usable_bytes, free = page_alloc_free_bytes();
	size_t n = 0;
	int w;

	if (free > total)
		free = total;
	w = sf_kb_line(buf + n, cap - n, "MemTotal:", total);
	n += w > 0 ? (size_t)w : 0;
	if (n < cap) {
		w = sf_kb_line(buf + n, cap - n, "MemFree:", free);
		n += w > 0 ? (size_t)w : 0;
	}
	if (n < cap) {
		w = sf_kb_line(buf + n, cap - n, "MemAvailable:", free);
		n += w > 0 ? (size_t)w : 0;
	}
	for (size_t i = 0; i < sizeof(zero) / sizeof(zero[0]) && n < cap; i++) {
		w = sf_kb_line(buf + n, cap - n, zero[i], 0);
		n += w > 0 ? (size_t)w : 0;
	}
	return n;
}

/* /proc/stat: no per-CPU accounting, so every CPU has been idle since
 * boot; btime is the wall clock minus the uptime. */
static size_t sf_stat(struct proc *p, char *buf, size_t cap, unsigned long long ticks)
{
	unsigned long long now = wallclock_ns() / 1000000000ull, up = ticks / 100;
	int cpus = sf_cpus(), w;
	size_t n = 0;

	w = snprintf(buf, cap, "cpu  0 0 0 %llu 0 0 0 0 0 0\n", ticks * (unsigned long long)cpus);
	n += w > 0 ? (size_t)w : 0;
	for (int i = 0; i < cpus && n < cap; i++) {
		w = snprintf(buf + n, cap - n, "cpu%d 0 0 0 %llu 0 0 0 0 0 0\n", i, ticks);
		n += w > 0 ? (size_t)w : 0;
	}
	if (n < cap) {
		w = snprintf(buf + n, cap - n, "intr 0\nctxt 0\nbtime %llu\nprocesses %d\n"
			     "procs_running 1\nprocs_blocked 0\nsoftirq 0 0 0 0 0 0 0 0 0 0 0\n",
			     now > up ? now - up : 0, p->pid);
		n += w > 0 ? (size_t)w : 0;
	}
	return n;
}

/* The text of e now, into buf[0..cap): its length. */
static size_t sf_text(struct proc *p, const struct sf_pseudo *e, char *buf, size_t cap)
{
	unsigned long long t = ktime_ns() / 10000000ull;	/* hundredths of a second */
	const char *name;
	size_t n = 0;
	int cpus = sf_cpus(), w;
	struct linux_proc_stat ps;
	long r;

	switch (e->text) {
	case SFT_VERSION:
		w = snprintf(buf, cap, "Linux version 6.1.0-legoos (LegoOS splitkernel) #1 SMP\n");
		break;
	case SFT_UPTIME:
		w = snprintf(buf, cap, "%llu.%02llu %llu.%02llu\n", t / 100, t % 100,
			     t * (unsigned long long)cpus / 100, t * (unsigned long long)cpus % 100);
		break;
	case SFT_LOADAVG:
		w = snprintf(buf, cap, "0.00 0.00 0.00 %d/%d %d\n", 1, p->nr_threads, p->pid);
		break;
	case SFT_MOUNTS:
		w = snprintf(buf, cap, "vnode / legofs rw 0 0\nproc /proc proc rw 0 0\n"
			     "sysfs /sys sysfs ro 0 0\ndev /dev devtmpfs rw 0 0\n");
		break;
	case SFT_CPUINFO:
		for (int i = 0; i < cpus && n < cap; i++) {
			w = snprintf(buf + n, cap - n,
				     "processor\t: %d\nvendor_id\t: LegoOS\nmodel name\t: "
				     "LegoOS pComponent CPU\ncpu cores\t: %d\nflags\t\t: fpu "
				     "tsc sse sse2 syscall lm\n\n", i, cpus);
			if (w < 0)
				break;
			n += (size_t)w;
		}
		return n < cap ? n : cap - 1;
	case SFT_CPU_ONLINE:
		w = cpus == 1 ? snprintf(buf, cap, "0\n") : snprintf(buf, cap, "0-%d\n", cpus - 1);
		break;
	case SFT_SELF_STATUS:
		name = p->exe;
		for (const char *c = p->exe; *c; c++)
			if (*c == '/')
				name = c + 1;
		w = snprintf(buf, cap, "Name:\t%.15s\nState:\tR (running)\nTgid:\t%d\nPid:\t%d\n"
			     "PPid:\t%d\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t%d\n",
			     name, p->pid, p->pid, sf_ppid(p), p->nr_threads);
		break;
	case SFT_SELF_CMDLINE:
		n = p->cmdline_len < cap ? p->cmdline_len : cap - 1;
		memcpy(buf, p->cmdline, n);
		return n;
	case SFT_SELF_MAPS:
		r = sf_maps_text(p, buf, cap);
		if (r < 0)
			pr_warn("processor: pid %d: /proc/self/maps: error %ld\n", p->pid, r);
		return r < 0 ? 0 : (size_t)r;
	case SFT_SELF_STAT:
		memset(&ps, 0, sizeof(ps));
		ps.pid = p->pid;
		ps.ppid = sf_ppid(p);
		ps.pgrp = READ_ONCE(p->pgid);
		ps.session = READ_ONCE(p->sid);
		ps.state = 'R';		/* the reader is running */
		ps.comm = p->exe;
		ps.num_threads = READ_ONCE(p->nr_threads);
		ps.vsize = sf_vsize(p);
		ps.startstack = p->stack_top;
		ps.start_brk = p->start_brk;
		w = linux_proc_stat_format(buf, cap, &ps);
		break;
	case SFT_MEMINFO:
		n = sf_meminfo(buf, cap);
		return n < cap ? n : cap - 1;
	case SFT_STAT:
		n = sf_stat(p, buf, cap, t);
		return n < cap ? n : cap - 1;
	default:
		w = 0;
		break;
	}
	if (w < 0)
		return 0;
	return (size_t)w < cap ? (size_t)w : cap - 1;
}

static long sf_text_read(struct proc *p, struct fd_file *f, bool positional, s64 pos,
			 u8 *ubuf, u64 count)
{
	char *buf = kmalloc(SF_TEXT_MAX);
	size_t len;
	u64 n = 0;
	long r = 0;

	if (!buf)
		return -ENOMEM;
	len = sf_text(p, f->obj, buf, SF_TEXT_MAX);
	sf_desc_lock(f);
	if (!positional)
		pos = f->pos;
	if (pos >= 0 && (u64)pos < len) {
		n = len - (u64)pos < count ? len - (u64)pos : count;
		if (copy_to_user(ubuf, buf + pos, n))
			r = -EFAULT;
	}
	if (r == 0 && !positional)
		f->pos = pos + (s64)n;
	sf_desc_unlock(f);
	kfree(buf);
	return r ? r : (long)n;
}

long sf_pseudo_read(struct proc *p, struct fd_file *f, bool positional, s64 pos, u8 *ubuf,
		    u64 count)
{
	const struct sf_pseudo *e = f->obj;
	u8 buf[256];
	u64 done = 0;

	switch (e->kind) {
	case SFP_NULL:
		return 0;
	case SFP_ZERO:
		return clear_user(ubuf, count) ? -EFAULT : (long)count;
	case SFP_RANDOM:
		while (done < count) {
			u64 n = count - done < sizeof(buf) ? count - done : sizeof(buf);
			get_random_bytes(buf, n);
			if (copy_to_user(ubuf + done, buf, n))
				return done ? (long)done : -EFAULT;
			done += n;
		}
		return (long)done;
	case SFP_TEXT:
		return sf_text_read(p, f, positional, pos, ubuf, count);
	case SFP_DIR:
		return -EISDIR;
	default:
		return -EINVAL;
	}
}

long sf_pseudo_write(struct fd_file *f, u64 count)
{
	const struct sf_pseudo *e = f->obj;

	switch (e->kind) {
	case SFP_DIR:
		return -EISDIR;
	case SFP_TEXT:
		return -EACCES;	/* opened for writing only by root, and then refused */
	default:
		return (long)count;	/* devices swallow what they are given */
	}
}

long sf_pseudo_lseek(struct proc *p, struct fd_file *f, s64 off, int whence)
{
	const struct sf_pseudo *e = f->obj;
	char *buf;
	size_t len = 0;
	long r;

	if (e->kind != SFP_TEXT && e->kind != SFP_DIR) {
		/* Devices without a position: Linux's null and zero answer 0. */
		return whence < SEEK_SET || whence > SEEK_HOLE ? -EINVAL : 0;
	}
	if (e->kind == SFP_TEXT && fd_lseek_needs_size(whence)) {
		buf = kmalloc(SF_TEXT_MAX);
		if (!buf)
			return -ENOMEM;
		len = sf_text(p, e, buf, SF_TEXT_MAX);
		kfree(buf);
	}
	sf_desc_lock(f);
	r = fd_file_lseek(f, off, whence, len);
	sf_desc_unlock(f);
	return r;
}

/* A directory listing in progress: the calling thread's own, no lock.
 * The open fds are taken once before the description lock (fs_lock
 * cannot be taken under it, sys_file_int.h). */
struct sf_dir_ctx {
	const struct sf_pseudo *d;
	int *fds;			/* /proc/self/fd: the open fds, ascending */
	u32 nfds;
	int pid;			/* /proc: the caller's /proc/<pid> */
	char name[16];			/* scratch for a made-up name */
};

/* The entry at index i of pseudo directory d's listing ("." and ".."
 * first, then its children in table order, then the made-up ones), or
 * NULL past the end. */
static const char *sf_pseudo_dirent(struct sf_dir_ctx *c, s64 i, size_t *len, u8 *type,
				    u64 *ino)
{
	const struct sf_pseudo *d = c->d;
	size_t dl = strlen(d->path);
	int w;

	if (i < 2) {
		*len = (size_t)i + 1;
		*type = DT_DIR;
		*ino = d->ino;
		return "..";
	}
	i -= 2;
	for (size_t k = 0; k < SF_NPSEUDO; k++) {
		const struct sf_pseudo *e = &sf_pseudo_table[k];
		size_t el = strlen(e->path);

		if (vpath_parent_len(e->path, el) != dl || memcmp(e->path, d->path, dl) ||
		    el == dl)
			continue;
		if (i-- == 0) {
			*len = el - dl - 1;
			*type = linux_dt_from_mode(e->mode);
			*ino = e->ino;
			return e->path + dl + 1;
		}
	}
	if (c->fds && i < (s64)c->nfds) {
		w = snprintf(c->name, sizeof(c->name), "%d", c->fds[i]);
		*len = (size_t)w;
		*type = DT_LNK;
		*ino = sf_fd_link.ino + (u64)c->fds[i];
		return c->name;
	}
	if (c->pid > 0 && i == 0) {
		w = snprintf(c->name, sizeof(c->name), "%d", c->pid);
		*len = (size_t)w;
		*type = DT_DIR;
		*ino = 0x7f200000u + (u64)c->pid;
		return c->name;
	}
	return NULL;
}

/* The open fds of p into c (ascending). */
static int sf_dir_fds(struct proc *p, struct sf_dir_ctx *c)
{
	u32 cap;

	sf_fs_lock(p);
	cap = p->fds->cap;
	c->fds = kmalloc((cap ? cap : 1) * sizeof(int));
	if (!c->fds) {
		sf_fs_unlock(p);
		return -ENOMEM;
	}
	for (u32 i = 0; i < cap; i++)
		if (p->fds->slots[i].file)
			c->fds[c->nfds++] = (int)i;
	sf_fs_unlock(p);
	return 0;
}

long sf_pseudo_getdents(struct fd_file *f, u8 *ubuf, u64 count)
{
	struct proc *p = proc_current();
	struct sf_dir_ctx c = { .d = f->obj };
	u64 room = count < 4096 ? count : 4096, used = 0;
	u8 *buf;
	const char *name;
	size_t len;
	u8 type;
	u64 ino;
	s64 i;
	long r = 0;

	if (!strcmp(c.d->path, SF_FD_DIR)) {
		r = sf_dir_fds(p, &c);
		if (r)
			return r;
	} else if (!strcmp(c.d->path, "/proc")) {
		c.pid = p->pid;
	}
	buf = kmalloc(room ? room : 1);
	if (!buf) {
		kfree(c.fds);
		return -ENOMEM;
	}
	sf_desc_lock(f);
	for (i = f->pos; (name = sf_pseudo_dirent(&c, i, &len, &type, &ino)); i++) {
		u32 n = linux_dirent64_put(buf + used, room - used, ino, i + 1, type, name, len);
		if (!n)
			break;
		used += n;
	}
	if (name && !used)
		r = -EINVAL;	/* not even one record fits */
	else if (used && copy_to_user(ubuf, buf, used))
		r = -EFAULT;
	else
		f->pos = i;
	sf_desc_unlock(f);
	kfree(buf);
	kfree(c.fds);
	return r ? r : (long)used;
}
