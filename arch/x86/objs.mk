# Boot entry must come first so the multiboot2 header is near the start.
obj-y += arch/x86/boot/head.o arch/x86/boot/multiboot2.o
obj-y += arch/x86/kernel/setup.o arch/x86/kernel/gdt.o arch/x86/kernel/idt.o \
	arch/x86/kernel/entry.o arch/x86/kernel/traps.o arch/x86/kernel/switch.o \
	arch/x86/kernel/apic.o arch/x86/kernel/ioapic.o arch/x86/kernel/pit.o \
	arch/x86/kernel/tsc.o arch/x86/kernel/smpboot.o arch/x86/kernel/trampoline.o \
	arch/x86/kernel/syscall_64.o arch/x86/kernel/user.o arch/x86/kernel/user_check.o \
	arch/x86/kernel/fpu.o
obj-$(CONFIG_SELFTEST) += arch/x86/kernel/user_selftest.o arch/x86/kernel/user_selftest_prog.o
obj-y += arch/x86/mm/paging.o arch/x86/mm/uspace.o arch/x86/mm/uaccess.o arch/x86/mm/uaccess_64.o \
	arch/x86/mm/tlb_state.o
