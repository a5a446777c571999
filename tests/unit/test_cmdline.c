/* Unit tests for kernel/cmdline.c. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lego/cmdline.h>
#include <lego/errno.h>

/* ---- tokenizer ---- */

struct tok {
	int ret;
	const char *key; /* NULL: don't care (end) */
	const char *val; /* NULL: expect *val == NULL */
};

/* Runs the tokenizer over a private copy of line and compares each result. */
static void expect_tokens(const char *line, const struct tok *want, size_t n)
{
	char *buf = strdup(line);
	char *cur = buf, *key, *val;

	assert_non_null(buf);
	for (size_t i = 0; i < n; i++) {
		int ret = cmdline_next(&cur, &key, &val);

		assert_int_equal(ret, want[i].ret);
		if (want[i].key) {
			assert_non_null(key);
			assert_string_equal(key, want[i].key);
			/* Results live inside the caller's buffer. */
			assert_true(key >= buf && key < buf + strlen(line) + 1);
		}
		if (want[i].val) {
			assert_non_null(val);
			assert_string_equal(val, want[i].val);
			assert_true(val >= buf && val < buf + strlen(line) + 1);
		} else {
			assert_null(val);
		}
	}
	/* Once at the end, it stays at the end. */
	assert_int_equal(cmdline_next(&cur, &key, &val), 0);
	assert_int_equal(cmdline_next(&cur, &key, &val), 0);
	free(buf);
}

static void test_next_example_line(void **state)
{
	const struct tok want[] = {
		{ 1, "BOOT_IMAGE", "/x" },
		{ 1, "lego.loglevel", "7" },
		{ 1, "lego.test", "fault:df,poweroff" },
		{ 1, "lego.name", "rack a" },
		{ 1, "quiet", NULL },
	};

	expect_tokens("BOOT_IMAGE=/x lego.loglevel=7 lego.test=fault:df,poweroff "
		      "lego.name=\"rack a\" quiet",
		      want, ARRAY_SIZE(want));
}

static void test_next_empty_and_blank(void **state)
{
	expect_tokens("", NULL, 0);
	expect_tokens("   \t\n\r  ", NULL, 0);
}

static void test_next_whitespace(void **state)
{
	const struct tok want[] = {
		{ 1, "a", "1" },
		{ 1, "b", NULL },
		{ 1, "c", "3" },
	};

	expect_tokens("  \ta=1 \n\n b\t\tc=3  \r\n", want, ARRAY_SIZE(want));
	expect_tokens("a=1\tb c=3", want, ARRAY_SIZE(want));
}

static void test_next_values(void **state)
{
	const struct tok want[] = {
		{ 1, "empty", "" },
		{ 1, "eqs", "a=b=c" },
		{ 1, "x", "-" },
		{ 1, "lego.flag", NULL },
	};

	expect_tokens("empty= eqs=a=b=c x=- lego.flag", want, ARRAY_SIZE(want));
}

static void test_next_quotes(void **state)
{
	const struct tok want[] = {
		{ 1, "lego.name", "rack a" },  /* whole token quoted */
		{ 1, "k", "" },                /* quoted empty value */
		{ 1, "k2", "a=b c" },          /* '=' inside quotes is data */
		{ 1, "ab cd", NULL },          /* quotes mid-token */
		{ 1, "q", "  lead and trail  " },
		{ 1, "t", "x\ty" },
		{ 1, "last", "z" },
	};

	expect_tokens("\"lego.name=rack a\" k=\"\" k2=\"a=b c\" a\"b c\"d "
		      "q=\"  lead and trail  \" t=\"x\ty\" last=z",
		      want, ARRAY_SIZE(want));
}

static void test_next_quote_at_end(void **state)
{
	const struct tok want[] = { { 1, "k", "v w" } };

	expect_tokens("k=\"v w\"", want, ARRAY_SIZE(want));
}

static void test_next_unterminated_quote(void **state)
{
	const struct tok want[] = {
		{ 1, "a", "1" },
		{ -EINVAL, "lego.name", NULL },
		/* The rest of the line was swallowed by the open quote. */
	};

	expect_tokens("a=1 lego.name=\"rack a b=2 c=3", want, ARRAY_SIZE(want));
	expect_tokens("\"", (const struct tok[]){ { -EINVAL, "", NULL } }, 1);
}

static void test_next_empty_key(void **state)
{
	const struct tok want[] = {
		{ -EINVAL, "", NULL },
		{ 1, "after", "1" }, /* only the bad token is consumed */
		{ -EINVAL, "", NULL },
		{ -EINVAL, "", NULL },
	};

	expect_tokens("=x after=1 = \"\"", want, ARRAY_SIZE(want));
}

static void test_next_long_line(void **state)
{
	/* Many tokens: the cursor must keep advancing correctly. */
	char line[8192], *cur, *key, *val;
	size_t off = 0;
	int n = 0;

	for (int i = 0; i < 500; i++)
		off += (size_t)snprintf(line + off, sizeof(line) - off, "k%d=\"v %d\" ", i, i);
	cur = line;
	while (cmdline_next(&cur, &key, &val) == 1) {
		char ek[16], ev[16];

		snprintf(ek, sizeof(ek), "k%d", n);
		snprintf(ev, sizeof(ev), "v %d", n);
		assert_string_equal(key, ek);
		assert_string_equal(val, ev);
		n++;
	}
	assert_int_equal(n, 500);
}

/* ---- cmdline_apply ---- */

struct warning {
	char key[64];
	char val[64];
	bool val_null;
	int err;
};

struct recorder {
	struct warning w[16];
	int n;
	/* What the setters saw. */
	u64 loglevel;
	bool flag;
	int flag_calls;
	char name[64];
	int fail_calls;
};

static void rec_warn(void *ctx, const char *key, const char *val, int err)
{
	struct recorder *r = ctx;
	struct warning *w;

	assert_true(r->n < (int)ARRAY_SIZE(r->w));
	w = &r->w[r->n++];
	snprintf(w->key, sizeof(w->key), "%s", key);
	w->val_null = (val == NULL);
	snprintf(w->val, sizeof(w->val), "%s", val ? val : "");
	w->err = err;
}

static int set_loglevel(const char *val, void *arg)
{
	struct recorder *r = arg;
	u64 v;
	int err = cmdline_parse_u64(val, &v);

	if (err)
		return err;
	if (v > 7)
		return -ERANGE;
	r->loglevel = v;
	return 0;
}

static int set_flag(const char *val, void *arg)
{
	struct recorder *r = arg;

	r->flag_calls++;
	return cmdline_parse_bool(val, &r->flag);
}

static int set_name(const char *val, void *arg)
{
	struct recorder *r = arg;

	if (!val)
		return -EINVAL;
	snprintf(r->name, sizeof(r->name), "%s", val);
	return 0;
}

static int set_fail(const char *val, void *arg)
{
	struct recorder *r = arg;

	r->fail_calls++;
	return -EBUSY;
}

static int set_positive(const char *val, void *arg)
{
	return 5; /* positive returns count as success */
}

static int apply(const char *line, struct recorder *r, bool with_warn)
{
	const struct cmdline_param params[] = {
		{ "lego.loglevel", set_loglevel, r },
		{ "lego.flag", set_flag, r },
		{ "name", set_name, r }, /* prefix-less form */
		{ "lego.fail", set_fail, r },
		{ "lego.pos", set_positive, r },
		{ "lego.noset", NULL, NULL },
	};
	char *buf = strdup(line);
	int ret;

	assert_non_null(buf);
	ret = cmdline_apply(buf, params, ARRAY_SIZE(params), with_warn ? rec_warn : NULL, r);
	free(buf);
	return ret;
}

static void test_apply_good(void **state)
{
	struct recorder r = { .loglevel = 99 };

	assert_int_equal(apply("BOOT_IMAGE=/boot/x lego.loglevel=5 quiet "
			       "lego.flag lego.name=\"rack a\" lego.pos=1 lego.noset=3 "
			       "console=ttyS0 legoloose=1 lego=3",
			       &r, true),
			 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.loglevel, 5);
	assert_true(r.flag);
	assert_int_equal(r.flag_calls, 1);
	assert_string_equal(r.name, "rack a");
}

static void test_apply_last_wins(void **state)
{
	struct recorder r = { 0 };

	assert_int_equal(apply("lego.loglevel=1 lego.flag=on lego.loglevel=3 lego.flag=off",
			       &r, true),
			 0);
	assert_int_equal(r.loglevel, 3);
	assert_false(r.flag);
	assert_int_equal(r.flag_calls, 2);
}

static void test_apply_warnings(void **state)
{
	struct recorder r = { 0 };

	assert_int_equal(apply("lego.unknown=1 lego.loglevel=9 lego.fail lego.flag=maybe "
			       "lego.loglevel=2 lego.=x lego.LOGLEVEL=1 other.unknown=1",
			       &r, true),
			 6);
	assert_int_equal(r.n, 6);
	assert_string_equal(r.w[0].key, "lego.unknown");
	assert_string_equal(r.w[0].val, "1");
	assert_int_equal(r.w[0].err, -ENOENT);
	assert_string_equal(r.w[1].key, "lego.loglevel");
	assert_string_equal(r.w[1].val, "9");
	assert_int_equal(r.w[1].err, -ERANGE);
	assert_string_equal(r.w[2].key, "lego.fail");
	assert_true(r.w[2].val_null);
	assert_int_equal(r.w[2].err, -EBUSY);
	assert_string_equal(r.w[3].key, "lego.flag");
	assert_string_equal(r.w[3].val, "maybe");
	assert_int_equal(r.w[3].err, -EINVAL);
	assert_string_equal(r.w[4].key, "lego.");
	assert_int_equal(r.w[4].err, -ENOENT);
	assert_string_equal(r.w[5].key, "lego.LOGLEVEL"); /* names are case sensitive */
	assert_int_equal(r.w[5].err, -ENOENT);
	/* Parsing carried on after each warning. */
	assert_int_equal(r.loglevel, 2);
	assert_int_equal(r.fail_calls, 1);
}

static void test_apply_tokenizer_error_stops(void **state)
{
	struct recorder r = { 0 };

	assert_int_equal(apply("lego.loglevel=4 lego.name=\"unterminated lego.loglevel=6", &r,
			       true),
			 1);
	assert_int_equal(r.n, 1);
	assert_string_equal(r.w[0].key, "lego.name");
	assert_true(r.w[0].val_null);
	assert_int_equal(r.w[0].err, -EINVAL);
	assert_int_equal(r.loglevel, 4);
	assert_string_equal(r.name, "");

	memset(&r, 0, sizeof(r));
	assert_int_equal(apply("lego.loglevel=4 =oops lego.loglevel=6", &r, true), 1);
	assert_string_equal(r.w[0].key, "");
	assert_true(r.w[0].val_null);
	assert_int_equal(r.w[0].err, -EINVAL);
	assert_int_equal(r.loglevel, 4); /* nothing after the bad token */
}

static void test_apply_null_warn_and_buf(void **state)
{
	struct recorder r = { 0 };

	assert_int_equal(apply("lego.unknown lego.fail lego.loglevel=3 \"", &r, false), 3);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.loglevel, 3);
	assert_int_equal(cmdline_apply(NULL, NULL, 0, rec_warn, &r), 0);
	assert_int_equal(apply("", &r, true), 0);
}

/* ---- value parsers ---- */

static void test_parse_u64_good(void **state)
{
	static const struct {
		const char *s;
		u64 v;
	} cases[] = {
		{ "0", 0 },
		{ "7", 7 },
		{ "007", 7 },
		{ "123456789", 123456789 },
		{ "18446744073709551615", UINT64_MAX },
		{ "0x0", 0 },
		{ "0x10", 16 },
		{ "0X1f", 31 },
		{ "0xDeadBeef", 0xdeadbeef },
		{ "0xffffffffffffffff", UINT64_MAX },
		{ "0x00000000000000000001", 1 },
		{ "4K", 4096 },
		{ "4k", 4096 },
		{ "2M", 2 << 20 },
		{ "3m", 3 << 20 },
		{ "1G", 1 << 30 },
		{ "1g", 1 << 30 },
		{ "0K", 0 },
		{ "0x10K", 16 << 10 },
		{ "0x1g", 1 << 30 }, /* g is not a hex digit */
		{ "17179869183G", 17179869183ULL << 30 },
		{ "17592186044415M", 17592186044415ULL << 20 },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		u64 v = 12345;

		assert_int_equal(cmdline_parse_u64(cases[i].s, &v), 0);
		assert_int_equal(v, cases[i].v);
	}
}

static void test_parse_u64_bad(void **state)
{
	static const struct {
		const char *s;
		int err;
	} cases[] = {
		{ "", -EINVAL },
		{ "0x", -EINVAL },
		{ "0X", -EINVAL },
		{ "x10", -EINVAL },
		{ "K", -EINVAL },
		{ "12a", -EINVAL },
		{ "4KB", -EINVAL },
		{ "4KK", -EINVAL },
		{ "1T", -EINVAL },
		{ "-1", -EINVAL },
		{ "+1", -EINVAL },
		{ " 1", -EINVAL },
		{ "1 ", -EINVAL },
		{ "1.5", -EINVAL },
		{ "0x1g0", -EINVAL },
		{ "99999999999999999999999x", -EINVAL }, /* junk beats overflow */
		{ "18446744073709551616", -ERANGE },
		{ "99999999999999999999999", -ERANGE },
		{ "0x10000000000000000", -ERANGE },
		{ "17179869184G", -ERANGE },
		{ "17592186044416M", -ERANGE },
		{ "18014398509481984K", -ERANGE },
		{ "18446744073709551615K", -ERANGE },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		u64 v = 12345;

		assert_int_equal(cmdline_parse_u64(cases[i].s, &v), cases[i].err);
		assert_int_equal(v, 12345); /* untouched on error */
	}
	assert_int_equal(cmdline_parse_u64(NULL, &(u64){ 0 }), -EINVAL);
}

static void test_parse_bool(void **state)
{
	static const char *const yes[] = { "1", "y", "Y", "yes", "YES", "on", "On", "true", "TRUE" };
	static const char *const no[] = { "0", "n", "N", "no", "No", "off", "OFF", "false", "False" };
	static const char *const bad[] = { "", "2", "yess", "ye", "of", "o", "tru", "falsey",
					   " 1", "1 ", "-1", "00" };
	bool b;

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		b = false;
		assert_int_equal(cmdline_parse_bool(yes[i], &b), 0);
		assert_true(b);
	}
	for (size_t i = 0; i < ARRAY_SIZE(no); i++) {
		b = true;
		assert_int_equal(cmdline_parse_bool(no[i], &b), 0);
		assert_false(b);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		b = true;
		assert_int_equal(cmdline_parse_bool(bad[i], &b), -EINVAL);
		assert_true(b);
		b = false;
		assert_int_equal(cmdline_parse_bool(bad[i], &b), -EINVAL);
		assert_false(b);
	}
	b = false;
	assert_int_equal(cmdline_parse_bool(NULL, &b), 0);
	assert_true(b);
}

static void test_list_has(void **state)
{
	const char *l = "fault:df,poweroff";

	assert_true(cmdline_list_has(l, "poweroff"));
	assert_true(cmdline_list_has(l, "fault:df"));
	assert_false(cmdline_list_has(l, "fault"));
	assert_false(cmdline_list_has(l, "power"));
	assert_false(cmdline_list_has(l, "poweroffx"));
	assert_false(cmdline_list_has(l, "df"));
	assert_false(cmdline_list_has(l, "fault:df,poweroff"));
	assert_false(cmdline_list_has(l, ""));
	assert_false(cmdline_list_has(NULL, "x"));
	assert_false(cmdline_list_has("x", NULL));
	assert_false(cmdline_list_has("", "x"));
	assert_true(cmdline_list_has("x", "x"));
	assert_true(cmdline_list_has("a,,b", "a"));
	assert_true(cmdline_list_has("a,,b", "b"));
	assert_true(cmdline_list_has("a,b,", "b"));
	assert_true(cmdline_list_has(",a", "a"));
	assert_false(cmdline_list_has("ab,abc", "a"));
}

static void test_list_get(void **state)
{
	const char *l = "fault:df,poweroff,faulty,fault:second";
	const char *p;
	size_t len = 0;

	p = cmdline_list_get(l, "fault", &len);
	assert_ptr_equal(p, l);
	assert_int_equal(len, 8);

	p = cmdline_list_get(l, "poweroff", &len);
	assert_ptr_equal(p, l + 9);
	assert_int_equal(len, 8);

	assert_null(cmdline_list_get(l, "power", &len));
	assert_null(cmdline_list_get(l, "fault:", &len));
	assert_null(cmdline_list_get(l, "x", &len));
	assert_null(cmdline_list_get(l, "", &len));
	assert_null(cmdline_list_get(NULL, "fault", &len));
	assert_null(cmdline_list_get(l, NULL, &len));

	/* "faulty" does not match "fault"; the later "fault:..." does. */
	p = cmdline_list_get("faulty,fault:x:y", "fault", &len);
	assert_non_null(p);
	assert_int_equal(len, 9);
	assert_memory_equal(p, "fault:x:y", len);

	/* Exact item, at the end of the list, len optional. */
	p = cmdline_list_get("a,selftest", "selftest", NULL);
	assert_non_null(p);
	assert_string_equal(p, "selftest");

	/* Bare "fault" matches and its length excludes the comma. */
	p = cmdline_list_get("fault,fault:df", "fault", &len);
	assert_non_null(p);
	assert_int_equal(len, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_next_example_line),
		cmocka_unit_test(test_next_empty_and_blank),
		cmocka_unit_test(test_next_whitespace),
		cmocka_unit_test(test_next_values),
		cmocka_unit_test(test_next_quotes),
		cmocka_unit_test(test_next_quote_at_end),
		cmocka_unit_test(test_next_unterminated_quote),
		cmocka_unit_test(test_next_empty_key),
		cmocka_unit_test(test_next_long_line),
		cmocka_unit_test(test_apply_good),
		cmocka_unit_test(test_apply_last_wins),
		cmocka_unit_test(test_apply_warnings),
		cmocka_unit_test(test_apply_tokenizer_error_stops),
		cmocka_unit_test(test_apply_null_warn_and_buf),
		cmocka_unit_test(test_parse_u64_good),
		cmocka_unit_test(test_parse_u64_bad),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_list_has),
		cmocka_unit_test(test_list_get),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
