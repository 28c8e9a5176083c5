"""The penalty ``alpha · (l1_ratio · ‖coef‖₁ + ½ (1 − l1_ratio) · ‖coef‖²)``,
and the bounds ``lower ≤ coef ≤ upper`` (``positive=True``: ``coef ≥ 0``).

Never applied to the intercept. In the solver's coordinates (see ``_coords``)
they become per-coordinate L1 and L2 weights and bounds, which the Newton
loop reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ._coords import Coordinates
from ._typing import F64
from ._validation import check_choice, check_floats, check_real

__all__ = [
    "PENALTIES",
    "Bounds",
    "Penalty",
    "bounds_from_json",
    "bounds_to_json",
    "check_bounds",
    "check_penalty",
    "per_target_alphas",
    "per_target_penalties",
]

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


def per_target_alphas(alpha: Any) -> tuple[float, ...] | None:
    """``alpha`` given as a 1-D array or list: one value per target, each
    checked as ``alpha``; None for a single value."""
    if not isinstance(alpha, list | tuple | np.ndarray) or np.ndim(alpha) != 1:
        return None
    values = tuple(
        check_real(a, "alpha", "a non-negative finite float, or one per target")
        for a in (alpha.tolist() if isinstance(alpha, np.ndarray) else alpha)
    )
    if not values or min(values) < 0:
        raise ValueError(
            "alpha must be a non-negative finite float or a non-empty array of "
            f"them, one per target; got {alpha!r:.80}"
        )
    return values


def per_target_penalties(
    penalty: Any, alphas: tuple[float, ...] | None, l1_ratio: Any
) -> tuple[Penalty, ...] | None:
    """The penalty of each target of ``alphas`` (None: one for all)."""
    if alphas is None:
        return None
    return tuple(check_penalty(penalty, a, l1_ratio) for a in alphas)


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


@dataclass(frozen=True)
class Bounds:
    """``lower ≤ coef ≤ upper``, each a float or one value per feature
    (±inf where there is none); the intercept is free."""

    lower: Any
    upper: Any

    def in_theta(self, coords: Coordinates) -> tuple[F64, F64]:
        """The bounds on the solver's ``theta`` (``coef = v / scale``, so
        ``v_j ∈ scale_j · [lower_j, upper_j]``); ``ValueError`` when their
        length is not the number of features."""
        d = coords.d
        extra = 1 if coords.fit_intercept else 0
        lo = np.full(d + extra, -np.inf)
        hi = np.full(d + extra, np.inf)
        for name, value, out in (("lower", self.lower, lo), ("upper", self.upper, hi)):
            arr = np.asarray(value, dtype=np.float64)
            if arr.ndim == 1 and arr.shape[0] != d:
                raise ValueError(
                    f"bounds: the {name} bounds have {arr.shape[0]} entries, but "
                    f"X has {d} features"
                )
            with np.errstate(invalid="ignore"):  # (inf · 0 does not occur: scale > 0)
                out[:d] = arr * coords.scale
        return lo, hi


def check_bounds(positive: Any, bounds: Any) -> Bounds | None:
    """The :class:`Bounds` of ``positive`` and ``bounds``, None for none, or
    ``ValueError``/``TypeError`` naming the problem."""
    if not isinstance(positive, bool | np.bool_):
        raise TypeError(f"positive must be True or False, got {positive!r}")
    if bounds is None:
        return Bounds(0.0, np.inf) if positive else None
    if isinstance(bounds, str | bytes) or not (
        isinstance(bounds, tuple | list) and len(bounds) == 2
    ):
        raise TypeError(
            "bounds must be None or a pair (lower, upper) of floats or arrays "
            f"of one value per feature, got {bounds!r:.80}"
        )
    sides = []
    for name, value in zip(("lower", "upper"), bounds, strict=True):
        arr = check_floats(
            value, f"bounds: the {name} bound", "a float or an array of floats"
        )
        if arr.ndim > 1 or np.isnan(arr).any() or arr.size == 0:
            raise ValueError(
                f"bounds: the {name} bound must be a float or a 1-D array of "
                f"numbers (±inf for none), got {value!r:.60}"
            )
        sides.append(arr if arr.ndim else float(arr))
    lower, upper = sides
    if positive:
        lower = np.maximum(lower, 0.0)  # (positive=True: coef ≥ 0 as well)
    lo, hi = np.asarray(lower), np.asarray(upper)
    if lo.shape != hi.shape and lo.ndim and hi.ndim:
        raise ValueError(
            f"bounds: lower has {lo.shape[0]} entries and upper {hi.shape[0]}"
        )
    if np.any(lo > hi) or np.any(lo == np.inf) or np.any(hi == -np.inf):
        raise ValueError(
            "bounds: every lower bound must be at most its upper bound, below "
            f"+inf, and every upper above -inf; got {bounds!r:.80}"
        )
    return Bounds(lower, upper)


def bounds_to_json(bounds: Any) -> list[Any] | None:
    """``bounds`` as JSON: ``[lower, upper]``, each a number or a list of
    them, infinities as the strings ``"inf"``/``"-inf"`` (JSON has none);
    None for no bounds, or bounds that are not numbers."""
    if bounds is None:
        return None

    def side(value: Any) -> Any:
        arr = np.asarray(value, dtype=np.float64)
        items = [float(v) if np.isfinite(v) else str(float(v)) for v in arr.reshape(-1)]
        return items if arr.ndim else items[0]

    try:
        return [side(v) for v in bounds]
    except (TypeError, ValueError):
        return None


def bounds_from_json(saved: Any) -> tuple[Any, Any]:
    """The ``(lower, upper)`` of :func:`bounds_to_json`'s JSON."""

    def side(value: Any) -> Any:
        return [float(v) for v in value] if isinstance(value, list) else float(value)

    lower, upper = saved
    return side(lower), side(upper)
