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
	h = own(LEGO_MEM_OWN_MAPS + 1, 1, 0, 0);
	assert_int_equal(own_try(h, NULL, 0, &o), -EINVAL);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
