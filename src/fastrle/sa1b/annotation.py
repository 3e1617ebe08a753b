"""SA-1B annotation files: a fast reader and a ragged RLE table that decodes
straight into (N, H, W) buffers.

An SA-1B per-image JSON looks like::

    {"image": {"image_id", "width", "height", "file_name"},
     "annotations": [{"id", "segmentation": {"size": [h, w], "counts"},
                      "area", "bbox", "predicted_iou", "stability_score",
                      "point_coords", "crop_box"}, ...]}

:func:`load` turns one into an :class:`SA1BAnnotation`: every counts string
in one ``bytes`` buffer with int64 offsets, and the metadata as numpy arrays,
so decoding never builds a per-mask dict. The JSON is parsed by
:func:`fastrle.fileio.loads` (orjson when installed, else ``json``) and the
image block checked by :func:`fastrle.annotations.sa1b_image`.

Shard streaming lives in :mod:`fastrle.sa1b.shard`, the torch-style dataset
in :mod:`fastrle.sa1b.dataset` and the caching decoder in
:mod:`fastrle.sa1b.decoder`; :mod:`fastrle.sa1b` re-exports all of them.
"""
from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, NoReturn, Optional, Tuple, Union

import numpy as np

from .. import _core, api, fileio
from .._args import int_arg, out_array
from ..annotations import SA1BFormatError, sa1b_image

__all__ = ["SA1BAnnotation", "SA1BFormatError", "load", "from_dict", "json_backend", "SORT_KEYS"]

SORT_KEYS = ("predicted_iou", "stability_score", "area")
"""Fields ``sort_by`` accepts; masks are ranked by them in descending order."""

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, Dict[str, Any], Any]


def json_backend() -> str:
    """Name of the JSON parser in use: ``"orjson"`` or ``"json"``."""
    return fileio.json_backend()


def _where(index: Optional[int]) -> str:
    return "image" if index is None else f"annotation {index}"


def _fail(field: str, index: Optional[int], what: str, value: Any = None, missing: bool = False) -> NoReturn:
    if missing:
        raise SA1BFormatError(f"sa1b: {_where(index)}: missing field {field!r}", field, index)
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    raise SA1BFormatError(f"sa1b: {_where(index)}: field {field!r} must be {what}, got {shown}",
                          field, index)


# --- columns ------------------------------------------------------------------
# The fast path converts a whole column at once; only when that fails does a
# per-annotation loop run, to name the first bad annotation.

_KINDS = {"int": "iu", "number": "iuf"}


def _pluck(anns: List[Any], key: str) -> List[Any]:
    try:
        return [a[key] for a in anns]
    except (KeyError, TypeError, IndexError):
        for i, a in enumerate(anns):
            if not isinstance(a, dict):
                _fail("annotations", i, "an object", a)
            if key not in a:
                _fail(key, i, "", missing=True)
        raise


def _column(anns: List[Any], key: str, kind: str, shape: Tuple[int, ...], what: str,
            dtype: Any) -> np.ndarray:
    vals = _pluck(anns, key)
    if not vals:
        return np.zeros((0,) + shape, dtype)
    try:
        arr = np.asarray(vals)
        ok = arr.shape[1:] == shape and arr.dtype.kind in _KINDS[kind]
    except (ValueError, TypeError):
        ok = False
    if not ok:
        for i, v in enumerate(vals):
            try:
                a = np.asarray(v)
                good = a.shape == shape and a.dtype.kind in _KINDS[kind]
            except (ValueError, TypeError):
                good = False
            if not good:
                _fail(key, i, what, v)
        _fail(key, None, what, vals)  # unreachable in practice: some element was bad
    return arr.astype(dtype, copy=False)


def _points(anns: List[Any]) -> Tuple[np.ndarray, np.ndarray]:
    """point_coords as flat (M, 2) float64 plus int64 offsets (N+1,)."""
    vals = _pluck(anns, "point_coords")
    n = len(vals)
    try:
        arr = np.asarray(vals, dtype=np.float64) if n else np.zeros((0, 1, 2))
        if arr.ndim == 3 and arr.shape[2] == 2:  # every annotation has k points
            k = arr.shape[1]
            return arr.reshape(-1, 2), np.arange(n + 1, dtype=np.int64) * k
    except (ValueError, TypeError):
        pass
    flat: List[Any] = []
    lens = np.zeros(n, np.int64)
    for i, p in enumerate(vals):
        try:
            a = np.asarray(p, dtype=np.float64)
            good = a.ndim == 2 and a.shape[1] == 2 or a.size == 0
        except (ValueError, TypeError):
            good = False
        if not good or isinstance(p, (str, bytes)):
            _fail("point_coords", i, "a list of [x, y] points", p)
        flat.append(a.reshape(-1, 2))
        lens[i] = len(flat[-1])
    offs = np.zeros(n + 1, np.int64)
    np.cumsum(lens, out=offs[1:])
    return (np.concatenate(flat) if flat else np.zeros((0, 2))), offs


def _counts_bytes(c: Any, i: int, h: int, w: int) -> bytes:
    """One annotation's counts as compressed bytes (str, bytes, or a list of ints)."""
    if isinstance(c, str):
        try:
            return c.encode("ascii")
        except UnicodeEncodeError:
            _fail("segmentation.counts", i, "an ASCII COCO RLE string", c)
    if isinstance(c, (bytes, bytearray)):
        return bytes(c)
    if isinstance(c, (list, tuple, np.ndarray)):  # uncompressed counts
        return _core.to_string(_core.counts_array(c, i))
    _fail("segmentation.counts", i, "a COCO RLE string", c)
    return b""  # unreachable


def _segmentations(anns: List[Any], h: int, w: int) -> Tuple[bytes, np.ndarray]:
    """All counts in one buffer plus offsets; every size must be [h, w]."""
    segs = _pluck(anns, "segmentation")
    n = len(segs)
    try:
        counts = [s["counts"] for s in segs]
        sizes = {(s["size"][0], s["size"][1], len(s["size"])) for s in segs}
    except (KeyError, TypeError, IndexError):
        counts, sizes = [], set()
        for i, s in enumerate(segs):
            if not isinstance(s, dict):
                _fail("segmentation", i, "an RLE object {size, counts}", s)
            for k in ("size", "counts"):
                if k not in s:
                    _fail(f"segmentation.{k}", i, "", missing=True)
    if n and sizes != {(h, w, 2)}:
        for i, s in enumerate(segs):
            sz = s["size"]
            if not isinstance(sz, (list, tuple)) or len(sz) != 2 or sz[0] != h or sz[1] != w:
                _fail("segmentation.size", i, f"[{h}, {w}] (the image's height and width)", sz)
    try:
        data = "".join(counts).encode("ascii")
        lens = np.fromiter(map(len, counts), np.int64, n)
    except (TypeError, UnicodeEncodeError):  # bytes, lists or non-ASCII: one by one
        parts = [_counts_bytes(c, i, h, w) for i, c in enumerate(counts)]
        data = b"".join(parts)
        lens = np.fromiter(map(len, parts), np.int64, n)
    offs = np.zeros(n + 1, np.int64)
    np.cumsum(lens, out=offs[1:])
    return data, offs


# --- the annotation object ----------------------------------------------------------


class SA1BAnnotation:
    """One SA-1B image's annotations as a ragged RLE table plus numpy metadata.

    Attributes:
        image: the file's ``"image"`` object (image_id, width, height, file_name).
        height, width: mask size.
        counts_data: every compressed counts string, concatenated (bytes).
        counts_offsets: int64 (N+1,); mask i is ``counts_data[o[i]:o[i+1]]``.
        ids, areas: int64 (N,).
        bboxes, crop_boxes: float64 (N, 4), ``[x, y, w, h]`` as in the file.
        predicted_ious, stability_scores: float64 (N,).
        point_data, point_offsets: all point_coords as float64 (M, 2) and the
            int64 (N+1,) offsets of each annotation's points.
    """

    __slots__ = ("image", "height", "width", "counts_data", "counts_offsets", "ids", "areas",
                 "bboxes", "crop_boxes", "predicted_ious", "stability_scores", "point_data",
                 "point_offsets")

    def __init__(self, image: Dict[str, Any], height: int, width: int, counts_data: bytes,
                 counts_offsets: np.ndarray, ids: np.ndarray, areas: np.ndarray,
                 bboxes: np.ndarray, crop_boxes: np.ndarray, predicted_ious: np.ndarray,
                 stability_scores: np.ndarray, point_data: np.ndarray,
                 point_offsets: np.ndarray) -> None:
        self.image = image
        self.height = int(height)
        self.width = int(width)
        self.counts_data = counts_data
        self.counts_offsets = counts_offsets
        self.ids = ids
        self.areas = areas
        self.bboxes = bboxes
        self.crop_boxes = crop_boxes
        self.predicted_ious = predicted_ious
        self.stability_scores = stability_scores
        self.point_data = point_data
        self.point_offsets = point_offsets

    def __len__(self) -> int:
        return len(self.counts_offsets) - 1

    def __repr__(self) -> str:
        return (f"SA1BAnnotation(image_id={self.image_id!r}, size={self.height}x{self.width}, "
                f"masks={len(self)})")

    @property
    def image_id(self) -> Any:
        """The image's ``image_id``."""
        return self.image.get("image_id")

    @property
    def file_name(self) -> Optional[str]:
        """The image's ``file_name``, or None when the file has none."""
        return self.image.get("file_name")

    @property
    def point_coords(self) -> Union[np.ndarray, List[np.ndarray]]:
        """(N, K, 2) float64 when every annotation has K points (SA-1B: K=1),
        else a list of (K_i, 2) arrays."""
        lens = np.diff(self.point_offsets)
        if len(lens) == 0 or (lens == lens[0]).all():
            k = int(lens[0]) if len(lens) else 1
            return self.point_data.reshape(len(self), k, 2)
        return [self.point_data[a:b] for a, b in zip(self.point_offsets[:-1], self.point_offsets[1:])]

    # -- choosing masks --

    def _index_array(self, sel: Any) -> np.ndarray:
        n = len(self)
        idx = np.asarray(sel)
        if idx.dtype == np.bool_:
            if idx.shape != (n,):
                raise ValueError(f"a boolean selection must have shape ({n},), got {idx.shape}")
            return np.flatnonzero(idx)
        if idx.size == 0:
            return np.zeros(0, np.int64)
        if idx.dtype.kind not in "iu" or idx.ndim != 1:
            raise TypeError("a selection must be a boolean mask or a 1-D array of indices")
        idx = idx.astype(np.int64)
        if (idx < -n).any() or (idx >= n).any():
            raise IndexError(f"index out of range for {n} masks")
        return np.where(idx < 0, idx + n, idx)

    def order(self, indices: Any = None, top_k: Optional[int] = None,
              sort_by: Optional[str] = "predicted_iou") -> np.ndarray:
        """Indices of the masks to decode, as int64.

        ``indices`` (a boolean mask or index array) restricts and orders the
        candidates; ``top_k`` then keeps the k best by ``sort_by`` (one of
        :data:`SORT_KEYS`, descending; None keeps the order). Ties keep the
        candidates' order: file order without ``indices``, the order of
        ``indices`` with it. ``sort_by`` only matters when ``top_k`` is given.
        """
        idx = np.arange(len(self), dtype=np.int64) if indices is None else self._index_array(indices)
        if top_k is None:
            return idx
        top_k = int_arg(top_k, "top_k", desc="a non-negative int or None")
        if sort_by is not None:
            if sort_by not in SORT_KEYS:
                raise ValueError(f"sort_by must be one of {SORT_KEYS} or None, got {sort_by!r}")
            key = {"predicted_iou": self.predicted_ious, "stability_score": self.stability_scores,
                   "area": self.areas}[sort_by][idx]
            idx = idx[np.argsort(-key, kind="stable")]
        return idx[:int(top_k)]

    def select(self, sel: Any) -> "SA1BAnnotation":
        """A new annotation with only the chosen masks, e.g.
        ``ann.select(ann.predicted_ious >= 0.88)`` or ``ann.select(ann.areas > 100)``.

        ``sel`` is a boolean mask of length N or an index array (which also
        reorders). The counts are gathered into a new buffer with one numpy
        indexing operation, no per-mask objects.
        """
        idx = self._index_array(sel)
        o = self.counts_offsets
        starts, lens = o[idx], o[idx + 1] - o[idx]
        offs = np.zeros(len(idx) + 1, np.int64)
        np.cumsum(lens, out=offs[1:])
        gather = np.arange(offs[-1], dtype=np.int64) + np.repeat(starts - offs[:-1], lens)
        data = np.frombuffer(self.counts_data, np.uint8)[gather].tobytes()
        po = self.point_offsets
        plens = po[idx + 1] - po[idx]
        poffs = np.zeros(len(idx) + 1, np.int64)
        np.cumsum(plens, out=poffs[1:])
        pgather = np.arange(poffs[-1], dtype=np.int64) + np.repeat(po[idx] - poffs[:-1], plens)
        return SA1BAnnotation(self.image, self.height, self.width, data, offs, self.ids[idx],
                              self.areas[idx], self.bboxes[idx], self.crop_boxes[idx],
                              self.predicted_ious[idx], self.stability_scores[idx],
                              self.point_data[pgather], poffs)

    # -- decoding --

    def rle(self, i: int) -> Dict[str, Any]:
        """Mask i as a COCO RLE dict with str counts."""
        o = self.counts_offsets
        return {"size": [self.height, self.width],
                "counts": self.counts_data[o[i]:o[i + 1]].decode("ascii")}

    def rles(self, indices: Any = None) -> List[Dict[str, Any]]:
        """The chosen masks (default all) as COCO RLE dicts, for interop."""
        idx = range(len(self)) if indices is None else self._index_array(indices)
        return [self.rle(int(i)) for i in idx]

    def decode(self, out: Any = None, *, indices: Any = None, top_k: Optional[int] = None,
               sort_by: Optional[str] = "predicted_iou", threads: Optional[int] = None,
               device: Any = "cpu", zeroed: bool = False, size: Optional[Tuple[int, int]] = None,
               mode: str = "nearest", flip: Optional[str] = None, packed: bool = False,
               bitorder: str = "big") -> Any:
        """Decode masks straight from the ragged table into (K, H, W) uint8,
        or at another size, flipped or bit-packed (see :func:`fastrle.decode`).

        Args:
            out: optional uint8/bool buffer (numpy, torch CPU tensor; a CUDA
                array for ``device="cuda"``) of the output's shape, reused
                without allocation. Its last axis must be contiguous (for
                example ``batch[:, :H2, :W2]`` of a padded buffer).
            indices, top_k, sort_by: which masks and in which order; see
                :meth:`order`. Default: all, in file order.
            threads: CPU worker threads (None: by size).
            device: ``"cpu"`` (numpy), or ``"cuda"`` / ``"cuda:N"`` to decode
                with :func:`fastrle.gpu.decode` into a CuPy array; its
                ``GPUUnavailableError`` propagates when no GPU is usable.
            zeroed: promise that ``out`` is all zeros (CPU only; faster).
            size, mode, flip, packed, bitorder: decode at (H2, W2) with
                ``"nearest"``, ``"nearest-exact"`` or ``"area"``, flipped,
                bit-packed; straight from the runs, never at full size.

        Raises:
            RLEError naming the mask index (in the file) for malformed counts.
        """
        idx = self.order(indices, top_k, sort_by)
        dev = str(device)
        xf: Dict[str, Any] = {"size": size, "mode": mode, "flip": flip, "packed": packed, "bitorder": bitorder}
        if dev == "cpu":
            try:
                return api.decode_ragged(self.counts_data, self.counts_offsets, self.height,
                                         self.width, out, indices=idx, threads=threads,
                                         zeroed=zeroed, **xf)
            except _core.RLEError as e:  # name the mask by its index in the file
                if e.index is not None and 0 <= e.index < len(idx):
                    k = int(idx[e.index])
                    raise e.with_context(f"sa1b: annotation {k} (id {int(self.ids[k])}): ", k) from e
                raise
        if dev == "cuda" or dev.startswith("cuda:"):
            # only non-default transform arguments are passed on to the GPU decoder
            gxf = {k: v for k, v in xf.items()
                   if v != {"mode": "nearest", "packed": False, "bitorder": "big"}.get(k)}
            return self._decode_gpu(idx, out, dev, gxf)
        raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:N', got {device!r}")

    def _decode_gpu(self, idx: np.ndarray, out: Any, dev: str, xf: Optional[Dict[str, Any]] = None) -> Any:
        from .. import gpu  # lazy: CuPy is optional

        def run() -> Any:
            # the ragged table goes up as it is: no dict per mask
            return gpu.decode_ragged(self.counts_data, self.counts_offsets, self.height, self.width,
                                     out=out, indices=idx, **(xf or {}))

        if len(idx) == 0 and out is not None:
            return out
        if ":" in dev and gpu.available():
            import cupy

            with cupy.cuda.Device(int(dev.split(":", 1)[1])):
                return run()
        return run()  # raises GPUUnavailableError without a GPU

    def iter_chunks(self, chunk_size: int, out: Any = None, *, indices: Any = None,
                    top_k: Optional[int] = None, sort_by: Optional[str] = "predicted_iou",
                    threads: Optional[int] = None) -> Iterator[Tuple[np.ndarray, np.ndarray]]:
        """Decode in chunks into one reused buffer; memory stays at one chunk.

        Yields ``(indices, masks)``: the chunk's mask indices (int64) and a
        (k, H, W) view of the buffer, k <= chunk_size. The view is
        overwritten by the next chunk: copy what you keep. ``out`` may supply
        the (chunk_size, H, W) uint8 buffer.
        """
        int_arg(chunk_size, "chunk_size", 1, "a positive int")
        idx = self.order(indices, top_k, sort_by)
        shape = (int(chunk_size), self.height, self.width)
        buf = np.empty(shape, np.uint8) if out is None else out_array(out)
        if buf.shape != shape or buf.dtype not in (np.uint8, np.bool_) or not buf.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous uint8 array of shape {shape}, "
                             f"got {buf.dtype} {buf.shape}")
        for s in range(0, len(idx), int(chunk_size)):
            part = idx[s:s + int(chunk_size)]
            view = buf[:len(part)]
            self.decode(view, indices=part, threads=threads)
            yield part, view

    # -- features on the runs (see fastrle.features) --

    def centroids(self) -> np.ndarray:
        """(N, 2) float64 ``[x, y]`` centroids from the runs; NaN for empty masks."""
        from .. import features

        return features.centroids(self)

    def containment(self) -> np.ndarray:
        """(N, N) float64, ``[i, j] = |i ∩ j| / |j|``; 0 where mask j is empty."""
        from .. import features

        return features.containment(self)

    def iou_matrix(self) -> np.ndarray:
        """(N, N) float64 IoU from the runs; 0 where the union is empty."""
        from .. import features

        return features.iou_matrix(self)


# --- loading ----------------------------------------------------------------------


def from_dict(obj: Dict[str, Any]) -> SA1BAnnotation:
    """Build an :class:`SA1BAnnotation` from an already-parsed SA-1B object.

    Raises:
        SA1BFormatError (a ValueError) naming the field and annotation index
        for anything missing or malformed. Counts strings are checked when
        decoded (RLEError naming the annotation), not here.
    """
    img = sa1b_image(obj)
    anns = obj["annotations"]
    h, w = img["height"], img["width"]
    data, offs = _segmentations(anns, h, w)
    pts, poffs = _points(anns)
    return SA1BAnnotation(
        image=img, height=h, width=w, counts_data=data, counts_offsets=offs,
        ids=_column(anns, "id", "int", (), "an integer", np.int64),
        areas=_column(anns, "area", "int", (), "an integer", np.int64),
        bboxes=_column(anns, "bbox", "number", (4,), "[x, y, w, h] numbers", np.float64),
        crop_boxes=_column(anns, "crop_box", "number", (4,), "[x, y, w, h] numbers", np.float64),
        predicted_ious=_column(anns, "predicted_iou", "number", (), "a number", np.float64),
        stability_scores=_column(anns, "stability_score", "number", (), "a number", np.float64),
        point_data=pts, point_offsets=poffs)


def _read(src: Any) -> Union[bytes, str]:
    if isinstance(src, (bytes, bytearray, memoryview)):
        return bytes(src)
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            return f.read()
    if hasattr(src, "read"):
        return src.read()
    raise TypeError(f"load() takes a path, a file object, JSON bytes or a dict, got {type(src).__name__}")


def load(src: Source) -> SA1BAnnotation:
    """Read one SA-1B per-image annotation file.

    Args:
        src: a path (str or PathLike), an open binary or text file, the JSON
            text as bytes, or an already-parsed dict.

    Returns:
        An :class:`SA1BAnnotation`.

    Raises:
        SA1BFormatError (a ValueError) naming the field and annotation index
        for invalid JSON or missing/malformed fields; OSError for I/O.
    """
    if isinstance(src, dict):
        return from_dict(src)
    text = _read(src)
    try:
        obj = fileio.loads(text)
    except (ValueError, TypeError) as e:
        raise SA1BFormatError(f"sa1b: not valid JSON: {e}") from e
    return from_dict(obj)
