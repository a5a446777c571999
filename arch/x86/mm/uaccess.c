/* Kernel access to user memory: see lego/uaccess.h. The faulting
 * instructions live in uaccess_64.S; the trap handler finds their fixups
 * here. */
#include <lego/uaccess.h>
#include <lego/errno.h>
#include <asm/smap.h>

unsigned long uaccess_copy(void *dst, const void *src, unsigned long n);
unsigned long uaccess_clear(void *dst, unsigned long n);
long uaccess_strncpy(char *dst, const char *src, long n);

extern const struct extable_entry __ex_table_start[], __ex_table_end[];

unsigned long extable_fixup(unsigned long rip)
{
	return extable_search(__ex_table_start, __ex_table_end, rip);
}

int copy_from_user(void *dst, const void *usrc, size_t n)
{
	if (!user_range_ok((unsigned long)usrc, n))
		return -EFAULT;
	smap_allow_user();
	unsigned long left = uaccess_copy(dst, usrc, n);
	smap_forbid_user();
	return left ? -EFAULT : 0;
}

int copy_to_user(void *udst, const void *src, size_t n)
{
	if (!user_range_ok((unsigned long)udst, n))
		return -EFAULT;
	smap_allow_user();
	unsigned long left = uaccess_copy(udst, src, n);
	smap_forbid_user();
	return left ? -EFAULT : 0;
}

long strncpy_from_user(char *dst, const char *usrc, long n)
{
	unsigned long src = (unsigned long)usrc;

	if (n < 0 || src >= USER_TOP)
		return -EFAULT;
	/* Stop at USER_TOP: a string running into it is a fault. */
	long lim = (unsigned long)n > USER_TOP - src ? (long)(USER_TOP - src) : n;
	smap_allow_user();
	long r = uaccess_strncpy(dst, usrc, lim);
	smap_forbid_user();
	if (r < 0 || (r == lim && lim < n))
		return -EFAULT;
	return r;
}

int clear_user(void *udst, size_t n)
{
	if (!user_range_ok((unsigned long)udst, n))
		return -EFAULT;
	smap_allow_user();
	unsigned long left = uaccess_clear(udst, n);
	smap_forbid_user();
	return left ? -EFAULT : 0;
}
