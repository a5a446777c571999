/*
 * A manager's registry of components: ids, liveness, approximate load.
 * The rules are in include/gm/registry.h and docs/global-managers.md.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "../include/gm/registry.h"

const char *gm_pers_name(uint32_t personality)
{
	switch (personality) {
	case LEGO_PERS_PROCESSOR: return "processor";
	case LEGO_PERS_MEMORY: return "memory";
	case LEGO_PERS_STORAGE: return "storage";
	}
	return "?";
}

static uint32_t reg_id_base(uint32_t personality)
{
	switch (personality) {
	case LEGO_PERS_PROCESSOR: return LEGO_NODE_ID_PROCESSOR_BASE;
	case LEGO_PERS_MEMORY: return LEGO_NODE_ID_MEMORY_BASE;
	case LEGO_PERS_STORAGE: return LEGO_NODE_ID_STORAGE_BASE;
	}
	return 0;
}

bool gm_comp_name_ok(const char name[LEGO_NAME_LEN])
{
	size_t i;

	for (i = 0; i < LEGO_NAME_LEN && name[i]; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.'))
			return false;
	}
	return i > 0 && i < LEGO_NAME_LEN;
}

int gm_reg_init(struct gm_registry *r, uint32_t personality, unsigned heartbeat_ms,
		unsigned dead_after_ms, size_t max_comps, uint64_t now_mono)
{
	memset(r, 0, sizeof(*r));
	r->id_base = reg_id_base(personality);
	if (!r->id_base || !heartbeat_ms || dead_after_ms <= heartbeat_ms || !max_comps)
		return -EINVAL;
	r->personality = personality;
	r->next_id = r->id_base;
	r->heartbeat_ms = heartbeat_ms;
	r->dead_after_ms = dead_after_ms;
	r->start_mono_ms = now_mono;
	r->max = max_comps;
	r->comps = calloc(max_comps, sizeof(*r->comps));
	return r->comps ? 0 : -ENOMEM;
}

void gm_reg_free(struct gm_registry *r)
{
	free(r->comps);
	r->comps = NULL;
	r->n = 0;
}

void gm_reg_set_event(struct gm_registry *r, gm_reg_event_fn fn, void *arg)
{
	r->event = fn;
	r->event_arg = arg;
}

static void reg_emit(struct gm_registry *r, enum gm_reg_event_type type,
		     const struct gm_comp *c, uint32_t old_id, uint32_t old_inc,
		     uint64_t silent_ms, int err)
{
	struct gm_reg_event ev = { type, c, old_id, old_inc, silent_ms, err };

	if (r->event)
		r->event(r->event_arg, &ev);
}

struct gm_comp *gm_reg_find(struct gm_registry *r, uint32_t node_id)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->comps[mid].node_id == node_id)
			return &r->comps[mid];
		if (r->comps[mid].node_id < node_id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The newest record of a name: an older one can only be dead. */
static struct gm_comp *reg_find_name(struct gm_registry *r, const char *name)
{
	for (size_t i = r->n; i-- > 0;)
		if (!strncmp(r->comps[i].name, name, LEGO_NAME_LEN))
			return &r->comps[i];
	return NULL;
}

static void reg_set_state(struct gm_registry *r, struct gm_comp *c, uint32_t state,
			  uint64_t now_wall)
{
	c->state = state;
	c->since_wall_ms = now_wall;
	r->dirty = true;
}

static void reg_declare_dead(struct gm_registry *r, struct gm_comp *c,
			     enum gm_reg_event_type why, uint64_t silent_ms, uint64_t now_wall)
{
	reg_set_state(r, c, LEGO_NODE_DEAD, now_wall);
	/* Its load and the decisions charged to it mean nothing any more. */
	c->pending_threads = c->pending_choices = 0;
	c->pending_bytes = 0;
	reg_emit(r, why, c, 0, 0, silent_ms, 0);
}

/* Makes room for one record by dropping the oldest dead one. */
static bool reg_make_room(struct gm_registry *r)
{
	if (r->n < r->max)
		return true;
	for (size_t i = 0; i < r->n; i++) {
		if (r->comps[i].state == LEGO_NODE_DEAD) {
			struct gm_comp gone = r->comps[i];

			memmove(&r->comps[i], &r->comps[i + 1], (r->n - i - 1) * sizeof(*r->comps));
			r->n--;
			r->dirty = true;
			reg_emit(r, GM_EV_EVICTED, &gone, 0, 0, 0, 0);
			return true;
		}
	}
	return false;
}

static int reg_check_register(const struct gm_registry *r, const struct lego_gm_register_req *q,
			      const char **why)
{
	uint32_t ip = ntohl(q->ipv4);

	if (q->personality != r->personality) {
		*why = "personality is not the one this manager manages";
		return -EINVAL;
	}
	if (!gm_comp_name_ok(q->name)) {
		*why = "invalid name (1-15 of [A-Za-z0-9_.-])";
		return -EINVAL;
	}
	if (ip == 0 || ip == 0xffffffffu || (ip >> 28) == 0xe) {
		*why = "invalid IPv4 address";
		return -EINVAL;
	}
	if (!q->rpc_port) {
		*why = "RPC port 0";
		return -EINVAL;
	}
	if (q->flags & ~(LEGO_GM_REG_WANT_NOTIFY | LEGO_GM_REG_UNHEALTHY)) {
		*why = "unknown flags";
		return -EINVAL;
	}
	if (q->reserved) {
		*why = "reserved field not 0";
		return -EINVAL;
	}
	return 0;
}

static void reg_fill_reply(const struct gm_registry *r, const struct gm_comp *c,
			   struct lego_gm_register_reply *out)
{
	memset(out, 0, sizeof(*out));
	out->node_id = c->node_id;
	out->heartbeat_ms = r->heartbeat_ms;
	out->dead_after_ms = r->dead_after_ms;
}

static void reg_copy_identity(struct gm_comp *c, const struct lego_gm_register_req *q)
{
	memset(c->name, 0, sizeof(c->name));
	memcpy(c->name, q->name, strnlen(q->name, LEGO_NAME_LEN));
	c->incarnation = q->incarnation;
	c->ipv4 = q->ipv4;
	c->rpc_port = q->rpc_port;
	c->flags = q->flags;
	c->cpus = q->cpus;
	c->mem_bytes = q->mem_bytes;
	c->storage_bytes = q->storage_bytes;
}

int gm_reg_register(struct gm_registry *r, const void *data, size_t len, uint64_t now_mono,
		    uint64_t now_wall, struct lego_gm_register_reply *out, const char **why)
{
	struct lego_gm_register_req q;
	struct gm_comp *c;
	uint32_t old_id = 0, old_inc = 0;
	int err;

	*why = NULL;
	if (len != sizeof(q)) {
		*why = "wrong size";
		return -EINVAL;
	}
	memcpy(&q, data, sizeof(q));
	err = reg_check_register(r, &q, why);
	if (err)
		return err;

	c = reg_find_name(r, q.name);
	if (c && c->incarnation == q.incarnation && c->state != LEGO_NODE_DEAD) {
		/* A retry (our reply was lost), or a component that was
		 * registered before the manager restarted: same id. */
		bool persisted_change = c->ipv4 != q.ipv4 || c->rpc_port != q.rpc_port ||
					c->flags != q.flags || c->cpus != q.cpus ||
					c->mem_bytes != q.mem_bytes ||
					c->storage_bytes != q.storage_bytes;

		reg_copy_identity(c, &q);
		if (persisted_change)
			r->dirty = true;
		c->last_heard_mono_ms = now_mono;
		c->last_heard_wall_ms = now_wall;
		if (c->state == LEGO_NODE_UNKNOWN) {
			reg_set_state(r, c, LEGO_NODE_ALIVE, now_wall);
			reg_emit(r, GM_EV_REVIVED, c, 0, 0, 0, 0);
		} else {
			reg_emit(r, GM_EV_RETRY, c, 0, 0, 0, 0);
		}
		reg_fill_reply(r, c, out);
		return 0;
	}

	/* Two live components configured with one name would otherwise take
	 * each other's ids in turn. A reboot comes from the same address;
	 * one from elsewhere must wait until the old one is declared dead. */
	if (c && c->state == LEGO_NODE_ALIVE && c->ipv4 != q.ipv4 &&
	    now_mono - c->last_heard_mono_ms < r->dead_after_ms) {
		*why = "name used by another live component at another address";
		return -EEXIST;
	}
	if (r->next_id >= r->id_base + LEGO_NODE_ID_RANGE) {
		*why = "node id range exhausted (ids are never reused)";
		return -ENOSPC;
	}
	if (c) {
		old_id = c->node_id;
		old_inc = c->incarnation;
		/* A reboot: the old incarnation is gone, and with it whatever
		 * it held. Declared before the new id exists, so that
		 * observers see the death first. */
		if (c->state != LEGO_NODE_DEAD)
			reg_declare_dead(r, c, GM_EV_DEAD_REBOOT, 0, now_wall);
	}
	if (!reg_make_room(r)) {
		*why = "component table full (no dead record to drop)";
		return -ENOSPC;
	}
	/* Ids only grow, so appending keeps the array sorted. */
	c = &r->comps[r->n++];
	memset(c, 0, sizeof(*c));
	c->node_id = r->next_id++;
	reg_copy_identity(c, &q);
	c->state = LEGO_NODE_ALIVE;
	c->since_wall_ms = now_wall;
	c->last_heard_mono_ms = now_mono;
	c->last_heard_wall_ms = now_wall;
	r->dirty = true;
	reg_emit(r, GM_EV_REGISTERED, c, old_id, old_inc, 0, 0);
	reg_fill_reply(r, c, out);
	return 0;
}

int gm_reg_heartbeat(struct gm_registry *r, const void *data, size_t len, uint64_t now_mono,
		     uint64_t now_wall)
{
	struct lego_gm_heartbeat_req hb;
	struct gm_comp *c;

	if (len != sizeof(hb))
		return -EINVAL;
	memcpy(&hb, data, sizeof(hb));
	c = gm_reg_find(r, hb.node_id);
	if (!c || c->incarnation != hb.incarnation || c->state == LEGO_NODE_DEAD)
		return -ENOENT;
	c->last_heard_mono_ms = now_mono;
	c->last_heard_wall_ms = now_wall;
	if (c->state == LEGO_NODE_UNKNOWN) {
		reg_set_state(r, c, LEGO_NODE_ALIVE, now_wall);
		reg_emit(r, GM_EV_REVIVED, c, 0, 0, 0, 0);
	}
	return 0;
}

void gm_reg_tick(struct gm_registry *r, uint64_t now_mono, uint64_t now_wall)
{
	for (size_t i = 0; i < r->n; i++) {
		struct gm_comp *c = &r->comps[i];
		uint64_t silent = now_mono - c->last_heard_mono_ms;

		if (c->state == LEGO_NODE_DEAD || now_mono < c->last_heard_mono_ms ||
		    silent < r->dead_after_ms)
			continue;
		reg_declare_dead(r, c, c->state == LEGO_NODE_UNKNOWN ? GM_EV_DEAD_RESTART
								      : GM_EV_DEAD_TIMEOUT,
				 silent, now_wall);
	}
}

void gm_reg_load_result(struct gm_registry *r, uint32_t node_id, uint32_t incarnation,
			int status, const void *data, size_t len)
{
	struct gm_comp *c = gm_reg_find(r, node_id);
	struct lego_load ld;

	if (!c || c->incarnation != incarnation || c->state != LEGO_NODE_ALIVE)
		return;
	if (status == 0 && len != sizeof(ld))
		status = -EPROTO;
	if (status == 0) {
		memcpy(&ld, data, sizeof(ld));
		if (ld.personality != r->personality)
			status = -EPROTO;
	}
	if (status < 0) {
		if (c->poll_failures++ == 0)
			reg_emit(r, GM_EV_POLL_FAILED, c, 0, 0, 0, status);
		return;
	}
	/* The rate needs two samples of one boot: a smaller uptime or
	 * counter means the monitor restarted (same incarnation cannot, but
	 * the numbers come from the wire: trust nothing). */
	if (c->polled && ld.uptime_ns > c->load.uptime_ns &&
	    ld.rpc_requests >= c->load.rpc_requests) {
		double rate = (double)(ld.rpc_requests - c->load.rpc_requests) * 1e9 /
			      (double)(ld.uptime_ns - c->load.uptime_ns);

		c->req_rate = rate > (double)UINT32_MAX ? UINT32_MAX : (uint32_t)(rate + 0.5);
	} else {
		c->req_rate = 0;
	}
	c->load = ld;
	c->polled = true;
	/* The poll now reflects (approximately) the decisions made so far. */
	c->pending_threads = c->pending_choices = 0;
	c->pending_bytes = 0;
	if (c->poll_failures) {
		c->poll_failures = 0;
		reg_emit(r, GM_EV_POLL_OK, c, 0, 0, 0, 0);
	}
}

static uint64_t sat_sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static uint32_t sat_add32(uint32_t a, uint32_t b)
{
	return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

/* The manager's view of c's load: the poll (or, before any, what it
 * registered with) plus the manager's own decisions since. */
static void reg_view(const struct gm_comp *c, struct gm_pol_comp *p)
{
	memset(p, 0, sizeof(*p));
	p->node_id = c->node_id;
	if (c->flags & LEGO_GM_REG_UNHEALTHY)
		p->flags |= GM_POL_UNHEALTHY;
	if (c->polled) {
		p->cpus = c->load.cpus;
		p->threads = c->load.threads;
		p->mem_total_bytes = c->load.mem_total_bytes;
		p->mem_free_bytes = c->load.mem_free_bytes;
		p->storage_total_bytes = c->load.storage_total_bytes;
		p->storage_free_bytes = c->load.storage_free_bytes;
	} else {
		p->cpus = c->cpus;
		p->mem_total_bytes = p->mem_free_bytes = c->mem_bytes;
		p->storage_total_bytes = p->storage_free_bytes = c->storage_bytes;
	}
	p->threads = sat_add32(p->threads, c->pending_threads);
	p->mem_free_bytes = sat_sub(p->mem_free_bytes, c->pending_bytes);
	p->load = (uint64_t)c->req_rate + c->pending_choices;
}

size_t gm_reg_snapshot(const struct gm_registry *r, struct gm_pol_comp *out, size_t max)
{
	size_t k = 0;

	for (size_t i = 0; i < r->n && k < max; i++)
		if (r->comps[i].state == LEGO_NODE_ALIVE)
			reg_view(&r->comps[i], &out[k++]);
	return k;
}

size_t gm_reg_count_alive(const struct gm_registry *r, size_t *unhealthy)
{
	size_t k = 0, u = 0;

	for (size_t i = 0; i < r->n; i++) {
		if (r->comps[i].state != LEGO_NODE_ALIVE)
			continue;
		k++;
		if (r->comps[i].flags & LEGO_GM_REG_UNHEALTHY)
			u++;
	}
	if (unhealthy)
		*unhealthy = u;
	return k;
}

void gm_reg_charge(struct gm_registry *r, uint32_t node_id, uint32_t threads, uint64_t bytes,
		   uint32_t choices)
{
	struct gm_comp *c = gm_reg_find(r, node_id);

	if (!c || c->state != LEGO_NODE_ALIVE)
		return;
	c->pending_threads = sat_add32(c->pending_threads, threads);
	c->pending_choices = sat_add32(c->pending_choices, choices);
	c->pending_bytes = bytes > UINT64_MAX - c->pending_bytes ? UINT64_MAX
								 : c->pending_bytes + bytes;
}

size_t gm_reg_nodes_max_bytes(const struct gm_registry *r)
{
	return sizeof(struct lego_gm_nodes_reply) +
	       r->max * (sizeof(struct lego_gm_node) + sizeof(struct lego_gm_node_ext));
}

int gm_reg_encode_nodes(const struct gm_registry *r, void *buf, size_t max, size_t *len)
{
	size_t need = sizeof(struct lego_gm_nodes_reply) +
		      r->n * (sizeof(struct lego_gm_node) + sizeof(struct lego_gm_node_ext));
	struct lego_gm_nodes_reply hdr = { (uint32_t)r->n, 0 };
	uint8_t *p = buf;
	uint8_t *ext = p + sizeof(hdr) + r->n * sizeof(struct lego_gm_node);

	if (need > max)
		return -ENOSPC;
	memcpy(p, &hdr, sizeof(hdr));
	p += sizeof(hdr);
	for (size_t i = 0; i < r->n; i++) {
		const struct gm_comp *c = &r->comps[i];
		struct lego_gm_node n;
		struct lego_gm_node_ext x;
		struct gm_pol_comp v;

		memset(&n, 0, sizeof(n));
		n.node_id = c->node_id;
		n.personality = r->personality;
		n.state = c->state;
		n.ipv4 = c->ipv4;
		memcpy(n.name, c->name, sizeof(n.name));
		n.since_ms = c->since_wall_ms;
		n.last_heard_ms = c->last_heard_wall_ms;
		/* What the decisions see: the poll plus decisions since. */
		reg_view(c, &v);
		n.load = c->load;
		n.load.personality = r->personality;
		n.load.cpus = v.cpus;
		n.load.threads = v.threads;
		n.load.reserved = 0;
		n.load.mem_total_bytes = v.mem_total_bytes;
		n.load.mem_free_bytes = v.mem_free_bytes;
		n.load.storage_total_bytes = v.storage_total_bytes;
		n.load.storage_free_bytes = v.storage_free_bytes;
		memcpy(p, &n, sizeof(n));
		p += sizeof(n);

		memset(&x, 0, sizeof(x));
		x.incarnation = c->incarnation;
		x.rpc_port = c->rpc_port;
		x.flags = c->flags;
		x.req_rate = c->req_rate;
		x.load_flags = c->polled ? LEGO_GM_LOAD_POLLED : 0;
		memcpy(ext, &x, sizeof(x));
		ext += sizeof(x);
	}
	*len = need;
	return 0;
}

void gm_reg_state_write(const struct gm_registry *r, struct gm_buf *b)
{
	gm_buf_printf(b, "next_id %u\n", r->next_id);
	for (size_t i = 0; i < r->n; i++) {
		const struct gm_comp *c = &r->comps[i];
		char ip[INET_ADDRSTRLEN];
		struct in_addr a = { c->ipv4 };

		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		/* UNKNOWN is written as alive: it was alive when last heard. */
		gm_buf_printf(b, "comp %u %s %u %s %u %u %s %llu %u %llu %llu\n", c->node_id,
			      c->name, c->incarnation, ip, c->rpc_port, c->flags,
			      c->state == LEGO_NODE_DEAD ? "dead" : "alive",
			      (unsigned long long)c->since_wall_ms, c->cpus,
			      (unsigned long long)c->mem_bytes,
			      (unsigned long long)c->storage_bytes);
	}
}

int gm_reg_state_line(struct gm_registry *r, char **f, int nf, uint64_t now_mono,
		      uint64_t now_wall, char *err, size_t errlen)
{
	uint64_t v[9];
	struct gm_comp c;
	uint32_t ip;

	if (!strcmp(f[0], "next_id")) {
		if (nf != 2 || gm_parse_u64(f[1], UINT32_MAX, &v[0]) || v[0] < r->next_id ||
		    v[0] > r->id_base + LEGO_NODE_ID_RANGE || r->n) {
			snprintf(err, errlen, "bad next_id line (want one, first, in %u..%u)",
				 r->id_base, r->id_base + LEGO_NODE_ID_RANGE);
			return -EINVAL;
		}
		r->next_id = (uint32_t)v[0];
		return 1;
	}
	if (strcmp(f[0], "comp"))
		return 0;
	if (nf != 12 || gm_parse_u64(f[1], UINT32_MAX, &v[0]) ||
	    gm_parse_u64(f[3], UINT32_MAX, &v[1]) || gm_parse_ipv4(f[4], &ip) ||
	    gm_parse_u64(f[5], 65535, &v[2]) || gm_parse_u64(f[6], 65535, &v[3]) ||
	    (strcmp(f[7], "alive") && strcmp(f[7], "dead")) ||
	    gm_parse_u64(f[8], UINT64_MAX, &v[4]) || gm_parse_u64(f[9], UINT32_MAX, &v[5]) ||
	    gm_parse_u64(f[10], UINT64_MAX, &v[6]) || gm_parse_u64(f[11], UINT64_MAX, &v[7]) ||
	    strlen(f[2]) >= LEGO_NAME_LEN) {
		snprintf(err, errlen, "malformed comp line");
		return -EINVAL;
	}
	memset(&c, 0, sizeof(c));
	memcpy(c.name, f[2], strlen(f[2]));
	if (!gm_comp_name_ok(c.name)) {
		snprintf(err, errlen, "invalid component name '%s'", f[2]);
		return -EINVAL;
	}
	/* Ids were written in increasing order, below the counter, in range. */
	if (v[0] < r->id_base || v[0] >= r->next_id ||
	    (r->n && v[0] <= r->comps[r->n - 1].node_id)) {
		snprintf(err, errlen, "component id %llu out of order or outside %u..next_id %u",
			 (unsigned long long)v[0], r->id_base, r->next_id);
		return -EINVAL;
	}
	if (r->n == r->max) {
		snprintf(err, errlen, "more than %zu components", r->max);
		return -EINVAL;
	}
	c.node_id = (uint32_t)v[0];
	c.incarnation = (uint32_t)v[1];
	c.ipv4 = ip;
	c.rpc_port = (uint16_t)v[2];
	c.flags = (uint16_t)v[3];
	c.cpus = (uint32_t)v[5];
	c.mem_bytes = v[6];
	c.storage_bytes = v[7];
	if (!strcmp(f[7], "dead")) {
		c.state = LEGO_NODE_DEAD;
		c.since_wall_ms = v[4];
	} else {
		/* Unknown until heard: the silence is counted from now. */
		c.state = LEGO_NODE_UNKNOWN;
		c.since_wall_ms = now_wall;
	}
	c.last_heard_mono_ms = now_mono;
	r->comps[r->n++] = c;
	return 1;
}
