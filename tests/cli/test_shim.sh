#!/bin/sh
# SPDX-License-Identifier: MIT
# `aperture shim`, the launcher: a wrong command line is 2 and says what is
# wrong, a scenario that stops is 1 with FILE:LINE, a PROGRAM that cannot
# run is 127, and otherwise the status is the program's (128+N for signal
# N); stderr says which mode it runs in; the program sees the tree in both
# modes; --help is the launcher's only before --.
. "$(dirname "$0")/lib.sh"

# A sanitizer build's shim needs its runtime preloaded first (SHIM_PRELOAD,
# as tools/run-shim-tests takes it); the launcher keeps it first.
[ -n "${SHIM_PRELOAD:-}" ] && export LD_PRELOAD="$SHIM_PRELOAD"
root=$(cd "$(dirname "$0")/../.." && pwd)
scn=$root/tests/shim/vtd.scn
printf 'iommu u intel-vtd\nfrobnicate u\n' >"$T/bad.scn"

run "$APERTURE" shim;                         check_rc 2 "no arguments"
check_err "-s SCENARIO is required" "no arguments"
check_err "usage: aperture shim -s SCENARIO" "no arguments"
run "$APERTURE" shim -s "$scn";               check_rc 2 "no PROGRAM"
check_err "no PROGRAM after --" "no PROGRAM"
run "$APERTURE" shim -s "$scn" true;          check_rc 2 "PROGRAM without --"
check_err "expected -- before PROGRAM, got 'true'" "PROGRAM without --"
run "$APERTURE" shim --frob -s "$scn" -- true; check_rc 2 "an unknown option"
check_err "unknown option '--frob'" "an unknown option"
run "$APERTURE" shim -s "$scn" --mode sideways -- true; check_rc 2 "a bad --mode"
check_err "--mode is auto, namespace or rewrite, not 'sideways'" "a bad --mode"
run "$APERTURE" shim -s "$scn" --log;         check_rc 2 "--log without a value"

run "$APERTURE" shim --help;                  check_rc 0 "shim --help"
check_out "usage: aperture shim" "shim --help"
run "$APERTURE" help shim;                    check_rc 0 "help shim"
check_out "vfio-pci devices" "help shim"
# after --, --help is the program's
run "$APERTURE" shim -s "$scn" -- sh -c 'echo "[$1]"' sh --help; check_rc 0 "PROGRAM --help"
check_out "[--help]" "PROGRAM --help"

run "$APERTURE" shim -s "$T/bad.scn" -- true; check_rc 1 "a malformed scenario"
check_err "bad.scn:2" "a malformed scenario"
run "$APERTURE" shim -s "$T/none.scn" -- true; check_rc 1 "a scenario that is not there"
check_err "none.scn" "a scenario that is not there"
run "$APERTURE" shim -s "$scn" -- "$T/no-such-program"; check_rc 127 "a PROGRAM that is not there"
check_err "no-such-program" "a PROGRAM that is not there"

for mode in namespace rewrite; do
	run "$APERTURE" shim -s "$scn" --mode $mode -- sh -c 'exit 7'
	check_rc 7 "$mode: the program's exit status"
	check_err "$mode" "$mode: stderr names the mode"
	run "$APERTURE" shim -s "$scn" --mode $mode -- sh -c 'kill -TERM $$'
	check_rc 143 "$mode: a program killed by SIGTERM"
	run "$APERTURE" shim -s "$scn" --mode $mode -- \
		sh -c 'test -e /dev/vfio/vfio && test -e /sys/bus/pci/devices/0000:00:04.0/vendor'
	check_rc 0 "$mode: the program sees /dev/vfio and the PCI function"
done
finish
