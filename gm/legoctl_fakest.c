/*
 * The storage service of `legoctl fake-monitor --personality storage`: a
 * TEST TOOL that answers the storage monitor's protocol
 * (include/uapi/lego/storage.h) from memory, so that gpmd's vNode
 * create/remove and `legoctl fs` can be tested without QEMU. It is not
 * part of a real rack and makes no attempt at being fast: lookups scan
 * arrays, and a new vNode gets a deep copy of vNode 0.
 *
 * It follows the documented semantics (docs/storage.md §3) closely enough
 * for clients: path validation, POSIX lookup errors, -ESTALE for unknown
 * vNodes, short writes when the store is full (its capacity is the fake
 * monitor's --storage-mib), stable readdir cookies, rename of directories
 * with everything below. An unhealthy store (--unhealthy) fails every
 * request with -EIO and reports itself not mounted in STATFS, like a
 * storage monitor whose disk holds a corrupt image.
 *
 * Single-threaded: called from the fake monitor's one RPC endpoint.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>

#include <uapi/lego/storage.h>
#include "legoctl.h"

#define FST_MAX_VNODES 256
#define FST_INODES 65536
#define FST_DT_DIR 4
#define FST_DT_REG 8
#define FST_DT_LNK 10

struct fst_ent {
	char *path;
	uint64_t seq;			/* readdir cookie: increases in array order */
	uint32_t ino, mode, uid, gid;
	uint64_t mtime_ns;
	uint8_t *data;			/* file content, or a symlink's target */
	uint64_t size;
};

struct fst_vnode {
	uint32_t id;
	struct fst_ent *e;
	size_t n, cap;
	uint64_t next_seq;
};

struct fakest {
	struct fst_vnode *v;		/* sorted by id */
	size_t nv;
	uint64_t total, used;		/* bytes of file data and symlink targets */
	size_t nents;			/* entries in all vNodes ("inodes" in use) */
	uint32_t next_ino;
	uint64_t commits;
	bool unhealthy;
	uint8_t uuid[16];
};

/* A parsed request. */
struct fst_rq {
	struct lego_st_req h;
	char path[LEGO_ST_PATH_MAX];
	char path2[LEGO_ST_PATH_MAX];
	const uint8_t *data;
	size_t dlen;
};

static uint64_t fst_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------------ */
/* vNodes and entries                                                  */
/* ------------------------------------------------------------------ */

static struct fst_vnode *fst_vnode(struct fakest *s, uint32_t id)
{
	for (size_t i = 0; i < s->nv; i++)
		if (s->v[i].id == id)
			return &s->v[i];
	return NULL;
}

static struct fst_ent *fst_find(struct fst_vnode *v, const char *path)
{
	for (size_t i = 0; i < v->n; i++)
		if (!strcmp(v->e[i].path, path))
			return &v->e[i];
	return NULL;
}

static void fst_ent_free(struct fakest *s, struct fst_ent *e)
{
	if (!S_ISDIR(e->mode))
		s->used -= e->size;
	s->nents--;
	free(e->path);
	free(e->data);
}

static void fst_remove(struct fakest *s, struct fst_vnode *v, struct fst_ent *e)
{
	size_t i = (size_t)(e - v->e);

	fst_ent_free(s, e);
	memmove(&v->e[i], &v->e[i + 1], (v->n - i - 1) * sizeof(*v->e));
	v->n--;
}

/* Appends an entry (the caller has checked that it may exist). */
static struct fst_ent *fst_add(struct fakest *s, struct fst_vnode *v, const char *path,
			       uint32_t mode)
{
	struct fst_ent *e;

	if (s->nents >= FST_INODES)
		return NULL;
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 16;
		struct fst_ent *ne = realloc(v->e, cap * sizeof(*ne));

		if (!ne)
			return NULL;
		v->e = ne;
		v->cap = cap;
	}
	e = &v->e[v->n];
	memset(e, 0, sizeof(*e));
	if (!(e->path = strdup(path)))
		return NULL;
	e->seq = ++v->next_seq;
	e->ino = s->next_ino++;
	e->mode = mode;
	e->mtime_ns = fst_now_ns();
	v->n++;
	s->nents++;
	return e;
}

/* parent of "/a/b" is "/a", of "/a" is "/". */
static void fst_parent(const char *path, char *out)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash == path ? 1 : (size_t)(slash - path);

	memcpy(out, path, n);
	out[n] = '\0';
}

static bool fst_is_child(const char *dir, const char *path)
{
	size_t n = strlen(dir);

	if (!strcmp(path, "/"))
		return false;
	if (n == 1)
		return strchr(path + 1, '/') == NULL;
	return !strncmp(path, dir, n) && path[n] == '/' && !strchr(path + n + 1, '/');
}

static bool fst_below(const char *dir, const char *path)
{
	size_t n = strlen(dir);

	if (n == 1)
		return strcmp(path, "/") != 0;
	return !strncmp(path, dir, n) && path[n] == '/';
}

/* Why path does not exist: -ENOENT, or -ENOTDIR if its closest existing
 * ancestor is not a directory. */
static int fst_missing(struct fst_vnode *v, const char *path)
{
	char p[LEGO_ST_PATH_MAX];
	struct fst_ent *e;

	strcpy(p, path);
	while (strcmp(p, "/")) {
		char up[LEGO_ST_PATH_MAX];

		fst_parent(p, up);
		strcpy(p, up);
		if ((e = fst_find(v, p)))
			return S_ISDIR(e->mode) ? -ENOENT : -ENOTDIR;
	}
	return -ENOENT;
}

static struct fst_ent *fst_lookup(struct fst_vnode *v, const char *path, int *err)
{
	struct fst_ent *e = fst_find(v, path);

	if (!e)
		*err = fst_missing(v, path);
	return e;
}

/* A new entry at path needs an existing parent directory. */
static int fst_parent_ok(struct fst_vnode *v, const char *path)
{
	char par[LEGO_ST_PATH_MAX];
	struct fst_ent *e;
	int err;

	fst_parent(path, par);
	e = fst_lookup(v, par, &err);
	if (!e)
		return err;
	return S_ISDIR(e->mode) ? 0 : -ENOTDIR;
}

static void fst_ents_free(struct fst_ent *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].path);
		free(e[i].data);
	}
	free(e);
}

/* A deep copy of from's entries into to (counters untouched). */
static int fst_vnode_copy(const struct fst_vnode *from, struct fst_vnode *to)
{
	memset(to, 0, sizeof(*to));
	to->cap = from->n ? from->n : 1;
	to->e = calloc(to->cap, sizeof(*to->e));
	if (!to->e)
		return -ENOMEM;
	to->next_seq = from->next_seq;
	for (size_t i = 0; i < from->n; i++) {
		struct fst_ent *d = &to->e[i];
		bool has_data = from->e[i].size && !S_ISDIR(from->e[i].mode);

		*d = from->e[i];
		d->path = strdup(from->e[i].path);
		d->data = has_data ? malloc((size_t)d->size) : NULL;
		to->n = i + 1;
		if (!d->path || (has_data && !d->data)) {
			fst_ents_free(to->e, to->n);
			to->e = NULL;
			return -ENOMEM;
		}
		if (has_data)
			memcpy(d->data, from->e[i].data, (size_t)d->size);
	}
	return 0;
}

static void fst_vnode_free(struct fakest *s, struct fst_vnode *v)
{
	for (size_t i = 0; i < v->n; i++)
		fst_ent_free(s, &v->e[i]);
	free(v->e);
	v->e = NULL;
	v->n = 0;
}

static uint64_t fst_free_bytes(const struct fakest *s)
{
	return s->total > s->used ? s->total - s->used : 0;
}

/* Resizes a file's buffer to size bytes, zeroing what is new. */
static int fst_resize(struct fst_ent *e, uint64_t size)
{
	if (size > e->size) {
		uint8_t *d;

		if (size > SIZE_MAX)
			return -ENOMEM;
		d = realloc(e->data, (size_t)size);
		if (!d)
			return -ENOMEM;
		memset(d + e->size, 0, (size_t)(size - e->size));
		e->data = d;
	}
	e->size = size;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Request parsing                                                     */
/* ------------------------------------------------------------------ */

/* storage.h: absolute, normalised, components <= 255 bytes. */
static int fst_path_check(const char *p, size_t len)
{
	size_t i = 1;

	if (len == 0 || len >= LEGO_ST_PATH_MAX)
		return len ? -ENAMETOOLONG : -EINVAL;
	if (p[0] != '/')
		return -EINVAL;
	if (len == 1)
		return 0;
	if (p[len - 1] == '/')
		return -EINVAL;
	while (i < len) {
		size_t j = i;

		while (j < len && p[j] != '/')
			j++;
		if (j == i || (j - i == 1 && p[i] == '.') ||
		    (j - i == 2 && p[i] == '.' && p[i + 1] == '.'))
			return -EINVAL;
		if (j - i > LEGO_ST_NAME_MAX)
			return -ENAMETOOLONG;
		i = j + 1;
	}
	return 0;
}

static int fst_parse(const struct gm_rpc_req *req, struct fst_rq *q)
{
	const uint8_t *p = req->data;
	size_t rest;

	if (req->len < sizeof(q->h))
		return -EINVAL;
	memcpy(&q->h, p, sizeof(q->h));
	rest = req->len - sizeof(q->h);
	if ((size_t)q->h.path_len + q->h.path2_len > rest)
		return -EINVAL;
	if (q->h.path_len >= LEGO_ST_PATH_MAX || q->h.path2_len >= LEGO_ST_PATH_MAX)
		return -ENAMETOOLONG;
	p += sizeof(q->h);
	memcpy(q->path, p, q->h.path_len);
	q->path[q->h.path_len] = '\0';
	memcpy(q->path2, p + q->h.path_len, q->h.path2_len);
	q->path2[q->h.path2_len] = '\0';
	if (memchr(p, '\0', (size_t)q->h.path_len + q->h.path2_len))
		return -EINVAL;
	q->data = p + q->h.path_len + q->h.path2_len;
	q->dlen = rest - q->h.path_len - q->h.path2_len;
	if (q->h.vnode == 0xffffffffu)
		return -EINVAL;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */
/* ------------------------------------------------------------------ */

static void fst_stat(const struct fst_vnode *v, const struct fst_ent *e, struct lego_st_stat *st)
{
	memset(st, 0, sizeof(*st));
	st->ino = e->ino;
	st->mode = e->mode;
	st->nlink = 1;
	st->uid = e->uid;
	st->gid = e->gid;
	st->size = S_ISDIR(e->mode) ? 0 : e->size;
	st->blocks = (st->size + 4095) / 4096;
	st->mtime_ns = e->mtime_ns;
	if (S_ISDIR(e->mode)) {
		st->nlink = 2;
		for (size_t i = 0; i < v->n; i++) {
			if (!fst_is_child(e->path, v->e[i].path))
				continue;
			st->nchild++;
			if (S_ISDIR(v->e[i].mode))
				st->nlink++;
		}
	}
}

static int fst_write(struct fakest *s, struct fst_ent *e, uint64_t off, const uint8_t *data,
		     uint64_t len, uint64_t *written)
{
	uint64_t end, grow, room = fst_free_bytes(s);
	int r;

	if (off >= LEGO_ST_MAX_FILE_SIZE)
		return -EFBIG;
	if (len > LEGO_ST_MAX_FILE_SIZE - off)
		len = LEGO_ST_MAX_FILE_SIZE - off;
	end = off + len;
	grow = end > e->size ? end - e->size : 0;
	if (grow > room) {
		/* Short: as much as fits. */
		uint64_t limit = e->size + room;

		if (limit <= off)
			return -ENOSPC;
		len = limit - off;
		end = limit;
		grow = end > e->size ? end - e->size : 0;
	}
	if (len == 0) {
		*written = 0;
		return 0;
	}
	if (end > e->size && (r = fst_resize(e, end)) < 0)
		return r;
	memcpy(e->data + off, data, (size_t)len);
	s->used += grow;
	e->mtime_ns = fst_now_ns();
	*written = len;
	return 0;
}

static int fst_readdir(struct fst_vnode *v, struct fst_ent *dir, uint64_t cookie, uint64_t max,
		       uint8_t *out, size_t out_max, size_t *out_len)
{
	struct lego_st_readdir_reply hdr = { 0, 0, cookie };
	size_t pos = sizeof(hdr);

	for (size_t i = 0; i < v->n && hdr.count < max; i++) {
		const struct fst_ent *e = &v->e[i];
		const char *name;
		struct lego_st_dirent d;
		size_t nl, sz;

		if (e->seq <= cookie || !fst_is_child(dir->path, e->path))
			continue;
		name = strrchr(e->path, '/') + 1;
		nl = strlen(name);
		sz = LEGO_ST_DIRENT_SIZE(nl);
		if (pos + sz > out_max)
			break;
		memset(&d, 0, sizeof(d));
		d.cookie = e->seq;
		d.ino = e->ino;
		d.type = S_ISDIR(e->mode) ? FST_DT_DIR : S_ISLNK(e->mode) ? FST_DT_LNK : FST_DT_REG;
		d.name_len = (uint16_t)nl;
		memset(out + pos, 0, sz);
		memcpy(out + pos, &d, sizeof(d));
		memcpy(out + pos + sizeof(d), name, nl);
		pos += sz;
		hdr.count++;
		hdr.next_cookie = e->seq;
	}
	memcpy(out, &hdr, sizeof(hdr));
	*out_len = pos;
	return 0;
}

static int fst_rename(struct fakest *s, struct fst_vnode *v, const char *from, const char *to)
{
	struct fst_ent *src, *dst;
	size_t fl = strlen(from), tl = strlen(to);
	int err;

	if (!(src = fst_lookup(v, from, &err)))
		return err;
	if (!strcmp(from, "/") || !strcmp(to, "/"))
		return -EBUSY;
	if ((err = fst_parent_ok(v, to)) < 0)
		return err;
	if (!strcmp(from, to))
		return 0;
	if (S_ISDIR(src->mode) && fst_below(from, to))
		return -EINVAL;
	dst = fst_find(v, to);
	if (dst) {
		if (S_ISDIR(src->mode) && !S_ISDIR(dst->mode))
			return -ENOTDIR;
		if (!S_ISDIR(src->mode) && S_ISDIR(dst->mode))
			return -EISDIR;
		if (S_ISDIR(dst->mode))
			for (size_t i = 0; i < v->n; i++)
				if (fst_is_child(to, v->e[i].path))
					return -ENOTEMPTY;
	}
	/* Every moved path must fit before anything changes. */
	if (S_ISDIR(src->mode))
		for (size_t i = 0; i < v->n; i++)
			if (fst_below(from, v->e[i].path) &&
			    strlen(v->e[i].path) - fl + tl >= LEGO_ST_PATH_MAX)
				return -ENAMETOOLONG;
	if (dst) {
		size_t si = (size_t)(src - v->e);

		if (dst < src)
			si--;
		fst_remove(s, v, dst);
		src = &v->e[si];
	}
	for (size_t i = 0; i < v->n; i++) {
		struct fst_ent *e = &v->e[i];
		char *np;

		if (e != src && !(S_ISDIR(src->mode) && fst_below(from, e->path)))
			continue;
		np = malloc(strlen(e->path) - fl + tl + 1);
		if (!np)
			return -ENOMEM;	/* a fake: not atomic on malloc failure */
		strcpy(np, to);
		strcat(np, e->path + fl);
		free(e->path);
		e->path = np;
	}
	return 0;
}

static int fst_vnode_op(struct fakest *s, const struct fst_rq *q, uint16_t op, uint8_t *reply,
			size_t reply_max, size_t *reply_len)
{
	struct fst_vnode *v = fst_vnode(s, q->h.vnode), nv;
	int r;

	if (q->h.path_len || q->h.path2_len || q->dlen)
		return -EINVAL;
	if (op == LEGO_OP_ST_VNODE_LIST) {
		struct lego_st_vnode_list hdr = { (uint32_t)s->nv, (uint32_t)s->nv };

		if (sizeof(hdr) + s->nv * 4 > reply_max)
			return -ENOSPC;
		memcpy(reply, &hdr, sizeof(hdr));
		for (size_t i = 0; i < s->nv; i++)
			memcpy(reply + sizeof(hdr) + i * 4, &s->v[i].id, 4);
		*reply_len = sizeof(hdr) + s->nv * 4;
		return 0;
	}
	if (op == LEGO_OP_ST_VNODE_REMOVE) {
		size_t i;

		if (q->h.vnode == 0)
			return -EBUSY;
		if (!v)
			return -ESTALE;
		i = (size_t)(v - s->v);
		fst_vnode_free(s, v);
		memmove(&s->v[i], &s->v[i + 1], (s->nv - i - 1) * sizeof(*s->v));
		s->nv--;
		return 0;
	}
	/* VNODE_CREATE: a copy of vNode 0. */
	if (v)
		return -EEXIST;
	if (s->nv >= FST_MAX_VNODES)
		return -ENOSPC;
	struct fst_vnode *base = fst_vnode(s, 0);
	uint64_t bytes = 0;

	for (size_t i = 0; i < base->n; i++)
		if (!S_ISDIR(base->e[i].mode))
			bytes += base->e[i].size;
	if (bytes > fst_free_bytes(s) || s->nents + base->n > FST_INODES)
		return -ENOSPC;
	r = fst_vnode_copy(base, &nv);
	if (r < 0)
		return r;
	nv.id = q->h.vnode;
	struct fst_vnode *na = realloc(s->v, (s->nv + 1) * sizeof(*na));
	size_t at = 0;

	if (!na) {
		fst_ents_free(nv.e, nv.n);
		return -ENOMEM;
	}
	s->v = na;
	while (at < s->nv && s->v[at].id < nv.id)
		at++;
	memmove(&s->v[at + 1], &s->v[at], (s->nv - at) * sizeof(*s->v));
	s->v[at] = nv;
	s->nv++;
	s->used += bytes;
	s->nents += nv.n;
	return 0;
}

static int fst_statfs(struct fakest *s, uint8_t *reply, size_t *reply_len)
{
	struct lego_st_statfs f;

	memset(&f, 0, sizeof(f));
	f.state = s->unhealthy ? LEGO_ST_STATE_UNMOUNTED : LEGO_ST_STATE_OK;
	f.block_size = 4096;
	f.total_bytes = s->total;
	f.free_bytes = s->unhealthy ? 0 : fst_free_bytes(s);
	f.total_inodes = FST_INODES;
	f.free_inodes = s->unhealthy ? 0 : (uint32_t)(FST_INODES - s->nents);
	f.max_vnodes = FST_MAX_VNODES;
	f.nvnodes = s->unhealthy ? 0 : (uint32_t)s->nv;
	f.commits = s->commits;
	memcpy(f.uuid, s->uuid, sizeof(f.uuid));
	snprintf(f.label, sizeof(f.label), "fake-monitor");
	if (s->unhealthy)
		snprintf(f.message, sizeof(f.message),
			 "superblock checksum mismatch (fake-monitor --unhealthy)");
	memcpy(reply, &f, sizeof(f));
	*reply_len = sizeof(f);
	return 0;
}

static int fst_handle(struct gm_rpc_ep *ep, void *arg, const struct gm_rpc_req *req,
		      void *reply_v, size_t reply_max, size_t *reply_len)
{
	static struct fst_rq q;	/* large; single-threaded */
	struct fakest *s = arg;
	uint8_t *reply = reply_v;
	uint16_t op = req->opcode;
	struct fst_vnode *v;
	struct fst_ent *e;
	bool path1, path2 = op == LEGO_OP_ST_RENAME || op == LEGO_OP_ST_SYMLINK;
	bool data = op == LEGO_OP_ST_WRITE || op == LEGO_OP_ST_APPEND || op == LEGO_OP_ST_SETATTR;
	int r, err = 0;

	r = fst_parse(req, &q);
	if (r < 0)
		return r;
	if (op == LEGO_OP_ST_STATFS)
		return q.h.path_len || q.h.path2_len || q.dlen ? -EINVAL
							       : fst_statfs(s, reply, reply_len);
	if (s->unhealthy)
		return -EIO;
	if (op == LEGO_OP_ST_VNODE_CREATE || op == LEGO_OP_ST_VNODE_REMOVE ||
	    op == LEGO_OP_ST_VNODE_LIST)
		return fst_vnode_op(s, &q, op, reply, reply_max, reply_len);

	/* File requests: the path (FSYNC may omit it), path2 and data only
	 * where the opcode takes them. */
	path1 = !(op == LEGO_OP_ST_FSYNC && q.h.path_len == 0);
	if (path1 && (r = fst_path_check(q.path, q.h.path_len)) < 0)
		return r;
	if (!path2 && q.h.path2_len)
		return -EINVAL;
	if (op == LEGO_OP_ST_RENAME && (r = fst_path_check(q.path2, q.h.path2_len)) < 0)
		return r;
	if (op == LEGO_OP_ST_SYMLINK && q.h.path2_len == 0)
		return -ENOENT;	/* as symlink(2) */
	if (!data && q.dlen)
		return -EINVAL;
	if (!(v = fst_vnode(s, q.h.vnode)))
		return -ESTALE;

	switch (op) {
	case LEGO_OP_ST_STAT: {
		if (!(e = fst_lookup(v, q.path, &err)))
			return err;
		struct lego_st_stat st;

		fst_stat(v, e, &st);
		memcpy(reply, &st, sizeof(st));
		*reply_len = sizeof(st);
		return 0;
	}
	case LEGO_OP_ST_CREATE:
		if (q.h.flags & ~(uint32_t)(LEGO_ST_O_EXCL | LEGO_ST_O_TRUNC))
			return -EINVAL;
		if ((e = fst_find(v, q.path))) {
			if (S_ISDIR(e->mode))
				return -EISDIR;
			if (q.h.flags & LEGO_ST_O_EXCL)
				return -EEXIST;
			if (!S_ISREG(e->mode))
				return -EEXIST;
			if ((q.h.flags & LEGO_ST_O_TRUNC) && e->size) {
				s->used -= e->size;
				e->size = 0;
				e->mtime_ns = fst_now_ns();
			}
			return 0;
		}
		if ((r = fst_parent_ok(v, q.path)) < 0)
			return r;
		return fst_add(s, v, q.path, S_IFREG | (q.h.mode & 07777)) ? 0 : -ENOSPC;
	case LEGO_OP_ST_READ:
		if (q.h.len > LEGO_ST_IO_MAX || q.h.len > reply_max)
			return -EINVAL;
		if (!(e = fst_lookup(v, q.path, &err)))
			return err;
		if (S_ISDIR(e->mode))
			return -EISDIR;
		if (!S_ISREG(e->mode))
			return -EINVAL;
		if (q.h.off < e->size) {
			uint64_t n = e->size - q.h.off < q.h.len ? e->size - q.h.off : q.h.len;

			memcpy(reply, e->data + q.h.off, (size_t)n);
			*reply_len = (size_t)n;
		}
		return 0;
	case LEGO_OP_ST_WRITE: {
		struct lego_st_count c;

		if (q.h.len != q.dlen || q.dlen > LEGO_ST_IO_MAX || q.h.flags)
			return -EINVAL;
		if (!(e = fst_lookup(v, q.path, &err)))
			return err;
		if (S_ISDIR(e->mode))
			return -EISDIR;
		if (!S_ISREG(e->mode))
			return -EINVAL;
		if ((r = fst_write(s, e, q.h.off, q.data, q.dlen, &c.value)) < 0)
			return r;
		memcpy(reply, &c, sizeof(c));
		*reply_len = sizeof(c);
		return 0;
	}
	case LEGO_OP_ST_APPEND: {
		struct lego_st_count c;
		uint64_t w;

		if (q.h.len != q.dlen || q.dlen > LEGO_ST_IO_MAX ||
		    (q.h.flags & ~(uint32_t)LEGO_ST_APPEND_CREATE))
			return -EINVAL;
		e = fst_find(v, q.path);
		if (!e && !(q.h.flags & LEGO_ST_APPEND_CREATE))
			return fst_missing(v, q.path);
		if (e && S_ISDIR(e->mode))
			return -EISDIR;
		if (e && !S_ISREG(e->mode))
			return -EINVAL;
		/* All or nothing. */
		if (e && e->size + q.dlen > LEGO_ST_MAX_FILE_SIZE)
			return -EFBIG;
		if (q.dlen > fst_free_bytes(s))
			return -ENOSPC;
		if (!e) {
			if ((r = fst_parent_ok(v, q.path)) < 0)
				return r;
			if (!(e = fst_add(s, v, q.path, S_IFREG | 0600)))
				return -ENOSPC;
		}
		c.value = e->size;
		if (q.dlen && (r = fst_write(s, e, e->size, q.data, q.dlen, &w)) < 0)
			return r;
		memcpy(reply, &c, sizeof(c));
		*reply_len = sizeof(c);
		return 0;
	}
	case LEGO_OP_ST_TRUNCATE:
		if (!(e = fst_lookup(v, q.path, &err)))
			return err;
		if (S_ISDIR(e->mode))
			return -EISDIR;
		if (!S_ISREG(e->mode))
			return -EINVAL;
		if (q.h.off > LEGO_ST_MAX_FILE_SIZE)
			return -EFBIG;
		if (q.h.off > e->size && q.h.off - e->size > fst_free_bytes(s))
			return -ENOSPC;
		if (q.h.off > e->size) {
			uint64_t grow = q.h.off - e->size;

			if ((r = fst_resize(e, q.h.off)) < 0)
				return r;
			s->used += grow;
		} else {
			s->used -= e->size - q.h.off;
			e->size = q.h.off;
		}
		e->mtime_ns = fst_now_ns();
		return 0;
	case LEGO_OP_ST_UNLINK:
		if (!(e = fst_lookup(v, q.path, &err)))
			return err;
		if (S_ISDIR(e->mode))
			return -EISDIR;
		fst_remove(s, v, e);
		return 0;
	case LEGO_OP_ST_MKDIR:
		if (fst_find(v, q.path))
			return -EEXIST;
		if ((r = fst_parent_ok(v, q.path)) < 0)
			return r;
		return fst_add(s, v, q.path, S_IFDIR | (q.h.mode & 07777)) ? 0 : -ENOSPC;
	case LEGO_OP_ST_RMDIR:
		if (!(e = fst_lookup(v, q.path, &err)))
			return err;
		if (!S_ISDIR(e->mode))
			return -ENOTDIR;
		if (!strcmp(q.path, "/"))
			return -EBUSY;
		for (size_t i = 0; i < v->n; i++)
			if (fst_is_child(q.path, v->e[i].path))
				return -ENOTEMPTY;
		fst_remove(s, v, e);
		return 0;
	case LEGO_OP_ST_RENAME:
		return fst_rename(s, v, q.path, q.path2);
	case LEGO_OP_ST_READDIR:
		if (q.h.len < 1 || q.h.len > LEGO_ST_READDIR_MAX)
			return -EINVAL;
		if (!(e = fst_lookup(v, q.path, &err)))
			return err;
		if (!S_ISDIR(e->mode))
			return -ENOTDIR;
		return fst_readdir(v, e, q.h.off, q.h.len, reply, reply_max, reply_len);
	case LEGO_OP_ST_SYMLINK:
		if (fst_find(v, q.path))
			return -EEXIST;
		if ((r = fst_parent_ok(v, q.path)) < 0)
			return r;
		if (q.h.path2_len > fst_free_bytes(s))
			return -ENOSPC;
		if (!(e = fst_add(s, v, q.path, S_IFLNK | 0777)))
			return -ENOSPC;
		if (fst_resize(e, q.h.path2_len) < 0) {
			fst_remove(s, v, e);
			return -ENOMEM;
		}
		memcpy(e->data, q.path2, q.h.path2_len);
		s->used += q.h.path2_len;
		return 0;
	case LEGO_OP_ST_READLINK:
		if (!(e = fst_lookup(v, q.path, &err)))
			return err;
		if (!S_ISLNK(e->mode))
			return -EINVAL;
		memcpy(reply, e->data, (size_t)e->size);
		*reply_len = (size_t)e->size;
		return 0;
	case LEGO_OP_ST_FSYNC:
		if (path1 && !(e = fst_lookup(v, q.path, &err)))
			return err;
		s->commits++;
		return 0;
	case LEGO_OP_ST_SETATTR: {
		struct lego_st_attr a;

		if (q.dlen != sizeof(a) || q.h.len != sizeof(a))
			return -EINVAL;
		memcpy(&a, q.data, sizeof(a));
		if (a.mask & ~(uint32_t)(LEGO_ST_ATTR_MODE | LEGO_ST_ATTR_UID | LEGO_ST_ATTR_GID |
					 LEGO_ST_ATTR_MTIME))
			return -EINVAL;
		if (!(e = fst_lookup(v, q.path, &err)))
			return err;
		if (a.mask & LEGO_ST_ATTR_MODE)
			e->mode = (e->mode & ~07777u) | (a.mode & 07777);
		if (a.mask & LEGO_ST_ATTR_UID)
			e->uid = a.uid;
		if (a.mask & LEGO_ST_ATTR_GID)
			e->gid = a.gid;
		if (a.mask & LEGO_ST_ATTR_MTIME)
			e->mtime_ns = a.mtime_ns;
		return 0;
	}
	}
	return -ENOSYS;
}

/* ------------------------------------------------------------------ */

struct fakest *fakest_new(uint64_t total_bytes, bool unhealthy)
{
	struct fakest *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->total = total_bytes;
	s->unhealthy = unhealthy;
	s->next_ino = 1;
	if (getrandom(s->uuid, sizeof(s->uuid), 0) != sizeof(s->uuid))
		memset(s->uuid, 0x5a, sizeof(s->uuid));
	s->v = calloc(1, sizeof(*s->v));
	if (!s->v) {
		free(s);
		return NULL;
	}
	s->nv = 1;	/* vNode 0, the base root */
	if (!fst_add(s, s->v, "/", S_IFDIR | 0755)) {
		fakest_free(s);
		return NULL;
	}
	return s;
}

void fakest_free(struct fakest *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nv; i++)
		fst_vnode_free(s, &s->v[i]);
	free(s->v);
	free(s);
}

int fakest_register(struct fakest *s, struct gm_rpc_ep *ep)
{
	static const uint16_t ops[] = {
		LEGO_OP_ST_STAT, LEGO_OP_ST_CREATE, LEGO_OP_ST_READ, LEGO_OP_ST_WRITE,
		LEGO_OP_ST_TRUNCATE, LEGO_OP_ST_UNLINK, LEGO_OP_ST_MKDIR, LEGO_OP_ST_RMDIR,
		LEGO_OP_ST_RENAME, LEGO_OP_ST_READDIR, LEGO_OP_ST_SYMLINK, LEGO_OP_ST_READLINK,
		LEGO_OP_ST_FSYNC, LEGO_OP_ST_APPEND, LEGO_OP_ST_SETATTR, LEGO_OP_ST_STATFS,
		LEGO_OP_ST_VNODE_CREATE, LEGO_OP_ST_VNODE_REMOVE, LEGO_OP_ST_VNODE_LIST,
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		int r = gm_rpc_serve_register(ep, ops[i], fst_handle, s, LEGO_ST_IO_MAX);

		if (r < 0)
			return r;
	}
	return 0;
}
