"""What the NumPy twins of the kernels share: rows in blocks, so that no
temporary grows with the number of rows, and the scratch each block reuses."""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from ._typing import F64

__all__ = ["Array", "Workspace", "row_blocks"]

# Elements of X per block: temporaries stay around 2 MB whatever n is.
BLOCK_ELEMENTS = 1 << 18

Array = npt.NDArray[np.floating]


def row_blocks(n: int, d: int, elements: int = BLOCK_ELEMENTS) -> Iterator[slice]:
    """Consecutive slices of ``range(n)``, ``elements // d`` rows each."""
    step = max(1, elements // d)
    for lo in range(0, n, step):
        yield slice(lo, min(lo + step, n))


class Workspace:
    """float64 scratch arrays reused by every block of one pass.

    A new temporary of a few megabytes for each block is mapped and
    page-faulted in again each time (the allocator hands blocks that large
    back to the system when they are freed): widening 2e5 × 100 float32 block
    by block took 67 ms into new arrays and 11 ms into one reused buffer.
    """

    def __init__(self) -> None:
        self._buffers: dict[str, F64] = {}
        self._ones = np.empty(0)

    def take(self, name: str, *shape: int) -> F64:
        """An uninitialised array of ``shape``, the buffer ``name``'s memory."""
        size = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.size < size:
            buf = self._buffers[name] = np.empty(size)
        return buf[:size].reshape(shape)

    def widen(self, name: str, a: Array) -> F64:
        """``a`` if it is float64, else its values in the buffer ``name``."""
        if a.dtype == np.float64:
            return a.astype(np.float64, copy=False)  # a itself
        out = self.take(name, *a.shape)
        out[...] = a
        return out

    def ones(self, n: int) -> F64:
        """``np.ones(n)``, filled once."""
        if self._ones.size < n:
            self._ones = np.ones(n)
        return self._ones[:n]
