/*
 * legoctl commands that talk to the global managers (gpmd, gmmd, gsmd):
 * nodes, vnode, choose, and ping without a node (run: legoctl_run.c). The protocol is
 * include/uapi/lego/gm.h; docs/global-managers.md describes it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include <uapi/lego/gm.h>
#include "gm/nodes.h"
#include "legoctl.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "legoctl copies little-endian wire structs as they are");

const char *const gm_mgr_names[GM_NMGR] = { "gpm", "gmm", "gsm" };
static const char *const mgr_titles[GM_NMGR] = { "GPM", "GMM", "GSM" };
static const uint16_t mgr_ports[GM_NMGR] = { LEGO_GPM_PORT, LEGO_GMM_PORT, LEGO_GSM_PORT };
static const char *const mgr_envs[GM_NMGR] = { "LEGO_GPM", "LEGO_GMM", "LEGO_GSM" };

#define GM_DEFAULT_ADDR "198.18.0.1"
#define GM_DEFAULT_TIMEOUT_MS 1000

int gm_mgr_index(const char *name)
{
	for (int i = 0; i < GM_NMGR; i++) {
		size_t n = strlen(gm_mgr_names[i]);

		if (!strncmp(name, gm_mgr_names[i], n) && (!name[n] || !strcmp(name + n, "d")))
			return i;
	}
	return -1;
}

/* "IP[:PORT]" */
static int parse_ip_port(const char *s, uint32_t *ip, uint16_t *port)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strchr(s, ':');
	size_t hlen = colon ? (size_t)(colon - s) : strlen(s);
	struct in_addr a;
	char *end;
	unsigned long p;

	if (hlen == 0 || hlen >= sizeof(host))
		return -1;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, &a) != 1)
		return -1;
	*ip = a.s_addr;
	if (colon) {
		errno = 0;
		p = strtoul(colon + 1, &end, 10);
		if (colon[1] < '0' || colon[1] > '9' || errno || *end || p == 0 || p > 65535)
			return -1;
		*port = (uint16_t)p;
	}
	return 0;
}

int gm_addrs_resolve(const struct opt *o, struct gm_addrs *a)
{
	const char *env = getenv("LEGO_GM");
	const char *base = o[0].val ? o[0].val : env && *env ? env : GM_DEFAULT_ADDR;
	uint32_t ip;
	uint16_t port = 0;

	if (parse_ip_port(base, &ip, &port) || port) {
		fprintf(stderr, "%s: invalid managers' address '%s' (%s): want an IPv4 address\n",
			prog, base, o[0].val ? "--gm" : "$LEGO_GM");
		return -1;
	}
	for (int i = 0; i < GM_NMGR; i++) {
		const char *spec = o[1 + i].val;
		const char *what = o[1 + i].name;

		a->ip[i] = ip;
		a->port[i] = mgr_ports[i];
		if (!spec) {
			spec = getenv(mgr_envs[i]);
			what = mgr_envs[i];
			if (spec && !*spec)
				spec = NULL;
		}
		if (spec && parse_ip_port(spec, &a->ip[i], &a->port[i])) {
			fprintf(stderr, "%s: invalid address '%s' for %s: want IP[:PORT]\n", prog,
				spec, what);
			return -1;
		}
	}
	return 0;
}

static const char *addr_str(const struct gm_addrs *a, int i, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];
	struct in_addr in = { a->ip[i] };

	inet_ntop(AF_INET, &in, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, a->port[i]);
	return buf;
}

/* Declared in legoctl.h. */
int mgr_call(struct gm_rpc_ep *ep, const struct gm_addrs *a, int i, uint16_t op,
	     const void *req, size_t req_len, void *reply, size_t reply_max, size_t *got,
	     int timeout_ms, char *msg, size_t msglen)
{
	char where[40];
	int r;

	*got = 0;
	r = gm_rpc_call(ep, a->ip[i], a->port[i], op, req, req_len, reply, reply_max, got,
			timeout_ms);
	addr_str(a, i, where, sizeof(where));
	if (r == -ETIMEDOUT)
		snprintf(msg, msglen, "%s at %s does not answer (is %sd running? see --gm)",
			 mgr_titles[i], where, gm_mgr_names[i]);
	else if (r == -ENOSYS)
		snprintf(msg, msglen, "%s does not serve this request (not %sd?)", where,
			 gm_mgr_names[i]);
	else if (r == -EMSGSIZE)
		snprintf(msg, msglen, "%s at %s sent a reply too large (%zu bytes)", mgr_titles[i],
			 where, *got);
	else if (r < 0 && *got && *got <= reply_max && memchr(reply, '\0', *got))
		snprintf(msg, msglen, "%s", (const char *)reply);
	else if (r < 0)
		snprintf(msg, msglen, "%s at %s: %s", mgr_titles[i], where, strerror(-r));
	return r;
}

/* ------------------------------------------------------------------ */
/* JSON and formatting helpers                                         */
/* ------------------------------------------------------------------ */

void json_str(const char *s)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p >= 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

const char *ip_str(uint32_t ip, char *buf)
{
	struct in_addr a = { ip };

	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
	return buf;
}

void time_str(uint64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms) {
		snprintf(buf, len, "-");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *pers_str(uint32_t p)
{
	switch (p) {
	case LEGO_PERS_PROCESSOR: return "processor";
	case LEGO_PERS_MEMORY: return "memory";
	case LEGO_PERS_STORAGE: return "storage";
	}
	return "?";
}

static const char *state_str(uint32_t s)
{
	switch (s) {
	case LEGO_NODE_ALIVE: return "alive";
	case LEGO_NODE_DEAD: return "dead";
	case LEGO_NODE_UNKNOWN: return "unknown";
	}
	return "?";
}

/* Common option handling of the manager commands: GM_ADDR_OPTS, then
 * timeout, then json, then the command's own. */
#define MGR_OPTS GM_ADDR_OPTS, { "timeout", true, NULL }, { "json", false, NULL }
#define MGR_NOPTS (GM_ADDR_NOPTS + 2)

static int mgr_opts(const char *cmd, struct opt *o, struct gm_addrs *a, int *timeout, bool *json)
{
	unsigned long long t;

	if (opt_num(cmd, &o[GM_ADDR_NOPTS], 1, 3600000, GM_DEFAULT_TIMEOUT_MS, &t))
		return -1;
	if (gm_addrs_resolve(o, a) < 0)
		return -1;
	*timeout = (int)t;
	*json = o[GM_ADDR_NOPTS + 1].val != NULL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* nodes                                                               */
/* ------------------------------------------------------------------ */

static void load_str(const struct gm_node_rec *r, char *buf, size_t len)
{
	const struct lego_load *l = &r->n.load;
	bool polled = r->has_ext && (r->x.load_flags & LEGO_GM_LOAD_POLLED);
	const char *np = polled ? "" : " (not polled)";

	if (r->n.state == LEGO_NODE_DEAD) {
		snprintf(buf, len, "-");
		return;
	}
	switch (r->n.personality) {
	case LEGO_PERS_PROCESSOR:
		snprintf(buf, len, "%u cpus/%u threads%s", l->cpus, l->threads, np);
		break;
	case LEGO_PERS_MEMORY:
		if (polled)
			snprintf(buf, len, "%" PRIu64 "/%" PRIu64 " MiB free, %u req/s",
				 l->mem_free_bytes >> 20, l->mem_total_bytes >> 20, r->x.req_rate);
		else
			snprintf(buf, len, "%" PRIu64 "/%" PRIu64 " MiB free%s",
				 l->mem_free_bytes >> 20, l->mem_total_bytes >> 20, np);
		break;
	case LEGO_PERS_STORAGE:
		snprintf(buf, len, "%" PRIu64 "/%" PRIu64 " MiB free%s",
			 l->storage_free_bytes >> 20, l->storage_total_bytes >> 20, np);
		break;
	default:
		snprintf(buf, len, "?");
	}
}

static void nodes_json_row(const struct gm_node_rec *r, bool first)
{
	char ip[INET_ADDRSTRLEN];
	const struct lego_load *l = &r->n.load;

	printf("%s\n    {\"id\": %u, \"name\": ", first ? "" : ",", r->n.node_id);
	json_str(r->n.name);
	printf(", \"personality\": \"%s\", \"address\": \"%s\", \"rpc_port\": %u, "
	       "\"state\": \"%s\", \"healthy\": %s, \"since_ms\": %" PRIu64 ", "
	       "\"last_heard_ms\": %" PRIu64 ", \"incarnation\": %u,\n     \"load\": {\"polled\": %s, \"cpus\": %u, "
	       "\"threads\": %u, \"mem_total_bytes\": %" PRIu64 ", \"mem_free_bytes\": %" PRIu64
	       ", \"storage_total_bytes\": %" PRIu64 ", \"storage_free_bytes\": %" PRIu64
	       ", \"req_rate\": %u}}",
	       pers_str(r->n.personality), ip_str(r->n.ipv4, ip), r->x.rpc_port,
	       state_str(r->n.state), gm_node_rec_unhealthy(r) ? "false" : "true", r->n.since_ms,
	       r->n.last_heard_ms, r->x.incarnation,
	       r->has_ext && (r->x.load_flags & LEGO_GM_LOAD_POLLED) ? "true" : "false", l->cpus,
	       l->threads, l->mem_total_bytes, l->mem_free_bytes, l->storage_total_bytes,
	       l->storage_free_bytes, r->x.req_rate);
}

int cmd_gm_nodes(int argc, char **argv)
{
	struct opt opts[] = { MGR_OPTS, { "local", false, NULL }, { "check", false, NULL } };
	enum { MAX_ROWS = 4096 };
	const char *pos[1];
	size_t npos;
	struct gm_addrs a;
	int timeout, rc = 0;
	bool json;
	struct gm_node_rec *rows;
	size_t nrows = 0;
	uint8_t *buf;
	char errs[GM_NMGR][LEGO_GM_ERRMSG_MAX + 64];
	struct gm_rpc_ep *ep;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--local"))
			return cmd_nodes_local(argc, argv);
	int r = parse_args("nodes", argc, argv, opts, MGR_NOPTS + 2, pos, 0, &npos);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (opts[MGR_NOPTS + 1].val)
		return usage_error("nodes", "%s", "--check goes with --local");
	if (mgr_opts("nodes", opts, &a, &timeout, &json) < 0)
		return EXIT_USAGE;

	rows = calloc(MAX_ROWS, sizeof(*rows));
	buf = malloc(LEGO_RPC_MAX_MSG);
	if (!rows || !buf || !(ep = open_client())) {
		free(rows);
		free(buf);
		return EXIT_FAIL;
	}
	for (int i = 0; i < GM_NMGR; i++) {
		size_t got;
		int n;

		errs[i][0] = '\0';
		r = mgr_call(ep, &a, i, LEGO_OP_GM_NODES, NULL, 0, buf, LEGO_RPC_MAX_MSG, &got,
			     timeout, errs[i], sizeof(errs[i]));
		if (r < 0) {
			rc = EXIT_FAIL;
			continue;
		}
		n = gm_nodes_reply_parse(buf, got, rows + nrows, MAX_ROWS - nrows);
		if (n < 0) {
			snprintf(errs[i], sizeof(errs[i]), "%s sent a malformed node list (%zu bytes)",
				 mgr_titles[i], got);
			rc = EXIT_FAIL;
			continue;
		}
		nrows += (size_t)n;
	}
	gm_rpc_close(ep);
	free(buf);

	for (int i = 0; i < GM_NMGR; i++)
		if (errs[i][0])
			fprintf(stderr, "%s: warning: %s\n", prog, errs[i]);
	if (json) {
		char where[40];

		printf("{\"nodes\": [");
		for (size_t i = 0; i < nrows; i++)
			nodes_json_row(&rows[i], i == 0);
		printf("%s],\n \"managers\": [", nrows ? "\n  " : "");
		for (int i = 0; i < GM_NMGR; i++) {
			printf("%s\n    {\"name\": \"%s\", \"address\": \"%s\", \"ok\": %s, \"error\": ",
			       i ? "," : "", gm_mgr_names[i], addr_str(&a, i, where, sizeof(where)),
			       errs[i][0] ? "false" : "true");
			if (errs[i][0])
				json_str(errs[i]);
			else
				printf("null");
			printf("}");
		}
		printf("\n  ]}\n");
	} else {
		int sw = 7;	/* STATE width; wider if a row says "alive,unhealthy" */

		for (size_t i = 0; i < nrows; i++)
			if (gm_node_rec_unhealthy(&rows[i]) && rows[i].n.state != LEGO_NODE_DEAD)
				sw = 17;
		printf("%-6s %-15s %-11s %-21s %-*s %-20s %s\n", "ID", "NAME", "PERSONALITY",
		       "ADDRESS", sw, "STATE", "SINCE", "LOAD");
		for (size_t i = 0; i < nrows; i++) {
			const struct gm_node_rec *w = &rows[i];
			char ip[INET_ADDRSTRLEN], addr[32], since[32], load[96], state[32];

			ip_str(w->n.ipv4, ip);
			if (w->has_ext && w->x.rpc_port != LEGO_RPC_PORT)
				snprintf(addr, sizeof(addr), "%s:%u", ip, w->x.rpc_port);
			else
				snprintf(addr, sizeof(addr), "%s", ip);
			time_str(w->n.since_ms, since, sizeof(since));
			load_str(w, load, sizeof(load));
			/* Unhealthy: up, but it cannot serve (e.g. a corrupt disk);
			 * never chosen by the managers. */
			snprintf(state, sizeof(state), "%s%s", state_str(w->n.state),
				 gm_node_rec_unhealthy(w) && w->n.state != LEGO_NODE_DEAD
					 ? ",unhealthy" : "");
			printf("%-6u %-15s %-11s %-21s %-*s %-20s %s\n", w->n.node_id, w->n.name,
			       pers_str(w->n.personality), addr, sw, state, since, load);
		}
	}
	free(rows);
	return rc;
}

/* ------------------------------------------------------------------ */
/* vnode                                                               */
/* ------------------------------------------------------------------ */

/* The server checks names too; checking here gives a usage error. */
static bool vnode_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n >= LEGO_NAME_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

static void vnode_print(const struct lego_vnode *v, bool json, bool first)
{
	char ip[INET_ADDRSTRLEN], when[32], name[LEGO_NAME_LEN], mount[sizeof(v->mount)];

	wire_str(name, v->name, sizeof(name));
	wire_str(mount, v->mount, sizeof(mount));
	ip_str(v->vip, ip);
	if (json) {
		printf("%s{\"id\": %u, \"name\": ", first ? "" : ", ", v->vnode_id);
		json_str(name);
		printf(", \"vip\": \"%s\", \"mount\": ", ip);
		json_str(mount);
		printf(", \"storage_node\": %u, \"cache_node\": %u, \"created_ms\": %" PRIu64 "}",
		       v->storage_node, v->cache_node, v->created_ms);
		return;
	}
	time_str(v->created_ms, when, sizeof(when));
	printf("%-6u %-15s %-15s %-24s %-8u %s\n", v->vnode_id, name, ip, mount, v->storage_node,
	       when);
}

int cmd_vnode(int argc, char **argv)
{
	struct opt opts[] = { MGR_OPTS };
	const char *pos[2];
	size_t npos, got;
	struct gm_addrs a;
	int timeout, r;
	bool json;
	char msg[LEGO_GM_ERRMSG_MAX + 64];
	struct gm_rpc_ep *ep;
	const char *sub;
	char req[LEGO_NAME_LEN];

	r = parse_args("vnode", argc, argv, opts, MGR_NOPTS, pos, 2, &npos);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (mgr_opts("vnode", opts, &a, &timeout, &json) < 0)
		return EXIT_USAGE;
	if (npos < 1)
		return usage_error("vnode", "%s", "missing create, list or rm");
	sub = pos[0];
	if (!strcmp(sub, "create") || !strcmp(sub, "rm") || !strcmp(sub, "remove")) {
		if (npos != 2)
			return usage_error("vnode", "vnode %s needs a NAME", sub);
		if (!vnode_name_ok(pos[1]))
			return usage_error("vnode", "invalid vNode name '%s': want 1-15 characters "
				"of [a-z0-9_-]", pos[1]);
		memset(req, 0, sizeof(req));
		memcpy(req, pos[1], strlen(pos[1]));
	} else if (!strcmp(sub, "list") || !strcmp(sub, "ls")) {
		if (npos != 1)
			return usage_error("vnode", "unexpected argument '%s'", pos[1]);
	} else {
		return usage_error("vnode", "unknown vnode command '%s' (create, list, rm)", sub);
	}
	if (!(ep = open_client()))
		return EXIT_FAIL;

	if (!strcmp(sub, "create")) {
		union {
			struct lego_vnode v;
			char msg[LEGO_GM_ERRMSG_MAX];
		} rep;

		r = mgr_call(ep, &a, GM_GPM, LEGO_OP_GPM_VNODE_CREATE, req, sizeof(req), &rep,
			     sizeof(rep), &got, timeout, msg, sizeof(msg));
		gm_rpc_close(ep);
		if (r < 0) {
			fprintf(stderr, "%s: vnode create %s: %s\n", prog, pos[1], msg);
			return EXIT_FAIL;
		}
		if (got != sizeof(rep.v)) {
			fprintf(stderr, "%s: vnode create: GPM sent a reply of %zu bytes\n", prog, got);
			return EXIT_FAIL;
		}
		if (json) {
			vnode_print(&rep.v, true, true);
			printf("\n");
		} else {
			char ip[INET_ADDRSTRLEN], mount[sizeof(rep.v.mount)];

			wire_str(mount, rep.v.mount, sizeof(mount));
			printf("vNode %s created: id %u, virtual IP %s, mount %s on storage node %u\n",
			       pos[1], rep.v.vnode_id, ip_str(rep.v.vip, ip), mount,
			       rep.v.storage_node);
		}
		return 0;
	}
	if (strcmp(sub, "list") && strcmp(sub, "ls")) {
		char rep[LEGO_GM_ERRMSG_MAX];

		r = mgr_call(ep, &a, GM_GPM, LEGO_OP_GPM_VNODE_REMOVE, req, sizeof(req), rep,
			     sizeof(rep), &got, timeout, msg, sizeof(msg));
		gm_rpc_close(ep);
		if (r < 0) {
			fprintf(stderr, "%s: vnode rm %s: %s\n", prog, pos[1], msg);
			return EXIT_FAIL;
		}
		if (json)
			printf("{\"removed\": \"%s\"}\n", pos[1]);
		else
			printf("vNode %s removed\n", pos[1]);
		return 0;
	}

	uint8_t *buf = malloc(LEGO_RPC_MAX_MSG);
	struct lego_gpm_vnode_list_reply hdr;

	if (!buf) {
		gm_rpc_close(ep);
		return EXIT_FAIL;
	}
	r = mgr_call(ep, &a, GM_GPM, LEGO_OP_GPM_VNODE_LIST, NULL, 0, buf, LEGO_RPC_MAX_MSG, &got,
		     timeout, msg, sizeof(msg));
	gm_rpc_close(ep);
	if (r < 0) {
		fprintf(stderr, "%s: vnode list: %s\n", prog, msg);
		free(buf);
		return EXIT_FAIL;
	}
	if (got >= sizeof(hdr))
		memcpy(&hdr, buf, sizeof(hdr));
	if (got < sizeof(hdr) || hdr.count > (got - sizeof(hdr)) / sizeof(struct lego_vnode) ||
	    got != sizeof(hdr) + hdr.count * sizeof(struct lego_vnode)) {
		fprintf(stderr, "%s: vnode list: GPM sent a malformed list (%zu bytes)\n", prog, got);
		free(buf);
		return EXIT_FAIL;
	}
	if (json)
		printf("{\"vnodes\": [");
	else
		printf("%-6s %-15s %-15s %-24s %-8s %s\n", "ID", "NAME", "VIRTUAL-IP", "MOUNT",
		       "STORAGE", "CREATED");
	for (uint32_t i = 0; i < hdr.count; i++) {
		struct lego_vnode v;

		memcpy(&v, buf + sizeof(hdr) + i * sizeof(v), sizeof(v));
		vnode_print(&v, json, i == 0);
	}
	if (json)
		printf("]}\n");
	free(buf);
	return 0;
}

/* ------------------------------------------------------------------ */
/* choose                                                              */
/* ------------------------------------------------------------------ */

int cmd_choose(int argc, char **argv)
{
	struct opt opts[] = { MGR_OPTS, { "bytes", true, NULL } };
	const char *pos[1];
	size_t npos, got;
	struct gm_addrs a;
	int timeout, r, mi;
	bool json;
	unsigned long long bytes;
	char msg[LEGO_GM_ERRMSG_MAX + 64], ip[INET_ADDRSTRLEN];
	struct lego_gmm_vregion_req vq;
	struct gm_rpc_ep *ep;
	uint16_t op;
	union {
		struct lego_gm_choice c;
		char msg[LEGO_GM_ERRMSG_MAX];
	} rep;

	r = parse_args("choose", argc, argv, opts, MGR_NOPTS + 1, pos, 1, &npos);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (mgr_opts("choose", opts, &a, &timeout, &json) < 0 ||
	    opt_num("choose", &opts[MGR_NOPTS], 1, UINT64_MAX, 16ull << 20, &bytes))
		return EXIT_USAGE;
	if (npos != 1)
		return usage_error("choose", "%s", "missing home, vregion or storage");
	if (!strcmp(pos[0], "home")) {
		mi = GM_GMM;
		op = LEGO_OP_GMM_HOME;
	} else if (!strcmp(pos[0], "vregion")) {
		mi = GM_GMM;
		op = LEGO_OP_GMM_VREGION;
	} else if (!strcmp(pos[0], "storage")) {
		mi = GM_GSM;
		op = LEGO_OP_GSM_PLACE;
	} else {
		return usage_error("choose", "unknown choice '%s' (home, vregion, storage)", pos[0]);
	}
	vq.bytes = bytes;
	if (!(ep = open_client()))
		return EXIT_FAIL;
	r = mgr_call(ep, &a, mi, op, op == LEGO_OP_GMM_VREGION ? &vq : NULL,
		     op == LEGO_OP_GMM_VREGION ? sizeof(vq) : 0, &rep, sizeof(rep), &got, timeout,
		     msg, sizeof(msg));
	gm_rpc_close(ep);
	if (r < 0) {
		/* VREGION errors carry no message (gm.h): name the usual ones. */
		if (op == LEGO_OP_GMM_VREGION && r == -EHOSTDOWN)
			snprintf(msg, sizeof(msg), "no memory component is alive");
		else if (op == LEGO_OP_GMM_VREGION && r == -ENOSPC)
			snprintf(msg, sizeof(msg), "no alive memory component has %llu bytes free",
				 bytes);
		fprintf(stderr, "%s: choose %s: %s\n", prog, pos[0], msg);
		return EXIT_FAIL;
	}
	if (got != sizeof(rep.c)) {
		fprintf(stderr, "%s: choose: reply of %zu bytes\n", prog, got);
		return EXIT_FAIL;
	}
	rep.c.name[LEGO_NAME_LEN - 1] = '\0';
	if (json) {
		printf("{\"choice\": \"%s\", \"id\": %u, \"name\": ", pos[0], rep.c.node_id);
		json_str(rep.c.name);
		printf(", \"address\": \"%s\"}\n", ip_str(rep.c.ipv4, ip));
	} else {
		printf("%s: %s (id %u, %s)\n", pos[0], rep.c.name, rep.c.node_id,
		       ip_str(rep.c.ipv4, ip));
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* ping (no node): the managers                                        */
/* ------------------------------------------------------------------ */

int gm_ping_managers(const struct gm_addrs *a, unsigned timeout_ms, bool json)
{
	struct gm_rpc_ep *ep = open_client();
	int rc = 0;

	if (!ep)
		return EXIT_FAIL;
	for (int i = 0; i < GM_NMGR; i++) {
		uint8_t req[32], rep[32];
		char where[40];
		size_t got = 0;
		uint64_t t0 = now_ns();
		int r;

		for (size_t k = 0; k < sizeof(req); k++)
			req[k] = (uint8_t)(k * 7 + i);
		r = gm_rpc_call(ep, a->ip[i], a->port[i], LEGO_OP_PING, req, sizeof(req), rep,
				sizeof(rep), &got, (int)timeout_ms);
		addr_str(a, i, where, sizeof(where));
		if (r == 0 && got == sizeof(req) && !memcmp(req, rep, sizeof(req))) {
			printf("%s (%s): ok, %.3f ms\n", mgr_titles[i], where, (now_ns() - t0) / 1e6);
		} else {
			printf("%s (%s): %s\n", mgr_titles[i], where,
			       r < 0 ? errname(r) : "wrong echo");
			rc = EXIT_FAIL;
		}
	}
	(void)json;
	gm_rpc_close(ep);
	return rc;
}
