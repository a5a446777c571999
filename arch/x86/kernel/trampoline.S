/*
 * Application processor start-up code. It is copied to TRAMPOLINE_BASE in
 * low memory, where a STARTUP IPI begins it in real mode at
 * CS:IP = (TRAMPOLINE_BASE >> 4):0. It goes through protected mode into
 * long mode on the trampoline page tables (identity map of low memory plus
 * the kernel half), then jumps to the C entry named in its parameter block
 * on the stack named there. The boot CPU starts one AP at a time, so one
 * parameter block suffices.
 */
#define TRAMPOLINE_BASE 0x8000
#define REL(x) (TRAMPOLINE_BASE + (x) - trampoline_start)

	.section .rodata
	.balign 16
	.globl trampoline_start, trampoline_end
	.globl trampoline_cr3, trampoline_stack, trampoline_entry, trampoline_arg
	.code16
trampoline_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tr_gdt_ptr - trampoline_start
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x08, $REL(tr_prot)

	.code32
tr_prot:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $((1 << 5) | (1 << 7)), %eax	/* PAE, PGE */
	movl %eax, %cr4
	movl REL(trampoline_cr3), %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	rdmsr
	orl $((1 << 8) | (1 << 11)), %eax	/* LME, NXE */
	wrmsr
	movl %cr0, %eax
	orl $((1 << 31) | (1 << 16)), %eax	/* PG, WP */
	movl %eax, %cr0
	ljmpl $0x18, $REL(tr_long)

	.code64
tr_long:
	movq REL(trampoline_stack), %rsp
	movq REL(trampoline_arg), %rdi
	movq REL(trampoline_entry), %rax
	xorl %ebp, %ebp
	pushq %rbp
	jmp *%rax

	.balign 8
tr_gdt:
	.quad 0
	.quad 0x00cf9a000000ffff	/* 0x08: 32-bit code */
	.quad 0x00cf92000000ffff	/* 0x10: data */
	.quad 0x00af9a000000ffff	/* 0x18: 64-bit code */
tr_gdt_end:
tr_gdt_ptr:
	.short tr_gdt_end - tr_gdt - 1
	.long REL(tr_gdt)

	.balign 8
trampoline_cr3:		.quad 0
trampoline_stack:	.quad 0
trampoline_entry:	.quad 0
trampoline_arg:		.quad 0
trampoline_end:

	.section .note.GNU-stack, "", @progbits
