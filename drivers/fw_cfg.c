/* QEMU firmware configuration device (I/O ports 0x510/0x511). Used only to
 * read extra kernel options; on real hardware the signature check fails and
 * nothing else is touched. */
#include <lego/fw_cfg.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <asm/io.h>

#define FW_CFG_SEL 0x510
#define FW_CFG_DATA 0x511
#define FW_CFG_SIGNATURE 0x0000
#define FW_CFG_FILE_DIR 0x0019

static void fw_read(void *buf, size_t n)
{
	for (size_t i = 0; i < n; i++)
		((u8 *)buf)[i] = inb(FW_CFG_DATA);
}

static u32 be32(u32 v) { return __builtin_bswap32(v); }
static u16 be16(u16 v) { return __builtin_bswap16(v); }

int fw_cfg_read_file(const char *name, char *buf, size_t size)
{
	char sig[4];

	outw(FW_CFG_SEL, FW_CFG_SIGNATURE);
	fw_read(sig, 4);
	if (memcmp(sig, "QEMU", 4))
		return -ENODEV;

	u32 count;
	outw(FW_CFG_SEL, FW_CFG_FILE_DIR);
	fw_read(&count, 4);
	count = be32(count);
	for (u32 i = 0; i < count; i++) {
		struct {
			u32 size;
			u16 select;
			u16 reserved;
			char name[56];
		} __attribute__((packed)) f;
		fw_read(&f, sizeof(f));
		f.name[55] = 0;
		if (strcmp(f.name, name))
			continue;
		u32 len = be32(f.size);
		if (size == 0)
			return -EINVAL;
		if (len > size - 1)
			len = size - 1;
		outw(FW_CFG_SEL, be16(f.select));
		fw_read(buf, len);
		buf[len] = 0;
		return (int)len;
	}
	return -ENOENT;
}
