"""Type stubs of the compiled _mse module."""

import numpy as np
import numpy.typing as npt

def loss_gradient(
    X: npt.NDArray[np.floating],
    y: npt.NDArray[np.floating],
    coef: npt.NDArray[np.float64],
    intercept: float,
    x_offset: npt.NDArray[np.float64],
    y_offset: float,
    grad_coef: npt.NDArray[np.float64],
    n_threads: int,
) -> tuple[float, float]: ...
