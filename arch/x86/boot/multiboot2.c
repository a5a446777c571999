/* Multiboot2 boot information parser. Runs first, on the boot page tables
 * (identity map of the first GiB), and copies what the kernel needs into
 * boot_info and mem_ranges before any of the loader's memory is reused. */
#include <lego/boot.h>
#include <lego/mm.h>
#include <lego/string.h>
#include <lego/printk.h>
#include <lego/panic.h>
#include <lego/serial.h>

#define MB2_BOOTLOADER_MAGIC 0x36d76289

#define MB2_TAG_END 0
#define MB2_TAG_CMDLINE 1
#define MB2_TAG_LOADER 2
#define MB2_TAG_MMAP 6
#define MB2_TAG_ACPI_OLD 14
#define MB2_TAG_ACPI_NEW 15

struct mb2_tag {
	u32 type;
	u32 size;
} __attribute__((packed));

struct mb2_mmap_entry {
	u64 base;
	u64 len;
	u32 type;
	u32 reserved;
} __attribute__((packed));

struct boot_info boot_info;

void x86_boot_multiboot2(u32 magic, u32 info_phys) __attribute__((noreturn));
void x86_early_cpu_init(void);

static void parse_mmap(const u8 *tag, u32 size)
{
	u32 entry_size = *(const u32 *)(tag + 8);
	const u8 *p = tag + 16, *end = tag + size;

	if (entry_size < sizeof(struct mb2_mmap_entry))
		panic("multiboot2: memory map entry size %u too small", entry_size);
	for (; p + entry_size <= end; p += entry_size) {
		const struct mb2_mmap_entry *e = (const void *)p;
		if (nr_mem_ranges == MAX_MEM_RANGES) {
			pr_warn("multiboot2: memory map has more than %d entries; ignoring the rest\n",
				MAX_MEM_RANGES);
			break;
		}
		if (!e->len)
			continue;
		mem_ranges[nr_mem_ranges++] = (struct mem_range){ e->base, e->len, e->type };
	}
}

void x86_boot_multiboot2(u32 magic, u32 info_phys)
{
	x86_early_cpu_init();

	if (magic != MB2_BOOTLOADER_MAGIC)
		panic("not started by a multiboot2 loader (magic %08x)", magic);
	if (info_phys + 8ull > (1ull << 30))
		panic("multiboot2 information at %x is outside the boot mapping", info_phys);

	const u8 *info = (const u8 *)(unsigned long)info_phys;
	u32 total = *(const u32 *)info;
	if (total < 8 || info_phys + (u64)total > (1ull << 30))
		panic("multiboot2 information at %x (%u bytes) is malformed or outside the boot mapping",
		      info_phys, total);
	boot_info.protocol = "multiboot2";
	boot_info.info_start = info_phys;
	boot_info.info_end = info_phys + total;

	for (const u8 *p = info + 8; p < info + total;) {
		const struct mb2_tag *t = (const void *)p;
		if (t->size < 8 || p + t->size > info + total)
			panic("multiboot2: malformed tag (type %u size %u)", t->type, t->size);
		switch (t->type) {
		case MB2_TAG_END:
			p = info + total;
			continue;
		case MB2_TAG_CMDLINE:
			strlcpy(boot_info.cmdline, (const char *)(p + 8),
				MIN((size_t)t->size - 8 + 1, sizeof(boot_info.cmdline)));
			break;
		case MB2_TAG_MMAP:
			parse_mmap(p, t->size);
			break;
		case MB2_TAG_ACPI_OLD:
		case MB2_TAG_ACPI_NEW:
			/* Prefer the ACPI 2.0+ copy when both are given. */
			if (!boot_info.has_rsdp_copy || t->type == MB2_TAG_ACPI_NEW) {
				memcpy(boot_info.rsdp_copy, p + 8, MIN(t->size - 8, (u32)sizeof(boot_info.rsdp_copy)));
				boot_info.has_rsdp_copy = true;
			}
			break;
		default:
			break;
		}
		p += ALIGN_UP(t->size, 8);
	}
	if (!nr_mem_ranges)
		panic("multiboot2: the loader gave no memory map");
	start_kernel();
}
