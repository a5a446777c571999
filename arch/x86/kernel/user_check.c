/* Pure checks on user addresses and return frames (lego/user_check.h). */
#include <lego/user_check.h>

#define RF_CF (1ul << 0)
#define RF_FIXED (1ul << 1)
#define RF_PF (1ul << 2)
#define RF_AF (1ul << 4)
#define RF_ZF (1ul << 6)
#define RF_SF (1ul << 7)
#define RF_TF (1ul << 8)
#define RF_IF (1ul << 9)
#define RF_DF (1ul << 10)
#define RF_OF (1ul << 11)
#define RF_RF (1ul << 16)
#define RF_AC (1ul << 18)
#define RF_ID (1ul << 21)

#define RF_USER_MASK (RF_CF | RF_PF | RF_AF | RF_ZF | RF_SF | RF_TF | RF_DF | RF_OF | RF_RF | RF_AC | RF_ID)

bool user_range_ok(unsigned long addr, unsigned long len)
{
	return addr <= USER_TOP && len <= USER_TOP - addr;
}

bool user_canonical(unsigned long addr)
{
	long top = (long)addr >> 47;
	return top == 0 || top == -1;
}

u64 user_rflags_sanitize(u64 rflags)
{
	return (rflags & RF_USER_MASK) | RF_IF | RF_FIXED;
}

bool user_sysret_ok(u64 rip, u64 cs, u64 ss, u64 rflags)
{
	return rip < USER_TOP && cs == USER_CS_SEL && ss == USER_DS_SEL && !(rflags & (RF_RF | RF_TF));
}

unsigned long extable_search(const struct extable_entry *start, const struct extable_entry *end,
			     unsigned long rip)
{
	for (const struct extable_entry *e = start; e < end; e++)
		if (e->insn == rip)
			return e->fixup;
	return 0;
}
