/*
 * The instructions that touch user memory for lego/uaccess.h. Each access
 * that may fault has an exception-table entry: the trap handler resumes at
 * the fixup, which reports how far the copy got. The callers have checked
 * the range and opened the SMAP window.
 */
	.text

/* unsigned long uaccess_copy(void *dst, const void *src, unsigned long n):
 * bytes not copied. rep movsb keeps rcx exact when it faults. */
	.globl uaccess_copy
uaccess_copy:
	movq %rdx, %rcx
1:	rep movsb
2:	movq %rcx, %rax
	ret
	.section __ex_table, "a"
	.balign 8
	.quad 1b, 2b
	.previous

/* unsigned long uaccess_clear(void *dst, unsigned long n): bytes not zeroed. */
	.globl uaccess_clear
uaccess_clear:
	movq %rsi, %rcx
	xorl %eax, %eax
1:	rep stosb
2:	movq %rcx, %rax
	ret
	.section __ex_table, "a"
	.balign 8
	.quad 1b, 2b
	.previous

/* long uaccess_strncpy(char *dst, const char *src, long n): the length of
 * the string (NUL not counted) if a NUL came within n bytes, else n;
 * -1 on a fault. */
	.globl uaccess_strncpy
uaccess_strncpy:
	xorl %eax, %eax
	testq %rdx, %rdx
	jle 3f
1:	movb (%rsi,%rax), %cl
	movb %cl, (%rdi,%rax)
	testb %cl, %cl
	jz 3f
	incq %rax
	cmpq %rdx, %rax
	jb 1b
3:	ret
4:	movq $-1, %rax
	ret
	.section __ex_table, "a"
	.balign 8
	.quad 1b, 4b
	.previous

	.section .note.GNU-stack, "", @progbits
