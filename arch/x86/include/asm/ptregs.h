/* Register frame built by the interrupt entry stubs (arch/x86/kernel/entry.S). */
#ifndef ASM_PTREGS_H
#define ASM_PTREGS_H

#include <lego/types.h>

struct pt_regs {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vector, error;
	/* pushed by the CPU */
	u64 rip, cs, rflags, rsp, ss;
};

#endif
