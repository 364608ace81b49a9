#!/usr/bin/python3
"""The symbols libhfkit.so exports must be exactly the functions hfkit.h declares.

Usage: check_exports.py LIBRARY HEADER
"""
import re
import subprocess
import sys


def declared_functions(header_text: str) -> set[str]:
    # Drop comments, then take every HFK_API declaration's function name.
    text = re.sub(r"/\*.*?\*/", "", header_text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    names = set()
    for decl in re.findall(r"\bHFK_API\b[^;{]*?;", text, flags=re.S):
        if decl.startswith("HFK_API __"):
            continue  # the macro definitions themselves
        m = re.search(r"\b(hfk_\w+)\s*\(", decl)
        if m:
            names.add(m.group(1))
    return names


def exported_symbols(library: str) -> set[str]:
    out = subprocess.run(["nm", "-D", "--defined-only", library], check=True,
                         capture_output=True, text=True).stdout
    names = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 3:
            names.add(parts[2].split("@")[0])
    return names


def main() -> int:
    library, header = sys.argv[1], sys.argv[2]
    declared = declared_functions(open(header, encoding="utf-8").read())
    exported = exported_symbols(library)
    # The linker adds the version node as an absolute symbol.
    exported.discard("HFKIT_0")
    extra = sorted(exported - declared)
    missing = sorted(declared - exported)
    print(f"{len(declared)} functions declared, {len(exported)} symbols exported")
    for name in extra:
        print(f"exported but not declared: {name}")
    for name in missing:
        print(f"declared but not exported: {name}")
    if not declared:
        print("no declarations found: the header parser is broken")
        return 1
    return 1 if extra or missing else 0


if __name__ == "__main__":
    sys.exit(main())
