/* Storage monitor protocol logic (managers/storage/st_proto.c): decoding
 * and validating requests of include/uapi/lego/storage.h, and encoding
 * replies from LegoFS results. Pure logic with no locks, no allocation and
 * no I/O, so that it compiles on the host and is unit-tested there
 * (tests/unit/test_st_proto.c); the kernel side is
 * managers/storage/service.c. Design: docs/storage.md, "Storage monitor
 * service". */
#ifndef LEGO_ST_PROTO_H
#define LEGO_ST_PROTO_H

#include <lego/types.h>
#include <lego/legofs.h>
#include <uapi/lego/storage.h>

/* A request that passed st_decode. The header is copied (the message may
 * be unaligned); paths are copied and NUL-terminated because LegoFS takes
 * C strings; the data stays in the message. One per request, owned by the
 * thread serving it: no lock. */
struct st_msg {
	u16 opcode;
	struct lego_st_req h;
	u32 mode;			/* CREATE, MKDIR: h.mode & 07777 */
	const void *data;		/* WRITE, APPEND: h.len bytes in the message (not NULL) */
	u32 data_len;
	struct lego_st_attr attr;	/* SETATTR, mode already & 07777 */
	bool has_path;			/* FSYNC may name no path */
	char path[LEGO_ST_PATH_MAX];	/* "" when path_len is 0 */
	char path2[LEGO_ST_PATH_MAX];	/* RENAME: new path; SYMLINK: the target */
};

/* Decode and validate the request message msg[0..len) of opcode into *m.
 * Returns 0, or the status for the caller: -EINVAL (malformed: sizes,
 * unknown flags, path not normalised or holding a NUL, a vNode id of
 * 0xffffffff, READ/READDIR limits), -ENAMETOOLONG (path or component too
 * long), -ENOENT (SYMLINK with an empty target, as POSIX), -ENOSYS (not a
 * storage opcode). Never reads outside msg[0..len). */
int st_decode(u16 opcode, const void *msg, size_t len, struct st_msg *m);

/* true for every opcode of enum lego_st_opcode. */
bool st_opcode_known(u16 opcode);
/* true for the opcodes that may change the store (they dirty the running
 * transaction, so the sync thread has something to commit). */
bool st_opcode_mutates(u16 opcode);

/* Map a LegoFS result to the wire: values >= 0 pass, the errors that
 * storage.h documents pass, anything else (e.g. -EUCLEAN, which only
 * mount and check return) becomes -EIO. */
int st_wire_errno(int err);

void st_stat_encode(const struct lfs_stat *in, struct lego_st_stat *out);

/* READDIR reply: size of the reply for entries e[0..n), and its encoding
 * into buf[0..cap). Returns the bytes written, or 0 when cap is too small
 * (a reply is never shorter than its 16-byte header). */
size_t st_readdir_size(const struct lfs_dirent *e, u32 n);
size_t st_readdir_encode(const struct lfs_dirent *e, u32 n, u64 next_cookie, void *buf,
			 size_t cap);

/* STATFS reply. st is NULL when nothing is mounted (sizes stay 0); label
 * is the superblock's 32-byte field (may lack a NUL), uuid 16 bytes (both
 * may be NULL); msg (may be NULL) is truncated to fit with its NUL. */
void st_statfs_encode(struct lego_st_statfs *out, u32 state, const struct lfs_statfs *st,
		      const u8 *uuid, const char *label, const char *msg);

#endif
