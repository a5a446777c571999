/*
 * tests/bench/excache/xcbench.c: the memory micro-benchmarks of issue 7,
 * one static binary (musl) run in a LegoOS vNode and in a Linux guest.
 *
 *   xcbench fig8 [mb=64] [threads=1[,2,...]] [scratch=16] [prefill=0|1] [reps=1]
 *   xcbench touch [mb=8] [reps=8]
 *   xcbench wset [mb=64] [passes=3]
 *
 * fig8: the shape of the paper's Fig. 8. mmap a fresh heap of mb MiB; with
 *   prefill=1 write one word in every page first (so the pages exist at
 *   the owner once evicted: the "remote" case). Then read one word of
 *   every page of a separate scratch region of scratch MiB (the size of the
 *   ExCache: it pushes the heap's lines out, written back if dirty, and
 *   leaves the cache full of clean lines). Timed: T threads, after a
 *   barrier, each load one word of every page of its contiguous share of
 *   the heap, in order. pages/s = heap pages / wall time from the first
 *   thread's start to the last thread's end. Then the scratch pass and the
 *   timed scan again for the next T of the list (one prefill serves them
 *   all; without prefill every scan gets a fresh heap). Each rep uses a
 *   fresh heap and scratch.
 * touch: first touch of anonymous memory: mmap mb MiB, timed write of one
 *   word per page, munmap; reps times.
 * wset: a working set larger than the memory given: mmap mb MiB, write one
 *   word per page (timed too, reported as pass -1), then passes timed
 *   passes that read and increment that word in every page, in order;
 *   checks every word at the end.
 *
 * Output: one line per timed run on stdout,
 *   xc: result {"test":"fig8","rep":0,"threads":1,"pages":16384,"ns":...}
 * and "xc: ok" at the end. Exit status 0, or 1 on a failure (with
 * "xc: error: ..." on stderr), 2 on bad arguments.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#define PAGE 4096ul
#define WORDS_PER_PAGE (PAGE / sizeof(uint64_t))
#define MAX_THREADS 16

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

__attribute__((noreturn)) static void fail(const char *what)
{
	fprintf(stderr, "xc: error: %s: %s\n", what, strerror(errno));
	exit(1);
}

__attribute__((noreturn)) static void usage(void)
{
	fprintf(stderr, "usage: xcbench fig8 [mb=N] [threads=N[,N...]] [scratch=N] [prefill=0|1] [reps=N]\n"
			"       xcbench touch [mb=N] [reps=N]\n"
			"       xcbench wset [mb=N] [passes=N]\n");
	exit(2);
}

/* key=value arguments; unknown keys are an error. */
struct opts {
	unsigned long mb, scratch, prefill, reps, passes;
	unsigned long threads[MAX_THREADS];
	unsigned long nr_threads;
};

/* "1,2,4" into o->threads. */
static int parse_threads(const char *v, struct opts *o)
{
	char *end;

	o->nr_threads = 0;
	for (;;) {
		errno = 0;
		unsigned long t = strtoul(v, &end, 0);
		if (errno || end == v || t < 1 || t > MAX_THREADS || o->nr_threads == MAX_THREADS)
			return -1;
		o->threads[o->nr_threads++] = t;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -1;
		v = end + 1;
	}
}

static void parse(int argc, char **argv, struct opts *o)
{
	for (int i = 2; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		char *end;
		unsigned long *dst;

		if (!eq)
			usage();
		*eq = '\0';
		if (!strcmp(argv[i], "threads")) {
			if (parse_threads(eq + 1, o))
				usage();
			continue;
		}
		if (!strcmp(argv[i], "mb"))
			dst = &o->mb;
		else if (!strcmp(argv[i], "scratch"))
			dst = &o->scratch;
		else if (!strcmp(argv[i], "prefill"))
			dst = &o->prefill;
		else if (!strcmp(argv[i], "reps"))
			dst = &o->reps;
		else if (!strcmp(argv[i], "passes"))
			dst = &o->passes;
		else
			usage();
		errno = 0;
		*dst = strtoul(eq + 1, &end, 0);
		if (errno || end == eq + 1 || *end)
			usage();
	}
}

static uint64_t *map_anon(unsigned long bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap");
	/* Linux: 4 KiB pages like the ExCache's lines, whatever the THP
	 * setting (LegoOS may not know madvise: ignore the result). */
	madvise(p, bytes, MADV_NOHUGEPAGE);
	return p;
}

/* ---- fig8 ---- */

struct scan {
	volatile uint64_t *base;
	unsigned long pages;
	pthread_barrier_t *bar;
	uint64_t sum;
	uint64_t start_ns, end_ns;
};

static void *scan_thread(void *arg)
{
	struct scan *s = arg;
	uint64_t sum = 0;

	pthread_barrier_wait(s->bar);
	s->start_ns = now_ns();
	for (unsigned long i = 0; i < s->pages; i++)
		sum += s->base[i * WORDS_PER_PAGE];
	s->end_ns = now_ns();
	s->sum = sum;
	return NULL;
}

static void read_pages(volatile uint64_t *p, unsigned long pages)
{
	uint64_t sum = 0;

	for (unsigned long i = 0; i < pages; i++)
		sum += p[i * WORDS_PER_PAGE];
	(void)sum;
}

/* One timed scan of the heap by t threads; 0 or 1 (wrong data). */
static int fig8_scan(const struct opts *o, uint64_t *heap, unsigned long pages,
		     unsigned long rep, unsigned long t, unsigned long spages)
{
	struct scan s[MAX_THREADS];
	pthread_t tid[MAX_THREADS];
	pthread_barrier_t bar;

	if (pthread_barrier_init(&bar, NULL, (unsigned)t + 1))
		fail("pthread_barrier_init");
	for (unsigned long i = 0; i < t; i++) {
		unsigned long lo = pages * i / t, hi = pages * (i + 1) / t;

		s[i] = (struct scan){ .base = heap + lo * WORDS_PER_PAGE, .pages = hi - lo,
				      .bar = &bar };
		errno = pthread_create(&tid[i], NULL, scan_thread, &s[i]);
		if (errno)
			fail("pthread_create");
	}
	/* The clock runs from the first thread's start after the barrier to
	 * the last thread's end. */
	pthread_barrier_wait(&bar);
	uint64_t t0 = UINT64_MAX, t1 = 0, sum = 0;
	for (unsigned long i = 0; i < t; i++) {
		errno = pthread_join(tid[i], NULL);
		if (errno)
			fail("pthread_join");
		if (s[i].start_ns < t0)
			t0 = s[i].start_ns;
		if (s[i].end_ns > t1)
			t1 = s[i].end_ns;
		sum += s[i].sum;
	}
	pthread_barrier_destroy(&bar);
	/* What was read must be what was written (or zeros). */
	uint64_t want = o->prefill ? (uint64_t)pages * (pages + 1) / 2 : 0;
	if (sum != want) {
		fprintf(stderr, "xc: error: fig8 read sum %llu, expected %llu\n",
			(unsigned long long)sum, (unsigned long long)want);
		return 1;
	}
	printf("xc: result {\"test\":\"fig8\",\"rep\":%lu,\"threads\":%lu,\"prefill\":%lu,"
	       "\"pages\":%lu,\"scratch_pages\":%lu,\"ns\":%llu}\n",
	       rep, t, o->prefill, pages, spages, (unsigned long long)(t1 - t0));
	fflush(stdout);
	return 0;
}

static int do_fig8(const struct opts *o)
{
	unsigned long pages = o->mb * 256, spages = o->scratch * 256;

	for (unsigned long i = 0; i < o->nr_threads; i++)
		if (pages < o->threads[i])
			usage();
	for (unsigned long rep = 0; rep < o->reps; rep++) {
		uint64_t *heap = map_anon(pages * PAGE);
		uint64_t *scratch = spages ? map_anon(spages * PAGE) : NULL;

		if (o->prefill)
			for (unsigned long i = 0; i < pages; i++)
				heap[i * WORDS_PER_PAGE] = i + 1;
		for (unsigned long i = 0; i < o->nr_threads; i++) {
			/* A fresh heap must be fresh for every scan: on Linux
			 * a scanned page stays mapped (to the zero page). */
			if (!o->prefill && i > 0) {
				if (munmap(heap, pages * PAGE))
					fail("munmap");
				heap = map_anon(pages * PAGE);
			}
			/* The heap's lines out (a timed scan leaves them
			 * clean), the cache full of clean scratch lines. */
			if (scratch)
				read_pages(scratch, spages);
			if (fig8_scan(o, heap, pages, rep, o->threads[i], spages))
				return 1;
		}
		if (munmap(heap, pages * PAGE) || (scratch && munmap(scratch, spages * PAGE)))
			fail("munmap");
	}
	return 0;
}

/* ---- touch ---- */

static int do_touch(const struct opts *o)
{
	unsigned long pages = o->mb * 256;

	for (unsigned long rep = 0; rep < o->reps; rep++) {
		volatile uint64_t *p = map_anon(pages * PAGE);
		uint64_t t0 = now_ns();

		for (unsigned long i = 0; i < pages; i++)
			p[i * WORDS_PER_PAGE] = i;
		uint64_t t1 = now_ns();
		for (unsigned long i = 0; i < pages; i++)
			if (p[i * WORDS_PER_PAGE] != i) {
				fprintf(stderr, "xc: error: touch page %lu reads %llu\n", i,
					(unsigned long long)p[i * WORDS_PER_PAGE]);
				return 1;
			}
		printf("xc: result {\"test\":\"touch\",\"rep\":%lu,\"pages\":%lu,\"ns\":%llu}\n", rep,
		       pages, (unsigned long long)(t1 - t0));
		fflush(stdout);
		if (munmap((void *)p, pages * PAGE))
			fail("munmap");
	}
	return 0;
}

/* ---- wset ---- */

static int do_wset(const struct opts *o)
{
	unsigned long pages = o->mb * 256;
	volatile uint64_t *p = map_anon(pages * PAGE);
	uint64_t t0 = now_ns();

	for (unsigned long i = 0; i < pages; i++)
		p[i * WORDS_PER_PAGE] = i << 16;
	printf("xc: result {\"test\":\"wset\",\"pass\":-1,\"pages\":%lu,\"ns\":%llu}\n", pages,
	       (unsigned long long)(now_ns() - t0));
	fflush(stdout);
	for (unsigned long pass = 0; pass < o->passes; pass++) {
		t0 = now_ns();
		for (unsigned long i = 0; i < pages; i++)
			p[i * WORDS_PER_PAGE] += 1;
		uint64_t t1 = now_ns();
		printf("xc: result {\"test\":\"wset\",\"pass\":%lu,\"pages\":%lu,\"ns\":%llu}\n",
		       pass, pages, (unsigned long long)(t1 - t0));
		fflush(stdout);
	}
	for (unsigned long i = 0; i < pages; i++)
		if (p[i * WORDS_PER_PAGE] != (i << 16) + o->passes) {
			fprintf(stderr, "xc: error: wset page %lu reads %#llx\n", i,
				(unsigned long long)p[i * WORDS_PER_PAGE]);
			return 1;
		}
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { .mb = 64, .scratch = 16, .prefill = 0, .reps = 1, .passes = 3,
			  .threads = { 1 }, .nr_threads = 1 };
	int r;

	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "fig8")) {
		parse(argc, argv, &o);
		r = do_fig8(&o);
	} else if (!strcmp(argv[1], "touch")) {
		o.mb = 8;
		o.reps = 8;
		parse(argc, argv, &o);
		r = do_touch(&o);
	} else if (!strcmp(argv[1], "wset")) {
		parse(argc, argv, &o);
		r = do_wset(&o);
	} else {
		usage();
	}
	if (!r)
		printf("xc: ok\n");
	return r;
}
