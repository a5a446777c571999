/* Unit tests for the LegoFS format code (managers/storage/legofs*.c):
 * format and mount, every request and its error paths, vNodes and their
 * copy-on-write sharing, paging, space exhaustion, corrupt and foreign
 * images, I/O errors and read-only mounts. Model-based, random and crash
 * tests are in test_legofs_model.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LFS_INTERNAL	/* test_runtime_corruption locates a bucket block */
#include <lego/legofs.h>
#include <lego/errno.h>

/* ---------------------------------------------------------------------- */
/* Device and environment                                                  */

struct mdev {
	u8 *img;
	u64 nblocks;
	long fail_write_after;		/* < 0: never; else writes left before -EIO */
	long fail_read_after;
	u64 nwrites, nreads, nflushes;
};

static long live_allocs;
static long fail_alloc_after = -1;	/* < 0: never */

static void *t_alloc(void *ctx, size_t n)
{
	assert_true(n <= 64 * 1024);
	if (fail_alloc_after == 0)
		return NULL;
	if (fail_alloc_after > 0)
		fail_alloc_after--;
	live_allocs++;
	return malloc(n);
}

static void t_free(void *ctx, void *p)
{
	live_allocs--;
	free(p);
}

static u64 clock_ns = 1000;
static u64 t_now(void *ctx)
{
	return clock_ns++;
}

static const struct lfs_env env = { .alloc = t_alloc, .free = t_free, .now = t_now };

static int md_read(void *ctx, u64 blk, void *buf)
{
	struct mdev *d = ctx;

	if (blk >= d->nblocks)
		return -EIO;
	if (d->fail_read_after == 0)
		return -EIO;
	if (d->fail_read_after > 0)
		d->fail_read_after--;
	d->nreads++;
	memcpy(buf, d->img + blk * LFS_BLOCK_SIZE, LFS_BLOCK_SIZE);
	return 0;
}

static int md_write(void *ctx, u64 blk, const void *buf)
{
	struct mdev *d = ctx;

	if (blk >= d->nblocks)
		return -EIO;
	if (d->fail_write_after == 0)
		return -EIO;
	if (d->fail_write_after > 0)
		d->fail_write_after--;
	d->nwrites++;
	memcpy(d->img + blk * LFS_BLOCK_SIZE, buf, LFS_BLOCK_SIZE);
	return 0;
}

static int md_flush(void *ctx)
{
	struct mdev *d = ctx;

	d->nflushes++;
	return 0;
}

static struct lfs_io md_io(struct mdev *d)
{
	return (struct lfs_io){ .read = md_read, .write = md_write, .flush = md_flush, .ctx = d,
				.nblocks = d->nblocks };
}

static struct mdev *md_new(u64 nblocks)
{
	struct mdev *d = calloc(1, sizeof(*d));

	d->img = calloc(nblocks, LFS_BLOCK_SIZE);
	d->nblocks = nblocks;
	d->fail_write_after = -1;
	d->fail_read_after = -1;
	return d;
}

static void md_del(struct mdev *d)
{
	free(d->img);
	free(d);
}

static void do_format(struct mdev *d, u32 ninodes, u32 journal)
{
	struct lfs_io io = md_io(d);
	struct lfs_format_params p = { .ninodes = ninodes, .journal_blocks = journal,
				       .uuid = "0123456789abcdef", .label = "test", .mtime = 42 };
	const char *msg = NULL;
	int r = lfs_format(&io, &env, &p, &msg);

	if (r)
		fail_msg("format: %d %s", r, msg);
}

static struct lfs_fs *mnt_opts(struct mdev *d, const struct lfs_mount_opts *o)
{
	struct lfs_io io = md_io(d);
	struct lfs_fs *fs = NULL;
	const char *msg = NULL;
	int r = lfs_mount(&fs, &io, &env, o, &msg);

	if (r)
		fail_msg("mount: %d %s", r, msg);
	return fs;
}

static struct lfs_fs *mnt(struct mdev *d)
{
	return mnt_opts(d, NULL);
}

static void check_ok(struct lfs_fs *fs)
{
	int r = lfs_check(fs, NULL);

	if (r)
		fail_msg("check: %d: %s", r, lfs_errmsg(fs));
}

static void umnt(struct lfs_fs *fs)
{
	check_ok(fs);
	assert_int_equal(lfs_unmount(fs), 0);
	assert_int_equal(live_allocs, 0);
}

static struct mdev *fresh(u64 nblocks, struct lfs_fs **fs)
{
	struct mdev *d = md_new(nblocks);

	do_format(d, 0, 0);
	*fs = mnt(d);
	return d;
}

static void fill(u8 *p, size_t n, u32 seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (u8)((i * 131 + seed * 7 + (i >> 12)) ^ seed);
}

static void put_file(struct lfs_fs *fs, u32 vn, const char *path, const void *data, size_t n)
{
	assert_int_equal(lfs_create(fs, vn, path, 0644, LFS_O_TRUNC), 0);
	if (n)
		assert_int_equal(lfs_write(fs, vn, path, 0, data, n), (s64)n);
}

static void expect_file(struct lfs_fs *fs, u32 vn, const char *path, const void *data, size_t n)
{
	u8 *buf = malloc(n + 100);
	struct lfs_stat st;

	assert_int_equal(lfs_stat(fs, vn, path, &st), 0);
	assert_int_equal(st.size, n);
	assert_int_equal(lfs_read(fs, vn, path, 0, buf, n + 100), (s64)n);
	assert_memory_equal(buf, data, n);
	free(buf);
}

/* ---------------------------------------------------------------------- */

static void test_format_mount(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(1024, &fs);
	struct lfs_stat st;
	struct lfs_statfs sf;
	struct lfs_check_stats cs;

	assert_int_equal(lfs_stat(fs, 0, "/", &st), 0);
	assert_true(LFS_S_ISDIR(st.mode));
	assert_int_equal(st.mode & 07777, 0755);
	assert_int_equal(st.mtime, 42);
	assert_int_equal(st.nlink, 2);
	assert_int_equal(lfs_statfs(fs, &sf), 0);
	assert_int_equal(sf.total_bytes, 1024ULL * 4096);
	assert_true(sf.free_blocks > 900 && sf.free_blocks < sf.data_blocks);
	assert_int_equal(sf.nvnodes, 1);
	assert_int_equal(sf.max_vnodes, 256);
	assert_int_equal(lfs_check(fs, &cs), 0);
	assert_int_equal(cs.vnodes, 1);
	assert_int_equal(cs.entries, 1);
	assert_int_equal(cs.inodes, 1);
	assert_true(lfs_vnode_exists(fs, 0));
	assert_false(lfs_vnode_exists(fs, 1));
	assert_false(lfs_is_readonly(fs));
	umnt(fs);
	fs = mnt(d);
	assert_int_equal(lfs_stat(fs, 0, "/", &st), 0);
	umnt(fs);
	md_del(d);
}

static void test_format_params(void **state)
{
	struct mdev *d = md_new(64);
	struct lfs_io io = md_io(d);
	struct lfs_format_params p = { 0 };
	const char *msg = NULL;

	p.nblocks = 65;
	assert_int_equal(lfs_format(&io, &env, &p, &msg), -EINVAL);
	assert_non_null(strstr(msg, "larger than the device"));
	p.nblocks = 63;
	assert_int_equal(lfs_format(&io, &env, &p, &msg), -EINVAL);
	p.nblocks = 0;
	p.max_vnodes = 70000;
	assert_int_equal(lfs_format(&io, &env, &p, &msg), -EINVAL);
	p.max_vnodes = 0;
	p.journal_blocks = 40;
	assert_int_equal(lfs_format(&io, &env, &p, &msg), -EINVAL);
	p.journal_blocks = 16;
	p.ninodes = 16;
	assert_int_equal(lfs_format(&io, &env, &p, &msg), 0);
	struct lfs_fs *fs = mnt(d);
	umnt(fs);
	md_del(d);
	assert_int_equal(live_allocs, 0);
}

static void test_paths(void **state)
{
	char longc[300], longp[1100];

	assert_int_equal(lfs_path_check("/", 1), 0);
	assert_int_equal(lfs_path_check("/a/b.c/..d", 10), 0);
	assert_int_equal(lfs_path_check("", 0), -EINVAL);
	assert_int_equal(lfs_path_check("a", 1), -EINVAL);
	assert_int_equal(lfs_path_check("/a/", 3), -EINVAL);
	assert_int_equal(lfs_path_check("//a", 3), -EINVAL);
	assert_int_equal(lfs_path_check("/a//b", 5), -EINVAL);
	assert_int_equal(lfs_path_check("/a/./b", 6), -EINVAL);
	assert_int_equal(lfs_path_check("/a/..", 5), -EINVAL);
	assert_int_equal(lfs_path_check("/.", 2), -EINVAL);
	assert_int_equal(lfs_path_check("/a\0b", 4), -EINVAL);
	assert_int_equal(lfs_path_check(NULL, 0), -EINVAL);
	memset(longc, 'x', sizeof(longc));
	longc[0] = '/';
	assert_int_equal(lfs_path_check(longc, 256), 0);
	assert_int_equal(lfs_path_check(longc, 257), -ENAMETOOLONG);
	for (int i = 0; i < 1100; i++)
		longp[i] = i % 100 == 0 ? '/' : 'y';
	assert_int_equal(lfs_path_check(longp, 1023), 0);
	assert_int_equal(lfs_path_check(longp, 1024), -ENAMETOOLONG);

	struct lfs_fs *fs;
	struct mdev *d = fresh(2048, &fs);
	struct lfs_stat st;
	longp[1024] = 0;
	assert_int_equal(lfs_stat(fs, 0, longp, &st), -ENAMETOOLONG);
	assert_int_equal(lfs_create(fs, 0, longp, 0644, 0), -ENAMETOOLONG);
	longc[257] = 0;
	assert_int_equal(lfs_mkdir(fs, 0, longc, 0755), -ENAMETOOLONG);
	assert_int_equal(lfs_create(fs, 0, "rel", 0644, 0), -EINVAL);
	assert_int_equal(lfs_create(fs, 0, "/a/", 0644, 0), -EINVAL);
	assert_int_equal(lfs_create(fs, 0, NULL, 0644, 0), -EINVAL);
	assert_int_equal(lfs_unlink(fs, 0, "/x/../y"), -EINVAL);
	/* Deep but legal. */
	char deep[1024];
	size_t n = 0;
	while (n + 4 < 1000) {
		memcpy(deep + n, "/dd", 3);
		n += 3;
		deep[n] = 0;
		assert_int_equal(lfs_mkdir(fs, 0, deep, 0755), 0);
	}
	assert_int_equal(lfs_stat(fs, 0, deep, &st), 0);
	umnt(fs);
	md_del(d);
}

static void test_file_basic(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(2048, &fs);
	u8 *a = malloc(300000), *b = malloc(300000);
	struct lfs_stat st;

	fill(a, 300000, 1);
	assert_int_equal(lfs_create(fs, 0, "/f", 0640, LFS_O_EXCL), 0);
	assert_int_equal(lfs_stat(fs, 0, "/f", &st), 0);
	assert_true(LFS_S_ISREG(st.mode));
	assert_int_equal(st.mode & 07777, 0640);
	assert_int_equal(st.size, 0);
	assert_int_equal(lfs_read(fs, 0, "/f", 0, b, 10), 0);
	/* unaligned pieces */
	assert_int_equal(lfs_write(fs, 0, "/f", 0, a, 100), 100);
	assert_int_equal(lfs_write(fs, 0, "/f", 100, a + 100, 5000), 5000);
	assert_int_equal(lfs_write(fs, 0, "/f", 5100, a + 5100, 294900), 294900);
	expect_file(fs, 0, "/f", a, 300000);
	assert_int_equal(lfs_read(fs, 0, "/f", 299990, b, 100), 10);
	assert_memory_equal(b, a + 299990, 10);
	assert_int_equal(lfs_read(fs, 0, "/f", 300000, b, 100), 0);
	assert_int_equal(lfs_read(fs, 0, "/f", ~0ULL, b, 100), 0);
	/* overwrite in the middle after a sync: copy-on-write */
	assert_int_equal(lfs_fsync(fs, 0, "/f"), 0);
	fill(a + 4000, 10000, 9);
	assert_int_equal(lfs_write(fs, 0, "/f", 4000, a + 4000, 10000), 10000);
	expect_file(fs, 0, "/f", a, 300000);
	check_ok(fs);
	/* sparse: a hole reads as zeros */
	assert_int_equal(lfs_create(fs, 0, "/s", 0600, 0), 0);
	assert_int_equal(lfs_write(fs, 0, "/s", 1000000, "end", 3), 3);
	assert_int_equal(lfs_stat(fs, 0, "/s", &st), 0);
	assert_int_equal(st.size, 1000003);
	assert_int_equal(st.blocks, 1);
	memset(b, 1, 5000);
	assert_int_equal(lfs_read(fs, 0, "/s", 5000, b, 5000), 5000);
	for (int i = 0; i < 5000; i++)
		assert_int_equal(b[i], 0);
	assert_int_equal(lfs_read(fs, 0, "/s", 1000000, b, 10), 3);
	assert_memory_equal(b, "end", 3);
	/* truncation: shrink then grow, the tail reads zero */
	assert_int_equal(lfs_truncate(fs, 0, "/f", 5), 0);
	assert_int_equal(lfs_truncate(fs, 0, "/f", 8192 + 7), 0);
	assert_int_equal(lfs_read(fs, 0, "/f", 0, b, 9000), 8199);
	assert_memory_equal(b, a, 5);
	for (int i = 5; i < 8199; i++)
		assert_int_equal(b[i], 0);
	/* grow by writing past EOF inside the same block */
	assert_int_equal(lfs_truncate(fs, 0, "/f", 3), 0);
	assert_int_equal(lfs_write(fs, 0, "/f", 10, "xy", 2), 2);
	assert_int_equal(lfs_read(fs, 0, "/f", 0, b, 100), 12);
	assert_memory_equal(b, a, 3);
	for (int i = 3; i < 10; i++)
		assert_int_equal(b[i], 0);
	assert_memory_equal(b + 10, "xy", 2);
	/* O_TRUNC and existing files */
	assert_int_equal(lfs_create(fs, 0, "/f", 0644, 0), 0);
	assert_int_equal(lfs_stat(fs, 0, "/f", &st), 0);
	assert_int_equal(st.size, 12);
	assert_int_equal(lfs_create(fs, 0, "/f", 0644, LFS_O_TRUNC), 0);
	assert_int_equal(lfs_stat(fs, 0, "/f", &st), 0);
	assert_int_equal(st.size, 0);
	assert_int_equal(st.blocks, 0);
	assert_int_equal(lfs_create(fs, 0, "/f", 0644, LFS_O_EXCL), -EEXIST);
	assert_int_equal(lfs_write(fs, 0, "/f", 0, a, 0), 0);
	umnt(fs);
	fs = mnt(d);
	assert_int_equal(lfs_stat(fs, 0, "/s", &st), 0);
	assert_int_equal(st.size, 1000003);
	assert_int_equal(lfs_read(fs, 0, "/s", 999999, b, 10), 4);
	assert_memory_equal(b, "\0end", 4);
	umnt(fs);
	free(a);
	free(b);
	md_del(d);
}

static void test_big_file(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(4096, &fs);
	size_t n = 5 * 1024 * 1024 + 12345;
	u8 *a = malloc(n), *b = malloc(n);
	struct lfs_stat st;

	fill(a, n, 5);
	assert_int_equal(lfs_create(fs, 0, "/big", 0644, 0), 0);
	assert_int_equal(lfs_write(fs, 0, "/big", 0, a, n), (s64)n);
	expect_file(fs, 0, "/big", a, n);
	assert_int_equal(lfs_stat(fs, 0, "/big", &st), 0);
	assert_true(st.blocks >= DIV_ROUND_UP(n, 4096));
	umnt(fs);
	fs = mnt(d);
	expect_file(fs, 0, "/big", a, n);
	/* many scattered overwrites: the extent tree grows and splits */
	for (int i = 0; i < 700; i++) {
		u64 off = ((u64)i * 7919 * 4096) % n;
		u32 len = 1 + (i * 37) % 6000;
		if (off + len > n)
			len = (u32)(n - off);
		fill(a + off, len, 100 + i);
		assert_int_equal(lfs_write(fs, 0, "/big", off, a + off, len), len);
		if (i % 50 == 0)
			assert_int_equal(lfs_sync(fs), 0);
	}
	expect_file(fs, 0, "/big", a, n);
	check_ok(fs);
	/* punch the middle off by truncation, then regrow */
	assert_int_equal(lfs_truncate(fs, 0, "/big", 3 * 1024 * 1024 + 5), 0);
	assert_int_equal(lfs_write(fs, 0, "/big", 3 * 1024 * 1024 + 5, a + 3 * 1024 * 1024 + 5,
				   1024 * 1024), 1024 * 1024);
	expect_file(fs, 0, "/big", a, 4 * 1024 * 1024 + 5);
	check_ok(fs);
	umnt(fs);
	fs = mnt(d);
	expect_file(fs, 0, "/big", a, 4 * 1024 * 1024 + 5);
	assert_int_equal(lfs_unlink(fs, 0, "/big"), 0);
	umnt(fs);
	free(a);
	free(b);
	md_del(d);
}

static u32 tree_depth(struct lfs_fs *fs, u32 vn, const char *path)
{
	struct lfs_stat st;
	struct lfs_buf *b;
	struct lfs_inode *ip;

	assert_int_equal(lfs_stat(fs, vn, path, &st), 0);
	assert_int_equal(lfs_inode_get(fs, st.ino, &b, &ip), 0);
	u32 dpt = ip->depth;
	lfs_bput(fs, b);
	return dpt;
}

/* An extent tree of depth >= 2: out-of-order inserts (splits anywhere),
 * punches, copy-on-write replacements, hole filling, freeing. */
static void test_extent_tree(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(12000, &fs);
	enum { N = 2600 };
	u32 *perm = malloc(N * sizeof(u32));
	u64 size = (u64)2 * N * 4096;
	u8 *exp = calloc(1, size), *got = malloc(size), blk[4096];
	u64 seed = 99;

	for (u32 i = 0; i < N; i++)
		perm[i] = i;
	for (u32 i = N - 1; i > 0; i--) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		u32 j = (u32)((seed >> 33) % (i + 1)), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	assert_int_equal(lfs_create(fs, 0, "/t", 0644, 0), 0);
	assert_int_equal(lfs_truncate(fs, 0, "/t", size), 0);
	for (u32 i = 0; i < N; i++) {
		u64 off = (u64)perm[i] * 2 * 4096;
		fill(blk, 4096, perm[i]);
		memcpy(exp + off, blk, 4096);
		assert_int_equal(lfs_write(fs, 0, "/t", off, blk, 4096), 4096);
	}
	assert_true(tree_depth(fs, 0, "/t") >= 2);
	assert_int_equal(lfs_read(fs, 0, "/t", 0, got, size), (s64)size);
	assert_memory_equal(got, exp, size);
	check_ok(fs);
	assert_int_equal(lfs_sync(fs), 0);
	/* replace every third block (copy-on-write: remove + insert) */
	for (u32 i = 0; i < N; i += 3) {
		u64 off = (u64)perm[i] * 2 * 4096 + 100;
		fill(blk, 3000, i + 7);
		memcpy(exp + off, blk, 3000);
		assert_int_equal(lfs_write(fs, 0, "/t", off, blk, 3000), 3000);
	}
	/* fill some holes */
	for (u32 i = 0; i < N; i += 5) {
		u64 off = ((u64)perm[i] * 2 + 1) * 4096;
		fill(blk, 4096, i + 11);
		memcpy(exp + off, blk, 4096);
		assert_int_equal(lfs_write(fs, 0, "/t", off, blk, 4096), 4096);
	}
	check_ok(fs);
	assert_int_equal(lfs_read(fs, 0, "/t", 0, got, size), (s64)size);
	assert_memory_equal(got, exp, size);
	/* punch the upper part, regrow as a hole */
	assert_int_equal(lfs_truncate(fs, 0, "/t", size / 3 + 123), 0);
	assert_int_equal(lfs_truncate(fs, 0, "/t", size), 0);
	memset(exp + size / 3 + 123, 0, size - size / 3 - 123);
	check_ok(fs);
	assert_int_equal(lfs_read(fs, 0, "/t", 0, got, size), (s64)size);
	assert_memory_equal(got, exp, size);
	umnt(fs);
	fs = mnt(d);
	assert_int_equal(lfs_read(fs, 0, "/t", 0, got, size), (s64)size);
	assert_memory_equal(got, exp, size);
	/* a copy for another vNode walks the whole tree */
	assert_int_equal(lfs_vnode_create(fs, 4), 0);
	assert_int_equal(lfs_write(fs, 4, "/t", 0, "Q", 1), 1);
	assert_int_equal(lfs_read(fs, 4, "/t", 1, got, size - 1), (s64)size - 1);
	assert_memory_equal(got, exp + 1, size - 1);
	assert_int_equal(lfs_vnode_remove(fs, 4), 0);
	struct lfs_statfs s0, s1;
	assert_int_equal(lfs_sync(fs), 0);
	assert_int_equal(lfs_statfs(fs, &s0), 0);
	assert_int_equal(lfs_unlink(fs, 0, "/t"), 0);
	assert_int_equal(lfs_sync(fs), 0);
	assert_int_equal(lfs_statfs(fs, &s1), 0);
	assert_true(s1.free_blocks > s0.free_blocks + N / 3);
	umnt(fs);
	free(perm);
	free(exp);
	free(got);
	md_del(d);
}

/* A transaction of more than one journal descriptor (> 253 blocks),
 * committed but not checkpointed, is replayed. */
static void test_big_transaction(void **state)
{
	struct mdev *d = md_new(16384);
	char p[300];
	char name[256];

	do_format(d, 6000, 0);
	struct lfs_fs *fs = mnt(d);
	assert_int_equal(lfs_mkdir(fs, 0, "/d", 0755), 0);
	memset(name, 'x', 240);
	name[240] = 0;
	for (int i = 0; i < 3500; i++) {
		snprintf(p, sizeof(p), "/d/%05d%s", i, name);
		assert_int_equal(lfs_create(fs, 0, p, 0644, 0), 0);
	}
	assert_int_equal(lfs_sync(fs), 0);
	struct lfs_super sb;
	memcpy(&sb, d->img, sizeof(sb));
	u8 *before = malloc(16384 * 4096);
	memcpy(before, d->img, 16384 * 4096);
	assert_int_equal(lfs_vnode_create(fs, 1), 0);
	assert_int_equal(lfs_sync(fs), 0);
	struct lfs_jdesc jd;
	memcpy(&jd, d->img + sb.journal_start * 4096, sizeof(jd));
	assert_true(jd.ndesc >= 2);
	assert_true(jd.nimages > LFS_JD_PER_BLOCK);
	u8 *after = malloc(16384 * 4096);
	memcpy(after, d->img, 16384 * 4096);
	assert_int_equal(lfs_unmount(fs), 0);
	memcpy(d->img, before, 16384 * 4096);
	memcpy(d->img + sb.journal_start * 4096, after + sb.journal_start * 4096,
	       (size_t)sb.journal_blocks * 4096);
	fs = mnt(d);
	struct lfs_stat st;
	snprintf(p, sizeof(p), "/d/%05d%s", 1234, name);
	assert_int_equal(lfs_stat(fs, 1, p, &st), 0);
	umnt(fs);
	/* a valid first descriptor of another transaction (here: the same one
	 * with a changed unused field) does not chain with the second */
	memcpy(d->img, before, 16384 * 4096);
	memcpy(d->img + sb.journal_start * 4096, after + sb.journal_start * 4096,
	       (size_t)sb.journal_blocks * 4096);
	struct lfs_jdesc *j0 = (struct lfs_jdesc *)(d->img + sb.journal_start * 4096);
	j0->reserved = 1;
	j0->crc = 0;
	j0->crc = lfs_crc32c(0, j0, 4096);
	fs = mnt(d);
	assert_false(lfs_vnode_exists(fs, 1));
	umnt(fs);
	/* the second descriptor damaged: not replayed */
	memcpy(d->img, before, 16384 * 4096);
	memcpy(d->img + sb.journal_start * 4096, after + sb.journal_start * 4096,
	       (size_t)sb.journal_blocks * 4096);
	d->img[(sb.journal_start + 1) * 4096 + 100] ^= 1;
	fs = mnt(d);
	assert_false(lfs_vnode_exists(fs, 1));
	assert_int_equal(lfs_stat(fs, 0, p, &st), 0);
	umnt(fs);
	free(before);
	free(after);
	md_del(d);
}

static void test_errors(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(1024, &fs);
	struct lfs_stat st;
	char buf[64];
	u64 off;

	assert_int_equal(lfs_mkdir(fs, 0, "/d", 0755), 0);
	assert_int_equal(lfs_create(fs, 0, "/d/f", 0644, 0), 0);
	assert_int_equal(lfs_symlink(fs, 0, "/d/f", "/l"), 0);
	/* ENOENT / ENOTDIR */
	assert_int_equal(lfs_stat(fs, 0, "/nope", &st), -ENOENT);
	assert_int_equal(lfs_stat(fs, 0, "/nope/x", &st), -ENOENT);
	assert_int_equal(lfs_stat(fs, 0, "/d/f/x", &st), -ENOTDIR);
	assert_int_equal(lfs_stat(fs, 0, "/d/f/x/y", &st), -ENOTDIR);
	assert_int_equal(lfs_stat(fs, 0, "/l/x", &st), -ENOTDIR);
	assert_int_equal(lfs_create(fs, 0, "/nope/f", 0644, 0), -ENOENT);
	assert_int_equal(lfs_create(fs, 0, "/d/f/g", 0644, 0), -ENOTDIR);
	assert_int_equal(lfs_mkdir(fs, 0, "/nope/d", 0755), -ENOENT);
	assert_int_equal(lfs_mkdir(fs, 0, "/d/f/d", 0755), -ENOTDIR);
	assert_int_equal(lfs_symlink(fs, 0, "x", "/nope/l"), -ENOENT);
	assert_int_equal(lfs_read(fs, 0, "/nope", 0, buf, 1), -ENOENT);
	assert_int_equal(lfs_write(fs, 0, "/nope", 0, buf, 1), -ENOENT);
	assert_int_equal(lfs_truncate(fs, 0, "/nope", 0), -ENOENT);
	assert_int_equal(lfs_unlink(fs, 0, "/nope"), -ENOENT);
	assert_int_equal(lfs_rmdir(fs, 0, "/nope"), -ENOENT);
	assert_int_equal(lfs_rename(fs, 0, "/nope", "/x"), -ENOENT);
	assert_int_equal(lfs_rename(fs, 0, "/d/f", "/nope/x"), -ENOENT);
	assert_int_equal(lfs_rename(fs, 0, "/d/f", "/d/f/x"), -ENOTDIR);
	assert_int_equal(lfs_readlink(fs, 0, "/nope", buf, 64), -ENOENT);
	assert_int_equal(lfs_append(fs, 0, "/nope", "x", 1, 0, &off), -ENOENT);
	assert_int_equal(lfs_fsync(fs, 0, "/nope"), -ENOENT);
	u64 nc;
	struct lfs_dirent de[4];
	assert_int_equal(lfs_readdir(fs, 0, "/nope", 0, de, 4, &nc), -ENOENT);
	assert_int_equal(lfs_readdir(fs, 0, "/d/f", 0, de, 4, &nc), -ENOTDIR);
	assert_int_equal(lfs_readdir(fs, 0, "/d", 0, de, 0, &nc), -EINVAL);
	struct lfs_attr at = { .mask = LFS_ATTR_MODE, .mode = 0600 };
	assert_int_equal(lfs_setattr(fs, 0, "/nope", &at), -ENOENT);
	at.mask = 0x100;
	assert_int_equal(lfs_setattr(fs, 0, "/d/f", &at), -EINVAL);
	/* EEXIST / EISDIR / EINVAL by type */
	assert_int_equal(lfs_mkdir(fs, 0, "/d", 0755), -EEXIST);
	assert_int_equal(lfs_mkdir(fs, 0, "/d/f", 0755), -EEXIST);
	assert_int_equal(lfs_mkdir(fs, 0, "/", 0755), -EEXIST);
	assert_int_equal(lfs_symlink(fs, 0, "t", "/d"), -EEXIST);
	assert_int_equal(lfs_create(fs, 0, "/d", 0644, 0), -EISDIR);
	assert_int_equal(lfs_create(fs, 0, "/", 0644, 0), -EISDIR);
	assert_int_equal(lfs_create(fs, 0, "/", 0644, LFS_O_EXCL), -EEXIST);
	assert_int_equal(lfs_create(fs, 0, "/l", 0644, 0), -EEXIST);
	assert_int_equal(lfs_create(fs, 0, "/x", 0644, 0x80), -EINVAL);
	assert_int_equal(lfs_read(fs, 0, "/d", 0, buf, 1), -EISDIR);
	assert_int_equal(lfs_write(fs, 0, "/d", 0, buf, 1), -EISDIR);
	assert_int_equal(lfs_write(fs, 0, "/d", 0, buf, 0), -EISDIR);
	assert_int_equal(lfs_truncate(fs, 0, "/d", 0), -EISDIR);
	assert_int_equal(lfs_append(fs, 0, "/d", "x", 1, 0, &off), -EISDIR);
	assert_int_equal(lfs_read(fs, 0, "/l", 0, buf, 1), -EINVAL);
	assert_int_equal(lfs_write(fs, 0, "/l", 0, buf, 1), -EINVAL);
	assert_int_equal(lfs_truncate(fs, 0, "/l", 0), -EINVAL);
	assert_int_equal(lfs_readlink(fs, 0, "/d/f", buf, 64), -EINVAL);
	assert_int_equal(lfs_readlink(fs, 0, "/d", buf, 64), -EINVAL);
	assert_int_equal(lfs_unlink(fs, 0, "/d"), -EISDIR);
	assert_int_equal(lfs_unlink(fs, 0, "/"), -EISDIR);
	assert_int_equal(lfs_rmdir(fs, 0, "/d/f"), -ENOTDIR);
	assert_int_equal(lfs_rmdir(fs, 0, "/l"), -ENOTDIR);
	assert_int_equal(lfs_rmdir(fs, 0, "/d"), -ENOTEMPTY);
	assert_int_equal(lfs_rmdir(fs, 0, "/"), -EBUSY);
	assert_int_equal(lfs_rename(fs, 0, "/", "/x"), -EBUSY);
	assert_int_equal(lfs_rename(fs, 0, "/d", "/"), -EBUSY);
	assert_int_equal(lfs_rename(fs, 0, "/d", "/d/x"), -EINVAL);
	assert_int_equal(lfs_mkdir(fs, 0, "/e", 0755), 0);
	assert_int_equal(lfs_rename(fs, 0, "/d/f", "/e"), -EISDIR);
	assert_int_equal(lfs_rename(fs, 0, "/e", "/d/f"), -ENOTDIR);
	assert_int_equal(lfs_rename(fs, 0, "/e", "/l"), -ENOTDIR);
	assert_int_equal(lfs_rename(fs, 0, "/e", "/d"), -ENOTEMPTY);
	assert_int_equal(lfs_rename(fs, 0, "/d/f", "/d/f"), 0);
	/* limits */
	assert_int_equal(lfs_write(fs, 0, "/d/f", LFS_MAX_FILE_SIZE, buf, 1), -EFBIG);
	assert_int_equal(lfs_write(fs, 0, "/d/f", ~0ULL, buf, 1), -EFBIG);
	assert_int_equal(lfs_write(fs, 0, "/d/f", LFS_MAX_FILE_SIZE - 2, "abcd", 4), 2);
	assert_int_equal(lfs_stat(fs, 0, "/d/f", &st), 0);
	assert_int_equal(st.size, LFS_MAX_FILE_SIZE);
	assert_int_equal(lfs_append(fs, 0, "/d/f", "x", 1, 0, &off), -EFBIG);
	assert_int_equal(lfs_truncate(fs, 0, "/d/f", LFS_MAX_FILE_SIZE + 1), -EFBIG);
	assert_int_equal(lfs_truncate(fs, 0, "/d/f", 0), 0);
	assert_int_equal(lfs_append(fs, 0, "/d/f", buf, LFS_APPEND_MAX + 1, 0, &off), -EINVAL);
	assert_int_equal(lfs_append(fs, 0, "/d/f", buf, 1, 0x10, &off), -EINVAL);
	char tgt[LFS_PATH_MAX + 1];
	memset(tgt, 'a', sizeof(tgt));
	tgt[LFS_PATH_MAX] = 0;
	assert_int_equal(lfs_symlink(fs, 0, tgt, "/l2"), -ENAMETOOLONG);
	assert_int_equal(lfs_symlink(fs, 0, "", "/l2"), -ENOENT);
	assert_int_equal(lfs_symlink(fs, 0, NULL, "/l2"), -EINVAL);
	tgt[LFS_PATH_MAX - 1] = 0;
	assert_int_equal(lfs_symlink(fs, 0, tgt, "/l2"), 0);
	char *rb = malloc(LFS_PATH_MAX);
	assert_int_equal(lfs_readlink(fs, 0, "/l2", rb, LFS_PATH_MAX), LFS_PATH_MAX - 1);
	assert_memory_equal(rb, tgt, LFS_PATH_MAX - 1);
	assert_int_equal(rb[LFS_PATH_MAX - 1], 0);
	free(rb);
	/* vNodes */
	assert_int_equal(lfs_stat(fs, 7, "/", &st), -ESTALE);
	assert_int_equal(lfs_create(fs, 7, "/x", 0644, 0), -ESTALE);
	assert_int_equal(lfs_read(fs, 7, "/x", 0, buf, 1), -ESTALE);
	assert_int_equal(lfs_fsync(fs, 7, NULL), -ESTALE);
	assert_int_equal(lfs_vnode_remove(fs, 7), -ESTALE);
	assert_int_equal(lfs_vnode_remove(fs, 0), -EBUSY);
	assert_int_equal(lfs_vnode_create(fs, 0), -EEXIST);
	assert_int_equal(lfs_vnode_create(fs, 0xffffffffu), -EINVAL);
	assert_int_equal(lfs_vnode_create(fs, 7), 0);
	assert_int_equal(lfs_vnode_create(fs, 7), -EEXIST);
	assert_int_equal(lfs_fsync(fs, 7, NULL), 0);
	umnt(fs);
	md_del(d);
}

static void test_dirs_and_rename(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(8192, &fs);
	struct lfs_stat st;
	char p[128];

	assert_int_equal(lfs_mkdir(fs, 0, "/a", 0700), 0);
	assert_int_equal(lfs_mkdir(fs, 0, "/a/b", 0755), 0);
	assert_int_equal(lfs_mkdir(fs, 0, "/a/b/c", 0755), 0);
	put_file(fs, 0, "/a/b/c/f1", "one", 3);
	put_file(fs, 0, "/a/f2", "two", 3);
	assert_int_equal(lfs_symlink(fs, 0, "f2", "/a/b/ln"), 0);
	assert_int_equal(lfs_stat(fs, 0, "/a", &st), 0);
	assert_int_equal(st.nchild, 2);
	assert_int_equal(st.nlink, 3);
	assert_int_equal(st.mode & 07777, 0700);
	/* rename a file across directories */
	assert_int_equal(lfs_rename(fs, 0, "/a/f2", "/a/b/c/f2"), 0);
	assert_int_equal(lfs_stat(fs, 0, "/a/f2", &st), -ENOENT);
	expect_file(fs, 0, "/a/b/c/f2", "two", 3);
	/* replace a file */
	put_file(fs, 0, "/g", "gee", 3);
	assert_int_equal(lfs_rename(fs, 0, "/g", "/a/b/c/f1"), 0);
	expect_file(fs, 0, "/a/b/c/f1", "gee", 3);
	assert_int_equal(lfs_stat(fs, 0, "/g", &st), -ENOENT);
	/* a directory with everything below it */
	assert_int_equal(lfs_rename(fs, 0, "/a/b", "/z"), 0);
	assert_int_equal(lfs_stat(fs, 0, "/a/b", &st), -ENOENT);
	assert_int_equal(lfs_stat(fs, 0, "/a/b/c/f1", &st), -ENOENT);
	expect_file(fs, 0, "/z/c/f1", "gee", 3);
	expect_file(fs, 0, "/z/c/f2", "two", 3);
	char lb[16];
	assert_int_equal(lfs_readlink(fs, 0, "/z/ln", lb, sizeof(lb)), 2);
	assert_string_equal(lb, "f2");
	assert_int_equal(lfs_stat(fs, 0, "/a", &st), 0);
	assert_int_equal(st.nchild, 0);
	assert_int_equal(st.nlink, 2);
	/* a directory onto an empty directory */
	assert_int_equal(lfs_rename(fs, 0, "/z", "/a"), 0);
	expect_file(fs, 0, "/a/c/f2", "two", 3);
	assert_int_equal(lfs_stat(fs, 0, "/z", &st), -ENOENT);
	/* a prefix that is not a parent is not moved */
	assert_int_equal(lfs_mkdir(fs, 0, "/ab", 0755), 0);
	put_file(fs, 0, "/ab/x", "x", 1);
	assert_int_equal(lfs_rename(fs, 0, "/a", "/q"), 0);
	expect_file(fs, 0, "/ab/x", "x", 1);
	expect_file(fs, 0, "/q/c/f1", "gee", 3);
	check_ok(fs);
	/* a big directory: several move batches, table splits */
	assert_int_equal(lfs_mkdir(fs, 0, "/big", 0755), 0);
	for (int i = 0; i < 1500; i++) {
		snprintf(p, sizeof(p), "/big/some-longish-file-name-number-%05d", i);
		assert_int_equal(lfs_create(fs, 0, p, 0644, 0), 0);
		if (i % 100 == 0) {
			snprintf(p, sizeof(p), "/big/sub%d", i);
			assert_int_equal(lfs_mkdir(fs, 0, p, 0755), 0);
			snprintf(p, sizeof(p), "/big/sub%d/inner", i);
			put_file(fs, 0, p, p, strlen(p));
		}
	}
	assert_int_equal(lfs_rename(fs, 0, "/big", "/moved"), 0);
	for (int i = 0; i < 1500; i += 7) {
		snprintf(p, sizeof(p), "/moved/some-longish-file-name-number-%05d", i);
		assert_int_equal(lfs_stat(fs, 0, p, &st), 0);
		snprintf(p, sizeof(p), "/big/some-longish-file-name-number-%05d", i);
		assert_int_equal(lfs_stat(fs, 0, p, &st), -ENOENT);
	}
	snprintf(p, sizeof(p), "/big/sub%d/inner", 700);
	char q[128];
	snprintf(q, sizeof(q), "/moved/sub%d/inner", 700);
	expect_file(fs, 0, q, p, strlen(p));
	assert_int_equal(lfs_stat(fs, 0, "/moved", &st), 0);
	assert_int_equal(st.nchild, 1515);
	assert_int_equal(st.nlink, 17);
	check_ok(fs);
	/* ENAMETOOLONG when a moved path would get too long */
	char lp[1024], nm[300];
	memset(nm, 'n', 255);
	nm[255] = 0;
	snprintf(lp, sizeof(lp), "/moved/%s", nm);
	assert_int_equal(lfs_mkdir(fs, 0, lp, 0755), 0);
	snprintf(lp, sizeof(lp), "/moved/%s/%s", nm, nm);
	assert_int_equal(lfs_mkdir(fs, 0, lp, 0755), 0);
	snprintf(lp, sizeof(lp), "/moved/%s/%s/%s", nm, nm, nm);	/* 774 bytes */
	assert_int_equal(lfs_mkdir(fs, 0, lp, 0755), 0);
	assert_int_equal(lfs_mkdir(fs, 0, "/k", 0755), 0);
	memset(nm, 'k', 255);
	snprintf(lp, sizeof(lp), "/k/%s", nm);
	assert_int_equal(lfs_rename(fs, 0, "/moved", lp), -ENAMETOOLONG);
	assert_int_equal(lfs_stat(fs, 0, "/moved", &st), 0);
	check_ok(fs);
	/* rmdir */
	assert_int_equal(lfs_mkdir(fs, 0, "/empty", 0755), 0);
	assert_int_equal(lfs_rmdir(fs, 0, "/empty"), 0);
	assert_int_equal(lfs_stat(fs, 0, "/empty", &st), -ENOENT);
	umnt(fs);
	fs = mnt(d);
	expect_file(fs, 0, q, p, strlen(p));
	umnt(fs);
	md_del(d);
}

static void test_readdir_paging(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(4096, &fs);
	char p[64];
	int seen[400] = { 0 };
	struct lfs_dirent de[7];
	u64 cookie = 0, next;
	int total = 0, n;

	assert_int_equal(lfs_mkdir(fs, 0, "/d", 0755), 0);
	assert_int_equal(lfs_mkdir(fs, 0, "/other", 0755), 0);
	for (int i = 0; i < 400; i++) {
		snprintf(p, sizeof(p), i % 10 ? "/d/e%d" : "/d/e%d", i);
		if (i % 10 == 3)
			assert_int_equal(lfs_mkdir(fs, 0, p, 0755), 0);
		else
			assert_int_equal(lfs_create(fs, 0, p, 0644, 0), 0);
		snprintf(p, sizeof(p), "/other/e%d", i);
		if (i < 50)
			assert_int_equal(lfs_create(fs, 0, p, 0644, 0), 0);
	}
	assert_int_equal(lfs_mkdir(fs, 0, "/d/e3/deeper", 0755), 0);
	while ((n = lfs_readdir(fs, 0, "/d", cookie, de, 7, &next)) > 0) {
		for (int i = 0; i < n; i++) {
			int k;
			assert_int_equal(sscanf(de[i].name, "e%d", &k), 1);
			assert_true(k >= 0 && k < 400);
			seen[k]++;
			assert_int_equal(de[i].type, k % 10 == 3 ? LFS_DT_DIR : LFS_DT_REG);
			if (i)
				assert_true(de[i].cookie > de[i - 1].cookie);
		}
		assert_true(next > cookie);
		cookie = next;
		total += n;
	}
	assert_int_equal(n, 0);
	assert_int_equal(total, 400);
	for (int i = 0; i < 400; i++)
		assert_int_equal(seen[i], 1);
	/* resume from an entry's own cookie */
	n = lfs_readdir(fs, 0, "/d", 0, de, 7, &next);
	assert_int_equal(n, 7);
	struct lfs_dirent de2[3];
	assert_int_equal(lfs_readdir(fs, 0, "/d", de[3].cookie, de2, 3, &next), 3);
	assert_string_equal(de2[0].name, de[4].name);
	/* root */
	total = 0;
	cookie = 0;
	while ((n = lfs_readdir(fs, 0, "/", cookie, de, 7, &cookie)) > 0)
		total += n;
	assert_int_equal(total, 2);
	/* empty */
	assert_int_equal(lfs_readdir(fs, 0, "/d/e3/deeper", 0, de, 7, &next), 0);
	umnt(fs);
	md_del(d);
}

static void test_vnodes_cow(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(4096, &fs);
	u8 *a = malloc(200000), *b = malloc(200000);
	struct lfs_statfs s0, s1;
	struct lfs_stat st0, st1;
	u32 ids[8];

	fill(a, 200000, 3);
	assert_int_equal(lfs_mkdir(fs, 0, "/bin", 0755), 0);
	put_file(fs, 0, "/bin/prog", a, 200000);
	put_file(fs, 0, "/etc", "base", 4);
	assert_int_equal(lfs_symlink(fs, 0, "/bin/prog", "/prog"), 0);
	assert_int_equal(lfs_sync(fs), 0);
	assert_int_equal(lfs_statfs(fs, &s0), 0);
	/* creating a vNode copies no data */
	assert_int_equal(lfs_vnode_create(fs, 1), 0);
	assert_int_equal(lfs_vnode_create(fs, 2), 0);
	assert_int_equal(lfs_statfs(fs, &s1), 0);
	assert_true(s0.free_blocks - s1.free_blocks < 20);
	assert_int_equal(s1.nvnodes, 3);
	assert_int_equal(lfs_vnode_list(fs, ids, 8), 3);
	assert_int_equal(ids[0], 0);
	assert_int_equal(ids[1], 1);
	assert_int_equal(ids[2], 2);
	assert_int_equal(lfs_stat(fs, 0, "/bin/prog", &st0), 0);
	assert_int_equal(lfs_stat(fs, 1, "/bin/prog", &st1), 0);
	assert_int_equal(st0.ino, st1.ino);
	expect_file(fs, 1, "/bin/prog", a, 200000);
	check_ok(fs);
	/* a write in vNode 1 copies the file for vNode 1 only */
	assert_int_equal(lfs_write(fs, 1, "/bin/prog", 5, "XYZ", 3), 3);
	memcpy(b, a, 200000);
	memcpy(b + 5, "XYZ", 3);
	expect_file(fs, 1, "/bin/prog", b, 200000);
	expect_file(fs, 0, "/bin/prog", a, 200000);
	expect_file(fs, 2, "/bin/prog", a, 200000);
	assert_int_equal(lfs_stat(fs, 1, "/bin/prog", &st1), 0);
	assert_true(st0.ino != st1.ino);
	/* and the base changing its file does not leak into vNode 2 */
	put_file(fs, 0, "/etc", "changed", 7);
	expect_file(fs, 2, "/etc", "base", 4);
	expect_file(fs, 1, "/etc", "base", 4);
	/* namespaces are separate */
	put_file(fs, 2, "/only2", "2", 1);
	assert_int_equal(lfs_stat(fs, 1, "/only2", &st1), -ENOENT);
	assert_int_equal(lfs_stat(fs, 0, "/only2", &st1), -ENOENT);
	assert_int_equal(lfs_unlink(fs, 1, "/etc"), 0);
	expect_file(fs, 2, "/etc", "base", 4);
	assert_int_equal(lfs_rename(fs, 2, "/bin", "/sbin"), 0);
	assert_int_equal(lfs_stat(fs, 0, "/bin/prog", &st1), 0);
	assert_int_equal(lfs_stat(fs, 1, "/bin/prog", &st1), 0);
	expect_file(fs, 2, "/sbin/prog", a, 200000);
	/* chmod of a shared file */
	struct lfs_attr at = { .mask = LFS_ATTR_MODE | LFS_ATTR_UID | LFS_ATTR_MTIME,
			       .mode = 0700, .uid = 5, .mtime = 77 };
	assert_int_equal(lfs_setattr(fs, 2, "/prog", &at), 0);
	assert_int_equal(lfs_stat(fs, 2, "/prog", &st1), 0);
	assert_int_equal(st1.mode, LFS_S_IFLNK | 0700);
	assert_int_equal(st1.uid, 5);
	assert_int_equal(st1.mtime, 77);
	assert_int_equal(lfs_stat(fs, 0, "/prog", &st1), 0);
	assert_int_equal(st1.mode, LFS_S_IFLNK | 0777);
	char lb[32];
	assert_int_equal(lfs_readlink(fs, 2, "/prog", lb, sizeof(lb)), 9);
	assert_string_equal(lb, "/bin/prog");
	/* truncation of a shared file to 0 copies nothing */
	assert_int_equal(lfs_vnode_create(fs, 3), 0);
	assert_int_equal(lfs_statfs(fs, &s0), 0);
	assert_int_equal(lfs_create(fs, 3, "/bin/prog", 0644, LFS_O_TRUNC), 0);
	assert_int_equal(lfs_statfs(fs, &s1), 0);
	assert_true(s0.free_blocks - s1.free_blocks < 10);
	expect_file(fs, 0, "/bin/prog", a, 200000);
	check_ok(fs);
	umnt(fs);
	fs = mnt(d);
	expect_file(fs, 1, "/bin/prog", b, 200000);
	expect_file(fs, 2, "/sbin/prog", a, 200000);
	/* removal gives the space back */
	assert_int_equal(lfs_vnode_remove(fs, 1), 0);
	assert_int_equal(lfs_vnode_remove(fs, 2), 0);
	assert_int_equal(lfs_vnode_remove(fs, 3), 0);
	assert_int_equal(lfs_sync(fs), 0);
	assert_false(lfs_vnode_exists(fs, 1));
	expect_file(fs, 0, "/bin/prog", a, 200000);
	struct lfs_check_stats cs;
	assert_int_equal(lfs_check(fs, &cs), 0);
	assert_int_equal(cs.vnodes, 1);
	assert_int_equal(cs.entries, 5);
	assert_int_equal(cs.inodes, 5);
	/* a vNode created now starts from the changed base */
	assert_int_equal(lfs_vnode_create(fs, 9), 0);
	expect_file(fs, 9, "/etc", "changed", 7);
	umnt(fs);
	free(a);
	free(b);
	md_del(d);
}

static void test_append(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(2048, &fs);
	u8 *exp = malloc(1 << 20), *rec = malloc(70000);
	u64 off, total = 0;

	assert_int_equal(lfs_append(fs, 0, "/log", "x", 1, 0, &off), -ENOENT);
	for (int i = 0; i < 60; i++) {
		u32 n = 1 + (u32)(i * 997) % 12000;
		fill(rec, n, i);
		assert_int_equal(lfs_append(fs, 0, "/log", rec, n, LFS_APPEND_CREATE, &off), 0);
		assert_int_equal(off, total);
		memcpy(exp + total, rec, n);
		total += n;
		if (i % 9 == 0)
			assert_int_equal(lfs_fsync(fs, 0, "/log"), 0);
	}
	struct lfs_stat st;
	assert_int_equal(lfs_stat(fs, 0, "/log", &st), 0);
	assert_int_equal(st.mode & 07777, 0600);
	expect_file(fs, 0, "/log", exp, total);
	assert_int_equal(lfs_append(fs, 0, "/log", rec, 0, 0, &off), 0);
	assert_int_equal(off, total);
	umnt(fs);
	fs = mnt(d);
	expect_file(fs, 0, "/log", exp, total);
	umnt(fs);
	free(exp);
	free(rec);
	md_del(d);
}

static void test_enospc(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(400, &fs);
	u8 *a = malloc(64 * 4096);
	char p[32];
	int nfiles = 0;
	struct lfs_statfs sf;
	s64 w = 0;

	fill(a, 64 * 4096, 11);
	put_file(fs, 0, "/keep", a, 10000);
	assert_int_equal(lfs_fsync(fs, 0, "/keep"), 0);
	for (;;) {
		snprintf(p, sizeof(p), "/f%d", nfiles);
		int r = lfs_create(fs, 0, p, 0644, 0);
		if (r == -ENOSPC)
			break;
		assert_int_equal(r, 0);
		w = lfs_write(fs, 0, p, 0, a, 64 * 4096);
		if (w == -ENOSPC)
			break;
		assert_true(w > 0);
		nfiles++;
		if (w < 64 * 4096)
			break;
	}
	assert_true(nfiles > 2);
	/* use up the last blocks one at a time */
	for (int i = 0;; i++) {
		snprintf(p, sizeof(p), "/small%d", i);
		int r = lfs_create(fs, 0, p, 0644, 0);
		if (!r)
			w = lfs_write(fs, 0, p, 0, a, 4096);
		if (r == -ENOSPC || w == -ENOSPC)
			break;
		assert_int_equal(r, 0);
		assert_int_equal(w, 4096);
	}
	check_ok(fs);
	expect_file(fs, 0, "/keep", a, 10000);
	/* more errors when full, nothing breaks */
	assert_int_equal(lfs_write(fs, 0, "/keep", 20000, a, 8192), -ENOSPC);
	expect_file(fs, 0, "/keep", a, 10000);
	for (int i = 0; i < 200; i++) {
		snprintf(p, sizeof(p), "/dir%d", i);
		int r = lfs_mkdir(fs, 0, p, 0755);
		if (r) {
			assert_int_equal(r, -ENOSPC);
			break;
		}
	}
	assert_int_equal(lfs_vnode_create(fs, 5) == 0 || lfs_vnode_exists(fs, 5) == false, 1);
	check_ok(fs);
	assert_int_equal(lfs_sync(fs), 0);
	/* free everything; space returns */
	for (int i = 0; i <= nfiles; i++) {
		snprintf(p, sizeof(p), "/f%d", i);
		int r = lfs_unlink(fs, 0, p);
		assert_true(r == 0 || r == -ENOENT);
	}
	assert_int_equal(lfs_sync(fs), 0);
	assert_int_equal(lfs_statfs(fs, &sf), 0);
	assert_true(sf.free_blocks > 200);
	put_file(fs, 0, "/again", a, 64 * 4096);
	expect_file(fs, 0, "/again", a, 64 * 4096);
	expect_file(fs, 0, "/keep", a, 10000);
	umnt(fs);
	fs = mnt(d);
	expect_file(fs, 0, "/keep", a, 10000);
	umnt(fs);
	free(a);
	md_del(d);
}

/* Space freed by the running transaction is only reusable after it
 * commits: an allocation that needs it commits and runs again. */
static void test_enospc_retry(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(400, &fs);
	struct lfs_statfs sf;
	u8 *a = malloc(2 << 20);

	fill(a, 2 << 20, 21);
	assert_int_equal(lfs_statfs(fs, &sf), 0);
	u64 n = (sf.free_blocks - 8) * 4096;
	assert_true(n < (2 << 20));
	put_file(fs, 0, "/big", a, n);
	assert_int_equal(lfs_sync(fs), 0);
	assert_int_equal(lfs_unlink(fs, 0, "/big"), 0);
	u64 c0 = fs->commits;
	assert_true(fs->pending_free > 0);
	put_file(fs, 0, "/big2", a + 100, n);
	assert_true(fs->commits > c0);
	expect_file(fs, 0, "/big2", a + 100, n);
	umnt(fs);
	free(a);
	md_del(d);
}

/* No inodes left. */
static void test_enospc_inodes(void **state)
{
	struct mdev *d = md_new(512);
	char p[32];
	int i, r = 0;

	do_format(d, 20, 0);
	struct lfs_fs *fs = mnt(d);
	for (i = 0; i < 100; i++) {
		snprintf(p, sizeof(p), "/f%d", i);
		r = lfs_create(fs, 0, p, 0644, 0);
		if (r)
			break;
	}
	assert_int_equal(r, -ENOSPC);
	assert_int_equal(i, 18);	/* 19 usable inodes, "/" has one */
	assert_int_equal(lfs_mkdir(fs, 0, "/d", 0755), -ENOSPC);
	assert_int_equal(lfs_unlink(fs, 0, "/f3"), 0);
	assert_int_equal(lfs_mkdir(fs, 0, "/d", 0755), 0);
	umnt(fs);
	md_del(d);
}

/* A transaction limit smaller than an operation: refused, nothing changes. */
static void test_txn_limit(void **state)
{
	struct mdev *d = md_new(16384);
	struct lfs_mount_opts o = { .txn_blocks = 24 };
	char p[64];
	struct lfs_stat st;

	do_format(d, 0, 0);
	struct lfs_fs *fs = mnt_opts(d, &o);
	assert_int_equal(lfs_mkdir(fs, 0, "/d", 0755), 0);
	for (int i = 0; i < 3000; i++) {
		snprintf(p, sizeof(p), "/d/a-rather-long-name-to-fill-buckets-%04d", i);
		assert_int_equal(lfs_create(fs, 0, p, 0644, 0), 0);
	}
	check_ok(fs);
	assert_int_equal(lfs_vnode_create(fs, 1), -ENOSPC);
	assert_false(lfs_vnode_exists(fs, 1));
	assert_int_equal(lfs_rename(fs, 0, "/d", "/e"), -ENOSPC);
	assert_int_equal(lfs_stat(fs, 0, "/d/a-rather-long-name-to-fill-buckets-0042", &st), 0);
	check_ok(fs);
	/* an operation that overflows the running transaction (but fits an
	 * empty one) is rolled back, the transaction committed, and the
	 * operation run again: it succeeds */
	assert_int_equal(lfs_sync(fs), 0);
	assert_int_equal(lfs_mkdir(fs, 0, "/m", 0755), 0);
	for (int i = 0; i < 8; i++) {
		snprintf(p, sizeof(p), "/m/x%d", i);
		assert_int_equal(lfs_create(fs, 0, p, 0644, 0), 0);
	}
	assert_int_equal(lfs_sync(fs), 0);
	for (int i = 0; fs->ndirty < fs->txn_max / 2 - 2 && i < 100; i++) {
		snprintf(p, sizeof(p), "/d/a-rather-long-name-to-fill-buckets-%04d", i * 37);
		assert_int_equal(lfs_unlink(fs, 0, p), 0);
	}
	u32 before = fs->ndirty;
	u64 c0 = fs->commits;
	assert_true(before < fs->txn_max / 2);
	assert_int_equal(lfs_rename(fs, 0, "/m", "/mm"), 0);
	assert_int_equal(fs->commits, c0 + 1);	/* the retry's commit */
	assert_int_equal(lfs_stat(fs, 0, "/mm/x7", &st), 0);
	check_ok(fs);
	assert_int_equal(lfs_unmount(fs), 0);
	/* with the default limit it works */
	fs = mnt(d);
	assert_int_equal(lfs_vnode_create(fs, 1), 0);
	assert_int_equal(lfs_rename(fs, 1, "/d", "/e"), 0);
	assert_int_equal(lfs_stat(fs, 1, "/e/a-rather-long-name-to-fill-buckets-0042", &st), 0);
	assert_int_equal(lfs_stat(fs, 0, "/d/a-rather-long-name-to-fill-buckets-0042", &st), 0);
	umnt(fs);
	md_del(d);
}

static void corrupt_byte(struct mdev *d, u64 blk, u32 off)
{
	d->img[blk * LFS_BLOCK_SIZE + off] ^= 0x5a;
}

static int try_mount(struct mdev *d, const char **msg)
{
	struct lfs_io io = md_io(d);
	struct lfs_fs *fs = NULL;
	int r = lfs_mount(&fs, &io, &env, NULL, msg);

	if (!r)
		lfs_unmount(fs);
	assert_int_equal(live_allocs, 0);
	return r;
}

static void test_bad_images(void **state)
{
	struct mdev *d = md_new(512);
	struct lfs_super sb;
	const char *msg;
	u8 *saved = malloc(512 * 4096);

	/* empty device */
	assert_int_equal(try_mount(d, &msg), -EINVAL);
	assert_non_null(strstr(msg, "not a LegoFS image"));
	do_format(d, 0, 0);
	memcpy(&sb, d->img, sizeof(sb));
	/* no transaction to replay: it would repair what we damage */
	memset(d->img + sb.journal_start * 4096, 0, 4096);
	memcpy(saved, d->img, 512 * 4096);
	/* foreign: ext4-like garbage */
	memset(d->img, 0x53, 4096);
	assert_int_equal(try_mount(d, &msg), -EINVAL);
	assert_non_null(strstr(msg, "bad superblock magic"));
	memcpy(d->img, saved, 4096);
	/* checksum */
	corrupt_byte(d, 0, 100);
	assert_int_equal(try_mount(d, &msg), -EUCLEAN);
	assert_non_null(strstr(msg, "superblock checksum"));
	memcpy(d->img, saved, 4096);
	/* version (with a valid checksum) */
	struct lfs_super s2 = sb;
	s2.version = 9;
	memcpy(d->img, &s2, sizeof(s2));
	assert_int_equal(try_mount(d, &msg), -EINVAL);
	assert_non_null(strstr(msg, "version"));
	memcpy(d->img, saved, 4096);
	/* truncated device */
	d->nblocks = 300;
	assert_int_equal(try_mount(d, &msg), -EUCLEAN);
	assert_non_null(strstr(msg, "truncated"));
	d->nblocks = 512;
	/* geometry that does not add up (checksum fixed up) */
	s2 = sb;
	s2.data_start += 1;
	s2.crc = 0;
	s2.crc = lfs_crc32c(0, &s2, sizeof(s2));
	memcpy(d->img, &s2, sizeof(s2));
	assert_int_equal(try_mount(d, &msg), -EUCLEAN);
	assert_non_null(strstr(msg, "geometry"));
	memcpy(d->img, saved, 4096);
	/* a bitmap block */
	corrupt_byte(d, sb.bitmap_start, 3000);
	assert_int_equal(try_mount(d, &msg), -EUCLEAN);
	assert_non_null(strstr(msg, "bitmap block"));
	assert_non_null(strstr(msg, "checksum"));
	memcpy(d->img, saved, 512 * 4096);
	/* the vNode table */
	corrupt_byte(d, sb.vtab_start, 200);
	assert_int_equal(try_mount(d, &msg), -EUCLEAN);
	assert_non_null(strstr(msg, "vnode table block"));
	memcpy(d->img, saved, 512 * 4096);
	/* reference counts: a block with another block's content */
	memcpy(d->img + sb.refcnt_start * 4096, d->img + sb.itable_start * 4096, 4096);
	assert_int_equal(try_mount(d, &msg), -EUCLEAN);
	assert_non_null(strstr(msg, "inode refcount block"));
	memcpy(d->img, saved, 512 * 4096);
	assert_int_equal(try_mount(d, &msg), 0);
	free(saved);
	md_del(d);
}

static void test_runtime_corruption(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(512, &fs);
	struct lfs_stat st;
	struct lfs_vref v;

	put_file(fs, 0, "/f", "data", 4);
	assert_int_equal(lfs_mkdir(fs, 0, "/d", 0755), 0);
	/* the bucket of "/f" */
	assert_int_equal(lfs_vnode_get(fs, 0, &v), 0);
	u64 blk;
	assert_int_equal(lfs_ht_bucket_blk(fs, &v, lfs_ht_bucket_of(v.r, lfs_hash64("/f", 2)), &blk), 0);
	lfs_vnode_put(fs, &v);
	/* later transactions must not hold that block (the last one is
	 * replayed at mount, which would repair it) */
	assert_int_equal(lfs_vnode_create(fs, 1), 0);
	assert_int_equal(lfs_sync(fs), 0);
	put_file(fs, 1, "/other", "x", 1);
	assert_int_equal(lfs_unmount(fs), 0);
	corrupt_byte(d, blk, 100);
	fs = mnt(d);	/* not read at mount */
	assert_int_equal(lfs_stat(fs, 0, "/f", &st), -EIO);
	assert_non_null(strstr(lfs_errmsg(fs), "bucket block"));
	assert_true(lfs_is_readonly(fs));
	assert_int_equal(lfs_create(fs, 0, "/g", 0644, 0), -EROFS);
	assert_int_equal(lfs_check(fs, NULL), -EUCLEAN);
	assert_non_null(strstr(lfs_errmsg(fs), "checksum"));
	assert_int_equal(lfs_fsync(fs, 0, NULL), -EIO);
	lfs_unmount(fs);
	assert_int_equal(live_allocs, 0);
	md_del(d);
}

static void test_io_errors(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(512, &fs);
	struct lfs_stat st;

	put_file(fs, 0, "/a", "aaaa", 4);
	assert_int_equal(lfs_sync(fs), 0);
	put_file(fs, 0, "/b", "bbbb", 4);
	d->fail_write_after = 3;
	assert_int_equal(lfs_sync(fs), -EIO);
	assert_true(lfs_is_readonly(fs));
	assert_int_equal(lfs_create(fs, 0, "/c", 0644, 0), -EROFS);
	assert_int_equal(lfs_stat(fs, 0, "/b", &st), 0);	/* still readable */
	lfs_unmount(fs);
	d->fail_write_after = -1;
	fs = mnt(d);
	expect_file(fs, 0, "/a", "aaaa", 4);
	umnt(fs);
	/* read errors */
	fs = mnt(d);
	d->fail_read_after = 0;
	assert_int_equal(lfs_stat(fs, 0, "/a", &st), -EIO);
	d->fail_read_after = -1;
	assert_true(lfs_is_readonly(fs));
	lfs_unmount(fs);
	assert_int_equal(live_allocs, 0);
	/* data write error during a write call */
	fs = mnt(d);
	d->fail_write_after = 0;
	u8 big[20000] = { 1 };
	assert_int_equal(lfs_write(fs, 0, "/a", 0, big, sizeof(big)), -EIO);
	d->fail_write_after = -1;
	lfs_unmount(fs);
	fs = mnt(d);
	expect_file(fs, 0, "/a", "aaaa", 4);
	umnt(fs);
	md_del(d);
}

static void test_readonly(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(512, &fs);
	struct lfs_mount_opts ro = { .flags = LFS_MOUNT_RDONLY };
	u64 writes;

	put_file(fs, 0, "/a", "aaaa", 4);
	assert_int_equal(lfs_sync(fs), 0);
	put_file(fs, 0, "/b", "bbbb", 4);
	assert_int_equal(lfs_unmount(fs), 0);
	writes = d->nwrites;
	fs = mnt_opts(d, &ro);
	assert_true(lfs_is_readonly(fs));
	expect_file(fs, 0, "/a", "aaaa", 4);
	expect_file(fs, 0, "/b", "bbbb", 4);
	assert_int_equal(lfs_create(fs, 0, "/c", 0644, 0), -EROFS);
	assert_int_equal(lfs_mkdir(fs, 0, "/c", 0755), -EROFS);
	assert_int_equal(lfs_write(fs, 0, "/a", 0, "x", 1), -EROFS);
	assert_int_equal(lfs_vnode_create(fs, 1), -EROFS);
	assert_int_equal(lfs_sync(fs), 0);
	check_ok(fs);
	assert_int_equal(lfs_unmount(fs), 0);
	assert_int_equal(d->nwrites, writes);
	assert_int_equal(live_allocs, 0);
	md_del(d);
}

/* A committed transaction whose checkpoint never reached the disk is
 * replayed, in memory (read-only) and for real (read-write). */
static void test_journal_replay(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(512, &fs);
	struct lfs_mount_opts ro = { .flags = LFS_MOUNT_RDONLY };
	u8 *before = malloc(512 * 4096);

	put_file(fs, 0, "/a", "aaaa", 4);
	assert_int_equal(lfs_sync(fs), 0);
	put_file(fs, 0, "/b", "bbbb", 4);
	assert_int_equal(lfs_mkdir(fs, 0, "/dir", 0755), 0);
	memcpy(before, d->img, 512 * 4096);
	u64 w0 = d->nwrites;
	assert_int_equal(lfs_sync(fs), 0);
	u64 w1 = d->nwrites;
	assert_true(w1 > w0);
	/* Keep the data, the journal and nothing of the checkpoint: find the
	 * journal blocks (1..J) and copy only those from the new image. */
	struct lfs_super sb;
	memcpy(&sb, d->img, sizeof(sb));
	u8 *after = malloc(512 * 4096);
	memcpy(after, d->img, 512 * 4096);
	lfs_unmount(fs);
	memcpy(d->img, before, 512 * 4096);
	memcpy(d->img + sb.journal_start * 4096, after + sb.journal_start * 4096,
	       (size_t)sb.journal_blocks * 4096);
	for (u64 b = sb.data_start; b < 512; b++) {
		/* file data is written before the commit: keep data blocks that
		 * are not metadata (metadata blocks start with the magic) */
		u32 magic;
		memcpy(&magic, after + b * 4096, 4);
		if (magic != LFS_BLOCK_MAGIC)
			memcpy(d->img + b * 4096, after + b * 4096, 4096);
	}
	fs = mnt_opts(d, &ro);
	expect_file(fs, 0, "/b", "bbbb", 4);
	check_ok(fs);
	lfs_unmount(fs);
	fs = mnt(d);
	expect_file(fs, 0, "/b", "bbbb", 4);
	struct lfs_stat st;
	assert_int_equal(lfs_stat(fs, 0, "/dir", &st), 0);
	umnt(fs);
	/* a torn journal (one image damaged) is not replayed: state before */
	memcpy(d->img, before, 512 * 4096);
	memcpy(d->img + sb.journal_start * 4096, after + sb.journal_start * 4096,
	       (size_t)sb.journal_blocks * 4096);
	corrupt_byte(d, sb.journal_start + 1, 2000);
	fs = mnt(d);
	expect_file(fs, 0, "/a", "aaaa", 4);
	assert_int_equal(lfs_stat(fs, 0, "/b", &st), -ENOENT);
	umnt(fs);
	free(before);
	free(after);
	md_del(d);
}

static void test_many_files_and_vnodes(void **state)
{
	struct lfs_fs *fs;
	struct mdev *d = fresh(8192, &fs);
	char p[64], c[64];

	for (int i = 0; i < 40; i++) {
		snprintf(p, sizeof(p), "/dir%d", i % 8);
		if (i < 8)
			assert_int_equal(lfs_mkdir(fs, 0, p, 0755), 0);
		snprintf(p, sizeof(p), "/dir%d/file%d", i % 8, i);
		put_file(fs, 0, p, p, strlen(p));
	}
	for (u32 v = 1; v <= 40; v++)
		assert_int_equal(lfs_vnode_create(fs, v * 1000), 0);
	for (u32 v = 1; v <= 40; v++) {
		snprintf(p, sizeof(p), "/dir%u/file%u", v % 8, v % 40);
		snprintf(c, sizeof(c), "vnode %u", v);
		assert_int_equal(lfs_write(fs, v * 1000, p, 0, c, strlen(c)), (s64)strlen(c));
		snprintf(c, sizeof(c), "/private%u", v);
		put_file(fs, v * 1000, c, c, strlen(c));
	}
	check_ok(fs);
	umnt(fs);
	fs = mnt(d);
	for (u32 v = 1; v <= 40; v++) {
		char buf[64] = { 0 };
		snprintf(p, sizeof(p), "/dir%u/file%u", v % 8, v % 40);
		snprintf(c, sizeof(c), "vnode %u", v);
		assert_int_equal(lfs_read(fs, v * 1000, p, 0, buf, strlen(c)), (s64)strlen(c));
		assert_memory_equal(buf, c, strlen(c));
		assert_int_equal(lfs_read(fs, 0, p, 0, buf, strlen(p)), (s64)strlen(p));
		assert_memory_equal(buf, p, strlen(p));
		for (u32 w = 1; w <= 40; w += 13) {
			struct lfs_stat st;
			snprintf(c, sizeof(c), "/private%u", v);
			assert_int_equal(lfs_stat(fs, w * 1000, c, &st), w == v ? 0 : -ENOENT);
		}
	}
	for (u32 v = 1; v <= 40; v++)
		assert_int_equal(lfs_vnode_remove(fs, v * 1000), 0);
	umnt(fs);
	md_del(d);
}

/* Memory runs out at every possible point of a few complex requests: each
 * fails with -ENOMEM and changes nothing, or succeeds; the store stays
 * consistent and nothing leaks. */
static int enomem_op(struct lfs_fs *fs, int which, const u8 *data)
{
	s64 w;

	switch (which) {
	case 0:	/* a write to a shared file: the file is copied first */
		w = lfs_write(fs, 1, "/d/f0", 3000, data, 5000);
		return w < 0 ? (int)w : w == 5000 ? 0 : -1000;
	case 1:
		return lfs_rename(fs, 0, "/d", "/renamed");
	case 2:
		return lfs_vnode_create(fs, 2);
	case 3:
		return lfs_vnode_remove(fs, 1);
	default:
		return lfs_unlink(fs, 0, "/d/f3");
	}
}

static void test_enomem(void **state)
{
	char p[32];
	u8 data[9000];

	fill(data, sizeof(data), 4);
	for (int which = 0; which < 5; which++) {
		int successes = 0, failures = 0;
		for (long k = 0; k < 600 && successes < 6; k++) {
			struct lfs_fs *fs;
			struct mdev *d = fresh(1024, &fs);
			assert_int_equal(lfs_mkdir(fs, 0, "/d", 0755), 0);
			for (int i = 0; i < 40; i++) {
				snprintf(p, sizeof(p), "/d/f%d", i);
				put_file(fs, 0, p, data, 100 + 200 * (i % 40));
			}
			assert_int_equal(lfs_vnode_create(fs, 1), 0);
			if (k % 2) {
				/* cold, tiny cache: every block read allocates */
				struct lfs_mount_opts small = { .cache_blocks = 2 };
				assert_int_equal(lfs_unmount(fs), 0);
				fs = mnt_opts(d, &small);
			}
			fail_alloc_after = k / 2;
			int r = enomem_op(fs, which, data);
			fail_alloc_after = -1;
			struct lfs_stat st;
			if (r < 0) {
				assert_int_equal(r, -ENOMEM);
				failures++;
				check_ok(fs);
				/* nothing changed */
				switch (which) {
				case 0:
					expect_file(fs, 1, "/d/f0", data, 100);
					break;
				case 1:
					assert_int_equal(lfs_stat(fs, 0, "/renamed", &st), -ENOENT);
					assert_int_equal(lfs_stat(fs, 0, "/d/f7", &st), 0);
					break;
				case 2:
					assert_false(lfs_vnode_exists(fs, 2));
					break;
				case 3:
					assert_true(lfs_vnode_exists(fs, 1));
					expect_file(fs, 1, "/d/f5", data, 1100);
					break;
				default:
					assert_int_equal(lfs_stat(fs, 0, "/d/f3", &st), 0);
				}
				/* and it works once memory is back */
				assert_int_equal(enomem_op(fs, which, data), 0);
			} else {
				successes++;
			}
			umnt(fs);
			md_del(d);
		}
		print_message("enomem op %d: %d failure points\n", which, failures);
		assert_true(failures >= 1);
	}
}

static int reset(void **state)
{
	fail_alloc_after = -1;
	live_allocs = 0;	/* a failed test leaks; do not blame the next */
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_format_mount, reset),
		cmocka_unit_test_setup(test_format_params, reset),
		cmocka_unit_test_setup(test_paths, reset),
		cmocka_unit_test_setup(test_file_basic, reset),
		cmocka_unit_test_setup(test_big_file, reset),
		cmocka_unit_test_setup(test_extent_tree, reset),
		cmocka_unit_test_setup(test_big_transaction, reset),
		cmocka_unit_test_setup(test_errors, reset),
		cmocka_unit_test_setup(test_dirs_and_rename, reset),
		cmocka_unit_test_setup(test_readdir_paging, reset),
		cmocka_unit_test_setup(test_vnodes_cow, reset),
		cmocka_unit_test_setup(test_append, reset),
		cmocka_unit_test_setup(test_enospc, reset),
		cmocka_unit_test_setup(test_enospc_inodes, reset),
		cmocka_unit_test_setup(test_enospc_retry, reset),
		cmocka_unit_test_setup(test_txn_limit, reset),
		cmocka_unit_test_setup(test_bad_images, reset),
		cmocka_unit_test_setup(test_runtime_corruption, reset),
		cmocka_unit_test_setup(test_io_errors, reset),
		cmocka_unit_test_setup(test_readonly, reset),
		cmocka_unit_test_setup(test_journal_replay, reset),
		cmocka_unit_test_setup(test_many_files_and_vnodes, reset),
		cmocka_unit_test_setup(test_enomem, reset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
