#!/usr/bin/env bash
# The storage monitor through `legoctl fs`, on small racks of storage nodes
# only (the global managers run on the host; no processor or memory node is
# needed to create a vNode or to reach its files):
#
#   * the default disk (scripts/rack makes it with mklegofs from
#     build/vnode-root/): a new vNode sees the base root, byte for byte;
#   * every file operation of legoctl fs, each checked by reading back;
#   * isolation of two vNodes (own files, copy-on-write of base files);
#   * bad input: over-long and relative paths, missing files, malformed
#     storage requests on the wire (the node keeps serving);
#   * persistence: a synced file survives a kill and restart of the node;
#   * a full disk: "No space left on device", and the store stays usable;
#   * a corrupt image (--storage-image): refused at mount with a reason,
#     the node registers unhealthy, and says why.
#
# Cases run one at a time and share the rack t85-<tag> (the first cases)
# in order; the last two use racks of their own. Each case copies the
# rack's serial logs into build/test-results/rack/85-storage/, so a failed
# case shows the node's log tail.
. "$(dirname -- "$0")/lib.sh"
. "$(dirname -- "$0")/racklib.sh"
JOBS=1

R=t85-$SFX RFULL=t85full-$SFX RBAD=t85bad-$SFX
LEGOCTL=$RACK_ROOT/build/gm/legoctl
MKLEGOFS=$RACK_ROOT/build/tools/mklegofs
VROOT=$RACK_ROOT/build/vnode-root
# Bound of every single legoctl call (its own RPC timeouts are shorter).
LC_TIMEOUT=60
UP_TIMEOUT=60

for f in "$LEGOCTL" "$MKLEGOFS" "$VROOT/bin/busybox" "$RACK_ROOT/build/legoos-storage.iso"; do
	[ -e "$f" ] || { echo "not ok 1 - build # $f missing: run make"; exit 1; }
done

# ---- helpers (inside a case) ----

work() { W=$OUT/$CASE.work; mkdir -p -- "$W"; }

# show_out FILE PREFIX: the start of a command's output, for the case's
# record; binary output is only counted.
show_out() {
	[ -s "$1" ] || return 0
	if grep -Iq . "$1" 2> /dev/null || ! grep -q . "$1"; then
		head -n 12 -- "$1" | cut -c1-200 | sed "s/^/  $2 /"
	else
		echo "  $2 ($(stat -c %s -- "$1") bytes of binary data)"
	fi
}

# lfs [--in FILE] [--rack RACK] ARGS...: `legoctl fs ARGS` in the rack
# (default $R); sets FS_RC, FS_OUT (stdout, text) and FS_ERR (stderr);
# the raw stdout is in $W/fs.out. stdin is FILE, or /dev/null. legoctl runs
# in the rack's namespace directly, not through `scripts/rack exec`, which
# costs 0.1 s more per call.
lfs() {
	local in=/dev/null rack=$R
	while :; do
		case $1 in
		--in) in=$2; shift 2 ;;
		--rack) rack=$2; shift 2 ;;
		*) break ;;
		esac
	done
	_lc "$rack" "$in" fs "$@"
}

_lc() {
	local rack=$1 in=$2 t0
	shift 2
	FS_RC=0
	t0=$(now_ms)
	timeout -k 5 "$LC_TIMEOUT" ip netns exec "lego-$rack" env LEGO_GM=198.18.0.1 \
		"$LEGOCTL" "$@" < "$in" > "$W/fs.out" 2> "$W/fs.err" || FS_RC=$?
	FS_OUT=$(tr -d '\0' < "$W/fs.out")
	FS_ERR=$(cat -- "$W/fs.err")
	echo "\$ legoctl $* -> exit status $FS_RC ($(($(now_ms) - t0)) ms)"
	[ "$FS_RC" -ne 124 ] || echo "  (killed after ${LC_TIMEOUT}s)"
	show_out "$W/fs.out" '|'
	show_out "$W/fs.err" '!'
}

# lc [--rack RACK] ARGS...: any other legoctl command; same variables.
lc() {
	local rack=$R
	[ "$1" != --rack ] || { rack=$2; shift 2; }
	_lc "$rack" /dev/null "$@"
}

expect_fs() { [ "$FS_RC" -eq "$1" ] || fail "legoctl exit status $FS_RC, expected $1${2:+ ($2)}"; }
expect_fs_out() { grep -Eq -- "$1" <<< "$FS_OUT" || fail "no legoctl output line matching /$1/${2:+ ($2)}"; }
expect_fs_err() { grep -Eq -- "$1" <<< "$FS_ERR" || fail "no legoctl error matching /$1/${2:+ ($2)}"; }

# expect_bytes FILE [WHAT]: the last command's stdout is FILE's content.
expect_bytes() {
	if ! cmp -s -- "$W/fs.out" "$1"; then
		fail "output differs from $1${2:+ ($2)}: $(cmp -- "$W/fs.out" "$1" 2>&1 | head -n 1) ($(stat -c %s "$W/fs.out") vs $(stat -c %s "$1") bytes)"
	fi
}

# expect_text STRING [WHAT]: stdout is exactly STRING (printf %b escapes).
expect_text() {
	printf '%b' "$1" > "$W/want"
	expect_bytes "$W/want" "${2:-content}"
}

# fs_ok ARGS...: legoctl fs ARGS must succeed.
fs_ok() { lfs "$@"; expect_fs 0 "fs $*"; }

# fs_fails ERROR CMD [ARGS...] PATH: `legoctl fs CMD ... PATH` fails with
# exit status 1 and "legoctl: fs CMD: PATH: ERROR".
fs_fails() {
	fs_fails_at "$1" "${!#}" "${@:2}"
}

# fs_fails_at ERROR PATH CMD [ARGS...]: the same where PATH is not last.
fs_fails_at() {
	local err=$1 path=$2 cmd=$3
	shift 2
	lfs "$@"
	expect_fs 1 "fs $* must fail with $err"
	expect_fs_err "^legoctl: fs $cmd: $(ere_quote "$path"): $err" "fs $cmd reports '$err'"
}

# stat_field KEY: a "KEY: VALUE" (or "KEY VALUE") field of the last fs stat.
stat_field() {
	awk -v k="$1" '{ sub(/^[ \t]+/, "") } tolower($1) == k ":" || tolower($1) == k { print $2; exit }' <<< "$FS_OUT"
}

# expect_size PATH BYTES: the size `fs stat` shows for PATH in vNode v1.
expect_size() {
	local p=$1 want=$2 got
	lfs stat --vnode v1 "$p"
	expect_fs 0 "stat $p"
	got=$(stat_field size)
	[ "$got" = "$want" ] || fail "stat $p: size '$got', expected $want"
}

# wait_log RACK NODE REGEX MS: wait until the node's serial log matches.
wait_log() {
	local end=$(($(now_ms) + $4))
	while [ "$(now_ms)" -lt "$end" ]; do
		tr -d '\r' < "$RACK_DIR/$1/$2.log" 2> /dev/null | grep -Eq -- "$3" && return 0
		sleep 0.2
	done
	return 1
}

# with_logs RACK CASE_FUNCTION [ARGS]: run the case, then copy the rack's
# serial logs (whatever happened) so that a failure shows the node's tail.
with_logs() {
	local rack=$1
	shift
	"$@"
	keep_logs "$rack"
}

# random_file FILE BYTES
random_file() { head -c "$2" /dev/urandom > "$1"; }

# ---- the shared rack ----

up_case() {
	work
	"$RACK" down --name "$R" > /dev/null 2>&1 || true
	rk up --name "$R" --processor 0 --memory 0 --storage 1 --timeout "$UP_TIMEOUT"
	expect_rk_rc 0 "up with one storage node"
	[ "$RK_RC" -eq 0 ] || return
	# The default disk: 256 MiB, sparse (s0 has it mounted: it is checked
	# with mklegofs only after down).
	[ "$(stat -c %s -- "$RACK_DIR/$R/s0.img" 2> /dev/null)" = $((256 << 20)) ] ||
		fail "s0's disk is not 256 MiB"
	LOG=$RACK_DIR/$R/s0.log
	wait_log "$R" s0 'lego: storage monitor ready' 1000 || fail "no ready line"
	wait_log "$R" s0 'gm: registered with' 5000 || fail "s0 did not register"
	expect_no_line 'storage: cannot mount' "the default image mounts"
	LOG=/dev/null
}

default_image_case() {
	work
	lc vnode create v1
	expect_fs 0 "vnode create v1 (also makes its namespace on s0)"
	lfs ls --vnode v1 /
	expect_fs 0 "ls /"
	expect_fs_out '(^|[ /])bin/?$' "/ holds bin"
	expect_fs_out '(^|[ /])tests/?$' "/ holds tests"
	expect_fs_out '(^|[ /])tmp/?$' "/ holds tmp"
	lfs ls --vnode v1 /tests/musl
	expect_fs 0
	expect_fs_out '(^|[ /])hello$' "/tests/musl holds hello"
	fs_ok cat --vnode v1 /bin/busybox
	expect_bytes /bin/busybox "/bin/busybox read through the vNode"
	fs_ok cat --vnode v1 /tests/glibc/hello
	expect_bytes "$RACK_ROOT/build/user/glibc/hello" "/tests/glibc/hello"
	fs_ok cat --vnode v1 /tests/musl/args
	expect_bytes "$RACK_ROOT/build/user/musl/args" "/tests/musl/args"
	fs_ok readlink --vnode v1 /bin/sh
	[ "$FS_OUT" = busybox ] || fail "/bin/sh -> '$FS_OUT', expected busybox"
	# The image's base root (vNode 0) is the same tree.
	fs_ok cat --node s0 --base /etc/hostname
	expect_text 'legoos\n' "/etc/hostname of the base root"
}

ops_case() {
	work
	local big=$W/big.bin
	random_file "$big" $((3 * 1024 * 1024 + 12345))

	# mkdir, mkdir -p, put/get of a 3 MiB file.
	fs_ok mkdir --vnode v1 /work
	fs_fails 'File exists' mkdir --vnode v1 /work
	fs_ok mkdir -p --vnode v1 /work/a/b/c
	fs_ok mkdir -p --vnode v1 /work/a/b/c
	fs_ok put --vnode v1 "$big" /work/big.bin
	fs_ok get --vnode v1 /work/big.bin "$W/big.back"
	cmp -s -- "$big" "$W/big.back" || fail "get of /work/big.bin differs from what was put"
	fs_ok cat --vnode v1 /work/big.bin
	expect_bytes "$big" "cat of the 3 MiB file"
	expect_size /work/big.bin $((3 * 1024 * 1024 + 12345))
	# put from stdin, with a mode.
	printf 'abc' > "$W/abc"
	lfs --in "$W/abc" put --vnode v1 --mode 0600 - /work/stdin.txt
	expect_fs 0 "put from stdin"
	fs_ok cat --vnode v1 /work/stdin.txt
	expect_text 'abc'
	lfs stat --vnode v1 /work/stdin.txt
	grep -Eq '(^|[^0-7])0?600([^0-7]|$)|rw-------' <<< "$FS_OUT" || fail "put --mode 0600: stat shows no mode 0600"

	# ls, ls -l.
	fs_ok ls --vnode v1 /work
	expect_fs_out '(^|[ /])a/?$'
	expect_fs_out '(^|[ /])big\.bin$'
	expect_fs_out '(^|[ /])stdin\.txt$'
	fs_ok ls -l --vnode v1 /work
	expect_fs_out "$((3 * 1024 * 1024 + 12345)).*big\\.bin\$" "ls -l shows the size"

	# mv of a file and of a directory (with what is below it).
	fs_ok mv --vnode v1 /work/stdin.txt /work/a/moved.txt
	fs_fails 'No such file or directory' stat --vnode v1 /work/stdin.txt
	fs_ok cat --vnode v1 /work/a/moved.txt
	expect_text 'abc'
	fs_ok mv --vnode v1 /work/a /work/z
	fs_fails 'No such file or directory' stat --vnode v1 /work/a
	fs_ok cat --vnode v1 /work/z/moved.txt
	expect_text 'abc' "a file below a moved directory"
	fs_ok ls --vnode v1 /work/z/b
	expect_fs_out '(^|[ /])c/?$' "a directory below a moved directory"

	# ln -s and readlink.
	fs_ok ln -s --vnode v1 /work/z/moved.txt /work/link
	fs_ok readlink --vnode v1 /work/link
	[ "$FS_OUT" = /work/z/moved.txt ] || fail "readlink /work/link: '$FS_OUT'"

	# truncate: grow (zeros), shrink; also a big file cut and grown again.
	fs_ok truncate --vnode v1 --size 10 /work/z/moved.txt
	fs_ok cat --vnode v1 /work/z/moved.txt
	expect_text 'abc\0\0\0\0\0\0\0' "grown by truncate: zeros"
	fs_ok truncate --vnode v1 --size 2 /work/z/moved.txt
	fs_ok cat --vnode v1 /work/z/moved.txt
	expect_text 'ab' "shrunk by truncate"
	fs_ok truncate --vnode v1 --size 1000000 /work/big.bin
	fs_ok truncate --vnode v1 --size 1500000 /work/big.bin
	{ head -c 1000000 -- "$big"; head -c 500000 /dev/zero; } > "$W/big.cut"
	fs_ok get --vnode v1 /work/big.bin "$W/big.back2"
	cmp -s -- "$W/big.cut" "$W/big.back2" ||
		fail "after truncating to 1000000 and growing to 1500000: $(cmp -- "$W/big.cut" "$W/big.back2" 2>&1 | head -n1)"

	# write --offset (inside, then past the end: a hole of zeros).
	printf '0123456789' > "$W/digits"
	fs_ok put --vnode v1 "$W/digits" /work/w.txt
	printf 'XY' > "$W/xy"
	lfs --in "$W/xy" write --vnode v1 --offset 3 /work/w.txt
	expect_fs 0 "write --offset 3"
	printf 'Z' > "$W/z"
	lfs --in "$W/z" write --vnode v1 --offset 12 /work/w.txt
	expect_fs 0 "write --offset 12 (past the end)"
	fs_ok cat --vnode v1 /work/w.txt
	expect_text '012XY56789\0\0Z' "after two writes"

	# append (--create for a new file).
	printf 'one\n' > "$W/one"; printf 'two\n' > "$W/two"
	lfs --in "$W/one" append --vnode v1 /work/log
	expect_fs 1 "append to a missing file without --create"
	expect_fs_err '^legoctl: fs append: /work/log: No such file or directory'
	lfs --in "$W/one" append --vnode v1 --create /work/log
	expect_fs 0 "append --create"
	[ "$FS_OUT" = 0 ] || fail "append --create: printed offset '$FS_OUT', expected 0"
	lfs --in "$W/two" append --vnode v1 /work/log
	expect_fs 0 "append"
	[ "$FS_OUT" = 4 ] || fail "append: printed offset '$FS_OUT', expected 4"
	fs_ok cat --vnode v1 /work/log
	expect_text 'one\ntwo\n'

	# touch, touch --excl, chmod.
	fs_ok touch --vnode v1 /work/t
	expect_size /work/t 0
	fs_ok touch --vnode v1 /work/t
	fs_fails 'File exists' touch --vnode v1 --excl /work/t
	fs_ok chmod --vnode v1 0640 /work/t
	lfs stat --vnode v1 /work/t
	grep -Eq '(^|[^0-7])0?640([^0-7]|$)|rw-r-----' <<< "$FS_OUT" || fail "chmod 0640: stat shows no mode 0640"
	fs_ok chmod --vnode v1 4755 /work/t
	lfs stat --vnode v1 /work/t
	grep -Eq '(^|[^0-7])0?4755([^0-7]|$)|rwsr-xr-x' <<< "$FS_OUT" || fail "chmod 4755: stat shows no mode 4755"

	# rm, rmdir.
	fs_ok rm --vnode v1 /work/t
	fs_fails 'No such file or directory' stat --vnode v1 /work/t
	fs_fails 'No such file or directory' rm --vnode v1 /work/t
	fs_fails 'Directory not empty' rmdir --vnode v1 /work/z
	fs_fails 'Is a directory' rm --vnode v1 /work/z/b/c
	fs_ok rmdir --vnode v1 /work/z/b/c
	fs_fails 'No such file or directory' stat --vnode v1 /work/z/b/c
	fs_fails 'Not a directory' rmdir --vnode v1 /work/w.txt

	# sync, df, vnodes.
	fs_ok sync --vnode v1
	fs_ok sync --vnode v1 /work/big.bin
	fs_ok df --vnode v1
	[ -n "$FS_OUT" ] || fail "df printed nothing"
	fs_ok vnodes --node s0
	expect_fs_out '(^|[^a-z0-9])v1([^a-z0-9]|$)' "vnodes lists v1"
}

isolation_case() {
	work
	lc vnode create v2
	expect_fs 0 "vnode create v2"
	fs_ok vnodes --node s0
	expect_fs_out '(^|[^a-z0-9])v2([^a-z0-9]|$)' "vnodes lists v2"
	# v1's own files are not in v2.
	fs_fails 'No such file or directory' stat --vnode v2 /work/big.bin
	fs_fails 'No such file or directory' stat --vnode v2 /work
	# A base file changed (and one removed) in v1 stays as it was in v2
	# and in the base root.
	printf 'changed-in-v1\n' > "$W/host"
	fs_ok put --vnode v1 "$W/host" /etc/hostname
	fs_ok rm --vnode v1 /tests/musl/hello
	fs_ok cat --vnode v1 /etc/hostname
	expect_text 'changed-in-v1\n' "v1 sees its change"
	fs_ok cat --vnode v2 /etc/hostname
	expect_text 'legoos\n' "v2 keeps the base file"
	fs_ok cat --node s0 --base /etc/hostname
	expect_text 'legoos\n' "the base root keeps the base file"
	fs_ok cat --vnode v2 /tests/musl/hello
	expect_bytes "$RACK_ROOT/build/user/musl/hello" "v2 keeps a file v1 removed"
	# And the other way round.
	printf 'v2 only\n' > "$W/v2"
	fs_ok put --vnode v2 "$W/v2" /only-v2
	fs_fails 'No such file or directory' stat --vnode v1 /only-v2
	fs_ok cat --vnode v1 /work/log
	expect_text 'one\ntwo\n' "v1's files are untouched by v2"
}

bad_input_case() {
	work
	local long comp
	long=/$(printf 'd%.0s' $(seq 1 1100))
	comp=/$(printf 'n%.0s' $(seq 1 300))
	fs_fails 'File name too long' stat --vnode v1 "$long"
	fs_fails 'File name too long' stat --vnode v1 "$comp"
	printf 'x' > "$W/x"
	fs_fails 'File name too long' put --vnode v1 "$W/x" "$comp"
	# A relative path: a usage error (2), or EINVAL from the store (1).
	lfs stat --vnode v1 etc/hostname
	case $FS_RC in
	2) ;;
	1) expect_fs_err 'Invalid argument' "relative path" ;;
	*) fail "stat of a relative path: exit status $FS_RC, expected 2 (usage) or 1 (EINVAL)" ;;
	esac
	lfs stat --vnode v1 /etc/../etc/hostname
	case $FS_RC in
	2) ;;
	1) expect_fs_err 'Invalid argument' "path with .." ;;
	*) fail "stat of /etc/../etc/hostname: exit status $FS_RC, expected 1 or 2" ;;
	esac
	fs_fails 'No such file or directory' cat --vnode v1 /no/such/file
	fs_fails_at 'No such file or directory' /missing get --vnode v1 /missing "$W/missing"
	[ ! -s "$W/missing" ] || fail "get of a missing file wrote $W/missing"
	fs_fails 'No such file or directory' put --vnode v1 "$W/x" /no-dir/x
	fs_fails 'Not a directory' put --vnode v1 "$W/x" /etc/hostname/x
	lfs cat --vnode nosuch /etc/hostname
	expect_fs 1 "an unknown vNode"
	expect_fs_err 'nosuch' "the error names the vNode"
	lfs frobnicate --vnode v1 /
	expect_fs 2 "an unknown fs command"
	lfs cat --vnode v1
	expect_fs 2 "cat without a path"
	lfs truncate --vnode v1 --size banana /work/log
	expect_fs 2 "truncate --size banana"
}

# Malformed storage requests, well framed as RPC, straight to s0: each must
# be answered with -EINVAL (or dropped), and s0 must keep serving.
malformed_case() {
	work
	rk exec --name "$R" -- env PYTHONPATH="$RACK_ROOT/tests/rack" /usr/bin/python3 - 198.18.3.1 <<'PY'
import os, socket, struct, sys, time
from rpcwire import csum, header
ip = sys.argv[1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 0))
s.settimeout(0.3)
epoch = int.from_bytes(os.urandom(4), 'little') | 1
def req(vnode=1, flags=0, off=0, ln=0, mode=0, plen=None, p2len=0, path=b'/etc/hostname', extra=b''):
    return struct.pack('<IIQQIHH', vnode, flags, off, ln, mode,
                       len(path) if plen is None else plen, p2len) + path + extra
STAT, READ, WRITE, RENAME, SETATTR = 0x0301, 0x0303, 0x0304, 0x0309, 0x030f
cases = [
    ('empty payload', STAT, b''),
    ('short header', STAT, req()[:20]),
    ('path_len past the end', STAT, req(plen=900)),
    ('path2_len past the end', RENAME, req(p2len=60)),
    ('path with a NUL', STAT, req(path=b'/etc\0/hostname')),
    ('relative path', STAT, req(path=b'etc/hostname')),
    ('path with ..', STAT, req(path=b'/etc/../etc/hostname')),
    ('trailing slash', STAT, req(path=b'/etc/')),
    ('vnode 0xffffffff', STAT, req(vnode=0xffffffff)),
    ('READ len too big', READ, req(ln=1 << 40)),
    ('WRITE len != data', WRITE, req(ln=100, extra=b'x' * 10)),
    ('SETATTR short attr', SETATTR, req(ln=24, extra=b'\1\0\0\0')),
]
bad = 0
for call, (name, op, payload) in enumerate(cases, 1):
    h = header(opcode=op, src=0, epoch=epoch, call=call, msg_len=len(payload), off=0,
               flen=len(payload), mcsum=csum(payload))
    status = None
    for attempt in range(5):
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
    ok = status is None or status == -22
    bad += not ok
    print('%-24s -> %s%s' % (name, 'no reply (dropped)' if status is None else 'status %d' % status,
                             '' if ok else '   <-- expected -22 (EINVAL)'))
sys.exit(1 if bad else 0)
PY
	expect_rk_rc 0 "every malformed request answered with EINVAL or dropped"
	# s0 still serves, and nothing changed.
	fs_ok cat --vnode v1 /work/log
	expect_text 'one\ntwo\n' "s0 still serves"
	fs_ok cat --vnode v1 /etc/hostname
	expect_text 'changed-in-v1\n'
	LOG=$RACK_DIR/$R/s0.log
	expect_no_panic
	LOG=/dev/null
}

persistence_case() {
	work
	local p=$W/persist.bin old new end
	random_file "$p" $((1024 * 1024 + 7))
	fs_ok put --vnode v1 "$p" /persist.bin
	fs_ok sync --vnode v1
	old=$(node_field s0 5)
	rk kill --name "$R" s0
	expect_rk_rc 0
	rk restart --name "$R" s0 --timeout "$UP_TIMEOUT"
	expect_rk_rc 0 "restart of s0 with its disk"
	[ "$RK_RC" -eq 0 ] || return
	new=$(node_field s0 5)
	[ -n "$new" ] && [ "$new" != "$old" ] || fail "s0 re-registered with id '$new' (was $old)"
	# The managers know the new incarnation; legoctl fs finds it by name.
	end=$(($(now_ms) + 15000))
	while :; do
		lfs get --vnode v1 /persist.bin "$W/persist.back"
		[ "$FS_RC" -ne 0 ] && [ "$(now_ms)" -lt "$end" ] || break
		sleep 0.5
	done
	expect_fs 0 "get after the restart"
	cmp -s -- "$p" "$W/persist.back" || fail "/persist.bin differs after kill and restart"
	fs_ok cat --vnode v1 /work/log
	expect_text 'one\ntwo\n' "earlier synced files survive too"
	fs_ok cat --vnode v2 /only-v2
	expect_text 'v2 only\n' "v2's namespace survives"
	fs_ok cat --vnode v2 /etc/hostname
	expect_text 'legoos\n'
	LOG=$RACK_DIR/$R/s0.log
	expect_no_line 'storage: cannot mount' "the disk mounts again"
	LOG=/dev/null
}

down_case() {
	work
	rk down --name "$R"
	expect_rk_rc 0
	expect_clean "$R"
	# down kills QEMU: the image may hold a committed journal, which the
	# checker replays in memory; the store must be consistent.
	"$MKLEGOFS" --check "$RACK_DIR/$R/s0.img" > "$W/check" 2>&1 ||
		fail "s0's disk after the run: $(cat "$W/check")"
}

# ---- a full disk ----

full_case() {
	work
	local disk=16
	"$RACK" down --name "$RFULL" > /dev/null 2>&1 || true
	rk up --name "$RFULL" --processor 0 --memory 0 --storage 1 --storage-disk "$disk" --timeout "$UP_TIMEOUT"
	expect_rk_rc 0 "up with a ${disk} MiB disk"
	if [ "$RK_RC" -eq 0 ]; then
		full_checks "$disk"
	fi
	keep_logs "$RFULL"
	rk down --name "$RFULL"
	expect_clean "$RFULL"
}

full_checks() {
	local disk=$1
	lc --rack "$RFULL" vnode create v
	expect_fs 0 "vnode create"
	random_file "$W/a" 100000
	random_file "$W/b" 200000
	random_file "$W/huge" $(((disk + 4) * 1024 * 1024))
	lfs --rack "$RFULL" put --vnode v "$W/a" /a
	expect_fs 0
	lfs --rack "$RFULL" sync --vnode v
	lfs --rack "$RFULL" put --vnode v "$W/huge" /huge
	expect_fs 1 "put of $((disk + 4)) MiB on a $disk MiB disk"
	expect_fs_err '^legoctl: fs put: /huge: No space left on device'
	lfs --rack "$RFULL" df --vnode v
	expect_fs 0 "df on a full disk"
	# Whatever part of /huge was written goes again.
	lfs --rack "$RFULL" rm --vnode v /huge
	[ "$FS_RC" -eq 0 ] || grep -q 'No such file or directory' <<< "$FS_ERR" ||
		fail "rm /huge: exit status $FS_RC"
	lfs --rack "$RFULL" sync --vnode v
	expect_fs 0
	lfs --rack "$RFULL" put --vnode v "$W/b" /b
	expect_fs 0 "a small put after the full disk was cleared"
	lfs --rack "$RFULL" get --vnode v /b "$W/b.back"
	expect_fs 0
	cmp -s -- "$W/b" "$W/b.back" || fail "/b differs"
	lfs --rack "$RFULL" get --vnode v /a "$W/a.back"
	expect_fs 0
	cmp -s -- "$W/a" "$W/a.back" || fail "/a, written before the disk filled, differs"
	lfs --rack "$RFULL" cat --vnode v /bin/busybox
	expect_fs 0
	expect_bytes /bin/busybox "the base files are intact"
	LOG=$RACK_DIR/$RFULL/s0.log
	expect_no_panic
	LOG=/dev/null
}

# ---- a corrupt image ----

corrupt_case() {
	work
	local img=$W/corrupt.img
	"$MKLEGOFS" --size 64M --all-root "$img" "$VROOT" > /dev/null ||
		{ fail "mklegofs could not make the image"; return; }
	dd if=/dev/urandom of="$img" bs=4096 count=1 conv=notrunc status=none
	"$RACK" down --name "$RBAD" > /dev/null 2>&1 || true
	rk up --name "$RBAD" --processor 0 --memory 0 --storage 1 --storage-image "$img" --timeout "$UP_TIMEOUT"
	expect_rk_rc 0 "up with a corrupt image (the node comes up, unhealthy)"
	if [ "$RK_RC" -eq 0 ]; then
		corrupt_checks
	fi
	keep_logs "$RBAD"
	rk down --name "$RBAD"
	expect_clean "$RBAD"
}

corrupt_checks() {
	local reason row
	LOG=$W/s0.log
	wait_log "$RBAD" s0 'storage: cannot mount vda: ' 5000 || true
	tr -d '\r' < "$RACK_DIR/$RBAD/s0.log" > "$LOG"
	expect_line 'storage: cannot mount vda: .{4,}' "mount refused with a reason"
	expect_no_panic
	reason=$(sed -n 's/.*storage: cannot mount vda: //p' "$LOG" | head -n 1)
	echo "mount refused: $reason"
	wait_log "$RBAD" s0 'gm: registered with' 5000 || fail "s0 did not register"
	LOG=/dev/null
	lc --rack "$RBAD" nodes
	expect_fs 0
	row=$(grep -E '^[0-9]+ +s0 ' <<< "$FS_OUT" | tail -n 1)
	[ -n "$row" ] || fail "legoctl nodes does not list s0"
	grep -qi 'unhealthy' <<< "$row" || fail "legoctl nodes does not show s0 unhealthy: '$row'"
	lc --rack "$RBAD" vnode create v1
	expect_fs 1 "vnode create without a usable store"
	expect_fs_err '^legoctl: vnode create v1: .{8,}' "a clear error"
	lfs --rack "$RBAD" df --node s0
	[ -n "$reason" ] && { grep -qF -- "$reason" <<< "$FS_OUT$FS_ERR" || fail "fs df --node s0 does not show '$reason'"; }
	lfs --rack "$RBAD" ls --node s0 --base /
	expect_fs 1 "ls on an unmounted store"
	expect_fs_err 'Input/output error' "EIO"
}

trap '"$RACK" down --name "$R" > /dev/null 2>&1 || true
	"$RACK" down --name "$RFULL" > /dev/null 2>&1 || true
	"$RACK" down --name "$RBAD" > /dev/null 2>&1 || true' EXIT

add_case up with_logs "$R" up_case
add_case default-image with_logs "$R" default_image_case
add_case file-operations with_logs "$R" ops_case
add_case vnode-isolation with_logs "$R" isolation_case
add_case bad-input with_logs "$R" bad_input_case
add_case malformed-requests with_logs "$R" malformed_case
add_case persistence-kill-restart with_logs "$R" persistence_case
add_case down with_logs "$R" down_case
add_case disk-full full_case
add_case corrupt-image corrupt_case
run_cases
