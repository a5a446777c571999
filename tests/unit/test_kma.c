/* Unit tests for kernel/kma.c, on a page provider backed by aligned_alloc. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lego/kma.h>

/* ---- test page provider ---- */

#define MAX_BLOCKS 8192
#define MAX_REPORTS 64

struct block {
	u8 *p;
	unsigned order;
	bool live;
};

struct report {
	char what[64];
	const void *ptr;
};

struct env {
	struct kma a;
	bool debug;
	struct block blocks[MAX_BLOCKS];
	size_t nblocks;
	size_t live_pages;
	size_t alloc_calls, free_calls;
	long fail_countdown; /* < 0: never fail; else fail when it reaches 0 */
	struct report reports[MAX_REPORTS];
	size_t nreports, reports_seen;
};

static void *be_alloc(void *ctx, unsigned order)
{
	struct env *e = ctx;
	size_t size = KMA_PAGE_SIZE << order;
	u8 *p;

	e->alloc_calls++;
	if (e->fail_countdown >= 0 && e->fail_countdown-- == 0)
		return NULL;
	if (e->nblocks == MAX_BLOCKS) {
		/* Quarantine full: really release what kma gave back. */
		size_t n = 0;

		for (size_t i = 0; i < e->nblocks; i++) {
			if (e->blocks[i].live)
				e->blocks[n++] = e->blocks[i];
			else
				free(e->blocks[i].p);
		}
		e->nblocks = n;
	}
	assert_true(e->nblocks < MAX_BLOCKS);
	p = aligned_alloc(size, size);
	assert_non_null(p);
	/* Garbage, so that kma cannot rely on zeroed pages. */
	memset(p, 0x3c, size);
	e->blocks[e->nblocks++] = (struct block){ p, order, true };
	e->live_pages += 1UL << order;
	return p;
}

/*
 * Freed blocks are quarantined until teardown rather than handed back to
 * libc, so a double free that makes kma read a returned block's header is
 * not itself a use after free under AddressSanitizer.
 */
static void be_free(void *ctx, void *p, unsigned order)
{
	struct env *e = ctx;

	e->free_calls++;
	for (size_t i = 0; i < e->nblocks; i++) {
		if (e->blocks[i].p == p) {
			assert_true(e->blocks[i].live);
			assert_int_equal(e->blocks[i].order, order);
			e->blocks[i].live = false;
			e->live_pages -= 1UL << order;
			return;
		}
	}
	fail_msg("kma freed a block it never got: %p", p);
}

static void be_report(void *ctx, const char *what, const void *ptr)
{
	struct env *e = ctx;

	assert_true(e->nreports < MAX_REPORTS);
	snprintf(e->reports[e->nreports].what, sizeof(e->reports[0].what), "%s", what);
	e->reports[e->nreports].ptr = ptr;
	e->nreports++;
}

/* Consumes the next report, which must match. */
static void expect_report(struct env *e, const char *what, const void *ptr)
{
	assert_true(e->reports_seen < e->nreports);
	assert_string_equal(e->reports[e->reports_seen].what, what);
	assert_ptr_equal(e->reports[e->reports_seen].ptr, ptr);
	e->reports_seen++;
}

static void expect_no_more_reports(struct env *e)
{
	if (e->reports_seen < e->nreports)
		fail_msg("unexpected report \"%s\" at %p", e->reports[e->reports_seen].what,
			 e->reports[e->reports_seen].ptr);
}

/* The live block that contains p, or NULL. */
static struct block *block_of(struct env *e, const void *p)
{
	for (size_t i = 0; i < e->nblocks; i++) {
		struct block *b = &e->blocks[i];

		if (b->live && (const u8 *)p >= b->p &&
		    (const u8 *)p < b->p + (KMA_PAGE_SIZE << b->order))
			return b;
	}
	return NULL;
}

static const bool mode_normal = false;
static const bool mode_debug = true;

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	const struct kma_backend b = {
		.alloc_pages = be_alloc,
		.free_pages = be_free,
		.report = be_report,
		.ctx = e,
	};

	if (!e)
		return -1;
	e->debug = *state ? *(const bool *)*state : false;
	e->fail_countdown = -1;
	kma_init(&e->a, &b, e->debug);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	for (size_t i = 0; i < e->nblocks; i++)
		free(e->blocks[i].p);
	free(e);
	return 0;
}

/* Every test ends with all reports accounted for. */
static void finish(struct env *e)
{
	expect_no_more_reports(e);
}

static size_t debug_rz(const struct env *e)
{
	return e->debug ? KMA_REDZONE : 0;
}

static bool all_bytes(const void *p, u8 b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (((const u8 *)p)[i] != b)
			return false;
	return true;
}

/* ---- tests that need no allocator ---- */

static void test_size_classes(void **state)
{
	assert_int_equal(kma_size_class(0), 0);
	assert_int_equal(kma_size_class(1), 0);
	assert_int_equal(kma_size_class(16), 0);
	assert_int_equal(kma_size_class(17), 1);
	assert_int_equal(kma_size_class(32), 1);
	assert_int_equal(kma_size_class(33), 2);
	assert_int_equal(kma_size_class(64), 2);
	assert_int_equal(kma_size_class(65), 3);
	assert_int_equal(kma_size_class(128), 3);
	assert_int_equal(kma_size_class(129), 4);
	assert_int_equal(kma_size_class(256), 4);
	assert_int_equal(kma_size_class(257), 5);
	assert_int_equal(kma_size_class(512), 5);
	assert_int_equal(kma_size_class(513), 6);
	assert_int_equal(kma_size_class(1024), 6);
	assert_int_equal(kma_size_class(1025), 7);
	assert_int_equal(kma_size_class(2048), 7);
	assert_int_equal(kma_size_class(2049), -1);
	assert_int_equal(kma_size_class(SIZE_MAX), -1);

	for (int i = 0; i < KMA_NR_CLASSES; i++) {
		assert_int_equal(kma_class_size(i), 16UL << i);
		assert_int_equal(kma_size_class(kma_class_size(i)), i);
		assert_int_equal(kma_size_class(kma_class_size(i) + 1), i + 1 < KMA_NR_CLASSES ? i + 1 : -1);
	}
	assert_int_equal(kma_class_size(-1), 0);
	assert_int_equal(kma_class_size(KMA_NR_CLASSES), 0);
}

/* ---- both modes ---- */

static void test_zero_and_null(void **state)
{
	struct env *e = *state;

	assert_null(kma_alloc(&e->a, 0));
	kma_free(&e->a, NULL);
	assert_int_equal(kma_usable_size(&e->a, NULL), 0);
	assert_null(kma_alloc(&e->a, KMA_MAX_ALLOC + 1));
	assert_null(kma_alloc(&e->a, SIZE_MAX));
	assert_int_equal(e->alloc_calls, 0);
	finish(e);
}

/* Every size up to past a page: alignment, usable size, full writes. */
static void test_every_size(void **state)
{
	struct env *e = *state;

	for (size_t size = 1; size <= 5000; size += size < 2100 ? 1 : 13) {
		u8 *p = kma_alloc(&e->a, size);
		size_t us;

		assert_non_null(p);
		assert_int_equal((uintptr_t)p % KMA_ALIGN, 0);
		us = kma_usable_size(&e->a, p);
		assert_true(us >= size);
		if (size <= KMA_MAX_CLASS_SIZE)
			assert_int_equal(us, kma_class_size(kma_size_class(size)));
		if (e->debug)
			assert_true(all_bytes(p, KMA_NEW_BYTE, us));
		/* Writing all usable bytes must not trip a redzone. */
		memset(p, 0xee, us);
		kma_free(&e->a, p);
	}
	assert_int_equal(kma_check(&e->a), 0);
	finish(e);
}

/* Many live objects of mixed sizes never overlap. */
static void test_no_overlap(void **state)
{
	struct env *e = *state;
	enum { N = 3000 };
	u8 **ptrs = calloc(N, sizeof(*ptrs));
	size_t *sizes = calloc(N, sizeof(*sizes));

	assert_non_null(ptrs);
	assert_non_null(sizes);
	srand(31337);
	for (int i = 0; i < N; i++) {
		sizes[i] = 1 + (size_t)rand() % (i % 10 == 0 ? 9000 : 600);
		ptrs[i] = kma_alloc(&e->a, sizes[i]);
		assert_non_null(ptrs[i]);
		memset(ptrs[i], (u8)i, sizes[i]);
	}
	for (int i = 0; i < N; i++)
		assert_true(all_bytes(ptrs[i], (u8)i, sizes[i]));
	assert_int_equal(kma_check(&e->a), 0);
	for (int i = 0; i < N; i++)
		kma_free(&e->a, ptrs[i]);
	free(ptrs);
	free(sizes);
	finish(e);
}

/* Small objects live in 16 KiB aligned order-2 blocks; slot spacing shows
 * the redzones in debug mode only. */
static void test_small_layout(void **state)
{
	struct env *e = *state;

	for (int c = 0; c < KMA_NR_CLASSES; c++) {
		size_t size = kma_class_size(c);
		u8 *p = kma_alloc(&e->a, size);
		u8 *q = kma_alloc(&e->a, size);
		struct block *b = block_of(e, p);

		assert_non_null(b);
		assert_int_equal(b->order, KMA_SLAB_ORDER);
		assert_int_equal((uintptr_t)b->p % KMA_SLAB_SIZE, 0);
		assert_ptr_equal(block_of(e, q), b);
		/* Fresh slab: consecutive slots in address order. */
		assert_int_equal(q - p, (ptrdiff_t)(size + 2 * debug_rz(e)));
		/* The header sits at the start of the slab. */
		assert_true(p - b->p >= 32);
		if (e->debug) {
			assert_true(all_bytes(p - KMA_REDZONE, KMA_REDZONE_BYTE, KMA_REDZONE));
			assert_true(all_bytes(p + size, KMA_REDZONE_BYTE, KMA_REDZONE));
		}
		kma_free(&e->a, p);
		kma_free(&e->a, q);
	}
	finish(e);
}

static void test_large_layout(void **state)
{
	struct env *e = *state;
	const size_t sizes[] = { 2049, 4096, 16384 - 64 - 16, 16384 - 64, 16384, 100000, 1 << 20 };

	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		size_t size = sizes[i], need = 64 + size + debug_rz(e);
		size_t pages0 = e->live_pages;
		u8 *p = kma_alloc(&e->a, size);
		struct block *b = block_of(e, p);
		unsigned order = KMA_SLAB_ORDER;

		while ((KMA_PAGE_SIZE << order) < need)
			order++;
		assert_non_null(p);
		assert_non_null(b);
		assert_int_equal(b->order, order);
		assert_ptr_equal(p, b->p + KMA_LARGE_HDR);
		assert_int_equal((uintptr_t)b->p % (KMA_PAGE_SIZE << order), 0);
		assert_int_equal(e->live_pages - pages0, 1UL << order);
		if (e->debug) {
			assert_int_equal(kma_usable_size(&e->a, p), size);
			assert_true(all_bytes(p, KMA_NEW_BYTE, size));
			assert_true(all_bytes(p - KMA_REDZONE, KMA_REDZONE_BYTE, KMA_REDZONE));
			assert_true(all_bytes(p + size, KMA_REDZONE_BYTE, KMA_REDZONE));
		} else {
			assert_int_equal(kma_usable_size(&e->a, p),
					 (KMA_PAGE_SIZE << order) - KMA_LARGE_HDR);
		}
		memset(p, 0x11, kma_usable_size(&e->a, p));
		kma_free(&e->a, p);
		/* Large blocks go straight back to the provider. */
		assert_int_equal(e->live_pages, pages0);
	}
	finish(e);
}

/* A class keeps its last slab; other empty slabs go back to the provider. */
static void test_slab_lifecycle(void **state)
{
	struct env *e = *state;
	struct kma_stats st;
	size_t per_slab, n;
	u8 **ptrs;

	/* Learn slots per slab from the stats after the first allocation. */
	ptrs = calloc(4096, sizeof(*ptrs));
	assert_non_null(ptrs);
	ptrs[0] = kma_alloc(&e->a, 64);
	kma_stats(&e->a, &st);
	per_slab = st.cls[2].objs_total;
	assert_true(per_slab > 100 && per_slab < 16384 / 64);
	assert_int_equal(st.cls[2].slabs, 1);
	assert_int_equal(st.cls[2].objs_in_use, 1);
	assert_int_equal(e->live_pages, 4);

	n = 3 * per_slab + 1; /* four slabs */
	for (size_t i = 1; i < n; i++)
		assert_non_null(ptrs[i] = kma_alloc(&e->a, 50));
	kma_stats(&e->a, &st);
	assert_int_equal(st.cls[2].slabs, 4);
	assert_int_equal(st.cls[2].objs_in_use, n);
	assert_int_equal(st.backend_pages, 16);
	assert_int_equal(e->live_pages, 16);

	for (size_t i = 0; i < n; i++)
		kma_free(&e->a, ptrs[i]);
	kma_stats(&e->a, &st);
	assert_int_equal(st.cls[2].slabs, 1);
	assert_int_equal(st.cls[2].objs_in_use, 0);
	assert_int_equal(e->live_pages, 4);
	assert_int_equal(e->free_calls, 3);

	/* With a slab kept, alloc/free ping-pong costs the provider nothing. */
	e->alloc_calls = 0;
	for (int i = 0; i < 1000; i++)
		kma_free(&e->a, kma_alloc(&e->a, 64));
	assert_int_equal(e->alloc_calls, 0);
	assert_int_equal(kma_check(&e->a), 0);
	free(ptrs);
	finish(e);
}

static void test_stats(void **state)
{
	struct env *e = *state;
	struct kma_stats st;
	void *s1 = kma_alloc(&e->a, 10);
	void *s2 = kma_alloc(&e->a, 1000);
	void *s3 = kma_alloc(&e->a, 1000);
	void *l1 = kma_alloc(&e->a, 3000);
	void *l2 = kma_alloc(&e->a, 40000);

	kma_stats(&e->a, &st);
	for (int i = 0; i < KMA_NR_CLASSES; i++)
		assert_int_equal(st.cls[i].size, kma_class_size(i));
	assert_int_equal(st.cls[0].objs_in_use, 1);
	assert_int_equal(st.cls[6].objs_in_use, 2);
	assert_int_equal(st.cls[3].objs_in_use, 0);
	assert_int_equal(st.cls[3].slabs, 0);
	assert_int_equal(st.large_allocs, 2);
	assert_int_equal(st.large_pages, 4 + 16);
	assert_int_equal(st.backend_pages, e->live_pages);

	kma_free(&e->a, l2);
	kma_free(&e->a, s2);
	kma_stats(&e->a, &st);
	assert_int_equal(st.cls[6].objs_in_use, 1);
	assert_int_equal(st.large_allocs, 1);
	assert_int_equal(st.large_pages, 4);
	assert_int_equal(st.backend_pages, e->live_pages);
	kma_free(&e->a, s1);
	kma_free(&e->a, s3);
	kma_free(&e->a, l1);
	finish(e);
}

static void test_provider_failure(void **state)
{
	struct env *e = *state;
	void *p, *q;

	e->fail_countdown = 0;
	assert_null(kma_alloc(&e->a, 32));
	e->fail_countdown = 0;
	assert_null(kma_alloc(&e->a, 5000));
	assert_int_equal(e->live_pages, 0);

	/* A full slab and a failing provider: the next object fails cleanly. */
	e->fail_countdown = 1;
	p = kma_alloc(&e->a, 2048);
	assert_non_null(p);
	for (int i = 0; i < 32; i++) {
		q = kma_alloc(&e->a, 2048);
		if (!q)
			break;
	}
	assert_null(q);
	/* and recovery once the provider has memory again */
	e->fail_countdown = -1;
	assert_non_null(q = kma_alloc(&e->a, 2048));
	assert_int_equal(kma_check(&e->a), 0);
	finish(e);
	/* Leaked deliberately: teardown frees the provider's blocks. */
}

/* Pointers that are not object starts are refused with "invalid free". */
static void test_invalid_free(void **state)
{
	struct env *e = *state;
	u8 *p = kma_alloc(&e->a, 64);
	u8 *l = kma_alloc(&e->a, 5000);
	struct block *b = block_of(e, p);
	u8 *foreign = aligned_alloc(2 * KMA_SLAB_SIZE, 2 * KMA_SLAB_SIZE);
	struct kma_stats before, after;

	assert_non_null(foreign);
	memset(foreign, 0, 2 * KMA_SLAB_SIZE);
	kma_stats(&e->a, &before);

	kma_free(&e->a, p + 1);           /* misaligned */
	expect_report(e, "invalid free", p + 1);
	kma_free(&e->a, p + 16);          /* inside the object */
	expect_report(e, "invalid free", p + 16);
	kma_free(&e->a, b->p);            /* the slab header */
	expect_report(e, "invalid free", b->p);
	kma_free(&e->a, b->p + 16);       /* inside the header */
	expect_report(e, "invalid free", b->p + 16);
	kma_free(&e->a, b->p + KMA_SLAB_SIZE - 16); /* spare tail, no slot */
	expect_report(e, "invalid free", b->p + KMA_SLAB_SIZE - 16);
	kma_free(&e->a, l + 16);          /* inside a large object */
	expect_report(e, "invalid free", l + 16);
	kma_free(&e->a, l - 64);          /* the large header */
	expect_report(e, "invalid free", l - 64);
	kma_free(&e->a, foreign + 64);    /* not kma memory at all */
	expect_report(e, "invalid free", foreign + 64);
	kma_free(&e->a, foreign + KMA_SLAB_SIZE + 4096);
	expect_report(e, "invalid free", foreign + KMA_SLAB_SIZE + 4096);
	assert_int_equal(kma_usable_size(&e->a, p + 16), 0);
	assert_int_equal(kma_usable_size(&e->a, foreign + 64), 0);
	assert_int_equal(kma_usable_size(&e->a, l + 16), 0);

	/* Nothing changed; the real objects still free fine. */
	kma_stats(&e->a, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(kma_check(&e->a), 0);
	kma_free(&e->a, p);
	kma_free(&e->a, l);
	free(foreign);
	finish(e);
}

/* Freeing into a slab or large block already returned to the provider. */
static void test_double_free_after_release(void **state)
{
	struct env *e = *state;
	struct kma_stats st;
	u8 *keep = kma_alloc(&e->a, 2048), *extra[64], *l;
	size_t n = 0;

	/* Fill the first slab, then put one object in a second slab. */
	kma_stats(&e->a, &st);
	for (size_t i = 1; i < st.cls[7].objs_total; i++)
		extra[n++] = kma_alloc(&e->a, 2048);
	extra[n] = kma_alloc(&e->a, 2048);
	assert_ptr_not_equal(block_of(e, extra[n]), block_of(e, keep));
	kma_free(&e->a, extra[n]); /* second slab empties: released */
	kma_stats(&e->a, &st);
	assert_int_equal(st.cls[7].slabs, 1);
	kma_free(&e->a, extra[n]);
	expect_report(e, "double free", extra[n]);

	l = kma_alloc(&e->a, 20000);
	kma_free(&e->a, l);
	kma_free(&e->a, l);
	expect_report(e, "double free", l);
	kma_stats(&e->a, &st);
	assert_int_equal(st.large_allocs, 0);

	for (size_t i = 0; i < n; i++)
		kma_free(&e->a, extra[i]);
	kma_free(&e->a, keep);
	assert_int_equal(kma_check(&e->a), 0);
	finish(e);
}

/* Freeing the last object of a slab twice is caught even without debug. */
static void test_double_free_empty_slab(void **state)
{
	struct env *e = *state;
	u8 *p = kma_alloc(&e->a, 128);
	struct kma_stats st;

	kma_free(&e->a, p);
	kma_free(&e->a, p);
	expect_report(e, "double free", p);
	kma_stats(&e->a, &st);
	assert_int_equal(st.cls[3].objs_in_use, 0);
	assert_int_equal(kma_check(&e->a), 0);
	finish(e);
}

/* ---- debug mode only ---- */

static void test_debug_double_free(void **state)
{
	struct env *e = *state;
	u8 *p = kma_alloc(&e->a, 100), *q = kma_alloc(&e->a, 100);
	struct kma_stats before, after;

	kma_free(&e->a, p);
	kma_stats(&e->a, &before);
	kma_free(&e->a, p);
	expect_report(e, "double free", p);
	kma_free(&e->a, p);
	expect_report(e, "double free", p);
	kma_stats(&e->a, &after);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(kma_check(&e->a), 0);

	/* The free list was not corrupted: two allocations, two objects. */
	u8 *r1 = kma_alloc(&e->a, 100), *r2 = kma_alloc(&e->a, 100);

	assert_ptr_equal(r1, p);
	assert_ptr_not_equal(r2, p);
	assert_ptr_not_equal(r2, q);
	kma_free(&e->a, q);
	kma_free(&e->a, r1);
	kma_free(&e->a, r2);
	finish(e);
}

static void test_debug_poison_patterns(void **state)
{
	struct env *e = *state;
	u8 *p = kma_alloc(&e->a, 200); /* class 256 */

	assert_true(all_bytes(p, KMA_NEW_BYTE, 256));
	memset(p, 0, 256);
	kma_free(&e->a, p);
	/* Still inside the kept slab, so peeking is safe. */
	assert_true(all_bytes(p, KMA_FREE_BYTE, 256));
	assert_true(all_bytes(p + 256, KMA_REDZONE_BYTE, KMA_REDZONE));
	assert_int_not_equal(KMA_NEW_BYTE, KMA_FREE_BYTE);
	/* Handed out again: fresh pattern, no complaints. */
	assert_ptr_equal(kma_alloc(&e->a, 256), p);
	assert_true(all_bytes(p, KMA_NEW_BYTE, 256));
	kma_free(&e->a, p);
	finish(e);
}

static void test_debug_redzone_small(void **state)
{
	struct env *e = *state;

	for (int c = 0; c < KMA_NR_CLASSES; c++) {
		size_t size = kma_class_size(c);
		u8 *p;

		/* Overflow by one byte past the object. */
		p = kma_alloc(&e->a, size);
		p[size] = 0;
		kma_free(&e->a, p);
		expect_report(e, "redzone overwritten", p);
		/* Underflow, at the far end of the front redzone. */
		p = kma_alloc(&e->a, size);
		p[-(ptrdiff_t)KMA_REDZONE] ^= 1;
		kma_free(&e->a, p);
		expect_report(e, "redzone overwritten", p);
		/* Last byte of the rear redzone. */
		p = kma_alloc(&e->a, size);
		p[size + KMA_REDZONE - 1] = 0x77;
		assert_int_equal(kma_check(&e->a), 1);
		expect_report(e, "redzone overwritten", p);
		kma_free(&e->a, p);
		expect_report(e, "redzone overwritten", p);
		/* The free still happened and the zone was repaired. */
		assert_ptr_equal(kma_alloc(&e->a, size), p);
		kma_free(&e->a, p);
	}
	assert_int_equal(kma_check(&e->a), 0);
	finish(e);
}

static void test_debug_redzone_large(void **state)
{
	struct env *e = *state;
	struct kma_stats st;
	u8 *p = kma_alloc(&e->a, 5000);

	p[5000] = 1; /* right after the requested size */
	assert_int_equal(kma_check(&e->a), 1);
	expect_report(e, "redzone overwritten", p);
	kma_free(&e->a, p);
	expect_report(e, "redzone overwritten", p);

	p = kma_alloc(&e->a, 70000);
	p[-1] = 1;
	kma_free(&e->a, p);
	expect_report(e, "redzone overwritten", p);
	kma_stats(&e->a, &st);
	assert_int_equal(st.large_allocs, 0);
	assert_int_equal(e->live_pages, 0);
	finish(e);
}

static void test_debug_use_after_free(void **state)
{
	struct env *e = *state;
	u8 *p = kma_alloc(&e->a, 48), *q;

	kma_free(&e->a, p);
	p[40] = 'x'; /* write to freed memory */
	assert_int_equal(kma_check(&e->a), 1);
	expect_report(e, "use after free", p);
	q = kma_alloc(&e->a, 48); /* the same slot, LIFO */
	assert_ptr_equal(q, p);
	expect_report(e, "use after free", p);
	/* Handed out anyway, with the fresh pattern. */
	assert_true(all_bytes(q, KMA_NEW_BYTE, 64));
	kma_free(&e->a, q);

	/* Damage to a free slot's redzone is noticed when it is reused. */
	p = kma_alloc(&e->a, 48);
	kma_free(&e->a, p);
	p[64 + 3] = 0;
	q = kma_alloc(&e->a, 48);
	assert_ptr_equal(q, p);
	expect_report(e, "redzone overwritten", p);
	kma_free(&e->a, q);
	assert_int_equal(kma_check(&e->a), 0);
	finish(e);
}

/* A scribbled free-list link is never followed. */
static void test_debug_freelist_corruption(void **state)
{
	struct env *e = *state;
	u8 *a0 = kma_alloc(&e->a, 32), *a1 = kma_alloc(&e->a, 32), *a2 = kma_alloc(&e->a, 32);
	u8 *r1, *r2;
	struct kma_stats st;

	kma_free(&e->a, a1);
	kma_free(&e->a, a2); /* a2 is the head, its link points at a1 */
	memset(a2 - KMA_REDZONE, 0x41, sizeof(void *));
	r1 = kma_alloc(&e->a, 32);
	assert_ptr_equal(r1, a2);
	expect_report(e, "free list corrupted", a2);
	/* The rest of that slab's chain is abandoned: a new slab serves. */
	r2 = kma_alloc(&e->a, 32);
	assert_non_null(r2);
	assert_ptr_not_equal(block_of(e, r2), block_of(e, r1));
	kma_stats(&e->a, &st);
	assert_int_equal(st.cls[1].slabs, 2);
	assert_int_equal(st.cls[1].objs_in_use, 3);
	assert_int_equal(kma_check(&e->a), 0);
	/* Freeing into the abandoned slab revives it. */
	kma_free(&e->a, r1);
	assert_ptr_equal(kma_alloc(&e->a, 32), r1);
	kma_free(&e->a, r1);
	kma_free(&e->a, r2);
	kma_free(&e->a, a0);
	kma_stats(&e->a, &st);
	assert_int_equal(st.cls[1].slabs, 1);
	assert_int_equal(kma_check(&e->a), 0);
	finish(e);
}

/* A slot whose tag was scribbled on is not handed out. */
static void test_debug_bad_tag_on_freelist(void **state)
{
	struct env *e = *state;
	u8 *p = kma_alloc(&e->a, 16), *q;
	struct block *b = block_of(e, p);
	size_t hdr = (size_t)(p - KMA_REDZONE - b->p), tag = 0;
	u8 *allocated = malloc(hdr), *freed = malloc(hdr);

	/*
	 * The state tags follow the fixed header fields, so p's tag is the
	 * last header byte that differs between p allocated and p free.
	 */
	assert_non_null(allocated);
	assert_non_null(freed);
	memcpy(allocated, b->p, hdr);
	kma_free(&e->a, p);
	memcpy(freed, b->p, hdr);
	for (size_t i = 0; i < hdr; i++)
		if (allocated[i] != freed[i])
			tag = i;
	assert_true(tag >= 16);

	b->p[tag] ^= 0x50; /* neither free nor allocated */
	q = kma_alloc(&e->a, 16);
	expect_report(e, "free list corrupted", p);
	assert_non_null(q);
	assert_ptr_not_equal(block_of(e, q), b);
	b->p[tag] ^= 0x50;
	assert_int_equal(kma_check(&e->a), 0);
	kma_free(&e->a, q);
	free(allocated);
	free(freed);
	finish(e);
}

/* ---- randomised, both modes ---- */

#define RND_SLOTS 700

static void test_random_against_model(void **state)
{
	struct env *e = *state;
	struct {
		u8 *p;
		size_t size;
		u8 fill;
	} live[RND_SLOTS] = { { 0 } };
	size_t in_use[KMA_NR_CLASSES] = { 0 }, nlarge = 0;
	struct kma_stats st;

	srand(e->debug ? 8086 : 6502);
	for (int step = 0; step < 40000; step++) {
		int i = rand() % RND_SLOTS;

		if (live[i].p) {
			int c = kma_size_class(live[i].size);

			assert_true(all_bytes(live[i].p, live[i].fill, live[i].size));
			kma_free(&e->a, live[i].p);
			live[i].p = NULL;
			if (c >= 0)
				in_use[c]--;
			else
				nlarge--;
		} else {
			size_t size;
			int c;

			switch (rand() % 10) {
			case 0:
				size = 2049 + (size_t)rand() % 30000;
				break;
			case 1:
			case 2:
				size = 1 + (size_t)rand() % 2048;
				break;
			default:
				size = 1 + (size_t)rand() % 128;
				break;
			}
			live[i].p = kma_alloc(&e->a, size);
			assert_non_null(live[i].p);
			assert_int_equal((uintptr_t)live[i].p % KMA_ALIGN, 0);
			live[i].size = size;
			live[i].fill = (u8)rand();
			memset(live[i].p, live[i].fill, size);
			c = kma_size_class(size);
			if (c >= 0)
				in_use[c]++;
			else
				nlarge++;
		}
		if (step % 2000 == 0) {
			kma_stats(&e->a, &st);
			for (int c = 0; c < KMA_NR_CLASSES; c++)
				assert_int_equal(st.cls[c].objs_in_use, in_use[c]);
			assert_int_equal(st.large_allocs, nlarge);
			assert_int_equal(st.backend_pages, e->live_pages);
			assert_int_equal(kma_check(&e->a), 0);
		}
	}
	for (int i = 0; i < RND_SLOTS; i++)
		if (live[i].p) {
			assert_true(all_bytes(live[i].p, live[i].fill, live[i].size));
			kma_free(&e->a, live[i].p);
		}
	/* At most one kept slab per class remains. */
	kma_stats(&e->a, &st);
	for (int c = 0; c < KMA_NR_CLASSES; c++) {
		assert_int_equal(st.cls[c].objs_in_use, 0);
		assert_true(st.cls[c].slabs <= 1);
	}
	assert_int_equal(st.large_allocs, 0);
	assert_int_equal(st.backend_pages, e->live_pages);
	assert_true(e->live_pages <= KMA_NR_CLASSES * 4);
	assert_int_equal(kma_check(&e->a), 0);
	finish(e);
}

/* Each mode gets its own test name so that TAP output stays unambiguous. */
#define IN_MODE(fn, mode)                                                         \
	{                                                                         \
		.name = #fn "_" #mode, .test_func = fn, .setup_func = setup,      \
		.teardown_func = teardown, .initial_state = (void *)&mode_##mode, \
	}
#define BOTH(fn) IN_MODE(fn, normal), IN_MODE(fn, debug)
#define DEBUG(fn) IN_MODE(fn, debug)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_classes),
		BOTH(test_zero_and_null),
		BOTH(test_every_size),
		BOTH(test_no_overlap),
		BOTH(test_small_layout),
		BOTH(test_large_layout),
		BOTH(test_slab_lifecycle),
		BOTH(test_stats),
		BOTH(test_provider_failure),
		BOTH(test_invalid_free),
		BOTH(test_double_free_after_release),
		BOTH(test_double_free_empty_slab),
		DEBUG(test_debug_double_free),
		DEBUG(test_debug_poison_patterns),
		DEBUG(test_debug_redzone_small),
		DEBUG(test_debug_redzone_large),
		DEBUG(test_debug_use_after_free),
		DEBUG(test_debug_freelist_corruption),
		DEBUG(test_debug_bad_tag_on_freelist),
		BOTH(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
