/*
 * odirect: the Linux side of tests/bench/storage-io.
 *
 * Built static with musl (musl-gcc -static) and run inside a Linux guest
 * booted from Debian's kernel with a busybox initramfs, on the guest's
 * virtio-blk disk. It does the I/O that stclient.c does through the LegoOS
 * storage monitor, on the raw block device with O_DIRECT (no page cache in
 * the guest), and times each op inside the guest with
 * clock_gettime(CLOCK_MONOTONIC). See stbench.h for the tests.
 *
 *   odirect DEV setup --file-size BYTES [--chunk BYTES]
 *       writes blocks 0 .. FILE_SIZE/4096-1 (st_fill content) with O_DIRECT
 *       writes of CHUNK bytes (default 128 KiB, LegoOS's largest WRITE),
 *       then fdatasync; prints "st: setup {JSON}"
 *   odirect DEV run --file-size BYTES [--count N] [--write-count N]
 *               [--warmup W] [--seed S] [--tests LIST]
 *       LIST: comma-separated of seqread, randread, write (default all);
 *       prints "st: result {JSON}"
 *
 * The write test is pwrite of 4 KiB + fdatasync, timed as one op. On a raw
 * block device fdatasync is the device's flush (virtio-blk FLUSH, which QEMU
 * turns into an fdatasync of the image file with cache=writeback).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "stbench.h"

static const char *prog = "odirect";

static void usage(void)
{
	fprintf(stderr,
		"usage: %s DEV setup --file-size BYTES [--chunk BYTES]\n"
		"       %s DEV run --file-size BYTES [--count N] [--write-count N] [--warmup W]\n"
		"                  [--seed S] [--tests seqread,randread,write]\n", prog, prog);
	exit(2);
}

struct cfg {
	const char *dev;
	uint64_t file_size, chunk, count, write_count, warmup, seed;
	int tests[3];
};

static int do_setup(const struct cfg *c, int fd)
{
	uint64_t nblocks = c->file_size / ST_BLOCK, per = c->chunk / ST_BLOCK;
	void *buf;

	if (posix_memalign(&buf, ST_BLOCK, c->chunk)) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	uint64_t t0 = st_now_ns();
	for (uint64_t b = 0; b < nblocks; b += per) {
		uint64_t n = nblocks - b < per ? nblocks - b : per;

		for (uint64_t i = 0; i < n; i++)
			st_fill((char *)buf + i * ST_BLOCK, b + i);
		ssize_t w = pwrite(fd, buf, n * ST_BLOCK, (off_t)(b * ST_BLOCK));
		if (w != (ssize_t)(n * ST_BLOCK)) {
			fprintf(stderr, "%s: setup write at block %" PRIu64 ": %s\n", prog, b,
				w < 0 ? strerror(errno) : "short write");
			return 1;
		}
	}
	if (fdatasync(fd) < 0) {
		fprintf(stderr, "%s: fdatasync: %s\n", prog, strerror(errno));
		return 1;
	}
	uint64_t dt = st_now_ns() - t0;
	printf("st: setup {\"bytes\": %" PRIu64 ", \"chunk\": %" PRIu64 ", \"elapsed_ns\": %" PRIu64
	       "}\n", nblocks * ST_BLOCK, c->chunk, dt);
	free(buf);
	return 0;
}

static const char *const names[3] = { "seqread", "randread", "write" };

static int do_run(const struct cfg *c, int fd)
{
	uint64_t nblocks = c->file_size / ST_BLOCK;
	uint64_t maxn = c->count > c->write_count ? c->count : c->write_count;
	uint64_t *lat = malloc(maxn * sizeof(*lat));
	void *buf;
	int first = 1, rc = 0;

	if (!lat || posix_memalign(&buf, ST_BLOCK, ST_BLOCK)) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	uint64_t clock_ns = st_clock_cost_ns();
	printf("st: result {\"system\": \"linux\", \"clock_ns\": %" PRIu64 ", \"tests\": {",
	       clock_ns);
	for (int k = 0; k < 3; k++) {
		if (!c->tests[k])
			continue;
		struct st_seq q;
		uint64_t n = k == ST_WRITE ? c->write_count : c->count;
		uint64_t errors = 0, bad = 0, nlat = 0;

		st_seq_init(&q, (enum st_kind)k, nblocks, c->seed);
		for (uint64_t i = 0; i < c->warmup + n; i++) {
			uint64_t b = st_seq_next(&q), t0, dt;
			off_t off = (off_t)(b * ST_BLOCK);
			int ok;

			if (k == ST_WRITE) {
				st_fill(buf, b);
				t0 = st_now_ns();
				ok = pwrite(fd, buf, ST_BLOCK, off) == ST_BLOCK && fdatasync(fd) == 0;
				dt = st_now_ns() - t0;
			} else {
				memset(buf, 0, ST_BLOCK);
				t0 = st_now_ns();
				ok = pread(fd, buf, ST_BLOCK, off) == ST_BLOCK;
				dt = st_now_ns() - t0;
				if (ok && st_check(buf, b) < 0) {
					if (!bad)
						fprintf(stderr, "%s: block %" PRIu64 ": wrong data\n", prog, b);
					bad++;
				}
			}
			if (!ok) {
				if (!errors)
					fprintf(stderr, "%s: %s of block %" PRIu64 ": %s\n", prog, names[k], b,
						strerror(errno));
				errors++;
			} else if (i >= c->warmup) {
				lat[nlat++] = dt;
			}
		}
		st_json_test(stdout, first, names[k], lat, nlat, errors, bad);
		first = 0;
		if (errors || bad)
			rc = 1;
	}
	printf("}}\n");
	fflush(stdout);
	free(lat);
	free(buf);
	return rc;
}

int main(int argc, char **argv)
{
	struct cfg c = { .chunk = 128 * 1024, .count = 1000, .write_count = 200, .warmup = 20,
			 .seed = 42, .tests = { 1, 1, 1 } };
	int setup;

	if (argc < 3)
		usage();
	c.dev = argv[1];
	if (!strcmp(argv[2], "setup"))
		setup = 1;
	else if (!strcmp(argv[2], "run"))
		setup = 0;
	else
		usage();
	for (int i = 3; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t *dst = NULL;

		if (!strcmp(o, "--file-size"))
			dst = &c.file_size;
		else if (!strcmp(o, "--chunk"))
			dst = &c.chunk;
		else if (!strcmp(o, "--count"))
			dst = &c.count;
		else if (!strcmp(o, "--write-count"))
			dst = &c.write_count;
		else if (!strcmp(o, "--warmup"))
			dst = &c.warmup;
		else if (!strcmp(o, "--seed"))
			dst = &c.seed;
		else if (!strcmp(o, "--tests") && v) {
			c.tests[0] = c.tests[1] = c.tests[2] = 0;
			char *list = strdup(v), *save = NULL;
			for (char *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
				int found = 0;
				for (int k = 0; k < 3; k++)
					if (!strcmp(t, names[k]))
						c.tests[k] = found = 1;
				if (!found)
					usage();
			}
			free(list);
			i++;
			continue;
		} else
			usage();
		if (st_parse_u64(v, dst) < 0)
			usage();
		i++;
	}
	if (c.file_size < ST_BLOCK || c.file_size % ST_BLOCK || c.chunk < ST_BLOCK ||
	    c.chunk % ST_BLOCK || !c.count || !c.write_count)
		usage();

	int fd = open(c.dev, O_RDWR | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, c.dev, strerror(errno));
		return 1;
	}
	/* The size of a block device or a file alike. */
	off_t end = lseek(fd, 0, SEEK_END);
	uint64_t devsize = end > 0 ? (uint64_t)end : 0;
	if (devsize && devsize < c.file_size) {
		fprintf(stderr, "%s: %s holds %" PRIu64 " bytes, fewer than --file-size\n", prog,
			c.dev, devsize);
		return 1;
	}
	int rc = setup ? do_setup(&c, fd) : do_run(&c, fd);
	close(fd);
	return rc;
}
