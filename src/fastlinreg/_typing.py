"""Type aliases shared by the modules (a leaf: it imports nothing of ours)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

__all__ = ["F64", "FloatArray", "Objective"]

F64 = npt.NDArray[np.float64]
# What the kernels read: float32 and float64, independently for X and y.
FloatArray = npt.NDArray[np.float32] | npt.NDArray[np.float64]
# theta -> (value, gradient): what the first-order loops minimise.
Objective = Callable[[F64], tuple[float, F64]]
