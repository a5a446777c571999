/* ExCache line directory: tags, free lines, victims and the LRU sweep.
 * Pure logic; see include/lego/excache_dir.h. */
#include <lego/excache_dir.h>
#include <lego/bitmap.h>
#include <lego/errno.h>

#define META_ALIGN 8

static size_t meta_round(size_t n)
{
	return ALIGN_UP(n, (size_t)META_ALIGN);
}

static bool is_pow2(u32 x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

static u32 log2_u32(u32 x)
{
	u32 r = 0;

	while (x > 1) {
		x >>= 1;
		r++;
	}
	return r;
}

static bool config_ok(const struct excache_dir_config *cfg)
{
	if (!cfg)
		return false;
	if (cfg->ways == 0 || cfg->ways > EXCACHE_MAX_WAYS)
		return false;
	if (cfg->nr_lines == 0 || cfg->nr_lines > EXCACHE_MAX_LINES ||
	    cfg->nr_lines % cfg->ways != 0 || !is_pow2(cfg->nr_lines / cfg->ways))
		return false;
	if (cfg->base & (EXCACHE_LINE_SIZE - 1))
		return false;
	if (cfg->evict != EXCACHE_EVICT_FIFO && cfg->evict != EXCACHE_EVICT_LRU)
		return false;
	if (cfg->free != EXCACHE_FREE_LIST && cfg->free != EXCACHE_FREE_BITMAP)
		return false;
	return true;
}

/* Layout of the metadata block: sets, lines, then (bitmap mode) the free
 * map, each 8-byte aligned. */
static size_t sets_bytes(u32 nr_sets)
{
	return meta_round((size_t)nr_sets * sizeof(struct excache_set));
}

static size_t lines_bytes(u32 nr_lines)
{
	return meta_round((size_t)nr_lines * sizeof(struct excache_line));
}

static size_t map_bytes(const struct excache_dir_config *cfg, u32 nr_sets)
{
	if (cfg->free != EXCACHE_FREE_BITMAP)
		return 0;
	return (size_t)nr_sets * BITS_TO_LONGS(cfg->ways) * sizeof(unsigned long);
}

size_t excache_dir_meta_size(const struct excache_dir_config *cfg)
{
	u32 nr_sets;

	if (!config_ok(cfg))
		return 0;
	nr_sets = cfg->nr_lines / cfg->ways;
	return sets_bytes(nr_sets) + lines_bytes(cfg->nr_lines) + map_bytes(cfg, nr_sets);
}

static unsigned long *set_map(const struct excache_dir *d, u32 set)
{
	return d->free_map + (size_t)set * d->bm_words;
}

static u32 set_first(const struct excache_dir *d, u32 set)
{
	return set * d->ways;
}

/* Returns line idx to the set's free structure. */
static void free_push(struct excache_dir *d, u32 idx)
{
	u32 set = excache_dir_line_set(d, idx);
	struct excache_set *s = &d->sets[set];
	struct excache_line *l = &d->lines[idx];

	l->state = EXCACHE_LINE_FREE;
	l->flags = 0;
	l->pin = 0;
	l->prev = EXCACHE_NIL;
	if (d->free == EXCACHE_FREE_LIST) {
		l->next = s->free_head;
		s->free_head = idx;
	} else {
		l->next = EXCACHE_NIL;
		bitmap_set_bit(set_map(d, set), idx - set_first(d, set));
	}
	s->nr_free++;
}

/* Takes a free line of the set, or EXCACHE_NIL. */
static u32 free_pop(struct excache_dir *d, u32 set)
{
	struct excache_set *s = &d->sets[set];
	u32 idx;

	if (s->nr_free == 0)
		return EXCACHE_NIL;
	if (d->free == EXCACHE_FREE_LIST) {
		idx = s->free_head;
		s->free_head = d->lines[idx].next;
		s->st.alloc_list++;
	} else {
		/* The linear scan paper §6.2 measures against the list. */
		unsigned long *map = set_map(d, set);
		size_t way = bitmap_find_next_set(map, d->ways, 0);

		bitmap_clear_bit(map, way);
		idx = set_first(d, set) + (u32)way;
		s->st.alloc_bitmap++;
	}
	s->nr_free--;
	d->lines[idx].next = EXCACHE_NIL;
	return idx;
}

static void q_append(struct excache_dir *d, struct excache_set *s, u32 idx)
{
	struct excache_line *l = &d->lines[idx];

	l->next = EXCACHE_NIL;
	l->prev = s->q_tail;
	if (s->q_tail != EXCACHE_NIL)
		d->lines[s->q_tail].next = idx;
	else
		s->q_head = idx;
	s->q_tail = idx;
	s->q_len++;
}

static void q_prepend(struct excache_dir *d, struct excache_set *s, u32 idx)
{
	struct excache_line *l = &d->lines[idx];

	l->prev = EXCACHE_NIL;
	l->next = s->q_head;
	if (s->q_head != EXCACHE_NIL)
		d->lines[s->q_head].prev = idx;
	else
		s->q_tail = idx;
	s->q_head = idx;
	s->q_len++;
}

static void q_unlink(struct excache_dir *d, struct excache_set *s, u32 idx)
{
	struct excache_line *l = &d->lines[idx];

	if (l->prev != EXCACHE_NIL)
		d->lines[l->prev].next = l->next;
	else
		s->q_head = l->next;
	if (l->next != EXCACHE_NIL)
		d->lines[l->next].prev = l->prev;
	else
		s->q_tail = l->prev;
	l->next = l->prev = EXCACHE_NIL;
	s->q_len--;
}

int excache_dir_init(struct excache_dir *d, const struct excache_dir_config *cfg, void *meta,
		     size_t meta_size)
{
	size_t need = excache_dir_meta_size(cfg);
	char *p = meta;

	if (!d || need == 0 || !meta || meta_size < need || ((uintptr_t)meta & (META_ALIGN - 1)))
		return -EINVAL;

	d->base = cfg->base;
	d->nr_lines = cfg->nr_lines;
	d->ways = cfg->ways;
	d->nr_sets = cfg->nr_lines / cfg->ways;
	d->set_bits = log2_u32(d->nr_sets);
	d->bm_words = (u32)BITS_TO_LONGS(cfg->ways);
	d->evict = cfg->evict;
	d->free = cfg->free;
	d->sets = (struct excache_set *)p;
	p += sets_bytes(d->nr_sets);
	d->lines = (struct excache_line *)p;
	p += lines_bytes(d->nr_lines);
	d->free_map = cfg->free == EXCACHE_FREE_BITMAP ? (unsigned long *)p : NULL;

	for (u32 s = 0; s < d->nr_sets; s++) {
		struct excache_set *set = &d->sets[s];

		*set = (struct excache_set){
			.free_head = EXCACHE_NIL,
			.q_head = EXCACHE_NIL,
			.q_tail = EXCACHE_NIL,
		};
		if (d->free_map)
			bitmap_zero(set_map(d, s), d->ways);
		/* Pushed high to low so the list hands out way 0 first, like
		 * the bitmap scan. */
		for (u32 w = d->ways; w-- > 0;) {
			u32 idx = set_first(d, s) + w;

			d->lines[idx] = (struct excache_line){ .next = EXCACHE_NIL,
								.prev = EXCACHE_NIL };
			free_push(d, idx);
		}
	}
	return 0;
}

u32 excache_dir_set_of(const struct excache_dir *d, u32 asid, u64 vpage)
{
	u32 mask = d->nr_sets - 1;
	u32 mix;

	if (d->set_bits == 0)
		return 0;
	/* Fibonacci hashing: the top set_bits bits of asid * 2^32/phi. */
	mix = (u32)(((u64)asid * 0x9e3779b97f4a7c15ULL) >> (64 - d->set_bits));
	return ((u32)vpage ^ mix) & mask;
}

long excache_dir_phys_line(const struct excache_dir *d, phys_addr_t pa)
{
	phys_addr_t off;

	if (pa < d->base)
		return -EINVAL;
	off = (pa - d->base) >> EXCACHE_LINE_SHIFT;
	if (off >= d->nr_lines)
		return -EINVAL;
	return (long)off;
}

long excache_dir_find(const struct excache_dir *d, u32 asid, u64 vpage)
{
	u32 set = excache_dir_set_of(d, asid, vpage);
	u32 first = set_first(d, set);

	/* The tag compare the paper's hardware would do on every access; we
	 * only reach it on a miss, so a linear scan of the ways is enough. */
	for (u32 i = first; i < first + d->ways; i++) {
		const struct excache_line *l = &d->lines[i];

		if (l->state != EXCACHE_LINE_FREE && l->vpage == vpage && l->asid == asid)
			return (long)i;
	}
	return -ENOENT;
}

long excache_dir_lookup(struct excache_dir *d, u32 asid, u64 vpage)
{
	struct excache_set *s = &d->sets[excache_dir_set_of(d, asid, vpage)];
	long idx = excache_dir_find(d, asid, vpage);

	s->st.lookups++;
	if (idx < 0)
		s->st.misses++;
	return idx;
}

long excache_dir_insert(struct excache_dir *d, u32 asid, u64 vpage)
{
	u32 set = excache_dir_set_of(d, asid, vpage);
	u32 idx = free_pop(d, set);
	struct excache_line *l;

	if (idx == EXCACHE_NIL) {
		d->sets[set].st.alloc_full++;
		return -ENOSPC;
	}
	l = &d->lines[idx];
	l->asid = asid;
	l->vpage = vpage;
	l->state = EXCACHE_LINE_FILLING;
	l->flags = 0;
	l->pin = 0;
	return (long)idx;
}

static bool line_in(const struct excache_dir *d, u32 idx, enum excache_line_state st)
{
	return idx < d->nr_lines && d->lines[idx].state == st;
}

int excache_dir_fill_done(struct excache_dir *d, u32 idx, bool dirty)
{
	struct excache_set *s;
	struct excache_line *l;

	if (!line_in(d, idx, EXCACHE_LINE_FILLING))
		return -EINVAL;
	s = &d->sets[excache_dir_line_set(d, idx)];
	l = &d->lines[idx];
	l->state = EXCACHE_LINE_VALID;
	/* The faulting access is about to touch it: referenced until the
	 * sweep says otherwise. */
	l->flags = EXCACHE_LF_REFERENCED | (dirty ? EXCACHE_LF_DIRTY : 0);
	l->stamp = ++s->fill_seq;
	q_append(d, s, idx);
	s->st.fills++;
	return 0;
}

int excache_dir_fill_abort(struct excache_dir *d, u32 idx)
{
	if (!line_in(d, idx, EXCACHE_LINE_FILLING))
		return -EINVAL;
	d->sets[excache_dir_line_set(d, idx)].st.fill_aborts++;
	free_push(d, idx);
	return 0;
}

long excache_dir_victim(struct excache_dir *d, u32 set)
{
	struct excache_set *s = &d->sets[set];
	u32 pick = EXCACHE_NIL;

	/*
	 * The queue is in eviction order (oldest fill for FIFO, least
	 * recently seen referenced for LRU), so the first unpinned line is
	 * the policy's choice. Under LRU a line still marked referenced is
	 * passed over for an unreferenced one further on; if every candidate
	 * is referenced the first one goes.
	 */
	for (u32 i = s->q_head; i != EXCACHE_NIL; i = d->lines[i].next) {
		const struct excache_line *l = &d->lines[i];

		if (l->pin)
			continue;
		if (pick == EXCACHE_NIL)
			pick = i;
		if (d->evict == EXCACHE_EVICT_FIFO || !(l->flags & EXCACHE_LF_REFERENCED)) {
			pick = i;
			break;
		}
	}
	if (pick == EXCACHE_NIL) {
		s->st.victim_busy++;
		return -EBUSY;
	}
	q_unlink(d, s, pick);
	d->lines[pick].state = EXCACHE_LINE_EVICTING;
	return (long)pick;
}

int excache_dir_evict_done(struct excache_dir *d, u32 idx, bool written_back)
{
	struct excache_set *s;

	if (!line_in(d, idx, EXCACHE_LINE_EVICTING))
		return -EINVAL;
	s = &d->sets[excache_dir_line_set(d, idx)];
	s->st.evictions++;
	if (written_back)
		s->st.writebacks++;
	free_push(d, idx);
	return 0;
}

int excache_dir_evict_abort(struct excache_dir *d, u32 idx)
{
	if (!line_in(d, idx, EXCACHE_LINE_EVICTING))
		return -EINVAL;
	d->lines[idx].state = EXCACHE_LINE_VALID;
	q_prepend(d, &d->sets[excache_dir_line_set(d, idx)], idx);
	return 0;
}

/* VALID and unpinned -> FREE. */
static void remove_valid(struct excache_dir *d, u32 idx)
{
	struct excache_set *s = &d->sets[excache_dir_line_set(d, idx)];

	q_unlink(d, s, idx);
	s->st.removed++;
	free_push(d, idx);
}

int excache_dir_remove(struct excache_dir *d, u32 idx)
{
	if (!line_in(d, idx, EXCACHE_LINE_VALID))
		return -EINVAL;
	if (d->lines[idx].pin)
		return -EBUSY;
	remove_valid(d, idx);
	return 0;
}

int excache_dir_pin(struct excache_dir *d, u32 idx)
{
	struct excache_line *l;

	if (!line_in(d, idx, EXCACHE_LINE_VALID))
		return -EINVAL;
	l = &d->lines[idx];
	if (l->pin == 0xffff)
		return -ERANGE;
	l->pin++;
	return 0;
}

int excache_dir_unpin(struct excache_dir *d, u32 idx)
{
	if (!line_in(d, idx, EXCACHE_LINE_VALID) || d->lines[idx].pin == 0)
		return -EINVAL;
	d->lines[idx].pin--;
	return 0;
}

void excache_dir_set_dirty(struct excache_dir *d, u32 idx, bool dirty)
{
	struct excache_line *l;

	if (idx >= d->nr_lines)
		return;
	l = &d->lines[idx];
	if (l->state == EXCACHE_LINE_FREE)
		return;
	if (dirty)
		l->flags |= EXCACHE_LF_DIRTY;
	else
		l->flags &= (u8)~EXCACHE_LF_DIRTY;
}

u32 excache_dir_sweep(struct excache_dir *d, u32 set, excache_sweep_fn fn, void *ctx)
{
	struct excache_set *s = &d->sets[set];
	u32 n = s->q_len, accessed = 0;
	u32 i = s->q_head;

	/*
	 * Exactly n steps: an accessed line moved to the tail keeps its
	 * successor, so each original member is seen once, in order, and
	 * the moved lines keep their relative order behind the rest.
	 */
	for (u32 k = 0; k < n && i != EXCACHE_NIL; k++) {
		struct excache_line *l = &d->lines[i];
		u32 next = l->next;
		int r = fn(ctx, d, i);

		if (r & EXCACHE_SWEEP_DIRTY)
			l->flags |= EXCACHE_LF_DIRTY;
		if (r & EXCACHE_SWEEP_ACCESSED) {
			l->flags |= EXCACHE_LF_REFERENCED;
			accessed++;
			if (d->evict == EXCACHE_EVICT_LRU && s->q_tail != i) {
				q_unlink(d, s, i);
				q_append(d, s, i);
			}
		} else {
			l->flags &= (u8)~EXCACHE_LF_REFERENCED;
		}
		i = next;
	}
	s->st.sweeps++;
	s->st.sweep_accessed += accessed;
	return accessed;
}

/* [first, last] sets of a set argument; false if set is out of range. */
static bool set_range(const struct excache_dir *d, u32 set, u32 *first, u32 *last)
{
	if (set == EXCACHE_ALL_SETS) {
		*first = 0;
		*last = d->nr_sets - 1;
		return true;
	}
	if (set >= d->nr_sets)
		return false;
	*first = *last = set;
	return true;
}

int excache_dir_for_each_asid(struct excache_dir *d, u32 set, u32 asid, excache_line_fn fn,
			      void *ctx)
{
	u32 first, last;

	if (!set_range(d, set, &first, &last))
		return -EINVAL;
	for (u32 s = first; s <= last; s++) {
		u32 i = d->sets[s].q_head;

		while (i != EXCACHE_NIL) {
			u32 next = d->lines[i].next;

			if (d->lines[i].asid == asid) {
				int r = fn(ctx, d, i);

				if (r)
					return r;
			}
			i = next;
		}
	}
	return 0;
}

u32 excache_dir_invalidate_asid(struct excache_dir *d, u32 set, u32 asid, excache_line_fn fn,
				void *ctx)
{
	u32 first, last, freed = 0;

	if (!set_range(d, set, &first, &last))
		return 0;
	for (u32 s = first; s <= last; s++) {
		u32 i = d->sets[s].q_head;

		while (i != EXCACHE_NIL) {
			struct excache_line *l = &d->lines[i];
			u32 next = l->next;

			if (l->asid == asid && !l->pin) {
				if (fn)
					fn(ctx, d, i);
				remove_valid(d, i);
				freed++;
			}
			i = next;
		}
	}
	return freed;
}

void excache_dir_stats(const struct excache_dir *d, struct excache_dir_stats *out)
{
	*out = (struct excache_dir_stats){ 0 };
	for (u32 s = 0; s < d->nr_sets; s++) {
		const struct excache_dir_stats *st = &d->sets[s].st;

		out->lookups += READ_ONCE(st->lookups);
		out->misses += READ_ONCE(st->misses);
		out->fills += READ_ONCE(st->fills);
		out->fill_aborts += READ_ONCE(st->fill_aborts);
		out->evictions += READ_ONCE(st->evictions);
		out->writebacks += READ_ONCE(st->writebacks);
		out->alloc_list += READ_ONCE(st->alloc_list);
		out->alloc_bitmap += READ_ONCE(st->alloc_bitmap);
		out->alloc_full += READ_ONCE(st->alloc_full);
		out->victim_busy += READ_ONCE(st->victim_busy);
		out->removed += READ_ONCE(st->removed);
		out->sweeps += READ_ONCE(st->sweeps);
		out->sweep_accessed += READ_ONCE(st->sweep_accessed);
	}
}

/* Free structure of one set against the line states. */
static int check_free(const struct excache_dir *d, u32 set)
{
	const struct excache_set *s = &d->sets[set];
	u32 first = set_first(d, set), nfree = 0, listed = 0;

	for (u32 i = first; i < first + d->ways; i++)
		if (d->lines[i].state == EXCACHE_LINE_FREE)
			nfree++;
	if (nfree != s->nr_free)
		return -EUCLEAN;

	if (d->free == EXCACHE_FREE_LIST) {
		for (u32 i = s->free_head; i != EXCACHE_NIL; i = d->lines[i].next) {
			if (i < first || i >= first + d->ways ||
			    d->lines[i].state != EXCACHE_LINE_FREE || ++listed > d->ways)
				return -EUCLEAN;
		}
	} else {
		const unsigned long *map = d->free_map + (size_t)set * d->bm_words;

		for (u32 w = 0; w < d->ways; w++) {
			bool bit = bitmap_test_bit(map, w);

			if (bit != (d->lines[first + w].state == EXCACHE_LINE_FREE))
				return -EUCLEAN;
			listed += bit;
		}
	}
	return listed == nfree ? 0 : -EUCLEAN;
}

/* Queue of one set against the line states, and the tags. */
static int check_queue(const struct excache_dir *d, u32 set)
{
	const struct excache_set *s = &d->sets[set];
	u32 first = set_first(d, set), nvalid = 0, queued = 0, prev = EXCACHE_NIL;

	for (u32 i = first; i < first + d->ways; i++) {
		const struct excache_line *l = &d->lines[i];

		if (l->state > EXCACHE_LINE_EVICTING)
			return -EUCLEAN;
		if (l->state == EXCACHE_LINE_FREE)
			continue;
		if (l->state == EXCACHE_LINE_VALID)
			nvalid++;
		else if (l->pin)
			return -EUCLEAN;
		if (excache_dir_set_of(d, l->asid, l->vpage) != set)
			return -EUCLEAN;
		for (u32 j = i + 1; j < first + d->ways; j++) {
			const struct excache_line *m = &d->lines[j];

			if (m->state != EXCACHE_LINE_FREE && m->asid == l->asid &&
			    m->vpage == l->vpage)
				return -EUCLEAN;
		}
	}
	for (u32 i = s->q_head; i != EXCACHE_NIL; i = d->lines[i].next) {
		if (i < first || i >= first + d->ways || d->lines[i].state != EXCACHE_LINE_VALID ||
		    d->lines[i].prev != prev || ++queued > d->ways)
			return -EUCLEAN;
		prev = i;
	}
	if (prev != s->q_tail || queued != nvalid || queued != s->q_len)
		return -EUCLEAN;
	return 0;
}

int excache_dir_check(const struct excache_dir *d)
{
	for (u32 s = 0; s < d->nr_sets; s++) {
		if (check_free(d, s) || check_queue(d, s))
			return -EUCLEAN;
	}
	return 0;
}
