/* Host tests of the storage monitor's protocol logic
 * (managers/storage/st_proto.c): request decoding and validation against
 * malformed input of every kind, the error mapping, and the encoding of
 * STAT, READDIR and STATFS replies. Built with ASan/UBSan, so any read
 * outside a message fails the test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lego/st_proto.h>
#include <lego/errno.h>

/* ---- helpers ---- */

/* Build a request: header + path + path2 + data in an exactly sized heap
 * buffer (ASan catches any read past it). Returns the buffer; *len gets
 * its size. path/path2 lengths are taken from the header fields unless
 * they are 0xffff-style liars set by the caller afterwards. */
struct req_spec {
	u32 vnode, flags, mode;
	u64 off, len;
	const char *path, *path2;
	size_t path_n, path2_n;		/* bytes of path/path2 (0: strlen) */
	const void *data;
	size_t data_n;
};

static u8 *build(const struct req_spec *s, size_t *len)
{
	size_t pn = s->path ? (s->path_n ? s->path_n : strlen(s->path)) : 0;
	size_t p2n = s->path2 ? (s->path2_n ? s->path2_n : strlen(s->path2)) : 0;
	size_t n = sizeof(struct lego_st_req) + pn + p2n + s->data_n;
	u8 *b = malloc(n ? n : 1);
	struct lego_st_req h = {
		.vnode = s->vnode, .flags = s->flags, .off = s->off, .len = s->len,
		.mode = s->mode, .path_len = (u16)pn, .path2_len = (u16)p2n,
	};
	memcpy(b, &h, sizeof(h));
	if (pn)
		memcpy(b + sizeof(h), s->path, pn);
	if (p2n)
		memcpy(b + sizeof(h) + pn, s->path2, p2n);
	if (s->data_n)
		memcpy(b + sizeof(h) + pn + p2n, s->data, s->data_n);
	*len = n;
	return b;
}

static struct st_msg msg;

static int dec(u16 op, const struct req_spec *s)
{
	size_t n;
	u8 *b = build(s, &n);
	int r = st_decode(op, b, n, &msg);
	free(b);
	return r;
}

static char *repeat(char c, size_t n)
{
	char *p = malloc(n + 1);
	memset(p, c, n);
	p[n] = '\0';
	return p;
}

/* ---- header and sizes ---- */

static void test_truncated_header(void **s)
{
	u8 *b = malloc(sizeof(struct lego_st_req));
	memset(b, 0, sizeof(struct lego_st_req));
	for (size_t n = 0; n < sizeof(struct lego_st_req); n++) {
		/* A buffer of exactly n bytes, so ASan sees any overread. */
		u8 *t = malloc(n ? n : 1);
		memcpy(t, b, n);
		assert_int_equal(st_decode(LEGO_OP_ST_STATFS, t, n, &msg), -EINVAL);
		assert_int_equal(st_decode(LEGO_OP_ST_STAT, t, n, &msg), -EINVAL);
		free(t);
	}
	assert_int_equal(st_decode(LEGO_OP_ST_STATFS, NULL, 32, &msg), -EINVAL);
	/* Exactly a header: a valid STATFS. */
	assert_int_equal(st_decode(LEGO_OP_ST_STATFS, b, sizeof(struct lego_st_req), &msg), 0);
	free(b);
}

static void test_path_lengths_beyond_message(void **s)
{
	struct lego_st_req h = { .vnode = 0, .path_len = 5 };
	u8 b[sizeof(h) + 4];
	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), "/abc", 4);
	assert_int_equal(st_decode(LEGO_OP_ST_STAT, b, sizeof(b), &msg), -EINVAL);
	h.path_len = 4;
	memcpy(b, &h, sizeof(h));
	assert_int_equal(st_decode(LEGO_OP_ST_STAT, b, sizeof(b), &msg), 0);
	assert_string_equal(msg.path, "/abc");
	/* path2 past the end, and sums that would wrap in 16 bits. */
	h.path2_len = 1;
	memcpy(b, &h, sizeof(h));
	assert_int_equal(st_decode(LEGO_OP_ST_RENAME, b, sizeof(b), &msg), -EINVAL);
	h.path_len = 0xffff;
	h.path2_len = 0xffff;
	memcpy(b, &h, sizeof(h));
	assert_int_equal(st_decode(LEGO_OP_ST_RENAME, b, sizeof(b), &msg), -EINVAL);
	h.path_len = 2;
	h.path2_len = 0xffff;
	memcpy(b, &h, sizeof(h));
	assert_int_equal(st_decode(LEGO_OP_ST_RENAME, b, sizeof(b), &msg), -EINVAL);
}

static void test_trailing_bytes(void **s)
{
	/* Opcodes without data refuse anything after the paths. */
	static const u16 ops[] = { LEGO_OP_ST_STAT, LEGO_OP_ST_CREATE, LEGO_OP_ST_READ,
				   LEGO_OP_ST_TRUNCATE, LEGO_OP_ST_UNLINK, LEGO_OP_ST_MKDIR,
				   LEGO_OP_ST_RMDIR, LEGO_OP_ST_READLINK, LEGO_OP_ST_FSYNC };
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		struct req_spec sp = { .path = "/f", .data = "x", .data_n = 1, .len = 1 };
		assert_int_equal(dec(ops[i], &sp), -EINVAL);
		sp.data_n = 0;
		assert_int_equal(dec(ops[i], &sp), 0);
	}
	struct req_spec sp = { .data = "xyz", .data_n = 3 };
	assert_int_equal(dec(LEGO_OP_ST_STATFS, &sp), -EINVAL);
	assert_int_equal(dec(LEGO_OP_ST_VNODE_LIST, &sp), -EINVAL);
}

/* ---- paths ---- */

static void test_path_syntax(void **s)
{
	static const char *const bad[] = { "a", "a/b", "/a/", "//", "//a", "/a//b", "/.", "/a/.",
					   "/a/./b", "/..", "/a/../b", "/a/b/", " /a" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct req_spec sp = { .path = bad[i] };
		assert_int_equal(dec(LEGO_OP_ST_STAT, &sp), -EINVAL);
		/* The second path of RENAME is checked the same way. */
		struct req_spec rn = { .path = "/ok", .path2 = bad[i] };
		assert_int_equal(dec(LEGO_OP_ST_RENAME, &rn), -EINVAL);
	}
	static const char *const good[] = { "/", "/a", "/a/b", "/.a", "/..a", "/a..", "/a b/c",
					    "/a/...", "/\xc3\xa9t\xc3\xa9" };
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct req_spec sp = { .path = good[i] };
		assert_int_equal(dec(LEGO_OP_ST_STAT, &sp), 0);
		assert_string_equal(msg.path, good[i]);
		assert_true(msg.has_path);
	}
	/* A required path may not be missing. */
	struct req_spec none = { 0 };
	assert_int_equal(dec(LEGO_OP_ST_STAT, &none), -EINVAL);
	assert_int_equal(dec(LEGO_OP_ST_READ, &none), -EINVAL);
	struct req_spec rn = { .path = "/a" };
	assert_int_equal(dec(LEGO_OP_ST_RENAME, &rn), -EINVAL);
}

static void test_path_nul(void **s)
{
	struct req_spec sp = { .path = "/a\0b", .path_n = 4 };
	assert_int_equal(dec(LEGO_OP_ST_STAT, &sp), -EINVAL);
	sp.path = "/ab\0";
	assert_int_equal(dec(LEGO_OP_ST_STAT, &sp), -EINVAL);
	sp.path = "\0";
	sp.path_n = 1;
	assert_int_equal(dec(LEGO_OP_ST_STAT, &sp), -EINVAL);
	struct req_spec rn = { .path = "/a", .path2 = "/b\0", .path2_n = 3 };
	assert_int_equal(dec(LEGO_OP_ST_RENAME, &rn), -EINVAL);
	struct req_spec sl = { .path = "/l", .path2 = "x\0y", .path2_n = 3 };
	assert_int_equal(dec(LEGO_OP_ST_SYMLINK, &sl), -EINVAL);
}

static void test_path_too_long(void **s)
{
	/* 1023 bytes is the longest path; components up to 255. */
	char *p = malloc(LEGO_ST_PATH_MAX + 10);
	size_t n = 0;
	while (n < LEGO_ST_PATH_MAX - 1) {
		p[n++] = '/';
		for (int i = 0; i < 200 && n < LEGO_ST_PATH_MAX - 1; i++)
			p[n++] = 'a';
	}
	p[n] = '\0';
	assert_int_equal(strlen(p), LEGO_ST_PATH_MAX - 1);
	struct req_spec sp = { .path = p };
	assert_int_equal(dec(LEGO_OP_ST_STAT, &sp), 0);
	assert_int_equal(strlen(msg.path), LEGO_ST_PATH_MAX - 1);
	p[n++] = 'a';
	p[n] = '\0';
	assert_int_equal(dec(LEGO_OP_ST_STAT, &sp), -ENAMETOOLONG);
	struct req_spec rn = { .path = "/a", .path2 = p };
	assert_int_equal(dec(LEGO_OP_ST_RENAME, &rn), -ENAMETOOLONG);
	free(p);

	char *c = repeat('c', LFS_NAME_MAX + 1);
	char *q = malloc(LFS_NAME_MAX + 3);
	q[0] = '/';
	strcpy(q + 1, c);
	struct req_spec cs = { .path = q };
	assert_int_equal(dec(LEGO_OP_ST_MKDIR, &cs), -ENAMETOOLONG);
	q[LFS_NAME_MAX + 1] = '\0';	/* 255-byte component */
	assert_int_equal(dec(LEGO_OP_ST_MKDIR, &cs), 0);
	free(c);
	free(q);

	/* The longest path_len the header can state, with the bytes there. */
	char *huge = repeat('a', 0xffff);
	huge[0] = '/';
	struct req_spec hs = { .path = huge };
	assert_int_equal(dec(LEGO_OP_ST_STAT, &hs), -ENAMETOOLONG);
	free(huge);
}

static void test_symlink_target(void **s)
{
	struct req_spec sp = { .path = "/l", .path2 = "../lib/libc.so.6" };
	assert_int_equal(dec(LEGO_OP_ST_SYMLINK, &sp), 0);
	assert_string_equal(msg.path, "/l");
	assert_string_equal(msg.path2, "../lib/libc.so.6");
	sp.path2 = "a//b/./";	/* any text: the store never follows it */
	assert_int_equal(dec(LEGO_OP_ST_SYMLINK, &sp), 0);
	sp.path2 = NULL;
	assert_int_equal(dec(LEGO_OP_ST_SYMLINK, &sp), -ENOENT);
	char *t = repeat('t', LEGO_ST_PATH_MAX - 1);
	sp.path2 = t;
	assert_int_equal(dec(LEGO_OP_ST_SYMLINK, &sp), 0);
	free(t);
	t = repeat('t', LEGO_ST_PATH_MAX);
	sp.path2 = t;
	assert_int_equal(dec(LEGO_OP_ST_SYMLINK, &sp), -ENAMETOOLONG);
	free(t);
	/* The link itself must be a normalised path. */
	struct req_spec bad = { .path = "l", .path2 = "x" };
	assert_int_equal(dec(LEGO_OP_ST_SYMLINK, &bad), -EINVAL);
}

/* ---- data, numbers, flags ---- */

static void test_write_len(void **s)
{
	u8 *d = calloc(1, LEGO_ST_IO_MAX + 1);
	for (u16 op = LEGO_OP_ST_WRITE; op; op = op == LEGO_OP_ST_WRITE ? LEGO_OP_ST_APPEND : 0) {
		struct req_spec sp = { .path = "/f", .data = d, .data_n = 100, .len = 100, .off = 7 };
		assert_int_equal(dec(op, &sp), 0);
		assert_int_equal(msg.data_len, 100);
		assert_int_equal(msg.h.off, 7);
		sp.len = 99;
		assert_int_equal(dec(op, &sp), -EINVAL);
		sp.len = 101;
		assert_int_equal(dec(op, &sp), -EINVAL);
		sp.len = 100ull | (1ull << 32);	/* must not be truncated to 32 bits */
		assert_int_equal(dec(op, &sp), -EINVAL);
		sp.len = sp.data_n = LEGO_ST_IO_MAX;
		assert_int_equal(dec(op, &sp), 0);
		sp.len = sp.data_n = LEGO_ST_IO_MAX + 1;
		assert_int_equal(dec(op, &sp), -EINVAL);
		sp.len = sp.data_n = 0;
		assert_int_equal(dec(op, &sp), 0);
		assert_int_equal(msg.data_len, 0);
		assert_non_null(msg.data);
	}
	free(d);
}

static void test_data_position(void **s)
{
	struct req_spec sp = { .path = "/x/y", .data = "hello", .data_n = 5, .len = 5 };
	size_t n;
	u8 *b = build(&sp, &n);
	assert_int_equal(st_decode(LEGO_OP_ST_WRITE, b, n, &msg), 0);
	assert_ptr_equal(msg.data, b + sizeof(struct lego_st_req) + 4);
	assert_memory_equal(msg.data, "hello", 5);
	assert_string_equal(msg.path, "/x/y");
	free(b);
}

static void test_read_limits(void **s)
{
	struct req_spec sp = { .path = "/f", .len = LEGO_ST_IO_MAX, .off = ~0ull };
	assert_int_equal(dec(LEGO_OP_ST_READ, &sp), 0);
	sp.len = LEGO_ST_IO_MAX + 1;
	assert_int_equal(dec(LEGO_OP_ST_READ, &sp), -EINVAL);
	sp.len = ~0ull;
	assert_int_equal(dec(LEGO_OP_ST_READ, &sp), -EINVAL);
	sp.len = 0;
	assert_int_equal(dec(LEGO_OP_ST_READ, &sp), 0);
}

static void test_readdir_limits(void **s)
{
	struct req_spec sp = { .path = "/", .len = 0 };
	assert_int_equal(dec(LEGO_OP_ST_READDIR, &sp), -EINVAL);
	sp.len = LEGO_ST_READDIR_MAX + 1;
	assert_int_equal(dec(LEGO_OP_ST_READDIR, &sp), -EINVAL);
	sp.len = 1ull << 32 | 1;
	assert_int_equal(dec(LEGO_OP_ST_READDIR, &sp), -EINVAL);
	sp.len = 1;
	assert_int_equal(dec(LEGO_OP_ST_READDIR, &sp), 0);
	sp.len = LEGO_ST_READDIR_MAX;
	sp.off = 0x123456789abcull;
	assert_int_equal(dec(LEGO_OP_ST_READDIR, &sp), 0);
	assert_int_equal(msg.h.off, 0x123456789abcull);
}

static void test_flags(void **s)
{
	struct req_spec sp = { .path = "/f", .flags = LEGO_ST_O_EXCL | LEGO_ST_O_TRUNC };
	assert_int_equal(dec(LEGO_OP_ST_CREATE, &sp), 0);
	sp.flags = 0x4;
	assert_int_equal(dec(LEGO_OP_ST_CREATE, &sp), -EINVAL);
	sp.flags = 0x80000000u;
	assert_int_equal(dec(LEGO_OP_ST_CREATE, &sp), -EINVAL);
	sp.flags = 1;
	assert_int_equal(dec(LEGO_OP_ST_STAT, &sp), -EINVAL);
	assert_int_equal(dec(LEGO_OP_ST_MKDIR, &sp), -EINVAL);
	struct req_spec ap = { .path = "/f", .flags = LEGO_ST_APPEND_CREATE, .data = "z",
			       .data_n = 1, .len = 1 };
	assert_int_equal(dec(LEGO_OP_ST_APPEND, &ap), 0);
	ap.flags = 2;
	assert_int_equal(dec(LEGO_OP_ST_APPEND, &ap), -EINVAL);
	struct req_spec vf = { .flags = 1 };
	assert_int_equal(dec(LEGO_OP_ST_STATFS, &vf), -EINVAL);
	assert_int_equal(dec(LEGO_OP_ST_VNODE_CREATE, &vf), -EINVAL);
}

static void test_mode_masked(void **s)
{
	struct req_spec sp = { .path = "/f", .mode = 0100644 | 0x10000 };
	assert_int_equal(dec(LEGO_OP_ST_CREATE, &sp), 0);
	assert_int_equal(msg.mode, 0644);
	sp.mode = 07777;
	assert_int_equal(dec(LEGO_OP_ST_MKDIR, &sp), 0);
	assert_int_equal(msg.mode, 07777);
}

static void test_setattr(void **s)
{
	struct lego_st_attr a = { .mask = LEGO_ST_ATTR_MODE | LEGO_ST_ATTR_MTIME, .mode = 0104755,
				  .uid = 5, .gid = 6, .mtime_ns = 123 };
	struct req_spec sp = { .path = "/f", .data = &a, .data_n = sizeof(a), .len = sizeof(a) };
	assert_int_equal(dec(LEGO_OP_ST_SETATTR, &sp), 0);
	assert_int_equal(msg.attr.mask, LEGO_ST_ATTR_MODE | LEGO_ST_ATTR_MTIME);
	assert_int_equal(msg.attr.mode, 04755);
	assert_int_equal(msg.attr.mtime_ns, 123);
	sp.len = sizeof(a) - 1;
	assert_int_equal(dec(LEGO_OP_ST_SETATTR, &sp), -EINVAL);
	sp.len = sizeof(a);
	sp.data_n = sizeof(a) - 1;
	assert_int_equal(dec(LEGO_OP_ST_SETATTR, &sp), -EINVAL);
	sp.data_n = 0;
	sp.len = 0;
	assert_int_equal(dec(LEGO_OP_ST_SETATTR, &sp), -EINVAL);
	a.mask = 0x10;
	sp.data_n = sp.len = sizeof(a);
	assert_int_equal(dec(LEGO_OP_ST_SETATTR, &sp), -EINVAL);
}

static void test_vnode_ops(void **s)
{
	struct req_spec sp = { .vnode = 7 };
	assert_int_equal(dec(LEGO_OP_ST_VNODE_CREATE, &sp), 0);
	assert_int_equal(msg.h.vnode, 7);
	assert_int_equal(dec(LEGO_OP_ST_VNODE_REMOVE, &sp), 0);
	assert_int_equal(dec(LEGO_OP_ST_VNODE_LIST, &sp), 0);
	assert_int_equal(dec(LEGO_OP_ST_STATFS, &sp), 0);
	/* No paths for these. */
	static const u16 nopath[] = { LEGO_OP_ST_STATFS, LEGO_OP_ST_VNODE_CREATE,
				      LEGO_OP_ST_VNODE_REMOVE, LEGO_OP_ST_VNODE_LIST };
	for (size_t i = 0; i < 4; i++) {
		struct req_spec p = { .path = "/" };
		assert_int_equal(dec(nopath[i], &p), -EINVAL);
		struct req_spec p2 = { .path2 = "/" };
		assert_int_equal(dec(nopath[i], &p2), -EINVAL);
	}
	/* 0xffffffff is no vNode, except where the vNode is ignored. */
	sp.vnode = 0xffffffffu;
	assert_int_equal(dec(LEGO_OP_ST_VNODE_CREATE, &sp), -EINVAL);
	assert_int_equal(dec(LEGO_OP_ST_VNODE_REMOVE, &sp), -EINVAL);
	assert_int_equal(dec(LEGO_OP_ST_STATFS, &sp), 0);
	assert_int_equal(dec(LEGO_OP_ST_VNODE_LIST, &sp), 0);
	struct req_spec f = { .vnode = 0xffffffffu, .path = "/a" };
	assert_int_equal(dec(LEGO_OP_ST_STAT, &f), -EINVAL);
	assert_int_equal(dec(LEGO_OP_ST_UNLINK, &f), -EINVAL);
	f.vnode = 0xfffffffeu;
	assert_int_equal(dec(LEGO_OP_ST_STAT, &f), 0);
}

static void test_fsync_path(void **s)
{
	struct req_spec sp = { .vnode = 3 };
	assert_int_equal(dec(LEGO_OP_ST_FSYNC, &sp), 0);
	assert_false(msg.has_path);
	assert_string_equal(msg.path, "");
	sp.path = "/a";
	assert_int_equal(dec(LEGO_OP_ST_FSYNC, &sp), 0);
	assert_true(msg.has_path);
	sp.path = "a/";
	assert_int_equal(dec(LEGO_OP_ST_FSYNC, &sp), -EINVAL);
}

static void test_opcodes(void **s)
{
	struct req_spec sp = { .path = "/" };
	assert_int_equal(dec(0x0300, &sp), -ENOSYS);
	assert_int_equal(dec(0x0310, &sp), -ENOSYS);
	assert_int_equal(dec(0x0001, &sp), -ENOSYS);
	assert_false(st_opcode_known(0x0324));
	assert_true(st_opcode_known(LEGO_OP_ST_VNODE_LIST));
	assert_true(st_opcode_mutates(LEGO_OP_ST_WRITE));
	assert_true(st_opcode_mutates(LEGO_OP_ST_SETATTR));
	assert_false(st_opcode_mutates(LEGO_OP_ST_READ));
	assert_false(st_opcode_mutates(LEGO_OP_ST_STATFS));
}

/* Random messages: never a crash or an overread (ASan), only the
 * documented results, and a success always has consistent fields. */
static void test_fuzz(void **s)
{
	static const u16 ops[] = { 0x0301, 0x0302, 0x0303, 0x0304, 0x0305, 0x0306, 0x0307, 0x0308,
				   0x0309, 0x030a, 0x030b, 0x030c, 0x030d, 0x030e, 0x030f, 0x0320,
				   0x0321, 0x0322, 0x0323 };
	static const char alphabet[] = "/a.\0b/";
	u32 seed = 12345;
#define RND() (seed = seed * 1103515245u + 12345u, seed >> 8)
	unsigned ok = 0;
	for (int iter = 0; iter < 200000; iter++) {
		size_t n = RND() % 96;
		u8 *b = malloc(n ? n : 1);
		for (size_t i = 0; i < n; i++)
			b[i] = i >= 32 ? (u8)alphabet[RND() % 6] : (u8)RND();
		if (n >= 32 && (RND() & 1)) {
			/* Plausible headers: small lengths, mostly clear flags. */
			struct lego_st_req h;
			memcpy(&h, b, sizeof(h));
			h.path_len = (u16)(RND() % (n - 31));
			h.path2_len = (u16)(RND() % (n - 31));
			h.flags = RND() % 4 ? 0 : RND() % 4;
			h.len = RND() % 4 ? n - 32 - h.path_len - h.path2_len : RND() % 200;
			h.vnode = RND() % 3;
			memcpy(b, &h, sizeof(h));
		}
		u16 op = ops[RND() % (sizeof(ops) / sizeof(ops[0]))];
		int r = st_decode(op, b, n, &msg);
		assert_true(r == 0 || r == -EINVAL || r == -ENAMETOOLONG || r == -ENOENT);
		if (r == 0) {
			ok++;
			assert_true(n >= sizeof(struct lego_st_req));
			assert_int_equal(strlen(msg.path), msg.h.path_len);
			assert_true(msg.h.path_len + msg.h.path2_len + msg.data_len + 32u <= n);
			if (msg.h.path_len)
				assert_int_equal(lfs_path_check(msg.path, msg.h.path_len), 0);
		}
		free(b);
	}
	assert_true(ok > 100);	/* the generator does reach valid requests */
#undef RND
}

/* ---- replies ---- */

static void test_wire_errno(void **s)
{
	assert_int_equal(st_wire_errno(0), 0);
	assert_int_equal(st_wire_errno(4096), 4096);
	static const int pass[] = { EINVAL, ENAMETOOLONG, ESTALE, ENOENT, EEXIST, ENOTDIR, EISDIR,
				    ENOTEMPTY, EBUSY, EFBIG, ENOSPC, EROFS, EIO, ENOMEM };
	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++)
		assert_int_equal(st_wire_errno(-pass[i]), -pass[i]);
	assert_int_equal(st_wire_errno(-EUCLEAN), -EIO);
	assert_int_equal(st_wire_errno(-EFAULT), -EIO);
	assert_int_equal(st_wire_errno(-1001), -EIO);
}

static void test_stat_encode(void **s)
{
	struct lfs_stat in = { .ino = 9, .mode = 0100640, .nlink = 1, .uid = 1000, .gid = 100,
			       .nchild = 0, .size = 1ull << 33, .blocks = 3, .mtime = 1700000000123ull };
	struct lego_st_stat out;
	memset(&out, 0xaa, sizeof(out));
	st_stat_encode(&in, &out);
	assert_int_equal(out.ino, 9);
	assert_int_equal(out.mode, 0100640);
	assert_int_equal(out.nlink, 1);
	assert_int_equal(out.uid, 1000);
	assert_int_equal(out.gid, 100);
	assert_int_equal(out.nchild, 0);
	assert_int_equal(out.size, 1ull << 33);
	assert_int_equal(out.blocks, 3);
	assert_int_equal(out.mtime_ns, 1700000000123ull);
}

static void test_dirent_size(void **s)
{
	assert_int_equal(LEGO_ST_DIRENT_SIZE(0), 16);
	assert_int_equal(LEGO_ST_DIRENT_SIZE(1), 24);
	assert_int_equal(LEGO_ST_DIRENT_SIZE(8), 24);
	assert_int_equal(LEGO_ST_DIRENT_SIZE(9), 32);
	assert_int_equal(LEGO_ST_DIRENT_SIZE(255), 272);
}

static void test_readdir_encode(void **s)
{
	static const size_t lens[] = { 1, 7, 8, 9, 16, 255 };
	const u32 n = sizeof(lens) / sizeof(lens[0]);
	struct lfs_dirent *e = calloc(n, sizeof(*e));
	size_t want = 16;
	for (u32 i = 0; i < n; i++) {
		e[i].cookie = 1000 + i;
		e[i].ino = 50 + i;
		e[i].type = i % 2 ? LFS_DT_DIR : LFS_DT_REG;
		memset(e[i].name, 'a' + (int)i, lens[i]);
		e[i].name[lens[i]] = '\0';
		want += LEGO_ST_DIRENT_SIZE(lens[i]);
	}
	assert_int_equal(st_readdir_size(e, n), want);

	/* One byte short: nothing written. */
	u8 *buf = malloc(want);
	assert_int_equal(st_readdir_encode(e, n, 77, buf, want - 1), 0);
	memset(buf, 0xee, want);
	assert_int_equal(st_readdir_encode(e, n, 77, buf, want), want);
	struct lego_st_readdir_reply h;
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.count, n);
	assert_int_equal(h.reserved, 0);
	assert_int_equal(h.next_cookie, 77);
	size_t at = sizeof(h);
	for (u32 i = 0; i < n; i++) {
		struct lego_st_dirent d;
		memcpy(&d, buf + at, sizeof(d));
		assert_int_equal(d.cookie, 1000 + i);
		assert_int_equal(d.ino, 50 + i);
		assert_int_equal(d.type, i % 2 ? 4 : 8);
		assert_int_equal(d.reserved, 0);
		assert_int_equal(d.name_len, lens[i]);
		assert_memory_equal(buf + at + 16, e[i].name, lens[i]);
		/* Zero padding up to the 8-byte boundary. */
		for (size_t k = 16 + lens[i]; k < LEGO_ST_DIRENT_SIZE(lens[i]); k++)
			assert_int_equal(buf[at + k], 0);
		assert_int_equal(LEGO_ST_DIRENT_SIZE(lens[i]) % 8, 0);
		at += LEGO_ST_DIRENT_SIZE(lens[i]);
	}
	assert_int_equal(at, want);

	/* End of directory: the header alone. */
	assert_int_equal(st_readdir_size(e, 0), 16);
	assert_int_equal(st_readdir_encode(e, 0, 0, buf, 16), 16);
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.count, 0);
	assert_int_equal(st_readdir_encode(e, 0, 0, buf, 15), 0);
	free(buf);

	/* The largest page fits one RPC message. */
	assert_true(16 + LEGO_ST_READDIR_MAX * LEGO_ST_DIRENT_SIZE(LFS_NAME_MAX) <= LEGO_RPC_MAX_MSG);
	free(e);
}

static void test_statfs_encode(void **s)
{
	struct lego_st_statfs out;
	struct lfs_statfs st = { .block_size = 4096, .total_bytes = 64 << 20, .free_bytes = 60 << 20,
				 .total_inodes = 4000, .free_inodes = 3990, .max_vnodes = 256,
				 .nvnodes = 2, .commits = 5 };
	u8 uuid[16];
	for (int i = 0; i < 16; i++)
		uuid[i] = (u8)i;
	char label[32];
	memset(label, 'L', sizeof(label));	/* no NUL in the superblock field */
	st_statfs_encode(&out, LEGO_ST_STATE_OK, &st, uuid, label, "");
	assert_int_equal(out.state, LEGO_ST_STATE_OK);
	assert_int_equal(out.block_size, 4096);
	assert_int_equal(out.total_bytes, 64 << 20);
	assert_int_equal(out.free_bytes, 60 << 20);
	assert_int_equal(out.total_inodes, 4000);
	assert_int_equal(out.free_inodes, 3990);
	assert_int_equal(out.max_vnodes, 256);
	assert_int_equal(out.nvnodes, 2);
	assert_int_equal(out.commits, 5);
	assert_memory_equal(out.uuid, uuid, 16);
	assert_int_equal(strlen(out.label), 31);
	assert_int_equal(out.label[31], 0);
	assert_string_equal(out.message, "");

	char *longmsg = repeat('m', 400);
	st_statfs_encode(&out, LEGO_ST_STATE_UNMOUNTED, NULL, NULL, NULL, longmsg);
	assert_int_equal(out.state, LEGO_ST_STATE_UNMOUNTED);
	assert_int_equal(out.total_bytes, 0);
	assert_int_equal(out.block_size, 0);
	assert_int_equal(out.label[0], 0);
	assert_int_equal(strlen(out.message), LEGO_ST_MSG_LEN - 1);
	free(longmsg);
	st_statfs_encode(&out, LEGO_ST_STATE_UNMOUNTED, NULL, NULL, NULL,
			 "vda: not a LegoFS image (bad superblock magic)");
	assert_string_equal(out.message, "vda: not a LegoFS image (bad superblock magic)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_truncated_header),
		cmocka_unit_test(test_path_lengths_beyond_message),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_path_syntax),
		cmocka_unit_test(test_path_nul),
		cmocka_unit_test(test_path_too_long),
		cmocka_unit_test(test_symlink_target),
		cmocka_unit_test(test_write_len),
		cmocka_unit_test(test_data_position),
		cmocka_unit_test(test_read_limits),
		cmocka_unit_test(test_readdir_limits),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_mode_masked),
		cmocka_unit_test(test_setattr),
		cmocka_unit_test(test_vnode_ops),
		cmocka_unit_test(test_fsync_path),
		cmocka_unit_test(test_opcodes),
		cmocka_unit_test(test_fuzz),
		cmocka_unit_test(test_wire_errno),
		cmocka_unit_test(test_stat_encode),
		cmocka_unit_test(test_dirent_size),
		cmocka_unit_test(test_readdir_encode),
		cmocka_unit_test(test_statfs_encode),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
