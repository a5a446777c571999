/*
 * Unit tests for gm/lib/rpc.c, the Linux-side LegoOS RPC endpoint, over
 * real loopback UDP sockets. Servers run in threads of this process; a
 * forwarding shim thread drops, duplicates and reorders datagrams; a "raw"
 * UDP socket plays a hand-written peer to exercise the protocol's corners
 * and feed the endpoints garbage.
 *
 * Datagrams are crafted here independently of the library (struct
 * lego_rpc_hdr is the wire layout on this little-endian host), so an
 * encoding mistake shared by client and server would still be caught.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

/* Relative: the unit-test build has no -I for gm/include. */
#include "../../gm/include/gm/rpc.h"

#define LO htonl(INADDR_LOOPBACK)
#define HDR ((uint32_t)sizeof(struct lego_rpc_hdr))
#define FRAG LEGO_RPC_FRAG_PAYLOAD

/* Test opcodes (outside every registered range). */
#define OP_SLOW 0x7f01		/* req: u32 ms; polls the endpoint that long, replies "slow" */
#define OP_BIG 0x7f02		/* req: u32 n; reply: n pattern bytes */
#define OP_RELAY 0x7f03		/* req: u16 port, then payload; pings 127.0.0.1:port with it */
#define OP_NONE 0x7f7f		/* never registered */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* xorshift64*: a seeded PRNG so every lossy run is reproducible. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static uint8_t pat(uint64_t seed, size_t i)
{
	return (uint8_t)((i * 251u) ^ (i >> 9) ^ (seed * 77u) ^ 0x3c);
}

static void fill(uint8_t *b, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = pat(seed, i);
}

static bool check(const uint8_t *b, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat(seed, i))
			return false;
	return true;
}

/* ------------------------------------------------------------------ */
/* A test server in a thread                                           */
/* ------------------------------------------------------------------ */

struct tsrv {
	struct gm_rpc_ep *ep;
	uint16_t port;
	pthread_t tid;
	atomic_bool stop;
	atomic_uint pings, slows, bigs, relays;
};

static int h_ping(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		  void *reply, size_t reply_max, size_t *reply_len)
{
	struct tsrv *s = arg;

	atomic_fetch_add(&s->pings, 1);
	memcpy(reply, req->data, req->len);
	*reply_len = req->len;
	return 0;
}

static int h_slow(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		  void *reply, size_t reply_max, size_t *reply_len)
{
	struct tsrv *s = arg;
	uint32_t ms;
	uint64_t end;

	atomic_fetch_add(&s->slows, 1);
	if (req->len != sizeof(ms))
		return -EINVAL;
	memcpy(&ms, req->data, sizeof(ms));
	/* Keep the endpoint served while "working", as a real long handler
	 * must for probes to be answered RUNNING. */
	for (end = now_ms() + ms; now_ms() < end;)
		gm_rpc_poll(ep, 5);
	memcpy(reply, "slow", 4);
	*reply_len = 4;
	return 0;
}

static int h_big(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		 void *reply, size_t reply_max, size_t *reply_len)
{
	struct tsrv *s = arg;
	uint32_t n;

	atomic_fetch_add(&s->bigs, 1);
	if (req->len != sizeof(n))
		return -EINVAL;
	memcpy(&n, req->data, sizeof(n));
	if (n > reply_max)
		return -E2BIG;
	fill(reply, n, n);
	*reply_len = n;
	return 0;
}

/* A handler that itself calls out on its own (serving) endpoint. */
static int h_relay(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		   void *reply, size_t reply_max, size_t *reply_len)
{
	struct tsrv *s = arg;
	uint16_t port;

	atomic_fetch_add(&s->relays, 1);
	if (req->len < sizeof(port))
		return -EINVAL;
	memcpy(&port, req->data, sizeof(port));
	return gm_rpc_call(ep, LO, port, LEGO_OP_PING, (const uint8_t *)req->data + 2,
			   req->len - 2, reply, reply_max, reply_len, 2000);
}

static void *tsrv_main(void *p)
{
	struct tsrv *s = p;

	while (!atomic_load(&s->stop))
		gm_rpc_poll(s->ep, 5);
	return NULL;
}

/* Starts a server on an ephemeral loopback port; lim may be NULL. */
static struct tsrv *tsrv_start(const struct gm_rpc_limits *lim)
{
	struct tsrv *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	assert_int_equal(gm_rpc_open(&s->ep, LO, 0), 0);
	s->port = gm_rpc_port(s->ep);
	assert_int_not_equal(s->port, 0);
	gm_rpc_set_src_node(s->ep, 77);
	if (lim)
		assert_int_equal(gm_rpc_set_limits(s->ep, lim), 0);
	assert_int_equal(gm_rpc_serve_register(s->ep, LEGO_OP_PING, h_ping, s, LEGO_RPC_MAX_MSG), 0);
	assert_int_equal(gm_rpc_serve_register(s->ep, OP_SLOW, h_slow, s, 16), 0);
	assert_int_equal(gm_rpc_serve_register(s->ep, OP_BIG, h_big, s, LEGO_RPC_MAX_MSG), 0);
	assert_int_equal(gm_rpc_serve_register(s->ep, OP_RELAY, h_relay, s, LEGO_RPC_MAX_MSG), 0);
	assert_int_equal(pthread_create(&s->tid, NULL, tsrv_main, s), 0);
	return s;
}

/* Stops the thread (so its endpoint can be inspected) without closing. */
static void tsrv_stop(struct tsrv *s, struct gm_rpc_stats *st)
{
	atomic_store(&s->stop, true);
	pthread_join(s->tid, NULL);
	if (st)
		gm_rpc_stats(s->ep, st);
}

static void tsrv_free(struct tsrv *s)
{
	gm_rpc_close(s->ep);
	free(s);
}

static struct gm_rpc_ep *client(void)
{
	struct gm_rpc_ep *ep;

	assert_int_equal(gm_rpc_open(&ep, LO, 0), 0);
	return ep;
}

/* One echo call of n bytes with a pattern, checked. Returns the status. */
static int ping_n(struct gm_rpc_ep *ep, uint16_t port, size_t n, uint64_t seed, int tmo)
{
	uint8_t *req = malloc(n + 1), *rep = malloc(n + 1);
	size_t got = 12345;
	int r;

	assert_non_null(req);
	assert_non_null(rep);
	fill(req, n, seed);
	memset(rep, 0, n + 1);
	r = gm_rpc_call(ep, LO, port, LEGO_OP_PING, req, n, rep, n, &got, tmo);
	if (r == 0) {
		assert_int_equal(got, n);
		assert_true(check(rep, n, seed));
	}
	free(req);
	free(rep);
	return r;
}

/* ------------------------------------------------------------------ */
/* A raw UDP socket playing a hand-written peer                        */
/* ------------------------------------------------------------------ */

static int raw_open(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = LO };
	socklen_t len = sizeof(sa);
	int big = 4 << 20;

	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	if (port)
		*port = ntohs(sa.sin_port);
	return fd;
}

static void raw_send(int fd, const void *buf, size_t len, uint16_t port)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = LO,
				  .sin_port = htons(port) };

	assert_int_equal(sendto(fd, buf, len, 0, (struct sockaddr *)&to, sizeof(to)),
			 (ssize_t)len);
}

/* Receives one datagram within tmo ms: its length, or -1 on timeout. */
static ssize_t raw_recv(int fd, void *buf, size_t max, int tmo, uint16_t *from_port)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	ssize_t r;

	if (poll(&pfd, 1, tmo) <= 0)
		return -1;
	r = recvfrom(fd, buf, max, 0, (struct sockaddr *)&from, &flen);
	if (from_port)
		*from_port = ntohs(from.sin_port);
	return r;
}

static void reseal(uint8_t *d)
{
	struct lego_rpc_hdr h;

	memcpy(&h, d, HDR);
	h.hdr_csum = 0;
	memcpy(d, &h, HDR);
	h.hdr_csum = lego_rpc_csum(d, HDR);
	memcpy(d, &h, HDR);
}

/* Builds fragment idx of a message into d; returns the datagram length. */
static size_t mk(uint8_t *d, uint8_t type, uint16_t op, uint32_t epoch, uint64_t call_id,
		 const void *msg, uint32_t msg_len, unsigned idx, int32_t status)
{
	struct lego_rpc_hdr h;
	uint32_t off = idx * FRAG;
	uint32_t flen = msg_len - off < FRAG ? msg_len - off : FRAG;

	memset(&h, 0, sizeof(h));
	h.magic = LEGO_RPC_MAGIC;
	h.version = LEGO_RPC_VERSION;
	h.type = type;
	h.opcode = op;
	h.client_epoch = epoch;
	h.call_id = call_id;
	h.msg_len = msg_len;
	h.frag_off = off;
	h.frag_len = (uint16_t)flen;
	h.status = status;
	h.msg_csum = lego_rpc_csum(msg, msg_len);
	memcpy(d, &h, HDR);
	if (flen)
		memcpy(d + HDR, (const uint8_t *)msg + off, flen);
	reseal(d);
	return HDR + flen;
}

static struct lego_rpc_hdr hdr_of(const uint8_t *d)
{
	struct lego_rpc_hdr h;

	memcpy(&h, d, HDR);
	return h;
}

/* Patches a header field (by offset/size) and reseals, so that only that
 * field is wrong. */
static void patch(uint8_t *d, size_t off, uint64_t val, size_t size)
{
	memcpy(d + off, &val, size);
	reseal(d);
}
#define PATCH(d, field, val) \
	patch(d, offsetof(struct lego_rpc_hdr, field), (uint64_t)(val), \
	      sizeof(((struct lego_rpc_hdr *)0)->field))

/* Collects the reply datagrams to one call into msg; returns how many
 * fragments were received before a quiet period of tmo ms. */
static unsigned collect_reply(int fd, uint64_t call_id, uint8_t *msg, int tmo,
			      uint8_t *seen, struct lego_rpc_hdr *last)
{
	uint8_t d[2048];
	ssize_t n;
	unsigned count = 0;

	while ((n = raw_recv(fd, d, sizeof(d), tmo, NULL)) >= 0) {
		struct lego_rpc_hdr h = hdr_of(d);

		assert_true(n >= (ssize_t)HDR);
		if (h.type != LEGO_RPC_REPLY || h.call_id != call_id)
			continue;
		assert_int_equal(n, HDR + h.frag_len);
		memcpy(msg + h.frag_off, d + HDR, h.frag_len);
		if (seen)
			seen[h.frag_off / FRAG]++;
		*last = h;
		count++;
	}
	return count;
}

/* ------------------------------------------------------------------ */
/* A client call in a thread (when the test thread plays the server)   */
/* ------------------------------------------------------------------ */

struct cjob {
	struct gm_rpc_ep *ep;
	uint16_t port;
	uint16_t op;
	const void *req;
	size_t len;
	void *rep;
	size_t max;
	size_t got;
	int tmo;
	int rc;
	pthread_t tid;
};

static void *cjob_main(void *p)
{
	struct cjob *j = p;

	j->rc = gm_rpc_call(j->ep, LO, j->port, j->op, j->req, j->len, j->rep, j->max,
			    &j->got, j->tmo);
	return NULL;
}

static void cjob_start(struct cjob *j)
{
	assert_int_equal(pthread_create(&j->tid, NULL, cjob_main, j), 0);
}

/* ------------------------------------------------------------------ */
/* Tests: basic calls                                                  */
/* ------------------------------------------------------------------ */

static void test_roundtrip_sizes(void **state)
{
	static const size_t sizes[] = { 0, 1, 1399, 1400, 1401, 2800, 2801, 65536,
					262143, 262144 };
	struct tsrv *s = tsrv_start(NULL);
	struct gm_rpc_ep *c = client();
	struct gm_rpc_stats st;
	size_t n = sizeof(sizes) / sizeof(sizes[0]);

	for (size_t i = 0; i < n; i++)
		assert_int_equal(ping_n(c, s->port, sizes[i], i, 2000), 0);
	assert_int_equal(atomic_load(&s->pings), n);
	gm_rpc_stats(c, &st);
	assert_int_equal(st.calls, n);
	assert_int_equal(st.calls_ok, n);
	tsrv_stop(s, &st);
	assert_int_equal(st.req_executed, n);
	assert_int_equal(st.rx_dropped, 0);
	gm_rpc_close(c);
	tsrv_free(s);
}

static void test_big_reply_small_request(void **state)
{
	static const uint32_t sizes[] = { 0, 1, 1400, 1401, 100000, 262144 };
	struct tsrv *s = tsrv_start(NULL);
	struct gm_rpc_ep *c = client();
	uint8_t *rep = malloc(LEGO_RPC_MAX_MSG);
	size_t got;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint32_t n = sizes[i];

		assert_int_equal(gm_rpc_call(c, LO, s->port, OP_BIG, &n, sizeof(n), rep,
					     LEGO_RPC_MAX_MSG, &got, 2000), 0);
		assert_int_equal(got, n);
		assert_true(check(rep, n, n));
	}
	/* A reply that does not fit: -EMSGSIZE and the size it needs. */
	uint32_t n = 5000;
	assert_int_equal(gm_rpc_call(c, LO, s->port, OP_BIG, &n, sizeof(n), rep, 4999,
				     &got, 2000), -EMSGSIZE);
	assert_int_equal(got, 5000);
	/* The handler's own error comes back as the status. */
	n = LEGO_RPC_MAX_MSG + 1;
	assert_int_equal(gm_rpc_call(c, LO, s->port, OP_BIG, &n, sizeof(n), rep,
				     LEGO_RPC_MAX_MSG, &got, 2000), -E2BIG);
	assert_int_equal(got, 0);
	free(rep);
	gm_rpc_close(c);
	tsrv_stop(s, NULL);
	tsrv_free(s);
}

static void test_unknown_opcode(void **state)
{
	struct tsrv *s = tsrv_start(NULL);
	struct gm_rpc_ep *c = client();
	struct gm_rpc_stats st;
	uint8_t rep[16];
	size_t got = 99;

	assert_int_equal(gm_rpc_call(c, LO, s->port, OP_NONE, "x", 1, rep, sizeof(rep),
				     &got, 2000), -ENOSYS);
	assert_int_equal(got, 0);
	gm_rpc_stats(c, &st);
	assert_int_equal(st.calls_remote_error, 1);
	tsrv_stop(s, &st);
	assert_int_equal(st.req_unknown_opcode, 1);
	gm_rpc_close(c);
	tsrv_free(s);
}

static void test_bad_args(void **state)
{
	struct gm_rpc_ep *c = client();
	uint8_t b[8];
	size_t got;
	struct gm_rpc_limits lim = GM_RPC_DEFAULT_LIMITS;

	assert_int_equal(gm_rpc_call(NULL, LO, 1, 1, NULL, 0, NULL, 0, &got, 100), -EINVAL);
	assert_int_equal(gm_rpc_call(c, LO, 1, 1, NULL, 5, NULL, 0, &got, 100), -EINVAL);
	assert_int_equal(gm_rpc_call(c, LO, 1, 1, b, 1, NULL, 5, &got, 100), -EINVAL);
	assert_int_equal(gm_rpc_call(c, LO, 1, 1, b, LEGO_RPC_MAX_MSG + 1, NULL, 0, &got, 100),
			 -EINVAL);
	assert_int_equal(gm_rpc_call(c, LO, 1, 1, b, 1, b, 8, &got, 0), -EINVAL);
	assert_int_equal(gm_rpc_call(c, LO, 1, 1, b, 1, b, 8, &got, -5), -EINVAL);
	assert_int_equal(gm_rpc_serve_register(c, 1, h_ping, NULL, LEGO_RPC_MAX_MSG + 1), -EINVAL);
	assert_int_equal(gm_rpc_serve_register(c, 1, h_ping, NULL, 8), 0);
	assert_int_equal(gm_rpc_serve_register(c, 1, h_ping, NULL, 8), -EEXIST);
	assert_int_equal(gm_rpc_serve_register(c, 1, NULL, NULL, 0), 0);
	assert_int_equal(gm_rpc_serve_register(c, 1, NULL, NULL, 0), -ENOENT);
	lim.max_cache_bytes = 1000;
	assert_int_equal(gm_rpc_set_limits(c, &lim), -EINVAL);
	assert_int_equal(gm_rpc_open(NULL, LO, 0), -EINVAL);
	gm_rpc_close(c);
}

static void test_dead_server(void **state)
{
	struct gm_rpc_ep *c = client();
	struct gm_rpc_stats st;
	uint16_t port;
	int fd = raw_open(&port);	/* bound, never answers */
	uint8_t *big = calloc(1, 10000);
	uint64_t t0, dt;

	t0 = now_ms();
	assert_int_equal(ping_n(c, port, 10, 1, 300), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 300 && dt < 300 + 250);

	/* Multi-fragment requests probe instead of resending; same bound. */
	t0 = now_ms();
	assert_int_equal(gm_rpc_call(c, LO, port, LEGO_OP_PING, big, 10000, big, 10000,
				     NULL, 250), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 250 && dt < 250 + 250);

	/* Nothing bound at all (ICMP port unreachable must not matter). */
	close(fd);
	t0 = now_ms();
	assert_int_equal(ping_n(c, port, 10, 1, 200), -ETIMEDOUT);
	dt = now_ms() - t0;
	assert_true(dt >= 200 && dt < 200 + 250);

	gm_rpc_stats(c, &st);
	assert_int_equal(st.calls_timedout, 3);
	/* 30 ms doubling: some retransmissions and probes happened. */
	assert_true(st.req_frags_resent >= 3);
	assert_true(st.probes_sent >= 2);
	free(big);
	gm_rpc_close(c);
}

/* A handler that keeps the endpoint served answers probes "RUNNING", which
 * keeps the caller waiting past its timeout. */
static void test_running_keeps_call_alive(void **state)
{
	struct tsrv *s = tsrv_start(NULL);
	struct gm_rpc_ep *c = client();
	struct gm_rpc_stats st;
	uint32_t ms = 600;
	uint8_t rep[8];
	size_t got;
	uint64_t t0 = now_ms();

	assert_int_equal(gm_rpc_call(c, LO, s->port, OP_SLOW, &ms, sizeof(ms), rep,
				     sizeof(rep), &got, 200), 0);
	assert_true(now_ms() - t0 >= 600);
	assert_int_equal(got, 4);
	assert_memory_equal(rep, "slow", 4);
	gm_rpc_stats(c, &st);
	assert_true(st.states_rcvd >= 1);
	tsrv_stop(s, &st);
	assert_int_equal(atomic_load(&s->slows), 1);
	assert_true(st.states_sent >= 1);
	gm_rpc_close(c);
	tsrv_free(s);
}

/* A handler calling out through its own serving endpoint. */
static void test_nested_call(void **state)
{
	struct tsrv *a = tsrv_start(NULL), *b = tsrv_start(NULL);
	struct gm_rpc_ep *c = client();
	uint8_t req[3002], rep[3000];
	size_t got;

	memcpy(req, &b->port, 2);
	fill(req + 2, 3000, 9);
	assert_int_equal(gm_rpc_call(c, LO, a->port, OP_RELAY, req, sizeof(req), rep,
				     sizeof(rep), &got, 3000), 0);
	assert_int_equal(got, 3000);
	assert_true(check(rep, 3000, 9));
	assert_int_equal(atomic_load(&a->relays), 1);
	assert_int_equal(atomic_load(&b->pings), 1);
	gm_rpc_close(c);
	tsrv_stop(a, NULL);
	tsrv_stop(b, NULL);
	tsrv_free(a);
	tsrv_free(b);
}

/* ------------------------------------------------------------------ */
/* Tests: lossy network                                                */
/* ------------------------------------------------------------------ */

struct held {
	uint64_t due;
	bool to_server;
	uint16_t len;
	uint8_t buf[HDR + FRAG];
};

#define SHIM_Q 4096

/* Forwards client <-> server, dropping, duplicating and delaying (hence
 * reordering) datagrams by a seeded PRNG. One client at a time. */
struct shim {
	int a, b;		/* a faces the client, b the server */
	uint16_t port;		/* a's port: where clients send */
	uint16_t srv_port;
	struct sockaddr_in cli;
	bool have_cli;
	uint64_t rng;
	unsigned drop_pct, dup_pct, max_delay_us;
	atomic_bool stop;
	pthread_t tid;
	struct held *q;
	unsigned nq;
	unsigned long fwd, dropped, duped;
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void shim_enqueue(struct shim *sh, const uint8_t *buf, size_t len, bool to_server)
{
	unsigned copies = 1;

	if (rng_next(&sh->rng) % 100 < sh->drop_pct) {
		sh->dropped++;
		return;
	}
	if (rng_next(&sh->rng) % 100 < sh->dup_pct) {
		copies = 2;
		sh->duped++;
	}
	while (copies-- && sh->nq < SHIM_Q) {
		struct held *h = &sh->q[sh->nq++];

		h->due = now_us() + rng_next(&sh->rng) % (sh->max_delay_us + 1);
		h->to_server = to_server;
		h->len = (uint16_t)len;
		memcpy(h->buf, buf, len);
	}
}

static void shim_flush(struct shim *sh)
{
	uint64_t now = now_us();

	for (unsigned i = 0; i < sh->nq;) {
		struct held *h = &sh->q[i];

		if (h->due > now) {
			i++;
			continue;
		}
		if (h->to_server) {
			struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr.s_addr = LO,
						  .sin_port = htons(sh->srv_port) };
			sendto(sh->b, h->buf, h->len, 0, (struct sockaddr *)&to, sizeof(to));
		} else if (sh->have_cli) {
			sendto(sh->a, h->buf, h->len, 0, (struct sockaddr *)&sh->cli,
			       sizeof(sh->cli));
		}
		sh->fwd++;
		*h = sh->q[--sh->nq];
	}
}

static void *shim_main(void *p)
{
	struct shim *sh = p;
	uint8_t buf[HDR + FRAG + 1];

	while (!atomic_load(&sh->stop)) {
		struct pollfd pfd[2] = { { .fd = sh->a, .events = POLLIN },
					 { .fd = sh->b, .events = POLLIN } };

		poll(pfd, 2, sh->nq ? 0 : 2);
		for (int k = 0; k < 2; k++) {
			struct sockaddr_in from;
			socklen_t flen = sizeof(from);
			ssize_t n;

			while ((n = recvfrom(pfd[k].fd, buf, sizeof(buf), MSG_DONTWAIT,
					     (struct sockaddr *)&from, &flen)) >= 0) {
				if (k == 0) {
					sh->cli = from;
					sh->have_cli = true;
				}
				shim_enqueue(sh, buf, (size_t)n, k == 0);
				flen = sizeof(from);
			}
		}
		shim_flush(sh);
		if (sh->nq)
			usleep(50);
	}
	return NULL;
}

static struct shim *shim_start(uint16_t srv_port, uint64_t seed, unsigned drop,
			       unsigned dup, unsigned delay_us)
{
	struct shim *sh = calloc(1, sizeof(*sh));

	assert_non_null(sh);
	sh->q = calloc(SHIM_Q, sizeof(*sh->q));
	assert_non_null(sh->q);
	sh->a = raw_open(&sh->port);
	sh->b = raw_open(NULL);
	sh->srv_port = srv_port;
	sh->rng = seed * 0x9e3779b97f4a7c15ull + 1;
	sh->drop_pct = drop;
	sh->dup_pct = dup;
	sh->max_delay_us = delay_us;
	assert_int_equal(pthread_create(&sh->tid, NULL, shim_main, sh), 0);
	return sh;
}

static void shim_stop(struct shim *sh)
{
	atomic_store(&sh->stop, true);
	pthread_join(sh->tid, NULL);
	close(sh->a);
	close(sh->b);
	free(sh->q);
	free(sh);
}

static void lossy_run(uint64_t seed, unsigned drop, unsigned dup)
{
	static const size_t sizes[] = { 0, 1, 1400, 1401, 5000, 65536, 262144 };
	struct tsrv *s = tsrv_start(NULL);
	struct shim *sh = shim_start(s->port, seed, drop, dup, 3000);
	struct gm_rpc_ep *c = client();
	struct gm_rpc_stats cst, sst;
	uint8_t *rep = malloc(LEGO_RPC_MAX_MSG);
	unsigned calls = 0, bigs = 0;
	uint64_t rs = seed;

	for (unsigned round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			assert_int_equal(ping_n(c, sh->port, sizes[i], rng_next(&rs), 20000), 0);
			calls++;
		}
		/* Small request, big reply: the reply side alone is lossy. */
		uint32_t n = (uint32_t)(rng_next(&rs) % LEGO_RPC_MAX_MSG);
		size_t got;
		assert_int_equal(gm_rpc_call(c, LO, sh->port, OP_BIG, &n, sizeof(n), rep,
					     LEGO_RPC_MAX_MSG, &got, 20000), 0);
		assert_int_equal(got, n);
		assert_true(check(rep, n, n));
		bigs++;
	}
	/* Some work for the shim really was done... */
	assert_true(drop == 0 || sh->dropped > 0);
	assert_true(dup == 0 || sh->duped > 0);
	shim_stop(sh);
	gm_rpc_stats(c, &cst);
	tsrv_stop(s, &sst);
	/* ...and yet every call ran exactly once. */
	assert_int_equal(atomic_load(&s->pings), calls);
	assert_int_equal(atomic_load(&s->bigs), bigs);
	assert_int_equal(sst.req_executed, calls + bigs);
	if (dup)
		assert_true(sst.req_dup_frags > 0);
	if (drop)
		assert_true(cst.probes_sent > 0);
	print_message("  seed %llu: client resent %llu request frags, %llu probes; "
		      "server resent %llu reply frags, %llu dup request frags\n",
		      (unsigned long long)seed, (unsigned long long)cst.req_frags_resent,
		      (unsigned long long)cst.probes_sent,
		      (unsigned long long)sst.reply_frags_resent,
		      (unsigned long long)sst.req_dup_frags);
	free(rep);
	gm_rpc_close(c);
	tsrv_free(s);
}

static void test_lossy_light(void **state)
{
	lossy_run(1, 5, 5);
}

static void test_lossy_heavy(void **state)
{
	lossy_run(2, 20, 20);
}

static void test_lossy_dup_reorder_only(void **state)
{
	lossy_run(3, 0, 50);
}

/* ------------------------------------------------------------------ */
/* Tests: server protocol, driven by hand                              */
/* ------------------------------------------------------------------ */

static void test_duplicates_execute_once(void **state)
{
	struct tsrv *s = tsrv_start(NULL);
	uint16_t rport;
	int fd = raw_open(&rport);
	uint8_t d[2048], msg[3000], got[3000];
	uint8_t seen[4];
	struct lego_rpc_hdr last;
	size_t n;

	/* Single fragment, sent three times: one execution, three replies. */
	n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 0xabc, 1, "hello", 5, 0, 0);
	for (int i = 0; i < 3; i++)
		raw_send(fd, d, n, s->port);
	memset(seen, 0, sizeof(seen));
	assert_int_equal(collect_reply(fd, 1, got, 200, seen, &last), 3);
	assert_memory_equal(got, "hello", 5);
	assert_int_equal(last.status, 0);
	assert_int_equal(last.msg_len, 5);
	assert_int_equal(last.src_node, 77);
	assert_int_equal(last.client_epoch, 0xabc);
	assert_int_equal(atomic_load(&s->pings), 1);

	/* Three fragments, out of order, the whole request twice. */
	fill(msg, sizeof(msg), 5);
	for (int rep = 0; rep < 2; rep++)
		for (int i = 2; i >= 0; i--) {
			n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 0xabc, 2, msg, 3000, i, 0);
			raw_send(fd, d, n, s->port);
		}
	memset(seen, 0, sizeof(seen));
	memset(got, 0, sizeof(got));
	collect_reply(fd, 2, got, 200, seen, &last);
	/* Executed once; the second copy's fragment 0 re-sent the reply. */
	assert_int_equal(atomic_load(&s->pings), 2);
	assert_int_equal(seen[0], 2);
	assert_int_equal(seen[1], 2);
	assert_int_equal(seen[2], 2);
	assert_memory_equal(got, msg, 3000);
	assert_int_equal(last.msg_csum, lego_rpc_csum(msg, 3000));

	/* A probe holding fragment 1 gets fragments 0 and 2 only. */
	struct lego_rpc_probe pr;
	memset(&pr, 0, sizeof(pr));
	pr.have[0] = 0x02;
	n = mk(d, LEGO_RPC_PROBE, LEGO_OP_PING, 0xabc, 2, &pr, sizeof(pr), 0, 0);
	raw_send(fd, d, n, s->port);
	memset(seen, 0, sizeof(seen));
	collect_reply(fd, 2, got, 200, seen, &last);
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], 0);
	assert_int_equal(seen[2], 1);

	/* Probe for a call never seen: STATE UNKNOWN. */
	memset(&pr, 0, sizeof(pr));
	n = mk(d, LEGO_RPC_PROBE, LEGO_OP_PING, 0xabc, 3, &pr, sizeof(pr), 0, 0);
	raw_send(fd, d, n, s->port);
	ssize_t r = raw_recv(fd, d, sizeof(d), 500, NULL);
	assert_int_equal(r, HDR + sizeof(struct lego_rpc_state));
	struct lego_rpc_hdr h = hdr_of(d);
	struct lego_rpc_state stt;
	assert_int_equal(h.type, LEGO_RPC_STATE);
	assert_int_equal(h.call_id, 3);
	memcpy(&stt, d + HDR, sizeof(stt));
	assert_int_equal(stt.code, LEGO_RPC_STATE_UNKNOWN);
	assert_int_equal(h.msg_csum, lego_rpc_csum(&stt, sizeof(stt)));

	/* Half a request: STATE PARTIAL with the fragments held. */
	n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 0xabc, 3, msg, 3000, 2, 0);
	raw_send(fd, d, n, s->port);
	n = mk(d, LEGO_RPC_PROBE, LEGO_OP_PING, 0xabc, 3, &pr, sizeof(pr), 0, 0);
	raw_send(fd, d, n, s->port);
	r = raw_recv(fd, d, sizeof(d), 500, NULL);
	assert_int_equal(r, HDR + sizeof(struct lego_rpc_state));
	memcpy(&stt, d + HDR, sizeof(stt));
	assert_int_equal(stt.code, LEGO_RPC_STATE_PARTIAL);
	assert_int_equal(stt.have[0], 0x04);
	for (int i = 1; i < LEGO_RPC_BITMAP_BYTES; i++)
		assert_int_equal(stt.have[i], 0);
	/* The rest completes it. */
	for (int i = 0; i < 2; i++) {
		n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 0xabc, 3, msg, 3000, i, 0);
		raw_send(fd, d, n, s->port);
	}
	memset(got, 0, sizeof(got));
	assert_int_equal(collect_reply(fd, 3, got, 200, NULL, &last), 3);
	assert_memory_equal(got, msg, 3000);
	assert_int_equal(atomic_load(&s->pings), 3);

	/* Same call id from another epoch is another call. */
	n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 0xabd, 1, "x", 1, 0, 0);
	raw_send(fd, d, n, s->port);
	assert_int_equal(collect_reply(fd, 1, got, 200, NULL, &last), 1);
	assert_int_equal(atomic_load(&s->pings), 4);

	close(fd);
	tsrv_stop(s, NULL);
	tsrv_free(s);
}

/* gm_rpc_serve_datagram: a daemon that reads the socket itself. */
static void test_serve_datagram_api(void **state)
{
	struct gm_rpc_ep *ep = client();
	struct tsrv arg;
	uint16_t rport;
	int fd = raw_open(&rport);
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_addr.s_addr = LO,
				    .sin_port = htons(rport) };
	uint8_t d[2048];
	size_t n;
	struct gm_rpc_stats st;

	memset(&arg, 0, sizeof(arg));
	n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, "abc", 3, 0, 0);
	/* No handler yet: not a server, dropped. */
	assert_int_equal(gm_rpc_serve_datagram(ep, d, n, &from), -EBADMSG);
	assert_int_equal(gm_rpc_serve_register(ep, LEGO_OP_PING, h_ping, &arg, 64), 0);
	assert_int_equal(gm_rpc_serve_datagram(ep, d, n, &from), 0);
	assert_int_equal(raw_recv(fd, d, sizeof(d), 500, NULL), HDR + 3);
	assert_memory_equal(d + HDR, "abc", 3);
	assert_int_equal(gm_rpc_serve_datagram(ep, "junk", 4, &from), -EBADMSG);
	assert_int_equal(gm_rpc_serve_datagram(ep, NULL, 0, &from), -EBADMSG);
	assert_int_equal(gm_rpc_serve_datagram(ep, NULL, 0, NULL), -EINVAL);
	gm_rpc_stats(ep, &st);
	assert_int_equal(st.drop_not_server, 1);
	assert_int_equal(st.drop_size, 2);
	assert_int_equal(st.req_executed, 1);
	assert_int_equal(atomic_load(&arg.pings), 1);
	close(fd);
	gm_rpc_close(ep);
}

static void test_cache_and_partial_limits(void **state)
{
	struct gm_rpc_limits lim = GM_RPC_DEFAULT_LIMITS;
	struct gm_rpc_stats st;
	uint8_t d[2048], msg[3000];
	size_t n;
	uint16_t rport;
	int fd;

	/* Cache bounded by entries: the oldest replies go first. */
	lim.max_cache_entries = 4;
	struct tsrv *s = tsrv_start(&lim);
	struct gm_rpc_ep *c = client();
	for (int i = 0; i < 10; i++)
		assert_int_equal(ping_n(c, s->port, 100, i, 2000), 0);
	tsrv_stop(s, &st);
	assert_int_equal(st.cache_evicted, 6);
	tsrv_free(s);

	/* Replies expire after the TTL; half requests after their timeout. */
	lim = (struct gm_rpc_limits)GM_RPC_DEFAULT_LIMITS;
	lim.cache_ttl_ms = 50;
	lim.partial_timeout_ms = 50;
	lim.max_partials = 2;
	s = tsrv_start(&lim);
	fd = raw_open(&rport);
	fill(msg, sizeof(msg), 1);
	assert_int_equal(ping_n(c, s->port, 10, 1, 2000), 0);
	/* Three half requests with room for two: the oldest is evicted. */
	for (int id = 100; id < 103; id++) {
		n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 9, id, msg, 3000, 0, 0);
		raw_send(fd, d, n, s->port);
	}
	usleep(300 * 1000);
	assert_int_equal(ping_n(c, s->port, 10, 2, 2000), 0);
	tsrv_stop(s, &st);
	assert_int_equal(st.partial_evicted, 1);
	assert_int_equal(st.partial_expired, 2);
	assert_true(st.cache_expired >= 1);
	assert_int_equal(st.req_executed, 2);
	close(fd);
	tsrv_free(s);
	gm_rpc_close(c);
}

/* ------------------------------------------------------------------ */
/* Tests: garbage                                                      */
/* ------------------------------------------------------------------ */

#define STAT_DELTA(after, before, f) ((after).f - (before).f)

static void test_garbage_to_server(void **state)
{
	struct tsrv *s = tsrv_start(NULL);
	struct gm_rpc_ep *c = client();
	struct gm_rpc_stats st0, st;
	uint16_t rport;
	int fd = raw_open(&rport);
	uint8_t d[4096], msg[3000];
	uint64_t rng = 42;
	size_t n;
	unsigned n_size = 0, n_magic = 0;

	/* A fresh server's counters are all zero. */
	memset(&st0, 0, sizeof(st0));
	fill(msg, sizeof(msg), 3);

	/* Random bytes of random lengths (never the right magic). */
	for (int i = 0; i < 64; i++) {
		size_t len = rng_next(&rng) % 1500;
		for (size_t k = 0; k < len; k++)
			d[k] = (uint8_t)rng_next(&rng);
		if (len >= 2 && d[0] == 0x4c && d[1] == 0x47)
			d[0] = 0;
		raw_send(fd, d, len, s->port);
		if (len < HDR || len > HDR + FRAG)
			n_size++;
		else
			n_magic++;
	}
	/* Truncated header; oversize datagram with a valid header. */
	n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, "abc", 3, 0, 0);
	raw_send(fd, d, HDR - 1, s->port);
	n_size++;
	n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, msg, 3000, 0, 0);
	raw_send(fd, d, HDR + FRAG + 1, s->port);
	n_size++;
	/* Wrong magic (resealed, so only the magic is wrong). */
	mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, "abc", 3, 0, 0);
	PATCH(d, magic, 0x1234);
	raw_send(fd, d, HDR + 3, s->port);
	n_magic++;
	/* Wrong version. */
	mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, "abc", 3, 0, 0);
	PATCH(d, version, 2);
	raw_send(fd, d, HDR + 3, s->port);
	/* Bad header checksum. */
	mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, "abc", 3, 0, 0);
	d[offsetof(struct lego_rpc_hdr, hdr_csum)] ^= 1;
	raw_send(fd, d, HDR + 3, s->port);
	/* A bit flipped elsewhere in the header: caught by hdr_csum too. */
	mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, "abc", 3, 0, 0);
	d[offsetof(struct lego_rpc_hdr, call_id)] ^= 0x10;
	raw_send(fd, d, HDR + 3, s->port);
	/* Unknown type. */
	mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, "abc", 3, 0, 0);
	PATCH(d, type, 9);
	raw_send(fd, d, HDR + 3, s->port);
	/* Nonzero flags, reserved, status-in-request: 3 field errors. */
	mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, "abc", 3, 0, 0);
	PATCH(d, flags, 1);
	raw_send(fd, d, HDR + 3, s->port);
	mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, "abc", 3, 0, 0);
	PATCH(d, reserved, 1);
	raw_send(fd, d, HDR + 3, s->port);
	mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, "abc", 3, 0, 0);
	PATCH(d, status, -5);
	raw_send(fd, d, HDR + 3, s->port);
	/* Huge msg_len; PROBE with the wrong length: 2 msg_len errors. */
	mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, msg, 3000, 0, 0);
	PATCH(d, msg_len, 0x80000000u);
	raw_send(fd, d, HDR + FRAG, s->port);
	mk(d, LEGO_RPC_PROBE, LEGO_OP_PING, 1, 1, msg, 20, 0, 0);
	raw_send(fd, d, HDR + 20, s->port);
	/* Fragment geometry: 5 frag errors. */
	mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, msg, 3000, 0, 0);
	PATCH(d, frag_off, 1399);			/* not a multiple */
	raw_send(fd, d, HDR + FRAG, s->port);
	mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, msg, 2000, 1, 0);
	PATCH(d, frag_off, 2800);			/* beyond msg_len */
	raw_send(fd, d, HDR + 600, s->port);
	mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, msg, 2000, 0, 0);
	PATCH(d, frag_len, 100);			/* not full though not last */
	raw_send(fd, d, HDR + 100, s->port);
	n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, "abc", 3, 0, 0);
	raw_send(fd, d, n + 1, s->port);		/* trailing byte */
	mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, "", 0, 0, 0);
	PATCH(d, frag_off, FRAG);			/* empty message, offset */
	raw_send(fd, d, HDR, s->port);
	/* Payload checksums: single-fragment request, probe, and a
	 * multi-fragment request whose assembled payload mismatches. */
	n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 1, "abc", 3, 0, 0);
	d[HDR] ^= 1;
	raw_send(fd, d, n, s->port);
	struct lego_rpc_probe pr = { { 0 } };
	n = mk(d, LEGO_RPC_PROBE, LEGO_OP_PING, 1, 1, &pr, sizeof(pr), 0, 0);
	d[HDR + 3] = 1;
	raw_send(fd, d, n, s->port);
	for (int i = 0; i < 3; i++) {
		n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 7, msg, 3000, i, 0);
		if (i == 1)
			d[HDR + 5] ^= 0xff;
		raw_send(fd, d, n, s->port);
	}
	/* Fragments disagreeing about their message. */
	n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 8, msg, 3000, 0, 0);
	raw_send(fd, d, n, s->port);
	n = mk(d, LEGO_RPC_REQUEST, LEGO_OP_PING, 1, 8, msg, 2900, 1, 0);
	raw_send(fd, d, n, s->port);
	/* A REPLY and a STATE sent to a server: no call is waiting for them. */
	n = mk(d, LEGO_RPC_REPLY, LEGO_OP_PING, 1, 1, "abc", 3, 0, 0);
	raw_send(fd, d, n, s->port);
	struct lego_rpc_state sst = { 0, { 0 } };
	n = mk(d, LEGO_RPC_STATE, LEGO_OP_PING, 1, 1, &sst, sizeof(sst), 0, 0);
	raw_send(fd, d, n, s->port);

	/* The server still serves (and has read everything sent before). */
	assert_int_equal(ping_n(c, s->port, 3000, 11, 2000), 0);
	tsrv_stop(s, &st);
	assert_int_equal(STAT_DELTA(st, st0, drop_size), n_size);
	assert_int_equal(STAT_DELTA(st, st0, drop_magic), n_magic);
	assert_int_equal(STAT_DELTA(st, st0, drop_version), 1);
	assert_int_equal(STAT_DELTA(st, st0, drop_hdr_csum), 2);
	assert_int_equal(STAT_DELTA(st, st0, drop_type), 1);
	assert_int_equal(STAT_DELTA(st, st0, drop_field), 3);
	assert_int_equal(STAT_DELTA(st, st0, drop_msg_len), 2);
	assert_int_equal(STAT_DELTA(st, st0, drop_frag), 5);
	assert_int_equal(STAT_DELTA(st, st0, drop_msg_csum), 3);
	assert_int_equal(STAT_DELTA(st, st0, drop_inconsistent), 1);
	assert_int_equal(STAT_DELTA(st, st0, drop_stale), 2);
	assert_int_equal(st.req_executed, 1);
	assert_int_equal(atomic_load(&s->pings), 1);
	assert_int_equal(st.rx_dropped, n_size + n_magic + 1 + 2 + 1 + 3 + 2 + 5 + 3 + 1 + 2);
	close(fd);
	gm_rpc_close(c);
	tsrv_free(s);
}

/* Structured fuzz: valid magic/version/hdr_csum with random fields and
 * payloads, so the deeper checks are reached; the server must survive,
 * stay bounded and keep serving. */
static void test_fuzz_server(void **state)
{
	struct gm_rpc_limits lim = GM_RPC_DEFAULT_LIMITS;
	struct tsrv *s;
	struct gm_rpc_ep *c = client();
	struct gm_rpc_stats st;
	uint16_t rport;
	int fd = raw_open(&rport);
	uint8_t d[HDR + FRAG + 8];
	uint64_t rng = 7;

	lim.max_partials = 8;
	lim.max_partial_bytes = LEGO_RPC_MAX_MSG;
	s = tsrv_start(&lim);
	for (int i = 0; i < 4000; i++) {
		struct lego_rpc_hdr h;
		uint64_t r = rng_next(&rng);
		size_t plen;
		unsigned nfr;

		/* A plausible datagram first: valid geometry, few epochs and
		 * call ids so that fragments meet in reassembly... */
		memset(&h, 0, sizeof(h));
		h.magic = LEGO_RPC_MAGIC;
		h.version = LEGO_RPC_VERSION;
		h.type = (uint8_t)(1 + r % 4);
		h.opcode = (r >> 8) & 1 ? LEGO_OP_PING : (uint16_t)(r >> 16);
		if (h.opcode >= 0x7f00)		/* not the test's slow handlers */
			h.opcode = LEGO_OP_PING;
		h.client_epoch = (uint32_t)(r >> 20) % 3;
		h.call_id = rng_next(&rng) % 64;
		r = rng_next(&rng);
		if (h.type == LEGO_RPC_PROBE)
			h.msg_len = sizeof(struct lego_rpc_probe);
		else if (h.type == LEGO_RPC_STATE)
			h.msg_len = sizeof(struct lego_rpc_state);
		else
			h.msg_len = (uint32_t)(r % 4) * 1000 + (uint32_t)((r >> 8) % 3);
		nfr = h.msg_len ? (h.msg_len + FRAG - 1) / FRAG : 1;
		h.frag_off = (uint32_t)((r >> 16) % nfr) * FRAG;
		h.frag_len = (uint16_t)(h.msg_len - h.frag_off < FRAG ? h.msg_len - h.frag_off : FRAG);
		plen = h.frag_len;
		for (size_t k = 0; k < plen; k++)
			d[HDR + k] = (uint8_t)(rng_next(&rng) % 4);	/* collide often */
		h.msg_csum = nfr == 1 && (r >> 40) % 4 ? lego_rpc_csum(d + HDR, plen)
						       : (uint32_t)rng_next(&rng) % 8;
		/* ...then, half of the time, break one thing at random. */
		r = rng_next(&rng);
		if (r & 1) {
			switch ((r >> 1) % 8) {
			case 0: h.type = (uint8_t)(r >> 8); break;
			case 1: h.msg_len = (uint32_t)(r >> 16); break;
			case 2: h.frag_off = (uint32_t)(r >> 16); break;
			case 3: h.frag_len = (uint16_t)(r >> 16); break;
			case 4: plen = (r >> 16) % (FRAG + 8); break;
			case 5: h.status = (int32_t)(r >> 16); break;
			case 6: h.flags = (uint16_t)(r >> 16); break;
			case 7: h.msg_csum = (uint32_t)(r >> 16); break;
			}
			for (size_t k = h.frag_len; k < plen; k++)
				d[HDR + k] = (uint8_t)rng_next(&rng);
		}
		memcpy(d, &h, HDR);
		reseal(d);
		raw_send(fd, d, HDR + plen, s->port);
		if (i % 500 == 0)
			assert_int_equal(ping_n(c, s->port, 2000, i, 2000), 0);
	}
	assert_int_equal(ping_n(c, s->port, 100000, 1, 3000), 0);
	tsrv_stop(s, &st);
	print_message("  fuzz: %llu of %llu datagrams dropped, %llu executed\n",
		      (unsigned long long)st.rx_dropped, (unsigned long long)st.rx_datagrams,
		      (unsigned long long)st.req_executed);
	assert_true(st.rx_dropped > 500);
	assert_true(st.req_executed > 60);
	assert_true(st.rx_datagrams >= 4000);
	close(fd);
	gm_rpc_close(c);
	tsrv_free(s);
}

/* ------------------------------------------------------------------ */
/* Tests: client protocol against a hand-written server                */
/* ------------------------------------------------------------------ */

/* Receives request datagrams until quiet; returns the header of the last
 * and the set of fragment indexes seen (count per index). */
static unsigned recv_reqs(int fd, int tmo, uint8_t type, uint8_t *seen,
			  struct lego_rpc_hdr *last, uint16_t *cport, uint8_t *payload)
{
	uint8_t d[2048];
	ssize_t n;
	unsigned count = 0;

	while ((n = raw_recv(fd, d, sizeof(d), tmo, cport)) >= 0) {
		struct lego_rpc_hdr h = hdr_of(d);

		if (h.type != type)
			continue;
		if (seen)
			seen[h.frag_off / FRAG]++;
		if (payload)
			memcpy(payload + h.frag_off, d + HDR, h.frag_len);
		*last = h;
		count++;
		tmo = 20;	/* after the first, only wait for a burst */
	}
	return count;
}

/* Waits up to tmo ms for a PROBE whose bitmap is byte0 then zeros (probes
 * sent before the client learnt more may come first). */
static bool wait_probe(int fd, uint8_t byte0, int tmo)
{
	uint64_t end = now_ms() + (uint64_t)tmo;
	uint8_t d[2048];

	while (now_ms() < end) {
		ssize_t n = raw_recv(fd, d, sizeof(d), (int)(end - now_ms()) + 1, NULL);
		struct lego_rpc_probe pr;
		bool rest_zero = true;

		if (n < 0)
			return false;
		if (n != HDR + sizeof(pr) || hdr_of(d).type != LEGO_RPC_PROBE)
			continue;
		memcpy(&pr, d + HDR, sizeof(pr));
		for (int i = 1; i < LEGO_RPC_BITMAP_BYTES; i++)
			rest_zero = rest_zero && !pr.have[i];
		if (pr.have[0] == byte0 && rest_zero)
			return true;
	}
	return false;
}

static void test_client_vs_hostile_server(void **state)
{
	struct gm_rpc_ep *c = client();
	struct gm_rpc_stats st;
	uint16_t sport, cport = 0;
	int fd = raw_open(&sport);
	uint8_t d[2048], req[100], rep[3000], want[3000];
	struct lego_rpc_hdr h;
	struct cjob j;
	size_t n;

	fill(req, sizeof(req), 1);
	fill(want, sizeof(want), 2);
	memset(&j, 0, sizeof(j));
	j.ep = c;
	j.port = sport;
	j.op = LEGO_OP_PING;
	j.req = req;
	j.len = sizeof(req);
	j.rep = rep;
	j.max = sizeof(rep);
	j.tmo = 3000;
	cjob_start(&j);

	/* (Retransmissions may already be in.) */
	assert_true(recv_reqs(fd, 1000, LEGO_RPC_REQUEST, NULL, &h, &cport, NULL) >= 1);
	assert_int_equal(h.msg_len, sizeof(req));
	assert_int_equal(h.src_node, 0);
	assert_int_equal(h.client_epoch, gm_rpc_epoch(c));
	uint32_t ep = h.client_epoch;
	uint64_t id = h.call_id;

	/* Noise the client must drop as stale: wrong epoch, call, opcode. */
	n = mk(d, LEGO_RPC_REPLY, LEGO_OP_PING, ep + 1, id, want, 100, 0, 0);
	raw_send(fd, d, n, cport);
	n = mk(d, LEGO_RPC_REPLY, LEGO_OP_PING, ep, id + 1, want, 100, 0, 0);
	raw_send(fd, d, n, cport);
	n = mk(d, LEGO_RPC_REPLY, LEGO_OP_NODE_INFO, ep, id, want, 100, 0, 0);
	raw_send(fd, d, n, cport);
	/* Garbage. */
	raw_send(fd, "garbage", 7, cport);
	n = mk(d, LEGO_RPC_REPLY, LEGO_OP_PING, ep, id, want, 3000, 0, 0);
	PATCH(d, version, 9);
	raw_send(fd, d, n, cport);
	/* A complete reply whose payload does not match msg_csum. */
	for (unsigned i = 0; i < 3; i++) {
		n = mk(d, LEGO_RPC_REPLY, LEGO_OP_PING, ep, id, want, 3000, i, 0);
		if (i == 2)
			d[HDR] ^= 1;
		raw_send(fd, d, n, cport);
	}
	/* The client throws it away and probes holding nothing. */
	assert_true(wait_probe(fd, 0x00, 1000));
	/* Send fragment 1 only; a probe must then show bit 1 (LSB-first). */
	n = mk(d, LEGO_RPC_REPLY, LEGO_OP_PING, ep, id, want, 3000, 1, 0);
	raw_send(fd, d, n, cport);
	assert_true(wait_probe(fd, 0x02, 1000));
	/* Then the rest, reordered and duplicated. */
	int order[] = { 2, 1, 0, 2, 0 };
	for (unsigned k = 0; k < 5; k++) {
		n = mk(d, LEGO_RPC_REPLY, LEGO_OP_PING, ep, id, want, 3000, order[k], 0);
		raw_send(fd, d, n, cport);
	}
	pthread_join(j.tid, NULL);
	assert_int_equal(j.rc, 0);
	assert_int_equal(j.got, 3000);
	assert_memory_equal(rep, want, 3000);
	gm_rpc_stats(c, &st);
	assert_true(st.drop_stale >= 3);
	assert_true(st.drop_size >= 1);
	assert_true(st.drop_version >= 1);
	assert_int_equal(st.drop_msg_csum, 1);
	assert_int_equal(st.reply_restarts, 1);
	close(fd);
	gm_rpc_close(c);
}

/* STATE answers steer what the client resends. */
static void test_client_state_answers(void **state)
{
	struct gm_rpc_ep *c = client();
	struct gm_rpc_stats st;
	uint16_t sport, cport = 0;
	int fd = raw_open(&sport);
	uint8_t d[2048], req[4000], got[4000], rep[8];
	uint8_t seen[4];
	struct lego_rpc_hdr h;
	struct lego_rpc_state s;
	struct cjob j;
	size_t n;

	fill(req, sizeof(req), 4);
	memset(&j, 0, sizeof(j));
	j.ep = c;
	j.port = sport;
	j.op = LEGO_OP_PING;
	j.req = req;
	j.len = sizeof(req);
	j.rep = rep;
	j.max = sizeof(rep);
	j.tmo = 3000;
	cjob_start(&j);

	/* Three request fragments, then (no reply) a probe. */
	memset(seen, 0, sizeof(seen));
	assert_int_equal(recv_reqs(fd, 1000, LEGO_RPC_REQUEST, seen, &h, &cport, got), 3);
	assert_memory_equal(got, req, sizeof(req));
	uint32_t ep = h.client_epoch;
	uint64_t id = h.call_id;
	assert_true(recv_reqs(fd, 1000, LEGO_RPC_PROBE, NULL, &h, NULL, d) >= 1);

	/* PARTIAL holding 0 and 2: only fragment 1 comes again. */
	memset(&s, 0, sizeof(s));
	s.code = LEGO_RPC_STATE_PARTIAL;
	s.have[0] = 0x05;
	n = mk(d, LEGO_RPC_STATE, LEGO_OP_PING, ep, id, &s, sizeof(s), 0, 0);
	raw_send(fd, d, n, cport);
	memset(seen, 0, sizeof(seen));
	assert_int_equal(recv_reqs(fd, 1000, LEGO_RPC_REQUEST, seen, &h, NULL, NULL), 1);
	assert_int_equal(seen[1], 1);

	/* RUNNING: nothing resent, but the call stays alive well beyond its
	 * 3 s timeout as long as we keep answering probes. */
	memset(&s, 0, sizeof(s));
	s.code = LEGO_RPC_STATE_RUNNING;
	uint64_t t0 = now_ms();
	while (now_ms() - t0 < 3500) {
		uint8_t pd[2048];
		ssize_t r = raw_recv(fd, pd, sizeof(pd), 1000, NULL);

		assert_true(r >= (ssize_t)HDR);
		assert_int_equal(hdr_of(pd).type, LEGO_RPC_PROBE);
		n = mk(d, LEGO_RPC_STATE, LEGO_OP_PING, ep, id, &s, sizeof(s), 0, 0);
		raw_send(fd, d, n, cport);
	}

	/* UNKNOWN: everything comes again. */
	assert_true(recv_reqs(fd, 1000, LEGO_RPC_PROBE, NULL, &h, NULL, d) >= 1);
	memset(&s, 0, sizeof(s));
	s.code = LEGO_RPC_STATE_UNKNOWN;
	n = mk(d, LEGO_RPC_STATE, LEGO_OP_PING, ep, id, &s, sizeof(s), 0, 0);
	raw_send(fd, d, n, cport);
	memset(seen, 0, sizeof(seen));
	assert_int_equal(recv_reqs(fd, 1000, LEGO_RPC_REQUEST, seen, &h, NULL, NULL), 3);

	/* A state code from the future is dropped. */
	s.code = 7;
	n = mk(d, LEGO_RPC_STATE, LEGO_OP_PING, ep, id, &s, sizeof(s), 0, 0);
	raw_send(fd, d, n, cport);

	/* Finally an error reply with an empty payload. */
	n = mk(d, LEGO_RPC_REPLY, LEGO_OP_PING, ep, id, NULL, 0, 0, -EPERM);
	raw_send(fd, d, n, cport);
	pthread_join(j.tid, NULL);
	assert_int_equal(j.rc, -EPERM);
	assert_int_equal(j.got, 0);
	gm_rpc_stats(c, &st);
	assert_true(st.states_rcvd >= 3);
	assert_int_equal(st.drop_field, 1);
	assert_int_equal(st.calls_remote_error, 1);
	close(fd);
	gm_rpc_close(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_sizes),
		cmocka_unit_test(test_big_reply_small_request),
		cmocka_unit_test(test_unknown_opcode),
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_dead_server),
		cmocka_unit_test(test_running_keeps_call_alive),
		cmocka_unit_test(test_nested_call),
		cmocka_unit_test(test_lossy_light),
		cmocka_unit_test(test_lossy_heavy),
		cmocka_unit_test(test_lossy_dup_reorder_only),
		cmocka_unit_test(test_duplicates_execute_once),
		cmocka_unit_test(test_serve_datagram_api),
		cmocka_unit_test(test_cache_and_partial_limits),
		cmocka_unit_test(test_garbage_to_server),
		cmocka_unit_test(test_fuzz_server),
		cmocka_unit_test(test_client_vs_hostile_server),
		cmocka_unit_test(test_client_state_answers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
