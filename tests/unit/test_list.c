/* Unit tests for include/lego/list.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <lego/list.h>

struct item {
	int val;
	struct list_head link;
};

/* Asserts that the list holds exactly vals[0..n) in order, and that the
 * prev links mirror the next links. */
static void check_list(struct list_head *h, const int *vals, size_t n)
{
	struct list_head *pos;
	size_t i = 0;

	assert_int_equal(list_count(h), n);
	assert_int_equal(list_empty(h), n == 0);
	list_for_each(pos, h) {
		assert_true(i < n);
		assert_int_equal(list_entry(pos, struct item, link)->val, vals[i]);
		assert_ptr_equal(pos->next->prev, pos);
		assert_ptr_equal(pos->prev->next, pos);
		i++;
	}
	assert_int_equal(i, n);
	/* Walk backwards too. */
	for (pos = h->prev; pos != h; pos = pos->prev) {
		assert_true(i > 0);
		i--;
		assert_int_equal(list_entry(pos, struct item, link)->val, vals[i]);
	}
	assert_int_equal(i, 0);
}

static void test_empty(void **state)
{
	LIST_HEAD(h);
	struct list_head h2;

	INIT_LIST_HEAD(&h2);
	assert_true(list_empty(&h));
	assert_true(list_empty(&h2));
	assert_ptr_equal(h.next, &h);
	assert_ptr_equal(h.prev, &h);
	assert_int_equal(list_count(&h), 0);
	assert_null(list_first_entry_or_null(&h, struct item, link));
}

static void test_add_is_stack_order(void **state)
{
	LIST_HEAD(h);
	struct item it[3] = { { .val = 1 }, { .val = 2 }, { .val = 3 } };
	const int want[] = { 3, 2, 1 };

	for (int i = 0; i < 3; i++)
		list_add(&it[i].link, &h);
	check_list(&h, want, 3);
	assert_ptr_equal(list_first_entry(&h, struct item, link), &it[2]);
	assert_ptr_equal(list_last_entry(&h, struct item, link), &it[0]);
	assert_ptr_equal(list_first_entry_or_null(&h, struct item, link), &it[2]);
}

static void test_add_tail_is_queue_order(void **state)
{
	LIST_HEAD(h);
	struct item it[3] = { { .val = 1 }, { .val = 2 }, { .val = 3 } };
	const int want[] = { 1, 2, 3 };

	for (int i = 0; i < 3; i++)
		list_add_tail(&it[i].link, &h);
	check_list(&h, want, 3);
	assert_ptr_equal(list_first_entry(&h, struct item, link), &it[0]);
	assert_ptr_equal(list_last_entry(&h, struct item, link), &it[2]);
}

static void test_del(void **state)
{
	LIST_HEAD(h);
	struct item it[4] = { { .val = 1 }, { .val = 2 }, { .val = 3 }, { .val = 4 } };

	for (int i = 0; i < 4; i++)
		list_add_tail(&it[i].link, &h);

	list_del(&it[1].link); /* middle */
	check_list(&h, (const int[]){ 1, 3, 4 }, 3);
	/* Deleted entries are poisoned, not left pointing into the list. */
	assert_ptr_equal(it[1].link.next, (void *)0xdead000000000100ULL);
	assert_ptr_equal(it[1].link.prev, (void *)0xdead000000000200ULL);

	list_del(&it[0].link); /* first */
	check_list(&h, (const int[]){ 3, 4 }, 2);
	list_del(&it[3].link); /* last */
	check_list(&h, (const int[]){ 3 }, 1);
	list_del(&it[2].link); /* only */
	check_list(&h, NULL, 0);
}

static void test_del_init(void **state)
{
	LIST_HEAD(h);
	struct item a = { .val = 1 }, b = { .val = 2 };

	list_add_tail(&a.link, &h);
	list_add_tail(&b.link, &h);
	list_del_init(&a.link);
	assert_true(list_empty(&a.link));
	check_list(&h, (const int[]){ 2 }, 1);
	/* A self-linked entry can be deleted again harmlessly. */
	list_del_init(&a.link);
	assert_true(list_empty(&a.link));
	check_list(&h, (const int[]){ 2 }, 1);
	/* and re-added */
	list_add(&a.link, &h);
	check_list(&h, (const int[]){ 1, 2 }, 2);
}

static void test_move_tail(void **state)
{
	LIST_HEAD(h);
	LIST_HEAD(other);
	struct item it[3] = { { .val = 1 }, { .val = 2 }, { .val = 3 } };

	for (int i = 0; i < 3; i++)
		list_add_tail(&it[i].link, &h);
	list_move_tail(&it[0].link, &h); /* rotate within a list */
	check_list(&h, (const int[]){ 2, 3, 1 }, 3);
	list_move_tail(&it[2].link, &other); /* between lists */
	check_list(&h, (const int[]){ 2, 1 }, 2);
	check_list(&other, (const int[]){ 3 }, 1);
	list_move_tail(&it[0].link, &h); /* already last */
	check_list(&h, (const int[]){ 2, 1 }, 2);
	list_move_tail(&it[1].link, &h); /* first to last */
	check_list(&h, (const int[]){ 1, 2 }, 2);
}

static void test_for_each_entry(void **state)
{
	LIST_HEAD(h);
	struct item it[5], *pos;
	int sum = 0, n = 0;

	for (int i = 0; i < 5; i++) {
		it[i].val = i * 10;
		list_add_tail(&it[i].link, &h);
	}
	list_for_each_entry(pos, &h, link) {
		assert_int_equal(pos->val, n * 10);
		sum += pos->val;
		n++;
	}
	assert_int_equal(n, 5);
	assert_int_equal(sum, 100);

	/* Nothing is visited on an empty list. */
	LIST_HEAD(empty);
	n = 0;
	list_for_each_entry(pos, &empty, link)
		n++;
	assert_int_equal(n, 0);
}

static void test_for_each_entry_safe_delete(void **state)
{
	LIST_HEAD(h);
	struct item it[6], *pos, *tmp;

	for (int i = 0; i < 6; i++) {
		it[i].val = i;
		list_add_tail(&it[i].link, &h);
	}
	/* Deleting the current entry must not derail the walk. */
	list_for_each_entry_safe(pos, tmp, &h, link)
		if (pos->val % 2 == 0)
			list_del(&pos->link);
	check_list(&h, (const int[]){ 1, 3, 5 }, 3);

	list_for_each_entry_safe(pos, tmp, &h, link)
		list_del_init(&pos->link);
	check_list(&h, NULL, 0);
}

static void test_container_of(void **state)
{
	struct item it = { .val = 42 };

	assert_ptr_equal(list_entry(&it.link, struct item, link), &it);
	assert_ptr_equal(container_of(&it.link, struct item, link), &it);
}

/* Random operations mirrored on an array model. */
#define MODEL_N 64

static void test_random_against_model(void **state)
{
	LIST_HEAD(h);
	struct item it[MODEL_N];
	bool on[MODEL_N] = { false };
	int model[MODEL_N];
	size_t n = 0;

	srand(12345);
	for (int i = 0; i < MODEL_N; i++)
		it[i].val = i;

	for (int step = 0; step < 20000; step++) {
		int k = rand() % MODEL_N;
		int op = rand() % 4;

		if (!on[k]) {
			if (op < 2) {
				list_add(&it[k].link, &h);
				memmove(&model[1], &model[0], n * sizeof(int));
				model[0] = k;
			} else {
				list_add_tail(&it[k].link, &h);
				model[n] = k;
			}
			n++;
			on[k] = true;
		} else {
			size_t j = 0;

			while (model[j] != k)
				j++;
			memmove(&model[j], &model[j + 1], (n - j - 1) * sizeof(int));
			if (op == 0) {
				list_move_tail(&it[k].link, &h);
				model[n - 1] = k;
			} else {
				if (op == 1)
					list_del(&it[k].link);
				else
					list_del_init(&it[k].link);
				n--;
				on[k] = false;
			}
		}
		if (step % 97 == 0)
			check_list(&h, model, n);
	}
	check_list(&h, model, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_add_is_stack_order),
		cmocka_unit_test(test_add_tail_is_queue_order),
		cmocka_unit_test(test_del),
		cmocka_unit_test(test_del_init),
		cmocka_unit_test(test_move_tail),
		cmocka_unit_test(test_for_each_entry),
		cmocka_unit_test(test_for_each_entry_safe_delete),
		cmocka_unit_test(test_container_of),
		cmocka_unit_test(test_random_against_model),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
