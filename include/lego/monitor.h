/* Entry points of the selected personality (managers/<personality>/).
 *
 * The core kernel calls them in this order, from the "main" kernel thread:
 *   monitor_init()        after the network is up, before the node registers
 *                         with its global manager;
 *   monitor_reg_info()    for every registration (gm_client.c), including
 *                         registrations again after a manager forgot the node;
 *   monitor_main()        after the registration attempt and the self-tests.
 * monitor_load() runs in RPC workers whenever a manager polls LEGO_OP_LOAD. */
#ifndef LEGO_MONITOR_H
#define LEGO_MONITOR_H

#include <lego/types.h>
#include <uapi/lego/rpc.h>

extern const char monitor_name[];
extern const int monitor_personality;	/* enum lego_personality (uapi/lego/gm.h) */
extern const bool monitor_wants_notify;	/* register for component-death notices */

/* Bring up the personality's own services (e.g. the storage monitor mounts
 * its disk and registers its RPC handlers). It must not fail the boot: a
 * monitor that cannot serve keeps running and says so through
 * monitor_reg_info (LEGO_GM_REG_UNHEALTHY), so that operators see it and
 * the managers' policies skip it. */
void monitor_init(void);

/* What the personality adds to its LEGO_OP_GM_REGISTER request; filled on
 * the registering thread's stack (no lock). */
struct monitor_reg_info {
	u16 flags;		/* LEGO_GM_REG_* (WANT_NOTIFY comes from monitor_wants_notify) */
	u64 storage_bytes;	/* sComponent: capacity of its store; else 0 */
};
void monitor_reg_info(struct monitor_reg_info *ri);

/* Fill the personality's fields of a LEGO_OP_LOAD reply (the core fills
 * cpus, threads, memory, requests, uptime): storage_total_bytes and
 * storage_free_bytes for sComponents. Runs in an RPC worker: it must not
 * block for long. */
void monitor_load(struct lego_load *l);

/* Runs after the registration attempt (registered, or still retrying in
 * the background) and the self-tests; prints
 * "lego: <personality> monitor ready" once the monitor can serve requests. */
void monitor_main(void);

#endif
