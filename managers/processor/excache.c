/*
 * The ExCache of a processor monitor: the kernel side of the line
 * directory (managers/processor/excache_dir.c). See include/lego/excache.h
 * and docs/processor-excache.md.
 *
 * The miss path keeps three promises while holding a set's lock only
 * between network calls, never across one:
 *   - a page is in at most one line: a missing page whose fill is under
 *     way is visible to other faulting threads either as a FILLING line
 *     or, while its future line is still being evicted, as a pending miss
 *     on the set's list; they wait for the set's sequence number to move;
 *   - a page being written back stays findable (EVICTING) until the owner
 *     has it, so nobody fetches the stale copy meanwhile;
 *   - a line is VALID exactly while it is mapped in its process (or that
 *     process is exiting); pinned VALID lines are being written back or
 *     dropped, and faults on them wait too.
 */
#include <lego/excache.h>
#include <lego/uspace.h>
#include <lego/user_check.h>
#include <lego/mm.h>
#include <lego/sched.h>
#include <lego/time.h>
#include <lego/printk.h>
#include <lego/params.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <uapi/lego/memory.h>
#include <asm/page.h>

#define EX_NR_WQ 64u		/* wait queues, shared by sets (set % EX_NR_WQ) */
#define EX_REG_BUCKETS 64u	/* registry hash buckets */
#define EX_MAX_CHUNK_ORDER 10u	/* region chunks: at most 4 MiB each */

/* A miss whose line is still being evicted: the only trace of the missing
 * page until the line is tagged. On the set's list, under its lock. */
struct excache_miss {
	u32 asid;
	u64 vpage;
	struct excache_miss *next;
};

/* Per-set kernel state. lock protects the set's part of the directory,
 * seq and pending. seq changes whenever a line of the set leaves FILLING
 * or EVICTING, is unpinned, or a pending miss ends: waiters sleep until it
 * does. */
struct excache_setl {
	spinlock_t lock;
	u32 seq;
	struct excache_miss *pending;
};

/*
 * One cache. Everything but the set states, the registry and the counters
 * is fixed at creation. reg_lock protects reg[] (and the registry fields
 * of the processes on it); counters are atomic.
 */
struct excache {
	struct excache_params p;
	struct excache_dir dir;
	void *meta;
	struct excache_setl *sets;		/* [dir.nr_sets] */
	phys_addr_t *chunks;			/* [nr_chunks]: line memory */
	u32 nr_chunks;
	u32 chunk_shift;			/* log2(lines per chunk) */
	struct wait_queue wq[EX_NR_WQ];
	struct excache_backend be;
	spinlock_t reg_lock;
	struct list_head reg[EX_REG_BUCKETS];
	struct thread *sweeper;
	u64 sweeps;				/* atomic */
	struct excache_counters cnt;
};

/* The node's cache: set once by excache_init, read without locks. */
static struct excache *ex_node;

/* lego.excache=: copied at parse time, applied by excache_init. */
static char ex_opts[128];

static int ex_opts_param(const char *val, void *arg)
{
	if (!val)
		return -EINVAL;
	size_t n = strlen(val);
	if (n >= sizeof(ex_opts))
		return -E2BIG;
	memcpy(ex_opts, val, n + 1);
	return 0;
}
LEGO_PARAM("lego.excache", ex_opts_param, NULL);

/* ------------------------------------------------------------------ */
/* Small helpers */

static inline void ex_inc(u64 *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static inline u64 ex_read(const u64 *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* Count an event for the process and the cache. */
#define EX_COUNT(ep, field)                                                      \
	do {                                                                     \
		ex_inc(&(ep)->cnt.field);                                        \
		ex_inc(&(ep)->cache->cnt.field);                                 \
	} while (0)

static phys_addr_t ex_line_phys(const struct excache *c, u32 idx)
{
	u32 mask = (1u << c->chunk_shift) - 1;

	return c->chunks[idx >> c->chunk_shift] + ((phys_addr_t)(idx & mask) << EXCACHE_LINE_SHIFT);
}

static void *ex_line_mem(const struct excache *c, u32 idx)
{
	return __va(ex_line_phys(c, idx));
}

static struct wait_queue *ex_wq(struct excache *c, u32 set)
{
	return &c->wq[set % EX_NR_WQ];
}

/* Something the set's waiters wait for happened; caller holds the lock and
 * calls ex_wake after dropping it. */
static void ex_set_changed(struct excache_setl *sl)
{
	WRITE_ONCE(sl->seq, sl->seq + 1);
}

static void ex_wake(struct excache *c, u32 set)
{
	wake_up_all(ex_wq(c, set));
}

/* Drops the set lock (taken by the caller) and sleeps until the set's
 * sequence number moves. */
static void ex_wait_unlock(struct excache *c, u32 set)
{
	struct excache_setl *sl = &c->sets[set];
	u32 seen = sl->seq;

	spin_unlock(&sl->lock);
	wait_event(*ex_wq(c, set), READ_ONCE(sl->seq) != seen);
}

static bool ex_pending_has(const struct excache_setl *sl, u32 asid, u64 vpage)
{
	for (const struct excache_miss *m = sl->pending; m; m = m->next)
		if (m->asid == asid && m->vpage == vpage)
			return true;
	return false;
}

static void ex_pending_del(struct excache_setl *sl, struct excache_miss *me)
{
	for (struct excache_miss **pp = &sl->pending; *pp; pp = &(*pp)->next)
		if (*pp == me) {
			*pp = me->next;
			return;
		}
}

static bool ex_ep_same(const struct rpc_endpoint *a, const struct rpc_endpoint *b)
{
	u16 pa = a->port ? a->port : LEGO_RPC_PORT;
	u16 pb = b->port ? b->port : LEGO_RPC_PORT;

	return a->ip == b->ip && pa == pb;
}

static u32 ex_access(bool write, bool exec)
{
	return LEGO_MEM_ACCESS_READ | (write ? LEGO_MEM_ACCESS_WRITE : 0) |
	       (exec ? LEGO_MEM_ACCESS_EXEC : 0);
}

/* Errors saying the page no longer exists at its owner (unmapped there
 * before the process layer dropped the line): a write-back of it is moot. */
static bool ex_gone(int err)
{
	return err == -EFAULT || err == -ESRCH;
}

/* ------------------------------------------------------------------ */
/* Registry: asid -> process, for evicting and sweeping other processes'
 * lines. A reference keeps excache_proc_exit waiting. */

static struct list_head *ex_reg_bucket(struct excache *c, u32 asid)
{
	return &c->reg[(asid * 0x9e3779b1u) >> 26];
}

static struct excache_proc *ex_proc_get(struct excache *c, u32 asid)
{
	struct excache_proc *found = NULL, *ep;

	spin_lock(&c->reg_lock);
	list_for_each_entry(ep, ex_reg_bucket(c, asid), reg_node)
		if (ep->asid == asid && ep->registered) {
			ep->refs++;
			found = ep;
			break;
		}
	spin_unlock(&c->reg_lock);
	return found;
}

static void ex_proc_put(struct excache_proc *ep)
{
	struct excache *c = ep->cache;

	spin_lock(&c->reg_lock);
	bool wake = --ep->refs == 0 && !ep->registered;
	spin_unlock(&c->reg_lock);
	if (wake)
		wake_up_all(&ep->ref_wq);
}

/* ------------------------------------------------------------------ */
/* Remote set of p-local pages (ep->lock) */

static void *ex_ps_alloc(void *ctx, size_t size)
{
	return kmalloc(size);
}

static void ex_ps_free(void *ctx, void *p, size_t size)
{
	kfree(p);
}

static const struct excache_pageset_ops ex_ps_ops = { ex_ps_alloc, ex_ps_free, NULL };

static bool ex_remote_has(struct excache_proc *ep, u64 vpage)
{
	spin_lock(&ep->lock);
	bool r = ep->remote_lost || excache_pageset_has(&ep->remote, vpage);
	spin_unlock(&ep->lock);
	return r;
}

/* va of ep was written back: remember it if it is p-local. Route ops may
 * sleep: no lock held. */
static void ex_remote_note(struct excache_proc *ep, u64 va)
{
	u64 prot;
	bool plocal = true;

	/* Unknown (the layout changed meanwhile): assume p-local, which only
	 * costs a fetch that returns what we wrote. */
	if (ep->ops->prot(ep->ctx, va, false, false, &prot, &plocal))
		plocal = true;
	if (!plocal)
		return;
	spin_lock(&ep->lock);
	if (excache_pageset_add(&ep->remote, va >> EXCACHE_LINE_SHIFT))
		ep->remote_lost = true;
	spin_unlock(&ep->lock);
}

/* ------------------------------------------------------------------ */
/* The RPC backend: the page service of include/uapi/lego/memory.h */

static int ex_rpc_status(int r)
{
	/* A silent owner is unreachable as far as the process is concerned. */
	return r == -ETIMEDOUT ? -EHOSTUNREACH : r;
}

static int ex_rpc_fetch(void *ctx, const struct rpc_endpoint *owner, u64 mm, u64 va, u32 access,
			void *dst)
{
	struct lego_mem_page_req q = { .mm = mm, .addr = va, .access = access };
	u32 rl = 0;
	int r = rpc_call(owner, LEGO_OP_MEM_PAGE_FETCH, &q, sizeof(q), dst, LEGO_PAGE_SIZE, &rl, 0);

	if (r < 0)
		return ex_rpc_status(r);
	if (rl == 0) {
		memset(dst, 0, LEGO_PAGE_SIZE);
		return 1;
	}
	return rl == LEGO_PAGE_SIZE ? 0 : -EIO;
}

/* Header and page in one message, as the wire format wants. */
static void *ex_rpc_flush_msg(u64 mm, u64 va, u64 flush_va, u32 access, const void *src,
			      u32 *len)
{
	u8 *m = kmalloc(sizeof(struct lego_mem_page_req) + LEGO_PAGE_SIZE);
	if (!m)
		return NULL;
	struct lego_mem_page_req q = { .mm = mm, .addr = va, .flush_addr = flush_va,
				       .access = access };
	memcpy(m, &q, sizeof(q));
	memcpy(m + sizeof(q), src, LEGO_PAGE_SIZE);
	*len = sizeof(q) + LEGO_PAGE_SIZE;
	return m;
}

static int ex_rpc_flush(void *ctx, const struct rpc_endpoint *owner, u64 mm, u64 va, const void *src)
{
	u32 len, rl = 0;
	void *m = ex_rpc_flush_msg(mm, va, 0, 0, src, &len);
	if (!m)
		return -ENOMEM;
	int r = rpc_call(owner, LEGO_OP_MEM_PAGE_FLUSH, m, len, NULL, 0, &rl, 0);
	kfree(m);
	return r < 0 ? ex_rpc_status(r) : 0;
}

static int ex_rpc_flush_fetch(void *ctx, const struct rpc_endpoint *owner, u64 mm, u64 flush_va,
			      const void *src, u64 va, u32 access, void *dst)
{
	u32 len, rl = 0;
	u8 *m = ex_rpc_flush_msg(mm, va, flush_va, access, src, &len);
	if (!m)
		return -ENOMEM;
	int r = rpc_call(owner, LEGO_OP_MEM_PAGE_FLUSH_FETCH, m, len, dst, LEGO_PAGE_SIZE, &rl, 0);
	if (r >= 0 && rl == 0) {
		memset(dst, 0, LEGO_PAGE_SIZE);
		r = 1;
	} else if (r >= 0 && rl != LEGO_PAGE_SIZE) {
		r = -EIO;
	} else if (r >= 0) {
		r = 0;
	}
	/* The reply buffer may hold part of a failed reply. */
	if (r < 0 && dst == src)
		memcpy(dst, m + sizeof(struct lego_mem_page_req), LEGO_PAGE_SIZE);
	kfree(m);
	return r < 0 ? ex_rpc_status(r) : r;
}

static const struct excache_backend ex_rpc_backend = {
	.fetch = ex_rpc_fetch,
	.flush = ex_rpc_flush,
	.flush_fetch = ex_rpc_flush_fetch,
};

/* ------------------------------------------------------------------ */
/* Network calls with accounting */

static int ex_fetch(struct excache_proc *ep, const struct rpc_endpoint *owner, u64 va, u32 access,
		    void *dst)
{
	struct excache *c = ep->cache;
	u64 t0 = ktime_ns();
	int r = c->be.fetch(c->be.ctx, owner, ep->mm, va, access, dst);
	u64 us = (ktime_ns() - t0) / NSEC_PER_USEC;

	if (r < 0)
		return r;
	excache_hist_add(&ep->cnt.fetch_us, us);
	excache_hist_add(&c->cnt.fetch_us, us);
	EX_COUNT(ep, fetches);
	if (r == 1)
		EX_COUNT(ep, zero_fetches);
	return 0;
}

/* Writes back line memory src holding va of vp; counts it for ep (the
 * process whose miss or request caused it). */
static int ex_flush(struct excache_proc *ep, struct excache_proc *vp,
		    const struct rpc_endpoint *owner, u64 va, const void *src)
{
	struct excache *c = ep->cache;
	int r = c->be.flush(c->be.ctx, owner, vp->mm, va, src);

	if (!r)
		EX_COUNT(ep, writebacks);
	return r;
}

/* ------------------------------------------------------------------ */
/* The fault path */

/* A VALID line of ep holds va: it is mapped, unless a permission was
 * raised (mprotect) after it was; then map it again with prot. Set lock
 * held. */
static int ex_fix_mapping(struct excache *c, struct excache_proc *ep, u32 idx, u64 va, u64 prot)
{
	phys_addr_t pa = ex_line_phys(c, idx);
	u64 pte = uspace_lookup(ep->us, va);

	if (!(pte & PTE_P))
		return uspace_map(ep->us, va, pa, prot);
	if ((pte & PTE_ADDR_MASK) != pa)
		return -EIO;
	bool need_w = (prot & PTE_W) && !(pte & PTE_W);
	bool need_x = !(prot & PTE_NX) && (pte & PTE_NX);
	if (!need_w && !need_x)
		return 0;
	u64 old = 0;
	uspace_unmap(ep->us, va, &old);
	if (old & PTE_D)
		excache_dir_set_dirty(&c->dir, idx, true);
	return uspace_map(ep->us, va, pa, prot);
}

/* The tagged line idx of ep (FILLING, its data in place) becomes VALID
 * and mapped, or is freed when the mapping fails. Set lock held. */
static int ex_install(struct excache *c, struct excache_proc *ep, u32 idx, u64 va, u64 prot)
{
	int r = uspace_map(ep->us, va, ex_line_phys(c, idx), prot);

	if (r)
		excache_dir_fill_abort(&c->dir, idx);
	else
		excache_dir_fill_done(&c->dir, idx, false);
	return r;
}

/*
 * Eviction half of a miss. The victim v is EVICTING and our miss `me` is
 * pending on the set; no lock held. Unmaps v from its process, writes it
 * back if dirty (combined with the fetch when both go to the same owner of
 * the same address space), fills the new page (into v's memory, which is
 * free once v is written back) and installs it.
 */
static int ex_evict_fill(struct excache *c, struct excache_proc *ep, u32 set, u32 v,
			 u32 vasid, u64 vvpage, bool vdirty_hint, struct excache_miss *me,
			 const struct rpc_endpoint *owner, bool zero, u64 va, u64 prot, u32 access)
{
	struct excache_setl *sl = &c->sets[set];
	void *mem = ex_line_mem(c, v);
	u64 vva = vvpage << EXCACHE_LINE_SHIFT;
	u64 old = 0;
	bool dirty = false, wrote = false, filled = false;
	int r = 0;

	/* A victim of an exiting process is dropped as is: its address space
	 * is being freed at the home. */
	struct excache_proc *vp = ex_proc_get(c, vasid);
	if (vp) {
		if (!uspace_unmap(vp->us, vva, &old))
			dirty = old & PTE_D;
		dirty |= vdirty_hint;
	}
	if (dirty) {
		struct rpc_endpoint vowner;
		r = vp->ops->owner(vp->ctx, vva, &vowner);
		if (!r && !zero && vp == ep && ex_ep_same(&vowner, owner)) {
			u64 t0 = ktime_ns();
			int fr = c->be.flush_fetch(c->be.ctx, owner, ep->mm, vva, mem, va, access, mem);
			if (fr >= 0) {
				u64 us = (ktime_ns() - t0) / NSEC_PER_USEC;
				excache_hist_add(&ep->cnt.fetch_us, us);
				excache_hist_add(&c->cnt.fetch_us, us);
				EX_COUNT(ep, piggyback);
				EX_COUNT(ep, writebacks);
				EX_COUNT(ep, fetches);
				if (fr == 1)
					EX_COUNT(ep, zero_fetches);
				wrote = filled = true;
			}
			/* On failure we cannot tell which half failed: redo
			 * them one by one below. */
		}
		if (!r && !wrote)
			r = ex_flush(ep, vp, &vowner, vva, mem);
		if (!r)
			wrote = true;
		else if (ex_gone(r))
			r = 0;	/* unmapped at the owner meanwhile: nothing to keep */
		if (r) {
			/* Keep the only copy: the victim goes back, mapped as it was. */
			uspace_map(vp->us, vva, ex_line_phys(c, v), (old & (PTE_W | PTE_NX)) | PTE_U);
			spin_lock(&sl->lock);
			excache_dir_set_dirty(&c->dir, v, true);
			excache_dir_evict_abort(&c->dir, v);
			ex_pending_del(sl, me);
			ex_set_changed(sl);
			spin_unlock(&sl->lock);
			ex_wake(c, set);
			ex_proc_put(vp);
			return r;
		}
		if (wrote)
			ex_remote_note(vp, vva);
	}
	if (vp)
		ex_proc_put(vp);

	if (!filled) {
		if (zero) {
			memset(mem, 0, EXCACHE_LINE_SIZE);
			EX_COUNT(ep, plocal);
		} else {
			r = ex_fetch(ep, owner, va, access, mem);
		}
	}

	spin_lock(&sl->lock);
	excache_dir_evict_done(&c->dir, v, wrote);
	ex_pending_del(sl, me);
	if (!r) {
		/* The set has a free line now (v, or one freed meanwhile) and
		 * our page cannot have been tagged: it was pending. */
		long idx = excache_dir_insert(&c->dir, ep->asid, va >> EXCACHE_LINE_SHIFT);
		if (idx < 0) {
			r = (int)idx;
		} else {
			if ((u32)idx != v)
				memcpy(ex_line_mem(c, idx), mem, EXCACHE_LINE_SIZE);
			r = ex_install(c, ep, idx, va, prot);
		}
	}
	ex_set_changed(sl);
	spin_unlock(&sl->lock);
	ex_wake(c, set);
	EX_COUNT(ep, evictions);
	if (!r)
		EX_COUNT(ep, misses);
	return r;
}

int excache_fault(struct excache_proc *ep, u64 addr, bool write, bool exec)
{
	struct excache *c = ep->cache;
	u64 va = addr & ~(u64)(EXCACHE_LINE_SIZE - 1);
	u64 vpage = va >> EXCACHE_LINE_SHIFT;
	struct rpc_endpoint owner;
	bool have_owner = false;
	u64 prot;
	bool plocal = false;
	int r;

	if (!c)
		return -ENODEV;
	EX_COUNT(ep, faults);
	if (addr >= USER_TOP) {
		r = -EFAULT;
		goto out;
	}
	u32 access = ex_access(write, exec);
	u32 set = excache_dir_set_of(&c->dir, ep->asid, vpage);
	struct excache_setl *sl = &c->sets[set];
	struct excache_miss me = { .asid = ep->asid, .vpage = vpage };
	bool need_prot = true;

	for (;;) {
		/* Again after every wait: what we waited for may have been an
		 * mprotect or munmap of this page. */
		if (need_prot) {
			r = ep->ops->prot(ep->ctx, va, write, exec, &prot, &plocal);
			if (r)
				goto out;
			if (c->p.no_plocal)
				plocal = false;	/* plocal=off: the owner zero-fills */
			prot = (prot & USPACE_PROT_MASK) | PTE_U;
			need_prot = false;
		}
		spin_lock(&sl->lock);
		long idx = excache_dir_lookup(&c->dir, ep->asid, vpage);
		if (idx >= 0) {
			struct excache_line *l = excache_dir_line(&c->dir, idx);
			if (l->state == EXCACHE_LINE_VALID && !l->pin) {
				r = ex_fix_mapping(c, ep, idx, va, prot);
				spin_unlock(&sl->lock);
				goto out;
			}
			/* Being filled, evicted, written back or dropped. */
			EX_COUNT(ep, waits);
			ex_wait_unlock(c, set);
			need_prot = true;
			continue;
		}
		if (ex_pending_has(sl, ep->asid, vpage)) {
			EX_COUNT(ep, waits);
			ex_wait_unlock(c, set);
			need_prot = true;
			continue;
		}
		bool zero = plocal && !ex_remote_has(ep, vpage);
		if (!zero && !have_owner) {
			spin_unlock(&sl->lock);
			r = ep->ops->owner(ep->ctx, va, &owner);
			if (r)
				goto out;
			have_owner = true;
			continue;
		}
		idx = excache_dir_insert(&c->dir, ep->asid, vpage);
		if (idx >= 0 && zero) {
			memset(ex_line_mem(c, idx), 0, EXCACHE_LINE_SIZE);
			r = ex_install(c, ep, idx, va, prot);
			spin_unlock(&sl->lock);
			if (!r) {
				EX_COUNT(ep, plocal);
				EX_COUNT(ep, misses);
			}
			goto out;
		}
		if (idx >= 0) {
			spin_unlock(&sl->lock);
			r = ex_fetch(ep, &owner, va, access, ex_line_mem(c, idx));
			spin_lock(&sl->lock);
			if (r)
				excache_dir_fill_abort(&c->dir, idx);
			else
				r = ex_install(c, ep, idx, va, prot);
			ex_set_changed(sl);
			spin_unlock(&sl->lock);
			ex_wake(c, set);
			if (!r)
				EX_COUNT(ep, misses);
			goto out;
		}
		if (idx != -ENOSPC) {
			spin_unlock(&sl->lock);
			r = (int)idx;
			goto out;
		}
		long v = excache_dir_victim(&c->dir, set);
		if (v < 0) {
			/* Every line busy: wait for one to settle. */
			EX_COUNT(ep, waits);
			ex_wait_unlock(c, set);
			need_prot = true;
			continue;
		}
		struct excache_line *vl = excache_dir_line(&c->dir, v);
		u32 vasid = vl->asid;
		u64 vvpage = vl->vpage;
		bool vdirty = vl->flags & EXCACHE_LF_DIRTY;
		me.next = sl->pending;
		sl->pending = &me;
		spin_unlock(&sl->lock);
		r = ex_evict_fill(c, ep, set, (u32)v, vasid, vvpage, vdirty, &me, &owner, zero, va,
				  prot, access);
		goto out;
	}
out:
	if (r)
		EX_COUNT(ep, errors);
	return r;
}

/* ------------------------------------------------------------------ */
/* Write-back and drop of a process's own lines */

/*
 * Writes back line idx (VALID, unpinned, of ep, holding va) if it is
 * dirty, leaving it cached and mapped. Called with the set lock held;
 * returns with it dropped. 0 or the write-back error (the line stays
 * dirty).
 */
static int ex_flush_line(struct excache *c, struct excache_proc *ep, u32 set, u32 idx, u64 va)
{
	struct excache_setl *sl = &c->sets[set];
	struct excache_line *l = excache_dir_line(&c->dir, idx);
	u64 ad = 0;

	/* Clear D before copying: a write racing with the copy sets it again
	 * and the line stays dirty. */
	uspace_ad_bits(ep->us, va, PTE_D, &ad);
	if (!(ad & PTE_D) && !(l->flags & EXCACHE_LF_DIRTY)) {
		spin_unlock(&sl->lock);
		return 0;
	}
	excache_dir_set_dirty(&c->dir, idx, false);
	excache_dir_pin(&c->dir, idx);
	spin_unlock(&sl->lock);

	struct rpc_endpoint owner;
	int r = ep->ops->owner(ep->ctx, va, &owner);
	if (!r)
		r = ex_flush(ep, ep, &owner, va, ex_line_mem(c, idx));
	if (!r)
		ex_remote_note(ep, va);
	else if (ex_gone(r))
		r = 0;

	spin_lock(&sl->lock);
	if (r)
		excache_dir_set_dirty(&c->dir, idx, true);
	excache_dir_unpin(&c->dir, idx);
	ex_set_changed(sl);
	spin_unlock(&sl->lock);
	ex_wake(c, set);
	return r;
}

/* Drops the line holding vpage of ep, if any, after writing it back when
 * writeback is set and it is dirty. 0 or the write-back error (the line
 * then stays, dirty and unmapped: the next fault maps it again). */
static int ex_drop_page(struct excache *c, struct excache_proc *ep, u64 vpage, bool writeback)
{
	u32 set = excache_dir_set_of(&c->dir, ep->asid, vpage);
	struct excache_setl *sl = &c->sets[set];
	u64 va = vpage << EXCACHE_LINE_SHIFT;

	for (;;) {
		spin_lock(&sl->lock);
		long idx = excache_dir_find(&c->dir, ep->asid, vpage);
		if (idx < 0) {
			spin_unlock(&sl->lock);
			return 0;
		}
		struct excache_line *l = excache_dir_line(&c->dir, idx);
		if (l->state != EXCACHE_LINE_VALID || l->pin) {
			ex_wait_unlock(c, set);
			continue;
		}
		u64 old = 0;
		uspace_unmap(ep->us, va, &old);
		bool dirty = writeback && ((old & PTE_D) || (l->flags & EXCACHE_LF_DIRTY));
		if (!dirty) {
			excache_dir_remove(&c->dir, idx);
			spin_unlock(&sl->lock);
			return 0;
		}
		excache_dir_pin(&c->dir, idx);
		spin_unlock(&sl->lock);

		struct rpc_endpoint owner;
		int r = ep->ops->owner(ep->ctx, va, &owner);
		if (!r)
			r = ex_flush(ep, ep, &owner, va, ex_line_mem(c, idx));
		if (!r)
			ex_remote_note(ep, va);
		else if (ex_gone(r))
			r = 0;

		spin_lock(&sl->lock);
		excache_dir_unpin(&c->dir, idx);
		if (r)
			excache_dir_set_dirty(&c->dir, idx, true);
		else
			excache_dir_remove(&c->dir, idx);
		ex_set_changed(sl);
		spin_unlock(&sl->lock);
		ex_wake(c, set);
		return r;
	}
}

int excache_proc_flush(struct excache_proc *ep)
{
	struct excache *c = ep->cache;
	int first = 0;

	if (!c)
		return 0;
	for (u32 set = 0; set < c->dir.nr_sets; set++) {
		struct excache_setl *sl = &c->sets[set];
		for (u32 idx = set * c->dir.ways; idx < (set + 1) * c->dir.ways; idx++) {
			spin_lock(&sl->lock);
			struct excache_line *l = excache_dir_line(&c->dir, idx);
			if (l->state != EXCACHE_LINE_VALID || l->asid != ep->asid || l->pin) {
				spin_unlock(&sl->lock);
				continue;
			}
			int r = ex_flush_line(c, ep, set, idx, l->vpage << EXCACHE_LINE_SHIFT);
			if (r && !first)
				first = r;
		}
	}
	return first;
}

int excache_proc_drop_range(struct excache_proc *ep, u64 start, u64 end, bool writeback)
{
	struct excache *c = ep->cache;
	int first = 0;

	if (!c)
		return 0;
	if (end > USER_TOP)
		end = USER_TOP;
	start = ALIGN_DOWN(start, EXCACHE_LINE_SIZE);
	end = ALIGN_UP(end, EXCACHE_LINE_SIZE);
	if (start >= end)
		return 0;
	u64 lo = start >> EXCACHE_LINE_SHIFT, hi = end >> EXCACHE_LINE_SHIFT;
	if (!writeback) {
		spin_lock(&ep->lock);
		excache_pageset_del_range(&ep->remote, lo, hi);
		spin_unlock(&ep->lock);
	}
	if (hi - lo <= c->dir.nr_lines) {
		for (u64 v = lo; v < hi; v++) {
			int r = ex_drop_page(c, ep, v, writeback);
			if (r && !first)
				first = r;
		}
		return first;
	}
	/* A range larger than the cache: visit the lines instead. */
	for (u32 idx = 0; idx < c->dir.nr_lines; idx++) {
		struct excache_setl *sl = &c->sets[excache_dir_line_set(&c->dir, idx)];
		spin_lock(&sl->lock);
		struct excache_line *l = excache_dir_line(&c->dir, idx);
		bool match = l->state != EXCACHE_LINE_FREE && l->asid == ep->asid &&
			     l->vpage >= lo && l->vpage < hi;
		u64 vpage = l->vpage;
		spin_unlock(&sl->lock);
		if (match) {
			int r = ex_drop_page(c, ep, vpage, writeback);
			if (r && !first)
				first = r;
		}
	}
	return first;
}

int excache_proc_copy_remote(struct excache_proc *child, struct excache_proc *parent)
{
	struct excache_pageset t;

	excache_pageset_init(&t, &ex_ps_ops);
	spin_lock(&parent->lock);
	bool lost = parent->remote_lost;
	int r = lost ? 0 : excache_pageset_copy(&t, &parent->remote);
	spin_unlock(&parent->lock);

	spin_lock(&child->lock);
	struct excache_pageset old = child->remote;
	child->remote = t;
	child->remote_lost = lost || r;
	spin_unlock(&child->lock);
	excache_pageset_clear(&old);
	return r;
}

void excache_proc_exit(struct excache_proc *ep)
{
	struct excache *c = ep->cache;

	if (!c)
		return;	/* never initialised */
	spin_lock(&c->reg_lock);
	if (ep->registered) {
		list_del(&ep->reg_node);
		ep->registered = false;
	}
	spin_unlock(&c->reg_lock);
	/* Evictors and sweeps that found us before we left the registry may
	 * still be using our uspace; later ones leave our lines alone. */
	wait_event(ep->ref_wq, READ_ONCE(ep->refs) == 0);

	for (u32 set = 0; set < c->dir.nr_sets; set++) {
		struct excache_setl *sl = &c->sets[set];
		spin_lock(&sl->lock);
		excache_dir_invalidate_asid(&c->dir, set, ep->asid, NULL, NULL);
		spin_unlock(&sl->lock);
	}
	spin_lock(&ep->lock);
	excache_pageset_clear(&ep->remote);
	spin_unlock(&ep->lock);
	/* A second call is a no-op (the asid may belong to someone else by
	 * then); the counters stay readable. */
	ep->cache = NULL;
}

/* ------------------------------------------------------------------ */
/* LRU aging (§5.3) */

/* Runs under the set lock: test-and-clear the accessed bit of the line's
 * PTE in its process. */
static int ex_sweep_fn(void *ctx, const struct excache_dir *d, u32 idx)
{
	struct excache *c = ctx;
	const struct excache_line *l = &d->lines[idx];
	struct excache_proc *vp = ex_proc_get(c, l->asid);
	u64 ad = 0;
	int ret = 0;

	if (!vp)
		return 0;
	if (!uspace_ad_bits(vp->us, l->vpage << EXCACHE_LINE_SHIFT, PTE_A, &ad)) {
		if (ad & PTE_A)
			ret |= EXCACHE_SWEEP_ACCESSED;
		if (ad & PTE_D)
			ret |= EXCACHE_SWEEP_DIRTY;
	}
	ex_proc_put(vp);
	return ret;
}

void excache_sweep(struct excache *c)
{
	/* One set at a time: a miss never waits for more than one set's sweep. */
	for (u32 set = 0; set < c->dir.nr_sets; set++) {
		spin_lock(&c->sets[set].lock);
		excache_dir_sweep(&c->dir, set, ex_sweep_fn, c);
		spin_unlock(&c->sets[set].lock);
	}
	ex_inc(&c->sweeps);
}

static int ex_sweeper(void *arg)
{
	struct excache *c = arg;

	for (;;) {
		msleep(c->p.sweep_ms);
		excache_sweep(c);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Creation */

static void ex_free_region(struct excache *c)
{
	if (!c->chunks)
		return;
	for (u32 i = 0; i < c->nr_chunks; i++)
		if (c->chunks[i])
			free_pages_phys(c->chunks[i], c->chunk_shift);
	kfree(c->chunks);
	c->chunks = NULL;
}

/* The region, in chunks of at most 2^EX_MAX_CHUNK_ORDER pages (the
 * buddy's largest block) whose size divides the line count; sets never
 * straddle a chunk boundary when the ways are a power of two. */
static int ex_alloc_region(struct excache *c, u32 nr_lines)
{
	u32 chunk_lines = nr_lines & -nr_lines;

	if (chunk_lines > (1u << EX_MAX_CHUNK_ORDER))
		chunk_lines = 1u << EX_MAX_CHUNK_ORDER;
	c->chunk_shift = (u32)__builtin_ctz(chunk_lines);
	c->nr_chunks = nr_lines >> c->chunk_shift;
	c->chunks = kzalloc((size_t)c->nr_chunks * sizeof(phys_addr_t));
	if (!c->chunks)
		return -ENOMEM;
	for (u32 i = 0; i < c->nr_chunks; i++) {
		c->chunks[i] = alloc_pages_phys(c->chunk_shift);
		if (!c->chunks[i]) {
			ex_free_region(c);
			return -ENOMEM;
		}
		memset(__va(c->chunks[i]), 0, (size_t)chunk_lines << EXCACHE_LINE_SHIFT);
	}
	return 0;
}

void excache_destroy(struct excache *c)
{
	if (!c)
		return;
	ex_free_region(c);
	kfree(c->meta);
	kfree(c->sets);
	kfree(c);
}

struct excache *excache_create(const struct excache_params *p, const struct excache_backend *be,
			       bool sweeper)
{
	struct excache_params pp = *p;
	struct excache_dir_config cfg;

	if (excache_params_check(&pp))
		return NULL;
	struct excache *c = kzalloc(sizeof(*c));
	if (!c)
		return NULL;
	c->p = pp;
	c->be = be ? *be : ex_rpc_backend;
	/* Line memory is reached through the chunk table, not dir.base. */
	excache_params_to_config(&pp, 0, &cfg);
	size_t meta_size = excache_dir_meta_size(&cfg);
	if (!meta_size || ex_alloc_region(c, cfg.nr_lines))
		goto fail;
	c->meta = kmalloc(meta_size);
	if (!c->meta || excache_dir_init(&c->dir, &cfg, c->meta, meta_size))
		goto fail;
	c->sets = kzalloc((size_t)c->dir.nr_sets * sizeof(*c->sets));
	if (!c->sets)
		goto fail;
	for (u32 s = 0; s < c->dir.nr_sets; s++)
		spin_lock_init(&c->sets[s].lock);
	for (u32 i = 0; i < EX_NR_WQ; i++)
		wait_queue_init(&c->wq[i]);
	spin_lock_init(&c->reg_lock);
	for (u32 i = 0; i < EX_REG_BUCKETS; i++)
		INIT_LIST_HEAD(&c->reg[i]);
	if (sweeper && pp.evict == EXCACHE_EVICT_LRU) {
		c->sweeper = thread_create(ex_sweeper, c, THREAD_CPU_ANY, "excache-sweep");
		if (!c->sweeper)
			goto fail;
		thread_detach(c->sweeper);
	}
	return c;
fail:
	excache_destroy(c);
	return NULL;
}

int excache_init(void)
{
	struct excache_params p;

	if (ex_node)
		return -EBUSY;
	excache_params_defaults(&p);
	if (excache_params_check(&p)) {
		pr_err("excache: Kconfig values rejected: %s\n", p.error);
		return -EINVAL;
	}
	if (ex_opts[0] && excache_parse_opts(ex_opts, &p))
		pr_warn("excache: lego.excache=%s: %s; using the Kconfig values\n", ex_opts, p.error);
	struct excache *c = excache_create(&p, NULL, true);
	if (!c) {
		pr_err("excache: cannot reserve %lu KiB\n", (unsigned long)(p.size >> 10));
		return -ENOMEM;
	}
	ex_node = c;
	pr_info("excache: %lu KiB, %u ways x %u sets, evict=%s, free=%s%s\n",
		(unsigned long)(p.size >> 10), c->dir.ways, c->dir.nr_sets,
		p.evict == EXCACHE_EVICT_LRU ? "lru" : "fifo",
		p.free == EXCACHE_FREE_BITMAP ? "bitmap" : "list",
		p.no_plocal ? ", plocal=off" : "");
	if (p.evict == EXCACHE_EVICT_LRU)
		pr_info("excache: LRU sweep every %u ms\n", p.sweep_ms);
	return 0;
}

struct excache *excache_node(void)
{
	return ex_node;
}

int excache_proc_init_in(struct excache *c, struct excache_proc *ep, u32 asid, u64 mm,
			 struct uspace *us, const struct excache_route_ops *ops, void *ctx)
{
	/* Cleared first: excache_proc_exit and the report accept an ep
	 * whose init failed. */
	memset(ep, 0, sizeof(*ep));
	if (!c)
		return -ENODEV;
	if (!ops || !ops->owner || !ops->prot || !us)
		return -EINVAL;
	ep->cache = c;
	ep->asid = asid;
	ep->mm = mm;
	ep->us = us;
	ep->ops = ops;
	ep->ctx = ctx;
	INIT_LIST_HEAD(&ep->reg_node);
	wait_queue_init(&ep->ref_wq);
	spin_lock_init(&ep->lock);
	excache_pageset_init(&ep->remote, &ex_ps_ops);

	struct excache_proc *other;
	int r = 0;
	spin_lock(&c->reg_lock);
	list_for_each_entry(other, ex_reg_bucket(c, asid), reg_node)
		if (other->asid == asid && other->registered)
			r = -EEXIST;
	if (!r) {
		list_add(&ep->reg_node, ex_reg_bucket(c, asid));
		ep->registered = true;
	}
	spin_unlock(&c->reg_lock);
	if (r)
		ep->cache = NULL;	/* exit must not touch the other process's lines */
	return r;
}

int excache_proc_init(struct excache_proc *ep, u32 asid, u64 mm, struct uspace *us,
		      const struct excache_route_ops *ops, void *ctx)
{
	return excache_proc_init_in(ex_node, ep, asid, mm, us, ops, ctx);
}

/* ------------------------------------------------------------------ */
/* Reports */

static size_t ex_clamp(int n, size_t len)
{
	if (n < 0)
		return 0;
	return len && (size_t)n >= len ? len - 1 : (size_t)n;
}

static size_t ex_format(const struct excache_counters *k, char *buf, size_t len)
{
	int n = snprintf(buf, len,
			 "misses=%lu plocal=%lu evictions=%lu writebacks=%lu piggyback=%lu "
			 "fetches=%lu zero_fetches=%lu faults=%lu waits=%lu errors=%lu "
			 "fetch_us p50<=%lu p99<=%lu",
			 (unsigned long)ex_read(&k->misses), (unsigned long)ex_read(&k->plocal),
			 (unsigned long)ex_read(&k->evictions), (unsigned long)ex_read(&k->writebacks),
			 (unsigned long)ex_read(&k->piggyback), (unsigned long)ex_read(&k->fetches),
			 (unsigned long)ex_read(&k->zero_fetches), (unsigned long)ex_read(&k->faults),
			 (unsigned long)ex_read(&k->waits), (unsigned long)ex_read(&k->errors),
			 (unsigned long)excache_hist_percentile(&k->fetch_us, 50),
			 (unsigned long)excache_hist_percentile(&k->fetch_us, 99));
	return ex_clamp(n, len);
}

size_t excache_proc_report(const struct excache_proc *ep, char *buf, size_t len)
{
	size_t n = ex_clamp(snprintf(buf, len, "excache: "), len);

	return n + ex_format(&ep->cnt, buf + n, len - n);
}

size_t excache_cache_report(struct excache *c, char *buf, size_t len)
{
	u32 nr_free = 0;

	for (u32 s = 0; s < c->dir.nr_sets; s++)
		nr_free += READ_ONCE(c->dir.sets[s].nr_free);
	size_t n = ex_clamp(snprintf(buf, len,
				     "excache: size=%luK ways=%u sets=%u evict=%s free=%s "
				     "free_lines=%u sweeps=%lu ",
				     (unsigned long)(c->p.size >> 10), c->dir.ways, c->dir.nr_sets,
				     c->p.evict == EXCACHE_EVICT_LRU ? "lru" : "fifo",
				     c->p.free == EXCACHE_FREE_BITMAP ? "bitmap" : "list", nr_free,
				     (unsigned long)ex_read(&c->sweeps)),
			    len);
	return n + ex_format(&c->cnt, buf + n, len - n);
}

size_t excache_report(char *buf, size_t len)
{
	if (!ex_node)
		return ex_clamp(snprintf(buf, len, "excache: not initialised"), len);
	return excache_cache_report(ex_node, buf, len);
}

const struct excache_counters *excache_cache_counters(const struct excache *c)
{
	return &c->cnt;
}

int excache_check(struct excache *c, u32 *nr_free)
{
	u32 n = 0;

	for (u32 s = 0; s < c->dir.nr_sets; s++) {
		n += excache_dir_nr_free(&c->dir, s);
		if (c->sets[s].pending)
			return -EUCLEAN;
	}
	if (nr_free)
		*nr_free = n;
	return excache_dir_check(&c->dir);
}
