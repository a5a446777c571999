#!/usr/bin/env bash
# The processor monitor through `legoctl run`, on a rack of 1 processor,
# 2 memory and 1 storage node with the global managers. The test programs
# of tests/user/ (static glibc and musl) run in a vNode and their output is
# compared with the same binaries run on this host:
#
#   * hello, argv/envp/auxv-driven startup (args), small syscalls (sysinfo);
#   * 4 pthreads with mutexes, condition variables, TLS and a futex timeout;
#   * a working set 4x the ExCache (memstress: evictions, write-backs,
#     piggybacked fetches), with FIFO and LRU and with the free list and
#     the free bitmap (the processor rebooted with lego.excache=...);
#   * mmap/munmap/mremap/mprotect use; memory spanning vRegions of both
#     memory nodes;
#   * SIGSEGV (exit status 139) and EFAULT; ENOEXEC and a missing program;
#   * stdin piped through legoctl run; Ctrl-C (SIGINT) kills the program;
#   * busybox sh: fork, execve, wait4, exit statuses, pipes, traps, kill,
#     alarm, SIGPIPE (as the host's busybox); legoctl run --strace.
#
# Cases run one at a time and share the rack t88-<tag>; each copies the
# rack's serial logs into build/test-results/rack/88-processor/.
. "$(dirname -- "$0")/lib.sh"
. "$(dirname -- "$0")/racklib.sh"
JOBS=1

R=t88-$SFX
LEGOCTL=$RACK_ROOT/build/gm/legoctl
U=$RACK_ROOT/build/user
LC_TIMEOUT=180
UP_TIMEOUT=90
# The ExCache the processor is rebooted with for the memstress runs (small,
# so that 4x its size is quick to stream under TCG).
XC_MB=4

for f in "$LEGOCTL" "$RACK_ROOT/build/legoos-processor.iso" "$RACK_ROOT/build/legoos-memory.iso" \
	"$RACK_ROOT/build/legoos-storage.iso" "$U/glibc/hello" "$U/musl/memstress"; do
	[ -e "$f" ] || { echo "not ok 1 - build # $f missing: run make"; exit 1; }
done

# ---- helpers (inside a case) ----

work() { W=$OUT/$CASE.work; mkdir -p -- "$W"; }

# lr [--in FILE] ARGS...: `legoctl run --vnode v1 ARGS` in the rack's
# namespace, without TERM (so the environment is the fixed one); sets
# LR_RC, LR_OUT (stdout, exact bytes in $W/lr.out), LR_ERR.
lr() {
	local in=/dev/null t0
	[ "$1" != --in ] || { in=$2; shift 2; }
	LR_RC=0
	t0=$(now_ms)
	timeout -k 5 "$LC_TIMEOUT" ip netns exec "lego-$R" env -u TERM LEGO_GM=198.18.0.1 \
		LEGO_NODES="$RACK_DIR/$R/nodes" "$LEGOCTL" run --vnode v1 "$@" \
		< "$in" > "$W/lr.out" 2> "$W/lr.err" || LR_RC=$?
	LR_OUT=$(tr -d '\0' < "$W/lr.out")
	LR_ERR=$(cat -- "$W/lr.err")
	echo "\$ legoctl run --vnode v1 $* -> exit status $LR_RC ($(($(now_ms) - t0)) ms)"
	[ "$LR_RC" -ne 124 ] || echo "  (killed after ${LC_TIMEOUT}s)"
	head -n 30 -- "$W/lr.out" | cut -c1-200 | sed 's/^/  | /'
	head -n 12 -- "$W/lr.err" | cut -c1-200 | sed 's/^/  ! /'
}

lc() {
	timeout -k 5 60 ip netns exec "lego-$R" env LEGO_GM=198.18.0.1 \
		LEGO_NODES="$RACK_DIR/$R/nodes" "$LEGOCTL" "$@"
}

expect_lr() { [ "$LR_RC" -eq "$1" ] || fail "exit status $LR_RC, expected $1${2:+ ($2)}"; }
expect_lr_err() { grep -Eq -- "$1" <<< "$LR_ERR" || fail "no legoctl stderr line matching /$1/${2:+ ($2)}"; }

# host_run LIBC PROG ARGS...: the same binary on this host, with the
# environment legoctl run gives and argv[0] as in the vNode; sets HOST_OUT.
host_run() {
	local libc=$1 prog=$2
	shift 2
	HOST_OUT=$(env -i PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/ /usr/bin/perl -e \
		'exec { $ARGV[0] } @ARGV[1 .. $#ARGV] or exit 127' \
		"$U/$libc/$prog" "/tests/$libc/$prog" "$@" 2>/dev/null)
	HOST_RC=$?
}

# same_as_host LIBC PROG ARGS...: run in the vNode and on the host; the
# exit statuses and the outputs must be equal.
same_as_host() {
	local libc=$1 prog=$2
	shift 2
	lr -- "/tests/$libc/$prog" "$@"
	host_run "$libc" "$prog" "$@"
	[ "$LR_RC" -eq "$HOST_RC" ] || fail "$libc/$prog: exit status $LR_RC in the vNode, $HOST_RC on the host"
	if [ "$LR_OUT" != "$HOST_OUT" ]; then
		fail "$libc/$prog: the output differs from the host's"
		diff <(echo "$HOST_OUT") <(echo "$LR_OUT") | head -n 20 | sed 's/^/  /'
	fi
}

with_logs() {
	"$@"
	keep_logs "$R"
}

no_panic() {
	local n
	for n in p0 m0 m1 s0; do
		LOG=$RACK_DIR/$R/$n.log
		expect_no_panic
	done
	LOG=/dev/null
}

# ---- cases ----

up_case() {
	work
	"$RACK" down --name "$R" > /dev/null 2>&1 || true
	rk up --name "$R" --processor 1 --memory 2 --storage 1 --timeout "$UP_TIMEOUT"
	expect_rk_rc 0 "up with 1 processor, 2 memory and 1 storage node"
	[ "$RK_RC" -eq 0 ] || return
	lc vnode create v1 || fail "vnode create v1"
}

hello_case() {
	work
	lr -- /tests/hello
	expect_lr 0 "/tests/hello"
	[ "$LR_OUT" = "hello from LegoOS" ] || fail "greeting: '$LR_OUT'"
	local l
	for l in glibc musl; do
		same_as_host "$l" hello
		same_as_host "$l" args a 'b c' '' 'x\y'
		same_as_host "$l" sysinfo
	done
	# busybox, the vNode's own binary, and its exit status.
	lr -- /bin/true
	expect_lr 0 "busybox true"
	lr -- /bin/false
	expect_lr 1 "busybox false"
	no_panic
}

threads_case() {
	work
	same_as_host glibc threads
	same_as_host musl threads
	no_panic
}

# memstress over 4x the ExCache with one eviction policy and free-line
# structure: the processor reboots with lego.excache=evict=E,free=F.
stress_with() {
	local evict=$1 free=$2
	"$RACK" --name "$R" kill p0 > /dev/null 2>&1
	rk restart p0 --name "$R" --cmdline "lego.excache=size=${XC_MB}M,evict=$evict,free=$free" \
		--timeout "$UP_TIMEOUT"
	expect_rk_rc 0 "p0 with evict=$evict free=$free"
	grep -q "excache: .*evict=$evict, free=$free" "$RACK_DIR/$R/p0.log" ||
		fail "p0 did not take evict=$evict free=$free"
	lr --report -- /tests/musl/memstress $((4 * XC_MB)) 2 2
	host_run musl memstress $((4 * XC_MB)) 2 2
	expect_lr 0 "memstress $evict/$free"
	[ "$LR_OUT" = "$HOST_OUT" ] || fail "memstress $evict/$free: output differs from the host's"
	local ev wb pb
	ev=$(sed -nE 's/.* evictions=([0-9]+).*/\1/p' <<< "$LR_ERR")
	wb=$(sed -nE 's/.* writebacks=([0-9]+).*/\1/p' <<< "$LR_ERR")
	pb=$(sed -nE 's/.* piggyback=([0-9]+).*/\1/p' <<< "$LR_ERR")
	echo "evict=$evict free=$free: evictions=$ev writebacks=$wb piggyback=$pb"
	[ "${ev:-0}" -gt 0 ] && [ "${wb:-0}" -gt 0 ] && [ "${pb:-0}" -gt 0 ] ||
		fail "$evict/$free: evictions '$ev', write-backs '$wb', piggybacked '$pb' (all must be > 0)"
}

stress_case() {
	work
	stress_with fifo list
	stress_with lru list
	stress_with fifo bitmap
	stress_with lru bitmap
	# The node's counters, by command.
	local x
	x=$(lc excache p0) || fail "legoctl excache p0 failed"
	echo "$x"
	grep -q 'misses=[1-9]' <<< "$x" || fail "legoctl excache p0: no misses counted"
	no_panic
}

# page_ops NODE: fetches + flushes NODE served so far.
page_ops() {
	lc mem stats --node "$1" | sed -nE 's/.* fetches=([0-9]+) flushes=([0-9]+) .*/\1 \2/p' |
		awk '{ print $1 + $2 }'
}

mm_case() {
	work
	same_as_host glibc mmaptest
	same_as_host musl mmaptest
	# spanmem's vRegions are owned by both memory nodes (GMM spreads them):
	# both serve its pages.
	local a0 a1 b0 b1
	a0=$(page_ops m0) a1=$(page_ops m1)
	same_as_host musl spanmem
	b0=$(page_ops m0) b1=$(page_ops m1)
	echo "page requests during spanmem: m0 $a0 -> $b0, m1 $a1 -> $b1"
	[ "${b0:-0}" -gt "${a0:-0}" ] && [ "${b1:-0}" -gt "${a1:-0}" ] ||
		fail "spanmem's pages were not served by both memory nodes (m0 $a0 -> $b0, m1 $a1 -> $b1)"
	no_panic
}

faults_case() {
	work
	local c
	for c in null ro ro-mmap wild kernel; do
		lr -- /tests/musl/segv "$c"
		expect_lr 139 "segv $c: SIGSEGV"
	done
	lr -- /tests/glibc/segv efault
	expect_lr 0 "segv efault"
	grep -q 'efault ok' <<< "$LR_OUT" || fail "segv efault: no 'efault ok'"
	lr -- /etc/hostname
	expect_lr 126 "exec of a non-program"
	lr -- /tests/nonexistent
	expect_lr 127 "a missing program"
	expect_lr_err 'No such file or directory'
	no_panic
}

stdin_case() {
	work
	head -c 200000 /dev/urandom > "$W/in"
	lr --in "$W/in" -- /tests/musl/stdin_echo
	expect_lr 0 "stdin_echo"
	cmp -s "$W/in" "$W/lr.out" || fail "stdin came back different ($(wc -c < "$W/lr.out") bytes)"
	expect_lr_err 'stdin_echo: 200000 bytes'
	no_panic
}

kill_case() {
	work
	local pid rc=0 t0
	ip netns exec "lego-$R" env LEGO_GM=198.18.0.1 "$LEGOCTL" run --vnode v1 -- /bin/sleep 60 \
		> "$W/k.out" 2> "$W/k.err" &
	pid=$!
	sleep 4
	t0=$(now_ms)
	kill -INT "$pid"
	timeout 20 tail --pid="$pid" -f /dev/null || fail "legoctl did not end within 20 s of SIGINT"
	wait "$pid" || rc=$?
	echo "legoctl ended $(($(now_ms) - t0)) ms after SIGINT, status $rc"
	[ "$rc" -eq 130 ] || fail "status $rc after Ctrl-C, expected 130"
	grep -q 'killed by the client with signal 2' "$RACK_DIR/$R/p0.log" ||
		fail "p0 does not report the kill"
	no_panic
}

# busybox's shell: fork, execve (of busybox applets through symlinks),
# wait4 and exit statuses, the same as the same busybox on this host.
shell_case() {
	work
	local script='/bin/echo one; /bin/true && echo and; /bin/false || echo or; (exit 4); echo "sub=$?"; for i in 1 2 3; do /bin/echo "i=$i"; done; exit 3'
	lr -- /bin/sh -c "$script"
	local host
	host=$(env -i PATH=/bin HOME=/ /bin/busybox sh -c "$script")
	local hrc=$?
	[ "$LR_RC" -eq "$hrc" ] || fail "sh -c: exit status $LR_RC, on the host $hrc"
	[ "$LR_OUT" = "$host" ] || { fail "sh -c: output differs from the host's";
		diff <(echo "$host") <(echo "$LR_OUT") | head -n 20 | sed 's/^/  /'; }
	no_panic
}

# Signals: a trap handler (rt_sigaction, delivery, rt_sigreturn), kill of
# a background job and wait's 128+15, SIGALRM through busybox timeout,
# SIGPIPE ending `yes`; the same as the host's busybox.
signals_case() {
	work
	local script='trap "echo caught USR1" USR1; kill -USR1 $$; echo after; /bin/sleep 10 & p=$!; kill $p; wait $p; echo "status=$?"; timeout 1 /bin/sleep 5; echo "timeout=$?"; yes | head -n 2; echo "pipe=$?"'
	lr -- /bin/sh -c "$script"
	local host hrc=0
	# The host's /bin has coreutils: name busybox's applets there.
	local hs=${script//\/bin\/sleep//bin/busybox sleep}
	hs=${hs//timeout 1/\/bin\/busybox timeout 1}
	hs=${hs//yes |/\/bin\/busybox yes |}
	host=$(env -i PATH=/bin HOME=/ /bin/busybox sh -c "$hs" 2>/dev/null) || hrc=$?
	[ "$LR_RC" -eq "$hrc" ] || fail "signals: exit status $LR_RC, on the host $hrc"
	[ "$LR_OUT" = "$host" ] || { fail "signals: output differs from the host's";
		diff <(echo "$host") <(echo "$LR_OUT") | head -n 20 | sed 's/^/  /'; }
	no_panic
}

# legoctl run --strace: every syscall, decoded, on stderr.
strace_case() {
	work
	lr --strace -- /tests/musl/hello
	expect_lr 0 "hello under --strace"
	[ "$LR_OUT" = "hello from LegoOS" ] || fail "the program's output under --strace: '$LR_OUT'"
	expect_lr_err '^\[pid [0-9]+\] set_tid_address\(0x[0-9a-f]+\) = [0-9]+$'
	expect_lr_err '^\[pid [0-9]+\] ioctl\(1, 0x5413, 0x[0-9a-f]+\) = -1 ENOTTY \(Inappropriate ioctl for device\)$'
	expect_lr_err '^\[pid [0-9]+\] writev\(1, 0x[0-9a-f]+, 2\) = 18$'
	expect_lr_err '^\[pid [0-9]+\] exit_group\(0\) = \?$'
	lr --strace -- /bin/cat /etc/hostname
	expect_lr 0
	expect_lr_err '^\[pid [0-9]+\] open(at\(AT_FDCWD, |\()"/etc/hostname", O_RDONLY[^)]*\) = 3$'
	expect_lr_err '^\[pid [0-9]+\] sendfile\(1, 3, NULL, [0-9]+\) = 7$'
	expect_lr_err '^\[pid [0-9]+\] close\(3\) = 0$'
	no_panic
}

down_case() {
	work
	rk down --name "$R"
	expect_rk_rc 0
	expect_clean "$R"
}

trap '"$RACK" down --name "$R" > /dev/null 2>&1 || true' EXIT

add_case up with_logs up_case
add_case hello-args-sysinfo with_logs hello_case
add_case threads with_logs threads_case
add_case mmap-spanmem with_logs mm_case
add_case segv-efault-enoexec with_logs faults_case
add_case stdin with_logs stdin_case
add_case ctrl-c with_logs kill_case
add_case shell-fork-exec with_logs shell_case
add_case strace with_logs strace_case
add_case signals with_logs signals_case
add_case memstress-policies with_logs stress_case
add_case down with_logs down_case
run_cases
