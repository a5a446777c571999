#!/usr/bin/env bash
# docs/syscalls.md is what scripts/gen-syscalls makes from the syscall table.
cd "$(dirname -- "$0")/../.." || exit 1
if scripts/gen-syscalls --check; then
	echo "ok 1 - docs/syscalls.md current"
else
	echo "not ok 1 - docs/syscalls.md current # run scripts/gen-syscalls"
	exit 1
fi
