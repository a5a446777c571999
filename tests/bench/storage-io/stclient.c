/*
 * stclient: the LegoOS side of tests/bench/storage-io.
 *
 * A Linux program that calls a storage monitor over LegoOS RPC
 * (include/uapi/lego/storage.h, through gm/lib/rpc.c in build/gm/libgm.a),
 * from the rack's namespace -- the position legoctl is in. It does the I/O
 * that odirect.c does on a Linux guest's raw disk (see stbench.h), on one
 * file of a vNode, and times each call on this host with
 * clock_gettime(CLOCK_MONOTONIC).
 *
 *   stclient NODE statfs
 *       prints "st: statfs {JSON}"; exit 0 when the store is mounted read-write
 *   stclient NODE setup --file-size BYTES [--vnode V] [--path P] [--chunk BYTES]
 *       creates vNode V (LEGO_OP_ST_VNODE_CREATE; an existing one is reused;
 *       V 0 is the base root and is never created), creates P (truncating it),
 *       writes blocks 0 .. FILE_SIZE/4096-1 (st_fill content) with WRITEs of
 *       CHUNK bytes (default 128 KiB = LEGO_ST_IO_MAX), then FSYNC; also
 *       makes P.hole, a file of FILE_SIZE bytes that is one hole (TRUNCATE),
 *       for the holeread test; prints "st: setup {JSON}"
 *   stclient NODE run --file-size BYTES [--vnode V] [--path P] [--count N]
 *                     [--write-count N] [--warmup W] [--seed S] [--tests LIST]
 *       LIST: comma-separated of
 *         seqread, randread, write   the tests of stbench.h (WRITE of 4 KiB +
 *                                    FSYNC of P, timed as one op)
 *         holeread   random 4 KiB READs of P.hole: the store reads no data
 *                    block, so this is RPC + request handling + 4 KiB reply
 *         stat       STAT of P: RPC + one path lookup, small reply
 *         ping64, ping4k  LEGO_OP_PING with 64 B / 4 KiB payloads (echoed)
 *       (default: seqread,randread,write); prints "st: result {JSON}"
 *
 * NODE is a node name from $LEGO_NODES (scripts/rack exec sets it), or
 * A.B.C.D[:PORT]. Defaults: --vnode 4242, --path /stbench.dat.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>

#include <gm/nodes.h>
#include <gm/rpc.h>
#include <uapi/lego/storage.h>

#include "stbench.h"

#define TIMEOUT_MS 20000

static const char *prog = "stclient";
static struct gm_rpc_ep *ep;
static uint32_t dst_ip;
static uint16_t dst_port;

static void usage(void)
{
	fprintf(stderr,
		"usage: %s NODE statfs\n"
		"       %s NODE setup --file-size BYTES [--vnode V] [--path P] [--chunk BYTES]\n"
		"       %s NODE run --file-size BYTES [--vnode V] [--path P] [--count N]\n"
		"                   [--write-count N] [--warmup W] [--seed S] [--tests LIST]\n"
		"LIST: seqread,randread,write,holeread,stat,ping64,ping4k\n", prog, prog, prog);
	exit(2);
}

struct cfg {
	uint32_t vnode;
	const char *path;
	char hole_path[LEGO_ST_PATH_MAX];
	uint64_t file_size, chunk, count, write_count, warmup, seed;
	unsigned tests;		/* bit per entry of test_names */
};

static const char *const test_names[] = { "seqread", "randread", "write", "holeread",
					  "stat", "ping64", "ping4k" };
enum { T_SEQREAD, T_RANDREAD, T_WRITE, T_HOLEREAD, T_STAT, T_PING64, T_PING4K, T_NR };

/* A request buffer: header, path, data. */
static uint8_t *reqbuf;
static size_t reqcap;

static size_t build_req(uint32_t vnode, const char *path, uint64_t off, uint64_t len,
			uint32_t flags, uint32_t mode, const void *data, size_t dlen)
{
	size_t plen = path ? strlen(path) : 0;
	size_t need = sizeof(struct lego_st_req) + plen + dlen;
	struct lego_st_req h = { .vnode = vnode, .flags = flags, .off = off, .len = len,
				 .mode = mode, .path_len = (uint16_t)plen };

	if (need > reqcap) {
		reqbuf = realloc(reqbuf, need);
		if (!reqbuf) {
			fprintf(stderr, "%s: out of memory\n", prog);
			exit(1);
		}
		reqcap = need;
	}
	memcpy(reqbuf, &h, sizeof(h));
	if (plen)
		memcpy(reqbuf + sizeof(h), path, plen);
	if (dlen)
		memcpy(reqbuf + sizeof(h) + plen, data, dlen);
	return need;
}

static int call(uint16_t op, size_t reqlen, void *reply, size_t rmax, size_t *rlen)
{
	return gm_rpc_call(ep, dst_ip, dst_port, op, reqbuf, reqlen, reply, rmax, rlen, TIMEOUT_MS);
}

static int st_call(uint16_t op, uint32_t vnode, const char *path, uint64_t off, uint64_t len,
		   uint32_t flags, uint32_t mode, const void *data, size_t dlen, void *reply,
		   size_t rmax, size_t *rlen)
{
	return call(op, build_req(vnode, path, off, len, flags, mode, data, dlen), reply, rmax, rlen);
}

static const char *errname(int r)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%s (%d)", strerror(-r), r);
	return buf;
}

static void json_str(const char *s, size_t max)
{
	putchar('"');
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '"' || ch == '\\')
			printf("\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			printf("\\u%04x", ch);
		else
			putchar(ch);
	}
	putchar('"');
}

static int do_statfs(void)
{
	struct lego_st_statfs sf;
	size_t got = 0;
	int r = st_call(LEGO_OP_ST_STATFS, 0, NULL, 0, 0, 0, 0, NULL, 0, &sf, sizeof(sf), &got);

	if (r < 0) {
		fprintf(stderr, "%s: STATFS: %s\n", prog, errname(r));
		return 1;
	}
	if (got < sizeof(sf)) {
		fprintf(stderr, "%s: STATFS: reply of %zu bytes, expected %zu\n", prog, got,
			sizeof(sf));
		return 1;
	}
	printf("st: statfs {\"state\": %u, \"block_size\": %u, \"total_bytes\": %" PRIu64
	       ", \"free_bytes\": %" PRIu64 ", \"total_inodes\": %u, \"free_inodes\": %u"
	       ", \"max_vnodes\": %u, \"nvnodes\": %u, \"commits\": %" PRIu64 ", \"label\": ",
	       sf.state, sf.block_size, sf.total_bytes, sf.free_bytes, sf.total_inodes,
	       sf.free_inodes, sf.max_vnodes, sf.nvnodes, sf.commits);
	json_str(sf.label, sizeof(sf.label));
	printf(", \"message\": ");
	json_str(sf.message, sizeof(sf.message));
	printf("}\n");
	return sf.state == LEGO_ST_STATE_OK ? 0 : 1;
}

static int do_setup(const struct cfg *c)
{
	uint64_t nblocks = c->file_size / ST_BLOCK, per = c->chunk / ST_BLOCK;
	struct lego_st_count cnt;
	size_t got;
	int r;
	uint8_t *buf = malloc(c->chunk);

	if (!buf) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	if (c->vnode != 0) {
		r = st_call(LEGO_OP_ST_VNODE_CREATE, c->vnode, NULL, 0, 0, 0, 0, NULL, 0, NULL, 0,
			    NULL);
		if (r < 0 && r != -EEXIST) {
			fprintf(stderr, "%s: VNODE_CREATE %u: %s\n", prog, c->vnode, errname(r));
			return 1;
		}
	}
	uint64_t t0 = st_now_ns();
	r = st_call(LEGO_OP_ST_CREATE, c->vnode, c->path, 0, 0, LEGO_ST_O_TRUNC, 0644, NULL, 0,
		    NULL, 0, NULL);
	if (r < 0) {
		fprintf(stderr, "%s: CREATE %s: %s\n", prog, c->path, errname(r));
		return 1;
	}
	for (uint64_t b = 0; b < nblocks; b += per) {
		uint64_t n = nblocks - b < per ? nblocks - b : per;

		for (uint64_t i = 0; i < n; i++)
			st_fill(buf + i * ST_BLOCK, b + i);
		got = 0;
		r = st_call(LEGO_OP_ST_WRITE, c->vnode, c->path, b * ST_BLOCK, n * ST_BLOCK, 0, 0,
			    buf, n * ST_BLOCK, &cnt, sizeof(cnt), &got);
		if (r < 0 || got != sizeof(cnt) || cnt.value != n * ST_BLOCK) {
			fprintf(stderr, "%s: WRITE %s at %" PRIu64 ": %s\n", prog, c->path,
				b * ST_BLOCK, r < 0 ? errname(r) : "short write");
			return 1;
		}
	}
	r = st_call(LEGO_OP_ST_FSYNC, c->vnode, c->path, 0, 0, 0, 0, NULL, 0, NULL, 0, NULL);
	if (r < 0) {
		fprintf(stderr, "%s: FSYNC %s: %s\n", prog, c->path, errname(r));
		return 1;
	}
	uint64_t dt = st_now_ns() - t0;

	r = st_call(LEGO_OP_ST_CREATE, c->vnode, c->hole_path, 0, 0, LEGO_ST_O_TRUNC, 0644, NULL,
		    0, NULL, 0, NULL);
	if (r == 0)
		r = st_call(LEGO_OP_ST_TRUNCATE, c->vnode, c->hole_path, c->file_size, 0, 0, 0, NULL,
			    0, NULL, 0, NULL);
	if (r == 0)
		r = st_call(LEGO_OP_ST_FSYNC, c->vnode, NULL, 0, 0, 0, 0, NULL, 0, NULL, 0, NULL);
	if (r < 0) {
		fprintf(stderr, "%s: making %s: %s\n", prog, c->hole_path, errname(r));
		return 1;
	}
	struct lego_st_stat st;
	got = 0;
	r = st_call(LEGO_OP_ST_STAT, c->vnode, c->path, 0, 0, 0, 0, NULL, 0, &st, sizeof(st), &got);
	if (r < 0 || got != sizeof(st) || st.size != nblocks * ST_BLOCK) {
		fprintf(stderr, "%s: STAT %s after setup: %s\n", prog, c->path,
			r < 0 ? errname(r) : "wrong size");
		return 1;
	}
	printf("st: setup {\"bytes\": %" PRIu64 ", \"chunk\": %" PRIu64 ", \"elapsed_ns\": %" PRIu64
	       ", \"blocks\": %" PRIu64 ", \"vnode\": %u}\n", nblocks * ST_BLOCK, c->chunk, dt,
	       st.blocks, c->vnode);
	free(buf);
	return 0;
}

static int do_run(const struct cfg *c)
{
	uint64_t nblocks = c->file_size / ST_BLOCK;
	uint64_t maxn = c->count > c->write_count ? c->count : c->write_count;
	uint64_t *lat = malloc(maxn * sizeof(*lat));
	uint8_t *buf = malloc(ST_BLOCK), *pbuf = malloc(ST_BLOCK), *rbuf = malloc(ST_BLOCK);
	int first = 1, rc = 0;

	if (!lat || !buf || !pbuf || !rbuf) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	uint64_t clock_ns = st_clock_cost_ns();
	printf("st: result {\"system\": \"legoos\", \"clock_ns\": %" PRIu64 ", \"tests\": {",
	       clock_ns);
	for (int k = 0; k < T_NR; k++) {
		if (!(c->tests & (1u << k)))
			continue;
		struct st_seq q;
		uint64_t n = k == T_WRITE ? c->write_count : c->count;
		uint64_t errors = 0, bad = 0, nlat = 0;
		enum st_kind kind = k == T_SEQREAD ? ST_SEQREAD : k == T_WRITE ? ST_WRITE :
				    ST_RANDREAD;
		size_t psize = k == T_PING64 ? 64 : ST_BLOCK;

		st_seq_init(&q, kind, nblocks, c->seed);
		for (uint64_t i = 0; i < c->warmup + n; i++) {
			uint64_t b = st_seq_next(&q), t0, dt;
			size_t got = 0, len;
			int r, ok = 1;

			switch (k) {
			case T_WRITE: {
				struct lego_st_count cnt;
				st_fill(buf, b);
				len = build_req(c->vnode, c->path, b * ST_BLOCK, ST_BLOCK, 0, 0, buf,
						ST_BLOCK);
				t0 = st_now_ns();
				r = call(LEGO_OP_ST_WRITE, len, &cnt, sizeof(cnt), &got);
				if (r == 0) {
					ok = got == sizeof(cnt) && cnt.value == ST_BLOCK;
					len = build_req(c->vnode, c->path, 0, 0, 0, 0, NULL, 0);
					r = call(LEGO_OP_ST_FSYNC, len, NULL, 0, NULL);
				}
				dt = st_now_ns() - t0;
				break;
			}
			case T_SEQREAD:
			case T_RANDREAD:
			case T_HOLEREAD:
				len = build_req(c->vnode, k == T_HOLEREAD ? c->hole_path : c->path,
						b * ST_BLOCK, ST_BLOCK, 0, 0, NULL, 0);
				memset(rbuf, 0xa5, ST_BLOCK);
				t0 = st_now_ns();
				r = call(LEGO_OP_ST_READ, len, rbuf, ST_BLOCK, &got);
				dt = st_now_ns() - t0;
				if (r == 0 && got != ST_BLOCK)
					ok = 0;
				else if (r == 0 && k != T_HOLEREAD)
					ok = st_check(rbuf, b) == 0;
				else if (r == 0) {
					static const uint8_t zero[ST_BLOCK];
					ok = memcmp(rbuf, zero, ST_BLOCK) == 0;
				}
				break;
			case T_STAT: {
				struct lego_st_stat st;
				len = build_req(c->vnode, c->path, 0, 0, 0, 0, NULL, 0);
				t0 = st_now_ns();
				r = call(LEGO_OP_ST_STAT, len, &st, sizeof(st), &got);
				dt = st_now_ns() - t0;
				ok = r != 0 || (got == sizeof(st) && st.size == c->file_size);
				break;
			}
			default: /* ping */
				for (size_t j = 0; j < psize; j++)
					pbuf[j] = (uint8_t)(i * 7 + j);
				memcpy(reqbuf, pbuf, psize);	/* reqcap >= 4096 from the start */
				t0 = st_now_ns();
				r = call(LEGO_OP_PING, psize, rbuf, ST_BLOCK, &got);
				dt = st_now_ns() - t0;
				ok = r != 0 || (got == psize && !memcmp(rbuf, pbuf, psize));
				break;
			}
			if (r < 0) {
				if (!errors)
					fprintf(stderr, "%s: %s (block %" PRIu64 "): %s\n", prog,
						test_names[k], b, errname(r));
				errors++;
			} else if (!ok) {
				if (!bad)
					fprintf(stderr, "%s: %s (block %" PRIu64 "): wrong reply (%zu bytes)\n",
						prog, test_names[k], b, got);
				bad++;
			} else if (i >= c->warmup) {
				lat[nlat++] = dt;
			}
		}
		st_json_test(stdout, first, test_names[k], lat, nlat, errors, bad);
		first = 0;
		if (errors || bad)
			rc = 1;
	}
	struct gm_rpc_stats rs;
	gm_rpc_stats(ep, &rs);
	printf("}, \"rpc\": {\"calls\": %" PRIu64 ", \"req_frags_resent\": %" PRIu64
	       ", \"probes_sent\": %" PRIu64 ", \"rx_dropped\": %" PRIu64 "}}\n",
	       rs.calls, rs.req_frags_resent, rs.probes_sent, rs.rx_dropped);
	fflush(stdout);
	free(lat);
	free(buf);
	free(pbuf);
	free(rbuf);
	return rc;
}

int main(int argc, char **argv)
{
	struct cfg c = { .vnode = 4242, .path = "/stbench.dat", .chunk = LEGO_ST_IO_MAX,
			 .count = 1000, .write_count = 200, .warmup = 20, .seed = 42,
			 .tests = (1u << T_SEQREAD) | (1u << T_RANDREAD) | (1u << T_WRITE) };
	char err[256];
	const char *cmd;
	int r;

	if (argc < 3)
		usage();
	cmd = argv[2];
	if (strcmp(cmd, "statfs") && strcmp(cmd, "setup") && strcmp(cmd, "run"))
		usage();
	for (int i = 3; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t *dst = NULL, x;

		if (!v)
			usage();
		if (!strcmp(o, "--file-size"))
			dst = &c.file_size;
		else if (!strcmp(o, "--chunk"))
			dst = &c.chunk;
		else if (!strcmp(o, "--count"))
			dst = &c.count;
		else if (!strcmp(o, "--write-count"))
			dst = &c.write_count;
		else if (!strcmp(o, "--warmup"))
			dst = &c.warmup;
		else if (!strcmp(o, "--seed"))
			dst = &c.seed;
		else if (!strcmp(o, "--path"))
			c.path = v;
		else if (!strcmp(o, "--vnode")) {
			if (st_parse_u64(v, &x) < 0 || x >= 0xffffffffu)
				usage();
			c.vnode = (uint32_t)x;
		} else if (!strcmp(o, "--tests")) {
			char *list = strdup(v), *save = NULL;
			c.tests = 0;
			for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				int found = 0;
				for (int k = 0; k < T_NR; k++)
					if (!strcmp(t, test_names[k]))
						c.tests |= 1u << k, found = 1;
				if (!found)
					usage();
			}
			free(list);
		} else
			usage();
		if (dst && st_parse_u64(v, dst) < 0)
			usage();
		i++;
	}
	if (strcmp(cmd, "statfs") &&
	    (c.file_size < ST_BLOCK || c.file_size % ST_BLOCK || c.chunk < ST_BLOCK ||
	     c.chunk % ST_BLOCK || c.chunk > LEGO_ST_IO_MAX || !c.count || !c.write_count ||
	     c.path[0] != '/' || strlen(c.path) + 6 > LEGO_ST_PATH_MAX - 1))
		usage();
	snprintf(c.hole_path, sizeof(c.hole_path), "%s.hole", c.path);

	if (gm_node_resolve(argv[1], &dst_ip, &dst_port, NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s: %s\n", prog, err);
		return 2;
	}
	r = gm_rpc_open(&ep, htonl(INADDR_ANY), 0);
	if (r < 0) {
		fprintf(stderr, "%s: cannot open an RPC endpoint: %s\n", prog, errname(r));
		return 1;
	}
	reqcap = 4096;
	reqbuf = malloc(reqcap);
	if (!reqbuf)
		return 1;
	if (!strcmp(cmd, "statfs"))
		r = do_statfs();
	else if (!strcmp(cmd, "setup"))
		r = do_setup(&c);
	else
		r = do_run(&c);
	gm_rpc_close(ep);
	free(reqbuf);
	return r;
}
