/* Which CPUs may hold TLB entries of one user address space (pure logic
 * of arch/x86/mm/uspace.c, also built on the host for the unit tests).
 *
 * running: CPUs that have the address space in CR3 now; a shootdown sends
 * them an IPI. stale: CPUs that may still hold entries from an earlier run
 * under the address space's PCID; each flushes the whole PCID the next time
 * it loads the address space. A new address space is stale everywhere, so
 * a recycled PCID never shows its previous owner's entries. The caller
 * serialises all calls on one state (uspace lock). */
#ifndef LEGO_TLB_STATE_H
#define LEGO_TLB_STATE_H

#include <lego/bitmap.h>

#ifdef CONFIG_NR_CPUS
#define TLB_STATE_CPUS CONFIG_NR_CPUS
#else
#define TLB_STATE_CPUS 64
#endif

struct tlb_state {
	DECLARE_BITMAP(running, TLB_STATE_CPUS);
	DECLARE_BITMAP(stale, TLB_STATE_CPUS);
};

void tlb_state_init(struct tlb_state *s);
/* cpu loads the address space. Returns whether it must flush its PCID
 * (always when the address space has none of its own: shared). */
bool tlb_state_load(struct tlb_state *s, int cpu, bool shared);
/* cpu switches to another address space. */
void tlb_state_unload(struct tlb_state *s, int cpu);
/* A page changed: ipi receives the CPUs to interrupt (those running it);
 * every other CPU becomes stale. Returns whether ipi has any CPU. */
bool tlb_state_shootdown(struct tlb_state *s, unsigned long *ipi);
/* cpu got the IPI after it had switched away: it flushes on its next load. */
void tlb_state_mark_stale(struct tlb_state *s, int cpu);

#endif
