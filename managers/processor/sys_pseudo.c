/* Pseudo-files of the processor's Linux state layer (paper §5): devices
 * (/dev/null, zero, random, urandom, tty), /proc/self/exe, and a few
 * read-only text files of /proc and /sys made afresh at each read from
 * what this pComponent knows. They live here, not on the storage: the
 * lookup (sys_lookup.c) asks this table before the storage for files,
 * after it for directories. The table is constant: no lock. Reads and
 * seeks of the text files move the description's offset under its lock
 * (sys_file_int.h). */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/random.h>
#include <lego/smp.h>
#include <lego/string.h>
#include <lego/time.h>
#include <lego/uaccess.h>
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
};

#define SF_TEXT_MAX (16u * 1024)

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
	/* Directories: they stand in only where the storage has none. */
	{ "/proc", SFP_DIR, S_IFDIR | 0555, 0, 0, 0x7f000010, 0 },
	{ "/proc/self", SFP_DIR, S_IFDIR | 0555, 0, 0, 0x7f000011, 0 },
	{ "/dev", SFP_DIR, S_IFDIR | 0755, 0, 0, 0x7f000012, 0 },
	{ "/sys", SFP_DIR, S_IFDIR | 0555, 0, 0, 0x7f000013, 0 },
	{ "/sys/devices", SFP_DIR, S_IFDIR | 0755, 0, 0, 0x7f000014, 0 },
	{ "/sys/devices/system", SFP_DIR, S_IFDIR | 0755, 0, 0, 0x7f000015, 0 },
	{ "/sys/devices/system/cpu", SFP_DIR, S_IFDIR | 0755, 0, 0, 0x7f000016, 0 },
};

#define SF_NPSEUDO (sizeof(sf_pseudo_table) / sizeof(sf_pseudo_table[0]))

const struct sf_pseudo *sf_pseudo_find(const char *path, size_t n, bool dirs)
{
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
}

static int sf_cpus(void)
{
	int n = atomic_read(&nr_cpus_online);

	return n > 0 ? n : 1;
}

/* The text of e now, into buf[0..cap): its length. */
static size_t sf_text(struct proc *p, const struct sf_pseudo *e, char *buf, size_t cap)
{
	unsigned long long t = ktime_ns() / 10000000ull;	/* hundredths of a second */
	const char *name;
	size_t n = 0;
	int cpus = sf_cpus(), w;

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
			     "PPid:\t1\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t%d\n",
			     name, p->pid, p->pid, p->nr_threads);
		break;
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

/* The entry at index i of pseudo directory d's listing ("." and ".."
 * first, then its children in table order), or NULL past the end. */
static const char *sf_pseudo_dirent(const struct sf_pseudo *d, s64 i, size_t *len, u8 *type,
				    u64 *ino)
{
	size_t dl = strlen(d->path);

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
	return NULL;
}

long sf_pseudo_getdents(struct fd_file *f, u8 *ubuf, u64 count)
{
	const struct sf_pseudo *d = f->obj;
	u64 room = count < 4096 ? count : 4096, used = 0;
	u8 *buf = kmalloc(room ? room : 1);
	const char *name;
	size_t len;
	u8 type;
	u64 ino;
	s64 i;
	long r = 0;

	if (!buf)
		return -ENOMEM;
	sf_desc_lock(f);
	for (i = f->pos; (name = sf_pseudo_dirent(d, i, &len, &type, &ino)); i++) {
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
	return r ? r : (long)used;
}
