"""pycocotools' COCOeval with its loops in C: :class:`COCOeval`.

The same class, constructor, ``params``, methods and attributes as
``pycocotools.cocoeval.COCOeval`` (2.0.11), and the same results to the bit
for ``iouType`` ``"segm"`` and ``"bbox"``: ``evaluate`` (computeIoU and
evaluateImg) and ``accumulate`` run in C (csrc/rle_eval.c), on threads, with
the GIL released. ``"keypoints"`` runs pycocotools' own Python code. ::

    from fastrle.cocoeval import COCOeval    # was: from pycocotools.cocoeval import COCOeval
    E = COCOeval(coco_gt, coco_dt, "segm")
    E.evaluate(); E.accumulate(); E.summarize()

Loading (``COCO``, ``loadRes``, ``annToRLE``) stays pycocotools'. ``evalImgs``
and ``ious`` are built from the C results when first read, equal to
pycocotools' (same keys, values, numpy dtypes and layouts).
Needs pycocotools (``pip install pycocotools``).
"""
from __future__ import annotations

import contextlib
import copy
import datetime
import gc
import operator
import threading
import time
from collections import Counter, defaultdict
from typing import Any, Dict, Iterator, List, Optional, Tuple, cast

import numpy as np

from . import _core, _eval, _mask
from . import mask as fm
from .annotations import segmentation_kind, to_rle
from .errors import RLEError
from .optional import require

_stock = require("pycocotools.cocoeval", "fastrle.cocoeval")

__all__ = ["COCOeval", "Params", "loadRes"]

# pycocotools' parameter class, unchanged: the same defaults and attributes
Params = _stock.Params

_NATIVE_TYPES = ("segm", "bbox")


def _stock_annToRLE() -> Any:
    stock = _stock_coco()
    return None if stock is None else stock.annToRLE


_gc_lock = threading.Lock()
_gc_pauses = 0  # blocks inside _gc_paused, all threads
_gc_was_enabled = False


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block, and back on after
    the last such block ends if it was on before the first. loadRes and
    evaluate make hundreds of thousands of dicts, lists and arrays but no
    cycles; each collection those allocations trigger would walk every
    object the caller holds (the whole dataset), for nothing."""
    global _gc_pauses, _gc_was_enabled
    with _gc_lock:
        if _gc_pauses == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pauses += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pauses -= 1
            if _gc_pauses == 0 and _gc_was_enabled:
                gc.enable()


def _is_stock_coco_method(fn: Any, name: str) -> bool:
    """Whether ``fn`` is pycocotools' own ``COCO.<name>`` (not a subclass's
    or a monkeypatch's)."""
    return getattr(fn, "__module__", None) == "pycocotools.coco" and getattr(fn, "__qualname__", None) == f"COCO.{name}"


def _stock_index(coco: Any) -> bool:
    """Whether ``coco.createIndex`` is pycocotools' own."""
    return _is_stock_coco_method(getattr(type(coco), "createIndex", None), "createIndex")


def _create_index(coco: Any, parts: Any = None) -> None:
    """``coco.createIndex()``; pycocotools' own is run by
    :func:`fastrle._eval.build_index` (its loops at C level, the same dicts;
    ``parts``: its annotation loops, done already by ``fill_results``)."""
    if not _stock_index(coco):
        coco.createIndex()
        return
    print("creating index...")
    coco.anns, coco.imgToAnns, coco.catToImgs, coco.imgs, coco.cats = _eval.build_index(coco.dataset, parts)
    print("index created!")


def _area_bbox(segs: List[dict]) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """pycocotools' area and toBbox of every RLE dict, each mask parsed once
    (on ``COCOeval.threads`` threads), or None where a mask needs the general
    path (which raises its error)."""
    try:
        src = _core.sources(segs, same_size=False)
    except (TypeError, ValueError):
        return None
    return cast(Optional[Tuple[np.ndarray, np.ndarray]], _eval.area_bbox(src, COCOeval.threads))


def _stock_coco() -> Any:
    try:
        return require("pycocotools.coco", "fastrle.cocoeval").COCO
    except ImportError:  # pycocotools.coco needs matplotlib
        return None


def _load_anns(coco: Any, img_ids: List[Any], cat_ids: List[Any]) -> List[dict]:
    """``coco.loadAnns(coco.getAnnIds(imgIds=img_ids, catIds=cat_ids))``, as
    pycocotools' COCO gives them, with the category test on a set instead of
    a list (the same answer for hashable ids)."""
    stock = _stock_coco()
    if stock is None or type(coco).getAnnIds is not stock.getAnnIds or type(coco).loadAnns is not stock.loadAnns:
        return list(coco.loadAnns(coco.getAnnIds(imgIds=img_ids, catIds=cat_ids)))
    if len(img_ids) == 0:
        anns = coco.dataset["annotations"]
    else:
        anns = [a for i in img_ids if i in coco.imgToAnns for a in coco.imgToAnns[i]]
    if len(cat_ids):
        try:
            keep = set(cat_ids)
            anns = [a for a in anns if a["category_id"] in keep]
        except TypeError:  # an unhashable id: pycocotools' own list test
            return list(coco.loadAnns(coco.getAnnIds(imgIds=img_ids, catIds=cat_ids)))
    table = coco.anns
    return [table[a["id"]] for a in anns]


def _gather_results(coco: Any, img_ids: List[Any], cat_ids: List[Any], use_cats: bool) -> Any:
    """:func:`fastrle._eval.gather_results` for a segm evaluation's results,
    where ``coco`` is a pycocotools COCO whose loading and annToRLE are its
    own and the ids are distinct; else (or when it declines) None."""
    stock = _stock_coco()
    if stock is None or not len(img_ids) or type(coco).getAnnIds is not stock.getAnnIds \
            or type(coco).loadAnns is not stock.loadAnns or getattr(type(coco), "annToRLE", None) is not stock.annToRLE:
        return None
    img_pos, cat_pos = _pos_table(img_ids), _pos_table(cat_ids)
    table = getattr(coco, "anns", None)
    if img_pos is None or cat_pos is None or type(table) is not dict:
        return None
    return _eval.gather_results(coco.imgToAnns, table, img_ids, img_pos, cat_pos,
                                bool(use_cats and len(cat_ids)), use_cats)


def _to_mask(anns: List[dict], coco: Any) -> None:
    """pycocotools' ``_prepare._toMask``: ann['segmentation'] = coco.annToRLE(ann).
    When ``annToRLE`` is pycocotools' own, its work is done by
    :func:`fastrle.annotations.to_rle` (fastrle.mask: the same RLEs to the
    bit) and a compressed RLE is left as it is (found in one C pass);
    anything it would treat differently (no polygon at all) still goes to
    ``annToRLE``."""
    stock = getattr(type(coco), "annToRLE", None) is _stock_annToRLE()
    todo = _eval.not_compressed(anns) if stock and type(anns) is list else range(len(anns))
    for n in todo:
        ann = anns[n]
        segm = ann["segmentation"]
        if stock:
            if type(segm) is dict and type(segm.get("counts")) in (str, bytes):
                continue  # compressed: annToRLE returns it as it is
            if type(segm) is list and segm and type(segm[0]) is list:
                # annToRLE: merge(frPyObjects(segm, h, w)); merge of one RLE is that RLE
                img = coco.imgs[ann["image_id"]]
                h, w = img["height"], img["width"]
                # frPyObjects' polygon branch (first polygon longer than a box): its C
                # fast path directly, or frPyObjects when that declines
                rles: Any = _mask.fr_polys(segm, h, w) if len(segm[0]) > 4 else None
                if rles is None:
                    rles = fm.frPyObjects(segm, h, w)
                ann["segmentation"] = rles[0] if type(rles) is list and len(rles) == 1 else \
                    fm.merge(cast(List[dict], rles))
                continue
            kind = segmentation_kind(segm)
            if kind == "compressed":
                continue
            if kind == "uncompressed" or (kind == "polygon" and segm):
                img = coco.imgs[ann["image_id"]]
                ann["segmentation"] = to_rle(segm, img["height"], img["width"])
                continue
        ann["segmentation"] = coco.annToRLE(ann)


LOADRES_CHUNK = 8192  # results per batch of loadRes' area and toBbox


def loadRes(self: Any, resFile: Any) -> Any:
    """pycocotools' ``COCO.loadRes`` (2.0.11), statement for statement, with
    the area and box of segmentation results computed in one batch (each
    mask parsed once, on ``COCOeval.threads`` threads; the same values and
    types as pycocotools' per-result calls), its per-result loop and
    ``createIndex`` at C level, and the garbage collector paused.
    ``patch_pycocotools()`` installs it as ``COCO.loadRes``; it can also be
    called as ``loadRes(coco_gt, results)``."""
    with _gc_paused():
        return _load_res(self, resFile)


def _load_res(self: Any, resFile: Any) -> Any:
    import json
    import time as _time

    coco_cls = require("pycocotools.coco", "fastrle.cocoeval.loadRes").COCO
    res = coco_cls()
    res.dataset["info"] = copy.deepcopy(self.dataset.get("info", {}))
    res.dataset["images"] = [img for img in self.dataset["images"]]
    print("Loading and preparing results...")
    tic = _time.time()
    parts = None  # createIndex's annotation loops, when done with loadRes' own
    if type(resFile) == str:  # noqa: E721  (pycocotools' test)
        with open(resFile) as f:
            anns = json.load(f)
    elif type(resFile) == np.ndarray:  # noqa: E721
        anns = self.loadNumpyAnnotations(resFile)
    else:
        anns = resFile
    assert type(anns) == list, "results in not an array of objects"  # noqa: E721
    annsImgIds = set([ann["image_id"] for ann in anns])  # pycocotools builds this set twice
    assert annsImgIds == (annsImgIds & set(self.getImgIds())), \
        "Results do not correspond to current coco set"
    if "caption" in anns[0]:
        imgIds = set([img["id"] for img in res.dataset["images"]]) & set([ann["image_id"] for ann in anns])
        res.dataset["images"] = [img for img in res.dataset["images"] if img["id"] in imgIds]
        for id, ann in enumerate(anns):
            ann["id"] = id + 1
    elif "bbox" in anns[0] and not anns[0]["bbox"] == []:
        res.dataset["categories"] = copy.deepcopy(self.dataset["categories"])
        for id, ann in enumerate(anns):
            bb = ann["bbox"]
            x1, x2, y1, y2 = [bb[0], bb[0] + bb[2], bb[1], bb[1] + bb[3]]
            if "segmentation" not in ann:
                ann["segmentation"] = [[x1, y1, x1, y2, x2, y2, x2, y1]]
            ann["area"] = bb[2] * bb[3]
            ann["id"] = id + 1
            ann["iscrowd"] = 0
    elif "segmentation" in anns[0]:
        res.dataset["categories"] = copy.deepcopy(self.dataset["categories"])
        segs = [ann["segmentation"] for ann in anns]
        all_dicts = set(map(type, segs)) == {dict}  # every one exactly a dict (segs is not empty)
        ab = _area_bbox(segs) if all_dicts else None
        if ab is not None:  # each mask parsed once: area(one) is a np.uint32, toBbox(one) a (4,) row
            # with createIndex's loops over the annotations in the same pass
            parts = _eval.fill_results(anns, ab[0], ab[1], _stock_index(res) and "categories" in res.dataset)
        elif all_dicts:  # one batch: area(list)[i] is area(one), a np.uint32
            # in chunks: each batch parses into an arena of its own (4 bytes per character)
            n = LOADRES_CHUNK
            areas: Any = np.concatenate([fm.area(segs[i:i + n]) for i in range(0, len(segs), n)])
            need = [segs[i] for i, ann in enumerate(anns) if "bbox" not in ann]
            boxes: Any = np.concatenate([fm.toBbox(need[i:i + n]) for i in range(0, len(need), n)]) if need else None
            k = 0
            for id, ann in enumerate(anns):  # the keys in pycocotools' order
                ann["area"] = areas[id]
                if "bbox" not in ann:  # toBbox(list)[k] is toBbox(one): a float64 (4,) row
                    ann["bbox"] = boxes[k]
                    k += 1
                ann["id"] = id + 1
                ann["iscrowd"] = 0
        else:
            for id, ann in enumerate(anns):
                ann["area"] = fm.area(ann["segmentation"])
                if "bbox" not in ann:
                    ann["bbox"] = fm.toBbox(ann["segmentation"])
                ann["id"] = id + 1
                ann["iscrowd"] = 0
    elif "keypoints" in anns[0]:
        res.dataset["categories"] = copy.deepcopy(self.dataset["categories"])
        for id, ann in enumerate(anns):
            s = ann["keypoints"]
            x = s[0::3]
            y = s[1::3]
            x0, x1, y0, y1 = np.min(x), np.max(x), np.min(y), np.max(y)
            ann["area"] = (x1 - x0) * (y1 - y0)
            ann["id"] = id + 1
            ann["bbox"] = [x0, y0, x1 - x0, y1 - y0]
    print("DONE (t={:0.2f}s)".format(_time.time() - tic))
    res.dataset["annotations"] = anns
    _create_index(res, parts)
    return res


def _slice_len(n: np.ndarray, s: int) -> np.ndarray:
    """len(x[0:s]) for lists of lengths n."""
    if s < 0:
        return np.maximum(n + s, 0)
    return np.minimum(n, s)


def _floats(anns: List[dict], key: str) -> np.ndarray:
    """np.array([a[key] for a in anns], np.float64), read at C level when
    every value is a float, an int or a np.uint32."""
    fast = _eval.doubles(anns, key)
    if fast is not None:
        return cast(np.ndarray, fast)
    return np.array([a[key] for a in anns], dtype=np.float64).reshape(len(anns))


def _plain_key(v: Any) -> Any:
    """A NumPy integer id as the Python int it equals (the same hash and
    comparisons, cheaper dict lookups)."""
    return int(v) if isinstance(v, np.integer) else v


def _pos_table(ids: List[Any]) -> Optional[Dict[Any, int]]:
    """{id: position} of distinct hashable ids, else None."""
    try:
        table = {_plain_key(v): k for k, v in enumerate(ids)}
    except TypeError:
        return None
    return table if len(table) == len(ids) else None


def _int_positions(values: List[Any], table: List[Any]) -> Optional[np.ndarray]:
    """Where each value sits in ``table`` (-1: absent), when every value and
    table entry is an int and the table has no duplicates; else None."""
    vals, tab = np.array(values), np.array(table)
    if vals.ndim != 1 or tab.ndim != 1 or (len(vals) and vals.dtype.kind not in "iu") \
            or (len(tab) and tab.dtype.kind not in "iu"):
        return None
    order = np.argsort(tab, kind="stable")
    st = tab[order]
    if len(st) > 1 and not (st[1:] > st[:-1]).all():
        return None
    if not len(st):
        return np.full(len(vals), -1, np.int64)
    pos = np.minimum(np.searchsorted(st, vals), len(st) - 1)
    return np.where(st[pos] == vals, order[pos], -1).astype(np.int64)


class _Group:
    """One side's annotations grouped by (category, image) pair: ``idx``
    indexes ``anns`` pair by pair, ``off`` (npairs + 1) bounds each pair."""

    anns: List[dict]
    off: np.ndarray
    idx: np.ndarray

    def __init__(self, anns: List[dict], img_ids: List[Any], cat_ids: List[Any], use_cats: bool) -> None:
        n_img, n_cat = len(img_ids), len(cat_ids)
        img_pos, cat_pos = _pos_table(img_ids), _pos_table(cat_ids)
        if img_pos is not None and cat_pos is not None and type(anns) is list:
            # distinct ids: each annotation is in at most one pair, found by dict
            # lookups as pycocotools' (image_id, category_id) keys find it
            ipos = _eval.positions(anns, "image_id", img_pos)
            jpos = _eval.positions(anns, "category_id", cat_pos)
            used = np.flatnonzero((ipos >= 0) & (jpos >= 0))
            i, j = ipos[used], jpos[used]
            # with use_cats, pair k*I + i; else one pair per image, its
            # annotations category by category (catIds' order)
            g = _Group.from_keys([anns[n] for n in used.tolist()], j * n_img + i if use_cats else i * n_cat + j,
                                 n_img, n_cat, use_cats)
            self.anns, self.off, self.idx = g.anns, g.off, g.idx
            return
        ip = _int_positions([a["image_id"] for a in anns], img_ids)
        jp = _int_positions([a["category_id"] for a in anns], cat_ids) if ip is not None else None
        if ip is not None and jp is not None:  # plain int ids, no category listed twice
            rows_a = np.flatnonzero((ip >= 0) & (jp >= 0))
            i, j = ip[rows_a], jp[rows_a]
            keys_a = j * n_img + i if use_cats else i * n_cat + j
        else:
            img_pos2 = {img: k for k, img in enumerate(img_ids)}
            cat_pos2: Dict[Any, List[int]] = {}
            for k, c in enumerate(cat_ids):
                cat_pos2.setdefault(c, []).append(k)
            rows: List[int] = []
            keys: List[int] = []
            for n, a in enumerate(anns):
                ii = img_pos2.get(a["image_id"])
                js = cat_pos2.get(a["category_id"])
                if ii is None or js is None:
                    continue
                for jj in js:  # useCats=0 with a category listed twice: the annotation comes twice
                    rows.append(n)
                    keys.append(jj * n_img + ii if use_cats else ii * n_cat + jj)
            rows_a, keys_a = np.array(rows, dtype=np.int64), np.array(keys, dtype=np.int64)
        self._build(anns, rows_a, keys_a, n_img, n_cat, use_cats)

    @classmethod
    def from_keys(cls, anns: List[dict], key: np.ndarray, n_img: int, n_cat: int, use_cats: bool) -> "_Group":
        """The annotations of :func:`fastrle._eval.gather_results`: each in
        its one pair, key as there."""
        self = cls.__new__(cls)
        self.anns = anns
        if use_cats:
            self.off, self.idx = _eval.group(key, n_cat * n_img)
        else:
            sub_off, self.idx = _eval.group(key, n_img * n_cat)
            self.off = np.ascontiguousarray(sub_off[::max(n_cat, 1)]) if n_cat else np.zeros(n_img + 1, np.int64)
        return self

    def _build(self, anns: List[dict], rows: np.ndarray, key: np.ndarray, n_img: int, n_cat: int,
               use_cats: bool) -> None:
        order = np.argsort(key, kind="stable")
        row = rows[order]
        pair = key[order] if use_cats else key[order] // max(n_cat, 1)
        used, self.idx = np.unique(row, return_inverse=True)
        self.idx = self.idx.astype(np.int64).reshape(-1)
        self.anns = [anns[n] for n in used.tolist()]
        npairs = (n_cat if use_cats else 1) * n_img
        self.off = np.zeros(npairs + 1, np.int64)
        np.cumsum(np.bincount(pair, minlength=npairs), out=self.off[1:])


class _Native:
    """What one native evaluate() leaves: its arrays and the C evaluation."""

    def __init__(self, p: Any, gts: _Group, dts: _Group, cat_ids: List[Any],
                 dt_fields: Optional[Tuple[np.ndarray, np.ndarray, np.ndarray, List[Any]]] = None) -> None:
        self.img_ids = list(p.imgIds)
        self.cat_ids = cat_ids
        self.area_rng = list(p.areaRng)
        self.max_det = p.maxDets[-1]
        self.T = len(p.iouThrs)
        self.A = len(p.areaRng)
        self.I = len(self.img_ids)
        self.gts, self.dts = gts, dts
        g, d = gts.anns, dts.anns
        self.gt_area = _floats(g, "area")
        self.gt_id = _floats(g, "id")
        crowd = _eval.flags(g, "iscrowd", True)
        self.gt_crowd = crowd if crowd is not None else \
            np.array([int(a["iscrowd"]) != 0 for a in g], dtype=np.uint8).reshape(len(g))
        ign = _eval.flags(g, "ignore", False)  # bool(v): never declines
        assert ign is not None
        self.gt_ign = ign
        if dt_fields is not None:  # read by gather_results: area, id, score, segmentation
            self.dt_area, self.dt_id, self.dt_score = dt_fields[:3]
        else:
            self.dt_area = _floats(d, "area")
            self.dt_id = _floats(d, "id")
            self.dt_score = _floats(d, "score")
        geom: Tuple[Any, ...]
        if p.iouType == "segm":
            geom = (self._runs([a["segmentation"] for a in g]),
                    self._runs(dt_fields[3] if dt_fields is not None else [a["segmentation"] for a in d]))
        else:
            geom = tuple(np.array([a["bbox"] for a in side], dtype=np.float64).reshape(len(side), 4)
                         for side in (g, d))
        self.G = np.diff(gts.off)
        dall = np.diff(dts.off)
        self.present = ((self.G > 0) | (dall > 0)).astype(np.uint8)
        self.dt_n = _slice_len(dall, self.max_det).astype(np.int64)
        self.iou_off = np.zeros(len(self.G) + 1, np.int64)
        np.cumsum(self.dt_n * self.G, out=self.iou_off[1:])
        self.match_off = np.zeros(len(self.G) + 1, np.int64)
        np.cumsum(self.A * self.T * self.dt_n, out=self.match_off[1:])
        self.iou = np.empty(int(self.iou_off[-1]), np.float64)
        self.match = np.empty(int(self.match_off[-1]), np.int32)
        self.dt_idx = dts.idx.copy()  # sorted by score, pair by pair, by the C evaluation
        self.ev = _eval.Evaluation(
            np.asarray(p.iouThrs, dtype=np.float64).reshape(self.T),
            np.asarray(p.areaRng, dtype=np.float64).reshape(self.A, 2), self.max_det,
            gts.off, gts.idx, dts.off, self.dt_idx, self.dt_n, self.gt_area, self.gt_id, self.gt_crowd,
            self.gt_ign, self.dt_area, self.dt_id, self.dt_score, geom[0], geom[1],
            self.iou_off, self.match_off, self.iou, self.match)

    @staticmethod
    def _runs(rles: List[Any]) -> Any:
        return _core.sources(rles, same_size=False)  # parsed pair by pair, on threads, by the C side

    def run(self, threads: int) -> None:
        """The C evaluation; a mask that does not parse raises RLEError naming its annotation."""
        try:
            self.ev.run(threads)
        except RLEError as e:
            side = self.ev.bad_side
            ann = (self.gts if side == 0 else self.dts).anns[e.index or 0]
            what = "ground truth" if side == 0 else "result"
            raise e.with_context(f"{what} annotation id {ann.get('id')!r} (image {ann.get('image_id')!r}): ") from None

    # --- pycocotools' attributes, built on demand -----------------------------------------
    def ious(self) -> Dict[Tuple[Any, Any], Any]:
        out: Dict[Tuple[Any, Any], Any] = {}
        for i, img in enumerate(self.img_ids):
            for k, cat in enumerate(self.cat_ids):
                p = k * self.I + i
                D, G = int(self.dt_n[p]), int(self.G[p])
                if D == 0 or G == 0:
                    out[img, cat] = []
                else:
                    out[img, cat] = self.iou[self.iou_off[p]:self.iou_off[p + 1]].reshape((D, G), order="F")
        return out

    def eval_imgs(self) -> List[Optional[dict]]:
        out: List[Optional[dict]] = []
        gts, dts, T = self.gts, self.dts, self.T
        for k, cat in enumerate(self.cat_ids):
            for a, rng in enumerate(self.area_rng):
                lo, hi = float(rng[0]), float(rng[1])  # as the C side compares them
                for i, img in enumerate(self.img_ids):
                    p = k * self.I + i
                    if not self.present[p]:
                        out.append(None)
                        continue
                    out.append(self._entry(p, a, lo, hi, img, cat, rng, gts, dts, T))
        return out

    def _entry(self, p: int, a: int, lo: float, hi: float, img: Any, cat: Any, rng: Any,
               gts: _Group, dts: _Group, T: int) -> dict:
        gi = gts.idx[gts.off[p]:gts.off[p + 1]]
        D = int(self.dt_n[p])
        di = self.dt_idx[dts.off[p]:dts.off[p] + D]
        ga = self.gt_area[gi]
        ig = ((self.gt_ign[gi] != 0) | (ga < lo) | (ga > hi)).astype(np.int64)
        gtind = np.argsort(ig, kind="mergesort")
        G = len(gi)
        mt = self.match[self.match_off[p] + a * T * D:self.match_off[p] + (a + 1) * T * D].reshape(T, D)
        matched = mt >= 0
        safe = np.where(matched, mt, 0)
        gid = self.gt_id[gi]
        dtm = np.where(matched, gid[safe] if G else 0.0, 0.0).astype(np.float64).reshape(T, D)
        inv = np.empty(G, np.int64)
        inv[gtind] = np.arange(G)
        gtm = np.zeros((T, G))
        did = self.dt_id[di]
        for t in range(T):
            for d in np.flatnonzero(matched[t]).tolist():  # in order: the last dt wins a crowd
                gtm[t, inv[mt[t, d]]] = did[d]
        dig = np.where(matched, ig[safe] if G else 0, 0).astype(bool)
        da = self.dt_area[di]
        out_a = ((da < lo) | (da > hi)).reshape(1, D)
        dt_ig = np.logical_or(dig, np.logical_and(dtm == 0, np.repeat(out_a, T, 0)))
        g_anns = [gts.anns[j] for j in gi[gtind].tolist()]
        d_anns = [dts.anns[j] for j in di.tolist()]
        return {
            "image_id": img,
            "category_id": cat,
            "aRng": rng,
            "maxDet": self.max_det,
            "dtIds": [d["id"] for d in d_anns],
            "gtIds": [g["id"] for g in g_anns],
            "dtMatches": dtm,
            "gtMatches": gtm,
            "dtScores": [d["score"] for d in d_anns],
            "gtIgnore": np.array(ig[gtind].tolist()),
            "dtIgnore": dt_ig,
        }


_LAZY = object()  # evalImgs / ious not built yet: the C results hold them


class COCOeval(_stock.COCOeval):  # type: ignore[name-defined]
    """``pycocotools.cocoeval.COCOeval`` with ``evaluate`` and ``accumulate``
    in C (segm and bbox), the same results to the bit.

    ``threads``: threads for evaluate and accumulate (0, the default: one
    per CPU). Everything else is pycocotools': ``Params``, ``summarize``,
    ``computeIoU``, ``evaluateImg``, and the whole of ``"keypoints"``.
    ``evalImgs`` and ``ious`` are built on first read. Assigning
    ``evalImgs`` (as torchvision's merge of processes does) makes
    ``accumulate`` read that list with pycocotools' code.
    """

    threads: int = 0
    params: Any
    _paramsEval: Any

    def __init__(self, cocoGt: Any = None, cocoDt: Any = None, iouType: str = "segm") -> None:
        self._native: Optional[_Native] = None
        self._evalImgs_v: Any = defaultdict(list)
        self._evalImgs_own = False
        self._ious_v: Any = {}
        super().__init__(cocoGt, cocoDt, iouType)

    # evalImgs and ious: pycocotools' attributes, built from the C results when read
    @property
    def evalImgs(self) -> Any:
        """pycocotools' per (category, area range, image) results list."""
        if self._evalImgs_v is _LAZY:
            assert self._native is not None
            self._evalImgs_v = self._native.eval_imgs()
        return self._evalImgs_v

    @evalImgs.setter
    def evalImgs(self, value: Any) -> None:
        self._evalImgs_v = value
        self._evalImgs_own = value is _LAZY  # a list assigned from outside: accumulate reads it

    @property
    def ious(self) -> Any:
        """pycocotools' {(imgId, catId): IoU matrix} dict."""
        if self._ious_v is _LAZY:
            assert self._native is not None
            self._ious_v = self._native.ious()
        return self._ious_v

    @ious.setter
    def ious(self, value: Any) -> None:
        self._ious_v = value

    def evaluate(self) -> None:
        """Run per image evaluation (pycocotools' evaluate, in C for segm and bbox)."""
        p: Any = self.params
        if p.useSegm is None and p.iouType not in _NATIVE_TYPES:
            self._native = None
            return super().evaluate()
        tic = time.time()
        print("Running per image evaluation...")
        if p.useSegm is not None:
            p.iouType = "segm" if p.useSegm == 1 else "bbox"
            print("useSegm (deprecated) is not None. Running {} evaluation".format(p.iouType))
        print("Evaluate annotation type *{}*".format(p.iouType))
        p.imgIds = list(np.unique(p.imgIds))
        if p.useCats:
            p.catIds = list(np.unique(p.catIds))
        p.maxDets = sorted(p.maxDets)
        self.params = p
        self._native = None
        with _gc_paused():
            self._native = self._prepare_native(p)
            self._native.run(self.threads)
        self.ious = _LAZY
        if self._late_error is not None:
            raise self._late_error
        self.evalImgs = _LAZY
        self._paramsEval = copy.deepcopy(self.params)
        toc = time.time()
        print("DONE (t={:0.2f}s).".format(toc - tic))

    def _prepare_native(self, p: Any) -> _Native:
        """pycocotools' _prepare (the same annotations, _toMask and ignore
        flags), grouped into index arrays instead of per-pair dicts."""
        gt_coco, dt_coco = self.cocoGt, self.cocoDt
        cat_filter = p.catIds if p.useCats else []
        cats, use = list(p.catIds), bool(p.useCats)
        imgs = list(p.imgIds)
        gts = _load_anns(gt_coco, p.imgIds, cat_filter)
        fast = _gather_results(dt_coco, imgs, cats, use) if p.iouType == "segm" else None
        dts = fast[0] if fast is not None else _load_anns(dt_coco, p.imgIds, cat_filter)
        if p.iouType == "segm":
            _to_mask(gts, gt_coco)
            if fast is None:  # else every result is a compressed RLE already: annToRLE returns it
                _to_mask(dts, dt_coco)
        for gt in gts:
            gt["ignore"] = gt["ignore"] if "ignore" in gt else 0
            gt["ignore"] = "iscrowd" in gt and gt["iscrowd"]
        self._gts: Any = defaultdict(list)  # pycocotools' per-pair dicts are not built
        self._dts: Any = defaultdict(list)
        self.evalImgs = defaultdict(list)
        self.eval: Dict[str, Any] = {}
        p.maxDets[-1]  # IndexError for no maxDets, as pycocotools
        self._late_error: Optional[TypeError] = None
        if (gts or dts) and not hasattr(p.maxDets[-1], "__index__"):  # pycocotools slices dt[0:maxDets[-1]]
            err = TypeError("slice indices must be integers or None or have an __index__ method")
            if any(k > p.maxDets[-1] for k in Counter((d["image_id"], d["category_id"] if use else -1)
                                                       for d in dts).values()):
                raise err  # in its computeIoU: no ious yet
            self._late_error = err  # in its evaluateImg, after the ious
        if fast is not None:
            dt_group = _Group.from_keys(fast[0], fast[1], len(imgs), len(cats), use)
            return _Native(p, _Group(gts, imgs, cats, use), dt_group, cats if use else [-1], fast[2:])
        return _Native(p, _Group(gts, imgs, cats, use), _Group(dts, imgs, cats, use), cats if use else [-1])

    def accumulate(self, p: Any = None) -> None:
        """Accumulate per image results into self.eval (pycocotools'
        accumulate, in C after a native evaluate)."""
        st = self._native
        q = self.params if p is None else p
        _pe = self._paramsEval
        if (st is None or not self._evalImgs_own
                or len(q.iouThrs) != st.T or len(_pe.imgIds) != st.I or len(_pe.areaRng) != st.A):
            return super().accumulate(p)
        try:
            for m in q.maxDets:
                operator.index(m)
        except TypeError:
            return super().accumulate(p)
        print("Accumulating evaluation results...")
        tic = time.time()
        if len(st.cat_ids) * st.A * st.I == 0:
            print("Please run evaluate() first")
        p = q
        p.catIds = p.catIds if p.useCats == 1 else [-1]
        T = len(p.iouThrs)
        R = len(p.recThrs)
        K = len(p.catIds) if p.useCats else 1
        A = len(p.areaRng)
        M = len(p.maxDets)
        precision = np.full((T, R, K, A, M), -1.0)  # -np.ones, in one pass
        recall = np.full((T, K, A, M), -1.0)
        scores = np.full((T, R, K, A, M), -1.0)
        catIds = _pe.catIds if _pe.useCats else [-1]
        setK = set(catIds)
        setA = set(map(tuple, _pe.areaRng))
        setM = set(_pe.maxDets)
        setI = set(_pe.imgIds)
        k_list = [n for n, k in enumerate(p.catIds) if k in setK]
        m_list = [operator.index(m) for n, m in enumerate(p.maxDets) if m in setM]
        a_list = [n for n, a in enumerate(map(lambda x: tuple(x), p.areaRng)) if a in setA]
        i_list = [n for n, i in enumerate(p.imgIds) if i in setI]
        i64 = np.int64
        if len(st.cat_ids) * st.A * st.I:  # else some list is empty: no cell to fill
            st.ev.accumulate(st.present, st.I, st.A, np.array(k_list, i64), np.array(a_list, i64),
                             np.array(m_list, i64), np.array(i_list, i64),
                             np.asarray(p.recThrs, dtype=np.float64).reshape(R), precision, recall, scores,
                             self.threads)
        self.eval = {
            "params": p,
            "counts": [T, R, K, A, M],
            "date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
            "precision": precision,
            "recall": recall,
            "scores": scores,
        }
        toc = time.time()
        print("DONE (t={:0.2f}s).".format(toc - tic))
