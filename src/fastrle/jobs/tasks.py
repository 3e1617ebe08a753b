"""The work of one task: index or validate one source.

These functions run on Dask workers. They never raise for bad data: every
problem becomes a :class:`~fastrle.jobs.sources.Problem` in the returned
:class:`SourceResult`. They are deterministic and idempotent (the same source
always gives the same bytes), and a part is written under a temporary name
and renamed when complete, so a task that Dask reruns after its worker died
produces exactly what a clean run does.
"""
from __future__ import annotations

import math
import os
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np

from ..errors import RLEError
from .sources import Block, Problem, part_name, read_source

__all__ = ["SourceResult", "index_source", "validate_source", "index_schema", "report_schema",
           "ERRORS_DIR"]

ERRORS_DIR = "_errors"  # per-source problem tables; the "_" keeps it out of the dataset
_BBOX_TOL = 1e-6


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


def _show(v: Any) -> str:
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def _is_int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def _bbox4(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and len(v) == 4 and all(_is_num(x) and math.isfinite(x) for x in v)


def _points(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and all(
        isinstance(p, (list, tuple)) and len(p) == 2 and _is_num(p[0]) and _is_num(p[1]) for p in v)


def _size(seg: Any) -> Optional[Tuple[int, int]]:
    sz = seg.get("size")
    if isinstance(sz, (list, tuple)) and len(sz) == 2 and _is_int(sz[0]) and _is_int(sz[1]) \
            and sz[0] >= 0 and sz[1] >= 0:
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


def _block_id(block: Block) -> Optional[int]:
    """The SA-1B image's id, for problems of annotations that name none."""
    iid = block.image.get("image_id") if block.image is not None else None
    return int(iid) if _is_int(iid) else None


def _fr_reason(fm: Any, seg: Dict[str, Any], hw: Tuple[int, int]) -> str:
    try:
        fm.frPyObjects(seg, hw[0], hw[1])
    except Exception as e:
        return _rle_reason(e)
    return "pycocotools rejects it"


def _block_image(block: Block, ann: Dict[str, Any]) -> Tuple[Any, Optional[Dict[str, Any]]]:
    """(image_id, image object or None) of one annotation."""
    if block.image is not None:
        return block.image.get("image_id"), block.image
    iid = ann.get("image_id")
    img = block.images.get(iid) if block.images and _is_int(iid) else None
    return iid, img


# --- index --------------------------------------------------------------------------


def _mask_counts(seg: Any, img: Optional[Dict[str, Any]]) -> Tuple[Optional[str], Optional[Tuple[int, int]], Optional[str]]:
    """(compressed counts, (h, w), problem) of one segmentation; polygons and
    uncompressed RLEs are converted with fastrle.mask (pycocotools-exact)."""
    from .. import mask as fm

    if isinstance(seg, dict):
        hw = _size(seg)
        if hw is None:
            return None, None, f"segmentation.size must be [h, w] non-negative integers, got {_show(seg.get('size'))}"
        c = seg.get("counts")
        if isinstance(c, str):
            return c, hw, None
        if isinstance(c, bytes):
            return c.decode("ascii", "replace"), hw, None
        if isinstance(c, list):
            try:
                return fm.frPyObjects(seg, hw[0], hw[1])["counts"].decode("ascii"), hw, None
            except (ValueError, TypeError) as e:
                return None, hw, f"uncompressed RLE: {_rle_reason(e)}"
        return None, hw, f"segmentation.counts must be a string or a list of ints, got {_show(c)}"
    if isinstance(seg, list):  # polygons: need the image size
        h = img.get("height") if img else None
        w = img.get("width") if img else None
        if not (_is_int(h) and _is_int(w)):
            return None, None, None  # a polygon of an unknown image: counts stay null
        try:
            rle = fm.merge(fm.frPyObjects(seg, h, w)) if seg else fm.frPyObjects([[]], h, w)[0]
            return rle["counts"].decode("ascii"), (int(h), int(w)), None
        except (ValueError, TypeError, IndexError) as e:
            return None, (int(h), int(w)), f"polygon: {e}"
    if seg is None:
        return None, None, "missing field 'segmentation'"
    return None, None, f"segmentation must be an RLE object or polygons, got {_show(seg)}"


def _annotations(blocks: Any, res: SourceResult, problems: List[Problem]) -> Iterator[Tuple[Any, int, dict]]:
    """(block, index in the block, annotation) for every annotation that is an
    object; counts the blocks' images into ``res`` and reports the others."""
    for block in blocks:
        res.images += _count_images(block)
        for i, ann in enumerate(block.anns):
            if isinstance(ann, dict):
                yield block, i, ann
            else:
                problems.append(Problem("malformed", _block_id(block), i,
                                        f"annotation must be an object, got {_show(ann)}"))


def _index_rows(source: str, blocks: Any, features: bool, problems: List[Problem],
                res: SourceResult) -> Dict[str, list]:
    cols: Dict[str, list] = {n: [] for n in index_schema(features).names}
    where: List[int] = []  # each row's annotation index, for problems found later
    for block, i, ann in _annotations(blocks, res, problems):
        iid, img = _block_image(block, ann)
        if not _is_int(iid):
            problems.append(Problem("malformed", None, i, f"field 'image_id' must be an integer, got {_show(iid)}"))
            iid = None
        pid = int(iid) if iid is not None else None

        def bad(what: str, pid: Optional[int] = pid, i: int = i) -> None:
            problems.append(Problem("malformed", pid, i, what))

        counts, hw, why = _mask_counts(ann.get("segmentation"), img)
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
            if v is not None and not _is_num(v):
                bad(f"field {key!r} must be a number, got {_show(v)}")
                v = None
            cols[key].append(v)
        b = ann.get("bbox")
        if b is not None and not _bbox4(b):
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
        keep, c, bad = _good_subset(len(rows), lambda ks: features.centroids([rles[k] for k in ks]))
        for k, (x, y) in zip(keep, c.tolist()):
            cx[rows[k]], cy[rows[k]] = x, y
        for k, why in bad:
            r = rows[k]
            problems.append(Problem("malformed", cols["image_id"][r], where[r], f"invalid RLE: {why}"))
    cols["centroid_x"], cols["centroid_y"] = cx, cy


def _write_atomic(table: Any, path: str) -> None:
    """Write a Parquet file under a temporary name, then rename it into place."""
    import pyarrow.parquet as pq

    d, base = os.path.split(path)
    tmp = os.path.join(d, f".tmp-{base}-{uuid.uuid4().hex}")
    try:
        pq.write_table(table, tmp, compression="zstd")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


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
        _write_atomic(problems_table(source, problems), errs)
    elif os.path.exists(errs):
        os.remove(errs)
    _write_atomic(pa.table(cols, schema=schema), part)
    res.problems = problems
    res.seconds = time.perf_counter() - t0
    return res


# --- validate ---------------------------------------------------------------------


class _Sink:
    """Collects what validate.py's decode comparison finds, as Problems."""

    def __init__(self, problems: List[Problem]) -> None:
        self.problems = problems
        self.rejected_by_both = 0

    def problem(self, label: Tuple[Optional[int], int], reason: str) -> None:
        self.problems.append(Problem("mismatch", label[0], label[1], reason))


def _check_fields(ann: Dict[str, Any], area: int, box: np.ndarray, label: Tuple[Any, int],
                  problems: List[Problem]) -> None:
    a = ann.get("area")
    if a is not None:
        if not _is_num(a):
            problems.append(Problem("malformed", label[0], label[1], f"field 'area' must be a number, got {_show(a)}"))
        elif float(a) != float(area):
            problems.append(Problem("mismatch", label[0], label[1],
                                    f"area: the file says {a}, the mask has {area} pixels"))
    b = ann.get("bbox")
    if b is not None:
        if not _bbox4(b):
            problems.append(Problem("malformed", label[0], label[1],
                                    f"field 'bbox' must be [x, y, w, h] finite numbers, got {_show(b)}"))
        elif np.abs(np.asarray(b, np.float64) - box).max() > _BBOX_TOL:
            problems.append(Problem("mismatch", label[0], label[1],
                                    f"bbox: the file says {list(b)}, the mask gives {box.tolist()}"))


def _flush(group: list, fm: Any, pm: Any, sink: _Sink) -> None:
    """Check one batch of same-size masks: fastrle validity, area/bbox, decode."""
    from .. import api
    from ..validate import _decode_pair

    if not group:
        return
    f_rles = [g[1] for g in group]
    keep, (areas, boxes), bad = _good_subset(
        len(group), lambda ks: (api.area([f_rles[k] for k in ks]), api.bbox([f_rles[k] for k in ks])))
    for k, why in bad:  # never handed to pycocotools: its behaviour there is undefined
        label = group[k][0]
        sink.problems.append(Problem("malformed", label[0], label[1], f"invalid RLE: {why}"))
    for j, k in enumerate(keep):
        _check_fields(group[k][3], int(areas[j]), boxes[j], group[k][0], sink.problems)
    _decode_pair(fm, pm, [group[k][1] for k in keep], [group[k][2] for k in keep],
                 [group[k][0] for k in keep], sink)


@_guarded
def validate_source(source: str) -> SourceResult:
    """Validate every mask of one source against pycocotools and its own
    ``area``/``bbox``. Never raises for bad data."""
    from pycocotools import mask as pm

    from .. import mask as fm
    from ..validate import PIXEL_BUDGET, _to_compressed

    t0 = time.perf_counter()
    res = SourceResult(source, "checked")
    problems: List[Problem] = []
    sink = _Sink(problems)
    groups: Dict[Tuple[int, int], list] = defaultdict(list)
    try:
        for block, i, ann in _annotations(read_source(source, problems), res, problems):
            iid, _ = _block_image(block, ann)
            label = (int(iid) if _is_int(iid) else None, i)
            seg = ann.get("segmentation")
            if isinstance(seg, list):
                res.polygons += 1
                continue
            if not isinstance(seg, dict):
                why = "missing field 'segmentation'" if seg is None else \
                    f"segmentation must be an RLE object or polygons, got {_show(seg)}"
                problems.append(Problem("malformed", label[0], i, why))
                continue
            hw = _size(seg)
            c = seg.get("counts")
            if hw is None or not isinstance(c, (str, bytes, list)):
                why = (f"segmentation.size must be [h, w] non-negative integers, got {_show(seg.get('size'))}"
                       if hw is None else f"segmentation.counts must be a string or a list of ints, got {_show(c)}")
                problems.append(Problem("malformed", label[0], i, why))
                continue
            res.masks += 1
            if isinstance(c, list):
                before = sink.rejected_by_both
                pair = _to_compressed(fm, pm, label, seg, sink)
                if pair is None:
                    if sink.rejected_by_both > before:  # both reject it: malformed
                        sink.rejected_by_both = before
                        problems.append(Problem("malformed", label[0], i,
                                                f"invalid uncompressed RLE: {_fr_reason(fm, seg, hw)}"))
                    continue
                f_rle, p_rle = pair
            else:
                f_rle = p_rle = {"size": list(hw), "counts": c}
            g = groups[hw]
            g.append((label, f_rle, p_rle, ann))
            if len(g) >= max(1, PIXEL_BUDGET // max(1, hw[0] * hw[1])):  # as validate_files batches
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
