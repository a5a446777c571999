/* LegoFS: the storage monitor's file store (paper §4.5).
 *
 * Pure logic shared by the kernel (storage personality) and the host
 * (tools/mklegofs, tests/unit/test_legofs*.c): it includes only
 * lego/{types,compiler,errno,list}.h and does all block I/O and memory
 * allocation through callbacks. The full description (on-disk format,
 * request semantics, crash-consistency argument, mklegofs) is
 * docs/storage.md; this header is the reference for the API.
 *
 * Model. A store holds vNode namespaces, each a flat hash table keyed by
 * the full path ("/a/b"); lookup is one hash probe, never a directory
 * walk. vNode 0 is the image's base root. lfs_vnode_create(id) gives a new
 * vNode a copy of vNode 0's table whose entries point at the same inodes
 * (reference counted): files are shared copy-on-write at file granularity,
 * so creating a vNode costs O(entries of the base), not O(data). The first
 * change of a shared inode by any vNode (including vNode 0) gives that vNode
 * its own copy (a file's data is copied then; truncation to 0 copies
 * nothing). No request can name another vNode's table, so one vNode never
 * sees or changes another's files.
 *
 * Requests are stateless (NFS v2 style): every call names the vNode, the
 * full path and absolute offsets; there are no open files.
 *
 * Paths: absolute and normalised: "/" or "/c1/c2/..." with no empty, "."
 * or ".." component and no trailing '/'. At most LFS_PATH_MAX - 1 bytes
 * (-ENAMETOOLONG), components at most LFS_NAME_MAX bytes (-ENAMETOOLONG),
 * anything else malformed: -EINVAL. The API takes NUL-terminated strings;
 * wire input (pointer + length, which could hold a NUL) is checked first
 * with lfs_path_check(). "/" always exists and is a directory. The store
 * never follows symbolic links: a path naming a symlink names the link, and
 * a path through one does not exist (its parent is not a directory); the
 * caller (the processor monitor) resolves links.
 *
 * Errors are negative errno values (lego/errno.h). Beyond the per-call
 * ones: -ESTALE: no such vNode; -EROFS: mounted read-only, or the store
 * switched to read-only after a fault (I/O error, corrupt metadata; see
 * lfs_errmsg()); -EIO: device error or corrupt metadata; -ENOMEM: an
 * env->alloc failed; -ENOSPC: no space, no free inode, or an operation too
 * large for one journal transaction. A failed call changes nothing (writes
 * may be short, see lfs_write).
 *
 * Durability. Changes go to a journal transaction in memory. lfs_fsync()
 * and lfs_sync() commit it (the whole store: every vNode) and return once
 * it is durable; the store also commits on its own when the transaction
 * grows large. After a power cut the store mounts in the state of some
 * commit at or after the last acknowledged lfs_fsync/lfs_sync: every file is
 * exactly as it was at that commit (data included: file data is never
 * overwritten in place once committed), never garbage or another file's
 * data.
 *
 * Concurrency: none inside. The caller serialises every call on one
 * struct lfs_fs (the storage monitor holds one mutex around each request).
 * Calls may sleep only inside the lfs_io/lfs_env callbacks.
 */
#ifndef LEGO_LEGOFS_H
#define LEGO_LEGOFS_H

#include <lego/types.h>
#include <lego/compiler.h>
#include <lego/list.h>

/* ---------------------------------------------------------------------- */
/* Limits                                                                  */

#define LFS_BLOCK_SIZE 4096u
#define LFS_BLOCK_SHIFT 12
#define LFS_PATH_MAX 1024		/* bytes of a path buffer, NUL included */
#define LFS_NAME_MAX 255		/* bytes of one component */
#define LFS_MAX_FILE_SIZE (1ULL << 40)	/* -EFBIG beyond */
#define LFS_IO_CHUNK (1u << 20)		/* a write is applied in pieces of this size */
#define LFS_APPEND_MAX LFS_IO_CHUNK	/* largest lfs_append (atomic) */
#define LFS_MAX_VNODES 65535u		/* vNode table slots at most */
#define LFS_MIN_BLOCKS 64u		/* smallest image */
#define LFS_MAX_BLOCKS (1ULL << 32)	/* largest image: 16 TiB */
#define LFS_MAX_INODES (1u << 23)

/* File types and mode bits (Linux values). */
#define LFS_S_IFMT 0170000
#define LFS_S_IFREG 0100000
#define LFS_S_IFDIR 0040000
#define LFS_S_IFLNK 0120000
#define LFS_S_PERM 07777
#define LFS_S_ISREG(m) (((m) & LFS_S_IFMT) == LFS_S_IFREG)
#define LFS_S_ISDIR(m) (((m) & LFS_S_IFMT) == LFS_S_IFDIR)
#define LFS_S_ISLNK(m) (((m) & LFS_S_IFMT) == LFS_S_IFLNK)

/* readdir entry types (Linux DT_* values). */
#define LFS_DT_DIR 4
#define LFS_DT_REG 8
#define LFS_DT_LNK 10

/* ---------------------------------------------------------------------- */
/* Environment                                                             */

/* Block device: 4 KiB blocks, synchronous calls returning 0 or a negative
 * errno. read_n/write_n (optional, NULL: loops of read/write) move n
 * consecutive blocks. flush makes every completed write durable. Buffers
 * handed to the callbacks come from env->alloc, except that lfs_read and
 * lfs_write pass the caller's buffer for whole aligned blocks unless
 * flags has LFS_IO_BOUNCE. */
struct lfs_io {
	int (*read)(void *ctx, u64 blk, void *buf);
	int (*write)(void *ctx, u64 blk, const void *buf);
	int (*flush)(void *ctx);
	int (*read_n)(void *ctx, u64 blk, u32 n, void *buf);
	int (*write_n)(void *ctx, u64 blk, u32 n, const void *buf);
	void *ctx;
	u64 nblocks;			/* device size in 4 KiB blocks */
	u32 flags;			/* LFS_IO_* */
};
#define LFS_IO_BOUNCE 1u

/* Memory and time. alloc never needs more than 64 KiB in one piece (the
 * kernel passes kmalloc/kfree); now (optional) returns nanoseconds since
 * the epoch for mtimes (NULL: 0). */
struct lfs_env {
	void *(*alloc)(void *ctx, size_t size);
	void (*free)(void *ctx, void *p);
	u64 (*now)(void *ctx);
	void *ctx;
};

/* ---------------------------------------------------------------------- */
/* API                                                                     */

struct lfs_fs;

struct lfs_format_params {
	u64 nblocks;			/* 0: io->nblocks */
	u32 ninodes;			/* 0: one per 4 blocks (64 .. LFS_MAX_INODES) */
	u32 max_vnodes;			/* 0: 256 */
	u32 journal_blocks;		/* 0: nblocks/32, clamped to 64..8192 */
	u8 uuid[16];			/* identifies the image (journal records carry it) */
	char label[32];			/* NUL-padded, informational */
	u64 mtime;			/* of the base root "/" and the superblock */
};

/* Write an empty store (vNode 0 holding only "/", mode 0755) to io.
 * Returns 0 or -EINVAL (geometry; *err_msg says why), -EIO, -ENOMEM.
 * err_msg may be NULL. */
int lfs_format(const struct lfs_io *io, const struct lfs_env *env,
	       const struct lfs_format_params *p, const char **err_msg);

struct lfs_mount_opts {
	u32 flags;			/* LFS_MOUNT_* */
	u32 cache_blocks;		/* clean metadata blocks kept (0: 512) */
	u32 txn_blocks;			/* largest transaction in blocks (0: 2048), also
					 * bounded by the journal */
};
#define LFS_MOUNT_RDONLY 1u

/* Mount: check the superblock, replay a committed journal transaction (in
 * memory only when read-only), load the allocation maps. A foreign or
 * corrupt image is refused with -EINVAL (not LegoFS / unsupported) or
 * -EUCLEAN (corrupt) and *err_msg names the fault (a static buffer, valid
 * until the next lfs_mount/lfs_format). opts may be NULL. Memory use is
 * bounded by about (cache_blocks + 2 * txn_blocks) * 4 KiB. */
int lfs_mount(struct lfs_fs **fsp, const struct lfs_io *io, const struct lfs_env *env,
	      const struct lfs_mount_opts *opts, const char **err_msg);
/* Commit (unless read-only), flush and free. Returns the commit's result;
 * fs is freed in any case. */
int lfs_unmount(struct lfs_fs *fs);

/* Last fault (corruption found, I/O error, lfs_check finding); "" if none. */
const char *lfs_errmsg(const struct lfs_fs *fs);
bool lfs_is_readonly(const struct lfs_fs *fs);

/* vNodes: ids are any u32 but 0xffffffff. create: -EEXIST (also for 0,
 * which always exists), -ENOSPC (table full, or the base's table too large
 * for one transaction), -EINVAL (0xffffffff); remove: -ESTALE if absent,
 * -EBUSY for vNode 0; removal frees every file of the vNode not shared with
 * another. */
int lfs_vnode_create(struct lfs_fs *fs, u32 vnode);
int lfs_vnode_remove(struct lfs_fs *fs, u32 vnode);
bool lfs_vnode_exists(struct lfs_fs *fs, u32 vnode);
/* Fills ids[0..max) in table order; returns the total number of vNodes. */
int lfs_vnode_list(struct lfs_fs *fs, u32 *ids, u32 max);

struct lfs_stat {
	u32 ino;			/* inode number; shared files have the same one in every
					 * vNode, and a vNode's first change gives it a new one */
	u32 mode;			/* type | permissions */
	u32 nlink;			/* 1; directories 2 + subdirectories */
	u32 uid, gid;
	u32 nchild;			/* directories: entries directly below */
	u64 size;			/* bytes (symlinks: target length) */
	u64 blocks;			/* 4 KiB blocks allocated (data + extent tree) */
	u64 mtime;			/* ns since the epoch */
};

/* Attributes. stat does not follow symlinks. setattr changes the inode, so
 * on a file shared with other vNodes it makes this vNode's private copy
 * (data included) first. */
int lfs_stat(struct lfs_fs *fs, u32 vnode, const char *path, struct lfs_stat *st);

struct lfs_attr {
	u32 mask;			/* LFS_ATTR_* */
	u32 mode;			/* permission bits only (& 07777) */
	u32 uid, gid;
	u64 mtime;
};
#define LFS_ATTR_MODE 1u
#define LFS_ATTR_UID 2u
#define LFS_ATTR_GID 4u
#define LFS_ATTR_MTIME 8u
int lfs_setattr(struct lfs_fs *fs, u32 vnode, const char *path, const struct lfs_attr *a);

/* Create a regular file (mode & 07777). Parent missing: -ENOENT, parent
 * not a directory: -ENOTDIR. If path exists: LFS_O_EXCL -> -EEXIST; a
 * directory -> -EISDIR; a symlink -> -EEXIST; a regular file -> success,
 * truncated to 0 with LFS_O_TRUNC. "/" -> -EISDIR (-EEXIST with EXCL). */
#define LFS_O_EXCL 1u
#define LFS_O_TRUNC 2u
int lfs_create(struct lfs_fs *fs, u32 vnode, const char *path, u32 mode, u32 flags);

/* Read up to len bytes at off; returns bytes read (0 at or past EOF).
 * Holes read as zeros. -EISDIR for a directory, -EINVAL for a symlink. */
s64 lfs_read(struct lfs_fs *fs, u32 vnode, const char *path, u64 off, void *buf, u64 len);
/* Write len bytes at off (a write past EOF leaves a hole that reads as
 * zeros); returns bytes written. off >= LFS_MAX_FILE_SIZE: -EFBIG; a write
 * reaching past it is cut short there. Writes are applied in
 * LFS_IO_CHUNK pieces, each atomic: a crash keeps a prefix of the pieces;
 * when the disk fills, the return is short (or -ENOSPC if nothing fit).
 * -EISDIR / -EINVAL as lfs_read. */
s64 lfs_write(struct lfs_fs *fs, u32 vnode, const char *path, u64 off, const void *buf,
	      u64 len);
/* Set the size (growing leaves a hole). -EFBIG past the limit, -EISDIR,
 * -EINVAL for a symlink. Truncating a shared file to 0 copies nothing. */
int lfs_truncate(struct lfs_fs *fs, u32 vnode, const char *path, u64 size);
/* Atomically append len (<= LFS_APPEND_MAX, else -EINVAL) bytes at the
 * current end; *off_out (may be NULL) receives the offset used. With
 * LFS_APPEND_CREATE a missing file is created (mode 0600). All or nothing,
 * also across a crash. */
#define LFS_APPEND_CREATE 1u
int lfs_append(struct lfs_fs *fs, u32 vnode, const char *path, const void *buf, u64 len,
	       u32 flags, u64 *off_out);

/* unlink: -ENOENT, -EISDIR for a directory (and "/"). */
int lfs_unlink(struct lfs_fs *fs, u32 vnode, const char *path);
/* mkdir: -EEXIST if path exists (any type), parent as lfs_create. */
int lfs_mkdir(struct lfs_fs *fs, u32 vnode, const char *path, u32 mode);
/* rmdir: -ENOENT, -ENOTDIR, -ENOTEMPTY, -EBUSY for "/". */
int lfs_rmdir(struct lfs_fs *fs, u32 vnode, const char *path);
/* POSIX rename within one vNode. from missing: -ENOENT; parents as
 * lfs_create; from == to: no-op. A directory may not move below itself
 * (-EINVAL); it may replace only an empty directory (-ENOTDIR if to is not
 * a directory, -ENOTEMPTY). A non-directory may not replace a directory
 * (-EISDIR). "/" as either side: -EBUSY. Renaming a directory renames every
 * path below it: O(entries of the vNode) per batch of moved entries;
 * -ENAMETOOLONG if a moved path would get too long. */
int lfs_rename(struct lfs_fs *fs, u32 vnode, const char *from, const char *to);

/* symlink: create linkpath holding target (1..LFS_PATH_MAX-1 bytes of any
 * text; empty: -ENOENT, longer: -ENAMETOOLONG, NULL: -EINVAL); otherwise
 * errors as lfs_mkdir. */
int lfs_symlink(struct lfs_fs *fs, u32 vnode, const char *target, const char *linkpath);
/* Copies at most bufsize bytes of the target, NUL-terminating when there is
 * room; returns the target's length. -EINVAL if not a symlink. */
s64 lfs_readlink(struct lfs_fs *fs, u32 vnode, const char *path, char *buf, u64 bufsize);

/* Directory listing, paged. Entries come in a stable order (by a 64-bit
 * hash of the path); cookie 0 starts, each entry's cookie resumes after it,
 * *next_cookie resumes after the page. Returns the number of entries
 * filled (0: end). Entries created or removed between pages may or may not
 * be seen; the others are seen exactly once. Cost: one pass over the
 * vNode's table per page. -ENOTDIR, -ENOENT; max 0: -EINVAL. */
struct lfs_dirent {
	u64 cookie;
	u32 ino;
	u8 type;			/* LFS_DT_* */
	u8 pad[3];
	char name[LFS_NAME_MAX + 1];
};
int lfs_readdir(struct lfs_fs *fs, u32 vnode, const char *dir, u64 cookie,
		struct lfs_dirent *ents, u32 max, u64 *next_cookie);

/* Make every change so far durable (the whole store; path may be NULL, else
 * it must exist: -ENOENT). lfs_sync is the same without a vNode. */
int lfs_fsync(struct lfs_fs *fs, u32 vnode, const char *path);
int lfs_sync(struct lfs_fs *fs);

struct lfs_statfs {
	u64 block_size;
	u64 total_blocks;		/* device blocks of the image */
	u64 data_blocks;		/* blocks available for files and metadata */
	u64 free_blocks;
	u64 total_bytes, free_bytes;
	u32 total_inodes, free_inodes;
	u32 max_vnodes, nvnodes;
	u64 commits;			/* journal transactions committed since mount */
};
int lfs_statfs(struct lfs_fs *fs, struct lfs_statfs *st);

/* Full consistency check (fsck, read-only): every structure, checksum,
 * reference count and the allocation bitmap against what the namespaces
 * reference. 0 or -EUCLEAN (lfs_errmsg names the first fault), -EIO,
 * -ENOMEM. Works on the current state, committed or not. */
struct lfs_check_stats {
	u32 vnodes, inodes;
	u64 entries, data_blocks, meta_blocks;
};
int lfs_check(struct lfs_fs *fs, struct lfs_check_stats *st);

/* Validate a path given as bytes (e.g. from the wire): 0, -EINVAL (NUL
 * inside, relative, not normalised), -ENAMETOOLONG. len excludes any NUL. */
int lfs_path_check(const char *p, size_t len);

/* ---------------------------------------------------------------------- */
/* On-disk format (little-endian, the only byte order the kernel runs).    */
/*
 * block 0                superblock
 * 1 .. J                 journal (J = journal_blocks)
 * bitmap_start ..        block allocation bitmap (1 bit per block, whole device)
 * refcnt_start ..        inode reference counts (u16; 0 = free inode)
 * itable_start ..        inode table (31 inodes of 128 bytes per block)
 * vtab_start ..          vNode table (63 records of 64 bytes per block)
 * data_start .. nblocks  data: file data, bucket blocks, bucket directories,
 *                        extent tree nodes
 */

#define LFS_SUPER_MAGIC 0x313053464f47454cULL	/* "LEGOFS01" as bytes */
#define LFS_VERSION 1u
#define LFS_BLOCK_MAGIC 0x4b4c4246u		/* "FBLK" */
#define LFS_JOURNAL_MAGIC 0x4c4e524au		/* "JRNL" */

struct lfs_super {
	u64 magic;
	u32 version;
	u32 block_size;
	u64 nblocks;
	u8 uuid[16];
	char label[32];
	u64 journal_start;
	u64 bitmap_start;
	u64 refcnt_start;
	u64 itable_start;
	u64 vtab_start;
	u64 data_start;
	u32 journal_blocks;
	u32 bitmap_blocks;
	u32 refcnt_blocks;
	u32 itable_blocks;
	u32 vtab_blocks;
	u32 ninodes;
	u32 max_vnodes;
	u32 features;			/* 0 */
	u64 ctime;
	u8 reserved[112];
	u32 pad;
	u32 crc;			/* crc32c of this struct with crc = 0 */
};

/* Header of every metadata block except the superblock and the journal
 * descriptors; crc is crc32c of the whole block with crc = 0, set when the
 * block is written. owner ties a block to its vNode (buckets, bucket
 * directories) or inode (extent nodes), 0 otherwise. */
enum lfs_btype {
	LFS_BT_BITMAP = 1,
	LFS_BT_REFCNT,
	LFS_BT_ITABLE,
	LFS_BT_VTAB,
	LFS_BT_HTDIR,			/* level 1: top, level 0: bucket pointers */
	LFS_BT_BUCKET,
	LFS_BT_EXTENT,			/* level 0: leaf */
	LFS_BT_NR
};

struct lfs_bhdr {
	u32 magic;
	u32 crc;
	u64 blkno;			/* the block's own number */
	u16 type;			/* enum lfs_btype */
	u16 level;
	u32 owner;
	u32 count;			/* buckets, extent nodes: entries */
	u32 used;			/* buckets: payload bytes used */
	u64 next;			/* buckets: next block of the chain, 0: end */
	u64 reserved;
};

#define LFS_HDR_SIZE 48u
#define LFS_PAYLOAD (LFS_BLOCK_SIZE - LFS_HDR_SIZE)	/* 4048 */
#define LFS_BITS_PER_BMAP (LFS_PAYLOAD * 8u)		/* 32384 */
#define LFS_REFS_PER_BLOCK (LFS_PAYLOAD / 2u)		/* 2024 */
#define LFS_INODE_SIZE 128u
#define LFS_INODES_PER_BLOCK (LFS_PAYLOAD / LFS_INODE_SIZE)	/* 31 */
#define LFS_VREC_SIZE 64u
#define LFS_VRECS_PER_BLOCK (LFS_PAYLOAD / LFS_VREC_SIZE)	/* 63 */
#define LFS_PTRS_PER_BLOCK (LFS_PAYLOAD / 8u)		/* 506 */
#define LFS_EXT_PER_BLOCK (LFS_PAYLOAD / 16u)		/* 253 */
#define LFS_INODE_ROOT 5u				/* extent root entries in the inode */
#define LFS_REF_MAX 0xffffu

/* Extent (leaf) or index entry (interior node): lblk..lblk+len-1 -> ptr..
 * (leaf), or child node ptr covering keys >= lblk (index). */
struct lfs_ext {
	u32 lblk;
	u32 len;
	u64 ptr;
};

struct lfs_inode {
	u16 mode;			/* 0: never used */
	u16 depth;			/* extent tree: 0: root entries are extents */
	u16 nroot;
	u16 flags;
	u32 uid, gid;
	u32 nchild;			/* directories */
	u32 nsubdir;			/* directories */
	u64 size;
	u64 nblocks;			/* data + extent node blocks */
	u64 mtime;
	struct lfs_ext root[LFS_INODE_ROOT];
};

/* vNode table record. The namespace is a linear hash table (Litwin) of
 * (1 << level) + split buckets; bucket i lives at
 * dirtop -> ptr[i / 506] -> ptr[i % 506] -> chain of bucket blocks. */
#define LFS_VREC_USED 1u
#define LFS_HT_MAX_BUCKETS (LFS_PTRS_PER_BLOCK * LFS_PTRS_PER_BLOCK)
#define LFS_HT_LOAD 32u			/* entries per bucket before a split */
struct lfs_vrec {
	u32 id;
	u32 flags;
	u32 nentries;
	u32 level;
	u32 split;
	u32 pad;
	u64 dirtop;
	u64 ctime;
	u64 reserved[3];
};

/* Bucket entry: 16-byte head + path, padded to 8 bytes. */
struct lfs_dent {
	u64 hash;			/* lfs_hash64(path), never 0 */
	u32 ino;
	u16 len;			/* path bytes, no NUL */
	u8 type;			/* LFS_DT_* */
	u8 flags;
	char path[];
};
#define LFS_DENT_SIZE(len) ALIGN_UP(16u + (u32)(len), 8u)

/* Journal descriptor, at journal block 0 (and following when more are
 * needed), followed by the block images. A transaction counts only if every
 * descriptor and every image checks; descriptors after the first carry the
 * first one's crc, so no stale descriptor of another transaction can be
 * taken for one of this transaction. */
#define LFS_JD_HEAD 64u
#define LFS_JD_PER_BLOCK ((LFS_BLOCK_SIZE - LFS_JD_HEAD) / 16u)	/* 252 */
struct lfs_jent {
	u64 blk;			/* home block */
	u32 crc;			/* crc32c of the image */
	u32 pad;
};
struct lfs_jdesc {
	u32 magic;
	u32 crc;			/* of this descriptor block with crc = 0 */
	u64 seq;
	u8 uuid[16];
	u32 idx, ndesc;
	u32 nimages, count;		/* images in the transaction, entries here */
	u32 head_crc;			/* idx > 0: crc of descriptor 0 */
	u32 pad;
	u64 reserved;
	struct lfs_jent e[];
};

/* Helpers used by the format, the tools and the tests. */
u32 lfs_crc32c(u32 crc, const void *buf, size_t len);
u64 lfs_hash64(const char *s, size_t len);

/* ---------------------------------------------------------------------- */
/* Implementation internals (managers/storage/legofs*.c only).             */
#ifdef LFS_INTERNAL

#define LFS_EXT_MAXDEPTH 6
#define LFS_OWNER_ANY 0xffffffffu		/* bread: do not check the owner */
#define LFS_VNODE_INVALID 0xffffffffu		/* not a usable vNode id */
#define LFS_RETRY 1000			/* op_end: rolled back, committed, run again */
#define LFS_ETXN 1001			/* (negated) transaction full */

struct lfs_buf {
	u64 blk;
	u8 *data;
	struct lfs_buf *hnext;
	struct list_head lru;		/* fs->lru: clean, unreferenced, not pinned */
	struct list_head dlink;		/* fs->dirty */
	struct list_head olink;		/* fs->op_list */
	u8 *undo;			/* content before the current op (was dirty) */
	u8 *busy;			/* bitmap: committed | freed-this-transaction */
	u64 op_gen;
	u32 refs;
	u16 type;
	u8 dirty, freed, pinned, undo_freed, in_lru, in_op;
};

struct lfs_fs {
	struct lfs_io io;
	struct lfs_env env;
	struct lfs_super sb;
	bool rdonly;			/* mounted read-only */
	bool failed;			/* fault: read-only from now on */
	char msg[160];
	/* cache */
	struct lfs_buf **htab;
	u32 hmask;
	struct list_head lru, dirty, op_list;
	u32 ncached, cache_max, ndirty, txn_max;
	/* op */
	u64 op_gen;
	bool in_op;
	struct {
		u64 free_blocks, pending_free, rotor;
		u32 free_inodes, ino_rotor;
	} save;
	/* allocation */
	u64 free_blocks;		/* zero bits in the data area */
	u64 pending_free;		/* of those, freed in the running transaction */
	u64 rotor;
	u32 free_inodes, ino_rotor;
	u64 seq, commits;
	bool data_written;		/* data written since the last flush */
	u8 *bounce;			/* one block */
	u8 *copybuf;			/* LFS_COPY_BLOCKS blocks */
};
#define LFS_COPY_BLOCKS 16u

struct lfs_vref {
	struct lfs_buf *b;
	struct lfs_vrec *r;
};

/* legofs_util.c */
void lfs_msg(char *buf, size_t size, const char *a, const char *b, u64 n, const char *c);
void lfs_fault(struct lfs_fs *fs, const char *a, const char *b, u64 n, const char *c);
int lfs_path_validate(const char *p, size_t *lenp);
void *lfs_zalloc(struct lfs_fs *fs, size_t size);
void lfs_free(struct lfs_fs *fs, void *p);
u64 lfs_now(struct lfs_fs *fs);
const char *lfs_btype_name(unsigned t);

/* legofs_core.c: I/O, cache, operations and transactions, allocation */
int lfs_io_read(struct lfs_fs *fs, u64 blk, u32 n, void *buf);
int lfs_io_write(struct lfs_fs *fs, u64 blk, u32 n, const void *buf);
int lfs_io_flush(struct lfs_fs *fs);
int lfs_bread(struct lfs_fs *fs, u64 blk, unsigned type, u32 owner, struct lfs_buf **out);
int lfs_bnew(struct lfs_fs *fs, u64 blk, unsigned type, u32 owner, u16 level,
	     struct lfs_buf **out);
int lfs_bmodify(struct lfs_fs *fs, struct lfs_buf *b);
void lfs_bput(struct lfs_fs *fs, struct lfs_buf *b);
void lfs_block_csum(void *blk);
bool lfs_block_csum_ok(const void *blk);
void lfs_op_begin_raw(struct lfs_fs *fs);
int lfs_op_begin(struct lfs_fs *fs, int attempt);
int lfs_op_end(struct lfs_fs *fs, int r, int attempt);
int lfs_commit(struct lfs_fs *fs);
int lfs_journal_recover(struct lfs_fs *fs);
int lfs_journal_clear(struct lfs_fs *fs);
void lfs_cache_destroy(struct lfs_fs *fs);
void lfs_bug(struct lfs_fs *fs, const char *what);
int lfs_cache_init(struct lfs_fs *fs, u32 cache_max);
u32 lfs_txn_capacity(u32 journal_blocks);
int lfs_balloc(struct lfs_fs *fs, u64 goal, u32 want, u64 *start, u32 *got);
int lfs_bfree(struct lfs_fs *fs, u64 start, u64 n);
int lfs_block_busy(struct lfs_fs *fs, u64 blk, bool *busy);
int lfs_count_free(struct lfs_fs *fs);
int lfs_inode_get(struct lfs_fs *fs, u32 ino, struct lfs_buf **b, struct lfs_inode **ip);
/* A copy of inode ino. */
int lfs_inode_read(struct lfs_fs *fs, u32 ino, struct lfs_inode *out);
int lfs_ref_get(struct lfs_fs *fs, u32 ino, u32 *val);
int lfs_ref_set(struct lfs_fs *fs, u32 ino, u32 val);
int lfs_inode_alloc(struct lfs_fs *fs, u32 mode, u32 *ino);
int lfs_inode_unref(struct lfs_fs *fs, u32 ino);

/* legofs_extent.c */
int lfs_ext_lookup(struct lfs_fs *fs, u32 ino, u32 lblk, u64 *pblk, u32 *run);
int lfs_ext_next(struct lfs_fs *fs, u32 ino, u32 lblk, struct lfs_ext *out, bool *found);
int lfs_ext_insert(struct lfs_fs *fs, u32 ino, u32 lblk, u64 pblk, u32 len);
int lfs_ext_remove(struct lfs_fs *fs, u32 ino, u32 start, u32 end);
int lfs_ext_free_all(struct lfs_fs *fs, u32 ino);
s64 lfs_file_read(struct lfs_fs *fs, u32 ino, u64 off, void *buf, u64 len);
int lfs_file_write(struct lfs_fs *fs, u32 ino, u64 off, const void *buf, u32 len);
int lfs_file_truncate(struct lfs_fs *fs, u32 ino, u64 size);
int lfs_file_copy(struct lfs_fs *fs, u32 src, u32 dst);
typedef int (*lfs_ext_cb)(struct lfs_fs *fs, void *ctx, const struct lfs_ext *e, u32 level,
			  u64 node_blk);
int lfs_ext_walk(struct lfs_fs *fs, u32 ino, lfs_ext_cb cb, void *ctx);

/* legofs_ht.c */
struct lfs_hent {
	u32 ino;
	u8 type;
};
typedef int (*lfs_ht_cb)(struct lfs_fs *fs, void *ctx, const struct lfs_dent *d);
int lfs_vnode_get(struct lfs_fs *fs, u32 id, struct lfs_vref *v);
int lfs_vnode_slot_free(struct lfs_fs *fs, struct lfs_vref *v);
void lfs_vnode_put(struct lfs_fs *fs, struct lfs_vref *v);
int lfs_ht_init(struct lfs_fs *fs, struct lfs_vref *v);
int lfs_ht_lookup(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len,
		  struct lfs_hent *out);
int lfs_ht_insert(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len,
		  u32 ino, u8 type);
int lfs_ht_remove(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len);
int lfs_ht_set_ino(struct lfs_fs *fs, struct lfs_vref *v, const char *path, size_t len,
		   u32 ino);
int lfs_ht_foreach(struct lfs_fs *fs, struct lfs_vref *v, lfs_ht_cb cb, void *ctx);
int lfs_ht_clone(struct lfs_fs *fs, struct lfs_vref *src, struct lfs_vref *dst);
int lfs_ht_free(struct lfs_fs *fs, struct lfs_vref *v);
u32 lfs_ht_nbuckets(const struct lfs_vrec *r);
u32 lfs_ht_bucket_of(const struct lfs_vrec *r, u64 hash);
int lfs_ht_bucket_blk(struct lfs_fs *fs, struct lfs_vref *v, u32 idx, u64 *blk);
int lfs_ht_check_block(struct lfs_fs *fs, struct lfs_buf *b);

/* legofs.c */
int lfs_vnode_init_base(struct lfs_fs *fs, u64 mtime);

#endif /* LFS_INTERNAL */

#endif
