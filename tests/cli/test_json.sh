#!/bin/sh
# SPDX-License-Identifier: MIT
# --json of show, dump and audit validates against its schema in
# doc/json-schema/ (with Debian's python3-jsonschema, offline) for every
# scenario of the suite and the built-in one, and says what the text views
# say: dump --json has exactly the leaves of the plain dump, dump --ranges
# --json folds exactly those leaves, audit's bypass_found is its exit
# status; the bench's figures validate too.  A firmware audit of a real DMAR table, when the tables are beside
# the repository, validates too.  And a document that breaks the schema is
# refused, so the validator is not a rubber stamp.
. "$(dirname "$0")/lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
/usr/bin/python3 - "$APERTURE" "$root" <<'PY' || fail "JSON views (see above)"
import glob, json, os, subprocess, sys
import jsonschema

aperture, root = sys.argv[1], sys.argv[2]
schemas = {}
for name in ("show", "dump", "audit", "fw-audit"):
    with open(f"{root}/doc/json-schema/{name}-v1.schema.json") as f:
        s = json.load(f)
    cls = jsonschema.validators.validator_for(s)
    cls.check_schema(s)
    schemas[name] = cls(s)
failed = 0
checked = 0


def bad(what):
    global failed
    print(f"FAIL: {what}")
    failed += 1


def run(*args, want=(0,)):
    p = subprocess.run([aperture, *args], capture_output=True, text=True)
    if p.returncode not in want:
        bad(f"aperture {' '.join(args)}: exit {p.returncode}: {p.stderr.strip()}")
    return p


def valid(kind, text, what):
    global checked
    try:
        doc = json.loads(text)
    except ValueError as e:
        bad(f"{what}: not JSON: {e}")
        return None
    for err in schemas[kind].iter_errors(doc):
        bad(f"{what}: {'/'.join(map(str, err.path))}: {err.message}")
    checked += 1
    return doc


scenarios = [f"{root}/tools/aperture/default.scn"] + sorted(glob.glob(f"{root}/tests/scenarios/*.scn"))
for scn in scenarios:
    short = os.path.relpath(scn, root)
    show = valid("show", run("show", "--json", scn).stdout, f"show --json {short}")
    if show is None:
        continue
    a = run("audit", "--json", scn, want=(0, 3))
    audit = valid("audit", a.stdout, f"audit --json {short}")
    if audit and audit["bypass_found"] != (a.returncode == 3):
        bad(f"audit --json {short}: bypass_found {audit['bypass_found']}, exit {a.returncode}")
    for kind in ("iommus", "devices", "domains"):
        for obj in show[kind]:
            one = valid("show", run("show", "--json", scn, kind[:-1], obj["name"]).stdout,
                        f"show --json {short} {kind[:-1]} {obj['name']}")
            if one and one[kind] != [obj]:
                bad(f"show --json {short} {kind[:-1]} {obj['name']}: not what the machine shows")
    for dom in show["domains"]:
        if dom["paging"] is None:
            continue
        name = dom["name"]
        text = run("dump", scn, name).stdout.splitlines()
        leaves = valid("dump", run("dump", "--json", scn, name).stdout, f"dump --json {short} {name}")
        ranges = valid("dump", run("dump", "--ranges", "--json", scn, name).stdout,
                       f"dump --ranges --json {short} {name}")
        if not leaves or not ranges:
            continue
        want = [f"leaf lvl={l['level']} iova={l['iova']} size={l['size']} pte=0x{int(l['pte'], 16):016x}"
                for l in leaves["leaves"]]
        if want != text:
            bad(f"dump --json {short} {name}: leaves differ from the plain dump")
        if len(leaves["leaves"]) != dom["paging"]["leaves"]:
            bad(f"dump --json {short} {name}: {len(leaves['leaves'])} leaves, show says {dom['paging']['leaves']}")
        # the ranges, unfolded, are the leaves
        unfolded = []
        for r in ranges["ranges"]:
            step = int(r["leaf_size"], 16)
            if int(r["size"], 16) != r["count"] * step:
                bad(f"dump --ranges {short} {name}: size is not count * leaf_size")
            for k in range(r["count"]):
                unfolded.append((r["level"], int(r["iova"], 16) + k * step, step,
                                 int(r["pte"], 16) + k * step))
        got = [(l["level"], int(l["iova"], 16), int(l["size"], 16), int(l["pte"], 16))
               for l in leaves["leaves"]]
        if unfolded != got:
            bad(f"dump --ranges --json {short} {name}: the ranges do not unfold to the leaves")
        for a, b in zip(ranges["ranges"], ranges["ranges"][1:]):
            end = int(a["iova"], 16) + int(a["size"], 16)
            if (a["level"] == b["level"] and a["leaf_size"] == b["leaf_size"] and
                    end == int(b["iova"], 16) and
                    int(a["pa"], 16) + int(a["size"], 16) == int(b["pa"], 16) and
                    int(a["pte"], 16) + int(a["size"], 16) == int(b["pte"], 16)):
                bad(f"dump --ranges {short} {name}: ranges at {a['iova']} and {b['iova']} should be one")

dmar = os.path.join(root, "..", "shared", "real-inputs", "dmar-dell-poweredge-r820.dat")
if os.path.exists(dmar):
    p = run("audit", "--json", "--dmar", dmar, want=(0, 3))
    doc = valid("fw-audit", p.stdout, "audit --json --dmar")
    if doc and doc["bypass_found"] != (p.returncode == 3):
        bad("audit --json --dmar: bypass_found does not match the exit status")

# the bench's figures (the quick sections)
with open(f"{root}/doc/json-schema/bench-v1.schema.json") as f:
    s = json.load(f)
schemas["bench"] = jsonschema.validators.validator_for(s)(s)
bench = valid("bench", run("bench", "--quick", "--only", "map,table,devices,vfio-scale",
                           "--json").stdout, "bench --quick --json")
if bench is not None:
    names = {f["name"] for f in bench["figures"]}
    if "100000 devices: per device" not in names or bench["failed"]:
        bad(f"bench --json: no 100k-device figure, or failed ({sorted(names)})")
    scale = [f for f in bench["figures"] if f["section"] == "vfio-scale"]
    if not any(f["name"].startswith("4K UNMAP_DMA of") and f["unit"] == "s" for f in scale):
        bad(f"bench --json: no vfio-scale bulk-unmap figure ({sorted(names)})")

# the validator refuses what breaks the schema
doc = json.loads(run("show", "--json").stdout)
doc["iommus"][0]["stage"] = 3
del doc["devices"][0]["reserved"]
if len(list(schemas["show"].iter_errors(doc))) != 2:
    bad("a broken show document was not refused twice")
print(f"{checked} JSON documents valid")
sys.exit(1 if failed else 0)
PY
finish
