/* The vRegion owner role of the memory monitor (paper §4.4.1, §5.4):
 * vma trees and page stores of the vRegions this node owns, served to
 * homes (LEGO_OP_MEM_OWN) and processors (LEGO_OP_MEM_PAGE_*). Private to
 * managers/memory/. Design: docs/memory.md, "vRegion owners". */
#ifndef MEMORY_OWNER_H
#define MEMORY_OWNER_H

#include <lego/types.h>
#include <uapi/lego/memory.h>

/* Sets up the owner's tables and registers its RPC handlers
 * (LEGO_OP_MEM_OWN, LEGO_OP_MEM_PAGE_FETCH/FLUSH/FLUSH_FETCH). Call once
 * from monitor_init(). 0, or the first rpc_register error (the handlers
 * registered before it stay). */
int owner_init(void);

/* Adds the owner's figures to a STATS reply: mms_owned, vregions, vmas,
 * pages, page_fetches, page_flushes, zero_fetches (the other fields are
 * left alone). Lock-free snapshot; safe from any RPC worker. */
void owner_stats(struct lego_mem_stats *s);

/* Serve an OWN or PAGE_* request of this node's own home role in the
 * calling thread (no RPC, no second worker). Semantics as rpc_call's: the
 * handler's status, the reply copied into reply (-EMSGSIZE if longer than
 * reply_max), *reply_len set on success. */
int owner_local_call(u16 opcode, const void *req, u32 req_len, void *reply, u32 reply_max,
		     u32 *reply_len);

#endif
