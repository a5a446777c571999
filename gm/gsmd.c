/*
 * gsmd: the global storage manager (paper §4.6). sComponents register with
 * it and heartbeat; it polls their free space and answers
 *   LEGO_OP_GSM_PLACE  (from GPM) which sComponent stores a new vNode:
 *                      the one with the most free space. A component that
 *                      registered LEGO_GM_REG_UNHEALTHY (its disk holds a
 *                      corrupt or foreign image) is listed but never chosen.
 * The common machinery is gm/lib/mgr.c.
 */
#include <errno.h>
#include <string.h>

#include "gm/log.h"
#include "gm/mgr.h"

/* Owned by the event-loop thread. */
struct gsmd {
	struct gm_mgr *m;
	struct gm_policies pol;
};

static int gsmd_h_place(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
			void *reply, size_t reply_max, size_t *reply_len)
{
	struct gsmd *g = arg;
	struct lego_gm_choice ch;
	int r;

	if (req->len) {
		gm_mgr_reject(g->m, req, "GSM_PLACE request not empty");
		return gm_errmsg(-EINVAL, reply, reply_max, reply_len,
				 "GSM_PLACE takes an empty request");
	}
	r = gm_mgr_choose(g->m, g->pol.gsm_place, 0, &ch);
	if (r == -EHOSTDOWN) {
		char why[96];

		/* Unhealthy sComponents (corrupt disk) are never chosen. */
		gm_mgr_none_alive(g->m, why, sizeof(why));
		gm_log("no place for a vNode's storage: %s", why);
		return gm_errmsg(r, reply, reply_max, reply_len, "%s", why);
	}
	if (r < 0)
		return gm_errmsg(r, reply, reply_max, reply_len, "storage choice failed: %s",
				 strerror(-r));
	/* vNode storage grows on demand: nothing to take off the free
	 * space; the choice is only counted. */
	gm_reg_charge(gm_mgr_registry(g->m), ch.node_id, 0, 0, 1);
	gm_log("storage of a new vNode: %s (id %u)", ch.name, ch.node_id);
	memcpy(reply, &ch, sizeof(ch));
	*reply_len = sizeof(ch);
	return 0;
}

static int gsmd_setup(struct gm_mgr *m, void *arg)
{
	struct gsmd *g = arg;

	g->m = m;
	return gm_rpc_serve_register(gm_mgr_ep(m), LEGO_OP_GSM_PLACE, gsmd_h_place, g,
				     LEGO_GM_ERRMSG_MAX);
}

int main(int argc, char **argv)
{
	static struct gsmd g;
	static const struct gm_mgr_desc d = {
		.daemon = "gsmd",
		.title = "gsmd: the global storage manager",
		.personality = LEGO_PERS_STORAGE,
		.default_port = LEGO_GSM_PORT,
		.setup = gsmd_setup,
	};

	_Static_assert(sizeof(struct lego_gm_choice) <= LEGO_GM_ERRMSG_MAX, "reply buffer");
	g.pol = gm_policies_default;
	return gm_mgr_main(argc, argv, &d, &g);
}
