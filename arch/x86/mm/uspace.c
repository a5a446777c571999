/* User address spaces: see include/lego/uspace.h.
 *
 * PML4 slots 256-511 are copied from the kernel's PML4, whose upper-half
 * slots never change after paging_init, so every address space sees the
 * kernel without further care. Lower-half tables are created on demand
 * with P|W|U at every level; the leaf PTE alone carries the permissions.
 *
 * TLB and PCIDs. With CR4.PCIDE each address space owns a PCID (1-4095;
 * 0 is the kernel's, and an address space left without one when they run
 * out), so switching to it needs no flush. An address space knows which
 * CPUs run it now (running) and which may still hold stale entries for it
 * from an earlier run (stale): a shootdown sends an IPI to the first and
 * marks all others stale, and a CPU flushes the whole PCID the next time it
 * loads a stale address space. A new address space is stale everywhere,
 * which also clears whatever a recycled PCID left behind. Without PCIDs
 * every CR3 load flushes and the masks only steer the IPIs. */
#include <lego/uspace.h>
#include <lego/user.h>
#include <lego/mm.h>
#include <lego/smp.h>
#include <lego/bitmap.h>
#include <lego/tlb_state.h>
#include <lego/spinlock.h>
#include <lego/atomic.h>
#include <lego/string.h>
#include <lego/errno.h>
#include <lego/panic.h>
#include <asm/page.h>
#include <asm/cpu.h>

#define X86_CR4_PCIDE (1ul << 17)
#define CPUID1_ECX_PCID (1u << 17)
#define CPUID7_EBX_INVPCID (1u << 10)
#define CR3_NOFLUSH (1ul << 63)
#define NR_PCIDS 4096

#define PML4_INDEX(va) (((va) >> 39) & 511)
#define PDPT_INDEX(va) (((va) >> 30) & 511)
#define PD_INDEX(va) (((va) >> 21) & 511)
#define PT_INDEX(va) (((va) >> 12) & 511)

typedef u64 pte_t;

/* lock protects the lower half of the page tables and tlb.
 * Taken with interrupts off (the context switch takes it). refs is atomic;
 * pml4 (upper half), pml4_pa and pcid are fixed at creation. */
struct uspace {
	spinlock_t lock;
	atomic_t refs;
	pte_t *pml4;
	phys_addr_t pml4_pa;
	int pcid;
	struct tlb_state tlb;
};

/* Decided by the boot CPU in uspace_cpu_init; read-only after. */
static bool has_pcid, has_invpcid;
static bool features_decided;

static unsigned long pcid_map[BITS_TO_LONGS(NR_PCIDS)];	/* pcid_lock */
static DEFINE_SPINLOCK(pcid_lock);

void uspace_cpu_init(void)
{
	if (!features_decided) {
		u32 a, b, c, d;
		cpuid(0, 0, &a, &b, &c, &d);
		u32 max_leaf = a;
		cpuid(1, 0, &a, &b, &c, &d);
		has_pcid = c & CPUID1_ECX_PCID;
		if (max_leaf >= 7) {
			cpuid(7, 0, &a, &b, &c, &d);
			has_invpcid = b & CPUID7_EBX_INVPCID;
		}
		features_decided = true;
	}
	/* Needs CR3[11:0] == 0, true of the boot and trampoline tables. */
	if (has_pcid)
		write_cr4(read_cr4() | X86_CR4_PCIDE);
}

bool uspace_has_pcid(void)
{
	return has_pcid;
}

int uspace_pcid(const struct uspace *us)
{
	return us->pcid;
}

static int pcid_alloc(void)
{
	if (!has_pcid)
		return 0;
	unsigned long f = spin_lock_irqsave(&pcid_lock);
	size_t id = bitmap_find_next_zero(pcid_map, NR_PCIDS, 1);
	if (id < NR_PCIDS)
		bitmap_set_bit(pcid_map, id);
	else
		id = 0;	/* shared: flushed at every load */
	spin_unlock_irqrestore(&pcid_lock, f);
	return (int)id;
}

static void pcid_free(int id)
{
	if (!id)
		return;
	unsigned long f = spin_lock_irqsave(&pcid_lock);
	bitmap_clear_bit(pcid_map, id);
	spin_unlock_irqrestore(&pcid_lock, f);
}

struct uspace *uspace_create(void)
{
	struct uspace *us = kzalloc(sizeof(*us));
	if (!us)
		return NULL;
	us->pml4 = alloc_page();
	if (!us->pml4) {
		kfree(us);
		return NULL;
	}
	memset(us->pml4, 0, PAGE_SIZE / 2);
	memcpy(us->pml4 + 256, (pte_t *)__va(kernel_pml4_phys()) + 256, PAGE_SIZE / 2);
	us->pml4_pa = __pa(us->pml4);
	spin_lock_init(&us->lock);
	atomic_set(&us->refs, 1);
	us->pcid = pcid_alloc();
	tlb_state_init(&us->tlb);
	return us;
}

void uspace_get(struct uspace *us)
{
	atomic_inc(&us->refs);
}

static void free_level(pte_t *table, int level, int limit)
{
	for (int i = 0; i < limit; i++) {
		pte_t e = table[i];
		if (!(e & PTE_P))
			continue;
		if (level > 1)
			free_level(__va(e & PTE_ADDR_MASK), level - 1, 512);
	}
	free_page(table);
}

void uspace_put(struct uspace *us)
{
	if (atomic_dec_return(&us->refs) != 0)
		return;
	/* Lower half only: level 4 entries 0-255 lead to PDPTs (level 3),
	 * PDs (2) and PTs (1); the leaf pages are not ours. */
	for (int i = 0; i < 256; i++)
		if (us->pml4[i] & PTE_P)
			free_level(__va(us->pml4[i] & PTE_ADDR_MASK), 3, 512);
	free_page(us->pml4);
	pcid_free(us->pcid);
	kfree(us);
}

/* The PTE slot of va, creating the tables on the way if create. Caller
 * holds us->lock. */
static pte_t *pte_slot(struct uspace *us, unsigned long va, bool create)
{
	pte_t *table = us->pml4;
	for (int shift = 39; shift > 12; shift -= 9) {
		pte_t *e = &table[(va >> shift) & 511];
		if (!(*e & PTE_P)) {
			if (!create)
				return NULL;
			void *p = alloc_page();
			if (!p)
				return NULL;
			memset(p, 0, PAGE_SIZE);
			*e = __pa(p) | PTE_P | PTE_W | PTE_U;
		}
		table = __va(*e & PTE_ADDR_MASK);
	}
	return &table[PT_INDEX(va)];
}

static bool user_page_ok(unsigned long va)
{
	return IS_ALIGNED(va, PAGE_SIZE) && va < USER_TOP;
}

int uspace_map(struct uspace *us, unsigned long va, phys_addr_t pa, u64 prot)
{
	if (!user_page_ok(va) || !IS_ALIGNED(pa, PAGE_SIZE) || (pa & ~PTE_ADDR_MASK) ||
	    (prot & ~USPACE_PROT_MASK))
		return -EINVAL;
	unsigned long f = spin_lock_irqsave(&us->lock);
	pte_t *e = pte_slot(us, va, true);
	int r = 0;
	if (!e)
		r = -ENOMEM;
	else if (*e & PTE_P)
		r = -EEXIST;
	else
		/* Was not present: no CPU can cache it, no flush needed. */
		__atomic_store_n(e, pa | prot | PTE_P, __ATOMIC_RELEASE);
	spin_unlock_irqrestore(&us->lock, f);
	return r;
}

u64 uspace_lookup(struct uspace *us, unsigned long va)
{
	if (va >= USER_TOP)
		return 0;
	unsigned long f = spin_lock_irqsave(&us->lock);
	pte_t *e = pte_slot(us, va, false);
	u64 v = e ? __atomic_load_n(e, __ATOMIC_RELAXED) : 0;
	spin_unlock_irqrestore(&us->lock, f);
	return v;
}

int uspace_unmap(struct uspace *us, unsigned long va, u64 *old_pte)
{
	if (!user_page_ok(va))
		return -EINVAL;
	unsigned long f = spin_lock_irqsave(&us->lock);
	pte_t *e = pte_slot(us, va, false);
	/* Exchange: the CPU may set A/D right up to the moment it is gone. */
	u64 old = e ? __atomic_exchange_n(e, 0, __ATOMIC_SEQ_CST) : 0;
	spin_unlock_irqrestore(&us->lock, f);
	if (!(old & PTE_P))
		return -ENOENT;
	uspace_flush_page(us, va);
	if (old_pte)
		*old_pte = old;
	return 0;
}

int uspace_ad_bits(struct uspace *us, unsigned long va, u64 clear, u64 *ad)
{
	if (va >= USER_TOP)
		return -EINVAL;
	clear &= PTE_A | PTE_D;
	unsigned long f = spin_lock_irqsave(&us->lock);
	pte_t *e = pte_slot(us, va, false);
	u64 old = 0;
	if (e && (*e & PTE_P))
		old = clear ? __atomic_fetch_and(e, ~clear, __ATOMIC_SEQ_CST) : __atomic_load_n(e, __ATOMIC_RELAXED);
	spin_unlock_irqrestore(&us->lock, f);
	if (!(old & PTE_P))
		return -ENOENT;
	*ad = old & (PTE_A | PTE_D);
	if (old & clear)
		uspace_flush_page(us, ALIGN_DOWN(va, PAGE_SIZE));
	return 0;
}

struct flush_req {
	struct uspace *us;
	unsigned long va;
};

static void invpcid_addr(int pcid, unsigned long va)
{
	struct {
		u64 pcid;
		u64 addr;
	} desc = { (u64)pcid, va };
	__asm__ __volatile__("invpcid %0, %1" : : "m"(desc), "r"(0ul) : "memory");
}

/* IPI (or local call), interrupts off. */
static void flush_on_cpu(void *arg)
{
	struct flush_req *r = arg;
	struct cpu_local *c = this_cpu();

	if (c->uspace == r->us) {
		invlpg(r->va);
		return;
	}
	/* Switched away since the mask was taken: its entries may still sit
	 * under the PCID. */
	if (has_invpcid && r->us->pcid) {
		invpcid_addr(r->us->pcid, r->va);
		return;
	}
	spin_lock(&r->us->lock);
	tlb_state_mark_stale(&r->us->tlb, c->cpu);
	spin_unlock(&r->us->lock);
}

void uspace_flush_page(struct uspace *us, unsigned long va)
{
	DECLARE_BITMAP(mask, TLB_STATE_CPUS);
	struct flush_req req = { us, ALIGN_DOWN(va, PAGE_SIZE) };

	unsigned long f = spin_lock_irqsave(&us->lock);
	bool any = tlb_state_shootdown(&us->tlb, mask);
	spin_unlock_irqrestore(&us->lock, f);
	if (any)
		smp_call_mask(mask, flush_on_cpu, &req);
}

void uspace_switch(struct uspace *next)
{
	struct cpu_local *c = this_cpu();
	struct uspace *prev = c->uspace;

	if (prev == next)
		return;
	if (prev) {
		spin_lock(&prev->lock);
		tlb_state_unload(&prev->tlb, c->cpu);
		spin_unlock(&prev->lock);
	}
	c->uspace = next;
	if (!next) {
		/* The kernel tables hold no user mappings; keep the TLB unless
		 * prev shared PCID 0 with them. */
		u64 cr3 = kernel_pml4_phys();
		if (has_pcid && prev->pcid)
			cr3 |= CR3_NOFLUSH;
		write_cr3(cr3);
		return;
	}
	spin_lock(&next->lock);
	bool flush = tlb_state_load(&next->tlb, c->cpu, next->pcid == 0);
	spin_unlock(&next->lock);
	u64 cr3 = next->pml4_pa | (u64)next->pcid;
	if (has_pcid && !flush)
		cr3 |= CR3_NOFLUSH;
	write_cr3(cr3);
}
