/* User address spaces (processor monitor): one x86-64 page-table tree per
 * process whose upper half is the kernel's, with 4 KiB user pages mapped
 * and unmapped one at a time. The physical pages behind the mappings
 * belong to the caller (the ExCache); the address space owns only its
 * page-table pages.
 *
 * When the CPU has PCIDs each address space gets one, so that switching
 * between processes keeps their TLB entries. */
#ifndef LEGO_USPACE_H
#define LEGO_USPACE_H

#include <lego/types.h>

struct uspace;

/* Permission bits accepted by uspace_map (asm/page.h PTE_* values). */
#define USPACE_PROT_MASK (PTE_W | PTE_U | PTE_NX)

/* A new, empty address space holding one reference, or NULL. */
struct uspace *uspace_create(void);
void uspace_get(struct uspace *us);
/* Drop a reference; the last one frees the page tables. No CPU may be
 * running the address space any more by then (its threads are gone). */
void uspace_put(struct uspace *us);

/* Map the 4 KiB user page va to pa with prot (PTE_U for a user page, PTE_W
 * for writable, PTE_NX for no-execute). -EINVAL (va not a page-aligned user
 * address, pa unaligned, stray prot bits), -EEXIST (already mapped: unmap
 * first), -ENOMEM. */
int uspace_map(struct uspace *us, unsigned long va, phys_addr_t pa, u64 prot);
/* Remove the mapping of va and invalidate it on every CPU running us; the
 * old PTE (physical address, accessed and dirty bits) goes to *old_pte if
 * that is not NULL. -EINVAL, -ENOENT. May not be called with interrupts off. */
int uspace_unmap(struct uspace *us, unsigned long va, u64 *old_pte);
/* The PTE of va (0 if not mapped). */
u64 uspace_lookup(struct uspace *us, unsigned long va);
/* The accessed and dirty bits (PTE_A | PTE_D) of va's PTE into *ad, then
 * clear those of them in clear (with a TLB shootdown when a set bit was
 * cleared, so that the CPU sets it again on the next access). -ENOENT if
 * va is not mapped. May not be called with interrupts off when clear is
 * non-zero. */
int uspace_ad_bits(struct uspace *us, unsigned long va, u64 clear, u64 *ad);
/* Invalidate va of us on every CPU currently running us (IPI) and make
 * every other CPU drop all of us's entries before it next runs it. */
void uspace_flush_page(struct uspace *us, unsigned long va);

/* Load next's page tables on this CPU (NULL: the kernel's); interrupts off. */
void uspace_switch(struct uspace *next);
void uspace_cpu_init(void);
bool uspace_has_pcid(void);
int uspace_pcid(const struct uspace *us);

#endif
