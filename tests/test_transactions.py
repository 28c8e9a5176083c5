"""Estimator state changes all at once or not at all, and counters are honest.

* An exception or a KeyboardInterrupt raised at *any* line of fastlinreg's
  Python code during ``fit`` or ``partial_fit`` (injected by a trace function
  at the k-th line executed, for every k until the call completes) leaves the
  estimator exactly as it was: the same attributes with the same values, its
  lock free, and a later fit as good as ever.
* ``partial_fit`` on one estimator from four threads gives the model of all
  the chunks (no row lost), as the same calls made one after another do.
* ``n_iter_`` never exceeds ``max_iter``, and ``converged_`` says exactly
  whether the stopping rule was met, for every loss and solver.
"""

from __future__ import annotations

import copy
import dis
import os
import sys
import threading
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any

import numpy as np
import pytest

import fastlinreg
from fastlinreg import LinearRegression
from fastlinreg._base import state_lock

PACKAGE_DIR = os.path.dirname(fastlinreg.__file__) + os.sep


class Injected(Exception):
    """The exception the tests raise inside fastlinreg (no code catches it)."""


class Inject:
    """Raise ``exc`` at the ``at``-th line fastlinreg's Python code executes.

    Except where no signal can land: CPython reports a line event for a
    ``with`` statement's exit *before* its ``__exit__`` call, but looks for
    signals only at calls and backward jumps, so a KeyboardInterrupt cannot
    come between a ``with`` block and its exit (a trace function raising
    there would skip ``__exit__``: a lock never released, an errstate never
    restored). Those events are not counted.
    """

    def __init__(self, at: int, exc: type[BaseException]) -> None:
        self.at, self.exc, self.count = at, exc, 0

    def __enter__(self) -> Inject:
        sys.settrace(self._global)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.settrace(None)

    def _global(self, frame: FrameType, event: str, arg: Any) -> Any:
        return self._local if frame.f_code.co_filename.startswith(PACKAGE_DIR) else None

    def _local(self, frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line" and not _with_exit(frame):
            self.count += 1
            if self.count == self.at:
                raise self.exc("injected")
        return self._local


_WITH_EXITS: dict[Any, frozenset[int]] = {}


def _with_exit(frame: FrameType) -> bool:
    """Whether the frame is about to call a ``with`` block's ``__exit__``
    (three ``None`` loaded for it, then the call; CPython 3.11+)."""
    code = frame.f_code
    exits = _WITH_EXITS.get(code)
    if exits is None:
        ops = [i for i in dis.get_instructions(code) if i.opname != "CACHE"]
        starts = [
            k
            for k in range(len(ops) - 3)
            if all(
                op.opname == "LOAD_CONST" and op.argval is None for op in ops[k : k + 3]
            )
            and ops[k + 3].opname in ("PRECALL", "CALL")
            and ops[k + 3].arg == 2
        ]
        # (a return inside the block first swaps its value below the exit)
        exits = frozenset(
            ops[k - 1 if k and ops[k - 1].opname == "SWAP" else k].offset
            for k in starts
        )
        _WITH_EXITS[code] = exits
    return frame.f_lasti in exits


def _sample(lock: Any) -> int:
    with lock:
        x = 1
    with lock:
        return x


def _knows_with_exits() -> bool:
    """Whether :func:`_with_exit` reads this Python's bytecode (both exits
    of :func:`_sample`), so that an injection can never skip an ``__exit__``."""
    _with_exit(sys._getframe())  # fills the cache for this frame's code
    ops = [i for i in dis.get_instructions(_sample) if i.opname != "CACHE"]
    exits = _WITH_EXITS.get(_sample.__code__)
    if exits is None:

        class Probe:
            f_code = _sample.__code__
            f_lasti = -1

        _with_exit(Probe())  # type: ignore[arg-type]
        exits = _WITH_EXITS[_sample.__code__]
    return len(exits) == 2 and all(o in {op.offset for op in ops} for o in exits)


def snapshot(model: LinearRegression) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in vars(model).items()}


def assert_same_state(before: dict[str, Any], model: LinearRegression) -> None:
    after = vars(model)
    assert sorted(after) == sorted(before)
    for key, value in before.items():
        assert_equal_values(value, after[key], key)


def same_state(before: dict[str, Any], model: LinearRegression) -> bool:
    try:
        assert_same_state(before, model)
    except AssertionError:
        return False
    return True


def assert_equal_values(a: Any, b: Any, where: str) -> None:
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert a.dtype == b.dtype, where
        assert np.array_equal(a, b), where
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for x, y in zip(a, b, strict=True):
            assert_equal_values(x, y, where)
    elif hasattr(a, "__dataclass_fields__"):  # SufficientStats
        for field in a.__dataclass_fields__:
            assert_equal_values(
                getattr(a, field), getattr(b, field), f"{where}.{field}"
            )
    else:
        assert type(a) is type(b), (where, a, b)
        assert a == b or a is b, (where, a, b)


def problem(n: int = 60, d: int = 3, k: int = 1, seed: int = 0) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.resize([1.0, 10.0, 0.1], d) + 5.0
    Y = X @ rng.normal(size=(d, k)) + rng.normal(size=(n, k))
    return X, Y[:, 0] if k == 1 else Y


def scenarios() -> dict[str, tuple[Callable[[], LinearRegression], Callable[..., Any]]]:
    """name -> (make the estimator as it is before the call, the call)."""
    X3, y3 = problem(d=3)
    X2, y2 = problem(d=2, seed=1)
    X3b, y3b = problem(d=3, seed=2)
    Y2 = problem(d=3, k=2, seed=3)[1]

    def fitted(**params: Any) -> Callable[[], LinearRegression]:
        return lambda: LinearRegression(**params).fit(X3, y3)

    def named() -> LinearRegression:
        pd = pytest.importorskip("pandas")
        frame = pd.DataFrame(X3, columns=["a", "b", "c"])
        return LinearRegression().fit(frame, y3)

    return {
        "fit, unfitted": (LinearRegression, lambda m: m.fit(X3, y3)),
        "fit, numpy backend": (
            lambda: LinearRegression(backend="numpy"),
            lambda m: m.fit(X3, y3),
        ),
        "refit on 2 features": (fitted(), lambda m: m.fit(X2, y2)),
        "refit without names": (named, lambda m: m.fit(X3b, y3b)),
        "refit, two targets": (fitted(), lambda m: m.fit(X3b, Y2)),
        "refit, huber (Newton on passes)": (
            fitted(loss="huber", epsilon=1.0),
            lambda m: m.fit(X3b, y3b),
        ),
        "refit, l1 penalty": (
            fitted(alpha=0.05, penalty="l1"),
            lambda m: m.fit(X3b, y3b),
        ),
        "refit, fixed step with a callback": (
            fitted(learning_rate=1e-3, max_iter=5, callback=lambda info: None),
            lambda m: m.fit(X3b, y3b),
        ),
        "refit, clustered inference (its pass)": (
            lambda: LinearRegression(cov_type="cluster").fit(
                X3, y3, groups=np.arange(60) % 5
            ),
            lambda m: m.fit(X3b, y3b, groups=np.arange(60) % 7),
        ),
        "partial_fit, first chunk": (LinearRegression, lambda m: m.partial_fit(X3, y3)),
        "partial_fit, next chunk": (fitted(), lambda m: m.partial_fit(X3b, y3b)),
    }


@pytest.mark.parametrize("exc", [KeyboardInterrupt, Injected])
@pytest.mark.parametrize("name", sorted(scenarios()))
def test_failure_at_any_line_leaves_the_estimator_unchanged(name, exc):
    if not _knows_with_exits():
        pytest.skip(f"with-statement exits not recognised in Python {sys.version}")
    make, call = scenarios()[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning of max_iter=5
        reference = snapshot(call(make()))
        injected = late = 0
        for at in range(1, 100_000):
            model = make()
            before = snapshot(model)
            with Inject(at, exc) as inject:
                try:
                    call(model)
                except exc:
                    injected += 1
                    assert not state_lock(model)._is_owned()  # type: ignore[attr-defined]
                    if same_state(before, model):
                        survivor = model
                        continue
                    # All or nothing: raised after the commit (its last
                    # lines: the return statements), the whole new state.
                    assert_same_state(reference, model)
                    late += 1
                    continue
            assert inject.count < at  # it ran to the end: no line left to try
            break
        # Every line was tried; an interrupted estimator fits as ever.
        assert injected > 100
        assert late <= 4
        assert_same_state(reference, call(survivor))


def feed_from_threads(
    model: LinearRegression, X: Any, y: Any, chunks: list[slice], n_threads: int
) -> list[BaseException]:
    """``model.partial_fit`` on the chunks, thread i taking every
    ``n_threads``-th from the i-th, all starting together; what they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(n_threads)

    def feed(part: list[slice]) -> None:
        try:
            barrier.wait()
            for rows in part:
                model.partial_fit(X[rows], y[rows])
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=feed, args=(chunks[i::n_threads],))
        for i in range(n_threads)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_concurrent_partial_fit_from_four_threads_equals_serial():
    """Four threads feed 160 chunks to one estimator: every row counts."""
    X, y = problem(n=160 * 500, d=4, seed=7)
    chunks = [slice(i, i + 500) for i in range(0, X.shape[0], 500)]
    serial = LinearRegression()
    for rows in chunks:
        serial.partial_fit(X[rows], y[rows])
    for _ in range(3):
        shared = LinearRegression()
        errors = feed_from_threads(shared, X, y, chunks, n_threads=4)
        assert errors == []
        assert shared._stats.n == X.shape[0] == serial._stats.n
        np.testing.assert_allclose(shared.coef_, serial.coef_, rtol=1e-10)
        np.testing.assert_allclose(shared.intercept_, serial.intercept_, rtol=1e-10)
        np.testing.assert_allclose(shared._stats.cov, serial._stats.cov, rtol=1e-10)


def ill_conditioned(n: int = 200, degree: int = 5) -> tuple[Any, Any]:
    """A polynomial basis: condition number ~1e6-1e9, refinement's range."""
    x = np.linspace(0.0, 3.0, n)
    X = np.column_stack([x**p for p in range(1, degree + 1)])
    rng = np.random.default_rng(5)
    return X, X @ np.ones(degree) + 0.01 * rng.normal(size=n)


SETTINGS = [
    {"solver": "cg"},
    {"solver": "gd"},
    {"solver": "nesterov"},
    {"solver": "newton"},
    {"solver": "cg", "precompute": True, "tol": 1e-14},
    {"solver": "gd", "precompute": False},
    {"learning_rate": 1e-4, "solver": "gd"},
    {"loss": "huber", "epsilon": 0.5},
    {"loss": "absolute_error"},
    {"loss": "quantile", "quantile": 0.3},
    {"loss": "epsilon_insensitive", "epsilon": 0.1},
    {"alpha": 0.01, "penalty": "l1"},
    {"alpha": 0.01, "penalty": "elasticnet", "l1_ratio": 0.5},
]


@pytest.mark.parametrize("max_iter", [1, 2, 3, 5, 8, 1000])
@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: str(sorted(s.items())))
def test_n_iter_never_exceeds_max_iter(settings, max_iter):
    X, y = ill_conditioned()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LinearRegression(max_iter=max_iter, **settings).fit(X, y)
    assert 0 <= model.n_iter_ <= max_iter
    assert len(model.loss_curve_) >= 1
    assert model.converged_ == (model.stop_reason_ == "converged")
    if model.stop_reason_ == "max_iter":
        assert model.n_iter_ == max_iter


def test_refinement_stops_at_max_iter():
    """The statistics' solution is refined by Newton steps, which are
    iterations: when the solver used up max_iter, none is added (such a fit
    ended with n_iter_=1003 and converged_=True), and with fewer left, no
    more than are left."""
    X, y = ill_conditioned(degree=6)
    for max_iter in (1, 2, 3, 4, 5, 6, 7, 10, 1000):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastlinreg.ConvergenceWarning)
            model = LinearRegression(tol=1e-14, max_iter=max_iter).fit(X, y)
        assert model.n_iter_ <= max_iter
        assert model.converged_ == (model.stop_reason_ == "converged")
        assert len(model.loss_curve_) == model.n_iter_ + 1
