/*
 * The home mComponent (paper §4.4.1, Figure 6): the memory monitor's
 * coarse level of virtual memory management for the processes it is home
 * of. Design: docs/memory.md; wire: include/uapi/lego/memory.h.
 *
 * Per process the home keeps a record (struct home_mm, home.h): the vNode
 * and its storage endpoint, the vRegion array (active vRegions, their
 * owners and the free space the owners last reported), the heap's
 * [start_brk, brk) and mmap_base. It serves every request that changes the
 * layout (CREATE, EXEC (loader.c), MMAP, MUNMAP, MPROTECT, MREMAP, BRK,
 * FORK, EXIT) and the queries VREGIONS, MAPS and STATS. It never keeps
 * vmas: every vma operation is cut at vRegion boundaries and forwarded
 * to the owners as LEGO_OP_MEM_OWN requests, which apply Linux's rules
 * inside their vRegion (include/lego/vma.h). A new vRegion gets its owner
 * from GMM (LEGO_OP_GMM_VREGION); without a GMM (a rack started with
 * --no-managers, or GMM unreachable) the home owns it itself.
 *
 * Locking: see struct home_mm. home_lock protects the hash table; every
 * request holds the record's mutex throughout, so the calls it makes to
 * owners see a consistent array. Counters are updated atomically.
 */
#include <lego/rpc.h>
#include <lego/mm.h>
#include <lego/errno.h>
#include <lego/string.h>
#include <lego/printk.h>
#include <lego/net.h>
#include <lego/spinlock.h>
#include <lego/mem_proto.h>
#include <lego/vma.h>
#include <uapi/lego/gm.h>
#include "home.h"
#include "bc_service.h"
#include "owner.h"

#define PG ((u64)LEGO_PAGE_SIZE)
#define HOME_BUCKETS (1u << CONFIG_MEM_HOME_HASH_BITS)
/* Linux's gap between the stack top and mmap_base without randomisation
 * and with an 8 MiB stack limit: the minimum, 128 MiB. */
#define HOME_MMAP_GAP (128ULL << 20)
/* Linux's default vm.mmap_min_addr: hints below it are ignored. */
#define HOME_MMAP_MIN_ADDR 0x10000ULL

struct home_counters home_counters;
#define CNT_INC(f) __atomic_add_fetch(&home_counters.f, 1, __ATOMIC_RELAXED)

static DEFINE_MUTEX(home_lock);
static struct home_mm *buckets[HOME_BUCKETS];
static u32 nr_mms;		/* home_lock */
static bool gmm_fallback_logged;	/* only for one log line; racy on purpose */

static u32 hash_id(u64 id)
{
	return (u32)((id * 0x9e3779b97f4a7c15ULL) >> 40) & (HOME_BUCKETS - 1);
}

static int wire_err(int r)
{
	return r == -ETIMEDOUT || r == -ENETUNREACH ? -EHOSTUNREACH : r;
}

/* ------------------------------------------------------------------ */
/* Records                                                             */

static void mm_free(struct home_mm *mm)
{
	kfree(mm->va.v);
	kfree(mm);
}

static void unpin(struct home_mm *mm)
{
	mutex_lock(&home_lock);
	bool last = --mm->refs == 0;
	mutex_unlock(&home_lock);
	if (last)
		mm_free(mm);
}

struct home_mm *home_get(u64 id, bool create, bool excl, const struct lego_mem_create_req *c,
			 bool *created, int *err)
{
	struct home_mm *mm, *fresh = NULL;

	if (created)
		*created = false;
	if (create) {
		/* Allocated outside home_lock, dropped if not needed. */
		fresh = kzalloc(sizeof(*fresh));
		struct vregion *st = kmalloc(4 * sizeof(struct vregion));
		if (!fresh || !st) {
			kfree(fresh);
			kfree(st);
			*err = -ENOMEM;
			return NULL;
		}
		fresh->id = id;
		fresh->refs = 2;	/* the table's and the caller's */
		mutex_init(&fresh->lock);
		fresh->c = *c;
		fresh->c.mm = id;
		if (!fresh->c.bc_ipv4)	/* owners read files through our cache */
			fresh->c.bc_ipv4 = net_config.ip;
		vregion_array_init(&fresh->va, CONFIG_VREGION_SHIFT, st, 4);
		fresh->mmap_base = LEGO_USER_TOP - HOME_MMAP_GAP;
		/* Locked before anyone can see it. */
		mutex_lock(&fresh->lock);
	}
	mutex_lock(&home_lock);
	u32 b = hash_id(id);
	for (mm = buckets[b]; mm; mm = mm->hnext)
		if (mm->id == id)
			break;
	if (mm && excl) {
		mutex_unlock(&home_lock);
		if (fresh) {
			mutex_unlock(&fresh->lock);
			mm_free(fresh);
		}
		*err = -EEXIST;
		return NULL;
	}
	if (!mm && fresh) {
		if (nr_mms >= CONFIG_MEM_HOME_MAX_MMS) {
			mutex_unlock(&home_lock);
			mutex_unlock(&fresh->lock);
			mm_free(fresh);
			*err = -ENOMEM;
			return NULL;
		}
		fresh->hnext = buckets[b];
		buckets[b] = fresh;
		nr_mms++;
		__atomic_store_n(&home_counters.mms, nr_mms, __ATOMIC_RELAXED);
		mutex_unlock(&home_lock);
		if (created)
			*created = true;
		return fresh;
	}
	if (mm)
		mm->refs++;
	mutex_unlock(&home_lock);
	if (fresh) {
		mutex_unlock(&fresh->lock);
		mm_free(fresh);
	}
	if (!mm) {
		*err = -ESRCH;
		return NULL;
	}
	mutex_lock(&mm->lock);
	if (mm->dead) {
		mutex_unlock(&mm->lock);
		unpin(mm);
		*err = -ESRCH;
		return NULL;
	}
	return mm;
}

void home_put(struct home_mm *mm)
{
	mutex_unlock(&mm->lock);
	unpin(mm);
}

void home_kill(struct home_mm *mm)
{
	mm->dead = true;
	mutex_lock(&home_lock);
	struct home_mm **pp = &buckets[hash_id(mm->id)];
	while (*pp && *pp != mm)
		pp = &(*pp)->hnext;
	if (*pp) {
		*pp = mm->hnext;
		nr_mms--;
		mm->refs--;	/* the table's reference; the caller still holds one */
		__atomic_store_n(&home_counters.mms, nr_mms, __ATOMIC_RELAXED);
	}
	mutex_unlock(&home_lock);
}

/* ------------------------------------------------------------------ */
/* Talking to owners and GMM                                           */

/* A request to the owner of v. */
static int owner_call(const struct vregion *v, u16 opcode, const void *req, u32 req_len,
		      void *reply, u32 reply_max, u32 *reply_len)
{
	/* This node owns it: served in this thread (owner_local_call says why). */
	if (v->owner_ip == net_config.ip &&
	    (v->owner_port == LEGO_RPC_PORT || !v->owner_port))
		return owner_local_call(opcode, req, req_len, reply, reply_max, reply_len);
	struct rpc_endpoint ep = { v->owner_ip, v->owner_port };
	return wire_err(rpc_call(&ep, opcode, req, req_len, reply, reply_max, reply_len, 0));
}

/* One OWN request to the owner of index; tail (tail_len bytes) follows
 * the header: a path, or OWN_MOVE's destination. */
static int own_send(struct home_mm *mm, u32 index, u32 op, const struct lego_mem_map_req *m,
		    const void *tail, u32 tail_len, struct lego_mem_own_reply *rep)
{
	struct vregion *v = vregion_find(&mm->va, index);
	if (!v)
		return -ENXIO;
	u32 len = (u32)sizeof(struct lego_mem_own_req) + tail_len;
	u8 small[sizeof(struct lego_mem_own_req) + sizeof(struct lego_mem_own_move)];
	u8 *buf = len > sizeof(small) ? kmalloc(len) : small;
	if (!buf)
		return -ENOMEM;
	struct lego_mem_own_req q;
	memset(&q, 0, sizeof(q));
	q.c = mm->c;
	q.op = op;
	q.index = index;
	q.vregion_shift = mm->va.shift;
	u64 lo, hi;
	vregion_bounds(mm->va.shift, index, &lo, &hi);
	q.mmap_base = mm->mmap_base < lo ? lo : mm->mmap_base > hi ? hi : mm->mmap_base;
	q.m = *m;
	q.m.mm = mm->id;
	q.m.path_len = op == LEGO_MEM_OWN_MOVE ? 0 : (u16)tail_len;
	memcpy(buf, &q, sizeof(q));
	if (tail_len)
		memcpy(buf + sizeof(q), tail, tail_len);

	u32 got = 0;
	CNT_INC(own_calls);
	int r = owner_call(v, LEGO_OP_MEM_OWN, buf, len, rep, sizeof(*rep), &got);
	if (buf != small)
		kfree(buf);
	if (r >= 0 && got != sizeof(*rep))
		r = -EPROTO;
	if (r < 0) {
		CNT_INC(own_errors);
		return r;
	}
	/* The array may have moved? No: only this request (mutex) changes
	 * it, and nothing above inserted. */
	v->free_bytes = rep->free_bytes;
	v->max_gap = rep->max_gap;
	v->nr_vmas = rep->nr_vmas;
	return r;
}

int home_own(struct home_mm *mm, u32 index, u32 op, struct lego_mem_map_req *m, const char *path,
	     struct lego_mem_own_reply *rep)
{
	return own_send(mm, index, op, m, path, path ? m->path_len : 0, rep);
}

/* The owner for a new vRegion: GMM's choice, or this node. */
static int choose_owner(u32 shift, u32 index, u64 want_bytes, struct vregion *e)
{
	memset(e, 0, sizeof(*e));
	e->index = index;
	e->owner_port = LEGO_RPC_PORT;
	e->free_bytes = e->max_gap = vregion_size(shift, index);
	if (net_config.gm_ip) {
		/* Ask for the memory the mapping needs now, between 1 MiB and
		 * CONFIG_MEM_GMM_ASK_MAX_MB, not for the whole vRegion: owners
		 * allocate on first write only, and an emulated rack's nodes
		 * are smaller than a 1 GiB vRegion (docs/memory.md). */
		struct lego_gmm_vregion_req q = { want_bytes };
		u64 cap = (u64)CONFIG_MEM_GMM_ASK_MAX_MB << 20;
		if (q.bytes < (1ULL << 20))
			q.bytes = 1ULL << 20;
		if (q.bytes > cap)
			q.bytes = cap;
		struct lego_gm_choice ch;
		struct rpc_endpoint ep = { net_config.gm_ip, LEGO_GMM_PORT };
		u32 got = 0;
		CNT_INC(gmm_asks);
		int r = rpc_call(&ep, LEGO_OP_GMM_VREGION, &q, sizeof(q), &ch, sizeof(ch), &got,
				 CONFIG_MEM_GMM_TIMEOUT_MS);
		if (r >= 0 && got == sizeof(ch) && ch.ipv4) {
			e->owner_node = ch.node_id;
			e->owner_ip = ch.ipv4;
			return 0;
		}
		/* GMM knows no node with that much free memory. Its view lags
		 * (it charges every choice until the next load report), so a
		 * home that has the memory itself takes the vRegion. */
		if (r == -ENOSPC && page_alloc_free_bytes() < q.bytes + (64ULL << 20))
			return -ENOMEM;
		if (!gmm_fallback_logged) {
			gmm_fallback_logged = true;
			pr_warn("memory: GMM did not choose a vRegion owner (%d); this node owns the "
				"vRegions it cannot place\n", r);
		}
	} else if (!gmm_fallback_logged) {
		gmm_fallback_logged = true;
		printk(KERN_INFO "memory: no GMM; the home owns every vRegion itself\n");
	}
	CNT_INC(gmm_fallbacks);
	e->owner_node = net_config.node_id;
	e->owner_ip = net_config.ip;
	return 0;
}

int home_activate(struct home_mm *mm, u32 index, u64 want_bytes)
{
	if (vregion_find(&mm->va, index))
		return 0;
	if (index >= vregion_nr(mm->va.shift))
		return -EINVAL;
	if (mm->va.count >= mm->va.cap) {
		if (mm->va.cap >= LEGO_MEM_VREGIONS_MAX)
			return -ENOMEM;
		u32 cap = MIN(mm->va.cap * 2, LEGO_MEM_VREGIONS_MAX);
		struct vregion *st = kmalloc(cap * sizeof(*st));
		if (!st)
			return -ENOMEM;
		struct vregion *old = mm->va.v;
		vregion_array_move(&mm->va, st, cap);
		kfree(old);
	}
	struct vregion e;
	int r = choose_owner(mm->va.shift, index, want_bytes, &e);
	if (r)
		return r;
	return vregion_insert(&mm->va, &e);
}

void home_deactivate(struct home_mm *mm, u32 index)
{
	struct lego_mem_map_req m;
	struct lego_mem_own_reply rep;

	memset(&m, 0, sizeof(m));
	int r = home_own(mm, index, LEGO_MEM_OWN_FREE, &m, NULL, &rep);
	if (r < 0 && r != -ESRCH && r != -ENXIO)
		pr_warn("memory: mm %#llx: freeing vRegion %u at its owner failed (%d)\n",
			(unsigned long long)mm->id, index, r);
	vregion_remove(&mm->va, index);
}

/* Deactivate index if its owner reports it empty (after an unmap). */
static void maybe_deactivate(struct home_mm *mm, u32 index)
{
	struct vregion *v = vregion_find(&mm->va, index);
	if (v && !v->nr_vmas)
		home_deactivate(mm, index);
}

void home_drop_all(struct home_mm *mm)
{
	while (mm->va.count)
		home_deactivate(mm, mm->va.v[mm->va.count - 1].index);
}

int home_page_flush(struct home_mm *mm, u64 addr, const void *page)
{
	struct vregion *v = vregion_find(&mm->va, (u32)(addr >> mm->va.shift));
	if (!v)
		return -ENXIO;
	u32 len = sizeof(struct lego_mem_page_req) + LEGO_PAGE_SIZE;
	u8 *buf = kmalloc(len);
	if (!buf)
		return -ENOMEM;
	struct lego_mem_page_req q;
	memset(&q, 0, sizeof(q));
	q.mm = mm->id;
	q.addr = addr;
	q.access = LEGO_MEM_ACCESS_WRITE;
	memcpy(buf, &q, sizeof(q));
	memcpy(buf + sizeof(q), page, LEGO_PAGE_SIZE);
	int r = owner_call(v, LEGO_OP_MEM_PAGE_FLUSH, buf, len, NULL, 0, NULL);
	kfree(buf);
	return r;
}

/* ------------------------------------------------------------------ */
/* Operations split by vRegion                                         */

s64 home_map_fixed(struct home_mm *mm, u64 addr, u64 len, u32 prot, u32 flags, u64 pgoff,
		   const char *path, u16 path_len)
{
	struct vregion_piece p;
	u64 pos = addr, end = addr + len;
	int r = 0;

	if (addr & (PG - 1))
		return -EINVAL;
	if (!len || end < addr || end > LEGO_USER_TOP)
		return -ENOMEM;
	while (vregion_piece_next(mm->va.shift, &pos, end, &p)) {
		bool was_active = vregion_find(&mm->va, p.index) != NULL;
		r = home_activate(mm, p.index, p.end - p.start);
		if (r)
			break;
		struct lego_mem_map_req m;
		struct lego_mem_own_reply rep;
		memset(&m, 0, sizeof(m));
		m.addr = p.start;
		m.len = p.end - p.start;
		m.prot = prot;
		m.flags = flags;
		m.pgoff = pgoff + (p.start - addr) / PG;
		m.path_len = path_len;
		r = home_own(mm, p.index, LEGO_MEM_OWN_MMAP, &m, path, &rep);
		if (r < 0) {
			if (!was_active)
				maybe_deactivate(mm, p.index);
			break;
		}
	}
	if (r < 0) {
		/* Undo the pieces mapped so far: with MAP_FIXED_NOREPLACE they
		 * were free before; with MAP_FIXED what they replaced is gone,
		 * as a failed MAP_FIXED mmap may leave it on Linux. */
		u64 q = addr, stop = p.start;
		struct vregion_piece d;
		while (vregion_piece_next(mm->va.shift, &q, stop, &d)) {
			struct lego_mem_map_req m;
			struct lego_mem_own_reply rep;
			memset(&m, 0, sizeof(m));
			m.addr = d.start;
			m.len = d.end - d.start;
			if (home_own(mm, d.index, LEGO_MEM_OWN_MUNMAP, &m, NULL, &rep) >= 0)
				maybe_deactivate(mm, d.index);
		}
		return r;
	}
	return (s64)addr;
}

/* mmap without MAP_FIXED: the two-level placement of §4.4.1. */
static s64 map_anywhere(struct home_mm *mm, const struct mem_map_msg *q, u64 len)
{
	const struct lego_mem_map_req *h = &q->h;
	u32 shift = mm->va.shift;
	u32 flags = h->flags & ~(LEGO_MAP_FIXED | LEGO_MAP_FIXED_NOREPLACE);
	s64 r;

	/* A hint first, as Linux does, if the range stays in one vRegion. */
	if (h->addr) {
		u64 hint = h->addr & ~(PG - 1);
		if (hint >= HOME_MMAP_MIN_ADDR && hint + len > hint && hint + len <= LEGO_USER_TOP &&
		    vregion_piece_count(shift, hint, hint + len) == 1) {
			r = home_map_fixed(mm, hint, len, h->prot, flags | LEGO_MAP_FIXED_NOREPLACE,
					   h->pgoff, q->path, h->path_len);
			if (r >= 0 || (r != -EEXIST && r != -ENOMEM && r != -EPERM && r != -EINVAL))
				return r;
		}
	}

	/* Longer than a vRegion: a run of wholly free vRegions, the mapping
	 * at its top, each piece mapped fixed. */
	if (len > (1ULL << shift)) {
		u32 n = (u32)((len + (1ULL << shift) - 1) >> shift), first;
		if (vregion_find_free_run(&mm->va, mm->mmap_base, n, &first))
			return -ENOMEM;
		u64 lo, hi;
		vregion_bounds(shift, first + n - 1, &lo, &hi);
		return home_map_fixed(mm, hi - len, len, h->prot, flags | LEGO_MAP_FIXED_NOREPLACE,
				      h->pgoff, q->path, h->path_len);
	}

	/* Top-down from the vRegion holding mmap_base - 1. */
	s64 cursor = (s64)((mm->mmap_base - 1) >> shift);
	u32 idx;
	int kind;
	while ((kind = vregion_next_candidate(&mm->va, &cursor, len, &idx)) >= 0) {
		if (kind == 0) {
			int e = home_activate(mm, idx, len);
			if (e)
				return e;
		}
		struct lego_mem_map_req m;
		struct lego_mem_own_reply rep;
		memset(&m, 0, sizeof(m));
		m.len = len;
		m.prot = h->prot;
		m.flags = flags;
		m.pgoff = h->pgoff;
		m.path_len = h->path_len;
		r = home_own(mm, idx, LEGO_MEM_OWN_MMAP, &m, q->path, &rep);
		if (r >= 0)
			return rep.value;
		if (kind == 0)
			maybe_deactivate(mm, idx);
		if (r != -ENOMEM)
			return r;
	}
	return -ENOMEM;
}

static s64 do_mmap(struct home_mm *mm, const struct mem_map_msg *q)
{
	const struct lego_mem_map_req *h = &q->h;
	u64 len = (h->len + PG - 1) & ~(PG - 1);

	if (!h->len)
		return -EINVAL;
	if (len < h->len || len > LEGO_USER_TOP)
		return -ENOMEM;
	if (h->flags & (LEGO_MAP_FIXED | LEGO_MAP_FIXED_NOREPLACE)) {
		/* Owners see vRegion 0 from address 0; Linux refuses fixed
		 * mappings below vm.mmap_min_addr. */
		if (!(h->addr & (PG - 1)) && h->addr < HOME_MMAP_MIN_ADDR)
			return -EPERM;
		return home_map_fixed(mm, h->addr, len, h->prot, h->flags, h->pgoff, q->path,
				      h->path_len);
	}
	return map_anywhere(mm, q, len);
}

static int do_munmap(struct home_mm *mm, u64 addr, u64 len)
{
	u64 end = addr + ((len + PG - 1) & ~(PG - 1));
	struct vregion_piece p;
	int ret = 0;

	if ((addr & (PG - 1)) || !len || end < addr || end > LEGO_USER_TOP)
		return -EINVAL;
	while (vregion_piece_next(mm->va.shift, &addr, end, &p)) {
		if (!vregion_find(&mm->va, p.index))
			continue;	/* nothing mapped there */
		struct lego_mem_map_req m;
		struct lego_mem_own_reply rep;
		memset(&m, 0, sizeof(m));
		m.addr = p.start;
		m.len = p.end - p.start;
		int r = home_own(mm, p.index, LEGO_MEM_OWN_MUNMAP, &m, NULL, &rep);
		if (r < 0) {
			ret = r;
			break;
		}
		maybe_deactivate(mm, p.index);
	}
	return ret;
}

static int do_mprotect(struct home_mm *mm, u64 addr, u64 len, u32 prot)
{
	if (addr & (PG - 1))
		return -EINVAL;
	if (!len)
		return 0;
	u64 end = addr + ((len + PG - 1) & ~(PG - 1));
	if (end <= addr || end > LEGO_USER_TOP)
		return -ENOMEM;
	struct vregion_piece p;
	while (vregion_piece_next(mm->va.shift, &addr, end, &p)) {
		/* A hole (a vRegion nobody owns) ends the call with -ENOMEM
		 * after the part before it changed, as on Linux. */
		if (!vregion_find(&mm->va, p.index))
			return -ENOMEM;
		struct lego_mem_map_req m;
		struct lego_mem_own_reply rep;
		memset(&m, 0, sizeof(m));
		m.addr = p.start;
		m.len = p.end - p.start;
		m.prot = prot;
		int r = home_own(mm, p.index, LEGO_MEM_OWN_MPROTECT, &m, NULL, &rep);
		if (r < 0)
			return r;
	}
	return 0;
}

/* MAPS' rule for records that Linux would show as one vma (below). */
static bool rec_mergeable(const struct lego_mem_vma_rec *a, const char *ap,
			  const struct lego_mem_vma_rec *b, const char *bp);

/*
 * mremap across vRegions. The owners know vmas inside their vRegion only,
 * so the home finds the user's mapping (the vmas at consecutive vRegion
 * bounds that MAPS would merge: same prot, flags, file and contiguous
 * offsets), grows it in place with a MAP_FIXED_NOREPLACE mapping of the
 * same kind after it (the owners merge it with the vma it touches), or
 * moves it: the same kind of mapping at the destination, the pages pushed
 * from each source owner to each destination owner (OWN_MOVE, one per
 * piece that stays in one vRegion at both ends), then the source unmapped.
 */
struct remap_src {			/* one request's scratch (the mm's mutex held) */
	struct lego_mem_vma_rec r;	/* the mapping: start, end, pgoff at start, ... */
	char path[LEGO_ST_PATH_MAX];
	char tmp[LEGO_ST_PATH_MAX];	/* the next vma's path while merging */
};

/* The vma holding addr at its owner (OWN_MAPS from addr): 0, -EFAULT when
 * nothing maps addr, or the call's error. buf holds LEGO_RPC_MAX_MSG. */
static int home_vma_at(struct home_mm *mm, u64 addr, u8 *buf, struct lego_mem_vma_rec *rec,
		       char *path)
{
	struct vregion *v = vregion_find(&mm->va, (u32)(addr >> mm->va.shift));
	if (!v)
		return -EFAULT;
	struct lego_mem_own_req q;
	memset(&q, 0, sizeof(q));
	q.c = mm->c;
	q.op = LEGO_MEM_OWN_MAPS;
	q.index = v->index;
	q.vregion_shift = mm->va.shift;
	q.m.mm = mm->id;
	q.m.addr = addr;
	u32 got = 0;
	CNT_INC(own_calls);
	int r = owner_call(v, LEGO_OP_MEM_OWN, &q, sizeof(q), buf, LEGO_RPC_MAX_MSG, &got);
	if (r < 0) {
		CNT_INC(own_errors);
		return r;
	}
	const u32 base = sizeof(struct lego_mem_own_reply) + sizeof(struct lego_mem_maps_reply);
	struct lego_mem_maps_reply mr;
	if (got < base)
		return -EPROTO;
	memcpy(&mr, buf + sizeof(struct lego_mem_own_reply), sizeof(mr));
	if (!mr.count)
		return -EFAULT;
	if (got - base < sizeof(*rec))
		return -EPROTO;
	memcpy(rec, buf + base, sizeof(*rec));
	if (rec->path_len >= LEGO_ST_PATH_MAX || got - base < LEGO_MEM_VMA_REC_SIZE(rec->path_len))
		return -EPROTO;
	memcpy(path, buf + base + sizeof(*rec), rec->path_len);
	path[rec->path_len] = '\0';
	return rec->start <= addr && addr < rec->end ? 0 : -EFAULT;
}

/* The mapping holding addr, followed across vRegion bounds while it ends
 * before need_end. */
static int remap_find_src(struct home_mm *mm, u64 addr, u64 need_end, u8 *buf,
			  struct remap_src *x)
{
	u64 mask = (1ULL << mm->va.shift) - 1;
	int r = home_vma_at(mm, addr, buf, &x->r, x->path);

	while (!r && x->r.end < need_end && !(x->r.end & mask)) {
		struct lego_mem_vma_rec n;
		int e = home_vma_at(mm, x->r.end, buf, &n, x->tmp);
		if (e == -EFAULT)
			break;
		if (e)
			return e;
		if (!rec_mergeable(&x->r, x->path, &n, x->tmp))
			break;
		x->r.end = n.end;
	}
	return r;
}

/* OWN_MOVE of one piece: the source owner pushes its pages to the
 * destination's owner. */
static int remap_move_piece(struct home_mm *mm, const struct mem_move_piece *p)
{
	const struct vregion *d = vregion_find(&mm->va, p->dst_index);
	if (!vregion_find(&mm->va, p->src_index))
		return 0;	/* nothing there, nothing to move */
	if (!d)
		return -ENXIO;
	struct lego_mem_own_move mv = {
		.dst_ipv4 = d->owner_ip, .dst_port = d->owner_port ? d->owner_port : LEGO_RPC_PORT,
		.dst_node = d->owner_node,
	};
	struct lego_mem_map_req m;
	struct lego_mem_own_reply rep;
	memset(&m, 0, sizeof(m));
	m.addr = p->src;
	m.len = p->len;
	m.new_addr = p->dst;
	int r = own_send(mm, p->src_index, LEGO_MEM_OWN_MOVE, &m, &mv, sizeof(mv), &rep);
	return r < 0 ? r : 0;
}

/* The pages of [from, from + len) to [to, ...), piece by piece. On a
 * failure the pieces moved already go back (best effort: the source is
 * still mapped), so the caller only has to unmap the destination. */
static int remap_move_pages(struct home_mm *mm, u64 from, u64 to, u64 len)
{
	struct mem_move_piece p;
	u64 pos = from;
	int r = 0;

	while (mem_move_piece_next(mm->va.shift, from, to, &pos, from + len, &p)) {
		r = remap_move_piece(mm, &p);
		if (r < 0)
			break;
	}
	if (r < 0) {
		u64 q = from;
		struct mem_move_piece b;
		while (mem_move_piece_next(mm->va.shift, from, to, &q, p.src, &b)) {
			struct mem_move_piece back = {
				.src = b.dst, .dst = b.src, .len = b.len,
				.src_index = b.dst_index, .dst_index = b.src_index,
			};
			if (remap_move_piece(mm, &back) < 0)
				pr_warn("memory: mm %#llx: pages of %#llx lost in a failed mremap\n",
					(unsigned long long)mm->id, (unsigned long long)b.src);
		}
	}
	return r;
}

/* mmap flags that make a mapping of the kind MAPS calls r. */
static u32 remap_map_flags(const struct lego_mem_vma_rec *r)
{
	return (r->flags & LEGO_MEM_VMA_SHARED ? LEGO_MAP_SHARED : LEGO_MAP_PRIVATE) |
	       (r->flags & LEGO_MEM_VMA_FILE ? 0 : LEGO_MAP_ANONYMOUS) |
	       (r->flags & LEGO_MEM_VMA_GROWSDOWN ? LEGO_MAP_GROWSDOWN : 0) |
	       (r->flags & LEGO_MEM_VMA_NORESERVE ? LEGO_MAP_NORESERVE : 0) |
	       (r->flags & LEGO_MEM_VMA_LOCKED ? LEGO_MAP_LOCKED : 0) |
	       (r->flags & LEGO_MEM_VMA_NOHUGEPAGE ? LEGO_MAP_STACK : 0);
}

static s64 remap_across(struct home_mm *mm, const struct lego_mem_map_req *h, u64 old_len,
			u64 new_len)
{
	const u32 f = h->flags;
	const bool implies_new = f & (LEGO_MREMAP_FIXED | LEGO_MREMAP_DONTUNMAP);
	const u64 addr = h->addr, eff = implies_new ? MIN(old_len, new_len) : old_len;
	struct remap_src *x = kmalloc(sizeof(*x));
	u8 *buf = kmalloc(LEGO_RPC_MAX_MSG);
	s64 ret = -ENOMEM;

	if (!x || !buf)
		goto out;
	ret = remap_find_src(mm, addr, addr + eff, buf, x);
	if (ret)
		goto out;
	const struct lego_mem_vma_rec *u = &x->r;
	/* Linux: the old range must lie in one vma. */
	ret = -EFAULT;
	if (u->end < addr + eff)
		goto out;
	ret = -EINVAL;
	if (!old_len && !(u->flags & LEGO_MEM_VMA_SHARED))
		goto out;
	const bool keyed = u->flags & (LEGO_MEM_VMA_FILE | LEGO_MEM_VMA_SHARED);
	const u64 pgoff = keyed ? u->pgoff + (addr - u->start) / PG : 0;
	if (keyed && pgoff + new_len / PG < pgoff)
		goto out;
	const u32 prot = u->prot, mf = remap_map_flags(u);
	const char *path = u->flags & LEGO_MEM_VMA_FILE ? x->path : NULL;
	const u16 plen = path ? u->path_len : 0;

	if (!implies_new) {
		if (new_len == old_len) {
			ret = (s64)addr;
			goto out;
		}
		/* Growing in place when the old range ends the mapping and the
		 * bytes after it are free, in whatever vRegions they lie. */
		if (addr + old_len == u->end) {
			ret = home_map_fixed(mm, u->end, new_len - old_len, prot,
					     mf | LEGO_MAP_FIXED_NOREPLACE, pgoff + old_len / PG, path,
					     plen);
			if (ret >= 0) {
				ret = (s64)addr;
				goto out;
			}
			if (ret != -EEXIST && ret != -ENOMEM)
				goto out;
		}
		ret = -ENOMEM;
		if (!(f & LEGO_MREMAP_MAYMOVE))
			goto out;
	}
	/* A move that shrinks drops the tail first, as Linux does. */
	if (old_len > new_len) {
		ret = do_munmap(mm, addr + new_len, old_len - new_len);
		if (ret < 0)
			goto out;
		old_len = new_len;
	}
	/* The destination: the same kind of mapping, empty; then the pages. */
	if (f & LEGO_MREMAP_FIXED) {
		ret = home_map_fixed(mm, h->new_addr, new_len, prot, mf | LEGO_MAP_FIXED, pgoff, path,
				     plen);
	} else {
		struct mem_map_msg q;
		memset(&q, 0, sizeof(q));
		q.h.mm = mm->id;
		q.h.addr = f & LEGO_MREMAP_DONTUNMAP ? h->new_addr : 0;	/* a hint */
		q.h.len = new_len;
		q.h.prot = prot;
		q.h.flags = mf;
		q.h.pgoff = pgoff;
		q.h.path_len = plen;
		q.path = path;
		ret = map_anywhere(mm, &q, new_len);
	}
	if (ret < 0)
		goto out;
	u64 dst = (u64)ret;
	ret = remap_move_pages(mm, addr, dst, old_len);
	if (ret < 0) {
		do_munmap(mm, dst, new_len);
		goto out;
	}
	/* MREMAP_DONTUNMAP keeps the source mapped, now without pages. */
	if (!(f & LEGO_MREMAP_DONTUNMAP) && old_len)
		do_munmap(mm, addr, old_len);
	ret = (s64)dst;
out:
	kfree(buf);
	kfree(x);
	return ret;
}

static s64 do_mremap(struct home_mm *mm, const struct lego_mem_map_req *h)
{
	const u32 shift = mm->va.shift, f = h->flags;
	u64 old_len, new_len;
	int e = mem_mremap_args(h, &old_len, &new_len);

	if (e)
		return e;
	/* Shrinking in place: unmap the tail, wherever it lies. */
	if (!(f & (LEGO_MREMAP_FIXED | LEGO_MREMAP_DONTUNMAP)) && new_len < old_len) {
		int r = do_munmap(mm, h->addr + new_len, old_len - new_len);
		return r < 0 ? r : (s64)h->addr;
	}
	/* Linux refuses destinations below vm.mmap_min_addr. */
	if ((f & LEGO_MREMAP_FIXED) && h->new_addr < HOME_MMAP_MIN_ADDR)
		return -EPERM;
	/*
	 * Everything inside one vRegion goes to its owner, which applies
	 * vma_mremap there (in place, or a move inside the vRegion). Not
	 * when a growth in place would pass the vRegion's end (Linux grows in
	 * place if the bytes after the mapping are free, whichever vRegion
	 * holds them), nor a destination (or a DONTUNMAP hint) elsewhere. When
	 * the owner finds no room, a MAYMOVE request moves to another vRegion.
	 */
	u32 idx = (u32)(h->addr >> shift);
	u64 lo, hi;
	vregion_bounds(shift, idx, &lo, &hi);
	bool here = vregion_piece_count(shift, h->addr, h->addr + (old_len ? old_len : PG)) == 1;
	if (f & (LEGO_MREMAP_FIXED | LEGO_MREMAP_DONTUNMAP)) {
		if ((h->new_addr || (f & LEGO_MREMAP_FIXED)) &&
		    (h->new_addr < lo || h->new_addr + new_len > hi))
			here = false;
	} else if (h->addr + new_len > hi) {
		here = false;
	}
	if (here) {
		if (!vregion_find(&mm->va, idx))
			return -EFAULT;
		struct lego_mem_map_req m = *h;
		struct lego_mem_own_reply rep;
		m.path_len = 0;
		int r = home_own(mm, idx, LEGO_MEM_OWN_MREMAP, &m, NULL, &rep);
		if (r >= 0)
			return rep.value;
		if (r != -ENOMEM || !(f & LEGO_MREMAP_MAYMOVE) || (f & LEGO_MREMAP_FIXED))
			return r;
	}
	return remap_across(mm, h, old_len, new_len);
}

/* Move the heap's break from old to want at the owners of the vRegions
 * whose part changes: each part [max(start_brk, lo), ...) of a vRegion
 * [lo, hi) is a heap of its own at its owner (OWN_BRK, addr = the part's
 * start_brk, new_len = the part's break). Grows bottom-up, shrinks
 * top-down; stops at the first refusal. */
static int brk_apply(struct home_mm *mm, u64 old, u64 want)
{
	u32 shift = mm->va.shift;
	u64 old_top = (old + PG - 1) & ~(PG - 1), new_top = (want + PG - 1) & ~(PG - 1);
	u64 lo_a = MIN(old_top, new_top), hi_a = MAX(old_top, new_top);
	bool grow = want > old;

	if (lo_a >= hi_a)
		return 0;
	u32 first = (u32)(lo_a >> shift), last = (u32)((hi_a - 1) >> shift);
	for (u32 k = 0; k <= last - first; k++) {
		u32 idx = grow ? first + k : last - k;
		u64 lo, hi;
		vregion_bounds(shift, idx, &lo, &hi);
		u64 part_start = MAX(mm->start_brk, lo);
		u64 part_want = want < part_start ? part_start : want > hi ? hi : want;
		if (!vregion_find(&mm->va, idx)) {
			if (!grow)
				continue;
			int e = home_activate(mm, idx, part_want - part_start);
			if (e)
				return e;
		}
		struct lego_mem_map_req m;
		struct lego_mem_own_reply rep;
		memset(&m, 0, sizeof(m));
		m.addr = part_start;
		m.new_len = part_want;
		int r = home_own(mm, idx, LEGO_MEM_OWN_BRK, &m, NULL, &rep);
		if (r >= 0 && (u64)rep.value != part_want)
			r = -ENOMEM;
		if (r < 0 || !grow)
			maybe_deactivate(mm, idx);	/* e.g. just activated, still empty */
		if (r < 0)
			return r;
	}
	return 0;
}

/* brk(2) at the home: the break now (unchanged on failure, like Linux). */
static u64 do_brk(struct home_mm *mm, u64 want)
{
	if (!want || !mm->start_brk || want < mm->start_brk || want > mm->mmap_base)
		return mm->brk;
	u64 old = mm->brk;
	if (((old + PG - 1) & ~(PG - 1)) != ((want + PG - 1) & ~(PG - 1))) {
		if (brk_apply(mm, old, want) < 0) {
			/* Put back the parts that moved (best effort). */
			if (want > old)
				brk_apply(mm, want, old);
			return mm->brk;
		}
	}
	mm->brk = want;
	return want;
}

/* ------------------------------------------------------------------ */
/* Replies                                                             */

u32 home_layout_size(const struct home_mm *mm)
{
	return (u32)(sizeof(struct lego_mem_layout_reply) +
		     mm->va.count * sizeof(struct lego_mem_vregion));
}

void home_layout_fill(const struct home_mm *mm, struct lego_mem_layout_reply *l, u64 value)
{
	l->value = value;
	l->vregion_shift = mm->va.shift;
	l->generation = mm->va.generation;
	l->reserved = 0;
	l->count = vregion_encode(&mm->va, l->v, mm->va.count);
}

static int reply_layout(struct rpc_req *r, const struct home_mm *mm, u64 value)
{
	struct lego_mem_layout_reply *l = rpc_reply_alloc(r, home_layout_size(mm));
	if (!l)
		return -ENOMEM;
	home_layout_fill(mm, l, value);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Handlers                                                            */

static int op_create(struct rpc_req *r)
{
	struct lego_mem_create_req c;
	int err = mem_decode_create(r->data, r->len, &c);
	if (err)
		return err;
	struct home_mm *mm = home_get(c.mm, true, true, &c, NULL, &err);
	if (!mm)
		return err;
	home_put(mm);
	return 0;
}

static int op_map(struct rpc_req *r)
{
	struct mem_map_msg q;
	int err = mem_decode_map(r->opcode, r->data, r->len, &q);
	if (err)
		return err;
	struct home_mm *mm = home_get(q.h.mm, false, false, NULL, NULL, &err);
	if (!mm)
		return err;
	s64 v = 0;
	switch (r->opcode) {
	case LEGO_OP_MEM_MMAP:
		v = do_mmap(mm, &q);
		break;
	case LEGO_OP_MEM_MUNMAP:
		v = do_munmap(mm, q.h.addr, q.h.len);
		break;
	case LEGO_OP_MEM_MPROTECT:
		v = do_mprotect(mm, q.h.addr, q.h.len, q.h.prot);
		break;
	case LEGO_OP_MEM_MREMAP:
		v = do_mremap(mm, &q.h);
		break;
	case LEGO_OP_MEM_BRK:
		v = (s64)do_brk(mm, q.h.addr);
		break;
	case LEGO_OP_MEM_VREGIONS:
		v = 0;
		break;
	case LEGO_OP_MEM_EXIT:
		home_drop_all(mm);
		home_kill(mm);
		break;
	default:
		v = -ENOSYS;
	}
	if (v >= 0 && (r->opcode == LEGO_OP_MEM_MMAP || r->opcode == LEGO_OP_MEM_MREMAP ||
		       r->opcode == LEGO_OP_MEM_BRK || r->opcode == LEGO_OP_MEM_VREGIONS))
		v = reply_layout(r, mm, (u64)v);
	home_put(mm);
	return v < 0 ? (int)v : 0;
}

static int op_fork(struct rpc_req *r)
{
	struct lego_mem_fork_req f;
	int err = mem_decode_fork(r->data, r->len, &f);
	if (err)
		return err;
	struct home_mm *p = home_get(f.parent, false, false, NULL, NULL, &err);
	if (!p)
		return err;
	struct home_mm *c = home_get(f.child, true, true, &p->c, NULL, &err);
	if (!c) {
		home_put(p);
		return err;
	}
	struct vregion *st = kmalloc(MAX(p->va.count, 4u) * sizeof(*st));
	if (!st) {
		err = -ENOMEM;
		goto fail;
	}
	kfree(c->va.v);
	vregion_array_init(&c->va, p->va.shift, st, MAX(p->va.count, 4u));
	c->start_brk = p->start_brk;
	c->brk = p->brk;
	c->mmap_base = p->mmap_base;
	c->stack_top = p->stack_top;
	for (u32 i = 0; i < p->va.count; i++) {
		struct lego_mem_map_req m;
		struct lego_mem_own_reply rep;
		memset(&m, 0, sizeof(m));
		m.new_addr = f.child;
		err = home_own(p, p->va.v[i].index, LEGO_MEM_OWN_FORK, &m, NULL, &rep);
		if (err < 0)
			goto fail;
		vregion_insert(&c->va, &p->va.v[i]);	/* room: cap >= parent's count */
	}
	c->va.generation = p->va.generation;
	home_put(c);
	home_put(p);
	return 0;
fail:
	home_drop_all(c);	/* frees the child's parts copied so far */
	home_kill(c);
	home_put(c);
	home_put(p);
	return err;
}

/* MAPS: the vmas of every owner, from q.addr on, merged across vRegion
 * bounds where Linux would show one vma (same prot, flags, file and
 * contiguous offsets). */
#define MAPS_REPLY_MAX (64u * 1024)

static bool rec_mergeable(const struct lego_mem_vma_rec *a, const char *ap,
			  const struct lego_mem_vma_rec *b, const char *bp)
{
	if (a->end != b->start || a->prot != b->prot || a->flags != b->flags ||
	    a->path_len != b->path_len)
		return false;
	if (!(a->flags & (LEGO_MEM_VMA_FILE | LEGO_MEM_VMA_SHARED)))
		return true;
	return b->pgoff == a->pgoff + (a->end - a->start) / PG &&
	       !memcmp(ap, bp, a->path_len);
}

static int do_maps(struct home_mm *mm, u64 from, u8 *out, u32 *out_len, u8 *buf)
{
	struct lego_mem_maps_reply *hdr = (void *)out;
	u32 pos = sizeof(*hdr), last = 0;	/* offset of the last record (0: none) */
	u32 shift = mm->va.shift;

	hdr->count = 0;
	hdr->more = 0;
	for (u32 i = 0; i < mm->va.count; i++) {
		struct vregion *v = &mm->va.v[i];
		u64 lo, hi;
		vregion_bounds(shift, v->index, &lo, &hi);
		if (hi <= from)
			continue;
		u64 a = from > lo ? from : 0;
		for (;;) {
			struct lego_mem_own_req q;
			memset(&q, 0, sizeof(q));
			q.c = mm->c;
			q.op = LEGO_MEM_OWN_MAPS;
			q.index = v->index;
			q.vregion_shift = shift;
			q.m.mm = mm->id;
			q.m.addr = a;
			u32 got = 0;
			CNT_INC(own_calls);
			int r = owner_call(v, LEGO_OP_MEM_OWN, &q, sizeof(q), buf, LEGO_RPC_MAX_MSG, &got);
			if (r < 0) {
				CNT_INC(own_errors);
				/* An owner that does not know the op yet. */
				return r == -EINVAL || r == -ENOSYS ? -ENOSYS : r;
			}
			u32 base = sizeof(struct lego_mem_own_reply) + sizeof(struct lego_mem_maps_reply);
			if (got < base)
				return -EPROTO;
			struct lego_mem_maps_reply mr;
			memcpy(&mr, buf + sizeof(struct lego_mem_own_reply), sizeof(mr));
			u32 off = base;
			for (u32 k = 0; k < mr.count; k++) {
				struct lego_mem_vma_rec rec;
				if (got - off < sizeof(rec))
					return -EPROTO;
				memcpy(&rec, buf + off, sizeof(rec));
				u32 size = LEGO_MEM_VMA_REC_SIZE(rec.path_len);
				if (got - off < size || rec.end <= rec.start)
					return -EPROTO;
				const char *path = (const char *)buf + off + sizeof(rec);
				off += size;
				rec.owner_node = v->owner_node;
				if (last) {
					struct lego_mem_vma_rec *lr = (void *)(out + last);
					if (rec_mergeable(lr, (const char *)(lr + 1), &rec, path)) {
						lr->end = rec.end;
						a = rec.end;
						continue;
					}
				}
				if (pos + size > MAPS_REPLY_MAX) {
					hdr->more = 1;
					*out_len = pos;
					return 0;
				}
				memcpy(out + pos, &rec, sizeof(rec));
				memset(out + pos + sizeof(rec), 0, size - sizeof(rec));
				memcpy(out + pos + sizeof(rec), path, rec.path_len);
				last = pos;
				pos += size;
				hdr->count++;
				a = rec.end;
			}
			if (!mr.more || !mr.count)
				break;
		}
	}
	*out_len = pos;
	return 0;
}

static int op_maps(struct rpc_req *r)
{
	struct mem_map_msg q;
	int err = mem_decode_map(r->opcode, r->data, r->len, &q);
	if (err)
		return err;
	u8 *out = kmalloc(MAPS_REPLY_MAX), *buf = kmalloc(LEGO_RPC_MAX_MSG);
	struct home_mm *mm = NULL;
	u32 n = 0;
	err = -ENOMEM;
	if (!out || !buf)
		goto done;
	mm = home_get(q.h.mm, false, false, NULL, NULL, &err);
	if (!mm)
		goto done;
	err = do_maps(mm, q.h.addr, out, &n, buf);
	home_put(mm);
	if (!err) {
		u8 *rep = rpc_reply_alloc(r, n);
		if (!rep)
			err = -ENOMEM;
		else
			memcpy(rep, out, n);
	}
done:
	kfree(buf);
	kfree(out);
	return err;
}

/* The owner role's counters (owner.c); weak until owner.o is linked. */
void owner_stats(struct lego_mem_stats *s) __weak;

static int op_stats(struct rpc_req *r)
{
	if (r->len)
		return -EINVAL;
	struct lego_mem_stats *s = rpc_reply_alloc(r, sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s, 0, sizeof(*s));
	if (owner_stats)
		owner_stats(s);
	bc_stats(s);
	s->mms_home = __atomic_load_n(&home_counters.mms, __ATOMIC_RELAXED);
	s->mem_free_bytes = page_alloc_free_bytes();
	return 0;
}

void home_init(void)
{
	static const struct {
		u16 op;
		rpc_handler_t h;
	} ops[] = {
		{ LEGO_OP_MEM_CREATE, op_create },	{ LEGO_OP_MEM_EXEC, loader_exec },
		{ LEGO_OP_MEM_MMAP, op_map },		{ LEGO_OP_MEM_MUNMAP, op_map },
		{ LEGO_OP_MEM_MPROTECT, op_map },	{ LEGO_OP_MEM_MREMAP, op_map },
		{ LEGO_OP_MEM_BRK, op_map },		{ LEGO_OP_MEM_FORK, op_fork },
		{ LEGO_OP_MEM_EXIT, op_map },		{ LEGO_OP_MEM_VREGIONS, op_map },
		{ LEGO_OP_MEM_MAPS, op_maps },		{ LEGO_OP_MEM_STATS, op_stats },
	};
	for (unsigned i = 0; i < ARRAY_SIZE(ops); i++) {
		int r = rpc_register(ops[i].op, ops[i].h, "memory-home");
		if (r)
			pr_err("memory: cannot register opcode %#x (%d)\n", ops[i].op, r);
	}
	printk(KERN_INFO "memory: home service up (vRegions of %llu MiB, at most %u address spaces)\n",
	       (unsigned long long)(1ULL << (CONFIG_VREGION_SHIFT - 20)), (unsigned)CONFIG_MEM_HOME_MAX_MMS);
}
