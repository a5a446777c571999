/* ELF64 program loader: validation, layout, page contents, initial stack.
 * Pure logic shared by the memory monitor and the host unit tests; the
 * API and its rules are documented in include/lego/elf_load.h. */
#include <lego/elf_load.h>
#include <lego/errno.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

#define PG		ELF_PAGE_SIZE
#define PG_DOWN(x)	((x) & ELF_PAGE_MASK)
#define PG_UP(x)	(((x) + PG - 1) & ELF_PAGE_MASK)
#define PHDR_CHUNK	8		/* program headers read per callback call */
#define ALIGN_LIMIT	(1ULL << 30)	/* largest p_align honoured */

/* ---------------------------------------------------------------------- */
/* File access                                                             */

static int read_exact(const struct elf_file *f, u64 off, void *buf, size_t len)
{
	u8 *p = buf;

	while (len) {
		long n = f->read(f->ctx, off, p, len);

		if (n < 0)
			return (int)n;
		if (n == 0 || (u64)n > len)
			return -EIO;
		p += n;
		off += (u64)n;
		len -= (size_t)n;
	}
	return 0;
}

/* [off, off + len) lies inside the file (no wrap-around). */
static bool in_file(const struct elf_file *f, u64 off, u64 len)
{
	return off <= f->size && len <= f->size - off;
}

static bool is_pow2(u64 x)
{
	return x && !(x & (x - 1));
}

/* ---------------------------------------------------------------------- */
/* Validation                                                              */

struct prep {
	const struct elf_file *f;
	const struct elf_load_params *params;
	struct elf_plan *plan;
	const char **why;
	u64 umin, utop;
	u64 maxalign;			/* largest PT_LOAD alignment, >= PG */
	bool have_phdr;
	u64 phdr_vaddr;			/* unbiased PT_PHDR p_vaddr */
	int phdr_index;
	int interp_index;
	u64 interp_off, interp_len;
};

static int fail(struct prep *s, const char *msg, int index)
{
	*s->why = msg;
	s->plan->err_phdr = index;
	return -ENOEXEC;
}

static int check_header(struct prep *s, const struct elf64_ehdr *eh)
{
	const u8 *id = eh->e_ident;

	if (id[EI_MAG0] != ELFMAG0 || id[EI_MAG1] != ELFMAG1 ||
	    id[EI_MAG2] != ELFMAG2 || id[EI_MAG3] != ELFMAG3)
		return fail(s, "bad ELF magic", -1);
	if (id[EI_CLASS] != ELFCLASS64)
		return fail(s, "not a 64-bit ELF file (ELFCLASS64 required)", -1);
	if (id[EI_DATA] != ELFDATA2LSB)
		return fail(s, "not a little-endian ELF file (ELFDATA2LSB required)", -1);
	if (id[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
		return fail(s, "unsupported ELF version", -1);
	if (eh->e_machine != EM_X86_64)
		return fail(s, "wrong machine (x86-64 required)", -1);
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return fail(s, "not an executable (ET_EXEC or ET_DYN required)", -1);
	if ((s->params->flags & ELF_LOAD_INTERP) && eh->e_type != ET_DYN)
		return fail(s, "program interpreter is not ET_DYN", -1);
	if (eh->e_phentsize != sizeof(struct elf64_phdr))
		return fail(s, "bad program header size (e_phentsize)", -1);
	if (eh->e_phnum == 0)
		return fail(s, "no program headers", -1);
	if (eh->e_phnum > ELF_MAX_PHNUM)
		return fail(s, "too many program headers", -1);
	if (!in_file(s->f, eh->e_phoff, (u64)eh->e_phnum * sizeof(struct elf64_phdr)))
		return fail(s, "program headers beyond the end of the file (truncated)", -1);
	return 0;
}

static int check_align(struct prep *s, const struct elf64_phdr *ph, int idx)
{
	if (ph->p_align > 1 && !is_pow2(ph->p_align))
		return fail(s, "p_align is not a power of two", idx);
	if (ph->p_align > ALIGN_LIMIT)
		return fail(s, "p_align too large (over 1 GiB)", idx);
	return 0;
}

static int take_load(struct prep *s, const struct elf64_phdr *ph, int idx)
{
	struct elf_plan *plan = s->plan;
	struct elf_segment *seg;
	int err;

	if (ph->p_filesz > ph->p_memsz)
		return fail(s, "PT_LOAD with p_filesz > p_memsz", idx);
	if (ph->p_memsz == 0)
		return 0;			/* maps nothing */
	if (ph->p_filesz && !in_file(s->f, ph->p_offset, ph->p_filesz))
		return fail(s, "segment data beyond the end of the file", idx);
	err = check_align(s, ph, idx);
	if (err)
		return err;
	if (ph->p_align > 1 && ((ph->p_vaddr ^ ph->p_offset) & (ph->p_align - 1)))
		return fail(s, "p_vaddr and p_offset disagree modulo p_align", idx);
	if ((ph->p_vaddr ^ ph->p_offset) & (PG - 1))
		return fail(s, "p_vaddr and p_offset disagree modulo the page size", idx);
	if (ph->p_memsz > ~0ULL - ph->p_vaddr)
		return fail(s, "segment outside the user address range", idx);
	if (plan->nload == ELF_MAX_LOAD)
		return fail(s, "too many PT_LOAD segments", idx);

	seg = &plan->load[plan->nload++];
	seg->vaddr = ph->p_vaddr;
	seg->memsz = ph->p_memsz;
	seg->offset = ph->p_offset;
	seg->filesz = ph->p_filesz;
	seg->flags = ph->p_flags;
	seg->phdr_index = (u16)idx;
	if (ph->p_align > s->maxalign)
		s->maxalign = ph->p_align;
	return 0;
}

static int take_phdr(struct prep *s, const struct elf64_phdr *ph, int idx)
{
	struct elf_plan *plan = s->plan;
	int err;

	switch (ph->p_type) {
	case PT_LOAD:
		return take_load(s, ph, idx);
	case PT_INTERP:
		if (s->params->flags & ELF_LOAD_INTERP)
			return fail(s, "program interpreter has a PT_INTERP itself", idx);
		if (s->interp_index >= 0)
			return fail(s, "more than one PT_INTERP", idx);
		if (ph->p_filesz < 2 || ph->p_filesz > ELF_INTERP_MAX)
			return fail(s, "bad PT_INTERP size", idx);
		if (!in_file(s->f, ph->p_offset, ph->p_filesz))
			return fail(s, "PT_INTERP beyond the end of the file", idx);
		s->interp_index = idx;
		s->interp_off = ph->p_offset;
		s->interp_len = ph->p_filesz;
		plan->has_interp = true;
		return 0;
	case PT_PHDR:
		if (s->have_phdr)
			return fail(s, "more than one PT_PHDR", idx);
		s->have_phdr = true;
		s->phdr_vaddr = ph->p_vaddr;
		s->phdr_index = idx;
		return 0;
	case PT_TLS:
		if (plan->has_tls)
			return fail(s, "more than one PT_TLS", idx);
		if (ph->p_filesz > ph->p_memsz)
			return fail(s, "PT_TLS with p_filesz > p_memsz", idx);
		err = check_align(s, ph, idx);
		if (err)
			return err;
		plan->has_tls = true;
		plan->tls_vaddr = ph->p_vaddr;
		plan->tls_filesz = ph->p_filesz;
		plan->tls_memsz = ph->p_memsz;
		plan->tls_align = ph->p_align;
		return 0;
	case PT_GNU_STACK:
		plan->has_gnu_stack = true;
		plan->exec_stack = !!(ph->p_flags & PF_X);
		return 0;
	default:
		return 0;
	}
}

static void sort_loads(struct elf_plan *plan)
{
	for (u32 i = 1; i < plan->nload; i++) {
		struct elf_segment t = plan->load[i];
		u32 j = i;

		while (j > 0 && plan->load[j - 1].vaddr > t.vaddr) {
			plan->load[j] = plan->load[j - 1];
			j--;
		}
		plan->load[j] = t;
	}
}

/* Apply the load bias, check the user range and overlaps. */
static int place(struct prep *s, const struct elf64_ehdr *eh)
{
	struct elf_plan *plan = s->plan;
	u64 bias = 0;

	if (eh->e_type == ET_DYN) {
		u64 lo = ~0ULL;

		for (u32 i = 0; i < plan->nload; i++)
			lo = MIN(lo, plan->load[i].vaddr);
		/* Modular arithmetic: a "negative" bias (image linked above
		 * the base) is fine, only the final addresses matter. */
		bias = s->params->dyn_base ? s->params->dyn_base : ELF_ET_DYN_BASE;
		bias -= PG_DOWN(lo);
		bias = (bias + s->maxalign - 1) & ~(s->maxalign - 1);
	}
	plan->load_bias = bias;

	for (u32 i = 0; i < plan->nload; i++) {
		struct elf_segment *seg = &plan->load[i];
		u64 v = seg->vaddr + bias;

		if (v < s->umin || v > s->utop || seg->memsz > s->utop - v)
			return fail(s, "segment outside the user address range", seg->phdr_index);
		seg->vaddr = v;
	}
	sort_loads(plan);
	for (u32 i = 1; i < plan->nload; i++) {
		const struct elf_segment *a = &plan->load[i - 1], *b = &plan->load[i];

		if (b->vaddr < a->vaddr + a->memsz)
			return fail(s, "segments overlap", b->phdr_index);
	}
	return 0;
}

static int check_entry_phdr(struct prep *s, const struct elf64_ehdr *eh)
{
	struct elf_plan *plan = s->plan;
	u64 table = (u64)eh->e_phnum * sizeof(struct elf64_phdr);
	bool ok = false;

	plan->entry = eh->e_entry + plan->load_bias;
	for (u32 i = 0; i < plan->nload && !ok; i++) {
		const struct elf_segment *seg = &plan->load[i];

		ok = (seg->flags & PF_X) && plan->entry >= seg->vaddr &&
		     plan->entry - seg->vaddr < seg->filesz;
	}
	if (!ok)
		return fail(s, "entry point outside every executable segment", -1);

	if (s->have_phdr) {
		u64 a = s->phdr_vaddr + plan->load_bias;

		for (u32 i = 0; i < plan->nload && !plan->phdr_addr; i++) {
			const struct elf_segment *seg = &plan->load[i];

			if (a >= seg->vaddr && a - seg->vaddr <= seg->filesz &&
			    table <= seg->filesz - (a - seg->vaddr))
				plan->phdr_addr = a;
		}
		if (!plan->phdr_addr)
			return fail(s, "PT_PHDR outside the file bytes of every segment",
				    s->phdr_index);
	} else {
		for (u32 i = 0; i < plan->nload && !plan->phdr_addr; i++) {
			const struct elf_segment *seg = &plan->load[i];

			if (eh->e_phoff >= seg->offset &&
			    eh->e_phoff - seg->offset <= seg->filesz &&
			    table <= seg->filesz - (eh->e_phoff - seg->offset))
				plan->phdr_addr = seg->vaddr + (eh->e_phoff - seg->offset);
		}
	}
	if (plan->has_tls)
		plan->tls_vaddr += plan->load_bias;
	return 0;
}

static int read_interp(struct prep *s)
{
	struct elf_plan *plan = s->plan;
	int err;

	if (s->interp_index < 0)
		return 0;
	err = read_exact(s->f, s->interp_off, plan->interp, (size_t)s->interp_len);
	if (err)
		return err;
	if (plan->interp[s->interp_len - 1] != '\0' ||
	    strlen(plan->interp) != s->interp_len - 1)
		return fail(s, "PT_INTERP path not a NUL-terminated string", s->interp_index);
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Regions                                                                 */

static u32 seg_prot(u32 pf)
{
	return ((pf & PF_R) ? ELF_PROT_READ : 0) | ((pf & PF_W) ? ELF_PROT_WRITE : 0) |
	       ((pf & PF_X) ? ELF_PROT_EXEC : 0);
}

/* Append cur to the region list, splitting off a page it shares with the
 * last region (segments are sorted and disjoint, so at most one page). */
static void add_region(struct elf_plan *plan, struct elf_region cur)
{
	while (cur.start < cur.end && plan->nregion) {
		struct elf_region *last = &plan->region[plan->nregion - 1];

		if (last->end <= cur.start)
			break;
		/* last->end == cur.start + PG: the page at cur.start is shared */
		if (last->end - last->start == PG) {
			last->prot |= cur.prot;
			last->flags |= ELF_REGION_SHARED;
			if (!(cur.flags & ELF_REGION_ANON))
				last->flags &= (u16)~ELF_REGION_ANON;
			last->seg = cur.seg;
		} else {
			struct elf_region sh = {
				.start = cur.start, .end = cur.start + PG,
				.prot = last->prot | cur.prot,
				.flags = ELF_REGION_SHARED |
					 (last->flags & cur.flags & ELF_REGION_ANON),
				.seg = cur.seg,
			};

			last->end -= PG;
			plan->region[plan->nregion++] = sh;
		}
		cur.start += PG;
	}
	if (cur.start < cur.end)
		plan->region[plan->nregion++] = cur;
}

static void build_regions(struct elf_plan *plan)
{
	plan->nregion = 0;
	for (u32 i = 0; i < plan->nload; i++) {
		const struct elf_segment *seg = &plan->load[i];
		u64 fend = PG_UP(seg->vaddr + seg->filesz);
		u64 mend = PG_UP(seg->vaddr + seg->memsz);
		u64 start = PG_DOWN(seg->vaddr);
		u32 prot = seg_prot(seg->flags);

		if (seg->filesz) {
			add_region(plan, (struct elf_region){ .start = start, .end = fend,
							       .prot = prot, .seg = (u16)i });
			start = fend;
		}
		if (start < mend)
			add_region(plan, (struct elf_region){ .start = start, .end = mend,
							       .prot = prot, .seg = (u16)i,
							       .flags = ELF_REGION_ANON });
	}
	plan->load_start = plan->region[0].start;
	plan->load_end = plan->region[plan->nregion - 1].end;
	plan->brk = plan->load_end;
}

/* ---------------------------------------------------------------------- */
/* API                                                                     */

int elf_load_prepare(const struct elf_file *f, const struct elf_load_params *params,
		     struct elf_plan *plan, const char **reason)
{
	static const struct elf_load_params defaults;
	const char *unused;
	struct elf64_ehdr eh;
	struct elf64_phdr chunk[PHDR_CHUNK];
	struct prep s = {
		.f = f, .params = params ? params : &defaults, .plan = plan,
		.why = reason ? reason : &unused, .maxalign = PG,
		.phdr_index = -1, .interp_index = -1,
	};
	int err;

	*s.why = NULL;
	if (!plan)
		return -EINVAL;
	memset(plan, 0, sizeof(*plan));
	plan->err_phdr = -1;
	plan->exec_stack = true;		/* no PT_GNU_STACK: executable stack */
	s.umin = s.params->user_min ? s.params->user_min : ELF_USER_MIN;
	s.utop = s.params->user_top ? s.params->user_top : ELF_USER_TOP;
	if (!f || !f->read) {
		*s.why = "no file";
		return -EINVAL;
	}
	if (((s.umin | s.utop | s.params->dyn_base) & (PG - 1)) || s.umin >= s.utop) {
		*s.why = "bad load parameters (unaligned base or empty user range)";
		return -EINVAL;
	}

	if (f->size < sizeof(eh))
		return fail(&s, "file too short for an ELF header", -1);
	err = read_exact(f, 0, &eh, sizeof(eh));
	if (err)
		return err;
	err = check_header(&s, &eh);
	if (err)
		return err;
	plan->e_type = eh.e_type;
	plan->phentsize = eh.e_phentsize;
	plan->phnum = eh.e_phnum;

	for (u32 i = 0; i < eh.e_phnum; i += PHDR_CHUNK) {
		u32 n = MIN((u32)PHDR_CHUNK, (u32)eh.e_phnum - i);

		err = read_exact(f, eh.e_phoff + (u64)i * sizeof(chunk[0]), chunk,
				 n * sizeof(chunk[0]));
		if (err)
			return err;
		for (u32 j = 0; j < n; j++) {
			err = take_phdr(&s, &chunk[j], (int)(i + j));
			if (err)
				return err;
		}
	}
	if (plan->nload == 0)
		return fail(&s, "no PT_LOAD segment", -1);

	err = place(&s, &eh);
	if (!err)
		err = check_entry_phdr(&s, &eh);
	if (!err)
		err = read_interp(&s);
	if (err)
		return err;
	build_regions(plan);
	return 0;
}

const struct elf_region *elf_load_find_region(const struct elf_plan *plan, u64 addr)
{
	u32 lo = 0, hi = plan->nregion;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		const struct elf_region *r = &plan->region[mid];

		if (addr < r->start)
			hi = mid;
		else if (addr >= r->end)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

/* Copy the file bytes for addresses [a, b) of seg (file offset of address
 * x: seg->offset + (x - seg->vaddr), also for x below seg->vaddr in its
 * first page) into the page buffer. */
static int copy_file(const struct elf_file *f, const struct elf_segment *seg, u64 page,
		     u64 a, u64 b, u8 *buf)
{
	if (a >= b)
		return 0;
	return read_exact(f, seg->offset + (a - seg->vaddr), buf + (a - page), (size_t)(b - a));
}

int elf_load_fill_page(const struct elf_plan *plan, const struct elf_file *f,
		       u64 page_addr, void *buf)
{
	const struct elf_region *r;
	const struct elf_segment *own;
	u64 end = page_addr + PG;
	u8 *p = buf;
	int err, any;

	if (page_addr & (PG - 1))
		return -EINVAL;
	r = elf_load_find_region(plan, page_addr);
	if (!r)
		return -EINVAL;
	memset(p, 0, PG);
	if (r->flags & ELF_REGION_ANON)
		return 0;

	/* The owner's page-aligned file window (bytes before its p_vaddr in
	 * its first page included), up to its p_filesz. */
	own = &plan->load[r->seg];
	any = 0;
	if (own->filesz) {
		u64 a = MAX(page_addr, PG_DOWN(own->vaddr));
		u64 b = MIN(end, own->vaddr + own->filesz);

		any = a < b;
		err = copy_file(f, own, page_addr, a, b, p);
		if (err)
			return err;
	}
	/* Then every segment's exact bytes in this page: only other segments
	 * sharing the page can differ from the window. */
	for (u32 i = 0; i < plan->nload; i++) {
		const struct elf_segment *seg = &plan->load[i];
		u64 fend = seg->vaddr + seg->filesz, mend = seg->vaddr + seg->memsz;
		u64 a, b;

		if (seg == own || mend <= page_addr || seg->vaddr >= end)
			continue;
		a = MAX(page_addr, seg->vaddr);
		b = MIN(end, fend);
		if (a < b) {
			any = 1;
			err = copy_file(f, seg, page_addr, a, b, p);
			if (err)
				return err;
		}
		a = MAX(page_addr, fend);
		b = MIN(end, mend);
		if (a < b)
			memset(p + (a - page_addr), 0, (size_t)(b - a));
	}
	return any;
}

/* ---------------------------------------------------------------------- */
/* Initial stack                                                           */

static void put64(u8 *buf, u64 v)
{
	memcpy(buf, &v, sizeof(v));
}

/* Sum of strlen + 1 over n strings, each at most ELF_ARG_STRLEN_MAX bytes
 * with its NUL; stops early once *total passes limit. */
static int measure(const char *const *v, u32 n, u64 *bytes, u64 *total, u64 limit)
{
	*bytes = 0;
	if (n && !v)
		return -EINVAL;
	for (u32 i = 0; i < n; i++) {
		size_t l;

		if (!v[i])
			return -EINVAL;
		l = strnlen(v[i], ELF_ARG_STRLEN_MAX);
		if (l >= ELF_ARG_STRLEN_MAX)
			return -E2BIG;
		*bytes += l + 1;
		*total += l + 1 + sizeof(u64);
		if (*total > limit)
			return -E2BIG;
	}
	return 0;
}

int elf_build_stack(const struct elf_stack_params *sp, const struct elf_plan *exe,
		    const struct elf_plan *interp, void *buf, size_t buf_size,
		    struct elf_stack_info *out)
{
	u64 aux[ELF_AUXV_MAX][2];
	u32 nauxv = 0;
	u64 limit, total = 0, argbytes, envbytes, fnlen, plen, top, off;
	u64 execfn_a, env_a, arg_a, plat_a, rand_a, rsp, words;
	const char *platform;
	u8 *base;
	int err;

	if (!sp || !exe || !out || (!buf && buf_size))
		return -EINVAL;
	top = sp->stack_top;
	if ((top & 15) || !sp->execfn || !sp->random)
		return -EINVAL;
	limit = sp->arg_max ? sp->arg_max : ELF_ARG_MAX_DEFAULT;
	platform = sp->platform ? sp->platform : ELF_PLATFORM;
	plen = strnlen(platform, 256);
	if (plen >= 256)
		return -EINVAL;

	fnlen = strnlen(sp->execfn, ELF_ARG_STRLEN_MAX);
	if (fnlen >= ELF_ARG_STRLEN_MAX)
		return -E2BIG;
	total = fnlen + 1 + 2 * sizeof(u64);	/* execfn, the two NULL pointers */
	if (total > limit)
		return -E2BIG;
	err = measure(sp->argv, sp->argc, &argbytes, &total, limit);
	if (!err)
		err = measure(sp->envp, sp->envc, &envbytes, &total, limit);
	if (err)
		return err;

	/* Layout, as offsets below top (all bounded well below 2^63). */
	off = sizeof(u64);			/* end marker */
	off += fnlen + 1;
	execfn_a = top - off;
	off += envbytes;
	env_a = top - off;
	off += argbytes;
	arg_a = top - off;
	off = ALIGN_UP(off, 16);
	off += plen + 1;
	plat_a = top - off;
	off += 16;
	rand_a = top - off;

#define AUX(t, v) do { aux[nauxv][0] = (t); aux[nauxv++][1] = (v); } while (0)
	if (sp->sysinfo_ehdr)
		AUX(AT_SYSINFO_EHDR, sp->sysinfo_ehdr);
	if (sp->minsigstksz)
		AUX(AT_MINSIGSTKSZ, sp->minsigstksz);
	AUX(AT_HWCAP, sp->hwcap);
	AUX(AT_PAGESZ, sp->pagesz ? sp->pagesz : ELF_PAGE_SIZE);
	AUX(AT_CLKTCK, sp->clktck ? sp->clktck : ELF_CLKTCK);
	AUX(AT_PHDR, exe->phdr_addr);
	AUX(AT_PHENT, exe->phentsize);
	AUX(AT_PHNUM, exe->phnum);
	AUX(AT_BASE, interp ? interp->load_bias : 0);
	AUX(AT_FLAGS, 0);
	AUX(AT_ENTRY, exe->entry);
	AUX(AT_UID, sp->uid);
	AUX(AT_EUID, sp->euid);
	AUX(AT_GID, sp->gid);
	AUX(AT_EGID, sp->egid);
	AUX(AT_SECURE, sp->secure);
	AUX(AT_RANDOM, rand_a);
	AUX(AT_HWCAP2, sp->hwcap2);
	AUX(AT_EXECFN, execfn_a);
	AUX(AT_PLATFORM, plat_a);
	AUX(AT_NULL, 0);
#undef AUX
	BUILD_BUG_ON(21 > ELF_AUXV_MAX);

	words = 1 + ((u64)sp->argc + 1) + ((u64)sp->envc + 1) + 2 * (u64)nauxv;
	off += words * sizeof(u64);
	off = ALIGN_UP(off, 16);
	if (off > buf_size || off > top)
		return -E2BIG;
	rsp = top - off;

	/* Write: buf + buf_size stands for top. */
	base = (u8 *)buf + buf_size - off;	/* the byte at rsp */
#define STK(a) (base + ((a) - rsp))
	memset(base, 0, (size_t)off);
	memcpy(STK(execfn_a), sp->execfn, fnlen + 1);
	{
		u8 *s = STK(env_a);

		for (u32 i = 0; i < sp->envc; i++) {
			size_t l = strlen(sp->envp[i]) + 1;

			memcpy(s, sp->envp[i], l);
			s += l;
		}
		s = STK(arg_a);
		for (u32 i = 0; i < sp->argc; i++) {
			size_t l = strlen(sp->argv[i]) + 1;

			memcpy(s, sp->argv[i], l);
			s += l;
		}
	}
	memcpy(STK(plat_a), platform, plen + 1);
	memcpy(STK(rand_a), sp->random, 16);

	{
		u8 *w = base;
		u64 a;

		put64(w, sp->argc);
		w += 8;
		a = arg_a;
		for (u32 i = 0; i < sp->argc; i++, w += 8) {
			put64(w, a);
			a += strlen(sp->argv[i]) + 1;
		}
		w += 8;				/* NULL */
		a = env_a;
		for (u32 i = 0; i < sp->envc; i++, w += 8) {
			put64(w, a);
			a += strlen(sp->envp[i]) + 1;
		}
		w += 8;				/* NULL */
		out->auxv_addr = rsp + (u64)(w - base);
		for (u32 i = 0; i < nauxv; i++, w += 16) {
			put64(w, aux[i][0]);
			put64(w + 8, aux[i][1]);
		}
	}
#undef STK

	out->rsp = rsp;
	out->size = off;
	out->entry = interp ? interp->entry : exe->entry;
	out->argv_addr = rsp + 8;
	out->envp_addr = rsp + 8 + 8 * ((u64)sp->argc + 1);
	out->nauxv = nauxv;
	out->pad = 0;
	out->random_addr = rand_a;
	out->platform_addr = plat_a;
	out->execfn_addr = execfn_a;
	out->strings_addr = arg_a;
	return 0;
}
