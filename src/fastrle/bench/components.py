"""Connected components and Segment Anything's small-region cleanup on the
runs, against decode + OpenCV (``fastrle bench --case components``).

========== ==== ==============================================================
name       id   what
========== ==== ==============================================================
components k    100 SA-1B-like 1500x2250 masks: fastrle.components vs
                pycocotools decode + cv2.connectedComponentsWithStats per
                mask (and + pycocotools encode of each component, the same
                output), vs rlemasklib's connected_components;
                fastrle.remove_small_regions (holes, then islands, as SAM's
                automatic mask generator runs it) vs SAM's formula on
                pycocotools-decoded masks
========== ==== ==============================================================

``verify`` checks everything before timing: fastrle's labels, stats,
centroids (bit for bit) and component strings against decode + cv2 +
encode, rlemasklib's components as a set, and the cleaned masks against
SAM's formula, single thread and threaded alike.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, List, Tuple

import numpy as np

from .harness import BenchData, CaseSpec, Comparator, fastrle_or_none, import_or_none, register, skip_note, version_of

__all__ = ["sam_remove_small_regions", "AREA_THRESH"]

#: SAM's automatic mask generator runs the cleanup with min_mask_region_area;
#: 100 is the value its README and notebooks use.
AREA_THRESH = 100


def sam_remove_small_regions(cv2: Any, mask: np.ndarray, area_thresh: float, mode: str) -> Tuple[np.ndarray, bool]:
    """Segment Anything's remove_small_regions (segment_anything/utils/amg.py,
    Apache License 2.0, (c) Meta Platforms, Inc. and affiliates), with its
    cv2 passed in: the formula the case times against."""
    correct_holes = mode == "holes"
    working_mask = (correct_holes ^ mask).astype(np.uint8)
    n_labels, regions, stats, _ = cv2.connectedComponentsWithStats(working_mask, 8)
    sizes = stats[:, -1][1:]
    small_regions = [i + 1 for i, s in enumerate(sizes) if s < area_thresh]
    if len(small_regions) == 0:
        return mask, False
    fill_labels = [0] + small_regions
    if not correct_holes:
        fill_labels = [i for i in range(n_labels) if i not in fill_labels]
        if len(fill_labels) == 0:
            fill_labels = [int(np.argmax(sizes)) + 1]
    return np.isin(regions, fill_labels), True


def _text(counts: Any) -> str:
    return counts.decode() if isinstance(counts, bytes) else counts


def _sam_cleanup(cv2: Any, decode: Callable[[Any], np.ndarray], rles: List[dict]) -> List[np.ndarray]:
    """SAM's postprocess_small_regions per mask: holes, then islands."""
    out = []
    for r in rles:
        m = decode(r).astype(bool)
        m, _ = sam_remove_small_regions(cv2, m, AREA_THRESH, "holes")
        m, _ = sam_remove_small_regions(cv2, m, AREA_THRESH, "islands")
        out.append(m)
    return out


def case_components(d: BenchData, stack: contextlib.ExitStack) -> CaseSpec:
    """k. Components and small-region cleanup from the runs vs decode + cv2."""
    fr, pm, cv2, rl = (fastrle_or_none(), import_or_none("pycocotools.mask"), import_or_none("cv2"),
                       import_or_none("rlemasklib"))
    rles = d.rles
    c = d.cfg
    notes = [f"{len(rles)} SA-1B-like {c.h}x{c.w} masks, connectivity 8; cleanup: area_thresh {AREA_THRESH}, "
             "holes then islands (SAM's postprocess_small_regions); the decode + cv2 comparators do not "
             "re-encode their masks (fastrle's outputs are RLEs)"]
    if fr is None or cv2 is None:
        return [], [], notes + [skip_note("fastrle core" if fr is None else "cv2 (opencv-python-headless)")], None
    geo = import_or_none("fastrle.geometry")
    if geo is None:
        return [], [], notes + [skip_note("fastrle.geometry")], None
    decode = pm.decode if pm else (lambda r: fr.decode(r, threads=1))
    dec_name = f"pycocotools {version_of('pycocotools')}" if pm else "fastrle.decode"
    encode = pm.encode if pm else None

    # cv2 labels big images on its own threads; the single-thread comparators pin it to one
    stack.callback(cv2.setNumThreads, cv2.getNumThreads())

    def on_threads(n: int, fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            cv2.setNumThreads(n)
            return fn()
        return run

    def dense_cc() -> None:
        for r in rles:
            cv2.connectedComponentsWithStats(decode(r), connectivity=8)

    def dense_cc_rles() -> List[Any]:
        out = []
        for r in rles:
            m = decode(r)
            n, lab, stats, cents = cv2.connectedComponentsWithStats(m, connectivity=8)
            comp = [pm.encode(np.asfortranarray((lab == k).astype(np.uint8))) for k in range(1, n)] if pm else []
            out.append((stats, cents, comp))
        return out

    def cleanup(threads: int) -> Any:
        holes, _ = geo.remove_small_regions(rles, AREA_THRESH, "holes", threads=threads)
        return geo.remove_small_regions(holes, AREA_THRESH, "islands", threads=threads)

    comps: List[Comparator] = [
        Comparator("fastrle", "fastrle.components(rles, threads=1)",
                   lambda: geo.components(rles, threads=1)),
        Comparator("fastrle-threads", f"fastrle.components(rles, threads={c.threads})",
                   lambda: geo.components(rles, threads=c.threads)),
        Comparator("dense-cv2", f"per mask {dec_name} decode + cv2.connectedComponentsWithStats "
                   f"(cv2 {cv2.__version__}, 1 thread)", on_threads(1, dense_cc)),
        Comparator("dense-cv2-threads", f"the same, cv2 on {c.threads} threads", on_threads(c.threads, dense_cc)),
        Comparator("fastrle-rsr", "fastrle.remove_small_regions(holes), then (islands), threads=1",
                   lambda: cleanup(1)),
        Comparator("fastrle-rsr-threads", f"the same, threads={c.threads}", lambda: cleanup(c.threads)),
        Comparator("sam-rsr", f"per mask {dec_name} decode + SAM's remove_small_regions (holes, islands), "
                   "cv2 on 1 thread", on_threads(1, lambda: _sam_cleanup(cv2, decode, rles))),
    ]
    ratios = [("decode + cv2 / fastrle", "dense-cv2", "fastrle", ">=", 10.0),
              ("decode + cv2, threads / fastrle-threads", "dense-cv2-threads", "fastrle-threads", "", None),
              ("fastrle / fastrle-threads", "fastrle", "fastrle-threads", "", None),
              ("SAM formula / fastrle", "sam-rsr", "fastrle-rsr", ">=", 10.0),
              ("fastrle rsr / fastrle-rsr-threads", "fastrle-rsr", "fastrle-rsr-threads", "", None)]
    if pm:
        comps.append(Comparator("dense-cv2-rles", f"decode + cv2 (1 thread) + {dec_name} encode of each "
                                "component (fastrle's output)", on_threads(1, dense_cc_rles)))
        ratios.insert(1, ("decode + cv2 + encode / fastrle", "dense-cv2-rles", "fastrle", "", None))
    else:
        notes.append(skip_note("pycocotools (fastrle.decode stands in)"))
    if rl is not None:
        ver = version_of("rlemasklib")

        def rl_cc() -> List[Any]:
            out = []
            for r in rles:
                m = rl.RLEMask.from_dict(r)
                out.append(([k.to_dict() for k in m.connected_components(connectivity=8)],
                            m.connected_component_stats(connectivity=8)))
            return out

        comps.append(Comparator("rlemasklib", f"rlemasklib {ver}: per mask RLEMask.from_dict, "
                                "connected_components(8) to dicts + connected_component_stats(8)", rl_cc))
        ratios.append(("rlemasklib / fastrle", "rlemasklib", "fastrle", "", None))
    else:
        notes.append(skip_note("rlemasklib"))

    def verify() -> bool:
        ok = True
        for threads in (1, c.threads):
            got = geo.components(rles, threads=threads)
            for r, g in zip(rles, got):
                n, lab, stats, cents = cv2.connectedComponentsWithStats(decode(r), connectivity=8)
                ok &= g.num_labels == n and g.stats.tobytes() == stats.tobytes()
                ok &= g.centroids.tobytes() == cents.tobytes()
                if encode is not None:
                    want = [encode(np.asfortranarray((lab == k).astype(np.uint8)))["counts"].decode()
                            for k in range(1, n)]
                    ok &= [x["counts"] for x in g.rles] == want
            out, _ = cleanup(threads)
            for g, ref in zip(out, _sam_cleanup(cv2, decode, rles)):
                ok &= bool(np.array_equal(fr.decode(g).astype(bool), ref))
        if rl is not None:
            got = geo.components(rles, threads=1)
            for r, g in zip(rles, got):
                mine = sorted(x["counts"] for x in g.rles)
                theirs = sorted(_text(k.to_dict()["counts"]) for k in
                                rl.RLEMask.from_dict(r).connected_components(connectivity=8))
                ok &= mine == theirs
        return bool(ok)

    return comps, ratios, notes, verify


register("components", "k", "components and SAM's remove_small_regions on 100 SA-1B-like masks vs decode + cv2",
         case_components, modes=("geometry",))
