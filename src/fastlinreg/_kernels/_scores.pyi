"""Type stubs of the compiled _scores module."""

import numpy as np
import numpy.typing as npt

def cluster_scores(
    X: npt.NDArray[np.floating],
    y: npt.NDArray[np.floating],
    sample_weight: npt.NDArray[np.float64],
    coef: npt.NDArray[np.float64],
    intercept: float,
    x_offset: npt.NDArray[np.float64],
    y_offset: float,
    groups: npt.NDArray[np.intp],
    sums: npt.NDArray[np.float64],
) -> float: ...
def score_gram(
    X: npt.NDArray[np.floating],
    y: npt.NDArray[np.floating],
    sample_weight: npt.NDArray[np.float64],
    coef: npt.NDArray[np.float64],
    intercept: float,
    x_offset: npt.NDArray[np.float64],
    y_offset: float,
    leverage: npt.NDArray[np.float64],
    mode: int,
    out: npt.NDArray[np.float64],
    n_threads: int,
) -> float: ...
