/* Register frame of a thread that entered the kernel from ring 3.
 *
 * The layout is the interrupt frame of entry.S (struct pt_regs) on purpose:
 * a trap from user mode and a syscall build the same frame at the top of
 * the thread's kernel stack, so the processor monitor sees one shape
 * whatever way the thread came in, and both leave through the same code.
 * For a syscall, vector is USER_VEC_SYSCALL and error holds the syscall
 * number as the user passed it in rax (rax itself becomes the result). */
#ifndef ASM_USER_REGS_H
#define ASM_USER_REGS_H

#define USER_VEC_SYSCALL 0x100		/* 64-bit SYSCALL */
#define USER_VEC_SYSCALL32 0x101	/* SYSCALL from a 32-bit code segment */

/* Offsets for the assembly entry code (in 8-byte slots from the frame base). */
#define UREGS_RAX 14
#define UREGS_VECTOR 15
#define UREGS_ERROR 16
#define UREGS_RIP 17
#define UREGS_CS 18
#define UREGS_RFLAGS 19
#define UREGS_RSP 20
#define UREGS_SS 21
#define UREGS_SLOTS 22

/* Fields of struct cpu_local the SYSCALL entry reaches through %gs before
 * it has a stack (checked against include/lego/smp.h at build time). */
#define PCPU_USER_RSP 16	/* the user rsp while the frame is built */
#define PCPU_KSTACK_TOP 24	/* top of the running thread's kernel stack */

#ifndef __ASSEMBLY__
#include <lego/types.h>

struct user_regs {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, error;		/* error: syscall number for a syscall */
	u64 rip, cs, rflags, rsp, ss;	/* as the CPU pushes them on a trap */
};

#endif
#endif
