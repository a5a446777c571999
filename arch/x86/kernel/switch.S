/*
 * struct thread *switch_stack(unsigned long *prev_rsp, unsigned long next_rsp,
 *                             struct thread *prev)
 *
 * Saves the callee-saved registers and flags of the running thread on its
 * stack, stores its stack pointer in *prev_rsp, and resumes the thread
 * whose saved stack pointer is next_rsp. Returns (in the resumed thread)
 * the thread that was switched away from.
 */
	.text
	.globl switch_stack
switch_stack:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	pushfq
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popfq
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	movq %rdx, %rax
	ret

/* First instructions of a new thread, reached by switch_stack's ret with
 * the previous thread in %rax. */
	.globl thread_entry
thread_entry:
	xorl %ebp, %ebp
	pushq %rbp		/* terminates backtraces; aligns the stack */
	movq %rax, %rdi
	call sched_finish_switch
	call thread_start
	ud2

	.section .note.GNU-stack, "", @progbits
