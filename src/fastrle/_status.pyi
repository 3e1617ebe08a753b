"""Types of the Cython glue src/fastrle/_status.pyx (its cdef functions are
shared through _status.pxd and have no Python names)."""
from typing import List, Tuple

def c_statuses() -> List[Tuple[int, str]]: ...
