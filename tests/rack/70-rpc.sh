#!/usr/bin/env bash
# LegoOS RPC across an emulated rack: legoctl reaches every node; kernel
# nodes call each other with 1 B to 128 KiB payloads (every byte checked)
# from 8 concurrent callers; calls survive 5% packet loss; a burst of
# garbage datagrams leaves a node serving; a killed callee is reported as
# an error within the bound; both NIC models.
. "$(dirname -- "$0")/lib.sh"
. "$(dirname -- "$0")/racklib.sh"
JOBS=1

R=t70-$SFX RE=t70e1000-$SFX RPOLL=t70poll-$SFX
LEGOCTL=$RACK_ROOT/build/gm/legoctl

# in_rack RACK CMD...: run CMD inside the rack's namespace (output recorded).
in_rack() { local r=$1; shift; rk exec --name "$r" -- "$@"; }

# rpctest RACK FROM TO [legoctl rpctest options]: expect a clean report.
rpctest_ok() {
	local r=$1 from=$2 to=$3; shift 3
	in_rack "$r" "$LEGOCTL" rpctest "$from" --target "$to" "$@"
	expect_rk_rc 0 "rpctest $from -> $to must report no errors"
	expect_out '^errors: +0$' "no failed calls"
	expect_out '^bad_data: +0$' "no corrupted replies"
	expect_out '^calls: +[1-9][0-9]*$' "calls were made"
}

up_case() {
	"$RACK" down --name "$R" > /dev/null 2>&1 || true
	# No global managers: their load polls would be served calls too, and
	# the exactly-once check below counts served calls.
	rk up --name "$R" --processor 1 --memory 1 --storage 1 --no-managers
	keep_logs "$R"
	expect_rk_rc 0 "up must succeed"
	local n
	for n in p0 m0 s0; do
		LOG=$OUT/$CASE.$n.log
		expect_line "rpc: serving on udp port 4700" "RPC up on $n"
		expect_line 'net: .*virtio' "$n uses virtio-net"
	done
}

legoctl_case() {
	local n
	for n in p0 m0 s0; do
		in_rack "$R" "$LEGOCTL" ping "$n" --count 3 --size 64
		expect_rk_rc 0 "legoctl ping $n"
		expect_out '3 calls, 3 ok, 0 failed, 0 bad data'
		in_rack "$R" "$LEGOCTL" ping "$n" --count 2 --size 131072
		expect_rk_rc 0 "legoctl ping $n with 128 KiB"
	done
	in_rack "$R" "$LEGOCTL" info m0
	expect_rk_rc 0
	expect_out '^name: +m0' "node name"
	expect_out '^personality: +memory' "personality"
	expect_out '^node_id: +2000' "node id"
}

sizes_case() {
	rpctest_ok "$R" p0 m0 --min 1 --max 131072 --count 2 --concurrency 1
	rpctest_ok "$R" m0 s0 --min 0 --max 131072 --count 1 --concurrency 1
}

concurrent_case() {
	rpctest_ok "$R" p0 m0 --min 1 --max 16384 --count 4 --concurrency 8
	rpctest_ok "$R" s0 p0 --min 1024 --max 65536 --count 2 --concurrency 8
}

loss_case() {
	rk loss --name "$R" 5 --scope all
	expect_rk_rc 0
	rpctest_ok "$R" p0 m0 --min 1 --max 131072 --count 2 --concurrency 8
	# At most once: however many datagrams the loss forced legoctl to
	# resend, s0 executed each call exactly once (its served counter grows
	# by the 20 pings plus the first info call itself).
	local before after
	in_rack "$R" "$LEGOCTL" info s0
	before=$(awk '$1 == "rpc_calls_served:" { print $2 }' <<< "$RK_OUT")
	in_rack "$R" "$LEGOCTL" ping s0 --count 20 --size 8000
	expect_rk_rc 0 "legoctl ping through 5% loss"
	expect_out '20 calls, 20 ok, 0 failed, 0 bad data'
	in_rack "$R" "$LEGOCTL" info s0
	after=$(awk '$1 == "rpc_calls_served:" { print $2 }' <<< "$RK_OUT")
	[ -n "$before" ] && [ -n "$after" ] && [ $((after - before)) -eq 21 ] ||
		fail "s0 served ${before:-?} calls before and ${after:-?} after 20 pings + 1 info: not exactly once each"
	# The rule really dropped frames: nft counts them.
	in_rack "$R" nft list table bridge lego_loss
	grep -Eq 'counter packets [1-9]' <<< "$RK_OUT" || fail "the loss rule dropped nothing"
	rk loss --name "$R" 0
}

garbage_case() {
	# Random bytes, truncated and corrupted headers, wrong versions and
	# magic, lying lengths and fragment offsets, unknown types: sent at
	# both RPC ports of m0, then m0 must still serve correct calls.
	in_rack "$R" env PYTHONPATH="$RACK_ROOT/tests/rack" /usr/bin/python3 - 198.18.2.1 <<'PY'
import os, random, socket, sys
ip = sys.argv[1]
random.seed(7)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
from rpcwire import header as hdr
sent = 0
for i in range(3000):
    k = i % 10
    if k == 0: d = os.urandom(random.randrange(0, 1472))
    elif k == 1: d = hdr()[:random.randrange(0, 48)]
    elif k == 2: d = hdr(version=random.choice([0, 2, 255])) + b'x' * 10
    elif k == 3: d = hdr(magic=random.randrange(65536)) + b'x' * 10
    elif k == 4: d = hdr(msg_len=0xffffffff, flen=10) + b'x' * 10
    elif k == 5: d = hdr(msg_len=100000, off=random.randrange(1, 200000), flen=1400) + b'x' * 1400
    elif k == 6: d = hdr(type=random.choice([0, 5, 200])) + b'x' * 10
    elif k == 7: d = hdr(good_csum=False) + b'x' * 10
    elif k == 8: d = hdr(flen=500) + b'x' * 10          # lies about its length
    else:        d = hdr(epoch=random.randrange(1 << 32), call=i, msg_len=3000, off=1400,
                     flen=1400, mcsum=1) + os.urandom(1400)  # partial requests never finished
    s.sendto(d, (ip, random.choice([4700, 4701])))
    sent += 1
print("sent", sent, "datagrams")
PY
	expect_rk_rc 0 "the garbage generator ran"
	in_rack "$R" "$LEGOCTL" ping m0 --count 5 --size 3000
	expect_rk_rc 0 "m0 still answers"
	expect_out '5 calls, 5 ok, 0 failed, 0 bad data'
	rpctest_ok "$R" p0 m0 --min 1 --max 65536 --count 1 --concurrency 4
	in_rack "$R" "$LEGOCTL" info m0
	local dropped
	dropped=$(awk '$1 == "rpc_rx_dropped:" { print $2 }' <<< "$RK_OUT")
	[ "${dropped:-0}" -ge 1000 ] || fail "m0 counted only '${dropped:-?}' dropped datagrams"
	keep_logs "$R"
	LOG=$OUT/$CASE.m0.log
	expect_no_panic
}

dead_peer_case() {
	rk kill --name "$R" s0
	expect_rk_rc 0
	local t0 t1
	t0=$(now_ms)
	in_rack "$R" "$LEGOCTL" rpctest p0 --target s0 --min 1 --max 1 --count 1 --concurrency 1
	t1=$(now_ms)
	[ "$RK_RC" -ne 0 ] || fail "rpctest against a dead node must fail"
	expect_out '^errors: +1$' "the call failed"
	expect_out '^first_error: +-110' "with ETIMEDOUT"
	# The kernel's bound is lego.rpc_timeout_ms (2000 ms by default).
	[ $((t1 - t0)) -lt 6000 ] || fail "the caller learned of the dead peer only after $((t1 - t0)) ms"
	in_rack "$R" "$LEGOCTL" ping s0 --count 1 --timeout 1000
	[ "$RK_RC" -ne 0 ] || fail "legoctl ping of a dead node must fail"
	# The survivors still talk.
	rpctest_ok "$R" p0 m0 --min 1 --max 4096 --count 2 --concurrency 2
}

down_case() {
	rk down --name "$R"
	expect_rk_rc 0
	expect_clean "$R"
}

e1000_case() {
	"$RACK" down --name "$RE" > /dev/null 2>&1 || true
	rk up --name "$RE" --nic e1000 --processor 1 --memory 1 --no-managers
	keep_logs "$RE"
	expect_rk_rc 0 "up with e1000 must succeed"
	LOG=$OUT/$CASE.p0.log
	expect_line 'net: .*e1000' "p0 uses e1000"
	in_rack "$RE" "$LEGOCTL" ping m0 --count 3 --size 20000
	expect_rk_rc 0
	rpctest_ok "$RE" p0 m0 --min 1 --max 131072 --count 1 --concurrency 8
	rk down --name "$RE"
	expect_clean "$RE"
}

# The other receive mode (Kconfig NET_RX_POLL, built by `make variants`):
# the receive thread busy-polls on its own core instead of sleeping.
rx_poll_case() {
	local iso=$RACK_ROOT/build/variants/rx-poll
	[ -f "$iso/legoos-processor.iso" ] || { fail "$iso not built (make variants)"; return; }
	"$RACK" down --name "$RPOLL" > /dev/null 2>&1 || true
	LEGO_ISO_DIR=$iso rk up --name "$RPOLL" --processor 1 --memory 1 --no-managers
	keep_logs "$RPOLL"
	expect_rk_rc 0 "up of the busy-polling kernels must succeed"
	LOG=$OUT/$CASE.m0.log
	expect_line 'net: .*polling receive' "m0 busy-polls"
	rpctest_ok "$RPOLL" p0 m0 --min 1 --max 65536 --count 2 --concurrency 4
	rk down --name "$RPOLL"
	expect_clean "$RPOLL"
}

cleanup() {
	local r
	for r in "$R" "$RE" "$RPOLL"; do "$RACK" down --name "$r" > /dev/null 2>&1 || true; done
}
trap cleanup EXIT

add_case up up_case
add_case legoctl legoctl_case
add_case sizes sizes_case
add_case concurrent-8 concurrent_case
add_case loss-5pct loss_case
add_case garbage garbage_case
add_case dead-peer dead_peer_case
add_case down down_case
add_case e1000 e1000_case
add_case rx-poll rx_poll_case
run_cases
