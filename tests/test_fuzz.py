"""Bad input never crashes: hypothesis feeds the public API random shapes,
dtypes, memory layouts, non-finite values, containers and absurd parameters.

Every call must either give the right answer, checked independently (a least
squares fit against ``numpy.linalg.lstsq``, ``loss_gradient`` against the
formula, a split against the rows it was given), or raise
``ValueError``/``TypeError`` (subclasses included; ``DivergenceError`` for a
step that diverges) whose message names the problem: the argument or
parameter, or what is wrong with it ("NaN", "finite", "dtype", "shape",
"empty", ...). A failure is anything else: another exception type, a crash, a
stray warning from NumPy (RuntimeWarning, ComplexWarning, DeprecationWarning:
the project promises none), NaN or inf in a returned model, a wrong answer, a
bad input accepted.

Known bugs are tolerated here only in their exact signature (``KNOWN_BUGS``,
each counted with ``hypothesis.event``: run pytest with
``--hypothesis-show-statistics`` to see how often), and each is reproduced by
a strict xfail test (in ``test_divergence.py``, or at the end of this file):
once a bug is fixed its xfail test fails, and its marker and its entry here
go. The bugs this fuzz found that are fixed have a regression test at the end
of this file or in ``test_divergence.py``.

Adding an estimator parameter is one line in ``PARAMS``: its ordinary values,
the rule saying which values are valid, and whether it leaves the least
squares answer alone (``neutral``); until it is there,
``test_every_public_name_is_fuzzed`` fails.

Example budget: ``FUZZ_EXAMPLES`` (2,400 in all) under ``HYPOTHESIS_PROFILE=ci``,
a fifth of it in the default ``dev`` profile; the arrays are small (at most
12 x 4) so that the whole file runs in well under a minute.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import math
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

import fastlinreg
from fastlinreg import DivergenceError, LinearRegression

CI = os.environ.get("HYPOTHESIS_PROFILE", "dev") == "ci"

# Examples per fuzz test under HYPOTHESIS_PROFILE=ci (2,400 in all).
FUZZ_EXAMPLES = {
    "fit": 600,
    "predict_score": 300,
    "params": 500,
    "get_set_params": 150,
    "partial_fit": 200,
    "loss_gradient": 300,
    "make_regression": 200,
    "train_test_split": 150,
    "show_config": 50,
    "cv": 300,
}


def fuzz(name: str) -> settings:
    n = FUZZ_EXAMPLES[name]
    return settings(
        max_examples=n if CI else max(20, n // 5),
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


# ==========================================================================
# Running a call and judging what came out
# ==========================================================================


@dataclass
class Outcome:
    value: Any = None
    error: Exception | None = None
    caught: list[warnings.WarningMessage] = field(default_factory=list)

    def warned(self, category: type[Warning]) -> bool:
        return any(issubclass(w.category, category) for w in self.caught)


def run(fn: Callable[[], Any]) -> Outcome:
    """Call ``fn`` recording every warning (none is turned into an error)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn()
        except Exception as exc:
            return Outcome(error=exc, caught=list(caught))
    return Outcome(value=value, caught=list(caught))


# What the project must never let escape: NumPy's floating-point and
# conversion warnings (ComplexWarning is a RuntimeWarning), deprecations.
STRAY = (RuntimeWarning, DeprecationWarning, PendingDeprecationWarning, FutureWarning)


def stray_warnings(out: Outcome) -> list[str]:
    return [
        f"{w.category.__name__}: {w.message} "
        f"({os.path.basename(w.filename)}:{w.lineno})"
        for w in out.caught
        if issubclass(w.category, STRAY)
    ]


# Words an error message may use to name each kind of problem.
OVERFLOW_WORDS = ("overflow", "underflow", "too large", "too small", "rescale")
OVERFLOW_WORDS += ("finite", "exceed", "range")
WORDS = {
    "none": ("none",),
    "ndim": ("dimension", "1-d", "2-d", "2d", "scalar", "shape", "reshape", "target"),
    "ragged": ("inhomogeneous", "sequence", "ragged", "shape"),
    "dtype": ("dtype", "complex", "string", "number", "numeric"),
    "empty": ("empty", "0 sample", "0 feature", "minimum"),
    "nan": ("nan", "finite"),
    "inf": ("inf", "finite"),
    "length": ("inconsistent", "samples", "length"),
    "features": ("features",),
    "overflow": OVERFLOW_WORDS,
    "negative": ("negative",),
}


def names_problem(message: str, problems: set[str], names: set[str]) -> bool:
    """``message`` names one of the ``problems`` or one of the arguments."""
    low = message.lower()
    if any(word in low for p in problems for word in WORDS[p]):
        return True
    return any(re.search(rf"(?<![\w.]){re.escape(n)}(?!\w)", message) for n in names)


def assert_refused(
    out: Outcome, problems: set[str], names: set[str], *, divergence: bool = False
) -> None:
    """The call raised ValueError/TypeError (or DivergenceError) naming a problem."""
    assert out.error is not None, f"accepted, returned {out.value!r:.300}"
    allowed: tuple[type[Exception], ...] = (ValueError, TypeError)
    if divergence:
        allowed += (DivergenceError,)
    assert isinstance(out.error, allowed), (
        f"raised {type(out.error).__name__}: {out.error}"
    )
    assert names_problem(str(out.error), problems, names), (
        f"{type(out.error).__name__} names none of {sorted(problems)} / "
        f"{sorted(names)}: {out.error}"
    )


# ==========================================================================
# Known bugs: tolerated in their exact signature only (see the module doc)
# ==========================================================================

KNOWN_BUGS: dict[str, str] = {}


def tolerate(bug: str) -> None:
    assert bug in KNOWN_BUGS
    event(f"known bug: {bug}")


def only_overflow_warnings(out: Outcome) -> bool:
    """Every stray warning is NumPy's overflow/invalid one, raised in
    fastlinreg's code (or in a NumPy function it called)."""
    strays = [w for w in out.caught if issubclass(w.category, STRAY)]
    return bool(strays) and all(
        issubclass(w.category, RuntimeWarning)
        and re.search(rf"{os.sep}(fastlinreg|numpy){os.sep}", w.filename)
        and re.search(r"overflow|invalid value", str(w.message))
        for w in strays
    )


def is_huge(value: Any, limit: float = 1e150) -> bool:
    """A number (or numbers) of magnitude >= ``limit``, or an int beyond float."""
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value) >= limit
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ComplexWarning
            a = np.abs(np.asarray(value, dtype=np.float64))
    except (TypeError, ValueError, OverflowError):
        return False
    finite = a[np.isfinite(a)]
    return bool(finite.size and finite.max() >= limit)


def assert_no_stray_warnings(out: Outcome, *, float32: bool = False) -> None:
    """No NumPy warning escaped (``float32``: the input was float32, which
    used to matter for a bug now fixed; kept for the call sites)."""
    strays = stray_warnings(out)
    assert not strays, strays


def float32_input(X: Made) -> bool:
    return X.values is not None and read_dtype(X.obj) == np.float32


# ==========================================================================
# Inputs: numbers, then the containers, dtypes and layouts that carry them
# ==========================================================================

SPECIALS = (np.nan, np.inf, -np.inf, 0.0, -0.0, 1e300, -1e300, 1e154)
SPECIALS += (1e-300, 5e-324, 3.4e38, -np.finfo(np.float64).max)
FLOAT_DTYPES = ("float64", "float32", "float16", ">f8", ">f4", "<f8", "longdouble")
EXACT_DTYPES = ("int64", "int8", "uint8", "bool")
REFUSED_DTYPES = ("complex128", "complex64", "<U8", "S8", "datetime64[s]")
REFUSED_DTYPES += ("timedelta64[s]", "V8", "f8,f8")
LAYOUTS = ("C", "F", "rows strided", "cols strided", "negative strides")
LAYOUTS += ("read-only", "list")
# Kinds of input, weighted by repetition (the first ones shrink best).
COMMON = ("array",) * 14 + ("list", "object", "0-d", "ragged", "None", "string")
COMMON += ("refused dtype",)
X_KINDS = (*COMMON, "object with None", "object with junk", "frame", "3-d")
Y_KINDS = (*COMMON, "column", "two columns")


@dataclass(frozen=True)
class Made:
    """An input and what the API should make of it."""

    obj: Any
    # The float64 numbers the API should read, in the shape it should see them
    # ((n, d) for X, (n,) for y); None when it must refuse the input.
    values: np.ndarray | None
    problems: frozenset[str]  # why it must be refused (empty: valid)
    kind: str
    n: int | None  # rows, when the input has rows

    @property
    def valid(self) -> bool:
        return not self.problems


@st.composite
def numbers(draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    """Ordinary float64 numbers: seeded normals at a drawn scale and offset."""
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([1.0, 1e-3, 1e3]))
    loc = draw(st.sampled_from([0.0, 5.0, -1e3]))
    return loc + scale * np.random.default_rng(seed).standard_normal(shape)


@st.composite
def with_specials(draw: st.DrawFn, a: np.ndarray) -> np.ndarray:
    """``a`` with up to two entries replaced by NaN, inf, huge or tiny values."""
    a = a.copy()
    k = draw(st.sampled_from([0] * 6 + [1, 2])) if a.size else 0
    flat = a.reshape(-1)
    for _ in range(k):
        flat[draw(st.integers(0, a.size - 1))] = draw(st.sampled_from(SPECIALS))
    return a


def as_dtype(a: np.ndarray, dtype: Any) -> np.ndarray:
    """``a`` (float64) in ``dtype``, the way a user would have it."""
    dt = np.dtype(dtype)
    with np.errstate(all="ignore"):
        if dt.kind == "f":
            return a.astype(dt)
        if dt.kind == "b":
            return a > 0
        if dt.kind in "iu":
            info = np.iinfo(dt)
            return np.clip(np.nan_to_num(np.round(a)), info.min, info.max).astype(dt)
        if dt.kind == "c":
            return a.astype(dt) + 1j
        if dt.kind in "US":
            return a.astype(dt)
        if dt.kind in "mM":
            return np.nan_to_num(a).astype(np.int64).astype(dt)
        return np.zeros(a.shape, dt)


def in_layout(a: np.ndarray, layout: str) -> Any:
    """The same values in another memory layout (or as a list)."""
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "rows strided" and a.ndim:
        big = np.zeros((2 * a.shape[0], *a.shape[1:]), a.dtype)
        big[::2] = a
        return big[::2]
    if layout == "cols strided" and a.ndim == 2:
        big = np.zeros((a.shape[0], 2 * a.shape[1]), a.dtype)
        big[:, ::2] = a
        return big[:, ::2]
    if layout == "negative strides":
        flip = (slice(None, None, -1),) * a.ndim
        return a[flip].copy()[flip]
    if layout == "read-only":
        b = a.copy()
        b.setflags(write=False)
        return b
    if layout == "list":
        return a.tolist()
    return np.ascontiguousarray(a)


def read_problems(values: np.ndarray, role: str) -> tuple[np.ndarray, set[str]]:
    """What the API should see of numeric ``values``, and what is wrong with it."""
    problems: set[str] = set()
    if role == "X":
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2:
            return values, {"ndim"}
        if values.shape[0] == 0 or values.shape[1] == 0:
            problems.add("empty")
    else:
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]  # flattened, with a DataConversionWarning
        if values.ndim == 2:  # several targets: still read for NaN and inf
            problems.add("ndim")
        elif values.ndim != 1:
            return values, {"ndim"}
        if values.shape[0] == 0:
            problems.add("empty")
    if np.isnan(values).any():
        problems.add("nan")
    if np.isinf(values).any():
        problems.add("inf")
    return values, problems


def ragged(base: np.ndarray, role: str) -> list[Any]:
    """Rows of unequal lengths (X), or numbers mixed with a list (y)."""
    if role == "y":
        rows: list[Any] = base.tolist()
        return [*rows, [1.0, 2.0]] if rows else [1.0, [1.0, 2.0]]
    rows = [list(r) for r in (base if base.ndim == 2 else base[:, None]).tolist()]
    if not rows:
        return [[1.0], [1.0, 2.0]]
    if len(rows) < 2:  # add a row longer than any other
        rows.append([1.0] * (len(rows[0]) + 3))
    rows[0] = [*rows[0], 1.0]
    return rows


@st.composite
def inputs(draw: st.DrawFn, base: np.ndarray, role: str) -> Made:
    """``base`` (float64, (n, d) for X or (n,) for y) as a drawn kind of input."""
    kind = draw(st.sampled_from(X_KINDS if role == "X" else Y_KINDS))
    n = base.shape[0]
    if kind == "0-d":
        obj = draw(st.sampled_from([np.float64(1.5), np.array(2.0), 3.0, 7]))
        return Made(obj, None, frozenset({"ndim"}), kind, None)
    if kind == "None":
        return Made(None, None, frozenset({"none"}), kind, None)
    if kind == "string":
        return Made("1,2,3", None, frozenset({"dtype"}), kind, None)
    if kind == "ragged":
        rows = ragged(base, role)
        return Made(rows, None, frozenset({"ragged"}), kind, len(rows))
    if kind == "refused dtype":
        dtype = draw(st.sampled_from(REFUSED_DTYPES))
        # A list keeps no dtype when empty, and records become tuples of floats.
        keeps = base.size and np.dtype(dtype).kind != "V"
        layouts = LAYOUTS if keeps else LAYOUTS[:-1]
        obj = in_layout(as_dtype(base, dtype), draw(st.sampled_from(layouts)))
        return Made(obj, None, frozenset({"dtype"}), kind, n)
    if kind == "3-d":
        base2 = base if base.ndim == 2 else base[:, None]
        obj = np.repeat(base2[..., None], 2, axis=-1)
        return Made(obj, None, frozenset({"ndim"}), kind, n)

    a = draw(with_specials(base))
    if kind == "array":
        dtype = draw(st.sampled_from(FLOAT_DTYPES * 2 + EXACT_DTYPES))
        obj = in_layout(as_dtype(a, dtype), draw(st.sampled_from(LAYOUTS)))
    elif kind == "list":
        obj = a.tolist()
    elif kind == "column":
        obj = in_layout(a[:, None], draw(st.sampled_from(LAYOUTS)))
    elif kind == "two columns":  # several targets: fit may take them
        with np.errstate(all="ignore"):
            obj = np.column_stack([a, 2.0 * a - 1.0])
    elif kind == "frame":
        pd = pytest.importorskip("pandas")
        a2 = a if a.ndim == 2 else a[:, None]
        obj = pd.DataFrame(a2, columns=[f"c{j}" for j in range(a2.shape[1])])
    elif kind.startswith("object"):
        obj = np.empty(a.shape, dtype=object)
        for index in np.ndindex(a.shape):
            obj[index] = float(a[index])  # Python floats
        if a.size and kind != "object":
            junk = None
            if kind == "object with junk":
                junk = draw(st.sampled_from([{"a": 1}, "abc", 1j, [1.0], b"x"]))
            obj[np.unravel_index(draw(st.integers(0, a.size - 1)), a.shape)] = junk
            if junk is not None:
                return Made(obj, None, frozenset({"dtype"}), kind, n)
    else:  # pragma: no cover - every kind is handled above
        raise AssertionError(kind)

    with np.errstate(all="ignore"):
        read = np.asarray(obj).astype(np.float64)
    values, problems = read_problems(read, role)
    return Made(obj, values, frozenset(problems), kind, values.shape[0])


def read_dtype(obj: Any) -> np.dtype[Any]:
    """The float dtype fastlinreg computes in for valid input ``obj``."""
    dt = np.asarray(obj).dtype
    return np.dtype(np.float32 if dt.kind == "f" and dt.itemsize <= 4 else np.float64)


@st.composite
def problem_data(
    draw: st.DrawFn, *, max_n: int = 12, max_d: int = 4, d: int | None = None
) -> tuple[Made, Made]:
    """(X, y): y = X @ w + b + noise from the clean numbers, then both made."""
    n = draw(st.integers(0, max_n))
    d = draw(st.integers(0, max_d)) if d is None else d
    base = draw(numbers((n, d)))
    one_feature = d == 1 and draw(st.booleans())  # a 1-D X is one feature
    X = draw(inputs(base[:, 0] if one_feature else base, "X"))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    y_base = base @ rng.uniform(-5, 5, d) + rng.uniform(-5, 5)
    y_base = y_base + draw(st.sampled_from([0.0, 0.1, 1.0])) * rng.standard_normal(n)
    change = draw(st.sampled_from([0] * 10 + [-1, 1]))
    if change == -1 and n > 0:
        y_base = y_base[:-1]
    elif change == 1:
        y_base = np.append(y_base, 1.0)
    return X, draw(inputs(y_base, "y"))


def expected_problems(X: Made, y: Made) -> tuple[set[str], set[str]]:
    """Why a call on (X, y) must fail (empty: it must not) and names to mention."""
    problems = set(X.problems | y.problems)
    names = {name for name, m in (("X", X), ("y", y)) if m.problems}
    if X.n is not None and y.n is not None and X.n != y.n:
        problems.add("length")
        names |= {"X", "y"}
    return problems, names


def several_targets(X: Made, y: Made) -> bool:
    """y has several columns and nothing else is wrong: a multi-output fit."""
    if y.kind != "two columns" or y.values is None or not X.valid:
        return False
    v = y.values
    return X.n == v.shape[0] > 0 and bool(np.isfinite(v).all())


def wrong_width(X: Made, d: int) -> bool:
    """X is a readable matrix with another number of features than ``d``."""
    return X.values is not None and X.values.ndim == 2 and X.values.shape[1] != d


def extreme(*made: Made) -> bool:
    """Finite values so large that squares or products may overflow, or so
    small (not 0) that they underflow: from 1e150 and below 1e-150 (1e30 and
    1e-30 for float32 input, the precision of its predictions)."""
    for m in made:
        if m.values is None:
            continue
        big = 1e30 if read_dtype(m.obj) == np.float32 else 1e150
        with np.errstate(all="ignore"):
            a = np.abs(m.values[np.isfinite(m.values)])
        a = a[a > 0]
        if a.size and (a.max() >= big or a.min() < 1 / big):
            return True
    return False


def extreme_fit(X: Made, y: Made) -> bool:
    """Data a fit may refuse for overflow: extreme values, or, for float32 X
    (whose coefficients are float32), targets from 1e30 on."""
    if extreme(X, y):
        return True
    return float32_input(X) and y.values is not None and is_huge(y.values, 1e30)


# ==========================================================================
# The least-squares answer a fit must give
# ==========================================================================


def design(X: np.ndarray, fit_intercept: bool) -> np.ndarray:
    return np.column_stack([X, np.ones(len(X))]) if fit_intercept else X


def check_least_squares(
    coef: np.ndarray,
    b: float,
    X: np.ndarray,
    y: np.ndarray,
    fit_intercept: bool,
    dtype: np.dtype[Any],
    weights: np.ndarray | None = None,
) -> None:
    """The (weighted) mean squared error at (coef, b) is the least-squares
    minimum (by ``numpy.linalg.lstsq``), up to 1e-6 of the spread of y and what
    rounding the coefficients to ``dtype`` may cost. Scale-free, and right
    for rank-deficient problems, whose minimisers are not unique."""
    n, d = X.shape
    s = np.ones(n) if weights is None else weights
    with np.errstate(all="ignore"):
        sq = np.sqrt(s)
        A = design(X, fit_intercept)
        sol, *_ = np.linalg.lstsq(A * sq[:, None], y * sq, rcond=None)
        r_best = y - A @ sol
        best = float(s @ r_best**2) / s.sum()
        w = coef.astype(np.float64)
        r = y - X @ w - b
        loss = float(s @ r**2) / s.sum()
        ybar = float(s @ y) / s.sum() if fit_intercept else 0.0
        spread = float(s @ (y - ybar) ** 2) / s.sum()
        # What rounding coef_ to its dtype (and the float64 sums) may cost.
        eps = 4 * np.finfo(dtype).eps + 64 * np.finfo(np.float64).eps * (d + 2)
        size = np.abs(y) + abs(b) + np.abs(X) @ np.abs(w)
        ms = float(s @ size**2) / s.sum()
        slack = 2 * eps * math.sqrt(max(loss, 0.0) * ms) + eps**2 * ms
    if not np.isfinite([loss, best, spread, slack]).all():
        event("fit: beyond float64, not checked against lstsq")
        return
    assert loss <= best + 1e-6 * spread + slack, (loss, best, spread, slack)


def is_least_squares(model: LinearRegression) -> bool:
    """Every parameter that changes the minimiser is at its default."""
    defaults = DEFAULTS
    for name, value in model.get_params().items():
        param = PARAMS.get(name)
        if param is not None and param.neutral:
            continue
        if not same(value, defaults.get(name)):
            return False
    return True


def same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):
        return False


def check_fitted(
    model: LinearRegression,
    X: np.ndarray,
    y: np.ndarray,
    dtype: np.dtype[Any],
    out: Outcome,
    weights: np.ndarray | None = None,
) -> None:
    """A returned model: finite, shaped, honest about convergence, and right."""
    _n, d = X.shape
    targets = y.shape[1] if y.ndim == 2 else None
    coef = np.asarray(model.coef_)
    b = np.asarray(model.intercept_)
    assert coef.shape == ((d,) if targets is None else (targets, d)), coef.shape
    assert coef.dtype == dtype, (coef.dtype, dtype)
    assert np.isfinite(coef).all(), coef
    assert np.isfinite(b).all(), b
    assert model.n_features_in_ == d
    curves = [model.loss_curve_] if targets is None else list(model.loss_curve_)
    for curve in curves:
        assert np.isfinite(curve).all(), curve
    if targets is None:
        assert len(model.loss_curve_) == model.n_iter_ + 1
    tol = float(model.tol)
    warned_convergence = out.warned(fastlinreg.ConvergenceWarning)
    if not model.converged_ and tol > 0 and model.stop_reason_ != "callback":
        assert warned_convergence, f"stopped ({model.stop_reason_}) without warning"
    if not model.fit_intercept:
        assert np.all(b == 0.0)
    honest = not (warned_convergence or out.warned(fastlinreg.IllConditionedWarning))
    if not (model.converged_ and honest and tol <= 1e-8 and is_least_squares(model)):
        why = {
            "not converged": not model.converged_,
            "warned": not honest,
            "large tol": tol > 1e-8,
            "not least squares": not is_least_squares(model),
        }
        event(f"fit: not checked ({', '.join(k for k, v in why.items() if v)})")
        return
    if model.learning_rate != "auto":
        # Plain gradient descent stops on the raw gradient: its answer is only
        # as good as the raw problem is conditioned.
        sv = np.linalg.svd(design(X, bool(model.fit_intercept)), compute_uv=False)
        if not (sv[-1] > 0 and sv[0] / sv[-1] < 1e3):
            return
    event("fit: checked against lstsq")
    for j in range(targets or 1):
        check_least_squares(
            coef if targets is None else coef[j],
            float(b if targets is None else b[j]),
            X,
            y if targets is None else y[:, j],
            bool(model.fit_intercept),
            dtype,
            weights,
        )


def refusal_of_valid_input(out: Outcome, big: bool, names: set[str]) -> None:
    """Valid input may be refused only for overflow (or a diverging step)."""
    assert out.error is not None
    if isinstance(out.error, DivergenceError):
        assert big or "learning_rate" in names, repr(out.error)
        assert_refused(out, {"overflow"}, names, divergence=True)
        return
    assert big, f"refused valid input: {out.error!r}"
    assert_refused(out, {"overflow"}, set())


# ==========================================================================
# Sample weights
# ==========================================================================


@st.composite
def sample_weights(
    draw: st.DrawFn, n: int | None
) -> tuple[Any, np.ndarray | None, str]:
    """(sample_weight, its values or None, what is wrong: '' if nothing)."""
    m = 3 if n is None else n
    kind = draw(
        st.sampled_from(["none"] * 12 + ["positive", "some zero", "ints", "list"])
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    w = rng.uniform(0.1, 3.0, m)
    if kind == "none":
        return None, None, ""
    if kind == "some zero" and m > 1:
        w[draw(st.integers(0, m - 1))] = 0.0
    if kind == "ints":
        w = np.round(w) + 1
    if kind in ("positive", "some zero", "ints", "list"):
        return (w.tolist() if kind == "list" else w), w, ""
    return None, None, ""  # pragma: no cover


@st.composite
def bad_sample_weights(draw: st.DrawFn, n: int | None) -> tuple[Any, str]:
    """A sample_weight that must be refused, and the problem it has."""
    m = 3 if n is None else n
    w = np.ones(m)
    kind = draw(
        st.sampled_from(
            ["negative", "nan", "inf", "zeros", "length", "2-d", "string", "complex"]
        )
    )
    if kind in ("negative", "nan", "inf") and m:
        w[draw(st.integers(0, m - 1))] = {"negative": -1.0, "nan": np.nan}.get(
            kind, np.inf
        )
        return w, {"negative": "negative", "nan": "nan", "inf": "inf"}[kind]
    if kind == "zeros" or not m:
        return np.zeros(m), "empty"
    if kind == "length":
        return np.ones(m + 1), "length"
    if kind == "2-d":
        return np.ones((m, 2)), "ndim"
    if kind == "string":
        return np.ones(m).astype(str), "dtype"
    return np.ones(m) + 1j, "dtype"


# ==========================================================================
# LinearRegression.fit / predict / score on fuzzed arrays
# ==========================================================================


@st.composite
def fit_settings(draw: st.DrawFn) -> dict[str, Any]:
    """Valid, ordinary estimator settings (absurd ones: test_params)."""
    kw: dict[str, Any] = {
        "backend": draw(st.sampled_from(fastlinreg.available_backends())),
        "fit_intercept": draw(st.booleans()),
        "precompute": draw(st.sampled_from(["auto", True, False])),
        "n_jobs": draw(st.sampled_from([None, 1, 2, -1])),
    }
    if draw(st.integers(0, 4)) == 0:
        kw["learning_rate"] = draw(st.sampled_from([1e-3, 0.05]))
        kw["max_iter"] = draw(st.integers(1, 60))
    else:
        kw["solver"] = draw(st.sampled_from(["auto", "gd", "nesterov"]))
    return kw


def check_fit(
    X: Made, y: Made, kw: dict[str, Any], weights: tuple[Any, Any, str]
) -> LinearRegression | None:
    """fit(X, y) with settings ``kw``: refused properly, or fitted right."""
    sw, sw_values, sw_problem = weights
    model = LinearRegression(**kw)
    if sw is None:
        out = run(lambda: model.fit(X.obj, y.obj))
    else:
        out = run(lambda: model.fit(X.obj, y.obj, sample_weight=sw))
    note(f"fit -> {out.error!r} {[str(w.message)[:80] for w in out.caught]}")
    problems, names = expected_problems(X, y)
    multi = several_targets(X, y)
    if multi:
        problems.discard("ndim")
        names.discard("y")
    if sw_problem:
        problems.add(sw_problem)
        names.add("sample_weight")
    big = extreme_fit(X, y)
    if problems:
        assert_refused(out, problems, names)
        assert_no_stray_warnings(out)
        return None
    assert_no_stray_warnings(out, float32=float32_input(X))
    if out.error is not None:
        if multi and names_problem(str(out.error), {"ndim"}, {"y"}):
            event("fit: several targets refused")
            return None
        explicit = {
            k for k in ("learning_rate", "solver") if kw.get(k, "auto") != "auto"
        }
        if sw is not None and explicit and not isinstance(out.error, DivergenceError):
            # Weights may need the Newton solver, which chooses its own steps.
            problems = {"overflow"} if big else set()
            assert_refused(out, problems, explicit | {"sample_weight", "newton"})
            event("fit: weights refused with this solver")
            return None
        names = {"X", "y", "learning_rate"} if "learning_rate" in kw else {"X", "y"}
        refusal_of_valid_input(out, big, names)
        return None
    assert X.values is not None
    assert y.values is not None
    check_fitted(model, X.values, y.values, read_dtype(X.obj), out, sw_values)
    if y.kind == "column":
        assert out.warned(fastlinreg.DataConversionWarning)
    return model


def check_predict(model: LinearRegression, X: Made) -> None:
    out = run(lambda: model.predict(X.obj))
    problems = set(X.problems)
    if wrong_width(X, model.n_features_in_):
        problems.add("features")
    if problems:
        assert_refused(out, problems, {"X"})
        assert_no_stray_warnings(out)
        return
    assert X.values is not None
    assert_no_stray_warnings(out)
    dtype = read_dtype(X.obj)
    coef = np.asarray(model.coef_, dtype=np.float64)
    b = np.asarray(model.intercept_, dtype=np.float64)
    with np.errstate(all="ignore"):
        want = X.values @ coef.T + b
        beyond = not np.isfinite(want.astype(dtype)).all()
    if beyond:  # predictions beyond the range of their dtype: a clear error
        assert_refused(out, {"overflow"}, {"X"})
        return
    if out.error is not None and extreme(X):
        assert_refused(out, {"overflow"}, {"X"})
        return
    assert out.error is None, repr(out.error)
    pred = out.value
    n = X.values.shape[0]
    assert isinstance(pred, np.ndarray)
    assert pred.shape == ((n,) if coef.ndim == 1 else (n, coef.shape[0]))
    assert pred.dtype == dtype, (pred.dtype, dtype)
    with np.errstate(over="ignore"):  # terms may overflow where their sum does not
        scale = np.abs(X.values) @ np.abs(coef.T) + np.abs(b)
    eps = np.finfo(dtype).eps * (X.values.shape[1] + 2)
    assert np.all(np.abs(pred - want) <= 4 * eps * scale), (pred, want)


def check_score(model: LinearRegression, X: Made, y: Made) -> None:
    out = run(lambda: model.score(X.obj, y.obj))
    problems, names = expected_problems(X, y)
    if wrong_width(X, model.n_features_in_):
        problems.add("features")
        names.add("X")
    multi = several_targets(X, y)
    if multi:
        problems.discard("ndim")
    if problems:
        assert_refused(out, problems | ({"ndim"} if multi else set()), names)
        assert_no_stray_warnings(out)
        return
    assert_no_stray_warnings(out)
    if extreme(X, y) and out.error is not None:
        assert_refused(out, {"overflow"}, {"X", "y"})
        return
    if multi:  # scored against one target or several: judged by fit's tests
        if out.error is not None:
            assert_refused(out, {"ndim", "features", "overflow"}, {"y"})
        return
    assert out.error is None, repr(out.error)
    assert X.values is not None
    assert y.values is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # feature names
        pred = np.asarray(model.predict(X.obj), dtype=np.float64)
    resid = y.values - pred
    dev = y.values - y.values.mean()
    ss_res, ss_tot = float(resid @ resid), float(dev @ dev)
    want = (1.0 if ss_res == 0.0 else 0.0) if ss_tot == 0.0 else 1 - ss_res / ss_tot
    assert isinstance(out.value, float)
    assert math.isclose(out.value, want, rel_tol=1e-9, abs_tol=1e-9), (out.value, want)


@fuzz("fit")
@given(
    data=problem_data(),
    kw=fit_settings(),
    bad_weights=st.integers(0, 15),
    more=st.data(),
)
def test_fit_predict_score(
    data: tuple[Made, Made], kw: dict[str, Any], bad_weights: int, more: st.DataObject
) -> None:
    X, y = data
    n = X.n if X.n is not None else y.n
    if bad_weights == 0:
        sw, problem = more.draw(bad_sample_weights(n), label="sample_weight")
        weights: tuple[Any, Any, str] = (sw, None, problem)
    else:
        weights = more.draw(sample_weights(n), label="sample_weight")
        if weights[1] is not None and (X.n is None or weights[1].shape[0] != X.n):
            weights = (weights[0], None, "length")
    note(f"X: {X.kind} {set(X.problems)} y: {y.kind} {set(y.problems)} {kw}")
    event(f"fit: X {X.kind}, {'valid' if X.valid else 'invalid'}")
    model = check_fit(X, y, kw, weights)
    if model is not None:
        check_predict(model, X)
        check_score(model, X, y)


@fuzz("predict_score")
@given(d=st.integers(1, 4), fit_intercept=st.booleans(), data=st.data())
def test_predict_and_score(d: int, fit_intercept: bool, data: st.DataObject) -> None:
    """A model fitted on clean data, then predict/score on fuzzed input."""
    rng = np.random.default_rng(d)
    X0 = rng.standard_normal((20, d))
    model = LinearRegression(fit_intercept=fit_intercept).fit(
        X0, X0 @ np.arange(1.0, d + 1) + 1.0
    )
    d2 = data.draw(st.sampled_from([d] * 4 + [d + 1, max(d - 1, 0)]), label="d2")
    X, y = data.draw(problem_data(d=d2))
    note(f"X: {X.kind} {set(X.problems)} y: {y.kind} {set(y.problems)}")
    check_predict(model, X)
    check_score(model, X, y)


# ==========================================================================
# Estimator parameters: ordinary and absurd values, one line per parameter
# ==========================================================================


def real(v: Any) -> bool:
    """A real number (NumPy's included), not a bool."""
    return not isinstance(v, bool | np.bool_) and isinstance(
        v, int | float | np.integer | np.floating
    )


def integer(v: Any) -> bool:
    return not isinstance(v, bool | np.bool_) and isinstance(v, int | np.integer)


def finite(v: Any) -> bool:
    try:
        return math.isfinite(float(v))
    except (OverflowError, TypeError, ValueError):
        return False


def verdict(ok: bool) -> str:
    return "valid" if ok else "invalid"


def choice(*values: Any) -> Callable[[Any], str]:
    """Valid: one of ``values`` (strings equal as strings, others identical)."""

    def rule(v: Any) -> str:
        if isinstance(v, str):
            return verdict(v in [u for u in values if isinstance(u, str)])
        return verdict(any(v is u for u in values if not isinstance(u, str)))

    return rule


def number(
    low: float | None = None,
    high: float | None = None,
    *,
    open_low: bool = False,
    open_high: bool = False,
) -> Callable[[Any], str]:
    """Valid: a finite real number in the interval."""

    def rule(v: Any) -> str:
        if not (real(v) and finite(v)):
            return "invalid"
        x = float(v)
        ok = low is None or (x > low if open_low else x >= low)
        ok = ok and (high is None or (x < high if open_high else x <= high))
        return verdict(ok)

    return rule


def count(minimum: int) -> Callable[[Any], str]:
    return lambda v: verdict(integer(v) and v >= minimum)


def step_rule(v: Any) -> str:
    return (
        "valid" if isinstance(v, str) and v == "auto" else number(0, open_low=True)(v)
    )


def boolean(v: Any) -> str:
    return verdict(isinstance(v, bool | np.bool_))


def n_jobs_rule(v: Any) -> str:
    return verdict(v is None or (integer(v) and v != 0))


def callback_rule(v: Any) -> str:
    return verdict(v is None or callable(v))


def precompute_rule(v: Any) -> str:
    if isinstance(v, bool | np.bool_) or (isinstance(v, str) and v == "auto"):
        return "valid"
    return "either" if real(v) and v in (0, 1) else "invalid"


def alpha_rule(v: Any) -> str:
    """A float >= 0, or a 1-D list/array of them, one per target (its
    length must match y: "either")."""
    if isinstance(v, list | tuple | np.ndarray) and np.ndim(v) == 1:
        items = v.tolist() if isinstance(v, np.ndarray) else list(v)
        ok = bool(items) and all(number(0)(a) == "valid" for a in items)
        return "either" if ok else "invalid"
    return number(0)(v)


def bounds_rule(v: Any) -> str:
    """None, or (lower, upper) of floats (arrays: their length must be the
    number of features, "either"), lower ≤ upper, no NaN."""
    if v is None:
        return "valid"
    if not isinstance(v, tuple | list) or len(v) != 2:
        return "invalid"
    sides = []
    for side in v:
        if isinstance(side, str | bytes):
            return "invalid"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                arr = np.asarray(side, dtype=float)
        except (TypeError, ValueError, OverflowError, Warning):
            return "invalid"
        if arr.ndim > 1 or arr.size == 0 or np.isnan(arr).any():
            return "invalid"
        sides.append(arr)
    lo, hi = sides
    if lo.ndim and hi.ndim and lo.shape != hi.shape:
        return "invalid"
    if np.any(lo > hi) or np.any(lo == np.inf) or np.any(hi == -np.inf):
        return "invalid"
    if any(isinstance(side, bool | np.bool_) for side in v):
        return "either"
    return "either" if lo.ndim or hi.ndim else "valid"


def stop_after_two(info: fastlinreg.IterationInfo) -> bool:
    return info.iteration >= 2


def check_info(info: fastlinreg.IterationInfo) -> None:
    assert np.isfinite(info.loss)


@dataclass(frozen=True)
class Param:
    """An estimator parameter, for the fuzz.

    ``ordinary``: its usual values. ``rule(value)``: "valid" (the fit must
    work), "invalid" (it must raise naming the parameter) or "either" (lenient
    values, such as 1 for True). ``neutral``: whatever its value, the fit is
    still least squares (checked against lstsq); otherwise only its default
    value is.
    """

    ordinary: st.SearchStrategy[Any]
    rule: Callable[[Any], str]
    neutral: bool = False


LOSS_NAMES = ("squared_error", "absolute_error", "huber", "quantile")
LOSS_NAMES += ("epsilon_insensitive",)
SOLVERS = ("auto", "gd", "nesterov", "cg", "newton")

S = st.sampled_from
PENALTIES = ("l2", "l1", "elasticnet", None)
BACKEND_NAMES = ("auto", "cython", "numpy")
SOME_BACKENDS = S(["auto", *fastlinreg.available_backends()])

# One line per parameter of LinearRegression.
PARAMS: dict[str, Param] = {
    "loss": Param(S(LOSS_NAMES), choice(*LOSS_NAMES)),
    "epsilon": Param(S([0.1, 1.0]), number(0)),
    "quantile": Param(S([0.5, 0.9]), number(0, 1, open_low=True, open_high=True)),
    "alpha": Param(S([0.0, 0.01, 1.0]), lambda v: alpha_rule(v)),
    "penalty": Param(S(PENALTIES), choice(*PENALTIES)),
    "l1_ratio": Param(S([0.0, 0.15, 1.0]), number(0, 1)),
    "positive": Param(S([False, False, True]), boolean),
    "bounds": Param(
        S([None, None, (0.0, math.inf), (-1.0, 1.0), ([-1.0, -1.0], [1.0, 2.0])]),
        lambda v: bounds_rule(v),
    ),
    "learning_rate": Param(S(["auto", "auto", 0.01, 0.2]), step_rule, neutral=True),
    "max_iter": Param(st.integers(1, 300), count(1), neutral=True),
    "tol": Param(S([0.0, 1e-10, 1e-6, 1e-3]), number(0), neutral=True),
    "fit_intercept": Param(st.booleans(), boolean, neutral=True),
    "precompute": Param(S(["auto", True, False]), precompute_rule, neutral=True),
    "solver": Param(S(SOLVERS), choice(*SOLVERS), neutral=True),
    "backend": Param(SOME_BACKENDS, choice(*BACKEND_NAMES), neutral=True),
    "n_jobs": Param(S([None, 1, 2, -1]), n_jobs_rule, neutral=True),
    "verbose": Param(S([0, 0, 0, 1, 2]), count(0), neutral=True),
    "callback": Param(
        S([None, stop_after_two, check_info]), callback_rule, neutral=True
    ),
    # "cluster" needs fit(groups=...), which these fits do not pass: refused
    "cov_type": Param(
        S(["nonrobust", "nonrobust", "HC1", "HC3"]),
        choice("nonrobust", "HC0", "HC1", "HC2", "HC3"),
        neutral=True,
    ),
}
DEFAULTS = {
    p.name: p.default
    for p in inspect.signature(LinearRegression.__init__).parameters.values()
    if p.kind == p.KEYWORD_ONLY
}


def is_str(value: Any, text: str) -> bool:
    return isinstance(value, str) and value == text


def must_refuse_together(params: dict[str, Any], verdicts: dict[str, str]) -> set[str]:
    """Combinations of valid values that must be refused (the names to use)."""
    names: set[str] = set()
    lr = params.get("learning_rate", "auto")
    if is_str(params.get("solver"), "cg") and (
        params.get("precompute", "auto") in (False, 0)
        or (verdicts.get("learning_rate") == "valid" and lr != "auto")
    ):
        names |= {"solver", "cg"}
    fixed_step = verdicts.get("learning_rate") == "valid" and not is_str(lr, "auto")
    if is_str(params.get("solver"), "newton") and fixed_step:
        names |= {"solver", "newton", "learning_rate"}  # Newton picks its steps
    huber = is_str(params.get("loss"), "huber") and verdicts.get("epsilon") == "valid"
    if huber and float(params["epsilon"]) == 0:
        names |= {"epsilon", "huber"}
    return names


def may_refuse_together(params: dict[str, Any], verdicts: dict[str, str]) -> set[str]:
    """Valid values whose combination may be refused (a solver that cannot
    solve the objective asked for): the names the refusal may use."""
    explicit = {
        k
        for k in ("solver", "learning_rate")
        if verdicts.get(k) == "valid" and not same(params[k], "auto")
    }
    changed = {
        k
        for k, v in params.items()
        if verdicts.get(k) == "valid"
        and not PARAMS[k].neutral
        and not same(v, DEFAULTS[k])
    }
    refused: set[str] = set()
    if explicit and changed:
        refused |= explicit | changed | {"precompute", "newton"}
    # a covariance the loss has no formula for (HC1 with the quantile loss)
    if verdicts.get("cov_type") == "valid" and not same(
        params["cov_type"], "nonrobust"
    ):
        refused |= {"cov_type", "loss"}
    return refused


ABSURD_VALUES = [None, True, False, np.True_, 0, 1, -1, 2, -(2**31), 2**31, 2**63]
ABSURD_VALUES += [10**30, 10**400, -(10**400), 0.0, -0.0, -1.0, 0.5, 1.0, 1e-300]
ABSURD_VALUES += [5e-324, 1e300, float(np.finfo(np.float64).max), math.nan, math.inf]
ABSURD_VALUES += [-math.inf, "", "auto", "AUTO", "1", "cg", "numpy", "l1", "huber"]
ABSURD_VALUES += [b"auto", 1j, np.complex128(1), np.float32(np.nan), np.float16(0.1)]
ABSURD_VALUES += [np.int8(-1), np.uint64(2**64 - 1), np.float64(1e308), np.str_("auto")]
ABSURD_VALUES += [[], [1], (1,), {}, np.array([1, 2]), np.array(0.5), np.array([0.5])]
ABSURD_VALUES += [object()]
ABSURD = st.one_of(
    st.sampled_from(ABSURD_VALUES), st.floats(), st.integers(), st.text(max_size=3)
)

# Each fit in test_params stops after this many iterations (a guard callback):
# a valid but huge max_iter with tol=0 would otherwise run for ever.
ITERATION_GUARD = 200


def guarded(callback: Any) -> Callable[[fastlinreg.IterationInfo], bool]:
    def guard(info: fastlinreg.IterationInfo) -> bool:
        stop = callback is not None and callback(info) is True
        return stop or info.iteration >= ITERATION_GUARD

    return guard


@st.composite
def param_values(draw: st.DrawFn) -> dict[str, Any]:
    """Some parameters, each ordinary or absurd."""
    names = draw(st.lists(st.sampled_from(sorted(PARAMS)), max_size=4, unique=True))
    return {
        name: draw(PARAMS[name].ordinary if draw(st.booleans()) else ABSURD)
        for name in names
    }


@fuzz("params")
@given(
    params=param_values(),
    via_set_params=st.booleans(),
    float32=st.booleans(),
    one_d=st.booleans(),
)
def test_params(
    params: dict[str, Any], via_set_params: bool, float32: bool, one_d: bool
) -> None:
    verdicts = {name: PARAMS[name].rule(value) for name, value in params.items()}
    note(f"{params!r} -> {verdicts}")
    rng = np.random.default_rng(0)
    d = 1 if one_d else 2
    X = rng.standard_normal((20, d)) * [3.0, 0.5][:d] + [1.0, -2.0][:d]
    y = X @ [2.0, -1.0][:d] + 0.5 + 0.1 * rng.standard_normal(20)
    X = X.astype(np.float32 if float32 else np.float64)
    given_params = dict(params)
    if verdicts.get("callback", "valid") == "valid":
        given_params["callback"] = guarded(params.get("callback"))
    if via_set_params:
        model = LinearRegression().set_params(**given_params)
    else:
        model = LinearRegression(**given_params)
    # Parameters are stored as given, and validated at fit time.
    got = model.get_params()
    assert all(got[k] is v for k, v in given_params.items())
    assert isinstance(repr(model), str)
    assert LinearRegression(**got).get_params().keys() == got.keys()

    out = run(lambda: model.fit(X[:, 0] if one_d else X, y))
    note(f"-> {out.error!r} {[str(w.message)[:60] for w in out.caught]}")
    invalid = {k for k, v in verdicts.items() if v == "invalid"}
    invalid |= must_refuse_together(params, verdicts)
    maybe = {k for k, v in verdicts.items() if v == "either"}
    maybe |= may_refuse_together(params, verdicts)
    assert_no_stray_warnings(out)
    if invalid:
        assert_refused(out, set(), invalid | maybe)
        return
    if out.error is not None:
        if isinstance(out.error, DivergenceError):
            assert not same(params.get("learning_rate", "auto"), "auto"), out.error
            assert_refused(out, set(), {"learning_rate"}, divergence=True)
            return
        assert maybe, repr(out.error)
        assert_refused(out, set(), maybe)
        return
    check_fitted(model, X.astype(np.float64), y, X.dtype, out)
    if model.stop_reason_ == "callback" and params.get("callback") is None:
        assert model.n_iter_ >= ITERATION_GUARD
    event(f"params: fitted ({model.stop_reason_})")


NAMES = st.one_of(
    st.sampled_from(sorted(PARAMS)),
    st.sampled_from(["coef_", "", "max_iter ", "Tol", "deep", "n_jobs\0", "self"]),
    st.text(max_size=6),
)


@fuzz("get_set_params")
@given(changes=st.dictionaries(NAMES, ABSURD, max_size=4), deep=ABSURD)
def test_get_and_set_params(changes: dict[str, Any], deep: Any) -> None:
    """set_params stores anything under a parameter's name (validated at fit)
    and refuses, naming it, any other name; get_params gives the objects back."""
    model = LinearRegression()
    before = model.get_params()
    out = run(lambda: model.set_params(**changes))
    unknown = sorted(set(changes) - set(before))
    assert not stray_warnings(out)
    if unknown:
        assert isinstance(out.error, ValueError | TypeError), repr(out.error)
        assert any(repr(name) in str(out.error) for name in unknown), out.error
        return
    assert out.error is None, repr(out.error)
    assert out.value is model
    got = model.get_params(deep=deep)
    assert sorted(got) == sorted(before)
    for name, value in got.items():
        assert value is changes.get(name, before[name])
    assert isinstance(repr(model), str)


# ==========================================================================
# partial_fit: a sequence of fuzzed chunks
# ==========================================================================


@fuzz("partial_fit")
@given(
    d=st.integers(1, 3),
    chunks=st.integers(1, 4),
    fit_intercept=st.booleans(),
    backend=st.sampled_from(fastlinreg.available_backends()),
    data=st.data(),
)
def test_partial_fit(
    d: int, chunks: int, fit_intercept: bool, backend: str, data: st.DataObject
) -> None:
    """Each chunk is added or refused; a refused one leaves the model as it was;
    the model is always the least-squares fit on the chunks accepted so far."""
    model = LinearRegression(fit_intercept=fit_intercept, backend=backend)
    seen_X: list[np.ndarray] = []
    seen_y: list[np.ndarray] = []
    dtypes: list[np.dtype[Any]] = []
    big_so_far = False
    for _ in range(chunks):
        d_chunk = data.draw(st.sampled_from([d] * 5 + [d + 1]))
        X, y = data.draw(problem_data(max_n=6, d=d_chunk))
        note(f"chunk X: {X.kind} {set(X.problems)} y: {y.kind} {set(y.problems)}")
        before = getattr(model, "coef_", None)
        before = None if before is None else np.array(before)
        out = run(lambda X=X, y=y: model.partial_fit(X.obj, y.obj))
        note(f"-> {out.error!r}")
        problems, names = expected_problems(X, y)
        if y.kind == "two columns":  # several targets: partial_fit may take them
            problems.add("ndim")
            names.add("y")
        if seen_X and wrong_width(X, seen_X[0].shape[1]):
            problems.add("features")
            names.add("X")
        big = extreme_fit(X, y) or big_so_far  # merged statistics may overflow
        assert_no_stray_warnings(out, float32=float32_input(X))
        if out.error is not None:
            # Only y's several columns are "wrong" (X itself may be 0-d/3-d).
            several = (
                y.kind == "two columns"
                and problems == {"ndim"}
                and "ndim" not in X.problems
            )
            if several and big and seen_y:
                # One target so far, two now: refused for the mismatch, or for
                # the overflow of statistics computed before the merge.
                assert_refused(out, problems | {"overflow"}, names)
            elif problems and not (several and big):
                assert_refused(out, problems, names)
            else:  # valid (or several targets): refused only for overflow
                refusal_of_valid_input(out, big, {"X", "y"})
            after = getattr(model, "coef_", None)
            assert (before is None) == (after is None)
            if before is not None:
                np.testing.assert_array_equal(after, before)
            continue
        if y.kind == "two columns":
            event("partial_fit: several targets taken")
            return  # judged by test_fit_predict_score
        assert not problems, f"accepted a chunk with {problems}"
        assert X.values is not None
        assert y.values is not None
        seen_X.append(X.values)
        seen_y.append(y.values)
        dtypes.append(read_dtype(X.obj))
        X_all, y_all = np.concatenate(seen_X), np.concatenate(seen_y)
        big_so_far = big
        dtype = np.result_type(*dtypes)
        check_fitted(model, X_all, y_all, dtype, out)


# ==========================================================================
# loss_gradient, against the formula of each loss
# ==========================================================================


def loss_terms(
    name: str, r: np.ndarray, epsilon: float, quantile: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ℓ(r), ℓ'(r), and which residuals sit at a kink (no derivative there)."""
    a = np.abs(r)
    sign = np.sign(r)
    if name == "squared_error":
        return r * r, 2 * r, np.zeros(r.shape, bool)
    if name == "absolute_error":
        return a, sign, r == 0
    if name == "huber":
        inside = a <= epsilon
        value = np.where(inside, 0.5 * r * r, epsilon * a - 0.5 * epsilon**2)
        return value, np.where(inside, r, epsilon * sign), np.zeros(r.shape, bool)
    if name == "quantile":
        value = np.where(r >= 0, quantile * r, (quantile - 1) * r)
        return value, np.where(r >= 0, quantile, quantile - 1), r == 0
    value = np.maximum(0.0, a - epsilon)
    return value, np.where(a > epsilon, sign, 0.0), (a == epsilon) | (r == 0)


def residual_terms(
    X: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    b: float,
    loss: str,
    epsilon: float,
    quantile: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(r, ℓ(r), ℓ'(r), at a kink) per row, in float64 (inf/NaN on overflow)."""
    with np.errstate(all="ignore"):
        r = y - X @ coef - b
        value, slope, kink = loss_terms(loss, r, epsilon, quantile)
    return r, value, slope, kink


def weighted_means(
    X: np.ndarray, value: np.ndarray, slope: np.ndarray, weights: np.ndarray | None
) -> tuple[float, np.ndarray, float]:
    """(loss, grad, grad_b) from the per-row terms."""
    s = np.ones(len(value)) if weights is None else weights
    with np.errstate(all="ignore"):
        # Weights divided by their sum first: a mean that is finite must not
        # overflow on the way (sums of 2·r·x near float64's limit).
        w = s / s.sum()
        return (
            float(w @ value),
            -(X.T @ (w * slope)),
            -float(w @ slope),
        )


def formula(
    X: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    b: float,
    loss: str,
    epsilon: float,
    quantile: float,
    weights: np.ndarray | None,
) -> tuple[float, np.ndarray, float]:
    """(loss, grad, grad_b) by the formula, in float64 (inf/NaN on overflow)."""
    _, value, slope, _ = residual_terms(X, y, coef, b, loss, epsilon, quantile)
    return weighted_means(X, value, slope, weights)


def check_loss_gradient(
    got: Any,
    X: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    b: float,
    loss: str,
    epsilon: float,
    quantile: float,
    weights: np.ndarray | None,
) -> None:
    """(loss, grad, grad_b) against the formula, to 1e-10 of the size of the
    terms summed (rounding of the residuals included)."""
    n, _d = X.shape
    s = np.ones(n) if weights is None else weights
    total = s.sum()
    r, value, slope, kink = residual_terms(X, y, coef, b, loss, epsilon, quantile)
    want_loss, want_grad, want_b = weighted_means(X, value, slope, weights)
    with np.errstate(all="ignore"):
        size = np.abs(y) + abs(b) + np.abs(X) @ np.abs(coef)
        curv = 2.0 if loss == "squared_error" else 1.0
        loss_scale = float(s @ (np.abs(value) + np.abs(slope) * size)) / total
        grad_terms = s * (np.abs(slope) + curv * size)
        grad_scale = (np.abs(X).T @ grad_terms) / total
        b_scale = float(grad_terms.sum()) / total
    got_loss, grad, grad_b = got
    rtol = 1e-10
    assert abs(got_loss - want_loss) <= rtol * loss_scale, (got_loss, want_loss)
    near_kink = np.abs(r) <= 1e-9 * size + 1e-300
    if loss in ("absolute_error", "quantile", "epsilon_insensitive"):
        near_kink |= np.abs(np.abs(r) - (epsilon if loss != "quantile" else 0.0)) <= (
            1e-9 * size + 1e-300
        )
    if (kink | near_kink).any() and loss != "squared_error" and loss != "huber":
        return  # the derivative jumps there: any choice is fine
    assert abs(grad_b - want_b) <= rtol * b_scale, (grad_b, want_b)
    assert np.all(np.abs(grad - want_grad) <= rtol * grad_scale), (grad, want_grad)


@st.composite
def coef_inputs(draw: st.DrawFn, d: int) -> tuple[Any, np.ndarray | None, str]:
    """(coef, its float64 values or None, what is wrong: '' if nothing)."""
    kind = draw(
        st.sampled_from(
            ["array"] * 6
            + ["list", "row", "wrong length", "nan", "inf", "string", "None"]
            + ["complex"]
        )
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    w = rng.standard_normal(d) * draw(st.sampled_from([1.0, 1e-3, 1e3]))
    if kind == "array":
        a = as_dtype(w, draw(st.sampled_from(FLOAT_DTYPES + EXACT_DTYPES)))
        return a, a.astype(np.float64), ""
    if kind == "list":
        return w.tolist(), w, ""
    if kind == "row":
        return w[None, :], w, ""  # (1, d): flattened
    if kind == "wrong length":
        return np.append(w, 1.0), None, "features"
    if kind in ("nan", "inf"):
        w[draw(st.integers(0, d - 1))] = np.nan if kind == "nan" else -np.inf
        return w, None, kind
    return {"string": "1,2", "None": None, "complex": w + 1j}[kind], None, "dtype"


INTERCEPTS = st.one_of(
    st.floats(-1e3, 1e3),
    st.integers(-5, 5),
    st.sampled_from([np.float32(1.5), np.int8(2), math.nan, math.inf, "1", None]),
    st.sampled_from([1j, np.array([1.0, 2.0]), np.array(1.0), np.array([2.0])]),
)
LOSS_GRADIENT_PARAMS = ("loss", "epsilon", "quantile")


@fuzz("loss_gradient")
@given(
    data=problem_data(max_d=3),
    more=st.data(),
    intercept=INTERCEPTS,
    backend=st.one_of(st.sampled_from(["auto", "cython", "numpy"]), ABSURD),
    n_jobs=st.one_of(st.sampled_from([None, 1, 2]), ABSURD),
)
def test_loss_gradient(
    data: tuple[Made, Made],
    more: st.DataObject,
    intercept: Any,
    backend: Any,
    n_jobs: Any,
) -> None:
    X, y = data
    d = X.values.shape[1] if X.values is not None and X.values.ndim == 2 else 2
    coef, coef_values, coef_problem = more.draw(coef_inputs(max(d, 1)), label="coef")
    if d == 0 and not coef_problem:
        coef, coef_values = np.zeros(0), np.zeros(0)
    kwargs: dict[str, Any] = {"backend": backend, "n_jobs": n_jobs}
    for name in more.draw(st.lists(st.sampled_from(LOSS_GRADIENT_PARAMS), unique=True)):
        absurd = more.draw(st.integers(0, 3), label=f"{name} absurd") == 0
        kwargs[name] = more.draw(
            ABSURD if absurd else PARAMS[name].ordinary, label=name
        )
    weights: tuple[Any, Any, str] = (None, None, "")
    if more.draw(st.integers(0, 5), label="weights") == 0:
        n = X.n if X.n is not None else y.n
        if more.draw(st.booleans()):
            sw, problem = more.draw(bad_sample_weights(n), label="sample_weight")
            weights = (sw, None, problem)
        else:
            weights = more.draw(sample_weights(n), label="sample_weight")
            if weights[1] is not None and (X.n is None or len(weights[1]) != X.n):
                weights = (weights[0], None, "length")
        if weights[0] is not None:
            kwargs["sample_weight"] = weights[0]
    note(
        f"X: {X.kind} {set(X.problems)} y: {y.kind} {set(y.problems)} "
        f"coef={coef!r} intercept={intercept!r} {kwargs!r}"
    )
    out = run(lambda: fastlinreg.loss_gradient(X.obj, y.obj, coef, intercept, **kwargs))
    note(f"-> {out.error!r}")

    problems, names = expected_problems(X, y)
    if coef_problem:
        names.add("coef")
        problems.add(coef_problem)
    if not (
        real(intercept) or (isinstance(intercept, np.ndarray) and intercept.shape == ())
    ):
        names.add("intercept")
    elif not finite(intercept):
        names |= {"intercept", "finite"}
    if weights[2]:
        names.add("sample_weight")
        problems.add(weights[2])
    for name in ("backend", "n_jobs", *LOSS_GRADIENT_PARAMS):
        if name in kwargs and PARAMS[name].rule(kwargs[name]) != "valid":
            names.add(name)
    if (
        is_str(kwargs.get("loss"), "huber")
        and PARAMS["epsilon"].rule(kwargs.get("epsilon", 0.1)) == "valid"
        and float(kwargs.get("epsilon", 0.1)) == 0
    ):
        names.add("epsilon")
    big = (
        extreme(X, y)
        or is_huge(coef_values)
        or is_huge(intercept)
        or is_huge(weights[1], 1e100)
    )
    if problems or names:
        assert_refused(out, problems, names)
        assert_no_stray_warnings(out)
        return
    assert X.values is not None
    assert y.values is not None
    assert coef_values is not None
    loss = str(kwargs.get("loss", "squared_error"))
    eps = float(kwargs.get("epsilon", 0.1))
    q = float(kwargs.get("quantile", 0.5))
    b = float(intercept)
    assert_no_stray_warnings(out)
    want = formula(X.values, y.values, coef_values, b, loss, eps, q, weights[1])
    if not all(np.isfinite(part).all() for part in want):
        # Beyond float64: the honest answer is a clear error.
        assert_refused(out, {"overflow"}, {"X", "y", "coef", "intercept"})
        return
    if out.error is not None:
        assert big, repr(out.error)
        assert_refused(out, {"overflow"}, {"X", "y", "coef", "intercept"})
        return
    got_loss, grad, grad_b = out.value
    assert isinstance(got_loss, float)
    assert isinstance(grad_b, float)
    assert isinstance(grad, np.ndarray)
    assert grad.shape == (d,)
    assert grad.dtype == np.float64
    check_loss_gradient(
        out.value, X.values, y.values, coef_values, b, loss, eps, q, weights[1]
    )


# ==========================================================================
# make_regression
# ==========================================================================

# Sizes: small, or beyond what an array can hold (never in between: those
# would really be allocated).
SIZES = st.one_of(
    st.integers(-3, 40),
    st.sampled_from([2**62, 2**63, 10**30, 10**400, np.int64(2**62)]),
    st.sampled_from([1.0, 2.5, True, "5", None, np.float64(3.0), [3]]),
)


def size_rule(v: Any) -> str:
    return verdict(integer(v) and 1 <= v <= 2**40)


def dtype_rule(v: Any) -> str:
    if v is None:
        return "either"  # np.dtype(None) is float64
    try:
        return verdict(np.dtype(v) in (np.float32, np.float64))
    except Exception:
        return "invalid"


def range_rule(v: Any) -> str:
    """Two finite reals low < high, high - low finite (any 2-sequence)."""
    try:
        low, high = v
    except Exception:
        return "invalid"
    ok = real(low) and real(high) and finite(low) and finite(high)
    return verdict(ok and low < high and finite(float(high) - float(low)))


def random_state_rule(v: Any) -> str:
    if isinstance(v, bool):
        return "either"  # an int to NumPy
    ok = v is None or (integer(v) and 0 <= v < 2**32)
    return verdict(ok or isinstance(v, np.random.RandomState | np.random.Generator))


RANDOM_STATES = st.one_of(
    st.integers(0, 2**32 - 1),
    st.none(),
    st.builds(np.random.RandomState, st.integers(0, 9)),
    st.builds(np.random.default_rng, st.integers(0, 9)),
)
NOISES = fastlinreg.datasets.NOISE_FAMILIES

MAKE_REGRESSION: dict[str, Param] = {
    "n_samples": Param(SIZES, size_rule),
    "n_features": Param(SIZES, size_rule),
    "intercept": Param(st.floats(-10, 10), number()),
    "noise": Param(S(NOISES), choice(*NOISES)),
    "noise_scale": Param(st.floats(0, 10), number(0)),
    "df": Param(st.floats(0.5, 30), number(0, open_low=True)),
    "x_range": Param(st.tuples(st.floats(-10, 0), st.floats(0.5, 10)), range_rule),
    "dtype": Param(S([np.float64, np.float32, "float32", "f8"]), dtype_rule),
    "random_state": Param(RANDOM_STATES, random_state_rule),
    "return_coef": Param(st.booleans(), boolean),
}


@fuzz("make_regression")
@given(data=st.data())
def test_make_regression(data: st.DataObject) -> None:
    kwargs: dict[str, Any] = {}
    for name in data.draw(
        st.lists(st.sampled_from(sorted(MAKE_REGRESSION)), max_size=4, unique=True)
    ):
        absurd = data.draw(st.integers(0, 2), label=f"{name} absurd") == 0
        strategy = MAKE_REGRESSION[name].ordinary
        if absurd and name not in ("n_samples", "n_features"):
            strategy = ABSURD
        kwargs[name] = data.draw(strategy, label=name)
    kwargs.setdefault("n_samples", 30)  # not the default 10,000: keep it quick
    verdicts = {k: MAKE_REGRESSION[k].rule(v) for k, v in kwargs.items()}
    if not is_str(kwargs.get("noise", "normal"), "student_t"):
        verdicts.pop("df", None)  # df only matters for Student's t noise
    d = kwargs.get("n_features", 1)
    if verdicts.get("n_features", "valid") == "valid" and data.draw(st.booleans()):
        coef = data.draw(
            st.sampled_from(
                [
                    list(range(1, d + 1)),
                    [1.0] * (d + 1),
                    [math.nan] * d,
                    [1e300] * d,
                    [1j] * d,
                    "abc",
                ]
            ),
            label="coef",
        )
        kwargs["coef"] = coef
        ok = not isinstance(coef, str) and len(coef) == d
        verdicts["coef"] = verdict(ok and all(real(u) and finite(u) for u in coef))
    note(f"{kwargs!r} -> {verdicts}")
    out = run(lambda: fastlinreg.make_regression(**kwargs))
    note(f"-> {out.error!r}")
    assert_no_stray_warnings(out)
    invalid = {k for k, v in verdicts.items() if v == "invalid"}
    either = {k for k, v in verdicts.items() if v == "either"}
    if invalid:
        assert_refused(out, set(), invalid)
        return
    big = any(
        is_huge(kwargs.get(k), 1e30)
        for k in ("intercept", "noise_scale", "coef", "x_range")
    )
    if out.error is not None:
        if big:
            assert_refused(out, {"overflow"}, set())
        else:
            assert either, repr(out.error)
            assert_refused(out, set(), either)
        return
    parts = out.value
    n = int(kwargs["n_samples"])
    want_dtype = np.dtype(kwargs.get("dtype", np.float64))
    assert len(parts) == (3 if kwargs.get("return_coef") else 2)
    X, y = parts[:2]
    assert X.shape == (n, d)
    assert y.shape == (n,)
    assert X.dtype == y.dtype == want_dtype
    assert np.isfinite(X).all()
    assert np.isfinite(y).all()
    low, high = (float(u) for u in kwargs.get("x_range", (-10.0, 10.0)))
    slack = np.finfo(want_dtype).eps * max(abs(low), abs(high))
    assert low - slack <= X.min()
    assert X.max() <= high + slack
    if kwargs.get("return_coef"):
        w = parts[2]
        assert w.shape == (d,)
        if kwargs.get("coef") is not None:
            np.testing.assert_array_equal(w, np.asarray(kwargs["coef"], dtype=float))
        if kwargs.get("noise_scale", 3.0) == 0:
            b = float(kwargs.get("intercept", -3.3))
            Xd = X.astype(np.float64)
            scale = np.abs(Xd) @ np.abs(w) + abs(b)
            eps = np.finfo(want_dtype).eps * 8
            assert np.all(np.abs(y - (Xd @ w + b)) <= eps * scale + 1e-300)
    if integer(kwargs.get("random_state")):
        again = fastlinreg.make_regression(**kwargs)
        for u, v in zip(parts, again, strict=True):
            np.testing.assert_array_equal(u, v)


# ==========================================================================
# train_test_split
# ==========================================================================


@st.composite
def split_inputs(draw: st.DrawFn, n: int, width: int) -> tuple[Any, bool, str]:
    """(obj, has rows, kind), the rows numbered 0..n-1 by their first entry."""
    kind = draw(
        st.sampled_from(
            ["array"] * 6
            + ["list", "frame", "strings", "3-d", "0-d", "None"]
            + ["ragged"]
        )
    )
    rows = np.arange(n, dtype=np.float64)
    base = rows[:, None] * 10.0 ** np.arange(width) if width else rows
    if kind == "array":
        dtype = draw(st.sampled_from(["float64", "float32", "int64", ">f8"]))
        obj = in_layout(base.astype(dtype), draw(st.sampled_from(LAYOUTS)))
        return obj, True, kind
    if kind == "list":
        return base.tolist(), True, kind
    if kind == "frame":
        pd = pytest.importorskip("pandas")
        return (pd.DataFrame(base) if width else pd.Series(base)), True, kind
    if kind == "strings":
        return base.astype(str), True, kind
    if kind == "3-d":
        return np.repeat(np.atleast_2d(base.T).T[..., None], 2, axis=-1), True, kind
    if kind == "0-d":
        return 3.0, False, kind
    if kind == "None":
        return None, False, kind
    return [[float(i)] * (1 + i % 2) for i in range(max(n, 2))], False, kind


def row_ids(part: Any) -> np.ndarray:
    """Row numbers of a part (the first entry of each row)."""
    a = np.asarray(part.to_numpy() if hasattr(part, "to_numpy") else part)
    a = a.astype(np.float64)
    return a.reshape(len(a), -1)[:, 0] if a.ndim > 1 else a


@fuzz("train_test_split")
@given(
    n=st.integers(0, 9),
    dn=st.sampled_from([0] * 8 + [1]),
    width=st.integers(0, 2),
    data=st.data(),
    test_size=st.one_of(st.floats(0.05, 0.95), st.integers(-1, 10), ABSURD),
    shuffle=st.one_of(st.booleans(), ABSURD),
    random_state=st.one_of(RANDOM_STATES, ABSURD),
)
def test_train_test_split(
    n: int,
    dn: int,
    width: int,
    data: st.DataObject,
    test_size: Any,
    shuffle: Any,
    random_state: Any,
) -> None:
    X, x_ok, x_kind = data.draw(split_inputs(n, width), label="X")
    y, y_ok, y_kind = data.draw(split_inputs(n + dn, 0), label="y")
    kw = {"test_size": test_size, "shuffle": shuffle, "random_state": random_state}
    note(f"X {x_kind} y {y_kind} {kw!r}")
    out = run(lambda: fastlinreg.train_test_split(X, y, **kw))
    note(f"-> {out.error!r}")
    assert_no_stray_warnings(out)
    names = {name for name, ok in (("X", x_ok), ("y", y_ok)) if not ok}
    problems = {"length"} if x_ok and y_ok and dn else set()
    if not isinstance(shuffle, bool | np.bool_):
        names.add("shuffle")
    n_test = None
    if isinstance(test_size, bool | np.bool_):
        names.add("test_size")
    elif integer(test_size):
        n_test = int(test_size)
    elif isinstance(test_size, float | np.floating) and 0 < test_size < 1:
        n_test = int(np.ceil(test_size * n))  # in test_size's own precision
    else:
        names.add("test_size")
    if n_test is not None and not 0 < n_test < n:
        names.add("test_size")
    either = False
    if isinstance(shuffle, bool | np.bool_) and shuffle:
        rule = random_state_rule(random_state)
        if rule == "invalid":
            names.add("random_state")
        either = rule == "either"
    if names or problems:
        assert_refused(out, problems, names)
        return
    if out.error is not None:
        assert either, repr(out.error)
        assert_refused(out, set(), {"random_state"})
        return
    X_tr, X_te, y_tr, y_te = out.value
    assert n_test is not None
    assert (len(X_tr), len(X_te), len(y_tr), len(y_te)) == (n - n_test, n_test) * 2
    ids_tr, ids_te = row_ids(X_tr), row_ids(X_te)
    assert sorted([*ids_tr, *ids_te]) == list(range(n))  # a partition of the rows
    np.testing.assert_array_equal(row_ids(y_tr), ids_tr)  # rows stay aligned
    np.testing.assert_array_equal(row_ids(y_te), ids_te)
    for part, whole in ((X_tr, X), (X_te, X), (y_tr, y), (y_te, y)):
        assert type(part) is (type(whole) if hasattr(whole, "iloc") else np.ndarray)
        if isinstance(whole, np.ndarray):
            assert part.dtype == whole.dtype
    if not shuffle:
        np.testing.assert_array_equal(ids_te, np.arange(n - n_test, n))
        if isinstance(X, np.ndarray):
            assert np.shares_memory(X_te, X)


# ==========================================================================
# Every public name is fuzzed, or takes no input
# ==========================================================================


@fuzz("show_config")
@given(mode=st.one_of(st.sampled_from(["stdout", "dicts"]), ABSURD))
def test_show_config(mode: Any) -> None:
    note(f"mode={mode!r}")
    with contextlib.redirect_stdout(io.StringIO()) as stdout:
        out = run(lambda: fastlinreg.show_config(mode=mode))
    printed = stdout.getvalue()
    assert_no_stray_warnings(out)
    assert not out.caught, [str(w.message) for w in out.caught]
    if isinstance(mode, str) and mode in ("stdout", "dicts"):
        assert out.error is None, repr(out.error)
        if mode == "dicts":
            assert out.value["kernels"]["compiled"] in (True, False)
            assert printed == ""
        else:
            assert out.value is None
            assert "kernels:" in printed
    else:
        assert_refused(out, set(), {"mode"})
        assert printed == ""


def cv_floats(v: Any) -> np.ndarray | None:
    """``v`` read as real numbers (None: it is not numbers)."""
    if isinstance(v, str | bytes | bool | np.bool_):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            raw = np.asarray(v)
            if raw.dtype.kind not in "iufO":
                return None
            return np.asarray(raw, dtype=float)
    except (TypeError, ValueError, OverflowError, Warning):
        return None


def cv_l1_ratio_rule(v: Any) -> str:
    """A float in (0, 1] or a non-empty list of them (elastic net only)."""
    arr = cv_floats(v)
    if arr is None:
        return "invalid"
    arr = np.atleast_1d(arr)
    if isinstance(v, bool | np.bool_ | str | bytes) or arr.ndim != 1 or not arr.size:
        return "invalid"
    if any(
        isinstance(u, bool | np.bool_)
        for u in np.atleast_1d(np.asarray(v, dtype=object))
    ):
        return "either"
    return verdict(
        bool(np.isfinite(arr).all() and (arr > 0).all() and (arr <= 1).all())
    )


def cv_alphas_rule(v: Any) -> str:
    """An int from 1 to 1e5, or a non-empty 1-D array of positive floats."""
    if isinstance(v, bool | np.bool_):
        return "invalid"
    if integer(v):
        return verdict(1 <= v <= 100_000)
    arr = cv_floats(v)
    if arr is None:
        return "invalid"
    ok = arr.ndim == 1 and arr.size > 0 and bool((np.isfinite(arr) & (arr > 0)).all())
    return verdict(ok)


def cv_rule(v: Any) -> str:
    """An int from 2 (at most n: "either"), None or "gcv" (the ridge only:
    "either"), or splits (the fuzz gives none)."""
    if (integer(v) and v >= 2) or v is None or (isinstance(v, str) and v == "gcv"):
        return "either"
    return "invalid"


CV_PARAMS: dict[str, Param] = {
    "penalty": Param(S(["l1", "l2", "elasticnet"]), choice("l1", "l2", "elasticnet")),
    "alphas": Param(S([3, 5, [1.0, 0.1], np.array([0.5, 0.01])]), cv_alphas_rule),
    "l1_ratio": Param(S([0.5, 1.0, [0.2, 0.8]]), cv_l1_ratio_rule),
    "cv": Param(S([2, 3, None, "gcv"]), cv_rule),
    "eps": Param(S([1e-3, 1e-2]), number(0, 1, open_low=True, open_high=True)),
    "fit_intercept": Param(st.booleans(), boolean),
    "positive": Param(st.booleans(), boolean),
    "tol": Param(S([1e-10, 1e-6]), number(0, open_low=True)),
    "max_iter": Param(S([1, 100, 100_000]), count(1)),
    "backend": Param(SOME_BACKENDS, choice(*BACKEND_NAMES)),
    "n_jobs": Param(S([None, 1, 2, -1]), n_jobs_rule),
}


@st.composite
def cv_param_values(draw: st.DrawFn) -> dict[str, Any]:
    """Some of LinearRegressionCV's parameters, each ordinary or absurd."""
    names = draw(st.sets(st.sampled_from(sorted(CV_PARAMS)), max_size=4))
    return {
        k: draw(
            st.one_of(CV_PARAMS[k].ordinary, ABSURD)
            if draw(st.integers(0, 3))
            else ABSURD
        )
        for k in sorted(names)
    }


def check_cv_kkt(model: Any, X: np.ndarray, y: np.ndarray, dtype: Any) -> None:
    """The refit satisfies the elastic net's optimality conditions on all the
    rows at the chosen alpha (the ridge: its normal equations)."""
    n = X.shape[0]
    Ys = y[:, None] if y.ndim == 1 else y
    coefs = np.atleast_2d(np.asarray(model.coef_, dtype=float))
    alphas = np.atleast_1d(model.alpha_)
    ratios = np.atleast_1d(model.l1_ratio_)
    for j in range(Ys.shape[1]):
        Xc, yc = X, Ys[:, j]
        if model.fit_intercept:
            Xc, yc = X - X.mean(axis=0), yc - yc.mean()
        G, g = Xc.T @ Xc / n, Xc.T @ yc / n
        beta = coefs[j]
        r = g - G @ beta
        l1, l2 = alphas[j] * ratios[j] / 2, alphas[j] * (1 - ratios[j]) / 2
        v = np.where(
            beta != 0,
            np.abs(-r + l2 * beta + l1 * np.sign(beta)),
            np.maximum((r if model.positive else np.abs(r)) - l1, 0.0),
        )
        if model.positive:
            assert (beta >= 0).all()
        scale = max(np.abs(g).max(initial=0), np.abs(G).max(initial=0), 1e-300)
        slack = 1e-6 * scale
        if dtype == np.float32:  # (coef_ rounded to float32)
            slack += 1e-6 * np.abs(G).max(initial=0) * np.abs(beta).sum()
        assert v.max(initial=0) <= slack, (v, scale)


@fuzz("cv")
@given(data=problem_data(), params=cv_param_values())
def test_linear_regression_cv(data: tuple[Made, Made], params: dict[str, Any]) -> None:
    X, y = data
    verdicts = {k: CV_PARAMS[k].rule(v) for k, v in params.items()}
    if not same(params.get("penalty", "l1"), "elasticnet") and "l1_ratio" in verdicts:
        verdicts["l1_ratio"] = "either"  # (read for the elastic net only)
    note(f"X: {X.kind} {set(X.problems)} y: {y.kind} {set(y.problems)} {verdicts}")
    model = fastlinreg.LinearRegressionCV(**params)
    out = run(lambda: model.fit(X.obj, y.obj))
    note(f"-> {out.error!r}")
    assert_no_stray_warnings(out, float32=float32_input(X))
    invalid = {k for k, v in verdicts.items() if v == "invalid"}
    maybe = {k for k, v in verdicts.items() if v == "either"}
    k = params.get("cv", 5)
    if X.n is not None and integer(k) and X.n < k:
        maybe.add("cv")  # (more folds than rows)
    problems, names = expected_problems(X, y)
    if several_targets(X, y):
        problems.discard("ndim")
        names.discard("y")
    if invalid or problems:
        assert_refused(out, problems, names | invalid | maybe)
        return
    if out.error is not None:
        if maybe or not X.n:
            assert_refused(out, {"empty"}, maybe | {"cv", "X"})
            event("cv: refused a lenient value")
            return
        refusal_of_valid_input(out, extreme_fit(X, y), {"X", "y"})
        return
    assert X.values is not None
    assert y.values is not None
    coef, mse = np.asarray(model.coef_), np.asarray(model.mse_path_)
    assert np.isfinite(coef).all(), coef
    assert np.isfinite(mse).all(), mse
    assert (mse >= 0).all()
    assert coef.dtype == read_dtype(X.obj)
    Xv = X.values if X.values.ndim == 2 else X.values[:, None]
    if model.converged_ and float(model.tol) <= 1e-8:
        event("cv: refit checked (KKT)")
        check_cv_kkt(model, Xv, y.values, read_dtype(X.obj))


FUZZED = {
    "LinearRegression": (test_fit_predict_score, test_params, test_partial_fit),
    "LinearRegressionCV": (test_linear_regression_cv,),
    "loss_gradient": (test_loss_gradient,),
    "make_regression": (test_make_regression,),
    "train_test_split": (test_train_test_split,),
    "show_config": (test_show_config,),
}
NO_INPUT = {"__version__", "available_backends"}
NO_INPUT |= {"BackendWarning", "ConvergenceWarning", "DataConversionWarning"}
NO_INPUT |= {"DivergenceError", "IllConditionedWarning", "NotFittedError"}
# fits make these; their methods' inputs are checked in test_inference.py
RESULT_TYPES = {"InferenceResult"}
NO_INPUT |= RESULT_TYPES


def test_every_public_name_is_fuzzed() -> None:
    """A new public function, estimator parameter or argument needs a fuzz line."""
    missing = set(fastlinreg.__all__) - set(FUZZED) - NO_INPUT
    assert not missing, f"add fuzz tests for {sorted(missing)}"
    for name in NO_INPUT - {"__version__", "available_backends"} - RESULT_TYPES:
        assert issubclass(getattr(fastlinreg, name), Warning | Exception)
    assert fastlinreg.available_backends()[-1] == "numpy"
    assert sorted(PARAMS) == sorted(DEFAULTS), "one line in PARAMS per parameter"
    fuzzed_args = {"X", "y", "coef", "intercept", "sample_weight", "backend"}
    fuzzed_args |= {"n_jobs", *LOSS_GRADIENT_PARAMS}
    args = set(inspect.signature(fastlinreg.loss_gradient).parameters)
    assert args <= fuzzed_args, f"fuzz loss_gradient's {sorted(args - fuzzed_args)}"
    args = set(inspect.signature(fastlinreg.make_regression).parameters)
    assert args <= {*MAKE_REGRESSION, "coef"}, sorted(args - {*MAKE_REGRESSION})


# ==========================================================================
# Regressions: bugs this fuzz found (all fixed), one reproduction each
# ==========================================================================


def clean_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2))
    return X, X @ [1.0, 2.0] + 1.0


def refused_naming(fn: Callable[[], Any], name: str) -> None:
    """``fn()`` raises ValueError/TypeError naming ``name``; no NumPy warning."""
    out = run(fn)
    assert not stray_warnings(out), stray_warnings(out)
    assert_refused(out, set(), {name})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        pytest.param("tol", 10**400, id="tol-10**400"),
        pytest.param("learning_rate", 10**400, id="learning_rate-10**400"),
        pytest.param("alpha", 10**400, id="alpha-10**400"),
        pytest.param("epsilon", 10**400, id="epsilon-10**400"),
        ("tol", np.complex128(0.5)),
        ("learning_rate", np.complex128(0.5)),
        ("alpha", np.complex128(0.5)),
        ("quantile", np.complex128(0.5)),
        ("l1_ratio", np.complex128(0.5)),
        ("precompute", np.array([True, False])),
        ("solver", np.array(["gd", "cg"])),
        ("penalty", np.array(["l1", "l2"])),
    ],
)
def test_param_errors_name_the_parameter(name: str, value: Any) -> None:
    """Found by test_params: ints beyond a float (np.isfinite's TypeError, or an
    OverflowError), NumPy complex scalars (a ComplexWarning, then the real
    part), arrays (the truth value of an array is ambiguous)."""
    X, y = clean_data()
    refused_naming(lambda: LinearRegression(**{name: value}).fit(X, y), name)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("coef", {"coef": "1,2"}),
        ("coef", {"coef": np.array([1.0 + 1j, 2.0])}),
        ("intercept", {"intercept": "1"}),
        ("intercept", {"intercept": None}),
        ("intercept", {"intercept": np.array([1.0, 2.0])}),
        ("intercept", {"intercept": np.array([1.0])}),
    ],
)
def test_loss_gradient_errors_name_the_argument(name: str, kwargs: dict[str, Any]):
    """Found by test_loss_gradient: NumPy's and Python's messages, which named
    neither argument; a complex coef lost its imaginary part with a warning."""
    X, y = clean_data()
    kwargs = {"coef": [0.0, 0.0], **kwargs}
    refused_naming(lambda: fastlinreg.loss_gradient(X, y, **kwargs), name)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("coef_init", {"coef_init": "ab"}),
        ("coef_init", {"coef_init": [1j, 1.0]}),
        ("intercept_init", {"intercept_init": "ab"}),
        ("intercept_init", {"intercept_init": np.array([1.0, 2.0])}),
    ],
)
def test_init_errors_name_the_argument(name: str, kwargs: dict[str, Any]) -> None:
    """Found alongside: fit(coef_init=..., intercept_init=...) of a wrong type."""
    X, y = clean_data()
    refused_naming(lambda: LinearRegression().fit(X, y, **kwargs), name)


@pytest.mark.parametrize(
    ("name", "value"),
    [("precompute", "auto"), ("solver", "gd"), ("penalty", "l1"), ("loss", "huber")],
)
def test_numpy_strings_are_accepted(name: str, value: str) -> None:
    X, y = clean_data()
    want = LinearRegression(**{name: value}).fit(X, y)
    out = run(lambda: LinearRegression(**{name: np.str_(value)}).fit(X, y))
    assert out.error is None, out.error
    np.testing.assert_array_equal(out.value.coef_, want.coef_)


def test_one_tiny_row_without_intercept_is_refused() -> None:
    """Found by the fuzz: one row of X = 1e-300 with no intercept gave coef 0,
    "converged" (its square underflows to 0, so the statistics saw nothing),
    where the least-squares answer is y / 1e-300: now the underflow error."""
    out = run(
        lambda: LinearRegression(fit_intercept=False).fit(np.array([[1e-300]]), [-2.13])
    )
    assert_refused(out, {"overflow"}, {"X"})
