/* Processes of the processor monitor (paper §4.3.1): creation by RUN,
 * program loading through the home mComponent (§5.4), the layout copy and
 * vRegion routing the ExCache needs (§4.4), threads, and the end of a
 * process (home EXIT, ExCache lines dropped, exit status to the client).
 *
 * Lifetime: the table holds one reference, every thread one, and so does
 * any RPC handler that looked the process up. The last thread leaving
 * ends the process (proc_end) and drops the table's reference. */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/net.h>
#include <lego/printk.h>
#include <lego/random.h>
#include <lego/sched.h>
#include <lego/smp.h>
#include <lego/string.h>
#include <lego/time.h>
#include <lego/uaccess.h>
#include <lego/user.h>
#include <lego/uspace.h>
#include <lego/vma.h>
#include <asm/page.h>
#include <uapi/lego/memory.h>
#include <uapi/lego/storage.h>
#include <uapi/lego/linux_abi.h>
#include "proc.h"
#include "futex.h"
#include "pipe.h"

#define PROC_BUCKETS 64
static struct proc *proc_table[PROC_BUCKETS];
static DEFINE_SPINLOCK(proc_table_lock);	/* proc_table, refs */
static u32 next_pid = 1;			/* proc_table_lock */
static u32 mm_salt;				/* random, per boot */
static DEFINE_SPINLOCK(proc_tree_lock);		/* struct proc's tree fields */

#define EXEC_REPLY_MAX (sizeof(struct lego_mem_exec_reply) + \
			LEGO_MEM_VREGIONS_MAX * sizeof(struct lego_mem_vregion))

extern const struct user_ops proc_user_ops;	/* syscall.c */

/* ------------------------------------------------------------------ */
/* Table                                                               */

/* For messages to the client. */
static const char *err_str(int e)
{
	switch (-e) {
	case ENOENT: return "No such file or directory";
	case EACCES: return "Permission denied";
	case ENOMEM: return "Out of memory";
	case EHOSTUNREACH: return "Memory node not reachable";
	case ESRCH: return "No such process";
	case EISDIR: return "Is a directory";
	case ENOTDIR: return "Not a directory";
	case EPROTO: return "Protocol error";
	default: return "error";
	}
}

struct pthr *pthr_current(void)
{
	return current->monitor_data;
}

struct proc *proc_current(void)
{
	struct pthr *t = pthr_current();
	return t ? t->p : NULL;
}

void proc_get(struct proc *p)
{
	spin_lock(&proc_table_lock);
	p->refs++;
	spin_unlock(&proc_table_lock);
}

static void proc_free(struct proc *p)
{
	struct zombie *z, *zt;

	list_for_each_entry_safe(z, zt, &p->zombies, node)
		kfree(z);
	if (p->fds) {
		fd_table_destroy(p->fds);
		kfree(p->fds);
	}
	if (p->us)
		uspace_put(p->us);
	kfree(p->layout.r);
	kfree(p->plocal.r);
	kfree(p->va.v);
	kfree(p->in_buf);
	kfree(p);
}

void proc_put(struct proc *p)
{
	bool last;

	spin_lock(&proc_table_lock);
	last = --p->refs == 0;
	spin_unlock(&proc_table_lock);
	if (last)
		proc_free(p);
}

struct proc *proc_find(u32 pid, u64 token)
{
	struct proc *p;

	spin_lock(&proc_table_lock);
	for (p = proc_table[pid % PROC_BUCKETS]; p; p = p->hnext)
		if ((u32)p->pid == pid && p->token == token)
			break;
	if (p)
		p->refs++;
	spin_unlock(&proc_table_lock);
	return p;
}

static void proc_unhash(struct proc *p)
{
	spin_lock(&proc_table_lock);
	struct proc **pp = &proc_table[p->pid % PROC_BUCKETS];
	while (*pp && *pp != p)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = p->hnext;
	spin_unlock(&proc_table_lock);
}

/* ------------------------------------------------------------------ */
/* Range sets (layout copy, p-local ranges)                            */

static int prange_reserve(struct prange_set *s, u32 n)
{
	if (n <= s->cap)
		return 0;
	u32 cap = s->cap ? s->cap : 16;
	while (cap < n)
		cap *= 2;
	struct prange *r = kmalloc(cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (s->n)
		memcpy(r, s->r, s->n * sizeof(*r));
	kfree(s->r);
	s->r = r;
	s->cap = cap;
	return 0;
}

void prange_remove(struct prange_set *s, u64 start, u64 end)
{
	u32 w = 0;
	struct prange tail = { 0 };
	bool split = false;

	for (u32 i = 0; i < s->n; i++) {
		struct prange r = s->r[i];
		if (r.end <= start || r.start >= end) {
			s->r[w++] = r;
			continue;
		}
		if (r.start < start && r.end > end) {	/* a hole in the middle */
			tail = r;
			tail.start = end;
			split = true;
			r.end = start;
			s->r[w++] = r;
			continue;
		}
		if (r.start < start) {
			r.end = start;
			s->r[w++] = r;
		} else if (r.end > end) {
			r.start = end;
			s->r[w++] = r;
		}
	}
	s->n = w;
	if (split && prange_reserve(s, s->n + 1) == 0) {
		u32 i = s->n;
		while (i && s->r[i - 1].start > tail.start) {
			s->r[i] = s->r[i - 1];
			i--;
		}
		s->r[i] = tail;
		s->n++;
	}
}

int prange_add(struct prange_set *s, u64 start, u64 end, u32 prot, u32 flags)
{
	if (start >= end)
		return 0;
	prange_remove(s, start, end);
	int r = prange_reserve(s, s->n + 1);
	if (r)
		return r;
	u32 i = s->n;
	while (i && s->r[i - 1].start > start) {
		s->r[i] = s->r[i - 1];
		i--;
	}
	s->r[i] = (struct prange){ start, end, prot, flags };
	s->n++;
	return 0;
}

const struct prange *prange_find(const struct prange_set *s, u64 addr)
{
	u32 lo = 0, hi = s->n;

	while (lo < hi) {
		u32 mid = (lo + hi) / 2;
		if (addr < s->r[mid].start)
			hi = mid;
		else if (addr >= s->r[mid].end)
			lo = mid + 1;
		else
			return &s->r[mid];
	}
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The home and the layout                                             */

int proc_home_call(struct proc *p, u16 op, const void *req, u32 len, void *reply, u32 max,
		   u32 *got)
{
	u32 dummy;
	int r = rpc_call(&p->home, op, req, len, reply, max, got ? got : &dummy, 0);
	return r == -ETIMEDOUT || r == -ENETUNREACH ? -EHOSTUNREACH : r;
}

int proc_st_call(struct proc *p, u16 op, const struct lego_st_req *h, const char *path,
		 const char *path2, const void *data, void *reply, u32 max, u32 *got)
{
	u32 dlen = data ? (u32)h->len : 0;
	u32 n = (u32)(sizeof(struct lego_mem_bc_req) + sizeof(*h)) + h->path_len + h->path2_len +
		dlen;
	u8 *q = kmalloc(n);
	u32 dummy;

	if (!q)
		return -ENOMEM;
	struct lego_mem_bc_req b = { p->storage.ip, p->storage.port, op };
	struct lego_st_req hh = *h;
	hh.vnode = p->vnode;
	u8 *w = q;
	memcpy(w, &b, sizeof(b));
	w += sizeof(b);
	memcpy(w, &hh, sizeof(hh));
	w += sizeof(hh);
	if (h->path_len)
		memcpy(w, path, h->path_len);
	w += h->path_len;
	if (h->path2_len)
		memcpy(w, path2, h->path2_len);
	w += h->path2_len;
	if (dlen)
		memcpy(w, data, dlen);
	int r = rpc_call(&p->cache, LEGO_OP_MEM_BC, q, n, reply, max, got ? got : &dummy, 0);
	kfree(q);
	/* A silent cache or storage node: an I/O error for the program. */
	return r == -ETIMEDOUT || r == -ENETUNREACH || r == -EHOSTUNREACH ? -EIO : r;
}

void proc_vregions_update(struct proc *p, const struct lego_mem_layout_reply *l, u32 len)
{
	if (len < sizeof(*l) || l->count > LEGO_MEM_VREGIONS_MAX ||
	    len < sizeof(*l) + l->count * sizeof(struct lego_mem_vregion))
		return;
	u32 cap = l->count ? l->count : 1;
	struct vregion *v = kzalloc(cap * sizeof(*v));
	if (!v)
		return;		/* the old array routes the old vRegions still */
	for (u32 i = 0; i < l->count; i++) {
		v[i].index = l->v[i].index;
		v[i].owner_node = l->v[i].owner_node;
		v[i].owner_ip = l->v[i].owner_ipv4;
		v[i].owner_port = l->v[i].owner_port ? l->v[i].owner_port : LEGO_RPC_PORT;
	}
	spin_lock(&p->va_lock);
	struct vregion *old = p->va.v;
	vregion_array_init(&p->va, l->vregion_shift, v, cap);
	p->va.count = l->count;
	p->va_gen = l->generation;
	spin_unlock(&p->va_lock);
	kfree(old);
}

static int layout_rec(void *ctx, const struct lego_mem_vma_rec *rec, const char *path)
{
	return prange_add(ctx, rec->start, rec->end, rec->prot, rec->flags);
}

int proc_layout_refresh(struct proc *p)
{
	struct prange_set ns = { 0 };
	int r = proc_maps_walk(p, layout_rec, &ns);

	if (r < 0) {
		kfree(ns.r);
		return r;
	}
	spin_lock(&p->va_lock);
	struct prange *old = p->layout.r;
	p->layout = ns;
	spin_unlock(&p->va_lock);
	kfree(old);
	return 0;
}

/* ExCache route ops: the owner of an address, and its permission. */
static int route_owner(void *ctx, u64 addr, struct rpc_endpoint *out)
{
	struct proc *p = ctx;
	int r = -EFAULT;

	spin_lock(&p->va_lock);
	if (p->va.shift) {
		struct vregion *v = vregion_find(&p->va, (u32)(addr >> p->va.shift));
		if (v) {
			out->ip = v->owner_ip;
			out->port = v->owner_port;
			r = 0;
		}
	}
	spin_unlock(&p->va_lock);
	return r;
}

static int route_prot(void *ctx, u64 addr, bool write, bool exec, u64 *pte_prot, bool *plocal)
{
	struct proc *p = ctx;
	int r = 0;

	spin_lock(&p->va_lock);
	const struct prange *l = prange_find(&p->layout, addr);
	if (!l) {
		r = -EFAULT;
	} else if (l->prot == LEGO_PROT_NONE || (write && !(l->prot & LEGO_PROT_WRITE)) ||
		   (exec && !(l->prot & LEGO_PROT_EXEC))) {
		r = -EACCES;
	} else {
		*pte_prot = PTE_U | (l->prot & LEGO_PROT_WRITE ? PTE_W : 0) |
			    (l->prot & LEGO_PROT_EXEC ? 0 : PTE_NX);
		*plocal = prange_find(&p->plocal, addr) != NULL;
	}
	spin_unlock(&p->va_lock);
	return r;
}

static const struct excache_route_ops route_ops = { route_owner, route_prot };

/* ------------------------------------------------------------------ */
/* Files: the fd table's services                                      */

static void *fd_alloc(size_t size, void *ctx)
{
	return kmalloc(size);
}

static void fd_free(void *p, void *ctx)
{
	kfree(p);
}

static void fd_release(struct fd_file *f, void *ctx)
{
	if (f->kind == FD_KIND_PIPE)
		pipe_release(f);
}

const struct fd_ops proc_fd_ops = { .alloc = fd_alloc, .free = fd_free, .release = fd_release };

static int proc_stdio(struct proc *p)
{
	static const u32 modes[3] = { O_RDONLY, O_WRONLY, O_WRONLY };

	p->fds = kzalloc(sizeof(*p->fds));
	if (!p->fds)
		return -ENOMEM;
	fd_table_init(p->fds, &proc_fd_ops, 1024);
	for (int i = 0; i < 3; i++) {
		struct fd_file *f;
		int r = fd_file_new(&proc_fd_ops, FD_KIND_CONSOLE, "", 0, modes[i], NULL, &f);
		if (r < 0)
			return r;
		/* Which stream it is, for good (sys_file.c: priv = stream + 1). */
		f->priv = (void *)(uintptr_t)(i + 1);
		r = fd_table_install(p->fds, f, i, 0);
		fd_file_put(f);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Threads                                                             */

struct thread_start {
	struct pthr *pt;
	struct user_regs regs;
	bool has_regs;
	u64 rip, rsp, fs_base;
};

static int pthr_main(void *arg)
{
	struct thread_start *ts = arg;
	struct pthr *pt = ts->pt;
	struct proc *p = pt->p;

	current->monitor_data = pt;
	current->activity = "user thread";
	int r = user_thread_setup(p->us, &proc_user_ops);
	if (r < 0) {
		kfree(ts);
		proc_thread_exit(128 + 9);
	}
	if (ts->fs_base)
		arch_prctl_user(ARCH_SET_FS, ts->fs_base);
	if (ts->has_regs) {
		struct user_regs regs = ts->regs;
		kfree(ts);
		user_enter_regs(&regs);
	}
	u64 rip = ts->rip, rsp = ts->rsp;
	kfree(ts);
	user_enter(rip, rsp);
}

int proc_thread_start(struct proc *p, const struct user_regs *regs, u64 rip, u64 rsp,
		      u64 fs_base, const struct pthr_ids *ids, struct pthr **out)
{
	struct pthr *pt = kzalloc(sizeof(*pt));
	struct thread_start *ts = kzalloc(sizeof(*ts));

	if (!pt || !ts) {
		kfree(pt);
		kfree(ts);
		return -ENOMEM;
	}
	pt->p = p;
	ts->pt = pt;
	if (regs) {
		ts->regs = *regs;
		ts->has_regs = true;
	}
	ts->rip = rip;
	ts->rsp = rsp;
	ts->fs_base = fs_base;

	spin_lock(&p->lock);
	if (p->exiting) {
		spin_unlock(&p->lock);
		kfree(pt);
		kfree(ts);
		return -ESRCH;
	}
	pt->tid = p->next_tid++;
	list_add_tail(&pt->node, &p->threads);
	p->nr_threads++;
	spin_unlock(&p->lock);
	proc_get(p);
	if (out)
		*out = pt;
	/* clone's tid words, before the thread can run (and exit). */
	if (ids) {
		u32 tid = (u32)pt->tid;
		pt->clear_child_tid = ids->clear_child_tid;
		if (ids->parent_tid)
			copy_to_user((void *)ids->parent_tid, &tid, sizeof(tid));
		if (ids->child_tid)
			copy_to_user((void *)ids->child_tid, &tid, sizeof(tid));
	}

	/* §4.3.1: a new thread goes to the core with the fewest threads. */
	struct thread *t = thread_create(pthr_main, ts, THREAD_CPU_ANY, "p%d.%d", p->pid, pt->tid);
	if (!t) {
		spin_lock(&p->lock);
		list_del(&pt->node);
		p->nr_threads--;
		spin_unlock(&p->lock);
		proc_put(p);
		kfree(pt);
		kfree(ts);
		return -ENOMEM;
	}
	pt->t = t;
	thread_detach(t);
	return pt->tid;
}

/* The process is over: its memory at the home, its ExCache lines, its
 * files; the client hears the status. Called by the last thread. */
static void proc_end(struct proc *p)
{
	struct lego_mem_map_req q;
	char *rep = NULL;
	u32 rlen = 0;

	signal_proc_exit(p);
	excache_proc_exit(&p->xc);
	memset(&q, 0, sizeof(q));
	q.mm = p->mm;
	int r = proc_home_call(p, LEGO_OP_MEM_EXIT, &q, sizeof(q), NULL, 0, NULL);
	if (r < 0)
		pr_warn("processor: pid %d: home EXIT of mm %#llx failed (%d)\n", p->pid,
			(unsigned long long)p->mm, r);
	/* Its children live on, orphaned: no one waits for them. */
	struct zombie *z = p->is_root ? NULL : kzalloc(sizeof(*z));
	struct proc *parent;
	int orphans = 0;
	spin_lock(&proc_tree_lock);
	struct proc *c, *ct;
	list_for_each_entry_safe(c, ct, &p->children, sibling) {
		list_del_init(&c->sibling);
		c->parent = NULL;
		orphans++;	/* each held a reference on us: dropped below */
	}
	parent = p->parent;
	p->parent = NULL;
	if (parent) {
		list_del_init(&p->sibling);
		if (z) {
			z->pid = p->pid;
			z->pgid = p->pgid;
			z->status = p->exit_status;
			list_add_tail(&z->node, &parent->zombies);
			z = NULL;
		}
	}
	spin_unlock(&proc_tree_lock);
	kfree(z);
	while (orphans--)
		proc_put(p);
	if (parent) {
		wake_up_all(&parent->child_wq);
		signal_send(parent, SIGCHLD);
		proc_put(parent);
	}
	size_t cap = sizeof(struct lego_proc_exit) + 1024;
	u8 *msg = p->is_root ? kzalloc(cap) : NULL;
	if (msg) {
		struct lego_proc_exit e = { p->token, (u32)p->pid, p->exit_status };
		memcpy(msg, &e, sizeof(e));
		rep = (char *)msg + sizeof(e);
		if (p->run_flags & LEGO_PROC_RUN_REPORT)
			rlen = (u32)excache_proc_report(&p->xc, rep, 1024);
		r = rpc_call(&p->client, LEGO_OP_PROC_EXIT, msg, (u32)sizeof(e) + rlen, NULL, 0,
			     NULL, 0);
		if (r < 0)
			pr_warn("processor: pid %d: the client did not take the exit status (%d)\n",
				p->pid, r);
		kfree(msg);
	}
	pr_info("processor: pid %d (%s) ended, status %#x\n", p->pid, p->exe, p->exit_status);
	proc_unhash(p);
	proc_put(p);		/* the table's */
}

void proc_thread_exit(int code)
{
	struct pthr *pt = pthr_current();
	struct proc *p = pt->p;
	bool last;

	/* CLONE_CHILD_CLEARTID: zero the tid word and wake a joiner. */
	if (pt->clear_child_tid) {
		u32 zero = 0;
		if (copy_to_user((void *)pt->clear_child_tid, &zero, sizeof(zero)) == 0)
			futex_wake_addr(p, pt->clear_child_tid, 1);
	}
	spin_lock(&p->lock);
	list_del(&pt->node);
	last = --p->nr_threads == 0;
	if (last && !p->exiting) {
		p->exiting = true;
		p->exit_status = ((u32)code & 0xff) << 8;
	}
	spin_unlock(&p->lock);
	current->monitor_data = NULL;
	signal_thread_exit(pt);
	kfree(pt);
	if (last)
		proc_end(p);
	proc_put(p);		/* the thread's */
	user_kill(code);
}

void proc_wake_sleepers(struct proc *p)
{
	/* Sleepers notice at once; threads in ring 3 at their next entry or
	 * at the interrupt sent to every other CPU. */
	wake_up_all(&p->in_wq);
	wake_up_all(&p->child_wq);
	futex_wake_all(p);
	int me = this_cpu()->cpu, n = atomic_read(&nr_cpus_online);
	for (int cpu = 0; cpu < n; cpu++)
		if (cpu != me)
			smp_send_reschedule(cpu);
}

void proc_exit_group(struct proc *p, u32 status)
{
	spin_lock(&p->lock);
	if (!p->exiting) {
		p->exiting = true;
		p->exit_status = status;
	}
	spin_unlock(&p->lock);
	proc_wake_sleepers(p);
	struct pthr *self = pthr_current();
	if (self && self->p == p)
		proc_thread_exit((int)(status >> 8));
}

/* /proc/self/cmdline from the first argc strings of strings[0..len). */
static void set_cmdline(struct proc *p, const char *strings, u32 len, u32 argc)
{
	u32 n = 0, seen = 0;

	while (n < len && seen < argc) {
		if (!strings[n])
			seen++;
		n++;
	}
	if (n > PROC_CMDLINE_MAX)
		n = PROC_CMDLINE_MAX;
	memcpy(p->cmdline, strings, n);
	p->cmdline_len = n;
}

/* ------------------------------------------------------------------ */
/* Creation                                                            */

/* A process record with one reference, a pid, an mm id, an empty address
 * space and stdin buffer: what RUN and fork both start from. */
static struct proc *proc_new(void)
{
	struct proc *p = kzalloc(sizeof(*p));

	if (!p)
		return NULL;
	p->refs = 1;
	mutex_init(&p->mm_lock);
	mutex_init(&p->fs_lock);
	spin_lock_init(&p->va_lock);
	spin_lock_init(&p->lock);
	INIT_LIST_HEAD(&p->threads);
	INIT_LIST_HEAD(&p->children);
	INIT_LIST_HEAD(&p->sibling);
	INIT_LIST_HEAD(&p->zombies);
	wait_queue_init(&p->in_wq);
	wait_queue_init(&p->exit_wq);
	wait_queue_init(&p->child_wq);
	spin_lock(&proc_table_lock);
	p->pid = (int)next_pid++;
	spin_unlock(&proc_table_lock);
	p->next_tid = p->pid;
	p->pgid = p->sid = p->pid;
	/* Unique across pComponents and boots: node id, a boot salt, pid. */
	p->mm = ((u64)(net_config.node_id & 0xffff) << 40) | ((u64)(mm_salt & 0xff) << 32) |
		(u32)p->pid;
	signal_proc_init(p);
	p->in_buf = kmalloc(PROC_STDIN_BUF);
	p->us = uspace_create();
	if (!p->in_buf || !p->us) {
		proc_put(p);
		return NULL;
	}
	return p;
}

static void proc_hash(struct proc *p)
{
	spin_lock(&proc_table_lock);
	p->hnext = proc_table[p->pid % PROC_BUCKETS];
	proc_table[p->pid % PROC_BUCKETS] = p;
	spin_unlock(&proc_table_lock);
}

/* EXEC at the home (§5.4): the program at path (in the vNode) with the
 * argument and environment strings replaces p's memory (created if new).
 * On success *er has the entry point and stack, p has the vRegion array
 * and the heap; the layout copy is the caller's to refresh. On failure
 * the home left the memory as it was, and why says what went wrong
 * (ENOEXEC: the home's reason; nothing for ENOENT and the like). */
static int exec_at_home(struct proc *p, const char *path, u32 path_len, const char *strings,
			u32 strings_len, u32 argc, u32 envc, struct lego_mem_exec_reply *er,
			char *why, size_t whylen)
{
	u32 n = (u32)sizeof(struct lego_mem_exec_req) + path_len + strings_len;
	u8 *req = kmalloc(n);
	u8 *rep = kmalloc(EXEC_REPLY_MAX);
	int r;

	if (!req || !rep) {
		kfree(req);
		kfree(rep);
		return -ENOMEM;
	}
	struct lego_mem_exec_req x;
	memset(&x, 0, sizeof(x));
	x.c.mm = p->mm;
	x.c.vnode = p->vnode;
	x.c.storage_ipv4 = p->storage.ip;
	x.c.storage_port = p->storage.port;
	x.c.bc_ipv4 = p->cache.ip;
	x.path_len = (u16)path_len;
	x.argc = argc;
	x.envc = envc;
	x.strings_len = strings_len;
	get_random_bytes(x.random, sizeof(x.random));
	memcpy(req, &x, sizeof(x));
	memcpy(req + sizeof(x), path, path_len);
	memcpy(req + sizeof(x) + path_len, strings, strings_len);
	u32 got = 0;
	r = proc_home_call(p, LEGO_OP_MEM_EXEC, req, n, rep, EXEC_REPLY_MAX, &got);
	kfree(req);
	if (r < 0) {
		if (r == -ENOEXEC && got) {
			rep[got < EXEC_REPLY_MAX ? got : EXEC_REPLY_MAX - 1] = '\0';
			snprintf(why, whylen, "%s", (char *)rep);
		} else if (r != -ENOENT && r != -EACCES && r != -ENOTDIR && r != -ELOOP) {
			/* Those speak for themselves; the others need the where. */
			snprintf(why, whylen, "exec at the home: %s", err_str(r));
		}
		kfree(rep);
		return r;
	}
	if (got < sizeof(*er)) {
		kfree(rep);
		snprintf(why, whylen, "the home sent a short EXEC reply");
		return -EPROTO;
	}
	memcpy(er, rep, sizeof(*er));
	proc_vregions_update(p, (const struct lego_mem_layout_reply *)
			     (rep + offsetof(struct lego_mem_exec_reply, layout)),
			     got - (u32)offsetof(struct lego_mem_exec_reply, layout));
	kfree(rep);
	p->start_brk = p->brk = er->start_brk;
	p->stack_top = er->stack_top;
	return 0;
}

/* ------------------------------------------------------------------ */
/* RUN                                                                 */

static int count_strings(const char *s, u32 len, u32 want)
{
	u32 n = 0;
	for (u32 i = 0; i < len; i++)
		if (!s[i])
			n++;
	return n == want && (!len || !s[len - 1]) ? 0 : -EINVAL;
}

int proc_run(const struct lego_proc_run_req *q, const char *path, const char *strings,
	     u32 src_ip, struct lego_proc_run_reply *out, char *msg, size_t msglen)
{
	struct proc *p;
	int r;

	if (count_strings(strings, q->strings_len, q->argc + q->envc) < 0 || !q->argc) {
		snprintf(msg, msglen, "malformed argument strings");
		return -EINVAL;
	}
	if (!q->path_len || q->path_len >= PROC_CWD_MAX || path[0] != '/') {
		snprintf(msg, msglen, "the program path must be absolute");
		return -EINVAL;
	}
	if (!q->home_ipv4 || !q->storage_ipv4 || !q->client_port) {
		snprintf(msg, msglen, "RUN needs the home, the storage node and a client port");
		return -EINVAL;
	}
	p = proc_new();
	if (!p) {
		snprintf(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	p->is_root = true;
	p->token = q->token;
	p->vnode = q->vnode;
	p->run_flags = q->flags;
	memcpy(p->vnode_name, q->vnode_name, sizeof(p->vnode_name) - 1);
	memcpy(p->exe, path, q->path_len);
	strlcpy(p->cwd, "/", sizeof(p->cwd));
	p->umask = 022;
	p->home = (struct rpc_endpoint){ q->home_ipv4, q->home_port };
	p->storage = (struct rpc_endpoint){ q->storage_ipv4, q->storage_port };
	p->cache = (struct rpc_endpoint){ q->cache_ipv4 ? q->cache_ipv4 : q->home_ipv4,
					  q->cache_ipv4 ? q->cache_port : q->home_port };
	p->client = (struct rpc_endpoint){ src_ip, q->client_port };
	if (proc_stdio(p) < 0) {
		r = -ENOMEM;
		snprintf(msg, msglen, "out of memory");
		goto fail;
	}
	r = excache_proc_init(&p->xc, (u32)p->pid, p->mm, p->us, &route_ops, p);
	if (r < 0) {
		snprintf(msg, msglen, "ExCache: %d", r);
		goto fail;
	}

	struct lego_mem_exec_reply er;
	r = exec_at_home(p, path, q->path_len, strings, q->strings_len, q->argc, q->envc, &er,
			 msg, msglen);
	if (r < 0)
		goto fail;
	set_cmdline(p, strings, q->strings_len, q->argc);
	mutex_lock(&p->mm_lock);
	r = proc_layout_refresh(p);
	mutex_unlock(&p->mm_lock);
	if (r < 0) {
		snprintf(msg, msglen, "layout from the home: %s", err_str(r));
		goto fail_mm;
	}

	proc_hash(p);
	out->pid = (u32)p->pid;
	out->mm = p->mm;
	r = proc_thread_start(p, NULL, er.entry, er.sp, 0, NULL, NULL);
	if (r < 0) {
		proc_unhash(p);
		snprintf(msg, msglen, "cannot start the first thread: %s", err_str(r));
		goto fail_mm;
	}
	pr_info("processor: pid %d: %s in vNode %s, mm %#llx, entry %#llx\n", p->pid, p->exe,
		p->vnode_name, (unsigned long long)p->mm, (unsigned long long)er.entry);
	return 0;

fail_mm: {
		struct lego_mem_map_req e;
		memset(&e, 0, sizeof(e));
		e.mm = p->mm;
		proc_home_call(p, LEGO_OP_MEM_EXIT, &e, sizeof(e), NULL, 0, NULL);
	}
fail:
	excache_proc_exit(&p->xc);
	proc_put(p);
	return r;
}

void proc_init(void)
{
	mm_salt = (u32)get_random_u64();
}

/* ------------------------------------------------------------------ */
/* fork, execve, wait                                                  */

long proc_fork(struct proc *p, const struct user_regs *regs, u64 child_sp, u64 fs_base,
	       const struct pthr_ids *ids)
{
	struct proc *c = proc_new();
	int r;

	if (!c)
		return -ENOMEM;
	c->token = p->token;
	c->vnode = p->vnode;
	c->run_flags = p->run_flags;
	memcpy(c->vnode_name, p->vnode_name, sizeof(c->vnode_name));
	memcpy(c->exe, p->exe, sizeof(c->exe));
	memcpy(c->cmdline, p->cmdline, p->cmdline_len);
	c->cmdline_len = p->cmdline_len;
	c->home = p->home;
	c->storage = p->storage;
	c->cache = p->cache;
	c->client = p->client;
	c->pgid = p->pgid;
	c->sid = p->sid;
	signal_fork(c, p);
	r = excache_proc_init(&c->xc, (u32)c->pid, c->mm, c->us, &route_ops, c);
	if (r < 0)
		goto fail;

	/* The files: the same descriptions, as Linux shares them. */
	c->fds = kzalloc(sizeof(*c->fds));
	if (!c->fds) {
		r = -ENOMEM;
		goto fail;
	}
	mutex_lock(&p->fs_lock);
	fd_table_init(c->fds, &proc_fd_ops, p->fds->limit);
	r = fd_table_fork(c->fds, p->fds);
	memcpy(c->cwd, p->cwd, sizeof(c->cwd));
	c->umask = p->umask;
	mutex_unlock(&p->fs_lock);
	if (r < 0)
		goto fail;

	/* The memory: our dirty lines to their owners, then the home copies
	 * every vma and page to the child (§4.4.1: same home, same owners). */
	mutex_lock(&p->mm_lock);
	r = excache_proc_flush(&p->xc);
	if (r == 0) {
		struct lego_mem_fork_req f = { p->mm, c->mm };
		r = proc_home_call(p, LEGO_OP_MEM_FORK, &f, sizeof(f), NULL, 0, NULL);
	}
	if (r == 0) {
		spin_lock(&p->va_lock);
		u32 n = p->va.count, cap = n ? n : 1;
		spin_unlock(&p->va_lock);
		struct vregion *v = kzalloc(cap * sizeof(*v));
		struct prange *lay = kmalloc((p->layout.n + 1) * sizeof(*lay));
		struct prange *pl = kmalloc((p->plocal.n + 1) * sizeof(*pl));
		if (!v || !lay || !pl) {
			kfree(v);
			kfree(lay);
			kfree(pl);
			r = -ENOMEM;
		} else {
			spin_lock(&p->va_lock);
			n = p->va.count < cap ? p->va.count : cap;	/* mm_lock: it cannot grow */
			memcpy(v, p->va.v, n * sizeof(*v));
			vregion_array_init(&c->va, p->va.shift, v, cap);
			c->va.count = n;
			memcpy(lay, p->layout.r, p->layout.n * sizeof(*lay));
			c->layout = (struct prange_set){ lay, p->layout.n, p->layout.n + 1 };
			memcpy(pl, p->plocal.r, p->plocal.n * sizeof(*pl));
			c->plocal = (struct prange_set){ pl, p->plocal.n, p->plocal.n + 1 };
			spin_unlock(&p->va_lock);
			c->start_brk = p->start_brk;
			c->brk = p->brk;
			c->stack_top = p->stack_top;
			/* p-local pages the parent wrote back exist at the owners
			 * for the child too. */
			r = excache_proc_copy_remote(&c->xc, &p->xc);
		}
	}
	mutex_unlock(&p->mm_lock);
	if (r < 0)
		goto fail_mm;

	proc_get(p);		/* the child's reference on its parent */
	spin_lock(&proc_tree_lock);
	c->parent = p;
	list_add_tail(&c->sibling, &p->children);
	spin_unlock(&proc_tree_lock);
	proc_hash(c);

	struct user_regs cr = *regs;
	cr.rax = 0;		/* fork() returns 0 in the child */
	if (child_sp)
		cr.rsp = child_sp;
	r = proc_thread_start(c, &cr, 0, 0, fs_base, ids, NULL);
	if (r < 0) {
		/* No thread will ever end it: do what the last one would. */
		c->exit_status = 9;	/* as if killed */
		c->exiting = true;
		proc_end(c);
		return r;
	}
	return c->pid;

fail_mm: {
		struct lego_mem_map_req e;
		memset(&e, 0, sizeof(e));
		e.mm = c->mm;
		proc_home_call(c, LEGO_OP_MEM_EXIT, &e, sizeof(e), NULL, 0, NULL);
	}
fail:
	excache_proc_exit(&c->xc);
	proc_put(c);
	return r;
}

long proc_execve(struct proc *p, struct user_regs *regs, const char *path, size_t path_len,
		 const char *strings, u32 strings_len, u32 argc, u32 envc, char *why,
		 size_t whylen)
{
	struct lego_mem_exec_reply er;
	int r;

	spin_lock(&p->lock);
	bool alone = p->nr_threads == 1;
	spin_unlock(&p->lock);
	if (!alone)
		return -EBUSY;	/* other threads would have to die first: not yet */
	mutex_lock(&p->mm_lock);
	/* The old image's dirty lines reach their owners first: if the exec
	 * fails, the process goes on with its memory intact. */
	r = excache_proc_flush(&p->xc);
	if (r == 0)
		r = exec_at_home(p, path, (u32)path_len, strings, strings_len, argc, envc, &er, why,
				 whylen);
	if (r < 0) {
		mutex_unlock(&p->mm_lock);
		return r;
	}
	/* The point of no return: the old image is gone at the home. */
	excache_proc_drop_range(&p->xc, 0, LEGO_USER_TOP, false);
	spin_lock(&p->va_lock);
	p->plocal.n = 0;
	spin_unlock(&p->va_lock);
	r = proc_layout_refresh(p);
	mutex_unlock(&p->mm_lock);
	memset(p->exe, 0, sizeof(p->exe));
	memcpy(p->exe, path, path_len < sizeof(p->exe) ? path_len : sizeof(p->exe) - 1);
	set_cmdline(p, strings, strings_len, argc);
	mutex_lock(&p->fs_lock);
	fd_table_cloexec(p->fds);
	mutex_unlock(&p->fs_lock);
	signal_exec(p);
	if (r < 0) {
		/* The new image is there but we cannot route its faults. */
		proc_exit_group(p, 9);
		return r;
	}
	/* Start the new image: every register zero, a fresh FPU and FS base. */
	memset(regs, 0, offsetof(struct user_regs, vector));
	regs->rip = er.entry;
	regs->rsp = er.sp;
	regs->rflags = 0x202;
	arch_prctl_user(ARCH_SET_FS, 0);
	pthr_current()->clear_child_tid = 0;
	user_regs_request_iret();
	pr_info("processor: pid %d: execve %s, entry %#llx\n", p->pid, p->exe,
		(unsigned long long)er.entry);
	return 0;
}

#define WNOHANG 1

long proc_wait(struct proc *p, int pid, int options, u32 *status)
{
	for (;;) {
		struct zombie *z, *found = NULL;
		bool any_child;

		spin_lock(&proc_tree_lock);
		list_for_each_entry(z, &p->zombies, node)
			if (pid == -1 || (pid > 0 && z->pid == pid) ||
			    (pid == 0 && z->pgid == p->pgid) || (pid < -1 && z->pgid == -pid)) {
				found = z;
				break;
			}
		if (found)
			list_del(&found->node);
		any_child = !list_empty(&p->children);
		if (!found && pid > 0) {
			struct proc *c;
			any_child = false;
			list_for_each_entry(c, &p->children, sibling)
				if (c->pid == pid)
					any_child = true;
		}
		spin_unlock(&proc_tree_lock);
		if (found) {
			long r = found->pid;
			*status = found->status;
			kfree(found);
			return r;
		}
		if (!any_child)
			return -ECHILD;
		if (options & WNOHANG)
			return 0;
		/* Sleep until a child ends (or we are killed). */
		wait_event(p->child_wq, !list_empty(&p->zombies) || signal_pending(p));
		if (signal_pending(p) && list_empty(&p->zombies))
			return -EINTR;
	}
}

struct proc *proc_find_pid(int pid)
{
	struct proc *p;

	spin_lock(&proc_table_lock);
	for (p = proc_table[(u32)pid % PROC_BUCKETS]; p; p = p->hnext)
		if (p->pid == pid)
			break;
	if (p)
		p->refs++;
	spin_unlock(&proc_table_lock);
	return p;
}
