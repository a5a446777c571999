/* Unit tests for arch/x86/mm/tlb_state.c: when a CPU must flush a user
 * address space's PCID and which CPUs a shootdown interrupts, checked
 * against a model that tracks, per CPU, whether it may hold an entry that a
 * shootdown has invalidated. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <lego/tlb_state.h>

#define NCPU 8

static void test_new_space_flushes_everywhere(void **state)
{
	(void)state;
	struct tlb_state s;

	tlb_state_init(&s);
	for (int cpu = 0; cpu < TLB_STATE_CPUS; cpu++)
		assert_true(tlb_state_load(&s, cpu, false));
	/* Second load on each: nothing changed, keep the entries. */
	for (int cpu = 0; cpu < TLB_STATE_CPUS; cpu++) {
		tlb_state_unload(&s, cpu);
		assert_false(tlb_state_load(&s, cpu, false));
	}
}

static void test_shared_pcid_always_flushes(void **state)
{
	(void)state;
	struct tlb_state s;

	tlb_state_init(&s);
	assert_true(tlb_state_load(&s, 3, true));
	tlb_state_unload(&s, 3);
	assert_true(tlb_state_load(&s, 3, true));
}

static void test_shootdown_targets(void **state)
{
	(void)state;
	struct tlb_state s;
	DECLARE_BITMAP(ipi, TLB_STATE_CPUS);

	tlb_state_init(&s);
	assert_false(tlb_state_shootdown(&s, ipi));	/* nobody runs it */
	tlb_state_load(&s, 1, false);
	tlb_state_load(&s, 2, false);
	tlb_state_unload(&s, 2);
	tlb_state_load(&s, 5, false);
	assert_true(tlb_state_shootdown(&s, ipi));
	for (int cpu = 0; cpu < TLB_STATE_CPUS; cpu++)
		assert_int_equal(bitmap_test_bit(ipi, cpu), cpu == 1 || cpu == 5);
	/* CPU 2 ran it before: it flushes when it comes back; 1 and 5 were
	 * interrupted and keep their PCID. */
	assert_true(tlb_state_load(&s, 2, false));
	tlb_state_unload(&s, 1);
	assert_false(tlb_state_load(&s, 1, false));
	/* An IPI that found CPU 5 already switched away. */
	tlb_state_unload(&s, 5);
	tlb_state_mark_stale(&s, 5);
	assert_true(tlb_state_load(&s, 5, false));
}

/* Random runs: a CPU that loads the space with stale entries possible
 * (model) must be told to flush; and one told not to flush must have had
 * no missed invalidation. */
static void test_random_model(void **state)
{
	(void)state;
	struct tlb_state s;
	DECLARE_BITMAP(ipi, TLB_STATE_CPUS);
	bool running[NCPU] = { false }, dirty[NCPU];
	unsigned seed = 7;

	tlb_state_init(&s);
	for (int i = 0; i < NCPU; i++)
		dirty[i] = true;	/* unknown history: a recycled PCID */
	for (int step = 0; step < 20000; step++) {
		seed = seed * 1103515245 + 12345;
		int cpu = (seed >> 16) % NCPU;
		int op = (seed >> 8) % 3;
		if (op == 0 && !running[cpu]) {
			bool flush = tlb_state_load(&s, cpu, false);
			if (dirty[cpu])
				assert_true(flush);
			running[cpu] = true;
			dirty[cpu] = false;
		} else if (op == 1 && running[cpu]) {
			tlb_state_unload(&s, cpu);
			running[cpu] = false;
		} else if (op == 2) {
			tlb_state_shootdown(&s, ipi);
			for (int c = 0; c < NCPU; c++) {
				assert_int_equal(bitmap_test_bit(ipi, c), running[c]);
				/* Interrupted CPUs invalidate at once; the
				 * others hold a possibly stale entry. */
				if (!running[c])
					dirty[c] = true;
			}
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_space_flushes_everywhere),
		cmocka_unit_test(test_shared_pcid_always_flushes),
		cmocka_unit_test(test_shootdown_targets),
		cmocka_unit_test(test_random_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
