/* Memory monitor protocol logic: request decoding and validation. Pure
 * (see include/lego/mem_proto.h): the same file runs in the memory
 * personality and in the host unit test. */
#include <lego/mem_proto.h>
#include <lego/path.h>
#include <lego/vma.h>
#include <lego/errno.h>
#include <lego/compiler.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

#define PG_MASK ((u64)LEGO_PAGE_SIZE - 1)

/* MAP_* bits an mmap request may carry (those vma.h knows). */
#define MEM_MAP_KNOWN                                                                      \
	(LEGO_MAP_TYPE | LEGO_MAP_FIXED | LEGO_MAP_ANONYMOUS | LEGO_MAP_32BIT |            \
	 LEGO_MAP_GROWSDOWN | LEGO_MAP_DENYWRITE | LEGO_MAP_EXECUTABLE | LEGO_MAP_LOCKED | \
	 LEGO_MAP_NORESERVE | LEGO_MAP_POPULATE | LEGO_MAP_NONBLOCK | LEGO_MAP_STACK |     \
	 LEGO_MAP_HUGETLB | LEGO_MAP_SYNC | LEGO_MAP_FIXED_NOREPLACE |                     \
	 LEGO_MAP_UNINITIALIZED)
#define MEM_MREMAP_KNOWN (LEGO_MREMAP_MAYMOVE | LEGO_MREMAP_FIXED | LEGO_MREMAP_DONTUNMAP)
#define MEM_ACCESS_KNOWN (LEGO_MEM_ACCESS_READ | LEGO_MEM_ACCESS_WRITE | LEGO_MEM_ACCESS_EXEC)

int mem_path_check(const char *p, size_t n)
{
	return lego_path_check(p, n);
}

bool mem_vregion_shift_ok(u32 shift)
{
	return shift >= MEM_VREGION_SHIFT_MIN && shift <= MEM_VREGION_SHIFT_MAX;
}

u64 mem_vregion_count(u32 shift)
{
	return (LEGO_USER_TOP + (1ULL << shift) - 1) >> shift;
}

bool mem_vregion_index_ok(u32 index, u32 shift)
{
	return mem_vregion_shift_ok(shift) && (u64)index < mem_vregion_count(shift);
}

void mem_vregion_bounds(u32 index, u32 shift, u64 *lo, u64 *hi)
{
	u64 l = (u64)index << shift;
	u64 h = l + (1ULL << shift);

	if (h > LEGO_USER_TOP)
		h = LEGO_USER_TOP;
	*lo = l;
	*hi = h;
}

bool mem_range_in(u64 addr, u64 len, u64 lo, u64 hi)
{
	if (addr < lo || addr > hi)
		return false;
	if (len > hi - addr)
		return false;
	/* Rounded up to a page, still inside (hi is page aligned). */
	u64 r = (len + PG_MASK) & ~PG_MASK;
	if (r < len)
		return false;
	return r <= hi - addr;
}

/* A range [addr, addr + len) entirely below LEGO_USER_TOP (no overflow). */
static bool below_top(u64 addr, u64 len)
{
	return addr <= LEGO_USER_TOP && len <= LEGO_USER_TOP - addr;
}

int mem_decode_create(const void *msg, size_t len, struct lego_mem_create_req *out)
{
	if (!msg || len != sizeof(*out))
		return -EINVAL;
	memcpy(out, msg, sizeof(*out));
	if (out->flags)
		return -EINVAL;
	if (!out->storage_port)
		out->storage_port = LEGO_RPC_PORT;
	return 0;
}

int mem_decode_exec(const void *msg, size_t len, struct mem_exec_msg *out)
{
	const u8 *b = msg;

	if (!msg || len < sizeof(out->h))
		return -EINVAL;
	memcpy(&out->h, msg, sizeof(out->h));
	if (out->h.c.flags)
		return -EINVAL;
	if (!out->h.c.storage_port)
		out->h.c.storage_port = LEGO_RPC_PORT;
	size_t need = sizeof(out->h) + (size_t)out->h.path_len + (size_t)out->h.strings_len;
	if (need != len)
		return -EINVAL;
	out->path = (const char *)b + sizeof(out->h);
	out->strings = out->path + out->h.path_len;
	int err = mem_path_check(out->path, out->h.path_len);
	if (err)
		return err;
	/* argc + envc NUL-terminated strings filling strings_len exactly;
	 * argc 0 is allowed (Linux allows execve with an empty argv). */
	u64 want = (u64)out->h.argc + out->h.envc;
	if (want > MEM_EXEC_STRINGS_MAX || want > out->h.strings_len)
		return -EINVAL;
	u64 found = 0;
	for (u32 i = 0; i < out->h.strings_len; i++)
		if (out->strings[i] == '\0')
			found++;
	if (found != want)
		return -EINVAL;
	if (out->h.strings_len && out->strings[out->h.strings_len - 1] != '\0')
		return -EINVAL;
	return 0;
}

/* Path rules for map requests: present iff this is a file mmap. */
static int map_path(bool wants, const u8 *p, u16 n, const char **path)
{
	*path = NULL;
	if (!wants)
		return n ? -EINVAL : 0;
	if (!n)
		return -EINVAL;
	*path = (const char *)p;
	return mem_path_check(*path, n);
}

/* mprotect checks prot before anything else, as Linux does: unknown bits,
 * or both growth directions, are -EINVAL whatever the range holds. */
static bool mem_mprotect_prot_ok(u32 prot)
{
	const u32 known = LEGO_PROT_READ | LEGO_PROT_WRITE | LEGO_PROT_EXEC | LEGO_PROT_SEM |
			  LEGO_PROT_GROWSDOWN | LEGO_PROT_GROWSUP;
	const u32 both = LEGO_PROT_GROWSDOWN | LEGO_PROT_GROWSUP;

	return !(prot & ~known) && (prot & both) != both;
}

int mem_decode_map(u16 opcode, const void *msg, size_t len, struct mem_map_msg *out)
{
	struct lego_mem_map_req *h = &out->h;

	if (!msg || len < sizeof(*h))
		return -EINVAL;
	memcpy(h, msg, sizeof(*h));
	if (len != sizeof(*h) + (size_t)h->path_len)
		return -EINVAL;
	const u8 *p = (const u8 *)msg + sizeof(*h);
	bool file = false;

	switch (opcode) {
	case LEGO_OP_MEM_MMAP:
		if (h->flags & ~MEM_MAP_KNOWN)
			return -EINVAL;
		file = !(h->flags & LEGO_MAP_ANONYMOUS);
		if ((h->flags & (LEGO_MAP_FIXED | LEGO_MAP_FIXED_NOREPLACE)) &&
		    !below_top(h->addr, h->len))
			return -EINVAL;
		break;
	case LEGO_OP_MEM_MPROTECT:
		if (!mem_mprotect_prot_ok(h->prot))
			return -EINVAL;
		__attribute__((fallthrough));
	case LEGO_OP_MEM_MUNMAP:
		if ((h->addr & PG_MASK) || !below_top(h->addr, h->len))
			return -EINVAL;
		break;
	case LEGO_OP_MEM_MREMAP:
		if (h->flags & ~MEM_MREMAP_KNOWN)
			return -EINVAL;
		if ((h->addr & PG_MASK) || !below_top(h->addr, h->len))
			return -EINVAL;
		if (h->new_len > LEGO_USER_TOP)
			return -EINVAL;
		if ((h->flags & LEGO_MREMAP_FIXED) &&
		    ((h->new_addr & PG_MASK) || !below_top(h->new_addr, h->new_len)))
			return -EINVAL;
		break;
	case LEGO_OP_MEM_BRK:
		if (h->addr > LEGO_USER_TOP)
			return -EINVAL;
		break;
	case LEGO_OP_MEM_EXIT:
	case LEGO_OP_MEM_VREGIONS:
	case LEGO_OP_MEM_MAPS:
		break;
	default:
		return -EINVAL;
	}
	return map_path(file, p, h->path_len, &out->path);
}

int mem_decode_fork(const void *msg, size_t len, struct lego_mem_fork_req *out)
{
	if (!msg || len != sizeof(*out))
		return -EINVAL;
	memcpy(out, msg, sizeof(*out));
	return out->parent == out->child ? -EINVAL : 0;
}

int mem_decode_page(u16 opcode, const void *msg, size_t len, struct mem_page_msg *out)
{
	struct lego_mem_page_req *h = &out->h;
	size_t want;

	if (!msg || len < sizeof(*h))
		return -EINVAL;
	switch (opcode) {
	case LEGO_OP_MEM_PAGE_FETCH:
		want = sizeof(*h);
		break;
	case LEGO_OP_MEM_PAGE_FLUSH:
	case LEGO_OP_MEM_PAGE_FLUSH_FETCH:
		want = sizeof(*h) + LEGO_PAGE_SIZE;
		break;
	default:
		return -EINVAL;
	}
	if (len != want)
		return -EINVAL;
	memcpy(h, msg, sizeof(*h));
	out->data = want > sizeof(*h) ? (const u8 *)msg + sizeof(*h) : NULL;
	if ((h->addr & PG_MASK) || h->addr >= LEGO_USER_TOP)
		return -EINVAL;
	if (opcode == LEGO_OP_MEM_PAGE_FLUSH)
		return 0;
	if (!h->access || (h->access & ~MEM_ACCESS_KNOWN))
		return -EINVAL;
	if (opcode == LEGO_OP_MEM_PAGE_FLUSH_FETCH &&
	    ((h->flush_addr & PG_MASK) || h->flush_addr >= LEGO_USER_TOP))
		return -EINVAL;
	return 0;
}

int mem_decode_flush_many(const void *msg, size_t len, struct mem_flush_many_msg *out)
{
	struct lego_mem_flush_many_req *h = &out->h;

	if (!msg || len < sizeof(*h))
		return -EINVAL;
	memcpy(h, msg, sizeof(*h));
	if (!h->count || h->count > LEGO_MEM_FLUSH_MANY_MAX || h->flags)
		return -EINVAL;
	if (len != sizeof(*h) + (size_t)h->count * (8 + LEGO_PAGE_SIZE))
		return -EINVAL;
	out->addrs = (const u8 *)msg + sizeof(*h);
	out->pages = out->addrs + (size_t)h->count * 8;
	for (u32 i = 0; i < h->count; i++) {
		u64 a = mem_flush_many_addr(out, i);
		if ((a & PG_MASK) || a >= LEGO_USER_TOP)
			return -EINVAL;
	}
	return 0;
}

u64 mem_flush_many_addr(const struct mem_flush_many_msg *m, u32 i)
{
	u64 a;

	memcpy(&a, m->addrs + (size_t)i * 8, sizeof(a));
	return a;
}

int mem_decode_own(const void *msg, size_t len, struct mem_own_msg *out)
{
	struct lego_mem_own_req *h = &out->h;
	struct lego_mem_map_req *m = &h->m;

	if (!msg || len < sizeof(*h))
		return -EINVAL;
	memcpy(h, msg, sizeof(*h));
	memset(&out->mv, 0, sizeof(out->mv));
	/* OWN_MOVE carries its destination after the header instead of a path. */
	size_t tail = h->op == LEGO_MEM_OWN_MOVE ? sizeof(out->mv) : (size_t)m->path_len;
	if (len != sizeof(*h) + tail || (h->op == LEGO_MEM_OWN_MOVE && m->path_len))
		return -EINVAL;
	if (h->c.flags || m->mm != h->c.mm)
		return -EINVAL;
	if (!h->c.storage_port)
		h->c.storage_port = LEGO_RPC_PORT;
	if (!mem_vregion_index_ok(h->index, h->vregion_shift))
		return -EINVAL;
	mem_vregion_bounds(h->index, h->vregion_shift, &out->lo, &out->hi);
	u64 lo = out->lo, hi = out->hi;
	const u8 *p = (const u8 *)msg + sizeof(*h);
	bool file = false;

	switch (h->op) {
	case LEGO_MEM_OWN_MMAP:
		if ((m->flags & ~MEM_MAP_KNOWN) || !m->len)
			return -EINVAL;
		file = !(m->flags & LEGO_MAP_ANONYMOUS);
		if ((m->flags & (LEGO_MAP_FIXED | LEGO_MAP_FIXED_NOREPLACE)) &&
		    ((m->addr & PG_MASK) || !mem_range_in(m->addr, m->len, lo, hi)))
			return -EINVAL;
		break;
	case LEGO_MEM_OWN_MPROTECT:
		if (!mem_mprotect_prot_ok(m->prot))
			return -EINVAL;
		__attribute__((fallthrough));
	case LEGO_MEM_OWN_MUNMAP:
	case LEGO_MEM_OWN_STACK:
		if ((m->addr & PG_MASK) || !m->len || !mem_range_in(m->addr, m->len, lo, hi))
			return -EINVAL;
		break;
	case LEGO_MEM_OWN_MREMAP:
		if ((m->flags & ~MEM_MREMAP_KNOWN) || !m->new_len)
			return -EINVAL;
		if ((m->addr & PG_MASK) || !mem_range_in(m->addr, m->len, lo, hi))
			return -EINVAL;
		if ((m->flags & LEGO_MREMAP_FIXED) &&
		    ((m->new_addr & PG_MASK) || !mem_range_in(m->new_addr, m->new_len, lo, hi)))
			return -EINVAL;
		break;
	case LEGO_MEM_OWN_BRK:
		if (m->addr < lo || m->addr >= hi)
			return -EINVAL;
		break;
	case LEGO_MEM_OWN_FORK:
		if (m->new_addr == h->c.mm)
			return -EINVAL;
		break;
	case LEGO_MEM_OWN_FREE:
	case LEGO_MEM_OWN_MAPS:		/* m.addr: any (past the vRegion: nothing) */
		break;
	case LEGO_MEM_OWN_MOVE: {
		out->path = NULL;
		memcpy(&out->mv, p, sizeof(out->mv));
		if (!out->mv.dst_ipv4 || out->mv.flags)
			return -EINVAL;
		if (!out->mv.dst_port)
			out->mv.dst_port = LEGO_RPC_PORT;
		if ((m->addr & PG_MASK) || (m->new_addr & PG_MASK) || !m->len || (m->len & PG_MASK))
			return -EINVAL;
		if (!mem_range_in(m->addr, m->len, lo, hi) || !below_top(m->new_addr, m->len))
			return -EINVAL;
		u64 dlo, dhi;
		mem_vregion_bounds(mem_vregion_of(m->new_addr, h->vregion_shift), h->vregion_shift,
				   &dlo, &dhi);
		if (!mem_range_in(m->new_addr, m->len, dlo, dhi))
			return -EINVAL;
		if (m->addr < m->new_addr + m->len && m->new_addr < m->addr + m->len)
			return -EINVAL;
		return 0;
	}
	default:
		return -EINVAL;
	}
	return map_path(file, p, m->path_len, &out->path);
}

int mem_mremap_args(const struct lego_mem_map_req *h, u64 *old_len, u64 *new_len)
{
	const u32 f = h->flags;
	u64 o = (h->len + PG_MASK) & ~PG_MASK, n = (h->new_len + PG_MASK) & ~PG_MASK;

	if (f & ~MEM_MREMAP_KNOWN)
		return -EINVAL;
	if ((h->addr & PG_MASK) || o < h->len || n < h->new_len || !n)
		return -EINVAL;
	if ((f & LEGO_MREMAP_FIXED) && !(f & LEGO_MREMAP_MAYMOVE))
		return -EINVAL;
	if ((f & LEGO_MREMAP_DONTUNMAP) && (!(f & LEGO_MREMAP_MAYMOVE) || o != n))
		return -EINVAL;
	if (f & (LEGO_MREMAP_FIXED | LEGO_MREMAP_DONTUNMAP)) {
		if ((h->new_addr & PG_MASK) || !below_top(h->new_addr, n))
			return -EINVAL;
		/* Overlap with the old range (which may wrap: then it overlaps
		 * everything above addr). */
		if (h->new_addr + n > h->addr &&
		    (h->addr + o < h->addr || h->addr + o > h->new_addr))
			return -EINVAL;
	}
	*old_len = o;
	*new_len = n;
	return 0;
}

bool mem_move_piece_next(u32 shift, u64 from, u64 to, u64 *pos, u64 end,
			 struct mem_move_piece *p)
{
	if (*pos >= end)
		return false;
	u64 s = *pos, d = to + (s - from);
	u64 s_end = ((s >> shift) + 1) << shift, d_end = ((d >> shift) + 1) << shift;
	u64 len = end - s;
	if (s_end - s < len)
		len = s_end - s;
	if (d_end - d < len)
		len = d_end - d;
	p->src = s;
	p->dst = d;
	p->len = len;
	p->src_index = mem_vregion_of(s, shift);
	p->dst_index = mem_vregion_of(d, shift);
	*pos = s + len;
	return true;
}

u32 mem_vma_rec_put(void *buf, u32 room, const struct lego_mem_vma_rec *rec, const char *path,
		    u16 n)
{
	u32 size = LEGO_MEM_VMA_REC_SIZE(n);
	if (size > room)
		return 0;
	struct lego_mem_vma_rec r = *rec;
	r.path_len = n;
	r.reserved = 0;
	u8 *b = buf;
	memcpy(b, &r, sizeof(r));
	if (n)
		memcpy(b + sizeof(r), path, n);
	memset(b + sizeof(r) + n, 0, size - (u32)sizeof(r) - n);
	return size;
}

int mem_decode_bc(const void *msg, size_t len, struct lego_mem_bc_req *out,
		  const void **payload, size_t *payload_len)
{
	if (!msg || len < sizeof(*out))
		return -EINVAL;
	memcpy(out, msg, sizeof(*out));
	if (out->st_opcode < LEGO_OP_ST_STAT || out->st_opcode > LEGO_OP_ST_SETATTR)
		return -EINVAL;
	if (!out->storage_port)
		out->storage_port = LEGO_RPC_PORT;
	*payload = (const u8 *)msg + sizeof(*out);
	*payload_len = len - sizeof(*out);
	return 0;
}
