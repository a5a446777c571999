/* Boot-time memory bookkeeping, before the page allocator exists.
 *
 * The firmware map (mem_ranges) says what is RAM; the reserved list says
 * what of it is already in use (low 1 MiB, the kernel image, the loader's
 * data, and everything early_alloc hands out). page_alloc_init later gives
 * the buddy allocator exactly RAM minus reserved. Single-threaded: runs on
 * the boot CPU before any other CPU or thread exists. */
#include <lego/mm.h>
#include <lego/boot.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/string.h>
#include <asm/page.h>

struct mem_range mem_ranges[MAX_MEM_RANGES];
int nr_mem_ranges;
u64 mem_usable_bytes;

#define MAX_RESERVED 64
static struct { u64 start, end; } reserved[MAX_RESERVED];	/* sorted, disjoint */
static int nr_reserved;
static bool early_active;
static bool paging_live;

extern char _kernel_phys_start[], _kernel_end[];

/* Below this, memory is left alone: real-mode data, the AP trampoline. */
#define LOW_RESERVED_END 0x100000ull
/* Early allocations are touched through the boot identity map. */
#define EARLY_LIMIT (1ull << 30)

static void reserve(u64 start, u64 end)
{
	if (start >= end)
		return;
	if (nr_reserved == MAX_RESERVED)
		panic("early memory: more than %d reserved ranges", MAX_RESERVED);
	int i = 0;
	while (i < nr_reserved && reserved[i].start < start)
		i++;
	memmove(&reserved[i + 1], &reserved[i], (nr_reserved - i) * sizeof(reserved[0]));
	reserved[i].start = start;
	reserved[i].end = end;
	nr_reserved++;
	/* Merge overlapping or touching neighbours. */
	for (int j = 0; j + 1 < nr_reserved;) {
		if (reserved[j].end >= reserved[j + 1].start) {
			reserved[j].end = MAX(reserved[j].end, reserved[j + 1].end);
			memmove(&reserved[j + 1], &reserved[j + 2], (nr_reserved - j - 2) * sizeof(reserved[0]));
			nr_reserved--;
		} else {
			j++;
		}
	}
}

static bool overlaps_reserved(u64 start, u64 end, u64 *skip_to)
{
	for (int i = 0; i < nr_reserved; i++)
		if (start < reserved[i].end && reserved[i].start < end) {
			*skip_to = reserved[i].end;
			return true;
		}
	return false;
}

void early_mem_init(void)
{
	/* Sort the firmware map and count usable RAM. */
	for (int i = 1; i < nr_mem_ranges; i++)
		for (int j = i; j > 0 && mem_ranges[j].base < mem_ranges[j - 1].base; j--) {
			struct mem_range t = mem_ranges[j];
			mem_ranges[j] = mem_ranges[j - 1];
			mem_ranges[j - 1] = t;
		}
	mem_usable_bytes = 0;
	for (int i = 0; i < nr_mem_ranges; i++)
		if (mem_ranges[i].type == 1)
			mem_usable_bytes += mem_ranges[i].len;

	reserve(0, LOW_RESERVED_END);
	reserve((u64)_kernel_phys_start, ALIGN_UP((u64)_kernel_end - KERNEL_VMA, PAGE_SIZE));
	reserve(ALIGN_DOWN(boot_info.info_start, PAGE_SIZE), ALIGN_UP(boot_info.info_end, PAGE_SIZE));
	early_active = true;
}

phys_addr_t early_alloc(size_t size, size_t align)
{
	if (!early_active)
		panic("early_alloc after the page allocator took over");
	size = ALIGN_UP(size, PAGE_SIZE);
	for (int i = 0; i < nr_mem_ranges; i++) {
		const struct mem_range *r = &mem_ranges[i];
		if (r->type != 1)
			continue;
		u64 end = r->base + r->len;
		u64 p = ALIGN_UP(MAX(r->base, LOW_RESERVED_END), align);
		while (p + size <= end) {
			u64 skip;
			if (!overlaps_reserved(p, p + size, &skip)) {
				if (!paging_live && p + size > EARLY_LIMIT)
					break;
				reserve(p, p + size);
				memset(early_phys_to_virt(p), 0, size);
				return p;
			}
			p = ALIGN_UP(skip, align);
		}
	}
	panic("early_alloc: out of memory for %zu bytes", size);
}

bool early_alloc_active(void)
{
	return early_active;
}

void early_paging_live(void);
void early_paging_live(void)
{
	paging_live = true;
}

void *early_phys_to_virt(phys_addr_t pa)
{
	return paging_live ? __va(pa) : (void *)(unsigned long)pa;
}

/* Calls fn for every page-aligned piece of usable RAM that is not reserved,
 * and closes the early allocator. */
void early_release_free(void (*fn)(u64 start, u64 end));
void early_release_free(void (*fn)(u64 start, u64 end))
{
	early_active = false;
	for (int i = 0; i < nr_mem_ranges; i++) {
		const struct mem_range *r = &mem_ranges[i];
		if (r->type != 1)
			continue;
		u64 s = ALIGN_UP(r->base, PAGE_SIZE), e = ALIGN_DOWN(r->base + r->len, PAGE_SIZE);
		for (int j = 0; j < nr_reserved && s < e; j++) {
			if (reserved[j].end <= s || reserved[j].start >= e)
				continue;
			if (reserved[j].start > s)
				fn(s, reserved[j].start);
			s = MAX(s, reserved[j].end);
		}
		if (s < e)
			fn(s, e);
	}
}
