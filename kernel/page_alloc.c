/* The physical page allocator: one buddy zone (kernel/buddy.c) per
 * contiguous stretch of usable RAM, so holes in the physical address space
 * cost no metadata. Zones are searched from the highest address down, which
 * keeps low memory (needed by devices with 32-bit DMA) free longest. */
#include <lego/mm.h>
#include <lego/buddy.h>
#include <lego/spinlock.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/string.h>

#define MAX_ZONES 32

/* lock protects every zone's lists and counters. */
static struct {
	spinlock_t lock;
	struct buddy_zone zones[MAX_ZONES];
	int nr_zones;
} pa = { .lock = SPINLOCK_INIT };

void early_release_free(void (*fn)(u64 start, u64 end));

static struct buddy_zone *zone_of(phys_addr_t p)
{
	pfn_t pfn = p >> PAGE_SHIFT;
	for (int i = 0; i < pa.nr_zones; i++) {
		struct buddy_zone *z = &pa.zones[i];
		if (pfn >= z->base_pfn && pfn < z->base_pfn + z->npages)
			return z;
	}
	return NULL;
}

static void release_range(u64 start, u64 end)
{
	while (start < end) {
		struct buddy_zone *z = zone_of(start);
		if (!z) {
			/* RAM beyond MAX_ZONES was left out (and reported):
			 * skip to the next zone that starts inside the range. */
			u64 next = end;
			for (int i = 0; i < pa.nr_zones; i++) {
				u64 zs = pa.zones[i].base_pfn << PAGE_SHIFT;
				if (zs > start && zs < next)
					next = zs;
			}
			start = next;
			continue;
		}
		u64 zend = (z->base_pfn + z->npages) << PAGE_SHIFT;
		u64 e = MIN(end, zend);
		buddy_free_range(z, start >> PAGE_SHIFT, (e - start) >> PAGE_SHIFT);
		start = e;
	}
}

void page_alloc_init(void)
{
	/* Zones cover whole usable ranges (reserved parts stay allocated);
	 * adjacent usable ranges are merged. */
	for (int i = 0; i < nr_mem_ranges; i++) {
		const struct mem_range *r = &mem_ranges[i];
		if (r->type != 1)
			continue;
		u64 s = ALIGN_UP(r->base, PAGE_SIZE), e = ALIGN_DOWN(r->base + r->len, PAGE_SIZE);
		while (i + 1 < nr_mem_ranges && mem_ranges[i + 1].type == 1 &&
		       mem_ranges[i + 1].base <= e) {
			i++;
			e = MAX(e, ALIGN_DOWN(mem_ranges[i].base + mem_ranges[i].len, PAGE_SIZE));
		}
		if (e <= s)
			continue;
		if (pa.nr_zones == MAX_ZONES) {
			pr_warn("page_alloc: more than %d RAM ranges; ignoring %lx-%lx\n", MAX_ZONES,
				(unsigned long)s, (unsigned long)e);
			continue;
		}
		u64 npages = (e - s) >> PAGE_SHIFT;
		phys_addr_t meta = early_alloc(npages * sizeof(struct buddy_page), PAGE_SIZE);
		buddy_init(&pa.zones[pa.nr_zones++], s >> PAGE_SHIFT, npages, early_phys_to_virt(meta));
	}
	early_release_free(release_range);
}

phys_addr_t alloc_pages_phys(unsigned order)
{
	unsigned long f = spin_lock_irqsave(&pa.lock);
	for (int i = pa.nr_zones - 1; i >= 0; i--) {
		s64 pfn = buddy_alloc(&pa.zones[i], order);
		if (pfn >= 0) {
			spin_unlock_irqrestore(&pa.lock, f);
			return (phys_addr_t)pfn << PAGE_SHIFT;
		}
	}
	spin_unlock_irqrestore(&pa.lock, f);
	return 0;
}

void free_pages_phys(phys_addr_t p, unsigned order)
{
	unsigned long f = spin_lock_irqsave(&pa.lock);
	struct buddy_zone *z = zone_of(p);
	int err = z ? buddy_free(z, p >> PAGE_SHIFT, order) : -1;
	spin_unlock_irqrestore(&pa.lock, f);
	if (err)
		panic("free_pages: bad free of %lx order %u (double free or not allocated)",
		      (unsigned long)p, order);
}

void *alloc_pages(unsigned order)
{
	phys_addr_t p = alloc_pages_phys(order);
	return p ? __va(p) : NULL;
}

void free_pages(void *va, unsigned order)
{
	if (va)
		free_pages_phys(__pa(va), order);
}

u64 page_alloc_free_bytes(void)
{
	u64 n = 0;
	unsigned long f = spin_lock_irqsave(&pa.lock);
	for (int i = 0; i < pa.nr_zones; i++)
		n += buddy_free_pages(&pa.zones[i]);
	spin_unlock_irqrestore(&pa.lock, f);
	return n << PAGE_SHIFT;
}
