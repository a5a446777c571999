/* Kernel command-line tokenizer and value parsers; see include/lego/cmdline.h. */
#include <lego/cmdline.h>
#include <lego/errno.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

#define CMDLINE_PREFIX_LEN (sizeof(CMDLINE_PREFIX) - 1)

static bool cmdline_isspace(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char cmdline_tolower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int cmdline_next(char **cursor, char **key, char **val)
{
	char *r = *cursor, *w, *tok, *eq = NULL;
	bool quoted = false, at_end;

	*key = NULL;
	*val = NULL;

	while (cmdline_isspace(*r))
		r++;
	if (*r == '\0') {
		*cursor = r;
		return 0;
	}

	/*
	 * Compact the token in place: quote characters are dropped, so the
	 * write pointer never overtakes the read pointer and the result stays
	 * inside the token's original bytes.
	 */
	tok = w = r;
	for (; *r != '\0'; r++) {
		char c = *r;

		if (c == '"') {
			quoted = !quoted;
			continue;
		}
		if (!quoted && cmdline_isspace(c))
			break;
		if (c == '=' && !eq) {
			eq = w;
			*w++ = '\0';
			continue;
		}
		*w++ = c;
	}

	at_end = (*r == '\0');
	/* May overwrite the separator at *r, hence at_end being read first. */
	*w = '\0';
	*cursor = at_end ? r : r + 1;
	*key = tok;

	if (quoted || tok[0] == '\0')
		return -EINVAL;
	*val = eq ? eq + 1 : NULL;
	return 1;
}

static const struct cmdline_param *cmdline_find(const struct cmdline_param *params,
						size_t nparams, const char *key)
{
	const char *bare = key + CMDLINE_PREFIX_LEN;

	for (size_t i = 0; i < nparams; i++) {
		const char *name = params[i].name;

		if (!name || name[0] == '\0')
			continue;
		if (strcmp(name, key) == 0)
			return &params[i];
		if (strncmp(name, CMDLINE_PREFIX, CMDLINE_PREFIX_LEN) != 0 &&
		    strcmp(name, bare) == 0)
			return &params[i];
	}
	return NULL;
}

int cmdline_apply(char *buf, const struct cmdline_param *params, size_t nparams,
		  void (*warn)(void *ctx, const char *key, const char *val, int err),
		  void *ctx)
{
	char *cur = buf, *key, *val;
	int nwarn = 0, ret;

	if (!buf)
		return 0;

	while ((ret = cmdline_next(&cur, &key, &val)) != 0) {
		const struct cmdline_param *p;
		int err;

		if (ret < 0) {
			/* Token boundaries are lost past a bad quote, so stop. */
			if (warn)
				warn(ctx, key ? key : "", NULL, -EINVAL);
			nwarn++;
			break;
		}
		if (strncmp(key, CMDLINE_PREFIX, CMDLINE_PREFIX_LEN) != 0)
			continue;

		p = cmdline_find(params, nparams, key);
		if (!p) {
			err = -ENOENT;
		} else {
			err = p->set ? p->set(val, p->arg) : 0;
			if (err > 0)
				err = 0;
		}
		if (err < 0) {
			if (warn)
				warn(ctx, key, val, err);
			nwarn++;
		}
	}
	return nwarn;
}

static int cmdline_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = cmdline_tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int cmdline_parse_u64(const char *s, u64 *out)
{
	unsigned base = 10, shift = 0;
	bool overflow = false;
	size_t digits = 0;
	u64 v = 0;

	if (!s)
		return -EINVAL;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}

	for (; *s != '\0'; s++) {
		int d = cmdline_digit(*s);

		if (d < 0 || (unsigned)d >= base)
			break;
		digits++;
		if (v > (UINT64_MAX - (u64)d) / base)
			overflow = true;
		else
			v = v * base + (u64)d;
	}
	if (digits == 0)
		return -EINVAL;

	switch (*s) {
	case 'k': case 'K':
		shift = 10;
		s++;
		break;
	case 'm': case 'M':
		shift = 20;
		s++;
		break;
	case 'g': case 'G':
		shift = 30;
		s++;
		break;
	default:
		break;
	}
	/* Junk is a syntax error even when the digits also overflowed. */
	if (*s != '\0')
		return -EINVAL;
	if (overflow || v > (UINT64_MAX >> shift))
		return -ERANGE;

	*out = v << shift;
	return 0;
}

static bool cmdline_streq_nocase(const char *a, const char *b)
{
	while (*a && cmdline_tolower(*a) == cmdline_tolower(*b)) {
		a++;
		b++;
	}
	return *a == '\0' && *b == '\0';
}

int cmdline_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "1", "y", "yes", "on", "true" };
	static const char *const no[] = { "0", "n", "no", "off", "false" };

	if (!s) {
		*out = true;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (cmdline_streq_nocase(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (cmdline_streq_nocase(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

static const char *cmdline_item_end(const char *p)
{
	while (*p != '\0' && *p != ',')
		p++;
	return p;
}

bool cmdline_list_has(const char *list, const char *item)
{
	const char *p, *e;
	size_t n;

	if (!list || !item || item[0] == '\0')
		return false;
	n = strlen(item);

	for (p = list;; p = e + 1) {
		e = cmdline_item_end(p);
		if ((size_t)(e - p) == n && memcmp(p, item, n) == 0)
			return true;
		if (*e == '\0')
			return false;
	}
}

const char *cmdline_list_get(const char *list, const char *prefix, size_t *len)
{
	const char *p, *e;
	size_t n, ilen;

	if (!list || !prefix || prefix[0] == '\0')
		return NULL;
	n = strlen(prefix);

	for (p = list;; p = e + 1) {
		e = cmdline_item_end(p);
		ilen = (size_t)(e - p);
		if (ilen >= n && memcmp(p, prefix, n) == 0 && (ilen == n || p[n] == ':')) {
			if (len)
				*len = ilen;
			return p;
		}
		if (*e == '\0')
			return NULL;
	}
}
