/* Entry point of the selected personality (managers/<personality>/). */
#ifndef LEGO_MONITOR_H
#define LEGO_MONITOR_H

extern const char monitor_name[];
/* Runs in the "main" kernel thread once the core kernel is up; prints
 * "lego: <personality> monitor ready" once the monitor can serve requests. */
void monitor_main(void);

#endif
