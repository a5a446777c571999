/* Self-tests of ring 3 (lego.test=selftest): a hand-written program
 * (user_selftest_prog.S) runs in user threads with their own address
 * spaces and checks the syscall ABI, FPU/AVX and FS-base switching and the
 * uaccess functions; other runs of it fault on purpose and must reach the
 * fault hook with the right vector and address, and die cleanly. */
#include <lego/selftest.h>
#include <lego/user.h>
#include <lego/uspace.h>
#include <lego/uaccess.h>
#include <lego/sched.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/time.h>
#include <asm/fpu.h>
#include <asm/page.h>

#define FAIL(...)                                                                \
	do {                                                                     \
		snprintf(why, len, __VA_ARGS__);                                 \
		ret = -1;                                                        \
		goto out;                                                        \
	} while (0)

/* User layout and the data page header: see user_selftest_prog.S. */
#define UT_CODE 0x400000ul
#define UT_DATA 0x600000ul
#define UT_STACK 0x700000ul
#define UT_ROLE 0
#define UT_HAS_AVX 8
#define UT_SEED 16
#define UT_FAULT_MODE 24
#define UT_FSGSBASE 32
#define UT_SPIN 40
#define UT_STOP 48
#define UT_LOOPS 56
#define UT_WATCH 0x800000ul
#define UT_LAZY 0x900000ul
#define UT_WATCH_NEW 0x6e6e6e6e6e6e6e6eull
#define UT_WATCH_GIVEUP 0x9999999999999999ull
#define UT_MARK 0xa00
#define UT_STRING 0xf00

#define SYS_T_ECHO 500
#define SYS_T_YIELD 501
#define SYS_T_EXIT 502
#define SYS_T_UACCESS 503
#define SYS_T_IRET 504
#define SYS_T_BAD_RIP 505
#define SYS_ARCH_PRCTL 158

enum { ROLE_MAIN, ROLE_CLOBBER, ROLE_FAULT, ROLE_SPIN, ROLE_WATCH };

extern const char user_test_prog_start[], user_test_prog_end[];
extern bool x86_smap_on;
unsigned long uaccess_copy(void *dst, const void *src, unsigned long n);
void user_features_report(void);

/* One user thread of the test and its address space. The thread writes
 * the counters and the fault record; the test reads them after the join. */
struct ut_ctx {
	struct uspace *us;
	u8 *code, *data, *stack;	/* direct-map views of the three pages */
	int rounds;			/* yields before the yield syscall says stop */
	volatile bool *stop;		/* for the clobbering thread: stop when set */
	int yields;
	int echo_bad;			/* which echo argument was wrong, 0: none */
	int uaccess_step;		/* failed uaccess check, 0: none */
	int fault_vector;
	unsigned long fault_error, fault_cr2, fault_rip;
	int faults;
	bool default_ops;		/* run with the default hooks, not ut_ops */
	int watch_faults;
	u8 *lazy;			/* mapped at UT_LAZY by the access_fault hook */
	int access_faults;
};

static int ut_uaccess_checks(struct ut_ctx *c)
{
	u64 v = 0;
	char buf[32];

	if (copy_from_user(&v, (void *)(UT_DATA + UT_MARK), 8) || v != 0xda7ada7ada7ada7aull)
		return 1;
	if (copy_from_user(&v, (void *)0x12345000ul, 8) != -EFAULT)
		return 2;
	if (copy_from_user(&v, (void *)PAGE_OFFSET, 8) != -EFAULT)
		return 3;
	/* Straddles the end of the data page into unmapped space. */
	if (copy_from_user(buf, (void *)(UT_DATA + PAGE_SIZE - 8), 16) != -EFAULT)
		return 4;
	/* The code page is read-only (CR0.WP holds for the kernel too). */
	if (copy_to_user((void *)UT_CODE, &v, 8) != -EFAULT)
		return 5;
	v = 0x1234;
	if (copy_to_user((void *)(UT_DATA + 0xb00), &v, 8) || *(u64 *)(c->data + 0xb00) != 0x1234)
		return 6;
	if (strncpy_from_user(buf, (char *)(UT_DATA + UT_STRING), sizeof(buf)) != 10 ||
	    strcmp(buf, "hello user"))
		return 7;
	if (strncpy_from_user(buf, (char *)(UT_DATA + UT_STRING), 4) != 4)
		return 8;
	if (strncpy_from_user(buf, (char *)(UT_DATA + PAGE_SIZE - 4), sizeof(buf)) != -EFAULT)
		return 9;
	if (strncpy_from_user(buf, (char *)(USER_TOP - 2), sizeof(buf)) != -EFAULT)
		return 10;
	if (clear_user((void *)(UT_DATA + 0xb00), 8) || *(u64 *)(c->data + 0xb00) != 0)
		return 11;
	if (clear_user((void *)(UT_DATA + PAGE_SIZE - 8), 16) != -EFAULT)
		return 12;
	if (copy_from_user(&v, (void *)(USER_TOP - 4), 8) != -EFAULT)
		return 13;
	if (copy_from_user(&v, (void *)~0ul, 2) != -EFAULT)
		return 14;
	/* A page the access_fault hook maps on demand (as the ExCache will
	 * fetch it): the copy is retried and succeeds. */
	if (c->lazy && (copy_from_user(&v, (void *)(UT_LAZY + 8), 8) || v != 0x1a2b1a2b1a2b1a2bull ||
			c->access_faults != 1))
		return 16;
	/* SMAP is enforced: the same copy without stac faults. */
	if (x86_smap_on && uaccess_copy(&v, (void *)(UT_DATA + UT_MARK), 8) != 8)
		return 15;
	return 0;
}

static long ut_syscall(struct user_regs *r)
{
	struct ut_ctx *c = current->arg;

	switch (r->error) {
	case SYS_T_ECHO: {
		static const u64 want[6] = { 0x1111111111111111ull, 0x2222222222222222ull,
					     0x3333333333333333ull, 0x4444444444444444ull,
					     0x5555555555555555ull, 0x6666666666666666ull };
		u64 got[6] = { r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9 };
		for (int i = 0; i < 6; i++)
			if (got[i] != want[i] && !c->echo_bad)
				c->echo_bad = i + 1;
		/* SYSCALL's own ABI: rcx = return rip, r11 = rflags. */
		if (r->rcx != r->rip && !c->echo_bad)
			c->echo_bad = 7;
		if (r->r11 != r->rflags && !c->echo_bad)
			c->echo_bad = 8;
		/* Scribble on the saved argument registers' neighbours: the
		 * user must see rcx and r11 only as SYSRET leaves them. */
		return 0x5ca11ed05ca11ed0ll;
	}
	case SYS_T_YIELD:
		c->yields++;
		thread_yield();
		if (c->stop)
			return READ_ONCE(*c->stop);
		return c->yields >= c->rounds;
	case SYS_T_EXIT:
		user_kill((int)r->rdi);
	case SYS_T_UACCESS:
		c->uaccess_step = ut_uaccess_checks(c);
		return c->uaccess_step ? -1 : 0;
	case SYS_T_IRET:
		r->rcx = 0xc1c1c1c1c1c1c1c1ull;
		r->r11 = 0x1111111111111111ull;
		user_regs_request_iret();
		return 0x1e7;
	case SYS_T_BAD_RIP:
		r->rip = 0x800000000000ull;
		return 0;
	case SYS_ARCH_PRCTL:
		return arch_prctl_user((int)r->rdi, r->rsi);
	default:
		return -ENOSYS;
	}
}

static int ut_fault(struct user_regs *r, int vector, unsigned long error, unsigned long cr2)
{
	struct ut_ctx *c = current->arg;

	/* The watched page is being replaced: wait for the new mapping and
	 * retry, as the ExCache does with a page it fetches. */
	if (vector == 14 && (cr2 & PAGE_MASK) == UT_WATCH) {
		c->watch_faults++;
		for (int i = 0; i < 1000 && !uspace_lookup(c->us, UT_WATCH); i++)
			msleep(1);
		return 0;
	}

	c->faults++;
	c->fault_vector = vector;
	c->fault_error = error;
	c->fault_cr2 = cr2;
	c->fault_rip = r->rip;
	printk(KERN_INFO "user selftest: expected fault: vector %d error 0x%lx cr2 %#lx at user rip %#lx\n",
	       vector, error, cr2, (unsigned long)r->rip);
	return -EFAULT;
}

static int ut_access_fault(unsigned long addr, unsigned long error)
{
	struct ut_ctx *c = current->arg;

	if ((addr & PAGE_MASK) != UT_LAZY || !c->lazy)
		return -EFAULT;
	c->access_faults++;
	return uspace_map(c->us, UT_LAZY, __pa(c->lazy), PTE_U | PTE_NX);
}

static const struct user_ops ut_ops = {
	.syscall = ut_syscall,
	.fault = ut_fault,
	.access_fault = ut_access_fault,
};

static int ut_thread(void *arg)
{
	struct ut_ctx *c = arg;
	int r = user_thread_setup(c->us, c->default_ops ? NULL : &ut_ops);
	if (r)
		return r;
	user_enter(UT_CODE, UT_STACK + PAGE_SIZE);
}

static void ut_destroy(struct ut_ctx *c)
{
	if (c->us)
		uspace_put(c->us);
	if (c->code)
		free_page(c->code);
	if (c->data)
		free_page(c->data);
	if (c->stack)
		free_page(c->stack);
	if (c->lazy)
		free_page(c->lazy);
	memset(c, 0, sizeof(*c));
}

static int ut_create(struct ut_ctx *c, int role, u64 seed, int fault_mode)
{
	size_t prog = user_test_prog_end - user_test_prog_start;

	memset(c, 0, sizeof(*c));
	c->us = uspace_create();
	c->code = alloc_page();
	c->data = alloc_page();
	c->stack = alloc_page();
	if (!c->us || !c->code || !c->data || !c->stack || prog > PAGE_SIZE) {
		ut_destroy(c);
		return -ENOMEM;
	}
	memset(c->code, 0xcc, PAGE_SIZE);	/* int3 past the end */
	memcpy(c->code, user_test_prog_start, prog);
	memset(c->data, 0, PAGE_SIZE);
	memset(c->stack, 0, PAGE_SIZE);
	*(u64 *)(c->data + UT_ROLE) = role;
	*(u64 *)(c->data + UT_HAS_AVX) = (fpu_xcr0() & 4) != 0;
	*(u64 *)(c->data + UT_SEED) = seed;
	*(u64 *)(c->data + UT_FAULT_MODE) = fault_mode;
	u32 a, b, cc, d;
	__asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(cc), "=d"(d) : "a"(7), "c"(0));
	*(u64 *)(c->data + UT_FSGSBASE) = (b & 1) != 0;
	*(u64 *)(c->data + UT_SPIN) = 20000;
	memcpy(c->data + UT_STRING, "hello user", 11);
	memcpy(c->data + PAGE_SIZE - 4, "tail", 4);	/* no NUL before the page end */

	int r = uspace_map(c->us, UT_CODE, __pa(c->code), PTE_U);
	if (!r)
		r = uspace_map(c->us, UT_DATA, __pa(c->data), PTE_U | PTE_W | PTE_NX);
	if (!r)
		r = uspace_map(c->us, UT_STACK, __pa(c->stack), PTE_U | PTE_W | PTE_NX);
	if (r)
		ut_destroy(c);
	return r;
}

static int ut_cpu(void)
{
	return atomic_read(&nr_cpus_online) > 1 ? 1 : 0;
}

/* Syscall ABI, stack/data writes, FS base, uaccess in user context, and
 * FPU/AVX state across context switches against a second user thread in
 * another address space that clobbers its own registers. */
static int test_user_main(char *why, size_t len)
{
	struct ut_ctx a, b;
	volatile bool stop = false;
	int ret = 0;

	user_features_report();
	if (ut_create(&a, ROLE_MAIN, 0x1000000000000000ull, 0))
		FAIL("no memory for the main thread's pages");
	if (ut_create(&b, ROLE_CLOBBER, 0x7000000000000000ull, 0)) {
		ut_destroy(&a);
		snprintf(why, len, "no memory for the second thread's pages");
		return -1;
	}
	a.rounds = 8;
	b.stop = &stop;
	a.lazy = alloc_page();
	if (!a.lazy)
		FAIL("no memory for the lazily mapped page");
	memset(a.lazy, 0, PAGE_SIZE);
	*(u64 *)(a.lazy + 8) = 0x1a2b1a2b1a2b1a2bull;
	int cpu = ut_cpu();
	struct thread *tb = thread_create(ut_thread, &b, cpu, "user-b");
	struct thread *ta = tb ? thread_create(ut_thread, &a, cpu, "user-a") : NULL;
	if (!ta) {
		if (tb) {
			stop = true;
			thread_join(tb);
		}
		FAIL("thread_create failed");
	}
	int ra = thread_join(ta);
	stop = true;
	int rb = thread_join(tb);

	if (a.echo_bad)
		FAIL("syscall arguments: check %d wrong", a.echo_bad);
	if (a.uaccess_step)
		FAIL("uaccess check %d failed in user context", a.uaccess_step);
	if (ra)
		FAIL("user program failed at step %d (faults %d, vector %d rip %#lx)", ra, a.faults,
		     a.fault_vector, a.fault_rip);
	if (rb)
		FAIL("clobbering thread failed at step %d", rb);
	if (a.yields < a.rounds || b.yields < 1)
		FAIL("too few yields (%d, %d)", a.yields, b.yields);
	if (*(u64 *)(a.data + UT_MARK) != 0xda7ada7ada7ada7aull)
		FAIL("user write to the data page missing");
	if (*(u64 *)(a.stack + PAGE_SIZE - 8) != 0x57ac57ac57ac57acull)
		FAIL("user push to the stack missing");

	/* The hardware set accessed and dirty bits on the user's writes. */
	u64 ad = 0;
	if (uspace_ad_bits(a.us, UT_DATA, PTE_A | PTE_D, &ad) || ad != (PTE_A | PTE_D))
		FAIL("data page A/D bits %#lx, want both", (unsigned long)ad);
	if (uspace_ad_bits(a.us, UT_DATA, 0, &ad) || ad)
		FAIL("A/D bits not cleared (%#lx)", (unsigned long)ad);
	if (uspace_ad_bits(a.us, UT_CODE, 0, &ad) || ad != PTE_A)
		FAIL("code page A/D bits %#lx, want accessed only", (unsigned long)ad);
	u64 old = 0;
	if (uspace_unmap(a.us, UT_STACK, &old) || (old & PTE_ADDR_MASK) != __pa(a.stack) || !(old & PTE_D))
		FAIL("unmap returned pte %#lx", (unsigned long)old);
	if (uspace_lookup(a.us, UT_STACK) || uspace_unmap(a.us, UT_STACK, NULL) != -ENOENT)
		FAIL("stack page still mapped after unmap");
	if (uspace_map(a.us, UT_DATA, __pa(a.data), PTE_U) != -EEXIST ||
	    uspace_map(a.us, USER_TOP, __pa(a.data), PTE_U) != -EINVAL ||
	    uspace_map(a.us, UT_DATA + 1, __pa(a.data), PTE_U) != -EINVAL ||
	    uspace_map(a.us, 0x800000, __pa(a.data), PTE_G) != -EINVAL)
		FAIL("uspace_map accepted a bad request");
out:
	ut_destroy(&a);
	ut_destroy(&b);
	return ret;
}
SELFTEST("user-mode", test_user_main);

/* Faults from ring 3 reach the hook with the right vector, error code and
 * address, the thread dies with the hook's code, the kernel lives on. */
static int test_user_faults(char *why, size_t len)
{
	static const struct {
		int mode, vector;
		unsigned long error, cr2;
		const char *what;
	} cases[] = {
		{ 1, 14, 4, 0x12345678, "read of an unmapped user address" },
		{ 2, 13, 0, 0, "cli" },
		{ 3, 13, 0, 0, "hlt" },
		{ 4, 14, 5, 0xffff888000001000ul, "read of a kernel address" },
		{ 5, 14, 7, UT_CODE, "write to the read-only code page" },
		{ 6, 6, 0, 0, "ud2" },
		{ 7, 13, 0, 0, "syscall returning to a non-canonical rip" },
		/* IDT entry 0x80: the selector error code with the IDT bit. */
		{ 8, 13, 0x402, 0, "int $0x80" },
	};
	struct ut_ctx c;
	int ret = 0;

	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (ut_create(&c, ROLE_FAULT, 0, cases[i].mode))
			FAIL("no memory");
		struct thread *t = thread_create(ut_thread, &c, ut_cpu(), "user-fault");
		if (!t)
			FAIL("thread_create failed");
		int code = thread_join(t);
		if (code != -EFAULT || c.faults != 1)
			FAIL("%s: exit code %d, %d faults", cases[i].what, code, c.faults);
		/* QEMU's TCG puts the gate's byte offset / 8 (16-byte gates)
		 * in the error code of an IDT #GP; hardware the vector. */
		unsigned long error = c.fault_error;
		if (cases[i].mode == 8 && error == 0x802)
			error = 0x402;
		if (c.fault_vector != cases[i].vector || error != cases[i].error ||
		    c.fault_cr2 != cases[i].cr2)
			FAIL("%s: vector %d error %#lx cr2 %#lx", cases[i].what, c.fault_vector,
			     c.fault_error, c.fault_cr2);
		if (cases[i].mode == 7 ? c.fault_rip != 0x800000000000ul :
		    c.fault_rip < UT_CODE || c.fault_rip >= UT_CODE + PAGE_SIZE)
			FAIL("%s: fault rip %#lx outside the code page", cases[i].what, c.fault_rip);
		ut_destroy(&c);
	}
	/* The built-in default hooks (unless the monitor installed its own)
	 * report the fault and kill the thread. */
	if (user_default_ops_builtin()) {
		if (ut_create(&c, ROLE_FAULT, 0, 2))
			FAIL("no memory");
		c.default_ops = true;
		struct thread *t = thread_create(ut_thread, &c, ut_cpu(), "user-fault-default");
		if (!t)
			FAIL("thread_create failed");
		int code = thread_join(t);
		if (code != -EFAULT || c.faults)
			FAIL("default hooks: exit code %d, %d faults in the test hook", code, c.faults);
	}
out:
	ut_destroy(&c);
	return ret;
}
SELFTEST("user-faults", test_user_faults);

/* A user thread that never makes a syscall shares this CPU with the test
 * thread, which sleeps: it only gets the CPU back through a timer
 * interrupt in ring 3 and a preemption of the user thread. */
static int test_user_preempt(char *why, size_t len)
{
	struct ut_ctx c;
	int ret = 0;

	if (ut_create(&c, ROLE_SPIN, 0, 0))
		FAIL("no memory");
	struct thread *t = thread_create(ut_thread, &c, smp_processor_id(), "user-spin");
	if (!t)
		FAIL("thread_create failed");
	msleep(30);
	u64 loops_seen = READ_ONCE(*(volatile u64 *)(c.data + UT_LOOPS));
	WRITE_ONCE(*(volatile u64 *)(c.data + UT_STOP), 1);
	int code = thread_join(t);
	if (code)
		FAIL("spinning thread failed at step %d", code);
	if (loops_seen != 0 || *(u64 *)(c.data + UT_LOOPS) == 0)
		FAIL("spinning thread did not spin (%lu loops)", (unsigned long)*(u64 *)(c.data + UT_LOOPS));
out:
	ut_destroy(&c);
	return ret;
}
SELFTEST("user-preempt", test_user_preempt);

/* A user thread on another CPU reads a page that the test replaces: the
 * unmap must reach that CPU's TLB (IPI), the resulting fault is resolved
 * by the hook, and the thread must then see the new page. */
static int test_user_shootdown(char *why, size_t len)
{
	struct ut_ctx c;
	u64 *oldp = NULL, *newp = NULL;
	int ret = 0, online = atomic_read(&nr_cpus_online);

	memset(&c, 0, sizeof(c));
	if (online < 2) {
		snprintf(why, len, "needs two CPUs");
		return SELFTEST_SKIP;
	}
	oldp = alloc_page();
	newp = alloc_page();
	if (!oldp || !newp || ut_create(&c, ROLE_WATCH, 0, 0))
		FAIL("no memory");
	oldp[0] = 0x01d01d01d01d01d0ull;
	newp[0] = UT_WATCH_NEW;
	if (uspace_map(c.us, UT_WATCH, __pa(oldp), PTE_U | PTE_NX))
		FAIL("map of the watched page failed");
	int cpu = (smp_processor_id() + 1) % online;
	struct thread *t = thread_create(ut_thread, &c, cpu, "user-watch");
	if (!t)
		FAIL("thread_create failed");
	/* Bounded waits (2 s each): slow only when the host is loaded. */
	volatile u64 *loops = (volatile u64 *)(c.data + UT_LOOPS);
	for (int i = 0; i < 2000 && !*loops; i++)
		msleep(1);	/* until it runs and has the TLB entry */
	u64 old = 0;
	int r = uspace_unmap(c.us, UT_WATCH, &old);
	for (int i = 0; i < 2000 && !READ_ONCE(c.watch_faults); i++)
		msleep(1);	/* until it faults and waits in the hook */
	int r2 = uspace_map(c.us, UT_WATCH, __pa(newp), PTE_U | PTE_NX);
	for (int i = 0; i < 2000 && READ_ONCE(t->state) != THREAD_DEAD; i++)
		msleep(1);
	/* Still running: it reads a stale TLB entry of the old page. */
	WRITE_ONCE(oldp[0], UT_WATCH_GIVEUP);
	int code = thread_join(t);
	if (r || r2 || (old & PTE_ADDR_MASK) != __pa(oldp) || !(old & PTE_A))
		FAIL("unmap %d (pte %#lx) / map %d", r, (unsigned long)old, r2);
	if (code == 80)
		FAIL("the user thread kept seeing the old page: no shootdown");
	if (code)
		FAIL("user thread failed: %d", code);
	if (c.watch_faults < 1)
		FAIL("the user thread never faulted on the unmapped page");
out:
	if (c.us)
		uspace_unmap(c.us, UT_WATCH, NULL);
	ut_destroy(&c);
	if (oldp)
		free_page(oldp);
	if (newp)
		free_page(newp);
	return ret;
}
SELFTEST("user-shootdown", test_user_shootdown);

/* uaccess from a kernel thread without a user address space: every user
 * address is unmapped there, kernel addresses are refused up front. */
static int test_uaccess_kernel(char *why, size_t len)
{
	u64 v = 0;
	char buf[8];
	int ret = 0;

	if (copy_from_user(&v, (void *)0x1000, 8) != -EFAULT)
		FAIL("copy_from_user of an unmapped user address");
	if (copy_from_user(&v, &v, 8) != -EFAULT)
		FAIL("copy_from_user of a kernel address");
	if (copy_to_user(&v, &v, 8) != -EFAULT)
		FAIL("copy_to_user to a kernel address");
	if (copy_to_user((void *)0x2000, &v, 8) != -EFAULT)
		FAIL("copy_to_user to an unmapped user address");
	if (strncpy_from_user(buf, (char *)0x3000, sizeof(buf)) != -EFAULT)
		FAIL("strncpy_from_user of an unmapped user address");
	if (clear_user((void *)0x4000, 8) != -EFAULT)
		FAIL("clear_user of an unmapped user address");
	if (copy_from_user(&v, (void *)0x1000, 0) != 0)
		FAIL("empty copy failed");
out:
	return ret;
}
SELFTEST("uaccess-kernel", test_uaccess_kernel);
