# shellcheck shell=bash
# tests/rack/racklib.sh: helpers shared by the tests that drive scripts/rack;
# sourced after lib.sh, not run.

RACK=$RACK_ROOT/scripts/rack
RACK_DIR=$RACK_ROOT/build/rack
# rk ARGS...: run scripts/rack; sets RK_RC and RK_OUT (stdout and stderr),
# and copies the output into the case's output for diagnostics.
rk() {
	RK_RC=0
	RK_OUT=$("$RACK" "$@" 2>&1) || RK_RC=$?
	echo "\$ scripts/rack $* -> exit status $RK_RC"
	printf '%s\n' "$RK_OUT" | sed 's/^/  | /'
}

expect_rk_rc() {
	[ "$RK_RC" -eq "$1" ] || fail "scripts/rack exit status $RK_RC, expected $1${2:+ ($2)}"
}
expect_out() {
	grep -Eq -- "$1" <<< "$RK_OUT" || fail "no output line matching /$1/${2:+ ($2)}"
}
expect_no_out() {
	if grep -Eq -- "$1" <<< "$RK_OUT"; then fail "unexpected output${2:+ ($2)}: $(grep -E -m1 -- "$1" <<< "$RK_OUT")"; fi
}

# skip REASON: report the case as "ok N - name # SKIP REASON".
skip() { echo "$1" > "$OUT/$CASE.skip"; echo "SKIP: $1"; }

ns_present() { ip netns list | awk '{ print $1 }' | grep -xF -- "lego-$1" > /dev/null; }
rack_qemus() { pgrep -f -- "qemu-system.*$RACK_DIR/$1/" || true; }

# keep_logs RACK: copy the rack's serial logs into the test results; the
# concatenation is $OUT/$CASE.log, whose tail a failed case shows.
keep_logs() {
	local f n
	for f in "$RACK_DIR/$1"/*.log; do
		[ -f "$f" ] || continue
		n=$(basename -- "$f" .log)
		tr -d '\r' < "$f" > "$OUT/$CASE.$n.log"
		{ echo "==== rack $1, node $n ===="; cat "$OUT/$CASE.$n.log"; } >> "$OUT/$CASE.log"
	done
}

# expect_clean RACK: nothing of RACK is left: namespace, QEMU, taps, bridge.
expect_clean() {
	local r=$1 q
	! ns_present "$r" || fail "namespace lego-$r still exists"
	q=$(rack_qemus "$r")
	[ -z "$q" ] || fail "QEMU processes of rack $r still running: ${q//$'\n'/ }"
	# The rack's devices live in its namespace only, never in the host's.
	if ip -o link show | grep -Eq ': (tap-[pms][0-9]+|legobr0)[:@]'; then
		fail "a tap-* or legobr0 device exists in the host namespace"
	fi
	if [ -f "$RACK_DIR/$r/nodes" ]; then fail "$RACK_DIR/$r/nodes still exists"; fi
	if ls "$RACK_DIR/$r"/*.pid > /dev/null 2>&1; then fail "pid files left in $RACK_DIR/$r"; fi
}

# node_field NODE COLUMN: a column of NODE's line in rack $R's nodes file.
node_field() { awk -v n="$1" -v c="$2" '$1 == n { print $c }' "$RACK_DIR/${3:-$R}/nodes"; }

# rack_suffix: a short tag of this checkout, so test racks of two checkouts
# on one machine (namespaces are machine-wide) never collide.
SFX=$(printf '%s' "$RACK_ROOT" | cksum | cut -c1-5)

