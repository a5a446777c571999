/* Memory monitor entry points (paper §4.4, §5.4). Before the node
 * registers with GMM its services are registered: the home role
 * (home.c, loader.c: address spaces, placement, exec) and the vRegion
 * owner role (owner.c: vmas and pages), so that the first request after
 * registration can be served. Design: docs/memory.md. */
#include <lego/monitor.h>
#include <lego/printk.h>
#include <lego/smp.h>
#include <uapi/lego/gm.h>
#include "home.h"
#include "owner.h"
#include "bc_service.h"

const char monitor_name[] = "memory";
const int monitor_personality = LEGO_PERS_MEMORY;
/* Memory monitors will replicate data and must hear of deaths. */
const bool monitor_wants_notify = true;

void monitor_init(void)
{
	owner_init();
	bc_init();
	home_init();
}

void monitor_reg_info(struct monitor_reg_info *ri)
{
}

/* The core's load figures say it all; no storage. */
void monitor_load(struct lego_load *l)
{
}

void monitor_main(void)
{
	int cpus = atomic_read(&nr_cpus_online);

	if (cpus < CONFIG_MEMORY_MIN_CPUS)
		pr_warn("memory: only %d CPU(s) online; at least %d recommended\n", cpus,
			CONFIG_MEMORY_MIN_CPUS);
	printk(KERN_INFO "lego: memory monitor ready\n");
}
