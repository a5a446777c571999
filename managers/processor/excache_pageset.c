/* Set of page numbers (p-local pages that exist remotely). Pure logic;
 * see include/lego/excache_pageset.h. */
#include <lego/excache_pageset.h>
#include <lego/errno.h>

#define SLOT_EMPTY 0ULL
#define SLOT_TOMB 1ULL
#define KEY_BIAS 2ULL
#define VPAGE_LIMIT (1ULL << 62)

static u32 slot_hash(u64 key, u32 cap)
{
	u64 x = key * 0x9e3779b97f4a7c15ULL;

	x ^= x >> 29;
	return (u32)x & (cap - 1);
}

void excache_pageset_init(struct excache_pageset *s, const struct excache_pageset_ops *ops)
{
	s->slots = NULL;
	s->cap = 0;
	s->count = 0;
	s->tombs = 0;
	s->ops = *ops;
}

void excache_pageset_clear(struct excache_pageset *s)
{
	if (s->slots)
		s->ops.free(s->ops.ctx, s->slots, (size_t)s->cap * sizeof(u64));
	s->slots = NULL;
	s->cap = 0;
	s->count = 0;
	s->tombs = 0;
}

/* Slot holding key, or cap when absent. */
static u32 find_slot(const struct excache_pageset *s, u64 key)
{
	if (!s->cap)
		return 0;
	u32 mask = s->cap - 1;
	for (u32 i = slot_hash(key, s->cap), n = 0; n < s->cap; i = (i + 1) & mask, n++) {
		if (s->slots[i] == key)
			return i;
		if (s->slots[i] == SLOT_EMPTY)
			break;
	}
	return s->cap;
}

/* Stores key, known absent, in a table with room; true if it took the
 * place of a tombstone. */
static bool place(u64 *slots, u32 cap, u64 key)
{
	u32 mask = cap - 1;
	u32 i = slot_hash(key, cap);

	while (slots[i] != SLOT_EMPTY && slots[i] != SLOT_TOMB)
		i = (i + 1) & mask;
	bool tomb = slots[i] == SLOT_TOMB;
	slots[i] = key;
	return tomb;
}

static int rehash(struct excache_pageset *s, u32 cap)
{
	u64 *n = s->ops.alloc(s->ops.ctx, (size_t)cap * sizeof(u64));
	if (!n)
		return -ENOMEM;
	for (u32 i = 0; i < cap; i++)
		n[i] = SLOT_EMPTY;
	for (u32 i = 0; i < s->cap; i++)
		if (s->slots[i] >= KEY_BIAS)
			place(n, cap, s->slots[i]);
	if (s->slots)
		s->ops.free(s->ops.ctx, s->slots, (size_t)s->cap * sizeof(u64));
	s->slots = n;
	s->cap = cap;
	s->tombs = 0;
	return 0;
}

int excache_pageset_add(struct excache_pageset *s, u64 vpage)
{
	if (vpage >= VPAGE_LIMIT)
		return -EINVAL;
	u64 key = vpage + KEY_BIAS;
	if (s->cap && find_slot(s, key) < s->cap)
		return 0;
	/* Keep (members + tombstones + 1) <= 5/8 of the table so probes end. */
	if ((u64)(s->count + s->tombs + 1) * 8 > (u64)s->cap * 5) {
		u32 cap = s->cap ? s->cap : EXCACHE_PAGESET_MIN_CAP;
		/* Rehash to at most 5/16 full, leaving room to grow. */
		while ((u64)(s->count + 1) * 16 > (u64)cap * 5) {
			if (cap >= EXCACHE_PAGESET_MAX_CAP)
				return -ENOMEM;
			cap <<= 1;
		}
		int r = rehash(s, cap);
		if (r)
			return r;
	}
	if (place(s->slots, s->cap, key))
		s->tombs--;
	s->count++;
	return 0;
}

bool excache_pageset_has(const struct excache_pageset *s, u64 vpage)
{
	if (vpage >= VPAGE_LIMIT || !s->cap)
		return false;
	return find_slot(s, vpage + KEY_BIAS) < s->cap;
}

bool excache_pageset_del(struct excache_pageset *s, u64 vpage)
{
	if (vpage >= VPAGE_LIMIT || !s->cap)
		return false;
	u32 i = find_slot(s, vpage + KEY_BIAS);
	if (i >= s->cap)
		return false;
	s->slots[i] = SLOT_TOMB;
	s->tombs++;
	s->count--;
	return true;
}

u64 excache_pageset_del_range(struct excache_pageset *s, u64 lo, u64 hi)
{
	u64 n = 0;

	if (lo >= hi || !s->count)
		return 0;
	/* Probe per page when the range is smaller than the table. */
	if (hi - lo <= s->cap) {
		for (u64 v = lo; v < hi; v++)
			n += excache_pageset_del(s, v);
		return n;
	}
	for (u32 i = 0; i < s->cap; i++) {
		u64 k = s->slots[i];
		if (k >= KEY_BIAS && k - KEY_BIAS >= lo && k - KEY_BIAS < hi) {
			s->slots[i] = SLOT_TOMB;
			s->tombs++;
			s->count--;
			n++;
		}
	}
	return n;
}

int excache_pageset_copy(struct excache_pageset *dst, const struct excache_pageset *src)
{
	struct excache_pageset t;

	excache_pageset_init(&t, &dst->ops);
	if (src->count) {
		u32 cap = EXCACHE_PAGESET_MIN_CAP;
		while ((u64)src->count * 16 > (u64)cap * 5)
			cap <<= 1;
		t.slots = t.ops.alloc(t.ops.ctx, (size_t)cap * sizeof(u64));
		if (!t.slots)
			return -ENOMEM;
		t.cap = cap;
		for (u32 i = 0; i < cap; i++)
			t.slots[i] = SLOT_EMPTY;
		for (u32 i = 0; i < src->cap; i++)
			if (src->slots[i] >= KEY_BIAS)
				place(t.slots, cap, src->slots[i]);
		t.count = src->count;
	}
	excache_pageset_clear(dst);
	*dst = t;
	return 0;
}
