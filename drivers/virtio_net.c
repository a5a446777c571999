/* virtio-net over the modern virtio PCI transport (1af4:1041, and the
 * transitional 1af4:1000 driven through its modern interface).
 *
 * Features: VIRTIO_NET_F_MAC and VIRTIO_NET_F_STATUS only (no offloads, no
 * mergeable buffers, one queue pair), so every frame travels behind the
 * 12-byte version-1 struct virtio_net_hdr, all zero on transmit.
 *
 * Receive queue 0 is kept full of 2 KiB device-writable buffers (header +
 * up to 1514 bytes of frame fits easily); poll hands each completed buffer
 * to nd->rx and queues it again. Transmit queue 1 copies each frame into
 * one of its own 2 KiB buffers; finished buffers are reclaimed on the next
 * send, so the transmit queue needs no interrupt. Frames sent in a batch
 * (nd->tx_defer, see netdev.h) are published with one doorbell by
 * vnet_flush, or every VNET_TX_BATCH frames, or when the ring is full.
 *
 * Interrupts: MSI-X table entry 0 serves the receive queue. Without MSI-X
 * (e.g. -device virtio-net-pci,vectors=0) the device uses INTx and the ISR
 * register, and the INTx line is found by probing: the trigger sends one
 * frame addressed to ourselves with the transmit queue's interrupt on. */
#include <lego/virtio.h>
#include <lego/netdev.h>
#include <lego/pci.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/time.h>
#include <lego/spinlock.h>
#include <lego/atomic.h>

#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_S_LINK_UP 1

/* Device configuration offsets. */
#define VNET_CFG_MAC 0
#define VNET_CFG_STATUS 6

#define VNET_HDR_LEN 12		/* struct virtio_net_hdr with num_buffers (1.0) */
#define VNET_BUF_SIZE 2048
#define VNET_RXQ 0
#define VNET_TXQ 1
#define VNET_ETHERTYPE_PROBE 0x88b5	/* IEEE 802 local experimental */
/* Deferred frames are published at most this many at a time, so the
 * device starts on a long message while the rest is being queued. */
#define VNET_TX_BATCH 16

struct vnet {
	struct netdev nd;
	struct virtio_dev vd;
	/* rxq and rx_buf: owned by whoever holds `polling` (one poller). */
	struct virtq rxq;
	u8 *rx_buf[VIRTQ_MAX_SIZE];
	atomic_t polling;
	/* txq, tx_buf and the free stack: under nd.tx_lock. */
	struct virtq txq;
	u8 *tx_buf[VIRTQ_MAX_SIZE];
	u8 *tx_free[VIRTQ_MAX_SIZE];
	int tx_nfree;
	/* Receive interrupt state: irq_lock (irqsave), shared with the handler. */
	spinlock_t irq_lock;
	bool rx_irq_on;
};

/* Two 2 KiB buffers per page; bufs[] must be zeroed first. */
static int vnet_alloc_bufs(u8 **bufs, int n)
{
	for (int i = 0; i < n; i += 2) {
		u8 *page = alloc_page();
		if (!page)
			return -ENOMEM;
		bufs[i] = page;
		if (i + 1 < n)
			bufs[i + 1] = page + VNET_BUF_SIZE;
	}
	return 0;
}

static void vnet_free_bufs(u8 **bufs, int n)
{
	for (int i = 0; i < n; i += 2)
		if (bufs[i])
			free_page(bufs[i]);
}

/* ---- netdev_ops ---- */

static int vnet_xmit(struct netdev *nd, const void *frame, size_t len)
{
	struct vnet *v = nd->priv;

	if (len < ETH_HLEN || len > ETH_FRAME_MAX + 4) {	/* + 802.1Q tag */
		nd->stats.tx_errors++;
		return -EINVAL;
	}
	u8 *b;
	while ((b = virtq_get(&v->txq, NULL)))
		v->tx_free[v->tx_nfree++] = b;
	if (!v->tx_nfree) {
		/* Deferred frames must reach the device to come back. */
		virtq_kick(&v->txq);
		nd->stats.tx_busy++;
		return -EAGAIN;
	}
	b = v->tx_free[--v->tx_nfree];
	memset(b, 0, VNET_HDR_LEN);
	memcpy(b + VNET_HDR_LEN, frame, len);
	struct virtq_buf vb = { b, (u32)(VNET_HDR_LEN + len), false };
	if (virtq_add(&v->txq, &vb, 1, b)) {
		/* Cannot happen: one descriptor per buffer. */
		v->tx_free[v->tx_nfree++] = b;
		nd->stats.tx_busy++;
		return -EAGAIN;
	}
	if (!nd->tx_defer || virtq_unpublished(&v->txq) >= VNET_TX_BATCH)
		virtq_kick(&v->txq);
	nd->stats.tx_packets++;
	nd->stats.tx_bytes += len;
	return 0;
}

static void vnet_flush(struct netdev *nd)
{
	struct vnet *v = nd->priv;
	virtq_kick(&v->txq);
}

static int vnet_poll(struct netdev *nd, int budget)
{
	struct vnet *v = nd->priv;
	int done = 0;
	u8 *b;
	u32 len;

	if (!atomic_cmpxchg(&v->polling, 0, 1))
		return 0;
	while (done < budget && (b = virtq_get(&v->rxq, &len))) {
		if (len < VNET_HDR_LEN + ETH_HLEN || len > VNET_BUF_SIZE) {
			nd->stats.rx_errors++;
		} else if (!nd->rx) {
			nd->stats.rx_dropped++;
		} else {
			nd->stats.rx_packets++;
			nd->stats.rx_bytes += len - VNET_HDR_LEN;
			nd->rx(nd, b + VNET_HDR_LEN, len - VNET_HDR_LEN);
		}
		struct virtq_buf vb = { b, VNET_BUF_SIZE, true };
		virtq_add(&v->rxq, &vb, 1, b);	/* its descriptor was just freed */
		done++;
	}
	if (done)
		virtq_kick(&v->rxq);
	atomic_set(&v->polling, 0);
	return done;
}

static void vnet_irq_enable(struct netdev *nd, bool on)
{
	struct vnet *v = nd->priv;
	unsigned long f = spin_lock_irqsave(&v->irq_lock);
	v->rx_irq_on = on;
	virtq_irq_enable(&v->rxq, on);
	spin_unlock_irqrestore(&v->irq_lock, f);
}

static bool vnet_link_up(struct netdev *nd)
{
	struct vnet *v = nd->priv;
	u16 status;
	if (!virtio_has(&v->vd, VIRTIO_NET_F_STATUS))
		return true;	/* the device cannot tell: assume up */
	if (virtio_cfg_read(&v->vd, VNET_CFG_STATUS, &status, sizeof(status)))
		return false;
	return status & VIRTIO_NET_S_LINK_UP;
}

static const struct netdev_ops vnet_ops = {
	.xmit = vnet_xmit,
	.flush = vnet_flush,
	.poll = vnet_poll,
	.irq_enable = vnet_irq_enable,
	.link_up = vnet_link_up,
};

/* MSI-X: this vector belongs to the receive queue alone. INTx: the line may
 * be shared, and the ISR register (read-to-clear) says whether it was us. */
static void vnet_irq(struct pt_regs *regs, void *arg)
{
	struct vnet *v = arg;
	if (v->vd.pci->irq_mode == PCI_IRQ_INTX && !(virtio_isr(&v->vd) & 1))
		return;	/* not ours, or a configuration change only */
	v->nd.stats.irqs++;
	bool notify = false;
	spin_lock(&v->irq_lock);
	if (v->rx_irq_on) {
		virtq_irq_enable(&v->rxq, false);
		v->rx_irq_on = false;
		notify = true;
	}
	spin_unlock(&v->irq_lock);
	void (*fn)(struct netdev *) = READ_ONCE(v->nd.rx_notify);
	if (notify && fn)
		fn(&v->nd);
}

/* INTx probing: a used transmit buffer raises the queue interrupt. The
 * frame goes to our own address, so a switch drops it. */
static int vnet_trigger(struct pci_dev *pci)
{
	struct vnet *v = pci->drvdata;
	u8 f[60] = { 0 };
	memcpy(f, v->nd.mac, ETH_ALEN);
	memcpy(f + 6, v->nd.mac, ETH_ALEN);
	f[12] = VNET_ETHERTYPE_PROBE >> 8;
	f[13] = VNET_ETHERTYPE_PROBE & 0xff;
	virtq_irq_enable(&v->txq, true);
	unsigned long fl = spin_lock_irqsave(&v->nd.tx_lock);
	int r = vnet_xmit(&v->nd, f, sizeof(f));
	spin_unlock_irqrestore(&v->nd.tx_lock, fl);
	return r;
}

static int vnet_probe(struct pci_dev *pci)
{
	struct vnet *v = kzalloc(sizeof(*v));
	int r;
	if (!v)
		return -ENOMEM;
	pci->drvdata = v;
	spin_lock_init(&v->irq_lock);
	spin_lock_init(&v->nd.tx_lock);	/* the INTx trigger sends before registration */
	v->nd.priv = v;
	v->nd.ops = &vnet_ops;
	v->nd.model = "virtio-net";
	v->nd.mtu = ETH_MTU;

	if ((r = virtio_pci_init(&v->vd, pci))) {
		pr_warn("virtio-net: %s: no virtio 1.0 interface (legacy-only device?)\n", pci->addr);
		goto fail;
	}
	if ((r = virtio_negotiate(&v->vd, 1ull << VIRTIO_NET_F_MAC | 1ull << VIRTIO_NET_F_STATUS)))
		goto fail;

	/* MSI-X must be chosen before the queues (their vector is part of the
	 * queue set-up); INTx can only be probed once the device runs. */
	bool msix = pci_find_cap(pci, PCI_CAP_MSIX, 0) != 0;
	int vec = -ENXIO;
	if (msix && (vec = pci_irq_setup(pci, vnet_irq, v, NULL)) < 0)
		msix = false;
	if ((r = virtio_vq_setup(&v->vd, &v->rxq, VNET_RXQ, VIRTQ_MAX_SIZE, msix ? 0 : VIRTIO_MSI_NO_VECTOR)) ||
	    (r = virtio_vq_setup(&v->vd, &v->txq, VNET_TXQ, VIRTQ_MAX_SIZE, VIRTIO_MSI_NO_VECTOR)))
		goto fail;
	r = -ENOMEM;
	if (vnet_alloc_bufs(v->rx_buf, v->rxq.size) || vnet_alloc_bufs(v->tx_buf, v->txq.size))
		goto fail;
	for (int i = 0; i < v->txq.size; i++)
		v->tx_free[v->tx_nfree++] = v->tx_buf[i];
	for (int i = 0; i < v->rxq.size; i++) {
		struct virtq_buf vb = { v->rx_buf[i], VNET_BUF_SIZE, true };
		virtq_add(&v->rxq, &vb, 1, v->rx_buf[i]);
	}
	virtq_irq_enable(&v->rxq, false);
	virtq_irq_enable(&v->txq, false);

	if (virtio_has(&v->vd, VIRTIO_NET_F_MAC)) {
		if ((r = virtio_cfg_read(&v->vd, VNET_CFG_MAC, v->nd.mac, ETH_ALEN)))
			goto fail;
	} else {
		/* Locally administered, unique per PCI address on this host. */
		const u8 mac[ETH_ALEN] = { 0x02, 0x00, 0x4c, pci->bus, pci->slot, pci->fn };
		memcpy(v->nd.mac, mac, ETH_ALEN);
	}

	virtio_driver_ok(&v->vd);
	virtq_kick(&v->rxq);

	if (!msix) {
		vec = pci_irq_setup(pci, vnet_irq, v, vnet_trigger);
		virtq_irq_enable(&v->txq, false);
	}
	if (vec < 0)
		pr_warn("virtio-net: %s: no interrupt (error %d); polling only\n", pci->addr, vec);

	snprintf(v->nd.name, sizeof(v->nd.name), "eth%d", netdev_count());
	const u8 *m = v->nd.mac;
	char irq[40];
	printk(KERN_INFO "virtio-net: %s mac %02x:%02x:%02x:%02x:%02x:%02x link %s (%s, irq %s, "
	       "%u+%u descriptors)\n",
	       pci->addr, m[0], m[1], m[2], m[3], m[4], m[5], vnet_link_up(&v->nd) ? "up" : "down",
	       v->nd.name, pci_irq_str(pci, irq, sizeof(irq)), v->rxq.size, v->txq.size);
	if ((r = netdev_register(&v->nd)))
		goto fail;
	return 0;

fail:
	/* Reset first: the device must stop DMA before its memory is freed. */
	virtio_fail(&v->vd);
	vnet_free_bufs(v->rx_buf, v->rxq.size);
	vnet_free_bufs(v->tx_buf, v->txq.size);
	if (v->rxq.desc)
		free_pages(v->rxq.desc, v->rxq.order);
	if (v->txq.desc)
		free_pages(v->txq.desc, v->txq.order);
	pci->drvdata = NULL;
	/* An installed interrupt handler still points at v: keep it. */
	if (pci->irq_mode == PCI_IRQ_NONE)
		kfree(v);
	return r;
}

PCI_DRIVER(virtio_net_modern, "virtio-net", VIRTIO_VENDOR, 0x1041, vnet_probe);
PCI_DRIVER(virtio_net_transitional, "virtio-net", VIRTIO_VENDOR, 0x1000, vnet_probe);
