#!/usr/bin/env python3
"""Counts Catch2 test cases in a meson testlog.json: prints 'P passed F failed'.

Each test executable prints Catch2's summary ("test cases: N | P passed | F
failed" or "All tests passed (... in N test cases)"); an executable that
crashed or printed no summary counts as one failed case.
"""
import json
import re
import sys

passed = failed = 0
with open(sys.argv[1]) as f:
    for line in f:
        t = json.loads(line)
        out = t.get("stdout", "") or ""
        m_all = re.search(r"All tests passed \(\d+ assertions? in (\d+) test cases?\)", out)
        m_some = re.search(r"test cases:\s*(\d+)\s*\|\s*(\d+) passed\s*\|\s*(\d+) failed", out)
        if t.get("result") == "OK" and m_all:
            passed += int(m_all.group(1))
        elif m_some:
            passed += int(m_some.group(2))
            failed += max(int(m_some.group(3)), 1 if t.get("result") != "OK" else 0)
        elif t.get("result") == "OK":
            passed += 1
        else:
            failed += 1
print(f"{passed} passed {failed} failed")
