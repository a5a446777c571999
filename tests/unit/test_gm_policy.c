/*
 * Unit tests for gm/lib/policy.c: the global managers' placement policies
 * (paper §4.6) on synthetic clusters. Besides hand-made cases, random
 * clusters are checked against a brute-force reference, and every answer
 * must be the same for every order of the same components (ties go to
 * the lowest node id).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Relative: the unit-test build has no -I for gm/include. */
#include "../../gm/include/gm/policy.h"

#define MIB (1ull << 20)

static struct gm_pol_comp comp(uint32_t id, uint32_t threads, uint64_t free_mib, uint64_t load,
			       uint64_t st_free_mib)
{
	struct gm_pol_comp c;

	memset(&c, 0, sizeof(c));
	c.node_id = id;
	c.cpus = 2;
	c.threads = threads;
	c.mem_total_bytes = 1024 * MIB;
	c.mem_free_bytes = free_mib * MIB;
	c.load = load;
	c.storage_total_bytes = 4096 * MIB;
	c.storage_free_bytes = st_free_mib * MIB;
	return c;
}

/* The id a policy chose, or its error. */
static int64_t chosen(gm_policy_fn fn, const struct gm_pol_comp *c, size_t n, uint64_t need)
{
	int i = fn(c, n, need);

	if (i < 0)
		return i;
	assert_true((size_t)i < n);
	return c[i].node_id;
}

static void test_empty_cluster(void **state)
{
	struct gm_pol_comp none[1] = { { 0 } };

	assert_int_equal(gm_policy_fewest_threads(none, 0, 0), -EHOSTDOWN);
	assert_int_equal(gm_policy_least_loaded_memory(none, 0, 0), -EHOSTDOWN);
	assert_int_equal(gm_policy_most_free_memory(none, 0, 0), -EHOSTDOWN);
	assert_int_equal(gm_policy_most_free_storage(none, 0, 0), -EHOSTDOWN);
}

static void test_gpm_fewest_threads(void **state)
{
	struct gm_pol_comp c[] = {
		comp(1000, 12, 0, 0, 0), comp(1001, 3, 0, 0, 0), comp(1002, 7, 0, 0, 0),
	};

	assert_int_equal(chosen(gm_policy_fewest_threads, c, 3, 0), 1001);
	/* Threads alone count: more cpus do not matter. */
	c[0].cpus = 64;
	assert_int_equal(chosen(gm_policy_fewest_threads, c, 3, 0), 1001);
	/* A tie goes to the lowest id, wherever it sits. */
	c[2].threads = 3;
	assert_int_equal(chosen(gm_policy_fewest_threads, c, 3, 0), 1001);
	c[0].threads = 3;
	assert_int_equal(chosen(gm_policy_fewest_threads, c, 3, 0), 1000);
	struct gm_pol_comp r[] = { c[2], c[1], c[0] };
	assert_int_equal(chosen(gm_policy_fewest_threads, r, 3, 0), 1000);
	/* One component: it. */
	assert_int_equal(chosen(gm_policy_fewest_threads, &c[2], 1, 0), 1002);
}

static void test_gmm_least_loaded(void **state)
{
	struct gm_pol_comp c[] = {
		comp(2000, 0, 900, 50, 0),	/* plenty of memory, busy */
		comp(2001, 0, 10, 1, 0),	/* idle but almost full */
		comp(2002, 0, 300, 20, 0),
		comp(2003, 0, 300, 20, 0),
	};

	/* A 64 MiB vRegion: 2001 lacks the memory, 2002/2003 tie on load. */
	assert_int_equal(chosen(gm_policy_least_loaded_memory, c, 4, 64 * MIB), 2002);
	/* A small one fits the idle node. */
	assert_int_equal(chosen(gm_policy_least_loaded_memory, c, 4, 4 * MIB), 2001);
	/* Exactly the free memory is enough. */
	assert_int_equal(chosen(gm_policy_least_loaded_memory, c, 4, 10 * MIB), 2001);
	/* Only the busy one is big enough. */
	assert_int_equal(chosen(gm_policy_least_loaded_memory, c, 4, 500 * MIB), 2000);
	/* Nobody has it. */
	assert_int_equal(chosen(gm_policy_least_loaded_memory, c, 4, 901 * MIB), -ENOSPC);
	/* need 0: anybody qualifies; the least loaded wins. */
	assert_int_equal(chosen(gm_policy_least_loaded_memory, c, 4, 0), 2001);
}

static void test_gmm_most_free(void **state)
{
	struct gm_pol_comp c[] = {
		comp(2005, 0, 300, 0, 0), comp(2001, 0, 900, 99, 0), comp(2002, 0, 900, 0, 0),
	};

	assert_int_equal(chosen(gm_policy_most_free_memory, c, 3, 64 * MIB), 2001);
	assert_int_equal(chosen(gm_policy_most_free_memory, c, 3, 901 * MIB), -ENOSPC);
	c[1].mem_free_bytes = 0;
	assert_int_equal(chosen(gm_policy_most_free_memory, c, 3, 0), 2002);
}

static void test_gsm_most_free(void **state)
{
	struct gm_pol_comp c[] = {
		comp(3002, 0, 0, 0, 100), comp(3000, 0, 0, 0, 4000), comp(3001, 0, 0, 0, 4000),
		comp(3003, 0, 0, 0, 5),
	};

	assert_int_equal(chosen(gm_policy_most_free_storage, c, 4, 0), 3000);
	assert_int_equal(chosen(gm_policy_most_free_storage, c, 4, 4001 * MIB), -ENOSPC);
	c[1].storage_free_bytes = 10;
	assert_int_equal(chosen(gm_policy_most_free_storage, c, 4, 0), 3001);
	/* All empty (a storage node that reports no capacity): lowest id. */
	for (int i = 0; i < 4; i++)
		c[i].storage_free_bytes = 0;
	assert_int_equal(chosen(gm_policy_most_free_storage, c, 4, 0), 3000);
}

/* A component flagged unhealthy is never chosen, by any policy; with
 * only such components the answer is -EHOSTDOWN, not -ENOSPC. */
static void test_unhealthy(void **state)
{
	static const gm_policy_fn fns[] = {
		gm_policy_fewest_threads, gm_policy_least_loaded_memory,
		gm_policy_most_free_memory, gm_policy_most_free_storage,
	};
	struct gm_pol_comp c[3] = {
		comp(3000, 0, 1000, 0, 4000),	/* the best by every key */
		comp(3001, 5, 100, 9, 100),
		comp(3002, 6, 50, 9, 50),
	};

	c[0].flags = GM_POL_UNHEALTHY;
	assert_int_equal(chosen(gm_policy_fewest_threads, c, 3, 0), 3001);
	assert_int_equal(chosen(gm_policy_least_loaded_memory, c, 3, 0), 3001);
	assert_int_equal(chosen(gm_policy_most_free_memory, c, 3, 0), 3001);
	assert_int_equal(chosen(gm_policy_most_free_storage, c, 3, 0), 3001);
	/* Healthy ones without room: -ENOSPC (the unhealthy one has room). */
	assert_int_equal(chosen(gm_policy_most_free_storage, c, 3, 200 * MIB), -ENOSPC);
	assert_int_equal(chosen(gm_policy_least_loaded_memory, c, 3, 200 * MIB), -ENOSPC);
	/* Only unhealthy ones: -EHOSTDOWN whatever the need. */
	c[1].flags = c[2].flags = GM_POL_UNHEALTHY;
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		assert_int_equal(fns[i](c, 3, 0), -EHOSTDOWN);
		assert_int_equal(fns[i](c, 3, 1ull << 40), -EHOSTDOWN);
		assert_int_equal(fns[i](c, 1, 0), -EHOSTDOWN);
	}
	c[2].flags = 0;
	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
		assert_int_equal(chosen(fns[i], c, 3, 0), 3002);
}

static void test_default_table(void **state)
{
	assert_ptr_equal(gm_policies_default.gpm_place, gm_policy_fewest_threads);
	assert_ptr_equal(gm_policies_default.gmm_home, gm_policy_least_loaded_memory);
	assert_ptr_equal(gm_policies_default.gmm_vregion, gm_policy_least_loaded_memory);
	assert_ptr_equal(gm_policies_default.gsm_place, gm_policy_most_free_storage);
}

/* ---- random clusters against a brute-force reference ---- */

static uint64_t rng = 88172645463325252ull;

static uint64_t rnd(uint64_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return n ? rng % n : 0;
}

/* Reference: key(a) < key(b), ties by id; eligible(c) filters; unhealthy
 * components are never eligible. */
enum ref_kind { REF_THREADS, REF_LOAD, REF_MEMFREE, REF_STFREE };

static int64_t reference(enum ref_kind k, const struct gm_pol_comp *c, size_t n, uint64_t need)
{
	const struct gm_pol_comp *best = NULL;
	size_t healthy = 0;

	for (size_t i = 0; i < n; i++)
		healthy += !(c[i].flags & GM_POL_UNHEALTHY);
	if (!healthy)
		return -EHOSTDOWN;
	for (size_t i = 0; i < n; i++) {
		const struct gm_pol_comp *x = &c[i];
		int cmp;

		if (x->flags & GM_POL_UNHEALTHY)
			continue;
		if ((k == REF_LOAD || k == REF_MEMFREE) && x->mem_free_bytes < need)
			continue;
		if (k == REF_STFREE && x->storage_free_bytes < need)
			continue;
		if (!best) {
			best = x;
			continue;
		}
		switch (k) {
		case REF_THREADS:
			cmp = x->threads < best->threads ? -1 : x->threads > best->threads;
			break;
		case REF_LOAD:
			cmp = x->load < best->load ? -1 : x->load > best->load;
			break;
		case REF_MEMFREE:
			cmp = x->mem_free_bytes > best->mem_free_bytes ? -1
			      : x->mem_free_bytes < best->mem_free_bytes;
			break;
		default:
			cmp = x->storage_free_bytes > best->storage_free_bytes ? -1
			      : x->storage_free_bytes < best->storage_free_bytes;
			break;
		}
		if (cmp < 0 || (cmp == 0 && x->node_id < best->node_id))
			best = x;
	}
	return best ? (int64_t)best->node_id : -ENOSPC;
}

static void test_random_clusters(void **state)
{
	static const struct {
		gm_policy_fn fn;
		enum ref_kind k;
	} pol[] = {
		{ gm_policy_fewest_threads, REF_THREADS },
		{ gm_policy_least_loaded_memory, REF_LOAD },
		{ gm_policy_most_free_memory, REF_MEMFREE },
		{ gm_policy_most_free_storage, REF_STFREE },
	};
	struct gm_pol_comp c[24], s[24];

	for (int iter = 0; iter < 3000; iter++) {
		size_t n = rnd(25);
		uint64_t need = rnd(4) ? rnd(8) * 16 * MIB : 0;

		/* Few distinct values: ties are common. */
		for (size_t i = 0; i < n; i++) {
			c[i] = comp(2000 + (uint32_t)i * 3 + (uint32_t)rnd(3), (uint32_t)rnd(4),
				    rnd(6) * 32, rnd(4), rnd(5) * 100);
			/* Some unhealthy ones: never chosen. */
			if (rnd(6) == 0)
				c[i].flags = GM_POL_UNHEALTHY;
		}
		/* Distinct ids (a registry never holds two equal ones). */
		for (size_t i = 1; i < n; i++)
			if (c[i].node_id <= c[i - 1].node_id)
				c[i].node_id = c[i - 1].node_id + 1;
		for (size_t p = 0; p < sizeof(pol) / sizeof(pol[0]); p++) {
			int64_t want = reference(pol[p].k, c, n, need);

			assert_int_equal(chosen(pol[p].fn, c, n, need), want);
			/* Any order gives the same answer. */
			for (int sh = 0; sh < 3; sh++) {
				memcpy(s, c, n * sizeof(*c));
				for (size_t i = n; i > 1; i--) {
					size_t j = rnd(i);
					struct gm_pol_comp t = s[i - 1];

					s[i - 1] = s[j];
					s[j] = t;
				}
				assert_int_equal(chosen(pol[p].fn, s, n, need), want);
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_cluster),
		cmocka_unit_test(test_gpm_fewest_threads),
		cmocka_unit_test(test_gmm_least_loaded),
		cmocka_unit_test(test_gmm_most_free),
		cmocka_unit_test(test_gsm_most_free),
		cmocka_unit_test(test_unhealthy),
		cmocka_unit_test(test_default_table),
		cmocka_unit_test(test_random_clusters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
