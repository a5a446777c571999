/* The small interface every NIC driver offers to the network stack.
 *
 * Receive is poll-based: the stack calls ops->poll, which hands each
 * received frame to nd->rx (a copy must be taken if kept). In interrupt
 * mode the driver's interrupt handler masks its receive interrupt and calls
 * nd->rx_notify so that the stack's receive thread polls; the stack
 * re-enables the interrupt with ops->irq_enable when the ring is empty (and
 * polls once more, so a frame that arrived in between is not stranded). In
 * busy-polling mode the interrupt stays off and the receive thread polls
 * continuously.
 *
 * Transmit batching: frames a thread sends between netdev_tx_batch_begin
 * and netdev_tx_batch_end may be queued without telling the device
 * (nd->tx_defer is set for xmit), and ops->flush then tells it once. Under
 * emulation each doorbell is an exit to the device model, measured at
 * 7-100 us in the emulated rack depending on host load, so a 3-frame RPC
 * message rings once instead of three times. Another sender's doorbell
 * publishes deferred frames too, so deferring only ever delays frames
 * until the batch ends (or the driver's own limit, VNET_TX_BATCH). */
#ifndef LEGO_NETDEV_H
#define LEGO_NETDEV_H

#include <lego/types.h>
#include <lego/spinlock.h>

#define ETH_ALEN 6
#define ETH_HLEN 14
#define ETH_MTU 1500
#define ETH_FRAME_MAX (ETH_HLEN + ETH_MTU)

struct netdev;

struct netdev_ops {
	/* Queue one complete Ethernet frame (without FCS) for sending; the
	 * frame is copied. -EAGAIN when the transmit ring is full, -EINVAL
	 * for a bad length. Called with nd->tx_lock held. */
	int (*xmit)(struct netdev *nd, const void *frame, size_t len);
	/* Optional: hand the device every frame xmit queued with tx_defer
	 * set. Called with nd->tx_lock held. Without it, xmit must not defer. */
	void (*flush)(struct netdev *nd);
	/* Hand up to budget received frames to nd->rx; returns how many. */
	int (*poll)(struct netdev *nd, int budget);
	/* Enable or disable the receive interrupt. */
	void (*irq_enable)(struct netdev *nd, bool on);
	bool (*link_up)(struct netdev *nd);
};

/* Counters are updated by the driver without locks (each by one side: rx
 * fields from poll, tx fields under tx_lock); they are for reports only. */
struct netdev_stats {
	u64 rx_packets, rx_bytes, rx_dropped, rx_errors;
	u64 tx_packets, tx_bytes, tx_busy, tx_errors;
	u64 irqs;
};

struct netdev {
	char name[16];
	const char *model;		/* "e1000", "virtio-net" */
	u8 mac[ETH_ALEN];
	u16 mtu;
	const struct netdev_ops *ops;
	void *priv;
	spinlock_t tx_lock;		/* serialises ops->xmit and ops->flush */
	bool tx_defer;			/* for xmit: more frames follow, a flush will come; tx_lock */
	int irq_cpu;			/* the CPU taking its interrupt: the one that probed it */
	/* Set by the stack before the first poll / interrupt. */
	void (*rx)(struct netdev *nd, const void *frame, size_t len);
	void (*rx_notify)(struct netdev *nd);
	void *stack_priv;
	struct netdev_stats stats;
	int index;
};

#define NETDEV_MAX 4

/* Drivers call this once the device can send and receive. */
int netdev_register(struct netdev *nd);
struct netdev *netdev_get(int index);
int netdev_count(void);
/* Send with the tx lock held; retries briefly while the ring is full. */
int netdev_xmit(struct netdev *nd, const void *frame, size_t len);
/* Batch the calling thread's frames (nestable; thread context). end
 * flushes every device once the outermost batch ends. */
void netdev_tx_batch_begin(void);
void netdev_tx_batch_end(void);

#endif
