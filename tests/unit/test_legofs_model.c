/* Model-based tests of LegoFS (managers/storage/legofs*.c):
 *  - churn: creates, writes, truncations and deletions against an
 *    in-memory model, with remounts, fixed seed;
 *  - random: random request sequences over several vNodes, every return
 *    code and the whole state compared with the model, tiny cache;
 *  - crash: a scripted plus random sequence with fsyncs on a device that
 *    records every write and flush. For every prefix of the write stream,
 *    and for random subsets (with torn blocks) of the writes between two
 *    flushes, the image is mounted (journal recovery), fully checked, and
 *    must equal the model at some commit no older than the last
 *    acknowledged fsync/sync: every fsync'd file intact, nothing else
 *    damaged. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lego/legofs.h>
#include <lego/errno.h>

/* ---------------------------------------------------------------------- */
/* Environment and a recording memory device                               */

static void *t_alloc(void *ctx, size_t n)
{
	return malloc(n);
}

static void t_free(void *ctx, void *p)
{
	free(p);
}

static const struct lfs_env env = { .alloc = t_alloc, .free = t_free };

struct wr {
	u64 blk;
	u8 *data;
};

struct rdev {
	u8 *img;
	u64 nblocks;
	bool rec;
	struct wr *log;
	size_t n, cap;
	size_t *flush;			/* log length at each flush */
	size_t nflush, fcap;
};

static int rd_read(void *ctx, u64 blk, void *buf)
{
	struct rdev *d = ctx;

	if (blk >= d->nblocks)
		return -EIO;
	memcpy(buf, d->img + blk * LFS_BLOCK_SIZE, LFS_BLOCK_SIZE);
	return 0;
}

static int rd_write(void *ctx, u64 blk, const void *buf)
{
	struct rdev *d = ctx;

	if (blk >= d->nblocks)
		return -EIO;
	memcpy(d->img + blk * LFS_BLOCK_SIZE, buf, LFS_BLOCK_SIZE);
	if (d->rec) {
		if (d->n == d->cap) {
			d->cap = d->cap ? d->cap * 2 : 1024;
			d->log = realloc(d->log, d->cap * sizeof(*d->log));
		}
		d->log[d->n].blk = blk;
		d->log[d->n].data = malloc(LFS_BLOCK_SIZE);
		memcpy(d->log[d->n].data, buf, LFS_BLOCK_SIZE);
		d->n++;
	}
	return 0;
}

static int rd_flush(void *ctx)
{
	struct rdev *d = ctx;

	if (d->rec) {
		if (d->nflush == d->fcap) {
			d->fcap = d->fcap ? d->fcap * 2 : 256;
			d->flush = realloc(d->flush, d->fcap * sizeof(*d->flush));
		}
		d->flush[d->nflush++] = d->n;
	}
	return 0;
}

static struct lfs_io rd_io(struct rdev *d)
{
	return (struct lfs_io){ .read = rd_read, .write = rd_write, .flush = rd_flush, .ctx = d,
				.nblocks = d->nblocks };
}

static struct rdev *rd_new(u64 nblocks)
{
	struct rdev *d = calloc(1, sizeof(*d));

	d->img = calloc(nblocks, LFS_BLOCK_SIZE);
	d->nblocks = nblocks;
	return d;
}

static void rd_del(struct rdev *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->log[i].data);
	free(d->log);
	free(d->flush);
	free(d->img);
	free(d);
}

static void rd_format(struct rdev *d, u32 ninodes, u32 journal)
{
	struct lfs_io io = rd_io(d);
	struct lfs_format_params p = { .ninodes = ninodes, .journal_blocks = journal,
				       .uuid = "model-test-uuid" };
	const char *msg;
	int r = lfs_format(&io, &env, &p, &msg);

	if (r)
		fail_msg("format: %d %s", r, msg);
}

static u32 mount_txn;	/* txn_blocks for rd_mount (0: default) */

static struct lfs_fs *rd_mount(struct rdev *d, u32 cache)
{
	struct lfs_io io = rd_io(d);
	struct lfs_mount_opts o = { .cache_blocks = cache, .txn_blocks = mount_txn };
	struct lfs_fs *fs;
	const char *msg;
	int r = lfs_mount(&fs, &io, &env, &o, &msg);

	if (r)
		fail_msg("mount: %d %s", r, msg);
	return fs;
}

/* ---------------------------------------------------------------------- */
/* The model                                                               */

struct mnode {
	char *path;
	u8 type;
	u32 mode;			/* permission bits */
	u8 *data;			/* file content, symlink target */
	u64 size;
};

struct mvn {
	u32 id;
	struct mnode *n;
	int cnt, cap;
};

#define MAXV 8
struct model {
	struct mvn v[MAXV];
	int nv;
	u32 max_vnodes;
};

static struct mvn *m_vn(struct model *m, u32 id)
{
	for (int i = 0; i < m->nv; i++)
		if (m->v[i].id == id)
			return &m->v[i];
	return NULL;
}

static struct mnode *m_find(struct mvn *v, const char *path, size_t len)
{
	for (int i = 0; i < v->cnt; i++)
		if (strlen(v->n[i].path) == len && !memcmp(v->n[i].path, path, len))
			return &v->n[i];
	return NULL;
}

static size_t m_parent_len(const char *p, size_t len)
{
	size_t i = len;

	while (i > 1 && p[i - 1] != '/')
		i--;
	return i > 1 ? i - 1 : 1;
}

static int m_missing(struct mvn *v, const char *p, size_t len)
{
	while (len > 1) {
		len = m_parent_len(p, len);
		struct mnode *n = m_find(v, p, len);
		if (n)
			return n->type == LFS_DT_DIR ? -ENOENT : -ENOTDIR;
	}
	return -ENOENT;
}

static int m_lookup(struct mvn *v, const char *p, struct mnode **out)
{
	*out = m_find(v, p, strlen(p));
	return *out ? 0 : m_missing(v, p, strlen(p));
}

static int m_parent_dir(struct mvn *v, const char *p)
{
	size_t pl = m_parent_len(p, strlen(p));
	struct mnode *n = m_find(v, p, pl);

	if (!n)
		return m_missing(v, p, pl);
	return n->type == LFS_DT_DIR ? 0 : -ENOTDIR;
}

static bool m_is_child(const char *dir, const char *p)
{
	size_t dl = strlen(dir) == 1 ? 0 : strlen(dir);
	size_t pl = strlen(p);

	if (pl <= dl + 1 || p[dl] != '/' || memcmp(p, dir, dl))
		return false;
	return !strchr(p + dl + 1, '/');
}

static int m_nchild(struct mvn *v, const char *dir)
{
	int n = 0;

	for (int i = 0; i < v->cnt; i++)
		if (m_is_child(dir, v->n[i].path))
			n++;
	return n;
}

static struct mnode *m_add(struct mvn *v, const char *path, u8 type, u32 mode)
{
	if (v->cnt == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 16;
		v->n = realloc(v->n, v->cap * sizeof(*v->n));
	}
	struct mnode *n = &v->n[v->cnt++];
	memset(n, 0, sizeof(*n));
	n->path = strdup(path);
	n->type = type;
	n->mode = mode & 07777;
	return n;
}

static void m_del(struct mvn *v, struct mnode *n)
{
	free(n->path);
	free(n->data);
	*n = v->n[--v->cnt];
}

static void m_resize(struct mnode *n, u64 size)
{
	n->data = realloc(n->data, size ? size : 1);
	if (size > n->size)
		memset(n->data + n->size, 0, size - n->size);
	n->size = size;
}

static void m_init(struct model *m)
{
	memset(m, 0, sizeof(*m));
	m->nv = 1;
	m->max_vnodes = 256;
	m_add(&m->v[0], "/", LFS_DT_DIR, 0755);
}

static void m_free_vn(struct mvn *v)
{
	for (int i = 0; i < v->cnt; i++) {
		free(v->n[i].path);
		free(v->n[i].data);
	}
	free(v->n);
	memset(v, 0, sizeof(*v));
}

static void m_free(struct model *m)
{
	for (int i = 0; i < m->nv; i++)
		m_free_vn(&m->v[i]);
	m->nv = 0;
}

static void m_copy_vn(struct mvn *dst, const struct mvn *src)
{
	dst->cnt = dst->cap = src->cnt;
	dst->n = calloc(src->cnt ? src->cnt : 1, sizeof(*dst->n));
	for (int i = 0; i < src->cnt; i++) {
		dst->n[i] = src->n[i];
		dst->n[i].path = strdup(src->n[i].path);
		dst->n[i].data = NULL;
		if (src->n[i].size) {
			dst->n[i].data = malloc(src->n[i].size);
			memcpy(dst->n[i].data, src->n[i].data, src->n[i].size);
		}
	}
}

static struct model *m_clone(const struct model *m)
{
	struct model *c = calloc(1, sizeof(*c));

	c->nv = m->nv;
	c->max_vnodes = m->max_vnodes;
	for (int i = 0; i < m->nv; i++) {
		c->v[i].id = m->v[i].id;
		m_copy_vn(&c->v[i], &m->v[i]);
	}
	return c;
}

#define VALID(p) do { int _r = lfs_path_check((p), strlen(p)); if (_r) return _r; } while (0)
#define VNODE(m, id, v) struct mvn *v = m_vn(m, id); if (!v) return -ESTALE

static int m_create(struct model *m, u32 id, const char *p, u32 mode, u32 flags)
{
	struct mnode *n;

	VALID(p);
	VNODE(m, id, v);
	n = m_find(v, p, strlen(p));
	if (n) {
		if (flags & LFS_O_EXCL)
			return -EEXIST;
		if (n->type == LFS_DT_DIR)
			return -EISDIR;
		if (n->type == LFS_DT_LNK)
			return -EEXIST;
		if (flags & LFS_O_TRUNC)
			m_resize(n, 0);
		return 0;
	}
	int r = m_parent_dir(v, p);
	if (r)
		return r;
	m_add(v, p, LFS_DT_REG, mode);
	return 0;
}

static int m_mkdir(struct model *m, u32 id, const char *p, u32 mode)
{
	VALID(p);
	VNODE(m, id, v);
	if (m_find(v, p, strlen(p)))
		return -EEXIST;
	int r = m_parent_dir(v, p);
	if (r)
		return r;
	m_add(v, p, LFS_DT_DIR, mode);
	return 0;
}

static int m_symlink(struct model *m, u32 id, const char *t, const char *p)
{
	VALID(p);
	if (!strlen(t))
		return -ENOENT;
	VNODE(m, id, v);
	if (m_find(v, p, strlen(p)))
		return -EEXIST;
	int r = m_parent_dir(v, p);
	if (r)
		return r;
	struct mnode *n = m_add(v, p, LFS_DT_LNK, 0777);
	m_resize(n, strlen(t));
	memcpy(n->data, t, strlen(t));
	return 0;
}

static int m_unlink(struct model *m, u32 id, const char *p)
{
	struct mnode *n;

	VALID(p);
	if (!strcmp(p, "/"))
		return -EISDIR;
	VNODE(m, id, v);
	int r = m_lookup(v, p, &n);
	if (r)
		return r;
	if (n->type == LFS_DT_DIR)
		return -EISDIR;
	m_del(v, n);
	return 0;
}

static int m_rmdir(struct model *m, u32 id, const char *p)
{
	struct mnode *n;

	VALID(p);
	if (!strcmp(p, "/"))
		return -EBUSY;
	VNODE(m, id, v);
	int r = m_lookup(v, p, &n);
	if (r)
		return r;
	if (n->type != LFS_DT_DIR)
		return -ENOTDIR;
	if (m_nchild(v, p))
		return -ENOTEMPTY;
	m_del(v, n);
	return 0;
}

static int m_file(struct mvn *v, const char *p, struct mnode **n)
{
	int r = m_lookup(v, p, n);

	if (r)
		return r;
	if ((*n)->type == LFS_DT_DIR)
		return -EISDIR;
	return (*n)->type == LFS_DT_REG ? 0 : -EINVAL;
}

static int m_truncate(struct model *m, u32 id, const char *p, u64 size)
{
	struct mnode *n;

	VALID(p);
	if (size > LFS_MAX_FILE_SIZE)
		return -EFBIG;
	VNODE(m, id, v);
	int r = m_file(v, p, &n);
	if (r)
		return r;
	m_resize(n, size);
	return 0;
}

static s64 m_write(struct model *m, u32 id, const char *p, u64 off, const u8 *buf, u64 len)
{
	struct mnode *n;

	VALID(p);
	if (off >= LFS_MAX_FILE_SIZE)
		return -EFBIG;
	VNODE(m, id, v);
	int r = m_file(v, p, &n);
	if (r)
		return r;
	if (!len)
		return 0;
	if (off + len > n->size)
		m_resize(n, off + len);
	memcpy(n->data + off, buf, len);
	return (s64)len;
}

static int m_append(struct model *m, u32 id, const char *p, const u8 *buf, u64 len, u32 flags,
		    u64 *off)
{
	struct mnode *n;

	VALID(p);
	if (len > LFS_APPEND_MAX)
		return -EINVAL;
	VNODE(m, id, v);
	n = m_find(v, p, strlen(p));
	if (!n && (flags & LFS_APPEND_CREATE)) {
		int r = m_parent_dir(v, p);
		if (r)
			return r;
		m_add(v, p, LFS_DT_REG, 0600);
	}
	int r = m_file(v, p, &n);
	if (r)
		return r;
	*off = n->size;
	m_resize(n, n->size + len);
	if (len)
		memcpy(n->data + *off, buf, len);
	return 0;
}

static int m_rename(struct model *m, u32 id, const char *from, const char *to)
{
	struct mnode *f, *t;
	size_t fl = strlen(from), tl = strlen(to);

	VALID(from);
	VALID(to);
	if (fl == 1 || tl == 1)
		return -EBUSY;
	VNODE(m, id, v);
	int r = m_lookup(v, from, &f);
	if (r)
		return r;
	if (!strcmp(from, to))
		return 0;
	r = m_parent_dir(v, to);
	if (r)
		return r;
	bool isdir = f->type == LFS_DT_DIR;
	if (isdir && tl > fl && to[fl] == '/' && !memcmp(to, from, fl))
		return -EINVAL;
	t = m_find(v, to, tl);
	if (t) {
		if (isdir && t->type != LFS_DT_DIR)
			return -ENOTDIR;
		if (!isdir && t->type == LFS_DT_DIR)
			return -EISDIR;
		if (isdir && m_nchild(v, to))
			return -ENOTEMPTY;
	}
	if (isdir) {
		for (int i = 0; i < v->cnt; i++) {
			const char *q = v->n[i].path;
			if (strlen(q) > fl && q[fl] == '/' && !memcmp(q, from, fl) &&
			    strlen(q) - fl + tl >= LFS_PATH_MAX)
				return -ENAMETOOLONG;
		}
	}
	if (t)
		m_del(v, t);
	f = m_find(v, from, fl);
	for (int i = 0; i < v->cnt; i++) {
		char *q = v->n[i].path;
		bool self = &v->n[i] == f;
		if (!self && !(isdir && strlen(q) > fl && q[fl] == '/' && !memcmp(q, from, fl)))
			continue;
		char *np = malloc(strlen(q) - fl + tl + 1);
		memcpy(np, to, tl);
		strcpy(np + tl, q + fl);
		free(q);
		v->n[i].path = np;
	}
	return 0;
}

static int m_setmode(struct model *m, u32 id, const char *p, u32 mode)
{
	struct mnode *n;

	VALID(p);
	VNODE(m, id, v);
	int r = m_lookup(v, p, &n);
	if (r)
		return r;
	n->mode = mode & 07777;
	return 0;
}

static int m_vnode_create(struct model *m, u32 id)
{
	if (id == 0 || m_vn(m, id))
		return -EEXIST;
	if (m->nv == MAXV)
		fail_msg("model vnode table full");
	struct mvn *v = &m->v[m->nv++];
	v->id = id;
	m_copy_vn(v, &m->v[0]);
	return 0;
}

static int m_vnode_remove(struct model *m, u32 id)
{
	if (id == 0)
		return -EBUSY;
	struct mvn *v = m_vn(m, id);
	if (!v)
		return -ESTALE;
	m_free_vn(v);
	*v = m->v[--m->nv];
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Comparing the store with the model                                      */

static char why[512];

static bool mismatch(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return false;
}

static bool same_vnode(struct lfs_fs *fs, struct mvn *v)
{
	static u8 buf[1 << 20];
	struct lfs_dirent de[16];

	for (int i = 0; i < v->cnt; i++) {
		struct mnode *n = &v->n[i];
		struct lfs_stat st;
		int r = lfs_stat(fs, v->id, n->path, &st);
		if (r)
			return mismatch("vnode %u %s: stat %d", v->id, n->path, r);
		u8 t = LFS_S_ISDIR(st.mode) ? LFS_DT_DIR : LFS_S_ISLNK(st.mode) ? LFS_DT_LNK : LFS_DT_REG;
		if (t != n->type || (st.mode & 07777) != n->mode)
			return mismatch("vnode %u %s: type/mode %o", v->id, n->path, st.mode);
		if (n->type == LFS_DT_REG) {
			if (st.size != n->size)
				return mismatch("vnode %u %s: size %llu, model %llu", v->id, n->path,
						(unsigned long long)st.size, (unsigned long long)n->size);
			if (n->size > sizeof(buf))
				fail_msg("model file too big");
			s64 got = lfs_read(fs, v->id, n->path, 0, buf, sizeof(buf));
			if (got != (s64)n->size || (n->size && memcmp(buf, n->data, n->size)))
				return mismatch("vnode %u %s: content differs", v->id, n->path);
		} else if (n->type == LFS_DT_LNK) {
			s64 got = lfs_readlink(fs, v->id, n->path, (char *)buf, sizeof(buf));
			if (got != (s64)n->size || (n->size && memcmp(buf, n->data, n->size)))
				return mismatch("vnode %u %s: link target differs", v->id, n->path);
		} else {
			int want = m_nchild(v, n->path), seen = 0, k;
			u64 cookie = 0;
			if (st.nchild != (u32)want)
				return mismatch("vnode %u %s: nchild %u, model %d", v->id, n->path,
						st.nchild, want);
			while ((k = lfs_readdir(fs, v->id, n->path, cookie, de, 16, &cookie)) > 0) {
				for (int j = 0; j < k; j++) {
					char cp[LFS_PATH_MAX + 300];
					snprintf(cp, sizeof(cp), "%s/%s", strcmp(n->path, "/") ? n->path : "",
						 de[j].name);
					struct mnode *c = m_find(v, cp, strlen(cp));
					if (!c || c->type != de[j].type)
						return mismatch("vnode %u: readdir shows %s", v->id, cp);
				}
				seen += k;
			}
			if (k < 0 || seen != want)
				return mismatch("vnode %u %s: readdir %d entries (%d), model %d", v->id,
						n->path, seen, k, want);
		}
	}
	return true;
}

static bool same_state(struct lfs_fs *fs, struct model *m)
{
	u32 ids[MAXV + 4];
	int n = lfs_vnode_list(fs, ids, MAXV + 4);

	if (n != m->nv)
		return mismatch("%d vnodes, model %d", n, m->nv);
	for (int i = 0; i < n; i++)
		if (!m_vn(m, ids[i]))
			return mismatch("vnode %u not in the model", ids[i]);
	for (int i = 0; i < m->nv; i++)
		if (!same_vnode(fs, &m->v[i]))
			return false;
	return true;
}

static void assert_same(struct lfs_fs *fs, struct model *m)
{
	if (!same_state(fs, m))
		fail_msg("state differs: %s", why);
	int r = lfs_check(fs, NULL);
	if (r)
		fail_msg("check: %d %s", r, lfs_errmsg(fs));
}

/* ---------------------------------------------------------------------- */
/* Random requests, applied to both                                        */

static u64 rng_state;

static u32 rnd(u32 n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return n ? (u32)(rng_state % n) : 0;
}

static const char *const comps[] = { "a", "b", "cc", "d", "e" };

static void rnd_path(char *p, int maxdepth)
{
	int depth = 1 + (int)rnd((u32)maxdepth);

	p[0] = 0;
	if (rnd(40) == 0) {
		strcpy(p, rnd(2) ? "/" : "/a//b");
		return;
	}
	for (int i = 0; i < depth; i++) {
		strcat(p, "/");
		strcat(p, comps[rnd(5)]);
	}
}

static u8 wbuf[200000];

struct rstats {
	int ops, errors;
};

/* One random request; returns whether it changed (or may have changed)
 * anything. */
static void one_op(struct lfs_fs *fs, struct model *m, struct rstats *rs, u32 maxfile,
		   bool allow_vnodes)
{
	char p[64], q[64];
	u32 vid = m->v[rnd((u32)m->nv)].id;
	s64 a = 0, b = 0;
	int kind = (int)rnd(allow_vnodes ? 17 : 15);

	if (rnd(50) == 0)
		vid = 77;	/* no such vNode */
	rnd_path(p, 3);
	switch (kind) {
	case 0:
	case 1: {
		u32 fl = rnd(4) == 0 ? LFS_O_EXCL : rnd(4) == 0 ? LFS_O_TRUNC : 0;
		u32 mode = 0600 + rnd(0100);
		a = lfs_create(fs, vid, p, mode, fl);
		b = m_create(m, vid, p, mode, fl);
		break;
	}
	case 2:
		a = lfs_mkdir(fs, vid, p, 0755);
		b = m_mkdir(m, vid, p, 0755);
		break;
	case 3:
	case 4:
	case 5: {
		u64 off = rnd(3) == 0 ? rnd(maxfile) : rnd(5000);
		u32 len = rnd(4) == 0 ? rnd(maxfile / 2) : rnd(9000);
		if (off + len > maxfile)
			len = off < maxfile ? (u32)(maxfile - off) : 0;
		for (u32 i = 0; i < len; i++)
			wbuf[i] = (u8)rnd(256);
		a = lfs_write(fs, vid, p, off, wbuf, len);
		b = m_write(m, vid, p, off, wbuf, len);
		break;
	}
	case 6: {
		u64 size = rnd(maxfile);
		a = lfs_truncate(fs, vid, p, size);
		b = m_truncate(m, vid, p, size);
		break;
	}
	case 7:
		a = lfs_unlink(fs, vid, p);
		b = m_unlink(m, vid, p);
		break;
	case 8:
		a = lfs_rmdir(fs, vid, p);
		b = m_rmdir(m, vid, p);
		break;
	case 9:
	case 10:
		rnd_path(q, 3);
		a = lfs_rename(fs, vid, p, q);
		b = m_rename(m, vid, p, q);
		break;
	case 11:
		rnd_path(q, 2);
		a = lfs_symlink(fs, vid, q, p);
		b = m_symlink(m, vid, q, p);
		break;
	case 12: {
		u32 len = rnd(3000);
		u64 o1 = 0, o2 = 0;
		struct mnode *n;
		struct mvn *v = m_vn(m, vid);
		if (v && !m_lookup(v, p, &n) && n->type == LFS_DT_REG && n->size + len > maxfile)
			len = 0;
		for (u32 i = 0; i < len; i++)
			wbuf[i] = (u8)rnd(256);
		u32 fl = rnd(2) ? LFS_APPEND_CREATE : 0;
		a = lfs_append(fs, vid, p, wbuf, len, fl, &o1);
		b = m_append(m, vid, p, wbuf, len, fl, &o2);
		if (!a && !b && o1 != o2)
			fail_msg("append offset %llu, model %llu", (unsigned long long)o1,
				 (unsigned long long)o2);
		break;
	}
	case 13: {
		struct lfs_attr at = { .mask = LFS_ATTR_MODE, .mode = 0400 + rnd(0400) };
		a = lfs_setattr(fs, vid, p, &at);
		b = m_setmode(m, vid, p, at.mode);
		break;
	}
	case 14:
		if (rnd(3) == 0) {
			a = lfs_fsync(fs, vid, rnd(2) ? NULL : "/");
			b = m_vn(m, vid) ? 0 : -ESTALE;
		} else {
			/* a read at a random place */
			static u8 rb[20000];
			struct mvn *v = m_vn(m, vid);
			struct mnode *n = NULL;
			u64 off = rnd(maxfile);
			a = lfs_read(fs, vid, p, off, rb, sizeof(rb));
			if (lfs_path_check(p, strlen(p)))
				b = lfs_path_check(p, strlen(p));
			else if (!v)
				b = -ESTALE;
			else if (!(b = m_file(v, p, &n)))
				b = off >= n->size ? 0 : (s64)MIN(n->size - off, sizeof(rb));
			if (a == b && a > 0 && memcmp(rb, n->data + off, (size_t)a))
				fail_msg("read content differs");
		}
		break;
	case 15:
		vid = 1 + rnd(5);
		a = lfs_vnode_create(fs, vid);
		b = m_vnode_create(m, vid);
		break;
	case 16:
		vid = rnd(6);
		a = lfs_vnode_remove(fs, vid);
		b = m_vnode_remove(m, vid);
		break;
	}
	rs->ops++;
	if (b < 0)
		rs->errors++;
	if (a != b)
		fail_msg("op %d kind %d vnode %u %s -> %s: got %lld, model %lld (%s)", rs->ops, kind,
			 vid, p, q, (long long)a, (long long)b, lfs_errmsg(fs));
}

/* ---------------------------------------------------------------------- */

static void test_churn(void **state)
{
	struct rdev *d = rd_new(4096);
	struct model m;
	char p[64];
	static u8 buf[70000];

	rd_format(d, 0, 0);
	struct lfs_fs *fs = rd_mount(d, 64);
	m_init(&m);
	rng_state = 0x1234567;
	assert_int_equal(lfs_mkdir(fs, 0, "/d", 0755), 0);
	m_mkdir(&m, 0, "/d", 0755);
	for (int i = 0; i < 3000; i++) {
		snprintf(p, sizeof(p), "/d/file%u", rnd(150));
		u32 what = rnd(10);
		if (what < 5) {
			u32 len = rnd(60000), off = rnd(3) ? 0 : rnd(20000);
			for (u32 k = 0; k < len; k++)
				buf[k] = (u8)(i + k * 3);
			int r1 = lfs_create(fs, 0, p, 0644, 0), r2 = m_create(&m, 0, p, 0644, 0);
			assert_int_equal(r1, r2);
			assert_int_equal(lfs_write(fs, 0, p, off, buf, len), m_write(&m, 0, p, off, buf, len));
		} else if (what < 8) {
			assert_int_equal(lfs_unlink(fs, 0, p), m_unlink(&m, 0, p));
		} else {
			u64 sz = rnd(70000);
			assert_int_equal(lfs_truncate(fs, 0, p, sz), m_truncate(&m, 0, p, sz));
		}
		if (i % 500 == 499) {
			assert_same(fs, &m);
			assert_int_equal(lfs_unmount(fs), 0);
			fs = rd_mount(d, 64);
			assert_same(fs, &m);
		} else if (i % 97 == 0) {
			assert_int_equal(lfs_sync(fs), 0);
		}
	}
	/* delete everything: all space returns */
	struct lfs_statfs s0, s1;
	for (int i = 0; i < 150; i++) {
		snprintf(p, sizeof(p), "/d/file%u", i);
		assert_int_equal(lfs_unlink(fs, 0, p), m_unlink(&m, 0, p));
	}
	assert_int_equal(lfs_rmdir(fs, 0, "/d"), 0);
	assert_int_equal(lfs_sync(fs), 0);
	assert_int_equal(lfs_statfs(fs, &s1), 0);
	assert_int_equal(lfs_unmount(fs), 0);
	struct rdev *e = rd_new(4096);
	rd_format(e, 0, 0);
	fs = rd_mount(e, 64);
	assert_int_equal(lfs_statfs(fs, &s0), 0);
	assert_int_equal(lfs_unmount(fs), 0);
	/* the hash table does not shrink: one bucket directory and a few
	 * buckets stay */
	assert_true(s0.free_blocks - s1.free_blocks < 16);
	assert_int_equal(s0.free_inodes, s1.free_inodes);
	rd_del(e);
	m_free(&m);
	rd_del(d);
}

static void random_run(u64 seed, int nops, u32 cache, u32 txn)
{
	struct rdev *d = rd_new(8192);
	struct model m;
	struct rstats rs = { 0 };

	rd_format(d, 0, 0);
	mount_txn = txn;
	struct lfs_fs *fs = rd_mount(d, cache);
	m_init(&m);
	rng_state = seed;
	for (int i = 0; i < nops; i++) {
		one_op(fs, &m, &rs, 40000, true);
		if (i % 250 == 249)
			assert_same(fs, &m);
		if (i % 1000 == 999) {
			assert_int_equal(lfs_unmount(fs), 0);
			fs = rd_mount(d, cache);
		}
	}
	assert_same(fs, &m);
	assert_int_equal(lfs_unmount(fs), 0);
	fs = rd_mount(d, cache);
	assert_same(fs, &m);
	assert_int_equal(lfs_unmount(fs), 0);
	/* both outcomes exercised */
	assert_true(rs.errors > nops / 10 && rs.errors < nops * 9 / 10);
	mount_txn = 0;
	m_free(&m);
	rd_del(d);
}

static int soak(void);

static void test_random_small_cache(void **state)
{
	for (int i = 0; i < soak(); i++)
		random_run(0x2000 + (u64)i * 104729, 6000, 1 + (u32)i % 16, i % 2 ? 24 : 0);
	random_run(0x9e3779b97f4a7c15ULL, 6000, 4, 0);
}

static void test_random_big_cache(void **state)
{
	random_run(0xfeedfacecafe1ULL, 6000, 4096, 0);
	/* a tiny transaction: operations often overflow it, are rolled back,
	 * and run again after a commit */
	random_run(0x31415926ULL, 6000, 64, 24);
}

/* ---------------------------------------------------------------------- */
/* Crash simulation                                                        */

struct call {
	size_t start, end;		/* write log positions */
	u64 c0, c1;			/* commits before and after */
};

struct crash_run {
	struct rdev *d;
	struct lfs_fs *fs;
	struct model *m;
	u8 *base;			/* image when recording started */
	u64 commits0;
	struct call *calls;
	int ncalls, ccap;
	struct model **snap;		/* snap[c - commits0]: state of commit c */
	int nsnap, scap;
	int verified, remounts;
	struct rdev *scratch;		/* crash images are mounted here */
};

static u64 commits_of(struct lfs_fs *fs)
{
	struct lfs_statfs sf;

	assert_int_equal(lfs_statfs(fs, &sf), 0);
	return sf.commits;
}

static void cr_begin(struct crash_run *cr)
{
	if (cr->ncalls == cr->ccap) {
		cr->ccap = cr->ccap ? cr->ccap * 2 : 64;
		cr->calls = realloc(cr->calls, cr->ccap * sizeof(*cr->calls));
	}
	cr->calls[cr->ncalls].start = cr->d->n;
	cr->calls[cr->ncalls].c0 = commits_of(cr->fs);
}

/* After the call: commits made during it hold the model state before it
 * (commits only happen between operations, and a write piece never spans
 * them here), which is still cr->m since the model is updated after. */
static void cr_end(struct crash_run *cr)
{
	struct call *c = &cr->calls[cr->ncalls++];

	c->end = cr->d->n;
	c->c1 = commits_of(cr->fs);
	for (u64 k = c->c0; k < c->c1; k++) {
		if (cr->nsnap == cr->scap) {
			cr->scap = cr->scap ? cr->scap * 2 : 64;
			cr->snap = realloc(cr->snap, cr->scap * sizeof(*cr->snap));
		}
		cr->snap[cr->nsnap++] = m_clone(cr->m);
	}
}

static struct model *snap_of(struct crash_run *cr, u64 c)
{
	return c == cr->commits0 ? cr->snap[0] : cr->snap[c - cr->commits0];
}

static bool m_equal(struct model *a, struct model *b)
{
	if (a->nv != b->nv)
		return false;
	for (int i = 0; i < a->nv; i++) {
		struct mvn *va = &a->v[i], *vb = m_vn(b, va->id);
		if (!vb || vb->cnt != va->cnt)
			return false;
		for (int j = 0; j < va->cnt; j++) {
			struct mnode *x = &va->n[j];
			struct mnode *y = m_find(vb, x->path, strlen(x->path));
			if (!y || y->type != x->type || y->mode != x->mode || y->size != x->size ||
			    (x->size && memcmp(x->data, y->data, x->size)))
				return false;
		}
	}
	return true;
}

/* An acknowledged fsync/sync: the last commit must hold the current state
 * (together with the bounds below this makes it durable). */
static void cr_sync(struct crash_run *cr, int r)
{
	assert_int_equal(r, 0);
	u64 c = cr->calls[cr->ncalls - 1].c1;
	if (!m_equal(snap_of(cr, c), cr->m))
		fail_msg("sync returned but commit %llu does not hold the current state",
			 (unsigned long long)c);
}

#define CR_SYNC(cr, fscall)                                                         \
	do {                                                                        \
		cr_begin(cr);                                                       \
		int _a = (fscall);                                                  \
		cr_end(cr);                                                         \
		cr_sync(cr, _a);                                                    \
	} while (0)

/* Run a request on the store and the model; results must agree. */
#define CR(cr, fscall, mcall)                                                       \
	do {                                                                        \
		cr_begin(cr);                                                       \
		s64 _a = (fscall);                                                  \
		cr_end(cr);                                                         \
		s64 _b = (mcall);                                                   \
		if (_a != _b)                                                       \
			fail_msg("%s: %lld, model %lld (%s)", #fscall, (long long)_a, \
				 (long long)_b, lfs_errmsg((cr)->fs));              \
	} while (0)

static void cr_op(struct crash_run *cr, u32 maxfile)
{
	struct rstats rs = { 0 };

	cr_begin(cr);
	/* one_op updates the model itself, after the store: snapshot first */
	struct model *before = m_clone(cr->m);
	struct model *now = cr->m;
	one_op(cr->fs, cr->m, &rs, maxfile, true);
	cr->m = before;
	cr_end(cr);
	cr->m = now;
	m_free(before);
	free(before);
}

/* Lowest and highest commit a crash after `pos` writes may recover. */
static void bounds(struct crash_run *cr, size_t pos, u64 *lo, u64 *hi)
{
	*lo = *hi = cr->commits0;
	for (int i = 0; i < cr->ncalls; i++) {
		if (cr->calls[i].end <= pos)
			*lo = cr->calls[i].c1;
		if (cr->calls[i].start < pos)
			*hi = cr->calls[i].c1;
	}
}


static void verify_image(struct crash_run *cr, const u8 *img, u64 lo, u64 hi, const char *what,
			 size_t pos, bool exercise)
{
	struct rdev *s = cr->scratch;
	struct lfs_io io = rd_io(s);
	struct lfs_fs *fs;
	const char *msg;
	int r;

	memcpy(s->img, img, cr->d->nblocks * LFS_BLOCK_SIZE);
	r = lfs_mount(&fs, &io, &env, NULL, &msg);
	if (r)
		fail_msg("%s %zu: mount failed: %d %s", what, pos, r, msg);
	r = lfs_check(fs, NULL);
	if (r)
		fail_msg("%s %zu: check: %d %s", what, pos, r, lfs_errmsg(fs));
	bool ok = false;
	for (u64 c = hi + 1; c-- > lo && !ok;)
		ok = same_state(fs, snap_of(cr, c));
	if (!ok)
		fail_msg("%s %zu: state matches no commit in [%llu, %llu]: %s", what, pos,
			 (unsigned long long)lo, (unsigned long long)hi, why);
	if (exercise) {
		/* The recovered store keeps working. */
		assert_int_equal(lfs_mkdir(fs, 0, "/after-crash", 0755), 0);
		assert_int_equal(lfs_append(fs, 0, "/after-crash/log", "abc", 3, LFS_APPEND_CREATE,
					    NULL), 0);
		assert_int_equal(lfs_sync(fs), 0);
		r = lfs_check(fs, NULL);
		if (r)
			fail_msg("%s %zu: check after use: %d %s", what, pos, r, lfs_errmsg(fs));
		cr->remounts++;
	}
	assert_int_equal(lfs_unmount(fs), 0);
	cr->verified++;
}

static void crash_all(struct crash_run *cr, u32 subsets)
{
	size_t bytes = cr->d->nblocks * LFS_BLOCK_SIZE;
	u8 *img = malloc(bytes), *tmp = malloc(bytes);
	u64 lo, hi;

	/* Every prefix of the write stream. */
	memcpy(img, cr->base, bytes);
	for (size_t p = 0; p <= cr->d->n; p++) {
		if (p)
			memcpy(img + cr->d->log[p - 1].blk * LFS_BLOCK_SIZE, cr->d->log[p - 1].data,
			       LFS_BLOCK_SIZE);
		bounds(cr, p, &lo, &hi);
		verify_image(cr, img, lo, hi, "prefix", p, p % 37 == 0);
	}
	/* Writes between two flushes may land in any subset, torn or not. */
	memcpy(img, cr->base, bytes);
	size_t applied = 0;
	for (size_t f = 0; f <= cr->d->nflush; f++) {
		size_t s = f ? cr->d->flush[f - 1] : 0;
		size_t e = f < cr->d->nflush ? cr->d->flush[f] : cr->d->n;
		while (applied < s) {
			memcpy(img + cr->d->log[applied].blk * LFS_BLOCK_SIZE,
			       cr->d->log[applied].data, LFS_BLOCK_SIZE);
			applied++;
		}
		if (e - s < 2)
			continue;
		bounds(cr, s, &lo, &hi);
		u64 lo2, hi2;
		bounds(cr, e, &lo2, &hi2);
		for (u32 k = 0; k < subsets; k++) {
			memcpy(tmp, img, bytes);
			for (size_t i = s; i < e; i++) {
				if (rnd(2))
					continue;
				size_t n = rnd(5) == 0 ? LFS_BLOCK_SIZE / 2 : LFS_BLOCK_SIZE;
				memcpy(tmp + cr->d->log[i].blk * LFS_BLOCK_SIZE, cr->d->log[i].data, n);
			}
			verify_image(cr, tmp, lo, hi2, "subset", s, false);
		}
	}
	free(img);
	free(tmp);
}

static void cr_setup(struct crash_run *cr, u64 nblocks, u32 ninodes, u32 journal)
{
	memset(cr, 0, sizeof(*cr));
	cr->d = rd_new(nblocks);
	rd_format(cr->d, ninodes, journal);
	cr->fs = rd_mount(cr->d, 32);
	cr->m = calloc(1, sizeof(*cr->m));
	m_init(cr->m);
	cr->scratch = rd_new(nblocks);
}

static void cr_start_recording(struct crash_run *cr)
{
	size_t bytes = cr->d->nblocks * LFS_BLOCK_SIZE;

	assert_int_equal(lfs_sync(cr->fs), 0);
	cr->base = malloc(bytes);
	memcpy(cr->base, cr->d->img, bytes);
	cr->commits0 = commits_of(cr->fs);
	cr->snap = malloc(sizeof(*cr->snap) * 64);
	cr->scap = 64;
	cr->snap[0] = m_clone(cr->m);
	cr->nsnap = 1;
	cr->d->rec = true;
}

static void cr_finish(struct crash_run *cr)
{
	assert_same(cr->fs, cr->m);
	CR_SYNC(cr, lfs_sync(cr->fs));
	/* unmount: nothing to commit, the journal is emptied */
	cr_begin(cr);
	u64 c = cr->calls[cr->ncalls].c0;
	assert_int_equal(lfs_unmount(cr->fs), 0);
	cr->calls[cr->ncalls].end = cr->d->n;
	cr->calls[cr->ncalls].c1 = c;
	cr->ncalls++;
	cr->fs = NULL;
	cr->d->rec = false;
}

static void cr_free(struct crash_run *cr)
{
	for (int i = 0; i < cr->nsnap; i++) {
		m_free(cr->snap[i]);
		free(cr->snap[i]);
	}
	free(cr->snap);
	free(cr->calls);
	free(cr->base);
	m_free(cr->m);
	free(cr->m);
	rd_del(cr->d);
	rd_del(cr->scratch);
}

static void pat(u8 *b, size_t n, u32 seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (u8)(seed * 13 + i * 7 + (i >> 8));
}

static void test_crash_scripted(void **state)
{
	struct crash_run cr;
	static u8 b[40000];
	u64 off1, off2;

	cr_setup(&cr, 400, 96, 40);
	struct lfs_fs *fs = cr.fs;
	assert_int_equal(lfs_mkdir(fs, 0, "/d", 0755), 0);
	m_mkdir(cr.m, 0, "/d", 0755);
	pat(b, 3000, 1);
	assert_int_equal(lfs_create(fs, 0, "/d/base", 0644, 0), 0);
	assert_int_equal(lfs_write(fs, 0, "/d/base", 0, b, 3000), 3000);
	m_create(cr.m, 0, "/d/base", 0644, 0);
	m_write(cr.m, 0, "/d/base", 0, b, 3000);
	cr_start_recording(&cr);

	pat(b, 5000, 2);
	CR(&cr, lfs_create(fs, 0, "/d/f1", 0644, 0), m_create(cr.m, 0, "/d/f1", 0644, 0));
	CR(&cr, lfs_write(fs, 0, "/d/f1", 0, b, 5000), m_write(cr.m, 0, "/d/f1", 0, b, 5000));
	pat(b, 9000, 3);
	CR(&cr, lfs_create(fs, 0, "/d/f2", 0600, 0), m_create(cr.m, 0, "/d/f2", 0600, 0));
	CR(&cr, lfs_write(fs, 0, "/d/f2", 0, b, 9000), m_write(cr.m, 0, "/d/f2", 0, b, 9000));
	CR_SYNC(&cr, lfs_fsync(fs, 0, "/d/f2"));
	pat(b, 2500, 4);
	CR(&cr, lfs_write(fs, 0, "/d/f1", 1000, b, 2500), m_write(cr.m, 0, "/d/f1", 1000, b, 2500));
	CR(&cr, lfs_write(fs, 0, "/d/base", 100, b, 10), m_write(cr.m, 0, "/d/base", 100, b, 10));
	CR(&cr, lfs_append(fs, 0, "/log", b, 700, LFS_APPEND_CREATE, &off1),
	   m_append(cr.m, 0, "/log", b, 700, LFS_APPEND_CREATE, &off2));
	CR(&cr, lfs_mkdir(fs, 0, "/e", 0700), m_mkdir(cr.m, 0, "/e", 0700));
	CR(&cr, lfs_rename(fs, 0, "/d/f2", "/e/f2"), m_rename(cr.m, 0, "/d/f2", "/e/f2"));
	CR_SYNC(&cr, lfs_fsync(fs, 0, NULL));
	CR(&cr, lfs_truncate(fs, 0, "/d/f1", 100), m_truncate(cr.m, 0, "/d/f1", 100));
	pat(b, 300, 5);
	CR(&cr, lfs_write(fs, 0, "/d/f1", 20000, b, 300), m_write(cr.m, 0, "/d/f1", 20000, b, 300));
	CR(&cr, lfs_symlink(fs, 0, "/d/f1", "/e/ln"), m_symlink(cr.m, 0, "/d/f1", "/e/ln"));
	CR(&cr, lfs_vnode_create(fs, 1), m_vnode_create(cr.m, 1));
	pat(b, 4100, 6);
	CR(&cr, lfs_write(fs, 1, "/e/f2", 4000, b, 4100), m_write(cr.m, 1, "/e/f2", 4000, b, 4100));
	CR_SYNC(&cr, lfs_sync(fs));
	CR(&cr, lfs_rename(fs, 0, "/d", "/dd"), m_rename(cr.m, 0, "/d", "/dd"));
	CR(&cr, lfs_unlink(fs, 1, "/e/f2"), m_unlink(cr.m, 1, "/e/f2"));
	for (int i = 0; i < 3; i++) {
		pat(b, 1500 + i * 999, 7 + i);
		CR(&cr, lfs_append(fs, 0, "/log", b, 1500 + i * 999, 0, &off1),
		   m_append(cr.m, 0, "/log", b, 1500 + i * 999, 0, &off2));
	}
	CR_SYNC(&cr, lfs_fsync(fs, 0, "/log"));
	CR(&cr, lfs_create(fs, 1, "/dd/new", 0644, 0), -ENOENT);
	CR(&cr, lfs_create(fs, 1, "/d/new", 0644, 0), m_create(cr.m, 1, "/d/new", 0644, 0));
	CR(&cr, lfs_vnode_remove(fs, 1), m_vnode_remove(cr.m, 1));
	CR(&cr, lfs_unlink(fs, 0, "/e/ln"), m_unlink(cr.m, 0, "/e/ln"));
	CR(&cr, lfs_rmdir(fs, 0, "/e"), -ENOTEMPTY);
	CR(&cr, lfs_unlink(fs, 0, "/e/f2"), m_unlink(cr.m, 0, "/e/f2"));
	CR(&cr, lfs_rmdir(fs, 0, "/e"), m_rmdir(cr.m, 0, "/e"));
	CR_SYNC(&cr, lfs_fsync(fs, 0, NULL));
	pat(b, 8192, 11);
	CR(&cr, lfs_write(fs, 0, "/dd/base", 0, b, 8192), m_write(cr.m, 0, "/dd/base", 0, b, 8192));
	cr_finish(&cr);
	rng_state = 77;
	crash_all(&cr, 6);
	print_message("crash scripted: %zu writes, %zu flushes, %d images verified\n", cr.d->n,
		      cr.d->nflush, cr.verified);
	cr_free(&cr);
}

/* Bulk: hash table splits, extent tree splits, a directory rename of many
 * entries, a vNode clone of a large table, crashes everywhere. */
static void test_crash_bulk(void **state)
{
	struct crash_run cr;
	static u8 b[8192];
	char p[64], q[64];

	cr_setup(&cr, 1200, 400, 64);
	struct lfs_fs *fs = cr.fs;
	assert_int_equal(lfs_mkdir(fs, 0, "/d", 0755), 0);
	m_mkdir(cr.m, 0, "/d", 0755);
	cr_start_recording(&cr);
	for (int i = 0; i < 90; i++) {
		snprintf(p, sizeof(p), "/d/file-%03d", i);
		pat(b, 100 + i, i);
		CR(&cr, lfs_create(fs, 0, p, 0644, 0), m_create(cr.m, 0, p, 0644, 0));
		CR(&cr, lfs_write(fs, 0, p, 0, b, 100 + i), m_write(cr.m, 0, p, 0, b, 100 + i));
		if (i % 30 == 29)
			CR_SYNC(&cr, lfs_sync(fs));
	}
	/* a fragmented file: every other block, out of order */
	CR(&cr, lfs_create(fs, 0, "/frag", 0644, 0), m_create(cr.m, 0, "/frag", 0644, 0));
	for (int i = 0; i < 120; i++) {
		u32 k = (u32)(i * 67) % 120;
		pat(b, 4096, k);
		CR(&cr, lfs_write(fs, 0, "/frag", (u64)k * 2 * 4096, b, 4096),
		   m_write(cr.m, 0, "/frag", (u64)k * 2 * 4096, b, 4096));
		if (i % 40 == 39)
			CR_SYNC(&cr, lfs_fsync(fs, 0, "/frag"));
	}
	CR(&cr, lfs_rename(fs, 0, "/d", "/renamed"), m_rename(cr.m, 0, "/d", "/renamed"));
	CR(&cr, lfs_vnode_create(fs, 3), m_vnode_create(cr.m, 3));
	CR_SYNC(&cr, lfs_sync(fs));
	for (int i = 0; i < 90; i += 4) {
		snprintf(p, sizeof(p), "/renamed/file-%03d", i);
		snprintf(q, sizeof(q), "/renamed/moved-%03d", i);
		CR(&cr, lfs_rename(fs, 3, p, q), m_rename(cr.m, 3, p, q));
		CR(&cr, lfs_unlink(fs, 0, p), m_unlink(cr.m, 0, p));
	}
	pat(b, 5000, 99);
	CR(&cr, lfs_write(fs, 3, "/frag", 4096 * 7 + 5, b, 5000),
	   m_write(cr.m, 3, "/frag", 4096 * 7 + 5, b, 5000));
	CR(&cr, lfs_truncate(fs, 0, "/frag", 4096 * 100 + 1), m_truncate(cr.m, 0, "/frag", 4096 * 100 + 1));
	CR_SYNC(&cr, lfs_sync(fs));
	CR(&cr, lfs_vnode_remove(fs, 3), m_vnode_remove(cr.m, 3));
	cr_finish(&cr);
	rng_state = 5;
	crash_all(&cr, 2);
	print_message("crash bulk: %zu writes, %zu flushes, %d images verified\n", cr.d->n,
		      cr.d->nflush, cr.verified);
	cr_free(&cr);
}

static void crash_random_run(u64 seed, int nops, u32 subsets)
{
	struct crash_run cr;

	cr_setup(&cr, 400, 128, 48);
	rng_state = seed;
	/* some content first */
	for (int i = 0; i < 30; i++)
		one_op(cr.fs, cr.m, &(struct rstats){ 0 }, 12000, false);
	cr_start_recording(&cr);
	for (int i = 0; i < nops; i++) {
		if (i % 9 == 8)
			CR_SYNC(&cr, lfs_sync(cr.fs));
		else
			cr_op(&cr, 12000);
	}
	cr_finish(&cr);
	crash_all(&cr, subsets);
	print_message("crash random %llx: %zu writes, %zu flushes, %d images verified\n",
		      (unsigned long long)seed, cr.d->n, cr.d->nflush, cr.verified);
	cr_free(&cr);
}

/* LEGOFS_SOAK=N in the environment: N more seeds in the random tests. */
static int soak(void)
{
	const char *e = getenv("LEGOFS_SOAK");

	return e ? atoi(e) : 0;
}

static void test_crash_random(void **state)
{
	for (int i = 0; i < soak(); i++)
		crash_random_run(0x1000 + (u64)i * 7919, 150, 4);
	crash_random_run(0xabcdef12345ULL, 120, 4);
	crash_random_run(0x5151ULL, 120, 4);
	crash_random_run(0x77aa11ULL, 120, 4);
	crash_random_run(0x1ULL, 120, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_churn),
		cmocka_unit_test(test_random_small_cache),
		cmocka_unit_test(test_random_big_cache),
		cmocka_unit_test(test_crash_scripted),
		cmocka_unit_test(test_crash_bulk),
		cmocka_unit_test(test_crash_random),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
