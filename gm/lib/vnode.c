/* GPM's vNode table (include/gm/vnode.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "../include/gm/vnode.h"

int gm_vnodes_init(struct gm_vnodes *t, size_t max)
{
	memset(t, 0, sizeof(*t));
	t->max = max;
	t->next_id = 1;
	t->next_vip = 1;
	t->v = calloc(max ? max : 1, sizeof(*t->v));
	return t->v ? 0 : -ENOMEM;
}

void gm_vnodes_free(struct gm_vnodes *t)
{
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

bool gm_vnode_name_ok(const char name[LEGO_NAME_LEN])
{
	size_t i;

	for (i = 0; i < LEGO_NAME_LEN && name[i]; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
			return false;
	}
	return i > 0 && i < LEGO_NAME_LEN;
}

int gm_vnode_req_name(const void *data, size_t len, char name[LEGO_NAME_LEN])
{
	/* All three requests are one name field. */
	if (len != LEGO_NAME_LEN)
		return -EINVAL;
	memcpy(name, data, LEGO_NAME_LEN);
	if (!gm_vnode_name_ok(name))
		return -EINVAL;
	/* Whatever followed the NUL is not part of the name. */
	memset(name + strlen(name), 0, LEGO_NAME_LEN - strlen(name));
	return 0;
}

struct lego_vnode *gm_vnode_find(struct gm_vnodes *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strncmp(t->v[i].name, name, LEGO_NAME_LEN))
			return &t->v[i];
	return NULL;
}

int gm_vnode_can_create(const struct gm_vnodes *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strncmp(t->v[i].name, name, LEGO_NAME_LEN))
			return -EEXIST;
	if (t->n >= t->max || t->next_id == UINT32_MAX || t->next_vip > GM_VNODE_VIP_LAST)
		return -ENOSPC;
	return 0;
}

int gm_vnode_add(struct gm_vnodes *t, const char *name, uint32_t storage_node,
		 uint64_t now_wall, struct lego_vnode *out)
{
	struct lego_vnode *v;
	int r = gm_vnode_can_create(t, name);

	if (r)
		return r;
	if (strlen(name) >= LEGO_NAME_LEN)
		return -EINVAL;
	/* Ids only grow: appending keeps the array sorted. */
	v = &t->v[t->n++];
	memset(v, 0, sizeof(*v));
	v->vnode_id = t->next_id++;
	v->vip = htonl(GM_VNODE_VIP_NET + t->next_vip++);
	strcpy(v->name, name);
	snprintf(v->mount, sizeof(v->mount), "/vnode/%s", name);
	v->storage_node = storage_node;
	v->created_ms = now_wall;
	t->dirty = true;
	if (out)
		*out = *v;
	return 0;
}

int gm_vnode_remove(struct gm_vnodes *t, const char *name, struct lego_vnode *out)
{
	struct lego_vnode *v = gm_vnode_find(t, name);
	size_t i;

	if (!v)
		return -ENOENT;
	if (out)
		*out = *v;
	i = (size_t)(v - t->v);
	memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof(*t->v));
	t->n--;
	t->dirty = true;
	return 0;
}

size_t gm_vnode_list_max_bytes(const struct gm_vnodes *t)
{
	return sizeof(struct lego_gpm_vnode_list_reply) + t->max * sizeof(struct lego_vnode);
}

int gm_vnode_encode_list(const struct gm_vnodes *t, void *buf, size_t max, size_t *len)
{
	struct lego_gpm_vnode_list_reply hdr = { (uint32_t)t->n, 0 };
	size_t need = sizeof(hdr) + t->n * sizeof(struct lego_vnode);

	if (need > max)
		return -ENOSPC;
	memcpy(buf, &hdr, sizeof(hdr));
	memcpy((uint8_t *)buf + sizeof(hdr), t->v, t->n * sizeof(struct lego_vnode));
	*len = need;
	return 0;
}

void gm_vnode_state_write(const struct gm_vnodes *t, struct gm_buf *b)
{
	gm_buf_printf(b, "vnode_next %u %u\n", t->next_id, t->next_vip);
	for (size_t i = 0; i < t->n; i++) {
		const struct lego_vnode *v = &t->v[i];
		char ip[INET_ADDRSTRLEN];
		struct in_addr a = { v->vip };

		inet_ntop(AF_INET, &a, ip, sizeof(ip));
		gm_buf_printf(b, "vnode %u %s %s %s %u %llu %u\n", v->vnode_id, v->name, ip,
			      v->mount, v->storage_node, (unsigned long long)v->created_ms,
			      v->cache_node);
	}
}

int gm_vnode_state_line(struct gm_vnodes *t, char **f, int nf, char *err, size_t errlen)
{
	uint64_t a, b, cache = 0;
	struct lego_vnode v;
	uint32_t vip, off;
	char mount[sizeof(v.mount)];

	if (!strcmp(f[0], "vnode_next")) {
		if (nf != 3 || gm_parse_u64(f[1], UINT32_MAX, &a) || a < 1 ||
		    gm_parse_u64(f[2], GM_VNODE_VIP_LAST + 1, &b) || b < 1 || t->n) {
			snprintf(err, errlen, "bad vnode_next line (want one, before the vnodes)");
			return -EINVAL;
		}
		t->next_id = (uint32_t)a;
		t->next_vip = (uint32_t)b;
		return 1;
	}
	if (strcmp(f[0], "vnode"))
		return 0;
	memset(&v, 0, sizeof(v));
	/* The 8th field, the cache mComponent, came later: optional. */
	if ((nf != 7 && nf != 8) || gm_parse_u64(f[1], UINT32_MAX, &a) ||
	    strlen(f[2]) >= LEGO_NAME_LEN || gm_parse_ipv4(f[3], &vip) ||
	    strlen(f[4]) >= sizeof(v.mount) || gm_parse_u64(f[5], UINT32_MAX, &b) ||
	    gm_parse_u64(f[6], UINT64_MAX, &v.created_ms) ||
	    (nf == 8 && gm_parse_u64(f[7], UINT32_MAX, &cache))) {
		snprintf(err, errlen, "malformed vnode line");
		return -EINVAL;
	}
	strcpy(v.name, f[2]);
	off = ntohl(vip) - GM_VNODE_VIP_NET;
	snprintf(mount, sizeof(mount), "/vnode/%s", v.name);
	if (!gm_vnode_name_ok(v.name) || gm_vnode_find(t, v.name) || strcmp(f[4], mount)) {
		snprintf(err, errlen, "vnode '%s': invalid or duplicate name, or mount not %s",
			 f[2], mount);
		return -EINVAL;
	}
	if (a < 1 || a >= t->next_id || (t->n && a <= t->v[t->n - 1].vnode_id) ||
	    (ntohl(vip) >> 16) != (GM_VNODE_VIP_NET >> 16) || off < 1 || off >= t->next_vip) {
		snprintf(err, errlen, "vnode '%s': id or address out of order or beyond the counters",
			 f[2]);
		return -EINVAL;
	}
	if (t->n == t->max) {
		snprintf(err, errlen, "more than %zu vnodes", t->max);
		return -EINVAL;
	}
	v.vnode_id = (uint32_t)a;
	v.vip = vip;
	strcpy(v.mount, mount);
	v.storage_node = (uint32_t)b;
	v.cache_node = (uint32_t)cache;
	t->v[t->n++] = v;
	return 1;
}
