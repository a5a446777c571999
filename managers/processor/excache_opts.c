/* lego.excache= option parsing and validation. Pure logic; see
 * include/lego/excache_opts.h. */
#include <lego/excache_opts.h>
#include <lego/cmdline.h>
#include <lego/errno.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

/* Longest value we copy out for the number parser; longer is junk anyway
 * (a u64 in hex with a suffix fits). */
#define OPT_VAL_MAX 32

/* The error strings spell the limit out. */
BUILD_BUG_ON(EXCACHE_MAX_WAYS != 1024);

static int opts_fail(struct excache_params *p, int err, const char *why)
{
	p->error = why;
	return err;
}

int excache_params_check(struct excache_params *p)
{
	u64 lines, sets;

	if (p->ways == 0 || p->ways > EXCACHE_MAX_WAYS)
		return opts_fail(p, -EINVAL, "ways must be between 1 and 1024");
	if (p->size == 0 || p->size % EXCACHE_LINE_SIZE)
		return opts_fail(p, -EINVAL, "size must be a non-zero multiple of 4 KiB");
	lines = p->size / EXCACHE_LINE_SIZE;
	if (lines > EXCACHE_MAX_LINES)
		return opts_fail(p, -EINVAL, "size must be at most 4 TiB");
	if (lines < p->ways)
		return opts_fail(p, -EINVAL, "size must hold at least one set (ways x 4 KiB)");
	if (lines % p->ways)
		return opts_fail(p, -EINVAL, "size must be a multiple of ways x 4 KiB");
	sets = lines / p->ways;
	if (sets & (sets - 1))
		return opts_fail(p, -EINVAL,
				 "size / (ways x 4 KiB), the number of sets, must be a power of two");
	if (p->evict != EXCACHE_EVICT_FIFO && p->evict != EXCACHE_EVICT_LRU)
		return opts_fail(p, -EINVAL, "evict must be fifo or lru");
	if (p->free != EXCACHE_FREE_LIST && p->free != EXCACHE_FREE_BITMAP)
		return opts_fail(p, -EINVAL, "free must be list or bitmap");
	if (p->sweep_ms < EXCACHE_SWEEP_MS_MIN || p->sweep_ms > EXCACHE_SWEEP_MS_MAX)
		return opts_fail(p, -EINVAL, "sweep must be between 1 and 60000 ms");
	p->error = NULL;
	return 0;
}

static bool opts_eq(const char *s, size_t n, const char *word)
{
	return strlen(word) == n && memcmp(s, word, n) == 0;
}

/* Number value [v, v + n) into *out (cmdline_parse_u64 rules). */
static int opts_number(const char *v, size_t n, u64 *out)
{
	char buf[OPT_VAL_MAX + 1];

	if (n == 0 || n > OPT_VAL_MAX)
		return -EINVAL;
	memcpy(buf, v, n);
	buf[n] = '\0';
	return cmdline_parse_u64(buf, out);
}

/* One key=value item into *q. */
static int opts_item(const char *key, size_t klen, const char *v, size_t vlen,
		     struct excache_params *q)
{
	u64 x;
	int err;

	if (opts_eq(key, klen, "size")) {
		err = opts_number(v, vlen, &x);
		if (err == -ERANGE)
			return opts_fail(q, err, "size is too large");
		if (err)
			return opts_fail(q, err,
					 "size must be a number of bytes with an optional K, M or G suffix");
		q->size = x;
	} else if (opts_eq(key, klen, "ways")) {
		err = opts_number(v, vlen, &x);
		if (err || x == 0 || x > EXCACHE_MAX_WAYS)
			return opts_fail(q, -EINVAL, "ways must be between 1 and 1024");
		q->ways = (u32)x;
	} else if (opts_eq(key, klen, "evict")) {
		if (opts_eq(v, vlen, "fifo"))
			q->evict = EXCACHE_EVICT_FIFO;
		else if (opts_eq(v, vlen, "lru"))
			q->evict = EXCACHE_EVICT_LRU;
		else
			return opts_fail(q, -EINVAL, "evict must be fifo or lru");
	} else if (opts_eq(key, klen, "free")) {
		if (opts_eq(v, vlen, "list"))
			q->free = EXCACHE_FREE_LIST;
		else if (opts_eq(v, vlen, "bitmap"))
			q->free = EXCACHE_FREE_BITMAP;
		else
			return opts_fail(q, -EINVAL, "free must be list or bitmap");
	} else if (opts_eq(key, klen, "sweep")) {
		err = opts_number(v, vlen, &x);
		if (err || x < EXCACHE_SWEEP_MS_MIN || x > EXCACHE_SWEEP_MS_MAX)
			return opts_fail(q, -EINVAL, "sweep must be between 1 and 60000 ms");
		q->sweep_ms = (u32)x;
	} else if (opts_eq(key, klen, "plocal")) {
		if (opts_eq(v, vlen, "on"))
			q->no_plocal = false;
		else if (opts_eq(v, vlen, "off"))
			q->no_plocal = true;
		else
			return opts_fail(q, -EINVAL, "plocal must be on or off");
	} else {
		return opts_fail(q, -EINVAL,
				 "unknown key (expected size, ways, evict, free, sweep or plocal)");
	}
	return 0;
}

static const char *opts_find_eq(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '=')
			return s + i;
	return NULL;
}

int excache_parse_opts(const char *s, struct excache_params *p)
{
	struct excache_params q = *p;
	const char *item = s;
	int err;

	if (!s || *s == '\0')
		return opts_fail(p, -EINVAL, "lego.excache needs a value (key=value,...)");

	/* Everything goes into a copy, so a failure leaves *p as it was. */
	for (;;) {
		const char *end = strchr(item, ',');
		size_t len = end ? (size_t)(end - item) : strlen(item);
		const char *eq = opts_find_eq(item, len);

		if (len == 0)
			return opts_fail(p, -EINVAL, "empty item (stray comma)");
		if (!eq)
			return opts_fail(p, -EINVAL, "item without '=' (expected key=value)");
		if (eq == item)
			return opts_fail(p, -EINVAL, "item with an empty key");
		err = opts_item(item, (size_t)(eq - item), eq + 1, len - (size_t)(eq - item) - 1,
				&q);
		if (err)
			return opts_fail(p, err, q.error);
		if (!end)
			break;
		item = end + 1;
	}

	err = excache_params_check(&q);
	if (err)
		return opts_fail(p, err, q.error);
	*p = q;
	return 0;
}

void excache_params_to_config(const struct excache_params *p, phys_addr_t base,
			      struct excache_dir_config *cfg)
{
	cfg->base = base;
	cfg->nr_lines = (u32)(p->size / EXCACHE_LINE_SIZE);
	cfg->ways = p->ways;
	cfg->evict = p->evict;
	cfg->free = p->free;
}
