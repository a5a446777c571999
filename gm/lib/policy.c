/*
 * The managers' placement policies (paper §4.6): pure functions over a
 * snapshot, see include/gm/policy.h.
 */
#include <errno.h>

#include "../include/gm/policy.h"

static uint64_t key_threads(const struct gm_pol_comp *c) { return c->threads; }
static uint64_t key_load(const struct gm_pol_comp *c) { return c->load; }
static uint64_t key_mem_free(const struct gm_pol_comp *c) { return c->mem_free_bytes; }
static uint64_t key_storage_free(const struct gm_pol_comp *c) { return c->storage_free_bytes; }

/*
 * The one selection loop behind every policy: among the healthy components
 * whose `room` (if given) is at least need_bytes, the one with the smallest
 * (or, with most, the largest) key; ties go to the lowest node id,
 * independent of the array order. -EHOSTDOWN when no component is healthy
 * (or the snapshot is empty), -ENOSPC when no healthy component has room.
 */
static int pol_pick(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes,
		    uint64_t (*room)(const struct gm_pol_comp *),
		    uint64_t (*key)(const struct gm_pol_comp *), int most)
{
	int best = -1;
	size_t healthy = 0;

	for (size_t i = 0; i < n; i++) {
		if (c[i].flags & GM_POL_UNHEALTHY)
			continue;
		healthy++;
		if (room && room(&c[i]) < need_bytes)
			continue;
		if (best < 0) {
			best = (int)i;
			continue;
		}
		uint64_t ki = key(&c[i]), kb = key(&c[best]);
		if ((most ? ki > kb : ki < kb) || (ki == kb && c[i].node_id < c[best].node_id))
			best = (int)i;
	}
	if (!healthy)
		return -EHOSTDOWN;
	return best < 0 ? -ENOSPC : best;
}

int gm_policy_fewest_threads(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes)
{
	(void)need_bytes;
	return pol_pick(c, n, 0, NULL, key_threads, 0);
}

int gm_policy_least_loaded_memory(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes)
{
	return pol_pick(c, n, need_bytes, key_mem_free, key_load, 0);
}

int gm_policy_most_free_memory(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes)
{
	return pol_pick(c, n, need_bytes, key_mem_free, key_mem_free, 1);
}

int gm_policy_most_free_storage(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes)
{
	return pol_pick(c, n, need_bytes, key_storage_free, key_storage_free, 1);
}

const struct gm_policies gm_policies_default = {
	.gpm_place = gm_policy_fewest_threads,
	.gmm_home = gm_policy_least_loaded_memory,
	.gmm_vregion = gm_policy_least_loaded_memory,
	.gsm_place = gm_policy_most_free_storage,
};
