"""Type stub for the Cython glue of csrc/rle_contour.c (see _contours.pyx)."""
from typing import Any, Callable, List, Tuple

import numpy as np
import numpy.typing as npt

from ._core import Sources

EXTERNAL: int
CCOMP: int
APPROX_NONE: int
APPROX_SIMPLE: int
STORE_AUTO: int
STORE_CROP: int
STORE_SPARSE: int

_Flat = Tuple[npt.NDArray[np.int32], npt.NDArray[np.int64], npt.NDArray[np.int32], npt.NDArray[np.int64]]

def contours(arena: npt.NDArray[np.uint32], offsets: npt.NDArray[np.int64], heights: npt.NDArray[np.int64],
             widths: npt.NDArray[np.int64], mode: int, approx: int, outline: bool,
             threads: int, store: int = ...
             ) -> _Flat: ...

def contours_src(s: Sources, mode: int, approx: int, outline: bool, threads: int, store: int = ...
                 ) -> _Flat: ...

def contours_each(s: Sources, mode: int, approx: int, outline: bool, threads: int,
                  fn: Callable[[int, List[npt.NDArray[np.int32]], npt.NDArray[np.int32], npt.NDArray[np.int32]], Any],
                  store: int = ...) -> None: ...
SPIN_US_MAX: int

def spin_us() -> int: ...
def set_spin_us(us: int) -> None: ...
