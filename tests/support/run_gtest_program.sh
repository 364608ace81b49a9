#!/bin/sh
# Runs a GoogleTest program, all of its cases (or those of --gtest_filter) in one process
# (HFK_TEST_PER_CASE=OFF and hfk_add_isa_runs, tests/CMakeLists.txt), and reports to CTest: the
# program's own exit status when a case failed, 77 (the test's SKIP_RETURN_CODE) when every case
# passed but one or more skipped, else 0.
# CTest's SKIP_REGULAR_EXPRESSION cannot do this: a match there reports "Skipped" even when
# the program failed, which would hide the failure.
# Usage: run_gtest_program.sh PROGRAM [ARG...]
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
"$@" >"$out" 2>&1
status=$?
cat "$out"
[ "$status" -eq 0 ] || exit "$status"
if grep -q '^\[  SKIPPED \]' "$out"; then
    exit 77
fi
exit 0
