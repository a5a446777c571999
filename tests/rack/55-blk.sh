#!/usr/bin/env bash
# Block devices: the block layer and the virtio-blk driver.
#
# Each case boots a storage node with lego.test=selftest,poweroff and
# scratch raw disk images created here (truncate: sparse, all zero), and
# checks the PCI and driver lines and the self-tests blkdev-layer (the
# layer against a memory device) and blkdev (every registered disk). The
# blkdev self-test writes anywhere on a writable disk, which is why it only
# ever sees these scratch images. Afterwards the image files are read from
# the host: the sectors the self-test says it wrote must hold its
# documented pattern (drivers/blkdev_selftest.c): "LEGO-BLK-SELFTEST
# <sector>\n", then bytes (sector * 131 + i * 7) & 0xff up to offset 511,
# and a read-only disk must still be all zero.
. "$(dirname -- "$0")/lib.sh"

PCI_ADDR='[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]'
IRQ_RE='irq (INTx gsi [0-9]+|MSI|MSI-X) vector [0-9]+'
DISK_MB=64

# blk_boot [-M MACHINE] DEVICE_OPTS...: boot with one scratch disk per
# argument; each is "IMAGE_NAME:DRIVE_EXTRA:DEVICE_EXTRA" (extras may be
# empty, each starting with a comma when not).
blk_boot() {
	local qemu=() spec name dext vext i=0
	if [ "${1:-}" = -M ]; then
		qemu+=(-M "$2")
		shift 2
	fi
	for spec in "$@"; do
		IFS=: read -r name dext vext <<< "$spec"
		rm -f -- "$OUT/$CASE-$name.img"
		truncate -s "${DISK_MB}M" -- "$OUT/$CASE-$name.img"
		qemu+=(-drive "file=$OUT/$CASE-$name.img,if=none,format=raw,id=d$i$dext"
		       -device "virtio-blk-pci,drive=d$i$vext")
		i=$((i + 1))
	done
	boot --personality storage --smp 2 --mem 512 --cmdline "lego.test=selftest,poweroff" \
		--fail-on "$PANIC_RE" -- "${qemu[@]}"
	expect_rc 0 "ACPI poweroff after the self-tests"
	expect_no_panic
	expect_ready storage
	expect_no_line 'selftest: .* FAILED' "failed self-test"
	expect_line 'selftest: blkdev-layer ok' "block layer self-test passed"
}

# expect_disk ID NAME [EXTRA_RE]: PCI line of vendor:device ID bound to
# virtio-blk, and the driver's line for disk NAME of DISK_MB MiB with an
# interrupt (EXTRA_RE: what comes between the size and ", irq").
expect_disk() {
	local id=$1 name=$2 extra=${3:-', flush'}
	expect_line "pci: $PCI_ADDR $id class 01\.00 virtio-blk\$" "PCI line of $id"
	expect_line "virtio-blk: $PCI_ADDR $name $DISK_MB MiB \($((DISK_MB * 2048)) sectors\)$extra, $IRQ_RE, [0-9]+ descriptors" \
		"virtio-blk line of $name"
}

# expect_written NAME IMAGE: the self-test reports its ranges on NAME, and
# IMAGE holds the pattern in every one of them.
expect_written() {
	local name=$1 img=$2 line out
	expect_line 'selftest: blkdev ok' "blkdev self-test passed"
	line=$(grep -E -m1 "blkdev-selftest: $name: wrote, flushed and read back sectors " "$LOG" || true)
	if [ -z "$line" ]; then
		fail "no 'blkdev-selftest: $name: wrote, flushed and read back sectors ...' line"
		return
	fi
	echo "self-test: ${line#*blkdev-selftest: }"
	if ! out=$(python3 - "$img" "$line" 2>&1 <<'EOF'
import re, sys
img, line = sys.argv[1], sys.argv[2]
ranges = [(int(a), int(n)) for a, n in re.findall(r'(\d+)\+(\d+)', line.split('sectors ', 1)[1])]
# The documented ranges must all be there, the last one ending at the end.
starts = {a for a, _ in ranges}
with open(img, 'rb') as f:
    data = f.read()
size = len(data) // 512
need = {0, 1000, 2048, 4096, 8192}
if not need <= starts:
    sys.exit('ranges %s lack %s' % (ranges, sorted(need - starts)))
if max(a + n for a, n in ranges) != size:
    sys.exit('no range ends at the last sector (%d sectors): %s' % (size, ranges))
checked = 0
for a, n in ranges:
    for s in range(a, a + n):
        h = b'LEGO-BLK-SELFTEST %d\n' % s
        want = h + bytes((s * 131 + i * 7) & 0xff for i in range(len(h), 512))
        got = data[s * 512:(s + 1) * 512]
        if got != want:
            sys.exit('sector %d (byte offset %d) does not hold the pattern: %r' % (s, s * 512, got[:40]))
        checked += 1
# Nothing outside the ranges: the image was all zero before the boot.
inside = bytearray(size)
for a, n in ranges:
    inside[a:a + n] = b'\1' * n
for s in range(size):
    if not inside[s] and any(data[s * 512:(s + 1) * 512]):
        sys.exit('sector %d, outside the ranges the self-test reports, was written' % s)
print('%d sectors checked in %d ranges of %s' % (checked, len(ranges), img))
EOF
	); then
		fail "image check: $out"
	else
		echo "host: $out"
	fi
}

# expect_zero IMAGE: nothing was written to IMAGE.
expect_zero() {
	if ! cmp -s -n $((DISK_MB << 20)) -- "$1" /dev/zero; then
		fail "read-only image $1 was written to"
	fi
}

default_case() {
	# -device virtio-blk-pci is transitional (1af4:1001) by default on
	# q35's root bus; the driver uses its modern interface.
	blk_boot a::
	expect_disk 1af4:1001 vda
	expect_line "virtio-blk: $PCI_ADDR vda .*, irq MSI-X vector" "MSI-X"
	expect_written vda "$OUT/$CASE-a.img"
}

modern_4k_case() {
	# Modern-only (1af4:1042) with 4 KiB logical blocks, the storage
	# monitor's block size: every request a multiple of 8 sectors.
	blk_boot a::,disable-legacy=on,logical_block_size=4096,physical_block_size=4096
	expect_disk 1af4:1042 vda ', flush, 4096-byte blocks'
	expect_line 'blkdev-selftest: vda: wrote, flushed and read back sectors 0\+8, 1000\+8, ' "8-sector blocks"
	expect_written vda "$OUT/$CASE-a.img"
}

intx_small_ring_case() {
	# No MSI-X (INTx found by probing, ISR register) and a 16-descriptor
	# ring: 5 requests fit, the rest wait in the block layer's queue.
	blk_boot a::,vectors=0,queue-size=16
	expect_disk 1af4:1001 vda
	expect_line "virtio-blk: $PCI_ADDR vda .*, irq INTx gsi [0-9]+ vector [0-9]+, 16 descriptors" "INTx, 16 descriptors"
	expect_line 'blkdev-selftest: vda: .*at most 5 writes and 5 reads in flight, [1-9][0-9]* busy' \
		"ring full: requests queued in the layer"
	expect_written vda "$OUT/$CASE-a.img"
}

readonly_case() {
	blk_boot a:,readonly=on:
	expect_disk 1af4:1001 vda ', flush, read-only'
	expect_line 'blkdev-selftest: vda: read-only: write -> -EROFS, reads ok' "-EROFS on write"
	expect_line 'selftest: blkdev ok' "blkdev self-test passed"
	expect_zero "$OUT/$CASE-a.img"
}

pc_two_disks_case() {
	# i440FX: legacy configuration ports, INTx on ISA pins, and two disks
	# (one read-only); both are registered and tested.
	blk_boot -M pc a::,vectors=0 b:,readonly=on:,vectors=0
	expect_disk 1af4:1001 vda
	expect_disk 1af4:1001 vdb ', flush, read-only'
	expect_line "virtio-blk: $PCI_ADDR vda .*, irq INTx gsi (5|9|10|11) " "vda on an ISA pin"
	expect_line 'blkdev-selftest: vdb: read-only: write -> -EROFS, reads ok' "-EROFS on vdb"
	expect_written vda "$OUT/$CASE-a.img"
	expect_zero "$OUT/$CASE-b.img"
}

no_disk_case() {
	blk_boot
	expect_no_line 'virtio-blk: ' "no virtio-blk line"
	expect_line 'selftest: blkdev skipped: no block device' "blkdev skipped"
}

add_case virtio-blk default_case
add_case virtio-blk-modern-4k modern_4k_case
add_case virtio-blk-intx-small-ring intx_small_ring_case
add_case virtio-blk-readonly readonly_case
add_case pc-two-disks pc_two_disks_case
add_case no-disk no_disk_case
run_cases
