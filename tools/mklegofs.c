/* mklegofs: build, check and list LegoFS images (the storage monitor's
 * format, managers/storage/legofs*.c, compiled for the host).
 *
 *   mklegofs [--size N] [options] OUT.img SRC_DIR   build OUT.img from SRC_DIR
 *   mklegofs --check IMG                            verify IMG (exit 1 if bad)
 *   mklegofs --list IMG [--vnode ID]                print IMG's namespace
 *   mklegofs --cat IMG PATH [--vnode ID]            a file's content to stdout
 *
 * See docs/storage.md §6. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lego/legofs.h>

static const char *prog = "mklegofs";
static int verbose;

/* ---------------------------------------------------------------------- */
/* Image file as a block device                                            */

struct img {
	int fd;
	const char *name;
};

static int img_read_n(void *ctx, u64 blk, u32 n, void *buf)
{
	struct img *im = ctx;
	size_t len = (size_t)n * LFS_BLOCK_SIZE;
	ssize_t r = pread(im->fd, buf, len, (off_t)(blk * LFS_BLOCK_SIZE));

	if (r < 0)
		return -EIO;
	if ((size_t)r < len)
		memset((u8 *)buf + r, 0, len - (size_t)r);	/* sparse tail */
	return 0;
}

static int img_read(void *ctx, u64 blk, void *buf)
{
	return img_read_n(ctx, blk, 1, buf);
}

static int img_write_n(void *ctx, u64 blk, u32 n, const void *buf)
{
	struct img *im = ctx;
	size_t len = (size_t)n * LFS_BLOCK_SIZE;
	ssize_t r = pwrite(im->fd, buf, len, (off_t)(blk * LFS_BLOCK_SIZE));

	return r == (ssize_t)len ? 0 : -EIO;
}

static int img_write(void *ctx, u64 blk, const void *buf)
{
	return img_write_n(ctx, blk, 1, buf);
}

/* Building a fresh image needs no intermediate durability: one fsync at
 * the end. */
static int img_flush_none(void *ctx)
{
	return 0;
}

static void *h_alloc(void *ctx, size_t n)
{
	return malloc(n);
}

static void h_free(void *ctx, void *p)
{
	free(p);
}

static u64 h_now(void *ctx)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (u64)ts.tv_sec * 1000000000ULL + (u64)ts.tv_nsec;
}

static const struct lfs_env env = { .alloc = h_alloc, .free = h_free, .now = h_now };

static int open_image(const char *name, bool rw, struct img *im, struct lfs_io *io)
{
	struct stat st;

	im->name = name;
	im->fd = open(name, rw ? O_RDWR : O_RDONLY);
	if (im->fd < 0 || fstat(im->fd, &st)) {
		fprintf(stderr, "%s: %s: %s\n", prog, name, strerror(errno));
		return -1;
	}
	*io = (struct lfs_io){ .read = img_read, .write = img_write, .flush = img_flush_none,
			       .read_n = img_read_n, .write_n = img_write_n, .ctx = im,
			       .nblocks = (u64)st.st_size / LFS_BLOCK_SIZE };
	return 0;
}

static struct lfs_fs *mount_image(const char *name, struct img *im, struct lfs_io *io, bool rw)
{
	struct lfs_mount_opts o = { .flags = rw ? 0 : LFS_MOUNT_RDONLY, .cache_blocks = 4096 };
	struct lfs_fs *fs;
	const char *msg;
	int r;

	if (open_image(name, rw, im, io))
		return NULL;
	r = lfs_mount(&fs, io, &env, &o, &msg);
	if (r) {
		fprintf(stderr, "%s: %s: refused: %s\n", prog, name, msg);
		close(im->fd);
		return NULL;
	}
	return fs;
}

static const char *err(int r)
{
	return strerror(-r);
}

/* ---------------------------------------------------------------------- */
/* Build                                                                   */

struct tally {
	u64 files, dirs, links, skipped, bytes, blocks, entries;
};

static int scan_cmp(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int list_dir(const char *dir, struct dirent ***out)
{
	int n = scandir(dir, out, NULL, scan_cmp);

	if (n < 0)
		fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
	return n;
}

static bool skip_name(const char *n)
{
	return !strcmp(n, ".") || !strcmp(n, "..");
}

/* Pre-pass: how much does the tree need? */
static int measure(const char *host, struct tally *t)
{
	struct dirent **ents;
	int n = list_dir(host, &ents);

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char hp[PATH_MAX];
		struct stat st;
		if (skip_name(ents[i]->d_name))
			goto next;
		snprintf(hp, sizeof(hp), "%s/%s", host, ents[i]->d_name);
		if (lstat(hp, &st))
			goto next;
		t->entries++;
		if (S_ISREG(st.st_mode))
			t->blocks += DIV_ROUND_UP((u64)st.st_size, LFS_BLOCK_SIZE);
		else if (S_ISLNK(st.st_mode))
			t->blocks++;
		else if (S_ISDIR(st.st_mode) && measure(hp, t))
			return -1;
next:
		free(ents[i]);
	}
	free(ents);
	return 0;
}

static int set_attrs(struct lfs_fs *fs, const char *path, const struct stat *st, bool mode)
{
	struct lfs_attr a = { .mask = LFS_ATTR_UID | LFS_ATTR_GID | LFS_ATTR_MTIME,
			      .uid = st->st_uid, .gid = st->st_gid,
			      .mtime = (u64)st->st_mtim.tv_sec * 1000000000ULL +
				       (u64)st->st_mtim.tv_nsec };

	if (mode) {
		a.mask |= LFS_ATTR_MODE;
		a.mode = st->st_mode & 07777;
	}
	int r = lfs_setattr(fs, 0, path, &a);
	if (r)
		fprintf(stderr, "%s: %s: setattr: %s\n", prog, path, err(r));
	return r;
}

static u8 *copybuf;
#define COPY_CHUNK (4u << 20)

static int copy_file(struct lfs_fs *fs, const char *host, const char *path, const struct stat *st,
		     struct tally *t)
{
	int fd = open(host, O_RDONLY);
	u64 off = 0;
	int r;

	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, host, strerror(errno));
		return -1;
	}
	r = lfs_create(fs, 0, path, st->st_mode & 07777, LFS_O_EXCL);
	while (!r) {
		ssize_t n = read(fd, copybuf, COPY_CHUNK);
		if (n < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, host, strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		/* Leave holes for whole zero blocks (sparse source files). */
		for (ssize_t done = 0; done < n;) {
			ssize_t piece = MIN((ssize_t)LFS_BLOCK_SIZE, n - done);
			bool zero = true;
			for (ssize_t k = 0; k < piece && zero; k++)
				zero = !copybuf[done + k];
			ssize_t run = piece;
			if (!zero) {
				while (done + run < n) {
					ssize_t p2 = MIN((ssize_t)LFS_BLOCK_SIZE, n - done - run);
					bool z2 = true;
					for (ssize_t k = 0; k < p2 && z2; k++)
						z2 = !copybuf[done + run + k];
					if (z2)
						break;
					run += p2;
				}
				s64 w = lfs_write(fs, 0, path, off + (u64)done, copybuf + done, (u64)run);
				if (w != run) {
					r = w < 0 ? (int)w : -ENOSPC;
					break;
				}
			}
			done += run;
		}
		off += (u64)n;
	}
	close(fd);
	if (!r && off)
		r = lfs_truncate(fs, 0, path, off);	/* a trailing hole */
	if (r) {
		fprintf(stderr, "%s: %s: %s%s\n", prog, path, err(r),
			r == -ENOSPC ? " (the image is full: use a larger --size)" : "");
		return -1;
	}
	t->files++;
	t->bytes += off;
	return set_attrs(fs, path, st, false) ? -1 : 0;
}

static int add_tree(struct lfs_fs *fs, const char *host, const char *path, struct tally *t,
		    bool all_root)
{
	struct dirent **ents;
	int n = list_dir(host, &ents), rc = 0;
	size_t pl = strlen(path);

	if (n < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		char hp[PATH_MAX], lp[LFS_PATH_MAX + 260];
		struct stat st;
		const char *name = ents[i]->d_name;
		int r;
		if (rc || skip_name(name))
			goto next;
		snprintf(hp, sizeof(hp), "%s/%s", host, name);
		snprintf(lp, sizeof(lp), "%s/%s", pl == 1 ? "" : path, name);
		if (strlen(lp) >= LFS_PATH_MAX || strlen(name) > LFS_NAME_MAX) {
			fprintf(stderr, "%s: %s: path too long for LegoFS (max %d bytes, %d per name)\n",
				prog, hp, LFS_PATH_MAX - 1, LFS_NAME_MAX);
			rc = -1;
			goto next;
		}
		if (lstat(hp, &st)) {
			fprintf(stderr, "%s: %s: %s\n", prog, hp, strerror(errno));
			rc = -1;
			goto next;
		}
		if (all_root)
			st.st_uid = st.st_gid = 0;
		if (verbose)
			printf("%s\n", lp);
		if (S_ISDIR(st.st_mode)) {
			r = lfs_mkdir(fs, 0, lp, st.st_mode & 07777);
			if (r) {
				fprintf(stderr, "%s: %s: %s\n", prog, lp, err(r));
				rc = -1;
				goto next;
			}
			t->dirs++;
			rc = add_tree(fs, hp, lp, t, all_root);
			/* attributes after the children (they change the mtime) */
			if (!rc)
				rc = set_attrs(fs, lp, &st, true) ? -1 : 0;
		} else if (S_ISREG(st.st_mode)) {
			rc = copy_file(fs, hp, lp, &st, t);
		} else if (S_ISLNK(st.st_mode)) {
			char target[LFS_PATH_MAX + 1];
			ssize_t k = readlink(hp, target, sizeof(target));
			if (k < 0 || k >= LFS_PATH_MAX) {
				fprintf(stderr, "%s: %s: %s\n", prog, hp,
					k < 0 ? strerror(errno) : "symlink target too long");
				rc = -1;
				goto next;
			}
			target[k] = 0;
			r = lfs_symlink(fs, 0, target, lp);
			if (r) {
				fprintf(stderr, "%s: %s: %s\n", prog, lp, err(r));
				rc = -1;
				goto next;
			}
			t->links++;
			rc = set_attrs(fs, lp, &st, false) ? -1 : 0;
		} else {
			fprintf(stderr, "%s: %s: skipped (not a file, directory or symlink)\n", prog, hp);
			t->skipped++;
		}
next:
		free(ents[i]);
	}
	free(ents);
	return rc;
}

static int parse_size(const char *s, u64 *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end || !v)
		return -1;
	*out = v;
	return 0;
}

static void random_uuid(u8 *u)
{
	int fd = open("/dev/urandom", O_RDONLY);
	u64 t = h_now(NULL) ^ ((u64)getpid() << 32);

	memcpy(u, &t, 8);
	memcpy(u + 8, &t, 8);
	if (fd >= 0) {
		if (read(fd, u, 16) != 16)
			memcpy(u, &t, 8);
		close(fd);
	}
}

static int build(const char *out, const char *src, u64 size, bool size_given, u32 ninodes,
		 u32 vnodes, u64 journal, const char *label, bool all_root)
{
	struct tally t = { 0 }, need = { 0 };
	struct stat st;
	struct img im = { .name = out };
	struct lfs_io io;
	struct lfs_fs *fs;
	const char *msg;
	int r;

	if (stat(src, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: %s: not a directory\n", prog, src);
		return 1;
	}
	if (measure(src, &need))
		return 1;
	/* Data, one block per entry for its namespace and tree share, 1/8
	 * spare, plus metadata: 16 MiB covers journal and tables. */
	u64 want = (need.blocks + need.entries + (need.blocks + need.entries) / 8) * LFS_BLOCK_SIZE +
		   (16u << 20);
	if (!size_given && want > size) {
		size = ALIGN_UP(want, 1u << 20);
		printf("%s: %s needs about %llu MiB: image size %llu MiB\n", prog, src,
		       (unsigned long long)(want >> 20), (unsigned long long)(size >> 20));
	}
	size -= size % LFS_BLOCK_SIZE;
	if (!ninodes && need.entries + 64 > (size / LFS_BLOCK_SIZE) / 4)
		ninodes = (u32)MIN((u64)LFS_MAX_INODES, need.entries * 2 + 64);
	im.fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (im.fd < 0 || ftruncate(im.fd, (off_t)size)) {
		fprintf(stderr, "%s: %s: %s\n", prog, out, strerror(errno));
		return 1;
	}
	io = (struct lfs_io){ .read = img_read, .write = img_write, .flush = img_flush_none,
			      .read_n = img_read_n, .write_n = img_write_n, .ctx = &im,
			      .nblocks = size / LFS_BLOCK_SIZE };
	struct lfs_format_params p = { .ninodes = ninodes, .max_vnodes = vnodes,
				       .journal_blocks = (u32)(journal / LFS_BLOCK_SIZE),
				       .mtime = h_now(NULL) };
	random_uuid(p.uuid);
	strncpy(p.label, label, sizeof(p.label) - 1);
	r = lfs_format(&io, &env, &p, &msg);
	if (r) {
		fprintf(stderr, "%s: %s: format: %s\n", prog, out, msg);
		goto fail_nofs;
	}
	struct lfs_mount_opts o = { .cache_blocks = 4096 };
	r = lfs_mount(&fs, &io, &env, &o, &msg);
	if (r) {
		fprintf(stderr, "%s: %s: mount after format: %s\n", prog, out, msg);
		goto fail_nofs;
	}
	copybuf = malloc(COPY_CHUNK);
	if (all_root)
		st.st_uid = st.st_gid = 0;
	r = add_tree(fs, src, "/", &t, all_root);
	if (!r)
		r = set_attrs(fs, "/", &st, true);
	free(copybuf);
	if (!r && (r = lfs_sync(fs)))
		fprintf(stderr, "%s: %s: commit: %s\n", prog, out, err(r));
	if (!r && (r = lfs_check(fs, NULL)))
		fprintf(stderr, "%s: %s: check after build: %s\n", prog, out, lfs_errmsg(fs));
	struct lfs_statfs sf;
	lfs_statfs(fs, &sf);
	int u = lfs_unmount(fs);
	if (!r)
		r = u;
	if (r)
		goto fail_nofs;
	if (fsync(im.fd) || close(im.fd)) {
		fprintf(stderr, "%s: %s: %s\n", prog, out, strerror(errno));
		unlink(out);
		return 1;
	}
	printf("%s: %s: %llu files (%llu MiB), %llu directories, %llu symlinks%s; "
	       "%llu of %llu MiB free\n", prog, out, (unsigned long long)t.files,
	       (unsigned long long)(t.bytes >> 20), (unsigned long long)t.dirs,
	       (unsigned long long)t.links, t.skipped ? ", some skipped" : "",
	       (unsigned long long)(sf.free_bytes >> 20), (unsigned long long)(sf.total_bytes >> 20));
	return 0;
fail_nofs:
	close(im.fd);
	unlink(out);
	return 1;
}

/* ---------------------------------------------------------------------- */
/* Check and list                                                          */

static int check(const char *name)
{
	struct img im;
	struct lfs_io io;
	struct lfs_fs *fs = mount_image(name, &im, &io, false);
	struct lfs_check_stats cs;
	struct lfs_statfs sf;

	if (!fs)
		return 1;
	int r = lfs_check(fs, &cs);
	if (r) {
		fprintf(stderr, "%s: %s: corrupt: %s\n", prog, name,
			r == -EUCLEAN ? lfs_errmsg(fs) : err(r));
	} else {
		lfs_statfs(fs, &sf);
		printf("%s: ok: %u vnodes, %llu entries, %u inodes, %llu data blocks, "
		       "%llu metadata blocks, %llu of %llu MiB free\n", name, cs.vnodes,
		       (unsigned long long)cs.entries, cs.inodes,
		       (unsigned long long)cs.data_blocks, (unsigned long long)cs.meta_blocks,
		       (unsigned long long)(sf.free_bytes >> 20),
		       (unsigned long long)(sf.total_bytes >> 20));
	}
	lfs_unmount(fs);
	close(im.fd);
	return r ? 1 : 0;
}

static void mode_string(u32 m, char *s)
{
	const char *rwx = "rwxrwxrwx";

	s[0] = LFS_S_ISDIR(m) ? 'd' : LFS_S_ISLNK(m) ? 'l' : '-';
	for (int i = 0; i < 9; i++)
		s[i + 1] = (m & (0400 >> i)) ? rwx[i] : '-';
	if (m & 04000)
		s[3] = (m & 0100) ? 's' : 'S';
	if (m & 02000)
		s[6] = (m & 010) ? 's' : 'S';
	if (m & 01000)
		s[9] = (m & 01) ? 't' : 'T';
	s[10] = 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct lfs_dirent *)a)->name, ((const struct lfs_dirent *)b)->name);
}

static int list_path(struct lfs_fs *fs, u32 vn, const char *path)
{
	struct lfs_stat st;
	char ms[12], tbuf[32];
	int r = lfs_stat(fs, vn, path, &st);

	if (r) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, err(r));
		return 1;
	}
	time_t sec = (time_t)(st.mtime / 1000000000ULL);
	struct tm tm;
	gmtime_r(&sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S", &tm);
	mode_string(st.mode, ms);
	printf("%s %5u %5u %12llu %s %s", ms, st.uid, st.gid, (unsigned long long)st.size, tbuf,
	       path);
	if (LFS_S_ISLNK(st.mode)) {
		char target[LFS_PATH_MAX];
		s64 n = lfs_readlink(fs, vn, path, target, sizeof(target));
		printf(" -> %s", n >= 0 ? target : "?");
	}
	printf("\n");
	if (!LFS_S_ISDIR(st.mode))
		return 0;
	/* children, sorted by name */
	size_t cap = 64, n = 0;
	struct lfs_dirent *all = malloc(cap * sizeof(*all)), page[64];
	u64 cookie = 0;
	int k;
	while ((k = lfs_readdir(fs, vn, path, cookie, page, 64, &cookie)) > 0) {
		if (n + (size_t)k > cap) {
			cap = (n + (size_t)k) * 2;
			all = realloc(all, cap * sizeof(*all));
		}
		memcpy(all + n, page, (size_t)k * sizeof(*page));
		n += (size_t)k;
	}
	int rc = k < 0;
	if (k < 0)
		fprintf(stderr, "%s: %s: readdir: %s\n", prog, path, err(k));
	qsort(all, n, sizeof(*all), name_cmp);
	for (size_t i = 0; i < n; i++) {
		char child[LFS_PATH_MAX + 260];
		snprintf(child, sizeof(child), "%s/%s", strcmp(path, "/") ? path : "", all[i].name);
		rc |= list_path(fs, vn, child);
	}
	free(all);
	return rc;
}

static int list(const char *name, long vnode)
{
	struct img im;
	struct lfs_io io;
	struct lfs_fs *fs = mount_image(name, &im, &io, false);
	u32 ids[64];
	int rc = 0;

	if (!fs)
		return 1;
	int nv = lfs_vnode_list(fs, ids, 64);
	printf("# %s: vnodes:", name);
	for (int i = 0; i < nv && i < 64; i++)
		printf(" %u", ids[i]);
	printf("%s\n", nv > 64 ? " ..." : "");
	for (int i = 0; i < nv && i < 64; i++) {
		if (vnode >= 0 && ids[i] != (u32)vnode)
			continue;
		printf("# vnode %u\n", ids[i]);
		rc |= list_path(fs, ids[i], "/");
	}
	if (vnode >= 0 && !lfs_vnode_exists(fs, (u32)vnode)) {
		fprintf(stderr, "%s: %s: no vnode %ld\n", prog, name, vnode);
		rc = 1;
	}
	lfs_unmount(fs);
	close(im.fd);
	return rc;
}

static int cat(const char *name, const char *path, long vnode)
{
	struct img im;
	struct lfs_io io;
	struct lfs_fs *fs = mount_image(name, &im, &io, false);
	u32 vn = vnode < 0 ? 0 : (u32)vnode;
	u64 off = 0;
	int rc = 0;

	if (!fs)
		return 1;
	u8 *buf = malloc(COPY_CHUNK);
	for (;;) {
		s64 n = lfs_read(fs, vn, path, off, buf, COPY_CHUNK);
		if (n < 0) {
			fprintf(stderr, "%s: %s: %s: %s\n", prog, name, path, err((int)n));
			rc = 1;
			break;
		}
		if (n == 0)
			break;
		if (fwrite(buf, 1, (size_t)n, stdout) != (size_t)n) {
			rc = 1;
			break;
		}
		off += (u64)n;
	}
	free(buf);
	lfs_unmount(fs);
	close(im.fd);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [options] OUT.img SRC_DIR   build an image of SRC_DIR (vNode 0)\n"
		"       %s --check IMG                 verify an image\n"
		"       %s --list IMG [--vnode ID]     print an image's namespaces\n"
		"       %s --cat IMG PATH [--vnode ID] write a file's content to stdout\n"
		"options:\n"
		"  --size N[KMG]     image size (default 256M, more if SRC_DIR needs it)\n"
		"  --inodes N        inode table size (default: one per 16 KiB)\n"
		"  --vnodes N        vNode table slots (default 256)\n"
		"  --journal N[KMG]  journal size (default 1/32 of the image, 256K..32M)\n"
		"  --label TEXT      image label\n"
		"  --all-root        files owned by uid/gid 0 regardless of SRC_DIR\n"
		"  -v, --verbose     print each path as it is added\n",
		prog, prog, prog, prog);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "size", required_argument, 0, 's' },
		{ "inodes", required_argument, 0, 'i' },
		{ "vnodes", required_argument, 0, 'n' },
		{ "journal", required_argument, 0, 'j' },
		{ "label", required_argument, 0, 'L' },
		{ "check", no_argument, 0, 'c' },
		{ "list", no_argument, 0, 'l' },
		{ "cat", no_argument, 0, 'C' },
		{ "vnode", required_argument, 0, 'V' },
		{ "all-root", no_argument, 0, 'r' },
		{ "verbose", no_argument, 0, 'v' },
		{ "help", no_argument, 0, 'h' },
		{ 0, 0, 0, 0 },
	};
	u64 size = 256u << 20, journal = 0, x;
	bool size_given = false, all_root = false;
	u32 ninodes = 0, vnodes = 0;
	int mode = 0, c;
	long vnode = -1;
	const char *label = "legoos";

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_size(optarg, &size) || size < LFS_MIN_BLOCKS * LFS_BLOCK_SIZE) {
				fprintf(stderr, "%s: bad --size %s\n", prog, optarg);
				return 2;
			}
			size_given = true;
			break;
		case 'i':
		case 'n':
			if (parse_size(optarg, &x) || x > 0xffffffffULL) {
				fprintf(stderr, "%s: bad number %s\n", prog, optarg);
				return 2;
			}
			if (c == 'i')
				ninodes = (u32)x;
			else
				vnodes = (u32)x;
			break;
		case 'j':
			if (parse_size(optarg, &journal)) {
				fprintf(stderr, "%s: bad --journal %s\n", prog, optarg);
				return 2;
			}
			break;
		case 'L':
			label = optarg;
			break;
		case 'c':
		case 'l':
		case 'C':
			mode = c;
			break;
		case 'V':
			vnode = strtol(optarg, NULL, 0);
			break;
		case 'r':
			all_root = true;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (mode == 'C' && optind + 2 == argc)
		return cat(argv[optind], argv[optind + 1], vnode);
	if (mode && mode != 'C' && optind + 1 == argc)
		return mode == 'c' ? check(argv[optind]) : list(argv[optind], vnode);
	if (!mode && optind + 2 == argc)
		return build(argv[optind], argv[optind + 1], size, size_given, ninodes, vnodes,
			     journal, label, all_root);
	usage(stderr);
	return 2;
}
