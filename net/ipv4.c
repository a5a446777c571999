/* IPv4 input/output and ICMP echo. No fragmentation (LegoOS RPC never
 * needs it: it fragments itself), no options, no routing beyond our own
 * subnet. */
#include <lego/net.h>
#include <lego/string.h>
#include <lego/errno.h>

struct ipv4_hdr {
	u8 ver_ihl;
	u8 tos;
	u16 total_len;
	u16 id;
	u16 frag;
	u8 ttl;
	u8 proto;
	u16 csum;
	u32 src;
	u32 dst;
} __attribute__((packed));

struct icmp_echo {
	u8 type, code;
	u16 csum;
	u16 id, seq;
} __attribute__((packed));

/* One's-complement sum (RFC 1071); sum carries a partial sum in, in
 * network-order 16-bit word terms. The data is summed eight bytes at a time
 * in host (little-endian) order and byte-swapped once at the end, which the
 * one's-complement sum allows; this is on every packet's path. */
u16 inet_csum(const void *data, size_t len, u32 sum)
{
	const u8 *p = data;
	u64 s = 0;

	while (len >= 8) {
		u64 w;
		__builtin_memcpy(&w, p, 8);	/* inlined: a call per word is slow */
		s += (w & 0xffffffff) + (w >> 32);
		p += 8;
		len -= 8;
	}
	while (len >= 2) {
		u16 w;
		__builtin_memcpy(&w, p, 2);
		s += w;
		p += 2;
		len -= 2;
	}
	if (len)
		s += *p;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	u64 t = (u64)__builtin_bswap16((u16)s) + sum;
	while (t >> 16)
		t = (t & 0xffff) + (t >> 16);
	return htons((u16)~t);
}

static u16 ip_id;

/* Fill the IPv4 header in frame (after the Ethernet header) and send. */
static int ipv4_output(struct netdev *nd, u32 dst, u8 proto, u8 *frame, size_t l4len)
{
	struct ipv4_hdr *ip = (struct ipv4_hdr *)(frame + ETH_HLEN);

	if (!net_config.ip) {
		NET_STAT_INC(tx_no_route);
		return -ENETUNREACH;
	}
	ip->ver_ihl = 0x45;
	ip->tos = 0;
	ip->total_len = htons((u16)(sizeof(*ip) + l4len));
	ip->id = htons(__atomic_add_fetch(&ip_id, 1, __ATOMIC_RELAXED));
	ip->frag = htons(0x4000);	/* don't fragment */
	ip->ttl = 64;
	ip->proto = proto;
	ip->csum = 0;
	ip->src = net_config.ip;
	ip->dst = dst;
	ip->csum = inet_csum(ip, sizeof(*ip), 0);
	if (dst == net_config.ip) {
		/* To ourselves: deliver directly, as a loopback interface
		 * would. Depth is bounded: a request only queues work, and an
		 * answer the receive path sends itself (STATE, cached reply)
		 * ends at the client side, which sends nothing back. */
		NET_STAT_INC(tx_frames);
		ipv4_input(nd, ip, sizeof(*ip) + l4len);
		return 0;
	}
	return arp_output(nd, dst, frame, ETH_HLEN + sizeof(*ip) + l4len);
}

static void icmp_input(struct netdev *nd, const struct ipv4_hdr *ip, const u8 *pkt, size_t len)
{
	u8 frame[ETH_FRAME_MAX];

	NET_STAT_INC(rx_icmp);
	if (len < sizeof(struct icmp_echo) || inet_csum(pkt, len, 0) != 0)
		return;
	const struct icmp_echo *e = (const void *)pkt;
	if (e->type != 8 || e->code != 0 || ip->dst != net_config.ip)
		return;	/* only echo requests to us */
	size_t off = ETH_HLEN + sizeof(struct ipv4_hdr);
	memcpy(frame + off, pkt, len);
	struct icmp_echo *r = (struct icmp_echo *)(frame + off);
	r->type = 0;
	r->csum = 0;
	r->csum = inet_csum(r, len, 0);
	ipv4_output(nd, ip->src, IPPROTO_ICMP, frame, len);
}

void ipv4_input(struct netdev *nd, const void *pkt, size_t len)
{
	const struct ipv4_hdr *ip = pkt;

	NET_STAT_INC(rx_ip);
	if (len < sizeof(*ip) || (ip->ver_ihl >> 4) != 4 || (ip->ver_ihl & 15) < 5) {
		NET_STAT_INC(rx_bad_ip);
		return;
	}
	size_t hlen = (size_t)(ip->ver_ihl & 15) * 4;
	size_t tlen = ntohs(ip->total_len);
	if (tlen < hlen || tlen > len || hlen > len || inet_csum(ip, hlen, 0) != 0) {
		NET_STAT_INC(rx_bad_ip);
		return;
	}
	if (ntohs(ip->frag) & 0x3fff) {	/* MF set or non-zero offset */
		NET_STAT_INC(rx_frag_dropped);
		return;
	}
	bool bcast = ip->dst == 0xffffffff ||
		     (net_config.netmask && ip->dst == (net_config.ip | ~net_config.netmask));
	if (!net_config.ip || (ip->dst != net_config.ip && !bcast)) {
		NET_STAT_INC(rx_not_ours);
		return;
	}
	const u8 *l4 = (const u8 *)pkt + hlen;
	if (ip->proto == IPPROTO_UDP)
		udp_input(nd, ip->src, ip->dst, l4, tlen - hlen);
	else if (ip->proto == IPPROTO_ICMP)
		icmp_input(nd, ip, l4, tlen - hlen);
	else
		NET_STAT_INC(rx_not_ours);
}

int ipv4_send_udp(u32 dst, u8 *frame, size_t l4len);
int ipv4_send_udp(u32 dst, u8 *frame, size_t l4len)
{
	struct netdev *nd = net_primary();
	if (!nd)
		return -ENODEV;
	return ipv4_output(nd, dst, IPPROTO_UDP, frame, l4len);
}
