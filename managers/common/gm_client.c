/* Registration with the global managers (paper section 4.6).
 *
 * Nothing about the cluster is compiled in: the node learns the managers'
 * address from lego.gm=, registers with the manager of its kind and gets
 * its node id from it. A heartbeat thread then keeps it alive in the
 * manager's eyes; if the manager answers a heartbeat with -ENOENT (it
 * declared us dead, or lost us) the node registers again and gets a new id.
 * The incarnation number, random per boot, lets the manager tell a retry
 * (same incarnation, same id) from a reboot (new id, old one dead). */
#include <lego/gm_client.h>
#include <lego/rpc.h>
#include <lego/net.h>
#include <lego/params.h>
#include <lego/monitor.h>
#include <lego/printk.h>
#include <lego/sched.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/time.h>
#include <lego/mm.h>
#include <lego/smp.h>
#include <uapi/lego/gm.h>
#include <asm/cpu.h>

static unsigned gm_wait_ms = 10000;
static u32 incarnation;
static u32 heartbeat_ms = 200;
static bool registered;		/* written by the registering thread only */
static bool refresh_wanted;	/* gm_client_refresh: register again (atomic) */

#define MAX_DEATH_HOOKS 4
static gm_death_hook_t death_hooks[MAX_DEATH_HOOKS];

static int wait_param(const char *val, void *arg)
{
	u64 v;
	if (!val || cmdline_parse_u64(val, &v) || v > 600000)
		return -EINVAL;
	gm_wait_ms = (unsigned)v;
	return 0;
}
LEGO_PARAM("lego.gm_wait_ms", wait_param, NULL);

static const char *manager_name(void)
{
	return monitor_personality == LEGO_PERS_PROCESSOR ? "gpmd"
	       : monitor_personality == LEGO_PERS_MEMORY  ? "gmmd"
							  : "gsmd";
}

static struct rpc_endpoint manager(void)
{
	struct rpc_endpoint ep = { net_config.gm_ip, LEGO_GMM_PORT };
	if (monitor_personality == LEGO_PERS_PROCESSOR)
		ep.port = LEGO_GPM_PORT;
	else if (monitor_personality == LEGO_PERS_STORAGE)
		ep.port = LEGO_GSM_PORT;
	return ep;
}

static int gm_register(unsigned timeout_ms)
{
	struct lego_gm_register_req q;
	struct lego_gm_register_reply rep;
	struct rpc_endpoint ep = manager();
	u32 got = 0;

	memset(&q, 0, sizeof(q));
	q.personality = (u32)monitor_personality;
	q.incarnation = incarnation;
	if (net_config.name[0])
		strlcpy(q.name, net_config.name, sizeof(q.name));
	else
		snprintf(q.name, sizeof(q.name), "%s-%02x%02x", monitor_name, net_primary()->mac[4],
			 net_primary()->mac[5]);
	q.ipv4 = net_config.ip;
	q.rpc_port = LEGO_RPC_PORT;
	/* Asked at every registration: the monitor's health may have
	 * changed since the last one (e.g. its store went read-only). */
	struct monitor_reg_info ri = { 0, 0 };
	monitor_reg_info(&ri);
	q.flags = (monitor_wants_notify ? LEGO_GM_REG_WANT_NOTIFY : 0) | ri.flags;
	q.cpus = (u32)atomic_read(&nr_cpus_online);
	q.mem_bytes = mem_usable_bytes;
	q.storage_bytes = ri.storage_bytes;
	int r = rpc_call(&ep, LEGO_OP_GM_REGISTER, &q, sizeof(q), &rep, sizeof(rep), &got, timeout_ms);
	if (r < 0)
		return r;
	if (got != sizeof(rep) || !rep.node_id)
		return -EPROTO;
	u32 old = net_config.node_id;
	net_config.node_id = rep.node_id;
	if (rep.heartbeat_ms >= 10 && rep.heartbeat_ms <= 60000)
		heartbeat_ms = rep.heartbeat_ms;
	printk(KERN_INFO "gm: registered with %s as node %u (heartbeat %u ms, dead after %u ms)%s%s\n",
	       manager_name(), rep.node_id, heartbeat_ms, rep.dead_after_ms,
	       old && old != rep.node_id ? " (replacing the command line's id)" : "",
	       q.flags & LEGO_GM_REG_UNHEALTHY ? ", flagged unhealthy" : "");
	registered = true;
	return 0;
}

static int heartbeat_thread(void *arg)
{
	bool complained = false;

	current->activity = "gm heartbeat";
	for (;;) {
		if (!registered) {
			if (gm_register(1000) < 0) {
				msleep(500);
				continue;
			}
		} else if (__atomic_exchange_n(&refresh_wanted, false, __ATOMIC_ACQ_REL)) {
			/* Same incarnation: the manager keeps our id and takes
			 * the new flags. Keep asking until it has heard. */
			if (gm_register(1000) < 0)
				__atomic_store_n(&refresh_wanted, true, __ATOMIC_RELEASE);
		}
		msleep(heartbeat_ms);
		struct lego_gm_heartbeat_req hb = { net_config.node_id, incarnation };
		struct rpc_endpoint ep = manager();
		int r = rpc_call(&ep, LEGO_OP_GM_HEARTBEAT, &hb, sizeof(hb), NULL, 0, NULL,
				 heartbeat_ms * 4 > 500 ? heartbeat_ms * 4 : 500);
		if (r == -ENOENT) {
			pr_warn("gm: %s no longer knows node %u; registering again\n", manager_name(),
				net_config.node_id);
			registered = false;
		} else if (r < 0 && !complained) {
			pr_warn("gm: heartbeat to %s failed (%d); still trying\n", manager_name(), r);
			complained = true;
		} else if (r >= 0 && complained) {
			printk(KERN_INFO "gm: %s answers heartbeats again\n", manager_name());
			complained = false;
		}
	}
	return 0;
}

static int op_notify(struct rpc_req *r)
{
	if (r->len != sizeof(struct lego_gm_notify))
		return -EINVAL;
	const struct lego_gm_notify *n = r->data;
	printk(KERN_INFO "gm: told that node %u (%s) died\n", n->node_id,
	       n->personality == LEGO_PERS_PROCESSOR ? "processor"
	       : n->personality == LEGO_PERS_MEMORY  ? "memory"
						     : "storage");
	for (int i = 0; i < MAX_DEATH_HOOKS; i++) {
		gm_death_hook_t h = READ_ONCE(death_hooks[i]);
		if (h)
			h(n->node_id, n->personality);
	}
	return 0;
}

void gm_client_refresh(void)
{
	__atomic_store_n(&refresh_wanted, true, __ATOMIC_RELEASE);
}

void gm_client_on_death(gm_death_hook_t hook)
{
	for (int i = 0; i < MAX_DEATH_HOOKS; i++)
		if (__atomic_compare_exchange_n(&death_hooks[i], &(gm_death_hook_t){ NULL }, hook, false,
						__ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			return;
	pr_warn("gm: too many death hooks\n");
}

void gm_client_start(void)
{
	rpc_register(LEGO_OP_GM_NOTIFY, op_notify, "gm-notify");
	if (!net_config.gm_ip) {
		pr_warn("gm: no lego.gm= given; running without global managers\n");
		return;
	}
	if (!net_primary() || !net_config.ip) {
		pr_warn("gm: no configured network; cannot reach the global managers\n");
		return;
	}
	incarnation = (u32)(rdtsc() * 0x9e3779b97f4a7c15ull >> 29) | 1;

	/* Come up registered when the managers are there: wait a bounded time,
	 * then carry on and keep trying in the background. */
	u64 deadline = ktime_ns() + (u64)gm_wait_ms * NSEC_PER_MSEC;
	int r = -ETIMEDOUT;
	while (ktime_ns() < deadline) {
		r = gm_register(1000);
		if (r == 0)
			break;
		msleep(200);
	}
	if (r < 0)
		pr_warn("gm: could not register with %s within %u ms (%d); retrying in the background\n",
			manager_name(), gm_wait_ms, r);
	struct thread *t = thread_create(heartbeat_thread, NULL, THREAD_CPU_ANY, "gm-heartbeat");
	if (t)
		thread_detach(t);
	else
		pr_err("gm: cannot start the heartbeat thread\n");
}
