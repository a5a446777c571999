/*
 * The rack's node list ($LEGO_NODES, written by scripts/rack), the
 * resolution of the node names users type into addresses, and the
 * managers' component lists (LEGO_OP_GM_NODES replies).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <uapi/lego/rpc.h>
#include "../include/gm/nodes.h"

/* Parses a decimal number of at most max; returns -EINVAL otherwise. */
static int nodes_parse_ulong(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static int nodes_parse_line(char *line, struct gm_node *n)
{
	char *f[7];
	unsigned nf = 0;
	char *save = NULL;
	unsigned long v;
	struct in_addr a;

	for (char *t = strtok_r(line, " \t\r\n", &save); t && nf < 7;
	     t = strtok_r(NULL, " \t\r\n", &save))
		f[nf++] = t;
	if (nf != 6)
		return -EINVAL;
	memset(n, 0, sizeof(*n));
	if (strlen(f[0]) >= sizeof(n->name) || strlen(f[1]) >= sizeof(n->personality) ||
	    strlen(f[3]) >= sizeof(n->mac) || inet_pton(AF_INET, f[2], &a) != 1)
		return -EINVAL;
	strcpy(n->name, f[0]);
	strcpy(n->personality, f[1]);
	strcpy(n->mac, f[3]);
	n->ipv4 = a.s_addr;
	if (nodes_parse_ulong(f[4], UINT32_MAX, &v) < 0)
		return -EINVAL;
	n->node_id = (uint32_t)v;
	if (!strcmp(f[5], "-"))
		n->pid = -1;
	else if (nodes_parse_ulong(f[5], 0x7fffffffUL, &v) < 0)
		return -EINVAL;
	else
		n->pid = (long)v;
	return 0;
}

int gm_nodes_load(const char *path, struct gm_node **nodes, size_t *count,
		  unsigned *bad_line)
{
	FILE *f = fopen(path, "re");
	struct gm_node *arr = NULL;
	size_t n = 0, cap = 0;
	char line[512];
	unsigned lineno = 0;
	int err = 0;

	*nodes = NULL;
	*count = 0;
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char *p = line;

		lineno++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct gm_node *na = realloc(arr, ncap * sizeof(*arr));
			if (!na) {
				err = -ENOMEM;
				break;
			}
			arr = na;
			cap = ncap;
		}
		/* A line that did not fit the buffer is malformed too. */
		if (!strchr(p, '\n') && !feof(f)) {
			err = -EINVAL;
		} else {
			err = nodes_parse_line(p, &arr[n]);
		}
		if (err) {
			if (bad_line)
				*bad_line = lineno;
			break;
		}
		n++;
	}
	if (!err && ferror(f))
		err = -EIO;
	fclose(f);
	if (err) {
		free(arr);
		return err;
	}
	*nodes = arr;
	*count = n;
	return 0;
}

bool gm_spec_is_ipv4(const char *spec)
{
	size_t hl = strcspn(spec, ":");
	char host[INET_ADDRSTRLEN];
	struct in_addr in;

	if (hl >= sizeof(host))
		return false;
	memcpy(host, spec, hl);
	host[hl] = '\0';
	return inet_pton(AF_INET, host, &in) == 1;
}

int gm_node_resolve(const char *spec, uint32_t *ipv4, uint16_t *port,
		    struct gm_node *node, char *err, size_t errlen)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	size_t hlen = colon ? (size_t)(colon - spec) : strlen(spec);
	struct in_addr a;
	const char *path;
	struct gm_node *nodes;
	size_t n;
	unsigned bad = 0;
	int r;

	*port = LEGO_RPC_PORT;
	if (hlen == 0 || hlen >= sizeof(host)) {
		snprintf(err, errlen, "invalid node '%s'", spec);
		return -EINVAL;
	}
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	if (colon) {
		unsigned long v;

		if (nodes_parse_ulong(colon + 1, 65535, &v) < 0 || v == 0) {
			snprintf(err, errlen, "invalid port in '%s'", spec);
			return -EINVAL;
		}
		*port = (uint16_t)v;
	}
	if (node)
		memset(node, 0, sizeof(*node));
	if (inet_pton(AF_INET, host, &a) == 1) {
		*ipv4 = a.s_addr;
		if (node) {
			node->ipv4 = a.s_addr;
			node->pid = -1;
		}
		return 0;
	}

	path = getenv(GM_NODES_ENV);
	if (!path || !*path) {
		snprintf(err, errlen, "unknown node '%s' (no rack: set " GM_NODES_ENV
			 " or run inside 'scripts/rack exec')", host);
		return -ENOENT;
	}
	r = gm_nodes_load(path, &nodes, &n, &bad);
	if (r == -EINVAL) {
		snprintf(err, errlen, "%s:%u: malformed line (want NAME PERSONALITY IPV4 MAC NODE_ID PID)",
			 path, bad);
		return r;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(nodes[i].name, host)) {
			*ipv4 = nodes[i].ipv4;
			if (node)
				*node = nodes[i];
			free(nodes);
			return 0;
		}
	}
	free(nodes);
	snprintf(err, errlen, "unknown node '%s' (not in %s; see 'legoctl nodes')", host, path);
	return -ENOENT;
}

/* ------------------------------------------------------------------ */
/* LEGO_OP_GM_NODES replies                                            */
/* ------------------------------------------------------------------ */

int gm_nodes_reply_parse(const void *buf, size_t len, struct gm_node_rec *rec, size_t max)
{
	const uint8_t *p = buf;
	struct lego_gm_nodes_reply hdr;
	size_t base = sizeof(hdr), nsz = sizeof(struct lego_gm_node);
	size_t xsz = sizeof(struct lego_gm_node_ext);
	bool ext;

	if (len < base)
		return -EPROTO;
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.count > (len - base) / nsz)
		return -EPROTO;
	if (len == base + (size_t)hdr.count * nsz)
		ext = false;
	else if (len == base + (size_t)hdr.count * (nsz + xsz))
		ext = true;
	else
		return -EPROTO;
	if (hdr.count > max)
		return -ENOSPC;
	for (size_t i = 0; i < hdr.count; i++) {
		memcpy(&rec[i].n, p + base + i * nsz, nsz);
		rec[i].n.name[LEGO_NAME_LEN - 1] = '\0';
		rec[i].has_ext = ext;
		if (ext)
			memcpy(&rec[i].x, p + base + hdr.count * nsz + i * xsz, xsz);
		else
			memset(&rec[i].x, 0, xsz);
	}
	return (int)hdr.count;
}

uint16_t gm_node_rec_port(const struct gm_node_rec *r)
{
	return r->has_ext && r->x.rpc_port ? r->x.rpc_port : LEGO_RPC_PORT;
}

bool gm_node_rec_unhealthy(const struct gm_node_rec *r)
{
	return r->has_ext && (r->x.flags & LEGO_GM_REG_UNHEALTHY);
}

int gm_storage_locate(const struct gm_node_rec *rec, size_t n, uint32_t storage_node,
		      const char *vnode, char *err, size_t errlen)
{
	const struct gm_node_rec *was = NULL;
	int best = -1;
	char pre[LEGO_NAME_LEN + 16] = "";

	for (size_t i = 0; i < n; i++)
		if (rec[i].n.personality == LEGO_PERS_STORAGE && rec[i].n.node_id == storage_node)
			was = &rec[i];
	if (was && was->n.state == LEGO_NODE_ALIVE)
		return (int)(was - rec);
	/* Restarted: the same name (and disk) under a newer id. */
	for (size_t i = 0; was && i < n; i++) {
		const struct gm_node_rec *c = &rec[i];

		if (c->n.personality != LEGO_PERS_STORAGE || c->n.state != LEGO_NODE_ALIVE ||
		    strncmp(c->n.name, was->n.name, LEGO_NAME_LEN))
			continue;
		if (best < 0 || c->n.node_id > rec[best].n.node_id)
			best = (int)i;
	}
	if (best >= 0)
		return best;
	if (vnode)
		snprintf(pre, sizeof(pre), "vNode %s: ", vnode);
	if (!was)
		snprintf(err, errlen, "%sits storage component (id %u) is unknown to GSM", pre,
			 storage_node);
	else if (was->n.state == LEGO_NODE_UNKNOWN)
		snprintf(err, errlen, "%sits storage component %s (id %u) has not been heard "
			 "from since GSM restarted", pre, was->n.name, storage_node);
	else
		snprintf(err, errlen, "%sits storage component %s (id %u) is dead", pre,
			 was->n.name, storage_node);
	return -EHOSTDOWN;
}
