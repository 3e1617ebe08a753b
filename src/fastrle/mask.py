"""Drop-in replacement for ``pycocotools.mask``.

Same functions, signatures, dtypes, shapes, memory order and ``counts`` bytes
as pycocotools 2.0.11, quirks included: F-order (H, W, N) output, bytes
counts, ``iou`` -1 on a size mismatch, crowd IoU, bbox prefiltering. Change
``from pycocotools import mask`` to ``from fastrle import mask``.

Where pycocotools returns uninitialised memory, reads out of bounds or hangs,
this module raises ``ValueError`` instead (see the README's list of
deliberate differences). Errors that pycocotools raises as a bare
``Exception`` are raised here as ``TypeError``/``ValueError`` with the same
message, so ``except Exception`` code keeps working. A dict without
``counts`` or ``size`` raises :class:`fastrle.RLEKeyError`, both a KeyError
(as in pycocotools) and a ValueError.

Every function first tries its fast path in ``fastrle._mask``, which handles
plain input (dicts with a two-int ``size`` and str/bytes ``counts``, polygons
as lists of numbers, float64 box arrays) in C with no numpy temporaries. On
anything else, or on invalid input, the fast path declines and the general
path below runs: it accepts the same inputs and raises the errors.
"""
from __future__ import annotations

import operator
from typing import Any, Dict, List, Union

import numpy as np

from . import _core
from ._mask import area as _fast_area, decode as _fast_decode, encode as _fast_encode, \
    fr_bbox as _fast_fr_bbox, fr_polys as _fast_fr_polys, fr_uncompressed as _fast_fr_uncompressed, \
    iou as _fast_iou, merge as _fast_merge, toBbox as _fast_toBbox
from ._args import MAX_POLY_COORD, check_size, resolve_threads
from .api import decode_sources

__all__ = ["encode", "decode", "area", "toBbox", "iou", "merge", "frPyObjects"]

RLE = Dict[str, Any]


def _sources(rleObjs: Any, same_size: bool) -> Any:
    return _core.sources(rleObjs, same_size=same_size)


def _runs(rleObjs: Any, strict: bool) -> Any:
    """Parse like pycocotools' _frString. Non-strict keeps its uint32
    wrap-around arithmetic for functions where that is well defined."""
    return _core.parse(_sources(rleObjs, False), strict)


def _encode3(bimask: Any) -> List[RLE]:
    if not isinstance(bimask, np.ndarray):
        raise TypeError(f"Argument 'mask' has incorrect type (expected numpy.ndarray, got {type(bimask).__name__})")
    # the layout first, as pycocotools reports it: C-order float masks are a
    # common mistake and its message names the layout
    if not bimask.flags.f_contiguous:
        raise ValueError("ndarray is not Fortran contiguous")
    if bimask.dtype not in (np.uint8, np.bool_):
        raise ValueError(f"Buffer dtype mismatch, expected 'uint8_t' but got '{bimask.dtype}'")
    if bimask.ndim != 3:
        raise ValueError(f"Buffer has wrong number of dimensions (expected 3, got {bimask.ndim})")
    h, w, n = bimask.shape
    check_size(h, w)
    a = bimask.view(np.uint8).transpose(2, 1, 0)  # (n, w, h) C-contiguous: column-major masks
    counts = _core.encode_batch(a, True, False, resolve_threads(None, h * w * n), False)
    return [{"size": [h, w], "counts": c} for c in counts]


def encode(bimask: np.ndarray) -> Union[RLE, List[RLE], None]:
    """Encode a Fortran-ordered uint8 mask (H, W) or masks (H, W, N).

    Returns a dict (2-D input) or a list of dicts with ``counts`` as bytes.
    Like pycocotools: C-ordered 3-D input raises ``ValueError: ndarray is not
    Fortran contiguous``; a run boundary is any change of byte value.
    """
    fast = _fast_encode(bimask)
    if fast is not None:
        return fast
    if len(bimask.shape) == 3:
        return _encode3(bimask)
    elif len(bimask.shape) == 2:
        h, w = bimask.shape
        return _encode3(bimask.reshape((h, w, 1), order="F"))[0]
    return None  # pycocotools falls through here too


def _decode_list(rleObjs: List[Any]) -> Any:
    if len(rleObjs) == 0:
        return []  # pycocotools reads uninitialised sizes here; REFERENCE.md documents []
    src = _sources(rleObjs, True)
    h, w = int(src.heights[0]), int(src.widths[0])
    try:
        return decode_sources(src, (h, w, src.n), h, w, None, None, False, order="F")
    except _core.RLEError as e:
        raise e.with_context("Invalid RLE mask representation: ") from None


def decode(rleObjs: Union[RLE, List[RLE]]) -> np.ndarray:
    """Decode RLE(s) into uint8 masks in Fortran order.

    A list gives (H, W, N); a single dict gives (H, W). All masks must share
    the first one's size (pycocotools returns garbage otherwise; this raises
    ``ValueError``). Malformed counts raise ``ValueError`` naming the mask.
    """
    fast = _fast_decode(rleObjs)
    if fast is not None:
        return fast
    if type(rleObjs) is list:
        return _decode_list(rleObjs)
    return _decode_list([rleObjs])[:, :, 0]


def area(rleObjs: Union[RLE, List[RLE]]) -> Union[np.uint32, np.ndarray]:
    """Foreground pixel counts: uint32 array for a list, np.uint32 for a dict."""
    fast = _fast_area(rleObjs)
    if fast is not None:
        return fast
    if type(rleObjs) is list:
        return _core.area(_runs(rleObjs, False)).astype(np.uint32)
    # anything but exactly a list is one object, as in pycocotools
    return _core.area(_runs([rleObjs], False)).astype(np.uint32)[0]


def toBbox(rleObjs: Union[RLE, List[RLE]]) -> np.ndarray:
    """Boxes [x, y, w, h] float64: (N, 4) for a list, (4,) for a dict."""
    fast = _fast_toBbox(rleObjs)
    if fast is not None:
        return fast
    if type(rleObjs) is list:
        return _core.bbox(_runs(rleObjs, False), True)
    return _core.bbox(_runs([rleObjs], False), True)[0]


def merge(rleObjs: List[RLE], intersect: Any = 0) -> RLE:
    """Union (or intersection with ``intersect``) of RLEs as one dict.

    Like pycocotools, masks of different sizes give
    ``{'size': [0, 0], 'counts': b''}``. Many masks are merged through a
    bitmap, which gives pycocotools' runs without its pairwise passes.
    """
    fast = _fast_merge(rleObjs, intersect)
    if fast is not None:
        return fast
    src = _sources(rleObjs, False)
    n = src.n
    if n == 0:
        return {"size": [0, 0], "counts": b""}
    hs, ws = src.heights, src.widths
    if n > 1 and (np.any(hs != hs[0]) or np.any(ws != ws[0])):
        return {"size": [0, 0], "counts": b""}
    # with n > 1 the run walk needs counts that agree on h*w (pycocotools spins)
    runs = _core.parse(src, n > 1)
    cnts = _core.merge(runs, bool(intersect))
    return {"size": [int(hs[0]), int(ws[0])], "counts": _core.to_string(cnts)}


def _iou_preproc(objs: Any) -> Any:
    if len(objs) == 0:
        return objs
    if type(objs) is np.ndarray:
        if len(objs.shape) == 1:
            objs = objs.reshape((objs[0], 1))
        if not len(objs.shape) == 2 or not objs.shape[1] == 4:
            raise ValueError("numpy ndarray input is only for *bounding boxes* and should have Nx4 dimension")
        return objs.astype(np.double)
    if type(objs) is list:
        isbox = np.all(np.array([(len(obj) == 4) and ((type(obj) is list) or (type(obj) is np.ndarray))
                                 for obj in objs]))
        isrle = np.all(np.array([type(obj) is dict for obj in objs]))
        if isbox:
            objs = np.array(objs, dtype=np.double)
            if len(objs.shape) == 1:
                objs = objs.reshape((1, objs.shape[0]))
            return objs
        if isrle:
            return _runs(objs, True)
        raise TypeError("list input can be bounding box (Nx4) or RLEs ([RLE])")
    raise TypeError("unrecognized type.  The following type: RLEs (rle), np.ndarray (box), and list (box) are supported.")  # noqa: E501 -- pycocotools' text, verbatim


def _iou_len(obj: Any) -> int:
    if isinstance(obj, _core.Runs):
        return obj.n
    if len(obj) == 0:
        return 0
    if type(obj) is np.ndarray:
        return obj.shape[0]
    return 0


def iou(dt: Any, gt: Any, pyiscrowd: Any) -> Union[np.ndarray, list]:
    """IoU of every dt against every gt: (len(dt), len(gt)) float64.

    Both are lists of RLE dicts, or both boxes ((N, 4) array or list of
    [x, y, w, h]). ``pyiscrowd[j]`` marks gt j as a crowd region: IoU is then
    |dt ∩ gt| / |dt|. -1 where sizes differ (after a bbox prefilter, as in
    pycocotools); ``[]`` if either side is empty. RLE intersections are run
    sweeps over the columns two masks share, on threads for large batches.
    """
    fast = _fast_iou(dt, gt, pyiscrowd)
    if fast is not None:
        return fast
    iscrowd = np.array(pyiscrowd, dtype=np.uint8)
    if iscrowd.ndim != 1:
        raise ValueError(f"Buffer has wrong number of dimensions (expected 1, got {iscrowd.ndim})")
    dt = _iou_preproc(dt)
    gt = _iou_preproc(gt)
    m = _iou_len(dt)
    n = _iou_len(gt)
    assert len(pyiscrowd) == n, "iou(iscrowd=) must have the same length as gt"
    if m == 0 or n == 0:
        return []
    if type(dt) is not type(gt):
        raise TypeError("The dt and gt should have the same data type, either RLEs, list or np.ndarray")
    iscrowd = np.ascontiguousarray(iscrowd)
    if isinstance(dt, _core.Runs):
        return _core.iou_rle(dt, gt, iscrowd)
    return _core.bbox_iou(np.ascontiguousarray(dt), np.ascontiguousarray(gt), iscrowd)


def _siz(v: Any) -> int:
    i = operator.index(v) if not isinstance(v, float) else int(v)
    if i < 0:
        raise OverflowError("can't convert negative value to siz")
    return i




def _poly_counts(xy: np.ndarray, h: int, w: int) -> np.ndarray:
    """Runs of one polygon; coordinates pycocotools would turn into undefined
    behaviour (NaN, inf, beyond a C int after 5x upsampling) raise instead."""
    if xy.size and not (np.isfinite(xy).all() and np.abs(xy).max() < MAX_POLY_COORD):
        raise ValueError(f"polygon coordinates must be finite and below {MAX_POLY_COORD:.0f} in magnitude")
    check_size(h, w)
    return _core.from_poly(xy, h, w)


def _frBbox(bb: Any, h: Any, w: Any) -> List[RLE]:
    if not isinstance(bb, np.ndarray):
        raise TypeError(f"Argument 'bb' has incorrect type (expected numpy.ndarray, got {type(bb).__name__})")
    if bb.dtype != np.double:
        raise ValueError(f"Buffer dtype mismatch, expected 'double_t' but got '{bb.dtype}'")
    if bb.ndim != 2:
        raise ValueError(f"Buffer has wrong number of dimensions (expected 2, got {bb.ndim})")
    fast = _fast_fr_bbox(bb, h, w)
    if fast is not None:
        return fast
    h, w = _siz(h), _siz(w)
    out = []
    for x, y, bw, bh in bb[:, :4] if bb.shape[1] >= 4 else np.zeros((0, 4)):
        xe, ye = x + bw, y + bh
        xy = np.array([x, y, x, ye, xe, ye, xe, y], np.double)
        out.append({"size": [h, w], "counts": _core.to_string(_poly_counts(xy, h, w))})
    return out


def _frPoly(poly: Any, h: Any, w: Any) -> List[RLE]:
    fast = _fast_fr_polys(poly, h, w)
    if fast is not None:
        return fast
    h, w = _siz(h), _siz(w)
    out = []
    for p in poly:
        xy = np.array(p, dtype=np.double, order="F")
        if xy.ndim != 1:
            raise ValueError(f"Buffer has wrong number of dimensions (expected 1, got {xy.ndim})")
        out.append({"size": [h, w], "counts": _core.to_string(_poly_counts(xy, h, w))})
    return out


def _frUncompressedRLE(ucRles: List[Any], h: Any, w: Any) -> List[RLE]:
    fast = _fast_fr_uncompressed(ucRles, h, w)
    if fast is not None:
        return fast
    _siz(h), _siz(w)
    out = []
    for r in ucRles:
        cnts = np.array(r["counts"], dtype=np.uint32)
        out.append({"size": [_siz(r["size"][0]), _siz(r["size"][1])],
                    "counts": _core.to_string(np.ascontiguousarray(cnts).reshape(-1))})
    return out


def frPyObjects(pyobj: Any, h: Any, w: Any) -> Union[RLE, List[RLE]]:
    """Convert boxes, polygons or uncompressed RLE to compressed RLE.

    Dispatch exactly as pycocotools: an (N, 4) float64 array gives boxes; a
    list of polygons gives one RLE per polygon (not merged); a dict or list
    of dicts with list counts gives compressed RLE.
    """
    objs: Union[RLE, List[RLE]]
    if type(pyobj) is np.ndarray:
        objs = _frBbox(pyobj, h, w)
    elif type(pyobj) is list and len(pyobj[0]) == 4:
        objs = _frBbox(pyobj, h, w)
    elif type(pyobj) is list and len(pyobj[0]) > 4:
        objs = _frPoly(pyobj, h, w)
    elif type(pyobj) is list and type(pyobj[0]) is dict \
            and "counts" in pyobj[0] and "size" in pyobj[0]:
        objs = _frUncompressedRLE(pyobj, h, w)
    elif type(pyobj) is list and len(pyobj) == 4:
        objs = _frBbox([pyobj], h, w)[0]
    elif type(pyobj) is list and len(pyobj) > 4:
        objs = _frPoly([pyobj], h, w)[0]
    elif type(pyobj) is dict and "counts" in pyobj and "size" in pyobj:
        objs = _frUncompressedRLE([pyobj], h, w)[0]
    else:
        raise TypeError("input type is not supported.")
    return objs
