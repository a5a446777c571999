/* The 8254 PIT, used only as a reference clock for calibrating the TSC and
 * the local APIC timer: channel 2 counts down with its gate controlled by
 * port 0x61, and its output is readable there too, so no interrupt is
 * needed. */
#include <asm/apic.h>
#include <asm/io.h>

#define PIT_HZ 1193182u
#define PIT_CH2 0x42
#define PIT_CMD 0x43
#define PIT_GATE 0x61

void pit_wait_us(unsigned us)
{
	while (us) {
		/* The counter is 16 bits: at most ~54.9 ms per round. */
		unsigned chunk = us > 50000 ? 50000 : us;
		u32 count = (u32)((u64)PIT_HZ * chunk / 1000000);

		u8 g = inb(PIT_GATE);
		outb(PIT_GATE, (g & ~0x02) & ~0x01);	/* speaker off, gate low */
		outb(PIT_CMD, 0xb0);			/* ch2, lo/hi, mode 0, binary */
		outb(PIT_CH2, count & 0xff);
		outb(PIT_CH2, count >> 8);
		outb(PIT_GATE, (inb(PIT_GATE) & ~0x02) | 0x01);	/* gate high: start */
		while (!(inb(PIT_GATE) & 0x20))
			;
		us -= chunk;
	}
}
