/* LegoFS namespaces: the vNode table and each vNode's flat path hash table
 * (linear hashing, Litwin 1980: buckets split one at a time as the table
 * grows, so no insert ever rehashes the whole table). A bucket is a chain
 * of blocks holding variable-size entries {hash, ino, type, path}. See
 * docs/storage.md §2.3. */
#define LFS_INTERNAL
#include <lego/legofs.h>
#include <lego/errno.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

static inline struct lfs_bhdr *hdr(struct lfs_buf *b)
{
	return (struct lfs_bhdr *)b->data;
}

static inline u64 *ptrs(struct lfs_buf *b)
{
	return (u64 *)(b->data + LFS_HDR_SIZE);
}

static inline struct lfs_dent *dent_at(struct lfs_buf *b, u32 off)
{
	return (struct lfs_dent *)(b->data + LFS_HDR_SIZE + off);
}

static int vcorrupt(struct lfs_fs *fs, u32 id, const char *what)
{
	lfs_fault(fs, "vnode ", "", id, what);
	return -EIO;
}

/* ---------------------------------------------------------------------- */
/* vNode table                                                             */

static int vrec_ok(struct lfs_fs *fs, const struct lfs_vrec *r)
{
	if (r->level > 18 || r->split >= (1u << r->level) ||
	    lfs_ht_nbuckets(r) > LFS_HT_MAX_BUCKETS || r->dirtop < fs->sb.data_start ||
	    r->dirtop >= fs->sb.nblocks)
		return vcorrupt(fs, r->id, ": bad table record");
	return 0;
}

/* Find vNode id (want_free: the first unused slot instead). */
static int vnode_scan(struct lfs_fs *fs, u32 id, bool want_free, struct lfs_vref *v)
{
	v->b = NULL;
	v->r = NULL;
	for (u32 k = 0; k < fs->sb.vtab_blocks; k++) {
		struct lfs_buf *b;
		int r = lfs_bread(fs, fs->sb.vtab_start + k, LFS_BT_VTAB, 0, &b);
		if (r)
			return r;
		struct lfs_vrec *rec = (struct lfs_vrec *)(b->data + LFS_HDR_SIZE);
		for (u32 i = 0; i < LFS_VRECS_PER_BLOCK; i++) {
			if ((u64)k * LFS_VRECS_PER_BLOCK + i >= fs->sb.max_vnodes)
				break;
			bool used = rec[i].flags & LFS_VREC_USED;
			if (want_free ? used : (!used || rec[i].id != id))
				continue;
			if (used && (r = vrec_ok(fs, &rec[i]))) {
				lfs_bput(fs, b);
				return r;
			}
			v->b = b;
			v->r = &rec[i];
			return 0;
		}
		lfs_bput(fs, b);
	}
	return want_free ? -ENOSPC : -ESTALE;
}

int lfs_vnode_get(struct lfs_fs *fs, u32 id, struct lfs_vref *v)
{
	if (id == LFS_VNODE_INVALID) {
		v->b = NULL;
		return -ESTALE;
	}
	return vnode_scan(fs, id, false, v);
}

int lfs_vnode_slot_free(struct lfs_fs *fs, struct lfs_vref *v)
{
	return vnode_scan(fs, 0, true, v);
}

void lfs_vnode_put(struct lfs_fs *fs, struct lfs_vref *v)
{
	lfs_bput(fs, v->b);
	v->b = NULL;
	v->r = NULL;
}

/* ---------------------------------------------------------------------- */
/* Bucket directory                                                        */

u32 lfs_ht_nbuckets(const struct lfs_vrec *r)
{
	return (1u << r->level) + r->split;
}

u32 lfs_ht_bucket_of(const struct lfs_vrec *r, u64 hash)
{
	u32 b = (u32)(hash & ((1ULL << r->level) - 1));

	if (b < r->split)
		b = (u32)(hash & ((1ULL << (r->level + 1)) - 1));
	return b;
}

/* The directory block holding bucket idx's pointer (created if asked). */
static int dir_block(struct lfs_fs *fs, struct lfs_vref *v, u32 idx, bool create,
		     struct lfs_buf **out)
{
	struct lfs_buf *top, *d;
	u32 id = v->r->id;
	int r = lfs_bread(fs, v->r->dirtop, LFS_BT_HTDIR, id, &top);

	*out = NULL;
	if (r)
		return r;
	if (hdr(top)->level != 1) {
		lfs_bput(fs, top);
		return vcorrupt(fs, id, ": bucket directory top of the wrong level");
	}
	u64 p = ptrs(top)[idx / LFS_PTRS_PER_BLOCK];
	if (!p) {
		if (!create) {
			lfs_bput(fs, top);
			return vcorrupt(fs, id, ": bucket directory hole");
		}
		u32 got;
		r = lfs_balloc(fs, top->blk + 1, 1, &p, &got);
		if (!r)
			r = lfs_bmodify(fs, top);
		if (!r)
			r = lfs_bnew(fs, p, LFS_BT_HTDIR, id, 0, &d);
		if (!r)
			ptrs(top)[idx / LFS_PTRS_PER_BLOCK] = p;
		lfs_bput(fs, top);
		if (r)
			return r;
		*out = d;
		return 0;
	}
	lfs_bput(fs, top);
	r = lfs_bread(fs, p, LFS_BT_HTDIR, id, &d);
	if (r)
		return r;
	if (hdr(d)->level != 0) {
		lfs_bput(fs, d);
		return vcorrupt(fs, id, ": bucket directory block of the wrong level");
	}
	*out = d;
	return 0;
}

int lfs_ht_bucket_blk(struct lfs_fs *fs, struct lfs_vref *v, u32 idx, u64 *blk)
{
	struct lfs_buf *d;
	int r = dir_block(fs, v, idx, false, &d);

	if (r)
		return r;
	*blk = ptrs(d)[idx % LFS_PTRS_PER_BLOCK];
	lfs_bput(fs, d);
	if (!*blk)
		return vcorrupt(fs, v->r->id, ": missing bucket");
	return 0;
}

static int set_bucket_blk(struct lfs_fs *fs, struct lfs_vref *v, u32 idx, u64 blk)
{
	struct lfs_buf *d;
	int r = dir_block(fs, v, idx, true, &d);

	if (r)
		return r;
	r = lfs_bmodify(fs, d);
	if (!r)
		ptrs(d)[idx % LFS_PTRS_PER_BLOCK] = blk;
	lfs_bput(fs, d);
	return r;
}

/* ---------------------------------------------------------------------- */
/* Bucket blocks                                                           */

/* Check the entries of a bucket block: well formed, count and fill agree. */
int lfs_ht_check_block(struct lfs_fs *fs, struct lfs_buf *b)
{
	struct lfs_bhdr *h = hdr(b);
	u32 off = 0, n = 0;

	while (off < h->used) {
		struct lfs_dent *d = dent_at(b, off);
		if (off + 16 > h->used || d->len == 0 || d->len >= LFS_PATH_MAX ||
		    off + LFS_DENT_SIZE(d->len) > h->used)
			goto bad;
		if (d->type != LFS_DT_REG && d->type != LFS_DT_DIR && d->type != LFS_DT_LNK)
			goto bad;
		off += LFS_DENT_SIZE(d->len);
		n++;
	}
	if (n == h->count)
		return 0;
bad:
	lfs_fault(fs, "bucket block ", "", b->blk, ": malformed entries");
	return -EIO;
}

static int bucket_read(struct lfs_fs *fs, struct lfs_vref *v, u64 blk, struct lfs_buf **out)
{
	int r = lfs_bread(fs, blk, LFS_BT_BUCKET, v->r->id, out);

	if (r)
		return r;
	r = lfs_ht_check_block(fs, *out);
	if (r) {
		lfs_bput(fs, *out);
		*out = NULL;
	}
	return r;
}

/* Read block blk of one of v's bucket chains. *guard starts at the device
 * size for each chain: a chain with more blocks than that loops, which
 * only corruption can cause. */
static int chain_read(struct lfs_fs *fs, struct lfs_vref *v, u64 blk, u64 *guard,
		      struct lfs_buf **b)
{
	if (!(*guard)--)
		return vcorrupt(fs, v->r->id, ": bucket chain loops");
	return bucket_read(fs, v, blk, b);
}

struct found {
	struct lfs_buf *b;		/* block holding the entry (held) */
	u32 off;
	u64 prev;			/* previous block of the chain, 0: b is the primary */
};

static int chain_find(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len,
		      u64 h, struct found *f)
{
	u64 blk, prev = 0;
	u64 guard = fs->sb.nblocks;
	int r = lfs_ht_bucket_blk(fs, v, lfs_ht_bucket_of(v->r, h), &blk);

	f->b = NULL;
	if (r)
		return r;
	while (blk) {
		struct lfs_buf *b;
		r = chain_read(fs, v, blk, &guard, &b);
		if (r)
			return r;
		for (u32 off = 0; off < hdr(b)->used; off += LFS_DENT_SIZE(dent_at(b, off)->len)) {
			struct lfs_dent *d = dent_at(b, off);
			if (d->hash == h && d->len == len && !memcmp(d->path, path, len)) {
				f->b = b;
				f->off = off;
				f->prev = prev;
				return 0;
			}
		}
		prev = blk;
		blk = hdr(b)->next;
		lfs_bput(fs, b);
	}
	return -ENOENT;
}

int lfs_ht_lookup(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len,
		  struct lfs_hent *out)
{
	struct found f;
	int r = chain_find(fs, v, path, len, lfs_hash64(path, len), &f);

	if (r)
		return r;
	struct lfs_dent *d = dent_at(f.b, f.off);
	out->ino = d->ino;
	out->type = d->type;
	lfs_bput(fs, f.b);
	return 0;
}

int lfs_ht_set_ino(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len,
		   u32 ino)
{
	struct found f;
	int r = chain_find(fs, v, path, len, lfs_hash64(path, len), &f);

	if (r)
		return r;
	r = lfs_bmodify(fs, f.b);
	if (!r)
		dent_at(f.b, f.off)->ino = ino;
	lfs_bput(fs, f.b);
	return r;
}

static void put_dent(struct lfs_buf *b, u64 h, const char *path, size_t len, u32 ino, u8 type)
{
	struct lfs_bhdr *bh = hdr(b);
	struct lfs_dent *d = dent_at(b, bh->used);
	u32 sz = LFS_DENT_SIZE(len);

	memset(d, 0, sz);
	d->hash = h;
	d->ino = ino;
	d->len = (u16)len;
	d->type = type;
	memcpy(d->path, path, len);
	bh->used += sz;
	bh->count++;
}

static int new_bucket_block(struct lfs_fs *fs, struct lfs_vref *v, u64 goal, struct lfs_buf **out)
{
	u64 nb;
	u32 got;
	int r = lfs_balloc(fs, goal, 1, &nb, &got);

	if (r)
		return r;
	return lfs_bnew(fs, nb, LFS_BT_BUCKET, v->r->id, 0, out);
}

/* Split bucket `split` into itself and bucket 2^level + split. */
static int split_one(struct lfs_fs *fs, struct lfs_vref *v)
{
	struct lfs_vrec *rec = v->r;
	u32 lvl = rec->level, old = rec->split, nidx = (1u << lvl) + rec->split;
	struct lfs_buf *tail, *b;
	u64 blk, prev;
	int r;

	r = lfs_ht_bucket_blk(fs, v, old, &blk);
	if (r)
		return r;
	r = new_bucket_block(fs, v, blk + 1, &tail);
	if (r)
		return r;
	r = set_bucket_blk(fs, v, nidx, tail->blk);
	for (u64 cur = blk; !r && cur;) {
		r = bucket_read(fs, v, cur, &b);
		if (r)
			break;
		r = lfs_bmodify(fs, b);
		u32 w = 0, kept = 0, used = hdr(b)->used;
		for (u32 off = 0; !r && off < used;) {
			struct lfs_dent *d = dent_at(b, off);
			u32 sz = LFS_DENT_SIZE(d->len);
			if ((d->hash >> lvl) & 1) {
				if (LFS_PAYLOAD - hdr(tail)->used < sz) {
					struct lfs_buf *nt;
					r = new_bucket_block(fs, v, tail->blk + 1, &nt);
					if (r)
						break;
					hdr(tail)->next = nt->blk;
					lfs_bput(fs, tail);
					tail = nt;
				}
				put_dent(tail, d->hash, d->path, d->len, d->ino, d->type);
			} else {
				if (w != off)
					memmove(dent_at(b, w), d, sz);
				w += sz;
				kept++;
			}
			off += sz;
		}
		if (!r) {
			memset(dent_at(b, w), 0, used - w);
			hdr(b)->used = w;
			hdr(b)->count = kept;
		}
		cur = hdr(b)->next;
		lfs_bput(fs, b);
	}
	lfs_bput(fs, tail);
	/* Drop overflow blocks the split emptied. */
	prev = blk;
	while (!r) {
		struct lfs_buf *pb;
		r = bucket_read(fs, v, prev, &pb);
		if (r)
			break;
		u64 cur = hdr(pb)->next;
		if (!cur) {
			lfs_bput(fs, pb);
			break;
		}
		r = bucket_read(fs, v, cur, &b);
		if (r) {
			lfs_bput(fs, pb);
			break;
		}
		if (hdr(b)->count == 0) {
			r = lfs_bmodify(fs, pb);
			if (!r) {
				hdr(pb)->next = hdr(b)->next;
				r = lfs_bfree(fs, cur, 1);
			}
		} else {
			prev = cur;
		}
		lfs_bput(fs, b);
		lfs_bput(fs, pb);
	}
	if (r)
		return r;
	r = lfs_bmodify(fs, v->b);
	if (r)
		return r;
	if (++rec->split == (1u << lvl)) {
		rec->level++;
		rec->split = 0;
	}
	return 0;
}

int lfs_ht_insert(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len,
		  u32 ino, u8 type)
{
	u64 h = lfs_hash64(path, len);
	u32 sz = LFS_DENT_SIZE(len);
	u64 blk0, blk;
	struct lfs_buf *b = NULL;
	int r = lfs_ht_bucket_blk(fs, v, lfs_ht_bucket_of(v->r, h), &blk0);

	if (r)
		return r;
	for (blk = blk0; blk;) {
		r = bucket_read(fs, v, blk, &b);
		if (r)
			return r;
		if (LFS_PAYLOAD - hdr(b)->used >= sz)
			break;
		blk = hdr(b)->next;
		lfs_bput(fs, b);
		b = NULL;
	}
	if (!b) {
		struct lfs_buf *b0;
		r = new_bucket_block(fs, v, blk0 + 1, &b);
		if (r)
			return r;
		r = bucket_read(fs, v, blk0, &b0);
		if (!r) {
			r = lfs_bmodify(fs, b0);
			if (!r) {
				hdr(b)->next = hdr(b0)->next;
				hdr(b0)->next = b->blk;
			}
			lfs_bput(fs, b0);
		}
	} else {
		r = lfs_bmodify(fs, b);
	}
	if (!r)
		put_dent(b, h, path, len, ino, type);
	lfs_bput(fs, b);
	if (!r)
		r = lfs_bmodify(fs, v->b);
	if (r)
		return r;
	v->r->nentries++;
	if (v->r->nentries > (u64)lfs_ht_nbuckets(v->r) * LFS_HT_LOAD &&
	    lfs_ht_nbuckets(v->r) < LFS_HT_MAX_BUCKETS)
		r = split_one(fs, v);
	return r;
}

int lfs_ht_remove(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len)
{
	struct found f;
	int r = chain_find(fs, v, path, len, lfs_hash64(path, len), &f);

	if (r)
		return r;
	struct lfs_bhdr *h = hdr(f.b);
	u32 sz = LFS_DENT_SIZE(dent_at(f.b, f.off)->len);
	r = lfs_bmodify(fs, f.b);
	if (!r) {
		memmove(dent_at(f.b, f.off), dent_at(f.b, f.off + sz), h->used - f.off - sz);
		h->used -= sz;
		memset(dent_at(f.b, h->used), 0, sz);
		h->count--;
	}
	if (!r && h->count == 0 && f.prev) {
		struct lfs_buf *pb;
		r = bucket_read(fs, v, f.prev, &pb);
		if (!r) {
			r = lfs_bmodify(fs, pb);
			if (!r) {
				hdr(pb)->next = h->next;
				r = lfs_bfree(fs, f.b->blk, 1);
			}
			lfs_bput(fs, pb);
		}
	}
	lfs_bput(fs, f.b);
	if (!r)
		r = lfs_bmodify(fs, v->b);
	if (!r)
		v->r->nentries--;
	return r;
}

int lfs_ht_foreach(struct lfs_fs *fs, struct lfs_vref *v, lfs_ht_cb cb, void *ctx)
{
	u32 nb = lfs_ht_nbuckets(v->r);

	for (u32 i = 0; i < nb; i++) {
		u64 blk, guard = fs->sb.nblocks;
		int r = lfs_ht_bucket_blk(fs, v, i, &blk);
		if (r)
			return r;
		while (blk) {
			struct lfs_buf *b;
			r = chain_read(fs, v, blk, &guard, &b);
			if (r)
				return r;
			for (u32 off = 0; off < hdr(b)->used;) {
				struct lfs_dent *d = dent_at(b, off);
				r = cb(fs, ctx, d);
				if (r) {
					lfs_bput(fs, b);
					return r;
				}
				off += LFS_DENT_SIZE(d->len);
			}
			blk = hdr(b)->next;
			lfs_bput(fs, b);
		}
	}
	return 0;
}

/* An empty table: one bucket. */
int lfs_ht_init(struct lfs_fs *fs, struct lfs_vref *v)
{
	struct lfs_buf *top, *b;
	u64 tb;
	u32 got;
	int r = lfs_balloc(fs, 0, 1, &tb, &got);

	if (r)
		return r;
	r = lfs_bmodify(fs, v->b);
	if (r)
		return r;
	r = lfs_bnew(fs, tb, LFS_BT_HTDIR, v->r->id, 1, &top);
	if (r)
		return r;
	lfs_bput(fs, top);
	v->r->dirtop = tb;
	v->r->level = 0;
	v->r->split = 0;
	v->r->nentries = 0;
	r = new_bucket_block(fs, v, tb + 1, &b);
	if (r)
		return r;
	u64 blk = b->blk;
	lfs_bput(fs, b);
	return set_bucket_blk(fs, v, 0, blk);
}

/* Give dst (a fresh record with its id set) a block-for-block copy of
 * src's table. Reference counts are the caller's business. */
int lfs_ht_clone(struct lfs_fs *fs, struct lfs_vref *src, struct lfs_vref *dst)
{
	int r = lfs_ht_init(fs, dst);
	u32 nb = lfs_ht_nbuckets(src->r);

	if (r)
		return r;
	for (u32 i = 0; i < nb; i++) {
		u64 sblk, guard = fs->sb.nblocks, dblk0 = 0;
		struct lfs_buf *prev = NULL;
		r = lfs_ht_bucket_blk(fs, src, i, &sblk);
		if (r)
			return r;
		if (i == 0) {
			r = lfs_ht_bucket_blk(fs, dst, 0, &dblk0);
			if (r)
				return r;
		}
		while (sblk) {
			struct lfs_buf *sb, *db = NULL;
			r = chain_read(fs, src, sblk, &guard, &sb);
			if (r) {
				lfs_bput(fs, prev);
				return r;
			}
			if (dblk0) {
				r = bucket_read(fs, dst, dblk0, &db);
				if (!r)
					r = lfs_bmodify(fs, db);
				dblk0 = 0;
			} else {
				r = new_bucket_block(fs, dst, prev ? prev->blk + 1 : 0, &db);
				if (!r && !prev)
					r = set_bucket_blk(fs, dst, i, db->blk);
			}
			if (!r) {
				memcpy(db->data + LFS_HDR_SIZE, sb->data + LFS_HDR_SIZE, LFS_PAYLOAD);
				hdr(db)->count = hdr(sb)->count;
				hdr(db)->used = hdr(sb)->used;
				hdr(db)->next = 0;
				if (prev)
					hdr(prev)->next = db->blk;
			} else if (db) {
				lfs_bput(fs, db);
				db = NULL;
			}
			sblk = hdr(sb)->next;
			lfs_bput(fs, sb);
			lfs_bput(fs, prev);
			prev = db;
			if (r)
				return r;
		}
		lfs_bput(fs, prev);
	}
	r = lfs_bmodify(fs, dst->b);
	if (r)
		return r;
	dst->r->level = src->r->level;
	dst->r->split = src->r->split;
	dst->r->nentries = src->r->nentries;
	return 0;
}

/* Free every block of v's table (the entries' inodes are the caller's). */
int lfs_ht_free(struct lfs_fs *fs, struct lfs_vref *v)
{
	u32 nb = lfs_ht_nbuckets(v->r);
	struct lfs_buf *top;
	int r;

	for (u32 i = 0; i < nb; i++) {
		u64 blk, guard = fs->sb.nblocks;
		r = lfs_ht_bucket_blk(fs, v, i, &blk);
		if (r)
			return r;
		while (blk) {
			struct lfs_buf *b;
			r = chain_read(fs, v, blk, &guard, &b);
			if (r)
				return r;
			u64 next = hdr(b)->next;
			lfs_bput(fs, b);
			r = lfs_bfree(fs, blk, 1);
			if (r)
				return r;
			blk = next;
		}
	}
	r = lfs_bread(fs, v->r->dirtop, LFS_BT_HTDIR, v->r->id, &top);
	if (r)
		return r;
	for (u32 t = 0; t < LFS_PTRS_PER_BLOCK && !r; t++)
		if (ptrs(top)[t])
			r = lfs_bfree(fs, ptrs(top)[t], 1);
	u64 tb = top->blk;
	lfs_bput(fs, top);
	if (!r)
		r = lfs_bfree(fs, tb, 1);
	return r;
}
