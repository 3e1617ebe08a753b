"""The default overlay palette: a fixed colour per mask index.

Mask ``i`` gets the HSV colour with hue ``frac(i * 0.6180339887498949)``
(golden-ratio steps, so masks with neighbouring indices get far-apart hues),
saturation ``0.85`` for even ``i`` and ``0.6`` for odd ``i``, and value
``0.95``, converted to RGB and rounded to uint8. It depends on nothing but
``i``: the same input always gives the same picture.
"""
from __future__ import annotations

import numpy as np

from .._args import int_arg

__all__ = ["palette", "GOLDEN"]

GOLDEN = 0.6180339887498949
"""Hue step between consecutive mask indices (1/phi)."""


def palette(n: int) -> np.ndarray:
    """(n, 3) uint8 RGB colours of masks 0..n-1 (see the module docstring)."""
    int_arg(n, "n", desc="a non-negative int")
    i = np.arange(int(n), dtype=np.float64)
    hue = (np.arange(int(n), dtype=np.float64) * GOLDEN) % 1.0
    sat = np.where(np.arange(int(n)) % 2 == 0, 0.85, 0.6)
    val = np.full_like(i, 0.95)
    # HSV -> RGB, the standard sector formula (as colorsys.hsv_to_rgb)
    h6 = hue * 6.0
    sector = np.floor(h6).astype(np.int64) % 6
    f = h6 - np.floor(h6)
    p = val * (1.0 - sat)
    q = val * (1.0 - sat * f)
    t = val * (1.0 - sat * (1.0 - f))
    table = np.stack([np.stack([val, t, p], 1), np.stack([q, val, p], 1), np.stack([p, val, t], 1),
                      np.stack([p, q, val], 1), np.stack([t, p, val], 1), np.stack([val, p, q], 1)])
    rgb = table[sector, np.arange(int(n))]
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8).reshape(int(n), 3)
