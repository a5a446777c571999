/* Kernel page tables.
 *
 * paging_init replaces the boot tables with the final layout described in
 * asm/page.h: the direct map of RAM (2 MiB pages where a whole large page is
 * RAM, 4 KiB pages at the edges), the kernel image with per-section
 * permissions (text read-only and executable, everything else no-execute),
 * and empty top-level slots for the stack and ioremap areas. The identity
 * map of low memory is dropped, so NULL and low-address dereferences fault.
 *
 * The upper-half PML4 slots are created once here and never change, so
 * every CPU (and later every user address space) shares them. */
#include <lego/mm.h>
#include <lego/spinlock.h>
#include <lego/panic.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/smp.h>
#include <asm/page.h>
#include <asm/cpu.h>

typedef u64 pte_t;

static pte_t kernel_pml4[512] __aligned(PAGE_SIZE);
static DEFINE_SPINLOCK(kpt_lock);	/* protects kernel page-table updates below the PML4 */

extern char _text[], _etext[], _rodata[], _erodata[], _data[], _ksyms[], _kernel_end[];
void early_paging_live(void);

#define PML4_INDEX(va) (((va) >> 39) & 511)
#define PDPT_INDEX(va) (((va) >> 30) & 511)
#define PD_INDEX(va) (((va) >> 21) & 511)
#define PT_INDEX(va) (((va) >> 12) & 511)

static phys_addr_t pt_alloc(void)
{
	if (early_alloc_active())
		return early_alloc(PAGE_SIZE, PAGE_SIZE);
	void *p = alloc_page();
	if (!p)
		return 0;
	memset(p, 0, PAGE_SIZE);
	return __pa(p);
}

static pte_t *pt_virt(phys_addr_t pa)
{
	return early_phys_to_virt(pa);
}

/* The table one level below entry e, created if absent. */
static pte_t *pt_next(pte_t *e)
{
	if (!(*e & PTE_P)) {
		phys_addr_t t = pt_alloc();
		if (!t)
			return NULL;
		*e = t | PTE_P | PTE_W;
	}
	if (*e & PTE_PS)
		panic("paging: walking into a large page");
	return pt_virt(*e & PTE_ADDR_MASK);
}

static int map_4k(unsigned long va, phys_addr_t pa, u64 flags)
{
	pte_t *pdpt = pt_next(&kernel_pml4[PML4_INDEX(va)]);
	pte_t *pd = pdpt ? pt_next(&pdpt[PDPT_INDEX(va)]) : NULL;
	pte_t *pt = pd ? pt_next(&pd[PD_INDEX(va)]) : NULL;
	if (!pt)
		return -1;
	pt[PT_INDEX(va)] = pa | flags | PTE_P;
	return 0;
}

static void map_2m(unsigned long va, phys_addr_t pa, u64 flags)
{
	pte_t *pdpt = pt_next(&kernel_pml4[PML4_INDEX(va)]);
	pte_t *pd = pt_next(&pdpt[PDPT_INDEX(va)]);
	pd[PD_INDEX(va)] = pa | flags | PTE_P | PTE_PS;
}

static void map_direct_range(u64 start, u64 end)
{
	const u64 fl = PTE_W | PTE_G | PTE_NX;

	start = ALIGN_DOWN(start, PAGE_SIZE);
	end = ALIGN_UP(end, PAGE_SIZE);
	while (start < end) {
		if (IS_ALIGNED(start, LARGE_PAGE_SIZE) && start + LARGE_PAGE_SIZE <= end) {
			map_2m(PAGE_OFFSET + start, start, fl);
			start += LARGE_PAGE_SIZE;
		} else {
			map_4k(PAGE_OFFSET + start, start, fl);
			start += PAGE_SIZE;
		}
	}
}

static void map_kernel_section(char *s, char *e, u64 flags)
{
	for (unsigned long va = (unsigned long)s; va < (unsigned long)e; va += PAGE_SIZE)
		map_4k(va, va - KERNEL_VMA, flags | PTE_G);
}

void paging_init(void)
{
	/* RAM and firmware tables (ACPI reclaim/NVS) go in the direct map;
	 * MMIO is reached through ioremap with the right caching. */
	for (int i = 0; i < nr_mem_ranges; i++) {
		const struct mem_range *r = &mem_ranges[i];
		if (r->type == 1 || r->type == 3 || r->type == 4)
			map_direct_range(r->base, r->base + r->len);
	}
	map_kernel_section(_text, _etext, 0);
	map_kernel_section(_rodata, _erodata, PTE_NX);
	map_kernel_section(_data, _ksyms, PTE_W | PTE_NX);
	map_kernel_section(_ksyms, _kernel_end, PTE_NX);

	/* Fixed upper-half slots, so the PML4 never changes after boot. */
	pt_next(&kernel_pml4[PML4_INDEX(STACK_AREA_BASE)]);
	pt_next(&kernel_pml4[PML4_INDEX(IOREMAP_BASE)]);

	write_cr4(read_cr4() | X86_CR4_PGE);
	write_cr3((unsigned long)kernel_pml4 - KERNEL_VMA);
	early_paging_live();
}

phys_addr_t kernel_pml4_phys(void)
{
	return (unsigned long)kernel_pml4 - KERNEL_VMA;
}

int kmap_page(unsigned long va, phys_addr_t pa, u64 flags)
{
	unsigned long f = spin_lock_irqsave(&kpt_lock);
	int r = map_4k(va, pa, flags);
	spin_unlock_irqrestore(&kpt_lock, f);
	invlpg(va);
	return r;
}

void kunmap_page(unsigned long va)
{
	unsigned long f = spin_lock_irqsave(&kpt_lock);
	pte_t *e = &kernel_pml4[PML4_INDEX(va)];
	for (int level = 3; level > 0 && (*e & PTE_P); level--) {
		pte_t *t = pt_virt(*e & PTE_ADDR_MASK);
		e = &t[(va >> (12 + 9 * (level - 1))) & 511];
	}
	*e = 0;
	spin_unlock_irqrestore(&kpt_lock, f);
	invlpg(va);
}

/* ioremap: a bump allocator over the ioremap area. Mappings are never
 * torn down: device registers and firmware tables live for the whole boot. */
static unsigned long ioremap_next = IOREMAP_BASE;
static DEFINE_SPINLOCK(ioremap_lock);

static void *ioremap_flags(phys_addr_t pa, size_t size, u64 flags)
{
	phys_addr_t base = ALIGN_DOWN(pa, PAGE_SIZE);
	size_t len = ALIGN_UP(pa + size, PAGE_SIZE) - base;

	unsigned long f = spin_lock_irqsave(&ioremap_lock);
	if (ioremap_next + len > IOREMAP_BASE + IOREMAP_SIZE) {
		spin_unlock_irqrestore(&ioremap_lock, f);
		return NULL;
	}
	unsigned long va = ioremap_next;
	ioremap_next += len;
	spin_unlock_irqrestore(&ioremap_lock, f);

	for (size_t off = 0; off < len; off += PAGE_SIZE)
		if (kmap_page(va + off, base + off, flags | PTE_W | PTE_NX | PTE_G))
			return NULL;
	return (void *)(va + (pa - base));
}

void *ioremap(phys_addr_t pa, size_t size)
{
	return ioremap_flags(pa, size, PTE_PCD | PTE_PWT);
}

void *ioremap_cache(phys_addr_t pa, size_t size)
{
	return ioremap_flags(pa, size, 0);
}

/* Kernel stacks: fixed 128 KiB slots in the stack area; a stack occupies
 * the top of its slot and the unmapped rest below it is the guard, so an
 * overflow faults instead of corrupting a neighbour. Freed stacks keep
 * their pages and mappings and are reused for the same size, which avoids
 * TLB shootdowns. */
#define STACK_SLOT (128ul * 1024)

struct free_stack {
	struct free_stack *next;
	size_t size;
};

static unsigned long stack_next = STACK_AREA_BASE;
static struct free_stack *stack_free_list;	/* stack_lock */
static DEFINE_SPINLOCK(stack_lock);

void *stack_alloc(size_t size)
{
	size = ALIGN_UP(size, PAGE_SIZE);
	if (size > STACK_SLOT - PAGE_SIZE)
		return NULL;

	unsigned long f = spin_lock_irqsave(&stack_lock);
	for (struct free_stack **pp = &stack_free_list; *pp; pp = &(*pp)->next) {
		if ((*pp)->size == size) {
			struct free_stack *s = *pp;
			*pp = s->next;
			spin_unlock_irqrestore(&stack_lock, f);
			return (char *)s + sizeof(*s) - size;	/* header sits at the top */
		}
	}
	unsigned long slot = stack_next;
	stack_next += STACK_SLOT;
	spin_unlock_irqrestore(&stack_lock, f);
	if (slot + STACK_SLOT > STACK_AREA_BASE + STACK_AREA_SIZE)
		return NULL;

	unsigned long base = slot + STACK_SLOT - size;
	for (unsigned long va = base; va < slot + STACK_SLOT; va += PAGE_SIZE) {
		phys_addr_t p = alloc_pages_phys(0);
		if (!p || kmap_page(va, p, PTE_W | PTE_NX | PTE_G))
			return NULL;	/* the slot is leaked; only under memory exhaustion */
	}
	return (void *)base;
}

void stack_free(void *stack, size_t size)
{
	size = ALIGN_UP(size, PAGE_SIZE);
	struct free_stack *s = (struct free_stack *)((char *)stack + size - sizeof(*s));
	s->size = size;
	unsigned long f = spin_lock_irqsave(&stack_lock);
	s->next = stack_free_list;
	stack_free_list = s;
	spin_unlock_irqrestore(&stack_lock, f);
}
