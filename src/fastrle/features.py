"""Spatial features of RLE masks computed on the runs, never densely decoded.

All functions take a list of RLE dicts of one size, or any object with a
ragged counts table (``counts_data``, ``counts_offsets``, ``height``,
``width``), such as :class:`fastrle.sa1b.SA1BAnnotation`. The C code walks
the runs with the GIL released.

Conventions:

* Coordinates are pixel indices: x is the column, y the row, so a centroid
  equals ``np.argwhere(mask)[:, ::-1].mean(0)``, not pixel-centre based.
* An empty mask has centroid ``(nan, nan)``; containment ``[i, j]`` is 0
  where ``|j| = 0``; IoU is 0 where the union is empty (two empty masks).
"""
from __future__ import annotations

from typing import Any, Tuple

import numpy as np

from . import _core, _features
from ._args import as_list, is_table

__all__ = ["areas", "centroids", "intersections", "containment", "iou_matrix"]


def _runs(rles: Any) -> Tuple[np.ndarray, np.ndarray, int, int]:
    """(arena, offsets, h, w) of validated counts, from dicts or a ragged table."""
    if is_table(rles):
        h, w = int(rles.height), int(rles.width)
        buf = np.frombuffer(rles.counts_data, np.uint8)
        src = _core.sources_ragged(buf, np.ascontiguousarray(rles.counts_offsets, np.int64), h, w)
    else:
        lst = [rles] if isinstance(rles, dict) else as_list(rles)
        src = _core.sources(lst, same_size=True)
        h = int(src.heights[0]) if src.n else 0
        w = int(src.widths[0]) if src.n else 0
    runs = _core.parse(src, True)
    return runs.arena, runs.offsets, h, w


def areas(rles: Any) -> np.ndarray:
    """Foreground pixel count per mask, int64 (N,)."""
    arena, offs, h, _ = _runs(rles)
    return _features.moments(arena, offs, max(h, 1))[0].astype(np.int64)


def centroids(rles: Any) -> np.ndarray:
    """Mean pixel position per mask as (N, 2) float64 ``[x, y]``; NaN for an
    empty mask. Exact integer sums, one division."""
    arena, offs, h, _ = _runs(rles)
    area, sx, sy = _features.moments(arena, offs, max(h, 1))
    out = np.full((len(area), 2), np.nan)
    nz = area > 0
    a = area[nz].astype(np.float64)
    out[nz, 0] = sx[nz].astype(np.float64) / a
    out[nz, 1] = sy[nz].astype(np.float64) / a
    return out


def intersections(rles: Any) -> np.ndarray:
    """(N, N) int64 matrix of ``|i ∩ j|``; the diagonal holds the areas."""
    arena, offs, h, w = _runs(rles)
    return _features.intersections(arena, offs, h, w).astype(np.int64)


def containment(rles: Any) -> np.ndarray:
    """(N, N) float64 with ``[i, j] = |i ∩ j| / |j|``: the share of mask j
    that lies inside mask i. 0 where mask j is empty."""
    inter = intersections(rles).astype(np.float64)
    area = np.diag(inter).copy()
    safe = np.where(area > 0, area, 1.0)
    return np.where(area[None, :] > 0, inter / safe[None, :], 0.0)


def iou_matrix(rles: Any) -> np.ndarray:
    """(N, N) float64 intersection over union; 0 where the union is empty."""
    inter = intersections(rles).astype(np.float64)
    area = np.diag(inter).copy()
    union = area[:, None] + area[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
