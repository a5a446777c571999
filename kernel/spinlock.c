/* Ticket spinlocks and the preemption counter. */
#include <lego/spinlock.h>
#include <lego/smp.h>
#include <lego/panic.h>
#include <asm/cpu.h>

void preempt_disable(void)
{
	this_cpu()->preempt_count++;
	barrier();
}

void preempt_enable(void)
{
	barrier();
	this_cpu()->preempt_count--;
}

void spin_lock(spinlock_t *l)
{
	int me = smp_processor_id();

	preempt_disable();
	if (unlikely(l->owner_cpu == me && panic_cpu < 0))
		panic("spinlock %p: recursive acquisition on CPU %d", (void *)l, me);
	u32 ticket = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
	while (__atomic_load_n(&l->serving, __ATOMIC_ACQUIRE) != ticket)
		cpu_relax();
	l->owner_cpu = me;
}

bool spin_trylock(spinlock_t *l)
{
	preempt_disable();
	u32 s = __atomic_load_n(&l->serving, __ATOMIC_RELAXED);
	u32 expected = s;
	if (__atomic_compare_exchange_n(&l->next, &expected, s + 1, false, __ATOMIC_ACQUIRE,
					__ATOMIC_RELAXED)) {
		l->owner_cpu = smp_processor_id();
		return true;
	}
	preempt_enable();
	return false;
}

void spin_unlock(spinlock_t *l)
{
	l->owner_cpu = -1;
	__atomic_store_n(&l->serving, l->serving + 1, __ATOMIC_RELEASE);
	preempt_enable();
}

unsigned long spin_lock_irqsave(spinlock_t *l)
{
	unsigned long f = local_irq_save();
	spin_lock(l);
	return f;
}

void spin_unlock_irqrestore(spinlock_t *l, unsigned long f)
{
	spin_unlock(l);
	local_irq_restore(f);
}

bool spin_is_locked(const spinlock_t *l)
{
	return __atomic_load_n(&l->serving, __ATOMIC_RELAXED) != __atomic_load_n(&l->next, __ATOMIC_RELAXED);
}
