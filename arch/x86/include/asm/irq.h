/* Interrupt vectors and handler registration. */
#ifndef ASM_IRQ_H
#define ASM_IRQ_H

#include <lego/types.h>

struct pt_regs;

#define VEC_NMI 2
#define VEC_IRQ_BASE 0x30	/* I/O APIC lines start here */
#define VEC_LAPIC_TIMER 0xec
#define VEC_RESCHEDULE 0xed
#define VEC_CALL_FUNC 0xee
#define VEC_SPURIOUS 0xff

typedef void (*irq_handler_t)(struct pt_regs *regs, void *arg);

/* Install a handler for vector (>= 32). -EBUSY if taken. */
int irq_register_vector(u8 vector, irq_handler_t h, void *arg);
/* Allocate a free device vector and install h on it; returns vector or -errno. */
int irq_alloc_vector(irq_handler_t h, void *arg);

#endif
