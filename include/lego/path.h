/* The full-path syntax of the storage protocol (include/uapi/lego/storage.h),
 * checked wherever a path arrives from the wire: the storage monitor
 * (LegoFS), the memory monitor (EXEC, file mappings, buffer cache). Pure and
 * header-only, so every personality and the host tools get it without a
 * build-list entry. */
#ifndef LEGO_PATH_H
#define LEGO_PATH_H

#include <lego/types.h>
#include <lego/errno.h>
#include <uapi/lego/storage.h>

/* p[0..n) must be "/" or "/c1/c2/...": absolute, no empty, "." or ".."
 * component, no trailing '/', no NUL byte; fewer than LEGO_ST_PATH_MAX
 * bytes and components of at most LEGO_ST_NAME_MAX bytes. Returns 0,
 * -EINVAL or -ENAMETOOLONG. */
static inline int lego_path_check(const char *p, size_t n)
{
	if (!p)
		return -EINVAL;
	if (n >= LEGO_ST_PATH_MAX)
		return -ENAMETOOLONG;
	if (n == 0 || p[0] != '/')
		return -EINVAL;
	for (size_t i = 1; n > 1 && i <= n;) {
		size_t j = i;
		while (j < n && p[j] != '/') {
			if (p[j] == '\0')
				return -EINVAL;
			j++;
		}
		size_t c = j - i;
		if (c == 0)
			return -EINVAL;		/* "//" or a trailing '/' */
		if (c > LEGO_ST_NAME_MAX)
			return -ENAMETOOLONG;
		if (p[i] == '.' && (c == 1 || (c == 2 && p[i + 1] == '.')))
			return -EINVAL;
		i = j + 1;
	}
	return 0;
}

#endif
