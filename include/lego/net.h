/* The kernel's network stack: Ethernet, ARP, IPv4 (with ICMP echo) and UDP,
 * just enough to carry LegoOS RPC (net/rpc.c) between components and to
 * let Linux programs reach a node with plain UDP sockets. One IPv4 address
 * per node, on its first NIC; no routing (the rack is one L2 segment). */
#ifndef LEGO_NET_H
#define LEGO_NET_H

#include <lego/types.h>
#include <lego/netdev.h>

static inline u16 htons(u16 v) { return __builtin_bswap16(v); }
static inline u16 ntohs(u16 v) { return __builtin_bswap16(v); }
static inline u32 htonl(u32 v) { return __builtin_bswap32(v); }
static inline u32 ntohl(u32 v) { return __builtin_bswap32(v); }

#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define IPPROTO_ICMP 1
#define IPPROTO_UDP 17

/* Node identity from the command line: lego.name, lego.node, lego.ip,
 * lego.gm. Addresses are in network byte order. */
struct net_config {
	char name[16];
	u32 node_id;
	u32 ip;
	u32 netmask;
	u32 gm_ip;
	bool configured;	/* lego.ip given */
};
extern struct net_config net_config;

/* Counters for malformed or unwanted input and for output, by layer.
 * Bumped from the receive thread and from senders alike: NET_STAT_INC. */
struct net_stats {
	u64 rx_frames, rx_bad_eth, rx_arp, rx_bad_arp, rx_ip, rx_bad_ip, rx_not_ours;
	u64 rx_frag_dropped, rx_icmp, rx_udp, rx_bad_udp, rx_no_port;
	u64 tx_frames, tx_no_route, tx_arp_pending, tx_arp_dropped;
};
extern struct net_stats net_stats;
#define NET_STAT_INC(field) __atomic_add_fetch(&net_stats.field, 1, __ATOMIC_RELAXED)

void net_init(void);
struct netdev *net_primary(void);
/* Format a.b.c.d from a network-order address into buf (>= 16 bytes). */
const char *ipv4_str(u32 ip, char *buf);

/* Internal layer entry points. */
void ether_input(struct netdev *nd, const void *frame, size_t len);
int ether_output(struct netdev *nd, const u8 *dst_mac, u16 ethertype, void *frame, size_t len);
void arp_input(struct netdev *nd, const void *pkt, size_t len);
/* Send an IPv4 frame (Ethernet header space at the front) to ip; queues it
 * while the address is being resolved. */
int arp_output(struct netdev *nd, u32 ip, void *frame, size_t len);
bool arp_lookup(u32 ip, u8 *mac);
void ipv4_input(struct netdev *nd, const void *pkt, size_t len);
u16 inet_csum(const void *data, size_t len, u32 sum);

/* UDP. A bound port's handler runs in the receive thread; it must not
 * sleep for long and must copy what it keeps. */
typedef void (*udp_handler_t)(void *ctx, u32 src_ip, u16 src_port, const void *data, size_t len);
int udp_bind(u16 port, udp_handler_t h, void *ctx);
void udp_input(struct netdev *nd, u32 src_ip, u32 dst_ip, const void *pkt, size_t len);
/* Send hdr followed by payload as one UDP datagram (ports in host order). */
int udp_send2(u16 src_port, u32 dst_ip, u16 dst_port, const void *hdr, size_t hlen,
	      const void *payload, size_t plen);

#define UDP_MAX_PAYLOAD (ETH_MTU - 20 - 8)

#endif
