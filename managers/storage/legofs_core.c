/* LegoFS core: block I/O, the metadata block cache, operations (atomic
 * units with rollback), journal transactions (commit, checkpoint,
 * recovery), block allocation and inodes. See docs/storage.md §3-§4. */
#define LFS_INTERNAL
#include <lego/legofs.h>
#include <lego/errno.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

BUILD_BUG_ON(sizeof(struct lfs_bhdr) != LFS_HDR_SIZE);
BUILD_BUG_ON(sizeof(struct lfs_inode) != LFS_INODE_SIZE);
BUILD_BUG_ON(sizeof(struct lfs_vrec) != LFS_VREC_SIZE);
BUILD_BUG_ON(sizeof(struct lfs_ext) != 16);
BUILD_BUG_ON(sizeof(struct lfs_dent) != 16);
BUILD_BUG_ON(sizeof(struct lfs_jdesc) != LFS_JD_HEAD);
BUILD_BUG_ON(sizeof(struct lfs_jent) != 16);
BUILD_BUG_ON(sizeof(struct lfs_super) > 512);
BUILD_BUG_ON(LFS_PAYLOAD % 8 != 0);

static inline struct lfs_bhdr *hdr(struct lfs_buf *b)
{
	return (struct lfs_bhdr *)b->data;
}

void lfs_bug(struct lfs_fs *fs, const char *what)
{
	lfs_fault(fs, "internal error: ", NULL, 0, what);
	fs->failed = true;
#ifdef __KERNEL_HOSTTEST__
	__builtin_trap();
#endif
}

/* ---------------------------------------------------------------------- */
/* Block I/O                                                               */

int lfs_io_read(struct lfs_fs *fs, u64 blk, u32 n, void *buf)
{
	int r = 0;

	if (blk >= fs->io.nblocks || n > fs->io.nblocks - blk) {
		lfs_fault(fs, "read beyond the device at block ", "", blk, NULL);
		return -EIO;
	}
	if (fs->io.read_n && n > 1) {
		r = fs->io.read_n(fs->io.ctx, blk, n, buf);
	} else {
		for (u32 i = 0; i < n && !r; i++)
			r = fs->io.read(fs->io.ctx, blk + i, (u8 *)buf + (size_t)i * LFS_BLOCK_SIZE);
	}
	if (r) {
		lfs_fault(fs, "device read error near block ", "", blk, NULL);
		return -EIO;
	}
	return 0;
}

int lfs_io_write(struct lfs_fs *fs, u64 blk, u32 n, const void *buf)
{
	int r = 0;

	if (blk >= fs->io.nblocks || n > fs->io.nblocks - blk) {
		lfs_fault(fs, "write beyond the device at block ", "", blk, NULL);
		return -EIO;
	}
	if (fs->io.write_n && n > 1) {
		r = fs->io.write_n(fs->io.ctx, blk, n, buf);
	} else {
		for (u32 i = 0; i < n && !r; i++)
			r = fs->io.write(fs->io.ctx, blk + i,
					 (const u8 *)buf + (size_t)i * LFS_BLOCK_SIZE);
	}
	if (r) {
		lfs_fault(fs, "device write error near block ", "", blk, NULL);
		return -EIO;
	}
	fs->data_written = true;
	return 0;
}

int lfs_io_flush(struct lfs_fs *fs)
{
	if (fs->io.flush(fs->io.ctx)) {
		lfs_fault(fs, "device flush error", NULL, 0, NULL);
		return -EIO;
	}
	fs->data_written = false;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Block checksums                                                         */

void lfs_block_csum(void *blk)
{
	struct lfs_bhdr *h = blk;

	h->crc = 0;
	h->crc = lfs_crc32c(0, blk, LFS_BLOCK_SIZE);
}

bool lfs_block_csum_ok(const void *blk)
{
	const struct lfs_bhdr *h = blk;
	u32 want = h->crc;
	u32 zero = 0;
	u32 c = lfs_crc32c(0, blk, offsetof(struct lfs_bhdr, crc));

	c = lfs_crc32c(c, &zero, sizeof(zero));
	c = lfs_crc32c(c, (const u8 *)blk + offsetof(struct lfs_bhdr, crc) + 4,
		       LFS_BLOCK_SIZE - offsetof(struct lfs_bhdr, crc) - 4);
	return c == want;
}

/* ---------------------------------------------------------------------- */
/* Cache                                                                   */

static u32 hslot(const struct lfs_fs *fs, u64 blk)
{
	return (u32)((blk * 0x9e3779b97f4a7c15ULL) >> 40) & fs->hmask;
}

static struct lfs_buf *cache_find(struct lfs_fs *fs, u64 blk)
{
	for (struct lfs_buf *b = fs->htab[hslot(fs, blk)]; b; b = b->hnext)
		if (b->blk == blk)
			return b;
	return NULL;
}

static void cache_unhash(struct lfs_fs *fs, struct lfs_buf *b)
{
	struct lfs_buf **pp = &fs->htab[hslot(fs, b->blk)];

	while (*pp && *pp != b)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = b->hnext;
}

static void buf_destroy(struct lfs_fs *fs, struct lfs_buf *b)
{
	cache_unhash(fs, b);
	if (b->in_lru)
		list_del(&b->lru);
	if (b->dirty) {
		list_del(&b->dlink);
		fs->ndirty--;
	}
	if (b->in_op)
		list_del(&b->olink);
	lfs_free(fs, b->undo);
	lfs_free(fs, b->busy);
	lfs_free(fs, b->data);
	lfs_free(fs, b);
	fs->ncached--;
}

static void cache_shrink(struct lfs_fs *fs)
{
	u32 nlru = 0;

	/* Count lazily: the LRU is only walked when the cache is over size. */
	if (fs->ncached <= fs->cache_max)
		return;
	struct list_head *p;
	list_for_each(p, &fs->lru)
		nlru++;
	while (nlru > fs->cache_max && !list_empty(&fs->lru)) {
		struct lfs_buf *b = list_last_entry(&fs->lru, struct lfs_buf, lru);
		buf_destroy(fs, b);
		nlru--;
	}
}

static struct lfs_buf *buf_alloc(struct lfs_fs *fs, u64 blk)
{
	struct lfs_buf *b = lfs_zalloc(fs, sizeof(*b));

	if (!b)
		return NULL;
	b->data = fs->env.alloc(fs->env.ctx, LFS_BLOCK_SIZE);
	if (!b->data) {
		lfs_free(fs, b);
		return NULL;
	}
	b->blk = blk;
	INIT_LIST_HEAD(&b->lru);
	INIT_LIST_HEAD(&b->dlink);
	INIT_LIST_HEAD(&b->olink);
	u32 s = hslot(fs, blk);
	b->hnext = fs->htab[s];
	fs->htab[s] = b;
	fs->ncached++;
	return b;
}

static void buf_grab(struct lfs_buf *b)
{
	if (b->in_lru) {
		list_del(&b->lru);
		b->in_lru = 0;
	}
	b->refs++;
}

void lfs_bput(struct lfs_fs *fs, struct lfs_buf *b)
{
	if (!b)
		return;
	if (!b->refs) {
		lfs_bug(fs, "buffer put twice");
		return;
	}
	if (--b->refs == 0 && !b->dirty && !b->pinned) {
		list_add(&b->lru, &fs->lru);
		b->in_lru = 1;
		cache_shrink(fs);
	}
}

static int check_loaded(struct lfs_fs *fs, struct lfs_buf *b, unsigned type, u32 owner)
{
	struct lfs_bhdr *h = hdr(b);
	const char *why = NULL;

	if (h->magic != LFS_BLOCK_MAGIC)
		why = ": bad magic";
	else if (!lfs_block_csum_ok(b->data))
		why = ": checksum mismatch";
	else if (h->blkno != b->blk)
		why = ": holds another block's number";
	else if (h->type != type)
		why = ": wrong block type";
	else if (owner != LFS_OWNER_ANY && h->owner != owner)
		why = ": belongs to another owner";
	else if (type == LFS_BT_BUCKET && (h->used > LFS_PAYLOAD || h->used % 8))
		why = ": bad fill";
	else if (type == LFS_BT_EXTENT &&
		 (h->count > LFS_EXT_PER_BLOCK || h->level >= LFS_EXT_MAXDEPTH))
		why = ": bad count or level";
	else if (type == LFS_BT_HTDIR && h->level > 1)
		why = ": bad level";
	if (!why)
		return 0;
	lfs_fault(fs, lfs_btype_name(type), " block ", b->blk, why);
	return -EIO;
}

int lfs_bread(struct lfs_fs *fs, u64 blk, unsigned type, u32 owner, struct lfs_buf **out)
{
	struct lfs_buf *b;
	int r;

	*out = NULL;
	if (blk < fs->sb.bitmap_start || blk >= fs->sb.nblocks) {
		lfs_fault(fs, lfs_btype_name(type), " pointer to block ", blk,
			  " outside the metadata area");
		return -EIO;
	}
	b = cache_find(fs, blk);
	if (b) {
		if (b->freed || b->type != type ||
		    (owner != LFS_OWNER_ANY && hdr(b)->owner != owner)) {
			lfs_fault(fs, lfs_btype_name(type), " pointer to block ", blk,
				  " finds a block of another kind or owner");
			return -EIO;
		}
		buf_grab(b);
		*out = b;
		return 0;
	}
	b = buf_alloc(fs, blk);
	if (!b)
		return -ENOMEM;
	b->type = (u16)type;
	r = lfs_io_read(fs, blk, 1, b->data);
	if (!r)
		r = check_loaded(fs, b, type, owner);
	if (r) {
		buf_destroy(fs, b);
		return r;
	}
	b->refs = 1;
	*out = b;
	return 0;
}

/* Track b in the current operation; a block first touched while clean is
 * dropped on rollback, one already dirty gets an undo copy. */
static int op_track(struct lfs_fs *fs, struct lfs_buf *b)
{
	if (b->in_op && b->op_gen == fs->op_gen)
		return 0;
	if (!b->dirty && fs->ndirty >= fs->txn_max)
		return -LFS_ETXN;
	if (b->dirty) {
		b->undo = fs->env.alloc(fs->env.ctx, LFS_BLOCK_SIZE);
		if (!b->undo)
			return -ENOMEM;
		memcpy(b->undo, b->data, LFS_BLOCK_SIZE);
		b->undo_freed = b->freed;
	}
	if (b->in_op)
		list_del(&b->olink);
	b->op_gen = fs->op_gen;
	b->in_op = 1;
	list_add(&b->olink, &fs->op_list);
	return 0;
}

static void mark_dirty(struct lfs_fs *fs, struct lfs_buf *b)
{
	if (b->dirty)
		return;
	b->dirty = 1;
	fs->ndirty++;
	list_add_tail(&b->dlink, &fs->dirty);
}

int lfs_bmodify(struct lfs_fs *fs, struct lfs_buf *b)
{
	int r;

	if (!fs->in_op) {
		lfs_bug(fs, "metadata change outside an operation");
		return -EIO;
	}
	r = op_track(fs, b);
	if (r)
		return r;
	if (!b->dirty && b->type == LFS_BT_BITMAP) {
		/* busy starts as the committed bitmap; frees add to it. */
		b->busy = fs->env.alloc(fs->env.ctx, LFS_BLOCK_SIZE);
		if (!b->busy)
			return -ENOMEM;
		memcpy(b->busy, b->data, LFS_BLOCK_SIZE);
	}
	mark_dirty(fs, b);
	return 0;
}

int lfs_bnew(struct lfs_fs *fs, u64 blk, unsigned type, u32 owner, u16 level,
	     struct lfs_buf **out)
{
	struct lfs_buf *b;
	int r;

	*out = NULL;
	if (!fs->in_op) {
		lfs_bug(fs, "new block outside an operation");
		return -EIO;
	}
	if (fs->ndirty >= fs->txn_max)
		return -LFS_ETXN;
	b = cache_find(fs, blk);
	if (b) {
		/* A stale clean copy of a block that was freed and committed. */
		if (b->refs || b->dirty) {
			lfs_bug(fs, "allocated block still in use in the cache");
			return -EIO;
		}
		buf_destroy(fs, b);
	}
	b = buf_alloc(fs, blk);
	if (!b)
		return -ENOMEM;
	b->type = (u16)type;
	b->refs = 1;
	r = op_track(fs, b);
	if (r) {
		buf_destroy(fs, b);
		return r;
	}
	memset(b->data, 0, LFS_BLOCK_SIZE);
	struct lfs_bhdr *h = hdr(b);
	h->magic = LFS_BLOCK_MAGIC;
	h->blkno = blk;
	h->type = (u16)type;
	h->level = level;
	h->owner = owner;
	mark_dirty(fs, b);
	*out = b;
	return 0;
}

int lfs_cache_init(struct lfs_fs *fs, u32 cache_max)
{
	u32 n = 256;

	while (n < 8192 && n < cache_max + fs->txn_max)
		n <<= 1;
	fs->htab = lfs_zalloc(fs, n * sizeof(*fs->htab));
	if (!fs->htab)
		return -ENOMEM;
	fs->hmask = n - 1;
	fs->cache_max = cache_max;
	INIT_LIST_HEAD(&fs->lru);
	INIT_LIST_HEAD(&fs->dirty);
	INIT_LIST_HEAD(&fs->op_list);
	return 0;
}

void lfs_cache_destroy(struct lfs_fs *fs)
{
	if (!fs->htab)
		return;
	for (u32 i = 0; i <= fs->hmask; i++) {
		while (fs->htab[i]) {
			struct lfs_buf *b = fs->htab[i];
			b->refs = 0;
			buf_destroy(fs, b);
		}
	}
	lfs_free(fs, fs->htab);
	fs->htab = NULL;
}

/* ---------------------------------------------------------------------- */
/* Operations: atomic units of change inside the running transaction.     */

void lfs_op_begin_raw(struct lfs_fs *fs)
{
	fs->in_op = true;
	fs->op_gen++;
	fs->save.free_blocks = fs->free_blocks;
	fs->save.pending_free = fs->pending_free;
	fs->save.rotor = fs->rotor;
	fs->save.free_inodes = fs->free_inodes;
	fs->save.ino_rotor = fs->ino_rotor;
}

int lfs_op_begin(struct lfs_fs *fs, int attempt)
{
	if (fs->rdonly || fs->failed)
		return -EROFS;
	if (fs->in_op) {
		lfs_bug(fs, "nested operation");
		return -EIO;
	}
	/* Keep room for the next operation: commit a half-full transaction. */
	if (fs->ndirty >= fs->txn_max / 2) {
		int r = lfs_commit(fs);
		if (r)
			return r;
	}
	lfs_op_begin_raw(fs);
	return 0;
}

static void op_finish(struct lfs_fs *fs)
{
	struct lfs_buf *b, *t;

	list_for_each_entry_safe(b, t, &fs->op_list, olink) {
		list_del(&b->olink);
		b->in_op = 0;
		lfs_free(fs, b->undo);
		b->undo = NULL;
	}
	fs->in_op = false;
}

static void op_rollback(struct lfs_fs *fs)
{
	struct lfs_buf *b, *t;

	list_for_each_entry_safe(b, t, &fs->op_list, olink) {
		list_del(&b->olink);
		b->in_op = 0;
		if (b->undo) {
			memcpy(b->data, b->undo, LFS_BLOCK_SIZE);
			b->freed = b->undo_freed;
			lfs_free(fs, b->undo);
			b->undo = NULL;
		} else {
			/* Clean before this operation (or new in it): the device
			 * holds the committed content. */
			if (b->refs) {
				lfs_bug(fs, "buffer held across the end of an operation");
				continue;
			}
			buf_destroy(fs, b);
		}
	}
	fs->free_blocks = fs->save.free_blocks;
	fs->pending_free = fs->save.pending_free;
	fs->rotor = fs->save.rotor;
	fs->free_inodes = fs->save.free_inodes;
	fs->ino_rotor = fs->save.ino_rotor;
	fs->in_op = false;
}

int lfs_op_end(struct lfs_fs *fs, int r, int attempt)
{
	if (r >= 0) {
		op_finish(fs);
		return r;
	}
	op_rollback(fs);
	if (r == -EIO) {
		fs->failed = true;
		return r;
	}
	if (attempt == 0 && ((r == -ENOSPC && fs->pending_free) || r == -LFS_ETXN) &&
	    fs->ndirty) {
		/* Space freed, or room taken, by the running transaction is
		 * released by committing it: do that and run the op again. */
		int c = lfs_commit(fs);
		return c ? c : LFS_RETRY;
	}
	return r == -LFS_ETXN ? -ENOSPC : r;
}

/* ---------------------------------------------------------------------- */
/* Journal                                                                 */

u32 lfs_txn_capacity(u32 journal_blocks)
{
	u32 n = journal_blocks - DIV_ROUND_UP(journal_blocks, LFS_JD_PER_BLOCK + 1);

	while (n && DIV_ROUND_UP(n, LFS_JD_PER_BLOCK) + n > journal_blocks)
		n--;
	return n;
}

/* Journal records of at most this many blocks (descriptor + images) are
 * staged in one buffer and written with one device request (env->alloc
 * gives up to 64 KiB in one piece). */
#define LFS_JSTAGE_BLOCKS 16u

/* Commit the running transaction: (1) flush, so that file data and the
 * previous checkpoint are durable; (2) write the descriptors and block
 * images to the journal; (3) flush: committed; (4) write the blocks home
 * (checkpoint), made durable by the next commit's first flush or by
 * unmount. Blocks freed in the transaction are not logged.
 *
 * A small transaction (one descriptor, record <= LFS_JSTAGE_BLOCKS) is
 * copied into one buffer, descriptor first, and written to the journal
 * with one request instead of one per block: under emulation every
 * request costs a round trip through the device model. This changes
 * nothing for crash safety: the journal's blocks are written between two
 * flushes either way, so any subset of them, in any order, torn or not,
 * may be on the device after a crash, and recovery takes the record only
 * if the descriptor's CRC and every image's CRC check out. */
int lfs_commit(struct lfs_fs *fs)
{
	struct lfs_buf *b, *t;
	u32 n = 0, ndesc, i;
	int r;

	if (fs->in_op) {
		lfs_bug(fs, "commit inside an operation");
		return -EIO;
	}
	if (fs->failed)
		return -EIO;
	if (fs->rdonly)
		return 0;
	list_for_each_entry(b, &fs->dirty, dlink)
		if (!b->freed)
			n++;
	if (n == 0 && fs->ndirty == 0) {
		if (fs->data_written && lfs_io_flush(fs)) {
			fs->failed = true;
			return -EIO;
		}
		return 0;
	}

	ndesc = DIV_ROUND_UP(n, LFS_JD_PER_BLOCK);
	if (n && ndesc + n > fs->sb.journal_blocks) {
		lfs_bug(fs, "transaction larger than the journal");
		return -EIO;
	}
	r = lfs_io_flush(fs);
	if (r)
		goto fail;
	if (n) {
		u64 jimg = fs->sb.journal_start + ndesc;
		struct lfs_jdesc *d = (struct lfs_jdesc *)fs->bounce;
		u32 di = 0, head_crc = 0;
		/* jimg == journal_start + 1 here: the record is contiguous. */
		u8 *stage = ndesc == 1 && n + 1 <= LFS_JSTAGE_BLOCKS
				    ? fs->env.alloc(fs->env.ctx, (size_t)(n + 1) * LFS_BLOCK_SIZE)
				    : NULL;

		i = 0;
		list_for_each_entry(b, &fs->dirty, dlink) {
			if (b->freed)
				continue;
			lfs_block_csum(b->data);
			if (i % LFS_JD_PER_BLOCK == 0) {
				memset(fs->bounce, 0, LFS_BLOCK_SIZE);
				d->magic = LFS_JOURNAL_MAGIC;
				d->seq = fs->seq;
				memcpy(d->uuid, fs->sb.uuid, 16);
				d->idx = di;
				d->ndesc = ndesc;
				d->nimages = n;
				d->count = MIN(n - i, LFS_JD_PER_BLOCK);
				d->head_crc = head_crc;
			}
			d->e[i % LFS_JD_PER_BLOCK].blk = b->blk;
			d->e[i % LFS_JD_PER_BLOCK].crc = hdr(b)->crc;
			if (stage) {
				memcpy(stage + (size_t)(i + 1) * LFS_BLOCK_SIZE, b->data, LFS_BLOCK_SIZE);
			} else {
				r = lfs_io_write(fs, jimg + i, 1, b->data);
				if (r)
					goto fail;
			}
			i++;
			if (i % LFS_JD_PER_BLOCK == 0 || i == n) {
				d->crc = 0;
				d->crc = lfs_crc32c(0, d, LFS_BLOCK_SIZE);
				if (di == 0)
					head_crc = d->crc;
				if (stage) {
					memcpy(stage, d, LFS_BLOCK_SIZE);	/* ndesc == 1 */
				} else {
					r = lfs_io_write(fs, fs->sb.journal_start + di, 1, d);
					if (r)
						goto fail;
				}
				di++;
			}
		}
		if (stage) {
			r = lfs_io_write(fs, fs->sb.journal_start, n + 1, stage);
			fs->env.free(fs->env.ctx, stage);
			if (r)
				goto fail;
		}
		r = lfs_io_flush(fs);
		if (r)
			goto fail;
		fs->seq++;
		fs->commits++;
		list_for_each_entry(b, &fs->dirty, dlink) {
			if (b->freed)
				continue;
			r = lfs_io_write(fs, b->blk, 1, b->data);
			if (r)
				goto fail;
		}
	}
	list_for_each_entry_safe(b, t, &fs->dirty, dlink) {
		list_del(&b->dlink);
		b->dirty = 0;
		fs->ndirty--;
		lfs_free(fs, b->busy);
		b->busy = NULL;
		if (b->freed) {
			b->refs = 0;
			buf_destroy(fs, b);
		} else if (!b->refs && !b->pinned) {
			list_add(&b->lru, &fs->lru);
			b->in_lru = 1;
		}
	}
	fs->pending_free = 0;
	cache_shrink(fs);
	return 0;
fail:
	fs->failed = true;
	return -EIO;
}

static int jdesc_ok(struct lfs_fs *fs, const struct lfs_jdesc *d)
{
	u32 want = d->crc;
	u32 zero = 0;
	u32 c;

	if (d->magic != LFS_JOURNAL_MAGIC || memcmp(d->uuid, fs->sb.uuid, 16))
		return 0;
	c = lfs_crc32c(0, d, offsetof(struct lfs_jdesc, crc));
	c = lfs_crc32c(c, &zero, 4);
	c = lfs_crc32c(c, (const u8 *)d + offsetof(struct lfs_jdesc, crc) + 4,
		       LFS_BLOCK_SIZE - offsetof(struct lfs_jdesc, crc) - 4);
	return c == want;
}

/* Find the transaction at the head of the journal and, if it is complete,
 * apply it: written home (read-write) or pinned in the cache (read-only).
 * An incomplete one (torn or unflushed commit) is ignored: it was never
 * acknowledged. Returns 0, -EUCLEAN for a complete record that cannot be
 * right (fault message set), -EIO, -ENOMEM. */
int lfs_journal_recover(struct lfs_fs *fs)
{
	u8 *dbuf = fs->env.alloc(fs->env.ctx, LFS_BLOCK_SIZE);
	u8 *ibuf = fs->env.alloc(fs->env.ctx, LFS_BLOCK_SIZE);
	struct lfs_jdesc *d = (struct lfs_jdesc *)dbuf;
	u64 js = fs->sb.journal_start;
	u32 ndesc, nimg, pass, head_crc;
	u64 seq;
	int r = 0;

	if (!dbuf || !ibuf) {
		r = -ENOMEM;
		goto out;
	}
	r = lfs_io_read(fs, js, 1, dbuf);
	if (r)
		goto out;
	if (!jdesc_ok(fs, d) || d->idx != 0)
		goto out;	/* no transaction */
	ndesc = d->ndesc;
	nimg = d->nimages;
	seq = d->seq;
	head_crc = d->crc;
	fs->seq = seq + 1;
	if (!nimg || ndesc != DIV_ROUND_UP(nimg, LFS_JD_PER_BLOCK) ||
	    (u64)ndesc + nimg > fs->sb.journal_blocks)
		goto out;	/* cannot be a whole transaction */
	/* Pass 0 checks everything; pass 1 applies. */
	for (pass = 0; pass < 2; pass++) {
		for (u32 i = 0; i < nimg; i++) {
			if (i % LFS_JD_PER_BLOCK == 0) {
				u32 di = i / LFS_JD_PER_BLOCK;
				r = lfs_io_read(fs, js + di, 1, dbuf);
				if (r)
					goto out;
				if (!jdesc_ok(fs, d) || d->idx != di || d->seq != seq ||
				    d->ndesc != ndesc || d->nimages != nimg ||
				    d->count != MIN(nimg - i, LFS_JD_PER_BLOCK) ||
				    (di && d->head_crc != head_crc))
					goto out;
			}
			struct lfs_jent *e = &d->e[i % LFS_JD_PER_BLOCK];
			struct lfs_bhdr *h = (struct lfs_bhdr *)ibuf;
			r = lfs_io_read(fs, js + ndesc + i, 1, ibuf);
			if (r)
				goto out;
			if (h->magic != LFS_BLOCK_MAGIC || h->crc != e->crc ||
			    !lfs_block_csum_ok(ibuf))
				goto out;	/* torn commit: not committed */
			if (h->blkno != e->blk || e->blk < fs->sb.bitmap_start ||
			    e->blk >= fs->sb.nblocks || h->type == 0 || h->type >= LFS_BT_NR) {
				lfs_msg(fs->msg, sizeof(fs->msg), "journal: record ", "", i,
					" names a block outside the metadata area");
				r = -EUCLEAN;
				goto out;
			}
			if (pass == 0)
				continue;
			if (!fs->rdonly) {
				r = lfs_io_write(fs, e->blk, 1, ibuf);
				if (r)
					goto out;
				continue;
			}
			struct lfs_buf *b = cache_find(fs, e->blk);
			if (!b) {
				b = buf_alloc(fs, e->blk);
				if (!b) {
					r = -ENOMEM;
					goto out;
				}
			}
			memcpy(b->data, ibuf, LFS_BLOCK_SIZE);
			b->type = h->type;
			b->pinned = 1;
		}
	}
	if (!fs->rdonly) {
		r = lfs_io_flush(fs);
		if (!r)
			r = lfs_journal_clear(fs);
	}
out:
	lfs_free(fs, dbuf);
	lfs_free(fs, ibuf);
	return r;
}

/* Once every committed block is durable at home: empty the journal, so
 * that the next mount replays nothing (and a check sees the home copies). */
int lfs_journal_clear(struct lfs_fs *fs)
{
	int r;

	if (fs->data_written) {
		r = lfs_io_flush(fs);
		if (r)
			return r;
	}
	memset(fs->bounce, 0, LFS_BLOCK_SIZE);
	r = lfs_io_write(fs, fs->sb.journal_start, 1, fs->bounce);
	if (!r)
		r = lfs_io_flush(fs);
	return r;
}

/* ---------------------------------------------------------------------- */
/* Block allocation                                                        */

static inline u64 *bm_words(struct lfs_buf *b)
{
	return (u64 *)(b->data + LFS_HDR_SIZE);
}

static int bitmap_get(struct lfs_fs *fs, u64 blk, struct lfs_buf **b)
{
	return lfs_bread(fs, fs->sb.bitmap_start + blk / LFS_BITS_PER_BMAP, LFS_BT_BITMAP, 0, b);
}

/* First block in [from, to) that is free and not busy; *found = to if none. */
static int find_free(struct lfs_fs *fs, u64 from, u64 to, u64 *found)
{
	u64 blk = from;

	*found = to;
	while (blk < to) {
		struct lfs_buf *b;
		int r = bitmap_get(fs, blk, &b);
		if (r)
			return r;
		u64 base = blk - blk % LFS_BITS_PER_BMAP;
		u64 *cur = bm_words(b);
		u64 *busy = b->busy ? (u64 *)(b->busy + LFS_HDR_SIZE) : NULL;
		u32 w = (u32)((blk - base) / 64);
		u32 bit = (u32)((blk - base) % 64);
		for (; w < LFS_PAYLOAD / 8; w++, bit = 0) {
			u64 word = cur[w] | (busy ? busy[w] : 0);
			if (bit)
				word |= (1ULL << bit) - 1;
			if (word != ~0ULL) {
				u64 x = base + (u64)w * 64 + (u64)__builtin_ctzll(~word);
				lfs_bput(fs, b);
				if (x < to)
					*found = x;
				return 0;
			}
		}
		lfs_bput(fs, b);
		blk = base + LFS_BITS_PER_BMAP;
	}
	return 0;
}

static inline bool bit_test(const u64 *w, u64 i)
{
	return (w[i / 64] >> (i % 64)) & 1;
}

/* Allocate a run of up to want blocks (at least one), preferring goal. The
 * run never crosses a bitmap block. Blocks freed in the running
 * transaction stay busy (not reusable) until it commits. */
int lfs_balloc(struct lfs_fs *fs, u64 goal, u32 want, u64 *start, u32 *got)
{
	u64 ds = fs->sb.data_start, nb = fs->sb.nblocks, x;
	struct lfs_buf *b;
	int r;

	if (fs->free_blocks <= fs->pending_free)
		return -ENOSPC;
	if (goal < ds || goal >= nb)
		goal = fs->rotor >= ds && fs->rotor < nb ? fs->rotor : ds;
	r = find_free(fs, goal, nb, &x);
	if (r)
		return r;
	if (x == nb && goal > ds) {
		r = find_free(fs, ds, goal, &x);
		if (r)
			return r;
		if (x == goal)
			x = nb;
	}
	if (x >= nb)
		return -ENOSPC;
	r = bitmap_get(fs, x, &b);
	if (r)
		return r;
	u64 base = x - x % LFS_BITS_PER_BMAP;
	u64 lim = MIN(nb, base + LFS_BITS_PER_BMAP);
	u64 *cur = bm_words(b);
	u64 *busy = b->busy ? (u64 *)(b->busy + LFS_HDR_SIZE) : NULL;
	u32 n = 0;
	while (n < want && x + n < lim && !bit_test(cur, x + n - base) &&
	       !(busy && bit_test(busy, x + n - base)))
		n++;
	r = lfs_bmodify(fs, b);
	if (r) {
		lfs_bput(fs, b);
		return r;
	}
	for (u32 i = 0; i < n; i++) {
		u64 bi = x + i - base;
		cur[bi / 64] |= 1ULL << (bi % 64);
	}
	lfs_bput(fs, b);
	fs->free_blocks -= n;
	fs->rotor = x + n;
	*start = x;
	*got = n;
	return 0;
}

/* Free [start, start + n): the bits are cleared and the blocks made busy
 * until the transaction commits; cached metadata copies are marked freed
 * (not logged). */
int lfs_bfree(struct lfs_fs *fs, u64 start, u64 n)
{
	u64 end = start + n;
	int r;

	if (start < fs->sb.data_start || end > fs->sb.nblocks || end < start) {
		lfs_fault(fs, "free of block ", "", start, " outside the data area");
		return -EIO;
	}
	while (start < end) {
		struct lfs_buf *b;
		r = bitmap_get(fs, start, &b);
		if (r)
			return r;
		r = lfs_bmodify(fs, b);
		if (r) {
			lfs_bput(fs, b);
			return r;
		}
		u64 base = start - start % LFS_BITS_PER_BMAP;
		u64 lim = MIN(end, base + LFS_BITS_PER_BMAP);
		u64 *cur = bm_words(b);
		u64 *busy = (u64 *)(b->busy + LFS_HDR_SIZE);
		for (u64 x = start; x < lim; x++) {
			u64 bi = x - base;
			if (!bit_test(cur, bi)) {
				lfs_bput(fs, b);
				lfs_fault(fs, "block ", "", x, " freed twice");
				return -EIO;
			}
			cur[bi / 64] &= ~(1ULL << (bi % 64));
			busy[bi / 64] |= 1ULL << (bi % 64);
			struct lfs_buf *m = cache_find(fs, x);
			if (m && !m->dirty && !m->refs && !m->pinned) {
				/* A clean copy: drop it, as a rollback would. */
				buf_destroy(fs, m);
			} else if (m) {
				r = op_track(fs, m);
				if (r) {
					lfs_bput(fs, b);
					return r;
				}
				mark_dirty(fs, m);
				m->freed = 1;
			}
		}
		lfs_bput(fs, b);
		fs->free_blocks += lim - start;
		fs->pending_free += lim - start;
		start = lim;
	}
	return 0;
}

/* busy: blk belongs to the committed state or was freed in this
 * transaction, so it must not be written in place. */
int lfs_block_busy(struct lfs_fs *fs, u64 blk, bool *busy)
{
	struct lfs_buf *b;
	int r = bitmap_get(fs, blk, &b);

	if (r)
		return r;
	u64 bi = blk % LFS_BITS_PER_BMAP;
	*busy = b->busy ? bit_test((u64 *)(b->busy + LFS_HDR_SIZE), bi)
			: bit_test(bm_words(b), bi);
	lfs_bput(fs, b);
	return 0;
}

/* No libgcc in the kernel: the classic SWAR population count. */
static u64 popcount64(u64 x)
{
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

int lfs_count_free(struct lfs_fs *fs)
{
	u64 nfree = 0;
	u32 ifree = 0;

	for (u32 k = 0; k < fs->sb.bitmap_blocks; k++) {
		struct lfs_buf *b;
		int r = lfs_bread(fs, fs->sb.bitmap_start + k, LFS_BT_BITMAP, 0, &b);
		if (r)
			return r;
		u64 base = (u64)k * LFS_BITS_PER_BMAP;
		u64 *w = bm_words(b);
		for (u32 i = 0; i < LFS_PAYLOAD / 8; i++) {
			u64 blk0 = base + (u64)i * 64;
			if (blk0 >= fs->sb.nblocks)
				break;
			if (blk0 >= fs->sb.data_start && blk0 + 64 <= fs->sb.nblocks) {
				nfree += 64 - popcount64(w[i]);
				continue;
			}
			for (u32 j = 0; j < 64; j++) {
				u64 x = blk0 + j;
				if (x >= fs->sb.data_start && x < fs->sb.nblocks &&
				    !((w[i] >> j) & 1))
					nfree++;
			}
		}
		lfs_bput(fs, b);
	}
	for (u32 k = 0; k < fs->sb.refcnt_blocks; k++) {
		struct lfs_buf *b;
		int r = lfs_bread(fs, fs->sb.refcnt_start + k, LFS_BT_REFCNT, 0, &b);
		if (r)
			return r;
		u16 *rc = (u16 *)(b->data + LFS_HDR_SIZE);
		for (u32 i = 0; i < LFS_REFS_PER_BLOCK; i++) {
			u64 ino = (u64)k * LFS_REFS_PER_BLOCK + i;
			if (ino && ino < fs->sb.ninodes && !rc[i])
				ifree++;
		}
		lfs_bput(fs, b);
	}
	fs->free_blocks = nfree;
	fs->pending_free = 0;
	fs->free_inodes = ifree;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Inodes                                                                  */

int lfs_inode_get(struct lfs_fs *fs, u32 ino, struct lfs_buf **b, struct lfs_inode **ip)
{
	int r;

	if (ino == 0 || ino >= fs->sb.ninodes) {
		lfs_fault(fs, "inode number ", "", ino, " out of range");
		return -EIO;
	}
	r = lfs_bread(fs, fs->sb.itable_start + ino / LFS_INODES_PER_BLOCK, LFS_BT_ITABLE, 0, b);
	if (r)
		return r;
	*ip = (struct lfs_inode *)((*b)->data + LFS_HDR_SIZE +
				   (ino % LFS_INODES_PER_BLOCK) * LFS_INODE_SIZE);
	return 0;
}

int lfs_inode_read(struct lfs_fs *fs, u32 ino, struct lfs_inode *out)
{
	struct lfs_buf *b;
	struct lfs_inode *ip;
	int r = lfs_inode_get(fs, ino, &b, &ip);

	if (r)
		return r;
	*out = *ip;
	lfs_bput(fs, b);
	return 0;
}

static int ref_block(struct lfs_fs *fs, u32 ino, struct lfs_buf **b, u16 **p)
{
	int r;

	if (ino >= fs->sb.ninodes) {
		lfs_fault(fs, "inode number ", "", ino, " out of range");
		return -EIO;
	}
	r = lfs_bread(fs, fs->sb.refcnt_start + ino / LFS_REFS_PER_BLOCK, LFS_BT_REFCNT, 0, b);
	if (r)
		return r;
	*p = (u16 *)((*b)->data + LFS_HDR_SIZE) + ino % LFS_REFS_PER_BLOCK;
	return 0;
}

int lfs_ref_get(struct lfs_fs *fs, u32 ino, u32 *val)
{
	struct lfs_buf *b;
	u16 *p;
	int r = ref_block(fs, ino, &b, &p);

	if (r)
		return r;
	*val = *p;
	lfs_bput(fs, b);
	return 0;
}

int lfs_ref_set(struct lfs_fs *fs, u32 ino, u32 val)
{
	struct lfs_buf *b;
	u16 *p;
	int r = ref_block(fs, ino, &b, &p);

	if (r)
		return r;
	r = lfs_bmodify(fs, b);
	if (!r)
		*p = (u16)val;
	lfs_bput(fs, b);
	return r;
}

int lfs_inode_alloc(struct lfs_fs *fs, u32 mode, u32 *inop)
{
	u32 n = fs->sb.ninodes, ino = fs->ino_rotor;
	struct lfs_buf *b = NULL;
	struct lfs_inode *ip;
	int r;

	if (!fs->free_inodes)
		return -ENOSPC;
	if (ino == 0 || ino >= n)
		ino = 1;
	for (u32 tries = 0; tries < n; tries++, ino = ino + 1 < n ? ino + 1 : 1) {
		u16 *p;
		if (!b || ino % LFS_REFS_PER_BLOCK == 0 || ino == 1) {
			lfs_bput(fs, b);
			r = ref_block(fs, ino, &b, &p);
			if (r)
				return r;
		} else {
			p = (u16 *)(b->data + LFS_HDR_SIZE) + ino % LFS_REFS_PER_BLOCK;
		}
		if (*p)
			continue;
		r = lfs_bmodify(fs, b);
		if (!r)
			*p = 1;
		lfs_bput(fs, b);
		if (r)
			return r;
		struct lfs_buf *ib;
		r = lfs_inode_get(fs, ino, &ib, &ip);
		if (r)
			return r;
		r = lfs_bmodify(fs, ib);
		if (!r) {
			memset(ip, 0, sizeof(*ip));
			ip->mode = (u16)mode;
			ip->mtime = lfs_now(fs);
		}
		lfs_bput(fs, ib);
		if (r)
			return r;
		fs->free_inodes--;
		fs->ino_rotor = ino + 1;
		*inop = ino;
		return 0;
	}
	lfs_bput(fs, b);
	lfs_fault(fs, "inode reference counts disagree with the free count", NULL, 0, NULL);
	return -EIO;
}

/* Drop one namespace reference; the last one frees the inode's blocks. */
int lfs_inode_unref(struct lfs_fs *fs, u32 ino)
{
	u32 ref;
	int r = lfs_ref_get(fs, ino, &ref);

	if (r)
		return r;
	if (ref == 0) {
		lfs_fault(fs, "inode ", "", ino, " released but not in use");
		return -EIO;
	}
	if (ref > 1)
		return lfs_ref_set(fs, ino, ref - 1);
	r = lfs_ext_free_all(fs, ino);
	if (r)
		return r;
	r = lfs_ref_set(fs, ino, 0);
	if (r)
		return r;
	fs->free_inodes++;
	return 0;
}
