/*
 * GPM's table of vNodes (paper §4.1): unique id, unique name, virtual IP,
 * storage mount point on an sComponent. Pure bookkeeping, unit-tested in
 * tests/unit/test_gm_vnode.c; gpmd asks GSM for the sComponent and saves
 * the table in its state file.
 *
 * Ids count from 1 and virtual IPs from 10.200.0.1 through 10.200.255.254;
 * both counters are persisted and never go back, so a removed vNode's id
 * and address are not handed out again. Names are freed by removal.
 *
 * Not thread-safe: owned by gpmd's event-loop thread.
 */
#ifndef GM_VNODE_H
#define GM_VNODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uapi/lego/gm.h>
#include "statefile.h"

#define GM_VNODE_DEFAULT_MAX 1024
#define GM_VNODE_VIP_NET 0x0ac80000u	/* 10.200.0.0/16, host byte order */
#define GM_VNODE_VIP_LAST 0xfffeu	/* offsets 1 .. 10.200.255.254 */

struct gm_vnodes {
	struct lego_vnode *v;		/* sorted by vnode_id */
	size_t n, max;
	uint32_t next_id;		/* persisted */
	uint32_t next_vip;		/* offset in the /16, persisted */
	bool dirty;			/* changed since the last save */
};

int gm_vnodes_init(struct gm_vnodes *t, size_t max);
void gm_vnodes_free(struct gm_vnodes *t);

/* 1-15 characters of [a-z0-9_-], NUL-terminated in the field. */
bool gm_vnode_name_ok(const char name[LEGO_NAME_LEN]);
/* The name of a CREATE/REMOVE/PLACE request: 0 or -EINVAL. */
int gm_vnode_req_name(const void *data, size_t len, char name[LEGO_NAME_LEN]);

struct lego_vnode *gm_vnode_find(struct gm_vnodes *t, const char *name);
/* Whether name could be created now: 0, -EEXIST or -ENOSPC (table or id
 * or address space full). Checked before GSM is asked. */
int gm_vnode_can_create(const struct gm_vnodes *t, const char *name);
int gm_vnode_add(struct gm_vnodes *t, const char *name, uint32_t storage_node,
		 uint64_t now_wall, struct lego_vnode *out);
int gm_vnode_remove(struct gm_vnodes *t, const char *name, struct lego_vnode *out);

int gm_vnode_encode_list(const struct gm_vnodes *t, void *buf, size_t max, size_t *len);
size_t gm_vnode_list_max_bytes(const struct gm_vnodes *t);

void gm_vnode_state_write(const struct gm_vnodes *t, struct gm_buf *b);
/* 1 used, 0 not a vNode line, -EINVAL malformed (message in err). */
int gm_vnode_state_line(struct gm_vnodes *t, char **f, int nf, char *err, size_t errlen);

#endif
