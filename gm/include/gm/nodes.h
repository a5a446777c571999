/*
 * Where components are.
 *
 * The rack's node list, as written by scripts/rack into the file named by
 * $LEGO_NODES: one node per line, whitespace separated,
 *
 *     NAME PERSONALITY IPV4 MAC NODE_ID PID
 *
 * Blank lines and lines starting with '#' are ignored. PID may be '-'.
 *
 * A manager's component list (a LEGO_OP_GM_NODES reply), and which
 * sComponent holds a vNode's files now (gm_storage_locate), used by
 * legoctl and gpmd alike.
 */
#ifndef GM_NODES_H
#define GM_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uapi/lego/gm.h>

#define GM_NODES_ENV "LEGO_NODES"

struct gm_node {
	char name[32];
	char personality[16];
	uint32_t ipv4;		/* network byte order */
	char mac[18];
	uint32_t node_id;
	long pid;		/* -1 if unknown */
};

/* Reads a node file into a malloc'ed array (*nodes, *count). On a malformed
 * line returns -EINVAL with its number in *bad_line (if not NULL). */
int gm_nodes_load(const char *path, struct gm_node **nodes, size_t *count,
		  unsigned *bad_line);

/*
 * Turns "NAME", "NAME:PORT", "A.B.C.D" or "A.B.C.D:PORT" into an address
 * (port defaults to LEGO_RPC_PORT). Names are looked up in $LEGO_NODES; the
 * node found is copied to *node if node is not NULL (for literals it is
 * zeroed except ipv4). On failure returns a negative errno and puts a
 * message meant for the user in err.
 */
/* True if spec is an IPv4 literal, "A.B.C.D" or "A.B.C.D:PORT" (the port is
 * not checked), rather than a node name or id. */
bool gm_spec_is_ipv4(const char *spec);

int gm_node_resolve(const char *spec, uint32_t *ipv4, uint16_t *port,
		    struct gm_node *node, char *err, size_t errlen);

/* One component of a LEGO_OP_GM_NODES reply. */
struct gm_node_rec {
	struct lego_gm_node n;		/* name NUL-terminated by the parser */
	struct lego_gm_node_ext x;	/* zeros when the reply had none */
	bool has_ext;
};

/*
 * Checks and unpacks a LEGO_OP_GM_NODES reply (with or without the
 * lego_gm_node_ext array, gm.h) into rec[0..max). Returns the count,
 * -EPROTO if the reply is malformed, -ENOSPC if it holds more than max.
 */
int gm_nodes_reply_parse(const void *buf, size_t len, struct gm_node_rec *rec, size_t max);

/* The RPC port a component serves on: as registered, else LEGO_RPC_PORT. */
uint16_t gm_node_rec_port(const struct gm_node_rec *r);
/* Whether it registered LEGO_GM_REG_UNHEALTHY. */
bool gm_node_rec_unhealthy(const struct gm_node_rec *r);

/*
 * Which sComponent serves the files of a vNode whose storage GPM recorded
 * on storage_node, given GSM's component list rec[0..n):
 *  - storage_node itself, if it is alive;
 *  - else the alive sComponent with the same name: a storage node that
 *    restarts registers again under a new id, with its name and its disk;
 *  - else none: -EHOSTDOWN, with a message in err such as "vNode web: its
 *    storage component s0 (id 3000) is dead" (the "vNode NAME: " prefix
 *    only if vnode is not NULL).
 * Returns the index in rec of the component to call.
 */
int gm_storage_locate(const struct gm_node_rec *rec, size_t n, uint32_t storage_node,
		      const char *vnode, char *err, size_t errlen);

#endif
