/* Word-at-a-time bitmap helpers; see include/lego/bitmap.h. */
#include <lego/bitmap.h>

/* Mask of the bits at positions >= (bit % BITS_PER_LONG) within a word. */
static inline unsigned long bitmap_first_word_mask(size_t bit)
{
	return ~0UL << (bit % BITS_PER_LONG);
}

/*
 * Mask of the bits at positions < (nbits % BITS_PER_LONG) within a word,
 * or all bits when nbits ends on a word boundary.
 */
static inline unsigned long bitmap_last_word_mask(size_t nbits)
{
	size_t r = nbits % BITS_PER_LONG;

	return r ? ~0UL >> (BITS_PER_LONG - r) : ~0UL;
}

static void bitmap_update_range(unsigned long *map, size_t start, size_t len, bool set)
{
	size_t end, first, last;
	unsigned long mask;

	if (len == 0)
		return;
	end = start + len;
	first = BITMAP_WORD(start);
	last = BITMAP_WORD(end - 1);

	for (size_t i = first; i <= last; i++) {
		mask = ~0UL;
		if (i == first)
			mask &= bitmap_first_word_mask(start);
		if (i == last)
			mask &= bitmap_last_word_mask(end);
		if (set)
			map[i] |= mask;
		else
			map[i] &= ~mask;
	}
}

void bitmap_set_range(unsigned long *map, size_t start, size_t len)
{
	bitmap_update_range(map, start, len, true);
}

void bitmap_clear_range(unsigned long *map, size_t start, size_t len)
{
	bitmap_update_range(map, start, len, false);
}

/*
 * Shared scanner: invert is 0 to look for set bits and ~0 to look for clear
 * bits, so that in both cases we look for the first 1 in (word ^ invert).
 */
static size_t bitmap_find_next(const unsigned long *map, size_t nbits, size_t start,
			       unsigned long invert)
{
	size_t i, bit;
	unsigned long w;

	if (start >= nbits)
		return nbits;

	i = BITMAP_WORD(start);
	w = (map[i] ^ invert) & bitmap_first_word_mask(start);
	while (w == 0) {
		i++;
		if (i * BITS_PER_LONG >= nbits)
			return nbits;
		w = map[i] ^ invert;
	}
	bit = i * BITS_PER_LONG + (size_t)__builtin_ctzl(w);
	/* The hit may be one of the don't-care bits past nbits. */
	return bit < nbits ? bit : nbits;
}

size_t bitmap_find_next_set(const unsigned long *map, size_t nbits, size_t start)
{
	return bitmap_find_next(map, nbits, start, 0);
}

size_t bitmap_find_next_zero(const unsigned long *map, size_t nbits, size_t start)
{
	return bitmap_find_next(map, nbits, start, ~0UL);
}

size_t bitmap_find_zero_area(const unsigned long *map, size_t nbits, size_t start,
			     size_t len)
{
	size_t s, busy;

	if (len == 0)
		return start < nbits ? start : nbits;

	for (;;) {
		s = bitmap_find_next_zero(map, nbits, start);
		if (s >= nbits || len > nbits - s)
			return nbits;
		/* Any set bit inside [s, s + len) disqualifies this start. */
		busy = bitmap_find_next_set(map, s + len, s);
		if (busy >= s + len)
			return s;
		start = busy + 1;
	}
}

/* Population count without libgcc: the kernel is not linked against it and
 * the baseline x86-64 ISA has no POPCNT instruction. */
static inline unsigned bitmap_popcount_word(unsigned long w)
{
	w = w - ((w >> 1) & 0x5555555555555555ul);
	w = (w & 0x3333333333333333ul) + ((w >> 2) & 0x3333333333333333ul);
	w = (w + (w >> 4)) & 0x0f0f0f0f0f0f0f0ful;
	return (unsigned)((w * 0x0101010101010101ul) >> 56);
}

size_t bitmap_weight(const unsigned long *map, size_t nbits)
{
	size_t full = nbits / BITS_PER_LONG;
	size_t n = 0;

	for (size_t i = 0; i < full; i++)
		n += (size_t)bitmap_popcount_word(map[i]);
	if (nbits % BITS_PER_LONG)
		n += (size_t)bitmap_popcount_word(map[full] & bitmap_last_word_mask(nbits));
	return n;
}
