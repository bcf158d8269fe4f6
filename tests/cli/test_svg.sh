#!/bin/sh
# SPDX-License-Identifier: MIT
# show --svg: the built-in scenario drawn as a well-formed SVG document
# with what a reader looks for: a bar per instance (the bypassing one
# marked), the shared domain's aperture ending at 4 GiB inside the dashed
# 48-bit range its owner gave it (the shrink), its two runs of mappings (16
# 4K pages read-write, one 2M block read-only), every queued fault where it
# hit, the MSI windows; and the command line's rules for --svg.
. "$(dirname "$0")/lib.sh"

run "$APERTURE" show --svg "$T/m.svg"
check_rc 0 "show --svg"
[ -s "$T/m.svg" ] || fail "show --svg wrote nothing"
/usr/bin/python3 - "$T/m.svg" <<'PY' || fail "the picture (see above)"
import sys
import xml.etree.ElementTree as ET

ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()          # well-formed, or this raises
bad = 0


def want(cond, what):
    global bad
    if not cond:
        print("FAIL:", what)
        bad += 1


def cls(e):
    return e.get("class", "").split()


def group(kind, name):
    for g in root.iter("{http://www.w3.org/2000/svg}g"):
        if kind in cls(g) and g.get("data-name") == name:
            return g
    return None


want(root.tag == "{http://www.w3.org/2000/svg}svg", "the root is an svg element")
for name in ("smmu48", "smmu32", "smmu-bp"):
    g = group("iommu", name)
    want(g is not None, f"a row for iommu {name}")
    if g is None:
        continue
    bars = [e for e in g if "input-range" in cls(e)]
    want(len(bars) == 1, f"{name}: one input-range bar")
    want(bars and ("bypass" in cls(bars[0])) == (name == "smmu-bp"), f"{name}: bypass marked iff it bypasses")
    want(any("resv" in cls(e) and e.get("data-type") == "sw-msi" for e in g), f"{name}: its MSI window")
faults = {}
for name in ("smmu48", "smmu32"):
    g = group("iommu", name)
    faults[name] = sorted((e.get("data-kind"), e.get("data-iova")) for e in g if "fault" in cls(e)) if g is not None else []
want(faults["smmu48"] == [("address-size", "0x100000000"), ("bad-stream", "0x10000"), ("translation", "0x40000")],
     f"smmu48's three faults where they hit: {faults['smmu48']}")
want(faults["smmu32"] == [("permission", "0x200000")], f"smmu32's fault: {faults['smmu32']}")
w48 = float([e for e in group("iommu", "smmu48") if "input-range" in cls(e)][0].get("width"))
w32 = float([e for e in group("iommu", "smmu32") if "input-range" in cls(e)][0].get("width"))
want(w32 < w48, "the 32-bit instance's bar is shorter than the 48-bit one's")
d = group("domain", "dma0")
want(d is not None, "a row for domain dma0")
if d is not None:
    owner = [e for e in d if "owner-range" in cls(e)]
    ap = [e for e in d if "aperture" in cls(e)]
    want(len(owner) == 1 and len(ap) == 1, "dma0: the owner's range and the aperture")
    if owner and ap:
        want(ap[0].get("data-end") == "0xffffffff", f"dma0's aperture ends at 4G: {ap[0].get('data-end')}")
        want(float(ap[0].get("width")) < float(owner[0].get("width")) - 100,
             "the shrink shows: the aperture is well short of the owner's range")
    ext = sorted((e.get("data-iova"), e.get("data-size"), e.get("data-pgsize"), e.get("data-prot"))
                 for e in d if "extent" in cls(e))
    want(ext == [("0x10000", "0x10000", "4K", "rw"), ("0x200000", "0x200000", "2M", "ro")],
         f"dma0's mappings: {ext}")
    want(all(e.find("s:title", ns) is not None for e in d if "extent" in cls(e)), "every extent has a title")
sys.exit(1 if bad else 0)
PY

# - is stdout; --svg draws the whole machine, so no NAME or --json with it
run "$APERTURE" show --svg -
check_rc 0 "show --svg -"
check_out "<svg xmlns=\"http://www.w3.org/2000/svg\"" "show --svg - writes to stdout"
run "$APERTURE" show --svg "$T/x.svg" "$(dirname "$0")/../../tools/aperture/default.scn" dma0
check_rc 2 "show --svg with a NAME"
run "$APERTURE" show --svg /nonexistent/dir/x.svg
check_rc 1 "show --svg into a directory that is not there"
check_err "cannot write /nonexistent/dir/x.svg" "show --svg into a directory that is not there"
finish
