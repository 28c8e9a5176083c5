"""What the command line's commands share: their error and number formats."""

from __future__ import annotations

__all__ = ["CommandError", "count", "milliseconds", "one_line"]


class CommandError(Exception):
    """A problem the command line reports in one line, exiting with status 2."""


def count(n: int, noun: str) -> str:
    """``"1 iteration"``, ``"1,000 iterations"``."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def one_line(message: object) -> str:
    """``message`` with its white space (newlines included) folded."""
    return " ".join(str(message).split())


def milliseconds(seconds: float) -> str:
    """``"3.2 ms"`` below a second, ``"1.5 s"`` beyond."""
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"
