"""hypothesis strategies for binary masks of several characters."""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st


@st.composite
def masks(draw, max_side: int = 64, max_n: int = 4, min_side: int = 1) -> np.ndarray:
    """(N, H, W) uint8 0/1 masks: random, blobs, stripes, empty, full, runs."""
    n = draw(st.integers(1, max_n))
    h = draw(st.integers(min_side, max_side))
    w = draw(st.integers(min_side, max_side))
    kind = draw(st.sampled_from(["random", "blob", "stripes", "empty", "full", "runs", "first"]))
    seed = draw(st.integers(0, 2**32 - 1))
    r = np.random.default_rng(seed)
    if kind == "random":
        m = r.random((n, h, w)) < draw(st.floats(0.05, 0.95))
    elif kind == "blob":
        yy, xx = np.mgrid[0:h, 0:w]
        m = np.zeros((n, h, w), bool)
        for i in range(n):
            for _ in range(r.integers(1, 4)):
                cy, cx = r.random() * h, r.random() * w
                ry, rx = 1 + r.random() * h / 2, 1 + r.random() * w / 2
                m[i] |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
    elif kind == "stripes":
        axis = r.integers(0, 2)
        period = int(r.integers(1, 6))
        idx = np.arange(h if axis == 0 else w) // period % 2 == 1
        m = np.broadcast_to(idx[:, None] if axis == 0 else idx[None, :], (n, h, w)).copy()
    elif kind == "empty":
        m = np.zeros((n, h, w), bool)
    elif kind == "full":
        m = np.ones((n, h, w), bool)
    elif kind == "first":
        m = np.zeros((n, h, w), bool)
        m[:, 0, 0] = True
    else:  # long runs in column-major order
        flat = np.zeros(n * h * w, bool)
        pos = 0
        v = bool(r.integers(0, 2))
        while pos < flat.size:
            ln = int(r.integers(1, max(2, h * 3)))
            flat[pos:pos + ln] = v
            pos += ln
            v = not v
        m = flat.reshape(n, w, h).transpose(0, 2, 1)
    return np.ascontiguousarray(m, dtype=np.uint8)
