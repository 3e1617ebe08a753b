"""Type stub for the Cython glue of csrc/rle_components.c (see _components.pyx)."""
from typing import List, Optional, Tuple

import numpy as np
import numpy.typing as npt

def components(arena: npt.NDArray[np.uint32], offsets: npt.NDArray[np.int64], heights: npt.NDArray[np.int64],
               widths: npt.NDArray[np.int64], connectivity: int, threads: int
               ) -> List[Tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], List[str]]]: ...
def remove_small(arena: npt.NDArray[np.uint32], offsets: npt.NDArray[np.int64], heights: npt.NDArray[np.int64],
                 widths: npt.NDArray[np.int64], area_thresh: float, holes: bool, threads: int
                 ) -> Tuple[List[Optional[str]], npt.NDArray[np.bool_]]: ...
SPIN_US_MAX: int

def spin_us() -> int: ...
def set_spin_us(us: int) -> None: ...
