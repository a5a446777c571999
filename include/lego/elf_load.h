/* ELF64 program loader (paper §5.4): validation, memory layout, page
 * contents and the initial process stack of an x86-64 Linux program.
 *
 * Pure logic shared by the memory monitor and the host unit tests
 * (tests/unit/test_elf_load.c): it includes only lego/{types,compiler,
 * errno,string,elf}.h, allocates nothing, and reads the file only through
 * the elf_file callback (the memory monitor passes its storage buffer
 * cache). It never writes user memory itself: it describes the layout (an
 * elf_plan), fills one page at a time into a caller buffer
 * (elf_load_fill_page) and builds the top of the stack into a caller
 * buffer (elf_build_stack). The caller turns regions into vmas and copies
 * bytes into its page store, eagerly or on first fault.
 *
 * Typical use at the home mComponent for an exec request:
 *
 *	struct elf_load_params lp = { .dyn_base = ELF_ET_DYN_BASE };
 *	err = elf_load_prepare(&file, &lp, plan, &reason);   // -ENOEXEC: reason
 *	if (plan->has_interp) {                              // dynamic binary
 *		open plan->interp as ifile;
 *		struct elf_load_params ip = { .dyn_base = ..., .flags = ELF_LOAD_INTERP };
 *		err = elf_load_prepare(&ifile, &ip, iplan, &reason);
 *	}
 *	for each region r of plan (and iplan): create a vma [r.start, r.end)
 *		with r.prot; for each page not ELF_REGION_ANON:
 *		elf_load_fill_page(plan, &file, page, buf) and store buf
 *		(a return of 0 means the page is all zeros: it may be left
 *		unallocated, §4.4.2);
 *	heap vma starts at plan->brk;
 *	stack vma [top - size, top), prot RW (plus X if plan->exec_stack);
 *	elf_build_stack(&sp, plan, iplan or NULL, buf, len, &si);
 *		(AT_BASE = iplan->load_bias, rip = iplan->entry when given)
 *	copy buf's last si.size bytes to [si.rsp, top);
 *	reply: rip = si.entry, rsp = si.rsp.
 *
 * Errors are negative errno values (lego/errno.h):
 *   -ENOEXEC  the file is not a loadable x86-64 ELF64 program; *reason (a
 *             static string) says why and plan->err_phdr names the program
 *             header at fault (-1: the file header or the whole table);
 *   -EINVAL   a bad parameter from the caller (not the file's fault);
 *   -E2BIG    argv/envp beyond the limits, or the stack buffer too small;
 *   anything the read callback returns (e.g. -EIO), passed through.
 *
 * struct elf_plan is about 4 KiB: allocate it (kmalloc), not on a kernel
 * stack. The functions themselves use under 1 KiB of stack.
 *
 * Concurrency: none inside; functions only touch their arguments.
 */
#ifndef LEGO_ELF_LOAD_H
#define LEGO_ELF_LOAD_H

#include <lego/types.h>
#include <lego/compiler.h>
#include <lego/elf.h>

/* ---------------------------------------------------------------------- */
/* Limits and defaults                                                     */

#define ELF_PAGE_SIZE		4096ULL
#define ELF_PAGE_MASK		(~(ELF_PAGE_SIZE - 1))
/* Lowest and end of the user address range a segment may occupy
 * (the x86-64 canonical lower half less its top page, and above the
 * traditional 64 KiB guard of low memory). */
#define ELF_USER_MIN		0x10000ULL
#define ELF_USER_TOP		0x7ffffffff000ULL
/* Default base of a position-independent program (two thirds of the
 * 47-bit range, the address x86-64 Linux programs are used to). */
#define ELF_ET_DYN_BASE		0x555555554000ULL
#define ELF_MAX_PHNUM		512	/* more program headers: -ENOEXEC */
#define ELF_MAX_LOAD		32	/* more PT_LOAD segments: -ENOEXEC */
#define ELF_MAX_REGIONS		(3 * ELF_MAX_LOAD)
#define ELF_INTERP_MAX		256	/* PT_INTERP path bytes, NUL included */
/* Default limit of argv + envp + execfn (strings with their NULs plus 8
 * bytes per pointer), a quarter of an 8 MiB stack like Linux. */
#define ELF_ARG_MAX_DEFAULT	(2ULL << 20)
#define ELF_ARG_STRLEN_MAX	(128u << 10)	/* one string, NUL included */
#define ELF_PLATFORM		"x86_64"
#define ELF_CLKTCK		100
#define ELF_AUXV_MAX		24	/* pairs elf_build_stack may write, AT_NULL included */

/* Memory protection of a region (Linux PROT_* values). */
#define ELF_PROT_READ		0x1
#define ELF_PROT_WRITE		0x2
#define ELF_PROT_EXEC		0x4

/* ---------------------------------------------------------------------- */
/* The file                                                                */

/* read copies up to len bytes at file offset off into buf and returns the
 * count (> 0), 0 at end of file, or a negative errno. The loader asks only
 * for bytes inside [0, size) and loops over short reads; a 0 or an error
 * before the range is complete fails the call (0 as -EIO). */
struct elf_file {
	long (*read)(void *ctx, u64 off, void *buf, size_t len);
	void *ctx;
	u64 size;			/* file size in bytes */
};

/* ---------------------------------------------------------------------- */
/* Validation and layout                                                   */

struct elf_load_params {
	/* ET_DYN only: the address the lowest page of the image goes to.
	 * Must be page aligned (else -EINVAL); rounded up to the largest
	 * PT_LOAD p_align. 0: ELF_ET_DYN_BASE. Ignored for ET_EXEC. */
	u64 dyn_base;
	/* Allowed user range [user_min, user_top); 0: the defaults above. */
	u64 user_min;
	u64 user_top;
	u32 flags;			/* ELF_LOAD_* */
};
/* The file is a program interpreter (the dynamic linker named by another
 * file's PT_INTERP): it must be ET_DYN and have no PT_INTERP itself. */
#define ELF_LOAD_INTERP		0x1u

/* One PT_LOAD segment as the file describes it, with the load bias
 * applied to vaddr (so vaddr is the final address). Sorted by vaddr;
 * segments with p_memsz 0 are dropped. */
struct elf_segment {
	u64 vaddr;			/* final address of the first byte */
	u64 memsz;
	u64 offset;			/* file offset of the first byte */
	u64 filesz;			/* bytes from the file; [filesz, memsz) are zero */
	u32 flags;			/* PF_* */
	u16 phdr_index;			/* index in the program header table */
	u16 pad;
};

/* One page-aligned address range to map, the unit the caller turns into
 * a vma. Regions are sorted, never overlap, and adjacent regions may touch.
 * A segment gives a file-backed region covering its file bytes (the last
 * page's tail beyond p_filesz reads as zeros) and, when p_memsz reaches
 * past that page, an ELF_REGION_ANON region (pure bss: zero pages, no file
 * data). When two segments share a page (their bytes are disjoint but one
 * ends and the next starts in the same page) that page is a region of its
 * own, ELF_REGION_SHARED, whose prot is the union of both segments' so that
 * each keeps working; its contents hold every segment's bytes. */
struct elf_region {
	u64 start;			/* page aligned */
	u64 end;			/* page aligned, > start */
	u32 prot;			/* ELF_PROT_* */
	u16 flags;			/* ELF_REGION_* */
	u16 seg;			/* index in plan->load of the (last) segment */
};
#define ELF_REGION_ANON		0x1	/* all pages zero: no file bytes */
#define ELF_REGION_SHARED	0x2	/* one page holding bytes of 2+ segments */

struct elf_plan {
	u16 e_type;			/* ET_EXEC or ET_DYN */
	u16 phentsize;			/* AT_PHENT */
	u16 phnum;			/* AT_PHNUM */
	u16 pad;
	u64 load_bias;			/* added to every p_vaddr (0 for ET_EXEC) */
	u64 entry;			/* e_entry + load_bias */
	u64 load_start;			/* lowest mapped page */
	u64 load_end;			/* end of the highest mapped page */
	u64 brk;			/* program break start: page-aligned end of the
					 * highest segment (== load_end) */
	u64 phdr_addr;			/* AT_PHDR: from PT_PHDR, else the PT_LOAD whose
					 * file bytes hold the table; 0 if none does */

	bool has_interp;		/* PT_INTERP present: a dynamic program */
	bool has_gnu_stack;		/* PT_GNU_STACK present */
	bool exec_stack;		/* stack wants PROT_EXEC (PF_X in PT_GNU_STACK,
					 * or no PT_GNU_STACK at all) */
	bool has_tls;			/* PT_TLS present (fields below) */
	char interp[ELF_INTERP_MAX];	/* the interpreter path, NUL-terminated */

	u64 tls_vaddr;			/* final address of the TLS template */
	u64 tls_filesz;
	u64 tls_memsz;
	u64 tls_align;

	int err_phdr;			/* on -ENOEXEC: header index at fault, or -1 */
	u32 nload;
	u32 nregion;
	struct elf_segment load[ELF_MAX_LOAD];
	struct elf_region region[ELF_MAX_REGIONS];
};

/* Read and validate the file's ELF and program headers and compute where
 * everything goes. Returns 0 (plan filled, *reason = NULL), -ENOEXEC with
 * *reason and plan->err_phdr set, -EINVAL (bad params; *reason set too),
 * or a read error. reason may be NULL. params may be NULL (all defaults).
 *
 * Checks: magic, ELFCLASS64, ELFDATA2LSB, version 1 (e_ident and e_version),
 * EM_X86_64, ET_EXEC or ET_DYN (only ET_DYN with ELF_LOAD_INTERP),
 * e_phentsize == 56, 1 <= e_phnum <= ELF_MAX_PHNUM, table inside the file;
 * per PT_LOAD: p_filesz <= p_memsz, file bytes inside the file, p_align 0
 * or a power of two, p_vaddr = p_offset mod p_align and mod the page size;
 * at least one and at most ELF_MAX_LOAD PT_LOADs with p_memsz > 0, no two
 * overlapping, all inside the user range once biased (no wrap-around); the
 * entry point inside the file bytes of a PF_X segment; at most one
 * PT_INTERP, 2..ELF_INTERP_MAX bytes, NUL-terminated, no NUL inside, inside
 * the file; PT_PHDR (if any) inside a segment's file bytes; PT_TLS with
 * p_filesz <= p_memsz and a power-of-two (or 0) alignment. Other types are
 * ignored. */
int elf_load_prepare(const struct elf_file *f, const struct elf_load_params *params,
		     struct elf_plan *plan, const char **reason);

/* The region containing addr, or NULL. */
const struct elf_region *elf_load_find_region(const struct elf_plan *plan, u64 addr);

/* Fill buf (ELF_PAGE_SIZE bytes) with the initial contents of the page at
 * page_addr (page aligned, inside a region): every byte of a segment gets
 * its file byte or zero (bss); the bytes of the page outside every segment
 * are those the owning segment's page-aligned file window holds (so the
 * first page of a segment starting at p_offset 0 shows the ELF and program
 * headers, as programs expect) up to p_filesz, zero beyond. Returns 1 if
 * the page holds file bytes, 0 if it is all zeros (ELF_REGION_ANON pages
 * always), -EINVAL if page_addr is unaligned or in no region, or a read
 * error. */
int elf_load_fill_page(const struct elf_plan *plan, const struct elf_file *f,
		       u64 page_addr, void *buf);

/* ---------------------------------------------------------------------- */
/* Initial stack                                                           */

struct elf_stack_params {
	u64 stack_top;			/* end of the stack (16-byte aligned) */
	const char *const *argv;	/* argc strings (NULL allowed if argc == 0) */
	u32 argc;
	u32 envc;
	const char *const *envp;	/* envc strings */
	const char *execfn;		/* AT_EXECFN: path as given to exec */
	const u8 *random;		/* 16 bytes for AT_RANDOM */
	const char *platform;		/* AT_PLATFORM; NULL: ELF_PLATFORM */
	u32 uid, euid, gid, egid;
	u64 secure;			/* AT_SECURE */
	u64 hwcap, hwcap2;		/* AT_HWCAP, AT_HWCAP2 */
	u64 clktck;			/* 0: ELF_CLKTCK */
	u64 pagesz;			/* 0: ELF_PAGE_SIZE */
	u64 sysinfo_ehdr;		/* vDSO address; 0: no AT_SYSINFO_EHDR */
	u64 minsigstksz;		/* 0: no AT_MINSIGSTKSZ */
	u64 arg_max;			/* 0: ELF_ARG_MAX_DEFAULT */
};

struct elf_stack_info {
	u64 rsp;			/* initial rsp: 16-byte aligned, points at argc */
	u64 size;			/* bytes used: [rsp, stack_top) */
	u64 entry;			/* initial rip: the interpreter's entry if one
					 * was given, else the program's */
	u64 argv_addr;			/* &argv[0] in the stack (rsp + 8) */
	u64 envp_addr;			/* &envp[0] */
	u64 auxv_addr;			/* first auxv pair */
	u32 nauxv;			/* pairs written, AT_NULL included */
	u32 pad;
	u64 random_addr;		/* AT_RANDOM */
	u64 platform_addr;		/* AT_PLATFORM */
	u64 execfn_addr;		/* AT_EXECFN */
	u64 strings_addr;		/* argv[0]'s string: lowest string byte */
};

/* Build the initial stack of exe (the program) into buf, which stands for
 * the buf_size bytes just below sp->stack_top: buf[buf_size - 1] is the
 * byte at stack_top - 1. interp is the interpreter's plan (its load bias
 * becomes AT_BASE and its entry the start address) or NULL.
 *
 * Layout, from stack_top down (Linux x86-64's, System V AMD64 psABI 3.4):
 *	8 zero bytes (end marker)
 *	execfn string
 *	envp strings (envp[0] lowest), argv strings (argv[0] lowest)
 *	padding to 16
 *	platform string
 *	16 AT_RANDOM bytes
 *	padding (zeros) so that rsp ends 16-byte aligned
 *	auxv: [AT_SYSINFO_EHDR] [AT_MINSIGSTKSZ] AT_HWCAP AT_PAGESZ AT_CLKTCK
 *	      AT_PHDR AT_PHENT AT_PHNUM AT_BASE AT_FLAGS AT_ENTRY AT_UID AT_EUID
 *	      AT_GID AT_EGID AT_SECURE AT_RANDOM AT_HWCAP2 AT_EXECFN AT_PLATFORM
 *	      AT_NULL
 *	envp[0..envc-1], NULL
 *	argv[0..argc-1], NULL
 *	argc				<- rsp
 * Bytes of buf below the used part are not touched; the strings and the
 * random bytes must not lie inside buf (the used part is cleared first).
 * Returns 0 and fills
 * *out, -E2BIG if a string exceeds ELF_ARG_STRLEN_MAX, the strings and
 * pointers exceed arg_max, or the result does not fit in buf_size (or below
 * stack_top); -EINVAL for a bad parameter (unaligned stack_top, NULL
 * pointers where strings are required). */
int elf_build_stack(const struct elf_stack_params *sp, const struct elf_plan *exe,
		    const struct elf_plan *interp, void *buf, size_t buf_size,
		    struct elf_stack_info *out);

#endif
