/* What the boot loader told us, copied out of its memory before the
 * identity map is dropped. Filled by the boot-protocol parser
 * (arch/x86/boot/multiboot2.c today, a UEFI stub later). */
#ifndef LEGO_BOOT_H
#define LEGO_BOOT_H

#include <lego/types.h>

#define BOOT_CMDLINE_MAX 1024

struct boot_info {
	const char *protocol;
	char cmdline[BOOT_CMDLINE_MAX];
	u8 rsdp_copy[36];		/* the loader's copy of the RSDP */
	bool has_rsdp_copy;
	phys_addr_t info_start, info_end;	/* loader data to keep out of the allocator */
};

extern struct boot_info boot_info;

/* Common kernel start, entered on the boot CPU with boot_info filled. */
void start_kernel(void) __attribute__((noreturn));

#endif
