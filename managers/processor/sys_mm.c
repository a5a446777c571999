/* Memory syscalls (paper §4.4.1): brk, mmap, munmap, mprotect and mremap
 * go to the process's home mComponent, which decides the layout; the
 * processor keeps what it needs from the answer: the vRegion array (to
 * route page requests), its layout copy (page permissions), and the
 * anonymous private ranges it created itself, whose first touch needs no
 * network call (p-local lines, §4.4.2; the hint of §5.6). Lines of ranges
 * that go away or change are dropped from the ExCache.
 *
 * mm_lock serialises these calls (Linux's mmap_lock); the layout copy is
 * changed under va_lock as well, which page faults read it under. */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/string.h>
#include <lego/uaccess.h>
#include <lego/vma.h>
#include <uapi/lego/memory.h>
#include "proc.h"
#include "sys_file.h"

#define PG 4096ull
#define PAGE_UP(x) (((x) + PG - 1) & ~(PG - 1))
#define LAYOUT_REPLY_MAX (sizeof(struct lego_mem_layout_reply) + \
			  LEGO_MEM_VREGIONS_MAX * sizeof(struct lego_mem_vregion))

static void layout_add(struct proc *p, u64 start, u64 end, u32 prot, u32 flags, bool plocal)
{
	spin_lock(&p->va_lock);
	prange_add(&p->layout, start, end, prot, flags);
	prange_remove(&p->plocal, start, end);
	if (plocal)
		prange_add(&p->plocal, start, end, prot, flags);
	spin_unlock(&p->va_lock);
}

static void layout_remove(struct proc *p, u64 start, u64 end)
{
	spin_lock(&p->va_lock);
	prange_remove(&p->layout, start, end);
	prange_remove(&p->plocal, start, end);
	spin_unlock(&p->va_lock);
}

/* A layout request with a layout reply: value, and the array taken in. */
static long layout_call(struct proc *p, u16 op, struct lego_mem_map_req *q, const char *path)
{
	u32 n = (u32)sizeof(*q) + q->path_len;
	u8 *req = kmalloc(n), *rep = kmalloc(LAYOUT_REPLY_MAX);
	long v;

	if (!req || !rep) {
		kfree(req);
		kfree(rep);
		return -ENOMEM;
	}
	memcpy(req, q, sizeof(*q));
	if (q->path_len)
		memcpy(req + sizeof(*q), path, q->path_len);
	u32 got = 0;
	int r = proc_home_call(p, op, req, n, rep, LAYOUT_REPLY_MAX, &got);
	if (r < 0) {
		v = r == -EHOSTUNREACH ? -ENOMEM : r;
	} else if (got < sizeof(struct lego_mem_layout_reply)) {
		v = got ? -EPROTO : 0;	/* MUNMAP, MPROTECT: empty reply */
	} else {
		struct lego_mem_layout_reply *l = (void *)rep;
		proc_vregions_update(p, l, got);
		v = (long)l->value;
	}
	kfree(req);
	kfree(rep);
	return v;
}

static long sys_brk(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct lego_mem_map_req q;

	mutex_lock(&p->mm_lock);
	u64 old = p->brk;
	memset(&q, 0, sizeof(q));
	q.mm = p->mm;
	q.addr = r->rdi;
	long v = layout_call(p, LEGO_OP_MEM_BRK, &q, NULL);
	if (v > 0) {
		u64 nb = (u64)v;
		if (PAGE_UP(nb) > PAGE_UP(old)) {
			layout_add(p, PAGE_UP(old), PAGE_UP(nb), LEGO_PROT_READ | LEGO_PROT_WRITE,
				   LEGO_MEM_VMA_HEAP, true);
		} else if (PAGE_UP(nb) < PAGE_UP(old)) {
			/* Layout first: a fault in between must not refill. */
			layout_remove(p, PAGE_UP(nb), PAGE_UP(old));
			excache_proc_drop_range(&p->xc, PAGE_UP(nb), PAGE_UP(old), false);
		}
		p->brk = nb;
	} else {
		v = (long)old;	/* Linux: the old break on failure */
	}
	mutex_unlock(&p->mm_lock);
	return v;
}

static long sys_mmap(struct user_regs *r)
{
	struct proc *p = proc_current();
	u64 addr = r->rdi, len = r->rsi, off = r->r9;
	u32 prot = (u32)r->rdx, flags = (u32)r->r10;
	int fd = (int)r->r8;
	struct lego_mem_map_req q;
	char *path = NULL;

	if (!len)
		return -EINVAL;
	if (off & (PG - 1))
		return -EINVAL;
	memset(&q, 0, sizeof(q));
	q.mm = p->mm;
	q.addr = addr;
	q.len = len;
	q.prot = prot;
	q.flags = flags;
	if (!(flags & LEGO_MAP_ANONYMOUS)) {
		path = kmalloc(LEGO_ST_PATH_MAX);
		if (!path)
			return -ENOMEM;
		long e = sys_file_mmap_path(p, fd, (flags & LEGO_MAP_TYPE) == LEGO_MAP_SHARED &&
					    (prot & LEGO_PROT_WRITE), path);
		if (e < 0) {
			kfree(path);
			return e;
		}
		q.path_len = (u16)e;
		q.pgoff = off / PG;
	}
	mutex_lock(&p->mm_lock);
	long v = layout_call(p, LEGO_OP_MEM_MMAP, &q, path);
	if (v >= 0) {
		u64 start = (u64)v, end = start + PAGE_UP(len);
		bool anon_private = (flags & LEGO_MAP_ANONYMOUS) &&
				    (flags & LEGO_MAP_TYPE) == LEGO_MAP_PRIVATE;
		layout_add(p, start, end, prot & 7,
			   (flags & LEGO_MAP_ANONYMOUS ? 0 : LEGO_MEM_VMA_FILE) |
			   (flags & LEGO_MAP_GROWSDOWN ? LEGO_MEM_VMA_GROWSDOWN : 0),
			   anon_private);
		/* MAP_FIXED may have replaced mappings: their lines are stale
		 * (dropped after the layout changed, so none comes back). */
		if (flags & (LEGO_MAP_FIXED | LEGO_MAP_FIXED_NOREPLACE))
			excache_proc_drop_range(&p->xc, start, end, false);
	}
	mutex_unlock(&p->mm_lock);
	kfree(path);
	return v;
}

static long sys_munmap(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct lego_mem_map_req q;
	u64 addr = r->rdi, len = r->rsi;

	if ((addr & (PG - 1)) || !len || addr + len < addr)
		return -EINVAL;
	memset(&q, 0, sizeof(q));
	q.mm = p->mm;
	q.addr = addr;
	q.len = len;
	mutex_lock(&p->mm_lock);
	long v = layout_call(p, LEGO_OP_MEM_MUNMAP, &q, NULL);
	if (v >= 0) {
		layout_remove(p, addr, addr + PAGE_UP(len));
		excache_proc_drop_range(&p->xc, addr, addr + PAGE_UP(len), false);
		v = 0;
	}
	mutex_unlock(&p->mm_lock);
	return v;
}

static long sys_mprotect(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct lego_mem_map_req q;
	u64 addr = r->rdi, len = r->rsi;

	if (addr & (PG - 1))
		return -EINVAL;
	if (!len)
		return 0;
	memset(&q, 0, sizeof(q));
	q.mm = p->mm;
	q.addr = addr;
	q.len = len;
	q.prot = (u32)r->rdx;
	mutex_lock(&p->mm_lock);
	/* Written-back first: the lines are mapped with the old permission. */
	excache_proc_drop_range(&p->xc, addr, addr + PAGE_UP(len), true);
	long v = layout_call(p, LEGO_OP_MEM_MPROTECT, &q, NULL);
	int e = proc_layout_refresh(p);
	/* A line a thread brought back in between has the old permission. */
	excache_proc_drop_range(&p->xc, addr, addr + PAGE_UP(len), true);
	mutex_unlock(&p->mm_lock);
	if (v >= 0)
		v = e < 0 ? e : 0;
	return v;
}

static long sys_mremap(struct user_regs *r)
{
	struct proc *p = proc_current();
	struct lego_mem_map_req q;
	u64 addr = r->rdi, old_len = r->rsi, new_len = r->rdx;

	memset(&q, 0, sizeof(q));
	q.mm = p->mm;
	q.addr = addr;
	q.len = old_len;
	q.new_len = new_len;
	q.flags = (u32)r->r10;
	q.new_addr = r->r8;
	mutex_lock(&p->mm_lock);
	/* The memory side moves the pages: ours must be there first. */
	excache_proc_drop_range(&p->xc, addr & ~(PG - 1), PAGE_UP(addr + old_len), true);
	long v = layout_call(p, LEGO_OP_MEM_MREMAP, &q, NULL);
	if (v >= 0) {
		bool was_plocal;
		spin_lock(&p->va_lock);
		was_plocal = prange_find(&p->plocal, addr) != NULL;
		spin_unlock(&p->va_lock);
		int e = proc_layout_refresh(p);
		if (e < 0)
			v = e;
		spin_lock(&p->va_lock);
		if (!(q.flags & LEGO_MREMAP_DONTUNMAP) && (u64)v != addr)
			prange_remove(&p->plocal, addr, PAGE_UP(addr + old_len));
		/* Growing in place: the new tail is untouched memory. */
		if (was_plocal && (u64)v == addr && new_len > old_len)
			prange_add(&p->plocal, PAGE_UP(addr + old_len), PAGE_UP(addr + new_len),
				   LEGO_PROT_READ | LEGO_PROT_WRITE, 0);
		spin_unlock(&p->va_lock);
	}
	mutex_unlock(&p->mm_lock);
	return v;
}

void sys_mm_init(void)
{
	sys_register(12, sys_brk);
	sys_register(9, sys_mmap);
	sys_register(11, sys_munmap);
	sys_register(10, sys_mprotect);
	sys_register(25, sys_mremap);
}
