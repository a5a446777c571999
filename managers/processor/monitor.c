/* Processor monitor entry point. For now it only announces that the node is
 * up; the processor component's services arrive with later issues. */
#include <lego/monitor.h>
#include <lego/printk.h>
#include <lego/smp.h>
#include <uapi/lego/gm.h>

const char monitor_name[] = "processor";
const int monitor_personality = LEGO_PERS_PROCESSOR;
/* Memory monitors will replicate data and must hear of deaths. */
const bool monitor_wants_notify = false;

/* Nothing to bring up before registering yet. */
void monitor_init(void)
{
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

	if (cpus < CONFIG_PROCESSOR_MIN_CPUS)
		pr_warn("processor: only %d CPU(s) online; at least %d recommended\n", cpus,
			CONFIG_PROCESSOR_MIN_CPUS);
	printk(KERN_INFO "lego: processor monitor ready\n");
}
