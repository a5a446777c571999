/* User path -> storage full path resolution (paper §4.3.3). Pure logic: the
 * same file runs in the processor monitor and in the host unit test; the
 * rules are in include/lego/vpath.h. */
#include <lego/vpath.h>
#include <lego/errno.h>
#include <lego/path.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

int vpath_walk_init(struct vpath_walk *w, const char *base, size_t base_len,
		    const char *path, size_t path_len, unsigned int flags)
{
	size_t n = 0;

	while (n < path_len && path[n] != '\0')
		n++;
	/* Linux refuses a user string that does not end within PATH_MAX. */
	if (n >= LINUX_PATH_MAX)
		return -ENAMETOOLONG;
	if (n == 0 && !(flags & VPATH_EMPTY_OK))
		return -ENOENT;

	w->hops = 0;
	w->comp_len = 0;
	w->last = false;
	w->need_dir = false;
	w->dir_final = false;
	if (n > 0 && path[0] == '/') {
		w->done[0] = '/';
		w->done_len = 1;
	} else {
		int r;

		if (!base)
			return -EBADF;
		r = lego_path_check(base, base_len);
		if (r)
			return r;
		/* With VPATH_EMPTY_OK and "" this is the whole answer; a
		 * dirfd without a storage path (a pipe) is the caller's case. */
		memcpy(w->done, base, base_len);
		w->done_len = (u16)base_len;
	}
	w->done[w->done_len] = '\0';
	if (n)
		memcpy(w->rest, path, n);
	w->rest_pos = 0;
	w->rest_len = (u16)n;
	return 0;
}

/* Drop the last component of done; "/" stays "/". */
static void vpath_pop(struct vpath_walk *w)
{
	w->done_len = (u16)vpath_parent_len(w->done, w->done_len);
	w->done[w->done_len] = '\0';
}

int vpath_walk_step(struct vpath_walk *w)
{
	const char *r = w->rest;

	w->comp_len = 0;
	for (;;) {
		size_t s = w->rest_pos, e, t;
		bool last, trail;

		while (s < w->rest_len && r[s] == '/')
			s++;
		if (s == w->rest_len) {
			w->rest_pos = w->rest_len;
			return 0;
		}
		e = s;
		while (e < w->rest_len && r[e] != '/')
			e++;
		t = e;
		while (t < w->rest_len && r[t] == '/')
			t++;
		last = t == w->rest_len;
		trail = last && e < w->rest_len;
		w->rest_pos = (u16)e;

		if (r[s] == '.' && (e - s == 1 || (e - s == 2 && r[s + 1] == '.'))) {
			if (e - s == 2)
				vpath_pop(w);
			/* "x/." and "x/.." can only name directories. */
			if (last)
				w->dir_final = true;
			continue;
		}
		if (e - s > LEGO_ST_NAME_MAX)
			return -ENAMETOOLONG;
		/* done + '/' (unless done is "/") + component + NUL */
		size_t sep = w->done_len > 1;
		if (w->done_len + sep + (e - s) >= LEGO_ST_PATH_MAX)
			return -ENAMETOOLONG;
		if (sep)
			w->done[w->done_len++] = '/';
		memcpy(w->done + w->done_len, r + s, e - s);
		w->done_len = (u16)(w->done_len + (e - s));
		w->done[w->done_len] = '\0';
		w->comp_len = (u16)(e - s + sep);
		w->last = last;
		w->need_dir = !last || trail;
		w->dir_final = last && trail;
		return 1;
	}
}

int vpath_walk_link(struct vpath_walk *w, const char *target, size_t len)
{
	size_t remain = (size_t)w->rest_len - w->rest_pos;

	if (w->comp_len == 0)
		return -EINVAL;
	if (w->hops >= LINUX_MAXSYMLINKS)
		return -ELOOP;
	if (len == 0)
		return -ENOENT;
	for (size_t i = 0; i < len; i++)
		if (target[i] == '\0')
			return -EINVAL;
	if (len + remain >= LINUX_PATH_MAX)
		return -ENAMETOOLONG;
	w->hops++;

	/* Back to the link's directory, or to "/" for an absolute target. */
	w->done_len = (u16)(w->done_len - w->comp_len);
	if (w->done_len == 0)
		w->done_len = 1;
	if (target[0] == '/')
		w->done_len = 1;
	w->done[w->done_len] = '\0';
	w->comp_len = 0;
	w->last = false;
	w->need_dir = false;
	w->dir_final = false;

	/* The rest keeps the separator that followed the link, so a trailing
	 * '/' after "link" still demands a directory. */
	memmove(w->rest + len, w->rest + w->rest_pos, remain);
	memcpy(w->rest, target, len);
	w->rest_pos = 0;
	w->rest_len = (u16)(len + remain);
	return 0;
}

int vpath_resolve(struct vpath_walk *w, const char *base, size_t base_len,
		  const char *path, size_t path_len, unsigned int flags)
{
	int r = vpath_walk_init(w, base, base_len, path, path_len, flags);

	while (r == 0 || r == 1) {
		r = vpath_walk_step(w);
		if (r == 0)
			return 0;
	}
	return r;
}

size_t vpath_parent_len(const char *p, size_t n)
{
	while (n > 1 && p[n - 1] != '/')
		n--;
	/* n now ends just after the separator; drop it unless it is the root. */
	return n > 1 ? n - 1 : 1;
}

bool vpath_is_within(const char *p, size_t n, const char *dir, size_t dn)
{
	if (dn == 1 && dir[0] == '/')
		return n >= 1 && p[0] == '/';
	if (n < dn || memcmp(p, dir, dn) != 0)
		return false;
	return n == dn || p[dn] == '/';
}

int vpath_rebase(const char *p, size_t n, const char *from, size_t fn,
		 const char *to, size_t tn, char *out, size_t cap)
{
	size_t tail, len;

	if (!vpath_is_within(p, n, from, fn))
		return -EINVAL;
	/* What lies below from, with its leading '/' ("" for from itself). */
	tail = n - fn;
	if (fn == 1) {
		/* from is "/": everything is below it, p's own '/' leads. */
		tail = n > 1 ? n : 0;
	}
	if (tn == 1 && tail > 0)
		tn = 0;		/* to is "/": "/" + "/x" would double the slash */
	len = tn + tail;
	if (len >= cap || len >= LEGO_ST_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(out, to, tn);
	memcpy(out + tn, p + n - tail, tail);
	out[len] = '\0';
	return (int)len;
}
