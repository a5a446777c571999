/*
 * vma trees: the fine-grained level of LegoOS's two-level distributed
 * virtual memory (paper §4.4.1, Figure 6).
 *
 * The home mComponent of a process splits its address space into vRegions
 * and decides which mComponent owns each; the owner of a vRegion keeps the
 * vmas (virtual memory areas: address range, permissions, backing) that
 * lie in it in a balanced search tree and performs the allocation inside
 * it. This file is that lower level: one struct vma_space manages the
 * address range [lo, hi) (one vRegion, several, or a whole user address
 * space in the host tests) with Linux semantics for mmap, munmap, mprotect,
 * mremap and brk, down to how vmas split and merge, so that the layout
 * after a sequence of calls (number and bounds of the vmas) is the one
 * /proc/self/maps shows on Linux for the same sequence. The reference is
 * Linux x86-64 as of 6.18; deviations are listed at the end of this
 * comment and at each call.
 *
 * Pure logic: this header and managers/memory/vma.c include only
 * lego/{types,compiler,errno}.h, are built freestanding in the memory
 * monitor and on the host for tests/unit/test_vma.c. Memory for vmas and
 * everything that concerns pages go through callbacks (struct vma_ops).
 *
 * Concurrency: none inside. The caller serialises all calls on one
 * vma_space (the owner holds its per-process lock around each request);
 * "caller's lock" below means that lock. Callbacks run inside calls and
 * must not call back into the same space.
 *
 * Units: addresses and lengths are bytes; the page size is VMA_PAGE_SIZE
 * (4 KiB). Errors are negative errno values (Linux numbers). Calls that
 * return an address return it as a non-negative s64, or -errno.
 *
 * Atomicity: every call either succeeds or leaves the space unchanged,
 * except where Linux itself makes partial changes and reports an error,
 * which is reproduced and said at the call (mprotect over a hole; an
 * mremap that moves several vmas).
 *
 * Merging. After every call no two adjacent vmas are compatible: they
 * differ in prot, denyprot, flags (VMA_F_*), kind or file, or, for file and
 * shared mappings, their page offsets are not contiguous. Linux reaches the
 * same state by trying to merge at every boundary an operation touches,
 * which is why the layouts agree. Two exceptions come from Linux too: brk
 * never extends a vma that ends at start_brk, and a stack growing down onto
 * another GROWSDOWN vma is not merged with it (a later call touching that
 * boundary merges them, as on Linux). Linux also refuses to merge private
 * anonymous memory whose pages belong to different anon_vmas (memory that
 * was written, then moved with mremap or created separately and written);
 * page state is the owner's business and is not modelled here, so that case
 * merges here and not on Linux. The host comparison in the unit tests
 * therefore never writes to the memory it maps.
 *
 * Differences from Linux kept on purpose:
 *  - vm.max_map_count: a call fails with -ENOMEM (changing nothing) iff its
 *    result would hold more than max_vmas vmas. Linux checks before merging
 *    and lets mmap reach max_map_count + 1.
 *  - No RLIMIT_AS / RLIMIT_MEMLOCK / overcommit accounting, no mlock
 *    population, no hugetlb (MAP_HUGETLB: -EINVAL), no MAP_DROPPABLE
 *    (-EINVAL), no userfaultfd, no mseal, no memory policies, no pkeys,
 *    no READ_IMPLIES_EXEC.
 *  - Addresses below lo behave like Linux's below mmap_min_addr (MAP_FIXED
 *    there: -EPERM) and hi like TASK_SIZE.
 *  - mremap(MREMAP_FIXED) whose old_len tail runs past hi fails with
 *    -EINVAL before doing anything (Linux first unmaps the destination).
 *  - A space never merges across its own bounds: memory that Linux would
 *    hold in one vma across a vRegion boundary is one vma in each space
 *    (whoever prints /proc/self/maps for several spaces joins them).
 */
#ifndef LEGO_VMA_H
#define LEGO_VMA_H

#include <lego/types.h>
#include <lego/compiler.h>

#define VMA_PAGE_SHIFT 12
#define VMA_PAGE_SIZE (1ULL << VMA_PAGE_SHIFT)

/* Huge page size used for Linux's alignment of large anonymous mappings. */
#define VMA_PMD_SIZE (2ULL << 20)

/* Linux defaults for struct vma_space_params. */
#define VMA_DEFAULT_MAX_VMAS 65530u                        /* vm.max_map_count */
#define VMA_DEFAULT_STACK_GUARD_GAP (256ULL * VMA_PAGE_SIZE) /* stack_guard_gap= */

/*
 * mmap/mprotect/mremap argument values. They are Linux x86-64's, so the
 * syscall layer passes user arguments through unchanged (the LEGO_ prefix
 * only keeps them apart from a host's <sys/mman.h> in the unit tests).
 */
#define LEGO_PROT_NONE 0x0u
#define LEGO_PROT_READ 0x1u
#define LEGO_PROT_WRITE 0x2u
#define LEGO_PROT_EXEC 0x4u
#define LEGO_PROT_SEM 0x8u		/* accepted and ignored, as on Linux */
#define LEGO_PROT_GROWSDOWN 0x01000000u	/* mprotect only */
#define LEGO_PROT_GROWSUP 0x02000000u	/* mprotect only: -EINVAL (no GROWSUP vmas) */

#define LEGO_MAP_SHARED 0x01u
#define LEGO_MAP_PRIVATE 0x02u
#define LEGO_MAP_SHARED_VALIDATE 0x03u
#define LEGO_MAP_TYPE 0x0fu
#define LEGO_MAP_FIXED 0x10u
#define LEGO_MAP_ANONYMOUS 0x20u
#define LEGO_MAP_32BIT 0x40u
#define LEGO_MAP_GROWSDOWN 0x100u
#define LEGO_MAP_DENYWRITE 0x800u	/* ignored */
#define LEGO_MAP_EXECUTABLE 0x1000u	/* ignored */
#define LEGO_MAP_LOCKED 0x2000u
#define LEGO_MAP_NORESERVE 0x4000u
#define LEGO_MAP_POPULATE 0x8000u	/* ignored (no population here) */
#define LEGO_MAP_NONBLOCK 0x10000u	/* ignored */
#define LEGO_MAP_STACK 0x20000u
#define LEGO_MAP_HUGETLB 0x40000u	/* -EINVAL */
#define LEGO_MAP_SYNC 0x80000u		/* MAP_SHARED_VALIDATE only: -EOPNOTSUPP */
#define LEGO_MAP_FIXED_NOREPLACE 0x100000u
#define LEGO_MAP_UNINITIALIZED 0x4000000u /* ignored */

#define LEGO_MREMAP_MAYMOVE 1u
#define LEGO_MREMAP_FIXED 2u
#define LEGO_MREMAP_DONTUNMAP 4u

/* What backs a vma. Heap and stack are not kinds: like Linux, [heap] and
 * [stack] are anonymous vmas recognised by address (start_brk..brk,
 * start_stack), and the heap merges with adjacent compatible anonymous
 * memory exactly as Linux's does. */
enum vma_kind {
	VMA_ANON = 0,	/* zero-filled memory; with VMA_F_SHARED a shared object */
	VMA_FILE = 1,	/* a file: vma->file is the caller's handle, pgoff the offset */
};

/*
 * vma->flags. All of them take part in merging (compatible vmas have equal
 * flags), mirroring the Linux vm_flags bits they stand for.
 */
#define VMA_F_SHARED 0x01u	/* MAP_SHARED: one object, writes shared */
#define VMA_F_GROWSDOWN 0x02u	/* MAP_GROWSDOWN: grows with vma_expand_stack();
				 * keeps stack_guard_gap free below it */
#define VMA_F_NORESERVE 0x04u	/* MAP_NORESERVE */
#define VMA_F_ACCOUNT 0x08u	/* Linux VM_ACCOUNT: private writable memory is
				 * "charged"; kept so merges match Linux: set on
				 * private writable non-NORESERVE mappings; an
				 * mprotect dropping PROT_WRITE clears it on
				 * anonymous vmas but not on file vmas */
#define VMA_F_LOCKED 0x10u	/* MAP_LOCKED; cleared on the source of an
				 * MREMAP_DONTUNMAP */
#define VMA_F_NOHUGEPAGE 0x20u	/* MAP_STACK (Linux >= 6.7 turns it into
				 * VM_NOHUGEPAGE, which prevents merges) */

/* Private to vma.c: tree and transaction linkage inside each vma. */
struct vma_node {
	struct vma *left, *right, *parent;
	struct vma *tx_next;	/* on a transaction's added/removed list */
	u64 gap;		/* free bytes between the predecessor's end (or
				 * lo) and this vma's start */
	u64 max_gap;		/* largest gap in this subtree */
	s32 height;		/* AVL height, leaves 1 */
	u32 tx;			/* transaction state bits */
};

/*
 * One vma. Locking: the caller's lock of the vma_space it is in. The
 * fields are read-only for the caller: a vma in a space is never changed
 * in place; an operation that changes a range replaces the affected vmas by
 * new ones (allocated with ops->alloc), so a struct vma pointer stays valid
 * only until the next modifying call on its space.
 */
struct vma {
	u64 start;	/* first byte, page aligned */
	u64 end;	/* one past the last byte, page aligned, > start */
	u32 prot;	/* LEGO_PROT_READ | _WRITE | _EXEC */
	u32 denyprot;	/* prot bits mprotect may never add (-EACCES): Linux's
			 * cleared VM_MAY* bits, e.g. PROT_WRITE for a shared
			 * mapping of a file opened read-only */
	u32 flags;	/* VMA_F_* */
	u32 kind;	/* enum vma_kind */
	u64 file;	/* VMA_FILE: the caller's file handle; shared anonymous:
			 * the object id (vma_space.next_object); else 0 */
	u64 pgoff;	/* file/object page offset of start; 0 for private
			 * anonymous memory */
	struct vma_node node;
};

/*
 * Callbacks. Changes are prepared first and applied as a whole ("commit");
 * unmap and move run at commit, in this order: unmap (the pages of every
 * range that stopped being mapped), move (mremap), then get for every vma
 * that entered the space and put for every vma that left it, then free.
 * A failed call makes no unmap/move/get/put calls; it only frees the vmas
 * it allocated.
 */
struct vma_ops {
	/* A struct vma (contents undefined), or NULL: the call fails with
	 * -ENOMEM. The caller may embed struct vma in a larger object. */
	struct vma *(*alloc)(void *ctx);
	void (*free)(void *ctx, struct vma *v);
	/* Optional: v entered / left the space. A split or merge replaces
	 * vmas by new ones, so these pair up per struct vma; use them to
	 * reference-count what v->file names. get calls precede put calls. */
	void (*get)(void *ctx, const struct vma *v);
	void (*put)(void *ctx, const struct vma *v);
	/* Optional: [start, end) (inside v, page aligned) is no longer mapped:
	 * free its pages (write back dirty shared file pages first). */
	void (*unmap)(void *ctx, const struct vma *v, u64 start, u64 end);
	/* Optional: mremap moved the pages of [from, from + len) to
	 * [to, to + len); the destination's old pages were unmapped before. */
	void (*move)(void *ctx, u64 from, u64 to, u64 len);
	void *ctx;
};

/* Parameters of vma_space_init(). Zero is a usable default for each. */
struct vma_space_params {
	u64 lo, hi;		/* managed range, page aligned, lo < hi */
	u64 mmap_base;		/* top-down allocation below this (0: hi) */
	u64 legacy_base;	/* bottom-up fallback above this (0: lo) */
	u64 stack_guard_gap;	/* bytes kept free below GROWSDOWN vmas; Linux
				 * uses VMA_DEFAULT_STACK_GUARD_GAP; 0: none */
	u32 max_vmas;		/* vma count limit (0: VMA_DEFAULT_MAX_VMAS) */
	bool thp_align;		/* place private anonymous mappings without a
				 * hint whose length is a multiple of 2 MiB on a
				 * 2 MiB boundary, as Linux >= 6.7 does with THP */
};

/*
 * An address space (or a part of one). Locking: every field is protected
 * by the caller's lock. The caller may read everything; after init it may
 * set mmap_base, start_stack, stack_limit and next_object directly and the heap with
 * vma_set_brk(); everything else changes only through the calls below.
 */
struct vma_space {
	struct vma *root;	/* AVL tree ordered by start */
	u32 nr_vmas;
	u32 max_vmas;
	u64 lo, hi, mmap_base, legacy_base, stack_guard_gap;
	bool thp_align;
	struct vma_ops ops;

	u64 start_brk;		/* heap: [start_brk, PAGE_ALIGN(brk)) */
	u64 brk;		/* current break (byte granular, like Linux) */
	u64 brk_limit;		/* brk - start_brk may not exceed this (the
				 * RLIMIT_DATA role); ~0: unlimited */
	u64 start_stack;	/* the vma containing it is [stack]; 0: none */
	u64 stack_limit;	/* largest size vma_expand_stack() may reach
				 * (RLIMIT_STACK); ~0: unlimited */
	u64 next_object;	/* next id for a shared anonymous object */
};

/* ---------------------------------------------------------------------- */
/* Set-up and tear-down                                                    */

/* An empty space. p and ops are copied; ops->alloc and ops->free are
 * required. No heap (start_brk = brk = 0), no stack label. Returns 0, or
 * -EINVAL if the range is empty or not page aligned (the space is then
 * left empty over [0, 0) and every call fails). */
int vma_space_init(struct vma_space *s, const struct vma_space_params *p,
		   const struct vma_ops *ops);

/* Unmaps everything (unmap, put and free for every vma, in address order);
 * the space stays initialised and empty. */
void vma_space_clear(struct vma_space *s);

/*
 * fork: fills the empty space dst with copies of src's vmas and copies the
 * heap, stack and object-id fields (not the parameters: dst was initialised
 * with its own, normally the same). get is called for each copy; no page
 * callback is made (the owner copies pages itself). 0, or -ENOMEM (dst
 * left empty), -EINVAL if dst is not empty or src's vmas do not fit in
 * dst's range.
 */
int vma_space_copy(struct vma_space *dst, const struct vma_space *src);

/* ---------------------------------------------------------------------- */
/* Lookup and iteration (O(log n), no allocation)                          */

/* The vma containing addr, or NULL. */
struct vma *vma_lookup(const struct vma_space *s, u64 addr);
/* The first vma ending after addr (Linux find_vma()): the one containing
 * addr, else the next one above it, or NULL. */
struct vma *vma_find(const struct vma_space *s, u64 addr);
/* The first vma that intersects [start, end), or NULL. */
struct vma *vma_find_intersection(const struct vma_space *s, u64 start, u64 end);
struct vma *vma_first(const struct vma_space *s);
struct vma *vma_last(const struct vma_space *s);
struct vma *vma_next(const struct vma *v);
struct vma *vma_prev(const struct vma *v);

#define vma_for_each(v, s) for ((v) = vma_first(s); (v); (v) = vma_next(v))

static inline u32 vma_count(const struct vma_space *s)
{
	return s->nr_vmas;
}

/* Free bytes below v that top-down and hinted placement must keep clear
 * (Linux vm_start_gap()): v->start less the guard gap for GROWSDOWN vmas. */
u64 vma_start_gap(const struct vma_space *s, const struct vma *v);

/* ---------------------------------------------------------------------- */
/* Address placement                                                       */

/*
 * Chooses where a new mapping of len bytes goes (Linux x86-64
 * get_unmapped_area with the default top-down layout), without mapping it.
 * flags are LEGO_MAP_* bits; those that matter: FIXED, 32BIT, SHARED and
 * ANONYMOUS (for the 2 MiB alignment). align: 0 or a power of two >= the
 * page size; the result is a multiple of it (a gap must then hold
 * len + align - page size, as in Linux).
 *
 *  - len (rounded up to pages) 0 or longer than the range: -ENOMEM.
 *  - MAP_FIXED: addr itself if it is page aligned (-EINVAL) and
 *    [addr, addr + len) ends at or below hi (-ENOMEM) and starts at or above
 *    lo (-EPERM); nothing else is checked.
 *  - MAP_32BIT: lowest fitting gap in [1 GiB, 2 GiB) (Linux without
 *    randomisation).
 *  - A hint (addr rounded down to a page; 0 means none, below lo means lo)
 *    is used if [hint, hint + len) lies in the range, is free and ends at or
 *    below the next vma's vma_start_gap().
 *  - Otherwise top-down: the highest gap in [lo, mmap_base) that fits, the
 *    mapping at its top; private anonymous mappings without a hint whose
 *    length is a multiple of 2 MiB, with thp_align, search for len + 2 MiB
 *    and are placed on a 2 MiB boundary inside (Linux's THP alignment).
 *    Guard gaps as Linux applies them: if the gap found lies right below a
 *    GROWSDOWN vma whose guard gap reaches into it, the search goes on
 *    below the start of that guard gap, skipping all gaps above it.
 *  - If no gap fits, bottom-up: the lowest gap in [legacy_base, hi) (one
 *    running into a GROWSDOWN vma's guard gap is skipped).
 */
s64 vma_get_unmapped_area(const struct vma_space *s, u64 addr, u64 len, u64 align,
			  u32 flags);

/* ---------------------------------------------------------------------- */
/* The memory system calls                                                 */

/* Arguments of vma_mmap(), as in mmap(2). */
struct vma_mmap_req {
	u64 addr;	/* hint, or the address with MAP_FIXED(_NOREPLACE) */
	u64 len;	/* bytes, rounded up to pages */
	u32 prot;	/* LEGO_PROT_*; bits other than R/W/X are ignored */
	u32 flags;	/* LEGO_MAP_* */
	u64 off;	/* file offset in bytes (page aligned); ignored for
			 * anonymous mappings */
	u64 file;	/* file handle if !MAP_ANONYMOUS (the syscall layer has
			 * resolved the fd); stored in vma->file */
	u32 denyprot;	/* prot bits the file's open mode forbids for this
			 * mapping (PROT_WRITE for a MAP_SHARED mapping of a
			 * read-only fd, PROT_EXEC on a noexec mount...); a
			 * prot asking for one is -EACCES, and later
			 * mprotects may not add them */
};

/*
 * mmap(2). Returns the address or:
 *  -EINVAL  len 0; off not page aligned; no or unknown MAP_TYPE;
 *           MAP_SHARED_VALIDATE on anonymous memory; MAP_GROWSDOWN on
 *           anything but private anonymous memory; MAP_HUGETLB; MAP_FIXED
 *           address not page aligned
 *  -EOPNOTSUPP  MAP_SHARED_VALIDATE of a file with flags outside Linux's
 *           LEGACY_MAP_MASK and MAP_32BIT (so MAP_SYNC: no DAX here, and,
 *           as on Linux, MAP_FIXED_NOREPLACE)
 *  -EOVERFLOW  the file offset plus the length overflows, or for a file
 *           goes beyond Linux's largest file size (2^63 - 1)
 *  -ENOMEM  len overflows when rounded, no room, MAP_FIXED beyond hi,
 *           the vma limit, or ops->alloc failed
 *  -EPERM   MAP_FIXED below lo
 *  -EEXIST  MAP_FIXED_NOREPLACE and something is mapped in the range
 *  -EACCES  prot asks for a bit in denyprot
 * MAP_FIXED replaces what was mapped in the range (unmap callback for it).
 * Shared anonymous mappings get a new object id (vma->file), pgoff 0.
 */
s64 vma_mmap(struct vma_space *s, const struct vma_mmap_req *req);

/*
 * munmap(2): unmaps [start, start + PAGE_ALIGN(len)), splitting vmas at
 * both ends; holes are fine. 0, or -EINVAL (start not page aligned, len 0,
 * range beyond hi), -ENOMEM (splitting one vma in two would pass the vma
 * limit; alloc failure).
 */
int vma_munmap(struct vma_space *s, u64 start, u64 len);

/*
 * mprotect(2) on [start, start + PAGE_ALIGN(len)), splitting vmas at the
 * ends and merging afterwards. len 0: 0. -EINVAL: start not page aligned,
 * unknown prot bits, both GROWSDOWN and GROWSUP, GROWSUP, or GROWSDOWN on
 * a vma without VMA_F_GROWSDOWN (PROT_GROWSDOWN extends the range down to
 * the start of the vma holding it). -ENOMEM: the range wraps, start is not
 * mapped, or there is a hole in the range; -EACCES: prot asks for a bit in
 * some vma's denyprot.
 *
 * Exactly like Linux, a hole or a denied vma after a mapped beginning does
 * not make the call a no-op: [start, first hole or denied vma) is changed
 * and then -ENOMEM or -EACCES is returned. (The vma limit and allocation
 * failures are checked for that whole part first; they change nothing.)
 */
int vma_mprotect(struct vma_space *s, u64 start, u64 len, u32 prot);

/*
 * mremap(2) on [old_addr, old_addr + old_len). Returns the (new) address:
 *  - old_len > new_len, no MREMAP_FIXED: the tail is unmapped (it may span
 *    several vmas and holes), same address. old_len == new_len: no-op.
 *  - growing: the range must lie inside one vma (-EFAULT); if it reaches
 *    that vma's end and the following new_len - old_len bytes are free and
 *    below hi, the vma grows in place (and merges with a compatible next
 *    one); else, with MREMAP_MAYMOVE, it moves to a new area chosen like
 *    mmap with no hint (same kind, pages moved: ops->move); else -ENOMEM.
 *  - MREMAP_FIXED (needs MAYMOVE): moves to new_addr, which must be page
 *    aligned, end at or below hi and not overlap the old range (-EINVAL);
 *    what was at the destination is unmapped first; a destination below
 *    lo is -EPERM. When old_len == new_len the old range may span several
 *    vmas and holes (Linux >= 6.17): each vma part moves by the same
 *    offset, one after the other, and the destination parts facing holes
 *    are left alone; a failure there (-ENOMEM only) leaves the parts moved
 *    so far moved, as on Linux. Otherwise min(old_len, new_len) bytes from
 *    old_addr must lie inside one vma (-EFAULT) and a longer old_len has its
 *    tail unmapped.
 *  - MREMAP_DONTUNMAP (needs MAYMOVE and old_len == new_len): moves the
 *    pages but leaves the old range mapped (empty, VMA_F_LOCKED cleared);
 *    without MREMAP_FIXED, new_addr is a placement hint (still checked as
 *    above).
 *  - old_len 0 on a shared mapping: a second mapping of the same object
 *    pages (no pages move); on a private mapping -EINVAL.
 * Other errors: -EINVAL for unknown flags, FIXED without MAYMOVE,
 * DONTUNMAP without MAYMOVE or with a size change, old_addr not page
 * aligned, new_len 0 (or rounding overflows), a file offset overflow;
 * -EFAULT when old_addr is not mapped; -ENOMEM when there is no room or the
 * vma limit or an allocation fails.
 */
s64 vma_mremap(struct vma_space *s, u64 old_addr, u64 old_len, u64 new_len, u32 flags,
	       u64 new_addr);

/* Sets up an empty heap at start_brk (rounded up to a page) with the
 * given limit (~0 for none). The loader calls it after mapping the data
 * segment. Does not touch the vmas. */
void vma_set_brk(struct vma_space *s, u64 start_brk, u64 brk_limit);

/*
 * brk(2): moves the break to brk and returns the new break, or the old one
 * if the request is refused (below start_brk, over brk_limit, the grown
 * heap would come within a page (plus the guard gap of a GROWSDOWN vma) of
 * the next vma or pass hi, vma limit, allocation failure). Growing maps
 * [PAGE_ALIGN(old), PAGE_ALIGN(new)) anonymous rw private, extending the
 * vma ending at the old break when compatible (but never one ending at
 * start_brk, like Linux); shrinking unmaps [PAGE_ALIGN(new),
 * PAGE_ALIGN(old)) if anything is mapped there (else the call is refused).
 */
u64 vma_brk(struct vma_space *s, u64 brk);

/*
 * Stack growth on a fault at addr (Linux expand_stack()): if addr is below
 * a VMA_F_GROWSDOWN vma and above the previous one, the vma grows down to
 * addr's page. 0 if addr is (now) mapped; -EFAULT if no GROWSDOWN vma is
 * above addr; -EPERM if addr is below lo; -ENOMEM if the previous vma is
 * accessible, not GROWSDOWN and closer than stack_guard_gap, the stack
 * would exceed stack_limit, or the vma limit/an allocation fails. The grown
 * part is not merged with a vma below it (Linux doesn't either).
 */
int vma_expand_stack(struct vma_space *s, u64 addr);

/* ---------------------------------------------------------------------- */
/* Output and checking                                                     */

/* Name for a vma in vma_format_maps(); NULL: the built-in choice. */
typedef const char *(*vma_name_fn)(void *ctx, const struct vma *v);

/*
 * Writes the vmas as /proc/self/maps does, one line each:
 * "start-end rwxp offset 00:00 0" (hex at least 8 digits; 's' for shared;
 * offset pgoff * 4096 for file and shared vmas, else 0), then, if the vma
 * has a name, spaces up to column 73 and the name. Names: name(ctx, v) if
 * given and not NULL; else "/dev/zero (deleted)" for shared anonymous
 * memory (Linux's shmem file name), "[heap]" for a private anonymous vma
 * with start <= brk and end >= start_brk (when start_brk is set), "[stack]"
 * for one containing start_stack (when set). Lines without a name end
 * with a space, as on Linux. Like snprintf: returns the full length and
 * writes at most size - 1 bytes plus a NUL (if size > 0).
 */
size_t vma_format_maps(const struct vma_space *s, char *buf, size_t size, vma_name_fn name,
		       void *ctx);

/*
 * Checks every invariant: tree order, parent links, AVL heights and
 * balance, the gap augmentation, vma alignment and bounds, no overlap, no
 * two adjacent compatible vmas, the count. 0, or -EUCLEAN with *why (if
 * why is not NULL) naming the first violation. For tests and debugging.
 */
int vma_check(const struct vma_space *s, const char **why);

#endif
