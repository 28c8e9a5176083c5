"""Type stubs of the compiled _robust module."""

import numpy as np
import numpy.typing as npt

def robust_loss_gradient(
    X: npt.NDArray[np.floating],
    y: npt.NDArray[np.floating],
    sample_weight: npt.NDArray[np.float64],
    coef: npt.NDArray[np.float64],
    intercept: float,
    x_offset: npt.NDArray[np.float64],
    y_offset: float,
    loss: int,
    epsilon: float,
    quantile: float,
    smoothing: float,
    grad_coef: npt.NDArray[np.float64],
    hessian: npt.NDArray[np.float64],
    n_threads: int,
) -> tuple[float, float, float]: ...
