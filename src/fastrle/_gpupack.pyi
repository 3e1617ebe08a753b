"""Types of src/fastrle/_gpupack.pyx (fastrle.gpu's one-pass packing of count strings)."""
from typing import Any, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

def pack_counts(items: List[Any]) -> Optional[Tuple[List[int], npt.NDArray[np.int64], npt.NDArray[np.uint8]]]: ...
