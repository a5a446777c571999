/* Symbol lookup for backtraces, over the table that scripts/gen-ksyms
 * embeds at link time (sorted addresses, offsets into a string table). */
#include <lego/kallsyms.h>
#include <lego/string.h>

extern const u64 kallsyms_count;
extern const u64 kallsyms_addrs[];
extern const u32 kallsyms_names[];
extern const char kallsyms_strtab[];
extern char _text[], _etext[];

const char *kallsyms_lookup(unsigned long addr, unsigned long *offset, unsigned long *size)
{
	u64 n = kallsyms_count;

	if (!n || addr < (unsigned long)_text || addr >= (unsigned long)_etext)
		return NULL;
	/* Last symbol whose address is <= addr. */
	u64 lo = 0, hi = n;
	while (hi - lo > 1) {
		u64 mid = lo + (hi - lo) / 2;
		if (kallsyms_addrs[mid] <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (kallsyms_addrs[lo] > addr)
		return NULL;
	/* Aliases share an address: take the first, and the next distinct
	 * address as the end. */
	while (lo > 0 && kallsyms_addrs[lo - 1] == kallsyms_addrs[lo])
		lo--;
	u64 next = lo + 1;
	while (next < n && kallsyms_addrs[next] == kallsyms_addrs[lo])
		next++;
	unsigned long end = next < n ? kallsyms_addrs[next] : (unsigned long)_etext;
	if (offset)
		*offset = addr - kallsyms_addrs[lo];
	if (size)
		*size = end - kallsyms_addrs[lo];
	return &kallsyms_strtab[kallsyms_names[lo]];
}

unsigned long kallsyms_find(const char *name)
{
	for (u64 i = 0; i < kallsyms_count; i++)
		if (!strcmp(&kallsyms_strtab[kallsyms_names[i]], name))
			return kallsyms_addrs[i];
	return 0;
}
