/* Linux x86-64 stat, statx, dirent64 and iovec records (see linux_pack.h).
 * Pure logic: the kernel and the host unit test build this same file. */
#include "linux_pack.h"
#include <lego/errno.h>
#include <uapi/lego/linux_abi.h>
#ifdef __KERNEL_HOSTTEST__
#include <stdio.h>
#include <string.h>
#else
#include <lego/printk.h>
#include <lego/string.h>
#endif

u64 linux_makedev(u32 major, u32 minor)
{
	/* Low 8 minor bits, then 12 major bits, then the high minor bits. */
	return (u64)((minor & 0xffu) | ((major & 0xfffu) << 8) | ((minor & ~0xffu) << 12));
}

u32 linux_dev_major(u64 dev)
{
	return (u32)((dev >> 8) & 0xfffu);
}

u32 linux_dev_minor(u64 dev)
{
	return (u32)((dev & 0xffu) | ((dev >> 12) & 0xfff00u));
}

u8 linux_dt_from_mode(u32 mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return DT_REG;
	case S_IFDIR: return DT_DIR;
	case S_IFLNK: return DT_LNK;
	case S_IFCHR: return DT_CHR;
	case S_IFBLK: return DT_BLK;
	case S_IFIFO: return DT_FIFO;
	case S_IFSOCK: return DT_SOCK;
	default: return DT_UNKNOWN;
	}
}

void linux_attr_from_st(struct linux_attr *a, const struct lego_st_stat *st, u64 dev)
{
	memset(a, 0, sizeof(*a));
	a->dev = dev;
	a->ino = st->ino;
	a->nlink = st->nlink;
	a->mode = st->mode;
	a->uid = st->uid;
	a->gid = st->gid;
	a->size = st->size;
	/* The storage counts 4 KiB blocks. */
	a->blocks512 = st->blocks * 8;
	a->mtime_ns = st->mtime_ns;
}

void linux_stat_pack(struct linux_stat *out, const struct linux_attr *a)
{
	u64 sec = a->mtime_ns / 1000000000ull, nsec = a->mtime_ns % 1000000000ull;

	memset(out, 0, sizeof(*out));
	out->st_dev = a->dev;
	out->st_ino = a->ino;
	out->st_nlink = a->nlink;
	out->st_mode = a->mode;
	out->st_uid = a->uid;
	out->st_gid = a->gid;
	out->st_rdev = a->rdev;
	out->st_size = (s64)a->size;
	out->st_blksize = LINUX_BLKSIZE;
	out->st_blocks = (s64)a->blocks512;
	/* The storage keeps one time: it stands for all three. */
	out->st_atime_sec = out->st_mtime_sec = out->st_ctime_sec = sec;
	out->st_atime_nsec = out->st_mtime_nsec = out->st_ctime_nsec = nsec;
}

void linux_statx_pack(struct linux_statx *out, const struct linux_attr *a)
{
	struct linux_statx_ts t;

	memset(out, 0, sizeof(*out));
	memset(&t, 0, sizeof(t));
	t.tv_sec = (s64)(a->mtime_ns / 1000000000ull);
	t.tv_nsec = (u32)(a->mtime_ns % 1000000000ull);
	out->stx_mask = LINUX_STATX_BASIC_STATS;
	out->stx_blksize = LINUX_BLKSIZE;
	out->stx_nlink = (u32)a->nlink;
	out->stx_uid = a->uid;
	out->stx_gid = a->gid;
	out->stx_mode = (u16)a->mode;
	out->stx_ino = a->ino;
	out->stx_size = a->size;
	out->stx_blocks = a->blocks512;
	out->stx_atime = t;
	out->stx_ctime = t;
	out->stx_mtime = t;
	out->stx_rdev_major = linux_dev_major(a->rdev);
	out->stx_rdev_minor = linux_dev_minor(a->rdev);
	out->stx_dev_major = linux_dev_major(a->dev);
	out->stx_dev_minor = linux_dev_minor(a->dev);
}

void linux_statfs_pack(struct linux_statfs *out, const struct lego_st_statfs *s, u32 fsid)
{
	u64 bs = s->block_size ? s->block_size : LINUX_BLKSIZE;

	memset(out, 0, sizeof(*out));
	out->f_type = LINUX_LEGOFS_MAGIC;
	out->f_bsize = (s64)bs;
	out->f_frsize = (s64)bs;
	out->f_blocks = s->total_bytes / bs;
	out->f_bfree = s->free_bytes / bs;
	/* No blocks are kept back for root. */
	out->f_bavail = out->f_bfree;
	out->f_files = s->total_inodes;
	out->f_ffree = s->free_inodes;
	out->f_fsid[0] = (s32)fsid;
	out->f_namelen = LEGO_ST_NAME_MAX;
	out->f_flags = LINUX_ST_VALID |
		       (s->state == LEGO_ST_STATE_OK ? 0 : LINUX_ST_RDONLY);
}

u32 linux_dirent64_reclen(size_t nlen)
{
	return (u32)((LINUX_DIRENT64_NAME_OFF + nlen + 1 + 7) & ~(size_t)7);
}

u32 linux_dirent64_put(u8 *buf, size_t room, u64 ino, s64 off, u8 type, const char *name,
		       size_t nlen)
{
	u32 len = linux_dirent64_reclen(nlen);
	u16 rl = (u16)len;

	if (len > room)
		return 0;
	memset(buf, 0, len);
	/* The record is only byte-aligned within a caller's buffer. */
	memcpy(buf, &ino, 8);
	memcpy(buf + 8, &off, 8);
	memcpy(buf + 16, &rl, 2);
	buf[18] = type;
	memcpy(buf + LINUX_DIRENT64_NAME_OFF, name, nlen);
	return len;
}

s64 linux_iov_total(const struct linux_iovec *iov, u64 n)
{
	u64 total = 0;

	if (n > LINUX_UIO_MAXIOV)
		return -EINVAL;
	for (u64 i = 0; i < n; i++) {
		if (iov[i].len > (u64)(~0ull >> 1))
			return -EINVAL;
		if (iov[i].len > LINUX_MAX_RW_COUNT - total) {
			total = LINUX_MAX_RW_COUNT;
			continue;
		}
		total += iov[i].len;
	}
	return (s64)total;
}

void linux_comm(const char *exe, char out[16])
{
	const char *name = exe;
	size_t n = 0;

	for (const char *c = exe; *c; c++)
		if (*c == '/')
			name = c + 1;
	while (n < 15 && name[n]) {
		out[n] = name[n];
		n++;
	}
	out[n] = '\0';
}

/* Linux pads the head of a maps line to 72 columns before the space that
 * precedes the name (25 + 6 * sizeof(void *) - 1). */
#define LINUX_MAPS_NAME_COL 72

int linux_maps_line(char *buf, size_t cap, u64 start, u64 end, u32 prot, bool shared,
		    u64 off, u32 dev_major, u32 dev_minor, u64 ino, const char *name,
		    size_t nlen)
{
	size_t n, need;
	int w;

	w = snprintf(buf, cap, "%08llx-%08llx %c%c%c%c %08llx %02x:%02x %llu ",
		     (unsigned long long)start, (unsigned long long)end,
		     (prot & 0x1u) ? 'r' : '-', (prot & 0x2u) ? 'w' : '-',
		     (prot & 0x4u) ? 'x' : '-', shared ? 's' : 'p', (unsigned long long)off,
		     dev_major, dev_minor, (unsigned long long)ino);
	if (w < 0)
		return w;
	n = (size_t)w;
	if (nlen) {
		size_t pad = n < LINUX_MAPS_NAME_COL ? LINUX_MAPS_NAME_COL - n : 0;
		for (size_t i = 0; i < pad + 1; i++, n++)
			if (n + 1 < cap)
				buf[n] = ' ';
		for (size_t i = 0; i < nlen; i++, n++)
			if (n + 1 < cap)
				buf[n] = name[i];
	}
	if (n + 1 < cap)
		buf[n] = '\n';
	n++;
	need = n;
	if (cap)
		buf[need < cap ? need : cap - 1] = '\0';
	return (int)need;
}

int linux_proc_stat_format(char *buf, size_t cap, const struct linux_proc_stat *s)
{
	/* Fields 4..52 of proc(5), in order; the signed ones say so. */
	const long long v[] = {
		s->ppid, s->pgrp, s->session,
		0, -1,				/* tty_nr, tpgid */
		0, 0, 0, 0, 0,			/* flags, minflt, cminflt, majflt, cmajflt */
		0, 0, 0, 0,			/* utime, stime, cutime, cstime */
		20, 0,				/* priority, nice */
		s->num_threads, 0,		/* num_threads, itrealvalue */
		(long long)s->starttime, (long long)s->vsize, (long long)s->rss,
		-1,				/* rsslim: printed unsigned, unlimited */
		(long long)s->startcode, (long long)s->endcode, (long long)s->startstack,
		0, 0,				/* kstkesp, kstkeip */
		0, 0, 0, 0,			/* signal, blocked, sigignore, sigcatch */
		0, 0, 0,			/* wchan, nswap, cnswap */
		17, 0, 0, 0,			/* exit_signal, processor, rt_priority, policy */
		0, 0, 0,			/* delayacct_blkio_ticks, guest_time, cguest_time */
		0, 0,				/* start_data, end_data */
		(long long)s->start_brk, (long long)s->arg_start, (long long)s->arg_end,
		0, 0,				/* env_start, env_end */
		0,				/* exit_code */
	};
	char comm[16];
	size_t n;
	int w;

	_Static_assert(sizeof(v) / sizeof(v[0]) == 49, "fields 4..52");
	linux_comm(s->comm, comm);
	w = snprintf(buf, cap, "%d (%s) %c", s->pid, comm, s->state);
	if (w < 0)
		return w;
	n = (size_t)w;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		/* Field 25 (rsslim, i == 21) is unsigned; the rest print as
		 * Linux does, tpgid (i == 4) signed. */
		if (i == 21)
			w = snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, " %llu",
				     (unsigned long long)v[i]);
		else
			w = snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, " %lld",
				     v[i]);
		if (w < 0)
			return w;
		n += (size_t)w;
	}
	w = snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, "\n");
	if (w < 0)
		return w;
	return (int)(n + (size_t)w);
}
