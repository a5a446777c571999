/*
 * Protocol between monitors, the global managers (gpmd, gmmd, gsmd) and
 * legoctl: opcodes in the 0x0100-0x01ff range of lego_rpc_opcode, carried
 * by LegoOS RPC (rpc.h). The single definition shared by kernel and gm/.
 * Design: docs/global-managers.md.
 *
 * Every manager listens on its own UDP port on the managers' address
 * (lego.gm= on the kernel command line). A monitor registers with the
 * manager of its kind (processor -> GPM, memory -> GMM, storage -> GSM),
 * receives its node id and then sends heartbeats to it; managers poll
 * monitors for load with LEGO_OP_LOAD. Strings are NUL-terminated and NUL
 * padded; numbers little-endian; IPv4 addresses in network byte order.
 */
#ifndef UAPI_LEGO_GM_H
#define UAPI_LEGO_GM_H

#include <stdint.h>
#include <uapi/lego/rpc.h>

#define LEGO_GPM_PORT 4710
#define LEGO_GMM_PORT 4711
#define LEGO_GSM_PORT 4712

/* Node ids are assigned by the managers, from disjoint ranges so that an
 * id names its kind, and never reused. */
#define LEGO_NODE_ID_PROCESSOR_BASE 1000u
#define LEGO_NODE_ID_MEMORY_BASE 2000u
#define LEGO_NODE_ID_STORAGE_BASE 3000u
#define LEGO_NODE_ID_RANGE 1000u

enum lego_personality {
	LEGO_PERS_PROCESSOR = 1,
	LEGO_PERS_MEMORY = 2,
	LEGO_PERS_STORAGE = 3,
};

enum lego_gm_opcode {
	LEGO_OP_GM_REGISTER = 0x0101,	/* monitor -> its manager */
	LEGO_OP_GM_HEARTBEAT = 0x0102,	/* monitor -> its manager */
	LEGO_OP_GM_NODES = 0x0103,	/* anyone -> a manager: its components */
	LEGO_OP_GM_NOTIFY = 0x0104,	/* manager -> subscribed monitors: a component died */

	LEGO_OP_GPM_PLACE = 0x0110,	/* legoctl -> GPM: where would a new process run */
	LEGO_OP_GPM_VNODE_CREATE = 0x0111,
	LEGO_OP_GPM_VNODE_LIST = 0x0112,
	LEGO_OP_GPM_VNODE_REMOVE = 0x0113,

	LEGO_OP_GMM_HOME = 0x0120,	/* GPM -> GMM: a home mComponent for a new process */
	LEGO_OP_GMM_VREGION = 0x0121,	/* home mComponent -> GMM: an owner for a new vRegion */

	LEGO_OP_GSM_PLACE = 0x0130,	/* GPM -> GSM: an sComponent for a new vNode's storage */
};

#define LEGO_NAME_LEN 16

struct lego_gm_register_req {
	uint32_t personality;		/* enum lego_personality */
	uint32_t incarnation;		/* random per boot: tells a reboot from a retry */
	char name[LEGO_NAME_LEN];	/* lego.name=, e.g. "m0" */
	uint32_t ipv4;			/* the monitor's RPC address */
	uint16_t rpc_port;		/* its RPC port (LEGO_RPC_PORT) */
	uint16_t flags;			/* LEGO_GM_REG_* */
	uint32_t cpus;
	uint32_t reserved;
	uint64_t mem_bytes;		/* usable RAM */
	uint64_t storage_bytes;		/* sComponent: capacity; else 0 */
};

#define LEGO_GM_REG_WANT_NOTIFY 0x0001	/* tell me when a component dies */
/* Added with the storage monitor: the component is up but cannot serve
 * (e.g. an sComponent whose disk holds a corrupt or foreign image). It is
 * listed, kept alive by heartbeats, and never chosen by a policy. */
#define LEGO_GM_REG_UNHEALTHY 0x0002

struct lego_gm_register_reply {
	uint32_t node_id;
	uint32_t heartbeat_ms;		/* send a heartbeat this often */
	uint32_t dead_after_ms;		/* silent this long = dead */
	uint32_t reserved;
};

struct lego_gm_heartbeat_req {
	uint32_t node_id;
	uint32_t incarnation;
};
/* Reply: empty, status 0; -ENOENT when the manager does not know this
 * (node_id, incarnation) — e.g. it was declared dead — and the monitor
 * must register again (and gets a new id). */

enum lego_node_state {
	LEGO_NODE_ALIVE = 1,
	LEGO_NODE_DEAD = 2,
	/* Added with the managers: known from the manager's state file after
	 * the manager restarted, not heard from since. Excluded from every
	 * decision; its next heartbeat makes it ALIVE with the same id, and
	 * dead_after_ms of silence after the restart makes it DEAD. */
	LEGO_NODE_UNKNOWN = 3,
};

/* LEGO_OP_GM_NODES reply: a count followed by that many entries. */
struct lego_gm_node {
	uint32_t node_id;
	uint32_t personality;
	uint32_t state;			/* enum lego_node_state */
	uint32_t ipv4;
	char name[LEGO_NAME_LEN];
	uint64_t since_ms;		/* wall-clock ms (Unix epoch) of the last state change */
	uint64_t last_heard_ms;		/* wall-clock ms of the last heartbeat */
	struct lego_load load;		/* last polled load (zeros if never polled) */
};

struct lego_gm_nodes_reply {
	uint32_t count;
	uint32_t reserved;
	struct lego_gm_node nodes[];
};

/* Added with the managers: after nodes[count] a LEGO_OP_GM_NODES reply
 * carries count of these, in the same order. A reader that receives
 * exactly 8 + count * sizeof(struct lego_gm_node) bytes (an older
 * manager) treats these values as unknown. The request is empty. */
struct lego_gm_node_ext {
	uint32_t incarnation;		/* as registered */
	uint16_t rpc_port;		/* where the manager polls it */
	uint16_t flags;			/* LEGO_GM_REG_* as registered */
	uint32_t req_rate;		/* requests/s served between the last two polls */
	uint32_t load_flags;		/* LEGO_GM_LOAD_* */
};

#define LEGO_GM_LOAD_POLLED 0x0001	/* load is from a poll; else from the registration */

/* LEGO_OP_GM_NOTIFY request (manager -> monitor); empty reply. */
struct lego_gm_notify {
	uint32_t node_id;		/* the component that died */
	uint32_t personality;
	uint64_t when_ms;
};

/* LEGO_OP_GMM_HOME / LEGO_OP_GMM_VREGION / LEGO_OP_GSM_PLACE reply.
 * LEGO_OP_GMM_HOME and LEGO_OP_GSM_PLACE requests are empty. */
struct lego_gm_choice {
	uint32_t node_id;
	uint32_t ipv4;
	char name[LEGO_NAME_LEN];
};

/* LEGO_OP_GMM_VREGION request. */
struct lego_gmm_vregion_req {
	uint64_t bytes;			/* free memory the owner must have (one vRegion) */
};

/* LEGO_OP_GPM_PLACE request/reply. */
struct lego_gpm_place_req {
	char vnode[LEGO_NAME_LEN];	/* vNode the process belongs to */
};

struct lego_gpm_place_reply {
	struct lego_gm_choice processor;
	struct lego_gm_choice home_memory;
	uint32_t vnode_id;
	uint32_t cache_node;		/* the vNode's buffer-cache mComponent
					 * (struct lego_vnode) */
};

/* vNodes (paper section 4.1). */
struct lego_vnode {
	uint32_t vnode_id;
	uint32_t vip;			/* virtual IPv4, network byte order */
	char name[LEGO_NAME_LEN];
	char mount[64];			/* storage mount point, e.g. "/vnode/web" */
	uint32_t storage_node;		/* sComponent holding its storage */
	uint32_t cache_node;		/* mComponent caching its files (§4.5, the
					 * buffer cache every process of the vNode
					 * uses); 0: not chosen yet */
	uint64_t created_ms;
};

/* Reply: the struct lego_vnode created. A name is 1-15 characters of
 * [a-z0-9_-], NUL padded. */
struct lego_gpm_vnode_create_req {
	char name[LEGO_NAME_LEN];
};

/* Reply: empty. */

struct lego_gpm_vnode_remove_req {
	char name[LEGO_NAME_LEN];
};

/* LEGO_OP_GPM_VNODE_LIST reply. */
struct lego_gpm_vnode_list_reply {
	uint32_t count;
	uint32_t reserved;
	struct lego_vnode vnodes[];
};

/*
 * Errors (added with the managers; docs/global-managers.md). A manager
 * answers with a negative errno status:
 *   -EINVAL        malformed request: wrong size, invalid field
 *   -ENOENT        unknown (node_id, incarnation) in a heartbeat; unknown vNode
 *   -EEXIST        vNode name already taken; REGISTER of a name that a live
 *                  component at another address holds (retry later)
 *   -EHOSTDOWN     no component of the needed kind is alive
 *   -ENOSPC        no alive component has enough free memory; id range,
 *                  component table or vNode table full
 *   -EHOSTUNREACH  GPM could not reach GMM or GSM
 *   -ENOSYS        opcode not served by this manager
 * With a negative status, replies to the requests that legoctl and the
 * managers make (LEGO_OP_GM_NODES, LEGO_OP_GPM_*, LEGO_OP_GMM_HOME,
 * LEGO_OP_GSM_PLACE) may carry a NUL-terminated message for the user of at
 * most LEGO_GM_ERRMSG_MAX bytes. Error replies to monitors (REGISTER,
 * HEARTBEAT, GMM_VREGION) never carry a payload, so that a monitor's small
 * reply buffer never turns the status into -EMSGSIZE.
 */
#define LEGO_GM_ERRMSG_MAX 128

_Static_assert(sizeof(struct lego_gm_register_req) == 56, "wire size");
_Static_assert(sizeof(struct lego_gm_node) == 112, "wire size");
_Static_assert(sizeof(struct lego_vnode) == 104, "wire size");
_Static_assert(sizeof(struct lego_gm_node_ext) == 16, "wire size");

#endif
