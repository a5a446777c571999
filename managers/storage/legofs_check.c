/* LegoFS consistency check (fsck): rebuilds, from the namespaces alone,
 * which blocks are in use and how often each inode is referenced, and
 * compares that with the allocation bitmap, the reference counts, the
 * directory child counts and the in-memory free counters. Read-only. */
#define LFS_INTERNAL
#include <lego/legofs.h>
#include <lego/errno.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

#define CHUNK (64u * 1024)

/* A large zeroed array in 64 KiB pieces. */
struct carr {
	u8 **c;
	u32 n;
};

static int carr_init(struct lfs_fs *fs, struct carr *a, u64 bytes)
{
	a->n = (u32)DIV_ROUND_UP(bytes, CHUNK);
	a->c = lfs_zalloc(fs, (size_t)a->n * sizeof(*a->c));
	if (!a->c)
		return -ENOMEM;
	for (u32 i = 0; i < a->n; i++) {
		a->c[i] = lfs_zalloc(fs, CHUNK);
		if (!a->c[i])
			return -ENOMEM;
	}
	return 0;
}

static void carr_free(struct lfs_fs *fs, struct carr *a)
{
	for (u32 i = 0; a->c && i < a->n; i++)
		lfs_free(fs, a->c[i]);
	lfs_free(fs, a->c);
	a->c = NULL;
}

static inline void *carr_at(struct carr *a, u64 off)
{
	return a->c[off / CHUNK] + off % CHUNK;
}

struct chk {
	struct lfs_check_stats st;
	struct carr used;		/* 1 bit per block */
	struct carr refs;		/* u32 per inode: namespace references */
	struct carr types;		/* u8 per inode: entry type seen */
	struct carr kids, subs;		/* u32 per inode: children in the vNode being checked */
	struct lfs_vref *v;
	u32 bucket;
	u64 entries;
	/* inode walk */
	u32 ino;
	u64 nblocks, ndata, max_end;
};

static int bad(struct lfs_fs *fs, const char *a, const char *b, u64 n, const char *c)
{
	lfs_fault(fs, a, b, n, c);
	return -EUCLEAN;
}

static int mark(struct lfs_fs *fs, struct chk *k, u64 blk, u64 n, const char *what)
{
	if (blk < fs->sb.data_start || blk + n > fs->sb.nblocks || blk + n < blk)
		return bad(fs, what, " points outside the data area: block ", blk, NULL);
	for (u64 x = blk; x < blk + n; x++) {
		u8 *p = carr_at(&k->used, x / 8);
		if (*p & (1u << (x % 8)))
			return bad(fs, what, " uses a block used twice: ", x, NULL);
		*p |= (u8)(1u << (x % 8));
	}
	return 0;
}

static u32 *u32_at(struct carr *a, u32 ino)
{
	return carr_at(a, (u64)ino * 4);
}

static int entry_cb(struct lfs_fs *fs, void *ctx, const struct lfs_dent *d)
{
	struct chk *k = ctx;
	struct lfs_hent pe;
	u32 id = k->v->r->id;
	int r;

	k->entries++;
	if (lfs_path_check(d->path, d->len))
		return bad(fs, "vnode ", "", id, ": malformed path in the table");
	if (d->hash != lfs_hash64(d->path, d->len) ||
	    lfs_ht_bucket_of(k->v->r, d->hash) != k->bucket)
		return bad(fs, "vnode ", "", id, ": entry hashed into the wrong bucket");
	if (d->ino == 0 || d->ino >= fs->sb.ninodes)
		return bad(fs, "vnode ", "", id, ": entry with a bad inode number");
	u8 *t = carr_at(&k->types, d->ino);
	if (*t && *t != d->type)
		return bad(fs, "inode ", "", d->ino, ": referenced as different types");
	*t = d->type;
	(*u32_at(&k->refs, d->ino))++;
	if (d->len == 1) {
		if (d->type != LFS_DT_DIR)
			return bad(fs, "vnode ", "", id, ": \"/\" is not a directory");
		return 0;
	}
	size_t pl = d->len;
	while (pl > 1 && d->path[pl - 1] != '/')
		pl--;
	pl = pl > 1 ? pl - 1 : 1;
	r = lfs_ht_lookup(fs, k->v, d->path, pl, &pe);
	if (r == -ENOENT || (!r && pe.type != LFS_DT_DIR))
		return bad(fs, "vnode ", "", id, ": an entry's parent is missing or not a directory");
	if (r)
		return r;
	(*u32_at(&k->kids, pe.ino))++;
	if (d->type == LFS_DT_DIR)
		(*u32_at(&k->subs, pe.ino))++;
	return 0;
}

/* Second pass: directory child counts of this vNode, then reset them. */
static int dircount_cb(struct lfs_fs *fs, void *ctx, const struct lfs_dent *d)
{
	struct chk *k = ctx;
	struct lfs_buf *b;
	struct lfs_inode *ip;

	if (d->type != LFS_DT_DIR)
		return 0;
	int r = lfs_inode_get(fs, d->ino, &b, &ip);
	if (r)
		return r;
	u32 nchild = ip->nchild, nsub = ip->nsubdir;
	lfs_bput(fs, b);
	if (nchild != *u32_at(&k->kids, d->ino) || nsub != *u32_at(&k->subs, d->ino))
		return bad(fs, "directory inode ", "", d->ino, ": child count disagrees with the table");
	*u32_at(&k->kids, d->ino) = 0;
	*u32_at(&k->subs, d->ino) = 0;
	return 0;
}

static int check_table(struct lfs_fs *fs, struct chk *k, struct lfs_vref *v)
{
	u32 id = v->r->id, nb = lfs_ht_nbuckets(v->r);
	struct lfs_buf *top, *dir = NULL;
	u32 ndir = DIV_ROUND_UP(nb, LFS_PTRS_PER_BLOCK);
	int r;

	k->v = v;
	r = mark(fs, k, v->r->dirtop, 1, "bucket directory");
	if (r)
		return r;
	r = lfs_bread(fs, v->r->dirtop, LFS_BT_HTDIR, id, &top);
	if (r)
		return r;
	u64 *tp = (u64 *)(top->data + LFS_HDR_SIZE);
	if (((struct lfs_bhdr *)top->data)->level != 1)
		r = bad(fs, "vnode ", "", id, ": bucket directory top of the wrong level");
	for (u32 t = 0; !r && t < LFS_PTRS_PER_BLOCK; t++) {
		if ((t < ndir) != (tp[t] != 0))
			r = bad(fs, "vnode ", "", id, ": bucket directory size wrong");
		else if (tp[t])
			r = mark(fs, k, tp[t], 1, "bucket directory");
	}
	k->entries = 0;
	for (u32 t = 0; !r && t < ndir; t++) {
		r = lfs_bread(fs, tp[t], LFS_BT_HTDIR, id, &dir);
		if (r)
			break;
		u64 *bp = (u64 *)(dir->data + LFS_HDR_SIZE);
		for (u32 i = 0; !r && i < LFS_PTRS_PER_BLOCK; i++) {
			u32 idx = t * LFS_PTRS_PER_BLOCK + i;
			if ((idx < nb) != (bp[i] != 0)) {
				r = bad(fs, "vnode ", "", id, ": bucket pointers disagree with the size");
				break;
			}
			u64 blk = bp[i];
			u64 guard = fs->sb.nblocks;
			k->bucket = idx;
			bool primary = true;
			while (!r && blk) {
				struct lfs_buf *bb;
				if (!guard--) {
					r = bad(fs, "vnode ", "", id, ": bucket chain loops");
					break;
				}
				r = mark(fs, k, blk, 1, "bucket");
				if (!r)
					r = lfs_bread(fs, blk, LFS_BT_BUCKET, id, &bb);
				if (r)
					break;
				r = lfs_ht_check_block(fs, bb);
				struct lfs_bhdr *h = (struct lfs_bhdr *)bb->data;
				if (!r && !primary && h->count == 0)
					r = bad(fs, "bucket block ", "", blk, ": empty overflow block");
				for (u32 off = 0; !r && off < h->used;) {
					struct lfs_dent *d = (struct lfs_dent *)(bb->data + LFS_HDR_SIZE + off);
					if (!r)
						r = entry_cb(fs, k, d);
					off += LFS_DENT_SIZE(d->len);
				}
				blk = h->next;
				lfs_bput(fs, bb);
				primary = false;
			}
		}
		lfs_bput(fs, dir);
	}
	lfs_bput(fs, top);
	if (r)
		return r;
	if (k->entries != v->r->nentries)
		return bad(fs, "vnode ", "", id, ": entry count disagrees with the table");
	struct lfs_hent he;
	r = lfs_ht_lookup(fs, v, "/", 1, &he);
	if (r == -ENOENT)
		return bad(fs, "vnode ", "", id, ": no \"/\"");
	if (r)
		return r;
	k->st.entries += k->entries;
	return lfs_ht_foreach(fs, v, dircount_cb, k);
}

/* Every path exactly once in its chain. */
struct dup_ctx {
	struct lfs_vref *v;
	u64 count;
};

static int dup_cb(struct lfs_fs *fs, void *ctx, const struct lfs_dent *d)
{
	struct dup_ctx *c = ctx;
	u64 blk;
	int r = lfs_ht_bucket_blk(fs, c->v, lfs_ht_bucket_of(c->v->r, d->hash), &blk);
	u32 n = 0;

	while (!r && blk) {
		struct lfs_buf *b;
		r = lfs_bread(fs, blk, LFS_BT_BUCKET, c->v->r->id, &b);
		if (r)
			break;
		struct lfs_bhdr *h = (struct lfs_bhdr *)b->data;
		for (u32 off = 0; off < h->used;) {
			struct lfs_dent *e = (struct lfs_dent *)(b->data + LFS_HDR_SIZE + off);
			if (e->hash == d->hash && e->len == d->len && !memcmp(e->path, d->path, d->len))
				n++;
			off += LFS_DENT_SIZE(e->len);
		}
		blk = h->next;
		lfs_bput(fs, b);
	}
	if (!r && n != 1)
		r = bad(fs, "vnode ", "", c->v->r->id, ": duplicate path in the table");
	return r;
}

static int ext_cb(struct lfs_fs *fs, void *ctx, const struct lfs_ext *e, u32 level, u64 node_blk)
{
	struct chk *k = ctx;

	k->nblocks += e ? e->len : 1;
	k->ndata += e ? e->len : 0;
	if (!e)
		return mark(fs, k, node_blk, 1, "extent node");
	if ((u64)e->lblk + e->len > k->max_end)
		k->max_end = (u64)e->lblk + e->len;
	return mark(fs, k, e->ptr, e->len, "file extent");
}

static int check_inodes(struct lfs_fs *fs, struct chk *k)
{
	for (u32 ino = 1; ino < fs->sb.ninodes; ino++) {
		u32 ref, want = *u32_at(&k->refs, ino);
		int r = lfs_ref_get(fs, ino, &ref);
		if (r)
			return r;
		if (ref != want)
			return bad(fs, "inode ", "", ino, ": reference count wrong");
		if (!ref)
			continue;
		k->st.inodes++;
		struct lfs_buf *b;
		struct lfs_inode *ip, in;
		r = lfs_inode_get(fs, ino, &b, &ip);
		if (r)
			return r;
		in = *ip;
		lfs_bput(fs, b);
		u8 t = *(u8 *)carr_at(&k->types, ino);
		u8 mt = LFS_S_ISDIR(in.mode) ? LFS_DT_DIR : LFS_S_ISLNK(in.mode) ? LFS_DT_LNK
			: LFS_S_ISREG(in.mode) ? LFS_DT_REG : 0;
		if (mt != t)
			return bad(fs, "inode ", "", ino, ": type disagrees with its entries");
		if (t == LFS_DT_DIR) {
			if (in.depth || in.nroot || in.nblocks || in.size)
				return bad(fs, "directory inode ", "", ino, ": has data");
			continue;
		}
		if (in.size > LFS_MAX_FILE_SIZE ||
		    (t == LFS_DT_LNK && (in.size == 0 || in.size >= LFS_PATH_MAX)))
			return bad(fs, "inode ", "", ino, ": bad size");
		k->ino = ino;
		k->nblocks = 0;
		k->ndata = 0;
		k->max_end = 0;
		r = lfs_ext_walk(fs, ino, ext_cb, k);
		if (r)
			return r == -EIO ? -EUCLEAN : r;
		if (k->nblocks != in.nblocks)
			return bad(fs, "inode ", "", ino, ": block count wrong");
		if (k->max_end > DIV_ROUND_UP(in.size, LFS_BLOCK_SIZE))
			return bad(fs, "inode ", "", ino, ": blocks mapped past the end of file");
		k->st.data_blocks += k->ndata;
	}
	return 0;
}

static int check_bitmap(struct lfs_fs *fs, struct chk *k)
{
	u64 nfree = 0;

	for (u32 bk = 0; bk < fs->sb.bitmap_blocks; bk++) {
		struct lfs_buf *b;
		int r = lfs_bread(fs, fs->sb.bitmap_start + bk, LFS_BT_BITMAP, 0, &b);
		if (r)
			return r;
		const u64 *w = (const u64 *)(b->data + LFS_HDR_SIZE);
		for (u64 i = 0; i < LFS_BITS_PER_BMAP; i++) {
			u64 x = (u64)bk * LFS_BITS_PER_BMAP + i;
			bool set = (w[i / 64] >> (i % 64)) & 1;
			bool want = x < fs->sb.data_start || x >= fs->sb.nblocks ||
				    (*(u8 *)carr_at(&k->used, x / 8) >> (x % 8)) & 1;
			if (set != want) {
				lfs_bput(fs, b);
				return bad(fs, "block ", "", x,
					   want ? ": in use but free in the bitmap"
						: ": allocated in the bitmap but unused (leak)");
			}
			if (!set)
				nfree++;
		}
		lfs_bput(fs, b);
	}
	if (nfree != fs->free_blocks)
		return bad(fs, "free block count wrong in memory", NULL, 0, NULL);
	return 0;
}

int lfs_check(struct lfs_fs *fs, struct lfs_check_stats *out)
{
	struct chk *k = lfs_zalloc(fs, sizeof(*k));
	u64 ni = fs->sb.ninodes;
	int r;

	if (!k)
		return -ENOMEM;
	fs->msg[0] = '\0';
	r = carr_init(fs, &k->used, DIV_ROUND_UP(fs->sb.nblocks, 8));
	if (!r)
		r = carr_init(fs, &k->refs, ni * 4);
	if (!r)
		r = carr_init(fs, &k->types, ni);
	if (!r)
		r = carr_init(fs, &k->kids, ni * 4);
	if (!r)
		r = carr_init(fs, &k->subs, ni * 4);
	if (r)
		goto out;
	/* Every static metadata block reads back with a good checksum, used
	 * or not (bread checks magic, checksum, number and type). */
	for (u64 blk = fs->sb.bitmap_start; !r && blk < fs->sb.data_start; blk++) {
		struct lfs_buf *b;
		unsigned t = blk < fs->sb.refcnt_start ? LFS_BT_BITMAP
			     : blk < fs->sb.itable_start ? LFS_BT_REFCNT
			     : blk < fs->sb.vtab_start ? LFS_BT_ITABLE : LFS_BT_VTAB;
		r = lfs_bread(fs, blk, t, 0, &b);
		if (!r)
			lfs_bput(fs, b);
	}
	/* Every record of the vNode table. */
	for (u32 bk = 0; !r && bk < fs->sb.vtab_blocks; bk++) {
		struct lfs_buf *b;
		r = lfs_bread(fs, fs->sb.vtab_start + bk, LFS_BT_VTAB, 0, &b);
		if (r)
			break;
		struct lfs_vrec *rec = (struct lfs_vrec *)(b->data + LFS_HDR_SIZE);
		for (u32 i = 0; !r && i < LFS_VRECS_PER_BLOCK; i++) {
			u64 slot = (u64)bk * LFS_VRECS_PER_BLOCK + i;
			struct lfs_vref v;
			if (!(rec[i].flags & LFS_VREC_USED))
				continue;
			if (slot >= fs->sb.max_vnodes || rec[i].flags != LFS_VREC_USED ||
			    rec[i].id == LFS_VNODE_INVALID) {
				r = bad(fs, "vnode table slot ", "", slot, ": bad record");
				break;
			}
			r = lfs_vnode_get(fs, rec[i].id, &v);
			if (r)
				break;
			if (v.r != &rec[i])
				r = bad(fs, "vnode ", "", rec[i].id, ": appears twice in the table");
			if (!r)
				r = check_table(fs, k, &v);
			if (!r) {
				struct dup_ctx dc = { .v = &v };
				r = lfs_ht_foreach(fs, &v, dup_cb, &dc);
			}
			lfs_vnode_put(fs, &v);
			k->st.vnodes++;
		}
		lfs_bput(fs, b);
	}
	if (!r && !lfs_vnode_exists(fs, 0))
		r = bad(fs, "no base vnode (0)", NULL, 0, NULL);
	if (!r)
		r = check_inodes(fs, k);
	if (!r)
		r = check_bitmap(fs, k);
	if (!r) {
		u32 ifree = 0;
		for (u32 ino = 1; ino < fs->sb.ninodes; ino++)
			if (!*u32_at(&k->refs, ino))
				ifree++;
		if (ifree != fs->free_inodes)
			r = bad(fs, "free inode count wrong in memory", NULL, 0, NULL);
	}
	if (!r) {
		u64 used = 0;
		for (u64 x = fs->sb.data_start; x < fs->sb.nblocks; x++)
			used += (*(u8 *)carr_at(&k->used, x / 8) >> (x % 8)) & 1;
		k->st.meta_blocks = used - k->st.data_blocks;
		if (out)
			*out = k->st;
	}
out:
	if (r == -EIO)
		r = -EUCLEAN;
	carr_free(fs, &k->used);
	carr_free(fs, &k->refs);
	carr_free(fs, &k->types);
	carr_free(fs, &k->kids);
	carr_free(fs, &k->subs);
	lfs_free(fs, k);
	return r;
}
