#!/bin/sh
# SPDX-License-Identifier: MIT
# `aperture show`: it lists the reserved regions of each device, the
# mappings of each VFIO container and the fault records queued on each
# IOMMU (not only their counts), and `show [KIND] NAME` resolves a name
# that several kinds of object share.
. "$(dirname "$0")/lib.sh"

cat >"$T/m.scn" <<'SCN'
ram    0x80000000 64M
iommu  smmu arm-smmu-v3
iommu  vtd intel-vtd ias=39 oas=39
device nic smmu sid=0x10 group=1
device disk vtd sid=0x20 group=2
resv   nic 0x40000000 1M reserved
domain d smmu
attach d nic
map    d 0x10000 0x80000000 4K r
dma    nic write 0x10000 4
expect fault permission
dma    nic read 0x7770000 4
expect fault translation
vfio limit memlock unlimited
vfio open box
vfio add box 2
vfio iommu box type1v2
vfio map box 0x200000 2M rw
vfio map box 0x1000000 8K r
SCN
run "$APERTURE" show "$T/m.scn"
check_rc 0 "show of a machine"
# reserved regions: the device's own and what its IOMMU reserves
check_out "reserved 0x0000000040000000-0x00000000400fffff reserved" "nic's own region"
check_out "reserved 0x0000000008000000-0x00000000080fffff sw-msi" "the SMMU's MSI window"
check_out "reserved 0x00000000fee00000-0x00000000feefffff msi" "the VT-d MSI window"
# the fault records, oldest first
check_out "fault permission   sid 0x10 iova 0x10000 write, level 3" "the permission fault"
check_out "fault translation  sid 0x10 iova 0x7770000 read, level 2" "the translation fault"
# the container's mappings
check_out "map  0x0000000000200000-0x00000000003fffff rw" "the 2M VFIO mapping"
check_out "map  0x0000000001000000-0x0000000001001fff r-" "the 8K VFIO mapping"

# show NAME for one container lists its mappings too
run "$APERTURE" show "$T/m.scn" box
check_rc 0 "show box"
check_out "map  0x0000000000200000-0x00000000003fffff rw" "show box: the mapping"

# one name, three kinds of object
cat >"$T/x.scn" <<'SCN'
iommu  x arm-smmu-v3
device x x sid=1
domain x x
SCN
run "$APERTURE" show "$T/x.scn" x
check_rc 0 "show x"
check_out "IOMMUs" "show x: the IOMMU"
check_out "devices" "show x: the device"
check_out "domains" "show x: the domain"
run "$APERTURE" show "$T/x.scn" device x
check_rc 0 "show device x"
check_out "devices" "show device x"
check_no_out "IOMMUs" "show device x shows no IOMMU"
check_no_out "domains" "show device x shows no domain"
run "$APERTURE" show "$T/x.scn" domain x
check_rc 0 "show domain x"
check_out "domains" "show domain x"
check_no_out "IOMMUs" "show domain x shows no IOMMU"
run "$APERTURE" show "$T/x.scn" container x
check_rc 1 "show container x (there is none)"
check_err "no container called 'x'" "show container x"
run "$APERTURE" show "$T/x.scn" bus x
check_rc 2 "show bus x"
check_err "expected iommu, device, domain or container before NAME, got 'bus'" "show bus x"
finish
