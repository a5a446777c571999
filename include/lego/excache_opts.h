/*
 * ExCache boot parameters: the Kconfig defaults (CONFIG_EXCACHE_*) and the
 * command-line override
 *
 *   lego.excache=size=<bytes>[K|M|G],ways=<n>,evict=fifo|lru,free=list|bitmap,sweep=<ms>,
 *                plocal=on|off
 *
 * Every key is optional; keys not given keep the caller's values (the
 * Kconfig defaults), a key given twice takes its last value. size is in
 * bytes with an optional K/M/G suffix (cmdline_parse_u64), so "size=64M".
 * The result must describe a valid directory (include/lego/excache_dir.h):
 * size a multiple of 4 KiB, 1..EXCACHE_MAX_WAYS ways, and a power-of-two
 * number of sets (size / (ways * 4 KiB)).
 *
 * Pure logic (managers/processor/excache_opts.c), unit-tested on the host.
 */
#ifndef LEGO_EXCACHE_OPTS_H
#define LEGO_EXCACHE_OPTS_H

#include <lego/excache_dir.h>

#define EXCACHE_SWEEP_MS_MIN 1u
#define EXCACHE_SWEEP_MS_MAX 60000u

/* Plain values, owned by the caller (no lock: parsed once at boot). */
struct excache_params {
	u64 size;		/* bytes */
	u32 ways;
	u32 sweep_ms;		/* LRU sweep period */
	enum excache_evict evict;
	enum excache_free free;
	/* plocal=off: a first touch of anonymous memory fetches from the
	 * owner like any other miss instead of zero-filling a p-local line
	 * (paper §4.4.2), to measure what p-local lines save (Fig. 8).
	 * Negative so that a zeroed or partly initialised set keeps them. */
	bool no_plocal;
	/* Set by excache_parse_opts on failure: a static English sentence
	 * naming the problem, for the boot log. NULL after success. */
	const char *error;
};

/*
 * Applies the options in s (the value of lego.excache) on top of *p, which
 * holds the defaults. On success returns 0 and *p holds the result. On
 * failure returns -EINVAL (-ERANGE for a number too large to represent),
 * leaves every field of *p but error unchanged, and sets p->error. A NULL
 * or empty s is an error ("lego.excache needs a value").
 */
int excache_parse_opts(const char *s, struct excache_params *p);

/* Checks a complete parameter set (e.g. the Kconfig defaults): 0, or
 * -EINVAL with p->error set. */
int excache_params_check(struct excache_params *p);

/* The directory configuration of p at physical base. p must be valid. */
void excache_params_to_config(const struct excache_params *p, phys_addr_t base,
			      struct excache_dir_config *cfg);

#ifdef CONFIG_EXCACHE_WAYS
/* The Kconfig values, before lego.excache= is applied (kernel only). */
static inline void excache_params_defaults(struct excache_params *p)
{
	*p = (struct excache_params){
		.size = (u64)CONFIG_EXCACHE_SIZE_MB << 20,
		.ways = CONFIG_EXCACHE_WAYS,
		.sweep_ms = CONFIG_EXCACHE_SWEEP_MS,
#ifdef CONFIG_EXCACHE_EVICT_LRU
		.evict = EXCACHE_EVICT_LRU,
#else
		.evict = EXCACHE_EVICT_FIFO,
#endif
#ifdef CONFIG_EXCACHE_FREE_BITMAP
		.free = EXCACHE_FREE_BITMAP,
#else
		.free = EXCACHE_FREE_LIST,
#endif
	};
}
#endif

#endif
