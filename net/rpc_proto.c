/* LegoOS RPC protocol logic shared by the kernel and host tests. See
 * include/lego/rpc_proto.h and docs/rpc.md. */
#include <lego/rpc_proto.h>
#include <lego/errno.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

const char *const rpc_drop_names[RPC_DROP_NR] = {
	[0] = "none",
	[RPC_DROP_SHORT] = "short",
	[RPC_DROP_MAGIC] = "bad magic",
	[RPC_DROP_VERSION] = "bad version",
	[RPC_DROP_TYPE] = "bad type",
	[RPC_DROP_HDR_CSUM] = "bad header checksum",
	[RPC_DROP_RESERVED] = "reserved field set",
	[RPC_DROP_LENGTH] = "bad length",
	[RPC_DROP_FRAG] = "bad fragment",
	[RPC_DROP_PAYLOAD] = "bad probe/state payload",
};

int rpc_hdr_check(const void *pkt, size_t len, struct lego_rpc_hdr *h)
{
	if (len < sizeof(*h))
		return -RPC_DROP_SHORT;
	memcpy(h, pkt, sizeof(*h));
	if (h->magic != LEGO_RPC_MAGIC)
		return -RPC_DROP_MAGIC;
	if (h->version != LEGO_RPC_VERSION)
		return -RPC_DROP_VERSION;
	if (h->type < LEGO_RPC_REQUEST || h->type > LEGO_RPC_STATE)
		return -RPC_DROP_TYPE;
	u32 csum = h->hdr_csum;
	struct lego_rpc_hdr tmp = *h;
	tmp.hdr_csum = 0;
	if (lego_rpc_csum(&tmp, sizeof(tmp)) != csum)
		return -RPC_DROP_HDR_CSUM;
	if (h->flags || h->reserved || (h->type != LEGO_RPC_REPLY && h->status))
		return -RPC_DROP_RESERVED;
	if (len != sizeof(*h) + h->frag_len)
		return -RPC_DROP_LENGTH;
	if (h->type == LEGO_RPC_PROBE || h->type == LEGO_RPC_STATE) {
		size_t want = h->type == LEGO_RPC_PROBE ? sizeof(struct lego_rpc_probe)
							 : sizeof(struct lego_rpc_state);
		/* Single-fragment messages of a fixed size. */
		if (h->frag_len != want || h->msg_len != want || h->frag_off ||
		    lego_rpc_csum((const u8 *)pkt + sizeof(*h), want) != h->msg_csum)
			return -RPC_DROP_PAYLOAD;
		return 0;
	}
	if (h->msg_len > LEGO_RPC_MAX_MSG)
		return -RPC_DROP_LENGTH;
	if (h->frag_off % LEGO_RPC_FRAG_PAYLOAD || h->frag_off >= (h->msg_len ? h->msg_len : 1))
		return -RPC_DROP_FRAG;
	if (h->frag_len != rpc_frag_len(h->msg_len, h->frag_off / LEGO_RPC_FRAG_PAYLOAD))
		return -RPC_DROP_FRAG;
	return 0;
}

void rpc_hdr_build(struct lego_rpc_hdr *h, u8 type, u16 opcode, u32 src_node, u32 epoch,
		   u64 call_id, u32 msg_len, u32 frag_off, u16 frag_len, s32 status, u32 msg_csum)
{
	memset(h, 0, sizeof(*h));
	h->magic = LEGO_RPC_MAGIC;
	h->version = LEGO_RPC_VERSION;
	h->type = type;
	h->opcode = opcode;
	h->src_node = src_node;
	h->client_epoch = epoch;
	h->call_id = call_id;
	h->msg_len = msg_len;
	h->frag_off = frag_off;
	h->frag_len = frag_len;
	h->status = status;
	h->msg_csum = msg_csum;
	h->hdr_csum = lego_rpc_csum(h, sizeof(*h));
}

int rpc_reasm_init(struct rpc_reasm *r, void *buf, u32 cap, const struct lego_rpc_hdr *h)
{
	memset(r, 0, sizeof(*r));
	r->buf = buf;
	r->cap = cap;
	r->msg_len = h->msg_len;
	r->msg_csum = h->msg_csum;
	r->opcode = h->opcode;
	r->status = h->status;
	r->nfrags = rpc_nfrags(h->msg_len);
	if (h->msg_len > cap)
		return -EMSGSIZE;
	return 0;
}

int rpc_reasm_add(struct rpc_reasm *r, const struct lego_rpc_hdr *h, const void *data)
{
	if (h->msg_len != r->msg_len || h->opcode != r->opcode || h->msg_csum != r->msg_csum ||
	    h->status != r->status)
		return -EINVAL;
	unsigned idx = h->frag_off / LEGO_RPC_FRAG_PAYLOAD;
	if (idx >= r->nfrags)
		return -EINVAL;
	if (rpc_bit_test(r->have, idx))
		return 0;
	if (h->frag_len)
		memcpy(r->buf + h->frag_off, data, h->frag_len);
	rpc_bit_set(r->have, idx);
	r->received++;
	return 1;
}

bool rpc_reasm_verify(const struct rpc_reasm *r)
{
	return rpc_reasm_done(r) && lego_rpc_csum(r->buf, r->msg_len) == r->msg_csum;
}

/* ---- server call table ---- */

static unsigned key_hash(const struct rpc_call_key *k)
{
	u64 h = k->call_id * 0x9e3779b97f4a7c15ull;
	h ^= ((u64)k->ip << 16 | k->port) * 0xff51afd7ed558ccdull;
	h ^= (u64)k->epoch * 0xc4ceb9fe1a85ec53ull;
	return (unsigned)(h >> 56) % RPC_TABLE_BUCKETS;
}

static bool key_eq(const struct rpc_call_key *a, const struct rpc_call_key *b)
{
	return a->ip == b->ip && a->port == b->port && a->epoch == b->epoch &&
	       a->call_id == b->call_id;
}

void rpc_table_init(struct rpc_table *t, unsigned max, u64 retain_ns, u64 partial_ns,
		    const struct rpc_table_ops *ops)
{
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < RPC_TABLE_BUCKETS; i++)
		INIT_LIST_HEAD(&t->buckets[i]);
	INIT_LIST_HEAD(&t->age);
	t->max = max;
	t->retain_ns = retain_ns;
	t->partial_ns = partial_ns;
	t->ops = ops;
}

struct rpc_entry *rpc_table_find(struct rpc_table *t, const struct rpc_call_key *k)
{
	struct rpc_entry *e;
	list_for_each_entry(e, &t->buckets[key_hash(k)], hash_node)
		if (key_eq(&e->key, k))
			return e;
	return NULL;
}

static void entry_free(struct rpc_table *t, struct rpc_entry *e)
{
	list_del(&e->hash_node);
	list_del(&e->age_node);
	t->ops->free(e->req.buf);
	t->ops->free(e->reply);
	t->ops->free(e);
	t->nr--;
}

void rpc_table_remove(struct rpc_table *t, struct rpc_entry *e)
{
	entry_free(t, e);
}

void rpc_table_touch(struct rpc_table *t, struct rpc_entry *e, u64 now_ns)
{
	e->stamp_ns = now_ns;
	list_move_tail(&e->age_node, &t->age);
}

void rpc_table_expire(struct rpc_table *t, u64 now_ns)
{
	struct rpc_entry *e, *tmp;
	list_for_each_entry_safe(e, tmp, &t->age, age_node) {
		u64 age = now_ns - e->stamp_ns;
		if (e->state == RPC_ENTRY_DONE && age >= t->retain_ns) {
			entry_free(t, e);
			t->expired++;
		} else if (e->state == RPC_ENTRY_ASSEMBLING && age >= t->partial_ns) {
			entry_free(t, e);
			t->expired++;
		}
	}
}

struct rpc_entry *rpc_table_insert(struct rpc_table *t, const struct rpc_call_key *k,
				   const struct lego_rpc_hdr *first, u64 now_ns)
{
	if (t->nr >= t->max)
		rpc_table_expire(t, now_ns);
	if (t->nr >= t->max) {
		/* Still full: give up the oldest entry not being executed. A
		 * DONE entry dropped early weakens at-most-once for a client
		 * that retries that late; it is counted. */
		struct rpc_entry *e;
		list_for_each_entry(e, &t->age, age_node)
			if (e->state != RPC_ENTRY_RUNNING) {
				if (e->state == RPC_ENTRY_DONE)
					t->evicted_early++;
				entry_free(t, e);
				break;
			}
	}
	if (t->nr >= t->max)
		return NULL;

	struct rpc_entry *e = t->ops->alloc(sizeof(*e));
	if (!e)
		return NULL;
	memset(e, 0, sizeof(*e));
	void *buf = t->ops->alloc(first->msg_len ? first->msg_len : 1);
	if (!buf) {
		t->ops->free(e);
		return NULL;
	}
	e->key = *k;
	e->state = RPC_ENTRY_ASSEMBLING;
	e->opcode = first->opcode;
	e->stamp_ns = now_ns;
	rpc_reasm_init(&e->req, buf, first->msg_len, first);
	list_add_tail(&e->hash_node, &t->buckets[key_hash(k)]);
	list_add_tail(&e->age_node, &t->age);
	t->nr++;
	return e;
}

void rpc_table_complete(struct rpc_table *t, struct rpc_entry *e, void *reply, u32 reply_len,
			s32 status, u64 now_ns)
{
	t->ops->free(e->req.buf);
	e->req.buf = NULL;
	e->reply = reply;
	e->reply_len = reply_len;
	e->status = status;
	e->state = RPC_ENTRY_DONE;
	rpc_table_touch(t, e, now_ns);
}

void rpc_table_destroy(struct rpc_table *t)
{
	struct rpc_entry *e, *tmp;
	list_for_each_entry_safe(e, tmp, &t->age, age_node)
		entry_free(t, e);
}
