/*
 * Host tests of the processor's fd tables and open file descriptions
 * (managers/processor/fdtable.c, include/lego/fdtable.h):
 *  - unit cases for every call and error: install, dup/dup2/dup3, fcntl,
 *    close-on-exec, lookups with access checks, lseek, the storage I/O
 *    helpers, the getdents cursor, rename fixups, allocation failures;
 *  - a comparison with the host kernel: the same random sequence of
 *    open/close/dup/dup2/dup3/fcntl/lseek/read/write/pread/pwrite on real
 *    fds (/dev/null and a temporary file, under the same RLIMIT_NOFILE) and
 *    on a table, checking fd numbers, results, errors, FD_CLOEXEC, F_GETFL
 *    and file offsets after every step (host calls live in
 *    fdtable_hostfd.c);
 *  - fork sharing of offsets, on the host and on tables;
 *  - random sequences over several tables (fork, exec, dup2, close, exit)
 *    checking every description's reference count against the slots that
 *    hold it, and that every allocation is freed at the end.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lego/fdtable.h>
#include <lego/vpath.h>
#include <lego/errno.h>
#include <lego/compiler.h>

#include "fdtable_hostfd.h"

/* ---- the caller's services: counting allocator and lock checker ---- */

struct env {
	long allocs;		/* live allocations */
	long fail_after;	/* allocations left before one fails (-1: never) */
	long releases;		/* ops.release calls */
	struct fd_file *locked;	/* description whose lock is held */
};

static struct env E;

static void *t_alloc(size_t size, void *ctx)
{
	struct env *e = ctx;

	if (e->fail_after == 0)
		return NULL;
	if (e->fail_after > 0)
		e->fail_after--;
	e->allocs++;
	return malloc(size);
}

static void t_free(void *p, void *ctx)
{
	struct env *e = ctx;

	assert_non_null(p);
	e->allocs--;
	free(p);
}

static void t_release(struct fd_file *f, void *ctx)
{
	struct env *e = ctx;

	assert_int_equal(fd_file_refs(f), 0);
	e->releases++;
}

/* The description lock is never nested: fd_table_*() take at most one. */
static void t_lock(struct fd_file *f, void *ctx)
{
	struct env *e = ctx;

	assert_null(e->locked);
	e->locked = f;
}

static void t_unlock(struct fd_file *f, void *ctx)
{
	struct env *e = ctx;

	assert_ptr_equal(e->locked, f);
	e->locked = NULL;
}

static const struct fd_ops OPS = {
	.alloc = t_alloc,
	.free = t_free,
	.release = t_release,
	.lock = t_lock,
	.unlock = t_unlock,
	.ctx = &E,
};

static int setup(void **state)
{
	memset(&E, 0, sizeof(E));
	E.fail_after = -1;
	return 0;
}

/* Everything freed and no lock left held. */
static int teardown(void **state)
{
	assert_null(E.locked);
	if (E.allocs != 0)
		fail_msg("%ld allocation(s) leaked", E.allocs);
	return 0;
}

static struct fd_file *mkfile(enum fd_kind kind, const char *path, u32 flags)
{
	struct fd_file *f;

	assert_int_equal(fd_file_new(&OPS, kind, path, strlen(path), flags, NULL, &f), 0);
	return f;
}

/* open(2) as the syscall layer will do it: a description, an fd, and the
 * caller's reference dropped. */
static int do_open(struct fd_table *t, enum fd_kind kind, const char *path, u32 flags)
{
	struct fd_file *f = mkfile(kind, path, flags);
	int fd = fd_table_install(t, f, 0, (flags & O_CLOEXEC) ? FD_CLOEXEC : 0);

	fd_file_put(f);
	return fd;
}

static struct fd_file *peek(struct fd_table *t, int fd)
{
	return fd >= 0 && (u32)fd < t->cap ? t->slots[fd].file : NULL;
}

/* ---- ABI constants against the host's libc ---- */

#define ABI(name) do { \
	long h = hfd_abi(#name); \
	if (h != (long)(name)) \
		fail_msg("%s: linux_abi.h %ld, host %ld", #name, (long)(name), h); \
} while (0)

static void test_abi_constants(void **state)
{
	ABI(O_ACCMODE); ABI(O_RDONLY); ABI(O_WRONLY); ABI(O_RDWR); ABI(O_CREAT);
	ABI(O_EXCL); ABI(O_NOCTTY); ABI(O_TRUNC); ABI(O_APPEND); ABI(O_NONBLOCK);
	ABI(O_DSYNC); ABI(O_ASYNC); ABI(O_DIRECT); ABI(O_DIRECTORY); ABI(O_NOFOLLOW);
	ABI(O_NOATIME); ABI(O_CLOEXEC); ABI(O_SYNC); ABI(O_PATH); ABI(O_TMPFILE);
	ABI(F_DUPFD); ABI(F_GETFD); ABI(F_SETFD); ABI(F_GETFL); ABI(F_SETFL);
	ABI(F_GETLK); ABI(F_SETLK); ABI(F_SETLKW); ABI(F_SETOWN); ABI(F_GETOWN);
	ABI(F_DUPFD_CLOEXEC); ABI(FD_CLOEXEC);
	ABI(SEEK_SET); ABI(SEEK_CUR); ABI(SEEK_END); ABI(SEEK_DATA); ABI(SEEK_HOLE);
	ABI(AT_FDCWD); ABI(AT_SYMLINK_NOFOLLOW); ABI(AT_REMOVEDIR); ABI(AT_SYMLINK_FOLLOW);
	ABI(AT_NO_AUTOMOUNT); ABI(AT_EMPTY_PATH);
	ABI(S_IFMT); ABI(S_IFSOCK); ABI(S_IFLNK); ABI(S_IFREG); ABI(S_IFBLK);
	ABI(S_IFDIR); ABI(S_IFCHR); ABI(S_IFIFO); ABI(RLIMIT_NOFILE);
	ABI(ENOTTY); ABI(ESPIPE); ABI(EOVERFLOW); ABI(EBADF); ABI(EMFILE); ABI(ELOOP);
	ABI(ENAMETOOLONG); ABI(ENXIO);
}

/* ---- descriptions and open flags ---- */

static void test_file_new(void **state)
{
	struct fd_file *f;

	assert_int_equal(fd_file_new(&OPS, FD_KIND_REG, "a", 1, O_RDONLY, NULL, &f), -EINVAL);
	assert_null(f);
	assert_int_equal(fd_file_new(&OPS, FD_KIND_REG, "/a/", 3, O_RDONLY, NULL, &f), -EINVAL);
	assert_int_equal(fd_file_new(&OPS, FD_KIND_DIR, "/a/../b", 7, 0, NULL, &f), -EINVAL);
	assert_int_equal(fd_file_new(&OPS, 0, "/a", 2, 0, NULL, &f), -EINVAL);
	assert_int_equal(fd_file_new(&OPS, FD_KIND_PIPE, "", 0, O_WRONLY, NULL, &f), 0);
	assert_int_equal(f->flags, O_WRONLY);	/* pipes get no O_LARGEFILE */
	assert_string_equal(f->path, "");
	fd_file_put(f);
	assert_int_equal(E.releases, 1);

	E.fail_after = 1;	/* the description fits, its path does not */
	assert_int_equal(fd_file_new(&OPS, FD_KIND_REG, "/a", 2, 0, NULL, &f), -ENOMEM);
	E.fail_after = 0;
	assert_int_equal(fd_file_new(&OPS, FD_KIND_REG, "/a", 2, 0, NULL, &f), -ENOMEM);
	E.fail_after = -1;

	f = mkfile(FD_KIND_REG, "/x/y", O_RDWR | O_CREAT | O_EXCL | O_TRUNC | O_CLOEXEC |
		   O_NOCTTY | O_APPEND);
	assert_int_equal(f->flags, O_RDWR | O_APPEND | O_LARGEFILE);
	assert_int_equal(f->path_len, 4);
	assert_int_equal(f->pos, 0);
	assert_int_equal(fd_file_refs(f), 1);
	fd_file_get(f);
	assert_int_equal(fd_file_refs(f), 2);
	fd_file_put(f);
	fd_file_put(f);
}

static void test_open_flags(void **state)
{
	assert_int_equal(fd_open_check(O_RDWR | O_CREAT), 0);
	assert_int_equal(fd_open_check(O_RDONLY | O_DIRECTORY), 0);
	assert_int_equal(fd_open_check(O_CREAT | O_DIRECTORY), -EINVAL);
	assert_int_equal(fd_open_check(O_TMPFILE | O_RDWR), -EOPNOTSUPP);
	assert_int_equal(fd_open_create_flags(O_CREAT), 0);
	assert_int_equal(fd_open_create_flags(O_CREAT | O_EXCL | O_TRUNC),
			 LEGO_ST_O_EXCL | LEGO_ST_O_TRUNC);
	assert_int_equal(fd_open_status_flags(O_PATH | O_RDWR | O_CLOEXEC | O_NOFOLLOW,
					      FD_KIND_REG), O_PATH | O_NOFOLLOW);
	/* Unknown bits vanish, as in Linux. */
	assert_int_equal(fd_open_status_flags(0x80000000u | O_WRONLY, FD_KIND_REG),
			 O_WRONLY | O_LARGEFILE);

	/* F_GETFL of real opens. */
	static const struct {
		const char *path;	/* NULL: the temp file */
		u32 flags;
		enum fd_kind kind;
	} c[] = {
		{ "/dev/null", O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW | O_DSYNC,
		  FD_KIND_PSEUDO },
		{ "/dev/null", O_WRONLY | O_APPEND | O_SYNC, FD_KIND_PSEUDO },
		{ "/dev/null", O_PATH | O_CLOEXEC | O_NOFOLLOW, FD_KIND_PSEUDO },
		{ "/", O_RDONLY | O_DIRECTORY, FD_KIND_DIR },
		{ "/", O_PATH | O_DIRECTORY | O_RDWR, FD_KIND_DIR },
		{ NULL, O_RDWR | O_TRUNC | O_CREAT | O_APPEND, FD_KIND_REG },
		{ NULL, O_RDONLY | O_NOATIME | O_ASYNC, FD_KIND_REG },
	};
	char tmp[256];
	long tfd = hfd_mktemp(tmp, sizeof(tmp));

	assert_true(tfd >= 0);
	hfd_close((int)tfd);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		long fd = hfd_open(c[i].path ? c[i].path : tmp, (int)c[i].flags, 0600);

		if (fd < 0)
			fail_msg("case %zu: host open %ld", i, fd);
		long fl = hfd_fcntl((int)fd, F_GETFL, 0);
		if (fl != (long)fd_open_status_flags(c[i].flags, c[i].kind))
			fail_msg("case %zu: host F_GETFL %lo, ours %o", i, fl,
				 fd_open_status_flags(c[i].flags, c[i].kind));
		hfd_close((int)fd);
	}
	hfd_unlink(tmp);
}

/* ---- the table ---- */

static void test_install(void **state)
{
	struct fd_table t;
	struct fd_file *f = mkfile(FD_KIND_REG, "/f", O_RDWR);

	fd_table_init(&t, &OPS, 20);
	assert_int_equal(t.cap, 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(fd_table_install(&t, f, 0, 0), i);
	assert_int_equal(fd_file_refs(f), 21);
	assert_int_equal(fd_table_install(&t, f, 0, 0), -EMFILE);
	assert_int_equal(fd_table_install(&t, f, 19, 0), -EMFILE);
	assert_int_equal(fd_table_install(&t, f, 20, 0), -EINVAL);
	assert_int_equal(fd_table_install(&t, f, -1, 0), -EINVAL);
	assert_int_equal(t.cap, 20);		/* never beyond the limit */
	assert_int_equal(fd_table_close(&t, 7), 0);
	assert_int_equal(fd_table_close(&t, 3), 0);
	assert_int_equal(fd_table_close(&t, 3), -EBADF);
	assert_int_equal(fd_table_close(&t, -1), -EBADF);
	assert_int_equal(fd_table_close(&t, 20), -EBADF);
	assert_int_equal(fd_table_close(&t, 1 << 30), -EBADF);
	assert_int_equal(fd_table_install(&t, f, 4, 0), 7);
	assert_int_equal(fd_table_install(&t, f, 0, FD_CLOEXEC), 3);
	assert_int_equal(t.slots[3].fdflags, FD_CLOEXEC);
	assert_int_equal(t.nopen, 20);

	/* A lowered limit keeps open fds but refuses new ones above it. */
	assert_int_equal(fd_table_set_limit(&t, 5), 0);
	assert_non_null(peek(&t, 15));
	assert_int_equal(fd_table_close(&t, 2), 0);
	assert_int_equal(fd_table_install(&t, f, 0, 0), 2);
	assert_int_equal(fd_table_install(&t, f, 0, 0), -EMFILE);
	assert_int_equal(fd_table_set_limit(&t, LINUX_NR_OPEN + 1), -EPERM);
	assert_int_equal(fd_table_set_limit(&t, 100), 0);
	assert_int_equal(fd_table_install(&t, f, 50, 0), 50);
	assert_true(t.cap > 50 && t.cap <= 100);

	fd_table_destroy(&t);
	assert_int_equal(fd_file_refs(f), 1);
	assert_int_equal(E.releases, 0);
	fd_file_put(f);
	assert_int_equal(E.releases, 1);
}

static void test_get(void **state)
{
	struct fd_table t;
	struct fd_file *g;
	int ro, wo, rw, pa;

	fd_table_init(&t, &OPS, 0);
	assert_int_equal(t.limit, LINUX_NOFILE_CUR);
	ro = do_open(&t, FD_KIND_REG, "/r", O_RDONLY);
	wo = do_open(&t, FD_KIND_REG, "/w", O_WRONLY);
	rw = do_open(&t, FD_KIND_REG, "/rw", O_RDWR);
	pa = do_open(&t, FD_KIND_REG, "/p", O_PATH | O_RDWR);

	static const struct {
		int which;
		enum fd_need need;
		int err;
	} c[] = {
		{ 0, FD_NEED_READ, 0 }, { 0, FD_NEED_WRITE, -EBADF }, { 0, FD_NEED_IO, 0 },
		{ 1, FD_NEED_READ, -EBADF }, { 1, FD_NEED_WRITE, 0 }, { 1, FD_NEED_ANY, 0 },
		{ 2, FD_NEED_READ, 0 }, { 2, FD_NEED_WRITE, 0 },
		{ 3, FD_NEED_READ, -EBADF }, { 3, FD_NEED_WRITE, -EBADF },
		{ 3, FD_NEED_IO, -EBADF }, { 3, FD_NEED_ANY, 0 },
	};
	int fds[] = { ro, wo, rw, pa };

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		int r = fd_table_get(&t, fds[c[i].which], c[i].need, &g);

		if (r != c[i].err)
			fail_msg("case %zu: %d want %d", i, r, c[i].err);
		if (!r) {
			assert_ptr_equal(g, peek(&t, fds[c[i].which]));
			assert_int_equal(fd_file_refs(g), 2);
			fd_file_put(g);
		} else {
			assert_null(g);
		}
	}
	assert_int_equal(fd_table_get(&t, 99, FD_NEED_ANY, &g), -EBADF);
	assert_int_equal(fd_table_get(&t, -100, FD_NEED_ANY, &g), -EBADF);

	/* A reference taken by get outlives close (an RPC in flight). */
	assert_int_equal(fd_table_get(&t, rw, FD_NEED_READ, &g), 0);
	assert_int_equal(fd_table_close(&t, rw), 0);
	assert_int_equal(E.releases, 0);
	assert_string_equal(g->path, "/rw");
	fd_file_put(g);
	assert_int_equal(E.releases, 1);
	fd_table_destroy(&t);
}

static void test_dup(void **state)
{
	struct fd_table t;
	int a, b;

	fd_table_init(&t, &OPS, 10);
	a = do_open(&t, FD_KIND_REG, "/a", O_RDWR | O_CLOEXEC);
	b = do_open(&t, FD_KIND_PSEUDO, "/dev/null", O_RDONLY);
	assert_int_equal(a, 0);
	assert_int_equal(b, 1);

	/* dup: lowest fd, FD_CLOEXEC off, same description. */
	assert_int_equal(fd_table_dup(&t, a), 2);
	assert_ptr_equal(peek(&t, 2), peek(&t, a));
	assert_int_equal(fd_table_fcntl(&t, 2, F_GETFD, 0), 0);
	assert_int_equal(fd_table_fcntl(&t, a, F_GETFD, 0), FD_CLOEXEC);
	assert_int_equal(fd_file_refs(peek(&t, a)), 2);
	assert_int_equal(fd_table_dup(&t, 5), -EBADF);

	/* dup2 */
	assert_int_equal(fd_table_dup2(&t, a, a), a);
	assert_int_equal(fd_table_fcntl(&t, a, F_GETFD, 0), FD_CLOEXEC);	/* untouched */
	assert_int_equal(fd_table_dup2(&t, 6, 6), -EBADF);
	assert_int_equal(fd_table_dup2(&t, 6, 7), -EBADF);
	assert_int_equal(fd_table_dup2(&t, a, -1), -EBADF);
	assert_int_equal(fd_table_dup2(&t, a, 10), -EBADF);
	assert_int_equal(fd_table_dup2(&t, a, 9), 9);
	assert_int_equal(fd_table_fcntl(&t, 9, F_GETFD, 0), 0);
	/* Onto an open fd: it is replaced, its old description dropped. */
	assert_int_equal(fd_table_dup2(&t, a, b), b);
	assert_int_equal(E.releases, 1);		/* /dev/null's last fd */
	assert_ptr_equal(peek(&t, b), peek(&t, a));
	assert_int_equal(fd_file_refs(peek(&t, a)), 4);
	assert_int_equal(t.nopen, 4);
	/* Onto an fd holding the same description. */
	assert_int_equal(fd_table_dup2(&t, a, 9), 9);
	assert_int_equal(fd_file_refs(peek(&t, a)), 4);

	/* dup3 */
	assert_int_equal(fd_table_dup3(&t, a, a, 0), -EINVAL);
	assert_int_equal(fd_table_dup3(&t, 6, 6, 0), -EINVAL);
	assert_int_equal(fd_table_dup3(&t, a, 5, O_NONBLOCK), -EINVAL);
	assert_int_equal(fd_table_dup3(&t, 6, 5, 1), -EINVAL);	/* flags before fds */
	assert_int_equal(fd_table_dup3(&t, 6, 5, 0), -EBADF);
	assert_int_equal(fd_table_dup3(&t, a, 10, 0), -EBADF);
	assert_int_equal(fd_table_dup3(&t, a, 5, O_CLOEXEC), 5);
	assert_int_equal(fd_table_fcntl(&t, 5, F_GETFD, 0), FD_CLOEXEC);
	assert_int_equal(fd_table_dup3(&t, a, 5, 0), 5);
	assert_int_equal(fd_table_fcntl(&t, 5, F_GETFD, 0), 0);

	/* F_DUPFD */
	assert_int_equal(fd_table_fcntl(&t, a, F_DUPFD, 3), 3);
	assert_int_equal(fd_table_fcntl(&t, a, F_DUPFD_CLOEXEC, 3), 4);
	assert_int_equal(fd_table_fcntl(&t, 4, F_GETFD, 0), FD_CLOEXEC);
	assert_int_equal(fd_table_fcntl(&t, a, F_DUPFD, 10), -EINVAL);
	assert_int_equal(fd_table_fcntl(&t, a, F_DUPFD, (u64)-1), -EINVAL);
	assert_int_equal(fd_table_fcntl(&t, a, F_DUPFD, 9), -EMFILE);
	assert_int_equal(fd_table_fcntl(&t, 8, F_DUPFD, 0), -EBADF);
	fd_table_destroy(&t);
}

static void test_fcntl(void **state)
{
	struct fd_table t;
	int a, p;

	fd_table_init(&t, &OPS, 10);
	a = do_open(&t, FD_KIND_REG, "/a", O_WRONLY | O_DSYNC);
	p = do_open(&t, FD_KIND_REG, "/p", O_PATH);
	assert_int_equal(fd_table_fcntl(&t, a, F_GETFL, 0), O_WRONLY | O_DSYNC | O_LARGEFILE);
	/* Only O_APPEND and O_NONBLOCK change; the rest is ignored. */
	assert_int_equal(fd_table_fcntl(&t, a, F_SETFL, O_APPEND | O_NONBLOCK | O_RDWR |
					O_CREAT | O_TRUNC | O_NOFOLLOW), 0);
	assert_int_equal(fd_table_fcntl(&t, a, F_GETFL, 0),
			 O_WRONLY | O_DSYNC | O_LARGEFILE | O_APPEND | O_NONBLOCK);
	assert_int_equal(fd_table_fcntl(&t, a, F_SETFL, O_APPEND), 0);
	assert_int_equal(fd_table_fcntl(&t, a, F_GETFL, 0),
			 O_WRONLY | O_DSYNC | O_LARGEFILE | O_APPEND);
	/* The flags are the description's: a dup sees them. */
	int d = fd_table_dup(&t, a);
	assert_int_equal(fd_table_fcntl(&t, d, F_SETFL, 0), 0);
	assert_int_equal(fd_table_fcntl(&t, a, F_GETFL, 0), O_WRONLY | O_DSYNC | O_LARGEFILE);
	/* FD_CLOEXEC is the slot's: a dup does not. */
	assert_int_equal(fd_table_fcntl(&t, a, F_SETFD, 3), 0);
	assert_int_equal(fd_table_fcntl(&t, a, F_GETFD, 0), FD_CLOEXEC);
	assert_int_equal(fd_table_fcntl(&t, d, F_GETFD, 0), 0);
	assert_int_equal(fd_table_fcntl(&t, a, F_SETFD, 2), 0);
	assert_int_equal(fd_table_fcntl(&t, a, F_GETFD, 0), 0);

	assert_int_equal(fd_table_fcntl(&t, p, F_GETFL, 0), O_PATH);
	assert_int_equal(fd_table_fcntl(&t, p, F_SETFL, O_APPEND), -EBADF);
	assert_int_equal(fd_table_fcntl(&t, p, F_SETFD, 1), 0);
	assert_int_equal(fd_table_fcntl(&t, p, F_DUPFD, 0), 3);
	assert_int_equal(fd_table_fcntl(&t, a, F_GETLK, 0), -EINVAL);
	assert_int_equal(fd_table_fcntl(&t, a, 9999, 0), -EINVAL);
	assert_int_equal(fd_table_fcntl(&t, 9, 9999, 0), -EBADF);
	assert_int_equal(fd_table_fcntl(&t, -1, F_GETFD, 0), -EBADF);
	fd_table_destroy(&t);
}

static void test_cloexec(void **state)
{
	struct fd_table t;

	fd_table_init(&t, &OPS, 64);
	for (int i = 0; i < 40; i++)
		assert_int_equal(do_open(&t, FD_KIND_REG, "/f", i % 3 ? O_RDONLY : O_CLOEXEC), i);
	assert_int_equal(fd_table_fcntl(&t, 1, F_SETFD, FD_CLOEXEC), 0);
	assert_int_equal(fd_table_fcntl(&t, 0, F_SETFD, 0), 0);
	fd_table_cloexec(&t);
	for (int i = 0; i < 40; i++) {
		bool gone = (i % 3 == 0 && i != 0) || i == 1;

		assert_int_equal(peek(&t, i) == NULL, gone);
	}
	assert_int_equal(t.nopen, 26);
	assert_int_equal(E.releases, 14);
	fd_table_destroy(&t);
	assert_int_equal(E.releases, 40);
}

/* ---- lseek ---- */

#define MAXF ((s64)LEGO_ST_MAX_FILE_SIZE)
#define S64MAX ((s64)(~0ULL >> 1))

static void test_lseek(void **state)
{
	static const struct {
		s64 start, off;
		int whence;
		u64 size;
		s64 want;	/* new position or -errno */
	} c[] = {
		{ 0, 10, SEEK_SET, 0, 10 },
		{ 5, -1, SEEK_SET, 0, -EINVAL },
		{ 5, 0, SEEK_SET, 0, 0 },
		{ 5, MAXF, SEEK_SET, 0, MAXF },
		{ 5, MAXF + 1, SEEK_SET, 0, -EINVAL },
		{ 5, 3, SEEK_CUR, 0, 8 },
		{ 5, -5, SEEK_CUR, 0, 0 },
		{ 5, -6, SEEK_CUR, 0, -EINVAL },
		{ 5, 0, SEEK_CUR, 0, 5 },
		{ 5, S64MAX, SEEK_CUR, 0, -EOVERFLOW },
		{ 5, 0, SEEK_END, 100, 100 },
		{ 5, -100, SEEK_END, 100, 0 },
		{ 5, -101, SEEK_END, 100, -EINVAL },
		{ 5, 7, SEEK_END, 100, 107 },
		{ 5, S64MAX, SEEK_END, 100, -EOVERFLOW },
		{ 5, 0, SEEK_END, ~0ULL, -EOVERFLOW },
		{ 5, 0, SEEK_DATA, 100, 0 },
		{ 5, 99, SEEK_DATA, 100, 99 },
		{ 5, 100, SEEK_DATA, 100, -ENXIO },
		{ 5, -1, SEEK_DATA, 100, -ENXIO },
		{ 5, 0, SEEK_HOLE, 100, 100 },
		{ 5, 50, SEEK_HOLE, 100, 100 },
		{ 5, 100, SEEK_HOLE, 100, -ENXIO },
		{ 5, 0, SEEK_DATA, 0, -ENXIO },
		{ 5, 0, 5, 0, -EINVAL },
		{ 5, 0, -1, 0, -EINVAL },
	};
	struct fd_file *f = mkfile(FD_KIND_REG, "/f", O_RDWR);

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		f->pos = c[i].start;
		s64 r = fd_file_lseek(f, c[i].off, c[i].whence, c[i].size);

		if (r != c[i].want)
			fail_msg("case %zu: %lld want %lld", i, (long long)r, (long long)c[i].want);
		/* Failures leave the offset alone. */
		assert_int_equal(f->pos, r < 0 ? c[i].start : r);
	}
	assert_true(fd_lseek_needs_size(SEEK_END));
	assert_true(fd_lseek_needs_size(SEEK_HOLE));
	assert_false(fd_lseek_needs_size(SEEK_CUR));
	fd_file_put(f);

	f = mkfile(FD_KIND_PIPE, "", O_RDONLY);
	assert_int_equal(fd_file_lseek(f, 0, SEEK_CUR, 0), -ESPIPE);
	fd_file_put(f);
	f = mkfile(FD_KIND_CONSOLE, "/dev/console", O_RDWR);
	assert_int_equal(fd_file_lseek(f, 0, SEEK_SET, 0), -ESPIPE);
	fd_file_put(f);
	f = mkfile(FD_KIND_PSEUDO, "/proc/self/maps", O_RDONLY);
	assert_int_equal(fd_file_lseek(f, 4, SEEK_END, 6), 10);
	fd_file_put(f);
}

/* ---- storage I/O requests ---- */

static void test_io(void **state)
{
	struct fd_file *f = mkfile(FD_KIND_REG, "/dir/file", O_RDWR);
	struct lego_st_req h;
	char path[LEGO_ST_PATH_MAX];
	struct fd_io io;

	/* read at the offset */
	f->pos = 100;
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, false, 0, 50, 7, &h, path, &io), 0);
	assert_int_equal(io.op, LEGO_OP_ST_READ);
	assert_int_equal(h.vnode, 7);
	assert_int_equal(h.off, 100);
	assert_int_equal(h.len, 50);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.mode, 0);
	assert_int_equal(h.path_len, 9);
	assert_int_equal(h.path2_len, 0);
	assert_string_equal(path, "/dir/file");
	assert_int_equal(fd_file_io_done(f, &io, 30, 0), 30);	/* short: EOF */
	assert_int_equal(f->pos, 130);
	assert_int_equal(fd_file_io_done(f, &io, 51, 0), -EPROTO);
	assert_int_equal(f->pos, 130);

	/* capped at LEGO_ST_IO_MAX */
	assert_int_equal(fd_file_io_prep(f, FD_IO_WRITE, false, 0, 1 << 20, 7, &h, path, &io), 0);
	assert_int_equal(io.op, LEGO_OP_ST_WRITE);
	assert_int_equal(h.len, LEGO_ST_IO_MAX);
	assert_int_equal(fd_file_io_done(f, &io, LEGO_ST_IO_MAX, 0), LEGO_ST_IO_MAX);
	assert_int_equal(f->pos, 130 + LEGO_ST_IO_MAX);

	/* pread/pwrite leave the offset */
	f->pos = 5;
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, true, 1000, 10, 7, &h, path, &io), 0);
	assert_int_equal(h.off, 1000);
	assert_int_equal(fd_file_io_done(f, &io, 10, 0), 10);
	assert_int_equal(f->pos, 5);
	assert_int_equal(fd_file_io_prep(f, FD_IO_WRITE, true, 0, 10, 7, &h, path, &io), 0);
	assert_int_equal(h.off, 0);
	assert_int_equal(fd_file_io_done(f, &io, 10, 0), 10);
	assert_int_equal(f->pos, 5);
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, true, -1, 10, 7, &h, path, &io), -EINVAL);

	/* zero bytes: no request */
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, false, 0, 0, 7, &h, path, &io), 0);
	assert_int_equal(io.len, 0);

	/* the end of what the storage can hold */
	f->pos = MAXF;
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, false, 0, 10, 7, &h, path, &io), 0);
	assert_int_equal(io.len, 0);
	assert_int_equal(fd_file_io_prep(f, FD_IO_WRITE, false, 0, 10, 7, &h, path, &io), -EFBIG);
	assert_int_equal(fd_file_io_prep(f, FD_IO_WRITE, false, 0, 0, 7, &h, path, &io), 0);
	f->pos = MAXF - 4;
	assert_int_equal(fd_file_io_prep(f, FD_IO_WRITE, false, 0, 10, 7, &h, path, &io), 0);
	assert_int_equal(h.len, 4);
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, false, 0, 10, 7, &h, path, &io), 0);
	assert_int_equal(h.len, 4);

	/* O_APPEND: the storage chooses the offset */
	f->pos = 3;
	f->flags |= O_APPEND;
	assert_int_equal(fd_file_io_prep(f, FD_IO_WRITE, false, 0, 20, 9, &h, path, &io), 0);
	assert_int_equal(io.op, LEGO_OP_ST_APPEND);
	assert_int_equal(h.off, 0);
	assert_int_equal(h.len, 20);
	assert_int_equal(h.flags, 0);
	assert_int_equal(fd_file_io_done(f, &io, 20, 4000), 20);
	assert_int_equal(f->pos, 4020);
	assert_int_equal(fd_file_io_done(f, &io, 20, (u64)MAXF - 10), -EPROTO);
	assert_int_equal(f->pos, 4020);
	/* pwrite appends too, without moving the offset */
	assert_int_equal(fd_file_io_prep(f, FD_IO_WRITE, true, 7, 20, 9, &h, path, &io), 0);
	assert_int_equal(io.op, LEGO_OP_ST_APPEND);
	assert_int_equal(fd_file_io_done(f, &io, 20, 9000), 20);
	assert_int_equal(f->pos, 4020);
	/* reads ignore O_APPEND */
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, false, 0, 20, 9, &h, path, &io), 0);
	assert_int_equal(io.op, LEGO_OP_ST_READ);
	assert_int_equal(h.off, 4020);

	/* a renamed-away description */
	f->stale = true;
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, false, 0, 20, 9, &h, path, &io), -ESTALE);
	fd_file_put(f);

	/* access modes, types, seekability */
	f = mkfile(FD_KIND_REG, "/ro", O_RDONLY);
	assert_int_equal(fd_file_io_prep(f, FD_IO_WRITE, false, 0, 1, 0, &h, path, &io), -EBADF);
	fd_file_put(f);
	f = mkfile(FD_KIND_REG, "/wo", O_WRONLY);
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, false, 0, 1, 0, &h, path, &io), -EBADF);
	fd_file_put(f);
	f = mkfile(FD_KIND_REG, "/p", O_PATH | O_RDWR);
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, false, 0, 1, 0, &h, path, &io), -EBADF);
	fd_file_put(f);
	f = mkfile(FD_KIND_DIR, "/d", O_RDONLY | O_DIRECTORY);
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, false, 0, 1, 0, &h, path, &io), -EISDIR);
	assert_int_equal(fd_file_io_prep(f, FD_IO_WRITE, false, 0, 1, 0, &h, path, &io), -EBADF);
	fd_file_put(f);
	f = mkfile(FD_KIND_PIPE, "", O_RDONLY);
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, true, 0, 1, 0, &h, path, &io), -ESPIPE);
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, true, -1, 1, 0, &h, path, &io), -EINVAL);
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, false, 0, 1, 0, &h, path, &io), -EINVAL);
	fd_file_put(f);
	f = mkfile(FD_KIND_PSEUDO, "/dev/zero", O_RDONLY);
	assert_int_equal(fd_file_io_prep(f, FD_IO_READ, true, 0, 1, 0, &h, path, &io), -EINVAL);
	fd_file_put(f);
}

/* ---- getdents cursor ---- */

static void test_readdir(void **state)
{
	struct fd_file *f = mkfile(FD_KIND_DIR, "/d", O_RDONLY | O_DIRECTORY);
	struct lego_st_req h;
	char path[LEGO_ST_PATH_MAX];

	assert_int_equal(fd_dir_dots_pending(f), 2);
	fd_dir_dot_done(f);
	assert_int_equal(fd_dir_dots_pending(f), 1);
	fd_dir_dot_done(f);
	fd_dir_dot_done(f);
	assert_int_equal(fd_dir_dots_pending(f), 0);
	assert_int_equal(f->pos, 0);
	assert_int_equal(fd_file_readdir_prep(f, 3, 1000, &h, path), 0);
	assert_int_equal(h.off, 0);
	assert_int_equal(h.len, LEGO_ST_READDIR_MAX);
	assert_int_equal(h.vnode, 3);
	assert_string_equal(path, "/d");
	assert_int_equal(fd_file_readdir_prep(f, 3, 0, &h, path), 0);
	assert_int_equal(h.len, 1);

	/* A 64-bit cookie: the position stays non-negative. */
	fd_dir_advance(f, 0xfedcba9876543211ULL);
	assert_true(f->pos > 0);
	assert_int_equal(fd_file_readdir_prep(f, 3, 10, &h, path), 0);
	assert_int_equal(h.off, 0xfedcba9876543211ULL);
	assert_int_equal(h.len, 10);
	/* telldir/seekdir: resume at or just before the entry. */
	s64 where = fd_file_lseek(f, 0, SEEK_CUR, 0);
	fd_dir_advance(f, 0x10);
	assert_int_equal(fd_file_lseek(f, where, SEEK_SET, 0), where);
	assert_int_equal(f->dir.cookie, 0xfedcba9876543210ULL);
	assert_int_equal(fd_dir_dots_pending(f), 0);

	fd_dir_set_eof(f);
	assert_int_equal(fd_file_readdir_prep(f, 3, 10, &h, path), 1);
	/* Rewind: the dots and the entries again. */
	assert_int_equal(fd_file_lseek(f, 0, SEEK_SET, 0), 0);
	assert_int_equal(fd_dir_dots_pending(f), 2);
	assert_int_equal(fd_file_readdir_prep(f, 3, 10, &h, path), 0);
	assert_int_equal(h.off, 0);
	assert_int_equal(fd_file_lseek(f, 0, SEEK_END, 0), -EINVAL);
	assert_int_equal(fd_file_lseek(f, 0, SEEK_DATA, 0), -EINVAL);
	assert_int_equal(fd_file_lseek(f, -1, SEEK_SET, 0), -EINVAL);
	assert_int_equal(fd_file_lseek(f, 5, SEEK_CUR, 0), 5);
	assert_int_equal(f->dir.cookie, 10);
	fd_file_put(f);

	f = mkfile(FD_KIND_REG, "/r", O_RDONLY);
	assert_int_equal(fd_file_readdir_prep(f, 3, 10, &h, path), -ENOTDIR);
	fd_file_put(f);
	f = mkfile(FD_KIND_DIR, "/r", O_PATH);
	assert_int_equal(fd_file_readdir_prep(f, 3, 10, &h, path), -EBADF);
	fd_file_put(f);
}

/* ---- fork ---- */

static void test_fork_sharing(void **state)
{
	struct fd_table p, c;
	struct fd_file *g;
	int a, b;

	/* On the host: a child's lseek moves the parent's offset. */
	char tmp[256];
	long hfd = hfd_mktemp(tmp, sizeof(tmp));
	assert_true(hfd >= 0);
	assert_int_equal(hfd_write((int)hfd, 100), 100);
	assert_int_equal(hfd_lseek((int)hfd, 10, SEEK_SET), 10);
	assert_int_equal(hfd_fork_lseek((int)hfd, 42, SEEK_SET), 0);
	assert_int_equal(hfd_lseek((int)hfd, 0, SEEK_CUR), 42);
	hfd_close((int)hfd);
	hfd_unlink(tmp);

	/* In the tables. */
	fd_table_init(&p, &OPS, 50);
	a = do_open(&p, FD_KIND_REG, "/f", O_RDWR);
	b = do_open(&p, FD_KIND_REG, "/g", O_RDONLY | O_CLOEXEC);
	assert_int_equal(fd_table_dup2(&p, a, 30), 30);
	assert_int_equal(fd_table_fork(&c, &p), 0);
	assert_int_equal(c.limit, 50);
	assert_int_equal(c.nopen, 3);
	assert_ptr_equal(peek(&c, a), peek(&p, a));
	assert_ptr_equal(peek(&c, 30), peek(&p, a));
	assert_int_equal(fd_file_refs(peek(&p, a)), 4);
	assert_int_equal(fd_table_fcntl(&c, b, F_GETFD, 0), FD_CLOEXEC);

	assert_int_equal(fd_table_get(&c, a, FD_NEED_IO, &g), 0);
	assert_int_equal(fd_file_lseek(g, 42, SEEK_SET, 0), 42);
	fd_file_put(g);
	assert_int_equal(peek(&p, a)->pos, 42);
	/* Status flags are shared, fd flags are not. */
	assert_int_equal(fd_table_fcntl(&c, a, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fd_table_fcntl(&p, a, F_GETFL, 0), O_RDWR | O_LARGEFILE | O_NONBLOCK);
	assert_int_equal(fd_table_fcntl(&c, a, F_SETFD, FD_CLOEXEC), 0);
	assert_int_equal(fd_table_fcntl(&p, a, F_GETFD, 0), 0);

	/* The child execs and exits; the parent keeps everything. */
	fd_table_cloexec(&c);
	assert_null(peek(&c, a));
	assert_null(peek(&c, b));
	assert_non_null(peek(&c, 30));
	fd_table_destroy(&c);
	assert_int_equal(E.releases, 0);
	assert_int_equal(fd_file_refs(peek(&p, a)), 2);
	assert_int_equal(fd_file_refs(peek(&p, b)), 1);

	/* Fork of an empty table, and one that runs out of memory. */
	struct fd_table e;
	fd_table_init(&e, &OPS, 0);
	assert_int_equal(fd_table_fork(&c, &e), 0);
	assert_int_equal(c.cap, 0);
	fd_table_destroy(&c);
	E.fail_after = 0;
	assert_int_equal(fd_table_fork(&c, &p), -ENOMEM);
	E.fail_after = -1;
	assert_int_equal(c.nopen, 0);
	fd_table_destroy(&c);
	assert_int_equal(fd_file_refs(peek(&p, a)), 2);
	fd_table_destroy(&p);
	assert_int_equal(E.releases, 2);
}

/* ---- rename fixups ---- */

static void test_rename(void **state)
{
	struct fd_table t, c;
	int f1, f2, f3, f4, d, pipe, other;

	fd_table_init(&t, &OPS, 64);
	f1 = do_open(&t, FD_KIND_REG, "/a/b", O_RDWR);
	f2 = do_open(&t, FD_KIND_REG, "/a/b/c/d", O_RDONLY);
	f3 = do_open(&t, FD_KIND_REG, "/a/bc", O_RDONLY);
	d = do_open(&t, FD_KIND_DIR, "/a/b/c", O_RDONLY | O_DIRECTORY);
	pipe = do_open(&t, FD_KIND_PSEUDO, "/a/b/x", O_RDONLY);	/* not storage */
	other = do_open(&t, FD_KIND_REG, "/z", O_RDONLY);
	f4 = fd_table_dup(&t, f2);
	assert_int_equal(fd_table_fork(&c, &t), 0);

	assert_int_equal(fd_table_rename(&t, "/a/b", 4, "/q", 2), 3);
	assert_string_equal(peek(&t, f1)->path, "/q");
	assert_int_equal(peek(&t, f1)->path_len, 2);
	assert_string_equal(peek(&t, f2)->path, "/q/c/d");
	assert_string_equal(peek(&t, f4)->path, "/q/c/d");
	assert_string_equal(peek(&t, d)->path, "/q/c");
	assert_string_equal(peek(&t, f3)->path, "/a/bc");
	assert_string_equal(peek(&t, pipe)->path, "/a/b/x");
	assert_string_equal(peek(&t, other)->path, "/z");
	/* The child shares the descriptions: nothing left to do there. */
	assert_string_equal(peek(&c, f2)->path, "/q/c/d");
	assert_int_equal(fd_table_rename(&c, "/a/b", 4, "/q", 2), 0);
	/* Back, and deeper. */
	assert_int_equal(fd_table_rename(&t, "/q", 2, "/a/b/e/f", 8), 3);
	assert_string_equal(peek(&t, f2)->path, "/a/b/e/f/c/d");
	assert_int_equal(fd_table_rename(&t, "/a/bc", 5, "/a/bc", 5), 0);
	assert_int_equal(fd_table_rename(&t, "/nothing", 8, "/x", 2), 0);

	/* Out of memory changes nothing. */
	for (long n = 0; n < 4; n++) {
		E.fail_after = n;
		assert_int_equal(fd_table_rename(&t, "/a/b/e", 6, "/k", 2), -ENOMEM);
		E.fail_after = -1;
		assert_string_equal(peek(&t, f1)->path, "/a/b/e/f");
		assert_string_equal(peek(&t, f2)->path, "/a/b/e/f/c/d");
	}

	/* A name that no longer fits: the description goes stale. */
	char longdir[LEGO_ST_PATH_MAX];
	memset(longdir, 'l', sizeof(longdir));
	longdir[0] = '/';
	for (size_t i = 200; i < LEGO_ST_PATH_MAX; i += 200)
		longdir[i] = '/';
	size_t ln = LEGO_ST_PATH_MAX - 2;	/* "/a/b/e/f" itself fits, "+/c" not */
	assert_int_equal(fd_table_rename(&t, "/a/b/e/f", 8, longdir, ln), 3);
	assert_int_equal(peek(&t, f1)->path_len, ln);
	assert_false(peek(&t, f1)->stale);
	assert_true(peek(&t, f2)->stale);
	assert_true(peek(&t, d)->stale);
	struct lego_st_req h;
	char path[LEGO_ST_PATH_MAX];
	struct fd_io io;
	assert_int_equal(fd_file_io_prep(peek(&t, f2), FD_IO_READ, false, 0, 1, 0, &h, path, &io),
			 -ESTALE);
	assert_int_equal(fd_file_readdir_prep(peek(&t, d), 0, 1, &h, path), -ESTALE);
	/* Stale descriptions are left alone from then on. */
	assert_int_equal(fd_table_rename(&t, "/a", 2, "/b", 2), 1);
	assert_string_equal(peek(&t, f3)->path, "/b/bc");

	fd_table_destroy(&c);
	fd_table_destroy(&t);
}

/* ---- allocation failures ---- */

static void test_enomem(void **state)
{
	struct fd_table t;
	struct fd_file *f = mkfile(FD_KIND_REG, "/f", O_RDWR);

	fd_table_init(&t, &OPS, 1000);
	E.fail_after = 0;
	assert_int_equal(fd_table_install(&t, f, 0, 0), -ENOMEM);
	assert_int_equal(t.nopen, 0);
	E.fail_after = -1;
	for (int i = 0; i < 16; i++)
		assert_int_equal(fd_table_install(&t, f, 0, 0), i);
	E.fail_after = 0;	/* the 17th needs a bigger array */
	assert_int_equal(fd_table_install(&t, f, 0, 0), -ENOMEM);
	assert_int_equal(fd_table_dup2(&t, 0, 500), -ENOMEM);
	assert_int_equal(fd_table_fcntl(&t, 0, F_DUPFD, 100), -ENOMEM);
	E.fail_after = -1;
	assert_int_equal(t.nopen, 16);
	assert_int_equal(fd_file_refs(f), 17);
	assert_int_equal(fd_table_dup2(&t, 0, 500), 500);
	assert_int_equal(fd_table_install(&t, f, 0, 0), 16);
	fd_table_destroy(&t);
	assert_int_equal(fd_file_refs(f), 1);
	fd_file_put(f);
}

/* ---- comparison with the host kernel ---- */

#define HLIM 64		/* RLIMIT_NOFILE for the comparison */
#define HSPAN (HLIM + 6)	/* fds probed: a few beyond the limit */

struct hcmp {
	struct fd_table t;
	bool pre[HSPAN];	/* open before the test: never touched */
	char tmp[256];		/* the temporary file's name */
	u64 size;		/* the file's size, as the storage would track it */
	bool holey;		/* a write past the end made a hole */
	unsigned long step;
	unsigned int seed;
};

static unsigned int rnd(struct hcmp *h)
{
	h->seed = h->seed * 1103515245u + 12345u;
	return (h->seed >> 16) & 0x7fff;
}

#define HCHECK(h, what, host, ours) do { \
	long _h = (long)(host), _o = (long)(ours); \
	if (_h != _o) \
		fail_msg("step %lu, %s: host %ld, table %ld", (h)->step, what, _h, _o); \
} while (0)

/* An fd to operate on: mostly one we opened, sometimes any number, never
 * one the test process had before (-1000: none suitable). */
static int pick_fd(struct hcmp *h)
{
	int cand[HSPAN], n = 0;

	for (int fd = 0; fd < HSPAN; fd++)
		if (!h->pre[fd] && peek(&h->t, fd))
			cand[n++] = fd;
	if (n && rnd(h) % 5)
		return cand[rnd(h) % n];
	int fd = (int)(rnd(h) % (HSPAN + 2)) - 2;
	return fd >= 0 && h->pre[fd] ? -1000 : fd;
}

/* The syscall layer's read/write/pread/pwrite, with the storage played by
 * h->size: what the table side of the comparison runs. */
static long sim_io(struct hcmp *h, int fd, enum fd_io_dir dir, bool positional, s64 pos,
		   u64 count)
{
	struct fd_file *f;
	struct lego_st_req hdr;
	char path[LEGO_ST_PATH_MAX];
	struct fd_io io;
	u64 done = 0, at = 0;
	long r;

	/* Linux checks a pread/pwrite offset before the fd. */
	if (positional && pos < 0)
		return -EINVAL;
	r = fd_table_get(&h->t, fd, dir == FD_IO_READ ? FD_NEED_READ : FD_NEED_WRITE, &f);
	if (r)
		return r;
	r = fd_file_io_prep(f, dir, positional, pos, count, 1, &hdr, path, &io);
	if (r || io.len == 0) {
		fd_file_put(f);
		return r;
	}
	assert_string_equal(path, "/tmp/f");
	if (io.op == LEGO_OP_ST_READ) {
		done = io.off < h->size ? MIN(io.len, h->size - io.off) : 0;
	} else if (io.op == LEGO_OP_ST_WRITE) {
		done = io.len;
		if (io.off > h->size)
			h->holey = true;
		h->size = MAX(h->size, io.off + io.len);
	} else {
		at = h->size;
		done = io.len;
		h->size += io.len;
	}
	r = fd_file_io_done(f, &io, done, at);
	fd_file_put(f);
	return r;
}

static long sim_lseek(struct hcmp *h, int fd, s64 off, int whence)
{
	struct fd_file *f;
	long r = fd_table_get(&h->t, fd, FD_NEED_IO, &f);

	if (r)
		return r;
	r = fd_file_lseek(f, off, whence, h->size);
	fd_file_put(f);
	return r;
}

static bool is_reg(struct hcmp *h, int fd)
{
	struct fd_file *f = peek(&h->t, fd);

	return f && f->kind == FD_KIND_REG;
}

/* Open fds, FD_CLOEXEC, F_GETFL and offsets agree. */
static void hcmp_check_all(struct hcmp *h)
{
	for (int fd = 0; fd < HSPAN; fd++) {
		if (h->pre[fd])
			continue;
		HCHECK(h, "open", hfd_is_open(fd), peek(&h->t, fd) != NULL);
		if (!peek(&h->t, fd))
			continue;
		HCHECK(h, "F_GETFD", hfd_fcntl(fd, F_GETFD, 0), fd_table_fcntl(&h->t, fd, F_GETFD, 0));
		HCHECK(h, "F_GETFL", hfd_fcntl(fd, F_GETFL, 0), fd_table_fcntl(&h->t, fd, F_GETFL, 0));
		if (is_reg(h, fd))
			HCHECK(h, "offset", hfd_lseek(fd, 0, SEEK_CUR), peek(&h->t, fd)->pos);
	}
}

static void hcmp_step(struct hcmp *h)
{
	static const u32 accs[] = { O_RDONLY, O_WRONLY, O_RDWR };
	static const u32 extra[] = { 0, O_CLOEXEC, O_APPEND, O_NONBLOCK, O_CLOEXEC | O_APPEND };
	int op = (int)(rnd(h) % 14), fd = pick_fd(h), fd2;
	u32 fl;
	long hr, tr;
	s64 off;

	if (fd == -1000)
		return;
	switch (op) {
	case 0:
	case 1: {
		bool null = op == 0;

		fl = accs[rnd(h) % 3] | extra[rnd(h) % 5];
		hr = hfd_open(null ? "/dev/null" : h->tmp, (int)fl, 0);
		tr = do_open(&h->t, null ? FD_KIND_PSEUDO : FD_KIND_REG,
			     null ? "/dev/null" : "/tmp/f", fl);
		HCHECK(h, "open", hr, tr);
		break;
	}
	case 2:
		/* Keep the table filling up now and then, for EMFILE. */
		if (h->t.nopen < HLIM / 2 || rnd(h) % 2)
			HCHECK(h, "close", hfd_close(fd), fd_table_close(&h->t, fd));
		break;
	case 3:
		HCHECK(h, "dup", hfd_dup(fd), fd_table_dup(&h->t, fd));
		break;
	case 4:
	case 5:
		fd2 = rnd(h) % 4 ? pick_fd(h) : fd;
		if (fd2 == -1000)
			break;
		if (op == 4) {
			HCHECK(h, "dup2", hfd_dup2(fd, fd2), fd_table_dup2(&h->t, fd, fd2));
		} else {
			static const u32 f3[] = { 0, O_CLOEXEC, 1, O_CLOEXEC | O_APPEND };

			fl = f3[rnd(h) % 4];
			HCHECK(h, "dup3", hfd_dup3(fd, fd2, (int)fl),
			       fd_table_dup3(&h->t, fd, fd2, fl));
		}
		break;
	case 6: {
		int cmd = rnd(h) % 2 ? F_DUPFD : F_DUPFD_CLOEXEC;
		u64 arg = rnd(h) % 8 ? rnd(h) % (HLIM + 4) : ~0ULL;

		HCHECK(h, "F_DUPFD", hfd_fcntl(fd, cmd, arg), fd_table_fcntl(&h->t, fd, cmd, arg));
		break;
	}
	case 7: {
		u64 arg = rnd(h) % 4;

		HCHECK(h, "F_SETFD", hfd_fcntl(fd, F_SETFD, arg),
		       fd_table_fcntl(&h->t, fd, F_SETFD, arg));
		break;
	}
	case 8: {
		static const u32 bits[] = { O_APPEND, O_NONBLOCK, O_RDWR, O_WRONLY, O_DSYNC,
					    O_CREAT, O_TRUNC, O_EXCL, O_NOFOLLOW };
		u64 arg = 0;

		for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
			if (rnd(h) % 3 == 0)
				arg |= bits[i];
		HCHECK(h, "F_SETFL", hfd_fcntl(fd, F_SETFL, arg),
		       fd_table_fcntl(&h->t, fd, F_SETFL, arg));
		break;
	}
	case 9: {
		int whence = (int)(rnd(h) % 6);

		if (peek(&h->t, fd) && !is_reg(h, fd))
			break;		/* /dev/null's lseek is the device's own */
		if ((whence == SEEK_DATA || whence == SEEK_HOLE) && h->holey)
			break;		/* the host reports holes, the storage does not */
		off = (s64)(rnd(h) % 3000) - 100;
		HCHECK(h, "lseek", hfd_lseek(fd, off, whence), sim_lseek(h, fd, off, whence));
		break;
	}
	case 10:
	case 11:
	case 12:
	case 13: {
		enum fd_io_dir dir = op % 2 ? FD_IO_WRITE : FD_IO_READ;
		bool positional = op >= 12;
		u64 n = rnd(h) % 400;

		if (peek(&h->t, fd) && !is_reg(h, fd))
			break;		/* /dev/null reads and writes are the device's */
		off = (s64)(rnd(h) % 3000) - 10;
		if (!positional)
			hr = dir == FD_IO_READ ? hfd_read(fd, n) : hfd_write(fd, n);
		else
			hr = dir == FD_IO_READ ? hfd_pread(fd, n, off) : hfd_pwrite(fd, n, off);
		tr = sim_io(h, fd, dir, positional, off, n);
		HCHECK(h, positional ? "pread/pwrite" : "read/write", hr, tr);
		break;
	}
	}
}

static void test_host_compare(void **state)
{
	unsigned long soft, hard;
	struct hcmp *h = calloc(1, sizeof(*h));
	long tfd;

	assert_int_equal(hfd_get_nofile(&soft, &hard), 0);
	if (hard < HLIM)
		fail_msg("host RLIMIT_NOFILE hard limit %lu is below %d", hard, HLIM);
	assert_int_equal(hfd_set_nofile(HLIM), 0);

	tfd = hfd_mktemp(h->tmp, sizeof(h->tmp));
	assert_true(tfd >= 0);
	assert_int_equal(hfd_write((int)tfd, 1000), 1000);
	hfd_close((int)tfd);
	h->size = 1000;

	for (unsigned int round = 0; round < 4; round++) {
		fd_table_init(&h->t, &OPS, HLIM);
		/* Stand-ins for what the test process has open already. */
		for (int fd = 0; fd < HSPAN; fd++) {
			h->pre[fd] = hfd_is_open(fd);
			if (h->pre[fd]) {
				struct fd_file *f = mkfile(FD_KIND_CONSOLE, "", O_RDWR);

				assert_int_equal(fd_table_install(&h->t, f, fd, 0), fd);
				fd_file_put(f);
			}
		}
		h->seed = 0x5eed0000u + round;
		for (h->step = 0; h->step < 1500; h->step++) {
			hcmp_step(h);
			hcmp_check_all(h);
		}
		for (int fd = 0; fd < HSPAN; fd++)
			if (!h->pre[fd] && peek(&h->t, fd)) {
				HCHECK(h, "final close", hfd_close(fd), fd_table_close(&h->t, fd));
			}
		fd_table_destroy(&h->t);
	}
	long fd = hfd_open(h->tmp, O_RDONLY, 0);
	assert_true(fd >= 0);
	HCHECK(h, "file size", hfd_size((int)fd), (long)h->size);
	hfd_close((int)fd);
	hfd_unlink(h->tmp);
	assert_int_equal(hfd_set_nofile(soft), 0);
	free(h);
}

/* ---- reference counts over random multi-table sequences ---- */

#define RT_TABLES 6
#define RT_FILES 64

struct rt {
	struct fd_table t[RT_TABLES];
	bool live[RT_TABLES];
	struct fd_file *files[RT_FILES];	/* every description made, one ref held */
	int nfiles;
	unsigned int seed;
};

static unsigned int rt_rnd(struct rt *r)
{
	r->seed = r->seed * 1664525u + 1013904223u;
	return r->seed >> 8;
}

/* Each description's count is exactly the slots holding it plus ours. */
static void rt_check(struct rt *r)
{
	for (int i = 0; i < r->nfiles; i++) {
		long n = 1;

		for (int k = 0; k < RT_TABLES; k++) {
			if (!r->live[k])
				continue;
			for (u32 fd = 0; fd < r->t[k].cap; fd++)
				n += r->t[k].slots[fd].file == r->files[i];
		}
		assert_int_equal(fd_file_refs(r->files[i]), n);
	}
	for (int k = 0; k < RT_TABLES; k++) {
		u32 n = 0;

		if (!r->live[k])
			continue;
		for (u32 fd = 0; fd < r->t[k].cap; fd++)
			n += r->t[k].slots[fd].file != NULL;
		assert_int_equal(r->t[k].nopen, n);
	}
}

static void test_random_refcounts(void **state)
{
	struct rt *r = calloc(1, sizeof(*r));

	r->seed = 12345;
	fd_table_init(&r->t[0], &OPS, 48);
	r->live[0] = true;
	for (int step = 0; step < 10000; step++) {
		int k = (int)(rt_rnd(r) % RT_TABLES), fd = (int)(rt_rnd(r) % 52) - 2;
		struct fd_table *t = &r->t[k];

		if (!r->live[k]) {
			/* fork from some live table */
			for (int j = 0; j < RT_TABLES; j++)
				if (r->live[j] && rt_rnd(r) % 2) {
					if (rt_rnd(r) % 10 == 0)
						E.fail_after = 0;
					if (fd_table_fork(t, &r->t[j]) == 0) {
						r->live[k] = true;
					} else {
						assert_int_equal(t->nopen, 0);
						fd_table_destroy(t);
					}
					E.fail_after = -1;
					break;
				}
			rt_check(r);
			continue;
		}
		switch (rt_rnd(r) % 10) {
		case 0:
		case 1:
			if (r->nfiles < RT_FILES) {
				static const char *paths[] = { "/a", "/a/b", "/c", "/a/b/d" };

				r->files[r->nfiles] = mkfile(rt_rnd(r) % 3 ? FD_KIND_REG : FD_KIND_DIR,
							     paths[rt_rnd(r) % 4], O_RDWR);
				fd_table_install(t, r->files[r->nfiles], (int)(rt_rnd(r) % 10),
						 rt_rnd(r) % 2 ? FD_CLOEXEC : 0);
				r->nfiles++;
			}
			break;
		case 2:
			fd_table_close(t, fd);
			break;
		case 3:
			fd_table_dup(t, fd);
			break;
		case 4:
			if (rt_rnd(r) % 8 == 0)
				E.fail_after = 0;
			fd_table_dup2(t, fd, (int)(rt_rnd(r) % 52) - 2);
			E.fail_after = -1;
			break;
		case 5:
			fd_table_dup3(t, fd, (int)(rt_rnd(r) % 52) - 2, rt_rnd(r) % 2 ? O_CLOEXEC : 0);
			break;
		case 6:
			fd_table_fcntl(t, fd, rt_rnd(r) % 2 ? F_DUPFD : F_SETFD, rt_rnd(r) % 50);
			break;
		case 7:
			if (rt_rnd(r) % 20 == 0)
				fd_table_cloexec(t);
			break;
		case 8:
			if (rt_rnd(r) % 4 == 0)
				E.fail_after = (long)(rt_rnd(r) % 4);
			if (rt_rnd(r) % 2)
				fd_table_rename(t, "/a", 2, "/e", 2);
			else
				fd_table_rename(t, "/e", 2, "/a", 2);
			E.fail_after = -1;
			break;
		case 9:
			if (rt_rnd(r) % 10 == 0) {
				fd_table_destroy(t);	/* exit */
				r->live[k] = false;
			}
			break;
		}
		rt_check(r);
	}
	for (int k = 0; k < RT_TABLES; k++)
		if (r->live[k])
			fd_table_destroy(&r->t[k]);
	for (int i = 0; i < r->nfiles; i++) {
		assert_int_equal(fd_file_refs(r->files[i]), 1);
		fd_file_put(r->files[i]);
	}
	assert_int_equal(E.releases, r->nfiles);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_abi_constants, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_new, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_flags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install, setup, teardown),
		cmocka_unit_test_setup_teardown(test_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fcntl, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cloexec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lseek, setup, teardown),
		cmocka_unit_test_setup_teardown(test_io, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readdir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fork_sharing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enomem, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_compare, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_refcounts, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
