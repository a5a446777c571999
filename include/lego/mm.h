/* Physical pages, the direct map and kmalloc. */
#ifndef LEGO_MM_H
#define LEGO_MM_H

#include <lego/types.h>
#include <asm/page.h>

/* Physical memory ranges from the firmware, kept for reports. */
#define MAX_MEM_RANGES 64
struct mem_range {
	u64 base;
	u64 len;
	u32 type;	/* 1 usable, 2 reserved, 3 ACPI reclaimable, 4 ACPI NVS, 5 bad */
};
extern struct mem_range mem_ranges[MAX_MEM_RANGES];
extern int nr_mem_ranges;
extern u64 mem_usable_bytes;

/* Boot-time allocator for memory needed before the page allocator exists. */
void early_mem_init(void);
phys_addr_t early_alloc(size_t size, size_t align);
bool early_alloc_active(void);
void *early_phys_to_virt(phys_addr_t pa);

/* Page allocator. Blocks are 2^order pages, naturally aligned. */
void page_alloc_init(void);
phys_addr_t alloc_pages_phys(unsigned order);	/* 0 on failure */
void free_pages_phys(phys_addr_t pa, unsigned order);
void *alloc_pages(unsigned order);		/* direct-map address or NULL */
void free_pages(void *va, unsigned order);
static inline void *alloc_page(void) { return alloc_pages(0); }
static inline void free_page(void *va) { free_pages(va, 0); }
u64 page_alloc_free_bytes(void);

void kmalloc_init(void);
void *kmalloc(size_t size);
void *kzalloc(size_t size);
void kfree(const void *p);

/* Kernel page tables. */
void paging_init(void);
int kmap_page(unsigned long va, phys_addr_t pa, u64 flags);
void kunmap_page(unsigned long va);
phys_addr_t kernel_pml4_phys(void);
void *ioremap(phys_addr_t pa, size_t size);		/* uncached */
void *ioremap_cache(phys_addr_t pa, size_t size);	/* write-back (firmware tables) */

void *stack_alloc(size_t size);
void stack_free(void *stack, size_t size);

#endif
