/*
 * Unit tests for gm/lib/registry.c: registration and id rules, heartbeats,
 * failure detection, load polls and decisions, the GM_NODES encoding, the
 * state-file records (restart keeps ids), and random payloads (fuzz).
 * Time is passed in, so nothing here sleeps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

/* Relative: the unit-test build has no -I for gm/include. */
#include "../../gm/include/gm/registry.h"

#define HB 200
#define DEAD 1500
#define T0 1000000ull		/* monotonic ms at "start" */
#define W0 1700000000000ull	/* wall ms at "start" */

/* Events seen, for checks. */
static struct {
	enum gm_reg_event_type type;
	uint32_t id, old_id;
	uint64_t silent;
	int err;
} evs[64];
static unsigned nev;

static void on_event(void *arg, const struct gm_reg_event *ev)
{
	if (nev < 64)
		evs[nev++] = (typeof(evs[0])){ ev->type, ev->c->node_id, ev->old_id, ev->silent_ms,
					       ev->err };
}

static struct gm_registry *mkreg(uint32_t pers, size_t max)
{
	struct gm_registry *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	assert_int_equal(gm_reg_init(r, pers, HB, DEAD, max, T0), 0);
	gm_reg_set_event(r, on_event, NULL);
	nev = 0;
	return r;
}

static void rmreg(struct gm_registry *r)
{
	gm_reg_free(r);
	free(r);
}

static struct lego_gm_register_req req(uint32_t pers, const char *name, uint32_t inc)
{
	struct lego_gm_register_req q;

	memset(&q, 0, sizeof(q));
	q.personality = pers;
	q.incarnation = inc;
	strncpy(q.name, name, sizeof(q.name));
	q.ipv4 = htonl(0xc6120201);	/* 198.18.2.1 */
	q.rpc_port = LEGO_RPC_PORT;
	q.cpus = 2;
	q.mem_bytes = 512ull << 20;
	return q;
}

/* Registers; returns the id or the error. */
static int64_t reg(struct gm_registry *r, const struct lego_gm_register_req *q, uint64_t t)
{
	struct lego_gm_register_reply rep;
	const char *why;
	int e = gm_reg_register(r, q, sizeof(*q), t, W0 + t, &rep, &why);

	if (e < 0)
		return e;
	assert_int_equal(rep.heartbeat_ms, HB);
	assert_int_equal(rep.dead_after_ms, DEAD);
	return rep.node_id;
}

static int hb(struct gm_registry *r, uint32_t id, uint32_t inc, uint64_t t)
{
	struct lego_gm_heartbeat_req h = { id, inc };

	return gm_reg_heartbeat(r, &h, sizeof(h), t, W0 + t);
}

static uint32_t state_of(struct gm_registry *r, uint32_t id)
{
	struct gm_comp *c = gm_reg_find(r, id);

	assert_non_null(c);
	return c->state;
}

static void test_register_retry_reboot(void **st)
{
	struct gm_registry *r = mkreg(LEGO_PERS_MEMORY, 16);
	struct lego_gm_register_req m0 = req(LEGO_PERS_MEMORY, "m0", 111);
	struct lego_gm_register_req m1 = req(LEGO_PERS_MEMORY, "m1", 222);

	assert_int_equal(reg(r, &m0, T0), 2000);
	assert_int_equal(reg(r, &m1, T0), 2001);
	assert_true(r->dirty);
	assert_int_equal(nev, 2);
	assert_int_equal(evs[0].type, GM_EV_REGISTERED);
	assert_int_equal(evs[0].old_id, 0);

	/* A retry: same id, no new record. */
	nev = 0;
	assert_int_equal(reg(r, &m0, T0 + 10), 2000);
	assert_int_equal(r->n, 2);
	assert_int_equal(evs[0].type, GM_EV_RETRY);

	/* A reboot: old id dead first, then a new id that names the old. */
	nev = 0;
	m0.incarnation = 333;
	assert_int_equal(reg(r, &m0, T0 + 20), 2002);
	assert_int_equal(nev, 2);
	assert_int_equal(evs[0].type, GM_EV_DEAD_REBOOT);
	assert_int_equal(evs[0].id, 2000);
	assert_int_equal(evs[1].type, GM_EV_REGISTERED);
	assert_int_equal(evs[1].id, 2002);
	assert_int_equal(evs[1].old_id, 2000);
	assert_int_equal(state_of(r, 2000), LEGO_NODE_DEAD);
	assert_int_equal(state_of(r, 2002), LEGO_NODE_ALIVE);
	/* The old incarnation's heartbeats are refused. */
	assert_int_equal(hb(r, 2000, 111, T0 + 30), -ENOENT);
	assert_int_equal(hb(r, 2002, 333, T0 + 30), 0);
	/* Ids are never reused: the next one is 2003. */
	struct lego_gm_register_req m2 = req(LEGO_PERS_MEMORY, "m2", 1);
	assert_int_equal(reg(r, &m2, T0 + 40), 2003);
	rmreg(r);
}

static void test_register_name_conflict(void **st)
{
	struct gm_registry *r = mkreg(LEGO_PERS_MEMORY, 16);
	struct lego_gm_register_req a = req(LEGO_PERS_MEMORY, "m0", 1);
	struct lego_gm_register_req b = req(LEGO_PERS_MEMORY, "m0", 2);

	b.ipv4 = htonl(0xc6120202);	/* another node claims the name */
	assert_int_equal(reg(r, &a, T0), 2000);
	assert_int_equal(reg(r, &b, T0 + 10), -EEXIST);
	assert_int_equal(hb(r, 2000, 1, T0 + 500), 0);
	assert_int_equal(reg(r, &b, T0 + 500 + DEAD - 1), -EEXIST);
	assert_int_equal(state_of(r, 2000), LEGO_NODE_ALIVE);
	/* Once the first has been silent for dead_after_ms, the name is free
	 * (even before a tick declared it dead). */
	assert_int_equal(reg(r, &b, T0 + 500 + DEAD), 2001);
	assert_int_equal(state_of(r, 2000), LEGO_NODE_DEAD);
	/* A reboot from the same address is never refused. */
	b.incarnation = 3;
	assert_int_equal(reg(r, &b, T0 + 500 + DEAD + 1), 2002);
	rmreg(r);
}

static void test_register_invalid(void **st)
{
	struct gm_registry *r = mkreg(LEGO_PERS_PROCESSOR, 16);
	struct lego_gm_register_req q = req(LEGO_PERS_PROCESSOR, "p0", 1), b;
	struct lego_gm_register_reply rep;
	const char *why;

	assert_int_equal(gm_reg_register(r, &q, sizeof(q) - 1, T0, W0, &rep, &why), -EINVAL);
	assert_non_null(why);
	assert_int_equal(gm_reg_register(r, &q, 0, T0, W0, &rep, &why), -EINVAL);
	b = q; b.personality = LEGO_PERS_MEMORY;
	assert_int_equal(reg(r, &b, T0), -EINVAL);
	b = q; b.personality = 0;
	assert_int_equal(reg(r, &b, T0), -EINVAL);
	b = q; memset(b.name, 0, sizeof(b.name));
	assert_int_equal(reg(r, &b, T0), -EINVAL);
	b = q; memset(b.name, 'a', sizeof(b.name));		/* no NUL */
	assert_int_equal(reg(r, &b, T0), -EINVAL);
	b = q; strcpy(b.name, "p 0");
	assert_int_equal(reg(r, &b, T0), -EINVAL);
	b = q; strcpy(b.name, "p\n");
	assert_int_equal(reg(r, &b, T0), -EINVAL);
	b = q; b.ipv4 = 0;
	assert_int_equal(reg(r, &b, T0), -EINVAL);
	b = q; b.ipv4 = htonl(0xe0000001);			/* multicast */
	assert_int_equal(reg(r, &b, T0), -EINVAL);
	b = q; b.rpc_port = 0;
	assert_int_equal(reg(r, &b, T0), -EINVAL);
	b = q; b.flags = 0x8000;
	assert_int_equal(reg(r, &b, T0), -EINVAL);
	b = q; b.reserved = 1;
	assert_int_equal(reg(r, &b, T0), -EINVAL);
	assert_int_equal(r->n, 0);
	assert_int_equal(nev, 0);
	/* 15 characters and the kernel's fallback names are fine; so is
	 * garbage after the NUL. */
	b = q; strcpy(b.name, "processor-ab_1.");
	assert_int_equal(reg(r, &b, T0), 1000);
	b = q; memset(b.name, 'x', sizeof(b.name)); strcpy(b.name, "p1");
	assert_int_equal(reg(r, &b, T0), 1001);
	assert_string_equal(gm_reg_find(r, 1001)->name, "p1");
	rmreg(r);
}

static void test_heartbeat_and_death(void **st)
{
	struct gm_registry *r = mkreg(LEGO_PERS_MEMORY, 16);
	struct lego_gm_register_req q = req(LEGO_PERS_MEMORY, "m0", 7);
	struct lego_gm_heartbeat_req h = { 2000, 7 };

	assert_int_equal(reg(r, &q, T0), 2000);
	assert_int_equal(gm_reg_heartbeat(r, &h, sizeof(h) + 1, T0, W0), -EINVAL);
	assert_int_equal(gm_reg_heartbeat(r, &h, 4, T0, W0), -EINVAL);
	assert_int_equal(hb(r, 2001, 7, T0), -ENOENT);
	assert_int_equal(hb(r, 2000, 8, T0), -ENOENT);
	assert_int_equal(hb(r, 2000, 7, T0 + 1000), 0);

	nev = 0;
	gm_reg_tick(r, T0 + 1000 + DEAD - 1, W0);
	assert_int_equal(state_of(r, 2000), LEGO_NODE_ALIVE);
	assert_int_equal(nev, 0);
	gm_reg_tick(r, T0 + 1000 + DEAD, W0 + 5);
	assert_int_equal(state_of(r, 2000), LEGO_NODE_DEAD);
	assert_int_equal(nev, 1);
	assert_int_equal(evs[0].type, GM_EV_DEAD_TIMEOUT);
	assert_int_equal(evs[0].silent, DEAD);
	assert_int_equal(gm_reg_find(r, 2000)->since_wall_ms, W0 + 5);
	/* Declared once only. */
	gm_reg_tick(r, T0 + 99999, W0);
	assert_int_equal(nev, 1);
	/* Its heartbeats now get -ENOENT; it registers again, even with the
	 * same incarnation, and gets a new id. */
	assert_int_equal(hb(r, 2000, 7, T0 + 3000), -ENOENT);
	assert_int_equal(reg(r, &q, T0 + 3000), 2001);
	assert_int_equal(evs[1].type, GM_EV_REGISTERED);
	assert_int_equal(evs[1].old_id, 2000);
	rmreg(r);
}

static void test_table_and_range_limits(void **st)
{
	struct gm_registry *r = mkreg(LEGO_PERS_STORAGE, 3);
	char name[16];

	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		struct lego_gm_register_req q = req(LEGO_PERS_STORAGE, name, 1);
		assert_int_equal(reg(r, &q, T0), 3000 + i);
	}
	struct lego_gm_register_req q3 = req(LEGO_PERS_STORAGE, "s3", 1);
	assert_int_equal(reg(r, &q3, T0), -ENOSPC);
	/* s0 dies; its record makes room. */
	assert_int_equal(hb(r, 3001, 1, T0 + 1000), 0);
	assert_int_equal(hb(r, 3002, 1, T0 + 1000), 0);
	gm_reg_tick(r, T0 + DEAD, W0);
	assert_int_equal(state_of(r, 3000), LEGO_NODE_DEAD);
	nev = 0;
	assert_int_equal(reg(r, &q3, T0 + DEAD), 3003);
	assert_int_equal(evs[0].type, GM_EV_EVICTED);
	assert_int_equal(evs[0].id, 3000);
	assert_null(gm_reg_find(r, 3000));
	assert_int_equal(r->n, 3);

	/* The id range ends at base + 999. */
	r->next_id = LEGO_NODE_ID_STORAGE_BASE + LEGO_NODE_ID_RANGE - 1;
	gm_reg_tick(r, T0 + 10 * DEAD, W0);
	struct lego_gm_register_req q4 = req(LEGO_PERS_STORAGE, "s4", 1);
	struct lego_gm_register_req q5 = req(LEGO_PERS_STORAGE, "s5", 1);
	assert_int_equal(reg(r, &q4, T0 + 10 * DEAD), 3999);
	assert_int_equal(reg(r, &q5, T0 + 10 * DEAD), -ENOSPC);
	rmreg(r);
}

static struct lego_load mkload(uint32_t pers, uint64_t reqs, uint64_t up_s, uint64_t free_mib)
{
	struct lego_load l;

	memset(&l, 0, sizeof(l));
	l.personality = pers;
	l.cpus = 4;
	l.threads = 9;
	l.mem_total_bytes = 1024ull << 20;
	l.mem_free_bytes = free_mib << 20;
	l.rpc_requests = reqs;
	l.uptime_ns = up_s * 1000000000ull;
	return l;
}

static void test_load_and_decisions(void **st)
{
	struct gm_registry *r = mkreg(LEGO_PERS_MEMORY, 16);
	struct lego_gm_register_req q0 = req(LEGO_PERS_MEMORY, "m0", 1);
	struct lego_gm_register_req q1 = req(LEGO_PERS_MEMORY, "m1", 1);
	struct gm_pol_comp s[4];
	struct lego_load l;

	assert_int_equal(reg(r, &q0, T0), 2000);
	assert_int_equal(reg(r, &q1, T0), 2001);
	/* Before any poll: what they registered with. */
	assert_int_equal(gm_reg_snapshot(r, s, 4), 2);
	assert_int_equal(s[0].node_id, 2000);
	assert_int_equal(s[0].cpus, 2);
	assert_int_equal(s[0].mem_free_bytes, 512ull << 20);
	assert_int_equal(s[0].load, 0);

	l = mkload(LEGO_PERS_MEMORY, 100, 10, 700);
	gm_reg_load_result(r, 2000, 1, 0, &l, sizeof(l));
	l = mkload(LEGO_PERS_MEMORY, 600, 12, 650);	/* 500 requests in 2 s */
	gm_reg_load_result(r, 2000, 1, 0, &l, sizeof(l));
	gm_reg_snapshot(r, s, 4);
	assert_int_equal(s[0].cpus, 4);
	assert_int_equal(s[0].threads, 9);
	assert_int_equal(s[0].mem_free_bytes, 650ull << 20);
	assert_int_equal(s[0].load, 250);
	assert_int_equal(gm_reg_find(r, 2000)->req_rate, 250);

	/* Decisions count until the next poll. */
	gm_reg_charge(r, 2000, 2, 50ull << 20, 3);
	gm_reg_snapshot(r, s, 4);
	assert_int_equal(s[0].threads, 11);
	assert_int_equal(s[0].mem_free_bytes, 600ull << 20);
	assert_int_equal(s[0].load, 253);
	gm_reg_charge(r, 2000, 0, 1ull << 40, 0);		/* more than free: 0, not wrap */
	gm_reg_snapshot(r, s, 4);
	assert_int_equal(s[0].mem_free_bytes, 0);
	l = mkload(LEGO_PERS_MEMORY, 600, 14, 640);
	gm_reg_load_result(r, 2000, 1, 0, &l, sizeof(l));
	gm_reg_snapshot(r, s, 4);
	assert_int_equal(s[0].threads, 9);
	assert_int_equal(s[0].mem_free_bytes, 640ull << 20);
	assert_int_equal(s[0].load, 0);

	/* Failures: reported once per streak; the last load stays. */
	nev = 0;
	gm_reg_load_result(r, 2000, 1, -ETIMEDOUT, NULL, 0);
	gm_reg_load_result(r, 2000, 1, -ENOSYS, NULL, 0);
	l = mkload(LEGO_PERS_PROCESSOR, 0, 15, 1);		/* wrong kind */
	gm_reg_load_result(r, 2000, 1, 0, &l, sizeof(l));
	gm_reg_load_result(r, 2000, 1, 0, &l, sizeof(l) - 1);	/* wrong size */
	assert_int_equal(nev, 1);
	assert_int_equal(evs[0].type, GM_EV_POLL_FAILED);
	assert_int_equal(evs[0].err, -ETIMEDOUT);
	gm_reg_snapshot(r, s, 4);
	assert_int_equal(s[0].mem_free_bytes, 640ull << 20);
	l = mkload(LEGO_PERS_MEMORY, 700, 16, 630);
	gm_reg_load_result(r, 2000, 1, 0, &l, sizeof(l));
	assert_int_equal(evs[1].type, GM_EV_POLL_OK);
	/* A restarted counter (smaller) gives no rate rather than garbage. */
	l = mkload(LEGO_PERS_MEMORY, 5, 1, 630);
	gm_reg_load_result(r, 2000, 1, 0, &l, sizeof(l));
	assert_int_equal(gm_reg_find(r, 2000)->req_rate, 0);
	/* A result for another incarnation is ignored. */
	l = mkload(LEGO_PERS_MEMORY, 5, 1, 1);
	gm_reg_load_result(r, 2001, 99, 0, &l, sizeof(l));
	assert_false(gm_reg_find(r, 2001)->polled);

	/* The dead and the unheard are not in the snapshot. */
	assert_int_equal(hb(r, 2001, 1, T0 + 1000), 0);
	gm_reg_tick(r, T0 + DEAD, W0);
	assert_int_equal(gm_reg_snapshot(r, s, 4), 1);
	assert_int_equal(s[0].node_id, 2001);
	/* Charging a dead component does nothing. */
	gm_reg_charge(r, 2000, 5, 5, 5);
	assert_int_equal(gm_reg_find(r, 2000)->pending_threads, 0);
	rmreg(r);
}

/* LEGO_GM_REG_UNHEALTHY: accepted, listed, kept alive, never chosen. */
static void test_unhealthy(void **st)
{
	struct gm_registry *r = mkreg(LEGO_PERS_STORAGE, 16);
	struct lego_gm_register_req q0 = req(LEGO_PERS_STORAGE, "s0", 1);
	struct lego_gm_register_req q1 = req(LEGO_PERS_STORAGE, "s1", 1);
	struct gm_pol_comp s[4];
	uint8_t buf[1024];
	struct lego_gm_node_ext x;
	size_t len, unhealthy = 99;

	q0.storage_bytes = 1ull << 30;
	q1.storage_bytes = 8ull << 30;		/* more free space, but unhealthy */
	q1.flags = LEGO_GM_REG_UNHEALTHY | LEGO_GM_REG_WANT_NOTIFY;
	assert_int_equal(gm_reg_count_alive(r, &unhealthy), 0);
	assert_int_equal(unhealthy, 0);
	assert_int_equal(reg(r, &q1, T0), 3000);
	assert_int_equal(gm_reg_count_alive(r, &unhealthy), 1);
	assert_int_equal(unhealthy, 1);
	/* Listed, flagged for the policies, which choose nothing. */
	assert_int_equal(gm_reg_snapshot(r, s, 4), 1);
	assert_int_equal(s[0].flags, GM_POL_UNHEALTHY);
	/* (test_gm_policy checks that no policy chooses a flagged one.) */
	assert_int_equal(reg(r, &q0, T0), 3001);
	assert_int_equal(gm_reg_count_alive(r, &unhealthy), 2);
	assert_int_equal(unhealthy, 1);
	assert_int_equal(gm_reg_snapshot(r, s, 4), 2);
	assert_int_equal(s[0].flags, GM_POL_UNHEALTHY);
	assert_int_equal(s[1].flags, 0);
	/* Heartbeats keep it alive like any other. */
	assert_int_equal(hb(r, 3000, 1, T0 + DEAD - 1), 0);
	assert_int_equal(hb(r, 3001, 1, T0 + DEAD - 1), 0);
	gm_reg_tick(r, T0 + DEAD + 10, W0);
	assert_int_equal(gm_reg_find(r, 3000)->state, LEGO_NODE_ALIVE);
	/* GM_NODES carries the flag, for legoctl. */
	assert_int_equal(gm_reg_encode_nodes(r, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 8 + 2 * (sizeof(struct lego_gm_node) + sizeof(x)));
	memcpy(&x, buf + 8 + 2 * sizeof(struct lego_gm_node), sizeof(x));
	assert_int_equal(x.flags, LEGO_GM_REG_UNHEALTHY | LEGO_GM_REG_WANT_NOTIFY);
	/* It rebooted with a repaired disk: healthy under its new id. */
	q1.incarnation = 2;
	q1.flags = 0;
	assert_int_equal(reg(r, &q1, T0 + 2000), 3002);
	assert_int_equal(gm_reg_count_alive(r, &unhealthy), 2);
	assert_int_equal(unhealthy, 0);
	assert_int_equal(gm_reg_snapshot(r, s, 4), 2);
	assert_int_equal(s[0].node_id, 3001);
	assert_int_equal(s[1].node_id, 3002);
	assert_int_equal(s[1].flags, 0);
	/* Other unknown flags are still refused. */
	q0.flags = 0x0004;
	assert_int_equal(reg(r, &q0, T0 + 2000), -EINVAL);
	rmreg(r);
}

static void test_encode_nodes(void **st)
{
	struct gm_registry *r = mkreg(LEGO_PERS_PROCESSOR, 8);
	struct lego_gm_register_req q0 = req(LEGO_PERS_PROCESSOR, "p0", 5);
	struct lego_gm_register_req q1 = req(LEGO_PERS_PROCESSOR, "p1", 6);
	uint8_t buf[4096];
	size_t len = 0;
	struct lego_gm_nodes_reply h;
	struct lego_gm_node n;
	struct lego_gm_node_ext x;
	struct lego_load l = mkload(LEGO_PERS_PROCESSOR, 10, 1, 0);

	q1.flags = LEGO_GM_REG_WANT_NOTIFY;
	q1.rpc_port = 4799;
	assert_int_equal(reg(r, &q0, T0), 1000);
	assert_int_equal(reg(r, &q1, T0 + 5), 1001);
	gm_reg_load_result(r, 1000, 5, 0, &l, sizeof(l));
	gm_reg_charge(r, 1000, 1, 0, 1);
	assert_int_equal(gm_reg_nodes_max_bytes(r), 8 + 8 * 128);
	assert_int_equal(gm_reg_encode_nodes(r, buf, 8 + 2 * 128 - 1, &len), -ENOSPC);
	assert_int_equal(gm_reg_encode_nodes(r, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 8 + 2 * (112 + 16));
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.count, 2);
	memcpy(&n, buf + 8, sizeof(n));
	assert_int_equal(n.node_id, 1000);
	assert_int_equal(n.state, LEGO_NODE_ALIVE);
	assert_string_equal(n.name, "p0");
	assert_int_equal(n.load.threads, 10);		/* 9 polled + 1 placed */
	assert_int_equal(n.since_ms, W0 + T0);
	memcpy(&n, buf + 8 + 112, sizeof(n));
	assert_int_equal(n.node_id, 1001);
	assert_int_equal(n.load.cpus, 2);		/* from the registration */
	memcpy(&x, buf + 8 + 2 * 112, sizeof(x));
	assert_int_equal(x.incarnation, 5);
	assert_int_equal(x.load_flags, LEGO_GM_LOAD_POLLED);
	memcpy(&x, buf + 8 + 2 * 112 + 16, sizeof(x));
	assert_int_equal(x.rpc_port, 4799);
	assert_int_equal(x.flags, LEGO_GM_REG_WANT_NOTIFY);
	assert_int_equal(x.load_flags, 0);
	rmreg(r);
}

/* Writes r's records and parses them into a fresh registry (a restart). */
static struct gm_registry *restart(struct gm_registry *r, uint64_t t)
{
	struct gm_buf b = { 0 };
	struct gm_registry *n = mkreg(r->personality, r->max);
	char err[200];

	n->start_mono_ms = t;
	gm_reg_state_write(r, &b);
	assert_int_equal(b.err, 0);
	for (char *line = b.data, *next; line && *line; line = next) {
		char *f[16];
		int nf;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		nf = gm_state_fields(line, f, 16);
		assert_true(nf > 0);
		assert_int_equal(gm_reg_state_line(n, f, nf, t, W0 + t, err, sizeof(err)), 1);
	}
	gm_buf_free(&b);
	rmreg(r);
	nev = 0;
	return n;
}

static void test_restart_keeps_ids(void **st)
{
	struct gm_registry *r = mkreg(LEGO_PERS_MEMORY, 16);
	struct lego_gm_register_req q0 = req(LEGO_PERS_MEMORY, "m0", 10);
	struct lego_gm_register_req q1 = req(LEGO_PERS_MEMORY, "m1", 11);
	struct lego_gm_register_req q2 = req(LEGO_PERS_MEMORY, "m2", 12);
	struct gm_pol_comp s[4];
	uint64_t t = T0 + 100000;

	q1.flags = LEGO_GM_REG_WANT_NOTIFY;
	assert_int_equal(reg(r, &q0, T0), 2000);
	assert_int_equal(reg(r, &q1, T0), 2001);
	assert_int_equal(reg(r, &q2, T0), 2002);
	assert_int_equal(hb(r, 2000, 10, T0 + 1000), 0);
	assert_int_equal(hb(r, 2001, 11, T0 + 1000), 0);
	gm_reg_tick(r, T0 + DEAD, W0 + 77);		/* m2 dies */

	r = restart(r, t);
	assert_int_equal(r->n, 3);
	assert_int_equal(r->next_id, 2003);
	assert_int_equal(state_of(r, 2000), LEGO_NODE_UNKNOWN);
	assert_int_equal(state_of(r, 2001), LEGO_NODE_UNKNOWN);
	assert_int_equal(state_of(r, 2002), LEGO_NODE_DEAD);
	assert_int_equal(gm_reg_find(r, 2002)->since_wall_ms, W0 + 77);
	assert_int_equal(gm_reg_find(r, 2001)->flags, LEGO_GM_REG_WANT_NOTIFY);
	assert_string_equal(gm_reg_find(r, 2001)->name, "m1");
	/* Unknown components take no part in decisions. */
	assert_int_equal(gm_reg_snapshot(r, s, 4), 0);
	/* A heartbeat brings m0 back with its id... */
	assert_int_equal(hb(r, 2000, 10, t + 100), 0);
	assert_int_equal(state_of(r, 2000), LEGO_NODE_ALIVE);
	assert_int_equal(evs[0].type, GM_EV_REVIVED);
	/* ... a register retry brings m1 back with its id ... */
	assert_int_equal(reg(r, &q1, t + 100), 2001);
	assert_int_equal(state_of(r, 2001), LEGO_NODE_ALIVE);
	assert_int_equal(evs[1].type, GM_EV_REVIVED);
	/* ... the dead stays dead, and new ids continue the count. */
	assert_int_equal(hb(r, 2002, 12, t + 100), -ENOENT);
	struct lego_gm_register_req q3 = req(LEGO_PERS_MEMORY, "m3", 13);
	assert_int_equal(reg(r, &q3, t + 100), 2003);

	/* Restart again; this time nobody answers in time. */
	r = restart(r, t + 1000);
	gm_reg_tick(r, t + 1000 + DEAD - 1, W0);
	assert_int_equal(nev, 0);
	gm_reg_tick(r, t + 1000 + DEAD, W0);
	assert_int_equal(nev, 3);	/* 2000, 2001, 2003 */
	assert_int_equal(evs[0].type, GM_EV_DEAD_RESTART);
	assert_int_equal(state_of(r, 2003), LEGO_NODE_DEAD);
	rmreg(r);
}

static int parse_line(struct gm_registry *r, const char *text)
{
	char line[256], err[200] = "";
	char *f[16];
	int nf;

	snprintf(line, sizeof(line), "%s", text);
	nf = gm_state_fields(line, f, 16);
	if (nf < 0)
		return nf;
	int ret = gm_reg_state_line(r, f, nf, T0, W0, err, sizeof(err));
	if (ret < 0)
		assert_true(err[0] != '\0');
	return ret;
}

static void test_state_lines_invalid(void **st)
{
	struct gm_registry *r = mkreg(LEGO_PERS_MEMORY, 4);
	const char *good = "comp 2000 m0 5 198.18.2.1 4700 0 alive 123 2 536870912 0";

	assert_int_equal(parse_line(r, "vnode 1 web"), 0);		/* not the registry's */
	assert_int_equal(parse_line(r, "next_id 1999"), -EINVAL);	/* outside the range */
	assert_int_equal(parse_line(r, "next_id 3001"), -EINVAL);
	assert_int_equal(parse_line(r, "next_id x"), -EINVAL);
	assert_int_equal(parse_line(r, "next_id"), -EINVAL);
	assert_int_equal(parse_line(r, good), -EINVAL);		/* id >= next_id */
	assert_int_equal(parse_line(r, "next_id 2005"), 1);
	assert_int_equal(parse_line(r, "comp 2000 m0 5 198.18.2.1 4700 0 alive 123 2 536870912"),
			 -EINVAL);
	assert_int_equal(parse_line(r, "comp 2000 m0 5 198.18.2.999 4700 0 alive 123 2 5 0"),
			 -EINVAL);
	assert_int_equal(parse_line(r, "comp 2000 m0 5 198.18.2.1 70000 0 alive 123 2 5 0"),
			 -EINVAL);
	assert_int_equal(parse_line(r, "comp 2000 m0 5 198.18.2.1 4700 0 zombie 123 2 5 0"),
			 -EINVAL);
	assert_int_equal(parse_line(r, "comp 2000 m/0 5 198.18.2.1 4700 0 alive 123 2 5 0"),
			 -EINVAL);
	assert_int_equal(parse_line(r, "comp 2000 m0 -5 198.18.2.1 4700 0 alive 123 2 5 0"),
			 -EINVAL);
	assert_int_equal(parse_line(r, "comp 2000 abcdefghijklmnop 5 198.18.2.1 4700 0 alive 1 2 5 0"),
			 -EINVAL);
	assert_int_equal(parse_line(r, good), 1);
	assert_int_equal(parse_line(r, good), -EINVAL);		/* duplicate id */
	assert_int_equal(parse_line(r, "next_id 2005"), -EINVAL);	/* after comps */
	assert_int_equal(parse_line(r, "comp 2003 m1 5 198.18.2.1 4700 0 dead 123 2 5 0"), 1);
	assert_int_equal(parse_line(r, "comp 2001 m2 5 198.18.2.1 4700 0 dead 123 2 5 0"),
			 -EINVAL);						/* order */
	rmreg(r);
}

/* Random payloads at both handlers, with ticks in between: never a crash
 * (ASan/UBSan watch), and the table stays consistent. */
static void test_fuzz(void **st)
{
	struct gm_registry *r = mkreg(LEGO_PERS_MEMORY, 32);
	uint64_t x = 0x9e3779b97f4a7c15ull, t = T0;
	uint8_t buf[128];

	for (int i = 0; i < 200000; i++) {
		struct lego_gm_register_reply rep;
		const char *why;
		size_t len;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = x % 4 == 0 ? sizeof(struct lego_gm_register_req)
		      : x % 4 == 1 ? sizeof(struct lego_gm_heartbeat_req) : (x >> 8) % sizeof(buf);
		for (size_t k = 0; k < sizeof(buf); k++)
			buf[k] = (uint8_t)((x >> (k % 56)) ^ (k * 131));
		/* Often plausible: a valid personality, name and address, so
		 * that the deeper paths are reached too. */
		if (len == sizeof(struct lego_gm_register_req) && (x >> 20) % 2) {
			struct lego_gm_register_req q = req(LEGO_PERS_MEMORY, "m0", (uint32_t)(x >> 40) % 4);

			q.name[1] = (char)('0' + (x >> 30) % 40);
			memcpy(buf, &q, sizeof(q));
		}
		if (len == sizeof(struct lego_gm_heartbeat_req) && (x >> 20) % 2) {
			struct lego_gm_heartbeat_req h = { 2000 + (uint32_t)(x >> 33) % 64,
							   (uint32_t)(x >> 40) % 4 };

			memcpy(buf, &h, sizeof(h));
		}
		gm_reg_register(r, buf, len, t, W0 + t, &rep, &why);
		gm_reg_heartbeat(r, buf, len, t, W0 + t);
		if (i % 7 == 0) {
			struct lego_load l = mkload(LEGO_PERS_MEMORY, x >> 50, (x >> 40) % 100, 3);
			gm_reg_load_result(r, 2000 + (uint32_t)(x >> 33) % 64, (uint32_t)(x >> 40) % 4,
					   (x >> 3) % 3 ? 0 : -ETIMEDOUT, &l,
					   (x >> 5) % 5 ? sizeof(l) : (x >> 9) % 70);
			gm_reg_charge(r, 2000 + (uint32_t)(x >> 33) % 64, 1, x >> 45, 1);
		}
		t += (x >> 11) % 50;
		gm_reg_tick(r, t, W0 + t);
		assert_true(r->n <= r->max);
		for (size_t k = 1; k < r->n; k++)
			assert_true(r->comps[k - 1].node_id < r->comps[k].node_id);
		for (size_t k = 0; k < r->n; k++) {
			assert_true(gm_comp_name_ok(r->comps[k].name));
			assert_true(r->comps[k].node_id < r->next_id);
		}
	}
	/* The plausible payloads got through: many registrations and reboots. */
	assert_true(r->next_id > LEGO_NODE_ID_MEMORY_BASE + 100);
	rmreg(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_retry_reboot),
		cmocka_unit_test(test_register_name_conflict),
		cmocka_unit_test(test_register_invalid),
		cmocka_unit_test(test_heartbeat_and_death),
		cmocka_unit_test(test_table_and_range_limits),
		cmocka_unit_test(test_load_and_decisions),
		cmocka_unit_test(test_unhealthy),
		cmocka_unit_test(test_encode_nodes),
		cmocka_unit_test(test_restart_keeps_ids),
		cmocka_unit_test(test_state_lines_invalid),
		cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
