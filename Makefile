# LegoOS top-level Makefile.
#
#   make                 build all three personalities (ELF + ISO)
#   make test            install dependencies, run unit and QEMU tests
#   make check-unit      host unit tests (cmocka)
#   make check-qemu      QEMU boot tests
#   make run             boot one node of each personality in turn and show its console
#   make defconfig|olddefconfig|menuconfig|savedefconfig [P=<personality>]
#
# Each personality is an independent Kconfig build in build/<personality>/.

PERSONALITIES := processor memory storage
BUILD         := build
PY            := /usr/bin/python3
P             ?= processor

export PY

.PHONY: variants all kernels isos test check check-unit check-qemu run clean distclean setup \
	defconfig olddefconfig menuconfig savedefconfig gm tools help

all: kernels isos gm tools

kernels: $(foreach p,$(PERSONALITIES),kernel-$(p))
isos: $(foreach p,$(PERSONALITIES),$(BUILD)/legoos-$(p).iso)

# The per-personality build is a sub-make so that each sees only its own
# configuration; it is always entered and decides itself what is stale.
define personality_rules
.PHONY: kernel-$(1)
kernel-$(1): $(BUILD)/legoos-$(1).elf

# Always descend (the sub-make knows what is stale); the copy keeps its
# timestamp when nothing changed, so the ISO is only rebuilt when needed.
$(BUILD)/legoos-$(1).elf: $(BUILD)/$(1)/.config FORCE
	@$$(MAKE) --no-print-directory -f scripts/Makefile.kernel O=$(BUILD)/$(1) PERSONALITY=$(1)
	@cmp -s $(BUILD)/$(1)/legoos.elf $$@ || cp $(BUILD)/$(1)/legoos.elf $$@

$(BUILD)/$(1)/.config: | $(BUILD)/$(1)
	@echo "  DEFCONFIG $(1)"
	@KCONFIG_CONFIG=$$@ $(PY) -m defconfig --kconfig Kconfig arch/x86/configs/$(1)_defconfig >/dev/null

$(BUILD)/$(1):
	@mkdir -p $$@

$(BUILD)/legoos-$(1).iso: $(BUILD)/legoos-$(1).elf scripts/mkiso
	@scripts/mkiso $(1) $$< $$@
endef
$(foreach p,$(PERSONALITIES),$(eval $(call personality_rules,$(p))))

# ---- Linux-side programs (global managers, legoctl): own sub-make ----
gm:
	@$(MAKE) --no-print-directory -C gm BUILD=$(abspath $(BUILD))/gm

# ---- Host tools (build/tools/): mklegofs, built from the kernel's own
# LegoFS format code (pure logic, compiled with -D__KERNEL_HOSTTEST__) ----
TOOLS_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wmissing-prototypes -D__KERNEL_HOSTTEST__ -Iinclude -MMD -MP
MKLEGOFS_SRCS := tools/mklegofs.c managers/storage/legofs.c managers/storage/legofs_core.c \
	managers/storage/legofs_extent.c managers/storage/legofs_ht.c \
	managers/storage/legofs_check.c managers/storage/legofs_util.c
MKLEGOFS_OBJS := $(MKLEGOFS_SRCS:%.c=$(BUILD)/tools/obj/%.o)

tools: $(BUILD)/tools/mklegofs

$(BUILD)/tools/mklegofs: $(MKLEGOFS_OBJS)
	@echo "  LD        $@"
	@gcc -o $@ $^

$(BUILD)/tools/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  HOSTCC    $<"
	@gcc $(TOOLS_CFLAGS) -c $< -o $@

-include $(MKLEGOFS_OBJS:.o=.d)

# ---- Configuration variants ----
# arch/x86/configs/variants/<v>.config is a fragment applied on top of each
# personality's defconfig; `make variant-<v>` builds all three into
# build/variants/<v>/legoos-<p>.{elf,iso} (used by tests of non-default
# Kconfig choices; boot them with LEGO_ISO_DIR=build/variants/<v>).
VARIANTS := $(basename $(notdir $(wildcard arch/x86/configs/variants/*.config)))

define variant_rules
.PHONY: variant-$(1)
variant-$(1): $(foreach p,$(PERSONALITIES),$(BUILD)/variants/$(1)/legoos-$(p).iso)
$(foreach p,$(PERSONALITIES),$(eval $(call variant_personality,$(1),$(p))))
endef

define variant_personality
$(BUILD)/variants/$(1)/$(2)/.config: arch/x86/configs/$(2)_defconfig arch/x86/configs/variants/$(1).config
	@mkdir -p $$(dir $$@)
	@echo "  DEFCONFIG $(2) + $(1)"
	@cat $$^ > $$@.defconfig
	@KCONFIG_CONFIG=$$@ $(PY) -m defconfig --kconfig Kconfig $$@.defconfig >/dev/null

$(BUILD)/variants/$(1)/legoos-$(2).elf: $(BUILD)/variants/$(1)/$(2)/.config FORCE
	@$$(MAKE) --no-print-directory -f scripts/Makefile.kernel O=$(BUILD)/variants/$(1)/$(2) PERSONALITY=$(2)
	@cmp -s $(BUILD)/variants/$(1)/$(2)/legoos.elf $$@ || cp $(BUILD)/variants/$(1)/$(2)/legoos.elf $$@

$(BUILD)/variants/$(1)/legoos-$(2).iso: $(BUILD)/variants/$(1)/legoos-$(2).elf scripts/mkiso
	@scripts/mkiso $(2) $$< $$@
endef

$(foreach v,$(VARIANTS),$(eval $(call variant_rules,$(v))))

variants: $(foreach v,$(VARIANTS),variant-$(v))

# ---- Kconfig front-ends (act on build/$(P)/.config) ----
CFG := $(BUILD)/$(P)/.config
defconfig:
	@mkdir -p $(BUILD)/$(P)
	KCONFIG_CONFIG=$(CFG) $(PY) -m defconfig --kconfig Kconfig arch/x86/configs/$(P)_defconfig
olddefconfig: $(CFG)
	KCONFIG_CONFIG=$(CFG) $(PY) -m olddefconfig Kconfig
menuconfig: $(CFG)
	KCONFIG_CONFIG=$(CFG) $(PY) -m menuconfig Kconfig
savedefconfig: $(CFG)
	KCONFIG_CONFIG=$(CFG) $(PY) -m savedefconfig --kconfig Kconfig --out $(BUILD)/$(P)/defconfig
	@echo "wrote $(BUILD)/$(P)/defconfig (copy to arch/x86/configs/$(P)_defconfig to make it the default)"

# ---- Host unit tests (cmocka) ----
include tests/unit/unit.mk

# ---- Tests ----
setup:
	@scripts/setup

test: setup
	@$(MAKE) --no-print-directory all unit-build variants
	@scripts/run-tests all

check: test

check-unit: unit-build
	@scripts/run-tests unit

check-qemu: kernels isos variants gm
	@scripts/run-tests qemu

run: setup
	@$(MAKE) --no-print-directory all
	@scripts/make-run

clean:
	rm -rf $(BUILD)

distclean: clean

help:
	@sed -n '2,12p' Makefile

FORCE:
