#!/bin/sh
# Builds examples/rust offline with cargo against the built libhfkit, runs it on the default
# model, compares its output with the reference text, and checks its error path. Without
# cargo this FAILS (CI must install Debian's `cargo` package); it never skips.
# Usage: rust_example.sh SOURCE_DIR LIB_DIR TARGET_DIR MODEL_DIR FORWARD_JSON N
set -eu
src=$1 libdir=$2 target=$3 model=$4 forward=$5 n=$6
cargo=$(command -v cargo || true)
[ -n "$cargo" ] || { [ -x "$HOME/.cargo/bin/cargo" ] && cargo=$HOME/.cargo/bin/cargo; } || true
if [ -z "$cargo" ]; then
    echo "FAIL: cargo not found (install the Debian package 'cargo')"
    exit 1
fi
echo "using $cargo ($("$cargo" --version))"
# The lock file is committed: --locked keeps cargo from rewriting the source tree.
HFKIT_LIB_DIR=$libdir CARGO_TARGET_DIR=$target \
    "$cargo" build --offline --locked --quiet --manifest-path "$src/examples/rust/Cargo.toml"
bin=$target/debug/hfkit-generate
/usr/bin/python3 "$src/tests/examples/run_and_compare.py" "$model" "$forward" "$n" \
    --env "LD_LIBRARY_PATH=$libdir" -- "$bin" "$model" "" "$n"
# Errors come back as values with the status name and message, and a non-zero exit.
set +e
err=$(LD_LIBRARY_PATH=$libdir "$bin" "$target/no-such-model-dir" 2>&1 >/dev/null)
rc=$?
set -e
case "$err" in
    *"error: HFK_E_"*) ;;
    *) echo "FAIL: unexpected error output: $err"; exit 1 ;;
esac
[ "$rc" -ne 0 ] || { echo "FAIL: a missing model exited 0"; exit 1; }
echo "ok: error path ($err, exit $rc)"
