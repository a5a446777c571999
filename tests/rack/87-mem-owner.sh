#!/usr/bin/env bash
# The vRegion owner side of the memory monitor (managers/memory/owner.c),
# without the home: a Linux client (tests/rack/owner-client/owntest.c,
# built here with gcc against build/gm/libgm.a into
# build/rack-tests/owner-client/) sends the LEGO_OP_MEM_OWN requests a
# home would send and the LEGO_OP_MEM_PAGE_* requests a processor would,
# straight to the memory nodes of a rack of 2 memory nodes and 1 storage
# node (no processor), and checks the replies:
#
#   * vma operations (MMAP top-down / hint / fixed, MUNMAP, MPROTECT,
#     MREMAP, STACK, BRK, FREE) and their summaries; MAPS records (heap,
#     stack, file, shared flags; paths; resuming; `more` past one reply);
#   * pages: zeros until written, FLUSH / FETCH / FLUSH_FETCH, protection
#     (x86 rules), stack growth, pages moving with MREMAP and going with
#     MUNMAP / BRK;
#   * file pages read from the storage node: the first page of
#     /bin/busybox in the vNode base root is the host's /bin/busybox bytes
#     (the default storage image holds Debian's busybox), pgoff, the end
#     of the file, missing files, bad paths, an unreachable storage node;
#   * FORK (vmas and pages copied, then independent); two owners of one
#     address space; malformed and random requests (EINVAL, node serves);
#   * many short address spaces and a fetcher racing map/free;
#   * mremap across vRegions through a home (group remap: the client plays
#     the processor; m0 is the home, then m1): growing in place over a
#     vRegion bound, moves out of a blocked or full vRegion, MREMAP_FIXED
#     into another vRegion and across a bound, a mapping over two vRegions
#     moved as one, DONTUNMAP, Linux's errors; data, zeros, the old range
#     unmapped, counters back after EXIT; at least one move must go from an
#     owner to the other node (GMM spreads the vRegions over both);
#   * the owner counters (STATS) back to 0 on both nodes at the end.
#
# Cases run one at a time and share the rack t87-<tag>; each copies the
# rack's serial logs into build/test-results/rack/87-mem-owner/ and, when
# it fails, shows the tail of each node's log.
. "$(dirname -- "$0")/lib.sh"
. "$(dirname -- "$0")/racklib.sh"
JOBS=1

R=t87-$SFX
SRC=$RACK_ROOT/tests/rack/owner-client/owntest.c
LIBGM=$RACK_ROOT/build/gm/libgm.a
CLIENT_DIR=$RACK_ROOT/build/rack-tests/owner-client
CLIENT=$CLIENT_DIR/owntest
# Bound of one client run (its RPC calls time out after 8 s each).
CL_TIMEOUT=60
UP_TIMEOUT=60

for f in "$LIBGM" "$RACK_ROOT/build/legoos-memory.iso" "$RACK_ROOT/build/legoos-storage.iso" \
	/bin/busybox; do
	[ -e "$f" ] || { echo "not ok 1 - build # $f missing: run make"; exit 1; }
done

# ---- helpers (inside a case) ----

# node_tails: the end of each memory node's log (after keep_logs), for a
# failure; s0's ends the case's log, whose tail lib.sh shows.
node_tails() {
	local n
	for n in m0 m1; do
		[ -f "$OUT/$CASE.$n.log" ] || continue
		echo "---- last 12 lines of $n's serial log ($OUT/$CASE.$n.log) ----"
		tail -n 12 -- "$OUT/$CASE.$n.log"
	done
}

# with_logs CASE_FUNCTION: run the case, copy the rack's logs, check that
# no node panicked, show the nodes' log tails if something failed.
with_logs() {
	"$@"
	keep_logs "$R"
	local n
	for n in m0 m1 s0; do
		LOG=$OUT/$CASE.$n.log
		[ ! -f "$LOG" ] || expect_no_panic
	done
	LOG=/dev/null
	[ "$FAILS" -eq 0 ] || node_tails
}

# owntest GROUP...: run the client in the rack's namespace; sets CL_RC.
owntest() {
	local t0 m0 m1 s0 id
	CL_RC=0
	if [ ! -f "$OUT/rack.up" ]; then
		fail "the rack is not up (see the up case)"
		return
	fi
	m0=$(node_field m0 3) m1=$(node_field m1 3) s0=$(node_field s0 3) id=$(node_field m0 5)
	# SWAP=1: m1 first (the home for group remap).
	[ "${SWAP:-0}" = 0 ] || { m0=$(node_field m1 3) m1=$(node_field m0 3) id=$(node_field m1 5); }
	t0=$(now_ms)
	timeout -k 5 "$CL_TIMEOUT" ip netns exec "lego-$R" "$CLIENT" --mem "$m0" --mem2 "$m1" \
		--storage "$s0" --node-id "$id" --busybox /bin/busybox "$@" > "$OUT/$CASE.client" 2>&1 ||
		CL_RC=$?
	echo "\$ owntest $* -> exit status $CL_RC ($(($(now_ms) - t0)) ms)"
	sed 's/^/  | /' "$OUT/$CASE.client"
	case $CL_RC in
	0) ;;
	124) fail "owntest $* killed after ${CL_TIMEOUT}s" ;;
	*) fail "owntest $*: $(grep -c '^FAIL' "$OUT/$CASE.client") failed check(s), exit status $CL_RC" ;;
	esac
	grep -q "^owntest: [0-9]* passed, 0 failed" "$OUT/$CASE.client" || [ "$CL_RC" -ne 0 ] ||
		fail "owntest $*: no summary line"
}

# ---- cases ----

up_case() {
	mkdir -p -- "$CLIENT_DIR"
	if ! gcc -std=gnu11 -O2 -Wall -Wextra -Wno-unused-parameter -Werror \
		-I"$RACK_ROOT/gm/include" -I"$RACK_ROOT/include" -o "$CLIENT" "$SRC" "$LIBGM" \
		-pthread 2>&1; then
		fail "cannot build $SRC"
		return
	fi
	echo "built $CLIENT"
	"$RACK" down --name "$R" > /dev/null 2>&1 || true
	rk up --name "$R" --processor 0 --memory 2 --storage 1 --timeout "$UP_TIMEOUT"
	expect_rk_rc 0 "up with 2 memory nodes and 1 storage node"
	[ "$RK_RC" -eq 0 ] || return
	local n
	for n in m0 m1 s0; do
		[ -n "$(node_field "$n" 3)" ] || fail "no address for $n in the nodes file"
	done
	LOG=$RACK_DIR/$R/m0.log
	expect_line 'memory: vRegion owner service up' "m0 runs the owner service"
	LOG=$RACK_DIR/$R/m1.log
	expect_line 'memory: vRegion owner service up' "m1 runs the owner service"
	LOG=/dev/null
	[ "$FAILS" -ne 0 ] || touch "$OUT/rack.up"
}

vma_case() { owntest zero layout maps; }
pages_case() { owntest pages bulk; }
files_case() { owntest files; }
fork_case() { owntest fork nodes; }
errors_case() { owntest errors; }
concurrency_case() { owntest churn race; }

# mremap across vRegions with each node as the home; vRegions owned by
# different nodes must have exchanged pages at least once. GMM gives new
# vRegions to the node with the lowest request rate (polled every second):
# after the busy cases above that is always the idle node, so each run
# starts after the rates have settled, when GMM alternates.
remap_case() {
	local sw moved=0 n
	for sw in 0 1; do
		sleep 3
		SWAP=$sw owntest remap
		n=$(sed -n 's/^remap: \([0-9]*\) moves between two nodes.*/\1/p' "$OUT/$CASE.client")
		moved=$((moved + ${n:-0}))
	done
	[ "$moved" -gt 0 ] || fail "no mremap moved pages between the two nodes (GMM put every vRegion on one?)"
}

# Every owner counter is 0 again on both nodes, and the nodes still serve.
counters_case() {
	owntest zero
	grep -Eq '^owntest zero: 4 passed, 0 failed' "$OUT/$CASE.client" 2> /dev/null ||
		fail "the counters of both nodes are not back to 0"
}

down_case() {
	rk down --name "$R"
	expect_rk_rc 0
	expect_clean "$R"
}

trap '"$RACK" down --name "$R" > /dev/null 2>&1 || true' EXIT

add_case up with_logs up_case
add_case vma-operations-and-maps with_logs vma_case
add_case pages with_logs pages_case
add_case file-pages-busybox with_logs files_case
add_case fork-and-two-owners with_logs fork_case
add_case malformed-requests with_logs errors_case
add_case churn-and-race with_logs concurrency_case
add_case mremap-across-vregions with_logs remap_case
add_case counters-back-to-zero with_logs counters_case
add_case down down_case
run_cases
