/*
 * Linux-side LegoOS RPC endpoint over UDP: the client and server halves of
 * the protocol whose wire format is include/uapi/lego/rpc.h.
 *
 * Client: a call sends its request fragments, then waits for the reply
 * fragments, which are placed straight into the caller's buffer. When the
 * retransmission timer fires it either resends a single-fragment request or
 * PROBEs the server with the bitmap of reply fragments it holds; the STATE
 * answer says which request fragments to resend. Any valid datagram from the
 * server about the call is a sign of life; timeout_ms without one fails the
 * call with -ETIMEDOUT.
 *
 * Server: request fragments are reassembled per (client address, epoch,
 * call_id) under memory bounds; a complete request runs its handler once,
 * and the reply is kept in a cache that answers duplicates and probes.
 *
 * Every received datagram is validated completely before any state is
 * touched; failures are counted per reason and dropped.
 */
#include <errno.h>
#include <endian.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Relative so that the host unit-test build (which only has -Iinclude)
 * finds it too. */
#include "../include/gm/rpc.h"

#define HDR_LEN ((uint32_t)sizeof(struct lego_rpc_hdr))
#define FRAG LEGO_RPC_FRAG_PAYLOAD
#define MAX_DGRAM (HDR_LEN + FRAG)

#define NS_PER_MS 1000000ull

#define MAX_HANDLERS 128
#define HASH_BUCKETS 1024
/* Handlers may poll the endpoint (and so run other handlers); this bounds
 * the recursion. */
#define MAX_NEST 4
/* Datagrams read per drain before timers are looked at again. */
#define DRAIN_BATCH 256
/* Socket buffers large enough to hold a few maximal messages in flight:
 * 188 fragments of a 256 KiB message overflow Linux's default ~200 KiB. */
#define SOCK_BUF_BYTES (4 << 20)

_Static_assert(LEGO_RPC_MAX_FRAGS <= LEGO_RPC_BITMAP_BYTES * 8, "bitmap too small");
_Static_assert(sizeof(struct lego_rpc_probe) == LEGO_RPC_BITMAP_BYTES, "probe size");
_Static_assert(sizeof(struct lego_rpc_state) == 4 + LEGO_RPC_BITMAP_BYTES, "state size");

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

static uint64_t rpc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Number of fragments of a message: an empty message still travels as one
 * (empty) fragment so that it has a header to carry it. */
static unsigned rpc_nfrags(uint32_t msg_len)
{
	return msg_len == 0 ? 1 : (msg_len + FRAG - 1) / FRAG;
}

static uint32_t rpc_frag_len(uint32_t msg_len, unsigned idx)
{
	uint32_t off = idx * FRAG;

	return msg_len - off < FRAG ? msg_len - off : FRAG;
}

/* Bitmaps are LSB-first within each byte: bit i is byte i/8, bit i%8. */
static bool bm_test(const uint8_t *bm, unsigned i)
{
	return bm[i / 8] & (1u << (i % 8));
}

static void bm_set(uint8_t *bm, unsigned i)
{
	bm[i / 8] |= (uint8_t)(1u << (i % 8));
}

/* ------------------------------------------------------------------ */
/* Endpoint                                                            */
/* ------------------------------------------------------------------ */

struct rpc_key {
	uint32_t ip;		/* network order */
	uint16_t port;		/* network order */
	uint32_t epoch;
	uint64_t call_id;
};

enum srv_state { SRV_PARTIAL, SRV_RUNNING, SRV_DONE };

/* Server-side state of one call: a request being reassembled, a request
 * whose handler is running, or a cached reply. It lives in the hash table
 * and in exactly one age list (partials or cache), oldest first. */
struct srv_call {
	struct rpc_key key;
	struct srv_call *hnext;
	struct srv_call *prev, *next;
	enum srv_state state;
	uint16_t opcode;
	uint32_t src_node;
	uint64_t t_last;	/* partial: last new fragment; done: completion */
	uint32_t msg_len;	/* partial/running: request; done: reply */
	uint32_t msg_csum;
	int32_t status;		/* done */
	unsigned nfrags, nhave;	/* partial */
	uint8_t have[LEGO_RPC_BITMAP_BYTES];
	uint8_t *buf;		/* request (partial/running) or reply (done) */
};

struct srv_list {
	struct srv_call *head, *tail;
	unsigned count;
	size_t bytes;
};

struct srv_handler {
	uint16_t opcode;
	gm_rpc_handler_fn fn;
	void *arg;
	size_t max_reply;
};

/* Client-side state of the call in progress; lives on the caller's stack. */
struct cli_call {
	uint32_t dst_ip;	/* network order */
	uint16_t dst_port;	/* network order */
	uint16_t opcode;
	uint64_t call_id;
	const uint8_t *req;
	uint32_t req_len;
	uint32_t req_csum;
	unsigned req_nfrags;
	uint8_t *reply;
	size_t reply_max;
	/* reply reassembly; meta_valid once a first fragment fixed the shape */
	bool meta_valid;
	uint32_t rep_len, rep_csum;
	int32_t rep_status;
	unsigned rep_nfrags, rep_nhave;
	uint8_t have[LEGO_RPC_BITMAP_BYTES];
	/* timers (monotonic ns) */
	uint64_t life_deadline;	/* give up when reached */
	uint64_t next_rtx;	/* retransmission timer */
	uint64_t rto_ns;
	uint64_t rto_cap_ns;	/* GM_RPC_RTO_MAX_MS, or less for short timeouts */
	uint64_t timeout_ns;
	bool done;
	bool too_big;		/* the reply does not fit reply_max */
	bool probe_now;		/* reply discarded: probe without waiting */
	int result;
};

struct gm_rpc_ep {
	int fd;
	uint16_t port;		/* host order */
	uint32_t src_node;
	uint32_t epoch;
	uint64_t last_call_id;
	struct gm_rpc_stats st;
	struct gm_rpc_limits lim;

	struct cli_call *call;	/* innermost call waiting on this endpoint */

	struct srv_handler handlers[MAX_HANDLERS];
	unsigned nhandlers;
	unsigned nest;		/* handlers running (nested) */
	struct srv_call *hash[HASH_BUCKETS];
	struct srv_list partials;
	struct srv_list cache;	/* running and done calls */
	uint64_t next_expire;
};

int gm_rpc_open(struct gm_rpc_ep **epp, uint32_t bind_ipv4, uint16_t port)
{
	static const struct gm_rpc_limits deflim = GM_RPC_DEFAULT_LIMITS;
	struct gm_rpc_ep *ep;
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	int bufsz = SOCK_BUF_BYTES;

	if (!epp)
		return -EINVAL;
	*epp = NULL;
	ep = calloc(1, sizeof(*ep));
	if (!ep)
		return -ENOMEM;
	ep->lim = deflim;
	ep->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ep->fd < 0) {
		int err = -errno;
		free(ep);
		return err;
	}
	/* Best effort: FORCE works as root beyond rmem_max, else the plain
	 * option is capped by the sysctl; losses are recovered anyway. */
	if (setsockopt(ep->fd, SOL_SOCKET, SO_RCVBUFFORCE, &bufsz, sizeof(bufsz)) < 0)
		(void)setsockopt(ep->fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof(bufsz));
	if (setsockopt(ep->fd, SOL_SOCKET, SO_SNDBUFFORCE, &bufsz, sizeof(bufsz)) < 0)
		(void)setsockopt(ep->fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof(bufsz));

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = bind_ipv4;
	sa.sin_port = htons(port);
	if (bind(ep->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(ep->fd, (struct sockaddr *)&sa, &salen) < 0) {
		int err = -errno;
		close(ep->fd);
		free(ep);
		return err;
	}
	ep->port = ntohs(sa.sin_port);

	/* A fresh epoch per endpoint lets servers tell a restarted client's
	 * call 1 from the previous incarnation's call 1. */
	if (getrandom(&ep->epoch, sizeof(ep->epoch), 0) != sizeof(ep->epoch))
		ep->epoch = (uint32_t)(rpc_now_ns() ^ ((uint64_t)getpid() << 16));
	*epp = ep;
	return 0;
}

static void srv_free_all(struct gm_rpc_ep *ep);

void gm_rpc_close(struct gm_rpc_ep *ep)
{
	if (!ep)
		return;
	srv_free_all(ep);
	close(ep->fd);
	free(ep);
}

int gm_rpc_fd(const struct gm_rpc_ep *ep)
{
	return ep->fd;
}

uint16_t gm_rpc_port(const struct gm_rpc_ep *ep)
{
	return ep->port;
}

uint32_t gm_rpc_epoch(const struct gm_rpc_ep *ep)
{
	return ep->epoch;
}

void gm_rpc_set_src_node(struct gm_rpc_ep *ep, uint32_t node_id)
{
	ep->src_node = node_id;
}

int gm_rpc_set_limits(struct gm_rpc_ep *ep, const struct gm_rpc_limits *lim)
{
	if (!ep || !lim || lim->max_partials < 1 || lim->max_cache_entries < 1 ||
	    lim->max_partial_bytes < LEGO_RPC_MAX_MSG ||
	    lim->max_cache_bytes < LEGO_RPC_MAX_MSG || lim->partial_timeout_ms < 1)
		return -EINVAL;
	ep->lim = *lim;
	return 0;
}

static uint64_t rpc_drops(const struct gm_rpc_stats *st)
{
	return st->drop_size + st->drop_magic + st->drop_version +
		st->drop_hdr_csum + st->drop_type + st->drop_field +
		st->drop_msg_len + st->drop_frag + st->drop_msg_csum +
		st->drop_stale + st->drop_inconsistent + st->drop_not_server +
		st->drop_busy + st->drop_nomem;
}

void gm_rpc_stats(const struct gm_rpc_ep *ep, struct gm_rpc_stats *st)
{
	*st = ep->st;
	st->rx_dropped = rpc_drops(st);
}

/* ------------------------------------------------------------------ */
/* Wire encoding, validation, sending                                  */
/* ------------------------------------------------------------------ */

/* Writes h in wire order (little-endian) to out and seals it with hdr_csum. */
static void rpc_hdr_encode(uint8_t out[HDR_LEN], const struct lego_rpc_hdr *h)
{
	struct lego_rpc_hdr w;
	uint32_t csum;

	w.magic = htole16(h->magic);
	w.version = h->version;
	w.type = h->type;
	w.opcode = htole16(h->opcode);
	w.flags = htole16(h->flags);
	w.src_node = htole32(h->src_node);
	w.client_epoch = htole32(h->client_epoch);
	w.call_id = htole64(h->call_id);
	w.msg_len = htole32(h->msg_len);
	w.frag_off = htole32(h->frag_off);
	w.frag_len = htole16(h->frag_len);
	w.reserved = htole16(h->reserved);
	w.status = (int32_t)htole32((uint32_t)h->status);
	w.msg_csum = htole32(h->msg_csum);
	w.hdr_csum = 0;
	memcpy(out, &w, HDR_LEN);
	csum = htole32(lego_rpc_csum(out, HDR_LEN));
	memcpy(out + offsetof(struct lego_rpc_hdr, hdr_csum), &csum, sizeof(csum));
}

static void rpc_hdr_decode(struct lego_rpc_hdr *h, const uint8_t *in)
{
	memcpy(h, in, HDR_LEN);
	h->magic = le16toh(h->magic);
	h->opcode = le16toh(h->opcode);
	h->flags = le16toh(h->flags);
	h->src_node = le32toh(h->src_node);
	h->client_epoch = le32toh(h->client_epoch);
	h->call_id = le64toh(h->call_id);
	h->msg_len = le32toh(h->msg_len);
	h->frag_off = le32toh(h->frag_off);
	h->frag_len = le16toh(h->frag_len);
	h->reserved = le16toh(h->reserved);
	h->status = (int32_t)le32toh((uint32_t)h->status);
	h->msg_csum = le32toh(h->msg_csum);
	h->hdr_csum = le32toh(h->hdr_csum);
}

/*
 * Validates a datagram on its own (no call state involved) and decodes its
 * header. Returns 0, or -EBADMSG after counting the reason. After success
 * the payload is exactly h->frag_len bytes at buf + HDR_LEN and lies inside
 * a message of h->msg_len <= LEGO_RPC_MAX_MSG bytes.
 */
static int rpc_validate(struct gm_rpc_ep *ep, const uint8_t *buf, size_t len,
			struct lego_rpc_hdr *h)
{
	uint8_t tmp[HDR_LEN];
	uint32_t want_len = 0;

	if (len < HDR_LEN || len > MAX_DGRAM) {
		ep->st.drop_size++;
		return -EBADMSG;
	}
	rpc_hdr_decode(h, buf);
	if (h->magic != LEGO_RPC_MAGIC) {
		ep->st.drop_magic++;
		return -EBADMSG;
	}
	if (h->version != LEGO_RPC_VERSION) {
		ep->st.drop_version++;
		return -EBADMSG;
	}
	memcpy(tmp, buf, HDR_LEN);
	memset(tmp + offsetof(struct lego_rpc_hdr, hdr_csum), 0, sizeof(uint32_t));
	if (lego_rpc_csum(tmp, HDR_LEN) != h->hdr_csum) {
		ep->st.drop_hdr_csum++;
		return -EBADMSG;
	}
	switch (h->type) {
	case LEGO_RPC_REQUEST:
	case LEGO_RPC_REPLY:
		break;
	case LEGO_RPC_PROBE:
		want_len = sizeof(struct lego_rpc_probe);
		break;
	case LEGO_RPC_STATE:
		want_len = sizeof(struct lego_rpc_state);
		break;
	default:
		ep->st.drop_type++;
		return -EBADMSG;
	}
	/* Status is a negative errno in replies and 0 everywhere else. */
	if (h->flags || h->reserved ||
	    (h->type == LEGO_RPC_REPLY ? h->status > 0 : h->status != 0)) {
		ep->st.drop_field++;
		return -EBADMSG;
	}
	if (h->msg_len > LEGO_RPC_MAX_MSG || (want_len && h->msg_len != want_len)) {
		ep->st.drop_msg_len++;
		return -EBADMSG;
	}
	/* Fragments sit at multiples of FRAG and are full except the last;
	 * with these checks a fragment can never write outside its message. */
	if (h->frag_off % FRAG ||
	    (h->msg_len ? h->frag_off >= h->msg_len : h->frag_off != 0) ||
	    h->frag_len != rpc_frag_len(h->msg_len, h->frag_off / FRAG) ||
	    len != HDR_LEN + h->frag_len) {
		ep->st.drop_frag++;
		return -EBADMSG;
	}
	/* PROBE and STATE are single-fragment: check their payload now. */
	if (want_len && lego_rpc_csum(buf + HDR_LEN, h->frag_len) != h->msg_csum) {
		ep->st.drop_msg_csum++;
		return -EBADMSG;
	}
	return 0;
}

static void rpc_hdr_init(struct gm_rpc_ep *ep, struct lego_rpc_hdr *h,
			 uint8_t type, uint16_t opcode, uint32_t epoch,
			 uint64_t call_id, uint32_t msg_len, uint32_t msg_csum)
{
	memset(h, 0, sizeof(*h));
	h->magic = LEGO_RPC_MAGIC;
	h->version = LEGO_RPC_VERSION;
	h->type = type;
	h->opcode = opcode;
	h->src_node = ep->src_node;
	h->client_epoch = epoch;
	h->call_id = call_id;
	h->msg_len = msg_len;
	h->msg_csum = msg_csum;
}

/* Sends fragment idx of the message described by h (whose payload is msg).
 * A failed send is counted and otherwise treated like a lost datagram. */
static void rpc_send_frag(struct gm_rpc_ep *ep, uint32_t ip, uint16_t port,
			  struct lego_rpc_hdr *h, const uint8_t *msg, unsigned idx)
{
	uint8_t hdr[HDR_LEN];
	struct sockaddr_in to;
	struct iovec iov[2];
	struct msghdr mh;

	h->frag_off = idx * FRAG;
	h->frag_len = (uint16_t)rpc_frag_len(h->msg_len, idx);
	rpc_hdr_encode(hdr, h);

	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_addr.s_addr = ip;
	to.sin_port = port;
	iov[0].iov_base = hdr;
	iov[0].iov_len = HDR_LEN;
	iov[1].iov_base = (void *)(msg ? msg + h->frag_off : NULL);
	iov[1].iov_len = h->frag_len;
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &to;
	mh.msg_namelen = sizeof(to);
	mh.msg_iov = iov;
	mh.msg_iovlen = h->frag_len ? 2 : 1;
	for (;;) {
		if (sendmsg(ep->fd, &mh, 0) >= 0) {
			ep->st.tx_datagrams++;
			return;
		}
		if (errno != EINTR)
			break;
	}
	ep->st.tx_errors++;
}

/* ------------------------------------------------------------------ */
/* Server: call table                                                  */
/* ------------------------------------------------------------------ */

static unsigned srv_hash(const struct rpc_key *k)
{
	uint64_t h = k->call_id * 0x9e3779b97f4a7c15ull;

	h ^= (((uint64_t)k->ip << 16) | k->port) * 0xc2b2ae3d27d4eb4full;
	h ^= (uint64_t)k->epoch * 0x165667b19e3779f9ull;
	return (unsigned)(h >> 40) % HASH_BUCKETS;
}

static bool srv_key_eq(const struct rpc_key *a, const struct rpc_key *b)
{
	return a->ip == b->ip && a->port == b->port && a->epoch == b->epoch &&
		a->call_id == b->call_id;
}

static struct srv_call *srv_lookup(struct gm_rpc_ep *ep, const struct rpc_key *k)
{
	struct srv_call *c;

	for (c = ep->hash[srv_hash(k)]; c; c = c->hnext)
		if (srv_key_eq(&c->key, k))
			return c;
	return NULL;
}

static void list_append(struct srv_list *l, struct srv_call *c, size_t bytes)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
	l->count++;
	l->bytes += bytes;
}

static void list_remove(struct srv_list *l, struct srv_call *c, size_t bytes)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
	l->count--;
	l->bytes -= bytes;
}

static struct srv_list *srv_list_of(struct gm_rpc_ep *ep, const struct srv_call *c)
{
	return c->state == SRV_PARTIAL ? &ep->partials : &ep->cache;
}

/* Bytes a call is charged against its list's budget. Running calls are
 * charged nothing: their request buffer is about to be freed. */
static size_t srv_bytes(const struct srv_call *c)
{
	return c->state == SRV_RUNNING ? 0 : c->msg_len;
}

static void srv_destroy(struct gm_rpc_ep *ep, struct srv_call *c)
{
	struct srv_call **pp = &ep->hash[srv_hash(&c->key)];

	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	list_remove(srv_list_of(ep, c), c, srv_bytes(c));
	free(c->buf);
	free(c);
}

static void srv_free_all(struct gm_rpc_ep *ep)
{
	while (ep->partials.head)
		srv_destroy(ep, ep->partials.head);
	while (ep->cache.head)
		srv_destroy(ep, ep->cache.head);
}

/* Frees the oldest cached reply other than keep that is not running
 * (handlers still use those). Returns false if there is none. */
static bool srv_evict_one_cached(struct gm_rpc_ep *ep, const struct srv_call *keep)
{
	struct srv_call *c;

	for (c = ep->cache.head; c; c = c->next) {
		if (c->state == SRV_DONE && c != keep) {
			srv_destroy(ep, c);
			ep->st.cache_evicted++;
			return true;
		}
	}
	return false;
}

static void srv_expire(struct gm_rpc_ep *ep, uint64_t now)
{
	uint64_t ptmo = ep->lim.partial_timeout_ms * NS_PER_MS;
	uint64_t ttl = ep->lim.cache_ttl_ms * NS_PER_MS;
	struct srv_call *c, *next;

	/* Both lists are kept in t_last order (running calls excepted), so
	 * the scan stops at the first live entry. */
	while ((c = ep->partials.head) && now - c->t_last > ptmo) {
		srv_destroy(ep, c);
		ep->st.partial_expired++;
	}
	for (c = ep->cache.head; c; c = next) {
		next = c->next;
		if (c->state == SRV_RUNNING)
			continue;
		if (now - c->t_last <= ttl)
			break;
		srv_destroy(ep, c);
		ep->st.cache_expired++;
	}
	ep->next_expire = now + 100 * NS_PER_MS;
}

/* ------------------------------------------------------------------ */
/* Server: protocol                                                    */
/* ------------------------------------------------------------------ */

static const struct srv_handler *srv_find_handler(struct gm_rpc_ep *ep, uint16_t op)
{
	for (unsigned i = 0; i < ep->nhandlers; i++)
		if (ep->handlers[i].opcode == op)
			return &ep->handlers[i];
	return NULL;
}

int gm_rpc_serve_register(struct gm_rpc_ep *ep, uint16_t opcode,
			  gm_rpc_handler_fn fn, void *arg, size_t max_reply)
{
	unsigned i;

	if (!ep || max_reply > LEGO_RPC_MAX_MSG)
		return -EINVAL;
	for (i = 0; i < ep->nhandlers; i++)
		if (ep->handlers[i].opcode == opcode)
			break;
	if (!fn) {
		if (i == ep->nhandlers)
			return -ENOENT;
		ep->handlers[i] = ep->handlers[--ep->nhandlers];
		return 0;
	}
	if (i < ep->nhandlers)
		return -EEXIST;
	if (ep->nhandlers == MAX_HANDLERS)
		return -ENOSPC;
	ep->handlers[i] = (struct srv_handler){ opcode, fn, arg, max_reply };
	/* A serving endpoint stays serving (and answers -ENOSYS) even if its
	 * handlers are later removed: clients then get an answer, not silence. */
	ep->nhandlers++;
	return 0;
}

static void srv_send_reply_frags(struct gm_rpc_ep *ep, const struct srv_call *c,
				 const uint8_t *skip, bool resend)
{
	struct lego_rpc_hdr h;
	unsigned n = rpc_nfrags(c->msg_len);

	rpc_hdr_init(ep, &h, LEGO_RPC_REPLY, c->opcode, c->key.epoch,
		     c->key.call_id, c->msg_len, c->msg_csum);
	h.status = c->status;
	for (unsigned i = 0; i < n; i++) {
		if (skip && bm_test(skip, i))
			continue;
		rpc_send_frag(ep, c->key.ip, c->key.port, &h, c->buf, i);
		if (resend)
			ep->st.reply_frags_resent++;
		else
			ep->st.reply_frags_sent++;
	}
}

static void srv_send_state(struct gm_rpc_ep *ep, const struct rpc_key *k,
			   uint16_t opcode, uint32_t code, const uint8_t *have)
{
	struct lego_rpc_state s;
	struct lego_rpc_hdr h;

	memset(&s, 0, sizeof(s));
	s.code = htole32(code);
	if (have)
		memcpy(s.have, have, sizeof(s.have));
	rpc_hdr_init(ep, &h, LEGO_RPC_STATE, opcode, k->epoch, k->call_id,
		     sizeof(s), lego_rpc_csum(&s, sizeof(s)));
	rpc_send_frag(ep, k->ip, k->port, &h, (const uint8_t *)&s, 0);
	ep->st.states_sent++;
}

/*
 * Runs the handler of call c (state RUNNING, in the cache list) on its
 * request data, turns c into a cached reply and sends it. c stays valid
 * throughout: nested processing never frees running calls.
 */
static void srv_execute(struct gm_rpc_ep *ep, struct srv_call *c,
			const struct sockaddr_in *from, const uint8_t *data,
			uint32_t len)
{
	const struct srv_handler *hd = srv_find_handler(ep, c->opcode);
	struct gm_rpc_req req;
	uint8_t *reply = NULL;
	size_t reply_len = 0, max_reply = 0;
	int status;

	ep->st.req_executed++;
	if (!hd) {
		ep->st.req_unknown_opcode++;
		status = -ENOSYS;
	} else {
		/* Copy what the handler needs: the table may change under it. */
		gm_rpc_handler_fn fn = hd->fn;
		void *arg = hd->arg;

		max_reply = hd->max_reply;
		reply = malloc(max_reply ? max_reply : 1);
		if (!reply) {
			status = -ENOMEM;
		} else {
			memset(&req, 0, sizeof(req));
			req.from = *from;
			req.src_node = c->src_node;
			req.client_epoch = c->key.epoch;
			req.call_id = c->key.call_id;
			req.opcode = c->opcode;
			req.data = data;
			req.len = len;
			ep->nest++;
			status = fn(ep, arg, &req, reply, max_reply, &reply_len);
			ep->nest--;
			/* Contract violations become an I/O error for the
			 * caller instead of a malformed reply. */
			if (status > 0 || reply_len > max_reply) {
				status = -EIO;
				reply_len = 0;
			}
		}
	}

	/* Running -> done: swap the request buffer for the reply, move to the
	 * tail (it is now the youngest reply), and make room if needed. */
	list_remove(&ep->cache, c, srv_bytes(c));
	free(c->buf);
	c->buf = reply;
	if (reply && reply_len == 0) {
		free(reply);
		c->buf = NULL;
	} else if (reply && reply_len < max_reply / 2) {
		uint8_t *shrunk = realloc(reply, reply_len);
		if (shrunk)
			c->buf = shrunk;
	}
	c->state = SRV_DONE;
	c->status = status;
	c->msg_len = (uint32_t)reply_len;
	c->msg_csum = lego_rpc_csum(c->buf, reply_len);
	c->t_last = rpc_now_ns();
	list_append(&ep->cache, c, srv_bytes(c));
	while (ep->cache.bytes > ep->lim.max_cache_bytes && srv_evict_one_cached(ep, c))
		;
	srv_send_reply_frags(ep, c, NULL, false);
}

/* Makes room for one more call in the cache list (running calls count).
 * Returns false if every entry is a running call. */
static bool srv_cache_room(struct gm_rpc_ep *ep)
{
	while (ep->cache.count >= ep->lim.max_cache_entries)
		if (!srv_evict_one_cached(ep, NULL))
			return false;
	return true;
}

static struct srv_call *srv_new_call(struct gm_rpc_ep *ep, const struct rpc_key *k,
				     const struct lego_rpc_hdr *h)
{
	struct srv_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->key = *k;
	c->opcode = h->opcode;
	c->src_node = h->src_node;
	c->msg_len = h->msg_len;
	c->msg_csum = h->msg_csum;
	c->nfrags = rpc_nfrags(h->msg_len);
	c->t_last = rpc_now_ns();
	return c;
}

static void srv_insert(struct gm_rpc_ep *ep, struct srv_call *c)
{
	unsigned b = srv_hash(&c->key);

	c->hnext = ep->hash[b];
	ep->hash[b] = c;
	list_append(srv_list_of(ep, c), c, srv_bytes(c));
}

static void srv_request(struct gm_rpc_ep *ep, const struct lego_rpc_hdr *h,
			const uint8_t *payload, const struct rpc_key *k,
			const struct sockaddr_in *from)
{
	struct srv_call *c = srv_lookup(ep, k);
	unsigned idx = h->frag_off / FRAG;

	if (c && (c->state != SRV_PARTIAL ? c->opcode != h->opcode :
		  c->opcode != h->opcode || c->msg_len != h->msg_len ||
		  c->msg_csum != h->msg_csum)) {
		ep->st.drop_inconsistent++;
		return;
	}
	if (c && c->state == SRV_DONE) {
		/* The client resent its request, so it misses the reply. One
		 * full resend per copy of fragment 0 (not per fragment) keeps a
		 * resent multi-fragment request from multiplying the reply. */
		ep->st.req_dup_frags++;
		if (idx == 0)
			srv_send_reply_frags(ep, c, NULL, true);
		return;
	}
	if (c && c->state == SRV_RUNNING) {
		/* A client only resends a single-fragment request, never
		 * probing for it until a reply fragment arrives: without this
		 * answer a handler running longer than the caller's timeout
		 * would look like a dead server. */
		ep->st.req_dup_frags++;
		if (idx == 0)
			srv_send_state(ep, k, c->opcode, LEGO_RPC_STATE_RUNNING, NULL);
		return;
	}
	if (c && bm_test(c->have, idx)) {
		ep->st.req_dup_frags++;
		return;
	}

	/* This fragment is new. Does it complete the request? */
	bool completes = c ? c->nhave + 1 == c->nfrags : rpc_nfrags(h->msg_len) == 1;
	if (completes && (ep->nest >= MAX_NEST || !srv_cache_room(ep))) {
		/* Not stored: the client's probe will show it missing. */
		ep->st.drop_busy++;
		return;
	}

	if (!c && completes) {
		/* Single-fragment request: run it straight from the datagram. */
		if (lego_rpc_csum(payload, h->frag_len) != h->msg_csum) {
			ep->st.drop_msg_csum++;
			return;
		}
		c = srv_new_call(ep, k, h);
		if (!c) {
			ep->st.drop_nomem++;
			return;
		}
		c->state = SRV_RUNNING;
		srv_insert(ep, c);
		srv_execute(ep, c, from, payload, h->msg_len);
		return;
	}

	if (!c) {
		/* First fragment of a multi-fragment request. Oldest partials
		 * give way: their clients will find out by probing. */
		while (ep->partials.head &&
		       (ep->partials.count >= ep->lim.max_partials ||
			ep->partials.bytes + h->msg_len > ep->lim.max_partial_bytes)) {
			srv_destroy(ep, ep->partials.head);
			ep->st.partial_evicted++;
		}
		c = srv_new_call(ep, k, h);
		if (c) {
			c->buf = malloc(h->msg_len);
			if (!c->buf) {
				free(c);
				c = NULL;
			}
		}
		if (!c) {
			ep->st.drop_nomem++;
			return;
		}
		c->state = SRV_PARTIAL;
		srv_insert(ep, c);
	}

	memcpy(c->buf + h->frag_off, payload, h->frag_len);
	bm_set(c->have, idx);
	c->nhave++;
	c->t_last = rpc_now_ns();
	list_remove(&ep->partials, c, srv_bytes(c));
	list_append(&ep->partials, c, srv_bytes(c));
	if (c->nhave < c->nfrags)
		return;

	if (lego_rpc_csum(c->buf, c->msg_len) != c->msg_csum) {
		/* Forget it all; the client probes, hears UNKNOWN, resends. */
		ep->st.drop_msg_csum++;
		srv_destroy(ep, c);
		return;
	}
	list_remove(&ep->partials, c, srv_bytes(c));
	c->state = SRV_RUNNING;
	list_append(&ep->cache, c, srv_bytes(c));
	srv_execute(ep, c, from, c->buf, c->msg_len);
}

static void srv_probe(struct gm_rpc_ep *ep, const struct lego_rpc_hdr *h,
		      const uint8_t *payload, const struct rpc_key *k)
{
	struct srv_call *c = srv_lookup(ep, k);
	struct lego_rpc_probe p;

	ep->st.probes_rcvd++;
	if (c && c->opcode != h->opcode) {
		ep->st.drop_inconsistent++;
		return;
	}
	if (!c) {
		srv_send_state(ep, k, h->opcode, LEGO_RPC_STATE_UNKNOWN, NULL);
		return;
	}
	switch (c->state) {
	case SRV_DONE:
		memcpy(&p, payload, sizeof(p));
		srv_send_reply_frags(ep, c, p.have, true);
		break;
	case SRV_RUNNING:
		srv_send_state(ep, k, h->opcode, LEGO_RPC_STATE_RUNNING, NULL);
		break;
	case SRV_PARTIAL:
		srv_send_state(ep, k, h->opcode, LEGO_RPC_STATE_PARTIAL, c->have);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Client: protocol                                                    */
/* ------------------------------------------------------------------ */

static void cli_send_request(struct gm_rpc_ep *ep, struct cli_call *cc,
			     const uint8_t *skip, bool resend)
{
	struct lego_rpc_hdr h;

	rpc_hdr_init(ep, &h, LEGO_RPC_REQUEST, cc->opcode, ep->epoch,
		     cc->call_id, cc->req_len, cc->req_csum);
	for (unsigned i = 0; i < cc->req_nfrags; i++) {
		if (skip && bm_test(skip, i))
			continue;
		rpc_send_frag(ep, cc->dst_ip, cc->dst_port, &h, cc->req, i);
		if (resend)
			ep->st.req_frags_resent++;
	}
}

static void cli_send_probe(struct gm_rpc_ep *ep, struct cli_call *cc)
{
	struct lego_rpc_probe p;
	struct lego_rpc_hdr h;

	memcpy(p.have, cc->have, sizeof(p.have));
	rpc_hdr_init(ep, &h, LEGO_RPC_PROBE, cc->opcode, ep->epoch, cc->call_id,
		     sizeof(p), lego_rpc_csum(&p, sizeof(p)));
	rpc_send_frag(ep, cc->dst_ip, cc->dst_port, &h, (const uint8_t *)&p, 0);
	ep->st.probes_sent++;
}

static void cli_reset_reply(struct cli_call *cc)
{
	cc->meta_valid = false;
	cc->rep_nhave = 0;
	memset(cc->have, 0, sizeof(cc->have));
}

static void cli_life(struct cli_call *cc, uint64_t now)
{
	cc->life_deadline = now + cc->timeout_ns;
}

static void cli_reply(struct gm_rpc_ep *ep, struct cli_call *cc,
		      const struct lego_rpc_hdr *h, const uint8_t *payload)
{
	unsigned idx = h->frag_off / FRAG;
	uint64_t now = rpc_now_ns();

	cli_life(cc, now);
	if (h->msg_len > cc->reply_max) {
		cc->rep_len = h->msg_len;
		cc->result = -EMSGSIZE;
		cc->too_big = true;
		cc->done = true;
		return;
	}
	if (cc->meta_valid && (cc->rep_len != h->msg_len || cc->rep_csum != h->msg_csum ||
			       cc->rep_status != h->status)) {
		/* Not the reply we were assembling. Only a server that lost
		 * its cache and ran the call again sends a different reply,
		 * and then it is the one it will keep serving: adopt it. */
		ep->st.drop_inconsistent++;
		ep->st.reply_restarts++;
		cli_reset_reply(cc);
	}
	if (!cc->meta_valid) {
		cc->meta_valid = true;
		cc->rep_len = h->msg_len;
		cc->rep_csum = h->msg_csum;
		cc->rep_status = h->status;
		cc->rep_nfrags = rpc_nfrags(h->msg_len);
	}
	if (bm_test(cc->have, idx))
		return;
	if (h->frag_len)
		memcpy(cc->reply + h->frag_off, payload, h->frag_len);
	bm_set(cc->have, idx);
	cc->rep_nhave++;
	/* Progress: the path works, so retransmit eagerly again. */
	cc->rto_ns = GM_RPC_RTO_INIT_MS * NS_PER_MS;
	if (cc->rto_ns > cc->rto_cap_ns)
		cc->rto_ns = cc->rto_cap_ns;
	cc->next_rtx = now + cc->rto_ns;
	if (cc->rep_nhave < cc->rep_nfrags)
		return;
	if (lego_rpc_csum(cc->reply, cc->rep_len) != cc->rep_csum) {
		ep->st.drop_msg_csum++;
		ep->st.reply_restarts++;
		cli_reset_reply(cc);
		cc->probe_now = true;
		return;
	}
	cc->result = cc->rep_status;
	cc->done = true;
}

static void cli_state(struct gm_rpc_ep *ep, struct cli_call *cc,
		      const struct lego_rpc_hdr *h, const uint8_t *payload)
{
	struct lego_rpc_state s;
	uint32_t code;

	memcpy(&s, payload, sizeof(s));
	code = le32toh(s.code);
	if (code > LEGO_RPC_STATE_RUNNING) {
		ep->st.drop_field++;
		return;
	}
	ep->st.states_rcvd++;
	cli_life(cc, rpc_now_ns());
	if (code == LEGO_RPC_STATE_UNKNOWN)
		cli_send_request(ep, cc, NULL, true);
	else if (code == LEGO_RPC_STATE_PARTIAL)
		cli_send_request(ep, cc, s.have, true);
}

/* ------------------------------------------------------------------ */
/* Receive path shared by client and server                            */
/* ------------------------------------------------------------------ */

static int rpc_rx(struct gm_rpc_ep *ep, const uint8_t *buf, size_t len,
		  const struct sockaddr_in *from)
{
	struct cli_call *cc = ep->call;
	struct lego_rpc_hdr h;
	struct rpc_key k;
	uint64_t before = rpc_drops(&ep->st);

	ep->st.rx_datagrams++;
	if (rpc_validate(ep, buf, len, &h) < 0)
		return -EBADMSG;
	const uint8_t *payload = buf + HDR_LEN;

	switch (h.type) {
	case LEGO_RPC_REQUEST:
	case LEGO_RPC_PROBE: {
		uint64_t t0;

		if (!ep->nhandlers) {
			ep->st.drop_not_server++;
			break;
		}
		k.ip = from->sin_addr.s_addr;
		k.port = from->sin_port;
		k.epoch = h.client_epoch;
		k.call_id = h.call_id;
		t0 = rpc_now_ns();
		if (t0 >= ep->next_expire)
			srv_expire(ep, t0);
		if (h.type == LEGO_RPC_REQUEST)
			srv_request(ep, &h, payload, &k, from);
		else
			srv_probe(ep, &h, payload, &k);
		/* Time spent serving (maybe a long handler) is not the
		 * waiting call's server being silent: don't charge it. */
		if (cc) {
			uint64_t dt = rpc_now_ns() - t0;
			cc->life_deadline += dt;
			cc->next_rtx += dt;
		}
		break;
	}
	case LEGO_RPC_REPLY:
	case LEGO_RPC_STATE:
		if (!cc || cc->done || h.client_epoch != ep->epoch ||
		    h.call_id != cc->call_id || h.opcode != cc->opcode ||
		    from->sin_addr.s_addr != cc->dst_ip || from->sin_port != cc->dst_port) {
			ep->st.drop_stale++;
			break;
		}
		if (h.type == LEGO_RPC_REPLY)
			cli_reply(ep, cc, &h, payload);
		else
			cli_state(ep, cc, &h, payload);
		break;
	}
	return rpc_drops(&ep->st) != before ? -EBADMSG : 0;
}

int gm_rpc_serve_datagram(struct gm_rpc_ep *ep, const void *buf, size_t len,
			  const struct sockaddr_in *from)
{
	if (!ep || (!buf && len) || !from)
		return -EINVAL;
	return rpc_rx(ep, buf, len, from);
}

/* Reads and processes queued datagrams (at most DRAIN_BATCH, and stopping
 * early once the waiting call is done). Returns how many, or -errno. */
static int rpc_drain(struct gm_rpc_ep *ep, struct cli_call *cc)
{
	/* On the stack, not in ep: a handler run from here may drain again. */
	uint8_t buf[MAX_DGRAM + 1];
	int n = 0;

	while (n < DRAIN_BATCH && !(cc && cc->done)) {
		struct sockaddr_in from;
		socklen_t fromlen = sizeof(from);
		ssize_t r;

		memset(&from, 0, sizeof(from));
		r = recvfrom(ep->fd, buf, sizeof(buf), MSG_DONTWAIT | MSG_TRUNC,
			     (struct sockaddr *)&from, &fromlen);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			/* e.g. ECONNREFUSED from an ICMP error: not fatal. */
			if (errno == ECONNREFUSED || errno == EHOSTUNREACH ||
			    errno == ENETUNREACH)
				continue;
			return n ? n : -errno;
		}
		n++;
		if (from.sin_family != AF_INET || fromlen < sizeof(from)) {
			ep->st.rx_datagrams++;
			ep->st.drop_size++;
			continue;
		}
		/* MSG_TRUNC makes r the real size: oversize is caught below. */
		rpc_rx(ep, buf, (size_t)r, &from);
	}
	return n;
}

int gm_rpc_poll(struct gm_rpc_ep *ep, int timeout_ms)
{
	struct pollfd pfd;
	int r;

	if (!ep)
		return -EINVAL;
	if (ep->nhandlers) {
		uint64_t now = rpc_now_ns();
		if (now >= ep->next_expire)
			srv_expire(ep, now);
	}
	pfd.fd = ep->fd;
	pfd.events = POLLIN;
	r = poll(&pfd, 1, timeout_ms < 0 ? -1 : timeout_ms);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	return rpc_drain(ep, NULL);
}

/* ------------------------------------------------------------------ */
/* Client: the call                                                    */
/* ------------------------------------------------------------------ */

int gm_rpc_call(struct gm_rpc_ep *ep, uint32_t dst_ipv4, uint16_t dst_port,
		uint16_t opcode, const void *req, size_t req_len,
		void *reply, size_t reply_max, size_t *reply_len, int timeout_ms)
{
	struct cli_call cc;
	struct cli_call *saved;

	if (reply_len)
		*reply_len = 0;
	if (!ep || (!req && req_len) || (!reply && reply_max) ||
	    req_len > LEGO_RPC_MAX_MSG || timeout_ms <= 0)
		return -EINVAL;

	memset(&cc, 0, sizeof(cc));
	cc.dst_ip = dst_ipv4;
	cc.dst_port = htons(dst_port ? dst_port : LEGO_RPC_PORT);
	cc.opcode = opcode;
	cc.call_id = ++ep->last_call_id;
	cc.req = req;
	cc.req_len = (uint32_t)req_len;
	cc.req_csum = lego_rpc_csum(req, req_len);
	cc.req_nfrags = rpc_nfrags(cc.req_len);
	cc.reply = reply;
	cc.reply_max = reply_max;
	cc.timeout_ns = (uint64_t)timeout_ms * NS_PER_MS;
	cc.rto_ns = GM_RPC_RTO_INIT_MS * NS_PER_MS;
	/* A busy server only says "RUNNING" when asked, so ask at least three
	 * times per timeout window, or a short timeout would expire on the
	 * client's own silence. */
	cc.rto_cap_ns = GM_RPC_RTO_MAX_MS * NS_PER_MS;
	if (cc.rto_cap_ns > cc.timeout_ns / 3)
		cc.rto_cap_ns = cc.timeout_ns / 3 ? cc.timeout_ns / 3 : 1;
	if (cc.rto_ns > cc.rto_cap_ns)
		cc.rto_ns = cc.rto_cap_ns;

	saved = ep->call;
	ep->call = &cc;
	ep->st.calls++;
	cli_life(&cc, rpc_now_ns());
	cli_send_request(ep, &cc, NULL, false);
	cc.next_rtx = rpc_now_ns() + cc.rto_ns;

	while (!cc.done) {
		uint64_t now = rpc_now_ns();
		uint64_t wake;
		struct pollfd pfd;
		int r;

		if (now >= cc.life_deadline) {
			cc.result = -ETIMEDOUT;
			break;
		}
		if (cc.probe_now || now >= cc.next_rtx) {
			/* With nothing back yet and a one-datagram request,
			 * resending is as cheap as probing and saves a round
			 * trip; otherwise ask what the server lacks. */
			if (!cc.probe_now && cc.rep_nhave == 0 && cc.req_nfrags == 1)
				cli_send_request(ep, &cc, NULL, true);
			else
				cli_send_probe(ep, &cc);
			if (!cc.probe_now) {
				cc.rto_ns *= 2;
				if (cc.rto_ns > cc.rto_cap_ns)
					cc.rto_ns = cc.rto_cap_ns;
			}
			cc.probe_now = false;
			cc.next_rtx = now + cc.rto_ns;
			continue;
		}
		wake = cc.next_rtx < cc.life_deadline ? cc.next_rtx : cc.life_deadline;
		pfd.fd = ep->fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, (int)((wake - now + NS_PER_MS - 1) / NS_PER_MS));
		if (r < 0 && errno != EINTR) {
			cc.result = -errno;
			break;
		}
		if (r > 0) {
			r = rpc_drain(ep, &cc);
			if (r < 0) {
				cc.result = r;
				break;
			}
		}
	}
	ep->call = saved;

	/* Reply bytes held, or the size needed when they did not fit. */
	if (reply_len && cc.done)
		*reply_len = cc.rep_len;
	if (cc.too_big)
		ep->st.calls_msgsize++;
	else if (cc.done && cc.result == 0)
		ep->st.calls_ok++;
	else if (cc.done)
		ep->st.calls_remote_error++;
	else if (cc.result == -ETIMEDOUT)
		ep->st.calls_timedout++;
	return cc.result;
}
