/* Atomic operations on plain integers (GCC __atomic builtins, sequentially
 * consistent unless the name says otherwise). */
#ifndef LEGO_ATOMIC_H
#define LEGO_ATOMIC_H

#include <lego/types.h>

typedef struct {
	volatile int v;
} atomic_t;

typedef struct {
	volatile long v;
} atomic_long_t;

#define ATOMIC_INIT(x) { (x) }

static inline int atomic_read(const atomic_t *a) { return __atomic_load_n(&a->v, __ATOMIC_SEQ_CST); }
static inline void atomic_set(atomic_t *a, int x) { __atomic_store_n(&a->v, x, __ATOMIC_SEQ_CST); }
static inline int atomic_add_return(atomic_t *a, int x) { return __atomic_add_fetch(&a->v, x, __ATOMIC_SEQ_CST); }
static inline int atomic_inc_return(atomic_t *a) { return atomic_add_return(a, 1); }
static inline int atomic_dec_return(atomic_t *a) { return atomic_add_return(a, -1); }
static inline void atomic_inc(atomic_t *a) { atomic_add_return(a, 1); }
static inline void atomic_dec(atomic_t *a) { atomic_add_return(a, -1); }
static inline bool atomic_cmpxchg(atomic_t *a, int old, int new)
{
	return __atomic_compare_exchange_n(&a->v, &old, new, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
static inline long atomic_long_read(const atomic_long_t *a) { return __atomic_load_n(&a->v, __ATOMIC_SEQ_CST); }
static inline long atomic_long_add_return(atomic_long_t *a, long x) { return __atomic_add_fetch(&a->v, x, __ATOMIC_SEQ_CST); }

#define smp_mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)

#endif
