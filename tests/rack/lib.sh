# shellcheck shell=bash
# tests/rack/lib.sh: shared helpers of the QEMU rack tests; sourced, not run.
#
# Convention for tests/rack/*.sh (run by scripts/run-tests in sorted order):
#   * a test script is executable and prints TAP: an optional plan "1..N", then
#     one "ok N - name (T.Ts)" or "not ok N - name (T.Ts)" line per case, each
#     "not ok" followed by "# ..." diagnostic lines (including the tail of the
#     node's serial log);
#   * it exits nonzero if any case failed;
#   * a script that prints no TAP line counts as one test, passed iff it exits 0.
#
# A script defines case functions, registers them with add_case and calls
# run_cases, which runs up to $LEGO_TEST_JOBS (default 2) cases at a time:
#
#   . "$(dirname -- "$0")/lib.sh"
#   my_case() { boot --personality processor --cmdline lego.test=poweroff; expect_rc 0; }
#   add_case processor-poweroff my_case
#   run_cases
#
# Inside a case: boot [qemu-node options] boots one node, logging its serial
# console to build/test-results/rack/<script>/<case>.log, and the expect_*
# helpers check that log; each failed check is reported, none aborts the case.

set -euo pipefail

RACK_ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
QEMU_NODE=$RACK_ROOT/scripts/qemu-node
TEST_NAME=$(basename -- "$0" .sh)
OUT=$RACK_ROOT/build/test-results/rack/$TEST_NAME
BOOT_TIMEOUT=${LEGO_BOOT_TIMEOUT:-60}
JOBS=${LEGO_TEST_JOBS:-2}

# A kernel panic line, tolerating a printk-style "[ time ]" prefix.
PANIC_RE='^(\[[^]]*\] *)?PANIC'

CASE_NAMES=()
CASE_CMDS=()

# add_case NAME FUNCTION [ARGS...]
add_case() {
	local name=$1; shift
	CASE_NAMES+=("$name")
	CASE_CMDS+=("$(printf '%q ' "$@")")
}

# ---- inside a case ----

now_ms() { local t=${EPOCHREALTIME//[.,]/}; echo $((10#$t / 1000)); }

# fail MESSAGE: record one failed check of the current case.
fail() {
	FAILS=$((FAILS + 1))
	echo "FAIL: $*"
}

# boot [scripts/qemu-node options...]: boot one node; sets LOG and BOOT_RC.
# The log is stored without carriage returns so that regexes may use $.
boot() {
	LOG=$OUT/$CASE.log
	local rc=0
	"$QEMU_NODE" --log "$LOG" --timeout "$BOOT_TIMEOUT" "$@" 2> "$OUT/$CASE.qemu-node.err" || rc=$?
	BOOT_RC=$rc
	[ -f "$LOG" ] && sed -i 's/\r//g' "$LOG"
	echo "booted: qemu-node$(printf ' %q' "$@") -> exit status $BOOT_RC"
}

# boot_poweroff PERSONALITY SMP MEM [extra kernel options]: a boot that must
# end with an ACPI poweroff; stops early (fails) if the kernel panics.
boot_poweroff() {
	local p=$1 smp=$2 mem=$3 opts=${4:-}
	boot --personality "$p" --smp "$smp" --mem "$mem" \
		--cmdline "lego.test=poweroff${opts:+ $opts}" --fail-on "$PANIC_RE"
}

# boot_halt PERSONALITY SMP MEM TEST: a boot that must end in a panic dump and
# "lego: system halted"; QEMU is killed once that line appears.
boot_halt() {
	local p=$1 smp=$2 mem=$3 t=$4
	boot --personality "$p" --smp "$smp" --mem "$mem" \
		--cmdline "lego.test=$t" --wait-for 'lego: system halted'
}

# ere_quote STRING: STRING as an extended regex matching itself.
ere_quote() { printf '%s' "$1" | sed 's/[][\.*^$(){}+?|/]/\\&/g'; }

has_line() { [ -f "$LOG" ] && grep -Eq -- "$1" "$LOG"; }
first_line_no() { grep -En -m1 -- "$1" "$LOG" 2>/dev/null | cut -d: -f1; }

# expect_rc STATUS [WHY]
expect_rc() {
	case "$BOOT_RC" in
	"$1") ;;
	124) fail "node timed out after ${BOOT_TIMEOUT}s (expected exit status $1${2:+: $2})" ;;
	*) fail "qemu-node exit status $BOOT_RC, expected $1${2:+ ($2)}" ;;
	esac
}

# expect_line REGEX [WHAT]: some log line matches REGEX (grep -E).
expect_line() {
	has_line "$1" || fail "no line matching /$1/${2:+ ($2)}"
}

# expect_no_line REGEX [WHAT]: no log line matches REGEX.
expect_no_line() {
	if has_line "$1"; then
		fail "unexpected line${2:+ ($2)}: $(grep -E -m1 -- "$1" "$LOG")"
	fi
}

expect_no_panic() { expect_no_line "$PANIC_RE" "kernel panic"; }

# expect_before REGEX1 REGEX2: the first match of REGEX1 precedes that of REGEX2.
expect_before() {
	local a b
	a=$(first_line_no "$1"); b=$(first_line_no "$2")
	if [ -n "$a" ] && [ -n "$b" ] && [ "$a" -ge "$b" ]; then
		fail "/$1/ (line $a) should come before /$2/ (line $b)"
	fi
}

expect_cpus() { expect_line "lego: cpus: $1 online\$" "$1 CPUs online"; }

expect_ready() { expect_line "lego: $1 monitor ready" "ready line"; }

# expect_mem MB: the reported usable RAM is at most MB MiB and at most 8 MiB below.
expect_mem() {
	local mb=$1 kib lo hi
	hi=$((mb * 1024)); lo=$((hi - 8192))
	kib=$(sed -nE 's/.*lego: memory: ([0-9]+) KiB usable RAM.*/\1/p' "$LOG" 2>/dev/null | head -n1)
	if [ -z "$kib" ]; then
		fail "no line 'lego: memory: <K> KiB usable RAM'"
	elif [ "$kib" -lt "$lo" ] || [ "$kib" -gt "$hi" ]; then
		fail "memory: $kib KiB usable RAM with -m ${mb}M; expected $lo..$hi KiB"
	fi
}

# A line reporting a problem with an option. The contract asks for "a warning
# line"; the kernel prints these at warning level but the text need not say
# "warning" (e.g. "cmdline: unknown option 'lego.bogus' ignored").
WARN_RE='[Ww][Aa][Rr][Nn]|[Uu]nknown|[Mm]alformed|[Ii]nvalid|[Ii]gnor|[Bb]ad '

# expect_warning WORD: a warning line names WORD.
expect_warning() {
	if ! grep -E -- "$WARN_RE" "$LOG" 2>/dev/null | grep -F -- "$1" >/dev/null; then
		fail "no warning line naming '$1' (a line matching /$WARN_RE/ that contains it)"
	fi
}

# expect_no_warning WORD: no warning line names WORD.
expect_no_warning() {
	local l
	l=$(grep -E -- "$WARN_RE" "$LOG" 2>/dev/null | grep -F -m1 -- "$1" || true)
	[ -z "$l" ] || fail "unexpected warning naming '$1': $l"
}

# ---- running cases ----

_run_one() {
	local i=$1 start rc=0
	CASE=${CASE_NAMES[$i]} FAILS=0 LOG=/dev/null BOOT_RC=
	start=$(now_ms)
	(
		set +e
		eval "${CASE_CMDS[$i]}"
		[ "$FAILS" -eq 0 ]
	) > "$OUT/$CASE.out" 2>&1 || rc=$?
	{
		if [ "$rc" -ne 0 ]; then
			grep -q '^FAIL: ' "$OUT/$CASE.out" 2>/dev/null || echo "FAIL: case exited with status $rc"
			# qemu-node's stderr (QEMU's messages, why it stopped) without
			# its own copy of the log tail, which follows anyway.
			if [ -s "$OUT/$CASE.qemu-node.err" ]; then
				awk '/^---- .*; last 30 lines of serial log / {
					sub(/^---- /, ""); sub(/; last 30 lines of serial log .*/, "")
					print "qemu-node: " $0; skip = 1; next }
				skip && /^---- end of / { skip = 0; next }
				!skip' "$OUT/$CASE.qemu-node.err"
			fi
			echo "---- last 30 lines of serial log $OUT/$CASE.log ----"
			if [ -f "$OUT/$CASE.log" ]; then tail -n 30 -- "$OUT/$CASE.log"; fi
			echo "---- end of serial log ----"
		fi
	} >> "$OUT/$CASE.out"
	echo "$rc $(( $(now_ms) - start ))" > "$OUT/$CASE.rc.tmp"
	mv -f -- "$OUT/$CASE.rc.tmp" "$OUT/$CASE.rc"
}

_report() {
	local i=$1 n=$2 rc ms name=${CASE_NAMES[$1]} t
	read -r rc ms < "$OUT/$name.rc"
	t=$(printf '%d.%ds' $((ms / 1000)) $(((ms % 1000) / 100)))
	if [ "$rc" -eq 0 ]; then
		echo "ok $n - $name ($t)"
	else
		CASES_FAILED=$((CASES_FAILED + 1))
		echo "not ok $n - $name ($t)"
		sed 's/^/# /' -- "$OUT/$name.out"
	fi
}

# run_cases: run every registered case, print TAP, exit nonzero if any failed.
run_cases() {
	local total=${#CASE_NAMES[@]} next=0 done_n=0 i
	local -A running=()
	CASES_FAILED=0
	rm -rf -- "$OUT"
	mkdir -p -- "$OUT"
	echo "1..$total"
	while [ "$done_n" -lt "$total" ]; do
		while [ "$next" -lt "$total" ] && [ "${#running[@]}" -lt "$JOBS" ]; do
			_run_one "$next" &
			running[$next]=$!
			next=$((next + 1))
		done
		for i in "${!running[@]}"; do
			[ -f "$OUT/${CASE_NAMES[$i]}.rc" ] || continue
			wait "${running[$i]}" 2>/dev/null || true
			unset "running[$i]"
			done_n=$((done_n + 1))
			_report "$i" "$done_n"
		done
		[ "$done_n" -ge "$total" ] || sleep 0.2
	done
	[ "$CASES_FAILED" -eq 0 ]
}
