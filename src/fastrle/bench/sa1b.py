"""SA-1B benchmarks: file-to-masks end to end, and spatial features on runs
versus the dense numpy computation.

Rows are :class:`fastrle.bench.CaseResult` objects, timed with the same
interleaved median-of-repeats engine as ``fastrle bench``, so
:func:`fastrle.bench.format_table` and :func:`fastrle.bench.to_json_obj`
print them.

========= ==== ===========================================================
name      id   what
========= ==== ===========================================================
sa1b      s1   SA-1B JSON file -> (N,H,W) masks: fastrle.sa1b.load().decode
               into a warm buffer vs json.load + per-mask pycocotools
               decode + np.stack (the common recipe)
features  s2   centroids / containment / IoU matrix on runs vs dense numpy
========= ==== ===========================================================
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from .. import synthetic
from ..synthetic import sa1b_image_dict as make_sa1b_dict
from . import harness as bench

__all__ = ["SA1BBenchConfig", "make_sa1b_dict", "run", "dense_features", "CASES"]


def _common_recipe(path: str, pm: Any) -> np.ndarray:
    """What users write today: json.load, decode mask by mask, stack."""
    with open(path) as f:
        obj = json.load(f)
    return np.stack([pm.decode(a["segmentation"]) for a in obj["annotations"]])


def dense_features(masks: np.ndarray) -> Dict[str, np.ndarray]:
    """Centroids, containment and IoU from dense (N, H, W) masks with plain
    numpy, the fastest way we found: axis sums for centroids; packbits and
    bitwise_count for the N x N intersections (a float32 matmul is slower)."""
    return {"centroids": dense_centroids(masks), "containment": dense_containment(masks),
            "iou": dense_iou(masks)}


def dense_centroids(masks: np.ndarray) -> np.ndarray:
    """(N, 2) ``[x, y]`` mean pixel position; NaN for empty masks."""
    m = masks.view(np.uint8) if masks.dtype == np.bool_ else masks
    n, h, w = m.shape
    cols = m.sum(axis=1, dtype=np.int64)  # (N, W)
    rows = m.sum(axis=2, dtype=np.int64)  # (N, H)
    area = cols.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.stack([cols @ np.arange(w) / area, rows @ np.arange(h) / area], axis=1)


def dense_intersections(masks: np.ndarray) -> np.ndarray:
    """(N, N) int64 pairwise intersection counts."""
    n = masks.shape[0]
    p = np.packbits(masks.reshape(n, -1).view(np.uint8) != 0, axis=1)
    inter = np.zeros((n, n), np.int64)
    for i in range(n):
        inter[i, i:] = np.bitwise_count(p[i] & p[i:]).sum(axis=1, dtype=np.int64)
        inter[i:, i] = inter[i, i:]
    return inter


def dense_containment(masks: np.ndarray) -> np.ndarray:
    """``[i, j] = |i ∩ j| / |j|``, 0 where ``|j| = 0``."""
    inter = dense_intersections(masks).astype(np.float64)
    a = np.diag(inter).copy()
    return np.where(a[None, :] > 0, inter / np.where(a > 0, a, 1.0)[None, :], 0.0)


def dense_iou(masks: np.ndarray) -> np.ndarray:
    """IoU matrix, 0 where the union is empty."""
    inter = dense_intersections(masks).astype(np.float64)
    a = np.diag(inter).copy()
    u = a[:, None] + a[None, :] - inter
    return np.where(u > 0, inter / np.where(u > 0, u, 1.0), 0.0)


@dataclass
class SA1BBenchConfig:
    """Sizes and repeats; defaults are one SA-1B image (100 masks, 1500x2250)."""

    h: int = 1500
    w: int = 2250
    masks: int = 100
    threads: int = 2
    repeats: int = 5
    seed: int = 0
    cases: Optional[List[str]] = None
    min_sample_s: float = 0.02
    tmpdir: Optional[str] = None

    @classmethod
    def quick_config(cls, **overrides: Any) -> "SA1BBenchConfig":
        """Tiny sizes for smoke tests."""
        base: Dict[str, Any] = dict(h=150, w=225, masks=10, repeats=3, min_sample_s=0.001)
        base.update(overrides)
        return cls(**base)


class SA1BBenchData:
    """The synthetic SA-1B file on disk, warm buffers and dense masks."""

    def __init__(self, cfg: SA1BBenchConfig, stack: contextlib.ExitStack) -> None:
        self.cfg = cfg
        self.dir = cfg.tmpdir or stack.enter_context(tempfile.TemporaryDirectory(prefix="fastrle-sa1b-"))

    @cached_property
    def rles(self) -> List[Dict[str, Any]]:
        c = self.cfg
        return synthetic.sa1b_like(c.masks, c.h, c.w, seed=c.seed)

    @cached_property
    def path(self) -> str:
        p = os.path.join(self.dir, "sa_1.json")
        with open(p, "w") as f:
            json.dump(make_sa1b_dict(self.rles, 1, self.cfg.seed), f)
        return p

    @cached_property
    def warm(self) -> np.ndarray:
        return bench.faulted((self.cfg.masks, self.cfg.h, self.cfg.w))

    @cached_property
    def dense(self) -> np.ndarray:
        from ..api import decode

        return decode(self.rles)


def case_sa1b(d: SA1BBenchData) -> bench.CaseSpec:
    """s1. File to (N,H,W) masks, end to end."""
    from .. import sa1b

    pm = bench.import_or_none("pycocotools.mask")
    t, path = d.cfg.threads, d.path
    comps = [
        bench.Comparator("fastrle", f"sa1b.load(path).decode(out=warm, threads={t})",
                         lambda: sa1b.load(path).decode(out=d.warm, threads=t)),
        bench.Comparator("fastrle-1t", "sa1b.load(path).decode(out=warm, threads=1)",
                         lambda: sa1b.load(path).decode(out=d.warm, threads=1)),
        bench.Comparator("fastrle-load", "sa1b.load(path)  (read + parse only)",
                         lambda: sa1b.load(path)),
    ]
    notes = [f"JSON parser: {sa1b.json_backend()}; file {os.path.getsize(path) / 1e6:.2f} MB, "
             "in the page cache for every comparator",
             "the recipe allocates its stack per call, as users' code does"]
    if pm:
        comps.append(bench.Comparator(
            "recipe", "json.load + [pycocotools.mask.decode(seg) for each] + np.stack",
            lambda: _common_recipe(path, pm)))
    else:
        notes.append(bench.skip_note("pycocotools"))

    def verify() -> Optional[bool]:
        got = sa1b.load(path).decode(out=d.warm, threads=t)
        ref = _common_recipe(path, pm) if pm else d.dense
        return bool(np.array_equal(got, ref))

    ratios: List[bench.RatioSpec] = [
        ("recipe / fastrle", "recipe", "fastrle", ">=", 20.0),
        ("recipe / fastrle-1t", "recipe", "fastrle-1t", "", None),
    ]
    return comps, ratios, notes, verify


def case_features(d: SA1BBenchData) -> bench.CaseSpec:
    """s2. Features on runs (from the annotation's ragged table) vs dense numpy."""
    from .. import features, sa1b

    ann = sa1b.load(d.path)
    dense = d.dense
    comps = [
        bench.Comparator("centroids", "features.centroids(ann)", lambda: features.centroids(ann)),
        bench.Comparator("centroids-dense", "numpy axis sums on (N,H,W)", lambda: dense_centroids(dense)),
        bench.Comparator("containment", "features.containment(ann)", lambda: features.containment(ann)),
        bench.Comparator("containment-dense", "numpy packbits + bitwise_count: containment",
                         lambda: dense_containment(dense)),
        bench.Comparator("iou", "features.iou_matrix(ann)", lambda: features.iou_matrix(ann)),
        bench.Comparator("iou-dense", "numpy packbits + bitwise_count: IoU", lambda: dense_iou(dense)),
    ]
    notes = ["run-based times include parsing the counts strings; dense times exclude decoding"]

    def verify() -> bool:
        ok = np.allclose(features.centroids(ann), dense_centroids(dense), rtol=0, atol=1e-9, equal_nan=True)
        ok &= np.allclose(features.containment(ann), dense_containment(dense), rtol=0, atol=1e-9)
        ok &= np.allclose(features.iou_matrix(ann), dense_iou(dense), rtol=0, atol=1e-9)
        return bool(ok)

    ratios: List[bench.RatioSpec] = [
        ("dense / runs: centroids", "centroids-dense", "centroids", ">=", 10.0),
        ("dense / runs: containment", "containment-dense", "containment", ">=", 10.0),
        ("dense / runs: iou_matrix", "iou-dense", "iou", ">=", 10.0),
    ]
    return comps, ratios, notes, verify


CASES: Dict[str, tuple] = {
    "sa1b": ("s1", "SA-1B file -> (N,H,W) masks vs json.load + pycocotools + np.stack", case_sa1b),
    "features": ("s2", "centroids / containment / IoU on runs vs dense numpy", case_features),
}


def run(cfg: Optional[SA1BBenchConfig] = None, *, progress: bool = False,
        tick: Optional[Callable[[], None]] = None) -> List[bench.CaseResult]:
    """Run the SA-1B cases (``cfg.cases``, default all) and return one
    :class:`fastrle.bench.CaseResult` per case, in table order. Each number
    is the median of ``cfg.repeats`` interleaved rounds."""
    cfg = cfg or SA1BBenchConfig()
    names = cfg.cases or list(CASES)
    for n in names:
        if n not in CASES:
            raise ValueError(f"unknown SA-1B case {n!r}; choose from {sorted(CASES)}")
    out = []
    with contextlib.ExitStack() as stack:
        data = SA1BBenchData(cfg, stack)
        for i, name in enumerate(names, 1):
            if progress:
                print(f"fastrle bench --sa1b: case {i}/{len(names)}: {name} ...", flush=True,
                      file=__import__("sys").stderr)
            cid, title, builder = CASES[name]
            res = bench.measure(bench.CaseResult(name, cid, title), builder(data),
                                cfg.repeats, cfg.min_sample_s, tick)
            out.append(res)
    return out


if __name__ == "__main__":  # python -m fastrle.bench.sa1b [--quick]
    import sys

    conf = SA1BBenchConfig.quick_config() if "--quick" in sys.argv else SA1BBenchConfig()
    print(bench.format_table(run(conf, progress=True)))
