/* Virtio 1.0 PCI transport ("modern" interface only) and split virtqueues.
 *
 * The modern interface is found through vendor-specific PCI capabilities,
 * each naming a BAR window: common configuration, notification doorbells,
 * the INTx status register (ISR) and the device-specific configuration.
 * Transitional devices (ids 0x1000-0x103f) carry the same capabilities next
 * to their legacy I/O BAR, which is never used here.
 *
 * Each virtqueue lives in one physically contiguous block from
 * alloc_pages: descriptor table, then the available ring, then the used
 * ring (the 1.0 transport takes three separate addresses, so no legacy
 * 4 KiB alignment is needed). Memory ordering: x86 keeps stores in order
 * and loads in order, so publishing needs only a compiler barrier; the one
 * store-then-load pattern (publish avail->idx, then read used->flags to
 * decide whether to notify) needs a full fence. */
#include <lego/virtio.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/time.h>
#include <lego/atomic.h>
#include <asm/io.h>

/* struct virtio_pci_common_cfg field offsets (spec 4.1.4.3). */
#define VPC_DEVICE_FEATURE_SELECT 0x00
#define VPC_DEVICE_FEATURE 0x04
#define VPC_DRIVER_FEATURE_SELECT 0x08
#define VPC_DRIVER_FEATURE 0x0c
#define VPC_MSIX_CONFIG 0x10
#define VPC_NUM_QUEUES 0x12
#define VPC_DEVICE_STATUS 0x14
#define VPC_CONFIG_GENERATION 0x15
#define VPC_QUEUE_SELECT 0x16
#define VPC_QUEUE_SIZE 0x18
#define VPC_QUEUE_MSIX_VECTOR 0x1a
#define VPC_QUEUE_ENABLE 0x1c
#define VPC_QUEUE_NOTIFY_OFF 0x1e
#define VPC_QUEUE_DESC 0x20
#define VPC_QUEUE_DRIVER 0x28
#define VPC_QUEUE_DEVICE 0x30
#define VPC_COMMON_LEN 0x38

/* Vendor capability layout (spec 4.1.4). */
#define VCAP_CFG_TYPE 3
#define VCAP_BAR 4
#define VCAP_OFFSET 8
#define VCAP_LENGTH 12
#define VCAP_NOTIFY_MULT 16

#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

static u8 vc_r8(struct virtio_dev *vd, u32 off) { return *(volatile u8 *)(vd->common + off); }
static u16 vc_r16(struct virtio_dev *vd, u32 off) { return *(volatile u16 *)(vd->common + off); }
static u32 vc_r32(struct virtio_dev *vd, u32 off) { return *(volatile u32 *)(vd->common + off); }
static void vc_w8(struct virtio_dev *vd, u32 off, u8 v) { *(volatile u8 *)(vd->common + off) = v; }
static void vc_w16(struct virtio_dev *vd, u32 off, u16 v) { *(volatile u16 *)(vd->common + off) = v; }
static void vc_w32(struct virtio_dev *vd, u32 off, u32 v) { *(volatile u32 *)(vd->common + off) = v; }

/* 64-bit fields may be written as two 32-bit halves (spec 4.1.3.1). */
static void vc_w64(struct virtio_dev *vd, u32 off, u64 v)
{
	vc_w32(vd, off, (u32)v);
	vc_w32(vd, off + 4, (u32)(v >> 32));
}

/* The window a capability describes, mapped; NULL if it is not in a
 * memory BAR or runs past its end. */
static volatile u8 *virtio_map_cap(struct pci_dev *pci, u8 cap, u32 min_len, u32 *len_out)
{
	u8 bar = pci_read8(pci, cap + VCAP_BAR);
	u32 off = pci_read32(pci, cap + VCAP_OFFSET);
	u32 len = pci_read32(pci, cap + VCAP_LENGTH);
	if (bar >= PCI_MAX_BARS || len < min_len)
		return NULL;
	const struct pci_bar *b = &pci->bar[bar];
	if (b->io || (u64)off + len > b->size)
		return NULL;
	u8 *base = pci_map_bar(pci, bar);
	if (!base)
		return NULL;
	if (len_out)
		*len_out = len;
	return base + off;
}

static void virtio_reset(struct virtio_dev *vd)
{
	vc_w8(vd, VPC_DEVICE_STATUS, 0);
	/* Reset is done when the status reads back 0 (spec 4.1.4.3.2). */
	for (int i = 0; i < 100000 && vc_r8(vd, VPC_DEVICE_STATUS); i++)
		udelay(1);
}

static void virtio_set_status(struct virtio_dev *vd, u8 bits)
{
	vc_w8(vd, VPC_DEVICE_STATUS, vc_r8(vd, VPC_DEVICE_STATUS) | bits);
}

int virtio_pci_init(struct virtio_dev *vd, struct pci_dev *pci)
{
	u8 common = 0, notify = 0, isr = 0, device = 0;

	memset(vd, 0, sizeof(*vd));
	vd->pci = pci;
	/* The first capability of each type is the preferred one (4.1.4). */
	for (u8 c = pci_find_cap(pci, PCI_CAP_VENDOR, 0); c; c = pci_find_cap(pci, PCI_CAP_VENDOR, c)) {
		switch (pci_read8(pci, c + VCAP_CFG_TYPE)) {
		case VIRTIO_PCI_CAP_COMMON_CFG: if (!common) common = c; break;
		case VIRTIO_PCI_CAP_NOTIFY_CFG: if (!notify) notify = c; break;
		case VIRTIO_PCI_CAP_ISR_CFG: if (!isr) isr = c; break;
		case VIRTIO_PCI_CAP_DEVICE_CFG: if (!device) device = c; break;
		}
	}
	if (!common || !notify || !isr)
		return -ENODEV;	/* a legacy-only device */
	pci_enable(pci);
	vd->common = virtio_map_cap(pci, common, VPC_COMMON_LEN, NULL);
	vd->notify_base = virtio_map_cap(pci, notify, 2, NULL);
	vd->isr = virtio_map_cap(pci, isr, 1, NULL);
	if (device)
		vd->device = virtio_map_cap(pci, device, 1, &vd->device_len);
	if (!vd->common || !vd->notify_base || !vd->isr)
		return -ENODEV;
	vd->notify_mult = pci_read32(pci, notify + VCAP_NOTIFY_MULT);

	virtio_reset(vd);
	virtio_set_status(vd, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_set_status(vd, VIRTIO_STATUS_DRIVER);
	/* No configuration-change interrupt unless a driver asks for one. */
	vc_w16(vd, VPC_MSIX_CONFIG, VIRTIO_MSI_NO_VECTOR);
	return 0;
}

int virtio_negotiate(struct virtio_dev *vd, u64 wanted)
{
	vc_w32(vd, VPC_DEVICE_FEATURE_SELECT, 0);
	u64 dev = vc_r32(vd, VPC_DEVICE_FEATURE);
	vc_w32(vd, VPC_DEVICE_FEATURE_SELECT, 1);
	dev |= (u64)vc_r32(vd, VPC_DEVICE_FEATURE) << 32;
	if (!(dev & (1ull << VIRTIO_F_VERSION_1)))
		return -ENODEV;
	u64 drv = (wanted | 1ull << VIRTIO_F_VERSION_1) & dev;
	vc_w32(vd, VPC_DRIVER_FEATURE_SELECT, 0);
	vc_w32(vd, VPC_DRIVER_FEATURE, (u32)drv);
	vc_w32(vd, VPC_DRIVER_FEATURE_SELECT, 1);
	vc_w32(vd, VPC_DRIVER_FEATURE, (u32)(drv >> 32));
	virtio_set_status(vd, VIRTIO_STATUS_FEATURES_OK);
	if (!(vc_r8(vd, VPC_DEVICE_STATUS) & VIRTIO_STATUS_FEATURES_OK))
		return -ENODEV;	/* the device does not accept this subset */
	vd->features = drv;
	return 0;
}

int virtio_vq_setup(struct virtio_dev *vd, struct virtq *vq, u16 index, u16 max_size, u16 msix_entry)
{
	memset(vq, 0, sizeof(*vq));
	vq->vd = vd;
	vq->index = index;
	if (index >= vc_r16(vd, VPC_NUM_QUEUES))
		return -ENOENT;
	vc_w16(vd, VPC_QUEUE_SELECT, index);
	u16 dev_size = vc_r16(vd, VPC_QUEUE_SIZE);
	if (!dev_size)
		return -ENOENT;
	if (vc_r16(vd, VPC_QUEUE_ENABLE))
		return -EBUSY;
	u32 n = MIN(MIN((u32)dev_size, (u32)max_size), (u32)VIRTQ_MAX_SIZE);
	while (n & (n - 1))
		n &= n - 1;	/* split rings need a power of two */
	if (!n)
		return -EINVAL;

	size_t avail_off = 16 * n;
	size_t used_off = ALIGN_UP(avail_off + 6 + 2 * n, 4);
	size_t total = used_off + 6 + 8 * n;
	unsigned order = 0;
	while ((PAGE_SIZE << order) < total)
		order++;
	u8 *mem = alloc_pages(order);
	if (!mem)
		return -ENOMEM;
	memset(mem, 0, PAGE_SIZE << order);
	vq->order = order;
	vq->size = (u16)n;
	vq->desc = (struct virtq_desc *)mem;
	vq->avail = (struct virtq_avail *)(mem + avail_off);
	vq->used = (struct virtq_used *)(mem + used_off);
	for (u32 i = 0; i < n; i++)
		vq->desc[i].next = (u16)(i + 1);
	vq->free_head = 0;
	vq->num_free = (u16)n;

	vc_w16(vd, VPC_QUEUE_SIZE, (u16)n);
	vc_w64(vd, VPC_QUEUE_DESC, __pa(vq->desc));
	vc_w64(vd, VPC_QUEUE_DRIVER, __pa(vq->avail));
	vc_w64(vd, VPC_QUEUE_DEVICE, __pa(vq->used));
	vc_w16(vd, VPC_QUEUE_MSIX_VECTOR, msix_entry);
	if (vc_r16(vd, VPC_QUEUE_MSIX_VECTOR) != msix_entry) {
		/* The device could not allocate the vector. */
		free_pages(mem, order);
		vq->desc = NULL;
		return -EIO;
	}
	u16 noff = vc_r16(vd, VPC_QUEUE_NOTIFY_OFF);
	vq->notify = (volatile u16 *)(vd->notify_base + (u32)noff * vd->notify_mult);
	vc_w16(vd, VPC_QUEUE_ENABLE, 1);
	return 0;
}

void virtio_driver_ok(struct virtio_dev *vd)
{
	virtio_set_status(vd, VIRTIO_STATUS_DRIVER_OK);
}

void virtio_fail(struct virtio_dev *vd)
{
	if (!vd->common)
		return;
	virtio_reset(vd);
	vc_w8(vd, VPC_DEVICE_STATUS, VIRTIO_STATUS_FAILED);
}

u8 virtio_isr(struct virtio_dev *vd)
{
	return *vd->isr;
}

int virtio_cfg_read(struct virtio_dev *vd, u32 off, void *buf, u32 len)
{
	if (!vd->device || off + len > vd->device_len)
		return -EINVAL;
	/* Retry while the device changes the configuration under us. */
	for (int tries = 0; tries < 100; tries++) {
		u8 gen = vc_r8(vd, VPC_CONFIG_GENERATION);
		volatile u8 *p = vd->device + off;
		/* Fields are read with their own width (spec 4.1.3.1). */
		if (len == 2 && !(off & 1)) {
			u16 v = *(volatile u16 *)p;
			memcpy(buf, &v, 2);
		} else if (len == 4 && !(off & 3)) {
			u32 v = *(volatile u32 *)p;
			memcpy(buf, &v, 4);
		} else {
			for (u32 i = 0; i < len; i++)
				((u8 *)buf)[i] = p[i];
		}
		if (vc_r8(vd, VPC_CONFIG_GENERATION) == gen)
			return 0;
	}
	return -EAGAIN;
}

/* ---- split virtqueues ---- */

int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, int n, void *token)
{
	if (n < 1 || n > vq->num_free)
		return -ENOSPC;
	u16 head = vq->free_head, i = head, last = head;
	for (int k = 0; k < n; k++) {
		struct virtq_desc *d = &vq->desc[i];
		d->addr = __pa(bufs[k].addr);
		d->len = bufs[k].len;
		/* d->next already links to the next free descriptor: the
		 * chain follows the free list. */
		d->flags = (u16)((bufs[k].device_writes ? VIRTQ_DESC_F_WRITE : 0) |
				 (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		last = i;
		i = d->next;
	}
	vq->free_head = vq->desc[last].next;
	vq->num_free -= (u16)n;
	vq->token[head] = token;
	vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
	vq->avail_idx++;
	return 0;
}

void virtq_kick(struct virtq *vq)
{
	if (READ_ONCE(vq->avail->idx) == vq->avail_idx)
		return;
	barrier();	/* ring entries before the index that publishes them */
	WRITE_ONCE(vq->avail->idx, vq->avail_idx);
	smp_mb();	/* publish before reading the device's NO_NOTIFY */
	if (!(READ_ONCE(vq->used->flags) & VIRTQ_USED_F_NO_NOTIFY))
		*vq->notify = vq->index;
}

bool virtq_pending(const struct virtq *vq)
{
	return READ_ONCE(vq->used->idx) != vq->last_used;
}

void *virtq_get(struct virtq *vq, u32 *len)
{
	while (virtq_pending(vq)) {
		barrier();	/* the entry only after the index that covers it */
		struct virtq_used_elem e = vq->used->ring[vq->last_used & (vq->size - 1)];
		vq->last_used++;
		void *token = e.id < vq->size ? vq->token[e.id] : NULL;
		if (!token) {
			/* Not a chain we queued: a device bug. Ignore it
			 * rather than corrupt the free list. */
			printk(KERN_WARNING "virtio: %s queue %u: bogus used id %u\n", vq->vd->pci->addr,
			       vq->index, e.id);
			continue;
		}
		vq->token[e.id] = NULL;
		u16 i = (u16)e.id;
		u16 count = 1;
		while ((vq->desc[i].flags & VIRTQ_DESC_F_NEXT) && count < vq->size) {
			i = vq->desc[i].next;
			count++;
		}
		vq->desc[i].next = vq->free_head;
		vq->free_head = (u16)e.id;
		vq->num_free += count;
		if (len)
			*len = e.len;
		return token;
	}
	return NULL;
}

void virtq_irq_enable(struct virtq *vq, bool on)
{
	WRITE_ONCE(vq->avail->flags, on ? 0 : VIRTQ_AVAIL_F_NO_INTERRUPT);
	if (on)
		smp_mb();	/* the caller checks virtq_pending next */
}
