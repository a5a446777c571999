/* LegoFS helpers: checksums, path hashing and validation, messages, memory.
 * Pure logic shared by the kernel and the host (see include/lego/legofs.h). */
#define LFS_INTERNAL
#include <lego/legofs.h>
#include <lego/path.h>
#include <lego/errno.h>
#ifdef __KERNEL_HOSTTEST__
#include <string.h>
#else
#include <lego/string.h>
#endif

/* CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), table driven. The
 * table is built on first use; building it twice concurrently writes the
 * same values, so no lock is needed. */
static u32 crc_table[256];
static bool crc_ready;

static void crc_init(void)
{
	for (u32 i = 0; i < 256; i++) {
		u32 c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
	crc_ready = true;
}

u32 lfs_crc32c(u32 crc, const void *buf, size_t len)
{
	const u8 *p = buf;

	if (!crc_ready)
		crc_init();
	crc = ~crc;
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

/* 64-bit FNV-1a followed by the MurmurHash3 finaliser (so that the low bits
 * the linear hash table uses are well mixed). Never 0: readdir cookies use
 * 0 for "start". */
u64 lfs_hash64(const char *s, size_t len)
{
	u64 h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (u8)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h ? h : 1;
}

/* Path syntax (see legofs.h): the wire rule, with the same limits. */
_Static_assert(LFS_PATH_MAX == LEGO_ST_PATH_MAX && LFS_NAME_MAX == LEGO_ST_NAME_MAX,
	       "LegoFS path limits are the storage protocol's");

static int path_syntax(const char *p, size_t n)
{
	return lego_path_check(p, n);
}

int lfs_path_check(const char *p, size_t len)
{
	if (!p)
		return -EINVAL;
	return path_syntax(p, len);
}

int lfs_path_validate(const char *p, size_t *lenp)
{
	if (!p)
		return -EINVAL;
	size_t n = strnlen(p, LFS_PATH_MAX);
	if (n >= LFS_PATH_MAX)
		return -ENAMETOOLONG;
	*lenp = n;
	return path_syntax(p, n);
}

static size_t msg_put(char *buf, size_t size, size_t at, const char *s)
{
	while (*s && at + 1 < size)
		buf[at++] = *s++;
	buf[at] = '\0';
	return at;
}

/* buf = a [b n] [c], n in decimal when b is given. */
void lfs_msg(char *buf, size_t size, const char *a, const char *b, u64 n, const char *c)
{
	char num[24];
	size_t at = 0;

	if (!size)
		return;
	buf[0] = '\0';
	if (a)
		at = msg_put(buf, size, at, a);
	if (b) {
		int k = (int)sizeof(num) - 1;
		num[k] = '\0';
		do {
			num[--k] = (char)('0' + n % 10);
			n /= 10;
		} while (n && k > 0);
		at = msg_put(buf, size, at, b);
		at = msg_put(buf, size, at, num + k);
	}
	if (c)
		msg_put(buf, size, at, c);
}

/* Record the first fault since mount (later ones are usually consequences). */
void lfs_fault(struct lfs_fs *fs, const char *a, const char *b, u64 n, const char *c)
{
	if (fs->msg[0])
		return;
	lfs_msg(fs->msg, sizeof(fs->msg), a, b, n, c);
}

void *lfs_zalloc(struct lfs_fs *fs, size_t size)
{
	void *p = fs->env.alloc(fs->env.ctx, size);

	if (p)
		memset(p, 0, size);
	return p;
}

void lfs_free(struct lfs_fs *fs, void *p)
{
	if (p)
		fs->env.free(fs->env.ctx, p);
}

u64 lfs_now(struct lfs_fs *fs)
{
	return fs->env.now ? fs->env.now(fs->env.ctx) : 0;
}

const char *lfs_btype_name(unsigned t)
{
	static const char *const names[LFS_BT_NR] = {
		[0] = "unknown",
		[LFS_BT_BITMAP] = "bitmap",
		[LFS_BT_REFCNT] = "inode refcount",
		[LFS_BT_ITABLE] = "inode table",
		[LFS_BT_VTAB] = "vnode table",
		[LFS_BT_HTDIR] = "bucket directory",
		[LFS_BT_BUCKET] = "bucket",
		[LFS_BT_EXTENT] = "extent node",
	};
	return t < LFS_BT_NR ? names[t] : "unknown";
}
