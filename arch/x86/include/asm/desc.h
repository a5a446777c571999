/* Descriptor tables: per-CPU GDT and TSS, the shared IDT. */
#ifndef ASM_DESC_H
#define ASM_DESC_H

#include <lego/compiler.h>
#include <asm/segment.h>

struct tss64 {
	u32 reserved0;
	u64 rsp[3];
	u64 reserved1;
	u64 ist[7];
	u64 reserved2;
	u16 reserved3;
	u16 iomap_base;
} __packed;

/* Architecture part of each CPU's local data; written only during that
 * CPU's bring-up, read-only afterwards, except tss.rsp[0], which that CPU
 * rewrites at each context switch (the kernel stack for traps from ring 3). */
struct arch_cpu {
	u64 gdt[GDT_ENTRIES] __aligned(16);
	struct tss64 tss __aligned(16);
	void *ist_stacks[3];
};

struct cpu_local;
void gdt_init_cpu(struct cpu_local *c);
void idt_init(void);
void idt_load(void);

#endif
