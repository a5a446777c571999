/* Intel 8254x gigabit Ethernet ("e1000"; QEMU's default model is the
 * 82540EM, 8086:100e), with legacy receive and transmit descriptors.
 *
 * Receive: a ring of E1000_RX_DESC descriptors, each with its own 2 KiB
 * buffer (RCTL.BSIZE = 2048, so a standard frame always fits in one).
 * ops->poll hands completed frames to nd->rx and gives the descriptors back
 * to the device in one RDT write per batch (each MMIO write is a VM exit).
 * Transmit copies the frame into the slot's buffer (copy-in), so the caller
 * keeps its frame; completed slots are reclaimed lazily on the next send.
 *
 * Interrupts: the 82540EM has no MSI in QEMU, so pci_irq_setup finds the
 * INTx line by probing (the ICS register raises an interrupt on demand).
 * The handler reads ICR (which acknowledges and deasserts the line), and
 * on a receive cause masks the receive interrupts and calls nd->rx_notify.
 * Link-status changes stay enabled and are only counted.
 *
 * Register layout and bits: Intel PCI/PCI-X Family of Gigabit Ethernet
 * Controllers Software Developer's Manual (8254x), chapter 13. */
#include <lego/pci.h>
#include <lego/netdev.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/time.h>
#include <lego/spinlock.h>
#include <lego/atomic.h>
#include <asm/io.h>
#include <asm/cpu.h>

/* Registers (byte offsets in BAR 0). */
#define E1000_CTRL 0x0000
#define E1000_STATUS 0x0008
#define E1000_EERD 0x0014
#define E1000_ICR 0x00c0
#define E1000_ICS 0x00c8
#define E1000_IMS 0x00d0
#define E1000_IMC 0x00d8
#define E1000_RCTL 0x0100
#define E1000_TCTL 0x0400
#define E1000_TIPG 0x0410
#define E1000_RDBAL 0x2800
#define E1000_RDBAH 0x2804
#define E1000_RDLEN 0x2808
#define E1000_RDH 0x2810
#define E1000_RDT 0x2818
#define E1000_RDTR 0x2820
#define E1000_TDBAL 0x3800
#define E1000_TDBAH 0x3804
#define E1000_TDLEN 0x3808
#define E1000_TDH 0x3810
#define E1000_TDT 0x3818
#define E1000_MTA 0x5200	/* 128 x 32-bit multicast table */
#define E1000_RAL0 0x5400
#define E1000_RAH0 0x5404

#define CTRL_ASDE (1u << 5)
#define CTRL_SLU (1u << 6)
#define CTRL_ILOS (1u << 7)
#define CTRL_RST (1u << 26)
#define CTRL_VME (1u << 30)
#define CTRL_PHY_RST (1u << 31)
#define CTRL_LRST (1u << 3)

#define STATUS_LU (1u << 1)

#define EERD_START (1u << 0)
#define EERD_DONE (1u << 4)

#define RAH_AV (1u << 31)

#define INT_TXDW (1u << 0)
#define INT_LSC (1u << 2)
#define INT_RXDMT0 (1u << 4)
#define INT_RXO (1u << 6)
#define INT_RXT0 (1u << 7)
#define INT_RX (INT_RXT0 | INT_RXO | INT_RXDMT0)

#define RCTL_EN (1u << 1)
#define RCTL_BAM (1u << 15)
#define RCTL_SECRC (1u << 26)	/* strip the Ethernet CRC */
/* BSIZE = 00, BSEX = 0: 2048-byte buffers; RDMTS = 00: half the ring. */

#define TCTL_EN (1u << 1)
#define TCTL_PSP (1u << 3)	/* pad short frames to 64 bytes */
#define TCTL_CT(x) ((u32)(x) << 4)
#define TCTL_COLD(x) ((u32)(x) << 12)

/* TIPG for the 82540EM on copper: IPGT 10, IPGR1 8, IPGR2 6. */
#define TIPG_VALUE (10u | 8u << 10 | 6u << 20)

struct e1000_rx_desc {
	u64 addr;
	u16 length;
	u16 csum;
	u8 status;
	u8 errors;
	u16 special;
} __packed;

struct e1000_tx_desc {
	u64 addr;
	u16 length;
	u8 cso;
	u8 cmd;
	u8 status;
	u8 css;
	u16 special;
} __packed;

#define RXD_STAT_DD (1u << 0)
#define RXD_STAT_EOP (1u << 1)
#define TXD_CMD_EOP (1u << 0)
#define TXD_CMD_IFCS (1u << 1)
#define TXD_CMD_RS (1u << 3)
#define TXD_STAT_DD (1u << 0)

#define E1000_RX_DESC 256	/* 256 x 16 bytes: one page per ring */
#define E1000_TX_DESC 256
#define E1000_BUF_SIZE 2048
#define E1000_BUFS_PER_PAGE (PAGE_SIZE / E1000_BUF_SIZE)

struct e1000 {
	struct netdev nd;
	struct pci_dev *pci;
	volatile u8 *regs;
	/* Receive side: owned by whoever holds `polling` (one poller at a
	 * time; a second concurrent caller just returns 0). */
	struct e1000_rx_desc *rx_ring;
	u8 *rx_buf[E1000_RX_DESC];
	unsigned rx_next;		/* next descriptor the device will complete */
	atomic_t polling;
	bool rx_in_frame_error;		/* dropping the rest of an oversized frame */
	/* Transmit side: under nd.tx_lock. */
	struct e1000_tx_desc *tx_ring;
	u8 *tx_buf[E1000_TX_DESC];
	unsigned tx_tail;		/* next slot to fill */
	unsigned tx_clean;		/* oldest slot not yet reclaimed */
	/* Interrupt mask state: irq_lock (irqsave), shared with the handler. */
	spinlock_t irq_lock;
	bool rx_irq_on;
	u64 lsc_events;
};

static u32 e1000_rd(struct e1000 *e, u32 reg)
{
	return mmio_read32(e->regs + reg);
}

static void e1000_wr(struct e1000 *e, u32 reg, u32 v)
{
	mmio_write32(e->regs + reg, v);
}

/* Read one 16-bit EEPROM word through EERD (82540EM: address in bits
 * 15:8, data in 31:16). -ETIMEDOUT if the EEPROM does not answer. */
static int e1000_eeprom_read(struct e1000 *e, u8 addr, u16 *out)
{
	e1000_wr(e, E1000_EERD, (u32)addr << 8 | EERD_START);
	for (int i = 0; i < 10000; i++) {
		u32 v = e1000_rd(e, E1000_EERD);
		if (v & EERD_DONE) {
			*out = (u16)(v >> 16);
			return 0;
		}
		udelay(1);
	}
	return -ETIMEDOUT;
}

static int e1000_read_mac(struct e1000 *e, u8 *mac)
{
	u32 lo = e1000_rd(e, E1000_RAL0), hi = e1000_rd(e, E1000_RAH0);
	if ((hi & RAH_AV) && (lo || (hi & 0xffff))) {
		for (int i = 0; i < 4; i++)
			mac[i] = (u8)(lo >> (8 * i));
		mac[4] = (u8)hi;
		mac[5] = (u8)(hi >> 8);
		return 0;
	}
	/* The receive address is not loaded: the EEPROM has the MAC in its
	 * first three words, low byte first. */
	for (u8 w = 0; w < 3; w++) {
		u16 v;
		int r = e1000_eeprom_read(e, w, &v);
		if (r)
			return r;
		mac[2 * w] = (u8)v;
		mac[2 * w + 1] = (u8)(v >> 8);
	}
	return 0;
}

/* Allocate n 2 KiB DMA buffers, two per page. */
static int e1000_alloc_bufs(u8 **bufs, int n)
{
	for (int i = 0; i < n; i += E1000_BUFS_PER_PAGE) {
		u8 *page = alloc_page();
		if (!page)
			return -ENOMEM;
		for (unsigned k = 0; k < E1000_BUFS_PER_PAGE && i + (int)k < n; k++)
			bufs[i + k] = page + k * E1000_BUF_SIZE;
	}
	return 0;
}

static void e1000_free_bufs(u8 **bufs, int n)
{
	for (int i = 0; i < n; i += E1000_BUFS_PER_PAGE)
		if (bufs[i])
			free_page(bufs[i]);
}

/* ---- netdev_ops ---- */

static int e1000_xmit(struct netdev *nd, const void *frame, size_t len)
{
	struct e1000 *e = nd->priv;

	if (len < ETH_HLEN || len > ETH_FRAME_MAX + 4) {	/* + 802.1Q tag */
		nd->stats.tx_errors++;
		return -EINVAL;
	}
	/* Reclaim the slots the device has finished with (RS asks it to set
	 * DD in each). */
	while (e->tx_clean != e->tx_tail && (READ_ONCE(e->tx_ring[e->tx_clean].status) & TXD_STAT_DD))
		e->tx_clean = (e->tx_clean + 1) % E1000_TX_DESC;
	unsigned next = (e->tx_tail + 1) % E1000_TX_DESC;
	if (next == e->tx_clean) {
		nd->stats.tx_busy++;
		return -EAGAIN;
	}
	struct e1000_tx_desc *d = &e->tx_ring[e->tx_tail];
	memcpy(e->tx_buf[e->tx_tail], frame, len);
	d->addr = __pa(e->tx_buf[e->tx_tail]);
	d->length = (u16)len;
	d->cso = 0;
	d->css = 0;
	d->special = 0;
	d->status = 0;
	d->cmd = TXD_CMD_EOP | TXD_CMD_IFCS | TXD_CMD_RS;
	/* The descriptor must be complete in memory before the tail moves
	 * (x86 keeps stores in order; stop the compiler reordering them). */
	barrier();
	e->tx_tail = next;
	e1000_wr(e, E1000_TDT, next);
	nd->stats.tx_packets++;
	nd->stats.tx_bytes += len;
	return 0;
}

static int e1000_poll(struct netdev *nd, int budget)
{
	struct e1000 *e = nd->priv;
	int done = 0;
	unsigned last = E1000_RX_DESC;	/* last descriptor handed back */

	if (!atomic_cmpxchg(&e->polling, 0, 1))
		return 0;
	while (done < budget) {
		struct e1000_rx_desc *d = &e->rx_ring[e->rx_next];
		u8 status = READ_ONCE(d->status);
		if (!(status & RXD_STAT_DD))
			break;
		barrier();	/* read the length and data only after DD */
		u16 len = d->length;
		if (!(status & RXD_STAT_EOP)) {
			/* Cannot happen with 2 KiB buffers and LPE off; drop
			 * the whole frame if it does. */
			e->rx_in_frame_error = true;
			nd->stats.rx_errors++;
		} else if (e->rx_in_frame_error) {
			e->rx_in_frame_error = false;
		} else if (d->errors || len < ETH_HLEN || len > ETH_FRAME_MAX + 4) {
			nd->stats.rx_errors++;
		} else if (!nd->rx) {
			nd->stats.rx_dropped++;
		} else {
			nd->stats.rx_packets++;
			nd->stats.rx_bytes += len;
			nd->rx(nd, e->rx_buf[e->rx_next], len);
		}
		d->status = 0;
		last = e->rx_next;
		e->rx_next = (e->rx_next + 1) % E1000_RX_DESC;
		done++;
	}
	if (last != E1000_RX_DESC) {
		barrier();
		/* The device owns RDH..RDT-1; everything up to `last` is free. */
		e1000_wr(e, E1000_RDT, last);
	}
	atomic_set(&e->polling, 0);
	return done;
}

static void e1000_irq_enable(struct netdev *nd, bool on)
{
	struct e1000 *e = nd->priv;
	unsigned long f = spin_lock_irqsave(&e->irq_lock);
	e->rx_irq_on = on;
	e1000_wr(e, on ? E1000_IMS : E1000_IMC, INT_RX);
	spin_unlock_irqrestore(&e->irq_lock, f);
}

static bool e1000_link_up(struct netdev *nd)
{
	struct e1000 *e = nd->priv;
	return e1000_rd(e, E1000_STATUS) & STATUS_LU;
}

static const struct netdev_ops e1000_ops = {
	.xmit = e1000_xmit,
	.poll = e1000_poll,
	.irq_enable = e1000_irq_enable,
	.link_up = e1000_link_up,
};

/* May run for another device on a shared INTx line: ICR == 0 means "not
 * us". Reading ICR acknowledges every cause and deasserts the line. */
static void e1000_irq(struct pt_regs *regs, void *arg)
{
	struct e1000 *e = arg;
	u32 icr = e1000_rd(e, E1000_ICR);
	if (!icr)
		return;
	e->nd.stats.irqs++;
	if (icr & INT_LSC)
		e->lsc_events++;
	/* ICR shows receive causes even while they are masked (e.g. read
	 * on a link interrupt), so look at our own mask state. */
	bool notify = false;
	spin_lock(&e->irq_lock);
	if ((icr & INT_RX) && e->rx_irq_on) {
		e1000_wr(e, E1000_IMC, INT_RX);
		e->rx_irq_on = false;
		notify = true;
	}
	spin_unlock(&e->irq_lock);
	void (*fn)(struct netdev *) = READ_ONCE(e->nd.rx_notify);
	if (notify && fn)
		fn(&e->nd);
}

/* INTx probing: raise a link-status-change interrupt by software. */
static int e1000_trigger(struct pci_dev *pci)
{
	struct e1000 *e = pci->drvdata;
	e1000_wr(e, E1000_IMS, INT_LSC);
	e1000_wr(e, E1000_ICS, INT_LSC);
	return 0;
}

static void e1000_hw_reset(struct e1000 *e)
{
	e1000_wr(e, E1000_IMC, ~0u);
	e1000_wr(e, E1000_RCTL, 0);
	e1000_wr(e, E1000_TCTL, 0);
	e1000_wr(e, E1000_CTRL, e1000_rd(e, E1000_CTRL) | CTRL_RST);
	/* The manual asks for 1 us before the next access; RST self-clears. */
	udelay(10);
	for (int i = 0; i < 1000 && (e1000_rd(e, E1000_CTRL) & CTRL_RST); i++)
		udelay(10);
	e1000_wr(e, E1000_IMC, ~0u);
	(void)e1000_rd(e, E1000_ICR);
}

static int e1000_probe(struct pci_dev *pci)
{
	struct e1000 *e = kzalloc(sizeof(*e));
	int r = -ENOMEM;
	if (!e)
		return -ENOMEM;
	e->pci = pci;
	pci->drvdata = e;
	spin_lock_init(&e->irq_lock);
	pci_enable(pci);
	e->regs = pci_map_bar(pci, 0);
	if (!e->regs) {
		r = -ENODEV;
		goto fail;
	}

	e1000_hw_reset(e);
	u32 ctrl = e1000_rd(e, E1000_CTRL);
	ctrl &= ~(CTRL_LRST | CTRL_PHY_RST | CTRL_VME | CTRL_ILOS);
	e1000_wr(e, E1000_CTRL, ctrl | CTRL_SLU | CTRL_ASDE);

	if ((r = e1000_read_mac(e, e->nd.mac)))
		goto fail;
	const u8 *m = e->nd.mac;
	e1000_wr(e, E1000_RAL0, (u32)m[0] | (u32)m[1] << 8 | (u32)m[2] << 16 | (u32)m[3] << 24);
	e1000_wr(e, E1000_RAH0, (u32)m[4] | (u32)m[5] << 8 | RAH_AV);
	for (int i = 0; i < 128; i++)
		e1000_wr(e, E1000_MTA + 4 * i, 0);

	r = -ENOMEM;
	e->rx_ring = alloc_page();
	e->tx_ring = alloc_page();
	if (!e->rx_ring || !e->tx_ring || e1000_alloc_bufs(e->rx_buf, E1000_RX_DESC) ||
	    e1000_alloc_bufs(e->tx_buf, E1000_TX_DESC))
		goto fail;
	memset(e->rx_ring, 0, PAGE_SIZE);
	memset(e->tx_ring, 0, PAGE_SIZE);
	for (int i = 0; i < E1000_RX_DESC; i++)
		e->rx_ring[i].addr = __pa(e->rx_buf[i]);
	for (int i = 0; i < E1000_TX_DESC; i++)
		e->tx_ring[i].status = TXD_STAT_DD;	/* free */

	phys_addr_t rx = __pa(e->rx_ring), tx = __pa(e->tx_ring);
	e1000_wr(e, E1000_RDBAL, (u32)rx);
	e1000_wr(e, E1000_RDBAH, (u32)(rx >> 32));
	e1000_wr(e, E1000_RDLEN, E1000_RX_DESC * sizeof(struct e1000_rx_desc));
	e1000_wr(e, E1000_RDH, 0);
	e1000_wr(e, E1000_RDT, E1000_RX_DESC - 1);
	e1000_wr(e, E1000_RDTR, 0);	/* no receive-interrupt delay */
	e1000_wr(e, E1000_RCTL, RCTL_EN | RCTL_BAM | RCTL_SECRC);

	e1000_wr(e, E1000_TDBAL, (u32)tx);
	e1000_wr(e, E1000_TDBAH, (u32)(tx >> 32));
	e1000_wr(e, E1000_TDLEN, E1000_TX_DESC * sizeof(struct e1000_tx_desc));
	e1000_wr(e, E1000_TDH, 0);
	e1000_wr(e, E1000_TDT, 0);
	e1000_wr(e, E1000_TIPG, TIPG_VALUE);
	e1000_wr(e, E1000_TCTL, TCTL_EN | TCTL_PSP | TCTL_CT(0x0f) | TCTL_COLD(0x40));

	e->nd.model = "e1000";
	e->nd.mtu = ETH_MTU;
	e->nd.ops = &e1000_ops;
	e->nd.priv = e;
	snprintf(e->nd.name, sizeof(e->nd.name), "eth%d", netdev_count());

	/* Link changes stay enabled; receive interrupts wait for irq_enable. */
	int vec = pci_irq_setup(pci, e1000_irq, e, e1000_trigger);
	e1000_wr(e, E1000_IMS, INT_LSC);
	if (vec < 0)
		pr_warn("e1000: %s: no interrupt (error %d); polling only\n", pci->addr, vec);

	char irq[40];
	printk(KERN_INFO "e1000: %s mac %02x:%02x:%02x:%02x:%02x:%02x link %s (%s, irq %s)\n",
	       pci->addr, m[0], m[1], m[2], m[3], m[4], m[5], e1000_link_up(&e->nd) ? "up" : "down",
	       e->nd.name, pci_irq_str(pci, irq, sizeof(irq)));
	if ((r = netdev_register(&e->nd)))
		goto fail;
	return 0;

fail:
	/* Leave the device quiet: no DMA into pages that go back to the
	 * allocator. (An interrupt vector, once taken, stays.) */
	if (e->regs)
		e1000_hw_reset(e);
	if (e->rx_ring)
		free_page(e->rx_ring);
	if (e->tx_ring)
		free_page(e->tx_ring);
	e1000_free_bufs(e->rx_buf, E1000_RX_DESC);
	e1000_free_bufs(e->tx_buf, E1000_TX_DESC);
	pci->drvdata = NULL;
	if (pci->irq_mode == PCI_IRQ_NONE)
		kfree(e);
	/* else: the interrupt handler still points at e; keep it (inert). */
	return r;
}

PCI_DRIVER(e1000_82540em, "e1000", 0x8086, 0x100e, e1000_probe);
PCI_DRIVER(e1000_82545em, "e1000", 0x8086, 0x100f, e1000_probe);
