#!/usr/bin/env bash
# (grep without -q: with pipefail, -q would make the producer die of SIGPIPE.)
# Static checks of the built images: multiboot2 headers GRUB accepts, an
# embedded symbol table, and no code of an unselected personality.
. "$(dirname -- "$0")/lib.sh"

PERSONALITIES=(processor memory storage)

multiboot_case() {
	local p=$1 elf=$RACK_ROOT/build/legoos-$1.elf
	[ -f "$elf" ] || { fail "$elf missing (run make)"; return; }
	grub-file --is-x86-multiboot2 "$elf" || fail "grub-file rejects $elf as multiboot2"
	[ -f "$RACK_ROOT/build/legoos-$p.iso" ] || fail "ISO missing"
	nm "$elf" | grep ' kallsyms_strtab$' >/dev/null || fail "no embedded symbol table"
}

only_own_monitor_case() {
	local p=$1 elf=$RACK_ROOT/build/legoos-$1.elf other
	strings "$elf" | grep "lego: $p monitor ready" >/dev/null || fail "$p image lacks its own monitor"
	for other in "${PERSONALITIES[@]}"; do
		[ "$other" = "$p" ] && continue
		if strings "$elf" | grep "lego: $other monitor ready" >/dev/null; then
			fail "$p image contains the $other monitor"
		fi
	done
}

for p in "${PERSONALITIES[@]}"; do
	add_case "$p-multiboot2" multiboot_case "$p"
	add_case "$p-only-own-monitor" only_own_monitor_case "$p"
done
run_cases
