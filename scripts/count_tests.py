#!/usr/bin/env python3
"""Counts test cases in a meson testlog.json: prints 'P passed F failed'.

Each test executable prints Catch2's summary ("test cases: N | P passed | F
failed" or "All tests passed (... in N test cases)"), or, for the Python
tests, pytest's ("3 failed, 20 passed, 1 error in 4.2s": errors count as
failed); an executable that crashed or printed no summary counts as one
failed case.
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
        m_py = re.findall(r"^=*\s*((?:\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|deselected|warnings?),? ?)+) in [\d.]+s", out, re.M)
        if t.get("result") == "OK" and m_all:
            passed += int(m_all.group(1))
        elif m_py:
            counts = {k.rstrip("s"): int(n) for n, k in re.findall(r"(\d+) (\w+)", m_py[-1])}
            py_failed = counts.get("failed", 0) + counts.get("error", 0)
            passed += counts.get("passed", 0)
            failed += max(py_failed, 1 if t.get("result") != "OK" else 0)
        elif m_some:
            passed += int(m_some.group(2))
            failed += max(int(m_some.group(3)), 1 if t.get("result") != "OK" else 0)
        elif t.get("result") == "OK":
            passed += 1
        else:
            failed += 1
print(f"{passed} passed {failed} failed")
