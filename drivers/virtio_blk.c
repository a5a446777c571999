/* virtio-blk over the modern virtio PCI transport (1af4:1042, and the
 * transitional 1af4:1001 driven through its modern interface; QEMU's
 * -device virtio-blk-pci is transitional on q35's root bus by default and
 * carries the modern capabilities). Virtio 1.0 section 5.2.
 *
 * Features: VIRTIO_BLK_F_SIZE_MAX, SEG_MAX, BLK_SIZE, FLUSH and RO when
 * offered (VERSION_1 is required by the transport); no multiqueue, so the
 * device uses request queue 0 only.
 *
 * Requests. Each request is one descriptor chain: a 16-byte header the
 * device reads (type, reserved, sector), the data as one or more
 * descriptors (device-readable for writes, device-writable for reads; the
 * buffer is physically contiguous, so several descriptors are needed only
 * when size_max is smaller than the request), and a one-byte status the
 * device writes. Header and status live in a per-request slot in memory of
 * our own (the blk_req may be on a thread stack, which has no DMA address).
 * There are as many slots as ring descriptors, so the number in flight is
 * bounded by the ring alone: a request goes in whenever its chain fits,
 * and otherwise the block layer keeps it until a completion frees room.
 *
 * Interrupts: MSI-X table entry 0 serves the request queue. Without MSI-X
 * (-device virtio-blk-pci,vectors=0) the device uses INTx and the ISR
 * register; the line is found by probing, the trigger being a one-block
 * read of sector 0. Completions are handled in the interrupt handler,
 * which calls each request's callback through blkdev_end_request. */
#include <lego/virtio.h>
#include <lego/blkdev.h>
#include <lego/pci.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/time.h>
#include <lego/spinlock.h>

/* Feature bits (spec 5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9

/* Device configuration offsets (struct virtio_blk_config). */
#define VBLK_CFG_CAPACITY 0	/* le64, in 512-byte sectors */
#define VBLK_CFG_SIZE_MAX 8	/* le32 */
#define VBLK_CFG_SEG_MAX 12	/* le32 */
#define VBLK_CFG_BLK_SIZE 20	/* le32 */

/* Request types and status values (spec 5.2.6). */
#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2
#define VBLK_STATUS_NONE 0xff	/* not written by the device */

#define VBLK_REQQ 0
/* Data descriptors per request: bounds the descriptor array on the stack
 * of ops->submit (which may run in an interrupt handler) and leaves room
 * for several requests in the ring. */
#define VBLK_MAX_SEGS 16
/* Bytes per request: a bound on how long one request can hold up the
 * others sharing the queue; larger ones are split by the block layer. */
#define VBLK_MAX_REQ_BYTES (1u << 20)
/* Bytes per data descriptor when the device states no size_max. */
#define VBLK_DEFAULT_SEG (1u << 22)

/* The part of a request the device reads and writes besides the data. */
struct vblk_hdr {
	u32 type;
	u32 reserved;
	u64 sector;
} __attribute__((packed));

struct vblk_slot {
	struct vblk_hdr hdr;	/* device reads */
	u8 status;		/* device writes */
	u8 pad[3];
	u32 next_free;		/* free-slot stack link */
	struct blk_req *req;
};

struct vblk {
	struct blkdev bd;
	struct virtio_dev vd;
	/* lock (irqsave) protects vq, the slots and the free-slot stack. */
	spinlock_t lock;
	struct virtq vq;
	struct vblk_slot *slots;	/* vq.size of them, in DMA-able pages */
	unsigned slots_order;
	u32 free_slot;			/* head of the free stack; vq.size: none */
	/* Limits, set by the probe, then read-only. */
	u32 seg_size;			/* bytes per data descriptor */
	u32 max_segs;
	/* INTx probing: a one-block read whose completion only sets probe_done. */
	struct blk_req probe_req;
	void *probe_buf;
	unsigned probe_order;
	volatile bool probe_done;
	/* Set when a failed probe has freed the queue but the interrupt
	 * handler, which cannot be removed, still points at v. */
	volatile bool dead;
};

static int vblk_count;	/* names vda, vdb, ...: probes run one at a time at boot */

/* Start req, or -EBUSY if its chain does not fit now. Called by the block
 * layer under bd.lock; also by the INTx trigger. Takes v->lock. */
static int vblk_start(struct vblk *v, struct blk_req *req)
{
	struct virtq_buf b[VBLK_MAX_SEGS + 2];
	u32 nseg = 0;
	u64 bytes = 0;

	if (req->op != BLK_OP_FLUSH) {
		bytes = (u64)req->count << BLKDEV_SECTOR_SHIFT;
		nseg = (u32)DIV_ROUND_UP(bytes, v->seg_size);
		if (!nseg || nseg > v->max_segs)
			return -EINVAL;	/* the layer keeps requests within bd limits */
	}

	unsigned long f = spin_lock_irqsave(&v->lock);
	if (v->free_slot >= v->vq.size || v->vq.num_free < nseg + 2) {
		spin_unlock_irqrestore(&v->lock, f);
		return -EBUSY;
	}
	u32 si = v->free_slot;
	struct vblk_slot *s = &v->slots[si];
	v->free_slot = s->next_free;

	s->hdr.type = req->op == BLK_OP_READ ? VIRTIO_BLK_T_IN :
		      req->op == BLK_OP_WRITE ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_FLUSH;
	s->hdr.reserved = 0;
	/* The sector field is unused and must be 0 for a flush (5.2.6.2). */
	s->hdr.sector = req->op == BLK_OP_FLUSH ? 0 : req->sector;
	s->status = VBLK_STATUS_NONE;
	s->req = req;

	int n = 0;
	b[n++] = (struct virtq_buf){ &s->hdr, sizeof(s->hdr), false };
	for (u64 off = 0; off < bytes; off += v->seg_size)
		b[n++] = (struct virtq_buf){ (u8 *)req->buf + off, (u32)MIN((u64)v->seg_size, bytes - off),
					     req->op == BLK_OP_READ };
	b[n++] = (struct virtq_buf){ &s->status, 1, true };
	/* Cannot fail: num_free was checked under the same lock. */
	virtq_add(&v->vq, b, n, s);
	virtq_kick(&v->vq);
	spin_unlock_irqrestore(&v->lock, f);
	return 0;
}

static int vblk_submit(struct blkdev *bd, struct blk_req *req)
{
	return vblk_start(bd->priv, req);
}

static const struct blkdev_ops vblk_ops = {
	.submit = vblk_submit,
};

/* Collect every finished chain; callbacks run without v->lock, since they
 * may submit (and so take bd.lock, then v->lock). */
static void vblk_reap(struct vblk *v)
{
	for (;;) {
		u32 len = 0;
		unsigned long f = spin_lock_irqsave(&v->lock);
		struct vblk_slot *s = virtq_get(&v->vq, &len);
		if (!s) {
			spin_unlock_irqrestore(&v->lock, f);
			return;
		}
		struct blk_req *req = s->req;
		u8 st = READ_ONCE(s->status);
		s->req = NULL;
		s->next_free = v->free_slot;
		v->free_slot = (u32)(s - v->slots);
		spin_unlock_irqrestore(&v->lock, f);

		int status = st == VIRTIO_BLK_S_OK ? 0 : st == VIRTIO_BLK_S_UNSUPP ? -EOPNOTSUPP : -EIO;
		if (req == &v->probe_req) {
			WRITE_ONCE(v->probe_done, true);	/* not the layer's request */
			continue;
		}
		if (status)
			pr_warn("virtio-blk: %s: %s of %u sectors at %lu failed (status %u)\n", v->bd.name,
				req->op == BLK_OP_READ ? "read" : req->op == BLK_OP_WRITE ? "write" : "flush",
				req->count, (unsigned long)req->sector, st);
		blkdev_end_request(req, status);
	}
}

/* MSI-X: the vector is the request queue's alone. INTx: the line may be
 * shared, and the ISR register (read-to-clear) says whether it was us. */
static void vblk_irq(struct pt_regs *regs, void *arg)
{
	struct vblk *v = arg;
	if (READ_ONCE(v->dead))
		return;
	if (v->vd.pci->irq_mode == PCI_IRQ_INTX && !(virtio_isr(&v->vd) & 1))
		return;	/* not ours, or a configuration change only */
	vblk_reap(v);
}

static int vblk_trigger(struct pci_dev *pci)
{
	struct vblk *v = pci->drvdata;
	memset(&v->probe_req, 0, sizeof(v->probe_req));
	v->probe_req.op = BLK_OP_READ;
	v->probe_req.count = v->bd.block_size >> BLKDEV_SECTOR_SHIFT;
	v->probe_req.buf = v->probe_buf;
	v->probe_done = false;
	return vblk_start(v, &v->probe_req);
}

/* Read a configuration field the feature says is there; 0 otherwise. */
static u32 vblk_cfg32(struct vblk *v, unsigned feature, u32 off)
{
	u32 val = 0;
	if (virtio_has(&v->vd, feature) && virtio_cfg_read(&v->vd, off, &val, sizeof(val)))
		val = 0;
	return val;
}

static void vblk_size_str(u64 sectors, char *buf, size_t len)
{
	if (sectors >= 2048)
		snprintf(buf, len, "%lu MiB", (unsigned long)(sectors >> 11));
	else
		snprintf(buf, len, "%lu KiB", (unsigned long)(sectors >> 1));
}

static int vblk_probe(struct pci_dev *pci)
{
	struct vblk *v = kzalloc(sizeof(*v));
	int r;
	if (!v)
		return -ENOMEM;
	pci->drvdata = v;
	spin_lock_init(&v->lock);

	if ((r = virtio_pci_init(&v->vd, pci))) {
		pr_warn("virtio-blk: %s: no virtio 1.0 interface (legacy-only device?)\n", pci->addr);
		goto fail;
	}
	if ((r = virtio_negotiate(&v->vd, 1ull << VIRTIO_BLK_F_SIZE_MAX | 1ull << VIRTIO_BLK_F_SEG_MAX |
					      1ull << VIRTIO_BLK_F_RO | 1ull << VIRTIO_BLK_F_BLK_SIZE |
					      1ull << VIRTIO_BLK_F_FLUSH)))
		goto fail;

	u64 capacity;
	if ((r = virtio_cfg_read(&v->vd, VBLK_CFG_CAPACITY, &capacity, sizeof(capacity)))) {
		pr_warn("virtio-blk: %s: no device configuration\n", pci->addr);
		goto fail;
	}
	u32 bs = vblk_cfg32(v, VIRTIO_BLK_F_BLK_SIZE, VBLK_CFG_BLK_SIZE);
	if (bs && (bs < BLKDEV_SECTOR_SIZE || bs > 65536 || (bs & (bs - 1)))) {
		pr_warn("virtio-blk: %s: odd block size %u; using 512\n", pci->addr, bs);
		bs = 0;
	}
	if (!bs)
		bs = BLKDEV_SECTOR_SIZE;
	u32 size_max = vblk_cfg32(v, VIRTIO_BLK_F_SIZE_MAX, VBLK_CFG_SIZE_MAX);
	u32 seg_max = vblk_cfg32(v, VIRTIO_BLK_F_SEG_MAX, VBLK_CFG_SEG_MAX);

	/* MSI-X must be chosen before the queue (its vector is part of the
	 * queue set-up); INTx can only be probed once the device runs. */
	bool msix = pci_find_cap(pci, PCI_CAP_MSIX, 0) != 0;
	int vec = -ENXIO;
	if (msix && (vec = pci_irq_setup(pci, vblk_irq, v, NULL)) < 0)
		msix = false;
	if ((r = virtio_vq_setup(&v->vd, &v->vq, VBLK_REQQ, VIRTQ_MAX_SIZE,
				 msix ? 0 : VIRTIO_MSI_NO_VECTOR)))
		goto fail;
	if (v->vq.size < 3) {
		r = -ENOSPC;	/* header + data + status must fit */
		goto fail;
	}

	/* One slot per descriptor: never the limit (a chain has >= 2). */
	r = -ENOMEM;
	size_t slots_bytes = (size_t)v->vq.size * sizeof(struct vblk_slot);
	while ((PAGE_SIZE << v->slots_order) < slots_bytes)
		v->slots_order++;
	if (!(v->slots = alloc_pages(v->slots_order)))
		goto fail;
	memset(v->slots, 0, PAGE_SIZE << v->slots_order);
	for (u32 i = 0; i < v->vq.size; i++)
		v->slots[i].next_free = i + 1;
	v->free_slot = 0;

	/* Segment limits: the device's (0 means unstated), ours, and the
	 * ring, which must hold one whole chain. */
	v->seg_size = size_max ? size_max : VBLK_DEFAULT_SEG;
	v->max_segs = MIN((u32)VBLK_MAX_SEGS, (u32)v->vq.size - 2);
	if (seg_max)
		v->max_segs = MIN(v->max_segs, seg_max);

	snprintf(v->bd.name, sizeof(v->bd.name), "vd%c", 'a' + vblk_count);
	v->bd.model = "virtio-blk";
	v->bd.capacity = capacity;
	v->bd.block_size = bs;
	v->bd.flags = (virtio_has(&v->vd, VIRTIO_BLK_F_RO) ? BLKDEV_F_RO : 0) |
		      (virtio_has(&v->vd, VIRTIO_BLK_F_FLUSH) ? BLKDEV_F_FLUSH : 0);
	v->bd.max_sectors = VBLK_MAX_REQ_BYTES >> BLKDEV_SECTOR_SHIFT;
	v->bd.max_segments = v->max_segs;
	v->bd.max_segment_size = v->seg_size;
	v->bd.ops = &vblk_ops;
	v->bd.priv = v;
	/* Before any completion can reach blkdev_end_request. */
	if ((r = blkdev_init(&v->bd)))
		goto fail;

	virtio_driver_ok(&v->vd);

	if (!msix) {
		while ((PAGE_SIZE << v->probe_order) < bs)
			v->probe_order++;
		r = -ENOMEM;
		if (!(v->probe_buf = alloc_pages(v->probe_order)))
			goto fail;
		vec = pci_irq_setup(pci, vblk_irq, v, vblk_trigger);
		if (vec >= 0) {
			/* The probe read has completed but nobody serviced it
			 * while the line was being probed. */
			u64 deadline = ktime_ns() + NSEC_PER_SEC;
			while (!READ_ONCE(v->probe_done) && ktime_ns() < deadline) {
				virtio_isr(&v->vd);
				vblk_reap(v);
				udelay(100);
			}
		}
	}
	if (vec < 0) {
		/* Completions come only by interrupt; without one the device
		 * is of no use. */
		pr_warn("virtio-blk: %s: no interrupt (error %d); device not used\n", pci->addr, vec);
		r = vec;
		goto fail;
	}

	char irq[40], size[24];
	vblk_size_str(v->bd.capacity, size, sizeof(size));
	char blocks[32] = "", segs[48] = "";
	if (bs != BLKDEV_SECTOR_SIZE)
		snprintf(blocks, sizeof(blocks), ", %u-byte blocks", bs);
	if (size_max)
		snprintf(segs, sizeof(segs), ", %u segments of %u bytes", v->max_segs, v->seg_size);
	printk(KERN_INFO "virtio-blk: %s %s %s (%lu sectors)%s%s%s, irq %s, %u descriptors%s\n",
	       pci->addr, v->bd.name, size, (unsigned long)v->bd.capacity,
	       (v->bd.flags & BLKDEV_F_FLUSH) ? ", flush" : "", (v->bd.flags & BLKDEV_F_RO) ? ", read-only" : "",
	       blocks, pci_irq_str(pci, irq, sizeof(irq)), v->vq.size, segs);
	if ((r = blkdev_register(&v->bd)))
		goto fail;
	vblk_count++;
	return 0;

fail:
	/* Reset first: the device must stop DMA before its memory is freed. */
	virtio_fail(&v->vd);
	WRITE_ONCE(v->dead, true);
	if (v->vq.desc)
		free_pages(v->vq.desc, v->vq.order);
	if (v->slots)
		free_pages(v->slots, v->slots_order);
	if (v->probe_buf)
		free_pages(v->probe_buf, v->probe_order);
	pci->drvdata = NULL;
	/* An installed interrupt handler still points at v: keep it. */
	if (pci->irq_mode == PCI_IRQ_NONE)
		kfree(v);
	return r;
}

PCI_DRIVER(virtio_blk_modern, "virtio-blk", VIRTIO_VENDOR, 0x1042, vblk_probe);
PCI_DRIVER(virtio_blk_transitional, "virtio-blk", VIRTIO_VENDOR, 0x1001, vblk_probe);
