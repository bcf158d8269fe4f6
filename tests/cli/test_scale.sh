#!/bin/sh
# SPDX-License-Identifier: MIT
# A machine of 100,000 devices, each in a group of its own (no group=):
# adding one costs O(1) expected (the core indexes names, streams and group
# numbers), so the script runs in well under a second; with a list walk per
# add it took hours.  The timeout is a failure guard with a margin of
# hundreds, not a measurement (bench/ measures: `aperture bench --only
# devices`).
. "$(dirname "$0")/lib.sh"

awk 'BEGIN {
	print "iommu s arm-smmu-v3"
	for (i = 0; i < 100000; i++)
		printf "device d%d s sid=%d\n", i, i
	print "domain dom s"
	print "attach dom d99999"
	print "expect ok"
}' >"$T/many.scn"
run timeout 120 "$APERTURE" show "$T/many.scn" d99999
check_rc 0 "100,000 devices"
check_out "0x0001869f 99999  dom (paging)" "the last device is in group 99999, on dom"
finish
