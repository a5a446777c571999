#!/usr/bin/env bash
# NIC drivers (PCI, e1000, virtio-net) against QEMU's user-mode network,
# whose gateway 10.0.2.2 answers ARP.
#
# Each case boots with lego.test=selftest,poweroff and checks the PCI line of
# the NIC, the driver's line (MAC, link up, interrupt) and the self-test
# netdev-arp (ARP request and reply, by interrupt and by polling).
#
# The network stack attaches itself to the first NIC (eth0) before the
# self-tests run, and netdev-arp leaves a device the stack owns alone. So a
# case that wants a model tested gives the node two NICs, the tested model
# second (eth1): the driver is the same for both, and eth0 still shows that
# the first instance came up. Each NIC has its own user-mode network.
. "$(dirname -- "$0")/lib.sh"

PCI_ADDR='[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]'
MAC_RE='52:54:00:12:34:5[0-9a-f]'

# nic_boot PERSONALITY DEVICE...: boot with one user-mode network per device
# (each DEVICE is a -device value without netdev=). MACHINE=pc in the
# environment boots the i440FX machine instead of q35.
nic_boot() {
	local p=$1 i=0 dev
	shift
	local qemu=()
	[ -z "${MACHINE:-}" ] || qemu+=(-M "$MACHINE")
	for dev in "$@"; do
		qemu+=(-netdev "user,id=n$i" -device "$dev,netdev=n$i")
		i=$((i + 1))
	done
	boot --personality "$p" --smp 2 --mem 512 --cmdline "lego.test=selftest,poweroff" \
		--fail-on "$PANIC_RE" -- "${qemu[@]}"
	expect_rc 0 "ACPI poweroff after the self-tests"
	expect_no_panic
	expect_ready "$p"
	expect_no_line 'selftest: .* FAILED' "failed self-test"
}

# expect_nic ID DRIVER: a PCI line for vendor:device ID bound to DRIVER,
# and DRIVER's line reporting a MAC with the link up and an interrupt.
expect_nic() {
	local id=$1 drv=$2
	expect_line "pci: $PCI_ADDR $id class 02\.00 $drv\$" "PCI line of $id"
	expect_line "$drv: $PCI_ADDR mac $MAC_RE link up \(eth[0-9], irq (INTx gsi [0-9]+|MSI|MSI-X) vector [0-9]+" \
		"$drv line with MAC, link up and interrupt"
}

# expect_arp ETH MODEL: netdev-arp tested ETH (of MODEL) and passed.
expect_arp() {
	expect_line "netdev-arp: $1 \($2\): 10\.0\.2\.2 is at 52:55:0a:00:02:02" "ARP reply on $1 ($2)"
	expect_line 'selftest: netdev-arp ok' "netdev-arp passed"
}

e1000_case() {
	nic_boot processor e1000 e1000
	expect_nic 8086:100e e1000
	expect_line "e1000: $PCI_ADDR mac 52:54:00:12:34:57 link up \(eth1, irq INTx gsi" "second e1000 by INTx"
	expect_arp eth1 e1000
}

virtio_case() {
	# -device virtio-net-pci is transitional (1af4:1000) by default; the
	# driver uses its modern interface.
	nic_boot processor virtio-net-pci virtio-net-pci
	expect_nic 1af4:1000 virtio-net
	expect_line "virtio-net: $PCI_ADDR mac 52:54:00:12:34:57 link up \(eth1, irq MSI-X" "second virtio-net by MSI-X"
	expect_arp eth1 virtio-net
}

virtio_modern_case() {
	nic_boot processor virtio-net-pci,disable-legacy=on virtio-net-pci,disable-legacy=on
	expect_nic 1af4:1041 virtio-net
	expect_arp eth1 virtio-net
}

virtio_intx_case() {
	# vectors=0 takes MSI-X away: INTx found by probing, ISR register.
	nic_boot processor virtio-net-pci virtio-net-pci,vectors=0
	expect_line "virtio-net: $PCI_ADDR mac 52:54:00:12:34:57 link up \(eth1, irq INTx gsi [0-9]+" "virtio-net by INTx"
	expect_arp eth1 virtio-net
}

both_case() {
	# One of each model (the stack takes the first, the e1000); then the
	# other order, so that each model is tested once beside the other.
	nic_boot processor e1000 virtio-net-pci
	expect_nic 8086:100e e1000
	expect_nic 1af4:1000 virtio-net
	expect_arp eth1 virtio-net
}

both_reversed_case() {
	nic_boot processor virtio-net-pci e1000
	expect_nic 8086:100e e1000
	expect_nic 1af4:1000 virtio-net
	expect_arp eth1 e1000
}

legacy_pc_case() {
	# i440FX: no MCFG (legacy 0xcf8/0xcfc configuration ports), PCI INTx
	# reaching the I/O APIC only through the ISA pins of the Interrupt Line
	# register (MADT overrides: level, active high), and with three NICs
	# two of them share one line.
	MACHINE=pc nic_boot processor e1000 e1000 virtio-net-pci,vectors=0
	expect_line 'pci: [0-9]+ functions via config ports in' "legacy configuration access"
	expect_nic 8086:100e e1000
	expect_line "e1000: $PCI_ADDR mac 52:54:00:12:34:57 link up \(eth1, irq INTx gsi (5|9|10|11) " \
		"e1000 on an ISA pin"
	expect_line "virtio-net: $PCI_ADDR mac 52:54:00:12:34:58 link up \(eth2, irq INTx gsi (5|9|10|11) " \
		"virtio-net on an ISA pin"
	expect_arp eth1 e1000
	expect_arp eth2 virtio-net
}

no_nic_case() {
	boot --personality processor --smp 2 --mem 512 --cmdline "lego.test=selftest,poweroff" \
		--fail-on "$PANIC_RE"
	expect_rc 0 "ACPI poweroff after the self-tests"
	expect_no_panic
	expect_ready processor
	expect_line "pci: $PCI_ADDR 8086:29c0 class 06\.00" "host bridge listed"
	expect_line 'pci: [0-9]+ functions via (ECAM|config ports) in [0-9]+ us' "PCI summary"
	expect_no_line '(e1000|virtio-net): ' "no NIC driver line"
	expect_line 'selftest: netdev-arp skipped: no network device' "netdev-arp skipped"
	expect_no_line 'selftest: .* FAILED' "failed self-test"
}

# Every personality carries the drivers (every component has a NIC).
personality_case() {
	local p=$1 dev=$2 id=$3 drv=$4
	nic_boot "$p" "$dev" "$dev"
	expect_nic "$id" "$drv"
	expect_arp eth1 "$drv"
}

add_case e1000 e1000_case
add_case virtio-net virtio_case
add_case virtio-net-modern virtio_modern_case
add_case virtio-net-intx virtio_intx_case
add_case e1000-and-virtio-net both_case
add_case virtio-net-and-e1000 both_reversed_case
add_case pc-legacy-shared-intx legacy_pc_case
add_case no-nic no_nic_case
add_case memory-virtio-net personality_case memory virtio-net-pci 1af4:1000 virtio-net
add_case storage-e1000 personality_case storage e1000 8086:100e e1000
run_cases
