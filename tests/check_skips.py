#!/usr/bin/env python3
"""Lists the tests a CTest run skipped, with their reasons, from its JUnit files.

    tests/check_skips.py RESULTS.xml [RESULTS.xml ...]

A test skips by printing "SMITH-TEST-SKIPPED: <reason>" (tests/skip.sh). Under CI=true every
skip fails the run unless tests/allowed-skips.txt names the test and says why it may skip there;
a test that did not run for another reason (a failed fixture, say) always fails it.
Exit status: 0, or 1 when the run must fail.
"""
import fnmatch
import os
import sys
import xml.etree.ElementTree as ET

MARKER = "SMITH-TEST-SKIPPED:"
HERE = os.path.dirname(os.path.abspath(__file__))


def allowed_skips(path):
    """(glob, why) pairs: one per line, "NAME-GLOB | WHY"; '#' starts a comment."""
    rules = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            glob, sep, why = line.partition(" | ")
            if not sep or not glob.strip() or not why.strip():
                sys.exit(f"{path}:{number}: expected 'NAME-GLOB | WHY', got: {line}")
            rules.append((glob.strip(), why.strip()))
    return rules


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    ci = os.environ.get("CI", "").lower() in ("true", "1", "yes")
    rules = allowed_skips(os.path.join(HERE, "allowed-skips.txt"))
    failed = False
    for results in argv[1:]:
        for case in ET.parse(results).getroot().iter("testcase"):
            if case.get("status") != "notrun":
                continue
            name = case.get("name", "")
            skipped = case.find("skipped")
            message = skipped.get("message", "") if skipped is not None else ""
            out = case.findtext("system-out") or ""
            reasons = [l.split(MARKER, 1)[1].strip() for l in out.splitlines() if MARKER in l]
            if message != "SKIP_REGULAR_EXPRESSION_MATCHED" or not reasons:
                print(f"NOT RUN: {name}: {message or 'no reason given'}")
                failed = True
                continue
            allowed = [why for glob, why in rules if fnmatch.fnmatchcase(name, glob)]
            print(f"SKIPPED: {name}: {reasons[-1]}")
            if ci and not allowed:
                print(f"  CI=true: {name} may not skip (tests/allowed-skips.txt does not name it)")
                failed = True
            elif allowed:
                print(f"  allowed: {allowed[0]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
