/*
 * A tiny ring-3 program for the user-mode self-test
 * (arch/x86/kernel/user_selftest.c). It is assembled into the kernel's
 * read-only data and copied to a user code page; it reaches everything
 * else through fixed user addresses, so it runs wherever it is copied.
 *
 * The data page header (written by the test before the start) chooses
 * what it does; see UT_* in user_selftest.c, which must match the offsets
 * here. A failed check ends the program with exit(step).
 */
#define UT_DATA 0x600000
#define UT_ROLE 0
#define UT_HAS_AVX 8
#define UT_SEED 16
#define UT_FAULT_MODE 24
#define UT_FSGSBASE 32
#define UT_SPIN 40
#define UT_STOP 48
#define UT_LOOPS 56
#define UT_WATCH 0x800000
#define UT_WATCH_NEW 0x6e6e6e6e6e6e6e6e
#define UT_WATCH_GIVEUP 0x9999999999999999
#define UT_PATTERN 0x100
#define UT_DUMP 0x300
#define UT_FS_AREA 0x800
#define UT_GETFS_SLOT 0x900
#define UT_MARK 0xa00
#define UT_MXCSR 0xa80
#define UT_FCW 0xa88

#define SYS_T_ECHO 500
#define SYS_T_YIELD 501
#define SYS_T_EXIT 502
#define SYS_T_UACCESS 503
#define SYS_T_IRET 504
#define SYS_T_BAD_RIP 505
#define SYS_ARCH_PRCTL 158

.macro FAIL_UNLESS_EQ step
	je .Lok\@
	pushq $\step
	jmp fail
.Lok\@:
.endm

/* Continue at \else unless reg == val. */
.macro CHECK_REG_SOFT reg, val, else
	movabsq $\val, %rcx
	cmpq %rcx, \reg
	jne \else
.endm

.macro CHECK_REG reg, val, step
	movabsq $\val, %rcx
	cmpq %rcx, \reg
	FAIL_UNLESS_EQ \step
.endm

	.section .rodata
	.balign 16
	.globl user_test_prog_start
user_test_prog_start:
	movl $UT_DATA, %ebx
	movq UT_ROLE(%rbx), %rax
	cmpq $2, %rax
	je fault_test
	cmpq $3, %rax
	je spin_test
	cmpq $4, %rax
	je watch_test
	cmpq $1, %rax
	je fpu_test

	/* Initial FPU state: MXCSR 0x1f80 and FCW 0x37f. */
	stmxcsr UT_MXCSR(%rbx)
	fnstcw UT_FCW(%rbx)
	cmpl $0x1f80, UT_MXCSR(%rbx)
	FAIL_UNLESS_EQ 1
	cmpw $0x37f, UT_FCW(%rbx)
	FAIL_UNLESS_EQ 2

	/* A syscall with six arguments; every register but rax, rcx and r11
	 * must come back unchanged. */
	movabsq $0x1111111111111111, %rdi
	movabsq $0x2222222222222222, %rsi
	movabsq $0x3333333333333333, %rdx
	movabsq $0x4444444444444444, %r10
	movabsq $0x5555555555555555, %r8
	movabsq $0x6666666666666666, %r9
	movabsq $0xb0b0b0b0b0b0b0b0, %rbp
	movabsq $0xc0c0c0c0c0c0c012, %r12
	movabsq $0xc0c0c0c0c0c0c013, %r13
	movabsq $0xc0c0c0c0c0c0c014, %r14
	movabsq $0xc0c0c0c0c0c0c015, %r15
	movl $SYS_T_ECHO, %eax
	syscall
	CHECK_REG %rax, 0x5ca11ed05ca11ed0, 10
	CHECK_REG %rdi, 0x1111111111111111, 11
	CHECK_REG %rsi, 0x2222222222222222, 12
	CHECK_REG %rdx, 0x3333333333333333, 13
	CHECK_REG %r10, 0x4444444444444444, 14
	CHECK_REG %r8, 0x5555555555555555, 15
	CHECK_REG %r9, 0x6666666666666666, 16
	CHECK_REG %rbp, 0xb0b0b0b0b0b0b0b0, 17
	CHECK_REG %r12, 0xc0c0c0c0c0c0c012, 18
	CHECK_REG %r13, 0xc0c0c0c0c0c0c013, 19
	CHECK_REG %r14, 0xc0c0c0c0c0c0c014, 20
	CHECK_REG %r15, 0xc0c0c0c0c0c0c015, 21
	CHECK_REG %rbx, UT_DATA, 22

	/* Writes to the stack and the data page, checked by the kernel. */
	movabsq $0x57ac57ac57ac57ac, %rax
	pushq %rax
	movabsq $0xda7ada7ada7ada7a, %rax
	movq %rax, UT_MARK(%rbx)

	/* FS base through arch_prctl, read back through %fs and rdfsbase. */
	movabsq $0xf5f5f5f5f5f5f5f5, %rax
	movq %rax, UT_FS_AREA(%rbx)
	movl $SYS_ARCH_PRCTL, %eax
	movl $0x1002, %edi		/* ARCH_SET_FS */
	leaq UT_FS_AREA(%rbx), %rsi
	syscall
	testq %rax, %rax
	FAIL_UNLESS_EQ 30
	movq %fs:0, %rax
	CHECK_REG %rax, 0xf5f5f5f5f5f5f5f5, 31
	cmpq $0, UT_FSGSBASE(%rbx)
	je 1f
	rdfsbase %rax
	CHECK_REG %rax, UT_DATA + UT_FS_AREA, 32
1:	movl $SYS_ARCH_PRCTL, %eax
	movl $0x1003, %edi		/* ARCH_GET_FS */
	leaq UT_GETFS_SLOT(%rbx), %rsi
	syscall
	testq %rax, %rax
	FAIL_UNLESS_EQ 33
	movq UT_GETFS_SLOT(%rbx), %rax
	CHECK_REG %rax, UT_DATA + UT_FS_AREA, 34

	/* A syscall the kernel asks to leave through IRET: rcx and r11 come
	 * back as the kernel set them instead of as SYSRET would leave them. */
	movl $SYS_T_IRET, %eax
	syscall
	movq %rcx, %r12			/* CHECK_REG uses rcx */
	CHECK_REG %rax, 0x1e7, 35
	CHECK_REG %r11, 0x1111111111111111, 36
	CHECK_REG %r12, 0xc1c1c1c1c1c1c1c1, 37
	CHECK_REG %r15, 0xc0c0c0c0c0c0c015, 38

	/* The kernel's copy_*_user checks, run in this thread's context. */
	movl $SYS_T_UACCESS, %eax
	syscall
	testq %rax, %rax
	FAIL_UNLESS_EQ 40

fpu_test:
	/* Rounds of: fill ymm0-15 (xmm0-15 without AVX) from a pattern,
	 * spin (a timer preemption from ring 3 may come), yield to the other
	 * thread, which does the same with its own pattern, then compare. The
	 * yield syscall returns 1 when the test wants the loop to end. */
	xorl %r12d, %r12d
round:
	movq UT_SEED(%rbx), %rax
	movq %r12, %rcx
	shlq $8, %rcx
	addq %rcx, %rax
	xorl %ecx, %ecx
2:	movq %rax, UT_PATTERN(%rbx,%rcx,8)
	incq %rax
	incq %rcx
	cmpq $64, %rcx
	jb 2b
	cmpq $0, UT_HAS_AVX(%rbx)
	je 3f
	vmovdqu UT_PATTERN + 0*32(%rbx), %ymm0
	vmovdqu UT_PATTERN + 1*32(%rbx), %ymm1
	vmovdqu UT_PATTERN + 2*32(%rbx), %ymm2
	vmovdqu UT_PATTERN + 3*32(%rbx), %ymm3
	vmovdqu UT_PATTERN + 4*32(%rbx), %ymm4
	vmovdqu UT_PATTERN + 5*32(%rbx), %ymm5
	vmovdqu UT_PATTERN + 6*32(%rbx), %ymm6
	vmovdqu UT_PATTERN + 7*32(%rbx), %ymm7
	vmovdqu UT_PATTERN + 8*32(%rbx), %ymm8
	vmovdqu UT_PATTERN + 9*32(%rbx), %ymm9
	vmovdqu UT_PATTERN + 10*32(%rbx), %ymm10
	vmovdqu UT_PATTERN + 11*32(%rbx), %ymm11
	vmovdqu UT_PATTERN + 12*32(%rbx), %ymm12
	vmovdqu UT_PATTERN + 13*32(%rbx), %ymm13
	vmovdqu UT_PATTERN + 14*32(%rbx), %ymm14
	vmovdqu UT_PATTERN + 15*32(%rbx), %ymm15
	jmp 4f
3:	movdqu UT_PATTERN + 0*32(%rbx), %xmm0
	movdqu UT_PATTERN + 1*32(%rbx), %xmm1
	movdqu UT_PATTERN + 2*32(%rbx), %xmm2
	movdqu UT_PATTERN + 3*32(%rbx), %xmm3
	movdqu UT_PATTERN + 4*32(%rbx), %xmm4
	movdqu UT_PATTERN + 5*32(%rbx), %xmm5
	movdqu UT_PATTERN + 6*32(%rbx), %xmm6
	movdqu UT_PATTERN + 7*32(%rbx), %xmm7
	movdqu UT_PATTERN + 8*32(%rbx), %xmm8
	movdqu UT_PATTERN + 9*32(%rbx), %xmm9
	movdqu UT_PATTERN + 10*32(%rbx), %xmm10
	movdqu UT_PATTERN + 11*32(%rbx), %xmm11
	movdqu UT_PATTERN + 12*32(%rbx), %xmm12
	movdqu UT_PATTERN + 13*32(%rbx), %xmm13
	movdqu UT_PATTERN + 14*32(%rbx), %xmm14
	movdqu UT_PATTERN + 15*32(%rbx), %xmm15
4:	movq UT_SPIN(%rbx), %rcx
5:	decq %rcx
	jg 5b
	/* The other thread sets an FS base of its own before each yield, so
	 * that a missing switch of the FS base shows in the main thread. */
	cmpq $1, UT_ROLE(%rbx)
	jne 12f
	movl $SYS_ARCH_PRCTL, %eax
	movl $0x1002, %edi		/* ARCH_SET_FS */
	leaq UT_FS_AREA + 8(%rbx), %rsi
	syscall
12:
	movl $SYS_T_YIELD, %eax
	syscall
	movq %rax, %r13			/* 1: last round */
	cmpq $0, UT_ROLE(%rbx)
	jne 13f
	cmpq $0, UT_FS_AREA(%rbx)	/* set: arch_prctl ran before */
	je 13f
	movq %fs:0, %rax
	CHECK_REG %rax, 0xf5f5f5f5f5f5f5f5, 61
13:
	cmpq $0, UT_HAS_AVX(%rbx)
	je 6f
	vmovdqu %ymm0, UT_DUMP + 0*32(%rbx)
	vmovdqu %ymm1, UT_DUMP + 1*32(%rbx)
	vmovdqu %ymm2, UT_DUMP + 2*32(%rbx)
	vmovdqu %ymm3, UT_DUMP + 3*32(%rbx)
	vmovdqu %ymm4, UT_DUMP + 4*32(%rbx)
	vmovdqu %ymm5, UT_DUMP + 5*32(%rbx)
	vmovdqu %ymm6, UT_DUMP + 6*32(%rbx)
	vmovdqu %ymm7, UT_DUMP + 7*32(%rbx)
	vmovdqu %ymm8, UT_DUMP + 8*32(%rbx)
	vmovdqu %ymm9, UT_DUMP + 9*32(%rbx)
	vmovdqu %ymm10, UT_DUMP + 10*32(%rbx)
	vmovdqu %ymm11, UT_DUMP + 11*32(%rbx)
	vmovdqu %ymm12, UT_DUMP + 12*32(%rbx)
	vmovdqu %ymm13, UT_DUMP + 13*32(%rbx)
	vmovdqu %ymm14, UT_DUMP + 14*32(%rbx)
	vmovdqu %ymm15, UT_DUMP + 15*32(%rbx)
	jmp 7f
6:	movdqu %xmm0, UT_DUMP + 0*32(%rbx)
	movdqu %xmm1, UT_DUMP + 1*32(%rbx)
	movdqu %xmm2, UT_DUMP + 2*32(%rbx)
	movdqu %xmm3, UT_DUMP + 3*32(%rbx)
	movdqu %xmm4, UT_DUMP + 4*32(%rbx)
	movdqu %xmm5, UT_DUMP + 5*32(%rbx)
	movdqu %xmm6, UT_DUMP + 6*32(%rbx)
	movdqu %xmm7, UT_DUMP + 7*32(%rbx)
	movdqu %xmm8, UT_DUMP + 8*32(%rbx)
	movdqu %xmm9, UT_DUMP + 9*32(%rbx)
	movdqu %xmm10, UT_DUMP + 10*32(%rbx)
	movdqu %xmm11, UT_DUMP + 11*32(%rbx)
	movdqu %xmm12, UT_DUMP + 12*32(%rbx)
	movdqu %xmm13, UT_DUMP + 13*32(%rbx)
	movdqu %xmm14, UT_DUMP + 14*32(%rbx)
	movdqu %xmm15, UT_DUMP + 15*32(%rbx)
	/* Compare qword by qword; without AVX only the low 16 bytes of
	 * each 32-byte slot hold a register. */
7:	xorl %ecx, %ecx
8:	cmpq $0, UT_HAS_AVX(%rbx)
	jne 9f
	testq $2, %rcx
	jnz 10f
9:	movq UT_PATTERN(%rbx,%rcx,8), %rax
	cmpq %rax, UT_DUMP(%rbx,%rcx,8)
	FAIL_UNLESS_EQ 50
10:	incq %rcx
	cmpq $64, %rcx
	jb 8b
	incq %r12
	testq %r13, %r13
	jz round

	/* The FS base survived the switches to the other thread. */
	cmpq $0, UT_ROLE(%rbx)
	jne 11f
	movq %fs:0, %rax
	CHECK_REG %rax, 0xf5f5f5f5f5f5f5f5, 60
11:	xorl %edi, %edi
	movl $SYS_T_EXIT, %eax
	syscall
	ud2

	/* Spin in ring 3 until the kernel sets the stop word: the kernel
	 * thread on this CPU gets back only through a timer interrupt taken
	 * in ring 3 and a preemption. Registers must survive that. */
spin_test:
	movabsq $0xa5a5a5a5a5a5a5a5, %r12
	movq %r12, %xmm3
	xorl %r13d, %r13d
1:	incq %r13
	cmpq $0, UT_STOP(%rbx)
	je 1b
	movq %r13, UT_LOOPS(%rbx)
	CHECK_REG %r12, 0xa5a5a5a5a5a5a5a5, 70
	movq %xmm3, %rax
	CHECK_REG %rax, 0xa5a5a5a5a5a5a5a5, 71
	xorl %edi, %edi
	movl $SYS_T_EXIT, %eax
	syscall
	ud2

	/* Read a word until the kernel replaces the page behind it (unmap,
	 * TLB shootdown while this thread runs on another CPU, a fault the
	 * hook resolves by waiting, map of a new page). If the shootdown were
	 * missing, the stale TLB entry would keep showing the old page, where
	 * the kernel finally writes the give-up value. */
watch_test:
	movl $UT_WATCH, %esi
	xorl %r13d, %r13d
1:	incq %r13
	movq (%rsi), %rax
	movq %r13, UT_LOOPS(%rbx)	/* tells the kernel it runs */
	CHECK_REG_SOFT %rax, UT_WATCH_NEW, 2f
	xorl %edi, %edi
	movl $SYS_T_EXIT, %eax
	syscall
2:	CHECK_REG_SOFT %rax, UT_WATCH_GIVEUP, 1b
	pushq $80
	jmp fail

fault_test:
	movq UT_FAULT_MODE(%rbx), %rax
	cmpq $1, %rax
	jne 1f
	movq 0x12345678, %rax		/* unmapped user address */
1:	cmpq $2, %rax
	jne 2f
	cli
2:	cmpq $3, %rax
	jne 3f
	hlt
3:	cmpq $4, %rax
	jne 4f
	movabsq $0xffff888000001000, %rcx	/* the kernel's direct map */
	movq (%rcx), %rax
4:	cmpq $5, %rax
	jne 5f
	movl $0x400000, %ecx		/* this code page: read-only */
	movq %rax, (%rcx)
5:	cmpq $6, %rax
	jne 6f
	ud2
6:	cmpq $7, %rax
	jne 7f
	movl $SYS_T_BAD_RIP, %eax	/* returns to a non-canonical rip */
	syscall
7:	cmpq $8, %rax
	jne 8f
	int $0x80			/* IDT gates are DPL 0 */
8:	pushq $99			/* no fault came */

fail:
	popq %rdi
	movl $SYS_T_EXIT, %eax
	syscall
	ud2
	.globl user_test_prog_end
user_test_prog_end:

	.section .note.GNU-stack, "", @progbits
