/* RPC self-test over the local loopback: one node calls itself through
 * the whole RPC path (fragmentation, reassembly, workers, reply cache), so
 * a single booted node checks the protocol end to end. Needs lego.ip. */
#include <lego/selftest.h>
#include <lego/rpc.h>
#include <lego/net.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/printk.h>

static int test_rpc_loopback(char *why, size_t len)
{
	if (!net_primary() || !net_config.ip) {
		snprintf(why, len, "no configured network device (lego.ip=)");
		return SELFTEST_SKIP;
	}
	struct lego_rpc_test_req q = {
		.target_ipv4 = net_config.ip,
		.concurrency = 4,
		.min_size = 1,
		.max_size = 128 * 1024,
		.count = 2,
	};
	struct lego_rpc_test_reply rep;
	u32 got = 0;
	struct rpc_endpoint self = { net_config.ip, 0 };
	int r = rpc_call(&self, LEGO_OP_RPC_TEST, &q, sizeof(q), &rep, sizeof(rep), &got, 10000);
	if (r < 0) {
		snprintf(why, len, "rpc-test call failed: %d", r);
		return -1;
	}
	if (got != sizeof(rep) || rep.errors || rep.bad_data || !rep.calls) {
		snprintf(why, len, "%lu calls, %lu errors (first %d), %lu bad", (unsigned long)rep.calls,
			 (unsigned long)rep.errors, rep.first_error, (unsigned long)rep.bad_data);
		return -1;
	}
	/* Unknown opcodes are refused, not hung. */
	r = rpc_call(&self, 0x7fff, "x", 1, NULL, 0, NULL, 2000);
	if (r != -ENOSYS) {
		snprintf(why, len, "unknown opcode gave %d, want -ENOSYS", r);
		return -1;
	}
	/* A reply bigger than the caller's buffer is reported, not written. */
	u8 small[16], big[100];
	memset(big, 1, sizeof(big));
	r = rpc_call(&self, LEGO_OP_PING, big, sizeof(big), small, sizeof(small), &got, 2000);
	if (r != -EMSGSIZE) {
		snprintf(why, len, "oversized reply gave %d, want -EMSGSIZE", r);
		return -1;
	}
	return 0;
}
SELFTEST("rpc-loopback", test_rpc_loopback);
