/* Starting the application processors listed in the ACPI MADT with
 * INIT-SIPI-SIPI, one at a time. */
#include <lego/smp.h>
#include <lego/sched.h>
#include <lego/acpi.h>
#include <lego/mm.h>
#include <lego/time.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/string.h>
#include <asm/apic.h>
#include <asm/desc.h>
#include <asm/msr.h>
#include <asm/cpu.h>
#include <asm/page.h>

#define TRAMPOLINE_BASE 0x8000ul
#define AP_STACK_SIZE ((size_t)CONFIG_KERNEL_STACK_PAGES * PAGE_SIZE)

extern const char trampoline_start[], trampoline_end[];
extern const char trampoline_cr3[], trampoline_stack[], trampoline_entry[], trampoline_arg[];
extern u64 boot_pdpt_low[];

void x86_cpu_init_features(void);
void ap_start(struct cpu_local *c) __noreturn;

/* PML4 used only while an AP turns paging on: the kernel half plus the
 * boot identity map of the first GiB, where the trampoline runs. */
static u64 trampoline_pml4[512] __aligned(PAGE_SIZE);

/* Hand-shake for the AP being started: it moves 0 -> AP_RUNNING, or the
 * boot CPU gives up with 0 -> AP_ABANDONED. Whoever wins decides, so an AP
 * that shows up late halts instead of joining half set up. */
enum { AP_WAITING, AP_RUNNING, AP_ABANDONED };
static volatile int ap_state;

#define TR_PARAM(sym) ((u64 *)__va(TRAMPOLINE_BASE + ((sym) - trampoline_start)))

void ap_start(struct cpu_local *c)
{
	int expected = AP_WAITING;
	if (!__atomic_compare_exchange_n(&ap_state, &expected, AP_RUNNING, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		for (;;)
			halt();
	wrmsr(MSR_GS_BASE, (u64)c);
	x86_cpu_init_features();
	gdt_init_cpu(c);
	idt_load();
	write_cr3(kernel_pml4_phys());	/* leave the trampoline tables */
	lapic_init_cpu();

	char name[16];
	snprintf(name, sizeof(name), "idle/%d", c->cpu);
	void *stack = (void *)(*TR_PARAM(trampoline_stack) - AP_STACK_SIZE);
	sched_init_cpu(thread_adopt_boot(name, stack, AP_STACK_SIZE));
	atomic_inc(&nr_cpus_online);
	__atomic_store_n(&c->online, true, __ATOMIC_RELEASE);
	cpu_idle_loop();
}

static bool start_one(int cpu, u32 apic_id)
{
	struct cpu_local *c = kzalloc(sizeof(*c));
	void *stack = stack_alloc(AP_STACK_SIZE);

	if (!c || !stack) {
		pr_err("smp: no memory to start cpu %d\n", cpu);
		return false;
	}
	cpu_local_init(c, cpu, apic_id);
	cpu_locals[cpu] = c;

	*TR_PARAM(trampoline_stack) = (u64)stack + AP_STACK_SIZE;
	*TR_PARAM(trampoline_entry) = (u64)ap_start;
	*TR_PARAM(trampoline_arg) = (u64)c;
	ap_state = AP_WAITING;
	smp_mb();

	lapic_send_init(apic_id);
	mdelay(10);
	u64 deadline = ktime_ns() + (u64)CONFIG_SMP_BOOT_TIMEOUT_MS * NSEC_PER_MSEC;
	for (int tries = 0; tries < 2 && ap_state == AP_WAITING; tries++) {
		lapic_send_sipi(apic_id, TRAMPOLINE_BASE >> 12);
		u64 t = ktime_ns() + 200 * NSEC_PER_USEC;
		while (ap_state == AP_WAITING && ktime_ns() < t)
			cpu_relax();
	}
	/* Wait for the AP to come online, or give up on it for good. */
	for (;;) {
		if (__atomic_load_n(&c->online, __ATOMIC_ACQUIRE))
			return true;
		if (ktime_ns() >= deadline) {
			int expected = AP_WAITING;
			if (__atomic_compare_exchange_n(&ap_state, &expected, AP_ABANDONED, false,
							__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
				break;
			/* It is running its set-up: that takes microseconds.
			 * Far past the deadline it is stuck with our data. */
			if (ktime_ns() >= deadline + 5 * NSEC_PER_SEC)
				panic("smp: cpu %d (APIC id %u) started but never came online", cpu, apic_id);
		}
		cpu_relax();
	}
	/* Its cpu_local and stack stay allocated: a late AP still reads its
	 * parameters before it sees it was abandoned. */
	pr_err("smp: cpu %d (APIC id %u) did not start within %d ms\n", cpu, apic_id,
	       CONFIG_SMP_BOOT_TIMEOUT_MS);
	cpu_locals[cpu] = NULL;
	return false;
}

void smp_boot_aps(void)
{
	u64 *kpml4 = __va(kernel_pml4_phys());
	u32 me = lapic_id();

	memcpy(__va(TRAMPOLINE_BASE), trampoline_start, trampoline_end - trampoline_start);
	for (int i = 256; i < 512; i++)
		trampoline_pml4[i] = kpml4[i];
	trampoline_pml4[0] = ((u64)boot_pdpt_low) | PTE_P | PTE_W;
	*TR_PARAM(trampoline_cr3) = (u64)trampoline_pml4 - KERNEL_VMA;

	int cpu = 1;
	for (int i = 0; i < acpi_madt.nr_cpus; i++) {
		u32 id = acpi_madt.apic_ids[i];
		if (id == me)
			continue;
		if (cpu >= CONFIG_NR_CPUS) {
			pr_warn("smp: more than CONFIG_NR_CPUS=%d CPUs; leaving the rest offline\n",
				CONFIG_NR_CPUS);
			break;
		}
		if (!start_one(cpu, id)) {
			/* The trampoline parameters are shared: a straggler
			 * could pick up the next CPU's, so stop here. */
			pr_err("smp: not starting further CPUs; continuing with %d\n", cpu);
			break;
		}
		cpu++;
		nr_cpus_possible = cpu;
	}
}
