/* The monotonic clock: TSC ticks scaled to nanoseconds. The TSC rate is
 * measured once against the PIT at boot; all CPUs share the scale (QEMU and
 * current hardware keep TSCs synchronised and invariant). */
#include <lego/time.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <asm/apic.h>
#include <asm/cpu.h>

static u64 tsc_base;
static u64 tsc_mult;		/* ns = ticks * tsc_mult >> 32 */
static u64 tsc_rate_khz;

u64 ktime_ns(void)
{
	if (!tsc_mult)
		return 0;
	u64 d = rdtsc() - tsc_base;
	return (u64)(((unsigned __int128)d * tsc_mult) >> 32);
}

u64 tsc_khz(void)
{
	return tsc_rate_khz;
}

void tsc_calibrate(void)
{
	const unsigned us = 20000;
	u64 best = ~0ull;

	/* Take the shortest of three rounds: an emulator can stall us. */
	for (int i = 0; i < 3; i++) {
		u64 t0 = rdtsc();
		pit_wait_us(us);
		u64 d = rdtsc() - t0;
		if (d < best)
			best = d;
	}
	tsc_rate_khz = best * 1000 / us;
	if (!tsc_rate_khz)
		panic("TSC does not advance");
	tsc_mult = (NSEC_PER_MSEC << 32) / tsc_rate_khz;
	tsc_base = rdtsc() - best;	/* the clock starts near the calibration */
	printk(KERN_INFO "tsc: %lu.%03lu MHz\n", (unsigned long)(tsc_rate_khz / 1000),
	       (unsigned long)(tsc_rate_khz % 1000));
}

void udelay(unsigned long us)
{
	if (!tsc_rate_khz) {
		pit_wait_us(us);
		return;
	}
	u64 end = rdtsc() + us * tsc_rate_khz / 1000;
	while ((s64)(rdtsc() - end) < 0)
		cpu_relax();
}

void mdelay(unsigned long ms)
{
	while (ms--)
		udelay(1000);
}
