/*
 * Program loading at the home mComponent (paper §5.4): LEGO_OP_MEM_EXEC.
 *
 * The file is read from the vNode's sComponent (LEGO_OP_ST_STAT for the
 * size and type, LEGO_OP_ST_READ in chunks through a small read-ahead
 * buffer) and laid out by the pure ELF loader (elf_load.h). Then the old
 * contents of the address space are dropped and every region of the plan
 * becomes vmas at the vRegions' owners:
 *   - pages that hold nothing but the file's page-aligned window: a
 *     private file mapping of the program (the owner fills them from the
 *     file on first fetch, nothing is copied now);
 *   - bss (ELF_REGION_ANON): private anonymous memory (zeros, no copy);
 *   - pages whose contents differ from the file's window (the last file
 *     page of a segment, whose tail beyond p_filesz must read as zeros, and
 *     pages shared by two segments): private anonymous memory, filled now
 *     with elf_load_fill_page and written to the owner with PAGE_FLUSH
 *     (the home acting as a client of the owner; owners accept flushes
 *     to read-only pages).
 * The heap starts at the plan's brk; the stack is a GROWSDOWN vma below
 * LEGO_USER_TOP (OWN_STACK), its top pages built by elf_build_stack and
 * written with PAGE_FLUSH; mmap_base is 128 MiB below the stack top
 * (Linux's layout without randomisation and an 8 MiB stack limit).
 *
 * A dynamic program's interpreter (PT_INTERP) is loaded the same way
 * just below mmap_base (AT_BASE, and the initial rip is its entry).
 *
 * Not done yet: a buffer cache between the loader and the storage node (§4.5: the file is
 * read again for every exec), symbolic links other than the final
 * component of the path.
 *
 * Locking: the handler holds the record's mutex (home.h) throughout; the
 * read-ahead buffer belongs to the request.
 */
#include <lego/rpc.h>
#include <lego/mm.h>
#include <lego/errno.h>
#include <lego/string.h>
#include <lego/printk.h>
#include <lego/elf_load.h>
#include <lego/mem_proto.h>
#include <lego/vma.h>
#include <uapi/lego/storage.h>
#include <asm/cpu.h>
#include <lego/net.h>
#include "home.h"
#include "bc_service.h"

#define PG ((u64)LEGO_PAGE_SIZE)
#define RA_SIZE (64u * 1024)		/* read-ahead chunk, <= LEGO_ST_IO_MAX */
#define SYMLINK_MAX_HOPS 8
#define S_IFMT_ 0170000u
#define S_IFREG_ 0100000u
#define S_IFDIR_ 0040000u
#define S_IFLNK_ 0120000u

/* A file of the vNode, read through the storage node. */
struct st_file {
	struct rpc_endpoint ep;		/* the storage node */
	struct rpc_endpoint cache;	/* the mComponent caching its files */
	u32 vnode;
	char path[LEGO_ST_PATH_MAX];
	u16 path_len;
	u64 size;
	u8 *ra;				/* RA_SIZE bytes */
	u64 ra_off;
	u32 ra_len;
};

/* One storage request for f, through the vNode's buffer cache. */
static int st_call(struct st_file *f, u16 op, u64 off, u64 len, void *buf, u32 max, u32 *got)
{
	f->path[f->path_len] = '\0';
	return bc_file_call(&f->cache, &f->ep, f->vnode, op, f->path, off, len, buf, max, got);
}

static long file_read(void *ctx, u64 off, void *buf, size_t len)
{
	struct st_file *f = ctx;

	if (off >= f->size)
		return 0;
	if (!(off >= f->ra_off && off < f->ra_off + f->ra_len)) {
		u64 base = off & ~(PG - 1);
		u32 got = 0;
		u64 want = MIN((u64)RA_SIZE, f->size - base);
		int r = st_call(f, LEGO_OP_ST_READ, base, want, f->ra, RA_SIZE, &got);
		if (r < 0)
			return r;
		f->ra_off = base;
		f->ra_len = got;
		if (off >= base + got)
			return 0;
	}
	u64 n = MIN((u64)len, f->ra_off + f->ra_len - off);
	memcpy(buf, f->ra + (off - f->ra_off), n);
	return (long)n;
}

/* Reads [off, off + PG) of the file, zeros beyond its end. */
static int read_window(struct st_file *f, u64 off, u8 *buf)
{
	u64 done = 0;

	memset(buf, 0, PG);
	while (done < PG && off + done < f->size) {
		long n = file_read(f, off + done, buf + done, PG - done);
		if (n < 0)
			return (int)n;
		if (n == 0)
			break;
		done += (u64)n;
	}
	return 0;
}

/* dir of base (a normalised absolute path) joined with target, then
 * normalised into out. */
static int path_resolve(const char *base, u16 blen, const char *target, u32 tlen, char *out,
			u16 *olen)
{
	char *tmp = kmalloc(2 * LEGO_ST_PATH_MAX);
	if (!tmp)
		return -ENOMEM;
	u32 n = 0;
	if (tlen && target[0] != '/') {
		u32 d = blen;
		while (d > 0 && base[d - 1] != '/')
			d--;
		memcpy(tmp, base, d);
		n = d;
	}
	if (n + tlen + 1 >= 2 * LEGO_ST_PATH_MAX) {
		kfree(tmp);
		return -ENAMETOOLONG;
	}
	memcpy(tmp + n, target, tlen);
	n += tlen;
	/* Normalise: drop empty and "." components, ".." pops. */
	u32 o = 0, i = 0;
	while (i < n) {
		while (i < n && tmp[i] == '/')
			i++;
		u32 j = i;
		while (j < n && tmp[j] != '/')
			j++;
		u32 c = j - i;
		if (c == 0 || (c == 1 && tmp[i] == '.')) {
		} else if (c == 2 && tmp[i] == '.' && tmp[i + 1] == '.') {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			if (o + 1 + c >= LEGO_ST_PATH_MAX) {
				kfree(tmp);
				return -ENAMETOOLONG;
			}
			out[o++] = '/';
			memcpy(out + o, tmp + i, c);
			o += c;
		}
		i = j;
	}
	if (!o)
		out[o++] = '/';
	*olen = (u16)o;
	kfree(tmp);
	return mem_path_check(out, o);
}

/* Look the program up: follow a final symbolic link, check it is an
 * executable regular file, learn its size. */
static int file_open(struct st_file *f)
{
	struct lego_st_stat st;

	for (int hop = 0;; hop++) {
		u32 got = 0;
		int r = st_call(f, LEGO_OP_ST_STAT, 0, 0, &st, sizeof(st), &got);
		if (r < 0)
			return r;
		if (got != sizeof(st))
			return -EPROTO;
		if ((st.mode & S_IFMT_) != S_IFLNK_)
			break;
		if (hop >= SYMLINK_MAX_HOPS)
			return -ELOOP;
		char *t = kmalloc(LEGO_ST_PATH_MAX);
		char *np = kmalloc(LEGO_ST_PATH_MAX);
		if (!t || !np) {
			kfree(t);
			kfree(np);
			return -ENOMEM;
		}
		r = st_call(f, LEGO_OP_ST_READLINK, 0, 0, t, LEGO_ST_PATH_MAX, &got);
		u16 nl = 0;
		if (r >= 0)
			r = path_resolve(f->path, f->path_len, t, got, np, &nl);
		if (r >= 0) {
			memcpy(f->path, np, nl);
			f->path_len = nl;
		}
		kfree(t);
		kfree(np);
		if (r < 0)
			return r;
	}
	if ((st.mode & S_IFMT_) != S_IFREG_ || !(st.mode & 0111))
		return -EACCES;
	f->size = st.size;
	return 0;
}

/* Map [start, end) private anonymous and write the pages' initial
 * contents into it. The owner does not check PAGE_FLUSH against the
 * protection (docs/memory.md, "vRegion owners"), so read-only pages are
 * written the same way. */
static int map_filled(struct home_mm *mm, const struct elf_plan *plan, struct st_file *f,
		      u64 start, u64 end, u32 prot, u8 *page)
{
	s64 r = home_map_fixed(mm, start, end - start, prot,
			       LEGO_MAP_PRIVATE | LEGO_MAP_ANONYMOUS | LEGO_MAP_FIXED, 0, NULL, 0);
	if (r < 0)
		return (int)r;
	struct elf_file ef = { file_read, f, f->size };
	for (u64 a = start; a < end; a += PG) {
		int k = elf_load_fill_page(plan, &ef, a, page);
		if (k < 0)
			return k;
		if (k == 0)
			continue;	/* zeros: the owner has them already */
		int e = home_page_flush(mm, a, page);
		if (e < 0)
			return e;
	}
	return 0;
}

/* Turn the plan's regions into vmas. */
static int load_regions(struct home_mm *mm, const struct elf_plan *plan, struct st_file *f,
			u8 *page, u8 *raw)
{
	struct elf_file ef = { file_read, f, f->size };

	for (u32 i = 0; i < plan->nregion; i++) {
		const struct elf_region *rg = &plan->region[i];
		const struct elf_segment *sg = &plan->load[rg->seg];
		int e;

		if (rg->flags & ELF_REGION_ANON) {
			s64 r = home_map_fixed(mm, rg->start, rg->end - rg->start, rg->prot,
					       LEGO_MAP_PRIVATE | LEGO_MAP_ANONYMOUS | LEGO_MAP_FIXED,
					       0, NULL, 0);
			if (r < 0)
				return (int)r;
			continue;
		}
		if (rg->flags & ELF_REGION_SHARED) {
			e = map_filled(mm, plan, f, rg->start, rg->end, rg->prot, page);
			if (e < 0)
				return e;
			continue;
		}
		/* The file window: address a shows file byte
		 * page_down(offset) + (a - page_down(vaddr)). */
		u64 win_va = sg->vaddr & ~(PG - 1), win_off = sg->offset & ~(PG - 1);
		u64 pure_end = (sg->vaddr + sg->filesz) & ~(PG - 1);
		if (pure_end < rg->start)
			pure_end = rg->start;
		if (pure_end > rg->end)
			pure_end = rg->end;
		/* The pages after pure_end (at most one) show zeros where the
		 * file may go on; keep them file-backed if they do not differ. */
		while (pure_end < rg->end) {
			e = elf_load_fill_page(plan, &ef, pure_end, page);
			if (e < 0)
				return e;
			e = read_window(f, win_off + (pure_end - win_va), raw);
			if (e < 0)
				return e;
			if (memcmp(page, raw, PG))
				break;
			pure_end += PG;
		}
		if (pure_end > rg->start) {
			s64 r = home_map_fixed(mm, rg->start, pure_end - rg->start, rg->prot,
					       LEGO_MAP_PRIVATE | LEGO_MAP_FIXED,
					       (win_off + (rg->start - win_va)) / PG, f->path,
					       f->path_len);
			if (r < 0)
				return (int)r;
		}
		if (pure_end < rg->end) {
			e = map_filled(mm, plan, f, pure_end, rg->end, rg->prot, page);
			if (e < 0)
				return e;
		}
	}
	return 0;
}

/* The stack: a GROWSDOWN vma below LEGO_USER_TOP holding the initial
 * stack. Returns 0 with *si filled. */
static int load_stack(struct home_mm *mm, const struct elf_plan *plan,
		      const struct elf_plan *iplan, const struct mem_exec_msg *q,
		      struct elf_stack_info *si)
{
	u32 nargs = q->h.argc + q->h.envc;
	const char **vec = kmalloc((nargs + 1) * sizeof(char *));
	if (!vec)
		return -ENOMEM;
	const char *s = q->strings;
	for (u32 i = 0; i < nargs; i++) {
		vec[i] = s;
		s += strlen(s) + 1;
	}
	char *execfn = kmalloc(q->h.path_len + 1u);
	/* Room for the strings, pointers and auxv; the stack vma gets
	 * 128 KiB more (Linux's initial stack expansion). */
	u64 bufsz = ((u64)q->h.strings_len + q->h.path_len + 8ULL * (nargs + 2) + 8192 + PG - 1) &
		    ~(PG - 1);
	u8 *buf = kmalloc(bufsz);
	int err = -ENOMEM;
	if (!execfn || !buf)
		goto out;
	memcpy(execfn, q->path, q->h.path_len);
	execfn[q->h.path_len] = '\0';

	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	struct elf_stack_params sp;
	memset(&sp, 0, sizeof(sp));
	sp.stack_top = mm->stack_top;
	sp.argv = vec;
	sp.argc = q->h.argc;
	sp.envp = vec + q->h.argc;
	sp.envc = q->h.envc;
	sp.execfn = execfn;
	sp.random = q->h.random;
	sp.hwcap = d;
	err = elf_build_stack(&sp, plan, iplan, buf, bufsz, si);
	if (err)
		goto out;

	u64 size = ((si->size + PG - 1) & ~(PG - 1)) + ((u64)CONFIG_MEM_STACK_INIT_KB << 10);
	u64 lo = mm->stack_top - size;
	u32 idx = (u32)((mm->stack_top - 1) >> mm->va.shift);
	u64 vlo, vhi;
	vregion_bounds(mm->va.shift, idx, &vlo, &vhi);
	if (lo < vlo || lo < mm->mmap_base) {
		err = -E2BIG;
		goto out;
	}
	err = home_activate(mm, idx, size);
	if (err)
		goto out;
	struct lego_mem_map_req m;
	struct lego_mem_own_reply rep;
	memset(&m, 0, sizeof(m));
	m.addr = lo;
	m.len = size;
	m.prot = LEGO_PROT_READ | LEGO_PROT_WRITE | (plan->exec_stack ? LEGO_PROT_EXEC : 0);
	m.flags = LEGO_MAP_PRIVATE | LEGO_MAP_ANONYMOUS | LEGO_MAP_GROWSDOWN;
	err = home_own(mm, idx, LEGO_MEM_OWN_STACK, &m, NULL, &rep);
	if (err < 0)
		goto out;
	/* buf[bufsz - 1] is the byte at stack_top - 1. */
	for (u64 pa = si->rsp & ~(PG - 1); pa < mm->stack_top; pa += PG) {
		err = home_page_flush(mm, pa, buf + bufsz - (mm->stack_top - pa));
		if (err < 0)
			goto out;
	}
	err = 0;
out:
	kfree(buf);
	kfree(execfn);
	kfree(vec);
	return err;
}

/* The program interpreter named by PT_INTERP (the dynamic linker): opened
 * like the program and laid out as ELF_LOAD_INTERP just below mmap_base,
 * where Linux's top-down mmap of it would put it. -ENOEXEC with *why for
 * a bad interpreter. */
static int interp_prepare(struct st_file *f, const struct elf_plan *plan, u64 mmap_base,
			  struct elf_plan *iplan, const char **why)
{
	u16 n = 0;
	int err = path_resolve("/", 1, plan->interp, (u32)strnlen(plan->interp, ELF_INTERP_MAX),
			       f->path, &n);
	if (err) {
		*why = "bad interpreter path";
		return err == -ENOMEM ? err : -ENOEXEC;
	}
	f->path_len = n;
	err = file_open(f);
	if (err)
		return err;
	struct elf_file ef = { file_read, f, f->size };
	/* First at the default base to learn its span, then below mmap_base. */
	struct elf_load_params ip = { .flags = ELF_LOAD_INTERP };
	err = elf_load_prepare(&ef, &ip, iplan, why);
	if (err)
		return err;
	u64 span = iplan->load_end - iplan->load_start, align = 2ULL << 20;
	/* elf_load_prepare rounds the base up to the largest p_align; a
	 * 2 MiB aligned base below a 2 MiB gap leaves room for that. */
	if (span + 2 * align > mmap_base)
		return -ENOMEM;
	ip.dyn_base = (mmap_base - span - align) & ~(align - 1);
	return elf_load_prepare(&ef, &ip, iplan, why);
}

static int reply_reason(struct rpc_req *r, const char *why)
{
	size_t n = strnlen(why, LEGO_MEM_REASON_MAX - 1);
	char *p = rpc_reply_alloc(r, (u32)n + 1);
	if (p) {
		memcpy(p, why, n);
		p[n] = '\0';
	}
	return -ENOEXEC;
}

int loader_exec(struct rpc_req *r)
{
	struct mem_exec_msg q;
	int err = mem_decode_exec(r->data, r->len, &q);
	if (err)
		return err;
	__atomic_add_fetch(&home_counters.execs, 1, __ATOMIC_RELAXED);

	struct st_file *f = kzalloc(sizeof(*f)), *fi = NULL;
	struct elf_plan *plan = kmalloc(sizeof(*plan)), *iplan = NULL;
	u8 *ra = kmalloc(RA_SIZE), *page = kmalloc(PG), *raw = kmalloc(PG), *ira = NULL;
	struct home_mm *mm = NULL;
	if (!f || !plan || !ra || !page || !raw) {
		err = -ENOMEM;
		goto out;
	}
	f->ep.ip = q.h.c.storage_ipv4;
	f->ep.port = q.h.c.storage_port;
	f->cache.ip = q.h.c.bc_ipv4;
	f->vnode = q.h.c.vnode;
	memcpy(f->path, q.path, q.h.path_len);
	f->path_len = q.h.path_len;
	f->ra = ra;

	/* Everything that can be checked without touching mm first. */
	err = file_open(f);
	if (err)
		goto out;
	struct elf_file ef = { file_read, f, f->size };
	struct elf_load_params lp = { 0 };
	const char *why = NULL;
	err = elf_load_prepare(&ef, &lp, plan, &why);
	u64 mmap_base = LEGO_USER_TOP - (128ULL << 20);
	if (!err && plan->has_interp) {
		fi = kzalloc(sizeof(*fi));
		iplan = kmalloc(sizeof(*iplan));
		ira = kmalloc(RA_SIZE);
		if (!fi || !iplan || !ira) {
			err = -ENOMEM;
			goto out;
		}
		fi->ep = f->ep;
		fi->cache = f->cache;
		fi->vnode = f->vnode;
		fi->ra = ira;
		err = interp_prepare(fi, plan, mmap_base, iplan, &why);
		if (err == -ENOEXEC)
			printk(KERN_INFO "memory: interpreter %s of %.*s refused\n", plan->interp,
			       (int)q.h.path_len, q.path);
	}
	if (err == -ENOEXEC) {
		__atomic_add_fetch(&home_counters.exec_noexec, 1, __ATOMIC_RELAXED);
		printk(KERN_INFO "memory: exec of %.*s refused: %s\n", (int)q.h.path_len, q.path,
		       why ? why : "not an ELF program");
		err = reply_reason(r, why ? why : "not a loadable ELF64 x86-64 program");
		goto out;
	}
	if (err)
		goto out;

	mm = home_get(q.h.c.mm, true, false, &q.h.c, NULL, &err);
	if (!mm)
		goto out;
	/* The point of no return: the old contents go. */
	home_drop_all(mm);
	mm->c = q.h.c;
	if (!mm->c.bc_ipv4)
		mm->c.bc_ipv4 = net_config.ip;
	mm->stack_top = LEGO_USER_TOP;
	mm->mmap_base = mmap_base;
	mm->start_brk = mm->brk = plan->brk;

	err = load_regions(mm, plan, f, page, raw);
	if (!err && iplan)
		err = load_regions(mm, iplan, fi, page, raw);
	struct elf_stack_info si;
	if (!err)
		err = load_stack(mm, plan, iplan, &q, &si);
	if (err) {
		home_drop_all(mm);
		mm->start_brk = mm->brk = 0;
		mm->stack_top = 0;
		goto out;
	}
	struct lego_mem_exec_reply *x =
		rpc_reply_alloc(r, (u32)sizeof(*x) - (u32)sizeof(x->layout) + home_layout_size(mm));
	if (!x) {
		err = -ENOMEM;
		goto out;
	}
	x->entry = si.entry;
	x->sp = si.rsp;
	x->start_brk = mm->start_brk;
	x->stack_top = mm->stack_top;
	x->mmap_base = mm->mmap_base;
	home_layout_fill(mm, &x->layout, 0);
	err = 0;
out:
	if (mm)
		home_put(mm);
	kfree(raw);
	kfree(page);
	kfree(ra);
	kfree(plan);
	kfree(f);
	kfree(ira);
	kfree(iplan);
	kfree(fi);
	return err;
}
