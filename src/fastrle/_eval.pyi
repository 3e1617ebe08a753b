"""Type stub for the Cython glue of csrc/rle_eval.c (see _eval.pyx)."""
from typing import Any

import numpy as np
import numpy.typing as npt

class Evaluation:
    @property
    def done(self) -> bool: ...
    @property
    def bad_side(self) -> int: ...
    def __init__(self, iou_thrs: npt.NDArray[np.float64], area_rng: npt.NDArray[np.float64], maxdet: int,
                 gt_off: npt.NDArray[np.int64], gt_idx: npt.NDArray[np.int64], dt_off: npt.NDArray[np.int64],
                 dt_idx: npt.NDArray[np.int64], dt_n: npt.NDArray[np.int64],
                 gt_area: npt.NDArray[np.float64], gt_id: npt.NDArray[np.float64],
                 gt_crowd: npt.NDArray[np.uint8], gt_ign: npt.NDArray[np.uint8],
                 dt_area: npt.NDArray[np.float64], dt_id: npt.NDArray[np.float64],
                 dt_score: npt.NDArray[np.float64], gt_geom: Any, dt_geom: Any,
                 iou_off: npt.NDArray[np.int64], match_off: npt.NDArray[np.int64],
                 iou: npt.NDArray[np.float64], match: npt.NDArray[np.int32]) -> None: ...
    def run(self, threads: int = ...) -> None: ...
    def accumulate(self, present: npt.NDArray[np.uint8], I0: int, A0: int, k_list: npt.NDArray[np.int64],
                   a_list: npt.NDArray[np.int64], m_list: npt.NDArray[np.int64], i_list: npt.NDArray[np.int64],
                   rec_thrs: npt.NDArray[np.float64], precision: npt.NDArray[np.float64],
                   recall: npt.NDArray[np.float64], scores: npt.NDArray[np.float64], threads: int = ...) -> None: ...
