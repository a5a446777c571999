/* vRegion array bookkeeping, range splitting and first-level placement
 * (paper §4.4.1). Pure logic: see include/lego/vregion.h. */
#include <lego/vregion.h>
#include <lego/errno.h>

u32 vregion_nr(u32 shift)
{
	return (u32)((LEGO_USER_TOP + (1ULL << shift) - 1) >> shift);
}

void vregion_bounds(u32 shift, u32 index, u64 *lo, u64 *hi)
{
	u64 l = (u64)index << shift, h = l + (1ULL << shift);

	*lo = l < LEGO_USER_TOP ? l : LEGO_USER_TOP;
	*hi = h < LEGO_USER_TOP ? h : LEGO_USER_TOP;
}

u64 vregion_size(u32 shift, u32 index)
{
	u64 lo, hi;

	vregion_bounds(shift, index, &lo, &hi);
	return hi - lo;
}

void vregion_array_init(struct vregion_array *a, u32 shift, struct vregion *storage, u32 cap)
{
	a->shift = shift;
	a->count = 0;
	a->cap = cap;
	a->generation = 0;
	a->v = storage;
}

void vregion_array_move(struct vregion_array *a, struct vregion *storage, u32 cap)
{
	for (u32 i = 0; i < a->count; i++)
		storage[i] = a->v[i];
	a->v = storage;
	a->cap = cap;
}

/* Position of the first entry with index >= idx (count if none). */
static u32 lower_bound(const struct vregion_array *a, u32 idx)
{
	u32 lo = 0, hi = a->count;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		if (a->v[mid].index < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct vregion *vregion_find(const struct vregion_array *a, u32 index)
{
	u32 p = lower_bound(a, index);

	return p < a->count && a->v[p].index == index ? &a->v[p] : NULL;
}

int vregion_insert(struct vregion_array *a, const struct vregion *e)
{
	if (e->index >= vregion_nr(a->shift))
		return -EINVAL;
	u32 p = lower_bound(a, e->index);
	if (p < a->count && a->v[p].index == e->index)
		return -EEXIST;
	if (a->count >= a->cap)
		return -ENOSPC;
	for (u32 i = a->count; i > p; i--)
		a->v[i] = a->v[i - 1];
	a->v[p] = *e;
	a->count++;
	a->generation++;
	return 0;
}

int vregion_remove(struct vregion_array *a, u32 index)
{
	u32 p = lower_bound(a, index);

	if (p >= a->count || a->v[p].index != index)
		return -ENOENT;
	for (u32 i = p; i + 1 < a->count; i++)
		a->v[i] = a->v[i + 1];
	a->count--;
	a->generation++;
	return 0;
}

bool vregion_piece_next(u32 shift, u64 *pos, u64 end, struct vregion_piece *p)
{
	if (*pos >= end)
		return false;
	u64 lo, hi;
	p->index = (u32)(*pos >> shift);
	vregion_bounds(shift, p->index, &lo, &hi);
	p->start = *pos;
	p->end = end < hi ? end : hi;
	if (p->end <= p->start)		/* pos at or beyond LEGO_USER_TOP */
		return false;
	*pos = p->end;
	return true;
}

u32 vregion_piece_count(u32 shift, u64 start, u64 end)
{
	if (start >= end)
		return 0;
	return (u32)(((end - 1) >> shift) - (start >> shift) + 1);
}

int vregion_next_candidate(const struct vregion_array *a, s64 *cursor, u64 len, u32 *index)
{
	while (*cursor >= 0) {
		u32 idx = (u32)*cursor;
		struct vregion *v = vregion_find(a, idx);
		if (v) {
			if (v->max_gap >= len) {
				*index = idx;
				*cursor = (s64)idx - 1;
				return 1;
			}
			/* Skip straight to the next lower index; a run of
			 * active, full vRegions is walked one by one, which
			 * is O(active) overall. */
			(*cursor)--;
			continue;
		}
		if (idx == 0 || len > vregion_size(a->shift, idx)) {
			(*cursor)--;
			continue;
		}
		*index = idx;
		*cursor = (s64)idx - 1;
		return 0;
	}
	return -ENOMEM;
}

static bool wholly_free(const struct vregion_array *a, u32 idx)
{
	const struct vregion *v = vregion_find(a, idx);

	return !v || (!v->nr_vmas && v->free_bytes == vregion_size(a->shift, idx));
}

int vregion_find_free_run(const struct vregion_array *a, u64 top, u32 n, u32 *first)
{
	if (!n)
		return -EINVAL;
	if (top > LEGO_USER_TOP)
		top = LEGO_USER_TOP;
	/* Highest vRegion wholly below top. */
	s64 hi_idx = (s64)(top >> a->shift) - 1;
	if (top == LEGO_USER_TOP && (top & ((1ULL << a->shift) - 1)))
		hi_idx = (s64)(top >> a->shift);	/* the short last vRegion */
	u32 run = 0;
	for (s64 i = hi_idx; i >= 1; i--) {
		if (wholly_free(a, (u32)i)) {
			if (++run == n) {
				*first = (u32)i;
				return 0;
			}
		} else {
			run = 0;
		}
	}
	return -ENOMEM;
}

u32 vregion_encode(const struct vregion_array *a, struct lego_mem_vregion *out, u32 max)
{
	u32 n = a->count < max ? a->count : max;

	for (u32 i = 0; i < n; i++) {
		out[i].index = a->v[i].index;
		out[i].owner_node = a->v[i].owner_node;
		out[i].owner_ipv4 = a->v[i].owner_ip;
		out[i].owner_port = a->v[i].owner_port;
		out[i].flags = 0;
	}
	return n;
}
