#!/bin/sh
# SPDX-License-Identifier: MIT
# What the command line says and how it exits: a distinct status for a wrong
# command line (2), a scenario that stopped (1) and a bypass audit found
# (3); stdout flushed before an error goes to stderr; `-` for stdin;
# unknown and repeated options named; a UTF-8 byte-order mark accepted; a
# name with a non-ASCII byte told the real reason; a file that holds no
# command said to have run nothing.
. "$(dirname "$0")/lib.sh"

printf 'iommu s arm-smmu-v3\ndomain d s\nexpect geometry 0 0xffffffffffff forced\n' >"$T/ok.scn"
printf 'iommu s arm-smmu-v3\ndomain d s\nexpect geometry 0 0xffff forced\n' >"$T/expect.scn"
printf 'iommu s arm-smmu-v3\nfrobnicate s\n' >"$T/malformed.scn"
printf 'iommu s arm-smmu-v3\niommu s arm-smmu-v3\n' >"$T/failed.scn"
printf 'iommu s arm-smmu-v3 unmatched=bypass\ndevice d s sid=1\n' >"$T/bypass.scn"

# 0: it ran; 1: the scenario stopped
run "$APERTURE" run -q "$T/ok.scn";        check_rc 0 "a scenario that holds"
run "$APERTURE" run -q "$T/expect.scn";    check_rc 1 "a failed expectation"
run "$APERTURE" run -q "$T/malformed.scn"; check_rc 1 "a malformed line"
run "$APERTURE" run -q "$T/failed.scn";    check_rc 1 "a command that failed"
run "$APERTURE" run -q "$T/nonexistent.scn"; check_rc 1 "a file that is not there"
check_err "cannot open $T/nonexistent.scn" "a file that is not there"

# 3: audit found a bypass (not 2, which is a wrong command line)
run "$APERTURE" audit "$T/bypass.scn";     check_rc 3 "audit of a bypass"
check_out "BYPASS" "audit of a bypass"
run "$APERTURE" audit "$T/ok.scn";         check_rc 0 "audit of a clean machine"
run "$APERTURE" audit "$T/expect.scn";     check_rc 1 "audit of a scenario that stops"

# the firmware audit: 3 for a bypass too, 2 for its command line
dmar=$(dirname "$0")/../../../shared/real-inputs/dmar-dell-poweredge-r820.dat
if [ -f "$dmar" ]; then
	run "$APERTURE" audit --dmar "$dmar"
	case $rc in 0|3) ;; *) fail "audit --dmar: exit $rc, wanted 0 or 3" ;; esac
	if [ "$rc" = 3 ]; then check_out "bypass" "audit --dmar exit 3 lists a bypass"; fi
	run "$APERTURE" audit --dmar "$dmar" --dmar "$dmar"; check_rc 2 "audit --dmar twice"
	check_err "--dmar given twice" "audit --dmar twice"
fi
run "$APERTURE" audit --dmar;              check_rc 2 "audit --dmar without a file"
check_err "--dmar: needs a value" "audit --dmar without a file"
run "$APERTURE" import --frob x;           check_rc 2 "import with an unknown option"

# 2: the command line is wrong, and the message says how
run "$APERTURE" run --frob;                check_rc 2 "an unknown option"
check_err "unknown option '--frob'" "an unknown option"
run "$APERTURE" run -q -q "$T/ok.scn";     check_rc 2 "a repeated option"
check_err "-q given twice" "a repeated option"
run "$APERTURE" dump "$T/ok.scn";          check_rc 2 "dump without DOMAIN"
check_err "expected 2 arguments, got 1" "dump without DOMAIN"
run "$APERTURE" run "$T/ok.scn" extra;     check_rc 2 "an extra argument"
check_err "unexpected argument 'extra'" "an extra argument"
run "$APERTURE" frobnicate;                check_rc 2 "an unknown command"
check_err "no command 'frobnicate'" "an unknown command"
run "$APERTURE" help frobnicate;           check_rc 2 "help for an unknown command"

# `-` reads the scenario from stdin
"$APERTURE" run - <"$T/ok.scn" >"$T/out" 2>"$T/err"; rc=$?
check_rc 0 "run - (stdin)"
check_out "running <stdin>" "run - names stdin"
check_out "all expectations held" "run - ran it"
"$APERTURE" show - d <"$T/ok.scn" >"$T/out" 2>"$T/err"; rc=$?
check_rc 0 "show - d"
check_out "domains" "show - d"
"$APERTURE" run -q - <"$T/expect.scn" >"$T/out" 2>"$T/err"; rc=$?
check_rc 1 "a failed expectation read from stdin"
check_err "<stdin>:3: expected geometry" "a failed expectation read from stdin"

# the trace comes before the error when both go to one pipe
"$APERTURE" run "$T/expect.scn" 2>&1 | cat >"$T/both"
tail -n1 "$T/both" | grep -qF "expect.scn:3: expected geometry" ||
	fail "stdout and stderr out of order: $(cat "$T/both")"
head -n1 "$T/both" | grep -qF "running" || fail "the trace does not come first: $(cat "$T/both")"

# a UTF-8 byte-order mark at the start is not part of the first command
printf '\357\273\277iommu s arm-smmu-v3\ndomain d s\n' >"$T/bom.scn"
run "$APERTURE" run -q "$T/bom.scn";       check_rc 0 "a file that starts with a BOM"

# a name with a non-ASCII byte: the message says so
printf 'iommu caf\303\251 arm-smmu-v3\n' >"$T/utf8.scn"
run "$APERTURE" run -q "$T/utf8.scn";      check_rc 1 "a non-ASCII name"
check_err "byte 0xc3 at offset 3, which is not ASCII" "a non-ASCII name"

# a file that holds no command ran nothing, and says so
: >"$T/empty.scn"
run "$APERTURE" run "$T/empty.scn";        check_rc 1 "an empty file"
check_err "no commands in it: nothing ran" "an empty file"
printf '# only a comment\n\n' >"$T/comments.scn"
run "$APERTURE" audit "$T/comments.scn";   check_rc 1 "a file of comments"
check_err "nothing ran" "a file of comments"
finish
