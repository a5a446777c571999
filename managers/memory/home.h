/* The home role of the memory monitor (paper §4.4.1): per-process records
 * and the calls that home.c offers loader.c. Private to managers/memory/.
 * Design: docs/memory.md. */
#ifndef MEMORY_HOME_H
#define MEMORY_HOME_H

#include <lego/types.h>
#include <lego/mutex.h>
#include <lego/rpc.h>
#include <lego/vregion.h>
#include <uapi/lego/memory.h>

/*
 * One address space this node is home of.
 *
 * Locking. home_lock (home.c) protects the hash table (hnext), the count of
 * records and refs. A record found in the table is pinned by a reference;
 * everything else in it is protected by its own mutex `lock`, which a
 * request holds from start to end, including the calls it makes to owners,
 * GMM and the storage node (requests on one address space are serialised,
 * as Linux serialises them with mmap_lock; different address spaces run in
 * parallel). `dead` is set under `lock` by EXIT (and a failed FORK) before
 * the record leaves the table: whoever gets the mutex afterwards sees it and
 * answers -ESRCH. The record is freed when the last reference goes.
 * id is constant.
 */
struct home_mm {
	struct home_mm *hnext;		/* home_lock */
	u32 refs;			/* home_lock */
	u64 id;				/* constant */

	struct mutex lock;		/* protects everything below */
	bool dead;
	struct lego_mem_create_req c;	/* mm, vnode, storage endpoint (port set) */
	struct vregion_array va;	/* active vRegions; va.v is kmalloc'ed */
	u64 start_brk, brk;		/* heap [start_brk, brk); 0, 0 until EXEC */
	u64 mmap_base;			/* top-down mmap placement below this */
	u64 stack_top;			/* 0 until EXEC */
};

/* Counters of the home role (reported by STATS; atomically updated). */
struct home_counters {
	u64 mms;			/* records in the table */
	u64 gmm_asks, gmm_fallbacks;	/* vRegion owners asked of GMM; taken ourselves */
	u64 own_calls, own_errors;
	u64 execs, exec_noexec;
};
extern struct home_counters home_counters;

/* Find the record of id and lock it; NULL if there is none (or it died).
 * create: make an empty one if absent (CREATE/EXEC semantics); *created
 * (may be NULL) says whether it did. Errors through *err: -ESRCH, -ENOMEM,
 * -EEXIST (excl and present). */
struct home_mm *home_get(u64 id, bool create, bool excl, const struct lego_mem_create_req *c,
			 bool *created, int *err);
/* Unlock and unpin. */
void home_put(struct home_mm *mm);
/* Mark dead and remove from the table (mutex held; home_put still
 * needed). */
void home_kill(struct home_mm *mm);

/* Send one OWN operation for vRegion index (active) of mm: m's mm field is
 * set here; path (path_len in m) follows for file mappings. Updates the
 * vRegion's free space from the reply. Returns the owner's status (>= 0:
 * rep->value is valid). */
int home_own(struct home_mm *mm, u32 index, u32 op, struct lego_mem_map_req *m, const char *path,
	     struct lego_mem_own_reply *rep);
/* Make vRegion index active: an owner from GMM (want_bytes: the memory the
 * caller is about to map there) or this node. 0 if it already is. */
int home_activate(struct home_mm *mm, u32 index, u64 want_bytes);
/* OWN_FREE at the owner and drop index from the array. */
void home_deactivate(struct home_mm *mm, u32 index);
/* Drop every vRegion of mm (EXIT, and EXEC before loading). */
void home_drop_all(struct home_mm *mm);

/* mmap [addr, addr + len) with MAP_FIXED semantics (flags must contain
 * MAP_FIXED or MAP_FIXED_NOREPLACE), split by vRegion, activating vRegions
 * as needed. pgoff: file page offset of addr. Returns addr or -errno. */
s64 home_map_fixed(struct home_mm *mm, u64 addr, u64 len, u32 prot, u32 flags, u64 pgoff,
		   const char *path, u16 path_len);
/* Write one page of mm (PAGE_FLUSH at the owner of addr's vRegion). */
int home_page_flush(struct home_mm *mm, u64 addr, const void *page);

/* Bytes of a layout reply for mm's array, and filling one. */
u32 home_layout_size(const struct home_mm *mm);
void home_layout_fill(const struct home_mm *mm, struct lego_mem_layout_reply *l, u64 value);

/* loader.c: the EXEC handler. */
int loader_exec(struct rpc_req *r);

void home_init(void);

#endif
