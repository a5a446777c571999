/* Virtual memory layout and page-table bits.
 *
 *   0xffff888000000000  direct map of all RAM (PAGE_OFFSET)
 *   0xffffc80000000000  kernel thread stacks, each below an unmapped guard page
 *   0xffffc90000000000  ioremap area (MMIO, firmware tables)
 *   0xffffffff80000000  kernel image (KERNEL_VMA + physical load address)
 *
 * The lower half is left to user address spaces (processor monitor).
 */
#ifndef ASM_PAGE_H
#define ASM_PAGE_H

#define PAGE_SHIFT 12
#define PAGE_SIZE (1ul << PAGE_SHIFT)
#define PAGE_MASK (~(PAGE_SIZE - 1))
#define LARGE_PAGE_SIZE (1ul << 21)

#define KERNEL_VMA 0xffffffff80000000
#define KERNEL_PHYS_LOAD 0x200000
#define PAGE_OFFSET 0xffff888000000000
#define STACK_AREA_BASE 0xffffc80000000000
#define STACK_AREA_SIZE (1ul << 36)
#define IOREMAP_BASE 0xffffc90000000000
#define IOREMAP_SIZE (1ul << 36)

#define PTE_P (1ul << 0)
#define PTE_W (1ul << 1)
#define PTE_U (1ul << 2)
#define PTE_PWT (1ul << 3)
#define PTE_PCD (1ul << 4)
#define PTE_A (1ul << 5)
#define PTE_D (1ul << 6)
#define PTE_PS (1ul << 7)
#define PTE_G (1ul << 8)
#define PTE_NX (1ul << 63)
#define PTE_ADDR_MASK 0x000ffffffffff000ul

#ifndef __ASSEMBLY__
#include <lego/types.h>

static inline void *__va(phys_addr_t pa) { return (void *)(pa + PAGE_OFFSET); }
static inline phys_addr_t __pa(const void *va)
{
	unsigned long v = (unsigned long)va;
	if (v >= KERNEL_VMA)
		return v - KERNEL_VMA;
	return v - PAGE_OFFSET;
}
#endif

#endif
