"""Types of the Cython glue src/fastrle/_transform.pyx."""
from typing import Any, Dict

import numpy as np
import numpy.typing as npt

MODES: Dict[str, int]

def nearest_map(in_size: int, out_size: int, exact: bool, other_size: int = ...) -> npt.NDArray[np.int64]: ...
def nearest_src(in_size: int, out_size: int, exact: bool, other_size: int,
                dst: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]: ...
def decode_transform(s: Any, out: np.ndarray, h: int, w: int, oh: int, ow: int, mode: str,
                     flip_h: bool, flip_v: bool, packed: bool, little: bool, zeroed: bool,
                     threads: int) -> None: ...
def roi_align(s: Any, h: int, w: int, boxes: npt.NDArray[np.float32], spatial_scale: float,
              sampling_ratio: int, aligned: bool, out: np.ndarray, threads: int) -> None: ...
SPIN_US_MAX: int

def spin_us() -> int: ...
def set_spin_us(us: int) -> None: ...
