obj-y += kernel/main.o kernel/printk.o kernel/vsprintf.o kernel/string.o kernel/panic.o \
	kernel/kallsyms.o kernel/params.o kernel/cmdline.o kernel/bitmap.o \
	kernel/early_alloc.o kernel/buddy.o kernel/page_alloc.o kernel/kma.o kernel/kmalloc.o \
	kernel/spinlock.o kernel/smp.o kernel/sched.o kernel/thread.o kernel/wait.o \
	kernel/mutex.o kernel/workqueue.o kernel/timer.o kernel/testfault.o \
	kernel/random.o
obj-$(CONFIG_SELFTEST) += kernel/selftest.o
