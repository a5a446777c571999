/* Pure protocol logic of LegoOS RPC (net/rpc_proto.c): header checking and
 * building, fragment arithmetic, reassembly and the server's call table
 * (request reassembly + at-most-once reply cache). No locks, no I/O: the
 * kernel (net/rpc.c) wraps it with both, and host unit tests drive it
 * directly. The wire format itself is include/uapi/lego/rpc.h. */
#ifndef LEGO_RPC_PROTO_H
#define LEGO_RPC_PROTO_H

#include <lego/types.h>
#include <lego/list.h>
#include <uapi/lego/rpc.h>

/* Why a datagram was refused (negative returns of rpc_hdr_check). */
enum rpc_drop {
	RPC_DROP_SHORT = 1,	/* shorter than a header */
	RPC_DROP_MAGIC,
	RPC_DROP_VERSION,
	RPC_DROP_TYPE,
	RPC_DROP_HDR_CSUM,
	RPC_DROP_RESERVED,	/* flags/reserved/status fields not as required */
	RPC_DROP_LENGTH,	/* msg_len too big, or datagram length != header + frag_len */
	RPC_DROP_FRAG,		/* fragment offset/length inconsistent with msg_len */
	RPC_DROP_PAYLOAD,	/* PROBE/STATE payload of the wrong size */
	RPC_DROP_NR
};

extern const char *const rpc_drop_names[RPC_DROP_NR];

/* Validate a received datagram; on success copy the header to *h. */
int rpc_hdr_check(const void *pkt, size_t len, struct lego_rpc_hdr *h);
void rpc_hdr_build(struct lego_rpc_hdr *h, u8 type, u16 opcode, u32 src_node, u32 epoch,
		   u64 call_id, u32 msg_len, u32 frag_off, u16 frag_len, s32 status, u32 msg_csum);

static inline unsigned rpc_nfrags(u32 msg_len)
{
	return msg_len ? (msg_len + LEGO_RPC_FRAG_PAYLOAD - 1) / LEGO_RPC_FRAG_PAYLOAD : 1;
}

static inline u32 rpc_frag_len(u32 msg_len, unsigned idx)
{
	u32 off = idx * LEGO_RPC_FRAG_PAYLOAD;
	u32 rest = msg_len - off;
	return rest < LEGO_RPC_FRAG_PAYLOAD ? rest : LEGO_RPC_FRAG_PAYLOAD;
}

static inline bool rpc_bit_test(const u8 *map, unsigned i) { return map[i / 8] >> (i % 8) & 1; }
static inline void rpc_bit_set(u8 *map, unsigned i) { map[i / 8] |= (u8)(1u << (i % 8)); }

/* Reassembly of one message into a caller-supplied buffer. */
struct rpc_reasm {
	u8 *buf;
	u32 cap;
	u32 msg_len;
	u32 msg_csum;
	u16 opcode;
	s32 status;
	unsigned nfrags;
	unsigned received;
	u8 have[LEGO_RPC_BITMAP_BYTES];
};

/* Start from the first fragment seen (any index). -EMSGSIZE if the message
 * does not fit cap. */
int rpc_reasm_init(struct rpc_reasm *r, void *buf, u32 cap, const struct lego_rpc_hdr *h);
/* 1: new fragment stored; 0: duplicate; -EINVAL: the fragment disagrees
 * with the message (length, opcode, checksum or status). */
int rpc_reasm_add(struct rpc_reasm *r, const struct lego_rpc_hdr *h, const void *data);
static inline bool rpc_reasm_done(const struct rpc_reasm *r) { return r->received == r->nfrags; }
/* Whole message present and its checksum right. */
bool rpc_reasm_verify(const struct rpc_reasm *r);

/* ---- server call table ---- */

struct rpc_call_key {
	u32 ip;
	u16 port;
	u32 epoch;
	u64 call_id;
};

enum rpc_entry_state { RPC_ENTRY_ASSEMBLING, RPC_ENTRY_RUNNING, RPC_ENTRY_DONE };

struct rpc_entry {
	struct rpc_call_key key;
	enum rpc_entry_state state;
	struct rpc_reasm req;		/* ASSEMBLING/RUNNING: the request */
	void *reply;			/* DONE: the reply payload (owned) */
	u32 reply_len;
	s32 status;
	u16 opcode;
	u64 stamp_ns;			/* last activity (creation, fragment, completion) */
	struct list_head hash_node;
	struct list_head age_node;	/* oldest first */
};

#define RPC_TABLE_BUCKETS 256

struct rpc_table_ops {
	void *(*alloc)(size_t size);
	void (*free)(void *p);
};

/* The caller serialises all access. */
struct rpc_table {
	struct list_head buckets[RPC_TABLE_BUCKETS];
	struct list_head age;
	unsigned nr, max;
	u64 retain_ns;			/* keep DONE entries at least this long */
	u64 partial_ns;			/* drop ASSEMBLING entries idle this long */
	const struct rpc_table_ops *ops;
	u64 evicted_early;		/* DONE entries dropped before retain_ns (table full) */
	u64 expired;
};

void rpc_table_init(struct rpc_table *t, unsigned max, u64 retain_ns, u64 partial_ns,
		    const struct rpc_table_ops *ops);
struct rpc_entry *rpc_table_find(struct rpc_table *t, const struct rpc_call_key *k);
/* New ASSEMBLING entry with a request buffer for msg_len bytes; makes room
 * by expiring, then by evicting the oldest non-running entry. NULL if the
 * table is full of running calls or memory is short. */
struct rpc_entry *rpc_table_insert(struct rpc_table *t, const struct rpc_call_key *k,
				   const struct lego_rpc_hdr *first, u64 now_ns);
void rpc_table_touch(struct rpc_table *t, struct rpc_entry *e, u64 now_ns);
/* RUNNING -> DONE: the entry takes ownership of reply; frees the request. */
void rpc_table_complete(struct rpc_table *t, struct rpc_entry *e, void *reply, u32 reply_len,
			s32 status, u64 now_ns);
void rpc_table_remove(struct rpc_table *t, struct rpc_entry *e);
/* Drop DONE entries older than retain_ns and stale partial requests. */
void rpc_table_expire(struct rpc_table *t, u64 now_ns);
void rpc_table_destroy(struct rpc_table *t);

#endif
