/*
 * The rack's node list, as written by scripts/rack into the file named by
 * $LEGO_NODES: one node per line, whitespace separated,
 *
 *     NAME PERSONALITY IPV4 MAC NODE_ID PID
 *
 * Blank lines and lines starting with '#' are ignored. PID may be '-'.
 */
#ifndef GM_NODES_H
#define GM_NODES_H

#include <stddef.h>
#include <stdint.h>

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
int gm_node_resolve(const char *spec, uint32_t *ipv4, uint16_t *port,
		    struct gm_node *node, char *err, size_t errlen);

#endif
