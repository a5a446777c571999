/*
 * A set of virtual page numbers: the ExCache's record of which pages of a
 * process's p-local ranges exist at their vRegion owner (paper §4.4.2).
 * A p-local page is filled with zeros on first touch without asking the
 * owner; once such a page has been written back it exists remotely, and
 * a later miss must fetch it instead. The set holds exactly those pages.
 *
 * Open addressing with linear probing and tombstones; grows (by powers of
 * two) at 5/8 occupancy counting tombstones, and a rehash drops them.
 * Memory comes from callbacks so the code compiles on the host
 * (tests/unit/test_excache_pageset.c).
 *
 * Pure logic (managers/processor/excache_pageset.c). No locks inside: the
 * caller serialises every call on one set (the process's ExCache lock).
 */
#ifndef LEGO_EXCACHE_PAGESET_H
#define LEGO_EXCACHE_PAGESET_H

#include <lego/types.h>

#define EXCACHE_PAGESET_MIN_CAP 16u
#define EXCACHE_PAGESET_MAX_CAP (1u << 30)

struct excache_pageset_ops {
	void *(*alloc)(void *ctx, size_t size);	/* zeroing not needed; NULL on failure */
	void (*free)(void *ctx, void *p, size_t size);
	void *ctx;
};

/* Locking: the caller's. slots[i] is 0 (empty), 1 (tombstone) or
 * vpage + 2 (a member). */
struct excache_pageset {
	u64 *slots;		/* cap entries, NULL while cap is 0 */
	u32 cap;		/* 0 or a power of two */
	u32 count;		/* members */
	u32 tombs;		/* tombstones */
	struct excache_pageset_ops ops;
};

/* An empty set (allocates nothing yet). */
void excache_pageset_init(struct excache_pageset *s, const struct excache_pageset_ops *ops);
/* Frees the table; the set is empty and usable again. */
void excache_pageset_clear(struct excache_pageset *s);
/* 0 (added or already there), -ENOMEM (the set is unchanged), -EINVAL for
 * a page number that cannot be stored (>= 2^62). */
int excache_pageset_add(struct excache_pageset *s, u64 vpage);
bool excache_pageset_has(const struct excache_pageset *s, u64 vpage);
/* true if vpage was a member. */
bool excache_pageset_del(struct excache_pageset *s, u64 vpage);
/* Removes every member in [lo, hi); returns how many. */
u64 excache_pageset_del_range(struct excache_pageset *s, u64 lo, u64 hi);
/* dst (empty or not) becomes a copy of src: 0 or -ENOMEM (dst unchanged). */
int excache_pageset_copy(struct excache_pageset *dst, const struct excache_pageset *src);

static inline u32 excache_pageset_count(const struct excache_pageset *s)
{
	return s->count;
}

#endif
