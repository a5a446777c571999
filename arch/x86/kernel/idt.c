/* The interrupt descriptor table, shared by all CPUs. */
#include <lego/compiler.h>
#include <asm/desc.h>
#include <asm/segment.h>
#include <asm/irq.h>

struct idt_gate {
	u16 off_lo;
	u16 sel;
	u8 ist;
	u8 type_attr;
	u16 off_mid;
	u32 off_hi;
	u32 zero;
} __packed;

static struct idt_gate idt[256] __aligned(16);
extern char interrupt_stubs[];

static void set_gate(int vec, unsigned long handler, int ist)
{
	struct idt_gate *g = &idt[vec];

	g->off_lo = handler & 0xffff;
	g->sel = GDT_KERNEL_CS;
	g->ist = ist;
	g->type_attr = 0x8e;	/* present, DPL 0, 64-bit interrupt gate (IF cleared) */
	g->off_mid = (handler >> 16) & 0xffff;
	g->off_hi = handler >> 32;
	g->zero = 0;
}

void idt_init(void)
{
	for (int v = 0; v < 256; v++)
		set_gate(v, (unsigned long)interrupt_stubs + 16 * v, 0);
	/* Faults that can hit with a broken stack get known-good ones. */
	idt[8].ist = IST_DOUBLE_FAULT;
	idt[VEC_NMI].ist = IST_NMI;
	idt[18].ist = IST_MCE;
}

void idt_load(void)
{
	struct {
		u16 limit;
		u64 base;
	} __packed p = { sizeof(idt) - 1, (u64)idt };
	__asm__ __volatile__("lidt %0" : : "m"(p));
}
