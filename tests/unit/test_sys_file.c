/* Host tests of the processor's file syscalls (managers/processor/sys_file.c,
 * sys_lookup.c, sys_stat.c, sys_path.c) against a small in-memory model
 * of the storage service (include/uapi/lego/storage.h semantics, no link
 * following), with the kernel services they call stubbed: user memory is
 * host memory (addresses below 4096 fault), the console is captured, and
 * every mutex checks that it is never taken twice (the description locks
 * hash onto shared mutexes: a nested take would deadlock the kernel).
 * Cases: console streams across dup2/close, open flags, chunked I/O,
 * O_APPEND, symlinks and ELOOP, pseudo-files, getdents64 paging, rename
 * with open fds and the cwd, unlink/rmdir errors, *at forms, truncate,
 * fcntl, access, readv/writev, mmap's path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../managers/processor/sys_file_int.h"
#include "../../managers/processor/sys_file.h"
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/mutex.h>
#include <lego/uaccess.h>
#include <lego/random.h>
#include <lego/wallclock.h>
#include <lego/time.h>
#include <lego/smp.h>
#include <lego/printk.h>
#include <lego/path.h>

/* ---- the model storage ---- */

#define NODES 512
struct node {
	bool used;
	char path[LEGO_ST_PATH_MAX];
	u32 mode, ino, uid;
	u8 *data;
	u64 size;
	char target[LINUX_PATH_MAX];
	size_t tlen;
};
static struct node nodes[NODES];
static u32 next_ino;
static unsigned st_calls;

static int nfind(const char *p, size_t n)
{
	for (int i = 0; i < NODES; i++)
		if (nodes[i].used && strlen(nodes[i].path) == n && !memcmp(nodes[i].path, p, n))
			return i;
	return -1;
}

static int nparent_dir(const char *p, size_t n)
{
	int i = nfind(p, vpath_parent_len(p, n));

	if (i < 0)
		return -ENOENT;
	return (nodes[i].mode & S_IFMT) == S_IFDIR ? 0 : -ENOTDIR;
}

static int nnew(const char *p, size_t n, u32 mode)
{
	for (int i = 0; i < NODES; i++)
		if (!nodes[i].used) {
			memset(&nodes[i], 0, sizeof(nodes[i]));
			nodes[i].used = true;
			memcpy(nodes[i].path, p, n);
			nodes[i].mode = mode;
			nodes[i].ino = ++next_ino;
			return i;
		}
	return -ENOSPC;
}

static void nfree(int i)
{
	free(nodes[i].data);
	nodes[i].used = false;
}

static int nresize(int i, u64 size)
{
	u8 *d = realloc(nodes[i].data, size ? size : 1);
	if (!d)
		return -ENOMEM;
	if (size > nodes[i].size)
		memset(d + nodes[i].size, 0, size - nodes[i].size);
	nodes[i].data = d;
	nodes[i].size = size;
	return 0;
}

static bool nhas_children(const char *p, size_t n)
{
	for (int i = 0; i < NODES; i++)
		if (nodes[i].used && vpath_is_within(nodes[i].path, strlen(nodes[i].path), p, n) &&
		    strlen(nodes[i].path) != n)
			return true;
	return false;
}

static void mkpath(const char *p, u32 mode)
{
	nnew(p, strlen(p), mode);
}

static void store_reset(void)
{
	for (int i = 0; i < NODES; i++)
		if (nodes[i].used)
			nfree(i);
	next_ino = 0;
	mkpath("/", S_IFDIR | 0755);
	mkpath("/tmp", S_IFDIR | 01777);
	mkpath("/bin", S_IFDIR | 0755);
	mkpath("/bin/prog", S_IFREG | 0755);
}

int proc_st_call(struct proc *p, u16 op, const struct lego_st_req *h, const char *path,
		 const char *path2, const void *data, void *reply, u32 max, u32 *got)
{
	size_t n = h->path_len;
	int i = n ? nfind(path, n) : -1;
	struct lego_st_count cnt;
	u32 dummy;

	if (!got)
		got = &dummy;
	*got = 0;
	st_calls++;
	if ((op != LEGO_OP_ST_FSYNC && op != LEGO_OP_ST_STATFS) || n)
		assert_int_equal(lego_path_check(path, n), 0);
	switch (op) {
	case LEGO_OP_ST_STAT: {
		struct lego_st_stat st;
		if (i < 0)
			return nparent_dir(path, n) ? nparent_dir(path, n) : -ENOENT;
		memset(&st, 0, sizeof(st));
		st.ino = nodes[i].ino;
		st.mode = nodes[i].mode;
		st.nlink = 1;
		st.size = (nodes[i].mode & S_IFMT) == S_IFLNK ? nodes[i].tlen : nodes[i].size;
		st.blocks = (nodes[i].size + 4095) / 4096;
		st.mtime_ns = 1000000000ull * 1700000000 + 5;
		assert_true(max >= sizeof(st));
		memcpy(reply, &st, sizeof(st));
		*got = sizeof(st);
		return 0;
	}
	case LEGO_OP_ST_CREATE:
		if (i >= 0) {
			if (h->flags & LEGO_ST_O_EXCL)
				return -EEXIST;
			if ((nodes[i].mode & S_IFMT) == S_IFDIR)
				return -EISDIR;
			if (h->flags & LEGO_ST_O_TRUNC)
				nresize(i, 0);
			return 0;
		}
		if (nparent_dir(path, n))
			return nparent_dir(path, n);
		return nnew(path, n, S_IFREG | (h->mode & 07777)) < 0 ? -ENOSPC : 0;
	case LEGO_OP_ST_READ: {
		if (i < 0)
			return -ENOENT;
		if ((nodes[i].mode & S_IFMT) == S_IFDIR)
			return -EISDIR;
		if ((nodes[i].mode & S_IFMT) != S_IFREG)
			return -EINVAL;
		assert_true(h->len <= LEGO_ST_IO_MAX);
		u64 len = h->off >= nodes[i].size ? 0 : nodes[i].size - h->off;
		if (len > h->len)
			len = h->len;
		assert_true(len <= max);
		memcpy(reply, nodes[i].data + h->off, len);
		*got = (u32)len;
		return 0;
	}
	case LEGO_OP_ST_WRITE:
	case LEGO_OP_ST_APPEND: {
		u64 off;
		if (i < 0)
			return -ENOENT;
		if ((nodes[i].mode & S_IFMT) != S_IFREG)
			return -EISDIR;
		assert_true(h->len <= LEGO_ST_IO_MAX && h->len > 0);
		off = op == LEGO_OP_ST_APPEND ? nodes[i].size : h->off;
		if (off + h->len > nodes[i].size)
			nresize(i, off + h->len);
		memcpy(nodes[i].data + off, data, h->len);
		cnt.value = op == LEGO_OP_ST_APPEND ? off : h->len;
		memcpy(reply, &cnt, sizeof(cnt));
		*got = sizeof(cnt);
		return 0;
	}
	case LEGO_OP_ST_TRUNCATE:
		if (i < 0)
			return -ENOENT;
		if ((nodes[i].mode & S_IFMT) != S_IFREG)
			return -EISDIR;
		return nresize(i, h->off);
	case LEGO_OP_ST_UNLINK:
		if (i < 0)
			return -ENOENT;
		if ((nodes[i].mode & S_IFMT) == S_IFDIR)
			return -EISDIR;
		nfree(i);
		return 0;
	case LEGO_OP_ST_MKDIR:
		if (i >= 0)
			return -EEXIST;
		if (nparent_dir(path, n))
			return nparent_dir(path, n);
		return nnew(path, n, S_IFDIR | (h->mode & 07777)) < 0 ? -ENOSPC : 0;
	case LEGO_OP_ST_RMDIR:
		if (i < 0)
			return -ENOENT;
		if ((nodes[i].mode & S_IFMT) != S_IFDIR)
			return -ENOTDIR;
		if (nhas_children(path, n))
			return -ENOTEMPTY;
		nfree(i);
		return 0;
	case LEGO_OP_ST_RENAME: {
		size_t n2 = h->path2_len;
		int j = nfind(path2, n2);
		if (i < 0)
			return -ENOENT;
		if (nparent_dir(path2, n2))
			return nparent_dir(path2, n2);
		if (j >= 0) {
			if (nhas_children(path2, n2))
				return -ENOTEMPTY;
			nfree(j);
		}
		for (int k = 0; k < NODES; k++) {
			char buf[LEGO_ST_PATH_MAX];
			size_t kl = strlen(nodes[k].path);
			if (!nodes[k].used || !vpath_is_within(nodes[k].path, kl, path, n))
				continue;
			assert_true(vpath_rebase(nodes[k].path, kl, path, n, path2, n2, buf,
						 sizeof(buf)) > 0);
			strcpy(nodes[k].path, buf);
		}
		return 0;
	}
	case LEGO_OP_ST_READDIR: {
		struct lego_st_readdir_reply rh = { 0 };
		u32 off = sizeof(rh);
		if (i < 0)
			return -ENOENT;
		if ((nodes[i].mode & S_IFMT) != S_IFDIR)
			return -ENOTDIR;
		assert_true(h->len >= 1 && h->len <= LEGO_ST_READDIR_MAX);
		/* Entry k has cookie 2k + 2: order by slot. */
		for (int k = 0; k < NODES && rh.count < h->len; k++) {
			struct lego_st_dirent d;
			const char *kp = nodes[k].path;
			size_t kl = strlen(kp), pl = vpath_parent_len(kp, kl), nl;
			u64 cookie = 2ull * (u64)k + 2;
			if (!nodes[k].used || kl == 1 || pl != n || memcmp(kp, path, n) ||
			    cookie <= h->off)
				continue;
			nl = kl - (n == 1 ? 1 : n + 1);
			memset(&d, 0, sizeof(d));
			d.cookie = cookie;
			d.ino = nodes[k].ino;
			d.type = linux_dt_from_mode(nodes[k].mode);
			d.name_len = (u16)nl;
			assert_true(off + LEGO_ST_DIRENT_SIZE(nl) <= max);
			memset((u8 *)reply + off, 0, LEGO_ST_DIRENT_SIZE(nl));
			memcpy((u8 *)reply + off, &d, sizeof(d));
			memcpy((u8 *)reply + off + sizeof(d), kp + kl - nl, nl);
			off += LEGO_ST_DIRENT_SIZE(nl);
			rh.count++;
			rh.next_cookie = cookie;
		}
		memcpy(reply, &rh, sizeof(rh));
		*got = off;
		return 0;
	}
	case LEGO_OP_ST_SYMLINK: {
		int k;
		if (i >= 0)
			return -EEXIST;
		if (nparent_dir(path, n))
			return nparent_dir(path, n);
		k = nnew(path, n, S_IFLNK | 0777);
		memcpy(nodes[k].target, path2, h->path2_len);
		nodes[k].tlen = h->path2_len;
		return 0;
	}
	case LEGO_OP_ST_READLINK:
		if (i < 0)
			return -ENOENT;
		if ((nodes[i].mode & S_IFMT) != S_IFLNK)
			return -EINVAL;
		assert_true(max >= nodes[i].tlen);
		memcpy(reply, nodes[i].target, nodes[i].tlen);
		*got = (u32)nodes[i].tlen;
		return 0;
	case LEGO_OP_ST_FSYNC:
		return 0;
	case LEGO_OP_ST_STATFS: {
		struct lego_st_statfs sf;
		assert_int_equal(n, 0);
		memset(&sf, 0, sizeof(sf));
		sf.state = LEGO_ST_STATE_OK;
		sf.block_size = 4096;
		sf.total_bytes = 1 << 20;
		sf.free_bytes = 1 << 19;
		assert_true(max >= sizeof(sf));
		memcpy(reply, &sf, sizeof(sf));
		*got = sizeof(sf);
		return 0;
	}
	case LEGO_OP_ST_SETATTR: {
		struct lego_st_attr a;
		if (i < 0)
			return -ENOENT;
		assert_int_equal(h->len, sizeof(a));
		memcpy(&a, data, sizeof(a));
		if (a.mask & LEGO_ST_ATTR_MODE)
			nodes[i].mode = (nodes[i].mode & S_IFMT) | (a.mode & 07777);
		if (a.mask & LEGO_ST_ATTR_UID)
			nodes[i].uid = a.uid;
		assert_false(a.mask & LEGO_ST_ATTR_GID);
		return 0;
	}
	default:
		fail_msg("unexpected storage op %#x", op);
		return -EINVAL;
	}
}

/* ---- kernel services ---- */

static struct proc *P;
static char out[3][8192];
static size_t outlen[3];
static int out_calls;
static const char *input;

void *kmalloc(size_t size) { return malloc(size ? size : 1); }
void *kzalloc(size_t size) { return calloc(1, size ? size : 1); }
void kfree(const void *p) { free((void *)p); }

void mutex_init(struct mutex *m) { m->owner = NULL; }
void mutex_lock(struct mutex *m)
{
	/* One thread here: a mutex already held would deadlock the kernel. */
	assert_null(m->owner);
	m->owner = (struct thread *)m;
}
void mutex_unlock(struct mutex *m)
{
	assert_non_null(m->owner);
	m->owner = NULL;
}
void spin_lock(spinlock_t *l) { (void)l; }
void spin_unlock(spinlock_t *l) { (void)l; }

static bool bad_user(const void *u) { return (uintptr_t)u < 4096; }

int copy_from_user(void *dst, const void *usrc, size_t n)
{
	if (bad_user(usrc))
		return -EFAULT;
	memcpy(dst, usrc, n);
	return 0;
}

int copy_to_user(void *udst, const void *src, size_t n)
{
	if (bad_user(udst))
		return -EFAULT;
	memcpy(udst, src, n);
	return 0;
}

long strncpy_from_user(char *dst, const char *usrc, long n)
{
	long i;

	if (bad_user(usrc))
		return -EFAULT;
	for (i = 0; i < n; i++) {
		dst[i] = usrc[i];
		if (!usrc[i])
			return i;
	}
	return n;
}

int clear_user(void *udst, size_t n)
{
	if (bad_user(udst))
		return -EFAULT;
	memset(udst, 0, n);
	return 0;
}

size_t strlcpy(char *d, const char *s, size_t size)
{
	size_t n = strlen(s);

	if (size) {
		size_t c = n < size - 1 ? n : size - 1;
		memcpy(d, s, c);
		d[c] = '\0';
	}
	return n;
}

void get_random_bytes(void *buf, size_t len) { memset(buf, 0x42, len); }
u64 wallclock_ns(void) { return 1700000000ull * 1000000000ull; }
u64 ktime_ns(void) { return 12345678900ull; }	/* 12.34 s of uptime */
atomic_t nr_cpus_online = { 4 };
int printk(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	return 0;
}

long proc_output(struct proc *p, u32 fd, const void *buf, size_t len)
{
	assert_true(fd == 1 || fd == 2);
	assert_true(outlen[fd] + len <= sizeof(out[fd]));
	out_calls++;
	memcpy(out[fd] + outlen[fd], buf, len);
	outlen[fd] += len;
	return (long)len;
}

/* Pipes are pipe.c's (not linked here): these tests open none. */
long pipe_read(struct proc *p, struct fd_file *f, u8 *ubuf, u64 count)
{
	fail_msg("pipe_read on a test without pipes");
	return -EINVAL;
}

long pipe_write(struct proc *p, struct fd_file *f, const u8 *ubuf, u64 count)
{
	fail_msg("pipe_write on a test without pipes");
	return -EINVAL;
}

long proc_input(struct proc *p, void *ubuf, size_t len)
{
	size_t n = strlen(input);

	if (n > len)
		n = len;
	if (copy_to_user(ubuf, input, n))
		return -EFAULT;
	input += n;
	return (long)n;
}

struct proc *proc_current(void) { return P; }

/* /proc/meminfo's page allocator and /proc/self/maps' home (one MAPS
 * reply: a file mapping and the stack). */
u64 mem_usable_bytes = 64ull << 20;
u64 page_alloc_free_bytes(void) { return 16ull << 20; }
int proc_home_call(struct proc *p, u16 op, const void *req, u32 len, void *reply, u32 max,
		   u32 *got)
{
	struct lego_mem_maps_reply h = { .count = 2, .more = 0 };
	struct lego_mem_vma_rec a = { .start = 0x400000, .end = 0x402000, .pgoff = 1,
				      .prot = 5, .flags = LEGO_MEM_VMA_FILE, .path_len = 9 };
	struct lego_mem_vma_rec b = { .start = 0x7ffff000, .end = 0x80000000, .prot = 3,
				      .flags = LEGO_MEM_VMA_STACK };
	u8 *o = reply;

	(void)p; (void)req; (void)len;
	assert_int_equal(op, LEGO_OP_MEM_MAPS);
	assert_true(max >= 8 + 40 + 16 + 40);
	memset(o, 0, 8 + 40 + 16 + 40);
	memcpy(o, &h, 8);
	memcpy(o + 8, &a, 40);
	memcpy(o + 48, "/bin/prog", 9);
	memcpy(o + 64, &b, 40);
	*got = 8 + 40 + 16 + 40;
	return 0;
}

sys_fn_t sys_table[NR_SYSCALLS];
void sys_register(unsigned nr, sys_fn_t fn)
{
	assert_true(nr < NR_SYSCALLS);
	assert_null(sys_table[nr]);
	sys_table[nr] = fn;
}

/* ---- the process ---- */

static void *t_alloc(size_t size, void *ctx) { return malloc(size); }
static void t_free(void *p, void *ctx) { free(p); }
static const struct fd_ops t_ops = { .alloc = t_alloc, .free = t_free };

static int setup(void **state)
{
	static const u32 modes[3] = { O_RDONLY, O_WRONLY, O_WRONLY };

	store_reset();
	P = calloc(1, sizeof(*P));
	P->fds = calloc(1, sizeof(*P->fds));
	fd_table_init(P->fds, &t_ops, 1024);
	for (int i = 0; i < 3; i++) {
		struct fd_file *f;
		assert_int_equal(fd_file_new(&t_ops, FD_KIND_CONSOLE, "", 0, modes[i], NULL, &f), 0);
		assert_int_equal(fd_table_install(P->fds, f, i, 0), i);
		fd_file_put(f);
	}
	mutex_init(&P->fs_lock);
	strcpy(P->cwd, "/");
	strcpy(P->exe, "/bin/prog");
	P->umask = 022;
	P->vnode = 3;
	memset(outlen, 0, sizeof(outlen));
	input = "";
	return 0;
}

static int teardown(void **state)
{
	fd_table_destroy(P->fds);
	free(P->fds);
	free(P);
	P = NULL;
	return 0;
}

static long sc(unsigned nr, u64 a, u64 b, u64 c, u64 d, u64 e)
{
	struct user_regs r;

	memset(&r, 0, sizeof(r));
	r.rdi = a;
	r.rsi = b;
	r.rdx = c;
	r.r10 = d;
	r.r8 = e;
	r.error = nr;
	assert_non_null(sys_table[nr]);
	return sys_table[nr](&r);
}

#define U(x) ((u64)(uintptr_t)(x))
#define BADPTR ((u64)0x10)

enum { NR_read = 0, NR_write = 1, NR_open = 2, NR_close = 3, NR_stat = 4, NR_fstat = 5,
       NR_lstat = 6, NR_lseek = 8, NR_ioctl = 16, NR_pread = 17, NR_pwrite = 18,
       NR_readv = 19, NR_writev = 20, NR_access = 21, NR_dup = 32, NR_dup2 = 33,
       NR_fcntl = 72, NR_fsync = 74, NR_truncate = 76, NR_ftruncate = 77, NR_chdir = 80,
       NR_fchdir = 81, NR_rename = 82, NR_mkdir = 83, NR_rmdir = 84, NR_creat = 85,
       NR_unlink = 87, NR_symlink = 88, NR_readlink = 89, NR_chmod = 90,
       NR_getdents64 = 217, NR_openat = 257, NR_newfstatat = 262, NR_unlinkat = 263,
       NR_renameat2 = 316, NR_statx = 332, NR_dup3 = 292 };

static int nmode(const char *p)
{
	int i = nfind(p, strlen(p));
	return i < 0 ? -1 : (int)nodes[i].mode;
}

/* ---- cases ---- */

static void test_console(void **state)
{
	struct linux_stat st;
	char buf[16];

	assert_int_equal(sc(NR_write, 1, U("out"), 3, 0, 0), 3);
	assert_int_equal(sc(NR_write, 2, U("err"), 3, 0, 0), 3);
	assert_int_equal(sc(NR_dup2, 1, 5, 0, 0, 0), 5);
	assert_int_equal(sc(NR_write, 5, U("5"), 1, 0, 0), 1);
	/* fd 1 closed and refilled from fd 2: it now writes to stderr. */
	assert_int_equal(sc(NR_close, 1, 0, 0, 0, 0), 0);
	assert_int_equal(sc(NR_dup, 2, 0, 0, 0, 0), 1);
	assert_int_equal(sc(NR_write, 1, U("E"), 1, 0, 0), 1);
	assert_int_equal(sc(NR_write, 5, U("O"), 1, 0, 0), 1);
	assert_int_equal(outlen[1], 5);
	assert_memory_equal(out[1], "out5O", 5);
	assert_int_equal(outlen[2], 4);
	assert_memory_equal(out[2], "errE", 4);

	assert_int_equal(sc(NR_write, 2, BADPTR, 3, 0, 0), -EFAULT);
	assert_int_equal(sc(NR_write, 0, U("x"), 1, 0, 0), -EBADF);
	assert_int_equal(sc(NR_write, 9, U("x"), 1, 0, 0), -EBADF);
	assert_int_equal(sc(NR_read, 1, U(buf), 1, 0, 0), -EBADF);
	input = "hello";
	assert_int_equal(sc(NR_read, 0, U(buf), 3, 0, 0), 3);
	assert_memory_equal(buf, "hel", 3);
	assert_int_equal(sc(NR_pread, 0, U(buf), 3, 0, 0), -ESPIPE);
	assert_int_equal(sc(NR_fcntl, 0, F_SETFL, O_NONBLOCK, 0, 0), 0);
	assert_int_equal(sc(NR_read, 0, U(buf), 3, 0, 0), -EAGAIN);
	P->in_len = 1;
	input = "l";
	assert_int_equal(sc(NR_read, 0, U(buf), 3, 0, 0), 1);
	assert_int_equal(sc(NR_lseek, 0, 0, SEEK_CUR, 0, 0), -ESPIPE);

	assert_int_equal(sc(NR_fstat, 1, U(&st), 0, 0, 0), 0);
	assert_int_equal(st.st_mode, S_IFCHR | 0620);
	assert_int_equal(linux_dev_major(st.st_rdev), 136);
	assert_int_equal(sc(NR_fstat, 1, BADPTR, 0, 0, 0), -EFAULT);
	assert_int_equal(sc(NR_ioctl, 1, 0x5401, U(buf), 0, 0), -ENOTTY);
	assert_int_equal(sc(NR_ioctl, 1, 0x5413, U(buf), 0, 0), -ENOTTY);
	assert_int_equal(sc(NR_ioctl, 9, 0x5401, U(buf), 0, 0), -EBADF);
	assert_int_equal(sc(NR_fsync, 1, 0, 0, 0, 0), -EINVAL);
	assert_int_equal(sc(NR_dup3, 5, 5, 0, 0, 0), -EINVAL);
	assert_int_equal(sc(NR_dup3, 5, 7, O_CLOEXEC, 0, 0), 7);
	assert_int_equal(sc(NR_fcntl, 7, F_GETFD, 0, 0, 0), FD_CLOEXEC);
	assert_int_equal(sc(NR_ioctl, 7, 0x5450, 0, 0, 0), 0);	/* FIONCLEX */
	assert_int_equal(sc(NR_fcntl, 7, F_GETFD, 0, 0, 0), 0);
}

static u8 big[300000], big2[300000];

static void test_open_rw(void **state)
{
	long fd, fd2;
	char buf[64];

	fd = sc(NR_open, U("/tmp/a"), O_CREAT | O_RDWR, 0666, 0, 0);
	assert_int_equal(fd, 3);
	assert_int_equal(nmode("/tmp/a"), S_IFREG | 0644);
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (u8)(i * 7 + i / 251);
	st_calls = 0;
	assert_int_equal(sc(NR_write, fd, U(big), 200000, 0, 0), 200000);
	assert_int_equal(st_calls, 2);	/* two LEGO_ST_IO_MAX chunks */
	assert_int_equal(sc(NR_lseek, fd, 0, SEEK_CUR, 0, 0), 200000);
	assert_int_equal(sc(NR_lseek, fd, 0, SEEK_SET, 0, 0), 0);
	memset(big2, 0, sizeof(big2));
	assert_int_equal(sc(NR_read, fd, U(big2), sizeof(big2), 0, 0), 200000);
	assert_memory_equal(big, big2, 200000);
	assert_int_equal(sc(NR_read, fd, U(big2), 10, 0, 0), 0);
	assert_int_equal(sc(NR_pread, fd, U(buf), 10, 5, 0), 10);
	assert_memory_equal(buf, big + 5, 10);
	assert_int_equal(sc(NR_pread, fd, U(buf), 10, (u64)-1, 0), -EINVAL);
	assert_int_equal(sc(NR_lseek, fd, (u64)-10, SEEK_END, 0, 0), 199990);
	assert_int_equal(sc(NR_read, fd, BADPTR, 10, 0, 0), -EFAULT);
	/* The failed copy left the offset alone. */
	assert_int_equal(sc(NR_lseek, fd, 0, SEEK_CUR, 0, 0), 199990);
	assert_int_equal(sc(NR_write, fd, BADPTR, 10, 0, 0), -EFAULT);

	fd2 = sc(NR_open, U("/tmp/a"), O_WRONLY | O_APPEND, 0, 0, 0);
	assert_int_equal(fd2, 4);
	assert_int_equal(sc(NR_write, fd2, U("xyz"), 3, 0, 0), 3);
	assert_int_equal(sc(NR_lseek, fd2, 0, SEEK_CUR, 0, 0), 200003);
	assert_int_equal(sc(NR_read, fd2, U(buf), 1, 0, 0), -EBADF);
	assert_int_equal(sc(NR_fcntl, fd2, F_GETFL, 0, 0, 0), O_WRONLY | O_APPEND | O_LARGEFILE);
	assert_int_equal(sc(NR_pread, fd, U(buf), 3, 200000, 0), 3);
	assert_memory_equal(buf, "xyz", 3);

	assert_int_equal(sc(NR_open, U("/tmp/a"), O_CREAT | O_EXCL | O_RDWR, 0600, 0, 0), -EEXIST);
	assert_int_equal(sc(NR_open, U("/tmp/none"), O_RDONLY, 0, 0, 0), -ENOENT);
	assert_int_equal(sc(NR_open, U("/none/x"), O_CREAT | O_RDWR, 0600, 0, 0), -ENOENT);
	assert_int_equal(sc(NR_open, U("/tmp"), O_WRONLY, 0, 0, 0), -EISDIR);
	assert_int_equal(sc(NR_open, U("/tmp/a"), O_RDONLY | O_DIRECTORY, 0, 0, 0), -ENOTDIR);
	assert_int_equal(sc(NR_open, U("/tmp/a/"), O_RDONLY, 0, 0, 0), -ENOTDIR);
	assert_int_equal(sc(NR_open, U("/tmp/a/b"), O_RDONLY, 0, 0, 0), -ENOTDIR);
	assert_int_equal(sc(NR_open, U("/tmp/new/"), O_CREAT | O_RDWR, 0600, 0, 0), -EISDIR);
	assert_int_equal(sc(NR_open, U(""), O_RDONLY, 0, 0, 0), -ENOENT);
	assert_int_equal(sc(NR_open, BADPTR, O_RDONLY, 0, 0, 0), -EFAULT);
	assert_int_equal(sc(NR_open, U("/tmp/x"), O_CREAT | O_DIRECTORY, 0600, 0, 0), -EINVAL);

	/* O_TRUNC, creat, and the dir for reading. */
	fd = sc(NR_creat, U("/tmp/a"), 0600, 0, 0, 0);
	assert_true(fd >= 0);
	assert_int_equal(nodes[nfind("/tmp/a", 6)].size, 0);
	assert_int_equal(sc(NR_lseek, fd2, 0, SEEK_END, 0, 0), 0);
	fd = sc(NR_open, U("/tmp/"), O_RDONLY, 0, 0, 0);
	assert_true(fd >= 0);
	assert_int_equal(sc(NR_read, fd, U(buf), 1, 0, 0), -EISDIR);
	assert_int_equal(sc(NR_write, fd, U(buf), 1, 0, 0), -EBADF);
	assert_int_equal(sc(NR_close, fd, 0, 0, 0, 0), 0);
	assert_int_equal(sc(NR_close, fd, 0, 0, 0, 0), -EBADF);

	/* Relative to the cwd, with dot and dot-dot. */
	assert_true(sc(NR_open, U("tmp/../tmp/./a"), O_RDONLY, 0, 0, 0) >= 0);
	assert_int_equal(sc(NR_chdir, U("/tmp"), 0, 0, 0, 0), 0);
	assert_string_equal(P->cwd, "/tmp");
	assert_true(sc(NR_open, U("a"), O_RDONLY, 0, 0, 0) >= 0);
	assert_int_equal(sc(NR_chdir, U("a"), 0, 0, 0, 0), -ENOTDIR);
	assert_int_equal(sc(NR_chdir, U("/nope"), 0, 0, 0, 0), -ENOENT);
}

static void test_links_pseudo(void **state)
{
	struct linux_stat st;
	char buf[64];
	long fd;

	fd = sc(NR_open, U("/tmp/a"), O_CREAT | O_WRONLY, 0644, 0, 0);
	assert_int_equal(sc(NR_write, fd, U("data"), 4, 0, 0), 4);
	assert_int_equal(sc(NR_symlink, U("/tmp"), U("/l1"), 0, 0, 0), 0);
	assert_int_equal(sc(NR_symlink, U("a"), U("/tmp/rel"), 0, 0, 0), 0);
	assert_int_equal(sc(NR_symlink, U("../l1/rel"), U("/bin/chain"), 0, 0, 0), 0);
	assert_int_equal(sc(NR_symlink, U("/loop"), U("/loop"), 0, 0, 0), 0);
	assert_int_equal(sc(NR_symlink, U("/tmp/missing"), U("/dangling"), 0, 0, 0), 0);
	assert_int_equal(sc(NR_symlink, U("x"), U("/l1"), 0, 0, 0), -EEXIST);
	assert_int_equal(sc(NR_symlink, U(""), U("/empty"), 0, 0, 0), -ENOENT);

	fd = sc(NR_open, U("/bin/chain"), O_RDONLY, 0, 0, 0);
	assert_true(fd >= 0);
	assert_int_equal(sc(NR_read, fd, U(buf), sizeof(buf), 0, 0), 4);
	assert_memory_equal(buf, "data", 4);
	assert_true(sc(NR_open, U("/l1/a"), O_RDONLY, 0, 0, 0) >= 0);
	assert_true(sc(NR_open, U("/l1/"), O_RDONLY | O_DIRECTORY, 0, 0, 0) >= 0);
	assert_int_equal(sc(NR_open, U("/tmp/rel"), O_RDONLY | O_NOFOLLOW, 0, 0, 0), -ELOOP);
	assert_int_equal(sc(NR_open, U("/loop"), O_RDONLY, 0, 0, 0), -ELOOP);
	assert_int_equal(sc(NR_stat, U("/loop"), U(&st), 0, 0, 0), -ELOOP);
	assert_int_equal(sc(NR_lstat, U("/loop"), U(&st), 0, 0, 0), 0);
	assert_int_equal(st.st_mode, S_IFLNK | 0777);

	/* O_CREAT through a dangling link creates its target; with O_EXCL not. */
	assert_int_equal(sc(NR_open, U("/dangling"), O_CREAT | O_EXCL | O_WRONLY, 0644, 0, 0),
			 -EEXIST);
	assert_true(sc(NR_open, U("/dangling"), O_CREAT | O_WRONLY, 0644, 0, 0) >= 0);
	assert_true(nfind("/tmp/missing", 12) >= 0);

	assert_int_equal(sc(NR_stat, U("/bin/chain"), U(&st), 0, 0, 0), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0644);
	assert_int_equal(st.st_size, 4);
	assert_int_equal(sc(NR_lstat, U("/tmp/rel"), U(&st), 0, 0, 0), 0);
	assert_int_equal(st.st_mode, S_IFLNK | 0777);
	assert_int_equal(st.st_size, 1);
	assert_int_equal(sc(NR_readlink, U("/tmp/rel"), U(buf), sizeof(buf), 0, 0), 1);
	assert_memory_equal(buf, "a", 1);
	assert_int_equal(sc(NR_readlink, U("/bin/chain"), U(buf), 3, 0, 0), 3);
	assert_memory_equal(buf, "../", 3);
	assert_int_equal(sc(NR_readlink, U("/tmp/a"), U(buf), sizeof(buf), 0, 0), -EINVAL);
	assert_int_equal(sc(NR_readlink, U("/tmp/rel"), U(buf), 0, 0, 0), -EINVAL);

	/* Pseudo-files. */
	assert_int_equal(sc(NR_readlink, U("/proc/self/exe"), U(buf), sizeof(buf), 0, 0), 9);
	assert_memory_equal(buf, "/bin/prog", 9);
	assert_int_equal(sc(NR_stat, U("/proc/self/exe"), U(&st), 0, 0, 0), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0755);
	assert_int_equal(sc(NR_stat, U("/dev/null"), U(&st), 0, 0, 0), 0);
	assert_int_equal(st.st_mode, S_IFCHR | 0666);
	assert_int_equal(st.st_rdev, linux_makedev(1, 3));
	fd = sc(NR_open, U("/dev/null"), O_RDWR, 0, 0, 0);
	assert_true(fd >= 0);
	assert_int_equal(sc(NR_write, fd, U("abc"), 3, 0, 0), 3);
	assert_int_equal(sc(NR_read, fd, U(buf), 3, 0, 0), 0);
	assert_int_equal(sc(NR_fstat, fd, U(&st), 0, 0, 0), 0);
	assert_int_equal(st.st_rdev, linux_makedev(1, 3));
	fd = sc(NR_open, U("/dev/zero"), O_RDONLY, 0, 0, 0);
	memset(buf, 1, 8);
	assert_int_equal(sc(NR_read, fd, U(buf), 8, 0, 0), 8);
	assert_memory_equal(buf, "\0\0\0\0\0\0\0\0", 8);
	fd = sc(NR_open, U("/dev/urandom"), O_RDONLY, 0, 0, 0);
	assert_int_equal(sc(NR_read, fd, U(buf), 8, 0, 0), 8);
	assert_int_equal(sc(NR_open, U("/dev/nothing"), O_RDONLY, 0, 0, 0), -ENOENT);
	assert_int_equal(sc(NR_unlink, U("/dev/null"), 0, 0, 0, 0), -EPERM);
	/* Text pseudo-files: read in pieces, seek, no writing. */
	char text[256];
	fd = sc(NR_open, U("/sys/devices/system/cpu/online"), O_RDONLY, 0, 0, 0);
	assert_true(fd >= 0);
	assert_int_equal(sc(NR_read, fd, U(text), 2, 0, 0), 2);
	assert_int_equal(sc(NR_read, fd, U(text + 2), sizeof(text), 0, 0), 2);
	assert_memory_equal(text, "0-3\n", 4);
	assert_int_equal(sc(NR_read, fd, U(text), sizeof(text), 0, 0), 0);
	assert_int_equal(sc(NR_lseek, fd, 0, SEEK_SET, 0, 0), 0);
	assert_int_equal(sc(NR_pread, fd, U(text), 3, 1, 0), 3);
	assert_memory_equal(text, "-3\n", 3);
	assert_int_equal(sc(NR_lseek, fd, 0, SEEK_END, 0, 0), 4);
	fd = sc(NR_open, U("/proc/uptime"), O_RDONLY, 0, 0, 0);
	memset(text, 0, sizeof(text));
	assert_int_equal(sc(NR_read, fd, U(text), sizeof(text), 0, 0), 12);
	assert_string_equal(text, "12.34 49.36\n");
	fd = sc(NR_open, U("/proc/cpuinfo"), O_RDONLY, 0, 0, 0);
	assert_true(sc(NR_read, fd, U(text), sizeof(text), 0, 0) > 100);
	assert_memory_equal(text, "processor\t: 0\n", 14);
	fd = sc(NR_open, U("/proc/self/status"), O_RDONLY, 0, 0, 0);
	memset(text, 0, sizeof(text));
	assert_true(sc(NR_read, fd, U(text), sizeof(text), 0, 0) > 20);
	assert_memory_equal(text, "Name:\tprog\n", 11);
	assert_int_equal(sc(NR_open, U("/proc/version"), O_WRONLY, 0, 0, 0), -EACCES);
	assert_int_equal(sc(NR_stat, U("/proc/version"), U(&st), 0, 0, 0), 0);
	assert_int_equal(st.st_mode, S_IFREG | 0444);
	assert_int_equal(sc(NR_stat, U("/sys/devices"), U(&st), 0, 0, 0), 0);
	assert_int_equal(st.st_mode & S_IFMT, S_IFDIR);

	fd = sc(NR_open, U("/dev/tty"), O_WRONLY, 0, 0, 0);
	assert_int_equal(sc(NR_write, fd, U("T"), 1, 0, 0), 1);
	assert_int_equal(outlen[1], 1);
}

static int list_dir(long fd, size_t bufsz, char names[][32], int max);

/* The /proc/self files made from the process: cmdline, maps, stat, the fd
 * links and their directory, and /proc/<own pid> as /proc/self. */
static void test_proc_self(void **state)
{
	char text[512], names[16][32];
	long fd, n;

	P->pid = 42;
	memcpy(P->cmdline, "prog\0-x\0", 8);
	P->cmdline_len = 8;
	fd = sc(NR_open, U("/proc/self/cmdline"), O_RDONLY, 0, 0, 0);
	assert_int_equal(sc(NR_read, fd, U(text), sizeof(text), 0, 0), 8);
	assert_memory_equal(text, "prog\0-x\0", 8);

	fd = sc(NR_open, U("/proc/42/maps"), O_RDONLY, 0, 0, 0);
	memset(text, 0, sizeof(text));
	n = sc(NR_read, fd, U(text), sizeof(text), 0, 0);
	assert_int_equal(n, (long)strlen(text));
	assert_string_equal(text,
		"00400000-00402000 r-xp 00001000 00:00 0"
		"                                  /bin/prog\n"
		"7ffff000-80000000 rw-p 00000000 00:00 0"
		"                                  [stack]\n");
	assert_int_equal(sc(NR_open, U("/proc/41/maps"), O_RDONLY, 0, 0, 0), -ENOENT);

	fd = sc(NR_open, U("/proc/self/stat"), O_RDONLY, 0, 0, 0);
	memset(text, 0, sizeof(text));
	assert_true(sc(NR_read, fd, U(text), sizeof(text), 0, 0) > 100);
	assert_memory_equal(text, "42 (prog) R 1 0 0 0 -1 ", 23);
	fd = sc(NR_open, U("/proc/meminfo"), O_RDONLY, 0, 0, 0);
	memset(text, 0, sizeof(text));
	assert_true(sc(NR_read, fd, U(text), sizeof(text), 0, 0) > 50);
	assert_memory_equal(text, "MemTotal:          65536 kB\nMemFree:           16384 kB\n", 56);
	fd = sc(NR_open, U("/proc/stat"), O_RDONLY, 0, 0, 0);
	memset(text, 0, sizeof(text));
	assert_true(sc(NR_read, fd, U(text), sizeof(text), 0, 0) > 50);
	assert_memory_equal(text, "cpu  0 0 0 4936 0 0 0 0 0 0\ncpu0 0 0 0 1234 ", 42);
	assert_non_null(strstr(text, "btime 1699999988\n"));

	/* fd 0-2 are the console; an open file names its path. */
	fd = sc(NR_open, U("/tmp/f"), O_CREAT | O_WRONLY, 0644, 0, 0);
	assert_int_equal(fd, 8);
	assert_int_equal(sc(NR_readlink, U("/proc/self/fd/0"), U(text), sizeof(text), 0, 0), 12);
	assert_memory_equal(text, "/dev/console", 12);
	assert_int_equal(sc(NR_readlink, U("/proc/42/fd/8"), U(text), sizeof(text), 0, 0), 6);
	assert_memory_equal(text, "/tmp/f", 6);
	assert_int_equal(sc(NR_readlink, U("/proc/self/fd/20"), U(text), sizeof(text), 0, 0),
			 -ENOENT);
	assert_int_equal(sc(NR_readlink, U("/proc/self/fd/3"), U(text), sizeof(text), 0, 0), 18);
	assert_memory_equal(text, "/proc/self/cmdline", 18);
	fd = sc(NR_open, U("/proc/self/fd/1"), O_WRONLY, 0, 0, 0);
	assert_int_equal(sc(NR_write, fd, U("W"), 1, 0, 0), 1);
	fd = sc(NR_open, U("/proc/self/fd"), O_RDONLY | O_DIRECTORY, 0, 0, 0);
	assert_int_equal(fd, 10);
	n = list_dir(fd, 4096, names, 16);
	assert_int_equal(n, 13);
	assert_string_equal(names[2], "0");
	assert_string_equal(names[10], "8");
	assert_string_equal(names[12], "10");
	fd = sc(NR_open, U("/proc"), O_RDONLY | O_DIRECTORY, 0, 0, 0);
	n = list_dir(fd, 4096, names, 16);
	assert_string_equal(names[n - 1], "42");
}

/* All names getdents64 returns for fd with a user buffer of bufsz. */
static int list_dir(long fd, size_t bufsz, char names[][32], int max)
{
	u8 buf[4096];
	int n = 0;
	long got;

	while ((got = sc(NR_getdents64, fd, U(buf), bufsz, 0, 0)) > 0) {
		for (long pos = 0; pos < got;) {
			u16 reclen;
			memcpy(&reclen, buf + pos + 16, 2);
			assert_true(n < max);
			strcpy(names[n++], (char *)buf + pos + LINUX_DIRENT64_NAME_OFF);
			pos += reclen;
		}
	}
	assert_int_equal(got, 0);
	return n;
}

static void test_getdents(void **state)
{
	char names[64][32];
	char path[32];
	long fd;
	int n;

	assert_int_equal(sc(NR_mkdir, U("/d"), 0777, 0, 0, 0), 0);
	assert_int_equal(nmode("/d"), S_IFDIR | 0755);
	for (int i = 0; i < 40; i++) {
		snprintf(path, sizeof(path), "/d/file-%02d", i);
		assert_true(sc(NR_open, U(path), O_CREAT | O_WRONLY, 0644, 0, 0) >= 0);
	}
	fd = sc(NR_open, U("/d"), O_RDONLY | O_DIRECTORY, 0, 0, 0);
	assert_true(fd >= 0);
	n = list_dir(fd, 100, names, 64);
	assert_int_equal(n, 42);
	assert_string_equal(names[0], ".");
	assert_string_equal(names[1], "..");
	for (int i = 0; i < 40; i++) {
		snprintf(path, sizeof(path), "file-%02d", i);
		int hits = 0;
		for (int k = 2; k < n; k++)
			hits += !strcmp(names[k], path);
		assert_int_equal(hits, 1);
	}
	/* A rewind repeats everything, dots included; a big buffer too. */
	assert_int_equal(sc(NR_lseek, fd, 0, SEEK_SET, 0, 0), 0);
	assert_int_equal(list_dir(fd, 4096, names, 64), 42);
	assert_int_equal(sc(NR_lseek, fd, 0, SEEK_SET, 0, 0), 0);
	u8 small[16];
	assert_int_equal(sc(NR_getdents64, fd, U(small), sizeof(small), 0, 0), -EINVAL);
	assert_int_equal(sc(NR_getdents64, fd, BADPTR, 4096, 0, 0), -EFAULT);
	/* Neither failure moved the cursor. */
	assert_int_equal(list_dir(fd, 4096, names, 64), 42);
	assert_int_equal(sc(NR_getdents64, 1, U(small), sizeof(small), 0, 0), -ENOTDIR);
	/* A pseudo directory lists its pseudo-files. */
	long pd = sc(NR_open, U("/dev"), O_RDONLY | O_DIRECTORY, 0, 0, 0);
	assert_true(pd >= 0);
	n = list_dir(pd, 64, names, 64);
	assert_int_equal(n, 8);
	assert_string_equal(names[0], ".");
	assert_string_equal(names[1], "..");
	assert_string_equal(names[2], "null");
	assert_string_equal(names[6], "tty");
	assert_string_equal(names[7], "console");
	assert_int_equal(sc(NR_lseek, pd, 0, SEEK_SET, 0, 0), 0);
	assert_int_equal(list_dir(pd, 4096, names, 64), 8);
	pd = sc(NR_open, U("/proc/self"), O_RDONLY | O_DIRECTORY, 0, 0, 0);
	assert_int_equal(list_dir(pd, 4096, names, 64), 8);
	assert_string_equal(names[2], "exe");
	assert_string_equal(names[3], "status");
	assert_string_equal(names[4], "cmdline");
	assert_string_equal(names[5], "maps");
	assert_string_equal(names[6], "stat");
	assert_string_equal(names[7], "fd");
	long f = sc(NR_open, U("/d/file-00"), O_RDONLY, 0, 0, 0);
	assert_int_equal(sc(NR_getdents64, f, U(small), sizeof(small), 0, 0), -ENOTDIR);
}

static void test_rename_unlink(void **state)
{
	char buf[16];
	long fd, dfd;

	assert_int_equal(sc(NR_mkdir, U("/d"), 0700, 0, 0, 0), 0);
	assert_int_equal(sc(NR_mkdir, U("/d"), 0700, 0, 0, 0), -EEXIST);
	assert_int_equal(sc(NR_mkdir, U("/x/y"), 0700, 0, 0, 0), -ENOENT);
	fd = sc(NR_open, U("/d/f"), O_CREAT | O_RDWR, 0644, 0, 0);
	assert_int_equal(sc(NR_write, fd, U("12345"), 5, 0, 0), 5);
	dfd = sc(NR_open, U("/d"), O_RDONLY | O_DIRECTORY, 0, 0, 0);
	assert_int_equal(sc(NR_chdir, U("/d"), 0, 0, 0, 0), 0);

	assert_int_equal(sc(NR_rename, U("/d"), U("/e"), 0, 0, 0), 0);
	/* The open file, the dirfd and the cwd followed. */
	assert_int_equal(sc(NR_pread, fd, U(buf), 5, 0, 0), 5);
	assert_memory_equal(buf, "12345", 5);
	assert_string_equal(P->cwd, "/e");
	assert_true(sc(NR_open, U("f"), O_RDONLY, 0, 0, 0) >= 0);
	assert_true(sc(NR_openat, dfd, U("f"), O_RDONLY, 0, 0) >= 0);
	assert_int_equal(sc(NR_openat, fd, U("f"), O_RDONLY, 0, 0), -ENOTDIR);
	assert_int_equal(sc(NR_openat, 77, U("f"), O_RDONLY, 0, 0), -EBADF);
	assert_int_equal(sc(NR_openat, fd, U(""), O_RDONLY, 0, 0), -ENOENT);
	assert_true(sc(NR_openat, 77, U("/e/f"), O_RDONLY, 0, 0) >= 0);

	struct linux_stat st;
	assert_int_equal(sc(NR_newfstatat, dfd, U(""), U(&st), AT_EMPTY_PATH, 0), 0);
	assert_int_equal(st.st_mode & S_IFMT, S_IFDIR);
	assert_int_equal(sc(NR_newfstatat, 1, U(""), U(&st), AT_EMPTY_PATH, 0), 0);
	assert_int_equal(st.st_mode, S_IFCHR | 0620);
	assert_int_equal(sc(NR_newfstatat, dfd, U(""), U(&st), 0, 0), -ENOENT);
	assert_int_equal(sc(NR_newfstatat, dfd, U("f"), U(&st), 0x4000, 0), -EINVAL);
	assert_int_equal(sc(NR_newfstatat, AT_FDCWD, U("f"), U(&st), 0, 0), 0);
	assert_int_equal(st.st_size, 5);

	struct linux_statx sx;
	assert_int_equal(sc(NR_statx, AT_FDCWD, U("/e/f"), 0, 0x7ff, U(&sx)), 0);
	assert_int_equal(sx.stx_size, 5);
	assert_int_equal(sx.stx_mode, S_IFREG | 0644);

	assert_int_equal(sc(NR_open, U("/e/g"), O_CREAT | O_RDWR, 0644, 0, 0) > 0, 1);
	assert_int_equal(sc(NR_renameat2, AT_FDCWD, U("/e/f"), AT_FDCWD, U("/e/g"), 1), -EEXIST);
	assert_int_equal(sc(NR_renameat2, AT_FDCWD, U("/e/f"), AT_FDCWD, U("/e/g"), 2), -EINVAL);
	assert_int_equal(sc(NR_rename, U("/e/f"), U("/e/g"), 0, 0, 0), 0);
	assert_int_equal(sc(NR_pread, fd, U(buf), 5, 0, 0), 5);
	assert_int_equal(sc(NR_rename, U("/nope"), U("/e/h"), 0, 0, 0), -ENOENT);
	assert_int_equal(sc(NR_rename, U("/e/."), U("/e/h"), 0, 0, 0), -EBUSY);
	assert_int_equal(sc(NR_rename, U("/e/g"), U("/e/g/"), 0, 0, 0), -ENOTDIR);

	assert_int_equal(sc(NR_rmdir, U("/e"), 0, 0, 0, 0), -ENOTEMPTY);
	assert_int_equal(sc(NR_unlink, U("/e"), 0, 0, 0, 0), -EISDIR);
	assert_int_equal(sc(NR_rmdir, U("/e/."), 0, 0, 0, 0), -EINVAL);
	assert_int_equal(sc(NR_rmdir, U("/e/.."), 0, 0, 0, 0), -ENOTEMPTY);
	assert_int_equal(sc(NR_rmdir, U("/e/g"), 0, 0, 0, 0), -ENOTDIR);
	assert_int_equal(sc(NR_rmdir, U("/"), 0, 0, 0, 0), -EBUSY);
	assert_int_equal(sc(NR_unlinkat, AT_FDCWD, U("g"), 0x1, 0, 0), -EINVAL);
	assert_int_equal(sc(NR_unlinkat, AT_FDCWD, U("g"), 0, 0, 0), 0);
	assert_int_equal(sc(NR_unlink, U("/e/g"), 0, 0, 0, 0), -ENOENT);
	assert_int_equal(sc(NR_unlinkat, AT_FDCWD, U("/e"), AT_REMOVEDIR, 0, 0), 0);
	assert_int_equal(nfind("/e", 2), -1);
}

static void test_misc(void **state)
{
	struct linux_iovec v[3];
	char a[4], b[8], path[LEGO_ST_PATH_MAX];
	long fd;

	fd = sc(NR_open, U("/tmp/m"), O_CREAT | O_RDWR, 0644, 0, 0);
	v[0] = (struct linux_iovec){ U("abc"), 3 };
	v[1] = (struct linux_iovec){ U(""), 0 };
	v[2] = (struct linux_iovec){ U("defghijk"), 8 };
	assert_int_equal(sc(NR_writev, fd, U(v), 3, 0, 0), 11);
	out_calls = 0;
	assert_int_equal(sc(NR_writev, 1, U(v), 3, 0, 0), 11);
	assert_memory_equal(out[1], "abcdefghijk", 11);
	assert_int_equal(out_calls, 1);	/* one message for the vector */
	v[1] = (struct linux_iovec){ BADPTR, 4 };
	assert_int_equal(sc(NR_writev, 1, U(v), 3, 0, 0), 3);
	v[0] = (struct linux_iovec){ BADPTR, 4 };
	assert_int_equal(sc(NR_writev, 1, U(v), 3, 0, 0), -EFAULT);
	assert_int_equal(sc(NR_writev, 1, U(v), 0, 0, 0), 0);
	assert_int_equal(sc(NR_lseek, fd, 0, SEEK_SET, 0, 0), 0);
	v[0] = (struct linux_iovec){ U(a), 4 };
	v[1] = (struct linux_iovec){ U(b), 8 };
	assert_int_equal(sc(NR_readv, fd, U(v), 2, 0, 0), 11);
	assert_memory_equal(a, "abcd", 4);
	assert_memory_equal(b, "efghijk", 7);
	assert_int_equal(sc(NR_readv, fd, U(v), 2000, 0, 0), -EINVAL);
	assert_int_equal(sc(NR_readv, fd, BADPTR, 2, 0, 0), -EFAULT);

	assert_int_equal(sc(NR_ftruncate, fd, 4, 0, 0, 0), 0);
	assert_int_equal(nodes[nfind("/tmp/m", 6)].size, 4);
	assert_int_equal(sc(NR_truncate, U("/tmp/m"), 100, 0, 0, 0), 0);
	assert_int_equal(nodes[nfind("/tmp/m", 6)].size, 100);
	assert_int_equal(sc(NR_truncate, U("/tmp"), 1, 0, 0, 0), -EISDIR);
	assert_int_equal(sc(NR_truncate, U("/tmp/m"), (u64)-1, 0, 0, 0), -EINVAL);
	long ro = sc(NR_open, U("/tmp/m"), O_RDONLY, 0, 0, 0);
	assert_int_equal(sc(NR_ftruncate, ro, 1, 0, 0, 0), -EINVAL);
	assert_int_equal(sc(NR_fsync, fd, 0, 0, 0, 0), 0);

	assert_int_equal(sc(NR_fcntl, fd, F_GETFL, 0, 0, 0), O_RDWR | O_LARGEFILE);
	assert_int_equal(sc(NR_fcntl, fd, F_SETFL, O_APPEND | O_RDONLY, 0, 0), 0);
	assert_int_equal(sc(NR_fcntl, fd, F_GETFL, 0, 0, 0), O_RDWR | O_APPEND | O_LARGEFILE);
	assert_int_equal(sc(NR_write, fd, U("Z"), 1, 0, 0), 1);
	assert_int_equal(nodes[nfind("/tmp/m", 6)].size, 101);
	assert_int_equal(sc(NR_fcntl, fd, F_DUPFD, 10, 0, 0), 10);
	assert_int_equal(sc(NR_fcntl, fd, 9999, 0, 0, 0), -EINVAL);
	assert_int_equal(sc(NR_fcntl, 99, F_GETFL, 0, 0, 0), -EBADF);
	int fionread = -1;
	assert_int_equal(sc(NR_lseek, fd, 1, SEEK_SET, 0, 0), 1);
	assert_int_equal(sc(NR_ioctl, fd, 0x541b, U(&fionread), 0, 0), 0);
	assert_int_equal(fionread, 100);

	assert_int_equal(sc(NR_access, U("/tmp/m"), 4 | 2, 0, 0, 0), 0);
	assert_int_equal(sc(NR_access, U("/tmp/m"), 1, 0, 0, 0), -EACCES);
	assert_int_equal(sc(NR_access, U("/bin/prog"), 1, 0, 0, 0), 0);
	assert_int_equal(sc(NR_access, U("/nope"), 0, 0, 0, 0), -ENOENT);
	assert_int_equal(sc(NR_access, U("/tmp/m"), 8, 0, 0, 0), -EINVAL);
	assert_int_equal(sc(NR_chmod, U("/tmp/m"), 0755, 0, 0, 0), 0);
	assert_int_equal(sc(NR_access, U("/tmp/m"), 1, 0, 0, 0), 0);

	/* sendfile and copy_file_range. */
	long cp = sc(NR_open, U("/tmp/copy"), O_CREAT | O_RDWR, 0644, 0, 0);
	s64 off = 2;
	assert_int_equal(sc(NR_lseek, fd, 0, SEEK_SET, 0, 0), 0);
	assert_int_equal(sc(40, cp, fd, 0, 5, 0), 5);		/* from fd's offset */
	assert_int_equal(sc(NR_lseek, fd, 0, SEEK_CUR, 0, 0), 5);
	assert_int_equal(sc(40, cp, fd, U(&off), 1000, 0), 99);	/* to the end, offset kept */
	assert_int_equal(off, 101);
	assert_int_equal(sc(NR_lseek, fd, 0, SEEK_CUR, 0, 0), 5);
	assert_int_equal(nodes[nfind("/tmp/copy", 9)].size, 104);
	assert_memory_equal(nodes[nfind("/tmp/copy", 9)].data, "abcd\0cd", 7);
	outlen[1] = 0;
	off = 0;
	assert_int_equal(sc(40, 1, cp, U(&off), 4, 0), 4);
	assert_memory_equal(out[1], "abcd", 4);
	assert_int_equal(sc(40, cp, 1, 0, 4, 0), -EBADF);
	assert_int_equal(sc(40, 0, cp, 0, 4, 0), -EBADF);
	assert_int_equal(sc(40, fd, cp, 0, 4, 0), -EINVAL);	/* fd is O_APPEND now */
	s64 io = 0, oo = 200;
	assert_int_equal(sc(326, cp, U(&io), ro, U(&oo), 4), -EBADF);
	struct user_regs rr;
	memset(&rr, 0, sizeof(rr));
	rr.rdi = (u64)cp; rr.rsi = U(&io); rr.rdx = (u64)sc(NR_open, U("/tmp/copy2"), O_CREAT | O_WRONLY, 0644, 0, 0);
	rr.r10 = U(&oo); rr.r8 = 3; rr.r9 = 0;
	assert_int_equal(sys_table[326](&rr), 3);
	assert_int_equal(io, 3);
	assert_int_equal(oo, 203);
	assert_int_equal(nodes[nfind("/tmp/copy2", 10)].size, 203);
	assert_memory_equal(nodes[nfind("/tmp/copy2", 10)].data + 200, "abc", 3);
	rr.r9 = 1;
	assert_int_equal(sys_table[326](&rr), -EINVAL);

	/* mknod, link, close_range. */
	assert_int_equal(sc(133, U("/tmp/node"), S_IFREG | 0666, 0, 0, 0), 0);
	assert_int_equal(nmode("/tmp/node"), S_IFREG | 0644);
	assert_int_equal(sc(133, U("/tmp/node"), S_IFREG | 0666, 0, 0, 0), -EEXIST);
	assert_int_equal(sc(133, U("/tmp/fifo"), S_IFIFO | 0666, 0, 0, 0), -EPERM);
	assert_int_equal(sc(86, U("/tmp/node"), U("/tmp/l"), 0, 0, 0), -EPERM);
	assert_int_equal(sc(86, U("/tmp/nope"), U("/tmp/l"), 0, 0, 0), -ENOENT);
	assert_int_equal(sc(86, U("/tmp/node"), U("/tmp/m"), 0, 0, 0), -EEXIST);
	assert_int_equal(sc(NR_dup2, fd, 20, 0, 0, 0), 20);
	assert_int_equal(sc(NR_dup2, fd, 21, 0, 0, 0), 21);
	assert_int_equal(sc(436, 20, 20, 4, 0, 0), 0);
	assert_int_equal(sc(NR_fcntl, 20, F_GETFD, 0, 0, 0), FD_CLOEXEC);
	assert_int_equal(sc(436, 20, ~0u, 0, 0, 0), 0);
	assert_int_equal(sc(NR_fcntl, 20, F_GETFD, 0, 0, 0), -EBADF);
	assert_int_equal(sc(NR_fcntl, 21, F_GETFD, 0, 0, 0), -EBADF);
	assert_int_equal(sc(436, 5, 4, 0, 0, 0), -EINVAL);

	/* statfs, chown, flock. */
	struct linux_statfs sfs;
	assert_int_equal(sc(137, U("/tmp/m"), U(&sfs), 0, 0, 0), 0);
	assert_int_equal(sfs.f_blocks, 256);
	assert_int_equal(sfs.f_type, LINUX_LEGOFS_MAGIC);
	assert_int_equal(sc(137, U("/nope"), U(&sfs), 0, 0, 0), -ENOENT);
	assert_int_equal(sc(138, fd, U(&sfs), 0, 0, 0), 0);
	assert_int_equal(sc(138, 99, U(&sfs), 0, 0, 0), -EBADF);
	assert_int_equal(sc(92, U("/tmp/m"), 1000, (u32)-1, 0, 0), 0);
	assert_int_equal(nodes[nfind("/tmp/m", 6)].uid, 1000);
	assert_int_equal(sc(93, fd, 7, (u32)-1, 0, 0), 0);
	assert_int_equal(nodes[nfind("/tmp/m", 6)].uid, 7);
	assert_int_equal(sc(73, fd, 2, 0, 0, 0), 0);
	assert_int_equal(sc(73, 99, 2, 0, 0, 0), -EBADF);

	/* mmap's path. */
	assert_int_equal(sys_file_mmap_path(P, (int)fd, true, path), 6);
	assert_string_equal(path, "/tmp/m");
	assert_int_equal(sys_file_mmap_path(P, (int)ro, false, path), 6);
	assert_int_equal(sys_file_mmap_path(P, (int)ro, true, path), -EACCES);
	assert_int_equal(sys_file_mmap_path(P, 1, false, path), -EACCES);
	assert_int_equal(sys_file_mmap_path(P, 0, false, path), -ENODEV);
	assert_int_equal(sys_file_mmap_path(P, 99, false, path), -EBADF);

	/* Every open fd goes away with the table (teardown); the console's
	 * tag survives a dup3 over it. */
	assert_int_equal(sc(NR_dup3, 2, 1, 0, 0, 0), 1);
	assert_int_equal(sc(NR_write, 1, U("q"), 1, 0, 0), 1);
	assert_int_equal(out[2][outlen[2] - 1], 'q');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_console, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_rw, setup, teardown),
		cmocka_unit_test_setup_teardown(test_links_pseudo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_proc_self, setup, teardown),
		cmocka_unit_test_setup_teardown(test_getdents, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_unlink, setup, teardown),
		cmocka_unit_test_setup_teardown(test_misc, setup, teardown),
	};

	sys_file_init();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
