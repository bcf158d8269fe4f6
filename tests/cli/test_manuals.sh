#!/bin/sh
# SPDX-License-Identifier: MIT
# The manuals say what the tool and the language do, and agree with
# doc/scenario.md: the same commands, expect forms, fault kinds and errno
# names as the reference and as the parser itself accepts; aperture(1)
# has every command `aperture help` lists and the exit statuses; `aperture
# help` points to both manuals.  (Well-formedness: tools/check-man.)
. "$(dirname "$0")/lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
man1=$root/man/aperture.1
man5=$root/man/aperture-scenario.5
doc=$root/doc/scenario.md

run "$APERTURE" help
check_out "aperture(1)" "help points to aperture(1)"
check_out "aperture-scenario(5)" "help points to aperture-scenario(5)"

/usr/bin/python3 - "$APERTURE" "$man1" "$man5" "$doc" <<'PY' || fail "manuals against the reference (see above)"
import re, subprocess, sys

aperture, man1, man5, doc = sys.argv[1:]
bad = 0


def want(cond, what):
    global bad
    if not cond:
        print("FAIL:", what)
        bad += 1


def roff_text(path):
    """The page as words: fonts and escapes dropped."""
    t = open(path).read()
    t = re.sub(r"\\f[BIRP]", "", t).replace("\\-", "-").replace("\\e", "\\").replace("\\&", "")
    return t


m1, m5, d = roff_text(man1), roff_text(man5), open(doc).read()

# commands: the reference's headings, the manual's .SS, the parser's list
doc_cmds = set()
for h in re.findall(r"^### `([^`]+)`(?: / `([^`]+)`)?(?: and `([^`]+)`)?", d, re.M):
    for part in h:
        if part:
            doc_cmds.add(part.split()[0])
man_cmds = {l.split()[1] for l in m5.splitlines() if l.startswith(".SS ")}
p = subprocess.run([aperture, "run", "-q", "-"], input="frobnicate\n", capture_output=True, text=True)
parser = set(re.search(r"expected a command \(([^)]*)\)", p.stderr).group(1).split()) - {"expect"}
want(doc_cmds == man_cmds, f"commands: doc {sorted(doc_cmds)} vs man {sorted(man_cmds)}")
want(man_cmds == parser, f"commands: man {sorted(man_cmds)} vs parser {sorted(parser)}")

# expect forms
doc_exp = set(re.findall(r"^\| `expect (\w+)", d, re.M))
man_exp = set(re.findall(r"^\.BI? \"?expect (\w+)", m5, re.M)) | set(re.findall(r"^\.B expect (\w+)", m5, re.M))
p = subprocess.run([aperture, "run", "-q", "-"], input="ram 0 4K\nexpect frob\n", capture_output=True, text=True)
parser_exp = set(re.findall(r"\| (\w+)", "| " + re.search(r"expected 'expect ([^']*)'", p.stderr).group(1)))
want(doc_exp == man_exp, f"expect forms: doc {sorted(doc_exp)} vs man {sorted(man_exp)}")
want(man_exp == parser_exp, f"expect forms: man {sorted(man_exp)} vs parser {sorted(parser_exp)}")

# fault kinds
sec = m5[m5.index(".SH FAULT KINDS"):m5.index(".SH ERRNO NAMES")]
man_faults = set(re.findall(r"^\.B ([a-z-]+)$", sec, re.M))
doc_faults = set(re.findall(r"`([a-z-]+)`", re.search(r"\*\*Fault KINDs\*\*[^:]*:([^.]*)\.", d).group(1)))
p = subprocess.run([aperture, "run", "-q", "-"], input="ram 0 4K\nexpect fault frob\n", capture_output=True, text=True)
parser_faults = set(re.search(r"fault KIND \(([^)]*)\)", p.stderr).group(1).split())
want(man_faults == doc_faults == parser_faults,
     f"fault kinds: man {sorted(man_faults)} doc {sorted(doc_faults)} parser {sorted(parser_faults)}")

# errno names: the same lists, and each one the parser takes
sec = m5[m5.index(".SH ERRNO NAMES"):m5.index(".SH EXAMPLES")]
man_err = re.findall(r"^\.BR (E[A-Z0-9]+)", sec, re.M)
doc_err = re.search(r"\*\*ENAMEs\*\* accepted: `([^`]*)`", d).group(1).split()
want(sorted(man_err) == sorted(doc_err), f"errno names: man {man_err} vs doc {doc_err}")
for e in man_err:
    p = subprocess.run([aperture, "run", "-q", "-"], input=f"ram 0 4K\nram 0 4K\nexpect error {e}\n",
                       capture_output=True, text=True)
    want("errno name" not in p.stderr, f"the parser does not know {e}: {p.stderr.strip()}")

# aperture(1): every command help lists, every exit status
p = subprocess.run([aperture, "help"], capture_output=True, text=True)
cli_cmds = set(re.findall(r"^  aperture (\w+)", p.stdout, re.M))
for c in cli_cmds:
    want(re.search(rf"^\.BR? {c}\b", m1, re.M) is not None, f"aperture(1) has no entry for '{c}'")
sec = m1[m1.index(".SH EXIT STATUS"):m1.index(".SH ENVIRONMENT")]
want(re.findall(r"^\.B ([0-9])$", sec, re.M) == ["0", "1", "2", "3"], "aperture(1) lists exit statuses 0 1 2 3")
for s in (".SH ENVIRONMENT", ".SH EXAMPLES", ".SH OPTIONS", ".SH SEE ALSO"):
    want(s in m1, f"aperture(1) has {s}")
sys.exit(1 if bad else 0)
PY
finish
