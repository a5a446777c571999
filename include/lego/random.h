/* Random bytes for user space (getrandom, AT_RANDOM) and ids: RDRAND
 * when the CPU has it, mixed with a per-CPU-safe generator seeded from
 * the TSC. Not for cryptographic keys on CPUs without RDRAND. */
#ifndef LEGO_RANDOM_H
#define LEGO_RANDOM_H

#include <lego/types.h>

void get_random_bytes(void *buf, size_t len);
u64 get_random_u64(void);

#endif
