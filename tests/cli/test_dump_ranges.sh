#!/bin/sh
# SPDX-License-Identifier: MIT
# dump --ranges: consecutive leaves of one size and the same bits fold into
# one line, with the descriptor's fields decoded per format (ARM stage 1
# and 2, VT-d second level); a change of permission, size or a hole starts
# a new line; the plain dump stays one line per leaf.
. "$(dirname "$0")/lib.sh"

cat >"$T/r.scn" <<'SCN'
ram    0x80000000 64M
iommu  s1 arm-smmu-v3
iommu  s2 arm-smmu-v3 stage=2
iommu  vtd intel-vtd ias=48 oas=48
domain d1 s1
domain d2 s2
domain dv vtd
map    d1 0x10000 0x80000000 64K rw
map    d1 0x20000 0x80010000 8K r       # consecutive, but read-only: a new run
map    d1 0x30000 0x80020000 4K rwc     # after a hole
map    d1 0x200000 0x80200000 2M rw
map    d2 0x0 0x80000000 16K rw
map    dv 0x0 0x80000000 4M rw
SCN
run "$APERTURE" dump --ranges "$T/r.scn" d1
check_rc 0 "dump --ranges d1"
check_out "range iova=0x10000-0x1ffff pa=0x80000000-0x8000ffff 16x4K lvl=3 pte=0x0000000080000e43 type=3(page) AttrIndx=0(normal-nc) NS=0 AP=1(rw) SH=2(outer) AF=1 nG=1 PXN=0 UXN=0" "16 pages in one line"
check_out "range iova=0x20000-0x21fff pa=0x80010000-0x80011fff 2x4K lvl=3 pte=0x0000000080010ec3 type=3(page) AttrIndx=0(normal-nc) NS=0 AP=3(ro)" "the read-only run"
check_out "range iova=0x30000-0x30fff pa=0x80020000-0x80020fff 1x4K lvl=3 pte=0x0000000080020f47 type=3(page) AttrIndx=1(normal-wb) NS=0 AP=1(rw) SH=3(inner)" "the cacheable page"
check_out "range iova=0x200000-0x3fffff pa=0x80200000-0x803fffff 1x2M lvl=2" "the 2M block"
[ "$(wc -l <"$T/out")" = 4 ] || fail "dump --ranges d1: $(wc -l <"$T/out") lines, wanted 4"
run "$APERTURE" dump --ranges "$T/r.scn" d2
check_out "4x4K lvl=3 pte=0x00000000800006d7 type=3(page) MemAttr=5(normal-nc) S2AP=3(rw) SH=2(outer) AF=1 XN=0" "stage 2 fields"
run "$APERTURE" dump --ranges "$T/r.scn" dv
check_out "range iova=0x0-0x3fffff pa=0x80000000-0x803fffff 2x2M lvl=2 pte=0x0000000080000083 R=1 W=1 X=0 EMT=0 IPAT=0 PS=1" "VT-d superpages"
# the plain dump is one line per leaf, as ever
run "$APERTURE" dump "$T/r.scn" d1
[ "$(wc -l <"$T/out")" = 20 ] || fail "plain dump d1: $(wc -l <"$T/out") lines, wanted 20"
check_out "leaf lvl=3 iova=0x10000 size=0x1000 pte=0x0000000080000e43" "plain dump line"
finish
