# cython: language_level=3
"""The row partition and the pass helper every kernel runs its chunks with.

Rows are cut into a fixed partition of chunks that depends only on ``n``;
each chunk is reduced on its own (in blocks of ``BLOCK`` rows) and the chunk
results are merged in chunk order, so results are bitwise identical for any
number of threads. A pass reads::

    pass_begin(&P, n, n_threads)          # with the GIL: chunks, threads, Ctrl-C
    with nogil:
        for c in prange(P.k, num_threads=P.n_threads, schedule="dynamic"):
            if pass_live(&P):
                _chunk(..., pass_row(&P, c), pass_row(&P, c + 1), ...)
                pass_poll(&P, threadid())
    pass_end(&P)                          # raises what a signal handler raised
"""

cdef extern from "flr_runtime.h":
    int flr_flag_get(const int* p) noexcept nogil

cdef enum:
    # Rows summed into local accumulators before they join the chunk total: a
    # two-level sum whose error grows with n / BLOCK + BLOCK, not with n.
    BLOCK = 256
    # At least MIN_CHUNK_ROWS rows a chunk, at most MAX_CHUNKS chunks.
    MIN_CHUNK_ROWS = 8192
    MAX_CHUNKS = 64


cdef struct Pass:
    Py_ssize_t n      # rows
    Py_ssize_t k      # chunks
    int n_threads     # between 1 and k
    bint poll         # called from the main thread: look for Ctrl-C
    int stop          # a handler raised: skip the chunks left (read by all threads)
    double next_poll  # when thread 0 looks next


cdef struct Model:
    # Where a pass evaluates the residuals e = (y − yo) − b − (x − m) @ w.
    const double* w
    double b
    const double* m
    double yo
    Py_ssize_t d


cdef int pass_begin(Pass* P, Py_ssize_t n, int n_threads) except -1
cdef void pass_poll(Pass* P, int thread) noexcept nogil
cdef int pass_end(Pass* P) except -1


cdef inline Py_ssize_t n_chunks(Py_ssize_t n) noexcept nogil:
    """Chunks of an n-row pass: n / MIN_CHUNK_ROWS, between 1 and MAX_CHUNKS."""
    cdef Py_ssize_t k = n // MIN_CHUNK_ROWS
    if k < 1:
        return 1
    if k > MAX_CHUNKS:
        return MAX_CHUNKS
    return k


cdef inline bint pass_live(Pass* P) noexcept nogil:
    """Whether the pass goes on (no signal handler raised)."""
    return flr_flag_get(&P.stop) == 0


cdef inline Py_ssize_t pass_row(Pass* P, Py_ssize_t c) noexcept nogil:
    """The first row of chunk c (c = k: the end)."""
    return (P.n * c) // P.k
