/* kmalloc: the size-class allocator of kernel/kma.c behind a lock, with
 * pages from the buddy allocator. Corruption found by the debug checks
 * (CONFIG_DEBUG_KMALLOC) is fatal: continuing would spread it. */
#include <lego/mm.h>
#include <lego/kma.h>
#include <lego/spinlock.h>
#include <lego/panic.h>
#include <lego/string.h>

static struct kma kma;		/* kma_lock */
static DEFINE_SPINLOCK(kma_lock);

static void *kma_get_pages(void *ctx, unsigned order)
{
	return alloc_pages(order);
}

static void kma_put_pages(void *ctx, void *p, unsigned order)
{
	free_pages(p, order);
}

static void kma_report(void *ctx, const char *what, const void *ptr)
{
	panic("kmalloc: %s at %p", what, ptr);
}

static const struct kma_backend kma_backend = {
	.alloc_pages = kma_get_pages,
	.free_pages = kma_put_pages,
	.report = kma_report,
};

#ifdef CONFIG_DEBUG_KMALLOC
#define KMALLOC_DEBUG true
#else
#define KMALLOC_DEBUG false
#endif

void kmalloc_init(void)
{
	kma_init(&kma, &kma_backend, KMALLOC_DEBUG);
}

void *kmalloc(size_t size)
{
	unsigned long f = spin_lock_irqsave(&kma_lock);
	void *p = kma_alloc(&kma, size);
	spin_unlock_irqrestore(&kma_lock, f);
	return p;
}

void *kzalloc(size_t size)
{
	void *p = kmalloc(size);
	if (p)
		memset(p, 0, size);
	return p;
}

void kfree(const void *p)
{
	if (!p)
		return;
	unsigned long f = spin_lock_irqsave(&kma_lock);
	kma_free(&kma, (void *)p);
	spin_unlock_irqrestore(&kma_lock, f);
}
