"""Gathering Problems from arrays in memory (memory maps included).

One pass over validated arrays: the sufficient statistics of ``[X | Y]`` for
the squared loss (unless ``precompute`` says otherwise), else the moments of
each target's columns, which set the solver's scales, with an objective that
reads the data at every evaluation. Dask arrays are gathered by ``_dask``
into the same :class:`Gathered`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

import numpy as np

from ._accurate import AccurateMSE
from ._coords import Coordinates
from ._datafits import StreamingLoss, StreamingMSE
from ._fit import FitSpec, ObjectiveFactory, Problem, stats_problems
from ._stats import SufficientStats, raise_not_finite, sufficient_stats
from ._typing import F64, FloatArray

__all__ = ["Gathered", "chunk_stats", "gather_arrays"]


class Gathered(NamedTuple):
    """What a fit's pass over the data gathered, for every target.

    ``problems`` yields one :class:`~fastlinreg._fit.Problem` per target (on
    the per-evaluation path lazily, so that one target's column copy lives at
    a time); ``stats`` are the statistics of all targets, when gathered (what
    ``partial_fit`` adds to); ``dtype`` is the floating dtype of ``X``, the
    coefficients' dtype.
    """

    problems: Iterable[Problem]
    n_targets: int
    n_features: int
    dtype: np.dtype[Any]
    stats: SufficientStats | None = None


def gather_arrays(
    spec: FitSpec, X: FloatArray, Y: FloatArray, weights: F64 | None
) -> Gathered:
    """One pass over validated ``X`` (n, d) and ``Y`` (n,) or (n, k)."""
    d = X.shape[1]
    k = 1 if Y.ndim == 1 else int(Y.shape[1])
    engine = spec.engine
    n_threads = engine.threads(X.size)
    if spec.loss.name == "squared_error" and spec.use_stats(d):
        # NaN/inf are caught here, not by a pass of their own.
        stats = sufficient_stats(engine.kernels, X, Y, n_threads, weights)
        if not stats.finite():
            raise_not_finite(X, Y)
        # Iterative refinement reads the data (one unweighted target): with a
        # gradient exact to the last bit when they are small enough.
        refine: ObjectiveFactory | None = None
        if k == 1 and weights is None:
            if X.size <= engine.ACCURATE_MAX_ELEMENTS:
                refine = functools.partial(AccurateMSE, X, Y)
            else:
                refine = functools.partial(_streaming, spec, X, Y)
        return Gathered(stats_problems(stats, refine), k, d, X.dtype, stats)
    return Gathered(_per_pass_problems(spec, X, Y, weights), k, d, X.dtype)


def _streaming(
    spec: FitSpec, X: FloatArray, y: FloatArray, coords: Coordinates
) -> StreamingMSE:
    engine = spec.engine
    return StreamingMSE(engine.kernels, X, y, coords, engine.threads(X.size))


def _per_pass_problems(
    spec: FitSpec, X: FloatArray, Y: FloatArray, weights: F64 | None
) -> Iterator[Problem]:
    """A Problem per target whose objectives read the data at each evaluation;
    the moments of the target's columns (one pass) set its scales."""
    n, d = X.shape
    engine = spec.engine
    n_threads = engine.threads(X.size)
    n_targets = 1 if Y.ndim == 1 else int(Y.shape[1])
    for j in range(n_targets):
        y: FloatArray = Y if Y.ndim == 1 else np.ascontiguousarray(Y[:, j])  # type: ignore[assignment]
        mean, m2 = np.empty(d + 1), np.empty(d + 1)
        engine.kernels.moments(X, y, mean, m2, n_threads)
        if not (np.isfinite(mean).all() and np.isfinite(m2).all()):
            raise_not_finite(X, y)
        y_scale = float(np.sqrt(m2[d] / n))
        second_order = functools.partial(
            StreamingLoss,
            engine.hessian_kernels(d),
            X,
            y,
            weights,
            spec.loss,
            n_threads=n_threads,
            y_scale=y_scale,
        )
        yield Problem(
            mean,
            m2 / n,
            n,
            objective=functools.partial(_streaming, spec, X, y),
            second_order=second_order,
            weighted=weights is not None,
        )


def chunk_stats(
    spec: FitSpec, X: FloatArray, Y: FloatArray, weights: F64 | None
) -> SufficientStats:
    """The statistics of one chunk of ``partial_fit`` (validated arrays)."""
    engine = spec.engine
    stats = sufficient_stats(engine.kernels, X, Y, engine.threads(X.size), weights)
    if not stats.finite():
        raise_not_finite(X, Y)
    return stats
