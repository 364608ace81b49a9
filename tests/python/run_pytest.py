"""Runs pytest for CTest, and fails where pytest alone would not.

pytest exits 5 when it collects nothing; CTest must treat that as a failure, and also a run in
which every test was skipped (a missing model or a broken import must never look green).
Usage: run_pytest.py [pytest args...]
"""

import sys

import pytest


class _Count:
    def __init__(self) -> None:
        self.passed = 0
        self.skipped = 0
        self.failed = 0

    def pytest_runtest_logreport(self, report):  # noqa: D401 - pytest hook
        if report.when == "call" and report.passed:
            self.passed += 1
        elif report.skipped:
            self.skipped += 1
        elif report.failed:
            self.failed += 1


def main() -> int:
    count = _Count()
    code = pytest.main(sys.argv[1:], plugins=[count])
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("run_pytest: pytest collected no tests: failing", file=sys.stderr)
        return 1
    if code == pytest.ExitCode.OK and count.passed == 0:
        print(f"run_pytest: no test passed ({count.skipped} skipped): failing", file=sys.stderr)
        return 1
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
