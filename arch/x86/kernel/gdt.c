/* Per-CPU GDT and TSS. Each CPU has its own TSS (it holds that CPU's
 * interrupt stacks), hence its own GDT. */
#include <lego/smp.h>
#include <lego/mm.h>
#include <lego/string.h>
#include <lego/panic.h>
#include <asm/desc.h>

struct desc_ptr {
	u16 limit;
	u64 base;
} __packed;

static void load_gdt_and_segments(struct arch_cpu *a)
{
	struct desc_ptr p = { sizeof(a->gdt) - 1, (u64)a->gdt };

	__asm__ __volatile__(
		"lgdt %0\n\t"
		"pushq %1\n\t"
		"leaq 1f(%%rip), %%rax\n\t"
		"pushq %%rax\n\t"
		"lretq\n"
		"1:\n\t"
		"movl %2, %%eax\n\t"
		"movl %%eax, %%ds\n\t"
		"movl %%eax, %%es\n\t"
		"movl %%eax, %%ss\n\t"
		: : "m"(p), "i"(GDT_KERNEL_CS), "i"(GDT_KERNEL_DS) : "rax", "memory");
	__asm__ __volatile__("ltr %w0" : : "r"(GDT_TSS));
}

void gdt_init_cpu(struct cpu_local *c)
{
	struct arch_cpu *a = &c->arch;
	u64 tss = (u64)&a->tss;
	u64 limit = sizeof(a->tss) - 1;

	a->gdt[0] = 0;
	a->gdt[1] = 0x00af9a000000ffffull;	/* kernel code, 64-bit */
	a->gdt[2] = 0x00cf92000000ffffull;	/* kernel data */
	a->gdt[3] = 0x00cffa000000ffffull;	/* user code, 32-bit */
	a->gdt[4] = 0x00cff2000000ffffull;	/* user data */
	a->gdt[5] = 0x00affa000000ffffull;	/* user code, 64-bit */
	/* 16-byte available 64-bit TSS descriptor. */
	a->gdt[6] = (limit & 0xffff) | ((tss & 0xffffff) << 16) | (0x89ull << 40) |
		    ((limit >> 16 & 0xf) << 48) | ((tss >> 24 & 0xff) << 56);
	a->gdt[7] = tss >> 32;

	memset(&a->tss, 0, sizeof(a->tss));
	a->tss.iomap_base = sizeof(a->tss);	/* no I/O bitmap */
	for (int i = 0; i < 3; i++) {
		if (!a->ist_stacks[i]) {
			a->ist_stacks[i] = stack_alloc(IST_STACK_SIZE);
			if (!a->ist_stacks[i])
				panic("cpu %d: no memory for interrupt stacks", c->cpu);
		}
		a->tss.ist[i] = (u64)a->ist_stacks[i] + IST_STACK_SIZE;
	}
	load_gdt_and_segments(a);
}
