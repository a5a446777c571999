#!/usr/bin/env bash
# The memory monitor through `legoctl mem` (its Linux-side test client), on
# a rack of 2 memory nodes and 1 storage node with the global managers (no
# processor node: legoctl plays the processor):
#
#   * mmap/munmap/mprotect/mremap sequences at fixed addresses, including a
#     mapping across a vRegion boundary: the results and the resulting
#     layout (`maps`) are what the same sequence gives on the host's Linux
#     (/proc/self/maps of a Python process doing it with ctypes);
#   * random page writes and reads over areas in several vRegions, checked
#     against a model (`legoctl mem selftest`), with the vRegions owned by
#     both memory nodes;
#   * exec of /bin/busybox and of static musl and glibc programs from a
#     vNode: entry point, initial stack (argc, argv, envp, auxv) read back
#     from the owners' pages and checked against the ELF headers;
#   * exec of files that are no ELF programs: ENOEXEC with a reason;
#   * fork copies pages; exit frees everything (counters back to where they
#     were, also after 1000 fork/exit cycles);
#   * malformed memory requests on the wire: EINVAL, the node keeps serving;
#   * the buffer cache of the vNode's cache mComponent (legoctl fs --cache):
#     reads and writes through it, fsync through to storage, two writers at
#     once on one file, eviction with write-back, exec through it.
#
# Cases run one at a time and share the rack t86-<tag>; each copies the
# rack's serial logs into build/test-results/rack/86-memory/, so a failed
# case shows the nodes' log tails.
. "$(dirname -- "$0")/lib.sh"
. "$(dirname -- "$0")/racklib.sh"
JOBS=1

R=t86-$SFX
LEGOCTL=$RACK_ROOT/build/gm/legoctl
VROOT=$RACK_ROOT/build/vnode-root
# Bound of every single legoctl call (its own RPC timeouts are shorter).
LC_TIMEOUT=120
UP_TIMEOUT=90

for f in "$LEGOCTL" "$VROOT/bin/busybox" "$RACK_ROOT/build/legoos-memory.iso" \
	"$RACK_ROOT/build/legoos-storage.iso" "$RACK_ROOT/build/user/musl/hello" \
	"$RACK_ROOT/build/user/glibc/hello"; do
	[ -e "$f" ] || { echo "not ok 1 - build # $f missing: run make"; exit 1; }
done

# ---- helpers (inside a case) ----

work() { W=$OUT/$CASE.work; mkdir -p -- "$W"; }

# lm [--in FILE] ARGS...: `legoctl ARGS` in the rack's namespace; sets
# LM_RC, LM_OUT (stdout), LM_ERR (stderr) and records the call.
lm() {
	local in=/dev/null t0
	[ "$1" != --in ] || { in=$2; shift 2; }
	LM_RC=0
	t0=$(now_ms)
	timeout -k 5 "$LC_TIMEOUT" ip netns exec "lego-$R" env LEGO_GM=198.18.0.1 LEGO_NODES="$RACK_DIR/$R/nodes" \
		"$LEGOCTL" "$@" < "$in" > "$W/lm.out" 2> "$W/lm.err" || LM_RC=$?
	LM_OUT=$(tr -d '\0' < "$W/lm.out")
	LM_ERR=$(cat -- "$W/lm.err")
	echo "\$ legoctl $* -> exit status $LM_RC ($(($(now_ms) - t0)) ms)"
	[ "$LM_RC" -ne 124 ] || echo "  (killed after ${LC_TIMEOUT}s)"
	head -n 40 -- "$W/lm.out" | cut -c1-200 | sed 's/^/  | /'
	[ "$(wc -l < "$W/lm.out")" -le 40 ] || echo "  | ... ($(wc -l < "$W/lm.out") lines)"
	head -n 12 -- "$W/lm.err" | cut -c1-200 | sed 's/^/  ! /'
}

expect_lm() { [ "$LM_RC" -eq "$1" ] || fail "legoctl exit status $LM_RC, expected $1${2:+ ($2)}"; }
expect_lm_out() { grep -Eq -- "$1" <<< "$LM_OUT" || fail "no legoctl output line matching /$1/${2:+ ($2)}"; }
expect_lm_err() { grep -Eq -- "$1" <<< "$LM_ERR" || fail "no legoctl error matching /$1/${2:+ ($2)}"; }

# with_logs CASE_FUNCTION: run the case, then copy the rack's serial logs.
with_logs() {
	"$@"
	keep_logs "$R"
}

# no_panic: neither memory node nor the storage node panicked.
no_panic() {
	local n
	for n in m0 m1 s0; do
		LOG=$RACK_DIR/$R/$n.log
		expect_no_panic
	done
	LOG=/dev/null
}

# new_mm [HOME]: a new address space at HOME (default m0); sets MM.
new_mm() {
	lm mem create --home "${1:-m0}"
	expect_lm 0 "mem create"
	MM=$(awk '{ print $1; exit }' <<< "$LM_OUT")
}

# stats_of NODE: ST = "mms_home mms_owned vregions vmas pages" of NODE.
stats_of() {
	lm mem stats --node "$1"
	ST=$(sed -nE 's/.* mms_home=([0-9]+) mms_owned=([0-9]+) vregions=([0-9]+) vmas=([0-9]+) pages=([0-9]+) .*/\1 \2 \3 \4 \5/p' <<< "$LM_OUT")
}

# expect_base NODE WHEN: NODE's counters are what they were at the start.
expect_base() {
	stats_of "$1"
	[ "$ST" = "$(cat "$OUT/$1.base")" ] ||
		fail "$1's counters $2: '$ST' (mms_home mms_owned vregions vmas pages), at the start '$(cat "$OUT/$1.base")'"
}

wait_log() {
	local end=$(($(now_ms) + $3))
	while [ "$(now_ms)" -lt "$end" ]; do
		tr -d '\r' < "$RACK_DIR/$R/$1.log" 2> /dev/null | grep -Eq -- "$2" && return 0
		sleep 0.2
	done
	return 1
}

# ---- cases ----

up_case() {
	work
	"$RACK" down --name "$R" > /dev/null 2>&1 || true
	rk up --name "$R" --processor 0 --memory 2 --storage 1 --timeout "$UP_TIMEOUT" \
		--cmdline lego.bc_pages=256
	expect_rk_rc 0 "up with 2 memory nodes and 1 storage node"
	[ "$RK_RC" -eq 0 ] || return
	local n
	for n in m0 m1 s0; do
		wait_log "$n" 'gm: registered with' 10000 || fail "$n did not register"
	done
	lm vnode create v1
	expect_lm 0 "vnode create v1"
	# Where the counters start (buffer cache pages aside).
	stats_of m0
	echo "$ST" > "$OUT/m0.base"
	stats_of m1
	echo "$ST" > "$OUT/m1.base"
	[ "$(cat "$OUT/m0.base")" = "0 0 0 0 0" ] || fail "m0's counters at start: $(cat "$OUT/m0.base")"
	[ "$(cat "$OUT/m1.base")" = "0 0 0 0 0" ] || fail "m1's counters at start: $(cat "$OUT/m1.base")"
}

# The same sequence of mapping calls, on the host's Linux (Python, ctypes,
# at fixed addresses far from anything Python maps) and through legoctl
# mem script; results and layouts in [LO, HI) must be the same.
LO=0x200000000 HI=0x400000000
SEQ='mmap 0x200000000 0x40000 rw fixed
mprotect 0x200004000 0x8000 r
munmap 0x200010000 0x4000
mmap 0x200020000 0x10000 rwx fixed
mprotect 0x200020000 0x10000 rw
mmap 0x200000000 0x1000 rw noreplace
mmap 0x23ff00000 0x200000 rw fixed
munmap 0x23ff80000 0x1000
mprotect 0x23ffff000 0x2000 r
mmap 0x210000000 0x3000 r noreplace
mprotect 0x210001000 0x1000 none
mprotect 0x200030000 0x4000 r
munmap 0x210003000 0x10000
mmap 0x220000000 0x4000 rw fixed
mremap 0x220000000 0x4000 0x8000 0
mremap 0x220000000 0x8000 0x2000 0
mmap 0x220003000 0x1000 rw fixed
mremap 0x220000000 0x2000 0x4000 0
mremap 0x220000000 0x2000 0x4000 maymove,fixed 0x230000000
munmap 0x200000000 0x1000
mmap 0x2f8000000 0x10000000 rw fixed'

layout_case() {
	work
	local op a l p f n
	printf '%s\n' "$SEQ" > "$W/seq"
	# Linux.
	python3 - "$W/seq" "$LO" "$HI" > "$W/linux.out" 2> "$W/linux.err" <<'PY' ||
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mremap.restype = ctypes.c_void_p
libc.mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p]
libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
PROT = lambda s: 0 if s == 'none' else sum({'r': 1, 'w': 2, 'x': 4}[c] for c in s)
MAPF = {'fixed': 0x10, 'noreplace': 0x100000}
REMF = {'0': 0, 'maymove': 1, 'fixed': 2}
def res(v, ok):
    if ok:
        return v
    return 'error: ' + os.strerror(ctypes.get_errno())
out = []
for line in open(sys.argv[1]):
    w = line.split()
    op = w[0]
    if op == 'mmap':
        a, l = int(w[1], 16), int(w[2], 16)
        r = libc.mmap(a, l, PROT(w[3]), 0x22 | MAPF[w[4]], -1, 0)
        out.append(res(hex(r or 0), r is not None and r != 2**64 - 1))
    elif op == 'munmap':
        out.append(res('ok', libc.munmap(int(w[1], 16), int(w[2], 16)) == 0))
    elif op == 'mprotect':
        out.append(res('ok', libc.mprotect(int(w[1], 16), int(w[2], 16), PROT(w[3])) == 0))
    elif op == 'mremap':
        fl = sum(REMF[x] for x in w[4].split(','))
        na = int(w[5], 16) if len(w) > 5 else 0
        r = libc.mremap(int(w[1], 16), int(w[2], 16), int(w[3], 16), fl, na)
        out.append(res(hex(r or 0), r is not None and r != 2**64 - 1))
lo, hi = int(sys.argv[2], 16), int(sys.argv[3], 16)
for m in open('/proc/self/maps'):
    rng, perms = m.split()[:2]
    s, e = (int(x, 16) for x in rng.split('-'))
    if s >= lo and e <= hi:
        out.append('%x-%x %s' % (s, e, perms))
print('\n'.join(out))
PY
	{ fail "the Linux side of the sequence failed: $(cat "$W/linux.err")"; return; }
	# LegoOS.
	new_mm m0
	local mm=$MM
	: > "$W/script"
	while read -r op a l p f n; do
		case $op in
		mmap) echo "mmap --addr $a --len $l --prot $p --flags $f,private,anon" ;;
		munmap) echo "munmap --addr $a --len $l" ;;
		mprotect) echo "mprotect --addr $a --len $l --prot $p" ;;
		mremap)
			if [ "$f" = 0 ]; then
				echo "mremap --addr $a --len $l --new-len $p --flags 0"
			else
				echo "mremap --addr $a --len $l --new-len $p --flags $f --new-addr $n"
			fi ;;
		esac
	done < "$W/seq" >> "$W/script"
	echo "maps" >> "$W/script"
	lm mem script --mm "$mm" --home m0 "$W/script"
	[ "$LM_RC" -le 1 ] || fail "legoctl mem script: exit status $LM_RC"
	# The address space holds these mappings only: no filter needed.
	{
		head -n -1 "$W/lm.out"
		tail -n 1 "$W/lm.out" | tr ';' '\n' | sed 's/^ *//' | awk 'NF { print $1, $2 }'
	} > "$W/lego.out"
	echo "--- Linux | LegoOS ---"
	diff -y -W 120 "$W/linux.out" "$W/lego.out" | sed 's/^/  /' || true
	cmp -s "$W/linux.out" "$W/lego.out" ||
		fail "results or layout differ from Linux: $(diff "$W/linux.out" "$W/lego.out" | grep '^[<>]' | head -n 6 | tr '\n' ' ')"
	# maps, the command, shows the same layout.
	lm mem maps --mm "$mm" --home m0
	expect_lm 0 "mem maps"
	expect_lm_out '^23ff00000-23ff80000 rw-p ' "a mapping across a vRegion boundary is one line"
	lm mem vregions --mm "$mm" --home m0
	expect_lm 0 "mem vregions"
	expect_lm_out '^8 ' "vRegion 8 (0x200000000) is active"
	expect_lm_out '^9 ' "vRegion 9 (0x240000000) is active"
	# Errors of the calls themselves.
	lm mem mmap --mm "$mm" --home m0 --len 0
	expect_lm 1 "mmap of 0 bytes"
	expect_lm_err '^legoctl: mem mmap: Invalid argument$'
	lm mem mmap --mm "$mm" --home m0 --addr 0x200000123 --len 4k --flags fixed,private,anon
	expect_lm 1 "MAP_FIXED at a misaligned address"
	expect_lm_err '^legoctl: mem mmap: Invalid argument$'
	lm mem mmap --mm "$mm" --home m0 --addr 0x7ffffffff000 --len 8k --flags fixed,private,anon
	expect_lm 1 "MAP_FIXED beyond the end of user space"
	lm mem mprotect --mm "$mm" --home m0 --addr 0x200010000 --len 0x4000 --prot r
	expect_lm 1 "mprotect of an unmapped range"
	expect_lm_err '^legoctl: mem mprotect: Cannot allocate memory$'
	lm mem mmap --mm 0xffff000000000001 --home m0 --len 4k
	expect_lm 1 "mmap in an unknown mm"
	expect_lm_err '^legoctl: mem mmap: No such process$'
	# brk of an empty address space: asks, refuses to move below.
	lm mem brk --mm "$mm" --home m0
	[ "$LM_RC" -eq 0 ] || fail "brk (ask): exit status $LM_RC"
	lm mem exit --mm "$mm" --home m0
	expect_lm 0 "exit"
	lm mem maps --mm "$mm" --home m0
	expect_lm 1 "maps after exit"
	expect_lm_err 'No such process'
	no_panic
}

pages_case() {
	work
	local seed owners attempt mm
	# GMM gives each new vRegion to the least loaded memory node (request
	# rate + its recent choices): right after traffic at m0 all may go to
	# m1. Both must own some: a new address space until they do (quiet
	# seconds in between let the rates settle).
	for attempt in 1 2 3 4; do
		[ "$attempt" -eq 1 ] || sleep 3
		seed=$((RANDOM * 32768 + RANDOM))
		new_mm m0
		mm=$MM
		lm mem selftest --mm "$mm" --home m0 --seed "$seed" --ops 3000 --areas 6 --pages 16
		expect_lm 0 "random page writes and reads against a model (seed $seed)"
		expect_lm_out ' 0 mismatches, 0 errors$'
		lm mem vregions --mm "$mm" --home m0
		expect_lm 0
		owners=$(awk '$3 == "owner" { print $4 }' <<< "$LM_OUT" | sort -u | tr '\n' ' ')
		[ "$(wc -w <<< "$owners")" -lt 2 ] || break
		echo "attempt $attempt: GMM gave every vRegion to $owners"
		[ "$attempt" -eq 4 ] || { lm mem exit --mm "$mm" --home m0; expect_lm 0; }
	done
	[ "$(wc -w <<< "$owners")" -ge 2 ] ||
		fail "in 4 address spaces, the 6 vRegions were owned by '$owners' only: expected both memory nodes"
	# Pages never written read as zeros; permissions are enforced.
	lm mem mmap --mm "$mm" --home m0 --addr 0x7000000000 --len 64k --flags fixed,private,anon --prot r
	expect_lm 0
	lm mem read --mm "$mm" --home m0 --addr 0x7000003ff8 --len 16 --hex
	expect_lm 0 "read of never-written pages"
	[ "$LM_OUT" = 00000000000000000000000000000000 ] || fail "a fresh page reads '$LM_OUT'"
	lm mem write --mm "$mm" --home m0 --addr 0x7000000000 --text x
	expect_lm 1 "write to a read-only mapping"
	expect_lm_err '^legoctl: mem write: Permission denied$'
	lm mem read --mm "$mm" --home m0 --addr 0x7000010000 --len 1
	expect_lm 1 "read past the mapping"
	expect_lm_err '^legoctl: mem read: Bad address$'
	# A page written through mprotect changes keeps its content.
	lm mem mprotect --mm "$mm" --home m0 --addr 0x7000000000 --len 4k --prot rw
	expect_lm 0
	lm mem write --mm "$mm" --home m0 --addr 0x7000000ffc --text 'across'
	expect_lm 1 "write running into the read-only rest"
	lm mem write --mm "$mm" --home m0 --addr 0x7000000ff0 --text 'page one'
	expect_lm 0
	lm mem mprotect --mm "$mm" --home m0 --addr 0x7000000000 --len 4k --prot r
	lm mem read --mm "$mm" --home m0 --addr 0x7000000ff0 --len 8
	expect_lm 0
	expect_lm_out '\|page one\|$' "content kept across mprotect"
	# mremap moves the pages with the vma, inside a vRegion (at its owner)
	# and across vRegions (docs/memory.md, "mremap across vRegions").
	lm mem mmap --mm "$mm" --home m0 --addr 0x7100000000 --len 16k --flags fixed,private,anon
	expect_lm 0
	lm mem write --mm "$mm" --home m0 --addr 0x7100002ffe --text 'moved'
	expect_lm 0
	lm mem mremap --mm "$mm" --home m0 --addr 0x7100000000 --len 16k --new-len 32k --flags maymove,fixed --new-addr 0x7110000000
	expect_lm 0 "mremap to a fixed address"
	[ "$LM_OUT" = 0x7110000000 ] || fail "mremap returned '$LM_OUT'"
	lm mem read --mm "$mm" --home m0 --addr 0x7110002ffe --len 5 --raw
	[ "$LM_OUT" = moved ] || fail "after mremap the data reads '$LM_OUT'"
	lm mem read --mm "$mm" --home m0 --addr 0x7110007000 --len 2 --hex
	[ "$LM_OUT" = 0000 ] || fail "the grown part reads '$LM_OUT'"
	lm mem read --mm "$mm" --home m0 --addr 0x7100002000 --len 1
	expect_lm 1 "the old place is unmapped"
	# To a place over a vRegion bound: the text now straddles it.
	lm mem mremap --mm "$mm" --home m0 --addr 0x7110000000 --len 32k --new-len 32k --flags maymove,fixed --new-addr 0x71ffffd000
	expect_lm 0 "mremap across a vRegion bound"
	[ "$LM_OUT" = 0x71ffffd000 ] || fail "mremap across vRegions returned '$LM_OUT'"
	lm mem read --mm "$mm" --home m0 --addr 0x71fffffffe --len 5 --raw
	[ "$LM_OUT" = moved ] || fail "after mremap across vRegions the data reads '$LM_OUT'"
	lm mem read --mm "$mm" --home m0 --addr 0x7110002000 --len 1
	expect_lm 1 "the place it left is unmapped"
	lm mem exit --mm "$mm" --home m0
	expect_lm 0
	no_panic
}

# check_exec PATH HOSTFILE ARGS...: exec from vNode v1 with --dump-stack,
# and check the initial stack against the ELF headers of HOSTFILE.
check_exec() {
	local path=$1 host=$2 etype e_entry phnum entry sp at_e i a k
	shift 2
	MM='' EXEC_OUT=''
	lm mem exec --home m0 --vnode v1 --env HOME=/ --env LEGO=1 --dump-stack "$path" "$@"
	expect_lm 0 "exec $path"
	[ "$LM_RC" -eq 0 ] || return
	MM=$(awk '$1 == "mm" { print $2 }' <<< "$LM_OUT")
	EXEC_OUT=$LM_OUT
	etype=$(readelf -h "$host" | awk '$1 == "Type:" { print $2 }')
	e_entry=$(readelf -h "$host" | awk '/Entry point address:/ { print $4 }')
	phnum=$(readelf -h "$host" | awk '/Number of program headers:/ { print $5 }')
	entry=$(awk '$1 == "entry" { print $2 }' <<< "$LM_OUT")
	sp=$(awk '$1 == "sp" { print $2 }' <<< "$LM_OUT")
	at() { awk -v k="$1" '$1 == "auxv" && $2 == k { print $3; exit }' <<< "$LM_OUT"; }
	if ! [[ $entry =~ ^0x[0-9a-f]+$ && $sp =~ ^0x[0-9a-f]+$ && $e_entry =~ ^0x[0-9a-f]+$ ]]; then
		fail "$path: entry '$entry', sp '$sp', ELF entry '$e_entry'"
		return
	fi
	if [ "$etype" = EXEC ]; then
		[ "$((entry))" = "$((e_entry))" ] || fail "$path: entry $entry, ELF entry $e_entry"
	else
		[ $(((entry - e_entry) & 4095)) = 0 ] || fail "$path: entry $entry not ELF entry $e_entry + a page-aligned base"
	fi
	[ $((sp & 15)) = 0 ] || fail "$path: sp $sp is not 16-byte aligned"
	expect_lm_out "^argc $((${#@} + 1))\$" "argc"
	expect_lm_out "^argv\\[0\\] 0x[0-9a-f]+ \"$(ere_quote "$path")\"\$" "argv[0]"
	i=1
	for a in "$@"; do
		expect_lm_out "^argv\\[$i\\] 0x[0-9a-f]+ \"$(ere_quote "$a")\"\$" "argv[$i]"
		i=$((i + 1))
	done
	expect_lm_out '^envp\[0\] 0x[0-9a-f]+ "HOME=/"$' "envp[0]"
	expect_lm_out '^envp\[1\] 0x[0-9a-f]+ "LEGO=1"$' "envp[1]"
	[ "$(at AT_PAGESZ)" = 4096 ] || fail "$path: AT_PAGESZ '$(at AT_PAGESZ)'"
	[ "$(at AT_PHNUM)" = "$phnum" ] || fail "$path: AT_PHNUM '$(at AT_PHNUM)', readelf says $phnum"
	[ "$(at AT_PHENT)" = 56 ] || fail "$path: AT_PHENT '$(at AT_PHENT)'"
	at_e=$(at AT_ENTRY)
	[[ $at_e =~ ^0x[0-9a-f]+$ ]] && [ "$((at_e))" = "$((entry))" ] ||
		fail "$path: AT_ENTRY '$at_e', entry $entry"
	# AT_PHDR: where the program headers are in memory (load bias added).
	local phv base phdr
	phv=$(python3 - "$host" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
phoff, = struct.unpack_from('<Q', d, 32)
phentsize, phnum = struct.unpack_from('<HH', d, 54)
for i in range(phnum):
    t, fl, off, va = struct.unpack_from('<IIQQ', d, phoff + i * phentsize)
    if t == 1 and off <= phoff < off + struct.unpack_from('<Q', d, phoff + i * phentsize + 32)[0]:
        print(va + phoff - off)
        break
PY
)
	phdr=$(at AT_PHDR)
	base=0
	[ "$etype" = EXEC ] || base=$((entry - e_entry))
	if [[ $phdr =~ ^0x[0-9a-f]+$ && -n $phv ]]; then
		[ "$((phdr))" = "$((base + phv))" ] ||
			fail "$path: AT_PHDR $phdr, expected $(printf '0x%x' $((base + phv))) (program headers at $(printf '0x%x' "$phv") + bias $(printf '0x%x' "$base"))"
	else
		fail "$path: AT_PHDR '$phdr'"
	fi
	for k in AT_RANDOM AT_UID AT_EUID AT_GID AT_EGID AT_HWCAP AT_EXECFN AT_NULL; do
		[ -n "$(at $k)" ] || fail "$path: no $k in auxv"
	done
	expect_lm_out "^auxv AT_EXECFN +0x[0-9a-f]+ \"$(ere_quote "$path")\"\$" "AT_EXECFN names the program"
	expect_lm_out '^auxv AT_RANDOM +0x[0-9a-f]+ [0-9a-f]{32}$' "AT_RANDOM points at 16 bytes on the stack"
	# The layout: text from the file, a stack, a heap start.
	lm mem maps --mm "$MM" --home m0
	expect_lm 0 "maps after exec"
	expect_lm_out "r-xp [0-9a-f]+ 00:00 0 +$(ere_quote "$path")\$" "text mapped from $path"
	expect_lm_out ' rw-p .*\[stack\]$' "a stack"
}

exec_case() {
	work
	local mms=() EXEC_OUT=
	check_exec /bin/busybox "$VROOT/bin/busybox" echo hello world
	mms+=("$MM")
	check_exec /tests/musl/hello "$RACK_ROOT/build/user/musl/hello"
	mms+=("$MM")
	# brk: starts at start_brk, grows (a [heap] to write in), shrinks,
	# never below start_brk.
	local sb want
	sb=$(awk '$1 == "start_brk" { print $2 }' <<< "$EXEC_OUT")
	if [[ $sb =~ ^0x[0-9a-f]+$ ]] && [ -n "$MM" ]; then
		lm mem brk --mm "$MM" --home m0
		[ "$LM_OUT" = "$sb" ] || fail "brk(0) is '$LM_OUT', start_brk $sb"
		want=$(printf '0x%x' $((sb + 65636)))
		lm mem brk --mm "$MM" --home m0 --addr "$want"
		[ "$LM_OUT" = "$want" ] || fail "brk($want) returned '$LM_OUT'"
		lm mem maps --mm "$MM" --home m0
		expect_lm_out "-$(printf '%x' $(((sb + 65636 + 4095) & ~4095))) rw-p .*\[heap\]\$" "a [heap] up to the page-aligned break"
		lm mem write --mm "$MM" --home m0 --addr $((sb + 65000)) --text heap
		expect_lm 0 "write in the heap"
		lm mem brk --mm "$MM" --home m0 --addr "$sb"
		[ "$LM_OUT" = "$sb" ] || fail "brk back to start_brk returned '$LM_OUT'"
		lm mem read --mm "$MM" --home m0 --addr $((sb + 65000)) --len 4
		expect_lm 1 "read above the shrunk break"
		lm mem brk --mm "$MM" --home m0 --addr 0x1000
		[ "$LM_OUT" = "$sb" ] || fail "brk below start_brk returned '$LM_OUT' (unchanged, like Linux)"
	else
		fail "exec printed no start_brk"
	fi
	check_exec /tests/glibc/hello "$RACK_ROOT/build/user/glibc/hello" -x 'two words'
	mms+=("$MM")
	# Static-PIE programs (glibc, musl), built here: loaded at a base.
	local cc
	printf '#include <stdio.h>\nint main(void) { puts("pie"); return 0; }\n' > "$W/pie.c"
	for cc in gcc musl-gcc; do
		if ! "$cc" -static-pie -O2 -o "$W/$cc-pie" "$W/pie.c" 2> "$W/$cc.err"; then
			echo "note: no static-PIE test with $cc: $(head -n 1 "$W/$cc.err")"
			continue
		fi
		# Debian's musl-gcc makes a dynamic PIE (with PT_INTERP) or a
		# broken one instead: only a real static-PIE that runs here.
		if readelf -lW "$W/$cc-pie" | grep -q INTERP ||
			[ "$("$W/$cc-pie" 2> /dev/null)" != pie ] ||
			[ "$(readelf -h "$W/$cc-pie" | awk '$1 == "Type:" { print $2 }')" != DYN ]; then
			echo "note: no static-PIE test with $cc: it makes no working static-PIE here"
			continue
		fi
		lm fs put --vnode v1 --mode 0755 "$W/$cc-pie" "/tmp/$cc-pie"
		expect_lm 0
		check_exec "/tmp/$cc-pie" "$W/$cc-pie" pie
		mms+=("$MM")
	done
	# The text page holds the file's bytes at the entry point.
	local e off want
	e=$(readelf -h "$VROOT/bin/busybox" | awk '/Entry point address:/ { print $4 }')
	# The file offset of the entry point, from the LOAD program headers.
	off=$(python3 - "$VROOT/bin/busybox" "$e" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read()
e = int(sys.argv[2], 16)
phoff, = struct.unpack_from('<Q', d, 32)
phentsize, phnum = struct.unpack_from('<HH', d, 54)
for i in range(phnum):
    t, fl, off, va, pa, fsz, msz, al = struct.unpack_from('<IIQQQQQQ', d, phoff + i * phentsize)
    if t == 1 and va <= e < va + fsz:
        print(off + e - va)
        break
PY
)
	if [ -n "$off" ] && [ -n "${mms[0]}" ]; then
		want=$(od -An -tx1 -v -j "$off" -N 16 "$VROOT/bin/busybox" | tr -d ' \n')
		lm mem read --mm "${mms[0]}" --home m0 --addr "$e" --len 16 --hex
		expect_lm 0 "read of busybox's text at the entry point"
		[ "$LM_OUT" = "$want" ] || fail "text at the entry point: '$LM_OUT', the file has '$want'"
	fi
	for m in "${mms[@]}"; do
		[ -n "$m" ] || continue
		lm mem exit --mm "$m" --home m0
		expect_lm 0
	done
	no_panic
}

enoexec_case() {
	work
	# Not executable (mode 0644): EACCES, as on Linux.
	lm mem exec --home m0 --vnode v1 /etc/hostname
	expect_lm 1 "exec of a file without x permission"
	expect_lm_err '^legoctl: mem exec: /etc/hostname: Permission denied$'
	lm mem exec --home m0 --vnode v1 /no/such/program
	expect_lm 1 "exec of a missing file"
	expect_lm_err '^legoctl: mem exec: /no/such/program: No such file or directory$'
	lm mem exec --home m0 --vnode v1 /bin
	expect_lm 1 "exec of a directory"
	# Executable, but no ELF program: ENOEXEC with the loader's reason.
	printf 'just some text, long enough to hold an ELF header if it were one.\n' > "$W/text"
	head -c 100 "$VROOT/bin/busybox" > "$W/trunc"
	{ head -c 18 "$VROOT/bin/busybox"; printf '\x28\x00'; tail -c +21 "$VROOT/bin/busybox"; } > "$W/arm"
	lm fs put --vnode v1 --mode 0755 "$W/text" /tmp/text
	expect_lm 0
	lm fs put --vnode v1 --mode 0755 "$W/trunc" /tmp/trunc
	expect_lm 0
	lm fs put --vnode v1 --mode 0755 "$W/arm" /tmp/arm
	expect_lm 0
	lm mem exec --home m0 --vnode v1 /tmp/text
	expect_lm 1 "exec of a text file"
	expect_lm_err '^legoctl: mem exec: /tmp/text: Exec format error: .{4,}' "ENOEXEC with a reason"
	lm mem exec --home m0 --vnode v1 /tmp/trunc
	expect_lm 1 "exec of a truncated ELF"
	expect_lm_err '^legoctl: mem exec: /tmp/trunc: Exec format error: .{4,}'
	lm mem exec --home m1 --vnode v1 /tmp/arm
	expect_lm 1 "exec of an ELF for another machine"
	expect_lm_err '^legoctl: mem exec: /tmp/arm: Exec format error: .{4,}'
	# Nothing was left behind by the failed execs.
	expect_base m0 "after failed execs"
	expect_base m1 "after failed execs"
	no_panic
}

fork_case() {
	work
	new_mm m0
	local p=$MM c
	lm mem mmap --mm "$p" --home m0 --addr 0x300000000 --len 16k --flags fixed,private,anon
	expect_lm 0
	lm mem write --mm "$p" --home m0 --addr 0x300001000 --text 'before fork'
	expect_lm 0
	lm mem fork --mm "$p" --home m0
	expect_lm 0 "fork"
	c=$LM_OUT
	lm mem write --mm "$p" --home m0 --addr 0x300001000 --text 'parent only'
	expect_lm 0
	lm mem write --mm "$c" --home m0 --addr 0x300002000 --text 'child only'
	expect_lm 0
	lm mem read --mm "$c" --home m0 --addr 0x300001000 --len 11 --raw
	[ "$LM_OUT" = 'before fork' ] || fail "the child reads '$LM_OUT' after the parent's write"
	lm mem read --mm "$p" --home m0 --addr 0x300001000 --len 11 --raw
	[ "$LM_OUT" = 'parent only' ] || fail "the parent reads '$LM_OUT'"
	lm mem read --mm "$p" --home m0 --addr 0x300002000 --len 4 --hex
	[ "$LM_OUT" = 00000000 ] || fail "the parent sees the child's write: '$LM_OUT'"
	lm mem maps --mm "$c" --home m0
	expect_lm_out '^300000000-300004000 rw-p ' "the child has the parent's vma"
	lm mem fork --mm "$p" --home m0 --child "$c"
	expect_lm 1 "fork onto an existing mm"
	expect_lm_err 'File exists'
	lm mem exit --mm "$c" --home m0
	expect_lm 0
	# Many fork/exit cycles of an address space spread over both nodes.
	lm mem selftest --mm "$p" --home m0 --seed 1 --ops 200 --areas 4 --pages 4 --addr 0x1000000000
	expect_lm 0
	{
		for i in $(seq 1 1000); do
			echo "fork --mm $p --child $((0x7e000000 + i))"
			echo "exit --mm $((0x7e000000 + i))"
		done
	} > "$W/cycles"
	lm mem script --mm "$p" --home m0 "$W/cycles"
	expect_lm 0 "1000 fork/exit cycles"
	lm mem exit --mm "$p" --home m0
	expect_lm 0
	no_panic
}

exit_case() {
	work
	expect_base m0 "after every exit"
	expect_base m1 "after every exit"
	lm mem stats
	expect_lm 0 "stats of both memory nodes"
	[ "$(grep -c ' mms_home=' <<< "$LM_OUT")" = 2 ] || fail "mem stats lists $(grep -c ' mms_home=' <<< "$LM_OUT") nodes"
}

# Malformed memory requests, well framed as RPC, straight to m0: each must
# be answered with its error (or dropped), and m0 must keep serving.
malformed_case() {
	work
	new_mm m0
	local mm=$MM ip
	ip=$(node_field m0 3)
	rk exec --name "$R" -- env PYTHONPATH="$RACK_ROOT/tests/rack" /usr/bin/python3 - "$ip" "$mm" <<'PY'
import os, socket, struct, sys
from rpcwire import csum, header
ip, mm = sys.argv[1], int(sys.argv[2], 16)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 0))
s.settimeout(0.3)
epoch = int.from_bytes(os.urandom(4), 'little') | 1
CREATE, EXEC, MMAP, MUNMAP, MPROTECT, MREMAP, BRK, FORK, EXIT, VREGIONS, MAPS = range(0x201, 0x20c)
FETCH, FLUSH, FLUSH_FETCH, OWN, STATS = 0x210, 0x211, 0x212, 0x220, 0x240
TOP = 0x7ffffffff000
def mreq(mm=mm, addr=0, ln=0, new_len=0, new_addr=0, pgoff=0, prot=3, flags=0x22, plen=0, path=b''):
    return struct.pack('<QQQQQQIIH6x', mm, addr, ln, new_len, new_addr, pgoff, prot, flags, plen) + path
def preq(mm=mm, addr=0x400000000, flush=0, access=1, res=0):
    return struct.pack('<QQQII', mm, addr, flush, access, res)
EINVAL, ESRCH = -22, -3
cases = [
    ('CREATE empty', CREATE, b'', EINVAL),
    ('CREATE short', CREATE, b'\1' * 10, EINVAL),
    ('CREATE flags set', CREATE, struct.pack('<QIIHHI', 0x77, 0, 0, 0, 1, 0), EINVAL),
    ('EXEC short header', EXEC, b'\0' * 30, EINVAL),
    ('EXEC path_len past end', EXEC, struct.pack('<QIIHHI', 0x78, 1, 0, 0, 0, 0) + struct.pack('<HHIII16s', 900, 0, 1, 0, 0, b'r' * 16) + b'/bin/true', EINVAL),
    ('EXEC argc without strings', EXEC, struct.pack('<QIIHHI', 0x79, 1, 0, 0, 0, 0) + struct.pack('<HHIII16s', 9, 0, 50, 50, 0, b'r' * 16) + b'/bin/true', EINVAL),
    ('MMAP short', MMAP, mreq()[:40], EINVAL),
    ('MMAP len 0', MMAP, mreq(ln=0), EINVAL),
    ('MMAP fixed misaligned', MMAP, mreq(addr=0x400000123, ln=4096, flags=0x32), EINVAL),
    ('MMAP fixed beyond top', MMAP, mreq(addr=TOP, ln=8192, flags=0x32), EINVAL),
    ('MMAP len huge', MMAP, mreq(ln=1 << 63), None),
    ('MMAP unknown flags', MMAP, mreq(ln=4096, flags=0x22 | 0x40000000), EINVAL),
    ('MMAP path_len past end', MMAP, mreq(ln=4096, flags=0x02, plen=500, path=b'/etc/hostname'), EINVAL),
    ('MUNMAP misaligned', MUNMAP, mreq(addr=0x400000001, ln=4096), EINVAL),
    ('MUNMAP len 0', MUNMAP, mreq(addr=0x400000000, ln=0), EINVAL),
    ('MPROTECT bad prot', MPROTECT, mreq(addr=0x400000000, ln=4096, prot=0x1000), EINVAL),
    ('MPROTECT misaligned', MPROTECT, mreq(addr=0x400000800, ln=4096, prot=1), EINVAL),
    ('MREMAP misaligned', MREMAP, mreq(addr=0x400000001, ln=4096, new_len=8192, flags=1), EINVAL),
    ('MREMAP bad flags', MREMAP, mreq(addr=0x400000000, ln=4096, new_len=8192, flags=0x80), EINVAL),
    ('FORK short', FORK, b'\0' * 8, EINVAL),
    ('VREGIONS unknown mm', VREGIONS, mreq(mm=0x5eed), ESRCH),
    ('MAPS short', MAPS, b'\0' * 12, EINVAL),
    ('FETCH short', FETCH, preq()[:16], EINVAL),
    ('FETCH misaligned', FETCH, preq(addr=0x400000010), EINVAL),
    ('FETCH beyond top', FETCH, preq(addr=0xffff800000000000), EINVAL),
    ('FETCH bad access', FETCH, preq(access=0x80), EINVAL),
    ('FLUSH without data', FLUSH, preq(), EINVAL),
    ('FLUSH short data', FLUSH, preq() + b'x' * 100, EINVAL),
    ('FLUSH_FETCH short data', FLUSH_FETCH, preq(flush=0x400001000) + b'x' * 200, EINVAL),
    ('FETCH unknown mm', FETCH, preq(mm=0x5eed), (-3, -6)),
    ('OWN short', OWN, b'\0' * 50, EINVAL),
    ('OWN bad op', OWN, struct.pack('<QIIHHI', mm, 0, 0, 0, 0, 0) + struct.pack('<IIIIQ', 99, 16, 30, 0, 0) + mreq(), EINVAL),
    ('STATS with payload', STATS, b'\0' * 8, None),
]
bad = 0
for call, (name, op, payload, want) in enumerate(cases, 1):
    h = header(opcode=op, src=0, epoch=epoch, call=call, msg_len=len(payload), off=0,
               flen=len(payload), mcsum=csum(payload))
    status = None
    for attempt in range(8):
        s.sendto(h + payload, (ip, 4700))
        try:
            while True:
                d, _ = s.recvfrom(65536)
                f = struct.unpack('<HBBHHIIQIIHHiII', d[:48])
                if f[2] == 2 and f[7] == call:
                    status = f[12]
                    break
        except socket.timeout:
            continue
        break
    ok = status is None or (want is None and status <= 0) or status == want or \
        (isinstance(want, tuple) and status in want)
    bad += not ok
    print('%-28s -> %s%s' % (name, 'no reply (dropped)' if status is None else 'status %d' % status,
                             '' if ok else '   <-- expected %s' % (want,)))
sys.exit(1 if bad else 0)
PY
	expect_rk_rc 0 "every malformed request answered with its error or dropped"
	# m0 still serves, and the address space is intact.
	lm mem vregions --mm "$mm" --home m0
	expect_lm 0 "m0 still serves"
	lm mem exit --mm "$mm" --home m0
	expect_lm 0
	lm mem stats --node m0
	expect_lm 0
	no_panic
}

# bc_stat NODE FIELD: BCV = FIELD of NODE's `mem stats` line (bc_hits, ...).
bc_stat() {
	lm mem stats --node "$1"
	BCV=$(sed -nE "s/.* $2=([0-9]+).*/\1/p" <<< "$LM_OUT")
	BCV=${BCV:-0}
}

# The buffer cache (§4.5) of the vNode's cache mComponent, which GPM chose
# when v1 was created: legoctl fs --cache vnode sends the storage requests
# through it as a processor does. The rack's caches hold 256 pages
# (lego.bc_pages), so 3 MB of file data evicts and writes back.
bcache_case() {
	work
	local cn cache a b i pids=() rc
	lm vnode list --json
	cn=$(python3 -c 'import json,sys; print([v["cache_node"] for v in json.load(sys.stdin)["vnodes"] if v["name"] == "v1"][0])' <<< "$LM_OUT" 2>/dev/null)
	[ -n "$cn" ] && [ "$cn" != 0 ] || { fail "v1 has no buffer-cache mComponent ('$cn')"; return; }
	lm mem stats --node "$cn"
	cache=$(awk '{ print $1; exit }' <<< "$LM_OUT")
	echo "v1's buffer cache: $cache (id $cn)"
	head -c 300000 /dev/urandom > "$W/data"
	# Written into the cache only; read back through it.
	lm fs --vnode v1 --cache vnode --no-sync put "$W/data" /bc-data
	expect_lm 0 "put through the cache"
	lm fs --vnode v1 --cache vnode get /bc-data "$W/back1"
	expect_lm 0
	cmp -s "$W/data" "$W/back1" || fail "read through the cache differs from what was written"
	lm fs --vnode v1 --cache vnode stat /bc-data
	expect_lm_out '^size: +300000 bytes' "size through the cache"
	# FSYNC writes through: then the storage node has every byte.
	lm fs --vnode v1 --cache vnode sync /bc-data
	expect_lm 0 "sync through the cache"
	lm fs --vnode v1 get /bc-data "$W/back2"
	expect_lm 0
	cmp -s "$W/data" "$W/back2" || fail "the storage node's copy after sync differs"
	# Two writers (two processes of the vNode) at once, on interleaved
	# 4 KiB blocks of one file, then each block read by the other side.
	head -c 131072 /dev/urandom > "$W/a"
	head -c 131072 /dev/urandom > "$W/b"
	for i in 0 2 4 6 8 10 12 14; do
		dd if="$W/a" of="$W/a.$i" bs=4096 skip="$i" count=1 status=none
		dd if="$W/b" of="$W/b.$i" bs=4096 skip="$((i + 1))" count=1 status=none
	done
	lm fs --vnode v1 --cache vnode touch /bc-shared
	expect_lm 0 "touch through the cache (CREATE, SETATTR)"
	(
		for i in 0 2 4 6 8 10 12 14; do
			timeout -k 5 "$LC_TIMEOUT" ip netns exec "lego-$R" env LEGO_GM=198.18.0.1 \
				"$LEGOCTL" fs --vnode v1 --cache vnode --no-sync write --offset $((i * 4096)) /bc-shared < "$W/a.$i" || exit 1
		done
	) > "$W/wa.log" 2>&1 & pids+=($!)
	(
		for i in 0 2 4 6 8 10 12 14; do
			timeout -k 5 "$LC_TIMEOUT" ip netns exec "lego-$R" env LEGO_GM=198.18.0.1 \
				"$LEGOCTL" fs --vnode v1 --cache vnode --no-sync write --offset $(((i + 1) * 4096)) /bc-shared < "$W/b.$i" || exit 1
		done
	) > "$W/wb.log" 2>&1 & pids+=($!)
	for i in "${pids[@]}"; do
		rc=0
		wait "$i" || rc=$?
		[ "$rc" -eq 0 ] || fail "a concurrent writer failed: $(cat "$W/wa.log" "$W/wb.log")"
	done
	: > "$W/expect"
	for i in 0 2 4 6 8 10 12 14; do
		cat "$W/a.$i" "$W/b.$i" >> "$W/expect"
	done
	lm fs --vnode v1 --cache vnode get /bc-shared "$W/shared"
	cmp -s "$W/expect" "$W/shared" || fail "the shared file through the cache is not both writers' blocks"
	lm fs --vnode v1 --cache vnode sync
	expect_lm 0 "sync of everything"
	lm fs --vnode v1 get /bc-shared "$W/shared2"
	cmp -s "$W/expect" "$W/shared2" || fail "the shared file at the storage node is not both writers' blocks"
	# More than the cache holds: eviction writes back, reads miss.
	head -c 3000000 /dev/urandom > "$W/big"
	bc_stat "$cache" bc_evictions
	a=$BCV
	lm fs --vnode v1 --cache vnode --no-sync put "$W/big" /bc-big
	expect_lm 0
	lm fs --vnode v1 --cache vnode get /bc-big "$W/big1"
	cmp -s "$W/big" "$W/big1" || fail "a file larger than the cache reads back wrong through it"
	bc_stat "$cache" bc_evictions
	[ "$BCV" -gt "$a" ] || fail "no evictions ($a -> $BCV) with 3 MB through a 1 MiB cache"
	bc_stat "$cache" bc_pages
	[ "$BCV" -le 256 ] || fail "the cache holds $BCV pages, more than its 256"
	lm fs --vnode v1 --cache vnode sync /bc-big
	lm fs --vnode v1 get /bc-big "$W/big2"
	cmp -s "$W/big" "$W/big2" || fail "the storage node's copy of the big file differs"
	# Metadata changes through the cache: rm, then the cache does not resurrect it.
	lm fs --vnode v1 --cache vnode --no-sync write --offset 0 /bc-data < "$W/a.0"
	lm fs --vnode v1 --cache vnode rm /bc-data
	expect_lm 0
	sleep 4		# past a periodic flush
	lm fs --vnode v1 stat /bc-data
	expect_lm 1 "a removed file stays removed after the flush"
	# EXEC reads the program through the vNode's cache too.
	bc_stat "$cache" bc_hits
	a=$BCV
	for i in 1 2; do
		lm mem exec --home "$cache" --vnode v1 /bin/busybox true
		expect_lm 0 "exec of busybox ($i)"
		lm mem exit --mm "$(awk '$1 == "mm" { print $2 }' <<< "$LM_OUT")" --home "$cache"
		expect_lm 0 "exit ($i)"
	done
	bc_stat "$cache" bc_hits
	[ "$BCV" -gt "$a" ] || fail "exec made no buffer-cache hits ($a -> $BCV)"
	lm mem stats --node "$cache"
	expect_lm_out 'bc_wb_errors=0' "no write-back errors"
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
add_case layout-like-linux with_logs layout_case
add_case pages-two-owners with_logs pages_case
add_case exec-stack-auxv with_logs exec_case
add_case exec-enoexec with_logs enoexec_case
add_case fork-copies with_logs fork_case
add_case malformed-requests with_logs malformed_case
add_case exit-frees-all with_logs exit_case
add_case buffer-cache with_logs bcache_case
add_case down with_logs down_case
run_cases
