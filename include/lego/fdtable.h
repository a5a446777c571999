/*
 * Per-process open-file state of the processor monitor's Linux state layer
 * (paper §4.3.3). The storage service is stateless (storage.h): every
 * request names the full path and an absolute offset. So the Linux notion
 * of an open file lives here, on the pComponent: a table of fd slots per
 * process, each pointing at an open file description (struct fd_file)
 * holding the full path, the status flags and the offset, shared by dup'ed
 * fds and across fork. The helpers turn a syscall on a description into
 * storage request fields and fold the reply back into the offset.
 * Design: docs/processor-state.md.
 *
 * Pure logic: compiles in the kernel and on the host. Memory comes only
 * from the caller's allocator (struct fd_ops); nothing here sleeps except
 * inside those callbacks.
 *
 * Locking (the caller's):
 *  - struct fd_table: one lock per table, held by the caller around every
 *    fd_table_*() call.
 *  - struct fd_file refs: atomic (a description can be reachable from
 *    several tables, each under its own lock).
 *  - struct fd_file path, flags, pos, dir: the description's lock, which
 *    the caller supplies through fd_ops.lock/unlock (NULL: the caller
 *    guarantees a single thread). fd_table_*() functions take it themselves
 *    when they touch those fields (table lock first, then description);
 *    callers hold it around fd_file_*() calls, and across a whole
 *    prep -> RPC -> done sequence when the offset must move atomically
 *    (Linux's f_pos_lock).
 */
#ifndef LEGO_FDTABLE_H
#define LEGO_FDTABLE_H

#include <lego/types.h>
#include <uapi/lego/storage.h>
#include <uapi/lego/linux_abi.h>

struct fd_file;

/* The caller's services. Shared by every table and description that uses
 * it; must outlive them; never changed, so no lock. */
struct fd_ops {
	void *(*alloc)(size_t size, void *ctx);		/* NULL when out of memory */
	void (*free)(void *p, void *ctx);
	/* Optional: the last reference of f is going away (a pipe end closed,
	 * a device released); f->obj is still set. */
	void (*release)(struct fd_file *f, void *ctx);
	/* Optional: the description lock (see above). */
	void (*lock)(struct fd_file *f, void *ctx);
	void (*unlock)(struct fd_file *f, void *ctx);
	void *ctx;
};

enum fd_kind {
	FD_KIND_REG = 1,	/* regular file on the storage service */
	FD_KIND_DIR,		/* directory on the storage service */
	FD_KIND_PIPE,		/* one end of a pipe; the access mode says which */
	FD_KIND_PSEUDO,		/* pseudo-file or device (/proc, /dev/null, ...) */
	FD_KIND_CONSOLE,	/* stdio on the console */
};

/*
 * Cursor of getdents64 on a directory. The storage's READDIR cookies are
 * full 64-bit hashes, but a file offset (telldir, lseek, d_off) must not be
 * negative, so the position f->pos is cookie >> 1; seeking to a position p
 * resumes at cookie p << 1, which may return once more the entry the
 * position was taken after, never skip one.
 */
struct fd_dir_cursor {		/* part of fd_file: the description lock */
	u64 cookie;		/* READDIR resumes after this (0: the start) */
	u8 dots;		/* how many of "." and ".." were returned (0..2) */
	bool eof;		/* the storage said the directory ended */
};

/* An open file description. */
struct fd_file {
	/* Set by fd_file_new, then constant: no lock. */
	const struct fd_ops *ops;
	enum fd_kind kind;
	u32 mode;		/* the O_ACCMODE and O_PATH bits of flags */
	void *obj;		/* the caller's object (pipe, device); not owned */
	void *priv;		/* the caller's (e.g. its description lock) */

	long refs;		/* atomic: fd slots + fd_file_get holders */

	/* The description lock (fd_ops.lock). */
	char *path;		/* full storage path, NUL-terminated ("" for pipes) */
	u16 path_len;
	bool stale;		/* renamed beyond LEGO_ST_PATH_MAX: I/O gives -ESTALE */
	u32 flags;		/* access mode | status flags, as F_GETFL returns */
	s64 pos;		/* the file offset; directories: see fd_dir_cursor */
	struct fd_dir_cursor dir;
};

/* One fd slot; the table lock. */
struct fd_slot {
	struct fd_file *file;	/* NULL: the fd is free */
	u32 fdflags;		/* FD_CLOEXEC */
};

/* A process's fd table. All fields: the table lock (see above). */
struct fd_table {
	const struct fd_ops *ops;
	struct fd_slot *slots;	/* slots[0..cap), from ops->alloc */
	u32 cap;
	u32 nopen;		/* slots in use */
	u32 limit;		/* RLIMIT_NOFILE soft limit: fds are < limit */
};

/* ---- descriptions ---- */

/*
 * A new description with one reference (the caller's), position 0.
 * flags are the open(2) flags: fd_file_new keeps what F_GETFL reports
 * (fd_open_status_flags()). Regular files and directories need a path that
 * passes lego_path_check(); other kinds take any path (may be empty).
 * Returns -EINVAL or -ENAMETOOLONG for a bad path, -ENOMEM.
 */
int fd_file_new(const struct fd_ops *ops, enum fd_kind kind, const char *path,
		size_t path_len, u32 flags, void *obj, struct fd_file **out);
void fd_file_get(struct fd_file *f);
/* Drop a reference; the last one calls ops->release and frees f. */
void fd_file_put(struct fd_file *f);
long fd_file_refs(const struct fd_file *f);

/* ---- open(2) flag handling ---- */

/* Refuse what the layer does not support: O_TMPFILE (-EOPNOTSUPP),
 * O_CREAT | O_DIRECTORY (-EINVAL, as Linux since 6.4). */
int fd_open_check(u32 oflags);
/* What F_GETFL will report for a description opened with oflags: the
 * creation-time flags (O_CREAT, O_EXCL, O_NOCTTY, O_TRUNC, O_CLOEXEC) are
 * dropped, O_LARGEFILE is added for storage files (x86-64 forces it),
 * O_PATH keeps only O_PATH, O_DIRECTORY and O_NOFOLLOW. */
u32 fd_open_status_flags(u32 oflags, enum fd_kind kind);
/* The storage CREATE flags (LEGO_ST_O_*) that O_CREAT with oflags needs. */
u32 fd_open_create_flags(u32 oflags);

/* ---- the table ---- */

/* An empty table with the given RLIMIT_NOFILE (LINUX_NOFILE_CUR by default).
 * Allocates nothing until the first install. */
void fd_table_init(struct fd_table *t, const struct fd_ops *ops, u32 limit);
/* Close every fd and free the slots (process exit). */
void fd_table_destroy(struct fd_table *t);
/* Set RLIMIT_NOFILE: at most LINUX_NR_OPEN (-EPERM above it, as Linux).
 * Open fds at or above a lowered limit stay open. */
int fd_table_set_limit(struct fd_table *t, u32 limit);

/*
 * Put f at the lowest free fd >= minfd (open, pipe, F_DUPFD, dup) with
 * fdflags (FD_CLOEXEC or 0). The slot takes its own reference; the
 * caller's stays the caller's. Returns the fd, -EINVAL when minfd is
 * negative or not below the limit, -EMFILE when no fd below the limit is
 * free, -ENOMEM.
 */
int fd_table_install(struct fd_table *t, struct fd_file *f, int minfd, u32 fdflags);

/* What a lookup needs the description to allow. */
enum fd_need {
	FD_NEED_ANY,		/* fstat, fchdir, F_GETFD: any fd, O_PATH ones too */
	FD_NEED_IO,		/* lseek, getdents, fsync: not O_PATH */
	FD_NEED_READ,		/* read, pread: opened for reading */
	FD_NEED_WRITE,		/* write, pwrite, ftruncate: opened for writing */
};

/* The description behind fd with a reference for the caller (release it
 * with fd_file_put). -EBADF for a free or out-of-range fd, or one whose
 * access mode does not allow need. */
int fd_table_get(struct fd_table *t, int fd, enum fd_need need, struct fd_file **out);

/* close(2): 0 or -EBADF. */
int fd_table_close(struct fd_table *t, int fd);
/* dup(2): the lowest free fd, without FD_CLOEXEC. */
int fd_table_dup(struct fd_table *t, int oldfd);
/* dup2(2): newfd (closing what it held) or -EBADF (oldfd not open, newfd
 * negative or not below the limit), -ENOMEM. oldfd == newfd just checks
 * oldfd. FD_CLOEXEC on newfd is cleared. */
int fd_table_dup2(struct fd_table *t, int oldfd, int newfd);
/* dup3(2): as dup2 with FD_CLOEXEC from O_CLOEXEC in flags; -EINVAL for
 * other flags or oldfd == newfd (checked before the fds, as Linux). */
int fd_table_dup3(struct fd_table *t, int oldfd, int newfd, u32 flags);
/*
 * fcntl(2) F_DUPFD, F_DUPFD_CLOEXEC, F_GETFD, F_SETFD, F_GETFL, F_SETFL
 * (only O_APPEND and O_NONBLOCK change; other bits are ignored). Returns
 * the command's result, -EBADF (F_SETFL also on O_PATH fds), or
 * -EINVAL for another command or a bad F_DUPFD argument. Locks, owners and
 * the rest are the caller's to handle before calling this.
 */
long fd_table_fcntl(struct fd_table *t, int fd, int cmd, u64 arg);
/* execve: close every fd marked FD_CLOEXEC. */
void fd_table_cloexec(struct fd_table *t);
/* fork: dst (uninitialised) gets src's fds and FD_CLOEXEC flags, sharing
 * the descriptions (refs bumped) and the limit. 0 or -ENOMEM (dst then
 * holds nothing). */
int fd_table_fork(struct fd_table *dst, const struct fd_table *src);

/*
 * After a successful storage RENAME from -> to (normalised paths): every
 * description in t whose path is from or lies below it gets the new path,
 * so its fds keep working, as on Linux where an open file follows its
 * inode. Descriptions shared with other tables see the change too (they
 * are the same description); tables holding other descriptions of the file
 * need their own call. A path that would grow past LEGO_ST_PATH_MAX makes
 * its description stale (-ESTALE on I/O). Returns the number of
 * descriptions changed, or -ENOMEM with nothing changed.
 */
int fd_table_rename(struct fd_table *t, const char *from, size_t fn,
		    const char *to, size_t tn);

/* ---- per-description operations (caller holds the description lock) ---- */

/*
 * lseek(2) on f: the new position, stored in f->pos. size is the file's
 * size, needed only for SEEK_END, SEEK_DATA and SEEK_HOLE
 * (fd_lseek_needs_size()). Errors: -ESPIPE on pipes and the console,
 * -EINVAL for a bad whence or a result that is negative or beyond
 * LEGO_ST_MAX_FILE_SIZE, -EOVERFLOW when pos + offset overflows 64 bits,
 * -ENXIO for SEEK_DATA/SEEK_HOLE at or past the end (the storage reports no
 * holes, so the whole file counts as data). Directories take SEEK_SET and
 * SEEK_CUR on their position (any non-negative value; 0 rewinds, "." and
 * ".." included) and -EINVAL for the other whences; pseudo-files/devices
 * behave like regular files with the size given.
 */
s64 fd_file_lseek(struct fd_file *f, s64 offset, int whence, u64 size);
bool fd_lseek_needs_size(int whence);

enum fd_io_dir {
	FD_IO_READ,
	FD_IO_WRITE,
};

/* One storage I/O request being carried out for a syscall; the calling
 * thread's own (on its stack), no lock. */
struct fd_io {
	u16 op;			/* LEGO_OP_ST_READ, _WRITE or _APPEND */
	enum fd_io_dir dir;
	bool positional;	/* pread/pwrite: f->pos stays */
	u64 off, len;		/* as sent (off unused by APPEND) */
};

/*
 * Storage request for read/write (positional false: at f->pos) or
 * pread/pwrite (at pos) of count bytes on a regular file: fills hdr
 * (vnode, op fields, path_len) and copies the path, NUL-terminated, to
 * path_out (LEGO_ST_PATH_MAX bytes), so that the request no longer refers
 * to f. The length is capped at LEGO_ST_IO_MAX (the caller loops, like a
 * short read or write) and at the storage's maximum file size. io->len 0
 * means: no request, the syscall returns 0. Writes to an O_APPEND
 * description use APPEND, pwrite included (Linux appends there too).
 * Errors: -EBADF (access mode, O_PATH), -EISDIR (read of a directory),
 * -ESPIPE (positional on a pipe or the console), -EINVAL (negative pos,
 * other non-storage kinds), -EFBIG (write at or past the maximum size),
 * -ESTALE.
 */
int fd_file_io_prep(struct fd_file *f, enum fd_io_dir dir, bool positional, s64 pos,
		    u64 count, u32 vnode, struct lego_st_req *hdr, char *path_out,
		    struct fd_io *io);
/*
 * The storage answered io with done bytes (READ: the reply's length; WRITE:
 * lego_st_count.value) and, for APPEND, reply_off (the offset the data
 * went to; 0 otherwise). Moves f->pos unless positional: read/write
 * advance by done, an append leaves it at reply_off + done. Returns done,
 * or -EPROTO for a reply larger than the request or beyond the maximum
 * file size (f unchanged).
 */
s64 fd_file_io_done(struct fd_file *f, const struct fd_io *io, u64 done, u64 reply_off);

/*
 * getdents64: the READDIR request for f's cursor (hdr and path_out as for
 * I/O; off = cookie, len = max_entries capped to 1..LEGO_ST_READDIR_MAX).
 * The caller first returns the pending "." and ".." entries
 * (fd_dir_dots_pending), then the entries of the reply that fit the user's
 * buffer, and records the cookie of the last one it used with
 * fd_dir_advance, or fd_dir_set_eof for a reply of count 0.
 * Returns 0, or 1 without a request when the directory already ended
 * (until a rewind); -ENOTDIR unless f is a directory, -EBADF for O_PATH,
 * -ESTALE.
 */
int fd_file_readdir_prep(struct fd_file *f, u32 vnode, u32 max_entries,
			 struct lego_st_req *hdr, char *path_out);
/* 2 - f->dir.dots; fd_dir_dot_done counts one as returned. The position
 * stays 0 until the first real entry, so a rewind repeats the dots. */
u32 fd_dir_dots_pending(const struct fd_file *f);
void fd_dir_dot_done(struct fd_file *f);
void fd_dir_advance(struct fd_file *f, u64 cookie);
void fd_dir_set_eof(struct fd_file *f);

#endif
