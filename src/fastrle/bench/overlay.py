"""Overlay benchmark: ``fastrle.viz.overlay`` against Segment Anything's
``show_anns`` recipe (sort by area, decode each mask, paint it) in numpy.

======== ==== ================================================================
name     id   what
======== ==== ================================================================
overlay  v    100 SA-1B-like masks on a 1500x2250 image, contours on:
              fastrle.viz.overlay vs pycocotools decode per mask + numpy
              blending, and vs fastrle.decode per mask + the same numpy
======== ==== ================================================================

The numpy recipe draws exactly fastrle's picture (same integer fill, draw
order and contour rule), so ``verify`` compares the two pixel for pixel.
Its contours are the mask minus its erosion (separable shifted ANDs over the
whole image), kept as pixel indices until every fill is done.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Dict, List

import numpy as np

from .harness import BenchData, CaseSpec, Comparator, fastrle_or_none, import_or_none, skip_note, version_of, register

__all__ = ["numpy_overlay", "erode"]

ALPHA = 0.35
CONTOUR_WIDTH = 1


def erode(m: np.ndarray, cw: int) -> np.ndarray:
    """m eroded by a (2cw+1) square, outside the image counting as background."""
    h = m.copy()
    for d in range(1, cw + 1):
        h[:, d:] &= m[:, :-d]
        h[:, :-d] &= m[:, d:]
        h[:, :d] = False
        h[:, -d:] = False
    v = h.copy()
    for d in range(1, cw + 1):
        v[d:] &= h[:-d]
        v[:-d] &= h[d:]
        v[:d] = False
        v[-d:] = False
    return v


def numpy_overlay(image: np.ndarray, anns: List[Dict[str, Any]], decode: Callable[[Any], np.ndarray],
                  colors: np.ndarray, alpha: float = ALPHA, cw: int = CONTOUR_WIDTH) -> np.ndarray:
    """The show_anns recipe, drawing fastrle's picture: ``anns`` are records
    with ``segmentation`` (an RLE dict) and ``area``, as SAM and SA-1B give."""
    a = round(alpha * 255)
    img = image.copy()
    flat = img.reshape(-1, 3)
    order = sorted(range(len(anns)), key=lambda i: (-anns[i]["area"], i))
    edges = []
    for i in order:
        m = decode(anns[i]["segmentation"]).astype(bool, copy=False)
        px = img[m].astype(np.uint16)
        img[m] = ((px * (255 - a) + colors[i].astype(np.uint16) * a + 127) // 255).astype(np.uint8)
        if cw:
            edges.append((i, np.flatnonzero(m & ~erode(m, cw))))
    for i, idx in edges:
        flat[idx] = colors[i]
    return img


def case_overlay(d: BenchData, stack: contextlib.ExitStack) -> CaseSpec:
    """v. Overlay of an SA-1B-like image: runs in C vs decode + numpy blending."""
    fr, pm = fastrle_or_none(), import_or_none("pycocotools.mask")
    rles = d.rles
    c = d.cfg
    image = d.cached("overlay_image", lambda: np.random.default_rng(c.seed).integers(
        0, 256, (c.h, c.w, 3), dtype=np.uint8))
    notes = [f"{len(rles)} masks on a {c.h}x{c.w} RGB image, alpha {ALPHA}, contours of "
             f"{CONTOUR_WIDTH} px; numpy = sort by area, decode each mask, paint (integer formula), "
             "contours as mask & ~erosion, all on the full image"]
    comps: List[Comparator] = []
    viz = import_or_none("fastrle.viz")
    if fr is None or viz is None:
        return [], [], notes + [skip_note("fastrle core")], None
    from ..api import area

    colors = viz.palette(len(rles))
    areas = np.asarray(area(rles))
    anns = [{"segmentation": r, "area": int(areas[i])} for i, r in enumerate(rles)]
    out = np.empty_like(image)
    kw = dict(alpha=ALPHA, contour_width=CONTOUR_WIDTH)
    comps.append(Comparator("fastrle", "fastrle.viz.overlay(image, rles, threads=1)",
                            lambda: viz.overlay(image, rles, out=out, threads=1, **kw)))
    comps.append(Comparator("fastrle-threads", f"fastrle.viz.overlay(image, rles, threads={c.threads})",
                            lambda: viz.overlay(image, rles, out=out, threads=c.threads, **kw)))
    comps.append(Comparator("fastrle-dense", "per mask fastrle.decode(rle) + numpy blending",
                            lambda: numpy_overlay(image, anns, lambda r: fr.decode(r, threads=1), colors)))
    ratios = [("fastrle-dense / fastrle", "fastrle-dense", "fastrle", ">=", 5.0),
              ("fastrle / fastrle-threads", "fastrle", "fastrle-threads", "", None)]
    if pm:
        comps.append(Comparator("pycocotools", f"pycocotools {version_of('pycocotools')}: per mask "
                                "pycocotools.mask.decode(rle) + numpy blending",
                                lambda: numpy_overlay(image, anns, pm.decode, colors)))
        ratios.insert(0, ("pycocotools / fastrle", "pycocotools", "fastrle", ">=", 20.0))
    else:
        notes.append(skip_note("pycocotools"))

    def verify() -> bool:
        got = viz.overlay(image, rles, **kw)
        ref = numpy_overlay(image, anns, pm.decode if pm else (lambda r: fr.decode(r)), colors)
        return bool(np.array_equal(got, ref)) and bool(np.array_equal(got, viz.overlay(
            image, rles, threads=c.threads, **kw)))

    return comps, ratios, notes, verify


register("overlay", "v", "100 SA-1B masks drawn on a 1500x2250 image, with contours", case_overlay,
         modes=("viz",))
