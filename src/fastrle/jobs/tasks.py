"""The work of one task: index or validate one source.

These functions run on Dask workers. They never raise for bad data: every
problem becomes a :class:`~fastrle.jobs.sources.Problem` in the returned
:class:`SourceResult`. They are deterministic and idempotent (the same source
always gives the same bytes), and a part is written under a temporary name
and renamed when complete, so a task that Dask reruns after its worker died
produces exactly what a clean run does.
"""
from __future__ import annotations

import os
import time
from collections import defaultdict
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from .. import annotations as an
from .. import fileio
from .._args import size_ok
from ..errors import RLEError
from ..optional import require
from .sources import Block, Problem, part_name, read_source

__all__ = ["SourceResult", "index_source", "validate_source", "index_schema", "report_schema",
           "ERRORS_DIR", "PIXEL_BUDGET", "masks_equal", "check_fields"]

ERRORS_DIR = "_errors"  # per-source problem tables; the "_" keeps it out of the dataset
_BBOX_TOL = 1e-6
# Bytes of decoded output per batch and library: bounds memory on huge files.
# Small on purpose: fresh outputs of hundreds of MB cost more in page faults
# than the decode itself (pycocotools at 1500x2250: 4.1 ms/mask in batches of
# 4 masks, 9.4 ms/mask in batches of 9, more in larger ones).
PIXEL_BUDGET = 16 * 1024 * 1024


@dataclass
class SourceResult:
    """What one task did with one source.

    ``status``: ``"written"`` (part written), ``"skipped"`` (an index part
    already existed), ``"checked"`` (validated), ``"unreadable"`` (could not
    be opened; no part, so a rerun tries again), ``"failed"`` (the task
    itself failed, e.g. an unexpected error or a worker that died on it on
    every try; no part).
    """

    source: str
    status: str
    images: int = 0
    masks: int = 0
    polygons: int = 0
    problems: List[Problem] = field(default_factory=list)
    seconds: float = 0.0


# --- schemas --------------------------------------------------------------------


def index_schema(features: bool = False) -> Any:
    """The pyarrow schema of an index part (``features`` adds the centroids)."""
    import pyarrow as pa

    f64 = pa.float64()
    cols = [("source", pa.string()), ("image_id", pa.int64()), ("file_name", pa.string()),
            ("ann_id", pa.int64()), ("height", pa.int64()), ("width", pa.int64()),
            ("area", f64), ("bbox_x", f64), ("bbox_y", f64), ("bbox_w", f64), ("bbox_h", f64),
            ("predicted_iou", f64), ("stability_score", f64),
            ("point_coords", pa.list_(pa.list_(f64))), ("counts", pa.string())]
    if features:
        cols += [("centroid_x", f64), ("centroid_y", f64)]
    return pa.schema(cols)


def report_schema() -> Any:
    """The pyarrow schema of a problem report: ``source, image_id, index, reason``."""
    import pyarrow as pa

    return pa.schema([("source", pa.string()), ("image_id", pa.int64()), ("index", pa.int64()),
                      ("reason", pa.string())])


def problems_table(source: str, problems: List[Problem]) -> Any:
    """Problems as a report table; ``reason`` starts with the problem's kind."""
    import pyarrow as pa

    return pa.table({"source": [source] * len(problems),
                     "image_id": [p.image_id for p in problems],
                     "index": [p.index for p in problems],
                     "reason": [f"{p.kind}: {p.reason}" for p in problems]}, schema=report_schema())


def _problems_from_table(t: Any) -> List[Problem]:
    out = []
    for iid, idx, reason in zip(t.column("image_id").to_pylist(), t.column("index").to_pylist(),
                                t.column("reason").to_pylist()):
        kind, _, why = reason.partition(": ")
        out.append(Problem(kind, iid, idx, why))
    return out


# --- field checks -----------------------------------------------------------------


_show = an.show
_is_int = an.is_int


def _points(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and an.is_number(p[0]) and an.is_number(p[1]) for p in v)


def _size(seg: Any) -> Optional[Tuple[int, int]]:
    sz = seg.get("size")
    if isinstance(sz, (list, tuple)) and len(sz) == 2 and _is_int(sz[0]) and _is_int(sz[1]) \
            and size_ok(int(sz[0]), int(sz[1])):
        return int(sz[0]), int(sz[1])
    return None


def _rle_reason(e: Exception) -> str:
    """The problem text of a decoding error: an RLEError's ``detail`` (its
    message without the mask prefix; ``.reason`` names the kind), else str(e)."""
    return e.detail if isinstance(e, RLEError) else str(e)


def _good_subset(n: int, fn: Callable[[List[int]], Any]) -> Tuple[List[int], Any, List[Tuple[int, str]]]:
    """Run ``fn`` on the indices 0..n-1, dropping each one it rejects.

    ``fn`` raises ``RLEError`` whose ``.index`` is the position in the list it
    was given. Returns (kept indices, fn's result on them, [(index, reason)]).
    """
    keep = list(range(n))
    bad: List[Tuple[int, str]] = []
    while True:
        try:
            return keep, fn(keep), bad
        except RLEError as e:
            k = e.index
            if k is None or not 0 <= k < len(keep):
                raise
            bad.append((keep[k], _rle_reason(e)))
            keep = keep[:k] + keep[k + 1:]


def _count_images(block: Block) -> int:
    if block.image is not None:
        return 1
    return len({a.get("image_id") for a in block.anns if isinstance(a, dict)})


def _fr_reason(fm: Any, seg: Dict[str, Any], hw: Tuple[int, int]) -> str:
    try:
        fm.frPyObjects(seg, hw[0], hw[1])
    except Exception as e:
        return _rle_reason(e)
    return "pycocotools rejects it"


def _rle_fields(seg: Any) -> Tuple[Optional[Tuple[int, int]], Optional[str]]:
    """((h, w), None) of an RLE object with a valid size and counts of a known
    type, else (size or None, the problem)."""
    if not isinstance(seg, dict):
        return None, ("missing field 'segmentation'" if seg is None else
                      f"segmentation must be an RLE object or polygons, got {_show(seg)}")
    hw = _size(seg)
    if hw is None:
        return None, ("segmentation.size must be [h, w] non-negative integers with h*w <= 2^32-1, "
                      f"got {_show(seg.get('size'))}")
    if an.segmentation_kind(seg) is None:
        return hw, f"segmentation.counts must be a string or a list of ints, got {_show(seg.get('counts'))}"
    return hw, None


def _label(rec: an.Record) -> Tuple[Optional[int], int]:
    """(image id or None, annotation index): where a problem is reported."""
    return (int(rec.image_id) if _is_int(rec.image_id) else None), rec.index


# --- index --------------------------------------------------------------------------


def _mask_counts(rec: an.Record) -> Tuple[Optional[str], Optional[Tuple[int, int]], Optional[str]]:
    """(compressed counts, (h, w), problem) of one annotation; polygons and
    uncompressed RLEs are converted as pycocotools' annToRLE does."""
    seg = rec.segmentation
    if an.segmentation_kind(seg) == "polygon":  # polygons: need the image size
        if rec.height is None or rec.width is None:
            return None, None, None  # a polygon of an unknown image: counts stay null
        phw = (rec.height, rec.width)
        try:
            return an.to_rle(seg, *phw)["counts"].decode("ascii"), phw, None
        except (ValueError, TypeError) as e:
            return None, phw, f"polygon: {e}"
    hw, why = _rle_fields(seg)
    if why:
        return None, hw, why
    c = seg["counts"]
    if isinstance(c, str):
        return c, hw, None
    if isinstance(c, bytes):
        return c.decode("ascii", "replace"), hw, None
    try:
        return an.to_rle(seg)["counts"].decode("ascii"), hw, None
    except (ValueError, TypeError) as e:
        return None, hw, f"uncompressed RLE: {_rle_reason(e)}"


def _records(blocks: Any, res: SourceResult, problems: List[Problem]) -> Iterator[an.Record]:
    """Every annotation that is an object, as a record; counts the blocks'
    images into ``res`` and reports the others."""
    for block in blocks:
        res.images += _count_images(block)
        for rec in an.records(block):
            if isinstance(rec.ann, dict):
                yield rec
            else:
                problems.append(Problem("malformed", _label(rec)[0], rec.index,
                                        f"annotation must be an object, got {_show(rec.ann)}"))


def _index_rows(source: str, blocks: Any, features: bool, problems: List[Problem],
                res: SourceResult) -> Dict[str, list]:
    cols: Dict[str, list] = {n: [] for n in index_schema(features).names}
    where: List[int] = []  # each row's annotation index, for problems found later
    for rec in _records(blocks, res, problems):
        i, ann, img = rec.index, rec.ann, rec.image
        if not _is_int(rec.image_id):
            problems.append(Problem("malformed", None, i,
                                    f"field 'image_id' must be an integer, got {_show(rec.image_id)}"))
        pid = _label(rec)[0]

        def bad(what: str, pid: Optional[int] = pid, i: int = i) -> None:
            problems.append(Problem("malformed", pid, i, what))

        counts, hw, why = _mask_counts(rec)
        if why:
            bad(why)
        fn = img.get("file_name") if img else None
        cols["source"].append(source)
        cols["image_id"].append(pid)
        cols["file_name"].append(fn if isinstance(fn, str) else None)
        v = ann.get("id")
        if v is not None and not _is_int(v):
            bad(f"field 'id' must be an integer, got {_show(v)}")
            v = None
        cols["ann_id"].append(v)
        cols["height"].append(hw[0] if hw else None)
        cols["width"].append(hw[1] if hw else None)
        for key in ("area", "predicted_iou", "stability_score"):
            v = ann.get(key)
            if v is not None and not an.is_number(v):
                bad(f"field {key!r} must be a number, got {_show(v)}")
                v = None
            cols[key].append(v)
        b = rec.bbox
        if b is not None and not an.is_box(b):
            bad(f"field 'bbox' must be [x, y, w, h] finite numbers, got {_show(b)}")
            b = None
        for k, col in enumerate(("bbox_x", "bbox_y", "bbox_w", "bbox_h")):
            cols[col].append(b[k] if b is not None else None)
        p = ann.get("point_coords")
        if p is not None and not _points(p):
            bad(f"field 'point_coords' must be a list of [x, y] numbers, got {_show(p)}")
            p = None
        cols["point_coords"].append(p)
        cols["counts"].append(counts)
        where.append(i)
        res.masks += 1
    if features:
        _centroids(cols, where, problems)
    return cols


def _centroids(cols: Dict[str, list], where: List[int], problems: List[Problem]) -> None:
    """Fill centroid_x/centroid_y from the runs, grouped by mask size."""
    from .. import features

    n = len(cols["counts"])
    cx: List[Optional[float]] = [None] * n
    cy: List[Optional[float]] = [None] * n
    groups: Dict[Tuple[int, int], List[int]] = defaultdict(list)
    for r in range(n):
        if cols["counts"][r] is not None:
            groups[(cols["height"][r], cols["width"][r])].append(r)
    for (h, w), rows in groups.items():
        rles = [{"size": [h, w], "counts": cols["counts"][r]} for r in rows]

        def centroids_of(ks: List[int], rles: List[dict] = rles) -> Any:  # this group's rles, bound now
            return features.centroids([rles[k] for k in ks])

        keep, c, bad = _good_subset(len(rows), centroids_of)
        for k, (x, y) in zip(keep, c.tolist()):
            cx[rows[k]], cy[rows[k]] = x, y
        for k, why in bad:
            r = rows[k]
            problems.append(Problem("malformed", cols["image_id"][r], where[r], f"invalid RLE: {why}"))
    cols["centroid_x"], cols["centroid_y"] = cx, cy


def _write_parquet(table: Any, path: str) -> None:
    """Write a Parquet file atomically (see :func:`fastrle.fileio.atomic_write`)."""
    import pyarrow.parquet as pq

    fileio.atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))


def _guarded(fn: Callable[..., SourceResult]) -> Callable[..., SourceResult]:
    """Turn an unexpected error in a task into a ``"failed"`` result: one
    source's trouble never fails the job."""
    import functools

    @functools.wraps(fn)
    def run(source: str, *args: Any, **kwargs: Any) -> SourceResult:
        t0 = time.perf_counter()
        try:
            return fn(source, *args, **kwargs)
        except Exception as e:
            return SourceResult(source, "failed", problems=[Problem(
                "source", None, None, f"task failed: {type(e).__name__}: {e}")],
                seconds=time.perf_counter() - t0)
    return run


@_guarded
def index_source(source: str, out: str, features: bool = False, overwrite: bool = False) -> SourceResult:
    """Index one source into ``out/<part>`` (and ``out/_errors/<part>`` when it
    has problems). Skips a source whose part exists with the same columns,
    unless ``overwrite``. Never raises for bad data."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    t0 = time.perf_counter()
    part = os.path.join(out, part_name(source))
    errs = os.path.join(out, ERRORS_DIR, part_name(source))
    schema = index_schema(features)
    if not overwrite and os.path.exists(part):
        try:
            meta = pq.read_metadata(part)
            if meta.schema.to_arrow_schema().remove_metadata().equals(schema):
                res = SourceResult(source, "skipped", masks=meta.num_rows)
                if os.path.exists(errs):
                    res.problems = _problems_from_table(pq.read_table(errs))
                res.seconds = time.perf_counter() - t0
                return res
        except (OSError, pa.ArrowInvalid):
            pass  # unreadable or other columns: redo it
    res = SourceResult(source, "written")
    problems: List[Problem] = []
    try:
        cols = _index_rows(source, read_source(source, problems), features, problems, res)
    except OSError as e:
        res.status = "unreadable"
        res.problems = [Problem("source", None, None, f"unreadable: {e.strerror or e}")]
        res.seconds = time.perf_counter() - t0
        return res
    os.makedirs(os.path.join(out, ERRORS_DIR), exist_ok=True)
    # problems first: the part's rename is what marks the source done
    if problems:
        _write_parquet(problems_table(source, problems), errs)
    elif os.path.exists(errs):
        os.remove(errs)
    _write_parquet(pa.table(cols, schema=schema), part)
    res.problems = problems
    res.seconds = time.perf_counter() - t0
    return res


# --- validate ---------------------------------------------------------------------


class _Sink:
    """Collects what the decode comparison finds, as Problems."""

    def __init__(self, problems: List[Problem]) -> None:
        self.problems = problems
        self.rejected_by_both = 0

    def problem(self, label: Tuple[Optional[int], int], reason: str) -> None:
        self.problems.append(Problem("mismatch", label[0], label[1], reason))


def masks_equal(a: np.ndarray, b: np.ndarray) -> bool:
    """``np.array_equal`` for the decoders' uint8 outputs, 8 bytes at a time
    when both share a contiguous layout (15x faster on SA-1B-size masks)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if not ((a.flags.f_contiguous and b.flags.f_contiguous)
            or (a.flags.c_contiguous and b.flags.c_contiguous)):
        return bool(np.array_equal(a, b))
    x = a.ravel(order="K").view(np.uint8)  # views: no copy for contiguous arrays
    y = b.ravel(order="K").view(np.uint8)
    n = x.size - x.size % 8
    return bool(np.array_equal(x[:n].view(np.uint64), y[:n].view(np.uint64))
                and np.array_equal(x[n:], y[n:]))


def _decode_pair(fm: ModuleType, pm: ModuleType, f_rles: List[dict], p_rles: List[dict],
                 labels: List[Any], sink: _Sink) -> None:
    """Decode a same-size batch with both; on any error, retry mask by mask."""
    try:
        a, b = fm.decode(f_rles), pm.decode(p_rles)
        if masks_equal(a, b):
            return
    except Exception:
        pass
    if len(f_rles) == 1:
        try:
            a = fm.decode(f_rles)
        except Exception as e:
            a = e
        try:
            b = pm.decode(p_rles)
        except Exception as e:
            b = e
        if isinstance(a, Exception) and isinstance(b, Exception):
            sink.rejected_by_both += 1
        elif isinstance(a, Exception):
            sink.problem(labels[0], f"fastrle raised {type(a).__name__}: {a}; "
                         "pycocotools decoded it (it does not reject every invalid RLE)")
        elif isinstance(b, Exception):
            sink.problem(labels[0], f"pycocotools raised {type(b).__name__}: {b}; fastrle decoded it")
        elif not masks_equal(a, b):
            n = int(np.count_nonzero(a != b)) if a.shape == b.shape else -1
            sink.problem(labels[0], "decoded masks differ "
                         + (f"in {n} pixels" if n >= 0 else f"in shape {a.shape} vs {b.shape}"))
        return
    for i in range(len(f_rles)):
        _decode_pair(fm, pm, f_rles[i:i + 1], p_rles[i:i + 1], labels[i:i + 1], sink)


def _to_compressed(fm: ModuleType, pm: ModuleType, label: Any, seg: dict,
                   sink: _Sink) -> Optional[Tuple[dict, dict]]:
    """Run frPyObjects on an uncompressed RLE with both; compare the results."""
    h, w = seg["size"]
    out: List[Any] = []
    for lib in (fm, pm):
        try:
            out.append(lib.frPyObjects(seg, h, w))
        except Exception as e:
            out.append(e)
    a, b = out
    if isinstance(a, Exception) or isinstance(b, Exception):
        if isinstance(a, Exception) and isinstance(b, Exception):
            sink.rejected_by_both += 1
        else:
            who, err = ("fastrle", a) if isinstance(a, Exception) else ("pycocotools", b)
            sink.problem(label, f"frPyObjects: only {who} raised {type(err).__name__}: {err}")
        return None
    if a["counts"] != b["counts"] or list(a["size"]) != list(b["size"]):
        sink.problem(label, "frPyObjects gives different compressed counts")
    return a, b


def check_fields(layout: str, ann: Dict[str, Any], area: int, tobbox: np.ndarray) -> List[Tuple[str, str]]:
    """The ``area``/``bbox`` check of one RLE annotation: ``(kind, reason)``
    for each problem. ``area`` and ``tobbox`` are the mask's pixel count and
    pycocotools ``toBbox``; the file's fields are compared with them under
    ``layout``'s convention (:func:`fastrle.annotations.expected_boxes`):
    area exactly, bbox within 1e-6. Absent fields are not checked, nor are
    a COCO dataset's crowd regions (``iscrowd``), whose area and box come
    from the annotation tool, not from the mask (real COCO files differ)."""
    out: List[Tuple[str, str]] = []
    if layout == an.COCO and ann.get("iscrowd"):
        return out
    a = ann.get("area")
    if a is not None:
        if not an.is_number(a):
            out.append(("malformed", f"field 'area' must be a number, got {_show(a)}"))
        elif float(a) != float(area):
            out.append(("mismatch", f"area: the file says {a}, the mask has {area} pixels"))
    b = ann.get("bbox")
    if b is not None:
        if not an.is_box(b):
            out.append(("malformed", f"field 'bbox' must be [x, y, w, h] finite numbers, got {_show(b)}"))
        else:
            want = an.expected_boxes(layout, tobbox)[0]
            if np.abs(np.asarray(b, np.float64) - want).max() > _BBOX_TOL:
                conv = "SA-1B's [x0, y0, x1 - x0, y1 - y0]" if layout == an.SA1B else "toBbox"
                out.append(("mismatch", f"bbox: the file says {list(b)}, the mask gives "
                                        f"{want.tolist()} ({conv})"))
    return out


def _flush(group: list, fm: Any, pm: Any, sink: _Sink) -> None:
    """Check one batch of same-size masks: fastrle validity, area/bbox, decode."""
    from .. import api

    if not group:
        return
    f_rles = [g[1] for g in group]
    keep, (areas, boxes), bad = _good_subset(
        len(group), lambda ks: (api.area([f_rles[k] for k in ks]), api.bbox([f_rles[k] for k in ks])))
    for k, why in bad:  # never handed to pycocotools: its behaviour there is undefined
        label = group[k][0]
        sink.problems.append(Problem("malformed", label[0], label[1], f"invalid RLE: {why}"))
    for j, k in enumerate(keep):
        rec = group[k][3]
        for kind, why in check_fields(rec.layout, rec.ann, int(areas[j]), boxes[j]):
            sink.problems.append(Problem(kind, group[k][0][0], group[k][0][1], why))
    _decode_pair(fm, pm, [group[k][1] for k in keep], [group[k][2] for k in keep],
                 [group[k][0] for k in keep], sink)


@_guarded
def validate_source(source: str, fm: Optional[ModuleType] = None,
                    pm: Optional[ModuleType] = None) -> SourceResult:
    """Validate every RLE mask of one source against pycocotools and its own
    ``area``/``bbox`` (see :func:`check_fields`). Never raises for bad data.

    ``fm``/``pm`` replace fastrle.mask and pycocotools.mask (tests).
    Polygons are counted and skipped. An RLE that fastrle rejects is a
    malformed entry and is never handed to pycocotools.
    """
    from .. import mask

    if pm is None:
        pm = require("pycocotools.mask", "fastrle validate")
    return _validate(source, fm or mask, pm)


def _validate(source: str, fm: ModuleType, pm: ModuleType) -> SourceResult:
    t0 = time.perf_counter()
    res = SourceResult(source, "checked")
    problems: List[Problem] = []
    sink = _Sink(problems)
    groups: Dict[Tuple[int, int], list] = defaultdict(list)
    try:
        for rec in _records(read_source(source, problems), res, problems):
            label = _label(rec)
            seg = rec.segmentation
            if an.segmentation_kind(seg) == "polygon":
                res.polygons += 1
                continue
            hw, why = _rle_fields(seg)
            if why or hw is None:
                problems.append(Problem("malformed", label[0], rec.index, why or "no size"))
                continue
            res.masks += 1
            if an.segmentation_kind(seg) == "uncompressed":
                before = sink.rejected_by_both
                pair = _to_compressed(fm, pm, label, seg, sink)
                if pair is None:
                    if sink.rejected_by_both > before:  # both reject it: malformed
                        sink.rejected_by_both = before
                        problems.append(Problem("malformed", label[0], rec.index,
                                                f"invalid uncompressed RLE: {_fr_reason(fm, seg, hw)}"))
                    continue
                f_rle, p_rle = pair
            else:
                f_rle = p_rle = {"size": list(hw), "counts": seg["counts"]}
            g = groups[hw]
            g.append((label, f_rle, p_rle, rec))
            if len(g) >= max(1, PIXEL_BUDGET // max(1, hw[0] * hw[1])):
                _flush(g, fm, pm, sink)
                groups[hw] = []
        for g in groups.values():
            _flush(g, fm, pm, sink)
    except OSError as e:
        res.status = "unreadable"
        problems[:] = [Problem("source", None, None, f"unreadable: {e.strerror or e}")]
    if sink.rejected_by_both:  # only via _decode_pair, after fastrle accepted: never expected
        problems.append(Problem("malformed", None, None,
                                f"{sink.rejected_by_both} RLEs rejected by both decoders"))
    res.problems = problems
    res.seconds = time.perf_counter() - t0
    return res
