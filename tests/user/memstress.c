/* memstress: a working set larger than the ExCache, written and verified page
 * by page so that the processor monitor must evict, write back and fetch
 * pages and get every byte right.
 *
 *   memstress [MIB [THREADS [PASSES]]]     defaults: 64 MiB, 1 thread, 4 passes
 *
 * The working set is one anonymous mmap of MIB MiB. Every 8-byte word of page
 * p in pass n holds a value derived from (p, n, word index) only. Pass n walks
 * the pages in one of four orders (sequential, strided, pseudo-random,
 * reverse); at each page it first verifies the contents left by pass n-1 (or,
 * in pass 0, that the fresh page reads as zeros), then writes the pass-n
 * pattern. After each pass a second walk in another order verifies every page
 * again and sums a checksum, compared with the sum computed without touching
 * memory. With THREADS > 1 the pages are split into contiguous ranges, one per
 * thread. The printed checksum depends only on MIB and PASSES.
 *
 * Output on success (exit 0):
 *   memstress: pass 0 (sequential): ok
 *   ...
 *   memstress: 64 MiB, 4 passes, 1 threads: ok
 *   memstress: checksum=<16 hex digits>
 * On a mismatch the first few bad words go to stderr and it exits 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE_BYTES	4096ul
#define PAGE_WORDS	(PAGE_BYTES / sizeof(uint64_t))
#define MAX_THREADS	64
#define MAX_PASSES	1000
#define MAX_REPORTS	8

enum order { ORDER_SEQ, ORDER_STRIDE, ORDER_RANDOM, ORDER_REVERSE, NR_ORDERS };

static const char *const order_name[NR_ORDERS] = {
	"sequential", "strided", "random", "reverse",
};

/* One per thread; the thread owns it until joined. */
struct worker {
	pthread_t tid;
	unsigned long first;		/* first page of this thread's range */
	unsigned long npages;
	unsigned int passes;
	uint64_t *sum;			/* [passes]: checksum of the verify walk */
	unsigned long *bad;		/* [passes]: pages that failed a check */
	int err;			/* errno if setup failed */
};

static unsigned char *mem;
static int reports;
static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t page_seed(unsigned long page, unsigned int pass)
{
	return mix64(((uint64_t)page << 12) ^ ((uint64_t)pass << 52) ^ 0x5eedull);
}

static inline uint64_t pattern_word(uint64_t seed, unsigned long k)
{
	return seed ^ (k * 0x9e3779b97f4a7c15ull);
}

/* Position-weighted so that swapped words change the sum. */
static uint64_t pattern_sum(unsigned long page, unsigned int pass)
{
	uint64_t seed = page_seed(page, pass), s = 0;
	unsigned long k;

	for (k = 0; k < PAGE_WORDS; k++)
		s += pattern_word(seed, k) * (2 * k + 1);
	return s;
}

static uint64_t *page_ptr(unsigned long page)
{
	return (uint64_t *)(mem + page * PAGE_BYTES);
}

static void report(unsigned long page, unsigned int pass, const char *what,
		   unsigned long k, uint64_t want, uint64_t got)
{
	pthread_mutex_lock(&report_lock);
	if (reports++ < MAX_REPORTS)
		fprintf(stderr, "memstress: %s: page %lu pass %u word %lu: want %016llx got %016llx\n",
			what, page, pass, k, (unsigned long long)want, (unsigned long long)got);
	pthread_mutex_unlock(&report_lock);
}

static void fill_page(unsigned long page, unsigned int pass)
{
	uint64_t *w = page_ptr(page), seed = page_seed(page, pass);
	unsigned long k;

	for (k = 0; k < PAGE_WORDS; k++)
		w[k] = pattern_word(seed, k);
}

/* Returns 0 if the page holds pass's pattern and adds its weighted sum. */
static int check_page(unsigned long page, unsigned int pass, const char *what, uint64_t *sum)
{
	const volatile uint64_t *w = page_ptr(page);
	uint64_t seed = page_seed(page, pass), v, s = 0;
	unsigned long k;
	int bad = 0;

	for (k = 0; k < PAGE_WORDS; k++) {
		v = w[k];
		s += v * (2 * k + 1);
		if (v != pattern_word(seed, k) && !bad) {
			report(page, pass, what, k, pattern_word(seed, k), v);
			bad = 1;
		}
	}
	if (sum)
		*sum += s;
	return bad;
}

static int check_zero(unsigned long page)
{
	const volatile uint64_t *w = page_ptr(page);
	unsigned long k;

	for (k = 0; k < PAGE_WORDS; k++)
		if (w[k] != 0) {
			report(page, 0, "fresh page not zero", k, 0, w[k]);
			return 1;
		}
	return 0;
}

static unsigned long gcd(unsigned long a, unsigned long b)
{
	while (b) {
		unsigned long t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* Fills perm[0..n) with a permutation of 0..n-1 in the given order. */
static void make_order(enum order o, uint32_t *perm, unsigned long n, uint64_t seed)
{
	unsigned long i, j, stride;
	uint32_t t;

	switch (o) {
	case ORDER_SEQ:
		for (i = 0; i < n; i++)
			perm[i] = i;
		break;
	case ORDER_REVERSE:
		for (i = 0; i < n; i++)
			perm[i] = n - 1 - i;
		break;
	case ORDER_STRIDE:
		/* 17 pages apart (68 KiB), adjusted to be coprime with n so
		 * that the walk visits every page once */
		for (stride = 17; n > 1 && gcd(stride, n) != 1; stride += 2)
			;
		for (i = 0; i < n; i++)
			perm[i] = (uint32_t)((i * stride) % n);
		break;
	default:
		for (i = 0; i < n; i++)
			perm[i] = i;
		for (i = n; i > 1; i--) {
			seed = mix64(seed + 0x9e3779b97f4a7c15ull);
			j = seed % i;
			t = perm[i - 1];
			perm[i - 1] = perm[j];
			perm[j] = t;
		}
		break;
	}
}

static void *worker_run(void *arg)
{
	struct worker *wk = arg;
	unsigned long i, page;
	unsigned int pass;
	uint32_t *perm;
	enum order o;

	perm = malloc((wk->npages ? wk->npages : 1) * sizeof(*perm));
	if (!perm) {
		wk->err = ENOMEM;
		return NULL;
	}
	for (pass = 0; pass < wk->passes; pass++) {
		/* read-verify-then-write each page in this pass's order */
		o = (enum order)(pass % NR_ORDERS);
		make_order(o, perm, wk->npages, mix64(wk->first ^ pass));
		for (i = 0; i < wk->npages; i++) {
			page = wk->first + perm[i];
			if (pass == 0)
				wk->bad[pass] += check_zero(page);
			else
				wk->bad[pass] += check_page(page, pass - 1, "before write", NULL);
			fill_page(page, pass);
		}
		/* verify the whole range again in a different order */
		o = (enum order)((pass + 2) % NR_ORDERS);
		make_order(o, perm, wk->npages, mix64(wk->first ^ pass ^ 0xabcdefull));
		for (i = 0; i < wk->npages; i++)
			wk->bad[pass] += check_page(wk->first + perm[i], pass, "after pass", &wk->sum[pass]);
	}
	free(perm);
	return NULL;
}

static int parse_arg(const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long mib = 64, nthreads = 1, passes = 4, npages, t, p;
	uint64_t expect, got, checksum = 0;
	struct worker *wk;
	unsigned long bad_total = 0, bad;
	size_t bytes;
	int err;

	if (argc > 4 ||
	    (argc > 1 && parse_arg(argv[1], 1, 1ul << 20, &mib)) ||
	    (argc > 2 && parse_arg(argv[2], 1, MAX_THREADS, &nthreads)) ||
	    (argc > 3 && parse_arg(argv[3], 1, MAX_PASSES, &passes))) {
		fprintf(stderr, "usage: memstress [MIB [THREADS(1-%d) [PASSES(1-%d)]]]\n",
			MAX_THREADS, MAX_PASSES);
		return 2;
	}
	bytes = (size_t)mib << 20;
	npages = bytes / PAGE_BYTES;

	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "memstress: mmap %lu MiB: %s\n", mib, strerror(errno));
		return 1;
	}
	wk = calloc(nthreads, sizeof(*wk));
	if (!wk) {
		fprintf(stderr, "memstress: out of memory\n");
		return 1;
	}
	for (t = 0; t < nthreads; t++) {
		wk[t].first = npages * t / nthreads;
		wk[t].npages = npages * (t + 1) / nthreads - wk[t].first;
		wk[t].passes = passes;
		wk[t].sum = calloc(passes, sizeof(*wk[t].sum));
		wk[t].bad = calloc(passes, sizeof(*wk[t].bad));
		if (!wk[t].sum || !wk[t].bad) {
			fprintf(stderr, "memstress: out of memory\n");
			return 1;
		}
	}
	/* thread 0's range is run by the main thread itself */
	for (t = 1; t < nthreads; t++) {
		err = pthread_create(&wk[t].tid, NULL, worker_run, &wk[t]);
		if (err) {
			fprintf(stderr, "memstress: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	worker_run(&wk[0]);
	for (t = 1; t < nthreads; t++) {
		err = pthread_join(wk[t].tid, NULL);
		if (err) {
			fprintf(stderr, "memstress: pthread_join: %s\n", strerror(err));
			return 1;
		}
	}
	for (t = 0; t < nthreads; t++)
		if (wk[t].err) {
			fprintf(stderr, "memstress: thread %lu: %s\n", t, strerror(wk[t].err));
			return 1;
		}

	for (p = 0; p < passes; p++) {
		expect = 0;
		got = 0;
		bad = 0;
		for (t = 0; t < npages; t++)
			expect += pattern_sum(t, p);
		for (t = 0; t < nthreads; t++) {
			got += wk[t].sum[p];
			bad += wk[t].bad[p];
		}
		if (got != expect)
			fprintf(stderr, "memstress: pass %lu: checksum %016llx, expected %016llx\n",
				p, (unsigned long long)got, (unsigned long long)expect);
		if (bad)
			fprintf(stderr, "memstress: pass %lu: %lu bad page checks\n", p, bad);
		printf("memstress: pass %lu (%s): %s\n", p, order_name[p % NR_ORDERS],
		       got == expect && !bad ? "ok" : "FAIL");
		bad_total += bad + (got != expect);
		checksum = mix64(checksum ^ got);
	}
	for (t = 0; t < nthreads; t++) {
		free(wk[t].sum);
		free(wk[t].bad);
	}
	free(wk);
	munmap(mem, bytes);

	printf("memstress: %lu MiB, %lu passes, %lu threads: %s\n", mib, passes, nthreads,
	       bad_total ? "FAIL" : "ok");
	printf("memstress: checksum=%016llx\n", (unsigned long long)checksum);
	if (fflush(stdout) != 0)
		return 1;
	return bad_total ? 1 : 0;
}
