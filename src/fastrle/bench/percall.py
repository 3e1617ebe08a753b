"""Drop-in cases of ``fastrle bench`` (mode ``dropin``): ``--case percall cocoeval``.

========= ==== ===================================================================
name      id   what
========= ==== ===================================================================
percall   g    every ``fastrle.mask`` function on one COCO annotation, and on 100
               SA-1B-like masks, vs pycocotools, faster-coco-eval and hotcoco;
               area, toBbox, merge and iou of the 100 on one core against their
               count characters at 1 GB/s (long strings at vector speed;
               judged for area and toBbox, information for merge and iou)
cocoeval  h    COCOeval segm on the real files in tests/data: stock, with
               ``fastrle.patch_pycocotools()``, fastrle.cocoeval.COCOeval,
               ultrafast-pycocotools, hotcoco and faster-coco-eval
cocoeval- i    (mode ``large``) a val2017-scale segm evaluation generated from
val2017        the real files: each evaluator once in a fresh process, its
               arrays checked against stock, its time and peak memory
========= ==== ===================================================================

Every comparator is called the way its users call it, from the same dicts
(its parse included). The real COCO files are looked up in
``$FASTRLE_COCO_DATA`` or the clone's ``tests/data``; without them percall
uses a synthetic COCO-size polygon and cocoeval is skipped.
"""
from __future__ import annotations

import contextlib
import copy
import io
import json
import os
from functools import partial
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .core import MEMSET_FAMILIES
from .harness import BenchData, CaseSpec, Comparator, RatioSpec, import_or_none, skip_note, version_of, register

GT_FILE = "coco_instances_val2014_100.json"
RES_FILE = "cocoapi_instances_val2014_fakesegm100_results.json"
# (one annotation) pycocotools / fastrle must be >= 1 for each; batch targets below
BATCH_TARGETS = {"iou": 10.0, "merge": 5.0, "area": 3.0, "toBbox": 3.0}


# Long strings at vector speed (issue 25): on families whose count strings outweigh
# the output (noise, stripes), each of these calls on the 100 masks is timed on one
# core against the time of their count characters at LONG_GBPS (judged: LONG_JUDGED).
LONG_CALLS = ("area", "toBbox", "merge", "iou")
#: The calls judged against LONG_GBPS: the parse is most of their work. merge and
#: iou share that parse but also write a bitmap word per 64 pixels of each mask's
#: span (about 40 MB per iou of 100 noise masks), so their rows are information.
LONG_JUDGED = ("area", "toBbox")
LONG_GBPS = 1.0


def one_core(fn: Callable[[], Any]) -> Optional[Callable[[], Any]]:
    """``fn`` run with this process pinned to one of its CPUs (so fastrle starts no
    threads: its thread count follows the affinity), restored after; None where the
    OS has no affinity call."""
    if not hasattr(os, "sched_setaffinity"):
        return None

    def run() -> Any:
        cpus = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cpus)})
        try:
            return fn()
        finally:
            os.sched_setaffinity(0, cpus)
    return run


# the Rust drop-ins of issue 25: fastrle must be at least as fast as the fastest of
# them and pycocotools on every call they have (and answer as pycocotools does)
RIVALS = ("pycocotools", "hotcoco", "ultrafast")
# comparator key -> its pycocotools-style mask module
MASK_MODULES = {"fastrle": "fastrle.mask", "pycocotools": "pycocotools.mask",
                "faster-coco-eval": "faster_coco_eval.core.mask", "hotcoco": "hotcoco.mask",
                "ultrafast": "ultrafast_pycocotools.mask"}


def agrees(got: Any, want: Any) -> bool:
    """``got`` holds pycocotools' answer ``want``, in any container form: bytes or str
    counts, lists or arrays of any dtype and order; floats to 1e-9. Looser than
    :func:`same_result`, which is the drop-in's own (exact) contract."""
    if isinstance(want, (bytes, str)):
        norm = (lambda v: v.decode() if isinstance(v, bytes) else v)  # noqa: E731
        return isinstance(got, (bytes, str)) and norm(got) == norm(want)
    if isinstance(want, dict):
        return isinstance(got, dict) and all(k in got and agrees(got[k], want[k]) for k in want)
    if isinstance(want, (list, tuple)) and want and isinstance(want[0], (dict, bytes, str, list, tuple)):
        return isinstance(got, (list, tuple)) and len(got) == len(want) and all(map(agrees, got, want))
    try:
        a, b = np.asarray(got), np.asarray(want)
    except Exception:
        return False
    if a.shape != b.shape:
        return False
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        return bool(np.allclose(a, b, rtol=0, atol=1e-9))
    return bool(np.array_equal(a, b))


def rival_ratios(calls: List[Tuple[str, str]], keys: set) -> List[RatioSpec]:
    """Per call ``(key, label)``, the fastest timed rival (:data:`RIVALS`) / fastrle
    >= 1, from comparator keys ``"{key}:{lib}"``. A rival that differs from
    pycocotools is left untimed by the case, so it cannot count as the fastest."""
    out: List[RatioSpec] = []
    for call, label in calls:
        timed = [f"{call}:{r}" for r in RIVALS if f"{call}:{r}" in keys]
        if timed and f"{call}:fastrle" in keys:
            out.append((f"{label}: fastest rival / fastrle", "|".join(timed), f"{call}:fastrle", ">=", 1.0))
    return out


def data_dir() -> Optional[Path]:
    """The folder with the real COCO files, or None."""
    for cand in (os.environ.get("FASTRLE_COCO_DATA"), Path(__file__).resolve().parents[3] / "tests" / "data"):
        if cand and (Path(cand) / GT_FILE).is_file() and (Path(cand) / RES_FILE).is_file():
            return Path(cand)
    return None


def gives(fn: Callable[[Any], Any], lib: Any, want: Any) -> bool:
    """``fn(lib)`` equals ``want`` by :func:`same_result` (a deferred check)."""
    return same_result(fn(lib), want)


def same_result(a: Any, b: Any) -> bool:
    """Equal values, types, dtypes, shapes and memory order (bytes counts included)."""
    if isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
                and a.flags.f_contiguous == b.flags.f_contiguous and np.array_equal(a, b))
    if isinstance(b, dict):
        return isinstance(a, dict) and a.keys() == b.keys() and all(same_result(a[k], b[k]) for k in b)
    if isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_result(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def one_annotation(d: BenchData) -> Tuple[Any, int, int, str]:
    """(polygons, h, w, where from): the first polygon annotation of a 480x640
    image in the real COCO file, else a synthetic one."""
    def load() -> Tuple[Any, int, int, str]:
        root = data_dir()
        if root is not None:
            ds = json.loads((root / GT_FILE).read_text())
            imgs = {i["id"]: i for i in ds["images"]}
            for a in ds["annotations"]:
                im = imgs[a["image_id"]]
                if isinstance(a["segmentation"], list) and (im["height"], im["width"]) == (480, 640):
                    return (a["segmentation"], 480, 640,
                            f"annotation {a['id']} of {GT_FILE} ({len(a['segmentation'])} polygon(s), "
                            f"{sum(len(p) for p in a['segmentation']) // 2} points, 480x640)")
        rng = np.random.default_rng(0)
        t = np.sort(rng.uniform(0, 2 * np.pi, 40))
        r = rng.uniform(60, 120, 40)
        poly = np.stack([320 + r * np.cos(t), 240 + r * np.sin(t)], 1).ravel().round(2).tolist()
        return [poly], 480, 640, "a synthetic 40-point polygon on 480x640 (real COCO file not found)"
    return d.cached("percall.one", load)


def _mask_libs() -> List[Tuple[str, Any, str]]:
    """(key, module, label) of every pycocotools-style mask module installed."""
    out = []
    for key, mod in MASK_MODULES.items():
        m = import_or_none(mod)
        if m is not None:
            dist = mod.split(".")[0]
            out.append((key, m, f"{mod} {version_of(dist) or ''}".strip()))
    return out


def _calls(poly: Any, h: int, w: int, ref: Any) -> Dict[str, Tuple[str, Callable[[Any], Any]]]:
    """name -> (call as written, fn(module)) on one annotation."""
    rle = ref.merge(ref.frPyObjects(poly, h, w))
    box = np.array([ref.toBbox(rle)], np.double)
    dense = np.asfortranarray(ref.decode(rle))
    return {
        "frPyObjects(polygons)": ("frPyObjects(polys, h, w)", lambda m: m.frPyObjects(poly, h, w)),
        "frPyObjects(bbox)": ("frPyObjects(np (1,4) float64, h, w)", lambda m: m.frPyObjects(box, h, w)),
        "merge": ("merge([rle])", lambda m: m.merge([rle])),
        "area": ("area(rle)", lambda m: m.area(rle)),
        "toBbox": ("toBbox(rle)", lambda m: m.toBbox(rle)),
        "iou": ("iou([rle], [rle], [0])", lambda m: m.iou([rle], [rle], [0])),
        "decode": ("decode(rle)", lambda m: m.decode(rle)),
        "encode": ("encode(F-order (H,W) uint8)", lambda m: m.encode(dense)),
    }


def _batch_calls(rles: List[dict]) -> Dict[str, Tuple[str, Callable[[Any], Any]]]:
    crowd = [0] * len(rles)
    dense: List[np.ndarray] = []  # the masks as pycocotools' (H, W, N) F-order uint8, made on first use

    def encode(m: Any) -> Any:
        if not dense:
            from .. import mask as fm
            dense.append(fm.decode(rles))
        return m.encode(dense[0])
    return {
        "encode": ("encode(F-order (H,W,N) uint8)", encode),
        "iou": ("iou(rles, rles, [0]*100)", lambda m: m.iou(rles, rles, crowd)),
        "merge": ("merge(rles)", lambda m: m.merge(rles)),
        "area": ("area(rles)", lambda m: m.area(rles)),
        "toBbox": ("toBbox(rles)", lambda m: m.toBbox(rles)),
        "decode": ("decode(rles)", lambda m: m.decode(rles)),
    }


def case_percall(d: BenchData, stack: contextlib.ExitStack) -> CaseSpec:
    """g. Every fastrle.mask function per call vs pycocotools and peers."""
    libs = _mask_libs()
    by_key = {k: (m, label) for k, m, label in libs}
    notes: List[str] = []
    if "fastrle" not in by_key or "pycocotools" not in by_key:
        return [], [], [skip_note("fastrle.mask or pycocotools.mask")], None
    ref = by_key["pycocotools"][0]
    poly, h, w, where = one_annotation(d)
    one = _calls(poly, h, w, ref)
    batch = _batch_calls(d.rles)
    c = d.cfg
    notes.append(f"one annotation: {where}")
    notes.append(f"batch: {len(d.rles)} SA-1B-like masks of {c.h}x{c.w} (str counts, as in SA-1B JSON); "
                 "encode takes them as one (H, W, N) F-order uint8 array, as pycocotools does; "
                 "encode of a C-order stack is case `encode`")
    notes.append("versions: " + "; ".join(label for _, _, label in libs))
    comps: List[Comparator] = []
    checks: List[Tuple[str, Callable[[], bool]]] = []
    skipped: List[str] = []
    differs: List[str] = []
    for group, calls in (("", one), ("100 ", batch)):
        for name, (text, fn) in calls.items():
            want = fn(ref)
            for key, m, label in libs:
                ck = f"{group}{name}:{key}"
                try:
                    got = fn(m)
                except Exception as e:  # a peer without this input form
                    skipped.append(f"{label} {group}{text}: {type(e).__name__}")
                    continue
                if key == "fastrle":
                    checks.append((ck, partial(gives, fn, m, want)))
                elif not agrees(got, want):
                    differs.append(f"{label} {group}{text}")
                    continue  # a wrong answer is not timed: it must not pass for the fastest
                elif not same_result(got, want):
                    # peers may return other types (lists, str counts): same values, timed
                    notes.append(f"{label}: {group}{text} returns another form than pycocotools")
                comps.append(Comparator(ck, f"{label.split()[0]}.{group}{text}",
                                        partial(fn, m)))
    # long strings on one core: the rate of count characters (judged where strings outweigh the output)
    nchars = sum(len(r["counts"]) for r in d.rles)
    long_family = d.cfg.family not in MEMSET_FAMILIES
    fr = by_key["fastrle"][0]
    for name in LONG_CALLS:
        pinned = one_core(partial(batch[name][1], fr))
        if pinned is not None:
            comps.append(Comparator(f"100 {name}:fastrle-1core", f"fastrle.mask.{batch[name][0]} on one core", pinned))
    if one_core(lambda: None) is None:
        notes.append("long strings on one core: no CPU affinity call on this OS, not timed")
    else:
        notes.append(f"long strings: {nchars:,} count characters; '1 core' rows pin the process to one CPU; "
                     f"target <= 1.0 (>= {LONG_GBPS:g} GB of characters/s) for {' and '.join(LONG_JUDGED)} on "
                     f"families whose strings outweigh the output, " +
                     ("judged here" if long_family else f"info only on {d.cfg.family}") +
                     "; merge and iou: the same parse plus their bitmaps, info")
    if skipped:
        notes.append("not timed (raised on this input): " + "; ".join(skipped))
    if differs:
        notes.append("differs from pycocotools, not timed: " + "; ".join(differs))
    bad = [k for k, chk in checks if not chk()]
    notes.append("fastrle.mask == pycocotools.mask (values, types, dtypes, order, bytes): "
                 + ("all equal" if not bad else "MISMATCH in " + ", ".join(bad)))

    def verify() -> Optional[bool]:
        return not bad and all(chk() for _, chk in checks)

    keys = {cp.key for cp in comps}
    ratios: List[RatioSpec] = []
    for name in one:
        ratios.append((f"1 ann {name}: pycocotools / fastrle", f"{name}:pycocotools", f"{name}:fastrle",
                       ">=", 1.0))
    for name in batch:
        ratios.append((f"100 {name}: pycocotools / fastrle", f"100 {name}:pycocotools", f"100 {name}:fastrle",
                       ">=" if name in BATCH_TARGETS else "", BATCH_TARGETS.get(name)))
    for name in LONG_CALLS:
        # the time over the time of the characters at LONG_GBPS ("vector speed")
        ratios.append((f"100 {name}, 1 core: time / chars at {LONG_GBPS:g} GB/s", f"100 {name}:fastrle-1core",
                       f"@{nchars / (LONG_GBPS * 1e9)!r}", "<=" if long_family and name in LONG_JUDGED else "",
                       1.0 if long_family and name in LONG_JUDGED else None))
    ratios += rival_ratios([(f"{g}{n}", f"{g or '1 ann '}{n}") for g, calls in (("", one), ("100 ", batch))
                            for n in calls], keys)
    for peer in ("faster-coco-eval", "hotcoco", "ultrafast"):
        for group, calls in (("", one), ("100 ", batch)):
            for name in calls:
                if f"{group}{name}:{peer}" in keys:
                    ratios.append((f"{group or '1 ann '}{name}: {peer} / fastrle", f"{group}{name}:{peer}",
                                   f"{group}{name}:fastrle", "", None))
    return comps, ratios, notes, verify


# --- COCOeval ---------------------------------------------------------------------


def _quiet() -> contextlib.AbstractContextManager:
    return contextlib.redirect_stdout(io.StringIO())


class _Recorder:
    """Stands in for ``maskUtils`` in pycocotools.coco and .cocoeval during one
    evaluation: forwards every call to pycocotools.mask and records it, so the
    mask part of COCOeval can be replayed on either library."""

    def __init__(self, pm: Any) -> None:
        self.calls: List[Tuple[str, tuple]] = []
        for name in ("encode", "decode", "area", "toBbox", "iou", "merge", "frPyObjects"):
            setattr(self, name, self._forward(name, getattr(pm, name)))

    def _forward(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any) -> Any:
            self.calls.append((name, args))
            return fn(*args)
        return call


def record_mask_calls(run: "_EvalRun", pm: Any, holders: List[Any]) -> List[Tuple[str, tuple]]:
    """Every pycocotools.mask call that one COCOeval segm run makes (loadRes's
    area and toBbox, annToRLE's frPyObjects and merge, computeIoU's iou)."""
    rec = _Recorder(pm)
    saved = [(m, m.maskUtils) for m in holders]
    try:
        for m in holders:
            m.maskUtils = rec
        run.setup()
        run.full()
    finally:
        for m, v in saved:
            m.maskUtils = v
    return rec.calls


def replay(calls: List[Tuple[str, tuple]], mod: Any) -> Callable[[], None]:
    fns = [(getattr(mod, name), args) for name, args in calls]

    def run() -> None:
        for fn, args in fns:
            fn(*args)
    return run


class _EvalRun:
    """One COCOeval segm run on fresh copies of the real files. ``setup``
    (untimed) builds the ground-truth COCO object from the parsed JSON, since
    COCOeval writes RLEs into it; the timed call does the rest."""

    def __init__(self, gt_ds: dict, res: list, coco_cls: Any, eval_cls: Any,
                 patch: Callable[[], Any] = contextlib.nullcontext) -> None:
        self.gt_ds, self.res, self.coco_cls, self.eval_cls, self.patch = gt_ds, res, coco_cls, eval_cls, patch
        self.gt: Any = None
        self.dets: Any = None
        self.stats: Any = None
        self.arrays: Dict[str, np.ndarray] = {}

    def setup(self) -> None:
        with _quiet():
            g = self.coco_cls()
            g.dataset = copy.deepcopy(self.gt_ds)
            g.createIndex()
        self.gt, self.dets = g, copy.deepcopy(self.res)

    def full(self) -> None:
        """What a user runs: loadRes, evaluate, accumulate, summarize."""
        with self.patch(), _quiet():
            dt = self.gt.loadRes(self.dets)
            e = self.eval_cls(self.gt, dt, "segm")
            e.evaluate()
            e.accumulate()
            e.summarize()
        self.stats = np.array(e.stats)
        self.arrays = {k: np.asarray(e.eval[k]) for k in EVAL_ARRAYS if k in e.eval}


EVAL_ARRAYS = ("precision", "recall", "scores")


def same_arrays(a: Dict[str, np.ndarray], b: Dict[str, np.ndarray]) -> bool:
    """precision, recall and scores byte for byte (dtype and shape included)."""
    return all(k in a and a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and a[k].tobytes() == b[k].tobytes()
               for k in EVAL_ARRAYS)


def eval_peers() -> List[Tuple[str, str, str, str]]:
    """(key, module, COCO attribute, COCOeval attribute) of the installed
    evaluators other than pycocotools and fastrle."""
    out = []
    for key, mod, coco_name, eval_name in (("ultrafast", "ultrafast_pycocotools", "COCO", "COCOeval"),
                                           ("hotcoco", "hotcoco", "COCO", "COCOeval"),
                                           ("faster-coco-eval", "faster_coco_eval", "COCO", "COCOeval_faster")):
        if import_or_none(mod) is not None:
            out.append((key, mod, coco_name, eval_name))
    return out


def case_cocoeval(d: BenchData, stack: contextlib.ExitStack) -> CaseSpec:
    """h. COCOeval segm: stock, patched with fastrle, fastrle's evaluator, and the peers."""
    root = data_dir()
    coco, ceval = import_or_none("pycocotools.coco"), import_or_none("pycocotools.cocoeval")
    fr = import_or_none("fastrle")
    fce_mod = import_or_none("fastrle.cocoeval")
    if root is None or coco is None or ceval is None or fr is None or fce_mod is None:
        why = "real COCO files (tests/data or $FASTRLE_COCO_DATA)" if root is None else "pycocotools"
        return [], [], [skip_note(why)], None
    gt_ds = d.cached("cocoeval.gt", lambda: json.loads((root / GT_FILE).read_text()))
    res = d.cached("cocoeval.res", lambda: json.loads((root / RES_FILE).read_text()))
    notes = [f"{RES_FILE} ({len(res)} segm results) against {GT_FILE} ({len(gt_ds['annotations'])} "
             "annotations); setup (untimed) rebuilds the ground truth COCO from parsed JSON",
             f"pycocotools {version_of('pycocotools')}"]
    stock_cls = ceval.COCOeval
    runs: Dict[str, _EvalRun] = {
        "stock": _EvalRun(gt_ds, res, coco.COCO, stock_cls),
        # patched: pycocotools.cocoeval.COCOeval is looked up after the patch: fastrle's
        "patched": _EvalRun(gt_ds, res, coco.COCO, lambda *a: ceval.COCOeval(*a), fr.patch_pycocotools),
        "fastrle": _EvalRun(gt_ds, res, coco.COCO, fce_mod.COCOeval),
    }
    pm, fm = import_or_none("pycocotools.mask"), import_or_none("fastrle.mask")
    calls = d.cached("cocoeval.calls", lambda: record_mask_calls(runs["stock"], pm, [coco, ceval]))
    counts: Dict[str, int] = {}
    for name, _ in calls:
        counts[name] = counts.get(name, 0) + 1
    notes.append("mask part = the " + str(len(calls)) + " mask calls of one stock evaluation, recorded and "
                 "replayed (" + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) + ")")
    comps = [Comparator("mask:stock", "pycocotools.mask: the mask calls of COCOeval", replay(calls, pm)),
             Comparator("mask:fastrle", "fastrle.mask: the same calls", replay(calls, fm))]
    labels = {"stock": "pycocotools COCOeval", "patched": "fastrle.patch_pycocotools() (loadRes and COCOeval)",
              "fastrle": "fastrle.cocoeval.COCOeval (loadRes: pycocotools')"}
    for key in ("stock", "patched", "fastrle"):
        r = runs[key]
        comps.append(Comparator(f"eval:{key}", f"{labels[key]}: loadRes+evaluate+accumulate+summarize",
                                r.full, r.setup))
    peers = eval_peers()
    for key, mod, coco_name, eval_name in peers:
        m = import_or_none(mod)
        r = _EvalRun(gt_ds, res, getattr(m, coco_name), getattr(m, eval_name))
        runs[key] = r
        notes.append(f"{key} {version_of(mod)}: its own COCO and {eval_name}")
        comps.append(Comparator(f"eval:{key}", f"{key}: loadRes+evaluate+accumulate+summarize", r.full, r.setup))
    for missing in {"ultrafast", "hotcoco", "faster-coco-eval"} - {p[0] for p in peers}:
        notes.append(skip_note(missing))

    # every evaluator's results, computed once here (the timed runs print nothing)
    for r in runs.values():
        r.setup()
        r.full()
    ref = runs["stock"]
    stats_eq = {k: bool(np.array_equal(r.stats, ref.stats)) for k, r in runs.items() if k != "stock"}
    arrays_eq = {k: same_arrays(r.arrays, ref.arrays) for k, r in runs.items() if k != "stock"}
    notes.append("12 stats equal to stock: " + ", ".join(f"{k} {v}" for k, v in stats_eq.items()))
    notes.append("precision, recall, scores byte-equal to stock: "
                 + ", ".join(f"{k} {v}" for k, v in arrays_eq.items()))

    def verify() -> Optional[bool]:
        return stats_eq["fastrle"] and arrays_eq["fastrle"] and arrays_eq["patched"]

    ratios = [("mask part: stock / fastrle", "mask:stock", "mask:fastrle", ">=", 3.0),
              ("evaluation: stock / fastrle", "eval:stock", "eval:fastrle", ">=", 5.0),
              ("evaluation: stock / patched", "eval:stock", "eval:patched", ">=", 5.0),
              # patched: fastrle's loadRes too, as a user of patch_pycocotools() runs it
              ("evaluation: ultrafast / patched", "eval:ultrafast", "eval:patched", ">=", 1.0),
              ("evaluation: hotcoco / patched", "eval:hotcoco", "eval:patched", ">=", 1.0),
              ("evaluation: ultrafast / fastrle", "eval:ultrafast", "eval:fastrle", "", None),
              ("evaluation: hotcoco / fastrle", "eval:hotcoco", "eval:fastrle", "", None),
              ("evaluation: faster-coco-eval / fastrle", "eval:faster-coco-eval", "eval:fastrle", "", None)]
    return comps, ratios, notes, verify


# --- a val2017-scale evaluation -----------------------------------------------------
#
# Generated from the real files, deterministically: image c of n copies real
# image c % 100 (its size, and its ground truth less one annotation in 8: about
# 36,700 for 5,000 images, as val2017's 36,781); each real result of that image
# gives 20 results, its mask shifted by dx columns and dy rows (a shift of
# dx*h + dy pixels of the column-major runs, taken from the final background
# run), its score scaled by 1 - 0.045 k, and for k >= 15 another category
# (false positives elsewhere). 734 real results x 50 copies x 20 = 734,000
# results (val2017: 724,953). Written once as JSON under $FASTRLE_BENCH_CACHE
# (default ~/.cache/fastrle/bench).

VAL_IMAGES = 5000
VAL_JITTERS = 20
VAL_VERSION = 1


def cache_dir() -> Path:
    """Where generated bench data is kept."""
    return Path(os.environ.get("FASTRLE_BENCH_CACHE") or Path.home() / ".cache" / "fastrle" / "bench")


def val2017_like(root: Path, n_images: int = VAL_IMAGES) -> Tuple[dict, List[dict]]:
    """The ground truth dataset and results list of the val2017-scale case
    (see above), made from the real files in ``root``."""
    from .. import _core  # counts <-> strings

    gt = json.loads((root / GT_FILE).read_text())
    res = json.loads((root / RES_FILE).read_text())
    cats = sorted(c["id"] for c in gt["categories"])
    by_img: Dict[int, List[dict]] = {}
    for a in gt["annotations"]:
        by_img.setdefault(a["image_id"], []).append(a)
    res_by_img: Dict[int, List[Tuple[dict, np.ndarray]]] = {}
    for r in res:
        runs = _core.parse(_core.sources([r["segmentation"]], same_size=False), True)
        res_by_img.setdefault(r["image_id"], []).append((r, np.array(runs.arena[: runs.offsets[1]], np.uint32)))
    images, anns, results = [], [], []
    aid = 1
    for c in range(n_images):
        src = gt["images"][c % len(gt["images"])]
        copy_no, new_id, h = c // len(gt["images"]), c + 1, src["height"]
        images.append(dict(src, id=new_id))
        for j, a in enumerate(by_img.get(src["id"], [])):
            if (j + copy_no) % 8 == 7:
                continue
            anns.append(dict(a, id=aid, image_id=new_id))
            aid += 1
        for j, (r, cnts) in enumerate(res_by_img.get(src["id"], [])):
            for k in range(VAL_JITTERS):
                shift = ((k + copy_no) % 5) * h + (3 * k + j + copy_no) % 7
                new = cnts
                if len(cnts) % 2 == 1 and len(cnts) > 1 and cnts[-1] > shift > 0:
                    new = cnts.copy()
                    new[0] += shift
                    new[-1] -= shift
                cat = r["category_id"] if k < 15 else cats[(cats.index(r["category_id"]) + k) % len(cats)]
                results.append({"image_id": new_id, "category_id": cat, "score": round(r["score"] * (1 - 0.045 * k), 6),
                                "segmentation": {"size": r["segmentation"]["size"],
                                                 "counts": _core.to_string(new, True)}})
    return {"images": images, "annotations": anns, "categories": gt["categories"]}, results


def val2017_files(root: Path, n_images: int) -> Tuple[Path, Path]:
    """The case's JSON files in :func:`cache_dir`, generated when missing."""
    base = cache_dir() / f"val2017like-v{VAL_VERSION}-{n_images}"
    gt_path, res_path = Path(f"{base}-gt.json"), Path(f"{base}-results.json")
    if not (gt_path.is_file() and res_path.is_file()):
        gt, res = val2017_like(root, n_images)
        gt_path.parent.mkdir(parents=True, exist_ok=True)
        for path, obj in ((gt_path, gt), (res_path, res)):
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(obj))
            tmp.replace(path)
    return gt_path, res_path


def _status_mb(field: str) -> float:
    """A memory line of /proc/self/status in MB (VmRSS: now; VmHWM: the peak
    of this process image, which unlike ru_maxrss does not carry the parent's
    peak over the exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def eval_child(argv: List[str]) -> int:
    """One evaluator, in its own process: ``key gt.json results.json out.npz``
    (key: stock, patched, fastrle (fastrle.cocoeval's loadRes and COCOeval),
    fastrle-1t (the same on one thread), or a peer of :func:`eval_peers`).
    Loads both files (untimed), then times loadRes + evaluate + accumulate +
    summarize; writes the arrays to out.npz and prints one JSON line with the
    phase times (s) and memory (MB: resident before the timed part, peak)."""
    import time

    key, gt_path, res_path, out = argv
    threads = None
    if key.startswith("fastrle"):
        from .. import cocoeval as fce_mod
        threads = 1 if key.endswith("-1t") else 0
        fce_mod.COCOeval.threads = threads
    if key in ("stock", "patched") or key.startswith("fastrle"):
        from pycocotools.coco import COCO
        import pycocotools.cocoeval as ceval
        eval_cls: Any = (lambda *a: ceval.COCOeval(*a)) if key == "patched" else (
            fce_mod.COCOeval if key.startswith("fastrle") else ceval.COCOeval)
        coco_cls: Any = COCO
    else:
        mod, coco_name, eval_name = {p[0]: p[1:] for p in eval_peers()}[key]
        m = __import__(mod)
        coco_cls, eval_cls = getattr(m, coco_name), getattr(m, eval_name)
    with _quiet():
        gt = coco_cls(str(gt_path))
    results = json.loads(Path(res_path).read_text())
    if key == "patched":
        from .. import patch_pycocotools
        patch_pycocotools()
    rss0 = _status_mb("VmRSS")
    t = [time.perf_counter()]
    c = [time.process_time()]

    def lap() -> None:
        t.append(time.perf_counter())
        c.append(time.process_time())
    with _quiet():
        # fastrle.cocoeval's users call its loadRes (what patch_pycocotools installs)
        dt = fce_mod.loadRes(gt, results) if key.startswith("fastrle") else gt.loadRes(results)
        lap()
        e = eval_cls(gt, dt, "segm")
        e.evaluate()
        lap()
        e.accumulate()
        lap()
        e.summarize()
        lap()
    peak = _status_mb("VmHWM")
    arrs: Dict[str, Any] = {k: np.asarray(e.eval[k]) for k in EVAL_ARRAYS if k in e.eval}
    arrs["stats"] = np.asarray(e.stats)
    np.savez(out, **arrs)
    print(json.dumps({"loadRes": t[1] - t[0], "evaluate": t[2] - t[1], "accumulate": t[3] - t[2],
                      "summarize": t[4] - t[3], "total": t[4] - t[0], "cpu": c[4] - c[0],
                      "cpu_phases": [c[i + 1] - c[i] for i in range(4)], "load": os.getloadavg()[0],
                      "rss_before_mb": rss0, "peak_mb": peak}))
    return 0


def run_child(key: str, gt_path: Path, res_path: Path, out: Path, timeout: float = 3600) -> Dict[str, Any]:
    """:func:`eval_child` in a fresh interpreter; its JSON line, or {"error": ...}."""
    import subprocess
    import sys

    from .. import __file__ as pkg_file
    env = dict(os.environ)
    src = str(Path(pkg_file).resolve().parents[1])
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    code = "import sys; from fastrle.bench.percall import eval_child; sys.exit(eval_child(sys.argv[1:]))"
    try:
        p = subprocess.run([sys.executable, "-c", code, key, str(gt_path), str(res_path), str(out)],
                           capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["exit " + str(p.returncode)])[-1]}
    return dict(json.loads(p.stdout.strip().splitlines()[-1]))


def case_cocoeval_val2017(d: BenchData, stack: contextlib.ExitStack) -> CaseSpec:
    """i. A val2017-scale segm evaluation: every evaluator once in a fresh
    process, arrays checked against stock before any time is shown."""
    import tempfile

    root = data_dir()
    if root is None or import_or_none("pycocotools.cocoeval") is None or import_or_none("fastrle.cocoeval") is None:
        why = "real COCO files (tests/data or $FASTRLE_COCO_DATA)" if root is None else "pycocotools"
        return [], [], [skip_note(why)], None
    n = 100 if d.cfg.quick else VAL_IMAGES
    gt_path, res_path = val2017_files(root, n)
    keys = ["stock", "patched", "fastrle-1t", "fastrle"] + [p[0] for p in eval_peers()]
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    out: Dict[str, Dict[str, Any]] = {}
    arrays: Dict[str, Dict[str, np.ndarray]] = {}
    for key in keys:
        out[key] = run_child(key, gt_path, res_path, tmp / f"{key}.npz")
        if "error" not in out[key]:
            with np.load(tmp / f"{key}.npz") as z:
                arrays[key] = {k: z[k] for k in z.files}
    gt_n = len(json.loads(gt_path.read_text())["annotations"])
    notes = [f"{n} images, {gt_n} ground truth, results: {res_path} (generated from the real files; "
             "see percall.py); each evaluator once in a fresh process, after loading both files (untimed)"]
    ref = arrays.get("stock")
    equal = {k: ref is not None and k in arrays and same_arrays(arrays[k], ref)
             and arrays[k]["stats"].tobytes() == ref["stats"].tobytes() for k in keys if k != "stock"}
    notes.append("precision, recall, scores and stats byte-equal to stock: "
                 + ", ".join(f"{k} {v}" for k, v in equal.items()))
    stock_t, stock_c = out["stock"].get("total"), out["stock"].get("cpu")
    for key in keys:
        r = out[key]
        if "error" in r:
            notes.append(f"{key}: failed: {r['error']}")
            continue
        ratio = (f", stock / this {stock_t / r['total']:.1f}x (wall) {stock_c / r['cpu']:.1f}x (CPU)"
                 if stock_t and stock_c and key != "stock" else "")
        notes.append(f"{key}: whole evaluation (loadRes + evaluate + accumulate + summarize) {r['total']:.2f} s "
                     f"wall, {r['cpu']:.2f} s CPU (loadRes {r['loadRes']:.2f}, evaluate {r['evaluate']:.2f}, "
                     f"accumulate {r['accumulate']:.2f}, summarize {r['summarize']:.2f} wall){ratio}; memory "
                     f"{r['rss_before_mb']:.0f} MB before, peak {r['peak_mb']:.0f} MB; loadavg {r['load']:.1f}"
                     + ("" if equal.get(key, True) else "; RESULTS DIFFER FROM STOCK"))

    def verify() -> Optional[bool]:
        return equal.get("fastrle", False) and equal.get("fastrle-1t", False) and equal.get("patched", False)

    return [], [], notes, verify


register("percall", "g", "fastrle.mask per call: one COCO annotation, 100 SA-1B-like masks", case_percall,
         modes=("dropin",), per_family=True)
# 15 rounds: one round of every evaluator takes a few seconds under load
register("cocoeval", "h", "COCOeval segm on the real files: stock, patched, fastrle, the peers", case_cocoeval,
         modes=("dropin",), min_repeats=15)
register("cocoeval-val2017", "i", "COCOeval segm at val2017 scale (generated): every evaluator, time and memory",
         case_cocoeval_val2017, modes=("large",))
