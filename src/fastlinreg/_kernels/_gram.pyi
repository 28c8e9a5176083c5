"""Type stubs of the compiled _gram module."""

import numpy as np
import numpy.typing as npt

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
