/* Unit tests for the ELF64 program loader (managers/memory/elf_load.c).
 *
 *  - hand-made ELF images: the valid base case, its layout and page
 *    contents, and one malformed variant per rejection reason;
 *  - region layout corner cases: pages shared by segments, bss-only
 *    segments, ET_DYN bias and alignment, interpreters;
 *  - the initial stack, parsed back byte by byte, its limits, and its auxv
 *    order checked against the host kernel's /proc/self/auxv;
 *  - real programs: Debian's static busybox and a small test program built
 *    at run time with gcc -static, gcc -static-pie, musl-gcc -static, a
 *    musl static-pie and dynamic glibc/musl builds; their plans are checked
 *    against `readelf -lW`, every page against the file, and finally each
 *    is loaded into a forked child with our page contents and our stack and
 *    run from its entry point (through the real ld.so for the dynamic ones),
 *    its output checked. Missing tools skip the case with a message.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <lego/elf_load.h>
#include <lego/errno.h>

/* <sys/auxv.h> would pull in the C library's <elf.h>: declare it alone. */
unsigned long getauxval(unsigned long type);

#define PG ELF_PAGE_SIZE

/* Missing tools: say so and pass. (scripts/run-tests counts cmocka's TAP
 * "not ok N # SKIP" as a failure, and setup installs every tool used here.) */
#define SKIP_CASE(...) do { print_message(__VA_ARGS__); return; } while (0)

/* ---------------------------------------------------------------------- */
/* Files                                                                   */

struct mfile {
	const u8 *data;
	u64 size;
	size_t max_chunk;		/* 0: whole reads; else short reads */
	long fail_at_read;		/* < 0 never; else the read that fails */
	long reads;
	long zero_after;		/* >= 0: return 0 (EOF) past this offset */
};

static long mf_read(void *ctx, u64 off, void *buf, size_t len)
{
	struct mfile *m = ctx;

	assert_true(off < m->size);
	assert_true(len <= m->size - off);
	if (m->fail_at_read >= 0 && m->reads++ == m->fail_at_read)
		return -EIO;
	if (m->zero_after >= 0 && off >= (u64)m->zero_after)
		return 0;
	if (m->max_chunk && len > m->max_chunk)
		len = m->max_chunk;
	memcpy(buf, m->data + off, len);
	return (long)len;
}

static struct elf_file mem_file(struct mfile *m, const u8 *data, u64 size)
{
	*m = (struct mfile){ .data = data, .size = size, .fail_at_read = -1, .zero_after = -1 };
	return (struct elf_file){ .read = mf_read, .ctx = m, .size = size };
}

static long fd_read(void *ctx, u64 off, void *buf, size_t len)
{
	ssize_t n = pread(*(int *)ctx, buf, len, (off_t)off);

	return n < 0 ? -EIO : n;
}

/* Whole file into memory (NULL if unreadable). */
static u8 *slurp(const char *path, u64 *size)
{
	struct stat st;
	u8 *p;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || st.st_size <= 0) {
		close(fd);
		return NULL;
	}
	p = malloc((size_t)st.st_size);
	assert_non_null(p);
	assert_int_equal(pread(fd, p, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	*size = (u64)st.st_size;
	return p;
}

/* ---------------------------------------------------------------------- */
/* The hand-made image                                                     */

#define IMG_SIZE 0x3000
static u8 img[IMG_SIZE];
static struct elf64_ehdr *EH = (struct elf64_ehdr *)img;
static struct elf64_phdr *PH = (struct elf64_phdr *)(img + 64);
static struct elf_plan plan, plan2;

static void set_ph(int i, u32 type, u32 flags, u64 off, u64 vaddr, u64 filesz, u64 memsz,
		   u64 align)
{
	PH[i] = (struct elf64_phdr){ .p_type = type, .p_flags = flags, .p_offset = off,
				     .p_vaddr = vaddr, .p_paddr = vaddr, .p_filesz = filesz,
				     .p_memsz = memsz, .p_align = align };
}

/* ET_EXEC, entry 0x401000:
 *   0 LOAD R   off 0      vaddr 0x400000 filesz 0x400 memsz 0x400
 *   1 LOAD R X off 0x1000 vaddr 0x401000 filesz 0x100 memsz 0x100
 *   2 LOAD RW  off 0x2000 vaddr 0x402000 filesz 0x80  memsz 0x3000
 *   3 GNU_STACK RW
 * Every byte past the headers holds a position-dependent pattern. */
static void base_image(void)
{
	for (u32 i = 0; i < IMG_SIZE; i++)
		img[i] = (u8)(i * 7 + (i >> 8) + 1);
	memset(img, 0, 64 + 8 * 56);
	img[EI_MAG0] = ELFMAG0;
	img[EI_MAG1] = 'E';
	img[EI_MAG2] = 'L';
	img[EI_MAG3] = 'F';
	img[EI_CLASS] = ELFCLASS64;
	img[EI_DATA] = ELFDATA2LSB;
	img[EI_VERSION] = EV_CURRENT;
	EH->e_type = ET_EXEC;
	EH->e_machine = EM_X86_64;
	EH->e_version = EV_CURRENT;
	EH->e_entry = 0x401000;
	EH->e_phoff = 64;
	EH->e_ehsize = 64;
	EH->e_phentsize = 56;
	EH->e_phnum = 4;
	set_ph(0, PT_LOAD, PF_R, 0, 0x400000, 0x400, 0x400, 0x1000);
	set_ph(1, PT_LOAD, PF_R | PF_X, 0x1000, 0x401000, 0x100, 0x100, 0x1000);
	set_ph(2, PT_LOAD, PF_R | PF_W, 0x2000, 0x402000, 0x80, 0x3000, 0x1000);
	set_ph(3, PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16);
}

static int prep_img(u64 size, const struct elf_load_params *lp, struct elf_plan *pl,
		    const char **why)
{
	struct mfile m;
	struct elf_file f = mem_file(&m, img, size);

	return elf_load_prepare(&f, lp, pl, why);
}

/* Independent model of a page's expected bytes: inside a segment, its file
 * byte or zero; outside every segment, the file window of the segment that
 * starts later in the same page (if it has file bytes) or zero. */
static void expect_page(const struct elf_plan *pl, const u8 *file, u64 page, u8 *exp)
{
	for (u64 a = page; a < page + PG; a++) {
		u8 v = 0;
		bool in = false;

		for (u32 i = 0; i < pl->nload; i++) {
			const struct elf_segment *s = &pl->load[i];

			if (a >= s->vaddr && a < s->vaddr + s->memsz) {
				in = true;
				v = a < s->vaddr + s->filesz ? file[s->offset + (a - s->vaddr)] : 0;
			}
		}
		if (!in) {
			for (u32 i = 0; i < pl->nload; i++) {
				const struct elf_segment *s = &pl->load[i];

				if (s->filesz && a < s->vaddr && (s->vaddr & ELF_PAGE_MASK) <= a)
					v = file[s->offset - (s->vaddr - a)];
			}
		}
		exp[a - page] = v;
	}
}

/* Structural invariants of a plan, and every page's contents. */
static void check_plan_pages(const struct elf_plan *pl, const struct elf_file *f, const u8 *file)
{
	static u8 page[PG], exp[PG];

	assert_true(pl->nregion > 0);
	assert_int_equal(pl->load_start, pl->region[0].start);
	assert_int_equal(pl->load_end, pl->region[pl->nregion - 1].end);
	assert_int_equal(pl->brk, pl->load_end);
	for (u32 i = 0; i < pl->nregion; i++) {
		const struct elf_region *r = &pl->region[i];

		assert_true(r->start < r->end);
		assert_int_equal(r->start % PG, 0);
		assert_int_equal(r->end % PG, 0);
		assert_true(r->seg < pl->nload);
		if (i)
			assert_true(pl->region[i - 1].end <= r->start);
		if (r->flags & ELF_REGION_SHARED)
			assert_int_equal(r->end - r->start, PG);
	}
	/* Every segment's pages are covered; every region page touches one. */
	for (u32 i = 0; i < pl->nload; i++) {
		const struct elf_segment *s = &pl->load[i];

		if (i)
			assert_true(pl->load[i - 1].vaddr + pl->load[i - 1].memsz <= s->vaddr);
		for (u64 a = s->vaddr & ELF_PAGE_MASK; a < s->vaddr + s->memsz; a += PG) {
			const struct elf_region *r = elf_load_find_region(pl, a);

			assert_non_null(r);
			if (!(r->flags & ELF_REGION_SHARED)) {
				assert_ptr_equal(&pl->load[r->seg], s);
				assert_int_equal(r->prot,
						 ((s->flags & PF_R) ? ELF_PROT_READ : 0) |
						 ((s->flags & PF_W) ? ELF_PROT_WRITE : 0) |
						 ((s->flags & PF_X) ? ELF_PROT_EXEC : 0));
			}
		}
	}
	for (u32 i = 0; i < pl->nregion; i++) {
		const struct elf_region *r = &pl->region[i];

		for (u64 a = r->start; a < r->end; a += PG) {
			int ret = elf_load_fill_page(pl, f, a, page);
			bool zero = true;

			assert_true(ret == 0 || ret == 1);
			expect_page(pl, file, a, exp);
			assert_memory_equal(page, exp, PG);
			if (r->flags & ELF_REGION_ANON) {
				assert_int_equal(ret, 0);
				for (u32 k = 0; k < PG; k++)
					zero &= !page[k];
				assert_true(zero);
			} else {
				assert_int_equal(ret, 1);
			}
		}
	}
}

static void test_base_valid(void **state)
{
	struct mfile m;
	struct elf_file f;
	const char *why = "unset";

	base_image();
	f = mem_file(&m, img, IMG_SIZE);
	assert_int_equal(elf_load_prepare(&f, NULL, &plan, &why), 0);
	assert_null(why);
	assert_int_equal(plan.e_type, ET_EXEC);
	assert_int_equal(plan.load_bias, 0);
	assert_int_equal(plan.entry, 0x401000);
	assert_int_equal(plan.phnum, 4);
	assert_int_equal(plan.phentsize, 56);
	assert_int_equal(plan.phdr_addr, 0x400040);
	assert_false(plan.has_interp);
	assert_true(plan.has_gnu_stack);
	assert_false(plan.exec_stack);
	assert_false(plan.has_tls);
	assert_int_equal(plan.nload, 3);
	assert_int_equal(plan.nregion, 4);
	assert_int_equal(plan.region[0].start, 0x400000);
	assert_int_equal(plan.region[0].end, 0x401000);
	assert_int_equal(plan.region[0].prot, ELF_PROT_READ);
	assert_int_equal(plan.region[1].start, 0x401000);
	assert_int_equal(plan.region[1].end, 0x402000);
	assert_int_equal(plan.region[1].prot, ELF_PROT_READ | ELF_PROT_EXEC);
	assert_int_equal(plan.region[2].start, 0x402000);
	assert_int_equal(plan.region[2].end, 0x403000);
	assert_int_equal(plan.region[2].prot, ELF_PROT_READ | ELF_PROT_WRITE);
	assert_int_equal(plan.region[2].flags, 0);
	assert_int_equal(plan.region[3].start, 0x403000);
	assert_int_equal(plan.region[3].end, 0x405000);
	assert_int_equal(plan.region[3].flags, ELF_REGION_ANON);
	assert_int_equal(plan.region[3].seg, 2);
	assert_int_equal(plan.brk, 0x405000);
	assert_int_equal(plan.load_start, 0x400000);
	check_plan_pages(&plan, &f, img);

	/* Short reads give the same result. */
	f = mem_file(&m, img, IMG_SIZE);
	m.max_chunk = 7;
	assert_int_equal(elf_load_prepare(&f, NULL, &plan2, NULL), 0);
	assert_memory_equal(&plan, &plan2, sizeof(plan));
	check_plan_pages(&plan2, &f, img);

	/* No PT_GNU_STACK: executable stack. A PF_X one: too. */
	EH->e_phnum = 3;
	assert_int_equal(prep_img(IMG_SIZE, NULL, &plan, NULL), 0);
	assert_false(plan.has_gnu_stack);
	assert_true(plan.exec_stack);
	EH->e_phnum = 4;
	PH[3].p_flags |= PF_X;
	assert_int_equal(prep_img(IMG_SIZE, NULL, &plan, NULL), 0);
	assert_true(plan.exec_stack);

	/* A PT_LOAD with p_memsz 0 maps nothing; PT_PHDR gives AT_PHDR. */
	base_image();
	set_ph(3, PT_LOAD, PF_R, 0x2800, 0x500800, 0, 0, 0x1000);
	assert_int_equal(prep_img(IMG_SIZE, NULL, &plan, NULL), 0);
	assert_int_equal(plan.nload, 3);
	set_ph(3, PT_PHDR, PF_R, 64, 0x400040, 4 * 56, 4 * 56, 8);
	assert_int_equal(prep_img(IMG_SIZE, NULL, &plan, NULL), 0);
	assert_int_equal(plan.phdr_addr, 0x400040);
	/* Program headers outside every segment: no AT_PHDR, still loadable. */
	base_image();
	PH[0].p_filesz = PH[0].p_memsz = 0x100;
	assert_int_equal(prep_img(IMG_SIZE, NULL, &plan, NULL), 0);
	assert_int_equal(plan.phdr_addr, 0);
	/* PT_TLS, PT_INTERP are reported. */
	base_image();
	set_ph(3, PT_TLS, PF_R, 0x2000, 0x402000, 0x10, 0x40, 8);
	memcpy(img + 0x300, "/lib/ld.so", 11);
	set_ph(4, PT_INTERP, PF_R, 0x300, 0x400300, 11, 11, 1);
	EH->e_phnum = 5;
	assert_int_equal(prep_img(IMG_SIZE, NULL, &plan, NULL), 0);
	assert_true(plan.has_tls);
	assert_int_equal(plan.tls_vaddr, 0x402000);
	assert_int_equal(plan.tls_filesz, 0x10);
	assert_int_equal(plan.tls_memsz, 0x40);
	assert_int_equal(plan.tls_align, 8);
	assert_true(plan.has_interp);
	assert_string_equal(plan.interp, "/lib/ld.so");
}

/* ---------------------------------------------------------------------- */
/* Malformed images                                                        */

struct bad_case {
	const char *name;
	void (*mutate)(void);
	const char *reason;		/* substring of the reason */
	int err_phdr;			/* -2: don't care */
	u64 size;			/* 0: IMG_SIZE */
	u32 flags;			/* params.flags */
};

#define M(fn, body) static void fn(void) { body; }
M(m_magic, img[1] = 'X')
M(m_magic0, img[0] = 0x7e)
M(m_class32, img[EI_CLASS] = ELFCLASS32)
M(m_class0, img[EI_CLASS] = 0)
M(m_bigendian, img[EI_DATA] = ELFDATA2MSB)
M(m_identver, img[EI_VERSION] = 0)
M(m_version, EH->e_version = 2)
M(m_machine386, EH->e_machine = EM_386)
M(m_machinearm, EH->e_machine = EM_AARCH64)
M(m_rel, EH->e_type = ET_REL)
M(m_core, EH->e_type = ET_CORE)
M(m_typenone, EH->e_type = ET_NONE)
M(m_phentsize, EH->e_phentsize = 32)
M(m_phnum0, EH->e_phnum = 0)
M(m_phnum_many, EH->e_phnum = ELF_MAX_PHNUM + 1)
M(m_phnum_xnum, EH->e_phnum = PN_XNUM)
M(m_phoff_end, EH->e_phoff = IMG_SIZE - 100)
M(m_phoff_wrap, EH->e_phoff = ~0ULL - 10)
M(m_filesz_gt_memsz, PH[2].p_filesz = 0x3001)
M(m_data_beyond, PH[1].p_filesz = 0x2001; PH[1].p_memsz = 0x3000)
M(m_offset_wrap, PH[1].p_offset = ~0ULL - 0xfff; PH[1].p_vaddr = 0x4ff000)
M(m_align_pow2, PH[1].p_align = 0x3000)
M(m_align_huge, PH[1].p_align = 1ULL << 40)
M(m_align_mod, PH[1].p_vaddr = 0x401008; PH[1].p_align = 0x10)
M(m_page_mod, PH[1].p_vaddr = 0x401010; PH[1].p_align = 0x10)
M(m_page_mod_noalign, PH[1].p_vaddr = 0x401010; PH[1].p_align = 0)
M(m_overlap_same, PH[1].p_vaddr = 0x400000; EH->e_entry = 0x400000)
M(m_overlap_memsz, PH[0].p_memsz = 0x1001)
M(m_overlap_bss, set_ph(3, PT_LOAD, PF_R, 0x2000, 0x404000, 0x10, 0x10, 0x1000))
M(m_above_top, PH[2].p_vaddr = 0x7ffffffff000)
M(m_end_above_top, PH[2].p_vaddr = 0x7fffffffe000; PH[2].p_memsz = 0x1001)
M(m_wrap, PH[2].p_memsz = 0xffffffffffff0000ULL)
M(m_below_min, PH[0].p_vaddr = 0x1000)
M(m_entry_ro, EH->e_entry = 0x400010)
M(m_entry_nowhere, EH->e_entry = 0x900000)
M(m_entry_bss, PH[2].p_flags |= PF_X; EH->e_entry = 0x402100)
M(m_entry_zero, EH->e_entry = 0)
M(m_no_load, PH[0].p_type = PH[1].p_type = PH[2].p_type = PT_NOTE)
M(m_all_empty, PH[0].p_memsz = PH[0].p_filesz = 0; PH[1].p_memsz = PH[1].p_filesz = 0;
  PH[2].p_memsz = PH[2].p_filesz = 0)
M(m_tls, set_ph(3, PT_TLS, PF_R, 0x2000, 0x402000, 0x41, 0x40, 8))
M(m_tls_align, set_ph(3, PT_TLS, PF_R, 0x2000, 0x402000, 0x10, 0x40, 24))
M(m_phdr_out, set_ph(3, PT_PHDR, PF_R, 64, 0x500000, 4 * 56, 4 * 56, 8))
M(m_phdr_twice, set_ph(3, PT_PHDR, PF_R, 64, 0x400040, 224, 224, 8);
  set_ph(4, PT_PHDR, PF_R, 64, 0x400040, 224, 224, 8); EH->e_phnum = 5)
M(m_interp_nonul, memcpy(img + 0x300, "/lib/ld.so!", 11);
  set_ph(3, PT_INTERP, PF_R, 0x300, 0x400300, 11, 11, 1))
M(m_interp_inner_nul, memcpy(img + 0x300, "/lib\0ld.so", 11);
  set_ph(3, PT_INTERP, PF_R, 0x300, 0x400300, 11, 11, 1))
M(m_interp_short, img[0x300] = 0; set_ph(3, PT_INTERP, PF_R, 0x300, 0x400300, 1, 1, 1))
M(m_interp_long, memset(img + 0x300, 'a', 299); img[0x300 + 299] = 0;
  set_ph(3, PT_INTERP, PF_R, 0x300, 0x400300, 300, 300, 1))
M(m_interp_beyond, set_ph(3, PT_INTERP, PF_R, IMG_SIZE - 4, 0, 11, 11, 1))
M(m_interp_twice, memcpy(img + 0x300, "/lib/ld.so", 11);
  set_ph(3, PT_INTERP, PF_R, 0x300, 0x400300, 11, 11, 1);
  set_ph(4, PT_INTERP, PF_R, 0x300, 0x400300, 11, 11, 1); EH->e_phnum = 5)
M(m_none, (void)0)
M(m_as_interp_dyn_with_interp, EH->e_type = ET_DYN; memcpy(img + 0x300, "/lib/ld.so", 11);
  set_ph(3, PT_INTERP, PF_R, 0x300, 0x400300, 11, 11, 1))

static void m_many_loads(void)
{
	/* 40 one-page read-only segments after the three real ones. */
	for (int i = 0; i < 40; i++)
		set_ph(3 + i, PT_LOAD, PF_R, 0, 0x600000 + (u64)i * PG, 0x10, 0x10, PG);
	EH->e_phnum = 43;
}

static const struct bad_case bad_cases[] = {
	{ "short", m_none, "too short", -1, 40, 0 },
	{ "empty", m_none, "too short", -1, 1, 0 },
	{ "magic", m_magic, "magic", -1, 0, 0 },
	{ "magic0", m_magic0, "magic", -1, 0, 0 },
	{ "class32", m_class32, "ELFCLASS64", -1, 0, 0 },
	{ "class0", m_class0, "ELFCLASS64", -1, 0, 0 },
	{ "bigendian", m_bigendian, "little-endian", -1, 0, 0 },
	{ "identver", m_identver, "version", -1, 0, 0 },
	{ "version", m_version, "version", -1, 0, 0 },
	{ "i386", m_machine386, "wrong machine", -1, 0, 0 },
	{ "aarch64", m_machinearm, "wrong machine", -1, 0, 0 },
	{ "ET_REL", m_rel, "not an executable", -1, 0, 0 },
	{ "ET_CORE", m_core, "not an executable", -1, 0, 0 },
	{ "ET_NONE", m_typenone, "not an executable", -1, 0, 0 },
	{ "phentsize", m_phentsize, "e_phentsize", -1, 0, 0 },
	{ "phnum0", m_phnum0, "no program headers", -1, 0, 0 },
	{ "phnum_many", m_phnum_many, "too many program headers", -1, 0, 0 },
	{ "phnum_xnum", m_phnum_xnum, "too many program headers", -1, 0, 0 },
	{ "phoff_end", m_phoff_end, "truncated", -1, 0, 0 },
	{ "phoff_wrap", m_phoff_wrap, "truncated", -1, 0, 0 },
	{ "phdrs_cut", m_none, "truncated", -1, 64 + 3 * 56, 0 },
	{ "filesz>memsz", m_filesz_gt_memsz, "p_filesz > p_memsz", 2, 0, 0 },
	{ "data_beyond", m_data_beyond, "beyond the end of the file", 1, 0, 0 },
	{ "data_cut", m_none, "beyond the end of the file", 2, 0x2040, 0 },
	{ "offset_wrap", m_offset_wrap, "beyond the end of the file", 1, 0, 0 },
	{ "align_pow2", m_align_pow2, "power of two", 1, 0, 0 },
	{ "align_huge", m_align_huge, "too large", 1, 0, 0 },
	{ "align_mod", m_align_mod, "modulo p_align", 1, 0, 0 },
	{ "page_mod", m_page_mod, "modulo the page size", 1, 0, 0 },
	{ "page_mod_noalign", m_page_mod_noalign, "modulo the page size", 1, 0, 0 },
	{ "overlap_same", m_overlap_same, "overlap", 1, 0, 0 },
	{ "overlap_memsz", m_overlap_memsz, "overlap", 1, 0, 0 },
	{ "overlap_bss", m_overlap_bss, "overlap", 3, 0, 0 },
	{ "above_top", m_above_top, "user address range", 2, 0, 0 },
	{ "end_above_top", m_end_above_top, "user address range", 2, 0, 0 },
	{ "wrap", m_wrap, "user address range", 2, 0, 0 },
	{ "below_min", m_below_min, "user address range", 0, 0, 0 },
	{ "entry_ro", m_entry_ro, "entry point", -1, 0, 0 },
	{ "entry_nowhere", m_entry_nowhere, "entry point", -1, 0, 0 },
	{ "entry_bss", m_entry_bss, "entry point", -1, 0, 0 },
	{ "entry_zero", m_entry_zero, "entry point", -1, 0, 0 },
	{ "no_load", m_no_load, "no PT_LOAD", -1, 0, 0 },
	{ "all_empty", m_all_empty, "no PT_LOAD", -1, 0, 0 },
	{ "many_loads", m_many_loads, "too many PT_LOAD", 32, 0, 0 },
	{ "tls", m_tls, "PT_TLS", 3, 0, 0 },
	{ "tls_align", m_tls_align, "power of two", 3, 0, 0 },
	{ "phdr_out", m_phdr_out, "PT_PHDR", 3, 0, 0 },
	{ "phdr_twice", m_phdr_twice, "more than one PT_PHDR", 4, 0, 0 },
	{ "interp_nonul", m_interp_nonul, "NUL", 3, 0, 0 },
	{ "interp_inner_nul", m_interp_inner_nul, "NUL", 3, 0, 0 },
	{ "interp_short", m_interp_short, "PT_INTERP size", 3, 0, 0 },
	{ "interp_long", m_interp_long, "PT_INTERP size", 3, 0, 0 },
	{ "interp_beyond", m_interp_beyond, "PT_INTERP beyond", 3, 0, 0 },
	{ "interp_twice", m_interp_twice, "more than one PT_INTERP", 4, 0, 0 },
	{ "exec_as_interp", m_none, "not ET_DYN", -1, 0, ELF_LOAD_INTERP },
	{ "interp_with_interp", m_as_interp_dyn_with_interp, "PT_INTERP itself", 3, 0,
	  ELF_LOAD_INTERP },
};

static void test_malformed(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct elf_load_params lp = { .flags = c->flags };
		const char *why = NULL;
		int err;

		base_image();
		c->mutate();
		memset(&plan, 0xa5, sizeof(plan));
		err = prep_img(c->size ? c->size : IMG_SIZE, &lp, &plan, &why);
		if (err != -ENOEXEC || !why || !strstr(why, c->reason) ||
		    (c->err_phdr != -2 && plan.err_phdr != c->err_phdr))
			fail_msg("case %s: err %d reason \"%s\" phdr %d; want -ENOEXEC \"%s\" phdr %d",
				 c->name, err, why ? why : "(null)", plan.err_phdr, c->reason,
				 c->err_phdr);
	}
}

static void test_read_errors(void **state)
{
	struct mfile m;
	struct elf_file f;
	struct elf_load_params lp = { 0 };
	static u8 page[PG];
	const char *why;
	long nreads;

	base_image();
	/* Count the reads of a good prepare, then fail each in turn. */
	f = mem_file(&m, img, IMG_SIZE);
	assert_int_equal(elf_load_prepare(&f, NULL, &plan, NULL), 0);
	f = mem_file(&m, img, IMG_SIZE);
	m.fail_at_read = 1000000;
	assert_int_equal(elf_load_prepare(&f, NULL, &plan, NULL), 0);
	nreads = m.reads;
	assert_true(nreads >= 2);
	for (long k = 0; k < nreads; k++) {
		f = mem_file(&m, img, IMG_SIZE);
		m.fail_at_read = k;
		assert_int_equal(elf_load_prepare(&f, NULL, &plan, NULL), -EIO);
	}
	/* A file shorter than it claims: the loader sees EOF: -EIO. */
	f = mem_file(&m, img, IMG_SIZE);
	m.zero_after = 64;
	assert_int_equal(elf_load_prepare(&f, NULL, &plan, NULL), -EIO);

	/* fill_page: read error, unaligned, outside every region. */
	f = mem_file(&m, img, IMG_SIZE);
	assert_int_equal(elf_load_prepare(&f, NULL, &plan, NULL), 0);
	m.fail_at_read = m.reads;
	assert_int_equal(elf_load_fill_page(&plan, &f, 0x401000, page), -EIO);
	assert_int_equal(elf_load_fill_page(&plan, &f, 0x403000, page), 0);	/* bss: no read */
	assert_int_equal(elf_load_fill_page(&plan, &f, 0x401001, page), -EINVAL);
	assert_int_equal(elf_load_fill_page(&plan, &f, 0x3ff000, page), -EINVAL);
	assert_int_equal(elf_load_fill_page(&plan, &f, 0x405000, page), -EINVAL);
	assert_null(elf_load_find_region(&plan, 0x405000));
	assert_non_null(elf_load_find_region(&plan, 0x404fff));

	/* Bad parameters: -EINVAL with a reason. */
	lp.dyn_base = 0x555555554001;
	why = NULL;
	assert_int_equal(prep_img(IMG_SIZE, &lp, &plan, &why), -EINVAL);
	assert_non_null(why);
	lp = (struct elf_load_params){ .user_min = 0x20000, .user_top = 0x10000 };
	assert_int_equal(prep_img(IMG_SIZE, &lp, &plan, NULL), -EINVAL);
	lp = (struct elf_load_params){ .user_top = 0x7ffffffff001 };
	assert_int_equal(prep_img(IMG_SIZE, &lp, &plan, NULL), -EINVAL);
	assert_int_equal(elf_load_prepare(NULL, NULL, &plan, NULL), -EINVAL);
	f.read = NULL;
	assert_int_equal(elf_load_prepare(&f, NULL, &plan, NULL), -EINVAL);
	/* A narrower user range is honoured. */
	lp = (struct elf_load_params){ .user_min = 0x401000 };
	why = NULL;
	assert_int_equal(prep_img(IMG_SIZE, &lp, &plan, &why), -ENOEXEC);
	assert_non_null(strstr(why, "user address range"));
	lp = (struct elf_load_params){ .user_top = 0x404000 };
	assert_int_equal(prep_img(IMG_SIZE, &lp, &plan, NULL), -ENOEXEC);
	lp = (struct elf_load_params){ .user_top = 0x405000 };
	assert_int_equal(prep_img(IMG_SIZE, &lp, &plan, NULL), 0);
}

/* ---------------------------------------------------------------------- */
/* Layout corner cases                                                     */

static void test_shared_pages(void **state)
{
	struct mfile m;
	struct elf_file f;
	static u8 page[PG];

	/* Text ends and data starts in the same page (bytes disjoint). */
	base_image();
	set_ph(1, PT_LOAD, PF_R | PF_X, 0x1000, 0x401000, 0x800, 0x800, 0x1000);
	set_ph(2, PT_LOAD, PF_R | PF_W, 0x1800, 0x401800, 0x80, 0x3000, 0x1000);
	f = mem_file(&m, img, IMG_SIZE);
	assert_int_equal(elf_load_prepare(&f, NULL, &plan, NULL), 0);
	assert_int_equal(plan.nregion, 3);
	assert_int_equal(plan.region[1].start, 0x401000);
	assert_int_equal(plan.region[1].end, 0x402000);
	assert_int_equal(plan.region[1].flags, ELF_REGION_SHARED);
	assert_int_equal(plan.region[1].prot, ELF_PROT_READ | ELF_PROT_WRITE | ELF_PROT_EXEC);
	assert_int_equal(plan.region[2].start, 0x402000);
	assert_int_equal(plan.region[2].end, 0x405000);
	assert_int_equal(plan.region[2].flags, ELF_REGION_ANON);
	assert_int_equal(elf_load_fill_page(&plan, &f, 0x401000, page), 1);
	assert_memory_equal(page, img + 0x1000, 0x880);
	for (u32 k = 0x880; k < PG; k++)
		assert_int_equal(page[k], 0);
	check_plan_pages(&plan, &f, img);

	/* The first segment has bss inside the shared page, a gap follows:
	 * the gap shows the later segment's file window. */
	base_image();
	set_ph(1, PT_LOAD, PF_R | PF_X, 0x1000, 0x401000, 0x100, 0x700, 0x1000);
	set_ph(2, PT_LOAD, PF_R | PF_W, 0x1800, 0x401800, 0x80, 0x80, 0x1000);
	f = mem_file(&m, img, IMG_SIZE);
	assert_int_equal(elf_load_prepare(&f, NULL, &plan, NULL), 0);
	assert_int_equal(plan.nregion, 2);
	assert_int_equal(plan.region[1].seg, 2);
	assert_int_equal(elf_load_fill_page(&plan, &f, 0x401000, page), 1);
	assert_memory_equal(page, img + 0x1000, 0x100);
	for (u32 k = 0x100; k < 0x700; k++)
		assert_int_equal(page[k], 0);
	assert_memory_equal(page + 0x700, img + 0x1700, 0x180);
	for (u32 k = 0x880; k < PG; k++)
		assert_int_equal(page[k], 0);
	check_plan_pages(&plan, &f, img);

	/* Three segments in one page, the last running on with bss. */
	base_image();
	set_ph(1, PT_LOAD, PF_R | PF_X, 0x1000, 0x401000, 0x100, 0x100, 0x1000);
	set_ph(2, PT_LOAD, PF_R, 0x1200, 0x401200, 0x100, 0x100, 0x1000);
	set_ph(3, PT_LOAD, PF_R | PF_W, 0x1400, 0x401400, 0x100, 0x2000, 0x1000);
	f = mem_file(&m, img, IMG_SIZE);
	assert_int_equal(elf_load_prepare(&f, NULL, &plan, NULL), 0);
	assert_int_equal(plan.nregion, 3);
	assert_int_equal(plan.region[1].start, 0x401000);
	assert_int_equal(plan.region[1].end, 0x402000);
	assert_int_equal(plan.region[1].flags, ELF_REGION_SHARED);
	assert_int_equal(plan.region[1].prot, ELF_PROT_READ | ELF_PROT_WRITE | ELF_PROT_EXEC);
	assert_int_equal(plan.region[1].seg, 3);
	assert_int_equal(plan.region[2].start, 0x402000);
	assert_int_equal(plan.region[2].end, 0x404000);
	assert_int_equal(plan.region[2].flags, ELF_REGION_ANON);
	check_plan_pages(&plan, &f, img);

	/* A multi-page segment sharing its last page with a bss-only one. */
	base_image();
	set_ph(1, PT_LOAD, PF_R | PF_X, 0x1000, 0x401000, 0x1100, 0x1100, 0x1000);
	set_ph(2, PT_LOAD, PF_R | PF_W, 0x2200, 0x402200, 0, 0x3000, 0x1000);
	f = mem_file(&m, img, IMG_SIZE);
	assert_int_equal(elf_load_prepare(&f, NULL, &plan, NULL), 0);
	assert_int_equal(plan.nregion, 4);
	assert_int_equal(plan.region[1].start, 0x401000);
	assert_int_equal(plan.region[1].end, 0x402000);
	assert_int_equal(plan.region[1].flags, 0);
	assert_int_equal(plan.region[2].start, 0x402000);
	assert_int_equal(plan.region[2].flags, ELF_REGION_SHARED);
	assert_int_equal(plan.region[3].start, 0x403000);
	assert_int_equal(plan.region[3].end, 0x406000);
	assert_int_equal(plan.region[3].flags, ELF_REGION_ANON);
	assert_int_equal(elf_load_fill_page(&plan, &f, 0x402000, page), 1);
	assert_memory_equal(page, img + 0x2000, 0x100);
	for (u32 k = 0x100; k < PG; k++)
		assert_int_equal(page[k], 0);
	check_plan_pages(&plan, &f, img);

	/* Two bss-only segments sharing a page: an anonymous shared page. */
	base_image();
	set_ph(2, PT_LOAD, PF_R | PF_W, 0x2000, 0x402000, 0, 0x800, 0x1000);
	set_ph(3, PT_LOAD, PF_R, 0x2800, 0x402800, 0, 0x1000, 0x1000);
	f = mem_file(&m, img, IMG_SIZE);
	assert_int_equal(elf_load_prepare(&f, NULL, &plan, NULL), 0);
	assert_int_equal(plan.nregion, 4);
	assert_int_equal(plan.region[2].flags, ELF_REGION_ANON | ELF_REGION_SHARED);
	assert_int_equal(plan.region[2].prot, ELF_PROT_READ | ELF_PROT_WRITE);
	assert_int_equal(plan.region[3].start, 0x403000);
	assert_int_equal(plan.region[3].end, 0x404000);
	assert_int_equal(plan.region[3].prot, ELF_PROT_READ);
	check_plan_pages(&plan, &f, img);

	/* Segments listed out of order are sorted. */
	base_image();
	{
		struct elf64_phdr t = PH[0];

		PH[0] = PH[2];
		PH[2] = t;
	}
	f = mem_file(&m, img, IMG_SIZE);
	assert_int_equal(elf_load_prepare(&f, NULL, &plan, NULL), 0);
	assert_int_equal(plan.load[0].vaddr, 0x400000);
	assert_int_equal(plan.load[0].phdr_index, 2);
	assert_int_equal(plan.load[2].phdr_index, 0);
	check_plan_pages(&plan, &f, img);
}

static void make_dyn(u64 lo)
{
	base_image();
	EH->e_type = ET_DYN;
	EH->e_entry = lo + 0x1000;
	PH[0].p_vaddr = lo;
	PH[1].p_vaddr = lo + 0x1000;
	PH[2].p_vaddr = lo + 0x2000;
}

static void test_dyn_bias(void **state)
{
	struct mfile m;
	struct elf_file f;
	struct elf_load_params lp = { 0 };

	make_dyn(0);
	f = mem_file(&m, img, IMG_SIZE);
	assert_int_equal(elf_load_prepare(&f, NULL, &plan, NULL), 0);
	assert_int_equal(plan.e_type, ET_DYN);
	assert_int_equal(plan.load_bias, ELF_ET_DYN_BASE);
	assert_int_equal(plan.load_start, ELF_ET_DYN_BASE);
	assert_int_equal(plan.entry, ELF_ET_DYN_BASE + 0x1000);
	assert_int_equal(plan.phdr_addr, ELF_ET_DYN_BASE + 64);
	assert_int_equal(plan.brk, ELF_ET_DYN_BASE + 0x5000);
	check_plan_pages(&plan, &f, img);

	lp.dyn_base = 0x7f0000000000;
	assert_int_equal(elf_load_prepare(&f, &lp, &plan, NULL), 0);
	assert_int_equal(plan.load_start, 0x7f0000000000);
	assert_int_equal(plan.region[1].start, 0x7f0000001000);

	/* Linked at a high address: placed at the base all the same. */
	make_dyn(0x10000000);
	assert_int_equal(elf_load_prepare(&f, &lp, &plan, NULL), 0);
	assert_int_equal(plan.load_start, 0x7f0000000000);
	assert_int_equal(plan.load_bias, 0x7f0000000000 - 0x10000000);
	assert_int_equal(plan.entry, 0x7f0000001000);
	/* Linked above the base: a "negative" bias. */
	make_dyn(0x7ff000000000);
	lp.dyn_base = 0x10000000;
	assert_int_equal(elf_load_prepare(&f, &lp, &plan, NULL), 0);
	assert_int_equal(plan.load_start, 0x10000000);
	assert_int_equal(plan.entry, 0x10001000);
	check_plan_pages(&plan, &f, img);

	/* A 2 MiB p_align rounds the base up. */
	make_dyn(0);
	PH[1].p_align = 0x200000;
	lp.dyn_base = 0x7f0000001000;
	assert_int_equal(elf_load_prepare(&f, &lp, &plan, NULL), 0);
	assert_int_equal(plan.load_bias, 0x7f0000200000);
	assert_int_equal(plan.load_bias % 0x200000, 0);

	/* ET_EXEC ignores dyn_base. */
	base_image();
	assert_int_equal(elf_load_prepare(&f, &lp, &plan, NULL), 0);
	assert_int_equal(plan.load_bias, 0);
	assert_int_equal(plan.load_start, 0x400000);

	/* A base too close to the top: out of range. */
	make_dyn(0);
	lp.dyn_base = ELF_USER_TOP - 0x2000;
	assert_int_equal(elf_load_prepare(&f, &lp, &plan, NULL), -ENOEXEC);

	/* As an interpreter. */
	make_dyn(0);
	lp = (struct elf_load_params){ .dyn_base = 0x7ffff7fc0000, .flags = ELF_LOAD_INTERP };
	assert_int_equal(elf_load_prepare(&f, &lp, &plan, NULL), 0);
	assert_int_equal(plan.load_bias, 0x7ffff7fc0000);
	assert_int_equal(plan.entry, 0x7ffff7fc1000);
}

/* ---------------------------------------------------------------------- */
/* The initial stack                                                       */

#define STK_BUF (64 * 1024)
static u8 stk[STK_BUF];

static u64 rd64(const u8 *p)
{
	u64 v;

	memcpy(&v, p, 8);
	return v;
}

struct pstack {
	u64 argc;
	u64 argv[64];
	u64 envc;
	u64 envp[64];
	u32 nauxv;
	u64 aux[32][2];
	u64 end;			/* address after AT_NULL */
};

static const u8 *at(u64 top, u64 a)
{
	assert_true(a < top && top - a <= STK_BUF);
	return stk + STK_BUF - (top - a);
}

static void parse_stack(u64 top, u64 rsp, struct pstack *ps)
{
	u64 a = rsp;

	memset(ps, 0, sizeof(*ps));
	ps->argc = rd64(at(top, a));
	a += 8;
	assert_true(ps->argc <= 64);
	for (u64 i = 0; i < ps->argc; i++, a += 8)
		ps->argv[i] = rd64(at(top, a));
	assert_int_equal(rd64(at(top, a)), 0);
	a += 8;
	while (rd64(at(top, a))) {
		assert_true(ps->envc < 64);
		ps->envp[ps->envc++] = rd64(at(top, a));
		a += 8;
	}
	a += 8;
	for (;;) {
		assert_true(ps->nauxv < 32);
		ps->aux[ps->nauxv][0] = rd64(at(top, a));
		ps->aux[ps->nauxv][1] = rd64(at(top, a + 8));
		a += 16;
		if (ps->aux[ps->nauxv++][0] == AT_NULL)
			break;
	}
	ps->end = a;
}

static u64 auxval(const struct pstack *ps, u64 type)
{
	for (u32 i = 0; i < ps->nauxv; i++)
		if (ps->aux[i][0] == type)
			return ps->aux[i][1];
	fail_msg("auxv type %llu missing", (unsigned long long)type);
	return 0;
}

static const u8 rnd16[16] = { 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe,
			      0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

static void test_stack_layout(void **state)
{
	static const char *const argv[] = { "/bin/prog", "-x", "", "a longer argument" };
	static const char *const envp[] = { "HOME=/", "PATH=/bin:/usr/bin", "LEGO=1" };
	const u64 top = 0x7ffffffff000;
	struct elf_stack_params sp = {
		.stack_top = top, .argv = argv, .argc = 4, .envp = envp, .envc = 3,
		.execfn = "/bin/prog", .random = rnd16, .uid = 1000, .euid = 1001,
		.gid = 1002, .egid = 1003, .secure = 0, .hwcap = 0x178bfbff, .hwcap2 = 2,
	};
	static const u64 order[] = { AT_HWCAP, AT_PAGESZ, AT_CLKTCK, AT_PHDR, AT_PHENT,
				     AT_PHNUM, AT_BASE, AT_FLAGS, AT_ENTRY, AT_UID, AT_EUID,
				     AT_GID, AT_EGID, AT_SECURE, AT_RANDOM, AT_HWCAP2,
				     AT_EXECFN, AT_PLATFORM, AT_NULL };
	struct elf_stack_info si;
	struct pstack ps;
	u64 a;

	base_image();
	assert_int_equal(prep_img(IMG_SIZE, NULL, &plan, NULL), 0);
	memset(stk, 0xaa, sizeof(stk));
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, STK_BUF, &si), 0);
	assert_int_equal(si.rsp % 16, 0);
	assert_int_equal(si.size, top - si.rsp);
	assert_int_equal(si.entry, 0x401000);
	assert_int_equal(si.argv_addr, si.rsp + 8);
	assert_int_equal(si.envp_addr, si.rsp + 8 + 5 * 8);
	/* Untouched below rsp. */
	for (u64 i = 0; i < STK_BUF - si.size; i++)
		assert_int_equal(stk[i], 0xaa);

	parse_stack(top, si.rsp, &ps);
	assert_int_equal(ps.argc, 4);
	assert_int_equal(ps.envc, 3);
	assert_int_equal(si.auxv_addr, si.rsp + 8 * (1 + 5 + 4));
	assert_int_equal(ps.nauxv, ARRAY_SIZE(order));
	assert_int_equal(si.nauxv, ps.nauxv);
	for (u32 i = 0; i < ps.nauxv; i++)
		assert_int_equal(ps.aux[i][0], order[i]);
	assert_int_equal(auxval(&ps, AT_HWCAP), 0x178bfbff);
	assert_int_equal(auxval(&ps, AT_HWCAP2), 2);
	assert_int_equal(auxval(&ps, AT_PAGESZ), 4096);
	assert_int_equal(auxval(&ps, AT_CLKTCK), 100);
	assert_int_equal(auxval(&ps, AT_PHDR), 0x400040);
	assert_int_equal(auxval(&ps, AT_PHENT), 56);
	assert_int_equal(auxval(&ps, AT_PHNUM), 4);
	assert_int_equal(auxval(&ps, AT_BASE), 0);
	assert_int_equal(auxval(&ps, AT_FLAGS), 0);
	assert_int_equal(auxval(&ps, AT_ENTRY), 0x401000);
	assert_int_equal(auxval(&ps, AT_UID), 1000);
	assert_int_equal(auxval(&ps, AT_EUID), 1001);
	assert_int_equal(auxval(&ps, AT_GID), 1002);
	assert_int_equal(auxval(&ps, AT_EGID), 1003);
	assert_int_equal(auxval(&ps, AT_SECURE), 0);
	assert_int_equal(auxval(&ps, AT_RANDOM), si.random_addr);
	assert_int_equal(auxval(&ps, AT_EXECFN), si.execfn_addr);
	assert_int_equal(auxval(&ps, AT_PLATFORM), si.platform_addr);
	assert_memory_equal(at(top, si.random_addr), rnd16, 16);
	assert_string_equal((const char *)at(top, si.platform_addr), "x86_64");
	assert_string_equal((const char *)at(top, si.execfn_addr), "/bin/prog");

	/* Strings: argv then envp then execfn, packed, ending 8 below top. */
	a = si.strings_addr;
	for (u32 i = 0; i < 4; i++) {
		assert_int_equal(ps.argv[i], a);
		assert_string_equal((const char *)at(top, a), argv[i]);
		a += strlen(argv[i]) + 1;
	}
	for (u32 i = 0; i < 3; i++) {
		assert_int_equal(ps.envp[i], a);
		assert_string_equal((const char *)at(top, a), envp[i]);
		a += strlen(envp[i]) + 1;
	}
	assert_int_equal(si.execfn_addr, a);
	a += strlen("/bin/prog") + 1;
	assert_int_equal(a, top - 8);
	assert_int_equal(rd64(at(top, top - 8)), 0);
	/* Platform just below the 16-aligned strings, random just below it,
	 * zero padding between the auxv end and the random bytes. */
	assert_int_equal(si.platform_addr + 7, si.strings_addr & ~15ULL);
	assert_int_equal(si.random_addr + 16, si.platform_addr);
	assert_true(ps.end <= si.random_addr);
	assert_true(si.random_addr - ps.end < 16);
	for (a = ps.end; a < si.random_addr; a++)
		assert_int_equal(*at(top, a), 0);
	for (a = si.platform_addr + 7; a < si.strings_addr; a++)
		assert_int_equal(*at(top, a), 0);

	/* Optional entries come first; an interpreter gives AT_BASE and rip. */
	make_dyn(0);
	{
		struct elf_load_params ip = { .dyn_base = 0x7ffff7fc0000, .flags = ELF_LOAD_INTERP };

		assert_int_equal(prep_img(IMG_SIZE, &ip, &plan2, NULL), 0);
	}
	sp.sysinfo_ehdr = 0x7ffff7fbe000;
	sp.minsigstksz = 0xd30;
	sp.platform = "x86_64-lego";
	sp.clktck = 1000;
	sp.secure = 1;
	memset(stk, 0xaa, sizeof(stk));
	assert_int_equal(elf_build_stack(&sp, &plan, &plan2, stk, STK_BUF, &si), 0);
	parse_stack(top, si.rsp, &ps);
	assert_int_equal(ps.aux[0][0], AT_SYSINFO_EHDR);
	assert_int_equal(ps.aux[0][1], 0x7ffff7fbe000);
	assert_int_equal(ps.aux[1][0], AT_MINSIGSTKSZ);
	assert_int_equal(ps.aux[1][1], 0xd30);
	assert_int_equal(ps.nauxv, ARRAY_SIZE(order) + 2);
	assert_int_equal(auxval(&ps, AT_BASE), 0x7ffff7fc0000);
	assert_int_equal(auxval(&ps, AT_ENTRY), 0x401000);
	assert_int_equal(auxval(&ps, AT_CLKTCK), 1000);
	assert_int_equal(auxval(&ps, AT_SECURE), 1);
	assert_int_equal(si.entry, 0x7ffff7fc1000);
	assert_string_equal((const char *)at(top, si.platform_addr), "x86_64-lego");
	assert_int_equal(si.rsp % 16, 0);
}

/* rsp stays 16-aligned for every parity of the counts and string sizes. */
static void test_stack_alignment(void **state)
{
	static const char *const strs[] = { "a", "bb", "ccc", "dddd", "eeeee", "ffffff",
					    "ggggggg", "hhhhhhhh", "iiiiiiiii" };
	const u64 top = 0x7fffffffe000;

	base_image();
	assert_int_equal(prep_img(IMG_SIZE, NULL, &plan, NULL), 0);
	for (u32 argc = 0; argc <= 5; argc++)
		for (u32 envc = 0; envc <= 4; envc++)
			for (u32 fl = 0; fl < 17; fl++) {
				char fn[32];
				struct elf_stack_params sp = {
					.stack_top = top, .argv = strs, .argc = argc,
					.envp = strs + 4, .envc = envc, .execfn = fn,
					.random = rnd16,
				};
				struct elf_stack_info si;
				struct pstack ps;

				memset(fn, 'x', fl);
				fn[fl] = 0;
				assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, STK_BUF,
								 &si), 0);
				assert_int_equal(si.rsp % 16, 0);
				parse_stack(top, si.rsp, &ps);
				assert_int_equal(ps.argc, argc);
				assert_int_equal(ps.envc, envc);
				for (u32 i = 0; i < argc; i++)
					assert_string_equal((const char *)at(top, ps.argv[i]),
							    strs[i]);
				for (u32 i = 0; i < envc; i++)
					assert_string_equal((const char *)at(top, ps.envp[i]),
							    strs[4 + i]);
				assert_string_equal((const char *)at(top, auxval(&ps, AT_EXECFN)),
						    fn);
			}
}

static void test_stack_limits(void **state)
{
	static const char *const argv[] = { "prog", "arg" };
	static const char *const envp[] = { "A=1" };
	const char *nullv[] = { "x", NULL };
	const u64 top = 0x7ffffffff000;
	struct elf_stack_params sp = {
		.stack_top = top, .argv = argv, .argc = 2, .envp = envp, .envc = 1,
		.execfn = "prog", .random = rnd16,
	};
	struct elf_stack_info si;
	/* strings 5 + 4 + 4 + execfn 5, pointers 8 * (2 + 1 + 2) */
	const u64 need = 5 + 4 + 4 + 5 + 8 * 5;
	char *big;
	u64 size;

	base_image();
	assert_int_equal(prep_img(IMG_SIZE, NULL, &plan, NULL), 0);
	sp.arg_max = need;
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, STK_BUF, &si), 0);
	size = si.size;
	sp.arg_max = need - 1;
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, STK_BUF, &si), -E2BIG);
	sp.arg_max = 0;

	/* The buffer: exactly enough works, one byte less does not. */
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, size, &si), 0);
	assert_int_equal(si.size, size);
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, size - 1, &si), -E2BIG);
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, NULL, 0, &si), -E2BIG);
	/* Not enough address space below stack_top. */
	sp.stack_top = 0x40;
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, STK_BUF, &si), -E2BIG);
	sp.stack_top = top;

	/* A string may take ELF_ARG_STRLEN_MAX bytes with its NUL, not more. */
	big = malloc(ELF_ARG_STRLEN_MAX + 1);
	assert_non_null(big);
	memset(big, 'y', ELF_ARG_STRLEN_MAX);
	big[ELF_ARG_STRLEN_MAX] = 0;
	{
		const char *bargv[] = { "prog", big };
		static u8 bbuf[512 * 1024];

		sp.argv = bargv;
		sp.arg_max = 1ULL << 30;
		assert_int_equal(elf_build_stack(&sp, &plan, NULL, bbuf, sizeof(bbuf), &si), -E2BIG);
		big[ELF_ARG_STRLEN_MAX - 1] = 0;
		assert_int_equal(elf_build_stack(&sp, &plan, NULL, bbuf, sizeof(bbuf), &si), 0);
		sp.execfn = big;
		assert_int_equal(elf_build_stack(&sp, &plan, NULL, bbuf, sizeof(bbuf), &si), 0);
		big[ELF_ARG_STRLEN_MAX - 1] = 'y';
		assert_int_equal(elf_build_stack(&sp, &plan, NULL, bbuf, sizeof(bbuf), &si), -E2BIG);
		sp.execfn = "prog";
		/* The default limit (2 MiB) counts the environment too. */
		big[ELF_ARG_STRLEN_MAX - 1] = 0;
		{
			const char *many[20];

			for (int i = 0; i < 20; i++)
				many[i] = big;
			sp.argv = argv;
			sp.envp = many;
			sp.envc = 20;
			sp.arg_max = 0;
			assert_int_equal(elf_build_stack(&sp, &plan, NULL, bbuf, sizeof(bbuf), &si),
					 -E2BIG);
			sp.envc = 15;	/* under 2 MiB, but not in a 512 KiB buffer */
			assert_int_equal(elf_build_stack(&sp, &plan, NULL, bbuf, sizeof(bbuf), &si),
					 -E2BIG);
			sp.envc = 1;
			assert_int_equal(elf_build_stack(&sp, &plan, NULL, bbuf, sizeof(bbuf), &si), 0);
		}
	}
	free(big);
	sp.argv = argv;
	sp.envp = envp;
	sp.envc = 1;

	/* Bad parameters. */
	sp.stack_top = top - 8;
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, STK_BUF, &si), -EINVAL);
	sp.stack_top = top;
	sp.execfn = NULL;
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, STK_BUF, &si), -EINVAL);
	sp.execfn = "prog";
	sp.random = NULL;
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, STK_BUF, &si), -EINVAL);
	sp.random = rnd16;
	sp.argv = nullv;
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, STK_BUF, &si), -EINVAL);
	sp.argv = NULL;
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, STK_BUF, &si), -EINVAL);
	sp.argc = 0;
	sp.envp = NULL;
	sp.envc = 0;
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, STK_BUF, &si), 0);
	assert_int_equal(rd64(stk + STK_BUF - si.size), 0);	/* argc 0 */
	assert_int_equal(elf_build_stack(&sp, NULL, NULL, stk, STK_BUF, &si), -EINVAL);
	assert_int_equal(elf_build_stack(NULL, &plan, NULL, stk, STK_BUF, &si), -EINVAL);
}

/* The host kernel's own auxv (this process's) holds the same types in the
 * same order: checks our AT_* numbers and order against Linux. */
static void test_auxv_matches_host(void **state)
{
	u64 kaux[64][2];
	int nk = 0, fd = open("/proc/self/auxv", O_RDONLY);
	ssize_t n;
	struct elf_stack_params sp = {
		.stack_top = 0x7ffffffff000, .execfn = "x", .random = rnd16,
		.sysinfo_ehdr = 1, .minsigstksz = 1,
	};
	struct elf_stack_info si;
	struct pstack ps;
	int last = -1;
	bool has_vdso = false, has_minsig = false;

	if (fd < 0)
		SKIP_CASE("  SKIPPED: /proc/self/auxv unreadable\n");
	n = read(fd, kaux, sizeof(kaux));
	close(fd);
	assert_true(n > 0 && n % 16 == 0);
	nk = (int)(n / 16);
	for (int i = 0; i < nk; i++) {
		has_vdso |= kaux[i][0] == AT_SYSINFO_EHDR;
		has_minsig |= kaux[i][0] == AT_MINSIGSTKSZ;
		if (kaux[i][0] == AT_PAGESZ)
			assert_int_equal(kaux[i][1], 4096);
		if (kaux[i][0] == AT_PHENT)
			assert_int_equal(kaux[i][1], 56);
		if (kaux[i][0] == AT_UID)
			assert_int_equal(kaux[i][1], getuid());
		if (kaux[i][0] == AT_EGID)
			assert_int_equal(kaux[i][1], getegid());
		if (kaux[i][0] == AT_PLATFORM)
			assert_string_equal((const char *)(uintptr_t)kaux[i][1], ELF_PLATFORM);
		if (kaux[i][0] == AT_RANDOM)
			assert_true(kaux[i][1] != 0);
		if (kaux[i][0] == AT_PHDR)
			assert_true(kaux[i][1] != 0);
	}
	if (!has_vdso)
		sp.sysinfo_ehdr = 0;
	if (!has_minsig)
		sp.minsigstksz = 0;

	base_image();
	assert_int_equal(prep_img(IMG_SIZE, NULL, &plan, NULL), 0);
	assert_int_equal(elf_build_stack(&sp, &plan, NULL, stk, STK_BUF, &si), 0);
	parse_stack(sp.stack_top, si.rsp, &ps);
	for (u32 i = 0; i < ps.nauxv; i++) {
		int k;

		for (k = 0; k < nk && kaux[k][0] != ps.aux[i][0]; k++)
			;
		if (k == nk)
			fail_msg("auxv type %llu not in the host kernel's auxv",
				 (unsigned long long)ps.aux[i][0]);
		if (k <= last)
			fail_msg("auxv type %llu out of the host kernel's order",
				 (unsigned long long)ps.aux[i][0]);
		last = k;
	}
	assert_int_equal(last, nk - 1);		/* AT_NULL last in both */
}

/* ---------------------------------------------------------------------- */
/* Real programs                                                           */

static char tmpdir[64];

enum prog { P_BUSYBOX, P_GSTATIC, P_GSPIE, P_GDYN, P_MSTATIC, P_MSPIE, P_MDYN, P_NPROG };
static const char *const prog_name[P_NPROG] = {
	"busybox", "glibc-static", "glibc-static-pie", "glibc-dynamic", "musl-static",
	"musl-static-pie", "musl-dynamic",
};
static char prog_path[P_NPROG][128];
static const char *prog_why[P_NPROG];

/* The test program: prints what it sees of its start-up state. */
static const char guest_src[] =
	"#include <stdio.h>\n"
	"#include <stdlib.h>\n"
	"#include <string.h>\n"
	"#include <elf.h>\n"
	"#include <sys/auxv.h>\n"
	"extern char **environ;\n"
	"extern const char __ehdr_start[];\n"
	"extern void _start(void);\n"
	"static __thread int tls_val = 1234;\n"
	"static __thread char tls_zero[256];\n"
	"static int data_val = 0x5a5a;\n"
	"static char bss_buf[200000];\n"
	"int main(int argc, char **argv)\n"
	"{\n"
	"	const Elf64_Ehdr *eh = (const void *)__ehdr_start;\n"
	"	const unsigned char *r = (const void *)getauxval(AT_RANDOM);\n"
	"	int nz = 0;\n"
	"	char *m;\n"
	"	for (size_t i = 0; i < sizeof(bss_buf); i++) nz |= bss_buf[i];\n"
	"	for (size_t i = 0; i < sizeof(tls_zero); i++) nz |= tls_zero[i];\n"
	"	printf(\"argc=%d\\n\", argc);\n"
	"	for (int i = 0; i < argc; i++) printf(\"argv=%s\\n\", argv[i]);\n"
	"	for (char **e = environ; *e; e++) printf(\"env=%s\\n\", *e);\n"
	"	printf(\"random=\");\n"
	"	for (int i = 0; i < 16; i++) printf(\"%02x\", r[i]);\n"
	"	printf(\"\\nexecfn=%s\\nplatform=%s\\n\", (const char *)getauxval(AT_EXECFN),\n"
	"	       (const char *)getauxval(AT_PLATFORM));\n"
	"	printf(\"ids=%lu,%lu,%lu,%lu\\n\", getauxval(AT_UID), getauxval(AT_EUID),\n"
	"	       getauxval(AT_GID), getauxval(AT_EGID));\n"
	"	printf(\"pagesz=%lu clktck=%lu phent=%lu\\n\", getauxval(AT_PAGESZ),\n"
	"	       getauxval(AT_CLKTCK), getauxval(AT_PHENT));\n"
	"	printf(\"phdr=%d phnum=%d entry=%d\\n\",\n"
	"	       getauxval(AT_PHDR) == (unsigned long)__ehdr_start + eh->e_phoff,\n"
	"	       getauxval(AT_PHNUM) == eh->e_phnum,\n"
	"	       getauxval(AT_ENTRY) == (unsigned long)&_start);\n"
	"	m = malloc(1 << 20);\n"
	"	memset(m, 1, 1 << 20);\n"
	"	free(m);\n"
	"	printf(\"tls=%d data=%x zero=%d\\ndone\\n\", tls_val, data_val, nz);\n"
	"	return 42;\n"
	"}\n";

static bool have(const char *tool)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

static void build_prog(enum prog p, const char *tool, const char *cmd_fmt)
{
	char cmd[1024];

	snprintf(prog_path[p], sizeof(prog_path[p]), "%s/%s", tmpdir, prog_name[p]);
	if (!have(tool)) {
		prog_why[p] = "compiler not installed";
		return;
	}
	snprintf(cmd, sizeof(cmd), cmd_fmt, prog_path[p], tmpdir);
	if (system(cmd) != 0)
		prog_why[p] = "build failed";
}

static int group_setup(void **state)
{
	char src[128];
	FILE *f;

	strcpy(tmpdir, "/tmp/lego-elf-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(src, sizeof(src), "%s/guest.c", tmpdir);
	f = fopen(src, "w");
	if (!f)
		return -1;
	fputs(guest_src, f);
	fclose(f);

	strcpy(prog_path[P_BUSYBOX], "/bin/busybox");
	if (access(prog_path[P_BUSYBOX], R_OK) != 0)
		prog_why[P_BUSYBOX] = "/bin/busybox missing (busybox-static)";
	build_prog(P_GSTATIC, "gcc", "gcc -O1 -static -o %s %s/guest.c 2>/dev/null");
	build_prog(P_GSPIE, "gcc", "gcc -O1 -static-pie -o %s %s/guest.c 2>/dev/null");
	build_prog(P_GDYN, "gcc", "gcc -O1 -fPIE -pie -o %s %s/guest.c 2>/dev/null");
	build_prog(P_MSTATIC, "musl-gcc", "musl-gcc -O1 -static -o %s %s/guest.c 2>/dev/null");
	/* musl-gcc's specs know no -static-pie: link rcrt1.o by hand. */
	build_prog(P_MSPIE, "musl-gcc",
		   "M=/usr/lib/x86_64-linux-musl; musl-gcc -O1 -fPIE -nostartfiles -static-pie "
		   "-Wl,-static,-pie,--no-dynamic-linker,-z,text -o %s $M/rcrt1.o $M/crti.o "
		   "$(gcc -print-file-name=crtbeginS.o) %s/guest.c "
		   "$(gcc -print-file-name=crtendS.o) $M/crtn.o 2>/dev/null");
	build_prog(P_MDYN, "musl-gcc", "musl-gcc -O1 -fPIE -pie -o %s %s/guest.c 2>/dev/null");
	return 0;
}

static int group_teardown(void **state)
{
	DIR *d = tmpdir[0] ? opendir(tmpdir) : NULL;
	struct dirent *e;
	char path[384];

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
			unlink(path);
		}
	closedir(d);
	return rmdir(tmpdir) ? -1 : 0;
}

static bool missing(enum prog p)
{
	if (prog_why[p])
		print_message("  SKIPPED: %s: %s\n", prog_name[p], prog_why[p]);
	return prog_why[p] != NULL;
}

/* `readelf -lW` facts of a file. */
struct relf {
	u64 entry, phoff;
	int phnum;
	int nload;
	struct { u64 off, vaddr, filesz, memsz; u32 flags; } load[ELF_MAX_LOAD];
	char interp[ELF_INTERP_MAX];
	bool tls, gnu_stack, gnu_stack_x;
	u64 tls_vaddr, tls_memsz;
	bool phdr;
	u64 phdr_vaddr;
	const char *type;
};

static bool run_readelf(const char *path, struct relf *r)
{
	char cmd[256], line[512];
	FILE *p;

	memset(r, 0, sizeof(*r));
	if (!have("readelf"))
		return false;
	snprintf(cmd, sizeof(cmd), "LC_ALL=C readelf -lW %s", path);
	p = popen(cmd, "r");
	assert_non_null(p);
	while (fgets(line, sizeof(line), p)) {
		char type[32], rest[128];
		unsigned long long off, va, pa, fs, ms;
		char *s;

		if (sscanf(line, "Entry point 0x%llx", &va) == 1)
			r->entry = va;
		else if (sscanf(line, "There are %d program headers, starting at offset %llu",
				&r->phnum, &off) == 2)
			r->phoff = off;
		else if (strstr(line, "Elf file type is EXEC"))
			r->type = "EXEC";
		else if (strstr(line, "Elf file type is DYN"))
			r->type = "DYN";
		else if ((s = strstr(line, "[Requesting program interpreter: "))) {
			s += strlen("[Requesting program interpreter: ");
			snprintf(r->interp, sizeof(r->interp), "%.*s", (int)strcspn(s, "]"), s);
		} else if (sscanf(line, " %31s 0x%llx 0x%llx 0x%llx 0x%llx 0x%llx %127[^\n]", type,
				  &off, &va, &pa, &fs, &ms, rest) == 7) {
			/* rest: flags ("R E", "RW ", ...) then the alignment */
			char *al = strstr(rest, "0x");
			u32 fl = 0;

			for (char *c = rest; c < (al ? al : rest + strlen(rest)); c++)
				fl |= *c == 'R' ? PF_R : *c == 'W' ? PF_W : *c == 'E' ? PF_X : 0;
			if (!strcmp(type, "LOAD")) {
				assert_true(r->nload < ELF_MAX_LOAD);
				r->load[r->nload].off = off;
				r->load[r->nload].vaddr = va;
				r->load[r->nload].filesz = fs;
				r->load[r->nload].memsz = ms;
				r->load[r->nload++].flags = fl;
			} else if (!strcmp(type, "TLS")) {
				r->tls = true;
				r->tls_vaddr = va;
				r->tls_memsz = ms;
			} else if (!strcmp(type, "GNU_STACK")) {
				r->gnu_stack = true;
				r->gnu_stack_x = fl & PF_X;
			} else if (!strcmp(type, "PHDR")) {
				r->phdr = true;
				r->phdr_vaddr = va;
			}
		}
	}
	assert_int_equal(pclose(p), 0);
	return r->nload > 0;
}

/* Prepare a real file and check the plan against readelf and the bytes. */
static void check_real(const char *path, const char *want_type, bool want_interp)
{
	struct relf r;
	u64 size;
	u8 *data = slurp(path, &size);
	struct mfile m;
	struct elf_file f;
	const char *why = NULL;
	int n = 0;

	assert_non_null(data);
	f = mem_file(&m, data, size);
	if (elf_load_prepare(&f, NULL, &plan, &why))
		fail_msg("%s: %s", path, why);
	if (!run_readelf(path, &r)) {
		print_message("  readelf missing: only the page checks for %s\n", path);
	} else {
		u64 b = plan.load_bias;

		assert_string_equal(r.type, want_type);
		assert_int_equal(plan.e_type, !strcmp(want_type, "EXEC") ? ET_EXEC : ET_DYN);
		assert_int_equal(plan.entry, r.entry + b);
		assert_int_equal(plan.phnum, r.phnum);
		for (int i = 0; i < r.nload; i++) {
			if (!r.load[i].memsz)
				continue;
			assert_true((u32)n < plan.nload);
			assert_int_equal(plan.load[n].vaddr, r.load[i].vaddr + b);
			assert_int_equal(plan.load[n].offset, r.load[i].off);
			assert_int_equal(plan.load[n].filesz, r.load[i].filesz);
			assert_int_equal(plan.load[n].memsz, r.load[i].memsz);
			assert_int_equal(plan.load[n].flags, r.load[i].flags);
			n++;
		}
		assert_int_equal(plan.nload, n);
		/* AT_PHDR: PT_PHDR, else the segment holding e_phoff. */
		if (r.phdr) {
			assert_int_equal(plan.phdr_addr, r.phdr_vaddr + b);
		} else {
			bool found = false;

			for (int i = 0; i < r.nload && !found; i++)
				if (r.phoff >= r.load[i].off &&
				    r.phoff + (u64)r.phnum * 56 <= r.load[i].off + r.load[i].filesz) {
					assert_int_equal(plan.phdr_addr,
							 r.load[i].vaddr + b + r.phoff - r.load[i].off);
					found = true;
				}
			assert_true(found);
		}
		/* The program headers are really there in memory. */
		{
			static u8 pg[PG];
			u64 pa = plan.phdr_addr;

			assert_int_equal(elf_load_fill_page(&plan, &f, pa & ELF_PAGE_MASK, pg), 1);
			assert_true((pa & (PG - 1)) + 56 <= PG);
			assert_memory_equal(pg + (pa & (PG - 1)), data + r.phoff, 56);
		}
		assert_int_equal(plan.has_tls, r.tls);
		if (r.tls) {
			assert_int_equal(plan.tls_vaddr, r.tls_vaddr + b);
			assert_int_equal(plan.tls_memsz, r.tls_memsz);
		}
		assert_int_equal(plan.has_gnu_stack, r.gnu_stack);
		assert_int_equal(plan.exec_stack, !r.gnu_stack || r.gnu_stack_x);
		assert_int_equal(plan.has_interp, r.interp[0] != 0);
		if (r.interp[0])
			assert_string_equal(plan.interp, r.interp);
		/* brk: page-aligned end of the highest segment. */
		{
			u64 hi = 0;

			for (int i = 0; i < r.nload; i++)
				hi = MAX(hi, r.load[i].vaddr + r.load[i].memsz);
			assert_int_equal(plan.brk, ALIGN_UP(hi + b, PG));
		}
	}
	assert_int_equal(plan.has_interp, want_interp);
	if (plan.e_type == ET_DYN)
		assert_int_equal(plan.load_start, ELF_ET_DYN_BASE);
	check_plan_pages(&plan, &f, data);

	/* Truncated copies of a real file are refused, never crash; past the
	 * last byte any segment or header needs, the cut does not matter. */
	{
		u64 needed = 64 + (u64)plan.phnum * 56;

		for (u32 i = 0; i < plan.nload; i++)
			needed = MAX(needed, plan.load[i].offset + plan.load[i].filesz);
		for (u64 cut = 0; cut < size; cut += size / 61 + 1) {
			int err;

			f = mem_file(&m, data, cut);
			err = elf_load_prepare(&f, NULL, &plan2, &why);
			assert_int_equal(err, cut < needed ? -ENOEXEC : 0);
		}
	}
	free(data);
}

static void test_real_busybox(void **state)
{
	if (missing(P_BUSYBOX))
		return;
	check_real(prog_path[P_BUSYBOX], "EXEC", false);
}

static void test_real_glibc(void **state)
{
	if (missing(P_GSTATIC))
		return;
	check_real(prog_path[P_GSTATIC], "EXEC", false);
	if (missing(P_GSPIE))
		return;
	check_real(prog_path[P_GSPIE], "DYN", false);
	if (missing(P_GDYN))
		return;
	check_real(prog_path[P_GDYN], "DYN", true);
}

static void test_real_musl(void **state)
{
	if (missing(P_MSTATIC))
		return;
	check_real(prog_path[P_MSTATIC], "EXEC", false);
	if (missing(P_MSPIE))
		return;
	check_real(prog_path[P_MSPIE], "DYN", false);
	if (missing(P_MDYN))
		return;
	check_real(prog_path[P_MDYN], "DYN", true);
}

/* Interpreters on this machine load as ELF_LOAD_INTERP. */
static void test_real_interp(void **state)
{
	static const char *const interps[] = { "/lib64/ld-linux-x86-64.so.2",
					       "/lib/ld-musl-x86_64.so.1" };
	int tested = 0;

	for (size_t i = 0; i < ARRAY_SIZE(interps); i++) {
		u64 size;
		u8 *data = slurp(interps[i], &size);
		struct mfile m;
		struct elf_file f;
		struct elf_load_params lp = { .dyn_base = 0x7ffff7f00000, .flags = ELF_LOAD_INTERP };
		const char *why = NULL;

		if (!data)
			continue;
		f = mem_file(&m, data, size);
		if (elf_load_prepare(&f, &lp, &plan, &why))
			fail_msg("%s: %s", interps[i], why);
		assert_int_equal(plan.e_type, ET_DYN);
		assert_int_equal(plan.load_start, 0x7ffff7f00000);
		assert_false(plan.has_interp);
		check_plan_pages(&plan, &f, data);
		free(data);
		tested++;
	}
	if (!tested)
		SKIP_CASE("  SKIPPED: no program interpreter installed\n");
}

/* ---------------------------------------------------------------------- */
/* End to end: run a program from our pages and our stack                  */

#define E2E_STACK (8u << 20)
#define E2E_EXIT_BUSY 99		/* the fixed addresses are taken here */

static void die(int code, const char *what, const char *path)
{
	fprintf(stderr, "e2e child: %s: %s\n", path, what);
	_exit(code);
}

/* In the child: prepare, place and populate one ELF file. */
static void child_load(const char *path, struct elf_plan *pl, u32 flags)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	struct elf_file f = { .read = fd_read, .ctx = &fd };
	struct elf_load_params lp = { .flags = flags };
	const char *why = NULL;
	bool fixed;

	if (fd < 0 || fstat(fd, &st) < 0)
		die(101, "open", path);
	f.size = (u64)st.st_size;
	if (elf_load_prepare(&f, &lp, pl, &why))
		die(102, why ? why : "read error", path);
	fixed = pl->e_type == ET_EXEC;
	if (!fixed) {
		/* Reserve room anywhere, then place the image inside it. */
		u64 len = pl->load_end - pl->load_start + (4u << 20);
		void *res = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				 -1, 0);

		if (res == MAP_FAILED)
			die(103, "reserve", path);
		lp.dyn_base = ALIGN_UP((u64)(uintptr_t)res, 2u << 20);
		if (elf_load_prepare(&f, &lp, pl, &why))
			die(104, why ? why : "read error", path);
		if (pl->load_end > (u64)(uintptr_t)res + len)
			die(105, "reservation too small", path);
	}
	for (u32 i = 0; i < pl->nregion; i++) {
		const struct elf_region *r = &pl->region[i];
		void *want = (void *)(uintptr_t)r->start;
		size_t len = (size_t)(r->end - r->start);
		void *m = mmap(want, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS |
			       (fixed ? MAP_FIXED_NOREPLACE : MAP_FIXED), -1, 0);
		int prot = ((r->prot & ELF_PROT_READ) ? PROT_READ : 0) |
			   ((r->prot & ELF_PROT_WRITE) ? PROT_WRITE : 0) |
			   ((r->prot & ELF_PROT_EXEC) ? PROT_EXEC : 0);

		if (m != want)
			die(fixed ? E2E_EXIT_BUSY : 106, "map", path);
		for (u64 a = r->start; a < r->end; a += PG)
			if (elf_load_fill_page(pl, &f, a, (void *)(uintptr_t)a) < 0)
				die(107, "fill", path);
		if (mprotect(want, len, prot))
			die(108, "mprotect", path);
	}
	close(fd);
}

static __attribute__((noreturn)) void jump_to(u64 rsp, u64 rip)
{
	/* rdx = 0: no exit function for the program to register (psABI). */
	__asm__ volatile("mov %0, %%rsp\n\t"
			 "xor %%edx, %%edx\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "jmp *%1\n\t"
			 : : "S"(rsp), "a"(rip) : "memory");
	__builtin_unreachable();
}

struct e2e {
	const char *path;
	const char *const *argv;
	u32 argc;
	const char *const *envp;
	u32 envc;
	bool vdso;
};

static void e2e_child(const struct e2e *c)
{
	static struct elf_plan ep, ip;
	struct elf_stack_params sp = {
		.argv = c->argv, .argc = c->argc, .envp = c->envp, .envc = c->envc,
		.execfn = c->path, .random = rnd16, .uid = 1000, .euid = 1001, .gid = 1002,
		.egid = 1003, .hwcap = 0, .hwcap2 = 0,
	};
	struct elf_stack_info si;
	u8 *stack;
	sigset_t all;

	child_load(c->path, &ep, 0);
	if (ep.has_interp)
		child_load(ep.interp, &ip, ELF_LOAD_INTERP);
	stack = mmap(NULL, E2E_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (stack == MAP_FAILED)
		die(110, "stack", c->path);
	sp.stack_top = (u64)(uintptr_t)stack + E2E_STACK;
	if (c->vdso)
		sp.sysinfo_ehdr = getauxval(AT_SYSINFO_EHDR);
	if (elf_build_stack(&sp, &ep, ep.has_interp ? &ip : NULL, stack + E2E_STACK - (1u << 20),
			    1u << 20, &si))
		die(111, "stack build", c->path);
	for (int s = 1; s < 32; s++)
		if (s != SIGKILL && s != SIGSTOP)
			signal(s, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	alarm(20);
	jump_to(si.rsp, si.entry);
}

/* Run c in a forked child; returns its wait status, output in out. */
static int e2e_run(const struct e2e *c, char *out, size_t outsz)
{
	int p[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		if (dup2(p[1], 1) < 0)
			_exit(109);
		close(p[1]);
		e2e_child(c);
	}
	close(p[1]);
	while (got + 1 < outsz && (n = read(p[0], out + got, outsz - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = 0;
	close(p[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void e2e_expect(const struct e2e *c, int code, const char *want)
{
	static char out[16384];
	int st = e2e_run(c, out, sizeof(out));

	if (WIFEXITED(st) && WEXITSTATUS(st) == E2E_EXIT_BUSY)
		SKIP_CASE("  SKIPPED: %s: its fixed addresses are in use in this process\n",
			  c->path);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != code || strcmp(out, want))
		fail_msg("%s: status %s %d (want exit %d)\n--- output:\n%s--- want:\n%s", c->path,
			 WIFEXITED(st) ? "exit" : "signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), code, out, want);
}

static void e2e_guest(enum prog p, bool vdso)
{
	static const char *const envp[] = { "LEGO=1", "HOME=/" };
	const char *argv[] = { prog_path[p], "first", "", "third arg" };
	struct e2e c = { .path = prog_path[p], .argv = argv, .argc = 4, .envp = envp,
			 .envc = 2, .vdso = vdso };
	char want[2048];

	if (missing(p))
		return;
	snprintf(want, sizeof(want),
		 "argc=4\nargv=%s\nargv=first\nargv=\nargv=third arg\nenv=LEGO=1\nenv=HOME=/\n"
		 "random=1032547698badcfe0123456789abcdef\nexecfn=%s\nplatform=x86_64\n"
		 "ids=1000,1001,1002,1003\npagesz=4096 clktck=100 phent=56\n"
		 "phdr=1 phnum=1 entry=1\ntls=1234 data=5a5a zero=0\ndone\n",
		 prog_path[p], prog_path[p]);
	e2e_expect(&c, 42, want);
}

static void test_run_busybox(void **state)
{
	static const char *const argv[] = { "busybox", "echo", "hello", "from", "lego" };
	static const char *const envp[] = { "PATH=/bin" };
	struct e2e c = { .path = "/bin/busybox", .argv = argv, .argc = 5, .envp = envp,
			 .envc = 1 };

	if (missing(P_BUSYBOX))
		return;
	e2e_expect(&c, 0, "hello from lego\n");
	/* An applet that reads its environment. */
	{
		static const char *const argv2[] = { "busybox", "sh", "-c",
						     "echo \"$GREETING\"; exit 7" };
		static const char *const envp2[] = { "PATH=/bin", "GREETING=hi there" };
		struct e2e c2 = { .path = "/bin/busybox", .argv = argv2, .argc = 4,
				  .envp = envp2, .envc = 2, .vdso = true };

		e2e_expect(&c2, 7, "hi there\n");
	}
}

static void test_run_glibc_static(void **state)
{
	e2e_guest(P_GSTATIC, false);
}

static void test_run_glibc_static_pie(void **state)
{
	e2e_guest(P_GSPIE, true);
}

static void test_run_glibc_dynamic(void **state)
{
	e2e_guest(P_GDYN, true);
}

static void test_run_musl_static(void **state)
{
	e2e_guest(P_MSTATIC, false);
}

static void test_run_musl_static_pie(void **state)
{
	e2e_guest(P_MSPIE, false);
}

static void test_run_musl_dynamic(void **state)
{
	e2e_guest(P_MDYN, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base_valid),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_read_errors),
		cmocka_unit_test(test_shared_pages),
		cmocka_unit_test(test_dyn_bias),
		cmocka_unit_test(test_stack_layout),
		cmocka_unit_test(test_stack_alignment),
		cmocka_unit_test(test_stack_limits),
		cmocka_unit_test(test_auxv_matches_host),
		cmocka_unit_test(test_real_busybox),
		cmocka_unit_test(test_real_glibc),
		cmocka_unit_test(test_real_musl),
		cmocka_unit_test(test_real_interp),
		cmocka_unit_test(test_run_busybox),
		cmocka_unit_test(test_run_glibc_static),
		cmocka_unit_test(test_run_glibc_static_pie),
		cmocka_unit_test(test_run_glibc_dynamic),
		cmocka_unit_test(test_run_musl_static),
		cmocka_unit_test(test_run_musl_static_pie),
		cmocka_unit_test(test_run_musl_dynamic),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
