/* ACPI static tables: RSDP -> XSDT/RSDT -> MADT (CPUs, I/O APICs, interrupt
 * overrides) and FADT/DSDT (soft power-off). Tables are mapped through
 * ioremap_cache since firmware may place them outside usable RAM. Every
 * table's checksum is verified; a bad table is reported and ignored. */
#include <lego/acpi.h>
#include <lego/boot.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/time.h>
#include <asm/io.h>

struct acpi_rsdp {
	char signature[8];
	u8 checksum;
	char oem_id[6];
	u8 revision;
	u32 rsdt_addr;
	/* ACPI 2.0+ */
	u32 length;
	u64 xsdt_addr;
	u8 ext_checksum;
	u8 reserved[3];
} __packed;

struct acpi_madt_info acpi_madt;
phys_addr_t acpi_rsdp_phys;

#define MAX_TABLES 64
static const struct acpi_sdt_header *tables[MAX_TABLES];
static int nr_tables;

static u8 checksum(const void *p, size_t len)
{
	u8 s = 0;
	for (size_t i = 0; i < len; i++)
		s += ((const u8 *)p)[i];
	return s;
}

static const struct acpi_sdt_header *map_table(phys_addr_t pa)
{
	const struct acpi_sdt_header *h = ioremap_cache(pa, sizeof(*h));
	if (!h)
		return NULL;
	u32 len = h->length;
	if (len < sizeof(*h) || len > (16u << 20)) {
		pr_warn("acpi: table at %lx has implausible length %u; ignored\n", (unsigned long)pa, len);
		return NULL;
	}
	h = ioremap_cache(pa, len);
	if (!h)
		return NULL;
	if (checksum(h, len)) {
		pr_warn("acpi: table %.4s at %lx fails its checksum; ignored\n", h->signature,
			(unsigned long)pa);
		return NULL;
	}
	return h;
}

static bool rsdp_valid(const struct acpi_rsdp *r)
{
	if (memcmp(r->signature, "RSD PTR ", 8) || checksum(r, 20))
		return false;
	return r->revision < 2 || (r->length >= sizeof(*r) && !checksum(r, sizeof(*r)));
}

static const struct acpi_rsdp *find_rsdp(void)
{
	if (boot_info.has_rsdp_copy) {
		const struct acpi_rsdp *r = (const void *)boot_info.rsdp_copy;
		if (rsdp_valid(r))
			return r;
		pr_warn("acpi: RSDP from the boot loader is invalid; scanning memory\n");
	}
	/* Legacy BIOS: first KiB of the EBDA, then 0xe0000-0xfffff, 16-byte steps. */
	const u16 *ebda_seg = ioremap_cache(0x40e, 2);
	phys_addr_t areas[2][2] = { { ebda_seg ? (phys_addr_t)*ebda_seg << 4 : 0, 1024 },
				    { 0xe0000, 0x20000 } };
	for (int a = 0; a < 2; a++) {
		if (!areas[a][0])
			continue;
		const u8 *p = ioremap_cache(areas[a][0], areas[a][1]);
		for (size_t off = 0; p && off + sizeof(struct acpi_rsdp) <= areas[a][1]; off += 16)
			if (rsdp_valid((const void *)(p + off))) {
				acpi_rsdp_phys = areas[a][0] + off;
				return (const void *)(p + off);
			}
	}
	return NULL;
}

static void parse_madt(const struct acpi_sdt_header *h)
{
	const u8 *p = (const u8 *)h + 44, *end = (const u8 *)h + h->length;

	acpi_madt.lapic_addr = *(const u32 *)((const u8 *)h + 36);
	acpi_madt.has_8259 = *(const u32 *)((const u8 *)h + 40) & 1;
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		switch (p[0]) {
		case 0: /* processor local APIC */
			if ((*(const u32 *)(p + 4) & 3) && acpi_madt.nr_cpus < 256)
				acpi_madt.apic_ids[acpi_madt.nr_cpus++] = p[3];
			break;
		case 1: /* I/O APIC */
			if (acpi_madt.nr_ioapics < ACPI_MAX_IOAPICS) {
				struct acpi_ioapic_info *io = &acpi_madt.ioapics[acpi_madt.nr_ioapics++];
				io->id = p[2];
				io->addr = *(const u32 *)(p + 4);
				io->gsi_base = *(const u32 *)(p + 8);
			}
			break;
		case 2: /* interrupt source override */
			if (acpi_madt.nr_overrides < ACPI_MAX_OVERRIDES) {
				struct acpi_override *o = &acpi_madt.overrides[acpi_madt.nr_overrides++];
				o->source_irq = p[3];
				o->gsi = *(const u32 *)(p + 4);
				o->flags = *(const u16 *)(p + 8);
			}
			break;
		case 5: /* 64-bit local APIC address */
			acpi_madt.lapic_addr = *(const u64 *)(p + 4);
			break;
		case 9: /* processor local x2APIC */
			if ((*(const u32 *)(p + 8) & 3) && acpi_madt.nr_cpus < 256)
				acpi_madt.apic_ids[acpi_madt.nr_cpus++] = *(const u32 *)(p + 4);
			break;
		}
		p += p[1];
	}
}

int acpi_init(void)
{
	const struct acpi_rsdp *r = find_rsdp();
	if (!r) {
		pr_err("acpi: no RSDP found\n");
		return -ENODEV;
	}
	bool x = r->revision >= 2 && r->xsdt_addr;
	const struct acpi_sdt_header *root = map_table(x ? r->xsdt_addr : r->rsdt_addr);
	if (!root) {
		pr_err("acpi: root table unusable\n");
		return -ENODEV;
	}
	size_t esz = x ? 8 : 4;
	size_t n = (root->length - sizeof(*root)) / esz;
	const u8 *ents = (const u8 *)(root + 1);
	for (size_t i = 0; i < n && nr_tables < MAX_TABLES; i++) {
		phys_addr_t pa = x ? *(const u64 *)(ents + i * 8) : *(const u32 *)(ents + i * 4);
		const struct acpi_sdt_header *t = pa ? map_table(pa) : NULL;
		if (t)
			tables[nr_tables++] = t;
	}
	printk(KERN_INFO "acpi: %s with %d tables (OEM %.6s)\n", x ? "XSDT" : "RSDT", nr_tables,
	       root->oem_id);

	const struct acpi_sdt_header *madt = acpi_find_table("APIC", 0);
	if (!madt) {
		pr_err("acpi: no MADT; running on the boot CPU only\n");
		return -ENODEV;
	}
	parse_madt(madt);
	return 0;
}

const struct acpi_sdt_header *acpi_find_table(const char *sig, int index)
{
	for (int i = 0; i < nr_tables; i++)
		if (!memcmp(tables[i]->signature, sig, 4) && index-- == 0)
			return tables[i];
	return NULL;
}

/* Decode the \_S5 package of the DSDT: Name(_S5, Package(){a, b, ...}). */
static int find_s5(const struct acpi_sdt_header *dsdt, u8 *typa, u8 *typb)
{
	const u8 *body = (const u8 *)dsdt + sizeof(*dsdt);
	size_t len = dsdt->length - sizeof(*dsdt);

	for (size_t i = 1; i + 8 < len; i++) {
		if (memcmp(body + i, "_S5_", 4))
			continue;
		if (body[i - 1] != 0x08 && !(i >= 2 && body[i - 1] == '\\' && body[i - 2] == 0x08))
			continue;	/* not a NameOp */
		const u8 *p = body + i + 4, *end = body + len;
		if (*p++ != 0x12)	/* PackageOp */
			continue;
		p += (*p >> 6) + 1;	/* PkgLength */
		p++;			/* NumElements */
		u8 vals[2] = { 0, 0 };
		for (int k = 0; k < 2 && p < end; k++) {
			if (*p == 0x0a && p + 1 < end) {	/* BytePrefix */
				vals[k] = p[1];
				p += 2;
			} else if (*p <= 1) {	/* ZeroOp / OneOp */
				vals[k] = *p++;
			} else {
				return -EINVAL;
			}
		}
		*typa = vals[0];
		*typb = vals[1];
		return 0;
	}
	return -ENOENT;
}

int acpi_poweroff(void)
{
	const struct acpi_sdt_header *fadt = acpi_find_table("FACP", 0);
	if (!fadt || fadt->length < 76)
		return -ENODEV;
	const u8 *f = (const u8 *)fadt;
	phys_addr_t dsdt_pa = *(const u32 *)(f + 40);
	if (fadt->length >= 148 && *(const u64 *)(f + 140))
		dsdt_pa = *(const u64 *)(f + 140);
	u32 smi_cmd = *(const u32 *)(f + 48);
	u8 acpi_enable = f[52];
	u16 pm1a = (u16) * (const u32 *)(f + 64);
	u16 pm1b = (u16) * (const u32 *)(f + 68);
	if (!pm1a)
		return -ENODEV;

	const struct acpi_sdt_header *dsdt = dsdt_pa ? map_table(dsdt_pa) : NULL;
	u8 typa, typb;
	if (!dsdt || find_s5(dsdt, &typa, &typb))
		return -ENOENT;

	/* Firmware still in legacy mode: ask it to hand over to ACPI. */
	if (!(inw(pm1a) & 1) && smi_cmd && acpi_enable) {
		outb(smi_cmd, acpi_enable);
		for (int i = 0; i < 300 && !(inw(pm1a) & 1); i++)
			mdelay(10);
	}
	outw(pm1a, (typa << 10) | (1 << 13));
	if (pm1b)
		outw(pm1b, (typb << 10) | (1 << 13));
	mdelay(500);
	return -EIO;
}
