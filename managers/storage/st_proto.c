/* Storage monitor protocol logic: request decoding and validation, reply
 * encoding. Pure (see include/lego/st_proto.h): the same file runs in the
 * storage personality and in the host unit test. Everything a client
 * sends is checked here before any of it reaches LegoFS, so the handlers
 * in service.c only ever see well-formed requests. */
#include <lego/st_proto.h>
#include <lego/errno.h>
#include <lego/compiler.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

/* What an opcode takes besides the header. */
enum st_arg {
	A_NONE,		/* must be absent (length 0) */
	A_PATH,		/* a normalised path, required */
	A_PATH_OPT,	/* a normalised path, or nothing */
	A_TARGET,	/* a symlink target: any bytes but NUL, 1..1023 */
};

enum st_data {
	D_NONE,		/* no data bytes */
	D_BYTES,	/* h.len bytes, at most LEGO_ST_IO_MAX */
	D_ATTR,		/* exactly one struct lego_st_attr, h.len its size */
};

struct st_rule {
	u16 opcode;
	u8 path, path2;		/* enum st_arg */
	u8 data;		/* enum st_data */
	bool vnode;		/* names a vNode (0xffffffff is refused) */
	bool mutates;
	u32 flags;		/* the flags it knows */
};

static const struct st_rule st_rules[] = {
	{ LEGO_OP_ST_STAT, A_PATH, A_NONE, D_NONE, true, false, 0 },
	{ LEGO_OP_ST_CREATE, A_PATH, A_NONE, D_NONE, true, true, LEGO_ST_O_EXCL | LEGO_ST_O_TRUNC },
	{ LEGO_OP_ST_READ, A_PATH, A_NONE, D_NONE, true, false, 0 },
	{ LEGO_OP_ST_WRITE, A_PATH, A_NONE, D_BYTES, true, true, 0 },
	{ LEGO_OP_ST_TRUNCATE, A_PATH, A_NONE, D_NONE, true, true, 0 },
	{ LEGO_OP_ST_UNLINK, A_PATH, A_NONE, D_NONE, true, true, 0 },
	{ LEGO_OP_ST_MKDIR, A_PATH, A_NONE, D_NONE, true, true, 0 },
	{ LEGO_OP_ST_RMDIR, A_PATH, A_NONE, D_NONE, true, true, 0 },
	{ LEGO_OP_ST_RENAME, A_PATH, A_PATH, D_NONE, true, true, 0 },
	{ LEGO_OP_ST_READDIR, A_PATH, A_NONE, D_NONE, true, false, 0 },
	{ LEGO_OP_ST_SYMLINK, A_PATH, A_TARGET, D_NONE, true, true, 0 },
	{ LEGO_OP_ST_READLINK, A_PATH, A_NONE, D_NONE, true, false, 0 },
	/* FSYNC commits; it changes nothing that the sync thread must know. */
	{ LEGO_OP_ST_FSYNC, A_PATH_OPT, A_NONE, D_NONE, true, false, 0 },
	{ LEGO_OP_ST_APPEND, A_PATH, A_NONE, D_BYTES, true, true, LEGO_ST_APPEND_CREATE },
	{ LEGO_OP_ST_SETATTR, A_PATH, A_NONE, D_ATTR, true, true, 0 },
	{ LEGO_OP_ST_STATFS, A_NONE, A_NONE, D_NONE, false, false, 0 },
	{ LEGO_OP_ST_VNODE_CREATE, A_NONE, A_NONE, D_NONE, true, true, 0 },
	{ LEGO_OP_ST_VNODE_REMOVE, A_NONE, A_NONE, D_NONE, true, true, 0 },
	{ LEGO_OP_ST_VNODE_LIST, A_NONE, A_NONE, D_NONE, false, false, 0 },
};

static const struct st_rule *rule_of(u16 opcode)
{
	for (size_t i = 0; i < ARRAY_SIZE(st_rules); i++)
		if (st_rules[i].opcode == opcode)
			return &st_rules[i];
	return NULL;
}

bool st_opcode_known(u16 opcode)
{
	return rule_of(opcode) != NULL;
}

bool st_opcode_mutates(u16 opcode)
{
	const struct st_rule *ru = rule_of(opcode);
	return ru && ru->mutates;
}

/* Check one path argument p[0..n) against kind and copy it, NUL-terminated,
 * to out (LEGO_ST_PATH_MAX bytes). */
static int take_arg(u8 kind, const char *p, size_t n, char *out)
{
	int r;

	out[0] = '\0';
	switch (kind) {
	case A_NONE:
		return n ? -EINVAL : 0;
	case A_PATH_OPT:
		if (!n)
			return 0;
		r = lfs_path_check(p, n);
		if (r)
			return r;
		break;
	case A_PATH:
		r = lfs_path_check(p, n);
		if (r)
			return r;
		break;
	case A_TARGET:
		/* Any text (relative targets are fine): the store never
		 * follows links. Empty is -ENOENT, as symlink(2) says. */
		if (!n)
			return -ENOENT;
		if (n >= LEGO_ST_PATH_MAX)
			return -ENAMETOOLONG;
		for (size_t i = 0; i < n; i++)
			if (p[i] == '\0')
				return -EINVAL;
		break;
	default:
		return -EINVAL;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

int st_decode(u16 opcode, const void *msg, size_t len, struct st_msg *m)
{
	const struct st_rule *ru = rule_of(opcode);
	const u8 *b = msg;
	int r;

	if (!ru)
		return -ENOSYS;
	m->opcode = opcode;
	m->path[0] = m->path2[0] = '\0';
	m->data = NULL;
	m->data_len = 0;
	m->has_path = false;
	m->mode = 0;
	memset(&m->attr, 0, sizeof(m->attr));

	/* Sizes first: nothing below may look past the message. */
	if (!msg || len < sizeof(struct lego_st_req))
		return -EINVAL;
	memcpy(&m->h, b, sizeof(m->h));
	size_t rest = len - sizeof(struct lego_st_req);
	size_t plen = m->h.path_len, p2len = m->h.path2_len;
	if (plen > rest || p2len > rest - plen)
		return -EINVAL;
	const char *path = (const char *)b + sizeof(struct lego_st_req);
	const char *path2 = path + plen;
	size_t dlen = rest - plen - p2len;

	if (m->h.flags & ~ru->flags)
		return -EINVAL;
	if (ru->vnode && m->h.vnode == 0xffffffffu)
		return -EINVAL;

	switch (ru->data) {
	case D_NONE:
		if (dlen)
			return -EINVAL;
		break;
	case D_BYTES:
		if (dlen > LEGO_ST_IO_MAX || m->h.len != dlen)
			return -EINVAL;
		m->data = path2 + p2len;	/* never NULL, even when empty */
		m->data_len = (u32)dlen;
		break;
	case D_ATTR:
		if (dlen != sizeof(struct lego_st_attr) || m->h.len != dlen)
			return -EINVAL;
		memcpy(&m->attr, path2 + p2len, sizeof(m->attr));
		if (m->attr.mask & ~(u32)(LEGO_ST_ATTR_MODE | LEGO_ST_ATTR_UID | LEGO_ST_ATTR_GID |
					  LEGO_ST_ATTR_MTIME))
			return -EINVAL;
		m->attr.mode &= LFS_S_PERM;
		break;
	}

	/* Opcode limits on the numbers. */
	switch (opcode) {
	case LEGO_OP_ST_READ:
		if (m->h.len > LEGO_ST_IO_MAX)
			return -EINVAL;
		break;
	case LEGO_OP_ST_READDIR:
		if (m->h.len == 0 || m->h.len > LEGO_ST_READDIR_MAX)
			return -EINVAL;
		break;
	case LEGO_OP_ST_CREATE:
	case LEGO_OP_ST_MKDIR:
		m->mode = m->h.mode & LFS_S_PERM;
		break;
	}

	/* Paths last: a malformed message is -EINVAL even if its path would
	 * also be too long. */
	r = take_arg(ru->path, path, plen, m->path);
	if (r)
		return r;
	r = take_arg(ru->path2, path2, p2len, m->path2);
	if (r)
		return r;
	m->has_path = plen != 0;
	return 0;
}

int st_wire_errno(int err)
{
	if (err >= 0)
		return err;
	switch (-err) {
	case EINVAL:
	case ENAMETOOLONG:
	case ESTALE:
	case ENOENT:
	case EEXIST:
	case ENOTDIR:
	case EISDIR:
	case ENOTEMPTY:
	case EBUSY:
	case EFBIG:
	case ENOSPC:
	case EROFS:
	case EIO:
	case ENOMEM:
		return err;
	default:
		return -EIO;
	}
}

void st_stat_encode(const struct lfs_stat *in, struct lego_st_stat *out)
{
	memset(out, 0, sizeof(*out));
	out->ino = in->ino;
	out->mode = in->mode;
	out->nlink = in->nlink;
	out->uid = in->uid;
	out->gid = in->gid;
	out->nchild = in->nchild;
	out->size = in->size;
	out->blocks = in->blocks;
	out->mtime_ns = in->mtime;
}

static u16 dirent_name_len(const struct lfs_dirent *e)
{
	size_t n = 0;
	while (n < LFS_NAME_MAX && e->name[n])
		n++;
	return (u16)n;
}

size_t st_readdir_size(const struct lfs_dirent *e, u32 n)
{
	size_t size = sizeof(struct lego_st_readdir_reply);
	for (u32 i = 0; i < n; i++)
		size += LEGO_ST_DIRENT_SIZE(dirent_name_len(&e[i]));
	return size;
}

size_t st_readdir_encode(const struct lfs_dirent *e, u32 n, u64 next_cookie, void *buf,
			 size_t cap)
{
	u8 *out = buf;
	size_t need = st_readdir_size(e, n);

	if (cap < need)
		return 0;
	struct lego_st_readdir_reply h = { .count = n, .reserved = 0, .next_cookie = next_cookie };
	memcpy(out, &h, sizeof(h));
	size_t at = sizeof(h);
	for (u32 i = 0; i < n; i++) {
		u16 nl = dirent_name_len(&e[i]);
		struct lego_st_dirent d = {
			.cookie = e[i].cookie, .ino = e[i].ino, .type = e[i].type,
			.reserved = 0, .name_len = nl,
		};
		u32 sz = LEGO_ST_DIRENT_SIZE(nl);
		memcpy(out + at, &d, sizeof(d));
		memcpy(out + at + sizeof(d), e[i].name, nl);
		memset(out + at + sizeof(d) + nl, 0, sz - sizeof(d) - nl);
		at += sz;
	}
	return at;
}

void st_statfs_encode(struct lego_st_statfs *out, u32 state, const struct lfs_statfs *st,
		      const u8 *uuid, const char *label, const char *msg)
{
	memset(out, 0, sizeof(*out));
	out->state = state;
	if (st) {
		out->block_size = (u32)st->block_size;
		out->total_bytes = st->total_bytes;
		out->free_bytes = st->free_bytes;
		out->total_inodes = st->total_inodes;
		out->free_inodes = st->free_inodes;
		out->max_vnodes = st->max_vnodes;
		out->nvnodes = st->nvnodes;
		out->commits = st->commits;
	}
	if (uuid)
		memcpy(out->uuid, uuid, sizeof(out->uuid));
	if (label) {
		/* Keep a NUL: the wire says NUL padded, the superblock field
		 * may use all 32 bytes. */
		size_t i;
		for (i = 0; i < sizeof(out->label) - 1 && label[i]; i++)
			out->label[i] = label[i];
	}
	if (msg) {
		size_t i;
		for (i = 0; i < sizeof(out->message) - 1 && msg[i]; i++)
			out->message[i] = msg[i];
	}
}
