/* Self-tests of the block layer (blkdev-layer) and of every registered
 * block device (blkdev), run with lego.test=selftest.
 *
 * blkdev-layer drives the layer against a small memory-backed device that
 * is never registered: 1 KiB blocks, at most 3 segments of 1 KiB per
 * request (so 6 sectors), 4 requests in flight at most, completed by a
 * workqueue in any order. It checks splitting against those limits, the
 * queue of requests the device has no room for, error propagation out of
 * a split request, the request checks (-EINVAL, -EFAULT, -EROFS) and
 * flush with and without device support.
 *
 * blkdev tests each registered device. THIS WRITES ANYWHERE ON THE DEVICE,
 * without asking: lego.test=selftest is only used by tests, on scratch
 * disks. A read-only device is only read, and its writes must fail with
 * -EROFS. On a writable device it writes, flushes, reads back and compares
 * these ranges (sectors of 512 bytes; S is the layer's largest piece,
 * bd->io_sectors, and B the sectors per logical block):
 *
 *   0 +B                  first block
 *   1000 +B               a documented marker
 *   2048 +128             one 64 KiB (multi-page) request
 *   4096 +512             64 asynchronous 4 KiB requests submitted at once
 *   8192 +(2S+B)          one request the layer splits into 3 pieces
 *   capacity-B +B         last block
 *
 * Every sector written holds, in its final state, the text
 * "LEGO-BLK-SELFTEST <sector>\n" (sector in decimal) followed by bytes
 * (sector * 131 + i * 7) & 0xff for byte offsets i up to 511, so that
 * tests/rack/55-blk.sh can check the image file from the host. Each range
 * is first written with a different ("scratch") pattern and read back, so
 * stale data from an earlier run cannot pass for a working write. */
#include <lego/selftest.h>
#include <lego/blkdev.h>
#include <lego/workqueue.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/time.h>
#include <asm/cpu.h>

#define FAIL(...)                                                                \
	do {                                                                     \
		snprintf(why, len, __VA_ARGS__);                                 \
		r = -1;                                                          \
		goto out;                                                        \
	} while (0)

#define ST_FINAL 0	/* the documented pattern */
#define ST_SCRATCH 0x5a	/* the first pass */

/* Fill count sectors starting at sector with the pattern for salt. */
static void st_fill(u8 *buf, u64 sector, u32 count, u8 salt)
{
	for (u32 k = 0; k < count; k++, sector++, buf += BLKDEV_SECTOR_SIZE) {
		char hdr[48];
		int n = snprintf(hdr, sizeof(hdr), "%s %lu\n", salt ? "LEGO-BLK-SCRATCH" : "LEGO-BLK-SELFTEST",
				 (unsigned long)sector);
		memcpy(buf, hdr, (size_t)n);
		for (int i = n; i < BLKDEV_SECTOR_SIZE; i++)
			buf[i] = (u8)(sector * 131 + (u64)i * 7 + salt);
	}
}

/* The first sector of the range that does not hold the pattern, or ~0. */
static u64 st_check(const u8 *buf, u64 sector, u32 count, u8 salt)
{
	static u8 want[BLKDEV_SECTOR_SIZE];	/* self-tests run one at a time */
	for (u32 k = 0; k < count; k++, buf += BLKDEV_SECTOR_SIZE) {
		st_fill(want, sector + k, 1, salt);
		if (memcmp(buf, want, BLKDEV_SECTOR_SIZE))
			return sector + k;
	}
	return ~0ull;
}

static unsigned st_order(u64 bytes)
{
	unsigned o = 0;
	while ((PAGE_SIZE << o) < bytes)
		o++;
	return o;
}

/* Asynchronous completions: counted, and the test thread woken. */
static DEFINE_WAIT_QUEUE(st_wq);
static atomic_t st_done;

static void st_async_done(struct blk_req *req)
{
	atomic_inc(&st_done);
	wake_up_all(&st_wq);
}

static bool st_wait_done(int n)
{
	return wait_event_timeout(st_wq, atomic_read(&st_done) >= n, 20 * NSEC_PER_SEC);
}

static u64 st_submitted(struct blkdev *bd)
{
	unsigned long f = spin_lock_irqsave(&bd->lock);
	u64 n = bd->stats.reads + bd->stats.writes + bd->stats.flushes;
	spin_unlock_irqrestore(&bd->lock, f);
	return n;
}

/* Restart the high-water mark of requests in flight. */
static void st_reset_max(struct blkdev *bd)
{
	unsigned long f = spin_lock_irqsave(&bd->lock);
	bd->stats.max_inflight = bd->stats.inflight;
	spin_unlock_irqrestore(&bd->lock, f);
}

/* Requests the layer must refuse without reaching the device; 0 or -1. */
static int st_refusals(struct blkdev *bd, u8 *buf, char *why, size_t len)
{
	u32 spb = bd->block_size / BLKDEV_SECTOR_SIZE;
	u8 on_stack[BLKDEV_SECTOR_SIZE];
	int r = 0, e;
	u64 before = st_submitted(bd);

	if ((e = blkdev_read(bd, bd->capacity, spb, buf)) != -EINVAL)
		FAIL("%s: read at the capacity gave %d, not -EINVAL", bd->name, e);
	if ((e = blkdev_read(bd, bd->capacity - spb, 2 * spb, buf)) != -EINVAL)
		FAIL("%s: read across the end gave %d, not -EINVAL", bd->name, e);
	if ((e = blkdev_read(bd, ~0ull - spb + 1, spb, buf)) != -EINVAL)
		FAIL("%s: read at sector 2^64-%u gave %d, not -EINVAL", bd->name, spb, e);
	if ((e = blkdev_read(bd, 0, 0, buf)) != -EINVAL)
		FAIL("%s: read of 0 sectors gave %d, not -EINVAL", bd->name, e);
	if (spb > 1 && (e = blkdev_read(bd, 1, spb, buf)) != -EINVAL)
		FAIL("%s: read at a misaligned sector gave %d, not -EINVAL", bd->name, e);
	if (spb > 1 && (e = blkdev_read(bd, 0, 1, buf)) != -EINVAL)
		FAIL("%s: read of part of a block gave %d, not -EINVAL", bd->name, e);
	/* Refused before the buffer is touched, so its size does not matter. */
	if ((e = blkdev_read(bd, 0, spb, on_stack)) != -EFAULT)
		FAIL("%s: read into a stack buffer gave %d, not -EFAULT", bd->name, e);
	if ((e = blkdev_read(bd, 0, spb, NULL)) != -EFAULT)
		FAIL("%s: read into NULL gave %d, not -EFAULT", bd->name, e);
	struct blk_req bogus = { .op = (enum blk_op)7, .count = spb, .buf = buf, .done = st_async_done };
	if ((e = blkdev_submit(bd, &bogus)) != -EINVAL)
		FAIL("%s: unknown operation gave %d, not -EINVAL", bd->name, e);
	struct blk_req nodone = { .op = BLK_OP_READ, .count = spb, .buf = buf };
	if ((e = blkdev_submit(bd, &nodone)) != -EINVAL)
		FAIL("%s: request without callback gave %d, not -EINVAL", bd->name, e);
	if (st_submitted(bd) != before)
		FAIL("%s: a refused request reached the device", bd->name);
out:
	return r;
}

/* ---- the layer, against a memory-backed device ---- */

#define RAM_SECTORS 512
#define RAM_BS 1024
#define RAM_SEGS 3
#define RAM_SEG_SIZE 1024
#define RAM_IO (RAM_SEGS * RAM_SEG_SIZE / BLKDEV_SECTOR_SIZE)	/* 6 sectors */
#define RAM_SLOTS 4

struct ramdev;

struct ram_slot {
	struct work work;
	struct ramdev *rd;
	struct blk_req *req;
	bool busy;
};

struct ramdev {
	struct blkdev bd;
	u8 *store;
	struct workqueue *wq;
	/* lock (irqsave) protects slot[].busy and slot[].req. */
	spinlock_t lock;
	struct ram_slot slot[RAM_SLOTS];
	u64 fail_sector;		/* a request covering it fails (-EIO); ~0: none */
	atomic_t violations;		/* requests beyond the stated limits */
	atomic_t flushes;
};

static int ram_submit(struct blkdev *bd, struct blk_req *req)
{
	struct ramdev *rd = bd->priv;
	if (req->op != BLK_OP_FLUSH &&
	    (req->count > RAM_IO || req->sector % (RAM_BS / 512) || req->count % (RAM_BS / 512) ||
	     req->sector + req->count > RAM_SECTORS)) {
		atomic_inc(&rd->violations);
		return -EINVAL;
	}
	struct ram_slot *s = NULL;
	spin_lock(&rd->lock);	/* interrupts are off: bd->lock is held */
	for (int i = 0; i < RAM_SLOTS && !s; i++)
		if (!rd->slot[i].busy)
			s = &rd->slot[i];
	if (s) {
		s->busy = true;
		s->req = req;
	}
	spin_unlock(&rd->lock);
	if (!s)
		return -EBUSY;
	queue_work(rd->wq, &s->work);
	return 0;
}

static const struct blkdev_ops ram_ops = { .submit = ram_submit };

static void ram_work(struct work *w)
{
	struct ram_slot *s = container_of(w, struct ram_slot, work);
	struct ramdev *rd = s->rd;
	struct blk_req *req = s->req;
	int status = 0;
	u8 *p = rd->store + (req->sector << BLKDEV_SECTOR_SHIFT);
	size_t bytes = (size_t)req->count << BLKDEV_SECTOR_SHIFT;

	if (req->op == BLK_OP_READ)
		memcpy(req->buf, p, bytes);
	else if (req->op == BLK_OP_WRITE)
		memcpy(p, req->buf, bytes);
	else
		atomic_inc(&rd->flushes);
	if (req->op != BLK_OP_FLUSH && rd->fail_sector >= req->sector &&
	    rd->fail_sector < req->sector + req->count)
		status = -EIO;
	/* Free the slot before completing: the completion may start a
	 * waiting request, which needs one. */
	unsigned long f = spin_lock_irqsave(&rd->lock);
	s->busy = false;
	s->req = NULL;
	spin_unlock_irqrestore(&rd->lock, f);
	blkdev_end_request(req, status);
}

static int ram_init(struct ramdev *rd, const char *name, unsigned flags)
{
	memset(rd, 0, sizeof(*rd));
	strlcpy(rd->bd.name, name, sizeof(rd->bd.name));
	rd->bd.model = "selftest-ram";
	rd->bd.capacity = RAM_SECTORS;
	rd->bd.block_size = RAM_BS;
	rd->bd.flags = flags;
	rd->bd.max_sectors = 64;
	rd->bd.max_segments = RAM_SEGS;
	rd->bd.max_segment_size = RAM_SEG_SIZE;
	rd->bd.ops = &ram_ops;
	rd->bd.priv = rd;
	spin_lock_init(&rd->lock);
	rd->fail_sector = ~0ull;
	for (int i = 0; i < RAM_SLOTS; i++) {
		work_init(&rd->slot[i].work, ram_work);
		rd->slot[i].rd = rd;
	}
	if (!(rd->store = alloc_pages(st_order(RAM_SECTORS * BLKDEV_SECTOR_SIZE))))
		return -ENOMEM;
	memset(rd->store, 0, RAM_SECTORS * BLKDEV_SECTOR_SIZE);
	/* Two workers: completions arrive out of order. */
	if (!(rd->wq = workqueue_create("st-blk", 2, THREAD_CPU_ANY)))
		return -ENOMEM;
	return blkdev_init(&rd->bd);
}

static void ram_fini(struct ramdev *rd)
{
	if (rd->wq)
		workqueue_destroy(rd->wq);
	if (rd->store)
		free_pages(rd->store, st_order(RAM_SECTORS * BLKDEV_SECTOR_SIZE));
}

static int test_blkdev_layer(char *why, size_t len)
{
	static struct ramdev rd, ro;
	static struct blk_req reqs[32];
	u8 *buf = NULL, *buf2 = NULL;
	const unsigned order = st_order(RAM_SECTORS * BLKDEV_SECTOR_SIZE);
	int r = 0, e;
	u64 bad;

	if ((e = ram_init(&rd, "st-ram", BLKDEV_F_FLUSH)) || (e = ram_init(&ro, "st-ram-ro", BLKDEV_F_RO)))
		FAIL("memory device set-up failed (error %d)", e);
	if (rd.bd.io_sectors != RAM_IO)
		FAIL("io_sectors %u with 3 segments of 1 KiB, want %u", rd.bd.io_sectors, RAM_IO);
	buf = alloc_pages(order);
	buf2 = alloc_pages(order);
	if (!buf || !buf2)
		FAIL("no memory");

	/* A request of 7 pieces (6 x 6 + 4 sectors), 4 at most in the device. */
	st_fill(buf, 10, 40, ST_FINAL);
	if ((e = blkdev_write(&rd.bd, 10, 40, buf)))
		FAIL("40-sector write failed (error %d)", e);
	if ((bad = st_check(rd.store + 10 * 512, 10, 40, ST_FINAL)) != ~0ull)
		FAIL("split write: sector %lu wrong in the store", (unsigned long)bad);
	if (rd.bd.stats.splits != 1 || rd.bd.stats.writes != 7)
		FAIL("split write: %lu splits, %lu device writes; want 1 and 7",
		     (unsigned long)rd.bd.stats.splits, (unsigned long)rd.bd.stats.writes);
	/* The first 4 pieces go in under one hold of bd->lock; later the
	 * count may briefly pass 4, since a slot is free again before its
	 * request's completion is accounted. */
	if (rd.bd.stats.max_inflight < RAM_SLOTS || !rd.bd.stats.busy)
		FAIL("split write: %u in flight at most, %lu busy refusals; want >= %u and > 0",
		     rd.bd.stats.max_inflight, (unsigned long)rd.bd.stats.busy, RAM_SLOTS);
	memset(buf2, 0, 40 * 512);
	if ((e = blkdev_read(&rd.bd, 10, 40, buf2)))
		FAIL("40-sector read failed (error %d)", e);
	if ((bad = st_check(buf2, 10, 40, ST_FINAL)) != ~0ull)
		FAIL("split read: sector %lu wrong", (unsigned long)bad);
	/* The whole device in one request, up to the last sector. */
	st_fill(buf, 0, RAM_SECTORS, ST_SCRATCH);
	if ((e = blkdev_write(&rd.bd, 0, RAM_SECTORS, buf)) || (e = blkdev_read(&rd.bd, 0, RAM_SECTORS, buf2)))
		FAIL("whole-device request failed (error %d)", e);
	if ((bad = st_check(buf2, 0, RAM_SECTORS, ST_SCRATCH)) != ~0ull)
		FAIL("whole-device read: sector %lu wrong", (unsigned long)bad);

	/* A failing piece fails the request; the others still complete. */
	rd.fail_sector = 30;
	e = blkdev_write(&rd.bd, 10, 40, buf);
	rd.fail_sector = ~0ull;
	if (e != -EIO)
		FAIL("write with a failing piece gave %d, not -EIO", e);
	if (rd.bd.stats.inflight)
		FAIL("%u requests left in flight after a failed split", rd.bd.stats.inflight);

	if (st_refusals(&rd.bd, buf, why, len))
		goto fail;
	if (atomic_read(&rd.violations))
		FAIL("the layer sent %d requests beyond the device's limits", atomic_read(&rd.violations));

	/* 32 asynchronous requests at once, 4 at a time in the device. */
	atomic_set(&st_done, 0);
	st_fill(buf, 0, 64, ST_FINAL);
	for (int i = 0; i < 32; i++) {
		reqs[i] = (struct blk_req){ .op = BLK_OP_WRITE, .sector = 2 * i, .count = 2,
					    .buf = buf + i * 1024, .done = st_async_done };
		if ((e = blkdev_submit(&rd.bd, &reqs[i])))
			FAIL("asynchronous write %d refused (error %d)", i, e);
	}
	if (!st_wait_done(32))
		FAIL("%d of 32 asynchronous writes completed in 20 s", atomic_read(&st_done));
	for (int i = 0; i < 32; i++)
		if (reqs[i].status)
			FAIL("asynchronous write %d failed (error %d)", i, reqs[i].status);
	if ((bad = st_check(rd.store, 0, 64, ST_FINAL)) != ~0ull)
		FAIL("asynchronous writes: sector %lu wrong in the store", (unsigned long)bad);

	/* Flush reaches a device that has a cache, not one that has none. */
	if ((e = blkdev_flush(&rd.bd)) || atomic_read(&rd.flushes) != 1)
		FAIL("flush: error %d, %d device flushes (want 0, 1)", e, atomic_read(&rd.flushes));
	u64 before = st_submitted(&ro.bd);
	if ((e = blkdev_flush(&ro.bd)) || st_submitted(&ro.bd) != before)
		FAIL("flush without a device cache: error %d or reached the device", e);

	/* Read-only: writes refused before reaching the device, reads fine. */
	if ((e = blkdev_write(&ro.bd, 0, 2, buf)) != -EROFS)
		FAIL("write to a read-only device gave %d, not -EROFS", e);
	reqs[0] = (struct blk_req){ .op = BLK_OP_WRITE, .sector = 0, .count = 2, .buf = buf,
				    .done = st_async_done };
	if ((e = blkdev_submit(&ro.bd, &reqs[0])) != -EROFS)
		FAIL("asynchronous write to a read-only device gave %d, not -EROFS", e);
	if ((e = blkdev_read(&ro.bd, 0, 8, buf2)))
		FAIL("read from a read-only device failed (error %d)", e);
	if (st_submitted(&ro.bd) != before + 2)	/* 8 sectors: 2 pieces */
		FAIL("read-only device: %lu requests reached it, want 2",
		     (unsigned long)(st_submitted(&ro.bd) - before));
	if (blkdev_find("st-ram"))
		FAIL("an unregistered device is in the registry");
	goto out;
fail:
	r = -1;
out:
	ram_fini(&rd);
	ram_fini(&ro);
	if (buf)
		free_pages(buf, order);
	if (buf2)
		free_pages(buf2, order);
	return r;
}
SELFTEST("blkdev-layer", test_blkdev_layer);

/* ---- registered devices ---- */

#define ST_MARK1 1000
#define ST_MULTI 2048
#define ST_MULTI_N 128
#define ST_ASYNC 4096
#define ST_ASYNC_REQS 64
#define ST_ASYNC_EACH 8		/* sectors per request (4 KiB) */
#define ST_SPLIT 8192
#define ST_SPLIT_MAX_BYTES (4u << 20)

/* One range written twice (scratch, then final) and read back each time. */
static int st_range(struct blkdev *bd, u64 sector, u32 count, u8 *buf, char *why, size_t len)
{
	static const u8 salts[2] = { ST_SCRATCH, ST_FINAL };
	int r = 0, e;
	u64 bad;
	for (int pass = 0; pass < 2; pass++) {
		st_fill(buf, sector, count, salts[pass]);
		if ((e = blkdev_write(bd, sector, count, buf)))
			FAIL("%s: write of %u sectors at %lu failed (error %d)", bd->name, count,
			     (unsigned long)sector, e);
		memset(buf, 0, (size_t)count << BLKDEV_SECTOR_SHIFT);
		if ((e = blkdev_read(bd, sector, count, buf)))
			FAIL("%s: read of %u sectors at %lu failed (error %d)", bd->name, count,
			     (unsigned long)sector, e);
		if ((bad = st_check(buf, sector, count, salts[pass])) != ~0ull)
			FAIL("%s: sector %lu read back wrong (range %lu+%u, pass %d)", bd->name,
			     (unsigned long)bad, (unsigned long)sector, count, pass + 1);
	}
out:
	return r;
}

/* ST_ASYNC_REQS requests of op over the asynchronous range, submitted at
 * once; returns 0 or -1. They are submitted with interrupts off: device
 * interrupts go to the boot CPU, where the self-tests run, so no
 * completion is handled before all are in and the device has as many in
 * flight as its ring takes, however fast it is (under TCG a request can
 * complete before the next doorbell write is done). */
static int st_burst(struct blkdev *bd, enum blk_op op, u8 *buf, char *why, size_t len)
{
	static struct blk_req reqs[ST_ASYNC_REQS];
	int r = 0, e;

	atomic_set(&st_done, 0);
	unsigned long f = local_irq_save();
	for (int i = 0; i < ST_ASYNC_REQS; i++) {
		reqs[i] = (struct blk_req){ .op = op, .sector = ST_ASYNC + (u64)i * ST_ASYNC_EACH,
					    .count = ST_ASYNC_EACH,
					    .buf = buf + (size_t)i * ST_ASYNC_EACH * BLKDEV_SECTOR_SIZE,
					    .done = st_async_done };
		if ((e = blkdev_submit(bd, &reqs[i]))) {
			local_irq_restore(f);
			/* Those already submitted still complete into buf. */
			st_wait_done(i);
			FAIL("%s: asynchronous request %d refused (error %d)", bd->name, i, e);
		}
	}
	local_irq_restore(f);
	if (!st_wait_done(ST_ASYNC_REQS))
		/* buf stays in use by the device: the caller must leak it. */
		FAIL("%s: %d of %d asynchronous requests completed in 20 s", bd->name,
		     atomic_read(&st_done), ST_ASYNC_REQS);
	for (int i = 0; i < ST_ASYNC_REQS; i++)
		if (reqs[i].status)
			FAIL("%s: asynchronous request %d failed (error %d)", bd->name, i, reqs[i].status);
out:
	return r;
}

static int st_device(struct blkdev *bd, char *why, size_t len)
{
	const u32 spb = bd->block_size / BLKDEV_SECTOR_SIZE;
	const u64 last = bd->capacity - spb;
	u32 split_n = 2 * bd->io_sectors + spb;
	bool do_split = ((u64)split_n << BLKDEV_SECTOR_SHIFT) <= ST_SPLIT_MAX_BYTES;
	const u64 need = ST_SPLIT + (do_split ? split_n : 0) + spb;
	const unsigned o_blk = st_order(bd->block_size), o_multi = st_order(ST_MULTI_N * 512),
		       o_async = st_order(ST_ASYNC_REQS * ST_ASYNC_EACH * 512),
		       o_split = st_order((u64)split_n << BLKDEV_SECTOR_SHIFT);
	u8 *blk = NULL, *multi = NULL, *async = NULL, *split = NULL;
	bool leak_async = false;
	int r = 0, e;
	u64 bad;

	if (blkdev_find(bd->name) != bd || blkdev_get(bd->index) != bd)
		FAIL("%s: not found in the registry", bd->name);
	if (!(blk = alloc_pages(o_blk)))
		FAIL("no memory");
	if (st_refusals(bd, blk, why, len))
		goto fail;
	if (bd->capacity < 2 * spb) {
		printk(KERN_INFO "blkdev-selftest: %s: %lu sectors, too small to test\n", bd->name,
		       (unsigned long)bd->capacity);
		goto out;
	}

	if (blkdev_read_only(bd)) {
		if ((e = blkdev_write(bd, 0, spb, blk)) != -EROFS)
			FAIL("%s: write to the read-only device gave %d, not -EROFS", bd->name, e);
		struct blk_req w = { .op = BLK_OP_WRITE, .count = spb, .buf = blk, .done = st_async_done };
		if ((e = blkdev_submit(bd, &w)) != -EROFS)
			FAIL("%s: asynchronous write to the read-only device gave %d, not -EROFS", bd->name, e);
		if ((e = blkdev_read(bd, 0, spb, blk)) || (e = blkdev_read(bd, last, spb, blk)))
			FAIL("%s: read from the read-only device failed (error %d)", bd->name, e);
		printk(KERN_INFO "blkdev-selftest: %s: read-only: write -> -EROFS, reads ok\n", bd->name);
		goto out;
	}
	if (bd->capacity < need || last < need) {
		printk(KERN_INFO "blkdev-selftest: %s: %lu sectors, too small for the test (need %lu)\n",
		       bd->name, (unsigned long)bd->capacity, (unsigned long)need);
		goto out;
	}
	if (!(multi = alloc_pages(o_multi)) || !(async = alloc_pages(o_async)) ||
	    (do_split && !(split = alloc_pages(o_split))))
		FAIL("no memory");

	if (st_range(bd, 0, spb, blk, why, len) || st_range(bd, ST_MARK1, spb, blk, why, len) ||
	    st_range(bd, last, spb, blk, why, len) || st_range(bd, ST_MULTI, ST_MULTI_N, multi, why, len))
		goto fail;
	u64 splits = bd->stats.splits;
	if (do_split) {
		if (st_range(bd, ST_SPLIT, split_n, split, why, len))
			goto fail;
		if (bd->stats.splits != splits + 4)	/* 2 passes x (write + read) */
			FAIL("%s: %u-sector requests were not split (io_sectors %u)", bd->name, split_n,
			     bd->io_sectors);
	}

	/* The asynchronous range: scratch pattern in one request, then the
	 * final one by many requests in flight at once. */
	const u32 async_n = ST_ASYNC_REQS * ST_ASYNC_EACH;
	st_fill(async, ST_ASYNC, async_n, ST_SCRATCH);
	if ((e = blkdev_write(bd, ST_ASYNC, async_n, async)))
		FAIL("%s: write of %u sectors at %u failed (error %d)", bd->name, async_n, ST_ASYNC, e);
	st_fill(async, ST_ASYNC, async_n, ST_FINAL);
	st_reset_max(bd);
	u64 busy = bd->stats.busy;
	if (st_burst(bd, BLK_OP_WRITE, async, why, len)) {
		leak_async = true;
		goto fail;
	}
	u32 max_w = bd->stats.max_inflight;
	if ((e = blkdev_flush(bd)))
		FAIL("%s: flush failed (error %d)", bd->name, e);
	memset(async, 0, (size_t)async_n << BLKDEV_SECTOR_SHIFT);
	st_reset_max(bd);
	if (st_burst(bd, BLK_OP_READ, async, why, len)) {
		leak_async = true;
		goto fail;
	}
	u32 max_r = bd->stats.max_inflight;
	if ((bad = st_check(async, ST_ASYNC, async_n, ST_FINAL)) != ~0ull)
		FAIL("%s: sector %lu read back wrong after the asynchronous writes", bd->name, (unsigned long)bad);
	if (max_w < 2 || max_r < 2)
		FAIL("%s: at most %u writes and %u reads were in flight at once", bd->name, max_w, max_r);

	/* The rest once more, after the flush, as a last look. */
	memset(blk, 0, bd->block_size);
	if ((e = blkdev_read(bd, 0, spb, blk)) || (bad = st_check(blk, 0, spb, ST_FINAL)) != ~0ull)
		FAIL("%s: first block wrong at the end (error %d)", bd->name, e);
	if ((e = blkdev_read(bd, last, spb, blk)) || (bad = st_check(blk, last, spb, ST_FINAL)) != ~0ull)
		FAIL("%s: last block wrong at the end (error %d)", bd->name, e);
	/* Static data (the kernel image) is a valid buffer too. */
	static u8 st_static[PAGE_SIZE];
	if (bd->block_size <= sizeof(st_static)) {
		memset(st_static, 0, sizeof(st_static));
		if ((e = blkdev_read(bd, ST_MARK1, spb, st_static)) ||
		    (bad = st_check(st_static, ST_MARK1, spb, ST_FINAL)) != ~0ull)
			FAIL("%s: read into static data wrong (error %d)", bd->name, e);
	}

	printk(KERN_INFO "blkdev-selftest: %s: wrote, flushed and read back sectors 0+%u, %u+%u, %u+%u, "
	       "%u+%u (%d asynchronous requests, at most %u writes and %u reads in flight, %lu busy), "
	       "%u+%u (split in %u), %lu+%u\n",
	       bd->name, spb, ST_MARK1, spb, ST_MULTI, ST_MULTI_N, ST_ASYNC, async_n, ST_ASYNC_REQS, max_w,
	       max_r, (unsigned long)(bd->stats.busy - busy), ST_SPLIT, do_split ? split_n : 0,
	       do_split ? DIV_ROUND_UP(split_n, bd->io_sectors) : 0, (unsigned long)last, spb);
	goto out;
fail:
	r = -1;
out:
	if (blk)
		free_pages(blk, o_blk);
	if (multi)
		free_pages(multi, o_multi);
	if (async && !leak_async)
		free_pages(async, o_async);
	if (split)
		free_pages(split, o_split);
	return r;
}

static int test_blkdev(char *why, size_t len)
{
	int n = blkdev_count();
	if (!n) {
		snprintf(why, len, "no block device");
		return SELFTEST_SKIP;
	}
	int tested = 0;
	for (int i = 0; i < n; i++) {
		struct blkdev *bd = blkdev_get(i);
		/* The test writes all over the device: never on live data. */
		if (bd->holder) {
			printk(KERN_INFO "selftest: blkdev: %s skipped: it holds a mounted %s\n",
			       bd->name, bd->holder);
			continue;
		}
		if (st_device(bd, why, len))
			return -1;
		tested++;
	}
	if (!tested) {
		snprintf(why, len, "every block device holds live data");
		return SELFTEST_SKIP;
	}
	if (blkdev_get(n) || blkdev_get(-1) || blkdev_find("no-such-disk")) {
		snprintf(why, len, "the registry returns a device that does not exist");
		return -1;
	}
	return 0;
}
SELFTEST("blkdev", test_blkdev);
