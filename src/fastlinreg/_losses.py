"""The losses by name, with their parameters checked.

With weights ``s_i`` (1 without ``sample_weight``) and residuals
``r_i = y_i − x_i·coef − intercept`` the data term of the objective is
``Σ_i s_i ℓ(r_i) / Σ_i s_i``, with ``ℓ`` one of

=========================  ===================================================
``squared_error``          ``r²`` (so that the term is the mean squared error)
``absolute_error``         ``|r|``
``huber``                  ``½ r²`` if ``|r| <= ε``, else ``ε·|r| − ½ ε²``
``quantile``               ``q·r`` if ``r >= 0``, else ``(q − 1)·r``
``epsilon_insensitive``    ``max(0, |r| − ε)``
=========================  ===================================================

(``ε`` is ``epsilon``, ``q`` is ``quantile``.) The kernels take a loss by its
code in ``_codes.LOSS_CODES``; how the non-smooth ones are minimised (through
smoothed versions) is the business of ``_datafits.StreamingLoss``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._codes import LOSS_CODES
from ._validation import check_choice, check_real

__all__ = ["LOSSES", "NON_SMOOTH", "Loss", "check_loss"]

LOSSES = LOSS_CODES
NON_SMOOTH = frozenset({"absolute_error", "quantile", "epsilon_insensitive"})


@dataclass(frozen=True)
class Loss:
    """A loss by name with its parameters (validated by :func:`check_loss`)."""

    name: str = "squared_error"
    epsilon: float = 0.1
    quantile: float = 0.5

    @property
    def code(self) -> int:
        return LOSS_CODES[self.name]

    @property
    def smooth(self) -> bool:
        return self.name not in NON_SMOOTH

    def grad_scale(self, y_scale: float) -> float:
        """The typical size of ``dℓ/dr``: what ``tol`` is relative to."""
        if self.name == "squared_error":
            return y_scale
        if self.name == "huber":
            return min(self.epsilon, y_scale) if y_scale > 0 else self.epsilon
        return 1.0  # |dℓ/dr| <= 1


def check_loss(loss: Any, epsilon: Any, quantile: Any) -> Loss:
    """A :class:`Loss`, or ``ValueError``/``TypeError`` naming the problem."""
    check_choice(loss, "loss", tuple(LOSS_CODES))
    eps = check_real(epsilon, "epsilon", "a non-negative finite float")
    if eps < 0:
        raise ValueError(
            f"epsilon must be a non-negative finite float, got {epsilon!r}"
        )
    if loss == "huber" and eps == 0:
        raise ValueError("epsilon must be > 0 for loss='huber'")
    q = check_real(quantile, "quantile", "a float in (0, 1)")
    if not 0 < q < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    return Loss(str(loss), eps, q)
