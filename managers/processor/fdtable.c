/* Per-process fd tables and open file descriptions of the processor
 * monitor's Linux state layer (paper §4.3.3). Pure logic: the same file
 * runs in the processor monitor and in the host unit test; the API, its
 * locking and its Linux semantics are in include/lego/fdtable.h. */
#include <lego/fdtable.h>
#include <lego/errno.h>
#include <lego/path.h>
#include <lego/vpath.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

#define FD_S64_MAX ((s64)(~0ULL >> 1))

/* Smallest slot array; it doubles from there. */
#define FD_MIN_SLOTS 16u

/* Bits open(2) knows; the rest of a caller's flags are dropped, as Linux
 * drops them. */
#define FD_VALID_OPEN_FLAGS (O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | \
	O_APPEND | O_NONBLOCK | O_SYNC | O_ASYNC | O_DIRECT | O_LARGEFILE | \
	O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_PATH | O_TMPFILE)
/* Flags that only matter while opening. */
#define FD_OPEN_ONLY_FLAGS (O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_CLOEXEC)
/* What F_SETFL may change here. */
#define FD_SETFL_FLAGS (O_APPEND | O_NONBLOCK)

static void fd_lock(struct fd_file *f)
{
	if (f->ops->lock)
		f->ops->lock(f, f->ops->ctx);
}

static void fd_unlock(struct fd_file *f)
{
	if (f->ops->unlock)
		f->ops->unlock(f, f->ops->ctx);
}

static bool fd_readable(const struct fd_file *f)
{
	u32 acc = f->mode & O_ACCMODE;

	return !(f->mode & O_PATH) && (acc == O_RDONLY || acc == O_RDWR);
}

static bool fd_writable(const struct fd_file *f)
{
	u32 acc = f->mode & O_ACCMODE;

	return !(f->mode & O_PATH) && (acc == O_WRONLY || acc == O_RDWR);
}

static bool fd_storage_backed(enum fd_kind kind)
{
	return kind == FD_KIND_REG || kind == FD_KIND_DIR;
}

/* ---- open(2) flag handling ---- */

int fd_open_check(u32 oflags)
{
	if ((oflags & O_TMPFILE) == O_TMPFILE)
		return -EOPNOTSUPP;
	if ((oflags & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY))
		return -EINVAL;
	return 0;
}

u32 fd_open_status_flags(u32 oflags, enum fd_kind kind)
{
	oflags &= FD_VALID_OPEN_FLAGS;
	if (oflags & O_PATH)
		return oflags & (O_PATH | O_DIRECTORY | O_NOFOLLOW);
	oflags &= ~FD_OPEN_ONLY_FLAGS;
	/* open(2) on x86-64 forces O_LARGEFILE; pipe(2) does not. */
	if (kind != FD_KIND_PIPE)
		oflags |= O_LARGEFILE;
	return oflags;
}

u32 fd_open_create_flags(u32 oflags)
{
	u32 st = 0;

	if (oflags & O_EXCL)
		st |= LEGO_ST_O_EXCL;
	if (oflags & O_TRUNC)
		st |= LEGO_ST_O_TRUNC;
	return st;
}

/* ---- descriptions ---- */

int fd_file_new(const struct fd_ops *ops, enum fd_kind kind, const char *path,
		size_t path_len, u32 flags, void *obj, struct fd_file **out)
{
	struct fd_file *f;
	int r;

	*out = NULL;
	if (kind < FD_KIND_REG || kind > FD_KIND_CONSOLE)
		return -EINVAL;
	if (fd_storage_backed(kind)) {
		r = lego_path_check(path, path_len);
		if (r)
			return r;
	} else if (path_len >= LEGO_ST_PATH_MAX) {
		return -ENAMETOOLONG;
	}

	f = ops->alloc(sizeof(*f), ops->ctx);
	if (!f)
		return -ENOMEM;
	memset(f, 0, sizeof(*f));
	f->path = ops->alloc(path_len + 1, ops->ctx);
	if (!f->path) {
		ops->free(f, ops->ctx);
		return -ENOMEM;
	}
	if (path_len)
		memcpy(f->path, path, path_len);
	f->path[path_len] = '\0';
	f->path_len = (u16)path_len;
	f->ops = ops;
	f->kind = kind;
	f->obj = obj;
	f->flags = fd_open_status_flags(flags, kind);
	f->mode = f->flags & (O_ACCMODE | O_PATH);
	f->refs = 1;
	*out = f;
	return 0;
}

void fd_file_get(struct fd_file *f)
{
	__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
}

void fd_file_put(struct fd_file *f)
{
	const struct fd_ops *ops = f->ops;

	/* Release orders this holder's last use before the freeing below. */
	if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	if (ops->release)
		ops->release(f, ops->ctx);
	ops->free(f->path, ops->ctx);
	ops->free(f, ops->ctx);
}

long fd_file_refs(const struct fd_file *f)
{
	return __atomic_load_n(&f->refs, __ATOMIC_RELAXED);
}

/* ---- the table ---- */

void fd_table_init(struct fd_table *t, const struct fd_ops *ops, u32 limit)
{
	t->ops = ops;
	t->slots = NULL;
	t->cap = 0;
	t->nopen = 0;
	t->limit = limit ? limit : LINUX_NOFILE_CUR;
	if (t->limit > LINUX_NR_OPEN)
		t->limit = LINUX_NR_OPEN;
}

/* Empty slot fd, dropping its reference. */
static void fd_slot_clear(struct fd_table *t, u32 fd)
{
	struct fd_file *f = t->slots[fd].file;

	t->slots[fd].file = NULL;
	t->slots[fd].fdflags = 0;
	t->nopen--;
	fd_file_put(f);
}

void fd_table_destroy(struct fd_table *t)
{
	for (u32 fd = 0; fd < t->cap && t->nopen; fd++)
		if (t->slots[fd].file)
			fd_slot_clear(t, fd);
	if (t->slots)
		t->ops->free(t->slots, t->ops->ctx);
	t->slots = NULL;
	t->cap = 0;
}

int fd_table_set_limit(struct fd_table *t, u32 limit)
{
	if (limit > LINUX_NR_OPEN)
		return -EPERM;
	t->limit = limit;
	return 0;
}

/* Make slot fd exist: cap > fd. Doubles, but never past what the limit
 * (or fd itself, for fds above a lowered limit) needs. */
static int fd_table_grow(struct fd_table *t, u32 fd)
{
	u32 ncap = t->cap ? t->cap : FD_MIN_SLOTS;
	struct fd_slot *ns;

	if (fd < t->cap)
		return 0;
	while (ncap <= fd)
		ncap *= 2;
	if (ncap > t->limit)
		ncap = t->limit > fd ? t->limit : fd + 1;
	ns = t->ops->alloc(ncap * sizeof(*ns), t->ops->ctx);
	if (!ns)
		return -ENOMEM;
	if (t->cap)
		memcpy(ns, t->slots, t->cap * sizeof(*ns));
	memset(ns + t->cap, 0, (ncap - t->cap) * sizeof(*ns));
	if (t->slots)
		t->ops->free(t->slots, t->ops->ctx);
	t->slots = ns;
	t->cap = ncap;
	return 0;
}

static void fd_slot_set(struct fd_table *t, u32 fd, struct fd_file *f, u32 fdflags)
{
	fd_file_get(f);
	t->slots[fd].file = f;
	t->slots[fd].fdflags = fdflags & FD_CLOEXEC;
	t->nopen++;
}

int fd_table_install(struct fd_table *t, struct fd_file *f, int minfd, u32 fdflags)
{
	u32 fd;
	int r;

	if (minfd < 0 || (u32)minfd >= t->limit)
		return -EINVAL;
	for (fd = (u32)minfd; fd < t->cap && fd < t->limit; fd++)
		if (!t->slots[fd].file)
			break;
	if (fd >= t->limit)
		return -EMFILE;
	r = fd_table_grow(t, fd);
	if (r)
		return r;
	fd_slot_set(t, fd, f, fdflags);
	return (int)fd;
}

static struct fd_file *fd_table_peek(const struct fd_table *t, int fd)
{
	if (fd < 0 || (u32)fd >= t->cap)
		return NULL;
	return t->slots[fd].file;
}

int fd_table_get(struct fd_table *t, int fd, enum fd_need need, struct fd_file **out)
{
	struct fd_file *f = fd_table_peek(t, fd);

	*out = NULL;
	if (!f)
		return -EBADF;
	switch (need) {
	case FD_NEED_ANY:
		break;
	case FD_NEED_IO:
		if (f->mode & O_PATH)
			return -EBADF;
		break;
	case FD_NEED_READ:
		if (!fd_readable(f))
			return -EBADF;
		break;
	case FD_NEED_WRITE:
		if (!fd_writable(f))
			return -EBADF;
		break;
	default:
		return -EINVAL;
	}
	fd_file_get(f);
	*out = f;
	return 0;
}

int fd_table_close(struct fd_table *t, int fd)
{
	if (!fd_table_peek(t, fd))
		return -EBADF;
	fd_slot_clear(t, (u32)fd);
	return 0;
}

int fd_table_dup(struct fd_table *t, int oldfd)
{
	struct fd_file *f = fd_table_peek(t, oldfd);
	int r;

	if (!f)
		return -EBADF;
	r = fd_table_install(t, f, 0, 0);
	/* dup(2) has no minimum to be invalid: only a full table fails. */
	return r == -EINVAL ? -EMFILE : r;
}

/* dup2/dup3 once the flags are known to be valid. */
static int fd_table_dup_to(struct fd_table *t, int oldfd, int newfd, u32 fdflags)
{
	struct fd_file *f, *old;
	int r;

	if (newfd < 0 || (u32)newfd >= t->limit)
		return -EBADF;
	f = fd_table_peek(t, oldfd);
	if (!f)
		return -EBADF;
	r = fd_table_grow(t, (u32)newfd);
	if (r)
		return r;
	old = t->slots[newfd].file;
	/* Fill newfd before dropping what it held, so that newfd is never
	 * seen free (Linux's atomic replacement). */
	fd_file_get(f);
	t->slots[newfd].file = f;
	t->slots[newfd].fdflags = fdflags & FD_CLOEXEC;
	if (old)
		fd_file_put(old);
	else
		t->nopen++;
	return newfd;
}

int fd_table_dup2(struct fd_table *t, int oldfd, int newfd)
{
	if (oldfd == newfd)
		return fd_table_peek(t, oldfd) ? newfd : -EBADF;
	return fd_table_dup_to(t, oldfd, newfd, 0);
}

int fd_table_dup3(struct fd_table *t, int oldfd, int newfd, u32 flags)
{
	if (flags & ~(u32)O_CLOEXEC)
		return -EINVAL;
	if (oldfd == newfd)
		return -EINVAL;
	return fd_table_dup_to(t, oldfd, newfd, (flags & O_CLOEXEC) ? FD_CLOEXEC : 0);
}

long fd_table_fcntl(struct fd_table *t, int fd, int cmd, u64 arg)
{
	struct fd_file *f = fd_table_peek(t, fd);
	long r;

	if (!f)
		return -EBADF;
	switch (cmd) {
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		if (arg >= t->limit)
			return -EINVAL;
		return fd_table_install(t, f, (int)arg, cmd == F_DUPFD_CLOEXEC ? FD_CLOEXEC : 0);
	case F_GETFD:
		return t->slots[fd].fdflags & FD_CLOEXEC;
	case F_SETFD:
		t->slots[fd].fdflags = (u32)arg & FD_CLOEXEC;
		return 0;
	case F_GETFL:
		fd_lock(f);
		r = f->flags;
		fd_unlock(f);
		return r;
	case F_SETFL:
		if (f->mode & O_PATH)
			return -EBADF;
		fd_lock(f);
		f->flags = (f->flags & ~(u32)FD_SETFL_FLAGS) | ((u32)arg & FD_SETFL_FLAGS);
		fd_unlock(f);
		return 0;
	default:
		return -EINVAL;
	}
}

void fd_table_cloexec(struct fd_table *t)
{
	for (u32 fd = 0; fd < t->cap; fd++)
		if (t->slots[fd].file && (t->slots[fd].fdflags & FD_CLOEXEC))
			fd_slot_clear(t, fd);
}

int fd_table_fork(struct fd_table *dst, const struct fd_table *src)
{
	fd_table_init(dst, src->ops, src->limit);
	dst->limit = src->limit;
	if (!src->cap)
		return 0;
	dst->slots = src->ops->alloc(src->cap * sizeof(*dst->slots), src->ops->ctx);
	if (!dst->slots)
		return -ENOMEM;
	memcpy(dst->slots, src->slots, src->cap * sizeof(*dst->slots));
	dst->cap = src->cap;
	dst->nopen = src->nopen;
	for (u32 fd = 0; fd < dst->cap; fd++)
		if (dst->slots[fd].file)
			fd_file_get(dst->slots[fd].file);
	return 0;
}

/* Does f's path, read under its lock, need the rename? */
static bool fd_rename_hit(struct fd_file *f, const char *from, size_t fn)
{
	bool hit;

	if (!fd_storage_backed(f->kind))
		return false;
	fd_lock(f);
	hit = !f->stale && vpath_is_within(f->path, f->path_len, from, fn);
	fd_unlock(f);
	return hit;
}

int fd_table_rename(struct fd_table *t, const char *from, size_t fn,
		    const char *to, size_t tn)
{
	const struct fd_ops *ops = t->ops;
	u32 hits = 0, used = 0;
	char **bufs;
	int changed = 0;

	if (fn == tn && memcmp(from, to, fn) == 0)
		return 0;
	/*
	 * Allocate every new path first, so that running out of memory
	 * changes nothing; then swap them in under each description's lock.
	 * A description in several slots counts once per slot; after its
	 * first swap its path is below `to`, which a successful rename never
	 * places below `from`, so the later slots leave it alone.
	 */
	for (u32 fd = 0; fd < t->cap; fd++)
		if (t->slots[fd].file && fd_rename_hit(t->slots[fd].file, from, fn))
			hits++;
	if (!hits)
		return 0;
	bufs = ops->alloc(hits * sizeof(*bufs), ops->ctx);
	if (!bufs)
		return -ENOMEM;
	for (u32 i = 0; i < hits; i++) {
		bufs[i] = ops->alloc(LEGO_ST_PATH_MAX, ops->ctx);
		if (!bufs[i]) {
			while (i--)
				ops->free(bufs[i], ops->ctx);
			ops->free(bufs, ops->ctx);
			return -ENOMEM;
		}
	}

	for (u32 fd = 0; fd < t->cap && used < hits; fd++) {
		struct fd_file *f = t->slots[fd].file;
		int len;

		if (!f || !fd_storage_backed(f->kind))
			continue;
		fd_lock(f);
		if (f->stale || !vpath_is_within(f->path, f->path_len, from, fn)) {
			fd_unlock(f);
			continue;
		}
		len = vpath_rebase(f->path, f->path_len, from, fn, to, tn, bufs[used],
				   LEGO_ST_PATH_MAX);
		if (len < 0) {
			/* The old name is gone and the new one cannot be
			 * sent: fail its I/O rather than touch another file. */
			f->stale = true;
		} else {
			char *old = f->path;

			f->path = bufs[used];
			f->path_len = (u16)len;
			/* The slot now holds the old path, freed below. */
			bufs[used++] = old;
		}
		fd_unlock(f);
		changed++;
	}
	for (u32 i = 0; i < hits; i++)
		ops->free(bufs[i], ops->ctx);
	ops->free(bufs, ops->ctx);
	return changed;
}

/* ---- per-description operations ---- */

bool fd_lseek_needs_size(int whence)
{
	return whence == SEEK_END || whence == SEEK_DATA || whence == SEEK_HOLE;
}

static s64 fd_dir_lseek(struct fd_file *f, s64 offset, int whence)
{
	s64 pos;

	switch (whence) {
	case SEEK_SET:
		pos = offset;
		break;
	case SEEK_CUR:
		if (offset == 0)
			return f->pos;
		if (__builtin_add_overflow(f->pos, offset, &pos))
			return -EOVERFLOW;
		break;
	default:
		return -EINVAL;
	}
	if (pos < 0)
		return -EINVAL;
	f->pos = pos;
	f->dir.cookie = (u64)pos << 1;
	f->dir.dots = pos ? 2 : 0;
	f->dir.eof = false;
	return pos;
}

s64 fd_file_lseek(struct fd_file *f, s64 offset, int whence, u64 size)
{
	s64 pos, end = 0;

	if (f->kind == FD_KIND_PIPE || f->kind == FD_KIND_CONSOLE)
		return -ESPIPE;
	if (f->kind == FD_KIND_DIR)
		return fd_dir_lseek(f, offset, whence);
	if (fd_lseek_needs_size(whence)) {
		if (size > (u64)FD_S64_MAX)
			return -EOVERFLOW;
		end = (s64)size;
	}

	switch (whence) {
	case SEEK_SET:
		pos = offset;
		break;
	case SEEK_CUR:
		/* Linux answers "where am I" without any check. */
		if (offset == 0)
			return f->pos;
		if (__builtin_add_overflow(f->pos, offset, &pos))
			return -EOVERFLOW;
		break;
	case SEEK_END:
		if (__builtin_add_overflow(end, offset, &pos))
			return -EOVERFLOW;
		break;
	case SEEK_DATA:
		/* No holes: data runs from 0 to the end. */
		if (offset < 0 || offset >= end)
			return -ENXIO;
		pos = offset;
		break;
	case SEEK_HOLE:
		/* The only hole is the virtual one at the end. */
		if (offset < 0 || offset >= end)
			return -ENXIO;
		pos = end;
		break;
	default:
		return -EINVAL;
	}
	if (pos < 0 || (u64)pos > LEGO_ST_MAX_FILE_SIZE)
		return -EINVAL;
	f->pos = pos;
	return pos;
}

static void fd_fill_req(const struct fd_file *f, u32 vnode, u32 flags, u64 off, u64 len,
			struct lego_st_req *hdr, char *path_out)
{
	memset(hdr, 0, sizeof(*hdr));
	hdr->vnode = vnode;
	hdr->flags = flags;
	hdr->off = off;
	hdr->len = len;
	hdr->path_len = f->path_len;
	memcpy(path_out, f->path, f->path_len);
	path_out[f->path_len] = '\0';
}

int fd_file_io_prep(struct fd_file *f, enum fd_io_dir dir, bool positional, s64 pos,
		    u64 count, u32 vnode, struct lego_st_req *hdr, char *path_out,
		    struct fd_io *io)
{
	bool seekable = f->kind != FD_KIND_PIPE && f->kind != FD_KIND_CONSOLE;
	u64 off, room, len;

	memset(io, 0, sizeof(*io));
	/* The order of checks is Linux's: offset, seekability, access, type. */
	if (positional && pos < 0)
		return -EINVAL;
	if (positional && !seekable)
		return -ESPIPE;
	if (dir == FD_IO_READ ? !fd_readable(f) : !fd_writable(f))
		return -EBADF;
	if (f->kind == FD_KIND_DIR)
		return -EISDIR;
	if (f->kind != FD_KIND_REG)
		return -EINVAL;
	if (f->stale)
		return -ESTALE;

	io->dir = dir;
	io->positional = positional;
	off = positional ? (u64)pos : (u64)f->pos;
	len = count < LEGO_ST_IO_MAX ? count : LEGO_ST_IO_MAX;

	if (dir == FD_IO_WRITE && (f->flags & O_APPEND)) {
		/* The storage picks the offset, atomically. */
		io->op = LEGO_OP_ST_APPEND;
		io->len = len;
		if (len)
			fd_fill_req(f, vnode, 0, 0, len, hdr, path_out);
		return 0;
	}
	io->op = dir == FD_IO_READ ? LEGO_OP_ST_READ : LEGO_OP_ST_WRITE;
	io->off = off;
	if (off >= LEGO_ST_MAX_FILE_SIZE) {
		/* Nothing can be stored there: reads see EOF. */
		if (dir == FD_IO_WRITE && len)
			return -EFBIG;
		return 0;
	}
	room = LEGO_ST_MAX_FILE_SIZE - off;
	io->len = len < room ? len : room;
	if (io->len)
		fd_fill_req(f, vnode, 0, off, io->len, hdr, path_out);
	return 0;
}

s64 fd_file_io_done(struct fd_file *f, const struct fd_io *io, u64 done, u64 reply_off)
{
	if (done > io->len)
		return -EPROTO;
	if (io->op == LEGO_OP_ST_APPEND) {
		if (reply_off > LEGO_ST_MAX_FILE_SIZE || done > LEGO_ST_MAX_FILE_SIZE - reply_off)
			return -EPROTO;
		if (!io->positional)
			f->pos = (s64)(reply_off + done);
		return (s64)done;
	}
	if (!io->positional)
		f->pos = (s64)(io->off + done);
	return (s64)done;
}

int fd_file_readdir_prep(struct fd_file *f, u32 vnode, u32 max_entries,
			 struct lego_st_req *hdr, char *path_out)
{
	if (f->mode & O_PATH)
		return -EBADF;
	if (f->kind != FD_KIND_DIR)
		return -ENOTDIR;
	if (f->stale)
		return -ESTALE;
	if (f->dir.eof)
		return 1;
	if (max_entries == 0)
		max_entries = 1;
	if (max_entries > LEGO_ST_READDIR_MAX)
		max_entries = LEGO_ST_READDIR_MAX;
	fd_fill_req(f, vnode, 0, f->dir.cookie, max_entries, hdr, path_out);
	return 0;
}

u32 fd_dir_dots_pending(const struct fd_file *f)
{
	return f->dir.dots < 2 ? 2u - f->dir.dots : 0;
}

void fd_dir_dot_done(struct fd_file *f)
{
	if (f->dir.dots < 2)
		f->dir.dots++;
}

void fd_dir_advance(struct fd_file *f, u64 cookie)
{
	f->dir.cookie = cookie;
	f->dir.dots = 2;
	f->pos = (s64)(cookie >> 1);
}

void fd_dir_set_eof(struct fd_file *f)
{
	f->dir.dots = 2;
	f->dir.eof = true;
}
