/*
 * LegoOS RPC wire format, version 1: the single definition shared by the
 * kernel (net/) and the Linux programs (gm/). See docs/rpc.md.
 *
 * Every message (a request or its reply) is carried in one or more UDP
 * datagrams to/from port LEGO_RPC_PORT, each starting with struct
 * lego_rpc_hdr followed by frag_len payload bytes. All multi-byte fields are
 * little-endian, except fields documented as IPv4 addresses, which keep
 * network byte order (they are copied, never computed with). Fragments of a
 * message are cut at multiples of LEGO_RPC_FRAG_PAYLOAD, so every fragment
 * but the last is full; an empty message is one empty fragment. With the
 * 20-byte IPv4 and 8-byte UDP headers a datagram fits a 1500-byte MTU and IP
 * fragmentation is never used.
 *
 * PROBE and STATE are single-fragment messages of fixed size: msg_len ==
 * frag_len == sizeof(their payload struct), frag_off 0, msg_csum over the
 * payload. Bitmaps (have[]) hold bit i in byte i / 8, bit i % 8 (least
 * significant first). A receiver drops any datagram whose reserved or
 * flags fields are not 0 (so version 1 never gives them a meaning).
 *
 * A repeated REQUEST fragment for a call that is executing is answered with
 * STATE RUNNING (the client of a one-fragment request never probes, so this
 * is how it learns the server is alive); for a call that is done, with the
 * reply again.
 *
 * A call is identified by (client address, client_epoch, call_id). The
 * client picks a fresh random epoch each time it starts and numbers its
 * calls; the server executes a call at most once and answers duplicates from
 * a reply cache. See docs/rpc.md for retransmission and probing.
 */
#ifndef UAPI_LEGO_RPC_H
#define UAPI_LEGO_RPC_H

#include <stdint.h>
#include <stddef.h>

#define LEGO_RPC_PORT 4700
#define LEGO_RPC_MAGIC 0x474c		/* "LG" */
#define LEGO_RPC_VERSION 1

#define LEGO_RPC_MAX_MSG (256u * 1024)	/* largest request or reply payload */
#define LEGO_RPC_FRAG_PAYLOAD 1400u	/* payload bytes per datagram, at most */
#define LEGO_RPC_MAX_FRAGS ((LEGO_RPC_MAX_MSG + LEGO_RPC_FRAG_PAYLOAD - 1) / LEGO_RPC_FRAG_PAYLOAD)
#define LEGO_RPC_BITMAP_BYTES 32	/* one bit per fragment; >= MAX_FRAGS / 8 */

enum lego_rpc_type {
	LEGO_RPC_REQUEST = 1,	/* a fragment of a request */
	LEGO_RPC_REPLY = 2,	/* a fragment of a reply; status holds the result */
	LEGO_RPC_PROBE = 3,	/* client -> server: "where is call X?"; payload lego_rpc_probe */
	LEGO_RPC_STATE = 4,	/* server -> client answer to a probe; payload lego_rpc_state */
};

struct lego_rpc_hdr {
	uint16_t magic;		/* LEGO_RPC_MAGIC */
	uint8_t version;	/* LEGO_RPC_VERSION */
	uint8_t type;		/* enum lego_rpc_type */
	uint16_t opcode;	/* enum lego_rpc_opcode; echoed in replies */
	uint16_t flags;		/* none defined in version 1: must be 0 */
	uint32_t src_node;	/* sender's node id, 0 if it has none (Linux tools) */
	uint32_t client_epoch;	/* the client's incarnation */
	uint64_t call_id;	/* the client's call number within its epoch */
	uint32_t msg_len;	/* payload length of the whole message */
	uint32_t frag_off;	/* offset of this fragment's payload in the message */
	uint16_t frag_len;	/* payload bytes following this header */
	uint16_t reserved;	/* must be 0 */
	int32_t status;		/* REPLY: 0 or a negative errno; otherwise 0 */
	uint32_t msg_csum;	/* lego_rpc_csum of the whole message payload */
	uint32_t hdr_csum;	/* lego_rpc_csum of this header with hdr_csum = 0 */
};

_Static_assert(sizeof(struct lego_rpc_hdr) == 48, "wire header size");

/* PROBE payload: which fragments of the reply the client already holds. */
struct lego_rpc_probe {
	uint8_t have[LEGO_RPC_BITMAP_BYTES];
};

enum lego_rpc_state_code {
	LEGO_RPC_STATE_UNKNOWN = 0,	/* no such call (never arrived): resend it */
	LEGO_RPC_STATE_PARTIAL = 1,	/* some request fragments arrived: see have[] */
	LEGO_RPC_STATE_RUNNING = 2,	/* complete and executing: keep waiting */
};

/* STATE payload. */
struct lego_rpc_state {
	uint32_t code;			/* enum lego_rpc_state_code */
	uint8_t have[LEGO_RPC_BITMAP_BYTES];	/* request fragments received */
};

/*
 * Opcode registry. Ranges by owner; a server answers an opcode it has no
 * handler for with status -ENOSYS (38).
 */
enum lego_rpc_opcode {
	/* 0x0001-0x00ff: every node (net/rpc_builtin.c) */
	LEGO_OP_PING = 0x0001,		/* echo: the reply is the request payload */
	LEGO_OP_NODE_INFO = 0x0002,	/* reply: struct lego_node_info */
	LEGO_OP_RPC_TEST = 0x0003,	/* run calls to another node: lego_rpc_test_req -> _reply */
	LEGO_OP_LOAD = 0x0004,		/* reply: struct lego_load (managers poll it) */
	/* 0x0100-0x01ff: global managers (gm.h) */
	/* 0x0200-0x02ff: memory monitor */
	/* 0x0300-0x03ff: storage monitor */
	/* 0x0400-0x04ff: processor monitor */
};

struct lego_node_info {
	char name[16];			/* NUL-terminated, e.g. "p0" */
	char personality[16];		/* "processor" | "memory" | "storage" */
	uint32_t node_id;
	uint32_t ipv4;			/* in network byte order, as on the wire */
	uint32_t cpus_online;
	uint32_t reserved;
	uint64_t mem_bytes;		/* usable RAM */
	uint64_t uptime_ns;
	uint64_t rpc_calls_served;
	uint64_t rpc_rx_dropped;	/* malformed or unwanted datagrams */
};

/* LEGO_OP_RPC_TEST: the node calls LEGO_OP_PING at target with payloads of
 * sizes min_size..max_size (each next size is twice the last, 0 is followed
 * by 1, and the last is max_size), count calls per size, from `concurrency`
 * threads at once, checks every echoed byte, and reports. */
struct lego_rpc_test_req {
	uint32_t target_ipv4;		/* network byte order */
	uint16_t target_port;		/* little-endian like every number; 0 means LEGO_RPC_PORT */
	uint16_t concurrency;		/* 1..64 */
	uint32_t min_size;
	uint32_t max_size;		/* <= LEGO_RPC_MAX_MSG */
	uint32_t count;			/* calls per size per thread */
	uint32_t reserved;
};

struct lego_rpc_test_reply {
	uint64_t calls;
	uint64_t errors;		/* calls that returned an error */
	uint64_t bad_data;		/* replies whose bytes differ from the request */
	int32_t first_error;		/* the first error seen, 0 if none */
	uint32_t reserved;
	uint64_t lat_min_ns, lat_median_ns, lat_p99_ns, lat_max_ns;
	uint64_t elapsed_ns;		/* wall time of the whole test */
	uint64_t bytes;			/* payload bytes sent and received back */
};

_Static_assert(sizeof(struct lego_node_info) == 80, "wire size");
_Static_assert(sizeof(struct lego_rpc_test_req) == 24, "wire size");
_Static_assert(sizeof(struct lego_rpc_test_reply) == 80, "wire size");
_Static_assert(sizeof(struct lego_rpc_state) == 36, "wire size");

/* LEGO_OP_LOAD reply: the monitor's view of its own load. */
struct lego_load {
	uint32_t personality;
	uint32_t cpus;
	uint32_t threads;		/* runnable + blocked kernel and user threads */
	uint32_t reserved;
	uint64_t mem_total_bytes;
	uint64_t mem_free_bytes;
	uint64_t storage_total_bytes;
	uint64_t storage_free_bytes;
	uint64_t rpc_requests;		/* requests served so far (load by rate) */
	uint64_t uptime_ns;
};

_Static_assert(sizeof(struct lego_load) == 64, "wire size");

/*
 * Checksum used for msg_csum and hdr_csum: FNV-1a over 64-bit little-endian
 * words (a zero-padded tail word last), folded to 32 bits. Cheap, and good
 * enough to catch reassembly mistakes; the UDP checksum already covers
 * corruption on the wire. This implementation loads words in the host's
 * order, so it is right on little-endian hosts only (all LegoOS targets).
 */
static inline uint32_t lego_rpc_csum(const void *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;
	uint64_t h = 0xcbf29ce484222325ull;

	while (len >= 8) {
		uint64_t w;
		__builtin_memcpy(&w, p, 8);
		h = (h ^ w) * 0x100000001b3ull;
		p += 8;
		len -= 8;
	}
	if (len) {
		uint64_t w = 0;
		__builtin_memcpy(&w, p, len);
		h = (h ^ w ^ ((uint64_t)len << 56)) * 0x100000001b3ull;
	}
	return (uint32_t)(h ^ (h >> 32));
}

#endif
