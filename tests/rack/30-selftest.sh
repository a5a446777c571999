#!/usr/bin/env bash
# In-kernel self-tests on 4 CPUs, then poweroff.
. "$(dirname -- "$0")/lib.sh"

selftest_case() {
	local p=$1 summary passed failed oks
	boot --personality "$p" --smp 4 --mem 512 \
		--cmdline "lego.test=selftest,poweroff" --fail-on "$PANIC_RE"
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

for p in processor memory storage; do
	add_case "$p-smp4" selftest_case "$p"
done
run_cases
