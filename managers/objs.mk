obj-$(CONFIG_PERSONALITY_PROCESSOR) += managers/processor/monitor.o
# Processes, threads and the Linux syscall shim (paper §4.3).
obj-$(CONFIG_PERSONALITY_PROCESSOR) += managers/processor/proc.o managers/processor/proc_maps.o managers/processor/run.o \
	managers/processor/syscall.o managers/processor/futex.o managers/processor/sys_basic.o \
	managers/processor/sys_mm.o managers/processor/sys_thread.o managers/processor/sys_proc.o managers/processor/pipe.o managers/processor/strace.o managers/processor/signal.o managers/processor/poll.o managers/memory/vregion.o \
	managers/processor/sys_file.o managers/processor/sys_stat.o managers/processor/linux_pack.o
# ExCache line directory and its boot options (pure logic, host-tested).
obj-$(CONFIG_PERSONALITY_PROCESSOR) += managers/processor/excache_dir.o managers/processor/excache_opts.o
obj-$(CONFIG_PERSONALITY_PROCESSOR) += managers/processor/excache.o managers/processor/excache_pageset.o managers/processor/excache_selftest.o
# Linux state layer core (paper §4.3.3): fd tables and path resolution.
obj-$(CONFIG_PERSONALITY_PROCESSOR) += managers/processor/fdtable.o managers/processor/vpath.o
# Path lookup, pseudo-files and the namespace syscalls (sys_file.o, sys_stat.o and
# linux_pack.o are listed above).
obj-$(CONFIG_PERSONALITY_PROCESSOR) += managers/processor/sys_lookup.o managers/processor/sys_path.o \
	managers/processor/sys_pseudo.o
obj-$(CONFIG_PERSONALITY_MEMORY) += managers/memory/monitor.o
obj-$(CONFIG_PERSONALITY_STORAGE) += managers/storage/monitor.o
obj-y += managers/common/gm_client.o
obj-$(CONFIG_PERSONALITY_STORAGE) += managers/storage/legofs.o managers/storage/legofs_core.o \
	managers/storage/legofs_extent.o managers/storage/legofs_ht.o \
	managers/storage/legofs_check.o managers/storage/legofs_util.o
obj-$(CONFIG_PERSONALITY_STORAGE) += managers/storage/store.o managers/storage/service.o \
	managers/storage/st_proto.o
# Memory monitor, home role (home.c, loader.c, vregion.c) with the ELF loader
# and the request decoders it shares with the owner role.
obj-$(CONFIG_PERSONALITY_MEMORY) += managers/memory/home.o managers/memory/loader.o \
	managers/memory/vregion.o managers/memory/elf_load.o managers/memory/mem_proto.o
# Memory monitor, vRegion owner role (owner.c) with the vma trees and page map.
obj-$(CONFIG_PERSONALITY_MEMORY) += managers/memory/owner.o managers/memory/pgmap.o managers/memory/vma.o
# Memory monitor, buffer cache (bcache.c pure, bc_service.c its RPC face) with
# the storage request decoder it shares with the storage monitor.
obj-$(CONFIG_PERSONALITY_MEMORY) += managers/memory/bcache.o managers/memory/bc_service.o \
	managers/storage/st_proto.o managers/storage/legofs_util.o
