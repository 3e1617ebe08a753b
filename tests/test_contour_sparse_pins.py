"""Pins for to_polygons' sparse store (csrc/rle_contour.c): a thick frame
has inner pixels (all 8 neighbours foreground, stored as inner pieces) next
to border points on every side; its rings are written by hand (checked
against cv2 on small frames), and on a 20000 x 20000 frame the store must
stay sparse: a border point stored as inner makes the core redo the mask in
a crop of the box (400 MB), which the peak RSS shows."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))
from test_polygons import cv2_rings, raw_contours, ring_by_hand, ring_rle

from fastrle import _contours


@pytest.mark.parametrize("n,t", [(40, 10), (33, 5), (12, 3)])
def test_thick_rings_by_hand_on_every_store(n: int, t: int) -> None:
    pytest.importorskip("cv2")
    m = np.ones((n, n), np.uint8)
    m[t:-t, t:-t] = 0
    rings, hier = ring_by_hand(n, t)
    cs, want = cv2_rings(m, "ccomp", "simple")
    assert [c.tolist() for c in cs] == rings and want.tolist() == hier  # the hand-written rings are cv2's
    rle = ring_rle(n, t)
    for store in (_contours.STORE_CROP, _contours.STORE_SPARSE, _contours.STORE_AUTO):
        pts, offs, h = raw_contours([rle], "ccomp", "simple", False, store)[0]
        assert [pts[offs[r]:offs[r + 1]].tolist() for r in range(2)] == rings and h.tolist() == hier


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS from /proc/self/status")
def test_thick_frame_stays_sparse():
    code = f"""
import sys
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_polygons import ring_by_hand, ring_rle
import fastrle
n, t = 20000, 12
rle = ring_rle(n, t)
fastrle.to_polygons(ring_rle(64, t))  # the modules and their first allocations
def status(key):
    with open("/proc/self/status") as f:
        return next(int(v.split()[1]) for v in f if v.startswith(key + ":")) * 1024
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
got = fastrle.to_polygons(rle, mode="ccomp", approx="simple", format="cv2", threads=1)
grew = status("VmHWM") - before
rings, hier = ring_by_hand(n, t)
assert [r.tolist() for r in got.rings] == rings and got.hierarchy.tolist() == hier
print(grew)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert int(p.stdout.split()[-1]) < 64 << 20
