/*
 * Storage monitor protocol (paper section 4.5): opcodes 0x0300-0x03ff of
 * lego_rpc_opcode, carried by LegoOS RPC (rpc.h) to LEGO_RPC_PORT of an
 * sComponent. The single definition shared by the kernel and gm/ (legoctl).
 * Design: docs/storage.md.
 *
 * Stateless, NFS v2 style: every request names the vNode, the full path
 * and absolute offsets; the server keeps no open-file state. Paths are
 * absolute and normalised ("/" or "/a/b": no empty, "." or ".." component,
 * no trailing '/', no NUL byte), at most LEGO_ST_PATH_MAX - 1 bytes, each
 * component at most 255 bytes. The store never follows symbolic links;
 * callers resolve them. vNode 0 is the image's base root, from which every
 * new vNode's namespace is initialised (copy-on-write); vNode ids 1.. are
 * the ones GPM assigns.
 *
 * Request fields an opcode does not use are ignored (send zeros). Modes are
 * masked with 07777.
 *
 * Every request starts with struct lego_st_req, followed by path_len bytes
 * of path, path2_len bytes of a second path, then the data (the rest of
 * the message; only WRITE and APPEND carry data, and then `len` must equal
 * its size). Numbers are little-endian.
 *
 * The RPC status is the result: 0 (or the documented reply) on success,
 * otherwise a negative Linux errno with an empty reply:
 *   -EINVAL        malformed request (sizes, flags, path not normalised or
 *                  holding a NUL); READ of a symlink; a vNode id of 0xffffffff
 *   -ENAMETOOLONG  path or component too long
 *   -ESTALE        no such vNode on this sComponent
 *   -ENOENT, -EEXIST, -ENOTDIR, -EISDIR, -ENOTEMPTY, -EBUSY  as POSIX
 *   -EFBIG         offset or size beyond LEGO_ST_MAX_FILE_SIZE
 *   -ENOSPC        disk, inode table or vNode table full
 *   -EROFS         the store is read-only (it hit a fault; see STATFS)
 *   -EIO           device error, or the store is not mounted (corrupt or
 *                  foreign image; STATFS says why)
 *   -ENOMEM        the server is out of memory
 * A failed request changes nothing, except that a WRITE may be short (see
 * below).
 */
#ifndef UAPI_LEGO_STORAGE_H
#define UAPI_LEGO_STORAGE_H

#include <stdint.h>
#include <uapi/lego/rpc.h>

#define LEGO_ST_PATH_MAX 1024		/* bytes of a path with its NUL */
#define LEGO_ST_NAME_MAX 255		/* bytes of one path component */
#define LEGO_ST_IO_MAX (128u * 1024)	/* largest READ, WRITE or APPEND payload */
#define LEGO_ST_READDIR_MAX 128u	/* most entries in one READDIR reply */
#define LEGO_ST_MAX_FILE_SIZE (1ULL << 40)

enum lego_st_opcode {
	/* Files of a vNode. */
	LEGO_OP_ST_STAT = 0x0301,	/* reply: struct lego_st_stat (of the link itself) */
	LEGO_OP_ST_CREATE = 0x0302,	/* mode, flags LEGO_ST_O_*; reply empty */
	LEGO_OP_ST_READ = 0x0303,	/* off, len (<= LEGO_ST_IO_MAX); reply: the bytes,
					 * fewer at EOF (holes read as zeros) */
	LEGO_OP_ST_WRITE = 0x0304,	/* off, len, data; reply: struct lego_st_count with
					 * the bytes written: short only when the disk filled
					 * (nothing fit: -ENOSPC) */
	LEGO_OP_ST_TRUNCATE = 0x0305,	/* off: the new size; reply empty */
	LEGO_OP_ST_UNLINK = 0x0306,	/* reply empty */
	LEGO_OP_ST_MKDIR = 0x0307,	/* mode; reply empty */
	LEGO_OP_ST_RMDIR = 0x0308,	/* reply empty */
	LEGO_OP_ST_RENAME = 0x0309,	/* path -> path2 (POSIX rename); reply empty */
	LEGO_OP_ST_READDIR = 0x030a,	/* off: cookie (0 starts), len: max entries
					 * (1..LEGO_ST_READDIR_MAX); reply:
					 * struct lego_st_readdir_reply */
	LEGO_OP_ST_SYMLINK = 0x030b,	/* path: the link, path2: its target; reply empty */
	LEGO_OP_ST_READLINK = 0x030c,	/* reply: the target's bytes, no NUL */
	LEGO_OP_ST_FSYNC = 0x030d,	/* path_len 0: everything; reply empty once durable */
	LEGO_OP_ST_APPEND = 0x030e,	/* len, data (<= LEGO_ST_IO_MAX), flags
					 * LEGO_ST_APPEND_CREATE; all or nothing, also
					 * across a crash; reply: struct lego_st_count with
					 * the offset the data went to */
	LEGO_OP_ST_SETATTR = 0x030f,	/* data: struct lego_st_attr (len = its size) */

	/* The sComponent itself. path_len 0 for these. */
	LEGO_OP_ST_STATFS = 0x0320,	/* vnode ignored; reply: struct lego_st_statfs.
					 * Answers even when the store is not mounted. */
	LEGO_OP_ST_VNODE_CREATE = 0x0321, /* GPM -> sComponent: a namespace for vnode,
					 * initialised from vNode 0; -EEXIST if present */
	LEGO_OP_ST_VNODE_REMOVE = 0x0322, /* frees the vNode's files; -ESTALE if absent,
					 * -EBUSY for vNode 0 */
	LEGO_OP_ST_VNODE_LIST = 0x0323,	/* reply: struct lego_st_vnode_list */
};

struct lego_st_req {
	uint32_t vnode;
	uint32_t flags;			/* CREATE: LEGO_ST_O_*; APPEND: LEGO_ST_APPEND_* */
	uint64_t off;
	uint64_t len;
	uint32_t mode;			/* CREATE, MKDIR: permission bits (& 07777) */
	uint16_t path_len;
	uint16_t path2_len;
	/* char path[path_len]; char path2[path2_len]; uint8_t data[]; */
};

#define LEGO_ST_O_EXCL 0x1		/* CREATE: -EEXIST if the path exists */
#define LEGO_ST_O_TRUNC 0x2		/* CREATE: truncate an existing file to 0 */
#define LEGO_ST_APPEND_CREATE 0x1	/* APPEND: create a missing file (mode 0600) */

/* File types and permission bits use Linux's values (S_IFREG 0100000,
 * S_IFDIR 0040000, S_IFLNK 0120000). */
struct lego_st_stat {
	uint32_t ino;			/* shared files have one inode in every vNode
					 * until one of them changes it */
	uint32_t mode;			/* type | permissions */
	uint32_t nlink;
	uint32_t uid, gid;
	uint32_t nchild;		/* directories: entries directly below */
	uint64_t size;			/* bytes; symlinks: length of the target */
	uint64_t blocks;		/* 4 KiB blocks allocated */
	uint64_t mtime_ns;		/* since the Unix epoch */
};

struct lego_st_count {
	uint64_t value;
};

#define LEGO_ST_ATTR_MODE 0x1
#define LEGO_ST_ATTR_UID 0x2
#define LEGO_ST_ATTR_GID 0x4
#define LEGO_ST_ATTR_MTIME 0x8
struct lego_st_attr {
	uint32_t mask;			/* LEGO_ST_ATTR_* */
	uint32_t mode;			/* permission bits only */
	uint32_t uid, gid;
	uint64_t mtime_ns;
};

/* READDIR reply: header, then count entries, each
 * struct lego_st_dirent + name_len bytes of name (no NUL), padded with
 * zeros to a multiple of 8 bytes (LEGO_ST_DIRENT_SIZE). next_cookie
 * resumes after the last entry; count 0 means the end of the directory.
 * Order is stable (by a hash of the path); entries added or removed
 * between pages may or may not appear, the others appear exactly once. */
struct lego_st_readdir_reply {
	uint32_t count;
	uint32_t reserved;
	uint64_t next_cookie;
};

struct lego_st_dirent {
	uint64_t cookie;		/* resumes after this entry */
	uint32_t ino;
	uint8_t type;			/* Linux DT_DIR 4, DT_REG 8, DT_LNK 10 */
	uint8_t reserved;
	uint16_t name_len;
	/* char name[name_len]; zero padding */
};
#define LEGO_ST_DIRENT_SIZE(name_len) ((16u + (uint32_t)(name_len) + 7u) & ~7u)

/* STATFS reply. */
enum lego_st_state {
	LEGO_ST_STATE_OK = 1,		/* mounted read-write */
	LEGO_ST_STATE_READONLY = 2,	/* mounted, but a fault (message) made it read-only */
	LEGO_ST_STATE_UNMOUNTED = 3,	/* no usable store: no disk, or a corrupt or
					 * foreign image (message says which) */
};

#define LEGO_ST_MSG_LEN 160
struct lego_st_statfs {
	uint32_t state;			/* enum lego_st_state */
	uint32_t block_size;
	uint64_t total_bytes;		/* of the image */
	uint64_t free_bytes;		/* for file data and metadata */
	uint32_t total_inodes, free_inodes;
	uint32_t max_vnodes, nvnodes;	/* nvnodes counts vNode 0 */
	uint64_t commits;		/* journal transactions since mount */
	uint8_t uuid[16];
	char label[32];			/* NUL padded */
	char message[LEGO_ST_MSG_LEN];	/* NUL-terminated; "" when state is OK */
};

struct lego_st_vnode_list {
	uint32_t count;			/* ids in this reply (at most 8192) */
	uint32_t total;			/* vNodes on the sComponent, vNode 0 included;
					 * more than count when the list was cut */
	uint32_t ids[];
};
#define LEGO_ST_VNODE_LIST_MAX 8192u

_Static_assert(sizeof(struct lego_st_req) == 32, "wire size");
_Static_assert(sizeof(struct lego_st_stat) == 48, "wire size");
_Static_assert(sizeof(struct lego_st_attr) == 24, "wire size");
_Static_assert(sizeof(struct lego_st_readdir_reply) == 16, "wire size");
_Static_assert(sizeof(struct lego_st_dirent) == 16, "wire size");
_Static_assert(sizeof(struct lego_st_statfs) == 256, "wire size");

#endif
