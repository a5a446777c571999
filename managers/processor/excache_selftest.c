/*
 * Self-tests of the ExCache miss path (lego.test=selftest, processor
 * personality only: this file is built only there).
 *
 * No network: a small cache (64 lines) gets a fake page service that
 * keeps pages in a kernel hash, two fake owners (by address bit 17), and
 * route ops describing three ranges: plain read-write memory, a p-local
 * read-write range and a read-only range. User threads attached to real
 * address spaces touch 4x the cache with copy_to_user / copy_from_user, so
 * every miss goes through the access_fault hook into excache_fault and the
 * CPU itself sets the dirty bits that decide write-backs. Checked: every
 * page's bytes survive eviction, write-back and re-fetch; piggybacked
 * FLUSH_FETCH happens; p-local first touches make no fetch; victims of
 * another process are written back under its mm; flush, drop with and
 * without write-back, permission errors; two threads missing on the same
 * pages at once. Run for FIFO and LRU, free list and bitmap.
 */
#include <lego/excache.h>
#include <lego/selftest.h>
#include <lego/uspace.h>
#include <lego/uaccess.h>
#include <lego/user.h>
#include <lego/sched.h>
#include <lego/smp.h>
#include <lego/mm.h>
#include <lego/printk.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <uapi/lego/memory.h>
#include <asm/page.h>

#define T_PG 4096ul
#define T_A 0x10000000ul	/* read-write */
#define T_B 0x20000000ul	/* read-write, p-local */
#define T_C 0x30000000ul	/* read-only */
#define T_NPAGES 256u		/* 4x the test cache */
#define T_LEN (T_NPAGES * T_PG)
#define T_P2_PAGES 32u		/* the second process's pages */
#define T_MM1 0x00ec000000000001ull
#define T_MM2 0x00ec000000000002ull

/* ---- the fake page service ---- */

struct fk_page {
	u64 mm, va;
	struct fk_page *next;
	u8 *data;
};

#define FK_BUCKETS 256u

/* lock protects the buckets; the counters are atomic. */
static struct {
	spinlock_t lock;
	struct fk_page *b[FK_BUCKETS];
	u64 fetches, flushes, flush_fetches, bad_owner;
} fk = { .lock = SPINLOCK_INIT };

static u32 t_owner_ip(u64 va)
{
	return 1 + ((va >> 17) & 1);
}

static int t_range(u64 va)
{
	if (va >= T_A && va < T_A + T_LEN)
		return 'A';
	if (va >= T_B && va < T_B + T_LEN)
		return 'B';
	if (va >= T_C && va < T_C + T_LEN)
		return 'C';
	return 0;
}

static struct fk_page **fk_slot(u64 mm, u64 va)
{
	struct fk_page **pp = &fk.b[((va >> 12) ^ mm) % FK_BUCKETS];

	while (*pp && ((*pp)->mm != mm || (*pp)->va != va))
		pp = &(*pp)->next;
	return pp;
}

/* Checks a request as an owner would. */
static int fk_check(const struct rpc_endpoint *owner, u64 va, u32 access)
{
	if (owner->ip != t_owner_ip(va)) {
		__atomic_fetch_add(&fk.bad_owner, 1, __ATOMIC_RELAXED);
		return -ENXIO;
	}
	int r = t_range(va);
	if (!r)
		return -EFAULT;
	if (r == 'C' && (access & LEGO_MEM_ACCESS_WRITE))
		return -EACCES;
	return 0;
}

static int fk_do_fetch(u64 mm, u64 va, void *dst)
{
	spin_lock(&fk.lock);
	struct fk_page *p = *fk_slot(mm, va);
	if (p)
		memcpy(dst, p->data, T_PG);
	spin_unlock(&fk.lock);
	if (!p)
		memset(dst, 0, T_PG);
	return p ? 0 : 1;
}

static int fk_do_flush(u64 mm, u64 va, const void *src)
{
	/* Allocate outside the lock: kmalloc of a page may take a while. */
	struct fk_page *n = kzalloc(sizeof(*n));
	u8 *data = kmalloc(T_PG);
	if (!n || !data) {
		kfree(n);
		kfree(data);
		return -ENOMEM;
	}
	spin_lock(&fk.lock);
	struct fk_page **pp = fk_slot(mm, va);
	if (!*pp) {
		n->mm = mm;
		n->va = va;
		n->data = data;
		*pp = n;
		n = NULL;
		data = NULL;
	}
	memcpy((*pp)->data, src, T_PG);
	spin_unlock(&fk.lock);
	kfree(n);
	kfree(data);
	return 0;
}

static int fk_fetch(void *ctx, const struct rpc_endpoint *owner, u64 mm, u64 va, u32 access,
		    void *dst)
{
	int r = fk_check(owner, va, access);
	if (r)
		return r;
	__atomic_fetch_add(&fk.fetches, 1, __ATOMIC_RELAXED);
	return fk_do_fetch(mm, va, dst);
}

static int fk_flush(void *ctx, const struct rpc_endpoint *owner, u64 mm, u64 va, const void *src)
{
	int r = fk_check(owner, va, 0);
	if (r)
		return r;
	__atomic_fetch_add(&fk.flushes, 1, __ATOMIC_RELAXED);
	return fk_do_flush(mm, va, src);
}

static int fk_flush_fetch(void *ctx, const struct rpc_endpoint *owner, u64 mm, u64 flush_va,
			  const void *src, u64 va, u32 access, void *dst)
{
	int r = fk_check(owner, flush_va, 0);
	if (!r)
		r = fk_check(owner, va, access);
	if (r)
		return r;
	__atomic_fetch_add(&fk.flush_fetches, 1, __ATOMIC_RELAXED);
	r = fk_do_flush(mm, flush_va, src);
	return r ? r : fk_do_fetch(mm, va, dst);
}

static const struct excache_backend fk_backend = {
	.fetch = fk_fetch,
	.flush = fk_flush,
	.flush_fetch = fk_flush_fetch,
};

/* The stored copy of a page, or false if the owner has none. */
static bool fk_peek(u64 mm, u64 va, void *dst)
{
	spin_lock(&fk.lock);
	struct fk_page *p = *fk_slot(mm, va);
	if (p)
		memcpy(dst, p->data, T_PG);
	spin_unlock(&fk.lock);
	return p != NULL;
}

static void fk_reset(void)
{
	spin_lock(&fk.lock);
	for (u32 i = 0; i < FK_BUCKETS; i++) {
		while (fk.b[i]) {
			struct fk_page *p = fk.b[i];
			fk.b[i] = p->next;
			kfree(p->data);
			kfree(p);
		}
	}
	fk.fetches = fk.flushes = fk.flush_fetches = fk.bad_owner = 0;
	spin_unlock(&fk.lock);
}

static u64 fk_fetch_calls(void)
{
	return __atomic_load_n(&fk.fetches, __ATOMIC_RELAXED) +
	       __atomic_load_n(&fk.flush_fetches, __ATOMIC_RELAXED);
}

/* ---- route ops ---- */

static int t_route_owner(void *ctx, u64 addr, struct rpc_endpoint *out)
{
	if (!t_range(addr))
		return -EFAULT;
	out->ip = t_owner_ip(addr);
	out->port = 0;
	return 0;
}

static int t_route_prot(void *ctx, u64 addr, bool write, bool exec, u64 *pte_prot, bool *plocal)
{
	int r = t_range(addr);

	if (!r)
		return -EFAULT;
	if (exec || (write && r == 'C'))
		return -EACCES;
	*pte_prot = PTE_U | PTE_NX | (r == 'C' ? 0 : PTE_W);
	*plocal = r == 'B';
	return 0;
}

static const struct excache_route_ops t_route = {
	.owner = t_route_owner,
	.prot = t_route_prot,
};

/* ---- the test processes and their threads ---- */

struct t_proc {
	struct excache_proc ep;
	struct uspace *us;
	u64 mm;
};

/* One user thread's job; the thread writes why/failed, the test reads
 * them after the join. */
struct t_job {
	struct t_proc *p;
	struct excache *c;
	int (*fn)(struct t_job *j);
	u64 *keys;		/* per-page pattern keys of range A */
	u32 first, step;	/* page order for the concurrent readers */
	bool lru;
	u64 *buf;		/* one page of kernel memory */
	int failed;
	char why[128];
};

static long t_sys(struct user_regs *regs)
{
	return -ENOSYS;
}

static int t_ufault(struct user_regs *regs, int vector, unsigned long error, unsigned long cr2)
{
	return -EFAULT;
}

static int t_access_fault(unsigned long addr, unsigned long error)
{
	struct t_job *j = current->arg;

	return excache_fault(&j->p->ep, addr, error & 2, false);
}

static const struct user_ops t_uops = {
	.syscall = t_sys,
	.fault = t_ufault,
	.access_fault = t_access_fault,
};

/* The bytes a page holds under key: a function of address and key, so a
 * page landing at the wrong address or with a stale version shows. Key 0
 * means a page never written (zeros). */
static void t_fill(u64 *buf, u64 va, u64 key)
{
	for (u32 i = 0; i < T_PG / 8; i++)
		buf[i] = key ? ((va + i * 8) * 0x9e3779b97f4a7c15ull) ^ key : 0;
}

static bool t_same(const u64 *buf, u64 va, u64 key)
{
	for (u32 i = 0; i < T_PG / 8; i++)
		if (buf[i] != (key ? ((va + i * 8) * 0x9e3779b97f4a7c15ull) ^ key : 0))
			return false;
	return true;
}

#define JFAIL(...)                                                               \
	do {                                                                     \
		snprintf(j->why, sizeof(j->why), __VA_ARGS__);                   \
		return -1;                                                       \
	} while (0)

static int t_write(struct t_job *j, u64 va, u64 key)
{
	t_fill(j->buf, va, key);
	return copy_to_user((void *)va, j->buf, T_PG);
}

/* 0: the page holds key's bytes; 1: other bytes; -EFAULT. */
static int t_read(struct t_job *j, u64 va, u64 key)
{
	if (copy_from_user(j->buf, (const void *)va, T_PG))
		return -EFAULT;
	return t_same(j->buf, va, key) ? 0 : 1;
}

static int t_read_range(struct t_job *j, u64 base, const u64 *keys, u32 n, const char *what)
{
	for (u32 i = 0; i < n; i++) {
		int r = t_read(j, base + i * T_PG, keys ? keys[i] : 0);
		if (r)
			JFAIL("%s: page %u %s", what, i, r < 0 ? "faulted" : "has wrong bytes");
		if (j->lru && i % 16 == 15)
			excache_sweep(j->c);
	}
	return 0;
}

static int t_write_range(struct t_job *j, u64 base, u64 *keys, u32 n, u64 key0, const char *what)
{
	for (u32 i = 0; i < n; i++) {
		keys[i] = key0 + i;
		if (t_write(j, base + i * T_PG, keys[i]))
			JFAIL("%s: write of page %u faulted", what, i);
		if (j->lru && i % 16 == 15)
			excache_sweep(j->c);
	}
	return 0;
}

/* The second process: its pages get evicted by the first one's misses. */
static int job_p2_write(struct t_job *j)
{
	return t_write_range(j, T_A, j->keys, T_P2_PAGES, 0x2000000, "p2 write");
}

static int job_p2_verify(struct t_job *j)
{
	return t_read_range(j, T_A, j->keys, T_P2_PAGES, "p2 verify");
}

/* Two of these run at once over the same pages in different orders. */
static int job_reader(struct t_job *j)
{
	for (u32 k = 0; k < T_NPAGES; k++) {
		u32 i = (j->first + k * j->step) % T_NPAGES;
		int r = t_read(j, T_A + i * T_PG, j->keys[i]);
		if (r)
			JFAIL("reader: page %u %s", i, r < 0 ? "faulted" : "has wrong bytes");
	}
	return 0;
}

/* Rounds of writing then checking every step-th page from first on (the
 * process's pages of A, or this thread's share of them), while other
 * threads and another process do the same: misses of several threads
 * evict each other's lines, including lines a thread on another CPU is
 * using. */
static int job_stress(struct t_job *j)
{
	u32 n = j->p->mm == T_MM2 ? T_P2_PAGES : T_NPAGES;

	for (u32 round = 0; round < 4; round++) {
		for (u32 i = j->first; i < n; i += j->step) {
			j->keys[i] = ((u64)round << 32) | (j->p->mm << 20) | i;
			if (t_write(j, T_A + i * T_PG, j->keys[i]))
				JFAIL("stress: write of page %u faulted", i);
			if (j->lru && i % 32 == j->first)
				excache_sweep(j->c);
		}
		for (u32 i = j->first; i < n; i += j->step) {
			int r = t_read(j, T_A + i * T_PG, j->keys[i]);
			if (r)
				JFAIL("stress round %u: page %u %s", round, i,
				      r < 0 ? "faulted" : "has wrong bytes");
		}
	}
	return 0;
}

static int job_main(struct t_job *j)
{
	struct excache_proc *ep = &j->p->ep;
	u64 *keys = j->keys;
	u64 bkeys[T_NPAGES];
	int r;

	/* Evictions, write-backs (plain and piggybacked) and re-fetches. */
	if (t_write_range(j, T_A, keys, T_NPAGES, 0x1000000, "A write") ||
	    t_read_range(j, T_A, keys, T_NPAGES, "A verify"))
		return -1;

	/* p-local first touch: zeros, no fetch. */
	u64 f0 = fk_fetch_calls();
	u64 pl0 = ep->cnt.plocal;
	if (t_read_range(j, T_B, NULL, T_NPAGES, "B first touch"))
		return -1;
	if (fk_fetch_calls() != f0)
		JFAIL("p-local first touches fetched %lu pages", (unsigned long)(fk_fetch_calls() - f0));
	if (ep->cnt.plocal - pl0 < T_NPAGES)
		JFAIL("only %lu p-local fills", (unsigned long)(ep->cnt.plocal - pl0));
	/* Written p-local pages go to the owner and come back from it. */
	if (t_write_range(j, T_B, bkeys, T_NPAGES, 0x3000000, "B write") ||
	    t_read_range(j, T_B, bkeys, T_NPAGES, "B verify") ||
	    t_read_range(j, T_A, keys, T_NPAGES, "A verify again"))
		return -1;
	if (!excache_pageset_count(&ep->remote))
		JFAIL("no p-local page recorded as written back");

	/* Permissions. */
	if ((r = t_read(j, T_C + 5 * T_PG, 0)))
		JFAIL("read of the read-only range: %d", r);
	j->buf[0] = 1;
	if (copy_to_user((void *)(T_C + 5 * T_PG), j->buf, 8) != -EFAULT)
		JFAIL("write to the read-only range succeeded");
	if (copy_from_user(j->buf, (const void *)(T_C + T_LEN), 8) != -EFAULT)
		JFAIL("read outside every range succeeded");

	/* Flush before fork: every dirty line reaches its owner. */
	if (t_write_range(j, T_A, keys, 32, 0x4000000, "A rewrite"))
		return -1;
	if ((r = excache_proc_flush(ep)))
		JFAIL("excache_proc_flush: %d", r);
	for (u32 i = 0; i < 32; i++)
		if (!fk_peek(j->p->mm, T_A + i * T_PG, j->buf) ||
		    !t_same(j->buf, T_A + i * T_PG, keys[i]))
			JFAIL("page %u not at its owner after flush", i);
	/* Drop without write-back (clean after the flush): re-fetched. */
	if ((r = excache_proc_drop_range(ep, T_A, T_A + 32 * T_PG, false)))
		JFAIL("drop_range: %d", r);
	if (t_read_range(j, T_A, keys, 32, "A after drop"))
		return -1;
	/* Drop with write-back (mprotect, mremap). */
	keys[0] = 0x5000000;
	if (t_write(j, T_A, keys[0]))
		JFAIL("write of page 0 faulted");
	if ((r = excache_proc_drop_range(ep, T_A, T_A + T_PG, true)))
		JFAIL("drop_range with write-back: %d", r);
	if (!fk_peek(j->p->mm, T_A, j->buf) || !t_same(j->buf, T_A, keys[0]))
		JFAIL("page 0 not written back by drop_range");
	/* munmap of a p-local range: a new mapping there reads zeros. */
	if ((r = excache_proc_drop_range(ep, T_B, T_B + T_LEN, false)))
		JFAIL("drop_range of B: %d", r);
	if (t_read_range(j, T_B, NULL, 8, "B after munmap"))
		return -1;
	return 0;
}

static int t_thread(void *arg)
{
	struct t_job *j = arg;
	int r = user_thread_setup(j->p->us, &t_uops);

	if (r) {
		snprintf(j->why, sizeof(j->why), "user_thread_setup: %d", r);
		j->failed = 1;
		return r;
	}
	if (j->fn(j))
		j->failed = 1;
	return 0;
}

static void t_job_init(struct t_job *j, struct t_proc *p, struct excache *c,
		       int (*fn)(struct t_job *), u64 *keys, bool lru)
{
	memset(j, 0, sizeof(*j));
	j->p = p;
	j->c = c;
	j->fn = fn;
	j->keys = keys;
	j->lru = lru;
}

/* Runs the jobs at once, job i on CPU i modulo the CPUs online. */
static int t_run(struct t_job *jobs, int n, char *why, size_t len)
{
	struct thread *t[4];
	int cpus = atomic_read(&nr_cpus_online);
	int ret = 0;

	for (int i = 0; i < n; i++) {
		jobs[i].buf = kmalloc(T_PG);
		t[i] = jobs[i].buf ? thread_create(t_thread, &jobs[i], i % cpus, "excache-t%d", i)
				   : NULL;
		if (!t[i]) {
			snprintf(why, len, "cannot start test thread %d", i);
			ret = -1;
			n = i;
			kfree(jobs[i].buf);
			break;
		}
	}
	for (int i = 0; i < n; i++) {
		thread_join(t[i]);
		kfree(jobs[i].buf);
		if (jobs[i].failed && !ret) {
			snprintf(why, len, "%s", jobs[i].why);
			ret = -1;
		}
	}
	return ret;
}

#define FAIL(...)                                                                \
	do {                                                                     \
		snprintf(why, len, __VA_ARGS__);                                 \
		ret = -1;                                                        \
		goto out;                                                        \
	} while (0)

static int t_config(char *why, size_t len, enum excache_evict ev, enum excache_free fr)
{
	struct excache_params p = {
		.size = 64 * T_PG, .ways = 4, .sweep_ms = 100, .evict = ev, .free = fr,
	};
	bool lru = ev == EXCACHE_EVICT_LRU;
	struct t_proc p1 = { .mm = T_MM1 }, p2 = { .mm = T_MM2 };
	bool p1_on = false, p2_on = false;
	u64 *keys1 = NULL, *keys2 = NULL;
	struct t_job jobs[2];
	char rep[256];
	int ret = 0, r;

	fk_reset();
	struct excache *c = excache_create(&p, &fk_backend, false);
	if (!c)
		FAIL("excache_create failed");
	keys1 = kzalloc(T_NPAGES * sizeof(u64));
	/* The second process's keys, then a page of scratch. */
	keys2 = kzalloc(T_P2_PAGES * sizeof(u64) + T_PG);
	p1.us = uspace_create();
	p2.us = uspace_create();
	if (!keys1 || !keys2 || !p1.us || !p2.us)
		FAIL("out of memory");
	if ((r = excache_proc_init_in(c, &p1.ep, 1, p1.mm, p1.us, &t_route, NULL)))
		FAIL("excache_proc_init_in: %d", r);
	p1_on = true;
	if (excache_proc_init_in(c, &p2.ep, 1, p2.mm, p2.us, &t_route, NULL) != -EEXIST)
		FAIL("a second process with the same asid was accepted");
	if ((r = excache_proc_init_in(c, &p2.ep, 2, p2.mm, p2.us, &t_route, NULL)))
		FAIL("excache_proc_init_in: %d", r);
	p2_on = true;

	t_job_init(&jobs[0], &p2, c, job_p2_write, keys2, lru);
	if (t_run(jobs, 1, why, len))
		goto fail;
	t_job_init(&jobs[0], &p1, c, job_main, keys1, lru);
	if (t_run(jobs, 1, why, len))
		goto fail;
	/* Two threads of one process missing on the same pages together. */
	if ((r = excache_proc_drop_range(&p1.ep, T_A, T_A + T_LEN, true)))
		FAIL("drop_range before the readers: %d", r);
	t_job_init(&jobs[0], &p1, c, job_reader, keys1, lru);
	t_job_init(&jobs[1], &p1, c, job_reader, keys1, lru);
	jobs[0].first = 0;
	jobs[0].step = 1;
	jobs[1].first = 7;
	jobs[1].step = 5;
	if (t_run(jobs, 2, why, len))
		goto fail;
	/* The first process's misses evicted the second's dirty lines: they
	 * went to their owner under the second's mm. */
	for (u32 i = 0; i < T_P2_PAGES; i++)
		if (!fk_peek(p2.mm, T_A + i * T_PG, keys2 + T_P2_PAGES) ||
		    !t_same(keys2 + T_P2_PAGES, T_A + i * T_PG, keys2[i]))
			FAIL("page %u of the second process not written back", i);
	t_job_init(&jobs[0], &p2, c, job_p2_verify, keys2, lru);
	if (t_run(jobs, 1, why, len))
		goto fail;
	/* Everything at once: two threads of the first process, one of the
	 * second. */
	struct t_job sj[3];
	t_job_init(&sj[0], &p1, c, job_stress, keys1, lru);
	t_job_init(&sj[1], &p1, c, job_stress, keys1, lru);
	t_job_init(&sj[2], &p2, c, job_stress, keys2, lru);
	sj[0].first = 0;
	sj[1].first = 1;
	sj[0].step = sj[1].step = 2;
	sj[2].step = 1;
	if (t_run(sj, 3, why, len))
		goto fail;

	const struct excache_counters *k = &p1.ep.cnt;
	if (!k->piggyback)
		FAIL("no piggybacked write-back");
	if (!k->evictions || !k->writebacks || k->writebacks <= k->piggyback)
		FAIL("evictions %lu write-backs %lu piggyback %lu", (unsigned long)k->evictions,
		     (unsigned long)k->writebacks, (unsigned long)k->piggyback);
	if (fk.bad_owner)
		FAIL("%lu requests went to the wrong owner", (unsigned long)fk.bad_owner);
	excache_proc_report(&p1.ep, rep, sizeof(rep));
	printk(KERN_INFO "excache selftest %s/%s: %s\n", lru ? "lru" : "fifo",
	       fr == EXCACHE_FREE_BITMAP ? "bitmap" : "list", rep);
	excache_cache_report(c, rep, sizeof(rep));
	printk(KERN_INFO "excache selftest: %s\n", rep);
	goto out;
fail:
	ret = -1;
out:
	if (p1_on)
		excache_proc_exit(&p1.ep);
	if (p2_on)
		excache_proc_exit(&p2.ep);
	if (c && !ret) {
		u32 nr_free = 0;
		if ((r = excache_check(c, &nr_free)))
			FAIL("directory check: %d", r);
		if (nr_free != 64)
			FAIL("%u lines free after exit, want 64", nr_free);
	}
	if (p1.us)
		uspace_put(p1.us);
	if (p2.us)
		uspace_put(p2.us);
	kfree(keys1);
	kfree(keys2);
	excache_destroy(c);
	fk_reset();
	return ret;
}

static int test_excache_fifo_list(char *why, size_t len)
{
	return t_config(why, len, EXCACHE_EVICT_FIFO, EXCACHE_FREE_LIST);
}
SELFTEST("excache-fifo-list", test_excache_fifo_list);

static int test_excache_fifo_bitmap(char *why, size_t len)
{
	return t_config(why, len, EXCACHE_EVICT_FIFO, EXCACHE_FREE_BITMAP);
}
SELFTEST("excache-fifo-bitmap", test_excache_fifo_bitmap);

static int test_excache_lru_list(char *why, size_t len)
{
	return t_config(why, len, EXCACHE_EVICT_LRU, EXCACHE_FREE_LIST);
}
SELFTEST("excache-lru-list", test_excache_lru_list);

static int test_excache_lru_bitmap(char *why, size_t len)
{
	return t_config(why, len, EXCACHE_EVICT_LRU, EXCACHE_FREE_BITMAP);
}
SELFTEST("excache-lru-bitmap", test_excache_lru_bitmap);
