"""Type stubs for the compiled kernels (see _numpy_kernels.py for their twins)."""

import numpy as np
import numpy.typing as npt

HAS_OPENMP: bool
BUILD_INFO: dict[str, str | bool | None]

def max_threads() -> int: ...
def n_chunks_for(n: int) -> int: ...
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
def moments(
    X: npt.NDArray[np.floating],
    y: npt.NDArray[np.floating],
    mean: npt.NDArray[np.float64],
    m2: npt.NDArray[np.float64],
    n_threads: int,
) -> None: ...
def gram(
    X: npt.NDArray[np.floating],
    y: npt.NDArray[np.floating],
    mean: npt.NDArray[np.float64],
    cov: npt.NDArray[np.float64],
    n_threads: int,
) -> None: ...
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
