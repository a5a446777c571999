/* The storage monitor's RPC service (paper §4.5): one handler for every
 * opcode of include/uapi/lego/storage.h. A request is decoded and
 * validated first (st_proto.c, pure logic), then served by one LegoFS call
 * under the store's mutex (store.c), and the result is mapped to the wire.
 *
 * Requests are stateless, so a handler needs nothing but its message.
 * Reply buffers (and the dirent array of READDIR) are allocated before
 * the mutex is taken, so the lock is held only for the LegoFS work; READ
 * data goes from the disk straight into the reply buffer (see store.c on
 * why no bounce buffer is needed). */
#include <lego/rpc.h>
#include <lego/mm.h>
#include <lego/errno.h>
#include <lego/string.h>
#include <lego/printk.h>
#include <lego/st_proto.h>
#include "storage.h"

#define VNODE_LIST_REPLY (sizeof(struct lego_st_vnode_list) + LEGO_ST_VNODE_LIST_MAX * sizeof(u32))

/* Per-request resources, set aside before the mutex is taken; owned by
 * the RPC worker serving the request (no lock). */
struct st_call {
	struct rpc_req *r;
	struct st_msg *m;
	struct lfs_dirent *ents;	/* READDIR */
};

/* Allocate what serving needs; 0 or -ENOMEM. */
static int prepare(struct st_call *c)
{
	struct rpc_req *r = c->r;
	struct st_msg *m = c->m;

	switch (m->opcode) {
	case LEGO_OP_ST_STAT:
		return rpc_reply_alloc(r, sizeof(struct lego_st_stat)) ? 0 : -ENOMEM;
	case LEGO_OP_ST_READ:
		/* The reply shrinks to what was read. */
		return rpc_reply_alloc(r, (u32)m->h.len) ? 0 : -ENOMEM;
	case LEGO_OP_ST_WRITE:
	case LEGO_OP_ST_APPEND:
		return rpc_reply_alloc(r, sizeof(struct lego_st_count)) ? 0 : -ENOMEM;
	case LEGO_OP_ST_READLINK:
		/* Room for the NUL lfs_readlink adds; not sent. */
		return rpc_reply_alloc(r, LFS_PATH_MAX) ? 0 : -ENOMEM;
	case LEGO_OP_ST_READDIR:
		/* Room for len entries of the longest name; shrunk after. */
		c->ents = kmalloc(m->h.len * sizeof(*c->ents));
		if (!c->ents)
			return -ENOMEM;
		return rpc_reply_alloc(r, (u32)(sizeof(struct lego_st_readdir_reply) +
						m->h.len * LEGO_ST_DIRENT_SIZE(LFS_NAME_MAX)))
			       ? 0 : -ENOMEM;
	case LEGO_OP_ST_VNODE_LIST:
		return rpc_reply_alloc(r, VNODE_LIST_REPLY) ? 0 : -ENOMEM;
	default:
		return 0;
	}
}

/* Commit after a change that must be durable before the reply. */
static int commit(struct lfs_fs *fs, int r)
{
	if (r < 0)
		return r;
	int s = lfs_sync(fs);
	if (s)
		return s;
	store_committed();
	return r;
}

/* Serve a decoded request; the mutex is held and fs is mounted. Returns
 * the LegoFS result (>= 0 success); sets the reply's length on success. */
static s64 serve(struct lfs_fs *fs, struct st_call *c)
{
	struct rpc_req *r = c->r;
	struct st_msg *m = c->m;
	u32 v = m->h.vnode;
	s64 n;
	int e;

	switch (m->opcode) {
	case LEGO_OP_ST_STAT: {
		struct lfs_stat s;
		e = lfs_stat(fs, v, m->path, &s);
		if (!e)
			st_stat_encode(&s, r->reply);
		return e;
	}
	case LEGO_OP_ST_CREATE:
		return lfs_create(fs, v, m->path, m->mode,
				  (m->h.flags & LEGO_ST_O_EXCL ? LFS_O_EXCL : 0) |
				  (m->h.flags & LEGO_ST_O_TRUNC ? LFS_O_TRUNC : 0));
	case LEGO_OP_ST_READ:
		n = lfs_read(fs, v, m->path, m->h.off, r->reply, m->h.len);
		if (n >= 0)
			r->reply_len = (u32)n;
		return n;
	case LEGO_OP_ST_WRITE:
		n = lfs_write(fs, v, m->path, m->h.off, m->data, m->data_len);
		if (n >= 0)
			((struct lego_st_count *)r->reply)->value = (u64)n;
		return n;
	case LEGO_OP_ST_TRUNCATE:
		return lfs_truncate(fs, v, m->path, m->h.off);
	case LEGO_OP_ST_UNLINK:
		return lfs_unlink(fs, v, m->path);
	case LEGO_OP_ST_MKDIR:
		return lfs_mkdir(fs, v, m->path, m->mode);
	case LEGO_OP_ST_RMDIR:
		return lfs_rmdir(fs, v, m->path);
	case LEGO_OP_ST_RENAME:
		return lfs_rename(fs, v, m->path, m->path2);
	case LEGO_OP_ST_READDIR: {
		u64 next = 0;
		e = lfs_readdir(fs, v, m->path, m->h.off, c->ents, (u32)m->h.len, &next);
		if (e < 0)
			return e;
		size_t size = st_readdir_encode(c->ents, (u32)e, next, r->reply, r->reply_len);
		if (!size)
			return -EIO;	/* cannot happen: names are at most LFS_NAME_MAX */
		r->reply_len = (u32)size;
		return 0;
	}
	case LEGO_OP_ST_SYMLINK:
		return lfs_symlink(fs, v, m->path2, m->path);
	case LEGO_OP_ST_READLINK:
		n = lfs_readlink(fs, v, m->path, r->reply, LFS_PATH_MAX);
		if (n >= LFS_PATH_MAX)
			return -EIO;	/* LegoFS never stores such a target */
		if (n >= 0)
			r->reply_len = (u32)n;
		return n;
	case LEGO_OP_ST_FSYNC:
		e = lfs_fsync(fs, v, m->has_path ? m->path : NULL);
		if (!e)
			store_committed();
		return e;
	case LEGO_OP_ST_APPEND: {
		u64 off = 0;
		e = lfs_append(fs, v, m->path, m->data, m->data_len,
			       m->h.flags & LEGO_ST_APPEND_CREATE ? LFS_APPEND_CREATE : 0, &off);
		if (!e)
			((struct lego_st_count *)r->reply)->value = off;
		return e;
	}
	case LEGO_OP_ST_SETATTR: {
		struct lfs_attr a = {
			.mask = (m->attr.mask & LEGO_ST_ATTR_MODE ? LFS_ATTR_MODE : 0) |
				(m->attr.mask & LEGO_ST_ATTR_UID ? LFS_ATTR_UID : 0) |
				(m->attr.mask & LEGO_ST_ATTR_GID ? LFS_ATTR_GID : 0) |
				(m->attr.mask & LEGO_ST_ATTR_MTIME ? LFS_ATTR_MTIME : 0),
			.mode = m->attr.mode, .uid = m->attr.uid, .gid = m->attr.gid,
			.mtime = m->attr.mtime_ns,
		};
		return lfs_setattr(fs, v, m->path, &a);
	}
	/* A vNode's namespace appears or disappears at GPM's request; make
	 * that durable before answering, so that GPM's record and the disk
	 * never disagree after a crash of this node. */
	case LEGO_OP_ST_VNODE_CREATE:
		return commit(fs, lfs_vnode_create(fs, v));
	case LEGO_OP_ST_VNODE_REMOVE:
		return commit(fs, lfs_vnode_remove(fs, v));
	case LEGO_OP_ST_VNODE_LIST: {
		struct lego_st_vnode_list *l = r->reply;
		e = lfs_vnode_list(fs, l->ids, LEGO_ST_VNODE_LIST_MAX);
		if (e < 0)
			return e;
		l->count = MIN((u32)e, LEGO_ST_VNODE_LIST_MAX);
		l->total = (u32)e;
		r->reply_len = (u32)(sizeof(*l) + l->count * sizeof(u32));
		return 0;
	}
	default:
		return -ENOSYS;
	}
}

static int op_storage(struct rpc_req *r)
{
	struct st_call c = { .r = r };
	int ret;

	c.m = kmalloc(sizeof(*c.m));
	if (!c.m)
		return -ENOMEM;
	ret = st_decode(r->opcode, r->data, r->len, c.m);
	if (ret)
		goto out;
	if (r->opcode == LEGO_OP_ST_STATFS) {
		/* Answers whatever the state of the store. */
		struct lego_st_statfs *s = rpc_reply_alloc(r, sizeof(*s));
		if (!s)
			ret = -ENOMEM;
		else
			store_statfs(s);
		goto out;
	}
	ret = prepare(&c);
	if (ret)
		goto out;
	struct lfs_fs *fs = store_begin();
	s64 n = fs ? serve(fs, &c) : -EIO;
	store_end(fs && st_opcode_mutates(r->opcode));
	ret = n < 0 ? st_wire_errno((int)n) : 0;
out:
	if (ret < 0)
		r->reply_len = 0;	/* an error carries no reply */
	kfree(c.ents);
	kfree(c.m);
	return ret;
}

void service_init(void)
{
	static const u16 ops[] = {
		LEGO_OP_ST_STAT, LEGO_OP_ST_CREATE, LEGO_OP_ST_READ, LEGO_OP_ST_WRITE,
		LEGO_OP_ST_TRUNCATE, LEGO_OP_ST_UNLINK, LEGO_OP_ST_MKDIR, LEGO_OP_ST_RMDIR,
		LEGO_OP_ST_RENAME, LEGO_OP_ST_READDIR, LEGO_OP_ST_SYMLINK, LEGO_OP_ST_READLINK,
		LEGO_OP_ST_FSYNC, LEGO_OP_ST_APPEND, LEGO_OP_ST_SETATTR, LEGO_OP_ST_STATFS,
		LEGO_OP_ST_VNODE_CREATE, LEGO_OP_ST_VNODE_REMOVE, LEGO_OP_ST_VNODE_LIST,
	};
	for (unsigned i = 0; i < ARRAY_SIZE(ops); i++) {
		int r = rpc_register(ops[i], op_storage, "storage");
		if (r)
			pr_err("storage: cannot register opcode %#x (%d)\n", ops[i], r);
	}
}
