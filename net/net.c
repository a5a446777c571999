/* Stack set-up, node identity and the receive thread.
 *
 * The receive thread is the paper's RPC polling thread (section 5.2): it
 * drains the NIC and runs the protocol layers, handing complete RPC
 * requests to worker threads. With CONFIG_NET_RX_POLL it spins on a
 * dedicated core and never sleeps (bare metal); with CONFIG_NET_RX_IRQ
 * (default, for the emulated rack where many guests share few host cores)
 * it sleeps until the NIC interrupts. */
#include <lego/net.h>
#include <lego/params.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/sched.h>
#include <lego/wait.h>
#include <lego/smp.h>
#include <lego/mm.h>
#include <lego/panic.h>
#include <asm/cpu.h>

struct net_config net_config;
struct net_stats net_stats;
static struct netdev *primary;

const char *ipv4_str(u32 ip, char *buf)
{
	u32 h = ntohl(ip);
	snprintf(buf, 16, "%u.%u.%u.%u", h >> 24, (h >> 16) & 255, (h >> 8) & 255, h & 255);
	return buf;
}

/* Parse "a.b.c.d" (network order result). */
static int parse_ipv4(const char *s, const char **end, u32 *out)
{
	u32 v = 0;
	for (int i = 0; i < 4; i++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		u32 part = 0;
		int digits = 0;
		while (*s >= '0' && *s <= '9' && digits < 4) {
			part = part * 10 + (u32)(*s++ - '0');
			digits++;
		}
		if (part > 255 || (*s >= '0' && *s <= '9'))
			return -EINVAL;
		v = v << 8 | part;
		if (i < 3 && *s++ != '.')
			return -EINVAL;
	}
	*end = s;
	*out = htonl(v);
	return 0;
}

static int ip_param(const char *val, void *arg)
{
	const char *p;
	u32 ip, prefix = 24;

	if (!val || parse_ipv4(val, &p, &ip))
		return -EINVAL;
	if (*p == '/') {
		u64 v;
		if (cmdline_parse_u64(p + 1, &v) || v < 1 || v > 30)
			return -EINVAL;
		prefix = (u32)v;
	} else if (*p) {
		return -EINVAL;
	}
	net_config.ip = ip;
	net_config.netmask = htonl(~0u << (32 - prefix));
	net_config.configured = true;
	return 0;
}
LEGO_PARAM("lego.ip", ip_param, NULL);

static int gm_param(const char *val, void *arg)
{
	const char *p;
	u32 ip;
	if (!val || parse_ipv4(val, &p, &ip) || *p)
		return -EINVAL;
	net_config.gm_ip = ip;
	return 0;
}
LEGO_PARAM("lego.gm", gm_param, NULL);

static int name_param(const char *val, void *arg)
{
	if (!val || !*val || strlen(val) >= sizeof(net_config.name))
		return -EINVAL;
	strlcpy(net_config.name, val, sizeof(net_config.name));
	return 0;
}
LEGO_PARAM("lego.name", name_param, NULL);

static int node_param(const char *val, void *arg)
{
	u64 v;
	if (!val || cmdline_parse_u64(val, &v) || v == 0 || v > 0xffffffffull)
		return -EINVAL;
	net_config.node_id = (u32)v;
	return 0;
}
LEGO_PARAM("lego.node", node_param, NULL);

struct netdev *net_primary(void)
{
	return primary;
}

void ether_input(struct netdev *nd, const void *frame, size_t len)
{
	const u8 *f = frame;

	NET_STAT_INC(rx_frames);
	if (len < ETH_HLEN) {
		NET_STAT_INC(rx_bad_eth);
		return;
	}
	u16 type = (u16)(f[12] << 8 | f[13]);
	if (type == ETH_P_ARP)
		arp_input(nd, f + ETH_HLEN, len - ETH_HLEN);
	else if (type == ETH_P_IP)
		ipv4_input(nd, f + ETH_HLEN, len - ETH_HLEN);
	else
		NET_STAT_INC(rx_not_ours);
}

int ether_output(struct netdev *nd, const u8 *dst_mac, u16 ethertype, void *frame, size_t len)
{
	u8 *f = frame;

	memcpy(f, dst_mac, ETH_ALEN);
	memcpy(f + 6, nd->mac, ETH_ALEN);
	f[12] = (u8)(ethertype >> 8);
	f[13] = (u8)ethertype;
	NET_STAT_INC(tx_frames);
	return netdev_xmit(nd, f, len);
}

/* ---- receive thread ---- */

struct rx_ctx {
	struct netdev *nd;
	struct wait_queue wq;
	volatile bool pending;	/* set by the interrupt, cleared by the thread */
};

static void rx_notify(struct netdev *nd)
{
	struct rx_ctx *rx = nd->stack_priv;
	rx->pending = true;
	wake_up_one(&rx->wq);
}

static int rx_thread(void *arg)
{
	struct rx_ctx *rx = arg;
	struct netdev *nd = rx->nd;

	current->activity = "network receive";
	for (;;) {
		if (nd->ops->poll(nd, 64) > 0)
			continue;
#ifdef CONFIG_NET_RX_POLL
		cpu_relax();
#else
		/* Ring empty: re-arm the interrupt, then look once more so a
		 * frame that slipped in meanwhile is not left waiting. */
		rx->pending = false;
		nd->ops->irq_enable(nd, true);
		if (nd->ops->poll(nd, 64) > 0) {
			nd->ops->irq_enable(nd, false);
			continue;
		}
		wait_event(rx->wq, rx->pending);
#endif
	}
	return 0;
}

void rpc_init(void);

void net_init(void)
{
	char buf[16];

	primary = netdev_get(0);
	if (!primary) {
		pr_warn("net: no network device; this node cannot talk to the rack\n");
		return;
	}
	if (!net_config.configured)
		pr_warn("net: no lego.ip= given; %s stays unconfigured\n", primary->name);

	struct rx_ctx *rx = kzalloc(sizeof(*rx));
	if (!rx)
		panic("net: out of memory");
	rx->nd = primary;
	wait_queue_init(&rx->wq);
	primary->stack_priv = rx;
	primary->rx = ether_input;
	primary->rx_notify = rx_notify;
	primary->ops->irq_enable(primary, false);

#ifdef CONFIG_NET_RX_POLL
	/* The paper's mode: a core of its own, busy polling. Other threads
	 * created from now on are placed elsewhere. */
	int cpu = nr_cpus_possible > 1 ? nr_cpus_possible - 1 : 0;
	if (nr_cpus_possible > 1)
		cpu_local_of(cpu)->dedicated = true;
#else
	/* Next to the NIC's interrupt: its wake-up then needs no
	 * inter-processor interrupt, and the RPC workers it wakes prefer
	 * this CPU too (queue_work), so a request is served without one. */
	int cpu = primary->irq_cpu;
#endif
	struct thread *t = thread_create(rx_thread, rx, cpu, "net-rx/%s", primary->name);
	if (!t)
		panic("net: cannot start the receive thread");
	thread_detach(t);

	printk(KERN_INFO "net: %s (%s) %02x:%02x:%02x:%02x:%02x:%02x ip %s node %u name %s, %s receive\n",
	       primary->name, primary->model, primary->mac[0], primary->mac[1], primary->mac[2],
	       primary->mac[3], primary->mac[4], primary->mac[5],
	       net_config.configured ? ipv4_str(net_config.ip, buf) : "none", net_config.node_id,
	       net_config.name[0] ? net_config.name : "-",
#ifdef CONFIG_NET_RX_POLL
	       "polling"
#else
	       "interrupt-driven"
#endif
	);
	rpc_init();
}
