#!/bin/sh
# SPDX-License-Identifier: MIT
# User-facing text says what a thing is, not where it came from: the help
# of every command and the built-in scenario describe the machine ("two
# SMMUs of different input sizes sharing one domain"), never a discussion
# it was taken from.
. "$(dirname "$0")/lib.sh"

history='founding|LKML|mailing list|2015|thread.s machine'
for c in "" run show dump audit bench help; do
	run "$APERTURE" help $c
	check_rc 0 "help $c"
	if grep -Eiq "$history" "$T/out"; then
		fail "help $c speaks of history: $(grep -Ei "$history" "$T/out")"
	fi
done
run "$APERTURE" help run
check_out "two SMMUs of different input sizes" "help run says what the built-in scenario is"
root=$(cd "$(dirname "$0")/../.." && pwd)
for page in "$root"/man/*.[0-9]; do
	[ -f "$page" ] || continue
	! grep -Eiq "$history" "$page" || fail "$page speaks of history: $(grep -Ei "$history" "$page")"
done
finish
