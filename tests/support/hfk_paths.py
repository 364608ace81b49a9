"""Where the source tree and the shared data are, for every Python test and the local Hub.

The same lookup as tests/support/test_support.h (tests/README.md):
  source tree: $HFK_SOURCE_DIR, else the tree this file is in;
  shared data: $HFK_SHARED_DIR, else <source>/../shared.
CTest sets both variables for every test; the fallbacks serve a script run by hand.
"""

import os
import pathlib

SOURCE_DIR = pathlib.Path(
    os.environ.get("HFK_SOURCE_DIR") or pathlib.Path(__file__).resolve().parents[2]
)
SHARED_DIR = pathlib.Path(os.environ.get("HFK_SHARED_DIR") or SOURCE_DIR.parent / "shared")
