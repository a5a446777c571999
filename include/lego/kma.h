/*
 * kma: the pure core of kmalloc, a size-class slab allocator that gets its
 * memory from a page provider callback. It is not thread safe; the kernel
 * wrapper holds a lock around every call.
 *
 * Small objects (1 .. 2048 bytes) are served from slabs, one size class
 * per power of two from 16 to 2048 bytes. A slab is a 16 KiB block
 * (order 2) aligned to 16 KiB, so the slab that holds any object is found
 * by rounding the object's address down to 16 KiB:
 *
 *   slab:  | header | state[] (debug) | pad | slot 0 | slot 1 | ... | slot n-1 | spare |
 *          ^ 16 KiB aligned                  ^ 16 byte aligned
 *
 *   slot, normal mode:   | object (class size)          |
 *   slot, debug mode:    | redzone 16 | object | redzone 16 |
 *
 * The header holds a magic number, a pointer to itself (together they make
 * a stray pointer unlikely to pass for a slab), the class, the number of
 * objects in use, the head of the slab's free list and the links of the
 * class list the slab is on. Free slots are chained through their first
 * 8 bytes, which is the object in normal mode and the front redzone in
 * debug mode, so in debug mode a freed object's body is entirely poison.
 * Each class keeps slabs that have free slots on its partial list and
 * slabs without on its full list. A slab that becomes entirely free goes
 * back to the page provider unless it is the last slab of its class.
 *
 * Larger objects get a whole block of 2^order pages, order >= 2, aligned to
 * its size, with a 64 byte header at the start and the object right after:
 *
 *   | large header (64, debug: last 16 are the front redzone) | object | redzone 16 (debug) | ...
 *
 * Since the object starts 64 bytes into a block aligned to at least
 * 16 KiB, rounding it down to 16 KiB also finds its header, which records
 * the order, the requested size and the links of the list of large blocks.
 *
 * Every returned pointer is 16 byte aligned.
 *
 * Debug mode adds, per object: the two redzones filled with KMA_REDZONE_BYTE
 * and checked on free ("redzone overwritten"); a state tag (in the slab
 * header's state[] array, or the large header) so that a second free
 * reports "double free"; on free the object is filled with KMA_FREE_BYTE,
 * checked when the slot is handed out again ("use after free"); new objects
 * are filled with KMA_NEW_BYTE. In both modes a pointer that is not the
 * start of an object reports "invalid free", and a pointer into a slab or
 * large block already returned to the provider (whose memory has not been
 * reused yet) reports "double free". After a report kma leaves the bad
 * object alone, except that an overwritten redzone still lets the free
 * complete, so that a test's report callback can return and carry on.
 * Normal mode cannot see a double free of an object whose slab still has
 * other objects in use; it may corrupt that slab's free list.
 *
 * kma_free() and kma_usable_size() read the header at the pointer rounded
 * down to 16 KiB, so that memory must be mapped: pass only pointers into
 * memory that kma's provider hands out.
 */
#ifndef LEGO_KMA_H
#define LEGO_KMA_H

#include <lego/types.h>
#include <lego/compiler.h>
#include <lego/list.h>

#define KMA_PAGE_SIZE 4096UL
#define KMA_SLAB_ORDER 2
#define KMA_SLAB_SIZE (KMA_PAGE_SIZE << KMA_SLAB_ORDER)
#define KMA_NR_CLASSES 8
#define KMA_MIN_CLASS_SIZE 16UL
#define KMA_MAX_CLASS_SIZE 2048UL
#define KMA_ALIGN 16UL
#define KMA_LARGE_HDR 64UL
#define KMA_REDZONE 16UL
/* Largest request kma will try to satisfy; keeps the size arithmetic exact. */
#define KMA_MAX_ALLOC (1UL << 40)

#define KMA_REDZONE_BYTE 0x5c
#define KMA_FREE_BYTE 0xf7
#define KMA_NEW_BYTE 0xa3

/* Page provider. Copied by kma_init() and only read afterwards. */
struct kma_backend {
	/* Naturally aligned block of 2^order pages, NULL on failure. */
	void *(*alloc_pages)(void *ctx, unsigned order);
	void (*free_pages)(void *ctx, void *p, unsigned order);
	/* Detected corruption, double or invalid free. The kernel panics;
	 * tests record and return. ptr is the object concerned. */
	void (*report)(void *ctx, const char *what, const void *ptr);
	void *ctx;
};

/* One size class. Locking: caller serialises (part of struct kma). */
struct kma_class {
	struct list_head partial; /* slabs with at least one free slot */
	struct list_head full;    /* slabs with none */
	size_t nslabs;            /* slabs on both lists */
	size_t in_use;            /* allocated objects in all slabs */
	u32 size;                 /* object size */
	u32 stride;               /* slot size: object plus redzones */
	u32 first;                /* offset of slot 0 from the slab start */
	u32 nobjs;                /* slots per slab */
};

/* The allocator. Locking: caller serialises every call; covers all fields
 * and every slab and large header. */
struct kma {
	struct kma_backend be;
	bool debug;
	struct kma_class cls[KMA_NR_CLASSES];
	struct list_head large;   /* headers of allocated large blocks */
	size_t large_allocs;      /* entries on large */
	size_t large_pages;       /* pages in those blocks */
};

/* Snapshots filled by kma_stats(); owned by the caller, no locking. */
struct kma_class_stats {
	size_t size;          /* object size of the class */
	size_t objs_in_use;
	size_t objs_total;    /* slots in all slabs of the class */
	size_t slabs;
};

struct kma_stats {
	struct kma_class_stats cls[KMA_NR_CLASSES];
	size_t large_allocs;
	size_t large_pages;
	size_t backend_pages; /* all pages currently held from the provider */
};

/* b is copied. debug selects the checked layout for the allocator's life. */
void kma_init(struct kma *a, const struct kma_backend *b, bool debug);
/* 16 byte aligned object of at least size bytes; NULL for size 0 or when
 * the provider has no memory. */
void *kma_alloc(struct kma *a, size_t size);
/* NULL is a no-op. */
void kma_free(struct kma *a, void *p);
/* Bytes usable at p (the class size, or the requested size of a debug
 * large object); 0 if p is not an object. */
size_t kma_usable_size(struct kma *a, const void *p);
/* Index of the class serving size (size 0 counts as the smallest), or -1
 * if size is served by whole pages. */
int kma_size_class(size_t size);
/* Object size of class idx, 0 for an invalid index. */
size_t kma_class_size(int idx);
void kma_stats(const struct kma *a, struct kma_stats *st);
/*
 * Sweeps every slab and large block, reporting each inconsistency found
 * (in debug mode also damaged redzones of live objects and damaged poison
 * of free ones). Returns the number of reports made.
 */
size_t kma_check(struct kma *a);

#endif
