/* File syscalls of the processor monitor: the Linux state layer (paper
 * §4.3.3) turning open/read/write/lseek/getdents64/... on a process's fd
 * table into stateless requests (full path + offset, storage.h) sent
 * through the vNode's buffer-cache mComponent (proc_st_call, §4.5). This
 * file holds the locks, open and the fd syscalls (read/write, lseek,
 * getdents64, dup, fcntl, ioctl, fsync, mmap's path); sys_lookup.c the
 * path lookup, sys_pseudo.c the pseudo-files, sys_stat.c the stat family,
 * sys_path.c the namespace changes. Locking: sys_file_int.h. */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/mutex.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/uaccess.h>
#include <lego/vpath.h>
#include "sys_file.h"
#include "sys_file_int.h"
#include "pipe.h"

/* ------------------------------------------------------------------ */
/* Description locks                                                   */

/*
 * The fd table's descriptions carry no lock of their own (proc.c's fd_ops
 * have none), so descriptions hash onto a fixed set of mutexes. Two
 * descriptions sharing a mutex only serialise each other; a thread holds
 * at most one of them, except sf_rename_fixup, which takes all in index
 * order under fs_lock.
 */
#define SF_DESC_LOCKS 32
static struct mutex sf_desc_mutex[SF_DESC_LOCKS];

static struct mutex *sf_desc_mutex_of(struct fd_file *f)
{
	return &sf_desc_mutex[((uintptr_t)f >> 6) % SF_DESC_LOCKS];
}

void sf_desc_lock(struct fd_file *f)
{
	mutex_lock(sf_desc_mutex_of(f));
}

void sf_desc_unlock(struct fd_file *f)
{
	mutex_unlock(sf_desc_mutex_of(f));
}

int sf_desc_path(struct fd_file *f, char *buf)
{
	int r;

	sf_desc_lock(f);
	if (f->stale) {
		r = -ESTALE;
	} else {
		memcpy(buf, f->path, (size_t)f->path_len + 1);
		r = f->path_len;
	}
	sf_desc_unlock(f);
	return r;
}

/* ------------------------------------------------------------------ */
/* The fd table                                                        */

/*
 * Console descriptions are created by proc.c without saying which stream
 * they are. Every fd table change goes through sf_fs_lock, and before the
 * first one fds 0-2 still hold the original descriptions, so tagging
 * untagged console descriptions by their slot here pins fd 1 -> stdout and
 * fd 2 -> stderr for good: a later dup2(1, 5) writes to stdout.
 * priv: 0 untagged, else stream + 1 (set under fs_lock, then constant).
 */
static void sf_console_tag(struct proc *p)
{
	struct fd_table *t = p->fds;

	for (u32 fd = 0; fd < 3 && fd < t->cap; fd++) {
		struct fd_file *f = t->slots[fd].file;
		if (f && f->kind == FD_KIND_CONSOLE && !f->priv)
			f->priv = (void *)(uintptr_t)(fd + 1);
	}
}

static u32 sf_console_stream(struct fd_file *f)
{
	u32 s = (u32)(uintptr_t)f->priv;

	if (s)
		s--;
	else
		s = (f->mode & O_ACCMODE) == O_RDONLY ? 0 : 1;
	/* Output written to the stdin description goes to stdout, as a
	 * terminal opened read-write would show it. */
	return s == 0 ? 1 : s;
}

void sf_fs_lock(struct proc *p)
{
	mutex_lock(&p->fs_lock);
	sf_console_tag(p);
}

void sf_fs_unlock(struct proc *p)
{
	mutex_unlock(&p->fs_lock);
}

int sf_get(struct proc *p, int fd, enum fd_need need, struct fd_file **out)
{
	int r;

	sf_fs_lock(p);
	r = fd_table_get(p->fds, fd, need, out);
	sf_fs_unlock(p);
	return r;
}

void sf_rename_fixup(struct proc *p, const char *from, size_t fn, const char *to, size_t tn)
{
	char *buf = kmalloc(PROC_CWD_MAX);
	int r;

	sf_fs_lock(p);
	for (int i = 0; i < SF_DESC_LOCKS; i++)
		mutex_lock(&sf_desc_mutex[i]);
	r = fd_table_rename(p->fds, from, fn, to, tn);
	for (int i = SF_DESC_LOCKS - 1; i >= 0; i--)
		mutex_unlock(&sf_desc_mutex[i]);
	if (buf && vpath_is_within(p->cwd, strlen(p->cwd), from, fn)) {
		int n = vpath_rebase(p->cwd, strlen(p->cwd), from, fn, to, tn, buf,
				     PROC_CWD_MAX);
		if (n > 0)
			memcpy(p->cwd, buf, (size_t)n + 1);
	}
	sf_fs_unlock(p);
	kfree(buf);
	if (r < 0 || !buf)
		pr_warn("processor: pid %d: open files or the cwd not moved by a rename (%d)\n",
			p->pid, r < 0 ? r : -ENOMEM);
}

/* ------------------------------------------------------------------ */
/* open                                                                */

static long sf_openat(struct proc *p, int dirfd, const char *upath, u32 flags, u32 mode)
{
	const struct fd_ops *ops = p->fds->ops;
	struct sf_lookup *l;
	struct fd_file *f = NULL;
	enum fd_kind kind;
	void *obj = NULL;
	u32 acc = flags & O_ACCMODE;
	bool follow;
	long r;

	r = fd_open_check(flags);
	if (r)
		return r;
	if (flags & O_PATH)
		flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	follow = !(flags & O_NOFOLLOW) && (flags & (O_CREAT | O_EXCL)) != (O_CREAT | O_EXCL);
	l = sf_lookup_alloc();
	if (!l)
		return -ENOMEM;
	r = sf_lookup_user(p, dirfd, upath, follow ? SF_FOLLOW : 0, l);
	if (r)
		goto out;

	if (!l->exists) {
		struct lego_st_req h;

		if (!(flags & O_CREAT)) {
			r = -ENOENT;
			goto out;
		}
		if (l->w.dir_final) {
			r = -EISDIR;
			goto out;
		}
		memset(&h, 0, sizeof(h));
		h.path_len = l->w.done_len;
		h.mode = mode & 07777 & ~p->umask;
		h.flags = fd_open_create_flags(flags);
		r = proc_st_call(p, LEGO_OP_ST_CREATE, &h, l->w.done, NULL, NULL, NULL, 0, NULL);
		if (r < 0)
			goto out;
		kind = FD_KIND_REG;
	} else {
		u32 type = l->st.mode & S_IFMT;

		if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) {
			r = -EEXIST;
			goto out;
		}
		if (type == S_IFLNK) {
			/* Only O_NOFOLLOW stops on a link. */
			r = -ELOOP;
			goto out;
		}
		if (type == S_IFDIR) {
			if (!(flags & O_PATH) &&
			    (acc != O_RDONLY || (flags & (O_TRUNC | O_CREAT)))) {
				r = -EISDIR;
				goto out;
			}
		} else if (flags & O_DIRECTORY) {
			r = -ENOTDIR;
			goto out;
		}
		if (l->pseudo && l->pseudo->kind == SFP_TEXT && !(flags & O_PATH) &&
		    (acc != O_RDONLY || (flags & O_TRUNC))) {
			r = -EACCES;	/* read-only, root or not */
			goto out;
		}
		if (l->pseudo) {
			kind = FD_KIND_PSEUDO;
			obj = (void *)l->pseudo;
			if (l->pseudo->kind == SFP_TTY && !(flags & O_PATH))
				kind = FD_KIND_CONSOLE;
		} else if (type == S_IFDIR) {
			kind = FD_KIND_DIR;
		} else if (type == S_IFREG) {
			kind = FD_KIND_REG;
			if ((flags & O_TRUNC) && !(flags & O_PATH) && l->st.size) {
				r = sf_st_simple(p, LEGO_OP_ST_TRUNCATE, l->w.done, l->w.done_len,
						 0, 0, 0);
				if (r < 0)
					goto out;
			}
		} else {
			r = -ENXIO;	/* FIFOs and sockets are not kept by the store */
			goto out;
		}
	}

	if (kind == FD_KIND_CONSOLE)
		r = fd_file_new(ops, kind, "", 0, flags, NULL, &f);
	else
		r = fd_file_new(ops, kind, l->w.done, l->w.done_len, flags, obj, &f);
	if (r)
		goto out;
	if (kind == FD_KIND_CONSOLE)
		f->priv = (void *)(uintptr_t)2;	/* /dev/tty writes to stdout */
	sf_fs_lock(p);
	r = fd_table_install(p->fds, f, 0, (flags & O_CLOEXEC) ? FD_CLOEXEC : 0);
	sf_fs_unlock(p);
	fd_file_put(f);
out:
	sf_lookup_free(l);
	return r;
}

static long sys_open(struct user_regs *r)
{
	return sf_openat(proc_current(), AT_FDCWD, (const char *)r->rdi, (u32)r->rsi, (u32)r->rdx);
}

static long sys_openat(struct user_regs *r)
{
	return sf_openat(proc_current(), (int)r->rdi, (const char *)r->rsi, (u32)r->rdx,
			 (u32)r->r10);
}

static long sys_creat(struct user_regs *r)
{
	return sf_openat(proc_current(), AT_FDCWD, (const char *)r->rdi,
			 O_CREAT | O_WRONLY | O_TRUNC, (u32)r->rsi);
}

#define SF_CLOSE_RANGE_UNSHARE 2
#define SF_CLOSE_RANGE_CLOEXEC 4

static long sys_close_range(struct user_regs *r)
{
	struct proc *p = proc_current();
	u32 first = (u32)r->rdi, last = (u32)r->rsi, fl = (u32)r->rdx;

	if (fl & ~(u32)(SF_CLOSE_RANGE_UNSHARE | SF_CLOSE_RANGE_CLOEXEC))
		return -EINVAL;
	if (first > last)
		return -EINVAL;
	sf_fs_lock(p);
	/* The table never shares with another process here: UNSHARE is moot. */
	for (u64 fd = first; fd <= last && fd < p->fds->cap; fd++) {
		if (!p->fds->slots[fd].file)
			continue;
		if (fl & SF_CLOSE_RANGE_CLOEXEC)
			fd_table_fcntl(p->fds, (int)fd, F_SETFD, FD_CLOEXEC);
		else
			fd_table_close(p->fds, (int)fd);
	}
	sf_fs_unlock(p);
	return 0;
}

static long sys_close(struct user_regs *r)
{
	struct proc *p = proc_current();
	int e;

	sf_fs_lock(p);
	e = fd_table_close(p->fds, (int)r->rdi);
	sf_fs_unlock(p);
	return e;
}

/* ------------------------------------------------------------------ */
/* read and write                                                      */

/* One read/write call's buffers: too big for a kernel stack. data has
 * room for min(count, LEGO_ST_IO_MAX) bytes. The calling thread's own:
 * no lock. */
struct sf_iobuf {
	struct lego_st_req hdr;
	char path[LEGO_ST_PATH_MAX];
	u8 data[];
};

/* read/write/pread/pwrite of count bytes at ubuf (a kernel buffer when
 * kbuf: sendfile) on a regular file, in LEGO_ST_IO_MAX requests, the
 * description lock held throughout. */
static long sf_reg_io(struct proc *p, struct fd_file *f, enum fd_io_dir dir, bool positional,
		      s64 pos, u8 *ubuf, u64 count, bool kbuf)
{
	struct sf_iobuf *b = kmalloc(sizeof(*b) + (count < LEGO_ST_IO_MAX ? count : LEGO_ST_IO_MAX));
	u64 done = 0;
	long err = 0;

	if (!b)
		return -ENOMEM;
	sf_desc_lock(f);
	while (done < count) {
		struct lego_st_count cnt;
		struct fd_io io;
		u32 got = 0;
		s64 n;
		int r;

		r = fd_file_io_prep(f, dir, positional, pos + (s64)done, count - done, p->vnode,
				    &b->hdr, b->path, &io);
		if (r < 0) {
			err = r;
			break;
		}
		if (!io.len)
			break;
		if (dir == FD_IO_WRITE) {
			if (kbuf)
				memcpy(b->data, ubuf + done, io.len);
			else if (copy_from_user(b->data, ubuf + done, io.len)) {
				err = -EFAULT;
				break;
			}
			r = proc_st_call(p, io.op, &b->hdr, b->path, NULL, b->data, &cnt,
					 sizeof(cnt), &got);
			if (r >= 0 && got != sizeof(cnt))
				r = -EPROTO;
			if (r < 0) {
				err = r;
				break;
			}
			/* An append is all or nothing; its reply is the offset. */
			if (io.op == LEGO_OP_ST_APPEND)
				n = fd_file_io_done(f, &io, io.len, cnt.value);
			else
				n = fd_file_io_done(f, &io, cnt.value, 0);
		} else {
			r = proc_st_call(p, io.op, &b->hdr, b->path, NULL, NULL, b->data,
					 (u32)io.len, &got);
			if (r >= 0 && got > io.len)
				r = -EPROTO;
			if (r < 0) {
				err = r;
				break;
			}
			/* Copy before the offset moves: a bad buffer reads nothing. */
			if (kbuf)
				memcpy(ubuf + done, b->data, got);
			else if (got && copy_to_user(ubuf + done, b->data, got)) {
				err = -EFAULT;
				break;
			}
			n = fd_file_io_done(f, &io, got, 0);
		}
		if (n < 0) {
			err = n;
			break;
		}
		done += (u64)n;
		if ((u64)n < io.len)
			break;	/* end of file, or the disk filled */
	}
	sf_desc_unlock(f);
	kfree(b);
	return done ? (long)done : err;
}

#define SF_CONSOLE_CHUNK (32u * 1024)

static long sf_console_write(struct proc *p, struct fd_file *f, const u8 *ubuf, u64 count)
{
	u64 chunk = count < SF_CONSOLE_CHUNK ? count : SF_CONSOLE_CHUNK;
	u8 *buf;
	u64 done = 0;
	long err = 0;

	if (!count)
		return 0;
	buf = kmalloc(chunk);
	if (!buf)
		return -ENOMEM;
	while (done < count) {
		u64 n = count - done < chunk ? count - done : chunk;
		long w;

		if (copy_from_user(buf, ubuf + done, n)) {
			err = -EFAULT;
			break;
		}
		w = proc_output(p, sf_console_stream(f), buf, n);
		if (w < 0) {
			err = w;
			break;
		}
		done += (u64)w;
		if ((u64)w < n)
			break;
	}
	kfree(buf);
	return done ? (long)done : err;
}

/* The common part of read/pread/readv and write/pwrite/writev on one
 * buffer: f is looked up with the access the direction needs. */
static long sf_rw(struct proc *p, struct fd_file *f, enum fd_io_dir dir, bool positional,
		  s64 pos, u8 *ubuf, u64 count)
{
	if (count > LINUX_MAX_RW_COUNT)
		count = LINUX_MAX_RW_COUNT;
	switch (f->kind) {
	case FD_KIND_CONSOLE:
		if (positional)
			return -ESPIPE;
		if (dir == FD_IO_READ) {
			if (!count)
				return 0;
			if ((__atomic_load_n(&f->flags, __ATOMIC_RELAXED) & O_NONBLOCK) &&
			    !__atomic_load_n(&p->in_len, __ATOMIC_ACQUIRE) &&
			    !__atomic_load_n(&p->in_eof, __ATOMIC_ACQUIRE))
				return -EAGAIN;
			return proc_input(p, ubuf, count);
		}
		return sf_console_write(p, f, ubuf, count);
	case FD_KIND_PSEUDO:
		if (dir == FD_IO_READ)
			return sf_pseudo_read(p, f, positional, pos, ubuf, count);
		return sf_pseudo_write(f, count);
	case FD_KIND_REG:
		if (positional && pos > (s64)(~0ull >> 1) - (s64)count)
			return -EINVAL;
		return sf_reg_io(p, f, dir, positional, pos, ubuf, count, false);
	case FD_KIND_DIR:
		return -EISDIR;
	case FD_KIND_PIPE:
		if (positional)
			return -ESPIPE;
		return dir == FD_IO_READ ? pipe_read(p, f, ubuf, count) : pipe_write(p, f, ubuf, count);
	default:
		return -EINVAL;
	}
}

static long sf_rw_fd(int fd, enum fd_io_dir dir, bool positional, s64 pos, u8 *ubuf,
		     u64 count)
{
	struct proc *p = proc_current();
	struct fd_file *f;
	long r;

	if (positional && pos < 0)
		return -EINVAL;
	r = sf_get(p, fd, dir == FD_IO_READ ? FD_NEED_READ : FD_NEED_WRITE, &f);
	if (r)
		return r;
	r = sf_rw(p, f, dir, positional, pos, ubuf, count);
	fd_file_put(f);
	return r;
}

static long sys_read(struct user_regs *r)
{
	return sf_rw_fd((int)r->rdi, FD_IO_READ, false, 0, (u8 *)r->rsi, r->rdx);
}

static long sys_write(struct user_regs *r)
{
	return sf_rw_fd((int)r->rdi, FD_IO_WRITE, false, 0, (u8 *)r->rsi, r->rdx);
}

static long sys_pread64(struct user_regs *r)
{
	return sf_rw_fd((int)r->rdi, FD_IO_READ, true, (s64)r->r10, (u8 *)r->rsi, r->rdx);
}

static long sys_pwrite64(struct user_regs *r)
{
	return sf_rw_fd((int)r->rdi, FD_IO_WRITE, true, (s64)r->r10, (u8 *)r->rsi, r->rdx);
}

/* writev to the console: one OUTPUT message for the whole vector (a
 * libc's stdio writes its buffer and the new data as two iovecs). */
static long sf_console_writev(struct proc *p, struct fd_file *f, const struct linux_iovec *iov,
			      u64 n, u64 total)
{
	u8 *buf = kmalloc(total ? total : 1);
	u64 got = 0;
	long r;

	if (!buf)
		return -ENOMEM;
	for (u64 i = 0; i < n && got < total; i++) {
		u64 len = iov[i].len < total - got ? iov[i].len : total - got;

		if (len && copy_from_user(buf + got, (const void *)iov[i].base, len))
			break;
		got += len;
	}
	if (got)
		r = proc_output(p, sf_console_stream(f), buf, got);
	else
		r = total ? -EFAULT : 0;
	kfree(buf);
	return r;
}

static long sf_rwv(int fd, enum fd_io_dir dir, bool positional, s64 pos, const void *uiov,
		   u64 n)
{
	struct proc *p = proc_current();
	struct linux_iovec *iov;
	struct fd_file *f;
	s64 total;
	u64 done = 0;
	long r;

	if (positional && pos < 0)
		return -EINVAL;
	r = sf_get(p, fd, dir == FD_IO_READ ? FD_NEED_READ : FD_NEED_WRITE, &f);
	if (r)
		return r;
	if (n > LINUX_UIO_MAXIOV) {
		fd_file_put(f);
		return -EINVAL;
	}
	iov = kmalloc((n ? n : 1) * sizeof(*iov));
	if (!iov) {
		fd_file_put(f);
		return -ENOMEM;
	}
	if (n && copy_from_user(iov, uiov, n * sizeof(*iov))) {
		r = -EFAULT;
		goto out;
	}
	total = linux_iov_total(iov, n);
	if (total < 0) {
		r = total;
		goto out;
	}
	if (f->kind == FD_KIND_CONSOLE && dir == FD_IO_WRITE && !positional &&
	    (u64)total <= SF_CONSOLE_CHUNK) {
		r = sf_console_writev(p, f, iov, n, (u64)total);
		goto out;
	}
	r = 0;
	for (u64 i = 0; i < n && done < (u64)total; i++) {
		u64 len = iov[i].len;

		if (len > (u64)total - done)
			len = (u64)total - done;
		if (!len)
			continue;
		r = sf_rw(p, f, dir, positional, pos + (s64)done, (u8 *)iov[i].base, len);
		if (r < 0)
			break;
		done += (u64)r;
		if ((u64)r < len)
			break;
	}
	r = done ? (long)done : r;
out:
	kfree(iov);
	fd_file_put(f);
	return r;
}

static long sys_readv(struct user_regs *r)
{
	return sf_rwv((int)r->rdi, FD_IO_READ, false, 0, (const void *)r->rsi, r->rdx);
}

static long sys_writev(struct user_regs *r)
{
	return sf_rwv((int)r->rdi, FD_IO_WRITE, false, 0, (const void *)r->rsi, r->rdx);
}

static long sys_preadv(struct user_regs *r)
{
	return sf_rwv((int)r->rdi, FD_IO_READ, true, (s64)r->r10, (const void *)r->rsi, r->rdx);
}

static long sys_pwritev(struct user_regs *r)
{
	return sf_rwv((int)r->rdi, FD_IO_WRITE, true, (s64)r->r10, (const void *)r->rsi, r->rdx);
}

/* ------------------------------------------------------------------ */
/* sendfile, copy_file_range                                           */

/*
 * count bytes from in, a regular file, at *in_pos (or at its offset when
 * in_pos is NULL), to out at *out_pos (or at its offset; the console and
 * devices have none), through a kernel buffer: no user memory is
 * touched. The positions move by what reached out, as on Linux.
 */
static long sf_transfer(struct proc *p, struct fd_file *in, s64 *in_pos, struct fd_file *out,
			s64 *out_pos, u64 count)
{
	u64 chunk, done = 0;
	long err = 0;
	u8 *buf;

	if (count > LINUX_MAX_RW_COUNT)
		count = LINUX_MAX_RW_COUNT;
	chunk = count < LEGO_ST_IO_MAX ? count : LEGO_ST_IO_MAX;
	buf = kmalloc(chunk ? chunk : 1);
	if (!buf)
		return -ENOMEM;
	while (done < count) {
		u64 want = count - done < chunk ? count - done : chunk;
		s64 ipos;
		long n, w;

		if (in_pos) {
			ipos = *in_pos;
		} else {
			sf_desc_lock(in);
			ipos = in->pos;
			sf_desc_unlock(in);
		}
		n = sf_reg_io(p, in, FD_IO_READ, true, ipos, buf, want, true);
		if (n <= 0) {
			err = n;
			break;
		}
		switch (out->kind) {
		case FD_KIND_CONSOLE:
			w = proc_output(p, sf_console_stream(out), buf, (size_t)n);
			break;
		case FD_KIND_PSEUDO:
			w = sf_pseudo_write(out, (u64)n);
			break;
		case FD_KIND_REG:
			w = sf_reg_io(p, out, FD_IO_WRITE, out_pos != NULL, out_pos ? *out_pos : 0,
				      buf, (u64)n, true);
			break;
		default:
			w = -EINVAL;
			break;
		}
		if (w <= 0) {
			err = w;
			break;
		}
		if (in_pos) {
			*in_pos += w;
		} else {
			sf_desc_lock(in);
			in->pos = ipos + w;
			sf_desc_unlock(in);
		}
		if (out_pos)
			*out_pos += w;
		done += (u64)w;
		if (w < n || (u64)n < want)
			break;
	}
	kfree(buf);
	return done ? (long)done : err;
}

/* Copy a user's optional offset in: 0, -EFAULT or -EINVAL (negative). */
static long sf_get_off(u64 uptr, s64 *off)
{
	if (!uptr)
		return 0;
	if (copy_from_user(off, (const void *)uptr, sizeof(*off)))
		return -EFAULT;
	return *off < 0 ? -EINVAL : 0;
}

static long sys_sendfile(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct fd_file *in = NULL, *out = NULL;
	s64 off = 0;
	long e;

	e = sf_get(p, (int)r->rsi, FD_NEED_READ, &in);
	if (e == 0)
		e = sf_get(p, (int)r->rdi, FD_NEED_WRITE, &out);
	if (e == 0)
		e = sf_get_off(r->rdx, &off);
	if (e == 0 && in->kind != FD_KIND_REG)
		e = -EINVAL;
	if (e == 0 && (out->flags & O_APPEND))
		e = -EINVAL;
	if (e == 0) {
		e = sf_transfer(p, in, r->rdx ? &off : NULL, out, NULL, r->r10);
		if (r->rdx && copy_to_user((void *)r->rdx, &off, sizeof(off)))
			e = -EFAULT;
	}
	if (in)
		fd_file_put(in);
	if (out)
		fd_file_put(out);
	return e;
}

static long sys_copy_file_range(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct fd_file *in = NULL, *out = NULL;
	s64 ioff = 0, ooff = 0;
	long e;

	if (r->r9)
		return -EINVAL;	/* no flags are defined */
	e = sf_get(p, (int)r->rdi, FD_NEED_READ, &in);
	if (e == 0)
		e = sf_get(p, (int)r->rdx, FD_NEED_WRITE, &out);
	if (e == 0 && (out->flags & O_APPEND))
		e = -EBADF;
	if (e == 0 && (in->kind == FD_KIND_DIR || out->kind == FD_KIND_DIR))
		e = -EISDIR;
	if (e == 0 && (in->kind != FD_KIND_REG || out->kind != FD_KIND_REG))
		e = -EINVAL;
	if (e == 0)
		e = sf_get_off(r->rsi, &ioff);
	if (e == 0)
		e = sf_get_off(r->r10, &ooff);
	if (e == 0) {
		e = sf_transfer(p, in, r->rsi ? &ioff : NULL, out, r->r10 ? &ooff : NULL, r->r8);
		if (r->rsi && copy_to_user((void *)r->rsi, &ioff, sizeof(ioff)))
			e = -EFAULT;
		if (r->r10 && copy_to_user((void *)r->r10, &ooff, sizeof(ooff)))
			e = -EFAULT;
	}
	if (in)
		fd_file_put(in);
	if (out)
		fd_file_put(out);
	return e;
}

/* ------------------------------------------------------------------ */
/* lseek, getdents64                                                   */

static long sys_lseek(struct user_regs *r)
{
	struct proc *p = proc_current();
	s64 off = (s64)r->rsi;
	int whence = (int)r->rdx;
	struct lego_st_stat st;
	struct fd_file *f;
	long e;

	e = sf_get(p, (int)r->rdi, FD_NEED_IO, &f);
	if (e)
		return e;
	switch (f->kind) {
	case FD_KIND_CONSOLE:
	case FD_KIND_PIPE:
		e = -ESPIPE;
		break;
	case FD_KIND_PSEUDO:
		e = sf_pseudo_lseek(p, f, off, whence);
		break;
	default:
		sf_desc_lock(f);
		st.size = 0;
		e = 0;
		if (f->kind == FD_KIND_REG && fd_lseek_needs_size(whence))
			e = f->stale ? -ESTALE : sf_st_stat(p, f->path, f->path_len, &st);
		if (e == 0)
			e = fd_file_lseek(f, off, whence, st.size);
		sf_desc_unlock(f);
		break;
	}
	fd_file_put(f);
	return e;
}

/* Room for the longest READDIR reply. */
#define SF_READDIR_REPLY (sizeof(struct lego_st_readdir_reply) + \
	LEGO_ST_READDIR_MAX * LEGO_ST_DIRENT_SIZE(LEGO_ST_NAME_MAX))
/* The most packed at once (Linux fills at most what the user gave). */
#define SF_DENTS_MAX (64u * 1024)

/* One getdents64 call's buffers; the calling thread's own: no lock. */
struct sf_dents {
	struct lego_st_req hdr;
	char path[LEGO_ST_PATH_MAX];
	u8 reply[SF_READDIR_REPLY];
	u8 out[SF_DENTS_MAX];
};

/* The inode number of "." or ".." of dir (0 when the storage cannot say). */
static u64 sf_dot_ino(struct proc *p, const char *dir, size_t n, bool dotdot)
{
	struct lego_st_stat st;

	if (dotdot)
		n = vpath_parent_len(dir, n);
	return sf_st_stat(p, dir, n, &st) == 0 ? st.ino : 0;
}

static long sf_getdents(struct proc *p, struct fd_file *f, u8 *ubuf, u64 count)
{
	struct sf_dents *b;
	struct fd_dir_cursor saved;
	s64 saved_pos;
	u64 room = count < SF_DENTS_MAX ? count : SF_DENTS_MAX;
	u64 used = 0;
	long err = 0;

	if (f->kind == FD_KIND_PSEUDO &&
	    ((const struct sf_pseudo *)f->obj)->kind == SFP_DIR)
		return sf_pseudo_getdents(f, ubuf, count);
	if (f->kind != FD_KIND_DIR)
		return -ENOTDIR;
	b = kmalloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	sf_desc_lock(f);
	saved = f->dir;
	saved_pos = f->pos;
	while (fd_dir_dots_pending(f)) {
		bool dotdot = f->dir.dots == 1;
		u32 n;

		if (f->stale) {
			err = -ESTALE;
			goto done;
		}
		n = linux_dirent64_put(b->out + used, room - used,
				       sf_dot_ino(p, f->path, f->path_len, dotdot), 0, DT_DIR,
				       "..", dotdot ? 2 : 1);
		if (!n)
			goto full;
		used += n;
		fd_dir_dot_done(f);
	}
	for (;;) {
		const struct lego_st_readdir_reply *h = (const void *)b->reply;
		u32 max = (u32)((room - used) / 24 + 1);
		u32 got = 0, off;
		int r;

		r = fd_file_readdir_prep(f, p->vnode, max, &b->hdr, b->path);
		if (r < 0) {
			err = r;
			goto done;
		}
		if (r == 1)
			break;
		r = proc_st_call(p, LEGO_OP_ST_READDIR, &b->hdr, b->path, NULL, NULL, b->reply,
				 sizeof(b->reply), &got);
		if (r >= 0 && got < sizeof(*h))
			r = -EPROTO;
		if (r < 0) {
			err = r;
			goto done;
		}
		if (h->count == 0) {
			fd_dir_set_eof(f);
			break;
		}
		off = sizeof(*h);
		for (u32 i = 0; i < h->count; i++) {
			struct lego_st_dirent d;
			u32 n;

			if (got - off < sizeof(d)) {
				err = -EPROTO;
				goto done;
			}
			memcpy(&d, b->reply + off, sizeof(d));
			if (got - off < LEGO_ST_DIRENT_SIZE(d.name_len) ||
			    d.name_len == 0 || d.name_len > LEGO_ST_NAME_MAX) {
				err = -EPROTO;
				goto done;
			}
			n = linux_dirent64_put(b->out + used, room - used, d.ino,
					       (s64)(d.cookie >> 1), d.type,
					       (const char *)b->reply + off + sizeof(d),
					       d.name_len);
			if (!n)
				goto full;
			used += n;
			fd_dir_advance(f, d.cookie);
			off += LEGO_ST_DIRENT_SIZE(d.name_len);
		}
		if (used == room)
			break;
	}
	goto done;
full:
	if (!used)
		err = -EINVAL;	/* not even one record fits the user's buffer */
done:
	/* Entries already packed are returned; an error shows next time. */
	if (used && copy_to_user(ubuf, b->out, used)) {
		err = -EFAULT;
		used = 0;
	}
	if (!used) {
		/* Nothing reached the user: the cursor stays where it was. */
		f->dir = saved;
		f->pos = saved_pos;
	}
	sf_desc_unlock(f);
	kfree(b);
	return used ? (long)used : err;
}

static long sys_getdents64(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct fd_file *f;
	long e;

	e = sf_get(p, (int)r->rdi, FD_NEED_IO, &f);
	if (e)
		return e;
	e = sf_getdents(p, f, (u8 *)r->rsi, r->rdx);
	fd_file_put(f);
	return e;
}

/* ------------------------------------------------------------------ */
/* dup, fcntl, ioctl, fsync                                            */

static long sys_dup(struct user_regs *r)
{
	struct proc *p = proc_current();
	long e;

	sf_fs_lock(p);
	e = fd_table_dup(p->fds, (int)r->rdi);
	sf_fs_unlock(p);
	return e;
}

static long sys_dup2(struct user_regs *r)
{
	struct proc *p = proc_current();
	long e;

	sf_fs_lock(p);
	e = fd_table_dup2(p->fds, (int)r->rdi, (int)r->rsi);
	sf_fs_unlock(p);
	return e;
}

static long sys_dup3(struct user_regs *r)
{
	struct proc *p = proc_current();
	long e;

	sf_fs_lock(p);
	e = fd_table_dup3(p->fds, (int)r->rdi, (int)r->rsi, (u32)r->rdx);
	sf_fs_unlock(p);
	return e;
}

/* Linux struct flock's l_type value "no lock". */
#define SF_F_UNLCK 2

static long sys_fcntl(struct user_regs *r)
{
	struct proc *p = proc_current();
	int fd = (int)r->rdi, cmd = (int)r->rsi;
	struct fd_file *f;
	long e;

	e = sf_get(p, fd, FD_NEED_ANY, &f);
	if (e)
		return e;
	switch (cmd) {
	case F_GETLK: {
		/* Advisory locks: every process of a vNode runs alone here, so
		 * nothing ever conflicts. */
		s16 type = SF_F_UNLCK;
		e = copy_to_user((void *)r->rdx, &type, sizeof(type)) ? -EFAULT : 0;
		break;
	}
	case F_SETLK:
	case F_SETLKW:
	case F_SETOWN:
		e = 0;
		break;
	case F_GETOWN:
		e = 0;
		break;
	case F_SETFL:
		/* The status flags are read by I/O under the description lock. */
		sf_fs_lock(p);
		sf_desc_lock(f);
		e = fd_table_fcntl(p->fds, fd, cmd, r->rdx);
		sf_desc_unlock(f);
		sf_fs_unlock(p);
		break;
	default:
		sf_fs_lock(p);
		e = fd_table_fcntl(p->fds, fd, cmd, r->rdx);
		sf_fs_unlock(p);
		break;
	}
	fd_file_put(f);
	return e;
}

/* ioctl requests (Linux x86-64). */
#define SF_TCGETS 0x5401
#define SF_TIOCGWINSZ 0x5413
#define SF_FIONREAD 0x541b
#define SF_FIONBIO 0x5421
#define SF_FIONCLEX 0x5450
#define SF_FIOCLEX 0x5451

static long sys_ioctl(struct user_regs *r)
{
	struct proc *p = proc_current();
	int fd = (int)r->rdi;
	u32 cmd = (u32)r->rsi;
	struct fd_file *f;
	long e;

	e = sf_get(p, fd, FD_NEED_IO, &f);
	if (e)
		return e;
	switch (cmd) {
	case SF_FIOCLEX:
	case SF_FIONCLEX:
		sf_fs_lock(p);
		e = fd_table_fcntl(p->fds, fd, F_SETFD, cmd == SF_FIOCLEX ? FD_CLOEXEC : 0);
		sf_fs_unlock(p);
		break;
	case SF_FIONBIO: {
		int on;
		long fl;
		if (copy_from_user(&on, (const void *)r->rdx, sizeof(on))) {
			e = -EFAULT;
			break;
		}
		sf_fs_lock(p);
		sf_desc_lock(f);
		fl = fd_table_fcntl(p->fds, fd, F_GETFL, 0);
		if (fl >= 0)
			fl = fd_table_fcntl(p->fds, fd, F_SETFL,
					    on ? (u64)fl | O_NONBLOCK : (u64)fl & ~(u64)O_NONBLOCK);
		sf_desc_unlock(f);
		sf_fs_unlock(p);
		e = fl < 0 ? fl : 0;
		break;
	}
	case SF_FIONREAD: {
		int n = 0;
		if (f->kind == FD_KIND_CONSOLE) {
			spin_lock(&p->lock);
			n = (int)p->in_len;
			spin_unlock(&p->lock);
		} else if (f->kind == FD_KIND_REG) {
			struct linux_attr a;
			e = sf_file_attr(p, f, &a);
			if (e)
				break;
			sf_desc_lock(f);
			n = a.size > (u64)f->pos ? (int)(a.size - (u64)f->pos) : 0;
			sf_desc_unlock(f);
		} else if (f->kind == FD_KIND_DIR) {
			e = -ENOTTY;
			break;
		}
		e = copy_to_user((void *)r->rdx, &n, sizeof(n)) ? -EFAULT : 0;
		break;
	}
	default:
		/* The console is no terminal to the program (TCGETS and
		 * TIOCGWINSZ included): isatty() is false, output is not line
		 * buffered by a libc, as when stdout is a pipe. */
		e = -ENOTTY;
		break;
	}
	fd_file_put(f);
	return e;
}

/* flock and posix_fadvise: a valid fd is all they need here (advisory
 * locks never conflict, see fcntl; advice is only advice). */
static long sys_fd_advice(struct user_regs *r)
{
	struct fd_file *f;
	long e = sf_get(proc_current(), (int)r->rdi, FD_NEED_IO, &f);

	if (e)
		return e;
	fd_file_put(f);
	return 0;
}

static long sf_fsync(int fd)
{
	struct proc *p = proc_current();
	struct fd_file *f;
	char *path;
	long e;

	e = sf_get(p, fd, FD_NEED_IO, &f);
	if (e)
		return e;
	if (f->kind != FD_KIND_REG && f->kind != FD_KIND_DIR) {
		fd_file_put(f);
		return -EINVAL;
	}
	path = kmalloc(LEGO_ST_PATH_MAX);
	e = path ? sf_desc_path(f, path) : -ENOMEM;
	if (e >= 0)
		e = sf_st_simple(p, LEGO_OP_ST_FSYNC, path, (size_t)e, 0, 0, 0);
	kfree(path);
	fd_file_put(f);
	return e;
}

static long sys_fsync(struct user_regs *r)
{
	return sf_fsync((int)r->rdi);
}

static long sys_sync(struct user_regs *r)
{
	/* path_len 0: everything of the vNode. */
	sf_st_simple(proc_current(), LEGO_OP_ST_FSYNC, "", 0, 0, 0, 0);
	return 0;
}

/* ------------------------------------------------------------------ */
/* mmap                                                                */

long sys_file_mmap_path(struct proc *p, int fd, bool shared_write, char *path_out)
{
	struct fd_file *f;
	long r;

	sf_fs_lock(p);
	r = fd_table_get(p->fds, fd, FD_NEED_IO, &f);
	if (r) {
		sf_fs_unlock(p);
		return r;
	}
	/* As Linux: the fd must be readable, and writable for a shared
	 * writable map; only regular files can be mapped. */
	if ((f->mode & O_ACCMODE) == O_WRONLY)
		r = -EACCES;
	else if (f->kind != FD_KIND_REG)
		r = -ENODEV;
	else if (shared_write && (f->mode & O_ACCMODE) != O_RDWR)
		r = -EACCES;
	else if (f->stale)
		r = -ESTALE;
	else {
		/* fs_lock keeps the path still (sys_file_int.h). */
		memcpy(path_out, f->path, (size_t)f->path_len + 1);
		r = f->path_len;
	}
	sf_fs_unlock(p);
	fd_file_put(f);
	return r;
}

void sys_file_init(void)
{
	for (int i = 0; i < SF_DESC_LOCKS; i++)
		mutex_init(&sf_desc_mutex[i]);
	sys_register(0, sys_read);
	sys_register(1, sys_write);
	sys_register(2, sys_open);
	sys_register(3, sys_close);
	sys_register(8, sys_lseek);
	sys_register(16, sys_ioctl);
	sys_register(17, sys_pread64);
	sys_register(18, sys_pwrite64);
	sys_register(19, sys_readv);
	sys_register(20, sys_writev);
	sys_register(32, sys_dup);
	sys_register(40, sys_sendfile);
	sys_register(33, sys_dup2);
	sys_register(72, sys_fcntl);
	sys_register(73, sys_fd_advice);	/* flock */
	sys_register(74, sys_fsync);
	sys_register(75, sys_fsync);	/* fdatasync: the storage syncs data and size together */
	sys_register(85, sys_creat);
	sys_register(162, sys_sync);
	sys_register(217, sys_getdents64);
	sys_register(221, sys_fd_advice);	/* fadvise64 */
	sys_register(257, sys_openat);
	sys_register(292, sys_dup3);
	sys_register(326, sys_copy_file_range);
	sys_register(436, sys_close_range);
	sys_register(295, sys_preadv);
	sys_register(296, sys_pwritev);
	sys_stat_init();
	sys_path_init();
}
