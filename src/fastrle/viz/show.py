"""``show_anns``: Segment Anything's notebook helper, drawn by :func:`overlay`."""
from __future__ import annotations

from typing import Any, List, Optional

import numpy as np

from ..api import encode
from .._args import is_table
from ..optional import require
from .overlay import overlay

__all__ = ["show_anns"]


def _as_rles(anns: Any) -> Any:
    """RLE dicts from SAM mask records (``segmentation`` a bool array or an
    RLE dict), COCO annotations with RLE segmentations, or plain RLE dicts;
    an SA1BAnnotation passes through."""
    if is_table(anns):
        return anns
    out: List[Any] = []
    for i, a in enumerate(anns):
        seg = a.get("segmentation", a) if isinstance(a, dict) else a
        if isinstance(seg, np.ndarray):
            if seg.ndim != 2:
                raise ValueError(f"mask {i}: a dense segmentation must be (H, W), got {seg.shape}")
            seg = encode(seg)
        if not isinstance(seg, dict) or "counts" not in seg:
            raise TypeError(f"mask {i}: expected an RLE dict or a SAM record with a 'segmentation' "
                            f"(bool array or RLE dict), got {type(seg).__name__}")
        out.append(seg)
    return out


def _size(rles: Any) -> Optional[tuple]:
    if is_table(rles):
        return int(rles.height), int(rles.width)
    if rles:
        return int(rles[0]["size"][0]), int(rles[0]["size"][1])
    return None


def _axes_image(ax: Any, size: Optional[tuple]) -> Optional[np.ndarray]:
    """The RGB picture last shown on ``ax``, when it has the masks' size."""
    for im in reversed(ax.get_images()):
        arr = np.asarray(im.get_array())
        if size is None or arr.ndim != 3 or arr.shape[:2] != size or arr.shape[2] not in (3, 4):
            continue
        arr = arr[:, :, :3]
        if arr.dtype == np.uint8:
            return np.ascontiguousarray(arr)
        if arr.dtype.kind == "f":
            return np.clip(np.rint(arr * 255.0), 0, 255).astype(np.uint8)
    return None


def show_anns(anns: Any, ax: Any = None, **overlay_kwargs: Any) -> Any:
    """Draw masks on matplotlib axes, a drop-in for SAM's notebook ``show_anns``.

    ``anns`` is what SamAutomaticMaskGenerator returns (records whose
    ``segmentation`` is a bool array or an RLE dict), a list of RLE dicts,
    or an SA1BAnnotation. ``ax`` defaults to the current axes. Unless an
    ``image=`` is given, the masks are drawn over the image already shown on
    the axes (``plt.imshow(image); show_anns(masks)``), or a black canvas.
    Other keyword arguments go to :func:`fastrle.viz.overlay`. Returns the
    ``AxesImage``. Needs matplotlib.
    """
    plt = require("matplotlib.pyplot", "show_anns")
    if ax is None:
        ax = plt.gca()
    rles = _as_rles(anns)
    if overlay_kwargs.get("image") is None:
        overlay_kwargs["image"] = _axes_image(ax, _size(rles))
    pic = overlay(overlay_kwargs.pop("image"), rles, **overlay_kwargs)
    had = bool(ax.get_images())
    if had:
        ax.set_autoscale_on(False)  # keep the shown image's limits, as SAM's helper does
    return ax.imshow(pic)
