"""Builds the _hfkit extension against an installed (or built) libhfkit.

Where libhfkit is found, first match wins:
  1. HFKIT_PREFIX: an install prefix (PREFIX/include/hfkit/hfkit.h, PREFIX/lib*/libhfkit.so);
  2. HFKIT_INCLUDE_DIRS and HFKIT_LIB_DIR (os.pathsep-separated include dirs; e.g. a build
     tree: SRC/capi/include and BUILD/capi/include, lib dir BUILD);
  3. pkg-config hfkit.
The extension links the shared library (never the engine statically) with an rpath to its
directory, and is compiled with -fvisibility=hidden.
"""

import glob
import os
import shlex
import subprocess

import pybind11
from setuptools import Extension, setup


def _pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "hfkit"], check=True, capture_output=True,
                             text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    return shlex.split(out)


def _locate():
    prefix = os.environ.get("HFKIT_PREFIX")
    if prefix:
        libs = sorted(glob.glob(os.path.join(prefix, "lib*", "**", "libhfkit.so"), recursive=True))
        if not libs:
            raise SystemExit(f"HFKIT_PREFIX={prefix}: no lib*/libhfkit.so under it")
        return [os.path.join(prefix, "include")], [os.path.dirname(libs[0])]
    inc = os.environ.get("HFKIT_INCLUDE_DIRS")
    lib = os.environ.get("HFKIT_LIB_DIR")
    if inc and lib:
        return inc.split(os.pathsep), [lib]
    cflags, libs = _pkg_config("--cflags-only-I"), _pkg_config("--libs-only-L")
    if cflags is None or libs is None:
        raise SystemExit("libhfkit not found: set HFKIT_PREFIX (or HFKIT_INCLUDE_DIRS and "
                         "HFKIT_LIB_DIR), or make `pkg-config hfkit` work")
    return [f[2:] for f in cflags], [f[2:] for f in libs]


include_dirs, library_dirs = _locate()

setup(
    ext_modules=[
        Extension(
            "hfkit._hfkit",
            ["src/_hfkit.cpp"],
            include_dirs=[pybind11.get_include(), *include_dirs],
            library_dirs=library_dirs,
            runtime_library_dirs=library_dirs,
            libraries=["hfkit"],
            language="c++",
            extra_compile_args=["-std=c++17", "-fvisibility=hidden", "-O2"],
        )
    ],
)
