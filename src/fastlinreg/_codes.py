"""The codes Python and the compiled kernels share, written down once.

The kernels take a loss as a small integer and report how a solver stopped by
an index into a tuple of names; both sides read these tables (the compiled
modules at import), so a code can never mean one thing in Python and another
in C.
"""

from __future__ import annotations

__all__ = ["LOSS_CODES", "LOSS_NAMES", "STOP_REASONS"]

# loss name -> the code robust_loss_gradient takes
LOSS_CODES: dict[str, int] = {
    "squared_error": 0,
    "absolute_error": 1,
    "huber": 2,
    "quantile": 3,
    "epsilon_insensitive": 4,
}
LOSS_NAMES: tuple[str, ...] = tuple(sorted(LOSS_CODES, key=LOSS_CODES.__getitem__))

# How a solver run ends; gram_cg returns one of the first four.
STOP_REASONS: tuple[str, ...] = (
    "converged",
    "max_iter",
    "diverged",
    "line_search_failed",
    "callback",
)
