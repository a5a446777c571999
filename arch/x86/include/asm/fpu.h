/* FPU/SSE/AVX state of user threads. The kernel itself is built without
 * SSE (-mgeneral-regs-only), so the registers only ever hold user state
 * and are saved and restored eagerly at each switch between threads that
 * have one. */
#ifndef ASM_FPU_H
#define ASM_FPU_H

#include <lego/types.h>

/* Per-CPU set-up (CR4.OSXSAVE, XCR0); the boot CPU also decides the
 * features and the area size every CPU uses. */
void fpu_cpu_init(void);
/* Size of a state area (64-byte aligned, which fpu_state_alloc ensures). */
size_t fpu_state_size(void);
bool fpu_uses_xsave(void);
u64 fpu_xcr0(void);
/* A state area set to the initial state (FCW 0x37f, MXCSR 0x1f80, all
 * registers zero); *raw receives what to pass to kfree. NULL: no memory. */
void *fpu_state_alloc(void **raw);
void fpu_state_init(void *area);
void fpu_save(void *area);
void fpu_restore(const void *area);

#endif
