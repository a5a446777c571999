#!/usr/bin/env bash
# The emulated rack launcher, scripts/rack: up (ready lines, nodes file, node
# table), status, exec (namespace, addresses, environment), ping, loss,
# kill, down (no trace left, idempotent), two racks side by side, down after
# a crashed up, and up tearing down after a panic or a timeout.
#
# The cases run one at a time, in order (JOBS=1): each boots several nodes,
# and the first cases share one rack. Serial logs of every rack a case
# brought up are copied to build/test-results/rack/60-rack/<case>.<node>.log.
. "$(dirname -- "$0")/lib.sh"
JOBS=1

. "$(dirname -- "$0")/racklib.sh"

# Rack names private to this script and to this checkout, so that neither a
# developer's own racks (e.g. "default") nor the tests of another checkout on
# the same machine (namespaces are machine-wide) are touched.
R=t60-$SFX RA=t60a-$SFX RB=t60b-$SFX RC=t60crash-$SFX RP=t60panic-$SFX RT=t60timeout-$SFX RX=t60none-$SFX
TEST_RACKS=("$R" "$RA" "$RB" "$RC" "$RP" "$RT" "$RX")

# state_of NODE [RACK]: the STATE column of the node in the last status output.
state_of() { awk -v n="$1" '$1 == n && NF == 7 { print $7 }' <<< "$RK_OUT"; }

net_up() { grep -Eq '^(\[[^]]*\] *)?net: .* ip 198\.18\.' "$RACK_DIR/$R/$1.log" 2>/dev/null; }

# ---- the main rack: one node of each personality ----

up_case() {
	"$RACK" down --name "$R" > /dev/null 2>&1 || true   # leftovers of an aborted run
	rk up --name "$R" --processor 1 --memory 1 --storage 1
	keep_logs "$R"
	expect_rk_rc 0 "up must succeed"
	local n p ip id want line pid hb='' mac
	for line in "p0 processor 198.18.1.1 1000 01:00" "m0 memory 198.18.2.1 2000 02:00" \
		"s0 storage 198.18.3.1 3000 03:00"; do
		read -r n p ip id want <<< "$line"
		expect_out "^$n +$p +$(ere_quote "$ip") +52:54:00:[0-9a-f]{2}:$want +$id +[0-9]+ +ready$" "table row of $n"
		[ "$(node_field "$n" 2)" = "$p" ] || fail "nodes file: personality of $n is '$(node_field "$n" 2)'"
		[ "$(node_field "$n" 3)" = "$ip" ] || fail "nodes file: IPv4 of $n is '$(node_field "$n" 3)', expected $ip"
		[ "$(node_field "$n" 5)" = "$id" ] || fail "nodes file: node id of $n is '$(node_field "$n" 5)', expected $id"
		mac=$(node_field "$n" 4)
		[[ "$mac" =~ ^52:54:00:([0-9a-f]{2}):$want$ ]] || fail "nodes file: MAC of $n is '$mac'"
		if [ -n "$hb" ] && [ "${BASH_REMATCH[1]:-}" != "$hb" ]; then fail "MACs of one rack differ in the rack byte"; fi
		hb=${BASH_REMATCH[1]:-}
		pid=$(node_field "$n" 6)
		if ! [[ "$pid" =~ ^[0-9]+$ ]] || ! grep -q qemu-system "/proc/$pid/cmdline" 2>/dev/null; then
			fail "nodes file: pid of $n ('$pid') is not a running QEMU"
		fi
		LOG=$OUT/$CASE.$n.log
		expect_ready "$p"
		expect_no_panic
		expect_line "lego\.name=$n lego\.ip=$(ere_quote "$ip")/15 lego\.gm=198\.18\.0\.1" \
			"rack kernel options reached $n"
		expect_line "gm: registered with g[pms]md as node $id " "$n got its id from its manager"
	done
	local lines
	lines=$(wc -l < "$RACK_DIR/$R/nodes")
	[ "$lines" -eq 3 ] || fail "nodes file has $lines lines, expected 3"
	if awk 'NF != 6 { exit 1 }' "$RACK_DIR/$R/nodes"; then :; else fail "nodes file lines must have 6 fields"; fi
	ns_present "$R" || fail "no namespace lego-$R"
}

status_case() {
	rk status --name "$R"
	expect_rk_rc 0
	local n
	for n in p0 m0 s0; do
		[ "$(state_of "$n")" = running ] || fail "status: $n is '$(state_of "$n")', expected running"
	done
	expect_out "^rack $R: .*no loss" "loss setting in the header"
	rk list
	expect_out "^$R +lego-$R +3 +3 " "list shows the rack with 3 running nodes"
}

namespace_case() {
	rk exec --name "$R" -- sh -c 'echo "env: $LEGO_RACK $LEGO_RACK_DIR $LEGO_NODES"'
	expect_rk_rc 0
	expect_out "^env: $R $(ere_quote "$RACK_DIR/$R") $(ere_quote "$RACK_DIR/$R/nodes")$" "LEGO_* environment"
	rk exec --name "$R" -- ip -o -4 addr show dev legobr0
	expect_out 'inet 198\.18\.0\.1/15 ' "bridge address"
	rk exec --name "$R" -- ip route show
	expect_no_out '^default' "no default route"
	expect_out '^198\.18\.0\.0/15 dev legobr0' "the rack's /15 on the bridge"
	rk exec --name "$R" -- ip -o link show
	local n
	for n in p0 m0 s0; do
		expect_out ": tap-$n: .*master legobr0" "tap-$n on the bridge"
	done
	# exit status passes through
	rk exec --name "$R" -- sh -c 'exit 7'
	expect_rk_rc 7 "exec passes the command's exit status"
}

ping_case() {
	local n ip mac any=0
	for n in p0 m0 s0; do net_up "$n" && any=1; done
	if [ "$any" = 0 ]; then
		fail "no node configured its network (no 'net: ... ip 198.18...' line)"
		return
	fi
	for n in p0 m0 s0; do
		ip=$(node_field "$n" 3); mac=$(node_field "$n" 4)
		if ! net_up "$n"; then fail "$n: no 'net: ... ip ...' line although other nodes have one"; continue; fi
		grep -Eq "^(\[[^]]*\] *)?net: .*$mac" "$RACK_DIR/$R/$n.log" || fail "$n: the kernel's net line does not show MAC $mac"
		rk exec --name "$R" -- ping -n -c 3 -i 0.3 -W 2 "$ip"
		expect_out ' [1-3] received' "ping $n ($ip) from the namespace"
	done
}

loss_case() {
	rk loss --name "$R" 2.5
	expect_rk_rc 0
	rk exec --name "$R" -- nft list table bridge lego_loss
	expect_out 'hook forward' "forward chain"
	expect_out 'numgen random mod 10000 < 250 ' "2.5% as 250 in 10000"
	expect_no_out 'hook input' "bridged scope: no input chain"
	rk status --name "$R"
	expect_out "^rack $R: .*loss 2\\.5% \\(bridged\\)" "status shows the loss"
	rk loss --name "$R" 100 --scope all
	expect_rk_rc 0
	rk exec --name "$R" -- nft list table bridge lego_loss
	expect_out 'hook input' "all scope: input chain"
	expect_out 'hook output' "all scope: output chain"
	if net_up p0; then
		rk exec --name "$R" -- ping -n -c 2 -i 0.3 -W 1 198.18.1.1
		expect_out ' 0 received' "no ping reply at 100% loss"
	fi
	rk loss --name "$R" 0
	expect_rk_rc 0
	rk exec --name "$R" -- nft list ruleset
	expect_no_out 'lego_loss' "loss 0 removes the table"
	rk status --name "$R"
	expect_out "^rack $R: .*no loss"
	rk loss --name "$R" 101
	expect_rk_rc 2 "101% is refused"
	rk loss --name "$R" 1.234
	expect_rk_rc 2 "three decimals are refused"
}

errors_case() {
	rk up --name "$R" --processor 1
	expect_rk_rc 1
	expect_out "already up" "up of a rack that is up"
	rk logs --name "$R" p9
	expect_rk_rc 1
	expect_out "unknown node 'p9'.*p0 m0 s0"
	rk kill --name "$R" m7
	expect_out "unknown node 'm7'"
	rk kill --name "$R" q1
	expect_rk_rc 2 "not a node name"
	rk run
	expect_rk_rc 2
	expect_out "run needs a program"
	RK_RC=0
	RK_OUT=$(LEGO_ISO_DIR="$OUT/no-isos" "$RACK" up --name "$RX" 2>&1) || RK_RC=$?
	echo "missing ISO dir: $RK_OUT"
	expect_rk_rc 1
	expect_out "run make" "missing ISO"
	mkdir -p "$OUT/no-isos"
	RK_RC=0
	RK_OUT=$(LEGO_ISO_DIR="$OUT/no-isos" "$RACK" up --name "$RX" 2>&1) || RK_RC=$?
	echo "missing ISO: $RK_OUT"
	expect_out "legoos-processor\\.iso not found \\(run make\\)" "missing ISO"
	! ns_present "$RX" || fail "a refused up left namespace lego-$RX"
	if command -v setpriv > /dev/null; then
		RK_RC=0
		RK_OUT=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$RACK" up --name "$RX" 2>&1) || RK_RC=$?
		echo "as nobody: $RK_OUT"
		expect_rk_rc 1
		expect_out "must run as root" "not root"
	fi
	rk bogus
	expect_rk_rc 2 "unknown command"
	rk up --name "$RX" --nic rtl8139
	expect_rk_rc 2 "unknown NIC model"
	rk --help
	expect_rk_rc 0
	expect_out '^ +down \[--all\]' "help documents down"
}

kill_case() {
	local pid
	pid=$(node_field p0 6)
	rk kill --name "$R" p0
	expect_rk_rc 0
	sleep 0.3
	[ ! -d "/proc/$pid" ] || ! grep -q qemu "/proc/$pid/cmdline" 2>/dev/null || fail "QEMU $pid of p0 still exists"
	rk status --name "$R"
	expect_rk_rc 0
	[ "$(state_of p0)" = killed ] || fail "status: p0 is '$(state_of p0)', expected killed"
	[ "$(state_of m0)" = running ] || fail "status: m0 is '$(state_of m0)', expected running"
	[ "$(state_of s0)" = running ] || fail "status: s0 is '$(state_of s0)', expected running"
	rk kill --name "$R" p0
	expect_rk_rc 1 "p0 is not running any more"
}

# restart: a killed node boots again with its name, address and MAC; to
# the managers it is a reboot, so it registers under a new id and the old
# id stays dead. A running node cannot be restarted.
restart_case() {
	local old new
	old=$(node_field p0 5)
	rk restart --name "$R" s0
	expect_rk_rc 1 "s0 is still running"
	expect_out "still running"
	rk restart --name "$R" p0
	expect_rk_rc 0 "restart of the killed p0"
	new=$(node_field p0 5)
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "p0 re-registered with id '$new' (was $old); a reboot gets a new id"
	rk status --name "$R"
	[ "$(state_of p0)" = running ] || fail "status: p0 is '$(state_of p0)' after restart"
	rk exec --name "$R" -- "$RACK_ROOT/build/gm/legoctl" nodes
	expect_out "^$old +p0 .* dead " "the old id is dead"
	expect_out "^$new +p0 .* alive " "the new id is alive"
	rk exec --name "$R" -- "$RACK_ROOT/build/gm/legoctl" ping p0 --count 2
	expect_rk_rc 0 "the restarted p0 answers"
	[ -f "$RACK_DIR/$R/s0.img" ] || fail "storage node s0 has no disk image"
}

down_case() {
	local sleeper
	# A process started in the namespace (like a manager) goes with the rack.
	"$RACK" exec --name "$R" -- sleep 600 < /dev/null > /dev/null 2>&1 &
	sleeper=$!
	sleep 0.5
	kill -0 "$sleeper" 2>/dev/null || fail "exec -- sleep 600 did not start"
	rk down --name "$R"
	keep_logs "$R"
	expect_rk_rc 0
	expect_out "removed .*namespace lego-$R"
	sleep 0.2
	if kill -0 "$sleeper" 2>/dev/null; then
		fail "the process started with exec survived down"
		kill "$sleeper" 2>/dev/null
	fi
	wait "$sleeper" 2>/dev/null
	expect_clean "$R"
	rk status --name "$R"
	expect_rk_rc 1 "status of a rack that is down"
	expect_out "down"
	rk logs --name "$R" m0
	expect_rk_rc 0 "logs are kept after down"
	expect_out "lego: memory monitor ready"
}

down_again_case() {
	rk down --name "$R"
	expect_rk_rc 0
	expect_out "nothing to remove"
	rk down --name "$R"
	expect_rk_rc 0
	rk down --name "t60never-$SFX"
	expect_rk_rc 0 "down of a rack that never existed"
	[ ! -e "$RACK_DIR/t60never-$SFX" ] || fail "down of a rack that never existed created its state directory"
	expect_clean "$R"
}

# ---- several racks ----

two_racks_case() {
	"$RACK" down --name "$RA" > /dev/null 2>&1 || true
	"$RACK" down --name "$RB" > /dev/null 2>&1 || true
	rk up --name "$RA" --processor 1 --storage 1
	expect_rk_rc 0 "up $RA"
	rk up --name "$RB" --memory 2 --nic e1000 --loss 5
	expect_rk_rc 0 "up $RB"
	keep_logs "$RA"; keep_logs "$RB"
	rk status --name "$RA"
	[ "$(state_of p0)" = running ] && [ "$(state_of s0)" = running ] || fail "$RA: p0/s0 not running"
	[ -z "$(state_of m0)" ] || fail "$RA has no m0"
	rk status --name "$RB"
	[ "$(state_of m0)" = running ] && [ "$(state_of m1)" = running ] || fail "$RB: m0/m1 not running"
	expect_out "^rack $RB: .*nic e1000, loss 5% \\(bridged\\)"
	rk exec --name "$RB" -- nft list table bridge lego_loss
	expect_out 'numgen random mod 10000 < 500 ' "$RB: 5% loss rule"
	rk exec --name "$RA" -- ip -o link show
	expect_out ': tap-p0: ' "$RA has tap-p0"
	expect_no_out ': tap-m[0-9]' "$RA must not see $RB's taps"
	grep -q 'e1000' <<< "$(tr '\0' ' ' < "/proc/$(node_field m0 6 "$RB")/cmdline")" ||
		fail "$RB: m0's QEMU has no e1000 device"
	rk list
	expect_out "^$RA " "list shows $RA"
	expect_out "^$RB " "list shows $RB"
	rk down --name "$RA"
	expect_rk_rc 0
	expect_clean "$RA"
	rk status --name "$RB"
	expect_rk_rc 0 "$RB survives the down of $RA"
	[ "$(state_of m0)" = running ] || fail "$RB: m0 not running after down of $RA"
	rk down --name "$RB"
	expect_rk_rc 0
	expect_clean "$RB"
}

# ---- crashes and failures ----

crash_case() {
	local up_pid i n
	"$RACK" down --name "$RC" > /dev/null 2>&1 || true
	"$RACK" up --name "$RC" --processor 2 --memory 1 --storage 1 > "$OUT/$CASE.up.out" 2>&1 &
	up_pid=$!
	for ((i = 0; i < 200; i++)); do
		n=$(ls "$RACK_DIR/$RC"/*.pid 2>/dev/null | wc -l)
		[ "$n" -lt 2 ] || break
		sleep 0.05
	done
	kill -KILL "$up_pid" 2>/dev/null
	wait "$up_pid" 2>/dev/null
	keep_logs "$RC"
	echo "killed scripts/rack up after $n pid file(s) appeared"
	[ -n "$(rack_qemus "$RC")" ] || fail "no QEMU of rack $RC was running after the crash (the case tests nothing)"
	ns_present "$RC" || fail "no namespace lego-$RC after the crash"
	# Lose the bookkeeping as well.
	rm -f -- "$RACK_DIR/$RC"/*.pid "$RACK_DIR/$RC/nodes"
	rk status --name "$RC"
	expect_rk_rc 1
	expect_out "crashed run"
	rk down --name "$RC"
	expect_rk_rc 0
	expect_out "killed [1-9][0-9]* QEMU"
	expect_clean "$RC"
}

panic_case() {
	"$RACK" down --name "$RP" > /dev/null 2>&1 || true
	rk up --name "$RP" --processor 1 --memory 1 --cmdline lego.test=fault:panic
	keep_logs "$RP"
	expect_rk_rc 1 "up must fail when a node panics"
	expect_out "PANIC on CPU" "the panicking node's log tail"
	expect_out "kernel panic during boot"
	expect_out "tearing the rack down"
	expect_clean "$RP"
}

timeout_case() {
	"$RACK" down --name "$RT" > /dev/null 2>&1 || true
	# -S: the guest CPUs never start, so no ready line ever comes.
	rk up --name "$RT" --storage 1 --timeout 2 -- -S
	expect_rk_rc 1 "up must fail on timeout"
	expect_out "no 'lego: storage monitor ready' line within 2s"
	expect_clean "$RT"
}

# Remove the test racks and their state directories (the logs that matter
# were copied into the test results).
cleanup_test_racks() {
	local r
	for r in "${TEST_RACKS[@]}" "t60never-$SFX"; do
		"$RACK" down --name "$r" > /dev/null 2>&1 || true
		if ! ns_present "$r"; then rm -rf -- "${RACK_DIR:?}/$r"; fi
	done
	rmdir -- "$RACK_DIR" 2> /dev/null || true
}
trap cleanup_test_racks EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

# Cases reported as SKIP: "ok N - name # SKIP reason" instead of lib.sh's line.
eval "$(declare -f _report | sed '1s/^_report/_lib_report/')"
_report() {
	local name=${CASE_NAMES[$1]} rc ms
	if [ -f "$OUT/$name.skip" ]; then
		read -r rc ms < "$OUT/$name.rc"
		if [ "$rc" -eq 0 ]; then
			echo "ok $2 - $name # SKIP $(head -n 1 "$OUT/$name.skip")"
			return
		fi
	fi
	_lib_report "$@"
}

add_case up-3-nodes up_case
add_case status-running status_case
add_case namespace-and-exec namespace_case
add_case ping-nodes ping_case
add_case loss loss_case
add_case error-messages errors_case
add_case kill-p0 kill_case
add_case restart-p0 restart_case
add_case down-leaves-no-trace down_case
add_case down-idempotent down_again_case
add_case two-racks-side-by-side two_racks_case
add_case down-after-crashed-up crash_case
add_case up-fails-on-panic panic_case
add_case up-fails-on-timeout timeout_case
run_cases
