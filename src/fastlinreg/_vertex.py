"""The exact minimiser of the quantile (and absolute) loss: a vertex finish.

``Σ w_i ρ_q(y_i − z_iᵀβ)`` (``ρ_q(r) = q·r`` for ``r >= 0``, ``(q − 1)·r``
below; the absolute error is ``2 ρ_½``) is piecewise linear, so a minimiser
is a vertex: ``p`` rows ``B`` with zero residual, ``β = Z_B⁻¹ y_B``. The
smoothed Newton fit (:mod:`fastlinreg._datafits`) ends within ~1e-6 of the
optimal objective, close enough for its smallest residuals to name the
basis. This module

1. takes the rows of smallest ``|r|`` that are linearly independent as ``B``
   and solves ``Z_B β = y_B``;
2. checks optimality (the KKT conditions of the linear programme): with
   ``g = Σ_{i∉B} w_i ψ(r_i) z_i`` (``ψ = q`` above zero, ``q − 1`` below),
   the multipliers ``a = −Z_B⁻ᵀ g`` must lie in ``[w_k(q − 1), w_k q]``;
3. where one does not, takes a simplex step: it releases that row in the
   direction that lowers the objective and walks along the edge to the
   breakpoint where the slope turns (Barrodale–Roberts' long step), which
   enters the basis; then back to 2.

Each check or step is one pass over the data in blocks (O(block · p)
memory; a step keeps only the breakpoints that can still be the turn). The
vertex is taken only when its objective is not above the smoothed one, so the
finish never makes a fit worse; it is *certified* when the check of step 2
passed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from ._typing import F64, FloatArray

__all__ = ["Vertex", "quantile_vertex"]

# Rows per block of a pass: its float64 copy of [1, X] stays about 2 MB.
_BLOCK_ELEMENTS = 1 << 18
# A residual within this many ulps of the size of its terms is zero.
_ZERO_ULPS = 64.0
# Candidates for the basis: the rows of smallest |r|, this many per column.
_CANDIDATES_PER_COLUMN = 4
# A multiplier may leave its interval by this much of the bound on its
# rounding (Σ w |z| mapped through |Z_B⁻ᵀ|) before it counts as violated.
_KKT_SLACK = 1e-9
# The band of many rows: at least this many rows a column (and 100), and
# this many tries of a growing band before the best vertex is kept uncertified.
_BAND_MIN_PER_COLUMN = 20
_BAND_ROUNDS = 3
# A step (a degenerate one leaves the objective level) may raise the objective
# by this much of it, in rounding, before the finish stops.
_LEVEL = 1e-13


class Vertex(NamedTuple):
    """The finish's answer: ``beta`` (``[intercept, coef]`` with an
    intercept), its objective ``Σ w ρ_q(r)``, the simplex steps taken,
    whether the optimality check passed, and the objective at the start."""

    beta: F64
    objective: float
    steps: int
    certified: bool
    start: float


class _Data(NamedTuple):
    X: FloatArray
    y: FloatArray
    w: F64 | None
    q: float
    with_const: bool
    noise: float = 0.0  # y_i moved by up to ± noise/2 (a fixed hash of i)
    # Rows left out whose signs are fixed: Σ w ψ z over them, and Σ w |z|
    # (their part of the objective is linear: const − linearᵀ β).
    linear: F64 | None = None
    linear_size: F64 | None = None

    def target(self, index: npt.NDArray[np.intp], y: FloatArray) -> F64:
        """``y`` (of the rows ``index``) in float64, perturbed by ``noise``."""
        y = np.asarray(y, dtype=np.float64)
        if self.noise == 0.0:
            return y
        # Knuth's multiplicative hash of the row: uniform-looking, reproducible
        h = (index.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(1 << 32)
        return y + self.noise * (h / float(1 << 32) - 0.5)

    @property
    def p(self) -> int:
        return int(self.X.shape[1]) + (1 if self.with_const else 0)

    def blocks(self) -> Iterator[tuple[int, F64, F64, F64 | None]]:
        """``(first row, Z, y, w)`` of each block, Z = [1, X] in float64."""
        n, d = self.X.shape
        step = max(1, _BLOCK_ELEMENTS // (d + 1))
        for lo in range(0, n, step):
            hi = min(lo + step, n)
            Z = np.empty((hi - lo, self.p))
            if self.with_const:
                Z[:, 0] = 1.0
            Z[:, self.p - d :] = self.X[lo:hi]
            y = self.target(np.arange(lo, hi), self.y[lo:hi])
            yield lo, Z, y, None if self.w is None else self.w[lo:hi]

    def rows(self, index: npt.NDArray[np.intp]) -> tuple[F64, F64, F64]:
        """``Z``, ``y`` and the weights of the rows ``index``."""
        d = self.X.shape[1]
        Z = np.empty((index.shape[0], self.p))
        if self.with_const:
            Z[:, 0] = 1.0
        Z[:, self.p - d :] = self.X[index]
        w = np.ones(index.shape[0]) if self.w is None else self.w[index]
        return Z, self.target(index, self.y[index]), w


def _residuals(Z: F64, y: F64, beta: F64) -> tuple[F64, F64]:
    """``r = y − Z β`` and the size of its terms, ``|y| + |Z| (|β| +
    ‖β‖∞)``: a vertex ``Z_B⁻¹ y_B`` carries rounding of the size of its
    largest entry in each one, so an entry that should be 0 (an exact tie of
    integers, say) may be 1e-17 and leave a residual of that size on a row
    whose own terms are smaller."""
    size = np.abs(beta) + float(np.abs(beta).max(initial=0.0))
    return y - Z @ beta, np.abs(y) + np.abs(Z) @ size


class _Nearest(NamedTuple):
    """One pass at ``beta``: the rows of smallest ``|r|`` (positive weight),
    nearest first; the objective; Σ w ψ(r) z and Σ w |z| over all rows."""

    rows: npt.NDArray[np.intp]
    objective: float
    psi_sum: F64
    size: F64


def _nearest(data: _Data, beta: F64, keep: int) -> _Nearest:
    q = data.q
    best_r = np.empty(0)
    best_i = np.empty(0, dtype=np.intp)
    objective = 0.0
    psi_sum = np.zeros(data.p)
    size = np.zeros(data.p)
    for lo, Z, y, w in data.blocks():
        r = y - Z @ beta
        ww = np.ones(r.shape[0]) if w is None else w
        # Σ w ρ_q(r);  Σ w ψ(r) z;  Σ w |z|
        objective += float(ww @ np.where(r >= 0, q * r, (q - 1.0) * r))
        psi_sum += (np.where(r > 0, q, q - 1.0) * ww) @ Z
        size += ww @ np.abs(Z)
        r = np.abs(r)
        r[ww <= 0] = np.inf
        part = np.argpartition(r, keep)[:keep] if r.shape[0] > keep else slice(None)
        best_r = np.concatenate([best_r, r[part]])
        best_i = np.concatenate([best_i, lo + np.arange(r.shape[0])[part]])
        if best_r.shape[0] > keep:
            top = np.argpartition(best_r, keep)[:keep]
            best_r, best_i = best_r[top], best_i[top]
    order = np.argsort(best_r, kind="stable")
    rows = best_i[order][np.isfinite(best_r[order])]
    return _Nearest(rows, objective, psi_sum, size)


def _basis(data: _Data, beta: F64) -> tuple[npt.NDArray[np.intp] | None, float]:
    """``p`` linearly independent rows of smallest ``|r|`` at ``beta`` (with
    positive weight), or None when no rows span ``p``; and the objective at
    ``beta``. The candidates widen (16 times, up to every row) while those
    nearest do not span: rows of zeros fit any ``beta``."""
    p, n = data.p, data.X.shape[0]
    keep = _CANDIDATES_PER_COLUMN * p + 8
    while True:
        near = _nearest(data, beta, keep)
        objective = near.objective
        if data.linear is not None:
            objective -= float(data.linear @ beta)
        chosen = _independent(data, near.rows)
        if chosen is not None or keep >= n:
            return chosen, objective
        keep *= 16


def _independent(
    data: _Data, candidates: npt.NDArray[np.intp]
) -> npt.NDArray[np.intp] | None:
    """The first ``p`` of ``candidates`` that are linearly independent, in
    their order (greedy Gram–Schmidt), sorted; None if they do not span."""
    p = data.p
    Zc, _, _ = data.rows(candidates)
    Q = np.empty((p, 0))
    chosen = []
    for i, z in enumerate(Zc):
        v = z - Q @ (Q.T @ z)
        v -= Q @ (Q.T @ v)  # (twice is enough)
        norm = float(np.linalg.norm(v))
        if norm > 1e-8 * float(np.linalg.norm(z)):
            Q = np.column_stack([Q, v / norm])
            chosen.append(candidates[i])
            if len(chosen) == p:
                return np.sort(np.asarray(chosen, dtype=np.intp))
    return None


class _Check(NamedTuple):
    """Step 2 at a vertex: its objective and the multipliers with their bounds."""

    objective: float
    a: F64
    lower: F64
    upper: F64
    slack: F64


def _check(
    data: _Data,
    basis: npt.NDArray[np.intp],
    beta: F64,
    ties: tuple[_Data, F64] | None = None,
) -> _Check:
    """One pass: the objective at ``beta`` and the basis' multipliers. Rows
    off the basis with zero residual take ψ = 0, or with ``ties`` (perturbed
    data and their vertex) the ψ of their residual there."""
    q, p = data.q, data.p
    g = np.zeros(p)
    size = np.zeros(p)
    objective = 0.0
    for lo, Z, y, w in data.blocks():
        r, terms = _residuals(Z, y, beta)
        ww = np.ones(r.shape[0]) if w is None else w
        # Σ w ρ_q(r)
        objective += float(ww @ np.where(r >= 0, q * r, (q - 1.0) * r))
        psi = np.where(r > 0, q, q - 1.0) * ww
        zero = np.abs(r) <= _ZERO_ULPS * np.finfo(float).eps * terms
        if ties is None:
            psi[zero] = 0.0
        else:
            # the ψ the perturbed data's own check gave (0 where even their
            # residual is zero to rounding)
            tied, tied_beta = ties
            y_tied = tied.target(np.arange(lo, lo + r.shape[0]), y)
            r_tied, terms_tied = _residuals(Z, y_tied, tied_beta)
            psi_tied = np.where(r_tied > 0, q, q - 1.0) * ww
            psi_tied[
                np.abs(r_tied) <= _ZERO_ULPS * np.finfo(float).eps * terms_tied
            ] = 0.0
            psi[zero] = psi_tied[zero]
        inside = basis[(basis >= lo) & (basis < lo + r.shape[0])] - lo
        psi[inside] = 0.0
        # g = Σ_{i ∉ B} w ψ(r_i) z_i, and the size of its terms
        g += psi @ Z
        size += ww @ np.abs(Z)
    if data.linear is not None and data.linear_size is not None:
        g += data.linear
        size += data.linear_size
        objective -= float(data.linear @ beta)
    ZB, _, wB = data.rows(basis)
    inv_t = np.linalg.inv(ZB).T
    a = -(inv_t @ g)
    slack = _KKT_SLACK * (np.abs(inv_t) @ size)
    return _Check(objective, a, wB * (q - 1.0), wB * q, slack)


def _step(
    data: _Data, basis: npt.NDArray[np.intp], beta: F64, check: _Check, k: int
) -> tuple[int, float, F64] | None:
    """Release basis row ``k`` in its descent direction and walk to the
    breakpoint where the objective's slope turns non-negative: ``(entering
    row, step length, direction)``, or None when the edge does not descend."""
    q = data.q
    ZB, _, wB = data.rows(basis)
    a = check.a[k]
    # σ = +1 lowers row k's residual below zero: the slope at 0+ is
    # a_k + w_k(1 − q) (row k, and −Σ w ψ(r) u = σ a_k of the other rows);
    # σ = −1 raises it: −a_k + w_k q.
    sigma = 1.0 if a < check.lower[k] else -1.0
    delta = sigma * np.linalg.solve(ZB, np.eye(data.p)[k])
    slope = sigma * a + (wB[k] * (1.0 - q) if sigma > 0 else wB[k] * q)
    t_kept = np.empty(0)
    inc_kept = np.empty(0)
    index_kept = np.empty(0, dtype=np.intp)
    pruned = 1024
    for lo, Z, y, w in data.blocks():
        r, terms = _residuals(Z, y, beta)
        u = Z @ delta  # r_i(t) = r_i − t u_i
        ww = np.ones(r.shape[0]) if w is None else w
        out = np.ones(r.shape[0], dtype=bool)
        out[basis[(basis >= lo) & (basis < lo + r.shape[0])] - lo] = False
        zero = np.abs(r) <= _ZERO_ULPS * np.finfo(float).eps * terms
        # Breakpoints: rows off zero where r − t u crosses it (t = r / u > 0),
        # the slope rising there by w |u|; rows at zero (ψ = 0 in σ a_k) leave
        # it at t = 0, the slope rising by w q |u| or w (1 − q) |u|.
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(zero, 0.0, r / u)
        rise = ww * np.abs(u) * np.where(zero, np.where(u < 0, q, 1.0 - q), 1.0)
        crossing = out & (ww > 0) & (u != 0) & (zero | (t > 0))
        t_kept = np.concatenate([t_kept, t[crossing]])
        inc_kept = np.concatenate([inc_kept, rise[crossing]])
        index_kept = np.concatenate([index_kept, lo + np.flatnonzero(crossing)])
        # Only breakpoints up to where the kept ones already turn the slope
        # can still be the turn: prune the rest (when they have doubled).
        if t_kept.shape[0] > pruned:
            t_kept, inc_kept, index_kept = _prune(t_kept, inc_kept, index_kept, -slope)
            pruned = max(1024, 2 * t_kept.shape[0])
    if slope >= 0 or t_kept.shape[0] == 0:
        return None
    order = np.argsort(t_kept, kind="stable")
    turn = np.searchsorted(np.cumsum(inc_kept[order]), -slope)
    if turn >= order.shape[0]:
        return None  # (the objective falls along the whole edge: unbounded)
    j = order[turn]
    return int(index_kept[j]), float(t_kept[j]), delta


_Breakpoints = tuple[F64, F64, npt.NDArray[np.intp]]


def _prune(t: F64, inc: F64, index: npt.NDArray[np.intp], need: float) -> _Breakpoints:
    """The breakpoints no later than the first at which the increments of the
    earlier ones reach ``need`` (all of them while they do not)."""
    if need <= 0 or t.shape[0] < 64:
        return t, inc, index
    order = np.argsort(t, kind="stable")
    total = np.cumsum(inc[order])
    turn = int(np.searchsorted(total, need))
    if turn >= order.shape[0]:
        return t, inc, index
    keep = order[: turn + 1]
    return t[keep], inc[keep], index[keep]


class _Run(NamedTuple):
    """Where a run of simplex steps ended."""

    basis: npt.NDArray[np.intp]
    vertex: F64
    check: _Check
    steps: int
    optimal: bool


def _violation(check: _Check) -> F64:
    """How far each multiplier lies outside its interval (<= 0: inside)."""
    low = check.lower - check.slack - check.a
    return np.maximum(low, check.a - check.upper - check.slack)


def _vertex_of(data: _Data, basis: npt.NDArray[np.intp]) -> F64 | None:
    """``Z_B⁻¹ y_B`` (None for a singular basis)."""
    ZB, yB, _ = data.rows(basis)
    try:
        return np.asarray(np.linalg.solve(ZB, yB), dtype=np.float64)
    except np.linalg.LinAlgError:
        return None


def _simplex(
    data: _Data, basis: npt.NDArray[np.intp], vertex: F64, max_steps: int
) -> _Run:
    """Simplex steps from the vertex of ``basis`` until its multipliers
    check, no edge descends, ``max_steps``, or the steps stall at one point."""
    check = _check(data, basis, vertex)
    steps = 0
    stalled = 0  # steps in a row that did not move
    while stalled <= 2 * data.p + 4:  # (more: ties make the pivots cycle)
        violation = _violation(check)
        if not (violation > 0).any():
            return _Run(basis, vertex, check, steps, True)
        if steps >= max_steps:
            break
        # The most violated multiplier first; after a step that did not lower
        # the objective (a degenerate pivot), the lowest row first (Bland's).
        order = np.argsort(-violation) if not stalled else np.arange(basis.shape[0])
        move = None
        for k in order:
            if violation[k] > 0:
                move = _step(data, basis, vertex, check, int(k))
                if move is not None:
                    break
        if move is None:
            break
        entering, length, _ = move
        trial = np.sort(np.where(basis == basis[k], entering, basis))
        moved = _vertex_of(data, trial)
        if moved is None:
            break
        moved_check = _check(data, trial, moved)
        if moved_check.objective > check.objective * (1.0 + _LEVEL):
            break  # (rounding on a degenerate edge: keep the better vertex)
        # a step that does not lower the objective stalls, whether it moved
        # or not: along level edges between tied optima the pivots can cycle
        level = length == 0.0 or moved_check.objective >= check.objective
        stalled = stalled + 1 if level else 0
        basis, vertex, check = trial, moved, moved_check
        steps += 1
    return _Run(basis, vertex, check, steps, False)


def _spread(data: _Data, beta: F64) -> float:
    """The mean absolute residual at ``beta`` (the scale of the ties'
    perturbation), over the rows of ``data``."""
    total, count = 0.0, 0
    for _, Z, y, _ in data.blocks():
        total += float(np.abs(y - Z @ beta).sum())
        count += y.shape[0]
    return total / max(count, 1)


def _solve(data: _Data, beta: F64, max_steps: int) -> Vertex | None:
    """The vertex finish on ``data`` itself, from ``beta`` (see
    :func:`quantile_vertex`)."""
    basis, start = _basis(data, np.asarray(beta, dtype=np.float64))
    vertex = None if basis is None else _vertex_of(data, basis)
    if basis is None or vertex is None:
        return None
    run = _simplex(data, basis, vertex, max_steps)
    steps = run.steps
    if not run.optimal and steps < max_steps:
        tied = data._replace(noise=1e-8 * _spread(data, run.vertex))
        tied_vertex = _vertex_of(tied, run.basis)
        if tied_vertex is not None:
            other = _simplex(tied, run.basis, tied_vertex, max_steps - steps)
            steps += other.steps
            exact = _vertex_of(data, other.basis)
            if other.optimal and exact is not None:
                check = _check(data, other.basis, exact, (tied, other.vertex))
                better = check.objective <= run.check.objective * (1.0 + _LEVEL)
                if better and not (_violation(check) > 0).any():
                    return Vertex(exact, check.objective, steps, True, start)
    return Vertex(
        run.vertex,
        run.check.objective,
        run.steps,
        run.optimal,
        start,
    )


def quantile_vertex(
    X: FloatArray,
    y: FloatArray,
    weights: F64 | None,
    q: float,
    beta: F64,
    with_const: bool,
    max_steps: int,
) -> Vertex | None:
    """The exact minimiser of ``Σ w ρ_q(y − Z β)`` near ``beta``
    (``[intercept, coef]`` with ``with_const``, ``coef`` without): the
    vertex of the module docstring after at most ``max_steps`` simplex
    steps, or None when no basis of independent rows is found.

    On many rows the steps run on a band: the ``m ≈ (n p)^(2/3)`` rows of
    smallest ``|r|`` at ``beta``, the others entering only through the
    linear term of their fixed signs (Portnoy and Koenker's preprocessing).
    One pass then checks those signs at the band's optimum: where all hold,
    the band's certificate is the whole problem's; where some flipped, the
    band grows from there (at most :data:`_BAND_ROUNDS` times).

    Where more than ``p`` residuals are zero (ties: a degenerate vertex),
    the steps may stall without a certificate; they go on for the data with
    ``y`` perturbed by ~1e-8 of the mean absolute residual (which has no
    ties), and that basis' vertex of the true data is certified with the
    perturbed residuals' signs for its zero residuals (any ψ in
    ``[q − 1, q]`` is a subgradient there).
    """
    data = _Data(X, y, weights, float(q), with_const)
    beta = np.asarray(beta, dtype=np.float64)
    n, p = X.shape[0], data.p
    m = max(_BAND_MIN_PER_COLUMN * p + 100, int((n * p) ** (2.0 / 3.0)))
    best: Vertex | None = None
    start = None
    for _ in range(_BAND_ROUNDS):
        if m >= n // 2:
            found = _solve(data, beta, max_steps)
            if found is None or start is None:
                return found
            return found._replace(start=start)
        near = _nearest(data, beta, m)
        if start is None:
            start = near.objective
        band = np.sort(near.rows)
        found = _solve(_band_data(data, band, beta, near), beta, max_steps)
        if found is None:
            return best
        flipped, objective = _flipped(data, band, beta, found.beta)
        found = found._replace(objective=objective, start=start)
        if found.certified and flipped == 0:
            return found
        if best is None or objective < best.objective:
            best = found._replace(certified=False)
        beta, m = found.beta, 4 * m
    return best


def _band_data(
    data: _Data, band: npt.NDArray[np.intp], beta: F64, near: _Nearest
) -> _Data:
    """The rows ``band`` of ``data``, the others as the linear term of
    their signs at ``beta`` (``near``: the pass at ``beta``)."""
    Zb, yb, wb = data.rows(band)
    r = yb - Zb @ beta
    psi = np.where(r > 0, data.q, data.q - 1.0) * wb
    return _Data(
        data.X[band],
        np.asarray(data.y[band], dtype=np.float64),
        None if data.w is None else wb,
        data.q,
        data.with_const,
        linear=near.psi_sum - psi @ Zb,
        linear_size=near.size - wb @ np.abs(Zb),
    )


def _flipped(
    data: _Data, band: npt.NDArray[np.intp], before: F64, after: F64
) -> tuple[int, float]:
    """One pass: the rows off ``band`` whose residual changed sign between
    ``before`` and ``after`` (a zero residual after keeps any sign), and the
    objective at ``after``."""
    q = data.q
    flipped = 0
    objective = 0.0
    for lo, Z, y, w in data.blocks():
        r, terms = _residuals(Z, y, after)
        ww = np.ones(r.shape[0]) if w is None else w
        objective += float(ww @ np.where(r >= 0, q * r, (q - 1.0) * r))
        r0 = y - Z @ before
        off = np.ones(r.shape[0], dtype=bool)
        off[band[(band >= lo) & (band < lo + r.shape[0])] - lo] = False
        zero = np.abs(r) <= _ZERO_ULPS * np.finfo(float).eps * terms
        flipped += int(np.count_nonzero(off & ~zero & (ww > 0) & ((r > 0) != (r0 > 0))))
    return flipped, objective
