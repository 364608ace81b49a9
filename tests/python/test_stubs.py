"""The typing surface: _hfkit.pyi matches the extension, the package is typed and documented.

A stubtest-like check that needs nothing beyond the standard library: every public name of
the stub exists in the module with the same parameters, and the other way round. mypy runs on
the package and the stubs when it is installed (Debian package `mypy`).
"""

import ast
import inspect
import pathlib
import re
import subprocess
import sys

import pytest


def _stub_path():
    import hfkit

    return pathlib.Path(hfkit.__file__).with_name("_hfkit.pyi")


def _public(names):
    return {n for n in names if not n.startswith("_")}


def _stub_tree():
    tree = ast.parse(_stub_path().read_text())
    top = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            top[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            top[node.target.id] = node
    return top


def _stub_params(fn):
    args = fn.args
    return [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs if a.arg != "self"]


def _runtime_params(obj):
    """Parameter names from pybind11's signature line in the docstring."""
    doc = (obj.__doc__ or "").lstrip()
    m = re.match(r"[\w.]+\((.*?)\)\s*->", doc)
    assert m, f"no pybind11 signature in {obj!r}: {doc[:80]!r}"
    params = []
    for part in re.split(r",\s*(?![^\[]*\])", m.group(1)):
        name = part.split(":")[0].strip()
        if name and name != "self":
            params.append(name)
    return params


def test_module_names_match_stub():
    from hfkit import _hfkit

    stub = _stub_tree()
    assert _public(stub) == _public(dir(_hfkit)) - {"annotations"}


def test_class_members_match_stub():
    from hfkit import _hfkit

    for name, node in _stub_tree().items():
        if not isinstance(node, ast.ClassDef):
            continue
        cls = getattr(_hfkit, name)
        stub_members = set()
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                stub_members.add(item.name)
            elif isinstance(item, ast.AnnAssign):
                stub_members.add(item.target.id)
        runtime = {n for n in vars(cls) if not n.startswith("_")}
        assert _public(stub_members) == runtime, name
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                attr = getattr(cls, item.name)
                if isinstance(attr, property):
                    continue
                assert _stub_params(item) == _runtime_params(attr), f"{name}.{item.name}"


def test_function_params_match_stub():
    from hfkit import _hfkit

    for name, node in _stub_tree().items():
        if isinstance(node, ast.FunctionDef):
            assert _stub_params(node) == _runtime_params(getattr(_hfkit, name)), name


def test_package_is_typed_and_documented():
    import hfkit

    pkg = pathlib.Path(hfkit.__file__).parent
    assert (pkg / "py.typed").is_file()
    assert hfkit.__doc__
    for name in hfkit.__all__:
        obj = getattr(hfkit, name)
        assert obj.__doc__, f"hfkit.{name} has no docstring"
        if inspect.isclass(obj):
            for member, value in vars(obj).items():
                if member.startswith("_") or not (callable(value) or isinstance(value, property)):
                    continue
                assert getattr(value, "__doc__", None), f"hfkit.{name}.{member} has no docstring"
        elif callable(obj):
            assert inspect.signature(obj).return_annotation is not inspect.Signature.empty


def test_all_is_complete():
    import hfkit

    public = {n for n, v in vars(hfkit).items()
              if not n.startswith("_") and (inspect.isclass(v) or inspect.isfunction(v))
              and getattr(v, "__module__", "").startswith("hfkit")}
    assert public <= set(hfkit.__all__)


@pytest.mark.slow
def test_mypy():
    """mypy on the package and the stubs (Debian package `mypy`; ~30 s of CPU, so slow)."""
    try:
        import mypy  # noqa: F401
    except ImportError:
        pytest.skip("mypy is not installed (apt-get install mypy)")
    import hfkit

    pkg = pathlib.Path(hfkit.__file__).parent
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", "/dev/null",
         "--ignore-missing-imports", str(pkg / "__init__.py"), str(pkg / "_errors.py"),
         str(pkg / "_hfkit.pyi")],
        capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
