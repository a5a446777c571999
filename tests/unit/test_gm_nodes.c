/* Unit tests for gm/lib/nodes.c: the rack's node list and node names. */
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

/* Relative: the unit-test build has no -I for gm/include. */
#include "../../gm/include/gm/nodes.h"
#include <uapi/lego/rpc.h>

static char path[64];

static void write_file(const char *text)
{
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/test_gm_nodes.%d", (int)getpid());
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	setenv(GM_NODES_ENV, path, 1);
}

static void test_load(void **state)
{
	struct gm_node *n;
	size_t count;
	unsigned bad = 0;

	write_file("# comment\n\n"
		   "p0 processor 198.18.0.10 52:54:00:12:34:56 1 4242\n"
		   "  m0\tmemory 198.18.0.11 52:54:00:12:34:57 2 -\n");
	assert_int_equal(gm_nodes_load(path, &n, &count, &bad), 0);
	assert_int_equal(count, 2);
	assert_string_equal(n[0].name, "p0");
	assert_string_equal(n[0].personality, "processor");
	assert_int_equal(n[0].ipv4, inet_addr("198.18.0.10"));
	assert_string_equal(n[0].mac, "52:54:00:12:34:56");
	assert_int_equal(n[0].node_id, 1);
	assert_int_equal(n[0].pid, 4242);
	assert_string_equal(n[1].name, "m0");
	assert_int_equal(n[1].pid, -1);
	free(n);

	write_file("p0 processor 198.18.0.10 52:54:00:12:34:56 1 4242\n"
		   "p1 processor 198.18.0.300 52:54:00:12:34:56 1 4242\n");
	assert_int_equal(gm_nodes_load(path, &n, &count, &bad), -EINVAL);
	assert_int_equal(bad, 2);
	write_file("p0 processor 198.18.0.10 52:54:00:12:34:56 1\n");
	assert_int_equal(gm_nodes_load(path, &n, &count, &bad), -EINVAL);
	write_file("p0 processor 198.18.0.10 52:54:00:12:34:56 x 1\n");
	assert_int_equal(gm_nodes_load(path, &n, &count, &bad), -EINVAL);
	unlink(path);
	assert_int_equal(gm_nodes_load(path, &n, &count, &bad), -ENOENT);
}

static void test_resolve(void **state)
{
	uint32_t ip;
	uint16_t port;
	struct gm_node node;
	char err[256];

	unsetenv(GM_NODES_ENV);
	assert_int_equal(gm_node_resolve("10.1.2.3", &ip, &port, &node, err, sizeof(err)), 0);
	assert_int_equal(ip, inet_addr("10.1.2.3"));
	assert_int_equal(port, LEGO_RPC_PORT);
	assert_int_equal(gm_node_resolve("10.1.2.3:99", &ip, &port, NULL, err, sizeof(err)), 0);
	assert_int_equal(port, 99);
	assert_int_equal(gm_node_resolve("10.1.2.3:0", &ip, &port, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(gm_node_resolve("10.1.2.3:70000", &ip, &port, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(gm_node_resolve(":5", &ip, &port, NULL, err, sizeof(err)), -EINVAL);
	assert_int_equal(gm_node_resolve("p0", &ip, &port, NULL, err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "unknown node 'p0' (no rack: set LEGO_NODES or run "
			    "inside 'scripts/rack exec')");

	write_file("p0 processor 198.18.0.10 52:54:00:12:34:56 1 4242\n");
	assert_int_equal(gm_node_resolve("p0", &ip, &port, &node, err, sizeof(err)), 0);
	assert_int_equal(ip, inet_addr("198.18.0.10"));
	assert_int_equal(port, LEGO_RPC_PORT);
	assert_int_equal(node.node_id, 1);
	assert_int_equal(gm_node_resolve("p0:4800", &ip, &port, NULL, err, sizeof(err)), 0);
	assert_int_equal(port, 4800);
	assert_int_equal(gm_node_resolve("p9", &ip, &port, NULL, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "unknown node 'p9'"));
	unlink(path);
	unsetenv(GM_NODES_ENV);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
