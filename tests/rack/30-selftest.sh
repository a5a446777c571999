#!/usr/bin/env bash
# In-kernel self-tests on 4 CPUs, then poweroff.
#
# The self-tests are core-kernel code, the same in every personality, so one
# personality is enough. Under TCG their lock-contention tests need 10-25 s
# with 4 vCPUs on 2 host cores and several times that when another 4-vCPU
# guest runs beside them: this script boots alone, with a longer timeout.
. "$(dirname -- "$0")/lib.sh"
# shellcheck disable=SC2034  # read by run_cases and boot in lib.sh
JOBS=1
# shellcheck disable=SC2034
BOOT_TIMEOUT=${LEGO_SELFTEST_TIMEOUT:-150}

selftest_case() {
	local p=$1 summary passed failed oks
	shift
	boot --personality "$p" --smp 4 --mem 512 \
		--cmdline "lego.test=selftest,poweroff${EXTRA_OPTS:+ $EXTRA_OPTS}" --fail-on "$PANIC_RE" "$@"
	expect_rc 0 "ACPI poweroff after the self-tests"
	expect_no_panic
	expect_ready "$p"
	expect_no_line 'selftest: .* FAILED' "failed self-test"
	summary=$(sed -nE 's/.*selftest: ([0-9]+) passed, ([0-9]+) failed.*/\1 \2/p' "$LOG" 2>/dev/null | tail -n1)
	if [ -z "$summary" ]; then
		fail "no line 'selftest: <N> passed, <M> failed'"
		return
	fi
	read -r passed failed <<< "$summary"
	[ "$passed" -gt 0 ] || fail "no self-test passed ($summary)"
	[ "$failed" -eq 0 ] || fail "$failed self-test(s) failed"
	oks=$(grep -E 'selftest: .+ ok( .*)?$' "$LOG" | grep -vc 'FAILED' || true)
	[ "$oks" -eq "$passed" ] || fail "$oks 'selftest: <name> ok' lines but the summary says $passed passed"
}

# With a NIC and an address the network self-tests run too: the RPC path
# end to end over the local loopback (rpc-loopback), and the driver test on
# the second NIC (the stack owns the first).
net_selftest_case() {
	EXTRA_OPTS="lego.ip=10.0.2.15/24" selftest_case memory -- \
		-netdev user,id=n0 -device virtio-net-pci,netdev=n0 \
		-netdev user,id=n1 -device e1000,netdev=n1
	expect_line 'selftest: rpc-loopback ok' "RPC over loopback"
	expect_line 'selftest: netdev-arp ok' "driver self-test on the second NIC"
}

add_case processor-smp4 selftest_case processor
add_case memory-net net_selftest_case
run_cases
