/* LegoOS RPC (paper section 5.2): synchronous calls between components.
 *
 * rpc_call sends a request and sleeps until the reply has been written
 * straight into the buffer the caller set aside. On the server the network
 * receive thread (the polling thread) reassembles requests and queues them;
 * CONFIG_RPC_WORKERS worker threads run the handler registered for the
 * opcode and send its reply. Calls retransmit, execute at most once, and
 * fail with -ETIMEDOUT once the peer has been silent for the call's
 * timeout. Wire format: include/uapi/lego/rpc.h; design: docs/rpc.md. */
#ifndef LEGO_RPC_H
#define LEGO_RPC_H

#include <lego/types.h>
#include <uapi/lego/rpc.h>

struct rpc_endpoint {
	u32 ip;		/* network byte order */
	u16 port;	/* host byte order; 0 means LEGO_RPC_PORT */
};

struct rpc_req {
	u32 src_ip;
	u16 src_port;
	u32 src_node;
	u16 opcode;
	const void *data;
	u32 len;
	void *reply;		/* set by rpc_reply_alloc */
	u32 reply_len;
};

/* Handlers run in worker threads and may sleep (and make calls of their
 * own). The return value is the call's status: 0 or a negative errno. */
typedef int (*rpc_handler_t)(struct rpc_req *r);

int rpc_register(u16 opcode, rpc_handler_t h, const char *name);
/* Reply buffer of len bytes, freed by the RPC layer after sending. */
void *rpc_reply_alloc(struct rpc_req *r, u32 len);

/* Returns the server's status (>= 0 means success, with *reply_len set),
 * -ETIMEDOUT for a dead or unreachable peer, -EMSGSIZE if the reply does
 * not fit reply_max, -EINVAL/-ENETUNREACH for local errors. timeout_ms 0
 * means the default (lego.rpc_timeout_ms). */
int rpc_call(const struct rpc_endpoint *to, u16 opcode, const void *req, u32 req_len,
	     void *reply, u32 reply_max, u32 *reply_len, unsigned timeout_ms);

struct rpc_stats {
	u64 rx_datagrams, rx_dropped[16];
	u64 rx_stray;		/* well-formed but for no call we know */
	u64 requests, duplicates, served, unknown_opcode;
	u64 calls, call_retransmits, call_probes, call_timeouts;
	u64 table_full;
};
extern struct rpc_stats rpc_stats;

void rpc_init(void);

#endif
