/*
 * legoctl run: start a program in a vNode and be its terminal.
 *
 * GPM places the process (a pComponent, a home mComponent, and the vNode's
 * buffer-cache mComponent); GSM and GMM say where the vNode's storage and
 * cache nodes serve. legoctl then sends LEGO_OP_PROC_RUN to the pComponent
 * (include/uapi/lego/processor.h) and serves its call-backs on the same
 * endpoint: OUTPUT (the program's stdout and stderr, written here as they
 * come) and EXIT (the status, which becomes legoctl's: the exit code, or
 * 128 + the signal). stdin is forwarded with STDIN calls; Ctrl-C (SIGINT),
 * SIGTERM and SIGHUP kill the remote process with that signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <uapi/lego/gm.h>
#include <uapi/lego/processor.h>
#include "gm/nodes.h"
#include "legoctl.h"

#define RUN_STDIN_CHUNK (16 * 1024)

/* The run in progress: the RPC handlers' view (one run per legoctl). */
static struct run_state {
	uint64_t token;
	uint32_t pid;
	bool started, done;
	uint32_t status;
	char report[4096];
	uint64_t out_bytes[3];
	bool out_broken;
} rs;

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int h_output(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req, void *reply,
		    size_t reply_max, size_t *reply_len)
{
	struct lego_proc_output o;

	if (req->len < sizeof(o))
		return -EINVAL;
	memcpy(&o, req->data, sizeof(o));
	if (o.token != rs.token || (o.fd != 1 && o.fd != 2))
		return -ESRCH;
	size_t n = req->len - sizeof(o);
	rs.out_bytes[o.fd] += n;
	/* A reader that went away (legoctl run ... | head): the program
	 * gets EPIPE on its next write, as with a pipe. */
	if (rs.out_broken || write_all((int)o.fd, (const uint8_t *)req->data + sizeof(o), n) < 0) {
		rs.out_broken = true;
		return -EPIPE;
	}
	return 0;
}

static int h_trace(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req, void *reply,
		   size_t reply_max, size_t *reply_len)
{
	struct lego_proc_trace t;

	if (req->len < sizeof(t))
		return -EINVAL;
	memcpy(&t, req->data, sizeof(t));
	if (t.token != rs.token)
		return -ESRCH;
	fflush(stdout);
	strace_print(stderr, &t, (const uint8_t *)req->data + sizeof(t), req->len - sizeof(t));
	fflush(stderr);
	return 0;
}

static int h_exit(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req, void *reply,
		  size_t reply_max, size_t *reply_len)
{
	struct lego_proc_exit e;

	if (req->len < sizeof(e))
		return -EINVAL;
	memcpy(&e, req->data, sizeof(e));
	if (e.token != rs.token)
		return -ESRCH;
	if (!rs.done) {
		size_t n = req->len - sizeof(e);
		if (n >= sizeof(rs.report))
			n = sizeof(rs.report) - 1;
		memcpy(rs.report, (const uint8_t *)req->data + sizeof(e), n);
		rs.report[n] = '\0';
		rs.status = e.status;
		rs.done = true;
	}
	return 0;
}

/* The component list of manager i. */
static int run_nodes(struct gm_rpc_ep *ep, const struct gm_addrs *a, int i, int timeout,
		     struct gm_node_rec **out, char *msg, size_t msglen)
{
	size_t max = LEGO_RPC_MAX_MSG / sizeof(struct lego_gm_node), got = 0;
	uint8_t *buf = malloc(LEGO_RPC_MAX_MSG);
	struct gm_node_rec *rec = calloc(max, sizeof(*rec));
	int r;

	if (!buf || !rec) {
		free(buf);
		free(rec);
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	r = mgr_call(ep, a, i, LEGO_OP_GM_NODES, NULL, 0, buf, LEGO_RPC_MAX_MSG, &got, timeout,
		     msg, msglen);
	if (r >= 0 && (r = gm_nodes_reply_parse(buf, got, rec, max)) < 0)
		snprintf(msg, msglen, "%s sent a malformed component list", gm_mgr_names[i]);
	free(buf);
	if (r < 0) {
		free(rec);
		return r;
	}
	*out = rec;
	return r;
}

static const struct gm_node_rec *rec_by_id(const struct gm_node_rec *r, int n, uint32_t id)
{
	for (int i = 0; i < n; i++)
		if (r[i].n.node_id == id)
			return &r[i];
	return NULL;
}

/* The vNode's record from GPM. */
static int run_vnode(struct gm_rpc_ep *ep, const struct gm_addrs *a, int timeout,
		     const char *name, struct lego_vnode *out, char *msg, size_t msglen)
{
	struct lego_gpm_vnode_list_reply hdr;
	uint8_t *buf = malloc(LEGO_RPC_MAX_MSG);
	size_t got = 0;
	int r;

	if (!buf)
		return -ENOMEM;
	r = mgr_call(ep, a, GM_GPM, LEGO_OP_GPM_VNODE_LIST, NULL, 0, buf, LEGO_RPC_MAX_MSG, &got,
		     timeout, msg, msglen);
	if (r >= 0) {
		r = -ENOENT;
		snprintf(msg, msglen, "no vNode named '%s' (see 'legoctl vnode list')", name);
		if (got >= sizeof(hdr)) {
			memcpy(&hdr, buf, sizeof(hdr));
			for (uint32_t i = 0; i < hdr.count &&
			     sizeof(hdr) + (i + 1) * sizeof(*out) <= got; i++) {
				memcpy(out, buf + sizeof(hdr) + i * sizeof(*out), sizeof(*out));
				out->name[LEGO_NAME_LEN - 1] = '\0';
				if (!strcmp(out->name, name)) {
					r = 0;
					break;
				}
			}
		}
	}
	free(buf);
	return r;
}

/* Argument and environment strings, NUL-terminated, back to back. */
static size_t pack_strings(char *buf, size_t cap, const char *const *v, size_t n, bool *fit)
{
	size_t off = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i]) + 1;
		if (off + l > cap) {
			*fit = false;
			return off;
		}
		memcpy(buf + off, v[i], l);
		off += l;
	}
	return off;
}

static void send_kill(struct gm_rpc_ep *ep, uint32_t ip, uint16_t port, int sig)
{
	struct lego_proc_kill_req k = { rs.token, rs.pid, (uint32_t)sig };
	gm_rpc_call(ep, ip, port, LEGO_OP_PROC_KILL, &k, sizeof(k), NULL, 0, NULL, 2000);
}

/* Forward what stdin has (non-blocking read); 1 at EOF sent, 0 otherwise. */
static int forward_stdin(struct gm_rpc_ep *ep, uint32_t ip, uint16_t port, uint8_t *buf,
			 size_t *pending, bool *eof)
{
	if (!*pending && !*eof) {
		ssize_t n = read(0, buf + sizeof(struct lego_proc_stdin_req), RUN_STDIN_CHUNK);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			return 0;
		if (n <= 0)
			*eof = true;
		else
			*pending = (size_t)n;
	}
	struct lego_proc_stdin_req q = { rs.token, rs.pid, *eof ? LEGO_PROC_STDIN_EOF : 0 };
	memcpy(buf, &q, sizeof(q));
	int r = gm_rpc_call(ep, ip, port, LEGO_OP_PROC_STDIN, buf, sizeof(q) + *pending, NULL, 0,
			    NULL, 5000);
	if (r == -EAGAIN)
		return 0;	/* its buffer is full: again later */
	*pending = 0;
	if (r < 0 && r != -ESRCH && r != -EPIPE)
		fprintf(stderr, "%s: run: stdin not delivered: %s\n", prog, errname(r));
	return *eof || r < 0 ? 1 : 0;
}

int cmd_run(int argc, char **argv)
{
	struct opt opts[] = {
		GM_ADDR_OPTS, { "timeout", true, NULL }, { "vnode", true, NULL },
		{ "report", false, NULL }, { "env", true, NULL }, { "place-only", false, NULL },
		{ "strace", false, NULL },
	};
	enum { O_TIMEOUT = GM_ADDR_NOPTS, O_VNODE, O_REPORT, O_ENV, O_PLACE, O_STRACE, O_N };
	const char *pos[1];
	size_t npos = 0, got;
	struct gm_addrs a;
	unsigned long long timeout;
	char msg[LEGO_GM_ERRMSG_MAX + 128];
	int split = argc, r, status = EXIT_FAIL;
	struct gm_rpc_ep *ep = NULL;
	struct gm_node_rec *gpm = NULL, *gsm = NULL, *gmm = NULL;
	uint8_t *req = NULL, *inbuf = NULL;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--")) {
			split = i;
			break;
		}
	r = parse_args("run", split, argv, opts, O_N, pos, 1, &npos);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (gm_addrs_resolve(opts, &a) < 0 ||
	    opt_num("run", &opts[O_TIMEOUT], 100, 3600000, 5000, &timeout))
		return EXIT_USAGE;
	const char *vn = opts[O_VNODE].val;
	if (!vn)
		return usage_error("run", "%s", "missing --vnode NAME");
	const char *const *pargv = (const char *const *)argv + split + 1;
	int pargc = argc - split - 1;
	if (npos) {	/* "legoctl run --vnode v PATH" without "--" */
		pargv = pos;
		pargc = 1;
	}
	if (pargc < 1 || !pargv[0][0])
		return usage_error("run", "%s", "missing the program: legoctl run --vnode NAME -- PATH [ARGS...]");
	if (pargv[0][0] != '/')
		return usage_error("run", "the program path '%s' must be absolute (in the vNode)",
				   pargv[0]);

	if (!(ep = open_client()))
		return EXIT_FAIL;
	int to = (int)timeout;

	/* Placement and the nodes' addresses. */
	union {
		struct lego_gpm_place_reply p;
		char m[LEGO_GM_ERRMSG_MAX];
	} place;
	char vreq[LEGO_NAME_LEN] = { 0 };
	strncpy(vreq, vn, sizeof(vreq) - 1);
	struct lego_vnode v;
	if ((r = run_vnode(ep, &a, to, vn, &v, msg, sizeof(msg))) < 0) {
		fprintf(stderr, "%s: run: %s\n", prog, msg);
		goto out;
	}
	r = mgr_call(ep, &a, GM_GPM, LEGO_OP_GPM_PLACE, vreq, sizeof(vreq), &place, sizeof(place),
		     &got, to, msg, sizeof(msg));
	if (r < 0 || got != sizeof(place.p)) {
		fprintf(stderr, "%s: run: cannot place a process in vNode %s: %s\n", prog, vn,
			r < 0 ? msg : "GPM sent a malformed reply");
		goto out;
	}
	place.p.processor.name[LEGO_NAME_LEN - 1] = place.p.home_memory.name[LEGO_NAME_LEN - 1] = 0;
	if (opts[O_PLACE].val) {
		char ip1[INET_ADDRSTRLEN], ip2[INET_ADDRSTRLEN];
		printf("placement of %s in vNode %s (id %u): processor %s (id %u, %s), home memory "
		       "%s (id %u, %s), buffer cache id %u\n", pargv[0], vn, place.p.vnode_id,
		       place.p.processor.name, place.p.processor.node_id,
		       ip_str(place.p.processor.ipv4, ip1), place.p.home_memory.name,
		       place.p.home_memory.node_id, ip_str(place.p.home_memory.ipv4, ip2),
		       place.p.cache_node);
		status = 0;
		goto out;
	}
	int ngpm = run_nodes(ep, &a, GM_GPM, to, &gpm, msg, sizeof(msg));
	int ngsm = ngpm < 0 ? -1 : run_nodes(ep, &a, GM_GSM, to, &gsm, msg, sizeof(msg));
	int ngmm = ngsm < 0 ? -1 : run_nodes(ep, &a, GM_GMM, to, &gmm, msg, sizeof(msg));
	if (ngmm < 0) {
		fprintf(stderr, "%s: run: %s\n", prog, msg);
		goto out;
	}
	const struct gm_node_rec *pc = rec_by_id(gpm, ngpm, place.p.processor.node_id);
	const struct gm_node_rec *home = rec_by_id(gmm, ngmm, place.p.home_memory.node_id);
	const struct gm_node_rec *cache = rec_by_id(gmm, ngmm, place.p.cache_node);
	int si = gm_storage_locate(gsm, (size_t)ngsm, v.storage_node, vn, msg, sizeof(msg));
	if (!pc || !home || si < 0) {
		fprintf(stderr, "%s: run: %s\n", prog, si < 0 ? msg :
			!pc ? "the chosen processor is not in GPM's list" :
			"the chosen home memory component is not in GMM's list");
		goto out;
	}

	/* RUN. */
	const char *envp[64];
	size_t envc = 0;
	envp[envc++] = "PATH=/bin:/sbin:/usr/bin:/usr/sbin";
	envp[envc++] = "HOME=/";
	const char *term = getenv("TERM");
	char termv[128];
	if (term && strlen(term) < 100) {
		snprintf(termv, sizeof(termv), "TERM=%s", term);
		envp[envc++] = termv;
	}
	if (opts[O_ENV].val)	/* one --env K=V (the last given) */
		envp[envc++] = opts[O_ENV].val;
	size_t plen = strlen(pargv[0]);
	req = malloc(LEGO_RPC_MAX_MSG);
	inbuf = malloc(sizeof(struct lego_proc_stdin_req) + RUN_STDIN_CHUNK);
	if (!req || !inbuf)
		goto out;
	bool fit = plen < 1024;
	struct lego_proc_run_req q;
	memset(&q, 0, sizeof(q));
	size_t off = sizeof(q) + plen;
	size_t s1 = fit ? pack_strings((char *)req + off, LEGO_RPC_MAX_MSG - off, pargv,
				       (size_t)pargc, &fit) : 0;
	size_t s2 = fit ? pack_strings((char *)req + off + s1, LEGO_RPC_MAX_MSG - off - s1, envp,
				       envc, &fit) : 0;
	if (!fit) {
		fprintf(stderr, "%s: run: the path, arguments and environment exceed %u bytes\n",
			prog, LEGO_RPC_MAX_MSG);
		r = -E2BIG;
		goto out;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	rs.token = ((uint64_t)getpid() << 32) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20);
	q.token = rs.token;
	q.vnode = v.vnode_id;
	q.flags = (opts[O_REPORT].val ? LEGO_PROC_RUN_REPORT : 0) |
		  (opts[O_STRACE].val ? LEGO_PROC_RUN_STRACE : 0);
	memcpy(q.vnode_name, v.name, sizeof(q.vnode_name));
	q.storage_ipv4 = gsm[si].n.ipv4;
	q.storage_port = gm_node_rec_port(&gsm[si]);
	q.home_ipv4 = home->n.ipv4;
	q.home_port = gm_node_rec_port(home);
	if (cache) {
		q.cache_ipv4 = cache->n.ipv4;
		q.cache_port = gm_node_rec_port(cache);
	}
	q.client_port = gm_rpc_port(ep);
	q.path_len = (uint16_t)plen;
	q.argc = (uint32_t)pargc;
	q.envc = (uint32_t)envc;
	q.strings_len = (uint32_t)(s1 + s2);
	memcpy(req, &q, sizeof(q));
	memcpy(req + sizeof(q), pargv[0], plen);

	if (gm_rpc_serve_register(ep, LEGO_OP_PROC_OUTPUT, h_output, NULL, 64) < 0 ||
	    gm_rpc_serve_register(ep, LEGO_OP_PROC_EXIT, h_exit, NULL, 64) < 0 ||
	    gm_rpc_serve_register(ep, LEGO_OP_PROC_TRACE, h_trace, NULL, 64) < 0)
		goto out;
	uint32_t pip = pc->n.ipv4;
	uint16_t pport = gm_node_rec_port(pc);
	union {
		struct lego_proc_run_reply ok;
		char m[LEGO_PROC_MSG_MAX];
	} rr;
	memset(&rr, 0, sizeof(rr));
	/* Loading a program takes a few storage and memory round trips. */
	r = gm_rpc_call(ep, pip, pport, LEGO_OP_PROC_RUN, req, sizeof(q) + plen + s1 + s2, &rr,
			sizeof(rr), &got, to < 30000 ? 30000 : to);
	if (r < 0) {
		rr.m[sizeof(rr.m) - 1] = '\0';
		if (r == -ENOEXEC || r == -ENOENT || r == -EACCES || r == -ENOTDIR || r == -ELOOP ||
		    (got && rr.m[0]))
			fprintf(stderr, "%s: run: %s: %s%s%s\n", prog, pargv[0], strerror(-r),
				got && rr.m[0] ? ": " : "", got ? rr.m : "");
		else
			fprintf(stderr, "%s: run: %s: %s (processor %s)\n", prog, pargv[0],
				errname(r), pc->n.name);
		status = r == -ENOENT ? 127 : r == -EACCES || r == -ENOEXEC ? 126 : EXIT_FAIL;
		goto out;
	}
	rs.pid = rr.ok.pid;
	rs.started = true;

	/* Serve call-backs, forward stdin and signals, until EXIT. */
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int fl = fcntl(0, F_GETFL);
	bool stdin_nb = fl >= 0 && fcntl(0, F_SETFL, fl | O_NONBLOCK) == 0;
	bool in_done = !stdin_nb, in_eof = false;
	size_t pending = 0;
	int killed = 0;
	while (!rs.done) {
		if (got_signal && !killed) {
			killed = got_signal;
			send_kill(ep, pip, pport, killed);
		}
		struct pollfd pf[2] = { { gm_rpc_fd(ep), POLLIN, 0 }, { 0, POLLIN, 0 } };
		int nf = in_done || pending ? 1 : 2;
		int pr = poll(pf, (nfds_t)nf, pending ? 20 : 500);
		if (pr < 0 && errno != EINTR)
			break;
		gm_rpc_poll(ep, 0);
		if (!in_done && (pending || (nf == 2 && pf[1].revents)))
			in_done = forward_stdin(ep, pip, pport, inbuf, &pending, &in_eof) == 1;
	}
	if (stdin_nb)
		fcntl(0, F_SETFL, fl);
	if (rs.report[0])
		fprintf(stderr, "%s%s", rs.report,
			rs.report[strlen(rs.report) - 1] == '\n' ? "" : "\n");
	if (rs.status & 0x7f)
		status = 128 + (int)(rs.status & 0x7f);
	else
		status = (int)((rs.status >> 8) & 0xff);
out:
	free(req);
	free(inbuf);
	free(gpm);
	free(gsm);
	free(gmm);
	gm_rpc_close(ep);
	return status;
}

/* legoctl excache [NODE]: the ExCache counters of a processor node
 * (LEGO_OP_PROC_STATS), or of every alive one. */
int cmd_excache(int argc, char **argv)
{
	struct opt opts[] = { GM_ADDR_OPTS, { "timeout", true, NULL } };
	const char *pos[1];
	size_t npos = 0, got;
	struct gm_addrs a;
	unsigned long long timeout;
	char msg[LEGO_GM_ERRMSG_MAX + 128], text[4097];
	struct gm_node_rec *gpm = NULL;
	struct gm_rpc_ep *ep;
	int r, n, shown = 0, status = 0;

	r = parse_args("excache", argc, argv, opts, GM_ADDR_NOPTS + 1, pos, 1, &npos);
	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	if (gm_addrs_resolve(opts, &a) < 0 ||
	    opt_num("excache", &opts[GM_ADDR_NOPTS], 100, 3600000, 3000, &timeout))
		return EXIT_USAGE;
	if (!(ep = open_client()))
		return EXIT_FAIL;
	n = run_nodes(ep, &a, GM_GPM, (int)timeout, &gpm, msg, sizeof(msg));
	if (n < 0) {
		fprintf(stderr, "%s: excache: %s\n", prog, msg);
		gm_rpc_close(ep);
		return EXIT_FAIL;
	}
	for (int i = 0; i < n; i++) {
		const struct gm_node_rec *rec = &gpm[i];
		if (rec->n.personality != LEGO_PERS_PROCESSOR || rec->n.state != LEGO_NODE_ALIVE)
			continue;
		if (npos && strcmp(rec->n.name, pos[0]))
			continue;
		r = gm_rpc_call(ep, rec->n.ipv4, gm_node_rec_port(rec), LEGO_OP_PROC_STATS, NULL, 0,
				text, sizeof(text) - 1, &got, (int)timeout);
		shown++;
		if (r < 0) {
			fprintf(stderr, "%s: excache: %s: %s\n", prog, rec->n.name, errname(r));
			status = EXIT_FAIL;
			continue;
		}
		text[got < sizeof(text) ? got : sizeof(text) - 1] = '\0';
		printf("%s (id %u): %s%s", rec->n.name, rec->n.node_id, text,
		       got && text[strlen(text) - 1] == '\n' ? "" : "\n");
	}
	if (!shown) {
		fprintf(stderr, "%s: excache: %s\n", prog, npos ? "no alive processor of that name"
			: "no processor is alive");
		status = EXIT_FAIL;
	}
	free(gpm);
	gm_rpc_close(ep);
	return status;
}

