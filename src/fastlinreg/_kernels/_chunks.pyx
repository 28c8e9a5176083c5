# cython: language_level=3
"""Build information, thread counts and the interrupt state of a pass.

Ctrl-C inside one pass. The chunks of a pass run in one parallel region.
When the call comes from the main thread, thread 0 of the team (that same
thread) takes the GIL between two of its chunks, at most once every POLL_MS
milliseconds, to run the signal handlers; once one raises, every thread skips
the chunks left and the call raises. Taking the GIL can wait for another
Python thread's switch interval (5 ms), so it is done rarely, and never from
other threads (rounds that took it back 8 times a pass on any thread made a
call from a worker thread beside a busy Python thread take 55 ms instead of
21 at 1e7 rows).
"""

import os
import threading

cdef extern from "flr_runtime.h":
    int fastlinreg_max_threads() noexcept nogil
    double flr_seconds() noexcept nogil
    void flr_flag_set(int* p) noexcept nogil
    int flr_error_pending() except -1
    int FASTLINREG_OPENMP
    const char* FLR_COMPILER
    const char* FLR_ISA
    const char* FLR_VECTORS
    int FLR_OPENMP_VERSION
    long CYTHON_HEX_VERSION

cdef extern from "Python.h":
    # PyErr_CheckSignals, leaving the exception set for flr_error_pending.
    int _run_signal_handlers "PyErr_CheckSignals"() noexcept
    unsigned long PyThread_get_thread_ident() noexcept

cdef enum:
    POLL_MS = 50

HAS_OPENMP = bool(FASTLINREG_OPENMP)

# What this build was compiled with, for fastlinreg.show_config(): a wheel
# built with -march=native would show here as an ISA beyond the baseline.
BUILD_INFO = {
    "compiler": FLR_COMPILER.decode("utf-8", "replace").strip(),
    "instruction set": FLR_ISA.decode(),
    "two-lane vectors": FLR_VECTORS.decode(),
    "cython": ".".join(str((CYTHON_HEX_VERSION >> s) & 0xFF) for s in (24, 16, 8)),
    "openmp": bool(FASTLINREG_OPENMP),
    # _OPENMP: the year and month of the specification the compiler follows.
    "openmp version": str(FLR_OPENMP_VERSION) if FLR_OPENMP_VERSION else None,
}

# The thread Python runs signal handlers in. Read-only but for fork(): in the
# child, the thread that forked (maybe not the parent's main thread) is the
# only one, and the one the handlers run in.
cdef unsigned long _MAIN_THREAD = threading.main_thread().ident


def _main_thread_after_fork() -> None:
    global _MAIN_THREAD
    _MAIN_THREAD = PyThread_get_thread_ident()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_main_thread_after_fork)


def max_threads() -> int:
    """Threads an OpenMP region would use by default (1 without OpenMP)."""
    return fastlinreg_max_threads()


def n_chunks_for(Py_ssize_t n) -> int:
    """Number of chunks the rows of an ``n``-row input are cut into."""
    return n_chunks(n)


cdef int pass_begin(Pass* P, Py_ssize_t n, int n_threads) except -1:
    """A pass over n rows on at most n_threads threads (at least one, and no
    more than there are chunks); the caller's thread decides the polling."""
    P.n = n
    P.k = n_chunks(n)
    if n_threads < 1:
        n_threads = 1
    P.n_threads = <int>P.k if n_threads > P.k else n_threads
    P.poll = PyThread_get_thread_ident() == _MAIN_THREAD
    P.stop = 0
    P.next_poll = flr_seconds() + POLL_MS / 1000.0
    return 0


cdef void pass_poll(Pass* P, int thread) noexcept nogil:
    """After a chunk: thread 0 runs the signal handlers if it is time to."""
    cdef double now
    if not P.poll or thread != 0:
        return
    now = flr_seconds()
    if now < P.next_poll:
        return
    P.next_poll = now + POLL_MS / 1000.0
    with gil:
        if _run_signal_handlers() != 0:
            flr_flag_set(&P.stop)


cdef int pass_end(Pass* P) except -1:
    """With the GIL, after the parallel region: raise what a handler raised."""
    if P.stop:
        return flr_error_pending()
    return 0
