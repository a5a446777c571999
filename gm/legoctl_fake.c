/*
 * legoctl fake-monitor: a TEST TOOL that plays a monitor towards the
 * global managers, so that they can be tested without QEMU (see
 * tests/rack/80-gm-daemons.sh). It is not part of a real rack.
 *
 * Like a kernel monitor (managers/common/gm_client.c) it registers with
 * the manager of its personality, heartbeats at the period the manager
 * gave, registers again (new id) when a heartbeat is answered -ENOENT, and
 * serves LEGO_OP_LOAD, LEGO_OP_NODE_INFO, LEGO_OP_PING and
 * LEGO_OP_GM_NOTIFY. The load it reports comes from its options. One
 * line per event on stdout, for the tests to read. As a storage
 * component it also serves the storage protocol from memory
 * (legoctl_fakest.c), so that gpmd's vNode create/remove and `legoctl fs`
 * work against it; as a memory component it serves a small part of the
 * memory protocol (legoctl_fakemem.c) for `legoctl mem`; --unhealthy
 * makes it register with
 * LEGO_GM_REG_UNHEALTHY and fail file requests with -EIO, like an
 * sComponent whose disk image is corrupt.
 *
 * Single-threaded: its one endpoint serves requests and makes the
 * register/heartbeat calls; while a call waits, the RPC library keeps
 * serving (so a manager's load poll is answered even then).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <uapi/lego/gm.h>
#include "legoctl.h"

/* Owned by the single thread; stop is also written by the signal handler. */
struct fake {
	uint32_t pers;
	char name[LEGO_NAME_LEN];
	uint32_t incarnation;
	uint32_t gm_ip;			/* network order */
	uint16_t gm_port;
	uint32_t my_ip;			/* network order */
	struct gm_rpc_ep *ep;
	bool registered;
	uint32_t node_id;
	unsigned heartbeat_ms, dead_after_ms;
	bool notify, no_load, unhealthy;
	struct fakest *store;		/* storage personality only */
	struct fakemem *mem;		/* memory personality only */
	unsigned long long cpus, threads, mem_mib, free_mib, st_mib, st_free_mib, req_rate;
	uint64_t t_start_ns;
};

static volatile sig_atomic_t fake_stop;

static void fake_on_signal(int sig)
{
	fake_stop = sig;
}

static void fake_say(const struct fake *f, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fake_say(const struct fake *f, const char *fmt, ...)
{
	va_list ap;
	struct timespec ts;
	struct tm tm;
	char when[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("%s.%03ld fake-monitor %s: ", when, ts.tv_nsec / 1000000, f->name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static int fake_load(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		     void *reply, size_t reply_max, size_t *reply_len)
{
	struct fake *f = arg;
	struct lego_load l;
	struct gm_rpc_stats st;
	uint64_t up = now_ns() - f->t_start_ns;

	if (f->no_load)
		return -ENOSYS;
	gm_rpc_stats(ep, &st);
	memset(&l, 0, sizeof(l));
	l.personality = f->pers;
	l.cpus = (uint32_t)f->cpus;
	l.threads = (uint32_t)f->threads;
	l.mem_total_bytes = f->mem_mib << 20;
	l.mem_free_bytes = f->free_mib << 20;
	l.storage_total_bytes = f->st_mib << 20;
	l.storage_free_bytes = f->st_free_mib << 20;
	/* --req-rate pretends to serve that many more requests per second. */
	l.rpc_requests = st.req_executed + (uint64_t)((double)f->req_rate * (double)up / 1e9);
	l.uptime_ns = up;
	memcpy(reply, &l, sizeof(l));
	*reply_len = sizeof(l);
	return 0;
}

static int fake_info(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		     void *reply, size_t reply_max, size_t *reply_len)
{
	struct fake *f = arg;
	struct lego_node_info ni;
	struct gm_rpc_stats st;

	gm_rpc_stats(ep, &st);
	memset(&ni, 0, sizeof(ni));
	memcpy(ni.name, f->name, sizeof(ni.name));
	snprintf(ni.personality, sizeof(ni.personality), "%s",
		 f->pers == LEGO_PERS_PROCESSOR ? "processor"
		 : f->pers == LEGO_PERS_MEMORY  ? "memory" : "storage");
	ni.node_id = f->registered ? f->node_id : 0;
	ni.ipv4 = f->my_ip;
	ni.cpus_online = (uint32_t)f->cpus;
	ni.mem_bytes = f->mem_mib << 20;
	ni.uptime_ns = now_ns() - f->t_start_ns;
	ni.rpc_calls_served = st.req_executed;
	ni.rpc_rx_dropped = st.rx_dropped;
	memcpy(reply, &ni, sizeof(ni));
	*reply_len = sizeof(ni);
	return 0;
}

static int fake_ping(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		     void *reply, size_t reply_max, size_t *reply_len)
{
	if (req->len > reply_max)
		return -E2BIG;
	memcpy(reply, req->data, req->len);
	*reply_len = req->len;
	return 0;
}

static int fake_notify(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		       void *reply, size_t reply_max, size_t *reply_len)
{
	struct fake *f = arg;
	struct lego_gm_notify n;

	if (req->len != sizeof(n))
		return -EINVAL;
	memcpy(&n, req->data, sizeof(n));
	fake_say(f, "told that node %u (%s) died", n.node_id,
		 n.personality == LEGO_PERS_PROCESSOR ? "processor"
		 : n.personality == LEGO_PERS_MEMORY  ? "memory"
		 : n.personality == LEGO_PERS_STORAGE ? "storage" : "?");
	return 0;
}

static int fake_register(struct fake *f)
{
	struct lego_gm_register_req q;
	struct lego_gm_register_reply rep;
	size_t got = 0;
	int r;

	memset(&q, 0, sizeof(q));
	q.personality = f->pers;
	q.incarnation = f->incarnation;
	memcpy(q.name, f->name, sizeof(q.name));
	q.ipv4 = f->my_ip;
	q.rpc_port = gm_rpc_port(f->ep);
	q.flags = (f->notify ? LEGO_GM_REG_WANT_NOTIFY : 0) |
		  (f->unhealthy ? LEGO_GM_REG_UNHEALTHY : 0);
	q.cpus = (uint32_t)f->cpus;
	q.mem_bytes = f->mem_mib << 20;
	q.storage_bytes = f->st_mib << 20;
	r = gm_rpc_call(f->ep, f->gm_ip, f->gm_port, LEGO_OP_GM_REGISTER, &q, sizeof(q), &rep,
			sizeof(rep), &got, 1000);
	if (r < 0)
		return r;
	if (got != sizeof(rep) || !rep.node_id || rep.heartbeat_ms < 10 ||
	    rep.dead_after_ms <= rep.heartbeat_ms)
		return -EPROTO;
	f->node_id = rep.node_id;
	f->heartbeat_ms = rep.heartbeat_ms;
	f->dead_after_ms = rep.dead_after_ms;
	f->registered = true;
	gm_rpc_set_src_node(f->ep, f->node_id);
	if (f->mem)
		fakemem_set_node(f->mem, f->node_id);
	fake_say(f, "registered as id %u (heartbeat %u ms, dead after %u ms)", f->node_id,
		 f->heartbeat_ms, f->dead_after_ms);
	return 0;
}

/* The address this host sends from towards ip:port. */
static int fake_route_src(uint32_t ip, uint16_t port, uint32_t *src)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port),
				  .sin_addr.s_addr = ip };
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = -1;

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&to, sizeof(to)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&me, &len) == 0) {
		*src = me.sin_addr.s_addr;
		r = 0;
	}
	close(fd);
	return r;
}

int cmd_fake_monitor(int argc, char **argv)
{
	struct opt opts[] = {
		{ "personality", true, NULL }, { "name", true, NULL }, { "gm", true, NULL },
		{ "port", true, NULL }, { "bind", true, NULL }, { "rpc-port", true, NULL },
		{ "cpus", true, NULL }, { "threads", true, NULL }, { "mem-mib", true, NULL },
		{ "free-mib", true, NULL }, { "storage-mib", true, NULL },
		{ "storage-free-mib", true, NULL }, { "req-rate", true, NULL },
		{ "incarnation", true, NULL }, { "notify", false, NULL }, { "no-load", false, NULL },
		{ "unhealthy", false, NULL },
	};
	enum { O_PERS, O_NAME, O_GM, O_PORT, O_BIND, O_RPCPORT, O_CPUS, O_THREADS, O_MEM, O_FREE,
	       O_ST, O_STFREE, O_RATE, O_INC, O_NOTIFY, O_NOLOAD, O_UNHEALTHY, O_N };
	static struct fake f;
	const char *pos[1], *gm;
	size_t npos;
	unsigned long long port, rpc_port, inc;
	struct in_addr a;
	struct sigaction sa;
	char ip[INET_ADDRSTRLEN];
	bool complained = false;
	uint64_t next_hb = 0;
	int r = parse_args("fake-monitor", argc, argv, opts, O_N, pos, 0, &npos);

	if (r)
		return r > 0 ? 0 : EXIT_USAGE;
	memset(&f, 0, sizeof(f));
	if (!opts[O_PERS].val)
		return usage_error("fake-monitor", "%s", "missing --personality");
	if (!strcmp(opts[O_PERS].val, "processor"))
		f.pers = LEGO_PERS_PROCESSOR;
	else if (!strcmp(opts[O_PERS].val, "memory"))
		f.pers = LEGO_PERS_MEMORY;
	else if (!strcmp(opts[O_PERS].val, "storage"))
		f.pers = LEGO_PERS_STORAGE;
	else
		return usage_error("fake-monitor", "--personality is processor, memory or storage, "
				   "not '%s'", opts[O_PERS].val);
	if (!opts[O_NAME].val || !*opts[O_NAME].val || strlen(opts[O_NAME].val) >= LEGO_NAME_LEN)
		return usage_error("fake-monitor", "%s", "--name NAME (1-15 characters) is required");
	memcpy(f.name, opts[O_NAME].val, strlen(opts[O_NAME].val));
	if (opt_num("fake-monitor", &opts[O_PORT], 1, 65535,
		    f.pers == LEGO_PERS_PROCESSOR ? LEGO_GPM_PORT
		    : f.pers == LEGO_PERS_MEMORY  ? LEGO_GMM_PORT : LEGO_GSM_PORT, &port) ||
	    opt_num("fake-monitor", &opts[O_RPCPORT], 0, 65535, 0, &rpc_port) ||
	    opt_num("fake-monitor", &opts[O_CPUS], 0, 4096, 2, &f.cpus) ||
	    opt_num("fake-monitor", &opts[O_THREADS], 0, 1u << 30, 1, &f.threads) ||
	    opt_num("fake-monitor", &opts[O_MEM], 0, 1ull << 30, 512, &f.mem_mib) ||
	    opt_num("fake-monitor", &opts[O_FREE], 0, f.mem_mib, f.mem_mib, &f.free_mib) ||
	    opt_num("fake-monitor", &opts[O_ST], 0, 1ull << 30,
		    f.pers == LEGO_PERS_STORAGE ? 1024 : 0, &f.st_mib) ||
	    opt_num("fake-monitor", &opts[O_STFREE], 0, f.st_mib, f.st_mib, &f.st_free_mib) ||
	    opt_num("fake-monitor", &opts[O_RATE], 0, 1000000000, 0, &f.req_rate) ||
	    opt_num("fake-monitor", &opts[O_INC], 0, UINT32_MAX, 0, &inc))
		return EXIT_USAGE;
	f.notify = opts[O_NOTIFY].val != NULL;
	f.no_load = opts[O_NOLOAD].val != NULL;
	f.unhealthy = opts[O_UNHEALTHY].val != NULL;
	if (opts[O_INC].val) {
		f.incarnation = (uint32_t)inc;
	} else if (getrandom(&f.incarnation, sizeof(f.incarnation), 0) != sizeof(f.incarnation)) {
		f.incarnation = (uint32_t)(now_ns() ^ (uint64_t)getpid());
	}

	gm = opts[O_GM].val ? opts[O_GM].val : getenv("LEGO_GM");
	if (!gm || !*gm)
		gm = "198.18.0.1";
	if (inet_pton(AF_INET, gm, &a) != 1)
		return usage_error("fake-monitor", "invalid managers' address '%s'", gm);
	f.gm_ip = a.s_addr;
	f.gm_port = (uint16_t)port;
	if (opts[O_BIND].val) {
		if (inet_pton(AF_INET, opts[O_BIND].val, &a) != 1)
			return usage_error("fake-monitor", "invalid --bind address '%s'",
					   opts[O_BIND].val);
		f.my_ip = a.s_addr;
	} else if (fake_route_src(f.gm_ip, f.gm_port, &f.my_ip) < 0) {
		fprintf(stderr, "%s: fake-monitor: no route to %s\n", prog, gm);
		return EXIT_FAIL;
	}
	r = gm_rpc_open(&f.ep, f.my_ip, (uint16_t)rpc_port);
	if (r < 0) {
		a.s_addr = f.my_ip;
		fprintf(stderr, "%s: fake-monitor: cannot bind %s:%llu: %s\n", prog,
			inet_ntop(AF_INET, &a, ip, sizeof(ip)), rpc_port, strerror(-r));
		return EXIT_FAIL;
	}
	if (gm_rpc_serve_register(f.ep, LEGO_OP_LOAD, fake_load, &f, sizeof(struct lego_load)) ||
	    gm_rpc_serve_register(f.ep, LEGO_OP_NODE_INFO, fake_info, &f,
				  sizeof(struct lego_node_info)) ||
	    gm_rpc_serve_register(f.ep, LEGO_OP_PING, fake_ping, &f, 65536) ||
	    gm_rpc_serve_register(f.ep, LEGO_OP_GM_NOTIFY, fake_notify, &f, 0)) {
		fprintf(stderr, "%s: fake-monitor: cannot register handlers\n", prog);
		gm_rpc_close(f.ep);
		return EXIT_FAIL;
	}
	if (f.pers == LEGO_PERS_STORAGE &&
	    (!(f.store = fakest_new(f.st_mib << 20, f.unhealthy)) ||
	     fakest_register(f.store, f.ep) < 0)) {
		fprintf(stderr, "%s: fake-monitor: cannot set up the storage service\n", prog);
		gm_rpc_close(f.ep);
		fakest_free(f.store);
		return EXIT_FAIL;
	}
	if (f.pers == LEGO_PERS_MEMORY &&
	    (!(f.mem = fakemem_new(f.my_ip, gm_rpc_port(f.ep), f.mem_mib << 20)) ||
	     fakemem_register(f.mem, f.ep) < 0)) {
		fprintf(stderr, "%s: fake-monitor: cannot set up the memory service\n", prog);
		gm_rpc_close(f.ep);
		fakemem_free(f.mem);
		return EXIT_FAIL;
	}
	f.t_start_ns = now_ns();

	/* No SA_RESTART: the signal must interrupt poll(). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fake_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	a.s_addr = f.my_ip;
	fake_say(&f, "%s monitor (fake%s) on %s:%u, incarnation %u; manager %s:%u",
		 opts[O_PERS].val, f.unhealthy ? ", unhealthy" : "", inet_ntop(AF_INET, &a, ip, sizeof(ip)), gm_rpc_port(f.ep),
		 f.incarnation, gm, f.gm_port);
	while (!fake_stop) {
		uint64_t now = now_ns() / 1000000;

		if (!f.registered) {
			r = fake_register(&f);
			if (r < 0) {
				if (!complained)
					fake_say(&f, "cannot register: %s; retrying", errname(r));
				complained = true;
				gm_rpc_poll(f.ep, 500);
				continue;
			}
			complained = false;
			next_hb = now + f.heartbeat_ms;
			continue;
		}
		if (now >= next_hb) {
			struct lego_gm_heartbeat_req hb = { f.node_id, f.incarnation };
			int tmo = f.heartbeat_ms * 4 > 500 ? (int)f.heartbeat_ms * 4 : 500;

			r = gm_rpc_call(f.ep, f.gm_ip, f.gm_port, LEGO_OP_GM_HEARTBEAT, &hb,
					sizeof(hb), NULL, 0, NULL, tmo);
			next_hb = now_ns() / 1000000 + f.heartbeat_ms;
			if (r == -ENOENT) {
				fake_say(&f, "manager no longer knows id %u; registering again",
					 f.node_id);
				f.registered = false;
				continue;
			} else if (r < 0 && !complained) {
				fake_say(&f, "heartbeat failed: %s; still trying", errname(r));
				complained = true;
			} else if (r == 0 && complained) {
				fake_say(&f, "heartbeats answered again");
				complained = false;
			}
			continue;
		}
		r = gm_rpc_poll(f.ep, (int)(next_hb - now));
		if (r < 0 && r != -EINTR) {
			fprintf(stderr, "%s: fake-monitor: %s\n", prog, strerror(-r));
			break;
		}
	}
	fake_say(&f, "stopping");
	gm_rpc_close(f.ep);
	fakest_free(f.store);
	fakemem_free(f.mem);
	return 0;
}
