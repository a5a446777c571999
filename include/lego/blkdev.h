/* Block devices (drivers/blkdev.c): a registry, asynchronous requests and
 * synchronous helpers on top of them. First user: the storage monitor's
 * file store (4 KiB blocks); first driver: virtio-blk.
 *
 * Units. Sectors are always 512 bytes (BLKDEV_SECTOR_SIZE), whatever the
 * device's logical block size; a request's sector and count must both be
 * multiples of block_size / 512 (4 KiB blocks: multiples of 8).
 *
 * Buffers. A request's buffer is a kernel virtual address of physically
 * contiguous memory, because the device reads or writes it by DMA at
 * __pa(buf): memory from kmalloc, alloc_page(s) or the kernel image
 * (static data) qualifies; thread stacks, ioremap and user memory do not
 * (blkdev_submit refuses anything outside the direct map and the kernel
 * image with -EFAULT). No alignment is required. The caller must not touch
 * the buffer until the request completes.
 *
 * Asynchronous use (blkdev_submit never sleeps: any context, interrupts
 * on or off, callbacks included):
 *   req->op, sector, count, buf, done, private = ...;
 *   r = blkdev_submit(bd, req);
 * 0 means the request was accepted and req->done(req) will be called
 * exactly once, with req->status 0 or -errno (-EIO: the device reported an
 * error; -EOPNOTSUPP: the device does not support the operation). The
 * callback runs in interrupt context, possibly on another CPU and possibly
 * before blkdev_submit returns; it must not sleep, may submit further
 * requests, and owns req again (it may free it). A negative return means
 * the request was refused and done is never called: -EINVAL (bad op,
 * count 0, beyond the capacity, misaligned), -EROFS (write to a read-only
 * device), -EFAULT (bad buffer), -ENOMEM (no memory to split it), -ENODEV.
 *
 * Requests larger than the device takes in one go (max_sectors, and
 * max_segments x max_segment_size, since the buffer is contiguous) are
 * split by the layer into pieces submitted together; done runs once, after
 * the last piece, with the first error seen. Requests wait in a FIFO while
 * the device is full (e.g. its ring has no room), so any number may be
 * submitted. Requests in flight are not ordered with respect to each
 * other: a FLUSH makes durable the writes that completed before it was
 * submitted, and says nothing about writes still in flight.
 *
 * Synchronous helpers (thread context; they sleep until completion):
 * blkdev_read, blkdev_write, blkdev_flush. They return 0 or -errno as
 * above. There is no time-out: a request the device never completes keeps
 * the caller asleep.
 *
 * Locking: struct blkdev says which lock protects what; the registry is
 * written under its own lock and devices are never removed, so a pointer
 * from blkdev_get/blkdev_find stays valid. */
#ifndef LEGO_BLKDEV_H
#define LEGO_BLKDEV_H

#include <lego/types.h>
#include <lego/list.h>
#include <lego/spinlock.h>
#include <lego/wait.h>
#include <lego/atomic.h>
#include <lego/errno.h>


#define BLKDEV_SECTOR_SIZE 512
#define BLKDEV_SECTOR_SHIFT 9
#define BLKDEV_MAX 8
#define BLKDEV_NAME_LEN 16

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,	/* sector, count and buf are ignored */
};

struct blk_req;
typedef void (*blk_done_t)(struct blk_req *req);

struct blk_req {
	/* Filled by the submitter. */
	enum blk_op op;
	u64 sector;		/* first 512-byte sector */
	u32 count;		/* 512-byte sectors */
	void *buf;		/* see "Buffers" above */
	blk_done_t done;
	void *private;		/* for the submitter */
	/* Result, valid when done runs. */
	int status;		/* 0 or -errno */
	/* Owned by the layer and the driver while the request is in flight:
	 * node links the request into bd->pending (under bd->lock) until the
	 * driver accepts it, then belongs to the driver; drv is the driver's. */
	struct blkdev *bd;
	struct list_head node;
	void *drv;
};

struct blkdev;

struct blkdev_ops {
	/* Start one request that respects the device's limits (the layer
	 * splits larger ones). Called with bd->lock held and interrupts off,
	 * so it must not sleep and must not complete the request itself:
	 * completions come later through blkdev_end_request, from another
	 * context (normally the device's interrupt handler). Returns 0 when
	 * the device has the request, -EBUSY when it has no room now (the
	 * layer retries after the next completion, so the device must have
	 * requests in flight whenever it says -EBUSY), or another -errno to
	 * fail the request. */
	int (*submit)(struct blkdev *bd, struct blk_req *req);
};

#define BLKDEV_F_RO (1u << 0)		/* writes are refused (-EROFS) */
#define BLKDEV_F_FLUSH (1u << 1)	/* FLUSH reaches the device (else writes are
					 * taken to be durable on completion and
					 * FLUSH completes at once) */

/* Counters for reports and tests, updated under bd->lock. */
struct blkdev_stats {
	u64 reads, writes, flushes;	/* requests the driver accepted */
	u64 sectors_read, sectors_written;
	u64 errors;			/* completed with status != 0 */
	u64 splits;			/* submitted requests the layer split */
	u64 busy;			/* -EBUSY from ops->submit */
	u32 inflight;			/* held by the driver now */
	u32 max_inflight;		/* high-water mark of inflight */
};

struct blkdev {
	/* Set by the driver before blkdev_init/blkdev_register, then read-only. */
	char name[BLKDEV_NAME_LEN];	/* "vda" */
	const char *model;		/* "virtio-blk" */
	u64 capacity;			/* in 512-byte sectors */
	u32 block_size;			/* logical block size in bytes: a power of two, 512..PAGE_SIZE */
	unsigned flags;			/* BLKDEV_F_* */
	u32 max_sectors;		/* per device request; 0: no limit */
	u32 max_segments;		/* data segments per device request; 0: no limit */
	u32 max_segment_size;		/* bytes per segment; 0: no limit */
	const struct blkdev_ops *ops;
	void *priv;			/* the driver's */
	/* Set by blkdev_init, then read-only. */
	u32 io_sectors;			/* largest piece the layer hands to ops->submit */
	int index;			/* in the registry; -1 if not registered */
	/* Who uses the contents (e.g. "LegoFS"), NULL if nobody: set once by
	 * blkdev_claim (atomically), never cleared. Destructive tests skip a
	 * claimed device. */
	const char *holder;
	/* lock (irqsave) protects pending, stats and every ops->submit call. */
	spinlock_t lock;
	struct list_head pending;	/* accepted, waiting for room in the device */
	struct blkdev_stats stats;
	/* Sleepers of the synchronous helpers (its own lock). */
	struct wait_queue sync_wq;
};

/* Prepare the layer's part of bd (limits checked, io_sectors computed,
 * lock, queue). Drivers call it before the device can complete anything
 * (e.g. before an interrupt handler may call blkdev_end_request); an
 * unregistered device initialised this way is fully usable (tests). */
int blkdev_init(struct blkdev *bd);
/* Add an initialised device to the registry (blkdev_init is called if it
 * was not). -ENOSPC beyond BLKDEV_MAX, -EEXIST for a duplicate name. */
int blkdev_register(struct blkdev *bd);
struct blkdev *blkdev_get(int index);	/* NULL past the end */
int blkdev_count(void);
struct blkdev *blkdev_find(const char *name);	/* NULL if none */

int blkdev_submit(struct blkdev *bd, struct blk_req *req);
/* Drivers: req finished with status (0 or -errno). Any context but with no
 * driver lock held that ops->submit takes, since it may start waiting
 * requests; must not be called from ops->submit. */
void blkdev_end_request(struct blk_req *req, int status);

int blkdev_read(struct blkdev *bd, u64 sector, u32 count, void *buf);
int blkdev_write(struct blkdev *bd, u64 sector, u32 count, const void *buf);
int blkdev_flush(struct blkdev *bd);

static inline u64 blkdev_bytes(const struct blkdev *bd)
{
	return bd->capacity << BLKDEV_SECTOR_SHIFT;
}

/* Mark bd's contents as in use by holder: 0, or -EBUSY if it was already
 * claimed. */
static inline int blkdev_claim(struct blkdev *bd, const char *holder)
{
	return __atomic_compare_exchange_n(&bd->holder, &(const char *){ NULL }, holder, false,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ? 0 : -EBUSY;
}

static inline bool blkdev_read_only(const struct blkdev *bd)
{
	return bd->flags & BLKDEV_F_RO;
}

#endif
