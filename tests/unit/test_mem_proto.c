/* Host tests of the memory monitor's request decoding
 * (managers/memory/mem_proto.c): sizes, paths, flags, alignment, vRegion
 * bounds for every request struct of include/uapi/lego/memory.h. Messages
 * are built in exactly sized heap buffers, and the binary runs under
 * ASan/UBSan, so a read outside a message fails the test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lego/mem_proto.h>
#include <lego/vma.h>
#include <lego/errno.h>

#define GiB (1ULL << 30)

static void *dup_msg(const void *h, size_t hn, const void *tail, size_t tn)
{
	u8 *b = malloc(hn + tn ? hn + tn : 1);
	memcpy(b, h, hn);
	if (tn)
		memcpy(b + hn, tail, tn);
	return b;
}

static void test_path(void **st)
{
	assert_int_equal(mem_path_check("/", 1), 0);
	assert_int_equal(mem_path_check("/a/b", 4), 0);
	assert_int_equal(mem_path_check("/a/..b", 6), 0);
	assert_int_equal(mem_path_check("", 0), -EINVAL);
	assert_int_equal(mem_path_check("a", 1), -EINVAL);
	assert_int_equal(mem_path_check("/a/", 3), -EINVAL);
	assert_int_equal(mem_path_check("//a", 3), -EINVAL);
	assert_int_equal(mem_path_check("/a/.", 4), -EINVAL);
	assert_int_equal(mem_path_check("/../a", 5), -EINVAL);
	assert_int_equal(mem_path_check("/a\0b", 4), -EINVAL);
	assert_int_equal(mem_path_check(NULL, 1), -EINVAL);
	char big[LEGO_ST_PATH_MAX + 1];
	memset(big, 'a', sizeof(big));
	big[0] = '/';
	assert_int_equal(mem_path_check(big, LEGO_ST_PATH_MAX), -ENAMETOOLONG);
	for (size_t i = 100; i < LEGO_ST_PATH_MAX; i += 100)
		big[i] = '/';
	assert_int_equal(mem_path_check(big, LEGO_ST_PATH_MAX - 1), 0);
	char comp[300];
	memset(comp, 'x', sizeof(comp));
	comp[0] = '/';
	assert_int_equal(mem_path_check(comp, 256), 0);
	assert_int_equal(mem_path_check(comp, 257), -ENAMETOOLONG);
}

static void test_vregion(void **st)
{
	u64 lo, hi;

	assert_false(mem_vregion_shift_ok(20));
	assert_true(mem_vregion_shift_ok(21));
	assert_true(mem_vregion_shift_ok(30));
	assert_true(mem_vregion_shift_ok(46));
	assert_false(mem_vregion_shift_ok(47));
	assert_int_equal(mem_vregion_count(30), 128ULL * 1024);
	assert_int_equal(mem_vregion_count(46), 2);
	assert_true(mem_vregion_index_ok(128 * 1024 - 1, 30));
	assert_false(mem_vregion_index_ok(128 * 1024, 30));
	assert_false(mem_vregion_index_ok(0, 12));
	mem_vregion_bounds(3, 30, &lo, &hi);
	assert_int_equal(lo, 3 * GiB);
	assert_int_equal(hi, 4 * GiB);
	mem_vregion_bounds(128 * 1024 - 1, 30, &lo, &hi);
	assert_int_equal(hi, LEGO_USER_TOP);
	assert_int_equal(mem_vregion_of(5 * GiB + 7, 30), 5);

	assert_true(mem_range_in(GiB, 4096, GiB, 2 * GiB));
	assert_true(mem_range_in(GiB, 1, GiB, 2 * GiB));
	assert_true(mem_range_in(2 * GiB - 4096, 4096, GiB, 2 * GiB));
	assert_false(mem_range_in(2 * GiB - 4096, 4097, GiB, 2 * GiB));
	assert_false(mem_range_in(2 * GiB - 4096, 4095 + 4096, GiB, 2 * GiB));
	assert_true(mem_range_in(2 * GiB - 4096, 4095, GiB, 2 * GiB));
	assert_false(mem_range_in(GiB - 4096, 4096, GiB, 2 * GiB));
	assert_false(mem_range_in(GiB, ~0ULL, GiB, 2 * GiB));
	assert_true(mem_range_in(2 * GiB, 0, GiB, 2 * GiB));
}

static void test_create(void **st)
{
	struct lego_mem_create_req c = { .mm = 5, .vnode = 2, .storage_ipv4 = 0x0100a8c6 };
	struct lego_mem_create_req out;
	void *b = dup_msg(&c, sizeof(c), NULL, 0);

	assert_int_equal(mem_decode_create(b, sizeof(c), &out), 0);
	assert_int_equal(out.mm, 5);
	assert_int_equal(out.storage_port, LEGO_RPC_PORT);
	assert_int_equal(mem_decode_create(b, sizeof(c) - 1, &out), -EINVAL);
	assert_int_equal(mem_decode_create(NULL, 0, &out), -EINVAL);
	free(b);
	c.flags = 1;
	b = dup_msg(&c, sizeof(c), NULL, 0);
	assert_int_equal(mem_decode_create(b, sizeof(c), &out), -EINVAL);
	free(b);
	c.flags = 0;
	c.storage_port = 9;
	b = dup_msg(&c, sizeof(c), NULL, 0);
	assert_int_equal(mem_decode_create(b, sizeof(c), &out), 0);
	assert_int_equal(out.storage_port, 9);
	free(b);
}

static int exec_try(const char *path, const char *strings, u32 sl, u32 argc, u32 envc,
		    int len_delta)
{
	struct lego_mem_exec_req h = { .c = { .mm = 1 } };
	size_t pl = strlen(path);
	h.path_len = (u16)pl;
	h.argc = argc;
	h.envc = envc;
	h.strings_len = sl;
	size_t n = sizeof(h) + pl + sl;
	u8 *b = malloc(n);
	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), path, pl);
	memcpy(b + sizeof(h) + pl, strings, sl);
	struct mem_exec_msg m;
	int err = mem_decode_exec(b, (size_t)((long)n + len_delta), &m);
	if (!err) {
		assert_memory_equal(m.path, path, pl);
		assert_ptr_equal(m.strings, (const char *)b + sizeof(h) + pl);
		assert_int_equal(m.h.c.storage_port, LEGO_RPC_PORT);
	}
	free(b);
	return err;
}

static void test_exec(void **st)
{
	assert_int_equal(exec_try("/bin/sh", "sh\0-c\0X=1\0", 10, 2, 1, 0), 0);
	assert_int_equal(exec_try("/bin/sh", "", 0, 0, 0, 0), 0);
	assert_int_equal(exec_try("/bin/sh", "sh\0-c\0X=1\0", 10, 2, 2, 0), -EINVAL);
	assert_int_equal(exec_try("/bin/sh", "sh\0-c\0X=1", 9, 2, 0, 0), -EINVAL);
	assert_int_equal(exec_try("/bin/sh", "sh\0-c\0X=1\0", 10, 2, 1, -1), -EINVAL);
	assert_int_equal(exec_try("bin/sh", "sh\0", 3, 1, 0, 0), -EINVAL);
	assert_int_equal(exec_try("", "sh\0", 3, 1, 0, 0), -EINVAL);
	assert_int_equal(exec_try("/bin/sh", "sh\0", 3, 0xffffffffu, 0xffffffffu, 0), -EINVAL);
	struct mem_exec_msg m;
	u8 small[8] = { 0 };
	assert_int_equal(mem_decode_exec(small, sizeof(small), &m), -EINVAL);
}

static int map_try(u16 op, struct lego_mem_map_req h, const char *path, int len_delta,
		   struct mem_map_msg *out)
{
	size_t pl = path ? strlen(path) : 0;
	if (h.path_len == 0)
		h.path_len = (u16)pl;
	void *b = dup_msg(&h, sizeof(h), path, pl);
	int err = mem_decode_map(op, b, (size_t)((long)(sizeof(h) + pl) + len_delta), out);
	if (!err && pl)
		assert_memory_equal(out->path, path, pl);
	free(b);
	return err;
}

static void test_map(void **st)
{
	struct mem_map_msg o;
	struct lego_mem_map_req h = { .mm = 1, .len = 4096, .prot = 3,
				      .flags = LEGO_MAP_PRIVATE | LEGO_MAP_ANONYMOUS };

	assert_int_equal(map_try(LEGO_OP_MEM_MMAP, h, NULL, 0, &o), 0);
	assert_null(o.path);
	assert_int_equal(map_try(LEGO_OP_MEM_MMAP, h, "/f", 0, &o), -EINVAL);
	assert_int_equal(map_try(LEGO_OP_MEM_MMAP, h, NULL, 1, &o), -EINVAL);
	h.flags = LEGO_MAP_PRIVATE;
	assert_int_equal(map_try(LEGO_OP_MEM_MMAP, h, NULL, 0, &o), -EINVAL);
	assert_int_equal(map_try(LEGO_OP_MEM_MMAP, h, "/etc/passwd", 0, &o), 0);
	assert_non_null(o.path);
	assert_int_equal(map_try(LEGO_OP_MEM_MMAP, h, "/etc/", 0, &o), -EINVAL);
	h.flags = LEGO_MAP_PRIVATE | LEGO_MAP_ANONYMOUS | 0x80000000u;
	assert_int_equal(map_try(LEGO_OP_MEM_MMAP, h, NULL, 0, &o), -EINVAL);
	/* A bad hint is fine, a bad fixed address is not. */
	h.flags = LEGO_MAP_PRIVATE | LEGO_MAP_ANONYMOUS;
	h.addr = LEGO_USER_TOP + 4096;
	assert_int_equal(map_try(LEGO_OP_MEM_MMAP, h, NULL, 0, &o), 0);
	h.flags |= LEGO_MAP_FIXED;
	assert_int_equal(map_try(LEGO_OP_MEM_MMAP, h, NULL, 0, &o), -EINVAL);

	struct lego_mem_map_req u = { .mm = 1, .addr = 0x10000, .len = 8192 };
	assert_int_equal(map_try(LEGO_OP_MEM_MUNMAP, u, NULL, 0, &o), 0);
	assert_int_equal(map_try(LEGO_OP_MEM_MPROTECT, u, NULL, 0, &o), 0);
	assert_int_equal(map_try(LEGO_OP_MEM_MUNMAP, u, "/x", 0, &o), -EINVAL);
	u.addr = 0x10001;
	assert_int_equal(map_try(LEGO_OP_MEM_MUNMAP, u, NULL, 0, &o), -EINVAL);
	u.addr = LEGO_USER_TOP - 4096;
	assert_int_equal(map_try(LEGO_OP_MEM_MPROTECT, u, NULL, 0, &o), -EINVAL);
	u.len = ~0ULL;
	assert_int_equal(map_try(LEGO_OP_MEM_MUNMAP, u, NULL, 0, &o), -EINVAL);

	struct lego_mem_map_req r = { .mm = 1, .addr = 0x10000, .len = 4096, .new_len = 8192,
				      .flags = LEGO_MREMAP_MAYMOVE };
	assert_int_equal(map_try(LEGO_OP_MEM_MREMAP, r, NULL, 0, &o), 0);
	r.flags = 8;
	assert_int_equal(map_try(LEGO_OP_MEM_MREMAP, r, NULL, 0, &o), -EINVAL);
	r.flags = LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED;
	r.new_addr = 0x20001000;
	assert_int_equal(map_try(LEGO_OP_MEM_MREMAP, r, NULL, 0, &o), 0);
	r.new_addr = 0x20001001;
	assert_int_equal(map_try(LEGO_OP_MEM_MREMAP, r, NULL, 0, &o), -EINVAL);
	r.new_addr = LEGO_USER_TOP;
	assert_int_equal(map_try(LEGO_OP_MEM_MREMAP, r, NULL, 0, &o), -EINVAL);

	struct lego_mem_map_req e = { .mm = 1 };
	assert_int_equal(map_try(LEGO_OP_MEM_EXIT, e, NULL, 0, &o), 0);
	assert_int_equal(map_try(LEGO_OP_MEM_VREGIONS, e, NULL, 0, &o), 0);
	assert_int_equal(map_try(LEGO_OP_MEM_MAPS, e, NULL, 0, &o), 0);
	assert_int_equal(map_try(LEGO_OP_MEM_BRK, e, NULL, 0, &o), 0);
	assert_int_equal(map_try(LEGO_OP_MEM_EXIT, e, "/a", 0, &o), -EINVAL);
	assert_int_equal(map_try(LEGO_OP_MEM_PAGE_FETCH, e, NULL, 0, &o), -EINVAL);
	/* path_len lying about the bytes that follow */
	e.path_len = 100;
	assert_int_equal(map_try(LEGO_OP_MEM_EXIT, e, NULL, 0, &o), -EINVAL);
	u8 small[10] = { 0 };
	assert_int_equal(mem_decode_map(LEGO_OP_MEM_EXIT, small, sizeof(small), &o), -EINVAL);
}

static void test_fork(void **st)
{
	struct lego_mem_fork_req f = { 1, 2 }, o;
	assert_int_equal(mem_decode_fork(&f, sizeof(f), &o), 0);
	assert_int_equal(o.child, 2);
	assert_int_equal(mem_decode_fork(&f, sizeof(f) + 1, &o), -EINVAL);
	f.child = 1;
	assert_int_equal(mem_decode_fork(&f, sizeof(f), &o), -EINVAL);
}

static int page_try(u16 op, struct lego_mem_page_req h, size_t data, struct mem_page_msg *o)
{
	u8 *pg = calloc(1, data ? data : 1);
	void *b = dup_msg(&h, sizeof(h), pg, data);
	int err = mem_decode_page(op, b, sizeof(h) + data, o);
	if (!err)
		assert_ptr_equal(o->data, data ? (u8 *)b + sizeof(h) : NULL);
	free(b);
	free(pg);
	return err;
}

static void test_page(void **st)
{
	struct mem_page_msg o;
	struct lego_mem_page_req h = { .mm = 1, .addr = 0x400000, .access = LEGO_MEM_ACCESS_READ };

	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FETCH, h, 0, &o), 0);
	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FETCH, h, 4096, &o), -EINVAL);
	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FLUSH, h, 4096, &o), 0);
	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FLUSH, h, 0, &o), -EINVAL);
	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FLUSH, h, 4095, &o), -EINVAL);
	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FLUSH_FETCH, h, 4096, &o), 0);
	assert_int_equal(page_try(LEGO_OP_MEM_OWN, h, 0, &o), -EINVAL);
	h.addr = 0x400001;
	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FETCH, h, 0, &o), -EINVAL);
	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FLUSH, h, 4096, &o), -EINVAL);
	h.addr = LEGO_USER_TOP;
	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FETCH, h, 0, &o), -EINVAL);
	h.addr = 0x400000;
	h.access = 0;
	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FETCH, h, 0, &o), -EINVAL);
	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FLUSH, h, 4096, &o), 0);
	h.access = 8;
	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FETCH, h, 0, &o), -EINVAL);
	h.access = LEGO_MEM_ACCESS_WRITE;
	h.flush_addr = 0x1001;
	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FLUSH_FETCH, h, 4096, &o), -EINVAL);
	h.flush_addr = 0x1000;
	assert_int_equal(page_try(LEGO_OP_MEM_PAGE_FLUSH_FETCH, h, 4096, &o), 0);
	assert_int_equal(o.h.flush_addr, 0x1000);
}

static struct lego_mem_own_req own(u32 op, u32 index, u64 addr, u64 len)
{
	struct lego_mem_own_req h = { .c = { .mm = 9 }, .op = op, .index = index,
				      .vregion_shift = 30 };
	h.m.mm = 9;
	h.m.addr = addr;
	h.m.len = len;
	return h;
}

static int own_try(struct lego_mem_own_req h, const char *path, int len_delta,
		   struct mem_own_msg *o)
{
	size_t pl = path ? strlen(path) : 0;
	if (!h.m.path_len)
		h.m.path_len = (u16)pl;
	void *b = dup_msg(&h, sizeof(h), path, pl);
	int err = mem_decode_own(b, (size_t)((long)(sizeof(h) + pl) + len_delta), o);
	free(b);
	return err;
}

static void test_own(void **st)
{
	struct mem_own_msg o;
	struct lego_mem_own_req h = own(LEGO_MEM_OWN_MMAP, 1, 0, 8192);

	h.m.flags = LEGO_MAP_PRIVATE | LEGO_MAP_ANONYMOUS;
	assert_int_equal(own_try(h, NULL, 0, &o), 0);
	assert_int_equal(o.lo, GiB);
	assert_int_equal(o.hi, 2 * GiB);
	assert_int_equal(o.h.c.storage_port, LEGO_RPC_PORT);
	assert_int_equal(own_try(h, NULL, -1, &o), -EINVAL);
	assert_int_equal(own_try(h, "/a", 0, &o), -EINVAL);
	h.m.flags |= LEGO_MAP_FIXED;
	h.m.addr = GiB + 4096;
	assert_int_equal(own_try(h, NULL, 0, &o), 0);
	h.m.addr = 2 * GiB - 4096;
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h.m.addr = GiB - 4096;
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h.m.flags = LEGO_MAP_PRIVATE | LEGO_MAP_FIXED_NOREPLACE | LEGO_MAP_ANONYMOUS;
	h.m.addr = GiB + 1;
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h.m.flags = LEGO_MAP_PRIVATE;
	h.m.addr = 0;
	assert_int_equal(own_try(h, "/lib/x.so", 0, &o), 0);
	assert_memory_equal(o.path, "/lib/x.so", 9);
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h.m.len = 0;
	assert_int_equal(own_try(h, "/lib/x.so", 0, &o), -EINVAL);

	/* header consistency */
	h = own(LEGO_MEM_OWN_FREE, 1, 0, 0);
	assert_int_equal(own_try(h, NULL, 0, &o), 0);
	h.m.mm = 8;
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h = own(LEGO_MEM_OWN_FREE, 1, 0, 0);
	h.c.flags = 1;
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h = own(99, 1, 0, 0);
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h = own(0, 1, 0, 0);
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h = own(LEGO_MEM_OWN_FREE, 1, 0, 0);
	h.vregion_shift = 12;
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h = own(LEGO_MEM_OWN_FREE, 200000, 0, 0);
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h = own(LEGO_MEM_OWN_FREE, 1, 0, 0);
	h.m.path_len = 3;
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	assert_int_equal(own_try(h, "/ab", 0, &o), -EINVAL);

	/* ranges */
	h = own(LEGO_MEM_OWN_MUNMAP, 1, GiB, GiB);
	assert_int_equal(own_try(h, NULL, 0, &o), 0);
	h = own(LEGO_MEM_OWN_MUNMAP, 1, GiB, GiB + 1);
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h = own(LEGO_MEM_OWN_MPROTECT, 1, GiB, 0);
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h = own(LEGO_MEM_OWN_STACK, 1, 2 * GiB - 8192, 8192);
	assert_int_equal(own_try(h, NULL, 0, &o), 0);
	h = own(LEGO_MEM_OWN_STACK, 1, 2 * GiB - 8191, 8192);
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h = own(LEGO_MEM_OWN_MREMAP, 1, GiB, 4096);
	h.m.new_len = 8192;
	h.m.flags = LEGO_MREMAP_MAYMOVE;
	assert_int_equal(own_try(h, NULL, 0, &o), 0);
	h.m.new_len = 0;
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h.m.new_len = 8192;
	h.m.flags = LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED;
	h.m.new_addr = 3 * GiB;
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h.m.new_addr = GiB + 65536;
	assert_int_equal(own_try(h, NULL, 0, &o), 0);
	h = own(LEGO_MEM_OWN_BRK, 1, GiB + 4096, 0);
	h.m.new_len = GiB + 8192;
	assert_int_equal(own_try(h, NULL, 0, &o), 0);
	h.m.addr = 2 * GiB;
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h = own(LEGO_MEM_OWN_FORK, 1, 0, 0);
	h.m.new_addr = 10;
	assert_int_equal(own_try(h, NULL, 0, &o), 0);
	h.m.new_addr = 9;
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	/* the last vRegion is clamped to LEGO_USER_TOP */
	h = own(LEGO_MEM_OWN_STACK, 128 * 1024 - 1, LEGO_USER_TOP - 8192, 8192);
	assert_int_equal(own_try(h, NULL, 0, &o), 0);
	assert_int_equal(o.hi, LEGO_USER_TOP);
	h = own(LEGO_MEM_OWN_STACK, 128 * 1024 - 1, LEGO_USER_TOP - 4096, 8192);
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	u8 small[100] = { 0 };
	assert_int_equal(mem_decode_own(small, sizeof(small), &o), -EINVAL);

	/* MAPS: any resume address, no path */
	h = own(LEGO_MEM_OWN_MAPS, 1, 0, 0);
	assert_int_equal(own_try(h, NULL, 0, &o), 0);
	assert_int_equal(o.h.op, LEGO_MEM_OWN_MAPS);
	assert_null(o.path);
	h.m.addr = GiB + 8192;
	assert_int_equal(own_try(h, NULL, 0, &o), 0);
	assert_int_equal(o.h.m.addr, GiB + 8192);
	h.m.addr = 5 * GiB;		/* past the vRegion: an empty list */
	assert_int_equal(own_try(h, NULL, 0, &o), 0);
	assert_int_equal(own_try(h, "/a", 0, &o), -EINVAL);
	assert_int_equal(own_try(h, NULL, 1, &o), -EINVAL);
	h = own(LEGO_MEM_OWN_MOVE + 1, 1, 0, 0);
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
}

/* OWN_MOVE: the request, then exactly a lego_mem_own_move. */
static int move_try(struct lego_mem_own_req h, struct lego_mem_own_move mv, int len_delta,
		    struct mem_own_msg *o)
{
	void *b = dup_msg(&h, sizeof(h), &mv, sizeof(mv));
	int err = mem_decode_own(b, (size_t)((long)(sizeof(h) + sizeof(mv)) + len_delta), o);
	free(b);
	return err;
}

static void test_own_move(void **st)
{
	struct mem_own_msg o;
	struct lego_mem_own_move mv = { .dst_ipv4 = 0x0102c6c6, .dst_node = 7 };
	struct lego_mem_own_req h = own(LEGO_MEM_OWN_MOVE, 1, 2 * GiB - 8192, 8192);

	h.m.new_addr = 3 * GiB;
	assert_int_equal(move_try(h, mv, 0, &o), 0);
	assert_int_equal(o.mv.dst_ipv4, 0x0102c6c6);
	assert_int_equal(o.mv.dst_port, LEGO_RPC_PORT);
	assert_int_equal(o.mv.dst_node, 7);
	assert_null(o.path);
	/* framing: the tail exactly, no path */
	assert_int_equal(move_try(h, mv, -1, &o), -EINVAL);
	assert_int_equal(move_try(h, mv, 1, &o), -EINVAL);
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
	h.m.path_len = 16;
	assert_int_equal(move_try(h, mv, 0, &o), -EINVAL);
	h.m.path_len = 0;
	/* the destination's fields */
	struct lego_mem_own_move bad = mv;
	bad.dst_ipv4 = 0;
	assert_int_equal(move_try(h, bad, 0, &o), -EINVAL);
	bad = mv;
	bad.flags = 1;
	assert_int_equal(move_try(h, bad, 0, &o), -EINVAL);
	bad = mv;
	bad.dst_port = 9000;
	assert_int_equal(move_try(h, bad, 0, &o), 0);
	assert_int_equal(o.mv.dst_port, 9000);
	/* the source in the vRegion, aligned, not empty */
	h.m.addr = 2 * GiB - 4096;
	assert_int_equal(move_try(h, mv, 0, &o), -EINVAL);
	h.m.addr = 2 * GiB - 8192 + 1;
	assert_int_equal(move_try(h, mv, 0, &o), -EINVAL);
	h.m.addr = 2 * GiB - 8192;
	h.m.len = 0;
	assert_int_equal(move_try(h, mv, 0, &o), -EINVAL);
	h.m.len = 4095;
	assert_int_equal(move_try(h, mv, 0, &o), -EINVAL);
	h.m.len = 8192;
	/* the destination in one vRegion (any), aligned, not overlapping */
	h.m.new_addr = 3 * GiB - 4096;
	assert_int_equal(move_try(h, mv, 0, &o), -EINVAL);
	h.m.new_addr = 3 * GiB - 8192;
	assert_int_equal(move_try(h, mv, 0, &o), 0);
	h.m.new_addr = 3 * GiB + 1;
	assert_int_equal(move_try(h, mv, 0, &o), -EINVAL);
	h.m.new_addr = GiB;
	assert_int_equal(move_try(h, mv, 0, &o), 0);
	h.m.new_addr = 2 * GiB - 12288;
	assert_int_equal(move_try(h, mv, 0, &o), -EINVAL);
	h.m.new_addr = 2 * GiB - 4096 * 4;
	assert_int_equal(move_try(h, mv, 0, &o), 0);
	h.m.new_addr = LEGO_USER_TOP - 4096;
	assert_int_equal(move_try(h, mv, 0, &o), -EINVAL);
	h.m.new_addr = LEGO_USER_TOP - 8192;
	assert_int_equal(move_try(h, mv, 0, &o), 0);
	h.m.new_addr = ~0ULL << 12;
	assert_int_equal(move_try(h, mv, 0, &o), -EINVAL);
}

static void test_flush_many(void **st)
{
	struct mem_flush_many_msg o;
	const u32 max = LEGO_MEM_FLUSH_MANY_MAX;
	size_t size = sizeof(struct lego_mem_flush_many_req) + (size_t)max * (8 + 4096);
	u8 *b = calloc(1, size);
	struct lego_mem_flush_many_req h = { .mm = 9, .count = 3 };

	assert_int_equal(max, 63);
	assert_true(size <= LEGO_RPC_MAX_MSG);
	memcpy(b, &h, sizeof(h));
	for (u64 i = 0; i < 3; i++) {
		u64 a = GiB + i * 8192;
		memcpy(b + sizeof(h) + i * 8, &a, 8);
		memset(b + sizeof(h) + 3 * 8 + i * 4096, (int)i + 1, 4096);
	}
	size_t n = sizeof(h) + 3 * (8 + 4096);
	assert_int_equal(mem_decode_flush_many(b, n, &o), 0);
	assert_int_equal(o.h.count, 3);
	assert_int_equal(mem_flush_many_addr(&o, 2), GiB + 16384);
	assert_int_equal(((const u8 *)mem_flush_many_page(&o, 1))[4095], 2);
	assert_int_equal(((const u8 *)mem_flush_many_page(&o, 2))[0], 3);
	assert_int_equal(mem_decode_flush_many(b, n - 1, &o), -EINVAL);
	assert_int_equal(mem_decode_flush_many(b, n + 1, &o), -EINVAL);
	assert_int_equal(mem_decode_flush_many(b, 15, &o), -EINVAL);
	assert_int_equal(mem_decode_flush_many(NULL, n, &o), -EINVAL);
	/* a bad address anywhere */
	u64 bad = GiB + 1;
	memcpy(b + sizeof(h) + 8, &bad, 8);
	assert_int_equal(mem_decode_flush_many(b, n, &o), -EINVAL);
	bad = LEGO_USER_TOP;
	memcpy(b + sizeof(h) + 8, &bad, 8);
	assert_int_equal(mem_decode_flush_many(b, n, &o), -EINVAL);
	bad = LEGO_USER_TOP - 4096;
	memcpy(b + sizeof(h) + 8, &bad, 8);
	assert_int_equal(mem_decode_flush_many(b, n, &o), 0);
	/* count and flags */
	h.flags = 1;
	memcpy(b, &h, sizeof(h));
	assert_int_equal(mem_decode_flush_many(b, n, &o), -EINVAL);
	h.flags = 0;
	h.count = 0;
	memcpy(b, &h, sizeof(h));
	assert_int_equal(mem_decode_flush_many(b, sizeof(h), &o), -EINVAL);
	memset(b, 0, size);		/* max addresses, all 0: valid */
	h.count = max;
	memcpy(b, &h, sizeof(h));
	assert_int_equal(mem_decode_flush_many(b, size, &o), 0);
	h.count = max + 1;
	memcpy(b, &h, sizeof(h));
	assert_int_equal(mem_decode_flush_many(b, size, &o), -EINVAL);
	free(b);
	/* exactly sized buffers: the decoder reads nothing past the end */
	for (u32 c = 1; c <= 4; c++) {
		size_t len = sizeof(h) + c * (8 + 4096);
		u8 *m = calloc(1, len);
		h.count = c;
		memcpy(m, &h, sizeof(h));
		assert_int_equal(mem_decode_flush_many(m, len, &o), 0);
		free(m);
	}
}

static struct lego_mem_map_req remap(u64 addr, u64 len, u64 new_len, u32 flags, u64 new_addr)
{
	struct lego_mem_map_req h = { .mm = 9, .addr = addr, .len = len, .new_len = new_len,
				      .flags = flags, .new_addr = new_addr };
	return h;
}

static void test_mremap_args(void **st)
{
	const u32 MV = LEGO_MREMAP_MAYMOVE, FX = LEGO_MREMAP_FIXED, DU = LEGO_MREMAP_DONTUNMAP;
	struct lego_mem_map_req h;
	u64 o = 1, n = 1;

	h = remap(GiB, 4095, 8193, MV, 0);
	assert_int_equal(mem_mremap_args(&h, &o, &n), 0);
	assert_int_equal(o, 4096);
	assert_int_equal(n, 12288);
	h = remap(GiB, 0, 4096, 0, 0);		/* old_len 0: the vma decides */
	assert_int_equal(mem_mremap_args(&h, &o, &n), 0);
	assert_int_equal(o, 0);
	h = remap(GiB, 4096, 0, MV, 0);
	assert_int_equal(mem_mremap_args(&h, &o, &n), -EINVAL);
	h = remap(GiB, 4096, ~0ULL, MV, 0);
	assert_int_equal(mem_mremap_args(&h, &o, &n), -EINVAL);
	h = remap(GiB, ~0ULL - 10, 4096, MV, 0);
	assert_int_equal(mem_mremap_args(&h, &o, &n), -EINVAL);
	h = remap(GiB + 1, 4096, 8192, MV, 0);
	assert_int_equal(mem_mremap_args(&h, &o, &n), -EINVAL);
	h = remap(GiB, 4096, 8192, 8, 0);
	assert_int_equal(mem_mremap_args(&h, &o, &n), -EINVAL);
	/* FIXED needs MAYMOVE; DONTUNMAP needs MAYMOVE and no size change */
	h = remap(GiB, 4096, 8192, FX, 3 * GiB);
	assert_int_equal(mem_mremap_args(&h, &o, &n), -EINVAL);
	h = remap(GiB, 4096, 8192, MV | FX, 3 * GiB);
	assert_int_equal(mem_mremap_args(&h, &o, &n), 0);
	h = remap(GiB, 4096, 4096, DU, 0);
	assert_int_equal(mem_mremap_args(&h, &o, &n), -EINVAL);
	h = remap(GiB, 4096, 8192, MV | DU, 0);
	assert_int_equal(mem_mremap_args(&h, &o, &n), -EINVAL);
	h = remap(GiB, 4096, 4096, MV | DU, 0);
	assert_int_equal(mem_mremap_args(&h, &o, &n), 0);
	h = remap(GiB, 4096, 4000, MV | DU | FX, 3 * GiB);
	assert_int_equal(mem_mremap_args(&h, &o, &n), 0);
	/* the destination: aligned, below the top, apart from the old range */
	h = remap(GiB, 4096, 8192, MV | FX, 3 * GiB + 1);
	assert_int_equal(mem_mremap_args(&h, &o, &n), -EINVAL);
	h = remap(GiB, 4096, 8192, MV | FX, LEGO_USER_TOP - 4096);
	assert_int_equal(mem_mremap_args(&h, &o, &n), -EINVAL);
	h = remap(GiB, 4096, 8192, MV | FX, LEGO_USER_TOP - 8192);
	assert_int_equal(mem_mremap_args(&h, &o, &n), 0);
	h = remap(GiB, 8192, 4096, MV | FX, GiB + 4096);
	assert_int_equal(mem_mremap_args(&h, &o, &n), -EINVAL);
	h = remap(GiB, 8192, 4096, MV | FX, GiB + 8192);
	assert_int_equal(mem_mremap_args(&h, &o, &n), 0);
	h = remap(GiB, 8192, 8192, MV | FX, GiB - 4096);
	assert_int_equal(mem_mremap_args(&h, &o, &n), -EINVAL);
	h = remap(GiB, 8192, 8192, MV | FX, GiB - 8192);
	assert_int_equal(mem_mremap_args(&h, &o, &n), 0);
	h = remap(GiB, 4096, 4096, MV | DU, GiB);	/* a hint is checked the same way */
	assert_int_equal(mem_mremap_args(&h, &o, &n), -EINVAL);
	/* without FIXED or DONTUNMAP new_addr is ignored */
	h = remap(GiB, 4096, 8192, MV, GiB + 1);
	assert_int_equal(mem_mremap_args(&h, &o, &n), 0);
}

static void test_move_piece(void **st)
{
	struct mem_move_piece p;
	const u64 from = 2 * GiB - 8192, to = 5 * GiB - 4096, end = 2 * GiB + 16384;
	u64 pos = from;

	/* source cut at its vRegion bound, destination at its own */
	assert_true(mem_move_piece_next(30, from, to, &pos, end, &p));
	assert_int_equal(p.src, 2 * GiB - 8192);
	assert_int_equal(p.dst, 5 * GiB - 4096);
	assert_int_equal(p.len, 4096);
	assert_int_equal(p.src_index, 1);
	assert_int_equal(p.dst_index, 4);
	assert_true(mem_move_piece_next(30, from, to, &pos, end, &p));
	assert_int_equal(p.src, 2 * GiB - 4096);
	assert_int_equal(p.dst, 5 * GiB);
	assert_int_equal(p.len, 4096);
	assert_int_equal(p.src_index, 1);
	assert_int_equal(p.dst_index, 5);
	assert_true(mem_move_piece_next(30, from, to, &pos, end, &p));
	assert_int_equal(p.src, 2 * GiB);
	assert_int_equal(p.dst, 5 * GiB + 4096);
	assert_int_equal(p.len, 16384);
	assert_int_equal(p.src_index, 2);
	assert_int_equal(p.dst_index, 5);
	assert_false(mem_move_piece_next(30, from, to, &pos, end, &p));

	/* a random model: the pieces tile the range, each inside one vRegion
	 * at both ends, and are as long as that allows */
	srand(7);
	for (int k = 0; k < 2000; k++) {
		u32 shift = 21 + (u32)(rand() % 10);
		u64 f = ((u64)rand() << 12) % (64 * GiB), t = ((u64)rand() << 12) % (64 * GiB);
		u64 len = ((u64)(rand() % 4096) + 1) << (12 + rand() % 8);
		u64 at = f, expect = f, pieces = 0;
		while (mem_move_piece_next(shift, f, t, &at, f + len, &p)) {
			assert_int_equal(p.src, expect);
			assert_int_equal(p.dst, t + (p.src - f));
			assert_true(p.len > 0);
			assert_int_equal(p.src >> shift, (p.src + p.len - 1) >> shift);
			assert_int_equal(p.dst >> shift, (p.dst + p.len - 1) >> shift);
			assert_int_equal(p.src_index, p.src >> shift);
			assert_int_equal(p.dst_index, p.dst >> shift);
			u64 e = p.src + p.len;
			assert_true(e == f + len || !(e & ((1ULL << shift) - 1)) ||
				    !((p.dst + p.len) & ((1ULL << shift) - 1)));
			expect = e;
			pieces++;
		}
		assert_int_equal(expect, f + len);
		assert_true(pieces <= 2 * ((len >> shift) + 1) + 1);
	}
}

static void test_vma_rec(void **st)
{
	u8 buf[128];
	struct lego_mem_vma_rec r = { .start = GiB, .end = GiB + 8192, .pgoff = 3, .prot = 5,
				      .flags = LEGO_MEM_VMA_FILE, .owner_node = 7,
				      .path_len = 999, .reserved = 42 }, o;

	assert_int_equal(LEGO_MEM_VMA_REC_SIZE(0), 40);
	assert_int_equal(LEGO_MEM_VMA_REC_SIZE(1), 48);
	assert_int_equal(LEGO_MEM_VMA_REC_SIZE(8), 48);
	assert_int_equal(LEGO_MEM_VMA_REC_SIZE(9), 56);
	/* a path: padded with zeros to 8 bytes; path_len and reserved set */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(mem_vma_rec_put(buf + 1, 100, &r, "/bin/busybox", 12), 56);
	memcpy(&o, buf + 1, sizeof(o));
	assert_int_equal(o.start, GiB);
	assert_int_equal(o.end, GiB + 8192);
	assert_int_equal(o.pgoff, 3);
	assert_int_equal(o.prot, 5);
	assert_int_equal(o.flags, LEGO_MEM_VMA_FILE);
	assert_int_equal(o.owner_node, 7);
	assert_int_equal(o.path_len, 12);
	assert_int_equal(o.reserved, 0);
	assert_memory_equal(buf + 41, "/bin/busybox\0\0\0\0", 16);
	assert_int_equal(buf[0], 0xee);
	assert_int_equal(buf[57], 0xee);
	/* no path */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(mem_vma_rec_put(buf, 40, &r, NULL, 0), 40);
	memcpy(&o, buf, sizeof(o));
	assert_int_equal(o.path_len, 0);
	assert_int_equal(buf[40], 0xee);
	/* no room: nothing written */
	memset(buf, 0xee, sizeof(buf));
	assert_int_equal(mem_vma_rec_put(buf, 39, &r, NULL, 0), 0);
	assert_int_equal(mem_vma_rec_put(buf, 55, &r, "/bin/busybox", 12), 0);
	for (unsigned i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0xee);
}

static void test_bc(void **st)
{
	struct lego_mem_bc_req h = { .storage_ipv4 = 1, .st_opcode = LEGO_OP_ST_READ }, o;
	struct lego_st_req s = { .vnode = 1 };
	void *b = dup_msg(&h, sizeof(h), &s, sizeof(s));
	const void *p;
	size_t pl;

	assert_int_equal(mem_decode_bc(b, sizeof(h) + sizeof(s), &o, &p, &pl), 0);
	assert_ptr_equal(p, (u8 *)b + sizeof(h));
	assert_int_equal(pl, sizeof(s));
	assert_int_equal(o.storage_port, LEGO_RPC_PORT);
	assert_int_equal(mem_decode_bc(b, 7, &o, &p, &pl), -EINVAL);
	free(b);
	h.st_opcode = LEGO_OP_ST_VNODE_CREATE;
	b = dup_msg(&h, sizeof(h), NULL, 0);
	assert_int_equal(mem_decode_bc(b, sizeof(h), &o, &p, &pl), -EINVAL);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path),   cmocka_unit_test(test_vregion),
		cmocka_unit_test(test_create), cmocka_unit_test(test_exec),
		cmocka_unit_test(test_map),    cmocka_unit_test(test_fork),
		cmocka_unit_test(test_page),   cmocka_unit_test(test_own),
		cmocka_unit_test(test_bc),     cmocka_unit_test(test_vma_rec),
		cmocka_unit_test(test_own_move), cmocka_unit_test(test_mremap_args),
		cmocka_unit_test(test_move_piece), cmocka_unit_test(test_flush_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
