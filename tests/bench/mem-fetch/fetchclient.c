/*
 * fetchclient: the client of tests/bench/mem-fetch (issue 6, "Targets":
 * the memory side of the paper's Fig. 8).
 *
 * A Linux program in the rack's namespace (where legoctl runs; started
 * through `scripts/rack exec`) that plays a processor against the memory
 * monitors over LegoOS RPC (include/uapi/lego/memory.h, gm/lib/rpc.c in
 * build/gm/libgm.a):
 *
 *   setup  CREATE an address space at the home (default m0); MMAP anonymous
 *          rw memory with MAP_FIXED_NOREPLACE at the start of vRegion 1, 2,
 *          ... (each MMAP activates a new vRegion whose owner GMM picks)
 *          until every node of --nodes owns one of them (at most 32 tries;
 *          the vRegion array of the home's reply says who owns what); in
 *          each chosen vRegion the mapping is --mb MiB of "data" pages,
 *          every one written once with PAGE_FLUSH (a pattern that is a
 *          function of the page's address), then --zero-mb MiB never
 *          written (zero pages); MEM_STATS of every node checks the page
 *          counts.
 *   rounds --warmup + --rounds rounds; each round runs, in this order:
 *          fetch     set S (1: the data pages of the first node's vRegion;
 *                    2: the data pages of all nodes' vRegions, each fetch
 *                    going to the owner of its page), T threads (1 2 4),
 *                    uniformly random pages; each thread has its own RPC
 *                    endpoint (a gm_rpc_ep is not thread-safe), does
 *                    --op-warmup untimed fetches, waits on a barrier, then
 *                    --count timed ones; throughput = all timed fetches /
 *                    (wall time from the barrier to the last thread's end)
 *          zero      1 thread, PAGE_FETCH of never-written pages of the
 *                    first node (reply_len 0: no 4 KiB on the wire)
 *          flushfetch 1 thread, PAGE_FLUSH_FETCH at the first node: flush a
 *                    random data page (its own pattern again, so the
 *                    contents stay valid) and fetch another
 *          ping4k    1 thread, LEGO_OP_PING with 4 KiB echoed by the first
 *                    node: the RPC floor for 4 KiB each way
 *          Every fetched page is checked (after its timing) against the
 *          pattern, or against zeros; a wrong page counts as "bad".
 *   exit   MEM_EXIT of the address space.
 *
 * Output: "mf: setup {JSON}", one "mf: result {JSON}" per (round, test)
 * and "mf: done"; exit 0, or 1 on any error or wrong page.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <gm/nodes.h>
#include <gm/rpc.h>
#include <uapi/lego/memory.h>

#define PG LEGO_PAGE_SIZE
#define MAX_NODES 4
#define MAX_THREADS 16
#define MAX_TRIES 32

static const char *prog = "fetchclient";
static int timeout_ms = 20000;

struct node {
	char name[32];
	uint32_t ip;
	uint16_t port;
	uint64_t base;		/* start of its vRegion's mapping */
	uint32_t index;		/* the vRegion */
	uint32_t owner_id;
};

static struct node nodes[MAX_NODES];
static int nnodes;
static uint32_t home_ip, st_ip;
static uint16_t home_port;
static uint64_t mm, data_pages, zero_pages;
static uint32_t vshift;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void rng_init(uint64_t *s, uint64_t seed)
{
	*s = seed * 0x9e3779b97f4a7c15ull + 0x2545f4914f6cdd1dull;
	if (!*s)
		*s = 1;
}

static void fill(void *buf, uint64_t addr)
{
	uint64_t *w = buf;

	for (unsigned i = 0; i < PG / 8; i++)
		w[i] = (addr << 8) ^ (i * 0x100000001b3ull) ^ 0x4d46455443480000ull;
}

static bool check(const void *buf, uint64_t addr)
{
	const uint64_t *w = buf;

	for (unsigned i = 0; i < PG / 8; i++)
		if (w[i] != ((addr << 8) ^ (i * 0x100000001b3ull) ^ 0x4d46455443480000ull))
			return false;
	return true;
}

static const char *errname(int r)
{
	static __thread char buf[64];

	snprintf(buf, sizeof(buf), "%s (%d)", strerror(-r), r);
	return buf;
}

static struct gm_rpc_ep *open_ep(void)
{
	struct gm_rpc_ep *ep;
	int r = gm_rpc_open(&ep, htonl(INADDR_ANY), 0);

	if (r < 0) {
		fprintf(stderr, "%s: cannot open an RPC endpoint: %s\n", prog, errname(r));
		exit(1);
	}
	return ep;
}

/* The address of data page i of set s (pages of the set's nodes, in order). */
static uint64_t data_addr(int set_nodes, uint64_t r)
{
	uint64_t n = r % ((uint64_t)set_nodes * data_pages);

	return nodes[n / data_pages].base + (n % data_pages) * PG;
}

static int node_of(uint64_t addr)
{
	for (int i = 0; i < nnodes; i++)
		if (addr >> vshift == nodes[i].index)
			return i;
	return -1;
}

static int page_req(struct gm_rpc_ep *ep, uint16_t op, uint64_t addr, uint64_t flush_addr,
		    const void *data, void *reply, size_t *got)
{
	uint8_t req[sizeof(struct lego_mem_page_req) + PG];
	struct lego_mem_page_req q = { .mm = mm, .addr = addr, .flush_addr = flush_addr,
				       .access = LEGO_MEM_ACCESS_READ };
	size_t len = sizeof(q);
	uint64_t owner_addr = op == LEGO_OP_MEM_PAGE_FLUSH ? flush_addr : addr;
	int n = node_of(owner_addr);

	if (op == LEGO_OP_MEM_PAGE_FLUSH) {
		q.addr = flush_addr;
		q.flush_addr = 0;
		q.access = LEGO_MEM_ACCESS_WRITE;
	}
	if (n < 0)
		return -EFAULT;
	memcpy(req, &q, sizeof(q));
	if (data) {
		memcpy(req + sizeof(q), data, PG);
		len += PG;
	}
	*got = 0;
	return gm_rpc_call(ep, nodes[n].ip, nodes[n].port, op, req, len, reply, reply ? PG : 0,
			   got, timeout_ms);
}

/* ------------------------------------------------------------------ setup */

static int home_call(struct gm_rpc_ep *ep, uint16_t op, const void *req, size_t len, void *rep,
		     size_t rmax, size_t *got)
{
	*got = 0;
	return gm_rpc_call(ep, home_ip, home_port, op, req, len, rep, rmax, got, timeout_ms);
}

struct fill_arg {
	int tid, nthreads;
	uint64_t errors;
};

static void *fill_thread(void *p)
{
	struct fill_arg *a = p;
	struct gm_rpc_ep *ep = open_ep();
	uint8_t page[PG];
	uint64_t total = (uint64_t)nnodes * data_pages;

	for (uint64_t i = a->tid; i < total; i += a->nthreads) {
		uint64_t addr = data_addr(nnodes, i);
		size_t got;
		int r;

		fill(page, addr);
		r = page_req(ep, LEGO_OP_MEM_PAGE_FLUSH, 0, addr, page, NULL, &got);
		if (r < 0) {
			if (!a->errors)
				fprintf(stderr, "%s: PAGE_FLUSH 0x%" PRIx64 ": %s\n", prog, addr,
					errname(r));
			a->errors++;
		}
	}
	gm_rpc_close(ep);
	return NULL;
}

static int do_setup(struct gm_rpc_ep *ep, uint64_t mb, uint64_t zero_mb)
{
	static uint8_t rep[LEGO_RPC_MAX_MSG];
	struct lego_mem_create_req cq = { 0 };
	uint64_t len = (mb + zero_mb) << 20;
	size_t got;
	int r, found = 0, tries = 0;
	uint32_t rnd;
	uint64_t t0 = now_ns();

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint32_t)now_ns();
	mm = LEGO_MM_ID_CLIENT_BASE | ((uint64_t)(getpid() & 0xffff) << 32) | rnd;
	data_pages = (mb << 20) / PG;
	zero_pages = (zero_mb << 20) / PG;
	cq.mm = mm;
	cq.vnode = 0;
	cq.storage_ipv4 = st_ip;
	r = home_call(ep, LEGO_OP_MEM_CREATE, &cq, sizeof(cq), NULL, 0, &got);
	if (r < 0) {
		fprintf(stderr, "%s: CREATE: %s\n", prog, errname(r));
		return 1;
	}
	struct lego_mem_map_req q = { .mm = mm };
	r = home_call(ep, LEGO_OP_MEM_VREGIONS, &q, sizeof(q), rep, sizeof(rep), &got);
	if (r < 0 || got < sizeof(struct lego_mem_layout_reply)) {
		fprintf(stderr, "%s: VREGIONS: %s\n", prog, r < 0 ? errname(r) : "short reply");
		return 1;
	}
	vshift = ((struct lego_mem_layout_reply *)rep)->vregion_shift;
	if (len > (1ull << vshift)) {
		fprintf(stderr, "%s: --mb + --zero-mb larger than a vRegion (%u bits)\n", prog,
			vshift);
		return 1;
	}
	printf("mf: mapping");
	for (uint32_t idx = 1; found < nnodes && tries < MAX_TRIES; idx++, tries++) {
		struct lego_mem_layout_reply *h = (void *)rep;
		struct lego_mem_vregion *v = (void *)(rep + sizeof(*h));

		memset(&q, 0, sizeof(q));
		q.mm = mm;
		q.addr = (uint64_t)idx << vshift;
		q.len = len;
		q.prot = PROT_READ | PROT_WRITE;
		q.flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE;
		r = home_call(ep, LEGO_OP_MEM_MMAP, &q, sizeof(q), rep, sizeof(rep), &got);
		if (r < 0 || got < sizeof(*h) || got != sizeof(*h) + h->count * sizeof(*v) ||
		    h->value != q.addr) {
			fprintf(stderr, "%s: MMAP at 0x%" PRIx64 ": %s\n", prog, q.addr,
				r < 0 ? errname(r) : "unexpected reply");
			return 1;
		}
		for (uint32_t i = 0; i < h->count; i++) {
			if (v[i].index != idx)
				continue;
			printf(" v%u:", idx);
			for (int n = 0; n < nnodes; n++) {
				if (v[i].owner_ipv4 == nodes[n].ip && !nodes[n].base) {
					nodes[n].base = q.addr;
					nodes[n].index = idx;
					nodes[n].owner_id = v[i].owner_node;
					found++;
				}
				if (v[i].owner_ipv4 == nodes[n].ip)
					printf("%s", nodes[n].name);
			}
		}
		fflush(stdout);
	}
	printf("\n");
	if (found < nnodes) {
		fprintf(stderr, "%s: after %d vRegions, not every node of --nodes owns one\n", prog,
			tries);
		return 1;
	}
	uint64_t t1 = now_ns();
	/* Write every data page once (4 threads, each its own endpoint). */
	struct fill_arg fa[4];
	pthread_t th[4];
	uint64_t errors = 0;

	for (int i = 0; i < 4; i++) {
		fa[i] = (struct fill_arg){ .tid = i, .nthreads = 4 };
		pthread_create(&th[i], NULL, fill_thread, &fa[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		errors += fa[i].errors;
	}
	if (errors) {
		fprintf(stderr, "%s: %" PRIu64 " flush(es) failed\n", prog, errors);
		return 1;
	}
	uint64_t t2 = now_ns();
	printf("mf: setup {\"mm\": \"0x%016" PRIx64 "\", \"vregion_shift\": %u, \"tries\": %d, "
	       "\"data_pages\": %" PRIu64 ", \"zero_pages\": %" PRIu64 ", \"map_ns\": %" PRIu64
	       ", \"fill_ns\": %" PRIu64 ", \"nodes\": [", mm, vshift, tries, data_pages,
	       zero_pages, t1 - t0, t2 - t1);
	for (int n = 0; n < nnodes; n++) {
		struct lego_mem_stats st;
		char ip[INET_ADDRSTRLEN];
		struct in_addr a = { .s_addr = nodes[n].ip };

		memset(&st, 0, sizeof(st));
		got = 0;
		r = gm_rpc_call(ep, nodes[n].ip, nodes[n].port, LEGO_OP_MEM_STATS, NULL, 0, &st,
				sizeof(st), &got, timeout_ms);
		printf("%s{\"name\": \"%s\", \"ip\": \"%s\", \"node_id\": %u, \"vregion\": %u, "
		       "\"base\": \"0x%" PRIx64 "\", \"stats_ok\": %d, \"pages\": %" PRIu64
		       ", \"vregions\": %" PRIu64 ", \"mem_free_bytes\": %" PRIu64 "}",
		       n ? ", " : "", nodes[n].name, inet_ntop(AF_INET, &a, ip, sizeof(ip)),
		       nodes[n].owner_id, nodes[n].index, nodes[n].base, r == 0 && got >= sizeof(st),
		       st.pages, st.vregions, st.mem_free_bytes);
	}
	printf("]}\n");
	fflush(stdout);
	return 0;
}

/* ------------------------------------------------------------------ runs */

enum test { T_FETCH, T_ZERO, T_FLUSHFETCH, T_PING4K };
static const char *const test_names[] = { "fetch", "zero", "flushfetch", "ping4k" };

struct run {
	enum test test;
	int set, nthreads;
	uint64_t count, warmup, seed;
	pthread_barrier_t bar;
	uint64_t t_start, t_end[MAX_THREADS];
};

struct worker {
	struct run *run;
	int tid;
	uint64_t *lat, nlat, errors, bad;
};

static int one_op(struct gm_rpc_ep *ep, const struct run *rn, uint64_t *rng, uint64_t i,
		  uint64_t *dt, bool *ok)
{
	static const uint8_t zero[PG];
	uint8_t rbuf[PG], wbuf[PG];
	uint64_t addr, faddr, t0;
	size_t got = 0;
	int r;

	switch (rn->test) {
	case T_FETCH:
		addr = data_addr(rn->set, rng_next(rng));
		memset(rbuf, 0xa5, PG);
		t0 = now_ns();
		r = page_req(ep, LEGO_OP_MEM_PAGE_FETCH, addr, 0, NULL, rbuf, &got);
		*dt = now_ns() - t0;
		*ok = r != 0 || (got == PG && check(rbuf, addr));
		return r;
	case T_ZERO:
		addr = nodes[0].base + (data_pages + rng_next(rng) % zero_pages) * PG;
		t0 = now_ns();
		r = page_req(ep, LEGO_OP_MEM_PAGE_FETCH, addr, 0, NULL, rbuf, &got);
		*dt = now_ns() - t0;
		*ok = r != 0 || got == 0 || (got == PG && !memcmp(rbuf, zero, PG));
		return r;
	case T_FLUSHFETCH:
		faddr = data_addr(1, rng_next(rng));
		addr = data_addr(1, rng_next(rng));
		fill(wbuf, faddr);
		memset(rbuf, 0xa5, PG);
		t0 = now_ns();
		r = page_req(ep, LEGO_OP_MEM_PAGE_FLUSH_FETCH, addr, faddr, wbuf, rbuf, &got);
		*dt = now_ns() - t0;
		*ok = r != 0 || (got == PG && check(rbuf, addr));
		return r;
	default:
		for (size_t j = 0; j < PG; j++)
			wbuf[j] = (uint8_t)(i * 7 + j);
		t0 = now_ns();
		r = gm_rpc_call(ep, nodes[0].ip, nodes[0].port, LEGO_OP_PING, wbuf, PG, rbuf, PG,
				&got, timeout_ms);
		*dt = now_ns() - t0;
		*ok = r != 0 || (got == PG && !memcmp(rbuf, wbuf, PG));
		return r;
	}
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct run *rn = w->run;
	struct gm_rpc_ep *ep = open_ep();
	uint64_t rng;

	rng_init(&rng, rn->seed * 1000003u + (uint64_t)w->tid * 7919u + 1);
	for (uint64_t i = 0; i < rn->warmup + rn->count; i++) {
		uint64_t dt;
		bool ok;
		int r;

		if (i == rn->warmup) {
			pthread_barrier_wait(&rn->bar);
			if (w->tid == 0)
				rn->t_start = now_ns();
			pthread_barrier_wait(&rn->bar);
		}
		r = one_op(ep, rn, &rng, i, &dt, &ok);
		if (r < 0) {
			if (!w->errors)
				fprintf(stderr, "%s: %s (thread %d): %s\n", prog,
					test_names[rn->test], w->tid, errname(r));
			w->errors++;
		} else if (!ok) {
			if (!w->bad)
				fprintf(stderr, "%s: %s (thread %d): wrong page\n", prog,
					test_names[rn->test], w->tid);
			w->bad++;
		} else if (i >= rn->warmup) {
			w->lat[w->nlat++] = dt;
		}
	}
	rn->t_end[w->tid] = now_ns();
	gm_rpc_close(ep);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int do_run(int round, enum test t, int set, int nthreads, uint64_t count, uint64_t warmup,
		  uint64_t seed)
{
	struct run rn = { .test = t, .set = set, .nthreads = nthreads, .count = count,
			  .warmup = warmup, .seed = seed };
	struct worker w[MAX_THREADS];
	pthread_t th[MAX_THREADS];
	uint64_t *all = malloc(nthreads * count * sizeof(*all)), nall = 0, errors = 0, bad = 0;
	uint64_t end = 0, sum = 0;

	pthread_barrier_init(&rn.bar, NULL, nthreads);
	for (int i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .run = &rn, .tid = i, .lat = all + i * count };
		pthread_create(&th[i], NULL, worker_main, &w[i]);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		errors += w[i].errors;
		bad += w[i].bad;
		if (rn.t_end[i] > end)
			end = rn.t_end[i];
	}
	pthread_barrier_destroy(&rn.bar);
	for (int i = 0; i < nthreads; i++) {
		memmove(all + nall, w[i].lat, w[i].nlat * sizeof(*all));
		nall += w[i].nlat;
	}
	qsort(all, nall, sizeof(*all), cmp_u64);
	for (uint64_t i = 0; i < nall; i++)
		sum += all[i];
	uint64_t wall = end - rn.t_start;
	printf("mf: result {\"round\": %d, \"test\": \"%s\", \"set\": %d, \"threads\": %d, "
	       "\"ops\": %" PRIu64 ", \"wall_ns\": %" PRIu64 ", \"ops_s\": %.1f, \"med_ns\": %" PRIu64
	       ", \"p99_ns\": %" PRIu64 ", \"mean_ns\": %.1f, \"min_ns\": %" PRIu64
	       ", \"max_ns\": %" PRIu64 ", \"errors\": %" PRIu64 ", \"bad\": %" PRIu64 "}\n",
	       round, test_names[t], set, nthreads, nall, wall,
	       wall ? nall * 1e9 / (double)wall : 0.0, nall ? all[nall / 2] : 0,
	       nall ? all[nall * 99 / 100] : 0, nall ? (double)sum / (double)nall : 0.0,
	       nall ? all[0] : 0, nall ? all[nall - 1] : 0, errors, bad);
	fflush(stdout);
	free(all);
	return errors || bad ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: %s [--home NODE] [--storage NODE] [--nodes N1,N2,...] [--mb MB]\n"
		"          [--zero-mb MB] [--count N] [--op-warmup N] [--rounds N] [--warmup N]\n"
		"          [--threads 1,2,4] [--seed S] [--aux-count N]\n"
		"NODE: a name of $LEGO_NODES (scripts/rack exec) or A.B.C.D[:PORT]\n", prog);
	exit(2);
}

static void resolve(const char *spec, uint32_t *ip, uint16_t *port)
{
	char err[256];

	if (gm_node_resolve(spec, ip, port, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	const char *home = "m0", *storage = "s0", *nodelist = "m0,m1", *threads = "1,2,4";
	uint64_t mb = 64, zero_mb = 4, count = 2000, op_warmup = 50, rounds = 3, warmup = 1;
	uint64_t seed = 42, aux_count = 0;
	int tlist[8], ntl = 0, rc = 0;

	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t *dst = NULL;
		char *end;

		if (!v)
			usage();
		if (!strcmp(o, "--home"))
			home = v;
		else if (!strcmp(o, "--storage"))
			storage = v;
		else if (!strcmp(o, "--nodes"))
			nodelist = v;
		else if (!strcmp(o, "--threads"))
			threads = v;
		else if (!strcmp(o, "--mb"))
			dst = &mb;
		else if (!strcmp(o, "--zero-mb"))
			dst = &zero_mb;
		else if (!strcmp(o, "--count"))
			dst = &count;
		else if (!strcmp(o, "--op-warmup"))
			dst = &op_warmup;
		else if (!strcmp(o, "--rounds"))
			dst = &rounds;
		else if (!strcmp(o, "--warmup"))
			dst = &warmup;
		else if (!strcmp(o, "--seed"))
			dst = &seed;
		else if (!strcmp(o, "--aux-count"))
			dst = &aux_count;
		else
			usage();
		if (dst) {
			errno = 0;
			*dst = strtoull(v, &end, 0);
			if (errno || *end || end == v)
				usage();
		}
		i++;
	}
	if (!aux_count)
		aux_count = count;
	if (!mb || !zero_mb || !count || !rounds)
		usage();
	char *list = strdup(threads), *save = NULL;
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int n = atoi(t);
		if (n < 1 || n > MAX_THREADS || ntl == 8)
			usage();
		tlist[ntl++] = n;
	}
	free(list);
	list = strdup(nodelist);
	for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (nnodes == MAX_NODES)
			usage();
		snprintf(nodes[nnodes].name, sizeof(nodes[nnodes].name), "%s", t);
		resolve(t, &nodes[nnodes].ip, &nodes[nnodes].port);
		nnodes++;
	}
	free(list);
	if (!ntl || !nnodes)
		usage();
	resolve(home, &home_ip, &home_port);
	uint16_t sp;
	resolve(storage, &st_ip, &sp);

	struct gm_rpc_ep *ep = open_ep();
	if (do_setup(ep, mb, zero_mb)) {
		gm_rpc_close(ep);
		return 1;
	}
	for (uint64_t rd = 0; rd < warmup + rounds; rd++) {
		int round = (int)rd - (int)warmup;	/* < 0: warm-up */

		for (int set = 1; set <= nnodes; set++)
			for (int k = 0; k < ntl; k++)
				rc |= do_run(round, T_FETCH, set, tlist[k], count, op_warmup,
					     seed + rd * 101 + set * 11 + tlist[k]);
		rc |= do_run(round, T_ZERO, 1, 1, aux_count, op_warmup, seed + rd * 101 + 5);
		rc |= do_run(round, T_FLUSHFETCH, 1, 1, aux_count, op_warmup, seed + rd * 101 + 6);
		rc |= do_run(round, T_PING4K, 1, 1, aux_count, op_warmup, seed + rd * 101 + 7);
		if (rc)
			break;
	}
	struct lego_mem_map_req q = { .mm = mm };
	size_t got;
	int r = home_call(ep, LEGO_OP_MEM_EXIT, &q, sizeof(q), NULL, 0, &got);
	if (r < 0) {
		fprintf(stderr, "%s: EXIT: %s\n", prog, errname(r));
		rc = 1;
	}
	gm_rpc_close(ep);
	printf("mf: done rc=%d\n", rc);
	return rc;
}
