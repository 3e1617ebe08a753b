"""Fused transform cases of ``fastrle bench`` (id g): masks at the size, place
and format the model wants, against full decode + the fastest dense step.

========= ==== ====================================================================
name      id   what
========= ==== ====================================================================
resize    g    decode(size=) nearest 683x1024 and 256x256, area 683x1024, vs full
               decode + torch interpolate / cv2.resize / cv2 INTER_AREA, and vs
               pycocotools decode + cv2.resize
roi       g    roi_align 28x28 over each mask's own box (sampling_ratio 2, -1) vs
               full decode + torchvision.ops.roi_align
packed    g    decode(packed=True) at full size vs full decode + np.packbits, and
               vs the unpacked full decode
========= ==== ====================================================================

Run with ``fastrle bench --case resize roi packed`` or ``--mode transforms``.
Every comparator runs on one thread (fastrle ``threads=1``, torch and cv2 set
to one thread for the case), so the ratios compare work, not cores.

Buffers: fastrle writes into warm preallocated outputs (rewritten before every
call, untimed); "full decode" is fastrle's decode into the warm full-size
buffer. The dense steps after it allocate their outputs as their users' code
does (torch interpolate, np.packbits, roi_align on ``.float()``), except
``cv2.resize``, which writes into a warm ``dst`` per mask.
"""

from __future__ import annotations

import contextlib
from functools import partial
from typing import Any, List, Tuple

import numpy as np

from .harness import (WARM_NOTE, BenchData, CaseSpec, Comparator, calls, faulted, fastrle_or_none, import_or_none,
                      skip_note, touch, version_of, register)


def _sizes(d: BenchData) -> Tuple[Tuple[int, int], Tuple[int, int]]:
    """SAM's long side 1024 (683x1024 for 1500x2250) and 256x256, scaled
    with the image for --quick runs so that both stay downscales."""
    h, w = d.cfg.h, d.cfg.w
    big = (max(1, h * 683 // 1500), max(1, w * 1024 // 2250))
    small = (max(1, h * 256 // 1500), max(1, w * 256 // 2250))
    return big, small


def _one_thread(stack: contextlib.ExitStack, notes: List[str]) -> Tuple[Any, Any]:
    """torch and cv2 (when installed) limited to one thread for the case."""
    torch, cv2 = import_or_none("torch"), import_or_none("cv2")
    for what, mod, get, put in (("torch", torch, "get_num_threads", "set_num_threads"),
                                ("opencv (cv2)", cv2, "getNumThreads", "setNumThreads")):
        if mod is None:
            notes.append(skip_note(what))
            continue
        stack.callback(getattr(mod, put), getattr(mod, get)())
        getattr(mod, put)(1)
        notes.append(f"{what} {mod.__version__}, 1 thread")
    return torch, cv2


def _warm(d: BenchData, key: str, shape: Tuple[int, ...], dtype: Any) -> np.ndarray:
    return d.cached(key, partial(faulted, shape, dtype))


def case_resize(d: BenchData, stack: contextlib.ExitStack) -> CaseSpec:
    """g. decode(size=) vs full decode + dense resize."""
    fr, pm = fastrle_or_none(), import_or_none("pycocotools.mask")
    notes = [WARM_NOTE]
    torch, cv2 = _one_thread(stack, notes)
    big, small = _sizes(d)
    n = len(d.rles)
    comps: List[Comparator] = []
    ratios: List[Tuple[str, str, str, str, Any]] = []
    if not fr:
        return comps, ratios, notes + [skip_note("fastrle core")], None
    o_big = _warm(d, "tf_big", (n,) + big, np.uint8)
    o_small = _warm(d, "tf_small", (n,) + small, np.uint8)
    o_area = _warm(d, "tf_area", (n,) + big, np.float32)
    full = d.warm
    bh, bw = big
    sh, sw = small
    comps += [
        Comparator("fastrle-big", f"fastrle.decode(rles, out=warm, size={big}, threads=1)",
                   lambda: fr.decode(d.rles, out=o_big, size=big, threads=1), touch(o_big)),
        Comparator("fastrle-small", f"fastrle.decode(rles, out=warm, size={small}, threads=1)",
                   lambda: fr.decode(d.rles, out=o_small, size=small, threads=1), touch(o_small)),
        Comparator("fastrle-area", f"fastrle.decode(rles, out=warm, size={big}, mode='area', threads=1)",
                   lambda: fr.decode(d.rles, out=o_area, size=big, mode="area", threads=1), touch(o_area)),
    ]
    if torch is not None:
        F = torch.nn.functional
        tfull = torch.from_numpy(full)[:, None]
        for key, size in (("big", big), ("small", small)):
            comps.append(Comparator(
                f"full+torch-{key}", f"fastrle.decode(out=warm) + torch interpolate(batch, {size}, 'nearest')",
                calls(partial(fr.decode, d.rles, out=full, threads=1),
                      partial(F.interpolate, tfull, size=size, mode="nearest")), touch(full)))
            ratios.append((f"full+torch {size} / fastrle", f"full+torch-{key}", f"fastrle-{key}", ">=",
                           5.0 if key == "big" else 10.0))
    if cv2 is not None:
        def cv2_each(dst: np.ndarray, size: Tuple[int, int], interp: int) -> None:
            for i in range(n):
                cv2.resize(full[i], (size[1], size[0]), dst=dst[i], interpolation=interp)

        for key, size, o in (("big", big, o_big), ("small", small, o_small)):
            comps.append(Comparator(
                f"full+cv2-{key}", "fastrle.decode(out=warm) + cv2.resize(INTER_NEAREST, dst=warm) per mask",
                calls(partial(fr.decode, d.rles, out=full, threads=1),
                      partial(cv2_each, o, size, cv2.INTER_NEAREST)), touch(full)))
            ratios.append((f"full+cv2 {size} / fastrle", f"full+cv2-{key}", f"fastrle-{key}", ">=",
                           5.0 if key == "big" else 10.0))

        def area_each() -> None:
            fr.decode(d.rles, out=full, threads=1)
            for i in range(n):
                cv2.resize(full[i].astype(np.float32), (bw, bh), dst=o_area[i], interpolation=cv2.INTER_AREA)

        comps.append(Comparator("full+cv2-area", "fastrle.decode(out=warm) + cv2.resize(float32, INTER_AREA) "
                                "per mask", area_each, touch(full)))
        ratios.append((f"full+cv2 INTER_AREA {big} / fastrle", "full+cv2-area", "fastrle-area", ">=", 5.0))
        if pm:
            def pycoco_cv2() -> None:
                for r in d.rles:
                    m = np.ascontiguousarray(pm.decode(r))
                    cv2.resize(m, (bw, bh), interpolation=cv2.INTER_NEAREST)

            comps.append(Comparator("pycocotools+cv2", f"pycocotools.mask.decode(rle) + cv2.resize per mask "
                                    f"(pycocotools {version_of('pycocotools')})", pycoco_cv2))
            ratios.append((f"pycocotools+cv2 {big} / fastrle", "pycocotools+cv2", "fastrle-big", ">=", 50.0))
        else:
            notes.append(skip_note("pycocotools"))
    notes.append("the target is against the fastest dense resize: both torch and cv2 lines must pass")

    def verify() -> bool | None:
        if torch is None:
            return None
        ref = fr.decode(d.rles)
        t = torch.from_numpy(ref)[:, None].float()
        ok = np.array_equal(fr.decode(d.rles, size=big),
                            torch.nn.functional.interpolate(t, size=big, mode="nearest")[:, 0].numpy())
        ok &= np.array_equal(fr.decode(d.rles, size=small),
                             torch.nn.functional.interpolate(t, size=small, mode="nearest")[:, 0].numpy())
        if cv2 is not None:
            area = np.stack([cv2.resize(m.astype(np.float32), (bw, bh), interpolation=cv2.INTER_AREA)
                             .reshape(bh, bw) for m in ref[:8]])
            ok &= bool(np.abs(fr.decode(d.rles[:8], size=big, mode="area") - area).max() <= 1e-5)
        return bool(ok)

    return comps, ratios, notes, verify


def _tv_roi_align(tvo: Any, torch: Any, full: np.ndarray, rois: Any, sr: int) -> Any:
    return tvo.roi_align(torch.from_numpy(full)[:, None].float(), rois, 28, 1.0, sr)


def case_roi(d: BenchData, stack: contextlib.ExitStack) -> CaseSpec:
    """g. roi_align 28x28 over each mask's own box vs full decode + torchvision."""
    fr, tvo = fastrle_or_none(), import_or_none("torchvision.ops")
    notes = [WARM_NOTE, "boxes: each mask's own tight box (x1, y1, x2, y2)"]
    torch, _ = _one_thread(stack, notes)
    comps: List[Comparator] = []
    ratios: List[Tuple[str, str, str, str, Any]] = []
    if not fr:
        return comps, ratios, notes + [skip_note("fastrle core")], None
    n = len(d.rles)
    bb = fr.bbox(d.rles)
    boxes = np.concatenate([bb[:, :2], bb[:, :2] + bb[:, 2:]], 1).astype(np.float32)
    out = _warm(d, "tf_roi", (n, 28, 28), np.float32)
    full = d.warm
    for sr in (2, -1):
        comps.append(Comparator(f"fastrle-sr{sr}", f"fastrle.roi_align(rles, boxes, 28, sampling_ratio={sr}, "
                                "out=warm, threads=1)",
                                partial(fr.roi_align, d.rles, boxes, 28, sampling_ratio=sr, out=out, threads=1),
                                touch(out)))
    if torch is not None and tvo is not None:
        rois = torch.cat([torch.arange(n, dtype=torch.float32)[:, None], torch.from_numpy(boxes)], 1)
        notes.append(f"torchvision {version_of('torchvision')}: roi_align(dense[:, None].float(), rois, 28, 1.0, sr); "
                     "rois carry the batch index i of mask i")
        for sr in (2, -1):
            comps.append(Comparator(
                f"full+tv-sr{sr}", f"fastrle.decode(out=warm) + torchvision roi_align(.float(), sampling_ratio={sr})",
                calls(partial(fr.decode, d.rles, out=full, threads=1),
                      partial(_tv_roi_align, tvo, torch, full, rois, sr)),
                touch(full)))
            ratios.append((f"full+torchvision / fastrle, sampling_ratio={sr}", f"full+tv-sr{sr}", f"fastrle-sr{sr}",
                           ">=", 5.0))
    else:
        notes.append(skip_note("torch/torchvision"))

    def verify() -> bool | None:
        if torch is None or tvo is None:
            return None
        k = min(n, 12)
        dense = torch.from_numpy(fr.decode(d.rles[:k]))[:, None].float()
        r = torch.cat([torch.arange(k, dtype=torch.float32)[:, None], torch.from_numpy(boxes[:k])], 1)
        ok = True
        for sr in (2, -1):
            ref = tvo.roi_align(dense, r, 28, 1.0, sr)[:, 0].numpy()
            ok &= bool(np.abs(fr.roi_align(d.rles[:k], boxes[:k], 28, sampling_ratio=sr) - ref).max() <= 1e-5)
        return bool(ok)

    return comps, ratios, notes, verify


def case_packed(d: BenchData, stack: contextlib.ExitStack) -> CaseSpec:
    """g. packed=True at full size vs full decode + np.packbits and vs full decode."""
    fr = fastrle_or_none()
    notes = [WARM_NOTE, "np.packbits allocates its output (it has no out=)"]
    comps: List[Comparator] = []
    if not fr:
        return comps, [], notes + [skip_note("fastrle core")], None
    n, h, w = len(d.rles), d.cfg.h, d.cfg.w
    out = _warm(d, "tf_packed", (n, h, (w + 7) // 8), np.uint8)
    full = d.warm
    comps += [
        Comparator("fastrle-packed", "fastrle.decode(rles, out=warm, packed=True, threads=1)",
                   lambda: fr.decode(d.rles, out=out, packed=True, threads=1), touch(out)),
        Comparator("fastrle-full", "fastrle.decode(rles, out=warm, threads=1)",
                   lambda: fr.decode(d.rles, out=full, threads=1), touch(full)),
        Comparator("full+packbits", "fastrle.decode(out=warm) + np.packbits(axis=-1)",
                   lambda: np.packbits(fr.decode(d.rles, out=full, threads=1), axis=-1), touch(full)),
        Comparator("fastrle-packed-fresh", "fastrle.decode(rles, packed=True, threads=1)",
                   lambda: fr.decode(d.rles, packed=True, threads=1)),
        Comparator("fastrle-full-fresh", "fastrle.decode(rles, threads=1)",
                   lambda: fr.decode(d.rles, threads=1)),
    ]
    # issue 25: packed >= 1.3x the unpacked decode, warm and fresh, and >= 3x decode + packbits
    ratios = [("full+packbits / packed", "full+packbits", "fastrle-packed", ">=", 3.0),
              ("full decode / packed", "fastrle-full", "fastrle-packed", ">=", 1.3),
              ("fresh: full decode / packed", "fastrle-full-fresh", "fastrle-packed-fresh", ">=", 1.3)]

    def verify() -> bool | None:
        return bool(np.array_equal(fr.decode(d.rles, packed=True), np.packbits(fr.decode(d.rles), axis=-1)))

    return comps, ratios, notes, verify


for _name, _title, _builder in [
    ("resize", "SA-1B image, decode at size (nearest, area), 1 thread", case_resize),
    ("roi", "SA-1B image, roi_align 28x28 over each mask's box, 1 thread", case_roi),
    ("packed", "SA-1B image, packed=True at full size, 1 thread", case_packed),
]:
    register(_name, "g", _title, _builder, modes=("transforms",), per_family=True)
