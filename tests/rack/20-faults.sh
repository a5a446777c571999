#!/usr/bin/env bash
# CPU exceptions end in a readable panic dump: exception name, control and
# general registers, a symbolised backtrace, then every CPU halts.
. "$(dirname -- "$0")/lib.sh"

FRAME_RE='\[<ffffffff8[0-9a-f]+>\] [A-Za-z_.][A-Za-z0-9_.]*\+0x[0-9a-f]+/0x[0-9a-f]+'

# fault_case PERSONALITY TEST EXCEPTION-NAME
fault_case() {
	local p=$1 t=$2 name=$3
	boot_halt "$p" 2 512 "$t"
	expect_rc 0 "must reach 'lego: system halted'"
	if ! has_line "$PANIC_RE"; then
		fail "no panic dump (no line starting PANIC)"
		return
	fi
	expect_line "PANIC on CPU [0-9]+: $(ere_quote "$name")" "panic line naming $name"
	expect_line 'RIP: *(0x)?[0-9a-f]{16}' "RIP"
	expect_line 'RSP: *(0x)?[0-9a-f]{16}' "RSP"
	expect_line 'RFLAGS: *(0x)?[0-9a-f]+' "RFLAGS"
	expect_line 'RAX: *(0x)?[0-9a-f]{16}' "general registers"
	expect_line 'CR3: *(0x)?[0-9a-f]+' "CR3"
	expect_line 'Backtrace:' "backtrace header"
	expect_line "$FRAME_RE" "symbolised backtrace frame"
	expect_before "$PANIC_RE" 'Backtrace:'
	expect_before 'Backtrace:' 'lego: system halted'
}

# The page fault test also checks CR2, the error code (supervisor write to a
# not-present page) and that the backtrace names the faulting function.
pf_case() {
	fault_case processor fault "Page fault (#PF)"
	has_line "$PANIC_RE" || return
	expect_line 'CR2: *(0x)?[0-9a-f]{16}' "CR2"
	expect_line 'Page fault \(#PF\) at (0x)?ffffffff8[0-9a-f]+ error 0x0*2([^0-9a-fx]|$)' "faulting RIP and error code 0x2"
	expect_line '\[<ffffffff8[0-9a-f]+>\] selftest_fault\+0x[0-9a-f]+/0x[0-9a-f]+' "frame in selftest_fault"
}

# Kernel stack overflow: the guard page turns it into a #PF that cannot be
# delivered on the same stack, hence a #DF on its own IST stack, which names
# the overflowing thread.
df_case() {
	fault_case memory fault:df "Double fault (#DF)"
	has_line "$PANIC_RE" || return
	expect_line "kernel stack overflow: thread 'main'" "stack overflow diagnosis"
	expect_line '\[<ffffffff8[0-9a-f]+>\] recurse_deep[.a-z0-9]*\+0x[0-9a-f]+/0x[0-9a-f]+' "recursing frame"
	expect_line 'previous frame repeated [0-9]+ more times' "collapsed recursion"
	expect_line '\[<ffffffff8[0-9a-f]+>\] selftest_fault\+' "frames below the recursion"
}

# kmalloc's debug checks (CONFIG_DEBUG_KMALLOC, on in the defconfigs) turn
# heap corruption into a panic naming it.
kmalloc_case() {
	local t=$1 what=$2
	boot_halt processor 2 512 "$t"
	expect_rc 0 "must reach 'lego: system halted'"
	expect_line "PANIC on CPU [0-9]+: kmalloc: $what at ffff8[0-9a-f]+" "panic naming the corruption"
	expect_line '\[<ffffffff8[0-9a-f]+>\] selftest_fault\+' "backtrace reaching the culprit"
}

add_case page-fault pf_case
add_case double-fault df_case
add_case kmalloc-double-free kmalloc_case fault:double-free "double free"
add_case kmalloc-redzone kmalloc_case fault:redzone "redzone overwritten"
add_case invalid-opcode fault_case storage fault:ud "Invalid opcode (#UD)"
add_case general-protection fault_case processor fault:gp "General protection (#GP)"
add_case divide-error fault_case memory fault:de "Divide error (#DE)"
run_cases
