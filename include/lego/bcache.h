/* The storage buffer cache of an mComponent (paper §4.5): file pages of
 * the vNodes whose files this node caches, in front of their storage
 * nodes. Processors (and the home's program loader, and owners filling
 * file-backed pages) send the storage request set (storage.h) here wrapped
 * in LEGO_OP_MEM_BC; reads are served from cached pages, writes go into
 * them and reach the storage node when a page is evicted, when the file is
 * fsync'd (write-through before the reply), or from the periodic flush.
 *
 * This file's code (managers/memory/bcache.c) is pure logic: storage
 * calls, memory and time go through struct bcache_ops, so it runs on the
 * host in tests/unit/test_bcache.c against a model store. The kernel glue
 * (RPC handler, flush thread, lock) is managers/memory/bc_service.c.
 *
 * Locking: none inside. The caller serialises every call on one struct
 * bcache (the kernel holds one mutex, also across the storage calls made
 * from inside, so a request sees the cache exactly as the previous one
 * left it). Design: docs/memory.md, "Buffer cache". */
#ifndef LEGO_BCACHE_H
#define LEGO_BCACHE_H

#include <lego/types.h>
#include <lego/list.h>
#include <lego/st_proto.h>
#include <uapi/lego/storage.h>

#define BC_PAGE_SIZE 4096u
/* Most pages one miss reads ahead of the request (one storage READ). */
#define BC_READAHEAD_PAGES 16u
/* Most pages one write-back request carries (one storage WRITE). */
#define BC_WB_PAGES (LEGO_ST_IO_MAX / BC_PAGE_SIZE)

/* A storage node: requests for the same vNode and path through different
 * storage nodes are different files. */
struct bc_ep {
	u32 ip;			/* network byte order */
	u16 port;		/* host byte order, never 0 */
};

struct bcache_ops {
	/* One storage request: the header h (path_len and path2_len set),
	 * path and path2 (NULL when their length is 0) and h->len bytes of
	 * data (WRITE, APPEND, SETATTR; NULL for the others). The reply goes to reply[0..reply_max),
	 * its length to *got. Returns the storage status or a transport
	 * error (negative errno). */
	int (*st_call)(void *ctx, const struct bc_ep *ep, u16 op, const struct lego_st_req *h,
		       const char *path, const char *path2, const void *data, void *reply,
		       u32 reply_max, u32 *got);
	void *(*zalloc)(void *ctx, size_t size);	/* zeroed, NULL when out of memory */
	void (*free)(void *ctx, void *p);
	void *(*page_alloc)(void *ctx);			/* BC_PAGE_SIZE bytes, or NULL */
	void (*page_free)(void *ctx, void *page);
	u64 (*now_ms)(void *ctx);
};

struct bcache_stats {
	u64 pages, dirty, files;	/* now */
	u64 hits, misses;		/* pages found / read from storage */
	u64 readahead;			/* pages read ahead of a request */
	u64 writebacks;			/* pages written to storage */
	u64 wb_requests;		/* storage WRITEs for them */
	u64 evictions, wb_errors, revalidations, invalidations;
	u64 requests, forwarded;	/* served; passed to storage untouched */
};

/* One cached file: (storage node, vNode, path). */
struct bc_file {
	struct bc_file *hnext;		/* file hash chain */
	struct list_head pages;		/* its struct bc_page, any order */
	struct bc_ep ep;
	u32 vnode;
	u32 hash;
	u64 size;			/* the file's size as the cache's users see it */
	u64 st_size, st_mtime;		/* what storage last said; st_known */
	u64 checked_ms;			/* when storage last said it */
	u32 nr_pages, nr_dirty;
	bool st_known;			/* false: re-stat before trusting clean pages */
	int wb_err;			/* first failed write-back since the last FSYNC */
	u16 path_len;
	char path[];			/* NUL-terminated */
};

struct bc_page {
	struct bc_page *hnext;		/* page hash chain */
	struct list_head lru;		/* bcache.lru, most recent first */
	struct list_head fnode;		/* bc_file.pages */
	struct bc_file *f;
	u64 index;			/* file offset / BC_PAGE_SIZE */
	u8 *data;			/* BC_PAGE_SIZE bytes; zeros past the file's end */
	bool dirty;
};

struct bcache {
	const struct bcache_ops *ops;
	void *ctx;
	u32 max_pages;			/* bound on cached pages */
	u32 max_dirty;			/* dirty pages beyond this are written back at once */
	u64 revalidate_ms;		/* clean data older than this is re-checked */
	u32 file_buckets, page_buckets;	/* powers of two */
	struct bc_file **files;
	struct bc_page **pages;
	struct list_head lru;
	u8 *bounce;			/* LEGO_ST_IO_MAX bytes: read-ahead and write-back */
	struct bcache_stats st;
};

/* max_pages >= 2 * BC_READAHEAD_PAGES. Returns 0 or -ENOMEM / -EINVAL. */
int bcache_init(struct bcache *bc, const struct bcache_ops *ops, void *ctx, u32 max_pages,
		u64 revalidate_ms);
/* Frees everything; dirty data is written back first (errors ignored). */
void bcache_destroy(struct bcache *bc);

/* Serve the decoded storage request m (opcodes ST_STAT..ST_SETATTR) for
 * the storage node ep. The reply goes to reply[0..reply_max), which must
 * hold the opcode's largest reply (m->h.len for READ, LEGO_ST_PATH_MAX
 * for READLINK, sizeof(struct lego_st_stat), ...). Returns what the
 * storage node would have answered: the status, with *reply_len set. */
int bcache_serve(struct bcache *bc, const struct bc_ep *ep, const struct st_msg *m, void *reply,
		 u32 reply_max, u32 *reply_len);

/* Write back every dirty page (the periodic flush), and free files that
 * hold no pages. Returns the first error, 0 when all went. */
int bcache_flush(struct bcache *bc);

#endif
