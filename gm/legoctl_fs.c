/*
 * legoctl fs: the files of a vNode, read and changed directly on the
 * storage component (sComponent) that holds them, with the storage
 * monitor's protocol (include/uapi/lego/storage.h, docs/storage.md) over
 * LegoOS RPC to its LEGO_RPC_PORT.
 *
 * Which sComponent: the vNode (--vnode NAME) is looked up in GPM
 * (LEGO_OP_GPM_VNODE_LIST: its id and the sComponent GSM chose for it);
 * that sComponent is found in GSM's component list (LEGO_OP_GM_NODES)
 * with gm_storage_locate(): the same id if alive, else the alive storage
 * node of the same name (a restarted storage node registers again under a
 * new id, with the same name and the same disk). --node NAME|ID|IP[:PORT]
 * overrides it; --base works on vNode 0, the image's base root.
 *
 * The protocol is stateless (NFS v2 style): every request carries the
 * vNode id, the full path and absolute offsets; files are read and
 * written in LEGO_ST_IO_MAX chunks.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include <uapi/lego/gm.h>
#include <uapi/lego/storage.h>
#include <uapi/lego/memory.h>
#include "gm/nodes.h"
#include "gm/registry.h"
#include "legoctl.h"

#define FS_DEFAULT_TIMEOUT_MS 3000
/* Largest reply of any storage request (READ; READDIR and VNODE_LIST are
 * smaller), and the largest request (WRITE: header, path, data). */
#define FS_REPLY_MAX LEGO_ST_IO_MAX
#define FS_REQ_MAX (sizeof(struct lego_mem_bc_req) + sizeof(struct lego_st_req) + 2 * LEGO_ST_PATH_MAX + LEGO_ST_IO_MAX)

_Static_assert(FS_REQ_MAX <= LEGO_RPC_MAX_MSG, "a storage request fits one RPC message");

/* Options of every fs command, in this order (GM_ADDR_OPTS first). */
enum {
	FO_GM, FO_GPM, FO_GMM, FO_GSM, FO_TIMEOUT, FO_JSON, FO_VNODE, FO_BASE, FO_NODE, FO_MODE,
	FO_NOSYNC, FO_OFFSET, FO_CREATE, FO_EXCL, FO_SIZE, FO_CACHE, FO_N
};
#define OPT(o) (1u << (o))
/* Allowed with every subcommand. */
#define FO_COMMON (OPT(FO_GM) | OPT(FO_GPM) | OPT(FO_GMM) | OPT(FO_GSM) | OPT(FO_TIMEOUT) | \
		  OPT(FO_VNODE) | OPT(FO_BASE) | OPT(FO_NODE) | OPT(FO_CACHE))

/* Short flags (parse_args knows only --long ones). */
enum { F_LONG = 1, F_PARENTS = 2, F_SYMBOLIC = 4 };

/* A component requests go to. */
struct fs_node {
	uint32_t ip;
	uint16_t port;
	uint32_t node_id;		/* 0 if unknown (given as an address) */
	char name[48];			/* its name, or address */
};

struct fs_ctx {
	const char *cmd;		/* the subcommand, for messages */
	struct opt *o;
	unsigned flags;			/* F_* */
	struct gm_addrs a;
	int timeout;
	bool json;
	struct gm_rpc_ep *ep;

	/* the vNode */
	uint32_t vnode;
	char vname[LEGO_NAME_LEN];	/* "" for --base and df/vnodes */

	struct fs_node st;		/* the sComponent */
	struct fs_node bc;		/* --cache: the mComponent (ip 0: none) */

	/* The managers' component lists, fetched once (GSM's, GMM's) */
	struct gm_node_rec *recs[GM_NMGR];
	int nrecs[GM_NMGR];		/* < 0: not fetched */
	char rec_err[GM_NMGR][LEGO_GM_ERRMSG_MAX + 64];

	uint8_t *req, *rep;		/* FS_REQ_MAX, FS_REPLY_MAX */
};

/* What one storage request carries besides the opcode. */
struct st_args {
	const char *path, *path2;	/* NULL: none */
	uint64_t off, len;
	uint32_t flags, mode;
	const void *data;
	size_t dlen;
};

/* ------------------------------------------------------------------ */
/* Calls and errors                                                    */
/* ------------------------------------------------------------------ */

static int st_call(struct fs_ctx *c, uint16_t op, const struct st_args *a, void *reply,
		   size_t reply_max, size_t *got)
{
	struct lego_st_req q;
	size_t pl = a->path ? strlen(a->path) : 0, p2l = a->path2 ? strlen(a->path2) : 0;
	/* Through a buffer cache: the same request behind a MEM_BC header. */
	bool bc = c->bc.ip && op >= LEGO_OP_ST_STAT && op <= LEGO_OP_ST_SETATTR;
	size_t hl = bc ? sizeof(struct lego_mem_bc_req) : 0;
	size_t len = hl + sizeof(q) + pl + p2l + a->dlen;
	uint8_t *m = c->req + hl;
	size_t dummy;
	int r;

	if (pl >= LEGO_ST_PATH_MAX || p2l >= LEGO_ST_PATH_MAX || len > FS_REQ_MAX)
		return -ENAMETOOLONG;
	if (bc) {
		struct lego_mem_bc_req b = { c->st.ip, c->st.port, op };
		memcpy(c->req, &b, sizeof(b));
	}
	memset(&q, 0, sizeof(q));
	q.vnode = c->vnode;
	q.flags = a->flags;
	q.off = a->off;
	q.len = a->len;
	q.mode = a->mode;
	q.path_len = (uint16_t)pl;
	q.path2_len = (uint16_t)p2l;
	memcpy(m, &q, sizeof(q));
	if (pl)
		memcpy(m + sizeof(q), a->path, pl);
	if (p2l)
		memcpy(m + sizeof(q) + pl, a->path2, p2l);
	if (a->dlen)
		memcpy(m + sizeof(q) + pl + p2l, a->data, a->dlen);
	if (!got)
		got = &dummy;
	*got = 0;
	if (bc)
		r = gm_rpc_call(c->ep, c->bc.ip, c->bc.port, LEGO_OP_MEM_BC, c->req, len, reply,
				reply_max, got, c->timeout);
	else
		r = gm_rpc_call(c->ep, c->st.ip, c->st.port, op, c->req, len, reply, reply_max,
				got, c->timeout);
	if (r < 0)
		*got = 0;
	return r;
}

static const char *st_state_str(uint32_t s)
{
	switch (s) {
	case LEGO_ST_STATE_OK: return "ok";
	case LEGO_ST_STATE_READONLY: return "read-only";
	case LEGO_ST_STATE_UNMOUNTED: return "not mounted";
	}
	return "?";
}

/* What an error means here, for the user. */
static const char *st_err(struct fs_ctx *c, int err, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];

	switch (-err) {
	case ETIMEDOUT:
		if (c->bc.ip)
			snprintf(buf, len, "memory component %s (%s:%u), the buffer cache, does not "
				 "answer", c->bc.name, ip_str(c->bc.ip, ip), c->bc.port);
		else if (c->st.node_id)
			snprintf(buf, len, "storage component %s (%s:%u) does not answer", c->st.name,
				 ip_str(c->st.ip, ip), c->st.port);
		else
			snprintf(buf, len, "storage component at %s:%u does not answer",
				 ip_str(c->st.ip, ip), c->st.port);
		break;
	case ESTALE:
		if (c->vname[0])
			snprintf(buf, len, "vNode %s (id %u) has no namespace on storage component %s",
				 c->vname, c->vnode, c->st.name);
		else
			snprintf(buf, len, "vNode %u has no namespace on storage component %s",
				 c->vnode, c->st.name);
		break;
	case ENOSYS:
		snprintf(buf, len, "%s does not serve the storage protocol (not a storage "
			 "component?)", c->st.name);
		break;
	case EMSGSIZE:
		snprintf(buf, len, "storage component %s sent a reply too large", c->st.name);
		break;
	case EPROTO:
		snprintf(buf, len, "storage component %s sent a malformed reply", c->st.name);
		break;
	default:
		snprintf(buf, len, "%s", strerror(-err));
	}
	return buf;
}

/* After -EIO/-EROFS: the store's own account (STATFS), on stderr. */
static void st_explain(struct fs_ctx *c)
{
	struct lego_st_statfs f;
	struct st_args a = { 0 };
	size_t got;
	char msg[LEGO_ST_MSG_LEN];
	const char *what;

	if (st_call(c, LEGO_OP_ST_STATFS, &a, &f, sizeof(f), &got) < 0 || got != sizeof(f))
		return;
	wire_str(msg, f.message, sizeof(msg));
	what = f.state == LEGO_ST_STATE_UNMOUNTED ? "store not mounted"
	       : f.state == LEGO_ST_STATE_READONLY ? "store read-only" : NULL;
	if (!what && !msg[0])
		return;
	/* The message may name the state itself. */
	if (what && strncmp(msg, what, strlen(what)))
		fprintf(stderr, "%s: storage %s: %s%s%s\n", prog, c->st.name, what, msg[0] ? ": " : "",
			msg);
	else
		fprintf(stderr, "%s: storage %s: %s\n", prog, c->st.name, msg[0] ? msg : what);
}

/* "legoctl: fs CMD: PATH: reason" (+ the store's message); returns 1. */
static int fs_fail(struct fs_ctx *c, const char *path, int err, const char *extra)
{
	char why[256];

	st_err(c, err, why, sizeof(why));
	if (path)
		fprintf(stderr, "%s: fs %s: %s: %s%s\n", prog, c->cmd, path, why, extra ? extra : "");
	else
		fprintf(stderr, "%s: fs %s: %s%s\n", prog, c->cmd, why, extra ? extra : "");
	if (err == -EIO || err == -EROFS)
		st_explain(c);
	return EXIT_FAIL;
}

/* "fs SUB ARGS" once the subcommand is known. */
static char fs_sub_usage[160];

static int fs_usage(const char *fmt, const char *arg)
{
	if (!fs_sub_usage[0])
		return usage_error("fs", fmt, arg);
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: %s %s\n", prog, fs_sub_usage);
	return EXIT_USAGE;
}

/* ------------------------------------------------------------------ */
/* Paths                                                               */
/* ------------------------------------------------------------------ */

/*
 * Normalises an absolute path: "//a/./b/" -> "/a/b". Returns 0, -EINVAL
 * (not absolute, or ".."), or -ENAMETOOLONG. The server checks again.
 */
static int fs_norm(const char *in, char out[LEGO_ST_PATH_MAX])
{
	size_t n = 0;

	if (in[0] != '/')
		return -EINVAL;
	for (const char *p = in; *p;) {
		const char *q;
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		for (q = p; *q && *q != '/'; q++)
			;
		len = (size_t)(q - p);
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		if (!(len == 1 && p[0] == '.')) {
			if (len > LEGO_ST_NAME_MAX || n + 1 + len >= LEGO_ST_PATH_MAX)
				return -ENAMETOOLONG;
			out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p = q;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return 0;
}

/* Normalises a path argument; prints the error. 0, or an exit status. */
static int fs_path_arg(struct fs_ctx *c, const char *in, char out[LEGO_ST_PATH_MAX])
{
	int r = fs_norm(in, out);

	if (r == -ENAMETOOLONG) {
		fprintf(stderr, "%s: fs %s: %s: %s\n", prog, c->cmd, in, strerror(ENAMETOOLONG));
		return EXIT_FAIL;
	}
	if (r < 0) {
		if (in[0] != '/')
			return fs_usage("'%s': paths in a vNode are absolute (start with /)", in);
		return fs_usage("'%s': '..' is not allowed in a path", in);
	}
	return 0;
}

/* dir + "/" + name; -ENAMETOOLONG if that is too long for the protocol. */
static int fs_join(const char *dir, const char *name, char out[LEGO_ST_PATH_MAX])
{
	size_t dl = strcmp(dir, "/") ? strlen(dir) : 0, nl = strlen(name);

	if (dl + 1 + nl >= LEGO_ST_PATH_MAX)
		return -ENAMETOOLONG;
	memmove(out, dir, dl);
	out[dl] = '/';
	memcpy(out + dl + 1, name, nl + 1);
	return 0;
}

static const char *fs_basename(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

/* ------------------------------------------------------------------ */
/* Finding the vNode and its storage component                         */
/* ------------------------------------------------------------------ */

/* GSM's component list, fetched once. On failure the reason is in
 * c->gsm_err, and printed unless quiet. */
static const char *const mgr_caps[GM_NMGR] = { "GPM", "GMM", "GSM" };

/* The component list of manager mgr, fetched once. */
static int fs_nodes(struct fs_ctx *c, int mgr, bool quiet)
{
	size_t max = LEGO_RPC_MAX_MSG / sizeof(struct lego_gm_node), got = 0;
	uint8_t *buf;
	int r;

	if (c->nrecs[mgr] >= 0)
		return 0;
	buf = malloc(LEGO_RPC_MAX_MSG);
	if (!c->recs[mgr])
		c->recs[mgr] = calloc(max, sizeof(*c->recs[mgr]));
	if (!buf || !c->recs[mgr]) {
		snprintf(c->rec_err[mgr], sizeof(c->rec_err[mgr]), "out of memory");
		r = -ENOMEM;
		goto out;
	}
	r = mgr_call(c->ep, &c->a, mgr, LEGO_OP_GM_NODES, NULL, 0, buf, LEGO_RPC_MAX_MSG, &got,
		     c->timeout, c->rec_err[mgr], sizeof(c->rec_err[mgr]));
	if (r < 0)
		goto out;
	r = gm_nodes_reply_parse(buf, got, c->recs[mgr], max);
	if (r < 0) {
		snprintf(c->rec_err[mgr], sizeof(c->rec_err[mgr]),
			 "%s sent a malformed component list (%zu bytes)", mgr_caps[mgr], got);
		goto out;
	}
	c->nrecs[mgr] = r;
	r = 0;
out:
	free(buf);
	if (r < 0 && !quiet)
		fprintf(stderr, "%s: fs %s: cannot find the %s component: %s\n", prog, c->cmd,
			mgr == GM_GSM ? "storage" : "memory", c->rec_err[mgr]);
	return r;
}

static void fs_use_rec(struct fs_node *n, const struct gm_node_rec *r)
{
	n->ip = r->n.ipv4;
	n->port = gm_node_rec_port(r);
	n->node_id = r->n.node_id;
	snprintf(n->name, sizeof(n->name), "%s", r->n.name);
}

/* NAME|ID|IP[:PORT] of a component of manager mgr's kind (GSM: storage,
 * GMM: memory) into *n. 0 or an exit status. */
static int fs_node_find(struct fs_ctx *c, const char *spec, int mgr, struct fs_node *n)
{
	uint32_t pers = mgr == GM_GSM ? LEGO_PERS_STORAGE : LEGO_PERS_MEMORY;
	const char *kind = gm_pers_name(pers);
	char err[256];
	int best = -1;
	bool digits = spec[0] != '\0';

	for (const char *p = spec; *p; p++)
		digits = digits && *p >= '0' && *p <= '9';
	if (digits) {
		unsigned long id = strtoul(spec, NULL, 10);

		if (strlen(spec) > 10 || id > UINT32_MAX)
			return fs_usage("invalid node id '%s'", spec);
		if (fs_nodes(c, mgr, false) < 0)
			return EXIT_FAIL;
		for (int i = 0; i < c->nrecs[mgr]; i++)
			if (c->recs[mgr][i].n.node_id == id && c->recs[mgr][i].n.personality == pers)
				best = i;
		if (best < 0) {
			fprintf(stderr, "%s: fs %s: %s knows no %s component with id %s "
				"(see 'legoctl nodes')\n", prog, c->cmd, mgr_caps[mgr], kind, spec);
			return EXIT_FAIL;
		}
		if (c->recs[mgr][best].n.state != LEGO_NODE_ALIVE) {
			fprintf(stderr, "%s: fs %s: %s component %s (id %s) is %s\n", prog,
				c->cmd, kind, c->recs[mgr][best].n.name, spec,
				c->recs[mgr][best].n.state == LEGO_NODE_DEAD ? "dead" : "not heard from");
			return EXIT_FAIL;
		}
		fs_use_rec(n, &c->recs[mgr][best]);
		return 0;
	}
	/* An address: as it is. */
	if (gm_spec_is_ipv4(spec)) {
		if (gm_node_resolve(spec, &n->ip, &n->port, NULL, err, sizeof(err)) < 0)
			return fs_usage("%s", err);
		snprintf(n->name, sizeof(n->name), "%s", spec);
		return 0;
	}
	/* A name: the manager knows where an alive one serves. */
	if (!strchr(spec, ':') && fs_nodes(c, mgr, true) == 0) {
		for (int i = 0; i < c->nrecs[mgr]; i++) {
			const struct gm_node_rec *r = &c->recs[mgr][i];

			if (r->n.personality != pers || r->n.state != LEGO_NODE_ALIVE ||
			    strcmp(r->n.name, spec))
				continue;
			if (best < 0 || r->n.node_id > c->recs[mgr][best].n.node_id)
				best = i;
		}
		if (best >= 0) {
			fs_use_rec(n, &c->recs[mgr][best]);
			return 0;
		}
	}
	/* Not alive in the manager's list: the rack's node file, if it names it. */
	if (gm_node_resolve(spec, &n->ip, &n->port, NULL, err, sizeof(err)) < 0) {
		if (c->rec_err[mgr][0])
			fprintf(stderr, "%s: fs %s: cannot find %s component '%s': %s; "
				"and %s\n", prog, c->cmd, kind, spec, c->rec_err[mgr], err);
		else
			fprintf(stderr, "%s: fs %s: no alive %s component named '%s' (%s)\n",
				prog, c->cmd, kind, spec, err);
		return EXIT_FAIL;
	}
	snprintf(n->name, sizeof(n->name), "%s", spec);
	return 0;
}

/* Neither --node nor a vNode: the only alive storage component. */
static int fs_single_node(struct fs_ctx *c)
{
	int found = -1, n = 0;
	char names[128] = "";

	if (fs_nodes(c, GM_GSM, false) < 0)
		return EXIT_FAIL;
	for (int i = 0; i < c->nrecs[GM_GSM]; i++) {
		const struct gm_node_rec *r = &c->recs[GM_GSM][i];

		if (r->n.personality != LEGO_PERS_STORAGE || r->n.state != LEGO_NODE_ALIVE)
			continue;
		found = i;
		n++;
		if (strlen(names) + strlen(r->n.name) + 3 < sizeof(names))
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
				 n > 1 ? ", " : "", r->n.name);
	}
	if (n == 0) {
		fprintf(stderr, "%s: fs %s: no storage component is alive\n", prog, c->cmd);
		return EXIT_FAIL;
	}
	if (n > 1) {
		fprintf(stderr, "%s: fs %s: %d storage components are alive (%s): say which with "
			"--node NAME\n", prog, c->cmd, n, names);
		return EXIT_USAGE;
	}
	fs_use_rec(&c->st, &c->recs[GM_GSM][found]);
	return 0;
}

/* --vnode NAME: its id, storage node and buffer-cache node from GPM. 0
 * or an exit status. */
static int fs_vnode_lookup(struct fs_ctx *c, const char *name, uint32_t *storage_node,
			   uint32_t *cache_node)
{
	char msg[LEGO_GM_ERRMSG_MAX + 64];
	struct lego_gpm_vnode_list_reply hdr;
	uint8_t *buf = malloc(LEGO_RPC_MAX_MSG);
	size_t got;
	int r;

	if (!buf)
		return EXIT_FAIL;
	r = mgr_call(c->ep, &c->a, GM_GPM, LEGO_OP_GPM_VNODE_LIST, NULL, 0, buf, LEGO_RPC_MAX_MSG,
		     &got, c->timeout, msg, sizeof(msg));
	if (r < 0) {
		fprintf(stderr, "%s: fs %s: cannot look up vNode %s: %s\n", prog, c->cmd, name, msg);
		free(buf);
		return EXIT_FAIL;
	}
	if (got >= sizeof(hdr))
		memcpy(&hdr, buf, sizeof(hdr));
	if (got < sizeof(hdr) || hdr.count > (got - sizeof(hdr)) / sizeof(struct lego_vnode) ||
	    got != sizeof(hdr) + hdr.count * sizeof(struct lego_vnode)) {
		fprintf(stderr, "%s: fs %s: GPM sent a malformed vNode list (%zu bytes)\n", prog,
			c->cmd, got);
		free(buf);
		return EXIT_FAIL;
	}
	for (uint32_t i = 0; i < hdr.count; i++) {
		struct lego_vnode v;

		memcpy(&v, buf + sizeof(hdr) + i * sizeof(v), sizeof(v));
		v.name[LEGO_NAME_LEN - 1] = '\0';
		if (!strcmp(v.name, name)) {
			c->vnode = v.vnode_id;
			*storage_node = v.storage_node;
			*cache_node = v.cache_node;
			snprintf(c->vname, sizeof(c->vname), "%s", name);
			free(buf);
			return 0;
		}
	}
	free(buf);
	fprintf(stderr, "%s: fs %s: no vNode named '%s' (see 'legoctl vnode list')\n", prog, c->cmd,
		name);
	return EXIT_FAIL;
}

/* The sComponent: --node, the vNode's, or the only one. */
static int fs_storage_target(struct fs_ctx *c, const char *vn, uint32_t storage_node)
{
	const char *node = c->o[FO_NODE].val;
	char err[256];
	int r;

	if (node)
		return fs_node_find(c, node, GM_GSM, &c->st);
	if (!vn)
		return fs_single_node(c);
	if (fs_nodes(c, GM_GSM, false) < 0)
		return EXIT_FAIL;
	r = gm_storage_locate(c->recs[GM_GSM], (size_t)c->nrecs[GM_GSM], storage_node, vn, err,
			      sizeof(err));
	if (r < 0) {
		fprintf(stderr, "%s: fs %s: %s\n", prog, c->cmd, err);
		return EXIT_FAIL;
	}
	fs_use_rec(&c->st, &c->recs[GM_GSM][r]);
	return 0;
}

/* --cache NODE|vnode: the mComponent whose buffer cache file requests go
 * through (LEGO_OP_MEM_BC); "vnode" is the one GPM chose for the vNode. */
static int fs_cache_target(struct fs_ctx *c, uint32_t cache_node)
{
	const char *spec = c->o[FO_CACHE].val;
	char id[16];

	if (!spec)
		return 0;
	if (strcmp(spec, "vnode"))
		return fs_node_find(c, spec, GM_GMM, &c->bc);
	if (!c->vname[0])
		return fs_usage("%s", "--cache vnode needs --vnode NAME");
	if (!cache_node) {
		fprintf(stderr, "%s: fs %s: vNode %s has no buffer-cache mComponent yet (none was "
			"alive when it was created, and it has run no process)\n", prog, c->cmd,
			c->vname);
		return EXIT_FAIL;
	}
	snprintf(id, sizeof(id), "%u", cache_node);
	return fs_node_find(c, id, GM_GMM, &c->bc);
}

/* Sets the vNode, the sComponent and the cache from the options. */
static int fs_target(struct fs_ctx *c, bool need_vnode)
{
	const char *vn = c->o[FO_VNODE].val;
	uint32_t storage_node = 0, cache_node = 0;
	int r;

	if (vn && c->o[FO_BASE].val)
		return fs_usage("%s", "--vnode and --base exclude each other");
	if (need_vnode && !vn && !c->o[FO_BASE].val)
		return fs_usage("%s", "which vNode? give --vnode NAME (or --base for the base root)");
	if (vn && (r = fs_vnode_lookup(c, vn, &storage_node, &cache_node)))
		return r;
	r = fs_storage_target(c, vn, storage_node);
	return r ? r : fs_cache_target(c, cache_node);
}

/* ------------------------------------------------------------------ */
/* Helpers for the subcommands                                         */
/* ------------------------------------------------------------------ */

static int fs_stat(struct fs_ctx *c, const char *path, struct lego_st_stat *st)
{
	struct st_args a = { .path = path };
	size_t got;
	int r = st_call(c, LEGO_OP_ST_STAT, &a, st, sizeof(*st), &got);

	if (r == 0 && got != sizeof(*st))
		r = -EPROTO;
	return r;
}

static int fs_readlink(struct fs_ctx *c, const char *path, char target[LEGO_ST_PATH_MAX])
{
	struct st_args a = { .path = path };
	size_t got;
	int r = st_call(c, LEGO_OP_ST_READLINK, &a, target, LEGO_ST_PATH_MAX - 1, &got);

	target[r == 0 ? got : 0] = '\0';
	return r;
}

static int fs_fsync(struct fs_ctx *c, const char *path)
{
	struct st_args a = { .path = path };

	return st_call(c, LEGO_OP_ST_FSYNC, &a, NULL, 0, NULL);
}

static int fs_setattr(struct fs_ctx *c, const char *path, const struct lego_st_attr *at)
{
	struct st_args a = { .path = path, .len = sizeof(*at), .data = at, .dlen = sizeof(*at) };

	return st_call(c, LEGO_OP_ST_SETATTR, &a, NULL, 0, NULL);
}

/* An octal mode option (or argument). -1 if invalid. */
static long fs_mode(const char *s)
{
	char *end;
	long v;

	if (!s || !*s || strspn(s, "01234567") != strlen(s))
		return -1;
	v = strtol(s, &end, 8);
	return *end || v > 07777 ? -1 : v;
}

static void mode_str(uint32_t mode, char out[11])
{
	static const char rwx[] = "rwxrwxrwx";

	out[0] = S_ISDIR(mode) ? 'd' : S_ISLNK(mode) ? 'l' : S_ISREG(mode) ? '-' : '?';
	for (int i = 0; i < 9; i++)
		out[1 + i] = mode & (0400u >> i) ? rwx[i] : '-';
	if (mode & S_ISUID)
		out[3] = out[3] == 'x' ? 's' : 'S';
	if (mode & S_ISGID)
		out[6] = out[6] == 'x' ? 's' : 'S';
	if (mode & S_ISVTX)
		out[9] = out[9] == 'x' ? 't' : 'T';
	out[10] = '\0';
}

static const char *type_str(uint32_t mode)
{
	return S_ISDIR(mode) ? "directory" : S_ISLNK(mode) ? "symlink"
	       : S_ISREG(mode) ? "file" : "unknown";
}

static void ns_time_str(uint64_t ns, char *buf, size_t len, bool full)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	char s[32];

	gmtime_r(&t, &tm);
	if (!full) {
		strftime(buf, len, "%Y-%m-%d %H:%M", &tm);
		return;
	}
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09" PRIu64 "Z", s, (uint64_t)(ns % 1000000000ull));
}

/* Reads up to n bytes (less only at EOF). -errno on error. */
static ssize_t read_full(int fd, void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = read(fd, (uint8_t *)buf + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		done += (size_t)r;
	}
	return (ssize_t)done;
}

static int write_full(int fd, const void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = write(fd, (const uint8_t *)buf + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		done += (size_t)r;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* ls, stat, readlink                                                  */
/* ------------------------------------------------------------------ */

struct fs_dent {
	char *name;
	uint32_t ino;
	uint8_t type;
};

static int dent_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fs_dent *)a)->name, ((const struct fs_dent *)b)->name);
}

/* All entries of directory path (every page). */
static int fs_readdir_all(struct fs_ctx *c, const char *path, struct fs_dent **out, size_t *nout)
{
	struct fs_dent *d = NULL;
	size_t n = 0, cap = 0;
	uint64_t cookie = 0;
	int r = 0;

	for (;;) {
		struct st_args a = { .path = path, .off = cookie, .len = LEGO_ST_READDIR_MAX };
		struct lego_st_readdir_reply hdr;
		size_t got, pos;

		r = st_call(c, LEGO_OP_ST_READDIR, &a, c->rep, FS_REPLY_MAX, &got);
		if (r < 0)
			break;
		r = -EPROTO;
		if (got < sizeof(hdr))
			break;
		memcpy(&hdr, c->rep, sizeof(hdr));
		if (hdr.count == 0) {
			r = 0;
			break;
		}
		if (hdr.count > LEGO_ST_READDIR_MAX || hdr.next_cookie == cookie)
			break;
		pos = sizeof(hdr);
		for (uint32_t i = 0; i < hdr.count; i++) {
			struct lego_st_dirent de;
			size_t sz;

			if (got - pos < sizeof(de))
				goto bad;
			memcpy(&de, c->rep + pos, sizeof(de));
			sz = LEGO_ST_DIRENT_SIZE(de.name_len);
			if (de.name_len == 0 || de.name_len > LEGO_ST_NAME_MAX ||
			    got - pos < sizeof(de) + de.name_len ||
			    memchr(c->rep + pos + sizeof(de), '\0', de.name_len))
				goto bad;
			/* (the last entry's padding may be missing) */
			if (sz > got - pos)
				sz = got - pos;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct fs_dent *nd = realloc(d, nc * sizeof(*nd));

				if (!nd) {
					r = -ENOMEM;
					goto bad;
				}
				d = nd;
				cap = nc;
			}
			d[n].name = strndup((const char *)c->rep + pos + sizeof(de), de.name_len);
			if (!d[n].name) {
				r = -ENOMEM;
				goto bad;
			}
			d[n].ino = de.ino;
			d[n].type = de.type;
			n++;
			pos += sz;
		}
		if (pos != got)
			break;
		cookie = hdr.next_cookie;
		if (n > 50000000)	/* a server that never ends */
			break;
	}
bad:
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			free(d[i].name);
		free(d);
		return r;
	}
	*out = d;
	*nout = n;
	return 0;
}

/* One entry of ls -l (or ls --json). st NULL: stat failed. */
static void ls_long(struct fs_ctx *c, const char *label, const char *path,
		    const struct lego_st_stat *st, bool first)
{
	char m[11], when[40], target[LEGO_ST_PATH_MAX] = "";
	bool link = st && S_ISLNK(st->mode);

	if (link)
		fs_readlink(c, path, target);
	if (c->json) {
		printf("%s\n    {\"name\": ", first ? "" : ",");
		json_str(label);
		if (st) {
			printf(", \"type\": \"%s\", \"mode\": \"%04o\", \"ino\": %u, \"nlink\": %u, "
			       "\"uid\": %u, \"gid\": %u, \"size\": %" PRIu64 ", \"mtime_ns\": %" PRIu64,
			       type_str(st->mode), st->mode & 07777, st->ino, st->nlink, st->uid,
			       st->gid, st->size, st->mtime_ns);
			if (link) {
				printf(", \"target\": ");
				json_str(target);
			}
		}
		printf("}");
		return;
	}
	if (!st) {
		printf("?????????? %3s %5s %5s %12s %16s %s\n", "?", "?", "?", "?", "?", label);
		return;
	}
	mode_str(st->mode, m);
	ns_time_str(st->mtime_ns, when, sizeof(when), false);
	printf("%s %3u %5u %5u %12" PRIu64 " %s %s%s%s\n", m, st->nlink, st->uid, st->gid,
	       st->size, when, label, link ? " -> " : "", target);
}

static int fs_ls(struct fs_ctx *c, const char **pos, size_t npos)
{
	char path[LEGO_ST_PATH_MAX], child[LEGO_ST_PATH_MAX];
	struct lego_st_stat st;
	struct fs_dent *d;
	size_t n;
	bool lng = c->flags & F_LONG;
	int r, rc = 0;

	if ((r = fs_path_arg(c, npos ? pos[0] : "/", path)))
		return r;
	if ((r = fs_stat(c, path, &st)) < 0)
		return fs_fail(c, path, r, NULL);
	if (c->json)
		printf("{\"path\": "), json_str(path), printf(", \"entries\": [");
	if (!S_ISDIR(st.mode)) {
		/* ls of a file shows the file. */
		if (lng || c->json)
			ls_long(c, path, path, &st, true);
		else
			printf("%s\n", path);
		if (c->json)
			printf("\n  ]}\n");
		return 0;
	}
	if ((r = fs_readdir_all(c, path, &d, &n)) < 0) {
		if (c->json)
			printf("]}\n");
		return fs_fail(c, path, r, NULL);
	}
	if (n)
		qsort(d, n, sizeof(*d), dent_cmp);
	for (size_t i = 0; i < n; i++) {
		if (!lng && !c->json) {
			printf("%s\n", d[i].name);
			continue;
		}
		if (!lng) {
			printf("%s\n    {\"name\": ", i ? "," : "");
			json_str(d[i].name);
			printf(", \"type\": \"%s\", \"ino\": %u}",
			       d[i].type == 4 ? "directory" : d[i].type == 10 ? "symlink"
			       : d[i].type == 8 ? "file" : "unknown", d[i].ino);
			continue;
		}
		r = fs_join(path, d[i].name, child);
		if (r == 0)
			r = fs_stat(c, child, &st);
		if (r < 0) {
			/* Removed meanwhile, say: report, and go on. */
			fflush(stdout);
			fs_fail(c, child, r, NULL);
			rc = EXIT_FAIL;
		}
		ls_long(c, d[i].name, child, r < 0 ? NULL : &st, i == 0);
	}
	if (c->json)
		printf("%s]}\n", n ? "\n  " : "");
	for (size_t i = 0; i < n; i++)
		free(d[i].name);
	free(d);
	return rc;
}

static int fs_stat_cmd(struct fs_ctx *c, const char **pos, size_t npos)
{
	char path[LEGO_ST_PATH_MAX], m[11], when[48], target[LEGO_ST_PATH_MAX] = "";
	struct lego_st_stat st;
	int r;

	if ((r = fs_path_arg(c, pos[0], path)))
		return r;
	if ((r = fs_stat(c, path, &st)) < 0)
		return fs_fail(c, path, r, NULL);
	if (S_ISLNK(st.mode) && (r = fs_readlink(c, path, target)) < 0)
		return fs_fail(c, path, r, NULL);
	ns_time_str(st.mtime_ns, when, sizeof(when), true);
	if (c->json) {
		printf("{\"path\": ");
		json_str(path);
		printf(", \"vnode\": %u, \"node\": ", c->vnode);
		json_str(c->st.name);
		printf(", \"type\": \"%s\", \"mode\": \"%04o\", \"ino\": %u, \"nlink\": %u, "
		       "\"uid\": %u, \"gid\": %u, \"size\": %" PRIu64 ", \"blocks\": %" PRIu64
		       ", \"mtime_ns\": %" PRIu64 ", \"mtime\": \"%s\"",
		       type_str(st.mode), st.mode & 07777, st.ino, st.nlink, st.uid, st.gid, st.size,
		       st.blocks, st.mtime_ns, when);
		if (S_ISDIR(st.mode))
			printf(", \"children\": %u", st.nchild);
		if (S_ISLNK(st.mode)) {
			printf(", \"target\": ");
			json_str(target);
		}
		printf("}\n");
		return 0;
	}
	mode_str(st.mode, m);
	printf("path:     %s\n", path);
	printf("type:     %s\n", type_str(st.mode));
	printf("mode:     %04o (%s)\n", st.mode & 07777, m);
	printf("inode:    %u\n", st.ino);
	printf("links:    %u\n", st.nlink);
	printf("owner:    uid %u, gid %u\n", st.uid, st.gid);
	printf("size:     %" PRIu64 " bytes\n", st.size);
	printf("blocks:   %" PRIu64 " (4 KiB)\n", st.blocks);
	printf("mtime:    %s\n", when);
	if (S_ISDIR(st.mode))
		printf("children: %u\n", st.nchild);
	if (S_ISLNK(st.mode))
		printf("target:   %s\n", target);
	return 0;
}

static int fs_readlink_cmd(struct fs_ctx *c, const char **pos, size_t npos)
{
	char path[LEGO_ST_PATH_MAX], target[LEGO_ST_PATH_MAX];
	int r;

	if ((r = fs_path_arg(c, pos[0], path)))
		return r;
	if ((r = fs_readlink(c, path, target)) < 0)
		return fs_fail(c, path, r, r == -EINVAL ? " (not a symbolic link?)" : NULL);
	printf("%s\n", target);
	return 0;
}

/* ------------------------------------------------------------------ */
/* cat, get                                                            */
/* ------------------------------------------------------------------ */

/* Copies the file at path to fd. 0, or -errno (*local set if the local
 * side failed). */
static int fs_read_to(struct fs_ctx *c, const char *path, int fd, bool *local)
{
	uint64_t off = 0;

	*local = false;
	for (;;) {
		struct st_args a = { .path = path, .off = off, .len = LEGO_ST_IO_MAX };
		size_t got;
		int r = st_call(c, LEGO_OP_ST_READ, &a, c->rep, FS_REPLY_MAX, &got);

		if (r < 0)
			return r;
		if (got > LEGO_ST_IO_MAX)
			return -EPROTO;
		if (got && (r = write_full(fd, c->rep, got)) < 0) {
			*local = true;
			return r;
		}
		off += got;
		if (got < LEGO_ST_IO_MAX)	/* fewer only at EOF */
			return 0;
	}
}

static int fs_cat(struct fs_ctx *c, const char **pos, size_t npos)
{
	char path[LEGO_ST_PATH_MAX];
	bool local;
	int r;

	if ((r = fs_path_arg(c, pos[0], path)))
		return r;
	fflush(stdout);
	r = fs_read_to(c, path, STDOUT_FILENO, &local);
	if (r < 0 && local) {
		fprintf(stderr, "%s: fs cat: writing to stdout: %s\n", prog, strerror(-r));
		return EXIT_FAIL;
	}
	return r < 0 ? fs_fail(c, path, r, NULL) : 0;
}

static int fs_get(struct fs_ctx *c, const char **pos, size_t npos)
{
	char path[LEGO_ST_PATH_MAX], *local = NULL;
	struct lego_st_stat st;
	struct stat ls;
	bool existed, lerr;
	int r, fd;

	if ((r = fs_path_arg(c, pos[0], path)))
		return r;
	if (npos > 1 && !strcmp(pos[1], "-")) {
		fflush(stdout);
		r = fs_read_to(c, path, STDOUT_FILENO, &lerr);
		if (r < 0 && lerr) {
			fprintf(stderr, "%s: fs get: writing to stdout: %s\n", prog, strerror(-r));
			return EXIT_FAIL;
		}
		return r < 0 ? fs_fail(c, path, r, NULL) : 0;
	}
	if (!strcmp(path, "/") && npos < 2)
		return fs_usage("%s", "get /: give a LOCAL name");
	if ((r = fs_stat(c, path, &st)) < 0)
		return fs_fail(c, path, r, NULL);
	if (!S_ISREG(st.mode))
		return fs_fail(c, path, S_ISDIR(st.mode) ? -EISDIR : -EINVAL,
			       S_ISDIR(st.mode) ? "" : " (not a regular file)");
	/* LOCAL, LOCAL/NAME if LOCAL is a directory, or NAME in the cwd. */
	if (npos < 2)
		local = strdup(fs_basename(path));
	else if (stat(pos[1], &ls) == 0 && S_ISDIR(ls.st_mode)) {
		size_t n = strlen(pos[1]) + strlen(fs_basename(path)) + 2;

		if ((local = malloc(n)))
			snprintf(local, n, "%s/%s", pos[1], fs_basename(path));
	} else
		local = strdup(pos[1]);
	if (!local)
		return EXIT_FAIL;
	existed = access(local, F_OK) == 0;
	fd = open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.mode & 0777);
	if (fd < 0) {
		fprintf(stderr, "%s: fs get: %s: %s\n", prog, local, strerror(errno));
		free(local);
		return EXIT_FAIL;
	}
	r = fs_read_to(c, path, fd, &lerr);
	if (close(fd) < 0 && r == 0) {
		r = -errno;
		lerr = true;
	}
	if (r < 0) {
		if (!existed)
			unlink(local);
		if (lerr)
			fprintf(stderr, "%s: fs get: %s: %s\n", prog, local, strerror(-r));
		else
			fs_fail(c, path, r, NULL);
		free(local);
		return EXIT_FAIL;
	}
	free(local);
	return 0;
}

/* ------------------------------------------------------------------ */
/* put, write, append                                                  */
/* ------------------------------------------------------------------ */

/*
 * Writes what fd holds to path from offset off, in LEGO_ST_IO_MAX chunks.
 * *done counts the bytes written. 0, or -errno (*local set if reading fd
 * failed); a short write (the store is full) is -ENOSPC.
 */
static int fs_write_from(struct fs_ctx *c, int fd, const char *path, uint64_t off,
			 uint64_t *done, bool *local)
{
	uint8_t *buf = malloc(LEGO_ST_IO_MAX);
	int r = 0;

	*done = 0;
	*local = false;
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = read_full(fd, buf, LEGO_ST_IO_MAX);
		struct lego_st_count cnt;
		size_t got;

		if (n < 0) {
			*local = true;
			r = (int)n;
			break;
		}
		if (n == 0)
			break;
		struct st_args a = { .path = path, .off = off + *done, .len = (uint64_t)n,
				     .data = buf, .dlen = (size_t)n };

		r = st_call(c, LEGO_OP_ST_WRITE, &a, &cnt, sizeof(cnt), &got);
		if (r < 0)
			break;
		if (got != sizeof(cnt) || cnt.value > (uint64_t)n) {
			r = -EPROTO;
			break;
		}
		*done += cnt.value;
		if (cnt.value < (uint64_t)n) {
			r = -ENOSPC;	/* short only when the disk filled */
			break;
		}
		if ((size_t)n < LEGO_ST_IO_MAX)
			break;
	}
	free(buf);
	return r;
}

/* The ENOSPC report: "(wrote N of M bytes)". */
/* The end of put and write once the data went out with result r: a full
 * disk says how much was written (of total bytes, when known: >= 0), then
 * the file is fsync'd unless --no-sync. */
static int fs_write_finish(struct fs_ctx *c, const char *path, int r, uint64_t done,
			   int64_t total)
{
	char extra[80];

	if (r == -ENOSPC) {
		if (total >= 0)
			snprintf(extra, sizeof(extra), " (wrote %" PRIu64 " of %" PRId64 " bytes)",
				 done, total);
		else
			snprintf(extra, sizeof(extra), " (wrote %" PRIu64 " bytes)", done);
		return fs_fail(c, path, r, extra);
	}
	if (r < 0)
		return fs_fail(c, path, r, NULL);
	if (!c->o[FO_NOSYNC].val && (r = fs_fsync(c, path)) < 0)
		return fs_fail(c, path, r, " (fsync)");
	return 0;
}

static int fs_put(struct fs_ctx *c, const char **pos, size_t npos)
{
	char path[LEGO_ST_PATH_MAX], dest[LEGO_ST_PATH_MAX];
	const char *src = pos[0];
	bool std = !strcmp(src, "-"), lerr;
	long mode = 0644;
	int64_t total = -1;
	struct lego_st_stat st;
	struct stat ls;
	uint64_t done;
	int fd = STDIN_FILENO, r;

	if ((r = fs_path_arg(c, pos[1], path)))
		return r;
	if (c->o[FO_MODE].val && (mode = fs_mode(c->o[FO_MODE].val)) < 0)
		return fs_usage("invalid --mode '%s': want octal permission bits", c->o[FO_MODE].val);
	if (!std) {
		fd = open(src, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &ls) < 0) {
			fprintf(stderr, "%s: fs put: %s: %s\n", prog, src, strerror(errno));
			if (fd >= 0)
				close(fd);
			return EXIT_FAIL;
		}
		if (S_ISDIR(ls.st_mode)) {
			fprintf(stderr, "%s: fs put: %s: %s\n", prog, src, strerror(EISDIR));
			close(fd);
			return EXIT_FAIL;
		}
		if (!c->o[FO_MODE].val)
			mode = ls.st_mode & 07777;
		if (S_ISREG(ls.st_mode))
			total = ls.st_size;
		/* Into a directory: under the local file's name. */
		if (fs_stat(c, path, &st) == 0 && S_ISDIR(st.mode)) {
			if (fs_join(path, fs_basename(src), dest) < 0) {
				close(fd);
				return fs_fail(c, path, -ENAMETOOLONG, NULL);
			}
			strcpy(path, dest);
		}
	}
	struct st_args a = { .path = path, .flags = LEGO_ST_O_TRUNC, .mode = (uint32_t)mode };

	r = st_call(c, LEGO_OP_ST_CREATE, &a, NULL, 0, NULL);
	if (r == 0 && c->o[FO_MODE].val) {
		/* An existing file keeps its mode through CREATE. */
		struct lego_st_attr at = { .mask = LEGO_ST_ATTR_MODE, .mode = (uint32_t)mode };

		r = fs_setattr(c, path, &at);
	}
	if (r < 0) {
		if (!std)
			close(fd);
		return fs_fail(c, path, r, NULL);
	}
	r = fs_write_from(c, fd, path, 0, &done, &lerr);
	if (!std)
		close(fd);
	if (r < 0 && lerr) {
		fprintf(stderr, "%s: fs put: %s: %s (wrote %" PRIu64 " bytes to %s)\n", prog,
			std ? "stdin" : src, strerror(-r), done, path);
		return EXIT_FAIL;
	}
	return fs_write_finish(c, path, r, done, total);
}

static int fs_write(struct fs_ctx *c, const char **pos, size_t npos)
{
	char path[LEGO_ST_PATH_MAX];
	unsigned long long off;
	uint64_t done;
	bool lerr;
	int r;

	if ((r = fs_path_arg(c, pos[0], path)))
		return r;
	if (!c->o[FO_OFFSET].val)
		return fs_usage("%s", "fs write needs --offset N");
	if (opt_num("fs", &c->o[FO_OFFSET], 0, LEGO_ST_MAX_FILE_SIZE, 0, &off))
		return EXIT_USAGE;
	/* Creates a missing file, changes nothing of an existing one. */
	struct st_args a = { .path = path, .mode = 0644 };

	if ((r = st_call(c, LEGO_OP_ST_CREATE, &a, NULL, 0, NULL)) < 0)
		return fs_fail(c, path, r, NULL);
	r = fs_write_from(c, STDIN_FILENO, path, off, &done, &lerr);
	if (r < 0 && lerr) {
		fprintf(stderr, "%s: fs write: stdin: %s (wrote %" PRIu64 " bytes)\n", prog,
			strerror(-r), done);
		return EXIT_FAIL;
	}
	return fs_write_finish(c, path, r, done, -1);
}

static int fs_append(struct fs_ctx *c, const char **pos, size_t npos)
{
	char path[LEGO_ST_PATH_MAX], extra[80];
	uint8_t *buf;
	uint64_t first = 0, done = 0;
	bool any = false;
	int r = 0;

	if ((r = fs_path_arg(c, pos[0], path)))
		return r;
	if (!(buf = malloc(LEGO_ST_IO_MAX)))
		return EXIT_FAIL;
	for (;;) {
		ssize_t n = read_full(STDIN_FILENO, buf, LEGO_ST_IO_MAX);
		struct lego_st_count cnt;
		size_t got;

		if (n < 0) {
			fprintf(stderr, "%s: fs append: stdin: %s (appended %" PRIu64 " bytes)\n",
				prog, strerror((int)-n), done);
			free(buf);
			return EXIT_FAIL;
		}
		if (n == 0 && any)
			break;
		if (n == 0) {
			/* Nothing to append: create if asked, report the end. */
			struct st_args a = { .path = path, .mode = 0600 };
			struct lego_st_stat st;

			if (c->o[FO_CREATE].val && (r = st_call(c, LEGO_OP_ST_CREATE, &a, NULL, 0,
							       NULL)) < 0)
				break;
			if ((r = fs_stat(c, path, &st)) < 0)
				break;
			if (S_ISDIR(st.mode)) {
				r = -EISDIR;
				break;
			}
			first = st.size;
			any = true;
			break;
		}
		struct st_args a = { .path = path, .len = (uint64_t)n, .data = buf, .dlen = (size_t)n,
				     .flags = c->o[FO_CREATE].val ? LEGO_ST_APPEND_CREATE : 0 };

		r = st_call(c, LEGO_OP_ST_APPEND, &a, &cnt, sizeof(cnt), &got);
		if (r == 0 && got != sizeof(cnt))
			r = -EPROTO;
		if (r < 0)
			break;
		if (!any)
			first = cnt.value;
		any = true;
		done += (uint64_t)n;
		if ((size_t)n < LEGO_ST_IO_MAX)
			break;
	}
	free(buf);
	if (r == -ENOSPC) {
		snprintf(extra, sizeof(extra), " (appended %" PRIu64 " bytes)", done);
		return fs_fail(c, path, r, done ? extra : NULL);
	}
	if (r < 0)
		return fs_fail(c, path, r, done ? " (after appending some)" : NULL);
	if (!c->o[FO_NOSYNC].val && (r = fs_fsync(c, path)) < 0)
		return fs_fail(c, path, r, " (fsync)");
	printf("%" PRIu64 "\n", first);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Namespace changes                                                   */
/* ------------------------------------------------------------------ */

static int fs_touch(struct fs_ctx *c, const char **pos, size_t npos)
{
	char path[LEGO_ST_PATH_MAX];
	long mode = 0644;
	bool excl = c->o[FO_EXCL].val != NULL;
	int r;

	if ((r = fs_path_arg(c, pos[0], path)))
		return r;
	if (c->o[FO_MODE].val && (mode = fs_mode(c->o[FO_MODE].val)) < 0)
		return fs_usage("invalid --mode '%s': want octal permission bits", c->o[FO_MODE].val);
	struct st_args a = { .path = path, .mode = (uint32_t)mode,
			     .flags = excl ? LEGO_ST_O_EXCL : 0 };

	r = st_call(c, LEGO_OP_ST_CREATE, &a, NULL, 0, NULL);
	if (r < 0 && !(r == -EISDIR && !excl))
		return fs_fail(c, path, r, NULL);
	if (!excl) {
		/* Like touch(1): an existing file or directory gets mtime now. */
		struct lego_st_attr at = { .mask = LEGO_ST_ATTR_MTIME };
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		at.mtime_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		if ((r = fs_setattr(c, path, &at)) < 0)
			return fs_fail(c, path, r, NULL);
	}
	return 0;
}

static int fs_truncate(struct fs_ctx *c, const char **pos, size_t npos)
{
	char path[LEGO_ST_PATH_MAX];
	unsigned long long size;
	int r;

	if ((r = fs_path_arg(c, pos[0], path)))
		return r;
	if (!c->o[FO_SIZE].val)
		return fs_usage("%s", "fs truncate needs --size N");
	if (opt_num("fs", &c->o[FO_SIZE], 0, UINT64_MAX, 0, &size))
		return EXIT_USAGE;
	struct st_args a = { .path = path, .off = size };

	if ((r = st_call(c, LEGO_OP_ST_TRUNCATE, &a, NULL, 0, NULL)) < 0)
		return fs_fail(c, path, r, NULL);
	return 0;
}

/* rm, rmdir, sync: one path, one opcode. */
static int fs_simple(struct fs_ctx *c, const char **pos, size_t npos, uint16_t op)
{
	char path[LEGO_ST_PATH_MAX];
	int r;

	if ((r = fs_path_arg(c, pos[0], path)))
		return r;
	struct st_args a = { .path = path };

	if ((r = st_call(c, op, &a, NULL, 0, NULL)) < 0)
		return fs_fail(c, path, r, NULL);
	return 0;
}

static int fs_rm(struct fs_ctx *c, const char **pos, size_t npos)
{
	return fs_simple(c, pos, npos, LEGO_OP_ST_UNLINK);
}

static int fs_rmdir(struct fs_ctx *c, const char **pos, size_t npos)
{
	return fs_simple(c, pos, npos, LEGO_OP_ST_RMDIR);
}

static int fs_sync(struct fs_ctx *c, const char **pos, size_t npos)
{
	int r;

	if (npos)
		return fs_simple(c, pos, npos, LEGO_OP_ST_FSYNC);
	if ((r = fs_fsync(c, NULL)) < 0)
		return fs_fail(c, NULL, r, NULL);
	return 0;
}

static int fs_mkdir(struct fs_ctx *c, const char **pos, size_t npos)
{
	char path[LEGO_ST_PATH_MAX], part[LEGO_ST_PATH_MAX];
	long mode = 0755;
	int r;

	if ((r = fs_path_arg(c, pos[0], path)))
		return r;
	if (c->o[FO_MODE].val && (mode = fs_mode(c->o[FO_MODE].val)) < 0)
		return fs_usage("invalid --mode '%s': want octal permission bits", c->o[FO_MODE].val);
	if (!(c->flags & F_PARENTS)) {
		struct st_args a = { .path = path, .mode = (uint32_t)mode };

		if ((r = st_call(c, LEGO_OP_ST_MKDIR, &a, NULL, 0, NULL)) < 0)
			return fs_fail(c, path, r, NULL);
		return 0;
	}
	/* -p: every missing ancestor too; existing directories are fine. */
	for (const char *p = path + 1;; p++) {
		if (*p && *p != '/')
			continue;
		memcpy(part, path, (size_t)(p - path));
		part[p - path] = '\0';
		if (strcmp(part, "/")) {
			struct st_args a = { .path = part, .mode = (uint32_t)mode };
			struct lego_st_stat st;

			r = st_call(c, LEGO_OP_ST_MKDIR, &a, NULL, 0, NULL);
			if (r == -EEXIST) {
				r = fs_stat(c, part, &st);
				if (r == 0 && !S_ISDIR(st.mode))
					r = *p ? -ENOTDIR : -EEXIST;
			}
			if (r < 0)
				return fs_fail(c, part, r, NULL);
		}
		if (!*p)
			break;
	}
	return 0;
}

static int fs_mv(struct fs_ctx *c, const char **pos, size_t npos)
{
	char from[LEGO_ST_PATH_MAX], to[LEGO_ST_PATH_MAX], extra[LEGO_ST_PATH_MAX + 16];
	int r;

	if ((r = fs_path_arg(c, pos[0], from)) || (r = fs_path_arg(c, pos[1], to)))
		return r;
	struct st_args a = { .path = from, .path2 = to };

	if ((r = st_call(c, LEGO_OP_ST_RENAME, &a, NULL, 0, NULL)) < 0) {
		snprintf(extra, sizeof(extra), " (to %s)", to);
		return fs_fail(c, from, r, extra);
	}
	return 0;
}

static int fs_symlink(struct fs_ctx *c, const char **pos, size_t npos)
{
	char path[LEGO_ST_PATH_MAX];
	const char *target = pos[0];
	int r;

	if (!*target || strlen(target) >= LEGO_ST_PATH_MAX)
		return fs_usage("invalid symlink target '%s' (1-1023 bytes)", target);
	if ((r = fs_path_arg(c, pos[1], path)))
		return r;
	struct st_args a = { .path = path, .path2 = target };

	if ((r = st_call(c, LEGO_OP_ST_SYMLINK, &a, NULL, 0, NULL)) < 0)
		return fs_fail(c, path, r, NULL);
	return 0;
}

static int fs_ln(struct fs_ctx *c, const char **pos, size_t npos)
{
	if (!(c->flags & F_SYMBOLIC))
		return fs_usage("%s", "fs ln makes symbolic links only: ln -s TARGET PATH "
				"(LegoFS has no hard links)");
	return fs_symlink(c, pos, npos);
}

static int fs_chmod(struct fs_ctx *c, const char **pos, size_t npos)
{
	char path[LEGO_ST_PATH_MAX];
	long mode = fs_mode(pos[0]);
	int r;

	if (mode < 0)
		return fs_usage("invalid mode '%s': want octal permission bits, e.g. 0644", pos[0]);
	if ((r = fs_path_arg(c, pos[1], path)))
		return r;
	struct lego_st_attr at = { .mask = LEGO_ST_ATTR_MODE, .mode = (uint32_t)mode };

	if ((r = fs_setattr(c, path, &at)) < 0)
		return fs_fail(c, path, r, NULL);
	return 0;
}

/* ------------------------------------------------------------------ */
/* df, vnodes                                                          */
/* ------------------------------------------------------------------ */

static int fs_df(struct fs_ctx *c, const char **pos, size_t npos)
{
	struct lego_st_statfs f;
	struct st_args a = { 0 };
	char label[sizeof(f.label) + 1], msg[LEGO_ST_MSG_LEN], uuid[40], ip[INET_ADDRSTRLEN];
	size_t got;
	int r;

	c->vnode = 0;	/* "vnode ignored" */
	r = st_call(c, LEGO_OP_ST_STATFS, &a, &f, sizeof(f), &got);
	if (r == 0 && got != sizeof(f))
		r = -EPROTO;
	if (r < 0)
		return fs_fail(c, NULL, r, NULL);
	memcpy(label, f.label, sizeof(f.label));
	label[sizeof(f.label)] = '\0';
	wire_str(msg, f.message, sizeof(msg));
	for (int i = 0; i < 16; i++)
		sprintf(uuid + 2 * i + (i >= 4) + (i >= 6) + (i >= 8) + (i >= 10), "%02x%s", f.uuid[i],
			i == 3 || i == 5 || i == 7 || i == 9 ? "-" : "");
	ip_str(c->st.ip, ip);
	if (c->json) {
		printf("{\"node\": ");
		json_str(c->st.name);
		printf(", \"node_id\": %u, \"address\": \"%s:%u\", \"state\": \"%s\", \"label\": ",
		       c->st.node_id, ip, c->st.port, st_state_str(f.state));
		json_str(label);
		printf(", \"uuid\": \"%s\", \"block_size\": %u, \"total_bytes\": %" PRIu64
		       ", \"free_bytes\": %" PRIu64 ", \"total_inodes\": %u, \"free_inodes\": %u, "
		       "\"max_vnodes\": %u, \"vnodes\": %u, \"commits\": %" PRIu64 ", \"message\": ",
		       uuid, f.block_size, f.total_bytes, f.free_bytes, f.total_inodes,
		       f.free_inodes, f.max_vnodes, f.nvnodes, f.commits);
		json_str(msg);
		printf("}\n");
		return 0;
	}
	printf("storage:  %s", c->st.name);
	if (c->st.node_id)
		printf(" (id %u, %s:%u)\n", c->st.node_id, ip, c->st.port);
	else
		printf(" (%s:%u)\n", ip, c->st.port);
	printf("state:    %s\n", st_state_str(f.state));
	if (f.state != LEGO_ST_STATE_UNMOUNTED) {
		double used = f.total_bytes ? 100.0 * (double)(f.total_bytes - (f.free_bytes <
			f.total_bytes ? f.free_bytes : f.total_bytes)) / (double)f.total_bytes : 0;

		printf("label:    %s\n", label);
		printf("uuid:     %s\n", uuid);
		printf("size:     %" PRIu64 " MiB, %" PRIu64 " MiB free (%.1f%% used), blocks of "
		       "%u bytes\n", f.total_bytes >> 20, f.free_bytes >> 20, used, f.block_size);
		printf("inodes:   %u, %u free\n", f.total_inodes, f.free_inodes);
		printf("vNodes:   %u of at most %u (vNode 0, the base, included)\n", f.nvnodes,
		       f.max_vnodes);
		printf("commits:  %" PRIu64 " since mount\n", f.commits);
	}
	if (msg[0])
		printf("message:  %s\n", msg);
	return 0;
}

static int fs_vnodes(struct fs_ctx *c, const char **pos, size_t npos)
{
	struct lego_st_vnode_list hdr = { 0, 0 };
	struct st_args a = { 0 };
	char gmsg[LEGO_GM_ERRMSG_MAX + 64];
	uint8_t *gbuf = malloc(LEGO_RPC_MAX_MSG);
	struct lego_gpm_vnode_list_reply gh = { 0, 0 };
	size_t got, ggot = 0;
	bool names = false;
	int r;

	if (!gbuf)
		return EXIT_FAIL;
	c->vnode = 0;
	r = st_call(c, LEGO_OP_ST_VNODE_LIST, &a, c->rep, FS_REPLY_MAX, &got);
	if (r == 0 && got >= sizeof(hdr))
		memcpy(&hdr, c->rep, sizeof(hdr));
	if (r == 0 && (got < sizeof(hdr) || hdr.count > LEGO_ST_VNODE_LIST_MAX ||
		       got != sizeof(hdr) + 4ull * hdr.count))
		r = -EPROTO;
	if (r < 0) {
		free(gbuf);
		return fs_fail(c, NULL, r, NULL);
	}
	/* Names from GPM, best effort. */
	if (mgr_call(c->ep, &c->a, GM_GPM, LEGO_OP_GPM_VNODE_LIST, NULL, 0, gbuf, LEGO_RPC_MAX_MSG,
		     &ggot, c->timeout, gmsg, sizeof(gmsg)) == 0 && ggot >= sizeof(gh)) {
		memcpy(&gh, gbuf, sizeof(gh));
		names = gh.count <= (ggot - sizeof(gh)) / sizeof(struct lego_vnode);
	}
	if (!names)
		fprintf(stderr, "%s: fs vnodes: warning: no names: %s\n", prog,
			ggot ? "GPM sent a malformed vNode list" : gmsg);
	if (c->json) {
		printf("{\"node\": ");
		json_str(c->st.name);
		printf(", \"node_id\": %u, \"vnodes\": [", c->st.node_id);
	} else {
		printf("%-8s %s\n", "VNODE", "NAME");
	}
	for (uint32_t i = 0; i < hdr.count; i++) {
		uint32_t id;
		char name[LEGO_NAME_LEN] = "";
		const char *note = "";

		memcpy(&id, c->rep + sizeof(hdr) + 4 * i, 4);
		for (uint32_t k = 0; names && k < gh.count; k++) {
			struct lego_vnode v;

			memcpy(&v, gbuf + sizeof(gh) + k * sizeof(v), sizeof(v));
			if (v.vnode_id == id) {
				wire_str(name, v.name, sizeof(name));
				break;
			}
		}
		if (id == 0)
			note = "(the base root)";
		else if (names && !name[0])
			note = "(unknown to GPM: left over from a removed vNode?)";
		if (c->json) {
			printf("%s{\"id\": %u, \"name\": ", i ? ", " : "", id);
			if (name[0])
				json_str(name);
			else
				printf("null");
			printf("}");
		} else {
			if (note[0])
				printf("%-8u %-15s %s\n", id, name[0] ? name : "-", note);
			else
				printf("%-8u %s\n", id, name[0] ? name : "-");
		}
	}
	if (c->json)
		printf("], \"total\": %u}\n", hdr.total);
	else if (hdr.total > hdr.count)
		printf("(%u more not listed: one reply carries at most %u)\n",
		       hdr.total - hdr.count, LEGO_ST_VNODE_LIST_MAX);
	free(gbuf);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */
/* ------------------------------------------------------------------ */

struct fs_sub {
	const char *name;
	int (*fn)(struct fs_ctx *c, const char **pos, size_t npos);
	size_t min_pos, max_pos;
	unsigned opts;			/* O_* beyond FO_COMMON */
	unsigned flags;			/* F_* allowed */
	bool need_vnode;
	const char *args;		/* for messages */
};

static const struct fs_sub subs[] = {
	{ "ls", fs_ls, 0, 1, OPT(FO_JSON), F_LONG, true, "[-l] [--json] [PATH]" },
	{ "stat", fs_stat_cmd, 1, 1, OPT(FO_JSON), 0, true, "[--json] PATH" },
	{ "cat", fs_cat, 1, 1, 0, 0, true, "PATH" },
	{ "get", fs_get, 1, 2, 0, 0, true, "PATH [LOCAL|-]" },
	{ "put", fs_put, 2, 2, OPT(FO_MODE) | OPT(FO_NOSYNC), 0, true,
	  "[--mode OCTAL] [--no-sync] LOCAL|- PATH" },
	{ "write", fs_write, 1, 1, OPT(FO_OFFSET) | OPT(FO_NOSYNC), 0, true,
	  "--offset N [--no-sync] PATH" },
	{ "append", fs_append, 1, 1, OPT(FO_CREATE) | OPT(FO_NOSYNC), 0, true,
	  "[--create] [--no-sync] PATH" },
	{ "touch", fs_touch, 1, 1, OPT(FO_EXCL) | OPT(FO_MODE), 0, true,
	  "[--excl] [--mode OCTAL] PATH" },
	{ "truncate", fs_truncate, 1, 1, OPT(FO_SIZE), 0, true, "--size N PATH" },
	{ "rm", fs_rm, 1, 1, 0, 0, true, "PATH" },
	{ "rmdir", fs_rmdir, 1, 1, 0, 0, true, "PATH" },
	{ "mkdir", fs_mkdir, 1, 1, OPT(FO_MODE), F_PARENTS, true, "[-p] [--mode OCTAL] PATH" },
	{ "mv", fs_mv, 2, 2, 0, 0, true, "FROM TO" },
	{ "ln", fs_ln, 2, 2, 0, F_SYMBOLIC, true, "-s TARGET PATH" },
	{ "symlink", fs_symlink, 2, 2, 0, 0, true, "TARGET PATH" },
	{ "readlink", fs_readlink_cmd, 1, 1, 0, 0, true, "PATH" },
	{ "chmod", fs_chmod, 2, 2, 0, 0, true, "OCTAL PATH" },
	{ "sync", fs_sync, 0, 1, 0, 0, true, "[PATH]" },
	{ "df", fs_df, 0, 0, OPT(FO_JSON), 0, false, "[--json]" },
	{ "vnodes", fs_vnodes, 0, 0, OPT(FO_JSON), 0, false, "[--json]" },
};

int cmd_fs(int argc, char **argv)
{
	struct opt opts[FO_N] = {
		GM_ADDR_OPTS, { "timeout", true, NULL }, { "json", false, NULL },
		{ "vnode", true, NULL }, { "base", false, NULL }, { "node", true, NULL },
		{ "mode", true, NULL }, { "no-sync", false, NULL }, { "offset", true, NULL },
		{ "create", false, NULL }, { "excl", false, NULL }, { "size", true, NULL },
		{ "cache", true, NULL },
	};
	const char *pos[8];
	char **av = calloc((size_t)argc + 1, sizeof(*av));
	int ac = 0, r;
	size_t npos;
	unsigned long long timeout;
	const struct fs_sub *sub = NULL;
	struct fs_ctx c;
	char usage[160];
	const char *extra[8];
	int nextra = 0;

	if (!av)
		return EXIT_FAIL;
	memset(&c, 0, sizeof(c));
	for (int i = 0; i < GM_NMGR; i++)
		c.nrecs[i] = -1;
	/* Short flags out first (parse_args knows --long ones only); "--"
	 * ends the options, for arguments that start with '-'. */
	av[ac++] = argv[0];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			for (i++; i < argc; i++) {
				if (nextra == 8) {
					free(av);
					return fs_usage("unexpected argument '%s'", argv[i]);
				}
				extra[nextra++] = argv[i];
			}
			break;
		}
		if (!strcmp(argv[i], "-l"))
			c.flags |= F_LONG;
		else if (!strcmp(argv[i], "-p"))
			c.flags |= F_PARENTS;
		else if (!strcmp(argv[i], "-s"))
			c.flags |= F_SYMBOLIC;
		else
			av[ac++] = argv[i];
	}
	r = parse_args("fs", ac, av, opts, FO_N, pos, 8, &npos);
	free(av);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	for (int i = 0; i < nextra && npos < 8; i++)
		pos[npos++] = extra[i];
	if (npos < 1)
		return fs_usage("%s", "missing the fs command (ls, stat, cat, get, put, ...)");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(pos[0], subs[i].name))
			sub = &subs[i];
	if (!sub)
		return fs_usage("unknown fs command '%s' (see 'legoctl fs --help')", pos[0]);
	snprintf(fs_sub_usage, sizeof(fs_sub_usage), "fs %s %s", sub->name, sub->args);
	for (int i = 0; i < FO_N; i++)
		if (opts[i].val && !((FO_COMMON | sub->opts) & OPT(i))) {
			snprintf(usage, sizeof(usage), "--%s", opts[i].name);
			return fs_usage("option %s does not apply here", usage);
		}
	if (c.flags & ~sub->flags)
		return fs_usage("flag %s does not apply here", c.flags & ~sub->flags & F_LONG ? "-l"
				: c.flags & ~sub->flags & F_PARENTS ? "-p" : "-s");
	if (npos - 1 < sub->min_pos)
		return fs_usage("%s", "missing arguments");
	if (npos - 1 > sub->max_pos)
		return fs_usage("unexpected argument '%s'", pos[1 + sub->max_pos]);
	if (opt_num("fs", &opts[FO_TIMEOUT], 1, 3600000, FS_DEFAULT_TIMEOUT_MS, &timeout))
		return EXIT_USAGE;
	if (gm_addrs_resolve(opts, &c.a) < 0)
		return EXIT_USAGE;
	c.cmd = sub->name;
	c.o = opts;
	c.timeout = (int)timeout;
	c.json = opts[FO_JSON].val != NULL;
	c.req = malloc(FS_REQ_MAX);
	c.rep = malloc(FS_REPLY_MAX);
	if (!c.req || !c.rep || !(c.ep = open_client())) {
		r = EXIT_FAIL;
		goto out;
	}
	r = fs_target(&c, sub->need_vnode);
	if (r == 0)
		r = sub->fn(&c, pos + 1, npos - 1);
	fflush(stdout);
out:
	gm_rpc_close(c.ep);
	free(c.req);
	free(c.rep);
	for (int i = 0; i < GM_NMGR; i++)
		free(c.recs[i]);
	return r;
}
