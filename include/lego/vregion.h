/*
 * vRegion arrays: the coarse level of LegoOS's two-level distributed
 * virtual memory (paper §4.4.1, Figure 6), as the home mComponent of a
 * process keeps it.
 *
 * The user address space [0, LEGO_USER_TOP) is cut into vRegions of
 * 1 << shift bytes (the last one is shorter: it ends at LEGO_USER_TOP).
 * An active vRegion has an owner mComponent, which keeps the vmas inside
 * it; the home only remembers, per active vRegion, the owner and the free
 * space the owner last reported (free bytes, largest free range, vma
 * count). Inactive vRegions hold nothing and have no owner.
 *
 * The array is sparse: only active vRegions are stored, sorted by index
 * (a process has a handful; LEGO_MEM_VREGIONS_MAX at most), in storage
 * the caller provides (vregion_array_move() to grow it).
 *
 * Pure logic (managers/memory/vregion.c): includes only lego/{types,
 * compiler,errno}.h and uapi/lego/memory.h, allocates nothing, and is
 * unit-tested on the host (tests/unit/test_vregion.c).
 *
 * Concurrency: none inside; the home holds the process's mutex around
 * every call on its array.
 */
#ifndef LEGO_VREGION_H
#define LEGO_VREGION_H

#include <lego/types.h>
#include <lego/compiler.h>
#include <uapi/lego/memory.h>

/* One active vRegion. */
struct vregion {
	u32 index;		/* address >> shift */
	u32 owner_node;		/* node id (0: this node without a GMM id) */
	u32 owner_ip;		/* network byte order */
	u16 owner_port;		/* host order; LEGO_RPC_PORT normally */
	u16 flags;		/* 0 */
	u64 free_bytes;		/* unmapped bytes, as the owner last said */
	u64 max_gap;		/* its largest free range */
	u32 nr_vmas;		/* vmas the owner keeps in it */
	u32 reserved;
};

struct vregion_array {
	u32 shift;		/* vregion size = 1 << shift */
	u32 count;		/* active vRegions in v[] */
	u32 cap;		/* room in v[] */
	u32 generation;		/* bumped on every insert and remove */
	struct vregion *v;	/* sorted by index, no duplicates */
};

/* A piece of a range that lies in one vRegion. */
struct vregion_piece {
	u32 index;
	u64 start, end;		/* [start, end) inside vRegion index */
};

/* Number of vRegions of user space: ceil(LEGO_USER_TOP / 2^shift). */
u32 vregion_nr(u32 shift);
/* [*lo, *hi) of vRegion index (hi clamped to LEGO_USER_TOP). */
void vregion_bounds(u32 shift, u32 index, u64 *lo, u64 *hi);
/* Its size in bytes (the last vRegion is shorter). */
u64 vregion_size(u32 shift, u32 index);

/* An empty array over storage[cap]. */
void vregion_array_init(struct vregion_array *a, u32 shift, struct vregion *storage, u32 cap);
/* Copies the entries into storage[cap] (cap >= count) and uses it from
 * now on; the old storage is the caller's to free. */
void vregion_array_move(struct vregion_array *a, struct vregion *storage, u32 cap);

/* The active vRegion index, or NULL. O(log n). */
struct vregion *vregion_find(const struct vregion_array *a, u32 index);
/* Adds e (sorted). 0, -EEXIST (index already active), -ENOSPC (count ==
 * cap: grow with vregion_array_move and retry), -EINVAL (index beyond
 * user space). Bumps generation. */
int vregion_insert(struct vregion_array *a, const struct vregion *e);
/* Drops index. 0 or -ENOENT. Bumps generation. */
int vregion_remove(struct vregion_array *a, u32 index);

/*
 * Range splitting. Iterate over the vRegions [start, end) touches:
 *	u64 pos = start;
 *	struct vregion_piece p;
 *	while (vregion_piece_next(shift, &pos, end, &p)) ...
 * Each piece is the part of the range inside one vRegion, ascending.
 * Returns false once pos >= end. end must be <= LEGO_USER_TOP.
 */
bool vregion_piece_next(u32 shift, u64 *pos, u64 end, struct vregion_piece *p);
/* Number of pieces [start, end) splits into (0 for an empty range). */
u32 vregion_piece_count(u32 shift, u64 start, u64 end);

/*
 * Top-down placement, first level (§4.4.1): the next vRegion, at or below
 * *cursor (an index; the walk starts at the vRegion of mmap_base - 1),
 * where a mapping of len bytes may go: an active vRegion whose max_gap is
 * at least len, or an inactive one (which the caller activates). Returns 1
 * (active) or 0 (inactive) with *index set and *cursor moved below it, or
 * -ENOMEM when no vRegion is left. vRegion 0 is never chosen for
 * activation (it holds the unmappable low 64 KiB and, normally, the
 * program: Linux never places mmaps there top-down either) but is
 * returned if active and roomy.
 */
int vregion_next_candidate(const struct vregion_array *a, s64 *cursor, u64 len, u32 *index);

/*
 * Placement of a mapping longer than one vRegion: the highest run of n
 * consecutive vRegions, all ending at or below top (an address, e.g.
 * mmap_base), each inactive or active but wholly free (free_bytes equal to
 * its size, no vmas), index 0 excluded. 0 with *first (lowest index of the
 * run), or -ENOMEM.
 */
int vregion_find_free_run(const struct vregion_array *a, u64 top, u32 n, u32 *first);

/* Writes the array as the wire shows it (index order); returns the number
 * of entries written (at most max). */
u32 vregion_encode(const struct vregion_array *a, struct lego_mem_vregion *out, u32 max);

#endif
