# cython: language_level=3
"""The scores of a fit, for robust covariances: their per-cluster sums
(``cluster_scores``) and their weighted Gram (``score_gram``).

For the fitted model each row has the score ``s_i z_i``, ``s_i = w_i e_i``
with ``e`` the residual and ``z_i = [1, x_i − m]`` (``x_i − m`` without an
intercept); a clustered covariance needs their sums over the rows of each
cluster. One pass over ``X`` scatters them into a (clusters × p) table: no
copy of ``X``, nothing of length n. The pass is serial (the scatter's targets
are shared by the rows of a cluster wherever they are) and polls for Ctrl-C
between chunks. A heteroskedasticity-robust covariance needs
``Σ s_i² z_i z_iᵀ`` instead (``s_i`` divided by ``√(1 − h_i)`` or
``1 − h_i`` for HC2 and HC3, ``h_i`` the leverage): each block of rows is
scaled into an L1 buffer and multiplied in register tiles (``_tiles``), on
every thread.
"""

from cython.parallel cimport prange, threadid
from libc.math cimport sqrt
from libc.string cimport memset

import numpy as np

from ._chunks cimport BLOCK, Model, Pass, pass_begin, pass_end, pass_live, pass_poll, pass_row
from ._simd cimport align64, dot_centred, even_up, flr_prefetch, xfloat, yfloat
from ._tiles cimport gram_upper

cdef enum:
    # Rows ahead whose cluster's table row is prefetched.
    _AHEAD = 16


cdef double _chunk_scores(
    const xfloat* X, const yfloat* y, const double* sw, const Model* M,
    const Py_ssize_t* groups, double* sums, Py_ssize_t p, Py_ssize_t lo, Py_ssize_t hi,
) noexcept nogil:
    """sums[g] += s_i z_i over rows lo..hi (g = groups[i]); returns Σ w e²,
    summed in blocks of BLOCK rows."""
    cdef Py_ssize_t i, j, d = M.d, start, stop
    cdef const double* m = M.m
    cdef const double* w = M.w
    cdef double b = M.b, yo = M.yo, e, s, part, total = 0.0
    cdef const xfloat* x
    cdef double* row
    cdef double* ahead
    start = lo
    while start < hi:
        stop = start + BLOCK
        if stop > hi:
            stop = hi
        part = 0.0
        for i in range(start, stop):
            if i + _AHEAD < hi:
                # The table row of a row _AHEAD on: clusters are in no order,
                # so each row's target is a cache miss unless asked for early
                # (2e6 rows x 20 features, 1e5 clusters: 0.29 s without).
                ahead = sums + groups[i + _AHEAD] * p
                for j in range(0, p, 8):
                    flr_prefetch(ahead + j)
            x = X + i * d
            # e = (y − yo) − b − (x − m) @ w;  s = w_i e
            e = (y[i] - yo) - b - dot_centred(x, m, w, d)
            s = e if sw == NULL else sw[i] * e
            # ssr += w e²
            part += e * s
            # (NumPy: np.add.at(sums, groups, s[:, None] * [1, X − m]))
            row = sums + groups[i] * p
            if p > d:
                row[0] += s
                row += 1
            for j in range(d):
                row[j] += s * (x[j] - m[j])
        total += part
        start = stop
    return total


def cluster_scores(
    const xfloat[:, ::1] X,
    const yfloat[::1] y,
    const double[::1] sample_weight,
    const double[::1] coef,
    double intercept,
    const double[::1] x_offset,
    double y_offset,
    const Py_ssize_t[::1] groups,
    double[:, ::1] sums,
):
    """Add each row's score to its cluster's row of ``sums``; return Σ w e².

    With ``e = (y − y_offset) − intercept − (X − x_offset) @ coef`` and
    ``s = w e`` (``w`` all 1 when ``sample_weight`` is empty), adds
    ``s_i · [1, x_i − x_offset]`` (``sums`` of ``d + 1`` columns) or
    ``s_i · (x_i − x_offset)`` (``d`` columns) to ``sums[groups[i]]``. The
    caller guarantees ``0 <= groups[i] < sums.shape[0]`` (the codes of
    ``np.unique``); the shapes are checked here.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], p = sums.shape[1], c
    cdef Pass P
    cdef Model M
    cdef const double* sw = NULL
    cdef double ssr = 0.0
    if y.shape[0] != n or groups.shape[0] != n:
        raise ValueError(f"y and groups need {n} entries, got {y.shape[0]} and {groups.shape[0]}")
    if sample_weight.shape[0] not in (0, n):
        raise ValueError(f"sample_weight has {sample_weight.shape[0]} entries; expected 0 or {n}")
    if p != d and p != d + 1:
        raise ValueError(f"sums has {p} columns; expected {d} or {d + 1}")
    if coef.shape[0] != d or x_offset.shape[0] != d:
        raise ValueError(f"coef and x_offset need {d} entries")
    if n == 0:
        return 0.0
    if sample_weight.shape[0] > 0:
        sw = &sample_weight[0]
    M.w, M.b, M.m, M.yo, M.d = &coef[0], intercept, &x_offset[0], y_offset, d
    pass_begin(&P, n, 1)
    with nogil:
        for c in range(P.k):
            if pass_live(&P):
                ssr += _chunk_scores(&X[0, 0], &y[0], sw, &M, &groups[0], &sums[0, 0],
                                     p, pass_row(&P, c), pass_row(&P, c + 1))
                pass_poll(&P, 0)
    pass_end(&P)
    return ssr


cdef struct Scaling:
    # How score_gram weighs a row: its weights (NULL: all 1), the leverage
    # matrix (p × p, NULL for mode 0) and the mode (0, 2 or 3).
    const double* sw
    const double* B
    int mode
    Py_ssize_t p


cdef double _chunk_score_gram(
    const xfloat* X, const yfloat* y, const Model* M, const Scaling* S,
    Py_ssize_t lo, Py_ssize_t hi, double* out, double* scratch,
) noexcept nogil:
    """out (p × p, upper triangle) = Σ v_i z_i z_iᵀ over rows lo..hi, v_i the
    squared score as ``S.mode`` scales it; returns Σ w e². scratch: the
    block (BLOCK · p2 doubles) then its tile sums (p · p), 16-byte aligned."""
    cdef Py_ssize_t p = S.p, i, j, k, d = M.d, q = S.p - M.d, p2 = even_up(S.p)
    cdef Py_ssize_t start, stop, nb
    cdef const double* m = M.m
    cdef const double* w = M.w
    cdef const double* sw = S.sw
    cdef const double* B = S.B
    cdef int mode = S.mode
    cdef double* z = scratch
    cdef double* bc = scratch + BLOCK * p2
    cdef double b = M.b, yo = M.yo, e, s, h, t, part, total = 0.0
    cdef const xfloat* x
    cdef double* zr
    memset(out, 0, p * p * sizeof(double))
    start = lo
    while start < hi:
        stop = start + BLOCK
        if stop > hi:
            stop = hi
        nb = stop - start
        part = 0.0
        for i in range(start, stop):
            x = X + i * d
            zr = z + (i - start) * p2
            # zr = [1, x − m]  (or x − m without an intercept)
            if q:
                zr[0] = 1.0
            for j in range(d):
                zr[q + j] = x[j] - m[j]
            # e = (y − yo) − b − (x − m) @ w;  s = w_i e
            e = (y[i] - yo) - b - dot_centred(x, m, w, d)
            s = e if sw == NULL else sw[i] * e
            # ssr += w e²
            part += e * s
            if mode != 0:
                # h = w_i · zr @ B @ zr, B symmetric
                h = 0.0
                for j in range(p):
                    t = 0.5 * B[j * p + j] * zr[j]
                    for k in range(j + 1, p):
                        t = t + B[j * p + k] * zr[k]
                    h += t * zr[j]
                h *= 2.0
                if sw != NULL:
                    h *= sw[i]
                # HC2: s / √(1 − h);  HC3: s / (1 − h)
                s = s / (sqrt(1.0 - h) if mode == 2 else 1.0 - h)
            # the row of the block: s · zr (v_i = s², summed by its square)
            for j in range(p):
                zr[j] *= s
            if p2 > p:
                zr[p] = 0.0
        if nb % 2:
            memset(z + nb * p2, 0, p2 * sizeof(double))
        # (NumPy: out += (s[:, None] * Z).T @ (s[:, None] * Z), upper triangle)
        gram_upper(z, p, p2, even_up(nb), bc)
        for j in range(p):
            for k in range(j, p):
                out[j * p + k] += bc[j * p + k]
        total += part
        start = stop
    return total


cdef inline Py_ssize_t _score_gram_scratch(Py_ssize_t p) noexcept nogil:
    """Doubles of one thread's scratch (block, tile sums), whole cache lines."""
    return (BLOCK * even_up(p) + p * p + 7) // 8 * 8


def score_gram(
    const xfloat[:, ::1] X,
    const yfloat[::1] y,
    const double[::1] sample_weight,
    const double[::1] coef,
    double intercept,
    const double[::1] x_offset,
    double y_offset,
    const double[:, ::1] leverage,
    int mode,
    double[:, ::1] out,
    int n_threads,
):
    """The scores' Gram ``Σ v_i z_i z_iᵀ`` into ``out``; return Σ w e².

    With ``e = (y − y_offset) − intercept − (X − x_offset) @ coef``,
    ``s = w e`` (``w`` all 1 when ``sample_weight`` is empty) and
    ``z_i = [1, x_i − x_offset]`` (``out`` of ``d + 1`` columns) or
    ``x_i − x_offset`` (``d``): ``v = s²`` for ``mode`` 0, ``s² / (1 − h)``
    for 2 (HC2) and ``s² / (1 − h)²`` for 3 (HC3), with the leverage
    ``h_i = w_i z_iᵀ leverage z_i`` (``leverage``: the symmetric p × p
    inverse of the weighted ``Σ w z zᵀ``; ignored, and may be empty, for
    mode 0). ``out`` is overwritten, symmetric.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], p = out.shape[0], c, j, k
    cdef Pass P
    cdef Model M
    cdef Scaling S
    cdef double ssr = 0.0
    if y.shape[0] != n:
        raise ValueError(f"y needs {n} entries, got {y.shape[0]}")
    if sample_weight.shape[0] not in (0, n):
        raise ValueError(f"sample_weight has {sample_weight.shape[0]} entries; expected 0 or {n}")
    if (p != d and p != d + 1) or out.shape[1] != p:
        raise ValueError(f"out has shape {tuple(out.shape)[:2]}; expected {d} or {d + 1} square")
    if coef.shape[0] != d or x_offset.shape[0] != d:
        raise ValueError(f"coef and x_offset need {d} entries")
    if mode not in (0, 2, 3):
        raise ValueError(f"mode must be 0, 2 or 3, got {mode}")
    S.sw, S.B, S.mode, S.p = NULL, NULL, mode, p
    if mode != 0:
        if leverage.shape[0] != p or leverage.shape[1] != p:
            raise ValueError(f"leverage must be {p} x {p}")
        S.B = &leverage[0, 0]
    memset(&out[0, 0], 0, p * p * sizeof(double))
    if n == 0:
        return 0.0
    if sample_weight.shape[0] > 0:
        S.sw = &sample_weight[0]
    M.w, M.b, M.m, M.yo, M.d = &coef[0], intercept, &x_offset[0], y_offset, d
    pass_begin(&P, n, n_threads)
    cdef double[:, ::1] part = np.empty((P.k, p * p))
    cdef double[::1] chunk_ssr = np.empty(P.k)
    cdef Py_ssize_t width = _score_gram_scratch(p)
    cdef double[::1] scratch = np.empty(P.n_threads * width + 8)
    cdef double* sbase = align64(&scratch[0])
    with nogil:
        for c in prange(P.k, num_threads=P.n_threads, schedule="dynamic"):
            if pass_live(&P):
                chunk_ssr[c] = _chunk_score_gram(
                    &X[0, 0], &y[0], &M, &S, pass_row(&P, c), pass_row(&P, c + 1),
                    &part[c, 0], sbase + threadid() * width)
                pass_poll(&P, threadid())
    pass_end(&P)
    with nogil:
        # the chunks' sums added in their fixed order: any thread count, one result
        for c in range(P.k):
            ssr += chunk_ssr[c]
            for j in range(p):
                for k in range(j, p):
                    out[j, k] += part[c, j * p + k]
        for j in range(p):
            for k in range(j + 1, p):
                out[k, j] = out[j, k]
    return ssr
