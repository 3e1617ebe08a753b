"""The native API: C-order (N, H, W) masks, str counts, strict validation."""
from __future__ import annotations

import operator
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union, overload

import numpy as np

from . import _core, transforms
from ._args import MASK_DTYPES, MMAP_MIN_BYTES, as_list, bitorder_arg, check_out, check_size, mask_dtype_rule, \
    masks_ndim, out_array, resolve_threads

RLE = Dict[str, Any]
"""A COCO RLE dict: ``{"size": [h, w], "counts": str | bytes | list[int]}``."""

def _check_out(out: Any, shape: tuple) -> np.ndarray:
    """Validate a caller's C-contiguous output buffer; returns it as a flat uint8 view."""
    arr = check_out(out_array(out), shape)
    return arr.reshape(-1).view(np.uint8)


def _fresh_output(nbytes: int) -> tuple:
    """(flat buffer, zeroed) for a new result. Large results come from fresh
    anonymous pages: they are zero already, so only the lines near foreground
    are written, and pages nobody writes (4 KiB each) are never faulted in."""
    if nbytes >= MMAP_MIN_BYTES:
        return _core.zeroed_pages(nbytes), True
    return np.empty(nbytes, np.uint8), False


@overload
def decode(rles: RLE, out: Any = None, *, size: Optional[Sequence[int]] = None, mode: str = "nearest",
           flip: Optional[str] = None, packed: bool = False, bitorder: str = "big",
           threads: Optional[int] = None, zeroed: bool = False) -> np.ndarray: ...
@overload
def decode(rles: Sequence[RLE], out: Any = None, *, size: Optional[Sequence[int]] = None,
           mode: str = "nearest", flip: Optional[str] = None, packed: bool = False,
           bitorder: str = "big", threads: Optional[int] = None, zeroed: bool = False) -> np.ndarray: ...


def decode(rles, out=None, *, size=None, mode="nearest", flip=None, packed=False, bitorder="big",
           threads=None, zeroed=False):
    """Decode COCO RLEs into C-order masks, optionally resized, flipped or
    bit-packed on the way (never through the full-size dense mask).

    Args:
        rles: one RLE dict, or a list of them, all of the same size. ``counts``
            may be a compressed str or bytes, or a list of ints (uncompressed).
        out: optional preallocated writable buffer (numpy array, torch CPU
            tensor) of the output's shape and dtype, (N, ...) or (...) for a
            single dict. Its last axis must be contiguous; other strides are
            free, so it may be the top-left corner of a padded batch buffer
            (``buf[:, :H2, :W2]``). Filled completely (unless ``zeroed``),
            with no allocation; it is returned.
        size: (H2, W2) output size (positive ints); None keeps (H, W).
        mode: ``"nearest"`` (uint8; exactly ``torch.nn.functional.interpolate(
            mode="nearest")`` of the (N, 1, H, W) batch, float32 index
            arithmetic included, any side up to 2**32 - 1), ``"nearest-exact"``
            (uint8; torch's ``"nearest-exact"``, likewise) or ``"area"`` (float32, downscaling
            only: the exact fraction of each output cell covered by
            foreground, which is cv2 ``INTER_AREA`` of the 0/1 mask). The
            source index rule is :func:`fastrle.transforms.nearest_map`.
        flip: ``"h"`` (mirror columns), ``"v"`` (rows) or ``"hv"``, applied
            to the output.
        packed: 8 pixels per byte along the last axis, exactly
            ``np.packbits(mask, axis=-1, bitorder=bitorder)``: shape
            (N, H2, ceil(W2/8)) uint8, pad bits 0. Not with ``"area"``.
        bitorder: ``"big"`` (np.packbits' default) or ``"little"``.
        threads: worker threads; None picks by size (1 for small batches).
        zeroed: promise that ``out`` is all zeros, so background is not
            written, except zeros in the 64-byte lines near foreground.
            Faster; wrong results if the promise is broken.

    Returns:
        (N, H2, W2) uint8 0/1 (float32 for area; packed: (N, H2, ceil(W2/8))),
        or without N for a dict.

    Raises:
        RLEError (a ValueError) naming the mask index for malformed counts;
        ValueError for mixed sizes, a size that is not a pair of positive
        ints (TypeError for non-ints), ``"area"`` asked to upscale, or an
        ``out`` of the wrong shape; TypeError for an ``out`` of the wrong dtype
        (area needs float32). Every mask and argument is validated before any
        byte of ``out`` is written.
    """
    single = isinstance(rles, Mapping)
    lst = [rles] if single else as_list(rles)
    src = _core.sources(lst)
    n = len(lst)
    if n == 0 and size is None and flip is None and not packed and mode == "nearest":
        bitorder_arg(bitorder)
        if out is not None:
            arr = out_array(out)
            if arr.ndim != 3 or arr.shape[0] != 0:
                raise ValueError(f"out has shape {arr.shape}, expected (0, H, W) for no masks")
            return out
        return np.zeros((0, 0, 0), np.uint8)
    h, w = (int(src.heights[0]), int(src.widths[0])) if n else (0, 0)
    shape = (h, w) if single else (n, h, w)
    if _plain(size, mode, flip, packed, bitorder, out, shape):
        return decode_sources(src, shape, h, w, out, threads, zeroed)
    return transforms.decode_transformed(src, single, h, w, out, size, mode, flip, packed, bitorder,
                                         threads, zeroed)


def _plain(size: Any, mode: str, flip: Any, packed: bool, bitorder: str, out: Any, shape: tuple) -> bool:
    """True when decode needs no transform: the full-size, C-contiguous path.
    The transform path checks every option; here only bitorder is left."""
    if size is not None or flip is not None or packed or mode != "nearest":
        return False
    bitorder_arg(bitorder)
    if out is None:
        return True
    arr = out_array(out)
    # a strided view of the right shape goes through the transform path
    return not (arr.shape == shape and arr.dtype in MASK_DTYPES and not arr.flags.c_contiguous)


def decode_sources(src: Any, shape: tuple, h: int, w: int, out: Any, threads: Optional[int],
                   zeroed: bool, order: str = "C") -> Any:
    """Decode validated sources into `out`, or into a fresh array of `shape`
    (order "F": pycocotools' column-major (H, W, N); only for fresh output)."""
    check_size(h, w)
    nbytes = src.n * h * w
    nthreads = resolve_threads(threads, nbytes)
    if out is None:
        flat, zeroed = _fresh_output(nbytes)
        result = flat.reshape(shape, order=order)
    else:
        flat = _check_out(out, shape)
        result = out
    _core.decode_into(src, flat, h, w, order, bool(zeroed), nthreads)
    return result


def decode_ragged(data: Union[bytes, bytearray, memoryview, np.ndarray], offsets: Any, h: int, w: int,
                  out: Any = None, *, indices: Any = None, size: Optional[Sequence[int]] = None,
                  mode: str = "nearest", flip: Optional[str] = None, packed: bool = False,
                  bitorder: str = "big", threads: Optional[int] = None,
                  zeroed: bool = False) -> np.ndarray:
    """Decode masks stored as one buffer of concatenated counts strings.

    Mask i's compressed counts are ``data[offsets[i]:offsets[i+1]]``; every
    mask is h x w. No per-mask Python object is made. ``indices`` picks and
    orders masks (default: all). Other arguments (``size``, ``mode``,
    ``flip``, ``packed`` included) as in :func:`decode`.
    Returns (len(indices), h, w) uint8, or the transformed shape.
    """
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8)
    offs = np.ascontiguousarray(offsets, dtype=np.int64)
    if offs.ndim != 1:
        raise ValueError("offsets must be one-dimensional")
    h, w = operator.index(h), operator.index(w)
    check_size(h, w)
    src = _core.sources_ragged(np.ascontiguousarray(buf), offs, h, w, indices)
    if _plain(size, mode, flip, packed, bitorder, out, (src.n, h, w)):
        return decode_sources(src, (src.n, h, w), h, w, out, threads, zeroed)
    return transforms.decode_transformed(src, False, h, w, out, size, mode, flip, packed, bitorder,
                                         threads, zeroed)


def _mask_array(masks: Any) -> np.ndarray:
    arr = np.asarray(masks)
    if mask_dtype_rule(arr.dtype) == "nonzero":
        return arr != 0
    return arr.view(np.uint8) if arr.dtype == np.int8 else arr


def encode_counts(arr3: np.ndarray, *, nonzero: bool, as_str: bool, threads: Optional[int]) -> List[Any]:
    """Counts strings of an (N, H, W) uint8/bool array in any memory order."""
    a = arr3.view(np.uint8) if arr3.dtype == np.bool_ else arr3
    n, h, w = a.shape
    nthreads = resolve_threads(threads, n * h * w)
    if h and w and (a.strides[2] == 1 or w == 1):
        return _core.encode_batch(a, False, nonzero, nthreads, as_str)
    if h and w and (a.strides[1] == 1 or h == 1) and (a.strides[2] == h or w == 1):
        return _core.encode_batch(a.transpose(0, 2, 1), True, nonzero, nthreads, as_str)
    return _core.encode_batch(np.ascontiguousarray(a), False, nonzero, nthreads, as_str)


def encode(masks: Any, *, threads: Optional[int] = None) -> Union[RLE, List[RLE]]:
    """Encode binary masks as COCO RLE with ``counts`` as str (JSON-ready).

    Args:
        masks: (H, W) or (N, H, W) array, bool or uint8 (any nonzero value is
            foreground), in any memory order: C, Fortran or strided views.
        threads: worker threads; None picks by size.

    Returns:
        A dict for (H, W) input, else a list of N dicts. The strings are
        byte-identical to pycocotools' for 0/1 masks.
    """
    arr = _mask_array(masks)
    one = masks_ndim(arr.shape)
    if one:
        arr = arr[None]
    n, h, w = arr.shape
    check_size(h, w)
    counts = encode_counts(arr, nonzero=True, as_str=True, threads=threads)
    rles: List[RLE] = [{"size": [h, w], "counts": c} for c in counts]
    return rles[0] if one else rles


def _runs(rles: Any, strict: bool = True):
    single = isinstance(rles, Mapping)
    lst = [rles] if single else as_list(rles)
    return single, _core.parse(_core.sources(lst, same_size=False), strict)


def area(rles: Any) -> Union[int, np.ndarray]:
    """Foreground pixel count: an int for a dict, an int64 (N,) array for a list."""
    single, runs = _runs(rles)
    a = _core.area(runs).astype(np.int64)
    return int(a[0]) if single else a


def bbox(rles: Any) -> np.ndarray:
    """Tight boxes [x, y, w, h] as float64: (4,) for a dict, (N, 4) for a
    list. An empty mask gives all zeros."""
    single, runs = _runs(rles)
    b = _core.bbox(runs, False)
    return b[0] if single else b


def empty(h: int, w: int) -> RLE:
    """An all-background RLE of size h x w (counts as str)."""
    h, w = operator.index(h), operator.index(w)
    check_size(h, w)
    return {"size": [h, w], "counts": _core.to_string(np.array([h * w], np.uint32), True)}
