/* TLB bookkeeping of a user address space: see lego/tlb_state.h. */
#include <lego/tlb_state.h>

void tlb_state_init(struct tlb_state *s)
{
	bitmap_zero(s->running, TLB_STATE_CPUS);
	for (size_t i = 0; i < BITS_TO_LONGS(TLB_STATE_CPUS); i++)
		s->stale[i] = ~0ul;
}

bool tlb_state_load(struct tlb_state *s, int cpu, bool shared)
{
	bool flush = shared || bitmap_test_bit(s->stale, cpu);

	bitmap_set_bit(s->running, cpu);
	bitmap_clear_bit(s->stale, cpu);
	return flush;
}

void tlb_state_unload(struct tlb_state *s, int cpu)
{
	bitmap_clear_bit(s->running, cpu);
}

bool tlb_state_shootdown(struct tlb_state *s, unsigned long *ipi)
{
	bool any = false;

	for (size_t i = 0; i < BITS_TO_LONGS(TLB_STATE_CPUS); i++) {
		ipi[i] = s->running[i];
		s->stale[i] |= ~s->running[i];
		any |= ipi[i] != 0;
	}
	return any;
}

void tlb_state_mark_stale(struct tlb_state *s, int cpu)
{
	bitmap_set_bit(s->stale, cpu);
}
