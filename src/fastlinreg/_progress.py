"""Watching a fit: the user's callback, and progress for ``verbose``.

``verbose=1`` shows a progress bar (tqdm when installed, else one line updated
in place on stderr) once a fit has run for ``_BAR_DELAY`` seconds; quick fits
print nothing. ``verbose=2`` prints one line per iteration on stdout.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["IterationInfo", "Watcher"]

F64 = npt.NDArray[np.float64]
_BAR_DELAY = 1.0


@dataclass(frozen=True)
class IterationInfo:
    """What a callback receives after each iteration (and at the start).

    Attributes
    ----------
    iteration : int
        Iterations done so far (0 at the starting point).
    loss : float
        The objective at the current coefficients.
    grad_norm : float
        Norm of its gradient in the solver's coordinates (compared with
        ``tol`` times the spread of y).
    coef : ndarray of shape (n_features,)
        Current coefficients (a copy: keep it if you like).
    intercept : float
        Current intercept.
    """

    iteration: int
    loss: float
    grad_norm: float
    coef: F64
    intercept: float


class Watcher:
    """The solver's monitor: calls the callback, draws progress."""

    def __init__(
        self,
        callback: Callable[[IterationInfo], Any] | None,
        verbose: int,
        max_iter: int,
        to_model: Callable[[F64], tuple[F64, float]],
    ) -> None:
        self.callback = callback
        self.verbose = int(verbose)
        self.max_iter = max_iter
        self.to_model = to_model
        self.t0 = time.perf_counter()
        self.bar: Any = None
        self.plain_bar = False

    @property
    def active(self) -> bool:
        return self.callback is not None or self.verbose > 0

    def __call__(self, iteration: int, theta: F64, loss: float, gnorm: float) -> bool:
        if self.verbose >= 2:
            print(f"iteration {iteration:6d}  loss {loss:.10g}  |grad| {gnorm:.3e}")
        elif self.verbose == 1:
            self._progress(iteration, loss, gnorm)
        if self.callback is None:
            return False
        coef, intercept = self.to_model(theta)
        info = IterationInfo(
            iteration, float(loss), float(gnorm), coef.copy(), intercept
        )
        return self.callback(info) is True

    def _progress(self, iteration: int, loss: float, gnorm: float) -> None:
        if self.bar is None and not self.plain_bar:
            if time.perf_counter() - self.t0 < _BAR_DELAY:
                return
            try:
                from tqdm.auto import tqdm
            except ImportError:
                self.plain_bar = True
            else:
                self.bar = tqdm(total=self.max_iter, initial=iteration, desc="fit")
        if self.bar is not None:
            self.bar.n = iteration
            self.bar.set_postfix(loss=f"{loss:.6g}", grad=f"{gnorm:.2e}", refresh=True)
        else:
            sys.stderr.write(
                f"\rfit: iteration {iteration}/{self.max_iter}  loss {loss:.6g}  "
                f"|grad| {gnorm:.2e}"
            )
            sys.stderr.flush()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.plain_bar:
            sys.stderr.write("\n")
            sys.stderr.flush()
