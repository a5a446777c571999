/* Control registers, CPUID, interrupt flag and other single instructions. */
#ifndef ASM_CPU_H
#define ASM_CPU_H

#include <lego/types.h>

#define X86_CR0_PE (1ul << 0)
#define X86_CR0_MP (1ul << 1)
#define X86_CR0_EM (1ul << 2)
#define X86_CR0_TS (1ul << 3)
#define X86_CR0_NE (1ul << 5)
#define X86_CR0_WP (1ul << 16)
#define X86_CR0_PG (1ul << 31)
#define X86_CR4_PAE (1ul << 5)
#define X86_CR4_PGE (1ul << 7)
#define X86_CR4_OSFXSR (1ul << 9)
#define X86_CR4_OSXMMEXCPT (1ul << 10)

#define X86_RFLAGS_IF (1ul << 9)

#define DEFINE_CR(n)                                                             \
	static inline u64 read_cr##n(void)                                      \
	{                                                                        \
		u64 v;                                                           \
		__asm__ __volatile__("mov %%cr" #n ", %0" : "=r"(v));            \
		return v;                                                        \
	}                                                                        \
	static inline void write_cr##n(u64 v)                                   \
	{                                                                        \
		__asm__ __volatile__("mov %0, %%cr" #n : : "r"(v) : "memory");   \
	}
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d)
{
	__asm__ __volatile__("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

static inline void cpu_relax(void) { __asm__ __volatile__("pause" ::: "memory"); }
static inline void local_irq_disable(void) { __asm__ __volatile__("cli" ::: "memory"); }
static inline void local_irq_enable(void) { __asm__ __volatile__("sti" ::: "memory"); }
/* sti's one-instruction shadow makes "sti; hlt" atomic: no wakeup is lost. */
static inline void safe_halt(void) { __asm__ __volatile__("sti; hlt" ::: "memory"); }
static inline void halt(void) { __asm__ __volatile__("hlt" ::: "memory"); }

static inline u64 read_rflags(void)
{
	u64 f;
	__asm__ __volatile__("pushfq; popq %0" : "=r"(f) : : "memory");
	return f;
}

static inline bool irqs_disabled(void) { return !(read_rflags() & X86_RFLAGS_IF); }

static inline unsigned long local_irq_save(void)
{
	unsigned long f = read_rflags();
	local_irq_disable();
	return f;
}

static inline void local_irq_restore(unsigned long f)
{
	if (f & X86_RFLAGS_IF)
		local_irq_enable();
}

static inline void invlpg(unsigned long va) { __asm__ __volatile__("invlpg (%0)" : : "r"(va) : "memory"); }

static inline u64 read_rbp(void)
{
	u64 v;
	__asm__ __volatile__("mov %%rbp, %0" : "=r"(v));
	return v;
}

#endif
