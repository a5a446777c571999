# Host unit tests (cmocka), included by the top-level Makefile.
#
# Every tests/unit/test_<name>.c becomes $(BUILD)/unit/test_<name>, linked
# with the kernel sources listed in UNIT_SRCS_<name>. Objects are built once
# under $(BUILD)/unit/obj/ and shared between tests; -MMD -MP dependency
# files make a header change rebuild exactly the objects that include it.
#
#   make unit-build      build (only what is stale) all unit test binaries

BUILD ?= build

UNIT_DIR := $(BUILD)/unit
UNIT_OBJDIR := $(UNIT_DIR)/obj

UNIT_CC := gcc
UNIT_CFLAGS := -std=gnu11 -O1 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-D__KERNEL_HOSTTEST__ -Iinclude -fsanitize=address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=undefined
UNIT_LDFLAGS := -fsanitize=address,undefined
UNIT_LDLIBS := -lcmocka

# Kernel sources each test links with; a test without an entry links none.
UNIT_SRCS_bitmap := kernel/bitmap.c
UNIT_SRCS_cmdline := kernel/cmdline.c
UNIT_SRCS_buddy := kernel/buddy.c
UNIT_SRCS_kma := kernel/kma.c
UNIT_SRCS_list :=
# gm/ sources include gm/include headers by relative path (no per-test -I).
UNIT_SRCS_gm_rpc := gm/lib/rpc.c
UNIT_SRCS_gm_nodes := gm/lib/nodes.c
UNIT_SRCS_gm_policy := gm/lib/policy.c
UNIT_SRCS_gm_registry := gm/lib/registry.c gm/lib/statefile.c
UNIT_SRCS_gm_state := gm/lib/statefile.c gm/lib/vnode.c
UNIT_SRCS_rpc_proto := net/rpc_proto.c
UNIT_SRCS_elf_load := managers/memory/elf_load.c
UNIT_SRCS_legofs := managers/storage/legofs.c managers/storage/legofs_core.c \
	managers/storage/legofs_extent.c managers/storage/legofs_ht.c \
	managers/storage/legofs_check.c managers/storage/legofs_util.c
UNIT_SRCS_legofs_model := $(UNIT_SRCS_legofs)
# The buffer cache against a model storage node.
UNIT_SRCS_bcache := managers/memory/bcache.c
# Storage request decoding; lfs_path_check comes from legofs_util.c.
UNIT_SRCS_st_proto := managers/storage/st_proto.c managers/storage/legofs_util.c
UNIT_SRCS_pgmap := managers/memory/pgmap.c
UNIT_SRCS_mem_proto := managers/memory/mem_proto.c
UNIT_SRCS_vregion := managers/memory/vregion.c
UNIT_SRCS_vma := managers/memory/vma.c
UNIT_SRCS_user_check := arch/x86/kernel/user_check.c
UNIT_SRCS_tlb_state := arch/x86/mm/tlb_state.c
UNIT_SRCS_vpath := managers/processor/vpath.c
# fdtable_hostfd.c: the host's own fd calls, kept out of the test's translation unit
# because libc's <fcntl.h> and uapi/lego/linux_abi.h define the same names.
UNIT_SRCS_fdtable := managers/processor/fdtable.c managers/processor/vpath.c \
	tests/unit/fdtable_hostfd.c
UNIT_SRCS_excache_dir := managers/processor/excache_dir.c managers/processor/excache_opts.c \
	kernel/bitmap.c kernel/cmdline.c
UNIT_SRCS_excache_pageset := managers/processor/excache_pageset.c
UNIT_SRCS_excache_hist :=
UNIT_SRCS_linux_pack := managers/processor/linux_pack.c
# The file syscalls against a model storage; proc.h needs the arch headers.
UNIT_SRCS_sys_file := managers/processor/sys_file.c managers/processor/sys_lookup.c \
	managers/processor/sys_stat.c managers/processor/sys_path.c managers/processor/sys_pseudo.c \
	managers/processor/linux_pack.c managers/processor/fdtable.c managers/processor/vpath.c \
	managers/processor/proc_maps.c
$(UNIT_OBJDIR)/managers/processor/sys_%.o $(UNIT_OBJDIR)/managers/processor/proc_maps.o \
	$(UNIT_OBJDIR)/tests/unit/test_sys_file.o: \
	UNIT_CFLAGS += -Iarch/x86/include

UNIT_TESTS := $(patsubst tests/unit/test_%.c,%,$(wildcard tests/unit/test_*.c))
UNIT_BINS := $(addprefix $(UNIT_DIR)/test_,$(UNIT_TESTS))

.PHONY: unit-build
unit-build: $(UNIT_BINS)

# Objects mirror the source tree, so kernel/x.c and tests/unit/x.c can
# never collide.
unit_obj = $(addprefix $(UNIT_OBJDIR)/,$(patsubst %.c,%.o,$(1)))

define unit_test_rule
$(UNIT_DIR)/test_$(1): $(call unit_obj,tests/unit/test_$(1).c $(UNIT_SRCS_$(1)))
	@echo "  LD        $$@"
	@$$(UNIT_CC) $$(UNIT_LDFLAGS) -o $$@ $$^ $$(UNIT_LDLIBS)
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_test_rule,$(t))))

$(UNIT_OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  HOSTCC    $<"
	@$(UNIT_CC) $(UNIT_CFLAGS) -MMD -MP -c $< -o $@

UNIT_OBJS := $(sort $(foreach t,$(UNIT_TESTS),$(call unit_obj,tests/unit/test_$(t).c $(UNIT_SRCS_$(t)))))
-include $(UNIT_OBJS:.o=.d)
