"""Types of src/fastrle/_gpupack.pyx (fastrle.gpu's packing of count strings, copied once into the upload)."""
from typing import Any, List, Optional, Tuple

import numpy as np
import numpy.typing as npt

def pack_counts(items: List[Any]) -> Optional[Tuple[List[int], npt.NDArray[np.int64], List[Any]]]: ...
def fill_upload(host: npt.NDArray[np.uint8], offsets: npt.NDArray[np.int64], maps: Optional[npt.NDArray[np.uint32]],
                chars: Optional[npt.NDArray[np.uint8]], strings: Optional[List[Any]]) -> int: ...
