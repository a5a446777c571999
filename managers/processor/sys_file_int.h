/* What the file syscall files (sys_file.c, sys_stat.c, sys_path.c) share:
 * path lookup through the vpath walk, the pseudo-file table, the
 * description locks and a few storage helpers. Not for other callers:
 * they use sys_file.h.
 *
 * Locking, outermost first (proc.h's order extended): p->mm_lock,
 * p->fs_lock, then at most one description lock (sf_desc_lock), which a
 * thread holds across the storage RPCs of one read/write/getdents/lseek so
 * that the offset moves atomically (Linux's f_pos_lock). A description's
 * path changes only under fs_lock plus every description lock (a rename's
 * fixup, sf_rename_fixup), so either lock alone makes reading it safe.
 * Never take fs_lock while holding a description lock, and never copy
 * to or from user memory under fs_lock (a user fault may need mm_lock). */
#ifndef PROCESSOR_SYS_FILE_INT_H
#define PROCESSOR_SYS_FILE_INT_H

#include <lego/types.h>
#include <lego/vpath.h>
#include <lego/fdtable.h>
#include <uapi/lego/storage.h>
#include <uapi/lego/linux_abi.h>
#include "linux_pack.h"
#include "proc.h"

/* Pseudo-files (paper §5): a few devices and /proc/self/exe. */
enum sf_pseudo_kind {
	SFP_DIR,		/* only when the vNode's storage has no such directory */
	SFP_EXE,		/* symlink to the process's program */
	SFP_NULL,
	SFP_ZERO,
	SFP_RANDOM,
	SFP_TTY,		/* the console */
	SFP_TEXT,		/* read-only text made at each read (/proc/...) */
	SFP_FDLINK,		/* /proc/self/fd/N: symlink to what fd N is */
};

struct sf_pseudo {		/* constant table */
	const char *path;
	enum sf_pseudo_kind kind;
	u32 mode;
	u32 rdev_major, rdev_minor;
	u32 ino;
	int text;		/* SFP_TEXT: which (sys_pseudo.c) */
};

/* sys_pseudo.c. The pseudo-file at path (dirs: the directories, which
 * stand in only where the storage has none; else the files), for the
 * calling process (/proc/<its pid> is /proc/self). /proc/self/fd/N looks
 * at the fd table: takes fs_lock, so never call this under it. */
const struct sf_pseudo *sf_pseudo_find(const char *path, size_t n, bool dirs);
/* The target of pseudo symlink e found at path[0..n) (/proc/self/exe,
 * /proc/self/fd/N): its length, into buf (no NUL); -EINVAL for other
 * kinds, -ENOENT for a closed fd. Takes fs_lock: not under it. */
long sf_pseudo_readlink(struct proc *p, const struct sf_pseudo *e, const char *path, size_t n,
			char *buf, size_t cap);
/* What a storage STAT would say of e. */
void sf_pseudo_st(struct proc *p, const struct sf_pseudo *e, struct lego_st_stat *st);
/* read/pread, write, lseek of an open pseudo-file (f->obj is its entry). */
long sf_pseudo_read(struct proc *p, struct fd_file *f, bool positional, s64 pos, u8 *ubuf,
		    u64 count);
long sf_pseudo_write(struct fd_file *f, u64 count);
long sf_pseudo_lseek(struct proc *p, struct fd_file *f, s64 off, int whence);
/* getdents64 of a pseudo directory: its pseudo-files. */
long sf_pseudo_getdents(struct fd_file *f, u8 *ubuf, u64 count);

/* One path lookup in progress (about 15 KiB: kmalloc'ed, never on the
 * stack). The calling thread's own: no lock. */
struct sf_lookup {
	struct vpath_walk w;		/* w.done: the resolved storage path */
	struct lego_st_stat st;		/* the final object, when exists */
	const struct sf_pseudo *pseudo;	/* the final object is this pseudo-file */
	bool exists;
	size_t ulen;
	char upath[LINUX_PATH_MAX];	/* the user's path */
	char base[LEGO_ST_PATH_MAX];	/* the cwd or the dirfd's path */
	char link[LINUX_PATH_MAX];	/* link targets; scratch for callers */
};

/* Lookup flags. */
#define SF_FOLLOW 0x1		/* follow a symlink in the final component */
#define SF_EMPTY 0x2		/* "" names the dirfd itself (AT_EMPTY_PATH) */

struct sf_lookup *sf_lookup_alloc(void);
void sf_lookup_free(struct sf_lookup *l);
/* Copy the user's path into l: -EFAULT, -ENAMETOOLONG; a NULL pointer is
 * -EFAULT (or "" when null_ok). */
int sf_copy_upath(struct sf_lookup *l, const char *upath, bool null_ok);
/*
 * Resolve l->upath against dirfd (AT_FDCWD: the cwd), following links on
 * the way. 0 with l->exists telling whether the final object is there
 * (then l->st/l->pseudo describe it), or -ENOENT for a missing directory
 * on the way, -ENOTDIR, -ELOOP, -ENAMETOOLONG, -EBADF, storage errors.
 */
int sf_resolve(struct proc *p, int dirfd, struct sf_lookup *l, unsigned int flags);
/* sf_copy_upath + sf_resolve. */
int sf_lookup_user(struct proc *p, int dirfd, const char *upath, unsigned int flags,
		   struct sf_lookup *l);

/* The storage calls with a path (no NUL needed). */
int sf_st_stat(struct proc *p, const char *path, size_t n, struct lego_st_stat *st);
int sf_st_simple(struct proc *p, u16 op, const char *path, size_t n, u32 mode, u64 off,
		 u32 flags);

/* The attributes of what a lookup found (it must exist). */
void sf_lookup_attr(struct proc *p, const struct sf_lookup *l, struct linux_attr *a);
/* The attributes of an open description. */
int sf_file_attr(struct proc *p, struct fd_file *f, struct linux_attr *a);
/* Target of a symlink the lookup found: its length, into buf (no NUL). */
long sf_readlink_found(struct proc *p, const struct sf_lookup *l, char *buf, size_t cap);

u64 sf_vnode_dev(struct proc *p);

/* fs_lock (plus the bookkeeping the console needs). */
void sf_fs_lock(struct proc *p);
void sf_fs_unlock(struct proc *p);
/* fd -> description with a reference (fd_file_put it). */
int sf_get(struct proc *p, int fd, enum fd_need need, struct fd_file **out);

void sf_desc_lock(struct fd_file *f);
void sf_desc_unlock(struct fd_file *f);
/* The path of f copied out (buf: LEGO_ST_PATH_MAX), under its lock. */
int sf_desc_path(struct fd_file *f, char *buf);

/* After a successful storage RENAME: every open description and the cwd
 * follow the renamed object. */
void sf_rename_fixup(struct proc *p, const char *from, size_t fn, const char *to, size_t tn);

void sys_stat_init(void);
void sys_path_init(void);

#endif
