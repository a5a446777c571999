/*
 * pgmap: the virtual-to-physical page map of a vRegion owner (paper §5.4:
 * "hash tables" from user virtual addresses to the physical pages that
 * back them). A chained hash table keyed by (mm id, page address) whose
 * values are opaque pointers (the owner stores the direct-map address of a
 * 4 KiB page). Pages are only entered on their first write, so the table
 * holds exactly the allocated pages.
 *
 * Pure logic (managers/memory/pgmap.c): memory for entries and bucket
 * arrays comes from callbacks, so it compiles on the host for
 * tests/unit/test_pgmap.c. The table grows (and shrinks) by powers of two
 * to keep chains short; a failed resize only leaves chains longer.
 *
 * Concurrency: none inside; the caller serialises every call on one table
 * (the owner keeps one table per address-space part, under that part's
 * mutex). Callbacks run inside calls and must not call back into the
 * same table.
 */
#ifndef LEGO_PGMAP_H
#define LEGO_PGMAP_H

#include <lego/types.h>
#include <lego/compiler.h>

#define PGMAP_PAGE_SIZE 4096ULL
#define PGMAP_MIN_BITS 4u	/* smallest table: 16 buckets */
#define PGMAP_MAX_BITS 26u	/* largest: 64 Mi buckets */

struct pgmap_entry {
	u64 mm;
	u64 addr;		/* page aligned */
	void *page;
	struct pgmap_entry *next;
};

struct pgmap_ops {
	/* size bytes (entries and bucket arrays), or NULL. */
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *p, size_t size);
	void *ctx;
};

/* Locking: the caller's. */
struct pgmap {
	struct pgmap_entry **b;	/* 1 << bits buckets (NULL when bits is 0) */
	u32 bits;
	u64 count;		/* entries */
	struct pgmap_ops ops;
};

/* Called for entries leaving the table (remove_range, clear): the owner
 * frees the page. */
typedef void (*pgmap_fn)(void *ctx, u64 mm, u64 addr, void *page);

/* An empty table; ops copied, alloc and free required. 0, or -ENOMEM when
 * the first bucket array cannot be allocated (the table is then usable and
 * tries again on the first insert), -EINVAL for missing ops. */
int pgmap_init(struct pgmap *m, const struct pgmap_ops *ops);
/* Removes everything (fn, if not NULL, for each entry) and frees the
 * buckets; the table is empty and may be used again. */
void pgmap_destroy(struct pgmap *m, pgmap_fn fn, void *ctx);

static inline u64 pgmap_count(const struct pgmap *m)
{
	return m->count;
}

/* The page of (mm, addr) or NULL. addr is rounded down to a page. */
void *pgmap_lookup(const struct pgmap *m, u64 mm, u64 addr);
/* Enter (mm, addr) -> page (page not NULL, addr page aligned). 0, -EEXIST
 * (already present: unchanged), -EINVAL, -ENOMEM. */
int pgmap_insert(struct pgmap *m, u64 mm, u64 addr, void *page);
/* Remove (mm, addr); returns its page or NULL if absent. */
void *pgmap_remove(struct pgmap *m, u64 mm, u64 addr);

/* Remove every entry of mm in [start, end) (page aligned), calling fn for
 * each. Visits whichever is smaller: the pages of the range or the table.
 * Returns the number removed. */
u64 pgmap_remove_range(struct pgmap *m, u64 mm, u64 start, u64 end, pgmap_fn fn, void *ctx);

/* Re-key every entry of mm in [from, from + len) to the same offset in
 * [to, to + len) (mremap moving pages; no allocation, cannot fail). An
 * entry already at a destination address is removed first with fn. The
 * ranges may overlap. Returns the number moved. */
u64 pgmap_move_range(struct pgmap *m, u64 mm, u64 from, u64 to, u64 len, pgmap_fn fn,
		     void *ctx);

/* Calls fn for every entry of mm (mm ~0: of every mm), in no particular
 * order; fn must not change the table. Returns the number visited. */
u64 pgmap_for_each(const struct pgmap *m, u64 mm, pgmap_fn fn, void *ctx);

/* Checks the structure (every entry in its bucket, count, no duplicate
 * keys); 0 or -EUCLEAN. For tests. */
int pgmap_check(const struct pgmap *m);

#endif
