/* Common kernel start-up for every personality, then the selected
 * monitor's entry point. */
#include <lego/boot.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/params.h>
#include <lego/mm.h>
#include <lego/smp.h>
#include <lego/sched.h>
#include <lego/time.h>
#include <lego/acpi.h>
#include <lego/fw_cfg.h>
#include <lego/monitor.h>
#include <lego/selftest.h>
#include <lego/workqueue.h>
#include <lego/pci.h>
#include <lego/string.h>
#include <lego/net.h>
#include <lego/gm_client.h>
#include <asm/apic.h>
#include <asm/cpu.h>

extern char boot_stack[], boot_stack_top[];
void sched_init(void);
void smp_init(void);
void panic_apic_ready(void);
void selftest_fault(const char *kind);

static void __noreturn halt_forever(void)
{
	for (;;) {
		local_irq_disable();
		halt();
	}
}

/* Stop without a register dump: the problem is the machine, not the code. */
static void __noreturn die(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printk(KERN_EMERG "lego: fatal: %s\n", buf);
	printk(KERN_EMERG "lego: system halted\n");
	halt_forever();
}

static void build_cmdline(void)
{
	static char cmd[sizeof(boot_cmdline)];
	char extra[512];

	strlcpy(cmd, boot_info.cmdline, sizeof(cmd));
	if (fw_cfg_read_file("opt/lego/cmdline", extra, sizeof(extra)) > 0) {
		strlcat(cmd, " ", sizeof(cmd));
		strlcat(cmd, extra, sizeof(cmd));
	}
	printk(KERN_INFO "cmdline: %s\n", cmd);
	params_parse(cmd);
}

static void report_memory(void)
{
	for (int i = 0; i < nr_mem_ranges; i++) {
		static const char *const names[] = { "?", "usable", "reserved", "ACPI reclaimable",
						     "ACPI NVS", "bad" };
		u32 t = mem_ranges[i].type;
		printk(KERN_DEBUG "mem: %016lx-%016lx %s\n", (unsigned long)mem_ranges[i].base,
		       (unsigned long)(mem_ranges[i].base + mem_ranges[i].len - 1),
		       names[t < ARRAY_SIZE(names) ? t : 0]);
	}
	u64 kib = mem_usable_bytes >> 10;
	printk(KERN_INFO "lego: memory: %lu KiB usable RAM\n", (unsigned long)kib);
	if (kib < (u64)CONFIG_MIN_RAM_MB * 1024)
		die("only %lu MiB of usable RAM; this kernel needs at least %d MiB "
		    "(CONFIG_MIN_RAM_MB)", (unsigned long)(kib >> 10), CONFIG_MIN_RAM_MB);
}

static void poweroff(void)
{
	printk(KERN_INFO "lego: powering off\n");
	int err = acpi_poweroff();
	printk(KERN_EMERG "lego: ACPI power-off failed (error %d); halting instead\n", err);
	printk(KERN_EMERG "lego: system halted\n");
	smp_stop_others();
	halt_forever();
}

static int kernel_main(void *unused)
{
	current->activity = "kernel init";
	system_wq = workqueue_create("events", 1, THREAD_CPU_ANY);
	if (!system_wq)
		panic("cannot create the system work queue");
	net_init();
	/* The monitor's own service comes up before the node registers, so
	 * that the registration can tell the manager what the node offers
	 * and whether it is healthy, and the first request finds it ready. */
	current->activity = "monitor init";
	monitor_init();
	current->activity = "kernel init";
	gm_client_start();

	if (test_requested("fault"))
		selftest_fault(test_variant("fault"));
	if (test_requested("selftest")) {
#ifdef CONFIG_SELFTEST
		selftests_run();
#else
		pr_warn("lego.test=selftest: self-tests not built (CONFIG_SELFTEST is off)\n");
#endif
	}

	current->activity = "monitor";
	monitor_main();

	if (test_requested("poweroff"))
		poweroff();
	return 0;
}

void start_kernel(void)
{
	printk(KERN_INFO "LegoOS %s monitor, booted by %s\n", CONFIG_PERSONALITY, boot_info.protocol);
	build_cmdline();

	early_mem_init();
	paging_init();
	page_alloc_init();
	kmalloc_init();
	report_memory();

	if (acpi_init())
		acpi_madt.nr_cpus = 0;
	lapic_init_bsp(acpi_madt.lapic_addr);
	this_cpu()->apic_id = lapic_id();
	ioapic_init();
	tsc_calibrate();
	lapic_timer_calibrate();
	panic_apic_ready();

	sched_init();
	smp_init();
	sched_init_cpu(thread_adopt_boot("idle/0", boot_stack, boot_stack_top - boot_stack));
	this_cpu()->online = true;
	atomic_inc(&nr_cpus_online);
	local_irq_enable();

	smp_boot_aps();
	printk(KERN_INFO "lego: cpus: %d online\n", atomic_read(&nr_cpus_online));
	pci_init();
	printk(KERN_INFO "lego: memory: %lu KiB free after boot\n",
	       (unsigned long)(page_alloc_free_bytes() >> 10));

	if (!thread_create(kernel_main, NULL, 0, "main"))
		panic("cannot create the main thread");
	cpu_idle_loop();
}
