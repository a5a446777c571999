/* Local APIC (xAPIC, memory-mapped) and I/O APIC. */
#ifndef ASM_APIC_H
#define ASM_APIC_H

#include <lego/types.h>

void lapic_init_bsp(phys_addr_t base);
void lapic_init_cpu(void);
u32 lapic_id(void);
void lapic_eoi(void);
/* Send a fixed-vector IPI to one CPU by APIC id. */
void lapic_send_ipi(u32 apic_id, u8 vector);
void lapic_send_nmi_all_but_self(void);
void lapic_send_init(u32 apic_id);
void lapic_send_sipi(u32 apic_id, u8 page);
/* Arm the one-shot timer to fire after ns (0 stops it). */
void lapic_timer_oneshot(u64 ns);
void lapic_timer_calibrate(void);

void ioapic_init(void);
/* Route legacy ISA irq (after MADT overrides) to vector on cpu's APIC. */
int ioapic_route_isa(u8 isa_irq, u8 vector, u32 dest_apic_id);
int ioapic_mask_isa(u8 isa_irq);
/* The GSI an ISA irq arrives on, after the MADT overrides, with the
 * override's trigger mode and polarity (either pointer may be NULL). */
u32 ioapic_isa_gsi(u8 isa_irq, bool *level, bool *active_low);
bool ioapic_has_gsi(u32 gsi);
/* Route a global system interrupt (e.g. a PCI INTx line: level, active
 * low) to vector on one CPU and unmask it. -ENODEV if no I/O APIC has it. */
int ioapic_route_gsi(u32 gsi, u8 vector, u32 dest_apic_id, bool level, bool active_low);
/* Mask a GSI, keeping the rest of its redirection entry. */
int ioapic_mask_gsi(u32 gsi);

/* Calibrate the TSC against the PIT; sets up ktime_ns(). */
void tsc_calibrate(void);
/* Busy-wait on PIT channel 2 for us microseconds (calibration only). */
void pit_wait_us(unsigned us);

#endif
