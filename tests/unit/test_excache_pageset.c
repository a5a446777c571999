/* Host tests of the ExCache's set of remotely existing p-local pages
 * (managers/processor/excache_pageset.c): add/has/del, growth through
 * tombstones, range removal both ways, copy, allocation failure, and a
 * random sequence checked against a bitmap model. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lego/excache_pageset.h>
#include <lego/errno.h>

struct ctx {
	long live;		/* allocations outstanding */
	long fail_after;	/* allocations allowed before failing; -1: never */
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

	(void)size;
	x->live--;
	free(p);
}

static void setup(struct excache_pageset *s, struct ctx *x)
{
	struct excache_pageset_ops ops = { t_alloc, t_free, x };

	memset(x, 0, sizeof(*x));
	x->fail_after = -1;
	excache_pageset_init(s, &ops);
}

static void test_basic(void **state)
{
	struct excache_pageset s;
	struct ctx x;

	(void)state;
	setup(&s, &x);
	assert_false(excache_pageset_has(&s, 0));
	assert_false(excache_pageset_del(&s, 0));
	assert_int_equal(excache_pageset_add(&s, 0), 0);
	assert_int_equal(excache_pageset_add(&s, 0), 0);
	assert_int_equal(excache_pageset_count(&s), 1);
	assert_true(excache_pageset_has(&s, 0));
	assert_false(excache_pageset_has(&s, 1));
	assert_int_equal(excache_pageset_add(&s, (1ULL << 62) - 1), 0);
	assert_int_equal(excache_pageset_add(&s, 1ULL << 62), -EINVAL);
	assert_false(excache_pageset_has(&s, 1ULL << 62));
	assert_true(excache_pageset_del(&s, 0));
	assert_false(excache_pageset_has(&s, 0));
	assert_int_equal(excache_pageset_count(&s), 1);
	excache_pageset_clear(&s);
	assert_int_equal(x.live, 0);
	assert_int_equal(excache_pageset_count(&s), 0);
}

/* Adding and deleting forever must not fill the table with tombstones. */
static void test_churn(void **state)
{
	struct excache_pageset s;
	struct ctx x;

	(void)state;
	setup(&s, &x);
	for (u64 i = 0; i < 100000; i++) {
		assert_int_equal(excache_pageset_add(&s, i), 0);
		if (i >= 5)
			assert_true(excache_pageset_del(&s, i - 5));
	}
	assert_int_equal(excache_pageset_count(&s), 5);
	assert_true(s.cap <= 64);
	for (u64 i = 100000 - 5; i < 100000; i++)
		assert_true(excache_pageset_has(&s, i));
	excache_pageset_clear(&s);
	assert_int_equal(x.live, 0);
}

static void test_grow_and_range(void **state)
{
	struct excache_pageset s;
	struct ctx x;

	(void)state;
	setup(&s, &x);
	for (u64 i = 0; i < 5000; i++)
		assert_int_equal(excache_pageset_add(&s, 0x7f0000000ULL + i * 3), 0);
	assert_int_equal(excache_pageset_count(&s), 5000);
	/* Small range: probed per page. */
	assert_int_equal(excache_pageset_del_range(&s, 0x7f0000000ULL, 0x7f0000000ULL + 30), 10);
	/* Large range: table scan. */
	assert_int_equal(excache_pageset_del_range(&s, 0x7f0000000ULL + 30,
						   0x7f0000000ULL + 3000 * 3), 2990);
	assert_int_equal(excache_pageset_count(&s), 2000);
	assert_false(excache_pageset_has(&s, 0x7f0000000ULL + 2999 * 3));
	assert_true(excache_pageset_has(&s, 0x7f0000000ULL + 3000 * 3));
	assert_int_equal(excache_pageset_del_range(&s, 5, 5), 0);
	assert_int_equal(excache_pageset_del_range(&s, 0, ~0ULL), 2000);
	assert_int_equal(excache_pageset_count(&s), 0);
	excache_pageset_clear(&s);
	assert_int_equal(x.live, 0);
}

static void test_copy_and_enomem(void **state)
{
	struct excache_pageset a, b;
	struct ctx x, y;

	(void)state;
	setup(&a, &x);
	setup(&b, &y);
	for (u64 i = 0; i < 100; i++)
		assert_int_equal(excache_pageset_add(&a, i * 7), 0);
	assert_int_equal(excache_pageset_add(&b, 12345), 0);
	assert_int_equal(excache_pageset_copy(&b, &a), 0);
	assert_int_equal(excache_pageset_count(&b), 100);
	assert_false(excache_pageset_has(&b, 12345));
	for (u64 i = 0; i < 100; i++)
		assert_true(excache_pageset_has(&b, i * 7));
	/* A failed copy leaves dst alone. */
	y.fail_after = 0;
	assert_int_equal(excache_pageset_copy(&b, &a), -ENOMEM);
	assert_int_equal(excache_pageset_count(&b), 100);
	/* A failed growth leaves the set alone. */
	struct excache_pageset c;
	struct ctx z;
	setup(&c, &z);
	z.fail_after = 1;
	u64 n = 0;
	int r;
	while ((r = excache_pageset_add(&c, n)) == 0)
		n++;
	assert_int_equal(r, -ENOMEM);
	assert_int_equal(excache_pageset_count(&c), n);
	for (u64 i = 0; i < n; i++)
		assert_true(excache_pageset_has(&c, i));
	assert_false(excache_pageset_has(&c, n));
	/* Copy of an empty set. */
	struct excache_pageset e;
	struct ctx w;
	setup(&e, &w);
	assert_int_equal(excache_pageset_copy(&b, &e), 0);
	assert_int_equal(excache_pageset_count(&b), 0);
	excache_pageset_clear(&a);
	excache_pageset_clear(&b);
	excache_pageset_clear(&c);
	assert_int_equal(x.live, 0);
	assert_int_equal(y.live, 0);
	assert_int_equal(z.live, 0);
}

static void test_random(void **state)
{
	enum { N = 4096 };
	static unsigned char model[N];
	struct excache_pageset s;
	struct ctx x;
	u64 seed = 42;
	u32 count = 0;

	(void)state;
	memset(model, 0, sizeof(model));
	setup(&s, &x);
	for (int step = 0; step < 200000; step++) {
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		u64 v = (seed >> 33) % N;
		u32 op = (seed >> 20) % 16;
		if (op < 7) {
			assert_int_equal(excache_pageset_add(&s, v), 0);
			count += !model[v];
			model[v] = 1;
		} else if (op < 13) {
			assert_int_equal(excache_pageset_del(&s, v), model[v] != 0);
			count -= model[v];
			model[v] = 0;
		} else if (op < 15) {
			assert_int_equal(excache_pageset_has(&s, v), model[v] != 0);
		} else {
			u64 hi = v + (seed >> 8) % 64;
			u64 want = 0;
			for (u64 i = v; i < hi && i < N; i++) {
				want += model[i];
				model[i] = 0;
			}
			assert_int_equal(excache_pageset_del_range(&s, v, hi), want);
			count -= want;
		}
		assert_int_equal(excache_pageset_count(&s), count);
	}
	for (u64 i = 0; i < N; i++)
		assert_int_equal(excache_pageset_has(&s, i), model[i] != 0);
	excache_pageset_clear(&s);
	assert_int_equal(x.live, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_grow_and_range),
		cmocka_unit_test(test_copy_and_enomem),
		cmocka_unit_test(test_random),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
