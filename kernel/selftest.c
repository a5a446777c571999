/* In-kernel self-tests (lego.test=selftest, CONFIG_SELFTEST): the QEMU
 * tests use them to check what host unit tests cannot reach: real CPUs,
 * interrupts, page tables, the scheduler. */
#include <lego/selftest.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/sched.h>
#include <lego/wait.h>
#include <lego/mutex.h>
#include <lego/workqueue.h>
#include <lego/time.h>
#include <lego/mm.h>
#include <lego/string.h>
#include <lego/kallsyms.h>
#include <lego/bitmap.h>
#include <asm/apic.h>
#include <asm/irq.h>
#include <asm/io.h>
#include <asm/cpu.h>


extern const struct selftest __selftests_start[], __selftests_end[];

#define FAIL(...)                                                                \
	do {                                                                     \
		snprintf(why, len, __VA_ARGS__);                                 \
		return -1;                                                       \
	} while (0)

void selftests_run(void)
{
	int passed = 0, failed = 0, skipped = 0;
	char why[160];

	for (const struct selftest *t = __selftests_start; t < __selftests_end; t++) {
		why[0] = 0;
		current->activity = t->name;
		u64 t0 = ktime_ns();
		int r = t->fn(why, sizeof(why));
		u64 us = (ktime_ns() - t0) / 1000;
		if (r == SELFTEST_SKIP) {
			skipped++;
			printk(KERN_INFO "selftest: %s skipped: %s\n", t->name, why);
		} else if (r == 0) {
			passed++;
			printk(KERN_INFO "selftest: %s ok (%lu us)\n", t->name, (unsigned long)us);
		} else {
			failed++;
			printk(KERN_ERR "selftest: %s FAILED: %s\n", t->name, why);
		}
	}
	current->activity = NULL;
	printk(KERN_INFO "selftest: %d passed, %d failed, %d skipped\n", passed, failed, skipped);
}

/* ---- memory ---- */

static int test_kmalloc(char *why, size_t len)
{
	static void *ptrs[256];
	u32 seed = 12345;

	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < 256; i++) {
			seed = seed * 1103515245 + 12345;
			size_t sz = 1 + (seed >> 8) % (i % 16 == 0 ? 20000 : 2048);
			ptrs[i] = kmalloc(sz);
			if (!ptrs[i])
				FAIL("kmalloc(%zu) failed", sz);
			if ((unsigned long)ptrs[i] & 15)
				FAIL("kmalloc(%zu) returned misaligned %p", sz, ptrs[i]);
			memset(ptrs[i], (u8)i, sz < 64 ? sz : 64);
		}
		for (int i = 0; i < 256; i++) {
			if (((u8 *)ptrs[i])[0] != (u8)i)
				FAIL("object %d overwritten", i);
			kfree(ptrs[i]);
		}
	}
	return 0;
}
SELFTEST("kmalloc", test_kmalloc);

static int test_pages(char *why, size_t len)
{
	u64 before = page_alloc_free_bytes();
	void *blocks[11];

	for (unsigned o = 0; o < 11; o++) {
		blocks[o] = alloc_pages(o);
		if (!blocks[o])
			FAIL("alloc_pages(%u) failed", o);
		if (!IS_ALIGNED(__pa(blocks[o]), PAGE_SIZE << o))
			FAIL("order-%u block at %lx not naturally aligned", o, (unsigned long)__pa(blocks[o]));
		memset(blocks[o], 0xa5, PAGE_SIZE << o);
	}
	for (unsigned o = 0; o < 11; o++)
		free_pages(blocks[o], o);
	if (page_alloc_free_bytes() != before)
		FAIL("free bytes %lu after, %lu before", (unsigned long)page_alloc_free_bytes(),
		     (unsigned long)before);
	return 0;
}
SELFTEST("pages", test_pages);

/* ---- threads ---- */

static int ret_id(void *arg)
{
	return (int)(long)arg * 3 + smp_processor_id() * 0;
}

static int record_cpu(void *arg)
{
	*(volatile int *)arg = smp_processor_id();
	return 7;
}

static int test_threads(char *why, size_t len)
{
	struct thread *t[16];
	int n = 16;

	for (int i = 0; i < n; i++) {
		t[i] = thread_create(ret_id, (void *)(long)i, THREAD_CPU_ANY, "st-%d", i);
		if (!t[i])
			FAIL("thread_create %d failed", i);
	}
	for (int i = 0; i < n; i++) {
		int code = thread_join(t[i]);
		if (code != i * 3)
			FAIL("thread %d exit code %d, want %d", i, code, i * 3);
	}
	/* Pinning: a thread created for CPU k runs on CPU k. */
	for (int cpu = 0; cpu < nr_cpus_possible; cpu++) {
		volatile int where = -1;
		struct thread *p = thread_create(record_cpu, (void *)&where, cpu, "pin-%d", cpu);
		if (!p)
			FAIL("pinned create on cpu %d failed", cpu);
		if (thread_join(p) != 7 || where != cpu)
			FAIL("thread pinned to cpu %d ran on cpu %d", cpu, where);
	}
	return 0;
}
SELFTEST("threads", test_threads);

static int test_placement(char *why, size_t len)
{
	/* New threads go to the CPU hosting fewest threads (section 4.3.1). */
	int online = atomic_read(&nr_cpus_online);
	struct thread *t[64];
	int n = online * 2 < 64 ? online * 2 : 64;
	static struct completion go;
	int per_cpu[CONFIG_NR_CPUS] = { 0 };

	completion_init(&go);
	for (int i = 0; i < n; i++) {
		t[i] = thread_create((thread_fn_t)(void *)wait_for_completion, &go, THREAD_CPU_ANY,
				     "place-%d", i);
		if (!t[i])
			FAIL("create failed");
		per_cpu[t[i]->cpu]++;
	}
	complete_all(&go);
	int min = 1 << 30, max = 0;
	for (int c = 0; c < nr_cpus_possible; c++) {
		min = MIN(min, per_cpu[c]);
		max = MAX(max, per_cpu[c]);
	}
	for (int i = 0; i < n; i++)
		thread_join(t[i]);
	if (max - min > 2)
		FAIL("unbalanced placement: min %d max %d threads per cpu", min, max);
	return 0;
}
SELFTEST("placement", test_placement);

struct counter_ctx {
	spinlock_t lock;
	struct mutex mutex;
	volatile long value;
	int iters;
	bool use_mutex;
};

static int count_worker(void *arg)
{
	struct counter_ctx *c = arg;

	for (int i = 0; i < c->iters; i++) {
		if (c->use_mutex) {
			mutex_lock(&c->mutex);
			long v = c->value;
			if (i % 64 == 0)
				thread_yield();	/* hold the mutex across a switch */
			c->value = v + 1;
			mutex_unlock(&c->mutex);
		} else {
			unsigned long f = spin_lock_irqsave(&c->lock);
			long v = c->value;
			cpu_relax();
			c->value = v + 1;
			spin_unlock_irqrestore(&c->lock, f);
		}
	}
	return 0;
}

static int run_counter(bool use_mutex, int iters, char *why, size_t len)
{
	static struct counter_ctx c;
	struct thread *t[4];
	int n = 4;

	spin_lock_init(&c.lock);
	mutex_init(&c.mutex);
	c.value = 0;
	c.iters = iters;
	c.use_mutex = use_mutex;
	for (int i = 0; i < n; i++)
		if (!(t[i] = thread_create(count_worker, &c, THREAD_CPU_ANY, "cnt-%d", i)))
			FAIL("create failed");
	for (int i = 0; i < n; i++)
		thread_join(t[i]);
	if (c.value != (long)n * iters)
		FAIL("counter %ld, want %ld", c.value, (long)n * iters);
	return 0;
}

static int test_spinlock(char *why, size_t len)
{
	return run_counter(false, 3000, why, len);
}
SELFTEST("spinlock", test_spinlock);

static int test_mutex(char *why, size_t len)
{
	return run_counter(true, 500, why, len);
}
SELFTEST("mutex", test_mutex);

struct pingpong {
	struct completion ping, pong;
	int rounds;
};

static int pong_thread(void *arg)
{
	struct pingpong *p = arg;
	for (int i = 0; i < p->rounds; i++) {
		wait_for_completion(&p->ping);
		complete(&p->pong);
	}
	return 0;
}

static int test_completion(char *why, size_t len)
{
	static struct pingpong p;
	int last = nr_cpus_possible - 1;

	completion_init(&p.ping);
	completion_init(&p.pong);
	p.rounds = 500;
	struct thread *t = thread_create(pong_thread, &p, last, "pong");
	if (!t)
		FAIL("create failed");
	for (int i = 0; i < p.rounds; i++) {
		complete(&p.ping);
		if (!wait_for_completion_timeout(&p.pong, 2 * NSEC_PER_SEC))
			FAIL("round %d: no answer within 2 s", i);
	}
	thread_join(t);
	return 0;
}
SELFTEST("completion", test_completion);

static int test_sleep(char *why, size_t len)
{
	u64 t0 = ktime_ns();
	msleep(30);
	u64 d = ktime_ns() - t0;
	if (d < 30 * NSEC_PER_MSEC)
		FAIL("msleep(30) returned after %lu us", (unsigned long)(d / 1000));

	static DEFINE_WAIT_QUEUE(never);
	t0 = ktime_ns();
	bool ok = wait_event_timeout(never, false, 20 * NSEC_PER_MSEC);
	d = ktime_ns() - t0;
	if (ok || d < 20 * NSEC_PER_MSEC)
		FAIL("wait_event_timeout: ok=%d after %lu us", ok, (unsigned long)(d / 1000));

	t0 = ktime_ns();
	udelay(2000);
	d = ktime_ns() - t0;
	if (d < 2 * NSEC_PER_MSEC)
		FAIL("udelay(2000) took %lu us", (unsigned long)(d / 1000));
	return 0;
}
SELFTEST("sleep", test_sleep);

static struct completion timer_done;
static void timer_fired(struct timer *t)
{
	complete(&timer_done);
}

static int test_timer(char *why, size_t len)
{
	struct timer t;

	completion_init(&timer_done);
	timer_init(&t, timer_fired);
	u64 t0 = ktime_ns();
	timer_arm(&t, t0 + 10 * NSEC_PER_MSEC);
	if (!wait_for_completion_timeout(&timer_done, 2 * NSEC_PER_SEC))
		FAIL("timer did not fire");
	if (ktime_ns() - t0 < 10 * NSEC_PER_MSEC)
		FAIL("timer fired early");
	/* A cancelled timer must not fire. The expiry is far enough ahead
	 * that the cancel comes first even when the host stalls this vCPU
	 * (5 ms was seen to pass between arm and cancel under load). */
	timer_arm(&t, ktime_ns() + 200 * NSEC_PER_MSEC);
	if (!timer_cancel(&t))
		FAIL("cancel of a pending timer returned false");
	msleep(250);
	if (completion_done_count(&timer_done))
		FAIL("cancelled timer fired");
	return 0;
}
SELFTEST("timer", test_timer);

/* Two CPU-bound threads on one core: the second only runs if the timer
 * preempts the first, which must happen on an oversubscribed core. */
static volatile bool preempt_flag;

static int spinner(void *arg)
{
	u64 deadline = ktime_ns() + 3 * NSEC_PER_SEC;
	while (!preempt_flag)
		if (ktime_ns() > deadline)
			return -1;
	return 0;
}

static int setter(void *arg)
{
	preempt_flag = true;
	return 0;
}

static int test_preemption(char *why, size_t len)
{
	int cpu = nr_cpus_possible - 1;

	preempt_flag = false;
	struct thread *a = thread_create(spinner, NULL, cpu, "spin");
	struct thread *b = thread_create(setter, NULL, cpu, "set");
	if (!a || !b)
		FAIL("create failed");
	int ra = thread_join(a);
	thread_join(b);
	if (ra)
		FAIL("the second thread never ran on cpu %d", cpu);
	return 0;
}
SELFTEST("preemption", test_preemption);

/* ---- CPUs and interrupts ---- */

static unsigned long ipi_seen[BITS_TO_LONGS(CONFIG_NR_CPUS)];

static void mark_cpu(void *arg)
{
	__atomic_fetch_or(&ipi_seen[smp_processor_id() / BITS_PER_LONG],
			  1ul << (smp_processor_id() % BITS_PER_LONG), __ATOMIC_SEQ_CST);
}

static int test_ipi(char *why, size_t len)
{
	for (int round = 0; round < 50; round++) {
		memset(ipi_seen, 0, sizeof(ipi_seen));
		smp_call_all(mark_cpu, NULL);
		for (int c = 0; c < nr_cpus_possible; c++)
			if (cpu_local_of(c) && cpu_local_of(c)->online && !bitmap_test_bit(ipi_seen, c))
				FAIL("round %d: cpu %d did not run the call", round, c);
	}
	return 0;
}
SELFTEST("ipi", test_ipi);

static volatile unsigned long shoot_va;
static volatile u32 shoot_seen[CONFIG_NR_CPUS];

static void read_va(void *arg)
{
	shoot_seen[smp_processor_id()] = *(volatile u32 *)shoot_va;
}

static int test_tlb_shootdown(char *why, size_t len)
{
	phys_addr_t a = alloc_pages_phys(0), b = alloc_pages_phys(0);
	if (!a || !b)
		FAIL("no pages");
	*(u32 *)__va(a) = 0xaaaa;
	*(u32 *)__va(b) = 0xbbbb;
	u32 *m = ioremap_cache(a, PAGE_SIZE);
	if (!m)
		FAIL("map failed");
	shoot_va = (unsigned long)m;
	smp_call_all(read_va, NULL);	/* every CPU caches the translation */
	for (int c = 0; c < nr_cpus_possible; c++)
		if (cpu_local_of(c) && shoot_seen[c] != 0xaaaa)
			FAIL("cpu %d read %x before remap", c, shoot_seen[c]);
	kmap_page(shoot_va, b, PTE_W | PTE_NX | PTE_G);
	tlb_shootdown_kernel(shoot_va, shoot_va + PAGE_SIZE);
	smp_call_all(read_va, NULL);
	for (int c = 0; c < nr_cpus_possible; c++)
		if (cpu_local_of(c) && shoot_seen[c] != 0xbbbb)
			FAIL("cpu %d still reads %x after shootdown", c, shoot_seen[c]);
	kunmap_page(shoot_va);
	tlb_shootdown_kernel(shoot_va, shoot_va + PAGE_SIZE);
	free_pages_phys(a, 0);
	free_pages_phys(b, 0);
	return 0;
}
SELFTEST("tlb-shootdown", test_tlb_shootdown);

static atomic_t wq_count;

static void wq_fn(struct work *w)
{
	atomic_inc(&wq_count);
}

static int test_workqueue(char *why, size_t len)
{
	static struct work items[100];
	struct workqueue *wq = workqueue_create("st-wq", 3, THREAD_CPU_ANY);
	if (!wq)
		FAIL("create failed");
	atomic_set(&wq_count, 0);
	for (int i = 0; i < 100; i++) {
		work_init(&items[i], wq_fn);
		if (!queue_work(wq, &items[i]))
			FAIL("queue %d refused", i);
	}
	workqueue_flush(wq);
	if (atomic_read(&wq_count) != 100)
		FAIL("%d of 100 items ran", atomic_read(&wq_count));
	workqueue_destroy(wq);
	return 0;
}
SELFTEST("workqueue", test_workqueue);

/* The CMOS real-time clock's periodic interrupt (ISA IRQ 8) exercises the
 * whole I/O APIC path: MADT overrides, redirection entry, vector, EOI. */
static atomic_t rtc_ticks;

static void rtc_irq(struct pt_regs *regs, void *arg)
{
	outb(0x70, 0x0c);
	inb(0x71);	/* reading register C acknowledges the RTC */
	atomic_inc(&rtc_ticks);
}

static u8 cmos_read(u8 reg)
{
	outb(0x70, 0x80 | reg);	/* bit 7 keeps NMIs disabled while we poke */
	return inb(0x71);
}

static void cmos_write(u8 reg, u8 v)
{
	outb(0x70, 0x80 | reg);
	outb(0x71, v);
}

static int test_ioapic(char *why, size_t len)
{
	int vec = irq_alloc_vector(rtc_irq, NULL);
	if (vec < 0)
		FAIL("no free vector");
	atomic_set(&rtc_ticks, 0);
	unsigned long f = local_irq_save();
	cmos_write(0x0a, (cmos_read(0x0a) & 0xf0) | 0x06);	/* 1024 Hz */
	u8 b = cmos_read(0x0b);
	cmos_write(0x0b, b | 0x40);	/* periodic interrupt enable */
	cmos_read(0x0c);
	local_irq_restore(f);
	if (ioapic_route_isa(8, vec, this_cpu()->apic_id))
		FAIL("no I/O APIC line for IRQ 8");
	u64 deadline = ktime_ns() + 2 * NSEC_PER_SEC;
	while (atomic_read(&rtc_ticks) < 5 && ktime_ns() < deadline)
		msleep(2);
	ioapic_mask_isa(8);
	f = local_irq_save();
	cmos_write(0x0b, b & ~0x40);
	cmos_read(0x0c);
	local_irq_restore(f);
	if (atomic_read(&rtc_ticks) < 5)
		FAIL("only %d RTC interrupts in 2 s", atomic_read(&rtc_ticks));
	return 0;
}
SELFTEST("ioapic-rtc", test_ioapic);

static int test_kallsyms(char *why, size_t len)
{
	unsigned long off, size;
	const char *n = kallsyms_lookup((unsigned long)test_kallsyms + 3, &off, &size);
	if (!n || strcmp(n, "test_kallsyms") || off != 3 || size < 4)
		FAIL("lookup gave %s+%lx", n ? n : "(none)", off);
	if (kallsyms_find("selftests_run") != (unsigned long)selftests_run)
		FAIL("kallsyms_find(selftests_run) wrong");
	return 0;
}
SELFTEST("kallsyms", test_kallsyms);
