/* Pure checks on user addresses and return frames, shared by the syscall
 * path and uaccess (arch/x86/kernel/user_check.c; also built on the host
 * for the unit tests). */
#ifndef LEGO_USER_CHECK_H
#define LEGO_USER_CHECK_H

#include <lego/types.h>

/* One past the highest user address. The last page below the canonical
 * hole stays out of reach, so a SYSCALL there cannot leave a non-canonical
 * return address for SYSRET. */
#define USER_TOP 0x00007ffffffff000ul

#define USER_CS_SEL 0x2b	/* GDT_USER_CS | 3 */
#define USER_DS_SEL 0x23	/* GDT_USER_DS | 3 */

/* Whether [addr, addr + len) lies entirely in the user half. */
bool user_range_ok(unsigned long addr, unsigned long len);
/* Whether addr is canonical (bits 63-47 all equal). */
bool user_canonical(unsigned long addr);
/* RFLAGS a return to ring 3 may carry: the arithmetic flags, TF, DF, AC,
 * ID and RF; IF and bit 1 forced on; IOPL, NT, VM, VIF and VIP forced off. */
u64 user_rflags_sanitize(u64 rflags);
/* Whether a return to (rip, cs, ss, rflags) may use SYSRET: a user rip
 * (below USER_TOP, hence canonical), the 64-bit user selectors, and no
 * flag SYSRET cannot restore (RF) or would mishandle (TF). */
bool user_sysret_ok(u64 rip, u64 cs, u64 ss, u64 rflags);

/* Exception table: an instruction that may fault on a user address and
 * where to continue when it does. A handful of entries: linear search. */
struct extable_entry {
	unsigned long insn;
	unsigned long fixup;
};
/* The fixup for a faulting rip, or 0. */
unsigned long extable_search(const struct extable_entry *start, const struct extable_entry *end,
			     unsigned long rip);

#endif
