"""The package keeps its shape: layered imports, no cycles, no halls.

The rules and the layer table live in ``tools/architecture.py`` (run it for a
report); this test fails on any violation. It reads the source tree, so it
runs from a checkout (CI's test command), not against a wheel's copy of the
tests.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parent.parent / "tools" / "architecture.py"


def _tool():
    if not TOOL.is_file() or not (TOOL.parent.parent / "src" / "fastlinreg").is_dir():
        pytest.skip("needs the source tree (tools/ and src/)")
    spec = importlib.util.spec_from_file_location("architecture", TOOL)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["architecture"] = module  # (its dataclasses look it up)
    spec.loader.exec_module(module)
    return module


def test_every_module_has_a_layer_and_imports_only_below_it():
    tool = _tool()
    graph = tool.import_graph()
    assert "linear_model" in graph  # the tool read the package
    assert "_fit" in graph
    assert tool.cycles(graph) == []
    problems = [v for v in tool.violations() if "import" in v or "layer" in v]
    assert problems == []


def test_modules_classes_and_functions_stay_small():
    tool = _tool()
    assert [
        v for v in tool.violations() if "import" not in v and "layer" not in v
    ] == []


def test_the_checker_sees_an_arrow_up_and_a_cycle(tmp_path, monkeypatch):
    """The checker itself: a module importing one above it, and two modules
    importing each other, are reported."""
    tool = _tool()
    pkg = tmp_path / "src" / "fastlinreg"
    pkg.mkdir(parents=True)
    (pkg / "_typing.py").write_text("from . import linear_model\n")
    (pkg / "linear_model.py").write_text("from ._typing import F64\n")
    monkeypatch.setattr(tool, "ROOT", tmp_path)
    monkeypatch.setattr(tool, "PACKAGE", pkg)
    found = tool.violations()
    assert any("_typing (leaves) imports linear_model (face)" in v for v in found)
    assert any(v.startswith("import cycle: _typing <-> linear_model") for v in found)
