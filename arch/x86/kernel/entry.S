/*
 * Interrupt and exception entry. Every vector has a stub that makes the
 * stack uniform (a zero error code where the CPU pushes none, then the
 * vector number) and jumps to interrupt_common, which saves the general
 * registers as a struct pt_regs and calls x86_interrupt(regs).
 */
#include <asm/segment.h>

	.text
	.balign 16
interrupt_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	/* Handlers never run with AC set: a user program may set it, and
	 * with SMAP it would open every user page to the kernel. */
	pushfq
	andq $~0x40000, (%rsp)
	popfq
	/* rbx (callee-saved, restored from the frame at the end): 1 when this
	 * entry swapped to the kernel GS base and must swap back. */
	xorl %ebx, %ebx
	testb $3, 18*8(%rsp)
	jnz 4f
	/* From ring 0. NMI, machine check and double fault can also hit
	 * between a SYSCALL and its swapgs, or between the swapgs and the
	 * SYSRET/IRET back, with the user GS base loaded: for them look at
	 * the GS base itself. It is the kernel's only if it is one of the
	 * cpu_local areas (a user program can set any base with wrgsbase). */
	movq 15*8(%rsp), %rax
	cmpq $2, %rax
	je 3f
	cmpq $8, %rax
	je 3f
	cmpq $18, %rax
	jne 1f
3:	movl $0xc0000101, %ecx	/* MSR_GS_BASE */
	rdmsr
	shlq $32, %rdx
	orq %rdx, %rax
	leaq cpu_locals(%rip), %rsi
	movl $CONFIG_NR_CPUS, %ecx	/* also CPUs still being started */
5:	cmpq (%rsi), %rax
	je 1f
	addq $8, %rsi
	decl %ecx
	jnz 5b
	swapgs
	movl $1, %ebx
	jmp 1f
4:	swapgs
	movl $1, %ebx
	xorl %ebp, %ebp		/* backtraces stop here, not in user memory */
1:	movq %rsp, %rdi
	/* Frame link so that backtraces walk through the interrupted code. */
	movq 17*8(%rsp), %rax	/* rip */
	pushq %rax
	pushq %rbp
	movq %rsp, %rbp
	call x86_interrupt
	addq $16, %rsp
	testl %ebx, %ebx
	jz 2f
	swapgs
2:	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp
	iretq

/* Vectors whose exceptions push an error code (8, 10-14, 17, 21, 29, 30)
 * get no dummy push. */

	.balign 16
	.globl interrupt_stubs
interrupt_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if !(vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30)
	pushq $0
	.endif
	pushq $vec
	jmp interrupt_common
	.set vec, vec + 1
	.endr

	.section .note.GNU-stack, "", @progbits
