/* The monitor's side of the global managers' protocol: registration,
 * heartbeats, death notices (managers/common/gm_client.c). */
#ifndef LEGO_GM_CLIENT_H
#define LEGO_GM_CLIENT_H

#include <lego/types.h>

/* Register with the manager of this node's kind (address from lego.gm=),
 * waiting up to lego.gm_wait_ms, then keep heartbeating from a thread.
 * Without lego.gm= the node runs unmanaged. */
void gm_client_start(void);

/* What monitor_reg_info reports has changed (e.g. the storage monitor's
 * store went read-only): the heartbeat thread registers again, with the
 * same incarnation, so the manager keeps the node id and learns the new
 * flags. Any context that may not sleep is fine; it only sets a flag. */
void gm_client_refresh(void);

/* A component died (LEGO_OP_GM_NOTIFY); monitors that keep state about
 * other components (memory replication) hook in here. */
typedef void (*gm_death_hook_t)(u32 node_id, u32 personality);
void gm_client_on_death(gm_death_hook_t hook);

#endif
