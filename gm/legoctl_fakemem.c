/*
 * The memory service of `legoctl fake-monitor --personality memory`: a
 * TEST TOOL that answers a small part of the memory monitor's protocol
 * (include/uapi/lego/memory.h) from memory, so that `legoctl mem` can be
 * tested without QEMU. It is not part of a real rack and is not a model
 * of Linux semantics: one node is home and owner of everything, an
 * address space's vmas are a sorted array, pages a sorted array.
 *
 * Served: CREATE, MMAP (MAP_FIXED, MAP_FIXED_NOREPLACE, a free hint, else
 * top-down below a fixed mmap base; file mappings read as zeros),
 * MUNMAP and MPROTECT (splitting vmas), FORK, EXIT, VREGIONS, MAPS,
 * PAGE_FETCH, PAGE_FLUSH, STATS. Everything else: -ENOSYS.
 *
 * Single-threaded: called from the fake monitor's one RPC endpoint.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uapi/lego/memory.h>
#include "legoctl.h"

#define FM_PG LEGO_PAGE_SIZE
#define FM_SHIFT LEGO_VREGION_SHIFT_DEFAULT
#define FM_MMAP_BASE 0x00007f0000000000ULL
#define FM_MIN_ADDR 0x10000ULL
#define FM_MAX_VMAS 65536
#define FM_MAX_MMS 4096

#define F_PROT_READ 0x1
#define F_PROT_WRITE 0x2
#define F_PROT_EXEC 0x4
#define F_MAP_SHARED 0x01
#define F_MAP_PRIVATE 0x02
#define F_MAP_FIXED 0x10
#define F_MAP_ANONYMOUS 0x20
#define F_MAP_FIXED_NOREPLACE 0x100000
/* Flags accepted (and ignored beyond the ones above). */
#define F_MAP_KNOWN (0x01 | 0x02 | 0x10 | 0x20 | 0x100 | 0x800 | 0x1000 | 0x2000 | 0x4000 | \
		     0x8000 | 0x10000 | 0x20000 | 0x100000)

struct fm_vma {
	uint64_t start, end, pgoff;
	uint32_t prot, flags;		/* flags: LEGO_MEM_VMA_* */
	char *path;			/* file mappings */
};

struct fm_page {
	uint64_t addr;
	uint8_t *data;
};

struct fm_mm {
	uint64_t id;
	struct fm_vma *v;
	size_t nv, capv;
	struct fm_page *p;
	size_t np, capp;
};

struct fakemem {
	struct fm_mm *mm;
	size_t nmm;
	uint32_t ip, node;
	uint16_t port;
	uint64_t mem_bytes, pages;
	uint64_t fetches, flushes, zero_fetches;
	uint32_t gen;
};

/* ------------------------------------------------------------------ */
/* Address spaces, vmas, pages                                         */
/* ------------------------------------------------------------------ */

static struct fm_mm *fm_find(struct fakemem *m, uint64_t id)
{
	for (size_t i = 0; i < m->nmm; i++)
		if (m->mm[i].id == id)
			return &m->mm[i];
	return NULL;
}

static struct fm_mm *fm_add(struct fakemem *m, uint64_t id)
{
	struct fm_mm *n;

	if (m->nmm == FM_MAX_MMS || !(n = realloc(m->mm, (m->nmm + 1) * sizeof(*n))))
		return NULL;
	m->mm = n;
	n = &m->mm[m->nmm++];
	memset(n, 0, sizeof(*n));
	n->id = id;
	return n;
}

/* Index of the first page >= addr. */
static size_t fm_page_at(const struct fm_mm *mm, uint64_t addr)
{
	size_t lo = 0, hi = mm->np;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (mm->p[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Frees the pages of [start, end). */
static void fm_drop_pages(struct fakemem *m, struct fm_mm *mm, uint64_t start, uint64_t end)
{
	size_t i = fm_page_at(mm, start), k = i;

	while (k < mm->np && mm->p[k].addr < end)
		free(mm->p[k++].data);
	if (k == i)
		return;
	memmove(&mm->p[i], &mm->p[k], (mm->np - k) * sizeof(*mm->p));
	mm->np -= k - i;
	m->pages -= k - i;
}

static void fm_mm_free(struct fakemem *m, struct fm_mm *mm)
{
	fm_drop_pages(m, mm, 0, UINT64_MAX);
	for (size_t i = 0; i < mm->nv; i++)
		free(mm->v[i].path);
	free(mm->v);
	free(mm->p);
	*mm = m->mm[--m->nmm];
}

static int fm_vma_insert_at(struct fm_mm *mm, size_t i, const struct fm_vma *v)
{
	if (mm->nv == FM_MAX_VMAS)
		return -ENOMEM;
	if (mm->nv == mm->capv) {
		size_t cap = mm->capv ? mm->capv * 2 : 16;
		struct fm_vma *n = realloc(mm->v, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		mm->v = n;
		mm->capv = cap;
	}
	memmove(&mm->v[i + 1], &mm->v[i], (mm->nv - i) * sizeof(*mm->v));
	mm->v[i] = *v;
	mm->nv++;
	return 0;
}

/* Splits the vma that strictly contains addr, if any. */
static int fm_split(struct fm_mm *mm, uint64_t addr)
{
	for (size_t i = 0; i < mm->nv; i++) {
		struct fm_vma *v = &mm->v[i], hi;

		if (!(v->start < addr && addr < v->end))
			continue;
		hi = *v;
		hi.start = addr;
		hi.pgoff = v->pgoff + (addr - v->start) / FM_PG;
		if (v->path && !(hi.path = strdup(v->path)))
			return -ENOMEM;
		if (fm_vma_insert_at(mm, i + 1, &hi) < 0) {
			free(hi.path);
			return -ENOMEM;
		}
		mm->v[i].end = addr;
		return 0;
	}
	return 0;
}

static bool fm_overlaps(const struct fm_mm *mm, uint64_t start, uint64_t end)
{
	for (size_t i = 0; i < mm->nv; i++)
		if (mm->v[i].start < end && start < mm->v[i].end)
			return true;
	return false;
}

static int fm_unmap(struct fakemem *m, struct fm_mm *mm, uint64_t start, uint64_t end)
{
	size_t i = 0;

	if (fm_split(mm, start) < 0 || fm_split(mm, end) < 0)
		return -ENOMEM;
	while (i < mm->nv) {
		if (mm->v[i].start >= start && mm->v[i].end <= end) {
			free(mm->v[i].path);
			memmove(&mm->v[i], &mm->v[i + 1], (mm->nv - i - 1) * sizeof(*mm->v));
			mm->nv--;
		} else {
			i++;
		}
	}
	fm_drop_pages(m, mm, start, end);
	return 0;
}

static const struct fm_vma *fm_vma_of(const struct fm_mm *mm, uint64_t addr)
{
	for (size_t i = 0; i < mm->nv; i++)
		if (mm->v[i].start <= addr && addr < mm->v[i].end)
			return &mm->v[i];
	return NULL;
}

/* The highest free range of len bytes below FM_MMAP_BASE, or 0. */
static uint64_t fm_topdown(const struct fm_mm *mm, uint64_t len)
{
	uint64_t gap_end = FM_MMAP_BASE;

	for (size_t i = mm->nv; i-- > 0;) {
		const struct fm_vma *v = &mm->v[i];

		if (v->start >= gap_end)
			continue;
		if (v->end <= gap_end && gap_end - v->end >= len)
			return gap_end - len;
		gap_end = v->start;
	}
	return gap_end >= FM_MIN_ADDR + len ? gap_end - len : 0;
}

/* ------------------------------------------------------------------ */
/* Replies                                                             */
/* ------------------------------------------------------------------ */

static uint32_t fm_nvregions(const struct fm_mm *mm, struct lego_mem_vregion *out, uint32_t max)
{
	uint32_t n = 0;
	int64_t last = -1;

	for (size_t i = 0; i < mm->nv; i++) {
		uint64_t a = mm->v[i].start >> FM_SHIFT, b = (mm->v[i].end - 1) >> FM_SHIFT;

		for (uint64_t k = a; k <= b; k++) {
			if ((int64_t)k <= last)
				continue;
			if (n < max && out) {
				memset(&out[n], 0, sizeof(out[n]));
				out[n].index = (uint32_t)k;
			}
			n++;
			last = (int64_t)k;
		}
	}
	return n;
}

static int fm_layout(struct fakemem *m, const struct fm_mm *mm, uint64_t value, void *reply,
		     size_t reply_max, size_t *reply_len)
{
	struct lego_mem_layout_reply h;
	struct lego_mem_vregion *v = (struct lego_mem_vregion *)((uint8_t *)reply + sizeof(h));
	uint32_t max = (uint32_t)((reply_max - sizeof(h)) / sizeof(*v)), n;

	if (max > LEGO_MEM_VREGIONS_MAX)
		max = LEGO_MEM_VREGIONS_MAX;
	n = fm_nvregions(mm, v, max);
	if (n > max)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		v[i].owner_node = m->node;
		v[i].owner_ipv4 = m->ip;
		v[i].owner_port = m->port;
	}
	memset(&h, 0, sizeof(h));
	h.value = value;
	h.vregion_shift = FM_SHIFT;
	h.count = n;
	h.generation = m->gen;
	memcpy(reply, &h, sizeof(h));
	*reply_len = sizeof(h) + n * sizeof(*v);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Handlers                                                            */
/* ------------------------------------------------------------------ */

static bool fm_range_ok(uint64_t addr, uint64_t len)
{
	return len && !(addr & (FM_PG - 1)) && addr < LEGO_USER_TOP && len <= LEGO_USER_TOP - addr;
}

static int fm_map_req(const struct gm_rpc_req *req, struct lego_mem_map_req *q, const char **path)
{
	if (req->len < sizeof(*q))
		return -EINVAL;
	memcpy(q, req->data, sizeof(*q));
	if (req->len != sizeof(*q) + q->path_len || q->reserved[0] || q->reserved[1] ||
	    q->reserved[2])
		return -EINVAL;
	*path = q->path_len ? (const char *)req->data + sizeof(*q) : NULL;
	return 0;
}

static int fm_mmap(struct fakemem *m, struct fm_mm *mm, struct lego_mem_map_req *q,
		   const char *path, void *reply, size_t reply_max, size_t *reply_len)
{
	struct fm_vma v;
	uint64_t len = (q->len + FM_PG - 1) & ~(uint64_t)(FM_PG - 1), addr = q->addr;
	bool fixed = q->flags & (F_MAP_FIXED | F_MAP_FIXED_NOREPLACE);
	int r;

	if (!q->len || len < q->len || (q->flags & ~(uint32_t)F_MAP_KNOWN) ||
	    (q->prot & ~(uint32_t)(F_PROT_READ | F_PROT_WRITE | F_PROT_EXEC)) ||
	    !(q->flags & (F_MAP_SHARED | F_MAP_PRIVATE)) ||
	    ((q->flags & F_MAP_SHARED) && (q->flags & F_MAP_PRIVATE)) ||
	    !(q->flags & F_MAP_ANONYMOUS) != !!path || (fixed && (addr & (FM_PG - 1))))
		return -EINVAL;
	if (fixed) {
		if (!fm_range_ok(addr, len))
			return -EINVAL;
		if ((q->flags & F_MAP_FIXED_NOREPLACE) && fm_overlaps(mm, addr, addr + len))
			return -EEXIST;
		if ((r = fm_unmap(m, mm, addr, addr + len)) < 0)
			return r;
	} else {
		addr &= ~(uint64_t)(FM_PG - 1);
		if (!addr || addr < FM_MIN_ADDR || !fm_range_ok(addr, len) ||
		    fm_overlaps(mm, addr, addr + len))
			addr = fm_topdown(mm, len);
		if (!addr)
			return -ENOMEM;
	}
	memset(&v, 0, sizeof(v));
	v.start = addr;
	v.end = addr + len;
	v.prot = q->prot;
	v.pgoff = path ? q->pgoff : 0;
	v.flags = (q->flags & F_MAP_SHARED ? LEGO_MEM_VMA_SHARED : 0) |
		  (path ? LEGO_MEM_VMA_FILE : 0);
	if (path && !(v.path = strndup(path, q->path_len)))
		return -ENOMEM;
	{
		size_t i = 0;

		while (i < mm->nv && mm->v[i].start < v.start)
			i++;
		if ((r = fm_vma_insert_at(mm, i, &v)) < 0) {
			free(v.path);
			return r;
		}
	}
	m->gen++;
	return fm_layout(m, mm, addr, reply, reply_max, reply_len);
}

static int fm_mprotect(struct fm_mm *mm, uint64_t start, uint64_t end, uint32_t prot)
{
	uint64_t a = start;

	if (prot & ~(uint32_t)(F_PROT_READ | F_PROT_WRITE | F_PROT_EXEC))
		return -EINVAL;
	/* Linux: -ENOMEM unless all of it is mapped. */
	while (a < end) {
		const struct fm_vma *v = fm_vma_of(mm, a);

		if (!v)
			return -ENOMEM;
		a = v->end;
	}
	if (fm_split(mm, start) < 0 || fm_split(mm, end) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < mm->nv; i++)
		if (mm->v[i].start >= start && mm->v[i].end <= end)
			mm->v[i].prot = prot;
	return 0;
}

static int fm_maps(const struct fm_mm *mm, uint64_t after, void *reply, size_t reply_max,
		   size_t *reply_len)
{
	struct lego_mem_maps_reply h = { 0, 0 };
	size_t p = sizeof(h);

	for (size_t i = 0; i < mm->nv; i++) {
		const struct fm_vma *v = &mm->v[i];
		struct lego_mem_vma_rec r;
		uint16_t pl = v->path ? (uint16_t)strlen(v->path) : 0;

		if (v->end <= after)
			continue;
		if (p + LEGO_MEM_VMA_REC_SIZE(pl) > reply_max) {
			h.more = 1;
			break;
		}
		memset(&r, 0, sizeof(r));
		r.start = v->start;
		r.end = v->end;
		r.pgoff = v->pgoff;
		r.prot = v->prot;
		r.flags = v->flags;
		r.path_len = pl;
		memcpy((uint8_t *)reply + p, &r, sizeof(r));
		memset((uint8_t *)reply + p + sizeof(r), 0, LEGO_MEM_VMA_REC_SIZE(pl) - sizeof(r));
		if (pl)
			memcpy((uint8_t *)reply + p + sizeof(r), v->path, pl);
		p += LEGO_MEM_VMA_REC_SIZE(pl);
		h.count++;
	}
	memcpy(reply, &h, sizeof(h));
	*reply_len = p;
	return 0;
}

static int fm_fork(struct fakemem *m, uint64_t parent, uint64_t child)
{
	struct fm_mm *pm = fm_find(m, parent), *cm;
	size_t pi;

	if (!pm)
		return -ESRCH;
	if (fm_find(m, child))
		return -EEXIST;
	if (!child)
		return -EINVAL;
	pi = (size_t)(pm - m->mm);
	if (!(cm = fm_add(m, child)))
		return -ENOMEM;
	pm = &m->mm[pi];	/* the array may have moved */
	cm->v = calloc(pm->nv ? pm->nv : 1, sizeof(*cm->v));
	cm->p = calloc(pm->np ? pm->np : 1, sizeof(*cm->p));
	if (!cm->v || !cm->p)
		goto nomem;
	cm->capv = pm->nv ? pm->nv : 1;
	cm->capp = pm->np ? pm->np : 1;
	for (size_t i = 0; i < pm->nv; i++) {
		cm->v[i] = pm->v[i];
		cm->v[i].path = NULL;
		cm->nv++;
		if (pm->v[i].path && !(cm->v[i].path = strdup(pm->v[i].path)))
			goto nomem;
	}
	for (size_t i = 0; i < pm->np; i++) {
		if (!(cm->p[i].data = malloc(FM_PG)))
			goto nomem;
		cm->p[i].addr = pm->p[i].addr;
		memcpy(cm->p[i].data, pm->p[i].data, FM_PG);
		cm->np++;
		m->pages++;
	}
	return 0;
nomem:
	fm_mm_free(m, cm);
	return -ENOMEM;
}

static int fm_page(struct fakemem *m, uint16_t op, const struct gm_rpc_req *req, void *reply,
		   size_t *reply_len)
{
	struct lego_mem_page_req q;
	const struct fm_vma *v;
	struct fm_mm *mm;
	size_t i;

	if (req->len != sizeof(q) + (op == LEGO_OP_MEM_PAGE_FLUSH ? FM_PG : 0))
		return -EINVAL;
	memcpy(&q, req->data, sizeof(q));
	if ((q.addr & (FM_PG - 1)) || q.addr >= LEGO_USER_TOP || q.flush_addr || q.reserved ||
	    (q.access & ~(uint32_t)(LEGO_MEM_ACCESS_READ | LEGO_MEM_ACCESS_WRITE |
				    LEGO_MEM_ACCESS_EXEC)) ||
	    (op == LEGO_OP_MEM_PAGE_FETCH && !q.access))
		return -EINVAL;
	if (!(mm = fm_find(m, q.mm)))
		return -ESRCH;
	if (!(v = fm_vma_of(mm, q.addr)))
		return -EFAULT;
	i = fm_page_at(mm, q.addr);
	if (op == LEGO_OP_MEM_PAGE_FETCH) {
		/* As on x86: write implies read; PROT_NONE allows nothing. */
		if ((q.access & LEGO_MEM_ACCESS_WRITE) && !(v->prot & F_PROT_WRITE))
			return -EACCES;
		if (!(v->prot & (F_PROT_READ | F_PROT_WRITE | F_PROT_EXEC)))
			return -EACCES;
		m->fetches++;
		if (i < mm->np && mm->p[i].addr == q.addr) {
			memcpy(reply, mm->p[i].data, FM_PG);
			*reply_len = FM_PG;
		} else {
			m->zero_fetches++;
		}
		return 0;
	}
	if (!(v->prot & F_PROT_WRITE))
		return -EACCES;
	if (i == mm->np || mm->p[i].addr != q.addr) {
		struct fm_page pg = { q.addr, malloc(FM_PG) };

		if (!pg.data)
			return -ENOMEM;
		if (mm->np == mm->capp) {
			size_t cap = mm->capp ? mm->capp * 2 : 64;
			struct fm_page *n = realloc(mm->p, cap * sizeof(*n));

			if (!n) {
				free(pg.data);
				return -ENOMEM;
			}
			mm->p = n;
			mm->capp = cap;
		}
		memmove(&mm->p[i + 1], &mm->p[i], (mm->np - i) * sizeof(*mm->p));
		mm->p[i] = pg;
		mm->np++;
		m->pages++;
	}
	memcpy(mm->p[i].data, (const uint8_t *)req->data + sizeof(q), FM_PG);
	m->flushes++;
	return 0;
}

static int fm_handle(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req, void *reply,
		     size_t reply_max, size_t *reply_len)
{
	struct fakemem *m = arg;
	struct lego_mem_map_req q;
	const char *path;
	struct fm_mm *mm;
	int r;

	switch (req->opcode) {
	case LEGO_OP_MEM_CREATE: {
		struct lego_mem_create_req c;

		if (req->len != sizeof(c))
			return -EINVAL;
		memcpy(&c, req->data, sizeof(c));
		if (!c.mm || c.flags)
			return -EINVAL;
		if (fm_find(m, c.mm))
			return -EEXIST;
		return fm_add(m, c.mm) ? 0 : -ENOMEM;
	}
	case LEGO_OP_MEM_FORK: {
		struct lego_mem_fork_req f;

		if (req->len != sizeof(f))
			return -EINVAL;
		memcpy(&f, req->data, sizeof(f));
		return fm_fork(m, f.parent, f.child);
	}
	case LEGO_OP_MEM_PAGE_FETCH:
	case LEGO_OP_MEM_PAGE_FLUSH:
		return fm_page(m, req->opcode, req, reply, reply_len);
	case LEGO_OP_MEM_STATS: {
		struct lego_mem_stats s;

		if (req->len)
			return -EINVAL;
		memset(&s, 0, sizeof(s));
		s.mms_home = m->nmm;
		for (size_t i = 0; i < m->nmm; i++) {
			uint32_t n = fm_nvregions(&m->mm[i], NULL, 0);

			s.mms_owned += n > 0;
			s.vregions += n;
			s.vmas += m->mm[i].nv;
		}
		s.pages = m->pages;
		s.page_fetches = m->fetches;
		s.page_flushes = m->flushes;
		s.zero_fetches = m->zero_fetches;
		s.mem_free_bytes = m->mem_bytes > m->pages * FM_PG ? m->mem_bytes - m->pages * FM_PG
								    : 0;
		memcpy(reply, &s, sizeof(s));
		*reply_len = sizeof(s);
		return 0;
	}
	}
	/* The rest take a lego_mem_map_req. */
	if ((r = fm_map_req(req, &q, &path)) < 0)
		return r;
	if (!(mm = fm_find(m, q.mm)))
		return -ESRCH;
	switch (req->opcode) {
	case LEGO_OP_MEM_MMAP:
		return fm_mmap(m, mm, &q, path, reply, reply_max, reply_len);
	case LEGO_OP_MEM_MUNMAP:
		if (path || !fm_range_ok(q.addr, q.len))
			return -EINVAL;
		r = fm_unmap(m, mm, q.addr, q.addr + ((q.len + FM_PG - 1) & ~(uint64_t)(FM_PG - 1)));
		m->gen += r == 0;
		return r;
	case LEGO_OP_MEM_MPROTECT:
		if (path || !fm_range_ok(q.addr, q.len))
			return -EINVAL;
		return fm_mprotect(mm, q.addr,
				   q.addr + ((q.len + FM_PG - 1) & ~(uint64_t)(FM_PG - 1)), q.prot);
	case LEGO_OP_MEM_VREGIONS:
		return path ? -EINVAL : fm_layout(m, mm, 0, reply, reply_max, reply_len);
	case LEGO_OP_MEM_MAPS:
		return path ? -EINVAL : fm_maps(mm, q.addr, reply, reply_max, reply_len);
	case LEGO_OP_MEM_EXIT:
		if (path)
			return -EINVAL;
		fm_mm_free(m, mm);
		m->gen++;
		return 0;
	}
	return -ENOSYS;
}

/* ------------------------------------------------------------------ */

struct fakemem *fakemem_new(uint32_t ip, uint16_t port, uint64_t mem_bytes)
{
	struct fakemem *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->ip = ip;
	m->port = port;
	m->mem_bytes = mem_bytes;
	m->gen = 1;
	return m;
}

void fakemem_set_node(struct fakemem *m, uint32_t node_id)
{
	m->node = node_id;
}

void fakemem_free(struct fakemem *m)
{
	if (!m)
		return;
	while (m->nmm)
		fm_mm_free(m, &m->mm[0]);
	free(m->mm);
	free(m);
}

int fakemem_register(struct fakemem *m, struct gm_rpc_ep *ep)
{
	static const uint16_t ops[] = {
		LEGO_OP_MEM_CREATE, LEGO_OP_MEM_MMAP, LEGO_OP_MEM_MUNMAP, LEGO_OP_MEM_MPROTECT,
		LEGO_OP_MEM_FORK, LEGO_OP_MEM_EXIT, LEGO_OP_MEM_VREGIONS, LEGO_OP_MEM_MAPS,
		LEGO_OP_MEM_PAGE_FETCH, LEGO_OP_MEM_PAGE_FLUSH, LEGO_OP_MEM_STATS,
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int r = gm_rpc_serve_register(ep, ops[i], fm_handle, m, 65536);

		if (r < 0)
			return r;
	}
	return 0;
}
