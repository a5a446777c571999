/*
 * owntest: the vRegion owner side of the memory monitor, driven directly
 * (no home): LEGO_OP_MEM_OWN requests as a home sends them and
 * LEGO_OP_MEM_PAGE_* requests as a processor sends them, to the memory
 * nodes of a rack, checked against what include/uapi/lego/memory.h and
 * docs/memory.md ("vRegion owners") promise. Used by
 * tests/rack/87-mem-owner.sh, which builds it with build/gm/libgm.a and
 * runs it inside the rack's network namespace.
 *
 *   owntest --mem IP [--mem2 IP] --storage IP [--node-id N] [--busybox FILE]
 *           GROUP...
 *
 * Groups: layout, pages, bulk, files, fork, maps, errors, nodes (needs --mem2),
 * churn, race, remap, zero. "remap" plays a processor instead: it talks to
 * --mem as the home of a new address space (CREATE, MMAP, MREMAP, EXIT)
 * and fetches and flushes pages at the owners the home's vRegion array
 * names, to check mremap across vRegions. Every group frees what it made;
 * "zero" checks that the owner counters (mms_owned, vregions, vmas, pages)
 * of every node given are 0. Prints "FAIL <group>:<line>: ..." for each
 * failed check, then "owntest: N passed, M failed"; exits 0 iff nothing
 * failed (2: usage).
 * vRegions are 1 GiB (shift 30); mm ids are LEGO_MM_ID_CLIENT_BASE | pid <<
 * 32 | counter, so that concurrent runs never share an address space.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <gm/rpc.h>
#include <uapi/lego/memory.h>
#include <uapi/lego/storage.h>

#define GiB (1ULL << 30)
#define MiB (1ULL << 20)
#define PG 4096ULL
#define SHIFT 30
#define TIMEOUT_MS 8000

/* Linux's mmap values (memory.h uses them). */
#define P_R 1u
#define P_W 2u
#define P_X 4u
#define M_SHARED 0x01u
#define M_PRIVATE 0x02u
#define M_FIXED 0x10u
#define M_ANON 0x20u
#define M_NOREPLACE 0x100000u
#define MR_MAYMOVE 1u
#define MR_FIXED 2u
#define A_R LEGO_MEM_ACCESS_READ
#define A_W LEGO_MEM_ACCESS_WRITE
#define A_X LEGO_MEM_ACCESS_EXEC
#define ANON (M_PRIVATE | M_ANON)

static struct gm_rpc_ep *ep;
static uint32_t mem1, mem2, sip;
static uint32_t node_id;		/* m0's node id (0: not checked) */
static const char *busybox = "/bin/busybox";
static const char *group = "-";
static int fails, passes;
static uint64_t next_mm;

#define CHECK(c, ...) check(!!(c), __LINE__, __VA_ARGS__)

static void check(int ok, int line, const char *fmt, ...)
{
	if (ok) {
		passes++;
		return;
	}
	fails++;
	va_list ap;
	va_start(ap, fmt);
	printf("FAIL %s:%d: ", group, line);
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

static uint64_t new_mm(void)
{
	return LEGO_MM_ID_CLIENT_BASE | ((uint64_t)(getpid() & 0xffff) << 32) | ++next_mm;
}

static int call(uint32_t ip, uint16_t op, const void *req, size_t n, void *rep, size_t rmax,
		size_t *got)
{
	size_t g = 0;
	int r = gm_rpc_call(ep, ip, 0, op, req, n, rep, rmax, &g, TIMEOUT_MS);
	if (got)
		*got = g;
	if (r == -ETIMEDOUT) {
		printf("note %s: opcode %#x to %s timed out\n", group, op,
		       inet_ntoa((struct in_addr){ ip }));
		fflush(stdout);
	}
	return r;
}

/* ------------------------------------------------------------------ */
/* OWN                                                                 */

static struct lego_mem_own_req oq(uint64_t mm, uint32_t op, uint32_t index)
{
	struct lego_mem_own_req q;
	memset(&q, 0, sizeof(q));
	q.c.mm = mm;
	q.c.storage_ipv4 = sip;
	q.op = op;
	q.index = index;
	q.vregion_shift = SHIFT;
	q.mmap_base = (uint64_t)(index + 1) << SHIFT;
	q.m.mm = mm;
	return q;
}

/* Send q (+ path); the reply must be exactly an own_reply on success. */
static int own_q(uint32_t ip, struct lego_mem_own_req q, const char *path,
		 struct lego_mem_own_reply *rep)
{
	static uint8_t buf[sizeof(q) + LEGO_ST_PATH_MAX];
	struct lego_mem_own_reply dummy;
	size_t pl = path ? strlen(path) : 0, got = 0;
	q.m.path_len = (uint16_t)pl;
	memcpy(buf, &q, sizeof(q));
	if (pl)
		memcpy(buf + sizeof(q), path, pl);
	if (!rep)
		rep = &dummy;
	memset(rep, 0, sizeof(*rep));
	int r = call(ip, LEGO_OP_MEM_OWN, buf, sizeof(q) + pl, rep, sizeof(*rep), &got);
	if (r >= 0 && got != sizeof(*rep)) {
		CHECK(0, "OWN op %u: reply of %zu bytes, not %zu", q.op, got, sizeof(*rep));
		return -1000;
	}
	if (r < 0 && got) {
		CHECK(0, "OWN op %u: error %d with a %zu-byte reply", q.op, r, got);
	}
	return r;
}

static int o_mmap(uint32_t ip, uint64_t mm, uint32_t idx, uint64_t addr, uint64_t len, uint32_t prot,
		  uint32_t flags, const char *path, uint64_t pgoff, struct lego_mem_own_reply *rep)
{
	struct lego_mem_own_req q = oq(mm, LEGO_MEM_OWN_MMAP, idx);
	q.m.addr = addr;
	q.m.len = len;
	q.m.prot = prot;
	q.m.flags = flags;
	q.m.pgoff = pgoff;
	return own_q(ip, q, path, rep);
}

/* MUNMAP, MPROTECT, STACK */
static int o_range(uint32_t ip, uint64_t mm, uint32_t op, uint32_t idx, uint64_t addr, uint64_t len,
		   uint32_t prot, struct lego_mem_own_reply *rep)
{
	struct lego_mem_own_req q = oq(mm, op, idx);
	q.m.addr = addr;
	q.m.len = len;
	q.m.prot = prot;
	return own_q(ip, q, NULL, rep);
}

static int o_mremap(uint32_t ip, uint64_t mm, uint32_t idx, uint64_t addr, uint64_t len,
		    uint64_t new_len, uint32_t flags, uint64_t new_addr, struct lego_mem_own_reply *rep)
{
	struct lego_mem_own_req q = oq(mm, LEGO_MEM_OWN_MREMAP, idx);
	q.m.addr = addr;
	q.m.len = len;
	q.m.new_len = new_len;
	q.m.flags = flags;
	q.m.new_addr = new_addr;
	return own_q(ip, q, NULL, rep);
}

static int o_brk(uint32_t ip, uint64_t mm, uint32_t idx, uint64_t start, uint64_t want,
		 struct lego_mem_own_reply *rep)
{
	struct lego_mem_own_req q = oq(mm, LEGO_MEM_OWN_BRK, idx);
	q.m.addr = start;
	q.m.new_len = want;
	return own_q(ip, q, NULL, rep);
}

static int o_fork(uint32_t ip, uint64_t mm, uint32_t idx, uint64_t child,
		  struct lego_mem_own_reply *rep)
{
	struct lego_mem_own_req q = oq(mm, LEGO_MEM_OWN_FORK, idx);
	q.m.new_addr = child;
	return own_q(ip, q, NULL, rep);
}

static int o_free(uint32_t ip, uint64_t mm, uint32_t idx)
{
	struct lego_mem_own_req q = oq(mm, LEGO_MEM_OWN_FREE, idx);
	return own_q(ip, q, NULL, NULL);
}

/* MAPS, decoded. */
struct rec {
	struct lego_mem_vma_rec r;
	char path[LEGO_ST_PATH_MAX];
};
struct maps {
	struct lego_mem_own_reply rep;
	uint32_t count, more;
	size_t len;			/* reply bytes */
	struct rec *v;			/* count records (malloc) */
};

static uint8_t maps_buf[LEGO_RPC_MAX_MSG];

/* 0 (m filled, m->v to free), an error, or -1000 (malformed reply: failed). */
static int o_maps(uint32_t ip, uint64_t mm, uint32_t idx, uint64_t from, struct maps *m)
{
	struct lego_mem_own_req q = oq(mm, LEGO_MEM_OWN_MAPS, idx);
	size_t got = 0;
	q.m.addr = from;
	memset(m, 0, sizeof(*m));
	int r = call(ip, LEGO_OP_MEM_OWN, &q, sizeof(q), maps_buf, sizeof(maps_buf), &got);
	if (r < 0)
		return r;
	m->len = got;
	const size_t head = sizeof(struct lego_mem_own_reply) + sizeof(struct lego_mem_maps_reply);
	if (got < head) {
		CHECK(0, "MAPS reply of %zu bytes", got);
		return -1000;
	}
	memcpy(&m->rep, maps_buf, sizeof(m->rep));
	struct lego_mem_maps_reply mr;
	memcpy(&mr, maps_buf + sizeof(m->rep), sizeof(mr));
	m->count = mr.count;
	m->more = mr.more;
	m->v = calloc(mr.count ? mr.count : 1, sizeof(*m->v));
	size_t pos = head;
	for (uint32_t i = 0; i < mr.count; i++) {
		if (got - pos < sizeof(struct lego_mem_vma_rec)) {
			CHECK(0, "MAPS: record %u of %u past the reply's end", i, mr.count);
			return -1000;
		}
		memcpy(&m->v[i].r, maps_buf + pos, sizeof(m->v[i].r));
		size_t n = m->v[i].r.path_len, sz = LEGO_MEM_VMA_REC_SIZE(n);
		if (n >= LEGO_ST_PATH_MAX || got - pos < sz) {
			CHECK(0, "MAPS: record %u: path_len %zu does not fit", i, n);
			return -1000;
		}
		memcpy(m->v[i].path, maps_buf + pos + sizeof(struct lego_mem_vma_rec), n);
		for (size_t k = sizeof(struct lego_mem_vma_rec) + n; k < sz; k++)
			if (maps_buf[pos + k]) {
				CHECK(0, "MAPS: record %u: padding not zero", i);
				break;
			}
		pos += sz;
	}
	if (pos != got) {
		CHECK(0, "MAPS: %zu bytes after %u records", got - pos, mr.count);
		return -1000;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Pages and counters                                                  */

static int fetch(uint32_t ip, uint64_t mm, uint64_t addr, uint32_t access, uint8_t *page,
		 size_t *got)
{
	struct lego_mem_page_req q = { .mm = mm, .addr = addr, .access = access };
	return call(ip, LEGO_OP_MEM_PAGE_FETCH, &q, sizeof(q), page, PG, got);
}

static int flush(uint32_t ip, uint64_t mm, uint64_t addr, const uint8_t *page)
{
	uint8_t buf[sizeof(struct lego_mem_page_req) + PG];
	struct lego_mem_page_req q = { .mm = mm, .addr = addr, .access = A_W };
	memcpy(buf, &q, sizeof(q));
	memcpy(buf + sizeof(q), page, PG);
	size_t got = 0;
	int r = call(ip, LEGO_OP_MEM_PAGE_FLUSH, buf, sizeof(buf), NULL, 0, &got);
	if (r >= 0 && got)
		CHECK(0, "FLUSH replied %zu bytes", got);
	return r;
}

static int flush_fetch(uint32_t ip, uint64_t mm, uint64_t faddr, const uint8_t *page,
		       uint64_t addr, uint32_t access, uint8_t *out, size_t *got)
{
	uint8_t buf[sizeof(struct lego_mem_page_req) + PG];
	struct lego_mem_page_req q = { .mm = mm, .addr = addr, .flush_addr = faddr,
				       .access = access };
	memcpy(buf, &q, sizeof(q));
	memcpy(buf + sizeof(q), page, PG);
	return call(ip, LEGO_OP_MEM_PAGE_FLUSH_FETCH, buf, sizeof(buf), out, PG, got);
}

static void stats(uint32_t ip, struct lego_mem_stats *s)
{
	size_t got = 0;
	memset(s, 0, sizeof(*s));
	int r = call(ip, LEGO_OP_MEM_STATS, NULL, 0, s, sizeof(*s), &got);
	CHECK(r == 0 && got == sizeof(*s), "STATS: status %d, %zu bytes", r, got);
}

static void fill(uint8_t *p, int seed)
{
	for (unsigned i = 0; i < PG; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

static int is_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* The owner counters of ip equal those of *base. */
static void same_counters(uint32_t ip, const struct lego_mem_stats *base, const char *what)
{
	struct lego_mem_stats s;
	stats(ip, &s);
	CHECK(s.mms_owned == base->mms_owned && s.vregions == base->vregions &&
		      s.vmas == base->vmas && s.pages == base->pages,
	      "%s: mms_owned %lu vregions %lu vmas %lu pages %lu, expected %lu %lu %lu %lu", what,
	      s.mms_owned, s.vregions, s.vmas, s.pages, base->mms_owned, base->vregions,
	      base->vmas, base->pages);
}

static uint8_t *bb;		/* the host's busybox */
static size_t bb_len;

static void load_busybox(void)
{
	if (bb)
		return;
	FILE *f = fopen(busybox, "rb");
	if (!f) {
		perror(busybox);
		exit(2);
	}
	fseek(f, 0, SEEK_END);
	bb_len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	bb = malloc(bb_len + PG);
	if (!bb || fread(bb, 1, bb_len, f) != bb_len) {
		perror(busybox);
		exit(2);
	}
	memset(bb + bb_len, 0, PG);
	fclose(f);
}

/* ------------------------------------------------------------------ */
/* Groups                                                              */

/* The OWN layout operations and their summaries. */
static void g_layout(void)
{
	uint32_t ip = mem1;
	uint64_t mm = new_mm();
	struct lego_mem_own_reply rep;
	struct lego_mem_stats s0;
	struct maps m;
	int r;

	stats(ip, &s0);
	/* Unknown address space. */
	r = o_range(ip, mm, LEGO_MEM_OWN_MUNMAP, 1, GiB, PG, 0, &rep);
	CHECK(r == -ESRCH, "MUNMAP of an unknown mm: %d, expected -ESRCH", r);
	r = o_maps(ip, mm, 1, 0, &m);
	CHECK(r == -ESRCH, "MAPS of an unknown mm: %d", r);
	struct lego_mem_own_req fq = oq(mm, LEGO_MEM_OWN_FREE, 1);
	r = own_q(ip, fq, NULL, &rep);
	CHECK(r == 0 && rep.free_bytes == GiB && rep.max_gap == GiB && rep.nr_vmas == 0,
	      "FREE of an unknown mm: %d free %#lx gap %#lx n %u", r, rep.free_bytes, rep.max_gap,
	      rep.nr_vmas);

	/* Top-down below mmap_base (the vRegion's end here), merging. */
	uint64_t top = 2 * GiB;
	r = o_mmap(ip, mm, 1, 0, 16 * PG, P_R | P_W, ANON, NULL, 0, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(top - 16 * PG), "MMAP: %d at %#lx", r, rep.value);
	CHECK(rep.nr_vmas == 1 && rep.free_bytes == GiB - 16 * PG && rep.max_gap == GiB - 16 * PG,
	      "MMAP summary: n %u free %#lx gap %#lx", rep.nr_vmas, rep.free_bytes, rep.max_gap);
	r = o_mmap(ip, mm, 1, 0, 16 * PG, P_R | P_W, ANON, NULL, 0, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(top - 32 * PG) && rep.nr_vmas == 1,
	      "second MMAP: %d at %#lx, %u vmas (merged: 1)", r, rep.value, rep.nr_vmas);
	uint64_t base = top - 32 * PG;
	r = o_mmap(ip, mm, 1, base + 4 * PG, PG, P_R | P_W, ANON | M_NOREPLACE, NULL, 0, &rep);
	CHECK(r == -EEXIST, "MAP_FIXED_NOREPLACE over a mapping: %d", r);
	r = o_mmap(ip, mm, 1, base + 4 * PG, 2 * PG, P_R, ANON | M_FIXED, NULL, 0, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(base + 4 * PG) && rep.nr_vmas == 3,
	      "MAP_FIXED read-only in the middle: %d at %#lx, %u vmas (3)", r, rep.value,
	      rep.nr_vmas);
	r = o_range(ip, mm, LEGO_MEM_OWN_MPROTECT, 1, base + 4 * PG, 2 * PG, P_R | P_W, &rep);
	CHECK(r == 0 && rep.nr_vmas == 1, "MPROTECT back to rw: %d, %u vmas (1)", r, rep.nr_vmas);
	r = o_range(ip, mm, LEGO_MEM_OWN_MPROTECT, 1, base - 40 * PG, PG, P_R, &rep);
	CHECK(r == -ENOMEM, "MPROTECT of an unmapped range: %d (-ENOMEM)", r);
	r = o_range(ip, mm, LEGO_MEM_OWN_MUNMAP, 1, base + 8 * PG, 4 * PG, 0, &rep);
	CHECK(r == 0 && rep.nr_vmas == 2 && rep.free_bytes == GiB - 28 * PG &&
		      rep.max_gap == GiB - 32 * PG,
	      "MUNMAP in the middle: %d, %u vmas, free %#lx gap %#lx", r, rep.nr_vmas,
	      rep.free_bytes, rep.max_gap);
	/* mmap_base from the request: top-down starts below it. */
	struct lego_mem_own_req q = oq(mm, LEGO_MEM_OWN_MMAP, 1);
	q.mmap_base = GiB + GiB / 2;
	q.m.len = 4 * PG;
	q.m.prot = P_R;
	q.m.flags = ANON;
	r = own_q(ip, q, NULL, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(GiB + GiB / 2 - 4 * PG),
	      "MMAP below the request's mmap_base: %d at %#lx", r, rep.value);
	r = o_range(ip, mm, LEGO_MEM_OWN_MUNMAP, 1, rep.value, 4 * PG, 0, &rep);
	CHECK(r == 0, "MUNMAP: %d", r);
	/* A hint that is free is taken. */
	r = o_mmap(ip, mm, 1, GiB + 64 * MiB, 8 * PG, P_R, ANON, NULL, 0, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(GiB + 64 * MiB), "MMAP at a hint: %d at %#lx", r,
	      rep.value);
	r = o_range(ip, mm, LEGO_MEM_OWN_MUNMAP, 1, GiB + 64 * MiB, 8 * PG, 0, &rep);
	/* [base, base + 8p) [base + 12p, top): no room to grow in place. */
	r = o_mremap(ip, mm, 1, base, 8 * PG, 16 * PG, 0, 0, &rep);
	CHECK(r == -ENOMEM, "MREMAP grow without MAYMOVE into a mapping: %d (-ENOMEM)", r);
	/* The top vma reaches the vRegion's end: growing moves it, to the top
	 * of the highest free gap (right below base, merging with it). */
	r = o_mremap(ip, mm, 1, top - 20 * PG, 20 * PG, 40 * PG, MR_MAYMOVE, 0, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(base - 40 * PG) && rep.nr_vmas == 1,
	      "MREMAP grow at the vRegion's end: %d to %#lx, %u vmas", r, rep.value, rep.nr_vmas);
	uint64_t moved = rep.value;
	r = o_mremap(ip, mm, 1, moved, 40 * PG, 10 * PG, 0, 0, &rep);
	CHECK(r == 0 && rep.value == (int64_t)moved && rep.nr_vmas == 2,
	      "MREMAP shrink: %d at %#lx, %u vmas", r, rep.value, rep.nr_vmas);
	r = o_mremap(ip, mm, 1, top - 8 * PG, 8 * PG, 8 * PG, MR_MAYMOVE | MR_FIXED,
		     GiB + 128 * MiB, &rep);
	CHECK(r == -EFAULT, "MREMAP of an unmapped range: %d (-EFAULT)", r);
	/* Errors of OWN that reach the vma calls. */
	r = o_mmap(ip, mm, 1, 0, 2 * GiB, P_R, ANON, NULL, 0, &rep);
	CHECK(r == -ENOMEM, "MMAP larger than the vRegion: %d (-ENOMEM)", r);
	r = o_mmap(ip, mm, 1, 0, PG, P_R, M_ANON, NULL, 0, &rep);
	CHECK(r == -EINVAL, "MMAP without MAP_PRIVATE/SHARED: %d (-EINVAL)", r);
	r = o_range(ip, mm, LEGO_MEM_OWN_MUNMAP, 1, 3 * GiB, PG, 0, &rep);
	CHECK(r == -EINVAL, "MUNMAP outside the vRegion: %d (-EINVAL)", r);
	r = o_range(ip, mm, LEGO_MEM_OWN_MUNMAP, 7, 7 * GiB, PG, 0, &rep);
	CHECK(r == -ENXIO, "MUNMAP in a vRegion not owned here: %d (-ENXIO)", r);
	r = o_maps(ip, mm, 7, 0, &m);
	CHECK(r == -ENXIO, "MAPS of a vRegion not owned here: %d (-ENXIO)", r);
	q = oq(mm, 99, 1);
	r = own_q(ip, q, NULL, &rep);
	CHECK(r == -EINVAL, "unknown OWN op: %d", r);
	/* A failed MMAP in a new vRegion leaves nothing behind. */
	r = o_mmap(ip, mm, 9, 0, 3 * GiB, P_R, ANON, NULL, 0, &rep);
	CHECK(r == -ENOMEM, "MMAP too large in a new vRegion: %d", r);
	r = o_maps(ip, mm, 9, 0, &m);
	CHECK(r == -ENXIO, "the failed MMAP left a part: MAPS %d", r);
	uint64_t lone = new_mm();
	r = o_mmap(ip, lone, 2, 0, 3 * GiB, P_R, ANON, NULL, 0, &rep);
	CHECK(r == -ENOMEM, "MMAP too large for a new mm: %d", r);
	r = o_range(ip, lone, LEGO_MEM_OWN_MUNMAP, 2, 2 * GiB, PG, 0, &rep);
	CHECK(r == -ESRCH, "the failed MMAP left a record: %d (-ESRCH)", r);

	/* STACK: exactly the range; again: -EEXIST. */
	r = o_range(ip, mm, LEGO_MEM_OWN_STACK, 3, 4 * GiB - 32 * PG, 32 * PG, P_R | P_W, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(4 * GiB - 32 * PG) && rep.nr_vmas == 1 &&
		      rep.free_bytes == GiB - 32 * PG,
	      "STACK: %d at %#lx, %u vmas", r, rep.value, rep.nr_vmas);
	r = o_range(ip, mm, LEGO_MEM_OWN_STACK, 3, 4 * GiB - 32 * PG, 32 * PG, P_R | P_W, &rep);
	CHECK(r == -EEXIST, "STACK twice: %d (-EEXIST)", r);

	/* BRK: set up, grow, ask, shrink; another heap start while non-empty. */
	uint64_t sb = 5 * GiB + 0x10000;
	r = o_brk(ip, mm, 5, sb, sb + 10000, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(sb + 10000) && rep.nr_vmas == 1,
	      "BRK grow: %d, break %#lx, %u vmas", r, rep.value, rep.nr_vmas);
	r = o_brk(ip, mm, 5, sb, 0, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(sb + 10000), "BRK ask: %d, %#lx", r, rep.value);
	r = o_brk(ip, mm, 5, sb + 4 * PG, sb + 8 * PG, &rep);
	CHECK(r == -EINVAL, "BRK with another start while the heap is not empty: %d", r);
	r = o_brk(ip, mm, 5, sb, 6 * GiB + PG, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(sb + 10000), "BRK past the vRegion: %d, %#lx (unchanged)",
	      r, rep.value);
	r = o_brk(ip, mm, 5, sb, sb, &rep);
	CHECK(r == 0 && rep.value == (int64_t)sb && rep.nr_vmas == 0,
	      "BRK shrink to the start: %d, %#lx, %u vmas", r, rep.value, rep.nr_vmas);
	r = o_brk(ip, mm, 5, sb + 4 * PG, sb + 5 * PG, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(sb + 5 * PG) && rep.nr_vmas == 1,
	      "BRK with a new start once the heap is empty: %d, %#lx", r, rep.value);

	/* shift mismatch with the record */
	q = oq(mm, LEGO_MEM_OWN_MMAP, 2);
	q.vregion_shift = 31;
	q.m.len = PG;
	q.m.prot = P_R;
	q.m.flags = ANON;
	r = own_q(ip, q, NULL, &rep);
	CHECK(r == -EINVAL, "OWN with another vregion_shift than the record's: %d", r);

	struct lego_mem_stats s;
	stats(ip, &s);
	CHECK(s.mms_owned == s0.mms_owned + 1 && s.vregions == s0.vregions + 3 &&
		      s.vmas == s0.vmas + 4,
	      "counters: mms %lu (+1) vregions %lu (+3) vmas %lu (+4)", s.mms_owned - s0.mms_owned,
	      s.vregions - s0.vregions, s.vmas - s0.vmas);
	for (uint32_t i = 0; i < 10; i++)
		CHECK(o_free(ip, mm, i) == 0, "FREE %u", i);
	r = o_free(ip, mm, 1);
	CHECK(r == 0, "FREE twice: %d", r);
	same_counters(ip, &s0, "after FREE");
}

/* Page service. */
static void g_pages(void)
{
	uint32_t ip = mem1;
	uint64_t mm = new_mm();
	struct lego_mem_own_reply rep;
	struct lego_mem_stats s0, s;
	uint8_t a[PG], b[PG];
	size_t got;
	int r;

	stats(ip, &s0);
	r = fetch(ip, mm, GiB, A_R, b, &got);
	CHECK(r == -ESRCH, "FETCH for an unknown mm: %d", r);
	r = o_mmap(ip, mm, 1, 0, 16 * PG, P_R | P_W, ANON, NULL, 0, &rep);
	CHECK(r == 0, "MMAP: %d", r);
	uint64_t base = rep.value;

	r = fetch(ip, mm, base, A_R, b, &got);
	CHECK(r == 0 && got == 0, "FETCH of a page never written: %d, %zu bytes (0: zeros)", r, got);
	stats(ip, &s);
	CHECK(s.pages == s0.pages && s.zero_fetches == s0.zero_fetches + 1 &&
		      s.page_fetches == s0.page_fetches + 1,
	      "a zero fetch allocates nothing: pages +%lu zero +%lu fetches +%lu",
	      s.pages - s0.pages, s.zero_fetches - s0.zero_fetches, s.page_fetches - s0.page_fetches);
	fill(a, 1);
	r = flush(ip, mm, base + PG, a);
	CHECK(r == 0, "FLUSH: %d", r);
	r = fetch(ip, mm, base + PG, A_R | A_W, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(a, b, PG), "FETCH back: %d, %zu bytes", r, got);
	fill(a, 5);
	r = flush(ip, mm, base + PG, a);
	r = fetch(ip, mm, base + PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(a, b, PG), "a second FLUSH replaces: %d", r);
	stats(ip, &s);
	CHECK(s.pages == s0.pages + 1 && s.page_flushes == s0.page_flushes + 2,
	      "one page for two flushes: pages +%lu flushes +%lu", s.pages - s0.pages,
	      s.page_flushes - s0.page_flushes);
	/* FLUSH_FETCH: flush one page, fetch another (or the same). */
	uint8_t c[PG];
	fill(c, 2);
	r = flush_fetch(ip, mm, base + 2 * PG, c, base + PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(a, b, PG), "FLUSH_FETCH: %d, %zu bytes", r, got);
	r = fetch(ip, mm, base + 2 * PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(c, b, PG), "the page FLUSH_FETCH flushed: %d", r);
	fill(c, 3);
	r = flush_fetch(ip, mm, base + 3 * PG, c, base + 3 * PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(c, b, PG), "FLUSH_FETCH of one page: %d", r);
	r = flush_fetch(ip, mm, 7 * GiB, c, base + PG, A_R, b, &got);
	CHECK(r == -ENXIO, "FLUSH_FETCH flushing to a vRegion not owned: %d", r);
	r = flush_fetch(ip, mm, base + 4 * PG, c, 7 * GiB, A_R, b, &got);
	CHECK(r == -ENXIO, "FLUSH_FETCH fetching from a vRegion not owned: %d", r);
	r = fetch(ip, mm, base + 4 * PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(c, b, PG), "... its flush happened: %d", r);

	/* Where no vma is, and where the node owns nothing. */
	r = fetch(ip, mm, base - PG, A_R, b, &got);
	CHECK(r == -EFAULT, "FETCH below the vma: %d (-EFAULT)", r);
	r = flush(ip, mm, base - PG, a);
	CHECK(r == -EFAULT, "FLUSH below the vma: %d (-EFAULT)", r);
	r = fetch(ip, mm, 5 * GiB, A_R, b, &got);
	CHECK(r == -ENXIO, "FETCH in a vRegion not owned here: %d", r);
	r = flush(ip, mm, 5 * GiB, a);
	CHECK(r == -ENXIO, "FLUSH in a vRegion not owned here: %d", r);

	/* Protection (x86: write implies read; only PROT_NONE refuses reads). */
	struct {
		uint32_t prot, access;
		int want;
	} pt[] = {
		{ P_R, A_R, 0 }, { P_R, A_W, -EACCES }, { P_R, A_X, -EACCES },
		{ P_R | P_W, A_R | A_W, 0 }, { P_W, A_R, 0 }, { P_W, A_W, 0 },
		{ P_X, A_R, 0 }, { P_X, A_X, 0 }, { P_X, A_W, -EACCES },
		{ 0, A_R, -EACCES }, { 0, A_W, -EACCES }, { 0, A_X, -EACCES },
		{ P_R | P_X, A_R | A_X, 0 }, { P_R | P_X, A_X | A_W, -EACCES },
	};
	for (unsigned i = 0; i < sizeof(pt) / sizeof(pt[0]); i++) {
		r = o_range(ip, mm, LEGO_MEM_OWN_MPROTECT, 1, base, 2 * PG, pt[i].prot, &rep);
		CHECK(r == 0, "MPROTECT %u: %d", pt[i].prot, r);
		r = fetch(ip, mm, base + PG, pt[i].access, b, &got);
		CHECK(r == pt[i].want && (r || (got == PG && !memcmp(a, b, PG))),
		      "prot %u, access %u: %d, expected %d", pt[i].prot, pt[i].access, r, pt[i].want);
	}
	/* A flush is not checked against the protection. */
	r = o_range(ip, mm, LEGO_MEM_OWN_MPROTECT, 1, base, 2 * PG, P_R, &rep);
	fill(a, 4);
	r = flush(ip, mm, base + PG, a);
	CHECK(r == 0, "FLUSH to a read-only page: %d", r);
	r = fetch(ip, mm, base + PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(a, b, PG), "read back: %d", r);
	r = o_range(ip, mm, LEGO_MEM_OWN_MPROTECT, 1, base, 2 * PG, P_R | P_W, &rep);
	CHECK(r == 0 && rep.nr_vmas == 1, "MPROTECT back: %d, %u vmas", r, rep.nr_vmas);

	/* MREMAP moves pages with their addresses. */
	r = o_mremap(ip, mm, 1, base, 16 * PG, 32 * PG, MR_MAYMOVE, 0, &rep);
	CHECK(r == 0 && rep.value != (int64_t)base, "MREMAP move: %d to %#lx", r, rep.value);
	uint64_t nb = rep.value;
	r = fetch(ip, mm, nb + PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(a, b, PG), "the moved page: %d, %zu bytes", r, got);
	r = fetch(ip, mm, nb + 3 * PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(c, b, PG), "another moved page: %d", r);
	r = fetch(ip, mm, base + PG, A_R, b, &got);
	CHECK(r == -EFAULT, "the old address: %d (-EFAULT)", r);
	r = fetch(ip, mm, nb + 20 * PG, A_R, b, &got);
	CHECK(r == 0 && got == 0, "the grown part: zeros (%d, %zu)", r, got);
	stats(ip, &s);
	CHECK(s.pages == s0.pages + 4, "pages after the move: +%lu (+4)", s.pages - s0.pages);
	/* MUNMAP and a shrinking MREMAP free pages. */
	r = o_range(ip, mm, LEGO_MEM_OWN_MUNMAP, 1, nb, 2 * PG, 0, &rep);
	CHECK(r == 0, "MUNMAP: %d", r);
	r = o_mremap(ip, mm, 1, nb + 2 * PG, 30 * PG, PG, 0, 0, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(nb + 2 * PG), "MREMAP shrink: %d", r);
	stats(ip, &s);
	CHECK(s.pages == s0.pages + 1, "pages after MUNMAP and shrink: +%lu (+1)", s.pages - s0.pages);
	r = fetch(ip, mm, nb + 3 * PG, A_R, b, &got);
	CHECK(r == -EFAULT, "a page of the cut tail: %d", r);
	/* MAP_FIXED over written pages frees them; the new mapping reads zeros. */
	r = o_mmap(ip, mm, 1, nb + 2 * PG, PG, P_R | P_W, ANON | M_FIXED, NULL, 0, &rep);
	CHECK(r == 0, "MAP_FIXED over a written page: %d", r);
	r = fetch(ip, mm, nb + 2 * PG, A_R, b, &got);
	CHECK(r == 0 && got == 0, "... reads zeros: %d, %zu", r, got);
	stats(ip, &s);
	CHECK(s.pages == s0.pages, "pages after MAP_FIXED: +%lu (0)", s.pages - s0.pages);

	/* The stack grows on a fault below it, up to 8 MiB. */
	uint64_t st = 4 * GiB - 32 * PG;
	r = o_range(ip, mm, LEGO_MEM_OWN_STACK, 3, st, 32 * PG, P_R | P_W, &rep);
	CHECK(r == 0, "STACK: %d", r);
	r = fetch(ip, mm, st - 32 * PG, A_R | A_W, b, &got);
	CHECK(r == 0 && got == 0, "FETCH below the stack grows it: %d", r);
	fill(a, 6);
	r = flush(ip, mm, st - 100 * PG, a);
	CHECK(r == 0, "FLUSH further below grows it too: %d", r);
	struct maps m;
	r = o_maps(ip, mm, 3, 0, &m);
	CHECK(r == 0 && m.count == 1 && m.v[0].r.start == st - 100 * PG &&
		      m.v[0].r.end == 4 * GiB,
	      "one stack vma from the lowest fault: %d, %u vmas, start %#lx", r, m.count,
	      m.count ? m.v[0].r.start : 0);
	free(m.v);
	r = fetch(ip, mm, 4 * GiB - 9 * MiB, A_R, b, &got);
	CHECK(r == -EFAULT, "FETCH beyond the 8 MiB stack limit: %d (-EFAULT)", r);
	r = fetch(ip, mm, st - 100 * PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(a, b, PG), "the stack page: %d", r);

	/* Heap pages go with a shrinking break. */
	uint64_t sb = 5 * GiB + 0x10000;
	r = o_brk(ip, mm, 5, sb, sb + 10 * PG, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(sb + 10 * PG), "BRK: %d", r);
	r = flush(ip, mm, sb + 9 * PG, a);
	CHECK(r == 0, "FLUSH in the heap: %d", r);
	r = o_brk(ip, mm, 5, sb, sb + 5 * PG, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(sb + 5 * PG), "BRK shrink: %d", r);
	r = fetch(ip, mm, sb + 9 * PG, A_R, b, &got);
	CHECK(r == -EFAULT, "a page above the break: %d", r);
	r = o_brk(ip, mm, 5, sb, sb + 10 * PG, &rep);
	r = fetch(ip, mm, sb + 9 * PG, A_R, b, &got);
	CHECK(r == 0 && got == 0, "the heap grown again reads zeros: %d, %zu", r, got);

	for (uint32_t i = 0; i < 8; i++)
		o_free(ip, mm, i);
	r = fetch(ip, mm, sb, A_R, b, &got);
	CHECK(r == -ESRCH, "FETCH after FREE of every part: %d (-ESRCH)", r);
	same_counters(ip, &s0, "after FREE");
}

/* Many pages in one address space: the page map grows and shrinks. */
static void g_bulk(void)
{
	uint32_t ip = mem1;
	uint64_t mm = new_mm(), ch = new_mm();
	struct lego_mem_own_reply rep;
	struct lego_mem_stats s0, s;
	uint8_t a[PG], b[PG];
	const int n = 2048;
	size_t got;
	int r, bad = 0;

	stats(ip, &s0);
	r = o_mmap(ip, mm, 2, 0, n * PG, P_R | P_W, ANON, NULL, 0, &rep);
	CHECK(r == 0, "MMAP of %d pages: %d", n, r);
	uint64_t base = rep.value;
	for (int i = 0; i < n && bad < 5; i++) {
		fill(a, i);
		memcpy(a, &i, sizeof(i));
		if ((r = flush(ip, mm, base + i * PG, a)))
			CHECK(0, "FLUSH of page %d: %d", i, r), bad++;
	}
	stats(ip, &s);
	CHECK(s.pages == s0.pages + n, "pages +%lu (+%d)", s.pages - s0.pages, n);
	r = o_fork(ip, mm, 2, ch, &rep);
	CHECK(r == 0, "FORK of %d pages: %d", n, r);
	for (int i = n - 1; i >= 0 && bad < 5; i--) {
		fill(a, i);
		memcpy(a, &i, sizeof(i));
		uint64_t who = i % 3 ? mm : ch;
		r = fetch(ip, who, base + i * PG, A_R, b, &got);
		if (r || got != PG || memcmp(a, b, PG))
			CHECK(0, "page %d of the %s: %d, %zu bytes%s", i, who == mm ? "parent" : "child",
			      r, got, r || got != PG ? "" : ", other bytes"),
				bad++;
	}
	r = o_range(ip, mm, LEGO_MEM_OWN_MUNMAP, 2, base + n / 2 * PG, n / 2 * PG, 0, &rep);
	CHECK(r == 0, "MUNMAP of the upper half: %d", r);
	stats(ip, &s);
	CHECK(s.pages == s0.pages + n + n / 2, "pages +%lu (+%d)", s.pages - s0.pages, n + n / 2);
	fill(a, 3);
	memcpy(a, &(int){ 3 }, sizeof(int));
	r = fetch(ip, mm, base + 3 * PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(a, b, PG), "a page of the lower half: %d", r);
	o_free(ip, mm, 2);
	o_free(ip, ch, 2);
	same_counters(ip, &s0, "after FREE");
}

/* File-backed memory: the vNode's files through the storage node. */
static void g_files(void)
{
	uint32_t ip = mem1;
	uint64_t mm = new_mm();
	struct lego_mem_own_reply rep;
	struct lego_mem_stats s0;
	uint8_t a[PG], b[PG];
	size_t got;
	int r;

	load_busybox();
	stats(ip, &s0);
	uint64_t pages = (bb_len + PG - 1) / PG;
	r = o_mmap(ip, mm, 6, 0, pages * PG, P_R | P_X, M_PRIVATE, "/bin/busybox", 0, &rep);
	CHECK(r == 0, "MMAP of /bin/busybox: %d", r);
	uint64_t fb = rep.value;
	memset(b, 0xa5, PG);
	r = fetch(ip, mm, fb, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(b, bb, PG),
	      "page 0 of /bin/busybox equals %s's first 4 KiB: %d, %zu bytes%s", busybox, r, got,
	      got == PG && !memcmp(b, "\177ELF", 4) ? " (an ELF header, but other bytes)" : "");
	uint64_t mid = pages / 2;
	r = fetch(ip, mm, fb + mid * PG, A_R | A_X, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(b, bb + mid * PG, PG), "page %lu: %d", mid, r);
	r = fetch(ip, mm, fb + (pages - 1) * PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(b, bb + (pages - 1) * PG, PG),
	      "the last page (%zu bytes of file, then zeros): %d", bb_len % PG, r);
	r = fetch(ip, mm, fb, A_W, b, &got);
	CHECK(r == -EACCES, "FETCH for write of a read-only file page: %d", r);

	/* pgoff */
	r = o_mmap(ip, mm, 6, 0, 2 * PG, P_R, M_PRIVATE, "/bin/busybox", 3, &rep);
	CHECK(r == 0, "MMAP at pgoff 3: %d", r);
	r = fetch(ip, mm, rep.value + PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(b, bb + 4 * PG, PG), "its second page is page 4: %d", r);
	r = o_mmap(ip, mm, 6, 0, PG, P_R, M_PRIVATE, "/bin/busybox", 1 << 20, &rep);
	CHECK(r == 0, "MMAP far past the end: %d", r);
	memset(b, 1, PG);
	r = fetch(ip, mm, rep.value, A_R, b, &got);
	CHECK(r == 0 && got == PG && is_zero(b, PG), "past the end of the file: zeros (%d, %zu)", r,
	      got);
	r = o_mmap(ip, mm, 6, 0, PG, P_R, M_PRIVATE, "/bin/busybox", 1ULL << 52, &rep);
	CHECK(r == -75, "MMAP with a pgoff that overflows: %d (-EOVERFLOW)", r);

	/* Private writable: written pages are the owner's; the file stays. */
	r = o_mmap(ip, mm, 6, 0, 4 * PG, P_R | P_W, M_PRIVATE, "/bin/busybox", 0, &rep);
	CHECK(r == 0, "MMAP rw private: %d", r);
	uint64_t pw = rep.value;
	fill(a, 7);
	r = flush(ip, mm, pw + PG, a);
	CHECK(r == 0, "FLUSH to a private file page: %d", r);
	r = fetch(ip, mm, pw + PG, A_R | A_W, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(a, b, PG), "it reads what was written: %d", r);
	r = fetch(ip, mm, pw + 2 * PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(b, bb + 2 * PG, PG), "its neighbour is the file's: %d", r);
	r = fetch(ip, mm, fb + PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(b, bb + PG, PG), "other mappings see the file: %d", r);
	r = o_range(ip, mm, LEGO_MEM_OWN_MUNMAP, 6, pw, 4 * PG, 0, &rep);
	r = o_mmap(ip, mm, 6, pw, 4 * PG, P_R | P_W, M_PRIVATE | M_FIXED, "/bin/busybox", 0, &rep);
	CHECK(r == 0 && rep.value == (int64_t)pw, "MMAP again: %d", r);
	r = fetch(ip, mm, pw + PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(b, bb + PG, PG), "after MUNMAP: the file's bytes: %d", r);

	/* Files that are not there, and bad paths. */
	r = o_mmap(ip, mm, 6, 0, PG, P_R, M_PRIVATE, "/no/such/file", 0, &rep);
	CHECK(r == 0, "MMAP of a missing file (checked on fetch): %d", r);
	r = fetch(ip, mm, rep.value, A_R, b, &got);
	CHECK(r == -ENOENT && got == 0, "FETCH from a missing file: %d (-ENOENT)", r);
	r = o_mmap(ip, mm, 6, 0, PG, P_R, M_PRIVATE, "/bin", 0, &rep);
	r = fetch(ip, mm, rep.value, A_R, b, &got);
	CHECK(r == -EISDIR, "FETCH from a directory: %d (-EISDIR)", r);
	const char *bad[] = { "bad/path", "/a/../b", "/a//b", "/a/", "" };
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lego_mem_own_req q = oq(mm, LEGO_MEM_OWN_MMAP, 6);
		q.m.len = PG;
		q.m.prot = P_R;
		q.m.flags = M_PRIVATE;
		r = own_q(ip, q, bad[i], &rep);
		CHECK(r == -EINVAL, "MMAP of path '%s': %d (-EINVAL)", bad[i], r);
	}
	r = o_mmap(ip, mm, 6, 0, PG, P_R, ANON, "/bin/busybox", 0, &rep);
	CHECK(r == -EINVAL, "a path with MAP_ANONYMOUS: %d", r);
	/* A storage node that does not answer. */
	uint64_t lost = new_mm();
	uint32_t save = sip;
	inet_pton(AF_INET, "198.18.3.200", &sip);
	r = o_mmap(ip, lost, 6, 0, PG, P_R, M_PRIVATE, "/bin/busybox", 0, &rep);
	sip = save;
	CHECK(r == 0, "MMAP with an unreachable storage node: %d", r);
	r = fetch(ip, lost, rep.value, A_R, b, &got);
	CHECK(r == -EHOSTUNREACH, "FETCH from an unreachable storage node: %d (-EHOSTUNREACH)", r);
	o_free(ip, lost, 6);
	r = fetch(ip, mm, fb, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(b, bb, PG), "the node still reads files: %d", r);

	o_free(ip, mm, 6);
	same_counters(ip, &s0, "after FREE");
}

/* FORK: the child gets copies of the vmas and pages. */
static void g_fork(void)
{
	uint32_t ip = mem1;
	uint64_t mm = new_mm(), ch = new_mm();
	struct lego_mem_own_reply rep;
	struct lego_mem_stats s0, s;
	uint8_t a[PG], b[PG];
	size_t got;
	int r;

	stats(ip, &s0);
	r = o_mmap(ip, mm, 1, 0, 8 * PG, P_R | P_W, ANON, NULL, 0, &rep);
	uint64_t base = rep.value;
	r |= o_mmap(ip, mm, 1, 0, 2 * PG, P_R, M_PRIVATE, "/bin/busybox", 0, &rep);
	uint64_t fb = rep.value;
	r |= o_range(ip, mm, LEGO_MEM_OWN_STACK, 3, 4 * GiB - 8 * PG, 8 * PG, P_R | P_W, &rep);
	r |= o_brk(ip, mm, 5, 5 * GiB, 5 * GiB + 3 * PG + 5, &rep);
	CHECK(r == 0, "set-up: %d", r);
	for (int i = 0; i < 8; i++) {
		fill(a, 10 + i);
		flush(ip, mm, base + i * PG, a);
	}
	fill(a, 30);
	flush(ip, mm, 4 * GiB - PG, a);
	fill(a, 31);
	flush(ip, mm, 5 * GiB + 2 * PG, a);

	r = o_fork(ip, mm, 1, ch, &rep);
	CHECK(r == 0 && rep.nr_vmas == 2, "FORK vRegion 1: %d, %u vmas", r, rep.nr_vmas);
	r = o_fork(ip, mm, 1, ch, &rep);
	CHECK(r == -EEXIST, "FORK again: %d (-EEXIST)", r);
	r = o_fork(ip, mm, 3, ch, &rep);
	CHECK(r == 0 && rep.nr_vmas == 1, "FORK vRegion 3: %d", r);
	r = o_fork(ip, mm, 5, ch, &rep);
	CHECK(r == 0 && rep.nr_vmas == 1, "FORK vRegion 5: %d", r);
	r = o_fork(ip, mm, 7, ch, &rep);
	CHECK(r == -ENXIO, "FORK of a vRegion not owned: %d", r);
	r = o_fork(ip, new_mm(), 1, new_mm(), &rep);
	CHECK(r == -ESRCH, "FORK of an unknown mm: %d", r);
	r = o_fork(ip, mm, 1, mm, &rep);
	CHECK(r == -EINVAL, "FORK to itself: %d", r);
	stats(ip, &s);
	CHECK(s.pages == s0.pages + 20 && s.mms_owned == s0.mms_owned + 2 &&
		      s.vregions == s0.vregions + 6,
	      "counters after FORK: pages +%lu (+20) mms +%lu (+2) vregions +%lu (+6)",
	      s.pages - s0.pages, s.mms_owned - s0.mms_owned, s.vregions - s0.vregions);

	/* Same layout. */
	for (uint32_t idx = 1; idx <= 5; idx += 2) {
		struct maps pm, cm;
		int r1 = o_maps(ip, mm, idx, 0, &pm), r2 = o_maps(ip, ch, idx, 0, &cm);
		int same = r1 == 0 && r2 == 0 && pm.count == cm.count && pm.len == cm.len;
		for (uint32_t i = 0; same && i < pm.count; i++)
			same = !memcmp(&pm.v[i].r, &cm.v[i].r, sizeof(pm.v[i].r)) &&
			       !strcmp(pm.v[i].path, cm.v[i].path);
		CHECK(same, "vRegion %u: the child's MAPS equal the parent's (%d %d, %u %u)", idx, r1,
		      r2, pm.count, cm.count);
		free(pm.v);
		free(cm.v);
	}
	r = o_brk(ip, ch, 5, 5 * GiB, 0, &rep);
	CHECK(r == 0 && rep.value == (int64_t)(5 * GiB + 3 * PG + 5), "the child's break: %d %#lx", r,
	      rep.value);

	/* Same pages, then independent. */
	int ok = 1;
	for (int i = 0; i < 8; i++) {
		fill(a, 10 + i);
		r = fetch(ip, ch, base + i * PG, A_R, b, &got);
		ok &= r == 0 && got == PG && !memcmp(a, b, PG);
	}
	CHECK(ok, "the child has the parent's 8 pages");
	fill(a, 30);
	r = fetch(ip, ch, 4 * GiB - PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(a, b, PG), "the child's stack page: %d", r);
	fill(a, 31);
	r = fetch(ip, ch, 5 * GiB + 2 * PG, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(a, b, PG), "the child's heap page: %d", r);
	r = fetch(ip, ch, fb + PG, A_R, b, &got);
	load_busybox();
	CHECK(r == 0 && got == PG && !memcmp(b, bb + PG, PG), "the child's file page: %d", r);
	fill(a, 40);
	flush(ip, ch, base, a);
	fill(a, 41);
	flush(ip, mm, base + PG, a);
	fill(a, 10);
	r = fetch(ip, mm, base, A_R, b, &got);
	CHECK(r == 0 && !memcmp(a, b, PG), "a child write leaves the parent's page: %d", r);
	fill(a, 11);
	r = fetch(ip, ch, base + PG, A_R, b, &got);
	CHECK(r == 0 && !memcmp(a, b, PG), "a parent write leaves the child's page: %d", r);
	/* The child lives on without the parent. */
	for (uint32_t i = 0; i < 8; i++)
		o_free(ip, mm, i);
	fill(a, 40);
	r = fetch(ip, ch, base, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(a, b, PG), "the child after the parent's FREE: %d", r);
	for (uint32_t i = 0; i < 8; i++)
		o_free(ip, ch, i);
	same_counters(ip, &s0, "after FREE of both");
}

/* MAPS: the records of one vRegion. */
static void g_maps(void)
{
	uint32_t ip = mem1;
	uint64_t mm = new_mm();
	struct lego_mem_own_reply rep;
	struct lego_mem_stats s0;
	struct maps m;
	int r;

	stats(ip, &s0);
	uint64_t lo = 2 * GiB, sb = lo + 0x100000;
	r = o_brk(ip, mm, 2, sb, sb + 0x23456, &rep);
	r |= o_mmap(ip, mm, 2, lo + 0x400000, 3 * PG, P_R | P_X, M_PRIVATE | M_FIXED,
		    "/bin/busybox", 2, &rep);
	r |= o_mmap(ip, mm, 2, lo + 0x500000, 2 * PG, P_R | P_W, M_SHARED | M_ANON | M_FIXED, NULL, 0,
		    &rep);
	r |= o_mmap(ip, mm, 2, lo + 0x600000, 4 * PG, 0, ANON | M_FIXED, NULL, 0, &rep);
	r |= o_range(ip, mm, LEGO_MEM_OWN_STACK, 2, 3 * GiB - 16 * PG, 16 * PG, P_R | P_W, &rep);
	CHECK(r == 0, "set-up: %d", r);
	r = o_maps(ip, mm, 2, 0, &m);
	struct {
		uint64_t start, end, pgoff;
		uint32_t prot, flags;
		const char *path;
	} want[] = {
		{ sb, sb + 0x24000, 0, P_R | P_W, LEGO_MEM_VMA_HEAP, "" },
		{ lo + 0x400000, lo + 0x403000, 2, P_R | P_X, LEGO_MEM_VMA_FILE, "/bin/busybox" },
		{ lo + 0x500000, lo + 0x502000, 0, P_R | P_W, LEGO_MEM_VMA_SHARED, "" },
		{ lo + 0x600000, lo + 0x604000, 0, 0, 0, "" },
		{ 3 * GiB - 16 * PG, 3 * GiB, 0, P_R | P_W, LEGO_MEM_VMA_STACK | LEGO_MEM_VMA_GROWSDOWN,
		  "" },
	};
	CHECK(r == 0 && m.count == 5 && m.more == 0 && m.rep.nr_vmas == 5,
	      "MAPS: %d, %u records, more %u, nr_vmas %u", r, m.count, m.more, m.rep.nr_vmas);
	size_t len = sizeof(struct lego_mem_own_reply) + sizeof(struct lego_mem_maps_reply) +
		     4 * LEGO_MEM_VMA_REC_SIZE(0) + LEGO_MEM_VMA_REC_SIZE(12);
	CHECK(r || m.len == len, "MAPS reply of %zu bytes, expected %zu", m.len, len);
	uint64_t used = 0;
	for (unsigned i = 0; r == 0 && i < m.count && i < 5; i++) {
		struct lego_mem_vma_rec *v = &m.v[i].r;
		/* shared anonymous memory has its object's pgoff: any */
		int ok = v->start == want[i].start && v->end == want[i].end &&
			 (want[i].flags & LEGO_MEM_VMA_SHARED || v->pgoff == want[i].pgoff) &&
			 v->prot == want[i].prot && v->flags == want[i].flags &&
			 !strcmp(m.v[i].path, want[i].path) && (!node_id || v->owner_node == node_id) &&
			 v->reserved == 0;
		CHECK(ok,
		      "record %u: %#lx-%#lx pgoff %lu prot %u flags %#x owner %u path '%s'; expected "
		      "%#lx-%#lx pgoff %lu prot %u flags %#x owner %u path '%s'",
		      i, v->start, v->end, v->pgoff, v->prot, v->flags, v->owner_node, m.v[i].path,
		      want[i].start, want[i].end, want[i].pgoff, want[i].prot, want[i].flags, node_id,
		      want[i].path);
		used += v->end - v->start;
	}
	CHECK(r || m.rep.free_bytes == GiB - used, "free_bytes %#lx, expected %#lx", m.rep.free_bytes,
	      GiB - used);
	free(m.v);
	/* Resuming: from a record's end, from inside a vma, past the end. */
	r = o_maps(ip, mm, 2, lo + 0x403000, &m);
	CHECK(r == 0 && m.count == 3 && m.v[0].r.start == lo + 0x500000,
	      "MAPS from the end of record 1: %d, %u records", r, m.count);
	free(m.v);
	r = o_maps(ip, mm, 2, lo + 0x401000, &m);
	CHECK(r == 0 && m.count == 4 && m.v[0].r.start == lo + 0x400000,
	      "MAPS from inside record 1: %d, %u records, first %#lx", r, m.count,
	      m.count ? m.v[0].r.start : 0);
	free(m.v);
	r = o_maps(ip, mm, 2, 3 * GiB, &m);
	CHECK(r == 0 && m.count == 0 && m.more == 0, "MAPS from the vRegion's end: %d, %u", r,
	      m.count);
	free(m.v);
	{
		struct lego_mem_own_req q = oq(mm, LEGO_MEM_OWN_MAPS, 2);
		uint8_t buf[sizeof(q) + 2];
		size_t got;
		q.m.path_len = 2;
		memcpy(buf, &q, sizeof(q));
		memcpy(buf + sizeof(q), "/a", 2);
		r = call(ip, LEGO_OP_MEM_OWN, buf, sizeof(buf), maps_buf, sizeof(maps_buf), &got);
		CHECK(r == -EINVAL && got == 0, "MAPS with a path: %d", r);
	}
	/* An empty part (everything unmapped) lists nothing. */
	r = o_range(ip, mm, LEGO_MEM_OWN_MUNMAP, 2, lo, GiB, 0, &rep);
	CHECK(r == 0 && rep.nr_vmas == 0, "MUNMAP of the whole vRegion: %d", r);
	r = o_maps(ip, mm, 2, 0, &m);
	CHECK(r == 0 && m.count == 0 && m.rep.free_bytes == GiB, "MAPS of an empty part: %d, %u", r,
	      m.count);
	free(m.v);

	/* More than one reply holds: long paths, vmas apart. */
	char path[1000];
	int n = snprintf(path, sizeof(path), "/%0250d/%0250d/%0250d/%0240d", 1, 2, 3, 4);
	uint32_t nv = 300;
	r = 0;
	for (uint32_t i = 0; i < nv && !r; i++)
		r = o_mmap(ip, mm, 4, 4 * GiB + i * 2 * PG, PG, P_R, M_PRIVATE | M_FIXED, path, i * 3,
			   &rep);
	CHECK(r == 0 && rep.nr_vmas == nv, "%u file vmas with a %d-byte path: %d, %u vmas", nv, n, r,
	      rep.nr_vmas);
	uint64_t from = 0, expect = 4 * GiB;
	uint32_t seen = 0, replies = 0;
	int ok = 1;
	for (;;) {
		r = o_maps(ip, mm, 4, from, &m);
		if (r) {
			CHECK(0, "MAPS from %#lx: %d", from, r);
			break;
		}
		replies++;
		CHECK(m.len <= LEGO_RPC_MAX_MSG, "a reply of %zu bytes", m.len);
		for (uint32_t i = 0; i < m.count; i++) {
			ok &= m.v[i].r.start == expect && m.v[i].r.pgoff == (expect - 4 * GiB) / PG / 2 * 3 &&
			      !strcmp(m.v[i].path, path) && m.v[i].r.flags == LEGO_MEM_VMA_FILE;
			expect += 2 * PG;
		}
		seen += m.count;
		from = m.count ? m.v[m.count - 1].r.end : from;
		uint32_t more = m.more, cnt = m.count;
		free(m.v);
		if (!more || !cnt || replies > 10)
			break;
		/* a full reply: the next record would not have fit */
		CHECK(LEGO_RPC_MAX_MSG - 40 - cnt * LEGO_MEM_VMA_REC_SIZE(n) < LEGO_MEM_VMA_REC_SIZE(n),
		      "more with room left: %u records", cnt);
	}
	CHECK(ok && seen == nv && replies > 1, "paged MAPS: %u records in %u replies, in order: %d", seen,
	      replies, ok);
	for (uint32_t i = 0; i < 8; i++)
		o_free(ip, mm, i);
	same_counters(ip, &s0, "after FREE");
}

/* Malformed requests: -EINVAL, no reply bytes, the node keeps serving. */
static void g_errors(void)
{
	uint32_t ip = mem1;
	uint64_t mm = new_mm();
	struct lego_mem_own_reply rep;
	struct lego_mem_stats s0;
	uint8_t buf[256 + PG], b[PG];
	size_t got;
	int r;

	stats(ip, &s0);
	r = o_mmap(ip, mm, 1, 0, 4 * PG, P_R | P_W, ANON, NULL, 0, &rep);
	uint64_t base = rep.value;
	CHECK(r == 0, "MMAP: %d", r);

	struct lego_mem_own_req good = oq(mm, LEGO_MEM_OWN_MUNMAP, 1), q;
	good.m.addr = base;
	good.m.len = PG;
#define BAD_OWN(what, n, ...)                                                        \
	do {                                                                          \
		q = good;                                                             \
		__VA_ARGS__;                                                          \
		memset(buf, 0, sizeof(buf));                                          \
		memcpy(buf, &q, sizeof(q));                                           \
		r = call(ip, LEGO_OP_MEM_OWN, buf, (n), b, sizeof(b), &got);          \
		CHECK(r == -EINVAL && got == 0, "OWN %s: %d, %zu bytes", what, r, got); \
	} while (0)
	BAD_OWN("shorter than its header", sizeof(q) - 1, );
	BAD_OWN("with 0 bytes", 0, );
	BAD_OWN("with a trailing byte", sizeof(q) + 1, );
	BAD_OWN("path_len 5 without a path", sizeof(q), q.m.path_len = 5);
	BAD_OWN("c.flags", sizeof(q), q.c.flags = 1);
	BAD_OWN("m.mm != c.mm", sizeof(q), q.m.mm = mm + 1);
	BAD_OWN("vregion_shift 12", sizeof(q), q.vregion_shift = 12);
	BAD_OWN("vregion_shift 47", sizeof(q), q.vregion_shift = 47);
	BAD_OWN("index past user space", sizeof(q), q.index = 200000);
	BAD_OWN("op 0", sizeof(q), q.op = 0);
	BAD_OWN("op 10", sizeof(q), q.op = 10);
	BAD_OWN("MUNMAP misaligned", sizeof(q), q.m.addr = base + 1);
	BAD_OWN("MUNMAP len 0", sizeof(q), q.m.len = 0);
	BAD_OWN("MUNMAP across the vRegion's end", sizeof(q), q.m.len = GiB);
	BAD_OWN("MMAP unknown flags", sizeof(q), q.op = LEGO_MEM_OWN_MMAP; q.m.flags = ANON | 0x80);
	BAD_OWN("MMAP len 0", sizeof(q), q.op = LEGO_MEM_OWN_MMAP; q.m.flags = ANON; q.m.len = 0);
	BAD_OWN("MMAP fixed outside", sizeof(q), q.op = LEGO_MEM_OWN_MMAP;
		q.m.flags = ANON | M_FIXED; q.m.addr = 3 * GiB);
	BAD_OWN("MMAP file without a path", sizeof(q), q.op = LEGO_MEM_OWN_MMAP;
		q.m.flags = M_PRIVATE);
	BAD_OWN("STACK misaligned", sizeof(q), q.op = LEGO_MEM_OWN_STACK; q.m.addr = base + 8);
	BAD_OWN("BRK start outside", sizeof(q), q.op = LEGO_MEM_OWN_BRK; q.m.addr = 5 * GiB);
	BAD_OWN("FORK to itself", sizeof(q), q.op = LEGO_MEM_OWN_FORK; q.m.new_addr = mm);
	BAD_OWN("MREMAP new_len 0", sizeof(q), q.op = LEGO_MEM_OWN_MREMAP; q.m.new_len = 0);
	BAD_OWN("MREMAP unknown flags", sizeof(q), q.op = LEGO_MEM_OWN_MREMAP; q.m.new_len = PG;
		q.m.flags = 8);

	struct lego_mem_page_req pq = { .mm = mm, .addr = base, .access = A_R };
#define BAD_PAGE(op, what, n, ...)                                                     \
	do {                                                                           \
		struct lego_mem_page_req p2 = pq;                                      \
		__VA_ARGS__;                                                           \
		memset(buf, 0, sizeof(buf));                                           \
		memcpy(buf, &p2, sizeof(p2));                                          \
		r = call(ip, op, buf, (n), b, sizeof(b), &got);                        \
		CHECK(r == -EINVAL && got == 0, "%s: %d, %zu bytes", what, r, got);      \
	} while (0)
	size_t pn = sizeof(pq);
	BAD_PAGE(LEGO_OP_MEM_PAGE_FETCH, "FETCH short", pn - 1, );
	BAD_PAGE(LEGO_OP_MEM_PAGE_FETCH, "FETCH with data", pn + PG, );
	BAD_PAGE(LEGO_OP_MEM_PAGE_FETCH, "FETCH misaligned", pn, p2.addr = base + 8);
	BAD_PAGE(LEGO_OP_MEM_PAGE_FETCH, "FETCH past user space", pn, p2.addr = LEGO_USER_TOP);
	BAD_PAGE(LEGO_OP_MEM_PAGE_FETCH, "FETCH access 0", pn, p2.access = 0);
	BAD_PAGE(LEGO_OP_MEM_PAGE_FETCH, "FETCH access 0x10", pn, p2.access = 0x10);
	BAD_PAGE(LEGO_OP_MEM_PAGE_FLUSH, "FLUSH without data", pn, );
	BAD_PAGE(LEGO_OP_MEM_PAGE_FLUSH, "FLUSH with a short page", pn + PG - 1, );
	BAD_PAGE(LEGO_OP_MEM_PAGE_FLUSH, "FLUSH misaligned", pn + PG, p2.addr = base + 1);
	BAD_PAGE(LEGO_OP_MEM_PAGE_FLUSH_FETCH, "FLUSH_FETCH misaligned flush_addr", pn + PG,
		 p2.flush_addr = base + 1);
	BAD_PAGE(LEGO_OP_MEM_PAGE_FLUSH_FETCH, "FLUSH_FETCH without data", pn,
		 p2.flush_addr = base);

	/* Garbage of every length, at both opcodes. */
	srand(getpid());
	int odd = 0;
	for (int i = 0; i < 300; i++) {
		size_t n = (size_t)(rand() % (int)sizeof(buf));
		for (size_t k = 0; k < n; k++)
			buf[k] = (uint8_t)rand();
		uint16_t op = i % 3 == 0 ? LEGO_OP_MEM_OWN :
			      i % 3 == 1 ? LEGO_OP_MEM_PAGE_FETCH : LEGO_OP_MEM_PAGE_FLUSH;
		r = call(ip, op, buf, n, maps_buf, sizeof(maps_buf), &got);
		if (r != -EINVAL && r != -ESRCH)
			odd++;
	}
	CHECK(odd == 0, "%d of 300 random requests not answered -EINVAL/-ESRCH", odd);

	r = fetch(ip, mm, base, A_R, b, &got);
	CHECK(r == 0 && got == 0, "the node still serves: %d", r);
	r = o_maps(ip, mm, 1, 0, &(struct maps){ 0 });
	o_free(ip, mm, 1);
	same_counters(ip, &s0, "after FREE");
}

/* Two owners of one address space: each knows its own vRegions only. */
static void g_nodes(void)
{
	uint64_t mm = new_mm();
	struct lego_mem_own_reply rep;
	struct lego_mem_stats s1, s2;
	uint8_t a[PG], b[PG];
	size_t got;
	int r;

	stats(mem1, &s1);
	stats(mem2, &s2);
	r = o_mmap(mem1, mm, 1, 0, 4 * PG, P_R | P_W, ANON, NULL, 0, &rep);
	uint64_t a1 = rep.value;
	CHECK(r == 0, "MMAP at the first node: %d", r);
	r = fetch(mem2, mm, a1, A_R, b, &got);
	CHECK(r == -ESRCH, "FETCH at the other node (nothing of the mm): %d", r);
	r = o_range(mem2, mm, LEGO_MEM_OWN_MUNMAP, 1, a1, PG, 0, &rep);
	CHECK(r == -ESRCH, "MUNMAP at the other node: %d", r);
	r = o_mmap(mem2, mm, 2, 0, 4 * PG, P_R | P_W, ANON, NULL, 0, &rep);
	uint64_t a2 = rep.value;
	CHECK(r == 0 && a2 >> SHIFT == 2, "MMAP at the second node, vRegion 2: %d", r);
	fill(a, 1);
	CHECK(flush(mem1, mm, a1, a) == 0, "FLUSH at the first");
	fill(a, 2);
	CHECK(flush(mem2, mm, a2, a) == 0, "FLUSH at the second");
	r = fetch(mem2, mm, a1, A_R, b, &got);
	CHECK(r == -ENXIO, "FETCH of vRegion 1 at the second node: %d (-ENXIO)", r);
	r = fetch(mem1, mm, a2, A_R, b, &got);
	CHECK(r == -ENXIO, "FETCH of vRegion 2 at the first node: %d (-ENXIO)", r);
	r = fetch(mem2, mm, a2, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(a, b, PG), "each node its page: %d", r);
	/* A FORK at one node copies that node's part only. */
	uint64_t ch = new_mm();
	r = o_fork(mem2, mm, 2, ch, &rep);
	CHECK(r == 0, "FORK at the second: %d", r);
	r = fetch(mem1, ch, a1, A_R, b, &got);
	CHECK(r == -ESRCH, "the child is unknown at the first node: %d", r);
	r = o_fork(mem1, mm, 1, ch, &rep);
	CHECK(r == 0, "FORK at the first: %d", r);
	fill(a, 1);
	r = fetch(mem1, ch, a1, A_R, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(a, b, PG), "the child's page at the first: %d", r);
	struct maps m;
	r = o_maps(mem2, mm, 2, 0, &m);
	CHECK(r == 0 && m.count == 1 && m.v[0].r.owner_node != 0 &&
		      (!node_id || m.v[0].r.owner_node != node_id),
	      "MAPS at the second names it as the owner: %d, owner %u", r,
	      m.count ? m.v[0].r.owner_node : 0);
	free(m.v);
	o_free(mem1, mm, 1);
	o_free(mem2, mm, 2);
	o_free(mem1, ch, 1);
	o_free(mem2, ch, 2);
	same_counters(mem1, &s1, "first node after FREE");
	same_counters(mem2, &s2, "second node after FREE");
}

/* Many short address spaces: map, write, fork, free. */
static void g_churn(void)
{
	struct lego_mem_own_reply rep;
	struct lego_mem_stats s1, s2;
	uint8_t a[PG], b[PG];
	size_t got;
	int r, bad = 0;

	stats(mem1, &s1);
	if (mem2)
		stats(mem2, &s2);
	for (int k = 0; k < 150 && bad < 5; k++) {
		uint32_t ip = mem2 && k % 2 ? mem2 : mem1;
		uint64_t m1 = new_mm(), m2 = new_mm();
		uint32_t idx = 1 + k % 5;
		r = o_mmap(ip, m1, idx, 0, 4 * PG, P_R | P_W, ANON, NULL, 0, &rep);
		uint64_t at = rep.value;
		fill(a, k);
		r |= flush(ip, m1, at, a);
		r |= flush(ip, m1, at + 3 * PG, a);
		r |= o_fork(ip, m1, idx, m2, &rep);
		r |= o_free(ip, m1, idx);
		int f = fetch(ip, m2, at + 3 * PG, A_R, b, &got);
		r |= o_free(ip, m2, idx);
		if (r || f || got != PG || memcmp(a, b, PG)) {
			bad++;
			CHECK(0, "round %d: status %d, fetch %d (%zu bytes)", k, r, f, got);
		}
	}
	CHECK(bad == 0, "150 rounds");
	same_counters(mem1, &s1, "after the rounds");
	if (mem2)
		same_counters(mem2, &s2, "second node after the rounds");
}

/* A child process fetches file and anonymous pages of an address space
 * while this one unmaps, maps and frees it again and again: every fetch
 * gives the right bytes or an error that says the page is gone. */
static void g_race(void)
{
	uint32_t ip = mem1;
	uint64_t mm = new_mm();
	struct lego_mem_own_reply rep;
	uint8_t a[PG], b[PG];
	size_t got;
	int r;

	load_busybox();
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		struct gm_rpc_ep *mine;
		if (gm_rpc_open(&mine, htonl(INADDR_ANY), 0) < 0)
			_exit(3);
		ep = mine;
		group = "race(child)";
		int wrong = 0, okf = 0;
		time_t end = time(NULL) + 4;
		fill(a, 77);
		while (time(NULL) < end) {
			for (uint64_t i = 0; i < 4; i++) {
				uint64_t addr = 6 * GiB + i * PG;
				memset(b, 0xcc, PG);
				r = fetch(ip, mm, addr, A_R, b, &got);
				if (r == 0) {
					okf++;
					/* file bytes, or the page written */
					if (got != PG || (memcmp(b, bb + i * PG, PG) && memcmp(b, a, PG)))
						wrong++;
				} else if (r != -ESRCH && r != -ENXIO && r != -EFAULT) {
					wrong++;
					printf("race: fetch: %d\n", r);
				}
			}
		}
		CHECK(wrong == 0, "%d wrong fetches (of %d good)", wrong, okf);
		printf("race: %d fetches with data\n", okf);
		gm_rpc_close(mine);
		_exit(fails ? 1 : 0);
	}
	CHECK(pid > 0, "fork");
	time_t end = time(NULL) + 4;
	int rounds = 0, bad = 0;
	fill(a, 77);
	while (time(NULL) < end) {
		r = o_mmap(ip, mm, 6, 6 * GiB, 4 * PG, P_R | P_W, M_PRIVATE | M_FIXED, "/bin/busybox", 0,
			   &rep);
		if (!r && rounds % 2)
			r = flush(ip, mm, 6 * GiB + (rounds / 2 % 4) * PG, a);
		if (!r && rounds % 3 == 0)
			r = o_range(ip, mm, LEGO_MEM_OWN_MUNMAP, 6, 6 * GiB + 2 * PG, PG, 0, &rep);
		if (!r)
			r = o_free(ip, mm, 6);
		if (r)
			bad++;
		rounds++;
	}
	CHECK(bad == 0, "%d of %d rounds failed", bad, rounds);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the fetching child: status %#x", st);
	printf("race: %d map/free rounds\n", rounds);
	r = fetch(ip, mm, 6 * GiB, A_R, b, &got);
	CHECK(r == -ESRCH, "nothing left: %d", r);
}

/* ------------------------------------------------------------------ */
/* mremap across vRegions, through the home (--mem is the home)        */

#define M_NORESERVE 0x4000u
#define M_STACK 0x20000u
#define MR_DONTUNMAP 4u

/* The home's vRegion array, from the last reply that carried one. */
static struct {
	uint32_t count;
	struct lego_mem_vregion v[256];
} lay;

/* A home request (lego_mem_map_req); a layout reply updates lay. Returns
 * the status; *value the reply's value. */
static int h_req(uint16_t op, struct lego_mem_map_req q, uint64_t *value)
{
	static uint8_t buf[sizeof(struct lego_mem_layout_reply) +
			   LEGO_MEM_VREGIONS_MAX * sizeof(struct lego_mem_vregion)];
	size_t got = 0;
	int r = call(mem1, op, &q, sizeof(q), buf, sizeof(buf), &got);
	if (value)
		*value = 0;
	if (r < 0 || got < sizeof(struct lego_mem_layout_reply))
		return r;
	struct lego_mem_layout_reply l;
	memcpy(&l, buf, sizeof(l));
	if (value)
		*value = l.value;
	if (l.vregion_shift != SHIFT || got != sizeof(l) + (size_t)l.count * sizeof(lay.v[0]) ||
	    l.count > 256) {
		CHECK(0, "opcode %#x: layout reply of %zu bytes, shift %u, count %u", op, got,
		      l.vregion_shift, l.count);
		return -1000;
	}
	lay.count = l.count;
	memcpy(lay.v, buf + sizeof(l), l.count * sizeof(lay.v[0]));
	return r;
}

static int h_mmap(uint64_t mm, uint64_t addr, uint64_t len, uint32_t prot, uint32_t flags,
		  uint64_t *at)
{
	struct lego_mem_map_req q = { .mm = mm, .addr = addr, .len = len, .prot = prot,
				      .flags = flags };
	return h_req(LEGO_OP_MEM_MMAP, q, at);
}

static int h_mremap(uint64_t mm, uint64_t addr, uint64_t len, uint64_t new_len, uint32_t flags,
		    uint64_t new_addr, uint64_t *at)
{
	struct lego_mem_map_req q = { .mm = mm, .addr = addr, .len = len, .new_len = new_len,
				      .flags = flags, .new_addr = new_addr };
	return h_req(LEGO_OP_MEM_MREMAP, q, at);
}

/* MMAP of path (a file of the vNode). */
static int h_mmap_file(uint64_t mm, uint64_t addr, uint64_t len, uint32_t prot, uint32_t flags,
		       const char *path, uint64_t pgoff, uint64_t *at)
{
	static uint8_t buf[sizeof(struct lego_mem_map_req) + LEGO_ST_PATH_MAX];
	static uint8_t rep[sizeof(struct lego_mem_layout_reply) +
			   LEGO_MEM_VREGIONS_MAX * sizeof(struct lego_mem_vregion)];
	struct lego_mem_map_req q = { .mm = mm, .addr = addr, .len = len, .prot = prot,
				      .flags = flags, .pgoff = pgoff,
				      .path_len = (uint16_t)strlen(path) };
	size_t got = 0;
	memcpy(buf, &q, sizeof(q));
	memcpy(buf + sizeof(q), path, q.path_len);
	int r = call(mem1, LEGO_OP_MEM_MMAP, buf, sizeof(q) + q.path_len, rep, sizeof(rep), &got);
	struct lego_mem_layout_reply l;
	if (r < 0 || got < sizeof(l))
		return r < 0 ? r : -1000;
	memcpy(&l, rep, sizeof(l));
	*at = l.value;
	if (l.count > 256 || got != sizeof(l) + (size_t)l.count * sizeof(lay.v[0]))
		return -1000;
	lay.count = l.count;
	memcpy(lay.v, rep + sizeof(l), l.count * sizeof(lay.v[0]));
	return 0;
}

/* The owner of addr's vRegion in lay (0: inactive). */
static uint32_t owner_of(uint64_t addr)
{
	for (uint32_t i = 0; i < lay.count; i++)
		if (lay.v[i].index == addr >> SHIFT)
			return lay.v[i].owner_ipv4;
	return 0;
}

/* FETCH of addr at its owner; an inactive vRegion reads as -EFAULT (a
 * processor has nobody to ask: the address is not mapped). */
static int h_fetch(uint64_t mm, uint64_t addr, uint8_t *page, size_t *got)
{
	uint32_t ip = owner_of(addr);
	*got = 0;
	return ip ? fetch(ip, mm, addr, A_R, page, got) : -EFAULT;
}

/* The page at addr holds busybox's page at file page fpage. */
static void expect_file_page(uint64_t mm, uint64_t addr, uint64_t fpage, const char *what)
{
	uint8_t b[PG];
	size_t got;
	int r = h_fetch(mm, addr, b, &got);
	CHECK(r == 0 && got == PG && !memcmp(b, bb + fpage * PG, PG),
	      "%s: %#lx: status %d, %zu bytes, not the file's page %lu", what,
	      (unsigned long)addr, r, got, (unsigned long)fpage);
}

static int h_flush(uint64_t mm, uint64_t addr, int seed)
{
	uint8_t a[PG];
	uint32_t ip = owner_of(addr);
	fill(a, seed);
	return ip ? flush(ip, mm, addr, a) : -EFAULT;
}

/* The npages pages at addr hold seeds[i] (0: zeros). */
static void expect_pages(uint64_t mm, uint64_t addr, int npages, const int *seeds,
			 const char *what)
{
	uint8_t a[PG], b[PG];
	size_t got;
	int bad = 0;
	for (int i = 0; i < npages; i++) {
		int r = h_fetch(mm, addr + i * PG, b, &got);
		if (seeds[i])
			fill(a, seeds[i]);
		int ok = r == 0 && (seeds[i] ? got == PG && !memcmp(a, b, PG)
					     : (got == 0 || (got == PG && is_zero(b, PG))));
		if (!ok && bad++ < 3)
			CHECK(0, "%s: page %d at %#lx: status %d, %zu bytes, %s expected", what, i,
			      (unsigned long)(addr + i * PG), r, got, seeds[i] ? "pattern" : "zeros");
	}
	CHECK(bad == 0, "%s: %d of %d pages wrong", what, bad, npages);
}

/* Nothing maps [addr, addr + n pages). */
static void expect_unmapped(uint64_t mm, uint64_t addr, int npages, const char *what)
{
	uint8_t b[PG];
	size_t got;
	int bad = 0;
	for (int i = 0; i < npages; i++) {
		int r = h_fetch(mm, addr + i * PG, b, &got);
		if (r != -EFAULT && bad++ < 3)
			CHECK(0, "%s: page %d at %#lx: status %d, -EFAULT expected", what, i,
			      (unsigned long)(addr + i * PG), r);
	}
	CHECK(bad == 0, "%s: %d of %d pages still mapped", what, bad, npages);
}

static int cross_moves, same_moves;

/* Count a move from src to dst by whether their owners differ. */
static void note_move(uint32_t src_ip, uint64_t dst)
{
	uint32_t d = owner_of(dst);
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &src_ip, a, sizeof(a));
	inet_ntop(AF_INET, &d, b, sizeof(b));
	printf("remap: a move to %#lx: from the owner %s to %s\n", (unsigned long)dst, a, b);
	if (src_ip && d && src_ip != d)
		cross_moves++;
	else
		same_moves++;
}

static void g_remap(void)
{
	struct lego_mem_stats s1, s2;
	uint64_t mm = new_mm(), at = 0, v;
	int r;

	cross_moves = same_moves = 0;
	stats(mem1, &s1);
	if (mem2)
		stats(mem2, &s2);
	struct lego_mem_create_req c = { .mm = mm, .storage_ipv4 = sip };
	r = call(mem1, LEGO_OP_MEM_CREATE, &c, sizeof(c), NULL, 0, NULL);
	CHECK(r == 0, "CREATE at the home: %d", r);
	if (r)
		return;

	/* A: 4 pages at the top of vRegion 1 grow in place into vRegion 2. */
	const uint64_t A = 2 * GiB - 4 * PG;
	r = h_mmap(mm, A, 4 * PG, P_R | P_W, ANON | M_FIXED, &at);
	CHECK(r == 0 && at == A, "MMAP fixed at the top of vRegion 1: %d, %#lx", r,
	      (unsigned long)at);
	CHECK(h_flush(mm, A, 10) == 0 && h_flush(mm, A + 2 * PG, 12) == 0, "pattern written");
	r = h_mremap(mm, A, 4 * PG, 8 * PG, 0, 0, &at);
	CHECK(r == 0 && at == A, "grown in place across the vRegion bound: %d, %#lx", r,
	      (unsigned long)at);
	CHECK(owner_of(2 * GiB) != 0, "vRegion 2 is active");
	expect_pages(mm, A, 8, (int[]){ 10, 0, 12, 0, 0, 0, 0, 0 }, "after growing in place");
	CHECK(h_flush(mm, A + 5 * PG, 15) == 0, "pattern written in vRegion 2");
	/* Grown without MAYMOVE where the bytes after it are taken: -ENOMEM. */
	r = h_mmap(mm, A + 8 * PG, PG, P_R, ANON | M_FIXED, &at);
	CHECK(r == 0, "a blocker after the mapping: %d", r);
	r = h_mremap(mm, A, 8 * PG, 16 * PG, 0, 0, &at);
	CHECK(r == -ENOMEM, "growing a blocked mapping without MAYMOVE: %d (-ENOMEM)", r);

	/* B: the mapping spans vRegions 1 and 2 and is blocked: it moves. */
	uint32_t src_ip = owner_of(A);
	r = h_mremap(mm, A, 8 * PG, 16 * PG, MR_MAYMOVE, 0, &v);
	CHECK(r == 0 && v != A && v >> SHIFT != 1 && v >> SHIFT != 2,
	      "grown with MAYMOVE: moved to another vRegion: %d, %#lx", r, (unsigned long)v);
	note_move(src_ip, v);
	int pat_b[16] = { 10, 0, 12, 0, 0, 15 };
	expect_pages(mm, v, 16, pat_b, "moved and grown");
	expect_unmapped(mm, A, 8, "the old range");
	expect_pages(mm, A + 8 * PG, 1, (int[]){ 0 }, "the blocker stays");

	/* C: MREMAP_FIXED into another vRegion, same size. */
	const uint64_t C = 3 * GiB + 16 * PG;
	src_ip = owner_of(v);
	r = h_mremap(mm, v, 16 * PG, 16 * PG, MR_MAYMOVE | MR_FIXED, C, &at);
	CHECK(r == 0 && at == C, "MREMAP_FIXED to vRegion 3: %d, %#lx", r, (unsigned long)at);
	note_move(src_ip, C);
	expect_pages(mm, C, 16, pat_b, "at the fixed destination");
	expect_unmapped(mm, v, 16, "the range it left");

	/* D: MREMAP_FIXED to a destination spanning vRegions 4 and 5, shrinking. */
	const uint64_t D = 5 * GiB - 2 * PG;
	src_ip = owner_of(C);
	r = h_mremap(mm, C, 16 * PG, 12 * PG, MR_MAYMOVE | MR_FIXED, D, &at);
	CHECK(r == 0 && at == D, "MREMAP_FIXED across the bound of vRegions 4 and 5: %d, %#lx", r,
	      (unsigned long)at);
	note_move(src_ip, D);
	expect_pages(mm, D, 12, pat_b, "at the spanning destination");
	expect_unmapped(mm, C, 16, "the range it left");

	/* E: the spanning mapping moves as a unit (fixed, into vRegion 7). */
	const uint64_t E = 7 * GiB + PG;
	src_ip = owner_of(D);
	r = h_mremap(mm, D, 12 * PG, 12 * PG, MR_MAYMOVE | MR_FIXED, E, &at);
	CHECK(r == 0 && at == E, "a mapping spanning two vRegions moved: %d, %#lx", r,
	      (unsigned long)at);
	note_move(src_ip, E);
	expect_pages(mm, E, 12, pat_b, "the spanning mapping moved");
	expect_unmapped(mm, D, 12, "the spanning range it left");

	/* F: MREMAP_DONTUNMAP: the pages move, the source stays mapped, empty. */
	const uint64_t F = 9 * GiB;
	src_ip = owner_of(E);
	r = h_mremap(mm, E, 12 * PG, 12 * PG, MR_MAYMOVE | MR_FIXED | MR_DONTUNMAP, F, &at);
	CHECK(r == 0 && at == F, "MREMAP_DONTUNMAP to vRegion 9: %d, %#lx", r, (unsigned long)at);
	note_move(src_ip, F);
	expect_pages(mm, F, 12, pat_b, "after DONTUNMAP");
	expect_pages(mm, E, 12, (int[12]){ 0 }, "the source after DONTUNMAP (zeros)");

	/* A private file mapping over two vRegions keeps its file, offsets
	 * and written pages when it moves, and grows with the file's pages. */
	load_busybox();
	const uint64_t FM = 19 * GiB - 2 * PG, FM2 = 21 * GiB + 8 * PG;
	r = h_mmap_file(mm, FM, 4 * PG, P_R | P_W, M_PRIVATE | M_FIXED, "/bin/busybox", 1, &at);
	CHECK(r == 0 && at == FM, "MMAP of /bin/busybox over vRegions 18 and 19: %d", r);
	CHECK(h_flush(mm, FM + 2 * PG, 31) == 0, "a private copy written");
	src_ip = owner_of(FM);
	r = h_mremap(mm, FM, 4 * PG, 4 * PG, MR_MAYMOVE | MR_FIXED, FM2, &at);
	CHECK(r == 0 && at == FM2, "the file mapping moved: %d, %#lx", r, (unsigned long)at);
	note_move(src_ip, FM2);
	expect_file_page(mm, FM2, 1, "moved file mapping");
	expect_file_page(mm, FM2 + PG, 2, "moved file mapping");
	expect_pages(mm, FM2 + 2 * PG, 1, (int[]){ 31 }, "moved file mapping's private copy");
	expect_file_page(mm, FM2 + 3 * PG, 4, "moved file mapping");
	expect_unmapped(mm, FM, 4, "the file mapping's old range");
	r = h_mremap(mm, FM2, 4 * PG, 6 * PG, 0, 0, &at);
	CHECK(r == 0 && at == FM2, "the file mapping grown in place: %d", r);
	expect_file_page(mm, FM2 + 5 * PG, 6, "grown file mapping");

	/* G: a vRegion without room: its owner cannot move the mapping
	 * inside it, so the home moves it to another vRegion. */
	const uint64_t G = 11 * GiB;
	r = h_mmap(mm, G, 2 * PG, P_R | P_W, ANON | M_FIXED, &at);
	CHECK(r == 0, "MMAP in vRegion 11: %d", r);
	r = h_mmap(mm, G + 2 * PG, GiB - 2 * PG, 0, ANON | M_FIXED | M_NORESERVE, &at);
	CHECK(r == 0, "the rest of vRegion 11 filled: %d", r);
	CHECK(h_flush(mm, G + PG, 21) == 0, "pattern written in vRegion 11");
	r = h_mremap(mm, G, 2 * PG, 4 * PG, 0, 0, &at);
	CHECK(r == -ENOMEM, "no room to grow, no MAYMOVE: %d (-ENOMEM)", r);
	src_ip = owner_of(G);
	r = h_mremap(mm, G, 2 * PG, 4 * PG, MR_MAYMOVE, 0, &v);
	CHECK(r == 0 && v >> SHIFT != 11, "moved out of the full vRegion: %d, %#lx", r,
	      (unsigned long)v);
	note_move(src_ip, v);
	expect_pages(mm, v, 4, (int[]){ 0, 21, 0, 0 }, "moved out of the full vRegion");
	expect_unmapped(mm, G, 2, "the range it left in vRegion 11");

	/* Bulk: 150 written pages of 300 (more than two PAGE_FLUSH_MANY
	 * batches) move to another vRegion and over a bound. */
	const int NB = 300;
	const uint64_t B1 = 23 * GiB + 64 * PG, B2 = 26 * GiB - 100 * PG;
	static int pat[300];
	r = h_mmap(mm, B1, NB * PG, P_R | P_W, ANON | M_FIXED, &at);
	CHECK(r == 0, "MMAP of %d pages in vRegion 23: %d", NB, r);
	int wbad = 0;
	for (int i = 0; i < NB; i++) {
		pat[i] = i % 2 ? 0 : 1000 + i;
		if (pat[i] && h_flush(mm, B1 + i * PG, pat[i]))
			wbad++;
	}
	CHECK(wbad == 0, "%d pages written", NB / 2);
	src_ip = owner_of(B1);
	r = h_mremap(mm, B1, NB * PG, NB * PG, MR_MAYMOVE | MR_FIXED, B2, &at);
	CHECK(r == 0 && at == B2, "%d pages moved over the bound of vRegions 25 and 26: %d", NB,
	      r);
	note_move(src_ip, B2);
	expect_pages(mm, B2, NB, pat, "the bulk move");
	expect_unmapped(mm, B1, 4, "the bulk's old range");

	/* The mapping's flags go with it (MAPS at the new owner). */
	const uint64_t K1 = 27 * GiB, K2 = 29 * GiB + 4 * PG;
	r = h_mmap(mm, K1, 2 * PG, P_R | P_W, ANON | M_FIXED | M_NORESERVE | M_STACK, &at);
	CHECK(r == 0, "MMAP noreserve,stack: %d", r);
	r = h_mremap(mm, K1, 2 * PG, 2 * PG, MR_MAYMOVE | MR_FIXED, K2, &at);
	CHECK(r == 0 && at == K2, "moved to vRegion 29: %d", r);
	struct maps km;
	r = o_maps(owner_of(K2), mm, 29, 0, &km);
	CHECK(r == 0 && km.count == 1 && km.v[0].r.start == K2 && km.v[0].r.end == K2 + 2 * PG &&
		      km.v[0].r.flags == (LEGO_MEM_VMA_NORESERVE | LEGO_MEM_VMA_NOHUGEPAGE),
	      "MAPS at the new owner: %d, %u records, flags %#x", r, km.count,
	      km.count ? km.v[0].r.flags : 0);
	free(km.v);

	/* Errors as on Linux. */
	r = h_mremap(mm, F, PG, 2 * PG, MR_FIXED, 13 * GiB, &at);
	CHECK(r == -EINVAL, "FIXED without MAYMOVE: %d (-EINVAL)", r);
	r = h_mremap(mm, F, 4 * PG, 4 * PG, MR_MAYMOVE | MR_FIXED, F + 2 * PG, &at);
	CHECK(r == -EINVAL, "a destination overlapping the source: %d (-EINVAL)", r);
	r = h_mremap(mm, F + 1, PG, 2 * PG, MR_MAYMOVE, 0, &at);
	CHECK(r == -EINVAL, "misaligned: %d (-EINVAL)", r);
	r = h_mremap(mm, F, 2 * PG, 2 * PG, MR_MAYMOVE | MR_FIXED, PG, &at);
	CHECK(r == -EPERM, "a destination below mmap_min_addr: %d (-EPERM)", r);
	r = h_mremap(mm, 13 * GiB, PG, 2 * PG, MR_MAYMOVE, 0, &at);
	CHECK(r == -EFAULT, "an inactive vRegion: %d (-EFAULT)", r);
	r = h_mremap(mm, F + GiB / 2, PG, 2 * PG, MR_MAYMOVE, 0, &at);
	CHECK(r == -EFAULT, "an unmapped address: %d (-EFAULT)", r);
	const uint64_t H = 15 * GiB - PG;
	r = h_mmap(mm, H, PG, P_R | P_W, ANON | M_FIXED, &at);
	r |= h_mmap(mm, H + PG, PG, P_R, ANON | M_FIXED, &at);
	CHECK(r == 0, "two different vmas on both sides of a vRegion bound: %d", r);
	r = h_mremap(mm, H, 2 * PG, 4 * PG, MR_MAYMOVE, 0, &at);
	CHECK(r == -EFAULT, "growing a range over two vmas: %d (-EFAULT)", r);
	r = h_mremap(mm, H, 2 * PG, 2 * PG, MR_MAYMOVE | MR_FIXED, 17 * GiB, &at);
	CHECK(r == -EFAULT, "moving a range over two vmas: %d (-EFAULT)", r);

	printf("remap: %d moves between two nodes, %d on one node\n", cross_moves, same_moves);

	/* Everything goes with the address space. */
	struct lego_mem_map_req q = { .mm = mm };
	r = h_req(LEGO_OP_MEM_EXIT, q, NULL);
	CHECK(r == 0, "EXIT: %d", r);
	same_counters(mem1, &s1, "home node after EXIT");
	if (mem2)
		same_counters(mem2, &s2, "second node after EXIT");
	struct lego_mem_stats s;
	stats(mem1, &s);
	CHECK(s.mms_home == s1.mms_home, "mms_home back to %lu: %lu", s1.mms_home, s.mms_home);
}

static void g_zero(uint32_t ip)
{
	struct lego_mem_stats s;
	stats(ip, &s);
	CHECK(s.mms_owned == 0 && s.vregions == 0 && s.vmas == 0 && s.pages == 0,
	      "%s: mms_owned %lu vregions %lu vmas %lu pages %lu (all 0 expected)",
	      inet_ntoa((struct in_addr){ ip }), s.mms_owned, s.vregions, s.vmas, s.pages);
	printf("%s: page_fetches %lu page_flushes %lu zero_fetches %lu\n",
	       inet_ntoa((struct in_addr){ ip }), s.page_fetches, s.page_flushes, s.zero_fetches);
}

static void usage(void)
{
	fprintf(stderr, "usage: owntest --mem IP [--mem2 IP] --storage IP [--node-id N] "
			"[--busybox FILE] GROUP...\n"
			"groups: layout pages bulk files fork maps errors nodes churn race remap "
			"zero\n");
	exit(2);
}

int main(int argc, char **argv)
{
	int i;
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc && argv[i][0] == '-'; i += 2) {
		if (i + 1 >= argc)
			usage();
		const char *o = argv[i], *v = argv[i + 1];
		if (!strcmp(o, "--mem"))
			inet_pton(AF_INET, v, &mem1) == 1 || (usage(), 0);
		else if (!strcmp(o, "--mem2"))
			inet_pton(AF_INET, v, &mem2) == 1 || (usage(), 0);
		else if (!strcmp(o, "--storage"))
			inet_pton(AF_INET, v, &sip) == 1 || (usage(), 0);
		else if (!strcmp(o, "--node-id"))
			node_id = (uint32_t)strtoul(v, NULL, 0);
		else if (!strcmp(o, "--busybox"))
			busybox = v;
		else
			usage();
	}
	if (!mem1 || !sip || i >= argc)
		usage();
	if (gm_rpc_open(&ep, htonl(INADDR_ANY), 0) < 0) {
		perror("gm_rpc_open");
		return 1;
	}
	for (; i < argc; i++) {
		group = argv[i];
		int f0 = fails, p0 = passes;
		if (!strcmp(group, "layout"))
			g_layout();
		else if (!strcmp(group, "pages"))
			g_pages();
		else if (!strcmp(group, "bulk"))
			g_bulk();
		else if (!strcmp(group, "files"))
			g_files();
		else if (!strcmp(group, "fork"))
			g_fork();
		else if (!strcmp(group, "maps"))
			g_maps();
		else if (!strcmp(group, "errors"))
			g_errors();
		else if (!strcmp(group, "nodes") && mem2)
			g_nodes();
		else if (!strcmp(group, "churn"))
			g_churn();
		else if (!strcmp(group, "race"))
			g_race();
		else if (!strcmp(group, "remap"))
			g_remap();
		else if (!strcmp(group, "zero")) {
			g_zero(mem1);
			if (mem2)
				g_zero(mem2);
		} else
			usage();
		printf("owntest %s: %d passed, %d failed\n", group, passes - p0, fails - f0);
	}
	printf("owntest: %d passed, %d failed\n", passes, fails);
	gm_rpc_close(ep);
	return fails ? 1 : 0;
}
