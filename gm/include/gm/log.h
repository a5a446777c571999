/*
 * Timestamped log lines on stderr for the gm/ daemons:
 *
 *     2026-11-22T12:34:56.789Z gmmd: m0 (id 2000, 198.18.2.1) registered
 *
 * One write(2) per line, so lines of several threads never interleave.
 */
#ifndef GM_LOG_H
#define GM_LOG_H

#include <stdint.h>

/* Sets the name after the timestamp ("gmmd"); the pointer is kept. */
void gm_log_set_prog(const char *prog);
void gm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Wall-clock milliseconds since the Unix epoch. */
uint64_t gm_wall_ms(void);
/* Monotonic milliseconds (CLOCK_MONOTONIC): for timeouts only. */
uint64_t gm_mono_ms(void);

/* "2026-11-22T12:34:56.789Z" into buf (at least GM_TIME_LEN bytes). */
#define GM_TIME_LEN 32
void gm_format_time(uint64_t wall_ms, char *buf, unsigned len);

#endif
