/*
 * Latency histogram of the ExCache (fetch times, paper §6.1/§6.2): log2
 * microsecond buckets. Bucket 0 counts times below 1 µs, bucket b (b >= 1)
 * times in [2^(b-1), 2^b) µs, and the last bucket everything longer.
 *
 * Header-only pure logic (host-tested in tests/unit/test_excache_hist.c).
 * excache_hist_add is safe against concurrent adds (relaxed atomic
 * increments); readers see an approximate snapshot.
 */
#ifndef LEGO_EXCACHE_HIST_H
#define LEGO_EXCACHE_HIST_H

#include <lego/types.h>

#define EXCACHE_HIST_BUCKETS 24u	/* the last one: >= 2^22 µs (4.2 s) */

struct excache_hist {
	u64 b[EXCACHE_HIST_BUCKETS];	/* atomic increments, no lock */
};

static inline u32 excache_hist_bucket(u64 us)
{
	if (us == 0)
		return 0;
	u32 b = 64u - (u32)__builtin_clzll(us);	/* floor(log2 us) + 1 */
	return b < EXCACHE_HIST_BUCKETS ? b : EXCACHE_HIST_BUCKETS - 1;
}

/* Upper bound (exclusive) of bucket b in µs: 1 for bucket 0, 2^b else. */
static inline u64 excache_hist_bucket_limit(u32 b)
{
	return 1ULL << b;
}

static inline void excache_hist_add(struct excache_hist *h, u64 us)
{
	__atomic_fetch_add(&h->b[excache_hist_bucket(us)], 1, __ATOMIC_RELAXED);
}

static inline u64 excache_hist_total(const struct excache_hist *h)
{
	u64 n = 0;

	for (u32 i = 0; i < EXCACHE_HIST_BUCKETS; i++)
		n += __atomic_load_n(&h->b[i], __ATOMIC_RELAXED);
	return n;
}

/*
 * The upper bound in µs of the bucket holding the pct-th percentile
 * (1..100): the smallest limit L such that at least pct% of the samples
 * are below L. 0 when the histogram is empty.
 */
static inline u64 excache_hist_percentile(const struct excache_hist *h, u32 pct)
{
	u64 snap[EXCACHE_HIST_BUCKETS], total = 0;

	for (u32 i = 0; i < EXCACHE_HIST_BUCKETS; i++) {
		snap[i] = __atomic_load_n(&h->b[i], __ATOMIC_RELAXED);
		total += snap[i];
	}
	if (!total)
		return 0;
	if (pct > 100)
		pct = 100;
	/* ceil(total * pct / 100) samples, at least one. */
	u64 want = (total * pct + 99) / 100;
	if (!want)
		want = 1;
	u64 seen = 0;
	for (u32 i = 0; i < EXCACHE_HIST_BUCKETS; i++) {
		seen += snap[i];
		if (seen >= want)
			return excache_hist_bucket_limit(i);
	}
	return excache_hist_bucket_limit(EXCACHE_HIST_BUCKETS - 1);
}

#endif
