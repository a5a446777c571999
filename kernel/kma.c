/* Size-class slab allocator core; the layout is described in include/lego/kma.h. */
#include <lego/kma.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

#define KMA_SLAB_MAGIC 0x4b4d5342u  /* live slab */
#define KMA_LARGE_MAGIC 0x4b4d4c47u /* live large block */
#define KMA_DEAD_MAGIC 0x4b4d4444u  /* slab or block given back to the provider */

#define KMA_TAG_FREE 0xf1
#define KMA_TAG_ALLOC 0xa1

/*
 * Slab header, at the start of every slab; state[] exists in debug mode
 * only, one tag per slot. Locking: caller serialises, like all of kma.
 */
struct kma_slab {
	u32 magic;
	u16 cls;
	u16 inuse;
	struct kma_slab *self;
	void *freelist; /* first free slot; NULL when the slab is on full */
	struct list_head link; /* on cls->partial or cls->full */
	u8 state[];
};

/* Header of a large block (exactly KMA_LARGE_HDR bytes). Locking: caller
 * serialises. */
struct kma_large {
	u32 magic;
	u8 order;
	u8 state; /* KMA_TAG_*, kept in both modes */
	u16 pad;
	struct kma_large *self;
	size_t size; /* requested size */
	struct list_head link; /* on kma->large */
	u8 pad2[8];
	u8 redzone[KMA_REDZONE]; /* debug front redzone, adjoins the object */
};

BUILD_BUG_ON(sizeof(struct kma_large) != KMA_LARGE_HDR);
BUILD_BUG_ON(KMA_MAX_CLASS_SIZE != KMA_MIN_CLASS_SIZE << (KMA_NR_CLASSES - 1));

static void kma_report(struct kma *a, const char *what, const void *ptr)
{
	if (a->be.report)
		a->be.report(a->be.ctx, what, ptr);
}

static bool kma_bytes_are(const void *p, u8 b, size_t n)
{
	const u8 *q = p;

	for (size_t i = 0; i < n; i++)
		if (q[i] != b)
			return false;
	return true;
}

static inline struct kma_slab *kma_slab_of(const void *p)
{
	return (struct kma_slab *)((uintptr_t)p & ~(uintptr_t)(KMA_SLAB_SIZE - 1));
}

static inline size_t kma_rz(const struct kma *a)
{
	return a->debug ? KMA_REDZONE : 0;
}

int kma_size_class(size_t size)
{
	if (size <= KMA_MIN_CLASS_SIZE)
		return 0;
	if (size > KMA_MAX_CLASS_SIZE)
		return -1;
	/* Bit length of size - 1 is log2 of the power of two that holds size. */
	return (int)(8 * sizeof(unsigned long)) - __builtin_clzl(size - 1) - 4;
}

size_t kma_class_size(int idx)
{
	if (idx < 0 || idx >= KMA_NR_CLASSES)
		return 0;
	return KMA_MIN_CLASS_SIZE << idx;
}

void kma_init(struct kma *a, const struct kma_backend *b, bool debug)
{
	size_t hdr = sizeof(struct kma_slab);

	a->be = *b;
	a->debug = debug;
	INIT_LIST_HEAD(&a->large);
	a->large_allocs = 0;
	a->large_pages = 0;

	for (int i = 0; i < KMA_NR_CLASSES; i++) {
		struct kma_class *c = &a->cls[i];
		size_t stride = kma_class_size(i) + 2 * kma_rz(a);
		size_t n, first;

		INIT_LIST_HEAD(&c->partial);
		INIT_LIST_HEAD(&c->full);
		c->nslabs = 0;
		c->in_use = 0;
		c->size = (u32)kma_class_size(i);
		c->stride = (u32)stride;

		if (debug) {
			/* Each slot also costs one state byte in the header. */
			n = (KMA_SLAB_SIZE - hdr) / (stride + 1);
			for (;;) {
				first = ALIGN_UP(hdr + n, KMA_ALIGN);
				if (first + n * stride <= KMA_SLAB_SIZE)
					break;
				n--;
			}
		} else {
			first = ALIGN_UP(hdr, KMA_ALIGN);
			n = (KMA_SLAB_SIZE - first) / stride;
		}
		c->first = (u32)first;
		c->nobjs = (u32)n;
	}
}

static inline u8 *kma_slot(const struct kma_class *c, struct kma_slab *s, size_t idx)
{
	return (u8 *)s + c->first + idx * c->stride;
}

/* Slot index of slot start q in s, or -1 if q is not a slot start. */
static long kma_slot_index(const struct kma_class *c, const struct kma_slab *s, const void *q)
{
	uintptr_t off = (uintptr_t)q - (uintptr_t)s;

	if ((uintptr_t)q < (uintptr_t)s || off < c->first)
		return -1;
	off -= c->first;
	if (off % c->stride || off / c->stride >= c->nobjs)
		return -1;
	return (long)(off / c->stride);
}

static struct kma_slab *kma_new_slab(struct kma *a, int ci)
{
	struct kma_class *c = &a->cls[ci];
	size_t rz = kma_rz(a);
	struct kma_slab *s;

	s = a->be.alloc_pages(a->be.ctx, KMA_SLAB_ORDER);
	if (!s)
		return NULL;
	if ((uintptr_t)s & (KMA_SLAB_SIZE - 1)) {
		kma_report(a, "misaligned page block from provider", s);
		a->be.free_pages(a->be.ctx, s, KMA_SLAB_ORDER);
		return NULL;
	}

	s->magic = KMA_SLAB_MAGIC;
	s->cls = (u16)ci;
	s->inuse = 0;
	s->self = s;
	s->freelist = NULL;
	/* Push in reverse so that slot 0 is handed out first. */
	for (size_t i = c->nobjs; i-- > 0;) {
		u8 *slot = kma_slot(c, s, i);

		if (a->debug) {
			s->state[i] = KMA_TAG_FREE;
			memset(slot, KMA_REDZONE_BYTE, rz);
			memset(slot + rz, KMA_FREE_BYTE, c->size);
			memset(slot + rz + c->size, KMA_REDZONE_BYTE, rz);
		}
		*(void **)slot = s->freelist;
		s->freelist = slot;
	}
	list_add(&s->link, &c->partial);
	c->nslabs++;
	return s;
}

/* Debug checks of a free slot about to be handed out. */
static void kma_check_free_slot(struct kma *a, const struct kma_class *c, u8 *slot)
{
	u8 *obj = slot + KMA_REDZONE;

	if (!kma_bytes_are(obj, KMA_FREE_BYTE, c->size))
		kma_report(a, "use after free", obj);
	/* The first 8 bytes of the front redzone hold the free-list link. */
	if (!kma_bytes_are(slot + sizeof(void *), KMA_REDZONE_BYTE,
			   KMA_REDZONE - sizeof(void *)) ||
	    !kma_bytes_are(obj + c->size, KMA_REDZONE_BYTE, KMA_REDZONE))
		kma_report(a, "redzone overwritten", obj);
}

/* Moves s from its class's full list to the head of its partial list. */
static void kma_slab_to_partial(struct kma_class *c, struct kma_slab *s)
{
	list_del(&s->link);
	list_add(&s->link, &c->partial);
}

static void *kma_alloc_small(struct kma *a, int ci)
{
	struct kma_class *c = &a->cls[ci];
	size_t rz = kma_rz(a);
	struct kma_slab *s;
	u8 *slot;
	void *next;
	long idx;

	for (;;) {
		if (list_empty(&c->partial) && !kma_new_slab(a, ci))
			return NULL;
		s = list_first_entry(&c->partial, struct kma_slab, link);
		slot = s->freelist;
		next = *(void **)slot;
		if (!a->debug)
			break;

		/*
		 * The head was validated when it was linked, but its tag may
		 * still say allocated if memory was scribbled on; never hand
		 * such a slot out twice. Abandon the chain (its slots leak)
		 * and try again.
		 */
		idx = kma_slot_index(c, s, slot);
		if (s->state[idx] != KMA_TAG_FREE) {
			kma_report(a, "free list corrupted", slot + rz);
			s->freelist = NULL;
			list_move_tail(&s->link, &c->full);
			continue;
		}
		/* A bad link means a write to freed memory: do not follow it. */
		if (next && kma_slot_index(c, s, next) < 0) {
			kma_report(a, "free list corrupted", slot + rz);
			next = NULL;
		}
		kma_check_free_slot(a, c, slot);
		s->state[idx] = KMA_TAG_ALLOC;
		memset(slot, KMA_REDZONE_BYTE, rz);
		memset(slot + rz, KMA_NEW_BYTE, c->size);
		memset(slot + rz + c->size, KMA_REDZONE_BYTE, rz);
		break;
	}

	s->freelist = next;
	s->inuse++;
	c->in_use++;
	if (!next)
		list_move_tail(&s->link, &c->full);
	return slot + rz;
}

static void *kma_alloc_large(struct kma *a, size_t size)
{
	size_t need = KMA_LARGE_HDR + size + kma_rz(a);
	unsigned order = KMA_SLAB_ORDER;
	struct kma_large *h;
	u8 *obj;

	while ((KMA_PAGE_SIZE << order) < need)
		order++;

	h = a->be.alloc_pages(a->be.ctx, order);
	if (!h)
		return NULL;
	if ((uintptr_t)h & ((KMA_PAGE_SIZE << order) - 1)) {
		kma_report(a, "misaligned page block from provider", h);
		a->be.free_pages(a->be.ctx, h, order);
		return NULL;
	}

	h->magic = KMA_LARGE_MAGIC;
	h->order = (u8)order;
	h->state = KMA_TAG_ALLOC;
	h->pad = 0;
	h->self = h;
	h->size = size;
	list_add(&h->link, &a->large);
	a->large_allocs++;
	a->large_pages += 1UL << order;

	obj = (u8 *)h + KMA_LARGE_HDR;
	if (a->debug) {
		memset(h->redzone, KMA_REDZONE_BYTE, KMA_REDZONE);
		memset(obj, KMA_NEW_BYTE, size);
		memset(obj + size, KMA_REDZONE_BYTE, KMA_REDZONE);
	}
	return obj;
}

void *kma_alloc(struct kma *a, size_t size)
{
	int ci;

	if (size == 0 || size > KMA_MAX_ALLOC)
		return NULL;
	ci = kma_size_class(size);
	if (ci >= 0)
		return kma_alloc_small(a, ci);
	return kma_alloc_large(a, size);
}

enum kma_kind {
	KMA_KIND_INVALID,
	KMA_KIND_SMALL,
	KMA_KIND_LARGE,
	KMA_KIND_DEAD,
};

/*
 * Classifies p by the header found by rounding down to 16 KiB. For a small
 * object *idx is its slot index. Only the header is trusted to tell which
 * kind of block p is in; p's own position is then checked against it.
 */
static enum kma_kind kma_lookup(struct kma *a, const void *p, long *idx)
{
	struct kma_slab *s = kma_slab_of(p);
	size_t rz = kma_rz(a);

	if ((uintptr_t)p & (KMA_ALIGN - 1))
		return KMA_KIND_INVALID;

	if (s->magic == KMA_SLAB_MAGIC && s->self == s) {
		const struct kma_class *c;

		if (s->cls >= KMA_NR_CLASSES)
			return KMA_KIND_INVALID;
		c = &a->cls[s->cls];
		if ((uintptr_t)p - (uintptr_t)s < rz)
			return KMA_KIND_INVALID;
		*idx = kma_slot_index(c, s, (const u8 *)p - rz);
		return *idx < 0 ? KMA_KIND_INVALID : KMA_KIND_SMALL;
	}
	if (s->magic == KMA_LARGE_MAGIC && s->self == s)
		return (const u8 *)p == (const u8 *)s + KMA_LARGE_HDR ? KMA_KIND_LARGE
								      : KMA_KIND_INVALID;
	if (s->magic == KMA_DEAD_MAGIC && s->self == s)
		return KMA_KIND_DEAD;
	return KMA_KIND_INVALID;
}

static void kma_free_small(struct kma *a, void *p, long idx)
{
	struct kma_slab *s = kma_slab_of(p);
	struct kma_class *c = &a->cls[s->cls];
	size_t rz = kma_rz(a);
	u8 *obj = p, *slot = obj - rz;

	if (s->inuse == 0) {
		/* Cheap enough to catch in normal mode too. */
		kma_report(a, "double free", p);
		return;
	}
	if (a->debug) {
		if (s->state[idx] == KMA_TAG_FREE) {
			kma_report(a, "double free", p);
			return;
		}
		if (s->state[idx] != KMA_TAG_ALLOC) {
			kma_report(a, "invalid free", p);
			return;
		}
		if (!kma_bytes_are(slot, KMA_REDZONE_BYTE, rz) ||
		    !kma_bytes_are(obj + c->size, KMA_REDZONE_BYTE, rz)) {
			kma_report(a, "redzone overwritten", p);
			/* Repair, so that reuse does not report it a second time. */
			memset(slot, KMA_REDZONE_BYTE, rz);
			memset(obj + c->size, KMA_REDZONE_BYTE, rz);
		}
		memset(obj, KMA_FREE_BYTE, c->size);
		s->state[idx] = KMA_TAG_FREE;
	}

	if (!s->freelist)
		kma_slab_to_partial(c, s);
	*(void **)slot = s->freelist;
	s->freelist = slot;
	s->inuse--;
	c->in_use--;

	/* Keep one slab per class so that alloc/free of a single object
	 * does not bounce pages to and from the provider. */
	if (s->inuse == 0 && c->nslabs > 1) {
		list_del(&s->link);
		c->nslabs--;
		s->magic = KMA_DEAD_MAGIC;
		a->be.free_pages(a->be.ctx, s, KMA_SLAB_ORDER);
	}
}

static void kma_free_large(struct kma *a, void *p)
{
	struct kma_large *h = (struct kma_large *)kma_slab_of(p);
	unsigned order = h->order;

	if (h->state != KMA_TAG_ALLOC) {
		kma_report(a, "invalid free", p);
		return;
	}
	if (a->debug && (!kma_bytes_are(h->redzone, KMA_REDZONE_BYTE, KMA_REDZONE) ||
			 !kma_bytes_are((u8 *)p + h->size, KMA_REDZONE_BYTE, KMA_REDZONE)))
		kma_report(a, "redzone overwritten", p);

	list_del(&h->link);
	a->large_allocs--;
	a->large_pages -= 1UL << order;
	h->magic = KMA_DEAD_MAGIC;
	h->state = KMA_TAG_FREE;
	a->be.free_pages(a->be.ctx, h, order);
}

void kma_free(struct kma *a, void *p)
{
	long idx = -1;

	if (!p)
		return;
	switch (kma_lookup(a, p, &idx)) {
	case KMA_KIND_SMALL:
		kma_free_small(a, p, idx);
		break;
	case KMA_KIND_LARGE:
		kma_free_large(a, p);
		break;
	case KMA_KIND_DEAD:
		kma_report(a, "double free", p);
		break;
	case KMA_KIND_INVALID:
	default:
		kma_report(a, "invalid free", p);
		break;
	}
}

size_t kma_usable_size(struct kma *a, const void *p)
{
	long idx = -1;
	struct kma_large *h;

	if (!p)
		return 0;
	switch (kma_lookup(a, p, &idx)) {
	case KMA_KIND_SMALL:
		return a->cls[kma_slab_of(p)->cls].size;
	case KMA_KIND_LARGE:
		h = (struct kma_large *)kma_slab_of(p);
		/* In debug mode the rear redzone starts right at size. */
		return a->debug ? h->size : (KMA_PAGE_SIZE << h->order) - KMA_LARGE_HDR;
	default:
		return 0;
	}
}

void kma_stats(const struct kma *a, struct kma_stats *st)
{
	size_t pages = 0;

	for (int i = 0; i < KMA_NR_CLASSES; i++) {
		const struct kma_class *c = &a->cls[i];

		st->cls[i].size = c->size;
		st->cls[i].objs_in_use = c->in_use;
		st->cls[i].objs_total = c->nslabs * c->nobjs;
		st->cls[i].slabs = c->nslabs;
		pages += c->nslabs << KMA_SLAB_ORDER;
	}
	st->large_allocs = a->large_allocs;
	st->large_pages = a->large_pages;
	st->backend_pages = pages + a->large_pages;
}

/* Checks one slab; returns the number of reports made. */
static size_t kma_check_slab(struct kma *a, int ci, struct kma_slab *s, bool on_full)
{
	struct kma_class *c = &a->cls[ci];
	size_t rz = kma_rz(a), bad = 0, nfree = 0;
	u8 *slot;

	if (s->magic != KMA_SLAB_MAGIC || s->self != s || s->cls != ci) {
		kma_report(a, "slab header corrupted", s);
		return 1;
	}
	if (on_full != (s->freelist == NULL)) {
		kma_report(a, "slab on wrong list", s);
		bad++;
	}

	/* Walk the free list, bounded so that a cycle cannot hang us. */
	for (slot = s->freelist; slot && nfree <= c->nobjs; nfree++) {
		long idx = kma_slot_index(c, s, slot);

		if (idx < 0 || (a->debug && s->state[idx] != KMA_TAG_FREE)) {
			kma_report(a, "free list corrupted", slot + rz);
			return bad + 1;
		}
		slot = *(void **)slot;
	}
	if (slot) {
		kma_report(a, "free list corrupted", s);
		return bad + 1;
	}
	if (!a->debug && nfree + s->inuse != c->nobjs) {
		kma_report(a, "slab counters corrupted", s);
		bad++;
	}
	if (!a->debug)
		return bad;

	{
		size_t nalloc = 0, nfreetag = 0;

		for (size_t i = 0; i < c->nobjs; i++) {
			u8 *sl = kma_slot(c, s, i), *obj = sl + rz;

			if (s->state[i] == KMA_TAG_ALLOC) {
				nalloc++;
				if (!kma_bytes_are(sl, KMA_REDZONE_BYTE, rz) ||
				    !kma_bytes_are(obj + c->size, KMA_REDZONE_BYTE, rz)) {
					kma_report(a, "redzone overwritten", obj);
					bad++;
				}
			} else if (s->state[i] == KMA_TAG_FREE) {
				nfreetag++;
				if (!kma_bytes_are(obj, KMA_FREE_BYTE, c->size)) {
					kma_report(a, "use after free", obj);
					bad++;
				}
				if (!kma_bytes_are(sl + sizeof(void *), KMA_REDZONE_BYTE,
						   rz - sizeof(void *)) ||
				    !kma_bytes_are(obj + c->size, KMA_REDZONE_BYTE, rz)) {
					kma_report(a, "redzone overwritten", obj);
					bad++;
				}
			} else {
				kma_report(a, "object state corrupted", obj);
				bad++;
			}
		}
		/* Free-tagged slots that are not on the free list leaked after an
		 * earlier free-list report; only a mismatch in use is an error. */
		if (nalloc != s->inuse || nfree > nfreetag) {
			kma_report(a, "slab counters corrupted", s);
			bad++;
		}
	}
	return bad;
}

size_t kma_check(struct kma *a)
{
	size_t bad = 0;
	struct kma_large *h;

	for (int i = 0; i < KMA_NR_CLASSES; i++) {
		struct kma_class *c = &a->cls[i];
		struct kma_slab *s;
		size_t n = 0;

		list_for_each_entry(s, &c->partial, link) {
			bad += kma_check_slab(a, i, s, false);
			n++;
		}
		list_for_each_entry(s, &c->full, link) {
			bad += kma_check_slab(a, i, s, true);
			n++;
		}
		if (n != c->nslabs) {
			kma_report(a, "slab counters corrupted", c);
			bad++;
		}
	}

	list_for_each_entry(h, &a->large, link) {
		u8 *obj = (u8 *)h + KMA_LARGE_HDR;

		if (h->magic != KMA_LARGE_MAGIC || h->self != h || h->state != KMA_TAG_ALLOC) {
			kma_report(a, "large header corrupted", obj);
			bad++;
			continue;
		}
		if (a->debug && (!kma_bytes_are(h->redzone, KMA_REDZONE_BYTE, KMA_REDZONE) ||
				 !kma_bytes_are(obj + h->size, KMA_REDZONE_BYTE, KMA_REDZONE))) {
			kma_report(a, "redzone overwritten", obj);
			bad++;
		}
	}
	return bad;
}
