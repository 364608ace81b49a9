#!/bin/sh
# Installs the build into a DESTDIR, then builds two consumers against that tree only:
# a C program with `pkg-config --cflags --libs hfkit`, and a CMake project with find_package(hfkit).
# Usage: installed_consumer.sh BUILD_DIR SOURCE_DIR C_COMPILER
set -eu
build=$1 src=$2 cc=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
DESTDIR=$root cmake --install "$build" --component Unspecified >/dev/null
pc=$(find "$root" -name hfkit.pc | head -n 1)
[ -n "$pc" ] || { echo "hfkit.pc was not installed"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs hfkit)
echo "pkg-config: $flags"
libdir=$(pkg-config --variable=libdir hfkit)
libdir=${libdir#"$root"}  # pkgconf applies the sysroot to variables too; pkg-config does not
prefix=$(pkg-config --variable=prefix hfkit)
prefix=${prefix#"$root"}
"$cc" -std=c99 -Wall -Wextra -pedantic -Werror "$src/tests/capi/installed_consumer.c" $flags \
    -o "$work/consumer"
LD_LIBRARY_PATH="$root$libdir" "$work/consumer"
# The installed library carries the SONAME libhfkit.so.0.
objdump -p "$root$libdir/libhfkit.so" | grep -q 'SONAME *libhfkit.so.0$'

# find_package(hfkit) from the same tree.
mkdir -p "$work/cmake-consumer"
cat > "$work/cmake-consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.25)
project(consumer C)
find_package(hfkit 0.1 REQUIRED)
add_executable(consumer consumer.c)
target_link_libraries(consumer PRIVATE hfkit::hfkit)
CM
cp "$src/tests/capi/installed_consumer.c" "$work/cmake-consumer/consumer.c"
cmake -S "$work/cmake-consumer" -B "$work/cmake-build" -DCMAKE_PREFIX_PATH="$root$prefix" \
    -DCMAKE_C_COMPILER="$cc" >/dev/null
cmake --build "$work/cmake-build" >/dev/null
LD_LIBRARY_PATH="$root$libdir" "$work/cmake-build/consumer"
echo "installed tree ok"
