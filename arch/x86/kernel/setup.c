/* Boot-CPU set-up that must happen before anything else can run, and the
 * per-CPU feature set-up shared with the application processors. */
#include <lego/smp.h>
#include <lego/serial.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <asm/desc.h>
#include <asm/msr.h>
#include <asm/cpu.h>
#include <asm/segment.h>
#include <lego/user.h>

void x86_early_cpu_init(void);
void x86_cpu_init_features(void);

static struct cpu_local boot_cpu_local;
/* The boot CPU's interrupt stacks exist before the page allocator does. */
static u8 boot_ist_stacks[3][IST_STACK_SIZE] __aligned(16);

void x86_cpu_init_features(void)
{
	/* Let the FPU/SSE state exist (needed by user programs later): native
	 * x87 errors, no emulation, FXSAVE/SSE exceptions enabled. The kernel
	 * itself is built without SSE. */
	write_cr0((read_cr0() | X86_CR0_MP | X86_CR0_NE) & ~X86_CR0_EM);
	write_cr4(read_cr4() | X86_CR4_OSFXSR | X86_CR4_OSXMMEXCPT);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	/* SYSCALL, SMEP/SMAP, FSGSBASE, XSAVE and PCID for user mode. */
	user_cpu_init();
}

void x86_early_cpu_init(void)
{
	cpu_local_init(&boot_cpu_local, 0, 0);
	wrmsr(MSR_GS_BASE, (u64)&boot_cpu_local);
	cpu_locals[0] = &boot_cpu_local;
	serial_init();
	x86_cpu_init_features();
	for (int i = 0; i < 3; i++)
		boot_cpu_local.arch.ist_stacks[i] = boot_ist_stacks[i];
	gdt_init_cpu(&boot_cpu_local);
	idt_init();
	idt_load();
}
