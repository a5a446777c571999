/* mmaptest: the mmap family as static programs and their allocators use it.
 * Each step prints "<step>: ok" or "<step>: FAIL" (details on stderr); no
 * addresses are printed, so the output is the same on every system that
 * gets it right:
 *
 *   mmap anon: ok               fresh pages read zero, then hold a pattern
 *   munmap middle: ok           unmapping a hole leaves both sides intact
 *   mmap fixed into hole: ok    MAP_FIXED fills the hole with zero pages
 *   mmap fixed over pages: ok   MAP_FIXED replaces mapped pages with zero pages
 *   mremap grow in place: ok    growing into free space keeps the address
 *   mremap maymove: ok          growing a blocked mapping moves it, data intact
 *   mremap shrink: ok           shrinking keeps the address and the data
 *   mprotect: ok                read-only pages still read; split and restore
 *   mmap 3 GiB noreserve: ok    one page per 256 MiB and writes straddling
 *                               every 1 GiB boundary inside the mapping
 *   mmaptest: ok
 *
 * Exits 0 if every step passed, 1 otherwise. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GIB		(1ul << 30)

static unsigned long pg;	/* page size */
static int failures;

static uint64_t tag(unsigned int region, unsigned long page)
{
	return 0x6d6d617000000000ull ^ ((uint64_t)region << 24) ^ page;
}

static void *map_anon(void *addr, unsigned long len, int prot, int extra)
{
	void *p = mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | extra, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "mmaptest: mmap of %lu bytes: %s\n", len, strerror(errno));
		return NULL;
	}
	return p;
}

static volatile uint64_t *word(void *base, unsigned long page, unsigned long idx)
{
	return (volatile uint64_t *)((char *)base + page * pg) + idx;
}

/* Writes tag(region, first + i) at the start and end of pages [first, first+n). */
static void put(void *base, unsigned long first, unsigned long n, unsigned int region)
{
	unsigned long i;

	for (i = first; i < first + n; i++) {
		*word(base, i, 0) = tag(region, i);
		*word(base, i, pg / 8 - 1) = ~tag(region, i);
	}
}

static int expect(void *base, unsigned long first, unsigned long n, unsigned int region,
		  const char *step)
{
	unsigned long i;
	uint64_t a, b;

	for (i = first; i < first + n; i++) {
		a = *word(base, i, 0);
		b = *word(base, i, pg / 8 - 1);
		if (a != tag(region, i) || b != ~tag(region, i)) {
			fprintf(stderr, "mmaptest: %s: page %lu holds %016llx/%016llx\n", step, i,
				(unsigned long long)a, (unsigned long long)b);
			return -1;
		}
	}
	return 0;
}

static int expect_zero(void *base, unsigned long first, unsigned long n, const char *step)
{
	unsigned long i, k;

	for (i = first; i < first + n; i++)
		for (k = 0; k < pg / 8; k++)
			if (*word(base, i, k) != 0) {
				fprintf(stderr, "mmaptest: %s: page %lu word %lu not zero\n", step, i, k);
				return -1;
			}
	return 0;
}

static void result(const char *step, int err)
{
	printf("%s: %s\n", step, err ? "FAIL" : "ok");
	if (err)
		failures++;
}

static int unmap(void *p, unsigned long len, const char *step)
{
	if (munmap(p, len) != 0) {
		fprintf(stderr, "mmaptest: %s: munmap: %s\n", step, strerror(errno));
		return -1;
	}
	return 0;
}

static void test_mmap_munmap(void)
{
	char *p = map_anon(NULL, 16 * pg, PROT_READ | PROT_WRITE, 0), *q;
	int err;

	if (!p) {
		result("mmap anon", 1);
		return;
	}
	err = expect_zero(p, 0, 16, "mmap anon");
	put(p, 0, 16, 1);
	err |= expect(p, 0, 16, 1, "mmap anon");
	result("mmap anon", err);

	err = unmap(p + 4 * pg, 4 * pg, "munmap middle");
	err |= expect(p, 0, 4, 1, "munmap middle");
	err |= expect(p, 8, 8, 1, "munmap middle");
	result("munmap middle", err);

	q = mmap(p + 4 * pg, 4 * pg, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	err = q != p + 4 * pg;
	if (err) {
		fprintf(stderr, "mmaptest: mmap fixed into hole: %s\n",
			q == MAP_FAILED ? strerror(errno) : "wrong address");
	} else {
		err |= expect_zero(p, 4, 4, "mmap fixed into hole");
		put(p, 4, 4, 2);
		err |= expect(p, 4, 4, 2, "mmap fixed into hole");
		err |= expect(p, 0, 4, 1, "mmap fixed into hole");
		err |= expect(p, 8, 8, 1, "mmap fixed into hole");
	}
	result("mmap fixed into hole", err);

	q = mmap(p + 8 * pg, 2 * pg, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	err = q != p + 8 * pg;
	if (err) {
		fprintf(stderr, "mmaptest: mmap fixed over pages: %s\n",
			q == MAP_FAILED ? strerror(errno) : "wrong address");
	} else {
		err |= expect_zero(p, 8, 2, "mmap fixed over pages");
		err |= expect(p, 10, 6, 1, "mmap fixed over pages");
		err |= expect(p, 4, 4, 2, "mmap fixed over pages");
	}
	result("mmap fixed over pages", err);
	unmap(p, 16 * pg, "mmap anon");
}

static void test_mremap(void)
{
	char *p, *q;
	int err;

	/* Map 8 pages and unmap the upper 4 so that the lower 4 can grow in
	 * place. Nothing may map between the munmap and the mremap, which is
	 * why nothing is printed in between. */
	p = map_anon(NULL, 8 * pg, PROT_READ | PROT_WRITE, 0);
	err = !p;
	if (p) {
		put(p, 0, 4, 3);
		err = unmap(p + 4 * pg, 4 * pg, "mremap grow in place");
		q = mremap(p, 4 * pg, 8 * pg, 0);
		if (q != p) {
			fprintf(stderr, "mmaptest: mremap grow in place: %s\n",
				q == MAP_FAILED ? strerror(errno) : "moved");
			err = 1;
			if (q == MAP_FAILED)
				q = NULL;
		}
		if (q == p) {
			err |= expect(p, 0, 4, 3, "mremap grow in place");
			err |= expect_zero(p, 4, 4, "mremap grow in place");
			put(p, 4, 4, 3);
			err |= expect(p, 0, 8, 3, "mremap grow in place");
			unmap(p, 8 * pg, "mremap grow in place");
		} else {
			unmap(p, 4 * pg, "mremap grow in place");
		}
	}
	result("mremap grow in place", err);

	/* Grow the first 4 pages of a 5-page mapping: the fifth page blocks
	 * growing in place, so the kernel has to move the 4 pages. */
	p = map_anon(NULL, 5 * pg, PROT_READ | PROT_WRITE, 0);
	err = !p;
	q = NULL;
	if (p) {
		put(p, 0, 5, 4);
		q = mremap(p, 4 * pg, 16 * pg, MREMAP_MAYMOVE);
		if (q == MAP_FAILED) {
			fprintf(stderr, "mmaptest: mremap maymove: %s\n", strerror(errno));
			err = 1;
			q = NULL;
			unmap(p, 5 * pg, "mremap maymove");
		} else {
			if (q == p) {
				fprintf(stderr, "mmaptest: mremap maymove: grew over a mapped page\n");
				err = 1;
			}
			err |= expect(q, 0, 4, 4, "mremap maymove");
			err |= expect_zero(q, 4, 12, "mremap maymove");
			if (q != p)
				err |= expect(p, 4, 1, 4, "mremap maymove (page left behind)");
			put(q, 4, 12, 4);
			err |= expect(q, 0, 16, 4, "mremap maymove");
			if (q != p)
				unmap(p + 4 * pg, pg, "mremap maymove");
		}
	}
	result("mremap maymove", err);

	err = !q;
	if (q) {
		p = mremap(q, 16 * pg, 2 * pg, 0);
		if (p != q) {
			fprintf(stderr, "mmaptest: mremap shrink: %s\n",
				p == MAP_FAILED ? strerror(errno) : "moved");
			err = 1;
			unmap(q, 16 * pg, "mremap shrink");
		} else {
			err |= expect(q, 0, 2, 4, "mremap shrink");
			unmap(q, 2 * pg, "mremap shrink");
		}
	}
	result("mremap shrink", err);
}

static void test_mprotect(void)
{
	char *p = map_anon(NULL, 4 * pg, PROT_READ | PROT_WRITE, 0);
	int err = !p;

	if (p) {
		put(p, 0, 4, 5);
		if (mprotect(p, 4 * pg, PROT_READ) != 0) {
			fprintf(stderr, "mmaptest: mprotect read-only: %s\n", strerror(errno));
			err = 1;
		}
		err |= expect(p, 0, 4, 5, "mprotect read-only");
		if (mprotect(p, 4 * pg, PROT_READ | PROT_WRITE) != 0) {
			fprintf(stderr, "mmaptest: mprotect read-write: %s\n", strerror(errno));
			err = 1;
		} else {
			put(p, 0, 4, 6);
			err |= expect(p, 0, 4, 6, "mprotect read-write");
		}
		/* protect one page in the middle: splits the mapping in three */
		if (mprotect(p + pg, pg, PROT_READ) != 0) {
			fprintf(stderr, "mmaptest: mprotect one page: %s\n", strerror(errno));
			err = 1;
		} else {
			err |= expect(p, 0, 4, 6, "mprotect one page");
			put(p, 0, 1, 7);
			put(p, 2, 2, 7);
			err |= expect(p, 0, 1, 7, "mprotect one page");
			err |= expect(p, 1, 1, 6, "mprotect one page");
			err |= expect(p, 2, 2, 7, "mprotect one page");
		}
		unmap(p, 4 * pg, "mprotect");
	}
	result("mprotect", err);
}

/* Whether the page at addr is next to a 1 GiB-aligned address. */
static int near_boundary(uintptr_t addr)
{
	uintptr_t in = addr & (GIB - 1);

	return in < pg || in >= GIB - pg;
}

static void test_big(void)
{
	unsigned long len = 3 * GIB, off, step = 256ul << 20, b, first, i;
	char *p = map_anon(NULL, len, PROT_READ | PROT_WRITE, MAP_NORESERVE);
	uint64_t pair[2], got[2];
	int err = !p;

	if (p) {
		for (off = 0; off < len; off += step)
			put(p, off / pg, 1, 8);
		for (off = 0; off < len; off += step)
			err |= expect(p, off / pg, 1, 8, "mmap 3 GiB noreserve");
		/* 16 bytes across each 1 GiB-aligned address in the mapping,
		 * copied as one unaligned 16-byte access that touches both
		 * sides of the boundary */
		first = ((uintptr_t)p + GIB) & ~(GIB - 1);
		for (b = first, i = 0; b < (uintptr_t)p + len; b += GIB, i++) {
			pair[0] = 0xb0a4d00000000000ull + i;
			pair[1] = ~pair[0];
			memcpy((void *)(b - 8), pair, sizeof(pair));
		}
		for (b = first, i = 0; b < (uintptr_t)p + len; b += GIB, i++) {
			memcpy(got, (void *)(b - 8), sizeof(got));
			if (got[0] != 0xb0a4d00000000000ull + i || got[1] != ~got[0]) {
				fprintf(stderr, "mmaptest: 1 GiB boundary %lu lost its data\n", i);
				err = 1;
				break;
			}
		}
		/* an untouched page still reads as zero: 128 MiB in, or
		 * 384 MiB in if a boundary write landed next to the first */
		off = 128ul << 20;
		if (near_boundary((uintptr_t)p + off))
			off += step;
		err |= expect_zero(p, off / pg, 1, "mmap 3 GiB noreserve");
		unmap(p, len, "mmap 3 GiB noreserve");
	}
	result("mmap 3 GiB noreserve", err);
}

int main(void)
{
	long sz = sysconf(_SC_PAGESIZE);

	pg = sz > 0 ? (unsigned long)sz : 4096;
	test_mmap_munmap();
	test_mremap();
	test_mprotect();
	test_big();
	printf("mmaptest: %s\n", failures ? "FAIL" : "ok");
	if (fflush(stdout) != 0)
		return 1;
	return failures ? 1 : 0;
}
