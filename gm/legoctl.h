/*
 * legoctl's internals shared by its source files: legoctl.c (command
 * table, argument parsing, node commands), legoctl_gm.c (commands that
 * talk to the global managers), legoctl_fs.c (files of a vNode on its
 * storage component), legoctl_mem.c (the memory monitor's test client),
 * legoctl_fake.c (the fake monitor test tool), legoctl_fakest.c and
 * legoctl_fakemem.c (its in-memory storage and memory services). Not an
 * installed interface.
 */
#ifndef LEGOCTL_H
#define LEGOCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gm/rpc.h"

/* Exit status of every command (also in 'legoctl --help'). */
#define EXIT_FAIL 1		/* a call or an operation failed */
#define EXIT_USAGE 2		/* bad command line */
#define EXIT_NOT_YET 3		/* the feature is not available yet */

extern const char *prog;

struct cmd_help {
	const char *name;
	const char *usage;
	const char *text;
};

const struct cmd_help *find_help(const char *name);
void usage_cmd(FILE *f, const char *name);
int usage_error(const char *cmd, const char *fmt, const char *arg);

/* Options take a value as "--opt V" or "--opt=V". */
struct opt {
	const char *name;	/* without "--" */
	bool has_arg;
	const char *val;	/* value, or "" for a flag that was given */
};

int parse_args(const char *cmd, int argc, char **argv, struct opt *opts, size_t nopts,
	       const char **pos, size_t max_pos, size_t *npos);
int opt_num(const char *cmd, const struct opt *o, unsigned long long min,
	    unsigned long long max, unsigned long long dflt, unsigned long long *out);

uint64_t now_ns(void);
struct gm_rpc_ep *open_client(void);
const char *errname(int err);
void wire_str(char *out, const char *in, size_t n);

/* ---- the global managers (legoctl_gm.c) ---- */

enum { GM_GPM, GM_GMM, GM_GSM, GM_NMGR };

/* Where the three managers are: --gm IP / $LEGO_GM / 198.18.0.1 with the
 * standard ports, each overridable by --gpm/--gmm/--gsm or
 * $LEGO_GPM/$LEGO_GMM/$LEGO_GSM as IP[:PORT]. */
struct gm_addrs {
	uint32_t ip[GM_NMGR];
	uint16_t port[GM_NMGR];
};

extern const char *const gm_mgr_names[GM_NMGR];	/* "gpm", "gmm", "gsm" */

/* The option entries every manager command takes, in this order. */
#define GM_ADDR_OPTS \
	{ "gm", true, NULL }, { "gpm", true, NULL }, { "gmm", true, NULL }, { "gsm", true, NULL }
#define GM_ADDR_NOPTS 4

/* Resolves the addresses from the four GM_ADDR_OPTS entries at o. Prints
 * an error and returns -1 if one is malformed. */
int gm_addrs_resolve(const struct opt *o, struct gm_addrs *a);
/* Which manager "gpm", "gpmd", "gmm", ... names, or -1. */
int gm_mgr_index(const char *name);

/*
 * Calls manager i. On failure writes a message for the user to msg and
 * returns the negative errno; a manager's own message (an error reply's
 * payload, gm.h) is preferred to strerror.
 */
int mgr_call(struct gm_rpc_ep *ep, const struct gm_addrs *a, int i, uint16_t op,
	     const void *req, size_t req_len, void *reply, size_t reply_max, size_t *got,
	     int timeout_ms, char *msg, size_t msglen);

/* Formatting helpers. */
void json_str(const char *s);				/* a JSON string on stdout */
const char *ip_str(uint32_t ip, char *buf);		/* buf: INET_ADDRSTRLEN */
void time_str(uint64_t ms, char *buf, size_t len);	/* UTC ISO 8601, "-" for 0 */

int cmd_gm_nodes(int argc, char **argv);
int cmd_vnode(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_excache(int argc, char **argv);	/* legoctl_run.c */
/* legoctl_strace.c: one TRACE record as strace(1) prints it. */
struct lego_proc_trace;
void strace_print(FILE *o, const struct lego_proc_trace *t, const uint8_t *strs, size_t slen);
int cmd_choose(int argc, char **argv);
int gm_ping_managers(const struct gm_addrs *a, unsigned timeout_ms, bool json);

/* ---- legoctl.c ---- */
int cmd_nodes_local(int argc, char **argv);

/* ---- legoctl_fs.c ---- */
int cmd_fs(int argc, char **argv);

/* ---- legoctl_mem.c ---- */
int cmd_mem(int argc, char **argv);

/* ---- legoctl_fake.c ---- */
int cmd_fake_monitor(int argc, char **argv);

/* ---- legoctl_fakest.c: the fake monitor's storage service ---- */
struct fakest;
/* An empty store of total_bytes (vNode 0 holds "/"); unhealthy: every file
 * request fails -EIO and STATFS says "not mounted" with a message. */
struct fakest *fakest_new(uint64_t total_bytes, bool unhealthy);
void fakest_free(struct fakest *s);
/* Serves the LEGO_OP_ST_* opcodes (storage.h) on ep. 0 or -errno. */
int fakest_register(struct fakest *s, struct gm_rpc_ep *ep);

/* ---- legoctl_fakemem.c: the fake monitor's memory service ---- */
struct fakemem;
/* One node that is home and owner of everything, at ip:port. */
struct fakemem *fakemem_new(uint32_t ip, uint16_t port, uint64_t mem_bytes);
void fakemem_set_node(struct fakemem *m, uint32_t node_id);
void fakemem_free(struct fakemem *m);
/* Serves part of the LEGO_OP_MEM_* opcodes (memory.h) on ep. 0 or -errno. */
int fakemem_register(struct fakemem *m, struct gm_rpc_ep *ep);

#endif
