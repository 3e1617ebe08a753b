"""SA1BDataset: a map-style dataset over SA-1B JSON files and tar shards,
usable with ``torch.utils.data.DataLoader``. torch and Pillow are optional
and imported only when an item asks for them."""
from __future__ import annotations

import glob
import io
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..optional import require
from ..transforms import MODES, nearest_map
from .annotation import load
from .decoder import to_output
from .shard import index_shard, read_range

__all__ = ["SA1BDataset", "resize_nearest"]

PathT = Union[str, "os.PathLike[str]"]


def resize_nearest(masks: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """(N, H, W) -> (N, oh, ow) by nearest neighbour at pixel centres (torch's
    ``"nearest-exact"`` index rule), so masks stay binary. Equals what
    ``SA1BDataset(output_size=size)`` decodes straight from the runs."""
    oh, ow = size
    n, h, w = masks.shape
    rows = nearest_map(h, oh, "nearest-exact", other_size=ow)
    cols = nearest_map(w, ow, "nearest-exact", other_size=oh)
    return masks[:, rows[:, None], cols[None, :]]


class SA1BDataset:
    """Items from SA-1B per-image JSON files and/or uncompressed ``.tar`` shards.

    Args:
        sources: a directory (its ``*.json`` and ``*.tar`` files, not
            recursive), a file, or a list of them. A JSON's image is the
            ``.jpg`` of the same name next to it, if any. Shards are indexed
            once here (headers only) and then read by seeking.
        max_masks: keep the top ``max_masks`` masks by ``sort_by`` (None: all,
            in file order).
        sort_by: ``"predicted_iou"`` (default), ``"stability_score"`` or ``"area"``.
        image: ``"bytes"`` (the JPEG), ``"decode"`` (RGB (H, W, 3) uint8 via
            Pillow) or ``"none"``.
        output_size: optional ``(height, width)``: masks are decoded at that
            size straight from the runs (``mask_mode``), decoded images are
            resized bilinearly, boxes scaled.
        mask_mode: how masks reach ``output_size``: ``"nearest-exact"``
            (default: pixel centres, as :func:`resize_nearest`), ``"nearest"``
            (torch's ``"nearest"``) or ``"area"`` (float32 coverage,
            downscaling only).
        format: ``"torch"`` (tensors) or ``"numpy"``.
        threads: decode threads per item (1 suits DataLoader workers).

    Each item is a dict: ``image_id``, ``image`` (bytes, array/tensor or
    None), ``masks`` (K, H, W) uint8, ``indices`` (each mask's index in the
    file), ``bboxes`` (K, 4) float64 ``[x, y, w, h]``, ``predicted_ious``,
    ``stability_scores`` (K,). K varies per image, so batch with
    ``batch_size=None`` or ``collate_fn=SA1BDataset.collate``.
    """

    def __init__(self, sources: Union[PathT, Sequence[PathT]], *, max_masks: Optional[int] = None,
                 sort_by: Optional[str] = "predicted_iou", image: str = "bytes",
                 output_size: Optional[Tuple[int, int]] = None, format: str = "torch",
                 threads: int = 1, mask_mode: str = "nearest-exact") -> None:
        if image not in ("bytes", "decode", "none"):
            raise ValueError(f"image must be 'bytes', 'decode' or 'none', got {image!r}")
        if format not in ("torch", "numpy"):
            raise ValueError(f"format must be 'torch' or 'numpy', got {format!r}")
        if output_size is not None:
            output_size = (int(output_size[0]), int(output_size[1]))
            if min(output_size) < 1:
                raise ValueError(f"output_size must be positive, got {output_size}")
        if mask_mode not in MODES:
            raise ValueError(f"mask_mode must be one of {MODES}, got {mask_mode!r}")
        self.mask_mode = mask_mode
        self.max_masks, self.sort_by, self.image = max_masks, sort_by, image
        self.output_size, self.format, self.threads = output_size, format, threads
        # Plain tuples of str/int: cheap to pickle into DataLoader workers.
        self.items: List[Tuple[Any, ...]] = []
        srcs = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
        for s in srcs:
            self._add(os.fspath(s))

    def _add(self, path: str) -> None:
        if os.path.isdir(path):
            for p in sorted(glob.glob(os.path.join(path, "*.json")) + glob.glob(os.path.join(path, "*.tar"))):
                self._add(p)
        elif path.endswith(".tar"):
            for _, js, jp in index_shard(path):
                self.items.append(("tar", path, js[0], js[1], jp[0] if jp else -1, jp[1] if jp else 0))
        elif os.path.isfile(path):
            jpg = os.path.splitext(path)[0] + ".jpg"
            self.items.append(("json", path, jpg if os.path.isfile(jpg) else ""))
        else:
            raise FileNotFoundError(f"SA1BDataset: no such file or directory: {path}")

    def __len__(self) -> int:
        return len(self.items)

    def _read(self, item: Tuple[Any, ...]) -> Tuple[bytes, Optional[bytes]]:
        want_jpeg = self.image != "none"
        if item[0] == "json":
            with open(item[1], "rb") as f:
                data = f.read()
            jpeg = None
            if want_jpeg and item[2]:
                with open(item[2], "rb") as f:
                    jpeg = f.read()
            return data, jpeg
        _, path, jo, js, io_, is_ = item
        with open(path, "rb") as f:
            data = read_range(f, jo, js)
            jpeg = read_range(f, io_, is_) if want_jpeg and io_ >= 0 else None
        return data, jpeg

    def _image(self, jpeg: Optional[bytes]) -> Any:
        if self.image != "decode" or jpeg is None:
            return jpeg
        Image = require("PIL.Image", 'image="decode"', extra="sa1b")  # only imported when asked for

        with Image.open(io.BytesIO(jpeg)) as im:
            im = im.convert("RGB")
            if self.output_size is not None:
                im = im.resize((self.output_size[1], self.output_size[0]), Image.Resampling.BILINEAR)
            arr = np.asarray(im)
        return to_output(arr, "torch") if self.format == "torch" else arr

    def __getitem__(self, i: int) -> Dict[str, Any]:
        """Read, decode and convert item ``i``."""
        n = len(self.items)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for {n} items")
        data, jpeg = self._read(self.items[i])
        ann = load(data)
        idx = ann.order(None, self.max_masks, self.sort_by)
        # at output_size straight from the runs: no full-size dense masks
        masks = ann.decode(indices=idx, threads=self.threads, size=self.output_size,
                           mode=self.mask_mode if self.output_size is not None else "nearest")
        boxes = ann.bboxes[idx].copy()
        if self.output_size is not None:
            oh, ow = self.output_size
            boxes *= np.array([ow / max(ann.width, 1), oh / max(ann.height, 1)] * 2)
        fields = {"masks": masks, "indices": idx, "bboxes": boxes,
                  "predicted_ious": ann.predicted_ious[idx], "stability_scores": ann.stability_scores[idx]}
        if self.format == "torch":
            fields = {k: to_output(np.ascontiguousarray(v), "torch") for k, v in fields.items()}
        return {"image_id": ann.image_id, "image": self._image(jpeg), **fields}

    @staticmethod
    def collate(batch: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
        """``collate_fn`` for a DataLoader: the items as a list, unstacked
        (their mask counts differ)."""
        return list(batch)
