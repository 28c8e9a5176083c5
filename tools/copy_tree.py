"""Copy the source tree as a fresh clone would have it: ``copy_tree.py ROOT DST``.

In a git checkout: the tracked files and the new ones ``.gitignore`` does not
exclude (uncommitted edits included), so nothing built or cached in the
working tree comes along. Elsewhere (an unpacked archive, a copy made by this
script): everything but what builds and test runs leave behind.
Used by tools/check_dist.sh and tools/sanitize.sh.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

BUILD_LEFTOVERS = (
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "*.so", "*.pyd",
    "*.c", "*.html", ".*_cache", ".hypothesis", "*.log",
)  # fmt: skip


def copy_tree(root: str, dst: str) -> None:
    listed = subprocess.run(
        [
            "git",
            "-C",
            root,
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0:
        for rel in filter(None, listed.stdout.decode().split("\0")):
            src = os.path.join(root, rel)
            if os.path.isfile(src):  # not deleted meanwhile
                os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
                shutil.copy2(src, os.path.join(dst, rel))
    else:
        shutil.copytree(root, dst, ignore=shutil.ignore_patterns(*BUILD_LEFTOVERS))


if __name__ == "__main__":
    copy_tree(*sys.argv[1:3])
