/* ELF64 file format and the x86-64 process start-up vocabulary.
 *
 * Written from the published specifications: the System V gABI (ELF
 * object file format: file header, program headers), the System V AMD64
 * psABI (EM_X86_64, the initial process stack and its auxiliary vector)
 * and the Linux auxv type numbers that unmodified Linux programs expect.
 * Only what the program loader (lego/elf_load.h) needs: no section
 * headers, no symbols, no relocations. Struct names carry an elf64_ prefix
 * so that a host test may include the C library's <elf.h> alongside.
 *
 * Every multi-byte field is little-endian in the files we accept
 * (ELFDATA2LSB), which is also the byte order of every machine that
 * reads them, so the structs are read straight from the file bytes.
 */
#ifndef LEGO_ELF_H
#define LEGO_ELF_H

#include <lego/types.h>
#include <lego/compiler.h>

/* ---------------------------------------------------------------------- */
/* File header                                                             */

/* e_ident[] indices and values */
#define EI_MAG0		0
#define EI_MAG1		1
#define EI_MAG2		2
#define EI_MAG3		3
#define EI_CLASS	4
#define EI_DATA		5
#define EI_VERSION	6
#define EI_OSABI	7
#define EI_ABIVERSION	8
#define EI_NIDENT	16

#define ELFMAG0		0x7f
#define ELFMAG1		'E'
#define ELFMAG2		'L'
#define ELFMAG3		'F'

#define ELFCLASSNONE	0
#define ELFCLASS32	1
#define ELFCLASS64	2

#define ELFDATANONE	0
#define ELFDATA2LSB	1		/* little-endian */
#define ELFDATA2MSB	2		/* big-endian */

#define EV_NONE		0
#define EV_CURRENT	1

#define ELFOSABI_SYSV	0
#define ELFOSABI_GNU	3

/* e_type */
#define ET_NONE		0
#define ET_REL		1		/* relocatable object */
#define ET_EXEC		2		/* executable at fixed addresses */
#define ET_DYN		3		/* shared object / position-independent executable */
#define ET_CORE		4

/* e_machine (a few, for messages and tests) */
#define EM_NONE		0
#define EM_386		3
#define EM_X86_64	62
#define EM_AARCH64	183
#define EM_RISCV	243

/* e_phnum value meaning "the count is in section header 0" (not supported) */
#define PN_XNUM		0xffff

struct elf64_ehdr {
	u8 e_ident[EI_NIDENT];
	u16 e_type;
	u16 e_machine;
	u32 e_version;
	u64 e_entry;			/* virtual address of the entry point */
	u64 e_phoff;			/* file offset of the program header table */
	u64 e_shoff;
	u32 e_flags;
	u16 e_ehsize;
	u16 e_phentsize;		/* size of one program header */
	u16 e_phnum;			/* number of program headers */
	u16 e_shentsize;
	u16 e_shnum;
	u16 e_shstrndx;
};

/* ---------------------------------------------------------------------- */
/* Program headers                                                         */

/* p_type */
#define PT_NULL		0
#define PT_LOAD		1		/* loadable segment */
#define PT_DYNAMIC	2
#define PT_INTERP	3		/* path of the program interpreter */
#define PT_NOTE		4
#define PT_SHLIB	5
#define PT_PHDR		6		/* the program header table itself, in memory */
#define PT_TLS		7		/* thread-local storage template */
#define PT_LOOS		0x60000000
#define PT_GNU_EH_FRAME	0x6474e550
#define PT_GNU_STACK	0x6474e551	/* p_flags: permissions of the stack */
#define PT_GNU_RELRO	0x6474e552
#define PT_GNU_PROPERTY	0x6474e553
#define PT_HIOS		0x6fffffff
#define PT_LOPROC	0x70000000
#define PT_HIPROC	0x7fffffff

/* p_flags */
#define PF_X		0x1
#define PF_W		0x2
#define PF_R		0x4

struct elf64_phdr {
	u32 p_type;
	u32 p_flags;
	u64 p_offset;			/* file offset of the segment's first byte */
	u64 p_vaddr;			/* its virtual address */
	u64 p_paddr;
	u64 p_filesz;			/* bytes present in the file */
	u64 p_memsz;			/* bytes in memory (>= p_filesz; rest zero) */
	u64 p_align;			/* 0/1: none; else power of two, vaddr = offset mod align */
};

BUILD_BUG_ON(sizeof(struct elf64_ehdr) != 64);
BUILD_BUG_ON(sizeof(struct elf64_phdr) != 56);

/* ---------------------------------------------------------------------- */
/* Auxiliary vector (initial process stack, psABI §3.4.3; Linux numbers)   */

struct elf64_auxv {
	u64 a_type;
	u64 a_val;
};

#define AT_NULL			0	/* end of the vector */
#define AT_IGNORE		1
#define AT_EXECFD		2
#define AT_PHDR			3	/* address of the program headers in memory */
#define AT_PHENT		4	/* size of one program header */
#define AT_PHNUM		5	/* number of program headers */
#define AT_PAGESZ		6
#define AT_BASE			7	/* interpreter's load address (0: none) */
#define AT_FLAGS		8
#define AT_ENTRY		9	/* the program's entry point */
#define AT_NOTELF		10
#define AT_UID			11
#define AT_EUID			12
#define AT_GID			13
#define AT_EGID			14
#define AT_PLATFORM		15	/* address of a string naming the platform */
#define AT_HWCAP		16
#define AT_CLKTCK		17	/* times() ticks per second */
#define AT_SECURE		23	/* nonzero: setuid-like, libc ignores dangerous env */
#define AT_BASE_PLATFORM	24
#define AT_RANDOM		25	/* address of 16 random bytes */
#define AT_HWCAP2		26
#define AT_RSEQ_FEATURE_SIZE	27
#define AT_RSEQ_ALIGN		28
#define AT_EXECFN		31	/* address of the executed file's name */
#define AT_SYSINFO_EHDR		33	/* address of the vDSO's ELF header */
#define AT_MINSIGSTKSZ		51	/* minimal signal stack size */

#endif
