/* LegoFS: format, mount and the request API (include/lego/legofs.h,
 * docs/storage.md). Every changing request runs as one operation: an
 * atomic unit inside the running journal transaction that is rolled back
 * completely if any step fails. */
#define LFS_INTERNAL
#include <lego/legofs.h>
#include <lego/errno.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

static char mount_msg[160];

/* Run `call` as an operation; once more after a commit if it ran out of
 * journal room or of space the running transaction held. */
#define RUN_OP(fs, call)                                                   \
	({                                                                 \
		int __r, __a = 0;                                          \
		for (;;) {                                                 \
			__r = lfs_op_begin(fs, __a);                       \
			if (__r)                                           \
				break;                                     \
			__r = (call);                                      \
			__r = lfs_op_end(fs, __r, __a);                    \
			if (__r != LFS_RETRY)                              \
				break;                                     \
			__a++;                                             \
		}                                                          \
		__r;                                                       \
	})

static int rd_end(struct lfs_fs *fs, int r)
{
	if (r == -EIO)
		fs->failed = true;
	return r;
}

const char *lfs_errmsg(const struct lfs_fs *fs)
{
	return fs->msg;
}

bool lfs_is_readonly(const struct lfs_fs *fs)
{
	return fs->rdonly || fs->failed;
}

/* ---------------------------------------------------------------------- */
/* Geometry, format, mount                                                 */

static void geometry(struct lfs_super *sb)
{
	sb->journal_start = 1;
	sb->bitmap_start = sb->journal_start + sb->journal_blocks;
	sb->bitmap_blocks = (u32)DIV_ROUND_UP(sb->nblocks, LFS_BITS_PER_BMAP);
	sb->refcnt_start = sb->bitmap_start + sb->bitmap_blocks;
	sb->refcnt_blocks = DIV_ROUND_UP(sb->ninodes, LFS_REFS_PER_BLOCK);
	sb->itable_start = sb->refcnt_start + sb->refcnt_blocks;
	sb->itable_blocks = DIV_ROUND_UP(sb->ninodes, LFS_INODES_PER_BLOCK);
	sb->vtab_start = sb->itable_start + sb->itable_blocks;
	sb->vtab_blocks = DIV_ROUND_UP(sb->max_vnodes, LFS_VRECS_PER_BLOCK);
	sb->data_start = sb->vtab_start + sb->vtab_blocks;
}

static u32 super_crc(const struct lfs_super *sb)
{
	struct lfs_super tmp = *sb;

	tmp.crc = 0;
	return lfs_crc32c(0, &tmp, sizeof(tmp));
}

static void set_msg(const char **err, const char *a, const char *b, u64 n, const char *c)
{
	lfs_msg(mount_msg, sizeof(mount_msg), a, b, n, c);
	if (err)
		*err = mount_msg;
}

static int fs_open(struct lfs_fs **out, const struct lfs_io *io, const struct lfs_env *env,
		   const struct lfs_mount_opts *opts, const struct lfs_super *sb)
{
	struct lfs_fs *fs = env->alloc(env->ctx, sizeof(*fs));
	u32 cache = opts && opts->cache_blocks ? opts->cache_blocks : 512;
	u32 txn = opts && opts->txn_blocks ? opts->txn_blocks : 2048;
	int r;

	*out = NULL;
	if (!fs)
		return -ENOMEM;
	memset(fs, 0, sizeof(*fs));
	fs->io = *io;
	fs->env = *env;
	fs->sb = *sb;
	fs->rdonly = opts && (opts->flags & LFS_MOUNT_RDONLY);
	fs->txn_max = MIN(txn, lfs_txn_capacity(sb->journal_blocks));
	fs->seq = 1;
	fs->bounce = env->alloc(env->ctx, LFS_BLOCK_SIZE);
	fs->copybuf = env->alloc(env->ctx, (size_t)LFS_COPY_BLOCKS * LFS_BLOCK_SIZE);
	r = fs->bounce && fs->copybuf ? lfs_cache_init(fs, cache) : -ENOMEM;
	if (r) {
		lfs_free(fs, fs->bounce);
		lfs_free(fs, fs->copybuf);
		env->free(env->ctx, fs);
		return r;
	}
	*out = fs;
	return 0;
}

static void fs_close(struct lfs_fs *fs)
{
	lfs_cache_destroy(fs);
	lfs_free(fs, fs->bounce);
	lfs_free(fs, fs->copybuf);
	fs->env.free(fs->env.ctx, fs);
}

/* vNode 0 with an empty table holding "/". Inside an operation. */
int lfs_vnode_init_base(struct lfs_fs *fs, u64 mtime)
{
	struct lfs_vref v;
	struct lfs_buf *ib;
	struct lfs_inode *ip;
	u32 ino;
	int r = lfs_vnode_slot_free(fs, &v);

	if (r)
		return r;
	r = lfs_bmodify(fs, v.b);
	if (!r) {
		memset(v.r, 0, sizeof(*v.r));
		v.r->id = 0;
		v.r->flags = LFS_VREC_USED;
		v.r->ctime = mtime;
		r = lfs_ht_init(fs, &v);
	}
	if (!r)
		r = lfs_inode_alloc(fs, LFS_S_IFDIR | 0755, &ino);
	if (!r)
		r = lfs_inode_get(fs, ino, &ib, &ip);
	if (!r) {
		r = lfs_bmodify(fs, ib);
		if (!r)
			ip->mtime = mtime;
		lfs_bput(fs, ib);
	}
	if (!r)
		r = lfs_ht_insert(fs, &v, "/", 1, ino, LFS_DT_DIR);
	lfs_vnode_put(fs, &v);
	return r;
}

int lfs_format(const struct lfs_io *io, const struct lfs_env *env,
	       const struct lfs_format_params *p, const char **err)
{
	struct lfs_format_params def;
	struct lfs_super sb;
	struct lfs_fs *fs;
	u8 *buf;
	int r;

	if (!p) {
		memset(&def, 0, sizeof(def));
		p = &def;
	}
	memset(&sb, 0, sizeof(sb));
	sb.magic = LFS_SUPER_MAGIC;
	sb.version = LFS_VERSION;
	sb.block_size = LFS_BLOCK_SIZE;
	sb.nblocks = p->nblocks ? p->nblocks : io->nblocks;
	memcpy(sb.uuid, p->uuid, 16);
	memcpy(sb.label, p->label, sizeof(sb.label));
	sb.ctime = p->mtime;
	if (sb.nblocks > io->nblocks) {
		set_msg(err, "image larger than the device", NULL, 0, NULL);
		return -EINVAL;
	}
	if (sb.nblocks < LFS_MIN_BLOCKS || sb.nblocks > LFS_MAX_BLOCKS) {
		set_msg(err, "image size out of range (", "blocks: ", sb.nblocks, ")");
		return -EINVAL;
	}
	u64 ni = p->ninodes ? p->ninodes : MAX(64, sb.nblocks / 4);
	if (ni > LFS_MAX_INODES)
		ni = p->ninodes ? ni : LFS_MAX_INODES;
	if (ni < 16 || ni > LFS_MAX_INODES) {
		set_msg(err, "inode count out of range", NULL, 0, NULL);
		return -EINVAL;
	}
	sb.ninodes = (u32)ni;
	sb.max_vnodes = p->max_vnodes ? p->max_vnodes : 256;
	if (sb.max_vnodes > LFS_MAX_VNODES) {
		set_msg(err, "too many vnodes (max ", "", LFS_MAX_VNODES, ")");
		return -EINVAL;
	}
	u64 j = p->journal_blocks ? p->journal_blocks : MIN(MAX(sb.nblocks / 32, 64), 8192);
	if (j < 16 || j > sb.nblocks / 2) {
		set_msg(err, "journal size out of range", NULL, 0, NULL);
		return -EINVAL;
	}
	sb.journal_blocks = (u32)j;
	geometry(&sb);
	if (sb.data_start + 16 > sb.nblocks) {
		set_msg(err, "image too small for its metadata (", "need blocks: ",
			sb.data_start + 16, ")");
		return -EINVAL;
	}
	sb.crc = super_crc(&sb);

	r = fs_open(&fs, io, env, NULL, &sb);
	if (r)
		return r;
	buf = fs->bounce;
	/* Static regions: bitmap (metadata area and the tail past the image
	 * marked used), reference counts, inode table, vNode table. */
	for (u64 blk = sb.bitmap_start; !r && blk < sb.data_start; blk++) {
		struct lfs_bhdr *h = (struct lfs_bhdr *)buf;
		memset(buf, 0, LFS_BLOCK_SIZE);
		h->magic = LFS_BLOCK_MAGIC;
		h->blkno = blk;
		if (blk < sb.refcnt_start) {
			u64 base = (blk - sb.bitmap_start) * LFS_BITS_PER_BMAP;
			u64 *w = (u64 *)(buf + LFS_HDR_SIZE);
			h->type = LFS_BT_BITMAP;
			for (u64 i = 0; i < LFS_BITS_PER_BMAP; i++) {
				u64 x = base + i;
				if (x < sb.data_start || x >= sb.nblocks)
					w[i / 64] |= 1ULL << (i % 64);
			}
		} else if (blk < sb.itable_start) {
			h->type = LFS_BT_REFCNT;
		} else if (blk < sb.vtab_start) {
			h->type = LFS_BT_ITABLE;
		} else {
			h->type = LFS_BT_VTAB;
		}
		lfs_block_csum(buf);
		r = lfs_io_write(fs, blk, 1, buf);
	}
	if (!r) {
		memset(buf, 0, LFS_BLOCK_SIZE);
		r = lfs_io_write(fs, sb.journal_start, 1, buf);	/* no transaction */
	}
	if (!r)
		r = lfs_io_flush(fs);
	if (!r)
		r = lfs_count_free(fs);
	if (!r) {
		lfs_op_begin_raw(fs);
		r = lfs_op_end(fs, lfs_vnode_init_base(fs, p->mtime), 1);
	}
	if (!r)
		r = lfs_commit(fs);
	if (!r)
		r = lfs_io_flush(fs);
	/* The superblock last: an interrupted format is not a LegoFS image. */
	if (!r) {
		memset(buf, 0, LFS_BLOCK_SIZE);
		memcpy(buf, &sb, sizeof(sb));
		r = lfs_io_write(fs, 0, 1, buf);
	}
	if (!r)
		r = lfs_io_flush(fs);
	if (r)
		set_msg(err, "format failed: ", NULL, 0, fs->msg[0] ? fs->msg : "out of memory");
	fs_close(fs);
	return r;
}

static int super_check(const struct lfs_super *sb, const struct lfs_io *io, const char **err)
{
	struct lfs_super g;

	if (sb->magic != LFS_SUPER_MAGIC) {
		set_msg(err, "not a LegoFS image (bad superblock magic)", NULL, 0, NULL);
		return -EINVAL;
	}
	if (sb->version != LFS_VERSION) {
		set_msg(err, "unsupported LegoFS version", " ", sb->version, NULL);
		return -EINVAL;
	}
	if (super_crc(sb) != sb->crc) {
		set_msg(err, "superblock checksum mismatch", NULL, 0, NULL);
		return -EUCLEAN;
	}
	if (sb->block_size != LFS_BLOCK_SIZE) {
		set_msg(err, "unsupported block size", " ", sb->block_size, NULL);
		return -EINVAL;
	}
	if (sb->features) {
		set_msg(err, "unsupported feature flags", " ", sb->features, NULL);
		return -EINVAL;
	}
	if (sb->nblocks > io->nblocks) {
		set_msg(err, "image truncated: the superblock says", " ", sb->nblocks,
			" blocks, the device is smaller");
		return -EUCLEAN;
	}
	g = *sb;
	if (sb->nblocks < LFS_MIN_BLOCKS || sb->journal_blocks < 16 || sb->ninodes < 16 ||
	    !sb->max_vnodes || sb->max_vnodes > LFS_MAX_VNODES ||
	    sb->journal_blocks > sb->nblocks / 2 || sb->ninodes > LFS_MAX_INODES ||
	    sb->nblocks > LFS_MAX_BLOCKS) {
		set_msg(err, "superblock geometry out of range", NULL, 0, NULL);
		return -EUCLEAN;
	}
	geometry(&g);
	if (memcmp(&g, sb, sizeof(g)) || g.data_start + 16 > g.nblocks) {
		set_msg(err, "superblock geometry inconsistent", NULL, 0, NULL);
		return -EUCLEAN;
	}
	return 0;
}

int lfs_mount(struct lfs_fs **fsp, const struct lfs_io *io, const struct lfs_env *env,
	      const struct lfs_mount_opts *opts, const char **err)
{
	struct lfs_super sb;
	struct lfs_fs *fs;
	struct lfs_vref v;
	u8 *buf;
	int r;

	*fsp = NULL;
	mount_msg[0] = '\0';
	if (err)
		*err = mount_msg;
	if (io->nblocks < 1) {
		set_msg(err, "device is empty", NULL, 0, NULL);
		return -EINVAL;
	}
	buf = env->alloc(env->ctx, LFS_BLOCK_SIZE);
	if (!buf)
		return -ENOMEM;
	r = io->read(io->ctx, 0, buf);
	memcpy(&sb, buf, sizeof(sb));
	env->free(env->ctx, buf);
	if (r) {
		set_msg(err, "cannot read the superblock", NULL, 0, NULL);
		return -EIO;
	}
	r = super_check(&sb, io, err);
	if (r)
		return r;
	r = fs_open(&fs, io, env, opts, &sb);
	if (r)
		return r;
	r = lfs_journal_recover(fs);
	if (!r)
		r = lfs_count_free(fs);
	for (u32 k = 0; !r && k < fs->sb.vtab_blocks; k++) {
		struct lfs_buf *b;
		r = lfs_bread(fs, fs->sb.vtab_start + k, LFS_BT_VTAB, 0, &b);
		lfs_bput(fs, b);
	}
	if (!r) {
		r = lfs_vnode_get(fs, 0, &v);
		if (r == -ESTALE) {
			lfs_fault(fs, "no base vnode (0) in the vnode table", NULL, 0, NULL);
			r = -EUCLEAN;
		}
		if (!r)
			lfs_vnode_put(fs, &v);
	}
	if (r) {
		if (r == -EIO)
			r = -EUCLEAN;
		set_msg(err, fs->msg[0] ? fs->msg : "out of memory", NULL, 0, NULL);
		fs_close(fs);
		return r;
	}
	*fsp = fs;
	return 0;
}

int lfs_unmount(struct lfs_fs *fs)
{
	int r = 0;

	if (!fs)
		return 0;
	if (!fs->rdonly && !fs->failed) {
		r = lfs_commit(fs);
		if (!r)
			r = lfs_journal_clear(fs);
	}
	fs_close(fs);
	return r;
}

/* ---------------------------------------------------------------------- */
/* Lookup helpers                                                          */

static size_t parent_len(const char *path, size_t len)
{
	size_t i = len;

	while (i > 1 && path[i - 1] != '/')
		i--;
	return i > 1 ? i - 1 : 1;
}

static u8 dt_of(u32 mode)
{
	return LFS_S_ISDIR(mode) ? LFS_DT_DIR : LFS_S_ISLNK(mode) ? LFS_DT_LNK : LFS_DT_REG;
}

/* path is missing: ENOTDIR if its closest existing ancestor is not a
 * directory (POSIX: a non-directory used as a directory), else ENOENT. */
static int missing_errno(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len)
{
	while (len > 1) {
		struct lfs_hent he;
		len = parent_len(path, len);
		int r = lfs_ht_lookup(fs, v, path, len, &he);
		if (r == -ENOENT)
			continue;
		if (r)
			return r;
		return he.type == LFS_DT_DIR ? -ENOENT : -ENOTDIR;
	}
	return -ENOENT;
}

static int lookup(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len,
		  struct lfs_hent *he)
{
	int r = lfs_ht_lookup(fs, v, path, len, he);

	return r == -ENOENT ? missing_errno(fs, v, path, len) : r;
}

/* The parent of path (not "/") must be an existing directory. */
static int parent_dir(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len,
		      struct lfs_hent *pe)
{
	size_t pl = parent_len(path, len);
	int r = lookup(fs, v, path, pl, pe);

	if (r)
		return r;
	return pe->type == LFS_DT_DIR ? 0 : -ENOTDIR;
}


/* The namespace entry path -> *ino is about to change its inode: if the
 * inode is shared with other vNodes, give this entry a private copy (data
 * copied when copy_data). */
static int inode_private(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len,
			 u32 *ino, bool copy_data)
{
	struct lfs_inode old;
	struct lfs_buf *b;
	struct lfs_inode *ip;
	u32 ref, nino;
	int r = lfs_ref_get(fs, *ino, &ref);

	if (r || ref <= 1)
		return r;
	r = lfs_inode_read(fs, *ino, &old);
	if (!r)
		r = lfs_inode_alloc(fs, old.mode, &nino);
	if (r)
		return r;
	r = lfs_inode_get(fs, nino, &b, &ip);
	if (r)
		return r;
	r = lfs_bmodify(fs, b);
	if (!r) {
		ip->uid = old.uid;
		ip->gid = old.gid;
		ip->nchild = old.nchild;
		ip->nsubdir = old.nsubdir;
		ip->mtime = old.mtime;
		ip->flags = old.flags;
		ip->size = copy_data ? old.size : 0;
	}
	lfs_bput(fs, b);
	if (!r && copy_data && !LFS_S_ISDIR(old.mode))
		r = lfs_file_copy(fs, *ino, nino);
	if (!r)
		r = lfs_ref_set(fs, *ino, ref - 1);
	if (!r)
		r = lfs_ht_set_ino(fs, v, path, len, nino);
	if (!r)
		*ino = nino;
	return r;
}

/* Add dchild entries (dsub of them directories) to the directory path. */
static int dir_adjust(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len,
		      int dchild, int dsub)
{
	struct lfs_hent he;
	struct lfs_buf *b;
	struct lfs_inode *ip;
	int r = lfs_ht_lookup(fs, v, path, len, &he);

	if (r == -ENOENT || (!r && he.type != LFS_DT_DIR)) {
		lfs_fault(fs, "vnode ", "", v->r->id, ": a parent directory is missing");
		return -EIO;
	}
	if (!r)
		r = inode_private(fs, v, path, len, &he.ino, false);
	if (!r)
		r = lfs_inode_get(fs, he.ino, &b, &ip);
	if (r)
		return r;
	if ((dchild < 0 && ip->nchild < (u32)-dchild) || (dsub < 0 && ip->nsubdir < (u32)-dsub)) {
		lfs_bput(fs, b);
		lfs_fault(fs, "directory inode ", "", he.ino, ": child count underflow");
		return -EIO;
	}
	r = lfs_bmodify(fs, b);
	if (!r) {
		ip->nchild += dchild;
		ip->nsubdir += dsub;
		ip->mtime = lfs_now(fs);
	}
	lfs_bput(fs, b);
	return r;
}

/* A regular file for writing: exists, is regular, is private. */
static int file_for_write(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len,
			  u32 *ino, bool copy_data)
{
	struct lfs_hent he;
	int r = lookup(fs, v, path, len, &he);

	if (r)
		return r;
	if (he.type == LFS_DT_DIR)
		return -EISDIR;
	if (he.type != LFS_DT_REG)
		return -EINVAL;
	*ino = he.ino;
	return inode_private(fs, v, path, len, ino, copy_data);
}

/* Create an entry of a new inode; the caller checked it does not exist. */
static int new_entry(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len,
		     u32 mode, u32 *inop)
{
	struct lfs_hent pe;
	u32 ino;
	int r = parent_dir(fs, v, path, len, &pe);

	if (!r)
		r = lfs_inode_alloc(fs, mode, &ino);
	if (!r)
		r = lfs_ht_insert(fs, v, path, len, ino, dt_of(mode));
	if (!r)
		r = dir_adjust(fs, v, path, parent_len(path, len), 1, LFS_S_ISDIR(mode) ? 1 : 0);
	if (!r && inop)
		*inop = ino;
	return r;
}

/* ---------------------------------------------------------------------- */
/* vNodes                                                                  */

static int ref_inc_cb(struct lfs_fs *fs, void *ctx, const struct lfs_dent *d)
{
	u32 ref;
	int r = lfs_ref_get(fs, d->ino, &ref);

	if (r)
		return r;
	if (ref == 0) {
		lfs_fault(fs, "entry refers to free inode ", "", d->ino, NULL);
		return -EIO;
	}
	if (ref >= LFS_REF_MAX)
		return -ENOSPC;
	return lfs_ref_set(fs, d->ino, ref + 1);
}

static int do_vnode_create(struct lfs_fs *fs, u32 id)
{
	struct lfs_vref base, nv;
	int r = lfs_vnode_get(fs, id, &nv);

	if (!r) {
		lfs_vnode_put(fs, &nv);
		return -EEXIST;
	}
	if (r != -ESTALE)
		return r;
	r = lfs_vnode_slot_free(fs, &nv);
	if (r)
		return r;
	r = lfs_vnode_get(fs, 0, &base);
	if (r) {
		lfs_vnode_put(fs, &nv);
		return r == -ESTALE ? -EIO : r;
	}
	r = lfs_bmodify(fs, nv.b);
	if (!r) {
		memset(nv.r, 0, sizeof(*nv.r));
		nv.r->id = id;
		nv.r->flags = LFS_VREC_USED;
		nv.r->ctime = lfs_now(fs);
		r = lfs_ht_clone(fs, &base, &nv);
	}
	if (!r)
		r = lfs_ht_foreach(fs, &base, ref_inc_cb, NULL);
	lfs_vnode_put(fs, &base);
	lfs_vnode_put(fs, &nv);
	return r;
}

int lfs_vnode_create(struct lfs_fs *fs, u32 vnode)
{
	if (vnode == LFS_VNODE_INVALID)
		return -EINVAL;
	if (vnode == 0)
		return -EEXIST;
	return RUN_OP(fs, do_vnode_create(fs, vnode));
}

static int unref_cb(struct lfs_fs *fs, void *ctx, const struct lfs_dent *d)
{
	return lfs_inode_unref(fs, d->ino);
}

static int do_vnode_remove(struct lfs_fs *fs, u32 id)
{
	struct lfs_vref v;
	int r = lfs_vnode_get(fs, id, &v);

	if (r)
		return r;
	r = lfs_ht_foreach(fs, &v, unref_cb, NULL);
	if (!r)
		r = lfs_ht_free(fs, &v);
	if (!r)
		r = lfs_bmodify(fs, v.b);
	if (!r)
		memset(v.r, 0, sizeof(*v.r));
	lfs_vnode_put(fs, &v);
	return r;
}

int lfs_vnode_remove(struct lfs_fs *fs, u32 vnode)
{
	if (vnode == 0)
		return -EBUSY;
	if (vnode == LFS_VNODE_INVALID)
		return -ESTALE;
	return RUN_OP(fs, do_vnode_remove(fs, vnode));
}

bool lfs_vnode_exists(struct lfs_fs *fs, u32 vnode)
{
	struct lfs_vref v;

	if (lfs_vnode_get(fs, vnode, &v))
		return false;
	lfs_vnode_put(fs, &v);
	return true;
}

int lfs_vnode_list(struct lfs_fs *fs, u32 *ids, u32 max)
{
	u32 n = 0;

	for (u32 k = 0; k < fs->sb.vtab_blocks; k++) {
		struct lfs_buf *b;
		int r = lfs_bread(fs, fs->sb.vtab_start + k, LFS_BT_VTAB, 0, &b);
		if (r)
			return rd_end(fs, r);
		struct lfs_vrec *rec = (struct lfs_vrec *)(b->data + LFS_HDR_SIZE);
		for (u32 i = 0; i < LFS_VRECS_PER_BLOCK; i++) {
			if ((u64)k * LFS_VRECS_PER_BLOCK + i >= fs->sb.max_vnodes)
				break;
			if (!(rec[i].flags & LFS_VREC_USED))
				continue;
			if (n < max)
				ids[n] = rec[i].id;
			n++;
		}
		lfs_bput(fs, b);
	}
	return (int)n;
}

/* ---------------------------------------------------------------------- */
/* Requests                                                                */

/* The read-only calls' lookup: validate, find the vNode, look the path up. */
static int rd_lookup(struct lfs_fs *fs, u32 vnode, const char *path, struct lfs_hent *he)
{
	struct lfs_vref v;
	size_t len;
	int r = lfs_path_validate(path, &len);

	if (r)
		return r;
	r = lfs_vnode_get(fs, vnode, &v);
	if (!r) {
		r = lookup(fs, &v, path, len, he);
		lfs_vnode_put(fs, &v);
	}
	return rd_end(fs, r);
}

int lfs_stat(struct lfs_fs *fs, u32 vnode, const char *path, struct lfs_stat *st)
{
	struct lfs_hent he;
	struct lfs_inode in;
	int r = rd_lookup(fs, vnode, path, &he);

	if (!r)
		r = lfs_inode_read(fs, he.ino, &in);
	if (r)
		return rd_end(fs, r);
	memset(st, 0, sizeof(*st));
	st->ino = he.ino;
	st->mode = in.mode;
	st->nlink = LFS_S_ISDIR(in.mode) ? 2 + in.nsubdir : 1;
	st->uid = in.uid;
	st->gid = in.gid;
	st->nchild = in.nchild;
	st->size = in.size;
	st->blocks = in.nblocks;
	st->mtime = in.mtime;
	return 0;
}

static int do_setattr(struct lfs_fs *fs, u32 vnode, const char *path, size_t len,
		      const struct lfs_attr *a)
{
	struct lfs_vref v;
	struct lfs_hent he;
	struct lfs_buf *b;
	struct lfs_inode *ip;
	int r = lfs_vnode_get(fs, vnode, &v);

	if (r)
		return r;
	r = lookup(fs, &v, path, len, &he);
	if (!r)
		r = inode_private(fs, &v, path, len, &he.ino, true);
	if (!r)
		r = lfs_inode_get(fs, he.ino, &b, &ip);
	if (!r) {
		r = lfs_bmodify(fs, b);
		if (!r) {
			if (a->mask & LFS_ATTR_MODE)
				ip->mode = (u16)((ip->mode & LFS_S_IFMT) | (a->mode & LFS_S_PERM));
			if (a->mask & LFS_ATTR_UID)
				ip->uid = a->uid;
			if (a->mask & LFS_ATTR_GID)
				ip->gid = a->gid;
			if (a->mask & LFS_ATTR_MTIME)
				ip->mtime = a->mtime;
		}
		lfs_bput(fs, b);
	}
	lfs_vnode_put(fs, &v);
	return r;
}

int lfs_setattr(struct lfs_fs *fs, u32 vnode, const char *path, const struct lfs_attr *a)
{
	size_t len;
	int r = lfs_path_validate(path, &len);

	if (r)
		return r;
	if (!a || (a->mask & ~(LFS_ATTR_MODE | LFS_ATTR_UID | LFS_ATTR_GID | LFS_ATTR_MTIME)))
		return -EINVAL;
	return RUN_OP(fs, do_setattr(fs, vnode, path, len, a));
}

static int do_create(struct lfs_fs *fs, u32 vnode, const char *path, size_t len, u32 mode,
		     u32 flags)
{
	struct lfs_vref v;
	struct lfs_hent he;
	u32 ino;
	int r = lfs_vnode_get(fs, vnode, &v);

	if (r)
		return r;
	r = lfs_ht_lookup(fs, &v, path, len, &he);
	if (!r) {
		if (flags & LFS_O_EXCL)
			r = -EEXIST;
		else if (he.type == LFS_DT_DIR)
			r = -EISDIR;
		else if (he.type == LFS_DT_LNK)
			r = -EEXIST;
		else if (flags & LFS_O_TRUNC) {
			ino = he.ino;
			r = inode_private(fs, &v, path, len, &ino, false);
			if (!r)
				r = lfs_file_truncate(fs, ino, 0);
		}
	} else if (r == -ENOENT) {
		r = new_entry(fs, &v, path, len, LFS_S_IFREG | (mode & LFS_S_PERM), NULL);
	}
	lfs_vnode_put(fs, &v);
	return r;
}

int lfs_create(struct lfs_fs *fs, u32 vnode, const char *path, u32 mode, u32 flags)
{
	size_t len;
	int r = lfs_path_validate(path, &len);

	if (r)
		return r;
	if (flags & ~(LFS_O_EXCL | LFS_O_TRUNC))
		return -EINVAL;
	return RUN_OP(fs, do_create(fs, vnode, path, len, mode, flags));
}

static int do_mkdir(struct lfs_fs *fs, u32 vnode, const char *path, size_t len, u32 mode)
{
	struct lfs_vref v;
	struct lfs_hent he;
	int r = lfs_vnode_get(fs, vnode, &v);

	if (r)
		return r;
	r = lfs_ht_lookup(fs, &v, path, len, &he);
	if (!r)
		r = -EEXIST;
	else if (r == -ENOENT)
		r = new_entry(fs, &v, path, len, LFS_S_IFDIR | (mode & LFS_S_PERM), NULL);
	lfs_vnode_put(fs, &v);
	return r;
}

int lfs_mkdir(struct lfs_fs *fs, u32 vnode, const char *path, u32 mode)
{
	size_t len;
	int r = lfs_path_validate(path, &len);

	if (r)
		return r;
	return RUN_OP(fs, do_mkdir(fs, vnode, path, len, mode));
}

static int do_symlink(struct lfs_fs *fs, u32 vnode, const char *target, size_t tlen,
		      const char *path, size_t len)
{
	struct lfs_vref v;
	struct lfs_hent he;
	u32 ino = 0;
	int r = lfs_vnode_get(fs, vnode, &v);

	if (r)
		return r;
	r = lfs_ht_lookup(fs, &v, path, len, &he);
	if (!r)
		r = -EEXIST;
	else if (r == -ENOENT)
		r = new_entry(fs, &v, path, len, LFS_S_IFLNK | 0777, &ino);
	else
		goto out;
	if (!r)
		r = lfs_file_write(fs, ino, 0, target, (u32)tlen);
out:
	lfs_vnode_put(fs, &v);
	return r;
}

int lfs_symlink(struct lfs_fs *fs, u32 vnode, const char *target, const char *linkpath)
{
	size_t len, tlen;
	int r = lfs_path_validate(linkpath, &len);

	if (r)
		return r;
	if (!target)
		return -EINVAL;
	tlen = strnlen(target, LFS_PATH_MAX);
	if (tlen >= LFS_PATH_MAX)
		return -ENAMETOOLONG;
	if (!tlen)
		return -ENOENT;
	return RUN_OP(fs, do_symlink(fs, vnode, target, tlen, linkpath, len));
}

s64 lfs_readlink(struct lfs_fs *fs, u32 vnode, const char *path, char *buf, u64 bufsize)
{
	struct lfs_hent he;
	struct lfs_inode in;
	s64 n;
	int r = rd_lookup(fs, vnode, path, &he);

	if (!r && he.type != LFS_DT_LNK)
		r = -EINVAL;
	if (!r)
		r = lfs_inode_read(fs, he.ino, &in);
	if (r)
		return rd_end(fs, r);
	if (in.size == 0 || in.size >= LFS_PATH_MAX) {
		lfs_fault(fs, "symlink inode ", "", he.ino, ": bad target length");
		return rd_end(fs, -EIO);
	}
	char *tmp = fs->env.alloc(fs->env.ctx, LFS_PATH_MAX);
	if (!tmp)
		return -ENOMEM;
	n = lfs_file_read(fs, he.ino, 0, tmp, in.size);
	if (n >= 0 && (u64)n != in.size) {
		lfs_fault(fs, "symlink inode ", "", he.ino, ": short target");
		n = -EIO;
	}
	if (n >= 0) {
		u64 c = MIN((u64)n, bufsize);
		memcpy(buf, tmp, c);
		if (c < bufsize)
			buf[c] = '\0';
	}
	lfs_free(fs, tmp);
	return n < 0 ? rd_end(fs, (int)n) : n;
}

s64 lfs_read(struct lfs_fs *fs, u32 vnode, const char *path, u64 off, void *buf, u64 len)
{
	struct lfs_hent he;
	s64 n;
	int r = rd_lookup(fs, vnode, path, &he);

	if (!r && he.type == LFS_DT_DIR)
		r = -EISDIR;
	else if (!r && he.type != LFS_DT_REG)
		r = -EINVAL;
	if (r)
		return rd_end(fs, r);
	if (!len)
		return 0;
	n = lfs_file_read(fs, he.ino, off, buf, len);
	return n < 0 ? rd_end(fs, (int)n) : n;
}

static int do_write(struct lfs_fs *fs, u32 vnode, const char *path, size_t plen, u64 off,
		    const void *buf, u32 len)
{
	struct lfs_vref v;
	u32 ino;
	int r = lfs_vnode_get(fs, vnode, &v);

	if (r)
		return r;
	r = file_for_write(fs, &v, path, plen, &ino, true);
	if (!r)
		r = lfs_file_write(fs, ino, off, buf, len);
	lfs_vnode_put(fs, &v);
	return r;
}

s64 lfs_write(struct lfs_fs *fs, u32 vnode, const char *path, u64 off, const void *buf,
	      u64 len)
{
	const u8 *in = buf;
	u64 done = 0;
	size_t plen;
	int r = lfs_path_validate(path, &plen);

	if (r)
		return r;
	if (off >= LFS_MAX_FILE_SIZE)
		return -EFBIG;
	if (len > LFS_MAX_FILE_SIZE - off)
		len = LFS_MAX_FILE_SIZE - off;
	if (!len) {
		struct lfs_stat st;
		r = lfs_stat(fs, vnode, path, &st);
		if (!r && LFS_S_ISDIR(st.mode))
			r = -EISDIR;
		else if (!r && !LFS_S_ISREG(st.mode))
			r = -EINVAL;
		return r;
	}
	while (done < len) {
		/* Pieces end on LFS_IO_CHUNK boundaries of the file. */
		u64 pos = off + done;
		u32 n = (u32)MIN(len - done, LFS_IO_CHUNK - pos % LFS_IO_CHUNK);
		r = RUN_OP(fs, do_write(fs, vnode, path, plen, pos, in + done, n));
		if (r)
			return done ? (s64)done : r;
		done += n;
	}
	return (s64)done;
}

static int do_truncate(struct lfs_fs *fs, u32 vnode, const char *path, size_t plen, u64 size)
{
	struct lfs_vref v;
	u32 ino;
	int r = lfs_vnode_get(fs, vnode, &v);

	if (r)
		return r;
	r = file_for_write(fs, &v, path, plen, &ino, size != 0);
	if (!r)
		r = lfs_file_truncate(fs, ino, size);
	lfs_vnode_put(fs, &v);
	return r;
}

int lfs_truncate(struct lfs_fs *fs, u32 vnode, const char *path, u64 size)
{
	size_t plen;
	int r = lfs_path_validate(path, &plen);

	if (r)
		return r;
	if (size > LFS_MAX_FILE_SIZE)
		return -EFBIG;
	return RUN_OP(fs, do_truncate(fs, vnode, path, plen, size));
}

static int do_append(struct lfs_fs *fs, u32 vnode, const char *path, size_t plen,
		     const void *buf, u32 len, u32 flags, u64 *offp)
{
	struct lfs_vref v;
	struct lfs_hent he;
	struct lfs_inode in;
	u32 ino = 0;
	int r = lfs_vnode_get(fs, vnode, &v);

	if (r)
		return r;
	r = lfs_ht_lookup(fs, &v, path, plen, &he);
	if (r == -ENOENT && (flags & LFS_APPEND_CREATE))
		r = new_entry(fs, &v, path, plen, LFS_S_IFREG | 0600, NULL);
	if (!r || r == -ENOENT)
		r = file_for_write(fs, &v, path, plen, &ino, true);
	if (!r)
		r = lfs_inode_read(fs, ino, &in);
	if (!r && in.size + len > LFS_MAX_FILE_SIZE)
		r = -EFBIG;
	if (!r && len)
		r = lfs_file_write(fs, ino, in.size, buf, len);
	if (!r)
		*offp = in.size;
	lfs_vnode_put(fs, &v);
	return r;
}

int lfs_append(struct lfs_fs *fs, u32 vnode, const char *path, const void *buf, u64 len,
	       u32 flags, u64 *off_out)
{
	size_t plen;
	u64 off = 0;
	int r = lfs_path_validate(path, &plen);

	if (r)
		return r;
	if (len > LFS_APPEND_MAX || (flags & ~LFS_APPEND_CREATE))
		return -EINVAL;
	r = RUN_OP(fs, do_append(fs, vnode, path, plen, buf, (u32)len, flags, &off));
	if (!r && off_out)
		*off_out = off;
	return r;
}

/* unlink (dir false) and rmdir (dir true): the same removal, with the
 * type check and the parent's subdirectory count depending on the kind. */
static int do_remove(struct lfs_fs *fs, u32 vnode, const char *path, size_t len, bool dir)
{
	struct lfs_vref v;
	struct lfs_hent he;
	struct lfs_inode in;
	int r = lfs_vnode_get(fs, vnode, &v);

	if (r)
		return r;
	r = lookup(fs, &v, path, len, &he);
	if (!r && !dir && he.type == LFS_DT_DIR)
		r = -EISDIR;
	if (!r && dir && he.type != LFS_DT_DIR)
		r = -ENOTDIR;
	if (!r && dir)
		r = lfs_inode_read(fs, he.ino, &in);
	if (!r && dir && in.nchild)
		r = -ENOTEMPTY;
	if (!r)
		r = lfs_ht_remove(fs, &v, path, len);
	if (!r)
		r = lfs_inode_unref(fs, he.ino);
	if (!r)
		r = dir_adjust(fs, &v, path, parent_len(path, len), -1, dir ? -1 : 0);
	lfs_vnode_put(fs, &v);
	return r;
}

static int remove_path(struct lfs_fs *fs, u32 vnode, const char *path, bool dir)
{
	size_t len;
	int r = lfs_path_validate(path, &len);

	if (r)
		return r;
	if (len == 1)	/* "/" */
		return dir ? -EBUSY : -EISDIR;
	return RUN_OP(fs, do_remove(fs, vnode, path, len, dir));
}

int lfs_unlink(struct lfs_fs *fs, u32 vnode, const char *path)
{
	return remove_path(fs, vnode, path, false);
}

int lfs_rmdir(struct lfs_fs *fs, u32 vnode, const char *path)
{
	return remove_path(fs, vnode, path, true);
}

/* Directory rename: collect a batch of entries below `from`, move them,
 * repeat until none is left. */
#define MV_BUF (64u * 1024)
struct mv_ctx {
	const char *pfx;
	size_t plen;
	u8 *buf;
	u32 used, n;
	size_t maxlen;
};

static bool below(const struct lfs_dent *d, const char *pfx, size_t plen)
{
	return d->len > plen && d->path[plen] == '/' && !memcmp(d->path, pfx, plen);
}

static int maxlen_cb(struct lfs_fs *fs, void *ctx, const struct lfs_dent *d)
{
	struct mv_ctx *m = ctx;

	if (below(d, m->pfx, m->plen) && d->len > m->maxlen)
		m->maxlen = d->len;
	return 0;
}

static int collect_cb(struct lfs_fs *fs, void *ctx, const struct lfs_dent *d)
{
	struct mv_ctx *m = ctx;
	u32 sz = LFS_DENT_SIZE(d->len);

	if (!below(d, m->pfx, m->plen))
		return 0;
	if (m->used + sz > MV_BUF)
		return 1;	/* batch full */
	memcpy(m->buf + m->used, d, sz);
	m->used += sz;
	m->n++;
	return 0;
}

static int move_below(struct lfs_fs *fs, struct lfs_vref *v, const char *from, size_t flen,
		      const char *to, size_t tlen)
{
	struct mv_ctx m = { .pfx = from, .plen = flen };
	char *np = fs->env.alloc(fs->env.ctx, LFS_PATH_MAX);
	int r = 0;

	m.buf = fs->env.alloc(fs->env.ctx, MV_BUF);
	if (!np || !m.buf) {
		r = -ENOMEM;
		goto out;
	}
	memcpy(np, to, tlen);
	for (;;) {
		m.used = 0;
		m.n = 0;
		r = lfs_ht_foreach(fs, v, collect_cb, &m);
		if (r < 0 || m.n == 0)
			break;
		r = 0;
		for (u32 off = 0; !r && off < m.used;) {
			struct lfs_dent *d = (struct lfs_dent *)(m.buf + off);
			size_t nl = tlen + d->len - flen;
			memcpy(np + tlen, d->path + flen, d->len - flen);
			r = lfs_ht_remove(fs, v, d->path, d->len);
			if (!r)
				r = lfs_ht_insert(fs, v, np, nl, d->ino, d->type);
			off += LFS_DENT_SIZE(d->len);
		}
		if (r)
			break;
	}
out:
	lfs_free(fs, np);
	lfs_free(fs, m.buf);
	return r;
}

static int do_rename(struct lfs_fs *fs, u32 vnode, const char *from, size_t flen,
		     const char *to, size_t tlen)
{
	struct lfs_vref v;
	struct lfs_hent fe, te, pe;
	struct lfs_inode tin;
	bool exists = false, isdir;
	int r = lfs_vnode_get(fs, vnode, &v);

	if (r)
		return r;
	r = lookup(fs, &v, from, flen, &fe);
	if (r)
		goto out;
	if (flen == tlen && !memcmp(from, to, flen))
		goto out;	/* same path: nothing to do */
	isdir = fe.type == LFS_DT_DIR;
	r = parent_dir(fs, &v, to, tlen, &pe);
	if (r)
		goto out;
	if (isdir && tlen > flen && to[flen] == '/' && !memcmp(to, from, flen)) {
		r = -EINVAL;	/* into itself */
		goto out;
	}
	r = lfs_ht_lookup(fs, &v, to, tlen, &te);
	if (!r) {
		exists = true;
		if (isdir && te.type != LFS_DT_DIR)
			r = -ENOTDIR;
		else if (!isdir && te.type == LFS_DT_DIR)
			r = -EISDIR;
		else if (isdir && !(r = lfs_inode_read(fs, te.ino, &tin)) && tin.nchild)
			r = -ENOTEMPTY;
	} else if (r == -ENOENT) {
		r = 0;
	}
	if (r)
		goto out;
	if (isdir) {
		struct mv_ctx m = { .pfx = from, .plen = flen };
		r = lfs_ht_foreach(fs, &v, maxlen_cb, &m);
		if (r)
			goto out;
		if (m.maxlen && m.maxlen - flen + tlen >= LFS_PATH_MAX) {
			r = -ENAMETOOLONG;
			goto out;
		}
	}
	if (exists) {
		r = lfs_ht_remove(fs, &v, to, tlen);
		if (!r)
			r = lfs_inode_unref(fs, te.ino);
		if (!r)
			r = dir_adjust(fs, &v, to, parent_len(to, tlen), -1,
				       te.type == LFS_DT_DIR ? -1 : 0);
		if (r)
			goto out;
	}
	r = lfs_ht_remove(fs, &v, from, flen);
	if (!r)
		r = lfs_ht_insert(fs, &v, to, tlen, fe.ino, fe.type);
	if (!r)
		r = dir_adjust(fs, &v, from, parent_len(from, flen), -1, isdir ? -1 : 0);
	if (!r)
		r = dir_adjust(fs, &v, to, parent_len(to, tlen), 1, isdir ? 1 : 0);
	if (!r && isdir)
		r = move_below(fs, &v, from, flen, to, tlen);
out:
	lfs_vnode_put(fs, &v);
	return r;
}

int lfs_rename(struct lfs_fs *fs, u32 vnode, const char *from, const char *to)
{
	size_t flen, tlen;
	int r = lfs_path_validate(from, &flen);

	if (!r)
		r = lfs_path_validate(to, &tlen);
	if (r)
		return r;
	if (flen == 1 || tlen == 1)
		return -EBUSY;
	return RUN_OP(fs, do_rename(fs, vnode, from, flen, to, tlen));
}

/* readdir: the max smallest (hash, name) children above the cookie. */
struct rd_ctx {
	const char *dir;
	size_t dlen;			/* 0 for "/" */
	u64 cookie;
	struct lfs_dirent *ents;
	u32 max, n;
	u64 min_rejected;
};

static int ent_cmp(u64 h, const char *name, size_t nlen, const struct lfs_dirent *e)
{
	if (h != e->cookie)
		return h < e->cookie ? -1 : 1;
	size_t el = strnlen(e->name, LFS_NAME_MAX + 1);
	int c = memcmp(name, e->name, MIN(nlen, el));
	if (c)
		return c;
	return nlen < el ? -1 : nlen > el;
}

static int readdir_cb(struct lfs_fs *fs, void *ctx, const struct lfs_dent *d)
{
	struct rd_ctx *c = ctx;
	size_t dl = c->dlen;

	if (d->len <= dl + 1 || d->path[dl] != '/' || (dl && memcmp(d->path, c->dir, dl)))
		return 0;
	const char *name = d->path + dl + 1;
	size_t nlen = d->len - dl - 1;
	for (size_t i = 0; i < nlen; i++)
		if (name[i] == '/')
			return 0;
	if (d->hash <= c->cookie || nlen > LFS_NAME_MAX)
		return 0;
	u32 pos = c->n;
	while (pos > 0 && ent_cmp(d->hash, name, nlen, &c->ents[pos - 1]) < 0)
		pos--;
	if (pos >= c->max) {
		if (d->hash < c->min_rejected)
			c->min_rejected = d->hash;
		return 0;
	}
	if (c->n == c->max) {
		if (c->ents[c->n - 1].cookie < c->min_rejected)
			c->min_rejected = c->ents[c->n - 1].cookie;
		c->n--;
	}
	memmove(&c->ents[pos + 1], &c->ents[pos], (c->n - pos) * sizeof(*c->ents));
	struct lfs_dirent *e = &c->ents[pos];
	memset(e, 0, sizeof(*e));
	e->cookie = d->hash;
	e->ino = d->ino;
	e->type = d->type;
	memcpy(e->name, name, nlen);
	c->n++;
	return 0;
}

int lfs_readdir(struct lfs_fs *fs, u32 vnode, const char *dir, u64 cookie,
		struct lfs_dirent *ents, u32 max, u64 *next_cookie)
{
	struct lfs_vref v;
	struct lfs_hent he;
	struct rd_ctx c;
	size_t len;
	int r = lfs_path_validate(dir, &len);

	if (r)
		return r;
	if (!max || !ents)
		return -EINVAL;
	r = lfs_vnode_get(fs, vnode, &v);
	if (r)
		return rd_end(fs, r);
	r = lookup(fs, &v, dir, len, &he);
	if (!r && he.type != LFS_DT_DIR)
		r = -ENOTDIR;
	c = (struct rd_ctx){ .dir = dir, .dlen = len == 1 ? 0 : len, .cookie = cookie,
			     .ents = ents, .max = max, .min_rejected = ~0ULL };
	if (!r)
		r = lfs_ht_foreach(fs, &v, readdir_cb, &c);
	lfs_vnode_put(fs, &v);
	if (r)
		return rd_end(fs, r);
	/* Never end a page inside a group of equal hashes (cookies could not
	 * resume inside it). */
	if (c.n == max && c.min_rejected == c.ents[c.n - 1].cookie) {
		u64 h = c.ents[c.n - 1].cookie;
		while (c.n && c.ents[c.n - 1].cookie == h)
			c.n--;
		if (!c.n)
			return -EINVAL;
	}
	if (next_cookie)
		*next_cookie = c.n ? c.ents[c.n - 1].cookie : cookie;
	return (int)c.n;
}

int lfs_sync(struct lfs_fs *fs)
{
	if (fs->failed)
		return -EIO;
	return lfs_commit(fs);
}

int lfs_fsync(struct lfs_fs *fs, u32 vnode, const char *path)
{
	if (path) {
		struct lfs_stat st;
		int r = lfs_stat(fs, vnode, path, &st);
		if (r)
			return r;
	} else if (!lfs_vnode_exists(fs, vnode)) {
		return -ESTALE;
	}
	return lfs_sync(fs);
}

int lfs_statfs(struct lfs_fs *fs, struct lfs_statfs *st)
{
	int n = lfs_vnode_list(fs, NULL, 0);

	if (n < 0)
		return n;
	memset(st, 0, sizeof(*st));
	st->block_size = LFS_BLOCK_SIZE;
	st->total_blocks = fs->sb.nblocks;
	st->data_blocks = fs->sb.nblocks - fs->sb.data_start;
	st->free_blocks = fs->free_blocks;
	st->total_bytes = st->total_blocks * LFS_BLOCK_SIZE;
	st->free_bytes = st->free_blocks * LFS_BLOCK_SIZE;
	st->total_inodes = fs->sb.ninodes - 1;
	st->free_inodes = fs->free_inodes;
	st->max_vnodes = fs->sb.max_vnodes;
	st->nvnodes = (u32)n;
	st->commits = fs->commits;
	return 0;
}
