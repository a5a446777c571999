/*
 * pingpong: the Linux side of tests/bench/rpc-latency.
 *
 * A UDP echo server and a UDP ping-pong client, built static with musl
 * (musl-gcc -static) and run inside a Linux guest booted from Debian's
 * kernel with a busybox initramfs. It is the baseline that LegoOS's
 * in-kernel RPC round trip (legoctl rpctest) is compared against, so the
 * client measures the same thing rpctest measures:
 *
 *   - one call = send SIZE payload bytes, wait until SIZE bytes have come
 *     back, check them; the round trip is timed with
 *     clock_gettime(CLOCK_MONOTONIC) around the send and the receive only
 *     (the payload is filled before, and checked after, the timed part);
 *   - CONCURRENCY threads, each with its own socket, each making COUNT
 *     calls one after another (closed loop); the elapsed time runs from
 *     before the first thread is created to after the last one ends;
 *   - bytes = 2 x SIZE for every call whose reply was right;
 *   - median = sorted[n / 2], p99 = sorted[n * 99 / 100].
 *
 * Payloads go out as single UDP datagrams, as an ordinary Linux program
 * would send them. The IPv4 stack fragments anything above the MTU
 * (1472 payload bytes per frame on a 1500-byte MTU). A UDP datagram holds
 * at most 65507 bytes, so a payload larger than that (65536 bytes) is sent
 * as the fewest equal datagrams that fit (2 x 32768 bytes), both sent
 * before the first reply is awaited.
 *
 * Each datagram starts with a 16-byte tag (call number, datagram index,
 * thread) so that a late reply to an earlier, retransmitted call is
 * recognised and ignored. A call whose reply does not arrive within
 * --rto ms is sent again (counted in retries); after --tries attempts it
 * counts as an error.
 *
 *   pingpong server [--port P] [--threads T]
 *   pingpong client SERVER_IP [--port P] --size S --count N
 *                   [--concurrency C] [--rto MS] [--tries K]
 *
 * The server opens T sockets on the same port with SO_REUSEPORT, one
 * thread each, so the kernel spreads clients over them. The client prints
 * one line
 *
 *   pp: result size=S count=N concurrency=C calls=.. errors=.. bad=..
 *       retries=.. min_ns=.. med_ns=.. p99_ns=.. max_ns=.. elapsed_ns=..
 *       bytes=.. clock_ns=..
 *
 * clock_ns is the cost of one clock_gettime call in this guest, measured
 * over 1000 calls before the run (each timed call includes two reads).
 *
 * (on one line) and exits 0, or 1 if any call failed. There is no warm-up
 * inside a run: tests/bench/rpc-latency warms up with a separate short run
 * before each measured one, on both systems alike.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#define MAX_DGRAM 65507u		/* IPv4: 65535 - 20 (IP) - 8 (UDP) */
#define MAX_SIZE (1u << 20)
#define TAG_LEN 16u
#define SOCK_BUF (4 << 20)

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "pingpong: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void set_bufs(int fd)
{
	int sz = SOCK_BUF;

	/* FORCE variants ignore rmem_max/wmem_max; we are root in the guest. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
}

/* ---------------------------------------------------------------- server */

static int server_sock(int port)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_ANY) };

	if (fd < 0)
		die("socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		die("SO_REUSEPORT");
	set_bufs(fd);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("bind");
	return fd;
}

static void *server_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	static __thread unsigned char buf[MAX_DGRAM + 1];

	for (;;) {
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recvfrom");
		}
		if (sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from, fl) < 0 &&
		    errno != EAGAIN && errno != ENOBUFS)
			fprintf(stderr, "pingpong: sendto: %s\n", strerror(errno));
	}
	return NULL;
}

static int server_main(int port, int threads)
{
	pthread_t t;
	int fds[64];

	/* All sockets are bound before any thread runs, so the reuseport
	 * group is complete when the first datagram arrives. */
	for (int i = 0; i < threads; i++)
		fds[i] = server_sock(port);
	for (int i = 1; i < threads; i++)
		if (pthread_create(&t, NULL, server_thread, (void *)(intptr_t)fds[i]))
			die("pthread_create");
	printf("pp: server listening on udp port %d with %d socket(s)/thread(s)\n", port, threads);
	fflush(stdout);
	server_thread((void *)(intptr_t)fds[0]);
	return 0;
}

/* ---------------------------------------------------------------- client */

struct client_cfg {
	struct sockaddr_in server;
	uint32_t size, count, tries;
	unsigned rto_ms;
};

struct client_run {
	const struct client_cfg *cfg;
	unsigned id;
	uint64_t *lat;
	uint32_t nlat;
	uint64_t calls, errors, bad, retries, bytes;
};

static void put_tag(unsigned char *p, uint64_t call, uint32_t idx, uint32_t thread)
{
	memcpy(p, &call, 8);
	memcpy(p + 8, &idx, 4);
	memcpy(p + 12, &thread, 4);
}

static void *client_thread(void *arg)
{
	struct client_run *r = arg;
	const struct client_cfg *c = r->cfg;
	uint32_t size = c->size;
	uint32_t ndg = size <= MAX_DGRAM ? 1 : (size + MAX_DGRAM - 1) / MAX_DGRAM;
	uint32_t dglen = (size + ndg - 1) / ndg;	/* all but the last are this long */
	unsigned char *out = malloc(size ? size : 1), *in = malloc(size ? size : 1);
	unsigned char *rx = malloc(MAX_DGRAM + 1);
	unsigned char *got = calloc(ndg, 1);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = { .tv_sec = c->rto_ms / 1000, .tv_usec = (c->rto_ms % 1000) * 1000 };
	uint32_t seed = r->id * 7919u + 1;

	if (!out || !in || !rx || !got)
		die("malloc");
	if (fd < 0)
		die("socket");
	set_bufs(fd);
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		die("SO_RCVTIMEO");
	if (connect(fd, (const struct sockaddr *)&c->server, sizeof(c->server)) < 0)
		die("connect");

	for (uint64_t call = 0; call < c->count; call++) {

		/* A new pattern every call, then the tags. */
		seed = seed * 1103515245u + 12345u;
		for (uint32_t b = 0; b < size; b++)
			out[b] = (unsigned char)((seed >> 16) + b * 7u);
		for (uint32_t d = 0; d < ndg; d++) {
			uint32_t len = d + 1 < ndg ? dglen : size - d * dglen;
			if (len >= TAG_LEN)
				put_tag(out + d * dglen, call, d, r->id);
		}
		memset(got, 0, ndg);

		uint32_t have = 0, tries = 0;
		int ok = 0;
		uint64_t t0 = now_ns();
		while (tries < c->tries && have < ndg) {
			tries++;
			for (uint32_t d = 0; d < ndg; d++) {
				uint32_t len = d + 1 < ndg ? dglen : size - d * dglen;
				if (got[d])
					continue;
				if (send(fd, out + d * dglen, len, 0) < 0 && errno != ENOBUFS &&
				    errno != EAGAIN && errno != ECONNREFUSED)
					die("send");
			}
			while (have < ndg) {
				ssize_t n = recv(fd, rx, MAX_DGRAM + 1, 0);
				if (n < 0) {
					if (errno == EINTR || errno == ECONNREFUSED)
						continue;
					if (errno == EAGAIN || errno == EWOULDBLOCK)
						break;	/* timeout: send the missing ones again */
					die("recv");
				}
				/* Which datagram of this call is it? */
				uint32_t d = 0;
				if (ndg > 1 || (uint32_t)n >= TAG_LEN) {
					uint64_t rc;
					uint32_t ri, rt;
					if ((uint32_t)n < TAG_LEN)
						continue;
					memcpy(&rc, rx, 8);
					memcpy(&ri, rx + 8, 4);
					memcpy(&rt, rx + 12, 4);
					if (rc != call || rt != r->id || ri >= ndg)
						continue;	/* late reply to an earlier call */
					d = ri;
				}
				if (got[d])
					continue;	/* duplicate */
				uint32_t len = d + 1 < ndg ? dglen : size - d * dglen;
				if ((uint32_t)n != len) {
					r->bad++;
					continue;
				}
				memcpy(in + d * dglen, rx, len);
				got[d] = 1;
				have++;
			}
		}
		uint64_t dt = now_ns() - t0;
		if (have == ndg)
			ok = 1;
		r->calls++;
		r->retries += tries - 1;
		if (!ok) {
			r->errors++;
			continue;
		}
		if (memcmp(in, out, size)) {
			r->bad++;
			continue;
		}
		r->bytes += 2ull * size;
		r->lat[r->nlat++] = dt;
	}
	close(fd);
	free(out);
	free(in);
	free(rx);
	free(got);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int client_main(struct client_cfg *c, unsigned conc)
{
	struct client_run *runs = calloc(conc, sizeof(*runs));
	pthread_t *th = calloc(conc, sizeof(*th));
	uint64_t *all = malloc((size_t)conc * c->count * sizeof(uint64_t));
	uint64_t calls = 0, errors = 0, bad = 0, retries = 0, bytes = 0;
	uint32_t n = 0;

	if (!runs || !th || !all)
		die("malloc");

	/* What one clock read costs here (two per call): under TCG the guest
	 * kernel may have left the TSC for the HPET, which makes
	 * clock_gettime a system call plus an emulated MMIO read. */
	uint64_t c0 = now_ns();
	for (int i = 0; i < 1000; i++)
		now_ns();
	uint64_t clock_ns = (now_ns() - c0) / 1001;

	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < conc; i++) {
		runs[i].cfg = c;
		runs[i].id = i;
		runs[i].lat = all + (size_t)i * c->count;
		if (pthread_create(&th[i], NULL, client_thread, &runs[i]))
			die("pthread_create");
	}
	for (unsigned i = 0; i < conc; i++)
		pthread_join(th[i], NULL);
	uint64_t elapsed = now_ns() - t0;

	for (unsigned i = 0; i < conc; i++) {
		calls += runs[i].calls;
		errors += runs[i].errors;
		bad += runs[i].bad;
		retries += runs[i].retries;
		bytes += runs[i].bytes;
		memmove(all + n, runs[i].lat, runs[i].nlat * sizeof(uint64_t));
		n += runs[i].nlat;
	}
	qsort(all, n, sizeof(uint64_t), cmp_u64);
	printf("pp: result size=%" PRIu32 " count=%" PRIu32 " concurrency=%u calls=%" PRIu64
	       " errors=%" PRIu64 " bad=%" PRIu64 " retries=%" PRIu64 " min_ns=%" PRIu64
	       " med_ns=%" PRIu64 " p99_ns=%" PRIu64 " max_ns=%" PRIu64 " elapsed_ns=%" PRIu64
	       " bytes=%" PRIu64 " clock_ns=%" PRIu64 "\n",
	       c->size, c->count, conc, calls, errors, bad, retries,
	       n ? all[0] : 0, n ? all[n / 2] : 0, n ? all[(uint64_t)n * 99 / 100] : 0,
	       n ? all[n - 1] : 0, elapsed, bytes, clock_ns);
	fflush(stdout);
	return errors || bad ? 1 : 0;
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
	fprintf(stderr,
		"usage: pingpong server [--port P] [--threads T]\n"
		"       pingpong client SERVER_IP [--port P] --size S --count N [--concurrency C]\n"
		"                       [--rto MS] [--tries K]\n");
	exit(2);
}

static unsigned long num(const char *s, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "pingpong: bad number '%s' (%lu..%lu)\n", s, lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	int port = 7000;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "server")) {
		int threads = 4;
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--port") && i + 1 < argc)
				port = (int)num(argv[++i], 1, 65535);
			else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
				threads = (int)num(argv[++i], 1, 64);
			else
				usage();
		}
		return server_main(port, threads);
	}
	if (strcmp(argv[1], "client") || argc < 3)
		usage();

	struct client_cfg c = { .server = { .sin_family = AF_INET },
				.size = 64, .count = 100, .tries = 10, .rto_ms = 500 };
	unsigned conc = 1;
	if (inet_pton(AF_INET, argv[2], &c.server.sin_addr) != 1)
		usage();
	for (int i = 3; i < argc; i++) {
		if (i + 1 >= argc)
			usage();
		if (!strcmp(argv[i], "--port"))
			port = (int)num(argv[++i], 1, 65535);
		else if (!strcmp(argv[i], "--size"))
			c.size = (uint32_t)num(argv[++i], 0, MAX_SIZE);
		else if (!strcmp(argv[i], "--count"))
			c.count = (uint32_t)num(argv[++i], 1, 1000000);
		else if (!strcmp(argv[i], "--concurrency"))
			conc = (unsigned)num(argv[++i], 1, 64);
		else if (!strcmp(argv[i], "--rto"))
			c.rto_ms = (unsigned)num(argv[++i], 1, 60000);
		else if (!strcmp(argv[i], "--tries"))
			c.tries = (uint32_t)num(argv[++i], 1, 1000);
		else
			usage();
	}
	if ((uint64_t)conc * c.count > 4000000)
		usage();
	c.server.sin_port = htons(port);
	return client_main(&c, conc);
}
