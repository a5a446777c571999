/*
 * The ExCache of a processor monitor (paper §4.2, §4.3.2, §4.4.2, §5.3).
 *
 * A region of physical memory reserved at boot, cut into 4 KiB lines that
 * cache the memory of the processes running on this node. The page tables
 * are the hit path: a line in use is mapped in its process's address
 * space (include/lego/uspace.h). A miss is a page fault, and the faulting
 * thread runs excache_fault itself: find the page's set in the line
 * directory (include/lego/excache_dir.h), take a free line or evict one
 * (unmap with TLB shootdown, write it back to its vRegion owner if the PTE
 * says dirty), fetch the page from its owner (include/uapi/lego/memory.h,
 * PAGE_FETCH; PAGE_FLUSH_FETCH when the victim goes to the same owner of
 * the same address space: one round trip, the piggyback of §5.3), and map
 * it. The first touch of an anonymous private page that this processor
 * created and that never left it (a p-local page, §4.4.2) is a zeroed line
 * and no network call.
 *
 * The process layer embeds a struct excache_proc in each process and tells
 * the ExCache, through struct excache_route_ops, where a page lives and
 * what the process may do with it (its copy of the vRegion array and of
 * the layout, the hint of §5.6).
 *
 * Locks, outermost first: the per-set spinlocks (struct excache_setl),
 * then the registry lock of the cache, then a process's lock
 * (excache_proc.lock), then the locks inside uspace. Route ops and network
 * calls run with none of them held. Design: docs/processor-excache.md.
 */
#ifndef LEGO_EXCACHE_H
#define LEGO_EXCACHE_H

#include <lego/types.h>
#include <lego/list.h>
#include <lego/spinlock.h>
#include <lego/wait.h>
#include <lego/rpc.h>
#include <lego/excache_dir.h>
#include <lego/excache_opts.h>
#include <lego/excache_pageset.h>
#include <lego/excache_hist.h>

struct uspace;
struct excache;

/* How a process's pages are found and what they allow (callbacks into the
 * process layer; they may sleep and run with no ExCache lock held). */
struct excache_route_ops {
	/* the vRegion owner of addr (from the process's vRegion array copy) */
	int (*owner)(void *ctx, u64 addr, struct rpc_endpoint *out);	/* 0 / -EFAULT */
	/* permission of addr from the processor's copy of the layout (§5.6 hint):
	 * *pte_prot = PTE_U | PTE_W? | PTE_NX?; *plocal = true when the page is in an
	 * anonymous private range created by this processor after exec (first touch
	 * may be filled locally, §4.4.2). -EFAULT (no vma) / -EACCES (access not
	 * allowed: write to read-only, any access to PROT_NONE, exec of NX). */
	int (*prot)(void *ctx, u64 addr, bool write, bool exec, u64 *pte_prot, bool *plocal);
};

/*
 * Where pages come from and go to. The default sends the page-service
 * RPCs of include/uapi/lego/memory.h; the self-test substitutes a local
 * fake owner. Every function may sleep. fetch and flush_fetch return 0
 * (dst holds the page), 1 (the owner answered "zeros": dst was zeroed) or
 * a negative errno; flush returns 0 or a negative errno. flush_fetch
 * writes src back as flush_va and fetches va into dst, and dst may be
 * src: on failure such a dst still holds src's bytes.
 */
struct excache_backend {
	int (*fetch)(void *ctx, const struct rpc_endpoint *owner, u64 mm, u64 va, u32 access,
		     void *dst);
	int (*flush)(void *ctx, const struct rpc_endpoint *owner, u64 mm, u64 va, const void *src);
	int (*flush_fetch)(void *ctx, const struct rpc_endpoint *owner, u64 mm, u64 flush_va,
			   const void *src, u64 va, u32 access, void *dst);
	void *ctx;
};

/* Event counts, per process and per cache. Relaxed atomic increments, no
 * lock; readers get an approximate snapshot. */
struct excache_counters {
	u64 faults;		/* excache_fault calls */
	u64 misses;		/* lines filled (fetched or p-local) */
	u64 plocal;		/* ... of them zeroed p-local lines, no network */
	u64 fetches;		/* pages fetched over the network (incl. piggyback) */
	u64 zero_fetches;	/* ... answered "zeros" by the owner */
	u64 evictions;		/* victims evicted by this process's misses */
	u64 writebacks;		/* dirty lines written back (evictions, flushes, drops) */
	u64 piggyback;		/* write-back and fetch in one FLUSH_FETCH */
	u64 waits;		/* waits for another thread's fill or eviction */
	u64 errors;		/* faults that failed (any error) */
	struct excache_hist fetch_us;	/* fetch (and FLUSH_FETCH) latency */
};

/*
 * Per-process ExCache state, embedded in the process struct. Fixed after
 * excache_proc_init: cache, asid, mm, us, ops, ctx. reg_node, refs and
 * registered: the cache's registry lock. remote and remote_lost: lock.
 * cnt: atomic. The process layer calls excache_proc_exit before freeing it
 * and before dropping its reference to us.
 */
struct excache_proc {
	struct excache *cache;
	u32 asid;
	u64 mm;
	struct uspace *us;		/* the caller's reference, valid until exit */
	const struct excache_route_ops *ops;
	void *ctx;

	struct list_head reg_node;
	int refs;			/* evictors and sweeps using this process now */
	bool registered;
	struct wait_queue ref_wq;	/* exit waits here for refs == 0 */

	spinlock_t lock;
	/* Pages of p-local ranges that exist at their owner (written back). */
	struct excache_pageset remote;
	/* A page could not be added to remote (no memory): treat every
	 * p-local page as possibly remote from now on (fetch, never zero). */
	bool remote_lost;

	struct excache_counters cnt;
};

/* Boot, processor personality: reserves the region (Kconfig EXCACHE_* and
 * lego.excache=), sets up the directory and per-set locks, and starts the
 * LRU sweep thread when evict=lru. 0, -ENOMEM, -EBUSY (already done). */
int excache_init(void);
/* The node's cache once excache_init succeeded, else NULL. */
struct excache *excache_node(void);

/* Registers ep with the node's cache under asid (unique among live
 * processes). -ENODEV before excache_init, -EEXIST for an asid in use,
 * -EINVAL for missing ops. us must stay valid until excache_proc_exit. */
int excache_proc_init(struct excache_proc *ep, u32 asid, u64 mm, struct uspace *us,
		      const struct excache_route_ops *ops, void *ctx);
/* A user page fault (or a kernel access to user memory, copy_from_user) at addr. 0: mapped,
 * retry; -EFAULT / -EACCES: the process gets SIGSEGV; others (-EHOSTUNREACH, -ENOMEM):
 * fatal too, but reported differently. Runs in the faulting thread, may sleep. */
int excache_fault(struct excache_proc *ep, u64 addr, bool write, bool exec);
/* Write back every dirty line of the process (before FORK at the home).
 * Lines stay cached, now clean. 0 or the first write-back error. */
int excache_proc_flush(struct excache_proc *ep);
/* Drop the lines in [start, end) (munmap: no write-back; mprotect/mremap: write back
 * dirty ones first when writeback is true), unmapping them from the uspace.
 * Without writeback the range is also forgotten as "exists remotely" (the
 * pages are gone at the owner). 0 or the first write-back error (that
 * line then stays cached and dirty). */
int excache_proc_drop_range(struct excache_proc *ep, u64 start, u64 end, bool writeback);
/* Fork: the child's p-local pages exist remotely exactly where the
 * parent's do (after excache_proc_flush of the parent). 0 or -ENOMEM (the
 * child then fetches every p-local page instead of zeroing it). */
int excache_proc_copy_remote(struct excache_proc *child, struct excache_proc *parent);
/* Process exit: drop every line (no write-back: the address space is freed at the home).
 * No thread of the process may be running or faulting any more. The
 * lines' PTEs stay in us, which the caller frees next. */
void excache_proc_exit(struct excache_proc *ep);
/* Counters, for a text report "excache: misses=... plocal=... evictions=... writebacks=...
 * piggyback=... fetch_us p50/p99 ..." into buf. Returns the length (as snprintf). */
size_t excache_proc_report(const struct excache_proc *ep, char *buf, size_t len);
size_t excache_report(char *buf, size_t len);	/* node-wide */

/* ---- for tests and tools: caches other than the node's ---- */

/* A cache with parameters p (valid, see excache_params_check) over newly
 * allocated memory, pages from be (NULL: the RPC page service). With
 * sweeper and evict=lru a thread ages the sets every p->sweep_ms. */
struct excache *excache_create(const struct excache_params *p, const struct excache_backend *be,
			       bool sweeper);
/* Frees a cache without a sweeper and without registered processes. */
void excache_destroy(struct excache *c);
/* excache_proc_init on cache c. */
int excache_proc_init_in(struct excache *c, struct excache_proc *ep, u32 asid, u64 mm,
			 struct uspace *us, const struct excache_route_ops *ops, void *ctx);
/* One LRU aging pass over every set (what the sweep thread does). */
void excache_sweep(struct excache *c);
size_t excache_cache_report(struct excache *c, char *buf, size_t len);
const struct excache_counters *excache_cache_counters(const struct excache *c);
/* Directory invariants and free-line count; the cache must be idle. */
int excache_check(struct excache *c, u32 *nr_free);

#endif
