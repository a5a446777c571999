/* Path lookup for the processor's file syscalls (paper §4.3.3): a user
 * path, relative to the cwd or a dirfd, resolved component by component
 * with the vpath walk into the full storage path every request carries.
 * The store follows no symbolic links, so each component is STATed (a
 * STAT describes a link itself) and links are read and spliced here. A
 * small table of pseudo-files (devices, /proc/self/exe) answers before
 * the storage. Locking: sys_file_int.h. */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/string.h>
#include <lego/uaccess.h>
#include <lego/vpath.h>
#include "sys_file_int.h"

/* ------------------------------------------------------------------ */
/* Storage helpers                                                     */

int sf_st_stat(struct proc *p, const char *path, size_t n, struct lego_st_stat *st)
{
	struct lego_st_req h;
	u32 got = 0;
	int r;

	memset(&h, 0, sizeof(h));
	h.path_len = (u16)n;
	r = proc_st_call(p, LEGO_OP_ST_STAT, &h, path, NULL, NULL, st, sizeof(*st), &got);
	if (r < 0)
		return r;
	return got == sizeof(*st) ? 0 : -EPROTO;
}

int sf_st_simple(struct proc *p, u16 op, const char *path, size_t n, u32 mode, u64 off,
		 u32 flags)
{
	struct lego_st_req h;
	u32 got = 0;
	int r;

	memset(&h, 0, sizeof(h));
	h.path_len = (u16)n;
	h.mode = mode;
	h.off = off;
	h.flags = flags;
	r = proc_st_call(p, op, &h, path, NULL, NULL, NULL, 0, &got);
	return r < 0 ? r : 0;
}

u64 sf_vnode_dev(struct proc *p)
{
	/* One anonymous-style device per vNode, like a mounted filesystem. */
	return linux_makedev(0, 0x40 + (p->vnode & 0xfffu));
}

/* ------------------------------------------------------------------ */
/* The namespace as the process sees it                                */

/* STAT of path as the process sees it: pseudo-files first, then the
 * storage, then the pseudo directories the storage lacks. */
static int sf_stat_any(struct proc *p, const char *path, size_t n, struct lego_st_stat *st,
		       const struct sf_pseudo **pseudo)
{
	const struct sf_pseudo *e = sf_pseudo_find(path, n, false);
	int r;

	*pseudo = NULL;
	if (e) {
		sf_pseudo_st(p, e, st);
		*pseudo = e;
		return 0;
	}
	r = sf_st_stat(p, path, n, st);
	if (r == -ENOENT) {
		e = sf_pseudo_find(path, n, true);
		if (e) {
			sf_pseudo_st(p, e, st);
			*pseudo = e;
			return 0;
		}
	}
	return r;
}

static long sf_readlink_any(struct proc *p, const char *path, size_t n,
			    const struct sf_pseudo *e, char *buf, size_t cap)
{
	struct lego_st_req h;
	u32 got = 0;
	int r;

	if (e)
		return sf_pseudo_readlink(p, e, path, n, buf, cap);
	memset(&h, 0, sizeof(h));
	h.path_len = (u16)n;
	r = proc_st_call(p, LEGO_OP_ST_READLINK, &h, path, NULL, NULL, buf, (u32)cap, &got);
	if (r < 0)
		return r;
	return got;
}

long sf_readlink_found(struct proc *p, const struct sf_lookup *l, char *buf, size_t cap)
{
	return sf_readlink_any(p, l->w.done, l->w.done_len, l->pseudo, buf, cap);
}

void sf_lookup_attr(struct proc *p, const struct sf_lookup *l, struct linux_attr *a)
{
	if (l->pseudo) {
		linux_attr_from_st(a, &l->st, linux_makedev(0, 5));
		a->rdev = linux_makedev(l->pseudo->rdev_major, l->pseudo->rdev_minor);
		return;
	}
	linux_attr_from_st(a, &l->st, sf_vnode_dev(p));
}

int sf_file_attr(struct proc *p, struct fd_file *f, struct linux_attr *a)
{
	struct lego_st_stat st;
	char *path;
	int r;

	switch (f->kind) {
	case FD_KIND_CONSOLE:
		/* A pseudo-terminal, as a program's stdio usually is. */
		memset(a, 0, sizeof(*a));
		a->dev = linux_makedev(0, 0x18);
		a->ino = 3;
		a->nlink = 1;
		a->mode = S_IFCHR | 0620;
		a->gid = 5;	/* tty */
		a->rdev = linux_makedev(136, 0);
		a->mtime_ns = 0;
		return 0;
	case FD_KIND_PSEUDO: {
		const struct sf_pseudo *e = f->obj;
		sf_pseudo_st(p, e, &st);
		linux_attr_from_st(a, &st, linux_makedev(0, 5));
		a->rdev = linux_makedev(e->rdev_major, e->rdev_minor);
		return 0;
	}
	case FD_KIND_REG:
	case FD_KIND_DIR:
		break;
	default:
		memset(a, 0, sizeof(*a));
		a->mode = S_IFIFO | 0600;
		a->nlink = 1;
		return 0;
	}
	path = kmalloc(LEGO_ST_PATH_MAX);
	if (!path)
		return -ENOMEM;
	r = sf_desc_path(f, path);
	if (r >= 0)
		r = sf_st_stat(p, path, (size_t)r, &st);
	kfree(path);
	if (r < 0)
		return r;
	linux_attr_from_st(a, &st, sf_vnode_dev(p));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Lookup                                                              */

struct sf_lookup *sf_lookup_alloc(void)
{
	struct sf_lookup *l = kmalloc(sizeof(*l));

	if (l) {
		l->exists = false;
		l->pseudo = NULL;
		l->ulen = 0;
		l->upath[0] = '\0';
	}
	return l;
}

void sf_lookup_free(struct sf_lookup *l)
{
	kfree(l);
}

int sf_copy_upath(struct sf_lookup *l, const char *upath, bool null_ok)
{
	long n;

	if (!upath) {
		if (!null_ok)
			return -EFAULT;
		l->ulen = 0;
		l->upath[0] = '\0';
		return 0;
	}
	n = strncpy_from_user(l->upath, upath, LINUX_PATH_MAX);
	if (n < 0)
		return (int)n;
	if (n >= LINUX_PATH_MAX)
		return -ENAMETOOLONG;
	l->ulen = (size_t)n;
	return 0;
}

/* The base of a relative lookup into l->base: the cwd, or dirfd's path. */
static int sf_lookup_base(struct proc *p, int dirfd, struct sf_lookup *l, unsigned int flags)
{
	struct fd_file *f = NULL;
	int r = 0;

	sf_fs_lock(p);
	if (dirfd == AT_FDCWD) {
		strlcpy(l->base, p->cwd, sizeof(l->base));
		sf_fs_unlock(p);
		return 0;
	}
	r = fd_table_get(p->fds, dirfd, FD_NEED_ANY, &f);
	if (r == 0) {
		bool self = !l->ulen && (flags & SF_EMPTY);
		/* The path is stable under fs_lock (sys_file_int.h). */
		if (f->kind == FD_KIND_DIR || (self && f->kind == FD_KIND_REG)) {
			if (f->stale)
				r = -ESTALE;
			else
				memcpy(l->base, f->path, (size_t)f->path_len + 1);
		} else if (f->kind == FD_KIND_PSEUDO &&
			   ((const struct sf_pseudo *)f->obj)->kind == SFP_DIR) {
			memcpy(l->base, f->path, (size_t)f->path_len + 1);
		} else {
			r = -ENOTDIR;
		}
	}
	sf_fs_unlock(p);
	if (f)
		fd_file_put(f);
	return r;
}

int sf_resolve(struct proc *p, int dirfd, struct sf_lookup *l, unsigned int flags)
{
	struct vpath_walk *w = &l->w;
	bool absolute = l->ulen && l->upath[0] == '/';
	bool final_known = false;
	int r;

	l->exists = false;
	l->pseudo = NULL;
	/* "" is ENOENT before the dirfd is looked at, as on Linux. */
	if (!l->ulen && !(flags & SF_EMPTY))
		return -ENOENT;
	if (!absolute) {
		r = sf_lookup_base(p, dirfd, l, flags);
		if (r)
			return r;
	}
	r = vpath_walk_init(w, absolute ? NULL : l->base, absolute ? 0 : strlen(l->base),
			    l->upath, l->ulen, (flags & SF_EMPTY) ? VPATH_EMPTY_OK : 0);
	if (r)
		return r;
	for (;;) {
		r = vpath_walk_step(w);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		final_known = false;
		r = sf_stat_any(p, w->done, w->done_len, &l->st, &l->pseudo);
		if (r == -ENOENT && w->last) {
			/* The final component is missing: creators want this. */
			l->exists = false;
			l->pseudo = NULL;
			final_known = true;
			continue;
		}
		if (r < 0)
			return r;
		if ((l->st.mode & S_IFMT) == S_IFLNK &&
		    (!w->last || w->need_dir || (flags & SF_FOLLOW))) {
			long n = sf_readlink_any(p, w->done, w->done_len, l->pseudo, l->link,
						 sizeof(l->link));
			if (n < 0)
				return (int)n;
			r = vpath_walk_link(w, l->link, (size_t)n);
			if (r < 0)
				return r;
			continue;
		}
		if (w->need_dir && (l->st.mode & S_IFMT) != S_IFDIR)
			return -ENOTDIR;
		l->exists = true;
		final_known = w->last;
	}
	if (!final_known) {
		/* The walk ended on "." or "..", or on the base itself: look at
		 * what done names now. */
		r = sf_stat_any(p, w->done, w->done_len, &l->st, &l->pseudo);
		if (r == -ENOENT) {
			l->exists = false;
			l->pseudo = NULL;
		} else if (r < 0) {
			return r;
		} else {
			l->exists = true;
		}
	}
	if (l->exists && w->dir_final && (l->st.mode & S_IFMT) != S_IFDIR)
		return -ENOTDIR;
	return 0;
}

int sf_lookup_user(struct proc *p, int dirfd, const char *upath, unsigned int flags,
		   struct sf_lookup *l)
{
	int r = sf_copy_upath(l, upath, false);

	return r ? r : sf_resolve(p, dirfd, l, flags);
}
