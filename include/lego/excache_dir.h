/*
 * ExCache line directory: the software half of the processor monitor's
 * extended cache (paper §4.2, §4.3.2, §5.3).
 *
 * The ExCache is a contiguous physical region reserved at boot and cut into
 * 4 KiB lines. Line i lives at base + i * 4096. Lines are grouped into
 * nr_sets sets of `ways` lines each, set s owning lines
 * [s * ways, (s + 1) * ways). Every line carries a tag (ASID, virtual page
 * number) and a state:
 *
 *   FREE --insert--> FILLING --fill_done--> VALID --victim--> EVICTING
 *   EVICTING --evict_done--> FREE       FILLING --fill_abort--> FREE
 *   VALID --remove / invalidate_asid--> FREE
 *   EVICTING --evict_abort--> VALID (back at the head of the queue)
 *
 * A hit is served by the page tables and never reaches this code; the
 * fault path (a miss) runs, under the lock of the faulting page's set:
 *
 *   set = excache_dir_set_of(d, asid, vpage);
 *   lock(set);
 *   idx = excache_dir_lookup(d, asid, vpage);   // another thread filling it?
 *   if (idx == -ENOENT) {
 *           idx = excache_dir_insert(d, asid, vpage);
 *           if (idx == -ENOSPC) {
 *                   v = excache_dir_victim(d, set); // -EBUSY: retry later
 *                   ... unmap v, write it back if dirty ...
 *                   excache_dir_evict_done(d, v, written_back);
 *                   idx = excache_dir_insert(d, asid, vpage);
 *           }
 *           ... fetch the page into excache_dir_line_phys(d, idx) ...
 *           excache_dir_fill_done(d, idx);
 *   }
 *   unlock(set);
 *
 * Set index (virtually indexed): the low bits of the virtual page number
 * XORed with a per-ASID constant taken from the top bits of a Fibonacci
 * hash of the ASID. XOR with a constant is a bijection on set numbers, so
 * within one process nr_sets consecutive pages always fall into nr_sets
 * different sets (sequential scans spread over the whole cache, as in a
 * hardware cache), while the same address in two processes lands in
 * different sets (their stacks and text do not fight for one set).
 * Pages whose numbers are equal modulo nr_sets share a set in every
 * process, which is what the mremap hint of paper §5.6 needs.
 *
 * Free lines come from a per-set free list (a stack linked through the
 * lines) or from a free bitmap scanned linearly (paper §6.2 compares the
 * two); both are always built, the choice is made at init. Each set keeps
 * its VALID lines in a queue. FIFO appends at fill and never reorders, so
 * the head is the oldest fill. LRU is approximated (paper §5.3): a
 * background sweep asks the caller whether each line's PTE was accessed
 * (test-and-clear of the accessed bit) and moves accessed lines to the
 * tail, so the head is the line least recently seen referenced. The sweep
 * also records the answer in the line's referenced bit, and the victim
 * search prefers a line whose bit is clear (a second chance for lines
 * that were referenced when last swept). Victims are never pinned,
 * filling or evicting lines.
 *
 * No globals, no allocation: the caller provides the metadata memory
 * (excache_dir_meta_size()). Locking is the caller's: one lock per set.
 * Unless said otherwise a function taking a set, a line index or a tag
 * requires the lock of that set (of the line, of the tag's set); those
 * taking EXCACHE_ALL_SETS require every set's lock or exclusive use of
 * the directory (boot, tests). The counters are per set, under the set
 * lock; excache_dir_stats() sums them without locks (approximate while
 * the cache is in use).
 */
#ifndef LEGO_EXCACHE_DIR_H
#define LEGO_EXCACHE_DIR_H

#include <lego/types.h>
#include <lego/compiler.h>

#define EXCACHE_LINE_SHIFT 12
#define EXCACHE_LINE_SIZE (1UL << EXCACHE_LINE_SHIFT)
#define EXCACHE_MAX_WAYS 1024u
/* Largest line count: indices are u32 and ~0u means "none". */
#define EXCACHE_MAX_LINES (1u << 30)
#define EXCACHE_NIL 0xffffffffu
/* A set argument meaning every set (see the locking note above). */
#define EXCACHE_ALL_SETS 0xffffffffu

enum excache_evict {
	EXCACHE_EVICT_FIFO,
	EXCACHE_EVICT_LRU,
};

enum excache_free {
	EXCACHE_FREE_LIST,
	EXCACHE_FREE_BITMAP,
};

enum excache_line_state {
	EXCACHE_LINE_FREE,
	EXCACHE_LINE_FILLING,	/* tagged, data being fetched; not a victim */
	EXCACHE_LINE_VALID,	/* tagged and mapped; in the set's queue */
	EXCACHE_LINE_EVICTING,	/* chosen as victim, being unmapped/written back */
};

/* Line flags. */
#define EXCACHE_LF_DIRTY 0x01	/* hint: written since filled (caller or sweep) */
#define EXCACHE_LF_REFERENCED 0x02	/* accessed when last swept (or since fill) */

/*
 * One line's metadata, protected by the lock of the line's set. The tag
 * (asid, vpage) is meaningful unless state is FREE. next/prev link the set
 * queue (VALID lines) or, in list mode, the free list (next only).
 */
struct excache_line {
	u64 vpage;		/* virtual page number (address >> 12) */
	u32 asid;
	u32 next;
	u32 prev;
	u32 stamp;		/* set-local fill sequence number (FIFO age) */
	u8 state;		/* enum excache_line_state */
	u8 flags;		/* EXCACHE_LF_* */
	u16 pin;		/* pin count; pinned lines are never victims */
};

/* Event counts; in struct excache_set under its lock, summed by
 * excache_dir_stats(). */
struct excache_dir_stats {
	u64 lookups;		/* excache_dir_lookup calls */
	u64 misses;		/* ... that found no line */
	u64 fills;		/* lines that became VALID */
	u64 fill_aborts;
	u64 evictions;		/* victims whose eviction completed */
	u64 writebacks;		/* ... that were written back (dirty) */
	u64 alloc_list;		/* lines taken from a free list */
	u64 alloc_bitmap;	/* lines taken from a free bitmap */
	u64 alloc_full;		/* inserts refused: no free line in the set */
	u64 victim_busy;	/* victim searches that found every line busy */
	u64 removed;		/* lines freed by remove or invalidate */
	u64 sweeps;		/* set sweeps */
	u64 sweep_accessed;	/* lines a sweep found accessed */
};

/* Per-set state, protected by the set's lock. */
struct excache_set {
	u32 free_head;		/* list mode: first free line or EXCACHE_NIL */
	u32 nr_free;
	u32 q_head;		/* VALID lines: eviction order, head first */
	u32 q_tail;
	u32 q_len;
	u32 fill_seq;
	struct excache_dir_stats st;
};

struct excache_dir_config {
	phys_addr_t base;	/* physical address of line 0, 4 KiB aligned */
	u32 nr_lines;		/* ways * nr_sets, nr_sets a power of two */
	u32 ways;		/* 1 .. EXCACHE_MAX_WAYS */
	enum excache_evict evict;
	enum excache_free free;
};

/*
 * The directory. Everything but the per-set and per-line data is fixed at
 * init and read without locks.
 */
struct excache_dir {
	phys_addr_t base;
	u32 nr_lines;
	u32 ways;
	u32 nr_sets;
	u32 set_bits;		/* log2(nr_sets) */
	u32 bm_words;		/* bitmap words per set (bitmap mode) */
	enum excache_evict evict;
	enum excache_free free;
	struct excache_set *sets;	/* [nr_sets] */
	struct excache_line *lines;	/* [nr_lines] */
	/* Bitmap mode: bm_words words per set, a set bit is a free line.
	 * Sets never share a word, so per-set locks suffice. */
	unsigned long *free_map;
};

/*
 * Bytes of metadata (8-byte aligned) a directory with this configuration
 * needs, or 0 if the configuration is invalid (see excache_dir_init).
 */
size_t excache_dir_meta_size(const struct excache_dir_config *cfg);

/*
 * Sets up d over meta (at least excache_dir_meta_size(cfg) bytes, 8-byte
 * aligned, owned by the directory until the caller stops using it), every
 * line FREE. -EINVAL for a bad configuration (ways out of range, nr_lines
 * not ways times a power of two, base not aligned, bad enum) or a small
 * or misaligned buffer. No locks needed (nobody else sees d yet).
 */
int excache_dir_init(struct excache_dir *d, const struct excache_dir_config *cfg, void *meta,
		     size_t meta_size);

/* Set of a tag. No lock needed. */
u32 excache_dir_set_of(const struct excache_dir *d, u32 asid, u64 vpage);

/* Set owning line idx. No lock needed. */
static inline u32 excache_dir_line_set(const struct excache_dir *d, u32 idx)
{
	return idx / d->ways;
}

/* Physical address of line idx. No lock needed. */
static inline phys_addr_t excache_dir_line_phys(const struct excache_dir *d, u32 idx)
{
	return d->base + ((phys_addr_t)idx << EXCACHE_LINE_SHIFT);
}

/* Line containing physical address pa, or -EINVAL outside the ExCache.
 * No lock needed. */
long excache_dir_phys_line(const struct excache_dir *d, phys_addr_t pa);

/* Line idx's metadata (read under the set lock). No check of idx. */
static inline struct excache_line *excache_dir_line(const struct excache_dir *d, u32 idx)
{
	return &d->lines[idx];
}

/*
 * The fault path's lookup: the line tagged (asid, vpage) in any state but
 * FREE, or -ENOENT; counts a lookup, and a miss when nothing is found.
 * excache_dir_find does the same without counting (for other users such
 * as munmap). Lock of the tag's set.
 */
long excache_dir_lookup(struct excache_dir *d, u32 asid, u64 vpage);
long excache_dir_find(const struct excache_dir *d, u32 asid, u64 vpage);

/*
 * Takes a free line in the tag's set (free list or bitmap, as configured)
 * and tags it FILLING. Returns its index, or -ENOSPC when the set has no
 * free line (pick a victim first). The caller has looked the tag up under
 * the same lock and found nothing: the tag must not be present. Lock of
 * the tag's set.
 */
long excache_dir_insert(struct excache_dir *d, u32 asid, u64 vpage);

/* FILLING -> VALID at the tail of the set's queue (referenced, clean
 * unless dirty, e.g. a zero-filled p-local line that is written at once).
 * -EINVAL if idx is not FILLING. Lock of idx's set. */
int excache_dir_fill_done(struct excache_dir *d, u32 idx, bool dirty);
/* FILLING -> FREE (the fetch failed). -EINVAL if not FILLING. */
int excache_dir_fill_abort(struct excache_dir *d, u32 idx);

/*
 * Chooses the set's victim by the configured policy among VALID unpinned
 * lines and makes it EVICTING (out of the queue, tag kept so a concurrent
 * fault on it finds it busy). Returns its index, or -EBUSY when no line
 * qualifies (all free, filling, evicting or pinned): drop the lock, let
 * the other operations finish and retry. Lock of the set.
 */
long excache_dir_victim(struct excache_dir *d, u32 set);
/* EVICTING -> FREE; written_back says the line was written to its
 * mComponent (counted as a write-back). -EINVAL if not EVICTING. */
int excache_dir_evict_done(struct excache_dir *d, u32 idx, bool written_back);
/* EVICTING -> VALID at the head of the queue (the write-back failed; the
 * line stays the first candidate). -EINVAL if not EVICTING. */
int excache_dir_evict_abort(struct excache_dir *d, u32 idx);

/* VALID -> FREE (munmap, or a line dropped by its owner). -EBUSY if
 * pinned, -EINVAL if not VALID. Lock of idx's set. */
int excache_dir_remove(struct excache_dir *d, u32 idx);

/* Pin / unpin a VALID line (kept from eviction while the kernel uses it).
 * -EINVAL if not VALID (pin) or not pinned (unpin), -ERANGE at the pin
 * count's limit. Lock of idx's set. */
int excache_dir_pin(struct excache_dir *d, u32 idx);
int excache_dir_unpin(struct excache_dir *d, u32 idx);

/* Sets or clears the dirty hint of a line that is not FREE. */
void excache_dir_set_dirty(struct excache_dir *d, u32 idx, bool dirty);

/* Sweep callback answers (bit set). */
#define EXCACHE_SWEEP_ACCESSED 0x1
#define EXCACHE_SWEEP_DIRTY 0x2

/*
 * The caller test-and-clears the accessed (and reads the dirty) bit of the
 * PTE mapping line idx and returns EXCACHE_SWEEP_* bits. It runs under the
 * set lock and must not change the directory.
 */
typedef int (*excache_sweep_fn)(void *ctx, const struct excache_dir *d, u32 idx);

/*
 * Ages one set: asks fn about every VALID line, once, in queue order. An
 * accessed line gets its referenced bit set and, under LRU, moves to the
 * tail of the queue; an unaccessed one gets the bit cleared. A dirty answer
 * sets the dirty hint. Returns the number of accessed lines. Under FIFO
 * the queue is left alone (the bits are still updated). Lock of the set.
 */
u32 excache_dir_sweep(struct excache_dir *d, u32 set, excache_sweep_fn fn, void *ctx);

/*
 * Called for lines of one ASID; a non-zero return stops the walk and is
 * returned. It may change the line's dirty hint or pin count, nothing else.
 */
typedef int (*excache_line_fn)(void *ctx, struct excache_dir *d, u32 idx);

/*
 * Calls fn for every VALID line of asid in set (EXCACHE_ALL_SETS: in every
 * set), e.g. to flush dirty lines before fork. Returns 0 or fn's first
 * non-zero value.
 */
int excache_dir_for_each_asid(struct excache_dir *d, u32 set, u32 asid, excache_line_fn fn,
			      void *ctx);

/*
 * Frees every VALID unpinned line of asid in set (EXCACHE_ALL_SETS: in
 * every set), calling fn first for each (NULL: none; its return value is
 * ignored and it must not pin the line). Lines of asid that are filling, evicting or pinned stay (a
 * process exit that races with them retries). Returns the number freed.
 */
u32 excache_dir_invalidate_asid(struct excache_dir *d, u32 set, u32 asid, excache_line_fn fn,
				void *ctx);

/* Free lines in a set. Lock of the set. */
static inline u32 excache_dir_nr_free(const struct excache_dir *d, u32 set)
{
	return d->sets[set].nr_free;
}

/* Sums the per-set counters into *out. No lock (approximate while the
 * cache is in use). */
void excache_dir_stats(const struct excache_dir *d, struct excache_dir_stats *out);

/*
 * Checks every invariant: free structure holds exactly the FREE lines,
 * the queue exactly the VALID ones, counts agree, tags are in their own
 * set and unique. 0 or -EUCLEAN. Requires every set's lock (tests).
 */
int excache_dir_check(const struct excache_dir *d);

#endif
