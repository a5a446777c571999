/* Monotonic clock, delays and per-CPU one-shot timers. */
#ifndef LEGO_TIME_H
#define LEGO_TIME_H

#include <lego/list.h>

#define NSEC_PER_USEC 1000ull
#define NSEC_PER_MSEC 1000000ull
#define NSEC_PER_SEC 1000000000ull

/* Nanoseconds since the TSC was calibrated; 0 before that. */
u64 ktime_ns(void);
void udelay(unsigned long us);
void mdelay(unsigned long ms);
/* Sleep (yielding the CPU) for at least ms milliseconds. */
void msleep(unsigned long ms);

struct timer;
typedef void (*timer_fn_t)(struct timer *t);

/* A timer fires once, on the CPU that armed it, in interrupt context. */
struct timer {
	struct list_head node;
	u64 expires_ns;
	timer_fn_t fn;
	int cpu;		/* -1 when not armed */
};

void timer_init(struct timer *t, timer_fn_t fn);
void timer_arm(struct timer *t, u64 expires_ns);
/* Returns true if the timer was pending and is now cancelled. */
bool timer_cancel(struct timer *t);
void timers_run_expired(void);
/* Earliest expiry on this CPU, or UINT64_MAX. */
u64 timers_next_expiry(void);
/* Re-arm this CPU's hardware timer for the next timer or time slice. */
void timer_program_cpu(void);
u64 tsc_khz(void);

#endif
