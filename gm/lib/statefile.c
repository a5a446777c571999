/* Manager state files: atomic save, verified load (include/gm/statefile.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include <uapi/lego/rpc.h>
#include "../include/gm/statefile.h"

void gm_buf_printf(struct gm_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->data ? b->data + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = -EINVAL;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = b->cap ? b->cap * 2 : 4096;
		while (ncap < b->len + (size_t)n + 1)
			ncap *= 2;
		if (ncap > GM_STATE_MAX_BYTES) {
			b->err = -E2BIG;
			return;
		}
		char *nd = realloc(b->data, ncap);
		if (!nd) {
			b->err = -ENOMEM;
			return;
		}
		b->data = nd;
		b->cap = ncap;
	}
}

void gm_buf_free(struct gm_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->err = 0;
}

static int state_write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int gm_state_save(const char *path, const char *daemon, const char *body, size_t len)
{
	struct gm_buf b = { 0 };
	char tmp[4096], dir[4096];
	const char *slash;
	int fd, r;

	if (strlen(path) + 8 > sizeof(tmp))
		return -ENAMETOOLONG;
	gm_buf_printf(&b, "lego-gm-state %d %s\n%.*s", GM_STATE_VERSION, daemon, (int)len, body);
	if (!b.err)
		gm_buf_printf(&b, "end %zu %08x\n", len, lego_rpc_csum(b.data, b.len));
	if (b.err) {
		r = b.err;
		gm_buf_free(&b);
		return r;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		gm_buf_free(&b);
		return r;
	}
	r = state_write_all(fd, b.data, b.len);
	gm_buf_free(&b);
	/* The data must be on disk before the rename makes it the state. */
	if (!r && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r) {
		unlink(tmp);
		return r;
	}
	/* And the rename itself must survive a crash. */
	slash = strrchr(path, '/');
	if (slash == path)
		strcpy(dir, "/");
	else if (slash)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else
		strcpy(dir, ".");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
	return 0;
}

int gm_state_load(const char *path, const char *daemon, char **body, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf, *nl, *trailer, *end;
	size_t n = 0, hdr_len, body_len;
	char want[96];
	unsigned long long blen;
	unsigned csum;
	int r;

	*body = NULL;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (st.st_size > GM_STATE_MAX_BYTES) {
		close(fd);
		snprintf(err, errlen, "%s: larger than %u bytes", path, GM_STATE_MAX_BYTES);
		return -EBADMSG;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while (n < (size_t)st.st_size) {
		ssize_t g = read(fd, buf + n, (size_t)st.st_size - n);

		if (g < 0 && errno == EINTR)
			continue;
		if (g < 0) {
			r = -errno;
			free(buf);
			close(fd);
			return r;
		}
		if (g == 0)
			break;
		n += (size_t)g;
	}
	close(fd);
	buf[n] = '\0';

	r = -EBADMSG;
	snprintf(want, sizeof(want), "lego-gm-state %d %s\n", GM_STATE_VERSION, daemon);
	hdr_len = strlen(want);
	if (memchr(buf, '\0', n)) {
		snprintf(err, errlen, "%s: contains NUL bytes: not a state file", path);
		goto bad;
	}
	if (n < hdr_len || memcmp(buf, want, hdr_len)) {
		snprintf(err, errlen, "%s: does not start with 'lego-gm-state %d %s'",
			 path, GM_STATE_VERSION, daemon);
		goto bad;
	}
	if (n == 0 || buf[n - 1] != '\n') {
		snprintf(err, errlen, "%s: truncated (no final newline)", path);
		goto bad;
	}
	/* The trailer is the last line. */
	buf[n - 1] = '\0';
	nl = strrchr(buf, '\n');
	buf[n - 1] = '\n';
	trailer = nl ? nl + 1 : NULL;
	if (!trailer || trailer < buf + hdr_len || strncmp(trailer, "end ", 4)) {
		snprintf(err, errlen, "%s: truncated (no 'end' line)", path);
		goto bad;
	}
	errno = 0;
	blen = strtoull(trailer + 4, &end, 10);
	if (errno || trailer[4] < '0' || trailer[4] > '9' || *end != ' ' ||
	    strlen(end + 1) != 9 || strspn(end + 1, "0123456789abcdef") != 8 ||
	    sscanf(end + 1, "%8x", &csum) != 1) {
		snprintf(err, errlen, "%s: malformed 'end' line", path);
		goto bad;
	}
	body_len = (size_t)(trailer - buf) - hdr_len;
	if (blen != body_len) {
		snprintf(err, errlen, "%s: body is %zu bytes, 'end' line says %llu (truncated or edited)",
			 path, body_len, blen);
		goto bad;
	}
	if (lego_rpc_csum(buf, (size_t)(trailer - buf)) != csum) {
		snprintf(err, errlen, "%s: checksum mismatch (corrupted or edited)", path);
		goto bad;
	}
	memmove(buf, buf + hdr_len, body_len);
	buf[body_len] = '\0';
	*body = buf;
	return 0;
bad:
	free(buf);
	return r;
}

int gm_state_fields(char *line, char **f, int max)
{
	int n = 0;
	char *p = line;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (n == max)
			return -E2BIG;
		f[n++] = p;
		while (*p && *p != ' ')
			p++;
		if (*p)
			*p++ = '\0';
	}
	return n;
}

int gm_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int gm_parse_ipv4(const char *s, uint32_t *ipv4)
{
	struct in_addr a;

	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ipv4 = a.s_addr;
	return 0;
}
