/*
 * Unit tests for gm/lib/statefile.c (atomic save, verified load: a
 * corrupted, truncated or foreign file is refused) and gm/lib/vnode.c
 * (GPM's vNode table: unique names, ids and addresses never reused, list
 * encoding, state records).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

/* Relative: the unit-test build has no -I for gm/include. */
#include "../../gm/include/gm/statefile.h"
#include "../../gm/include/gm/vnode.h"

static char dir[64], path[128];

static int setup(void **st)
{
	snprintf(dir, sizeof(dir), "/tmp/test_gm_state.%d", (int)getpid());
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/gmmd.state", dir);
	return 0;
}

static int teardown(void **st)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void write_raw(const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

static char *read_raw(size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = malloc(65536);

	assert_non_null(f);
	*len = fread(buf, 1, 65535, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static void test_save_load(void **st)
{
	const char *body = "next_id 2002\ncomp 2000 m0 5 198.18.2.1 4700 0 alive 1 2 3 0\n";
	char *got = NULL, err[256];
	struct stat sb;

	assert_int_equal(gm_state_load(path, "gmmd", &got, err, sizeof(err)), -ENOENT);
	assert_int_equal(gm_state_save(path, "gmmd", body, strlen(body)), 0);
	/* No temporary left behind. */
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(stat(tmp, &sb), -1);
	assert_int_equal(gm_state_load(path, "gmmd", &got, err, sizeof(err)), 0);
	assert_string_equal(got, body);
	free(got);
	/* Another daemon's file is not ours. */
	assert_int_equal(gm_state_load(path, "gpmd", &got, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "gpmd"));
	/* Empty body. */
	assert_int_equal(gm_state_save(path, "gmmd", "", 0), 0);
	assert_int_equal(gm_state_load(path, "gmmd", &got, err, sizeof(err)), 0);
	assert_string_equal(got, "");
	free(got);
	/* Saving replaces. */
	assert_int_equal(gm_state_save(path, "gmmd", "a\n", 2), 0);
	assert_int_equal(gm_state_load(path, "gmmd", &got, err, sizeof(err)), 0);
	assert_string_equal(got, "a\n");
	free(got);
}

static void test_corruption_refused(void **st)
{
	const char *body = "next_id 2002\ncomp 2000 m0 5 198.18.2.1 4700 0 alive 1 2 3 0\n";
	char *good, *bad, *got = NULL, err[256];
	size_t len;

	assert_int_equal(gm_state_save(path, "gmmd", body, strlen(body)), 0);
	good = read_raw(&len);
	bad = malloc(len + 16);

	/* Every single flipped byte is noticed. */
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, good, len);
		bad[i] ^= 0x01;
		write_raw(bad, len);
		assert_int_equal(gm_state_load(path, "gmmd", &got, err, sizeof(err)), -EBADMSG);
		assert_null(got);
	}
	/* Every truncation too. */
	for (size_t l = 0; l < len; l++) {
		write_raw(good, l);
		assert_int_equal(gm_state_load(path, "gmmd", &got, err, sizeof(err)), -EBADMSG);
	}
	/* Garbage and NULs. */
	write_raw("\x7f" "ELF\0\0\0garbage\n", 15);
	assert_int_equal(gm_state_load(path, "gmmd", &got, err, sizeof(err)), -EBADMSG);
	write_raw("hello world\n", 12);
	assert_int_equal(gm_state_load(path, "gmmd", &got, err, sizeof(err)), -EBADMSG);
	/* A line appended after the trailer. */
	memcpy(bad, good, len);
	memcpy(bad + len, "x 1\n", 4);
	write_raw(bad, len + 4);
	assert_int_equal(gm_state_load(path, "gmmd", &got, err, sizeof(err)), -EBADMSG);
	/* A wrong version. */
	memcpy(bad, good, len);
	bad[strlen("lego-gm-state ")] = '2';
	write_raw(bad, len);
	assert_int_equal(gm_state_load(path, "gmmd", &got, err, sizeof(err)), -EBADMSG);
	/* The original still loads. */
	write_raw(good, len);
	assert_int_equal(gm_state_load(path, "gmmd", &got, err, sizeof(err)), 0);
	free(got);
	free(good);
	free(bad);
}

static void test_fields_and_numbers(void **st)
{
	char line[64] = "  a bb  ccc ";
	char *f[3];
	uint64_t v;
	uint32_t ip;

	assert_int_equal(gm_state_fields(line, f, 3), 3);
	assert_string_equal(f[0], "a");
	assert_string_equal(f[1], "bb");
	assert_string_equal(f[2], "ccc");
	strcpy(line, "1 2 3 4");
	assert_int_equal(gm_state_fields(line, f, 3), -E2BIG);
	strcpy(line, "   ");
	assert_int_equal(gm_state_fields(line, f, 3), 0);

	assert_int_equal(gm_parse_u64("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(gm_parse_u64("18446744073709551615", UINT64_MAX, &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(gm_parse_u64("18446744073709551616", UINT64_MAX, &v), -EINVAL);
	assert_int_equal(gm_parse_u64("11", 10, &v), -EINVAL);
	assert_int_equal(gm_parse_u64("-1", 10, &v), -EINVAL);
	assert_int_equal(gm_parse_u64(" 1", 10, &v), -EINVAL);
	assert_int_equal(gm_parse_u64("1x", 10, &v), -EINVAL);
	assert_int_equal(gm_parse_u64("", 10, &v), -EINVAL);
	assert_int_equal(gm_parse_ipv4("10.200.0.1", &ip), 0);
	assert_int_equal(ip, htonl(0x0ac80001));
	assert_int_equal(gm_parse_ipv4("10.200.0", &ip), -EINVAL);
}

static void test_buf(void **st)
{
	struct gm_buf b = { 0 };

	for (int i = 0; i < 10000; i++)
		gm_buf_printf(&b, "line %d\n", i);
	assert_int_equal(b.err, 0);
	assert_non_null(strstr(b.data, "line 9999\n"));
	gm_buf_free(&b);
	assert_null(b.data);
}

/* ---- vNodes ---- */

static char *name16(const char *s)
{
	static char n[LEGO_NAME_LEN];

	memset(n, 0, sizeof(n));
	memcpy(n, s, strlen(s) < sizeof(n) ? strlen(s) : sizeof(n));
	return n;
}

static void test_vnode_names(void **st)
{
	char n[LEGO_NAME_LEN];

	assert_true(gm_vnode_name_ok(name16("web")));
	assert_true(gm_vnode_name_ok(name16("a-b_9")));
	assert_true(gm_vnode_name_ok(name16("abcdefghijklmno")));		/* 15 */
	assert_false(gm_vnode_name_ok(name16("abcdefghijklmnop")));	/* 16, no NUL */
	assert_false(gm_vnode_name_ok(name16("")));
	assert_false(gm_vnode_name_ok(name16("Web")));
	assert_false(gm_vnode_name_ok(name16("a b")));
	assert_false(gm_vnode_name_ok(name16("a/b")));
	assert_false(gm_vnode_name_ok(name16("a.b")));
	assert_int_equal(gm_vnode_req_name(name16("web"), LEGO_NAME_LEN, n), 0);
	assert_string_equal(n, "web");
	assert_int_equal(gm_vnode_req_name(name16("web"), LEGO_NAME_LEN - 1, n), -EINVAL);
	assert_int_equal(gm_vnode_req_name(name16("web"), 0, n), -EINVAL);
	/* Bytes after the NUL are dropped. */
	char raw[LEGO_NAME_LEN] = "db\0zzzzzzzzzzzz";
	assert_int_equal(gm_vnode_req_name(raw, sizeof(raw), n), 0);
	for (size_t i = 2; i < sizeof(n); i++)
		assert_int_equal(n[i], 0);
}

static void test_vnode_table(void **st)
{
	struct gm_vnodes t;
	struct lego_vnode v, list[4];
	uint8_t buf[1024];
	size_t len;
	struct lego_gpm_vnode_list_reply h;

	assert_int_equal(gm_vnodes_init(&t, 3), 0);
	assert_int_equal(gm_vnode_add(&t, "web", 3000, 111, &v), 0);
	assert_int_equal(v.vnode_id, 1);
	assert_int_equal(v.vip, htonl(0x0ac80001));
	assert_string_equal(v.mount, "/vnode/web");
	assert_int_equal(v.storage_node, 3000);
	assert_int_equal(v.created_ms, 111);
	assert_true(t.dirty);
	assert_int_equal(gm_vnode_can_create(&t, "web"), -EEXIST);
	assert_int_equal(gm_vnode_add(&t, "web", 3001, 1, NULL), -EEXIST);
	assert_int_equal(gm_vnode_add(&t, "db", 3001, 222, &v), 0);
	assert_int_equal(v.vnode_id, 2);
	assert_int_equal(v.vip, htonl(0x0ac80002));
	assert_int_equal(gm_vnode_add(&t, "c", 3001, 333, NULL), 0);
	assert_int_equal(gm_vnode_can_create(&t, "d"), -ENOSPC);
	assert_int_equal(gm_vnode_remove(&t, "nope", NULL), -ENOENT);
	assert_int_equal(gm_vnode_remove(&t, "web", &v), 0);
	assert_int_equal(v.vnode_id, 1);
	assert_null(gm_vnode_find(&t, "web"));
	/* The name is free again, but id and address are not reused. */
	assert_int_equal(gm_vnode_add(&t, "web", 3000, 444, &v), 0);
	assert_int_equal(v.vnode_id, 4);
	assert_int_equal(v.vip, htonl(0x0ac80004));

	assert_int_equal(gm_vnode_list_max_bytes(&t), 8 + 3 * 104);
	assert_int_equal(gm_vnode_encode_list(&t, buf, 8 + 2 * 104, &len), -ENOSPC);
	assert_int_equal(gm_vnode_encode_list(&t, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 8 + 3 * 104);
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.count, 3);
	memcpy(list, buf + 8, 3 * sizeof(struct lego_vnode));
	assert_string_equal(list[0].name, "db");
	assert_string_equal(list[2].name, "web");
	assert_int_equal(list[2].vnode_id, 4);
	gm_vnodes_free(&t);
}

static int vline(struct gm_vnodes *t, const char *text)
{
	char line[256], err[200] = "";
	char *f[16];
	int nf;

	snprintf(line, sizeof(line), "%s", text);
	nf = gm_state_fields(line, f, 16);
	return gm_vnode_state_line(t, f, nf, err, sizeof(err));
}

static void test_vnode_state(void **st)
{
	struct gm_vnodes t, u;
	struct gm_buf b = { 0 };
	struct lego_vnode v;

	assert_int_equal(gm_vnodes_init(&t, 8), 0);
	assert_int_equal(gm_vnode_add(&t, "web", 3000, 111, NULL), 0);
	assert_int_equal(gm_vnode_add(&t, "db", 3001, 222, NULL), 0);
	assert_int_equal(gm_vnode_add(&t, "tmp", 3001, 333, NULL), 0);
	assert_int_equal(gm_vnode_remove(&t, "db", NULL), 0);
	gm_vnode_state_write(&t, &b);
	assert_int_equal(b.err, 0);

	assert_int_equal(gm_vnodes_init(&u, 8), 0);
	for (char *line = b.data, *next; *line; line = next) {
		next = strchr(line, '\n');
		*next++ = '\0';
		assert_int_equal(vline(&u, line), 1);
	}
	gm_buf_free(&b);
	assert_int_equal(u.n, 2);
	assert_int_equal(u.next_id, 4);
	assert_int_equal(u.next_vip, 4);
	assert_memory_equal(u.v, t.v, 2 * sizeof(struct lego_vnode));
	assert_int_equal(gm_vnode_add(&u, "new", 3000, 1, &v), 0);
	assert_int_equal(v.vnode_id, 4);
	gm_vnodes_free(&u);
	gm_vnodes_free(&t);

	/* Malformed records. */
	assert_int_equal(gm_vnodes_init(&u, 2), 0);
	assert_int_equal(vline(&u, "comp 1 x"), 0);
	assert_int_equal(vline(&u, "vnode 1 web 10.200.0.1 /vnode/web 3000 5"), -EINVAL); /* >= next */
	assert_int_equal(vline(&u, "vnode_next 0 1"), -EINVAL);
	assert_int_equal(vline(&u, "vnode_next 5 70000"), -EINVAL);
	assert_int_equal(vline(&u, "vnode_next 5 5"), 1);
	assert_int_equal(vline(&u, "vnode 1 web 10.200.0.1 /vnode/db 3000 5"), -EINVAL);
	assert_int_equal(vline(&u, "vnode 1 Web 10.200.0.1 /vnode/Web 3000 5"), -EINVAL);
	assert_int_equal(vline(&u, "vnode 1 web 10.201.0.1 /vnode/web 3000 5"), -EINVAL);
	assert_int_equal(vline(&u, "vnode 1 web 10.200.0.9 /vnode/web 3000 5"), -EINVAL);
	assert_int_equal(vline(&u, "vnode 1 web 10.200.0.1 /vnode/web 3000"), -EINVAL);
	assert_int_equal(vline(&u, "vnode 2 web 10.200.0.2 /vnode/web 3000 5"), 1);
	assert_int_equal(vline(&u, "vnode 3 web 10.200.0.3 /vnode/web 3000 5"), -EINVAL); /* dup */
	assert_int_equal(vline(&u, "vnode 1 db 10.200.0.1 /vnode/db 3000 5"), -EINVAL);  /* order */
	assert_int_equal(vline(&u, "vnode 3 db 10.200.0.3 /vnode/db 3000 5"), 1);
	assert_int_equal(vline(&u, "vnode 4 x 10.200.0.4 /vnode/x 3000 5"), -EINVAL);   /* full */
	assert_int_equal(vline(&u, "vnode_next 9 9"), -EINVAL);                         /* late */
	gm_vnodes_free(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_save_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corruption_refused, setup, teardown),
		cmocka_unit_test(test_fields_and_numbers),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_vnode_names),
		cmocka_unit_test(test_vnode_table),
		cmocka_unit_test(test_vnode_state),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
