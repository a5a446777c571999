/* FPU/SSE/AVX state with XSAVE when the CPU has it (XCR0 = x87 | SSE |
 * AVX as far as supported; area size from CPUID leaf 0xD), FXSAVE
 * otherwise. Only user threads own state; see asm/fpu.h. */
#include <lego/mm.h>
#include <lego/string.h>
#include <lego/printk.h>
#include <asm/fpu.h>
#include <asm/cpu.h>

#define X86_CR4_OSXSAVE (1ul << 18)
#define CPUID1_ECX_XSAVE (1u << 26)
#define XFEATURE_X87 (1ull << 0)
#define XFEATURE_SSE (1ull << 1)
#define XFEATURE_AVX (1ull << 2)

#define FXSAVE_SIZE 512
#define FPU_FCW_OFF 0
#define FPU_MXCSR_OFF 24
#define FPU_INIT_FCW 0x37f
#define FPU_INIT_MXCSR 0x1f80

/* Decided once by the boot CPU, before any AP starts; read-only after. */
static bool use_xsave;
static u64 xcr0;
static size_t state_size = FXSAVE_SIZE;
static bool decided;

static inline void xsetbv(u32 idx, u64 v)
{
	__asm__ __volatile__("xsetbv" : : "c"(idx), "a"((u32)v), "d"((u32)(v >> 32)));
}

void fpu_cpu_init(void)
{
	u32 a, b, c, d;

	if (!decided) {
		cpuid(1, 0, &a, &b, &c, &d);
		if (c & CPUID1_ECX_XSAVE) {
			u32 sa, sb, sc, sd;
			cpuid(0xd, 0, &sa, &sb, &sc, &sd);
			xcr0 = sa & (XFEATURE_X87 | XFEATURE_SSE | XFEATURE_AVX);
			/* XCR0 needs x87 and SSE before AVX is allowed. */
			if ((xcr0 & (XFEATURE_X87 | XFEATURE_SSE)) == (XFEATURE_X87 | XFEATURE_SSE))
				use_xsave = true;
			else
				xcr0 = 0;
		}
	}
	if (use_xsave) {
		write_cr4(read_cr4() | X86_CR4_OSXSAVE);
		xsetbv(0, xcr0);
		if (!decided) {
			/* EBX: the size XCR0 as now set needs. */
			cpuid(0xd, 0, &a, &b, &c, &d);
			state_size = ALIGN_UP((size_t)b, 64);
		}
	}
	decided = true;
}

size_t fpu_state_size(void)
{
	return state_size;
}

bool fpu_uses_xsave(void)
{
	return use_xsave;
}

u64 fpu_xcr0(void)
{
	return xcr0;
}

void fpu_state_init(void *area)
{
	/* An XSAVE header with XSTATE_BV = 0 makes XRSTOR load the initial
	 * x87/SSE/AVX state; MXCSR is still read from the legacy area. */
	memset(area, 0, state_size);
	*(u16 *)((u8 *)area + FPU_FCW_OFF) = FPU_INIT_FCW;
	*(u32 *)((u8 *)area + FPU_MXCSR_OFF) = FPU_INIT_MXCSR;
}

void *fpu_state_alloc(void **raw)
{
	/* kmalloc aligns to 16; XSAVE wants 64. */
	u8 *p = kmalloc(state_size + 63);
	if (!p)
		return NULL;
	*raw = p;
	void *area = (void *)ALIGN_UP((unsigned long)p, 64);
	fpu_state_init(area);
	return area;
}

void fpu_save(void *area)
{
	if (use_xsave)
		__asm__ __volatile__("xsave64 (%0)" : : "r"(area), "a"((u32)xcr0), "d"((u32)(xcr0 >> 32))
				     : "memory");
	else
		__asm__ __volatile__("fxsave64 (%0)" : : "r"(area) : "memory");
}

void fpu_restore(const void *area)
{
	if (use_xsave)
		__asm__ __volatile__("xrstor64 (%0)" : : "r"(area), "a"((u32)xcr0), "d"((u32)(xcr0 >> 32))
				     : "memory");
	else
		__asm__ __volatile__("fxrstor64 (%0)" : : "r"(area) : "memory");
}
