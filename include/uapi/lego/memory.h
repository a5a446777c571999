/*
 * Memory monitor protocol (paper §4.4, §4.5, §5.4): opcodes 0x0200-0x02ff
 * of lego_rpc_opcode, carried by LegoOS RPC (rpc.h) to LEGO_RPC_PORT of an
 * mComponent. The single definition shared by the kernel and gm/ (legoctl
 * mem). Design: docs/memory.md.
 *
 * Address spaces. A process's address space is named by a 64-bit mm id
 * that its creator picks and that is unique in the rack: the creator's node
 * id in the upper 32 bits (processor monitors: their id from GPM; Linux-side
 * test clients: LEGO_MM_ID_CLIENT_BASE + (pid & 0xffff) << 16 >> 16, see
 * below) and a counter in the lower 32 bits.
 *
 * Two levels (§4.4.1). The user address space [0, LEGO_USER_TOP) is cut
 * into vRegions of 1 << vregion_shift bytes (1 GiB by default; every
 * mComponent of a rack must use the same size, and replies state it). The
 * home mComponent of a process (chosen by GMM, LEGO_OP_GMM_HOME) serves
 * every request that changes the layout (CREATE, EXEC, MMAP, MUNMAP,
 * MPROTECT, MREMAP, BRK, FORK, EXIT) and keeps the vRegion array: for each
 * active vRegion its owner (chosen by GMM, LEGO_OP_GMM_VREGION, when the
 * home first needs it) and its free space. Each owner keeps the vmas of its
 * vRegions (a balanced tree, include/lego/vma.h) and their pages, and does
 * the fine-grained allocation inside them (the OWN_* requests, home ->
 * owner). Processors fetch and flush pages straight at the owner, from
 * their copy of the vRegion array (every home reply that can change it
 * carries it).
 *
 * Pages (§5.4). An owner allocates physical memory for a page on its first
 * write (PAGE_FLUSH) only; a page never written reads as zeros (for
 * anonymous memory) or as the file's bytes (file-backed memory, filled on
 * first fetch). FETCH replies with reply_len 0 mean "all zeros": the
 * processor fills the line itself, no 4 KiB crosses the network.
 *
 * Numbers are little-endian; addresses are user virtual addresses; prot,
 * flags and mremap flags use Linux's values (PROT_*, MAP_*, MREMAP_*).
 *
 * Errors (the RPC status; replies are then empty):
 *   -EINVAL   malformed request: sizes, misalignment, unknown flags, zero
 *             length, ranges beyond LEGO_USER_TOP
 *   -ESRCH    no such address space here (unknown mm id)
 *   -EEXIST   CREATE / FORK of an mm id that exists; MAP_FIXED_NOREPLACE
 *   -ENOMEM   no address space left (or too many vmas), no memory on the
 *             node, GMM found no owner with enough free memory
 *   -EFAULT   FETCH/FLUSH of an address no vma covers
 *   -EACCES   FETCH for write of a page without PROT_WRITE, or any FETCH
 *             of a PROT_NONE page (as on x86, write implies read);
 *             mprotect adding what the mapping forbids
 *   -ENXIO    page or OWN request for a vRegion this node does not own
 *             (the sender's vRegion array is stale: fetch VREGIONS again)
 *   -ENOEXEC  EXEC of a file that is not a loadable ELF64 x86-64 program
 *             (the node logs the reason; the reply carries it, see EXEC)
 *   -ENOENT, -EACCES, -EISDIR, -EIO ...  from the storage side (EXEC,
 *             file-backed mappings)
 *   -EHOSTUNREACH  a peer (GMM, an owner, the storage node) did not answer
 */
#ifndef UAPI_LEGO_MEMORY_H
#define UAPI_LEGO_MEMORY_H

#include <stdint.h>
#include <uapi/lego/rpc.h>

#define LEGO_PAGE_SIZE 4096u
#define LEGO_USER_TOP 0x00007ffffffff000ULL	/* end of user space (Linux x86-64) */
#define LEGO_VREGION_SHIFT_DEFAULT 30		/* 1 GiB */
#define LEGO_MM_ID_CLIENT_BASE 0xffff000000000000ULL /* Linux-side clients */

enum lego_mem_opcode {
	/* Client (processor, legoctl) -> home mComponent. */
	LEGO_OP_MEM_CREATE = 0x0201,	/* lego_mem_create_req; reply empty */
	LEGO_OP_MEM_EXEC = 0x0202,	/* lego_mem_exec_req...; reply lego_mem_exec_reply */
	LEGO_OP_MEM_MMAP = 0x0203,	/* lego_mem_map_req; reply lego_mem_layout_reply */
	LEGO_OP_MEM_MUNMAP = 0x0204,	/* lego_mem_map_req (addr, len); reply empty */
	LEGO_OP_MEM_MPROTECT = 0x0205,	/* lego_mem_map_req (addr, len, prot); reply empty */
	LEGO_OP_MEM_MREMAP = 0x0206,	/* lego_mem_map_req (addr, len, new_len, flags =
					 * MREMAP_*, new_addr); reply lego_mem_layout_reply */
	LEGO_OP_MEM_BRK = 0x0207,	/* lego_mem_map_req (addr = wanted break, 0 asks);
					 * reply lego_mem_layout_reply, value = the break
					 * now (unchanged on failure, like Linux) */
	LEGO_OP_MEM_FORK = 0x0208,	/* lego_mem_fork_req; the child gets a copy of every
					 * vma and page, with the same home and owners;
					 * reply empty. The processor flushes its dirty
					 * lines of the parent first. */
	LEGO_OP_MEM_EXIT = 0x0209,	/* lego_mem_map_req (mm only): frees every page, vma
					 * and vRegion; reply empty */
	LEGO_OP_MEM_VREGIONS = 0x020a,	/* lego_mem_map_req (mm only); reply
					 * lego_mem_layout_reply */
	LEGO_OP_MEM_MAPS = 0x020b,	/* lego_mem_map_req (mm; addr: resume after this
					 * address, 0 first); reply lego_mem_maps_reply:
					 * the vmas of every owner, merged across vRegion
					 * boundaries as Linux would show them */

	/* Processor (or a test client) -> vRegion owner: page service (§5.3). */
	LEGO_OP_MEM_PAGE_FETCH = 0x0210,	/* lego_mem_page_req; reply the page or
						 * reply_len 0 (zeros) */
	LEGO_OP_MEM_PAGE_FLUSH = 0x0211,	/* lego_mem_page_req + 4096 bytes; reply empty */
	LEGO_OP_MEM_PAGE_FLUSH_FETCH = 0x0212,	/* lego_mem_page_req (addr: fetch,
						 * flush_addr: flush) + 4096 bytes to
						 * flush; reply as FETCH. Both at the
						 * same owner (the piggyback of §5.3). */
	LEGO_OP_MEM_PAGE_FLUSH_MANY = 0x0213,	/* lego_mem_flush_many_req: several
						 * FLUSHes in one message (an owner
						 * pushing pages to another, OWN_MOVE);
						 * reply empty */

	/* Home -> vRegion owner. */
	LEGO_OP_MEM_OWN = 0x0220,	/* lego_mem_own_req: one vma operation inside one
					 * vRegion; reply lego_mem_own_reply */

	/* Anyone -> an mComponent: counters (tests check for leaks). */
	LEGO_OP_MEM_STATS = 0x0240,	/* empty; reply lego_mem_stats */

	/* Processor -> the vNode's buffer-cache mComponent (§4.5): the
	 * storage request set, cached. See struct lego_mem_bc_req. */
	LEGO_OP_MEM_BC = 0x0250,
};

/* MEM_CREATE: an empty address space whose home is the receiver. The
 * storage endpoint is where file-backed mappings and EXEC read files. */
struct lego_mem_create_req {
	uint64_t mm;
	uint32_t vnode;			/* vNode id (storage.h namespace) */
	uint32_t storage_ipv4;		/* the vNode's sComponent, network byte order */
	uint16_t storage_port;		/* 0: LEGO_RPC_PORT */
	uint16_t flags;			/* 0 */
	uint32_t bc_ipv4;		/* the mComponent caching the vNode's files
					 * (§4.5), network byte order, at
					 * LEGO_RPC_PORT; 0: the receiver itself */
};

/* MEM_EXEC: load the program at path (in the vNode's storage) into mm,
 * replacing its contents (mm is created if absent). Followed by path_len
 * bytes of path (absolute, normalised as in storage.h), then argc
 * NUL-terminated argument strings, then envc NUL-terminated environment
 * strings (strings_len bytes in all). */
struct lego_mem_exec_req {
	struct lego_mem_create_req c;
	uint16_t path_len;
	uint16_t reserved;
	uint32_t argc, envc;
	uint32_t strings_len;
	uint8_t random[16];		/* AT_RANDOM bytes (the caller's entropy) */
	/* char path[path_len]; char strings[strings_len]; */
};

/* One active vRegion: index = address >> vregion_shift. */
struct lego_mem_vregion {
	uint32_t index;
	uint32_t owner_node;		/* node id */
	uint32_t owner_ipv4;		/* network byte order */
	uint16_t owner_port;
	uint16_t flags;			/* 0 */
};

/* Replies that carry the vRegion array: MMAP, MREMAP, BRK (value = the
 * address / the break), VREGIONS (value = 0). The array lists every
 * active vRegion of mm in index order. */
struct lego_mem_layout_reply {
	uint64_t value;
	uint32_t vregion_shift;
	uint32_t count;
	uint32_t generation;		/* bumped whenever the array changes */
	uint32_t reserved;
	struct lego_mem_vregion v[];
};
#define LEGO_MEM_VREGIONS_MAX 4096u

/* MEM_EXEC reply: where the program starts, then the vRegion array. On
 * -ENOEXEC the reply instead holds a NUL-terminated reason (at most
 * LEGO_MEM_REASON_MAX bytes). */
struct lego_mem_exec_reply {
	uint64_t entry;			/* initial rip (the interpreter's if any) */
	uint64_t sp;			/* initial rsp, pointing at argc */
	uint64_t start_brk;		/* heap start (brk) */
	uint64_t stack_top;
	uint64_t mmap_base;
	struct lego_mem_layout_reply layout;
};
#define LEGO_MEM_REASON_MAX 128u

/* MMAP, MUNMAP, MPROTECT, MREMAP, BRK, EXIT, VREGIONS, MAPS. For file
 * mappings (MMAP without MAP_ANONYMOUS) path_len bytes of the file's path
 * in the address space's vNode follow; pgoff is in pages. */
struct lego_mem_map_req {
	uint64_t mm;
	uint64_t addr;
	uint64_t len;
	uint64_t new_len;		/* MREMAP */
	uint64_t new_addr;		/* MREMAP with MREMAP_FIXED */
	uint64_t pgoff;			/* MMAP of a file */
	uint32_t prot;
	uint32_t flags;			/* MAP_* (MMAP), MREMAP_* (MREMAP) */
	uint16_t path_len;
	uint16_t reserved[3];
	/* char path[path_len]; */
};

struct lego_mem_fork_req {
	uint64_t parent;
	uint64_t child;
};

/* MEM_MAPS reply: count records in address order; more (1) when another
 * request (addr = the last record's end) returns the rest. */
struct lego_mem_vma_rec {
	uint64_t start, end;
	uint64_t pgoff;			/* pages */
	uint32_t prot;
	uint32_t flags;			/* LEGO_MEM_VMA_* */
	uint32_t owner_node;		/* the owner of start's vRegion */
	uint16_t path_len;		/* file mappings: bytes of path after the record */
	uint16_t reserved;
	/* char path[path_len], zero padded to a multiple of 8 bytes */
};
#define LEGO_MEM_VMA_SHARED 0x01
#define LEGO_MEM_VMA_FILE 0x02
#define LEGO_MEM_VMA_HEAP 0x04
#define LEGO_MEM_VMA_STACK 0x08
#define LEGO_MEM_VMA_GROWSDOWN 0x10
#define LEGO_MEM_VMA_NORESERVE 0x20	/* MAP_NORESERVE */
#define LEGO_MEM_VMA_LOCKED 0x40	/* MAP_LOCKED */
#define LEGO_MEM_VMA_NOHUGEPAGE 0x80	/* MAP_STACK (Linux: VM_NOHUGEPAGE) */
#define LEGO_MEM_VMA_REC_SIZE(path_len) (40u + (((uint32_t)(path_len) + 7u) & ~7u))

struct lego_mem_maps_reply {
	uint32_t count;
	uint32_t more;
	/* struct lego_mem_vma_rec records[count]; */
};

/* Page service. access: LEGO_MEM_ACCESS_*; a FETCH for write also checks
 * PROT_WRITE. addr and flush_addr are page aligned. */
struct lego_mem_page_req {
	uint64_t mm;
	uint64_t addr;
	uint64_t flush_addr;		/* FLUSH_FETCH only */
	uint32_t access;
	uint32_t reserved;
};
/* PAGE_FLUSH_MANY: count pages of mm, each flushed as by PAGE_FLUSH, in
 * order; count addresses (page aligned, below LEGO_USER_TOP) follow the
 * header, then count * 4096 bytes of pages. A failure stops there (the
 * pages before it are stored) and is the status. */
struct lego_mem_flush_many_req {
	uint64_t mm;
	uint32_t count;			/* 1 .. LEGO_MEM_FLUSH_MANY_MAX */
	uint32_t flags;			/* 0 */
	/* uint64_t addr[count]; uint8_t pages[count][4096]; */
};
#define LEGO_MEM_FLUSH_MANY_MAX \
	((LEGO_RPC_MAX_MSG - 16u) / (8u + LEGO_PAGE_SIZE))	/* 63 */

#define LEGO_MEM_ACCESS_READ 0x1
#define LEGO_MEM_ACCESS_WRITE 0x2
#define LEGO_MEM_ACCESS_EXEC 0x4

/* MEM_OWN: the home asks the owner of vRegion index to apply one
 * operation to the vmas inside that vRegion (never crossing it). The
 * owner creates its part of mm on first use (with the home's vnode and
 * storage endpoint from the request). op-specific fields as in
 * lego_mem_map_req; path_len bytes of path follow for file mappings. */
enum lego_mem_own_op {
	LEGO_MEM_OWN_MMAP = 1,		/* addr: hint or fixed address (flags), len */
	LEGO_MEM_OWN_MUNMAP = 2,
	LEGO_MEM_OWN_MPROTECT = 3,
	LEGO_MEM_OWN_MREMAP = 4,	/* inside the vRegion only */
	LEGO_MEM_OWN_BRK = 5,		/* heap: addr = start_brk, new_len = wanted break */
	LEGO_MEM_OWN_FORK = 6,		/* copy mm's part to child (new_addr = child mm id) */
	LEGO_MEM_OWN_FREE = 7,		/* drop mm's part of this vRegion */
	LEGO_MEM_OWN_STACK = 8,		/* the initial stack vma: [addr, addr + len) */
	LEGO_MEM_OWN_MAPS = 9,		/* list the vRegion's vmas from m.addr on (0: all):
					 * reply lego_mem_own_reply, then a
					 * lego_mem_maps_reply with its records */
	LEGO_MEM_OWN_MOVE = 10,		/* mremap across vRegions: move the allocated pages
					 * of [m.addr, m.addr + m.len) (in this vRegion)
					 * to [m.new_addr, ...) at the owner named by the
					 * lego_mem_own_move that follows the request
					 * (path_len 0); see there. Reply value: the
					 * number of pages moved */
};

struct lego_mem_own_req {
	struct lego_mem_create_req c;	/* mm, vnode, storage endpoint */
	uint32_t op;			/* enum lego_mem_own_op */
	uint32_t index;			/* the vRegion */
	uint32_t vregion_shift;
	uint32_t reserved;
	uint64_t mmap_base;		/* top-down allocation starts below this */
	struct lego_mem_map_req m;	/* its mm field equals c.mm */
};

/* OWN_MOVE's tail. The destination range lies in one vRegion and is
 * mapped already (the home maps it first). The source owner pushes every
 * page it holds in the range to the destination with PAGE_FLUSH_MANY (or,
 * when it owns the destination too, moves them in its page map) and frees
 * its copies only when all arrived: a failure leaves the source unchanged
 * (some pages may have reached the destination). Pages never written
 * move as nothing: they read as zeros (or the file) there as well. */
struct lego_mem_own_move {
	uint32_t dst_ipv4;		/* the destination's owner, network byte order */
	uint16_t dst_port;		/* 0: LEGO_RPC_PORT */
	uint16_t flags;			/* 0 */
	uint32_t dst_node;		/* its node id (informational) */
	uint32_t reserved;
};

struct lego_mem_own_reply {
	int64_t value;			/* the address mapped, or 0 */
	uint64_t free_bytes;		/* unmapped bytes left in the vRegion */
	uint64_t max_gap;		/* its largest free range */
	uint32_t nr_vmas;
	uint32_t reserved;
};

/* MEM_STATS reply: this node's totals. */
struct lego_mem_stats {
	uint64_t mms_home;		/* address spaces this node is home of */
	uint64_t mms_owned;		/* address-space parts this node owns vRegions of */
	uint64_t vregions;		/* vRegions owned */
	uint64_t vmas;
	uint64_t pages;			/* allocated user pages (4 KiB) */
	uint64_t page_fetches, page_flushes, zero_fetches;
	uint64_t bc_pages;		/* buffer cache pages */
	uint64_t bc_hits, bc_misses, bc_writebacks;
	uint64_t mem_free_bytes;
	uint64_t bc_dirty;		/* buffer cache pages not yet at storage */
	uint64_t bc_evictions, bc_wb_errors;
};

/* MEM_BC: a storage request (storage.h: struct lego_st_req and what
 * follows it) through the mComponent that caches the vNode's files. The
 * reply and errors are the storage opcode's. Reads are served from the
 * cache; writes go into it and reach the storage node on eviction, on
 * FSYNC (write-through before the reply) or within a few seconds. */
struct lego_mem_bc_req {
	uint32_t storage_ipv4;		/* the vNode's sComponent */
	uint16_t storage_port;		/* 0: LEGO_RPC_PORT */
	uint16_t st_opcode;		/* LEGO_OP_ST_* */
	/* struct lego_st_req + its payload */
};

_Static_assert(sizeof(struct lego_mem_create_req) == 24, "wire size");
_Static_assert(sizeof(struct lego_mem_exec_req) == 56, "wire size");
_Static_assert(sizeof(struct lego_mem_vregion) == 16, "wire size");
_Static_assert(sizeof(struct lego_mem_layout_reply) == 24, "wire size");
_Static_assert(sizeof(struct lego_mem_exec_reply) == 64, "wire size");
_Static_assert(sizeof(struct lego_mem_map_req) == 64, "wire size");
_Static_assert(sizeof(struct lego_mem_vma_rec) == 40, "wire size");
_Static_assert(sizeof(struct lego_mem_page_req) == 32, "wire size");
_Static_assert(sizeof(struct lego_mem_own_req) == 112, "wire size");
_Static_assert(sizeof(struct lego_mem_own_reply) == 32, "wire size");
_Static_assert(sizeof(struct lego_mem_own_move) == 16, "wire size");
_Static_assert(sizeof(struct lego_mem_flush_many_req) == 16, "wire size");
_Static_assert(sizeof(struct lego_mem_bc_req) == 8, "wire size");

#endif
