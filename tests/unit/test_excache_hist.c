/* Host tests of the ExCache latency histogram (include/lego/excache_hist.h):
 * bucket boundaries, the overflow bucket and percentiles. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <lego/excache_hist.h>

static void test_buckets(void **state)
{
	(void)state;
	assert_int_equal(excache_hist_bucket(0), 0);
	assert_int_equal(excache_hist_bucket(1), 1);
	assert_int_equal(excache_hist_bucket(2), 2);
	assert_int_equal(excache_hist_bucket(3), 2);
	assert_int_equal(excache_hist_bucket(4), 3);
	assert_int_equal(excache_hist_bucket(1023), 10);
	assert_int_equal(excache_hist_bucket(1024), 11);
	assert_int_equal(excache_hist_bucket(~0ULL), EXCACHE_HIST_BUCKETS - 1);
	assert_int_equal(excache_hist_bucket(1ULL << 22), EXCACHE_HIST_BUCKETS - 1);
	assert_int_equal(excache_hist_bucket((1ULL << 22) - 1), EXCACHE_HIST_BUCKETS - 2);
	/* Every value lies below its bucket's limit and at or above the
	 * previous one's. */
	for (u64 v = 0; v < 5000; v++) {
		u32 b = excache_hist_bucket(v);
		assert_true(v < excache_hist_bucket_limit(b));
		if (b)
			assert_true(v >= excache_hist_bucket_limit(b - 1));
	}
}

static void test_percentiles(void **state)
{
	struct excache_hist h;

	(void)state;
	memset(&h, 0, sizeof(h));
	assert_int_equal(excache_hist_percentile(&h, 50), 0);
	assert_int_equal(excache_hist_total(&h), 0);
	for (int i = 0; i < 98; i++)
		excache_hist_add(&h, 10);	/* bucket [8, 16) */
	excache_hist_add(&h, 100);		/* [64, 128) */
	excache_hist_add(&h, 5000);		/* [4096, 8192) */
	assert_int_equal(excache_hist_total(&h), 100);
	assert_int_equal(excache_hist_percentile(&h, 50), 16);
	assert_int_equal(excache_hist_percentile(&h, 98), 16);
	assert_int_equal(excache_hist_percentile(&h, 99), 128);
	assert_int_equal(excache_hist_percentile(&h, 100), 8192);
	assert_int_equal(excache_hist_percentile(&h, 1000), 8192);
	assert_int_equal(excache_hist_percentile(&h, 0), 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_percentiles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
