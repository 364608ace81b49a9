#!/bin/sh
# The offline install path of the README: a venv made with Debian's python3 and
# --system-site-packages (numpy, setuptools, wheel, pybind11 come from Debian), then
# `pip install --no-build-isolation` of bindings/python against a DESTDIR install of this
# build found through HFKIT_PREFIX; then import it and generate outside the source tree.
# Usage: venv_install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1 src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/root
DESTDIR=$root cmake --install "$build" --component Unspecified >/dev/null
pc=$(find "$root" -name hfkit.pc | head -n 1)
[ -n "$pc" ] || { echo "hfkit.pc was not installed"; exit 1; }
prefix=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=prefix hfkit)
# pkgconf (without a sysroot set) prints the configured prefix: re-root it in the DESTDIR.
case "$prefix" in "$root"/*) ;; *) prefix=$root$prefix ;; esac
# A copy of the package source: an in-tree setuptools build would write build/ and
# *.egg-info into the repository.
cp -r "$src/bindings/python" "$work/pkg"
rm -rf "$work/pkg/build" "$work/pkg"/*.egg-info
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
HFKIT_PREFIX=$prefix PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    "$work/venv/bin/python" -m pip install --no-build-isolation --no-deps -q "$work/pkg"
cd "$work"
env -u PYTHONPATH "$work/venv/bin/python" - "$src/models/aidreams260K" <<'PY'
import pathlib, sys
import hfkit
assert pathlib.Path(hfkit.__file__).is_relative_to(pathlib.Path(sys.prefix)), hfkit.__file__
assert (pathlib.Path(hfkit.__file__).parent / "py.typed").is_file()
assert (pathlib.Path(hfkit.__file__).parent / "_hfkit.pyi").is_file()
with hfkit.Model.from_pretrained(sys.argv[1]) as m:
    text = m.generate("", max_new_tokens=10)
assert text.startswith('"Echoes of vectors unfold'), text
print("venv install ok:", hfkit.__file__, repr(text))
PY
