/* Interfaces between the parts of the storage monitor (private to
 * managers/storage/): the store (store.c: the mounted LegoFS, its lock,
 * health and background commits) and the request service (service.c).
 * Design: docs/storage.md, "Storage monitor service". */
#ifndef MANAGERS_STORAGE_STORAGE_H
#define MANAGERS_STORAGE_STORAGE_H

#include <lego/types.h>
#include <lego/legofs.h>
#include <uapi/lego/storage.h>

/* Mount LegoFS on the first block device, or record why not. Never fails
 * the boot: without a store the node still runs, answers STATFS and
 * registers as unhealthy. Called once, before anything else here. */
void store_init(void);
/* Start the thread that commits changes every CONFIG_STORAGE_SYNC_MS. */
void store_start_sync(void);

/* Every LegoFS call happens between store_begin and store_end, which take
 * and release the store's mutex (LegoFS is not thread-safe and RPC
 * workers are several threads). store_begin returns the mounted store,
 * or NULL when there is none (the caller still calls store_end).
 * store_end(changed): changed says that the request may have changed the
 * store, so that the sync thread commits it; it also reports a switch to
 * read-only after a fault, once. */
struct lfs_fs *store_begin(void);
void store_end(bool changed);
/* With the mutex held, after a successful lfs_sync/lfs_fsync: nothing is
 * left for the sync thread. */
void store_committed(void);

/* STATFS reply (takes the mutex itself). */
void store_statfs(struct lego_st_statfs *out);
/* For the registration with GSM and LEGO_OP_LOAD. */
u16 store_reg_flags(void);
u64 store_capacity_bytes(void);
void store_load(u64 *total_bytes, u64 *free_bytes);

/* Register the handlers of every storage opcode (service.c). */
void service_init(void);

#endif
