/* Unit tests for kernel/buddy.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <lego/buddy.h>
#include <lego/errno.h>

struct fixture {
	struct buddy_zone z;
	struct buddy_page *meta;
};

static struct fixture *zone_new(pfn_t base, u64 npages)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->meta = calloc(npages ? npages : 1, sizeof(*f->meta));
	assert_non_null(f->meta);
	buddy_init(&f->z, base, npages, f->meta);
	assert_int_equal(buddy_check(&f->z), 0);
	return f;
}

static void zone_free(struct fixture *f)
{
	free(f->meta);
	free(f);
}

static void assert_nr_free(const struct buddy_zone *z, const u64 *want)
{
	for (unsigned k = 0; k < BUDDY_MAX_ORDER; k++)
		assert_int_equal(z->nr_free[k], want[k]);
}

static void test_init_all_reserved(void **state)
{
	struct fixture *f = zone_new(100, 64);

	assert_int_equal(buddy_free_pages(&f->z), 0);
	for (unsigned k = 0; k < BUDDY_MAX_ORDER; k++) {
		assert_true(list_empty(&f->z.free[k]));
		assert_int_equal(buddy_alloc(&f->z, k), -ENOMEM);
	}
	for (pfn_t p = 100; p < 164; p++) {
		assert_false(buddy_is_free(&f->z, p));
		assert_int_equal(buddy_free(&f->z, p, 0), -EINVAL);
	}
	assert_int_equal(buddy_check(&f->z), 0);
	zone_free(f);
}

static void test_empty_zone(void **state)
{
	struct fixture *f = zone_new(0, 0);

	buddy_free_range(&f->z, 0, 100);
	assert_int_equal(buddy_free_pages(&f->z), 0);
	assert_int_equal(buddy_alloc(&f->z, 0), -ENOMEM);
	assert_int_equal(buddy_free(&f->z, 0, 0), -EINVAL);
	assert_int_equal(buddy_check(&f->z), 0);
	zone_free(f);
}

static void test_free_range_aligned_zone(void **state)
{
	struct fixture *f = zone_new(0, 4096);
	const u64 want[BUDDY_MAX_ORDER] = { [10] = 4 };

	buddy_free_range(&f->z, 0, 4096);
	assert_int_equal(buddy_free_pages(&f->z), 4096);
	assert_nr_free(&f->z, want);
	assert_int_equal(buddy_check(&f->z), 0);
	for (pfn_t p = 0; p < 4096; p++)
		assert_true(buddy_is_free(&f->z, p));
	assert_false(buddy_is_free(&f->z, 4096));
	zone_free(f);
}

/* Blocks are aligned by absolute pfn, whatever the zone base. */
static void test_free_range_unaligned_zone(void **state)
{
	struct fixture *f = zone_new(3, 1030); /* pfns 3 .. 1032 */
	/* 3 | 4-7 | 8-15 | ... | 512-1023 | 1024-1031 | 1032 */
	const u64 want[BUDDY_MAX_ORDER] = { 2, 0, 1, 2, 1, 1, 1, 1, 1, 1, 0 };

	buddy_free_range(&f->z, 3, 1030);
	assert_int_equal(buddy_free_pages(&f->z), 1030);
	assert_nr_free(&f->z, want);
	assert_int_equal(buddy_check(&f->z), 0);
	assert_int_equal(buddy_alloc(&f->z, 10), -ENOMEM);
	assert_int_equal(buddy_alloc(&f->z, 9), 512);
	assert_int_equal(buddy_alloc(&f->z, 9), -ENOMEM);
	zone_free(f);
}

/* Two adjacent order-9 blocks that are not buddies never merge. */
static void test_no_merge_across_alignment(void **state)
{
	struct fixture *f = zone_new(512, 1024);
	const u64 want[BUDDY_MAX_ORDER] = { [9] = 2 };

	buddy_free_range(&f->z, 512, 1024);
	assert_nr_free(&f->z, want);
	assert_int_equal(buddy_alloc(&f->z, 10), -ENOMEM);
	assert_int_equal(buddy_free_pages(&f->z), 1024);
	zone_free(f);
}

/* Releasing in pieces, in any order, ends in the same fully merged state. */
static void test_free_range_pieces_coalesce(void **state)
{
	struct fixture *f = zone_new(0, 2048);
	const u64 want[BUDDY_MAX_ORDER] = { [10] = 2 };

	buddy_free_range(&f->z, 1000, 1048);
	buddy_free_range(&f->z, 1, 10);
	buddy_free_range(&f->z, 500, 500);
	buddy_free_range(&f->z, 11, 489);
	assert_int_equal(buddy_check(&f->z), 0);
	assert_int_equal(buddy_free_pages(&f->z), 2047);
	assert_false(buddy_is_free(&f->z, 0));
	buddy_free_range(&f->z, 0, 1);
	assert_nr_free(&f->z, want);
	assert_int_equal(buddy_free_pages(&f->z), 2048);

	/* Page by page, backwards. */
	zone_free(f);
	f = zone_new(0, 2048);
	for (pfn_t p = 2048; p-- > 0;)
		buddy_free_range(&f->z, p, 1);
	assert_nr_free(&f->z, want);
	assert_int_equal(buddy_check(&f->z), 0);
	zone_free(f);
}

static void test_free_range_clipping_and_overlap(void **state)
{
	struct fixture *f = zone_new(100, 100);

	buddy_free_range(&f->z, 0, 0);
	buddy_free_range(&f->z, 150, 0);
	assert_int_equal(buddy_free_pages(&f->z), 0);

	buddy_free_range(&f->z, 0, 120); /* starts below the zone */
	assert_int_equal(buddy_free_pages(&f->z), 20);
	buddy_free_range(&f->z, 110, 20); /* overlaps: only 120..129 are new */
	assert_int_equal(buddy_free_pages(&f->z), 30);
	buddy_free_range(&f->z, 190, UINT64_MAX); /* past the end, huge count */
	assert_int_equal(buddy_free_pages(&f->z), 40);
	buddy_free_range(&f->z, 500, 10); /* entirely outside */
	assert_int_equal(buddy_free_pages(&f->z), 40);
	buddy_free_range(&f->z, 100, 100); /* everything again */
	assert_int_equal(buddy_free_pages(&f->z), 100);
	assert_int_equal(buddy_check(&f->z), 0);
	zone_free(f);
}

/* Allocated pages are not reserved, so releasing around them skips them. */
static void test_free_range_skips_allocated(void **state)
{
	struct fixture *f = zone_new(0, 64);
	s64 p;

	buddy_free_range(&f->z, 0, 16);
	p = buddy_alloc(&f->z, 2);
	assert_int_equal(p, 0);
	buddy_free_range(&f->z, 0, 64);
	assert_int_equal(buddy_free_pages(&f->z), 60);
	assert_int_equal(buddy_check(&f->z), 0);
	assert_int_equal(buddy_alloc_order(&f->z, 0), 2);
	assert_int_equal(buddy_free(&f->z, 0, 2), 0);
	assert_int_equal(buddy_free_pages(&f->z), 64);
	assert_int_equal(f->z.nr_free[6], 1);
	zone_free(f);
}

static void test_split_and_merge(void **state)
{
	struct fixture *f = zone_new(1024, 1024);
	const u64 split[BUDDY_MAX_ORDER] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 };
	const u64 whole[BUDDY_MAX_ORDER] = { [10] = 1 };
	s64 p;

	buddy_free_range(&f->z, 1024, 1024);
	assert_nr_free(&f->z, whole);

	p = buddy_alloc(&f->z, 0);
	assert_int_equal(p, 1024); /* the low half is kept at each split */
	assert_nr_free(&f->z, split);
	assert_int_equal(buddy_free_pages(&f->z), 1023);
	assert_false(buddy_is_free(&f->z, 1024));
	assert_true(buddy_is_free(&f->z, 1025));
	assert_true(buddy_is_free(&f->z, 2047));
	assert_int_equal(buddy_alloc_order(&f->z, 1024), 0);
	assert_int_equal(buddy_check(&f->z), 0);

	assert_int_equal(buddy_free(&f->z, (pfn_t)p, 0), 0);
	assert_nr_free(&f->z, whole);
	assert_int_equal(buddy_free_pages(&f->z), 1024);
	assert_int_equal(buddy_check(&f->z), 0);
	zone_free(f);
}

static void test_bad_orders(void **state)
{
	struct fixture *f = zone_new(0, 1024);

	buddy_free_range(&f->z, 0, 1024);
	assert_int_equal(buddy_alloc(&f->z, BUDDY_MAX_ORDER), -EINVAL);
	assert_int_equal(buddy_alloc(&f->z, 1000), -EINVAL);
	assert_int_equal(buddy_alloc(&f->z, (unsigned)-1), -EINVAL);
	assert_int_equal(buddy_alloc(&f->z, BUDDY_MAX_ORDER - 1), 0);
	assert_int_equal(buddy_free(&f->z, 0, BUDDY_MAX_ORDER), -EINVAL);
	assert_int_equal(buddy_free(&f->z, 0, 64), -EINVAL);
	assert_int_equal(buddy_free(&f->z, 0, BUDDY_MAX_ORDER - 1), 0);
	zone_free(f);
}

/* Every invalid free is refused and leaves the zone exactly as it was. */
static void test_free_errors(void **state)
{
	struct fixture *f = zone_new(64, 128); /* pfns 64 .. 191 */
	struct buddy_page *snapshot = malloc(128 * sizeof(*snapshot));
	u64 nr_free[BUDDY_MAX_ORDER], free_pages;
	s64 a, b;

	assert_non_null(snapshot);
	buddy_free_range(&f->z, 64, 120); /* 184 .. 191 stay reserved */
	a = buddy_alloc(&f->z, 3);
	b = buddy_alloc(&f->z, 0);
	assert_true(a >= 64 && (a & 7) == 0);
	assert_true(b >= 64);

	memcpy(snapshot, f->meta, 128 * sizeof(*snapshot));
	memcpy(nr_free, f->z.nr_free, sizeof(nr_free));
	free_pages = f->z.free_pages;

	assert_int_equal(buddy_free(&f->z, 0, 0), -EINVAL);        /* below */
	assert_int_equal(buddy_free(&f->z, 63, 0), -EINVAL);       /* just below */
	assert_int_equal(buddy_free(&f->z, 192, 0), -EINVAL);      /* just above */
	assert_int_equal(buddy_free(&f->z, UINT64_MAX, 0), -EINVAL);
	assert_int_equal(buddy_free(&f->z, a + 1, 0), -EINVAL);    /* tail page */
	assert_int_equal(buddy_free(&f->z, a + 4, 2), -EINVAL);    /* inner sub-block */
	assert_int_equal(buddy_free(&f->z, a, 2), -EINVAL);        /* order too small */
	assert_int_equal(buddy_free(&f->z, a, 4), -EINVAL);        /* order too big */
	assert_int_equal(buddy_free(&f->z, a + 2, 3), -EINVAL);    /* misaligned */
	assert_int_equal(buddy_free(&f->z, (pfn_t)b, 1), -EINVAL); /* wrong order */
	assert_int_equal(buddy_free(&f->z, 184, 0), -EINVAL);      /* reserved */
	assert_int_equal(buddy_free(&f->z, 184, 3), -EINVAL);      /* reserved block */
	/* A free page that was never allocated. */
	for (pfn_t p = 64; p < 184; p++)
		if (buddy_is_free(&f->z, p))
			assert_int_equal(buddy_free(&f->z, p, 0), -EINVAL);

	assert_memory_equal(snapshot, f->meta, 128 * sizeof(*snapshot));
	assert_memory_equal(nr_free, f->z.nr_free, sizeof(nr_free));
	assert_int_equal(free_pages, f->z.free_pages);
	assert_int_equal(buddy_check(&f->z), 0);

	/* Double free: the second is refused, and so is a third. */
	assert_int_equal(buddy_free(&f->z, (pfn_t)a, 3), 0);
	memcpy(snapshot, f->meta, 128 * sizeof(*snapshot));
	assert_int_equal(buddy_free(&f->z, (pfn_t)a, 3), -EINVAL);
	assert_int_equal(buddy_free(&f->z, (pfn_t)a, 3), -EINVAL);
	assert_memory_equal(snapshot, f->meta, 128 * sizeof(*snapshot));
	assert_int_equal(buddy_free(&f->z, (pfn_t)b, 0), 0);
	assert_int_equal(buddy_free(&f->z, (pfn_t)b, 0), -EINVAL);
	assert_int_equal(buddy_free_pages(&f->z), 120);
	assert_int_equal(buddy_check(&f->z), 0);

	/* Freeing a block after it merged into a bigger free block. */
	assert_int_equal(buddy_alloc_order(&f->z, (pfn_t)a), -EINVAL);
	assert_int_equal(buddy_alloc_order(&f->z, 0), -EINVAL);
	free(snapshot);
	zone_free(f);
}

/* Exhaust at every order, check uniqueness and alignment, free all back. */
static void test_exhaust_each_order(void **state)
{
	for (unsigned order = 0; order < BUDDY_MAX_ORDER; order++) {
		const u64 n = 4096;
		struct fixture *f = zone_new(0, n);
		const u64 want[BUDDY_MAX_ORDER] = { [10] = 4 };
		u64 count = n >> order, got = 0;
		s64 *pfns = calloc(count, sizeof(*pfns));
		unsigned char *seen = calloc(n, 1);

		assert_non_null(pfns);
		assert_non_null(seen);
		buddy_free_range(&f->z, 0, n);
		for (;;) {
			s64 p = buddy_alloc(&f->z, order);

			if (p < 0) {
				assert_int_equal(p, -ENOMEM);
				break;
			}
			assert_true(got < count);
			assert_int_equal(p & ((1LL << order) - 1), 0);
			for (u64 i = 0; i < (1ULL << order); i++) {
				assert_false(seen[p + i]);
				seen[p + i] = 1;
			}
			pfns[got++] = p;
		}
		assert_int_equal(got, count);
		assert_int_equal(buddy_free_pages(&f->z), 0);
		for (unsigned k = 0; k < BUDDY_MAX_ORDER; k++)
			assert_int_equal(buddy_alloc(&f->z, k), -ENOMEM);
		assert_int_equal(buddy_check(&f->z), 0);

		/* Free in a shuffled order. */
		srand(1000 + order);
		for (u64 i = count; i > 1; i--) {
			u64 j = (u64)rand() % i;
			s64 t = pfns[i - 1];

			pfns[i - 1] = pfns[j];
			pfns[j] = t;
		}
		for (u64 i = 0; i < count; i++)
			assert_int_equal(buddy_free(&f->z, (pfn_t)pfns[i], order), 0);
		assert_nr_free(&f->z, want);
		assert_int_equal(buddy_free_pages(&f->z), n);
		assert_int_equal(buddy_check(&f->z), 0);
		free(pfns);
		free(seen);
		zone_free(f);
	}
}

/* Random allocs and frees on an awkward zone, checked against a per-page
 * model of who owns what. */
#define RZ_BASE 37
#define RZ_N 3001
#define RZ_MAXLIVE 400

struct live {
	pfn_t pfn;
	unsigned order;
};

static void test_random_against_model(void **state)
{
	struct fixture *f = zone_new(RZ_BASE, RZ_N);
	/* 0 reserved, 1 free, 2 allocated */
	unsigned char *model = calloc(RZ_N, 1);
	struct live live[RZ_MAXLIVE];
	u64 initial_nr_free[BUDDY_MAX_ORDER], model_free = 0;
	size_t nlive = 0;

	assert_non_null(model);
	/* Leave two holes reserved to make the layout irregular. */
	buddy_free_range(&f->z, RZ_BASE, 700);
	buddy_free_range(&f->z, RZ_BASE + 750, 1500);
	buddy_free_range(&f->z, RZ_BASE + 2300, RZ_N);
	for (u64 i = 0; i < RZ_N; i++) {
		bool rel = i < 700 || (i >= 750 && i < 2250) || i >= 2300;

		model[i] = rel ? 1 : 0;
		model_free += rel;
	}
	assert_int_equal(buddy_free_pages(&f->z), model_free);
	memcpy(initial_nr_free, f->z.nr_free, sizeof(initial_nr_free));

	srand(20240601);
	for (int step = 0; step < 60000; step++) {
		bool do_alloc = nlive == 0 || (nlive < RZ_MAXLIVE && rand() % 100 < 55);

		if (do_alloc) {
			/* Mostly small orders, sometimes big ones. */
			unsigned order = (rand() % 8 == 0) ? (unsigned)(rand() % BUDDY_MAX_ORDER)
							     : (unsigned)(rand() % 4);
			s64 p = buddy_alloc(&f->z, order);
			bool fits = false;

			/* The model says whether any free aligned block exists. */
			for (pfn_t pfn = ALIGN_UP((pfn_t)RZ_BASE, 1ULL << order);
			     !fits && pfn + (1ULL << order) <= RZ_BASE + RZ_N;
			     pfn += 1ULL << order) {
				u64 h = pfn - RZ_BASE, j;

				for (j = 0; j < (1ULL << order) && model[h + j] == 1; j++)
					;
				fits = (j == (1ULL << order));
			}
			if (p < 0) {
				assert_int_equal(p, -ENOMEM);
				assert_false(fits);
				continue;
			}
			assert_true(fits);
			assert_int_equal(p & ((1LL << order) - 1), 0);
			assert_true((pfn_t)p >= RZ_BASE && (pfn_t)p + (1ULL << order) <= RZ_BASE + RZ_N);
			for (u64 j = 0; j < (1ULL << order); j++) {
				assert_int_equal(model[p - RZ_BASE + j], 1);
				model[p - RZ_BASE + j] = 2;
			}
			model_free -= 1ULL << order;
			live[nlive].pfn = (pfn_t)p;
			live[nlive].order = order;
			nlive++;
		} else {
			size_t i = (size_t)rand() % nlive;

			assert_int_equal(buddy_free(&f->z, live[i].pfn, live[i].order), 0);
			/* and a double free right away is refused */
			assert_int_equal(buddy_free(&f->z, live[i].pfn, live[i].order), -EINVAL);
			for (u64 j = 0; j < (1ULL << live[i].order); j++)
				model[live[i].pfn - RZ_BASE + j] = 1;
			model_free += 1ULL << live[i].order;
			live[i] = live[--nlive];
		}
		assert_int_equal(buddy_free_pages(&f->z), model_free);
		if (step % 1000 == 0) {
			assert_int_equal(buddy_check(&f->z), 0);
			for (u64 h = 0; h < RZ_N; h++)
				assert_int_equal(buddy_is_free(&f->z, RZ_BASE + h), model[h] == 1);
		}
	}

	while (nlive > 0) {
		nlive--;
		assert_int_equal(buddy_free(&f->z, live[nlive].pfn, live[nlive].order), 0);
	}
	/* Everything merged back exactly as after boot. */
	assert_memory_equal(initial_nr_free, f->z.nr_free, sizeof(initial_nr_free));
	assert_int_equal(buddy_check(&f->z), 0);
	free(model);
	zone_free(f);
}

/* buddy_check() notices a damaged zone. */
static void test_check_detects_damage(void **state)
{
	struct fixture *f = zone_new(0, 64);

	buddy_free_range(&f->z, 0, 64);
	assert_int_equal(buddy_check(&f->z), 0);
	f->z.free_pages++;
	assert_int_equal(buddy_check(&f->z), -EINVAL);
	f->z.free_pages--;
	f->meta[5].flags = BUDDY_PAGE_ALLOC; /* stray head inside a free block */
	assert_int_equal(buddy_check(&f->z), -EINVAL);
	f->meta[5].flags = 0;
	f->z.nr_free[6]++;
	assert_int_equal(buddy_check(&f->z), -EINVAL);
	f->z.nr_free[6]--;
	assert_int_equal(buddy_check(&f->z), 0);
	zone_free(f);
}

/* Zones above 4 GiB of pfns keep working with 64-bit arithmetic. */
static void test_high_pfns(void **state)
{
	const pfn_t base = 0x123400000ULL;
	struct fixture *f = zone_new(base, 2048);
	s64 p;

	buddy_free_range(&f->z, base, 2048);
	assert_int_equal(f->z.nr_free[10], 2);
	p = buddy_alloc(&f->z, 10);
	assert_true((pfn_t)p == base || (pfn_t)p == base + 1024);
	assert_int_equal(buddy_free(&f->z, (pfn_t)p, 10), 0);
	assert_int_equal(f->z.nr_free[10], 2);
	zone_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_all_reserved),
		cmocka_unit_test(test_empty_zone),
		cmocka_unit_test(test_free_range_aligned_zone),
		cmocka_unit_test(test_free_range_unaligned_zone),
		cmocka_unit_test(test_no_merge_across_alignment),
		cmocka_unit_test(test_free_range_pieces_coalesce),
		cmocka_unit_test(test_free_range_clipping_and_overlap),
		cmocka_unit_test(test_free_range_skips_allocated),
		cmocka_unit_test(test_split_and_merge),
		cmocka_unit_test(test_bad_orders),
		cmocka_unit_test(test_free_errors),
		cmocka_unit_test(test_exhaust_each_order),
		cmocka_unit_test(test_random_against_model),
		cmocka_unit_test(test_check_detects_damage),
		cmocka_unit_test(test_high_pfns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
