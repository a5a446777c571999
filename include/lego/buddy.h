/*
 * Binary buddy allocator over page frame numbers.
 *
 * A zone covers the page frames [base_pfn, base_pfn + npages). Memory is
 * handed out in blocks of 2^order pages, order 0 .. BUDDY_MAX_ORDER - 1,
 * and every block is naturally aligned by absolute pfn: a block of order k
 * starts at a pfn that is a multiple of 2^k. That makes the physical
 * address of an order-k block 2^k pages aligned whatever the zone's base,
 * and gives each block exactly one buddy, the block at pfn ^ 2^k. When a
 * block is freed and its buddy is also a whole free block of the same
 * order, the two merge into one block of order k + 1, and so on upwards.
 * A buddy that falls outside the zone never merges, so a zone whose ends
 * are not aligned simply has smaller blocks near its edges.
 *
 * The caller supplies one struct buddy_page per frame. Only the first page
 * of a block (its head) carries the block's state and order; the other
 * pages of a block have no flags. That lets buddy_free() reject, from the
 * metadata alone, any pfn that is not the head of an allocated block of the
 * stated order, including a second free of the same block. Free blocks are
 * linked through their head's buddy_page into the zone's per-order lists.
 *
 * All pages start reserved (neither free nor allocated); boot code hands
 * the usable ranges over with buddy_free_range(). Reserved pages can never
 * be freed with buddy_free().
 */
#ifndef LEGO_BUDDY_H
#define LEGO_BUDDY_H

#include <lego/types.h>
#include <lego/compiler.h>
#include <lego/list.h>

#define BUDDY_MAX_ORDER 11

/* buddy_page.flags */
#define BUDDY_PAGE_RESERVED 0x1u /* not (yet) managed by the allocator */
#define BUDDY_PAGE_FREE 0x2u     /* head of a free block, on free[order] */
#define BUDDY_PAGE_ALLOC 0x4u    /* head of an allocated block */

/* Per page frame metadata. Locking: caller serialises (with the zone). */
struct buddy_page {
	struct list_head link; /* on zone->free[order] while BUDDY_PAGE_FREE */
	u32 flags;             /* BUDDY_PAGE_*; 0 for a non-head page */
	u8 order;              /* block order; meaningful on heads only */
};

/*
 * A zone of page frames. Locking: caller serialises every call on a zone,
 * which covers all fields below and the pages array.
 */
struct buddy_zone {
	pfn_t base_pfn;
	u64 npages;
	struct buddy_page *pages;             /* npages entries, caller owned */
	struct list_head free[BUDDY_MAX_ORDER]; /* free block heads by order */
	u64 nr_free[BUDDY_MAX_ORDER];         /* blocks on each free list */
	u64 free_pages;                       /* pages in all free blocks */
};

/* Sets up a zone whose pages all start reserved. meta has npages entries. */
void buddy_init(struct buddy_zone *z, pfn_t base_pfn, u64 npages, struct buddy_page *meta);

/*
 * Releases reserved pages [pfn, pfn + count) to the allocator as the
 * largest naturally aligned blocks that fit, merging with free neighbours.
 * The part of the range outside the zone and pages that are not reserved
 * (already released or allocated) are skipped.
 */
void buddy_free_range(struct buddy_zone *z, pfn_t pfn, u64 count);

/* pfn of a free block of 2^order pages, -ENOMEM if none, -EINVAL if order
 * is not below BUDDY_MAX_ORDER. */
s64 buddy_alloc(struct buddy_zone *z, unsigned order);

/*
 * Returns a block from buddy_alloc(). 0 on success; -EINVAL, leaving the
 * zone untouched, if pfn is outside the zone, not aligned to the order, or
 * not the head of an allocated block of exactly this order (which covers
 * double frees and frees of reserved pages).
 */
int buddy_free(struct buddy_zone *z, pfn_t pfn, unsigned order);

/* Number of free pages in the zone. */
u64 buddy_free_pages(const struct buddy_zone *z);

/* True if pfn is inside the zone and part of a free block. */
bool buddy_is_free(const struct buddy_zone *z, pfn_t pfn);

/* Order of the allocated block whose head is pfn, or -EINVAL if pfn is not
 * such a head. */
int buddy_alloc_order(const struct buddy_zone *z, pfn_t pfn);

/*
 * Checks every invariant of the zone (list membership, flags, alignment,
 * counters, no unmerged free buddies). 0 if consistent, -EINVAL otherwise.
 * Costs O(npages); meant for tests and self-tests.
 */
int buddy_check(const struct buddy_zone *z);

#endif
