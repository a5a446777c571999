# LegoOS top-level Makefile.
#
#   make                 build all three personalities (ELF + ISO), the Linux-side
#                        programs, host tools, test programs and the vNode root
#   make test            install dependencies, run unit and QEMU tests
#   make check-unit      host unit tests (cmocka)
#   make check-qemu      QEMU boot tests
#   make run             boot one node of each personality in turn and show its console
#   make user            static test programs build/user/{glibc,musl}/<name>
#   make vnode-root      the vNode base root build/vnode-root/ and its image
#   make defconfig|olddefconfig|menuconfig|savedefconfig [P=<personality>]
#
# Each personality is an independent Kconfig build in build/<personality>/.

PERSONALITIES := processor memory storage
BUILD         := build
PY            := /usr/bin/python3
P             ?= processor

export PY

.PHONY: variants all kernels isos test check check-unit check-qemu run clean distclean setup \
	defconfig olddefconfig menuconfig savedefconfig gm tools user vnode-root help

all: kernels isos gm tools user vnode-root

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

# ---- Test programs run inside vNodes: tests/user/<name>.c, each linked
# statically against glibc (gcc) and musl (musl-gcc) into
# build/user/glibc/<name> and build/user/musl/<name> ----
USER_PROGS := $(sort $(basename $(notdir $(wildcard tests/user/*.c))))
USER_LIBCS := glibc musl
USER_BINS := $(foreach l,$(USER_LIBCS),$(addprefix $(BUILD)/user/$(l)/,$(USER_PROGS)))
USER_CFLAGS := -static -O2 -Wall -Wextra -Werror -pthread
USER_CC_glibc := gcc
USER_CC_musl := musl-gcc

user: $(USER_BINS)

define user_rules
$(BUILD)/user/$(1)/%: tests/user/%.c
	@command -v $(USER_CC_$(1)) >/dev/null || { echo "make: $(USER_CC_$(1)) not found (run scripts/setup)" >&2; exit 1; }
	@mkdir -p $$(dir $$@)
	@printf "  %-9s %s\n" CC-$(1) $$@
	@$(USER_CC_$(1)) $(USER_CFLAGS) -o $$@ $$<
endef
$(foreach l,$(USER_LIBCS),$(eval $(call user_rules,$(l))))

# ---- The vNode base root: build/vnode-root/ is staged from Debian's static
# busybox (bin/busybox, and bin/<applet> -> busybox for every applet of
# `busybox --list`), the test programs (tests/glibc/<name>, tests/musl/<name>),
# a few files in etc/, a README and an empty tmp/. build/vnode-root.img is
# that tree as a LegoFS image (vNode 0), made to prove that it builds;
# scripts/rack makes each storage node's disk from build/vnode-root with
# mklegofs at the rack's disk size. ----
VNODE_ROOT := $(BUILD)/vnode-root
BUSYBOX := /bin/busybox

vnode-root: $(BUILD)/vnode-root.img

$(BUILD)/vnode-root.stamp: $(USER_BINS) $(BUSYBOX) Makefile
	@[ -x $(BUSYBOX) ] || { echo "make: $(BUSYBOX) not found (install busybox-static: run scripts/setup)" >&2; exit 1; }
	@echo "  STAGE     $(VNODE_ROOT)/"
	@rm -rf $(VNODE_ROOT).tmp
	@mkdir -p $(VNODE_ROOT).tmp/bin $(VNODE_ROOT).tmp/etc $(VNODE_ROOT).tmp/tmp \
		$(addprefix $(VNODE_ROOT).tmp/tests/,$(USER_LIBCS))
	@chmod 1777 $(VNODE_ROOT).tmp/tmp
	@cp $(BUSYBOX) $(VNODE_ROOT).tmp/bin/busybox
	@for a in $$($(BUSYBOX) --list); do \
		case $$a in busybox|*/*|'') continue ;; esac; \
		ln -s busybox $(VNODE_ROOT).tmp/bin/$$a || exit 1; \
	done
	@[ -L $(VNODE_ROOT).tmp/bin/sh ] || { echo "make: $(BUSYBOX) --list has no sh applet" >&2; exit 1; }
	@$(foreach l,$(USER_LIBCS),cp $(addprefix $(BUILD)/user/$(l)/,$(USER_PROGS)) $(VNODE_ROOT).tmp/tests/$(l)/ &&) true
	@for p in $(USER_PROGS); do ln -s glibc/$$p $(VNODE_ROOT).tmp/tests/$$p || exit 1; done
	@echo legoos > $(VNODE_ROOT).tmp/etc/hostname
	@echo 'root:x:0:0:root:/:/bin/sh' > $(VNODE_ROOT).tmp/etc/passwd
	@echo 'root:x:0:' > $(VNODE_ROOT).tmp/etc/group
	@printf '%s\n' \
		'LegoOS vNode base root (vNode 0 of every storage node'"'"'s default disk).' \
		'' \
		'/bin/busybox        Debian'"'"'s static busybox; /bin/<applet> are symlinks to it' \
		'/tests/glibc/<name> test programs of tests/user/, static glibc' \
		'/tests/musl/<name>  the same, static musl' \
		'/tests/<name>       -> glibc/<name>' \
		'/tmp                scratch directory (1777)' \
		'' \
		'Built by `make vnode-root` (part of `make`) into build/vnode-root/.' \
		> $(VNODE_ROOT).tmp/README
	@rm -rf $(VNODE_ROOT)
	@mv $(VNODE_ROOT).tmp $(VNODE_ROOT)
	@touch $@

$(BUILD)/vnode-root.img: $(BUILD)/vnode-root.stamp $(BUILD)/tools/mklegofs
	@echo "  MKLEGOFS  $@"
	@$(BUILD)/tools/mklegofs --size 256M --all-root --label vnode-root $@.tmp $(VNODE_ROOT) >/dev/null
	@$(BUILD)/tools/mklegofs --check $@.tmp >/dev/null
	@mv -f $@.tmp $@

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

check-qemu: kernels isos variants gm tools vnode-root
	@scripts/run-tests qemu

run: setup
	@$(MAKE) --no-print-directory all
	@scripts/make-run

clean:
	rm -rf $(BUILD)

distclean: clean

help:
	@sed -n '2,/^$$/p' Makefile

FORCE:
