/*
 * vma trees and the Linux memory-mapping calls on them. The API and the
 * semantics are described in include/lego/vma.h; this comment explains the
 * implementation.
 *
 * Tree. An AVL tree ordered by start, with parent pointers (for in-order
 * steps without a stack), augmented for gap search: each vma caches the
 * free space between its predecessor (or lo) and its start (node.gap), and
 * each node the largest such gap in its subtree (node.max_gap), so that the
 * highest or lowest gap of at least a given size is found by descending
 * only into subtrees that can hold one. A vma's gap depends on its
 * predecessor, so insert and remove also refresh the successor's gap; every
 * change climbs to the root restoring heights, balance and max_gap. Stack
 * guard gaps are applied by the searches, the way Linux applies them.
 *
 * Rewrites. Every change of the layout is expressed as "the range
 * [start, end) becomes X" with X one of: nothing (munmap), a new mapping
 * (mmap, and the destination of mremap), the same vmas with another prot
 * (mprotect) or with flags cleared. rewrite() walks the vmas that overlap
 * or touch the range, cuts them into pieces (the parts left and right of
 * the range stay as they are, the inside is replaced or transformed),
 * joins consecutive compatible pieces into runs, and makes one vma per run.
 * A run that is exactly an existing, unchanged vma keeps that vma; the
 * other vmas of the window leave the tree and new ones are allocated for
 * the other runs. Because the window includes the vmas touching the range
 * from either side, merging with the neighbours falls out of the same
 * walk, and since no two adjacent vmas outside a window are compatible
 * (the invariant), none of them needs looking at.
 *
 * Transactions. A call may perform several rewrites (mremap: unmap the
 * tail, map the destination, unmap the source). They are applied to the
 * tree at once, but vmas taken out are kept on the transaction's removed
 * list and new ones are remembered on its added list, so that a failure
 * (allocation, or the vma count above max_vmas at the end) restores the
 * tree exactly: the added vmas are taken out and freed, the removed ones
 * put back. Only a successful call ("commit") makes the callbacks: unmap
 * for the parts of removed vmas that lie in the ranges the call cleared,
 * move for mremap, get/put for the vmas that entered/left, free.
 */
#include <lego/vma.h>
#include <lego/errno.h>

#ifndef EOVERFLOW
#define EOVERFLOW 75	/* Linux's value; not (yet) in lego/errno.h */
#endif

#define PAGE VMA_PAGE_SIZE
#define PSHIFT VMA_PAGE_SHIFT
#define PMD VMA_PMD_SIZE

/* Linux's LEGACY_MAP_MASK: what MAP_SHARED_VALIDATE accepts (no DAX here). */
#define LEGACY_MAP_MASK                                                                   \
	(LEGO_MAP_SHARED | LEGO_MAP_PRIVATE | LEGO_MAP_FIXED | LEGO_MAP_ANONYMOUS |       \
	 LEGO_MAP_DENYWRITE | LEGO_MAP_EXECUTABLE | LEGO_MAP_UNINITIALIZED |              \
	 LEGO_MAP_GROWSDOWN | LEGO_MAP_LOCKED | LEGO_MAP_NORESERVE | LEGO_MAP_POPULATE |  \
	 LEGO_MAP_NONBLOCK | LEGO_MAP_STACK | LEGO_MAP_HUGETLB)

#define PROT_RWX (LEGO_PROT_READ | LEGO_PROT_WRITE | LEGO_PROT_EXEC)

/* Linux's MAX_LFS_FILESIZE: the largest file offset a mapping may reach. */
#define MAX_FILE_SIZE 0x7fffffffffffffffULL

/* node.tx bits */
#define TX_ADDED 0x1u	/* inserted by the running transaction */
#define TX_DEAD 0x2u	/* ... and taken out again by it */
#define TX_REMOVED 0x4u	/* committed vma taken out by the running transaction */
#define TX_KEEP 0x8u	/* within rewrite(): this vma stays as it is */

static inline bool page_aligned(u64 x)
{
	return (x & (PAGE - 1)) == 0;
}

/* Linux PAGE_ALIGN: wraps to 0 for the top page of u64, which callers test. */
static inline u64 page_align(u64 x)
{
	return (x + PAGE - 1) & ~(PAGE - 1);
}

static inline u64 umin(u64 a, u64 b)
{
	return a < b ? a : b;
}

static inline u64 umax(u64 a, u64 b)
{
	return a > b ? a : b;
}

/* ---------------------------------------------------------------------- */
/* AVL tree with gap augmentation                                          */

static inline s32 height(const struct vma *n)
{
	return n ? n->node.height : 0;
}

static inline u64 max_gap(const struct vma *n)
{
	return n ? n->node.max_gap : 0;
}

u64 vma_start_gap(const struct vma_space *s, const struct vma *v)
{
	if (!(v->flags & VMA_F_GROWSDOWN))
		return v->start;
	return v->start > s->stack_guard_gap ? v->start - s->stack_guard_gap : 0;
}

/* The free space right below v given its predecessor pred (NULL: v is
 * the first vma). Guard gaps are not subtracted here: the searches apply
 * them the way Linux does (see search_topdown()). */
static u64 gap_below(const struct vma_space *s, const struct vma *v, const struct vma *pred)
{
	u64 from = pred ? pred->end : s->lo;

	return v->start > from ? v->start - from : 0;
}

/* Recomputes n's height and max_gap from its children. */
static void pull(struct vma *n)
{
	s32 hl = height(n->node.left), hr = height(n->node.right);
	u64 m = n->node.gap;

	n->node.height = 1 + (hl > hr ? hl : hr);
	m = umax(m, max_gap(n->node.left));
	m = umax(m, max_gap(n->node.right));
	n->node.max_gap = m;
}

/* Makes new take old's place under parent (the root if parent is NULL). */
static void replace_child(struct vma_space *s, struct vma *parent, struct vma *old,
			  struct vma *new)
{
	if (!parent)
		s->root = new;
	else if (parent->node.left == old)
		parent->node.left = new;
	else
		parent->node.right = new;
	if (new)
		new->node.parent = parent;
}

static struct vma *rotate_left(struct vma_space *s, struct vma *x)
{
	struct vma *y = x->node.right, *p = x->node.parent;

	x->node.right = y->node.left;
	if (y->node.left)
		y->node.left->node.parent = x;
	y->node.left = x;
	x->node.parent = y;
	replace_child(s, p, x, y);
	pull(x);
	pull(y);
	return y;
}

static struct vma *rotate_right(struct vma_space *s, struct vma *x)
{
	struct vma *y = x->node.left, *p = x->node.parent;

	x->node.left = y->node.right;
	if (y->node.right)
		y->node.right->node.parent = x;
	y->node.right = x;
	x->node.parent = y;
	replace_child(s, p, x, y);
	pull(x);
	pull(y);
	return y;
}

/* Restores heights, AVL balance and max_gap from n up to the root. */
static void fix_up(struct vma_space *s, struct vma *n)
{
	while (n) {
		s32 bf;

		pull(n);
		bf = height(n->node.left) - height(n->node.right);
		if (bf > 1) {
			struct vma *l = n->node.left;

			if (height(l->node.left) < height(l->node.right))
				rotate_left(s, l);
			n = rotate_right(s, n);
		} else if (bf < -1) {
			struct vma *r = n->node.right;

			if (height(r->node.right) < height(r->node.left))
				rotate_right(s, r);
			n = rotate_left(s, n);
		}
		n = n->node.parent;
	}
}

struct vma *vma_first(const struct vma_space *s)
{
	struct vma *n = s->root;

	while (n && n->node.left)
		n = n->node.left;
	return n;
}

struct vma *vma_last(const struct vma_space *s)
{
	struct vma *n = s->root;

	while (n && n->node.right)
		n = n->node.right;
	return n;
}

struct vma *vma_next(const struct vma *v)
{
	const struct vma *n = v;

	if (n->node.right) {
		n = n->node.right;
		while (n->node.left)
			n = n->node.left;
		return (struct vma *)n;
	}
	while (n->node.parent && n->node.parent->node.right == n)
		n = n->node.parent;
	return n->node.parent;
}

struct vma *vma_prev(const struct vma *v)
{
	const struct vma *n = v;

	if (n->node.left) {
		n = n->node.left;
		while (n->node.right)
			n = n->node.right;
		return (struct vma *)n;
	}
	while (n->node.parent && n->node.parent->node.left == n)
		n = n->node.parent;
	return n->node.parent;
}

/* Inserts v (start/end set, not overlapping anything) as a new leaf. */
static void tree_insert(struct vma_space *s, struct vma *v)
{
	struct vma **link = &s->root, *parent = NULL, *pred, *succ;

	while (*link) {
		parent = *link;
		link = v->start < parent->start ? &parent->node.left : &parent->node.right;
	}
	v->node.left = v->node.right = NULL;
	v->node.parent = parent;
	v->node.height = 1;
	*link = v;
	s->nr_vmas++;

	pred = vma_prev(v);
	succ = vma_next(v);
	v->node.gap = gap_below(s, v, pred);
	v->node.max_gap = v->node.gap;
	/* v is a leaf, so its successor is an ancestor: the climb below
	 * refreshes its max_gap too. */
	if (succ)
		succ->node.gap = gap_below(s, succ, v);
	fix_up(s, v);
}

static void tree_remove(struct vma_space *s, struct vma *v)
{
	struct vma *pred = vma_prev(v), *succ = vma_next(v), *from;

	if (succ)
		succ->node.gap = gap_below(s, succ, pred);
	if (v->node.left && v->node.right) {
		/* succ is the leftmost vma of v's right subtree (no left child):
		 * it takes v's place. */
		struct vma *y = succ;

		if (y->node.parent == v) {
			from = y;
		} else {
			from = y->node.parent;
			from->node.left = y->node.right;
			if (y->node.right)
				y->node.right->node.parent = from;
			y->node.right = v->node.right;
			v->node.right->node.parent = y;
		}
		y->node.left = v->node.left;
		v->node.left->node.parent = y;
		replace_child(s, v->node.parent, v, y);
	} else {
		from = v->node.parent;
		replace_child(s, v->node.parent, v, v->node.left ? v->node.left : v->node.right);
	}
	s->nr_vmas--;
	fix_up(s, from);
	/* succ's gap changed; it may sit off the path climbed above (when it
	 * was v's only child). */
	if (succ)
		fix_up(s, succ);
	v->node.left = v->node.right = v->node.parent = NULL;
}

/* ---------------------------------------------------------------------- */
/* Lookup                                                                  */

struct vma *vma_find(const struct vma_space *s, u64 addr)
{
	struct vma *n = s->root, *best = NULL;

	while (n) {
		if (n->end > addr) {
			best = n;
			n = n->node.left;
		} else {
			n = n->node.right;
		}
	}
	return best;
}

struct vma *vma_lookup(const struct vma_space *s, u64 addr)
{
	struct vma *v = vma_find(s, addr);

	return v && v->start <= addr ? v : NULL;
}

struct vma *vma_find_intersection(const struct vma_space *s, u64 start, u64 end)
{
	struct vma *v = vma_find(s, start);

	return v && v->start < end ? v : NULL;
}

/* ---------------------------------------------------------------------- */
/* Gap search                                                              */

/* [*a, *b) = [gs, ge) clipped to [low, high); true if it holds need bytes. */
static bool clip_fits(u64 gs, u64 ge, u64 low, u64 high, u64 need, u64 *a, u64 *b)
{
	u64 x = umax(gs, low), y = umin(ge, high);

	if (y <= x || y - x < need)
		return false;
	*a = x;
	*b = y;
	return true;
}

/* The gap below n: [n->start - gap, n->start). */
static bool node_gap_fits(const struct vma *n, u64 need, u64 low, u64 high, u64 *a, u64 *b)
{
	return clip_fits(n->start - n->node.gap, n->start, low, high, need, a, b);
}

/*
 * The vma of subtree n with the highest gap that, clipped to [low, high),
 * holds need bytes. Gaps of the right subtree lie above n->end, those of
 * the left subtree below n->start, which prunes by address as well as by
 * max_gap.
 */
static const struct vma *gap_topdown(const struct vma *n, u64 need, u64 low, u64 high, u64 *a,
				     u64 *b)
{
	while (n && n->node.max_gap >= need) {
		if (n->end < high && high - n->end >= need) {
			const struct vma *r = gap_topdown(n->node.right, need, low, high, a, b);

			if (r)
				return r;
		}
		if (node_gap_fits(n, need, low, high, a, b))
			return n;
		if (n->start <= low || n->start - low < need)
			return NULL;
		n = n->node.left;
	}
	return NULL;
}

static const struct vma *gap_bottomup(const struct vma *n, u64 need, u64 low, u64 high, u64 *a,
				      u64 *b)
{
	while (n && n->node.max_gap >= need) {
		if (n->start > low && n->start - low >= need) {
			const struct vma *l = gap_bottomup(n->node.left, need, low, high, a, b);

			if (l)
				return l;
		}
		if (node_gap_fits(n, need, low, high, a, b))
			return n;
		if (n->end >= high || high - n->end < need)
			return NULL;
		n = n->node.right;
	}
	return NULL;
}

/* The free space above the last vma: [last end (or lo), hi). */
static void tail_gap(const struct vma_space *s, u64 *gs, u64 *ge)
{
	const struct vma *last = vma_last(s);

	*gs = last ? last->end : s->lo;
	*ge = s->hi;
}

/*
 * The highest (lowest) free range that, clipped to [low, high), holds need
 * bytes: its clipped bounds in [*a, *b) and the vma right above it in
 * *above (NULL for the space above the last vma).
 */
static bool find_gap_topdown(const struct vma_space *s, u64 need, u64 low, u64 high, u64 *a,
			     u64 *b, const struct vma **above)
{
	u64 gs, ge;

	if (low >= high || high - low < need)
		return false;
	tail_gap(s, &gs, &ge);
	*above = NULL;
	if (clip_fits(gs, ge, low, high, need, a, b))
		return true;
	*above = gap_topdown(s->root, need, low, high, a, b);
	return *above != NULL;
}

static bool find_gap_bottomup(const struct vma_space *s, u64 need, u64 low, u64 high, u64 *a,
			      u64 *b, const struct vma **above)
{
	u64 gs, ge;

	if (low >= high || high - low < need)
		return false;
	*above = gap_bottomup(s->root, need, low, high, a, b);
	if (*above)
		return true;
	tail_gap(s, &gs, &ge);
	return clip_fits(gs, ge, low, high, need, a, b);
}

/*
 * Linux's vm_unmapped_area() top-down (unmapped_area_topdown()): take the
 * highest free range that fits; if the vma above it is GROWSDOWN and its
 * guard gap reaches into the range, search again below the guard gap's
 * start. Note that this skips every free range above that point, not only
 * the one below the stack, exactly as Linux does. A range must hold
 * len + align - PAGE so that an aligned address fits (Linux's align_mask).
 */
static s64 search_topdown(const struct vma_space *s, u64 len, u64 align, u64 low, u64 high)
{
	u64 need = len + (align - PAGE), a, b;
	const struct vma *above;

	if (need < len)
		return -ENOMEM;
	while (find_gap_topdown(s, need, low, high, &a, &b, &above)) {
		if (above && (above->flags & VMA_F_GROWSDOWN) && vma_start_gap(s, above) < b) {
			high = vma_start_gap(s, above);
			continue;
		}
		return (s64)((b - len) & ~(align - 1));
	}
	return -ENOMEM;
}

/* Linux's unmapped_area(): the lowest fitting range; if it runs into the
 * guard gap of a GROWSDOWN vma above it, go on above that vma. */
static s64 search_bottomup(const struct vma_space *s, u64 len, u64 align, u64 low, u64 high)
{
	u64 need = len + (align - PAGE), a, b, g;
	const struct vma *above;

	if (need < len)
		return -ENOMEM;
	while (find_gap_bottomup(s, need, low, high, &a, &b, &above)) {
		g = (a + align - 1) & ~(align - 1);
		if (above && (above->flags & VMA_F_GROWSDOWN) &&
		    vma_start_gap(s, above) + 1 < g + need) {
			low = above->end;
			continue;
		}
		return (s64)g;
	}
	return -ENOMEM;
}

/* Top-down below mmap_base, then bottom-up above legacy_base. */
static s64 search_area(const struct vma_space *s, u64 len, u64 align)
{
	s64 r = search_topdown(s, len, align, s->lo, s->mmap_base);

	return r >= 0 ? r : search_bottomup(s, len, align, s->legacy_base, s->hi);
}

/* [addr, addr + len) is in the range, free and clear of guard gaps. */
static bool hint_usable(const struct vma_space *s, u64 addr, u64 len)
{
	const struct vma *v;

	if (addr < s->lo || addr > s->hi - len)
		return false;
	v = vma_find(s, addr);
	return !v || addr + len <= vma_start_gap(s, v);
}

s64 vma_get_unmapped_area(const struct vma_space *s, u64 addr, u64 len, u64 align, u32 flags)
{
	if (!align)
		align = PAGE;
	if (align < PAGE || (align & (align - 1)))
		return -EINVAL;
	len = page_align(len);
	if (!len || len > s->hi)
		return -ENOMEM;

	if (flags & LEGO_MAP_FIXED) {
		if (addr > s->hi - len)
			return -ENOMEM;
		if (!page_aligned(addr))
			return -EINVAL;
		if (addr < s->lo)
			return -EPERM;
		return (s64)addr;
	}

	if (flags & LEGO_MAP_32BIT) {
		/* Linux's bottom-up search in the legacy 1-2 GiB window; its
		 * hint is rounded up, not down. */
		u64 low = umax(s->lo, 1ULL << 30), high = umin(s->hi, 2ULL << 30);

		addr = page_align(addr);
		if (addr && addr >= s->lo && high >= len && addr <= high - len &&
		    hint_usable(s, addr, len))
			return (s64)addr;
		return search_bottomup(s, len, align, low, high);
	}

	/* The hint: rounded down to a page, raised to lo (Linux's
	 * round_hint_to_min()); 0 means none. */
	addr &= ~(PAGE - 1);
	if (addr && addr < s->lo)
		addr = s->lo;
	if (addr && hint_usable(s, addr, len))
		return (s64)addr;

	/* Linux's THP alignment of larger anonymous mappings: find room for
	 * len + 2 MiB, then put the mapping on the first 2 MiB boundary in
	 * it, or one huge page up if the room itself starts on one (the
	 * kernel's choice for top-down layouts). If even that fails, fall
	 * back to the plain search. */
	if (s->thp_align && !addr && align == PAGE && (flags & LEGO_MAP_ANONYMOUS) &&
	    !(flags & LEGO_MAP_SHARED) && (len & (PMD - 1)) == 0 && len + PMD > len) {
		s64 r = search_area(s, len + PMD, PAGE);

		if (r >= 0) {
			u64 sub = (0 - (u64)r) & (PMD - 1);

			return (s64)((u64)r + (sub ? sub : PMD));
		}
	}
	return search_area(s, len, align);
}

/* ---------------------------------------------------------------------- */
/* Pieces, runs and rewrites                                               */

/* A stretch of address space with uniform attributes. */
struct piece {
	u64 start, end;
	u32 prot, denyprot, flags, kind;
	u64 file, pgoff;	/* pgoff of start (keyed vmas only) */
	struct vma *node;	/* the whole, unchanged vma this is, or NULL */
};

/* File and shared vmas merge only with page-contiguous offsets. */
static inline bool keyed(u32 kind, u32 flags)
{
	return kind == VMA_FILE || (flags & VMA_F_SHARED);
}

static struct piece piece_of(const struct vma *v, u64 a, u64 b)
{
	struct piece p = {
		.start = a, .end = b, .prot = v->prot, .denyprot = v->denyprot,
		.flags = v->flags, .kind = v->kind, .file = v->file, .pgoff = 0,
		.node = (a == v->start && b == v->end) ? (struct vma *)v : NULL,
	};

	if (keyed(v->kind, v->flags))
		p.pgoff = v->pgoff + ((a - v->start) >> PSHIFT);
	return p;
}

/* b directly follows a and has compatible attributes (one vma can hold both). */
static bool joinable(const struct piece *a, const struct piece *b)
{
	if (a->end != b->start || a->prot != b->prot || a->denyprot != b->denyprot ||
	    a->flags != b->flags || a->kind != b->kind || a->file != b->file)
		return false;
	return !keyed(a->kind, a->flags) || a->pgoff + ((a->end - a->start) >> PSHIFT) == b->pgoff;
}

static bool vmas_joinable(const struct vma *a, const struct vma *b)
{
	struct piece pa = piece_of(a, a->start, a->end), pb = piece_of(b, b->start, b->end);

	return joinable(&pa, &pb);
}

/* The changes of one call, applied to the tree but not yet committed. */
struct txn {
	struct vma *added;		/* TX_ADDED vmas, newest first */
	struct vma *removed, **removed_tail; /* TX_REMOVED vmas, in order */
	u64 clear_start[2], clear_end[2];	/* ranges whose pages go away: at
						 * most two (mremap: the old
						 * tail and the destination) */
	int nclear;
	u64 mv_from, mv_to, mv_len;	/* pages moved (mremap) */
};

static void txn_init(struct txn *t)
{
	t->added = NULL;
	t->removed = NULL;
	t->removed_tail = &t->removed;
	t->nclear = 0;
	t->mv_from = t->mv_to = t->mv_len = 0;
}

static void txn_clear(struct txn *t, u64 start, u64 end)
{
	t->clear_start[t->nclear] = start;
	t->clear_end[t->nclear] = end;
	t->nclear++;
}

static void txn_abort(struct vma_space *s, struct txn *t)
{
	struct vma *n, *nx;

	for (n = t->added; n; n = nx) {
		nx = n->node.tx_next;
		if (!(n->node.tx & TX_DEAD))
			tree_remove(s, n);
		s->ops.free(s->ops.ctx, n);
	}
	for (n = t->removed; n; n = nx) {
		nx = n->node.tx_next;
		n->node.tx = 0;
		tree_insert(s, n);
	}
}

static void txn_commit(struct vma_space *s, struct txn *t)
{
	struct vma *n, *nx;

	if (s->ops.unmap) {
		for (int i = 0; i < t->nclear; i++) {
			for (n = t->removed; n; n = n->node.tx_next) {
				u64 a = umax(n->start, t->clear_start[i]);
				u64 b = umin(n->end, t->clear_end[i]);

				if (a < b)
					s->ops.unmap(s->ops.ctx, n, a, b);
			}
		}
	}
	if (t->mv_len && s->ops.move)
		s->ops.move(s->ops.ctx, t->mv_from, t->mv_to, t->mv_len);
	for (n = t->added; n; n = nx) {
		nx = n->node.tx_next;
		if (n->node.tx & TX_DEAD) {
			s->ops.free(s->ops.ctx, n);
			continue;
		}
		n->node.tx = 0;
		n->node.tx_next = NULL;
		if (s->ops.get)
			s->ops.get(s->ops.ctx, n);
	}
	for (n = t->removed; n; n = nx) {
		nx = n->node.tx_next;
		if (s->ops.put)
			s->ops.put(s->ops.ctx, n);
		s->ops.free(s->ops.ctx, n);
	}
}

/* Ends a call: commits if r is 0 and the vma limit holds, else rolls back. */
static int txn_finish(struct vma_space *s, struct txn *t, int r)
{
	if (!r && s->nr_vmas > s->max_vmas)
		r = -ENOMEM;
	if (r)
		txn_abort(s, t);
	else
		txn_commit(s, t);
	return r;
}

enum rw_mode {
	RW_HOLE,	/* the range becomes unmapped */
	RW_MAP,		/* the range becomes one new mapping */
	RW_PROT,	/* the vmas in the range get prot */
	RW_CLRFLAGS,	/* the vmas in the range lose flags clr */
};

struct rw {
	u64 start, end;
	enum rw_mode mode;
	struct piece map;	/* RW_MAP: attributes; pgoff of start */
	u32 prot;		/* RW_PROT */
	u32 clr;		/* RW_CLRFLAGS */
	bool no_merge_left;	/* the range's content may not join what ends at start */
};

/* Joins pieces into runs and allocates a vma for each run that is not an
 * existing unchanged vma. */
struct acc {
	struct vma_space *s;
	bool have;
	struct piece run;
	struct vma *pending, **pending_tail;
};

static int acc_emit(struct acc *c)
{
	struct vma *n;

	if (!c->have)
		return 0;
	c->have = false;
	if (c->run.node) {
		c->run.node->node.tx |= TX_KEEP;
		return 0;
	}
	n = c->s->ops.alloc(c->s->ops.ctx);
	if (!n)
		return -ENOMEM;
	n->start = c->run.start;
	n->end = c->run.end;
	n->prot = c->run.prot;
	n->denyprot = c->run.denyprot;
	n->flags = c->run.flags;
	n->kind = c->run.kind;
	n->file = c->run.file;
	n->pgoff = c->run.pgoff;
	n->node.tx = 0;
	n->node.tx_next = NULL;
	*c->pending_tail = n;
	c->pending_tail = &n->node.tx_next;
	return 0;
}

static int acc_feed(struct acc *c, const struct piece *p, bool may_join)
{
	int r;

	if (c->have && may_join && joinable(&c->run, p)) {
		c->run.end = p->end;
		c->run.node = NULL;
		return 0;
	}
	r = acc_emit(c);
	if (r)
		return r;
	c->run = *p;
	c->have = true;
	return 0;
}

/* Linux mprotect_fixup()'s flag changes besides prot (VM_ACCOUNT). */
static void piece_reprot(struct piece *p, u32 prot)
{
	u32 f = p->flags;

	if (prot & LEGO_PROT_WRITE) {
		if (!(f & (VMA_F_ACCOUNT | VMA_F_SHARED | VMA_F_NORESERVE)) &&
		    !(p->prot & LEGO_PROT_WRITE))
			f |= VMA_F_ACCOUNT;
	} else if ((f & VMA_F_ACCOUNT) && p->kind == VMA_ANON) {
		f &= ~VMA_F_ACCOUNT;
	}
	if (p->prot != prot || p->flags != f) {
		p->prot = prot;
		p->flags = f;
		p->node = NULL;
	}
}

static int feed_map(struct acc *c, const struct rw *op)
{
	struct piece p = op->map;

	p.start = op->start;
	p.end = op->end;
	p.node = NULL;
	return acc_feed(c, &p, !op->no_merge_left);
}

/* Applies op to the tree within transaction t (see the top of the file). */
static int rewrite(struct vma_space *s, struct txn *t, const struct rw *op)
{
	struct acc c = { .s = s, .have = false, .pending = NULL };
	struct vma *first, *v, *nx;
	bool map_done = op->mode != RW_MAP;
	struct piece p;
	int r;

	c.pending_tail = &c.pending;
	/* The window: every vma that overlaps or touches [start, end). */
	first = vma_find(s, op->start ? op->start - 1 : 0);
	for (v = first; v && v->start <= op->end; v = vma_next(v)) {
		u64 a = umax(v->start, op->start), b = umin(v->end, op->end);

		if (v->start < op->start) {
			p = piece_of(v, v->start, umin(v->end, op->start));
			r = acc_feed(&c, &p, true);
			if (r)
				goto fail;
		}
		if (a < b && (op->mode == RW_PROT || op->mode == RW_CLRFLAGS)) {
			p = piece_of(v, a, b);
			if (op->mode == RW_PROT) {
				piece_reprot(&p, op->prot);
			} else if (p.flags & op->clr) {
				p.flags &= ~op->clr;
				p.node = NULL;
			}
			r = acc_feed(&c, &p, !(op->no_merge_left && a == op->start));
			if (r)
				goto fail;
		}
		if (v->end > op->end) {
			if (!map_done) {
				r = feed_map(&c, op);
				if (r)
					goto fail;
				map_done = true;
			}
			p = piece_of(v, umax(v->start, op->end), v->end);
			r = acc_feed(&c, &p, true);
			if (r)
				goto fail;
		}
	}
	if (!map_done) {
		r = feed_map(&c, op);
		if (r)
			goto fail;
	}
	r = acc_emit(&c);
	if (r)
		goto fail;

	/* Take out the window's vmas that are not kept ... */
	for (v = first; v && v->start <= op->end; v = nx) {
		nx = vma_next(v);
		if (v->node.tx & TX_KEEP) {
			v->node.tx &= ~TX_KEEP;
			continue;
		}
		tree_remove(s, v);
		if (v->node.tx & TX_ADDED) {
			v->node.tx |= TX_DEAD;
		} else {
			v->node.tx |= TX_REMOVED;
			v->node.tx_next = NULL;
			*t->removed_tail = v;
			t->removed_tail = &v->node.tx_next;
		}
	}
	/* ... and put in the new ones. */
	for (v = c.pending; v; v = nx) {
		nx = v->node.tx_next;
		v->node.tx = TX_ADDED;
		tree_insert(s, v);
		v->node.tx_next = t->added;
		t->added = v;
	}
	return 0;

fail:
	for (v = first; v && v->start <= op->end; v = vma_next(v))
		v->node.tx &= ~TX_KEEP;
	for (v = c.pending; v; v = nx) {
		nx = v->node.tx_next;
		s->ops.free(s->ops.ctx, v);
	}
	return r;
}

/* Unmaps [start, end) as one call. */
static int do_unmap(struct vma_space *s, u64 start, u64 end)
{
	struct txn t;
	struct rw op = { .start = start, .end = end, .mode = RW_HOLE };

	txn_init(&t);
	txn_clear(&t, start, end);
	return txn_finish(s, &t, rewrite(s, &t, &op));
}

/* ---------------------------------------------------------------------- */
/* Set-up                                                                  */

int vma_space_init(struct vma_space *s, const struct vma_space_params *p,
		   const struct vma_ops *ops)
{
	s->root = NULL;
	s->nr_vmas = 0;
	s->max_vmas = p->max_vmas ? p->max_vmas : VMA_DEFAULT_MAX_VMAS;
	s->ops = *ops;
	s->thp_align = p->thp_align;
	s->stack_guard_gap = p->stack_guard_gap;
	s->start_brk = s->brk = 0;
	s->brk_limit = ~0ULL;
	s->start_stack = 0;
	s->stack_limit = ~0ULL;
	s->next_object = 1;
	if (p->lo >= p->hi || !page_aligned(p->lo) || !page_aligned(p->hi)) {
		s->lo = s->hi = s->mmap_base = s->legacy_base = 0;
		return -EINVAL;
	}
	s->lo = p->lo;
	s->hi = p->hi;
	s->mmap_base = p->mmap_base ? umin(umax(p->mmap_base, p->lo), p->hi) & ~(PAGE - 1) : p->hi;
	s->legacy_base = p->legacy_base ? umin(umax(p->legacy_base, p->lo), p->hi) & ~(PAGE - 1)
					: p->lo;
	return 0;
}

static void free_subtree(struct vma_space *s, struct vma *n)
{
	while (n) {
		struct vma *r = n->node.right;

		free_subtree(s, n->node.left);
		s->ops.free(s->ops.ctx, n);
		n = r;
	}
}

void vma_space_clear(struct vma_space *s)
{
	struct vma *v;

	if (s->ops.unmap)
		vma_for_each(v, s)
			s->ops.unmap(s->ops.ctx, v, v->start, v->end);
	if (s->ops.put)
		vma_for_each(v, s)
			s->ops.put(s->ops.ctx, v);
	free_subtree(s, s->root);
	s->root = NULL;
	s->nr_vmas = 0;
}

int vma_space_copy(struct vma_space *dst, const struct vma_space *src)
{
	const struct vma *v;
	struct vma *n;

	if (dst->root)
		return -EINVAL;
	vma_for_each(v, src)
		if (v->start < dst->lo || v->end > dst->hi)
			return -EINVAL;
	if (src->nr_vmas > dst->max_vmas)
		return -ENOMEM;
	vma_for_each(v, src) {
		n = dst->ops.alloc(dst->ops.ctx);
		if (!n) {
			free_subtree(dst, dst->root);
			dst->root = NULL;
			dst->nr_vmas = 0;
			return -ENOMEM;
		}
		n->start = v->start;
		n->end = v->end;
		n->prot = v->prot;
		n->denyprot = v->denyprot;
		n->flags = v->flags;
		n->kind = v->kind;
		n->file = v->file;
		n->pgoff = v->pgoff;
		n->node.tx = 0;
		n->node.tx_next = NULL;
		tree_insert(dst, n);
	}
	if (dst->ops.get)
		vma_for_each(n, dst)
			dst->ops.get(dst->ops.ctx, n);
	dst->start_brk = src->start_brk;
	dst->brk = src->brk;
	dst->brk_limit = src->brk_limit;
	dst->start_stack = src->start_stack;
	dst->stack_limit = src->stack_limit;
	dst->next_object = src->next_object;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* mmap, munmap, mprotect                                                  */

s64 vma_mmap(struct vma_space *s, const struct vma_mmap_req *q)
{
	u32 flags = q->flags, prot = q->prot & PROT_RWX, vf = 0;
	bool anon = flags & LEGO_MAP_ANONYMOUS, shared;
	u64 len = q->len, pgoff = q->off >> PSHIFT;
	struct rw op = { .mode = RW_MAP };
	struct txn t;
	s64 a;
	int r;

	/* The checks come in Linux's order (sys_mmap, do_mmap), so that a
	 * call with several faults fails with the same error. */
	if (!page_aligned(q->off) || !len)
		return -EINVAL;
	if (flags & LEGO_MAP_FIXED_NOREPLACE)
		flags |= LEGO_MAP_FIXED;
	len = page_align(len);
	if (!len)
		return -ENOMEM;
	if (pgoff + (len >> PSHIFT) < pgoff)
		return -EOVERFLOW;
	if (flags & LEGO_MAP_HUGETLB)
		return -EINVAL;

	a = vma_get_unmapped_area(s, q->addr, len, 0,
				  flags & (LEGO_MAP_FIXED | LEGO_MAP_32BIT | LEGO_MAP_ANONYMOUS |
					   LEGO_MAP_SHARED));
	if (a < 0)
		return a;
	if ((flags & LEGO_MAP_FIXED_NOREPLACE) && vma_find_intersection(s, (u64)a, (u64)a + len))
		return -EEXIST;

	if (!anon && (len > MAX_FILE_SIZE || pgoff > (MAX_FILE_SIZE - len) >> PSHIFT))
		return -EOVERFLOW;
	switch (flags & LEGO_MAP_TYPE) {
	case LEGO_MAP_SHARED:
		shared = true;
		break;
	case LEGO_MAP_SHARED_VALIDATE:
		/* Linux validates the flags only for files (anonymous memory
		 * has no MAP_SHARED_VALIDATE case); MAP_FIXED_NOREPLACE is not
		 * among the flags it accepts. */
		if (anon)
			return -EINVAL;
		if (flags & ~(LEGACY_MAP_MASK | LEGO_MAP_32BIT))
			return -EOPNOTSUPP;
		shared = true;
		break;
	case LEGO_MAP_PRIVATE:
		shared = false;
		break;
	default:
		return -EINVAL;
	}
	if ((flags & LEGO_MAP_GROWSDOWN) && (shared || !anon))
		return -EINVAL;
	if (prot & q->denyprot)
		return -EACCES;

	if (shared)
		vf |= VMA_F_SHARED;
	if (flags & LEGO_MAP_GROWSDOWN)
		vf |= VMA_F_GROWSDOWN;
	if (flags & LEGO_MAP_NORESERVE)
		vf |= VMA_F_NORESERVE;
	if (flags & LEGO_MAP_LOCKED)
		vf |= VMA_F_LOCKED;
	if (flags & LEGO_MAP_STACK)
		vf |= VMA_F_NOHUGEPAGE;
	if (!shared && (prot & LEGO_PROT_WRITE) && !(vf & VMA_F_NORESERVE))
		vf |= VMA_F_ACCOUNT;

	op.start = (u64)a;
	op.end = (u64)a + len;
	op.map.prot = prot;
	op.map.denyprot = q->denyprot & PROT_RWX;
	op.map.flags = vf;
	op.map.kind = anon ? VMA_ANON : VMA_FILE;
	op.map.file = anon ? 0 : q->file;
	op.map.pgoff = anon ? 0 : pgoff;
	if (anon && shared)
		op.map.file = s->next_object++;

	txn_init(&t);
	txn_clear(&t, op.start, op.end);
	r = txn_finish(s, &t, rewrite(s, &t, &op));
	return r ? r : a;
}

int vma_munmap(struct vma_space *s, u64 start, u64 len)
{
	u64 end;

	if (!page_aligned(start) || start > s->hi || len > s->hi - start)
		return -EINVAL;
	end = start + page_align(len);
	if (end == start)
		return -EINVAL;
	return do_unmap(s, start, end);
}

int vma_mprotect(struct vma_space *s, u64 start, u64 len, u32 prot)
{
	u32 grows = prot & (LEGO_PROT_GROWSDOWN | LEGO_PROT_GROWSUP);
	struct vma *v, *w;
	u64 end, cur;
	int stop = 0, r;

	prot &= ~grows;
	if (grows == (LEGO_PROT_GROWSDOWN | LEGO_PROT_GROWSUP))
		return -EINVAL;
	if (!page_aligned(start))
		return -EINVAL;
	if (!len)
		return 0;
	len = page_align(len);
	end = start + len;
	if (end <= start)
		return -ENOMEM;
	if (prot & ~(PROT_RWX | LEGO_PROT_SEM))
		return -EINVAL;
	prot &= PROT_RWX;

	v = vma_find_intersection(s, start, end);
	if (!v)
		return -ENOMEM;
	if (grows & LEGO_PROT_GROWSDOWN) {
		/* Linux: from the start of the GROWSDOWN vma holding the range's
		 * first mapped byte. */
		start = v->start;
		if (!(v->flags & VMA_F_GROWSDOWN))
			return -EINVAL;
	} else {
		if (v->start > start)
			return -ENOMEM;
		if (grows & LEGO_PROT_GROWSUP)
			return -EINVAL;
	}

	/* The part that changes: up to the first hole or denied vma. */
	cur = start;
	for (w = v; w && w->start < end; w = vma_next(w)) {
		if (w->start > cur) {
			stop = -ENOMEM;
			break;
		}
		if (prot & w->denyprot) {
			stop = -EACCES;
			break;
		}
		cur = umin(w->end, end);
	}
	if (!stop && cur < end)
		stop = -ENOMEM;
	if (cur > start) {
		struct txn t;
		struct rw op = { .start = start, .end = cur, .mode = RW_PROT, .prot = prot };

		txn_init(&t);
		r = txn_finish(s, &t, rewrite(s, &t, &op));
		if (r)
			return r;
	}
	return stop;
}

/* ---------------------------------------------------------------------- */
/* mremap                                                                  */

/* get_unmapped_area flags for a new place of v's memory. */
static u32 area_flags(u32 kind, u32 flags)
{
	return (flags & VMA_F_SHARED ? LEGO_MAP_SHARED : 0) |
	       (kind == VMA_ANON ? LEGO_MAP_ANONYMOUS : 0);
}

/*
 * Moves [addr, addr + old_len) (inside one vma, attributes tmpl) to a
 * mapping of new_len bytes at dst, as one transaction: the tail beyond
 * new_len is unmapped first, then the destination is mapped (replacing
 * what was there if fixed), then the source is unmapped, or with
 * dontunmap left mapped without VMA_F_LOCKED.
 */
static s64 move_range(struct vma_space *s, const struct piece *tmpl, u64 addr, u64 old_len,
		      u64 new_len, u64 dst, bool fixed, bool dontunmap)
{
	struct txn t;
	struct rw op;
	int r = 0;

	txn_init(&t);
	if (old_len > new_len) {
		op = (struct rw){ .start = addr + new_len, .end = addr + old_len, .mode = RW_HOLE };
		txn_clear(&t, op.start, op.end);
		r = rewrite(s, &t, &op);
		old_len = new_len;
	}
	if (!r) {
		op = (struct rw){ .start = dst, .end = dst + new_len, .mode = RW_MAP,
				  .map = *tmpl };
		if (fixed)
			txn_clear(&t, dst, dst + new_len);
		r = rewrite(s, &t, &op);
	}
	if (!r && old_len) {
		if (dontunmap)
			op = (struct rw){ .start = addr, .end = addr + old_len, .mode = RW_CLRFLAGS,
					  .clr = VMA_F_LOCKED };
		else
			op = (struct rw){ .start = addr, .end = addr + old_len, .mode = RW_HOLE };
		r = rewrite(s, &t, &op);
		t.mv_from = addr;
		t.mv_to = dst;
		t.mv_len = old_len;
	}
	r = txn_finish(s, &t, r);
	return r ? r : (s64)dst;
}

/*
 * MREMAP_FIXED with old_len == new_len (Linux >= 6.17): every vma part of
 * [addr, addr + len) moves by new_addr - addr, one move each; what faces
 * the holes at the destination stays.
 */
static s64 remap_move_all(struct vma_space *s, u64 addr, u64 len, bool dontunmap, u64 new_addr)
{
	u64 end = addr + len, cur = addr;

	if (!vma_lookup(s, addr))
		return -EFAULT;
	if (new_addr < s->lo)
		return -EPERM;
	while (cur < end) {
		struct vma *v = vma_find(s, cur);
		struct piece tmpl;
		u64 a, b;
		s64 r;

		if (!v || v->start >= end)
			break;
		a = umax(v->start, cur);
		b = umin(v->end, end);
		tmpl = piece_of(v, a, b);
		tmpl.node = NULL;
		r = move_range(s, &tmpl, a, b - a, b - a, new_addr + (a - addr), true, dontunmap);
		if (r < 0)
			return r;
		cur = b;
	}
	return (s64)new_addr;
}

s64 vma_mremap(struct vma_space *s, u64 addr, u64 old_len, u64 new_len, u32 flags,
	       u64 new_addr)
{
	bool implies_new = flags & (LEGO_MREMAP_FIXED | LEGO_MREMAP_DONTUNMAP);
	struct txn t;
	struct piece tmpl;
	struct vma *v;
	u64 eff;
	s64 dst;
	int r;

	if (flags & ~(LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED | LEGO_MREMAP_DONTUNMAP))
		return -EINVAL;
	if (!page_aligned(addr))
		return -EINVAL;
	old_len = page_align(old_len);
	new_len = page_align(new_len);
	if (!new_len)
		return -EINVAL;
	if ((flags & LEGO_MREMAP_FIXED) && !(flags & LEGO_MREMAP_MAYMOVE))
		return -EINVAL;
	if ((flags & LEGO_MREMAP_DONTUNMAP) &&
	    (!(flags & LEGO_MREMAP_MAYMOVE) || old_len != new_len))
		return -EINVAL;
	if (implies_new) {
		if (!page_aligned(new_addr))
			return -EINVAL;
		if (new_len > s->hi || new_addr > s->hi - new_len)
			return -EINVAL;
		if (addr + old_len > new_addr && new_addr + new_len > addr)
			return -EINVAL;
	}
	if ((flags & LEGO_MREMAP_FIXED) && old_len == new_len)
		return remap_move_all(s, addr, new_len, flags & LEGO_MREMAP_DONTUNMAP, new_addr);

	v = vma_lookup(s, addr);
	if (!v)
		return -EFAULT;
	if (!implies_new) {
		if (old_len == new_len)
			return (s64)addr;
		if (old_len > new_len) {
			r = vma_munmap(s, addr + new_len, old_len - new_len);
			return r ? r : (s64)addr;
		}
	}

	/* The old range (the part that moves) must lie in v. */
	if (!old_len && !(v->flags & VMA_F_SHARED))
		return -EINVAL;
	eff = implies_new ? umin(old_len, new_len) : old_len;
	if (eff > v->end - addr)
		return -EFAULT;
	tmpl = piece_of(v, addr, addr);
	if (new_len > old_len && keyed(v->kind, v->flags) &&
	    tmpl.pgoff + (new_len >> PSHIFT) < tmpl.pgoff)
		return -EINVAL;

	if (implies_new) {
		/* Not checked by Linux before it acts; refused up front here. */
		if (old_len > new_len && (addr + old_len < addr || addr + old_len > s->hi))
			return -EINVAL;
		if (flags & LEGO_MREMAP_FIXED) {
			if (new_addr < s->lo)
				return -EPERM;
			dst = (s64)new_addr;
		} else {
			dst = vma_get_unmapped_area(s, new_addr, new_len, 0,
						    area_flags(v->kind, v->flags));
			if (dst < 0)
				return dst;
		}
		return move_range(s, &tmpl, addr, old_len, new_len, (u64)dst,
				  flags & LEGO_MREMAP_FIXED, flags & LEGO_MREMAP_DONTUNMAP);
	}

	/* Growing: in place if [addr, addr + old_len) reaches the end of v
	 * and the space after it is free. */
	if (addr + old_len == v->end) {
		u64 delta = new_len - old_len, end = v->end + delta;

		if (end > v->end && end <= s->hi && !vma_find_intersection(s, v->end, end)) {
			struct rw op = { .start = v->end, .end = end, .mode = RW_MAP };

			op.map = piece_of(v, v->end, v->end);
			if (keyed(v->kind, v->flags))
				op.map.pgoff = v->pgoff + ((v->end - v->start) >> PSHIFT);
			txn_init(&t);
			r = txn_finish(s, &t, rewrite(s, &t, &op));
			return r ? r : (s64)addr;
		}
	}
	if (!(flags & LEGO_MREMAP_MAYMOVE))
		return -ENOMEM;
	dst = vma_get_unmapped_area(s, 0, new_len, 0, area_flags(v->kind, v->flags));
	if (dst < 0)
		return dst;
	return move_range(s, &tmpl, addr, old_len, new_len, (u64)dst, false, false);
}

/* ---------------------------------------------------------------------- */
/* brk and stack growth                                                    */

void vma_set_brk(struct vma_space *s, u64 start_brk, u64 brk_limit)
{
	s->start_brk = s->brk = page_align(start_brk);
	s->brk_limit = brk_limit;
}

u64 vma_brk(struct vma_space *s, u64 brk)
{
	u64 orig = s->brk, newbrk, oldbrk;
	struct vma *next;
	struct txn t;
	struct rw op = { .mode = RW_MAP };

	if (brk < s->start_brk || brk - s->start_brk > s->brk_limit)
		return orig;
	newbrk = page_align(brk);
	oldbrk = page_align(s->brk);
	if (newbrk == oldbrk) {
		s->brk = brk;
		return brk;
	}
	if (brk <= s->brk) {
		/* Shrinking: refused if nothing is mapped where the heap was. */
		struct vma *v = vma_find(s, newbrk);

		if (!v || v->start >= oldbrk || do_unmap(s, newbrk, oldbrk))
			return orig;
		s->brk = brk;
		return brk;
	}
	if (newbrk < oldbrk || newbrk > s->hi || oldbrk < s->lo)
		return orig;
	/* Keep a page (and a stack guard gap) free above the heap. */
	next = vma_find(s, oldbrk);
	if (next && newbrk + PAGE > vma_start_gap(s, next))
		return orig;

	op.start = oldbrk;
	op.end = newbrk;
	op.map.prot = LEGO_PROT_READ | LEGO_PROT_WRITE;
	op.map.flags = VMA_F_ACCOUNT;
	op.map.kind = VMA_ANON;
	/* Linux extends only a vma that ends above start_brk. */
	op.no_merge_left = oldbrk == s->start_brk;
	txn_init(&t);
	if (txn_finish(s, &t, rewrite(s, &t, &op)))
		return orig;
	s->brk = brk;
	return brk;
}

int vma_expand_stack(struct vma_space *s, u64 addr)
{
	struct vma *v = vma_find(s, addr), *prev;
	struct rw op = { .mode = RW_MAP, .no_merge_left = true };
	struct txn t;

	if (v && v->start <= addr)
		return 0;
	if (!v || !(v->flags & VMA_F_GROWSDOWN))
		return -EFAULT;
	addr &= ~(PAGE - 1);
	if (addr < s->lo)
		return -EPERM;
	prev = vma_prev(v);
	if (prev && !(prev->flags & VMA_F_GROWSDOWN) && (prev->prot & PROT_RWX) &&
	    addr - prev->end < s->stack_guard_gap)
		return -ENOMEM;
	if (v->end - addr > s->stack_limit)
		return -ENOMEM;

	/* (GROWSDOWN vmas are private anonymous memory: no page offsets,
	 * unlike in Linux, where drivers can make others.) */
	op.start = addr;
	op.end = v->start;
	op.map = piece_of(v, v->start, v->start);
	txn_init(&t);
	return txn_finish(s, &t, rewrite(s, &t, &op));
}

/* ---------------------------------------------------------------------- */
/* /proc/self/maps                                                         */

struct out {
	char *buf;
	size_t size, len;
};

static void out_c(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_s(struct out *o, const char *str)
{
	while (*str)
		out_c(o, *str++);
}

static void out_hex(struct out *o, u64 x, int width)
{
	char tmp[16];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[x & 15];
		x >>= 4;
	} while (x);
	while (width-- > n)
		out_c(o, '0');
	while (n)
		out_c(o, tmp[--n]);
}

size_t vma_format_maps(const struct vma_space *s, char *buf, size_t size, vma_name_fn name,
		       void *ctx)
{
	struct out o = { .buf = buf, .size = size, .len = 0 };
	const struct vma *v;

	vma_for_each(v, s) {
		size_t line = o.len;
		const char *nm = name ? name(ctx, v) : NULL;
		bool shared = v->flags & VMA_F_SHARED;

		out_hex(&o, v->start, 8);
		out_c(&o, '-');
		out_hex(&o, v->end, 8);
		out_c(&o, ' ');
		out_c(&o, v->prot & LEGO_PROT_READ ? 'r' : '-');
		out_c(&o, v->prot & LEGO_PROT_WRITE ? 'w' : '-');
		out_c(&o, v->prot & LEGO_PROT_EXEC ? 'x' : '-');
		out_c(&o, shared ? 's' : 'p');
		out_c(&o, ' ');
		out_hex(&o, keyed(v->kind, v->flags) ? v->pgoff << PSHIFT : 0, 8);
		out_s(&o, " 00:00 0 ");
		if (!nm && v->kind == VMA_ANON) {
			if (shared)
				nm = "/dev/zero (deleted)";
			else if (s->start_brk && v->start <= s->brk && v->end >= s->start_brk)
				nm = "[heap]";
			else if (s->start_stack && v->start <= s->start_stack &&
				 v->end >= s->start_stack)
				nm = "[stack]";
		}
		if (nm) {
			while (o.len - line < 72)
				out_c(&o, ' ');
			out_c(&o, ' ');
			out_s(&o, nm);
		}
		out_c(&o, '\n');
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return o.len;
}

/* ---------------------------------------------------------------------- */
/* Invariant check                                                         */

/* Checks subtree n (parent p); returns its height or -1 with *why set. */
static s32 check_subtree(const struct vma_space *s, const struct vma *n, const struct vma *p,
			 u32 *count, const char **why)
{
	s32 hl, hr;
	u64 m;

	if (!n)
		return 0;
	if (n->node.parent != p) {
		*why = "parent link";
		return -1;
	}
	if ((n->node.left && n->node.left->start >= n->start) ||
	    (n->node.right && n->node.right->start <= n->start)) {
		*why = "tree order";
		return -1;
	}
	hl = check_subtree(s, n->node.left, n, count, why);
	if (hl < 0)
		return -1;
	hr = check_subtree(s, n->node.right, n, count, why);
	if (hr < 0)
		return -1;
	if (hl - hr > 1 || hr - hl > 1) {
		*why = "AVL balance";
		return -1;
	}
	if (n->node.height != 1 + (hl > hr ? hl : hr)) {
		*why = "height";
		return -1;
	}
	m = umax(n->node.gap, umax(max_gap(n->node.left), max_gap(n->node.right)));
	if (n->node.max_gap != m) {
		*why = "max_gap";
		return -1;
	}
	if (n->node.tx) {
		*why = "transaction bits left";
		return -1;
	}
	(*count)++;
	return n->node.height;
}

int vma_check(const struct vma_space *s, const char **why)
{
	const char *w = NULL;
	const struct vma *v, *prev = NULL;
	u32 count = 0;

	if (check_subtree(s, s->root, NULL, &count, &w) < 0)
		goto bad;
	if (count != s->nr_vmas) {
		w = "vma count";
		goto bad;
	}
	if (count > s->max_vmas) {
		w = "more vmas than max_vmas";
		goto bad;
	}
	vma_for_each(v, s) {
		if (!page_aligned(v->start) || !page_aligned(v->end) || v->start >= v->end) {
			w = "vma bounds";
			goto bad;
		}
		if (v->start < s->lo || v->end > s->hi) {
			w = "vma outside the space";
			goto bad;
		}
		if (v->kind != VMA_ANON && v->kind != VMA_FILE) {
			w = "vma kind";
			goto bad;
		}
		if ((v->prot & ~PROT_RWX) || (v->prot & v->denyprot)) {
			w = "vma prot";
			goto bad;
		}
		if (!keyed(v->kind, v->flags) && (v->file || v->pgoff)) {
			w = "private anonymous vma with file or pgoff";
			goto bad;
		}
		if (prev && prev->end > v->start) {
			w = "overlap";
			goto bad;
		}
		/* Linux leaves two compatible vmas apart in two places only: a
		 * heap started by brk next to a vma ending at start_brk, and a
		 * stack grown down onto another GROWSDOWN vma. */
		if (prev && vmas_joinable(prev, v) && v->start != s->start_brk &&
		    !(v->flags & VMA_F_GROWSDOWN)) {
			w = "adjacent compatible vmas not merged";
			goto bad;
		}
		if (v->node.gap != gap_below(s, v, prev)) {
			w = "gap";
			goto bad;
		}
		prev = v;
	}
	return 0;
bad:
	if (why)
		*why = w;
	return -EUCLEAN;
}
