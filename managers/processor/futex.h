/* futex(2) (futex.c). */
#ifndef PROCESSOR_FUTEX_H
#define PROCESSOR_FUTEX_H

#include <lego/types.h>

struct proc;

void futex_init(void);
/* Wake up to n waiters of p on uaddr; returns how many. */
int futex_wake_addr(struct proc *p, u64 uaddr, int n);
/* Wake every waiter of p (the process is ending: they return -EINTR). */
void futex_wake_all(struct proc *p);

#endif
