"""Argument rules shared by every entry point: the one home of each check.

Sizes and their 2^32-1 limit, transform options (size, mode, flip, packed,
bitorder), caller ``out`` buffers, lists of RLEs, thread counts and the
thread thresholds. ``fastrle.decode`` (CPU) and ``fastrle.gpu.decode`` call
the same functions, so they accept and reject the same arguments with the
same exception and message; where the GPU lacks a capability it raises
``NotImplementedError`` from here, naming it.

A leaf module: it imports numpy only, so any module of the package (the
Cython glue included) may import it.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, List, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ["MAX_PIXELS", "THREAD_MIN_BYTES", "THREAD_MIN_CHARS", "MMAP_MIN_BYTES", "MAX_THREADS", "ALL_CPUS",
           "SPARE_ARENA_BYTES",
           "MAX_POLY_COORD", "MODES", "FLIPS", "BITORDERS", "MASK_DTYPES", "check_size", "dim_arg", "mask_size",
           "differing_size", "size_ok", "is_int", "int_arg", "positive_int", "FLOAT32_INF_FROM", "real_arg",
           "size_arg", "flip_arg", "mode_arg", "bitorder_arg",
           "Transform", "transform_args", "out_array", "check_out", "as_list", "is_table", "resolve_threads",
           "mask_dtype_rule", "masks_ndim"]

#: The most pixels a mask may have, and the longest side: counts are uint32.
MAX_PIXELS = 2**32 - 1
#: Below this many bytes of work one thread wins: starting threads costs more.
THREAD_MIN_BYTES = 8 << 20
#: Batches with at least this many count characters (about a millisecond of
#: parsing) are parsed on threads by ``fastrle.mask``; below it a second
#: thread saves less than waiting for a core can cost on a busy machine.
THREAD_MIN_CHARS = 1 << 20
#: ``fastrle.mask`` keeps one parse arena of at most this many bytes for the
#: next call: a fresh one of megabytes costs more in page faults than the
#: vector parse that fills it.
SPARE_ARENA_BYTES = 64 << 20
#: Fresh outputs of at least this many bytes come from zeroed anonymous pages.
MMAP_MIN_BYTES = 8 << 20
#: Polygon coordinates must stay below this in magnitude: the rasteriser's
#: (int)(5 * x + .5) must not overflow a C int.
MAX_POLY_COORD = (2**31 - 1) / 5 - 1
#: Thread counts are passed to C as int; the C thread runner caps them lower.
MAX_THREADS = 2**31 - 1
#: The thread count that asks the C thread runner for every CPU this process may use.
ALL_CPUS = 0

MODES = ("nearest", "nearest-exact", "area")
FLIPS = (None, "h", "v", "hv")
BITORDERS = ("big", "little")
#: dtypes a caller's ``out`` may have for 0/1 masks (packed bytes included).
MASK_DTYPES = (np.dtype(np.uint8), np.dtype(np.bool_))


def check_size(h: int, w: int) -> None:
    """ValueError unless an h x w mask fits uint32 counts: both sides >= 0
    and h*w <= :data:`MAX_PIXELS` (checked before any allocation, so a huge
    size is an error, not a MemoryError)."""
    if h < 0 or w < 0:
        raise ValueError(f"mask size {h}x{w} is negative")
    if h * w > MAX_PIXELS or h > MAX_PIXELS or w > MAX_PIXELS:
        raise ValueError(f"mask size {h}x{w} has more than 2^32-1 pixels, the most a uint32 run can hold")


def dim_arg(v: Any, i: int, name: str) -> int:
    """One side (``name``: height or width) of mask ``i``'s ``size``: an
    integer value (int, numpy int, or an integral float as pycocotools takes)
    in 0..:data:`MAX_PIXELS`; TypeError or ValueError naming the mask."""
    try:
        d = int(v)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        raise TypeError(f"mask {i}: size[{name}] must be an integer, got {v!r}") from None
    if d != v and not isinstance(v, (int, np.integer)):
        raise TypeError(f"mask {i}: size[{name}] must be an integer, got {v!r}")
    if d < 0:
        raise ValueError(f"mask {i}: size has a negative {name}: {d}")
    if d > MAX_PIXELS:
        raise ValueError(f"mask {i}: size {name} {d} exceeds 2^32-1")
    return d


def mask_size(size: Any, i: int) -> Tuple[int, int]:
    """(h, w) of mask ``i`` from its RLE ``size`` field, a pair of
    :func:`dim_arg` sides; ValueError or TypeError naming the mask."""
    try:
        if len(size) != 2:
            raise ValueError
        h, w = size
    except (TypeError, ValueError):
        raise ValueError(f"mask {i}: 'size' must be [height, width], got {size!r}") from None
    return dim_arg(h, i, "height"), dim_arg(w, i, "width")


def differing_size(i: int, h: int, w: int, h0: int, w0: int) -> ValueError:
    """The error for mask ``i`` of size h x w in a call whose masks must all
    have mask 0's size h0 x w0."""
    return ValueError(f"mask {i}: size {[h, w]} differs from mask 0's size {[h0, w0]}; "
                      f"all masks in one call must have the same size")


def size_ok(h: int, w: int) -> bool:
    """True when an h x w mask is within :func:`check_size`'s limits."""
    return 0 <= h <= MAX_PIXELS and 0 <= w <= MAX_PIXELS and h * w <= MAX_PIXELS


def is_int(v: Any) -> bool:
    """A Python or numpy integer, not a bool: what every int argument takes."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def int_arg(v: Any, what: str, lo: int = 0, desc: Optional[str] = None) -> int:
    """``v`` (see :func:`is_int`) as an int >= ``lo``: TypeError for another
    type, ValueError below ``lo``. Both messages say ``what`` must be
    ``desc`` (default: "an int >= lo") and show ``v``."""
    if desc is None:
        desc = f"an int >= {lo}"
    if not is_int(v):
        raise TypeError(f"{what} must be {desc}, got {v!r}")
    if v < lo:
        raise ValueError(f"{what} must be {desc}, got {v!r}")
    return int(v)


def positive_int(v: Any, what: str) -> int:
    """``v`` as an int in 1..:data:`MAX_PIXELS` (a Python or numpy int, not a
    bool); TypeError for other types, ValueError out of range."""
    if not is_int(v):
        raise TypeError(f"{what} must be an int, got {v!r}")
    if v < 1:
        raise ValueError(f"{what} must be positive, got {v}")
    if v > MAX_PIXELS:
        raise ValueError(f"{what} {v} exceeds 2^32-1")
    return int(v)


#: The smallest magnitude float32 rounds to infinity: halfway between its
#: largest finite value (2^128 - 2^104) and 2^128, where ties go to even (up).
FLOAT32_INF_FROM = 2.0**128 - 2.0**103


def real_arg(v: Any, what: str, *, finite: bool = True, float32: bool = False) -> float:
    """``v`` (an int, a float or a numpy scalar; not a bool or a string) as a
    float, checked before any arithmetic on it, so a bad value raises this
    error and no numpy RuntimeWarning. TypeError for other types. With
    ``finite``, ValueError for nan, +-inf and ints beyond float64; without it
    they pass (an int beyond float64 as +-inf, which it equals in any
    comparison with a float). With ``float32``, ValueError also for a value
    float32 rounds to infinity (torchvision computes in float32)."""
    if isinstance(v, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{what} must be a number, got {v!r}")
    try:
        x = float(v)
    except OverflowError:  # an int beyond float64
        x = math.inf if v > 0 else -math.inf
    except (TypeError, ValueError):
        raise TypeError(f"{what} must be a number, got {v!r}") from None
    if finite and not math.isfinite(x):
        raise ValueError(f"{what} must be finite, got {v!r}")
    if float32 and finite and abs(x) >= FLOAT32_INF_FROM:
        raise ValueError(f"{what} must be finite in float32, got {v!r}")
    return x


def size_arg(size: Any, what: str = "size") -> Tuple[int, int]:
    """(H2, W2) from a pair (tuple, list or array) of positive ints with at
    most 2^32-1 pixels; TypeError/ValueError otherwise."""
    if isinstance(size, (str, bytes)) or not isinstance(size, (tuple, list, np.ndarray)) or len(size) != 2:
        raise TypeError(f"{what} must be a pair of ints (height, width), got {size!r}")
    oh, ow = (positive_int(v, f"{what}[{k}]") for k, v in enumerate(size))
    if oh * ow > MAX_PIXELS:
        raise ValueError(f"{what} {oh}x{ow} has more than 2^32-1 pixels")
    return oh, ow


def flip_arg(flip: Any) -> Tuple[bool, bool]:
    """(flip columns, flip rows) from one of :data:`FLIPS`; ValueError otherwise."""
    if not (flip is None or isinstance(flip, str)) or flip not in FLIPS:
        raise ValueError(f"flip must be None, 'h', 'v' or 'hv', got {flip!r}")
    return flip is not None and "h" in flip, flip is not None and "v" in flip


def mode_arg(mode: Any, packed: bool) -> str:
    """``mode`` if it is one of :data:`MODES` and fits ``packed``
    (bit-packed output needs a 0/1 mode, not ``"area"``); ValueError otherwise."""
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if packed and mode == "area":
        raise ValueError("packed=True needs binary output: use mode 'nearest' or 'nearest-exact', not 'area'")
    return mode


def bitorder_arg(bitorder: Any) -> bool:
    """True for ``"little"``, False for ``"big"``; ValueError otherwise.
    Checked whether or not the output is packed, so a typo never passes."""
    if not isinstance(bitorder, str) or bitorder not in BITORDERS:
        raise ValueError(f"bitorder must be 'big' or 'little', got {bitorder!r}")
    return bitorder == "little"


class Transform(NamedTuple):
    """Validated transform options of a decode (see :func:`transform_args`)."""

    oh: int
    ow: int
    mode: str
    flip_h: bool
    flip_v: bool
    packed: bool
    little: bool

    @property
    def last(self) -> int:
        """Length of the output's last axis (bytes per row when packed)."""
        return (self.ow + 7) // 8 if self.packed else self.ow

    @property
    def dtype(self) -> np.dtype:
        """The output's dtype: float32 for ``"area"``, else uint8."""
        return np.dtype(np.float32) if self.mode == "area" else np.dtype(np.uint8)


def transform_args(h: int, w: int, n: int, size: Any, mode: Any, flip: Any, packed: Any,
                   bitorder: Any, *, area: Union[bool, str] = True) -> Transform:
    """Check the transform options of decoding ``n`` masks of h x w.

    The checks run in one order (mode and packed, flip, bitorder, the masks'
    size, ``size``, resizing empty masks, area upscaling), so every
    caller names the same first problem. ``area`` is True where
    ``mode="area"`` is supported; else the name of the caller that lacks it
    (``"fastrle.gpu.decode"``), which raises NotImplementedError for it after
    every other check passed.
    """
    packed = bool(packed)
    mode = mode_arg(mode, packed)
    flip_h, flip_v = flip_arg(flip)
    little = bitorder_arg(bitorder)
    check_size(h, w)
    oh, ow = (h, w) if size is None else size_arg(size)
    if size is not None and n and (h == 0 or w == 0):
        raise ValueError(f"cannot resize masks of size {h}x{w}: they have no pixels")
    if mode == "area" and n and (oh > h or ow > w):
        raise ValueError(f"mode='area' only downscales: size {oh}x{ow} is larger than the masks' {h}x{w} "
                         f"on some side; use mode='nearest' to upscale")
    if mode == "area" and area is not True:
        raise NotImplementedError(f"{area} does not support mode='area' yet; use fastrle.decode "
                                  f"(the CPU) for area resizing")
    return Transform(oh, ow, mode, flip_h, flip_v, packed, little)


def out_array(out: Any) -> np.ndarray:
    """A numpy view of a caller's CPU buffer (numpy array, torch CPU tensor
    or any writable buffer), never a copy; TypeError otherwise."""
    if isinstance(out, np.ndarray):
        return out
    mod = type(out).__module__ or ""
    if mod.startswith("torch"):
        if getattr(out, "device", None) is not None and out.device.type != "cpu":
            raise TypeError(f"out is a torch tensor on {out.device}; use fastrle.gpu.decode for device tensors")
        return out.detach().numpy()  # shares memory
    try:
        return np.asarray(memoryview(out))
    except TypeError:
        raise TypeError(f"out must be a numpy array, a torch CPU tensor or a writable buffer, "
                        f"got {type(out).__name__}") from None


def check_out(arr: Any, shape: Tuple[int, ...], dtypes: Sequence[Any] = MASK_DTYPES, *, what: str = "",
              strided: Union[bool, str] = True) -> Any:
    """Check a caller's output array (numpy, or a device array with
    ``shape``, ``dtype``, ``strides`` and ``flags``) and return it.

    In this order: dtype one of ``dtypes`` (TypeError), ``shape`` (ValueError),
    layout, writable (ValueError). Layout: the last axis contiguous, other
    strides free (a corner of a padded batch buffer). ``strided`` False asks
    for a C-contiguous array (ValueError); a str names a caller that does not
    take such views yet and raises NotImplementedError for them. ``what``
    ends the messages (e.g. ``" for roi_align"``).
    """
    dt = np.dtype(arr.dtype)
    if dt not in dtypes:  # a dtype equals its scalar type too (np.float32)
        names = " or ".join(str(np.dtype(d)) for d in dtypes)
        raise TypeError(f"out must have dtype {names}{what}, got {dt}")
    got = tuple(arr.shape)
    if got != tuple(shape):
        raise ValueError(f"out has shape {got}, expected {tuple(shape)}{what}")
    if not arr.flags.c_contiguous:
        if strided is False:
            raise ValueError(f"out must be C-contiguous{what}")
        if shape[-1] > 1 and arr.strides[-1] != dt.itemsize:
            raise ValueError("out must be C-contiguous along its last axis (a stride of one element there; "
                             "other strides are free)")
        if strided is not True:
            raise NotImplementedError(f"{strided} needs a C-contiguous out: views with other strides "
                                      f"(such as buf[:, :H, :W]) are not supported there yet")
    if not getattr(arr.flags, "writeable", True):
        raise ValueError("out is read-only")
    return arr


def mask_dtype_rule(dtype: Any) -> str:
    """How ``encode`` (CPU and GPU) reads masks of ``dtype``: ``"bytes"``
    (uint8, bool, and int8 as its bytes) or ``"nonzero"`` (other integers:
    any nonzero value is foreground); TypeError for anything else."""
    dt = np.dtype(dtype)
    if dt in MASK_DTYPES or dt == np.int8:
        return "bytes"
    if dt.kind in "iu":
        return "nonzero"
    raise TypeError(f"masks must be bool or integer (uint8), got {dt}; convert with mask > threshold first")


def masks_ndim(shape: Sequence[int], layout: str = "(N, H, W)") -> bool:
    """Whether masks of ``shape`` are one (H, W) mask (True) or a batch in
    ``layout`` (False); ValueError for any other number of dimensions."""
    if len(shape) == 2:
        return True
    if len(shape) != 3:
        raise ValueError(f"masks must be (H, W) or {layout}, got shape {tuple(shape)}")
    return False


def as_list(rles: Any, what: str = "rles") -> List[Any]:
    """A list of RLE dicts from a list, tuple, array or other sequence (not
    copied when it is a list); TypeError for a str, bytes, dict or non-sequence."""
    if isinstance(rles, list):
        return rles
    if isinstance(rles, (tuple, np.ndarray)) or hasattr(rles, "__len__") and hasattr(rles, "__getitem__"):
        if isinstance(rles, (str, bytes, Mapping)):
            raise TypeError(f"{what} must be an RLE dict or a list of RLE dicts, got {type(rles).__name__}")
        return list(rles)
    raise TypeError(f"{what} must be an RLE dict or a list of RLE dicts, got {type(rles).__name__}")


def is_table(rles: Any) -> bool:
    """An SA1BAnnotation-like ragged table (counts_data, counts_offsets, height, width)."""
    return hasattr(rles, "counts_data") and hasattr(rles, "counts_offsets")


def resolve_threads(threads: Optional[int], work_bytes: int) -> int:
    """The thread count for a call over ``work_bytes`` bytes: ``threads`` if
    given (a positive int, numpy ints included, not a bool; TypeError or
    ValueError otherwise; at most :data:`MAX_THREADS`, a C int), else every
    CPU (:data:`ALL_CPUS`: the C runner counts them) from
    :data:`THREAD_MIN_BYTES` on and 1 below it."""
    if threads is None:
        return ALL_CPUS if work_bytes >= THREAD_MIN_BYTES else 1
    if not is_int(threads):
        raise TypeError(f"threads must be a positive int or None, got {threads!r}")
    if threads < 1:
        raise ValueError(f"threads must be >= 1, got {threads}")
    return int(min(threads, MAX_THREADS))
