/*
 * SYSCALL entry and the ways back to ring 3.
 *
 * SYSCALL leaves the user rsp in place and masks IF, DF, TF and AC
 * (MSR_FMASK), so the first instructions run with interrupts off on the
 * user stack: swapgs gives the per-CPU area, which holds a scratch slot for
 * the user rsp and the top of the running thread's kernel stack. There the
 * entry builds the same frame a trap from ring 3 builds (struct user_regs,
 * asm/user_regs.h), enables interrupts and calls syscall_dispatch(regs).
 *
 * The way out is SYSRET unless syscall_dispatch says otherwise: SYSRET
 * reloads rip from rcx and rflags from r11, so those two are lost, which is
 * the Linux ABI anyway. syscall_dispatch has already made sure the return
 * rip is a canonical user address, because SYSRET with a non-canonical rcx
 * faults in ring 0 on the user stack. Otherwise user_iret_frame restores
 * every register of the frame.
 */
#include <asm/segment.h>
#include <asm/user_regs.h>

	.text
	.balign 16
	.globl syscall_entry
syscall_entry:
	swapgs
	movq %rsp, %gs:PCPU_USER_RSP
	movq %gs:PCPU_KSTACK_TOP, %rsp
	pushq $(GDT_USER_DS | 3)
	pushq %gs:PCPU_USER_RSP
	pushq %r11
	pushq $(GDT_USER_CS | 3)
	pushq %rcx
	pushq %rax
	pushq $USER_VEC_SYSCALL
	jmp syscall_common

/* SYSCALL from a 32-bit code segment (MSR_CSTAR; AMD CPUs allow it). Not
 * part of the ABI: syscall_dispatch reports it as an invalid opcode. */
	.balign 16
	.globl syscall32_entry
syscall32_entry:
	swapgs
	movq %rsp, %gs:PCPU_USER_RSP
	movq %gs:PCPU_KSTACK_TOP, %rsp
	pushq $(GDT_USER_DS | 3)
	pushq %gs:PCPU_USER_RSP
	pushq %r11
	pushq $(GDT_USER_CS32 | 3)
	pushq %rcx
	pushq %rax
	pushq $USER_VEC_SYSCALL32

syscall_common:
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
	sti
	movq %rsp, %rdi
	/* Frame link: the user rip as return address, and a zero rbp so that
	 * a backtrace stops here instead of walking user memory. */
	pushq UREGS_RIP*8(%rsp)
	pushq $0
	movq %rsp, %rbp
	call syscall_dispatch
	addq $16, %rsp
	cli
	testl %eax, %eax
	jnz user_iret_frame

	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11		/* reloaded below from the frame's rflags */
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx		/* reloaded below from the frame's rip */
	popq %rbx
	popq %rax
	/* rsp now at vector: rip, rflags and rsp are 2, 4 and 5 slots up. */
	movq 2*8(%rsp), %rcx
	movq 4*8(%rsp), %r11
	movq 5*8(%rsp), %rsp
	swapgs
	sysretq

/* Return to ring 3 restoring the whole struct user_regs at %rsp; used for
 * the first entry too. Interrupts off from here: the swapgs must be the
 * last thing before iretq. */
	.balign 16
	.globl user_iret_frame
user_iret_frame:
	cli
	popq %r15
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
	swapgs
	iretq

/* void user_enter_frame(struct user_regs *frame): the first entry. */
	.globl user_enter_frame
user_enter_frame:
	cli
	movq %rdi, %rsp
	jmp user_iret_frame

	.section .note.GNU-stack, "", @progbits
