/*
 * Placement policies of the global managers (paper §4.6), as pure functions
 * over a snapshot of the cluster: no I/O, no clock, no global state, so
 * they are unit-tested on synthetic clusters (tests/unit/test_gm_policy.c)
 * and a daemon can swap one for another (struct gm_policies).
 *
 * The snapshot holds the ALIVE components of one kind only; the manager
 * builds it from its registry, with its own decisions since the last load
 * poll already folded in (see gm_reg_snapshot()).
 *
 * Every policy breaks ties by the lowest node id, whatever the order of
 * the array, so equal clusters always give equal answers. A component
 * flagged GM_POL_UNHEALTHY (it registered with LEGO_GM_REG_UNHEALTHY: up,
 * but unable to serve) is never chosen.
 */
#ifndef GM_POLICY_H
#define GM_POLICY_H

#include <stddef.h>
#include <stdint.h>

struct gm_pol_comp {
	uint32_t node_id;
	uint32_t cpus;
	uint32_t threads;		/* polled, plus the manager's placements since */
	uint32_t flags;			/* GM_POL_* */
	uint64_t mem_total_bytes;
	uint64_t mem_free_bytes;	/* polled, minus what the manager handed out since */
	uint64_t load;			/* memory: requests/s, plus choices made since the poll */
	uint64_t storage_total_bytes;
	uint64_t storage_free_bytes;
};

#define GM_POL_UNHEALTHY 0x1		/* listed, alive, never chosen */

/*
 * A policy: returns the index in c[0..n) of the chosen component, or
 * -EHOSTDOWN when no healthy component is in c (n == 0: none of the kind
 * is alive), or -ENOSPC when no healthy one has need_bytes free (memory or
 * storage, as the policy says).
 */
typedef int (*gm_policy_fn)(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes);

/* GPM: the pComponent with the fewest threads (need_bytes unused). */
int gm_policy_fewest_threads(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes);
/* GMM: the least-loaded mComponent among those with at least need_bytes
 * of free memory. */
int gm_policy_least_loaded_memory(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes);
/* GMM alternative (gmmd --home-policy most-free): the mComponent with the
 * most free memory, if at least need_bytes. */
int gm_policy_most_free_memory(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes);
/* GSM: the sComponent with the most free space, if at least need_bytes. */
int gm_policy_most_free_storage(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes);

/* The policies a manager uses; each daemon holds one of these. */
struct gm_policies {
	gm_policy_fn gpm_place;		/* new process -> pComponent */
	gm_policy_fn gmm_home;		/* new process -> home mComponent */
	gm_policy_fn gmm_vregion;	/* new vRegion -> owner mComponent */
	gm_policy_fn gsm_place;		/* new vNode -> sComponent for its storage */
};

extern const struct gm_policies gm_policies_default;

#endif
