/* Deliberate faults (lego.test=fault[:kind]) so that tests can check the
 * panic dump: exceptions, a kernel stack overflow, heap corruption caught
 * by the kmalloc debug checks. Always built: the dump path matters most in
 * the configurations people actually run. */
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/mm.h>
#include <lego/string.h>

void selftest_fault(const char *kind);

static volatile unsigned long *volatile fault_ptr = (unsigned long *)0x10;

/* Recursion with a stack frame the compiler cannot elide; the depth check
 * never ends it in practice but keeps the compiler from calling it endless. */
static __noinline int recurse_deep(int depth)
{
	volatile char pad[512];
	pad[0] = (char)depth;
	if (depth > (1 << 30))
		return pad[0];
	return recurse_deep(depth + 1) + pad[0];
}

__noinline void selftest_fault(const char *kind)
{
	if (!*kind)
		kind = "pf";
	printk(KERN_WARNING "selftest: triggering a deliberate fault (%s)\n", kind);
	if (!strcmp(kind, "ud"))
		__asm__ __volatile__("ud2");
	else if (!strcmp(kind, "gp"))
		__asm__ __volatile__("movq %0, %%rax; movq (%%rax), %%rax" : : "r"(0x8000000000000000ul) : "rax");
	else if (!strcmp(kind, "de")) {
		/* In assembly: the compiler may legally rewrite a C division
		 * by a value it knows can only be 0 or 1. */
		unsigned long zero = 0;
		__asm__ __volatile__("xorl %%edx, %%edx; movl $1, %%eax; divq %0"
				     : : "r"(zero) : "rax", "rdx");
	} else if (!strcmp(kind, "df"))
		recurse_deep(0);
	else if (!strcmp(kind, "double-free")) {
		void *p = kmalloc(100);
		kfree(p);
		kfree(p);
	} else if (!strcmp(kind, "redzone")) {
		char *p = kmalloc(32);
		p[32] = 'x';	/* one byte past the end */
		kfree(p);
	} else if (!strcmp(kind, "panic"))
		panic("deliberate panic requested by lego.test=fault:panic");
	else
		*fault_ptr = 0xdead;
	panic("deliberate fault '%s' did not fault", kind);
}
