/* PCI: enumeration, configuration space, BARs, interrupts, driver registry
 * (drivers/pci.c).
 *
 * pci_init() walks the hierarchy once at boot (ECAM from the ACPI MCFG
 * table, the legacy 0xcf8/0xcfc ports when there is none), prints one line
 * per function and calls the probe of every driver whose vendor:device
 * matches. The device list is built by the boot CPU before any driver runs
 * and never changes afterwards, so it is read without a lock.
 *
 * Interrupts: pci_irq_setup() gives a device one interrupt vector, trying
 * MSI-X, then MSI, then legacy INTx through the I/O APIC. There is no AML
 * interpreter to read _PRT, so for INTx the driver supplies a trigger that
 * makes its device assert its interrupt line; the probe unmasks the
 * candidate I/O APIC pins and keeps the one that fires. INTx lines may be
 * shared: an INTx handler must cope with being called when its device did
 * not interrupt (read the device's cause register; return if it is empty). */
#ifndef LEGO_PCI_H
#define LEGO_PCI_H

#include <lego/compiler.h>
#include <lego/list.h>
#include <asm/irq.h>

/* Configuration space offsets (type 0 and common header). */
#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_REVISION 0x08
#define PCI_PROG_IF 0x09
#define PCI_SUBCLASS 0x0a
#define PCI_CLASS 0x0b
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_SECONDARY_BUS 0x19	/* type 1 (bridge) header */
#define PCI_CAP_PTR 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_CMD_IO (1u << 0)
#define PCI_CMD_MEMORY (1u << 1)
#define PCI_CMD_MASTER (1u << 2)
#define PCI_CMD_INTX_DISABLE (1u << 10)
#define PCI_STATUS_INTX (1u << 3)
#define PCI_STATUS_CAP_LIST (1u << 4)

/* Capability ids. */
#define PCI_CAP_MSI 0x05
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11

#define PCI_MAX_BARS 6

struct pci_bar {
	u64 base;	/* bus address (I/O port number for I/O BARs); 0: unused */
	u64 size;
	bool io;	/* I/O space rather than memory */
	bool is64;	/* memory BAR taking two slots (the next slot stays empty) */
	bool prefetch;
	void *va;	/* pci_map_bar's mapping, made once */
};

enum pci_irq_mode { PCI_IRQ_NONE, PCI_IRQ_INTX, PCI_IRQ_MSI, PCI_IRQ_MSIX };

struct pci_driver;

/* One PCI function. Identity is filled by pci_init and then read only;
 * bar[] is filled by pci_size_bars, which pci_init calls before a driver's
 * probe (and pci_map_bar calls itself). driver, drvdata, bar[].va and the
 * interrupt fields belong to the bound driver (written from its probe,
 * which runs on the boot CPU). */
struct pci_dev {
	struct list_head node;		/* pci_devices, boot-time only */
	u8 bus, slot, fn;
	u8 header_type;			/* without the multi-function bit */
	u16 vendor, device;
	u8 class, subclass, prog_if, revision;
	u8 irq_line, irq_pin;		/* firmware's Interrupt Line, INTA=1..INTD=4 */
	char addr[8];			/* "bb:ss.f" */
	struct pci_bar bar[PCI_MAX_BARS];
	bool bars_sized;
	const struct pci_driver *driver;
	void *drvdata;
	/* Interrupt set-up (pci_irq_setup / pci_msix_setup). */
	enum pci_irq_mode irq_mode;
	int irq_vector;			/* CPU vector of pci_irq_setup's interrupt */
	u32 gsi;			/* INTx: the I/O APIC input */
	u8 msix_cap;			/* 0 if none */
	u16 msix_entries;		/* MSI-X table size */
	volatile u8 *msix_table;	/* mapped on first use */
};

struct pci_driver {
	const char *name;
	u16 vendor, device;
	/* 0 when the driver took the device, else -errno (reported). */
	int (*probe)(struct pci_dev *dev);
};

/* Register a driver for one vendor:device pair (use several for more ids). */
#define PCI_DRIVER(ident, dname, ven, dev, probefn)                              \
	static const struct pci_driver __pci_driver_##ident                      \
		__attribute__((used, section(".lego_pci_drivers"), aligned(8))) = { \
			.name = dname, .vendor = ven, .device = dev, .probe = probefn }

/* Enumerate every function and probe the drivers. Boot CPU, interrupts on. */
void pci_init(void);
/* The index-th function found (0, 1, ...), or NULL past the end. */
struct pci_dev *pci_get(int index);
int pci_count(void);
/* The first function with this vendor:device after from (NULL: from the start). */
struct pci_dev *pci_find(u16 vendor, u16 device, struct pci_dev *from);

u8 pci_read8(const struct pci_dev *dev, u16 off);
u16 pci_read16(const struct pci_dev *dev, u16 off);
u32 pci_read32(const struct pci_dev *dev, u16 off);
void pci_write8(const struct pci_dev *dev, u16 off, u8 v);
void pci_write16(const struct pci_dev *dev, u16 off, u16 v);
void pci_write32(const struct pci_dev *dev, u16 off, u32 v);

/* Fill dev->bar[] (once): base, size and kind of every BAR. Decoding is
 * off while the BARs hold all-ones, and the original values come back. */
void pci_size_bars(struct pci_dev *dev);
/* Turn on memory and I/O decoding and bus mastering (DMA). */
void pci_enable(struct pci_dev *dev);
/* Uncached mapping of memory BAR n (the same pointer on every call); NULL
 * for an absent or I/O BAR. */
void *pci_map_bar(struct pci_dev *dev, int n);
/* Offset of the next capability with this id after offset after (0: search
 * from the start), or 0 if none. id 0 matches any capability. */
u8 pci_find_cap(const struct pci_dev *dev, u8 id, u8 after);

/* Make the device raise its interrupt (legacy INTx probing); 0 or -errno. */
typedef int (*pci_irq_trigger_t)(struct pci_dev *dev);

/* Give the device one interrupt: MSI-X table entry 0 if it has MSI-X, else
 * MSI (one message), else INTx found by pci_intx_probe with trigger
 * (-ENXIO without one). Returns the CPU vector (dev->irq_mode says which
 * kind) or -errno. The interrupt goes to the calling CPU. */
int pci_irq_setup(struct pci_dev *dev, irq_handler_t h, void *arg, pci_irq_trigger_t trigger);
/* Program MSI-X table entry `entry` with a new vector running h(arg); turns
 * MSI-X on (INTx off) on first use. Returns the vector or -errno. */
int pci_msix_setup(struct pci_dev *dev, unsigned entry, irq_handler_t h, void *arg);
/* Find the I/O APIC input the device's INTx line reaches: unmask pins
 * 16-23 (level, active low) and the Interrupt Line pin (ISA polarity and
 * trigger unless a MADT override says otherwise), call trigger, keep the pin that fired and attach h(arg) to it
 * (shared with any handler already there). Returns the vector or -errno. */
int pci_intx_probe(struct pci_dev *dev, irq_handler_t h, void *arg, pci_irq_trigger_t trigger);
const char *pci_irq_mode_name(enum pci_irq_mode m);
/* "INTx gsi 20 vector 66", "MSI-X vector 67", "none": for boot messages. */
const char *pci_irq_str(const struct pci_dev *dev, char *buf, size_t len);

#endif
