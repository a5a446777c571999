/* Time of day (drivers/cmos_rtc.c). */
#ifndef LEGO_WALLCLOCK_H
#define LEGO_WALLCLOCK_H

#include <lego/types.h>

/* Nanoseconds since the Unix epoch (UTC). */
u64 wallclock_ns(void);

#endif
