/* LegoOS RPC over UDP: the kernel's client and server. Protocol logic is in
 * rpc_proto.c; this file adds locking, threads, timers and I/O.
 *
 * Server: the network receive thread (the paper's polling thread) calls
 * rpc_rx for every datagram. It reassembles requests in the call table and
 * queues complete ones on the "rpc" work queue, whose worker threads run
 * handlers and send replies. Duplicate requests and probes are answered
 * from the table (the at-most-once reply cache).
 *
 * Client: rpc_call registers a pending call, sends the request and sleeps.
 * Reply fragments are copied by the receive thread straight into the
 * caller's buffer; the last one wakes the caller. On a timeout the caller
 * retransmits (single-fragment requests) or probes the server, backing off
 * exponentially, and gives up once the server has been silent for the
 * call's timeout. */
#include <lego/rpc.h>
#include <lego/rpc_proto.h>
#include <lego/net.h>
#include <lego/mm.h>
#include <lego/wait.h>
#include <lego/workqueue.h>
#include <lego/params.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/time.h>
#include <asm/cpu.h>

/* Counters are bumped from the receive thread, workers and callers alike. */
#define STAT_INC(x) __atomic_add_fetch(&(x), 1, __ATOMIC_RELAXED)

#define RPC_RTO_INITIAL_NS (20 * NSEC_PER_MSEC)
#define RPC_RTO_MAX_NS (500 * NSEC_PER_MSEC)
#define RPC_RETAIN_NS (10 * NSEC_PER_SEC)
#define RPC_PARTIAL_NS (5 * NSEC_PER_SEC)
#define RPC_TABLE_MAX 1024
#define RPC_MAX_HANDLERS 64
#define RPC_CLIENT_PORT 4701

struct rpc_stats rpc_stats;
static unsigned rpc_timeout_ms = 2000;
static u32 my_epoch;
static u64 next_call_id = 1;
static struct workqueue *rpc_wq;

static int timeout_param(const char *val, void *arg)
{
	u64 v;
	if (!val || cmdline_parse_u64(val, &v) || v < 10 || v > 3600000)
		return -EINVAL;
	rpc_timeout_ms = (unsigned)v;
	return 0;
}
LEGO_PARAM("lego.rpc_timeout_ms", timeout_param, NULL);

/* ---- handlers ---- */

static struct {
	u16 opcode;
	rpc_handler_t fn;
	const char *name;
} handlers[RPC_MAX_HANDLERS];	/* filled at init, read-only afterwards */
static int nr_handlers;
static DEFINE_SPINLOCK(handlers_lock);

int rpc_register(u16 opcode, rpc_handler_t h, const char *name)
{
	int ret = 0;
	unsigned long f = spin_lock_irqsave(&handlers_lock);
	for (int i = 0; i < nr_handlers; i++)
		if (handlers[i].opcode == opcode)
			ret = -EBUSY;
	if (!ret && nr_handlers == RPC_MAX_HANDLERS)
		ret = -ENOSPC;
	if (!ret) {
		handlers[nr_handlers].opcode = opcode;
		handlers[nr_handlers].fn = h;
		handlers[nr_handlers].name = name;
		__atomic_store_n(&nr_handlers, nr_handlers + 1, __ATOMIC_RELEASE);
	}
	spin_unlock_irqrestore(&handlers_lock, f);
	return ret;
}

static rpc_handler_t handler_of(u16 opcode)
{
	int n = __atomic_load_n(&nr_handlers, __ATOMIC_ACQUIRE);
	for (int i = 0; i < n; i++)
		if (handlers[i].opcode == opcode)
			return handlers[i].fn;
	return NULL;
}

void *rpc_reply_alloc(struct rpc_req *r, u32 len)
{
	if (len > LEGO_RPC_MAX_MSG)
		return NULL;
	kfree(r->reply);
	r->reply = kmalloc(len ? len : 1);
	r->reply_len = r->reply ? len : 0;
	return r->reply;
}

/* ---- sending ---- */

static int send_frag(u32 ip, u16 port, u16 src_port, u8 type, u16 opcode, u32 epoch, u64 call_id,
		     const void *msg, u32 msg_len, unsigned idx, s32 status, u32 msg_csum)
{
	struct lego_rpc_hdr h;
	u32 off = idx * LEGO_RPC_FRAG_PAYLOAD;
	u16 flen = (u16)rpc_frag_len(msg_len, idx);

	rpc_hdr_build(&h, type, opcode, net_config.node_id, epoch, call_id, msg_len, off, flen,
		      status, msg_csum);
	return udp_send2(src_port, ip, port, &h, sizeof(h), (const u8 *)msg + off, flen);
}

/* Send every fragment whose bit is clear in skip (NULL: all). */
static void send_msg(u32 ip, u16 port, u16 src_port, u8 type, u16 opcode, u32 epoch, u64 call_id,
		     const void *msg, u32 msg_len, s32 status, u32 msg_csum, const u8 *skip)
{
	unsigned n = rpc_nfrags(msg_len);
	/* One doorbell for the whole message (see netdev.h). */
	netdev_tx_batch_begin();
	for (unsigned i = 0; i < n; i++)
		if (!skip || !rpc_bit_test(skip, i))
			send_frag(ip, port, src_port, type, opcode, epoch, call_id, msg, msg_len, i,
				  status, msg_csum);
	netdev_tx_batch_end();
}

static void send_small(u32 ip, u16 port, u16 src_port, u8 type, u16 opcode, u32 epoch,
		       u64 call_id, const void *payload, u16 len)
{
	struct lego_rpc_hdr h;
	rpc_hdr_build(&h, type, opcode, net_config.node_id, epoch, call_id, len, 0, len, 0,
		      lego_rpc_csum(payload, len));
	udp_send2(src_port, ip, port, &h, sizeof(h), payload, len);
}

/* ---- server ---- */

static void *table_alloc(size_t n) { return kmalloc(n); }
static void table_free(void *p) { kfree(p); }
static const struct rpc_table_ops table_ops = { table_alloc, table_free };

static struct rpc_table table;		/* table_lock */
static DEFINE_SPINLOCK(table_lock);
static u64 last_expire_ns;

struct rpc_job {
	struct work work;
	struct rpc_entry *entry;	/* RUNNING: only this job touches req */
	rpc_handler_t fn;
};

static void rpc_job_run(struct work *w)
{
	struct rpc_job *job = container_of(w, struct rpc_job, work);
	struct rpc_entry *e = job->entry;
	struct rpc_req r = {
		.src_ip = e->key.ip,
		.src_port = e->key.port,
		.opcode = e->opcode,
		.data = e->req.buf,
		.len = e->req.msg_len,
	};

	int status = job->fn(&r);
	if (status > 0)
		status = 0;
	u32 csum = lego_rpc_csum(r.reply, r.reply_len);
	/* Send first, then publish: the cache entry owns the buffer after. */
	send_msg(e->key.ip, e->key.port, LEGO_RPC_PORT, LEGO_RPC_REPLY, e->opcode, e->key.epoch,
		 e->key.call_id, r.reply, r.reply_len, status, csum, NULL);
	unsigned long f = spin_lock_irqsave(&table_lock);
	rpc_table_complete(&table, e, r.reply, r.reply_len, status, ktime_ns());
	spin_unlock_irqrestore(&table_lock, f);
	STAT_INC(rpc_stats.served);
	kfree(job);
}

/* e is DONE: its reply no longer changes. Runs in the receive thread,
 * the only one that frees DONE entries. */
static void resend_reply(struct rpc_entry *e, const u8 *skip)
{
	u32 csum = lego_rpc_csum(e->reply, e->reply_len);
	send_msg(e->key.ip, e->key.port, LEGO_RPC_PORT, LEGO_RPC_REPLY, e->opcode, e->key.epoch,
		 e->key.call_id, e->reply, e->reply_len, e->status, csum, skip);
}

static void send_state(const struct rpc_call_key *k, u16 opcode, u32 code, const u8 *have)
{
	struct lego_rpc_state st;
	memset(&st, 0, sizeof(st));
	st.code = code;
	if (have)
		memcpy(st.have, have, sizeof(st.have));
	send_small(k->ip, k->port, LEGO_RPC_PORT, LEGO_RPC_STATE, opcode, k->epoch, k->call_id, &st,
		   sizeof(st));
}

static void server_request(const struct lego_rpc_hdr *h, const struct rpc_call_key *k,
			   const void *data)
{
	u64 now = ktime_ns();
	rpc_handler_t fn = handler_of(h->opcode);

	if (!fn) {
		/* Answer at once; nothing is executed, so nothing to cache. */
		STAT_INC(rpc_stats.unknown_opcode);
		send_frag(k->ip, k->port, LEGO_RPC_PORT, LEGO_RPC_REPLY, h->opcode, k->epoch,
			  k->call_id, NULL, 0, 0, -ENOSYS, lego_rpc_csum(NULL, 0));
		return;
	}
	unsigned long f = spin_lock_irqsave(&table_lock);
	if (now - last_expire_ns > NSEC_PER_SEC) {
		rpc_table_expire(&table, now);
		last_expire_ns = now;
	}
	struct rpc_entry *e = rpc_table_find(&table, k);
	if (!e) {
		e = rpc_table_insert(&table, k, h, now);
		if (!e) {
			STAT_INC(rpc_stats.table_full);
			spin_unlock_irqrestore(&table_lock, f);
			return;	/* the client retries */
		}
		STAT_INC(rpc_stats.requests);
	}
	switch (e->state) {
	case RPC_ENTRY_ASSEMBLING: {
		int r = rpc_reasm_add(&e->req, h, data);
		if (r < 0) {
			STAT_INC(rpc_stats.rx_dropped[RPC_DROP_FRAG]);
			break;
		}
		rpc_table_touch(&table, e, now);
		if (!rpc_reasm_done(&e->req))
			break;
		if (!rpc_reasm_verify(&e->req)) {
			/* Inconsistent message: forget it; a probe will
			 * find nothing and the client resends. */
			STAT_INC(rpc_stats.rx_dropped[RPC_DROP_FRAG]);
			rpc_table_remove(&table, e);
			break;
		}
		struct rpc_job *job = kmalloc(sizeof(*job));
		if (!job) {
			rpc_table_remove(&table, e);
			break;
		}
		e->state = RPC_ENTRY_RUNNING;
		job->entry = e;
		job->fn = fn;
		work_init(&job->work, rpc_job_run);
		spin_unlock_irqrestore(&table_lock, f);
		queue_work(rpc_wq, &job->work);
		return;
	}
	case RPC_ENTRY_RUNNING:
		STAT_INC(rpc_stats.duplicates);
		spin_unlock_irqrestore(&table_lock, f);
		send_state(k, h->opcode, LEGO_RPC_STATE_RUNNING, NULL);
		return;
	case RPC_ENTRY_DONE:
		/* Send without the lock: DONE entries are freed only by this
		 * (the receive) thread, so e stays valid. */
		STAT_INC(rpc_stats.duplicates);
		spin_unlock_irqrestore(&table_lock, f);
		resend_reply(e, NULL);
		return;
	}
	spin_unlock_irqrestore(&table_lock, f);
}

static void server_probe(const struct lego_rpc_hdr *h, const struct rpc_call_key *k,
			 const struct lego_rpc_probe *p)
{
	u8 have[LEGO_RPC_BITMAP_BYTES];
	unsigned long f = spin_lock_irqsave(&table_lock);
	struct rpc_entry *e = rpc_table_find(&table, k);
	enum rpc_entry_state st = e ? e->state : RPC_ENTRY_ASSEMBLING;
	if (e && st == RPC_ENTRY_ASSEMBLING)
		memcpy(have, e->req.have, sizeof(have));
	spin_unlock_irqrestore(&table_lock, f);

	/* Only this (the receive) thread frees entries, so e stays valid. */
	if (!e)
		send_state(k, h->opcode, LEGO_RPC_STATE_UNKNOWN, NULL);
	else if (st == RPC_ENTRY_ASSEMBLING)
		send_state(k, h->opcode, LEGO_RPC_STATE_PARTIAL, have);
	else if (st == RPC_ENTRY_RUNNING)
		send_state(k, h->opcode, LEGO_RPC_STATE_RUNNING, NULL);
	else
		resend_reply(e, p->have);
}

/* ---- client ---- */

/* Fields after `node` are under pending_lock. */
struct rpc_pending {
	struct list_head node;
	u64 call_id;
	u32 ip;
	u16 port;
	u16 opcode;
	struct rpc_reasm reply;
	bool have_reply;		/* reply initialised from a first fragment */
	bool finished;
	int result;
	u64 last_alive_ns;
	bool state_seen;		/* a STATE arrived since the caller last looked */
	u32 state_code;
	u8 state_have[LEGO_RPC_BITMAP_BYTES];
	struct completion wake;
};

static LIST_HEAD(pending_calls);
static DEFINE_SPINLOCK(pending_lock);

static struct rpc_pending *pending_find(u64 call_id)
{
	struct rpc_pending *p;
	list_for_each_entry(p, &pending_calls, node)
		if (p->call_id == call_id)
			return p;
	return NULL;
}

static void client_packet(const struct lego_rpc_hdr *h, u32 ip, u16 port, const void *data)
{
	if (h->client_epoch != my_epoch) {
		STAT_INC(rpc_stats.rx_stray);
		return;
	}
	unsigned long f = spin_lock_irqsave(&pending_lock);
	struct rpc_pending *p = pending_find(h->call_id);
	if (!p || p->ip != ip || p->port != port || p->opcode != h->opcode || p->finished) {
		STAT_INC(rpc_stats.rx_stray);
		goto out;
	}
	p->last_alive_ns = ktime_ns();
	if (h->type == LEGO_RPC_STATE) {
		const struct lego_rpc_state *st = data;
		p->state_seen = true;
		p->state_code = st->code;
		memcpy(p->state_have, st->have, sizeof(p->state_have));
		complete(&p->wake);
		goto out;
	}
	/* A reply fragment: straight into the caller's buffer. */
	if (!p->have_reply) {
		u8 *buf = p->reply.buf;
		u32 cap = p->reply.cap;
		if (rpc_reasm_init(&p->reply, buf, cap, h) == -EMSGSIZE) {
			p->finished = true;
			p->result = -EMSGSIZE;
			complete(&p->wake);
			goto out;
		}
		p->have_reply = true;
	}
	if (rpc_reasm_add(&p->reply, h, data) < 0) {
		STAT_INC(rpc_stats.rx_dropped[RPC_DROP_FRAG]);
		goto out;
	}
	if (rpc_reasm_done(&p->reply)) {
		if (rpc_reasm_verify(&p->reply)) {
			p->finished = true;
			p->result = p->reply.status;
		} else {
			/* Start over: the probe asks for everything again. */
			STAT_INC(rpc_stats.rx_dropped[RPC_DROP_FRAG]);
			u8 *buf = p->reply.buf;
			u32 cap = p->reply.cap;
			memset(&p->reply, 0, sizeof(p->reply));
			p->reply.buf = buf;
			p->reply.cap = cap;
			p->have_reply = false;
		}
		complete(&p->wake);
	}
out:
	spin_unlock_irqrestore(&pending_lock, f);
}

int rpc_call(const struct rpc_endpoint *to, u16 opcode, const void *req, u32 req_len,
	     void *reply, u32 reply_max, u32 *reply_len, unsigned timeout_ms)
{
	if (!to || req_len > LEGO_RPC_MAX_MSG || (req_len && !req) || (reply_max && !reply))
		return -EINVAL;
	if (!net_primary() || !net_config.ip)
		return -ENETUNREACH;
	u16 port = to->port ? to->port : LEGO_RPC_PORT;
	u64 timeout_ns = (u64)(timeout_ms ? timeout_ms : rpc_timeout_ms) * NSEC_PER_MSEC;

	struct rpc_pending *p = kzalloc(sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ip = to->ip;
	p->port = port;
	p->opcode = opcode;
	p->reply.buf = reply;
	p->reply.cap = reply_max;
	completion_init(&p->wake);
	p->last_alive_ns = ktime_ns();

	unsigned long f = spin_lock_irqsave(&pending_lock);
	p->call_id = next_call_id++;
	list_add_tail(&p->node, &pending_calls);
	spin_unlock_irqrestore(&pending_lock, f);
	STAT_INC(rpc_stats.calls);

	u32 csum = lego_rpc_csum(req, req_len);
	send_msg(p->ip, port, RPC_CLIENT_PORT, LEGO_RPC_REQUEST, opcode, my_epoch, p->call_id, req,
		 req_len, 0, csum, NULL);

	u64 rto = RPC_RTO_INITIAL_NS;
	int result;
	for (;;) {
		bool woken = wait_for_completion_timeout(&p->wake, rto);
		f = spin_lock_irqsave(&pending_lock);
		if (p->finished) {
			result = p->result;
			if (result >= 0 && reply_len)
				*reply_len = p->reply.msg_len;
			spin_unlock_irqrestore(&pending_lock, f);
			break;
		}
		bool state = p->state_seen;
		u32 code = p->state_code;
		u8 have[LEGO_RPC_BITMAP_BYTES], reply_have[LEGO_RPC_BITMAP_BYTES];
		memcpy(have, p->state_have, sizeof(have));
		memcpy(reply_have, p->reply.have, sizeof(reply_have));
		bool partial_reply = p->have_reply;
		p->state_seen = false;
		u64 silent = ktime_ns() - p->last_alive_ns;
		spin_unlock_irqrestore(&pending_lock, f);

		if (silent >= timeout_ns) {
			result = -ETIMEDOUT;
			STAT_INC(rpc_stats.call_timeouts);
			break;
		}
		if (woken && state) {
			/* The server told us where the call stands. */
			if (code == LEGO_RPC_STATE_UNKNOWN)
				send_msg(p->ip, port, RPC_CLIENT_PORT, LEGO_RPC_REQUEST, opcode, my_epoch,
					 p->call_id, req, req_len, 0, csum, NULL);
			else if (code == LEGO_RPC_STATE_PARTIAL)
				send_msg(p->ip, port, RPC_CLIENT_PORT, LEGO_RPC_REQUEST, opcode, my_epoch,
					 p->call_id, req, req_len, 0, csum, have);
			continue;
		}
		if (woken)
			continue;	/* a reply restarted after a bad checksum */
		STAT_INC(rpc_stats.call_retransmits);
		if (!partial_reply && rpc_nfrags(req_len) == 1) {
			send_msg(p->ip, port, RPC_CLIENT_PORT, LEGO_RPC_REQUEST, opcode, my_epoch,
				 p->call_id, req, req_len, 0, csum, NULL);
		} else {
			struct lego_rpc_probe pr;
			memcpy(pr.have, reply_have, sizeof(pr.have));
			STAT_INC(rpc_stats.call_probes);
			send_small(p->ip, port, RPC_CLIENT_PORT, LEGO_RPC_PROBE, opcode, my_epoch,
				   p->call_id, &pr, sizeof(pr));
		}
		rto = MIN(rto * 2, RPC_RTO_MAX_NS);
	}

	f = spin_lock_irqsave(&pending_lock);
	list_del(&p->node);
	spin_unlock_irqrestore(&pending_lock, f);
	kfree(p);
	return result;
}

/* ---- receive ---- */

static void rpc_rx(void *ctx, u32 src_ip, u16 src_port, const void *data, size_t len)
{
	struct lego_rpc_hdr h;

	STAT_INC(rpc_stats.rx_datagrams);
	int r = rpc_hdr_check(data, len, &h);
	if (r < 0) {
		STAT_INC(rpc_stats.rx_dropped[-r]);
		return;
	}
	const u8 *payload = (const u8 *)data + sizeof(h);
	struct rpc_call_key k = { src_ip, src_port, h.client_epoch, h.call_id };
	switch (h.type) {
	case LEGO_RPC_REQUEST:
		server_request(&h, &k, payload);
		break;
	case LEGO_RPC_PROBE:
		server_probe(&h, &k, (const void *)payload);
		break;
	default:
		client_packet(&h, src_ip, src_port, payload);
		break;
	}
}

void rpc_builtin_init(void);

void rpc_init(void)
{
	my_epoch = (u32)(rdtsc() * 0x9e3779b97f4a7c15ull >> 32) | 1;
	rpc_table_init(&table, RPC_TABLE_MAX, RPC_RETAIN_NS, RPC_PARTIAL_NS, &table_ops);
	rpc_wq = workqueue_create("rpc", CONFIG_RPC_WORKERS, THREAD_CPU_ANY);
	if (!rpc_wq)
		panic("rpc: cannot start worker threads");
	/* Requests are queued by the receive thread, which sleeps once the
	 * NIC is drained: a worker on its CPU then runs without an IPI. */
	rpc_wq->wake_local = true;
	/* Requests arrive on the well-known port; our calls leave from a
	 * second one so replies to them never mix with requests. */
	if (udp_bind(LEGO_RPC_PORT, rpc_rx, NULL) || udp_bind(RPC_CLIENT_PORT, rpc_rx, NULL))
		panic("rpc: UDP ports %d/%d taken", LEGO_RPC_PORT, RPC_CLIENT_PORT);
	rpc_builtin_init();
	printk(KERN_INFO "rpc: serving on udp port %d, %d workers, call timeout %u ms\n",
	       LEGO_RPC_PORT, CONFIG_RPC_WORKERS, rpc_timeout_ms);
}
