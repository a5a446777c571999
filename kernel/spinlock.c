/* Spinlocks and the preemption counter. */
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
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
		/* Spin on a plain read so the line stays shared while held. */
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
	}
	l->owner_cpu = me;
}

bool spin_trylock(spinlock_t *l)
{
	preempt_disable();
	if (!__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
		l->owner_cpu = smp_processor_id();
		return true;
	}
	preempt_enable();
	return false;
}

void spin_unlock(spinlock_t *l)
{
	l->owner_cpu = -1;
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
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
	return __atomic_load_n(&l->locked, __ATOMIC_RELAXED) != 0;
}
