/*
 * Bitmaps stored as arrays of unsigned long words.
 *
 * Bit n lives in word n / BITS_PER_LONG at position n % BITS_PER_LONG, so a
 * map can be scanned a word at a time. Nothing here is atomic: the caller
 * serialises every access to a given map. Bits past nbits in the last word
 * may hold anything; every function that takes nbits ignores them.
 */
#ifndef LEGO_BITMAP_H
#define LEGO_BITMAP_H

#include <lego/types.h>
#include <lego/compiler.h>

#define BITS_PER_LONG ((size_t)(8 * sizeof(unsigned long)))
#define BITS_TO_LONGS(n) DIV_ROUND_UP((size_t)(n), BITS_PER_LONG)
#define DECLARE_BITMAP(name, nbits) unsigned long name[BITS_TO_LONGS(nbits)]

#define BITMAP_WORD(bit) ((size_t)(bit) / BITS_PER_LONG)
#define BITMAP_MASK(bit) (1UL << ((size_t)(bit) % BITS_PER_LONG))

static inline void bitmap_set_bit(unsigned long *map, size_t bit)
{
	map[BITMAP_WORD(bit)] |= BITMAP_MASK(bit);
}

static inline void bitmap_clear_bit(unsigned long *map, size_t bit)
{
	map[BITMAP_WORD(bit)] &= ~BITMAP_MASK(bit);
}

static inline bool bitmap_test_bit(const unsigned long *map, size_t bit)
{
	return (map[BITMAP_WORD(bit)] & BITMAP_MASK(bit)) != 0;
}

/* Clears every word covering nbits, including the unused tail bits. */
static inline void bitmap_zero(unsigned long *map, size_t nbits)
{
	for (size_t i = 0; i < BITS_TO_LONGS(nbits); i++)
		map[i] = 0;
}

/* Sets bits [start, start + len). */
void bitmap_set_range(unsigned long *map, size_t start, size_t len);
/* Clears bits [start, start + len). */
void bitmap_clear_range(unsigned long *map, size_t start, size_t len);

/* First set bit at index >= start and < nbits, or nbits if there is none. */
size_t bitmap_find_next_set(const unsigned long *map, size_t nbits, size_t start);
/* First clear bit at index >= start and < nbits, or nbits if there is none. */
size_t bitmap_find_next_zero(const unsigned long *map, size_t nbits, size_t start);
/*
 * Index of the first run of len clear bits that begins at or after start
 * and ends at or before nbits, or nbits if there is none. A zero len
 * matches at start itself (clamped to nbits).
 */
size_t bitmap_find_zero_area(const unsigned long *map, size_t nbits, size_t start,
			     size_t len);
/* Number of set bits among the first nbits. */
size_t bitmap_weight(const unsigned long *map, size_t nbits);

#endif
