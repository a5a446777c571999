/*
 * A manager's registry: the components of its kind that registered with
 * it, their ids, liveness and approximate load (paper §4.6, §4.7).
 *
 * Pure bookkeeping: no I/O and no clock of its own. Callers pass the time
 * (monotonic ms for timeouts, wall-clock ms for what users see) and raw
 * request payloads, which are validated here; what happens is reported
 * through an event callback (the daemon logs it, saves its state file and
 * notifies monitors). This keeps the rules unit-testable
 * (tests/unit/test_gm_registry.c).
 *
 * Rules (docs/global-managers.md):
 *  - ids come from the kind's range (LEGO_NODE_ID_*_BASE + 0..999), are
 *    handed out in increasing order and never reused;
 *  - REGISTER with the (name, incarnation) of a component that is not dead
 *    is a retry: same id;
 *  - REGISTER with a new incarnation is a reboot: the old id is declared
 *    dead (whatever it held is lost) and a new id is assigned; so is
 *    REGISTER by a component that was declared dead;
 *  - but a new incarnation from another IPv4 address while the old one is
 *    alive and heard within dead_after_ms is refused (-EEXIST): two live
 *    components with one name (a configuration mistake) would otherwise
 *    take each other's ids in turn;
 *  - a component silent for dead_after_ms is declared dead; its heartbeats
 *    are then answered -ENOENT so that it registers again;
 *  - a component that registers with LEGO_GM_REG_UNHEALTHY (up, but it
 *    cannot serve: e.g. an sComponent with a corrupt disk image) is
 *    listed and kept alive by its heartbeats like any other, but the
 *    snapshot flags it GM_POL_UNHEALTHY so that no policy chooses it;
 *  - after a manager restart, components read from the state file are
 *    UNKNOWN until heard from: a heartbeat with the right (id,
 *    incarnation), or a REGISTER retry, revives them with their id;
 *    dead_after_ms of silence after the restart declares them dead.
 *
 * Not thread-safe: a registry belongs to the thread that runs the
 * daemon's event loop.
 */
#ifndef GM_REGISTRY_H
#define GM_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uapi/lego/gm.h>
#include "policy.h"
#include "statefile.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "gm/ copies little-endian wire structs as they are");

#define GM_REG_DEFAULT_MAX 1024

struct gm_comp {
	/* identity, as registered (persisted) */
	uint32_t node_id;
	uint32_t incarnation;
	char name[LEGO_NAME_LEN];
	uint32_t ipv4;			/* network byte order */
	uint16_t rpc_port;
	uint16_t flags;			/* LEGO_GM_REG_* */
	uint32_t cpus;
	uint64_t mem_bytes;
	uint64_t storage_bytes;

	/* liveness */
	uint32_t state;			/* enum lego_node_state (persisted) */
	uint64_t since_wall_ms;		/* last state change (persisted) */
	uint64_t last_heard_wall_ms;	/* 0: never since this manager started */
	uint64_t last_heard_mono_ms;	/* UNKNOWN: the manager's start */

	/* load: the last poll, plus the manager's own decisions since */
	bool polled;
	struct lego_load load;
	uint32_t req_rate;		/* requests/s between the last two polls */
	unsigned poll_failures;		/* consecutive */
	uint32_t pending_threads;
	uint32_t pending_choices;
	uint64_t pending_bytes;
};

enum gm_reg_event_type {
	GM_EV_REGISTERED,	/* a new id; old_id != 0 if it replaces a rebooted one */
	GM_EV_RETRY,		/* the same (name, incarnation) again: same id */
	GM_EV_REVIVED,		/* UNKNOWN -> ALIVE after the manager's restart */
	GM_EV_DEAD_TIMEOUT,	/* no heartbeat for silent_ms */
	GM_EV_DEAD_RESTART,	/* not heard within dead_after_ms of the manager's start */
	GM_EV_DEAD_REBOOT,	/* registered again with another incarnation */
	GM_EV_POLL_FAILED,	/* first failure of a run of load polls (err) */
	GM_EV_POLL_OK,		/* a load poll succeeded after failures */
	GM_EV_EVICTED,		/* a dead record dropped to make room */
};

struct gm_reg_event {
	enum gm_reg_event_type type;
	const struct gm_comp *c;
	uint32_t old_id;
	uint32_t old_incarnation;
	uint64_t silent_ms;
	int err;
};

typedef void (*gm_reg_event_fn)(void *arg, const struct gm_reg_event *ev);

struct gm_registry {
	uint32_t personality;		/* the kind this manager manages */
	uint32_t id_base;
	uint32_t next_id;		/* persisted */
	unsigned heartbeat_ms, dead_after_ms;
	uint64_t start_mono_ms;
	struct gm_comp *comps;		/* sorted by node_id */
	size_t n, max;
	bool dirty;			/* persisted fields changed since the last save */
	gm_reg_event_fn event;
	void *event_arg;
};

int gm_reg_init(struct gm_registry *r, uint32_t personality, unsigned heartbeat_ms,
		unsigned dead_after_ms, size_t max_comps, uint64_t now_mono);
void gm_reg_free(struct gm_registry *r);
void gm_reg_set_event(struct gm_registry *r, gm_reg_event_fn fn, void *arg);

/* "processor", "memory", "storage" or "?" */
const char *gm_pers_name(uint32_t personality);
/* A component name: 1-15 of [A-Za-z0-9_.-], NUL-terminated in the field. */
bool gm_comp_name_ok(const char name[LEGO_NAME_LEN]);

/*
 * LEGO_OP_GM_REGISTER: validates the payload, applies the rules above and
 * fills *out. Returns 0, -EINVAL (malformed; *why says what), -EEXIST
 * (name used by another live component) or -ENOSPC (id range or table
 * exhausted).
 */
int gm_reg_register(struct gm_registry *r, const void *data, size_t len, uint64_t now_mono,
		    uint64_t now_wall, struct lego_gm_register_reply *out, const char **why);

/* LEGO_OP_GM_HEARTBEAT: 0, -EINVAL (malformed) or -ENOENT (unknown or dead). */
int gm_reg_heartbeat(struct gm_registry *r, const void *data, size_t len, uint64_t now_mono,
		     uint64_t now_wall);

/* Declares dead whatever has been silent too long. */
void gm_reg_tick(struct gm_registry *r, uint64_t now_mono, uint64_t now_wall);

struct gm_comp *gm_reg_find(struct gm_registry *r, uint32_t node_id);

/* Applies the outcome of a LEGO_OP_LOAD poll of (node_id, incarnation):
 * status and reply as gm_rpc_call returned them. A result for a component
 * that has since died or rebooted is ignored. */
void gm_reg_load_result(struct gm_registry *r, uint32_t node_id, uint32_t incarnation,
			int status, const void *data, size_t len);

/* The ALIVE components as a policy snapshot, by increasing id; those that
 * registered LEGO_GM_REG_UNHEALTHY are flagged GM_POL_UNHEALTHY. Returns
 * how many were written (at most max). */
size_t gm_reg_snapshot(const struct gm_registry *r, struct gm_pol_comp *out, size_t max);

/* How many components are ALIVE; of them, *unhealthy (if not NULL)
 * registered LEGO_GM_REG_UNHEALTHY. For error messages. */
size_t gm_reg_count_alive(const struct gm_registry *r, size_t *unhealthy);

/* Folds a decision into the load until the next poll. */
void gm_reg_charge(struct gm_registry *r, uint32_t node_id, uint32_t threads, uint64_t bytes,
		   uint32_t choices);

/* Fills a LEGO_OP_GM_NODES reply (with the lego_gm_node_ext array). */
int gm_reg_encode_nodes(const struct gm_registry *r, void *buf, size_t max, size_t *len);
/* Reply size gm_reg_encode_nodes needs for the table's maximum. */
size_t gm_reg_nodes_max_bytes(const struct gm_registry *r);

/* State file records (statefile.h). state_line returns 1 if it used the
 * line, 0 if the line is not the registry's, -EINVAL (message in err) if
 * it is malformed. Components that were alive come back UNKNOWN. */
void gm_reg_state_write(const struct gm_registry *r, struct gm_buf *b);
int gm_reg_state_line(struct gm_registry *r, char **f, int nf, uint64_t now_mono,
		      uint64_t now_wall, char *err, size_t errlen);

#endif
