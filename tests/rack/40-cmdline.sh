#!/usr/bin/env bash
# Bad command-line options are reported with a warning and do not stop the node.
. "$(dirname -- "$0")/lib.sh"

# option_case OPTION WORD: boot with OPTION, expect a warning naming WORD.
option_case() {
	local opt=$1 word=$2
	boot_poweroff processor 2 512 "$opt"
	expect_rc 0 "the node must still power off"
	expect_no_panic
	expect_warning "$word"
	expect_ready processor
	expect_line 'lego: powering off' "poweroff line"
}

add_case unknown-option option_case lego.bogus=1 lego.bogus
add_case malformed-value option_case lego.loglevel=abc lego.loglevel
add_case unknown-test-item option_case lego.test=bogus-item bogus-item
run_cases
