/* Unit tests for arch/x86/kernel/user_check.c: user address ranges, the
 * RFLAGS a return to ring 3 may carry, when SYSRET is safe, and the
 * exception-table lookup. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <lego/user_check.h>

#define F_CF (1ul << 0)
#define F_FIXED (1ul << 1)
#define F_TF (1ul << 8)
#define F_IF (1ul << 9)
#define F_DF (1ul << 10)
#define F_OF (1ul << 11)
#define F_IOPL (3ul << 12)
#define F_NT (1ul << 14)
#define F_RF (1ul << 16)
#define F_VM (1ul << 17)
#define F_AC (1ul << 18)
#define F_VIF (1ul << 19)
#define F_VIP (1ul << 20)
#define F_ID (1ul << 21)

static void test_range(void **state)
{
	(void)state;
	assert_true(user_range_ok(0, 0));
	assert_true(user_range_ok(0, USER_TOP));
	assert_true(user_range_ok(0x400000, 4096));
	assert_true(user_range_ok(USER_TOP - 8, 8));
	assert_true(user_range_ok(USER_TOP, 0));
	assert_false(user_range_ok(USER_TOP - 8, 9));
	assert_false(user_range_ok(USER_TOP, 1));
	assert_false(user_range_ok(0, USER_TOP + 1));
	/* Wrap-around must not pass as a short range. */
	assert_false(user_range_ok(0x1000, ~0ul));
	assert_false(user_range_ok(~0ul, 2));
	assert_false(user_range_ok(0xffff888000000000ul, 8));
	assert_false(user_range_ok(0x0000800000000000ul, 1));
}

static void test_canonical(void **state)
{
	(void)state;
	assert_true(user_canonical(0));
	assert_true(user_canonical(0x00007ffffffffffful));
	assert_false(user_canonical(0x0000800000000000ul));
	assert_false(user_canonical(0x8000000000000000ul));
	assert_false(user_canonical(0xffff7ffffffffffful));
	assert_true(user_canonical(0xffff800000000000ul));
	assert_true(user_canonical(~0ul));
}

static void test_rflags(void **state)
{
	(void)state;
	assert_int_equal(user_rflags_sanitize(0), F_IF | F_FIXED);
	/* Privileged or mode bits never reach ring 3. */
	assert_int_equal(user_rflags_sanitize(F_IOPL | F_NT | F_VM | F_VIF | F_VIP),
			 F_IF | F_FIXED);
	/* User-controllable bits pass. */
	u64 user = F_CF | F_TF | F_DF | F_OF | F_RF | F_AC | F_ID;
	assert_int_equal(user_rflags_sanitize(user), user | F_IF | F_FIXED);
	assert_int_equal(user_rflags_sanitize(~0ull) & (F_IOPL | F_NT | F_VM | F_VIF | F_VIP), 0);
	/* Reserved high bits are dropped. */
	assert_int_equal(user_rflags_sanitize(1ull << 40) , F_IF | F_FIXED);
}

static void test_sysret(void **state)
{
	(void)state;
	u64 fl = F_IF | F_FIXED;

	assert_true(user_sysret_ok(0x400000, USER_CS_SEL, USER_DS_SEL, fl));
	assert_true(user_sysret_ok(USER_TOP - 1, USER_CS_SEL, USER_DS_SEL, fl));
	/* The SYSRET hazard: non-canonical (or kernel) rip. */
	assert_false(user_sysret_ok(USER_TOP, USER_CS_SEL, USER_DS_SEL, fl));
	assert_false(user_sysret_ok(0x0000800000000000ul, USER_CS_SEL, USER_DS_SEL, fl));
	assert_false(user_sysret_ok(0xffffffff80000000ul, USER_CS_SEL, USER_DS_SEL, fl));
	/* Other selectors, RF and TF need IRET. */
	assert_false(user_sysret_ok(0x400000, 0x1b, USER_DS_SEL, fl));
	assert_false(user_sysret_ok(0x400000, USER_CS_SEL, 0x2b, fl));
	assert_false(user_sysret_ok(0x400000, USER_CS_SEL, USER_DS_SEL, fl | F_RF));
	assert_false(user_sysret_ok(0x400000, USER_CS_SEL, USER_DS_SEL, fl | F_TF));
	assert_true(user_sysret_ok(0x400000, USER_CS_SEL, USER_DS_SEL, fl | F_AC | F_DF));
}

static void test_extable(void **state)
{
	(void)state;
	static const struct extable_entry t[] = {
		{ 0xffffffff80101000ul, 0xffffffff80101010ul },
		{ 0xffffffff80100000ul, 0xffffffff80100020ul },
		{ 0xffffffff80102000ul, 0xffffffff80102008ul },
	};
	const struct extable_entry *end = t + sizeof(t) / sizeof(t[0]);

	assert_int_equal(extable_search(t, end, 0xffffffff80100000ul), 0xffffffff80100020ul);
	assert_int_equal(extable_search(t, end, 0xffffffff80101000ul), 0xffffffff80101010ul);
	assert_int_equal(extable_search(t, end, 0xffffffff80102000ul), 0xffffffff80102008ul);
	assert_int_equal(extable_search(t, end, 0xffffffff80102001ul), 0);
	assert_int_equal(extable_search(t, end, 0), 0);
	assert_int_equal(extable_search(t, t, 0xffffffff80100000ul), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_rflags),
		cmocka_unit_test(test_sysret),
		cmocka_unit_test(test_extable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
