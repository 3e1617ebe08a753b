"""Type stub for the Cython glue of csrc/rle_features.c (see _features.pyx)."""
from typing import Tuple

import numpy as np
import numpy.typing as npt

def moments(arena: npt.NDArray[np.uint32], offsets: npt.NDArray[np.int64], h: int
            ) -> Tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64], npt.NDArray[np.uint64]]: ...
def intersections(arena: npt.NDArray[np.uint32], offsets: npt.NDArray[np.int64], h: int, w: int
                  ) -> npt.NDArray[np.uint64]: ...
