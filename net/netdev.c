/* Registry of network devices and the locked transmit path. */
#include <lego/netdev.h>
#include <lego/errno.h>
#include <lego/printk.h>
#include <lego/time.h>
#include <lego/sched.h>
#include <lego/smp.h>
#include <asm/cpu.h>

static struct netdev *netdevs[NETDEV_MAX];	/* written at boot by drivers, then read-only */
static int nr_netdevs;
static DEFINE_SPINLOCK(netdev_lock);

int netdev_register(struct netdev *nd)
{
	unsigned long f = spin_lock_irqsave(&netdev_lock);
	if (nr_netdevs == NETDEV_MAX) {
		spin_unlock_irqrestore(&netdev_lock, f);
		pr_warn("netdev: more than %d NICs; %s ignored\n", NETDEV_MAX, nd->name);
		return -ENOSPC;
	}
	spin_lock_init(&nd->tx_lock);
	/* pci_irq_setup routes a device's interrupt to the CPU running its
	 * probe, and drivers register from their probe. */
	nd->irq_cpu = smp_processor_id();
	if (!nd->mtu)
		nd->mtu = ETH_MTU;
	nd->index = nr_netdevs;
	netdevs[nr_netdevs++] = nd;
	spin_unlock_irqrestore(&netdev_lock, f);
	return 0;
}

struct netdev *netdev_get(int index)
{
	if (index < 0 || index >= READ_ONCE(nr_netdevs))
		return NULL;
	return netdevs[index];
}

int netdev_count(void)
{
	return READ_ONCE(nr_netdevs);
}

int netdev_xmit(struct netdev *nd, const void *frame, size_t len)
{
	/* A full ring drains in microseconds; give it a bounded while before
	 * reporting -EAGAIN (the RPC layer retransmits anyway). */
	for (int tries = 0;; tries++) {
		unsigned long f = spin_lock_irqsave(&nd->tx_lock);
		nd->tx_defer = nd->ops->flush && current->net_tx_batch;
		int r = nd->ops->xmit(nd, frame, len);
		nd->tx_defer = false;
		spin_unlock_irqrestore(&nd->tx_lock, f);
		if (r != -EAGAIN || tries >= 1000)
			return r;
		nd->stats.tx_busy++;
		udelay(5);
	}
}

void netdev_tx_batch_begin(void)
{
	current->net_tx_batch++;
}

void netdev_tx_batch_end(void)
{
	if (--current->net_tx_batch)
		return;
	int n = netdev_count();
	for (int i = 0; i < n; i++) {
		struct netdev *nd = netdevs[i];
		if (!nd->ops->flush)
			continue;
		unsigned long f = spin_lock_irqsave(&nd->tx_lock);
		nd->ops->flush(nd);
		spin_unlock_irqrestore(&nd->tx_lock, f);
	}
}
