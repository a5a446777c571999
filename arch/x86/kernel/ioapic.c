/* I/O APICs: route device interrupt lines (global system interrupts) to
 * vectors on a chosen CPU. All lines start masked; drivers unmask the ones
 * they use. The legacy 8259 PICs are remapped away from the exception
 * vectors and fully masked. */
#include <lego/acpi.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/spinlock.h>
#include <lego/errno.h>
#include <asm/apic.h>
#include <asm/io.h>

#define IOREGSEL 0x00
#define IOWIN 0x10
#define IOAPIC_VER 0x01
#define IOAPIC_REDTBL(n) (0x10 + 2 * (n))

struct ioapic {
	volatile u8 *regs;
	u32 gsi_base;
	u32 nr_lines;
};

static struct ioapic ioapics[ACPI_MAX_IOAPICS];
static int nr_ioapics;
static DEFINE_SPINLOCK(ioapic_lock);	/* serialises IOREGSEL/IOWIN pairs */

static u32 io_read(struct ioapic *io, u32 reg)
{
	mmio_write32(io->regs + IOREGSEL, reg);
	return mmio_read32(io->regs + IOWIN);
}

static void io_write(struct ioapic *io, u32 reg, u32 v)
{
	mmio_write32(io->regs + IOREGSEL, reg);
	mmio_write32(io->regs + IOWIN, v);
}

static void pic_disable(void)
{
	/* ICW1-4: remap to 0x20/0x28 so a stray interrupt is not taken for an
	 * exception, then mask everything. */
	outb(0x20, 0x11);
	outb(0xa0, 0x11);
	outb(0x21, 0x20);
	outb(0xa1, 0x28);
	outb(0x21, 0x04);
	outb(0xa1, 0x02);
	outb(0x21, 0x01);
	outb(0xa1, 0x01);
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

void ioapic_init(void)
{
	if (acpi_madt.has_8259 || !acpi_madt.nr_ioapics)
		pic_disable();
	for (int i = 0; i < acpi_madt.nr_ioapics; i++) {
		struct ioapic *io = &ioapics[nr_ioapics];
		io->regs = ioremap(acpi_madt.ioapics[i].addr, PAGE_SIZE);
		if (!io->regs)
			continue;
		io->gsi_base = acpi_madt.ioapics[i].gsi_base;
		io->nr_lines = ((io_read(io, IOAPIC_VER) >> 16) & 0xff) + 1;
		for (u32 l = 0; l < io->nr_lines; l++) {
			io_write(io, IOAPIC_REDTBL(l), 1u << 16);	/* masked */
			io_write(io, IOAPIC_REDTBL(l) + 1, 0);
		}
		printk(KERN_INFO "ioapic: id %u at %x, GSIs %u-%u\n", acpi_madt.ioapics[i].id,
		       acpi_madt.ioapics[i].addr, io->gsi_base, io->gsi_base + io->nr_lines - 1);
		nr_ioapics++;
	}
}

/* The I/O APIC and line that serve gsi, or NULL. */
static struct ioapic *ioapic_of(u32 gsi, u32 *line)
{
	for (int i = 0; i < nr_ioapics; i++) {
		struct ioapic *io = &ioapics[i];
		if (gsi >= io->gsi_base && gsi < io->gsi_base + io->nr_lines) {
			*line = gsi - io->gsi_base;
			return io;
		}
	}
	return NULL;
}

bool ioapic_has_gsi(u32 gsi)
{
	u32 line;
	return ioapic_of(gsi, &line) != NULL;
}

u32 ioapic_isa_gsi(u8 isa_irq, bool *level, bool *active_low)
{
	u32 gsi = isa_irq;
	bool lvl = false, low = false;	/* ISA default: edge, active high */

	for (int i = 0; i < acpi_madt.nr_overrides; i++) {
		const struct acpi_override *o = &acpi_madt.overrides[i];
		if (o->source_irq != isa_irq)
			continue;
		gsi = o->gsi;
		/* MPS INTI flags: polarity bits 1:0, trigger bits 3:2; 3 = low/level. */
		if ((o->flags & 3) == 3)
			low = true;
		if (((o->flags >> 2) & 3) == 3)
			lvl = true;
	}
	if (level)
		*level = lvl;
	if (active_low)
		*active_low = low;
	return gsi;
}

int ioapic_route_gsi(u32 gsi, u8 vector, u32 dest_apic_id, bool level, bool active_low)
{
	u32 line;
	struct ioapic *io = ioapic_of(gsi, &line);
	if (!io)
		return -ENODEV;
	u32 lo = vector | (active_low ? 1u << 13 : 0) | (level ? 1u << 15 : 0);
	unsigned long f = spin_lock_irqsave(&ioapic_lock);
	/* Destination first: the entry goes live when the low word unmasks it. */
	io_write(io, IOAPIC_REDTBL(line) + 1, dest_apic_id << 24);
	io_write(io, IOAPIC_REDTBL(line), lo);
	spin_unlock_irqrestore(&ioapic_lock, f);
	return 0;
}

int ioapic_mask_gsi(u32 gsi)
{
	u32 line;
	struct ioapic *io = ioapic_of(gsi, &line);
	if (!io)
		return -ENODEV;
	unsigned long f = spin_lock_irqsave(&ioapic_lock);
	/* Keep vector, trigger and polarity; only set the mask bit. */
	io_write(io, IOAPIC_REDTBL(line), io_read(io, IOAPIC_REDTBL(line)) | 1u << 16);
	spin_unlock_irqrestore(&ioapic_lock, f);
	return 0;
}

int ioapic_route_isa(u8 isa_irq, u8 vector, u32 dest_apic_id)
{
	bool level, active_low;
	u32 gsi = ioapic_isa_gsi(isa_irq, &level, &active_low);
	return ioapic_route_gsi(gsi, vector, dest_apic_id, level, active_low);
}

int ioapic_mask_isa(u8 isa_irq)
{
	return ioapic_mask_gsi(ioapic_isa_gsi(isa_irq, NULL, NULL));
}
