"""Runs pytest for CTest, and fails where pytest alone would not, and makes skips visible.

pytest exits 5 when it collects nothing; CTest must treat that as a failure, and also a run in
which every test was skipped (a missing model or a broken import must never look green).
A run in which only some tests were skipped passes, but never silently: every skipped test is
printed with its reason, and written to $HFK_SKIP_REPORT_DIR/<label>.txt when that is set (CTest
sets it to <build>/test-skips; scripts/test.sh prints those files after each ctest run).
Usage: run_pytest.py [--hfk-label NAME] [pytest args...]
"""

import os
import pathlib
import re
import sys

import pytest


class _Count:
    def __init__(self) -> None:
        self.passed = 0
        self.skipped = 0
        self.failed = 0
        self.skips = []  # (test id, reason)

    def pytest_runtest_logreport(self, report):  # noqa: D401 - pytest hook
        if report.when == "call" and report.passed:
            self.passed += 1
        elif report.skipped:
            self.skipped += 1
            if hasattr(report, "wasxfail"):
                reason = "expected failure: " + str(report.wasxfail)
            elif isinstance(report.longrepr, tuple):
                reason = str(report.longrepr[2])
            else:
                reason = str(report.longrepr)
            self.skips.append((report.nodeid, reason))
        elif report.failed:
            self.failed += 1


def _report_skips(label: str, skips) -> None:
    """Prints the skips and writes (or, with none, removes a stale) report file."""
    lines = [f"SKIPPED {label}: {nodeid}: {reason}" for nodeid, reason in skips]
    if lines:
        print(f"run_pytest: {len(skips)} test(s) skipped in {label}:")
        for line in lines:
            print("  " + line)
    directory = os.environ.get("HFK_SKIP_REPORT_DIR")
    if not directory:
        return
    path = pathlib.Path(directory) / (re.sub(r"[^A-Za-z0-9_.-]", "_", label) + ".txt")
    if lines:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(line + "\n" for line in lines))
    elif path.exists():
        path.unlink()


def main() -> int:
    args = sys.argv[1:]
    label = "pytest"
    if len(args) >= 2 and args[0] == "--hfk-label":
        label, args = args[1], args[2:]
    count = _Count()
    code = pytest.main(args, plugins=[count])
    _report_skips(label, count.skips)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("run_pytest: pytest collected no tests: failing", file=sys.stderr)
        return 1
    if code == pytest.ExitCode.OK and count.passed == 0:
        print(f"run_pytest: no test passed ({count.skipped} skipped): failing", file=sys.stderr)
        return 1
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
