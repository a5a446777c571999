/* Host tests of the owner's page map (managers/memory/pgmap.c): insert,
 * lookup, remove, range removal both ways (per page and full scan), moves
 * with overlap and collisions, growth and shrinking, allocation failure,
 * and a random sequence checked against a simple model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lego/pgmap.h>
#include <lego/errno.h>

struct ctx {
	long live;		/* allocations outstanding */
	long fail_after;	/* allocations allowed before failing; -1: never */
	u64 freed_pages;	/* fn callbacks */
	u64 sum;		/* sum of addresses seen by fn */
};

static void *t_alloc(void *c, size_t size)
{
	struct ctx *x = c;

	if (x->fail_after == 0)
		return NULL;
	if (x->fail_after > 0)
		x->fail_after--;
	x->live++;
	return malloc(size);
}

static void t_free(void *c, void *p, size_t size)
{
	struct ctx *x = c;

	x->live--;
	free(p);
}

static void t_fn(void *c, u64 mm, u64 addr, void *page)
{
	struct ctx *x = c;

	x->freed_pages++;
	x->sum += addr;
}

static void setup(struct pgmap *m, struct ctx *x)
{
	memset(x, 0, sizeof(*x));
	x->fail_after = -1;
	struct pgmap_ops ops = { t_alloc, t_free, x };
	assert_int_equal(pgmap_init(m, &ops), 0);
}

#define PG(n) ((u64)(n) * 4096)
#define VAL(n) ((void *)(uintptr_t)(0x1000 + (n)))

static void test_basic(void **st)
{
	struct pgmap m;
	struct ctx x;

	setup(&m, &x);
	assert_null(pgmap_lookup(&m, 1, PG(5)));
	assert_int_equal(pgmap_insert(&m, 1, PG(5), VAL(5)), 0);
	assert_int_equal(pgmap_insert(&m, 2, PG(5), VAL(6)), 0);
	assert_int_equal(pgmap_insert(&m, 1, PG(5), VAL(7)), -EEXIST);
	assert_int_equal(pgmap_insert(&m, 1, PG(5) + 1, VAL(7)), -EINVAL);
	assert_int_equal(pgmap_insert(&m, 1, PG(6), NULL), -EINVAL);
	assert_ptr_equal(pgmap_lookup(&m, 1, PG(5)), VAL(5));
	assert_ptr_equal(pgmap_lookup(&m, 1, PG(5) + 100), VAL(5));
	assert_ptr_equal(pgmap_lookup(&m, 2, PG(5)), VAL(6));
	assert_null(pgmap_lookup(&m, 3, PG(5)));
	assert_int_equal(pgmap_count(&m), 2);
	assert_ptr_equal(pgmap_remove(&m, 1, PG(5)), VAL(5));
	assert_null(pgmap_remove(&m, 1, PG(5)));
	assert_int_equal(pgmap_count(&m), 1);
	assert_int_equal(pgmap_check(&m), 0);
	pgmap_destroy(&m, t_fn, &x);
	assert_int_equal(x.freed_pages, 1);
	assert_int_equal(x.live, 0);
}

static void test_init_bad(void **st)
{
	struct pgmap m;
	struct pgmap_ops ops = { NULL, t_free, NULL };

	assert_int_equal(pgmap_init(&m, &ops), -EINVAL);
	assert_int_equal(pgmap_insert(&m, 1, 0, VAL(1)), -EINVAL);
	assert_null(pgmap_lookup(&m, 1, 0));
	pgmap_destroy(&m, NULL, NULL);
}

static void test_grow_shrink(void **st)
{
	struct pgmap m;
	struct ctx x;

	setup(&m, &x);
	u32 b0 = m.bits;
	for (int i = 0; i < 5000; i++)
		assert_int_equal(pgmap_insert(&m, 7, PG(i), VAL(i)), 0);
	assert_true(m.bits > b0);
	assert_int_equal(pgmap_check(&m), 0);
	for (int i = 0; i < 5000; i++)
		assert_ptr_equal(pgmap_lookup(&m, 7, PG(i)), VAL(i));
	/* Full-scan path: a huge range. */
	assert_int_equal(pgmap_remove_range(&m, 7, 0, 1ULL << 46, t_fn, &x), 5000);
	assert_int_equal(x.freed_pages, 5000);
	assert_int_equal(pgmap_count(&m), 0);
	assert_int_equal(m.bits, PGMAP_MIN_BITS);
	assert_int_equal(pgmap_check(&m), 0);
	pgmap_destroy(&m, NULL, NULL);
	assert_int_equal(x.live, 0);
}

static void test_range(void **st)
{
	struct pgmap m;
	struct ctx x;

	setup(&m, &x);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(pgmap_insert(&m, 1, PG(i), VAL(i)), 0);
		assert_int_equal(pgmap_insert(&m, 2, PG(i), VAL(i)), 0);
	}
	/* Per-page path: small range, other mm untouched. */
	assert_int_equal(pgmap_remove_range(&m, 1, PG(10), PG(20), t_fn, &x), 10);
	assert_null(pgmap_lookup(&m, 1, PG(10)));
	assert_null(pgmap_lookup(&m, 1, PG(19)));
	assert_non_null(pgmap_lookup(&m, 1, PG(20)));
	assert_non_null(pgmap_lookup(&m, 1, PG(9)));
	assert_non_null(pgmap_lookup(&m, 2, PG(15)));
	/* Full-scan path, other mm untouched. */
	assert_int_equal(pgmap_remove_range(&m, 1, PG(50), 1ULL << 40, t_fn, &x), 50);
	assert_non_null(pgmap_lookup(&m, 2, PG(99)));
	assert_int_equal(pgmap_count(&m), 40 + 100);
	assert_int_equal(pgmap_remove_range(&m, 1, PG(5), PG(5), t_fn, &x), 0);
	assert_int_equal(pgmap_check(&m), 0);
	pgmap_destroy(&m, NULL, NULL);
	assert_int_equal(x.live, 0);
}

static void test_move(void **st)
{
	struct pgmap m;
	struct ctx x;

	setup(&m, &x);
	for (int i = 0; i < 10; i++)
		assert_int_equal(pgmap_insert(&m, 1, PG(i), VAL(i)), 0);
	/* Overlapping move up by 3 pages. */
	assert_int_equal(pgmap_move_range(&m, 1, PG(0), PG(3), PG(10), t_fn, &x), 10);
	assert_int_equal(x.freed_pages, 0);
	for (int i = 0; i < 3; i++)
		assert_null(pgmap_lookup(&m, 1, PG(i)));
	for (int i = 0; i < 10; i++)
		assert_ptr_equal(pgmap_lookup(&m, 1, PG(i + 3)), VAL(i));
	/* A destination already holding a page: that page is dropped. */
	assert_int_equal(pgmap_insert(&m, 1, PG(100), VAL(100)), 0);
	assert_int_equal(pgmap_move_range(&m, 1, PG(3), PG(100), PG(1), t_fn, &x), 1);
	assert_int_equal(x.freed_pages, 1);
	assert_int_equal(x.sum, PG(100));
	assert_ptr_equal(pgmap_lookup(&m, 1, PG(100)), VAL(0));
	assert_int_equal(pgmap_count(&m), 10);
	/* Overlapping move down. */
	assert_int_equal(pgmap_move_range(&m, 1, PG(4), PG(2), PG(9), t_fn, &x), 9);
	for (int i = 1; i < 10; i++)
		assert_ptr_equal(pgmap_lookup(&m, 1, PG(i + 1)), VAL(i));
	assert_int_equal(pgmap_move_range(&m, 1, PG(4), PG(4), PG(9), t_fn, &x), 0);
	assert_int_equal(pgmap_check(&m), 0);
	pgmap_destroy(&m, NULL, NULL);
	assert_int_equal(x.live, 0);
}

static void count_fn(void *c, u64 mm, u64 addr, void *page)
{
	(*(u64 *)c)++;
}

static void test_for_each(void **st)
{
	struct pgmap m;
	struct ctx x;
	u64 n = 0;

	setup(&m, &x);
	for (int i = 0; i < 30; i++)
		assert_int_equal(pgmap_insert(&m, (u64)(i % 3), PG(i), VAL(i)), 0);
	assert_int_equal(pgmap_for_each(&m, 1, count_fn, &n), 10);
	assert_int_equal(n, 10);
	assert_int_equal(pgmap_for_each(&m, ~0ULL, count_fn, &n), 30);
	pgmap_destroy(&m, NULL, NULL);
	assert_int_equal(x.live, 0);
}

static void test_enomem(void **st)
{
	struct pgmap m;
	struct ctx x;

	setup(&m, &x);
	x.fail_after = 0;
	assert_int_equal(pgmap_insert(&m, 1, 0, VAL(1)), -ENOMEM);
	assert_int_equal(pgmap_count(&m), 0);
	/* Bucket growth failing only lengthens chains. */
	x.fail_after = -1;
	for (int i = 0; i < 32; i++)
		assert_int_equal(pgmap_insert(&m, 1, PG(i), VAL(i)), 0);
	u32 bits = m.bits;
	x.fail_after = 1;	/* the entry succeeds, the next resize fails */
	assert_int_equal(pgmap_insert(&m, 1, PG(32), VAL(32)), 0);
	assert_int_equal(m.bits, bits);
	x.fail_after = -1;
	assert_int_equal(pgmap_check(&m), 0);
	pgmap_destroy(&m, NULL, NULL);
	assert_int_equal(x.live, 0);

	/* init failing to get buckets is recoverable. */
	memset(&x, 0, sizeof(x));
	x.fail_after = 0;
	struct pgmap_ops ops = { t_alloc, t_free, &x };
	assert_int_equal(pgmap_init(&m, &ops), -ENOMEM);
	x.fail_after = -1;
	assert_int_equal(pgmap_insert(&m, 1, 0, VAL(1)), 0);
	pgmap_destroy(&m, NULL, NULL);
	assert_int_equal(x.live, 0);
}

/* Random operations against a model array over 2 mms x 512 pages. */
static void test_random(void **st)
{
	enum { NP = 512 };
	static uintptr_t model[2][NP];
	struct pgmap m;
	struct ctx x;
	unsigned seed = 12345;

	memset(model, 0, sizeof(model));
	setup(&m, &x);
	for (int it = 0; it < 20000; it++) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = seed >> 8;
		int mm = r & 1, p = (r >> 1) % NP, op = (r >> 10) % 16;
		if (op < 8) {
			int err = pgmap_insert(&m, mm, PG(p), VAL(it));
			assert_int_equal(err, model[mm][p] ? -EEXIST : 0);
			if (!err)
				model[mm][p] = 0x1000 + it;
		} else if (op < 12) {
			void *v = pgmap_remove(&m, mm, PG(p));
			assert_ptr_equal(v, (void *)model[mm][p]);
			model[mm][p] = 0;
		} else if (op < 14) {
			int q = p + (int)((r >> 14) % 40);
			if (q > NP)
				q = NP;
			u64 want = 0;
			for (int i = p; i < q; i++)
				if (model[mm][i])
					want++, model[mm][i] = 0;
			assert_int_equal(pgmap_remove_range(&m, mm, PG(p), PG(q), NULL, NULL), want);
		} else {
			int len = (int)((r >> 14) % 20) + 1;
			int to = (int)((r >> 20) % NP);
			if (p + len > NP || to + len > NP)
				continue;
			uintptr_t tmp[NP];
			memcpy(tmp, model[mm], sizeof(tmp));
			for (int i = 0; i < len; i++)
				if (tmp[p + i])
					model[mm][to + i] = 0;
			for (int i = 0; i < len; i++)
				model[mm][p + i] = 0;
			for (int i = 0; i < len; i++)
				if (tmp[p + i])
					model[mm][to + i] = tmp[p + i];
			pgmap_move_range(&m, mm, PG(p), PG(to), PG(len), NULL, NULL);
		}
		if (it % 997 == 0) {
			assert_int_equal(pgmap_check(&m), 0);
			u64 n = 0;
			for (int a = 0; a < 2; a++)
				for (int i = 0; i < NP; i++) {
					assert_ptr_equal(pgmap_lookup(&m, a, PG(i)), (void *)model[a][i]);
					n += model[a][i] != 0;
				}
			assert_int_equal(pgmap_count(&m), n);
		}
	}
	pgmap_destroy(&m, NULL, NULL);
	assert_int_equal(x.live, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_init_bad),
		cmocka_unit_test(test_grow_shrink),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_move),
		cmocka_unit_test(test_for_each),
		cmocka_unit_test(test_enomem),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
