#ifndef LEGO_PANIC_H
#define LEGO_PANIC_H

#include <lego/compiler.h>

struct pt_regs;

void panic(const char *fmt, ...) __noreturn __printf(1, 2);
/* Panic with a register frame (CPU exceptions). */
void panic_regs(struct pt_regs *regs, const char *fmt, ...) __noreturn __printf(2, 3);
void dump_backtrace(unsigned long rip, unsigned long rbp);
extern volatile int panic_cpu;

#define BUG_ON(cond)                                                             \
	do {                                                                     \
		if (unlikely(cond))                                              \
			panic("BUG at %s:%d: %s", __FILE__, __LINE__, #cond);    \
	} while (0)

#define WARN_ON(cond)                                                            \
	({                                                                       \
		bool __w = !!(cond);                                             \
		if (unlikely(__w))                                               \
			printk("\0014WARNING at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
		__w;                                                             \
	})

#endif
