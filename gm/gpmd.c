/*
 * gpmd: the global process manager (paper §4.6) and keeper of vNodes
 * (§4.1). pComponents register with it and heartbeat; it polls their cores
 * and threads, and serves
 *   LEGO_OP_GPM_PLACE          where a new process of a vNode runs: the
 *                              pComponent with the fewest threads, and a
 *                              home mComponent asked of GMM;
 *   LEGO_OP_GPM_VNODE_CREATE   a new vNode, its storage placed by GSM and
 *                              its namespace created there
 *                              (LEGO_OP_ST_VNODE_CREATE);
 *   LEGO_OP_GPM_VNODE_LIST;
 *   LEGO_OP_GPM_VNODE_REMOVE   also frees the namespace on its sComponent
 *                              (LEGO_OP_ST_VNODE_REMOVE).
 * vNodes are kept in gpmd's state file. The common machinery is
 * gm/lib/mgr.c.
 *
 * GMM, GSM and sComponents are called from the handlers on the serving
 * endpoint with the short --call-timeout-ms (a storage node that works
 * longer answers the library's probes with RUNNING, which resets the
 * timeout); meanwhile the RPC library keeps serving
 * heartbeats (nested). Handlers therefore never keep a pointer into the
 * registry or the vNode table across such a call: a nested request may
 * have changed them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <uapi/lego/storage.h>
#include "gm/log.h"
#include "gm/mgr.h"
#include "gm/nodes.h"
#include "gm/vnode.h"

/* Owned by the event-loop thread (options are set before it runs). */
struct gpmd {
	struct gm_mgr *m;
	struct gm_policies pol;
	struct gm_vnodes vn;
	unsigned max_vnodes;
	const char *gmm_spec, *gsm_spec;	/* options; resolved in setup */
	uint32_t gmm_ip, gsm_ip;
	uint16_t gmm_port, gsm_port;
};

static const struct gm_mgr_option gpmd_options[] = {
	{ "gmm", "IP[:PORT]", "GMM's address (default: the --listen address, port 4711)" },
	{ "gsm", "IP[:PORT]", "GSM's address (default: the --listen address, port 4712)" },
	{ "max-vnodes", "N", "size of the vNode table (default 1024)" },
};

static int gpmd_option(void *arg, const char *name, const char *val, char *err, size_t errlen)
{
	struct gpmd *g = arg;
	uint32_t ip;
	uint16_t port;
	uint64_t v;

	if (!strcmp(name, "gmm") || !strcmp(name, "gsm")) {
		if (gm_parse_addr(val, 1, &ip, &port)) {
			snprintf(err, errlen, "--%s wants IP[:PORT], not '%s'", name, val);
			return -EINVAL;
		}
		*(name[1] == 'm' ? &g->gmm_spec : &g->gsm_spec) = val;
		return 0;
	}
	if (!strcmp(name, "max-vnodes")) {
		if (gm_parse_u64(val, 2000, &v) || v == 0) {
			snprintf(err, errlen, "--max-vnodes must be a number from 1 to 2000, not '%s'",
				 val);
			return -EINVAL;
		}
		g->max_vnodes = (unsigned)v;
		return 0;
	}
	return -EINVAL;
}

/* Asks another manager for a choice. On failure returns a negative errno
 * with a message for the user in msg. */
static int gpmd_ask(struct gpmd *g, const char *who, uint32_t ip, uint16_t port, uint16_t op,
		    struct lego_gm_choice *out, char *msg, size_t msglen)
{
	char buf[LEGO_GM_ERRMSG_MAX];
	char ips[INET_ADDRSTRLEN];
	struct in_addr a = { ip };
	size_t len = 0;
	int r;

	_Static_assert(sizeof(buf) >= sizeof(*out), "reply buffer");
	inet_ntop(AF_INET, &a, ips, sizeof(ips));
	r = gm_rpc_call(gm_mgr_ep(g->m), ip, port, op, NULL, 0, buf, sizeof(buf), &len,
			gm_mgr_call_timeout(g->m));
	if (r == -ETIMEDOUT) {
		snprintf(msg, msglen, "%s at %s:%u does not answer", who, ips, port);
		return -EHOSTUNREACH;
	}
	if (r == -EMSGSIZE) {
		snprintf(msg, msglen, "%s at %s:%u sent an oversized reply", who, ips, port);
		return -EPROTO;
	}
	if (r < 0) {
		if (len && memchr(buf, '\0', len))
			snprintf(msg, msglen, "%s: %s", who, buf);
		else
			snprintf(msg, msglen, "%s at %s:%u: %s", who, ips, port, strerror(-r));
		return r;
	}
	if (len != sizeof(*out)) {
		snprintf(msg, msglen, "%s sent a reply of %zu bytes", who, len);
		return -EPROTO;
	}
	memcpy(out, buf, sizeof(*out));
	out->name[sizeof(out->name) - 1] = '\0';
	return 0;
}

/* ------------------------------------------------------------------ */
/* The vNode's storage component                                       */
/* ------------------------------------------------------------------ */

/* Where an sComponent serves, as GSM's component list says. */
struct gpmd_st {
	uint32_t node_id;
	char name[LEGO_NAME_LEN];
	uint32_t ip;
	uint16_t port;
	bool unhealthy;
};

static void gpmd_st_from_rec(struct gpmd_st *st, const struct gm_node_rec *r)
{
	st->node_id = r->n.node_id;
	memcpy(st->name, r->n.name, sizeof(st->name));
	st->ip = r->n.ipv4;
	st->port = gm_node_rec_port(r);
	st->unhealthy = gm_node_rec_unhealthy(r);
}

/*
 * Finds the sComponent holding the files of vNode `vnode`, recorded on
 * storage_node, through GSM's component list (gm_storage_locate: the same
 * node, or the node of the same name after a restart). Returns 0,
 * -EHOSTUNREACH (GSM does not answer), -EHOSTDOWN (the storage node is
 * dead) or another error, with a message in msg.
 */
static int gpmd_storage_find(struct gpmd *g, const char *vnode, uint32_t storage_node,
			     struct gpmd_st *out, char *msg, size_t msglen)
{
	size_t max = LEGO_RPC_MAX_MSG / sizeof(struct lego_gm_node), len = 0;
	uint8_t *buf = malloc(LEGO_RPC_MAX_MSG);
	struct gm_node_rec *rec = calloc(max, sizeof(*rec));
	char ips[INET_ADDRSTRLEN];
	int r, n;

	if (!buf || !rec) {
		free(buf);
		free(rec);
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	inet_ntop(AF_INET, &(struct in_addr){ g->gsm_ip }, ips, sizeof(ips));
	r = gm_rpc_call(gm_mgr_ep(g->m), g->gsm_ip, g->gsm_port, LEGO_OP_GM_NODES, NULL, 0, buf,
			LEGO_RPC_MAX_MSG, &len, gm_mgr_call_timeout(g->m));
	if (r < 0) {
		snprintf(msg, msglen, "cannot get GSM's component list (%s:%u): %s", ips,
			 g->gsm_port, r == -ETIMEDOUT ? "no answer" : strerror(-r));
		r = -EHOSTUNREACH;
		goto out;
	}
	n = gm_nodes_reply_parse(buf, len, rec, max);
	if (n < 0) {
		snprintf(msg, msglen, "GSM sent a malformed component list (%zu bytes)", len);
		r = -EPROTO;
		goto out;
	}
	r = gm_storage_locate(rec, (size_t)n, storage_node, vnode, msg, msglen);
	if (r >= 0) {
		gpmd_st_from_rec(out, &rec[r]);
		r = 0;
	}
out:
	free(buf);
	free(rec);
	return r;
}

/* Calls a vNode opcode of storage.h (ST_VNODE_CREATE/REMOVE) on st. */
static int gpmd_st_call(struct gpmd *g, const struct gpmd_st *st, uint16_t op, uint32_t vnode_id)
{
	struct lego_st_req q;
	char buf[64];
	size_t len = 0;

	memset(&q, 0, sizeof(q));
	q.vnode = vnode_id;
	return gm_rpc_call(gm_mgr_ep(g->m), st->ip, st->port, op, &q, sizeof(q), buf, sizeof(buf),
			   &len, gm_mgr_call_timeout(g->m));
}

/* Why a storage call failed, for the user. */
static const char *gpmd_st_why(const struct gpmd_st *st, int r, char *buf, size_t len)
{
	char ips[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &(struct in_addr){ st->ip }, ips, sizeof(ips));
	if (r == -ETIMEDOUT)
		snprintf(buf, len, "no answer from %s:%u", ips, st->port);
	else if (r == -ENOSYS)
		snprintf(buf, len, "it does not serve the storage protocol");
	else if (r == -EMSGSIZE)
		snprintf(buf, len, "oversized reply");
	else
		snprintf(buf, len, "%s", strerror(-r));
	return buf;
}

static int gpmd_h_place(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
			void *reply, size_t reply_max, size_t *reply_len)
{
	struct gpmd *g = arg;
	struct lego_gpm_place_reply out;
	char name[LEGO_NAME_LEN], msg[LEGO_GM_ERRMSG_MAX + 64];
	struct lego_vnode *v;
	int r;

	if (gm_vnode_req_name(req->data, req->len, name)) {
		gm_mgr_reject(g->m, req, "GPM_PLACE with a malformed vNode name");
		return gm_errmsg(-EINVAL, reply, reply_max, reply_len,
				 "malformed request: want a vNode name of 1-15 [a-z0-9_-]");
	}
	v = gm_vnode_find(&g->vn, name);
	if (!v)
		return gm_errmsg(-ENOENT, reply, reply_max, reply_len, "no vNode named '%s'", name);
	memset(&out, 0, sizeof(out));
	out.vnode_id = v->vnode_id;
	r = gm_mgr_choose(g->m, g->pol.gpm_place, 0, &out.processor);
	if (r < 0)
		return gm_errmsg(r, reply, reply_max, reply_len, "%s",
				 gm_mgr_none_alive(g->m, msg, sizeof(msg)));
	r = gpmd_ask(g, "GMM", g->gmm_ip, g->gmm_port, LEGO_OP_GMM_HOME, &out.home_memory, msg,
		     sizeof(msg));
	if (r < 0) {
		gm_log("cannot place a process of vNode %s: %s", name, msg);
		return gm_errmsg(r, reply, reply_max, reply_len, "%s", msg);
	}
	/* The vNode's buffer cache (§4.5): chosen once, so that every process
	 * of the vNode sees the same cached file data. A vNode created while
	 * no mComponent was alive gets its first process's home. Found again:
	 * the nested serving during the call may have moved records. */
	v = gm_vnode_find(&g->vn, name);
	if (v && !v->cache_node) {
		v->cache_node = out.home_memory.node_id;
		gm_mgr_sync(g->m);
	}
	out.cache_node = v ? v->cache_node : out.home_memory.node_id;
	/* By id: the nested serving during the call may have moved records. */
	gm_reg_charge(gm_mgr_registry(g->m), out.processor.node_id, 1, 0, 1);
	gm_log("new process of vNode %s: processor %s (id %u), home memory %s (id %u)", name,
	       out.processor.name, out.processor.node_id, out.home_memory.name,
	       out.home_memory.node_id);
	memcpy(reply, &out, sizeof(out));
	*reply_len = sizeof(out);
	return 0;
}

static int gpmd_h_create(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
			 void *reply, size_t reply_max, size_t *reply_len)
{
	struct gpmd *g = arg;
	char name[LEGO_NAME_LEN], msg[LEGO_GM_ERRMSG_MAX + 64], ip[INET_ADDRSTRLEN], why[96];
	struct lego_gm_choice ch, cache;
	struct lego_vnode v, *cur;
	struct gpmd_st st;
	int r;

	if (gm_vnode_req_name(req->data, req->len, name)) {
		gm_mgr_reject(g->m, req, "VNODE_CREATE with a malformed name");
		return gm_errmsg(-EINVAL, reply, reply_max, reply_len,
				 "invalid vNode name: want 1-15 characters of [a-z0-9_-]");
	}
	r = gm_vnode_can_create(&g->vn, name);
	if (r == -EEXIST)
		return gm_errmsg(r, reply, reply_max, reply_len, "vNode '%s' already exists", name);
	if (r < 0)
		return gm_errmsg(r, reply, reply_max, reply_len,
				 "no room for another vNode (%zu of %zu, or ids/addresses used up)",
				 g->vn.n, g->vn.max);
	r = gpmd_ask(g, "GSM", g->gsm_ip, g->gsm_port, LEGO_OP_GSM_PLACE, &ch, msg, sizeof(msg));
	if (r < 0) {
		gm_log("cannot create vNode %s: %s", name, msg);
		return gm_errmsg(r, reply, reply_max, reply_len, "%s", msg);
	}
	/* Its buffer-cache mComponent (§4.5); without one alive, the first
	 * process's home becomes it (GPM_PLACE). */
	if (gpmd_ask(g, "GMM", g->gmm_ip, g->gmm_port, LEGO_OP_GMM_HOME, &cache, why,
		     sizeof(why)) < 0) {
		gm_log("vNode %s: no buffer-cache mComponent yet: %s", name, why);
		cache.node_id = 0;
	}
	/* Checked again: a nested request may have taken the name meanwhile. */
	r = gm_vnode_add(&g->vn, name, ch.node_id, gm_wall_ms(), &v);
	if (r == 0) {
		cur = gm_vnode_find(&g->vn, name);
		if (cur)
			cur->cache_node = cache.node_id;
		v.cache_node = cache.node_id;
	}
	if (r == -EEXIST)
		return gm_errmsg(r, reply, reply_max, reply_len, "vNode '%s' already exists", name);
	if (r < 0)
		return gm_errmsg(r, reply, reply_max, reply_len, "no room for another vNode");
	/* Saved before the storage node hears of the id: whatever happens
	 * next, this id is never handed out again. */
	gm_mgr_sync(g->m);

	/* The namespace on the chosen sComponent, at the port it registered
	 * with GSM (GSM_PLACE's reply has only its address). */
	memset(&st, 0, sizeof(st));
	if (gpmd_storage_find(g, NULL, ch.node_id, &st, msg, sizeof(msg)) < 0) {
		gm_log("vNode %s: %s; calling %s at its address on port %u", name, msg, ch.name,
		       LEGO_RPC_PORT);
		st.node_id = ch.node_id;
		memcpy(st.name, ch.name, sizeof(st.name));
		st.ip = ch.ipv4;
		st.port = LEGO_RPC_PORT;
	}
	r = gpmd_st_call(g, &st, LEGO_OP_ST_VNODE_CREATE, v.vnode_id);
	if (r == -EEXIST) {
		/* E.g. gpmd's state was lost or reset: the id's namespace is
		 * there already. */
		gm_log("vNode %s: %s (id %u) already holds a namespace for vNode id %u; using it",
		       name, st.name, st.node_id, v.vnode_id);
		r = 0;
	}
	if (r < 0) {
		gpmd_st_why(&st, r, why, sizeof(why));
		/* By id: a nested request may have replaced the record. */
		cur = gm_vnode_find(&g->vn, name);
		if (cur && cur->vnode_id == v.vnode_id)
			gm_vnode_remove(&g->vn, name, NULL);
		gm_mgr_sync(g->m);
		gm_log("cannot create vNode %s (id %u): storage component %s (id %u) could not "
		       "create the namespace: %s", name, v.vnode_id, st.name, st.node_id, why);
		return gm_errmsg(r == -ETIMEDOUT ? -EHOSTUNREACH : r, reply, reply_max, reply_len,
				 "storage component %s could not create the namespace: %s", st.name,
				 why);
	}
	inet_ntop(AF_INET, &(struct in_addr){ v.vip }, ip, sizeof(ip));
	gm_log("vNode %s created: id %u, %s, storage %s on %s (id %u), buffer cache on %s (id %u)",
	       v.name, v.vnode_id, ip, v.mount, ch.name, ch.node_id,
	       v.cache_node ? cache.name : "(none yet)", v.cache_node);
	memcpy(reply, &v, sizeof(v));
	*reply_len = sizeof(v);
	return 0;
}

static int gpmd_h_list(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		       void *reply, size_t reply_max, size_t *reply_len)
{
	struct gpmd *g = arg;

	if (req->len) {
		gm_mgr_reject(g->m, req, "VNODE_LIST request not empty");
		return gm_errmsg(-EINVAL, reply, reply_max, reply_len,
				 "VNODE_LIST takes an empty request");
	}
	return gm_vnode_encode_list(&g->vn, reply, reply_max, reply_len);
}

static int gpmd_h_remove(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
			 void *reply, size_t reply_max, size_t *reply_len)
{
	struct gpmd *g = arg;
	char name[LEGO_NAME_LEN], msg[LEGO_GM_ERRMSG_MAX + 64], why[96];
	struct lego_vnode v, *cur;
	struct gpmd_st st;
	int r;

	if (gm_vnode_req_name(req->data, req->len, name)) {
		gm_mgr_reject(g->m, req, "VNODE_REMOVE with a malformed name");
		return gm_errmsg(-EINVAL, reply, reply_max, reply_len,
				 "invalid vNode name: want 1-15 characters of [a-z0-9_-]");
	}
	cur = gm_vnode_find(&g->vn, name);
	if (!cur)
		return gm_errmsg(-ENOENT, reply, reply_max, reply_len, "no vNode named '%s'", name);
	v = *cur;

	/* First its files: the record goes only once they are gone, or
	 * cannot be reached any more (the storage node is dead), so that a
	 * failure can be retried. */
	r = gpmd_storage_find(g, name, v.storage_node, &st, msg, sizeof(msg));
	if (r == -EHOSTDOWN) {
		gm_log("%s; removing the vNode, its files stay there", msg);
	} else if (r < 0) {
		gm_log("cannot remove vNode %s: %s", name, msg);
		return gm_errmsg(r, reply, reply_max, reply_len, "%s; vNode %s kept", msg, name);
	} else if (st.unhealthy) {
		gm_log("vNode %s: its storage component %s (id %u) is unhealthy (cannot serve); "
		       "removing the vNode, its files stay there", name, st.name, st.node_id);
	} else {
		r = gpmd_st_call(g, &st, LEGO_OP_ST_VNODE_REMOVE, v.vnode_id);
		if (r == -ESTALE) {
			gm_log("vNode %s: %s (id %u) held no namespace for vNode id %u", name,
			       st.name, st.node_id, v.vnode_id);
		} else if (r == -ETIMEDOUT || r == -ENOSYS) {
			gm_log("vNode %s: storage component %s (id %u) could not remove the "
			       "namespace (%s); removing the vNode, its files stay there", name,
			       st.name, st.node_id, gpmd_st_why(&st, r, why, sizeof(why)));
		} else if (r < 0) {
			gpmd_st_why(&st, r, why, sizeof(why));
			gm_log("cannot remove vNode %s: storage component %s (id %u) could not "
			       "remove the namespace: %s", name, st.name, st.node_id, why);
			return gm_errmsg(r, reply, reply_max, reply_len,
					 "storage component %s could not remove the namespace: %s; "
					 "vNode kept", st.name, why);
		}
	}
	/* By id: a nested request may have removed or replaced it meanwhile. */
	cur = gm_vnode_find(&g->vn, name);
	if (cur && cur->vnode_id == v.vnode_id) {
		gm_vnode_remove(&g->vn, name, NULL);
		gm_mgr_sync(g->m);
		gm_log("vNode %s (id %u) removed", v.name, v.vnode_id);
	}
	return 0;
}

static int gpmd_setup(struct gm_mgr *m, void *arg)
{
	struct gpmd *g = arg;
	struct gm_rpc_ep *ep = gm_mgr_ep(m);
	size_t place_max = sizeof(struct lego_gpm_place_reply) > LEGO_GM_ERRMSG_MAX
				   ? sizeof(struct lego_gpm_place_reply) : LEGO_GM_ERRMSG_MAX;
	size_t create_max = sizeof(struct lego_vnode) > LEGO_GM_ERRMSG_MAX
				    ? sizeof(struct lego_vnode) : LEGO_GM_ERRMSG_MAX;

	g->m = m;
	g->gmm_ip = g->gsm_ip = gm_mgr_listen_ip(m);
	g->gmm_port = LEGO_GMM_PORT;
	g->gsm_port = LEGO_GSM_PORT;
	if (g->gmm_spec)
		gm_parse_addr(g->gmm_spec, LEGO_GMM_PORT, &g->gmm_ip, &g->gmm_port);
	if (g->gsm_spec)
		gm_parse_addr(g->gsm_spec, LEGO_GSM_PORT, &g->gsm_ip, &g->gsm_port);
	if (gm_vnodes_init(&g->vn, g->max_vnodes) < 0)
		return -ENOMEM;
	if (gm_rpc_serve_register(ep, LEGO_OP_GPM_PLACE, gpmd_h_place, g, place_max) ||
	    gm_rpc_serve_register(ep, LEGO_OP_GPM_VNODE_CREATE, gpmd_h_create, g, create_max) ||
	    gm_rpc_serve_register(ep, LEGO_OP_GPM_VNODE_LIST, gpmd_h_list, g,
				  gm_vnode_list_max_bytes(&g->vn)) ||
	    gm_rpc_serve_register(ep, LEGO_OP_GPM_VNODE_REMOVE, gpmd_h_remove, g,
				  LEGO_GM_ERRMSG_MAX))
		return -EINVAL;
	return 0;
}

static int gpmd_state_line(void *arg, char **f, int nf, char *err, size_t errlen)
{
	struct gpmd *g = arg;

	return gm_vnode_state_line(&g->vn, f, nf, err, errlen);
}

static void gpmd_state_write(void *arg, struct gm_buf *b)
{
	struct gpmd *g = arg;

	gm_vnode_state_write(&g->vn, b);
}

static bool gpmd_state_dirty(void *arg)
{
	struct gpmd *g = arg;

	return g->vn.dirty;
}

static void gpmd_state_saved(void *arg)
{
	struct gpmd *g = arg;

	g->vn.dirty = false;
}

static void gpmd_loaded(struct gm_mgr *m, void *arg)
{
	struct gpmd *g = arg;
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];

	gm_log("%zu vNode%s; next vNode id %u; GMM at %s:%u, GSM at %s:%u", g->vn.n,
	       g->vn.n == 1 ? "" : "s", g->vn.next_id,
	       inet_ntop(AF_INET, &(struct in_addr){ g->gmm_ip }, a, sizeof(a)), g->gmm_port,
	       inet_ntop(AF_INET, &(struct in_addr){ g->gsm_ip }, b, sizeof(b)), g->gsm_port);
}

int main(int argc, char **argv)
{
	static struct gpmd g;
	static const struct gm_mgr_desc d = {
		.daemon = "gpmd",
		.title = "gpmd: the global process manager, keeper of vNodes",
		.personality = LEGO_PERS_PROCESSOR,
		.default_port = LEGO_GPM_PORT,
		.options = gpmd_options,
		.noptions = sizeof(gpmd_options) / sizeof(gpmd_options[0]),
		.option = gpmd_option,
		.setup = gpmd_setup,
		.state_line = gpmd_state_line,
		.state_write = gpmd_state_write,
		.state_dirty = gpmd_state_dirty,
		.state_saved = gpmd_state_saved,
		.loaded = gpmd_loaded,
	};
	int r;

	g.pol = gm_policies_default;
	g.max_vnodes = GM_VNODE_DEFAULT_MAX;
	r = gm_mgr_main(argc, argv, &d, &g);
	gm_vnodes_free(&g.vn);
	return r;
}
