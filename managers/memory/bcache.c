/* The storage buffer cache (paper §4.5): pure logic, see include/lego/bcache.h.
 *
 * Pages are 4 KiB windows of a file, found through one hash table keyed by
 * (file, page index); files through another keyed by (storage node, vNode,
 * path). One LRU list over all pages bounds the cache. A cached page holds
 * the file's bytes with zeros past its end, so reads need no size checks
 * beyond the file's size, and a page straddling the end can be written
 * back as the prefix that lies inside the file.
 *
 * Coherence. Every process of a vNode reaches its files through the same
 * cache mComponent (GPM records it in the vNode), so the cache is the
 * truth for data it holds dirty and for the size of a file with dirty
 * pages. Requests that change names or sizes at the storage node (CREATE
 * with truncation, TRUNCATE, UNLINK, RENAME, APPEND) are forwarded and the
 * cached state is brought in line with their result. Writers that bypass
 * the cache (legoctl fs straight to the sComponent) are noticed by
 * revalidation: clean data older than revalidate_ms is checked against a
 * STAT (size and mtime) before it is used, as NFS clients do.
 *
 * Write-back errors. A WRITE is acknowledged once it is in the cache; a
 * later write-back that fails for good (ENOSPC, EIO, EROFS, the file gone)
 * drops the data and remembers the error on the file, and the next FSYNC
 * of the file (or of everything) reports it, as Linux does. A write-back
 * that fails because the storage node is unreachable keeps the pages dirty
 * and is retried by the next flush. */
#include <lego/bcache.h>
#include <lego/errno.h>
#include <lego/string.h>

#define PG ((u64)BC_PAGE_SIZE)
#define S_IFMT_ 0170000u
#define S_IFREG_ 0100000u
/* How far from the LRU tail eviction looks for a clean page before it
 * writes a dirty one back. */
#define EVICT_SCAN 32
#define MIN_PAGES (4 * BC_READAHEAD_PAGES)

/* ------------------------------------------------------------------ */
/* Hashing and lookup                                                  */

static u32 hash_bytes(u32 h, const void *p, size_t n)
{
	const u8 *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619u;	/* FNV-1a */
	return h;
}

static u32 file_hash(const struct bc_ep *ep, u32 vnode, const char *path, size_t len)
{
	u32 h = 2166136261u;
	h = hash_bytes(h, &ep->ip, sizeof(ep->ip));
	h = hash_bytes(h, &ep->port, sizeof(ep->port));
	h = hash_bytes(h, &vnode, sizeof(vnode));
	return hash_bytes(h, path, len);
}

static u32 page_hash(const struct bc_file *f, u64 index)
{
	u64 k = ((u64)(unsigned long)f >> 4) ^ (index * 0x9e3779b97f4a7c15ull);
	return (u32)(k ^ (k >> 29) ^ (k >> 47));
}

static bool ep_eq(const struct bc_ep *a, const struct bc_ep *b)
{
	return a->ip == b->ip && a->port == b->port;
}

static struct bc_file *file_find(struct bcache *bc, const struct bc_ep *ep, u32 vnode,
				 const char *path)
{
	size_t len = strlen(path);
	u32 h = file_hash(ep, vnode, path, len);

	for (struct bc_file *f = bc->files[h & (bc->file_buckets - 1)]; f; f = f->hnext)
		if (f->hash == h && f->vnode == vnode && ep_eq(&f->ep, ep) && f->path_len == len &&
		    !memcmp(f->path, path, len))
			return f;
	return NULL;
}

static struct bc_page *page_find(struct bcache *bc, struct bc_file *f, u64 index)
{
	for (struct bc_page *p = bc->pages[page_hash(f, index) & (bc->page_buckets - 1)]; p;
	     p = p->hnext)
		if (p->f == f && p->index == index)
			return p;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Pages                                                               */

static void page_set_clean(struct bcache *bc, struct bc_page *p)
{
	if (p->dirty) {
		p->dirty = false;
		p->f->nr_dirty--;
		bc->st.dirty--;
	}
}

static void page_set_dirty(struct bcache *bc, struct bc_page *p)
{
	if (!p->dirty) {
		p->dirty = true;
		p->f->nr_dirty++;
		bc->st.dirty++;
	}
}

static void page_free(struct bcache *bc, struct bc_page *p)
{
	struct bc_page **pp = &bc->pages[page_hash(p->f, p->index) & (bc->page_buckets - 1)];

	while (*pp != p)
		pp = &(*pp)->hnext;
	*pp = p->hnext;
	page_set_clean(bc, p);
	list_del(&p->lru);
	list_del(&p->fnode);
	p->f->nr_pages--;
	bc->st.pages--;
	bc->ops->page_free(bc->ctx, p->data);
	bc->ops->free(bc->ctx, p);
}

static void page_touch(struct bcache *bc, struct bc_page *p)
{
	list_del(&p->lru);
	list_add(&p->lru, &bc->lru);
}

/* Drop f's pages at index >= from, dirty or not. */
static void file_drop_pages(struct bcache *bc, struct bc_file *f, u64 from)
{
	struct bc_page *p, *n;

	list_for_each_entry_safe(p, n, &f->pages, fnode)
		if (p->index >= from) {
			page_free(bc, p);
			bc->st.invalidations++;
		}
}

static void file_free(struct bcache *bc, struct bc_file *f)
{
	struct bc_file **pp = &bc->files[f->hash & (bc->file_buckets - 1)];

	file_drop_pages(bc, f, 0);
	while (*pp != f)
		pp = &(*pp)->hnext;
	*pp = f->hnext;
	bc->st.files--;
	bc->ops->free(bc->ctx, f);
}

/* ------------------------------------------------------------------ */
/* Storage calls                                                       */

static int st_call(struct bcache *bc, struct bc_file *f, u16 op, u64 off, u64 len,
		   const void *data, void *reply, u32 reply_max, u32 *got)
{
	struct lego_st_req h;
	u32 dummy;

	memset(&h, 0, sizeof(h));
	h.vnode = f->vnode;
	h.off = off;
	h.len = len;
	h.path_len = f->path_len;
	return bc->ops->st_call(bc->ctx, &f->ep, op, &h, f->path, NULL, data, reply, reply_max,
				got ? got : &dummy);
}

/* The storage node is gone or unreachable: worth a retry later. */
static bool transient(int err)
{
	return err == -ETIMEDOUT || err == -EHOSTUNREACH || err == -ENETUNREACH ||
	       err == -ENOMEM;
}

/* Write the dirty run of f starting at first (whose predecessor is not a
 * dirty cached page) to storage, at most BC_WB_PAGES pages per request. */
static int write_run(struct bcache *bc, struct bc_file *f, struct bc_page *first)
{
	struct bc_page *run[BC_WB_PAGES];
	u32 n = 0;
	u64 idx = first->index;

	for (struct bc_page *p = first; p && p->dirty && n < BC_WB_PAGES;
	     p = page_find(bc, f, idx + n))
		run[n++] = p;
	u64 off = idx * PG;
	int r = 0;
	if (off < f->size) {
		u64 len = n * PG;
		if (len > f->size - off)
			len = f->size - off;
		for (u32 i = 0; i < n; i++)
			memcpy(bc->bounce + i * PG, run[i]->data, PG);
		struct lego_st_count cnt = { 0 };
		u32 got = 0;
		r = st_call(bc, f, LEGO_OP_ST_WRITE, off, len, bc->bounce, &cnt, sizeof(cnt), &got);
		if (r >= 0 && (got < sizeof(cnt) || cnt.value < len))
			r = -ENOSPC;	/* short only when the disk filled */
		bc->st.wb_requests++;
		if (r >= 0) {
			bc->st.writebacks += n;
			f->st_known = false;	/* our write moved its mtime */
		}
	}
	if (r < 0) {
		bc->st.wb_errors++;
		if (!f->wb_err)
			f->wb_err = r;
		if (transient(r))
			return r;
	}
	/* Written, past the end of the file (nothing to write), or lost. */
	for (u32 i = 0; i < n; i++)
		page_set_clean(bc, run[i]);
	return r;
}

/* Write back every dirty page of f. Returns the first error. */
static int file_writeback(struct bcache *bc, struct bc_file *f)
{
	int err = 0;

	/* A run starts at a dirty page whose predecessor is not dirty. A run
	 * longer than BC_WB_PAGES leaves a dirty tail whose predecessor is
	 * now clean; if the list walk already passed it, the next pass takes
	 * it. Every pass cleans at least one run, so this ends. */
	while (f->nr_dirty) {
		struct bc_page *p;
		u32 before = f->nr_dirty;

		list_for_each_entry(p, &f->pages, fnode) {
			if (!p->dirty)
				continue;
			struct bc_page *prev = p->index ? page_find(bc, f, p->index - 1) : NULL;
			if (prev && prev->dirty)
				continue;
			int r = write_run(bc, f, p);	/* changes flags only, not the list */
			if (r < 0 && !err)
				err = r;
			if (r < 0 && transient(r))
				return err;
		}
		if (f->nr_dirty == before)
			break;
	}
	return err;
}

/* Make room for one more page. Prefers a clean page near the LRU tail;
 * otherwise writes the tail's file back and takes the tail. */
static int make_room(struct bcache *bc)
{
	while (bc->st.pages >= bc->max_pages) {
		struct bc_page *victim = NULL;
		struct list_head *pos = bc->lru.prev;

		for (int i = 0; i < EVICT_SCAN && pos != &bc->lru; i++, pos = pos->prev) {
			struct bc_page *p = list_entry(pos, struct bc_page, lru);
			if (!p->dirty) {
				victim = p;
				break;
			}
		}
		if (!victim) {
			victim = list_entry(bc->lru.prev, struct bc_page, lru);
			int r = file_writeback(bc, victim->f);
			if (victim->dirty)	/* storage unreachable: keep the data */
				return r < 0 ? r : -EIO;
		}
		page_free(bc, victim);
		bc->st.evictions++;
	}
	return 0;
}

/* A new zero-filled page of f at index, most recently used. */
static struct bc_page *page_new(struct bcache *bc, struct bc_file *f, u64 index, int *err)
{
	*err = make_room(bc);
	if (*err < 0)
		return NULL;
	struct bc_page *p = bc->ops->zalloc(bc->ctx, sizeof(*p));
	u8 *data = p ? bc->ops->page_alloc(bc->ctx) : NULL;
	if (!data) {
		if (p)
			bc->ops->free(bc->ctx, p);
		*err = -ENOMEM;
		return NULL;
	}
	memset(data, 0, PG);
	p->f = f;
	p->index = index;
	p->data = data;
	u32 b = page_hash(f, index) & (bc->page_buckets - 1);
	p->hnext = bc->pages[b];
	bc->pages[b] = p;
	list_add(&p->lru, &bc->lru);
	list_add(&p->fnode, &f->pages);
	f->nr_pages++;
	bc->st.pages++;
	return p;
}

/* Read page index of f from storage, with up to BC_READAHEAD_PAGES - 1
 * following pages that are inside the file and not cached yet. */
static struct bc_page *page_fill(struct bcache *bc, struct bc_file *f, u64 index, int *err)
{
	struct bc_page *run[BC_READAHEAD_PAGES];
	u32 n = 0;
	u64 last = f->size ? (f->size - 1) / PG : 0;

	do {
		run[n] = page_new(bc, f, index + n, err);
		if (!run[n])
			goto fail;
		n++;
	} while (n < BC_READAHEAD_PAGES && index + n <= last && !page_find(bc, f, index + n));

	u32 got = 0;
	*err = st_call(bc, f, LEGO_OP_ST_READ, index * PG, n * PG, NULL, bc->bounce, n * (u32)PG,
		       &got);
	if (*err < 0)
		goto fail;
	for (u32 i = 0; i < n && i * PG < got; i++) {
		u64 c = got - i * PG;
		memcpy(run[i]->data, bc->bounce + i * PG, c < PG ? c : PG);
	}
	bc->st.misses++;
	bc->st.readahead += n - 1;
	return run[0];
fail:
	while (n)
		page_free(bc, run[--n]);
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */

static struct bc_file *file_new(struct bcache *bc, const struct bc_ep *ep, u32 vnode,
				const char *path)
{
	size_t len = strlen(path);
	struct bc_file *f = bc->ops->zalloc(bc->ctx, sizeof(*f) + len + 1);

	if (!f)
		return NULL;
	INIT_LIST_HEAD(&f->pages);
	f->ep = *ep;
	f->vnode = vnode;
	f->path_len = (u16)len;
	memcpy(f->path, path, len + 1);
	f->hash = file_hash(ep, vnode, path, len);
	u32 b = f->hash & (bc->file_buckets - 1);
	f->hnext = bc->files[b];
	bc->files[b] = f;
	bc->st.files++;
	return f;
}

/* What a STAT of f said: bring the cached state in line. Dirty data is
 * the truth; clean data that storage changed under us goes. */
static void file_seen(struct bcache *bc, struct bc_file *f, const struct lego_st_stat *s)
{
	if (!f->nr_dirty) {
		if (f->st_known && (s->size != f->st_size || s->mtime_ns != f->st_mtime)) {
			file_drop_pages(bc, f, 0);
			bc->st.revalidations++;
		}
		f->size = s->size;
	}
	f->st_size = s->size;
	f->st_mtime = s->mtime_ns;
	f->st_known = true;
	f->checked_ms = bc->ops->now_ms(bc->ctx);
}

/* The cached record of the regular file m->path, checked against storage
 * when it is new or its clean data is stale. Returns 0 with *out, 1 when
 * the path is not a regular file (the caller forwards the request, so the
 * storage node gives its own error), or a negative errno. */
static int file_get(struct bcache *bc, const struct bc_ep *ep, const struct st_msg *m,
		    struct bc_file **out)
{
	struct bc_file *f = file_find(bc, ep, m->h.vnode, m->path);

	if (f && f->st_known &&
	    (f->nr_dirty || bc->ops->now_ms(bc->ctx) - f->checked_ms < bc->revalidate_ms)) {
		*out = f;
		return 0;
	}
	struct lego_st_stat s;
	u32 got = 0;
	struct lego_st_req h;
	memset(&h, 0, sizeof(h));
	h.vnode = m->h.vnode;
	h.path_len = m->h.path_len;
	int r = bc->ops->st_call(bc->ctx, ep, LEGO_OP_ST_STAT, &h, m->path, NULL, NULL, &s,
				 sizeof(s), &got);
	if (r >= 0 && got < sizeof(s))
		r = -EIO;
	if (r < 0) {
		if (f && !transient(r))
			file_free(bc, f);	/* gone (or worse) at the storage node */
		return r;
	}
	if ((s.mode & S_IFMT_) != S_IFREG_) {
		if (f)
			file_free(bc, f);
		return 1;
	}
	if (!f) {
		f = file_new(bc, ep, m->h.vnode, m->path);
		if (!f)
			return -ENOMEM;
	}
	file_seen(bc, f, &s);
	*out = f;
	return 0;
}

/* Files of ep (and vnode) whose path is p or lies below it. */
static bool path_under(const struct bc_file *f, const char *p, size_t n)
{
	if (n == 1 && p[0] == '/')
		return true;
	return f->path_len >= n && !memcmp(f->path, p, n) &&
	       (f->path[n] == '\0' || f->path[n] == '/');
}

/* Write back (wb) or drop (!wb) every file of (ep, vnode) at or under p. */
static int files_under(struct bcache *bc, const struct bc_ep *ep, u32 vnode, const char *p,
		       bool wb)
{
	size_t n = strlen(p);
	int err = 0;

	for (u32 b = 0; b < bc->file_buckets; b++) {
		struct bc_file *f = bc->files[b];
		while (f) {
			struct bc_file *next = f->hnext;
			if (f->vnode == vnode && ep_eq(&f->ep, ep) && path_under(f, p, n)) {
				if (wb) {
					int r = file_writeback(bc, f);
					if (r < 0 && !err)
						err = r;
				} else {
					file_free(bc, f);
				}
			}
			f = next;
		}
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Requests                                                            */

static int forward(struct bcache *bc, const struct bc_ep *ep, const struct st_msg *m, void *reply,
		   u32 reply_max, u32 *reply_len)
{
	/* st_decode keeps SETATTR's data decoded, not in place. */
	const void *data = m->opcode == LEGO_OP_ST_SETATTR ? (const void *)&m->attr : m->data;

	bc->st.forwarded++;
	return bc->ops->st_call(bc->ctx, ep, m->opcode, &m->h, m->h.path_len ? m->path : NULL,
				m->h.path2_len ? m->path2 : NULL, data, reply, reply_max, reply_len);
}

static int do_read(struct bcache *bc, const struct bc_ep *ep, const struct st_msg *m, u8 *reply,
		   u32 reply_max, u32 *reply_len)
{
	struct bc_file *f;
	int r = file_get(bc, ep, m, &f);

	if (r == 1)
		return forward(bc, ep, m, reply, reply_max, reply_len);
	if (r < 0)
		return r;
	u64 off = m->h.off, len = m->h.len;
	if (len > reply_max)
		return -EINVAL;
	if (off >= f->size) {
		*reply_len = 0;
		return 0;
	}
	if (len > f->size - off)
		len = f->size - off;
	u64 done = 0;
	while (done < len) {
		u64 pos = off + done, idx = pos / PG, po = pos % PG;
		u64 c = PG - po < len - done ? PG - po : len - done;
		struct bc_page *p = page_find(bc, f, idx);
		if (p) {
			bc->st.hits++;
			page_touch(bc, p);
		} else if (!(p = page_fill(bc, f, idx, &r))) {
			return r;
		}
		memcpy(reply + done, p->data + po, c);
		done += c;
	}
	*reply_len = (u32)len;
	return 0;
}

static int do_write(struct bcache *bc, const struct bc_ep *ep, const struct st_msg *m, void *reply,
		    u32 reply_max, u32 *reply_len)
{
	struct bc_file *f;
	int r;

	if (reply_max < sizeof(struct lego_st_count))
		return -EINVAL;
	if (m->h.off > LEGO_ST_MAX_FILE_SIZE || m->data_len > LEGO_ST_MAX_FILE_SIZE - m->h.off)
		return -EFBIG;
	r = file_get(bc, ep, m, &f);
	if (r == 1)
		return forward(bc, ep, m, reply, reply_max, reply_len);
	if (r < 0)
		return r;
	const u8 *data = m->data;
	u64 off = m->h.off, len = m->data_len, done = 0;
	while (done < len) {
		u64 pos = off + done, idx = pos / PG, po = pos % PG;
		u64 c = PG - po < len - done ? PG - po : len - done;
		struct bc_page *p = page_find(bc, f, idx);
		if (p) {
			bc->st.hits++;
			page_touch(bc, p);
		} else if (c == PG || idx * PG >= f->size) {
			p = page_new(bc, f, idx, &r);	/* nothing to keep from storage */
		} else {
			p = page_fill(bc, f, idx, &r);
		}
		if (!p)
			break;
		memcpy(p->data + po, data + done, c);
		page_set_dirty(bc, p);
		done += c;
		if (pos + c > f->size)
			f->size = pos + c;
	}
	if (!done)
		return r;
	/* Short only when memory ran out (or storage was unreachable for a
	 * page that had to be read); the count says how far it got. */
	struct lego_st_count cnt = { done };
	memcpy(reply, &cnt, sizeof(cnt));
	*reply_len = sizeof(cnt);
	if (bc->st.dirty > bc->max_dirty)
		file_writeback(bc, f);	/* errors stay on the file for FSYNC */
	return 0;
}

static int do_stat(struct bcache *bc, const struct bc_ep *ep, const struct st_msg *m, void *reply,
		   u32 reply_max, u32 *reply_len)
{
	int r = forward(bc, ep, m, reply, reply_max, reply_len);
	struct bc_file *f = file_find(bc, ep, m->h.vnode, m->path);

	if (!f)
		return r;
	if (r < 0) {
		if (!transient(r))
			file_free(bc, f);
		return r;
	}
	struct lego_st_stat s;
	if (*reply_len < sizeof(s))
		return r;
	memcpy(&s, reply, sizeof(s));
	if ((s.mode & S_IFMT_) != S_IFREG_) {
		file_free(bc, f);
		return r;
	}
	file_seen(bc, f, &s);
	if (s.size != f->size) {	/* dirty data beyond (or a cut below) storage's size */
		s.size = f->size;
		memcpy(reply, &s, sizeof(s));
	}
	return r;
}

static int do_truncate(struct bcache *bc, const struct bc_ep *ep, const struct st_msg *m,
		       void *reply, u32 reply_max, u32 *reply_len)
{
	int r = forward(bc, ep, m, reply, reply_max, reply_len);
	struct bc_file *f = file_find(bc, ep, m->h.vnode, m->path);

	if (r < 0 || !f)
		return r;
	u64 size = m->h.off;
	file_drop_pages(bc, f, (size + PG - 1) / PG);
	struct bc_page *p = size % PG ? page_find(bc, f, size / PG) : NULL;
	if (p)
		memset(p->data + size % PG, 0, PG - size % PG);
	f->size = size;
	f->st_known = false;
	return r;
}

static int do_append(struct bcache *bc, const struct bc_ep *ep, const struct st_msg *m,
		     void *reply, u32 reply_max, u32 *reply_len)
{
	struct bc_file *f = file_find(bc, ep, m->h.vnode, m->path);

	/* Storage appends at its own size, which must be the file's. */
	if (f) {
		int r = file_writeback(bc, f);
		if (r < 0 && transient(r))
			return r;
	}
	int r = forward(bc, ep, m, reply, reply_max, reply_len);
	if (r < 0 || !f || *reply_len < sizeof(struct lego_st_count))
		return r;
	struct lego_st_count at;
	memcpy(&at, reply, sizeof(at));
	file_drop_pages(bc, f, at.value / PG);
	f->size = at.value + m->data_len;
	f->st_known = false;
	return r;
}

static int do_fsync(struct bcache *bc, const struct bc_ep *ep, const struct st_msg *m,
		    void *reply, u32 reply_max, u32 *reply_len)
{
	int err = 0;

	for (u32 b = 0; b < bc->file_buckets; b++)
		for (struct bc_file *f = bc->files[b]; f; f = f->hnext) {
			if (!ep_eq(&f->ep, ep))
				continue;
			if (m->has_path && (f->vnode != m->h.vnode || strcmp(f->path, m->path)))
				continue;
			int r = file_writeback(bc, f);
			if (r < 0 && !err)
				err = r;
			if (f->wb_err && !transient(f->wb_err)) {
				if (!err)
					err = f->wb_err;
				f->wb_err = 0;	/* reported once, as Linux does */
			} else if (!f->nr_dirty) {
				f->wb_err = 0;
			}
		}
	if (err < 0)
		return err;
	return forward(bc, ep, m, reply, reply_max, reply_len);
}

int bcache_serve(struct bcache *bc, const struct bc_ep *ep, const struct st_msg *m, void *reply,
		 u32 reply_max, u32 *reply_len)
{
	struct bc_file *f;
	int r;

	*reply_len = 0;
	bc->st.requests++;
	switch (m->opcode) {
	case LEGO_OP_ST_READ:
		return do_read(bc, ep, m, reply, reply_max, reply_len);
	case LEGO_OP_ST_WRITE:
		return do_write(bc, ep, m, reply, reply_max, reply_len);
	case LEGO_OP_ST_STAT:
		return do_stat(bc, ep, m, reply, reply_max, reply_len);
	case LEGO_OP_ST_TRUNCATE:
		return do_truncate(bc, ep, m, reply, reply_max, reply_len);
	case LEGO_OP_ST_APPEND:
		return do_append(bc, ep, m, reply, reply_max, reply_len);
	case LEGO_OP_ST_FSYNC:
		return do_fsync(bc, ep, m, reply, reply_max, reply_len);
	case LEGO_OP_ST_CREATE:
		r = forward(bc, ep, m, reply, reply_max, reply_len);
		f = file_find(bc, ep, m->h.vnode, m->path);
		if (r >= 0 && f && (m->h.flags & LEGO_ST_O_TRUNC)) {
			file_drop_pages(bc, f, 0);
			f->size = 0;
			f->st_known = false;
		}
		return r;
	case LEGO_OP_ST_UNLINK:
		r = forward(bc, ep, m, reply, reply_max, reply_len);
		f = file_find(bc, ep, m->h.vnode, m->path);
		if (r >= 0 && f)
			file_free(bc, f);
		return r;
	case LEGO_OP_ST_RENAME:
		/* The data must be at the storage node before its name moves;
		 * afterwards the records under both names are stale. */
		r = files_under(bc, ep, m->h.vnode, m->path, true);
		if (r < 0 && transient(r))
			return r;
		r = forward(bc, ep, m, reply, reply_max, reply_len);
		if (r >= 0) {
			files_under(bc, ep, m->h.vnode, m->path, false);
			files_under(bc, ep, m->h.vnode, m->path2, false);
		}
		return r;
	case LEGO_OP_ST_SETATTR:
		r = forward(bc, ep, m, reply, reply_max, reply_len);
		f = file_find(bc, ep, m->h.vnode, m->path);
		if (r >= 0 && f)
			f->st_known = false;	/* its mtime may have moved */
		return r;
	default:	/* MKDIR, RMDIR, READDIR, SYMLINK, READLINK: nothing cached */
		return forward(bc, ep, m, reply, reply_max, reply_len);
	}
}

int bcache_flush(struct bcache *bc)
{
	int err = 0;

	for (u32 b = 0; b < bc->file_buckets; b++) {
		struct bc_file *f = bc->files[b];
		while (f) {
			struct bc_file *next = f->hnext;
			int r = file_writeback(bc, f);
			if (r < 0 && !err)
				err = r;
			if (!f->nr_pages && !f->nr_dirty && !f->wb_err)
				file_free(bc, f);
			f = next;
		}
	}
	return err;
}

int bcache_init(struct bcache *bc, const struct bcache_ops *ops, void *ctx, u32 max_pages,
		u64 revalidate_ms)
{
	memset(bc, 0, sizeof(*bc));
	if (max_pages < MIN_PAGES)
		return -EINVAL;
	bc->ops = ops;
	bc->ctx = ctx;
	bc->max_pages = max_pages;
	bc->max_dirty = max_pages / 2;
	bc->revalidate_ms = revalidate_ms;
	bc->page_buckets = 1;
	while (bc->page_buckets < max_pages)
		bc->page_buckets <<= 1;
	bc->file_buckets = bc->page_buckets / 4;
	INIT_LIST_HEAD(&bc->lru);
	bc->files = ops->zalloc(ctx, bc->file_buckets * sizeof(*bc->files));
	bc->pages = ops->zalloc(ctx, bc->page_buckets * sizeof(*bc->pages));
	bc->bounce = ops->zalloc(ctx, LEGO_ST_IO_MAX);
	if (!bc->files || !bc->pages || !bc->bounce) {
		if (bc->files)
			ops->free(ctx, bc->files);
		if (bc->pages)
			ops->free(ctx, bc->pages);
		if (bc->bounce)
			ops->free(ctx, bc->bounce);
		return -ENOMEM;
	}
	return 0;
}

void bcache_destroy(struct bcache *bc)
{
	bcache_flush(bc);
	for (u32 b = 0; b < bc->file_buckets; b++)
		while (bc->files[b])
			file_free(bc, bc->files[b]);
	bc->ops->free(bc->ctx, bc->files);
	bc->ops->free(bc->ctx, bc->pages);
	bc->ops->free(bc->ctx, bc->bounce);
}
