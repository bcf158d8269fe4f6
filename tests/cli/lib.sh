# SPDX-License-Identifier: MIT
# Helpers for the command-line tests (tests/cli/test_*.sh), sourced by each.
# $APERTURE is the binary under test (tools/run-tests sets it; point it at
# another build to run these tests against that build).  Every check that
# fails prints what it wanted and what it got; the script exits 1 at the end
# if any did.
set -u
: "${APERTURE:?set APERTURE to the aperture binary under test}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failures=0

fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# run CMD...: runs it with stdout in $T/out, stderr in $T/err, status in $rc
run() {
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# check_rc WANT WHAT: the last run exited WANT
check_rc() {
	[ "$rc" = "$1" ] || fail "$2: exit $rc, wanted $1 (stderr: $(head -c 300 "$T/err"))"
}

# check_err TEXT WHAT / check_out TEXT WHAT: TEXT appears in stderr / stdout
check_err() {
	grep -qF -- "$1" "$T/err" || fail "$2: stderr lacks '$1' (got: $(head -c 300 "$T/err"))"
}
check_out() {
	grep -qF -- "$1" "$T/out" || fail "$2: stdout lacks '$1'"
}
check_no_out() {
	! grep -qF -- "$1" "$T/out" || fail "$2: stdout has '$1'"
}

finish() {
	if [ "$failures" != 0 ]; then
		echo "$failures check(s) failed"
		exit 1
	fi
	exit 0
}
