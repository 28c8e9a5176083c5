"""Type stubs of the compiled _cd module."""

import numpy as np
import numpy.typing as npt

def gram_cd(
    G: npt.NDArray[np.float64],
    g: npt.NDArray[np.float64],
    beta: npt.NDArray[np.float64],
    l1: float,
    l2: float,
    tol: float,
    max_sweeps: int,
    l1_prev: float = 0.0,
    l1_factor: npt.NDArray[np.float64] | None = None,
    lower: npt.NDArray[np.float64] | None = None,
    upper: npt.NDArray[np.float64] | None = None,
) -> tuple[int, float]: ...
