/*
 * Kernel command-line parsing, free of any kernel state so that it can be
 * unit tested on the host.
 *
 * A command line is a whitespace separated list of tokens, each either a
 * bare word ("quiet") or key=value ("lego.loglevel=7"). Double quotes
 * protect whitespace and may surround the value (lego.name="rack a") or the
 * whole token ("lego.name=rack a"); the quote characters themselves are
 * removed. The key ends at the first '=' of the token. There are no escape
 * sequences. Only keys starting with "lego." belong to us; the rest
 * (BOOT_IMAGE=, quiet, ...) are the boot loader's and are ignored.
 */
#ifndef LEGO_CMDLINE_H
#define LEGO_CMDLINE_H

#include <lego/types.h>
#include <lego/compiler.h>

#define CMDLINE_PREFIX "lego."

/*
 * Destructive tokenizer over a writable NUL-terminated buffer. *cursor is
 * the scan position and is advanced past the token. On success *key and
 * *val point into the buffer, NUL-terminated in place; *val is NULL when the
 * token has no '='. Returns 1 for a token, 0 at the end of the buffer, or
 * -EINVAL for a malformed token: an unterminated quote (the rest of the line
 * is consumed, *key holds what was read of the key) or an empty key ("=x",
 * *key is ""). *val is NULL on error.
 */
int cmdline_next(char **cursor, char **key, char **val);

/*
 * One recognised parameter. name is the full key including the "lego."
 * prefix ("lego.loglevel"); a name given without the prefix ("loglevel")
 * matches the key with the prefix stripped. set() gets the value (NULL for
 * a bare "lego.flag") and returns 0 or a negative errno; a NULL set accepts
 * the key and does nothing. Tables are read only, so need no lock.
 */
struct cmdline_param {
	const char *name;
	int (*set)(const char *val, void *arg);
	void *arg;
};

/*
 * Tokenizes buf (destroying it) and applies every "lego." token, in order,
 * to the parameter of the same name. Problems are passed to warn(), which
 * may be NULL: an unknown "lego." key gives -ENOENT, a failing set() gives
 * its error, and a malformed token gives -EINVAL with val NULL and stops the
 * parse. Returns the number of warnings.
 */
int cmdline_apply(char *buf, const struct cmdline_param *params, size_t nparams,
		  void (*warn)(void *ctx, const char *key, const char *val, int err),
		  void *ctx);

/*
 * Unsigned integer: decimal or 0x/0X hexadecimal, optionally followed by one
 * of K, M, G (either case) multiplying by 1024, 1024^2, 1024^3. No sign, no
 * whitespace. -EINVAL for an empty string or junk, -ERANGE if the value does
 * not fit in 64 bits. *out is written only on success.
 */
int cmdline_parse_u64(const char *s, u64 *out);

/*
 * Boolean: 1/y/yes/on/true or 0/n/no/off/false, case-insensitive. A NULL
 * value (bare "lego.flag") means true. -EINVAL otherwise.
 */
int cmdline_parse_bool(const char *s, bool *out);

/* True if the comma separated list contains exactly item. NULL or empty
 * lists and empty items never match. */
bool cmdline_list_has(const char *list, const char *item);

/*
 * First item of a comma separated list that equals prefix or starts with
 * prefix followed by ':' ("fault" finds "fault" and "fault:df"). Returns a
 * pointer to the item inside list and stores its length (up to the comma)
 * in *len if len is not NULL; NULL if there is no such item.
 */
const char *cmdline_list_get(const char *list, const char *prefix, size_t *len);

#endif
