/* Local APIC: per-CPU interrupt controller, IPIs and the one-shot timer.
 *
 * The timer runs in one-shot mode and is armed only when something needs it
 * (a kernel timer or a time slice on an oversubscribed core), so an idle CPU
 * takes no interrupts and stays halted. */
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/mm.h>
#include <lego/time.h>
#include <lego/sched.h>
#include <asm/apic.h>
#include <asm/msr.h>
#include <asm/io.h>
#include <asm/cpu.h>
#include <asm/irq.h>

#define LAPIC_ID 0x020
#define LAPIC_VERSION 0x030
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0b0
#define LAPIC_LDR 0x0d0
#define LAPIC_DFR 0x0e0
#define LAPIC_SVR 0x0f0
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0

#define ICR_FIXED 0x000
#define ICR_NMI 0x400
#define ICR_INIT 0x500
#define ICR_STARTUP 0x600
#define ICR_PENDING (1u << 12)
#define ICR_ASSERT (1u << 14)
#define ICR_LEVEL (1u << 15)
#define ICR_ALL_BUT_SELF (3u << 18)

#define LVT_MASKED (1u << 16)

static volatile u8 *lapic;
/* Timer ticks per millisecond at divide-by-16, from calibration. */
static u64 lapic_ticks_per_ms;

static inline u32 lapic_read(u32 reg) { return mmio_read32(lapic + reg); }
static inline void lapic_write(u32 reg, u32 v) { mmio_write32(lapic + reg, v); }

u32 lapic_id(void)
{
	return lapic_read(LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
	lapic_write(LAPIC_EOI, 0);
}

static void lapic_timer_irq(struct pt_regs *regs, void *arg)
{
	timers_run_expired();
	sched_timer_tick();
	timer_program_cpu();
}

void lapic_init_bsp(phys_addr_t base)
{
	u64 msr = rdmsr(MSR_APIC_BASE);

	if (!base)
		base = msr & 0xfffff000;
	/* Globally enable the xAPIC (bit 11) in case firmware left it off. */
	wrmsr(MSR_APIC_BASE, (msr & 0xfff) | base | (1u << 11));
	lapic = ioremap(base, PAGE_SIZE);
	if (!lapic)
		panic("cannot map the local APIC at %lx", (unsigned long)base);
	irq_register_vector(VEC_LAPIC_TIMER, lapic_timer_irq, NULL);
	lapic_init_cpu();
}

void lapic_init_cpu(void)
{
	wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | (1u << 11));
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_DFR, 0xffffffff);	/* flat model */
	lapic_write(LAPIC_LDR, (lapic_read(LAPIC_LDR) & 0x00ffffff) | (1u << 24));
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VEC_LAPIC_TIMER);
	lapic_write(LAPIC_LVT_ERROR, LVT_MASKED | 0xfe);
	lapic_write(LAPIC_TIMER_DIV, 0x3);	/* divide by 16 */
	lapic_write(LAPIC_ESR, 0);
	lapic_write(LAPIC_ESR, 0);
	/* Software enable with the spurious vector. */
	lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);
	lapic_eoi();
}

static void lapic_icr(u32 apic_id, u32 lo)
{
	unsigned long f = local_irq_save();
	while (lapic_read(LAPIC_ICR_LO) & ICR_PENDING)
		cpu_relax();
	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, lo);
	while (lapic_read(LAPIC_ICR_LO) & ICR_PENDING)
		cpu_relax();
	local_irq_restore(f);
}

void lapic_send_ipi(u32 apic_id, u8 vector)
{
	lapic_icr(apic_id, ICR_FIXED | ICR_ASSERT | vector);
}

void lapic_send_nmi_all_but_self(void)
{
	lapic_icr(0, ICR_NMI | ICR_ASSERT | ICR_ALL_BUT_SELF);
}

void lapic_send_init(u32 apic_id)
{
	lapic_icr(apic_id, ICR_INIT | ICR_ASSERT | ICR_LEVEL);
	udelay(200);
	lapic_icr(apic_id, ICR_INIT | ICR_LEVEL);	/* de-assert */
}

void lapic_send_sipi(u32 apic_id, u8 page)
{
	lapic_icr(apic_id, ICR_STARTUP | page);
}

void lapic_timer_calibrate(void)
{
	const unsigned us = 20000;

	lapic_write(LAPIC_TIMER_DIV, 0x3);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VEC_LAPIC_TIMER);
	lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
	pit_wait_us(us);
	u32 elapsed = 0xffffffff - lapic_read(LAPIC_TIMER_CUR);
	lapic_write(LAPIC_TIMER_INIT, 0);
	lapic_ticks_per_ms = (u64)elapsed * 1000 / us;
	if (!lapic_ticks_per_ms)
		panic("local APIC timer does not count");
	printk(KERN_INFO "apic: timer %lu kHz (divide by 16)\n", (unsigned long)lapic_ticks_per_ms);
}

void lapic_timer_oneshot(u64 ns)
{
	if (!lapic || !lapic_ticks_per_ms)
		return;	/* before the APIC is up nothing can be waiting on it */
	if (!ns) {
		lapic_write(LAPIC_TIMER_INIT, 0);
		return;
	}
	u64 ticks = ns * lapic_ticks_per_ms / NSEC_PER_MSEC;
	if (ticks == 0)
		ticks = 1;
	if (ticks > 0xffffffffull)
		ticks = 0xffffffffull;	/* re-armed on expiry if still needed */
	lapic_write(LAPIC_LVT_TIMER, VEC_LAPIC_TIMER);	/* one-shot, unmasked */
	lapic_write(LAPIC_TIMER_INIT, (u32)ticks);
}
