/* Random bytes: RDRAND when present, always mixed with a splitmix64
 * stream seeded from the TSC at first use, so CPUs without RDRAND (or
 * with a broken one) still get distinct, unpredictable-enough values for
 * AT_RANDOM, getrandom and ids. The stream's state is advanced with an
 * atomic add, so any CPU may call this without a lock. */
#include <lego/random.h>
#include <lego/string.h>
#include <asm/cpu.h>

static u64 stream;		/* atomic */
static int have_rdrand = -1;	/* decided at first use */

static u64 rdtsc_now(void)
{
	u32 lo, hi;
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

static bool rdrand64(u64 *v)
{
	for (int i = 0; i < 10; i++) {
		unsigned char ok;
		__asm__ __volatile__("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
		if (ok)
			return true;
	}
	return false;
}

static u64 mix(u64 z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

u64 get_random_u64(void)
{
	if (have_rdrand < 0) {
		u32 a, b, c, d;
		cpuid(1, 0, &a, &b, &c, &d);
		have_rdrand = !!(c & (1u << 30));
		__atomic_fetch_add(&stream, rdtsc_now(), __ATOMIC_RELAXED);
	}
	u64 s = __atomic_add_fetch(&stream, 0x9e3779b97f4a7c15ull, __ATOMIC_RELAXED);
	u64 v = mix(s ^ rdtsc_now());
	u64 r;
	if (have_rdrand && rdrand64(&r))
		v ^= r;
	return v;
}

void get_random_bytes(void *buf, size_t len)
{
	u8 *p = buf;
	while (len) {
		u64 v = get_random_u64();
		size_t n = len < 8 ? len : 8;
		memcpy(p, &v, n);
		p += n;
		len -= n;
	}
}
