/* Unit tests for kernel/bitmap.c, checked against a bool-per-bit model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <lego/bitmap.h>

#define NBITS 200 /* not a multiple of 64, so the last word is partial */
#define NWORDS BITS_TO_LONGS(NBITS)

static void model_check(const unsigned long *map, const bool *model, size_t nbits)
{
	for (size_t i = 0; i < nbits; i++)
		assert_int_equal(bitmap_test_bit(map, i), model[i]);
}

static size_t model_next(const bool *model, size_t nbits, size_t start, bool want)
{
	for (size_t i = start; i < nbits; i++)
		if (model[i] == want)
			return i;
	return nbits;
}

static size_t model_zero_area(const bool *model, size_t nbits, size_t start, size_t len)
{
	if (len == 0)
		return start < nbits ? start : nbits;
	for (size_t s = start; s + len <= nbits; s++) {
		size_t j;

		for (j = 0; j < len && !model[s + j]; j++)
			;
		if (j == len)
			return s;
	}
	return nbits;
}

static void random_map(unsigned long *map, bool *model, size_t nbits, int density)
{
	bitmap_zero(map, nbits);
	for (size_t i = 0; i < nbits; i++) {
		model[i] = (rand() % 100) < density;
		if (model[i])
			bitmap_set_bit(map, i);
	}
}

static void test_macros(void **state)
{
	DECLARE_BITMAP(m, 65);

	assert_int_equal(BITS_PER_LONG, 64);
	assert_int_equal(BITS_TO_LONGS(0), 0);
	assert_int_equal(BITS_TO_LONGS(1), 1);
	assert_int_equal(BITS_TO_LONGS(64), 1);
	assert_int_equal(BITS_TO_LONGS(65), 2);
	assert_int_equal(BITS_TO_LONGS(128), 2);
	assert_int_equal(sizeof(m), 2 * sizeof(unsigned long));
}

static void test_single_bits(void **state)
{
	unsigned long map[NWORDS];

	bitmap_zero(map, NBITS);
	for (size_t i = 0; i < NWORDS; i++)
		assert_int_equal(map[i], 0);

	bitmap_set_bit(map, 0);
	bitmap_set_bit(map, 63);
	bitmap_set_bit(map, 64);
	bitmap_set_bit(map, NBITS - 1);
	assert_int_equal(map[0], 1UL | (1UL << 63));
	assert_int_equal(map[1], 1UL);
	assert_true(bitmap_test_bit(map, 63));
	assert_true(bitmap_test_bit(map, 64));
	assert_false(bitmap_test_bit(map, 62));
	assert_false(bitmap_test_bit(map, 65));
	assert_true(bitmap_test_bit(map, NBITS - 1));
	/* Setting twice is idempotent. */
	bitmap_set_bit(map, 64);
	assert_int_equal(map[1], 1UL);

	bitmap_clear_bit(map, 63);
	assert_int_equal(map[0], 1UL);
	bitmap_clear_bit(map, 63);
	assert_int_equal(map[0], 1UL);
	assert_int_equal(bitmap_weight(map, NBITS), 3);
}

/* Every (start, len) pair on a small map, from both all-clear and all-set. */
static void test_ranges_exhaustive(void **state)
{
	enum { N = 150 };
	unsigned long map[BITS_TO_LONGS(N)];
	bool model[N];

	for (size_t start = 0; start <= N; start++) {
		for (size_t len = 0; start + len <= N; len++) {
			bitmap_zero(map, N);
			memset(model, 0, sizeof(model));
			bitmap_set_range(map, start, len);
			memset(model + start, 1, len);
			model_check(map, model, N);
			assert_int_equal(bitmap_weight(map, N), len);

			memset(map, 0xff, sizeof(map));
			memset(model, 1, sizeof(model));
			bitmap_clear_range(map, start, len);
			memset(model + start, 0, len);
			model_check(map, model, N);
			assert_int_equal(bitmap_weight(map, N), N - len);
		}
	}
}

static void test_range_leaves_neighbours(void **state)
{
	unsigned long map[3];

	memset(map, 0, sizeof(map));
	bitmap_set_range(map, 64, 64); /* exactly one word */
	assert_int_equal(map[0], 0);
	assert_int_equal(map[1], ~0UL);
	assert_int_equal(map[2], 0);

	memset(map, 0xff, sizeof(map));
	bitmap_clear_range(map, 1, 190);
	assert_int_equal(map[0], 1UL);
	assert_int_equal(map[1], 0);
	assert_int_equal(map[2], ~0UL << (191 - 128));
}

static void test_find_next_random(void **state)
{
	unsigned long map[NWORDS];
	bool model[NBITS];
	const int densities[] = { 0, 1, 10, 50, 90, 99, 100 };

	srand(4242);
	for (size_t d = 0; d < ARRAY_SIZE(densities); d++) {
		for (int round = 0; round < 20; round++) {
			random_map(map, model, NBITS, densities[d]);
			for (size_t start = 0; start <= NBITS + 3; start++) {
				assert_int_equal(bitmap_find_next_set(map, NBITS, start),
						 model_next(model, NBITS, start, true));
				assert_int_equal(bitmap_find_next_zero(map, NBITS, start),
						 model_next(model, NBITS, start, false));
			}
		}
	}
}

/* Bits past nbits in the last word must never be reported or counted. */
static void test_tail_bits_ignored(void **state)
{
	unsigned long map[NWORDS];

	memset(map, 0, sizeof(map));
	bitmap_set_range(map, NBITS, NWORDS * BITS_PER_LONG - NBITS);
	assert_int_equal(bitmap_find_next_set(map, NBITS, 0), NBITS);
	assert_int_equal(bitmap_weight(map, NBITS), 0);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 0, NBITS), 0);

	memset(map, 0xff, sizeof(map));
	bitmap_clear_range(map, NBITS, NWORDS * BITS_PER_LONG - NBITS);
	assert_int_equal(bitmap_find_next_zero(map, NBITS, 0), NBITS);
	assert_int_equal(bitmap_weight(map, NBITS), NBITS);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 0, 1), NBITS);

	/* A lone don't-care bit well past nbits, in the last word. */
	memset(map, 0, sizeof(map));
	bitmap_set_bit(map, NWORDS * BITS_PER_LONG - 6);
	assert_int_equal(bitmap_find_next_set(map, NBITS, 0), NBITS);
	assert_int_equal(bitmap_find_next_set(map, NBITS, NBITS - 1), NBITS);
	assert_int_equal(bitmap_weight(map, NBITS), 0);
	memset(map, 0xff, sizeof(map));
	bitmap_clear_bit(map, NWORDS * BITS_PER_LONG - 6);
	assert_int_equal(bitmap_find_next_zero(map, NBITS, 0), NBITS);
	assert_int_equal(bitmap_find_next_zero(map, NBITS, 190), NBITS);

	/* nbits on a word boundary */
	memset(map, 0xff, sizeof(map));
	assert_int_equal(bitmap_find_next_zero(map, 128, 0), 128);
	assert_int_equal(bitmap_weight(map, 128), 128);
	assert_int_equal(bitmap_weight(map, 0), 0);
	assert_int_equal(bitmap_find_next_set(map, 0, 0), 0);
}

static void test_find_start_past_end(void **state)
{
	unsigned long map[NWORDS];

	bitmap_zero(map, NBITS);
	assert_int_equal(bitmap_find_next_zero(map, NBITS, NBITS), NBITS);
	assert_int_equal(bitmap_find_next_zero(map, NBITS, NBITS + 1000), NBITS);
	assert_int_equal(bitmap_find_next_set(map, NBITS, SIZE_MAX), NBITS);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, NBITS, 1), NBITS);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, SIZE_MAX, 1), NBITS);
}

static void test_zero_area_basic(void **state)
{
	unsigned long map[NWORDS];

	bitmap_zero(map, NBITS);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 0, NBITS), 0);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 1, NBITS), NBITS);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 0, NBITS + 1), NBITS);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 0, SIZE_MAX), NBITS);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 5, 0), 5);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, NBITS + 5, 0), NBITS);

	/* Holes of 3, 10 and, at the very end, 20 bits. */
	bitmap_set_range(map, 0, NBITS);
	bitmap_clear_range(map, 10, 3);
	bitmap_clear_range(map, 60, 10);
	bitmap_clear_range(map, NBITS - 20, 20);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 0, 1), 10);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 0, 3), 10);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 0, 4), 60);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 11, 2), 11);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 11, 3), 60);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 0, 11), NBITS - 20);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 0, 20), NBITS - 20);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, 0, 21), NBITS);
	assert_int_equal(bitmap_find_zero_area(map, NBITS, NBITS - 1, 1), NBITS - 1);
}

static void test_zero_area_random(void **state)
{
	unsigned long map[NWORDS];
	bool model[NBITS];
	const int densities[] = { 5, 20, 50 };

	srand(777);
	for (size_t d = 0; d < ARRAY_SIZE(densities); d++) {
		for (int round = 0; round < 10; round++) {
			random_map(map, model, NBITS, densities[d]);
			for (size_t start = 0; start <= NBITS; start += 7)
				for (size_t len = 0; len <= 40; len++)
					assert_int_equal(
						bitmap_find_zero_area(map, NBITS, start, len),
						model_zero_area(model, NBITS, start, len));
		}
	}
}

static void test_weight_random(void **state)
{
	unsigned long map[NWORDS];
	bool model[NBITS];

	srand(99);
	for (int round = 0; round < 50; round++) {
		random_map(map, model, NBITS, rand() % 101);
		for (size_t n = 0; n <= NBITS; n++) {
			size_t w = 0;

			for (size_t i = 0; i < n; i++)
				w += model[i];
			assert_int_equal(bitmap_weight(map, n), w);
		}
	}
}

/* A bitmap used as an id allocator: allocate all, free some, reallocate. */
static void test_allocator_pattern(void **state)
{
	unsigned long map[NWORDS];
	size_t id;

	bitmap_zero(map, NBITS);
	for (size_t i = 0; i < NBITS; i++) {
		id = bitmap_find_next_zero(map, NBITS, 0);
		assert_int_equal(id, i);
		bitmap_set_bit(map, id);
	}
	assert_int_equal(bitmap_find_next_zero(map, NBITS, 0), NBITS);
	bitmap_clear_bit(map, 130);
	bitmap_clear_bit(map, 7);
	assert_int_equal(bitmap_find_next_zero(map, NBITS, 0), 7);
	assert_int_equal(bitmap_find_next_zero(map, NBITS, 8), 130);
	assert_int_equal(bitmap_weight(map, NBITS), NBITS - 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_macros),
		cmocka_unit_test(test_single_bits),
		cmocka_unit_test(test_ranges_exhaustive),
		cmocka_unit_test(test_range_leaves_neighbours),
		cmocka_unit_test(test_find_next_random),
		cmocka_unit_test(test_tail_bits_ignored),
		cmocka_unit_test(test_find_start_past_end),
		cmocka_unit_test(test_zero_area_basic),
		cmocka_unit_test(test_zero_area_random),
		cmocka_unit_test(test_weight_random),
		cmocka_unit_test(test_allocator_pattern),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
