/*
 * The managers' state files: what must survive a daemon restart (id
 * counters, the registry of known components, vNodes), as text lines
 *
 *     lego-gm-state 1 <daemon>
 *     <body lines, one record per line, fields separated by one space>
 *     end <body bytes> <checksum, 8 hex digits>
 *
 * The checksum (lego_rpc_csum) covers everything before the "end" line, so
 * a truncated, edited or garbage file is recognised and refused rather than
 * half-loaded. Saving is atomic: a temporary file in the same directory is
 * written and fsync'ed, then renamed over the old one, and the directory is
 * fsync'ed, so a crash leaves either the old or the new file.
 * Layout of the records: docs/global-managers.md.
 */
#ifndef GM_STATEFILE_H
#define GM_STATEFILE_H

#include <stddef.h>
#include <stdint.h>

#define GM_STATE_VERSION 1
#define GM_STATE_MAX_BYTES (4u << 20)

/* A growing text buffer; err latches -ENOMEM (or -E2BIG past max). */
struct gm_buf {
	char *data;
	size_t len, cap;
	int err;
};

void gm_buf_printf(struct gm_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void gm_buf_free(struct gm_buf *b);

/* Writes header + body + trailer to path atomically. 0 or -errno. */
int gm_state_save(const char *path, const char *daemon, const char *body, size_t len);

/*
 * Reads path and checks header, daemon name, trailer and checksum. On
 * success *body is a malloc'ed NUL-terminated copy of the body lines.
 * Returns -ENOENT if there is no file, -EBADMSG (with a message in err) if
 * it is not a valid state file of this daemon, other -errno on I/O errors.
 */
int gm_state_load(const char *path, const char *daemon, char **body, char *err, size_t errlen);

/* Splits line (modified in place) at spaces into at most max fields.
 * Returns the count, or -E2BIG if there are more. */
int gm_state_fields(char *line, char **f, int max);

/* Strict parsers for state fields and options: the whole string must be
 * the value. 0 or -EINVAL. */
int gm_parse_u64(const char *s, uint64_t max, uint64_t *out);
int gm_parse_ipv4(const char *s, uint32_t *ipv4);	/* network byte order */

#endif
