/* Linux x86-64 records the file syscalls hand to user space: struct stat
 * (stat, fstat, lstat, newfstatat), struct statx, struct linux_dirent64
 * (getdents64) and struct iovec (readv, writev). Pure logic: built into
 * the processor monitor and into the host unit test
 * (tests/unit/test_linux_pack.c). The layouts are fixed by the Linux ABI;
 * the static asserts below pin their sizes and the test their offsets. */
#ifndef PROCESSOR_LINUX_PACK_H
#define PROCESSOR_LINUX_PACK_H

#include <lego/types.h>
#include <uapi/lego/storage.h>

/* What we know of a file, whatever answered (the storage, a pseudo-file,
 * the console); the caller's own, no lock. */
struct linux_attr {
	u64 dev, ino, nlink;
	u32 mode, uid, gid;
	u64 rdev;
	u64 size;
	u64 blocks512;		/* 512-byte units, as st_blocks counts */
	u64 mtime_ns;		/* also reported as atime and ctime */
};

/* Linux x86-64 struct stat (144 bytes). */
struct linux_stat {
	u64 st_dev;
	u64 st_ino;
	u64 st_nlink;
	u32 st_mode;
	u32 st_uid;
	u32 st_gid;
	u32 pad0;
	u64 st_rdev;
	s64 st_size;
	s64 st_blksize;
	s64 st_blocks;
	u64 st_atime_sec, st_atime_nsec;
	u64 st_mtime_sec, st_mtime_nsec;
	u64 st_ctime_sec, st_ctime_nsec;
	s64 unused[3];
};

struct linux_statx_ts {
	s64 tv_sec;
	u32 tv_nsec;
	s32 reserved;
};

/* Linux struct statx (256 bytes). */
struct linux_statx {
	u32 stx_mask;
	u32 stx_blksize;
	u64 stx_attributes;
	u32 stx_nlink;
	u32 stx_uid;
	u32 stx_gid;
	u16 stx_mode;
	u16 spare0;
	u64 stx_ino;
	u64 stx_size;
	u64 stx_blocks;
	u64 stx_attributes_mask;
	struct linux_statx_ts stx_atime, stx_btime, stx_ctime, stx_mtime;
	u32 stx_rdev_major, stx_rdev_minor;
	u32 stx_dev_major, stx_dev_minor;
	u64 spare2[14];
};

/* Linux x86-64 struct statfs (120 bytes). */
struct linux_statfs {
	s64 f_type;
	s64 f_bsize;
	u64 f_blocks;
	u64 f_bfree;
	u64 f_bavail;
	u64 f_files;
	u64 f_ffree;
	s32 f_fsid[2];
	s64 f_namelen;
	s64 f_frsize;
	s64 f_flags;
	s64 f_spare[4];
};

/* The f_type a vNode's files report ("LEGO"). */
#define LINUX_LEGOFS_MAGIC 0x4c45474fL
/* f_flags: ST_RDONLY, and ST_VALID (f_flags is meaningful). */
#define LINUX_ST_RDONLY 0x1
#define LINUX_ST_VALID 0x20

/* The fixed head of struct linux_dirent64; the name follows at offset 19. */
#define LINUX_DIRENT64_NAME_OFF 19u

struct linux_iovec {
	u64 base;
	u64 len;
};

#define LINUX_STATX_BASIC_STATS 0x7ffu	/* type..blocks, without btime */
#define LINUX_UIO_MAXIOV 1024u
/* The most one read or write moves (Linux MAX_RW_COUNT). */
#define LINUX_MAX_RW_COUNT 0x7ffff000ull
#define LINUX_BLKSIZE 4096u

_Static_assert(sizeof(struct linux_stat) == 144, "Linux x86-64 struct stat");
_Static_assert(sizeof(struct linux_statx) == 256, "Linux struct statx");
_Static_assert(sizeof(struct linux_iovec) == 16, "Linux struct iovec");
_Static_assert(sizeof(struct linux_statfs) == 120, "Linux x86-64 struct statfs");

/* Linux's 32-bit device number encoding (new_encode_dev): the form st_dev
 * and st_rdev carry. */
u64 linux_makedev(u32 major, u32 minor);
u32 linux_dev_major(u64 dev);
u32 linux_dev_minor(u64 dev);

/* The getdents64 d_type for a st_mode. */
u8 linux_dt_from_mode(u32 mode);

/* a from a storage STAT reply; dev is the vNode's device number. */
void linux_attr_from_st(struct linux_attr *a, const struct lego_st_stat *st, u64 dev);
void linux_stat_pack(struct linux_stat *out, const struct linux_attr *a);
void linux_statx_pack(struct linux_statx *out, const struct linux_attr *a);

/* statfs from a storage STATFS reply; fsid: the vNode. */
void linux_statfs_pack(struct linux_statfs *out, const struct lego_st_statfs *s, u32 fsid);

/* Bytes one dirent64 record with an nlen-byte name takes (8-aligned, the
 * name NUL-terminated). */
u32 linux_dirent64_reclen(size_t nlen);
/* Append a record at buf[0..room): returns its length, or 0 when it does
 * not fit (nothing written). Padding bytes are zeroed. */
u32 linux_dirent64_put(u8 *buf, size_t room, u64 ino, s64 off, u8 type, const char *name,
		       size_t nlen);

/* readv/writev: check n iovecs as Linux does (n > LINUX_UIO_MAXIOV or a
 * length that is negative as a ssize_t: -EINVAL) and return the total,
 * capped at LINUX_MAX_RW_COUNT (Linux shortens, it does not fail). */
s64 linux_iov_total(const struct linux_iovec *iov, u64 n);

/* /proc text (sys_pseudo.c). The program's name as Linux's comm: the
 * basename of exe cut at 15 bytes, into out[16] (NUL-terminated). */
void linux_comm(const char *exe, char out[16]);

/* One /proc/<pid>/maps line, "start-end perms offset dev inode", then the
 * name (if any) starting at column 73 as Linux aligns it, then '\n'. prot:
 * LEGO_PROT_* bits; shared: 's' instead of 'p'; off in bytes. Returns the
 * length it needs (as snprintf), buf NUL-terminated within cap. */
int linux_maps_line(char *buf, size_t cap, u64 start, u64 end, u32 prot, bool shared,
		    u64 off, u32 dev_major, u32 dev_minor, u64 ino, const char *name,
		    size_t nlen);

/* What /proc/<pid>/stat says of a process; the other fields of Linux's 52
 * are zero (or their fixed values: priority 20, tpgid -1, rsslim
 * unlimited, exit_signal SIGCHLD). The caller's own: no lock. */
struct linux_proc_stat {
	int pid, ppid, pgrp, session;
	char state;			/* 'R', 'S', ... */
	const char *comm;		/* at most 15 bytes shown */
	int num_threads;
	u64 starttime;			/* clock ticks after boot */
	u64 vsize;			/* bytes */
	u64 rss;			/* pages */
	u64 startcode, endcode, startstack;
	u64 start_brk;
	u64 arg_start, arg_end;
};

/* The one line of /proc/<pid>/stat, '\n'-terminated. Returns as snprintf. */
int linux_proc_stat_format(char *buf, size_t cap, const struct linux_proc_stat *s);

#endif
