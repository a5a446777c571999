/* Unit tests for gm/lib/nodes.c: the rack's node list and node names,
 * GM_NODES replies, and which sComponent holds a vNode's files. */
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

/* ---- LEGO_OP_GM_NODES replies ---- */

static struct lego_gm_node gnode(uint32_t id, uint32_t pers, uint32_t state, const char *name,
				 const char *ip)
{
	struct lego_gm_node n;

	memset(&n, 0, sizeof(n));
	n.node_id = id;
	n.personality = pers;
	n.state = state;
	n.ipv4 = inet_addr(ip);
	strncpy(n.name, name, sizeof(n.name) - 1);
	return n;
}

/* Encodes a reply of n nodes, with the ext array if x is not NULL. */
static size_t encode(uint8_t *buf, const struct lego_gm_node *nodes,
		     const struct lego_gm_node_ext *x, uint32_t n)
{
	struct lego_gm_nodes_reply hdr = { n, 0 };
	size_t len = sizeof(hdr);

	memcpy(buf, &hdr, sizeof(hdr));
	memcpy(buf + len, nodes, n * sizeof(*nodes));
	len += n * sizeof(*nodes);
	if (x) {
		memcpy(buf + len, x, n * sizeof(*x));
		len += n * sizeof(*x);
	}
	return len;
}

static void test_reply_parse(void **state)
{
	struct lego_gm_node nodes[3] = {
		gnode(3000, LEGO_PERS_STORAGE, LEGO_NODE_DEAD, "s0", "198.18.3.1"),
		gnode(3001, LEGO_PERS_STORAGE, LEGO_NODE_ALIVE, "s1", "198.18.3.2"),
		gnode(3002, LEGO_PERS_STORAGE, LEGO_NODE_ALIVE, "s0", "198.18.3.1"),
	};
	struct lego_gm_node_ext x[3] = {
		{ 7, 4700, 0, 0, 0 }, { 8, 5555, LEGO_GM_REG_UNHEALTHY, 0, 0 }, { 9, 0, 0, 0, 0 },
	};
	static uint8_t buf[4096];
	struct gm_node_rec rec[4];
	size_t len;

	/* With the ext array. */
	len = encode(buf, nodes, x, 3);
	assert_int_equal(gm_nodes_reply_parse(buf, len, rec, 4), 3);
	assert_int_equal(rec[1].n.node_id, 3001);
	assert_true(rec[1].has_ext);
	assert_int_equal(gm_node_rec_port(&rec[1]), 5555);
	assert_true(gm_node_rec_unhealthy(&rec[1]));
	assert_false(gm_node_rec_unhealthy(&rec[0]));
	assert_int_equal(gm_node_rec_port(&rec[2]), LEGO_RPC_PORT);	/* port 0: default */
	assert_int_equal(gm_nodes_reply_parse(buf, len, rec, 2), -ENOSPC);
	/* Without (an older manager): ports default, healthy. */
	len = encode(buf, nodes, NULL, 3);
	assert_int_equal(gm_nodes_reply_parse(buf, len, rec, 4), 3);
	assert_false(rec[1].has_ext);
	assert_int_equal(gm_node_rec_port(&rec[1]), LEGO_RPC_PORT);
	assert_false(gm_node_rec_unhealthy(&rec[1]));
	/* Empty. */
	len = encode(buf, nodes, NULL, 0);
	assert_int_equal(gm_nodes_reply_parse(buf, len, rec, 0), 0);
	/* Malformed: short, lying count, a length between the two forms. */
	assert_int_equal(gm_nodes_reply_parse(buf, 7, rec, 4), -EPROTO);
	len = encode(buf, nodes, x, 3);
	assert_int_equal(gm_nodes_reply_parse(buf, len - 1, rec, 4), -EPROTO);
	assert_int_equal(gm_nodes_reply_parse(buf, len + 1, rec, 4), -EPROTO);
	((struct lego_gm_nodes_reply *)buf)->count = 0xffffffffu;
	assert_int_equal(gm_nodes_reply_parse(buf, len, rec, 4), -EPROTO);
	/* A name without its NUL is cut. */
	memset(nodes[0].name, 'a', sizeof(nodes[0].name));
	len = encode(buf, nodes, x, 1);
	assert_int_equal(gm_nodes_reply_parse(buf, len, rec, 4), 1);
	assert_int_equal(strlen(rec[0].n.name), LEGO_NAME_LEN - 1);
}

static int locate(const struct lego_gm_node *nodes, uint32_t n, uint32_t id, const char *vnode,
		  char *err, size_t errlen)
{
	static uint8_t buf[4096];
	struct gm_node_rec rec[8];
	size_t len = encode(buf, nodes, NULL, n);
	int r;

	assert_int_equal(gm_nodes_reply_parse(buf, len, rec, 8), (int)n);
	err[0] = '\0';
	r = gm_storage_locate(rec, n, id, vnode, err, errlen);
	return r < 0 ? r : (int)rec[r].n.node_id;
}

static void test_storage_locate(void **state)
{
	char err[256];
	struct lego_gm_node n[6] = {
		gnode(1000, LEGO_PERS_PROCESSOR, LEGO_NODE_ALIVE, "s0", "198.18.1.1"),
		gnode(3000, LEGO_PERS_STORAGE, LEGO_NODE_DEAD, "s0", "198.18.3.1"),
		gnode(3001, LEGO_PERS_STORAGE, LEGO_NODE_ALIVE, "s1", "198.18.3.2"),
		gnode(3002, LEGO_PERS_STORAGE, LEGO_NODE_DEAD, "s0", "198.18.3.1"),
		gnode(3003, LEGO_PERS_STORAGE, LEGO_NODE_ALIVE, "s0", "198.18.3.1"),
		gnode(3004, LEGO_PERS_STORAGE, LEGO_NODE_UNKNOWN, "s2", "198.18.3.3"),
	};

	/* Alive: itself. */
	assert_int_equal(locate(n, 6, 3001, "web", err, sizeof(err)), 3001);
	assert_int_equal(locate(n, 6, 3003, "web", err, sizeof(err)), 3003);
	/* Restarted: the alive one of the same name (not the processor
	 * that happens to share it, nor an older dead record). */
	assert_int_equal(locate(n, 6, 3000, "web", err, sizeof(err)), 3003);
	assert_int_equal(locate(n, 6, 3002, NULL, err, sizeof(err)), 3003);
	/* Dead with no successor. */
	n[4].state = LEGO_NODE_DEAD;
	assert_int_equal(locate(n, 6, 3000, "web", err, sizeof(err)), -EHOSTDOWN);
	assert_string_equal(err, "vNode web: its storage component s0 (id 3000) is dead");
	assert_int_equal(locate(n, 6, 3000, NULL, err, sizeof(err)), -EHOSTDOWN);
	assert_string_equal(err, "its storage component s0 (id 3000) is dead");
	/* A restarted manager has not heard from it yet. */
	assert_int_equal(locate(n, 6, 3004, "db", err, sizeof(err)), -EHOSTDOWN);
	assert_string_equal(err, "vNode db: its storage component s2 (id 3004) has not been "
			    "heard from since GSM restarted");
	/* Unknown to GSM (a forgotten record), and ids of another kind. */
	assert_int_equal(locate(n, 6, 3999, "web", err, sizeof(err)), -EHOSTDOWN);
	assert_string_equal(err, "vNode web: its storage component (id 3999) is unknown to GSM");
	assert_int_equal(locate(n, 6, 1000, "web", err, sizeof(err)), -EHOSTDOWN);
	assert_int_equal(locate(n, 0, 3000, "web", err, sizeof(err)), -EHOSTDOWN);
	/* An unhealthy one is still where the files are. */
	n[4].state = LEGO_NODE_ALIVE;
	assert_int_equal(locate(n, 6, 3000, "web", err, sizeof(err)), 3003);
	/* Two alive with the name (cannot happen; be predictable): newest. */
	n[1].state = LEGO_NODE_ALIVE;
	assert_int_equal(locate(n, 6, 3002, "web", err, sizeof(err)), 3003);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_reply_parse),
		cmocka_unit_test(test_storage_locate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
