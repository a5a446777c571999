/* SMAP window around kernel accesses to user pages. stac/clac are
 * undefined instructions without SMAP, hence the flag (set once by the
 * boot CPU in user_cpu_init, read-only after). */
#ifndef ASM_SMAP_H
#define ASM_SMAP_H

#include <lego/types.h>

extern bool x86_smap_on;

static inline void smap_allow_user(void)
{
	if (x86_smap_on)
		__asm__ __volatile__("stac" ::: "memory");
}

static inline void smap_forbid_user(void)
{
	if (x86_smap_on)
		__asm__ __volatile__("clac" ::: "memory");
}

#endif
