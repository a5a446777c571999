/* Block-device layer: registry, request checks, splitting, the wait queue
 * of requests the device has no room for, and synchronous helpers. The
 * contract is in include/lego/blkdev.h.
 *
 * Flow of a request: blkdev_submit checks it, splits it if it is larger
 * than bd->io_sectors, and appends it (or its pieces) to bd->pending; then,
 * still under bd->lock, the queue is run: pending requests go to
 * ops->submit in order until the device says -EBUSY. Each completion
 * (blkdev_end_request, from the driver's interrupt handler) runs the queue
 * again before calling the request's callback, so the device is refilled
 * as soon as it has room. Because ops->submit is only ever called under
 * bd->lock and completions take bd->lock before running the queue, a
 * request left pending after -EBUSY cannot be forgotten: the completion
 * that frees room in the device cannot be between the -EBUSY and the
 * request's return to the queue. */
#include <lego/blkdev.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/string.h>

/* The kernel image is physically contiguous (loaded at KERNEL_PHYS_LOAD). */
extern char _kernel_end[];

/* The registry: entries are added under blkdev_lock and never removed;
 * readers use nr_blkdevs (published after the slot) without the lock. */
static struct blkdev *blkdevs[BLKDEV_MAX];
static int nr_blkdevs;
static DEFINE_SPINLOCK(blkdev_lock);

/* Pieces of a split request, freed by the last piece to complete. No
 * lock: remaining and error are updated atomically by the completions,
 * the rest is written before the pieces are queued. */
struct blk_split {
	struct blk_req *parent;
	atomic_t remaining;
	int error;		/* first error of a piece (atomic compare-and-swap) */
	u32 n;
	struct blk_req piece[];
};

static u32 blkdev_spb(const struct blkdev *bd)
{
	return bd->block_size >> BLKDEV_SECTOR_SHIFT;	/* sectors per block */
}

int blkdev_init(struct blkdev *bd)
{
	u32 bs = bd->block_size ? bd->block_size : BLKDEV_SECTOR_SIZE;
	if (!bd->ops || !bd->ops->submit || bs < BLKDEV_SECTOR_SIZE || bs > 65536 || (bs & (bs - 1)))
		return -EINVAL;
	bd->block_size = bs;
	u32 spb = blkdev_spb(bd);

	/* A contiguous buffer needs one segment per max_segment_size bytes, so
	 * a piece may hold max_segments of them. Without limits, pieces are
	 * capped anyway so that a huge request cannot monopolise the device
	 * and descriptor lengths (32 bits) cannot overflow. */
	u64 lim = 1u << 22;	/* 2 GiB */
	if (bd->max_sectors)
		lim = MIN(lim, (u64)bd->max_sectors);
	if (bd->max_segments && bd->max_segment_size)
		lim = MIN(lim, ((u64)bd->max_segments * bd->max_segment_size) >> BLKDEV_SECTOR_SHIFT);
	lim = ALIGN_DOWN(lim, (u64)spb);
	if (!lim)
		return -EINVAL;	/* cannot take even one block in a request */
	bd->io_sectors = (u32)lim;
	if (bd->capacity % spb)
		bd->capacity -= bd->capacity % spb;	/* a partial last block is unusable */

	spin_lock_init(&bd->lock);
	INIT_LIST_HEAD(&bd->pending);
	memset(&bd->stats, 0, sizeof(bd->stats));
	wait_queue_init(&bd->sync_wq);
	bd->index = -1;
	return 0;
}

int blkdev_register(struct blkdev *bd)
{
	int r;
	if (!bd->io_sectors && (r = blkdev_init(bd)))
		return r;
	unsigned long f = spin_lock_irqsave(&blkdev_lock);
	r = 0;
	if (nr_blkdevs == BLKDEV_MAX) {
		r = -ENOSPC;
	} else {
		for (int i = 0; i < nr_blkdevs; i++)
			if (!strcmp(blkdevs[i]->name, bd->name))
				r = -EEXIST;
	}
	if (!r) {
		bd->index = nr_blkdevs;
		blkdevs[nr_blkdevs] = bd;
		barrier();	/* the slot before the count that publishes it */
		WRITE_ONCE(nr_blkdevs, nr_blkdevs + 1);
	}
	spin_unlock_irqrestore(&blkdev_lock, f);
	if (r)
		pr_warn("blkdev: %s not registered (error %d)\n", bd->name, r);
	return r;
}

struct blkdev *blkdev_get(int index)
{
	if (index < 0 || index >= READ_ONCE(nr_blkdevs))
		return NULL;
	return blkdevs[index];
}

int blkdev_count(void)
{
	return READ_ONCE(nr_blkdevs);
}

struct blkdev *blkdev_find(const char *name)
{
	int n = blkdev_count();
	for (int i = 0; i < n; i++)
		if (!strcmp(blkdevs[i]->name, name))
			return blkdevs[i];
	return NULL;
}

/* ---- requests ---- */

/* The device will DMA at __pa(buf): only the direct map and the kernel
 * image translate that way, and both are physically contiguous. */
static bool blkdev_buf_ok(const void *buf, u64 len)
{
	unsigned long va = (unsigned long)buf;
	if (va >= KERNEL_VMA)
		return len <= (unsigned long)_kernel_end - va && va < (unsigned long)_kernel_end;
	return va >= PAGE_OFFSET && va < STACK_AREA_BASE && len <= STACK_AREA_BASE - va;
}

static int blkdev_check(const struct blkdev *bd, const struct blk_req *req)
{
	if (!req->done)
		return -EINVAL;
	switch (req->op) {
	case BLK_OP_FLUSH:
		return 0;
	case BLK_OP_WRITE:
		if (bd->flags & BLKDEV_F_RO)
			return -EROFS;
		break;
	case BLK_OP_READ:
		break;
	default:
		return -EINVAL;
	}
	u32 spb = blkdev_spb(bd);
	if (!req->count || req->sector >= bd->capacity || req->count > bd->capacity - req->sector)
		return -EINVAL;
	if (req->sector % spb || req->count % spb)
		return -EINVAL;
	if (!blkdev_buf_ok(req->buf, (u64)req->count << BLKDEV_SECTOR_SHIFT))
		return -EFAULT;
	return 0;
}

/* Hand pending requests to the driver until it is full. bd->lock held.
 * Requests the driver refuses outright go to *failed, to be completed by
 * the caller once the lock is dropped. */
static void blkdev_run_queue(struct blkdev *bd, struct list_head *failed)
{
	while (!list_empty(&bd->pending)) {
		struct blk_req *r = list_first_entry(&bd->pending, struct blk_req, node);
		/* Off the list first: once the driver has it, node is the
		 * driver's and the request may complete on another CPU. */
		list_del_init(&r->node);
		enum blk_op op = r->op;
		u32 count = r->count;
		int e = bd->ops->submit(bd, r);
		if (e == -EBUSY) {
			list_add(&r->node, &bd->pending);	/* keep its place */
			bd->stats.busy++;
			break;
		}
		if (e) {
			r->status = e;
			bd->stats.errors++;
			list_add_tail(&r->node, failed);
			continue;
		}
		/* The request may already be complete, but its completion
		 * waits for bd->lock to account for it: no underflow. */
		if (++bd->stats.inflight > bd->stats.max_inflight)
			bd->stats.max_inflight = bd->stats.inflight;
		if (op == BLK_OP_READ) {
			bd->stats.reads++;
			bd->stats.sectors_read += count;
		} else if (op == BLK_OP_WRITE) {
			bd->stats.writes++;
			bd->stats.sectors_written += count;
		} else {
			bd->stats.flushes++;
		}
	}
}

static void blkdev_complete_failed(struct list_head *failed)
{
	struct blk_req *r, *tmp;
	/* _safe: a callback may free its request (and, for the last piece of
	 * a split, the pieces still on this list are not among those freed:
	 * it is the last only once every other piece has completed). */
	list_for_each_entry_safe(r, tmp, failed, node)
		r->done(r);
}

/* Queue reqs (already checked, linked through node on list) and start what fits. */
static void blkdev_enqueue(struct blkdev *bd, struct list_head *list, bool split)
{
	LIST_HEAD(failed);
	unsigned long f = spin_lock_irqsave(&bd->lock);
	if (split)
		bd->stats.splits++;
	while (!list_empty(list))
		list_move_tail(list->next, &bd->pending);
	blkdev_run_queue(bd, &failed);
	spin_unlock_irqrestore(&bd->lock, f);
	blkdev_complete_failed(&failed);
}

static void blkdev_piece_done(struct blk_req *p)
{
	struct blk_split *s = p->private;
	if (p->status) {
		int none = 0;
		__atomic_compare_exchange_n(&s->error, &none, p->status, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
	}
	if (atomic_dec_return(&s->remaining))
		return;
	struct blk_req *parent = s->parent;
	parent->status = __atomic_load_n(&s->error, __ATOMIC_SEQ_CST);
	kfree(s);
	parent->done(parent);
}

static int blkdev_split(struct blkdev *bd, struct blk_req *req)
{
	u32 io = bd->io_sectors;
	u32 n = DIV_ROUND_UP(req->count, io);
	struct blk_split *s = kmalloc(sizeof(*s) + (size_t)n * sizeof(struct blk_req));
	if (!s)
		return -ENOMEM;
	s->parent = req;
	atomic_set(&s->remaining, (int)n);
	s->error = 0;
	s->n = n;
	LIST_HEAD(list);
	for (u32 i = 0; i < n; i++) {
		struct blk_req *p = &s->piece[i];
		u64 off = (u64)i * io;
		memset(p, 0, sizeof(*p));
		p->op = req->op;
		p->sector = req->sector + off;
		p->count = MIN(io, req->count - (u32)off);
		p->buf = (u8 *)req->buf + (off << BLKDEV_SECTOR_SHIFT);
		p->done = blkdev_piece_done;
		p->private = s;
		p->bd = bd;
		list_add_tail(&p->node, &list);
	}
	/* s may be freed by the last piece's completion as soon as the lock
	 * is dropped: not touched after this call. */
	blkdev_enqueue(bd, &list, true);
	return 0;
}

int blkdev_submit(struct blkdev *bd, struct blk_req *req)
{
	if (!bd || !req)
		return -EINVAL;
	if (!bd->io_sectors)
		return -ENODEV;	/* never initialised */
	int r = blkdev_check(bd, req);
	if (r)
		return r;
	req->bd = bd;
	req->status = 0;
	req->drv = NULL;
	if (req->op == BLK_OP_FLUSH && !(bd->flags & BLKDEV_F_FLUSH)) {
		/* Without a volatile cache there is nothing to flush. */
		req->done(req);
		return 0;
	}
	if (req->op != BLK_OP_FLUSH && req->count > bd->io_sectors)
		return blkdev_split(bd, req);
	LIST_HEAD(list);
	list_add_tail(&req->node, &list);
	blkdev_enqueue(bd, &list, false);
	return 0;
}

void blkdev_end_request(struct blk_req *req, int status)
{
	struct blkdev *bd = req->bd;
	LIST_HEAD(failed);

	req->status = status;
	/* Refill the device first, then tell the submitter (which may free
	 * req, or sleep no more and let it go out of scope). */
	unsigned long f = spin_lock_irqsave(&bd->lock);
	bd->stats.inflight--;
	if (status)
		bd->stats.errors++;
	blkdev_run_queue(bd, &failed);
	spin_unlock_irqrestore(&bd->lock, f);
	req->done(req);
	blkdev_complete_failed(&failed);
}

/* ---- synchronous helpers ---- */

/* The waiter's flag lives on its stack: once it is set the waiter may
 * return, so neither req nor the flag is touched afterwards. The wake-up
 * goes through the device's wait queue, which outlives every request
 * (a completion on the waiter's stack would be touched after the store
 * that lets the waiter go). */
static void blkdev_sync_done(struct blk_req *req)
{
	struct blkdev *bd = req->bd;
	bool *flag = req->private;
	__atomic_store_n(flag, true, __ATOMIC_RELEASE);
	wake_up_all(&bd->sync_wq);
}

static int blkdev_sync(struct blkdev *bd, enum blk_op op, u64 sector, u32 count, void *buf)
{
	bool flag = false;
	struct blk_req req = {
		.op = op, .sector = sector, .count = count, .buf = buf,
		.done = blkdev_sync_done, .private = &flag,
	};
	int r = blkdev_submit(bd, &req);
	if (r)
		return r;
	wait_event(bd->sync_wq, __atomic_load_n(&flag, __ATOMIC_ACQUIRE));
	return req.status;
}

int blkdev_read(struct blkdev *bd, u64 sector, u32 count, void *buf)
{
	return blkdev_sync(bd, BLK_OP_READ, sector, count, buf);
}

int blkdev_write(struct blkdev *bd, u64 sector, u32 count, const void *buf)
{
	return blkdev_sync(bd, BLK_OP_WRITE, sector, count, (void *)buf);
}

int blkdev_flush(struct blkdev *bd)
{
	return blkdev_sync(bd, BLK_OP_FLUSH, 0, 0, NULL);
}
