/* Host tests for the buffer cache (managers/memory/bcache.c) against a
 * model storage node kept in memory: caching (hits make no storage
 * call), write-back on eviction and FSYNC, sizes of files with dirty data,
 * revalidation against writers that bypass the cache, the requests that
 * rename, cut or remove files, disk-full and unreachable storage, and a
 * long random sequence compared with a plain byte-array model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lego/bcache.h>
#include <lego/errno.h>

#define PGS 4096u
#define MAXF 16
#define MAXSZ (2u << 20)

/* ------------------------------------------------------------------ */
/* The model storage node                                              */

struct sfile {
	bool used;
	char path[LEGO_ST_PATH_MAX];
	u8 *data;
	u64 size;
	u64 mtime;
};

static struct store {
	struct sfile f[MAXF];
	u64 clock;
	u64 calls[0x20];	/* by opcode & 0x1f */
	u64 cap;		/* bytes of file data the disk holds; 0: no limit */
	bool down;
	u64 now_ms;
} S;

static struct sfile *s_find(const char *p)
{
	for (int i = 0; i < MAXF; i++)
		if (S.f[i].used && !strcmp(S.f[i].path, p))
			return &S.f[i];
	return NULL;
}

static u64 s_used(void)
{
	u64 n = 0;
	for (int i = 0; i < MAXF; i++)
		if (S.f[i].used)
			n += S.f[i].size;
	return n;
}

static struct sfile *s_create(const char *p)
{
	for (int i = 0; i < MAXF; i++)
		if (!S.f[i].used) {
			struct sfile *f = &S.f[i];
			memset(f, 0, sizeof(*f));
			f->used = true;
			snprintf(f->path, sizeof(f->path), "%s", p);
			f->data = calloc(1, MAXSZ);
			f->mtime = ++S.clock;
			return f;
		}
	return NULL;
}

static void s_remove(struct sfile *f)
{
	free(f->data);
	f->used = false;
}

static void s_resize(struct sfile *f, u64 size)
{
	if (size < f->size)
		memset(f->data + size, 0, f->size - size);
	f->size = size;
}

/* Write as the storage node does: short when the disk fills. */
static u64 s_write(struct sfile *f, u64 off, const void *d, u64 len)
{
	if (S.cap) {
		u64 room = S.cap > s_used() ? S.cap - s_used() : 0;
		u64 limit = f->size + room;	/* the file may grow to this */
		if (off + len > limit)
			len = limit > off ? limit - off : 0;
	}
	memcpy(f->data + off, d, len);
	if (off + len > f->size)
		f->size = off + len;
	f->mtime = ++S.clock;
	return len;
}

static int m_st_call(void *ctx, const struct bc_ep *ep, u16 op, const struct lego_st_req *h,
		     const char *path, const char *path2, const void *data, void *reply,
		     u32 reply_max, u32 *got)
{
	char p[LEGO_ST_PATH_MAX] = "", p2[LEGO_ST_PATH_MAX] = "";

	assert_int_equal(ep->ip, 0x0a000001);
	assert_int_equal(ep->port, 7000);
	*got = 0;
	if (S.down)
		return -EHOSTUNREACH;
	S.calls[op & 0x1f]++;
	if (h->path_len) {
		assert_non_null(path);
		memcpy(p, path, h->path_len);
	}
	if (h->path2_len) {
		assert_non_null(path2);
		memcpy(p2, path2, h->path2_len);
	}
	struct sfile *f = s_find(p);
	struct lego_st_count cnt;
	switch (op) {
	case LEGO_OP_ST_STAT: {
		if (!f)
			return -ENOENT;
		struct lego_st_stat st = { .mode = 0100644, .size = f->size, .mtime_ns = f->mtime };
		assert_true(reply_max >= sizeof(st));
		memcpy(reply, &st, sizeof(st));
		*got = sizeof(st);
		return 0;
	}
	case LEGO_OP_ST_READ:
		if (!f)
			return -ENOENT;
		assert_true(h->len <= reply_max && h->len <= LEGO_ST_IO_MAX);
		if (h->off >= f->size)
			return 0;
		*got = (u32)(h->len < f->size - h->off ? h->len : f->size - h->off);
		memcpy(reply, f->data + h->off, *got);
		return 0;
	case LEGO_OP_ST_WRITE:
		if (!f)
			return -ENOENT;
		assert_true(h->len <= LEGO_ST_IO_MAX && h->off + h->len <= MAXSZ);
		cnt.value = s_write(f, h->off, data, h->len);
		if (!cnt.value && h->len)
			return -ENOSPC;
		memcpy(reply, &cnt, sizeof(cnt));
		*got = sizeof(cnt);
		return 0;
	case LEGO_OP_ST_APPEND:
		if (!f && (h->flags & LEGO_ST_APPEND_CREATE))
			f = s_create(p);
		if (!f)
			return -ENOENT;
		cnt.value = f->size;
		if (s_write(f, f->size, data, h->len) != h->len)
			return -ENOSPC;
		memcpy(reply, &cnt, sizeof(cnt));
		*got = sizeof(cnt);
		return 0;
	case LEGO_OP_ST_TRUNCATE:
		if (!f)
			return -ENOENT;
		s_resize(f, h->off);
		f->mtime = ++S.clock;
		return 0;
	case LEGO_OP_ST_CREATE:
		if (f && (h->flags & LEGO_ST_O_EXCL))
			return -EEXIST;
		if (f && (h->flags & LEGO_ST_O_TRUNC)) {
			s_resize(f, 0);
			f->mtime = ++S.clock;
		}
		if (!f && !s_create(p))
			return -ENOSPC;
		return 0;
	case LEGO_OP_ST_UNLINK:
		if (!f)
			return -ENOENT;
		s_remove(f);
		return 0;
	case LEGO_OP_ST_RENAME: {
		if (!f)
			return -ENOENT;
		struct sfile *t = s_find(p2);
		if (t && t != f)
			s_remove(t);
		snprintf(f->path, sizeof(f->path), "%s", p2);
		return 0;
	}
	case LEGO_OP_ST_FSYNC:
	case LEGO_OP_ST_SETATTR:
		return 0;
	default:
		return -ENOSYS;
	}
}

static void *m_zalloc(void *ctx, size_t n)
{
	return calloc(1, n);
}

static void m_free(void *ctx, void *p)
{
	free(p);
}

static void *m_page_alloc(void *ctx)
{
	return malloc(PGS);
}

static u64 m_now(void *ctx)
{
	return S.now_ms;
}

static const struct bcache_ops ops = { m_st_call, m_zalloc, m_free, m_page_alloc, m_free, m_now };
static const struct bc_ep EP = { 0x0a000001, 7000 };

static void store_reset(void)
{
	for (int i = 0; i < MAXF; i++)
		if (S.f[i].used)
			s_remove(&S.f[i]);
	memset(&S, 0, sizeof(S));
}

static u64 calls(u16 op)
{
	return S.calls[op & 0x1f];
}

/* ------------------------------------------------------------------ */
/* Requests through the cache                                          */

static struct st_msg *msg(u16 op, const char *path, u64 off, u64 len)
{
	static struct st_msg m;
	memset(&m, 0, sizeof(m));
	m.opcode = op;
	m.h.vnode = 3;
	m.h.off = off;
	m.h.len = len;
	if (path) {
		snprintf(m.path, sizeof(m.path), "%s", path);
		m.h.path_len = (u16)strlen(path);
		m.has_path = true;
	}
	return &m;
}

static u8 rbuf[LEGO_ST_IO_MAX];

static int bc_read(struct bcache *bc, const char *p, u64 off, u64 len, u32 *got)
{
	return bcache_serve(bc, &EP, msg(LEGO_OP_ST_READ, p, off, len), rbuf, (u32)len, got);
}

static int bc_write(struct bcache *bc, const char *p, u64 off, const void *d, u64 len)
{
	struct st_msg *m = msg(LEGO_OP_ST_WRITE, p, off, len);
	struct lego_st_count c = { 0 };
	u32 got = 0;
	m->data = d;
	m->data_len = (u32)len;
	int r = bcache_serve(bc, &EP, m, &c, sizeof(c), &got);
	if (r < 0)
		return r;
	assert_int_equal(got, sizeof(c));
	return (int)c.value;
}

static int bc_simple(struct bcache *bc, u16 op, const char *p, u64 off, u32 flags)
{
	struct st_msg *m = msg(op, p, off, 0);
	u8 rep[64];
	u32 got;
	m->h.flags = flags;
	return bcache_serve(bc, &EP, m, rep, sizeof(rep), &got);
}

static int bc_fsync(struct bcache *bc, const char *p)
{
	return bc_simple(bc, LEGO_OP_ST_FSYNC, p, 0, 0);
}

static s64 bc_size(struct bcache *bc, const char *p)
{
	struct lego_st_stat st;
	u32 got = 0;
	int r = bcache_serve(bc, &EP, msg(LEGO_OP_ST_STAT, p, 0, 0), &st, sizeof(st), &got);
	if (r < 0)
		return r;
	assert_int_equal(got, sizeof(st));
	return (s64)st.size;
}

static s64 bc_append(struct bcache *bc, const char *p, const void *d, u64 len)
{
	struct st_msg *m = msg(LEGO_OP_ST_APPEND, p, 0, len);
	struct lego_st_count c = { 0 };
	u32 got = 0;
	m->data = d;
	m->data_len = (u32)len;
	int r = bcache_serve(bc, &EP, m, &c, sizeof(c), &got);
	return r < 0 ? r : (s64)c.value;
}

static void fill(u8 *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (u8)(seed * 131 + i * 7 + (i >> 12));
}

static struct bcache *new_cache(u32 pages)
{
	static struct bcache bc;
	store_reset();
	assert_int_equal(bcache_init(&bc, &ops, NULL, pages, 1000), 0);
	return &bc;
}

static void done_cache(struct bcache *bc)
{
	S.down = false;
	S.cap = 0;
	bcache_destroy(bc);
	store_reset();
}

/* ------------------------------------------------------------------ */
/* Tests                                                               */

static void test_init_limits(void **state)
{
	struct bcache bc;
	assert_int_equal(bcache_init(&bc, &ops, NULL, 8, 1000), -EINVAL);
}

static void test_read_hits(void **state)
{
	struct bcache *bc = new_cache(256);
	struct sfile *f = s_create("/data");
	fill(f->data, 100000, 1);
	f->size = 100000;
	u32 got;

	assert_int_equal(bc_read(bc, "/data", 0, 4096, &got), 0);
	assert_int_equal(got, 4096);
	assert_memory_equal(rbuf, f->data, 4096);
	assert_int_equal(calls(LEGO_OP_ST_READ), 1);
	/* The read-ahead brought 16 pages: the next 15 are hits. */
	for (u64 off = 4096; off < 16 * 4096; off += 4096) {
		assert_int_equal(bc_read(bc, "/data", off, 4096, &got), 0);
		assert_memory_equal(rbuf, f->data + off, 4096);
	}
	assert_int_equal(calls(LEGO_OP_ST_READ), 1);
	assert_int_equal(bc->st.hits, 15);
	/* Unaligned, across pages, to the end of the file and past it. */
	assert_int_equal(bc_read(bc, "/data", 99000, 5000, &got), 0);
	assert_int_equal(got, 1000);
	assert_memory_equal(rbuf, f->data + 99000, 1000);
	assert_int_equal(bc_read(bc, "/data", 100000, 10, &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(bc_read(bc, "/missing", 0, 10, &got), -ENOENT);
	/* One STAT when the file was first met, none while it is fresh. */
	assert_int_equal(calls(LEGO_OP_ST_STAT), 2);
	done_cache(bc);
}

static void test_write_back(void **state)
{
	struct bcache *bc = new_cache(256);
	u8 buf[20000];
	u32 got;

	s_create("/f");
	fill(buf, sizeof(buf), 2);
	assert_int_equal(bc_write(bc, "/f", 100, buf, sizeof(buf)), (int)sizeof(buf));
	/* Not at the storage node yet, but the cache's users see it. */
	assert_int_equal(s_find("/f")->size, 0);
	assert_int_equal(calls(LEGO_OP_ST_WRITE), 0);
	assert_int_equal(bc_size(bc, "/f"), 20100);
	assert_int_equal(bc_read(bc, "/f", 0, 20100, &got), 0);
	assert_int_equal(got, 20100);
	for (int i = 0; i < 100; i++)
		assert_int_equal(rbuf[i], 0);
	assert_memory_equal(rbuf + 100, buf, sizeof(buf));
	/* FSYNC writes through, in one request for the contiguous run. */
	assert_int_equal(bc_fsync(bc, "/f"), 0);
	assert_int_equal(calls(LEGO_OP_ST_WRITE), 1);
	assert_int_equal(s_find("/f")->size, 20100);
	assert_memory_equal(s_find("/f")->data + 100, buf, sizeof(buf));
	assert_int_equal(bc->st.dirty, 0);
	/* The periodic flush finds nothing to do. */
	assert_int_equal(bcache_flush(bc), 0);
	assert_int_equal(calls(LEGO_OP_ST_WRITE), 1);
	/* Writing to a missing file is the storage node's error. */
	assert_int_equal(bc_write(bc, "/nope", 0, buf, 10), -ENOENT);
	done_cache(bc);
}

static void test_partial_page_keeps_storage_bytes(void **state)
{
	struct bcache *bc = new_cache(128);
	struct sfile *f = s_create("/p");
	fill(f->data, 8192, 3);
	f->size = 8192;
	u8 expect[8192];
	memcpy(expect, f->data, 8192);
	u32 got;

	assert_int_equal(bc_write(bc, "/p", 10, "hello", 5), 5);
	memcpy(expect + 10, "hello", 5);
	assert_int_equal(bc_fsync(bc, "/p"), 0);
	assert_memory_equal(f->data, expect, 8192);
	assert_int_equal(bc_read(bc, "/p", 0, 8192, &got), 0);
	assert_memory_equal(rbuf, expect, 8192);
	done_cache(bc);
}

static void test_eviction(void **state)
{
	struct bcache *bc = new_cache(64);
	static u8 buf[1 << 20];
	u32 got;

	s_create("/big");
	fill(buf, sizeof(buf), 4);
	for (u64 off = 0; off < sizeof(buf); off += 65536)
		assert_int_equal(bc_write(bc, "/big", off, buf + off, 65536), 65536);
	assert_true(bc->st.pages <= 64);
	assert_true(bc->st.evictions > 0);
	assert_true(bc->st.writebacks > 0);
	/* Written back in runs, not page by page. */
	assert_true(calls(LEGO_OP_ST_WRITE) * 4 <= bc->st.writebacks);
	for (u64 off = 0; off < sizeof(buf); off += 40000) {
		u64 n = sizeof(buf) - off < 40000 ? sizeof(buf) - off : 40000;
		assert_int_equal(bc_read(bc, "/big", off, n, &got), 0);
		assert_int_equal(got, n);
		assert_memory_equal(rbuf, buf + off, n);
	}
	assert_int_equal(bc_fsync(bc, NULL), 0);
	assert_int_equal(s_find("/big")->size, sizeof(buf));
	assert_memory_equal(s_find("/big")->data, buf, sizeof(buf));
	done_cache(bc);
}

static void test_revalidate(void **state)
{
	struct bcache *bc = new_cache(128);
	struct sfile *f = s_create("/r");
	u32 got;

	s_write(f, 0, "old data", 8);
	assert_int_equal(bc_read(bc, "/r", 0, 8, &got), 0);
	assert_memory_equal(rbuf, "old data", 8);
	/* A writer that bypasses the cache; seen once the data is stale. */
	s_write(f, 0, "NEW", 3);
	assert_int_equal(bc_read(bc, "/r", 0, 8, &got), 0);
	assert_memory_equal(rbuf, "old data", 8);
	S.now_ms += 1001;
	assert_int_equal(bc_read(bc, "/r", 0, 8, &got), 0);
	assert_memory_equal(rbuf, "NEW data", 8);
	assert_int_equal(bc->st.revalidations, 1);
	/* Our own write-back moves mtime; that is no reason to drop. */
	assert_int_equal(bc_write(bc, "/r", 8, "!", 1), 1);
	assert_int_equal(bc_fsync(bc, "/r"), 0);
	S.now_ms += 1001;
	assert_int_equal(bc_read(bc, "/r", 0, 9, &got), 0);
	assert_memory_equal(rbuf, "NEW data!", 9);
	assert_int_equal(bc->st.revalidations, 1);
	/* Removed behind our back: the record goes. */
	s_remove(f);
	S.now_ms += 1001;
	assert_int_equal(bc_read(bc, "/r", 0, 9, &got), -ENOENT);
	assert_int_equal(bc->st.files, 0);
	done_cache(bc);
}

static void test_truncate_append_unlink_rename(void **state)
{
	struct bcache *bc = new_cache(128);
	u8 buf[10000];
	u32 got;

	fill(buf, sizeof(buf), 5);
	s_create("/t");
	assert_int_equal(bc_write(bc, "/t", 0, buf, sizeof(buf)), (int)sizeof(buf));
	/* Cut inside page 1, with that page dirty in the cache. */
	assert_int_equal(bc_simple(bc, LEGO_OP_ST_TRUNCATE, "/t", 5000, 0), 0);
	assert_int_equal(bc_size(bc, "/t"), 5000);
	assert_int_equal(bc_simple(bc, LEGO_OP_ST_TRUNCATE, "/t", 9000, 0), 0);
	assert_int_equal(bc_read(bc, "/t", 0, 9000, &got), 0);
	assert_int_equal(got, 9000);
	assert_memory_equal(rbuf, buf, 5000);
	for (int i = 5000; i < 9000; i++)
		assert_int_equal(rbuf[i], 0);
	/* APPEND goes to the storage node at the file's real end. */
	assert_int_equal(bc_append(bc, "/t", "tail", 4), 9000);
	assert_int_equal(s_find("/t")->size, 9004);
	assert_memory_equal(s_find("/t")->data, buf, 5000);
	assert_int_equal(bc_read(bc, "/t", 8998, 6, &got), 0);
	assert_memory_equal(rbuf, "\0\0tail", 6);
	/* RENAME: the dirty data moves with the name. */
	assert_int_equal(bc_write(bc, "/t", 0, "X", 1), 1);
	struct st_msg *m = msg(LEGO_OP_ST_RENAME, "/t", 0, 0);
	strcpy(m->path2, "/u");
	m->h.path2_len = 2;
	u8 rep[8];
	assert_int_equal(bcache_serve(bc, &EP, m, rep, sizeof(rep), &got), 0);
	assert_null(s_find("/t"));
	assert_int_equal(s_find("/u")->data[0], 'X');
	assert_int_equal(bc_read(bc, "/u", 0, 1, &got), 0);
	assert_int_equal(rbuf[0], 'X');
	assert_int_equal(bc_read(bc, "/t", 0, 1, &got), -ENOENT);
	/* CREATE with O_TRUNC empties the cached copy too. */
	assert_int_equal(bc_write(bc, "/u", 0, "dirty", 5), 5);
	assert_int_equal(bc_simple(bc, LEGO_OP_ST_CREATE, "/u", 0, LEGO_ST_O_TRUNC), 0);
	assert_int_equal(bc_size(bc, "/u"), 0);
	assert_int_equal(bc_fsync(bc, NULL), 0);
	assert_int_equal(s_find("/u")->size, 0);
	/* UNLINK drops dirty data: it must not come back. */
	assert_int_equal(bc_write(bc, "/u", 0, "zombie", 6), 6);
	assert_int_equal(bc_simple(bc, LEGO_OP_ST_UNLINK, "/u", 0, 0), 0);
	assert_int_equal(bcache_flush(bc), 0);
	assert_null(s_find("/u"));
	assert_int_equal(bc->st.pages, 0);
	assert_int_equal(bc->st.files, 0);
	done_cache(bc);
}

static void test_disk_full(void **state)
{
	struct bcache *bc = new_cache(128);
	u8 buf[16384];

	fill(buf, sizeof(buf), 6);
	s_create("/full");
	S.cap = 6000;
	/* Acknowledged by the cache... */
	assert_int_equal(bc_write(bc, "/full", 0, buf, sizeof(buf)), (int)sizeof(buf));
	/* ...and the loss is reported by FSYNC, once. */
	assert_int_equal(bc_fsync(bc, "/full"), -ENOSPC);
	assert_int_equal(bc_fsync(bc, "/full"), 0);
	assert_true(bc->st.wb_errors >= 1);
	assert_int_equal(bc->st.dirty, 0);
	/* What did fit is at the storage node, and the cache still works. */
	S.cap = 0;
	assert_int_equal(bc_write(bc, "/full", 0, "ok", 2), 2);
	assert_int_equal(bc_fsync(bc, "/full"), 0);
	assert_memory_equal(s_find("/full")->data, "ok", 2);
	done_cache(bc);
}

static void test_storage_unreachable(void **state)
{
	struct bcache *bc = new_cache(64);
	u8 buf[8192];
	u32 got;

	fill(buf, sizeof(buf), 7);
	s_create("/u");
	assert_int_equal(bc_write(bc, "/u", 0, buf, sizeof(buf)), (int)sizeof(buf));
	S.down = true;
	/* Hits need no storage; write-back waits for it to come back. */
	assert_int_equal(bc_read(bc, "/u", 0, 8192, &got), 0);
	assert_int_equal(bc_fsync(bc, "/u"), -EHOSTUNREACH);
	assert_int_equal(bcache_flush(bc), -EHOSTUNREACH);
	assert_int_equal(bc->st.dirty, 2);
	/* Filling the cache with dirty pages it cannot write fails cleanly. */
	int r = 0;
	for (u64 off = 8192; off < 70 * 4096 && r >= 0; off += 4096)
		r = bc_write(bc, "/u", off, buf, 4096);
	assert_int_equal(r, -EHOSTUNREACH);
	S.down = false;
	assert_int_equal(bc_fsync(bc, "/u"), 0);
	assert_memory_equal(s_find("/u")->data, buf, sizeof(buf));
	assert_int_equal(bc->st.dirty, 0);
	done_cache(bc);
}

/* Random requests from "two processes" (they share the cache, as every
 * process of a vNode does), compared with byte arrays. */
static void test_random_model(void **state)
{
	struct bcache *bc = new_cache(80);
	static u8 model[3][MAXSZ / 2];
	static u8 buf[LEGO_ST_IO_MAX];
	u64 msize[3] = { 0 };
	const char *names[3] = { "/a", "/b", "/c" };
	u32 got;

	srand(1234);
	for (int i = 0; i < 3; i++)
		s_create(names[i]);
	for (int step = 0; step < 6000; step++) {
		int fi = rand() % 3, op = rand() % 100;
		const char *p = names[fi];
		u64 lim = sizeof(model[0]);
		u64 off = (u64)rand() % (lim - LEGO_ST_IO_MAX);
		u64 len = 1 + (u64)rand() % (rand() % 4 ? 9000 : LEGO_ST_IO_MAX);

		if (op < 40) {
			assert_int_equal(bc_read(bc, p, off, len, &got), 0);
			u64 want = off >= msize[fi] ? 0 : (msize[fi] - off < len ? msize[fi] - off : len);
			assert_int_equal(got, want);
			assert_memory_equal(rbuf, model[fi] + off, want);
		} else if (op < 75) {
			fill(buf, len, (unsigned)step);
			assert_int_equal(bc_write(bc, p, off, buf, len), (int)len);
			memcpy(model[fi] + off, buf, len);
			if (off + len > msize[fi])
				msize[fi] = off + len;
		} else if (op < 80) {
			u64 ns = (u64)rand() % lim;
			assert_int_equal(bc_simple(bc, LEGO_OP_ST_TRUNCATE, p, ns, 0), 0);
			if (ns < msize[fi])
				memset(model[fi] + ns, 0, msize[fi] - ns);
			msize[fi] = ns;
		} else if (op < 84) {
			if (msize[fi] + len > lim)
				continue;
			fill(buf, len, (unsigned)step + 7);
			assert_int_equal(bc_append(bc, p, buf, len), (s64)msize[fi]);
			memcpy(model[fi] + msize[fi], buf, len);
			msize[fi] += len;
		} else if (op < 88) {
			assert_int_equal(bc_size(bc, p), (s64)msize[fi]);
		} else if (op < 92) {
			assert_int_equal(bc_fsync(bc, rand() % 2 ? p : NULL), 0);
			struct sfile *f = s_find(p);
			assert_int_equal(f->size, msize[fi]);
			assert_memory_equal(f->data, model[fi], msize[fi]);
		} else if (op < 95) {
			assert_int_equal(bcache_flush(bc), 0);
		} else if (op < 97) {
			/* Time passes: clean data gets revalidated. */
			S.now_ms += 1500;
		} else {
			assert_int_equal(bc_simple(bc, LEGO_OP_ST_CREATE, p, 0, LEGO_ST_O_TRUNC), 0);
			memset(model[fi], 0, msize[fi]);
			msize[fi] = 0;
		}
		assert_true(bc->st.pages <= 80);
	}
	assert_int_equal(bc_fsync(bc, NULL), 0);
	for (int i = 0; i < 3; i++) {
		struct sfile *f = s_find(names[i]);
		assert_int_equal(f->size, msize[i]);
		assert_memory_equal(f->data, model[i], msize[i]);
	}
	assert_true(bc->st.evictions > 0 && bc->st.hits > 0 && bc->st.misses > 0);
	done_cache(bc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_limits),
		cmocka_unit_test(test_read_hits),
		cmocka_unit_test(test_write_back),
		cmocka_unit_test(test_partial_page_keeps_storage_bytes),
		cmocka_unit_test(test_eviction),
		cmocka_unit_test(test_revalidate),
		cmocka_unit_test(test_truncate_append_unlink_rename),
		cmocka_unit_test(test_disk_full),
		cmocka_unit_test(test_storage_unreachable),
		cmocka_unit_test(test_random_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
