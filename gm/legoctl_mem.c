/*
 * legoctl mem: a Linux-side test client of the memory monitor
 * (include/uapi/lego/memory.h, docs/memory.md), so that it can be tested
 * before the processor monitor exists: address spaces made and changed at
 * their home mComponent (CREATE, EXEC, MMAP, MUNMAP, MPROTECT, MREMAP, BRK,
 * FORK, EXIT, VREGIONS, MAPS), pages read and written at the vRegion
 * owners (PAGE_FETCH, PAGE_FLUSH), counters of every memory node (STATS).
 *
 * Address spaces. A client names its address spaces itself: mm ids of
 * LEGO_MM_ID_CLIENT_BASE | (pid & 0xffff) << 32 | a random 32-bit number,
 * unique per invocation. The home is not part of the id: every command
 * but create/exec (which ask GMM, LEGO_OP_GMM_HOME, without --home) and
 * stats needs --home NAME|ID|IP[:PORT].
 *
 * Page routing, as a processor would: the client keeps the vRegion array
 * of the home's last layout reply (or asks VREGIONS), sends page requests
 * to the owner of addr >> vregion_shift, and on -ENXIO (a stale array)
 * fetches the array again and retries once. A FETCH reply of 0 bytes is a
 * page of zeros. Writes are page-granular read-modify-write: FETCH (for
 * write) of each partly written page, then FLUSH.
 *
 * `script` runs many operations in one process (one per line, the
 * subcommands' syntax, one result line each); `selftest` writes and reads
 * random pages of areas in several vRegions and checks them against a
 * model kept here.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/random.h>

#include <uapi/lego/gm.h>
#include <uapi/lego/memory.h>
#include "gm/nodes.h"
#include "legoctl.h"

#define MEM_DEFAULT_TIMEOUT_MS 5000
#define MEM_BUF_MAX LEGO_RPC_MAX_MSG
#define PG LEGO_PAGE_SIZE
#define MEM_MAX_ENV 256
#define MEM_MAX_POS 256

/* Linux's values (memory.h: prot, flags and mremap flags are Linux's). */
#define L_PROT_READ 0x1
#define L_PROT_WRITE 0x2
#define L_PROT_EXEC 0x4
#define L_MAP_SHARED 0x01
#define L_MAP_PRIVATE 0x02
#define L_MAP_FIXED 0x10
#define L_MAP_ANONYMOUS 0x20
#define L_MAP_GROWSDOWN 0x0100
#define L_MAP_DENYWRITE 0x0800
#define L_MAP_EXECUTABLE 0x1000
#define L_MAP_LOCKED 0x2000
#define L_MAP_NORESERVE 0x4000
#define L_MAP_POPULATE 0x8000
#define L_MAP_NONBLOCK 0x10000
#define L_MAP_STACK 0x20000
#define L_MAP_HUGETLB 0x40000
#define L_MAP_FIXED_NOREPLACE 0x100000
#define L_MREMAP_MAYMOVE 1
#define L_MREMAP_FIXED 2
#define L_MREMAP_DONTUNMAP 4

enum {
	MO_GM, MO_GPM, MO_GMM, MO_GSM, MO_TIMEOUT, MO_JSON, MO_HOME, MO_VNODE, MO_MM, MO_ADDR,
	MO_LEN, MO_NEWLEN, MO_NEWADDR, MO_PROT, MO_FLAGS, MO_FILE, MO_PGOFF, MO_DUMP, MO_RAW,
	MO_HEX, MO_TEXT, MO_FILL, MO_CHILD, MO_NODE, MO_SEED, MO_OPS, MO_AREAS, MO_PAGES,
	MO_KEEP, MO_N
};
#define OPT(o) (1u << (o))
/* Allowed with every subcommand. */
#define MO_COMMON (OPT(MO_GM) | OPT(MO_GPM) | OPT(MO_GMM) | OPT(MO_GSM) | OPT(MO_TIMEOUT) | \
		   OPT(MO_HOME) | OPT(MO_VNODE) | OPT(MO_MM) | OPT(MO_JSON))

#define MEM_OPTS_INIT { \
	GM_ADDR_OPTS, { "timeout", true, NULL }, { "json", false, NULL }, \
	{ "home", true, NULL }, { "vnode", true, NULL }, { "mm", true, NULL }, \
	{ "addr", true, NULL }, { "len", true, NULL }, { "new-len", true, NULL }, \
	{ "new-addr", true, NULL }, { "prot", true, NULL }, { "flags", true, NULL }, \
	{ "file", true, NULL }, { "pgoff", true, NULL }, { "dump-stack", false, NULL }, \
	{ "raw", false, NULL }, { "hex", false, NULL }, { "text", true, NULL }, \
	{ "fill", true, NULL }, { "child", true, NULL }, { "node", true, NULL }, \
	{ "seed", true, NULL }, { "ops", true, NULL }, { "areas", true, NULL }, \
	{ "pages", true, NULL }, { "keep", false, NULL } }

struct mem_ctx {
	const char *cmd;		/* the subcommand, for messages */
	struct opt *o;
	struct gm_addrs a;
	int timeout;
	bool json;
	bool script;			/* one result line per op, on stdout */
	struct gm_rpc_ep *ep;
	uint64_t value;			/* the op's result, for $N in scripts */
	bool timed_out;			/* a node stopped answering */

	/* the home */
	char home_spec[64];		/* what it was resolved from ("" = GMM) */
	bool have_home;
	uint32_t home_ip, home_id;
	uint16_t home_port;
	char home_name[48];

	/* the vNode and its storage */
	char vnode_spec[LEGO_NAME_LEN + 8];
	bool have_vnode;
	uint32_t vnode, st_ip;
	uint16_t st_port;

	/* the vRegion array of vr_mm, from the last layout reply */
	uint64_t vr_mm;
	bool have_vr;
	uint32_t shift, nvr, gen;
	struct lego_mem_vregion *vr;

	/* managers' component lists, fetched once */
	struct gm_node_rec *recs[GM_NMGR];
	int nrecs[GM_NMGR];		/* < 0: not fetched */

	/* exec's --env */
	const char *env[MEM_MAX_ENV];
	int nenv;

	uint8_t *req, *rep;		/* MEM_BUF_MAX each */
};

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

static char mem_sub_usage[200];

static int mem_usage(const char *fmt, const char *arg)
{
	if (!mem_sub_usage[0])
		return usage_error("mem", fmt, arg);
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nusage: %s %s\n", prog, mem_sub_usage);
	return EXIT_USAGE;
}

static const char *mem_strerror(int err)
{
	switch (-err) {
	case ETIMEDOUT: return "timed out (node not answering)";
	case ENOSYS: return "Function not implemented (not served there: not a memory component?)";
	case EPROTO: return "malformed reply";
	}
	return strerror(-err);
}

/* "legoctl: mem CMD: what" on stderr, or "error: what" as a script's
 * result line. Returns EXIT_FAIL. */
static int mem_fail(struct mem_ctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int mem_fail(struct mem_ctx *c, const char *fmt, ...)
{
	va_list ap;
	FILE *f = c->script ? stdout : stderr;

	if (c->script)
		fprintf(f, "error: ");
	else
		fprintf(f, "%s: mem %s: ", prog, c->cmd);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fprintf(f, "\n");
	return EXIT_FAIL;
}

static int mem_err(struct mem_ctx *c, int err)
{
	c->timed_out = c->timed_out || err == -ETIMEDOUT;
	return mem_fail(c, "%s", mem_strerror(err));
}

/* ------------------------------------------------------------------ */
/* Numbers, prot, flags                                                */
/* ------------------------------------------------------------------ */

/* Decimal or 0x hex, with an optional k/m/g (binary) suffix. */
static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	if (*end) {
		switch (*end | 0x20) {
		case 'k': shift = 10; break;
		case 'm': shift = 20; break;
		case 'g': shift = 30; break;
		case 't': shift = 40; break;
		default: return -1;
		}
		if (end[1] && !((end[1] | 0x20) == 'i' && (end[2] | 0x20) == 'b' && !end[3]) &&
		    !((end[1] | 0x20) == 'b' && !end[2]))
			return -1;
		if (shift && v > (UINT64_MAX >> shift))
			return -1;
	}
	*out = (uint64_t)v << shift;
	return 0;
}

/* Option o as a number; dflt if absent. 0, or -1 after a usage message. */
static int mem_num(struct mem_ctx *c, int o, uint64_t dflt, uint64_t *out)
{
	char what[32];

	if (!c->o[o].val) {
		*out = dflt;
		return 0;
	}
	if (parse_u64(c->o[o].val, out) == 0)
		return 0;
	snprintf(what, sizeof(what), "--%s", c->o[o].name);
	fprintf(stderr, "%s: mem %s: %s wants a number (decimal, 0x hex, k/m/g suffix), not '%s'\n",
		prog, c->cmd, what, c->o[o].val);
	return -1;
}

static int parse_prot(const char *s, uint32_t *out)
{
	uint64_t v;

	*out = 0;
	if (!strcmp(s, "none") || !strcmp(s, "-") || !strcmp(s, "---"))
		return 0;
	if (s[0] >= '0' && s[0] <= '9')
		return parse_u64(s, &v) || v > UINT32_MAX ? -1 : (*out = (uint32_t)v, 0);
	for (; *s; s++) {
		switch (*s) {
		case 'r': *out |= L_PROT_READ; break;
		case 'w': *out |= L_PROT_WRITE; break;
		case 'x': *out |= L_PROT_EXEC; break;
		case '-': break;
		default: return -1;
		}
	}
	return 0;
}

struct flag_name {
	const char *name;
	uint32_t v;
};

static const struct flag_name map_flags[] = {
	{ "shared", L_MAP_SHARED }, { "private", L_MAP_PRIVATE }, { "fixed", L_MAP_FIXED },
	{ "anon", L_MAP_ANONYMOUS }, { "anonymous", L_MAP_ANONYMOUS },
	{ "growsdown", L_MAP_GROWSDOWN }, { "denywrite", L_MAP_DENYWRITE },
	{ "executable", L_MAP_EXECUTABLE }, { "locked", L_MAP_LOCKED },
	{ "noreserve", L_MAP_NORESERVE }, { "populate", L_MAP_POPULATE },
	{ "nonblock", L_MAP_NONBLOCK }, { "stack", L_MAP_STACK }, { "hugetlb", L_MAP_HUGETLB },
	{ "noreplace", L_MAP_FIXED_NOREPLACE }, { "fixed_noreplace", L_MAP_FIXED_NOREPLACE },
	{ "fixed-noreplace", L_MAP_FIXED_NOREPLACE }, { NULL, 0 }
};

static const struct flag_name remap_flags[] = {
	{ "maymove", L_MREMAP_MAYMOVE }, { "fixed", L_MREMAP_FIXED },
	{ "dontunmap", L_MREMAP_DONTUNMAP }, { NULL, 0 }
};

/* "a,b,c" of names, or a number. */
static int parse_flags(const char *s, const struct flag_name *t, uint32_t *out)
{
	uint64_t v;

	*out = 0;
	if (s[0] >= '0' && s[0] <= '9')
		return parse_u64(s, &v) || v > UINT32_MAX ? -1 : (*out = (uint32_t)v, 0);
	while (*s) {
		size_t n = strcspn(s, ",|");
		const struct flag_name *f;

		for (f = t; f->name; f++)
			if (strlen(f->name) == n && !strncmp(f->name, s, n))
				break;
		if (!f->name)
			return -1;
		*out |= f->v;
		s += n;
		if (*s)
			s++;
	}
	return 0;
}

static void prot_str(uint32_t prot, uint32_t vflags, char out[5])
{
	out[0] = prot & L_PROT_READ ? 'r' : '-';
	out[1] = prot & L_PROT_WRITE ? 'w' : '-';
	out[2] = prot & L_PROT_EXEC ? 'x' : '-';
	out[3] = vflags & LEGO_MEM_VMA_SHARED ? 's' : 'p';
	out[4] = '\0';
}

/* ------------------------------------------------------------------ */
/* Finding nodes: the home, memory nodes, the vNode's storage          */
/* ------------------------------------------------------------------ */

/* Manager i's component list, fetched once. 0 or -errno (message in msg). */
static int mem_recs(struct mem_ctx *c, int i, char *msg, size_t msglen)
{
	size_t max = LEGO_RPC_MAX_MSG / sizeof(struct lego_gm_node), got = 0;
	int r;

	if (c->nrecs[i] >= 0)
		return 0;
	if (!c->recs[i] && !(c->recs[i] = calloc(max, sizeof(**c->recs)))) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	r = mgr_call(c->ep, &c->a, i, LEGO_OP_GM_NODES, NULL, 0, c->rep, MEM_BUF_MAX, &got,
		     c->timeout, msg, msglen);
	if (r < 0)
		return r;
	r = gm_nodes_reply_parse(c->rep, got, c->recs[i], max);
	if (r < 0) {
		snprintf(msg, msglen, "%s sent a malformed component list (%zu bytes)",
			 gm_mgr_names[i], got);
		return -EPROTO;
	}
	c->nrecs[i] = r;
	return 0;
}

struct node_addr {
	uint32_t ip, id;
	uint16_t port;
	char name[48];
};

static void rec_addr(const struct gm_node_rec *r, struct node_addr *n)
{
	n->ip = r->n.ipv4;
	n->port = gm_node_rec_port(r);
	n->id = r->n.node_id;
	snprintf(n->name, sizeof(n->name), "%s", r->n.name);
}

/*
 * A memory component named NAME, ID or IP[:PORT]: an id or a name is
 * looked up in GMM's list (the port it registered), a name not alive there
 * in $LEGO_NODES. 0, or an exit status after a message.
 */
static int mem_resolve(struct mem_ctx *c, const char *spec, struct node_addr *n)
{
	char err[256], msg[LEGO_GM_ERRMSG_MAX + 64] = "";
	bool digits = spec[0] != '\0';
	int best = -1;

	memset(n, 0, sizeof(*n));
	for (const char *p = spec; *p; p++)
		digits = digits && *p >= '0' && *p <= '9';
	if (digits) {
		unsigned long id = strtoul(spec, NULL, 10);

		if (strlen(spec) > 10 || id > UINT32_MAX)
			return mem_usage("invalid node id '%s'", spec);
		if (mem_recs(c, GM_GMM, msg, sizeof(msg)) < 0) {
			mem_fail(c, "cannot look up node %s: %s", spec, msg);
			return EXIT_FAIL;
		}
		for (int i = 0; i < c->nrecs[GM_GMM]; i++)
			if (c->recs[GM_GMM][i].n.node_id == id)
				best = i;
		if (best < 0) {
			mem_fail(c, "GMM knows no memory component with id %s (see 'legoctl nodes')",
				 spec);
			return EXIT_FAIL;
		}
		rec_addr(&c->recs[GM_GMM][best], n);
		return 0;
	}
	if (gm_spec_is_ipv4(spec)) {
		if (gm_node_resolve(spec, &n->ip, &n->port, NULL, err, sizeof(err)) < 0)
			return mem_usage("%s", err);
		snprintf(n->name, sizeof(n->name), "%s", spec);
		return 0;
	}
	if (!strchr(spec, ':') && mem_recs(c, GM_GMM, msg, sizeof(msg)) == 0) {
		for (int i = 0; i < c->nrecs[GM_GMM]; i++) {
			const struct gm_node_rec *r = &c->recs[GM_GMM][i];

			if (r->n.personality != LEGO_PERS_MEMORY || r->n.state != LEGO_NODE_ALIVE ||
			    strcmp(r->n.name, spec))
				continue;
			if (best < 0 || r->n.node_id > c->recs[GM_GMM][best].n.node_id)
				best = i;
		}
		if (best >= 0) {
			rec_addr(&c->recs[GM_GMM][best], n);
			return 0;
		}
		/* Known, not alive: say so rather than "unknown". */
		for (int i = 0; i < c->nrecs[GM_GMM]; i++) {
			const struct gm_node_rec *r = &c->recs[GM_GMM][i];

			if (r->n.personality == LEGO_PERS_MEMORY && !strcmp(r->n.name, spec) &&
			    (best < 0 || r->n.node_id > c->recs[GM_GMM][best].n.node_id))
				best = i;
		}
		if (best >= 0) {
			mem_fail(c, "memory component %s (id %u) is %s", spec,
				 c->recs[GM_GMM][best].n.node_id,
				 c->recs[GM_GMM][best].n.state == LEGO_NODE_DEAD ? "dead"
				 : "not heard from");
			return EXIT_FAIL;
		}
	}
	if (gm_node_resolve(spec, &n->ip, &n->port, NULL, err, sizeof(err)) < 0) {
		mem_fail(c, "cannot find memory component '%s': %s%s%s", spec, err,
			 msg[0] ? "; GMM: " : "", msg);
		return EXIT_FAIL;
	}
	snprintf(n->name, sizeof(n->name), "%s", spec);
	return 0;
}

/* The home: --home, else (ask_gmm) GMM's choice. 0 or an exit status. */
static int mem_home(struct mem_ctx *c, bool ask_gmm)
{
	const char *spec = c->o[MO_HOME].val;
	struct node_addr n;
	int r;

	if (c->have_home && !strcmp(c->home_spec, spec ? spec : ""))
		return 0;
	if (spec) {
		if ((r = mem_resolve(c, spec, &n)))
			return r;
	} else if (!ask_gmm) {
		return mem_usage("%s", "which home? give --home NAME|ID|IP[:PORT]");
	} else {
		struct lego_gm_choice ch;
		char msg[LEGO_GM_ERRMSG_MAX + 64];
		size_t got;

		r = mgr_call(c->ep, &c->a, GM_GMM, LEGO_OP_GMM_HOME, NULL, 0, c->rep, MEM_BUF_MAX,
			     &got, c->timeout, msg, sizeof(msg));
		if (r < 0)
			return mem_fail(c, "GMM chose no home: %s", msg);
		if (got != sizeof(ch))
			return mem_fail(c, "GMM sent a home choice of %zu bytes", got);
		memcpy(&ch, c->rep, sizeof(ch));
		ch.name[LEGO_NAME_LEN - 1] = '\0';
		memset(&n, 0, sizeof(n));
		n.ip = ch.ipv4;
		n.id = ch.node_id;
		n.port = LEGO_RPC_PORT;
		snprintf(n.name, sizeof(n.name), "%s", ch.name);
		/* Its port, as it registered. */
		if (mem_recs(c, GM_GMM, msg, sizeof(msg)) == 0)
			for (int i = 0; i < c->nrecs[GM_GMM]; i++)
				if (c->recs[GM_GMM][i].n.node_id == ch.node_id)
					n.port = gm_node_rec_port(&c->recs[GM_GMM][i]);
	}
	c->home_ip = n.ip;
	c->home_port = n.port;
	c->home_id = n.id;
	snprintf(c->home_name, sizeof(c->home_name), "%s", n.name);
	snprintf(c->home_spec, sizeof(c->home_spec), "%s", spec ? spec : "");
	c->have_home = true;
	return 0;
}

/*
 * The vNode (--vnode NAME: its id from GPM, its sComponent from GSM), or
 * without --vnode vNode 0 (the base root) on the only alive healthy
 * storage component if there is exactly one (else no storage).
 */
static int mem_vnode(struct mem_ctx *c)
{
	const char *vn = c->o[MO_VNODE].val;
	char msg[LEGO_GM_ERRMSG_MAX + 64], err[256];
	uint32_t storage_node = 0;
	size_t got;
	int r, found = -1, n = 0;

	if (c->have_vnode && !strcmp(c->vnode_spec, vn ? vn : ""))
		return 0;
	c->vnode = 0;
	c->st_ip = 0;
	c->st_port = 0;
	if (vn) {
		struct lego_gpm_vnode_list_reply hdr;
		bool ok = false;

		r = mgr_call(c->ep, &c->a, GM_GPM, LEGO_OP_GPM_VNODE_LIST, NULL, 0, c->rep,
			     MEM_BUF_MAX, &got, c->timeout, msg, sizeof(msg));
		if (r < 0)
			return mem_fail(c, "cannot look up vNode %s: %s", vn, msg);
		if (got >= sizeof(hdr))
			memcpy(&hdr, c->rep, sizeof(hdr));
		if (got < sizeof(hdr) || hdr.count > (got - sizeof(hdr)) / sizeof(struct lego_vnode))
			return mem_fail(c, "GPM sent a malformed vNode list (%zu bytes)", got);
		for (uint32_t i = 0; i < hdr.count; i++) {
			struct lego_vnode v;

			memcpy(&v, c->rep + sizeof(hdr) + i * sizeof(v), sizeof(v));
			v.name[LEGO_NAME_LEN - 1] = '\0';
			if (!strcmp(v.name, vn)) {
				c->vnode = v.vnode_id;
				storage_node = v.storage_node;
				ok = true;
			}
		}
		if (!ok)
			return mem_fail(c, "no vNode named '%s' (see 'legoctl vnode list')", vn);
		if (mem_recs(c, GM_GSM, msg, sizeof(msg)) < 0)
			return mem_fail(c, "cannot find vNode %s's storage component: %s", vn, msg);
		r = gm_storage_locate(c->recs[GM_GSM], (size_t)c->nrecs[GM_GSM], storage_node, vn,
				      err, sizeof(err));
		if (r < 0)
			return mem_fail(c, "%s", err);
		c->st_ip = c->recs[GM_GSM][r].n.ipv4;
		c->st_port = gm_node_rec_port(&c->recs[GM_GSM][r]);
	} else if (mem_recs(c, GM_GSM, msg, sizeof(msg)) == 0) {
		for (int i = 0; i < c->nrecs[GM_GSM]; i++) {
			const struct gm_node_rec *rr = &c->recs[GM_GSM][i];

			if (rr->n.personality == LEGO_PERS_STORAGE && rr->n.state == LEGO_NODE_ALIVE &&
			    !gm_node_rec_unhealthy(rr)) {
				found = i;
				n++;
			}
		}
		if (n == 1) {
			c->st_ip = c->recs[GM_GSM][found].n.ipv4;
			c->st_port = gm_node_rec_port(&c->recs[GM_GSM][found]);
		}
	}
	snprintf(c->vnode_spec, sizeof(c->vnode_spec), "%s", vn ? vn : "");
	c->have_vnode = true;
	return 0;
}

static void mem_create_req(struct mem_ctx *c, uint64_t mm, struct lego_mem_create_req *q)
{
	memset(q, 0, sizeof(*q));
	q->mm = mm;
	q->vnode = c->vnode;
	q->storage_ipv4 = c->st_ip;
	q->storage_port = c->st_port == LEGO_RPC_PORT ? 0 : c->st_port;
}

static uint64_t mem_new_id(void)
{
	uint32_t r;

	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (uint32_t)(now_ns() ^ ((uint64_t)getpid() << 12));
	return LEGO_MM_ID_CLIENT_BASE | ((uint64_t)(getpid() & 0xffff) << 32) | r;
}

/* --mm: 0, or an exit status. */
static int mem_mm(struct mem_ctx *c, uint64_t *mm)
{
	const char *s = c->o[MO_MM].val;

	if (!s)
		return mem_usage("%s", "which address space? give --mm ID");
	if (parse_u64(s, mm) < 0)
		return mem_usage("invalid mm id '%s' (want a number, e.g. 0xffff...)", s);
	return 0;
}

/* create and exec: --mm if given, else a fresh id. */
static int mem_mm_or_new(struct mem_ctx *c, uint64_t *mm)
{
	if (c->o[MO_MM].val)
		return mem_mm(c, mm);
	*mm = mem_new_id();
	return 0;
}

/* ------------------------------------------------------------------ */
/* Calls                                                               */
/* ------------------------------------------------------------------ */

static int home_call(struct mem_ctx *c, uint16_t op, const void *req, size_t len, size_t *got)
{
	*got = 0;
	return gm_rpc_call(c->ep, c->home_ip, c->home_port, op, req, len, c->rep, MEM_BUF_MAX, got,
			   c->timeout);
}

/* Takes the vRegion array of a layout reply at p (n bytes) for mm. */
static int take_layout(struct mem_ctx *c, uint64_t mm, const uint8_t *p, size_t n,
		       uint64_t *value)
{
	struct lego_mem_layout_reply h;
	struct lego_mem_vregion *v;

	if (n < sizeof(h))
		return -EPROTO;
	memcpy(&h, p, sizeof(h));
	if (h.count > LEGO_MEM_VREGIONS_MAX || n != sizeof(h) + (size_t)h.count * sizeof(*v) ||
	    h.vregion_shift < 12 || h.vregion_shift > 46)
		return -EPROTO;
	v = malloc(h.count ? h.count * sizeof(*v) : 1);
	if (!v)
		return -ENOMEM;
	memcpy(v, p + sizeof(h), h.count * sizeof(*v));
	free(c->vr);
	c->vr = v;
	c->nvr = h.count;
	c->shift = h.vregion_shift;
	c->gen = h.generation;
	c->vr_mm = mm;
	c->have_vr = true;
	if (value)
		*value = h.value;
	return 0;
}

static int map_call(struct mem_ctx *c, uint16_t op, const struct lego_mem_map_req *q,
		    const char *path, size_t *got)
{
	size_t pl = path ? strlen(path) : 0;

	memcpy(c->req, q, sizeof(*q));
	if (pl)
		memcpy(c->req + sizeof(*q), path, pl);
	return home_call(c, op, c->req, sizeof(*q) + pl, got);
}

static int vregions_refresh(struct mem_ctx *c, uint64_t mm)
{
	struct lego_mem_map_req q = { .mm = mm };
	size_t got;
	int r = map_call(c, LEGO_OP_MEM_VREGIONS, &q, NULL, &got);

	if (r < 0)
		return r;
	return take_layout(c, mm, c->rep, got, NULL);
}

static const struct lego_mem_vregion *vr_find(const struct mem_ctx *c, uint64_t addr)
{
	uint64_t idx = addr >> c->shift;

	for (uint32_t i = 0; i < c->nvr; i++)
		if (c->vr[i].index == idx)
			return &c->vr[i];
	return NULL;
}

/* A page request to the owner of addr; -ENXIO: refresh once and retry. */
static int page_call(struct mem_ctx *c, uint64_t mm, uint16_t op, uint64_t addr,
		     const void *req, size_t len, void *rep, size_t rmax, size_t *got)
{
	const struct lego_mem_vregion *v;
	int r;

	if (!c->have_vr || c->vr_mm != mm) {
		if ((r = vregions_refresh(c, mm)) < 0)
			return r;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		v = vr_find(c, addr);
		if (!v && attempt == 0) {
			if ((r = vregions_refresh(c, mm)) < 0)
				return r;
			continue;
		}
		if (!v)
			return -EFAULT;	/* no vRegion: no vma can cover addr */
		*got = 0;
		r = gm_rpc_call(c->ep, v->owner_ipv4, v->owner_port, op, req, len, rep, rmax, got,
				c->timeout);
		if (r != -ENXIO || attempt)
			return r;
		if ((r = vregions_refresh(c, mm)) < 0)
			return r;
	}
	return -ENXIO;
}

static uint64_t n_fetch, n_flush, n_zero;

static int page_fetch(struct mem_ctx *c, uint64_t mm, uint64_t addr, uint32_t access,
		      uint8_t page[PG])
{
	struct lego_mem_page_req q = { .mm = mm, .addr = addr, .access = access };
	size_t got;
	int r = page_call(c, mm, LEGO_OP_MEM_PAGE_FETCH, addr, &q, sizeof(q), page, PG, &got);

	if (r == -EMSGSIZE)
		return -EPROTO;
	if (r < 0)
		return r;
	n_fetch++;
	if (got == 0) {
		memset(page, 0, PG);
		n_zero++;
		return 0;
	}
	return got == PG ? 0 : -EPROTO;
}

static int page_flush(struct mem_ctx *c, uint64_t mm, uint64_t addr, const uint8_t page[PG])
{
	struct lego_mem_page_req q = { .mm = mm, .addr = addr };
	uint8_t buf[sizeof(q) + PG];
	size_t got;
	int r;

	memcpy(buf, &q, sizeof(q));
	memcpy(buf + sizeof(q), page, PG);
	r = page_call(c, mm, LEGO_OP_MEM_PAGE_FLUSH, addr, buf, sizeof(buf), NULL, 0, &got);
	if (r == 0)
		n_flush++;
	return r;
}

static int mem_read(struct mem_ctx *c, uint64_t mm, uint64_t addr, void *out, size_t len)
{
	uint8_t page[PG];

	while (len) {
		uint64_t base = addr & ~(uint64_t)(PG - 1), off = addr - base;
		size_t n = PG - off < len ? PG - off : len;
		int r = page_fetch(c, mm, base, LEGO_MEM_ACCESS_READ, page);

		if (r < 0)
			return r;
		memcpy(out, page + off, n);
		out = (uint8_t *)out + n;
		addr += n;
		len -= n;
	}
	return 0;
}

static int mem_write(struct mem_ctx *c, uint64_t mm, uint64_t addr, const void *in, size_t len)
{
	uint8_t page[PG];

	while (len) {
		uint64_t base = addr & ~(uint64_t)(PG - 1), off = addr - base;
		size_t n = PG - off < len ? PG - off : len;
		int r = 0;

		if (n < PG)
			r = page_fetch(c, mm, base, LEGO_MEM_ACCESS_WRITE, page);
		if (r < 0)
			return r;
		memcpy(page + off, in, n);
		if ((r = page_flush(c, mm, base, page)) < 0)
			return r;
		in = (const uint8_t *)in + n;
		addr += n;
		len -= n;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Printing                                                            */
/* ------------------------------------------------------------------ */

static void print_vregions(struct mem_ctx *c)
{
	char ip[INET_ADDRSTRLEN];

	if (c->json) {
		printf("{\"vregion_shift\": %u, \"generation\": %u, \"vregions\": [", c->shift, c->gen);
		for (uint32_t i = 0; i < c->nvr; i++)
			printf("%s{\"index\": %u, \"start\": %" PRIu64 ", \"owner\": %u, "
			       "\"address\": \"%s:%u\"}", i ? ", " : "", c->vr[i].index,
			       (uint64_t)c->vr[i].index << c->shift, c->vr[i].owner_node,
			       ip_str(c->vr[i].owner_ipv4, ip),
			       c->vr[i].owner_port ? c->vr[i].owner_port : LEGO_RPC_PORT);
		printf("]}%s", c->script ? "" : "\n");
		return;
	}
	if (c->script) {
		printf("shift=%u gen=%u", c->shift, c->gen);
		for (uint32_t i = 0; i < c->nvr; i++)
			printf(" %u:%u", c->vr[i].index, c->vr[i].owner_node);
		printf("\n");
		return;
	}
	printf("vregion_shift %u (%" PRIu64 " MiB), generation %u, %u active\n", c->shift,
	       ((uint64_t)1 << c->shift) >> 20, c->gen, c->nvr);
	for (uint32_t i = 0; i < c->nvr; i++) {
		uint64_t s = (uint64_t)c->vr[i].index << c->shift;

		printf("%-6u %012" PRIx64 "-%012" PRIx64 " owner %u %s:%u\n", c->vr[i].index, s,
		       s + ((uint64_t)1 << c->shift), c->vr[i].owner_node,
		       ip_str(c->vr[i].owner_ipv4, ip),
		       c->vr[i].owner_port ? c->vr[i].owner_port : LEGO_RPC_PORT);
	}
}

/* One line of a hexdump -C style dump. */
static void hexdump(uint64_t addr, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i += 16) {
		size_t n = len - i < 16 ? len - i : 16;

		printf("%012" PRIx64 "  ", addr + i);
		for (size_t k = 0; k < 16; k++) {
			if (k < n)
				printf("%02x ", p[i + k]);
			else
				printf("   ");
			if (k == 7)
				printf(" ");
		}
		printf(" |");
		for (size_t k = 0; k < n; k++)
			putchar(p[i + k] >= 0x20 && p[i + k] < 0x7f ? p[i + k] : '.');
		printf("|\n");
	}
}

/* ------------------------------------------------------------------ */
/* The subcommands                                                     */
/* ------------------------------------------------------------------ */

static void home_label(struct mem_ctx *c, char *buf, size_t len)
{
	char ip[INET_ADDRSTRLEN];

	if (c->home_id)
		snprintf(buf, len, "%s (id %u, %s:%u)", c->home_name, c->home_id,
			 ip_str(c->home_ip, ip), c->home_port);
	else
		snprintf(buf, len, "%s:%u", ip_str(c->home_ip, ip), c->home_port);
}

static int sub_create(struct mem_ctx *c, const char **pos, size_t npos)
{
	struct lego_mem_create_req q;
	uint64_t mm;
	size_t got;
	char ip[INET_ADDRSTRLEN], label[128];
	int r;

	if ((r = mem_home(c, true)) || (r = mem_vnode(c)))
		return r;
	if ((r = mem_mm_or_new(c, &mm)))
		return r;
	mem_create_req(c, mm, &q);
	r = home_call(c, LEGO_OP_MEM_CREATE, &q, sizeof(q), &got);
	if (r < 0)
		return mem_err(c, r);
	c->value = mm;
	ip_str(c->home_ip, ip);
	home_label(c, label, sizeof(label));
	if (c->json) {
		printf("{\"mm\": \"0x%016" PRIx64 "\", \"home\": \"%s:%u\", \"home_id\": %u, "
		       "\"home_name\": ", mm, ip, c->home_port, c->home_id);
		json_str(c->home_name);
		printf(", \"vnode\": %u}\n", c->vnode);
	} else if (c->script) {
		printf("0x%016" PRIx64 "\n", mm);
	} else {
		printf("0x%016" PRIx64 " %s:%u\n", mm, ip, c->home_port);
		fprintf(stderr, "%s: mem create: address space 0x%016" PRIx64 " at home %s, vNode %u"
			" (use --mm 0x%016" PRIx64 " --home %s:%u)\n", prog, mm, label, c->vnode, mm,
			ip, c->home_port);
	}
	return 0;
}

struct stack_view {
	uint64_t lo, hi;		/* fetched range */
	uint8_t *mem;
};

static bool sv_u64(const struct stack_view *s, uint64_t a, uint64_t *v)
{
	if (a < s->lo || a + 8 > s->hi)
		return false;
	memcpy(v, s->mem + (a - s->lo), 8);
	return true;
}

/* A string at a, if it lies in the view; "?" otherwise. */
static void sv_str(const struct stack_view *s, uint64_t a, char *out, size_t n)
{
	size_t k = 0;

	if (a < s->lo || a >= s->hi) {
		snprintf(out, n, "<outside the stack: 0x%" PRIx64 ">", a);
		return;
	}
	for (uint64_t p = a; p < s->hi && k + 1 < n && s->mem[p - s->lo]; p++)
		out[k++] = (char)s->mem[p - s->lo];
	out[k] = '\0';
}

static const char *at_name(uint64_t t)
{
	static const char *const names[] = {
		[0] = "AT_NULL", [1] = "AT_IGNORE", [2] = "AT_EXECFD", [3] = "AT_PHDR",
		[4] = "AT_PHENT", [5] = "AT_PHNUM", [6] = "AT_PAGESZ", [7] = "AT_BASE",
		[8] = "AT_FLAGS", [9] = "AT_ENTRY", [10] = "AT_NOTELF", [11] = "AT_UID",
		[12] = "AT_EUID", [13] = "AT_GID", [14] = "AT_EGID", [15] = "AT_PLATFORM",
		[16] = "AT_HWCAP", [17] = "AT_CLKTCK", [23] = "AT_SECURE",
		[24] = "AT_BASE_PLATFORM", [25] = "AT_RANDOM", [26] = "AT_HWCAP2",
		[31] = "AT_EXECFN", [32] = "AT_SYSINFO", [33] = "AT_SYSINFO_EHDR",
		[51] = "AT_MINSIGSTKSZ",
	};

	return t < sizeof(names) / sizeof(names[0]) && names[t] ? names[t] : NULL;
}

/* Decodes the initial stack at sp: argc, argv, envp, auxv. */
static int dump_stack(struct mem_ctx *c, uint64_t mm, uint64_t sp, uint64_t top)
{
	struct stack_view s;
	uint64_t argc, v, a, t;
	char str[4096];
	int r;

	if (top <= sp || top - sp > (8u << 20))
		top = ((sp + 16 * PG) & ~(uint64_t)(PG - 1));
	s.lo = sp & ~(uint64_t)(PG - 1);
	s.hi = top;
	s.mem = malloc(s.hi - s.lo);
	if (!s.mem)
		return -ENOMEM;
	r = mem_read(c, mm, s.lo, s.mem, s.hi - s.lo);
	if (r < 0) {
		free(s.mem);
		return r;
	}
	a = sp;
	if (!sv_u64(&s, a, &argc)) {
		free(s.mem);
		return -EPROTO;
	}
	printf("stack at 0x%" PRIx64 " (%" PRIu64 " bytes up to 0x%" PRIx64 ")\n", sp, top - sp, top);
	printf("argc %" PRIu64 "\n", argc);
	a += 8;
	for (uint64_t i = 0; i < argc && i < 4096; i++, a += 8) {
		if (!sv_u64(&s, a, &v))
			goto trunc;
		sv_str(&s, v, str, sizeof(str));
		printf("argv[%" PRIu64 "] 0x%" PRIx64 " \"%s\"\n", i, v, str);
	}
	if (!sv_u64(&s, a, &v))
		goto trunc;
	if (v)
		printf("argv[argc] is not NULL: 0x%" PRIx64 "\n", v);
	a += 8;
	for (uint64_t i = 0;; i++, a += 8) {
		if (!sv_u64(&s, a, &v))
			goto trunc;
		if (!v)
			break;
		sv_str(&s, v, str, sizeof(str));
		printf("envp[%" PRIu64 "] 0x%" PRIx64 " \"%s\"\n", i, v, str);
	}
	a += 8;
	for (;; a += 16) {
		const char *n;

		if (!sv_u64(&s, a, &t) || !sv_u64(&s, a + 8, &v))
			goto trunc;
		n = at_name(t);
		if (n)
			printf("auxv %-16s ", n);
		else
			printf("auxv AT_%-13" PRIu64 " ", t);
		switch (t) {
		case 4: case 5: case 6: case 8: case 11: case 12: case 13: case 14: case 17:
		case 23: case 51: case 0:
			printf("%" PRIu64 "\n", v);
			break;
		case 15: case 24: case 31:
			sv_str(&s, v, str, sizeof(str));
			printf("0x%" PRIx64 " \"%s\"\n", v, str);
			break;
		case 25:
			printf("0x%" PRIx64, v);
			if (v >= s.lo && v + 16 <= s.hi) {
				printf(" ");
				for (int k = 0; k < 16; k++)
					printf("%02x", s.mem[v - s.lo + k]);
			}
			printf("\n");
			break;
		default:
			printf("0x%" PRIx64 "\n", v);
		}
		if (t == 0)
			break;
	}
	free(s.mem);
	return 0;
trunc:
	printf("(the stack ends at 0x%" PRIx64 " before the end of auxv)\n", s.hi);
	free(s.mem);
	return -EPROTO;
}

static int sub_exec(struct mem_ctx *c, const char **pos, size_t npos)
{
	struct lego_mem_exec_req q;
	struct lego_mem_exec_reply er;
	size_t off, got, slen = 0;
	uint64_t mm;
	const char *path = pos[0];
	char label[128];
	int r;

	if ((r = mem_home(c, true)) || (r = mem_vnode(c)))
		return r;
	if ((r = mem_mm_or_new(c, &mm)))
		return r;
	if (path[0] != '/')
		return mem_usage("'%s': the program's path in the vNode is absolute", path);
	memset(&q, 0, sizeof(q));
	mem_create_req(c, mm, &q.c);
	q.path_len = (uint16_t)strlen(path);
	q.argc = (uint32_t)npos;
	q.envc = (uint32_t)c->nenv;
	if (getrandom(q.random, sizeof(q.random), 0) != sizeof(q.random))
		memset(q.random, 0x5a, sizeof(q.random));
	for (size_t i = 0; i < npos; i++)
		slen += strlen(pos[i]) + 1;
	for (int i = 0; i < c->nenv; i++)
		slen += strlen(c->env[i]) + 1;
	if (strlen(path) > 4095 || sizeof(q) + strlen(path) + slen > MEM_BUF_MAX)
		return mem_fail(c, "%s", strerror(E2BIG));
	q.strings_len = (uint32_t)slen;
	memcpy(c->req, &q, sizeof(q));
	off = sizeof(q);
	memcpy(c->req + off, path, q.path_len);
	off += q.path_len;
	for (size_t i = 0; i < npos; i++) {
		memcpy(c->req + off, pos[i], strlen(pos[i]) + 1);
		off += strlen(pos[i]) + 1;
	}
	for (int i = 0; i < c->nenv; i++) {
		memcpy(c->req + off, c->env[i], strlen(c->env[i]) + 1);
		off += strlen(c->env[i]) + 1;
	}
	r = home_call(c, LEGO_OP_MEM_EXEC, c->req, off, &got);
	if (r == -ENOEXEC) {
		const char *why = got && memchr(c->rep, '\0', got) ? (const char *)c->rep : "";

		return mem_fail(c, "%s: %s%s%s", path, strerror(ENOEXEC), why[0] ? ": " : "", why);
	}
	if (r < 0)
		return mem_fail(c, "%s: %s", path, mem_strerror(r));
	if (got < sizeof(er))
		return mem_err(c, -EPROTO);
	memcpy(&er, c->rep, sizeof(er));
	if ((r = take_layout(c, mm, c->rep + offsetof(struct lego_mem_exec_reply, layout),
			     got - offsetof(struct lego_mem_exec_reply, layout), NULL)) < 0)
		return mem_err(c, r);
	c->value = mm;
	if (c->script) {
		printf("mm=0x%016" PRIx64 " entry=0x%" PRIx64 " sp=0x%" PRIx64 " start_brk=0x%" PRIx64
		       " stack_top=0x%" PRIx64 " mmap_base=0x%" PRIx64 "\n", mm, er.entry, er.sp,
		       er.start_brk, er.stack_top, er.mmap_base);
		return 0;
	}
	if (c->json) {
		printf("{\"mm\": \"0x%016" PRIx64 "\", \"entry\": %" PRIu64 ", \"sp\": %" PRIu64
		       ", \"start_brk\": %" PRIu64 ", \"stack_top\": %" PRIu64 ", \"mmap_base\": %"
		       PRIu64 ", \"layout\": ", mm, er.entry, er.sp, er.start_brk, er.stack_top,
		       er.mmap_base);
		c->script = true;	/* no newline after the layout */
		print_vregions(c);
		c->script = false;
		printf("}\n");
	} else {
		char ip[INET_ADDRSTRLEN];

		home_label(c, label, sizeof(label));
		printf("mm         0x%016" PRIx64 "\n", mm);
		printf("home       %s:%u %s\n", ip_str(c->home_ip, ip), c->home_port, label);
		printf("entry      0x%" PRIx64 "\n", er.entry);
		printf("sp         0x%" PRIx64 "\n", er.sp);
		printf("start_brk  0x%" PRIx64 "\n", er.start_brk);
		printf("stack_top  0x%" PRIx64 "\n", er.stack_top);
		printf("mmap_base  0x%" PRIx64 "\n", er.mmap_base);
		print_vregions(c);
	}
	if (c->o[MO_DUMP].val) {
		fflush(stdout);
		if ((r = dump_stack(c, mm, er.sp, er.stack_top)) < 0)
			return mem_fail(c, "cannot read the stack: %s", mem_strerror(r));
	}
	return 0;
}

/* mmap, munmap, mprotect, mremap, brk */
static int sub_map(struct mem_ctx *c, const char **pos, size_t npos)
{
	struct lego_mem_map_req q;
	uint64_t mm, v;
	uint16_t op;
	const char *path = c->o[MO_FILE].val;
	size_t got;
	bool layout;
	int r;

	if ((r = mem_mm(c, &mm)) || (r = mem_home(c, false)))
		return r;
	memset(&q, 0, sizeof(q));
	q.mm = mm;
	if (mem_num(c, MO_ADDR, 0, &q.addr) || mem_num(c, MO_LEN, 0, &q.len) ||
	    mem_num(c, MO_NEWLEN, 0, &q.new_len) || mem_num(c, MO_NEWADDR, 0, &q.new_addr) ||
	    mem_num(c, MO_PGOFF, 0, &q.pgoff))
		return EXIT_USAGE;
	if (c->o[MO_PROT].val && parse_prot(c->o[MO_PROT].val, &q.prot) < 0)
		return mem_usage("invalid --prot '%s': want letters of rwx, 'none' or a number",
				 c->o[MO_PROT].val);
	if (!strcmp(c->cmd, "mmap")) {
		op = LEGO_OP_MEM_MMAP;
		if (!c->o[MO_LEN].val)
			return mem_usage("%s", "missing --len");
		if (!c->o[MO_PROT].val)
			q.prot = L_PROT_READ | L_PROT_WRITE;
		if (c->o[MO_FLAGS].val) {
			if (parse_flags(c->o[MO_FLAGS].val, map_flags, &q.flags) < 0)
				return mem_usage("invalid --flags '%s' (see 'legoctl mem --help')",
						 c->o[MO_FLAGS].val);
		} else {
			q.flags = L_MAP_PRIVATE | (path ? 0 : L_MAP_ANONYMOUS);
		}
		if (path) {
			if (path[0] != '/')
				return mem_usage("'%s': the file's path in the vNode is absolute", path);
			if (strlen(path) > 4095)
				return mem_fail(c, "%s: %s", path, strerror(ENAMETOOLONG));
			q.path_len = (uint16_t)strlen(path);
		}
	} else if (!strcmp(c->cmd, "munmap") || !strcmp(c->cmd, "mprotect")) {
		op = !strcmp(c->cmd, "munmap") ? LEGO_OP_MEM_MUNMAP : LEGO_OP_MEM_MPROTECT;
		if (!c->o[MO_ADDR].val || !c->o[MO_LEN].val)
			return mem_usage("%s", "missing --addr or --len");
		if (op == LEGO_OP_MEM_MPROTECT && !c->o[MO_PROT].val)
			return mem_usage("%s", "missing --prot");
		path = NULL;
	} else if (!strcmp(c->cmd, "mremap")) {
		op = LEGO_OP_MEM_MREMAP;
		if (!c->o[MO_ADDR].val || !c->o[MO_LEN].val || !c->o[MO_NEWLEN].val)
			return mem_usage("%s", "missing --addr, --len or --new-len");
		if (c->o[MO_FLAGS].val && parse_flags(c->o[MO_FLAGS].val, remap_flags, &q.flags) < 0)
			return mem_usage("invalid --flags '%s': maymove,fixed,dontunmap",
					 c->o[MO_FLAGS].val);
		if (c->o[MO_NEWADDR].val && !c->o[MO_FLAGS].val)
			q.flags = L_MREMAP_MAYMOVE | L_MREMAP_FIXED;
		path = NULL;
	} else {
		op = LEGO_OP_MEM_BRK;
		path = NULL;
	}
	layout = op == LEGO_OP_MEM_MMAP || op == LEGO_OP_MEM_MREMAP || op == LEGO_OP_MEM_BRK;
	r = map_call(c, op, &q, path, &got);
	if (r < 0) {
		c->have_vr = false;	/* it may have changed anyway */
		return mem_err(c, r);
	}
	if (!layout) {
		c->have_vr = c->have_vr && op != LEGO_OP_MEM_MUNMAP;
		c->value = 0;
		printf("ok\n");
		return 0;
	}
	if ((r = take_layout(c, mm, c->rep, got, &v)) < 0)
		return mem_err(c, r);
	c->value = v;
	if (c->json)
		printf("{\"value\": %" PRIu64 ", \"hex\": \"0x%" PRIx64 "\"}\n", v, v);
	else
		printf("0x%" PRIx64 "\n", v);
	return 0;
}

static int sub_vregions(struct mem_ctx *c, const char **pos, size_t npos)
{
	uint64_t mm;
	int r;

	if ((r = mem_mm(c, &mm)) || (r = mem_home(c, false)))
		return r;
	if ((r = vregions_refresh(c, mm)) < 0)
		return mem_err(c, r);
	c->value = c->nvr;
	print_vregions(c);
	return 0;
}

static int sub_maps(struct mem_ctx *c, const char **pos, size_t npos)
{
	struct lego_mem_map_req q;
	struct lego_mem_maps_reply h;
	uint64_t mm, addr = 0;
	size_t got, n = 0;
	int r, rounds = 0;

	if ((r = mem_mm(c, &mm)) || (r = mem_home(c, false)))
		return r;
	if (c->json)
		printf("{\"vmas\": [");
	for (;;) {
		size_t p = sizeof(h);

		memset(&q, 0, sizeof(q));
		q.mm = mm;
		q.addr = addr;
		if ((r = map_call(c, LEGO_OP_MEM_MAPS, &q, NULL, &got)) < 0) {
			if (c->json || (c->script && n))
				printf("\n");
			return mem_err(c, r);
		}
		if (got < sizeof(h))
			return mem_err(c, -EPROTO);
		memcpy(&h, c->rep, sizeof(h));
		for (uint32_t i = 0; i < h.count; i++) {
			struct lego_mem_vma_rec v;
			char perms[5], path[4096] = "";

			if (got - p < sizeof(v))
				return mem_err(c, -EPROTO);
			memcpy(&v, c->rep + p, sizeof(v));
			if (got - p < LEGO_MEM_VMA_REC_SIZE(v.path_len) || v.end <= v.start ||
			    v.start < addr)
				return mem_err(c, -EPROTO);
			memcpy(path, c->rep + p + sizeof(v), v.path_len < 4095 ? v.path_len : 4095);
			path[v.path_len < 4095 ? v.path_len : 4095] = '\0';
			p += LEGO_MEM_VMA_REC_SIZE(v.path_len);
			if (!path[0] && (v.flags & LEGO_MEM_VMA_HEAP))
				strcpy(path, "[heap]");
			if (!path[0] && (v.flags & LEGO_MEM_VMA_STACK))
				strcpy(path, "[stack]");
			prot_str(v.prot, v.flags, perms);
			if (c->json) {
				printf("%s{\"start\": %" PRIu64 ", \"end\": %" PRIu64 ", \"perms\": \"%s\""
				       ", \"pgoff\": %" PRIu64 ", \"flags\": %u, \"owner\": %u, "
				       "\"path\": ", n ? ", " : "", v.start, v.end, perms, v.pgoff,
				       v.flags, v.owner_node);
				json_str(path);
				printf("}");
			} else if (c->script) {
				printf("%s%" PRIx64 "-%" PRIx64 " %s%s%s", n ? "; " : "", v.start, v.end,
				       perms, path[0] ? " " : "", path);
			} else {
				printf("%" PRIx64 "-%" PRIx64 " %s %08" PRIx64 " 00:00 0 %s%s\n",
				       v.start, v.end, perms, v.pgoff * PG, path[0] ? "    " : "", path);
			}
			addr = v.end;
			n++;
		}
		if (!h.more || !h.count || ++rounds > 100000)
			break;
	}
	if (c->json)
		printf("]}\n");
	else if (c->script)
		printf("%s\n", n ? "" : "(none)");
	c->value = n;
	return 0;
}

/* Reads all of stdin. */
static int read_stdin(uint8_t **out, size_t *len)
{
	size_t cap = 65536, n = 0;
	uint8_t *b = malloc(cap);

	if (!b)
		return -ENOMEM;
	for (;;) {
		ssize_t r;

		if (n == cap) {
			uint8_t *nb = cap >= (256u << 20) ? NULL : realloc(b, cap * 2);

			if (!nb) {
				free(b);
				return -EFBIG;
			}
			b = nb;
			cap *= 2;
		}
		r = read(0, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(b);
			return -errno;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*out = b;
	*len = n;
	return 0;
}

static int sub_write(struct mem_ctx *c, const char **pos, size_t npos)
{
	uint64_t mm, addr, len, fill;
	uint8_t *data = NULL;
	size_t n = 0;
	int r;

	if ((r = mem_mm(c, &mm)) || (r = mem_home(c, false)))
		return r;
	if (!c->o[MO_ADDR].val)
		return mem_usage("%s", "missing --addr");
	if (mem_num(c, MO_ADDR, 0, &addr) || mem_num(c, MO_LEN, 0, &len) ||
	    mem_num(c, MO_FILL, 0, &fill))
		return EXIT_USAGE;
	if (c->o[MO_TEXT].val && c->o[MO_FILL].val)
		return mem_usage("%s", "--text and --fill exclude each other");
	if (c->o[MO_FILL].val) {
		if (!c->o[MO_LEN].val || fill > 255)
			return mem_usage("%s", "--fill BYTE (0-255) needs --len");
		if (len > (256u << 20))
			return mem_fail(c, "%s", strerror(EFBIG));
		if (!(data = malloc(len ? len : 1)))
			return mem_err(c, -ENOMEM);
		memset(data, (int)fill, len);
		n = len;
	} else if (c->o[MO_TEXT].val) {
		n = strlen(c->o[MO_TEXT].val);
		if (!(data = malloc(n ? n : 1)))
			return mem_err(c, -ENOMEM);
		memcpy(data, c->o[MO_TEXT].val, n);
	} else if (c->script) {
		return mem_usage("%s", "in a script, write takes --text STRING or --fill BYTE --len N");
	} else if ((r = read_stdin(&data, &n)) < 0) {
		return mem_fail(c, "stdin: %s", strerror(-r));
	}
	if (c->o[MO_LEN].val && len < n)
		n = len;
	if (addr + n < addr || addr + n > LEGO_USER_TOP) {
		free(data);
		return mem_err(c, -EINVAL);
	}
	r = mem_write(c, mm, addr, data, n);
	free(data);
	if (r < 0)
		return mem_err(c, r);
	c->value = n;
	if (c->script)
		printf("ok\n");
	return 0;
}

static int sub_read(struct mem_ctx *c, const char **pos, size_t npos)
{
	uint64_t mm, addr, len;
	uint8_t *data;
	int r;

	if ((r = mem_mm(c, &mm)) || (r = mem_home(c, false)))
		return r;
	if (!c->o[MO_ADDR].val || !c->o[MO_LEN].val)
		return mem_usage("%s", "missing --addr or --len");
	if (mem_num(c, MO_ADDR, 0, &addr) || mem_num(c, MO_LEN, 0, &len))
		return EXIT_USAGE;
	if (len > (256u << 20))
		return mem_fail(c, "%s", strerror(EFBIG));
	if (addr + len < addr || addr + len > LEGO_USER_TOP)
		return mem_err(c, -EINVAL);
	if (!(data = malloc(len ? len : 1)))
		return mem_err(c, -ENOMEM);
	r = mem_read(c, mm, addr, data, len);
	if (r < 0) {
		free(data);
		return mem_err(c, r);
	}
	if (c->o[MO_RAW].val && !c->script) {
		fwrite(data, 1, len, stdout);
	} else if (c->o[MO_HEX].val || c->script) {
		for (uint64_t i = 0; i < len; i++)
			printf("%02x", data[i]);
		printf("\n");
	} else {
		hexdump(addr, data, len);
	}
	c->value = len;
	free(data);
	return 0;
}

static int sub_fork(struct mem_ctx *c, const char **pos, size_t npos)
{
	struct lego_mem_fork_req q;
	uint64_t mm, child;
	size_t got;
	int r;

	if ((r = mem_mm(c, &mm)) || (r = mem_home(c, false)))
		return r;
	if (c->o[MO_CHILD].val) {
		if (parse_u64(c->o[MO_CHILD].val, &child) < 0)
			return mem_usage("invalid --child id '%s'", c->o[MO_CHILD].val);
	} else {
		child = mem_new_id();
	}
	q.parent = mm;
	q.child = child;
	r = home_call(c, LEGO_OP_MEM_FORK, &q, sizeof(q), &got);
	if (r < 0)
		return mem_err(c, r);
	c->value = child;
	printf("0x%016" PRIx64 "\n", child);
	return 0;
}

static int sub_exit(struct mem_ctx *c, const char **pos, size_t npos)
{
	struct lego_mem_map_req q;
	uint64_t mm;
	size_t got;
	int r;

	if ((r = mem_mm(c, &mm)) || (r = mem_home(c, false)))
		return r;
	memset(&q, 0, sizeof(q));
	q.mm = mm;
	r = map_call(c, LEGO_OP_MEM_EXIT, &q, NULL, &got);
	if (r < 0)
		return mem_err(c, r);
	if (c->vr_mm == mm)
		c->have_vr = false;
	c->value = 0;
	if (c->script)
		printf("ok\n");
	return 0;
}

static int stats_one(struct mem_ctx *c, const struct node_addr *n, bool first)
{
	struct lego_mem_stats s;
	size_t got = 0;
	char ip[INET_ADDRSTRLEN];
	int r = gm_rpc_call(c->ep, n->ip, n->port, LEGO_OP_MEM_STATS, NULL, 0, &s, sizeof(s), &got,
			    c->timeout);

	if (r == 0 && got != sizeof(s))
		r = -EPROTO;
	if (r < 0) {
		if (c->json)
			printf("%s{\"node\": ", first ? "" : ", ");
		if (c->json) {
			json_str(n->name);
			printf(", \"id\": %u, \"error\": ", n->id);
			json_str(mem_strerror(r));
			printf("}");
		} else {
			mem_fail(c, "%s (%s:%u): %s", n->name, ip_str(n->ip, ip), n->port,
				 mem_strerror(r));
		}
		return r;
	}
	c->value = s.pages;
	if (c->json) {
		printf("%s{\"node\": ", first ? "" : ", ");
		json_str(n->name);
		printf(", \"id\": %u, \"mms_home\": %" PRIu64 ", \"mms_owned\": %" PRIu64
		       ", \"vregions\": %" PRIu64 ", \"vmas\": %" PRIu64 ", \"pages\": %" PRIu64
		       ", \"page_fetches\": %" PRIu64 ", \"page_flushes\": %" PRIu64
		       ", \"zero_fetches\": %" PRIu64 ", \"bc_pages\": %" PRIu64 ", \"bc_hits\": %"
		       PRIu64 ", \"bc_misses\": %" PRIu64 ", \"bc_writebacks\": %" PRIu64
		       ", \"bc_dirty\": %" PRIu64 ", \"bc_evictions\": %" PRIu64
		       ", \"bc_wb_errors\": %" PRIu64
		       ", \"mem_free_bytes\": %" PRIu64 "}", n->id, s.mms_home, s.mms_owned,
		       s.vregions, s.vmas, s.pages, s.page_fetches, s.page_flushes, s.zero_fetches,
		       s.bc_pages, s.bc_hits, s.bc_misses, s.bc_writebacks, s.bc_dirty,
		       s.bc_evictions, s.bc_wb_errors, s.mem_free_bytes);
		return 0;
	}
	printf("%s%s id=%u mms_home=%" PRIu64 " mms_owned=%" PRIu64 " vregions=%" PRIu64
	       " vmas=%" PRIu64 " pages=%" PRIu64 " fetches=%" PRIu64 " flushes=%" PRIu64
	       " zero_fetches=%" PRIu64 " bc_pages=%" PRIu64 " bc_hits=%" PRIu64
	       " bc_misses=%" PRIu64 " bc_writebacks=%" PRIu64 " bc_dirty=%" PRIu64
	       " bc_evictions=%" PRIu64 " bc_wb_errors=%" PRIu64 " free_mib=%" PRIu64 "%s",
	       c->script && !first ? "; " : "", n->name, n->id, s.mms_home, s.mms_owned,
	       s.vregions, s.vmas, s.pages, s.page_fetches, s.page_flushes, s.zero_fetches,
	       s.bc_pages, s.bc_hits, s.bc_misses, s.bc_writebacks, s.bc_dirty, s.bc_evictions,
	       s.bc_wb_errors, s.mem_free_bytes >> 20,
	       c->script ? "" : "\n");
	return 0;
}

static int sub_stats(struct mem_ctx *c, const char **pos, size_t npos)
{
	struct node_addr n;
	char msg[LEGO_GM_ERRMSG_MAX + 64];
	int r, bad = 0, k = 0;
	const char *spec = c->o[MO_NODE].val ? c->o[MO_NODE].val : c->o[MO_HOME].val;

	if (c->json)
		printf("{\"nodes\": [");
	if (spec) {
		if ((r = mem_resolve(c, spec, &n)))
			return r;
		bad = stats_one(c, &n, true) < 0;
		k = 1;
	} else {
		if (mem_recs(c, GM_GMM, msg, sizeof(msg)) < 0)
			return mem_fail(c, "cannot list the memory components: %s", msg);
		for (int i = 0; i < c->nrecs[GM_GMM]; i++) {
			const struct gm_node_rec *rr = &c->recs[GM_GMM][i];

			if (rr->n.personality != LEGO_PERS_MEMORY || rr->n.state != LEGO_NODE_ALIVE)
				continue;
			rec_addr(rr, &n);
			bad += stats_one(c, &n, k == 0) < 0;
			k++;
		}
	}
	if (c->json)
		printf("]}\n");
	else if (c->script)
		printf("%s\n", k ? "" : "(no memory component alive)");
	else if (!k)
		fprintf(stderr, "%s: mem stats: no memory component is alive\n", prog);
	return bad || !k ? EXIT_FAIL : 0;
}

/* ------------------------------------------------------------------ */
/* selftest                                                            */
/* ------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static int sub_selftest(struct mem_ctx *c, const char **pos, size_t npos)
{
	uint64_t mm, seed, ops, areas, pages, base, span, v;
	uint64_t writes = 0, reads = 0, bad = 0, errors = 0, nwritten = 0;
	uint8_t *model = NULL, *buf = NULL;
	bool created = false;
	size_t area_len;
	int r, rc = EXIT_FAIL;
	uint32_t owners[64], nowners = 0;

	if (mem_num(c, MO_OPS, 1000, &ops) || mem_num(c, MO_AREAS, 3, &areas) ||
	    mem_num(c, MO_PAGES, 16, &pages) || mem_num(c, MO_ADDR, 1ull << 36, &base))
		return EXIT_USAGE;
	if (c->o[MO_SEED].val) {
		if (mem_num(c, MO_SEED, 0, &seed))
			return EXIT_USAGE;
	} else if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed)) {
		seed = now_ns();
	}
	if (areas < 1 || areas > 64 || pages < 1 || areas * pages > 65536 || ops > 100000000)
		return mem_usage("%s", "--areas 1..64, --pages >= 1, areas * pages <= 65536");
	if (base & (PG - 1))
		return mem_usage("%s", "--addr (the first area) must be page aligned");
	rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
	if (!rng_state)
		rng_state = 1;
	if (c->o[MO_MM].val) {
		if ((r = mem_mm(c, &mm)) || (r = mem_home(c, false)))
			return r;
	} else {
		struct lego_mem_create_req q;
		size_t got;

		if ((r = mem_home(c, true)) || (r = mem_vnode(c)))
			return r;
		mm = mem_new_id();
		mem_create_req(c, mm, &q);
		if ((r = home_call(c, LEGO_OP_MEM_CREATE, &q, sizeof(q), &got)) < 0)
			return mem_fail(c, "create: %s", mem_strerror(r));
		created = true;
	}
	area_len = (size_t)pages * PG;
	model = calloc(areas, area_len);
	buf = malloc(2 * PG);
	if (!model || !buf) {
		mem_err(c, -ENOMEM);
		goto out;
	}
	/* Areas one vRegion apart (the size from the first reply). */
	span = (uint64_t)1 << LEGO_VREGION_SHIFT_DEFAULT;
	for (uint64_t i = 0; i < areas; i++) {
		struct lego_mem_map_req q;
		size_t got;

		memset(&q, 0, sizeof(q));
		q.mm = mm;
		q.addr = base + i * span;
		q.len = area_len;
		q.prot = L_PROT_READ | L_PROT_WRITE;
		q.flags = L_MAP_PRIVATE | L_MAP_ANONYMOUS | L_MAP_FIXED;
		r = map_call(c, LEGO_OP_MEM_MMAP, &q, NULL, &got);
		if (r == 0)
			r = take_layout(c, mm, c->rep, got, &v);
		if (r == 0 && v != q.addr)
			r = -EPROTO;
		if (r < 0) {
			mem_fail(c, "mmap of area %" PRIu64 " at 0x%" PRIx64 ": %s", i, q.addr,
				 mem_strerror(r));
			goto out;
		}
		if (i == 0 && ((uint64_t)1 << c->shift) != span) {
			span = (uint64_t)1 << c->shift;
			base &= ~(span - 1);
			/* Start again with the real vRegion size. */
			struct lego_mem_map_req u = q;

			map_call(c, LEGO_OP_MEM_MUNMAP, &u, NULL, &got);
			i = (uint64_t)-1;
			continue;
		}
	}
	for (uint32_t i = 0; i < c->nvr; i++) {
		uint32_t k;

		for (k = 0; k < nowners && owners[k] != c->vr[i].owner_node; k++)
			;
		if (k == nowners && nowners < 64)
			owners[nowners++] = c->vr[i].owner_node;
	}
	for (uint64_t op = 0; op < ops; op++) {
		uint64_t ai = rnd() % areas, pg = rnd() % pages, off, len;
		uint8_t *m = model + ai * area_len;
		uint64_t addr;

		/* Whole pages, parts of a page, or across two pages. */
		switch (rnd() % 4) {
		case 0:
			off = pg * PG;
			len = PG;
			break;
		case 1:
			off = pg * PG + rnd() % PG;
			len = 1 + rnd() % (PG - off % PG);
			break;
		default:
			off = pg * PG + rnd() % PG;
			len = 1 + rnd() % (2 * PG);
			if (off + len > area_len)
				len = area_len - off;
		}
		addr = base + ai * span + off;
		if (rnd() % 2) {
			for (uint64_t k = 0; k < len; k++)
				buf[k] = (uint8_t)rnd();
			r = mem_write(c, mm, addr, buf, len);
			if (r < 0) {
				if (errors++ < 10)
					mem_fail(c, "write of %" PRIu64 " bytes at 0x%" PRIx64 ": %s", len,
						 addr, mem_strerror(r));
				continue;
			}
			memcpy(m + off, buf, len);
			writes++;
			nwritten += len;
		} else {
			r = mem_read(c, mm, addr, buf, len);
			if (r < 0) {
				if (errors++ < 10)
					mem_fail(c, "read of %" PRIu64 " bytes at 0x%" PRIx64 ": %s", len,
						 addr, mem_strerror(r));
				continue;
			}
			reads++;
			if (memcmp(buf, m + off, len)) {
				uint64_t k = 0;

				while (buf[k] == m[off + k])
					k++;
				if (bad++ < 10)
					printf("MISMATCH op %" PRIu64 ": read 0x%" PRIx64 " len %" PRIu64
					       ": byte at 0x%" PRIx64 " is 0x%02x, model 0x%02x\n", op,
					       addr, len, addr + k, buf[k], m[off + k]);
			}
		}
	}
	/* Every page once more. */
	for (uint64_t ai = 0; ai < areas; ai++)
		for (uint64_t pg = 0; pg < pages; pg++) {
			uint64_t addr = base + ai * span + pg * PG;

			r = mem_read(c, mm, addr, buf, PG);
			if (r < 0) {
				if (errors++ < 10)
					mem_fail(c, "final read at 0x%" PRIx64 ": %s", addr, mem_strerror(r));
				continue;
			}
			reads++;
			if (memcmp(buf, model + ai * area_len + pg * PG, PG) && bad++ < 10)
				printf("MISMATCH final check: page 0x%" PRIx64 "\n", addr);
		}
	printf("selftest: seed %" PRIu64 ", mm 0x%016" PRIx64 ", %" PRIu64 " areas of %" PRIu64
	       " pages, %u vRegions, owners", seed, mm, areas, pages, c->nvr);
	for (uint32_t k = 0; k < nowners; k++)
		printf("%s%u", k ? "," : " ", owners[k]);
	printf("; %" PRIu64 " ops: %" PRIu64 " writes (%" PRIu64 " bytes), %" PRIu64 " reads; "
	       "%" PRIu64 " fetches (%" PRIu64 " zero), %" PRIu64 " flushes; %" PRIu64
	       " mismatches, %" PRIu64 " errors\n", ops, writes, nwritten, reads, n_fetch, n_zero,
	       n_flush, bad, errors);
	c->value = bad + errors;
	rc = bad || errors ? EXIT_FAIL : 0;
out:
	if (created && !c->o[MO_KEEP].val) {
		struct lego_mem_map_req q = { .mm = mm };
		size_t got;

		if ((r = map_call(c, LEGO_OP_MEM_EXIT, &q, NULL, &got)) < 0) {
			mem_fail(c, "exit: %s", mem_strerror(r));
			rc = EXIT_FAIL;
		}
	} else if (created) {
		printf("kept mm 0x%016" PRIx64 "\n", mm);
	}
	free(model);
	free(buf);
	return rc;
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */
/* ------------------------------------------------------------------ */

struct mem_sub {
	const char *name;
	int (*fn)(struct mem_ctx *c, const char **pos, size_t npos);
	size_t min_pos, max_pos;
	unsigned opts;			/* beyond MO_COMMON */
	const char *args;		/* for messages */
};

static int sub_script(struct mem_ctx *c, const char **pos, size_t npos);

static const struct mem_sub subs[] = {
	{ "create", sub_create, 0, 0, 0, "[--home H] [--vnode V] [--mm ID]" },
	{ "exec", sub_exec, 1, MEM_MAX_POS, OPT(MO_DUMP),
	  "[--home H] [--vnode V] [--mm ID] [--env K=V ...] [--dump-stack] PATH [ARGS...]" },
	{ "mmap", sub_map, 0, 0, OPT(MO_ADDR) | OPT(MO_LEN) | OPT(MO_PROT) | OPT(MO_FLAGS) |
	  OPT(MO_FILE) | OPT(MO_PGOFF),
	  "--mm ID --home H [--addr A] --len L [--prot rwx] [--flags F,...] [--file PATH "
	  "--pgoff N]" },
	{ "munmap", sub_map, 0, 0, OPT(MO_ADDR) | OPT(MO_LEN), "--mm ID --home H --addr A --len L" },
	{ "mprotect", sub_map, 0, 0, OPT(MO_ADDR) | OPT(MO_LEN) | OPT(MO_PROT),
	  "--mm ID --home H --addr A --len L --prot rwx" },
	{ "mremap", sub_map, 0, 0, OPT(MO_ADDR) | OPT(MO_LEN) | OPT(MO_NEWLEN) | OPT(MO_NEWADDR) |
	  OPT(MO_FLAGS),
	  "--mm ID --home H --addr A --len L --new-len N [--flags maymove,fixed] [--new-addr A]" },
	{ "brk", sub_map, 0, 0, OPT(MO_ADDR), "--mm ID --home H [--addr BREAK]" },
	{ "maps", sub_maps, 0, 0, 0, "--mm ID --home H [--json]" },
	{ "vregions", sub_vregions, 0, 0, 0, "--mm ID --home H [--json]" },
	{ "write", sub_write, 0, 0, OPT(MO_ADDR) | OPT(MO_LEN) | OPT(MO_TEXT) | OPT(MO_FILL),
	  "--mm ID --home H --addr A [--text S | --fill BYTE --len N | < DATA]" },
	{ "read", sub_read, 0, 0, OPT(MO_ADDR) | OPT(MO_LEN) | OPT(MO_RAW) | OPT(MO_HEX),
	  "--mm ID --home H --addr A --len L [--raw | --hex]" },
	{ "fork", sub_fork, 0, 0, OPT(MO_CHILD), "--mm PARENT --home H [--child ID]" },
	{ "exit", sub_exit, 0, 0, 0, "--mm ID --home H" },
	{ "stats", sub_stats, 0, 0, OPT(MO_NODE), "[--node NAME|ID|IP[:PORT]] [--json]" },
	{ "selftest", sub_selftest, 0, 0, OPT(MO_SEED) | OPT(MO_OPS) | OPT(MO_AREAS) |
	  OPT(MO_PAGES) | OPT(MO_ADDR) | OPT(MO_KEEP),
	  "[--mm ID --home H | --home H] [--seed S] [--ops N] [--areas N] [--pages N] "
	  "[--addr BASE] [--keep]" },
	{ "script", sub_script, 1, 1, 0, "[--home H] [--mm ID] FILE|-" },
};

static const struct mem_sub *find_sub(const char *name)
{
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		if (!strcmp(name, subs[i].name))
			return &subs[i];
	return NULL;
}

/*
 * Parses and runs one subcommand: argv[0] is its name. opts holds the
 * defaults (a script's common options). Returns an exit status.
 */
static int mem_run(struct mem_ctx *c, int argc, char **argv, struct opt *opts, bool in_script)
{
	const char *pos[MEM_MAX_POS + 2];
	char **av = calloc((size_t)argc + 2, sizeof(*av));
	int ac = 0, r, split = -1;
	size_t npos = 0;
	const struct mem_sub *sub;
	uint64_t timeout;
	char what[40];

	if (!av)
		return EXIT_FAIL;
	mem_sub_usage[0] = '\0';
	c->nenv = 0;
	/* --env K=V (repeatable) and "--" (the program's arguments follow)
	 * are taken out first: parse_args keeps one value per option. */
	av[ac++] = (char *)"mem";
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			split = i + 1;
			break;
		}
		if (!strcmp(argv[i], "--env") || !strncmp(argv[i], "--env=", 6)) {
			const char *v = argv[i][5] == '=' ? argv[i] + 6 : i + 1 < argc ? argv[++i] : NULL;

			if (!v || !strchr(v, '=')) {
				free(av);
				return usage_error("mem", "%s", "--env wants K=V");
			}
			if (c->nenv == MEM_MAX_ENV) {
				free(av);
				return usage_error("mem", "%s", "too many --env");
			}
			c->env[c->nenv++] = v;
			continue;
		}
		av[ac++] = argv[i];
	}
	r = parse_args("mem", ac, av, opts, MO_N, pos, MEM_MAX_POS, &npos);
	free(av);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	for (int i = split; split >= 0 && i < argc; i++) {
		if (npos >= MEM_MAX_POS + 1)
			return usage_error("mem", "%s", "too many arguments");
		pos[npos++] = argv[i];
	}
	if (npos < 1)
		return usage_error("mem", "%s", "missing the mem command (create, exec, mmap, ...)");
	if (!(sub = find_sub(pos[0])))
		return usage_error("mem", "unknown mem command '%s' (see 'legoctl mem --help')", pos[0]);
	if (in_script && (sub->fn == sub_script || sub->fn == sub_selftest))
		return mem_usage("%s", "script and selftest do not nest in a script");
	snprintf(mem_sub_usage, sizeof(mem_sub_usage), "mem %s %s", sub->name, sub->args);
	for (int i = 0; i < MO_N; i++)
		if (opts[i].val && !((MO_COMMON | sub->opts) & OPT(i))) {
			snprintf(what, sizeof(what), "--%s", opts[i].name);
			return mem_usage("option %s does not apply here", what);
		}
	if (c->nenv && strcmp(sub->name, "exec"))
		return mem_usage("%s", "--env applies to exec only");
	if (npos - 1 < sub->min_pos)
		return mem_usage("%s", "missing arguments");
	if (npos - 1 > sub->max_pos)
		return mem_usage("unexpected argument '%s'", pos[1 + sub->max_pos]);
	c->o = opts;
	c->cmd = sub->name;
	if (mem_num(c, MO_TIMEOUT, MEM_DEFAULT_TIMEOUT_MS, &timeout) || timeout < 1 ||
	    timeout > 3600000)
		return mem_usage("%s", "--timeout is 1..3600000 ms");
	c->timeout = (int)timeout;
	c->json = opts[MO_JSON].val != NULL;
	if (!in_script && gm_addrs_resolve(opts, &c->a) < 0)
		return EXIT_USAGE;
	c->value = 0;
	r = sub->fn(c, pos + 1, npos - 1);
	fflush(stdout);
	return r;
}

/* Splits a script line into words: blanks separate, '...' and "..."
 * quote (no escapes), # starts a comment. Returns the count, -1 if bad. */
static int split_line(char *s, char **w, int max)
{
	int n = 0;

	for (;;) {
		char *o;

		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (!*s || *s == '#')
			return n;
		if (n == max)
			return -1;
		w[n++] = o = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n') {
			if (*s == '\'' || *s == '"') {
				char q = *s++;

				while (*s && *s != q)
					*o++ = *s++;
				if (!*s)
					return -1;
				s++;
			} else {
				*o++ = *s++;
			}
		}
		if (*s)
			s++;
		*o = '\0';
	}
}

/* $N in a word: the value of the script's N-th operation (0x hex). */
static int subst(char *w, size_t cap, const uint64_t *vals, size_t nvals)
{
	char out[512];
	size_t k = 0;

	for (const char *p = w; *p;) {
		if (*p == '$' && p[1] >= '1' && p[1] <= '9') {
			char *end;
			unsigned long i = strtoul(p + 1, &end, 10);

			if (i == 0 || i > nvals)
				return -1;
			k += (size_t)snprintf(out + k, sizeof(out) - k, "0x%" PRIx64, vals[i - 1]);
			p = end;
		} else if (k + 1 < sizeof(out)) {
			out[k++] = *p++;
		} else {
			return -1;
		}
		if (k >= sizeof(out) - 1)
			return -1;
	}
	out[k] = '\0';
	if (k + 1 > cap)
		return -1;
	memcpy(w, out, k + 1);
	return 0;
}

/*
 * script FILE|-: one operation per line, as the subcommands without the
 * common options (given once to script, overridable per line). "! OP"
 * expects OP to fail. One result line per operation.
 */
static int sub_script(struct mem_ctx *c, const char **pos, size_t npos)
{
	FILE *f = strcmp(pos[0], "-") ? fopen(pos[0], "r") : stdin;
	struct opt base[MO_N] = MEM_OPTS_INIT;
	char line[8192], words[64][520];
	uint64_t *vals = NULL;
	size_t nvals = 0, cap = 0;
	unsigned lineno = 0, failed = 0, usage = 0;

	if (!f)
		return mem_fail(c, "%s: %s", pos[0], strerror(errno));
	for (int i = 0; i < MO_N; i++)
		if ((MO_COMMON & OPT(i)) && i != MO_JSON)
			base[i].val = c->o[i].val;
	c->script = true;
	while (fgets(line, sizeof(line), f)) {
		struct opt o[MO_N];
		char *w[64], *av[64];
		bool expect_fail = false;
		int n, r, k = 0;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			printf("error: line %u too long\n", lineno);
			usage++;
			break;
		}
		n = split_line(line, w, 64);
		if (n == 0)
			continue;
		if (nvals == cap) {
			uint64_t *nv = realloc(vals, (cap = cap ? cap * 2 : 256) * sizeof(*vals));

			if (!nv)
				break;
			vals = nv;
		}
		vals[nvals] = 0;
		if (n < 0) {
			printf("error: line %u: unbalanced quotes or too many words\n", lineno);
			nvals++;
			usage++;
			continue;
		}
		if (!strcmp(w[0], "!")) {
			expect_fail = true;
			k = 1;
		}
		for (int i = k; i < n; i++) {
			snprintf(words[i], sizeof(words[i]), "%s", w[i]);
			if (subst(words[i], sizeof(words[i]), vals, nvals) < 0) {
				n = -1;
				break;
			}
			av[i - k] = words[i];
		}
		if (n < 0 || n == k) {
			printf("error: line %u: bad $N reference or empty operation\n", lineno);
			nvals++;
			usage++;
			continue;
		}
		if (c->timed_out) {
			/* Each call would wait for the silent node again. */
			printf("error: not run (a node stopped answering)\n");
			nvals++;
			failed++;
			continue;
		}
		memcpy(o, base, sizeof(o));
		r = mem_run(c, n - k, av, o, true);
		if (r == EXIT_USAGE) {
			printf("error: line %u: usage\n", lineno);
			usage++;
		} else if (expect_fail && r == 0) {
			printf("(line %u succeeded, a failure was expected)\n", lineno);
			failed++;
		} else if (!expect_fail && r) {
			failed++;
		}
		vals[nvals++] = c->value;
		fflush(stdout);
	}
	if (f != stdin)
		fclose(f);
	free(vals);
	c->script = false;
	if (usage || failed)
		fprintf(stderr, "%s: mem script: %u failed, %u malformed of %zu operations\n", prog,
			failed, usage, nvals);
	return usage ? EXIT_USAGE : failed ? EXIT_FAIL : 0;
}

int cmd_mem(int argc, char **argv)
{
	struct opt opts[MO_N] = MEM_OPTS_INIT;
	struct mem_ctx c;
	int r;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage_cmd(stdout, "mem");
		return 0;
	}
	memset(&c, 0, sizeof(c));
	for (int i = 0; i < GM_NMGR; i++)
		c.nrecs[i] = -1;
	c.req = malloc(MEM_BUF_MAX);
	c.rep = malloc(MEM_BUF_MAX);
	if (!c.req || !c.rep || !(c.ep = open_client())) {
		free(c.req);
		free(c.rep);
		return EXIT_FAIL;
	}
	r = mem_run(&c, argc - 1, argv + 1, opts, false);
	gm_rpc_close(c.ep);
	free(c.req);
	free(c.rep);
	free(c.vr);
	for (int i = 0; i < GM_NMGR; i++)
		free(c.recs[i]);
	return r;
}
