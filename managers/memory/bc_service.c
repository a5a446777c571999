/* The buffer cache service of an mComponent (paper §4.5): the
 * LEGO_OP_MEM_BC handler, the periodic flush, and the entry point the
 * home's loader and the owners' file-backed pages read files through.
 * The cache itself is managers/memory/bcache.c (pure logic).
 *
 * One mutex (bc_lock) serialises the cache, held across the storage
 * calls a request makes: a miss or write-back costs one storage round
 * trip, and keeping the lock makes every request see the cache as the
 * previous one left it, which is the coherence §4.5 asks for. Requests
 * for files that are cached (hits) wait behind a miss; the storage node
 * serialises its own work the same way. */
#include <lego/bcache.h>
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/mutex.h>
#include <lego/net.h>
#include <lego/params.h>
#include <lego/printk.h>
#include <lego/rpc.h>
#include <lego/sched.h>
#include <lego/string.h>
#include <lego/time.h>
#include <lego/mem_proto.h>
#include <uapi/lego/memory.h>
#include "bc_service.h"

static struct bcache bc;
static DEFINE_MUTEX(bc_lock);
static bool bc_ready;
static u64 bc_max_pages = (u64)CONFIG_MEM_BC_MB << 8;	/* MiB -> 4 KiB pages */

static int bc_pages_param(const char *val, void *arg)
{
	u64 v;
	if (!val || cmdline_parse_u64(val, &v) || v < 64 || v > (1u << 24))
		return -EINVAL;
	bc_max_pages = v;
	return 0;
}
LEGO_PARAM("lego.bc_pages", bc_pages_param, NULL);

/* ------------------------------------------------------------------ */
/* bcache_ops                                                          */

static int bc_st_call(void *ctx, const struct bc_ep *ep, u16 op, const struct lego_st_req *h,
		      const char *path, const char *path2, const void *data, void *reply,
		      u32 reply_max, u32 *got)
{
	u32 dlen = data ? (u32)h->len : 0;
	u32 n = (u32)sizeof(*h) + h->path_len + h->path2_len + dlen;
	u8 *q = kmalloc(n);

	if (!q)
		return -ENOMEM;
	memcpy(q, h, sizeof(*h));
	if (h->path_len)
		memcpy(q + sizeof(*h), path, h->path_len);
	if (h->path2_len)
		memcpy(q + sizeof(*h) + h->path_len, path2, h->path2_len);
	if (dlen)
		memcpy(q + sizeof(*h) + h->path_len + h->path2_len, data, dlen);
	struct rpc_endpoint to = { ep->ip, ep->port };
	int r = rpc_call(&to, op, q, n, reply, reply_max, got, 0);
	kfree(q);
	return r == -ETIMEDOUT || r == -ENETUNREACH ? -EHOSTUNREACH : r;
}

static void *bc_zalloc(void *ctx, size_t size)
{
	return kzalloc(size);
}

static void bc_free(void *ctx, void *p)
{
	kfree(p);
}

static void *bc_page_alloc(void *ctx)
{
	return alloc_page();
}

static void bc_page_free(void *ctx, void *page)
{
	free_page(page);
}

static u64 bc_now_ms(void *ctx)
{
	return ktime_ns() / 1000000;
}

static const struct bcache_ops bc_ops = {
	.st_call = bc_st_call, .zalloc = bc_zalloc, .free = bc_free,
	.page_alloc = bc_page_alloc, .page_free = bc_page_free, .now_ms = bc_now_ms,
};

/* ------------------------------------------------------------------ */
/* Serving                                                             */

/* The largest reply of a storage opcode that the cache serves. */
static u32 reply_room(const struct st_msg *m)
{
	switch (m->opcode) {
	case LEGO_OP_ST_STAT:
		return sizeof(struct lego_st_stat);
	case LEGO_OP_ST_READ:
		return (u32)m->h.len;
	case LEGO_OP_ST_WRITE:
	case LEGO_OP_ST_APPEND:
		return sizeof(struct lego_st_count);
	case LEGO_OP_ST_READLINK:
		return LEGO_ST_PATH_MAX;
	case LEGO_OP_ST_READDIR:
		return (u32)(sizeof(struct lego_st_readdir_reply) +
			     m->h.len * LEGO_ST_DIRENT_SIZE(LEGO_ST_NAME_MAX));
	default:
		return 0;
	}
}

int bc_serve(const struct rpc_endpoint *st, const struct st_msg *m, void *reply, u32 reply_max,
	     u32 *reply_len)
{
	struct bc_ep ep = { st->ip, st->port ? st->port : LEGO_RPC_PORT };

	if (!bc_ready)
		return -ENODEV;
	mutex_lock(&bc_lock);
	int r = bcache_serve(&bc, &ep, m, reply, reply_max, reply_len);
	mutex_unlock(&bc_lock);
	return r;
}

static int op_bc(struct rpc_req *r)
{
	struct lego_mem_bc_req q;
	const void *p;
	size_t plen;
	int err = mem_decode_bc(r->data, r->len, &q, &p, &plen);

	if (err < 0)
		return err;
	struct st_msg *m = kmalloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	err = st_decode(q.st_opcode, p, plen, m);
	if (err < 0)
		goto out;
	if (!q.storage_ipv4) {
		err = -EINVAL;
		goto out;
	}
	u32 room = reply_room(m);
	void *reply = NULL;
	if (room && !(reply = rpc_reply_alloc(r, room))) {
		err = -ENOMEM;
		goto out;
	}
	u32 got = 0;
	struct rpc_endpoint st = { q.storage_ipv4, q.storage_port };
	err = bc_serve(&st, m, reply, room, &got);
	r->reply_len = err < 0 ? 0 : got;
out:
	kfree(m);
	return err;
}

int bc_file_call(const struct rpc_endpoint *cache, const struct rpc_endpoint *st, u32 vnode,
		 u16 op, const char *path, u64 off, u64 len, void *reply, u32 reply_max, u32 *got)
{
	size_t plen = strlen(path);
	int r;

	*got = 0;
	if (!cache || !cache->ip || cache->ip == net_config.ip) {
		struct st_msg *m = kzalloc(sizeof(*m));
		if (!m)
			return -ENOMEM;
		m->opcode = op;
		m->h.vnode = vnode;
		m->h.off = off;
		m->h.len = len;
		m->h.path_len = (u16)plen;
		m->has_path = plen != 0;
		memcpy(m->path, path, plen + 1);
		r = bc_serve(st, m, reply, reply_max, got);
		kfree(m);
		return r;
	}
	/* Another mComponent caches the vNode's files. */
	u32 n = (u32)(sizeof(struct lego_mem_bc_req) + sizeof(struct lego_st_req) + plen);
	u8 *q = kzalloc(n);
	if (!q)
		return -ENOMEM;
	struct lego_mem_bc_req b = { st->ip, st->port ? st->port : LEGO_RPC_PORT, op };
	struct lego_st_req h;
	memset(&h, 0, sizeof(h));
	h.vnode = vnode;
	h.off = off;
	h.len = len;
	h.path_len = (u16)plen;
	memcpy(q, &b, sizeof(b));
	memcpy(q + sizeof(b), &h, sizeof(h));
	memcpy(q + sizeof(b) + sizeof(h), path, plen);
	r = rpc_call(cache, LEGO_OP_MEM_BC, q, n, reply, reply_max, got, 0);
	kfree(q);
	return r == -ETIMEDOUT || r == -ENETUNREACH ? -EHOSTUNREACH : r;
}

void bc_stats(struct lego_mem_stats *s)
{
	if (!bc_ready)
		return;
	mutex_lock(&bc_lock);
	s->bc_pages = bc.st.pages;
	s->bc_hits = bc.st.hits;
	s->bc_misses = bc.st.misses;
	s->bc_writebacks = bc.st.writebacks;
	s->bc_dirty = bc.st.dirty;
	s->bc_evictions = bc.st.evictions;
	s->bc_wb_errors = bc.st.wb_errors;
	mutex_unlock(&bc_lock);
}

static int bc_flush_thread(void *arg)
{
	bool warned = false;

	for (;;) {
		msleep(CONFIG_MEM_BC_FLUSH_MS);
		mutex_lock(&bc_lock);
		current->activity = "buffer cache flush";
		int r = bcache_flush(&bc);
		current->activity = NULL;
		mutex_unlock(&bc_lock);
		/* Reported by FSYNC; one line per error streak here. */
		if (r < 0 && !warned)
			pr_warn("memory: buffer cache write-back failed (%d)\n", r);
		warned = r < 0;
	}
	return 0;
}

void bc_init(void)
{
	int r = bcache_init(&bc, &bc_ops, NULL, (u32)bc_max_pages, CONFIG_MEM_BC_REVALIDATE_MS);

	if (r < 0) {
		pr_err("memory: no buffer cache (%d)\n", r);
		return;
	}
	bc_ready = true;
	rpc_register(LEGO_OP_MEM_BC, op_bc, "mem-bc");
	struct thread *t = thread_create(bc_flush_thread, NULL, THREAD_CPU_ANY, "bc-flush");
	if (t)
		thread_detach(t);
	pr_info("memory: buffer cache of %llu pages (%llu MiB), flush every %d ms\n",
		(unsigned long long)bc_max_pages, (unsigned long long)(bc_max_pages >> 8),
		CONFIG_MEM_BC_FLUSH_MS);
}
