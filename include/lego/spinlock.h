/* Spinlocks (test-and-test-and-set). Holding one disables preemption on
 * this CPU; the _irqsave variants also mask local interrupts, and must be
 * used for any lock that an interrupt handler takes.
 *
 * Not ticket locks on purpose: in the emulated rack many virtual CPUs share
 * few host cores, and a FIFO lock stalls everyone whenever the next CPU in
 * line is descheduled by the host; here whoever runs takes the lock. */
#ifndef LEGO_SPINLOCK_H
#define LEGO_SPINLOCK_H

#include <lego/types.h>

typedef struct spinlock {
	volatile u32 locked;
	volatile int owner_cpu;	/* for recursion detection; -1 when free */
} spinlock_t;

#define SPINLOCK_INIT { 0, -1 }
#define DEFINE_SPINLOCK(n) spinlock_t n = SPINLOCK_INIT

static inline void spin_lock_init(spinlock_t *l)
{
	l->locked = 0;
	l->owner_cpu = -1;
}

void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
bool spin_trylock(spinlock_t *l);
unsigned long spin_lock_irqsave(spinlock_t *l);
void spin_unlock_irqrestore(spinlock_t *l, unsigned long flags);
bool spin_is_locked(const spinlock_t *l);

void preempt_disable(void);
void preempt_enable(void);

#endif
