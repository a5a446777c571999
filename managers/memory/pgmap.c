/* The owner's page map: a chained hash table (mm, page address) -> page.
 * Pure logic; see include/lego/pgmap.h. */
#include <lego/pgmap.h>
#include <lego/errno.h>

#define PG_MASK (PGMAP_PAGE_SIZE - 1)

/* 64-bit mixing of the key (a multiply-xorshift finaliser), then the top
 * bits select the bucket. */
static u64 key_hash(u64 mm, u64 addr)
{
	u64 x = (addr >> 12) ^ (mm * 0x9e3779b97f4a7c15ULL);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 32;
	return x;
}

static u64 bucket_of(u32 bits, u64 mm, u64 addr)
{
	return key_hash(mm, addr) & ((1ULL << bits) - 1);
}

static struct pgmap_entry **alloc_buckets(struct pgmap *m, u32 bits)
{
	size_t n = (size_t)1 << bits;
	struct pgmap_entry **b = m->ops.alloc(m->ops.ctx, n * sizeof(*b));

	if (b)
		for (size_t i = 0; i < n; i++)
			b[i] = NULL;
	return b;
}

static void free_buckets(struct pgmap *m, struct pgmap_entry **b, u32 bits)
{
	if (b)
		m->ops.free(m->ops.ctx, b, ((size_t)1 << bits) * sizeof(*b));
}

/* Rehash into 1 << bits buckets; on allocation failure nothing changes. */
static void resize(struct pgmap *m, u32 bits)
{
	struct pgmap_entry **nb = alloc_buckets(m, bits);

	if (!nb)
		return;
	if (m->b) {
		for (u64 i = 0; i < (1ULL << m->bits); i++) {
			struct pgmap_entry *e = m->b[i], *next;
			for (; e; e = next) {
				next = e->next;
				u64 h = bucket_of(bits, e->mm, e->addr);
				e->next = nb[h];
				nb[h] = e;
			}
		}
		free_buckets(m, m->b, m->bits);
	}
	m->b = nb;
	m->bits = bits;
}

/* Load factor kept between 1/8 and 2 (after inserts and range removals). */
static void maybe_grow(struct pgmap *m)
{
	if (m->bits < PGMAP_MAX_BITS && m->count > (2ULL << m->bits))
		resize(m, m->bits + 1);
}

static void maybe_shrink(struct pgmap *m)
{
	u32 bits = m->bits;

	if (!m->b)
		return;
	while (bits > PGMAP_MIN_BITS && m->count < (1ULL << bits) / 8)
		bits--;
	if (bits != m->bits)
		resize(m, bits);
}

int pgmap_init(struct pgmap *m, const struct pgmap_ops *ops)
{
	m->b = NULL;
	m->bits = 0;
	m->count = 0;
	if (!ops || !ops->alloc || !ops->free) {
		m->ops.alloc = NULL;
		m->ops.free = NULL;
		m->ops.ctx = NULL;
		return -EINVAL;
	}
	m->ops = *ops;
	resize(m, PGMAP_MIN_BITS);
	return m->b ? 0 : -ENOMEM;
}

void pgmap_destroy(struct pgmap *m, pgmap_fn fn, void *ctx)
{
	if (m->b) {
		for (u64 i = 0; i < (1ULL << m->bits); i++) {
			struct pgmap_entry *e = m->b[i], *next;
			for (; e; e = next) {
				next = e->next;
				if (fn)
					fn(ctx, e->mm, e->addr, e->page);
				m->ops.free(m->ops.ctx, e, sizeof(*e));
			}
		}
		free_buckets(m, m->b, m->bits);
	}
	m->b = NULL;
	m->bits = 0;
	m->count = 0;
}

/* The link pointing at (mm, addr)'s entry, or at the NULL ending its
 * chain. The table has buckets. */
static struct pgmap_entry **slot_of(const struct pgmap *m, u64 mm, u64 addr)
{
	struct pgmap_entry **pp = &m->b[bucket_of(m->bits, mm, addr)];

	while (*pp && ((*pp)->mm != mm || (*pp)->addr != addr))
		pp = &(*pp)->next;
	return pp;
}

void *pgmap_lookup(const struct pgmap *m, u64 mm, u64 addr)
{
	if (!m->b)
		return NULL;
	struct pgmap_entry *e = *slot_of(m, mm, addr & ~PG_MASK);
	return e ? e->page : NULL;
}

int pgmap_insert(struct pgmap *m, u64 mm, u64 addr, void *page)
{
	if (!page || (addr & PG_MASK) || !m->ops.alloc)
		return -EINVAL;
	if (!m->b)
		resize(m, PGMAP_MIN_BITS);
	if (!m->b)
		return -ENOMEM;
	struct pgmap_entry **pp = slot_of(m, mm, addr);
	if (*pp)
		return -EEXIST;
	struct pgmap_entry *e = m->ops.alloc(m->ops.ctx, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->mm = mm;
	e->addr = addr;
	e->page = page;
	e->next = NULL;
	*pp = e;
	m->count++;
	maybe_grow(m);
	return 0;
}

/* Unlink the entry *pp points at, returning it (not freed). */
static struct pgmap_entry *unlink_at(struct pgmap *m, struct pgmap_entry **pp)
{
	struct pgmap_entry *e = *pp;

	*pp = e->next;
	e->next = NULL;
	m->count--;
	return e;
}

void *pgmap_remove(struct pgmap *m, u64 mm, u64 addr)
{
	if (!m->b || (addr & PG_MASK))
		return NULL;
	struct pgmap_entry **pp = slot_of(m, mm, addr);
	if (!*pp)
		return NULL;
	struct pgmap_entry *e = unlink_at(m, pp);
	void *page = e->page;
	m->ops.free(m->ops.ctx, e, sizeof(*e));
	return page;
}

/* Unlink every entry of mm in [start, end) onto a private list (no
 * resize), visiting whichever is smaller: the pages or the buckets. */
static struct pgmap_entry *unlink_range(struct pgmap *m, u64 mm, u64 start, u64 end)
{
	struct pgmap_entry *list = NULL;

	if (!m->b || start >= end || !m->count)
		return NULL;
	u64 pages = (end - start) >> 12;
	u64 nb = 1ULL << m->bits;

	if (pages <= nb + m->count) {
		for (u64 a = start; a < end; a += PGMAP_PAGE_SIZE) {
			struct pgmap_entry **pp = slot_of(m, mm, a);
			if (*pp) {
				struct pgmap_entry *e = unlink_at(m, pp);
				e->next = list;
				list = e;
			}
			if (!m->count)
				break;
		}
		return list;
	}
	for (u64 i = 0; i < nb; i++) {
		struct pgmap_entry **pp = &m->b[i];
		while (*pp) {
			struct pgmap_entry *e = *pp;
			if (e->mm == mm && e->addr >= start && e->addr < end) {
				unlink_at(m, pp);
				e->next = list;
				list = e;
			} else {
				pp = &e->next;
			}
		}
	}
	return list;
}

u64 pgmap_remove_range(struct pgmap *m, u64 mm, u64 start, u64 end, pgmap_fn fn, void *ctx)
{
	start &= ~PG_MASK;
	end &= ~PG_MASK;
	struct pgmap_entry *e = unlink_range(m, mm, start, end), *next;
	u64 n = 0;

	for (; e; e = next) {
		next = e->next;
		if (fn)
			fn(ctx, e->mm, e->addr, e->page);
		m->ops.free(m->ops.ctx, e, sizeof(*e));
		n++;
	}
	if (n)
		maybe_shrink(m);
	return n;
}

u64 pgmap_move_range(struct pgmap *m, u64 mm, u64 from, u64 to, u64 len, pgmap_fn fn,
		     void *ctx)
{
	from &= ~PG_MASK;
	to &= ~PG_MASK;
	len &= ~PG_MASK;
	if (from == to || !len || from + len < from || to + len < to)
		return 0;
	/* Take the sources out first, so that overlapping ranges work. */
	struct pgmap_entry *list = unlink_range(m, mm, from, from + len), *next;
	u64 n = 0;

	for (struct pgmap_entry *e = list; e; e = next) {
		next = e->next;
		e->addr = e->addr - from + to;
		struct pgmap_entry **pp = slot_of(m, mm, e->addr);
		if (*pp) {
			struct pgmap_entry *old = unlink_at(m, pp);
			if (fn)
				fn(ctx, old->mm, old->addr, old->page);
			m->ops.free(m->ops.ctx, old, sizeof(*old));
		}
		/* pp may have been the removed entry's link: look again. */
		pp = &m->b[bucket_of(m->bits, mm, e->addr)];
		e->next = *pp;
		*pp = e;
		m->count++;
		n++;
	}
	return n;
}

u64 pgmap_for_each(const struct pgmap *m, u64 mm, pgmap_fn fn, void *ctx)
{
	u64 n = 0;

	if (!m->b)
		return 0;
	for (u64 i = 0; i < (1ULL << m->bits); i++)
		for (struct pgmap_entry *e = m->b[i]; e; e = e->next)
			if (mm == ~0ULL || e->mm == mm) {
				fn(ctx, e->mm, e->addr, e->page);
				n++;
			}
	return n;
}

int pgmap_check(const struct pgmap *m)
{
	u64 n = 0;

	if (!m->b)
		return m->count ? -EUCLEAN : 0;
	for (u64 i = 0; i < (1ULL << m->bits); i++)
		for (struct pgmap_entry *e = m->b[i]; e; e = e->next) {
			if (bucket_of(m->bits, e->mm, e->addr) != i)
				return -EUCLEAN;
			if ((e->addr & PG_MASK) || !e->page)
				return -EUCLEAN;
			for (struct pgmap_entry *f = e->next; f; f = f->next)
				if (f->mm == e->mm && f->addr == e->addr)
					return -EUCLEAN;
			n++;
		}
	return n == m->count ? 0 : -EUCLEAN;
}
