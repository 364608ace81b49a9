#!/bin/sh
# Installs the build into a DESTDIR, builds examples/c/generate.c against that tree with
# `pkg-config --cflags --libs hfkit` only, runs it on the default model and compares its output
# with the reference greedy text.
# Usage: pkgconfig_example.sh BUILD_DIR SOURCE_DIR C_COMPILER MODEL_DIR FORWARD_JSON N
set -eu
build=$1 src=$2 cc=$3 model=$4 forward=$5 n=$6
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
DESTDIR=$root cmake --install "$build" --component Unspecified >/dev/null
pc=$(find "$root" -name hfkit.pc | head -n 1)
[ -n "$pc" ] || { echo "hfkit.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs hfkit)
echo "pkg-config --cflags --libs hfkit: $flags"
"$cc" -std=c99 -Wall -Wextra -pedantic -Werror "$src/examples/c/generate.c" $flags -o "$work/generate"
libdir=$(pkg-config --variable=libdir hfkit)
# pkgconf prefixes variables with the sysroot, pkg-config does not: accept both.
case "$libdir" in "$root"/*) ;; *) libdir=$root$libdir ;; esac
/usr/bin/python3 "$src/tests/examples/run_and_compare.py" "$model" "$forward" "$n" \
    --env "LD_LIBRARY_PATH=$libdir" -- "$work/generate" "$model" "" "$n"
