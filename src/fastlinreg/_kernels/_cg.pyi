"""Type stubs of the compiled _cg module."""

import numpy as np
import numpy.typing as npt

def gram_cg(
    cov: npt.NDArray[np.float64],
    mean: npt.NDArray[np.float64],
    n: float,
    offset: npt.NDArray[np.float64],
    scale: npt.NDArray[np.float64],
    fit_intercept: bool,
    y_offset: float,
    theta: npt.NDArray[np.float64],
    gtol: float,
    max_iter: int,
) -> tuple[int, int, str, float, float, list[float]]: ...
