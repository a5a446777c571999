/* Host tests of the processor's path resolution
 * (managers/processor/vpath.c, include/lego/vpath.h): table-driven
 * normalisation against a base, length limits, the component-by-component
 * walk, symlink splicing (relative, absolute, trailing '/', hop limit)
 * through a small simulated namespace, and the rename helpers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <lego/vpath.h>
#include <lego/path.h>
#include <lego/errno.h>

static struct vpath_walk *W;

static int setup(void **state)
{
	W = calloc(1, sizeof(*W));
	return W ? 0 : -1;
}

static int teardown(void **state)
{
	free(W);
	W = NULL;
	return 0;
}

/* ---- table-driven resolution ---- */

struct rcase {
	const char *base;	/* NULL: no base */
	const char *path;
	unsigned int flags;
	int err;		/* expected error, 0 for success */
	const char *want;	/* expected result */
	bool dir;		/* expected dir_final */
};

static const struct rcase rcases[] = {
	{ "/a/b", "c", 0, 0, "/a/b/c", false },
	{ "/", "c", 0, 0, "/c", false },
	{ "/a", "/x/y", 0, 0, "/x/y", false },
	{ "/a", "/", 0, 0, "/", false },
	{ "/a", "//", 0, 0, "/", false },
	{ "/a", "", 0, -ENOENT, NULL, false },
	{ "/a", "", VPATH_EMPTY_OK, 0, "/a", false },
	{ "/a/b", "..", 0, 0, "/a", true },
	{ "/a/b", "../..", 0, 0, "/", true },
	{ "/", "..", 0, 0, "/", true },
	{ "/", "../../x", 0, 0, "/x", false },
	{ "/a", "/../x/..//../y", 0, 0, "/y", false },
	{ "/a", "./x/./y/.", 0, 0, "/a/x/y", true },
	{ "/a", ".", 0, 0, "/a", true },
	{ "/a", "./", 0, 0, "/a", true },
	{ "/a", "x//y///", 0, 0, "/a/x/y", true },
	{ "/a", "x/", 0, 0, "/a/x", true },
	{ "/a", "x", 0, 0, "/a/x", false },
	{ "/a/b", "x/../../c", 0, 0, "/a/c", false },
	{ "/a", "x/..", 0, 0, "/a", true },
	{ "/a", "x/../", 0, 0, "/a", true },
	{ "/a", "...", 0, 0, "/a/...", false },
	{ "/a", "..a/.b/a..", 0, 0, "/a/..a/.b/a..", false },
	{ "/a", "x/.../", 0, 0, "/a/x/...", true },
	{ NULL, "x", 0, -EBADF, NULL, false },
	{ NULL, "", VPATH_EMPTY_OK, -EBADF, NULL, false },
	{ NULL, "/x", 0, 0, "/x", false },
	{ "a/b", "x", 0, -EINVAL, NULL, false },
	{ "/a/", "x", 0, -EINVAL, NULL, false },
	{ "/a/./b", "x", 0, -EINVAL, NULL, false },
	{ "", "x", 0, -EINVAL, NULL, false },
	{ "a/b", "/x", 0, 0, "/x", false },	/* an absolute path ignores the base */
};

static void check_case(const struct rcase *c, size_t i)
{
	int r = vpath_resolve(W, c->base, c->base ? strlen(c->base) : 0, c->path,
			      strlen(c->path), c->flags);

	if (r != c->err)
		fail_msg("case %zu (%s + %s): got %d want %d", i, c->base ? c->base : "NULL",
			 c->path, r, c->err);
	if (r)
		return;
	if (strcmp(W->done, c->want) != 0 || W->done_len != strlen(c->want))
		fail_msg("case %zu (%s + %s): got \"%s\" want \"%s\"", i,
			 c->base ? c->base : "NULL", c->path, W->done, c->want);
	if (W->dir_final != c->dir)
		fail_msg("case %zu (%s + %s): dir_final %d want %d", i,
			 c->base ? c->base : "NULL", c->path, W->dir_final, c->dir);
	assert_int_equal(lego_path_check(W->done, W->done_len), 0);
}

static void test_resolve_table(void **state)
{
	for (size_t i = 0; i < sizeof(rcases) / sizeof(rcases[0]); i++)
		check_case(&rcases[i], i);
}

static void test_nul_ends_path(void **state)
{
	assert_int_equal(vpath_resolve(W, "/b", 2, "ab\0cd", 5, 0), 0);
	assert_string_equal(W->done, "/b/ab");
	/* AT_EMPTY_PATH with no string at all. */
	assert_int_equal(vpath_resolve(W, "/b", 2, NULL, 0, VPATH_EMPTY_OK), 0);
	assert_string_equal(W->done, "/b");
	/* A leading NUL is an empty path. */
	assert_int_equal(vpath_resolve(W, "/b", 2, "\0x", 2, 0), -ENOENT);
}

/* ---- length limits ---- */

static char *rep(char c, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void test_component_limit(void **state)
{
	char *ok = rep('n', LEGO_ST_NAME_MAX), *big = rep('n', LEGO_ST_NAME_MAX + 1);

	assert_int_equal(vpath_resolve(W, "/", 1, ok, strlen(ok), 0), 0);
	assert_int_equal(W->done_len, LEGO_ST_NAME_MAX + 1);
	assert_int_equal(vpath_resolve(W, "/", 1, big, strlen(big), 0), -ENAMETOOLONG);
	/* Even when a later ".." would remove it. */
	char p[LEGO_ST_NAME_MAX + 8];
	snprintf(p, sizeof(p), "%s/..", big);
	assert_int_equal(vpath_resolve(W, "/", 1, p, strlen(p), 0), -ENAMETOOLONG);
	free(ok);
	free(big);
}

static void test_user_path_limit(void **state)
{
	/* "./" repeated, then "x": LINUX_PATH_MAX - 1 bytes is the longest. */
	char *p = malloc(LINUX_PATH_MAX + 1);
	size_t n = 0;

	while (n + 2 < LINUX_PATH_MAX - 1) {
		p[n++] = '.';
		p[n++] = '/';
	}
	while (n < LINUX_PATH_MAX - 1)
		p[n++] = 'x';
	p[n] = '\0';
	assert_int_equal(vpath_resolve(W, "/", 1, p, n, 0), 0);
	p[n++] = 'x';
	p[n] = '\0';
	assert_int_equal(vpath_resolve(W, "/", 1, p, n, 0), -ENAMETOOLONG);
	free(p);
}

static void test_result_limit(void **state)
{
	/* Components of 100 bytes: "/" + 10 * 100 + 9 separators = 1010. */
	char comp[101], path[2048];
	size_t n = 0;

	memset(comp, 'c', 100);
	comp[100] = '\0';
	for (int i = 0; i < 10; i++)
		n += (size_t)sprintf(path + n, "%s%s", i ? "/" : "", comp);
	assert_int_equal(vpath_resolve(W, "/", 1, path, n, 0), 0);
	assert_int_equal(W->done_len, 1010);
	/* Grow to exactly LEGO_ST_PATH_MAX - 1 = 1023: "/" + 12 bytes. */
	n += (size_t)sprintf(path + n, "/%s", "123456789012");
	assert_int_equal(vpath_resolve(W, "/", 1, path, n, 0), 0);
	assert_int_equal(W->done_len, LEGO_ST_PATH_MAX - 1);
	assert_int_equal(lego_path_check(W->done, W->done_len), 0);
	path[n++] = '3';
	path[n] = '\0';
	assert_int_equal(vpath_resolve(W, "/", 1, path, n, 0), -ENAMETOOLONG);
	/* The base counts too. */
	assert_int_equal(vpath_resolve(W, "/", 1, path, n - 14, 0), 0);
	char base[LEGO_ST_PATH_MAX];
	memcpy(base, W->done, W->done_len + 1);
	assert_int_equal(vpath_resolve(W, base, strlen(base), "12345678901234", 14, 0),
			 -ENAMETOOLONG);
	assert_int_equal(vpath_resolve(W, base, strlen(base), "123456789012", 12, 0), 0);
}

/* ---- the walk ---- */

static void test_walk_steps(void **state)
{
	assert_int_equal(vpath_walk_init(W, "/a", 2, "x//y/", 5, 0), 0);
	assert_string_equal(W->done, "/a");
	assert_int_equal(vpath_walk_step(W), 1);
	assert_string_equal(W->done, "/a/x");
	assert_false(W->last);
	assert_true(W->need_dir);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_string_equal(W->done, "/a/x/y");
	assert_true(W->last);
	assert_true(W->need_dir);
	assert_int_equal(vpath_walk_step(W), 0);
	assert_true(W->dir_final);
	/* Stepping past the end stays at the end. */
	assert_int_equal(vpath_walk_step(W), 0);

	assert_int_equal(vpath_walk_init(W, "/", 1, "f", 1, 0), 0);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_true(W->last);
	assert_false(W->need_dir);
	assert_int_equal(vpath_walk_step(W), 0);
	assert_false(W->dir_final);

	/* "x/.." hands x to the caller (it must be a directory) first. */
	assert_int_equal(vpath_walk_init(W, "/", 1, "x/..", 4, 0), 0);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_string_equal(W->done, "/x");
	assert_true(W->need_dir);
	assert_false(W->last);
	assert_int_equal(vpath_walk_step(W), 0);
	assert_string_equal(W->done, "/");
	assert_true(W->dir_final);
}

static void test_link_basic(void **state)
{
	/* /a/l -> t/u, walking a/l/c from "/". */
	assert_int_equal(vpath_walk_init(W, "/", 1, "a/l/c", 5, 0), 0);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_string_equal(W->done, "/a/l");
	assert_int_equal(vpath_walk_link(W, "t/u", 3), 0);
	assert_string_equal(W->done, "/a");
	assert_int_equal(W->hops, 1);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_string_equal(W->done, "/a/t");
	assert_int_equal(vpath_walk_step(W), 1);
	assert_string_equal(W->done, "/a/t/u");
	assert_false(W->last);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_string_equal(W->done, "/a/t/u/c");
	assert_true(W->last);
	assert_int_equal(vpath_walk_step(W), 0);

	/* Absolute target restarts at "/". */
	assert_int_equal(vpath_walk_init(W, "/d", 2, "l/c", 3, 0), 0);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_int_equal(vpath_walk_link(W, "//x/", 4), 0);
	assert_string_equal(W->done, "/");
	assert_int_equal(vpath_walk_step(W), 1);
	assert_string_equal(W->done, "/x");
	assert_int_equal(vpath_walk_step(W), 1);
	assert_string_equal(W->done, "/x/c");
	assert_int_equal(vpath_walk_step(W), 0);
	assert_false(W->dir_final);

	/* ".." in a target is read from the link's directory. */
	assert_int_equal(vpath_walk_init(W, "/", 1, "a/b/l/c", 7, 0), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(vpath_walk_step(W), 1);
	assert_int_equal(vpath_walk_link(W, "../..", 5), 0);
	assert_string_equal(W->done, "/a/b");
	assert_int_equal(vpath_walk_step(W), 1);
	assert_string_equal(W->done, "/c");
	assert_int_equal(vpath_walk_step(W), 0);

	/* A link directly under "/". */
	assert_int_equal(vpath_walk_init(W, "/", 1, "l", 1, 0), 0);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_int_equal(vpath_walk_link(W, "x", 1), 0);
	assert_string_equal(W->done, "/");
	assert_int_equal(vpath_walk_step(W), 1);
	assert_string_equal(W->done, "/x");
	assert_true(W->last);
}

static void test_link_trailing_slash(void **state)
{
	/* "l/" keeps demanding a directory after the splice. */
	assert_int_equal(vpath_walk_init(W, "/", 1, "l/", 2, 0), 0);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_true(W->need_dir);
	assert_int_equal(vpath_walk_link(W, "f", 1), 0);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_string_equal(W->done, "/f");
	assert_true(W->last);
	assert_true(W->need_dir);
	assert_int_equal(vpath_walk_step(W), 0);
	assert_true(W->dir_final);

	/* A target ending in '/' does too. */
	assert_int_equal(vpath_walk_init(W, "/", 1, "l", 1, 0), 0);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_int_equal(vpath_walk_link(W, "d/", 2), 0);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_true(W->need_dir);
	assert_int_equal(vpath_walk_step(W), 0);
	assert_true(W->dir_final);

	/* Target "." of a last link: the link's directory. */
	assert_int_equal(vpath_walk_init(W, "/", 1, "a/l", 3, 0), 0);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_int_equal(vpath_walk_link(W, ".", 1), 0);
	assert_int_equal(vpath_walk_step(W), 0);
	assert_string_equal(W->done, "/a");
	assert_true(W->dir_final);
}

static void test_link_errors(void **state)
{
	assert_int_equal(vpath_walk_init(W, "/", 1, "l", 1, 0), 0);
	/* No component appended yet. */
	assert_int_equal(vpath_walk_link(W, "x", 1), -EINVAL);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_int_equal(vpath_walk_link(W, "", 0), -ENOENT);
	assert_int_equal(vpath_walk_link(W, "a\0b", 3), -EINVAL);
	/* Target and rest together may use LINUX_PATH_MAX - 1 bytes. */
	char *big = rep('t', LINUX_PATH_MAX);
	assert_int_equal(vpath_walk_link(W, big, LINUX_PATH_MAX), -ENAMETOOLONG);
	assert_int_equal(vpath_walk_link(W, big, LINUX_PATH_MAX - 1), 0);
	/* The rest counts: "l/x" leaves "/x" behind the link. */
	assert_int_equal(vpath_walk_init(W, "/", 1, "l/x", 3, 0), 0);
	assert_int_equal(vpath_walk_step(W), 1);
	assert_int_equal(vpath_walk_link(W, big, LINUX_PATH_MAX - 2), -ENAMETOOLONG);
	assert_int_equal(vpath_walk_link(W, big, LINUX_PATH_MAX - 3), 0);
	/* The spliced target's component is too long for the storage. */
	assert_int_equal(vpath_walk_step(W), -ENAMETOOLONG);
	free(big);
	/* After a splice the link's component is gone: no second splice. */
	assert_int_equal(vpath_walk_link(W, "y", 1), -EINVAL);
}

static void test_link_hops(void **state)
{
	/* Every step is a link to "l": the 41st splice fails. */
	assert_int_equal(vpath_walk_init(W, "/", 1, "l", 1, 0), 0);
	for (int i = 0; i < LINUX_MAXSYMLINKS; i++) {
		assert_int_equal(vpath_walk_step(W), 1);
		assert_int_equal(vpath_walk_link(W, "l", 1), 0);
	}
	assert_int_equal(vpath_walk_step(W), 1);
	assert_int_equal(vpath_walk_link(W, "l", 1), -ELOOP);
	/* A new walk starts counting again. */
	assert_int_equal(vpath_walk_init(W, "/", 1, "l", 1, 0), 0);
	assert_int_equal(W->hops, 0);
}

/* ---- a caller's loop over a simulated namespace ---- */

struct simlink {
	const char *path, *target;
};

static const struct simlink links[] = {
	{ "/bin", "usr/bin" },
	{ "/usr/lib64", "lib" },
	{ "/usr/lib/cur", "../share/v2" },
	{ "/etc/alt", "/etc/real/" },
	{ "/loop1", "loop2" },
	{ "/loop2", "/loop1" },
	{ "/self", "." },
	{ "/up", "usr/.." },
	{ "/deep", "bin/../bin/../bin" },
};

static const char *sim_link(const char *p)
{
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (strcmp(links[i].path, p) == 0)
			return links[i].target;
	return NULL;
}

/* What a syscall layer does: lstat each prefix, splice links, follow the
 * last one only when asked. */
static int sim_resolve(const char *cwd, const char *path, bool follow_last)
{
	int r = vpath_walk_init(W, cwd, strlen(cwd), path, strlen(path), 0);

	if (r)
		return r;
	while ((r = vpath_walk_step(W)) == 1) {
		const char *t = sim_link(W->done);

		if (!t || (W->last && !follow_last && !W->need_dir))
			continue;
		r = vpath_walk_link(W, t, strlen(t));
		if (r)
			return r;
	}
	return r;
}

struct simcase {
	const char *cwd, *path;
	bool follow;
	int err;
	const char *want;
};

static const struct simcase simcases[] = {
	{ "/", "bin/sh", true, 0, "/usr/bin/sh" },
	{ "/usr", "../bin/../bin/ls", true, 0, "/usr/bin/ls" },
	{ "/", "usr/lib64/cur/x", true, 0, "/usr/share/v2/x" },
	{ "/", "etc/alt", true, 0, "/etc/real" },
	{ "/", "etc/alt", false, 0, "/etc/alt" },
	{ "/", "etc/alt/", false, 0, "/etc/real" },	/* a trailing '/' follows */
	{ "/", "bin", false, 0, "/bin" },
	{ "/", "bin/", true, 0, "/usr/bin" },
	{ "/", "loop1", true, -ELOOP, NULL },
	{ "/", "loop1", false, 0, "/loop1" },
	{ "/", "loop1/x", false, -ELOOP, NULL },
	{ "/", "self/self/bin", true, 0, "/usr/bin" },
	{ "/", "up/bin", true, 0, "/usr/bin" },
	{ "/", "deep/..", true, 0, "/usr" },		/* ".." after a link is physical */
	{ "/", "bin/..", true, 0, "/usr" },
};

static void test_sim_namespace(void **state)
{
	for (size_t i = 0; i < sizeof(simcases) / sizeof(simcases[0]); i++) {
		const struct simcase *c = &simcases[i];
		int r = sim_resolve(c->cwd, c->path, c->follow);

		if (r != c->err)
			fail_msg("sim %zu (%s): got %d want %d", i, c->path, r, c->err);
		if (!r && strcmp(W->done, c->want) != 0)
			fail_msg("sim %zu (%s): got %s want %s", i, c->path, W->done, c->want);
	}
}

/* ---- random paths against a reference normaliser ---- */

/* Split into components, keep a stack: the textbook algorithm, written
 * independently of vpath.c's in-place walk. */
static int ref_resolve(const char *base, const char *path, char *out, bool *dir)
{
	char full[2 * LINUX_PATH_MAX], *stack[LINUX_PATH_MAX];
	size_t depth = 0, len = 1;
	char *tok, *save;
	bool any = false, lastdot = false;
	size_t pl = strlen(path);

	if (pl == 0)
		return -ENOENT;
	if (pl >= LINUX_PATH_MAX)
		return -ENAMETOOLONG;
	snprintf(full, sizeof(full), "%s/%s", path[0] == '/' ? "" : base, path);
	for (tok = strtok_r(full, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		any = true;
		lastdot = !strcmp(tok, ".") || !strcmp(tok, "..");
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			if (depth) {
				depth--;
				len -= strlen(stack[depth]) + (depth ? 1 : 0);
			}
			continue;
		}
		if (strlen(tok) > LEGO_ST_NAME_MAX)
			return -ENAMETOOLONG;
		len += strlen(tok) + (depth ? 1 : 0);
		if (len >= LEGO_ST_PATH_MAX)
			return -ENAMETOOLONG;
		stack[depth++] = tok;
	}
	strcpy(out, "/");
	for (size_t i = 0; i < depth; i++) {
		if (i)
			strcat(out, "/");
		strcat(out, stack[i]);
	}
	/* Only what the user wrote decides: a base alone is never "final". */
	bool utoks = false;
	for (const char *c = path; *c; c++)
		utoks |= *c != '/';
	*dir = utoks && any && (lastdot || path[pl - 1] == '/');
	return 0;
}

static void test_random_vs_reference(void **state)
{
	static const char *toks[] = { "a", "bb", ".", "..", "", "c.d", "...", ".x" };
	char name[300], path[LINUX_PATH_MAX + 400], want[LEGO_ST_PATH_MAX + 300];
	unsigned int seed = 99;

	memset(name, 'n', sizeof(name));
	for (int iter = 0; iter < 20000; iter++) {
		int n = 0, parts;
		bool dir;
		const char *base = iter % 3 == 0 ? "/" : iter % 3 == 1 ? "/base/dir" : "/b";

		seed = seed * 1103515245u + 12345u;
		parts = (int)((seed >> 16) % (iter % 50 == 0 ? 400 : 12));
		path[0] = '\0';
		if ((seed >> 8) % 2)
			path[n++] = '/';
		for (int i = 0; i < parts; i++) {
			seed = seed * 1103515245u + 12345u;
			unsigned int k = (seed >> 16) % 10;
			if (i)
				path[n++] = '/';
			if (k < 8) {
				n += sprintf(path + n, "%s", toks[k]);
			} else {
				/* names around the component limit */
				int len = k == 8 ? 100 : 250 + (int)((seed >> 4) % 10);
				memcpy(path + n, name, (size_t)len);
				n += len;
			}
			if (n > LINUX_PATH_MAX + 100)
				break;
		}
		path[n] = '\0';
		int rr = ref_resolve(base, path, want, &dir);
		int r = vpath_resolve(W, base, strlen(base), path, (size_t)n, 0);

		if (r != rr)
			fail_msg("%s + %s: %d, reference %d", base, path, r, rr);
		if (r)
			continue;
		if (strcmp(W->done, want) != 0 || W->dir_final != dir)
			fail_msg("%s + %s: \"%s\" (dir %d), reference \"%s\" (dir %d)", base,
				 path, W->done, W->dir_final, want, dir);
	}
}

/* ---- rename helpers ---- */

static void test_parent_len(void **state)
{
	assert_int_equal(vpath_parent_len("/a/b", 4), 2);
	assert_int_equal(vpath_parent_len("/a", 2), 1);
	assert_int_equal(vpath_parent_len("/", 1), 1);
	assert_int_equal(vpath_parent_len("/abc/def/g", 10), 8);
}

static void test_within(void **state)
{
	assert_true(vpath_is_within("/a", 2, "/a", 2));
	assert_true(vpath_is_within("/a/b", 4, "/a", 2));
	assert_false(vpath_is_within("/ab", 3, "/a", 2));
	assert_false(vpath_is_within("/a", 2, "/a/b", 4));
	assert_true(vpath_is_within("/x", 2, "/", 1));
	assert_true(vpath_is_within("/", 1, "/", 1));
	assert_false(vpath_is_within("/b", 2, "/a", 2));
}

static void test_rebase(void **state)
{
	char out[LEGO_ST_PATH_MAX];

	assert_int_equal(vpath_rebase("/a/b/c", 6, "/a", 2, "/z", 2, out, sizeof(out)), 6);
	assert_string_equal(out, "/z/b/c");
	assert_int_equal(vpath_rebase("/a", 2, "/a", 2, "/q/r", 4, out, sizeof(out)), 4);
	assert_string_equal(out, "/q/r");
	assert_int_equal(vpath_rebase("/a/b", 4, "/a/b", 4, "/c", 2, out, sizeof(out)), 2);
	assert_string_equal(out, "/c");
	assert_int_equal(vpath_rebase("/ab", 3, "/a", 2, "/c", 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(vpath_rebase("/a/x", 4, "/a", 2, "/", 1, out, sizeof(out)), 2);
	assert_string_equal(out, "/x");
	assert_int_equal(vpath_rebase("/a/x", 4, "/a/x", 4, "/", 1, out, sizeof(out)), 1);
	assert_string_equal(out, "/");
	assert_int_equal(vpath_rebase("/x/y", 4, "/", 1, "/n", 2, out, sizeof(out)), 6);
	assert_string_equal(out, "/n/x/y");
	assert_int_equal(vpath_rebase("/a/b", 4, "/a", 2, "/zz", 3, out, 5), -ENAMETOOLONG);
	assert_int_equal(vpath_rebase("/a/b", 4, "/a", 2, "/zz", 3, out, 6), 5);
	assert_string_equal(out, "/zz/b");
	/* Results past the storage limit fail even with room in out. */
	char big[LEGO_ST_PATH_MAX + 8], to[LEGO_ST_PATH_MAX];
	memset(to, 't', sizeof(to));
	to[0] = '/';
	assert_int_equal(vpath_rebase("/a/b", 4, "/a", 2, to, LEGO_ST_PATH_MAX - 2, big,
				      sizeof(big)), -ENAMETOOLONG);
	assert_int_equal(vpath_rebase("/a/b", 4, "/a", 2, to, LEGO_ST_PATH_MAX - 3, big,
				      sizeof(big)), LEGO_ST_PATH_MAX - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resolve_table, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nul_ends_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_component_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_user_path_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_result_limit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_walk_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_basic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_trailing_slash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_link_hops, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sim_namespace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_vs_reference, setup, teardown),
		cmocka_unit_test(test_parent_len),
		cmocka_unit_test(test_within),
		cmocka_unit_test(test_rebase),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
