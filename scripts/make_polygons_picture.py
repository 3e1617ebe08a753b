#!/usr/bin/env python
"""Regenerate docs/polygons.png: polygons with holes from fastrle.to_polygons
drawn over an image.

Masks: a few SA-1B-like blobs from fastrle.synthetic and some shapes with
holes (a ring with an island in its hole, a plate with several holes), on a
muted version of synthetic.jpeg_bytes' picture. The fills come from
fastrle.viz.overlay; on top, the rings of ``to_polygons(mode="ccomp",
approx="simple")`` (pixel outlines): outer rings in yellow, holes in cyan,
vertices as dots. Drawn at 2x so the one-pixel steps show.

Usage: python scripts/make_polygons_picture.py [OUT]   (needs Pillow)
"""
from __future__ import annotations

import io
import os
import sys

import numpy as np

import fastrle
from fastrle import synthetic, viz

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "docs", "polygons.png")
H, W, SEED, SCALE = 300, 450, 5, 2


def muted_image(h: int, w: int, seed: int) -> np.ndarray:
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(synthetic.jpeg_bytes(h, w, seed))).convert("RGB"), np.float64)
    grey = rgb.mean(axis=2, keepdims=True)
    return np.clip(30 + 0.4 * grey * np.array([0.85, 0.95, 1.1]), 0, 255).astype(np.uint8)


def shapes(h: int, w: int) -> list:
    """Masks with holes, holes in holes and thin parts."""
    yy, xx = np.mgrid[:h, :w]
    out = []
    r = np.hypot(yy - 90, xx - 110)
    ring = (r < 70) & (r > 40)
    ring |= np.hypot(yy - 90, xx - 110) < 18  # an island inside the hole
    out.append(ring)
    plate = (abs(yy - 200) < 70) & (abs(xx - 320) < 100)
    for cy, cx, rad in ((170, 270, 18), (230, 300, 25), (175, 360, 12), (235, 380, 15)):
        plate &= np.hypot(yy - cy, xx - cx) > rad
    plate &= ~((abs(yy - 200) < 2) & (abs(xx - 400) < 18))  # a thin slot
    out.append(plate)
    e = ((yy - 60) / 40.0) ** 2 + ((xx - 330) / 80.0) ** 2 < 1
    e &= ((yy - 60) / 20.0) ** 2 + ((xx - 330) / 55.0) ** 2 > 1
    out.append(e)
    return [np.ascontiguousarray(m, np.uint8) for m in out]


def main(argv: list) -> int:
    from PIL import Image, ImageDraw

    out = os.path.abspath(argv[0] if argv else OUT)
    blobs = [r for r in synthetic.sa1b_like(12, H, W, seed=SEED) if fastrle.area(r) < 0.02 * H * W][:6]
    rles = fastrle.encode(np.stack(shapes(H, W))) + blobs
    img = viz.overlay(muted_image(H, W, SEED), rles, alpha=0.3, contours=False)
    pic = Image.fromarray(img).resize((W * SCALE, H * SCALE), Image.NEAREST)
    draw = ImageDraw.Draw(pic)
    for poly in fastrle.to_polygons(rles, mode="ccomp", approx="simple"):
        for ring, parent in zip(poly.rings, poly.parents):
            xy = [((ring[k] + 0.5) * SCALE, (ring[k + 1] + 0.5) * SCALE) for k in range(0, len(ring), 2)]
            color = (80, 230, 255) if parent >= 0 else (255, 220, 60)
            draw.line(xy + xy[:1], fill=color, width=2)
            for x, y in xy:
                draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=color)
    pic.save(out, optimize=True)
    print(f"wrote {out} ({os.path.getsize(out) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
