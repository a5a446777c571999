/* The wall clock: the CMOS real-time clock (QEMU keeps it at the host's
 * UTC time; PCs keep it at UTC or local time, we assume UTC) read once,
 * at first use, then the monotonic clock counts from there. Used for file
 * mtimes (storage) and clock_gettime(CLOCK_REALTIME) (processor). */
#include <lego/wallclock.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/spinlock.h>
#include <lego/time.h>
#include <asm/io.h>

static u64 wall_base_ns;	/* wall-clock time at ktime_ns() == 0; set once */
static bool wall_read;		/* wall_lock */
static DEFINE_SPINLOCK(wall_lock);


static u8 cmos_read(u8 reg)
{
	outb(0x70, 0x80 | reg);	/* bit 7 keeps NMIs disabled */
	return inb(0x71);
}

/* Days from 1970-01-01 to the given date of the proleptic Gregorian
 * calendar: count whole 400-year eras (146097 days each) of a calendar
 * whose years start in March, so the leap day falls at a year's end. */
static s64 days_from_civil(s64 y, unsigned m, unsigned d)
{
	y -= m <= 2;
	s64 era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);			/* 0..399 */
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;	/* 0..365 */
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;		/* 0..146096 */
	return era * 146097 + doe - 719468;
}

static unsigned bcd(u8 v, bool binary)
{
	return binary ? v : (v >> 4) * 10u + (v & 15u);
}

static void rtc_read_once(void)
{
	u8 a[7], b[7];

	/* Read until two reads agree outside an update cycle, so that no
	 * field is taken from either side of a second's roll-over. */
	for (int tries = 0; tries < 100; tries++) {
		for (int spin = 0; spin < 100000 && (cmos_read(0x0a) & 0x80); spin++)
			;
		static const u8 regs[7] = { 0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32 };
		for (int i = 0; i < 7; i++)
			a[i] = cmos_read(regs[i]);
		for (int i = 0; i < 7; i++)
			b[i] = cmos_read(regs[i]);
		if (!memcmp(a, b, sizeof(a)))
			break;
	}
	u8 fmt = cmos_read(0x0b);
	bool binary = fmt & 0x04, h24 = fmt & 0x02;
	unsigned hour = bcd(a[2] & 0x7f, binary);
	if (!h24) {
		hour %= 12;
		if (a[2] & 0x80)
			hour += 12;
	}
	unsigned year = bcd(a[5], binary) + 100 * bcd(a[6], binary);
	if (year < 1970)	/* no century register: assume 20xx */
		year = 2000 + bcd(a[5], binary);
	unsigned mon = bcd(a[4], binary), day = bcd(a[3], binary);
	unsigned min = bcd(a[1], binary), sec = bcd(a[0], binary);
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
		pr_warn("rtc: the CMOS clock reads garbage; the wall clock counts from 1970 at boot\n");
		return;
	}
	s64 secs = days_from_civil(year, mon, day) * 86400 + hour * 3600 + min * 60 + sec;
	u64 now = ktime_ns();
	u64 wall = (u64)secs * NSEC_PER_SEC;
	wall_base_ns = wall > now ? wall - now : 0;
}

u64 wallclock_ns(void)
{
	if (!__atomic_load_n(&wall_read, __ATOMIC_ACQUIRE)) {
		spin_lock(&wall_lock);
		if (!wall_read) {
			rtc_read_once();
			__atomic_store_n(&wall_read, true, __ATOMIC_RELEASE);
		}
		spin_unlock(&wall_lock);
	}
	return wall_base_ns + ktime_ns();
}
