/* The storage monitor's store: LegoFS mounted on the first block device,
 * the mutex that serialises every LegoFS call, the store's health (OK,
 * read-only after a fault, or not mounted and why), the background thread
 * that commits changes, and the figures the global storage manager sees.
 *
 * Health is decided once at mount and can only get worse afterwards: a
 * fault found while serving (device error, checksum failure) makes LegoFS
 * read-only for good, and the node keeps serving reads and STATFS. */
#include <lego/blkdev.h>
#include <lego/errno.h>
#include <lego/gm_client.h>
#include <lego/mm.h>
#include <lego/mutex.h>
#include <lego/printk.h>
#include <lego/sched.h>
#include <lego/string.h>
#include <lego/time.h>
#include <uapi/lego/gm.h>
#include <asm/io.h>
#include <lego/st_proto.h>
#include <lego/wallclock.h>
#include "storage.h"

/* Set by store_init before any other thread looks at the store, then
 * read-only: bd, io, env, dev_ro, uuid, label, msg.
 * lock protects every use of fs (and fs itself, which is set at mount and
 * never changes after), dirty and ro_reported.
 * load_total/load_free are written under lock and read without it by the
 * load poll (aligned u64 stores and loads are atomic on x86-64; a stale
 * value only makes one load report stale). */
static struct store {
	struct blkdev *bd;		/* NULL: no block device */
	struct lfs_io io;
	struct lfs_env env;
	bool dev_ro;			/* the device refuses writes: mounted read-only */
	u8 uuid[16];
	char label[32];			/* the superblock's, NUL padded (maybe no NUL) */
	char msg[LEGO_ST_MSG_LEN];	/* why not mounted */

	struct mutex lock;
	struct lfs_fs *fs;		/* NULL: not mounted (msg says why) */
	bool dirty;			/* changes since the last commit */
	bool ro_reported;		/* the switch to read-only was printed */
	u64 load_total, load_free;
} st = { .lock = MUTEX_INIT(st.lock) };

/* LegoFS stamps mtimes with the wall clock (drivers/cmos_rtc.c). */
static u64 store_now(void *ctx)
{
	return wallclock_ns();
}

/* ---- LegoFS environment over the block layer ----
 * No LFS_IO_BOUNCE: LegoFS hands the callbacks either env->alloc buffers
 * (kmalloc) or, for whole aligned blocks of lfs_read/lfs_write, the
 * caller's buffer; service.c only ever passes RPC request and reply
 * buffers, which net/rpc.c gets from kmalloc. kmalloc memory is physically
 * contiguous direct-map memory, which the block layer can DMA into, so
 * reads land straight in the reply. Never pass a stack buffer to
 * lfs_read/lfs_write (blkdev_submit would refuse it with -EFAULT). */

#define SECTORS_PER_BLOCK (LFS_BLOCK_SIZE / BLKDEV_SECTOR_SIZE)

static int io_read_n(void *ctx, u64 blk, u32 n, void *buf)
{
	struct blkdev *bd = ctx;
	if (n > UINT32_MAX / SECTORS_PER_BLOCK)
		return -EINVAL;
	return blkdev_read(bd, blk * SECTORS_PER_BLOCK, n * SECTORS_PER_BLOCK, buf);
}

static int io_write_n(void *ctx, u64 blk, u32 n, const void *buf)
{
	struct blkdev *bd = ctx;
	if (n > UINT32_MAX / SECTORS_PER_BLOCK)
		return -EINVAL;
	return blkdev_write(bd, blk * SECTORS_PER_BLOCK, n * SECTORS_PER_BLOCK, buf);
}

static int io_read(void *ctx, u64 blk, void *buf)
{
	return io_read_n(ctx, blk, 1, buf);
}

static int io_write(void *ctx, u64 blk, const void *buf)
{
	return io_write_n(ctx, blk, 1, buf);
}

static int io_flush(void *ctx)
{
	return blkdev_flush(ctx);
}

static void *env_alloc(void *ctx, size_t size)
{
	return kmalloc(size);
}

static void env_free(void *ctx, void *p)
{
	kfree(p);
}

/* ---- mount ---- */

static const char *errno_text(int e)
{
	switch (-e) {
	case EIO: return "I/O error";
	case ENOMEM: return "out of memory";
	case EINVAL: return "invalid image";
	case EUCLEAN: return "corrupt image";
	default: return "error";
	}
}

/* Label and uuid for STATFS: LegoFS keeps them in the superblock, which
 * mount has just validated; read it again rather than reach into
 * LegoFS's internals. */
static void read_identity(void)
{
	u8 *blk = kmalloc(LFS_BLOCK_SIZE);
	if (blk && !io_read(st.bd, 0, blk)) {
		const struct lfs_super *sb = (const void *)blk;
		memcpy(st.uuid, sb->uuid, sizeof(st.uuid));
		memcpy(st.label, sb->label, sizeof(st.label));
	}
	kfree(blk);
}

/* Refresh the cached load figures; lock held. A store that cannot take new
 * data (read-only, not mounted) reports no free space, so that no policy
 * puts anything on it. */
static void refresh_load_locked(void)
{
	struct lfs_statfs s;
	if (st.fs && !lfs_statfs(st.fs, &s)) {
		WRITE_ONCE(st.load_total, s.total_bytes);
		WRITE_ONCE(st.load_free, lfs_is_readonly(st.fs) ? 0 : s.free_bytes);
	}
}

void store_init(void)
{
	const char *why = NULL;
	int r;

	st.bd = blkdev_get(0);
	if (!st.bd) {
		strlcpy(st.msg, "no block device", sizeof(st.msg));
		pr_err("storage: no block device; serving no files\n");
		return;
	}
	st.dev_ro = blkdev_read_only(st.bd);
	st.io = (struct lfs_io){
		.read = io_read, .write = io_write, .flush = io_flush,
		.read_n = io_read_n, .write_n = io_write_n,
		.ctx = st.bd, .nblocks = blkdev_bytes(st.bd) / LFS_BLOCK_SIZE, .flags = 0,
	};
	st.env = (struct lfs_env){ .alloc = env_alloc, .free = env_free, .now = store_now };
	struct lfs_mount_opts opts = {
		.flags = st.dev_ro ? LFS_MOUNT_RDONLY : 0,
		.cache_blocks = CONFIG_STORAGE_CACHE_BLOCKS,
	};
	struct lfs_fs *fs = NULL;
	r = lfs_mount(&fs, &st.io, &st.env, &opts, &why);
	if (r) {
		if (!why || !why[0])
			why = errno_text(r);
		snprintf(st.msg, sizeof(st.msg), "%s: %s", st.bd->name, why);
		pr_err("storage: cannot mount %s: %s\n", st.bd->name, why);
		return;
	}
	read_identity();
	/* Keeps destructive self-tests (lego.test=selftest) off a live store. */
	blkdev_claim(st.bd, "LegoFS");

	struct lfs_statfs s;
	mutex_lock(&st.lock);
	st.fs = fs;
	r = lfs_statfs(fs, &s);
	refresh_load_locked();
	mutex_unlock(&st.lock);
	char label[sizeof(st.label) + 1];
	memcpy(label, st.label, sizeof(st.label));
	label[sizeof(st.label)] = '\0';
	if (r)
		pr_err("storage: mounted %s, but cannot read its figures (%d): %s\n", st.bd->name, r,
		       lfs_errmsg(fs));
	else
		printk(KERN_INFO "storage: mounted %s: %s %lu MiB, %lu MiB free, %u vNodes%s\n",
		       st.bd->name, label[0] ? label : "(no label)",
		       (unsigned long)(s.total_bytes >> 20), (unsigned long)(s.free_bytes >> 20),
		       s.nvnodes, st.dev_ro ? " (read-only device)" : "");
}

/* ---- serialisation and health ---- */

struct lfs_fs *store_begin(void)
{
	mutex_lock(&st.lock);
	return st.fs;
}

/* lock held */
static void check_readonly_locked(void)
{
	if (!st.fs || st.ro_reported || st.dev_ro || !lfs_is_readonly(st.fs))
		return;
	st.ro_reported = true;
	pr_err("storage: %s: the store is read-only from now on: %s\n", st.bd->name,
	       lfs_errmsg(st.fs)[0] ? lfs_errmsg(st.fs) : "fault");
	refresh_load_locked();
	/* Tell GSM: the node is now unhealthy (store_reg_flags). */
	gm_client_refresh();
}

void store_end(bool changed)
{
	if (st.fs) {
		if (changed)
			st.dirty = true;
		check_readonly_locked();
	}
	mutex_unlock(&st.lock);
}

void store_committed(void)
{
	st.dirty = false;
}

/* ---- background commits ---- */

static int sync_thread(void *arg)
{
	current->activity = "storage sync";
	for (;;) {
		msleep(CONFIG_STORAGE_SYNC_MS);
		mutex_lock(&st.lock);
		if (st.fs && st.dirty && !lfs_is_readonly(st.fs)) {
			int r = lfs_sync(st.fs);
			if (!r)
				st.dirty = false;
			else
				pr_err("storage: %s: commit failed (%d)\n", st.bd->name, r);
			check_readonly_locked();
		}
		refresh_load_locked();
		mutex_unlock(&st.lock);
	}
	return 0;
}

void store_start_sync(void)
{
	if (!st.fs || st.dev_ro)
		return;	/* nothing will ever need committing */
	struct thread *t = thread_create(sync_thread, NULL, THREAD_CPU_ANY, "storage-sync");
	if (t)
		thread_detach(t);
	else
		pr_err("storage: cannot start the sync thread; changes are committed only by "
		       "FSYNC and when a transaction fills\n");
}

/* ---- reports ---- */

/* lock held */
static u32 state_locked(void)
{
	if (!st.fs)
		return LEGO_ST_STATE_UNMOUNTED;
	return lfs_is_readonly(st.fs) ? LEGO_ST_STATE_READONLY : LEGO_ST_STATE_OK;
}

void store_statfs(struct lego_st_statfs *out)
{
	char msg[LEGO_ST_MSG_LEN];
	struct lfs_statfs s;
	bool have = false;

	mutex_lock(&st.lock);
	u32 state = state_locked();
	if (st.fs) {
		int r = lfs_statfs(st.fs, &s);
		have = r == 0;
		check_readonly_locked();
		state = state_locked();
	}
	if (state == LEGO_ST_STATE_UNMOUNTED)
		strlcpy(msg, st.msg, sizeof(msg));
	else if (state == LEGO_ST_STATE_READONLY && lfs_errmsg(st.fs)[0])
		strlcpy(msg, lfs_errmsg(st.fs), sizeof(msg));
	else if (state == LEGO_ST_STATE_READONLY)
		snprintf(msg, sizeof(msg), "%s is a read-only device", st.bd->name);
	else
		msg[0] = '\0';
	mutex_unlock(&st.lock);
	st_statfs_encode(out, state, have ? &s : NULL, st.fs ? st.uuid : NULL,
			 st.fs ? st.label : NULL, msg);
}

u16 store_reg_flags(void)
{
	mutex_lock(&st.lock);
	u32 state = state_locked();
	mutex_unlock(&st.lock);
	/* A read-only or missing store cannot take a new vNode's files. */
	return state == LEGO_ST_STATE_OK ? 0 : LEGO_GM_REG_UNHEALTHY;
}

u64 store_capacity_bytes(void)
{
	return READ_ONCE(st.load_total);
}

void store_load(u64 *total_bytes, u64 *free_bytes)
{
	/* Never wait behind a long request: a load report may be a little
	 * stale, a late one makes the manager think the node is slow. */
	if (mutex_trylock(&st.lock)) {
		refresh_load_locked();
		mutex_unlock(&st.lock);
	}
	*total_bytes = READ_ONCE(st.load_total);
	*free_bytes = READ_ONCE(st.load_free);
}
