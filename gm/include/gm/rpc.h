/*
 * Linux-side LegoOS RPC endpoint (paper §5.2) over one UDP socket.
 *
 * The wire format is include/uapi/lego/rpc.h; this library adds the
 * protocol machinery around it: fragmentation, retransmission with
 * probing, reassembly, at-most-once execution with a reply cache, and
 * per-reason drop counters.
 *
 * One endpoint is both a client (gm_rpc_call) and, once a handler is
 * registered, a server. An endpoint is NOT thread-safe: use it from one
 * thread (open one endpoint per calling thread). Handlers run on that thread,
 * from gm_rpc_poll()/gm_rpc_serve_datagram(), or from inside gm_rpc_call()
 * when a request arrives while a call on the same endpoint is waiting. A
 * handler may itself call gm_rpc_call() or gm_rpc_poll() on its endpoint;
 * while it runs, probes for its call are answered "RUNNING".
 *
 * Addresses: IPv4 addresses are uint32_t in network byte order (as in
 * struct in_addr and lego_node_info.ipv4); ports are in host byte order.
 * Errors are negative errno values.
 */
#ifndef GM_RPC_H
#define GM_RPC_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include <uapi/lego/rpc.h>

struct gm_rpc_ep;

/* Retransmission timer of a call: starts at INIT, doubles on every expiry
 * up to MAX (or timeout_ms/3 if smaller, so that a busy server is asked
 * often enough to say RUNNING), and drops back to INIT whenever a new reply
 * fragment arrives. */
#define GM_RPC_RTO_INIT_MS 20
#define GM_RPC_RTO_MAX_MS 500

/* A reasonable timeout for interactive tools: the time without any sign of
 * life from the server after which a call is given up. */
#define GM_RPC_DEFAULT_TIMEOUT_MS 3000

/* Server-side memory bounds. gm_rpc_set_limits() rejects values that could
 * not hold one maximal message. */
struct gm_rpc_limits {
	unsigned partial_timeout_ms;	/* drop a half-received request idle this long */
	unsigned max_partials;		/* requests being reassembled at once */
	size_t max_partial_bytes;	/* their total buffer size */
	unsigned cache_ttl_ms;		/* keep a reply at least this long (unless full) */
	unsigned max_cache_entries;	/* replies kept (and calls running) */
	size_t max_cache_bytes;		/* total reply bytes kept */
};

#define GM_RPC_DEFAULT_LIMITS { \
	.partial_timeout_ms = 5000, \
	.max_partials = 256, \
	.max_partial_bytes = 16u << 20, \
	.cache_ttl_ms = 10000, \
	.max_cache_entries = 4096, \
	.max_cache_bytes = 64u << 20, \
}

struct gm_rpc_stats {
	/* traffic */
	uint64_t tx_datagrams;		/* datagrams handed to the socket */
	uint64_t tx_errors;		/* sends that failed (counted as lost) */
	uint64_t rx_datagrams;		/* datagrams received or passed in */
	uint64_t rx_dropped;		/* sum of the drop_* counters below */

	/* client */
	uint64_t calls;			/* gm_rpc_call invocations that sent something */
	uint64_t calls_ok;		/* ... that returned 0 */
	uint64_t calls_remote_error;	/* ... whose server status was negative */
	uint64_t calls_timedout;	/* ... that gave up with -ETIMEDOUT */
	uint64_t calls_msgsize;		/* ... whose reply did not fit */
	uint64_t req_frags_resent;	/* request fragments retransmitted */
	uint64_t probes_sent;
	uint64_t states_rcvd;
	uint64_t reply_restarts;	/* reply reassembly discarded (csum/inconsistent) */

	/* server */
	uint64_t req_executed;		/* handler invocations (incl. -ENOSYS answers) */
	uint64_t req_unknown_opcode;
	uint64_t req_dup_frags;		/* request fragments already held or executed */
	uint64_t reply_frags_sent;
	uint64_t reply_frags_resent;	/* answers to probes and duplicate requests */
	uint64_t probes_rcvd;
	uint64_t states_sent;
	uint64_t partial_expired;	/* half-received requests timed out */
	uint64_t partial_evicted;	/* ... dropped to make room */
	uint64_t cache_expired;		/* replies older than cache_ttl_ms freed */
	uint64_t cache_evicted;		/* replies dropped early to make room */

	/* received datagrams dropped, by reason */
	uint64_t drop_size;		/* shorter than a header / longer than a datagram can be */
	uint64_t drop_magic;
	uint64_t drop_version;
	uint64_t drop_hdr_csum;
	uint64_t drop_type;
	uint64_t drop_field;		/* flags/reserved/status/state code invalid */
	uint64_t drop_msg_len;		/* msg_len too big, or wrong for PROBE/STATE */
	uint64_t drop_frag;		/* frag_off/frag_len/datagram length inconsistent */
	uint64_t drop_msg_csum;		/* reassembled or single-fragment payload csum wrong */
	uint64_t drop_stale;		/* REPLY/STATE for no call waiting here */
	uint64_t drop_inconsistent;	/* fragment disagrees with earlier ones of its message */
	uint64_t drop_not_server;	/* REQUEST/PROBE to an endpoint with no handler */
	uint64_t drop_busy;		/* request not executable now (nesting, cache full of running calls) */
	uint64_t drop_nomem;
};

/* What a handler sees of a request. data is valid during the handler only. */
struct gm_rpc_req {
	struct sockaddr_in from;
	uint32_t src_node;
	uint32_t client_epoch;
	uint64_t call_id;
	uint16_t opcode;
	const void *data;
	size_t len;
};

/*
 * A request handler. Writes at most reply_max bytes (the max_reply given at
 * registration) to reply, stores their count in *reply_len (preset to 0) and
 * returns the status sent to the caller: 0 or a negative errno.
 */
typedef int (*gm_rpc_handler_fn)(struct gm_rpc_ep *ep, void *arg,
				 const struct gm_rpc_req *req, void *reply,
				 size_t reply_max, size_t *reply_len);

/* Opens an endpoint bound to bind_ipv4:port (INADDR_ANY and/or port 0 for
 * any). The client epoch is drawn fresh from getrandom(). */
int gm_rpc_open(struct gm_rpc_ep **epp, uint32_t bind_ipv4, uint16_t port);
void gm_rpc_close(struct gm_rpc_ep *ep);

/* The socket, for epoll: when readable, call gm_rpc_poll(ep, 0). */
int gm_rpc_fd(const struct gm_rpc_ep *ep);
/* The bound local port (useful after binding port 0). */
uint16_t gm_rpc_port(const struct gm_rpc_ep *ep);
uint32_t gm_rpc_epoch(const struct gm_rpc_ep *ep);
/* Node id put in src_node of every datagram sent (default 0). */
void gm_rpc_set_src_node(struct gm_rpc_ep *ep, uint32_t node_id);
int gm_rpc_set_limits(struct gm_rpc_ep *ep, const struct gm_rpc_limits *lim);

/*
 * Calls opcode at dst_ipv4:dst_port (port 0 means LEGO_RPC_PORT) and waits.
 * Returns the server's status (0 or its negative errno) with the reply in
 * reply[0..*reply_len); -ETIMEDOUT after timeout_ms without any sign of life
 * from the server; -EMSGSIZE if the reply is longer than reply_max (then
 * *reply_len is the size needed); -EINVAL for bad arguments (including
 * req_len > LEGO_RPC_MAX_MSG or timeout_ms <= 0). reply_len may be NULL.
 */
int gm_rpc_call(struct gm_rpc_ep *ep, uint32_t dst_ipv4, uint16_t dst_port,
		uint16_t opcode, const void *req, size_t req_len,
		void *reply, size_t reply_max, size_t *reply_len, int timeout_ms);

/*
 * Serves opcode with fn (fn NULL unregisters). max_reply (<= LEGO_RPC_MAX_MSG)
 * is the reply buffer size handed to fn. -EEXIST if already registered,
 * -ENOSPC if the table is full. Opcodes without a handler are answered with
 * status -ENOSYS once any handler is registered.
 */
int gm_rpc_serve_register(struct gm_rpc_ep *ep, uint16_t opcode,
			  gm_rpc_handler_fn fn, void *arg, size_t max_reply);

/* Processes one received datagram (for daemons that read the socket
 * themselves). Returns 0, or -EBADMSG if it was dropped (and counted). */
int gm_rpc_serve_datagram(struct gm_rpc_ep *ep, const void *buf, size_t len,
			  const struct sockaddr_in *from);

/* Waits up to timeout_ms (0: don't wait, <0: forever) for datagrams, then
 * reads and processes all that are queued. Returns how many were processed,
 * or a negative errno (-EINTR when a signal arrived). Also expires stale
 * server state. */
int gm_rpc_poll(struct gm_rpc_ep *ep, int timeout_ms);

void gm_rpc_stats(const struct gm_rpc_ep *ep, struct gm_rpc_stats *st);

#endif
