/*
 * stbench.h: what the two clients of tests/bench/storage-io share, so that
 * they do exactly the same I/O:
 *
 *   stclient.c  LegoOS: a Linux program in the rack's namespace calling the
 *               storage monitor (include/uapi/lego/storage.h) over RPC
 *   odirect.c   Linux: a static program in a Linux guest doing O_DIRECT I/O
 *               on its virtio-blk disk /dev/vda
 *
 * Both see "the file" as FILE_SIZE bytes of 4 KiB blocks, whose content is a
 * pure function of the block number (st_fill), and run the same tests:
 *
 *   seqread   N 4 KiB reads at block 0, 1, 2, ... (wrapping at the end)
 *   randread  N 4 KiB reads at uniformly random blocks (st_rand, seed)
 *   write     N 4 KiB writes, each followed by a flush to stable storage
 *             (FSYNC / fdatasync); the pair is one timed op; blocks are
 *             uniformly random (seed + 1); the data written is the block's
 *             own content, so later reads still verify
 *
 * Each test first runs W untimed warm-up ops of its kind (different blocks:
 * the sequence continues), then N timed ones. Every read is checked
 * (after its timing) against st_fill. Statistics as in
 * tests/bench/linux-udp/pingpong.c: median = sorted[n/2],
 * p99 = sorted[n*99/100], mean, min, max; ops/s = N / (sum of op times).
 *
 * Output: one line per run, "st: result {JSON}", and exit 0 (1 on any error).
 */
#ifndef STBENCH_H
#define STBENCH_H

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ST_BLOCK 4096u

static inline uint64_t st_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64* : deterministic, identical in both programs. */
struct st_rng {
	uint64_t s;
};

static inline void st_rng_init(struct st_rng *r, uint64_t seed)
{
	r->s = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
	if (!r->s)
		r->s = 1;
}

static inline uint64_t st_rand(struct st_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

/* Block b's content: 512 little-endian words derived from b. */
static inline void st_fill(void *buf, uint64_t blk)
{
	uint64_t *w = buf;

	for (unsigned i = 0; i < ST_BLOCK / 8; i++)
		w[i] = (blk << 20) ^ (i * 0x100000001b3ull) ^ 0x5354424e43480000ull;
}

static inline int st_check(const void *buf, uint64_t blk)
{
	const uint64_t *w = buf;

	for (unsigned i = 0; i < ST_BLOCK / 8; i++)
		if (w[i] != ((blk << 20) ^ (i * 0x100000001b3ull) ^ 0x5354424e43480000ull))
			return -1;
	return 0;
}

enum st_kind { ST_SEQREAD, ST_RANDREAD, ST_WRITE };

/* The block of op i (warm-up ops first, then timed ones) of a test. */
struct st_seq {
	enum st_kind kind;
	uint64_t nblocks;
	uint64_t next;
	struct st_rng rng;
};

static inline void st_seq_init(struct st_seq *q, enum st_kind kind, uint64_t nblocks,
			       uint64_t seed)
{
	q->kind = kind;
	q->nblocks = nblocks;
	q->next = 0;
	st_rng_init(&q->rng, kind == ST_WRITE ? seed + 1 : seed);
}

static inline uint64_t st_seq_next(struct st_seq *q)
{
	if (q->kind == ST_SEQREAD) {
		uint64_t b = q->next;

		q->next = (q->next + 1) % q->nblocks;
		return b;
	}
	return st_rand(&q->rng) % q->nblocks;
}

static inline int st_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Appends one test's statistics as a JSON member to out. Sorts lat. */
static inline void st_json_test(FILE *out, int first, const char *name, uint64_t *lat,
				uint64_t n, uint64_t errors, uint64_t bad)
{
	uint64_t sum = 0;

	qsort(lat, n, sizeof(*lat), st_cmp_u64);
	for (uint64_t i = 0; i < n; i++)
		sum += lat[i];
	fprintf(out,
		"%s\"%s\": {\"n\": %" PRIu64 ", \"errors\": %" PRIu64 ", \"bad\": %" PRIu64
		", \"min_ns\": %" PRIu64 ", \"med_ns\": %" PRIu64 ", \"p99_ns\": %" PRIu64
		", \"max_ns\": %" PRIu64 ", \"mean_ns\": %.0f, \"busy_ns\": %" PRIu64
		", \"ops_s\": %.1f}",
		first ? "" : ", ", name, n, errors, bad, n ? lat[0] : 0, n ? lat[n / 2] : 0,
		n ? lat[n * 99 / 100] : 0, n ? lat[n - 1] : 0, n ? (double)sum / n : 0.0, sum,
		sum ? n * 1e9 / sum : 0.0);
}

/* The cost of one clock_gettime here (a timed op includes two). */
static inline uint64_t st_clock_cost_ns(void)
{
	uint64_t c0 = st_now_ns();

	for (int i = 0; i < 1000; i++)
		st_now_ns();
	return (st_now_ns() - c0) / 1001;
}

static inline int st_parse_u64(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long x;

	if (!s || !*s)
		return -1;
	x = strtoull(s, &end, 0);
	if (*end == 'K' || *end == 'k')
		x <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		x <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		x <<= 30, end++;
	if (*end)
		return -1;
	*v = x;
	return 0;
}

#endif
