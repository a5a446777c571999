#!/usr/bin/env bash
# The global managers (gpmd, gmmd, gsmd). Most cases run them on 127.0.0.1
# with fake monitors (legoctl fake-monitor) instead of QEMU nodes:
# registration and ids, retries and reboots, failure detection within the
# bound and its notification, GMM's choices before and after a death and an
# addition, restarts that keep ids and vNodes, vNode commands and their
# errors, state-file corruption, and fuzzed datagrams at every manager
# (against sanitizer builds of the daemons); legoctl mem against the fake
# memory monitor's tiny in-memory home and owner. Each of those starts its own
# managers on its own ports, with short timings (heartbeat 100 ms, dead
# after 600 ms, load poll 300 ms), and stops them at its end.
#
# The last case does it for real: scripts/rack with its managers and 2
# processor, 2 memory and 1 storage kernel nodes.
. "$(dirname -- "$0")/lib.sh"
. "$(dirname -- "$0")/racklib.sh"
# One case at a time: the timing checks must not compete with QEMU boots.
JOBS=1

GMB=$RACK_ROOT/build/gm
LEGOCTL=$GMB/legoctl
HB=100 DEAD=600 POLL=300
# Where detection may lag behind DEAD: one heartbeat already on its way,
# the 50 ms detection tick, a loaded host.
SLACK=900
# Ports below the ephemeral range, different per run and per case.
PORT0=$((20000 + ($$ % 600) * 24))

for b in gpmd gmmd gsmd legoctl; do
	[ -x "$GMB/$b" ] || { echo "not ok 1 - build # $GMB/$b missing: run make gm"; exit 1; }
done

# ---- helpers (inside a case) ----

# gm_env N: ports and work directory of the case numbered N.
gm_env() {
	P_GPM=$((PORT0 + 3 * $1)) P_GMM=$((PORT0 + 3 * $1 + 1)) P_GSM=$((PORT0 + 3 * $1 + 2))
	W=$OUT/$CASE.work
	rm -rf -- "$W"
	mkdir -p -- "$W/state"
	export LEGO_GM=127.0.0.1 LEGO_GPM=127.0.0.1:$P_GPM LEGO_GMM=127.0.0.1:$P_GMM \
		LEGO_GSM=127.0.0.1:$P_GSM
	DAEMON_BIN=${DAEMON_BIN:-$GMB}
	trap gm_cleanup EXIT
}

# gm_cleanup: stop every process this case started (by pid file).
gm_cleanup() {
	local f p
	for f in "$W"/*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		[ -n "$p" ] && kill -TERM "$p" 2> /dev/null || true
	done
	sleep 0.2
	for f in "$W"/*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		[ -n "$p" ] && kill -KILL "$p" 2> /dev/null || true
		rm -f -- "$f"
	done
}

alive() { [ -f "$W/$1.pid" ] && kill -0 "$(cat "$W/$1.pid")" 2> /dev/null; }

# wait_file FILE REGEX [MS]: wait until a line of FILE matches.
wait_file() {
	local end=$(($(now_ms) + ${3:-5000}))
	while [ "$(now_ms)" -lt "$end" ]; do
		grep -Eq -- "$2" "$1" 2> /dev/null && return 0
		sleep 0.05
	done
	return 1
}

# daemon NAME [ARGS]: start a manager of this case and wait for "ready".
daemon() {
	local d=$1 port; shift
	case $d in gpmd) port=$P_GPM ;; gmmd) port=$P_GMM ;; gsmd) port=$P_GSM ;; esac
	: >> "$W/$d.log"
	local mark
	mark=$(wc -l < "$W/$d.log")
	"$DAEMON_BIN/$d" --listen 127.0.0.1 --port "$port" --state-dir "$W/state" \
		--heartbeat-ms $HB --dead-after-ms $DEAD --poll-ms $POLL "$@" 2>> "$W/$d.log" &
	echo $! > "$W/$d.pid"
	disown $!	# no "Killed" job reports: the case kills it on purpose
	local end=$(($(now_ms) + 5000))
	while [ "$(now_ms)" -lt "$end" ]; do
		tail -n +"$((mark + 1))" "$W/$d.log" | grep -q "$d: ready" && return 0
		alive "$d" || break
		sleep 0.05
	done
	fail "$d did not become ready"
	tail -n 20 "$W/$d.log"
	return 1
}

managers() {
	daemon gpmd --gmm "127.0.0.1:$P_GMM" --gsm "127.0.0.1:$P_GSM" &&
		daemon gmmd && daemon gsmd
}

# fake NAME PERSONALITY [legoctl fake-monitor options]
fake() {
	local n=$1 p=$2 port; shift 2
	case $p in processor) port=$P_GPM ;; memory) port=$P_GMM ;; storage) port=$P_GSM ;; esac
	"$LEGOCTL" fake-monitor --personality "$p" --name "$n" --gm 127.0.0.1 --port "$port" \
		"$@" >> "$W/$n.out" 2>&1 &
	echo $! > "$W/$n.pid"
	disown $!
}

# fake_reg NAME PERSONALITY [options]: start one and wait until it has
# registered, so that ids follow the order of the calls.
fake_reg() {
	fake "$@"
	wait_registered "$1"
}

# stop NAME [SIGNAL]: end a process of this case and wait for it.
stop() {
	local p
	p=$(cat "$W/$1.pid" 2> /dev/null) || return 0
	kill -"${2:-TERM}" "$p" 2> /dev/null || true
	local end=$(($(now_ms) + 5000))
	while kill -0 "$p" 2> /dev/null && [ "$(now_ms)" -lt "$end" ]; do sleep 0.05; done
	rm -f -- "$W/$1.pid"
}

# lc ARGS: run legoctl; sets LC_RC, LC_OUT (stdout), LC_ERR (stderr).
lc() {
	LC_RC=0
	LC_OUT=$("$LEGOCTL" "$@" 2> "$W/lc.err") || LC_RC=$?
	LC_ERR=$(cat "$W/lc.err")
	{
		echo "\$ legoctl $* -> exit status $LC_RC"
		[ -z "$LC_OUT" ] || printf '%s\n' "$LC_OUT" | sed 's/^/  | /'
		[ -z "$LC_ERR" ] || printf '%s\n' "$LC_ERR" | sed 's/^/  ! /'
	}
}

expect_lc() { [ "$LC_RC" -eq "$1" ] || fail "legoctl exit status $LC_RC, expected $1${2:+ ($2)}"; }
expect_lc_out() { grep -Eq -- "$1" <<< "$LC_OUT" || fail "no legoctl output line matching /$1/${2:+ ($2)}"; }
expect_lc_err() { grep -Eq -- "$1" <<< "$LC_ERR" || fail "no legoctl error matching /$1/${2:+ ($2)}"; }

# node_col ID COL: a column of `legoctl nodes` for node ID (quietly).
node_col() {
	"$LEGOCTL" nodes 2> /dev/null | awk -v id="$1" -v c="$2" '$1 == id { print $c }'
}

# wait_state ID STATE [MS]: wait until `legoctl nodes` shows ID in STATE.
wait_state() {
	local end=$(($(now_ms) + ${3:-5000}))
	while [ "$(now_ms)" -lt "$end" ]; do
		[ "$(node_col "$1" 5)" = "$2" ] && return 0
		sleep 0.05
	done
	fail "node $1 not $2 within ${3:-5000} ms (is: '$(node_col "$1" 5)')"
	return 1
}

# registered NAME: the id fake monitor NAME got last.
registered() { sed -nE 's/.*registered as id ([0-9]+).*/\1/p' "$W/$1.out" | tail -n1; }

# wait_count FILE REGEX N [MS]: wait until N lines of FILE match.
wait_count() {
	local end=$(($(now_ms) + ${4:-5000}))
	while [ "$(now_ms)" -lt "$end" ]; do
		[ "$(grep -Ec -- "$2" "$1" 2> /dev/null)" -ge "$3" ] && return 0
		sleep 0.05
	done
	return 1
}

# wait_registered NAME [MS]
wait_registered() {
	wait_file "$W/$1.out" "registered as id" "${2:-5000}" || fail "$1 did not register"
}

# choices N home|vregion: the ids GMM chose N times in a row.
choices() {
	local i
	for ((i = 0; i < $1; i++)); do
		"$LEGOCTL" choose "$2" --bytes 1048576 2> /dev/null |
			sed -nE 's/.*\(id ([0-9]+),.*/\1/p'
	done
}

TS_RE='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'

# ---- cases ----

registration_case() {
	gm_env 0
	managers || return
	fake_reg p0 processor --cpus 4 --threads 7
	fake_reg p1 processor --incarnation 41
	fake_reg m0 memory --mem-mib 1024 --free-mib 700 --req-rate 40
	fake_reg m1 memory --incarnation 42
	fake_reg s0 storage --storage-mib 2048 --storage-free-mib 1500
	sleep 1.2   # a few load polls: a rate needs two samples
	lc nodes
	expect_lc 0
	expect_lc_out '^ID +NAME +PERSONALITY +ADDRESS +STATE +SINCE +LOAD$' "header"
	expect_lc_out '^1000 +p0 +processor +127\.0\.0\.1:[0-9]+ +alive +[0-9TZ:-]+ +4 cpus/7 threads$'
	expect_lc_out '^1001 +p1 +processor .* alive '
	expect_lc_out '^2000 +m0 +memory .* alive +[0-9TZ:-]+ +700/1024 MiB free, 4[0-9] req/s$' \
		"polled memory load; 40 req/s of --req-rate plus the polls themselves"
	expect_lc_out '^2001 +m1 +memory .* alive '
	expect_lc_out '^3000 +s0 +storage .* alive +[0-9TZ:-]+ +1500/2048 MiB free$'
	[ "$(grep -Ec '^[0-9]{4} ' <<< "$LC_OUT")" -eq 5 ] || fail "expected exactly 5 components"
	lc nodes --json
	expect_lc 0
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["nodes"])==5, d; assert all(n["state"]=="alive" for n in d["nodes"]); assert all(m["ok"] for m in d["managers"])' <<< "$LC_OUT" ||
		fail "nodes --json is not the expected JSON"
	LOG=$W/gmmd.log
	expect_line "$TS_RE gmmd: m0 \\(id 2000, 127\\.0\\.0\\.1:[0-9]+\\) registered" "timestamped registration log"
	lc ping
	expect_lc 0 "the three managers answer pings"
	lc info gmm
	expect_lc 0
	expect_lc_out '^name: +gmmd$'

	# A retry (same incarnation, e.g. a lost reply) keeps the id.
	stop m1 KILL
	fake_reg m1 memory --incarnation 42
	wait_count "$W/m1.out" "registered as id" 2 || fail "m1 did not register again"
	[ "$(registered m1)" = 2001 ] || fail "m1 with the same incarnation got $(registered m1), not 2001 again"
	# A reboot (new incarnation): old id dead and logged, a new id.
	stop p1 KILL
	fake_reg p1 processor --incarnation 43
	wait_count "$W/p1.out" "registered as id" 2 || fail "p1 did not register again"
	[ "$(registered p1)" = 1002 ] || fail "rebooted p1 got $(registered p1), not 1002"
	wait_state 1001 dead 1000
	LOG=$W/gpmd.log
	expect_line "gpmd: p1 \\(id 1001, 127\\.0\\.0\\.1\\) dead: it rebooted" "reboot logged"
	expect_line "gpmd: p1 \\(id 1002, .*\\) registered, replacing id 1001" "new id logged"

	# A manager that does not answer: the others are still listed.
	stop gsmd
	lc nodes --timeout 300
	expect_lc 1 "a manager did not answer"
	expect_lc_err 'warning: GSM at 127\.0\.0\.1:[0-9]+ does not answer'
	expect_lc_out '^2000 +m0 ' "GMM's components still listed"
	lc nodes --json --timeout 300
	expect_lc 1
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert [m["ok"] for m in d["managers"]]==[True,True,False], d' <<< "$LC_OUT" ||
		fail "nodes --json does not report the missing manager"
	gm_cleanup
}

death_case() {
	gm_env 1
	managers || return
	fake_reg m0 memory --notify
	fake_reg m1 memory --notify --incarnation 77
	fake_reg m2 memory
	[ "$(registered m1)" = 2001 ] || fail "m1 is not 2001"
	choices 9 vregion > "$W/before"
	grep -qx 2001 "$W/before" || fail "GMM never chose m1 before it died: $(tr '\n' ' ' < "$W/before")"

	local t0 t1
	t0=$(now_ms)
	stop m1 KILL
	wait_state 2001 dead $((DEAD + SLACK + 2000))
	t1=$(now_ms)
	[ $((t1 - t0)) -le $((DEAD + SLACK)) ] ||
		fail "m1 declared dead $((t1 - t0)) ms after it stopped (bound $DEAD + $SLACK ms)"
	echo "m1 declared dead $((t1 - t0)) ms after it stopped"
	LOG=$W/gmmd.log
	expect_line "$TS_RE gmmd: m1 \\(id 2001, 127\\.0\\.0\\.1\\) dead: no heartbeat for [0-9]+ ms" "death logged"
	local silent
	silent=$(sed -nE 's/.*m1 \(id 2001.*dead: no heartbeat for ([0-9]+) ms/\1/p' "$LOG")
	[ -n "$silent" ] && [ "$silent" -ge "$DEAD" ] && [ "$silent" -le $((DEAD + 200)) ] ||
		fail "logged silence '$silent' ms not in $DEAD..$((DEAD + 200))"
	# Interested monitors are told; the others are not asked.
	wait_file "$W/m0.out" "told that node 2001 \\(memory\\) died" 3000 ||
		fail "m0 (wants notifications) was not told"
	grep -q "told that" "$W/m2.out" && fail "m2 did not ask for notifications but was told"
	expect_line "gmmd: told m0 \\(id 2000\\) that id 2001 died"

	# GMM no longer chooses it.
	choices 12 vregion > "$W/after"
	choices 4 home >> "$W/after"
	[ "$(wc -l < "$W/after")" -eq 16 ] || fail "some choices failed: $(tr '\n' ' ' < "$W/after")"
	grep -qx 2001 "$W/after" && fail "GMM chose dead m1: $(tr '\n' ' ' < "$W/after")"
	# A monitor silent too long (here: stopped) is declared dead; its next
	# heartbeat gets -ENOENT and it registers again, with a new id.
	kill -STOP "$(cat "$W/m2.pid")"
	wait_state 2002 dead $((DEAD + SLACK + 2000))
	kill -CONT "$(cat "$W/m2.pid")"
	wait_file "$W/m2.out" "manager no longer knows id 2002; registering again" 3000 ||
		fail "m2 was not told that it is unknown"
	wait_count "$W/m2.out" "registered as id" 2 || fail "m2 did not register again"
	[ "$(registered m2)" = 2003 ] || fail "m2 registered again as $(registered m2), expected 2003"
	# Declared dead, even the same incarnation gets a new id.
	fake_reg m1 memory --notify --incarnation 77
	wait_count "$W/m1.out" "registered as id" 2 || fail "m1 did not register again"
	[ "$(registered m1)" = 2004 ] || fail "m1 registered again as $(registered m1), expected 2004"
	# An added component is used by the next allocations.
	fake_reg m3 memory
	[ "$(registered m3)" = 2005 ] || fail "m3 got $(registered m3), expected 2005 (ids never reused)"
	choices 8 vregion > "$W/added"
	grep -qx 2005 "$W/added" || fail "GMM did not choose new m3: $(tr '\n' ' ' < "$W/added")"
	grep -qx 2001 "$W/added" && fail "GMM chose the dead id 2001"

	# With no memory component alive, a clear error.
	stop m0 KILL; stop m1 KILL; stop m2 KILL; stop m3 KILL
	wait_state 2005 dead $((DEAD + SLACK + 2000))
	wait_state 2000 dead 2000
	wait_state 2003 dead 2000
	wait_state 2004 dead 2000
	lc choose vregion
	expect_lc 1
	expect_lc_err 'no memory component is alive'
	lc choose home
	expect_lc 1
	expect_lc_err 'no memory component is alive'
	gm_cleanup
}

restart_case() {
	gm_env 2
	managers || return
	fake_reg p0 processor
	fake_reg m0 memory
	fake_reg m1 memory
	fake_reg s0 storage
	lc vnode create web
	expect_lc 0
	lc vnode create db
	expect_lc 0
	lc vnode list --json
	local before=$LC_OUT

	# gmmd crashes (SIGKILL) and comes back: same ids, learned again from
	# heartbeats; no fake monitor registered again.
	stop gmmd KILL
	sleep 0.3
	daemon gmmd || return
	LOG=$W/gmmd.log
	expect_line "gmmd: loaded .*gmmd\\.state: next id 2002, 2 components" "state reloaded"
	wait_state 2000 alive 3000
	wait_state 2001 alive 3000
	expect_line "gmmd: m0 \\(id 2000, 127\\.0\\.0\\.1\\) alive again"
	[ "$(grep -c 'registered as id' "$W/m0.out")" -eq 1 ] || fail "m0 had to register again"
	lc choose home
	expect_lc 0
	fake_reg m2 memory
	[ "$(registered m2)" = 2002 ] || fail "m2 got $(registered m2) after the restart, expected 2002"

	# A component that died while gmmd was down: unknown, then dead.
	stop gmmd
	stop m1 KILL
	daemon gmmd || return
	[ "$(node_col 2001 5)" = unknown ] || fail "m1 should be 'unknown' right after the restart, is '$(node_col 2001 5)'"
	wait_state 2001 dead $((DEAD + SLACK + 1000))
	expect_line "gmmd: m1 \\(id 2001, 127\\.0\\.0\\.1\\) dead: not heard from within [0-9]+ ms of this manager's restart"
	wait_state 2000 alive 1000

	# gpmd restarts (SIGTERM): vNodes and processor ids kept.
	stop gpmd
	daemon gpmd --gmm "127.0.0.1:$P_GMM" --gsm "127.0.0.1:$P_GSM" || return
	lc vnode list --json
	expect_lc 0
	[ "$LC_OUT" = "$before" ] || fail "vNodes changed across the gpmd restart"
	wait_state 1000 alive 3000
	lc vnode create third
	expect_lc 0
	expect_lc_out 'id 3, virtual IP 10\.200\.0\.3'
	lc run --place-only --vnode web -- /bin/true
	expect_lc 0
	expect_lc_out 'processor p0 \(id 1000'
	# And gmmd restarted again with vNodes untouched (they live in gpmd).
	stop gmmd KILL
	daemon gmmd || return
	lc vnode list
	expect_lc 0
	expect_lc_out '^2 +db +10\.200\.0\.2 +/vnode/db '
	[ -s "$W/state/gmmd.state" ] && [ -s "$W/state/gpmd.state" ] || fail "no state files"
	gm_cleanup
}

vnode_case() {
	gm_env 3
	managers || return
	fake_reg p0 processor
	fake_reg p1 processor --threads 5
	fake_reg m0 memory
	fake_reg s0 storage --storage-free-mib 100
	fake_reg s1 storage --storage-free-mib 900
	sleep 1    # polled loads
	lc vnode create web
	expect_lc 0
	expect_lc_out '^vNode web created: id 1, virtual IP 10\.200\.0\.1, mount /vnode/web on storage node 3001$' \
		"GSM puts the storage on the sComponent with the most free space"
	lc vnode create web
	expect_lc 1 "duplicate name"
	expect_lc_err "vNode 'web' already exists"
	lc vnode create Bad.Name
	expect_lc 2 "invalid name is a usage error"
	lc vnode create abcdefghijklmnop
	expect_lc 2
	lc vnode create db --json
	expect_lc 0
	python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["id"]==2 and d["vip"]=="10.200.0.2" and d["mount"]=="/vnode/db", d' <<< "$LC_OUT" ||
		fail "vnode create --json"
	lc vnode list
	expect_lc 0
	expect_lc_out '^ID +NAME +VIRTUAL-IP +MOUNT +STORAGE +CREATED$'
	expect_lc_out '^1 +web +10\.200\.0\.1 +/vnode/web +3001 '
	lc vnode rm nope
	expect_lc 1
	expect_lc_err "no vNode named 'nope'"
	lc vnode rm db
	expect_lc 0
	lc vnode create db
	expect_lc 0
	expect_lc_out 'id 3, virtual IP 10\.200\.0\.3' "ids and addresses are not reused"
	lc vnode bogus
	expect_lc 2

	# run: placed, then RUN at the chosen processor; a fake monitor does not
	# serve it, which legoctl reports with the processor's name.
	lc run --place-only --vnode web -- /bin/echo hello --flag
	expect_lc 0
	expect_lc_out 'placement of /bin/echo in vNode web \(id 1\): processor p[01] \(id 100[01], 127\.0\.0\.1\), home memory m0 \(id 2000, 127\.0\.0\.1\)' \
		"GPM places on a pComponent and GMM picks the home"
	lc run --vnode web -- /bin/echo hello --flag
	expect_lc 1
	expect_lc_err 'run: /bin/echo: .*\(processor p[01]\)' "RUN refused by the fake processor"
	lc run --vnode web -- relative/path
	expect_lc 2 "a relative program path"
	lc run --vnode nope -- /bin/true
	expect_lc 1
	expect_lc_err "no vNode named 'nope'"
	lc run --vnode web
	expect_lc 2 "missing PATH"
	lc run -- /bin/true
	expect_lc 2 "missing --vnode"

	# Every command has --help (exit 0) and the exit codes in the top help.
	local c
	for c in nodes vnode run ping info rpctest choose serve-echo fake-monitor; do
		lc "$c" --help
		expect_lc 0 "$c --help"
	done
	lc --help
	expect_lc_out '3 not available yet'
	lc nodes --bogus
	expect_lc 2

	# No component of a kind alive: clear errors.
	stop s0 KILL; stop s1 KILL
	wait_state 3001 dead $((DEAD + SLACK + 2000))
	wait_state 3000 dead 1000
	lc vnode create lonely
	expect_lc 1
	expect_lc_err 'no storage component is alive'
	stop gsmd
	lc vnode create lonely --timeout 3000
	expect_lc 1
	expect_lc_err 'GSM at 127\.0\.0\.1:[0-9]+ does not answer'
	stop p0 KILL; stop p1 KILL
	wait_state 1001 dead $((DEAD + SLACK + 2000))
	lc run --vnode web -- /bin/true
	expect_lc 1
	expect_lc_err 'no processor component is alive'
	fake_reg p2 processor
	stop m0 KILL
	wait_state 2000 dead $((DEAD + SLACK + 2000))
	lc run --vnode web -- /bin/true
	expect_lc 1
	expect_lc_err 'GMM: no memory component is alive'
	stop gmmd
	lc run --vnode web --timeout 3000 -- /bin/true
	expect_lc 1
	expect_lc_err 'GMM at 127\.0\.0\.1:[0-9]+ does not answer'
	gm_cleanup
}

state_case() {
	gm_env 4
	managers || return
	fake_reg m0 memory
	# A second gmmd on the same state directory is refused.
	local rc=0
	"$GMB/gmmd" --listen 127.0.0.1 --port $((P_GMM + 100)) --state-dir "$W/state" \
		2> "$W/second.log" || rc=$?
	[ "$rc" -eq 1 ] || fail "a second gmmd on the same state directory exited $rc, expected 1"
	grep -q 'another gmmd uses the state directory' "$W/second.log" || fail "no clear message: $(cat "$W/second.log")"
	stop gmmd
	stop m0

	# A corrupted state file: clear error, refusal...
	cp "$W/state/gmmd.state" "$W/good.state"
	sed -i 's/comp 2000 m0/comp 2000 mX/' "$W/state/gmmd.state"
	rc=0
	"$GMB/gmmd" --listen 127.0.0.1 --port "$P_GMM" --state-dir "$W/state" 2> "$W/bad.log" || rc=$?
	[ "$rc" -eq 1 ] || fail "gmmd with a corrupted state file exited $rc, expected 1"
	grep -Eq 'invalid state file: .*checksum mismatch' "$W/bad.log" || fail "no clear message: $(cat "$W/bad.log")"
	grep -q 'start with --reset-state' "$W/bad.log" || fail "no hint at --reset-state"
	printf 'garbage\x00\x01\n' > "$W/state/gmmd.state"
	rc=0
	"$GMB/gmmd" --listen 127.0.0.1 --port "$P_GMM" --state-dir "$W/state" 2> "$W/bad2.log" || rc=$?
	[ "$rc" -eq 1 ] || fail "gmmd with a garbage state file exited $rc"
	# ... unless --reset-state, which keeps the old file aside.
	daemon gmmd --reset-state || return
	LOG=$W/gmmd.log
	expect_line 'moved the old state file to .*gmmd\.state\.discarded-[0-9]+'
	ls "$W/state"/gmmd.state.discarded-* > /dev/null 2>&1 || fail "the discarded file is gone"
	stop gmmd
	# The good file loads again.
	cp "$W/good.state" "$W/state/gmmd.state"
	daemon gmmd || return
	stop gmmd

	# Usage errors: exit 2 with a message; --help exits 0.
	rc=0; "$GMB/gpmd" --bogus 2> "$W/u.log" || rc=$?
	[ "$rc" -eq 2 ] || fail "gpmd --bogus exited $rc, expected 2"
	rc=0; "$GMB/gsmd" --listen 127.0.0.1 --heartbeat-ms 500 --dead-after-ms 400 --no-state 2> "$W/u.log" || rc=$?
	[ "$rc" -eq 2 ] || fail "dead-after below heartbeat accepted ($rc)"
	rc=0; env -u LEGO_RACK_DIR "$GMB/gsmd" --listen 127.0.0.1 2> "$W/u.log" || rc=$?
	[ "$rc" -eq 2 ] && grep -q 'state-dir' "$W/u.log" || fail "no state directory accepted ($rc)"
	rc=0; "$GMB/gmmd" --listen 192.0.2.77 --no-state 2> "$W/u.log" || rc=$?
	[ "$rc" -eq 1 ] && grep -q 'cannot serve on 192.0.2.77' "$W/u.log" || fail "bind failure ($rc): $(cat "$W/u.log")"
	for d in gpmd gmmd gsmd; do
		rc=0; "$GMB/$d" --help > "$W/u.log" || rc=$?
		[ "$rc" -eq 0 ] && grep -q -- '--dead-after-ms' "$W/u.log" || fail "$d --help"
	done
	gm_cleanup
}

# The sanitizer builds of the daemons for the fuzz case, in a directory of
# their own (build/gm is untouched).
build_asan() {
	local dir=$1
	make --no-print-directory -C "$RACK_ROOT/gm" BUILD="$dir" \
		CFLAGS="-std=gnu11 -O1 -g -Wall -Wextra -Werror -Wmissing-prototypes -Wno-unused-parameter -Iinclude -I../include -MMD -MP -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		LDFLAGS="-fsanitize=address,undefined" > "$dir.build.log" 2>&1
}

fuzz_case() {
	gm_env 5
	local asan=$OUT/$CASE.asan
	if build_asan "$asan"; then
		DAEMON_BIN=$asan
		echo "fuzzing sanitizer builds from $asan"
	else
		fail "could not build the sanitizer daemons: $(tail -n 5 "$asan.build.log")"
		DAEMON_BIN=$GMB
	fi
	export ASAN_OPTIONS=abort_on_error=0:exitcode=99 UBSAN_OPTIONS=print_stacktrace=1
	managers || return
	fake_reg p0 processor
	fake_reg m0 memory --notify
	fake_reg s0 storage
	lc vnode create web
	expect_lc 0

	PYTHONPATH="$RACK_ROOT/tests/rack" /usr/bin/python3 - 127.0.0.1 "$P_GPM" "$P_GMM" "$P_GSM" <<'PY'
import os, random, socket, struct, sys
ip, ports = sys.argv[1], [int(p) for p in sys.argv[2:5]]
random.seed(80)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
from rpcwire import csum
def hdr(opcode, call, msg_len, off, flen, mcsum, typ=1, epoch=77, good=True, **kw):
    b = struct.pack('<HBBHHIIQIIHHiII', kw.get('magic', 0x474c), kw.get('version', 1), typ,
                    opcode, kw.get('flags', 0), 0, epoch, call, msg_len, off, flen,
                    kw.get('res', 0), 0, mcsum, 0)
    return b[:-4] + struct.pack('<I', csum(b)) if good else b
call = 0
def request(port, opcode, payload):
    """A well-formed (maybe multi-fragment) request with this payload."""
    global call
    call += 1
    m = csum(payload)
    if not payload:
        s.sendto(hdr(opcode, call, 0, 0, 0, m), (ip, port)); return
    for off in range(0, len(payload), 1400):
        frag = payload[off:off + 1400]
        s.sendto(hdr(opcode, call, len(payload), off, len(frag), m) + frag, (ip, port))
# Every opcode the managers know, their neighbours, and random ones.
ops = [0x0001, 0x0002, 0x0003, 0x0004, 0x0101, 0x0102, 0x0103, 0x0104, 0x0110, 0x0111,
       0x0112, 0x0113, 0x0120, 0x0121, 0x0130, 0x0100, 0x0105, 0x01ff, 0x0200, 0xffff]
sizes = [0, 1, 7, 8, 9, 15, 16, 17, 24, 55, 56, 57, 63, 64, 104, 112, 128, 1399, 1400, 1401, 3000]
sent = 0
for port in ports:
    for op in ops:
        for size in sizes:
            for k in range(3):
                if k == 0:   payload = os.urandom(size)
                elif k == 1: payload = bytes(size)                     # all zero
                else:        payload = bytes([random.choice([0, 0xff, ord('a'), ord('-')]) for _ in range(size)])
                request(port, op, payload); sent += 1
    for i in range(3000):
        k = i % 8
        if k == 0:   d = os.urandom(random.randrange(0, 1500))
        elif k == 1: d = hdr(0x0101, 9, 56, 0, 56, 0)[:random.randrange(0, 48)]
        elif k == 2: d = hdr(random.choice(ops), 9, 10, 0, 10, 0, version=random.choice([0, 2])) + b'x' * 10
        elif k == 3: d = hdr(0x0111, 9, 0xffffffff, 0, 16, 0) + b'x' * 16
        elif k == 4: d = hdr(0x0103, random.randrange(1 << 30), 100000, 1400 * random.randrange(1, 60), 1400, 1) + os.urandom(1400)
        elif k == 5: d = hdr(random.choice(ops), 9, 16, 0, 16, 1, good=False) + os.urandom(16)
        elif k == 6: d = hdr(random.choice(ops), 9, 16, 0, 16, 0, typ=random.choice([0, 2, 3, 4, 9])) + os.urandom(16)
        else:        d = hdr(random.choice(ops), 9, 16, 0, 30, 0) + os.urandom(16)   # lies about its length
        s.sendto(d, (ip, port)); sent += 1
    # Plausible but invalid registrations and heartbeats, many of them.
    for i in range(500):
        q = struct.pack('<II16sIHHIIQQ', random.choice([0, 1, 2, 3, 4, 99]), random.randrange(1 << 32),
                        random.choice([b'', b'x' * 16, b'bad name', b'm\n', b'a/b']),
                        random.choice([0, 0xffffffff, 0x0100007f]), random.choice([0, 4700]),
                        random.choice([0, 2, 0x8000]), 2, random.choice([0, 1]), 1 << 29, 0)
        request(port, 0x0101, q)
        request(port, 0x0102, struct.pack('<II', random.randrange(990, 3100), random.randrange(1 << 32)))
        sent += 2
print("sent", sent, "datagrams")
PY
	[ $? -eq 0 ] || fail "the fuzzer failed"
	sleep 1
	local d
	for d in gpmd gmmd gsmd; do
		alive "$d" || { fail "$d died under fuzzing"; tail -n 30 "$W/$d.log"; }
	done
	lc ping
	expect_lc 0 "the managers still answer"
	lc nodes
	expect_lc 0
	[ "$(grep -Ec '^[0-9]{4} ' <<< "$LC_OUT")" -eq 3 ] || fail "the fuzzing registered components"
	expect_lc_out '^1000 +p0 .* alive '
	expect_lc_out '^2000 +m0 .* alive '
	expect_lc_out '^3000 +s0 .* alive '
	lc vnode list
	expect_lc 0
	expect_lc_out '^1 +web ' "vNode web kept"
	# Payloads of 'a', '-' and NULs are valid names: such vNodes may have
	# been created; nothing else may have changed.
	awk 'NR > 1 && $2 != "web" && $2 !~ /^[a-]+$/ { bad = 1 } END { exit bad }' <<< "$LC_OUT" ||
		fail "the fuzzing made unexpected vNodes"
	lc run --place-only --vnode web -- /bin/true
	expect_lc 0 "placement still works"
	# Rejections are logged, but rate-limited.
	LOG=$W/gmmd.log
	expect_line 'gmmd: rejected [0-9]+ requests in the last [0-9]+ ms'
	[ "$(wc -l < "$W/gmmd.log")" -lt 200 ] || fail "gmmd logged $(wc -l < "$W/gmmd.log") lines: not rate-limited"
	# The state survived: a restarted gpmd still has the vNode.
	stop gpmd
	daemon gpmd --gmm "127.0.0.1:$P_GMM" --gsm "127.0.0.1:$P_GSM" || return
	lc vnode list
	expect_lc_out '^1 +web '
	for d in gpmd gmmd gsmd; do
		stop "$d"
		grep -E 'ERROR: AddressSanitizer|runtime error:' "$W/$d.log" && fail "$d: sanitizer report"
	done
	gm_cleanup
}

# ---- the real rack ----

# rlc ARGS: legoctl inside rack $R; sets RK_RC/RK_OUT.
rlc() { rk exec --name "$R" -- "$LEGOCTL" "$@"; }

# rack_choices N: GMM's vRegion owners for N requests in rack $R.
rack_choices() {
	local i
	for ((i = 0; i < $1; i++)); do
		"$RACK" exec --name "$R" -- "$LEGOCTL" choose vregion --bytes 1048576 2> /dev/null |
			sed -nE 's/.*\(id ([0-9]+),.*/\1/p'
	done
}

rack_state() {
	"$RACK" exec --name "$R" -- "$LEGOCTL" nodes 2> /dev/null |
		awk -v id="$1" '$1 == id { print $5 }'
}

rack_wait_state() {
	local end=$(($(now_ms) + $3))
	while [ "$(now_ms)" -lt "$end" ]; do
		[ "$(rack_state "$1")" = "$2" ] && return 0
		sleep 0.1
	done
	fail "node $1 not $2 within $3 ms (is: '$(rack_state "$1")')"
	return 1
}

# id_of NODE: the id the managers gave NODE, as scripts/rack recorded it.
# Nodes boot in parallel, so ids follow registration order, not names.
id_of() { awk -v n="$1" '$1 == n { print $5 }' "$RACK_DIR/$R/nodes"; }

rack_case() {
	local dead=1500 t0 t1 n id M0 M1 M2
	R=t80-$SFX
	W=$OUT/$CASE.work
	mkdir -p -- "$W"
	"$RACK" down --name "$R" > /dev/null 2>&1 || true
	trap '"$RACK" down --name "$R" > /dev/null 2>&1 || true' EXIT
	rk up --name "$R" --processor 2 --memory 2 --storage 1 --gm-opts "--dead-after-ms $dead"
	expect_rk_rc 0 "up with managers"
	[ "$RK_RC" -eq 0 ] || return
	# All register (with their managers' ids) and show in legoctl nodes.
	local want
	want=$(awk '{ print $5, $1, $2 }' "$RACK_DIR/$R/nodes" | sort)
	[ "$(awk '{ print $5 }' "$RACK_DIR/$R/nodes" | sort | tr '\n' ' ')" = "1000 1001 2000 2001 3000 " ] ||
		fail "ids recorded in the nodes file: $(awk '{ print $1 "=" $5 }' "$RACK_DIR/$R/nodes" | tr '\n' ' ')"
	M0=$(id_of m0) M1=$(id_of m1)
	local end=$(($(now_ms) + 10000))
	while [ "$(now_ms)" -lt "$end" ]; do
		rlc nodes > /dev/null
		[ "$(awk '$5 == "alive" { print $1, $2, $3 }' <<< "$RK_OUT" | sort)" = "$want" ] && break
		sleep 0.2
	done
	rlc nodes
	expect_rk_rc 0 "legoctl nodes in the rack"
	for n in p0 p1 m0 m1 s0; do
		expect_out "^$(id_of "$n") +$n .* alive " "$n registered and alive"
	done
	rack_choices 6 > "$W/before"
	grep -qx "$M1" "$W/before" || fail "GMM never chose m1: $(tr '\n' ' ' < "$W/before")"

	# scripts/rack kill: dead within the bound; GMM stops choosing it.
	t0=$(now_ms)
	rk kill --name "$R" m1
	expect_rk_rc 0
	rack_wait_state "$M1" dead $((dead + 3000))
	t1=$(now_ms)
	[ $((t1 - t0)) -le $((dead + 1000)) ] ||
		fail "m1 declared dead $((t1 - t0)) ms after the kill (bound $dead + 1000 ms)"
	echo "m1 declared dead $((t1 - t0)) ms after the kill"
	LOG=$RACK_DIR/$R/gmmd.log
	expect_line "$TS_RE gmmd: m1 \\(id $M1, 198\\.18\\.2\\.2\\) dead: no heartbeat for [0-9]+ ms"
	rack_choices 8 > "$W/after"
	[ "$(wc -l < "$W/after")" -eq 8 ] || fail "choices failed after the death"
	grep -qx "$M1" "$W/after" && fail "GMM chose dead m1: $(tr '\n' ' ' < "$W/after")"
	# The other memory monitor asked to be told.
	end=$(($(now_ms) + 3000))
	until grep -q "gm: told that node $M1 (memory) died" "$RACK_DIR/$R/m0.log" 2> /dev/null; do
		[ "$(now_ms)" -lt "$end" ] || { fail "m0 was not told of m1's death"; break; }
		sleep 0.1
	done

	# scripts/rack add memory: a new node registers and GMM chooses it.
	rk add --name "$R" memory
	expect_rk_rc 0 "add memory"
	M2=$(id_of m2)
	[ "$M2" = 2002 ] || fail "the added m2 got id '$M2', expected 2002 (ids are never reused)"
	rack_wait_state "$M2" alive 10000
	rack_choices 6 > "$W/added"
	grep -qx "$M2" "$W/added" || fail "GMM did not choose the added m2: $(tr '\n' ' ' < "$W/added")"

	# Restarting gmmd (and gpmd) keeps vNodes and ids.
	rlc vnode create web
	expect_rk_rc 0
	rlc vnode create db
	expect_rk_rc 0
	rlc vnode list --json
	local vn=$RK_OUT
	rk manager --name "$R" restart gmmd
	expect_rk_rc 0
	rack_wait_state "$M0" alive 5000
	rack_wait_state "$M2" alive 5000
	[ "$(rack_state "$M1")" = dead ] || fail "dead m1 came back as '$(rack_state "$M1")'"
	rlc nodes
	expect_out "^$M0 +m0 " "m0 keeps id $M0"
	expect_out "^$M2 +m2 " "m2 keeps id $M2"
	rlc vnode list --json
	[ "$RK_OUT" = "$vn" ] || fail "vNodes changed across the gmmd restart"
	rk manager --name "$R" restart gpmd
	expect_rk_rc 0
	rack_wait_state "$(id_of p0)" alive 5000
	rlc vnode list --json
	[ "$RK_OUT" = "$vn" ] || fail "vNodes changed across the gpmd restart"
	rlc run --place-only --vnode web -- /bin/true
	[ "$RK_RC" -eq 0 ] || fail "legoctl run --place-only: exit status $RK_RC, expected 0"
	expect_out 'home memory m[02] \(id 200[02]'
	keep_logs "$R"
	cp -- "$RACK_DIR/$R"/g[pms]md.log "$W/" 2> /dev/null || true
	rk down --name "$R"
	expect_rk_rc 0
}

# vNode namespaces on the storage node, legoctl fs and unhealthy storage
# nodes, against fake storage monitors (their in-memory storage service).
storage_case() {
	gm_env 6
	managers || return
	fake_reg s0 storage --storage-mib 4
	lc vnode create web
	expect_lc 0
	lc fs vnodes --node s0
	expect_lc 0
	expect_lc_out '^1 +web$' "vnode create made the namespace on s0"
	printf 'hello\n' > "$W/h"
	lc fs put --vnode web "$W/h" /hello
	expect_lc 0 "fs put"
	lc fs cat --vnode web /hello
	[ "$LC_OUT" = hello ] || fail "fs cat: '$LC_OUT'"
	lc fs ls -l --vnode web /
	expect_lc_out '^-rw.* 6 .* hello$' "fs ls -l"
	head -c 5000000 /dev/zero > "$W/big"
	lc fs put --vnode web "$W/big" /big
	expect_lc 1 "put beyond the 4 MiB store"
	expect_lc_err '^legoctl: fs put: /big: No space left on device \(wrote [0-9]+ of 5000000 bytes\)$'
	lc fs ls --vnode web relative
	expect_lc 2 "a relative path is a usage error"
	# Unhealthy: listed, never chosen, its errors explained.
	fake_reg s1 storage --unhealthy --storage-mib 100000
	lc nodes
	expect_lc_out '^3001 +s1 +storage .* alive,unhealthy ' "nodes shows alive,unhealthy"
	lc nodes --json
	python3 -c 'import json,sys; d={n["id"]: n for n in json.load(sys.stdin)["nodes"]}; assert d[3001]["healthy"] is False and d[3000]["healthy"] is True, d' <<< "$LC_OUT" ||
		fail "nodes --json: healthy"
	lc vnode create db
	expect_lc 0
	expect_lc_out 'on storage node 3000$' "the unhealthy s1 (more space) is not chosen"
	lc fs ls --node s1 --base /
	expect_lc 1
	expect_lc_err '^legoctl: fs ls: /: Input/output error$'
	expect_lc_err '^legoctl: storage s1: store not mounted: superblock checksum mismatch'
	# Only the unhealthy one left.
	stop s0 KILL
	wait_state 3000 dead $((DEAD + SLACK + 1000))
	lc vnode create lonely
	expect_lc 1
	expect_lc_err 'no healthy storage component is alive'
	lc fs cat --vnode web /hello
	expect_lc 1
	expect_lc_err '^legoctl: fs cat: vNode web: its storage component s0 \(id 3000\) is dead$'
	# A dead storage node does not keep vnode rm from working.
	lc vnode rm web
	expect_lc 0 "vnode rm with the storage node dead"
	# s0 comes back (a new incarnation, a new id): found by its name.
	fake_reg s0 storage
	lc fs ls --vnode db /
	expect_lc 1
	expect_lc_err 'vNode db \(id 2\) has no namespace on storage component s0' "found by name (the fake forgot)"
	lc vnode rm db
	expect_lc 0 "vnode rm: -ESTALE from the storage node is fine"
	gm_cleanup
}

# legoctl mem against a fake memory monitor (its small in-memory home and
# owner, gm/legoctl_fakemem.c): the client side of the memory protocol
# without QEMU. The memory monitor itself is tested by 86-memory.sh.
mem_case() {
	gm_env 7
	managers || return
	fake_reg m0 memory --mem-mib 256
	local mm home a b
	lc mem create
	expect_lc 0 "mem create (home from GMM)"
	read -r mm home <<< "$LC_OUT"
	[[ $mm =~ ^0xffff[0-9a-f]{12}$ ]] || fail "mem create printed mm id '$mm'"
	[[ $home =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "mem create printed home '$home'"
	lc mem create --home m0 --mm "$mm"
	expect_lc 1 "create of an existing mm"
	expect_lc_err '^legoctl: mem create: File exists$'
	# mmap: top-down, fixed, noreplace; mprotect splits; maps shows it.
	lc mem mmap --mm "$mm" --home m0 --len 64k
	expect_lc 0 "mmap anonymous"
	a=$LC_OUT
	[[ $a =~ ^0x[0-9a-f]+$ ]] || fail "mmap printed '$a'"
	lc mem mmap --mm "$mm" --home 2000 --addr 0x40000000 --len 3 --flags fixed,private,anon --prot r
	expect_lc 0 "mmap MAP_FIXED (home by id)"
	[ "$LC_OUT" = 0x40000000 ] || fail "MAP_FIXED at 0x40000000 gave '$LC_OUT'"
	lc mem mmap --mm "$mm" --home "$home" --addr 0x40000000 --len 4k --flags noreplace,private,anon
	expect_lc 1 "MAP_FIXED_NOREPLACE over a mapping"
	expect_lc_err '^legoctl: mem mmap: File exists$'
	lc mem mmap --mm "$mm" --home m0 --addr 0x40001000 --len 12k --flags fixed,private,anon
	expect_lc 0
	lc mem mprotect --mm "$mm" --home m0 --addr 0x40002000 --len 4k --prot rx
	expect_lc 0 "mprotect"
	lc mem maps --mm "$mm" --home m0
	expect_lc 0 "maps"
	[ "$(grep -c . <<< "$LC_OUT")" -eq 5 ] || fail "maps: $(grep -c . <<< "$LC_OUT") lines, expected 5"
	expect_lc_out '^40000000-40001000 r--p 00000000 00:00 0 *$'
	expect_lc_out '^40001000-40002000 rw-p 00000000 00:00 0 *$'
	expect_lc_out '^40002000-40003000 r-xp 00001000 00:00 0 *$'
	expect_lc_out '^40003000-40004000 rw-p 00002000 00:00 0 *$'
	expect_lc_out "^${a#0x}-[0-9a-f]+ rw-p "
	lc mem vregions --mm "$mm" --home m0
	expect_lc 0
	expect_lc_out '^1 +000040000000-000080000000 owner 2000 127\.0\.0\.1:' "vRegion 1 owned by m0"
	# Pages: write, read back (zeros around it), permissions, holes.
	lc mem write --mm "$mm" --home m0 --addr 0x40001ffe --text 'hi there'
	expect_lc 1 "a write running into the r-x page"
	expect_lc_err '^legoctl: mem write: Permission denied$'
	lc mem write --mm "$mm" --home m0 --addr "$((a + 4094))" --text 'hello, world'
	expect_lc 0 "write across two pages"
	lc mem read --mm "$mm" --home m0 --addr "$((a + 4092))" --len 18 --hex
	expect_lc 0
	[ "$LC_OUT" = 000068656c6c6f2c20776f726c6400000000 ] || fail "read back: '$LC_OUT'"
	lc mem read --mm "$mm" --home m0 --addr 0x40004000 --len 1
	expect_lc 1 "read of an unmapped page"
	expect_lc_err '^legoctl: mem read: Bad address$'
	lc mem read --mm 0x1234 --home m0 --addr 0x40000000 --len 1
	expect_lc 1 "an unknown mm"
	expect_lc_err '^legoctl: mem read: No such process$'
	# fork copies the pages; a later write in the parent stays there.
	lc mem fork --mm "$mm" --home m0 --child 0x77
	expect_lc 0 "fork"
	lc mem write --mm "$mm" --home m0 --addr "$((a + 4094))" --text 'HELLO'
	expect_lc 0
	lc mem read --mm 0x77 --home m0 --addr "$((a + 4094))" --len 5 --hex
	[ "$LC_OUT" = 68656c6c6f ] || fail "the child sees '$LC_OUT' after the parent's write"
	lc mem read --mm "$mm" --home m0 --addr "$((a + 4094))" --len 5 --hex
	[ "$LC_OUT" = 48454c4c4f ] || fail "the parent reads '$LC_OUT'"
	# munmap frees pages.
	lc mem munmap --mm "$mm" --home m0 --addr "$a" --len 64k
	expect_lc 0
	lc mem read --mm "$mm" --home m0 --addr "$a" --len 1
	expect_lc 1 "read after munmap"
	# selftest over 3 vRegions; a script with $N, '!', one line per op.
	lc mem selftest --home m0 --seed 7 --ops 600 --areas 3 --pages 8
	expect_lc 0 "selftest"
	expect_lc_out '^selftest: seed 7, .* 3 vRegions, owners 2000; 600 ops: .* 0 mismatches, 0 errors$'
	# $N: the result of the N-th operation; '!': a failure is expected.
	cat > "$W/script" <<'EOF'
# a comment
create
mmap --mm $1 --len 8k
write --mm $1 --addr $2 --fill 0xab --len 3
read --mm $1 --addr $2 --len 4
! mmap --mm $1 --addr $2 --len 4k --flags noreplace,private,anon
exit --mm $1
! exit --mm $1
EOF
	lc mem script --home m0 "$W/script"
	expect_lc 0 "script"
	printf '%s\n' "$LC_OUT" | sed -E 's/0x[0-9a-f]+/X/g' > "$W/script.out"
	printf '%s\n' X X ok ababab00 'error: File exists' ok 'error: No such process' > "$W/script.want"
	cmp -s "$W/script.out" "$W/script.want" || fail "script output: $(tr '\n' '|' < "$W/script.out")"
	# Usage errors.
	lc mem mmap --mm "$mm" --len 4k
	expect_lc 2 "no --home"
	lc mem mmap --mm "$mm" --home m0 --len 4k --prot rwq
	expect_lc 2 "bad --prot"
	lc mem frobnicate
	expect_lc 2
	lc mem exec --home m0 /bin/true
	expect_lc 1 "the fake has no loader"
	expect_lc_err '^legoctl: mem exec: /bin/true: Function not implemented'
	# Exits: nothing left.
	lc mem exit --mm "$mm" --home m0
	expect_lc 0
	lc mem exit --mm 0x77 --home m0
	expect_lc 0
	lc mem stats
	expect_lc 0 "stats of every memory node"
	b=$(sed -n 's/.*mms_home=\([0-9]*\) .* pages=\([0-9]*\) .*/\1 \2/p' <<< "$LC_OUT")
	[ "$b" = "0 0" ] || fail "after every exit: mms_home and pages '$b', expected '0 0'"
	gm_cleanup
}

add_case registration registration_case
add_case death-and-choices death_case
add_case restart-keeps-ids restart_case
add_case vnodes-and-run vnode_case
add_case state-file state_case
add_case fuzz fuzz_case
add_case storage storage_case
add_case mem mem_case
add_case rack rack_case
run_cases
