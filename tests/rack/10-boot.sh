#!/usr/bin/env bash
# Boot every personality with 2 and 4 CPUs and power off: CPU count, usable
# RAM, ready line, clean ACPI poweroff, no panic. Plus a second RAM size.
. "$(dirname -- "$0")/lib.sh"

# poweroff_case PERSONALITY SMP MEM_MB
poweroff_case() {
	local p=$1 smp=$2 mem=$3
	boot_poweroff "$p" "$smp" "$mem"
	expect_rc 0 "ACPI poweroff must end QEMU with status 0"
	expect_no_panic
	expect_cpus "$smp"
	expect_mem "$mem"
	expect_ready "$p"
	expect_line 'lego: powering off' "poweroff line"
	expect_before "lego: $p monitor ready" 'lego: powering off'
	expect_no_warning lego.test
}

for p in processor memory storage; do
	for smp in 2 4; do
		add_case "$p-smp$smp" poweroff_case "$p" "$smp" 512
	done
done
# Too little RAM: a clear one-line reason, no register dump, then halt.
small_ram_case() {
	boot --personality processor --smp 1 --mem 24 --cmdline lego.test=poweroff \
		--wait-for 'lego: system halted'
	expect_rc 0 "must stop with 'lego: system halted'"
	expect_line 'lego: fatal: only [0-9]+ MiB of usable RAM; this kernel needs at least [0-9]+ MiB' \
		"clear low-memory message"
	expect_no_panic
	expect_no_line 'monitor ready' "must not come up"
}

add_case "memory-smp2-1024M" poweroff_case memory 2 1024
add_case "processor-24M-too-small" small_ram_case
add_case "storage-smp1-256M" poweroff_case storage 1 256
run_cases
