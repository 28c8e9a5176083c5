"""The penalty ``alpha · (l1_ratio · ‖coef‖₁ + ½ (1 − l1_ratio) · ‖coef‖²)``.

Never applied to the intercept. In the solver's coordinates (see ``_coords``)
it becomes per-coordinate L1 and L2 weights, which the Newton loop reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._coords import Coordinates
from ._typing import F64
from ._validation import check_choice, check_real

__all__ = ["PENALTIES", "Penalty", "check_penalty"]

PENALTIES = ("l2", "l1", "elasticnet", None)

# The largest penalty weight per coordinate (see Penalty.in_theta).
_MAX_WEIGHT = 1e300


@dataclass(frozen=True)
class Penalty:
    """``alpha · (l1_ratio · ‖coef‖₁ + ½ (1 − l1_ratio) · ‖coef‖²)``."""

    alpha: float = 0.0
    l1_ratio: float = 0.0

    @property
    def l1(self) -> float:
        return self.alpha * self.l1_ratio

    @property
    def l2(self) -> float:
        return self.alpha * (1.0 - self.l1_ratio)

    @property
    def active(self) -> bool:
        return self.alpha > 0

    def in_theta(self, coords: Coordinates) -> tuple[F64, F64]:
        """Per-coordinate L1 and L2 weights in the solver's ``theta``.

        ``coef = v / scale``, so ``l1·|coef_j| = (l1 / scale_j)·|v_j|`` and
        ``½ l2·coef_j² = ½ (l2 / scale_j²)·v_j²``; the intercept gets 0.
        """
        extra = 1 if coords.fit_intercept else 0
        l1 = np.zeros(coords.d + extra)
        l2 = np.zeros(coords.d + extra)
        with np.errstate(over="ignore"):
            l1[: coords.d] = self.l1 / coords.scale
            l2[: coords.d] = self.l2 / coords.scale**2
        # A weight beyond float64 (a huge alpha on a narrow column) pins its
        # coefficient at 0 just as well as a very large finite one.
        np.minimum(l1, _MAX_WEIGHT, out=l1)
        np.minimum(l2, _MAX_WEIGHT, out=l2)
        return l1, l2


def check_penalty(penalty: Any, alpha: Any, l1_ratio: Any) -> Penalty:
    """A :class:`Penalty`, or ``ValueError``/``TypeError`` naming the problem."""
    check_choice(penalty, "penalty", PENALTIES)
    a = check_real(alpha, "alpha", "a non-negative finite float")
    if a < 0:
        raise ValueError(f"alpha must be a non-negative finite float, got {alpha!r}")
    ratio = check_real(l1_ratio, "l1_ratio", "a float in [0, 1]")
    if not 0 <= ratio <= 1:
        raise ValueError(f"l1_ratio must be in [0, 1], got {l1_ratio!r}")
    if penalty is None:
        return Penalty(0.0, 0.0)
    ratio = {"l2": 0.0, "l1": 1.0}.get(penalty, ratio)
    return Penalty(a, ratio)
