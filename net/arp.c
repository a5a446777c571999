/* ARP (RFC 826) for IPv4 over Ethernet: a small cache, answers to requests
 * for our address, and a short queue of frames per address being resolved
 * (so the first packet to a peer is not lost to resolution). Entries are
 * refreshed by any ARP packet from the peer and expire after ARP_TTL. */
#include <lego/net.h>
#include <lego/string.h>
#include <lego/spinlock.h>
#include <lego/time.h>
#include <lego/mm.h>
#include <lego/errno.h>

#define ARP_ENTRIES 64
#define ARP_QUEUE 8
#define ARP_TTL_NS (300 * NSEC_PER_SEC)
#define ARP_RETRY_NS (200 * NSEC_PER_MSEC)

struct arp_pkt {
	u16 htype, ptype;
	u8 hlen, plen;
	u16 oper;
	u8 sha[6];
	u32 spa;
	u8 tha[6];
	u32 tpa;
} __attribute__((packed));

struct queued {
	void *frame;
	size_t len;
};

/* arp_lock protects the whole table. */
static struct arp_entry {
	u32 ip;			/* 0: free slot */
	u8 mac[ETH_ALEN];
	bool resolved;
	u64 stamp_ns;		/* last confirmation, or last request sent */
	struct queued q[ARP_QUEUE];
	int nq;
} arp_table[ARP_ENTRIES];
static DEFINE_SPINLOCK(arp_lock);

static const u8 broadcast[ETH_ALEN] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static struct arp_entry *arp_find(u32 ip)
{
	for (int i = 0; i < ARP_ENTRIES; i++)
		if (arp_table[i].ip == ip)
			return &arp_table[i];
	return NULL;
}

static void entry_drop_queue(struct arp_entry *e)
{
	for (int i = 0; i < e->nq; i++)
		kfree(e->q[i].frame);
	e->nq = 0;
}

/* A slot for ip: free, else expired, else the oldest. */
static struct arp_entry *arp_slot(u32 ip)
{
	struct arp_entry *best = NULL;
	for (int i = 0; i < ARP_ENTRIES; i++) {
		struct arp_entry *e = &arp_table[i];
		if (!e->ip) {
			best = e;
			break;
		}
		if (!best || e->stamp_ns < best->stamp_ns)
			best = e;
	}
	entry_drop_queue(best);
	memset(best, 0, sizeof(*best));
	best->ip = ip;
	return best;
}

static void arp_send(struct netdev *nd, u16 oper, const u8 *tha, u32 tpa, const u8 *dst)
{
	u8 frame[ETH_HLEN + sizeof(struct arp_pkt)];
	struct arp_pkt *a = (struct arp_pkt *)(frame + ETH_HLEN);

	a->htype = htons(1);
	a->ptype = htons(ETH_P_IP);
	a->hlen = ETH_ALEN;
	a->plen = 4;
	a->oper = htons(oper);
	memcpy(a->sha, nd->mac, ETH_ALEN);
	a->spa = net_config.ip;
	memcpy(a->tha, tha, ETH_ALEN);
	a->tpa = tpa;
	ether_output(nd, dst, ETH_P_ARP, frame, sizeof(frame));
}

void arp_input(struct netdev *nd, const void *pkt, size_t len)
{
	const struct arp_pkt *a = pkt;
	struct queued flush[ARP_QUEUE];
	int nflush = 0;
	u8 mac[ETH_ALEN];

	NET_STAT_INC(rx_arp);
	if (len < sizeof(*a) || a->htype != htons(1) || a->ptype != htons(ETH_P_IP) ||
	    a->hlen != ETH_ALEN || a->plen != 4 || (a->oper != htons(1) && a->oper != htons(2)) ||
	    (a->sha[0] & 1)) {
		NET_STAT_INC(rx_bad_arp);
		return;
	}
	if (!net_config.ip)
		return;
	bool for_us = a->tpa == net_config.ip;

	unsigned long f = spin_lock_irqsave(&arp_lock);
	struct arp_entry *e = arp_find(a->spa);
	/* Learn the sender if we already track it or it is talking to us. */
	if (!e && for_us && a->spa)
		e = arp_slot(a->spa);
	if (e) {
		memcpy(e->mac, a->sha, ETH_ALEN);
		e->resolved = true;
		e->stamp_ns = ktime_ns();
		memcpy(flush, e->q, sizeof(flush));
		nflush = e->nq;
		e->nq = 0;
		memcpy(mac, e->mac, ETH_ALEN);
	}
	spin_unlock_irqrestore(&arp_lock, f);

	for (int i = 0; i < nflush; i++) {
		ether_output(nd, mac, ETH_P_IP, flush[i].frame, flush[i].len);
		kfree(flush[i].frame);
	}
	if (for_us && a->oper == htons(1))
		arp_send(nd, 2, a->sha, a->spa, a->sha);
}

bool arp_lookup(u32 ip, u8 *mac)
{
	bool ok = false;
	unsigned long f = spin_lock_irqsave(&arp_lock);
	struct arp_entry *e = arp_find(ip);
	if (e && e->resolved) {
		memcpy(mac, e->mac, ETH_ALEN);
		ok = true;
	}
	spin_unlock_irqrestore(&arp_lock, f);
	return ok;
}

int arp_output(struct netdev *nd, u32 ip, void *frame, size_t len)
{
	u8 mac[ETH_ALEN];
	bool ask = false;
	u64 now = ktime_ns();

	if (ip == 0xffffffff || (net_config.netmask && ip == (net_config.ip | ~net_config.netmask)))
		return ether_output(nd, broadcast, ETH_P_IP, frame, len);

	unsigned long f = spin_lock_irqsave(&arp_lock);
	struct arp_entry *e = arp_find(ip);
	if (e && e->resolved && now - e->stamp_ns < ARP_TTL_NS) {
		memcpy(mac, e->mac, ETH_ALEN);
		spin_unlock_irqrestore(&arp_lock, f);
		return ether_output(nd, mac, ETH_P_IP, frame, len);
	}
	if (!e)
		e = arp_slot(ip);
	if (e->resolved || now - e->stamp_ns >= ARP_RETRY_NS || e->stamp_ns == 0) {
		/* Expired or never asked (or asked long ago): ask again, but
		 * keep using nothing stale meanwhile. */
		e->resolved = false;
		e->stamp_ns = now;
		ask = true;
	}
	int ret = 0;
	void *copy = e->nq < ARP_QUEUE ? kmalloc(len) : NULL;
	if (copy) {
		memcpy(copy, frame, len);
		e->q[e->nq].frame = copy;
		e->q[e->nq].len = len;
		e->nq++;
		NET_STAT_INC(tx_arp_pending);
	} else {
		NET_STAT_INC(tx_arp_dropped);
		ret = -EAGAIN;
	}
	spin_unlock_irqrestore(&arp_lock, f);
	if (ask) {
		static const u8 zero[ETH_ALEN];
		arp_send(nd, 1, zero, ip, broadcast);
	}
	return ret;
}
