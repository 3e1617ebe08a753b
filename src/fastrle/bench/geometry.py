"""Geometry benchmark: ``fastrle.to_polygons`` against pycocotools decode +
``cv2.findContours``, one mask at a time.

======== ==== ================================================================
name     id   what
======== ==== ================================================================
geometry p    100 SA-1B-like 1500x2250 masks, RETR_CCOMP, CHAIN_APPROX_NONE:
              to_polygons(format="cv2") on 1 and on --threads threads vs
              per mask pycocotools.mask.decode + cv2.findContours, and its
              C core alone on 1 and --threads threads, and on 2000 masks
              of 64x64 (in cache: the machine's own 2-thread ceiling for
              this code), CRC-32 of in-cache buffers on 1 and --threads
              threads (the CPUs' compute ceiling) and a memset of the 100
              masks' bytes on 1 and --threads threads (the memory's) (info);
              then, in
              child processes, 92 masks of 3024x4032 (roboflow's case):
              seconds and peak RSS of each whole conversion; and one
              20000x20000 ring touching all four borders (its box is the
              frame: 400 MB as bytes): seconds and peak RSS
======== ==== ================================================================

``verify`` checks that both give the same rings and hierarchy first.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Optional

import numpy as np

from .harness import (BenchData, CaseSpec, Comparator, fastrle_or_none, import_or_none, memset, memset_threads,
                      register, skip_note, touch, version_of)

__all__ = ["reference_contours", "large_run", "frame_ring", "LARGE_N", "LARGE_H", "LARGE_W", "RING_N"]

LARGE_N, LARGE_H, LARGE_W = 92, 3024, 4032
RING_N = 20000
SMALL_N, SMALL_HW = 2000, 64  # the thread-scaling ceiling's masks


CRC_REPS = 24  # sums per buffer per call of the compute ceiling: about as long as the C core's call


def _crc(buf: bytes) -> None:
    for _ in range(CRC_REPS):
        zlib.crc32(buf)


def frame_ring(n: int, t: int = 2) -> Dict[str, Any]:
    """An n x n mask whose foreground is the t-pixel frame on all four
    borders, as column-major counts: runs and border O(n), box n x n."""
    return {"size": [n, n], "counts": [0, t * n + t] + [n - 2 * t, 2 * t] * (n - 2 * t - 1) + [n - 2 * t, t + t * n]}

# One conversion in a fresh process: (seconds, peak RSS in bytes, RSS
# before it); the RLEs come from a JSON file, read before the clock starts
# (where Linux allows, the peak is reset after reading it).
_CHILD = r"""
import json, resource, sys, time
which, path = sys.argv[1], sys.argv[2]
with open(path) as f:
    rles = json.load(f)
if which == "fastrle":
    import fastrle
    run = lambda: fastrle.to_polygons(rles, mode="ccomp", format="cv2", threads=int(sys.argv[3]))
else:
    import cv2
    import pycocotools.mask as pm
    def run():
        return [cv2.findContours(pm.decode(r), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE) for r in rles]
def status(key):  # a /proc/self/status field in KiB (Linux), else the peak so far
    try:
        with open("/proc/self/status") as f:
            return next(int(l.split()[1]) for l in f if l.startswith(key + ":"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
import gc
gc.collect()
try:  # reset the peak (VmHWM) to the current RSS: the JSON load's peak does not count
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
except OSError:
    pass
before = status("VmRSS")
t = time.perf_counter()
run()
t = time.perf_counter() - t
peak = status("VmHWM")
print(json.dumps([t, peak * 1024, before * 1024]))
"""


def reference_contours(rles: List[Dict[str, Any]]) -> List[Any]:
    """Per mask, cv2.findContours(pycocotools decode, RETR_CCOMP, CHAIN_APPROX_NONE)."""
    import cv2
    import pycocotools.mask as pm
    return [cv2.findContours(pm.decode(r), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE) for r in rles]


def large_run(which: str, rles: List[Dict[str, Any]], threads: int = 1) -> Optional[List[float]]:
    """[seconds, peak RSS bytes, RSS bytes before] of one whole conversion of
    ``rles`` in a child process (``which``: "fastrle" or "pycocotools+cv2"),
    or None when the child fails."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "rles.json")
        with open(path, "w") as f:
            json.dump(rles, f)
        env = dict(os.environ)
        src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        p = subprocess.run([sys.executable, "-c", _CHILD, which, path, str(threads)], capture_output=True,
                           text=True, env=env)
        if p.returncode != 0:
            return None
        return [float(v) for v in json.loads(p.stdout.strip().splitlines()[-1])]


def _same(got: Any, ref: Any) -> bool:
    for g, (cs, hier) in zip(got, ref):
        if len(g.rings) != len(cs):
            return False
        if not all(np.array_equal(a, c.reshape(-1, 2)) for a, c in zip(g.rings, cs)):
            return False
        if len(cs) and not np.array_equal(g.hierarchy, hier.reshape(-1, 4)):
            return False
    return True


def case_geometry(d: BenchData, stack: contextlib.ExitStack) -> CaseSpec:
    """p. Polygons with holes: runs in C vs decode + cv2.findContours per mask."""
    fr, pm, cv2 = fastrle_or_none(), import_or_none("pycocotools.mask"), import_or_none("cv2")
    c = d.cfg
    rles = d.rles
    notes = [f"{len(rles)} SA-1B-like masks of {c.h}x{c.w}, RETR_CCOMP + CHAIN_APPROX_NONE, "
             "fastrle format='cv2' (int32 arrays and cv2's hierarchy)"]
    if fr is None:
        return [], [], notes + [skip_note("fastrle core")], None
    from ..geometry import to_polygons

    comps: List[Comparator] = [
        Comparator("fastrle", "fastrle.to_polygons(rles, mode='ccomp', format='cv2', threads=1)",
                   lambda: to_polygons(rles, mode="ccomp", format="cv2", threads=1)),
        Comparator("fastrle-threads", f"the same, threads={c.threads}",
                   lambda: to_polygons(rles, mode="ccomp", format="cv2", threads=c.threads)),
    ]
    # the C core and its glue alone, on runs parsed once: what threads can
    # speed up (to_polygons also collects the sources and builds its Rings
    # in Python, serially; it parses on the core's threads)
    from .. import _contours, _core, synthetic
    runs = _core.parse(_core.sources(rles, same_size=False), True)

    def core(th: int) -> Any:
        return _contours.contours(runs.arena, runs.offsets, runs.heights, runs.widths, _contours.CCOMP,
                                  _contours.APPROX_NONE, False, th)

    # the machine's own ceiling for this code: the same core on many small
    # masks (every box in L1/L2, no memory traffic to share, even shares);
    # where this is below 1.7, the CPUs (e.g. two vCPUs on one physical
    # core) cap the target, not fastrle
    sn = SMALL_N if not c.quick else SMALL_N // 10
    small = synthetic.sa1b_like(sn // 4, SMALL_HW, SMALL_HW, seed=c.seed + 11) * 4  # each mask 4 times
    sruns = _core.parse(_core.sources(small, same_size=False), True)

    def small_core(th: int) -> Any:
        return _contours.contours(sruns.arena, sruns.offsets, sruns.heights, sruns.widths, _contours.CCOMP,
                                  _contours.APPROX_NONE, False, th)

    crc_bufs = [os.urandom(256 * 1024) for _ in range(c.threads)]
    crc_pool = stack.enter_context(ThreadPoolExecutor(c.threads))
    comps += [Comparator("fastrle-core", "the C core alone (fastrle._contours.contours on parsed runs), threads=1",
                         lambda: core(1)),
              Comparator("fastrle-core-threads", f"the C core alone, threads={c.threads}",
                         lambda: core(c.threads)),
              Comparator("core-small", f"the C core on {sn} masks of {SMALL_HW}x{SMALL_HW} (in cache), "
                         "threads=1", lambda: small_core(1)),
              Comparator("core-small-threads", f"the same, threads={c.threads}", lambda: small_core(c.threads))]
    # the CPUs' own, free of this code: CRC-32 (zlib releases the GIL) of
    # 256 KB buffers in cache, the same sums on 1 and on T threads (two
    # vCPUs that share a physical core give well under 2x here)
    comps += [Comparator("crc-1t", f"zlib.crc32 of {c.threads} x {CRC_REPS} in-cache 256 KB buffers, 1 thread",
                         lambda: list(map(_crc, crc_bufs))),
              Comparator("crc-threads", f"the same sums on {c.threads} threads",
                         lambda: list(crc_pool.map(_crc, crc_bufs)))]
    # and the memory's: a memset over the SA-1B buffer on 1 and on T threads
    # (the tracing's boxes are mostly in cache, so this bounds only the
    # part of it that is memory traffic)
    comps += [Comparator("memset-1t", "ctypes.memset over the 100 masks' bytes, 1 thread", lambda: memset(d.warm),
                         touch(d.warm)),
              Comparator("memset-threads", f"the same memset, {c.threads} threads",
                         memset_threads(d.warm, c.threads, stack), touch(d.warm))]
    ratios: List[Any] = [("fastrle / fastrle-threads", "fastrle", "fastrle-threads", ">=", 1.7),
                         ("C core: 1 thread / threads", "fastrle-core", "fastrle-core-threads", "", None),
                         ("ceiling: small masks, 1 thread / threads", "core-small", "core-small-threads", "", None),
                         ("ceiling: compute (crc32), 1 thread / threads", "crc-1t", "crc-threads", "", None),
                         ("ceiling: memset, 1 thread / threads", "memset-1t", "memset-threads", "", None)]
    if pm is None or cv2 is None:
        notes.append(skip_note("pycocotools and OpenCV"))
        return comps, ratios, notes, None
    comps.append(Comparator("pycocotools+cv2", f"pycocotools {version_of('pycocotools')} decode + cv2 "
                            f"{version_of('cv2')} findContours, per mask", lambda: reference_contours(rles)))
    ratios.insert(0, ("pycocotools+cv2 / fastrle", "pycocotools+cv2", "fastrle", ">=", 10.0))

    # roboflow's case, in child processes so each peak RSS is its own
    lh, lw = (LARGE_H, LARGE_W) if c.h >= 1500 else (c.h, c.w)
    big = synthetic.sa1b_like(LARGE_N, lh, lw, seed=c.seed + 7)
    for which, th in (("fastrle", 1), ("fastrle", c.threads), ("pycocotools+cv2", 1)):
        r = large_run(which, big, th)
        label = which + (f" threads={th}" if which == "fastrle" else "")
        if r is None:
            notes.append(f"{LARGE_N} masks of {lh}x{lw}, {label}: the child process failed")
        else:
            notes.append(f"{LARGE_N} masks of {lh}x{lw}, {label}: {r[0]:.3f} s, peak RSS {r[1] / 1e6:.0f} MB "
                         f"for the process ({(r[1] - r[2]) / 1e6:.0f} MB above its RSS before the call)")
    rn = RING_N if c.h >= 1500 else 2000
    r = large_run("fastrle", [frame_ring(rn)], 1)
    notes.append(f"a {rn}x{rn} ring touching all four borders (box {rn * rn / 1e6:.0f} MB as bytes), fastrle: "
                 + ("the child process failed" if r is None else
                    f"{r[0]:.3f} s, {(r[1] - r[2]) / 1e6:.1f} MB above the RSS before the call"))

    def verify() -> bool:
        ref = reference_contours(rles)
        return _same(to_polygons(rles, mode="ccomp", format="cv2", threads=1), ref) and \
            _same(to_polygons(rles, mode="ccomp", format="cv2", threads=c.threads), ref)

    return comps, ratios, notes, verify


register("geometry", "p", "to_polygons on 100 SA-1B masks (+ 92 of 3024x4032, peak RSS)", case_geometry,
         modes=("geometry",))
