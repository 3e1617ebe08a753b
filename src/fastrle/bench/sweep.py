"""The drop-in over sizes (mode ``dropin``): ``fastrle bench --case sweep``.

========= ==== ===================================================================
name      id   what
========= ==== ===================================================================
sweep     s    every ``fastrle.mask`` function against pycocotools on masks from
               1x1 to 1500x2250, one to 100 at a time: none may be slower
========= ==== ===================================================================

The percall case times one COCO annotation and 100 SA-1B masks; per-call
overhead and size-dependent paths hide in between (tiny masks, polygons given
as NumPy scalars, uncompressed RLE). Each (function, size, count) is one
ratio with the target pycocotools / fastrle >= 1.
"""
from __future__ import annotations

import contextlib
from functools import partial
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .harness import BenchData, CaseSpec, Comparator, import_or_none, skip_note, register
from .percall import MASK_MODULES, RIVALS, agrees, gives, rival_ratios

# (h, w, counts of masks); the largest size stops at 10 masks (34 MB of output)
GRID = [(1, 1, (1, 100)), (10, 10, (1, 100)), (100, 100, (1, 100)), (480, 640, (1, 100)),
        (1500, 2250, (1, 10))]
QUICK_GRID = [(1, 1, (1, 10)), (10, 10, (1, 10)), (64, 48, (1, 10))]


def _masks(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """(h, w, n) F-order uint8: a box per mask and 2% of pixels flipped, so
    runs are many and short as well as long."""
    m = np.zeros((h, w, n), np.uint8, order="F")
    for k in range(n):
        y0, x0 = int(rng.integers(0, max(1, h // 2))), int(rng.integers(0, max(1, w // 2)))
        m[y0:y0 + int(rng.integers(1, max(2, h // 2))), x0:x0 + int(rng.integers(1, max(2, w // 2))), k] = 1
    if h * w > 16:
        m ^= (rng.random(m.shape) < 0.02).astype(np.uint8)
    return m


def _calls(pm: Any, n: int, h: int, w: int, rng: np.random.Generator) -> Dict[str, Callable[[Any], Any]]:
    """name -> fn(module), all on the same inputs, the way users call them."""
    dense = _masks(rng, n, h, w)
    rles = pm.encode(dense)
    strs = [{"size": r["size"], "counts": r["counts"].decode()} for r in rles]
    polys = [[(rng.uniform(0, min(h, w), 20)).tolist()] for _ in range(n)]
    boxes = rng.uniform(0, min(h, w), (n, 4))
    unc = [{"size": [h, w], "counts": [h * w // 3, h * w // 3, h * w - 2 * (h * w // 3)]}] * n
    crowd = [0] * n
    return {
        "encode": lambda m: m.encode(dense),
        "decode": lambda m: m.decode(rles),
        "area": lambda m: m.area(strs),
        "toBbox": lambda m: m.toBbox(rles),
        "merge": lambda m: m.merge(strs),
        "iou": lambda m: m.iou(rles, rles, crowd),
        "frPyObjects(polygons)": lambda m: [m.frPyObjects(p, h, w) for p in polys],
        "frPyObjects(boxes)": lambda m: m.frPyObjects(boxes, h, w),
        "frPyObjects(uncompressed)": lambda m: m.frPyObjects(unc, h, w),
    }


def _rival_comps(tag: str, fn: Callable[[Any], Any], want: Any, rivals: List[Tuple[str, Any]],
                 differs: List[str]) -> List[Comparator]:
    """Comparators of the rivals that have this call and answer as pycocotools does;
    the others are listed in ``differs`` (or skipped, when the call raises)."""
    out = []
    for key, m in rivals:
        try:
            got = fn(m)
        except Exception:  # no such function or input form
            continue
        if not agrees(got, want):
            differs.append(f"{key} {tag}")
            continue
        out.append(Comparator(f"{tag}:{key}", f"{m.__name__}.{tag}", partial(fn, m)))
    return out


def case_sweep(d: BenchData, stack: contextlib.ExitStack) -> CaseSpec:
    """s. Every fastrle.mask function vs pycocotools over sizes and batch lengths."""
    fm, pm = import_or_none("fastrle.mask"), import_or_none("pycocotools.mask")
    if fm is None or pm is None:
        return [], [], [skip_note("fastrle.mask or pycocotools.mask")], None
    rng = np.random.default_rng(d.cfg.seed)
    rivals = [(r, m) for r, m in ((r, import_or_none(MASK_MODULES[r])) for r in RIVALS if r != "pycocotools")
              if m is not None]
    differs: List[str] = []
    comps: List[Comparator] = []
    ratios: List[Tuple[str, str, str, str, Optional[float]]] = []
    checks: List[Tuple[str, Callable[[], bool]]] = []
    for h, w, counts in (QUICK_GRID if d.cfg.quick else GRID):
        for n in counts:
            for name, fn in _calls(pm, n, h, w, rng).items():
                tag = f"{name} {h}x{w} n={n}"
                want = fn(pm)
                checks.append((tag, partial(gives, fn, fm, want)))
                comps.append(Comparator(f"{tag}:fastrle", f"fastrle.mask.{tag}", partial(fn, fm)))
                comps.append(Comparator(f"{tag}:pycocotools", f"pycocotools.mask.{tag}", partial(fn, pm)))
                ratios.append((f"{tag}: pycocotools / fastrle", f"{tag}:pycocotools", f"{tag}:fastrle", ">=", 1.0))
                comps += _rival_comps(tag, fn, want, rivals, differs)
    ratios += rival_ratios([(t, t) for t in dict.fromkeys(c.key.rsplit(":", 1)[0] for c in comps)],
                           {c.key for c in comps})
    bad = [t for t, chk in checks if not chk()]
    notes = ["masks: a box each, 2% of pixels flipped; polygons: 10 random points; counts as users pass them "
             "(bytes from encode, str for area and merge)",
             "fastrle.mask == pycocotools.mask on every input: " + ("yes" if not bad else "NO: " + ", ".join(bad)),
             "rivals timed: " + (", ".join(r for r, _ in rivals) or "none installed")
             + "; differs from pycocotools, not timed: " + ("; ".join(differs) or "none")]

    def verify() -> Optional[bool]:
        return not bad

    return comps, ratios, notes, verify


register("sweep", "s", "fastrle.mask over sizes 1x1..1500x2250 and 1..100 masks vs pycocotools", case_sweep,
         modes=("dropin",))
