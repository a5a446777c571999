/* Self-test of the NIC drivers against a real peer: QEMU's user-mode
 * network (slirp), whose gateway 10.0.2.2 answers ARP. For every network
 * device not yet owned by a stack (nd->rx == NULL) it
 *   1. waits for the link;
 *   2. interrupt path: enables the receive interrupt, sends an ARP who-has
 *      10.0.2.2 from 10.0.2.15 and waits for nd->rx_notify (called by the
 *      driver's interrupt handler), then polls the reply out of the ring;
 *   3. polling path: with the interrupt off, sends again and polls until
 *      the reply arrives, checking that rx_notify stays silent;
 *   4. wrap-around: 600 more exchanges, more than both rings hold.
 * A device with a stack attached is left alone: taking over its receive
 * path would steal the stack's frames. */
#include <lego/selftest.h>
#include <lego/netdev.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/time.h>
#include <lego/atomic.h>
#include <asm/cpu.h>

#define ARP_FRAME_LEN 60	/* minimum Ethernet frame without FCS */
#define NETDEV_TEST_WAIT_NS (2 * NSEC_PER_SEC)
#define NETDEV_TEST_BURST 600	/* > 2 x the 256-entry rings of both drivers */

static const u8 st_src_ip[4] = { 10, 0, 2, 15 };
static const u8 st_gw_ip[4] = { 10, 0, 2, 2 };

/* State of the device under test; one device at a time, written by the
 * test thread before the callbacks are installed. */
static struct netdev *st_nd;
static atomic_t st_notified;	/* rx_notify calls (interrupt context) */
static atomic_t st_replies;	/* ARP replies seen by rx (poll caller) */
static atomic_t st_frames;
static u8 st_gw_mac[ETH_ALEN];

static void st_build_arp(const struct netdev *nd, u8 *f)
{
	memset(f, 0, ARP_FRAME_LEN);
	memset(f, 0xff, ETH_ALEN);		/* broadcast */
	memcpy(f + 6, nd->mac, ETH_ALEN);
	f[12] = 0x08;				/* ARP */
	f[13] = 0x06;
	u8 *a = f + ETH_HLEN;
	a[1] = 1;				/* hardware: Ethernet */
	a[2] = 0x08;				/* protocol: IPv4 */
	a[4] = ETH_ALEN;
	a[5] = 4;
	a[7] = 1;				/* request */
	memcpy(a + 8, nd->mac, ETH_ALEN);
	memcpy(a + 14, st_src_ip, 4);
	memcpy(a + 24, st_gw_ip, 4);		/* target hardware address stays 0 */
}

static void st_rx(struct netdev *nd, const void *frame, size_t len)
{
	const u8 *f = frame;
	atomic_inc(&st_frames);
	if (nd != st_nd || len < ETH_HLEN + 28 || f[12] != 0x08 || f[13] != 0x06)
		return;
	const u8 *a = f + ETH_HLEN;
	if (a[6] != 0 || a[7] != 2)		/* reply */
		return;
	if (memcmp(a + 14, st_gw_ip, 4) || memcmp(a + 24, st_src_ip, 4) ||
	    memcmp(a + 18, nd->mac, ETH_ALEN))
		return;
	memcpy(st_gw_mac, a + 8, ETH_ALEN);
	atomic_inc(&st_replies);
}

static void st_notify(struct netdev *nd)
{
	if (nd == st_nd)
		atomic_inc(&st_notified);
}

/* Poll until an ARP reply has been seen or the deadline passes. */
static bool st_poll_for_reply(struct netdev *nd, u64 deadline)
{
	while (!atomic_read(&st_replies)) {
		if (nd->ops->poll(nd, 32) > 0)
			continue;
		if (ktime_ns() >= deadline)
			return false;
		msleep(1);
	}
	return true;
}

static int st_one(struct netdev *nd, char *why, size_t len)
{
	u8 frame[ARP_FRAME_LEN];
	u64 deadline = ktime_ns() + NETDEV_TEST_WAIT_NS;

	while (!nd->ops->link_up(nd)) {
		if (ktime_ns() >= deadline) {
			snprintf(why, len, "%s: link down", nd->name);
			return -1;
		}
		msleep(5);
	}

	/* Start from an empty ring with the interrupt off. */
	nd->ops->irq_enable(nd, false);
	while (nd->ops->poll(nd, 64) > 0)
		;

	/* Interrupt path. */
	atomic_set(&st_notified, 0);
	atomic_set(&st_replies, 0);
	nd->ops->irq_enable(nd, true);
	st_build_arp(nd, frame);
	u64 t0 = ktime_ns();
	int r = netdev_xmit(nd, frame, sizeof(frame));
	if (r) {
		snprintf(why, len, "%s: xmit failed (error %d)", nd->name, r);
		return -1;
	}
	deadline = t0 + NETDEV_TEST_WAIT_NS;
	while (!atomic_read(&st_notified) && ktime_ns() < deadline)
		msleep(1);
	u64 t_irq = ktime_ns() - t0;
	if (!atomic_read(&st_notified)) {
		snprintf(why, len, "%s: no receive interrupt (rx_notify) within 2 s of the ARP request "
			 "(%lu irqs in all)", nd->name, (unsigned long)nd->stats.irqs);
		return -1;
	}
	if (!st_poll_for_reply(nd, deadline)) {
		snprintf(why, len, "%s: interrupt came but no ARP reply from 10.0.2.2 in the ring "
			 "(%d frames)", nd->name, atomic_read(&st_frames));
		return -1;
	}
	u64 t_reply = ktime_ns() - t0;

	/* Polling path, interrupt off. */
	nd->ops->irq_enable(nd, false);
	while (nd->ops->poll(nd, 64) > 0)
		;
	atomic_set(&st_notified, 0);
	atomic_set(&st_replies, 0);
	t0 = ktime_ns();
	if ((r = netdev_xmit(nd, frame, sizeof(frame)))) {
		snprintf(why, len, "%s: second xmit failed (error %d)", nd->name, r);
		return -1;
	}
	if (!st_poll_for_reply(nd, t0 + NETDEV_TEST_WAIT_NS)) {
		snprintf(why, len, "%s: no ARP reply from 10.0.2.2 by polling within 2 s (%d frames)",
			 nd->name, atomic_read(&st_frames));
		return -1;
	}
	u64 t_poll = ktime_ns() - t0;
	if (atomic_read(&st_notified)) {
		snprintf(why, len, "%s: rx_notify called %d times with the receive interrupt off",
			 nd->name, atomic_read(&st_notified));
		return -1;
	}

	/* Ring wrap-around: more request/reply pairs than either ring holds,
	 * a few in flight at a time so the receive ring cannot overflow. */
	atomic_set(&st_replies, 0);
	t0 = ktime_ns();
	deadline = t0 + 5 * NETDEV_TEST_WAIT_NS;
	int sent = 0;
	while (atomic_read(&st_replies) < NETDEV_TEST_BURST && ktime_ns() < deadline) {
		while (sent < NETDEV_TEST_BURST && sent - atomic_read(&st_replies) < 8) {
			r = netdev_xmit(nd, frame, sizeof(frame));
			if (r == -EAGAIN)
				break;
			if (r) {
				snprintf(why, len, "%s: xmit %d of the burst failed (error %d)", nd->name,
					 sent, r);
				return -1;
			}
			sent++;
		}
		if (nd->ops->poll(nd, 32) == 0)
			cpu_relax();
	}
	if (atomic_read(&st_replies) < NETDEV_TEST_BURST) {
		snprintf(why, len, "%s: only %d of %d ARP replies in a burst (%d sent)", nd->name,
			 atomic_read(&st_replies), NETDEV_TEST_BURST, sent);
		return -1;
	}
	u64 t_burst = ktime_ns() - t0;

	const u8 *g = st_gw_mac;
	printk(KERN_INFO "netdev-arp: %s (%s): 10.0.2.2 is at %02x:%02x:%02x:%02x:%02x:%02x; "
	       "irq after %lu us, reply after %lu us; polled reply after %lu us; %d exchanges in %lu us\n",
	       nd->name, nd->model, g[0], g[1], g[2], g[3], g[4], g[5], (unsigned long)(t_irq / 1000),
	       (unsigned long)(t_reply / 1000), (unsigned long)(t_poll / 1000), NETDEV_TEST_BURST,
	       (unsigned long)(t_burst / 1000));
	return 0;
}

static int test_netdev_arp(char *why, size_t len)
{
	int tested = 0, n = netdev_count();
	char owned[64] = "";

	if (!n) {
		snprintf(why, len, "no network device");
		return SELFTEST_SKIP;
	}
	for (int i = 0; i < n; i++) {
		struct netdev *nd = netdev_get(i);
		if (!nd)
			continue;
		if (READ_ONCE(nd->rx) || READ_ONCE(nd->rx_notify)) {
			if (owned[0])
				strlcat(owned, " ", sizeof(owned));
			strlcat(owned, nd->name, sizeof(owned));
			printk(KERN_INFO "netdev-arp: %s (%s) belongs to the network stack; not tested\n",
			       nd->name, nd->model);
			continue;
		}
		st_nd = nd;
		atomic_set(&st_frames, 0);
		/* rx_notify first: the interrupt handler may call it as soon as
		 * a frame arrives. */
		WRITE_ONCE(nd->rx_notify, st_notify);
		WRITE_ONCE(nd->rx, st_rx);
		int r = st_one(nd, why, len);
		nd->ops->irq_enable(nd, false);
		WRITE_ONCE(nd->rx, NULL);
		WRITE_ONCE(nd->rx_notify, NULL);
		st_nd = NULL;
		if (r)
			return r;
		tested++;
	}
	if (!tested) {
		snprintf(why, len, "every network device is owned by the network stack (%s)", owned);
		return SELFTEST_SKIP;
	}
	return 0;
}
SELFTEST("netdev-arp", test_netdev_arp);
