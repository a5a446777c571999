#!/usr/bin/env bash
# Debian's static busybox in vNodes, differentially: every check runs one
# `/bin/sh -c SCRIPT` in a vNode through `legoctl run` and the same SCRIPT
# with the same busybox binary on this host, chrooted into a copy of the
# vNode base root (build/vnode-root/, whose /bin/busybox is this host's
# /bin/busybox: the up case checks the hashes), and compares the stdout
# bytes and the exit status. One host root per vNode mirrors that vNode's
# files, so state carried from run to run is compared too. Covered:
#
#   * text tools: echo, cat, wc, sort, uniq, head, tail, grep, sed, awk,
#     cut, tr, seq, expr, test, printf, od;
#   * files: mkdir, rmdir, cp, mv, rm, ln -s, readlink, touch, stat -c,
#     ls (-l with the columns a file system may choose left out), find,
#     xargs, sha256sum, md5sum, cmp, date (formats of fixed times);
#   * the shell: pipelines, redirections (>, >>, <, 2>&1, exec N>), here
#     documents, subshells, command substitution, loops, arithmetic, $?,
#     functions, an EXIT trap; exit statuses of children;
#   * tar c/x and gzip/gunzip round trips;
#   * files made in one run are there in the next run of the same vNode and
#     not in another vNode;
#   * SIGPIPE: `yes | head -1` ends, the writer's status is 128+13;
#   * close-on-exec across execve (tests/user/cloexec.c, glibc and musl);
#   * EINTR: SIGALRM interrupting a blocked pipe read and nanosleep, a read
#     restarted under SA_RESTART (tests/user/eintr.c, glibc and musl);
#   * the `read` builtin (poll) on files and pipes;
#   * traps on signals, background jobs, wait (and wait interrupted by a
#     trapped signal), kill, timeout.
#
# Cases run one at a time and share the rack t89-<tag> (1 processor,
# 1 memory, 1 storage node, the global managers, vNodes v1 and v2); each
# keeps the vNode and host outputs in build/test-results/rack/89-busybox/
# <case>.work/ and copies the rack's serial logs there.
. "$(dirname -- "$0")/lib.sh"
. "$(dirname -- "$0")/racklib.sh"
JOBS=1

R=t89-$SFX
LEGOCTL=$RACK_ROOT/build/gm/legoctl
VROOT=$RACK_ROOT/build/vnode-root
# The host's mirrors of the vNodes' files: $HROOT-v1, $HROOT-v2.
HROOT=$OUT/root
LC_TIMEOUT=120
UP_TIMEOUT=90

for f in "$LEGOCTL" "$RACK_ROOT/build/legoos-processor.iso" "$RACK_ROOT/build/legoos-memory.iso" \
	"$RACK_ROOT/build/legoos-storage.iso" "$VROOT/bin/busybox" "$VROOT/tests/musl/cloexec" \
	/bin/busybox; do
	[ -e "$f" ] || { echo "not ok 1 - build # $f missing: run make (and scripts/setup)"; exit 1; }
done

# ---- helpers (inside a case) ----

work() { W=$OUT/$CASE.work; mkdir -p -- "$W"; N=0; }

lc() {
	timeout -k 5 60 ip netns exec "lego-$R" env LEGO_GM=198.18.0.1 \
		LEGO_NODES="$RACK_DIR/$R/nodes" "$LEGOCTL" "$@"
}

# bb VNODE [--timeout SEC]: run the shell script on stdin as
# `/bin/sh -c SCRIPT` in VNODE and in the host's mirror of VNODE; the
# stdouts (exact bytes) and exit statuses must be equal. Sets VN_RC,
# VN_OUT (the vNode's stdout) and HOST_RC; the files are $W/<n>.{sh,vn,
# vn.err,host,host.err}.
bb() {
	local v=$1 t=$LC_TIMEOUT cmd f t0
	[ "${2:-}" != --timeout ] || t=$3
	cmd=$(cat)
	N=$((N + 1))
	f=$W/$N-$v
	printf '%s\n' "$cmd" > "$f.sh"
	VN_RC=0
	t0=$(now_ms)
	timeout -k 5 "$t" ip netns exec "lego-$R" env -u TERM LEGO_GM=198.18.0.1 \
		LEGO_NODES="$RACK_DIR/$R/nodes" "$LEGOCTL" run --vnode "$v" -- /bin/sh -c "$cmd" \
		< /dev/null > "$f.vn" 2> "$f.vn.err" || VN_RC=$?
	echo "\$ [$v] sh -c <$f.sh> -> exit status $VN_RC ($(($(now_ms) - t0)) ms)"
	sed 's/^/  > /' -- "$f.sh" | head -n 40
	[ "$VN_RC" -ne 124 ] || echo "  (killed after ${t}s)"
	head -n 40 -- "$f.vn" | cut -c1-200 | sed 's/^/  | /'
	head -n 12 -- "$f.vn.err" | cut -c1-200 | sed 's/^/  ! /'
	HOST_RC=0
	(umask 022 && cd / && timeout -k 5 60 env -i PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/ \
		chroot "$HROOT-$v" /bin/sh -c "$cmd") < /dev/null > "$f.host" 2> "$f.host.err" ||
		HOST_RC=$?
	VN_OUT=$(cat -- "$f.vn")
	[ "$VN_RC" -eq "$HOST_RC" ] ||
		fail "[$v] script $N: exit status $VN_RC in the vNode, $HOST_RC on the host"
	if ! cmp -s -- "$f.host" "$f.vn"; then
		fail "[$v] script $N: stdout differs from the host's (diff host vNode):"
		diff -a -- "$f.host" "$f.vn" | head -n 30 | sed 's/^/  /'
	fi
}

# expect_vn REGEX: the vNode's stdout of the last bb has a line matching.
expect_vn() { grep -Eq -- "$1" <<< "$VN_OUT" || fail "no vNode output line matching /$1/${2:+ ($2)}"; }

with_logs() {
	"$@"
	keep_logs "$R"
}

# no_panic: no node panicked; lists the syscalls the processor lacked.
no_panic() {
	local n
	for n in p0 m0 s0; do
		LOG=$RACK_DIR/$R/$n.log
		expect_no_panic
	done
	LOG=/dev/null
	grep -a 'not implemented' "$RACK_DIR/$R/p0.log" | sed 's/^/p0: /' || true
}

# ---- cases ----

# host_root V: the host's mirror of vNode V: the base root, with the
# host's own busybox and the two devices the shell and the tests open.
host_root() {
	local d=$HROOT-$1
	mkdir -p -- "$d"
	cp -a -- "$VROOT/." "$d/"
	cp -- /bin/busybox "$d/bin/busybox"
	mkdir -p -- "$d/dev"
	mknod -m 666 "$d/dev/null" c 1 3
	mknod -m 666 "$d/dev/zero" c 1 5
}

up_case() {
	work
	local a b
	a=$(sha256sum < "$VROOT/bin/busybox" | cut -d' ' -f1)
	b=$(sha256sum < /bin/busybox | cut -d' ' -f1)
	echo "busybox sha256: vNode root $a, host $b"
	[ "$a" = "$b" ] || fail "build/vnode-root/bin/busybox is not this host's /bin/busybox"
	host_root v1
	host_root v2
	"$RACK" down --name "$R" > /dev/null 2>&1 || true
	rk up --name "$R" --processor 1 --memory 1 --storage 1 --timeout "$UP_TIMEOUT"
	expect_rk_rc 0 "up with 1 processor, 1 memory and 1 storage node"
	[ "$RK_RC" -eq 0 ] || return
	lc vnode create v1 || fail "vnode create v1"
	lc vnode create v2 || fail "vnode create v2"
}

text_case() {
	work
	bb v1 <<'EOF'
mkdir -p /tmp/text && cd /tmp/text || exit 9
echo plain; echo -n no-newline; echo; echo -e 'tab\there'; echo "$HOME" "$PATH"
printf 'pear 3\napple 10\nfig 7\napple 10\nkiwi 1\n' > fruit
cat fruit; cat -n fruit | head -2
wc fruit; wc -l < fruit; wc -c fruit
sort fruit; sort -r fruit; sort -k2 -n fruit; sort -u fruit
sort fruit | uniq; sort fruit | uniq -c; sort fruit | uniq -d
head -n 2 fruit; head -c 7 fruit; echo; tail -n 2 fruit; tail -c 6 fruit; tail -n +4 fruit
grep apple fruit; grep -c apple fruit; grep -v apple fruit; grep -n -E '^(fig|kiwi)' fruit
grep -i APPLE fruit | head -1; grep nothing fruit; echo "grep=$?"
sed 's/apple/APPLE/' fruit; sed -n '2,3p' fruit; sed '/kiwi/d' fruit; sed -e '1i\' -e top fruit | head -2
awk '{ s += $2 } END { print "sum", s, NR }' fruit
awk -F' ' '$2 > 5 { print $1 }' fruit
awk 'BEGIN { for (i = 1; i <= 3; i++) printf "%d:%d ", i, i * i; print "" }'
awk '{ n[$1]++ } END { for (k in n) print k, n[k] }' fruit | sort
echo a:b:c:d | cut -d: -f2,4; echo abcdef | cut -c2-4; cut -d' ' -f1 fruit
echo Hello World | tr a-z A-Z; echo hello | tr -d l; echo aaabbb | tr -s ab; echo a-b | tr - _
seq 3; seq 2 2 9; seq -s, 5; seq 10 -3 1
expr 6 \* 7; expr 7 / 2; expr length hello; expr 3 \< 5; expr abc : 'a\(.\)'
test 3 -gt 2 && echo gt; test -z "" && echo empty; [ abc = abc ] && echo eq
test 1 -eq 2; echo "test=$?"; [ -f fruit ] && [ ! -d fruit ] && echo file
printf '%s|%5d|%-4s|%x|%o|%c|%.2f\n' str 42 ab 255 8 xyz 3.14159
printf '%s\n' one two three; printf 'no newline'; printf '\n%%\n'
echo abc | od -An -c
EOF
	no_panic
}

files_case() {
	work
	bb v1 <<'EOF'
mkdir -p /tmp/files && cd /tmp/files || exit 9
mkdir a; mkdir -p a/b/c a/d; mkdir a 2>&1; echo "mkdir=$?"
echo one > a/one; echo two > a/b/two; printf '' > a/d/empty
find a | sort; find a -type f | sort; find a -type d -name c; find a -name '*o' | sort
find a -type f | sort | xargs cat; find a -type f | sort | xargs -n 1 echo f:
echo 1 2 3 4 | xargs -n 2 echo pair
cp a/one a/copy; cat a/copy; cp -r a a2; find a2 | sort
mv a/copy a/moved; ls a; mv a2 a3; ls -d a*
rm a/moved; ls a; rm -r a3; ls -d a*; rm nothere 2>&1; echo "rm=$?"
rmdir a/b/c; ls a/b; rmdir a/b 2>&1; echo "rmdir=$?"
ln -s one a/link; readlink a/link; cat a/link; test -L a/link && echo symlink
ln -s /tmp/files/a/b/two abs; cat abs; ls -l abs | sed 's/.* abs/abs/'
touch new; test -f new && echo touched; touch -d @1000000000 new; stat -c %Y new
touch -d '2001-02-03 04:05:06' a/one; date -r a/one '+%F %T'
stat -c '%n %s %a %F %h %U %G' a/one a/d/empty a/link new
stat -c '%n %a %F %h' a a/d
ls; ls a; ls -a a; ls -1 a; ls -F a; ls -R a
ls -l a/one a/d/empty a/link | awk '{ print $1, $2, $3, $4, $5, $9, $10, $11 }'
ls -ld a | awk '{ print $1, $2, $3, $4 }'
sha256sum a/one a/b/two; md5sum a/one; echo one | sha256sum; echo one | md5sum
sha256sum a/one > sums; sha256sum -c sums
cmp a/one a/b/two; echo "cmp=$?"
date -d @0 +%Y; date -u -d @1234567890 '+%Y-%m-%d %H:%M:%S %a %j'; date -u -d '2020-02-29 12:00' +%s
seq 1 200000 > big; wc -c big; md5sum big; cat big | sha256sum; tail -n 1 big; cp big big2 && cmp big big2 && echo big copy
find a -type f -print0 | xargs -0 ls | sort; find . -name big -size +1000k; find a -newer a/one -type f | sort
basename /x/y/file.c .c; dirname /x/y/file.c; realpath a/link
echo teed | tee t1 | tr a-z A-Z; cat t1; head -c 8 /dev/zero | od -An -tx1; echo gone > /dev/null
EOF
	no_panic
}

shell_case() {
	work
	bb v1 <<'EOF'
mkdir -p /tmp/shell && cd /tmp/shell || exit 9
trap 'echo exit trap ran' EXIT
seq 1 20 | grep 1 | sort -r | head -3 | tr '\n' ' '; echo
echo first > out; echo second >> out; cat out; wc -l < out
cat < out > copy; cat copy
ls nothere 2> err; echo "ls=$?"; wc -l < err
(echo to-stdout; echo to-stderr >&2) 2>&1 | sort
(echo to-stdout; echo to-stderr >&2) > both 2>&1; sort both
exec 4> fd4; echo via-fd4 >&4; exec 4>&-; cat fd4
exec 5< out; cat <&5; exec 5<&-
cat <<END
here $HOME
END
cat <<'END' | wc -c
literal $HOME
END
(cd /; pwd); pwd; (x=inner; echo "$x"); echo "x=${x-unset}"
(exit 3); echo "sub=$?"; { echo g1; echo g2; } | wc -l
v=$(echo sub | tr a-z A-Z); echo "$v"; echo "n=$(seq 5 | wc -l)" "`echo back`"
echo "nested $(echo "$(echo deep)")"
for i in a b c; do echo "for $i"; done
i=0; while [ $i -lt 5 ]; do i=$((i + 1)); done; echo "while $i"
until [ $i -eq 0 ]; do i=$((i - 2)); [ $i -lt 0 ] && break; done; echo "until $i"
for f in out copy nope; do [ -e $f ] || continue; echo "have $f"; done
case abc in a*) echo case-a ;; *) echo case-other ;; esac
f() { echo "fn $1 $#"; return 4; }; f x y; echo "fn=$?"
false; echo "false=$?"; true; echo "true=$?"; ! true; echo "not=$?"
sh -c 'exit 7'; echo "sh=$?"; /bin/sh -c 'kill -9 $$'; echo "kill=$?"
false | true; echo "pipe=$?"; true && echo and; false || echo or
echo $((3 * (4 + 5) % 7)) $((1 << 10)) $((-7 / 2))
set -- p q r; echo "$# $2 $*"; shift; echo "$1"
a=hello; echo "${#a} ${a%lo} ${a#he} ${a:-x} ${unset:-dflt}"
nosuchcommand 2> /dev/null; echo "missing=$?"
/etc/hostname 2> /dev/null; echo "noexec=$?"
exit 5
EOF
	no_panic
}

archive_case() {
	work
	bb v1 <<'EOF'
mkdir -p /tmp/arch && cd /tmp/arch || exit 9
mkdir -p src/sub; seq 1 5000 > src/nums; echo small > src/sub/s; ln -s nums src/lnk
tar cf a.tar src && mkdir x && tar xf a.tar -C x && echo extracted
cmp src/nums x/src/nums && cmp src/sub/s x/src/sub/s && readlink x/src/lnk
tar tf a.tar | sort; tar tvf a.tar | awk '{ print $1, $2 }' | sort | uniq -c
(cd x && find . | sort); sha256sum x/src/nums src/nums | cut -d' ' -f1 | uniq | wc -l
tar czf a.tgz src && mkdir y && (cd y && tar xzf ../a.tgz) && cmp src/nums y/src/nums && echo tgz ok
gzip -c src/nums > n.gz; gunzip -c n.gz | md5sum; md5sum < src/nums
cp src/nums n2; gzip n2; ls n2*; gzip -t n2.gz && echo gz-test ok; gunzip n2.gz; ls n2*; cmp n2 src/nums && echo round trip
gzip -9 -c src/nums | gzip -d | wc -l; zcat n.gz | tail -1
seq 1 3 | gzip | gunzip
EOF
	no_panic
}

# Files of one run are in the vNode's file system for its next runs, and
# another vNode does not see them.
persist_case() {
	work
	bb v1 <<'EOF'
mkdir -p /tmp/keep && echo "made in run 1" > /tmp/keep/f && seq 100 > /tmp/keep/n && ls /tmp/keep
EOF
	bb v1 <<'EOF'
cat /tmp/keep/f && echo "appended in run 2" >> /tmp/keep/f && md5sum /tmp/keep/n && ls /tmp/keep
EOF
	expect_vn '^made in run 1$' "run 2 reads the file of run 1"
	bb v1 <<'EOF'
cat /tmp/keep/f; rm /tmp/keep/n; ls /tmp/keep
EOF
	expect_vn '^appended in run 2$' "run 3 reads the append of run 2"
	bb v2 <<'EOF'
ls -a /tmp; test -e /tmp/keep/f; echo "exists=$?"; cat /tmp/keep/f 2>&1
EOF
	expect_vn '^exists=1$' "v2 does not see v1's files"
	bb v2 <<'EOF'
mkdir -p /tmp/keep && echo "v2 own" > /tmp/keep/f
EOF
	bb v1 <<'EOF'
cat /tmp/keep/f
EOF
	expect_vn '^made in run 1$' "v1's file is not changed by v2"
	no_panic
}

# SIGPIPE: the writer of a pipe whose reader is gone dies of it.
sigpipe_case() {
	work
	bb v1 --timeout 60 <<'EOF'
yes | head -1; echo "status=$?"
(yes; echo "yes=$?" > /tmp/yes.st) | head -2; cat /tmp/yes.st
seq 1 1000000 | head -n 1
yes abc | head -c 100000 | wc -c
(while :; do echo loop; done) | head -n 1
EOF
	expect_vn '^yes=141$' "yes ended by SIGPIPE"
	no_panic
}

# Signals the shell traps, background jobs, wait (also interrupted by a
# trapped signal: status 128+N, then the trap runs), kill, timeout.
jobs_case() {
	work
	bb v1 --timeout 60 <<'EOF'
trap 'echo got INT' INT; kill -INT $$; echo "after=$?"
trap 'echo got USR1' USR1; kill -USR1 $$; trap - INT; trap
sh -c 'trap "echo child TERM; exit 3" TERM; kill -TERM $$; echo notreached'; echo "child=$?"
sh -c 'kill -9 $$'; echo "kill9=$?"; sh -c 'kill -TERM $$'; echo "term=$?"
sleep 1 & echo started; wait; echo "wait=$?"
(exit 5) & wait $!; echo "job=$?"
(sleep 1; echo one) & (echo two) & wait; echo "both=$?"
sleep 5 & p=$!; kill $p; wait $p; echo "killed=$?"
sleep 5 & p=$!; (sleep 1; kill -USR1 $$) & wait $p; echo "interrupted=$?"; kill $p; wait
timeout 1 sleep 5; echo "timeout=$?"
EOF
	expect_vn '^interrupted=138$' "wait interrupted by a trapped SIGUSR1"
	expect_vn '^got USR1$' "the USR1 trap ran"
	no_panic
}

# close-on-exec across execve, the program's own output compared; and
# from the shell's children (busybox marks its saved fds close-on-exec).
cloexec_case() {
	work
	bb v1 <<'EOF'
/tests/musl/cloexec; echo "musl=$?"; /tests/glibc/cloexec; echo "glibc=$?"
/tests/musl/eintr; echo "eintr-musl=$?"; /tests/glibc/eintr; echo "eintr-glibc=$?"
read e < /etc/hostname; echo "read=$e"; printf 'a\nb\n' | while read l; do echo "l=$l"; done
EOF
	expect_vn '^musl=0$' "musl cloexec"
	expect_vn '^glibc=0$' "glibc cloexec"
	expect_vn '^eintr-musl=0$' "musl eintr"
	expect_vn '^eintr-glibc=0$' "glibc eintr"
	expect_vn '^read=legoos$' "the read builtin"
	expect_vn '^l=b$' "read in a pipeline"
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
add_case text-tools with_logs text_case
add_case files-dirs with_logs files_case
add_case shell with_logs shell_case
add_case tar-gzip with_logs archive_case
add_case persistence-v1-v2 with_logs persist_case
add_case sigpipe with_logs sigpipe_case
add_case cloexec with_logs cloexec_case
add_case signals-jobs with_logs jobs_case
add_case down with_logs down_case
run_cases
