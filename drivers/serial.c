/* 16550 UART on COM1, used as the kernel console. Output is polled: the
 * console must work in any context, including panics with interrupts off. */
#include <lego/serial.h>
#include <asm/io.h>

#define COM1 0x3f8
#define UART_THR 0	/* transmit holding (DLAB=0) */
#define UART_DLL 0	/* divisor low (DLAB=1) */
#define UART_IER 1
#define UART_DLH 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_SCR 7
#define LSR_THRE 0x20

static bool serial_present;

void serial_init(void)
{
	/* Probe through the scratch register: on hardware without COM1 the
	 * port reads back 0xff and we must not wait for THRE forever. */
	outb(COM1 + UART_SCR, 0x5a);
	if (inb(COM1 + UART_SCR) != 0x5a)
		return;
	outb(COM1 + UART_IER, 0x00);
	outb(COM1 + UART_LCR, 0x80);	/* DLAB on */
	outb(COM1 + UART_DLL, 1);	/* 115200 baud */
	outb(COM1 + UART_DLH, 0);
	outb(COM1 + UART_LCR, 0x03);	/* 8N1 */
	outb(COM1 + UART_FCR, 0xc7);	/* FIFO on, cleared, 14-byte threshold */
	outb(COM1 + UART_MCR, 0x03);	/* DTR, RTS */
	serial_present = true;
}

void serial_putc(char c)
{
	if (!serial_present)
		return;
	for (int spins = 0; !(inb(COM1 + UART_LSR) & LSR_THRE) && spins < 100000; spins++)
		;
	outb(COM1 + UART_THR, c);
}

void serial_write(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			serial_putc('\r');
		serial_putc(s[i]);
	}
}
