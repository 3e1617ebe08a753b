"""Connected components of RLE masks, and Segment Anything's small-region
cleanup, computed on the runs: no mask is ever decoded to its full frame.

Both functions give exactly what OpenCV gives on the decoded (H, W) uint8
mask: :func:`components` is ``cv2.connectedComponentsWithStats`` (its labels,
their order, its stats and centroids to the bit), and
:func:`remove_small_regions` is ``remove_small_regions`` of
``segment_anything/utils/amg.py``, which is built on it. The labelling is a
union-find over the column segments of the runs (csrc/rle_components.c),
with the GIL released and masks spread over threads. See
docs/geometry-components.md.
"""
from __future__ import annotations

from typing import Any, List, Mapping, NamedTuple, Optional, Sequence, Tuple, Union, overload

import numpy as np

from .. import _components, _core
from .._args import as_list, is_int, real_arg, resolve_threads
from ..api import RLE

__all__ = ["Components", "components", "remove_small_regions", "CONNECTIVITIES", "REGION_MODES"]

#: The connectivities cv2.connectedComponentsWithStats takes.
CONNECTIVITIES = (4, 8)
#: remove_small_regions' modes, as Segment Anything names them.
REGION_MODES = ("holes", "islands")
_INT32_MAX = 2**31 - 1
#: Bytes of decode output that take as long to write as one run takes to
#: label (about 20 ns a run on 100 SA-1B-like masks, 2-core VM): so threads
#: start from THREAD_MIN_BYTES / 128 = 65,536 runs, about a millisecond.
RUN_COST_BYTES = 128


class Components(NamedTuple):
    """One mask's connected components.

    ``rles``, ``stats`` and ``centroids`` are indexed by cv2's label: label
    ``k >= 1`` is ``rles[k - 1]`` and row ``k`` of the arrays; row 0 is the
    background (every 0 pixel), as in cv2. Unpack it like cv2's result:
    ``rles, stats, centroids = fastrle.components(rle)``.

    Attributes:
        rles: one COCO RLE dict per component (``{"size": [h, w], "counts": str}``,
            the string ``fastrle.encode`` gives for the component's mask), in
            cv2's label order.
        stats: (n + 1, 5) int32, cv2's ``[left, top, width, height, area]``
            per label (``cv2.CC_STAT_*`` columns). A background of no pixel
            has cv2's row ``[-1, 2**31 - 1, 0, 0, 0]``. int64 for masks of
            more than 2**31 - 1 pixels, which cv2 cannot label.
        centroids: (n + 1, 2) float64, cv2's ``[x, y]`` per label: exact
            integer sums divided once by the area; NaN for a background of
            no pixel.
    """

    rles: List[RLE]
    stats: np.ndarray
    centroids: np.ndarray

    @property
    def num_labels(self) -> int:
        """cv2's first return value: the components plus the background."""
        return len(self.rles) + 1

    @property
    def areas(self) -> np.ndarray:
        """The components' pixel counts, int64 (n,) (label 0 left out)."""
        return self.stats[1:, 4].astype(np.int64)

    @property
    def bboxes(self) -> np.ndarray:
        """The components' COCO boxes ``[x, y, w, h]``, float64 (n, 4), as
        :func:`fastrle.bbox` gives for each component's RLE (label 0 left out)."""
        return self.stats[1:, :4].astype(np.float64)


def _runs(rles: Any) -> Tuple[bool, List[Any], Any]:
    """(single, the dicts, their Runs table): one dict or a list of dicts of
    any sizes, validated by the batch parse (RLEError naming the mask, as
    decode)."""
    single = isinstance(rles, Mapping)
    lst = [rles] if single else as_list(rles)
    return single, lst, _core.parse(_core.sources(lst, same_size=False), True)


def _threads(threads: Optional[int], runs: Any) -> int:
    """Threads for a call over ``runs`` (resolve_threads' rule), its work
    counted as RUN_COST_BYTES of decode output per run."""
    return resolve_threads(threads, int(runs.offsets[-1]) * RUN_COST_BYTES)


def _connectivity(connectivity: Any) -> int:
    if not is_int(connectivity):
        raise TypeError(f"connectivity must be 4 or 8, got {connectivity!r}")
    if connectivity not in CONNECTIVITIES:
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    return int(connectivity)


@overload
def components(rles: Mapping[str, Any], *, connectivity: int = 8, threads: Optional[int] = None) -> Components: ...
@overload
def components(rles: Sequence[Mapping[str, Any]], *, connectivity: int = 8,
               threads: Optional[int] = None) -> List[Components]: ...


def components(rles: Any, *, connectivity: int = 8, threads: Optional[int] = None
               ) -> Union[Components, List[Components]]:
    """Connected components of each mask, equal to
    ``cv2.connectedComponentsWithStats(mask, connectivity=connectivity)`` on
    the decoded (H, W) uint8 mask: the same labels in the same order, the
    same stats and centroids, each component as an RLE.

    Args:
        rles: one RLE dict, or a list of them (sizes may differ).
        connectivity: 8 (diagonal neighbours connect) or 4.
        threads: worker threads; None picks by the number of runs (1 for
            small batches).

    Returns:
        A :class:`Components` for a dict, or a list of them, one per mask.
        An empty mask has no component (``stats`` is the background row only).

    Raises:
        RLEError (a ValueError) naming the mask index for malformed counts,
        before anything is computed; ValueError/TypeError for a bad size,
        connectivity or threads.
    """
    conn = _connectivity(connectivity)
    single, _, runs = _runs(rles)
    raw = _components.components(runs.arena, runs.offsets, runs.heights, runs.widths, conn,
                                 _threads(threads, runs))
    out = []
    for (stats, cents, strs), h, w in zip(raw, runs.heights.tolist(), runs.widths.tolist()):
        if h * w <= _INT32_MAX:
            stats = stats.astype(np.int32)
        out.append(Components([{"size": [h, w], "counts": s} for s in strs], stats, cents))
    return out[0] if single else out


@overload
def remove_small_regions(rles: Mapping[str, Any], area_thresh: float, mode: str = "holes", *,
                         threads: Optional[int] = None) -> Tuple[RLE, bool]: ...
@overload
def remove_small_regions(rles: Sequence[Mapping[str, Any]], area_thresh: float, mode: str = "holes", *,
                         threads: Optional[int] = None) -> Tuple[List[RLE], np.ndarray]: ...


def remove_small_regions(rles: Any, area_thresh: float, mode: str = "holes", *, threads: Optional[int] = None
                         ) -> Union[Tuple[RLE, bool], Tuple[List[RLE], np.ndarray]]:
    """Segment Anything's ``remove_small_regions(mask, area_thresh, mode)``
    (segment_anything/utils/amg.py) on each mask, from the runs.

    SAM labels ``mask`` ("islands") or its complement ("holes") with
    ``cv2.connectedComponentsWithStats(..., 8)``; a region is small when its
    area is below ``area_thresh``. With no small region the mask comes back
    unchanged. Otherwise "holes" fills the small holes (the complement's
    small components, the outside included when it is small), and "islands"
    keeps the components that are not small, or, when all are, the largest
    (the lowest cv2 label among equals).

    Args:
        rles: one RLE dict, or a list of them (sizes may differ).
        area_thresh: the area (a real number) below which a region is small.
        mode: ``"holes"`` or ``"islands"``.
        threads: worker threads; None picks by the number of runs.

    Returns:
        ``(rle, changed)`` for a dict; for a list, the list of RLEs and a bool
        (N,) array. An unchanged mask is the input dict itself (SAM returns
        its input too); a changed one is a new ``{"size": [h, w], "counts":
        str}`` dict, even when its pixels equal the input's (SAM's flag).

    Raises:
        RLEError (a ValueError) naming the mask index for malformed counts;
        ValueError for a mode other than "holes"/"islands"; TypeError for an
        area_thresh that is not a real number.
    """
    if mode not in REGION_MODES:
        raise ValueError(f"mode must be 'holes' or 'islands', got {mode!r}")
    thresh = real_arg(area_thresh, "area_thresh", finite=False)  # nan, inf: as SAM's comparison takes them
    single, lst, runs = _runs(rles)
    strs, changed = _components.remove_small(runs.arena, runs.offsets, runs.heights, runs.widths,
                                             thresh, mode == "holes", _threads(threads, runs))
    out: List[RLE] = []
    for r, s, h, w in zip(lst, strs, runs.heights.tolist(), runs.widths.tolist()):
        out.append(r if s is None else {"size": [h, w], "counts": s})
    if single:
        return out[0], bool(changed[0])
    return out, changed
