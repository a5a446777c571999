/* PCI enumeration, configuration access, BARs, MSI/MSI-X and INTx routing.
 *
 * Configuration space is reached through ECAM (PCIe memory-mapped config,
 * from the ACPI MCFG table) when the firmware describes it, else through
 * the legacy 0xcf8/0xcfc port pair, which only reaches the first 256 bytes
 * of each function. ECAM is mapped one bus (1 MiB) at a time, on first use:
 * ioremap space is never returned, and the scan only visits buses that
 * bridges lead to, so a typical machine maps a single bus.
 *
 * The scan is recursive from bus 0 and stops at absent slots, so under TCG
 * it costs a few hundred config reads. BARs are sized only for functions a
 * driver claims (or on request): sizing turns decoding off and on, and
 * under emulation every such switch rebuilds the guest's memory map, which
 * made sizing every function the bulk of the scan time. */
#include <lego/pci.h>
#include <lego/acpi.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/spinlock.h>
#include <lego/atomic.h>
#include <lego/time.h>
#include <lego/smp.h>
#include <asm/io.h>
#include <asm/apic.h>
#include <asm/cpu.h>

extern const struct pci_driver __pci_drivers_start[], __pci_drivers_end[];

/* ---- configuration space access ---- */

struct mcfg_entry {
	u64 base;
	u16 segment;
	u8 start_bus, end_bus;
	u32 reserved;
} __packed;

/* ECAM window of segment 0; written once by pci_ecam_init, then read only.
 * ecam_bus[] entries are filled on first use under ecam_lock. */
static phys_addr_t ecam_base;
static u8 ecam_start, ecam_end;
static bool ecam_ok;
static volatile u8 *ecam_bus[256];
static DEFINE_SPINLOCK(ecam_lock);
static DEFINE_SPINLOCK(pci_port_lock);	/* serialises the 0xcf8/0xcfc pair */

static void pci_ecam_init(void)
{
	const struct acpi_sdt_header *h = acpi_find_table("MCFG", 0);
	if (!h)
		return;
	/* The table header is followed by 8 reserved bytes, then entries. */
	const u8 *p = (const u8 *)h + sizeof(*h) + 8, *end = (const u8 *)h + h->length;
	for (; p + sizeof(struct mcfg_entry) <= end; p += sizeof(struct mcfg_entry)) {
		struct mcfg_entry e;
		memcpy(&e, p, sizeof(e));
		if (e.segment != 0 || e.start_bus > e.end_bus || !e.base)
			continue;	/* only segment 0 is scanned */
		ecam_base = e.base;
		ecam_start = e.start_bus;
		ecam_end = e.end_bus;
		ecam_ok = true;
		return;
	}
}

/* Mapped config space of one function, or NULL when ECAM does not cover it. */
static volatile u8 *pci_ecam(u8 bus, u8 slot, u8 fn)
{
	if (!ecam_ok || bus < ecam_start || bus > ecam_end)
		return NULL;
	volatile u8 *b = READ_ONCE(ecam_bus[bus]);
	if (!b) {
		unsigned long f = spin_lock_irqsave(&ecam_lock);
		b = ecam_bus[bus];
		if (!b) {
			/* The ECAM base is the address of bus 0, even when the
			 * window starts at a later bus. */
			b = ioremap(ecam_base + ((phys_addr_t)bus << 20), 1u << 20);
			WRITE_ONCE(ecam_bus[bus], b);
		}
		spin_unlock_irqrestore(&ecam_lock, f);
		if (!b)
			return NULL;
	}
	return b + ((u32)slot << 15) + ((u32)fn << 12);
}

static u32 pci_port_addr(u8 bus, u8 slot, u8 fn, u16 off)
{
	return 0x80000000u | (u32)bus << 16 | (u32)slot << 11 | (u32)fn << 8 | (off & 0xfc);
}

/* Raw accessors by address; width is 1, 2 or 4 and off is naturally aligned. */
static u32 cfg_read(u8 bus, u8 slot, u8 fn, u16 off, int width)
{
	volatile u8 *e = pci_ecam(bus, slot, fn);
	if (e) {
		if (off > 4096 - width)
			return ~0u;
		switch (width) {
		case 1: return *(volatile u8 *)(e + off);
		case 2: return *(volatile u16 *)(e + off);
		default: return *(volatile u32 *)(e + off);
		}
	}
	if (off > 256 - width)
		return ~0u;
	unsigned long f = spin_lock_irqsave(&pci_port_lock);
	outl(0xcf8, pci_port_addr(bus, slot, fn, off));
	u32 v;
	switch (width) {
	case 1: v = inb(0xcfc + (off & 3)); break;
	case 2: v = inw(0xcfc + (off & 2)); break;
	default: v = inl(0xcfc); break;
	}
	spin_unlock_irqrestore(&pci_port_lock, f);
	return v;
}

static void cfg_write(u8 bus, u8 slot, u8 fn, u16 off, int width, u32 v)
{
	volatile u8 *e = pci_ecam(bus, slot, fn);
	if (e) {
		if (off > 4096 - width)
			return;
		switch (width) {
		case 1: *(volatile u8 *)(e + off) = (u8)v; break;
		case 2: *(volatile u16 *)(e + off) = (u16)v; break;
		default: *(volatile u32 *)(e + off) = v; break;
		}
		return;
	}
	if (off > 256 - width)
		return;
	unsigned long f = spin_lock_irqsave(&pci_port_lock);
	outl(0xcf8, pci_port_addr(bus, slot, fn, off));
	switch (width) {
	case 1: outb(0xcfc + (off & 3), (u8)v); break;
	case 2: outw(0xcfc + (off & 2), (u16)v); break;
	default: outl(0xcfc, v); break;
	}
	spin_unlock_irqrestore(&pci_port_lock, f);
}

u8 pci_read8(const struct pci_dev *d, u16 off) { return (u8)cfg_read(d->bus, d->slot, d->fn, off, 1); }
u16 pci_read16(const struct pci_dev *d, u16 off) { return (u16)cfg_read(d->bus, d->slot, d->fn, off & ~1, 2); }
u32 pci_read32(const struct pci_dev *d, u16 off) { return cfg_read(d->bus, d->slot, d->fn, off & ~3, 4); }
void pci_write8(const struct pci_dev *d, u16 off, u8 v) { cfg_write(d->bus, d->slot, d->fn, off, 1, v); }
void pci_write16(const struct pci_dev *d, u16 off, u16 v) { cfg_write(d->bus, d->slot, d->fn, off & ~1, 2, v); }
void pci_write32(const struct pci_dev *d, u16 off, u32 v) { cfg_write(d->bus, d->slot, d->fn, off & ~3, 4, v); }

/* ---- device list ---- */

static LIST_HEAD(pci_devices);	/* built by pci_init on the boot CPU, then read only */
static int nr_pci_devices;

struct pci_dev *pci_get(int index)
{
	struct pci_dev *d;
	list_for_each_entry(d, &pci_devices, node)
		if (index-- == 0)
			return d;
	return NULL;
}

int pci_count(void)
{
	return nr_pci_devices;
}

struct pci_dev *pci_find(u16 vendor, u16 device, struct pci_dev *from)
{
	struct list_head *pos = from ? from->node.next : pci_devices.next;
	for (; pos != &pci_devices; pos = pos->next) {
		struct pci_dev *d = list_entry(pos, struct pci_dev, node);
		if (d->vendor == vendor && d->device == device)
			return d;
	}
	return NULL;
}

/* ---- BARs ---- */

void pci_size_bars(struct pci_dev *d)
{
	if (d->bars_sized)
		return;
	d->bars_sized = true;
	int nbars = d->header_type == 0 ? 6 : d->header_type == 1 ? 2 : 0;
	if (!nbars)
		return;
	/* Sizing writes all-ones into the BARs; stop decoding meanwhile so the
	 * device does not briefly claim addresses that belong to others. */
	u16 cmd = pci_read16(d, PCI_COMMAND);
	pci_write16(d, PCI_COMMAND, cmd & ~(PCI_CMD_IO | PCI_CMD_MEMORY));

	for (int i = 0; i < nbars; i++) {
		u16 off = PCI_BAR0 + 4 * i;
		u32 orig = pci_read32(d, off);
		struct pci_bar *b = &d->bar[i];

		pci_write32(d, off, ~0u);
		u32 probe = pci_read32(d, off);
		pci_write32(d, off, orig);
		if (orig & 1) {
			u32 mask = probe & ~3u;
			if (!mask)
				continue;
			if (!(mask >> 16))
				mask |= 0xffff0000u;	/* a 16-bit I/O decoder */
			b->io = true;
			b->base = orig & ~3u;
			b->size = (u32)(~mask + 1);
			continue;
		}
		u64 mask = probe & ~0xfu;
		u64 base = orig & ~0xfu;
		if (((orig >> 1) & 3) == 2 && i + 1 < nbars) {
			u32 orig_hi = pci_read32(d, off + 4);
			pci_write32(d, off + 4, ~0u);
			u32 probe_hi = pci_read32(d, off + 4);
			pci_write32(d, off + 4, orig_hi);
			mask |= (u64)probe_hi << 32;
			base |= (u64)orig_hi << 32;
			b->is64 = true;
		} else if (mask) {
			mask |= 0xffffffff00000000ull;	/* a 32-bit decoder */
		}
		if (mask) {
			b->base = base;
			b->size = ~mask + 1;
			b->prefetch = orig & 8;
		}
		if (b->is64)
			i++;	/* the upper half is not a BAR of its own */
	}
	pci_write16(d, PCI_COMMAND, cmd);
}

void pci_enable(struct pci_dev *d)
{
	u16 cmd = pci_read16(d, PCI_COMMAND);
	pci_write16(d, PCI_COMMAND, cmd | PCI_CMD_IO | PCI_CMD_MEMORY | PCI_CMD_MASTER);
}

void *pci_map_bar(struct pci_dev *d, int n)
{
	if (n < 0 || n >= PCI_MAX_BARS)
		return NULL;
	pci_size_bars(d);
	struct pci_bar *b = &d->bar[n];
	if (b->io || !b->base || !b->size)
		return NULL;
	if (!b->va)
		b->va = ioremap(b->base, b->size);
	return b->va;
}

u8 pci_find_cap(const struct pci_dev *d, u8 id, u8 after)
{
	if (!(pci_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	u8 pos = after ? pci_read8(d, after + 1) : pci_read8(d, PCI_CAP_PTR);
	/* 48 capabilities fit in the 192 bytes after the header; a longer
	 * chain is a loop in broken hardware. */
	for (int n = 0; n < 48 && pos >= 0x40; n++) {
		pos &= ~3;
		u8 cid = pci_read8(d, pos);
		if (cid == 0xff)
			break;
		if (!id || cid == id)
			return pos;
		pos = pci_read8(d, pos + 1);
	}
	return 0;
}

/* ---- MSI and MSI-X ---- */

#define MSI_ADDR_BASE 0xfee00000u

static u32 msi_addr(u32 apic_id)
{
	/* Fixed delivery to one CPU by physical APIC id (Intel SDM 10.11.1). */
	return MSI_ADDR_BASE | (apic_id & 0xff) << 12;
}

#define MSIX_CTRL_ENABLE (1u << 15)
#define MSIX_CTRL_MASKALL (1u << 14)
#define MSIX_ENTRY_SIZE 16
#define MSIX_VEC_MASKED 1u

static int pci_msix_init(struct pci_dev *d)
{
	if (d->msix_table)
		return 0;
	u8 cap = pci_find_cap(d, PCI_CAP_MSIX, 0);
	if (!cap)
		return -ENODEV;
	pci_size_bars(d);
	u16 ctrl = pci_read16(d, cap + 2);
	u32 tbl = pci_read32(d, cap + 4);
	u16 n = (ctrl & 0x7ff) + 1;
	struct pci_bar *b = &d->bar[tbl & 7];
	u32 off = tbl & ~7u;
	if ((tbl & 7) >= PCI_MAX_BARS || b->io || !b->base || off + (u64)n * MSIX_ENTRY_SIZE > b->size)
		return -EINVAL;
	volatile u8 *t = ioremap(b->base + off, (size_t)n * MSIX_ENTRY_SIZE);
	if (!t)
		return -ENOMEM;
	pci_enable(d);
	/* Enable with the function masked, mask every entry, then unmask the
	 * function: no entry can fire with a stale address. */
	pci_write16(d, cap + 2, ctrl | MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
	for (u16 i = 0; i < n; i++)
		mmio_write32(t + i * MSIX_ENTRY_SIZE + 12, MSIX_VEC_MASKED);
	pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) | PCI_CMD_INTX_DISABLE);
	pci_write16(d, cap + 2, (ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_MASKALL);
	d->msix_cap = cap;
	d->msix_entries = n;
	d->msix_table = t;
	return 0;
}

int pci_msix_setup(struct pci_dev *d, unsigned entry, irq_handler_t h, void *arg)
{
	int r = pci_msix_init(d);
	if (r)
		return r;
	if (entry >= d->msix_entries)
		return -EINVAL;
	int vec = irq_alloc_vector(h, arg);
	if (vec < 0)
		return vec;
	volatile u8 *e = d->msix_table + entry * MSIX_ENTRY_SIZE;
	/* An entry may only be rewritten while masked. */
	mmio_write32(e + 12, MSIX_VEC_MASKED);
	mmio_write32(e + 0, msi_addr(this_cpu()->apic_id));
	mmio_write32(e + 4, 0);
	mmio_write32(e + 8, (u32)vec);	/* fixed, edge */
	mmio_write32(e + 12, 0);
	return vec;
}

static int pci_msi_setup(struct pci_dev *d, irq_handler_t h, void *arg)
{
	u8 cap = pci_find_cap(d, PCI_CAP_MSI, 0);
	if (!cap)
		return -ENODEV;
	int vec = irq_alloc_vector(h, arg);
	if (vec < 0)
		return vec;
	u16 ctrl = pci_read16(d, cap + 2);
	bool is64 = ctrl & (1u << 7);
	pci_write32(d, cap + 4, msi_addr(this_cpu()->apic_id));
	if (is64) {
		pci_write32(d, cap + 8, 0);
		pci_write16(d, cap + 12, (u16)vec);
	} else {
		pci_write16(d, cap + 8, (u16)vec);
	}
	if (ctrl & (1u << 8))	/* per-vector masking: unmask vector 0 */
		pci_write32(d, cap + (is64 ? 16 : 12), 0);
	ctrl &= ~(7u << 4);	/* Multiple Message Enable = 1 message */
	pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) | PCI_CMD_INTX_DISABLE);
	pci_write16(d, cap + 2, ctrl | 1);
	return vec;
}

/* ---- INTx: shared I/O APIC lines ---- */

#define PCI_MAX_LINES 32
#define PCI_LINE_HANDLERS 8

/* One I/O APIC input used for PCI INTx, with its vector and the handlers of
 * the devices sharing it. Entries are created and handlers appended under
 * intx_lock; the interrupt path reads them without it (nr_handlers is
 * published after the slot is filled, and nothing is ever removed). */
struct pci_line {
	u32 gsi;
	int vector;
	bool level, active_low;
	volatile bool probing;		/* the probe owns the line: record, mask */
	volatile bool fired;
	volatile int nr_handlers;
	struct {
		irq_handler_t h;
		void *arg;
	} handlers[PCI_LINE_HANDLERS];
};

static struct pci_line pci_lines[PCI_MAX_LINES];
static int nr_pci_lines;
static DEFINE_SPINLOCK(intx_lock);
static atomic_t intx_probe_busy;	/* one probe at a time */

static void pci_line_irq(struct pt_regs *regs, void *arg)
{
	struct pci_line *l = arg;

	if (READ_ONCE(l->probing)) {
		/* A level line stays asserted until the device is serviced,
		 * which the probe cannot do: mask it so it fires only once. */
		ioapic_mask_gsi(l->gsi);
		WRITE_ONCE(l->fired, true);
		return;
	}
	int n = READ_ONCE(l->nr_handlers);
	for (int i = 0; i < n; i++)
		l->handlers[i].h(regs, l->handlers[i].arg);
}

/* The line entry of gsi, created (with a vector) if new; NULL when full. */
static struct pci_line *pci_line_get(u32 gsi, bool level, bool active_low)
{
	struct pci_line *l = NULL;
	unsigned long f = spin_lock_irqsave(&intx_lock);
	for (int i = 0; i < nr_pci_lines; i++)
		if (pci_lines[i].gsi == gsi)
			l = &pci_lines[i];
	if (!l && nr_pci_lines < PCI_MAX_LINES) {
		l = &pci_lines[nr_pci_lines];
		memset(l, 0, sizeof(*l));
		l->gsi = gsi;
		l->level = level;
		l->active_low = active_low;
		l->vector = -1;
		nr_pci_lines++;
	}
	spin_unlock_irqrestore(&intx_lock, f);
	if (l && l->vector < 0) {
		/* Only the probe (serialised by intx_probe_busy) gets here. */
		int v = irq_alloc_vector(pci_line_irq, l);
		if (v < 0)
			return NULL;
		l->vector = v;
	}
	return l;
}

static void pci_line_route(struct pci_line *l, u32 apic_id)
{
	ioapic_route_gsi(l->gsi, (u8)l->vector, apic_id, l->level, l->active_low);
}

static int pci_line_add_handler(struct pci_line *l, irq_handler_t h, void *arg)
{
	int r = 0;
	unsigned long f = spin_lock_irqsave(&intx_lock);
	int n = l->nr_handlers;
	if (n == PCI_LINE_HANDLERS) {
		r = -ENOSPC;
	} else {
		l->handlers[n].h = h;
		l->handlers[n].arg = arg;
		barrier();
		WRITE_ONCE(l->nr_handlers, n + 1);
	}
	spin_unlock_irqrestore(&intx_lock, f);
	return r;
}

/* Busy-wait (the probe runs at boot in the idle thread, which may not
 * sleep) until some probed line fires or the time is up. */
static bool pci_wait_fired(struct pci_line **c, int n, u64 ns)
{
	u64 end = ktime_ns() + ns;
	do {
		for (int i = 0; i < n; i++)
			if (c[i] && READ_ONCE(c[i]->fired))
				return true;
		cpu_relax();
	} while (ktime_ns() < end);
	return false;
}

int pci_intx_probe(struct pci_dev *d, irq_handler_t h, void *arg, pci_irq_trigger_t trigger)
{
	struct pci_line *cand[9];
	int n = 0, r;
	u32 apic = this_cpu()->apic_id;

	if (!trigger || !d->irq_pin || d->irq_pin > 4)
		return -ENXIO;
	if (irqs_disabled())
		return -EIO;	/* the probe has to take the interrupt */
	if (!atomic_cmpxchg(&intx_probe_busy, 0, 1))
		return -EBUSY;

	/* PCI INTx is level-triggered and active low; pins 16-23 are where
	 * chipsets wire PIRQA-H in APIC mode. The Interrupt Line register holds
	 * the ISA irq the firmware chose for PIC mode; its MADT override, if
	 * any, says how that pin is wired. IRQs 0, 2 and 8 are never PCI. */
	for (u32 g = 16; g < 24; g++)
		if (ioapic_has_gsi(g))
			cand[n++] = pci_line_get(g, true, true);
	u8 il = d->irq_line;
	if (il && il < 16 && il != 2 && il != 8) {
		/* The interrupt router drives an ISA pin active high; a MADT
		 * override may say otherwise. Either way it is a PCI line, so
		 * level-triggered. */
		bool low;
		u32 gsi = ioapic_isa_gsi(il, NULL, &low);
		bool have = false;
		for (int i = 0; i < n; i++)
			if (cand[i] && cand[i]->gsi == gsi)
				have = true;
		if (!have && ioapic_has_gsi(gsi))
			cand[n++] = pci_line_get(gsi, true, low);
	}

	if (!n) {
		atomic_set(&intx_probe_busy, 0);
		return -ENODEV;	/* no I/O APIC input to try */
	}

	/* Baseline: a line some other device already asserts would look like
	 * ours; note those first. */
	for (int i = 0; i < n; i++) {
		if (!cand[i])
			continue;
		WRITE_ONCE(cand[i]->fired, false);
		WRITE_ONCE(cand[i]->probing, true);
		pci_line_route(cand[i], apic);
	}
	bool noisy[9] = { false };
	pci_wait_fired(cand, n, 2 * NSEC_PER_MSEC);
	for (int i = 0; i < n; i++)
		if (cand[i] && READ_ONCE(cand[i]->fired))
			noisy[i] = true;

	struct pci_line *quiet[9];
	for (int i = 0; i < n; i++)
		quiet[i] = noisy[i] ? NULL : cand[i];

	pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) & ~PCI_CMD_INTX_DISABLE);
	r = trigger(d);
	struct pci_line *got = NULL;
	if (r == 0 && pci_wait_fired(quiet, n, 100 * NSEC_PER_MSEC)) {
		/* A chipset may route one INTx both to its APIC pin and to the
		 * PIC-mode ISA pin; let both arrive, then prefer the former. */
		udelay(1000);
		for (int i = 0; i < n && !got; i++)
			if (quiet[i] && READ_ONCE(quiet[i]->fired) && quiet[i]->gsi >= 16)
				got = quiet[i];
		for (int i = 0; i < n && !got; i++)
			if (quiet[i] && READ_ONCE(quiet[i]->fired))
				got = quiet[i];
	}
	if (got && (r = pci_line_add_handler(got, h, arg)))
		got = NULL;

	/* Hand the lines back: those with handlers live, the rest masked. */
	for (int i = 0; i < n; i++) {
		if (!cand[i])
			continue;
		WRITE_ONCE(cand[i]->probing, false);
		if (READ_ONCE(cand[i]->nr_handlers))
			pci_line_route(cand[i], apic);
		else
			ioapic_mask_gsi(cand[i]->gsi);
	}
	atomic_set(&intx_probe_busy, 0);

	if (!got)
		return r ? r : -ETIMEDOUT;
	d->irq_mode = PCI_IRQ_INTX;
	d->gsi = got->gsi;
	d->irq_vector = got->vector;
	return got->vector;
}

int pci_irq_setup(struct pci_dev *d, irq_handler_t h, void *arg, pci_irq_trigger_t trigger)
{
	int v = pci_msix_setup(d, 0, h, arg);
	if (v >= 0) {
		d->irq_mode = PCI_IRQ_MSIX;
	} else if (v != -ENODEV) {
		return v;	/* MSI-X is there but failed: it may be on already */
	} else if ((v = pci_msi_setup(d, h, arg)) >= 0) {
		d->irq_mode = PCI_IRQ_MSI;
	} else if (v != -ENODEV) {
		return v;
	} else {
		return pci_intx_probe(d, h, arg, trigger);
	}
	d->irq_vector = v;
	return v;
}

const char *pci_irq_mode_name(enum pci_irq_mode m)
{
	switch (m) {
	case PCI_IRQ_INTX: return "INTx";
	case PCI_IRQ_MSI: return "MSI";
	case PCI_IRQ_MSIX: return "MSI-X";
	default: return "none";
	}
}

const char *pci_irq_str(const struct pci_dev *d, char *buf, size_t len)
{
	if (d->irq_mode == PCI_IRQ_NONE)
		snprintf(buf, len, "none");
	else if (d->irq_mode == PCI_IRQ_INTX)
		snprintf(buf, len, "INTx gsi %u vector %d", d->gsi, d->irq_vector);
	else
		snprintf(buf, len, "%s vector %d", pci_irq_mode_name(d->irq_mode), d->irq_vector);
	return buf;
}

/* ---- enumeration ---- */

static const struct pci_driver *pci_match(const struct pci_dev *d)
{
	for (const struct pci_driver *drv = __pci_drivers_start; drv < __pci_drivers_end; drv++)
		if (drv->vendor == d->vendor && drv->device == d->device)
			return drv;
	return NULL;
}

static struct pci_dev *pci_add(u8 bus, u8 slot, u8 fn, u16 vendor)
{
	struct pci_dev *d = kzalloc(sizeof(*d));
	if (!d)
		return NULL;
	d->bus = bus;
	d->slot = slot;
	d->fn = fn;
	d->vendor = vendor;
	d->device = pci_read16(d, PCI_DEVICE_ID);
	u32 cls = pci_read32(d, PCI_REVISION);
	d->revision = (u8)cls;
	d->prog_if = (u8)(cls >> 8);
	d->subclass = (u8)(cls >> 16);
	d->class = (u8)(cls >> 24);
	d->header_type = pci_read8(d, PCI_HEADER_TYPE) & 0x7f;
	if (d->header_type == 0) {
		d->irq_line = pci_read8(d, PCI_INTERRUPT_LINE);
		d->irq_pin = pci_read8(d, PCI_INTERRUPT_PIN);
	}
	snprintf(d->addr, sizeof(d->addr), "%02x:%02x.%x", bus, slot, fn);
	d->driver = pci_match(d);
	list_add_tail(&d->node, &pci_devices);
	nr_pci_devices++;
	printk(KERN_INFO "pci: %s %04x:%04x class %02x.%02x%s%s\n", d->addr, d->vendor, d->device,
	       d->class, d->subclass, d->driver ? " " : "", d->driver ? d->driver->name : "");
	return d;
}

static void pci_scan_bus(u8 bus, u32 *seen);

static void pci_scan_fn(u8 bus, u8 slot, u8 fn, u16 vendor, u32 *seen)
{
	struct pci_dev *d = pci_add(bus, slot, fn, vendor);
	if (!d)
		return;
	/* A PCI-to-PCI bridge (06.04) or CardBus bridge leads to more buses. */
	if (d->header_type == 1 && d->class == 0x06 && d->subclass == 0x04) {
		u8 sec = pci_read8(d, PCI_SECONDARY_BUS);
		if (sec && sec != bus)
			pci_scan_bus(sec, seen);
	}
}

static void pci_scan_bus(u8 bus, u32 *seen)
{
	if (seen[bus / 32] & (1u << (bus % 32)))
		return;	/* firmware loops must not make us recurse forever */
	seen[bus / 32] |= 1u << (bus % 32);
	for (u8 slot = 0; slot < 32; slot++) {
		u16 vendor = (u16)cfg_read(bus, slot, 0, PCI_VENDOR_ID, 2);
		if (vendor == 0xffff || vendor == 0)
			continue;
		u8 nfn = (cfg_read(bus, slot, 0, PCI_HEADER_TYPE, 1) & 0x80) ? 8 : 1;
		for (u8 fn = 0; fn < nfn; fn++) {
			u16 v = fn ? (u16)cfg_read(bus, slot, fn, PCI_VENDOR_ID, 2) : vendor;
			if (v != 0xffff && v != 0)
				pci_scan_fn(bus, slot, fn, v, seen);
		}
	}
}

void pci_init(void)
{
	u32 seen[256 / 32] = { 0 };
	u64 t0 = ktime_ns();

	pci_ecam_init();
	if (!ecam_ok) {
		/* No MCFG: the legacy ports must at least answer for 00:00.0. */
		outl(0xcf8, 0x80000000u);
		if (inl(0xcf8) != 0x80000000u) {
			pr_warn("pci: no ECAM and no configuration ports; no PCI devices\n");
			return;
		}
	}
	pci_scan_bus(ecam_ok ? ecam_start : 0, seen);
	/* A multi-function host bridge at 00:00 has one root bus per function. */
	u8 root = ecam_ok ? ecam_start : 0;
	if (cfg_read(root, 0, 0, PCI_CLASS, 1) == 0x06 && cfg_read(root, 0, 0, PCI_SUBCLASS, 1) == 0x00 &&
	    (cfg_read(root, 0, 0, PCI_HEADER_TYPE, 1) & 0x80)) {
		for (u8 fn = 1; fn < 8; fn++)
			if ((u16)cfg_read(root, 0, fn, PCI_VENDOR_ID, 2) != 0xffff &&
			    cfg_read(root, 0, fn, PCI_CLASS, 1) == 0x06 &&
			    cfg_read(root, 0, fn, PCI_SUBCLASS, 1) == 0x00)
				pci_scan_bus((u8)(root + fn), seen);
	}
	printk(KERN_INFO "pci: %d functions via %s in %lu us\n", nr_pci_devices,
	       ecam_ok ? "ECAM" : "config ports", (unsigned long)((ktime_ns() - t0) / 1000));

	struct pci_dev *d;
	list_for_each_entry(d, &pci_devices, node) {
		if (!d->driver)
			continue;
		pci_size_bars(d);
		int r = d->driver->probe(d);
		if (r) {
			pr_warn("pci: %s %s: probe failed (error %d)\n", d->addr, d->driver->name, r);
			d->driver = NULL;
		}
	}
}
