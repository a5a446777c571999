/*
 * Path resolution for the processor monitor's Linux state layer (paper
 * §4.3.3): turns a user's path, relative to the cwd or to a dirfd's path,
 * into the absolute, normalised full path that every storage request
 * carries (include/uapi/lego/storage.h, lego_path_check()). Pure logic: it
 * compiles in the kernel and on the host, allocates nothing and takes no
 * lock; callers provide the walk state and serialise access to it.
 * Design: docs/processor-state.md.
 *
 * A walk consumes the user path one component at a time. "." is dropped,
 * ".." removes the last component of the part already resolved (never
 * above "/"), and every other component is appended and handed to the
 * caller, who may lstat the prefix (storage STAT describes a link itself)
 * and, for a symbolic link, splice its target in with vpath_walk_link().
 * Because ".." only ever pops components the caller has seen, and links
 * are spliced before anything after them is read, the result is the one
 * Linux's component-wise lookup reaches, not a purely textual clean-up.
 * vpath_resolve() runs a walk without stopping: textual normalisation for
 * callers that do not follow links (or know there are none).
 */
#ifndef LEGO_VPATH_H
#define LEGO_VPATH_H

#include <lego/types.h>
#include <uapi/lego/storage.h>
#include <uapi/lego/linux_abi.h>

/* Walk flags. */
#define VPATH_EMPTY_OK 0x1	/* "" names the base itself (AT_EMPTY_PATH) */

/*
 * One resolution in progress. About 5 KiB: allocate it, do not put it on a
 * kernel stack. Owned by one thread for the walk's duration (no lock).
 *
 * done[0..done_len) is always a valid storage path ("/" or "/a/b"),
 * NUL-terminated. rest[rest_pos..rest_len) is what is left of the user's
 * path, raw (slashes, ".", ".." and all), with the targets of spliced
 * links in front of it.
 */
struct vpath_walk {
	char done[LEGO_ST_PATH_MAX];
	char rest[LINUX_PATH_MAX];
	u16 done_len;
	u16 rest_pos, rest_len;
	u16 comp_len;		/* bytes of the component the last step appended
				 * (0: none, or already replaced by a link) */
	u8 hops;		/* links spliced so far */
	bool last;		/* the appended component is the path's final one */
	bool need_dir;		/* it must be a directory: more follows, or the
				 * user wrote a trailing '/' after it */
	bool dir_final;		/* the final object must be a directory
				 * (trailing '/', "." or "..") */
};

/*
 * Start resolving path[0..path_len) (a NUL inside ends it early) against
 * base[0..base_len), the cwd or the dirfd's path, which must pass
 * lego_path_check(). base may be NULL when the path is absolute (an
 * ignored dirfd); a relative path then gives -EBADF. Errors: -ENOENT for
 * "" (unless VPATH_EMPTY_OK), -ENAMETOOLONG for a path of LINUX_PATH_MAX
 * bytes or more, -EINVAL for a malformed base.
 */
int vpath_walk_init(struct vpath_walk *w, const char *base, size_t base_len,
		    const char *path, size_t path_len, unsigned int flags);

/*
 * Consume components up to and including the next one that names
 * something ("." and ".." are handled here). Returns 1 when that component
 * was appended to done (w->last, w->need_dir describe it), 0 when the path
 * is used up (the result is in done; w->dir_final says whether it must be
 * a directory), or -ENAMETOOLONG (a component over LEGO_ST_NAME_MAX bytes,
 * or a result of LEGO_ST_PATH_MAX bytes or more).
 */
int vpath_walk_step(struct vpath_walk *w);

/*
 * The component the last step appended is a symbolic link whose target is
 * target[0..len) (storage READLINK, no NUL): drop the component and put the
 * target in front of the rest of the path, so that the walk continues in
 * the target. A relative target is read in the link's directory, an
 * absolute one from "/". A trailing '/' the user wrote after the link
 * still applies to what the target names. Errors: -ELOOP on the 41st link
 * of one walk (LINUX_MAXSYMLINKS), -ENOENT for an empty target, -EINVAL
 * for a NUL in it or no component to replace, -ENAMETOOLONG when target
 * and rest exceed LINUX_PATH_MAX - 1 bytes.
 */
int vpath_walk_link(struct vpath_walk *w, const char *target, size_t len);

/* Walk to the end without looking for links: the normalised result is in
 * w->done (w->dir_final set as above). Same errors as init and step. */
int vpath_resolve(struct vpath_walk *w, const char *base, size_t base_len,
		  const char *path, size_t path_len, unsigned int flags);

/* Length of the parent of a normalised path p[0..n): "/a/b" -> 2 ("/a"),
 * "/a" -> 1 ("/"), "/" -> 1. */
size_t vpath_parent_len(const char *p, size_t n);

/* p names dir or something below it (both normalised). "/" contains all. */
bool vpath_is_within(const char *p, size_t n, const char *dir, size_t dn);

/*
 * After a rename of from -> to (both normalised), the new name of p, which
 * vpath_is_within(p, from): to followed by what p has below from, written
 * NUL-terminated to out[0..cap). Returns its length, -EINVAL when p is not
 * within from, -ENAMETOOLONG when it does not fit in cap or reaches
 * LEGO_ST_PATH_MAX bytes. out must not overlap p or to.
 */
int vpath_rebase(const char *p, size_t n, const char *from, size_t fn,
		 const char *to, size_t tn, char *out, size_t cap);

#endif
