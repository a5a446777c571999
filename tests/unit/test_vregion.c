/* Unit tests for include/lego/vregion.h (managers/memory/vregion.c): the
 * home's vRegion array, range splitting and first-level placement. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <lego/vregion.h>
#include <lego/errno.h>

#define GIB (1ULL << 30)
#define S30 30u

static struct vregion mk(u32 index, u64 free, u64 gap, u32 nvmas)
{
	struct vregion v;
	memset(&v, 0, sizeof(v));
	v.index = index;
	v.owner_node = 2000 + index;
	v.owner_ip = 0x0a000000u + index;
	v.owner_port = 4700;
	v.free_bytes = free;
	v.max_gap = gap;
	v.nr_vmas = nvmas;
	return v;
}

static void test_geometry(void **state)
{
	u64 lo, hi;

	assert_int_equal(vregion_nr(S30), 131072);	/* 128 TiB - 4 KiB in 1 GiB pieces */
	vregion_bounds(S30, 0, &lo, &hi);
	assert_true(lo == 0 && hi == GIB);
	vregion_bounds(S30, 131071, &lo, &hi);
	assert_true(lo == 131071ULL * GIB && hi == LEGO_USER_TOP);
	assert_true(vregion_size(S30, 131071) == GIB - 4096);
	assert_true(vregion_size(S30, 5) == GIB);
	assert_int_equal(vregion_nr(46), 2);
	assert_int_equal(vregion_nr(21), (u32)((LEGO_USER_TOP + (2ULL << 20) - 1) >> 21));
}

static void test_insert_find_remove(void **state)
{
	struct vregion st[4];
	struct vregion_array a;
	vregion_array_init(&a, S30, st, 4);

	struct vregion e = mk(7, GIB, GIB, 0);
	assert_int_equal(vregion_insert(&a, &e), 0);
	e = mk(3, GIB, GIB, 0);
	assert_int_equal(vregion_insert(&a, &e), 0);
	e = mk(100, GIB, GIB, 0);
	assert_int_equal(vregion_insert(&a, &e), 0);
	e = mk(7, GIB, GIB, 0);
	assert_int_equal(vregion_insert(&a, &e), -EEXIST);
	assert_int_equal(a.count, 3);
	assert_int_equal(a.generation, 3);
	assert_int_equal(a.v[0].index, 3);
	assert_int_equal(a.v[1].index, 7);
	assert_int_equal(a.v[2].index, 100);
	assert_non_null(vregion_find(&a, 7));
	assert_int_equal(vregion_find(&a, 7)->owner_node, 2007);
	assert_null(vregion_find(&a, 8));
	assert_null(vregion_find(&a, 0));

	e = mk(131072, GIB, GIB, 0);
	assert_int_equal(vregion_insert(&a, &e), -EINVAL);
	e = mk(1, GIB, GIB, 0);
	assert_int_equal(vregion_insert(&a, &e), 0);
	e = mk(2, GIB, GIB, 0);
	assert_int_equal(vregion_insert(&a, &e), -ENOSPC);

	/* Grow and go on. */
	struct vregion big[8];
	vregion_array_move(&a, big, 8);
	assert_int_equal(vregion_insert(&a, &e), 0);
	assert_int_equal(a.count, 5);
	for (u32 i = 1; i < a.count; i++)
		assert_true(a.v[i - 1].index < a.v[i].index);

	assert_int_equal(vregion_remove(&a, 7), 0);
	assert_int_equal(vregion_remove(&a, 7), -ENOENT);
	assert_null(vregion_find(&a, 7));
	assert_int_equal(a.count, 4);
	u32 g = a.generation;
	assert_int_equal(vregion_remove(&a, 1), 0);
	assert_int_equal(a.generation, g + 1);

	struct lego_mem_vregion w[8];
	assert_int_equal(vregion_encode(&a, w, 8), 3);
	assert_int_equal(w[0].index, 2);
	assert_int_equal(w[1].index, 3);
	assert_int_equal(w[2].index, 100);
	assert_int_equal(w[2].owner_node, 2100);
	assert_int_equal(w[2].owner_ipv4, 0x0a000064u);
	assert_int_equal(w[2].owner_port, 4700);
	assert_int_equal(vregion_encode(&a, w, 2), 2);
}

static void test_pieces(void **state)
{
	struct vregion_piece p;
	u64 pos;

	/* Inside one vRegion. */
	pos = GIB + 4096;
	assert_true(vregion_piece_next(S30, &pos, GIB + 8192, &p));
	assert_true(p.index == 1 && p.start == GIB + 4096 && p.end == GIB + 8192);
	assert_false(vregion_piece_next(S30, &pos, GIB + 8192, &p));
	assert_int_equal(vregion_piece_count(S30, GIB + 4096, GIB + 8192), 1);

	/* Across three. */
	u64 s = GIB - 4096, e = 3 * GIB + 4096;
	assert_int_equal(vregion_piece_count(S30, s, e), 4);
	pos = s;
	u32 n = 0;
	u64 covered = 0, prev_end = s;
	while (vregion_piece_next(S30, &pos, e, &p)) {
		assert_true(p.start == prev_end);
		assert_true(p.end > p.start);
		assert_true((p.start >> S30) == p.index);
		assert_true(((p.end - 1) >> S30) == p.index);
		covered += p.end - p.start;
		prev_end = p.end;
		n++;
	}
	assert_int_equal(n, 4);
	assert_true(covered == e - s);

	/* Exactly one vRegion. */
	assert_int_equal(vregion_piece_count(S30, 2 * GIB, 3 * GIB), 1);
	assert_int_equal(vregion_piece_count(S30, 2 * GIB, 2 * GIB), 0);

	/* The short last vRegion. */
	pos = LEGO_USER_TOP - 8192;
	assert_true(vregion_piece_next(S30, &pos, LEGO_USER_TOP, &p));
	assert_true(p.index == 131071 && p.end == LEGO_USER_TOP);
	assert_false(vregion_piece_next(S30, &pos, LEGO_USER_TOP, &p));
}

static void test_candidates(void **state)
{
	struct vregion st[8];
	struct vregion_array a;
	vregion_array_init(&a, S30, st, 8);
	u32 top = 131071, idx;
	s64 cur;

	/* Empty: the top vRegion (inactive) first. */
	cur = top;
	assert_int_equal(vregion_next_candidate(&a, &cur, 4096, &idx), 0);
	assert_int_equal(idx, top);
	assert_int_equal(cur, top - 1);

	/* The top one active with room: used; full: skipped to the inactive
	 * one below. */
	struct vregion e = mk(top, GIB / 2, GIB / 4, 3);
	vregion_insert(&a, &e);
	cur = top;
	assert_int_equal(vregion_next_candidate(&a, &cur, GIB / 4, &idx), 1);
	assert_int_equal(idx, top);
	cur = top;
	assert_int_equal(vregion_next_candidate(&a, &cur, GIB / 4 + 4096, &idx), 0);
	assert_int_equal(idx, top - 1);

	/* A run of full active ones below is walked over. */
	for (u32 k = 1; k <= 3; k++) {
		e = mk(top - k, 0, 0, 9);
		vregion_insert(&a, &e);
	}
	cur = top;
	assert_int_equal(vregion_next_candidate(&a, &cur, GIB / 2, &idx), 0);
	assert_int_equal(idx, top - 4);
	/* Continuing the walk gives the next lower one. */
	assert_int_equal(vregion_next_candidate(&a, &cur, GIB / 2, &idx), 0);
	assert_int_equal(idx, top - 5);

	/* vRegion 0 is never activated; the walk ends with -ENOMEM. */
	cur = 0;
	assert_int_equal(vregion_next_candidate(&a, &cur, 4096, &idx), -ENOMEM);
	e = mk(0, GIB / 2, GIB / 2, 1);
	vregion_insert(&a, &e);
	cur = 0;
	assert_int_equal(vregion_next_candidate(&a, &cur, 4096, &idx), 1);
	assert_int_equal(idx, 0);
	assert_int_equal(vregion_next_candidate(&a, &cur, 4096, &idx), -ENOMEM);

	/* Too long for the short top vRegion: skipped. */
	struct vregion st2[2];
	struct vregion_array b;
	vregion_array_init(&b, S30, st2, 2);
	cur = top;
	assert_int_equal(vregion_next_candidate(&b, &cur, GIB, &idx), 0);
	assert_int_equal(idx, top - 1);
}

static void test_free_runs(void **state)
{
	struct vregion st[8];
	struct vregion_array a;
	vregion_array_init(&a, S30, st, 8);
	u32 first;
	u64 base = LEGO_USER_TOP - (128ULL << 20);	/* the usual mmap_base */

	/* Wholly below mmap_base (in the top vRegion): the highest run. */
	assert_int_equal(vregion_find_free_run(&a, base, 2, &first), 0);
	assert_int_equal(first, 131069);

	/* An active part-used vRegion breaks runs; a wholly free one doesn't. */
	struct vregion e = mk(131069, GIB - 4096, GIB - 4096, 1);
	vregion_insert(&a, &e);
	assert_int_equal(vregion_find_free_run(&a, base, 2, &first), 0);
	assert_int_equal(first, 131067);
	e = mk(131068, GIB, GIB, 0);
	vregion_insert(&a, &e);
	assert_int_equal(vregion_find_free_run(&a, base, 2, &first), 0);
	assert_int_equal(first, 131067);
	assert_int_equal(vregion_find_free_run(&a, base, 1, &first), 0);
	assert_int_equal(first, 131070);
	assert_int_equal(vregion_find_free_run(&a, 131069ULL * GIB, 1, &first), 0);
	assert_int_equal(first, 131068);

	/* Small address spaces: vRegion 0 is never part of a run. */
	assert_int_equal(vregion_find_free_run(&a, 3 * GIB, 2, &first), 0);
	assert_int_equal(first, 1);
	assert_int_equal(vregion_find_free_run(&a, 3 * GIB, 3, &first), -ENOMEM);
	assert_int_equal(vregion_find_free_run(&a, GIB, 1, &first), -ENOMEM);
	assert_int_equal(vregion_find_free_run(&a, GIB, 0, &first), -EINVAL);

	/* Up to the very top: the short last vRegion counts. */
	assert_int_equal(vregion_find_free_run(&a, LEGO_USER_TOP, 1, &first), 0);
	assert_int_equal(first, 131071);
}

/* Random inserts and removes against a bitmap model. */
static void test_random_model(void **state)
{
	static u8 model[64];
	struct vregion st[64];
	struct vregion_array a;
	vregion_array_init(&a, S30, st, 64);
	srand(12345);
	for (int it = 0; it < 20000; it++) {
		u32 idx = (u32)rand() % 64;
		if (rand() & 1) {
			struct vregion e = mk(idx, GIB, GIB, 0);
			int r = vregion_insert(&a, &e);
			assert_int_equal(r, model[idx] ? -EEXIST : 0);
			model[idx] = 1;
		} else {
			int r = vregion_remove(&a, idx);
			assert_int_equal(r, model[idx] ? 0 : -ENOENT);
			model[idx] = 0;
		}
		u32 cnt = 0;
		for (u32 k = 0; k < 64; k++) {
			cnt += model[k];
			assert_int_equal(vregion_find(&a, k) != NULL, model[k]);
		}
		assert_int_equal(a.count, cnt);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_insert_find_remove),
		cmocka_unit_test(test_pieces),
		cmocka_unit_test(test_candidates),
		cmocka_unit_test(test_free_runs),
		cmocka_unit_test(test_random_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
