/* Binary buddy allocator; the scheme is described in include/lego/buddy.h. */
#include <lego/buddy.h>
#include <lego/errno.h>

static inline bool buddy_in_zone(const struct buddy_zone *z, pfn_t pfn)
{
	return pfn >= z->base_pfn && pfn - z->base_pfn < z->npages;
}

static inline struct buddy_page *buddy_page_of(const struct buddy_zone *z, pfn_t pfn)
{
	return &z->pages[pfn - z->base_pfn];
}

static inline pfn_t buddy_pfn_of(const struct buddy_zone *z, const struct buddy_page *p)
{
	return z->base_pfn + (pfn_t)(p - z->pages);
}

void buddy_init(struct buddy_zone *z, pfn_t base_pfn, u64 npages, struct buddy_page *meta)
{
	z->base_pfn = base_pfn;
	z->npages = npages;
	z->pages = meta;
	z->free_pages = 0;
	for (unsigned k = 0; k < BUDDY_MAX_ORDER; k++) {
		INIT_LIST_HEAD(&z->free[k]);
		z->nr_free[k] = 0;
	}
	for (u64 i = 0; i < npages; i++) {
		INIT_LIST_HEAD(&meta[i].link);
		meta[i].flags = BUDDY_PAGE_RESERVED;
		meta[i].order = 0;
	}
}

static void buddy_push_free(struct buddy_zone *z, struct buddy_page *p, unsigned order)
{
	p->flags = BUDDY_PAGE_FREE;
	p->order = (u8)order;
	list_add(&p->link, &z->free[order]);
	z->nr_free[order]++;
	z->free_pages += 1ULL << order;
}

static void buddy_unlink_free(struct buddy_zone *z, struct buddy_page *p)
{
	unsigned order = p->order;

	list_del_init(&p->link);
	p->flags = 0;
	z->nr_free[order]--;
	z->free_pages -= 1ULL << order;
}

/*
 * Puts the block [pfn, pfn + 2^order), whose pages all have flags 0, on the
 * free lists, merging upwards with free buddies for as long as possible.
 */
static void buddy_insert_block(struct buddy_zone *z, pfn_t pfn, unsigned order)
{
	while (order < BUDDY_MAX_ORDER - 1) {
		pfn_t bpfn = pfn ^ (1ULL << order);
		struct buddy_page *b;

		if (!buddy_in_zone(z, bpfn))
			break;
		b = buddy_page_of(z, bpfn);
		/* A free head of the same order is a whole block inside the zone. */
		if (b->flags != BUDDY_PAGE_FREE || b->order != order)
			break;
		buddy_unlink_free(z, b);
		pfn &= ~(1ULL << order);
		order++;
	}
	buddy_push_free(z, buddy_page_of(z, pfn), order);
}

/* True if all pages [pfn, pfn + n) are reserved; the range is in the zone. */
static bool buddy_all_reserved(const struct buddy_zone *z, pfn_t pfn, u64 n)
{
	const struct buddy_page *p = buddy_page_of(z, pfn);

	for (u64 i = 0; i < n; i++)
		if (p[i].flags != BUDDY_PAGE_RESERVED)
			return false;
	return true;
}

void buddy_free_range(struct buddy_zone *z, pfn_t pfn, u64 count)
{
	pfn_t end, zend = z->base_pfn + z->npages;

	/* Clip to the zone, guarding against pfn + count wrapping. */
	end = (count > UINT64_MAX - pfn) ? UINT64_MAX : pfn + count;
	if (pfn < z->base_pfn)
		pfn = z->base_pfn;
	if (end > zend)
		end = zend;

	while (pfn < end) {
		unsigned order = BUDDY_MAX_ORDER - 1;
		struct buddy_page *p;

		/* Largest block that is aligned at pfn and ends by end. */
		while (order > 0 &&
		       ((pfn & ((1ULL << order) - 1)) != 0 || (1ULL << order) > end - pfn))
			order--;
		/* Shrink further if the block would swallow a non-reserved page. */
		while (order > 0 && !buddy_all_reserved(z, pfn, 1ULL << order))
			order--;

		p = buddy_page_of(z, pfn);
		if (p->flags != BUDDY_PAGE_RESERVED) {
			pfn++;
			continue;
		}
		for (u64 i = 0; i < (1ULL << order); i++)
			p[i].flags = 0;
		buddy_insert_block(z, pfn, order);
		pfn += 1ULL << order;
	}
}

s64 buddy_alloc(struct buddy_zone *z, unsigned order)
{
	struct buddy_page *p;
	unsigned k;
	pfn_t pfn;

	if (order >= BUDDY_MAX_ORDER)
		return -EINVAL;

	for (k = order; k < BUDDY_MAX_ORDER; k++)
		if (!list_empty(&z->free[k]))
			break;
	if (k == BUDDY_MAX_ORDER)
		return -ENOMEM;

	p = list_first_entry(&z->free[k], struct buddy_page, link);
	buddy_unlink_free(z, p);
	pfn = buddy_pfn_of(z, p);

	/* Keep the low half, give the high half of each split back. */
	while (k > order) {
		k--;
		buddy_push_free(z, buddy_page_of(z, pfn + (1ULL << k)), k);
	}

	p->flags = BUDDY_PAGE_ALLOC;
	p->order = (u8)order;
	return (s64)pfn;
}

int buddy_free(struct buddy_zone *z, pfn_t pfn, unsigned order)
{
	struct buddy_page *p;

	if (order >= BUDDY_MAX_ORDER || !buddy_in_zone(z, pfn))
		return -EINVAL;
	if (pfn & ((1ULL << order) - 1))
		return -EINVAL;
	p = buddy_page_of(z, pfn);
	if (p->flags != BUDDY_PAGE_ALLOC || p->order != order)
		return -EINVAL;

	p->flags = 0;
	buddy_insert_block(z, pfn, order);
	return 0;
}

u64 buddy_free_pages(const struct buddy_zone *z)
{
	return z->free_pages;
}

bool buddy_is_free(const struct buddy_zone *z, pfn_t pfn)
{
	if (!buddy_in_zone(z, pfn))
		return false;
	/* The only block that can contain pfn at order k starts at pfn rounded
	 * down to 2^k. */
	for (unsigned k = 0; k < BUDDY_MAX_ORDER; k++) {
		pfn_t head = pfn & ~((1ULL << k) - 1);
		const struct buddy_page *p;

		if (!buddy_in_zone(z, head))
			break;
		p = buddy_page_of(z, head);
		if (p->flags == BUDDY_PAGE_FREE && p->order == k)
			return true;
	}
	return false;
}

int buddy_alloc_order(const struct buddy_zone *z, pfn_t pfn)
{
	const struct buddy_page *p;

	if (!buddy_in_zone(z, pfn))
		return -EINVAL;
	p = buddy_page_of(z, pfn);
	if (p->flags != BUDDY_PAGE_ALLOC)
		return -EINVAL;
	return p->order;
}

int buddy_check(const struct buddy_zone *z)
{
	u64 total = 0;

	for (unsigned k = 0; k < BUDDY_MAX_ORDER; k++) {
		const struct list_head *pos;
		u64 n = 0;

		list_for_each(pos, &z->free[k]) {
			const struct buddy_page *p = list_entry(pos, struct buddy_page, link);
			pfn_t pfn, bpfn;

			if (p < z->pages || p >= z->pages + z->npages)
				return -EINVAL;
			pfn = buddy_pfn_of(z, p);
			if (p->flags != BUDDY_PAGE_FREE || p->order != k)
				return -EINVAL;
			if (pfn & ((1ULL << k) - 1))
				return -EINVAL;
			if ((1ULL << k) > z->npages - (pfn - z->base_pfn))
				return -EINVAL;
			/* Two free buddies of one order should have merged. */
			bpfn = pfn ^ (1ULL << k);
			if (k < BUDDY_MAX_ORDER - 1 && buddy_in_zone(z, bpfn)) {
				const struct buddy_page *b = buddy_page_of(z, bpfn);

				if (b->flags == BUDDY_PAGE_FREE && b->order == k)
					return -EINVAL;
			}
			if (++n > z->npages)
				return -EINVAL; /* cycle not through the head */
		}
		if (n != z->nr_free[k])
			return -EINVAL;
		total += n << k;
	}
	if (total != z->free_pages)
		return -EINVAL;

	/*
	 * Every page must be reserved or belong to exactly one block, and every
	 * free head must be one of those counted on the lists above.
	 */
	{
		u64 heads = 0, listed = 0, i = 0;

		while (i < z->npages) {
			const struct buddy_page *p = &z->pages[i];
			pfn_t pfn = z->base_pfn + i;
			unsigned k = p->order;

			if (p->flags == BUDDY_PAGE_RESERVED) {
				i++;
				continue;
			}
			if (p->flags != BUDDY_PAGE_FREE && p->flags != BUDDY_PAGE_ALLOC)
				return -EINVAL;
			if (k >= BUDDY_MAX_ORDER || (pfn & ((1ULL << k) - 1)) ||
			    (1ULL << k) > z->npages - i)
				return -EINVAL;
			for (u64 j = 1; j < (1ULL << k); j++)
				if (p[j].flags != 0)
					return -EINVAL;
			if (p->flags == BUDDY_PAGE_FREE)
				heads++;
			i += 1ULL << k;
		}
		for (unsigned k = 0; k < BUDDY_MAX_ORDER; k++)
			listed += z->nr_free[k];
		if (heads != listed)
			return -EINVAL;
	}
	return 0;
}
