/* Host tests of the Linux records the processor's file syscalls pack
 * (managers/processor/linux_pack.c): struct stat and statx offsets against
 * the host's own definitions, device numbers against the host's makedev,
 * dirent64 records read back the way a libc reads them, iovec totals. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <cmocka.h>

#include "../../managers/processor/linux_pack.h"
#include <lego/errno.h>

/* The host is x86-64 Linux: its struct stat is the one we must produce. */
static void test_stat_layout(void **state)
{
	struct stat h;
	struct linux_stat l;

	assert_int_equal(sizeof(h), sizeof(l));
	assert_int_equal(offsetof(struct stat, st_dev), offsetof(struct linux_stat, st_dev));
	assert_int_equal(offsetof(struct stat, st_ino), offsetof(struct linux_stat, st_ino));
	assert_int_equal(offsetof(struct stat, st_nlink), offsetof(struct linux_stat, st_nlink));
	assert_int_equal(offsetof(struct stat, st_mode), offsetof(struct linux_stat, st_mode));
	assert_int_equal(offsetof(struct stat, st_uid), offsetof(struct linux_stat, st_uid));
	assert_int_equal(offsetof(struct stat, st_gid), offsetof(struct linux_stat, st_gid));
	assert_int_equal(offsetof(struct stat, st_rdev), offsetof(struct linux_stat, st_rdev));
	assert_int_equal(offsetof(struct stat, st_size), offsetof(struct linux_stat, st_size));
	assert_int_equal(offsetof(struct stat, st_blksize),
			 offsetof(struct linux_stat, st_blksize));
	assert_int_equal(offsetof(struct stat, st_blocks), offsetof(struct linux_stat, st_blocks));
	assert_int_equal(offsetof(struct stat, st_atim), offsetof(struct linux_stat, st_atime_sec));
	assert_int_equal(offsetof(struct stat, st_mtim), offsetof(struct linux_stat, st_mtime_sec));
	assert_int_equal(offsetof(struct stat, st_ctim), offsetof(struct linux_stat, st_ctime_sec));
}

static void test_statx_layout(void **state)
{
#ifdef STATX_BASIC_STATS
	assert_int_equal(sizeof(struct statx), sizeof(struct linux_statx));
	assert_int_equal(offsetof(struct statx, stx_mode), offsetof(struct linux_statx, stx_mode));
	assert_int_equal(offsetof(struct statx, stx_ino), offsetof(struct linux_statx, stx_ino));
	assert_int_equal(offsetof(struct statx, stx_size), offsetof(struct linux_statx, stx_size));
	assert_int_equal(offsetof(struct statx, stx_mtime),
			 offsetof(struct linux_statx, stx_mtime));
	assert_int_equal(offsetof(struct statx, stx_rdev_major),
			 offsetof(struct linux_statx, stx_rdev_major));
	assert_int_equal(offsetof(struct statx, stx_dev_minor),
			 offsetof(struct linux_statx, stx_dev_minor));
	assert_int_equal(STATX_BASIC_STATS, LINUX_STATX_BASIC_STATS);
#endif
	assert_int_equal(offsetof(struct linux_statx, stx_mtime), 112);
	assert_int_equal(offsetof(struct linux_statx, stx_rdev_major), 128);
}

static void test_makedev(void **state)
{
	static const unsigned pairs[][2] = {
		{ 0, 0 }, { 1, 3 }, { 136, 0 }, { 136, 255 }, { 8, 256 }, { 4095, 0xfffff },
		{ 0, 0x48 }, { 253, 70000 },
	};

	for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		unsigned ma = pairs[i][0], mi = pairs[i][1];
		u64 d = linux_makedev(ma, mi);

		/* glibc's dev_t for small numbers is the same encoding. */
		assert_int_equal(d, (u64)makedev(ma, mi));
		assert_int_equal(linux_dev_major(d), ma);
		assert_int_equal(linux_dev_minor(d), mi);
		assert_int_equal(major(d), ma);
		assert_int_equal(minor(d), mi);
	}
}

static void test_dt(void **state)
{
	assert_int_equal(linux_dt_from_mode(S_IFREG | 0644), 8);
	assert_int_equal(linux_dt_from_mode(S_IFDIR | 0755), 4);
	assert_int_equal(linux_dt_from_mode(S_IFLNK | 0777), 10);
	assert_int_equal(linux_dt_from_mode(S_IFCHR | 0620), 2);
	assert_int_equal(linux_dt_from_mode(S_IFIFO), 1);
	assert_int_equal(linux_dt_from_mode(0), 0);
}

static void test_stat_pack(void **state)
{
	struct lego_st_stat st = {
		.ino = 77, .mode = S_IFREG | 0640, .nlink = 2, .uid = 5, .gid = 6,
		.size = 12345, .blocks = 4, .mtime_ns = 1700000000123456789ull,
	};
	struct linux_attr a;
	struct linux_stat l;
	struct stat h;

	linux_attr_from_st(&a, &st, linux_makedev(0, 0x31));
	memset(&l, 0xa5, sizeof(l));
	linux_stat_pack(&l, &a);
	memcpy(&h, &l, sizeof(h));
	assert_int_equal(h.st_dev, makedev(0, 0x31));
	assert_int_equal(h.st_ino, 77);
	assert_int_equal(h.st_nlink, 2);
	assert_int_equal(h.st_mode, S_IFREG | 0640);
	assert_int_equal(h.st_uid, 5);
	assert_int_equal(h.st_gid, 6);
	assert_int_equal(h.st_rdev, 0);
	assert_int_equal(h.st_size, 12345);
	assert_int_equal(h.st_blksize, 4096);
	assert_int_equal(h.st_blocks, 32);
	assert_int_equal(h.st_mtim.tv_sec, 1700000000);
	assert_int_equal(h.st_mtim.tv_nsec, 123456789);
	assert_int_equal(h.st_atim.tv_sec, 1700000000);
	assert_int_equal(h.st_ctim.tv_nsec, 123456789);
	assert_int_equal(l.pad0, 0);
	assert_int_equal(l.unused[0] | l.unused[1] | l.unused[2], 0);

	struct linux_statx x;
	memset(&x, 0xa5, sizeof(x));
	a.rdev = linux_makedev(136, 2);
	linux_statx_pack(&x, &a);
	assert_int_equal(x.stx_mask, 0x7ff);
	assert_int_equal(x.stx_mode, S_IFREG | 0640);
	assert_int_equal(x.stx_size, 12345);
	assert_int_equal(x.stx_blocks, 32);
	assert_int_equal(x.stx_nlink, 2);
	assert_int_equal(x.stx_mtime.tv_sec, 1700000000);
	assert_int_equal(x.stx_mtime.tv_nsec, 123456789);
	assert_int_equal(x.stx_btime.tv_sec, 0);
	assert_int_equal(x.stx_rdev_major, 136);
	assert_int_equal(x.stx_rdev_minor, 2);
	assert_int_equal(x.stx_dev_major, 0);
	assert_int_equal(x.stx_dev_minor, 0x31);
	assert_int_equal(x.spare0, 0);
	for (int i = 0; i < 14; i++)
		assert_int_equal(x.spare2[i], 0);
}

/* The layout a libc walks: d_ino, d_off, d_reclen, d_type, d_name. */
struct host_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static void test_dirent(void **state)
{
	u8 buf[256];
	size_t used = 0;
	static const char *names[] = { ".", "..", "a", "hello.txt", "x2345", "name-of-12345678" };
	u32 r;

	assert_int_equal(offsetof(struct host_dirent64, d_name), LINUX_DIRENT64_NAME_OFF);
	assert_int_equal(linux_dirent64_reclen(1), 24);
	assert_int_equal(linux_dirent64_reclen(4), 24);
	assert_int_equal(linux_dirent64_reclen(5), 32);
	assert_int_equal(linux_dirent64_reclen(255), 280);

	memset(buf, 0xcc, sizeof(buf));
	for (size_t i = 0; i < 6; i++) {
		r = linux_dirent64_put(buf + used, sizeof(buf) - used, 100 + i, (s64)i + 1,
				       i < 2 ? 4 : 8, names[i], strlen(names[i]));
		assert_int_equal(r, linux_dirent64_reclen(strlen(names[i])));
		assert_int_equal(r % 8, 0);
		used += r;
	}
	/* Too small: nothing written. */
	u8 small[24];
	memset(small, 0x5a, sizeof(small));
	assert_int_equal(linux_dirent64_put(small, 23, 1, 1, 8, "a", 1), 0);
	for (size_t i = 0; i < sizeof(small); i++)
		assert_int_equal(small[i], 0x5a);
	assert_int_equal(linux_dirent64_put(small, 24, 1, 1, 8, "a", 1), 24);

	size_t pos = 0;
	for (size_t i = 0; i < 6; i++) {
		struct host_dirent64 d;
		memcpy(&d, buf + pos, sizeof(d));
		assert_int_equal(d.d_ino, 100 + i);
		assert_int_equal(d.d_off, (int64_t)i + 1);
		assert_int_equal(d.d_type, i < 2 ? 4 : 8);
		assert_string_equal((char *)buf + pos + LINUX_DIRENT64_NAME_OFF, names[i]);
		/* Padding after the NUL is zero. */
		for (size_t k = LINUX_DIRENT64_NAME_OFF + strlen(names[i]); k < d.d_reclen; k++)
			assert_int_equal(buf[pos + k], 0);
		pos += d.d_reclen;
	}
	assert_int_equal(pos, used);
	assert_int_equal(buf[used], 0xcc);
}

static void test_statfs(void **state)
{
	struct lego_st_statfs s;
	struct linux_statfs l;
	struct statfs h;

	assert_int_equal(sizeof(h), sizeof(l));
	assert_int_equal(offsetof(struct statfs, f_blocks), offsetof(struct linux_statfs, f_blocks));
	assert_int_equal(offsetof(struct statfs, f_fsid), offsetof(struct linux_statfs, f_fsid));
	assert_int_equal(offsetof(struct statfs, f_namelen),
			 offsetof(struct linux_statfs, f_namelen));
	assert_int_equal(offsetof(struct statfs, f_flags), offsetof(struct linux_statfs, f_flags));

	memset(&s, 0, sizeof(s));
	s.state = LEGO_ST_STATE_OK;
	s.block_size = 4096;
	s.total_bytes = 1ull << 30;
	s.free_bytes = 1ull << 29;
	s.total_inodes = 1000;
	s.free_inodes = 900;
	linux_statfs_pack(&l, &s, 7);
	memcpy(&h, &l, sizeof(h));
	assert_int_equal(h.f_bsize, 4096);
	assert_int_equal(h.f_blocks, 262144);
	assert_int_equal(h.f_bfree, 131072);
	assert_int_equal(h.f_bavail, 131072);
	assert_int_equal(h.f_files, 1000);
	assert_int_equal(h.f_ffree, 900);
	assert_int_equal(h.f_namelen, 255);
	assert_int_equal(h.f_flags, 0x20);
	assert_int_equal(h.f_fsid.__val[0], 7);
	s.state = LEGO_ST_STATE_READONLY;
	linux_statfs_pack(&l, &s, 7);
	assert_int_equal(l.f_flags, 0x21);
}

static void test_iov(void **state)
{
	struct linux_iovec v[4] = { { 0, 10 }, { 0, 0 }, { 0, 20 }, { 0, 5 } };

	assert_int_equal(linux_iov_total(v, 0), 0);
	assert_int_equal(linux_iov_total(v, 4), 35);
	assert_int_equal(linux_iov_total(v, 1025), -EINVAL);
	v[1].len = 1ull << 63;
	assert_int_equal(linux_iov_total(v, 4), -EINVAL);
	v[1].len = LINUX_MAX_RW_COUNT;
	assert_int_equal(linux_iov_total(v, 4), (s64)LINUX_MAX_RW_COUNT);
	/* A negative length after the cap still fails. */
	v[3].len = ~0ull;
	assert_int_equal(linux_iov_total(v, 4), -EINVAL);
}

/* comm: the basename, at most 15 bytes. */
static void test_comm(void **state)
{
	char c[16];

	(void)state;
	linux_comm("/bin/busybox", c);
	assert_string_equal(c, "busybox");
	linux_comm("sh", c);
	assert_string_equal(c, "sh");
	linux_comm("/usr/bin/a-very-long-program-name", c);
	assert_string_equal(c, "a-very-long-pro");
	linux_comm("/dir/", c);
	assert_string_equal(c, "");
}

/* Lines as the host's /proc/self/maps shows them: the name at column 73,
 * an anonymous line ending in "0 ". */
static void test_maps_line(void **state)
{
	char b[256];
	int n;

	(void)state;
	n = linux_maps_line(b, sizeof(b), 0x400000, 0x401000, 0x5, false, 0x2000, 0, 0, 0,
			    "/bin/busybox", 12);
	assert_string_equal(b, "00400000-00401000 r-xp 00002000 00:00 0"
			    "                                  /bin/busybox\n");
	assert_int_equal(n, (int)strlen(b));
	assert_int_equal(strchr(b, '/') - b, 73);
	n = linux_maps_line(b, sizeof(b), 0x7fff92227000ull, 0x7fff92248000ull, 0x3, false, 0,
			    0, 0, 0, "[stack]", 7);
	assert_string_equal(b, "7fff92227000-7fff92248000 rw-p 00000000 00:00 0"
			    "                          [stack]\n");
	n = linux_maps_line(b, sizeof(b), 0x1000, 0x2000, 0x3, true, 0, 0xfe, 0x01, 1234, NULL,
			    0);
	assert_string_equal(b, "00001000-00002000 rw-s 00000000 fe:01 1234 \n");
	assert_int_equal(n, (int)strlen(b));
	/* Truncation: the length it needs, a NUL within cap. */
	n = linux_maps_line(b, 10, 0x1000, 0x2000, 0, false, 0, 0, 0, 0, "x", 1);
	assert_int_equal(n, 75);
	assert_int_equal(strlen(b), 9);
}

/* /proc/<pid>/stat: 52 fields, comm in parentheses, the fixed values. */
static void test_proc_stat(void **state)
{
	struct linux_proc_stat s = {
		.pid = 7, .ppid = 3, .pgrp = 7, .session = 2, .state = 'R',
		.comm = "/bin/busybox", .num_threads = 1, .vsize = 8192,
		.startstack = 0x7ffff000, .start_brk = 0x600000,
	};
	char b[1024], *tok, *save = NULL;
	unsigned long long f[53];
	int n, i = 0;

	(void)state;
	n = linux_proc_stat_format(b, sizeof(b), &s);
	assert_int_equal(n, (int)strlen(b));
	assert_true(n > 0 && b[n - 1] == '\n');
	assert_memory_equal(b, "7 (busybox) R 3 7 2 0 -1 ", 25);
	for (tok = strtok_r(b, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		i++;
		if (i >= 4 && i <= 52)
			f[i] = strtoull(tok, NULL, 10);
	}
	assert_int_equal(i, 52);
	assert_int_equal(f[18], 20);
	assert_int_equal(f[20], 1);
	assert_int_equal(f[23], 8192);
	assert_true(f[25] == 18446744073709551615ull);
	assert_int_equal(f[28], 0x7ffff000);
	assert_int_equal(f[38], 17);
	assert_int_equal(f[47], 0x600000);
	assert_int_equal(f[52], 0);
	/* A short buffer: the full length back, NUL-terminated. */
	assert_int_equal(linux_proc_stat_format(b, 8, &s), n);
	assert_int_equal(strlen(b), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stat_layout),
		cmocka_unit_test(test_statx_layout),
		cmocka_unit_test(test_makedev),
		cmocka_unit_test(test_dt),
		cmocka_unit_test(test_stat_pack),
		cmocka_unit_test(test_dirent),
		cmocka_unit_test(test_statfs),
		cmocka_unit_test(test_iov),
		cmocka_unit_test(test_comm),
		cmocka_unit_test(test_maps_line),
		cmocka_unit_test(test_proc_stat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
