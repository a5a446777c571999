/* Entry point of the selected personality (managers/<personality>/). */
#ifndef LEGO_MONITOR_H
#define LEGO_MONITOR_H

#include <lego/types.h>

extern const char monitor_name[];
extern const int monitor_personality;	/* enum lego_personality (uapi/lego/gm.h) */
extern const bool monitor_wants_notify;	/* register for component-death notices */
/* Runs in the "main" kernel thread once the core kernel is up; prints
 * "lego: <personality> monitor ready" once the monitor can serve requests. */
void monitor_main(void);

#endif
