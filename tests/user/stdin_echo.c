/* stdin_echo: copies standard input to standard output unchanged until end of
 * file, then reports on standard error
 *
 *   stdin_echo: <N> bytes, fnv1a=<8 hex digits>
 *
 * where N is the byte count and fnv1a the 32-bit FNV-1a hash of the bytes, so
 * that a test can check what `legoctl run` forwarded, e.g.
 *
 *   printf 'a\nb\n' | legoctl run --vnode v -- /tests/musl/stdin_echo
 *
 * prints "a", "b" and "stdin_echo: 4 bytes, fnv1a=...". Each chunk is written
 * as soon as it is read (no stdio buffering), so interactive input is echoed
 * line by line. Exits 0, or 1 with a message if a read or write fails. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int write_all(const unsigned char *buf, size_t len)
{
	ssize_t n;

	while (len) {
		n = write(1, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int main(void)
{
	unsigned char buf[4096];
	unsigned long long total = 0;
	uint32_t hash = 2166136261u;
	ssize_t n, i;

	for (;;) {
		n = read(0, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "stdin_echo: read: %s\n", strerror(errno));
			return 1;
		}
		if (n == 0)
			break;
		for (i = 0; i < n; i++) {
			hash ^= buf[i];
			hash *= 16777619u;
		}
		total += (unsigned long long)n;
		if (write_all(buf, (size_t)n)) {
			fprintf(stderr, "stdin_echo: write: %s\n", strerror(errno));
			return 1;
		}
	}
	fprintf(stderr, "stdin_echo: %llu bytes, fnv1a=%08x\n", total, (unsigned int)hash);
	return 0;
}
