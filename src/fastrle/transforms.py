"""Masks at the size, place and format a model wants, straight from the runs.

:func:`fastrle.decode` dispatches here when ``size``, ``flip``, ``packed``,
a non-nearest ``mode`` or a strided ``out`` is given; :func:`roi_align` is
torchvision's ``roi_align`` of each mask over its own box. Neither ever
builds the full-resolution dense mask.

Semantics (``fastrle.gpu.decode`` follows them bit for bit):

- ``mode="nearest"`` / ``"nearest-exact"``: output pixel (oy, ox) is source
  pixel (rows[oy], cols[ox]) with ``rows = nearest_map(H, H2, mode, other_size=W2)``
  and ``cols = nearest_map(W, W2, mode, other_size=H2)``: torch's
  ``interpolate(size=(H2, W2), mode=...)`` on an (N, 1, H, W) uint8 or float32
  batch, exactly, for every side up to 2**32 - 1. With ``s = float32(n) / float32(m)``:
  nearest is ``min(floorf(float32(d) * s), n - 1)``; nearest-exact is
  ``min(floorf(float32((d + 0.5) * double(s))), n - 1)`` when H2 + W2 <= 128
  (torch's channels-last kernel) and ``r = max(fmaf(s, float32(d) + 0.5f, -0.5f), 0)``,
  ``min(floorf(float32(r + 0.5)), n - 1)`` above (its generic kernel). The rule
  is ``frle_nearest_src`` in ``csrc/rle_transform.h``; the GPU uploads its maps.
- ``mode="area"`` (H2 <= H and W2 <= W): the exact fraction of each output
  cell covered by foreground, float32.
- ``flip``: ``"h"`` mirrors the output's columns, ``"v"`` its rows.
- ``packed``: ``np.packbits(mask, axis=-1, bitorder=bitorder)``.
"""
from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Any, Optional, Tuple

import numpy as np

from . import _core, _transform
from ._args import (FLIPS, MASK_DTYPES, MODES, as_list, check_out, check_size, is_int, out_array, real_arg,
                    resolve_threads, size_arg, transform_args)

__all__ = ["MODES", "FLIPS", "nearest_map", "check_size_arg", "decode_transformed", "roi_align"]

#: The one size-pair rule (fastrle._args.size_arg), under its old public name here.
check_size_arg = size_arg
# roi_align with sampling_ratio <= 0 samples ceil(bin size) points per bin and
# axis (torchvision's rule); above this many the box is rejected, not ground on.
_MAX_GRID = 1 << 20


def nearest_map(in_size: int, out_size: int, mode: str = "nearest", *, other_size: int = 1,
                index: Any = None) -> np.ndarray:
    """Source index (int64) of each output index when resizing ``in_size``
    samples to ``out_size`` with ``mode`` ``"nearest"`` or ``"nearest-exact"``:
    exactly torch's ``interpolate`` index arithmetic (see the module doc).

    ``other_size`` is the output size of the other axis of the 2-D resize
    (torch picks its nearest-exact kernel by their sum); the default 1 gives
    the map of a (1, out_size) resize. ``index`` (integers in [0, out_size))
    asks for those entries of the map only, for sides too long to list. This
    is the one home of the rule: the CPU decode and the GPU's maps use it."""
    if mode not in ("nearest", "nearest-exact"):
        raise ValueError(f"mode must be 'nearest' or 'nearest-exact', got {mode!r}")
    args = (operator.index(in_size), operator.index(out_size), mode == "nearest-exact", operator.index(other_size))
    if index is None:
        return _transform.nearest_map(*args)
    return _transform.nearest_src(*args, np.ascontiguousarray(index, np.int64).ravel())


def _out_view(out: Any, shape: Tuple[int, ...], dtype: Any, what: str = "") -> np.ndarray:
    """A numpy view of a caller's buffer of ``shape`` whose last axis is
    contiguous (other strides free: a corner of a padded batch buffer)."""
    dtypes = MASK_DTYPES if np.dtype(dtype) == np.uint8 else (dtype,)
    arr = check_out(out_array(out), shape, dtypes, what=what)
    return arr.view(np.uint8) if arr.dtype == np.bool_ else arr


def decode_transformed(src: Any, single: bool, h: int, w: int, out: Any, size: Any, mode: str,
                       flip: Any, packed: bool, bitorder: str, threads: Optional[int],
                       zeroed: bool) -> Any:
    """fastrle.decode's transformed path on validated sources (see there)."""
    t = transform_args(h, w, src.n, size, mode, flip, packed, bitorder)
    n = src.n
    shape3 = (n, t.oh, t.last)
    if out is None:
        zeroed = False  # a promise about out: nothing to promise about a fresh array
        arr = np.empty(shape3, t.dtype)
        result = arr[0] if single else arr
    else:
        arr = _out_view(out, shape3[1:] if single else shape3, t.dtype)
        if single:
            arr = arr[None]
        result = out
    if n:
        nthreads = resolve_threads(threads, n * h * w)
        _transform.decode_transform(src, arr, h, w, t.oh, t.ow, t.mode, t.flip_h, t.flip_v, t.packed,
                                    t.little, bool(zeroed), nthreads)
    return result


def _boxes_arg(boxes: Any, n: int) -> np.ndarray:
    mod = type(boxes).__module__ or ""
    if mod.startswith("torch"):
        boxes = boxes.detach().cpu().numpy()
    try:
        b = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"boxes must be a (N, 4) array of numbers, got {type(boxes).__name__}") from None
    except OverflowError:  # an int beyond float64
        raise ValueError("boxes must be finite: a coordinate is beyond float64") from None
    if b.shape != (n, 4):
        raise ValueError(f"boxes must have shape (N, 4) = ({n}, 4), got {b.shape}")
    bad = ~np.isfinite(b).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"box {i} is not finite: {b[i].tolist()}")
    # torchvision computes in the input's dtype: boxes become float32
    with np.errstate(over="ignore"):
        b32 = np.ascontiguousarray(b, dtype=np.float32)
    if not np.isfinite(b32).all():
        i = int(np.argmax(~np.isfinite(b32).all(axis=1)))
        raise ValueError(f"box {i} overflows float32: {b[i].tolist()}")
    return b32


def _grid_check(b: np.ndarray, scale: float, ph: int, pw: int, sampling_ratio: int, aligned: bool) -> None:
    """Reject boxes whose per-bin sampling grid (sampling_ratio <= 0) is
    absurdly large, computed in float32 as torchvision does."""
    if sampling_ratio > 0 or not len(b):
        return
    with np.errstate(over="ignore", invalid="ignore"):
        s, off = np.float32(scale), np.float32(0.5 if aligned else 0.0)
        rw = (b[:, 2] * s - off) - (b[:, 0] * s - off)
        rh = (b[:, 3] * s - off) - (b[:, 1] * s - off)
        if not aligned:
            rw, rh = np.maximum(rw, np.float32(1)), np.maximum(rh, np.float32(1))
        g = np.maximum(np.ceil(rh / np.float32(ph)), np.ceil(rw / np.float32(pw)))
    bad = ~(g <= _MAX_GRID)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"box {i} {b[i].tolist()} needs {g[i]} samples per bin and axis with "
                         f"sampling_ratio={sampling_ratio} (at most {_MAX_GRID}); pass sampling_ratio > 0")


def roi_align(rles: Any, boxes: Any, output_size: Any, *, spatial_scale: float = 1.0,
              sampling_ratio: int = -1, aligned: bool = False, out: Any = None,
              threads: Optional[int] = None) -> np.ndarray:
    """torchvision's ``roi_align`` of each mask over its own box, from the runs.

    Equals ``torchvision.ops.roi_align(dense[:, None].float(), [boxes],
    output_size, spatial_scale, sampling_ratio, aligned)[:, 0]`` (to float32
    rounding) without decoding the dense masks: only the runs up to the last
    column a sample point touches are read, and only the sampled columns are
    evaluated. Mask R-CNN's 28x28 mask targets are
    ``roi_align(gt_rles, proposal_boxes, 28)``.

    Args:
        rles: a list of N RLE dicts of one size (or one dict with one box).
        boxes: (N, 4) ``x1, y1, x2, y2`` in pixels (numpy, torch or a list);
            finite. Computed in float32, as torchvision does for float masks.
        output_size: M or (MH, MW).
        spatial_scale, sampling_ratio, aligned: as in torchvision.
        out: optional float32 (N, MH, MW) buffer (any view with a contiguous
            last axis).
        threads: worker threads (None: by size).

    Returns:
        float32 (N, MH, MW) ((MH, MW) for a single dict).

    Raises:
        RLEError naming the mask for malformed counts; ValueError for boxes
        that are not (N, 4) or not finite, a spatial_scale that is not
        finite in float32 (not a number: TypeError), a bad output_size or out
        (wrong dtype: TypeError). Nothing is written to ``out`` on error.
    """
    single = isinstance(rles, Mapping)
    lst = [rles] if single else as_list(rles)
    if is_int(output_size):
        output_size = (output_size, output_size)
    ph, pw = size_arg(output_size, "output_size")
    if not is_int(sampling_ratio):
        raise TypeError(f"sampling_ratio must be an int, got {sampling_ratio!r}")
    if not -(1 << 31) <= sampling_ratio < (1 << 31):
        raise ValueError(f"sampling_ratio {sampling_ratio} out of range")
    if sampling_ratio > _MAX_GRID:
        raise ValueError(f"sampling_ratio {sampling_ratio} exceeds {_MAX_GRID}")
    scale = real_arg(spatial_scale, "spatial_scale", float32=True)
    n = len(lst)
    b = _boxes_arg([boxes] if single and np.ndim(boxes) == 1 else boxes, n)
    _grid_check(b, scale, ph, pw, int(sampling_ratio), bool(aligned))
    src = _core.sources(lst)
    h, w = (int(src.heights[0]), int(src.widths[0])) if n else (0, 0)
    check_size(h, w)
    shape = (n, ph, pw)
    if out is None:
        arr = np.empty(shape, np.float32)
        result = arr[0] if single else arr
    else:
        arr = _out_view(out, shape[1:] if single else shape, np.float32, " for roi_align")
        if single:
            arr = arr[None]
        result = out
    if n:
        _transform.roi_align(src, h, w, b, scale, int(sampling_ratio), bool(aligned), arr,
                             resolve_threads(threads, n * h * w))
    return result
