/* Processor monitor entry points (paper §4.3): before the node registers
 * with GPM it reserves the ExCache, installs the Linux syscall shim and
 * registers the RUN service, so the first request after registration can
 * be served. Design: docs/processor.md. */
#include <lego/monitor.h>
#include <lego/excache.h>
#include <lego/printk.h>
#include <lego/smp.h>
#include <uapi/lego/gm.h>
#include "proc.h"

const char monitor_name[] = "processor";
const int monitor_personality = LEGO_PERS_PROCESSOR;
/* Memory monitors will replicate data and must hear of deaths. */
const bool monitor_wants_notify = false;

void monitor_init(void)
{
	int r = excache_init();

	if (r < 0)
		pr_err("processor: no ExCache (%d): programs cannot run here\n", r);
	proc_init();
	syscall_init();
	run_init();
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
