/* Virtio 1.0 over PCI ("modern" transport) and split virtqueues
 * (drivers/virtio_pci.c). Shared by virtio-net and, later, virtio-blk.
 *
 * A device driver:
 *   virtio_pci_init(&vd, pci)            find the capabilities, reset, ACKNOWLEDGE|DRIVER
 *   virtio_negotiate(&vd, wanted)        VIRTIO_F_VERSION_1 is always asked for and required
 *   pci_irq_setup / pci_msix_setup        (MSI-X entry numbers go into virtio_vq_setup)
 *   virtio_vq_setup(&vd, &vq, i, max, msix_entry)   for each queue
 *   virtio_driver_ok(&vd)
 * then adds buffers with virtq_add, publishes them with virtq_kick and
 * collects completions with virtq_get.
 *
 * Locking: a struct virtq is not locked; its user serialises every call on
 * it (e.g. the transmit lock for a transmit queue, the single poller for a
 * receive queue). virtq_irq_enable may race with the queue's interrupt
 * handler only. Specification: Virtual I/O Device (VIRTIO) Version 1.0,
 * sections 2.4 (split virtqueues), 3.1 (initialisation), 4.1 (PCI). */
#ifndef LEGO_VIRTIO_H
#define LEGO_VIRTIO_H

#include <lego/types.h>
#include <lego/pci.h>

#define VIRTIO_VENDOR 0x1af4

/* Device status bits. */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* Transport feature bits. */
#define VIRTIO_F_VERSION_1 32

/* Queue MSI-X entry meaning "no interrupt". */
#define VIRTIO_MSI_NO_VECTOR 0xffff

/* Split virtqueue layout (little endian, as on x86). */
struct virtq_desc {
	u64 addr;
	u32 len;
	u16 flags;
	u16 next;
} __attribute__((packed));

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2	/* device writes (receive buffer) */

struct virtq_avail {
	u16 flags;
	u16 idx;
	u16 ring[];
} __attribute__((packed));

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_used_elem {
	u32 id;
	u32 len;
} __attribute__((packed));

struct virtq_used {
	u16 flags;
	u16 idx;
	struct virtq_used_elem ring[];
} __attribute__((packed));

#define VIRTQ_USED_F_NO_NOTIFY 1

#define VIRTQ_MAX_SIZE 256

struct virtio_dev;

struct virtq {
	struct virtio_dev *vd;
	u16 index;			/* queue number on the device */
	u16 size;			/* descriptors (a power of two) */
	unsigned order;			/* of the page block holding the rings */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;
	volatile u16 *notify;		/* this queue's doorbell */
	u16 free_head;			/* free descriptors, chained through next */
	u16 num_free;
	u16 avail_idx;			/* our copy of avail->idx (not yet published) */
	u16 last_used;			/* next used->ring slot to look at */
	void *token[VIRTQ_MAX_SIZE];	/* per head descriptor, from virtq_add */
};

/* One device's transport state, written by its driver's probe, then read only. */
struct virtio_dev {
	struct pci_dev *pci;
	volatile u8 *common;		/* struct virtio_pci_common_cfg */
	volatile u8 *isr;		/* read to acknowledge INTx; bit 0 queue, bit 1 config */
	volatile u8 *device;		/* device-specific configuration */
	volatile u8 *notify_base;
	u32 notify_mult;		/* notify_off_multiplier */
	u32 device_len;
	u64 features;			/* negotiated */
};

/* A piece of a buffer chain for virtq_add. */
struct virtq_buf {
	void *addr;			/* direct-map (kernel) address */
	u32 len;
	bool device_writes;
};

/* Find the modern capabilities, map them, reset the device and set
 * ACKNOWLEDGE and DRIVER. -ENODEV without the modern interface. */
int virtio_pci_init(struct virtio_dev *vd, struct pci_dev *pci);
/* Offer wanted & device features (+ VERSION_1) and set FEATURES_OK;
 * vd->features holds the result. -ENODEV if the device refuses. */
int virtio_negotiate(struct virtio_dev *vd, u64 wanted);
static inline bool virtio_has(const struct virtio_dev *vd, unsigned bit)
{
	return vd->features & (1ull << bit);
}
/* Set up queue index with at most max_size descriptors (rounded to the
 * device's limit) and the given MSI-X table entry (VIRTIO_MSI_NO_VECTOR
 * for none). Call before virtio_driver_ok. */
int virtio_vq_setup(struct virtio_dev *vd, struct virtq *vq, u16 index, u16 max_size,
		    u16 msix_entry);
void virtio_driver_ok(struct virtio_dev *vd);
/* Reset the device (it stops all DMA) and mark the driver FAILED. */
void virtio_fail(struct virtio_dev *vd);
/* INTx cause register (reading it deasserts the line). */
u8 virtio_isr(struct virtio_dev *vd);
/* Device configuration space, read consistently (config_generation). */
int virtio_cfg_read(struct virtio_dev *vd, u32 off, void *buf, u32 len);

/* Queue a chain of n buffers (those the device reads first, then those it
 * writes, as the spec requires); token comes back from virtq_get. Not
 * visible to the device until virtq_kick. -ENOSPC if too few descriptors. */
int virtq_add(struct virtq *vq, const struct virtq_buf *bufs, int n, void *token);
/* Publish added buffers and ring the doorbell unless the device asked not to. */
void virtq_kick(struct virtq *vq);
/* A completed chain's token (and bytes written into it), or NULL if none;
 * its descriptors are free again. */
void *virtq_get(struct virtq *vq, u32 *len);
bool virtq_pending(const struct virtq *vq);
/* Chains added since the last virtq_kick. */
static inline u16 virtq_unpublished(const struct virtq *vq)
{
	return (u16)(vq->avail_idx - vq->avail->idx);
}
/* Ask the device for (or to suppress) used-buffer interrupts; a hint, so
 * check virtq_pending after enabling. */
void virtq_irq_enable(struct virtq *vq, bool on);

#endif
