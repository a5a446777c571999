/* The buffer cache service (bc_service.c): what the home's loader and
 * the owner role use to read files through a buffer cache. */
#ifndef MEMORY_BC_SERVICE_H
#define MEMORY_BC_SERVICE_H

#include <lego/rpc.h>
#include <lego/st_proto.h>
#include <uapi/lego/memory.h>

void bc_init(void);
void bc_stats(struct lego_mem_stats *s);

/* Serve the decoded storage request m for storage node st through this
 * node's cache (bcache_serve's contract). -ENODEV without a cache. */
int bc_serve(const struct rpc_endpoint *st, const struct st_msg *m, void *reply, u32 reply_max,
	     u32 *reply_len);

/* A path-only storage request (STAT, READ, READLINK) for vnode's file at
 * storage node st, through the buffer cache at cache: this node's own
 * when cache is NULL, its ip is 0 or ours; else LEGO_OP_MEM_BC to it. */
int bc_file_call(const struct rpc_endpoint *cache, const struct rpc_endpoint *st, u32 vnode,
		 u16 op, const char *path, u64 off, u64 len, void *reply, u32 reply_max, u32 *got);

#endif
