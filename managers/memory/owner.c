/*
 * The vRegion owner role of the memory monitor (paper §4.4.1, §5.4).
 *
 * For every (address space, vRegion) this node owns there is a part
 * (struct own_space): a vma tree over the vRegion's range (include/lego/
 * vma.h, Linux semantics), changed (and listed, OWN_MAPS) by the home's
 * LEGO_OP_MEM_OWN requests.
 * Per address space there is one record (struct own_mm) that holds its
 * parts, the vNode and storage endpoint file-backed pages are read from,
 * and the page store: a hash table (mm id, page address) -> physical page
 * (include/lego/pgmap.h). A page gets memory on its first write
 * (PAGE_FLUSH) only; a FETCH of a page never written replies with no bytes
 * ("zeros") for anonymous memory, or with the file's bytes, read from the
 * storage node on every such fetch, for file-backed memory (nothing is
 * cached until the processor writes the page back).
 *
 * Locking.
 *  - own_lock (spinlock) protects the two lookup tables (mm id -> own_mm;
 *    (mm id, index) -> own_space), own_mm.hnext/refs and own_space.hnext.
 *    It is held only for table operations, never while sleeping.
 *  - own_mm.lock (mutex) protects everything else of the record: its
 *    parts (their vma trees and heap/stack fields), the page table and the
 *    pages' contents, dead, and membership of its parts in the table (a
 *    part is inserted and removed with both held). Every request holds it
 *    from start to end, except that a FETCH of a file page drops it around
 *    the storage read (the file is pinned by a reference meanwhile).
 *  - file_lock (spinlock) protects the interned file table and refcounts.
 * Order: own_mm.lock before own_lock or file_lock; two records' mutexes
 * (FORK) in increasing mm id order.
 *
 * Lifetime: a record is created by the first OWN that maps something
 * (MMAP, STACK, BRK) or by FORK for the child; it dies (dead set, removed
 * from the table, under its mutex) when its last part is freed. Users pin
 * it with refs (under own_lock) and free it when the last reference goes.
 */
#include "owner.h"
#include "bc_service.h"
#include <lego/rpc.h>
#include <lego/net.h>
#include <lego/mm.h>
#include <lego/mutex.h>
#include <lego/spinlock.h>
#include <lego/errno.h>
#include <lego/string.h>
#include <lego/printk.h>
#include <lego/compiler.h>
#include <lego/vma.h>
#include <lego/pgmap.h>
#include <lego/mem_proto.h>
#include <uapi/lego/storage.h>

#define PG ((u64)LEGO_PAGE_SIZE)
#ifndef EOVERFLOW
#define EOVERFLOW 75	/* Linux's value; not (yet) in lego/errno.h */
#endif
#define OWN_HASH_BITS 10
#define OWN_HASH_SIZE (1u << OWN_HASH_BITS)
#define FILE_HASH_SIZE 256u
#define OWN_STACK_LIMIT (8ULL << 20)	/* Linux's default RLIMIT_STACK */

/* An interned file: (vNode, storage endpoint, path). vma->file holds its
 * address. Referenced by every vma naming it (vma_ops get/put) and by
 * page fetches reading it. Locking: file_lock for hnext and refs; the
 * rest is constant. */
struct own_file {
	struct own_file *hnext;
	u32 refs;
	u32 vnode;
	struct rpc_endpoint st;
	u32 hash;
	u16 len;
	char path[];		/* len bytes and a NUL */
};

struct own_space;

struct own_mm {
	struct own_mm *hnext;		/* own_lock */
	u32 refs;			/* own_lock */
	u64 id;				/* constant */

	struct mutex lock;		/* protects everything below */
	bool dead;
	u32 shift;			/* vRegion size of this address space */
	u32 vnode;
	struct rpc_endpoint st;		/* the vNode's storage node */
	struct rpc_endpoint cache;	/* the mComponent caching its files */
	u32 nr_spaces;
	struct own_space *spaces;	/* list through own_space.next */
	struct pgmap pages;		/* (id, addr) -> page (direct-map address) */
};

struct own_space {
	struct own_space *hnext;	/* own_lock (and mm->lock to change) */
	struct own_space *next;		/* mm->lock */
	struct own_mm *mm;		/* constant */
	u32 index;			/* constant */
	u64 lo, hi;			/* constant: the vRegion */
	struct vma_space vs;		/* mm->lock */
};

static DEFINE_SPINLOCK(own_lock);
static struct own_mm *mm_table[OWN_HASH_SIZE];		/* own_lock */
static struct own_space *space_table[OWN_HASH_SIZE];	/* own_lock */

static DEFINE_SPINLOCK(file_lock);
static struct own_file *file_table[FILE_HASH_SIZE];	/* file_lock */

/* Counters for STATS (atomic). */
static struct {
	u64 mms, vregions, vmas, pages;
	u64 fetches, flushes, zero_fetches, file_reads;
} cnt;

#define CNT_ADD(f, n) __atomic_add_fetch(&cnt.f, (u64)(n), __ATOMIC_RELAXED)
#define CNT_GET(f) __atomic_load_n(&cnt.f, __ATOMIC_RELAXED)

static u32 hash64(u64 x)
{
	return (u32)((x * 0x9e3779b97f4a7c15ULL) >> 40);
}

static u32 mm_bucket(u64 id)
{
	return hash64(id) & (OWN_HASH_SIZE - 1);
}

static u32 space_bucket(u64 id, u32 index)
{
	return hash64(id ^ ((u64)index << 1 | 1) * 0xff51afd7ed558ccdULL) & (OWN_HASH_SIZE - 1);
}

static u64 page_align(u64 x)
{
	return (x + PG - 1) & ~(PG - 1);
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

static u32 file_hash(u32 vnode, const struct rpc_endpoint *st, const char *p, u16 n)
{
	u32 h = 2166136261u ^ vnode ^ st->ip ^ ((u32)st->port << 16);
	for (u16 i = 0; i < n; i++)
		h = (h ^ (u8)p[i]) * 16777619u;
	return h;
}

/* The interned file, with a reference for the caller; NULL: no memory. */
static struct own_file *file_intern(u32 vnode, const struct rpc_endpoint *st, const char *p,
				    u16 n)
{
	u32 h = file_hash(vnode, st, p, n);
	struct own_file *f, *fresh = NULL;

	for (;;) {
		spin_lock(&file_lock);
		for (f = file_table[h % FILE_HASH_SIZE]; f; f = f->hnext)
			if (f->hash == h && f->vnode == vnode && f->st.ip == st->ip &&
			    f->st.port == st->port && f->len == n && !memcmp(f->path, p, n))
				break;
		if (!f && fresh) {
			f = fresh;
			fresh = NULL;
			f->hnext = file_table[h % FILE_HASH_SIZE];
			file_table[h % FILE_HASH_SIZE] = f;
		}
		if (f)
			f->refs++;
		spin_unlock(&file_lock);
		if (f) {
			kfree(fresh);	/* lost a race: someone interned it */
			return f;
		}
		fresh = kmalloc(sizeof(*fresh) + n + 1);
		if (!fresh)
			return NULL;
		fresh->refs = 0;
		fresh->vnode = vnode;
		fresh->st = *st;
		fresh->hash = h;
		fresh->len = n;
		memcpy(fresh->path, p, n);
		fresh->path[n] = '\0';
	}
}

static void file_get(struct own_file *f)
{
	spin_lock(&file_lock);
	f->refs++;
	spin_unlock(&file_lock);
}

static void file_put(struct own_file *f)
{
	bool last = false;

	spin_lock(&file_lock);
	if (--f->refs == 0) {
		struct own_file **pp = &file_table[f->hash % FILE_HASH_SIZE];
		while (*pp != f)
			pp = &(*pp)->hnext;
		*pp = f->hnext;
		last = true;
	}
	spin_unlock(&file_lock);
	if (last)
		kfree(f);
}

/* Read the 4 KiB at off of f into buf (zeros past the end of the file),
 * through the buffer cache of the vNode's files (§4.5). */
static int file_read(struct own_file *f, const struct rpc_endpoint *cache, u64 off, void *buf)
{
	u32 got = 0;
	int r = bc_file_call(cache, &f->st, f->vnode, LEGO_OP_ST_READ, f->path, off, PG, buf,
			     (u32)PG, &got);
	CNT_ADD(file_reads, 1);
	if (r < 0)
		return r;
	if (got > PG)
		got = (u32)PG;
	memset((u8 *)buf + got, 0, PG - got);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Pages and vma callbacks                                             */

static void page_drop(void *ctx, u64 mm, u64 addr, void *page)
{
	free_page(page);
	CNT_ADD(pages, -1);
}

static void *pg_alloc(void *ctx, size_t size)
{
	return kmalloc(size);
}

static void pg_free(void *ctx, void *p, size_t size)
{
	kfree(p);
}

static const struct pgmap_ops pgmap_ops = { pg_alloc, pg_free, NULL };

static struct vma *v_alloc(void *ctx)
{
	return kmalloc(sizeof(struct vma));
}

static void v_free(void *ctx, struct vma *v)
{
	kfree(v);
}

static void v_get(void *ctx, const struct vma *v)
{
	if (v->kind == VMA_FILE)
		file_get((struct own_file *)(uintptr_t)v->file);
}

static void v_put(void *ctx, const struct vma *v)
{
	if (v->kind == VMA_FILE)
		file_put((struct own_file *)(uintptr_t)v->file);
}

static void v_unmap(void *ctx, const struct vma *v, u64 start, u64 end)
{
	struct own_space *sp = ctx;
	pgmap_remove_range(&sp->mm->pages, sp->mm->id, start, end, page_drop, NULL);
}

static void v_move(void *ctx, u64 from, u64 to, u64 len)
{
	struct own_space *sp = ctx;
	pgmap_move_range(&sp->mm->pages, sp->mm->id, from, to, len, page_drop, NULL);
}

/* ------------------------------------------------------------------ */
/* Records and parts                                                   */

static struct own_mm *mm_find_locked(u64 id)
{
	struct own_mm *m = mm_table[mm_bucket(id)];
	while (m && m->id != id)
		m = m->hnext;
	return m;
}

static struct own_mm *mm_alloc(u64 id, const struct lego_mem_create_req *c, u32 shift)
{
	struct own_mm *m = kzalloc(sizeof(*m));
	if (!m)
		return NULL;
	m->id = id;
	mutex_init(&m->lock);
	m->shift = shift;
	m->vnode = c->vnode;
	m->st.ip = c->storage_ipv4;
	m->st.port = c->storage_port ? c->storage_port : LEGO_RPC_PORT;
	m->cache.ip = c->bc_ipv4;
	/* A failure here is retried by the first insert. */
	pgmap_init(&m->pages, &pgmap_ops);
	return m;
}

static void mm_unref(struct own_mm *m)
{
	bool last;

	spin_lock(&own_lock);
	last = --m->refs == 0 && m->dead;
	spin_unlock(&own_lock);
	if (last)
		kfree(m);
}

/* Unlock and unpin. */
static void mm_put(struct own_mm *m)
{
	mutex_unlock(&m->lock);
	mm_unref(m);
}

/*
 * Find the record of id, pin and lock it. With c (not NULL), create it if
 * absent, with c's vNode and storage endpoint and vRegion shift. NULL with
 * *err = -ESRCH (absent, or died) or -ENOMEM.
 */
static struct own_mm *mm_get(u64 id, const struct lego_mem_create_req *c, u32 shift, int *err)
{
	struct own_mm *fresh = NULL;

	for (;;) {
		spin_lock(&own_lock);
		struct own_mm *m = mm_find_locked(id);
		if (!m && fresh) {
			m = fresh;
			fresh = NULL;
			m->hnext = mm_table[mm_bucket(id)];
			mm_table[mm_bucket(id)] = m;
			CNT_ADD(mms, 1);
		}
		if (m)
			m->refs++;
		spin_unlock(&own_lock);
		if (!m) {
			if (!c) {
				*err = -ESRCH;
				return NULL;
			}
			fresh = mm_alloc(id, c, shift);
			if (!fresh) {
				*err = -ENOMEM;
				return NULL;
			}
			continue;
		}
		if (fresh) {
			pgmap_destroy(&fresh->pages, NULL, NULL);
			kfree(fresh);
			fresh = NULL;
		}
		mutex_lock(&m->lock);
		if (!m->dead)
			return m;
		/* It died while we waited: it has left the table. */
		mm_put(m);
		if (!c) {
			*err = -ESRCH;
			return NULL;
		}
	}
}

/* The record has no parts left: it dies (mutex held; mm_put still due). */
static void mm_kill(struct own_mm *m)
{
	m->dead = true;
	spin_lock(&own_lock);
	struct own_mm **pp = &mm_table[mm_bucket(m->id)];
	while (*pp != m)
		pp = &(*pp)->hnext;
	*pp = m->hnext;
	spin_unlock(&own_lock);
	pgmap_destroy(&m->pages, page_drop, NULL);	/* empty by now */
	CNT_ADD(mms, -1);
}

/* The part of m for index, or NULL (m->lock held). */
static struct own_space *space_find(struct own_mm *m, u32 index)
{
	spin_lock(&own_lock);
	struct own_space *sp = space_table[space_bucket(m->id, index)];
	while (sp && (sp->mm != m || sp->index != index))
		sp = sp->hnext;
	spin_unlock(&own_lock);
	return sp;
}

static struct own_space *space_create(struct own_mm *m, u32 index, u64 lo, u64 hi,
				      u64 mmap_base)
{
	struct own_space *sp = kzalloc(sizeof(*sp));
	if (!sp)
		return NULL;
	sp->mm = m;
	sp->index = index;
	sp->lo = lo;
	sp->hi = hi;
	struct vma_space_params p = {
		.lo = lo, .hi = hi, .mmap_base = mmap_base,
		.stack_guard_gap = VMA_DEFAULT_STACK_GUARD_GAP,
		.thp_align = true,
	};
	struct vma_ops ops = {
		.alloc = v_alloc, .free = v_free, .get = v_get, .put = v_put,
		.unmap = v_unmap, .move = v_move, .ctx = sp,
	};
	if (vma_space_init(&sp->vs, &p, &ops)) {
		kfree(sp);
		return NULL;
	}
	sp->vs.stack_limit = OWN_STACK_LIMIT;
	sp->next = m->spaces;
	m->spaces = sp;
	m->nr_spaces++;
	spin_lock(&own_lock);
	u32 b = space_bucket(m->id, index);
	sp->hnext = space_table[b];
	space_table[b] = sp;
	spin_unlock(&own_lock);
	CNT_ADD(vregions, 1);
	return sp;
}

/* Unmap everything of the part (its pages freed), remove and free it.
 * Kills the record when it was its last part. m->lock held. */
static void space_destroy(struct own_space *sp)
{
	struct own_mm *m = sp->mm;

	CNT_ADD(vmas, -(s64)vma_count(&sp->vs));
	/* Pages first, in one pass over the range (pages only exist inside
	 * vmas), so that the unmap callbacks of the clear find none. */
	pgmap_remove_range(&m->pages, m->id, sp->lo, sp->hi, page_drop, NULL);
	vma_space_clear(&sp->vs);
	spin_lock(&own_lock);
	struct own_space **pp = &space_table[space_bucket(m->id, sp->index)];
	while (*pp != sp)
		pp = &(*pp)->hnext;
	*pp = sp->hnext;
	spin_unlock(&own_lock);
	struct own_space **lp = &m->spaces;
	while (*lp != sp)
		lp = &(*lp)->next;
	*lp = sp->next;
	m->nr_spaces--;
	kfree(sp);
	CNT_ADD(vregions, -1);
	if (!m->nr_spaces)
		mm_kill(m);
}

/* free_bytes, max_gap and nr_vmas of a part (NULL: an empty vRegion). */
static void space_summary(const struct own_space *sp, u64 lo, u64 hi,
			  struct lego_mem_own_reply *rep)
{
	u64 prev = lo, free = 0, gap = 0;

	if (sp) {
		const struct vma *v;
		vma_for_each(v, &sp->vs) {
			u64 g = v->start - prev;
			free += g;
			gap = MAX(gap, g);
			prev = v->end;
		}
		rep->nr_vmas = vma_count(&sp->vs);
	} else {
		rep->nr_vmas = 0;
	}
	free += hi - prev;
	gap = MAX(gap, hi - prev);
	rep->free_bytes = free;
	rep->max_gap = gap;
	rep->reserved = 0;
}

/* ------------------------------------------------------------------ */
/* OWN                                                                 */

/* OWN_MOVE to another node: the pages of the source range go to the
 * destination owner at their new addresses, LEGO_MEM_FLUSH_MANY_MAX to a
 * PAGE_FLUSH_MANY. On the stack of one request, which holds the record's
 * mutex. */
struct move_ctx {
	struct rpc_endpoint dst;
	u64 mm, from, to, len;
	u8 *buf;			/* a PAGE_FLUSH_MANY being filled */
	u32 n;				/* pages in buf */
	u64 sent;
	int err;
};

#define MOVE_BATCH LEGO_MEM_FLUSH_MANY_MAX
#define MOVE_BUF_SIZE (sizeof(struct lego_mem_flush_many_req) + MOVE_BATCH * (8 + PG))

/* Send the pages gathered in mc->buf. */
static void move_send(struct move_ctx *mc)
{
	if (!mc->n || mc->err)
		return;
	struct lego_mem_flush_many_req h = { .mm = mc->mm, .count = mc->n };
	u8 *b = mc->buf;
	/* The pages were gathered at the batch's full size: close the gap
	 * after the addresses if the batch is short. */
	if (mc->n < MOVE_BATCH)
		memmove(b + sizeof(h) + mc->n * 8, b + sizeof(h) + MOVE_BATCH * 8, mc->n * PG);
	memcpy(b, &h, sizeof(h));
	u32 len = (u32)(sizeof(h) + mc->n * (8 + PG));
	int r = rpc_call(&mc->dst, LEGO_OP_MEM_PAGE_FLUSH_MANY, b, len, NULL, 0, NULL, 0);
	if (r < 0)
		mc->err = r == -ETIMEDOUT || r == -ENETUNREACH ? -EHOSTUNREACH : r;
	else
		mc->sent += mc->n;
	mc->n = 0;
}

static void move_page(void *ctx, u64 mm, u64 addr, void *page)
{
	struct move_ctx *mc = ctx;

	if (mc->err || addr < mc->from || addr - mc->from >= mc->len)
		return;
	u64 to = mc->to + (addr - mc->from);
	u8 *b = mc->buf + sizeof(struct lego_mem_flush_many_req);
	memcpy(b + mc->n * 8, &to, 8);
	memcpy(b + MOVE_BATCH * 8 + mc->n * PG, page, PG);
	if (++mc->n == MOVE_BATCH)
		move_send(mc);
}

/*
 * OWN_MOVE (m->lock held throughout, so no flush slips in between the copy
 * and the removal): the pages of [from, from + len) leave this part for
 * [to, ...). The pages are copied first and dropped here only when all
 * arrived, so a failure changes nothing here. A destination on this node
 * is another part of the same record: its pages only change keys. The
 * push to another node is a nested call from an RPC worker; it never
 * comes back to this node (PAGE_FLUSH_MANY makes no calls), so it cannot
 * wait for a worker here.
 */
static s64 own_move(struct own_mm *m, const struct mem_own_msg *q)
{
	u64 from = q->h.m.addr, len = q->h.m.len, to = q->h.m.new_addr;

	if (q->mv.dst_ipv4 == net_config.ip && q->mv.dst_port == LEGO_RPC_PORT) {
		struct own_space *ds = space_find(m, mem_vregion_of(to, m->shift));
		if (!ds)
			return -ENXIO;
		/* Pages live only inside vmas: the home mapped the destination. */
		if (!vma_lookup(&ds->vs, to) || !vma_lookup(&ds->vs, to + len - PG))
			return -EFAULT;
		return (s64)pgmap_move_range(&m->pages, m->id, from, to, len, page_drop, NULL);
	}
	struct move_ctx mc = {
		.dst = { q->mv.dst_ipv4, q->mv.dst_port },
		.mm = m->id, .from = from, .to = to, .len = len,
	};
	mc.buf = kmalloc(MOVE_BUF_SIZE);
	if (!mc.buf)
		return -ENOMEM;
	/* Visit whichever is smaller: the range's addresses or the table. */
	if (len / PG <= pgmap_count(&m->pages)) {
		for (u64 a = from; a < from + len && !mc.err; a += PG) {
			void *pg = pgmap_lookup(&m->pages, m->id, a);
			if (pg)
				move_page(&mc, m->id, a, pg);
		}
	} else {
		pgmap_for_each(&m->pages, m->id, move_page, &mc);
	}
	move_send(&mc);
	kfree(mc.buf);
	if (mc.err)
		return mc.err;
	pgmap_remove_range(&m->pages, m->id, from, from + len, page_drop, NULL);
	return (s64)mc.sent;
}

/* One operation on an existing part (m->lock held). Returns the reply's
 * value or -errno. */
static s64 own_apply(struct own_mm *m, struct own_space *sp, const struct mem_own_msg *q)
{
	const struct lego_mem_map_req *a = &q->h.m;
	struct vma_space *vs = &sp->vs;

	switch (q->h.op) {
	case LEGO_MEM_OWN_MMAP: {
		struct vma_mmap_req mr = {
			.addr = a->addr, .len = a->len, .prot = a->prot, .flags = a->flags,
		};
		struct own_file *f = NULL;
		if (!(a->flags & LEGO_MAP_ANONYMOUS)) {
			if (a->pgoff >> (64 - VMA_PAGE_SHIFT))
				return -EOVERFLOW;
			f = file_intern(m->vnode, &m->st, q->path, a->path_len);
			if (!f)
				return -ENOMEM;
			mr.off = a->pgoff << VMA_PAGE_SHIFT;
			mr.file = (u64)(uintptr_t)f;
		}
		s64 r = vma_mmap(vs, &mr);
		if (f)
			file_put(f);	/* the vma holds its own reference */
		return r;
	}
	case LEGO_MEM_OWN_MUNMAP:
		return vma_munmap(vs, a->addr, a->len);
	case LEGO_MEM_OWN_MPROTECT:
		return vma_mprotect(vs, a->addr, a->len, a->prot);
	case LEGO_MEM_OWN_MREMAP:
		return vma_mremap(vs, a->addr, a->len, a->new_len, a->flags, a->new_addr);
	case LEGO_MEM_OWN_MOVE:
		return own_move(m, q);
	case LEGO_MEM_OWN_BRK: {
		u64 sb = page_align(a->addr);
		if (vs->start_brk != sb) {
			/* A heap part starts here; a non-empty heap elsewhere
			 * in the vRegion is the home's mistake. */
			if (page_align(vs->brk) != vs->start_brk)
				return -EINVAL;
			vma_set_brk(vs, sb, ~0ULL);
		}
		return (s64)(a->new_len ? vma_brk(vs, a->new_len) : vs->brk);
	}
	case LEGO_MEM_OWN_STACK: {
		struct vma_mmap_req mr = {
			.addr = a->addr, .len = a->len,
			.prot = a->prot ? a->prot : LEGO_PROT_READ | LEGO_PROT_WRITE,
			.flags = LEGO_MAP_PRIVATE | LEGO_MAP_ANONYMOUS | LEGO_MAP_GROWSDOWN |
				 LEGO_MAP_FIXED_NOREPLACE,
		};
		s64 r = vma_mmap(vs, &mr);
		if (r >= 0)
			vs->start_stack = a->addr + page_align(a->len) - 1;
		return r;
	}
	default:
		return -EINVAL;
	}
}

/* Copy one page of the parent into the child (FORK). */
struct fork_ctx {
	struct own_mm *child;
	u64 lo, hi;
	int err;
};

static void fork_page(void *ctx, u64 mm, u64 addr, void *page)
{
	struct fork_ctx *fc = ctx;

	if (addr < fc->lo || addr >= fc->hi || fc->err)
		return;
	void *np = alloc_page();
	if (!np) {
		fc->err = -ENOMEM;
		return;
	}
	memcpy(np, page, PG);
	if (pgmap_insert(&fc->child->pages, fc->child->id, addr, np)) {
		free_page(np);
		fc->err = -ENOMEM;
		return;
	}
	CNT_ADD(pages, 1);
}

/* FORK: copy the parent's part (vmas and pages) to the child id. */
static int own_fork(const struct mem_own_msg *q, struct lego_mem_own_reply *rep)
{
	u64 pid = q->h.c.mm, cid = q->h.m.new_addr;
	u32 shift = q->h.vregion_shift;
	struct own_mm *p, *c;
	int err;

	/* Two mutexes: in increasing id order. */
	if (cid < pid) {
		c = mm_get(cid, &q->h.c, shift, &err);
		if (!c)
			return err;
		p = mm_get(pid, NULL, 0, &err);
	} else {
		p = mm_get(pid, NULL, 0, &err);
		if (!p)
			return err;
		c = mm_get(cid, &q->h.c, shift, &err);
	}
	if (!p || !c)
		goto out;
	struct own_space *ps = space_find(p, q->h.index);
	err = -EINVAL;
	if (p->shift != shift || c->shift != shift)
		goto out;
	err = -ENXIO;
	if (!ps)
		goto out;
	err = -EEXIST;
	if (space_find(c, q->h.index))
		goto out;
	err = -ENOMEM;
	struct own_space *cs = space_create(c, q->h.index, ps->lo, ps->hi, ps->vs.mmap_base);
	if (!cs)
		goto out;
	err = vma_space_copy(&cs->vs, &ps->vs);
	if (!err) {
		CNT_ADD(vmas, vma_count(&cs->vs));
		struct fork_ctx fc = { c, ps->lo, ps->hi, 0 };
		pgmap_for_each(&p->pages, pid, fork_page, &fc);
		err = fc.err;
	}
	if (err)
		space_destroy(cs);	/* frees the pages copied so far */
	else
		space_summary(ps, ps->lo, ps->hi, rep);
out:
	/* A child record created for nothing goes again. */
	if (c && !c->nr_spaces && !c->dead)
		mm_kill(c);
	if (c)
		mm_put(c);
	if (p)
		mm_put(p);
	return err;
}

/* LEGO_MEM_VMA_* flags of v in sp (Linux's rules for [heap] and
 * [stack], as vma_format_maps() applies them). */
static u32 maps_flags(const struct vma_space *vs, const struct vma *v)
{
	u32 f = 0;

	if (v->flags & VMA_F_SHARED)
		f |= LEGO_MEM_VMA_SHARED;
	if (v->kind == VMA_FILE)
		f |= LEGO_MEM_VMA_FILE;
	if (v->flags & VMA_F_GROWSDOWN)
		f |= LEGO_MEM_VMA_GROWSDOWN;
	if (v->flags & VMA_F_NORESERVE)
		f |= LEGO_MEM_VMA_NORESERVE;
	if (v->flags & VMA_F_LOCKED)
		f |= LEGO_MEM_VMA_LOCKED;
	if (v->flags & VMA_F_NOHUGEPAGE)
		f |= LEGO_MEM_VMA_NOHUGEPAGE;
	if (v->kind == VMA_ANON && !(v->flags & VMA_F_SHARED) && vs->start_brk &&
	    v->start <= vs->brk && v->end >= vs->start_brk)
		f |= LEGO_MEM_VMA_HEAP;
	if (vs->start_stack && v->start <= vs->start_stack && vs->start_stack < v->end)
		f |= LEGO_MEM_VMA_STACK;
	return f;
}

static void maps_rec(const struct vma_space *vs, const struct vma *v, struct lego_mem_vma_rec *rec,
		     const char **path, u16 *n)
{
	memset(rec, 0, sizeof(*rec));
	rec->start = v->start;
	rec->end = v->end;
	rec->pgoff = v->pgoff;
	rec->prot = v->prot;
	rec->flags = maps_flags(vs, v);
	rec->owner_node = net_config.node_id;
	*path = NULL;
	*n = 0;
	if (v->kind == VMA_FILE) {
		const struct own_file *f = (const struct own_file *)(uintptr_t)v->file;
		*path = f->path;
		*n = f->len;
	}
}

/*
 * OWN_MAPS: the reply is the own_reply (filled by the caller), then a
 * lego_mem_maps_reply with the records of the vmas that end after from,
 * as many as fit in LEGO_RPC_MAX_MSG (more = 1 if some are left).
 * m->lock held. 0 or -ENOMEM.
 */
static int own_maps(struct rpc_req *r, const struct own_space *sp, u64 from)
{
	const u32 head = (u32)(sizeof(struct lego_mem_own_reply) + sizeof(struct lego_mem_maps_reply));
	struct lego_mem_vma_rec rec;
	const struct vma *v;
	const char *path;
	u16 n;
	u32 size = head, count = 0, more = 0;

	/* Size first, then fill: nothing changes in between (m->lock). */
	for (v = vma_find(&sp->vs, from); v; v = vma_next(v)) {
		maps_rec(&sp->vs, v, &rec, &path, &n);
		if (LEGO_MEM_VMA_REC_SIZE(n) > LEGO_RPC_MAX_MSG - size) {
			more = 1;
			break;
		}
		size += LEGO_MEM_VMA_REC_SIZE(n);
		count++;
	}
	u8 *buf = rpc_reply_alloc(r, size);
	if (!buf)
		return -ENOMEM;
	struct lego_mem_maps_reply mr = { .count = count, .more = more };
	memcpy(buf + sizeof(struct lego_mem_own_reply), &mr, sizeof(mr));
	u32 pos = head;
	v = vma_find(&sp->vs, from);
	for (u32 i = 0; i < count; i++, v = vma_next(v)) {
		maps_rec(&sp->vs, v, &rec, &path, &n);
		pos += mem_vma_rec_put(buf + pos, size - pos, &rec, path, n);
	}
	return 0;
}

static int op_own(struct rpc_req *r)
{
	struct mem_own_msg q;
	struct lego_mem_own_reply rep;
	int err = mem_decode_own(r->data, r->len, &q);
	if (err)
		return err;
	memset(&rep, 0, sizeof(rep));

	u32 op = q.h.op;
	/* The reply buffer before any change, so that a change is never
	 * reported as failed for want of one (MAPS sizes its own). */
	if (op != LEGO_MEM_OWN_MAPS && !rpc_reply_alloc(r, sizeof(rep)))
		return -ENOMEM;
	if (op == LEGO_MEM_OWN_FORK) {
		err = own_fork(&q, &rep);
		goto done;
	}
	bool maps = op == LEGO_MEM_OWN_MMAP || op == LEGO_MEM_OWN_STACK || op == LEGO_MEM_OWN_BRK;
	struct own_mm *m = mm_get(q.h.c.mm, maps ? &q.h.c : NULL, q.h.vregion_shift, &err);
	if (!m) {
		if (op == LEGO_MEM_OWN_FREE && err == -ESRCH) {
			/* Nothing here: freeing is idempotent. */
			space_summary(NULL, q.lo, q.hi, &rep);
			err = 0;
		}
		goto done;
	}
	struct own_space *sp = NULL;
	bool created = false;
	s64 v = -EINVAL;
	if (m->shift != q.h.vregion_shift)
		goto unlock;
	sp = space_find(m, q.h.index);
	if (!sp && op == LEGO_MEM_OWN_FREE) {
		v = 0;
		goto unlock;
	}
	if (!sp && !maps) {
		v = -ENXIO;
		goto unlock;
	}
	if (op == LEGO_MEM_OWN_MAPS) {
		v = own_maps(r, sp, q.h.m.addr);
		goto unlock;
	}
	if (!sp) {
		sp = space_create(m, q.h.index, q.lo, q.hi, q.h.mmap_base);
		if (!sp) {
			v = -ENOMEM;
			goto unlock;
		}
		created = true;
	}
	if (op == LEGO_MEM_OWN_FREE) {
		space_destroy(sp);
		sp = NULL;
		v = 0;
		goto unlock;
	}
	/* The home's mmap_base for this vRegion (already clamped into it). */
	if (q.h.mmap_base && q.h.mmap_base >= sp->lo && q.h.mmap_base <= sp->hi)
		sp->vs.mmap_base = q.h.mmap_base & ~(PG - 1);
	u32 before = vma_count(&sp->vs);
	v = own_apply(m, sp, &q);
	CNT_ADD(vmas, (s64)vma_count(&sp->vs) - (s64)before);
	if (v < 0 && created && !vma_count(&sp->vs)) {
		space_destroy(sp);	/* do not keep a part made for nothing */
		sp = NULL;
	}
unlock:
	space_summary(sp, q.lo, q.hi, &rep);
	if (!m->nr_spaces && !m->dead)
		mm_kill(m);
	mm_put(m);
	err = v < 0 ? (int)v : 0;
	rep.value = v < 0 ? 0 : v;
done:
	if (err < 0) {
		r->reply_len = 0;	/* an error carries no reply */
		return err;
	}
	/* The own_reply leads the buffer (MAPS: the records follow it). */
	memcpy(r->reply, &rep, sizeof(rep));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Page service                                                        */

/* true if a vma with prot allows access (x86: anything mapped readable
 * is readable, write needs PROT_WRITE, exec PROT_EXEC). */
static bool access_ok(u32 prot, u32 access)
{
	if ((access & LEGO_MEM_ACCESS_WRITE) && !(prot & LEGO_PROT_WRITE))
		return false;
	if ((access & LEGO_MEM_ACCESS_EXEC) && !(prot & LEGO_PROT_EXEC))
		return false;
	if ((access & LEGO_MEM_ACCESS_READ) &&
	    !(prot & (LEGO_PROT_READ | LEGO_PROT_WRITE | LEGO_PROT_EXEC)))
		return false;
	return true;
}

/* The vma covering addr, growing a stack down to it if needed (m->lock
 * held). -ENXIO: not owned here; -EFAULT: not mapped. */
static int page_vma(struct own_mm *m, u64 addr, struct vma **vp)
{
	struct own_space *sp = space_find(m, mem_vregion_of(addr, m->shift));
	if (!sp)
		return -ENXIO;
	struct vma *v = vma_lookup(&sp->vs, addr);
	if (!v) {
		u32 before = vma_count(&sp->vs);
		int e = vma_expand_stack(&sp->vs, addr);
		CNT_ADD(vmas, (s64)vma_count(&sp->vs) - (s64)before);
		if (e)
			return -EFAULT;
		v = vma_lookup(&sp->vs, addr);
		if (!v)
			return -EFAULT;
	}
	*vp = v;
	return 0;
}

static int page_flush(struct own_mm *m, u64 addr, const void *data)
{
	struct vma *v;
	int err = page_vma(m, addr, &v);
	if (err)
		return err;
	void *pg = pgmap_lookup(&m->pages, m->id, addr);
	if (!pg) {
		pg = alloc_page();
		if (!pg)
			return -ENOMEM;
		if (pgmap_insert(&m->pages, m->id, addr, pg)) {
			free_page(pg);
			return -ENOMEM;
		}
		CNT_ADD(pages, 1);
	}
	memcpy(pg, data, PG);
	CNT_ADD(flushes, 1);
	return 0;
}

/* FETCH into r's reply. m->lock held on entry and on return (dropped
 * around a storage read; -ESRCH if m died meanwhile). */
static int page_fetch(struct rpc_req *r, struct own_mm *m, u64 addr, u32 access)
{
	struct vma *v;
	int err = page_vma(m, addr, &v);
	if (err)
		return err;
	if (!access_ok(v->prot, access))
		return -EACCES;
	CNT_ADD(fetches, 1);
	void *pg = pgmap_lookup(&m->pages, m->id, addr);
	if (pg) {
		void *buf = rpc_reply_alloc(r, (u32)PG);
		if (!buf)
			return -ENOMEM;
		memcpy(buf, pg, PG);
		return 0;
	}
	if (v->kind != VMA_FILE) {
		CNT_ADD(zero_fetches, 1);
		return 0;	/* reply_len 0: all zeros */
	}
	struct own_file *f = (struct own_file *)(uintptr_t)v->file;
	u64 off = (v->pgoff + ((addr - v->start) >> VMA_PAGE_SHIFT)) << VMA_PAGE_SHIFT;
	void *buf = rpc_reply_alloc(r, (u32)PG);
	if (!buf)
		return -ENOMEM;
	struct rpc_endpoint cache = m->cache;
	file_get(f);
	mutex_unlock(&m->lock);
	err = file_read(f, &cache, off, buf);
	file_put(f);
	mutex_lock(&m->lock);
	if (m->dead)
		return -ESRCH;
	if (err)
		return err;
	/* A flush may have come in while the lock was dropped. */
	pg = pgmap_lookup(&m->pages, m->id, addr);
	if (pg)
		memcpy(buf, pg, PG);
	return 0;
}

static int op_page(struct rpc_req *r)
{
	struct mem_page_msg q;
	int err = mem_decode_page(r->opcode, r->data, r->len, &q);
	if (err)
		return err;
	struct own_mm *m = mm_get(q.h.mm, NULL, 0, &err);
	if (!m)
		return err;
	if (r->opcode == LEGO_OP_MEM_PAGE_FLUSH)
		err = page_flush(m, q.h.addr, q.data);
	else if (r->opcode == LEGO_OP_MEM_PAGE_FLUSH_FETCH)
		err = page_flush(m, q.h.flush_addr, q.data);
	if (!err && r->opcode != LEGO_OP_MEM_PAGE_FLUSH)
		err = page_fetch(r, m, q.h.addr, q.h.access);
	mm_put(m);
	if (err)
		r->reply_len = 0;
	return err;
}

/* PAGE_FLUSH_MANY: the pages one by one, as PAGE_FLUSH; stops at the
 * first failure. */
static int op_flush_many(struct rpc_req *r)
{
	struct mem_flush_many_msg q;
	int err = mem_decode_flush_many(r->data, r->len, &q);
	if (err)
		return err;
	struct own_mm *m = mm_get(q.h.mm, NULL, 0, &err);
	if (!m)
		return err;
	for (u32 i = 0; i < q.h.count && !err; i++)
		err = page_flush(m, mem_flush_many_addr(&q, i), mem_flush_many_page(&q, i));
	mm_put(m);
	return err;
}

/* ------------------------------------------------------------------ */

void owner_stats(struct lego_mem_stats *s)
{
	s->mms_owned = CNT_GET(mms);
	s->vregions = CNT_GET(vregions);
	s->vmas = CNT_GET(vmas);
	s->pages = CNT_GET(pages);
	s->page_fetches = CNT_GET(fetches);
	s->page_flushes = CNT_GET(flushes);
	s->zero_fetches = CNT_GET(zero_fetches);
}

/* The home role calls this instead of rpc_call when it is the owner
 * itself: a nested RPC to this node would need a second worker while the
 * home's request holds one, and with every worker holding a home request
 * the node would wait for itself forever. Same semantics as rpc_call. */
int owner_local_call(u16 opcode, const void *req, u32 req_len, void *reply, u32 reply_max,
		     u32 *reply_len)
{
	struct rpc_req r = {
		.src_ip = net_config.ip,
		.src_port = LEGO_RPC_PORT,
		.src_node = net_config.node_id,
		.opcode = opcode,
		.data = req,
		.len = req_len,
	};
	int st;

	if (opcode == LEGO_OP_MEM_OWN)
		st = op_own(&r);
	else if (opcode == LEGO_OP_MEM_PAGE_FETCH || opcode == LEGO_OP_MEM_PAGE_FLUSH ||
		 opcode == LEGO_OP_MEM_PAGE_FLUSH_FETCH)
		st = op_page(&r);
	else if (opcode == LEGO_OP_MEM_PAGE_FLUSH_MANY)
		st = op_flush_many(&r);
	else
		st = -ENOSYS;
	if (st > 0)
		st = 0;
	if (st == 0) {
		if (r.reply_len > reply_max)
			st = -EMSGSIZE;
		else {
			if (r.reply_len)
				memcpy(reply, r.reply, r.reply_len);
			if (reply_len)	/* optional, as for rpc_call */
				*reply_len = r.reply_len;
		}
	}
	kfree(r.reply);
	return st;
}

int owner_init(void)
{
	static const struct {
		u16 op;
		rpc_handler_t h;
	} ops[] = {
		{ LEGO_OP_MEM_OWN, op_own },
		{ LEGO_OP_MEM_PAGE_FETCH, op_page },
		{ LEGO_OP_MEM_PAGE_FLUSH, op_page },
		{ LEGO_OP_MEM_PAGE_FLUSH_FETCH, op_page },
		{ LEGO_OP_MEM_PAGE_FLUSH_MANY, op_flush_many },
	};
	int ret = 0;

	for (unsigned i = 0; i < ARRAY_SIZE(ops); i++) {
		int r = rpc_register(ops[i].op, ops[i].h, "memory-owner");
		if (r) {
			pr_err("memory: cannot register opcode %#x (%d)\n", ops[i].op, r);
			if (!ret)
				ret = r;
		}
	}
	printk(KERN_INFO "memory: vRegion owner service up\n");
	return ret;
}
