/* The stat family of the processor's file syscalls (paper §4.3.3): stat,
 * fstat, lstat, newfstatat, statx, access, faccessat(2), readlink(at).
 * Answers come from a storage STAT of the resolved path (which describes
 * a link itself), the pseudo-file table or the console; they are packed
 * as Linux x86-64 records by linux_pack.c. Locking: sys_file_int.h. */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/string.h>
#include <lego/uaccess.h>
#include "sys_file_int.h"

/* statx's sync-type bits (AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC). */
#define SF_AT_STATX_SYNC_TYPE 0x6000
#define SF_STATX_RESERVED 0x80000000u

/* Attributes of dirfd + path with AT_* flags (already checked). */
static long sf_stat_at(struct proc *p, int dirfd, const char *upath, u32 atflags,
		       bool null_ok, struct linux_attr *a)
{
	struct sf_lookup *l = sf_lookup_alloc();
	unsigned int lf = 0;
	long r;

	if (!l)
		return -ENOMEM;
	r = sf_copy_upath(l, upath, null_ok && (atflags & AT_EMPTY_PATH));
	if (r)
		goto out;
	if (!l->ulen && (atflags & AT_EMPTY_PATH) && dirfd != AT_FDCWD) {
		/* fstat of dirfd, whatever it is (console, device...). */
		struct fd_file *f;
		r = sf_get(p, dirfd, FD_NEED_ANY, &f);
		if (r == 0) {
			r = sf_file_attr(p, f, a);
			fd_file_put(f);
		}
		goto out;
	}
	if (!(atflags & AT_SYMLINK_NOFOLLOW))
		lf |= SF_FOLLOW;
	if (atflags & AT_EMPTY_PATH)
		lf |= SF_EMPTY;
	r = sf_resolve(p, dirfd, l, lf);
	if (r == 0 && !l->exists)
		r = -ENOENT;
	if (r == 0)
		sf_lookup_attr(p, l, a);
out:
	sf_lookup_free(l);
	return r;
}

static long sf_put_stat(const struct linux_attr *a, void *ubuf)
{
	struct linux_stat s;

	linux_stat_pack(&s, a);
	return copy_to_user(ubuf, &s, sizeof(s)) ? -EFAULT : 0;
}

static long sys_stat(struct user_regs *r)
{
	struct linux_attr a;
	long e = sf_stat_at(proc_current(), AT_FDCWD, (const char *)r->rdi, 0, false, &a);

	return e ? e : sf_put_stat(&a, (void *)r->rsi);
}

static long sys_lstat(struct user_regs *r)
{
	struct linux_attr a;
	long e = sf_stat_at(proc_current(), AT_FDCWD, (const char *)r->rdi, AT_SYMLINK_NOFOLLOW,
			    false, &a);

	return e ? e : sf_put_stat(&a, (void *)r->rsi);
}

static long sys_fstat(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct linux_attr a;
	struct fd_file *f;
	long e;

	e = sf_get(p, (int)r->rdi, FD_NEED_ANY, &f);
	if (e)
		return e;
	e = sf_file_attr(p, f, &a);
	fd_file_put(f);
	return e ? e : sf_put_stat(&a, (void *)r->rsi);
}

static long sys_newfstatat(struct user_regs *r)
{
	u32 fl = (u32)r->r10;
	struct linux_attr a;
	long e;

	if (fl & ~(u32)(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH))
		return -EINVAL;
	e = sf_stat_at(proc_current(), (int)r->rdi, (const char *)r->rsi, fl, true, &a);
	return e ? e : sf_put_stat(&a, (void *)r->rdx);
}

static long sys_statx(struct user_regs *r)
{
	u32 fl = (u32)r->rdx, mask = (u32)r->r10;
	struct linux_statx x;
	struct linux_attr a;
	long e;

	if (fl & ~(u32)(AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_EMPTY_PATH |
			SF_AT_STATX_SYNC_TYPE))
		return -EINVAL;
	if ((fl & SF_AT_STATX_SYNC_TYPE) == SF_AT_STATX_SYNC_TYPE || (mask & SF_STATX_RESERVED))
		return -EINVAL;
	e = sf_stat_at(proc_current(), (int)r->rdi, (const char *)r->rsi, fl, true, &a);
	if (e)
		return e;
	linux_statx_pack(&x, &a);
	return copy_to_user((void *)r->r8, &x, sizeof(x)) ? -EFAULT : 0;
}

/* access modes */
#define SF_X_OK 1
#define SF_W_OK 2
#define SF_R_OK 4

static long sf_access(int dirfd, const char *upath, u32 mode, u32 fl)
{
	struct linux_attr a;
	long e;

	if (mode & ~(u32)(SF_R_OK | SF_W_OK | SF_X_OK))
		return -EINVAL;
	if (fl & ~(u32)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x200 /* AT_EACCESS */))
		return -EINVAL;
	e = sf_stat_at(proc_current(), dirfd, upath, fl & ~0x200u, false, &a);
	if (e)
		return e;
	/* Programs run as root in their vNode: only execution needs a bit. */
	if ((mode & SF_X_OK) && (a.mode & S_IFMT) != S_IFDIR && !(a.mode & 0111))
		return -EACCES;
	return 0;
}

static long sys_access(struct user_regs *r)
{
	return sf_access(AT_FDCWD, (const char *)r->rdi, (u32)r->rsi, 0);
}

static long sys_faccessat(struct user_regs *r)
{
	return sf_access((int)r->rdi, (const char *)r->rsi, (u32)r->rdx, 0);
}

static long sys_faccessat2(struct user_regs *r)
{
	return sf_access((int)r->rdi, (const char *)r->rsi, (u32)r->rdx, (u32)r->r10);
}

static long sf_readlinkat(int dirfd, const char *upath, char *ubuf, s64 size)
{
	struct proc *p = proc_current();
	struct sf_lookup *l;
	long r;

	if (size <= 0)
		return -EINVAL;
	l = sf_lookup_alloc();
	if (!l)
		return -ENOMEM;
	r = sf_lookup_user(p, dirfd, upath, 0, l);
	if (r == 0 && !l->exists)
		r = -ENOENT;
	if (r == 0 && (l->st.mode & S_IFMT) != S_IFLNK)
		r = -EINVAL;
	if (r == 0)
		r = sf_readlink_found(p, l, l->link, sizeof(l->link));
	if (r > 0) {
		if (r > size)
			r = size;
		if (copy_to_user(ubuf, l->link, (size_t)r))
			r = -EFAULT;
	}
	sf_lookup_free(l);
	return r;
}

static long sys_readlink(struct user_regs *r)
{
	return sf_readlinkat(AT_FDCWD, (const char *)r->rdi, (char *)r->rsi, (s32)r->rdx);
}

static long sys_readlinkat(struct user_regs *r)
{
	return sf_readlinkat((int)r->rdi, (const char *)r->rsi, (char *)r->rdx, (s32)r->r10);
}

/* statfs: one answer for the whole vNode (the sComponent's store). */
static long sf_statfs_put(struct proc *p, void *ubuf)
{
	struct lego_st_statfs *s = kmalloc(sizeof(*s));
	struct linux_statfs out;
	struct lego_st_req h;
	u32 got = 0;
	long r;

	if (!s)
		return -ENOMEM;
	memset(&h, 0, sizeof(h));
	r = proc_st_call(p, LEGO_OP_ST_STATFS, &h, "", NULL, NULL, s, sizeof(*s), &got);
	if (r >= 0 && got < sizeof(*s))
		r = -EPROTO;
	if (r >= 0) {
		linux_statfs_pack(&out, s, p->vnode);
		r = copy_to_user(ubuf, &out, sizeof(out)) ? -EFAULT : 0;
	}
	kfree(s);
	return r;
}

static long sys_statfs(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct sf_lookup *l = sf_lookup_alloc();
	long e;

	if (!l)
		return -ENOMEM;
	e = sf_lookup_user(p, AT_FDCWD, (const char *)r->rdi, SF_FOLLOW, l);
	if (e == 0 && !l->exists)
		e = -ENOENT;
	sf_lookup_free(l);
	return e ? e : sf_statfs_put(p, (void *)r->rsi);
}

static long sys_fstatfs(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct fd_file *f;
	long e;

	e = sf_get(p, (int)r->rdi, FD_NEED_ANY, &f);
	if (e)
		return e;
	fd_file_put(f);
	return sf_statfs_put(p, (void *)r->rsi);
}

void sys_stat_init(void)
{
	sys_register(137, sys_statfs);
	sys_register(138, sys_fstatfs);
	sys_register(4, sys_stat);
	sys_register(5, sys_fstat);
	sys_register(6, sys_lstat);
	sys_register(21, sys_access);
	sys_register(89, sys_readlink);
	sys_register(262, sys_newfstatat);
	sys_register(267, sys_readlinkat);
	sys_register(269, sys_faccessat);
	sys_register(332, sys_statx);
	sys_register(439, sys_faccessat2);
}
