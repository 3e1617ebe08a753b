"""Polygons (rings with holes) of COCO RLE masks, from the runs.

The rings of ``format="cv2"`` are those of ``cv2.findContours`` on the
decoded mask: the same points, order, start points, orientation and
hierarchy, found in C (csrc/rle_contour.c) from the row spans, with the GIL
released and masks spread over threads. ``format="coco"`` gives the same
rings as pixel outlines, which pycocotools' ``frPyObjects`` rasterises back
to the mask exactly. See docs/geometry.md.
"""
from __future__ import annotations

from collections.abc import Mapping
from itertools import accumulate
from typing import Any, Dict, List, NamedTuple, Union

import numpy as np

from .. import _contours, _core
from .._args import as_list, real_arg, resolve_threads

__all__ = ["Rings", "to_polygons", "ring_area"]

_MODES = {"external": _contours.EXTERNAL, "ccomp": _contours.CCOMP}
_APPROX = {"none": _contours.APPROX_NONE, "simple": _contours.APPROX_SIMPLE}
_FORMATS = ("coco", "cv2")


class Rings(NamedTuple):
    """One mask's polygons.

    ``rings``: COCO flat ``[x1, y1, x2, y2, ...]`` float lists
    (``format="coco"``) or (N, 2) int32 arrays of x, y (``format="cv2"``);
    ``hierarchy``: (R, 4) int32, cv2's rows [next, previous, first child,
    parent] (-1: none); ``parents``: (R,) int32, the ring each ring is a hole
    of, -1 for outer rings.
    """

    rings: List[Any]
    hierarchy: np.ndarray
    parents: np.ndarray


def ring_area(ring: np.ndarray) -> float:
    """The unsigned shoelace area of a ring ((N, 2) or flat x, y pairs), as
    ``cv2.contourArea``: a cv2 ring of one pixel, or a 1-pixel-wide line,
    has area 0; a pixel outline's area is its pixel count."""
    p = np.asarray(ring, np.float64).reshape(-1, 2)
    if len(p) < 3:
        return 0.0
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def _hierarchy(parents: np.ndarray) -> np.ndarray:
    """cv2's hierarchy rows of rings in pre-order, given each one's parent."""
    n = len(parents)
    h = np.full((n, 4), -1, np.int32)
    h[:, 3] = parents
    last: Dict[int, int] = {}
    for i in range(n):
        p = int(parents[i])
        if p in last:
            h[last[p], 0] = i
            h[i, 1] = last[p]
        elif p >= 0:
            h[p, 2] = i
        last[p] = i
    return h


def _bridge(outer: np.ndarray, holes: List[np.ndarray]) -> np.ndarray:
    """One ring: each hole joined by a zero-width cut, there and back, from
    its start to the outer ring's nearest vertex (holes that share a vertex
    in their order). Even-odd fill, as pycocotools' rasteriser, is unchanged
    by the cuts."""
    starts = np.array([h[0] for h in holes], np.float64)
    o = outer.astype(np.float64)
    near = np.empty(len(holes), np.int64)
    step = max(1, (1 << 22) // max(len(o), 1))
    for k in range(0, len(holes), step):  # distances in blocks of about 4M
        s = starts[k:k + step]
        d = (o[None, :, 0] - s[:, None, 0]) ** 2 + (o[None, :, 1] - s[:, None, 1]) ** 2
        near[k:k + step] = d.argmin(1)
    pieces = []
    start = 0
    for k in np.argsort(near, kind="stable"):
        j = int(near[k])
        pieces += [outer[start:j + 1], holes[k], holes[k][:1]]
        start = j
    pieces.append(outer[start:])
    return np.concatenate(pieces)


def _one(rings: List[np.ndarray], hier: np.ndarray, parents: np.ndarray, fmt: str, bridge: bool,
         min_area: float) -> Rings:
    """One mask's Rings from its rings ((N, 2) int32 arrays, each its own),
    hierarchy and parents, as fastrle._contours.contours_each hands them
    over (coco: pixel outlines' corners)."""
    if not min_area and not (bridge and (parents >= 0).any()):
        # the common case: no ring dropped or bridged
        if fmt == "cv2":
            return Rings(rings, hier, parents)
        # one list for the mask, sliced (a tolist per ring costs more); corner
        # (X, Y) of the C core is the point (X - 0.5, Y - 0.5)
        flat = (np.concatenate(rings) - 0.5).ravel().tolist() if rings else []
        o = [0]
        o.extend(accumulate(2 * len(r) for r in rings))
        return Rings([flat[a:b] for a, b in zip(o, o[1:])], hier, parents)
    if fmt == "coco":
        rings = [r - 0.5 for r in rings]
    if min_area > 0 and rings:
        keep = np.array([ring_area(r) >= min_area for r in rings])
        keep &= np.where(parents >= 0, keep[np.maximum(parents, 0)], True)  # a dropped ring takes its holes
        new = np.cumsum(keep) - 1
        rings = [r for r, k in zip(rings, keep) if k]
        parents = np.where(parents[keep] >= 0, new[np.maximum(parents[keep], 0)], -1).astype(np.int32)
        hier = _hierarchy(parents)
    if bridge and (parents >= 0).any():
        holes: Dict[int, List[np.ndarray]] = {}
        for j, p in enumerate(parents.tolist()):
            if p >= 0:
                holes.setdefault(p, []).append(rings[j])
        rings = [_bridge(rings[i], holes[i]) if i in holes else rings[i]
                 for i in range(len(rings)) if parents[i] < 0]
        parents = np.full(len(rings), -1, np.int32)
        hier = _hierarchy(parents)
    if fmt == "coco":
        out: List[Any] = [r.ravel().tolist() for r in rings]
    else:
        out = [np.ascontiguousarray(r, np.int32) for r in rings]
    return Rings(out, np.ascontiguousarray(hier, np.int32).reshape(-1, 4), np.asarray(parents, np.int32))


def to_polygons(rles: Any, *, mode: str = "external", approx: str = "none", bridge_holes: bool = False,
                min_area: float = 0, format: str = "coco", threads: Any = None) -> Union[Rings, List[Rings]]:
    """Each mask's polygons: a :class:`Rings` for one RLE dict, a list of
    them for a list (masks may differ in size).

    ``mode="external"`` (outer rings only) or ``"ccomp"`` (outer rings and
    their holes, cv2's two-level hierarchy); ``approx="none"`` (every
    border pixel) or ``"simple"`` (only where the border turns), as
    ``cv2.findContours`` with ``RETR_EXTERNAL`` / ``RETR_CCOMP`` and
    ``CHAIN_APPROX_NONE`` / ``CHAIN_APPROX_SIMPLE``.

    ``format="cv2"``: cv2's point lists exactly, as (N, 2) int32 arrays
    through pixel centres. ``format="coco"``: each ring's pixel outline as a
    flat float list: the boundary between the ring's pixels and the
    background they face, corners at half-integers (pixel centres are at
    integers, as in pycocotools), in the ring's orientation, every corner
    (``"none"``) or the turning ones (``"simple"``).
    ``pycocotools.mask.frPyObjects`` rasterises an outline back to its pixels.

    ``bridge_holes=True`` (needs ``mode="ccomp"``) joins each hole to its
    outer ring by a zero-width cut, one ring per outer ring, for formats
    without holes (YOLO). ``min_area`` drops rings whose polygon area
    (:func:`ring_area`, the shoelace area of the ring as output) is below
    it; a dropped outer ring takes its holes with it.

    Malformed RLEs raise RLEError naming the mask, before any work.
    """
    if mode not in _MODES:
        raise ValueError(f"mode must be 'external' or 'ccomp', got {mode!r}")
    if approx not in _APPROX:
        raise ValueError(f"approx must be 'none' or 'simple', got {approx!r}")
    if format not in _FORMATS:
        raise ValueError(f"format must be 'coco' or 'cv2', got {format!r}")
    if bridge_holes and mode != "ccomp":
        raise ValueError("bridge_holes needs mode='ccomp' (mode='external' finds no holes)")
    area = real_arg(min_area, "min_area", finite=False)
    if not area >= 0:  # nan too
        raise ValueError(f"min_area must be a number >= 0, got {min_area!r}")
    min_area = area
    single = isinstance(rles, Mapping)
    lst = [rles] if single else as_list(rles)
    src = _core.sources(lst, same_size=False)
    work = int(np.dot(src.heights.astype(np.float64), src.widths)) if src.n else 0
    nthreads = resolve_threads(threads, work)
    res: List[Any] = [None] * len(lst)

    def put(i: int, rings: List[np.ndarray], hier: np.ndarray, parents: np.ndarray) -> None:
        res[i] = _one(rings, hier, parents, format, bridge_holes, min_area)

    # parsed on the C core's threads as they are traced (no serial parse
    # first); each mask's Rings built here while the other threads trace
    _contours.contours_each(src, _MODES[mode], _APPROX[approx], format == "coco", nthreads, put)
    return res[0] if single else res
