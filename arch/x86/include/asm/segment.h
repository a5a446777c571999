/* GDT layout. The order is fixed by syscall/sysret: STAR expects kernel code
 * then kernel data, and user 32-bit code, user data, user 64-bit code. */
#ifndef ASM_SEGMENT_H
#define ASM_SEGMENT_H

#define GDT_KERNEL_CS 0x08
#define GDT_KERNEL_DS 0x10
#define GDT_USER_CS32 0x18
#define GDT_USER_DS 0x20
#define GDT_USER_CS 0x28
#define GDT_TSS 0x30
#define GDT_ENTRIES 8

/* Interrupt stack table slots (1-based, as the IDT encodes them). */
#define IST_DOUBLE_FAULT 1
#define IST_NMI 2
#define IST_MCE 3
#define IST_STACK_SIZE 8192

#endif
