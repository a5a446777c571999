/* Namespace syscalls of the processor's Linux state layer (paper §4.3.3):
 * mkdir, rmdir, unlink, rename, symlink, chdir, chmod, truncate,
 * utimensat and their *at forms. Each resolves its path(s) here (the
 * store follows no links) and sends one storage request; a rename then
 * moves the open descriptions and the cwd along (sf_rename_fixup).
 * Locking: sys_file_int.h. */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/string.h>
#include <lego/uaccess.h>
#include <lego/wallclock.h>
#include "sys_file_int.h"

/* The user's last component (trailing slashes ignored) is "." (1) or
 * ".." (2), else 0: rmdir and rename refuse those by name. */
static int sf_last_dots(const struct sf_lookup *l)
{
	size_t e = l->ulen, s;

	while (e > 0 && l->upath[e - 1] == '/')
		e--;
	s = e;
	while (s > 0 && l->upath[s - 1] != '/')
		s--;
	if (e - s == 1 && l->upath[s] == '.')
		return 1;
	if (e - s == 2 && l->upath[s] == '.' && l->upath[s + 1] == '.')
		return 2;
	return 0;
}

static bool sf_is_root(const struct sf_lookup *l)
{
	return l->w.done_len == 1;
}

static long sf_mkdirat(int dirfd, const char *upath, u32 mode)
{
	struct proc *p = proc_current();
	struct sf_lookup *l = sf_lookup_alloc();
	long r;

	if (!l)
		return -ENOMEM;
	/* A final symlink is not followed: it exists, so EEXIST. */
	r = sf_lookup_user(p, dirfd, upath, 0, l);
	if (r == 0 && l->exists)
		r = -EEXIST;
	if (r == 0)
		r = sf_st_simple(p, LEGO_OP_ST_MKDIR, l->w.done, l->w.done_len,
				 mode & 01777 & ~p->umask, 0, 0);
	sf_lookup_free(l);
	return r;
}

/* mknod: regular files only; the store keeps no devices, FIFOs or
 * sockets (Linux says EPERM where a filesystem cannot make a node). */
static long sf_mknodat(int dirfd, const char *upath, u32 mode)
{
	struct proc *p = proc_current();
	struct sf_lookup *l;
	u32 type = mode & S_IFMT;
	long r;

	if (type != 0 && type != S_IFREG && type != S_IFCHR && type != S_IFBLK &&
	    type != S_IFIFO && type != S_IFSOCK)
		return -EINVAL;
	l = sf_lookup_alloc();
	if (!l)
		return -ENOMEM;
	r = sf_lookup_user(p, dirfd, upath, 0, l);
	if (r == 0 && l->exists)
		r = -EEXIST;
	if (r == 0 && type != 0 && type != S_IFREG)
		r = -EPERM;
	if (r == 0)
		r = sf_st_simple(p, LEGO_OP_ST_CREATE, l->w.done, l->w.done_len,
				 mode & 07777 & ~p->umask, 0, LEGO_ST_O_EXCL);
	sf_lookup_free(l);
	return r;
}

static long sys_mknod(struct user_regs *r)
{
	return sf_mknodat(AT_FDCWD, (const char *)r->rdi, (u32)r->rsi);
}

static long sys_mknodat(struct user_regs *r)
{
	return sf_mknodat((int)r->rdi, (const char *)r->rsi, (u32)r->rdx);
}

/* link: the store has no hard links. The names are checked as Linux
 * does, then EPERM, what Linux says for a filesystem without them. */
static long sf_linkat(int odfd, const char *uold, int ndfd, const char *unew, u32 flags)
{
	struct proc *p = proc_current();
	struct sf_lookup *o = NULL, *n = NULL;
	long r;

	if (flags & ~(u32)(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	o = sf_lookup_alloc();
	n = sf_lookup_alloc();
	r = o && n ? 0 : -ENOMEM;
	if (r == 0)
		r = sf_lookup_user(p, odfd, uold, (flags & AT_SYMLINK_FOLLOW) ? SF_FOLLOW : 0, o);
	if (r == 0 && !o->exists)
		r = -ENOENT;
	if (r == 0 && (o->st.mode & S_IFMT) == S_IFDIR)
		r = -EPERM;
	if (r == 0)
		r = sf_lookup_user(p, ndfd, unew, 0, n);
	if (r == 0 && n->exists)
		r = -EEXIST;
	if (r == 0)
		r = -EPERM;
	sf_lookup_free(o);
	sf_lookup_free(n);
	return r;
}

static long sys_link(struct user_regs *r)
{
	return sf_linkat(AT_FDCWD, (const char *)r->rdi, AT_FDCWD, (const char *)r->rsi, 0);
}

static long sys_linkat(struct user_regs *r)
{
	return sf_linkat((int)r->rdi, (const char *)r->rsi, (int)r->rdx, (const char *)r->r10,
			 (u32)r->r8);
}

static long sys_mkdir(struct user_regs *r)
{
	return sf_mkdirat(AT_FDCWD, (const char *)r->rdi, (u32)r->rsi);
}

static long sys_mkdirat(struct user_regs *r)
{
	return sf_mkdirat((int)r->rdi, (const char *)r->rsi, (u32)r->rdx);
}

static long sf_unlinkat(int dirfd, const char *upath, u32 flags)
{
	struct proc *p = proc_current();
	struct sf_lookup *l;
	bool dir = flags & AT_REMOVEDIR;
	long r;

	if (flags & ~(u32)AT_REMOVEDIR)
		return -EINVAL;
	l = sf_lookup_alloc();
	if (!l)
		return -ENOMEM;
	r = sf_copy_upath(l, upath, false);
	if (r)
		goto out;
	if (dir && sf_last_dots(l)) {
		r = sf_last_dots(l) == 1 ? -EINVAL : -ENOTEMPTY;
		goto out;
	}
	r = sf_resolve(p, dirfd, l, 0);
	if (r)
		goto out;
	if (!l->exists) {
		r = -ENOENT;
	} else if (l->pseudo) {
		r = -EPERM;
	} else if (dir) {
		if ((l->st.mode & S_IFMT) != S_IFDIR)
			r = -ENOTDIR;
		else if (sf_is_root(l))
			r = -EBUSY;
		else
			r = sf_st_simple(p, LEGO_OP_ST_RMDIR, l->w.done, l->w.done_len, 0, 0, 0);
	} else {
		if ((l->st.mode & S_IFMT) == S_IFDIR)
			r = -EISDIR;
		else
			r = sf_st_simple(p, LEGO_OP_ST_UNLINK, l->w.done, l->w.done_len, 0, 0, 0);
	}
out:
	sf_lookup_free(l);
	return r;
}

static long sys_unlink(struct user_regs *r)
{
	return sf_unlinkat(AT_FDCWD, (const char *)r->rdi, 0);
}

static long sys_rmdir(struct user_regs *r)
{
	return sf_unlinkat(AT_FDCWD, (const char *)r->rdi, AT_REMOVEDIR);
}

static long sys_unlinkat(struct user_regs *r)
{
	return sf_unlinkat((int)r->rdi, (const char *)r->rsi, (u32)r->rdx);
}

#define SF_RENAME_NOREPLACE 1
#define SF_RENAME_EXCHANGE 2
#define SF_RENAME_WHITEOUT 4

static long sf_renameat2(int odfd, const char *uold, int ndfd, const char *unew, u32 flags)
{
	struct proc *p = proc_current();
	struct sf_lookup *o = NULL, *n = NULL;
	struct lego_st_req h;
	long r;

	if (flags & ~(u32)(SF_RENAME_NOREPLACE | SF_RENAME_EXCHANGE | SF_RENAME_WHITEOUT))
		return -EINVAL;
	if ((flags & SF_RENAME_NOREPLACE) && (flags & SF_RENAME_EXCHANGE))
		return -EINVAL;
	/* The store cannot swap two names or leave whiteouts. */
	if (flags & (SF_RENAME_EXCHANGE | SF_RENAME_WHITEOUT))
		return -EINVAL;
	o = sf_lookup_alloc();
	n = sf_lookup_alloc();
	if (!o || !n) {
		r = -ENOMEM;
		goto out;
	}
	r = sf_copy_upath(o, uold, false);
	if (r == 0)
		r = sf_copy_upath(n, unew, false);
	if (r)
		goto out;
	if (sf_last_dots(o) || sf_last_dots(n)) {
		r = -EBUSY;
		goto out;
	}
	r = sf_resolve(p, odfd, o, 0);
	if (r == 0 && !o->exists)
		r = -ENOENT;
	if (r)
		goto out;
	r = sf_resolve(p, ndfd, n, 0);
	if (r)
		goto out;
	if (o->pseudo || n->pseudo) {
		r = -EXDEV;
		goto out;
	}
	if (sf_is_root(o) || sf_is_root(n)) {
		r = -EBUSY;
		goto out;
	}
	if ((o->st.mode & S_IFMT) != S_IFDIR && (o->w.dir_final || n->w.dir_final)) {
		r = -ENOTDIR;
		goto out;
	}
	if ((flags & SF_RENAME_NOREPLACE) && n->exists) {
		r = -EEXIST;
		goto out;
	}
	if (o->w.done_len == n->w.done_len && !memcmp(o->w.done, n->w.done, o->w.done_len)) {
		r = 0;	/* the same name: POSIX says do nothing */
		goto out;
	}
	memset(&h, 0, sizeof(h));
	h.path_len = o->w.done_len;
	h.path2_len = n->w.done_len;
	r = proc_st_call(p, LEGO_OP_ST_RENAME, &h, o->w.done, n->w.done, NULL, NULL, 0, NULL);
	if (r < 0)
		goto out;
	r = 0;
	sf_rename_fixup(p, o->w.done, o->w.done_len, n->w.done, n->w.done_len);
out:
	sf_lookup_free(o);
	sf_lookup_free(n);
	return r;
}

static long sys_rename(struct user_regs *r)
{
	return sf_renameat2(AT_FDCWD, (const char *)r->rdi, AT_FDCWD, (const char *)r->rsi, 0);
}

static long sys_renameat(struct user_regs *r)
{
	return sf_renameat2((int)r->rdi, (const char *)r->rsi, (int)r->rdx,
			    (const char *)r->r10, 0);
}

static long sys_renameat2(struct user_regs *r)
{
	return sf_renameat2((int)r->rdi, (const char *)r->rsi, (int)r->rdx,
			    (const char *)r->r10, (u32)r->r8);
}

static long sf_symlinkat(const char *utarget, int dirfd, const char *upath)
{
	struct proc *p = proc_current();
	struct sf_lookup *l = sf_lookup_alloc();
	struct lego_st_req h;
	long n, r;

	if (!l)
		return -ENOMEM;
	/* The lookup uses l->link for links on the way: the target is
	 * copied into it afterwards. */
	r = sf_lookup_user(p, dirfd, upath, 0, l);
	if (r)
		goto out;
	if (l->exists) {
		r = -EEXIST;
		goto out;
	}
	if (l->w.dir_final) {
		r = -ENOENT;
		goto out;
	}
	if (!utarget) {
		r = -EFAULT;
		goto out;
	}
	n = strncpy_from_user(l->link, utarget, LINUX_PATH_MAX);
	if (n < 0) {
		r = n;
		goto out;
	}
	if (n >= LINUX_PATH_MAX) {
		r = -ENAMETOOLONG;
		goto out;
	}
	if (n == 0) {
		r = -ENOENT;
		goto out;
	}
	memset(&h, 0, sizeof(h));
	h.path_len = l->w.done_len;
	h.path2_len = (u16)n;
	r = proc_st_call(p, LEGO_OP_ST_SYMLINK, &h, l->w.done, l->link, NULL, NULL, 0, NULL);
	if (r > 0)
		r = 0;
out:
	sf_lookup_free(l);
	return r;
}

static long sys_symlink(struct user_regs *r)
{
	return sf_symlinkat((const char *)r->rdi, AT_FDCWD, (const char *)r->rsi);
}

static long sys_symlinkat(struct user_regs *r)
{
	return sf_symlinkat((const char *)r->rdi, (int)r->rsi, (const char *)r->rdx);
}

static long sys_chdir(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct sf_lookup *l = sf_lookup_alloc();
	long e;

	if (!l)
		return -ENOMEM;
	e = sf_lookup_user(p, AT_FDCWD, (const char *)r->rdi, SF_FOLLOW, l);
	if (e == 0 && !l->exists)
		e = -ENOENT;
	if (e == 0 && (l->st.mode & S_IFMT) != S_IFDIR)
		e = -ENOTDIR;
	if (e == 0) {
		sf_fs_lock(p);
		memcpy(p->cwd, l->w.done, (size_t)l->w.done_len + 1);
		sf_fs_unlock(p);
	}
	sf_lookup_free(l);
	return e;
}

static long sys_fchdir(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct fd_file *f;
	long e;

	sf_fs_lock(p);
	e = fd_table_get(p->fds, (int)r->rdi, FD_NEED_ANY, &f);
	if (e == 0) {
		bool dir = f->kind == FD_KIND_DIR ||
			   (f->kind == FD_KIND_PSEUDO &&
			    ((const struct sf_pseudo *)f->obj)->kind == SFP_DIR);
		if (!dir)
			e = -ENOTDIR;
		else if (f->stale)
			e = -ESTALE;
		else	/* the path is stable under fs_lock */
			memcpy(p->cwd, f->path, (size_t)f->path_len + 1);
	}
	sf_fs_unlock(p);
	if (f)
		fd_file_put(f);
	return e;
}

/* SETATTR of a storage path. */
static long sf_setattr(struct proc *p, const char *path, size_t n, const struct lego_st_attr *a)
{
	struct lego_st_req h;
	long r;

	if (!a->mask)
		return 0;	/* utimensat with both times omitted */
	memset(&h, 0, sizeof(h));
	h.path_len = (u16)n;
	h.len = sizeof(*a);
	r = proc_st_call(p, LEGO_OP_ST_SETATTR, &h, path, NULL, a, NULL, 0, NULL);
	return r < 0 ? r : 0;
}

/* SETATTR of what dirfd + path (or fd alone, upath NULL) names. */
static long sf_setattr_at(int dirfd, const char *upath, bool by_fd, u32 atflags,
			  const struct lego_st_attr *a)
{
	struct proc *p = proc_current();
	struct sf_lookup *l;
	long r;

	if (by_fd) {
		struct fd_file *f;
		char *path;

		r = sf_get(p, dirfd, FD_NEED_ANY, &f);
		if (r)
			return r;
		if (f->kind != FD_KIND_REG && f->kind != FD_KIND_DIR) {
			fd_file_put(f);
			return 0;	/* devices and the console keep no attributes */
		}
		path = kmalloc(LEGO_ST_PATH_MAX);
		r = path ? sf_desc_path(f, path) : -ENOMEM;
		if (r >= 0)
			r = sf_setattr(p, path, (size_t)r, a);
		kfree(path);
		fd_file_put(f);
		return r;
	}
	l = sf_lookup_alloc();
	if (!l)
		return -ENOMEM;
	r = sf_lookup_user(p, dirfd, upath, (atflags & AT_SYMLINK_NOFOLLOW) ? 0 : SF_FOLLOW, l);
	if (r == 0 && !l->exists)
		r = -ENOENT;
	if (r == 0 && !l->pseudo)
		r = sf_setattr(p, l->w.done, l->w.done_len, a);
	sf_lookup_free(l);
	return r;
}

static long sys_chmod(struct user_regs *r)
{
	struct lego_st_attr a = { .mask = LEGO_ST_ATTR_MODE, .mode = (u32)r->rsi & 07777 };

	return sf_setattr_at(AT_FDCWD, (const char *)r->rdi, false, 0, &a);
}

static long sys_fchmod(struct user_regs *r)
{
	struct lego_st_attr a = { .mask = LEGO_ST_ATTR_MODE, .mode = (u32)r->rsi & 07777 };

	return sf_setattr_at((int)r->rdi, NULL, true, 0, &a);
}

static long sys_fchmodat(struct user_regs *r)
{
	struct lego_st_attr a = { .mask = LEGO_ST_ATTR_MODE, .mode = (u32)r->rdx & 07777 };

	return sf_setattr_at((int)r->rdi, (const char *)r->rsi, false, 0, &a);
}

/* chown family: uid or gid (u32)-1 leaves it as it is. */
static long sf_chown(int dirfd, const char *upath, bool by_fd, u32 uid, u32 gid, u32 atflags)
{
	struct lego_st_attr a = { 0 };

	if (atflags & ~(u32)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if (uid != (u32)-1) {
		a.mask |= LEGO_ST_ATTR_UID;
		a.uid = uid;
	}
	if (gid != (u32)-1) {
		a.mask |= LEGO_ST_ATTR_GID;
		a.gid = gid;
	}
	return sf_setattr_at(dirfd, upath, by_fd, atflags, &a);
}

static long sys_chown(struct user_regs *r)
{
	return sf_chown(AT_FDCWD, (const char *)r->rdi, false, (u32)r->rsi, (u32)r->rdx, 0);
}

static long sys_lchown(struct user_regs *r)
{
	return sf_chown(AT_FDCWD, (const char *)r->rdi, false, (u32)r->rsi, (u32)r->rdx,
			AT_SYMLINK_NOFOLLOW);
}

static long sys_fchown(struct user_regs *r)
{
	return sf_chown((int)r->rdi, NULL, true, (u32)r->rsi, (u32)r->rdx, 0);
}

static long sys_fchownat(struct user_regs *r)
{
	return sf_chown((int)r->rdi, (const char *)r->rsi, false, (u32)r->rdx, (u32)r->r10,
			(u32)r->r8);
}

/* utimensat's special nanosecond values. */
#define SF_UTIME_NOW ((1l << 30) - 1)
#define SF_UTIME_OMIT ((1l << 30) - 2)

static long sys_utimensat(struct user_regs *r)
{
	struct lego_st_attr a = { .mask = LEGO_ST_ATTR_MTIME };
	u32 fl = (u32)r->r10;
	s64 ts[4];

	if (fl & ~(u32)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	a.mtime_ns = wallclock_ns();
	if (r->rdx) {
		/* times[0] is atime (not kept), times[1] mtime. */
		if (copy_from_user(ts, (const void *)r->rdx, sizeof(ts)))
			return -EFAULT;
		for (int i = 0; i < 2; i++)
			if (ts[2 * i + 1] != SF_UTIME_NOW && ts[2 * i + 1] != SF_UTIME_OMIT &&
			    (ts[2 * i + 1] < 0 || ts[2 * i + 1] >= 1000000000))
				return -EINVAL;
		if (ts[3] == SF_UTIME_OMIT)
			a.mask = 0;
		else if (ts[3] != SF_UTIME_NOW)
			a.mtime_ns = (u64)ts[2] * 1000000000ull + (u64)ts[3];
	}
	/* A NULL path is futimens(dirfd). */
	if (!r->rsi)
		return a.mask ? sf_setattr_at((int)r->rdi, NULL, true, 0, &a) : 0;
	if (!a.mask) {
		/* Nothing to set, but the path must still resolve. */
		struct lego_st_attr none = { 0 };
		return sf_setattr_at((int)r->rdi, (const char *)r->rsi, false, fl, &none);
	}
	return sf_setattr_at((int)r->rdi, (const char *)r->rsi, false, fl, &a);
}

static long sys_truncate(struct user_regs *r)
{
	struct proc *p = proc_current();
	s64 len = (s64)r->rsi;
	struct sf_lookup *l;
	long e;

	if (len < 0)
		return -EINVAL;
	l = sf_lookup_alloc();
	if (!l)
		return -ENOMEM;
	e = sf_lookup_user(p, AT_FDCWD, (const char *)r->rdi, SF_FOLLOW, l);
	if (e == 0 && !l->exists)
		e = -ENOENT;
	if (e == 0 && (l->st.mode & S_IFMT) == S_IFDIR)
		e = -EISDIR;
	if (e == 0 && (l->pseudo || (l->st.mode & S_IFMT) != S_IFREG))
		e = -EINVAL;
	if (e == 0)
		e = sf_st_simple(p, LEGO_OP_ST_TRUNCATE, l->w.done, l->w.done_len, 0, (u64)len, 0);
	sf_lookup_free(l);
	return e;
}

static long sys_ftruncate(struct user_regs *r)
{
	struct proc *p = proc_current();
	s64 len = (s64)r->rsi;
	struct fd_file *f;
	char *path;
	long e;

	if (len < 0)
		return -EINVAL;
	e = sf_get(p, (int)r->rdi, FD_NEED_IO, &f);
	if (e)
		return e;
	if (f->kind != FD_KIND_REG || !((f->mode & O_ACCMODE) == O_WRONLY ||
					(f->mode & O_ACCMODE) == O_RDWR)) {
		fd_file_put(f);
		return -EINVAL;
	}
	path = kmalloc(LEGO_ST_PATH_MAX);
	e = path ? sf_desc_path(f, path) : -ENOMEM;
	if (e >= 0)
		e = sf_st_simple(p, LEGO_OP_ST_TRUNCATE, path, (size_t)e, 0, (u64)len, 0);
	kfree(path);
	fd_file_put(f);
	return e;
}

void sys_path_init(void)
{
	sys_register(76, sys_truncate);
	sys_register(77, sys_ftruncate);
	sys_register(80, sys_chdir);
	sys_register(81, sys_fchdir);
	sys_register(82, sys_rename);
	sys_register(83, sys_mkdir);
	sys_register(84, sys_rmdir);
	sys_register(86, sys_link);	/* partial: EPERM: the store has no hard links */
	sys_register(87, sys_unlink);
	sys_register(88, sys_symlink);
	sys_register(90, sys_chmod);
	sys_register(92, sys_chown);
	sys_register(93, sys_fchown);
	sys_register(94, sys_lchown);
	sys_register(260, sys_fchownat);
	sys_register(91, sys_fchmod);
	sys_register(133, sys_mknod);
	sys_register(258, sys_mkdirat);
	sys_register(259, sys_mknodat);
	sys_register(265, sys_linkat);	/* partial: EPERM: the store has no hard links */
	sys_register(263, sys_unlinkat);
	sys_register(264, sys_renameat);
	sys_register(266, sys_symlinkat);
	sys_register(268, sys_fchmodat);
	sys_register(280, sys_utimensat);
	sys_register(316, sys_renameat2);
}
