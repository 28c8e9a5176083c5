"""``import fastlinreg`` stays light: the optional and heavy libraries are
imported only by the functions that need them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("matplotlib", "tqdm", "pandas", "pyarrow", "dask", "sklearn", "scipy")


@pytest.mark.parametrize(
    "statement",
    [
        "import fastlinreg",
        "import fastlinreg.cli, fastlinreg.plotting, fastlinreg._io",
        "from fastlinreg.cli import main; main(['--version'])",
    ],
)
def test_import_does_not_pull_in_optional_libraries(statement: str) -> None:
    code = (
        "import json, sys\n"
        "try:\n"
        f"    {statement}\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == [], f"{statement!r} imported {loaded}"
