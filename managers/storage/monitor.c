/* Storage monitor entry points (paper §4.5). Before the node registers
 * with GSM, the store is mounted and the file service registered
 * (store.c, service.c), so that GSM learns the node's capacity and health
 * in the registration and every request that follows can be served. */
#include <lego/monitor.h>
#include <lego/printk.h>
#include <lego/smp.h>
#include <uapi/lego/gm.h>
#include "storage.h"

const char monitor_name[] = "storage";
const int monitor_personality = LEGO_PERS_STORAGE;
/* Memory monitors will replicate data and must hear of deaths. */
const bool monitor_wants_notify = false;

void monitor_init(void)
{
	store_init();
	service_init();
	store_start_sync();
}

/* A node without a usable store registers all the same (operators see it
 * in legoctl nodes) but flagged unhealthy, so that GSM never places a
 * vNode's files on it. */
void monitor_reg_info(struct monitor_reg_info *ri)
{
	ri->flags |= store_reg_flags();
	ri->storage_bytes = store_capacity_bytes();
}

void monitor_load(struct lego_load *l)
{
	store_load(&l->storage_total_bytes, &l->storage_free_bytes);
}

void monitor_main(void)
{
	int cpus = atomic_read(&nr_cpus_online);

	if (cpus < CONFIG_STORAGE_MIN_CPUS)
		pr_warn("storage: only %d CPU(s) online; at least %d recommended\n", cpus,
			CONFIG_STORAGE_MIN_CPUS);
	printk(KERN_INFO "lego: storage monitor ready\n");
}
