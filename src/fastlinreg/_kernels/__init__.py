"""Compiled kernels of fastlinreg, one module per family.

``_mse`` (``loss_gradient``), ``_gram`` (``moments``, ``gram``), ``_robust``
(``robust_loss_gradient``), ``_cg`` (``gram_cg``), ``_cd`` (``gram_cd``:
coordinate descent on a Gram, for the elastic net's paths), ``_scores``
(``cluster_scores``, ``score_gram``: the meat of robust covariances) and
``_chunks`` (the row partition, the pass helper with its interrupt and fork
state, build info), over the shared headers ``_simd.pxd`` (vector helpers,
fused types), ``_tiles.pxd`` (a block's Zᵀ Z in register tiles),
``_merge.pxd`` (pairwise merges) and ``_loss_terms.pxd`` (the per-row terms of
every loss, over one fused struct type). Every function here has a twin of the
same name and signature in ``_numpy_kernels.py``; that twin is the readable
specification and the reference the tests hold these kernels to.

Conventions shared by all kernels
---------------------------------
* The Python layer validates everything first: ``X`` is C-contiguous with at
  least one row and one column, ``y`` has ``X.shape[0]`` entries, all values are
  finite, output buffers have the right length. Bounds checks are off.
* ``X`` and ``y`` are float32 or float64 (independently: a float32 ``X`` with a
  float64 ``y`` needs no copy of either); all sums are float64.
* Inputs are ``const`` memoryviews, so read-only arrays and memory maps work.
* Rows are cut into a fixed partition of chunks that depends only on ``n``; each
  chunk is reduced on its own (in blocks of ``BLOCK`` rows) and the chunk
  results are merged in chunk order. The result is therefore bitwise identical
  for any number of threads. Threads take chunks dynamically, so one thread
  delayed by another process on the machine does not hold up the rest. A
  pending KeyboardInterrupt stops a pass between chunks (see ``_chunks``).
* Nothing proportional to ``n`` is allocated; no Python object is touched
  inside ``nogil``.
* Safe without a GIL (the module is declared free-threading compatible): it
  keeps no mutable module-level state, every scratch buffer belongs to one
  call, and the inputs are only read, so concurrent calls share nothing they
  write.
"""

from ._cd import gram_cd
from ._cg import gram_cg
from ._chunks import BUILD_INFO, HAS_OPENMP, max_threads, n_chunks_for
from ._gram import gram, moments
from ._mse import loss_gradient
from ._robust import robust_loss_gradient
from ._scores import cluster_scores, score_gram

__all__ = [
    "BUILD_INFO",
    "HAS_OPENMP",
    "cluster_scores",
    "gram",
    "gram_cd",
    "gram_cg",
    "loss_gradient",
    "max_threads",
    "moments",
    "n_chunks_for",
    "robust_loss_gradient",
    "score_gram",
]
