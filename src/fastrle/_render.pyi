"""Type stub for the Cython glue of csrc/rle_render.c (see _render.pyx)."""
import numpy as np
import numpy.typing as npt

def render(arena: npt.NDArray[np.uint32], offsets: npt.NDArray[np.int64], order: npt.NDArray[np.int64],
           colors: npt.NDArray[np.uint8], img: npt.NDArray[np.uint8], alpha: int, contour_width: int,
           threads: int) -> None: ...
SPIN_US_MAX: int

def spin_us() -> int: ...
def set_spin_us(us: int) -> None: ...
