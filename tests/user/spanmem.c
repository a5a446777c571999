/* spanmem: memory spread over many vRegions (1 GiB slices of the virtual
 * address space, each owned by one mComponent), so that a single process's
 * pages live on more than one memory node.
 *
 *   spanmem [GIB [PAGES]]      defaults: 4 GiB, 64 pages per GiB
 *
 * Part 1 maps one GIB GiB MAP_NORESERVE region and fills PAGES pages spread
 * evenly over each GiB of it. Part 2 maps three separate regions of 1 GiB +
 * 4 KiB each (so each one covers at least two vRegions), asking for addresses
 * 16 TiB apart (hints only), and fills PAGES pages spread over each plus its
 * last page. Every filled page gets a whole-page pattern derived from (part,
 * region, page number), never from its address; all pages are verified after
 * all have been written, in reverse order. Output on success (exit 0):
 *
 *   spanmem: 4 GiB region: 256 pages ok
 *   spanmem: 3 regions of 1 GiB + 4 KiB: 195 pages ok
 *   spanmem: checksum=<16 hex digits>
 *   spanmem: ok
 *
 * On a mismatch the first bad words go to stderr and it exits 1. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE_BYTES	4096ul
#define PAGE_WORDS	(PAGE_BYTES / sizeof(uint64_t))
#define GIB		(1ul << 30)
#define NR_SEPARATE	3
#define SEPARATE_BYTES	(GIB + PAGE_BYTES)
#define HINT_BASE	0x100000000000ul	/* 16 TiB */
#define HINT_STEP	0x100000000000ul
#define MAX_REPORTS	8

static int reports;

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

static uint64_t seed_of(unsigned int region, unsigned long page)
{
	return mix64(((uint64_t)region << 40) ^ page ^ 0x5ba4ull);
}

static void fill(void *p, unsigned int region, unsigned long page)
{
	uint64_t *w = p, seed = seed_of(region, page);
	unsigned long k;

	for (k = 0; k < PAGE_WORDS; k++)
		w[k] = seed + k * 0x9e3779b97f4a7c15ull;
}

static int verify(const void *p, unsigned int region, unsigned long page, uint64_t *sum)
{
	const volatile uint64_t *w = p;
	uint64_t seed = seed_of(region, page), v;
	unsigned long k;

	for (k = 0; k < PAGE_WORDS; k++) {
		v = w[k];
		*sum += v * (2 * k + 1);
		if (v != seed + k * 0x9e3779b97f4a7c15ull) {
			if (reports++ < MAX_REPORTS)
				fprintf(stderr, "spanmem: region %u page %lu word %lu: want %016llx got %016llx\n",
					region, page, k,
					(unsigned long long)(seed + k * 0x9e3779b97f4a7c15ull),
					(unsigned long long)v);
			return 1;
		}
	}
	return 0;
}

/* Page numbers to touch in a region of npages: n spread evenly, plus the last
 * page if want_last. Returns how many were stored in out. */
static unsigned long pick_pages(unsigned long npages, unsigned long n, int want_last,
				unsigned long *out)
{
	unsigned long i, count = 0;

	for (i = 0; i < n; i++)
		out[count++] = npages * i / n;
	if (want_last && out[count - 1] != npages - 1)
		out[count++] = npages - 1;
	return count;
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
	unsigned long gib = 4, per_gib = 64, npages, count, i, g;
	unsigned long *pages;
	unsigned char *big, *sep[NR_SEPARATE];
	uint64_t sum = 0;
	unsigned int r;
	int bad = 0, bad_part;

	if (argc > 3 ||
	    (argc > 1 && parse_arg(argv[1], 1, 64, &gib)) ||
	    (argc > 2 && parse_arg(argv[2], 1, GIB / PAGE_BYTES, &per_gib))) {
		fprintf(stderr, "usage: spanmem [GIB(1-64) [PAGES-PER-GIB]]\n");
		return 2;
	}
	pages = malloc((gib * per_gib + 1) * sizeof(*pages));
	if (!pages) {
		fprintf(stderr, "spanmem: out of memory\n");
		return 1;
	}

	/* Part 1: one large region; its pages are numbered across all GiBs. */
	big = mmap(NULL, gib * GIB, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (big == MAP_FAILED) {
		fprintf(stderr, "spanmem: mmap %lu GiB: %s\n", gib, strerror(errno));
		return 1;
	}
	npages = GIB / PAGE_BYTES;
	count = 0;
	for (g = 0; g < gib; g++) {
		unsigned long n = pick_pages(npages, per_gib, 0, pages + count);

		for (i = count; i < count + n; i++)
			pages[i] += g * npages;
		count += n;
	}
	for (i = 0; i < count; i++)
		fill(big + pages[i] * PAGE_BYTES, 0, pages[i]);
	bad_part = 0;
	for (i = count; i-- > 0;)
		bad_part |= verify(big + pages[i] * PAGE_BYTES, 0, pages[i], &sum);
	printf("spanmem: %lu GiB region: %lu pages %s\n", gib, count, bad_part ? "FAIL" : "ok");
	bad |= bad_part;
	munmap(big, gib * GIB);

	/* Part 2: separate regions, all filled before any is verified. */
	npages = SEPARATE_BYTES / PAGE_BYTES;
	count = pick_pages(npages, per_gib, 1, pages);
	for (r = 0; r < NR_SEPARATE; r++) {
		sep[r] = mmap((void *)(HINT_BASE + r * HINT_STEP), SEPARATE_BYTES,
			      PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (sep[r] == MAP_FAILED) {
			fprintf(stderr, "spanmem: mmap region %u: %s\n", r, strerror(errno));
			return 1;
		}
		for (i = 0; i < count; i++)
			fill(sep[r] + pages[i] * PAGE_BYTES, r + 1, pages[i]);
	}
	bad_part = 0;
	for (r = NR_SEPARATE; r-- > 0;)
		for (i = count; i-- > 0;)
			bad_part |= verify(sep[r] + pages[i] * PAGE_BYTES, r + 1, pages[i], &sum);
	printf("spanmem: %d regions of 1 GiB + 4 KiB: %lu pages %s\n", NR_SEPARATE,
	       count * NR_SEPARATE, bad_part ? "FAIL" : "ok");
	bad |= bad_part;
	for (r = 0; r < NR_SEPARATE; r++)
		munmap(sep[r], SEPARATE_BYTES);

	printf("spanmem: checksum=%016llx\n", (unsigned long long)sum);
	printf("spanmem: %s\n", bad ? "FAIL" : "ok");
	free(pages);
	if (fflush(stdout) != 0)
		return 1;
	return bad;
}
