"""Overlays of RLE masks on an image, drawn from the runs in C.

The picture is defined exactly (and tested pixel for pixel against numpy):

* **Fill.** With ``a = round(alpha * 255)``, each foreground pixel of each
  mask, in draw order, becomes ``p = (p * (255 - a) + c * a + 127) // 255``
  per channel (integer arithmetic), ``c`` being the mask's colour.
* **Draw order.** ``order="area"``: by descending area, ties by index, so
  small masks stay on top. ``order="index"``: as given.
* **Contours.** After all fills, each mask's contour is set to its colour at
  full opacity, in the same order. The contour is the mask's pixels with a
  background pixel within Chebyshev distance ``contour_width`` (pixels
  outside the image count as background): the mask minus its erosion by a
  ``(2 * contour_width + 1)`` square.
"""
from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .. import _core, _render
from .._args import as_list, check_out, is_table, int_arg, out_array, real_arg, resolve_threads
from .image import load_image
from .palette import palette

__all__ = ["overlay", "draw_order"]

ORDERS = ("area", "index")


def _table(rles: Any, size: Optional[Tuple[int, int]]) -> Tuple[Any, int, int]:
    """Parsed, validated runs of every mask, and the canvas size (h, w).

    Every mask must have the size ``size`` (the image's) when given, else
    the first mask's. Errors name the mask index."""
    if is_table(rles):
        h, w = int(rles.height), int(rles.width)
        if size is not None and (h, w) != size and len(rles.counts_offsets) > 1:
            raise ValueError(f"mask 0: size [{h}, {w}] differs from the image's size "
                             f"[{size[0]}, {size[1]}]")
        buf = np.frombuffer(rles.counts_data, np.uint8)
        src = _core.sources_ragged(buf, np.ascontiguousarray(rles.counts_offsets, np.int64), h, w)
    else:
        lst = [rles] if isinstance(rles, dict) else as_list(rles)
        src = _core.sources(lst, same_size=False)
        if src.n == 0 and size is None:
            raise ValueError("no masks and no image: the canvas size is unknown")
        h, w = size if size is not None else (int(src.heights[0]), int(src.widths[0]))
        bad = np.flatnonzero((src.heights != h) | (src.widths != w))
        if bad.size:
            i = int(bad[0])
            what = "the image's size" if size is not None else "mask 0's size"
            raise ValueError(f"mask {i}: size [{int(src.heights[i])}, {int(src.widths[i])}] "
                             f"differs from {what} [{h}, {w}]")
    if size is not None:
        h, w = size
    return _core.parse(src, True), h, w


def draw_order(areas: np.ndarray, order: str = "area", top_k: Optional[int] = None,
               scores: Optional[np.ndarray] = None) -> np.ndarray:
    """Indices of the masks to draw, in draw order (int64).

    ``top_k`` keeps the k masks with the highest ``scores`` (SA-1B:
    predicted_iou) or, without scores, the k largest; ties go to the lower
    index. ``order`` then sorts the kept masks: "area" by descending area,
    ties by index; "index" as given."""
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    areas = np.asarray(areas).astype(np.int64)
    idx = np.arange(len(areas), dtype=np.int64)
    if top_k is not None:
        top_k = int_arg(top_k, "top_k", desc="a non-negative int or None")
        key = -np.asarray(scores, np.float64) if scores is not None else -areas
        idx = np.sort(np.argsort(key, kind="stable")[:int(top_k)]).astype(np.int64)
    if order == "area":
        idx = idx[np.argsort(-areas[idx], kind="stable")]
    return np.ascontiguousarray(idx, np.int64)


def _colors(colors: Any, n: int) -> np.ndarray:
    if colors is None:
        return palette(n)
    c = np.asarray(colors)
    if c.ndim != 2 or c.shape != (n, 3):
        raise ValueError(f"colors must be an ({n}, 3) array, one RGB row per mask, got shape {c.shape}")
    if c.dtype != np.uint8:
        if c.dtype.kind not in "iu" or (c.size and (c.min() < 0 or c.max() > 255)):
            raise TypeError(f"colors must be uint8 (or integers in 0..255), got {c.dtype}")
    return np.ascontiguousarray(c, np.uint8)


def overlay(image: Any, rles: Any, *, colors: Any = None, alpha: float = 0.35,
            contours: bool = True, contour_width: int = 1, order: str = "area",
            top_k: Optional[int] = None, out: Optional[np.ndarray] = None,
            threads: Optional[int] = None) -> np.ndarray:
    """Draw RLE masks over an image; returns the (H, W, 3) uint8 picture.

    Args:
        image: an (H, W, 3) uint8 RGB array, a path to a JPEG or PNG, the
            file's bytes (decoded with Pillow), or None for a black canvas
            of the masks' size.
        rles: a list of COCO RLE dicts, or an :class:`fastrle.sa1b.SA1BAnnotation`.
        colors: (N, 3) uint8, one colour per mask index; None uses
            :func:`fastrle.viz.palette`.
        alpha: fill opacity in [0, 1]; the fill uses ``a = round(alpha * 255)``.
        contours: draw each mask's contour at full opacity after the fills.
        contour_width: contour thickness in pixels (>= 1).
        order: "area" (largest first, so small masks stay on top; ties by
            index) or "index".
        top_k: keep the k masks with the highest predicted_iou (an
            SA1BAnnotation) or the k largest (a list).
        out: optional (H, W, 3) uint8 C-contiguous array (or torch CPU
            tensor) to draw into (it may be ``image`` itself, to draw in
            place); returned.
        threads: threads for the drawing; None picks by image size.

    The exact rules are in the module docstring. Every mask is validated
    (size equal to the image's, well-formed counts) before anything is
    written; errors are ValueError/TypeError naming the mask index.
    """
    af = real_arg(alpha, "alpha", finite=False)
    if not 0.0 <= af <= 1.0:  # nan too
        raise ValueError(f"alpha must be a number in [0, 1], got {alpha!r}")
    a = int(round(af * 255))
    cw = 0
    if contours:
        int_arg(contour_width, "contour_width", 1)
        cw = int(contour_width)
    img = None if image is None else load_image(image)
    runs, h, w = _table(rles, None if img is None else (int(img.shape[0]), int(img.shape[1])))
    areas = _core.area(runs)
    scores = np.asarray(rles.predicted_ious) if is_table(rles) and hasattr(rles, "predicted_ious") else None
    idx = draw_order(areas, order, top_k, scores)
    cols = _colors(colors, runs.n)
    nthreads = resolve_threads(threads, h * w * 3)
    if out is None:
        result = out = np.empty((h, w, 3), np.uint8)
    else:  # the decoders' out rule, C-contiguous (fastrle._args.check_out)
        result = out
        out = check_out(out_array(out), (h, w, 3), (np.uint8,), what=" for the overlay image", strided=False)
    # everything is validated: only now is out written
    if img is None:
        out.fill(0)
    elif not (img.__array_interface__["data"][0] == out.__array_interface__["data"][0]
              and img.strides == out.strides):
        np.copyto(out, img)
    _render.render(runs.arena, runs.offsets, idx, cols, out, a, cw, nthreads)
    return result
