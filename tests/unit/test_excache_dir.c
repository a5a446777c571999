/* Host tests of the ExCache line directory (managers/processor/excache_dir.c)
 * and its boot options (excache_opts.c): geometry and set indexing, lookup
 * after insert, FIFO and LRU victims with free lists and bitmaps, busy
 * lines, ASID invalidation and iteration, a random sequence checked against
 * a reference model, and lego.excache= parsing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lego/excache_dir.h>
#include <lego/excache_opts.h>
#include <lego/errno.h>

struct tdir {
	struct excache_dir d;
	void *meta;
};

static void tdir_init(struct tdir *t, u32 nr_lines, u32 ways, enum excache_evict ev,
		      enum excache_free fr)
{
	struct excache_dir_config cfg = {
		.base = 0x40000000, .nr_lines = nr_lines, .ways = ways, .evict = ev, .free = fr,
	};
	size_t sz = excache_dir_meta_size(&cfg);

	assert_true(sz > 0);
	t->meta = malloc(sz);
	assert_non_null(t->meta);
	memset(t->meta, 0xa5, sz);	/* init must not rely on zeroed memory */
	assert_int_equal(excache_dir_init(&t->d, &cfg, t->meta, sz), 0);
	assert_int_equal(excache_dir_check(&t->d), 0);
}

static void tdir_fini(struct tdir *t)
{
	free(t->meta);
}

/* The k-th page of asid that falls into set. */
static u64 page_in_set(const struct excache_dir *d, u32 asid, u32 set, u64 k)
{
	u32 mix = excache_dir_set_of(d, asid, 0);

	return (k << d->set_bits) | (set ^ mix);
}

/* Insert and complete a fill; returns the line. */
static u32 fill(struct excache_dir *d, u32 asid, u64 vpage)
{
	long idx;

	assert_int_equal(excache_dir_lookup(d, asid, vpage), -ENOENT);
	idx = excache_dir_insert(d, asid, vpage);
	assert_true(idx >= 0);
	assert_int_equal(excache_dir_fill_done(d, (u32)idx, false), 0);
	return (u32)idx;
}

/* The fault path: look up, else insert, evicting one victim when full.
 * Returns the new line; *victim gets the evicted line or EXCACHE_NIL. */
static u32 fault(struct excache_dir *d, u32 asid, u64 vpage, u32 *victim)
{
	long idx = excache_dir_lookup(d, asid, vpage);

	*victim = EXCACHE_NIL;
	assert_int_equal(idx, -ENOENT);
	idx = excache_dir_insert(d, asid, vpage);
	if (idx == -ENOSPC) {
		long v = excache_dir_victim(d, excache_dir_set_of(d, asid, vpage));

		assert_true(v >= 0);
		*victim = (u32)v;
		assert_int_equal(excache_dir_evict_done(d, (u32)v,
							excache_dir_line(d, (u32)v)->flags &
								EXCACHE_LF_DIRTY),
				 0);
		idx = excache_dir_insert(d, asid, vpage);
	}
	assert_true(idx >= 0);
	assert_int_equal(excache_dir_fill_done(d, (u32)idx, false), 0);
	return (u32)idx;
}

static const enum excache_evict evicts[] = { EXCACHE_EVICT_FIFO, EXCACHE_EVICT_LRU };
static const enum excache_free frees[] = { EXCACHE_FREE_LIST, EXCACHE_FREE_BITMAP };

/* ---- geometry ---- */

static void test_init_bad(void **st)
{
	struct excache_dir d;
	struct excache_dir_config cfg = { .base = 0x100000, .nr_lines = 64, .ways = 8 };
	static u64 buf[4096];
	size_t sz = excache_dir_meta_size(&cfg);

	assert_true(sz > 0 && sz <= sizeof(buf));
	assert_int_equal(excache_dir_init(&d, &cfg, buf, sz), 0);
	assert_int_equal(d.nr_sets, 8);
	assert_int_equal(d.set_bits, 3);
	assert_int_equal(excache_dir_init(&d, &cfg, buf, sz - 1), -EINVAL);
	assert_int_equal(excache_dir_init(&d, &cfg, (char *)buf + 4, sz), -EINVAL);
	assert_int_equal(excache_dir_init(&d, &cfg, NULL, sz), -EINVAL);

	struct excache_dir_config bad[] = {
		{ .base = 0x100000, .nr_lines = 64, .ways = 0 },
		{ .base = 0x100000, .nr_lines = 64, .ways = 2048 },
		{ .base = 0x100000, .nr_lines = 48, .ways = 8 },	/* 6 sets */
		{ .base = 0x100000, .nr_lines = 60, .ways = 8 },	/* not a multiple */
		{ .base = 0x100000, .nr_lines = 0, .ways = 1 },
		{ .base = 0x100800, .nr_lines = 64, .ways = 8 },	/* unaligned base */
		{ .base = 0x100000, .nr_lines = 64, .ways = 8, .evict = 7 },
		{ .base = 0x100000, .nr_lines = 64, .ways = 8, .free = 7 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(excache_dir_meta_size(&bad[i]), 0);
		assert_int_equal(excache_dir_init(&d, &bad[i], buf, sizeof(buf)), -EINVAL);
	}
	assert_int_equal(excache_dir_meta_size(NULL), 0);

	/* Ways need not be a power of two, only the set count. */
	struct excache_dir_config odd = { .nr_lines = 96, .ways = 3, .free = EXCACHE_FREE_BITMAP };
	assert_int_equal(excache_dir_init(&d, &odd, buf, sizeof(buf)), 0);
	assert_int_equal(d.nr_sets, 32);
	/* One set: every tag maps to it. */
	struct excache_dir_config one = { .nr_lines = 4, .ways = 4 };
	assert_int_equal(excache_dir_init(&d, &one, buf, sizeof(buf)), 0);
	assert_int_equal(excache_dir_set_of(&d, 77, 12345), 0);
}

static void test_phys(void **st)
{
	struct tdir t;
	struct excache_dir *d = &t.d;

	tdir_init(&t, 64, 4, EXCACHE_EVICT_FIFO, EXCACHE_FREE_LIST);
	assert_int_equal(excache_dir_line_phys(d, 0), 0x40000000);
	assert_int_equal(excache_dir_line_phys(d, 5), 0x40005000);
	assert_int_equal(excache_dir_phys_line(d, 0x40005000), 5);
	assert_int_equal(excache_dir_phys_line(d, 0x40005fff), 5);
	assert_int_equal(excache_dir_phys_line(d, 0x4003f000), 63);
	assert_int_equal(excache_dir_phys_line(d, 0x40040000), -EINVAL);
	assert_int_equal(excache_dir_phys_line(d, 0x3ffff000), -EINVAL);
	assert_int_equal(excache_dir_line_set(d, 0), 0);
	assert_int_equal(excache_dir_line_set(d, 7), 1);
	assert_int_equal(excache_dir_line_set(d, 63), 15);
	tdir_fini(&t);
}

static void test_set_spread(void **st)
{
	struct tdir t;
	struct excache_dir *d = &t.d;
	static bool seen[512];
	u32 distinct = 0;

	tdir_init(&t, 4096, 8, EXCACHE_EVICT_FIFO, EXCACHE_FREE_LIST);
	assert_int_equal(d->nr_sets, 512);

	/* nr_sets consecutive pages of one process use every set once, from
	 * any starting page and for any ASID. */
	for (u32 asid = 0; asid < 4; asid++) {
		u64 start = 0x7fff0000ULL + asid * 12345;

		memset(seen, 0, sizeof(seen));
		for (u64 v = start; v < start + 512; v++) {
			u32 s = excache_dir_set_of(d, asid, v);

			assert_true(s < 512);
			assert_false(seen[s]);
			seen[s] = true;
		}
	}

	/* The same page in 64 processes: nearly all in different sets. */
	memset(seen, 0, sizeof(seen));
	for (u32 asid = 1; asid <= 64; asid++) {
		u32 s = excache_dir_set_of(d, asid, 0x400);

		if (!seen[s])
			distinct++;
		seen[s] = true;
	}
	assert_true(distinct >= 56);
	/* Consecutive ASIDs never collide on one page. */
	for (u32 asid = 1; asid < 1000; asid++)
		assert_int_not_equal(excache_dir_set_of(d, asid, 0x400),
				     excache_dir_set_of(d, asid + 1, 0x400));

	/* Pages equal modulo nr_sets share a set (the mremap hint). */
	for (u32 asid = 0; asid < 50; asid++)
		assert_int_equal(excache_dir_set_of(d, asid, 0x1234),
				 excache_dir_set_of(d, asid, 0x1234 + 512 * 77));
	tdir_fini(&t);
}

/* ---- lookup, insert, remove ---- */

static void test_lookup_insert(void **st)
{
	for (size_t f = 0; f < ARRAY_SIZE(frees); f++) {
		struct tdir t;
		struct excache_dir *d = &t.d;
		struct excache_dir_stats s;
		u32 idx[40];

		tdir_init(&t, 256, 4, EXCACHE_EVICT_FIFO, frees[f]);
		for (u32 i = 0; i < 40; i++) {
			long r = excache_dir_lookup(d, 3, 1000 + i);

			assert_int_equal(r, -ENOENT);
			r = excache_dir_insert(d, 3, 1000 + i);
			assert_true(r >= 0);
			idx[i] = (u32)r;
			assert_int_equal(excache_dir_line_set(d, idx[i]),
					 excache_dir_set_of(d, 3, 1000 + i));
			/* A filling line is found (a second fault waits). */
			assert_int_equal(excache_dir_lookup(d, 3, 1000 + i), idx[i]);
			assert_int_equal(excache_dir_line(d, idx[i])->state, EXCACHE_LINE_FILLING);
			assert_int_equal(excache_dir_fill_done(d, idx[i], i & 1), 0);
			assert_int_equal(excache_dir_fill_done(d, idx[i], false), -EINVAL);
		}
		assert_int_equal(excache_dir_check(d), 0);
		for (u32 i = 0; i < 40; i++) {
			const struct excache_line *l = excache_dir_line(d, idx[i]);

			assert_int_equal(excache_dir_lookup(d, 3, 1000 + i), idx[i]);
			assert_int_equal(excache_dir_find(d, 3, 1000 + i), idx[i]);
			assert_int_equal(excache_dir_lookup(d, 4, 1000 + i), -ENOENT);
			assert_int_equal(l->state, EXCACHE_LINE_VALID);
			assert_int_equal(l->asid, 3);
			assert_int_equal(l->vpage, 1000 + i);
			assert_int_equal(!!(l->flags & EXCACHE_LF_DIRTY), i & 1);
		}
		/* Distinct lines. */
		for (u32 i = 0; i < 40; i++)
			for (u32 j = i + 1; j < 40; j++)
				assert_int_not_equal(idx[i], idx[j]);

		assert_int_equal(excache_dir_remove(d, idx[7]), 0);
		assert_int_equal(excache_dir_remove(d, idx[7]), -EINVAL);
		assert_int_equal(excache_dir_lookup(d, 3, 1007), -ENOENT);
		assert_int_equal(excache_dir_pin(d, idx[8]), 0);
		assert_int_equal(excache_dir_remove(d, idx[8]), -EBUSY);
		assert_int_equal(excache_dir_unpin(d, idx[8]), 0);
		assert_int_equal(excache_dir_unpin(d, idx[8]), -EINVAL);
		assert_int_equal(excache_dir_remove(d, idx[8]), 0);
		assert_int_equal(excache_dir_pin(d, idx[8]), -EINVAL);

		/* A failed fetch returns the line. */
		long r = excache_dir_insert(d, 9, 5);
		assert_true(r >= 0);
		assert_int_equal(excache_dir_fill_abort(d, (u32)r), 0);
		assert_int_equal(excache_dir_fill_abort(d, (u32)r), -EINVAL);
		assert_int_equal(excache_dir_lookup(d, 9, 5), -ENOENT);
		assert_int_equal(excache_dir_check(d), 0);

		excache_dir_stats(d, &s);
		assert_int_equal(s.lookups, 40 * 2 + 40 * 2 + 2);
		assert_int_equal(s.misses, 40 + 40 + 2);
		assert_int_equal(s.fills, 40);
		assert_int_equal(s.fill_aborts, 1);
		assert_int_equal(s.removed, 2);
		if (frees[f] == EXCACHE_FREE_LIST) {
			assert_int_equal(s.alloc_list, 41);
			assert_int_equal(s.alloc_bitmap, 0);
		} else {
			assert_int_equal(s.alloc_bitmap, 41);
			assert_int_equal(s.alloc_list, 0);
		}
		tdir_fini(&t);
	}
}

/* Both allocators hand out every way of a set, then report it full. */
static void test_set_full(void **st)
{
	for (size_t f = 0; f < ARRAY_SIZE(frees); f++) {
		struct tdir t;
		struct excache_dir *d = &t.d;
		bool used[70] = { false };

		/* 70 ways: the bitmap spans two words per set. */
		tdir_init(&t, 70 * 4, 70, EXCACHE_EVICT_FIFO, frees[f]);
		for (u32 k = 0; k < 70; k++) {
			u64 v = page_in_set(d, 1, 2, k);
			long r = excache_dir_insert(d, 1, v);

			assert_true(r >= 140 && r < 210);
			assert_false(used[r - 140]);
			used[r - 140] = true;
		}
		assert_int_equal(excache_dir_nr_free(d, 2), 0);
		assert_int_equal(excache_dir_insert(d, 1, page_in_set(d, 1, 2, 70)), -ENOSPC);
		assert_int_equal(excache_dir_nr_free(d, 1), 70);
		assert_int_equal(excache_dir_check(d), 0);
		struct excache_dir_stats s;
		excache_dir_stats(d, &s);
		assert_int_equal(s.alloc_full, 1);
		tdir_fini(&t);
	}
}

/* ---- victims ---- */

static int sweep_all(void *c, const struct excache_dir *d, u32 idx)
{
	return EXCACHE_SWEEP_ACCESSED;
}

static void test_fifo_victims(void **st)
{
	for (size_t f = 0; f < ARRAY_SIZE(frees); f++) {
		struct tdir t;
		struct excache_dir *d = &t.d;
		u32 fifo[64], head = 0, tail = 0, v;

		tdir_init(&t, 32, 4, EXCACHE_EVICT_FIFO, frees[f]);
		for (u64 k = 0; k < 4; k++)
			fifo[tail++] = fill(d, 5, page_in_set(d, 5, 3, k));
		/* 20 more pages: each evicts the oldest fill in the set, even
		 * when the sweep reports it accessed. */
		for (u64 k = 4; k < 24; k++) {
			u32 idx;

			assert_int_equal(excache_dir_sweep(d, 3, sweep_all, NULL), 4);
			idx = fault(d, 5, page_in_set(d, 5, 3, k), &v);
			assert_int_equal(v, fifo[head]);
			assert_int_equal(excache_dir_find(d, 5, page_in_set(d, 5, 3, k - 4)),
					 -ENOENT);
			head++;
			fifo[tail++] = idx;
			assert_int_equal(excache_dir_check(d), 0);
		}
		/* Other sets untouched. */
		for (u32 s = 0; s < 8; s++)
			assert_int_equal(excache_dir_nr_free(d, s), s == 3 ? 0 : 4);
		struct excache_dir_stats s;
		excache_dir_stats(d, &s);
		assert_int_equal(s.evictions, 20);
		assert_int_equal(s.fills, 24);
		tdir_fini(&t);
	}
}

struct sweep_ctx {
	u32 hot_asid;
	u64 hot_vpage;
	u32 calls;
	bool dirty;
};

/* Reports only the hot page as accessed (its PTE's accessed bit). */
static int sweep_hot(void *c, const struct excache_dir *d, u32 idx)
{
	struct sweep_ctx *x = c;
	const struct excache_line *l = excache_dir_line(d, idx);

	x->calls++;
	if (l->asid == x->hot_asid && l->vpage == x->hot_vpage)
		return EXCACHE_SWEEP_ACCESSED | (x->dirty ? EXCACHE_SWEEP_DIRTY : 0);
	return 0;
}

static void test_lru_victims(void **st)
{
	for (size_t f = 0; f < ARRAY_SIZE(frees); f++) {
		for (size_t e = 0; e < ARRAY_SIZE(evicts); e++) {
			struct tdir t;
			struct excache_dir *d = &t.d;
			struct sweep_ctx x = { .hot_asid = 2 };
			u32 order[64], n = 0, v, hot;
			bool lru = evicts[e] == EXCACHE_EVICT_LRU;

			tdir_init(&t, 64, 8, evicts[e], frees[f]);
			/* The hot page is the first fill: FIFO's first victim. */
			x.hot_vpage = page_in_set(d, 2, 5, 0);
			hot = fill(d, 2, x.hot_vpage);
			for (u64 k = 1; k < 8; k++)
				order[n++] = fill(d, 2, page_in_set(d, 2, 5, k));

			for (u64 k = 8; k < 40; k++) {
				x.calls = 0;
				x.dirty = k == 20;
				assert_int_equal(excache_dir_sweep(d, 5, sweep_hot, &x), 1);
				assert_int_equal(x.calls, 8);
				u32 idx = fault(d, 2, page_in_set(d, 2, 5, k), &v);

				if (!lru) {
					/* FIFO ignores references: the hot page goes first. */
					assert_int_equal(v, hot);
					break;
				}
				/* Unreferenced lines go, oldest first; the hot one stays. */
				assert_int_not_equal(v, hot);
				assert_int_equal(v, order[k - 8]);
				order[n++] = idx;
				assert_int_equal(excache_dir_find(d, 2, x.hot_vpage), hot);
				assert_true(excache_dir_line(d, hot)->flags & EXCACHE_LF_REFERENCED);
				assert_int_equal(excache_dir_check(d), 0);
			}
			if (lru) {
				struct excache_dir_stats s;

				assert_true(excache_dir_line(d, hot)->flags & EXCACHE_LF_DIRTY);
				/* The hot page cools down: next sweep sees nothing, it is
				 * now the least recently referenced... once the lines
				 * behind it were referenced more recently. */
				x.hot_vpage = ~0ULL;
				assert_int_equal(excache_dir_sweep(d, 5, sweep_hot, &x), 0);
				assert_false(excache_dir_line(d, hot)->flags & EXCACHE_LF_REFERENCED);
				/* All unreferenced now: queue order decides. The hot line
				 * was last moved to the tail in the final sweep, so the
				 * seven lines filled before that sweep go first. */
				u32 first = (u32)excache_dir_victim(d, 5);
				assert_int_not_equal(first, hot);
				assert_int_equal(excache_dir_evict_done(d, first, false), 0);
				excache_dir_stats(d, &s);
				assert_int_equal(s.evictions, 33);
				assert_int_equal(s.writebacks, 0);
				assert_int_equal(s.sweeps, 33);
				assert_int_equal(s.sweep_accessed, 32);
			}
			tdir_fini(&t);
		}
	}
}

/* Lines filled since the last sweep count as referenced: an older,
 * swept-and-idle line goes before them even if it is further back. */
static void test_lru_second_chance(void **st)
{
	struct tdir t;
	struct excache_dir *d = &t.d;
	struct sweep_ctx x = { .hot_asid = 1 };
	u32 a, b, c;

	tdir_init(&t, 3, 3, EXCACHE_EVICT_LRU, EXCACHE_FREE_LIST);
	a = fill(d, 1, 10);
	b = fill(d, 1, 11);
	x.hot_vpage = 10;
	excache_dir_sweep(d, 0, sweep_hot, &x);	/* order: b a; a referenced */
	c = fill(d, 1, 12);			/* order: b a c; c referenced */
	assert_int_equal(excache_dir_victim(d, 0), b);
	/* Now a and c are referenced: the first of them goes. */
	assert_int_equal(excache_dir_victim(d, 0), a);
	assert_int_equal(excache_dir_evict_abort(d, a), 0);	/* back to the head */
	assert_int_equal(excache_dir_victim(d, 0), a);
	assert_int_equal(excache_dir_victim(d, 0), c);
	assert_int_equal(excache_dir_victim(d, 0), -EBUSY);
	assert_int_equal(excache_dir_check(d), 0);
	tdir_fini(&t);

	/* A referenced line back at the head (failed write-back) is passed
	 * over for an unreferenced one behind it. */
	tdir_init(&t, 2, 2, EXCACHE_EVICT_LRU, EXCACHE_FREE_BITMAP);
	a = fill(d, 1, 10);
	b = fill(d, 1, 11);
	assert_int_equal(excache_dir_victim(d, 0), a);	/* all referenced: head */
	x.hot_vpage = 99;
	assert_int_equal(excache_dir_sweep(d, 0, sweep_hot, &x), 0);	/* b idle */
	assert_int_equal(excache_dir_evict_abort(d, a), 0);		/* order: a b */
	assert_true(excache_dir_line(d, a)->flags & EXCACHE_LF_REFERENCED);
	assert_int_equal(excache_dir_victim(d, 0), b);
	assert_int_equal(excache_dir_check(d), 0);
	tdir_fini(&t);
}

static void test_busy(void **st)
{
	for (size_t f = 0; f < ARRAY_SIZE(frees); f++) {
		for (size_t e = 0; e < ARRAY_SIZE(evicts); e++) {
			struct tdir t;
			struct excache_dir *d = &t.d;
			u32 l[4];
			long filling;

			tdir_init(&t, 16, 4, evicts[e], frees[f]);
			/* Empty set: nothing to evict. */
			assert_int_equal(excache_dir_victim(d, 1), -EBUSY);
			for (u64 k = 0; k < 3; k++)
				l[k] = fill(d, 7, page_in_set(d, 7, 1, k));
			filling = excache_dir_insert(d, 7, page_in_set(d, 7, 1, 3));
			assert_true(filling >= 0);

			/* The pinned head is skipped; the filling line never
			 * qualifies. */
			assert_int_equal(excache_dir_pin(d, l[0]), 0);
			assert_int_equal(excache_dir_pin(d, l[0]), 0);
			assert_int_equal(excache_dir_victim(d, 1), l[1]);
			/* An evicting line is not chosen twice. */
			assert_int_equal(excache_dir_victim(d, 1), l[2]);
			assert_int_equal(excache_dir_victim(d, 1), -EBUSY);
			assert_int_equal(excache_dir_pin(d, l[1]), -EINVAL);
			assert_int_equal(excache_dir_remove(d, l[1]), -EINVAL);
			assert_int_equal(excache_dir_evict_abort(d, l[1]), 0);
			assert_int_equal(excache_dir_pin(d, l[1]), 0);
			assert_int_equal(excache_dir_evict_done(d, l[2], true), 0);
			assert_int_equal(excache_dir_evict_done(d, l[2], true), -EINVAL);
			/* l0 pinned twice, l1 pinned, the rest filling or free. */
			assert_int_equal(excache_dir_victim(d, 1), -EBUSY);
			assert_int_equal(excache_dir_unpin(d, l[0]), 0);
			assert_int_equal(excache_dir_victim(d, 1), -EBUSY);
			assert_int_equal(excache_dir_unpin(d, l[0]), 0);
			assert_int_equal(excache_dir_victim(d, 1), l[0]);
			assert_int_equal(excache_dir_check(d), 0);

			struct excache_dir_stats s;
			excache_dir_stats(d, &s);
			assert_int_equal(s.victim_busy, 4);
			assert_int_equal(s.writebacks, 1);
			assert_int_equal(s.evictions, 1);
			tdir_fini(&t);

			/* Every line filling: -EBUSY too. */
			tdir_init(&t, 16, 4, evicts[e], frees[f]);
			for (u64 k = 0; k < 4; k++)
				assert_true(excache_dir_insert(d, 7, page_in_set(d, 7, 0, k)) >= 0);
			assert_int_equal(excache_dir_victim(d, 0), -EBUSY);
			assert_int_equal(excache_dir_insert(d, 7, page_in_set(d, 7, 0, 4)), -ENOSPC);
			tdir_fini(&t);
		}
	}
}

/* ---- ASIDs ---- */

struct asid_ctx {
	u32 asid;
	u32 seen;
	u32 stop_at;
	u32 dirty;
};

static int count_fn(void *c, struct excache_dir *d, u32 idx)
{
	struct asid_ctx *x = c;

	assert_int_equal(excache_dir_line(d, idx)->asid, x->asid);
	assert_int_equal(excache_dir_line(d, idx)->state, EXCACHE_LINE_VALID);
	if (excache_dir_line(d, idx)->flags & EXCACHE_LF_DIRTY) {
		/* A fork flush writes it back and clears the hint. */
		excache_dir_set_dirty(d, idx, false);
		x->dirty++;
	}
	if (++x->seen == x->stop_at)
		return 42;
	return 0;
}

static void test_asid(void **st)
{
	for (size_t f = 0; f < ARRAY_SIZE(frees); f++) {
		struct tdir t;
		struct excache_dir *d = &t.d;
		u32 per_asid[4] = { 0 }, dirty2 = 0;
		u32 pinned = EXCACHE_NIL;

		tdir_init(&t, 1024, 8, EXCACHE_EVICT_FIFO, frees[f]);
		for (u32 i = 0; i < 600; i++) {
			u32 asid = i % 4;
			u64 vpage = 0x1000 + i * 7;
			long r = excache_dir_insert(d, asid, vpage);

			if (r == -ENOSPC)
				continue;
			assert_true(r >= 0);
			assert_int_equal(excache_dir_fill_done(d, (u32)r, i % 3 == 0), 0);
			per_asid[asid]++;
			if (asid == 2 && i % 3 == 0)
				dirty2++;
			if (asid == 2 && pinned == EXCACHE_NIL) {
				pinned = (u32)r;
				assert_int_equal(excache_dir_pin(d, pinned), 0);
			}
		}
		/* A filling line of asid 2 is neither visited nor freed. */
		long filling = excache_dir_insert(d, 2, 0xdead0);
		assert_true(filling >= 0);

		struct asid_ctx x = { .asid = 2 };
		assert_int_equal(excache_dir_for_each_asid(d, EXCACHE_ALL_SETS, 2, count_fn, &x), 0);
		assert_int_equal(x.seen, per_asid[2]);
		assert_int_equal(x.dirty, dirty2);
		x = (struct asid_ctx){ .asid = 2 };
		assert_int_equal(excache_dir_for_each_asid(d, EXCACHE_ALL_SETS, 2, count_fn, &x), 0);
		assert_int_equal(x.dirty, 0);
		x = (struct asid_ctx){ .asid = 1, .stop_at = 5 };
		assert_int_equal(excache_dir_for_each_asid(d, EXCACHE_ALL_SETS, 1, count_fn, &x), 42);
		assert_int_equal(x.seen, 5);
		assert_int_equal(excache_dir_for_each_asid(d, 1000, 1, count_fn, &x), -EINVAL);

		/* One set at a time, as a caller taking set locks would. */
		u32 freed = 0;
		for (u32 s = 0; s < d->nr_sets; s++)
			freed += excache_dir_invalidate_asid(d, s, 2, NULL, NULL);
		assert_int_equal(freed, per_asid[2] - 1);
		assert_int_equal(excache_dir_find(d, 2, excache_dir_line(d, pinned)->vpage), pinned);
		assert_int_equal(excache_dir_find(d, 2, 0xdead0), filling);
		assert_int_equal(excache_dir_unpin(d, pinned), 0);
		x = (struct asid_ctx){ .asid = 2 };
		assert_int_equal(excache_dir_invalidate_asid(d, EXCACHE_ALL_SETS, 2, count_fn, &x), 1);
		assert_int_equal(x.seen, 1);
		assert_int_equal(excache_dir_fill_abort(d, (u32)filling), 0);

		for (u32 i = 0; i < 600; i++) {
			u32 asid = i % 4;
			long r = excache_dir_find(d, asid, 0x1000 + i * 7);

			if (asid == 2)
				assert_int_equal(r, -ENOENT);
		}
		for (u32 a = 0; a < 4; a++) {
			x = (struct asid_ctx){ .asid = a };
			excache_dir_for_each_asid(d, EXCACHE_ALL_SETS, a, count_fn, &x);
			assert_int_equal(x.seen, a == 2 ? 0 : per_asid[a]);
		}
		u32 nfree = 0;
		for (u32 s = 0; s < d->nr_sets; s++)
			nfree += excache_dir_nr_free(d, s);
		assert_int_equal(nfree, 1024 - per_asid[0] - per_asid[1] - per_asid[3]);
		assert_int_equal(excache_dir_check(d), 0);
		tdir_fini(&t);
	}
}

/* ---- random operations against a reference model ---- */

/*
 * The model keeps, per line index, what the directory should hold, plus an
 * order key per VALID line: the set's eviction order is ascending key.
 * Fills and sweep moves take fresh keys from a rising counter, an aborted
 * eviction a key below every other.
 */
struct mline {
	u32 asid;
	u64 vpage;
	int state;
	u32 pin;
	bool ref;
	s64 key;
};

#define M_SETS 8
#define M_WAYS 4
#define M_LINES (M_SETS * M_WAYS)
#define M_ASIDS 3
#define M_PAGES 24

struct model {
	struct mline l[M_LINES];
	s64 hi, lo;
	u64 fills, evictions, writebacks;
	u8 answer[M_LINES];	/* sweep callback answers, chosen by the test */
};

static u64 rng_state;

static u32 rnd(u32 n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (u32)(rng_state % n);
}

static int model_find(const struct model *m, u32 asid, u64 vpage)
{
	for (int i = 0; i < M_LINES; i++)
		if (m->l[i].state != EXCACHE_LINE_FREE && m->l[i].asid == asid &&
		    m->l[i].vpage == vpage)
			return i;
	return -1;
}

static int model_victim(const struct model *m, enum excache_evict ev, u32 set)
{
	int best = -1, best_unref = -1;

	for (u32 i = set * M_WAYS; i < (set + 1) * M_WAYS; i++) {
		const struct mline *l = &m->l[i];

		if (l->state != EXCACHE_LINE_VALID || l->pin)
			continue;
		if (best < 0 || l->key < m->l[best].key)
			best = (int)i;
		if (!l->ref && (best_unref < 0 || l->key < m->l[best_unref].key))
			best_unref = (int)i;
	}
	if (ev == EXCACHE_EVICT_LRU && best_unref >= 0)
		return best_unref;
	return best;
}

static int model_sweep_fn(void *c, const struct excache_dir *d, u32 idx)
{
	struct model *m = c;

	return m->answer[idx];
}

static void model_sweep(struct model *m, enum excache_evict ev, u32 set)
{
	int order[M_WAYS], n = 0;

	for (u32 i = set * M_WAYS; i < (set + 1) * M_WAYS; i++)
		if (m->l[i].state == EXCACHE_LINE_VALID)
			order[n++] = (int)i;
	/* Ascending key order. */
	for (int a = 1; a < n; a++)
		for (int b = a; b > 0 && m->l[order[b]].key < m->l[order[b - 1]].key; b--) {
			int tmp = order[b];
			order[b] = order[b - 1];
			order[b - 1] = tmp;
		}
	for (int k = 0; k < n; k++) {
		struct mline *l = &m->l[order[k]];

		l->ref = m->answer[order[k]] & EXCACHE_SWEEP_ACCESSED;
		if (l->ref && ev == EXCACHE_EVICT_LRU)
			l->key = ++m->hi;
	}
}

static void model_compare(const struct model *m, const struct excache_dir *d)
{
	for (u32 i = 0; i < M_LINES; i++) {
		const struct excache_line *l = excache_dir_line(d, i);
		const struct mline *ml = &m->l[i];

		assert_int_equal(l->state, ml->state);
		if (ml->state == EXCACHE_LINE_FREE)
			continue;
		assert_int_equal(l->asid, ml->asid);
		assert_int_equal(l->vpage, ml->vpage);
		if (ml->state == EXCACHE_LINE_VALID) {
			assert_int_equal(l->pin, ml->pin);
			assert_int_equal(!!(l->flags & EXCACHE_LF_REFERENCED), ml->ref);
		}
	}
}

static int pick_line(const struct model *m, int state)
{
	int cand[M_LINES], n = 0;

	for (int i = 0; i < M_LINES; i++)
		if (m->l[i].state == state)
			cand[n++] = i;
	return n ? cand[rnd((u32)n)] : -1;
}

static void run_model(enum excache_evict ev, enum excache_free fr, u64 seed)
{
	struct tdir t;
	struct excache_dir *d = &t.d;
	struct model *m = calloc(1, sizeof(*m));
	struct excache_dir_stats st;

	assert_non_null(m);
	rng_state = seed;
	tdir_init(&t, M_LINES, M_WAYS, ev, fr);

	for (int it = 0; it < 20000; it++) {
		u32 asid = rnd(M_ASIDS), op = rnd(100);
		u64 vpage = 0x500 + rnd(M_PAGES);
		int want = model_find(m, asid, vpage), i;
		long r;

		if (op < 35) {
			/* Miss path: lookup, insert (or -ENOSPC). */
			r = excache_dir_lookup(d, asid, vpage);
			assert_int_equal(r, want < 0 ? -ENOENT : want);
			if (want >= 0)
				continue;
			r = excache_dir_insert(d, asid, vpage);
			u32 set = excache_dir_set_of(d, asid, vpage);
			int free_way = -1;
			for (u32 k = set * M_WAYS; k < (set + 1) * M_WAYS; k++)
				if (m->l[k].state == EXCACHE_LINE_FREE) {
					free_way = (int)k;
					break;
				}
			if (free_way < 0) {
				assert_int_equal(r, -ENOSPC);
				continue;
			}
			assert_true(r >= 0);
			assert_int_equal(excache_dir_line_set(d, (u32)r), set);
			assert_int_equal(m->l[r].state, EXCACHE_LINE_FREE);
			if (fr == EXCACHE_FREE_BITMAP)
				assert_int_equal(r, free_way);	/* lowest free way */
			m->l[r] = (struct mline){ .asid = asid, .vpage = vpage,
						   .state = EXCACHE_LINE_FILLING };
		} else if (op < 50) {
			i = pick_line(m, EXCACHE_LINE_FILLING);
			if (i < 0)
				continue;
			if (rnd(8) == 0) {
				assert_int_equal(excache_dir_fill_abort(d, (u32)i), 0);
				m->l[i].state = EXCACHE_LINE_FREE;
			} else {
				assert_int_equal(excache_dir_fill_done(d, (u32)i, rnd(2)), 0);
				m->l[i].state = EXCACHE_LINE_VALID;
				m->l[i].ref = true;
				m->l[i].key = ++m->hi;
				m->fills++;
			}
		} else if (op < 65) {
			u32 set = rnd(M_SETS);

			i = model_victim(m, ev, set);
			r = excache_dir_victim(d, set);
			assert_int_equal(r, i < 0 ? -EBUSY : i);
			if (i >= 0)
				m->l[i].state = EXCACHE_LINE_EVICTING;
		} else if (op < 75) {
			i = pick_line(m, EXCACHE_LINE_EVICTING);
			if (i < 0)
				continue;
			if (rnd(6) == 0) {
				assert_int_equal(excache_dir_evict_abort(d, (u32)i), 0);
				m->l[i].state = EXCACHE_LINE_VALID;
				m->l[i].key = --m->lo;
			} else {
				bool wb = rnd(2);

				assert_int_equal(excache_dir_evict_done(d, (u32)i, wb), 0);
				m->l[i].state = EXCACHE_LINE_FREE;
				m->evictions++;
				m->writebacks += wb;
			}
		} else if (op < 80) {
			i = pick_line(m, EXCACHE_LINE_VALID);
			if (i < 0)
				continue;
			r = excache_dir_remove(d, (u32)i);
			if (m->l[i].pin) {
				assert_int_equal(r, -EBUSY);
			} else {
				assert_int_equal(r, 0);
				m->l[i].state = EXCACHE_LINE_FREE;
			}
		} else if (op < 87) {
			i = pick_line(m, EXCACHE_LINE_VALID);
			if (i < 0)
				continue;
			if (m->l[i].pin && rnd(3)) {
				assert_int_equal(excache_dir_unpin(d, (u32)i), 0);
				m->l[i].pin--;
			} else if (rnd(2)) {
				assert_int_equal(excache_dir_pin(d, (u32)i), 0);
				m->l[i].pin++;
			} else if (!m->l[i].pin) {
				assert_int_equal(excache_dir_unpin(d, (u32)i), -EINVAL);
			}
		} else if (op < 97) {
			u32 set = rnd(M_SETS);

			for (int k = 0; k < M_LINES; k++)
				m->answer[k] = rnd(3) == 0 ? EXCACHE_SWEEP_ACCESSED : 0;
			model_sweep(m, ev, set);
			excache_dir_sweep(d, set, model_sweep_fn, m);
		} else {
			u32 freed = 0;

			for (i = 0; i < M_LINES; i++)
				if (m->l[i].state == EXCACHE_LINE_VALID && m->l[i].asid == asid &&
				    !m->l[i].pin) {
					m->l[i].state = EXCACHE_LINE_FREE;
					freed++;
				}
			assert_int_equal(excache_dir_invalidate_asid(d, EXCACHE_ALL_SETS, asid, NULL,
								     NULL),
					 freed);
		}
		assert_int_equal(excache_dir_check(d), 0);
		model_compare(m, d);
	}
	excache_dir_stats(d, &st);
	assert_int_equal(st.fills, m->fills);
	assert_int_equal(st.evictions, m->evictions);
	assert_int_equal(st.writebacks, m->writebacks);
	assert_true(m->evictions > 500);
	tdir_fini(&t);
	free(m);
}

static void test_model(void **st)
{
	for (size_t f = 0; f < ARRAY_SIZE(frees); f++)
		for (size_t e = 0; e < ARRAY_SIZE(evicts); e++)
			for (u64 seed = 1; seed <= 3; seed++)
				run_model(evicts[e], frees[f], seed * 0x9e3779b97f4a7c15ULL + f * 2 + e);
}

/* ---- lego.excache= ---- */

static struct excache_params defaults(void)
{
	return (struct excache_params){
		.size = 16ULL << 20, .ways = 8, .sweep_ms = 100,
		.evict = EXCACHE_EVICT_FIFO, .free = EXCACHE_FREE_LIST,
	};
}

static void test_opts_good(void **st)
{
	struct excache_params p = defaults();
	struct excache_dir_config cfg;

	assert_int_equal(excache_params_check(&p), 0);
	assert_null(p.error);

	assert_int_equal(excache_parse_opts("size=64M,ways=16,evict=lru,free=bitmap,sweep=50", &p),
			 0);
	assert_null(p.error);
	assert_int_equal(p.size, 64ULL << 20);
	assert_int_equal(p.ways, 16);
	assert_int_equal(p.evict, EXCACHE_EVICT_LRU);
	assert_int_equal(p.free, EXCACHE_FREE_BITMAP);
	assert_int_equal(p.sweep_ms, 50);
	assert_false(p.no_plocal);

	assert_int_equal(excache_parse_opts("plocal=off", &p), 0);
	assert_true(p.no_plocal);
	assert_int_equal(p.ways, 16);
	assert_int_equal(excache_parse_opts("plocal=on,size=16M,plocal=off", &p), 0);
	assert_true(p.no_plocal);
	assert_int_equal(p.size, 16ULL << 20);
	assert_int_equal(excache_parse_opts("size=64M,plocal=on", &p), 0);
	assert_false(p.no_plocal);

	/* Only what is given changes; the last of a repeated key wins. */
	assert_int_equal(excache_parse_opts("evict=fifo,evict=lru,evict=fifo", &p), 0);
	assert_int_equal(p.evict, EXCACHE_EVICT_FIFO);
	assert_int_equal(p.ways, 16);
	assert_int_equal(excache_parse_opts("free=list", &p), 0);
	assert_int_equal(p.free, EXCACHE_FREE_LIST);
	assert_int_equal(excache_parse_opts("size=0x200000,ways=512", &p), 0);
	assert_int_equal(p.size, 2 << 20);
	assert_int_equal(excache_parse_opts("size=1g,ways=1", &p), 0);
	assert_int_equal(p.size, 1ULL << 30);
	assert_int_equal(excache_parse_opts("size=24M,ways=6", &p), 0);	/* 1024 sets */
	assert_int_equal(excache_parse_opts("size=4096,ways=1", &p), 0);	/* one line */

	p = defaults();
	excache_params_to_config(&p, 0x8000000, &cfg);
	assert_int_equal(cfg.nr_lines, 4096);
	assert_int_equal(cfg.ways, 8);
	assert_int_equal(cfg.base, 0x8000000);
	assert_true(excache_dir_meta_size(&cfg) > 0);
}

static void test_opts_bad(void **st)
{
	static const struct {
		const char *s;
		int err;
		const char *why;	/* a word the message must contain */
	} bad[] = {
		{ NULL, -EINVAL, "needs a value" },
		{ "", -EINVAL, "needs a value" },
		{ "size", -EINVAL, "without '='" },
		{ "=4M", -EINVAL, "empty key" },
		{ "size=16M,", -EINVAL, "stray comma" },
		{ ",size=16M", -EINVAL, "stray comma" },
		{ "size=16M,,ways=8", -EINVAL, "stray comma" },
		{ "colour=blue", -EINVAL, "unknown key" },
		{ "Size=16M", -EINVAL, "unknown key" },
		{ "size=", -EINVAL, "number of bytes" },
		{ "size=16Q", -EINVAL, "number of bytes" },
		{ "size=-4096", -EINVAL, "number of bytes" },
		{ "size=99999999999999999999", -ERANGE, "too large" },
		{ "size=123456789012345678901234567890123", -EINVAL, "number of bytes" },
		{ "size=16385G", -EINVAL, "4 TiB" },
		{ "size=0", -EINVAL, "multiple of 4 KiB" },
		{ "size=6000", -EINVAL, "multiple of 4 KiB" },
		{ "size=24M", -EINVAL, "power of two" },
		{ "size=16K,ways=8", -EINVAL, "at least one set" },
		{ "size=20K,ways=3", -EINVAL, "multiple of ways" },
		{ "ways=0", -EINVAL, "between 1 and 1024" },
		{ "ways=1025", -EINVAL, "between 1 and 1024" },
		{ "ways=eight", -EINVAL, "between 1 and 1024" },
		{ "ways=3", -EINVAL, "multiple of ways" },
		{ "evict=random", -EINVAL, "fifo or lru" },
		{ "evict=", -EINVAL, "fifo or lru" },
		{ "evict=FIFO", -EINVAL, "fifo or lru" },
		{ "free=tree", -EINVAL, "list or bitmap" },
		{ "sweep=0", -EINVAL, "60000" },
		{ "sweep=60001", -EINVAL, "60000" },
		{ "sweep=1s", -EINVAL, "60000" },
		{ "ways=16,evict=lru,free=heap", -EINVAL, "list or bitmap" },
		{ "plocal=no", -EINVAL, "on or off" },
		{ "plocal=", -EINVAL, "on or off" },
		{ "plocal=OFF", -EINVAL, "on or off" },
		{ "plocal=off,ways=3", -EINVAL, "multiple of ways" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct excache_params p = defaults(), before = p;

		assert_int_equal(excache_parse_opts(bad[i].s, &p), bad[i].err);
		assert_non_null(p.error);
		if (!strstr(p.error, bad[i].why))
			fail_msg("'%s': message '%s' lacks '%s'", bad[i].s ? bad[i].s : "(null)",
				 p.error, bad[i].why);
		/* Nothing but the message changed (field by field: the
		 * struct has padding). */
		assert_int_equal(p.size, before.size);
		assert_int_equal(p.ways, before.ways);
		assert_int_equal(p.sweep_ms, before.sweep_ms);
		assert_int_equal(p.evict, before.evict);
		assert_int_equal(p.free, before.free);
		assert_int_equal(p.no_plocal, before.no_plocal);
	}

	/* A bad default set is reported too. */
	struct excache_params p = defaults();
	p.ways = 5;
	assert_int_equal(excache_params_check(&p), -EINVAL);
	assert_non_null(p.error);
	p = defaults();
	p.evict = 9;
	assert_int_equal(excache_params_check(&p), -EINVAL);
	p = defaults();
	p.sweep_ms = 0;
	assert_int_equal(excache_params_check(&p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_bad),
		cmocka_unit_test(test_phys),
		cmocka_unit_test(test_set_spread),
		cmocka_unit_test(test_lookup_insert),
		cmocka_unit_test(test_set_full),
		cmocka_unit_test(test_fifo_victims),
		cmocka_unit_test(test_lru_victims),
		cmocka_unit_test(test_lru_second_chance),
		cmocka_unit_test(test_busy),
		cmocka_unit_test(test_asid),
		cmocka_unit_test(test_model),
		cmocka_unit_test(test_opts_good),
		cmocka_unit_test(test_opts_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
