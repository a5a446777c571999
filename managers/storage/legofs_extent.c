/* LegoFS files: the per-inode extent tree (a B+tree keyed by logical block,
 * root in the inode) and file data I/O with copy-on-write of committed
 * blocks. See docs/storage.md §2.4 and §4. */
#define LFS_INTERNAL
#include <lego/legofs.h>
#include <lego/errno.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

#define KEY_END (1ULL << 32)		/* past every logical block */
#define EXT_LEN_MAX 0x40000000u

static inline struct lfs_bhdr *hdr(struct lfs_buf *b)
{
	return (struct lfs_bhdr *)b->data;
}

/* One node of a path: the inode's root or a node block. */
struct xnode {
	struct lfs_buf *b;		/* inode table block for the root */
	struct lfs_ext *e;
	u32 cap;
	u32 level;
	u32 idx;			/* interior: entry taken; leaf: entries with lblk <= key */
	u64 ub;				/* keys of this node are < ub */
};

struct xpath {
	u32 ino;
	struct lfs_inode *ip;
	int n;				/* lv[0] root .. lv[n-1] leaf */
	struct xnode lv[LFS_EXT_MAXDEPTH];
};

static u32 xcount(struct xpath *p, int i)
{
	return i == 0 ? p->ip->nroot : hdr(p->lv[i].b)->count;
}

static void xset_count(struct xpath *p, int i, u32 c)
{
	if (i == 0)
		p->ip->nroot = (u16)c;
	else
		hdr(p->lv[i].b)->count = c;
}

static void xrelease(struct lfs_fs *fs, struct xpath *p)
{
	for (int i = 0; i < p->n; i++)
		lfs_bput(fs, p->lv[i].b);
	p->n = 0;
}

static int corrupt(struct lfs_fs *fs, u32 ino, const char *what)
{
	lfs_fault(fs, "inode ", "", ino, what);
	return -EIO;
}

/* Descend from the root of ino towards key. */
static int xfind(struct lfs_fs *fs, u32 ino, u64 key, struct xpath *p)
{
	struct lfs_buf *b;
	struct lfs_inode *ip;
	int r = lfs_inode_get(fs, ino, &b, &ip);

	p->n = 0;
	if (r)
		return r;
	p->ino = ino;
	p->ip = ip;
	if (ip->depth >= LFS_EXT_MAXDEPTH || ip->nroot > LFS_INODE_ROOT ||
	    (ip->depth && !ip->nroot)) {
		lfs_bput(fs, b);
		return corrupt(fs, ino, ": bad extent root");
	}
	p->lv[0] = (struct xnode){ .b = b, .e = ip->root, .cap = LFS_INODE_ROOT,
				   .level = ip->depth, .ub = KEY_END };
	p->n = 1;
	for (int i = 0;; i++) {
		struct xnode *x = &p->lv[i];
		u32 cnt = xcount(p, i);
		u32 j = 0;
		while (j < cnt && x->e[j].lblk <= key)
			j++;
		if (x->level == 0) {
			x->idx = j;
			return 0;
		}
		if (cnt == 0) {
			xrelease(fs, p);
			return corrupt(fs, ino, ": empty extent index node");
		}
		j = j ? j - 1 : 0;
		x->idx = j;
		u64 ub = j + 1 < cnt ? MIN((u64)x->e[j + 1].lblk, x->ub) : x->ub;
		r = lfs_bread(fs, x->e[j].ptr, LFS_BT_EXTENT, ino, &b);
		if (r) {
			xrelease(fs, p);
			return r;
		}
		if (hdr(b)->level != x->level - 1 || (hdr(b)->count == 0)) {
			lfs_bput(fs, b);
			xrelease(fs, p);
			return corrupt(fs, ino, ": extent node of the wrong level or empty");
		}
		p->lv[i + 1] = (struct xnode){ .b = b,
					       .e = (struct lfs_ext *)(b->data + LFS_HDR_SIZE),
					       .cap = LFS_EXT_PER_BLOCK,
					       .level = x->level - 1,
					       .ub = ub };
		p->n = i + 2;
	}
}

int lfs_ext_lookup(struct lfs_fs *fs, u32 ino, u32 lblk, u64 *pblk, u32 *run)
{
	struct xpath p;
	int r = xfind(fs, ino, lblk, &p);

	if (r)
		return r;
	struct xnode *l = &p.lv[p.n - 1];
	u32 cnt = xcount(&p, p.n - 1);
	u64 next;
	*pblk = 0;
	if (l->idx > 0 && (u64)l->e[l->idx - 1].lblk + l->e[l->idx - 1].len > lblk) {
		struct lfs_ext *e = &l->e[l->idx - 1];
		*pblk = e->ptr + (lblk - e->lblk);
		next = (u64)e->lblk + e->len;
	} else {
		next = l->idx < cnt ? l->e[l->idx].lblk : l->ub;
	}
	u64 n = next - lblk;
	*run = n > 0xffffffffULL ? 0xffffffffu : (u32)n;
	xrelease(fs, &p);
	return 0;
}

/* First extent ending after lblk. */
int lfs_ext_next(struct lfs_fs *fs, u32 ino, u32 lblk, struct lfs_ext *out, bool *found)
{
	u64 key = lblk;

	*found = false;
	for (;;) {
		struct xpath p;
		int r = xfind(fs, ino, key, &p);
		if (r)
			return r;
		struct xnode *l = &p.lv[p.n - 1];
		u32 cnt = xcount(&p, p.n - 1);
		u64 ub = l->ub;
		if (l->idx > 0 && (u64)l->e[l->idx - 1].lblk + l->e[l->idx - 1].len > lblk) {
			*out = l->e[l->idx - 1];
			*found = true;
		} else if (l->idx < cnt) {
			*out = l->e[l->idx];
			*found = true;
		}
		xrelease(fs, &p);
		if (*found || ub >= KEY_END)
			return 0;
		if (ub <= key)
			return corrupt(fs, ino, ": extent index keys out of order");
		key = ub;
	}
}

static int inode_modify(struct lfs_fs *fs, struct xpath *p)
{
	return lfs_bmodify(fs, p->lv[0].b);
}

/* Insert ent at position pos of path level i, splitting upwards as needed. */
static int insert_at(struct lfs_fs *fs, struct xpath *p, int i, u32 pos, struct lfs_ext ent)
{
	struct xnode *x = &p->lv[i];
	u32 cnt = xcount(p, i);
	int r;

	if (cnt < x->cap) {
		r = lfs_bmodify(fs, x->b);
		if (r)
			return r;
		memmove(&x->e[pos + 1], &x->e[pos], (cnt - pos) * sizeof(ent));
		x->e[pos] = ent;
		xset_count(p, i, cnt + 1);
		return 0;
	}
	u64 nb;
	u32 got;
	struct lfs_buf *nbuf;
	r = lfs_balloc(fs, x->b->blk + 1, 1, &nb, &got);
	if (r)
		return r;
	if (i == 0) {
		/* Root full: move it into a new node one level down. */
		if (p->ip->depth + 1 >= LFS_EXT_MAXDEPTH)
			return -EFBIG;
		r = inode_modify(fs, p);
		if (r)
			return r;
		r = lfs_bnew(fs, nb, LFS_BT_EXTENT, p->ino, (u16)p->ip->depth, &nbuf);
		if (r)
			return r;
		struct lfs_ext *ne = (struct lfs_ext *)(nbuf->data + LFS_HDR_SIZE);
		memcpy(ne, x->e, pos * sizeof(ent));
		ne[pos] = ent;
		memcpy(&ne[pos + 1], &x->e[pos], (cnt - pos) * sizeof(ent));
		hdr(nbuf)->count = cnt + 1;
		memset(p->ip->root, 0, sizeof(p->ip->root));
		/* An index node's first key is a lower bound of its whole
		 * range (the root's is 0), never above a key routed to it. */
		p->ip->root[0] = (struct lfs_ext){ .lblk = 0, .ptr = nb };
		p->ip->nroot = 1;
		p->ip->depth++;
		p->ip->nblocks++;
		lfs_bput(fs, nbuf);
		return 0;
	}
	/* Split a full node: the upper half moves to a new right sibling. */
	r = lfs_bmodify(fs, x->b);
	if (r)
		return r;
	r = inode_modify(fs, p);
	if (r)
		return r;
	r = lfs_bnew(fs, nb, LFS_BT_EXTENT, p->ino, (u16)x->level, &nbuf);
	if (r)
		return r;
	struct lfs_ext *re = (struct lfs_ext *)(nbuf->data + LFS_HDR_SIZE);
	u32 half = cnt / 2;
	memcpy(re, &x->e[half], (cnt - half) * sizeof(ent));
	hdr(nbuf)->count = cnt - half;
	xset_count(p, i, half);
	memset(&x->e[half], 0, (cnt - half) * sizeof(ent));
	p->ip->nblocks++;
	if (pos <= half) {
		memmove(&x->e[pos + 1], &x->e[pos], (half - pos) * sizeof(ent));
		x->e[pos] = ent;
		xset_count(p, i, half + 1);
	} else {
		u32 rp = pos - half, rc = cnt - half;
		memmove(&re[rp + 1], &re[rp], (rc - rp) * sizeof(ent));
		re[rp] = ent;
		hdr(nbuf)->count = rc + 1;
	}
	struct lfs_ext sep = { .lblk = re[0].lblk, .ptr = nb };
	lfs_bput(fs, nbuf);
	return insert_at(fs, p, i - 1, p->lv[i - 1].idx + 1, sep);
}

/* Remove entry pos of level i; empty nodes are freed upwards. */
static int remove_at(struct lfs_fs *fs, struct xpath *p, int i, u32 pos)
{
	struct xnode *x = &p->lv[i];
	u32 cnt = xcount(p, i);
	int r = lfs_bmodify(fs, x->b);
	u32 key0 = x->e[0].lblk;

	if (r)
		return r;
	memmove(&x->e[pos], &x->e[pos + 1], (cnt - pos - 1) * sizeof(*x->e));
	if (x->level > 0 && pos == 0)
		x->e[0].lblk = key0;	/* keep the lower bound */
	memset(&x->e[cnt - 1], 0, sizeof(*x->e));
	xset_count(p, i, cnt - 1);
	if (cnt - 1 > 0)
		return 0;
	if (i == 0) {
		r = inode_modify(fs, p);
		if (!r)
			p->ip->depth = 0;
		return r;
	}
	r = inode_modify(fs, p);
	if (r)
		return r;
	r = lfs_bfree(fs, x->b->blk, 1);
	if (r)
		return r;
	p->ip->nblocks--;
	return remove_at(fs, p, i - 1, p->lv[i - 1].idx);
}

/* Map [lblk, lblk + len) (a hole) to pblk.., merging with neighbours. */
int lfs_ext_insert(struct lfs_fs *fs, u32 ino, u32 lblk, u64 pblk, u32 len)
{
	struct xpath p;
	int r = xfind(fs, ino, lblk, &p);

	if (r)
		return r;
	int li = p.n - 1;
	struct xnode *l = &p.lv[li];
	u32 cnt = xcount(&p, li);
	r = inode_modify(fs, &p);
	if (r)
		goto out;
	p.ip->nblocks += len;
	if (l->idx > 0) {
		struct lfs_ext *e = &l->e[l->idx - 1];
		if ((u64)e->lblk + e->len > lblk) {
			r = corrupt(fs, ino, ": insert over a mapped block");
			goto out;
		}
		if (e->lblk + e->len == lblk && e->ptr + e->len == pblk &&
		    (u64)e->len + len <= EXT_LEN_MAX) {
			r = lfs_bmodify(fs, l->b);
			if (r)
				goto out;
			e->len += len;
			if (l->idx < cnt) {
				struct lfs_ext *f = &l->e[l->idx];
				if (e->lblk + e->len == f->lblk && e->ptr + e->len == f->ptr &&
				    (u64)e->len + f->len <= EXT_LEN_MAX) {
					e->len += f->len;
					r = remove_at(fs, &p, li, l->idx);
				}
			}
			goto out;
		}
	}
	if (l->idx < cnt) {
		struct lfs_ext *f = &l->e[l->idx];
		if ((u64)lblk + len > f->lblk) {
			r = corrupt(fs, ino, ": insert over a mapped block");
			goto out;
		}
		if (lblk + len == f->lblk && pblk + len == f->ptr &&
		    (u64)f->len + len <= EXT_LEN_MAX) {
			r = lfs_bmodify(fs, l->b);
			if (r)
				goto out;
			f->lblk = lblk;
			f->ptr = pblk;
			f->len += len;
			goto out;
		}
	}
	r = insert_at(fs, &p, li, l->idx, (struct lfs_ext){ .lblk = lblk, .len = len, .ptr = pblk });
out:
	xrelease(fs, &p);
	return r;
}

/* Unmap [start, end) (end may be KEY_END-1 or beyond: clamp), freeing the
 * blocks. */
int lfs_ext_remove(struct lfs_fs *fs, u32 ino, u32 start, u32 end)
{
	u64 key = start;
	u64 e_end = end;

	if (end == 0xffffffffu)
		e_end = KEY_END;
	while (key < e_end) {
		struct xpath p;
		int r = xfind(fs, ino, key, &p);
		if (r)
			return r;
		int li = p.n - 1;
		struct xnode *l = &p.lv[li];
		u32 cnt = xcount(&p, li);
		u32 c;
		if (l->idx > 0 && (u64)l->e[l->idx - 1].lblk + l->e[l->idx - 1].len > key) {
			c = l->idx - 1;
		} else if (l->idx < cnt) {
			c = l->idx;
		} else {
			u64 ub = l->ub;
			xrelease(fs, &p);
			if (ub >= KEY_END)
				return 0;
			if (ub <= key)
				return corrupt(fs, ino, ": extent index keys out of order");
			key = ub;
			continue;
		}
		struct lfs_ext x = l->e[c];
		u64 xs = x.lblk, xe = (u64)x.lblk + x.len;
		if (xs >= e_end) {
			xrelease(fs, &p);
			return 0;
		}
		u64 os = MAX(xs, (u64)start), oe = MIN(xe, e_end);
		r = inode_modify(fs, &p);
		if (!r)
			r = lfs_bfree(fs, x.ptr + (os - xs), oe - os);
		if (!r) {
			p.ip->nblocks -= oe - os;
			if (xs >= start && xe <= e_end) {
				r = remove_at(fs, &p, li, c);
			} else {
				r = lfs_bmodify(fs, l->b);
				if (!r && xs < start) {
					l->e[c].len = (u32)(start - xs);
				} else if (!r) {
					l->e[c].lblk = (u32)e_end;
					l->e[c].ptr = x.ptr + (e_end - xs);
					l->e[c].len = (u32)(xe - e_end);
				}
			}
		}
		xrelease(fs, &p);
		if (r)
			return r;
		if (xs < start && xe > e_end) {
			/* Punched a hole in the middle: re-insert the right part
			 * (its blocks are counted again by the insert). */
			r = lfs_ext_insert(fs, ino, (u32)e_end, x.ptr + (e_end - xs), (u32)(xe - e_end));
			if (r)
				return r;
			struct lfs_buf *ib;
			struct lfs_inode *ip;
			r = lfs_inode_get(fs, ino, &ib, &ip);
			if (r)
				return r;
			r = lfs_bmodify(fs, ib);
			if (!r)
				ip->nblocks -= xe - e_end;
			lfs_bput(fs, ib);
			if (r)
				return r;
		}
		key = oe;
	}
	return 0;
}

/* Depth-first walk with structure checks: keys ascending, extents inside
 * their node's key range and not overlapping, levels consistent. cb gets
 * each node block (e == NULL) before its entries and each extent. */
static int walk_node(struct lfs_fs *fs, u32 ino, const struct lfs_ext *e, u32 cnt, u32 level,
		     u64 lo, u64 hi, lfs_ext_cb cb, void *ctx)
{
	u64 prev_end = lo;

	for (u32 i = 0; i < cnt; i++) {
		u64 s = e[i].lblk;
		u64 next = i + 1 < cnt ? e[i + 1].lblk : hi;
		if (i > 0 && s <= e[i - 1].lblk)
			return corrupt(fs, ino, ": extent keys not ascending");
		if (level == 0) {
			if (!e[i].len || s < prev_end || s + e[i].len > hi)
				return corrupt(fs, ino, ": extents overlap or leave their node");
			prev_end = s + e[i].len;
			int r = cb(fs, ctx, &e[i], 0, 0);
			if (r)
				return r;
			continue;
		}
		if ((i > 0 && s < lo) || (i == 0 && s > lo) || next > hi || s >= hi)
			return corrupt(fs, ino, ": index key outside its node");
		struct lfs_buf *b;
		int r = lfs_bread(fs, e[i].ptr, LFS_BT_EXTENT, ino, &b);
		if (r)
			return r;
		if (hdr(b)->level != level - 1 || !hdr(b)->count) {
			lfs_bput(fs, b);
			return corrupt(fs, ino, ": extent node of the wrong level or empty");
		}
		r = cb(fs, ctx, NULL, level - 1, b->blk);
		if (!r)
			r = walk_node(fs, ino, (struct lfs_ext *)(b->data + LFS_HDR_SIZE),
				      hdr(b)->count, level - 1, i ? s : lo, next, cb, ctx);
		lfs_bput(fs, b);
		if (r)
			return r;
	}
	return 0;
}

int lfs_ext_walk(struct lfs_fs *fs, u32 ino, lfs_ext_cb cb, void *ctx)
{
	struct lfs_buf *b;
	struct lfs_inode *ip;
	struct lfs_ext root[LFS_INODE_ROOT];
	int r = lfs_inode_get(fs, ino, &b, &ip);

	if (r)
		return r;
	u32 depth = ip->depth, n = ip->nroot;
	memcpy(root, ip->root, sizeof(root));
	lfs_bput(fs, b);
	if (depth >= LFS_EXT_MAXDEPTH || n > LFS_INODE_ROOT || (depth && !n))
		return corrupt(fs, ino, ": bad extent root");
	return walk_node(fs, ino, root, n, depth, 0, KEY_END, cb, ctx);
}

static int free_cb(struct lfs_fs *fs, void *ctx, const struct lfs_ext *e, u32 level,
		   u64 node_blk)
{
	if (e)
		return lfs_bfree(fs, e->ptr, e->len);
	return lfs_bfree(fs, node_blk, 1);
}

int lfs_ext_free_all(struct lfs_fs *fs, u32 ino)
{
	struct lfs_buf *b;
	struct lfs_inode *ip;
	int r = lfs_ext_walk(fs, ino, free_cb, NULL);

	if (r)
		return r;
	r = lfs_inode_get(fs, ino, &b, &ip);
	if (r)
		return r;
	r = lfs_bmodify(fs, b);
	if (!r) {
		memset(ip->root, 0, sizeof(ip->root));
		ip->depth = 0;
		ip->nroot = 0;
		ip->nblocks = 0;
	}
	lfs_bput(fs, b);
	return r;
}

/* ---------------------------------------------------------------------- */
/* File data                                                               */

static int inode_size(struct lfs_fs *fs, u32 ino, u64 *size)
{
	struct lfs_inode in;
	int r = lfs_inode_read(fs, ino, &in);

	if (!r)
		*size = in.size;
	return r;
}

s64 lfs_file_read(struct lfs_fs *fs, u32 ino, u64 off, void *buf, u64 len)
{
	u64 size, done = 0;
	u8 *out = buf;
	int r = inode_size(fs, ino, &size);

	if (r)
		return r;
	if (off >= size)
		return 0;
	if (len > size - off)
		len = size - off;
	while (done < len) {
		u64 pos = off + done;
		u32 lblk = (u32)(pos >> LFS_BLOCK_SHIFT);
		u32 boff = (u32)(pos & (LFS_BLOCK_SIZE - 1));
		u64 pblk;
		u32 run;
		r = lfs_ext_lookup(fs, ino, lblk, &pblk, &run);
		if (r)
			return r;
		u64 span = (u64)run * LFS_BLOCK_SIZE - boff;
		u64 want = MIN(len - done, span);
		if (!pblk) {
			memset(out + done, 0, want);
			done += want;
			continue;
		}
		if (boff == 0 && want >= LFS_BLOCK_SIZE) {
			u32 k = (u32)MIN(want / LFS_BLOCK_SIZE, (u64)LFS_COPY_BLOCKS * 64);
			if (fs->io.flags & LFS_IO_BOUNCE) {
				k = MIN(k, LFS_COPY_BLOCKS);
				r = lfs_io_read(fs, pblk, k, fs->copybuf);
				if (!r)
					memcpy(out + done, fs->copybuf, (size_t)k * LFS_BLOCK_SIZE);
			} else {
				r = lfs_io_read(fs, pblk, k, out + done);
			}
			if (r)
				return r;
			done += (u64)k * LFS_BLOCK_SIZE;
			continue;
		}
		r = lfs_io_read(fs, pblk, 1, fs->bounce);
		if (r)
			return r;
		u64 n = MIN(want, (u64)LFS_BLOCK_SIZE - boff);
		memcpy(out + done, fs->bounce + boff, n);
		done += n;
	}
	return (s64)done;
}

static int set_inode_fields(struct lfs_fs *fs, u32 ino, u64 size)
{
	struct lfs_buf *b;
	struct lfs_inode *ip;
	int r = lfs_inode_get(fs, ino, &b, &ip);

	if (r)
		return r;
	r = lfs_bmodify(fs, b);
	if (!r) {
		ip->size = size;
		ip->mtime = lfs_now(fs);
	}
	lfs_bput(fs, b);
	return r;
}

/* Make the bytes past EOF in the last block read as zeros before the file
 * grows. A block of the committed state is copied (never changed in
 * place); one written in this transaction is zeroed in place, which only
 * touches bytes past EOF. */
static int zero_tail(struct lfs_fs *fs, u32 ino, u64 size)
{
	u32 boff = (u32)(size & (LFS_BLOCK_SIZE - 1));
	u32 lb = (u32)(size >> LFS_BLOCK_SHIFT);
	u64 pblk, nb;
	u32 run, got;
	bool busy;
	int r;

	if (!boff)
		return 0;
	r = lfs_ext_lookup(fs, ino, lb, &pblk, &run);
	if (r || !pblk)
		return r;
	r = lfs_block_busy(fs, pblk, &busy);
	if (r)
		return r;
	r = lfs_io_read(fs, pblk, 1, fs->bounce);
	if (r)
		return r;
	memset(fs->bounce + boff, 0, LFS_BLOCK_SIZE - boff);
	if (!busy)
		return lfs_io_write(fs, pblk, 1, fs->bounce);
	r = lfs_balloc(fs, pblk + 1, 1, &nb, &got);
	if (!r)
		r = lfs_ext_remove(fs, ino, lb, lb + 1);
	if (!r)
		r = lfs_ext_insert(fs, ino, lb, nb, 1);
	if (!r)
		r = lfs_io_write(fs, nb, 1, fs->bounce);
	return r;
}

struct wrun {
	u32 lblk, n;
	u64 pblk;
};

/* Write one piece (len <= LFS_IO_CHUNK) inside an operation, all or
 * nothing: phase 1 maps every block (in place if written in this
 * transaction, else a fresh block: copy-on-write), phase 2, which can only
 * fail with -EIO, writes the data. */
int lfs_file_write(struct lfs_fs *fs, u32 ino, u64 off, const void *buf, u32 len)
{
	const u8 *in = buf;
	u64 size0, end = off + len;
	u32 lb0, lb1, nruns = 0;
	u64 old0 = 0, old1 = 0, goal = 0;
	struct wrun *runs;
	u32 run;
	int r;

	if (!len)
		return 0;
	r = inode_size(fs, ino, &size0);
	if (r)
		return r;
	if (off > size0) {
		r = zero_tail(fs, ino, size0);
		if (r)
			return r;
	}
	lb0 = (u32)(off >> LFS_BLOCK_SHIFT);
	lb1 = (u32)((end - 1) >> LFS_BLOCK_SHIFT);
	runs = lfs_zalloc(fs, sizeof(*runs) * (lb1 - lb0 + 1));
	if (!runs)
		return -ENOMEM;
	/* Old content of partially written blocks. */
	if (off & (LFS_BLOCK_SIZE - 1))
		r = lfs_ext_lookup(fs, ino, lb0, &old0, &run);
	if (!r && (end & (LFS_BLOCK_SIZE - 1)))
		r = lfs_ext_lookup(fs, ino, lb1, &old1, &run);
	for (u32 k = lb0; !r && k <= lb1;) {
		u64 pblk;
		u32 cnt, m;
		r = lfs_ext_lookup(fs, ino, k, &pblk, &run);
		if (r)
			break;
		cnt = MIN(run, lb1 - k + 1);
		if (pblk) {
			bool busy0, busy;
			r = lfs_block_busy(fs, pblk, &busy0);
			m = 1;
			while (!r && m < cnt) {
				r = lfs_block_busy(fs, pblk + m, &busy);
				if (r || busy != busy0)
					break;
				m++;
			}
			if (r)
				break;
			if (!busy0) {
				runs[nruns++] = (struct wrun){ k, m, pblk };
				goal = pblk + m;
				k += m;
				continue;
			}
			if (!goal)
				goal = pblk + m;
		} else {
			m = cnt;
		}
		u64 nb;
		u32 got;
		r = lfs_balloc(fs, goal, m, &nb, &got);
		if (!r && pblk)
			r = lfs_ext_remove(fs, ino, k, k + got);
		if (!r)
			r = lfs_ext_insert(fs, ino, k, nb, got);
		if (r)
			break;
		runs[nruns++] = (struct wrun){ k, got, nb };
		goal = nb + got;
		k += got;
	}
	if (!r)
		r = set_inode_fields(fs, ino, MAX(size0, end));
	for (u32 i = 0; !r && i < nruns; i++) {
		struct wrun *w = &runs[i];
		u32 j = 0;
		while (!r && j < w->n) {
			u64 lblk = w->lblk + j;
			u64 bs = lblk << LFS_BLOCK_SHIFT, be = bs + LFS_BLOCK_SIZE;
			if (bs >= off && be <= end) {
				/* Whole blocks straight from the caller's buffer. */
				u32 k = 1;
				while (j + k < w->n && ((lblk + k + 1) << LFS_BLOCK_SHIFT) <= end)
					k++;
				if (fs->io.flags & LFS_IO_BOUNCE) {
					k = MIN(k, LFS_COPY_BLOCKS);
					memcpy(fs->copybuf, in + (bs - off), (size_t)k * LFS_BLOCK_SIZE);
					r = lfs_io_write(fs, w->pblk + j, k, fs->copybuf);
				} else {
					r = lfs_io_write(fs, w->pblk + j, k, in + (bs - off));
				}
				j += k;
				continue;
			}
			u64 oldp = (lblk == lb1 && (end & (LFS_BLOCK_SIZE - 1))) ? old1 : old0;
			if (oldp && bs < size0)
				r = lfs_io_read(fs, oldp, 1, fs->bounce);
			else
				memset(fs->bounce, 0, LFS_BLOCK_SIZE);
			if (r)
				break;
			u64 cs = MAX(bs, off), ce = MIN(be, end);
			memcpy(fs->bounce + (cs - bs), in + (cs - off), ce - cs);
			r = lfs_io_write(fs, w->pblk + j, 1, fs->bounce);
			j++;
		}
	}
	lfs_free(fs, runs);
	return r;
}

int lfs_file_truncate(struct lfs_fs *fs, u32 ino, u64 size)
{
	u64 size0;
	int r = inode_size(fs, ino, &size0);

	if (r)
		return r;
	if (size > size0) {
		r = zero_tail(fs, ino, size0);
	} else if (size < size0) {
		u64 first = DIV_ROUND_UP(size, LFS_BLOCK_SIZE);
		r = lfs_ext_remove(fs, ino, (u32)first, 0xffffffffu);
	}
	if (!r)
		r = set_inode_fields(fs, ino, size);
	return r;
}

/* Give dst (fresh, empty tree) a private copy of src's data. */
int lfs_file_copy(struct lfs_fs *fs, u32 src, u32 dst)
{
	u32 lblk = 0;
	u64 goal = 0;

	for (;;) {
		struct lfs_ext e;
		bool found;
		int r = lfs_ext_next(fs, src, lblk, &e, &found);
		if (r)
			return r;
		if (!found)
			return 0;
		u32 s = MAX(e.lblk, lblk);
		u32 n = (u32)MIN((u64)e.lblk + e.len - s, (u64)LFS_COPY_BLOCKS);
		u64 nb;
		u32 got;
		r = lfs_balloc(fs, goal, n, &nb, &got);
		if (!r)
			r = lfs_io_read(fs, e.ptr + (s - e.lblk), got, fs->copybuf);
		if (!r)
			r = lfs_io_write(fs, nb, got, fs->copybuf);
		if (!r)
			r = lfs_ext_insert(fs, dst, s, nb, got);
		if (r)
			return r;
		goal = nb + got;
		lblk = s + got;
	}
}
