/*
 * gmmd: the global memory manager (paper §4.6). mComponents register with
 * it and heartbeat; it polls their free memory and request load, and
 * answers two questions:
 *   LEGO_OP_GMM_HOME     (from GPM) which mComponent is a new process's home;
 *   LEGO_OP_GMM_VREGION  (from a home mComponent) which mComponent owns a
 *                        new vRegion: the least-loaded one among those with
 *                        at least a vRegion of free memory.
 * The common machinery (registration, liveness, polls, state file, death
 * notifications to the mComponents that asked) is gm/lib/mgr.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "gm/log.h"
#include "gm/mgr.h"

/* Owned by the event-loop thread (options are set before it runs). */
struct gmmd {
	struct gm_mgr *m;
	struct gm_policies pol;
	uint64_t home_min_bytes;	/* free memory a home must have */
};

static const struct gm_mgr_option gmmd_options[] = {
	{ "home-min-mib", "N", "free memory a home mComponent needs (default 64)" },
	{ "home-policy", "P", "least-loaded (default) or most-free" },
};

static int gmmd_option(void *arg, const char *name, const char *val, char *err, size_t errlen)
{
	struct gmmd *g = arg;
	uint64_t v;

	if (!strcmp(name, "home-min-mib")) {
		if (gm_parse_u64(val, 1u << 30, &v)) {
			snprintf(err, errlen, "--home-min-mib must be a number of MiB, not '%s'", val);
			return -EINVAL;
		}
		g->home_min_bytes = v << 20;
		return 0;
	}
	if (!strcmp(name, "home-policy")) {
		if (!strcmp(val, "least-loaded"))
			g->pol.gmm_home = gm_policy_least_loaded_memory;
		else if (!strcmp(val, "most-free"))
			g->pol.gmm_home = gm_policy_most_free_memory;
		else {
			snprintf(err, errlen, "--home-policy is least-loaded or most-free, not '%s'",
				 val);
			return -EINVAL;
		}
		return 0;
	}
	return -EINVAL;
}

static int gmmd_no_memory(struct gmmd *g, int r, void *reply, size_t reply_max,
			  size_t *reply_len, uint64_t need, bool msg)
{
	char why[96];

	if (!msg)
		return r;	/* monitors get the bare status (gm.h) */
	if (r == -EHOSTDOWN)
		return gm_errmsg(r, reply, reply_max, reply_len, "%s",
				 gm_mgr_none_alive(g->m, why, sizeof(why)));
	if (r == -ENOSPC)
		return gm_errmsg(r, reply, reply_max, reply_len,
				 "no alive memory component has %" PRIu64 " MiB free", need >> 20);
	return gm_errmsg(r, reply, reply_max, reply_len, "memory choice failed: %s",
			 strerror(-r));
}

static int gmmd_h_home(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		       void *reply, size_t reply_max, size_t *reply_len)
{
	struct gmmd *g = arg;
	struct lego_gm_choice ch;
	int r;

	if (req->len) {
		gm_mgr_reject(g->m, req, "GMM_HOME request not empty");
		return gm_errmsg(-EINVAL, reply, reply_max, reply_len,
				 "GMM_HOME takes an empty request");
	}
	r = gm_mgr_choose(g->m, g->pol.gmm_home, g->home_min_bytes, &ch);
	if (r < 0) {
		gm_log("no home for a new process: %s",
		       r == -EHOSTDOWN ? "no memory component alive" : "none has enough free memory");
		return gmmd_no_memory(g, r, reply, reply_max, reply_len, g->home_min_bytes, true);
	}
	/* A home soon holds the process's first vRegion. */
	gm_reg_charge(gm_mgr_registry(g->m), ch.node_id, 0, g->home_min_bytes, 1);
	gm_log("home of a new process: %s (id %u)", ch.name, ch.node_id);
	memcpy(reply, &ch, sizeof(ch));
	*reply_len = sizeof(ch);
	return 0;
}

static int gmmd_h_vregion(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
			  void *reply, size_t reply_max, size_t *reply_len)
{
	struct gmmd *g = arg;
	struct lego_gmm_vregion_req q;
	struct lego_gm_choice ch;
	int r;

	if (req->len != sizeof(q)) {
		gm_mgr_reject(g->m, req, "GMM_VREGION of the wrong size");
		return -EINVAL;
	}
	memcpy(&q, req->data, sizeof(q));
	if (q.bytes == 0) {
		gm_mgr_reject(g->m, req, "GMM_VREGION for 0 bytes");
		return -EINVAL;
	}
	r = gm_mgr_choose(g->m, g->pol.gmm_vregion, q.bytes, &ch);
	if (r < 0) {
		gm_log("no owner for a vRegion of %" PRIu64 " bytes: %s", q.bytes,
		       r == -EHOSTDOWN ? "no memory component alive" : "none has enough free memory");
		return gmmd_no_memory(g, r, reply, reply_max, reply_len, q.bytes, false);
	}
	gm_reg_charge(gm_mgr_registry(g->m), ch.node_id, 0, q.bytes, 1);
	gm_log("vRegion of %" PRIu64 " bytes (from %u): %s (id %u)", q.bytes, req->src_node,
	       ch.name, ch.node_id);
	memcpy(reply, &ch, sizeof(ch));
	*reply_len = sizeof(ch);
	return 0;
}

static int gmmd_setup(struct gm_mgr *m, void *arg)
{
	struct gmmd *g = arg;
	size_t max = sizeof(struct lego_gm_choice) > LEGO_GM_ERRMSG_MAX
			     ? sizeof(struct lego_gm_choice) : LEGO_GM_ERRMSG_MAX;

	g->m = m;
	if (gm_rpc_serve_register(gm_mgr_ep(m), LEGO_OP_GMM_HOME, gmmd_h_home, g, max) ||
	    gm_rpc_serve_register(gm_mgr_ep(m), LEGO_OP_GMM_VREGION, gmmd_h_vregion, g,
				  sizeof(struct lego_gm_choice)))
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	static struct gmmd g;
	static const struct gm_mgr_desc d = {
		.daemon = "gmmd",
		.title = "gmmd: the global memory manager",
		.personality = LEGO_PERS_MEMORY,
		.default_port = LEGO_GMM_PORT,
		.options = gmmd_options,
		.noptions = sizeof(gmmd_options) / sizeof(gmmd_options[0]),
		.option = gmmd_option,
		.setup = gmmd_setup,
	};

	g.pol = gm_policies_default;
	g.home_min_bytes = 64ull << 20;
	return gm_mgr_main(argc, argv, &d, &g);
}
