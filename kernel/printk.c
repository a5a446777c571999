/* printk: levelled, timestamped console messages.
 *
 * Each message is formatted into a local buffer, then written under the
 * console lock so that lines from different CPUs do not interleave. A
 * timestamp prefix is added at the start of every line. During a panic the
 * other CPUs are stopped and the lock is bypassed, so a CPU that died
 * holding it cannot silence the dump. */
#include <lego/printk.h>
#include <lego/serial.h>
#include <lego/spinlock.h>
#include <lego/string.h>
#include <lego/time.h>
#include <lego/params.h>
#include <lego/errno.h>
#include <asm/cpu.h>

static DEFINE_SPINLOCK(console_lock);
static int console_level = CONFIG_LOG_LEVEL;
static bool at_line_start = true;	/* console_lock */
static volatile bool panic_mode;

void printk_set_level(int level)
{
	console_level = level;
}

void printk_panic_mode(void)
{
	panic_mode = true;
}

static int loglevel_param(const char *val, void *arg)
{
	u64 v;
	if (!val || cmdline_parse_u64(val, &v) || v > 7)
		return -EINVAL;
	console_level = (int)v;
	return 0;
}
LEGO_PARAM("lego.loglevel", loglevel_param, NULL);

void console_write(const char *s, size_t len)
{
	serial_write(s, len);
}

static void emit(const char *s, size_t len)
{
	char ts[32];
	size_t start = 0;

	for (size_t i = 0; i < len; i++) {
		if (at_line_start) {
			u64 ns = ktime_ns();
			int n = snprintf(ts, sizeof(ts), "[%5lu.%06lu] ", (unsigned long)(ns / 1000000000),
					 (unsigned long)(ns / 1000 % 1000000));
			console_write(ts, n);
			at_line_start = false;
		}
		if (s[i] == '\n') {
			console_write(s + start, i + 1 - start);
			start = i + 1;
			at_line_start = true;
		}
	}
	if (start < len)
		console_write(s + start, len - start);
}

int vprintk(const char *fmt, va_list ap)
{
	char buf[512];
	int level = 6;

	if (fmt[0] == '\001' && fmt[1] >= '0' && fmt[1] <= '7') {
		level = fmt[1] - '0';
		fmt += 2;
	}
	if (level > console_level)
		return 0;
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;

	if (panic_mode) {
		emit(buf, n);
		return n;
	}
	unsigned long flags = spin_lock_irqsave(&console_lock);
	emit(buf, n);
	spin_unlock_irqrestore(&console_lock, flags);
	return n;
}

int printk(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vprintk(fmt, ap);
	va_end(ap);
	return n;
}
