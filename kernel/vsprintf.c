/* Formatted output into a bounded buffer.
 *
 * Supports the conversions the kernel uses: %d %i %u %x %X %o %c %s %p %%,
 * the length modifiers hh h l ll z t, flags '-' '0' '+' ' ' '#', field width
 * and precision (also '*'). Kernel extension: %pS prints a text address as
 * symbol+offset/size. Output is always NUL-terminated when size > 0; the
 * return value is the length the full output would have had. */
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/kallsyms.h>

struct outbuf {
	char *buf;
	size_t size;
	size_t len;
};

static void out_char(struct outbuf *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void out_str(struct outbuf *o, const char *s, size_t n)
{
	while (n--)
		out_char(o, *s++);
}

enum { F_LEFT = 1, F_ZERO = 2, F_PLUS = 4, F_SPACE = 8, F_ALT = 16, F_UPPER = 32 };

static void out_padded(struct outbuf *o, const char *s, size_t n, int width, int flags)
{
	int pad = width > (int)n ? width - (int)n : 0;

	if (!(flags & F_LEFT))
		while (pad-- > 0)
			out_char(o, ' ');
	out_str(o, s, n);
	if (flags & F_LEFT)
		while (pad-- > 0)
			out_char(o, ' ');
}

static void out_number(struct outbuf *o, unsigned long long v, bool neg, unsigned base,
		       int width, int prec, int flags)
{
	const char *digits = (flags & F_UPPER) ? "0123456789ABCDEF" : "0123456789abcdef";
	char tmp[24];
	int n = 0;
	char sign = 0;
	const char *prefix = "";
	int plen;

	if (neg)
		sign = '-';
	else if (flags & F_PLUS)
		sign = '+';
	else if (flags & F_SPACE)
		sign = ' ';
	if ((flags & F_ALT) && base == 16 && v)
		prefix = (flags & F_UPPER) ? "0X" : "0x";
	else if ((flags & F_ALT) && base == 8)
		prefix = "0";

	if (v == 0 && prec != 0)
		tmp[n++] = '0';
	while (v) {
		tmp[n++] = digits[v % base];
		v /= base;
	}
	int zeros = prec > n ? prec - n : 0;
	plen = (int)strlen(prefix) + (sign ? 1 : 0);
	int total = n + zeros + plen;
	if ((flags & F_ZERO) && !(flags & F_LEFT) && prec < 0 && width > total) {
		zeros += width - total;
		total = width;
	}
	if (!(flags & F_LEFT))
		for (int i = total; i < width; i++)
			out_char(o, ' ');
	if (sign)
		out_char(o, sign);
	out_str(o, prefix, strlen(prefix));
	while (zeros--)
		out_char(o, '0');
	while (n--)
		out_char(o, tmp[n]);
	if (flags & F_LEFT)
		for (int i = total; i < width; i++)
			out_char(o, ' ');
}

static void out_symbol(struct outbuf *o, unsigned long addr, int width, int flags)
{
	unsigned long off, size;
	const char *name = kallsyms_lookup(addr, &off, &size);
	char tmp[160];
	int n;

	if (name)
		n = snprintf(tmp, sizeof(tmp), "%s+0x%lx/0x%lx", name, off, size);
	else
		n = snprintf(tmp, sizeof(tmp), "0x%016lx", addr);
	if (n > (int)sizeof(tmp) - 1)
		n = sizeof(tmp) - 1;
	out_padded(o, tmp, n, width, flags);
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct outbuf o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			out_char(&o, *fmt);
			continue;
		}
		fmt++;
		int flags = 0;
		for (;; fmt++) {
			if (*fmt == '-')
				flags |= F_LEFT;
			else if (*fmt == '0')
				flags |= F_ZERO;
			else if (*fmt == '+')
				flags |= F_PLUS;
			else if (*fmt == ' ')
				flags |= F_SPACE;
			else if (*fmt == '#')
				flags |= F_ALT;
			else
				break;
		}
		int width = 0;
		if (*fmt == '*') {
			width = va_arg(ap, int);
			if (width < 0) {
				flags |= F_LEFT;
				width = -width;
			}
			fmt++;
		} else {
			while (*fmt >= '0' && *fmt <= '9')
				width = width * 10 + (*fmt++ - '0');
		}
		int prec = -1;
		if (*fmt == '.') {
			fmt++;
			prec = 0;
			if (*fmt == '*') {
				prec = va_arg(ap, int);
				fmt++;
			} else {
				while (*fmt >= '0' && *fmt <= '9')
					prec = prec * 10 + (*fmt++ - '0');
			}
		}
		int lng = 0; /* -2 hh, -1 h, 1 l, 2 ll, 3 z/t */
		if (*fmt == 'h') {
			lng = -1;
			if (*++fmt == 'h') {
				lng = -2;
				fmt++;
			}
		} else if (*fmt == 'l') {
			lng = 1;
			if (*++fmt == 'l') {
				lng = 2;
				fmt++;
			}
		} else if (*fmt == 'z' || *fmt == 't') {
			lng = 3;
			fmt++;
		}

		unsigned long long uv;
		long long sv;
		switch (*fmt) {
		case 'd':
		case 'i':
			if (lng >= 1)
				sv = lng == 2 ? va_arg(ap, long long) : va_arg(ap, long);
			else
				sv = va_arg(ap, int);
			if (lng == -1)
				sv = (short)sv;
			else if (lng == -2)
				sv = (signed char)sv;
			out_number(&o, sv < 0 ? -(unsigned long long)sv : (unsigned long long)sv, sv < 0,
				   10, width, prec, flags);
			break;
		case 'u':
		case 'x':
		case 'X':
		case 'o':
			if (lng >= 1)
				uv = lng == 2 ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned long);
			else
				uv = va_arg(ap, unsigned int);
			if (lng == -1)
				uv = (unsigned short)uv;
			else if (lng == -2)
				uv = (unsigned char)uv;
			if (*fmt == 'X')
				flags |= F_UPPER;
			out_number(&o, uv, false, *fmt == 'u' ? 10 : *fmt == 'o' ? 8 : 16, width, prec,
				   flags);
			break;
		case 'c': {
			char c = (char)va_arg(ap, int);
			out_padded(&o, &c, 1, width, flags);
			break;
		}
		case 's': {
			const char *s = va_arg(ap, const char *);
			if (!s)
				s = "(null)";
			size_t n = prec >= 0 ? strnlen(s, prec) : strlen(s);
			out_padded(&o, s, n, width, flags);
			break;
		}
		case 'p': {
			unsigned long p = (unsigned long)va_arg(ap, void *);
			if (fmt[1] == 'S') {
				fmt++;
				out_symbol(&o, p, width, flags);
			} else {
				out_number(&o, p, false, 16, 16, -1, F_ZERO);
			}
			break;
		}
		case '%':
			out_char(&o, '%');
			break;
		case 0:
			fmt--;
			break;
		default:
			out_char(&o, '%');
			out_char(&o, *fmt);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = 0;
	return (int)o.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
