"""Type stubs of the compiled _chunks module."""

HAS_OPENMP: bool
BUILD_INFO: dict[str, str | bool | None]

def max_threads() -> int: ...
def n_chunks_for(n: int) -> int: ...
