/* Walking a process's vmas as its home reports them (LEGO_OP_MEM_MAPS,
 * paged by address): shared by the layout copy (proc.c) and
 * /proc/self/maps (sys_pseudo.c). */
#include <lego/errno.h>
#include <lego/mm.h>
#include <lego/string.h>
#include <uapi/lego/memory.h>
#include "proc.h"

#define MAPS_REPLY_BUF (64u * 1024 + sizeof(struct lego_mem_maps_reply))

int proc_maps_walk(struct proc *p, proc_maps_fn fn, void *ctx)
{
	u8 *buf = kmalloc(MAPS_REPLY_BUF);
	struct lego_mem_map_req q;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	memset(&q, 0, sizeof(q));
	q.mm = p->mm;
	for (;;) {
		struct lego_mem_maps_reply h;
		u32 got = 0, off = sizeof(h);
		u64 last = q.addr;

		r = proc_home_call(p, LEGO_OP_MEM_MAPS, &q, sizeof(q), buf, MAPS_REPLY_BUF, &got);
		if (r < 0)
			break;
		if (got < sizeof(h)) {
			r = -EPROTO;
			break;
		}
		memcpy(&h, buf, sizeof(h));
		for (u32 i = 0; i < h.count && r == 0; i++) {
			struct lego_mem_vma_rec rec;
			if (off + sizeof(rec) > got) {
				r = -EPROTO;
				break;
			}
			memcpy(&rec, buf + off, sizeof(rec));
			if (off + LEGO_MEM_VMA_REC_SIZE(rec.path_len) > got) {
				r = -EPROTO;
				break;
			}
			r = fn(ctx, &rec, rec.path_len ? (const char *)buf + off + sizeof(rec) : NULL);
			off += LEGO_MEM_VMA_REC_SIZE(rec.path_len);
			last = rec.end;
		}
		if (r != 0 || !h.more || last == q.addr)
			break;
		q.addr = last;
	}
	kfree(buf);
	return r < 0 ? r : 0;
}
