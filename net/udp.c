/* UDP (RFC 768): port demultiplexing to registered handlers, checksum
 * verification when the sender filled one in, checksummed output. */
#include <lego/net.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/spinlock.h>

struct udp_hdr {
	u16 src, dst, len, csum;
} __attribute__((packed));

#define UDP_PORTS 16

/* udp_lock protects ports[]; handlers are read under it then called without. */
static struct {
	u16 port;
	udp_handler_t h;
	void *ctx;
} ports[UDP_PORTS];
static DEFINE_SPINLOCK(udp_lock);

int ipv4_send_udp(u32 dst, u8 *frame, size_t l4len);

int udp_bind(u16 port, udp_handler_t h, void *ctx)
{
	int ret = -ENOSPC;
	unsigned long f = spin_lock_irqsave(&udp_lock);
	for (int i = 0; i < UDP_PORTS; i++)
		if (ports[i].h && ports[i].port == port) {
			ret = -EBUSY;
			goto out;
		}
	for (int i = 0; i < UDP_PORTS; i++)
		if (!ports[i].h) {
			ports[i].port = port;
			ports[i].ctx = ctx;
			ports[i].h = h;
			ret = 0;
			break;
		}
out:
	spin_unlock_irqrestore(&udp_lock, f);
	return ret;
}

static u32 pseudo_sum(u32 src, u32 dst, size_t len)
{
	u32 s = 0;
	s += ntohl(src) >> 16;
	s += ntohl(src) & 0xffff;
	s += ntohl(dst) >> 16;
	s += ntohl(dst) & 0xffff;
	s += IPPROTO_UDP;
	s += (u32)len;
	return s;
}

void udp_input(struct netdev *nd, u32 src_ip, u32 dst_ip, const void *pkt, size_t len)
{
	const struct udp_hdr *u = pkt;

	NET_STAT_INC(rx_udp);
	if (len < sizeof(*u) || ntohs(u->len) < sizeof(*u) || ntohs(u->len) > len) {
		NET_STAT_INC(rx_bad_udp);
		return;
	}
	len = ntohs(u->len);
	if (u->csum && inet_csum(pkt, len, pseudo_sum(src_ip, dst_ip, len)) != 0) {
		NET_STAT_INC(rx_bad_udp);
		return;
	}
	u16 port = ntohs(u->dst);
	udp_handler_t h = NULL;
	void *ctx = NULL;
	unsigned long f = spin_lock_irqsave(&udp_lock);
	for (int i = 0; i < UDP_PORTS; i++)
		if (ports[i].h && ports[i].port == port) {
			h = ports[i].h;
			ctx = ports[i].ctx;
		}
	spin_unlock_irqrestore(&udp_lock, f);
	if (!h) {
		NET_STAT_INC(rx_no_port);
		return;
	}
	h(ctx, src_ip, ntohs(u->src), (const u8 *)pkt + sizeof(*u), len - sizeof(*u));
}

int udp_send2(u16 src_port, u32 dst_ip, u16 dst_port, const void *hdr, size_t hlen,
	      const void *payload, size_t plen)
{
	u8 frame[ETH_FRAME_MAX];
	const size_t off = ETH_HLEN + 20;

	if (hlen + plen > UDP_MAX_PAYLOAD)
		return -EMSGSIZE;
	struct udp_hdr *u = (struct udp_hdr *)(frame + off);
	size_t len = sizeof(*u) + hlen + plen;
	u->src = htons(src_port);
	u->dst = htons(dst_port);
	u->len = htons((u16)len);
	u->csum = 0;
	memcpy(frame + off + sizeof(*u), hdr, hlen);
	if (plen)
		memcpy(frame + off + sizeof(*u) + hlen, payload, plen);
	u16 c = inet_csum(u, len, pseudo_sum(net_config.ip, dst_ip, len));
	u->csum = c ? c : 0xffff;	/* 0 would mean "no checksum" */
	return ipv4_send_udp(dst_ip, frame, len);
}
