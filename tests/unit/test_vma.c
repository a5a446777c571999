/*
 * Unit tests for managers/memory/vma.c (include/lego/vma.h): the vma tree
 * and the Linux memory-mapping semantics on it.
 *
 * Three kinds of tests:
 *  1. Unit cases for each call and each error (test_* up to the model).
 *  2. A randomized comparison against an independent page-granular model
 *     (one record per page: mapped, prot, flags, kind, file, page offset,
 *     and a "content" token). The model derives vmas as maximal runs of
 *     pages that may share a vma, so after every call the test checks the
 *     exact vma list, the return value, the pages' tokens as moved and
 *     freed by the unmap/move callbacks, reference counts (get/put), that
 *     no vma leaked, and vma_check().
 *  3. A comparison against the host Linux kernel, in a forked child that
 *     issues the same calls as raw system calls and reports results and
 *     its /proc/self/maps restricted to a reserved region:
 *     - "fixed": a region R with guard mappings at both ends; mmap
 *       (MAP_FIXED, MAP_FIXED_NOREPLACE, hints), munmap, mprotect and
 *       mremap (in place, MREMAP_FIXED incl. multi-vma moves,
 *       DONTUNMAP, MAYMOVE) on private/shared anonymous memory and
 *       private/shared memfd mappings, errors included. Compared after
 *       every call: return value (relative to R) or errno, and the list
 *       of (start, end, perms) inside R. Placements that Linux makes
 *       outside R (an unusable hint, an mremap that moves) are compared
 *       only as "not where asked" and undone on both sides.
 *     - "topdown": R is made the highest free space below mmap_base by
 *       filling every gap above it, so that Linux's top-down placement
 *       lands in R; then mmap without MAP_FIXED (with and without hints,
 *       2 MiB multiples for the THP alignment, GROWSDOWN guard gaps),
 *       munmap, mprotect and moving mremap are compared exactly. Calls the
 *       model cannot place inside R are not sent (Linux would go below R).
 *     Not compared: device/inode/offset/name columns, brk and stack growth
 *     (the test process's heap and stack are not in R), MAP_32BIT,
 *     MAP_LOCKED/MAP_POPULATE, anything involving page contents (the host
 *     never writes to the mappings, see the "Merging" note in vma.h), and
 *     the vma count limit. These are covered by the unit cases and the
 *     model only.
 *     Behaviour that changed between Linux versions (multi-vma moves in
 *     6.17, merge on in-place mremap growth, MAP_STACK as VM_NOHUGEPAGE,
 *     VM_ACCOUNT dropped by mprotect, THP alignment) is probed first; on
 *     an older host the generator avoids the affected cases.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lego/vma.h>

#define P VMA_PAGE_SIZE
#define MIB (1ULL << 20)

/* The Linux ABI values in lego/vma.h are Linux's. */
_Static_assert(LEGO_PROT_READ == PROT_READ && LEGO_PROT_WRITE == PROT_WRITE &&
		       LEGO_PROT_EXEC == PROT_EXEC && LEGO_PROT_GROWSDOWN == PROT_GROWSDOWN,
	       "prot");
_Static_assert(LEGO_MAP_SHARED == MAP_SHARED && LEGO_MAP_PRIVATE == MAP_PRIVATE &&
		       LEGO_MAP_FIXED == MAP_FIXED && LEGO_MAP_ANONYMOUS == MAP_ANONYMOUS &&
		       LEGO_MAP_GROWSDOWN == MAP_GROWSDOWN && LEGO_MAP_NORESERVE == MAP_NORESERVE &&
		       LEGO_MAP_STACK == MAP_STACK && LEGO_MAP_32BIT == MAP_32BIT &&
		       LEGO_MAP_FIXED_NOREPLACE == MAP_FIXED_NOREPLACE &&
		       LEGO_MAP_LOCKED == MAP_LOCKED && LEGO_MAP_HUGETLB == MAP_HUGETLB &&
		       LEGO_MAP_SHARED_VALIDATE == MAP_SHARED_VALIDATE,
	       "map flags");
_Static_assert(LEGO_MREMAP_MAYMOVE == MREMAP_MAYMOVE && LEGO_MREMAP_FIXED == MREMAP_FIXED,
	       "mremap flags");

#define RW (LEGO_PROT_READ | LEGO_PROT_WRITE)
#define RO LEGO_PROT_READ
#define ANON (LEGO_MAP_PRIVATE | LEGO_MAP_ANONYMOUS)
#define SHANON (LEGO_MAP_SHARED | LEGO_MAP_ANONYMOUS)
#define FIXED LEGO_MAP_FIXED

/* ---------------------------------------------------------------------- */
/* Fixture: a space with counting callbacks and a page "content" store     */

struct fx {
	struct vma_space s;
	long live;		/* struct vmas allocated and not freed */
	long fail_after;	/* allocs that still succeed; < 0: all */
	long refs;		/* get - put */
	int nunmap, nmove;
	struct { u64 a, b, vs, ve; } unmaps[64];
	struct { u64 from, to, len; } moves[16];
	u64 pbase;		/* the page store covers [pbase, pbase + npages * P) */
	size_t npages;
	u64 *tok;
};

static struct vma *fx_alloc(void *ctx)
{
	struct fx *f = ctx;
	struct vma *v;

	if (f->fail_after == 0)
		return NULL;
	if (f->fail_after > 0)
		f->fail_after--;
	v = malloc(sizeof(*v));
	assert_non_null(v);
	memset(v, 0xa5, sizeof(*v));	/* "contents undefined" */
	f->live++;
	return v;
}

static void fx_free(void *ctx, struct vma *v)
{
	struct fx *f = ctx;

	f->live--;
	free(v);
}

static void fx_get(void *ctx, const struct vma *v)
{
	((struct fx *)ctx)->refs++;
}

static void fx_put(void *ctx, const struct vma *v)
{
	((struct fx *)ctx)->refs--;
}

static u64 *fx_tok(struct fx *f, u64 addr)
{
	if (addr < f->pbase || (addr - f->pbase) / P >= f->npages)
		return NULL;
	return &f->tok[(addr - f->pbase) / P];
}

static void fx_unmap(void *ctx, const struct vma *v, u64 a, u64 b)
{
	struct fx *f = ctx;

	assert_true(a < b && a % P == 0 && b % P == 0);
	assert_true(v->start <= a && b <= v->end);
	if (f->nunmap < 64) {
		f->unmaps[f->nunmap].a = a;
		f->unmaps[f->nunmap].b = b;
		f->unmaps[f->nunmap].vs = v->start;
		f->unmaps[f->nunmap].ve = v->end;
	}
	f->nunmap++;
	for (u64 x = a; x < b; x += P) {
		u64 *t = fx_tok(f, x);

		if (t)
			*t = 0;
	}
}

static void fx_move(void *ctx, u64 from, u64 to, u64 len)
{
	struct fx *f = ctx;

	assert_true(len > 0 && from % P == 0 && to % P == 0 && len % P == 0);
	if (f->nmove < 16) {
		f->moves[f->nmove].from = from;
		f->moves[f->nmove].to = to;
		f->moves[f->nmove].len = len;
	}
	f->nmove++;
	for (u64 k = 0; k < len; k += P) {
		u64 *src = fx_tok(f, from + k), *dst = fx_tok(f, to + k);

		/* The destination's own pages were unmapped before. */
		if (dst)
			assert_int_equal(*dst, 0);
		if (dst)
			*dst = src ? *src : 0;
		if (src)
			*src = 0;
	}
}

static const struct vma_ops fx_ops_template = {
	.alloc = fx_alloc, .free = fx_free, .get = fx_get, .put = fx_put,
	.unmap = fx_unmap, .move = fx_move,
};

/* Unit-test space: [2 MiB, 2 MiB + 16 MiB); pages are named relative to lo. */
#define LO (2 * MIB)
#define NPG 4096ULL
#define HI (LO + NPG * P)
#define A(pg) (LO + (u64)(pg) * P)

static struct fx *fx_new_params(const struct vma_space_params *p)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vma_ops ops = fx_ops_template;

	assert_non_null(f);
	f->fail_after = -1;
	ops.ctx = f;
	assert_int_equal(vma_space_init(&f->s, p, &ops), 0);
	f->pbase = p->lo;
	f->npages = (p->hi - p->lo) / P;
	if (f->npages > 65536)
		f->npages = 65536;
	f->tok = calloc(f->npages, sizeof(u64));
	assert_non_null(f->tok);
	return f;
}

static struct fx *fx_new(void)
{
	struct vma_space_params p = { .lo = LO, .hi = HI };

	return fx_new_params(&p);
}

/* Checks the invariants and the bookkeeping that must hold after any call. */
static void fx_ok(struct fx *f)
{
	const char *why = NULL;

	if (vma_check(&f->s, &why))
		fail_msg("vma_check: %s", why);
	assert_int_equal(f->live, f->s.nr_vmas);
	assert_int_equal(f->refs, f->s.nr_vmas);
}

static void fx_done(struct fx *f)
{
	fx_ok(f);
	vma_space_clear(&f->s);
	assert_int_equal(f->live, 0);
	assert_int_equal(f->refs, 0);
	assert_int_equal(f->s.nr_vmas, 0);
	free(f->tok);
	free(f);
}

static void fx_reset_log(struct fx *f)
{
	f->nunmap = f->nmove = 0;
}

/* "start-end:perm ..." with pages relative to the space's lo. */
static const char *layout(struct fx *f)
{
	static char buf[8192];
	size_t n = 0;
	const struct vma *v;

	buf[0] = 0;
	vma_for_each(v, &f->s) {
		n += snprintf(buf + n, sizeof(buf) - n, "%s%llu-%llu:%c%c%c%c", n ? " " : "",
			      (unsigned long long)((v->start - f->s.lo) / P),
			      (unsigned long long)((v->end - f->s.lo) / P),
			      v->prot & RO ? 'r' : '-', v->prot & LEGO_PROT_WRITE ? 'w' : '-',
			      v->prot & LEGO_PROT_EXEC ? 'x' : '-',
			      v->flags & VMA_F_SHARED ? 's' : 'p');
		assert_true(n < sizeof(buf));
	}
	fx_ok(f);
	return buf;
}

static s64 do_mmap(struct fx *f, u64 addr, u64 len, u32 prot, u32 flags)
{
	struct vma_mmap_req q = { .addr = addr, .len = len, .prot = prot, .flags = flags };
	s64 r = vma_mmap(&f->s, &q);

	fx_ok(f);
	return r;
}

static s64 do_mmap_file(struct fx *f, u64 addr, u64 len, u32 prot, u32 flags, u64 file,
			u64 off)
{
	struct vma_mmap_req q = { .addr = addr, .len = len, .prot = prot, .flags = flags,
				  .file = file, .off = off };
	s64 r = vma_mmap(&f->s, &q);

	fx_ok(f);
	return r;
}

/* mmap that must succeed at the given address. */
static void map_at(struct fx *f, u64 pg, u64 npages, u32 prot, u32 flags)
{
	assert_int_equal(do_mmap(f, A(pg), npages * P, prot, flags | FIXED), (s64)A(pg));
}

static void touch(struct fx *f, u64 pg, u64 npages, u64 first_token)
{
	for (u64 i = 0; i < npages; i++)
		f->tok[pg + i] = first_token + i;
}

/* One /proc/self/maps line as Linux prints it (name from column 73). */
static const char *mapline(u64 start, u64 end, const char *perm, u64 off, const char *name)
{
	static char line[4][256];
	static int k;
	char *l = line[k++ % 4];
	int n = snprintf(l, 200, "%08llx-%08llx %s %08llx 00:00 0 ", (unsigned long long)start,
			 (unsigned long long)end, perm, (unsigned long long)off);

	if (name) {
		while (n < 72)
			l[n++] = ' ';
		n += snprintf(l + n, 50, " %s", name);
	}
	snprintf(l + n, 2, "\n");
	return l;
}

/* ---------------------------------------------------------------------- */
/* Unit cases                                                              */

static void test_init(void **state)
{
	struct vma_space s;
	struct vma_ops ops = fx_ops_template;
	struct vma_space_params p = { .lo = 4096, .hi = 4096 };
	struct vma_mmap_req q = { .len = P, .prot = RW, .flags = ANON };

	assert_int_equal(vma_space_init(&s, &p, &ops), -EINVAL);
	assert_int_equal(vma_mmap(&s, &q), -ENOMEM);
	p.hi = 8193;
	assert_int_equal(vma_space_init(&s, &p, &ops), -EINVAL);
	p.lo = 100;
	p.hi = 8192;
	assert_int_equal(vma_space_init(&s, &p, &ops), -EINVAL);
	p = (struct vma_space_params){ .lo = LO, .hi = HI, .mmap_base = HI + 100 * P };
	assert_int_equal(vma_space_init(&s, &p, &ops), 0);
	assert_int_equal(s.mmap_base, HI);	/* clamped */
	assert_int_equal(s.legacy_base, LO);
	assert_int_equal(s.max_vmas, VMA_DEFAULT_MAX_VMAS);
	assert_null(vma_first(&s));
	assert_null(vma_find(&s, 0));
	assert_int_equal(vma_count(&s), 0);
	assert_int_equal(vma_check(&s, NULL), 0);
}

static void test_tree_lookup_iteration(void **state)
{
	struct fx *f = fx_new();
	const struct vma *v;
	int n = 0;

	/* 300 two-page vmas with one-page holes, alternating prot so that
	 * none merge, inserted in a scrambled order. */
	for (int k = 0; k < 300; k++) {
		int i = (k * 7) % 300;

		map_at(f, 3 * i, 2, i % 2 ? RO : RW, ANON);
	}
	assert_int_equal(vma_count(&f->s), 300);
	vma_for_each(v, &f->s) {
		assert_int_equal(v->start, A(3 * n));
		assert_int_equal(v->end, A(3 * n + 2));
		n++;
	}
	assert_int_equal(n, 300);
	for (v = vma_last(&f->s), n = 299; v; v = vma_prev(v), n--)
		assert_int_equal(v->start, A(3 * n));
	assert_int_equal(n, -1);
	for (int pg = 0; pg < 900; pg++) {
		struct vma *w = vma_lookup(&f->s, A(pg) + 123);

		if (pg % 3 == 2) {
			assert_null(w);
			if (pg < 899)
				assert_int_equal(vma_find(&f->s, A(pg))->start, A(pg + 1));
		} else {
			assert_non_null(w);
			assert_int_equal(w->start, A(pg - pg % 3));
			assert_ptr_equal(vma_find(&f->s, A(pg)), w);
		}
	}
	assert_null(vma_find(&f->s, A(899)));
	assert_null(vma_lookup(&f->s, LO - 1));
	assert_ptr_equal(vma_find(&f->s, 0), vma_first(&f->s));
	assert_null(vma_find_intersection(&f->s, A(2), A(3)));
	assert_int_equal(vma_find_intersection(&f->s, A(2), A(4))->start, A(3));
	/* The tree stays balanced while most vmas go away again. */
	for (int k = 0; k < 300; k += 2)
		assert_int_equal(vma_munmap(&f->s, A(3 * k), 2 * P), 0);
	fx_ok(f);
	assert_int_equal(vma_count(&f->s), 150);
	fx_done(f);
}

static void test_mmap_fixed_and_merge(void **state)
{
	struct fx *f = fx_new();

	map_at(f, 10, 2, RW, ANON);
	map_at(f, 12, 3, RW, ANON);	/* merges with the previous one */
	assert_string_equal(layout(f), "10-15:rw-p");
	map_at(f, 8, 2, RW, ANON);	/* merges below */
	assert_string_equal(layout(f), "8-15:rw-p");
	map_at(f, 16, 2, RW, ANON);	/* a hole: no merge */
	map_at(f, 15, 1, RW, ANON);	/* fills it: three become one */
	assert_string_equal(layout(f), "8-18:rw-p");
	map_at(f, 18, 2, RO, ANON);	/* other prot */
	map_at(f, 20, 2, RO, ANON | LEGO_MAP_NORESERVE); /* other flags */
	map_at(f, 22, 2, RO, SHANON);	/* shared */
	map_at(f, 24, 2, RO, SHANON);	/* another shared object */
	assert_string_equal(layout(f), "8-18:rw-p 18-20:r--p 20-22:r--p 22-24:r--s 24-26:r--s");
	assert_int_equal(vma_lookup(&f->s, A(22))->file + 1, vma_lookup(&f->s, A(24))->file);
	/* MAP_STACK and GROWSDOWN mappings are different vmas too. */
	map_at(f, 30, 2, RW, ANON | LEGO_MAP_STACK);
	map_at(f, 32, 2, RW, ANON);
	map_at(f, 34, 2, RW, ANON | LEGO_MAP_GROWSDOWN);
	assert_int_equal(vma_count(&f->s), 8);
	assert_true(vma_lookup(&f->s, A(30))->flags & VMA_F_NOHUGEPAGE);
	assert_true(vma_lookup(&f->s, A(34))->flags & VMA_F_GROWSDOWN);
	assert_true(vma_lookup(&f->s, A(32))->flags & VMA_F_ACCOUNT);
	assert_false(vma_lookup(&f->s, A(18))->flags & VMA_F_ACCOUNT);
	fx_done(f);
}

static void test_mmap_file_merge(void **state)
{
	struct fx *f = fx_new();
	struct vma *v;

	assert_int_equal(do_mmap_file(f, A(10), 2 * P, RO, LEGO_MAP_PRIVATE | FIXED, 7, 4 * P),
			 (s64)A(10));
	/* contiguous offset: merges */
	assert_int_equal(do_mmap_file(f, A(12), 2 * P, RO, LEGO_MAP_PRIVATE | FIXED, 7, 6 * P),
			 (s64)A(12));
	assert_string_equal(layout(f), "10-14:r--p");
	v = vma_lookup(&f->s, A(11));
	assert_int_equal(v->kind, VMA_FILE);
	assert_int_equal(v->file, 7);
	assert_int_equal(v->pgoff, 4);
	/* non-contiguous offset, other file: no merge */
	assert_int_equal(do_mmap_file(f, A(14), P, RO, LEGO_MAP_PRIVATE | FIXED, 7, 100 * P),
			 (s64)A(14));
	assert_int_equal(do_mmap_file(f, A(15), P, RO, LEGO_MAP_PRIVATE | FIXED, 8, 101 * P),
			 (s64)A(15));
	assert_string_equal(layout(f), "10-14:r--p 14-15:r--p 15-16:r--p");
	/* mprotect to rw and back: a file vma keeps VM_ACCOUNT (sticky), so
	 * the part that was writable no longer merges with the rest. */
	assert_int_equal(vma_mprotect(&f->s, A(10), 2 * P, RW), 0);
	assert_string_equal(layout(f), "10-12:rw-p 12-14:r--p 14-15:r--p 15-16:r--p");
	assert_int_equal(vma_mprotect(&f->s, A(10), 2 * P, RO), 0);
	assert_string_equal(layout(f), "10-12:r--p 12-14:r--p 14-15:r--p 15-16:r--p");
	assert_true(vma_lookup(&f->s, A(10))->flags & VMA_F_ACCOUNT);
	assert_int_equal(vma_lookup(&f->s, A(12))->pgoff, 6);
	/* Anonymous memory loses it again: same sequence merges back. */
	map_at(f, 20, 4, RO, ANON);
	assert_int_equal(vma_mprotect(&f->s, A(20), 2 * P, RW), 0);
	assert_true(vma_lookup(&f->s, A(20))->flags & VMA_F_ACCOUNT);
	assert_int_equal(vma_mprotect(&f->s, A(20), 2 * P, RO), 0);
	assert_int_equal(vma_lookup(&f->s, A(20))->end, A(24));
	/* Shared mappings are never VM_ACCOUNT; the pieces of one object
	 * rejoin when their prot becomes equal again. */
	map_at(f, 30, 3, RW, SHANON);
	assert_int_equal(vma_mprotect(&f->s, A(31), P, RO), 0);
	assert_string_equal(layout(f), "10-12:r--p 12-14:r--p 14-15:r--p 15-16:r--p 20-24:r--p "
				       "30-31:rw-s 31-32:r--s 32-33:rw-s");
	assert_int_equal(vma_lookup(&f->s, A(32))->pgoff, 2);
	assert_int_equal(vma_mprotect(&f->s, A(31), P, RW), 0);
	assert_int_equal(vma_lookup(&f->s, A(30))->end, A(33));
	assert_false(vma_lookup(&f->s, A(30))->flags & VMA_F_ACCOUNT);
	fx_done(f);
}

static void test_mmap_fixed_replaces(void **state)
{
	struct fx *f = fx_new();

	map_at(f, 10, 10, RW, ANON);
	touch(f, 10, 10, 100);
	fx_reset_log(f);
	/* replaces the middle: the unmap callback names the old vma */
	map_at(f, 13, 2, RO, ANON);
	assert_string_equal(layout(f), "10-13:rw-p 13-15:r--p 15-20:rw-p");
	assert_int_equal(f->nunmap, 1);
	assert_int_equal(f->unmaps[0].a, A(13));
	assert_int_equal(f->unmaps[0].b, A(15));
	assert_int_equal(f->unmaps[0].vs, A(10));
	assert_int_equal(f->unmaps[0].ve, A(20));
	assert_int_equal(f->tok[12], 102);
	assert_int_equal(f->tok[13], 0);
	assert_int_equal(f->tok[15], 105);
	/* across three vmas and a hole, same prot as the ends: all merge */
	map_at(f, 25, 2, RW, ANON);
	fx_reset_log(f);
	map_at(f, 11, 15, RW, ANON);
	assert_string_equal(layout(f), "10-27:rw-p");
	assert_int_equal(f->nunmap, 4);
	assert_int_equal(f->tok[10], 100);
	assert_int_equal(f->tok[11], 0);
	assert_int_equal(f->tok[19], 0);
	/* MAP_FIXED_NOREPLACE */
	assert_int_equal(do_mmap(f, A(26), 2 * P, RW, ANON | LEGO_MAP_FIXED_NOREPLACE), -EEXIST);
	assert_int_equal(do_mmap(f, A(9), P, RW, ANON | LEGO_MAP_FIXED_NOREPLACE), (s64)A(9));
	assert_int_equal(do_mmap(f, A(9) + 1, P, RW, ANON | LEGO_MAP_FIXED_NOREPLACE), -EINVAL);
	assert_string_equal(layout(f), "9-27:rw-p");
	fx_done(f);
}

static void test_mmap_errors(void **state)
{
	struct fx *f = fx_new();
	struct vma_mmap_req q = { .addr = A(10), .len = P, .prot = RW, .flags = ANON | FIXED };

	assert_int_equal(do_mmap(f, A(10), 0, RW, ANON), -EINVAL);
	assert_int_equal(do_mmap(f, A(10) + 8, P, RW, ANON | FIXED), -EINVAL);
	assert_int_equal(do_mmap(f, A(10), P, RW, LEGO_MAP_ANONYMOUS | FIXED), -EINVAL);
	assert_int_equal(do_mmap(f, A(10), P, RW, 0x04 | LEGO_MAP_ANONYMOUS), -EINVAL);
	assert_int_equal(do_mmap(f, A(10), P, RW, LEGO_MAP_SHARED_VALIDATE | LEGO_MAP_ANONYMOUS),
			 -EINVAL);
	assert_int_equal(do_mmap(f, A(10), P, RW, SHANON | LEGO_MAP_GROWSDOWN), -EINVAL);
	assert_int_equal(do_mmap(f, A(10), P, RW, ANON | LEGO_MAP_HUGETLB), -EINVAL);
	assert_int_equal(do_mmap(f, A(10), ~0ULL - 10, RW, ANON), -ENOMEM);
	assert_int_equal(do_mmap(f, A(10), NPG * P + P, RW, ANON), -ENOMEM);
	assert_int_equal(do_mmap(f, HI - P, 2 * P, RW, ANON | FIXED), -ENOMEM);
	assert_int_equal(do_mmap(f, LO - P, 2 * P, RW, ANON | FIXED), -EPERM);
	assert_int_equal(do_mmap_file(f, A(10), P, RW, LEGO_MAP_PRIVATE, 1, 100), -EINVAL);
	assert_int_equal(do_mmap_file(f, A(10), 2 * P, RW, LEGO_MAP_PRIVATE, 1, ~0ULL & ~(P - 1)),
			 -EOVERFLOW);
	assert_int_equal(do_mmap_file(f, A(10), P, RW, LEGO_MAP_PRIVATE | LEGO_MAP_GROWSDOWN, 1, 0),
			 -EINVAL);
	assert_int_equal(do_mmap_file(f, A(10), P, RW,
				      LEGO_MAP_SHARED_VALIDATE | LEGO_MAP_SYNC | FIXED, 1, 0),
			 -EOPNOTSUPP);
	assert_int_equal(do_mmap_file(f, A(10), P, RO, LEGO_MAP_SHARED_VALIDATE | FIXED, 1, 0),
			 (s64)A(10));
	/* denyprot: a shared mapping of a read-only file */
	q.flags = LEGO_MAP_SHARED | FIXED;
	q.file = 3;
	q.denyprot = LEGO_PROT_WRITE;
	assert_int_equal(vma_mmap(&f->s, &q), -EACCES);
	q.prot = RO;
	assert_int_equal(vma_mmap(&f->s, &q), (s64)A(10));
	assert_int_equal(vma_mprotect(&f->s, A(10), P, RW), -EACCES);
	assert_int_equal(vma_mprotect(&f->s, A(10), P, LEGO_PROT_READ | LEGO_PROT_EXEC), 0);
	assert_string_equal(layout(f), "10-11:r-xs");
	/* unknown prot bits are ignored by mmap */
	assert_int_equal(do_mmap(f, A(20), P, RW | 0x100, ANON | FIXED), (s64)A(20));
	assert_int_equal(vma_lookup(&f->s, A(20))->prot, RW);
	fx_done(f);
}

static void test_placement_topdown(void **state)
{
	struct vma_space_params p = { .lo = LO, .hi = HI, .mmap_base = A(1000),
				      .legacy_base = A(2000) };
	struct fx *f = fx_new_params(&p);

	/* highest gap below mmap_base, mapping at its top */
	assert_int_equal(do_mmap(f, 0, 10 * P, RW, ANON), (s64)A(990));
	assert_int_equal(do_mmap(f, 0, 5 * P, RO, ANON), (s64)A(985));
	assert_int_equal(do_mmap(f, 0, 5 * P, RO, ANON), (s64)A(980)); /* merges */
	assert_string_equal(layout(f), "980-990:r--p 990-1000:rw-p");
	/* a freed hole is the highest gap that fits */
	assert_int_equal(vma_munmap(&f->s, A(983), 3 * P), 0);
	assert_int_equal(do_mmap(f, 0, 4 * P, RW, ANON), (s64)A(976));
	assert_int_equal(do_mmap(f, 0, 3 * P, RW, ANON), (s64)A(983));
	/* alignment: the gap must hold len + align - page */
	assert_int_equal(vma_get_unmapped_area(&f->s, 0, P, 64 * P, 0), (s64)A(960));
	assert_int_equal(vma_get_unmapped_area(&f->s, 0, P, 3 * P, 0), -EINVAL);
	/* hints: used when free, else ignored */
	assert_int_equal(do_mmap(f, A(100) + 5, P, RW, ANON), (s64)A(100));
	assert_int_equal(do_mmap(f, A(100), P, RO, ANON), (s64)A(975));
	assert_int_equal(do_mmap(f, 1, P, RO, ANON), (s64)A(974));	/* page 0: no hint */
	assert_int_equal(vma_munmap(&f->s, A(974), P), 0);
	assert_int_equal(do_mmap(f, 5 * P, P, RO, ANON), (s64)A(0));	/* below lo: lo */
	assert_int_equal(do_mmap(f, HI - P, 2 * P, RO, ANON), (s64)A(973));
	/* above mmap_base is used by hints and the bottom-up fallback only */
	assert_int_equal(do_mmap(f, A(1500), P, RO, ANON), (s64)A(1500));
	fx_done(f);

	/* bottom-up fallback from legacy_base, then -ENOMEM */
	p.mmap_base = A(100);
	f = fx_new_params(&p);
	map_at(f, 0, 100, RW, ANON);
	assert_int_equal(do_mmap(f, 0, 10 * P, RW, ANON), (s64)A(2000));
	assert_int_equal(do_mmap(f, 0, 10 * P, RW, ANON), (s64)A(2010));
	assert_int_equal(do_mmap(f, 0, 2100 * P, RW, ANON), -ENOMEM);
	assert_int_equal(do_mmap(f, 0, 2076 * P, RO, ANON), (s64)A(2020));
	assert_int_equal(do_mmap(f, 0, P, RO, ANON), -ENOMEM);
	assert_int_equal(vma_get_unmapped_area(&f->s, 0, 0, 0, 0), -ENOMEM);
	fx_done(f);
}

static void test_placement_guard_gap(void **state)
{
	struct vma_space_params p = { .lo = LO, .hi = HI, .stack_guard_gap = 16 * P };
	struct fx *f = fx_new_params(&p);

	map_at(f, 4000, 10, RW, ANON | LEGO_MAP_GROWSDOWN);
	/* top-down placement keeps the guard gap below the stack free */
	assert_int_equal(do_mmap(f, 0, 90 * P, RW, ANON), (s64)A(3894));
	assert_int_equal(vma_munmap(&f->s, A(3894), 90 * P), 0);
	assert_int_equal(do_mmap(f, 0, 86 * P, RW, ANON), (s64)A(4010));
	assert_int_equal(do_mmap(f, 0, 2 * P, RW, ANON), (s64)A(3982));
	/* so do hints, but MAP_FIXED may go into the gap */
	assert_int_equal(do_mmap(f, A(3990), P, RO, ANON), (s64)A(3981));
	assert_int_equal(do_mmap(f, A(3984), P, RO, ANON), (s64)A(3980));
	map_at(f, 3995, 1, RO, ANON);
	/* gap exactly big enough */
	map_at(f, 3000, 10, RW, ANON | LEGO_MAP_GROWSDOWN);
	map_at(f, 2980, 2, RO, SHANON);
	assert_int_equal(vma_get_unmapped_area(&f->s, A(2982), 2 * P, 0, 0), (s64)A(2982));
	/* The highest gap, [3996, 4000), runs into the guard gap of the stack
	 * at 4000: like Linux, go on below 3984, the guard's start, which
	 * also skips [3984, 3995). */
	assert_int_equal(vma_get_unmapped_area(&f->s, A(2982), 3 * P, 0, 0), (s64)A(3977));
	assert_int_equal(vma_start_gap(&f->s, vma_lookup(&f->s, A(3000))), A(2984));
	fx_done(f);
}

static void test_placement_bottomup_guard(void **state)
{
	struct vma_space_params p = { .lo = LO, .hi = HI, .mmap_base = A(10),
				      .stack_guard_gap = 16 * P };
	struct fx *f = fx_new_params(&p);

	map_at(f, 0, 10, RO, ANON);
	map_at(f, 30, 10, RW, ANON | LEGO_MAP_GROWSDOWN);
	/* bottom-up: [10, 30) would run into the stack's guard gap [14, 30):
	 * go on above the stack */
	assert_int_equal(do_mmap(f, 0, 5 * P, RW, ANON), (s64)A(40));
	/* a range that ends before the guard gap is fine */
	assert_int_equal(do_mmap(f, 0, 4 * P, RO | LEGO_PROT_EXEC, ANON), (s64)A(10));
	/* a guard gap larger than the vma's address: down to 0 */
	f->s.stack_guard_gap = 1ULL << 40;
	assert_int_equal(vma_start_gap(&f->s, vma_lookup(&f->s, A(30))), 0);
	assert_int_equal(do_mmap(f, 0, P, RO, ANON), (s64)A(45));
	fx_done(f);
}

static void test_placement_thp(void **state)
{
	struct vma_space_params p = { .lo = LO, .hi = LO + 64 * MIB + 3 * P, .thp_align = true };
	struct fx *f = fx_new_params(&p);
	u64 top = p.hi;

	/* gap top not aligned: the mapping goes to the aligned address below */
	assert_int_equal(do_mmap(f, 0, 2 * MIB, RW, ANON), (s64)((top - 2 * MIB) & ~(2 * MIB - 1)));
	/* not a multiple of 2 MiB, shared, or with a hint: no alignment */
	assert_int_equal(do_mmap(f, 0, 3 * MIB, RW, ANON), (s64)(LO + 59 * MIB));
	assert_int_equal(do_mmap(f, 0, 2 * MIB, RW, SHANON), (s64)(LO + 57 * MIB));
	assert_int_equal(do_mmap(f, A(5), 2 * MIB, RO, ANON), (s64)A(5));
	/* the highest gap ends at 59 MiB (absolute): the padded room starts
	 * at 55 MiB, the mapping at the next boundary */
	assert_int_equal(do_mmap(f, 0, 2 * MIB, RW, ANON | LEGO_MAP_NORESERVE),
			 (s64)(LO + 54 * MIB));
	/* now it ends at 56 MiB: the room starts on a boundary, and the
	 * mapping goes one huge page up, to the top of the gap */
	assert_int_equal(do_mmap(f, 0, 2 * MIB, RO, ANON), (s64)(LO + 52 * MIB));
	fx_done(f);

	/* no room for len + 2 MiB: plain placement */
	p.hi = LO + 3 * MIB;
	f = fx_new_params(&p);
	assert_int_equal(do_mmap(f, 0, 2 * MIB, RW, ANON), (s64)(LO + 1 * MIB));
	fx_done(f);
}

static void test_placement_32bit(void **state)
{
	struct vma_space_params p = { .lo = 1ULL << 20, .hi = 1ULL << 40 };
	struct fx *f = fx_new_params(&p);

	assert_int_equal(do_mmap(f, 0, P, RW, ANON | LEGO_MAP_32BIT), (s64)(1ULL << 30));
	assert_int_equal(do_mmap(f, 0, P, RO, ANON | LEGO_MAP_32BIT), (s64)((1ULL << 30) + P));
	assert_int_equal(do_mmap(f, (1ULL << 30) + 10 * P - 5, P, RO, ANON | LEGO_MAP_32BIT),
			 (s64)((1ULL << 30) + 10 * P));
	assert_int_equal(do_mmap(f, 0, 1ULL << 30, RO, ANON | LEGO_MAP_32BIT), -ENOMEM);
	assert_int_equal(do_mmap(f, 0, P, RW, ANON), (s64)((1ULL << 40) - P));
	fx_done(f);
}

static void test_munmap(void **state)
{
	struct fx *f = fx_new();

	map_at(f, 10, 10, RW, ANON);
	map_at(f, 22, 4, RO, ANON);
	touch(f, 10, 16, 1);
	fx_reset_log(f);
	/* the middle of a vma: split in two */
	assert_int_equal(vma_munmap(&f->s, A(12), 2 * P), 0);
	assert_string_equal(layout(f), "10-12:rw-p 14-20:rw-p 22-26:r--p");
	assert_int_equal(f->nunmap, 1);
	assert_int_equal(f->tok[12] | f->tok[13], 0);
	assert_int_equal(f->tok[14], 5);
	/* across vmas and holes, with an unaligned length */
	fx_reset_log(f);
	assert_int_equal(vma_munmap(&f->s, A(15), 8 * P + 1), 0);
	assert_string_equal(layout(f), "10-12:rw-p 14-15:rw-p 24-26:r--p");
	assert_int_equal(f->nunmap, 2);
	assert_int_equal(f->unmaps[0].a, A(15));
	assert_int_equal(f->unmaps[0].b, A(20));
	assert_int_equal(f->unmaps[1].a, A(22));
	assert_int_equal(f->unmaps[1].b, A(24));
	/* nothing mapped: fine */
	assert_int_equal(vma_munmap(&f->s, A(100), P), 0);
	assert_int_equal(vma_munmap(&f->s, 0, LO), 0);
	/* errors */
	assert_int_equal(vma_munmap(&f->s, A(10) + 1, P), -EINVAL);
	assert_int_equal(vma_munmap(&f->s, A(10), 0), -EINVAL);
	assert_int_equal(vma_munmap(&f->s, HI - P, 2 * P), -EINVAL);
	assert_int_equal(vma_munmap(&f->s, HI + P, P), -EINVAL);
	assert_int_equal(vma_munmap(&f->s, A(10), ~0ULL), -EINVAL);
	/* everything */
	assert_int_equal(vma_munmap(&f->s, LO, NPG * P), 0);
	assert_int_equal(vma_count(&f->s), 0);
	fx_done(f);
}

static void test_mprotect(void **state)
{
	struct fx *f = fx_new();

	map_at(f, 10, 10, RW, ANON);
	/* split into three, merge back */
	assert_int_equal(vma_mprotect(&f->s, A(12), 3 * P, RO), 0);
	assert_string_equal(layout(f), "10-12:rw-p 12-15:r--p 15-20:rw-p");
	assert_int_equal(vma_mprotect(&f->s, A(12), 3 * P - 100, RW), 0);
	assert_string_equal(layout(f), "10-20:rw-p");
	/* a range over several vmas, merging with a neighbour */
	map_at(f, 20, 5, RO, ANON);
	map_at(f, 25, 5, LEGO_PROT_EXEC, ANON);
	assert_int_equal(vma_mprotect(&f->s, A(15), 12 * P, RO), 0);
	assert_string_equal(layout(f), "10-15:rw-p 15-27:r--p 27-30:--xp");
	assert_int_equal(vma_mprotect(&f->s, A(10), 20 * P, RO | LEGO_PROT_SEM), 0);
	assert_string_equal(layout(f), "10-30:r--p");
	/* len 0 does nothing, even where nothing is mapped */
	assert_int_equal(vma_mprotect(&f->s, A(100), 0, RW), 0);
	/* errors that change nothing */
	assert_int_equal(vma_mprotect(&f->s, A(10) + 1, P, RW), -EINVAL);
	assert_int_equal(vma_mprotect(&f->s, A(10), P, 0x10), -EINVAL);
	assert_int_equal(vma_mprotect(&f->s, A(9), 2 * P, RW), -ENOMEM);
	assert_int_equal(vma_mprotect(&f->s, A(40), 2 * P, RW), -ENOMEM);
	assert_int_equal(vma_mprotect(&f->s, A(10), ~0ULL - A(10), RW), -ENOMEM);
	assert_int_equal(vma_mprotect(&f->s, A(10), P,
				      RW | LEGO_PROT_GROWSDOWN | LEGO_PROT_GROWSUP),
			 -EINVAL);
	assert_int_equal(vma_mprotect(&f->s, A(10), P, RW | LEGO_PROT_GROWSUP), -EINVAL);
	assert_int_equal(vma_mprotect(&f->s, A(10), P, RW | LEGO_PROT_GROWSDOWN), -EINVAL);
	assert_string_equal(layout(f), "10-30:r--p");
	/* a hole after a mapped start: Linux changes the part before it */
	map_at(f, 32, 3, RO, ANON);
	assert_int_equal(vma_mprotect(&f->s, A(28), 6 * P, RW), -ENOMEM);
	assert_string_equal(layout(f), "10-28:r--p 28-30:rw-p 32-35:r--p");
	/* ... and up to a vma it may not change */
	assert_int_equal(do_mmap_file(f, A(35), 2 * P, RO, LEGO_MAP_SHARED | FIXED, 5, 0),
			 (s64)A(35));
	{
		/* make [35, 37) deny PROT_WRITE */
		struct vma_mmap_req q = { .addr = A(35), .len = 2 * P, .prot = RO,
					  .flags = LEGO_MAP_SHARED | FIXED, .file = 5,
					  .denyprot = LEGO_PROT_WRITE };

		assert_int_equal(vma_mmap(&f->s, &q), (s64)A(35));
	}
	assert_int_equal(vma_mprotect(&f->s, A(33), 4 * P, RW), -EACCES);
	assert_string_equal(layout(f), "10-28:r--p 28-30:rw-p 32-33:r--p 33-35:rw-p 35-37:r--s");
	/* PROT_GROWSDOWN: from the start of the GROWSDOWN vma */
	map_at(f, 50, 10, RW, ANON | LEGO_MAP_GROWSDOWN);
	assert_int_equal(vma_mprotect(&f->s, A(55), 2 * P, RO | LEGO_PROT_GROWSDOWN), 0);
	assert_string_equal(layout(f), "10-28:r--p 28-30:rw-p 32-33:r--p 33-35:rw-p 35-37:r--s "
				       "50-57:r--p 57-60:rw-p");
	fx_done(f);
}

static void test_mremap_in_place(void **state)
{
	struct fx *f = fx_new();

	map_at(f, 10, 10, RW, ANON);
	touch(f, 10, 10, 1);
	/* same size: no-op; shrink: tail unmapped */
	assert_int_equal(vma_mremap(&f->s, A(10), 10 * P, 10 * P, 0, 0), (s64)A(10));
	fx_reset_log(f);
	assert_int_equal(vma_mremap(&f->s, A(10), 10 * P, 6 * P, 0, 0), (s64)A(10));
	assert_string_equal(layout(f), "10-16:rw-p");
	assert_int_equal(f->nunmap, 1);
	assert_int_equal(f->tok[16], 0);
	/* shrinking may cover several vmas and holes */
	map_at(f, 18, 2, RO, ANON);
	assert_int_equal(vma_mremap(&f->s, A(10), 20 * P, 4 * P, 0, 0), (s64)A(10));
	assert_string_equal(layout(f), "10-14:rw-p");
	/* grow in place, also into contact with a compatible vma (merge) */
	map_at(f, 20, 2, RW, ANON);
	assert_int_equal(vma_mremap(&f->s, A(10), 4 * P, 6 * P, 0, 0), (s64)A(10));
	assert_string_equal(layout(f), "10-16:rw-p 20-22:rw-p");
	assert_int_equal(vma_mremap(&f->s, A(12), 4 * P, 8 * P, 0, 0), (s64)A(12));
	assert_string_equal(layout(f), "10-22:rw-p");
	/* no room, no MAYMOVE */
	map_at(f, 22, 1, RO, ANON);
	fx_reset_log(f);
	assert_int_equal(vma_mremap(&f->s, A(20), 2 * P, 3 * P, 0, 0), -ENOMEM);
	/* a range not reaching the vma's end cannot grow in place */
	assert_int_equal(vma_mremap(&f->s, A(10), 2 * P, 3 * P, 0, 0), -ENOMEM);
	assert_int_equal(f->nunmap + f->nmove, 0);
	/* a file vma grows with the following page offsets */
	assert_int_equal(do_mmap_file(f, A(40), 2 * P, RO, LEGO_MAP_PRIVATE | FIXED, 9, 3 * P),
			 (s64)A(40));
	assert_int_equal(do_mmap_file(f, A(43), P, RO, LEGO_MAP_PRIVATE | FIXED, 9, 6 * P),
			 (s64)A(43));
	assert_int_equal(vma_mremap(&f->s, A(40), 2 * P, 3 * P, 0, 0), (s64)A(40));
	assert_int_equal(vma_lookup(&f->s, A(40))->end, A(44));
	/* errors */
	assert_int_equal(vma_mremap(&f->s, A(30), P, 2 * P, 0, 0), -EFAULT);
	assert_int_equal(vma_mremap(&f->s, A(10) + 1, P, 2 * P, 0, 0), -EINVAL);
	assert_int_equal(vma_mremap(&f->s, A(10), P, 0, 0, 0), -EINVAL);
	assert_int_equal(vma_mremap(&f->s, A(10), P, ~0ULL, 0, 0), -EINVAL);
	assert_int_equal(vma_mremap(&f->s, A(10), P, 2 * P, 8, 0), -EINVAL);
	assert_int_equal(vma_mremap(&f->s, A(10), 20 * P, 30 * P, LEGO_MREMAP_MAYMOVE, 0),
			 -EFAULT);
	assert_int_equal(vma_mremap(&f->s, A(10), 0, 2 * P, LEGO_MREMAP_MAYMOVE, 0), -EINVAL);
	fx_done(f);
}

static void test_mremap_move(void **state)
{
	struct fx *f = fx_new();
	s64 r;

	map_at(f, 10, 4, RW, ANON);
	map_at(f, 14, 1, RO, ANON);
	touch(f, 10, 5, 1);
	/* MAYMOVE: a new area chosen top-down, pages moved */
	fx_reset_log(f);
	r = vma_mremap(&f->s, A(10), 4 * P, 6 * P, LEGO_MREMAP_MAYMOVE, 0);
	assert_int_equal(r, (s64)A(NPG - 6));
	assert_string_equal(layout(f), "14-15:r--p 4090-4096:rw-p");
	assert_int_equal(f->nmove, 1);
	assert_int_equal(f->moves[0].from, A(10));
	assert_int_equal(f->moves[0].to, A(NPG - 6));
	assert_int_equal(f->moves[0].len, 4 * P);
	assert_int_equal(f->nunmap, 0);
	assert_int_equal(f->tok[NPG - 6], 1);
	assert_int_equal(f->tok[NPG - 3], 4);
	assert_int_equal(f->tok[NPG - 2], 0);
	assert_int_equal(f->tok[10], 0);
	/* MREMAP_FIXED: the destination's old content is unmapped first and
	 * the moved part merges with its new neighbours */
	map_at(f, 100, 8, RW, ANON);
	touch(f, 100, 8, 50);
	fx_reset_log(f);
	r = vma_mremap(&f->s, A(NPG - 6), 2 * P, 2 * P, LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED,
		       A(103));
	assert_int_equal(r, (s64)A(103));
	assert_string_equal(layout(f), "14-15:r--p 100-108:rw-p 4092-4096:rw-p");
	assert_int_equal(f->nunmap, 1);
	assert_int_equal(f->unmaps[0].a, A(103));
	assert_int_equal(f->unmaps[0].b, A(105));
	assert_int_equal(f->tok[103], 1);
	assert_int_equal(f->tok[104], 2);
	assert_int_equal(f->tok[105], 55);
	/* FIXED and shrinking: the tail goes, the rest moves */
	r = vma_mremap(&f->s, A(NPG - 4), 4 * P, P, LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED,
		       A(200));
	assert_int_equal(r, (s64)A(200));
	assert_int_equal(f->tok[200], 3);
	assert_string_equal(layout(f), "14-15:r--p 100-108:rw-p 200-201:rw-p");
	/* FIXED growing: the moved part plus new pages */
	r = vma_mremap(&f->s, A(200), P, 3 * P, LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED,
		       A(300));
	assert_int_equal(r, (s64)A(300));
	assert_string_equal(layout(f), "14-15:r--p 100-108:rw-p 300-303:rw-p");
	/* moving inside the same vma */
	r = vma_mremap(&f->s, A(101), P, P, LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED, A(106));
	assert_string_equal(layout(f), "14-15:r--p 100-101:rw-p 102-108:rw-p 300-303:rw-p");
	assert_int_equal(f->tok[106], 51);
	/* a tail beyond hi cannot be unmapped (-EINVAL before anything) */
	map_at(f, NPG - 2, 2, RO, ANON);
	assert_int_equal(vma_mremap(&f->s, A(NPG - 2), 4 * P, P,
				    LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED, A(500)),
			 -EINVAL);
	assert_int_equal(vma_munmap(&f->s, A(NPG - 2), 2 * P), 0);
	/* errors: overlap, misaligned, beyond hi, below lo, FIXED without
	 * MAYMOVE, growth across a vma boundary */
	assert_int_equal(vma_mremap(&f->s, A(102), 2 * P, 2 * P,
				    LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED, A(103)),
			 -EINVAL);
	assert_int_equal(vma_mremap(&f->s, A(102), P, P, LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED,
				    A(110) + 1),
			 -EINVAL);
	assert_int_equal(vma_mremap(&f->s, A(102), P, 2 * P,
				    LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED, HI - P),
			 -EINVAL);
	assert_int_equal(vma_mremap(&f->s, A(102), P, 2 * P,
				    LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED, LO - P),
			 -EPERM);
	assert_int_equal(vma_mremap(&f->s, A(102), P, 2 * P, LEGO_MREMAP_FIXED, A(400)), -EINVAL);
	assert_int_equal(vma_mremap(&f->s, A(102), 7 * P, 8 * P,
				    LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED, A(400)),
			 -EFAULT);
	assert_int_equal(vma_mremap(&f->s, A(102), 8 * P, 6 * P,
				    LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED, A(400)),
			 (s64)A(400));
	assert_string_equal(layout(f), "14-15:r--p 100-101:rw-p 300-303:rw-p 400-406:rw-p");
	fx_done(f);
}

static void test_mremap_multi_dontunmap_dup(void **state)
{
	struct fx *f = fx_new();
	s64 r;

	/* FIXED with equal sizes moves every vma part, holes stay holes and
	 * the destination facing a hole keeps its content (Linux >= 6.17) */
	map_at(f, 10, 2, RW, ANON);
	map_at(f, 13, 2, RO, ANON);
	map_at(f, 30, 6, LEGO_PROT_EXEC, ANON);
	touch(f, 10, 5, 1);
	fx_reset_log(f);
	r = vma_mremap(&f->s, A(10), 6 * P, 6 * P, LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED,
		       A(30));
	assert_int_equal(r, (s64)A(30));
	assert_string_equal(layout(f), "30-32:rw-p 32-33:--xp 33-35:r--p 35-36:--xp");
	assert_int_equal(f->nmove, 2);
	assert_int_equal(f->tok[30], 1);
	assert_int_equal(f->tok[34], 5);
	assert_int_equal(vma_mremap(&f->s, A(12), P, P, LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED,
				    A(50)),
			 -EFAULT);
	/* DONTUNMAP: the old range stays mapped, empty, without LOCKED */
	map_at(f, 60, 2, RW, ANON | LEGO_MAP_LOCKED);
	touch(f, 60, 2, 70);
	r = vma_mremap(&f->s, A(60), 2 * P, 2 * P,
		       LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED | LEGO_MREMAP_DONTUNMAP, A(80));
	assert_int_equal(r, (s64)A(80));
	assert_string_equal(layout(f), "30-32:rw-p 32-33:--xp 33-35:r--p 35-36:--xp "
				       "60-62:rw-p 80-82:rw-p");
	assert_false(vma_lookup(&f->s, A(60))->flags & VMA_F_LOCKED);
	assert_true(vma_lookup(&f->s, A(80))->flags & VMA_F_LOCKED);
	assert_int_equal(f->tok[60], 0);
	assert_int_equal(f->tok[80], 70);
	/* DONTUNMAP without FIXED: new_addr is a hint */
	r = vma_mremap(&f->s, A(80), 2 * P, 2 * P, LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_DONTUNMAP,
		       A(90));
	assert_int_equal(r, (s64)A(90));
	r = vma_mremap(&f->s, A(80), 2 * P, 2 * P, LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_DONTUNMAP,
		       A(89));
	assert_int_equal(r, (s64)A(NPG - 2));
	assert_int_equal(vma_mremap(&f->s, A(80), 2 * P, 3 * P,
				    LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_DONTUNMAP, 0),
			 -EINVAL);
	assert_int_equal(vma_mremap(&f->s, A(80), 2 * P, 2 * P, LEGO_MREMAP_DONTUNMAP, 0),
			 -EINVAL);
	/* old_len 0 on a shared mapping: a second mapping of the object */
	map_at(f, 200, 4, RW, SHANON);
	r = vma_mremap(&f->s, A(201), 0, 2 * P, LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED, A(300));
	assert_int_equal(r, (s64)A(300));
	assert_int_equal(vma_lookup(&f->s, A(300))->file, vma_lookup(&f->s, A(200))->file);
	assert_int_equal(vma_lookup(&f->s, A(300))->pgoff, 1);
	assert_int_equal(vma_count(&f->s), 10);
	/* placed next to its own object at the right offset, it merges */
	r = vma_mremap(&f->s, A(200), 0, P, LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED, A(299));
	assert_int_equal(vma_lookup(&f->s, A(299))->end, A(302));
	assert_int_equal(vma_mremap(&f->s, A(30), 0, P, LEGO_MREMAP_MAYMOVE, 0), -EINVAL);
	fx_done(f);
}

static void test_brk(void **state)
{
	struct vma_space_params p = { .lo = LO, .hi = HI, .stack_guard_gap = 8 * P };
	struct fx *f = fx_new_params(&p);
	char buf[512];

	map_at(f, 90, 10, RW, ANON);	/* "bss", ends at start_brk */
	vma_set_brk(&f->s, A(100) - 5, 20 * P + 10);
	assert_int_equal(f->s.start_brk, A(100));
	assert_int_equal(vma_brk(&f->s, 0), A(100));
	assert_int_equal(vma_brk(&f->s, A(100) - P), A(100));	/* below start */
	assert_int_equal(vma_brk(&f->s, A(100) + 10), A(100) + 10);
	/* never merged with the vma ending at start_brk */
	assert_string_equal(layout(f), "90-100:rw-p 100-101:rw-p");
	assert_int_equal(vma_brk(&f->s, A(105)), A(105));
	assert_string_equal(layout(f), "90-100:rw-p 100-105:rw-p");
	assert_int_equal(vma_brk(&f->s, A(121)), A(105));	/* over the limit */
	assert_int_equal(vma_brk(&f->s, A(120) + 10), A(120) + 10);
	assert_int_equal(vma_brk(&f->s, A(120) + 9), A(120) + 9);	/* same page */
	/* (a new heap elsewhere: first drop the bss, whose separation from
	 * the heap vma vma_check() accepts only at start_brk) */
	assert_int_equal(vma_munmap(&f->s, A(90), 10 * P), 0);
	/* a page must stay free below the next vma, plus its guard gap */
	vma_set_brk(&f->s, A(200), ~0ULL);
	map_at(f, 210, 2, RO, ANON);
	map_at(f, 230, 2, RW, ANON | LEGO_MAP_GROWSDOWN);
	assert_int_equal(vma_brk(&f->s, A(209)), A(209));
	assert_int_equal(vma_brk(&f->s, A(210)), A(209));
	assert_int_equal(vma_munmap(&f->s, A(210), 2 * P), 0);
	assert_int_equal(vma_brk(&f->s, A(221) + 1), A(209));
	assert_int_equal(vma_brk(&f->s, A(221)), A(221));
	assert_string_equal(layout(f), "100-121:rw-p 200-221:rw-p 230-232:rw-p");
	assert_int_equal(vma_brk(&f->s, HI + 10), A(221));	/* beyond hi */
	/* shrinking unmaps; refused if nothing is mapped there */
	assert_int_equal(vma_brk(&f->s, A(205) + 1), A(205) + 1);
	assert_string_equal(layout(f), "100-121:rw-p 200-206:rw-p 230-232:rw-p");
	assert_int_equal(vma_munmap(&f->s, A(200), 6 * P), 0);
	assert_int_equal(vma_brk(&f->s, A(201)), A(205) + 1);
	/* after a user mprotect the heap vma no longer takes the growth */
	assert_int_equal(vma_brk(&f->s, A(200)), A(205) + 1);
	vma_set_brk(&f->s, A(300), ~0ULL);
	assert_int_equal(vma_brk(&f->s, A(302)), A(302));
	assert_int_equal(vma_mprotect(&f->s, A(300), 2 * P, RO), 0);
	assert_int_equal(vma_brk(&f->s, A(303)), A(303));
	assert_int_equal(vma_count(&f->s), 4);
	/* [heap] covers every vma touching start_brk..brk */
	f->s.start_stack = A(231) + 8;
	vma_format_maps(&f->s, buf, sizeof(buf), NULL, NULL);
	assert_non_null(strstr(buf, mapline(A(300), A(302), "r--p", 0, "[heap]")));
	assert_non_null(strstr(buf, mapline(A(302), A(303), "rw-p", 0, "[heap]")));
	assert_non_null(strstr(buf, mapline(A(230), A(232), "rw-p", 0, "[stack]")));
	assert_non_null(strstr(buf, "00264000-00279000 rw-p 00000000 00:00 0 \n"));
	fx_done(f);
}

static void test_expand_stack(void **state)
{
	struct vma_space_params p = { .lo = LO, .hi = HI, .stack_guard_gap = 8 * P };
	struct fx *f = fx_new_params(&p);

	map_at(f, 100, 4, RW, ANON | LEGO_MAP_GROWSDOWN);
	f->s.stack_limit = 20 * P;
	assert_int_equal(vma_expand_stack(&f->s, A(101)), 0);
	assert_int_equal(vma_expand_stack(&f->s, A(97) + 17), 0);
	assert_string_equal(layout(f), "97-104:rw-p");
	assert_int_equal(vma_expand_stack(&f->s, A(83)), -ENOMEM);	/* stack limit */
	assert_int_equal(vma_expand_stack(&f->s, A(200)), -EFAULT);
	map_at(f, 80, 4, RW, ANON);
	assert_int_equal(vma_expand_stack(&f->s, A(70)), -EFAULT);	/* below a plain vma */
	assert_int_equal(vma_expand_stack(&f->s, A(91)), -ENOMEM);	/* guard gap */
	assert_int_equal(vma_expand_stack(&f->s, A(92)), 0);
	assert_int_equal(vma_mprotect(&f->s, A(80), 4 * P, LEGO_PROT_NONE), 0);
	assert_int_equal(vma_expand_stack(&f->s, A(85)), 0);	/* PROT_NONE: no gap needed */
	assert_string_equal(layout(f), "80-84:---p 85-104:rw-p");
	assert_int_equal(vma_expand_stack(&f->s, LO - P), -EFAULT);
	fx_done(f);

	p.lo = A(10);
	f = fx_new_params(&p);
	map_at(f, 10, 2, RW, ANON | LEGO_MAP_GROWSDOWN);
	assert_int_equal(vma_expand_stack(&f->s, A(9)), -EPERM);
	fx_done(f);
}

static void test_max_vmas(void **state)
{
	struct vma_space_params p = { .lo = LO, .hi = HI, .max_vmas = 4 };
	struct fx *f = fx_new_params(&p);

	map_at(f, 10, 10, RW, ANON);
	map_at(f, 30, 10, RW, ANON);
	map_at(f, 50, 10, RW, ANON);
	map_at(f, 70, 10, RW, ANON);
	/* a fifth vma: no */
	assert_int_equal(do_mmap(f, A(90), P, RW, ANON | FIXED), -ENOMEM);
	assert_int_equal(vma_munmap(&f->s, A(12), P), -ENOMEM);
	assert_int_equal(vma_mprotect(&f->s, A(12), P, RO), -ENOMEM);
	assert_int_equal(vma_mremap(&f->s, A(15), P, P, LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED,
				    A(200)),
			 -ENOMEM);
	assert_string_equal(layout(f), "10-20:rw-p 30-40:rw-p 50-60:rw-p 70-80:rw-p");
	/* but what merges or does not add a vma is fine */
	map_at(f, 20, 2, RW, ANON);
	map_at(f, 60, 10, RW, ANON);	/* joins two: 3 vmas */
	assert_int_equal(vma_munmap(&f->s, A(12), P), 0);
	assert_int_equal(vma_mprotect(&f->s, A(10), 2 * P, RO), 0);	/* 4 again */
	assert_int_equal(vma_mprotect(&f->s, A(13), P, RO), -ENOMEM);
	assert_int_equal(vma_mprotect(&f->s, A(13), 9 * P, RO), 0);	/* merges */
	assert_string_equal(layout(f), "10-12:r--p 13-22:r--p 30-40:rw-p 50-80:rw-p");
	fx_done(f);
}

/* Runs op repeatedly with allocation failing after 0, 1, 2... allocs:
 * every failure must leave the space exactly as it was, without callbacks. */
static void check_alloc_failures(struct fx *f, s64 (*op)(struct fx *f), s64 want)
{
	char before[8192], after[8192];
	s64 r;

	strcpy(before, layout(f));
	for (long k = 0;; k++) {
		long live = f->live;

		assert_true(k < 64);
		fx_reset_log(f);
		f->fail_after = k;
		r = op(f);
		f->fail_after = -1;
		if (r != -ENOMEM)
			break;
		strcpy(after, layout(f));
		assert_string_equal(after, before);
		assert_int_equal(f->live, live);
		assert_int_equal(f->nunmap + f->nmove, 0);
	}
	assert_int_equal(r, want);
	fx_ok(f);
}

static s64 op_mmap_replace(struct fx *f)
{
	return do_mmap(f, A(15), 10 * P, RO, ANON | FIXED);
}

static s64 op_mprotect(struct fx *f)
{
	return vma_mprotect(&f->s, A(11), 39 * P, LEGO_PROT_EXEC);
}

static s64 op_munmap(struct fx *f)
{
	return vma_munmap(&f->s, A(33), P);
}

static s64 op_mremap(struct fx *f)
{
	return vma_mremap(&f->s, A(31), 2 * P, 4 * P, LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED,
			  A(12));
}

static s64 op_brk(struct fx *f)
{
	return (s64)vma_brk(&f->s, A(110)) == (s64)A(110) ? 0 : -ENOMEM;
}

static void test_alloc_failure(void **state)
{
	struct fx *f = fx_new();

	map_at(f, 10, 10, RW, ANON);
	map_at(f, 20, 10, RO, ANON);
	map_at(f, 30, 10, RW, SHANON);
	map_at(f, 40, 10, RW, ANON);
	touch(f, 10, 40, 1);
	check_alloc_failures(f, op_mmap_replace, (s64)A(15));
	check_alloc_failures(f, op_mprotect, 0);
	check_alloc_failures(f, op_munmap, 0);
	check_alloc_failures(f, op_mremap, (s64)A(12));
	vma_set_brk(&f->s, A(100), ~0ULL);
	check_alloc_failures(f, op_brk, 0);
	fx_done(f);
}

static void test_copy_and_clear(void **state)
{
	struct fx *f = fx_new(), *g = fx_new();
	char a[4096], b[4096];

	map_at(f, 10, 10, RW, ANON);
	map_at(f, 20, 10, RO, SHANON);
	assert_int_equal(do_mmap_file(f, A(40), P, RO, LEGO_MAP_PRIVATE | FIXED, 4, 8 * P),
			 (s64)A(40));
	vma_set_brk(&f->s, A(100), 1000 * P);
	assert_int_equal(vma_brk(&f->s, A(103)), A(103));
	f->s.start_stack = A(15);
	assert_int_equal(vma_space_copy(&g->s, &f->s), 0);
	assert_int_equal(vma_space_copy(&g->s, &f->s), -EINVAL);	/* not empty */
	fx_ok(g);
	vma_format_maps(&f->s, a, sizeof(a), NULL, NULL);
	vma_format_maps(&g->s, b, sizeof(b), NULL, NULL);
	assert_string_equal(a, b);
	assert_int_equal(g->s.next_object, f->s.next_object);
	/* the copy is independent */
	assert_int_equal(vma_munmap(&g->s, A(10), 20 * P), 0);
	assert_int_equal(vma_count(&f->s), 4);
	/* a destination that cannot hold the vmas */
	{
		struct vma_space_params q = { .lo = A(20), .hi = HI };
		struct fx *h = fx_new_params(&q);

		assert_int_equal(vma_space_copy(&h->s, &f->s), -EINVAL);
		fx_done(h);
		q = (struct vma_space_params){ .lo = LO, .hi = HI, .max_vmas = 3 };
		h = fx_new_params(&q);
		assert_int_equal(vma_space_copy(&h->s, &f->s), -ENOMEM);
		fx_done(h);
	}
	/* allocation failure: nothing copied */
	vma_space_clear(&g->s);
	g->fail_after = 2;
	assert_int_equal(vma_space_copy(&g->s, &f->s), -ENOMEM);
	g->fail_after = -1;
	assert_int_equal(g->live, 0);
	assert_int_equal(vma_count(&g->s), 0);
	/* clear unmaps everything */
	fx_reset_log(f);
	vma_space_clear(&f->s);
	assert_int_equal(f->nunmap, 4);
	assert_int_equal(f->live, 0);
	fx_done(f);
	fx_done(g);
}

/* vma_check() is not vacuous: it notices corrupted trees. */
static void test_check_detects_corruption(void **state)
{
	struct fx *f = fx_new();
	struct vma *v;
	const char *why = NULL;
	u64 save;

	for (int i = 0; i < 20; i++)
		map_at(f, 3 * i, 2, i % 2 ? RO : RW, ANON);
	v = vma_lookup(&f->s, A(30));
	save = v->node.gap;
	v->node.gap++;
	assert_int_equal(vma_check(&f->s, &why), -EUCLEAN);
	assert_non_null(why);
	v->node.gap = save;
	v->node.height++;
	assert_int_equal(vma_check(&f->s, &why), -EUCLEAN);
	assert_string_equal(why, "height");
	v->node.height--;
	save = v->end;
	v->end = A(33) + P;	/* overlaps the next vma */
	assert_int_equal(vma_check(&f->s, &why), -EUCLEAN);
	v->end = save;
	map_at(f, 32, 1, RW, ANON);	/* [30, 33) rw, [33, 35) r */
	v = vma_lookup(&f->s, A(33));
	v->prot = RW;			/* as if it had not been merged */
	v->flags |= VMA_F_ACCOUNT;
	assert_int_equal(vma_check(&f->s, &why), -EUCLEAN);
	assert_string_equal(why, "adjacent compatible vmas not merged");
	v->prot = RO;
	v->flags &= ~VMA_F_ACCOUNT;
	fx_ok(f);
	f->s.nr_vmas++;
	assert_int_equal(vma_check(&f->s, &why), -EUCLEAN);
	assert_string_equal(why, "vma count");
	f->s.nr_vmas--;
	fx_done(f);
}

static const char *name_cb(void *ctx, const struct vma *v)
{
	return v->kind == VMA_FILE ? (const char *)ctx : NULL;
}

static void test_format_maps(void **state)
{
	struct vma_space_params p = { .lo = 0x400000, .hi = 0x7ffffffff000ULL };
	struct fx *f = fx_new_params(&p);
	char buf[1024], want[1024] = "";
	size_t n;
	const char *heap;

	assert_int_equal(do_mmap_file(f, 0x400000, P, RO | LEGO_PROT_EXEC,
				      LEGO_MAP_PRIVATE | FIXED, 1, 2 * P),
			 0x400000);
	assert_int_equal(do_mmap(f, 0x401000, P, RW, ANON | FIXED), 0x401000);
	vma_set_brk(&f->s, 0x500000, ~0ULL);
	assert_int_equal(vma_brk(&f->s, 0x501001), 0x501001);
	assert_int_equal(do_mmap(f, 0x7ffffffde000ULL, 0x21000, RW,
				 ANON | FIXED | LEGO_MAP_GROWSDOWN),
			 0x7ffffffde000LL);
	f->s.start_stack = 0x7fffffffe000ULL;
	assert_int_equal(do_mmap(f, 0x7fffeeff0000ULL, 2 * P, RW, SHANON | FIXED),
			 0x7fffeeff0000LL);
	assert_int_equal(vma_mprotect(&f->s, 0x7fffeeff1000ULL, P, RO), 0);
	strcat(want, mapline(0x400000, 0x401000, "r-xp", 0x2000, "/bin/x"));
	strcat(want, "00401000-00402000 rw-p 00000000 00:00 0 \n");
	strcat(want, mapline(0x500000, 0x502000, "rw-p", 0, "[heap]"));
	strcat(want, mapline(0x7fffeeff0000, 0x7fffeeff1000, "rw-s", 0, "/dev/zero (deleted)"));
	strcat(want, mapline(0x7fffeeff1000, 0x7fffeeff2000, "r--s", 0x1000,
			     "/dev/zero (deleted)"));
	strcat(want, mapline(0x7ffffffde000, 0x7ffffffff000, "rw-p", 0, "[stack]"));
	n = vma_format_maps(&f->s, buf, sizeof(buf), name_cb, (void *)"/bin/x");
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
	/* names start in column 73, as in Linux's /proc/self/maps */
	heap = strstr(buf, "00500000-");
	assert_int_equal(strchr(heap, '[') - heap, 73);
	heap = strstr(buf, "7ffffffde000");
	assert_int_equal(strchr(heap, '[') - heap, 73);
	/* like snprintf when the buffer is short */
	memset(buf, 'x', sizeof(buf));
	assert_int_equal(vma_format_maps(&f->s, buf, 10, name_cb, (void *)"/bin/x"), strlen(want));
	assert_string_equal(buf, "00400000-");
	n = strlen(mapline(0x400000, 0x401000, "r-xp", 0x2000, "/bin/x"));
	assert_int_equal(vma_format_maps(&f->s, NULL, 0, NULL, NULL),
			 strlen(want) - n + strlen("00400000-00401000 r-xp 00002000 00:00 0 \n"));
	fx_done(f);
}

/* ---------------------------------------------------------------------- */
/* Randomized comparison with a page-granular model                        */

static u64 rng_state;

static u64 rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static u64 rn(u64 n)
{
	return n ? rnd() % n : 0;
}

/* The seed of a randomized test: VMA_TEST_SEED replaces the built-in
 * ones, to explore, or to replay a failure (messages print the seed). */
static u64 test_seed(u64 builtin)
{
	const char *e = getenv("VMA_TEST_SEED");

	return e ? strtoull(e, NULL, 0) : builtin;
}

/* One page of the model: what the vma holding it says about it. */
struct mpg {
	bool mapped;
	u32 prot, denyprot, flags, kind;
	u64 file, pgoff, tok;
};

struct mrun {
	u64 start, end;
	struct mpg a;	/* attributes; a.pgoff is the first page's */
};

struct model {
	u64 lo, hi;
	size_t n;
	struct mpg *pg, *tmp;
	struct mrun *runs;
	u64 mmap_base, legacy_base, guard;
	u32 max;
	bool thp;
	u64 start_brk, brk, brk_limit, start_stack, stack_limit, next_obj;
};

static bool mkeyed(const struct mpg *p)
{
	return p->kind == VMA_FILE || (p->flags & VMA_F_SHARED);
}

/* Page b (right after page a) may be in the same vma as a. */
static bool mjoin(const struct mpg *a, const struct mpg *b)
{
	return a->mapped && b->mapped && a->prot == b->prot && a->denyprot == b->denyprot &&
	       a->flags == b->flags && a->kind == b->kind && a->file == b->file &&
	       (!mkeyed(a) || b->pgoff == a->pgoff + 1);
}

static struct mpg *mp(struct model *m, struct mpg *pg, u64 addr)
{
	return &pg[(addr - m->lo) / P];
}

/* The vmas of a page array: maximal runs of joinable pages. */
static int mruns(struct model *m, const struct mpg *pg)
{
	int nr = 0;

	for (size_t i = 0; i < m->n; i++) {
		if (!pg[i].mapped)
			continue;
		if (i && mjoin(&pg[i - 1], &pg[i])) {
			m->runs[nr - 1].end += P;
			continue;
		}
		m->runs[nr].start = m->lo + i * P;
		m->runs[nr].end = m->lo + (i + 1) * P;
		m->runs[nr].a = pg[i];
		nr++;
	}
	return nr;
}

/* The run (vma) containing addr, copied; false if none. */
static bool mrun_at(struct model *m, const struct mpg *pg, u64 addr, struct mrun *out)
{
	int nr = mruns(m, pg);

	for (int i = 0; i < nr; i++) {
		if (m->runs[i].start <= addr && addr < m->runs[i].end) {
			*out = m->runs[i];
			return true;
		}
	}
	return false;
}

static u64 msg(const struct model *m, const struct mrun *r)
{
	if (!(r->a.flags & VMA_F_GROWSDOWN))
		return r->start;
	return r->start > m->guard ? r->start - m->guard : 0;
}

static bool mfree(struct model *m, const struct mpg *pg, u64 a, u64 b)
{
	for (u64 x = a; x < b; x += P)
		if (x >= m->lo && x < m->hi && mp(m, (struct mpg *)pg, x)->mapped)
			return false;
	return true;
}

/*
 * Linux's placement, straightforwardly on the run list: raw gaps; top-down
 * lowers its ceiling to a GROWSDOWN vma's guard start when the gap found
 * under it reaches into the guard; bottom-up skips such a gap.
 */
static s64 msearch(struct model *m, const struct mpg *pg, u64 len)
{
	int nr = mruns(m, pg);
	u64 gs, ge, a, b, high = m->mmap_base, low = m->legacy_base;

again_td:
	for (int i = nr; i >= 0; i--) {
		gs = i ? m->runs[i - 1].end : m->lo;
		ge = i < nr ? m->runs[i].start : m->hi;
		a = gs > m->lo ? gs : m->lo;
		b = ge < high ? ge : high;
		if (b > a && b - a >= len) {
			if (i < nr && (m->runs[i].a.flags & VMA_F_GROWSDOWN) &&
			    msg(m, &m->runs[i]) < b) {
				high = msg(m, &m->runs[i]);
				goto again_td;
			}
			return (s64)(b - len);
		}
	}
	for (int i = 0; i <= nr; i++) {
		gs = i ? m->runs[i - 1].end : m->lo;
		ge = i < nr ? m->runs[i].start : m->hi;
		a = gs > low ? gs : low;
		b = ge < m->hi ? ge : m->hi;
		if (b > a && b - a >= len) {
			if (i < nr && (m->runs[i].a.flags & VMA_F_GROWSDOWN) &&
			    msg(m, &m->runs[i]) < a + len)
				continue;
			return (s64)a;
		}
	}
	return -ENOMEM;
}

static s64 mgua(struct model *m, const struct mpg *pg, u64 addr, u64 len, u32 flags)
{
	len = (len + P - 1) & ~(P - 1);
	if (!len || len > m->hi)
		return -ENOMEM;
	if (flags & FIXED) {
		if (addr > m->hi - len)
			return -ENOMEM;
		if (addr % P)
			return -EINVAL;
		if (addr < m->lo)
			return -EPERM;
		return (s64)addr;
	}
	addr &= ~(P - 1);
	if (addr && addr < m->lo)
		addr = m->lo;
	if (addr && addr <= m->hi - len && mfree(m, pg, addr, addr + len)) {
		int nr = mruns(m, pg);
		bool ok = true;

		for (int i = 0; i < nr; i++) {
			if (m->runs[i].end > addr) {
				ok = addr + len <= msg(m, &m->runs[i]);
				break;
			}
		}
		if (ok)
			return (s64)addr;
	}
	if (m->thp && !addr && (flags & LEGO_MAP_ANONYMOUS) && !(flags & LEGO_MAP_SHARED) &&
	    len % (2 * MIB) == 0) {
		s64 r = msearch(m, pg, len + 2 * MIB);

		if (r >= 0) {
			u64 up = ((u64)r + 2 * MIB - 1) & ~(2 * MIB - 1);

			return (s64)(up == (u64)r ? up + 2 * MIB : up);
		}
	}
	return msearch(m, pg, len);
}

static struct mpg *mbegin(struct model *m)
{
	memcpy(m->tmp, m->pg, m->n * sizeof(*m->pg));
	return m->tmp;
}

static int mcommit(struct model *m)
{
	if ((u32)mruns(m, m->tmp) > m->max)
		return -ENOMEM;
	memcpy(m->pg, m->tmp, m->n * sizeof(*m->pg));
	return 0;
}

static void munset(struct model *m, struct mpg *pg, u64 a, u64 b)
{
	for (u64 x = a; x < b; x += P)
		if (x >= m->lo && x < m->hi)
			memset(mp(m, pg, x), 0, sizeof(struct mpg));
}

/* Sets [a, b) to the attributes of t (t->pgoff for a), contents empty. */
static void mset(struct model *m, struct mpg *pg, u64 a, u64 b, const struct mpg *t)
{
	for (u64 x = a, i = 0; x < b; x += P, i++) {
		struct mpg *q = mp(m, pg, x);

		*q = *t;
		q->mapped = true;
		q->pgoff = mkeyed(t) ? t->pgoff + i : 0;
		q->tok = 0;
	}
}

static s64 m_mmap(struct model *m, u64 addr, u64 len, u32 prot, u32 flags, u64 file, u64 off,
		  u32 deny)
{
	const u32 legacy = LEGO_MAP_SHARED | LEGO_MAP_PRIVATE | FIXED | LEGO_MAP_ANONYMOUS |
			   LEGO_MAP_DENYWRITE | LEGO_MAP_EXECUTABLE | LEGO_MAP_UNINITIALIZED |
			   LEGO_MAP_GROWSDOWN | LEGO_MAP_LOCKED | LEGO_MAP_NORESERVE |
			   LEGO_MAP_POPULATE | LEGO_MAP_NONBLOCK | LEGO_MAP_STACK |
			   LEGO_MAP_HUGETLB | LEGO_MAP_32BIT;
	bool anon = flags & LEGO_MAP_ANONYMOUS, shared;
	struct mpg t = { 0 };
	struct mpg *pg;
	s64 a;
	int r;

	prot &= 7;
	if (off % P || !len)
		return -EINVAL;
	if (flags & LEGO_MAP_FIXED_NOREPLACE)
		flags |= FIXED;
	len = (len + P - 1) & ~(P - 1);
	if (!len)
		return -ENOMEM;
	if ((off / P) + len / P < off / P)
		return -EOVERFLOW;
	if (flags & LEGO_MAP_HUGETLB)
		return -EINVAL;
	a = mgua(m, m->pg, addr, len, flags & (FIXED | LEGO_MAP_ANONYMOUS | LEGO_MAP_SHARED));
	if (a < 0)
		return a;
	if ((flags & LEGO_MAP_FIXED_NOREPLACE) && !mfree(m, m->pg, a, a + len))
		return -EEXIST;
	if (!anon && off / P > (0x7fffffffffffffffULL - len) / P)
		return -EOVERFLOW;
	switch (flags & 0xf) {
	case 1: shared = true; break;
	case 3:
		if (anon)
			return -EINVAL;
		if (flags & ~legacy)
			return -EOPNOTSUPP;
		shared = true;
		break;
	case 2: shared = false; break;
	default: return -EINVAL;
	}
	if ((flags & LEGO_MAP_GROWSDOWN) && (shared || !anon))
		return -EINVAL;
	if (prot & deny)
		return -EACCES;
	t.prot = prot;
	t.denyprot = deny & 7;
	t.flags = (shared ? VMA_F_SHARED : 0) | (flags & LEGO_MAP_GROWSDOWN ? VMA_F_GROWSDOWN : 0) |
		  (flags & LEGO_MAP_NORESERVE ? VMA_F_NORESERVE : 0) |
		  (flags & LEGO_MAP_LOCKED ? VMA_F_LOCKED : 0) |
		  (flags & LEGO_MAP_STACK ? VMA_F_NOHUGEPAGE : 0);
	if (!shared && (prot & 2) && !(flags & LEGO_MAP_NORESERVE))
		t.flags |= VMA_F_ACCOUNT;
	t.kind = anon ? VMA_ANON : VMA_FILE;
	t.file = anon ? 0 : file;
	t.pgoff = anon ? 0 : off / P;
	if (anon && shared)
		t.file = m->next_obj++;
	pg = mbegin(m);
	mset(m, pg, a, a + len, &t);
	r = mcommit(m);
	return r ? r : a;
}

static int m_munmap(struct model *m, u64 start, u64 len)
{
	if (start % P || start > m->hi || len > m->hi - start)
		return -EINVAL;
	len = (len + P - 1) & ~(P - 1);
	if (!len)
		return -EINVAL;
	munset(m, mbegin(m), start, start + len);
	return mcommit(m);
}

static int m_mprotect(struct model *m, u64 start, u64 len, u32 prot)
{
	u32 grows = prot & (LEGO_PROT_GROWSDOWN | LEGO_PROT_GROWSUP);
	u64 end, cur, first = 0;
	int stop = 0, r;
	struct mpg *pg;

	prot &= ~grows;
	if (grows == (LEGO_PROT_GROWSDOWN | LEGO_PROT_GROWSUP) || start % P)
		return -EINVAL;
	if (!len)
		return 0;
	len = (len + P - 1) & ~(P - 1);
	end = start + len;
	if (end <= start)
		return -ENOMEM;
	if (prot & ~15u)
		return -EINVAL;
	prot &= 7;
	for (u64 x = start; x < end && x < m->hi; x += P) {
		if (x >= m->lo && mp(m, m->pg, x)->mapped) {
			first = x;
			break;
		}
	}
	if (!first)
		return -ENOMEM;
	if (grows & LEGO_PROT_GROWSDOWN) {
		struct mrun v;

		mrun_at(m, m->pg, first, &v);
		start = v.start;
		if (!(v.a.flags & VMA_F_GROWSDOWN))
			return -EINVAL;
	} else {
		if (first > start)
			return -ENOMEM;
		if (grows)
			return -EINVAL;
	}
	for (cur = start; cur < end; cur += P) {
		struct mpg *q;

		if (cur >= m->hi || !(q = mp(m, m->pg, cur))->mapped) {
			stop = -ENOMEM;
			break;
		}
		if (prot & q->denyprot) {
			stop = -EACCES;
			break;
		}
	}
	pg = mbegin(m);
	for (u64 x = start; x < cur; x += P) {
		struct mpg *q = mp(m, pg, x);

		if (prot & 2) {
			if (!(q->flags & (VMA_F_ACCOUNT | VMA_F_SHARED | VMA_F_NORESERVE)) &&
			    !(q->prot & 2))
				q->flags |= VMA_F_ACCOUNT;
		} else if (q->kind == VMA_ANON) {
			q->flags &= ~VMA_F_ACCOUNT;
		}
		q->prot = prot;
	}
	r = mcommit(m);
	return r ? r : stop;
}

/* One move of [addr, addr + ol) (inside one run, attributes t) to dst. */
static s64 m_move(struct model *m, const struct mpg *t, u64 addr, u64 ol, u64 nl, u64 dst,
		  bool dontunmap)
{
	struct mpg *pg = mbegin(m);
	u64 toks[4096];
	int r;

	if (ol > nl) {
		munset(m, pg, addr + nl, addr + ol);
		ol = nl;
	}
	for (u64 i = 0; i < ol / P; i++)
		toks[i] = mp(m, pg, addr + i * P)->tok;
	mset(m, pg, dst, dst + nl, t);
	for (u64 i = 0; i < ol / P; i++)
		mp(m, pg, dst + i * P)->tok = toks[i];
	for (u64 x = addr; x < addr + ol; x += P) {
		if (dontunmap) {
			mp(m, pg, x)->flags &= ~VMA_F_LOCKED;
			mp(m, pg, x)->tok = 0;
		} else {
			munset(m, pg, x, x + P);
		}
	}
	r = mcommit(m);
	return r ? r : (s64)dst;
}

static s64 m_mremap(struct model *m, u64 addr, u64 ol, u64 nl, u32 fl, u64 na)
{
	bool implies = fl & (LEGO_MREMAP_FIXED | LEGO_MREMAP_DONTUNMAP);
	struct mrun v;
	struct mpg t;
	u64 eff;

	if (fl & ~7u || addr % P)
		return -EINVAL;
	ol = (ol + P - 1) & ~(P - 1);
	nl = (nl + P - 1) & ~(P - 1);
	if (!nl)
		return -EINVAL;
	if ((fl & LEGO_MREMAP_FIXED) && !(fl & LEGO_MREMAP_MAYMOVE))
		return -EINVAL;
	if ((fl & LEGO_MREMAP_DONTUNMAP) && (!(fl & LEGO_MREMAP_MAYMOVE) || ol != nl))
		return -EINVAL;
	if (implies) {
		if (na % P || nl > m->hi || na > m->hi - nl)
			return -EINVAL;
		if (addr + ol > na && na + nl > addr)
			return -EINVAL;
	}
	if ((fl & LEGO_MREMAP_FIXED) && ol == nl) {
		u64 cur = addr, end = addr + nl;

		if (addr < m->lo || addr >= m->hi || !mp(m, m->pg, addr)->mapped)
			return -EFAULT;
		if (na < m->lo)
			return -EPERM;
		while (cur < end) {
			int nr = mruns(m, m->pg), i;
			u64 a, b;
			s64 r;

			for (i = 0; i < nr && m->runs[i].end <= cur; i++)
				;
			if (i == nr || m->runs[i].start >= end)
				break;
			v = m->runs[i];
			a = v.start > cur ? v.start : cur;
			b = v.end < end ? v.end : end;
			t = *mp(m, m->pg, a);
			r = m_move(m, &t, a, b - a, b - a, na + (a - addr),
				   fl & LEGO_MREMAP_DONTUNMAP);
			if (r < 0)
				return r;
			cur = b;
		}
		return (s64)na;
	}
	if (addr < m->lo || addr >= m->hi || !mrun_at(m, m->pg, addr, &v))
		return -EFAULT;
	if (!implies) {
		if (ol == nl)
			return (s64)addr;
		if (ol > nl) {
			int r = m_munmap(m, addr + nl, ol - nl);

			return r ? r : (s64)addr;
		}
	}
	if (!ol && !(v.a.flags & VMA_F_SHARED))
		return -EINVAL;
	eff = implies ? (ol < nl ? ol : nl) : ol;
	if (eff > v.end - addr)
		return -EFAULT;
	t = *mp(m, m->pg, addr);
	if (implies) {
		s64 dst;

		if (ol > nl && (addr + ol < addr || addr + ol > m->hi))
			return -EINVAL;
		if (fl & LEGO_MREMAP_FIXED) {
			if (na < m->lo)
				return -EPERM;
			dst = (s64)na;
		} else {
			dst = mgua(m, m->pg, na, nl,
				   (t.flags & VMA_F_SHARED ? LEGO_MAP_SHARED : 0) |
					   (t.kind == VMA_ANON ? LEGO_MAP_ANONYMOUS : 0));
			if (dst < 0)
				return dst;
		}
		return m_move(m, &t, addr, ol, nl, (u64)dst, fl & LEGO_MREMAP_DONTUNMAP);
	}
	if (addr + ol == v.end) {
		u64 end = v.end + (nl - ol);

		if (end > v.end && end <= m->hi && mfree(m, m->pg, v.end, end)) {
			struct mpg *pg = mbegin(m);
			struct mpg e = *mp(m, pg, v.end - P);
			int r;

			e.pgoff++;
			mset(m, pg, v.end, end, &e);
			r = mcommit(m);
			return r ? r : (s64)addr;
		}
	}
	if (!(fl & LEGO_MREMAP_MAYMOVE))
		return -ENOMEM;
	{
		s64 dst = mgua(m, m->pg, 0, nl,
			       (t.flags & VMA_F_SHARED ? LEGO_MAP_SHARED : 0) |
				       (t.kind == VMA_ANON ? LEGO_MAP_ANONYMOUS : 0));

		if (dst < 0)
			return dst;
		return m_move(m, &t, addr, ol, nl, (u64)dst, false);
	}
}

static u64 m_brk(struct model *m, u64 brk)
{
	u64 orig = m->brk, nb, ob;
	struct mpg t = { .prot = RW, .flags = VMA_F_ACCOUNT, .kind = VMA_ANON };
	int nr;

	if (brk < m->start_brk || brk - m->start_brk > m->brk_limit)
		return orig;
	nb = (brk + P - 1) & ~(P - 1);
	ob = (m->brk + P - 1) & ~(P - 1);
	if (nb == ob) {
		m->brk = brk;
		return brk;
	}
	if (brk <= m->brk) {
		if (mfree(m, m->pg, nb, ob) || m_munmap(m, nb, ob - nb))
			return orig;
		m->brk = brk;
		return brk;
	}
	if (nb < ob || nb > m->hi || ob < m->lo)
		return orig;
	nr = mruns(m, m->pg);
	for (int i = 0; i < nr; i++) {
		if (m->runs[i].end > ob) {
			if (nb + P > msg(m, &m->runs[i]))
				return orig;
			break;
		}
	}
	{
		struct mpg *pg = mbegin(m);

		/* (Linux never extends a vma ending at start_brk; the page model
		 * cannot show that, so the generator avoids the case.) */
		mset(m, pg, ob, nb, &t);
		if (mcommit(m))
			return orig;
	}
	m->brk = brk;
	return brk;
}

static int m_expand_stack(struct model *m, u64 addr)
{
	int nr = mruns(m, m->pg), i;
	struct mrun v;

	for (i = 0; i < nr && m->runs[i].end <= addr; i++)
		;
	if (i < nr && m->runs[i].start <= addr)
		return 0;
	if (i == nr || !(m->runs[i].a.flags & VMA_F_GROWSDOWN))
		return -EFAULT;
	v = m->runs[i];
	addr &= ~(P - 1);
	if (addr < m->lo)
		return -EPERM;
	if (i > 0 && !(m->runs[i - 1].a.flags & VMA_F_GROWSDOWN) && (m->runs[i - 1].a.prot & 7) &&
	    addr - m->runs[i - 1].end < m->guard)
		return -ENOMEM;
	if (v.end - addr > m->stack_limit)
		return -ENOMEM;
	mset(m, mbegin(m), addr, v.start, &v.a);
	return mcommit(m);
}

/* The model and the space agree on everything observable. */
static void model_compare(struct model *m, struct fx *f, const char *what)
{
	int nr = mruns(m, m->pg), i = 0;
	const struct vma *v;

	fx_ok(f);
	vma_for_each(v, &f->s) {
		const struct mrun *r = &m->runs[i];

		if (i >= nr || r->start != v->start || r->end != v->end || r->a.prot != v->prot ||
		    r->a.denyprot != v->denyprot || r->a.flags != v->flags ||
		    r->a.kind != v->kind || r->a.file != v->file || r->a.pgoff != v->pgoff)
			fail_msg("after %s: vma %d [%#llx, %#llx) prot %u flags %#x kind %u file "
				 "%llu pgoff %llu; model has %d runs, run %d [%#llx, %#llx) prot "
				 "%u flags %#x kind %u file %llu pgoff %llu\n%s",
				 what, i, (unsigned long long)v->start, (unsigned long long)v->end,
				 v->prot, v->flags, v->kind, (unsigned long long)v->file,
				 (unsigned long long)v->pgoff, nr, i,
				 i < nr ? (unsigned long long)r->start : 0ULL,
				 i < nr ? (unsigned long long)r->end : 0ULL, i < nr ? r->a.prot : 0,
				 i < nr ? r->a.flags : 0, i < nr ? r->a.kind : 0,
				 i < nr ? (unsigned long long)r->a.file : 0ULL,
				 i < nr ? (unsigned long long)r->a.pgoff : 0ULL, layout(f));
		i++;
	}
	if (i != nr)
		fail_msg("after %s: %d vmas, model %d runs\n%s", what, i, nr, layout(f));
	for (size_t k = 0; k < m->n; k++)
		if (f->tok[k] != m->pg[k].tok)
			fail_msg("after %s: page %zu holds token %llu, model %llu", what, k,
				 (unsigned long long)f->tok[k], (unsigned long long)m->pg[k].tok);
	assert_int_equal(f->s.brk, m->brk);
	assert_int_equal(f->s.next_object, m->next_obj);
}

static u32 rprot(void)
{
	static const u32 p[] = { 0, RO, RW, RO | LEGO_PROT_EXEC, 7, LEGO_PROT_WRITE };

	return p[rn(6)];
}

static u64 raddr(struct model *m)
{
	u64 x = rn(100);

	if (x == 0)
		return m->lo + rn(m->n) * P + 1 + rn(P - 1);	/* misaligned */
	if (x == 1)
		return m->hi + rn(8) * P;
	if (x == 2)
		return m->lo - P * (1 + rn(4));
	return m->lo + rn(m->n) * P;
}

static u64 rlen(void)
{
	u64 x = rn(100);

	if (x < 3)
		return 512 * P * (1 + rn(2));	/* THP-sized */
	if (x == 3)
		return 0;
	if (x == 4)
		return ~0ULL - rn(3 * P);
	if (x < 10)
		return (1 + rn(16)) * P - rn(P);	/* unaligned */
	return (1 + rn(16)) * P;
}

/* A random existing run, or false. */
static bool rrun(struct model *m, struct mrun *out)
{
	int nr = mruns(m, m->pg);

	if (!nr)
		return false;
	*out = m->runs[rn(nr)];
	return true;
}

static void model_run(u64 seed, int steps, u32 max_vmas)
{
	struct model m = { 0 };
	struct vma_space_params p = { .lo = 4 * MIB, .hi = 12 * MIB };
	struct fx *f;
	u64 next_tok = 1;
	char what[200];

	rng_state = seed = test_seed(seed);
	p.mmap_base = p.hi - 64 * P;
	p.legacy_base = p.lo + 128 * P;
	p.stack_guard_gap = 8 * P;
	p.max_vmas = max_vmas;
	p.thp_align = true;
	f = fx_new_params(&p);
	m.lo = p.lo;
	m.hi = p.hi;
	m.n = (p.hi - p.lo) / P;
	m.pg = calloc(m.n, sizeof(*m.pg));
	m.tmp = calloc(m.n, sizeof(*m.tmp));
	m.runs = calloc(m.n, sizeof(*m.runs));
	m.mmap_base = p.mmap_base;
	m.legacy_base = p.legacy_base;
	m.guard = p.stack_guard_gap;
	m.max = max_vmas;
	m.thp = true;
	m.next_obj = 1;
	m.brk_limit = m.stack_limit = ~0ULL;
	/* a heap at 1 MiB into the space, with a limit */
	vma_set_brk(&f->s, p.lo + 256 * P, 300 * P);
	m.start_brk = m.brk = p.lo + 256 * P;
	m.brk_limit = 300 * P;
	f->s.stack_limit = m.stack_limit = 64 * P;

	for (int step = 0; step < steps; step++) {
		u64 op = rn(100), a, len;
		s64 want, got;
		struct mrun v;

		if (op < 30) {
			/* mmap */
			u32 fl, prot = rprot(), deny = 0, kind = rn(100);
			u64 file = 0, off = 0;

			a = raddr(&m);
			len = rlen();
			if (kind < 50) {
				fl = ANON;
			} else if (kind < 65) {
				fl = SHANON;
			} else {
				fl = kind < 85 ? LEGO_MAP_PRIVATE : LEGO_MAP_SHARED;
				file = 1 + rn(2);
				off = rn(32) * P;
				if (rn(3) == 0 && rrun(&m, &v) && v.a.kind == VMA_FILE) {
					/* continue an existing file vma */
					file = v.a.file;
					a = v.end;
					off = (v.a.pgoff + (v.end - v.start) / P) * P;
					fl = v.a.flags & VMA_F_SHARED ? LEGO_MAP_SHARED
								      : LEGO_MAP_PRIVATE;
					prot = v.a.prot;
				}
				if (fl == LEGO_MAP_SHARED && rn(5) == 0)
					deny = LEGO_PROT_WRITE;
				if (rn(30) == 0)
					fl = LEGO_MAP_SHARED_VALIDATE | (rn(2) ? LEGO_MAP_SYNC : 0);
				if (rn(40) == 0)
					off += 1;
			}
			switch (rn(4)) {
			case 0: case 1: fl |= FIXED; break;
			case 2: fl |= rn(3) ? 0 : LEGO_MAP_FIXED_NOREPLACE; break;
			default: a = rn(3) ? 0 : a; break;
			}
			if (rn(10) == 0)
				fl |= LEGO_MAP_NORESERVE;
			if (rn(12) == 0)
				fl |= LEGO_MAP_GROWSDOWN;
			if (rn(12) == 0)
				fl |= LEGO_MAP_STACK;
			if (rn(20) == 0)
				fl |= LEGO_MAP_LOCKED;
			if (rn(60) == 0)
				fl = (fl & ~0xfu) | (rn(2) ? 0 : 0x4);
			snprintf(what, sizeof(what),
				 "mmap(%#llx, %#llx, %u, %#x, file %llu, off %#llx)",
				 (unsigned long long)a, (unsigned long long)len, prot, fl,
				 (unsigned long long)file, (unsigned long long)off);
			want = m_mmap(&m, a, len, prot, fl, file, off, deny);
			{
				struct vma_mmap_req q = { .addr = a, .len = len, .prot = prot,
							  .flags = fl, .file = file, .off = off,
							  .denyprot = deny };

				got = vma_mmap(&f->s, &q);
			}
		} else if (op < 42) {
			a = raddr(&m);
			len = rlen();
			if (rn(2) && rrun(&m, &v)) {
				a = v.start + rn((v.end - v.start) / P) * P;
				len = (1 + rn((v.end - a) / P + 2)) * P;
			}
			snprintf(what, sizeof(what), "munmap(%#llx, %#llx)", (unsigned long long)a,
				 (unsigned long long)len);
			want = m_munmap(&m, a, len);
			got = vma_munmap(&f->s, a, len);
		} else if (op < 60) {
			u32 prot = rprot() | (rn(30) == 0 ? LEGO_PROT_GROWSDOWN : 0) |
				   (rn(100) == 0 ? 0x10 : 0) | (rn(30) == 0 ? LEGO_PROT_SEM : 0);

			a = raddr(&m);
			len = rlen();
			if (rn(3) && rrun(&m, &v)) {
				a = v.start + rn((v.end - v.start) / P) * P;
				len = (1 + rn((v.end - a) / P + 4)) * P;
			}
			snprintf(what, sizeof(what), "mprotect(%#llx, %#llx, %#x)",
				 (unsigned long long)a, (unsigned long long)len, prot);
			want = m_mprotect(&m, a, len, prot);
			got = vma_mprotect(&f->s, a, len, prot);
		} else if (op < 80) {
			u64 ol, nl, na = raddr(&m);
			u32 fl = 0;

			if (!rrun(&m, &v))
				continue;
			a = v.start + rn((v.end - v.start) / P) * P;
			ol = rn((v.end - a) / P + 1) * P;
			if (rn(8) == 0)
				ol += rn(8) * P;	/* beyond the vma */
			{
				int d = (int)rn(3) - 1;
				u64 k = rn(6) * P;

				nl = d >= 0 ? ol + d * k : (ol > k ? ol - k : P);
			}
			if (rn(20) == 0)
				nl = rn(2) ? 0 : ~0ULL;
			switch (rn(8)) {
			case 0: break;
			case 1: case 2: fl = LEGO_MREMAP_MAYMOVE; break;
			case 3: case 4: fl = LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED; break;
			case 5:
				fl = LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED;
				nl = ol = (1 + rn(24)) * P;	/* multi-vma moves */
				break;
			case 6:
				fl = LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_DONTUNMAP |
				     (rn(2) ? LEGO_MREMAP_FIXED : 0);
				nl = ol = ol ? ol : P;
				break;
			default:
				fl = rn(16);
				break;
			}
			if (rn(10) == 0)
				ol = 0;
			snprintf(what, sizeof(what), "mremap(%#llx, %#llx, %#llx, %#x, %#llx)",
				 (unsigned long long)a, (unsigned long long)ol,
				 (unsigned long long)nl, fl, (unsigned long long)na);
			want = m_mremap(&m, a, ol, nl, fl, na);
			got = vma_mremap(&f->s, a, ol, nl, fl, na);
		} else if (op < 88) {
			u64 b = m.brk + (rn(2) ? 1 : -1) * (s64)(rn(40) * P + rn(3) * 100);
			bool edge = false;

			/* The page model cannot show two adjacent compatible vmas
			 * (heap vs a vma ending at start_brk); skip that case. */
			if (m.brk == m.start_brk && m.start_brk > m.lo) {
				struct mpg *q = mp(&m, m.pg, m.start_brk - P);
				struct mpg h = { .mapped = true, .prot = RW,
						 .flags = VMA_F_ACCOUNT, .kind = VMA_ANON };

				edge = mjoin(q, &h);
			}
			if (edge)
				continue;
			snprintf(what, sizeof(what), "brk(%#llx)", (unsigned long long)b);
			want = (s64)m_brk(&m, b);
			got = (s64)vma_brk(&f->s, b);
		} else if (op < 93) {
			if (!rrun(&m, &v) || !(v.a.flags & VMA_F_GROWSDOWN))
				continue;
			a = v.start - rn(24) * P - rn(P);
			/* Growing onto a compatible vma leaves two vmas (as on
			 * Linux), which the page model cannot show: skip. */
			{
				int nr = mruns(&m, m.pg), i;
				u64 pa = a & ~(P - 1);

				for (i = 0; i < nr && m.runs[i].end <= a; i++)
					;
				if (i < nr && m.runs[i].start > a && pa > m.lo && pa < m.hi &&
				    mjoin(mp(&m, m.pg, pa - P), &m.runs[i].a))
					continue;
			}
			snprintf(what, sizeof(what), "expand_stack(%#llx)", (unsigned long long)a);
			want = m_expand_stack(&m, a);
			got = vma_expand_stack(&f->s, a);
		} else {
			/* write to some pages: gives them content tokens */
			u64 s0 = rn(m.n), n0 = 1 + rn(64);

			for (u64 k = s0; k < s0 + n0 && k < m.n; k++) {
				if (m.pg[k].mapped && !m.pg[k].tok) {
					m.pg[k].tok = next_tok;
					f->tok[k] = next_tok++;
				}
			}
			continue;
		}
		if (want != got)
			fail_msg("step %d (seed %#llx): %s: model %lld, vma.c %lld\n%s", step,
				 (unsigned long long)seed, what, (long long)want, (long long)got,
				 layout(f));
		model_compare(&m, f, what);
	}
	fx_done(f);
	free(m.pg);
	free(m.tmp);
	free(m.runs);
}

static void test_random_model(void **state)
{
	model_run(0x1234567887654321ULL, 20000, 40);
	model_run(0x0badc0ffee15900dULL, 20000, 12);
	model_run(0x5eed5eed5eed5eedULL, 20000, VMA_DEFAULT_MAX_VMAS);
}

/* ---------------------------------------------------------------------- */
/* Comparison with the host Linux kernel                                   */

#define HMAXV 1024
#define ELSEWHERE (-1000)	/* "not where asked" (then undone) */

enum { H_MMAP = 1, H_MUNMAP, H_MPROTECT, H_MREMAP, H_QUIT };

/* One call, with absolute addresses (the parent's space and the child's
 * region R share them). */
struct hop {
	int kind;
	u64 addr, len;
	u32 prot, flags;
	int fid;		/* 0: anonymous; 1, 2: a memfd */
	u64 off;
	u64 old_len, new_len, new_addr;
	u32 rflags;
	bool normalize;		/* a result != expect is undone: munmap(result, nlen) */
	u64 expect, nlen;
};

struct hvma {
	u64 start, end;
	char perm[4];
};

struct hreply {
	s64 ret;
	int n;			/* vmas inside R; -1: more than HMAXV */
	struct hvma v[HMAXV];
};

#define FEAT_MULTI 0x1		/* mremap moves several vmas (6.17) */
#define FEAT_EXPAND_MERGE 0x2	/* in-place growth merges with the next vma */
#define FEAT_STACK_FLAG 0x4	/* MAP_STACK keeps vmas apart (VM_NOHUGEPAGE) */
#define FEAT_ACCOUNT_DROP 0x8	/* mprotect -w drops VM_ACCOUNT on anon memory */
#define FEAT_THP 0x10		/* 2 MiB alignment of larger anonymous mappings */
#define FEAT_ALL_FIXED (FEAT_MULTI | FEAT_EXPAND_MERGE | FEAT_STACK_FLAG | FEAT_ACCOUNT_DROP)

struct hsetup {
	int ok;			/* 0: could not set up (reason in why) */
	u64 lo, hi;		/* R */
	u32 feat;
	char why[96];
};

/* --- child side: raw system calls only (no malloc, no stdio) ---------- */

static char h_maps[1 << 20];
static struct hreply h_rep;
static int h_fd[3];

static s64 h_sys(long r)
{
	return r == -1 ? -(s64)errno : (s64)r;
}

static s64 h_mmap(u64 a, u64 l, u32 prot, u32 fl, int fd, u64 off)
{
	return h_sys(syscall(SYS_mmap, a, l, prot, fl, fd, off));
}

static bool h_write(int fd, const void *b, size_t n)
{
	while (n) {
		long r = syscall(SYS_write, fd, b, n);

		if (r <= 0)
			return false;
		b = (const char *)b + r;
		n -= r;
	}
	return true;
}

static bool h_read(int fd, void *b, size_t n)
{
	while (n) {
		long r = syscall(SYS_read, fd, b, n);

		if (r <= 0)
			return false;
		b = (char *)b + r;
		n -= r;
	}
	return true;
}

static u64 h_hex(const char **p)
{
	u64 x = 0;

	for (;; (*p)++) {
		char c = **p;

		if (c >= '0' && c <= '9')
			x = x * 16 + (c - '0');
		else if (c >= 'a' && c <= 'f')
			x = x * 16 + (c - 'a' + 10);
		else
			return x;
	}
}

/* Reads /proc/self/maps; calls fn for each line (start, end, perms, name). */
static void h_each_map(void (*fn)(u64 s, u64 e, const char *perm, const char *name, void *c),
		       void *c)
{
	long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/maps", O_RDONLY);
	size_t n = 0;
	long r;
	const char *p = h_maps;

	if (fd < 0)
		return;
	while ((r = syscall(SYS_read, fd, h_maps + n, sizeof(h_maps) - 1 - n)) > 0)
		n += r;
	syscall(SYS_close, fd);
	h_maps[n] = 0;
	while (*p) {
		const char *eol = p, *perm, *name;
		u64 s, e;
		int sp = 0;

		while (*eol && *eol != '\n')
			eol++;
		s = h_hex(&p);
		p++;
		e = h_hex(&p);
		p++;
		perm = p;
		for (name = p; name < eol && sp < 5; name++)
			if (*name == ' ')
				sp++;
		while (name < eol && *name == ' ')
			name++;
		fn(s, e, perm, name, c);
		p = *eol ? eol + 1 : eol;
	}
}

struct h_snap_ctx {
	u64 lo, hi;
	struct hreply *rep;
};

static void h_snap_fn(u64 s, u64 e, const char *perm, const char *name, void *c)
{
	struct h_snap_ctx *x = c;

	if (s < x->lo || e > x->hi || x->rep->n < 0)
		return;
	if (x->rep->n == HMAXV) {
		x->rep->n = -1;
		return;
	}
	x->rep->v[x->rep->n].start = s;
	x->rep->v[x->rep->n].end = e;
	memcpy(x->rep->v[x->rep->n].perm, perm, 4);
	x->rep->n++;
}

static void h_snapshot(u64 lo, u64 hi, struct hreply *rep)
{
	struct h_snap_ctx x = { lo, hi, rep };

	rep->n = 0;
	h_each_map(h_snap_fn, &x);
}

static s64 h_exec(const struct hop *op)
{
	s64 r = -EINVAL;

	switch (op->kind) {
	case H_MMAP:
		r = h_mmap(op->addr, op->len, op->prot, op->flags, op->fid ? h_fd[op->fid] : -1,
			   op->off);
		break;
	case H_MUNMAP:
		r = h_sys(syscall(SYS_munmap, op->addr, op->len));
		break;
	case H_MPROTECT:
		r = h_sys(syscall(SYS_mprotect, op->addr, op->len, op->prot));
		break;
	case H_MREMAP:
		r = h_sys(syscall(SYS_mremap, op->addr, op->old_len, op->new_len, op->rflags,
				  op->new_addr));
		break;
	}
	if (op->normalize && r >= 0 && (u64)r != op->expect) {
		syscall(SYS_munmap, (u64)r, op->nlen);
		r = ELSEWHERE;
	}
	return r;
}

/* Number of vmas of the host inside [a, b) (for the feature probes). */
static int h_count(u64 a, u64 b)
{
	h_snapshot(a, b, &h_rep);
	return h_rep.n;
}

static u32 h_probe_fixed(u64 lo)
{
	const u32 an = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
	u32 feat = 0;

	h_mmap(lo, 2 * P, 3, an, -1, 0);
	h_mmap(lo + 2 * P, 2 * P, 1, an, -1, 0);
	if (h_sys(syscall(SYS_mremap, lo, 4 * P, 4 * P, MREMAP_MAYMOVE | MREMAP_FIXED,
			  lo + 10 * P)) == (s64)(lo + 10 * P))
		feat |= FEAT_MULTI;
	syscall(SYS_munmap, lo, 64 * P);
	h_mmap(lo, 2 * P, 3, an, -1, 0);
	h_mmap(lo + 3 * P, 2 * P, 3, an, -1, 0);
	syscall(SYS_mremap, lo, 2 * P, 3 * P, 0, 0);
	if (h_count(lo, lo + 64 * P) == 1)
		feat |= FEAT_EXPAND_MERGE;
	syscall(SYS_munmap, lo, 64 * P);
	h_mmap(lo, 2 * P, 3, an | MAP_STACK, -1, 0);
	h_mmap(lo + 2 * P, 2 * P, 3, an, -1, 0);
	if (h_count(lo, lo + 64 * P) == 2)
		feat |= FEAT_STACK_FLAG;
	syscall(SYS_munmap, lo, 64 * P);
	h_mmap(lo, 2 * P, 3, an, -1, 0);
	h_mmap(lo + 2 * P, 2 * P, 1, an, -1, 0);
	syscall(SYS_mprotect, lo, 2 * P, 1);
	if (h_count(lo, lo + 64 * P) == 1)
		feat |= FEAT_ACCOUNT_DROP;
	syscall(SYS_munmap, lo, 64 * P);
	return feat;
}

struct h_fill_ctx {
	u64 from, to;	/* fill the gaps inside [from, to) */
	u64 prev_end;
	bool ok;
};

static void h_fill_fn(u64 s, u64 e, const char *perm, const char *name, void *c)
{
	struct h_fill_ctx *x = c;

	if (s >= 0x800000000000ULL)
		return;
	if (x->prev_end && s > x->prev_end) {
		u64 a = x->prev_end > x->from ? x->prev_end : x->from;
		u64 b = s < x->to ? s : x->to;

		const u32 fl = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE;

		if (a < b && h_mmap(a, b - a, PROT_NONE, fl, -1, 0) != (s64)a)
			x->ok = false;
	}
	x->prev_end = e;
}

static void h_find_stack(u64 s, u64 e, const char *perm, const char *name, void *c)
{
	if (!strncmp(name, "[stack]", 7))
		*(u64 *)c = s;
}

/* Sets R up (see the top of the file); fills *st. */
static void h_setup(int mode, u64 npages, struct hsetup *st)
{
	const u32 guard = MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED;
	const u32 resv = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	u64 total = (npages + 2) * P, base;
	s64 r = -1;

	st->ok = 0;
	if (mode == 0)
		r = h_mmap(0x300000000000ULL, total, PROT_NONE, resv | MAP_FIXED_NOREPLACE, -1, 0);
	if (r < 0)
		r = h_mmap(0, total, PROT_NONE, resv, -1, 0);
	if (r < 0) {
		strcpy(st->why, "cannot reserve the region");
		return;
	}
	base = (u64)r;
	st->lo = base + P;
	st->hi = base + P + npages * P;
	h_mmap(base, P, PROT_NONE, guard, -1, 0);
	h_mmap(st->hi, P, PROT_NONE, guard, -1, 0);
	syscall(SYS_munmap, st->lo, npages * P);
	h_fd[1] = (int)syscall(SYS_memfd_create, "vma-test-1", 0);
	h_fd[2] = (int)syscall(SYS_memfd_create, "vma-test-2", 0);
	if (h_fd[1] < 0 || h_fd[2] < 0) {
		strcpy(st->why, "memfd_create failed");
		return;
	}
	if (mode == 0) {
		st->feat = h_probe_fixed(st->lo);
	} else {
		/* Make R the highest free space below mmap_base: fill every gap
		 * above it, up to 64 MiB below the stack (mmap_base is at
		 * least 128 MiB below the stack). */
		u64 stack = 0, top;
		struct h_fill_ctx x = { .ok = true };

		h_each_map(h_find_stack, &stack);
		if (!stack) {
			strcpy(st->why, "no [stack] in /proc/self/maps");
			return;
		}
		x.from = st->hi + P;
		x.to = stack - 64 * MIB;
		h_each_map(h_fill_fn, &x);
		if (!x.ok) {
			strcpy(st->why, "could not fill the gaps above R");
			return;
		}
		/* The first page goes to the top of R ... */
		top = st->hi - P;
		if (h_mmap(0, P, 3, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != (s64)top) {
			strcpy(st->why, "top-down placement does not reach R");
			return;
		}
		if (top % (2 * MIB) == 0) {
			top -= P;
			h_mmap(top, P, 1, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		}
		/* ... and 2 MiB shows whether THP alignment is on. */
		r = h_mmap(0, 2 * MIB, 3, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r == (s64)(top - 2 * MIB)) {
			st->feat = 0;
		} else if (r == (s64)((top - 4 * MIB + 2 * MIB - 1) & ~(2 * MIB - 1))) {
			st->feat = FEAT_THP;
		} else {
			strcpy(st->why, "unexpected placement of a 2 MiB mapping");
			return;
		}
		syscall(SYS_munmap, st->lo, npages * P);
	}
	st->ok = 1;
}

static void h_child(int rd, int wr, int mode, u64 npages)
{
	struct hsetup st = { 0 };
	struct hop op;

	h_setup(mode, npages, &st);
	h_write(wr, &st, sizeof(st));
	while (st.ok && h_read(rd, &op, sizeof(op)) && op.kind != H_QUIT) {
		h_rep.ret = h_exec(&op);
		h_snapshot(st.lo, st.hi, &h_rep);
		if (!h_write(wr, &h_rep, sizeof(h_rep)))
			break;
	}
	syscall(SYS_exit_group, 0);
}

/* --- parent side ------------------------------------------------------- */

struct hostcmp {
	pid_t pid;
	int wr, rd;
	struct hsetup st;
	struct fx *f;		/* our side */
	struct fx *trial;	/* a copy to try calls on first (topdown) */
	int mode;		/* 0: fixed, 1: topdown */
	u64 np;			/* pages in R */
	bool shmem_ok;		/* shared/file placement is not THP-aligned */
	bool noreserve_ok;	/* MAP_NORESERVE is honoured (overcommit != 2) */
	struct hreply rep;
	int sent, skipped, elsewhere, errors;
};

static bool h_start(struct hostcmp *h, int mode, u64 npages)
{
	int a[2], b[2];

	h->mode = mode;
	h->np = npages;
	if (pipe(a) || pipe(b))
		return false;
	fflush(NULL);
	h->pid = fork();
	if (h->pid < 0)
		return false;
	if (h->pid == 0) {
		close(a[1]);
		close(b[0]);
		h_child(a[0], b[1], mode, npages);
	}
	close(a[0]);
	close(b[1]);
	h->wr = a[1];
	h->rd = b[0];
	if (!h_read(h->rd, &h->st, sizeof(h->st)))
		h->st.ok = 0;
	return true;
}

static void h_stop(struct hostcmp *h)
{
	struct hop q = { .kind = H_QUIT };
	int status;

	h_write(h->wr, &q, sizeof(q));
	close(h->wr);
	close(h->rd);
	if (waitpid(h->pid, &status, WNOHANG) == 0) {
		usleep(100000);
		if (waitpid(h->pid, &status, WNOHANG) == 0) {
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &status, 0);
		}
	}
}

static s64 l_exec(struct fx *f, const struct hop *op)
{
	struct vma_space *s = &f->s;
	s64 r = -EINVAL;

	switch (op->kind) {
	case H_MMAP: {
		struct vma_mmap_req q = { .addr = op->addr, .len = op->len, .prot = op->prot,
					  .flags = op->flags, .file = (u64)op->fid,
					  .off = op->off };

		r = vma_mmap(s, &q);
		break;
	}
	case H_MUNMAP:
		r = vma_munmap(s, op->addr, op->len);
		break;
	case H_MPROTECT:
		r = vma_mprotect(s, op->addr, op->len, op->prot);
		break;
	case H_MREMAP:
		r = vma_mremap(s, op->addr, op->old_len, op->new_len, op->rflags, op->new_addr);
		break;
	}
	if (op->normalize && r >= 0 && (u64)r != op->expect) {
		assert_int_equal(vma_munmap(s, (u64)r, op->nlen), 0);
		r = ELSEWHERE;
	}
	return r;
}

static const char *h_opstr(const struct hostcmp *h, const struct hop *op)
{
	static char b[256];
	const u64 lo = h->st.lo;

#define R(x) ((long long)((x) - lo) / (long long)P)
	switch (op->kind) {
	case H_MMAP:
		snprintf(b, sizeof(b), "mmap(R%+lld, %#llx, %u, %#x, fd %d, off %#llx)",
			 R(op->addr), (unsigned long long)op->len, op->prot, op->flags, op->fid,
			 (unsigned long long)op->off);
		break;
	case H_MUNMAP:
		snprintf(b, sizeof(b), "munmap(R%+lld, %#llx)", R(op->addr),
			 (unsigned long long)op->len);
		break;
	case H_MPROTECT:
		snprintf(b, sizeof(b), "mprotect(R%+lld, %#llx, %#x)", R(op->addr),
			 (unsigned long long)op->len, op->prot);
		break;
	default:
		snprintf(b, sizeof(b), "mremap(R%+lld, %#llx, %#llx, %#x, R%+lld)", R(op->addr),
			 (unsigned long long)op->old_len, (unsigned long long)op->new_len,
			 op->rflags, R(op->new_addr));
		break;
	}
#undef R
	return b;
}

static void h_dump(char *out, size_t size, const struct hostcmp *h, const struct hreply *rep)
{
	size_t n = 0;
	const struct vma *v;

	n += snprintf(out + n, size - n, "\n  host:");
	for (int i = 0; i < rep->n && n < size - 64; i++)
		n += snprintf(out + n, size - n, " %lld-%lld:%.4s",
			      (long long)((rep->v[i].start - h->st.lo) / P),
			      (long long)((rep->v[i].end - h->st.lo) / P), rep->v[i].perm);
	n += snprintf(out + n, size - n, "\n  ours:");
	vma_for_each(v, &h->f->s) {
		if (v->start < h->st.lo || v->end > h->st.hi || n >= size - 64)
			continue;
		n += snprintf(out + n, size - n, " %lld-%lld:%c%c%c%c",
			      (long long)((v->start - h->st.lo) / P),
			      (long long)((v->end - h->st.lo) / P), v->prot & RO ? 'r' : '-',
			      v->prot & LEGO_PROT_WRITE ? 'w' : '-',
			      v->prot & LEGO_PROT_EXEC ? 'x' : '-',
			      v->flags & VMA_F_SHARED ? 's' : 'p');
	}
}

/* Runs op on both sides and compares; false with msg filled on mismatch. */
static bool h_step(struct hostcmp *h, const struct hop *op, char *msg, size_t size)
{
	s64 ours = l_exec(h->f, op);
	const struct vma *v;
	int i = 0;
	bool same;

	if (!h_write(h->wr, op, sizeof(*op)) || !h_read(h->rd, &h->rep, sizeof(h->rep))) {
		snprintf(msg, size, "lost the host child at %s", h_opstr(h, op));
		return false;
	}
	h->sent++;
	h->elsewhere += ours == ELSEWHERE;
	h->errors += ours < 0 && ours != ELSEWHERE;
	if (ours != h->rep.ret) {
		size_t n = snprintf(msg, size, "%s: host %lld (R%+lld), ours %lld (R%+lld)",
				    h_opstr(h, op), (long long)h->rep.ret,
				    (long long)(h->rep.ret - (s64)h->st.lo) / (long long)P,
				    (long long)ours,
				    (long long)(ours - (s64)h->st.lo) / (long long)P);

		h_dump(msg + n, size - n, h, &h->rep);
		return false;
	}
	same = h->rep.n >= 0;
	vma_for_each(v, &h->f->s) {
		char perm[4] = { v->prot & RO ? 'r' : '-', v->prot & LEGO_PROT_WRITE ? 'w' : '-',
				 v->prot & LEGO_PROT_EXEC ? 'x' : '-',
				 v->flags & VMA_F_SHARED ? 's' : 'p' };

		if (v->start < h->st.lo || v->end > h->st.hi)
			continue;
		if (i >= h->rep.n || h->rep.v[i].start != v->start || h->rep.v[i].end != v->end ||
		    memcmp(h->rep.v[i].perm, perm, 4))
			same = false;
		i++;
	}
	if (!same || i != h->rep.n) {
		size_t n = snprintf(msg, size, "after %s (returned %lld): layouts differ",
				    h_opstr(h, op), (long long)ours);

		h_dump(msg + n, size - n, h, &h->rep);
		return false;
	}
	return true;
}

static u64 hp(struct hostcmp *h, u64 pg)
{
	return h->st.lo + pg * P;
}

/* A random vma of ours inside R, or NULL. */
static const struct vma *h_rvma(struct hostcmp *h)
{
	const struct vma *v, *pick = NULL;
	int n = 0;

	vma_for_each(v, &h->f->s)
		if (v->start >= h->st.lo && v->end <= h->st.hi && rn(++n) == 0)
			pick = v;
	return pick;
}

/* Does [a, b) hold a private anonymous writable vma of ours? */
static bool h_has_anon_w(struct hostcmp *h, u64 a, u64 b)
{
	for (const struct vma *v = vma_find(&h->f->s, a); v && v->start < b; v = vma_next(v))
		if (v->kind == VMA_ANON && !(v->flags & VMA_F_SHARED) &&
		    (v->prot & LEGO_PROT_WRITE))
			return true;
	return false;
}

static u32 h_mapflags(struct hostcmp *h, int *fid, u64 *off, bool topdown)
{
	u64 k = rn(100);
	u32 fl;

	*fid = 0;
	*off = 0;
	if (k < 55 || (topdown && !h->shmem_ok && k < 100)) {
		fl = MAP_PRIVATE | MAP_ANONYMOUS;
		if (rn(8) == 0)
			fl |= MAP_GROWSDOWN;
	} else if (k < 70) {
		fl = MAP_SHARED | MAP_ANONYMOUS;
	} else {
		fl = k < 85 ? MAP_PRIVATE : MAP_SHARED;
		*fid = 1 + (int)rn(2);
		*off = rn(32) * P;
	}
	if (rn(10) == 0 && h->noreserve_ok)
		fl |= MAP_NORESERVE;
	if (rn(10) == 0 && (h->st.feat & FEAT_STACK_FLAG))
		fl |= MAP_STACK;
	return fl;
}

/* The next call for the "fixed" comparison: everything stays inside R. */
static void h_gen_fixed(struct hostcmp *h, struct hop *op)
{
	const u64 np = h->np;
	const bool modern = (h->st.feat & FEAT_ALL_FIXED) == FEAT_ALL_FIXED;
	u64 k = rn(100), pg, n;
	const struct vma *v;

	memset(op, 0, sizeof(*op));
	if (k < 30) {
		/* mmap MAP_FIXED(_NOREPLACE) */
		n = 1 + (rn(4) ? rn(16) : rn(64));
		pg = rn(np - n);
		op->kind = H_MMAP;
		op->addr = hp(h, pg);
		op->len = n * P - (rn(8) ? 0 : rn(P));
		op->prot = rprot();
		op->flags = h_mapflags(h, &op->fid, &op->off, false) |
			    (rn(5) ? MAP_FIXED : MAP_FIXED_NOREPLACE);
		/* continue a file vma: merges when the offsets match */
		if (op->fid && rn(2) && (v = h_rvma(h)) && v->kind == VMA_FILE &&
		    v->end + n * P <= h->st.hi) {
			op->fid = (int)v->file;
			op->addr = v->end;
			op->off = (v->pgoff + (v->end - v->start) / P) * P;
			op->prot = v->prot;
			op->flags = (op->flags & ~(MAP_SHARED | MAP_PRIVATE)) |
				    (v->flags & VMA_F_SHARED ? MAP_SHARED : MAP_PRIVATE);
		}
		if (rn(50) == 0)
			op->addr += 1 + rn(P - 1);	/* -EINVAL */
		if (rn(50) == 0)
			op->len = 0;
	} else if (k < 38) {
		/* mmap with a hint: placed there or undone */
		n = 1 + rn(16);
		pg = rn(np - n);
		op->kind = H_MMAP;
		op->addr = hp(h, pg) + (rn(4) ? 0 : rn(P));
		op->len = n * P;
		op->prot = rprot();
		op->flags = h_mapflags(h, &op->fid, &op->off, false);
		op->normalize = true;
		op->expect = hp(h, pg);
		op->nlen = n * P;
	} else if (k < 53) {
		op->kind = H_MUNMAP;
		if (rn(2) && (v = h_rvma(h))) {
			op->addr = v->start + rn((v->end - v->start) / P) * P;
			op->len = (1 + rn((v->end - op->addr) / P + 3)) * P;
		} else {
			n = 1 + rn(64);
			op->addr = hp(h, rn(np - n));
			op->len = n * P;
		}
		if (op->addr + op->len > h->st.hi)
			op->len = h->st.hi - op->addr;
		if (rn(60) == 0)
			op->len = 0;
	} else if (k < 72) {
		op->kind = H_MPROTECT;
		op->prot = rprot() | (rn(30) ? 0 : PROT_GROWSDOWN);
		if (rn(3) && (v = h_rvma(h))) {
			op->addr = v->start + rn((v->end - v->start) / P) * P;
			op->len = (1 + rn((v->end - op->addr) / P + 6)) * P;
		} else {
			n = 1 + rn(32);
			op->addr = hp(h, rn(np - n));
			op->len = n * P;
		}
		if (op->addr + op->len > h->st.hi)
			op->len = h->st.hi - op->addr;
		if (!(h->st.feat & FEAT_ACCOUNT_DROP) && !(op->prot & PROT_WRITE) &&
		    h_has_anon_w(h, op->addr, op->addr + op->len))
			op->prot |= PROT_WRITE;
		if (rn(80) == 0)
			op->prot |= 0x10;	/* -EINVAL */
	} else {
		u64 a, ol, nl, na;
		u32 fl;

		v = h_rvma(h);
		if (!v) {
			h_gen_fixed(h, op);
			return;
		}
		a = v->start + rn((v->end - v->start) / P) * P;
		ol = (1 + rn((v->end - a) / P)) * P;
		nl = ol;
		op->kind = H_MREMAP;
		op->addr = a;
		switch (rn(7)) {
		case 0:	/* shrink in place */
			nl = ol > P ? ol - (1 + rn(ol / P - 1)) * P : ol;
			if (rn(3) == 0)
				ol += rn(8) * P;	/* tail beyond the vma */
			fl = 0;
			break;
		case 1:	/* grow, in place or -ENOMEM */
		case 2:	/* grow, may move (then undone) */
			ol = v->end - a;
			if (rn(4) == 0)
				ol -= rn(ol / P) * P;
			nl = ol + (1 + rn(8)) * P;
			fl = k % 2 ? MREMAP_MAYMOVE : 0;
			if (!(h->st.feat & FEAT_EXPAND_MERGE) &&
			    vma_find_intersection(&h->f->s, a + ol, a + nl + P))
				fl = 0, nl = ol;
			if (fl) {
				op->normalize = true;
				op->expect = a;
				op->nlen = nl;
			}
			break;
		case 3:	/* move, several vmas (multi) or one */
			fl = MREMAP_MAYMOVE | MREMAP_FIXED;
			if (h->st.feat & FEAT_MULTI)
				ol = nl = (1 + rn(24)) * P;
			break;
		case 4:	/* move and resize */
			fl = MREMAP_MAYMOVE | MREMAP_FIXED;
			nl = (1 + rn(12)) * P;
			if (!modern && nl < ol)
				ol = nl;
			break;
		case 5:	/* DONTUNMAP, fixed or hinted */
			fl = MREMAP_MAYMOVE | MREMAP_DONTUNMAP | (rn(2) ? MREMAP_FIXED : 0);
			break;
		default: /* old_len 0: a second mapping of a shared object */
			fl = MREMAP_MAYMOVE | MREMAP_FIXED;
			ol = 0;
			nl = (1 + rn(4)) * P;
			/* (private: -EINVAL since Linux 6.6; before, a new
			 * mapping) */
			if (!(v->flags & VMA_F_SHARED) && !modern)
				fl = 0, ol = nl;
			break;
		}
		if (a + (ol > nl ? ol : nl) > h->st.hi)
			ol = nl = P;
		na = hp(h, rn(np - nl / P));
		if (fl & (MREMAP_FIXED | MREMAP_DONTUNMAP)) {
			/* keep clear of the old range */
			if (na < a + ol && na + nl > a)
				na = a >= h->st.lo + nl ? a - nl : a + (ol > nl ? ol : nl);
			if (na + nl > h->st.hi || na < h->st.lo) {
				fl = 0;
				nl = ol;
			}
		}
		if ((fl & MREMAP_DONTUNMAP) && !(fl & MREMAP_FIXED)) {
			op->normalize = true;
			op->expect = na;
			op->nlen = nl;
		}
		if (!(h->st.feat & FEAT_MULTI) && (fl & MREMAP_FIXED) && ol == nl &&
		    a + ol > v->end)
			ol = nl = v->end - a;
		if (rn(60) == 0)
			fl |= 8;	/* -EINVAL */
		op->old_len = ol;
		op->new_len = nl;
		op->rflags = fl;
		op->new_addr = na;
	}
}

/* The next call for the "topdown" comparison. Returns false to skip it. */
static bool h_gen_topdown(struct hostcmp *h, struct hop *op)
{
	u64 k = rn(100), n, pg;
	const struct vma *v;

	memset(op, 0, sizeof(*op));
	if (vma_count(&h->f->s) > 48)
		k = 45;		/* keep R from filling up */
	if (k < 40) {
		op->kind = H_MMAP;
		n = rn(12) ? 1 + rn(32) : 512 * (1 + rn(2));
		op->len = n * P;
		op->prot = rprot();
		op->flags = h_mapflags(h, &op->fid, &op->off, true);
		if (rn(4) == 0) {
			pg = rn(h->np - n);
			op->addr = hp(h, pg);
		}
	} else if (k < 60) {
		op->kind = H_MUNMAP;
		if (!(v = h_rvma(h)))
			return false;
		op->addr = v->start + (rn(2) ? 0 : rn((v->end - v->start) / P) * P);
		op->len = rn(2) ? v->end - op->addr : (1 + rn((v->end - op->addr) / P + 2)) * P;
		if (op->addr + op->len > h->st.hi)
			op->len = h->st.hi - op->addr;
	} else if (k < 70) {
		op->kind = H_MPROTECT;
		if (!(v = h_rvma(h)))
			return false;
		op->prot = rprot();
		op->addr = v->start + rn((v->end - v->start) / P) * P;
		op->len = (1 + rn((v->end - op->addr) / P)) * P;
		if (!(h->st.feat & FEAT_ACCOUNT_DROP) && !(op->prot & PROT_WRITE) &&
		    h_has_anon_w(h, op->addr, op->addr + op->len))
			op->prot |= PROT_WRITE;
	} else {
		u64 a;

		if (!(v = h_rvma(h)))
			return false;
		op->kind = H_MREMAP;
		a = v->start + rn((v->end - v->start) / P) * P;
		op->addr = a;
		op->old_len = v->end - a;
		op->new_len = op->old_len + (rn(8) ? 1 + rn(16) : 512) * P;
		op->rflags = MREMAP_MAYMOVE;
		if (rn(4) == 0) {
			/* move to an address chosen in R */
			op->new_len = op->old_len;
			op->new_addr = hp(h, rn(h->np - op->new_len / P));
			op->rflags |= MREMAP_FIXED;
			if (op->new_addr < a + op->old_len && op->new_addr + op->new_len > a)
				return false;
		}
		if (!(h->st.feat & FEAT_EXPAND_MERGE) &&
		    vma_find_intersection(&h->f->s, v->end, a + op->new_len + P))
			return false;
	}
	/* Linux pads a 2 MiB-multiple anonymous request by 2 MiB; if that
	 * does not fit in R it goes below R, which we cannot follow. */
	n = op->kind == H_MMAP ? op->len : op->new_len;
	if (h->st.feat & FEAT_THP && n % (2 * MIB) == 0 &&
	    vma_get_unmapped_area(&h->f->s, 0, n + 2 * MIB, 0, 0) < 0)
		return false;
	return true;
}

static void host_compare(int mode, u64 npages, int steps, u64 seed)
{
	struct hostcmp h = { 0 };
	struct vma_space_params p = { 0 };
	char *msg = malloc(65536);
	bool ok = true;
	FILE *fs;

	assert_non_null(msg);
	rng_state = seed = test_seed(seed);
	if (!h_start(&h, mode, npages)) {
		free(msg);
		print_message("# host comparison (%s) skipped: no fork/pipe\n",
			      mode ? "topdown" : "fixed");
		skip();
	}
	if (!h.st.ok) {
		h_stop(&h);
		free(msg);
		print_message("# host comparison (%s) skipped: %s\n", mode ? "topdown" : "fixed",
			      h.st.why);
		skip();
	}
	h.shmem_ok = true;
	fs = fopen("/sys/kernel/mm/transparent_hugepage/shmem_enabled", "r");
	if (fs) {
		char line[128] = "";

		h.shmem_ok = fgets(line, sizeof(line), fs) &&
			     (strstr(line, "[never]") || strstr(line, "[deny]"));
		fclose(fs);
	}
	/* With vm.overcommit_memory = 2 Linux ignores MAP_NORESERVE. */
	h.noreserve_ok = true;
	fs = fopen("/proc/sys/vm/overcommit_memory", "r");
	if (fs) {
		h.noreserve_ok = fgetc(fs) != '2';
		fclose(fs);
	}
	p.stack_guard_gap = VMA_DEFAULT_STACK_GUARD_GAP;
	if (mode == 0) {
		/* R, its guard pages, and 1 GiB above for placements that
		 * Linux makes elsewhere */
		p.lo = h.st.lo - P;
		p.hi = h.st.hi + 1024 * MIB;
	} else {
		/* Linux's top-down search goes on below R when R is full, so
		 * no bottom-up fallback here: such calls come back -ENOMEM and
		 * are not sent. */
		p.lo = h.st.lo;
		p.hi = h.st.hi;
		p.legacy_base = h.st.hi;
		p.thp_align = h.st.feat & FEAT_THP;
	}
	h.f = fx_new_params(&p);
	h.trial = fx_new_params(&p);
	if (mode == 0) {
		assert_int_equal(do_mmap(h.f, p.lo, P, 0, SHANON | FIXED), (s64)p.lo);
		assert_int_equal(do_mmap(h.f, h.st.hi, P, 0, SHANON | FIXED), (s64)h.st.hi);
	}
	for (int step = 0; step < steps && ok; step++) {
		struct hop op;

		if (mode == 0) {
			h_gen_fixed(&h, &op);
		} else if (!h_gen_topdown(&h, &op)) {
			h.skipped++;
			continue;
		}
		if (mode == 1 && (op.kind == H_MMAP || op.kind == H_MREMAP)) {
			/* Calls we cannot place in R are not sent (Linux would
			 * place them below R): try them on a copy first. */
			vma_space_clear(&h.trial->s);
			assert_int_equal(vma_space_copy(&h.trial->s, &h.f->s), 0);
			if (l_exec(h.trial, &op) == -ENOMEM) {
				h.skipped++;
				continue;
			}
		}
		ok = h_step(&h, &op, msg, 65536);
		if (ok)
			fx_ok(h.f);
		if (!ok)
			snprintf(msg + strlen(msg), 65536 - strlen(msg),
				 "\n  (step %d, seed %#llx)", step, (unsigned long long)seed);
	}
	h_stop(&h);
	fx_done(h.trial);
	if (!ok) {
		/* (cmocka truncates long messages) */
		fprintf(stderr, "host comparison (%s): %s\n", mode ? "topdown" : "fixed", msg);
		fx_done(h.f);
		free(msg);
		fail_msg("host comparison (%s) failed", mode ? "topdown" : "fixed");
	}
	print_message("# host comparison (%s): %d calls compared (%d undone as placed "
		      "elsewhere, %d errors), %d skipped; features %#x\n",
		      mode ? "topdown" : "fixed", h.sent, h.elsewhere, h.errors, h.skipped,
		      h.st.feat);
	fx_done(h.f);
	free(msg);
}

static void test_host_fixed(void **state)
{
	host_compare(0, 2048, 3000, 0xf1f0f1f0f1f0f1f0ULL);
}

static void test_host_topdown(void **state)
{
	host_compare(1, 16384 + 5, 1500, 0x7d7d7d7d7d7d7d7dULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_tree_lookup_iteration),
		cmocka_unit_test(test_mmap_fixed_and_merge),
		cmocka_unit_test(test_mmap_file_merge),
		cmocka_unit_test(test_mmap_fixed_replaces),
		cmocka_unit_test(test_mmap_errors),
		cmocka_unit_test(test_placement_topdown),
		cmocka_unit_test(test_placement_guard_gap),
		cmocka_unit_test(test_placement_bottomup_guard),
		cmocka_unit_test(test_placement_thp),
		cmocka_unit_test(test_placement_32bit),
		cmocka_unit_test(test_munmap),
		cmocka_unit_test(test_mprotect),
		cmocka_unit_test(test_mremap_in_place),
		cmocka_unit_test(test_mremap_move),
		cmocka_unit_test(test_mremap_multi_dontunmap_dup),
		cmocka_unit_test(test_brk),
		cmocka_unit_test(test_expand_stack),
		cmocka_unit_test(test_max_vmas),
		cmocka_unit_test(test_alloc_failure),
		cmocka_unit_test(test_copy_and_clear),
		cmocka_unit_test(test_check_detects_corruption),
		cmocka_unit_test(test_format_maps),
		cmocka_unit_test(test_random_model),
		cmocka_unit_test(test_host_fixed),
		cmocka_unit_test(test_host_topdown),
	};

	/* VMA_TEST_FILTER=test_name (a glob) runs only matching cases. */
	if (getenv("VMA_TEST_FILTER"))
		cmocka_set_test_filter(getenv("VMA_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
