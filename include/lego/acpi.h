/* ACPI table discovery (drivers/acpi.c). */
#ifndef LEGO_ACPI_H
#define LEGO_ACPI_H

#include <lego/compiler.h>

struct acpi_sdt_header {
	char signature[4];
	u32 length;
	u8 revision;
	u8 checksum;
	char oem_id[6];
	char oem_table_id[8];
	u32 oem_revision;
	u32 creator_id;
	u32 creator_revision;
} __packed;

#define ACPI_MAX_IOAPICS 8
#define ACPI_MAX_OVERRIDES 16

struct acpi_ioapic_info {
	u8 id;
	u32 addr;
	u32 gsi_base;
};

struct acpi_override {
	u8 source_irq;
	u32 gsi;
	u16 flags;
};

/* What the MADT says; filled by acpi_init. */
struct acpi_madt_info {
	u64 lapic_addr;
	int nr_cpus;
	u32 apic_ids[256];
	int nr_ioapics;
	struct acpi_ioapic_info ioapics[ACPI_MAX_IOAPICS];
	int nr_overrides;
	struct acpi_override overrides[ACPI_MAX_OVERRIDES];
	bool has_8259;
};

extern struct acpi_madt_info acpi_madt;
extern phys_addr_t acpi_rsdp_phys;

int acpi_init(void);
const struct acpi_sdt_header *acpi_find_table(const char *sig, int index);
/* Enter ACPI S5 (soft off). Returns only on failure, with -errno. */
int acpi_poweroff(void);

#endif
