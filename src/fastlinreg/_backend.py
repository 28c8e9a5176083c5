"""Which kernels run, on how many threads, and every choice that depends on it.

An :class:`Engine` is a resolved backend (its name and kernel module) with the
caller's ``n_jobs``; it holds every routing threshold of the package (when a
second thread pays, which passes BLAS does better than the kernels, when
conjugate gradients run as one compiled call, how large the sufficient
statistics may grow), so that a fit asks one object instead of reading
constants from several modules.

``backend="auto"`` (the default everywhere) means the value of the environment
variable ``FASTLINREG_BACKEND`` when it is set, else the compiled kernels when
they import, else the NumPy kernels with a single :class:`BackendWarning`.
``"cython"`` raises when the extension is unavailable; ``"numpy"`` always works.

Threads and ``fork()``: in a process created by ``os.fork()`` (which is what
``multiprocessing``'s ``"fork"`` start method, the default on Linux before
Python 3.14, does) the kernels run on one thread, whatever ``n_jobs`` says.
GNU libgomp, the OpenMP runtime of GCC and of the Linux wheels, cannot start
a team of threads in a child forked from a process that has already run a
parallel region: the child would wait forever for worker threads that fork
did not copy. A team of one never touches them. The answers are unchanged
(the kernels are bitwise identical for any number of threads); only the
speed is. Processes started with ``"spawn"`` or ``"forkserver"`` use threads
as usual.
"""

from __future__ import annotations

import contextlib
import numbers
import os
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar, Literal

import threadpoolctl

from . import _numpy_kernels
from ._exceptions import BackendWarning

__all__ = [
    "BACKENDS",
    "Engine",
    "available_backends",
    "blas_threads",
    "check_n_jobs",
    "get_kernels",
    "resolve_backend",
    "resolve_n_threads",
]

BackendName = Literal["auto", "cython", "numpy"]
BACKENDS: tuple[Literal["cython", "numpy"], ...] = ("cython", "numpy")
ENV_VAR = "FASTLINREG_BACKEND"

# Below this many elements of X a second thread costs more than it saves.
_THREAD_MIN_ELEMENTS = 1 << 17
# The kernels take the thread count as a C int (and use at most one thread per
# chunk of rows): a larger n_jobs asks for no more than this.
_MAX_THREADS = 2**31 - 1

# True in a process forked from the one that imported this module (and in its
# own forked children): see the module docstring for why kernels then run on
# one thread.
_in_forked_child = False


def _after_fork_in_child() -> None:
    global _in_forked_child
    _in_forked_child = True


if hasattr(os, "register_at_fork"):  # POSIX; Windows has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)

_cython_kernels: ModuleType | None
try:
    from . import _kernels as _cython_kernels
except ImportError as exc:  # pragma: no cover - exercised only without a compiler
    _cython_kernels = None
    _IMPORT_ERROR: ImportError | None = exc
else:
    _IMPORT_ERROR = None

_fallback_warned = False


def available_backends() -> tuple[Literal["cython", "numpy"], ...]:
    """Names of the backends that can run here, fastest first.

    Returns
    -------
    tuple of str
        ``("cython", "numpy")`` when the compiled kernels import, else
        ``("numpy",)``.

    Examples
    --------
    >>> import fastlinreg
    >>> "numpy" in fastlinreg.available_backends()
    True
    """
    return BACKENDS if _cython_kernels is not None else ("numpy",)


def resolve_backend(backend: str = "auto") -> str:
    """Turn ``"auto"`` (or an explicit name) into the backend that will run.

    Parameters
    ----------
    backend : {"auto", "cython", "numpy"}
        The requested backend.

    Returns
    -------
    str
        ``"cython"`` or ``"numpy"``.

    Raises
    ------
    ValueError
        For an unknown name (also in ``FASTLINREG_BACKEND``).
    ImportError
        When ``"cython"`` is requested and the extension is unavailable.
    """
    global _fallback_warned
    if not isinstance(backend, str) or backend not in ("auto", *BACKENDS):
        raise ValueError(
            f"backend must be 'auto', 'cython' or 'numpy', got {backend!r}"
        )
    if backend == "auto":
        env = os.environ.get(ENV_VAR, "").strip().lower()
        if env and env != "auto":
            if env not in BACKENDS:
                raise ValueError(
                    f"{ENV_VAR} must be 'auto', 'cython' or 'numpy', got {env!r}"
                )
            backend = env
    if backend == "cython":
        if _cython_kernels is None:
            raise ImportError(
                "the compiled fastlinreg kernels are unavailable "
                f"({_IMPORT_ERROR}); reinstall fastlinreg with a C compiler, "
                "or use backend='numpy'"
            )
        return "cython"
    if backend == "numpy":
        return "numpy"
    if _cython_kernels is not None:
        return "cython"
    if not _fallback_warned:
        _fallback_warned = True
        warnings.warn(
            f"the compiled fastlinreg kernels are unavailable ({_IMPORT_ERROR}); "
            "using the slower NumPy fallback",
            BackendWarning,
            stacklevel=3,
        )
    return "numpy"


def get_kernels(backend: str = "auto") -> ModuleType:
    """The kernel module of a backend (``"auto"`` is resolved first)."""
    name = resolve_backend(backend)
    return _cython_kernels if name == "cython" else _numpy_kernels  # type: ignore[return-value]


def resolve_n_threads(n_jobs: int | None, kernels: ModuleType, n_elements: int) -> int:
    """Threads for one kernel call.

    ``None`` means every thread OpenMP would use (it honours
    ``OMP_NUM_THREADS``); a negative value counts back from the number of CPUs
    as in joblib (``-1`` is all of them). Inputs smaller than a threshold run on
    one thread, and so does every call in a process forked after this module
    was imported (GNU libgomp cannot start threads there; see the module
    docstring). The result does not change the answer, only the speed.
    """
    wanted: int
    check_n_jobs(n_jobs)
    if n_jobs is None:
        wanted = kernels.max_threads()
    elif n_jobs < 0:
        wanted = max(1, (os.cpu_count() or 1) + 1 + int(n_jobs))
    else:
        wanted = int(n_jobs)
    if not kernels.HAS_OPENMP or n_elements < _THREAD_MIN_ELEMENTS or _in_forked_child:
        return 1
    return max(1, min(wanted, _MAX_THREADS))


def check_n_jobs(n_jobs: Any) -> None:
    """``n_jobs`` must be None or a non-zero integer."""
    if n_jobs is not None and (
        isinstance(n_jobs, bool)
        or not isinstance(n_jobs, numbers.Integral)
        or n_jobs == 0
    ):
        raise ValueError(f"n_jobs must be None or a non-zero integer, got {n_jobs!r}")


def blas_threads(
    n_threads: int, kernels: ModuleType, n_elements: int
) -> contextlib.AbstractContextManager[object]:
    """Hold NumPy's BLAS to ``n_threads`` for a pass it runs for the kernels.

    The statistics of 64 and more features, of several targets and of
    weighted rows are BLAS products (NumPy's matmul), whose threads are
    BLAS's own: ``n_jobs`` bounds them too, as it bounds the compiled kernels
    (a Dask task, one thread by default, then also runs BLAS on one). A bound
    is set only where it lowers the count: when the compiled kernels run
    (the NumPy backend leaves threads to NumPy), the input is large enough
    for ``n_threads`` to be the caller's choice, and BLAS would use more.
    """
    if (
        kernels is _numpy_kernels
        or n_elements < _THREAD_MIN_ELEMENTS
        or n_threads >= kernels.max_threads()
    ):
        return contextlib.nullcontext()
    return _bounded_blas(n_threads)


# BLAS's thread count is process-wide. Passes that overlap in time (Python
# threads, Dask's threaded scheduler) share one bound, set by the first to
# start and lifted by the last to end: bounds saved and restored one by one
# would leave BLAS on one thread for good when two passes interleave.
_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter: Any = None


@contextlib.contextmanager
def _bounded_blas(n_threads: int) -> Iterator[None]:
    global _blas_users, _blas_limiter
    counted = False
    try:
        with _blas_lock:
            if _blas_users == 0:
                blas = threadpoolctl.ThreadpoolController().select(user_api="blas")
                now = max((lib.num_threads for lib in blas.lib_controllers), default=0)
                if n_threads < now:
                    _blas_limiter = blas.limit(limits=n_threads)
            _blas_users += 1
            counted = True
        yield
    finally:
        # (counted: a KeyboardInterrupt before the count must not uncount)
        if counted:
            with _blas_lock:
                _blas_users -= 1
                if _blas_users == 0 and _blas_limiter is not None:
                    _blas_limiter.restore_original_limits()
                    _blas_limiter = None


@dataclass(frozen=True)
class Engine:
    """A resolved backend, the caller's ``n_jobs``, and the routing thresholds.

    Pickles by name (a module does not pickle), so that Dask can ship it.
    """

    name: str
    kernels: ModuleType
    n_jobs: int | None = None

    # Below this many elements of X a second thread costs more than it saves.
    THREAD_MIN_ELEMENTS: ClassVar[int] = _THREAD_MIN_ELEMENTS
    # From this many features on, the statistics pass (d² products a row) is
    # BLAS's job (NumPy's matmul on centred blocks) rather than the compiled
    # ``gram``, which sums its products in register tiles: at 48 features it
    # still beat blocked BLAS on one thread (134 ms against 160 ms on 2 cores,
    # 3e5 rows); at 64 it needs both threads.
    STATS_BLAS_MIN_FEATURES: ClassVar[int] = 64
    # From this many features on, the d² products a row of a robust loss's
    # Hessian are BLAS's job (the NumPy twin's matmul on the rows with
    # curvature), not the compiled hand loop.
    HESSIAN_BLAS_MIN_FEATURES: ClassVar[int] = 16
    # Up to this d, conjugate gradients on the statistics run in one kernel
    # call (the Python loop's steps without its per-iteration overhead).
    KERNEL_CG_MAX_FEATURES: ClassVar[int] = 64
    # The sufficient statistics take (d + 1)² doubles: up to this d, gather
    # them (precompute="auto").
    PRECOMPUTE_MAX_FEATURES: ClassVar[int] = 2048
    # Up to this many elements of X, iterative refinement computes the data's
    # gradient in double-double arithmetic with exact sums; beyond, the
    # kernel's.
    ACCURATE_MAX_ELEMENTS: ClassVar[int] = 1 << 20

    @classmethod
    def resolve(cls, backend: str = "auto", n_jobs: int | None = None) -> Engine:
        """The engine of a backend name (``"auto"`` resolved) and ``n_jobs``."""
        check_n_jobs(n_jobs)
        name = resolve_backend(backend)
        kernels = _cython_kernels if name == "cython" else _numpy_kernels
        assert kernels is not None  # (resolve_backend raised otherwise)
        return cls(name, kernels, n_jobs)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Engine.resolve, (self.name, self.n_jobs))

    def threads(self, n_elements: int) -> int:
        """Threads for one pass over ``n_elements`` elements of X."""
        return resolve_n_threads(self.n_jobs, self.kernels, n_elements)

    def hessian_kernels(self, d: int) -> ModuleType:
        """The kernels of a robust loss's pass with its Hessian."""
        return _numpy_kernels if d >= self.HESSIAN_BLAS_MIN_FEATURES else self.kernels

    def compiled_cg(self, d: int) -> bool:
        """Whether conjugate gradients on ``d`` features run as one call."""
        return d <= self.KERNEL_CG_MAX_FEATURES

    def stats_by_blas(self, d: int) -> bool:
        """Whether the statistics of ``d`` features are BLAS's job."""
        return d >= self.STATS_BLAS_MIN_FEATURES
