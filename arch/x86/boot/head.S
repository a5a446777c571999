/*
 * Multiboot2 entry. GRUB enters _start32 in 32-bit protected mode with paging
 * off, EAX = multiboot2 magic and EBX = physical address of the boot
 * information. We build a minimal set of page tables (identity map of the
 * first GiB, and the same GiB at KERNEL_VMA), enter long mode, jump to the
 * higher half and call x86_boot_multiboot2(magic, info). The C side then
 * builds the real page tables and drops the identity map.
 *
 * Everything in .boot.* runs at its physical address. A UEFI entry later
 * gets its own stub and boot-information parser, fills struct boot_info
 * and joins at start_kernel() like x86_boot_multiboot2 does.
 */
#include <asm/page.h>
#include <asm/segment.h>

#define MB2_MAGIC 0xe85250d6
#define MB2_ARCH_I386 0

	.section .multiboot, "a"
	.balign 8
mb2_header:
	.long MB2_MAGIC
	.long MB2_ARCH_I386
	.long mb2_header_end - mb2_header
	.long -(MB2_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))

	/* Information request: command line, memory map, ACPI RSDP (old/new). */
	.balign 8
1:	.short 1, 0
	.long 2f - 1b
	.long 1, 6, 14, 15
2:
	/* Entry address: the ELF entry is a 64-bit higher-half address, so
	 * tell GRUB the physical 32-bit one explicitly. */
	.balign 8
1:	.short 3, 0
	.long 2f - 1b
	.long _start32
2:
	/* End tag. */
	.balign 8
	.short 0, 0
	.long 8
mb2_header_end:

	.section .boot.text, "ax"
	.code32
	.globl _start32
_start32:
	cli
	cld
	movl %eax, %edi
	movl %ebx, %esi
	movl $boot_stack32_top, %esp

	/* Long mode available? CPUID 0x80000001 EDX bit 29. */
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb no_long_mode
	movl $0x80000001, %eax
	cpuid
	btl $29, %edx
	jnc no_long_mode

	/* PML4[0] and PML4[511] -> two PDPTs; both point at one PD mapping the
	 * first GiB with 2 MiB pages. */
	movl $boot_pdpt_low, %eax
	orl $(PTE_P | PTE_W), %eax
	movl %eax, boot_pml4
	movl $boot_pdpt_high, %eax
	orl $(PTE_P | PTE_W), %eax
	movl %eax, boot_pml4 + 511 * 8
	movl $boot_pd, %eax
	orl $(PTE_P | PTE_W), %eax
	movl %eax, boot_pdpt_low
	movl %eax, boot_pdpt_high + 510 * 8
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $(PTE_P | PTE_W | PTE_PS), %eax
	movl %eax, boot_pd(, %ecx, 8)
	incl %ecx
	cmpl $512, %ecx
	jne 1b

	movl %cr4, %eax
	orl $(1 << 5), %eax		/* PAE */
	movl %eax, %cr4
	movl $boot_pml4, %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx		/* EFER: long mode, no-execute */
	rdmsr
	orl $((1 << 8) | (1 << 11)), %eax
	wrmsr
	movl %cr0, %eax
	orl $((1 << 31) | (1 << 16) | 1), %eax	/* PG, WP, PE */
	movl %eax, %cr0

	lgdt boot_gdt_ptr
	ljmp $GDT_KERNEL_CS, $long_mode_low

no_long_mode:
	/* Nothing else can run: say why on COM1 and stop. */
	movl $no_lm_msg, %esi
2:	lodsb
	testb %al, %al
	jz 3f
	movw $0x3f8, %dx
	outb %al, %dx
	jmp 2b
3:	hlt
	jmp 3b

	.code64
long_mode_low:
	movabsq $long_mode_high, %rax
	jmp *%rax

	.section .boot.data, "aw"
no_lm_msg:
	.asciz "lego: this CPU does not support x86-64 long mode; halting\r\n"
	.balign 8
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff	/* 64-bit kernel code */
	.quad 0x00cf92000000ffff	/* kernel data */
boot_gdt_end:
boot_gdt_ptr:
	.short boot_gdt_end - boot_gdt - 1
	.long boot_gdt

	.section .boot.bss, "aw", @nobits
	.balign 4096
	.globl boot_pml4, boot_pdpt_low, boot_pd
boot_pml4:	.skip 4096
boot_pdpt_low:	.skip 4096
boot_pdpt_high:	.skip 4096
boot_pd:	.skip 4096
boot_stack32:	.skip 1024
boot_stack32_top:

	.text
long_mode_high:
	movl $GDT_KERNEL_DS, %eax
	movl %eax, %ds
	movl %eax, %es
	movl %eax, %ss
	xorl %eax, %eax
	movl %eax, %fs
	movl %eax, %gs
	movabsq $boot_stack_top, %rsp
	xorl %ebp, %ebp
	movl %edi, %edi		/* zero-extend magic and info pointer */
	movl %esi, %esi
	call x86_boot_multiboot2
1:	cli
	hlt
	jmp 1b

	/* The bootstrap CPU's first stack; it later becomes CPU 0's idle thread. */
	.bss
	.balign 4096
	.globl boot_stack, boot_stack_top
boot_stack:
	.skip 16384
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
