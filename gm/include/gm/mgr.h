/*
 * The framework shared by the three global managers (gpmd, gmmd, gsmd):
 * option parsing, logging, the registry of components with registration,
 * heartbeats and failure detection, load polling, death notifications,
 * the state file, and the epoll event loop. A daemon describes itself
 * with a struct gm_mgr_desc and calls gm_mgr_main(); see gm/gmmd.c.
 *
 * Threads. The event-loop thread owns everything: the registry, the
 * daemon's own tables, the serving RPC endpoint and all handlers. Calls
 * that can wait on a slow or dead peer without anyone waiting for their
 * answer (load polls, death notifications) run on one worker thread with
 * its own endpoint; it gets jobs and hands results back through a queue
 * and an eventfd, so the loop never stalls on them. Calls whose answer a
 * handler needs (GPM asking GMM/GSM) are made from the handler on the
 * serving endpoint with a short timeout: while such a call waits, the RPC
 * library keeps serving incoming requests (heartbeats) on that endpoint.
 */
#ifndef GM_MGR_H
#define GM_MGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "registry.h"
#include "rpc.h"
#include "statefile.h"

#define GM_MGR_DEFAULT_ADDR "198.18.0.1"
#define GM_MGR_DEFAULT_HEARTBEAT_MS 200
#define GM_MGR_DEFAULT_DEAD_AFTER_MS 1500
#define GM_MGR_DEFAULT_POLL_MS 1000
#define GM_MGR_DEFAULT_CALL_TIMEOUT_MS 300

struct gm_mgr;

/* A daemon-specific option: --name VALUE (arg != NULL) or --name. */
struct gm_mgr_option {
	const char *name;
	const char *arg;		/* metavariable for the help, NULL for a flag */
	const char *help;
};

struct gm_mgr_desc {
	const char *daemon;		/* "gmmd": log prefix, state file name */
	const char *title;		/* one line for --help */
	uint32_t personality;		/* the kind of component it manages */
	uint16_t default_port;
	const struct gm_mgr_option *options;
	size_t noptions;
	/* An option of the table above (val is "" for a flag). 0, or
	 * -EINVAL after writing a message to err. */
	int (*option)(void *arg, const char *name, const char *val, char *err, size_t errlen);
	/* After options and before the state is loaded: register the
	 * daemon's RPC handlers on gm_mgr_ep(). 0 or -errno. */
	int (*setup)(struct gm_mgr *m, void *arg);
	/* The daemon's own state-file records (may be NULL). */
	int (*state_line)(void *arg, char **f, int nf, char *err, size_t errlen);
	void (*state_write)(void *arg, struct gm_buf *b);
	bool (*state_dirty)(void *arg);		/* changed since the last save? */
	void (*state_saved)(void *arg);		/* ... now saved */
	/* After the state is loaded and before serving: log a summary. */
	void (*loaded)(struct gm_mgr *m, void *arg);
};

/* Runs the daemon; returns its exit status (0 after SIGTERM/SIGINT, 1 on
 * a runtime error, 2 on a usage error). */
int gm_mgr_main(int argc, char **argv, const struct gm_mgr_desc *d, void *arg);

struct gm_registry *gm_mgr_registry(struct gm_mgr *m);
struct gm_rpc_ep *gm_mgr_ep(struct gm_mgr *m);
uint32_t gm_mgr_listen_ip(const struct gm_mgr *m);	/* network byte order */
int gm_mgr_call_timeout(const struct gm_mgr *m);	/* ms, for calls from handlers */

/* Saves the state file now if anything persistent changed. Handlers call
 * it before replying, so that nothing a reply promised (an id, a vNode)
 * can be forgotten by a crash. */
void gm_mgr_sync(struct gm_mgr *m);

/* Logs a rejected request, rate-limited (hostile input must not flood
 * the log): at most one line per second, with a count. */
void gm_mgr_reject(struct gm_mgr *m, const struct gm_rpc_req *req, const char *why);

/*
 * Picks one ALIVE component with policy fn (need_bytes as the policy
 * takes it) and describes it in *out. Returns its node id, or the
 * policy's -EHOSTDOWN / -ENOSPC. Does not charge the decision
 * (gm_reg_charge does).
 */
int gm_mgr_choose(struct gm_mgr *m, gm_policy_fn fn, uint64_t need_bytes,
		  struct lego_gm_choice *out);

/* Why gm_mgr_choose() said -EHOSTDOWN, for the user: "no storage
 * component is alive", or "no healthy storage component is alive (1
 * unhealthy)" when the only alive ones registered LEGO_GM_REG_UNHEALTHY.
 * Returns buf. */
const char *gm_mgr_none_alive(struct gm_mgr *m, char *buf, size_t len);

/* Puts an error message for the user into a reply (see gm.h: only for
 * replies to legoctl and managers). Returns status, for
 * "return gm_errmsg(...)". */
int gm_errmsg(int status, void *reply, size_t reply_max, size_t *reply_len,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* "IP[:PORT]" -> address; port defaults to dflt_port. 0 or -EINVAL. */
int gm_parse_addr(const char *s, uint16_t dflt_port, uint32_t *ip, uint16_t *port);

#endif
