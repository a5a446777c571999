/*
 * The managers' placement policies (paper §4.6): pure functions over a
 * snapshot, see include/gm/policy.h.
 */
#include <errno.h>

#include "../include/gm/policy.h"

/* Ties go to the lowest node id, independent of the array order. */
static int pol_better_id(const struct gm_pol_comp *a, const struct gm_pol_comp *b)
{
	return a->node_id < b->node_id;
}

int gm_policy_fewest_threads(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes)
{
	int best = -1;

	(void)need_bytes;
	if (n == 0)
		return -EHOSTDOWN;
	for (size_t i = 0; i < n; i++) {
		const struct gm_pol_comp *b = best < 0 ? NULL : &c[best];

		if (!b || c[i].threads < b->threads ||
		    (c[i].threads == b->threads && pol_better_id(&c[i], b)))
			best = (int)i;
	}
	return best;
}

int gm_policy_least_loaded_memory(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes)
{
	int best = -1;

	if (n == 0)
		return -EHOSTDOWN;
	for (size_t i = 0; i < n; i++) {
		const struct gm_pol_comp *b = best < 0 ? NULL : &c[best];

		if (c[i].mem_free_bytes < need_bytes)
			continue;
		if (!b || c[i].load < b->load || (c[i].load == b->load && pol_better_id(&c[i], b)))
			best = (int)i;
	}
	return best < 0 ? -ENOSPC : best;
}

int gm_policy_most_free_memory(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes)
{
	int best = -1;

	if (n == 0)
		return -EHOSTDOWN;
	for (size_t i = 0; i < n; i++) {
		const struct gm_pol_comp *b = best < 0 ? NULL : &c[best];

		if (c[i].mem_free_bytes < need_bytes)
			continue;
		if (!b || c[i].mem_free_bytes > b->mem_free_bytes ||
		    (c[i].mem_free_bytes == b->mem_free_bytes && pol_better_id(&c[i], b)))
			best = (int)i;
	}
	return best < 0 ? -ENOSPC : best;
}

int gm_policy_most_free_storage(const struct gm_pol_comp *c, size_t n, uint64_t need_bytes)
{
	int best = -1;

	if (n == 0)
		return -EHOSTDOWN;
	for (size_t i = 0; i < n; i++) {
		const struct gm_pol_comp *b = best < 0 ? NULL : &c[best];

		if (c[i].storage_free_bytes < need_bytes)
			continue;
		if (!b || c[i].storage_free_bytes > b->storage_free_bytes ||
		    (c[i].storage_free_bytes == b->storage_free_bytes && pol_better_id(&c[i], b)))
			best = (int)i;
	}
	return best < 0 ? -ENOSPC : best;
}

const struct gm_policies gm_policies_default = {
	.gpm_place = gm_policy_fewest_threads,
	.gmm_home = gm_policy_least_loaded_memory,
	.gmm_vregion = gm_policy_least_loaded_memory,
	.gsm_place = gm_policy_most_free_storage,
};
