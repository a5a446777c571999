/* Memory monitor protocol logic (managers/memory/mem_proto.c): decoding
 * and validating the requests of include/uapi/lego/memory.h. Pure logic
 * with no locks, no allocation and no I/O, so that it compiles on the host
 * and is unit-tested there (tests/unit/test_mem_proto.c). Used by both
 * sides of the memory personality: the home (managers/memory/home.c...) and
 * the vRegion owner (managers/memory/owner.c). Design: docs/memory.md.
 *
 * What the decoders check is framing: message sizes, the path that follows
 * a header (present exactly when the request needs one, normalised as in
 * storage.h), known flags/op/access bits, page alignment where memory.h
 * requires it, and addresses below LEGO_USER_TOP. Semantic checks of
 * mmap/munmap/... arguments (zero length, MAP_FIXED alignment, ...) are
 * left to the vma calls (include/lego/vma.h), which return Linux's errors.
 *
 * Every decoder copies the (possibly unaligned) header out of the message
 * and never reads outside msg[0..len). Paths stay in the message (pointer
 * + length, not NUL-terminated): the caller copies them if it keeps them.
 * Returns 0 or -EINVAL (malformed), -ENAMETOOLONG (path or a component too
 * long). */
#ifndef LEGO_MEM_PROTO_H
#define LEGO_MEM_PROTO_H

#include <lego/types.h>
#include <uapi/lego/memory.h>
#include <uapi/lego/storage.h>

/* Smallest and largest vregion_shift a request may carry: at least 2 MiB
 * (so huge-page alignment stays inside one vRegion), at most 2^46 (the
 * whole user space is then one vRegion). */
#define MEM_VREGION_SHIFT_MIN 21u
#define MEM_VREGION_SHIFT_MAX 46u

/* Path of a file in the vNode's storage: absolute, normalised ("/" or
 * "/a/b": no empty, "." or ".." component, no trailing '/', no NUL), fewer
 * than LEGO_ST_PATH_MAX bytes, components at most LEGO_ST_NAME_MAX bytes.
 * 0, -EINVAL or -ENAMETOOLONG. The same rule as storage.h's. */
int mem_path_check(const char *p, size_t n);

/* ---------------------------------------------------------------------- */
/* vRegion arithmetic                                                      */

/* true if shift is in [MEM_VREGION_SHIFT_MIN, MEM_VREGION_SHIFT_MAX]. */
bool mem_vregion_shift_ok(u32 shift);
/* Number of vRegions of user space: ceil(LEGO_USER_TOP / 2^shift). */
u64 mem_vregion_count(u32 shift);
/* true if index names a vRegion of user space for shift. */
bool mem_vregion_index_ok(u32 index, u32 shift);
/* The vRegion's range [*lo, *hi), hi clamped to LEGO_USER_TOP. The caller
 * has checked the index and shift. */
void mem_vregion_bounds(u32 index, u32 shift, u64 *lo, u64 *hi);
static inline u32 mem_vregion_of(u64 addr, u32 shift)
{
	return (u32)(addr >> shift);
}

/* ---------------------------------------------------------------------- */
/* Decoders                                                                */

/* MEM_CREATE: exactly sizeof(struct lego_mem_create_req) bytes, flags 0.
 * storage_port 0 is replaced by LEGO_RPC_PORT in *out. */
int mem_decode_create(const void *msg, size_t len, struct lego_mem_create_req *out);

/* MEM_EXEC, decoded. argv/envp are not split here: strings[0..strings_len)
 * holds argc + envc NUL-terminated strings, in that order, and nothing else
 * (checked). */
struct mem_exec_msg {
	struct lego_mem_exec_req h;	/* c.storage_port 0 replaced by LEGO_RPC_PORT */
	const char *path;		/* h.path_len bytes in the message */
	const char *strings;		/* h.strings_len bytes in the message */
};
/* Limits on EXEC's strings (Linux's MAX_ARG_STRINGS role; the whole
 * request must fit an RPC message anyway). */
#define MEM_EXEC_STRINGS_MAX 0x7fffffffu
int mem_decode_exec(const void *msg, size_t len, struct mem_exec_msg *out);

/* A lego_mem_map_req, decoded. */
struct mem_map_msg {
	struct lego_mem_map_req h;
	const char *path;		/* h.path_len bytes, or NULL when 0 */
};
/*
 * MMAP, MUNMAP, MPROTECT, MREMAP, BRK, EXIT, VREGIONS, MAPS (opcode says
 * which): header + exactly path_len bytes. A path is required for MMAP
 * without MAP_ANONYMOUS and refused otherwise. Checked as well: MMAP
 * flags within the MAP_* bits vma.h knows; MREMAP flags within
 * MREMAP_*; page alignment of addr for MUNMAP, MPROTECT, MREMAP and of
 * new_addr with MREMAP_FIXED; addr/len/new_len/new_addr below
 * LEGO_USER_TOP where they name a range (MMAP hints excepted: Linux
 * ignores a bad hint). -EINVAL for any other opcode.
 */
int mem_decode_map(u16 opcode, const void *msg, size_t len, struct mem_map_msg *out);

/* MEM_FORK: exactly 16 bytes; parent != child. */
int mem_decode_fork(const void *msg, size_t len, struct lego_mem_fork_req *out);

/* A page request, decoded. */
struct mem_page_msg {
	struct lego_mem_page_req h;
	const void *data;		/* FLUSH, FLUSH_FETCH: LEGO_PAGE_SIZE bytes in
					 * the message; FETCH: NULL */
};
/*
 * PAGE_FETCH: exactly 32 bytes. PAGE_FLUSH and PAGE_FLUSH_FETCH: 32 +
 * LEGO_PAGE_SIZE bytes. addr (and flush_addr for FLUSH_FETCH) page aligned
 * and below LEGO_USER_TOP; access only LEGO_MEM_ACCESS_* bits, and not 0
 * for FETCH and FLUSH_FETCH (FLUSH ignores access: it is a write).
 */
int mem_decode_page(u16 opcode, const void *msg, size_t len, struct mem_page_msg *out);

/* PAGE_FLUSH_MANY, decoded: the addresses and pages stay in the message
 * (unaligned): read them with mem_flush_many_addr / _page. */
struct mem_flush_many_msg {
	struct lego_mem_flush_many_req h;
	const u8 *addrs;		/* h.count * 8 bytes */
	const u8 *pages;		/* h.count * LEGO_PAGE_SIZE bytes */
};
/* Exactly 16 + count * (8 + LEGO_PAGE_SIZE) bytes; count in [1,
 * LEGO_MEM_FLUSH_MANY_MAX]; flags 0; every address page aligned and below
 * LEGO_USER_TOP. */
int mem_decode_flush_many(const void *msg, size_t len, struct mem_flush_many_msg *out);
u64 mem_flush_many_addr(const struct mem_flush_many_msg *m, u32 i);
static inline const void *mem_flush_many_page(const struct mem_flush_many_msg *m, u32 i)
{
	return m->pages + (size_t)i * LEGO_PAGE_SIZE;
}

/* MEM_OWN, decoded. */
struct mem_own_msg {
	struct lego_mem_own_req h;	/* h.c.storage_port 0 replaced by LEGO_RPC_PORT */
	const char *path;		/* h.m.path_len bytes, or NULL */
	u64 lo, hi;			/* the vRegion [lo, hi) */
	struct lego_mem_own_move mv;	/* OWN_MOVE only (dst_port 0 replaced by
					 * LEGO_RPC_PORT), else zeros */
};
/*
 * MEM_OWN: header + exactly m.path_len bytes; op known; vregion_shift and
 * index valid; m.mm == c.mm; c.flags 0. Per op:
 *  MMAP      flags as for mem_decode_map; path iff !MAP_ANONYMOUS; with
 *            MAP_FIXED or MAP_FIXED_NOREPLACE, [addr, addr + len) page
 *            rounded must lie in the vRegion; len != 0
 *  MUNMAP, MPROTECT  addr page aligned, len != 0, the range in the vRegion
 *  MREMAP    addr aligned, [addr, addr + len) in the vRegion, new_len != 0,
 *            flags MREMAP_*; with MREMAP_FIXED [new_addr, new_addr +
 *            new_len) in the vRegion
 *  BRK       addr (start_brk) in [lo, hi); new_len (the wanted break, 0:
 *            just ask) is not checked: vma_brk refuses what does not fit
 *  STACK     addr aligned, len != 0, the range in the vRegion
 *  FORK      new_addr (child mm) != c.mm
 *  FREE, MAPS  nothing else (MAPS: m.addr is any address)
 *  MOVE      followed by exactly a lego_mem_own_move (path_len 0, flags 0,
 *            dst_ipv4 set); m.addr and m.new_addr page aligned, m.len != 0
 *            and page aligned, [addr, addr + len) in the vRegion, [new_addr,
 *            new_addr + len) in one vRegion and not overlapping it
 * No path for anything but file MMAP.
 */
int mem_decode_own(const void *msg, size_t len, struct mem_own_msg *out);

/* ---------------------------------------------------------------------- */
/* mremap at the home                                                      */

/*
 * The argument checks of mremap(2) that need no vma, as Linux makes them
 * (all -EINVAL): unknown flags, addr not page aligned, new_len 0 or its
 * rounding overflowing (also old_len's), MREMAP_FIXED without
 * MREMAP_MAYMOVE, MREMAP_DONTUNMAP without MAYMOVE or with a size change,
 * and with FIXED or DONTUNMAP: new_addr not aligned, [new_addr, new_addr +
 * new_len) past LEGO_USER_TOP, or overlapping [addr, addr + old_len).
 * On success *old_len and *new_len are the page-rounded lengths.
 */
int mem_mremap_args(const struct lego_mem_map_req *h, u64 *old_len, u64 *new_len);

/* One step of moving [from, end) to to (to - from is the offset of the
 * move): the longest range whose source and destination each stay in one
 * vRegion. */
struct mem_move_piece {
	u64 src, dst, len;
	u32 src_index, dst_index;
};
/* Fills *p with the piece starting at *pos (from <= *pos) and advances
 * *pos past it; false when *pos >= end. Addresses below LEGO_USER_TOP. */
bool mem_move_piece_next(u32 shift, u64 from, u64 to, u64 *pos, u64 end,
			 struct mem_move_piece *p);

/* true if [addr, addr + PAGE_ALIGN(len)) lies inside [lo, hi) (len 0: the
 * empty range at addr, lo <= addr <= hi). No overflow. */
bool mem_range_in(u64 addr, u64 len, u64 lo, u64 hi);

/* One MAPS record (struct lego_mem_vma_rec) and its path, zero padded to
 * LEGO_MEM_VMA_REC_SIZE(n) bytes, written to buf (unaligned is fine) if
 * that fits in room. rec's path_len and reserved are replaced (n, 0).
 * Returns the bytes written, or 0 (no room: nothing written). */
u32 mem_vma_rec_put(void *buf, u32 room, const struct lego_mem_vma_rec *rec, const char *path,
		    u16 n);

/* MEM_BC: the 8-byte header and what follows; *payload and *payload_len are the
 * storage request (struct lego_st_req ...) for st_decode-like checking by
 * the caller. st_opcode must be a LEGO_OP_ST_* file opcode (0x0301..0x030f).
 * storage_port 0 is replaced by LEGO_RPC_PORT in *out. */
int mem_decode_bc(const void *msg, size_t len, struct lego_mem_bc_req *out,
		  const void **payload, size_t *payload_len);

#endif
