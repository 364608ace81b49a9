#!/usr/bin/env bash
# Builds hfkit and runs every test: a release build with -Werror, then the same tests built with
# AddressSanitizer + UndefinedBehaviorSanitizer, then the concurrency tests under
# ThreadSanitizer. This is what .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
export HFK_SHARED_DIR="${HFK_SHARED_DIR:-$(cd .. && pwd)/shared}"
[ -d "$HFK_SHARED_DIR" ] || { echo "shared data not found at $HFK_SHARED_DIR"; exit 1; }
jobs=$(nproc)
# CTest runs one test more than there are cores: many tests wait on a local server, a child
# process or a timeout (the Hub's faults, the HTTP server's), and with one test a core the cores
# sat idle a tenth of the time (2 cores: the release tests took 153 s instead of 173, ASan's 190
# instead of 218).
test_jobs=$((jobs + 1))

if [ -f tests/hub/js/package-lock.json ]; then
    (cd tests/hub/js && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ -f tests/server/js/package-lock.json ]; then
    (cd tests/server/js && npm ci --no-audit --no-fund --loglevel=error)
fi
# The Rust tokenizers library (napi build), the oracle of the tokenizer tests.
if [ -f tests/tokenizer/rust_oracle/package-lock.json ]; then
    (cd tests/tokenizer/rust_oracle && npm ci --no-audit --no-fund --loglevel=error)
fi

# Runs ctest in build dir $1 with the remaining arguments, then lists what was skipped: CTest's
# summary names every test that did not run ("Skipped"); tests skipped inside a pytest run that
# passed are in $1/test-skips (tests/python/run_pytest.py). A failure still fails the script.
run_ctest() {
    local dir=$1 status=0
    shift
    rm -rf "$dir/test-skips"
    (cd "$dir" && ctest "$@") || status=$?
    if compgen -G "$dir/test-skips/*.txt" >/dev/null; then
        echo "== tests skipped inside passing pytest suites ($dir) =="
        cat "$dir"/test-skips/*.txt
    else
        echo "== no test skipped inside a pytest suite ($dir) =="
    fi
    return "$status"
}

# LLVM's lld links the ~100 test programs in about half the time of GNU ld (both compilers).
lld=(-DCMAKE_EXE_LINKER_FLAGS=-fuse-ld=lld -DCMAKE_SHARED_LINKER_FLAGS=-fuse-ld=lld
     -DCMAKE_MODULE_LINKER_FLAGS=-fuse-ld=lld)

stage_start=0  # seconds since this script started, when the stage began
stage_done() { echo "== $1 took $((SECONDS - stage_start)) s (total $SECONDS s) =="; stage_start=$SECONDS; }
stage_done "install"

echo "== release build (-Werror) =="
# -O2: g++ 12 reports false -Wfree-nonheap-object positives in libstdc++ code at -O3.
cmake -S . -B build/ci -G Ninja -DCMAKE_BUILD_TYPE=Release -DHFK_WERROR=ON \
    -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
    "${lld[@]}" -DHFK_SHARED_DIR="$HFK_SHARED_DIR" >/dev/null
cmake --build build/ci -j "$jobs"
run_ctest build/ci -j "$test_jobs" --output-on-failure --timeout 300
stage_done "release build and tests"

# The sanitizer builds use clang: it compiles this code base (gtest-heavy tests above all) about
# twice as fast as g++ under the sanitizers, and a second compiler's warnings (-Werror) catch
# what the first misses. The release build above stays g++, Debian's compiler.
echo "== AddressSanitizer + UndefinedBehaviorSanitizer (clang) =="
# -g1 (line tables) is all a sanitizer report needs and compiles much faster than -g.
# HFK_TEST_PER_CASE=OFF: each GoogleTest program runs as one test, all its cases in one process.
# An instrumented program takes ~0.1 s to start and exit, and a case of its own loads its
# tokenizers and models again: the ASan programs ran in 307 s so (each alone, added up) against
# 369 s case by case.
CC=clang CXX=clang++ cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHFK_SANITIZE=ON \
    -DHFK_WERROR=ON -DHFK_BUILD_BENCH=OFF -DHFK_BUILD_PYTHON=OFF -DCMAKE_CXX_FLAGS=-O1 \
    -DCMAKE_C_FLAGS=-O1 -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_C_FLAGS_DEBUG=-g1 "${lld[@]}" \
    -DHFK_TEST_PER_CASE=OFF -DHFK_SHARED_DIR="$HFK_SHARED_DIR" >/dev/null
cmake --build build/asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_ctest build/asan -j "$test_jobs" --output-on-failure --timeout 400 -LE "slow|python|abi|nosan"
stage_done "ASan+UBSan build and tests"

echo "== ThreadSanitizer (clang; the tests labelled tsan, among them the HTTP server under load) =="
CC=clang CXX=clang++ cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DHFK_TSAN=ON \
    -DHFK_WERROR=ON -DHFK_BUILD_BENCH=OFF -DHFK_BUILD_PYTHON=OFF -DCMAKE_CXX_FLAGS=-O1 \
    -DCMAKE_C_FLAGS=-O1 -DCMAKE_CXX_FLAGS_DEBUG=-g1 -DCMAKE_C_FLAGS_DEBUG=-g1 "${lld[@]}" \
    -DHFK_TEST_PER_CASE=OFF -DHFK_SHARED_DIR="$HFK_SHARED_DIR" >/dev/null
cmake --build build/tsan -j "$jobs" --target test_concurrency test_model_states test_file_follower \
    test_model_lifecycle test_engine_concurrency test_engine_api test_engine_prefix_concurrency \
    test_constraint_cache test_thread_pool hfkit_cli
# tests/tsan.supp: the uninstrumented HTTP library's own calls (why there).
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp" \
    run_ctest build/tsan -j "$test_jobs" --output-on-failure --timeout 300 -L tsan
stage_done "TSan build and tests"
