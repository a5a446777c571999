/*
 * The global managers' common daemon: options, state file, registry
 * handlers, failure detection, load polls, death notifications and the
 * epoll event loop (include/gm/mgr.h, docs/global-managers.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>

#include "../include/gm/log.h"
#include "../include/gm/mgr.h"

/* Failure detection runs this often; a death is declared at most this
 * late after dead_after_ms (plus any nested call a handler is making). */
#define MGR_TICK_MS 50
/* Jobs queued for the worker at most: a hostile burst of registrations
 * cannot make the queue grow without bound. */
#define MGR_MAX_JOBS 4096
#define MGR_JOB_BYTES 64
#define MGR_PING_MAX (64u * 1024)

/* ------------------------------------------------------------------ */
/* Worker thread: outgoing calls nobody waits for                      */
/* ------------------------------------------------------------------ */

struct mgr_job {
	struct mgr_job *next;
	uint16_t opcode;
	uint32_t dst_ip;		/* network order */
	uint16_t dst_port;
	uint32_t node_id;		/* the component called */
	uint32_t incarnation;
	uint32_t about;			/* NOTIFY: the dead component */
	uint8_t req[MGR_JOB_BYTES];
	size_t req_len;
	/* filled by the worker */
	int status;
	uint8_t reply[MGR_JOB_BYTES];
	size_t reply_len;
};

struct mgr_worker {
	pthread_t tid;
	bool started;
	/* lock protects todo_*, done_*, njobs and stop; cond signals todo
	 * or stop to the worker. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct mgr_job *todo_head, *todo_tail;
	struct mgr_job *done_head, *done_tail;
	unsigned njobs;			/* queued + running + done not yet collected */
	bool stop;
	/* Immutable after start. efd is written by the worker when it puts
	 * a job on done, read by the loop. ep belongs to the worker thread. */
	int efd;
	struct gm_rpc_ep *ep;
	int timeout_ms;
};

static void *mgr_worker_main(void *p)
{
	struct mgr_worker *w = p;

	for (;;) {
		struct mgr_job *j;
		uint64_t one = 1;

		pthread_mutex_lock(&w->lock);
		while (!w->todo_head && !w->stop)
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->stop) {
			pthread_mutex_unlock(&w->lock);
			return NULL;
		}
		j = w->todo_head;
		w->todo_head = j->next;
		if (!w->todo_head)
			w->todo_tail = NULL;
		pthread_mutex_unlock(&w->lock);

		j->status = gm_rpc_call(w->ep, j->dst_ip, j->dst_port, j->opcode, j->req,
					j->req_len, j->reply, sizeof(j->reply), &j->reply_len,
					w->timeout_ms);
		if (j->status == -EMSGSIZE)
			j->reply_len = 0;

		pthread_mutex_lock(&w->lock);
		j->next = NULL;
		if (w->done_tail)
			w->done_tail->next = j;
		else
			w->done_head = j;
		w->done_tail = j;
		pthread_mutex_unlock(&w->lock);
		if (write(w->efd, &one, sizeof(one)) < 0) {
			/* The counter cannot overflow in practice; nothing to do. */
		}
	}
}

/* ------------------------------------------------------------------ */
/* The manager                                                         */
/* ------------------------------------------------------------------ */

/* Everything below is owned by the event-loop thread, except w (see
 * struct mgr_worker). */
struct gm_mgr {
	const struct gm_mgr_desc *d;
	void *arg;

	/* options */
	uint32_t listen_ip;
	uint16_t port;
	const char *state_dir;
	bool no_state, reset_state, verbose;
	unsigned heartbeat_ms, dead_after_ms, poll_ms, call_timeout_ms;
	unsigned max_comps;
	const char *pid_file;

	char state_path[4096];
	int lock_fd;
	bool save_failed;		/* last save failed: logged once */

	struct gm_registry reg;
	struct gm_pol_comp *snap;	/* scratch for gm_mgr_choose, reg.max entries */
	struct gm_rpc_ep *ep;
	struct mgr_worker w;
	unsigned polls_outstanding;
	uint64_t next_poll_mono;
	uint64_t t_start_mono;

	/* rate-limited reject log */
	unsigned rej_count;
	uint64_t rej_logged_mono;
	char rej_last[256];
};

struct gm_registry *gm_mgr_registry(struct gm_mgr *m)
{
	return &m->reg;
}

struct gm_rpc_ep *gm_mgr_ep(struct gm_mgr *m)
{
	return m->ep;
}

uint32_t gm_mgr_listen_ip(const struct gm_mgr *m)
{
	return m->listen_ip;
}

int gm_mgr_call_timeout(const struct gm_mgr *m)
{
	return (int)m->call_timeout_ms;
}

static const char *ipstr(uint32_t ip, char *buf)
{
	struct in_addr a = { ip };

	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
	return buf;
}

int gm_parse_addr(const char *s, uint16_t dflt_port, uint32_t *ip, uint16_t *port)
{
	char host[INET_ADDRSTRLEN];
	const char *colon = strchr(s, ':');
	size_t hlen = colon ? (size_t)(colon - s) : strlen(s);
	uint64_t p = dflt_port;

	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (gm_parse_ipv4(host, ip))
		return -EINVAL;
	if (colon && (gm_parse_u64(colon + 1, 65535, &p) || p == 0))
		return -EINVAL;
	*port = (uint16_t)p;
	return 0;
}

int gm_errmsg(int status, void *reply, size_t reply_max, size_t *reply_len,
	      const char *fmt, ...)
{
	char msg[LEGO_GM_ERRMSG_MAX];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(msg) + 1;
	if (n <= reply_max) {
		memcpy(reply, msg, n);
		*reply_len = n;
	}
	return status;
}

/* ------------------------------------------------------------------ */
/* State file                                                          */
/* ------------------------------------------------------------------ */

void gm_mgr_sync(struct gm_mgr *m)
{
	struct gm_buf b = { 0 };
	bool daemon_dirty = m->d->state_dirty && m->d->state_dirty(m->arg);
	int r;

	if (!m->reg.dirty && !daemon_dirty)
		return;
	if (m->no_state) {
		m->reg.dirty = false;
		if (m->d->state_saved)
			m->d->state_saved(m->arg);
		return;
	}
	gm_reg_state_write(&m->reg, &b);
	if (m->d->state_write)
		m->d->state_write(m->arg, &b);
	r = b.err ? b.err : gm_state_save(m->state_path, m->d->daemon, b.data, b.len);
	gm_buf_free(&b);
	if (r < 0) {
		/* Keep serving from memory; retried at the next change or
		 * tick. Logged once per failure streak. */
		if (!m->save_failed)
			gm_log("cannot save state to %s: %s (still serving; retrying)",
			       m->state_path, strerror(-r));
		m->save_failed = true;
		return;
	}
	if (m->save_failed)
		gm_log("state saved to %s again", m->state_path);
	m->save_failed = false;
	m->reg.dirty = false;
	if (m->d->state_saved)
		m->d->state_saved(m->arg);
}

/* Parses the body of a state file into the registry and the daemon. */
static int mgr_parse_state(struct gm_mgr *m, char *body, char *err, size_t errlen)
{
	unsigned lineno = 1;	/* the header is line 1 */
	uint64_t now_mono = gm_mono_ms(), now_wall = gm_wall_ms();
	char msg[200];

	for (char *line = body, *next; *line; line = next) {
		char *f[16];
		int nf, r;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else
			next = line + strlen(line);
		nf = gm_state_fields(line, f, 16);
		if (nf == 0)
			continue;
		msg[0] = '\0';
		if (nf < 0) {
			snprintf(msg, sizeof(msg), "too many fields");
			r = -EINVAL;
		} else {
			r = gm_reg_state_line(&m->reg, f, nf, now_mono, now_wall, msg, sizeof(msg));
			if (r == 0 && m->d->state_line)
				r = m->d->state_line(m->arg, f, nf, msg, sizeof(msg));
			if (r == 0) {
				snprintf(msg, sizeof(msg), "unknown record '%.40s'", f[0]);
				r = -EINVAL;
			}
		}
		if (r < 0) {
			snprintf(err, errlen, "%s:%u: %s", m->state_path, lineno, msg);
			return -EBADMSG;
		}
	}
	return 0;
}

/* Moves a state file aside (for --reset-state) and says where. */
static void mgr_move_aside(struct gm_mgr *m)
{
	char aside[4200];

	snprintf(aside, sizeof(aside), "%s.discarded-%" PRIu64, m->state_path, gm_wall_ms());
	if (rename(m->state_path, aside) == 0)
		gm_log("--reset-state: moved the old state file to %s", aside);
	else if (errno != ENOENT)
		gm_log("--reset-state: cannot move %s aside: %s", m->state_path, strerror(errno));
}

static int mgr_load_state(struct gm_mgr *m)
{
	char err[8192] = "";
	char *body = NULL;
	int r;

	if (m->no_state) {
		gm_log("--no-state: nothing is persisted; a restart forgets ids%s",
		       m->d->state_line ? " and vNodes" : "");
		return 0;
	}
	if (m->reset_state) {
		mgr_move_aside(m);
		return 0;
	}
	r = gm_state_load(m->state_path, m->d->daemon, &body, err, sizeof(err));
	if (r == -ENOENT) {
		gm_log("no state file %s: starting empty", m->state_path);
		return 0;
	}
	if (r == 0)
		r = mgr_parse_state(m, body, err, sizeof(err));
	free(body);
	if (r == -EBADMSG) {
		gm_log("invalid state file: %s", err);
		gm_log("refusing to start: fix or remove it, or start with --reset-state "
		       "(moves it aside and starts empty)");
		return r;
	}
	if (r < 0) {
		gm_log("cannot read state file %s: %s", m->state_path, strerror(-r));
		return r;
	}
	unsigned unknown = 0, dead = 0;
	for (size_t i = 0; i < m->reg.n; i++) {
		unknown += m->reg.comps[i].state == LEGO_NODE_UNKNOWN;
		dead += m->reg.comps[i].state == LEGO_NODE_DEAD;
	}
	gm_log("loaded %s: next id %u, %zu components (%u to hear from within %u ms, %u dead)",
	       m->state_path, m->reg.next_id, m->reg.n, unknown, m->dead_after_ms, dead);
	/* Parsing cannot leave a record in a state to write back, so the
	 * daemon's tables start clean. */
	m->reg.dirty = false;
	if (m->d->state_saved)
		m->d->state_saved(m->arg);
	return 0;
}

static int mgr_lock_state_dir(struct gm_mgr *m)
{
	char path[4200];

	if (m->no_state)
		return 0;
	if (mkdir(m->state_dir, 0755) < 0 && errno != EEXIST) {
		gm_log("cannot create state directory %s: %s", m->state_dir, strerror(errno));
		return -1;
	}
	snprintf(m->state_path, sizeof(m->state_path), "%s/%s.state", m->state_dir, m->d->daemon);
	snprintf(path, sizeof(path), "%s/%s.lock", m->state_dir, m->d->daemon);
	m->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (m->lock_fd < 0) {
		gm_log("cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	/* Two daemons saving one state file would lose each other's ids. */
	if (flock(m->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		gm_log("another %s uses the state directory %s (%s is locked)", m->d->daemon,
		       m->state_dir, path);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Registry events: log, notify                                        */
/* ------------------------------------------------------------------ */

static void mgr_queue_job(struct gm_mgr *m, struct mgr_job *j)
{
	struct mgr_worker *w = &m->w;

	pthread_mutex_lock(&w->lock);
	if (w->njobs >= MGR_MAX_JOBS) {
		pthread_mutex_unlock(&w->lock);
		free(j);
		return;
	}
	w->njobs++;
	j->next = NULL;
	if (w->todo_tail)
		w->todo_tail->next = j;
	else
		w->todo_head = j;
	w->todo_tail = j;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

static struct mgr_job *mgr_new_job(const struct gm_comp *c, uint16_t opcode)
{
	struct mgr_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	j->opcode = opcode;
	j->dst_ip = c->ipv4;
	j->dst_port = c->rpc_port;
	j->node_id = c->node_id;
	j->incarnation = c->incarnation;
	return j;
}

/* Tells every alive monitor that asked for it that dead died. */
static void mgr_notify_death(struct gm_mgr *m, const struct gm_comp *dead)
{
	struct lego_gm_notify n = { dead->node_id, m->reg.personality, gm_wall_ms() };
	unsigned sent = 0;

	for (size_t i = 0; i < m->reg.n; i++) {
		const struct gm_comp *c = &m->reg.comps[i];
		struct mgr_job *j;

		if (c->state != LEGO_NODE_ALIVE || !(c->flags & LEGO_GM_REG_WANT_NOTIFY) ||
		    c->node_id == dead->node_id)
			continue;
		j = mgr_new_job(c, LEGO_OP_GM_NOTIFY);
		if (!j)
			continue;
		j->about = dead->node_id;
		memcpy(j->req, &n, sizeof(n));
		j->req_len = sizeof(n);
		mgr_queue_job(m, j);
		sent++;
	}
	if (sent)
		gm_log("telling %u monitor%s that id %u died", sent, sent == 1 ? "" : "s",
		       dead->node_id);
}

static void mgr_event(void *arg, const struct gm_reg_event *ev)
{
	struct gm_mgr *m = arg;
	const struct gm_comp *c = ev->c;
	char ip[INET_ADDRSTRLEN];

	switch (ev->type) {
	case GM_EV_REGISTERED: {
		char what[160], replaces[32] = "";

		snprintf(what, sizeof(what), "%u cpus, %" PRIu64 " MiB memory", c->cpus,
			 c->mem_bytes >> 20);
		if (c->storage_bytes)
			snprintf(what + strlen(what), sizeof(what) - strlen(what),
				 ", %" PRIu64 " MiB storage", c->storage_bytes >> 20);
		if (c->flags & LEGO_GM_REG_WANT_NOTIFY)
			snprintf(what + strlen(what), sizeof(what) - strlen(what),
				 ", wants death notifications");
		if (c->flags & LEGO_GM_REG_UNHEALTHY)
			snprintf(what + strlen(what), sizeof(what) - strlen(what),
				 "; UNHEALTHY: listed, never chosen");
		if (ev->old_id)
			snprintf(replaces, sizeof(replaces), ", replacing id %u", ev->old_id);
		gm_log("%s (id %u, %s:%u) registered%s; %s", c->name, c->node_id,
		       ipstr(c->ipv4, ip), c->rpc_port, replaces, what);
		break;
	}
	case GM_EV_RETRY:
		if (m->verbose)
			gm_log("%s (id %u) registered again with the same incarnation: same id",
			       c->name, c->node_id);
		break;
	case GM_EV_REVIVED:
		gm_log("%s (id %u, %s) alive again: heard from after this manager's restart",
		       c->name, c->node_id, ipstr(c->ipv4, ip));
		break;
	case GM_EV_DEAD_TIMEOUT:
		gm_log("%s (id %u, %s) dead: no heartbeat for %" PRIu64 " ms", c->name, c->node_id,
		       ipstr(c->ipv4, ip), ev->silent_ms);
		mgr_notify_death(m, c);
		break;
	case GM_EV_DEAD_RESTART:
		gm_log("%s (id %u, %s) dead: not heard from within %" PRIu64
		       " ms of this manager's restart", c->name, c->node_id, ipstr(c->ipv4, ip),
		       ev->silent_ms);
		mgr_notify_death(m, c);
		break;
	case GM_EV_DEAD_REBOOT:
		gm_log("%s (id %u, %s) dead: it rebooted (registers with a new incarnation); "
		       "whatever it held is lost", c->name, c->node_id, ipstr(c->ipv4, ip));
		mgr_notify_death(m, c);
		break;
	case GM_EV_POLL_FAILED:
		gm_log("%s (id %u): load poll failed: %s (keeping the last known load)", c->name,
		       c->node_id, ev->err == -ETIMEDOUT ? "no answer" : strerror(-ev->err));
		break;
	case GM_EV_POLL_OK:
		gm_log("%s (id %u): load polls work again", c->name, c->node_id);
		break;
	case GM_EV_EVICTED:
		if (m->verbose)
			gm_log("forgot dead %s (id %u) to make room", c->name, c->node_id);
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Request handlers common to the managers                             */
/* ------------------------------------------------------------------ */

static void mgr_flush_rejects(struct gm_mgr *m, uint64_t now)
{
	if (!m->rej_count)
		return;
	if (m->rej_count == 1)
		gm_log("rejected %s", m->rej_last);
	else
		gm_log("rejected %u requests in the last %" PRIu64 " ms (last: %s)", m->rej_count,
		       now - m->rej_logged_mono, m->rej_last);
	m->rej_count = 0;
	m->rej_logged_mono = now;
}

void gm_mgr_reject(struct gm_mgr *m, const struct gm_rpc_req *req, const char *why)
{
	char ip[INET_ADDRSTRLEN];
	uint64_t now = gm_mono_ms();

	snprintf(m->rej_last, sizeof(m->rej_last), "opcode 0x%04x (%zu bytes) from %s:%u: %s",
		 req->opcode, req->len, ipstr(req->from.sin_addr.s_addr, ip),
		 ntohs(req->from.sin_port), why);
	m->rej_count++;
	if (now - m->rej_logged_mono >= 1000)
		mgr_flush_rejects(m, now);
}

static int mgr_h_register(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
			  void *reply, size_t reply_max, size_t *reply_len)
{
	struct gm_mgr *m = arg;
	struct lego_gm_register_reply out;
	const char *why = NULL;
	int r = gm_reg_register(&m->reg, req->data, req->len, gm_mono_ms(), gm_wall_ms(), &out,
				&why);

	if (r < 0) {
		gm_mgr_reject(m, req, why ? why : "invalid");
		return r;	/* no payload: monitors have small buffers */
	}
	gm_mgr_sync(m);
	memcpy(reply, &out, sizeof(out));
	*reply_len = sizeof(out);
	return 0;
}

static int mgr_h_heartbeat(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
			   void *reply, size_t reply_max, size_t *reply_len)
{
	struct gm_mgr *m = arg;
	int r = gm_reg_heartbeat(&m->reg, req->data, req->len, gm_mono_ms(), gm_wall_ms());

	if (r == -EINVAL)
		gm_mgr_reject(m, req, "heartbeat of the wrong size");
	gm_mgr_sync(m);
	return r;
}

static int mgr_h_nodes(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		       void *reply, size_t reply_max, size_t *reply_len)
{
	struct gm_mgr *m = arg;

	if (req->len) {
		gm_mgr_reject(m, req, "GM_NODES request not empty");
		return gm_errmsg(-EINVAL, reply, reply_max, reply_len,
				 "GM_NODES takes an empty request");
	}
	return gm_reg_encode_nodes(&m->reg, reply, reply_max, reply_len);
}

static int mgr_h_ping(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		      void *reply, size_t reply_max, size_t *reply_len)
{
	if (req->len > reply_max)
		return -E2BIG;
	memcpy(reply, req->data, req->len);
	*reply_len = req->len;
	return 0;
}

static int mgr_h_info(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		      void *reply, size_t reply_max, size_t *reply_len)
{
	struct gm_mgr *m = arg;
	struct lego_node_info ni;
	struct gm_rpc_stats st;

	memset(&ni, 0, sizeof(ni));
	snprintf(ni.name, sizeof(ni.name), "%s", m->d->daemon);
	snprintf(ni.personality, sizeof(ni.personality), "manager");
	ni.ipv4 = m->listen_ip;
	ni.cpus_online = (uint32_t)sysconf(_SC_NPROCESSORS_ONLN);
	gm_rpc_stats(ep, &st);
	ni.uptime_ns = (gm_mono_ms() - m->t_start_mono) * 1000000ull;
	ni.rpc_calls_served = st.req_executed;
	ni.rpc_rx_dropped = st.rx_dropped;
	memcpy(reply, &ni, sizeof(ni));
	*reply_len = sizeof(ni);
	return 0;
}

const char *gm_mgr_none_alive(struct gm_mgr *m, char *buf, size_t len)
{
	size_t unhealthy, alive = gm_reg_count_alive(&m->reg, &unhealthy);
	const char *kind = gm_pers_name(m->d->personality);

	if (alive && alive == unhealthy)
		snprintf(buf, len, "no healthy %s component is alive (%zu unhealthy)", kind,
			 unhealthy);
	else
		snprintf(buf, len, "no %s component is alive", kind);
	return buf;
}

int gm_mgr_choose(struct gm_mgr *m, gm_policy_fn fn, uint64_t need_bytes,
		  struct lego_gm_choice *out)
{
	size_t n = gm_reg_snapshot(&m->reg, m->snap, m->reg.max);
	int i = fn(m->snap, n, need_bytes);
	struct gm_comp *c;

	if (i < 0)
		return i;
	if ((size_t)i >= n)
		return -EIO;	/* a policy broke its contract */
	c = gm_reg_find(&m->reg, m->snap[i].node_id);
	if (!c)
		return -EIO;
	memset(out, 0, sizeof(*out));
	out->node_id = c->node_id;
	out->ipv4 = c->ipv4;
	memcpy(out->name, c->name, sizeof(out->name));
	return (int)c->node_id;
}

/* ------------------------------------------------------------------ */
/* Load polls and worker results                                       */
/* ------------------------------------------------------------------ */

static void mgr_start_polls(struct gm_mgr *m)
{
	/* One round at a time: a slow round delays the next instead of
	 * piling up calls to a component that does not answer. */
	if (m->polls_outstanding)
		return;
	for (size_t i = 0; i < m->reg.n; i++) {
		const struct gm_comp *c = &m->reg.comps[i];
		struct mgr_job *j;

		if (c->state != LEGO_NODE_ALIVE)
			continue;
		j = mgr_new_job(c, LEGO_OP_LOAD);
		if (!j)
			continue;
		m->polls_outstanding++;
		mgr_queue_job(m, j);
	}
}

static void mgr_collect(struct gm_mgr *m)
{
	struct mgr_worker *w = &m->w;
	struct mgr_job *list;
	uint64_t cnt;

	if (read(w->efd, &cnt, sizeof(cnt)) < 0) {
		/* EAGAIN: nothing new; the list below says for sure. */
	}
	pthread_mutex_lock(&w->lock);
	list = w->done_head;
	w->done_head = w->done_tail = NULL;
	pthread_mutex_unlock(&w->lock);

	while (list) {
		struct mgr_job *j = list;
		unsigned done;

		list = j->next;
		if (j->opcode == LEGO_OP_LOAD) {
			if (m->polls_outstanding)
				m->polls_outstanding--;
			gm_reg_load_result(&m->reg, j->node_id, j->incarnation, j->status, j->reply,
					   j->reply_len);
		} else if (j->opcode == LEGO_OP_GM_NOTIFY) {
			struct gm_comp *c = gm_reg_find(&m->reg, j->node_id);
			const char *name = c ? c->name : "?";

			if (j->status == 0)
				gm_log("told %s (id %u) that id %u died", name, j->node_id, j->about);
			else
				gm_log("could not tell %s (id %u) that id %u died: %s", name,
				       j->node_id, j->about,
				       j->status == -ETIMEDOUT ? "no answer"
							       : strerror(-j->status));
		}
		free(j);
		pthread_mutex_lock(&w->lock);
		done = --w->njobs;
		pthread_mutex_unlock(&w->lock);
		(void)done;
	}
}

static int mgr_start_worker(struct gm_mgr *m)
{
	struct mgr_worker *w = &m->w;
	int r;

	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->timeout_ms = (int)m->call_timeout_ms;
	w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->efd < 0) {
		gm_log("eventfd: %s", strerror(errno));
		return -1;
	}
	/* Its own endpoint (endpoints are per thread), on the managers'
	 * address so that monitors see calls from where they registered. */
	r = gm_rpc_open(&w->ep, m->listen_ip, 0);
	if (r < 0) {
		gm_log("cannot open the worker's RPC endpoint: %s", strerror(-r));
		return -1;
	}
	if (pthread_create(&w->tid, NULL, mgr_worker_main, w)) {
		gm_log("cannot start the worker thread");
		return -1;
	}
	w->started = true;
	return 0;
}

static void mgr_stop_worker(struct gm_mgr *m)
{
	struct mgr_worker *w = &m->w;

	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->stop = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->tid, NULL);
		w->started = false;
	}
	for (struct mgr_job *j = w->todo_head, *n; j; j = n) {
		n = j->next;
		free(j);
	}
	for (struct mgr_job *j = w->done_head, *n; j; j = n) {
		n = j->next;
		free(j);
	}
	w->todo_head = w->done_head = NULL;
	gm_rpc_close(w->ep);
	w->ep = NULL;
	if (w->efd >= 0)
		close(w->efd);
}

/* ------------------------------------------------------------------ */
/* Options                                                             */
/* ------------------------------------------------------------------ */

static void mgr_usage(const struct gm_mgr_desc *d, FILE *f)
{
	fprintf(f,
		"usage: %s [OPTIONS]\n\n"
		"%s (LegoOS global manager, paper section 4.6). Components of kind '%s'\n"
		"register with it, heartbeat, and are polled for load; see\n"
		"docs/global-managers.md. Logs timestamped lines to stderr; SIGTERM or SIGINT\n"
		"stop it cleanly.\n\n"
		"options:\n"
		"  --listen IP           address to serve on (default $LEGO_GM, else %s)\n"
		"  --port N              UDP port (default %u)\n"
		"  --state-dir DIR       keep the state in DIR/%s.state (default $LEGO_RACK_DIR)\n"
		"  --no-state            keep no state file (a restart forgets ids%s)\n"
		"  --reset-state         move an existing state file aside and start empty\n"
		"  --heartbeat-ms N      heartbeat period told to monitors (default %u)\n"
		"  --dead-after-ms N     silence after which a component is dead (default %u)\n"
		"  --poll-ms N           load poll period (default %u)\n"
		"  --call-timeout-ms N   timeout of the manager's own calls (default %u)\n"
		"  --max-components N    registry size, dead records included (default %u)\n"
		"  --pid-file PATH       write the pid there while running\n"
		"  --verbose             also log retries and other routine events\n"
		"  --help                this text\n",
		d->daemon, d->title, gm_pers_name(d->personality), GM_MGR_DEFAULT_ADDR,
		d->default_port, d->daemon, d->state_line ? " and vNodes" : "",
		GM_MGR_DEFAULT_HEARTBEAT_MS, GM_MGR_DEFAULT_DEAD_AFTER_MS, GM_MGR_DEFAULT_POLL_MS,
		GM_MGR_DEFAULT_CALL_TIMEOUT_MS, GM_REG_DEFAULT_MAX);
	for (size_t i = 0; i < d->noptions; i++) {
		char left[64];

		snprintf(left, sizeof(left), "--%s%s%s", d->options[i].name,
			 d->options[i].arg ? " " : "", d->options[i].arg ? d->options[i].arg : "");
		fprintf(f, "  %-21s %s\n", left, d->options[i].help);
	}
	fprintf(f, "\nexit status: 0 stopped by a signal, 1 runtime error (bind, state file),\n"
		   "2 usage error.\n");
}

static int mgr_usage_err(const struct gm_mgr_desc *d, const char *fmt, const char *a)
{
	fprintf(stderr, "%s: ", d->daemon);
	fprintf(stderr, fmt, a);
	fprintf(stderr, "\n(try '%s --help')\n", d->daemon);
	return 2;
}

static int mgr_num(const struct gm_mgr_desc *d, const char *name, const char *val,
		   uint64_t min, uint64_t max, unsigned *out)
{
	uint64_t v;

	if (gm_parse_u64(val, max, &v) || v < min) {
		fprintf(stderr, "%s: --%s must be a number from %" PRIu64 " to %" PRIu64
			", not '%s'\n", d->daemon, name, min, max, val);
		return 2;
	}
	*out = (unsigned)v;
	return 0;
}

/* Returns -1 to go on, or an exit status. */
static int mgr_options(struct gm_mgr *m, int argc, char **argv)
{
	static const char *const common[] = {
		"listen", "port", "state-dir", "heartbeat-ms", "dead-after-ms", "poll-ms",
		"call-timeout-ms", "max-components", "pid-file",
	};
	const struct gm_mgr_desc *d = m->d;
	const char *env = getenv("LEGO_GM");
	const char *listen = env && *env ? env : GM_MGR_DEFAULT_ADDR;
	unsigned port = d->default_port;

	m->heartbeat_ms = GM_MGR_DEFAULT_HEARTBEAT_MS;
	m->dead_after_ms = GM_MGR_DEFAULT_DEAD_AFTER_MS;
	m->poll_ms = GM_MGR_DEFAULT_POLL_MS;
	m->call_timeout_ms = GM_MGR_DEFAULT_CALL_TIMEOUT_MS;
	m->max_comps = GM_REG_DEFAULT_MAX;
	env = getenv("LEGO_RACK_DIR");
	m->state_dir = env && *env ? env : NULL;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		char name[64];
		bool takes = false, known = false;
		int r = 0;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			mgr_usage(d, stdout);
			return 0;
		}
		if (strncmp(a, "--", 2) || !a[2])
			return mgr_usage_err(d, "unexpected argument '%s'", a);
		eq = strchr(a + 2, '=');
		snprintf(name, sizeof(name), "%.*s", eq ? (int)(eq - a - 2) : (int)strlen(a + 2),
			 a + 2);
		for (size_t k = 0; k < sizeof(common) / sizeof(common[0]); k++)
			if (!strcmp(name, common[k]))
				known = takes = true;
		if (!strcmp(name, "no-state") || !strcmp(name, "reset-state") ||
		    !strcmp(name, "verbose"))
			known = true;
		for (size_t k = 0; !known && k < d->noptions; k++)
			if (!strcmp(name, d->options[k].name)) {
				known = true;
				takes = d->options[k].arg != NULL;
			}
		if (!known)
			return mgr_usage_err(d, "unknown option '%s'", a);
		if (takes) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return mgr_usage_err(d, "option '%s' needs a value", a);
		} else if (eq) {
			return mgr_usage_err(d, "option '%s' takes no value", a);
		}

		if (!strcmp(name, "listen"))
			listen = val;
		else if (!strcmp(name, "port"))
			r = mgr_num(d, name, val, 1, 65535, &port);
		else if (!strcmp(name, "state-dir"))
			m->state_dir = val;
		else if (!strcmp(name, "no-state"))
			m->no_state = true;
		else if (!strcmp(name, "reset-state"))
			m->reset_state = true;
		else if (!strcmp(name, "verbose"))
			m->verbose = true;
		else if (!strcmp(name, "heartbeat-ms"))
			r = mgr_num(d, name, val, 10, 60000, &m->heartbeat_ms);
		else if (!strcmp(name, "dead-after-ms"))
			r = mgr_num(d, name, val, 20, 3600000, &m->dead_after_ms);
		else if (!strcmp(name, "poll-ms"))
			r = mgr_num(d, name, val, 10, 3600000, &m->poll_ms);
		else if (!strcmp(name, "call-timeout-ms"))
			r = mgr_num(d, name, val, 10, 60000, &m->call_timeout_ms);
		else if (!strcmp(name, "max-components"))
			r = mgr_num(d, name, val, 1, LEGO_NODE_ID_RANGE, &m->max_comps);
		else if (!strcmp(name, "pid-file"))
			m->pid_file = val;
		else {
			char err[256] = "";

			if (d->option(m->arg, name, val ? val : "", err, sizeof(err)) < 0) {
				fprintf(stderr, "%s: %s\n", d->daemon, err[0] ? err : "bad option");
				return 2;
			}
		}
		if (r)
			return r;
	}
	if (gm_parse_ipv4(listen, &m->listen_ip))
		return mgr_usage_err(d, "invalid listen address '%s' (want an IPv4 address)", listen);
	m->port = (uint16_t)port;
	if (m->dead_after_ms <= m->heartbeat_ms) {
		fprintf(stderr, "%s: --dead-after-ms (%u) must be larger than --heartbeat-ms (%u)\n",
			d->daemon, m->dead_after_ms, m->heartbeat_ms);
		return 2;
	}
	if (m->no_state && m->reset_state)
		return mgr_usage_err(d, "%s", "--no-state and --reset-state exclude each other");
	if (!m->no_state && !m->state_dir)
		return mgr_usage_err(d, "%s",
				     "where should the state go? give --state-dir DIR (or run "
				     "under 'scripts/rack exec', which sets $LEGO_RACK_DIR), or "
				     "--no-state");
	return -1;
}

/* ------------------------------------------------------------------ */
/* Main                                                                */
/* ------------------------------------------------------------------ */

static int mgr_epoll_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

enum { TAG_RPC, TAG_TIMER, TAG_SIGNAL, TAG_WORKER };

static int mgr_loop(struct gm_mgr *m, int sfd, int tfd)
{
	int epfd = epoll_create1(EPOLL_CLOEXEC);
	int status = 0;

	if (epfd < 0 || mgr_epoll_add(epfd, gm_rpc_fd(m->ep), TAG_RPC) ||
	    mgr_epoll_add(epfd, tfd, TAG_TIMER) || mgr_epoll_add(epfd, sfd, TAG_SIGNAL) ||
	    mgr_epoll_add(epfd, m->w.efd, TAG_WORKER)) {
		gm_log("epoll: %s", strerror(errno));
		if (epfd >= 0)
			close(epfd);
		return 1;
	}
	for (;;) {
		struct epoll_event evs[8];
		int n = epoll_wait(epfd, evs, 8, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			gm_log("epoll_wait: %s", strerror(errno));
			status = 1;
			break;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case TAG_RPC: {
				int r = gm_rpc_poll(m->ep, 0);

				if (r < 0 && r != -EINTR)
					gm_log("receive: %s", strerror(-r));
				break;
			}
			case TAG_TIMER: {
				uint64_t exp, now = gm_mono_ms();

				if (read(tfd, &exp, sizeof(exp)) < 0) {
					/* EAGAIN: a spurious wakeup. */
				}
				gm_reg_tick(&m->reg, now, gm_wall_ms());
				if (now >= m->next_poll_mono) {
					mgr_start_polls(m);
					m->next_poll_mono = now + m->poll_ms;
				}
				if (m->rej_count && now - m->rej_logged_mono >= 1000)
					mgr_flush_rejects(m, now);
				break;
			}
			case TAG_WORKER:
				mgr_collect(m);
				break;
			case TAG_SIGNAL: {
				struct signalfd_siginfo si;

				if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
					gm_log("stopping on signal %s", strsignal((int)si.ssi_signo));
					close(epfd);
					return 0;
				}
				break;
			}
			}
		}
		gm_mgr_sync(m);
	}
	close(epfd);
	return status;
}

int gm_mgr_main(int argc, char **argv, const struct gm_mgr_desc *d, void *arg)
{
	struct gm_mgr *m = calloc(1, sizeof(*m));
	char ip[INET_ADDRSTRLEN];
	sigset_t mask;
	int sfd = -1, tfd = -1, status = 1, r;
	struct itimerspec its = { { 0, MGR_TICK_MS * 1000000L }, { 0, MGR_TICK_MS * 1000000L } };

	if (!m) {
		fprintf(stderr, "%s: out of memory\n", d->daemon);
		return 1;
	}
	m->d = d;
	m->arg = arg;
	m->lock_fd = -1;
	m->w.efd = -1;
	gm_log_set_prog(d->daemon);
	r = mgr_options(m, argc, argv);
	if (r >= 0) {
		free(m);
		return r;
	}
	m->t_start_mono = gm_mono_ms();

	/* Signals arrive through signalfd, in the loop; blocked before the
	 * worker starts so that it inherits the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (sfd < 0 || tfd < 0 || timerfd_settime(tfd, 0, &its, NULL) < 0) {
		gm_log("signalfd/timerfd: %s", strerror(errno));
		goto out;
	}

	r = gm_reg_init(&m->reg, d->personality, m->heartbeat_ms, m->dead_after_ms,
			m->max_comps, m->t_start_mono);
	m->snap = calloc(m->max_comps, sizeof(*m->snap));
	if (r < 0 || !m->snap) {
		gm_log("out of memory");
		goto out;
	}
	gm_reg_set_event(&m->reg, mgr_event, m);

	r = gm_rpc_open(&m->ep, m->listen_ip, m->port);
	if (r < 0) {
		gm_log("cannot serve on %s:%u: %s%s", ipstr(m->listen_ip, ip), m->port, strerror(-r),
		       r == -EADDRNOTAVAIL ? " (not an address of this host: inside the rack's "
					     "namespace? see --listen)" : "");
		goto out;
	}
	if (gm_rpc_serve_register(m->ep, LEGO_OP_GM_REGISTER, mgr_h_register, m,
				  sizeof(struct lego_gm_register_reply)) ||
	    gm_rpc_serve_register(m->ep, LEGO_OP_GM_HEARTBEAT, mgr_h_heartbeat, m, 0) ||
	    gm_rpc_serve_register(m->ep, LEGO_OP_GM_NODES, mgr_h_nodes, m,
				  gm_reg_nodes_max_bytes(&m->reg)) ||
	    gm_rpc_serve_register(m->ep, LEGO_OP_PING, mgr_h_ping, m, MGR_PING_MAX) ||
	    gm_rpc_serve_register(m->ep, LEGO_OP_NODE_INFO, mgr_h_info, m,
				  sizeof(struct lego_node_info)) ||
	    (d->setup && d->setup(m, arg) < 0)) {
		gm_log("cannot register the RPC handlers");
		goto out;
	}

	if (mgr_lock_state_dir(m) < 0 || mgr_load_state(m) < 0)
		goto out;
	if (d->loaded)
		d->loaded(m, arg);
	/* Write the file at once: it then exists in the current format (and
	 * a state directory that cannot be written is reported now). */
	m->reg.dirty = true;
	gm_mgr_sync(m);
	if (m->save_failed) {
		gm_log("refusing to start: the state file cannot be written (ids could be "
		       "reused after a restart); see --state-dir or --no-state");
		goto out;
	}

	if (mgr_start_worker(m) < 0)
		goto out;
	if (m->pid_file) {
		FILE *pf = fopen(m->pid_file, "we");

		if (!pf || fprintf(pf, "%ld\n", (long)getpid()) < 0 || fclose(pf)) {
			gm_log("cannot write pid file %s: %s", m->pid_file, strerror(errno));
			goto out;
		}
	}
	gm_log("serving %s components on %s:%u; heartbeat %u ms, dead after %u ms, "
	       "load poll %u ms; state %s", gm_pers_name(d->personality),
	       ipstr(m->listen_ip, ip), m->port, m->heartbeat_ms, m->dead_after_ms, m->poll_ms,
	       m->no_state ? "not kept (--no-state)" : m->state_path);
	gm_log("ready");
	m->next_poll_mono = gm_mono_ms() + m->poll_ms;
	status = mgr_loop(m, sfd, tfd);
	gm_mgr_sync(m);
	if (m->pid_file)
		unlink(m->pid_file);
	gm_log("stopped");
out:
	mgr_stop_worker(m);
	gm_rpc_close(m->ep);
	gm_reg_free(&m->reg);
	free(m->snap);
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	if (m->lock_fd >= 0)
		close(m->lock_fd);
	free(m);
	return status;
}
