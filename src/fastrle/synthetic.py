"""Deterministic synthetic RLE data for benchmarks and tests.

Masks are smooth irregular blobs (thresholded sums of gaussians plus
low-frequency noise), built at low resolution and bilinearly upscaled inside a
random bounding region. Some have holes and several components. Rectangles are
never produced, because a rectangle encodes to one run per column and would
make decoders look faster than they are on real data.

RLE counts are computed straight from the blob's bounding region, so the full
``(N, H, W)`` stack is only materialised when ``dense=True`` is asked for.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Iterable, List, Literal, Optional, overload

import numpy as np

from ._pyrle import counts_to_string as _counts_to_string
from .optional import require

__all__ = ["sa1b_like", "coco_like", "blob_masks", "counts_to_string", "sa1b_image_dict",
           "jpeg_bytes", "write_sa1b_shard", "FAMILIES", "family_masks", "star_vertices",
           "noise_density", "ring_count"]

RLE = dict[str, Any]


# --- compressed-string encoding -------------------------------------------


def counts_to_string(counts: Iterable[int]) -> str:
    """Encode run counts as a COCO compressed string (pure Python, as
    pycocotools' ``rleToString``), for when no compiled encoder is present."""
    return _counts_to_string(counts).decode("ascii")


def _compressor() -> Callable[[list[np.ndarray], int, int], list[str]]:
    """Pick the uncompressed -> compressed converter.

    pycocotools is the reference, so synthetic data made with it cannot
    inherit a fastrle bug; fastrle.mask is next; pure Python is last.
    """
    for modname in ("pycocotools.mask", "fastrle.mask"):
        try:
            mod = __import__(modname, fromlist=["frPyObjects"])
            fr = mod.frPyObjects
        except Exception:  # missing or half-built package
            continue

        def conv(all_counts: list[np.ndarray], h: int, w: int, fr=fr) -> list[str]:
            objs = [{"size": [h, w], "counts": c.tolist()} for c in all_counts]
            res = fr(objs, h, w) if objs else []
            return [r["counts"].decode("ascii") if isinstance(r["counts"], bytes)
                    else r["counts"] for r in res]

        return conv
    return lambda all_counts, h, w: [counts_to_string(c) for c in all_counts]


# --- blob geometry ----------------------------------------------------------


def _interp_matrix(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) bilinear interpolation weights, align-corners style."""
    pos = (np.arange(n_out, dtype=np.float32) + 0.5) * (n_in / n_out) - 0.5
    pos = np.clip(pos, 0, n_in - 1)
    lo = np.floor(pos).astype(np.intp)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = pos - lo
    m = np.zeros((n_out, n_in), np.float32)
    rows = np.arange(n_out)
    m[rows, lo] += 1 - frac
    m[rows, hi] += frac
    return m


def _lowres_field(rng: np.random.Generator, gh: int, gw: int) -> np.ndarray:
    """Smooth random field on a (gh, gw) grid, near zero at the border."""
    yy = (np.arange(gh, dtype=np.float32) + 0.5) / gh
    xx = (np.arange(gw, dtype=np.float32) + 0.5) / gw
    f = np.zeros((gh, gw), np.float32)
    k = int(rng.integers(1, 7))
    for _ in range(k):
        cy, cx = rng.uniform(0.2, 0.8, 2)
        sy, sx = rng.uniform(0.08, 0.35, 2)
        wgt = rng.uniform(0.5, 1.0)
        f += wgt * np.exp(-((yy[:, None] - cy) ** 2) / (2 * sy * sy)
                          - ((xx[None, :] - cx) ** 2) / (2 * sx * sx))
    if rng.random() < 0.3:  # a dip inside the blob makes a hole
        cy, cx = rng.uniform(0.35, 0.65, 2)
        s = rng.uniform(0.04, 0.1)
        f -= rng.uniform(0.6, 1.2) * f.max() * np.exp(
            -((yy[:, None] - cy) ** 2 + (xx[None, :] - cx) ** 2) / (2 * s * s))
    # Coarse noise, upsampled, wiggles the boundary without making it jagged.
    nh, nw = max(2, gh // 4), max(2, gw // 4)
    noise = rng.standard_normal((nh, nw)).astype(np.float32)
    f += 0.25 * f.max() * (_interp_matrix(gh, nh) @ noise @ _interp_matrix(gw, nw).T)
    # Taper to zero at the region border so the bbox edges are not straight.
    taper = np.sqrt(np.sin(np.pi * yy))[:, None] * np.sqrt(np.sin(np.pi * xx))[None, :]
    return f * taper


def _blob(rng: np.random.Generator, bh: int, bw: int, fill: float) -> np.ndarray:
    """A (bh, bw) bool blob covering about ``fill`` of its region."""
    # Keep the low-res grid small; the upscale makes boundaries smooth.
    scale = max(1.0, max(bh, bw) / 40.0)
    gh, gw = max(3, math.ceil(bh / scale)), max(3, math.ceil(bw / scale))
    f = _lowres_field(rng, gh, gw)
    thr = np.quantile(f, 1.0 - fill)
    up = _interp_matrix(bh, gh) @ (f - thr) @ _interp_matrix(bw, gw).T
    return up > 0


def _region_counts(local: np.ndarray, y0: int, x0: int, h: int, w: int) -> np.ndarray:
    """COCO run counts of an (h, w) image that is zero outside ``local``.

    Works on the region only: transitions are found column by column in
    column-major order, then shifted to image coordinates.
    """
    bh, bw = local.shape
    padded = np.zeros((bw, bh + 2), bool)  # one column per row, zero-padded
    padded[:, 1:-1] = local.T
    flat = padded.ravel()
    k = np.flatnonzero(flat[1:] != flat[:-1])
    col, row = np.divmod(k, bh + 2)
    t = (x0 + col) * h + y0 + row
    # A run touching the bottom of one column and the top of the next gives
    # an end and a start at the same position: drop both to join the runs.
    uniq, n = np.unique(t, return_counts=True)
    t = uniq[n == 1]
    edges = np.concatenate(([0], t, [h * w]))
    counts = np.diff(edges)
    if counts.size > 1 and counts[-1] == 0:  # foreground reaches the last pixel
        counts = counts[:-1]
    return counts


@overload
def blob_masks(n: int, h: int, w: int, seed: int, *, area_range: tuple[float, float],
               dense: Literal[False] = ...) -> list[RLE]: ...
@overload
def blob_masks(n: int, h: int, w: int, seed: int, *, area_range: tuple[float, float],
               dense: Literal[True]) -> tuple[list[RLE], np.ndarray]: ...
@overload
def blob_masks(n: int, h: int, w: int, seed: int, *, area_range: tuple[float, float],
               dense: bool) -> list[RLE] | tuple[list[RLE], np.ndarray]: ...


def blob_masks(n: int, h: int, w: int, seed: int, *, area_range: tuple[float, float],
               dense: bool = False) -> list[RLE] | tuple[list[RLE], np.ndarray]:
    """Generate ``n`` blob masks with log-uniform relative areas.

    Args:
        n, h, w: number of masks and image size.
        seed: RNG seed; equal arguments give identical output.
        area_range: (min, max) fraction of the image covered by one mask.
            Log-uniform, so most masks are small and a few are large.
        dense: also return the (N, H, W) bool stack.

    Returns:
        RLE dicts ``{"size": [h, w], "counts": str}``, and the dense stack
        when ``dense`` is true.
    """
    rng = np.random.default_rng(seed)
    lo, hi = np.log(area_range[0]), np.log(area_range[1])
    all_counts: list[np.ndarray] = []
    stack = np.zeros((n, h, w), bool) if dense else None
    for i in range(n):
        area = float(np.exp(rng.uniform(lo, hi))) * h * w
        fill = float(rng.uniform(0.45, 0.7))  # blob / bounding-region ratio
        aspect = float(np.exp(rng.uniform(-0.9, 0.9)))
        box = area / fill
        bh = int(np.clip(round(math.sqrt(box * aspect)), 4, h))
        bw = int(np.clip(round(box / bh), 4, w))
        y0 = int(rng.integers(0, h - bh + 1))
        x0 = int(rng.integers(0, w - bw + 1))
        local = _blob(rng, bh, bw, fill)
        all_counts.append(_region_counts(local, y0, x0, h, w))
        if stack is not None:
            stack[i, y0:y0 + bh, x0:x0 + bw] = local
    rles: list[RLE] = [{"size": [h, w], "counts": s} for s in _compressor()(all_counts, h, w)]
    return (rles, stack) if stack is not None else rles


@overload
def sa1b_like(n: int = ..., h: int = ..., w: int = ..., seed: int = ...,
              dense: Literal[False] = ...) -> list[RLE]: ...
@overload
def sa1b_like(n: int = ..., h: int = ..., w: int = ..., seed: int = ..., *,
              dense: Literal[True]) -> tuple[list[RLE], np.ndarray]: ...
@overload
def sa1b_like(n: int = ..., h: int = ..., w: int = ..., seed: int = ...,
              dense: bool = ...) -> list[RLE] | tuple[list[RLE], np.ndarray]: ...


def sa1b_like(n: int = 100, h: int = 1500, w: int = 2250, seed: int = 0,
              dense: bool = False) -> list[RLE] | tuple[list[RLE], np.ndarray]:
    """SA-1B-like image: many small and a few large masks.

    Per-mask target areas are log-uniform in [1e-4, 0.42] of the image, so the
    average coverage is about 4% and the largest masks reach 30-40%.
    With ``dense=True`` returns ``(rles, masks)`` with masks (N, H, W) bool.
    """
    return blob_masks(n, h, w, seed, area_range=(1e-4, 0.42), dense=dense)


@overload
def coco_like(n: int = ..., h: int = ..., w: int = ..., seed: int = ...,
              dense: Literal[False] = ...) -> list[RLE]: ...
@overload
def coco_like(n: int = ..., h: int = ..., w: int = ..., seed: int = ..., *,
              dense: Literal[True]) -> tuple[list[RLE], np.ndarray]: ...
@overload
def coco_like(n: int = ..., h: int = ..., w: int = ..., seed: int = ...,
              dense: bool = ...) -> list[RLE] | tuple[list[RLE], np.ndarray]: ...


def coco_like(n: int = 10, h: int = 480, w: int = 640, seed: int = 0,
              dense: bool = False) -> list[RLE] | tuple[list[RLE], np.ndarray]:
    """COCO-like image: a handful of objects covering 0.1%-30% each.

    With ``dense=True`` returns ``(rles, masks)`` with masks (N, H, W) bool.
    """
    return blob_masks(n, h, w, seed, area_range=(1e-3, 0.3), dense=dense)


# --- shape families ------------------------------------------------------------
# Blobs flatter decoders that work per row span: their rows hold one or two
# spans. The other families stress what blobs do not: many spans per row
# (stars, stripes, strokes), long count strings (noise), nested boundaries
# (rings). Each mask is drawn inside its own box; its RNG is seeded from
# (seed, family, index), so one mask never depends on another's draws.

FAMILIES = ("blobs", "stars", "stripes", "strokes", "noise", "rings")


def _mask_rng(seed: int, family: str, i: int) -> np.random.Generator:
    return np.random.default_rng((seed, FAMILIES.index(family), i))


def _box(rng: np.random.Generator, h: int, w: int, area_range: tuple[float, float],
         aspect: float = 0.6) -> tuple[int, int, int, int]:
    """(y0, x0, bh, bw): a random box with log-uniform area inside (h, w)."""
    lo, hi = np.log(area_range[0]), np.log(area_range[1])
    area = float(np.exp(rng.uniform(lo, hi))) * h * w
    a = float(np.exp(rng.uniform(-aspect, aspect)))
    bh = int(np.clip(round(math.sqrt(area * a)), 4, h))
    bw = int(np.clip(round(area / bh), 4, w))
    return int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1)), bh, bw


def star_vertices(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A star-like polygon's vertices, ``(k, 2)`` float (x, y), 20 <= k <= 60.

    Outer and inner radii alternate around a centre, with jittered angles and
    radii; the polygon lies inside the (h, w) image.
    """
    k = 2 * int(rng.integers(10, 31))
    r_out = float(np.exp(rng.uniform(np.log(max(4.0, 0.03 * min(h, w))), np.log(0.5 * min(h, w)))))
    cx = float(rng.uniform(r_out, w - r_out)) if w > 2 * r_out else w / 2
    cy = float(rng.uniform(r_out, h - r_out)) if h > 2 * r_out else h / 2
    ang = (np.arange(k) + rng.uniform(-0.3, 0.3, k)) * (2 * np.pi / k) + rng.uniform(0, 2 * np.pi)
    rad = np.where(np.arange(k) % 2 == 0, r_out * rng.uniform(0.8, 1.0, k),
                   r_out * float(rng.uniform(0.25, 0.6)) * rng.uniform(0.85, 1.0, k))
    xy = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=1)
    xy[:, 0] = np.clip(xy[:, 0], 0, w)
    xy[:, 1] = np.clip(xy[:, 1], 0, h)
    return xy


def _fill_polygon(xy: np.ndarray, h: int, w: int) -> tuple[np.ndarray, int, int]:
    """Even-odd fill of pixel centres: (local mask, y0, x0) over the polygon's box."""
    x0, y0 = max(0, int(np.floor(xy[:, 0].min()))), max(0, int(np.floor(xy[:, 1].min())))
    x1, y1 = min(w, int(np.ceil(xy[:, 0].max())) + 1), min(h, int(np.ceil(xy[:, 1].max())) + 1)
    ys = np.arange(y0, y1) + 0.5
    diff = np.zeros((y1 - y0, x1 - x0 + 1), np.int32)
    a, b = xy, np.roll(xy, -1, axis=0)
    for (ax, ay), (bx, by) in zip(a, b):
        if ay == by:
            continue
        sel = (ys >= min(ay, by)) & (ys < max(ay, by))
        rows = np.flatnonzero(sel)
        cx = ax + (ys[rows] - ay) * (bx - ax) / (by - ay)
        # pixel x is right of the crossing when x + 0.5 > cx
        first = np.clip(np.floor(cx - 0.5).astype(np.int64) + 1 - x0, 0, x1 - x0)
        np.add.at(diff, (rows, first), 1)
    local = (np.cumsum(diff, axis=1)[:, :-1] & 1).astype(bool)
    return local, y0, x0


def _stripes(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, int, int]:
    y0, x0, bh, bw = _box(rng, h, w, (1e-3, 0.2))
    period = float(rng.uniform(3.0, 10.0))
    width = float(rng.uniform(1.0, min(4.0, period - 1.0)))
    theta = float(rng.uniform(-1.2, 1.2))  # mostly across rows: many spans per row
    yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
    u = xx * math.cos(theta) + yy * math.sin(theta)
    return np.mod(u, period) < width, y0, x0


def _strokes(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, int, int]:
    """Lines of glyphs: 2-4 strokes each between points of a 3x5 grid."""
    y0, x0, bh, bw = _box(rng, h, w, (1e-3, 0.15), aspect=1.2)
    size = int(rng.integers(8, 25))  # glyph height in pixels
    cw, ch = min(w, max(4, int(size * 0.6))), min(h, size)
    bh, bw = max(bh, ch), max(bw, cw)  # room for one glyph at least
    y0, x0 = min(y0, h - bh), min(x0, w - bw)
    thick = max(1.0, size / 10)
    local = np.zeros((bh, bw), bool)
    yy, xx = np.mgrid[0:ch, 0:cw].astype(np.float32)
    gx, gy = np.linspace(0.15, 0.85, 3) * cw, np.linspace(0.1, 0.9, 5) * ch
    bank = np.zeros((32, ch, cw), bool)  # an alphabet, then text drawn from it
    for g in bank:
        for _ in range(int(rng.integers(2, 5))):
            ax, bx = gx[rng.integers(0, 3, 2)]
            ay, by = gy[rng.integers(0, 5, 2)]
            dx, dy = bx - ax, by - ay
            t = np.clip(((xx - ax) * dx + (yy - ay) * dy) / max(dx * dx + dy * dy, 1e-6), 0, 1)
            g |= (xx - ax - t * dx) ** 2 + (yy - ay - t * dy) ** 2 <= thick * thick
    lefts = np.arange(0, bw - cw + 1, int(cw * 1.25))
    for top in range(0, bh - ch + 1, int(ch * 1.4)):
        pick = rng.integers(-4, 32, lefts.size)  # negative: a space between words
        for left, k in zip(lefts, pick):
            if k >= 0:
                local[top:top + ch, left:left + cw] = bank[k]
    return local, y0, x0


def noise_density(i: int, n: int) -> float:
    """Foreground density of noise mask ``i`` of ``n``: geometric from 1% to 90%."""
    return 0.01 * 90.0 ** (i / (n - 1)) if n > 1 else 0.3


def _noise(rng: np.random.Generator, h: int, w: int, p: float) -> tuple[np.ndarray, int, int]:
    y0, x0, bh, bw = _box(rng, h, w, (0.01, 0.1))
    return rng.random((bh, bw), dtype=np.float32) < p, y0, x0


def ring_count(i: int) -> int:
    """Number of nested rings in rings mask ``i``: 2 to 6."""
    return 2 + i % 5


def _rings(rng: np.random.Generator, h: int, w: int, k: int) -> tuple[np.ndarray, int, int]:
    """``k`` concentric elliptic annuli, each >= 2 px thick with >= 2 px gaps."""
    r = float(np.exp(rng.uniform(np.log(8.0 * k), np.log(max(8.0 * k + 1, 0.45 * min(h, w))))))
    ax, ay = r, r * float(rng.uniform(0.6, 1.0))
    bw, bh = int(2 * ax) + 3, int(2 * ay) + 3
    y0, x0 = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
    d = np.sqrt(((xx + 0.5 - bw / 2) / ax) ** 2 + ((yy + 0.5 - bh / 2) / ay) ** 2) * r  # ~pixels
    step = r / k
    frac = float(rng.uniform(0.35, 0.65))  # ring thickness / step
    # the ring j covers d in (r - (j+1)*step + (1-frac)*step, r - j*step]; tiny cores are rings too
    ring = np.floor((r - d) / step)
    inside = (r - d) - ring * step < frac * step
    local = (d <= r) & inside & (ring < k)
    return local, y0, x0


def _family_local(family: str, rng: np.random.Generator, i: int, n: int, h: int,
                  w: int) -> tuple[np.ndarray, int, int]:
    if family == "stars":
        return _fill_polygon(star_vertices(rng, h, w), h, w)
    if family == "stripes":
        return _stripes(rng, h, w)
    if family == "strokes":
        return _strokes(rng, h, w)
    if family == "noise":
        return _noise(rng, h, w, noise_density(i, n))
    if family == "rings":
        return _rings(rng, h, w, ring_count(i))
    raise ValueError(f"unknown shape family {family!r}; expected one of {', '.join(FAMILIES)}")


@overload
def family_masks(family: str, n: int = ..., h: int = ..., w: int = ..., seed: int = ...,
                 dense: Literal[False] = ...) -> list[RLE]: ...
@overload
def family_masks(family: str, n: int = ..., h: int = ..., w: int = ..., seed: int = ..., *,
                 dense: Literal[True]) -> tuple[list[RLE], np.ndarray]: ...
@overload
def family_masks(family: str, n: int = ..., h: int = ..., w: int = ..., seed: int = ...,
                 dense: bool = ...) -> list[RLE] | tuple[list[RLE], np.ndarray]: ...


def family_masks(family: str, n: int = 100, h: int = 1500, w: int = 2250, seed: int = 0,
                 dense: bool = False) -> list[RLE] | tuple[list[RLE], np.ndarray]:
    """``n`` masks of one shape family (one of :data:`FAMILIES`), SA-1B size by default.

    ``blobs`` is :func:`sa1b_like`. ``stars``: polygons of 20-60 vertices
    (:func:`star_vertices`); ``stripes``: thin slanted stripes in a box;
    ``strokes``: lines of text-like glyphs; ``noise``: salt noise in a box at
    density :func:`noise_density` (1% to 90%); ``rings``: :func:`ring_count`
    nested elliptic annuli. Equal arguments give identical output; with
    ``dense=True`` returns ``(rles, masks)`` with masks (N, H, W) bool.
    """
    if family == "blobs":
        return sa1b_like(n, h, w, seed, dense=dense)
    if family not in FAMILIES:
        raise ValueError(f"unknown shape family {family!r}; expected one of {', '.join(FAMILIES)}")
    all_counts: list[np.ndarray] = []
    stack = np.zeros((n, h, w), bool) if dense else None
    for i in range(n):
        local, y0, x0 = _family_local(family, _mask_rng(seed, family, i), i, n, h, w)
        local = local[:h - y0, :w - x0]
        all_counts.append(_region_counts(local, y0, x0, h, w))
        if stack is not None:
            stack[i, y0:y0 + local.shape[0], x0:x0 + local.shape[1]] = local
    rles: list[RLE] = [{"size": [h, w], "counts": s} for s in _compressor()(all_counts, h, w)]
    return (rles, stack) if stack is not None else rles


# --- SA-1B files ------------------------------------------------------------


def sa1b_image_dict(rles: List[Dict[str, Any]], image_id: int = 1, seed: int = 0,
                   file_name: Optional[str] = None) -> Dict[str, Any]:
    """An SA-1B per-image object around ``rles`` (all of one size), with
    plausible metadata: exact area and bbox (SA-1B's bbox convention, see
    :mod:`fastrle.annotations`), random predicted_iou and stability_score,
    one point inside the box, the full-image crop box."""
    from .annotations import SA1B, expected_boxes
    from .api import area, bbox

    rng = np.random.default_rng(seed)
    h, w = (rles[0]["size"] if rles else (0, 0))
    areas = np.asarray(area(rles)) if rles else np.zeros(0, np.int64)
    boxes = expected_boxes(SA1B, bbox(rles)) if rles else np.zeros((0, 4))
    anns = []
    for i, r in enumerate(rles):
        x, y, bw, bh = (float(v) for v in boxes[i])
        anns.append({
            "id": int(image_id) * 1000 + i,
            "segmentation": {"size": [int(h), int(w)], "counts": r["counts"] if isinstance(r["counts"], str)
                             else r["counts"].decode("ascii")},
            "area": int(areas[i]),
            "bbox": [x, y, bw, bh],
            "predicted_iou": float(rng.uniform(0.6, 1.0)),
            "stability_score": float(rng.uniform(0.8, 1.0)),
            "point_coords": [[x + bw * float(rng.uniform()), y + bh * float(rng.uniform())]],
            "crop_box": [0.0, 0.0, float(w), float(h)],
        })
    return {"image": {"image_id": int(image_id), "width": int(w), "height": int(h),
                      "file_name": file_name or f"sa_{image_id}.jpg"},
            "annotations": anns}


def jpeg_bytes(h: int, w: int, seed: int = 0, quality: int = 85) -> bytes:
    """A smooth random RGB JPEG of ``h`` x ``w`` (needs Pillow)."""
    import io

    Image = require("PIL.Image", "writing JPEGs", extra="sa1b")
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(1, h // 32), max(1, w // 32), 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((w, h), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def write_sa1b_shard(path: str, images: int = 2, masks: int = 20, h: int = 150, w: int = 225,
                     seed: int = 0, first_id: int = 1) -> List[Dict[str, Any]]:
    """Write an SA-1B-style tar shard: ``sa_<id>.jpg`` then ``sa_<id>.json`` per image.

    Returns the per-image dicts written, in order. Needs Pillow for the JPEGs.
    """
    import io
    import json
    import tarfile

    objs = []
    with tarfile.open(path, "w") as tf:
        for k in range(images):
            image_id = first_id + k
            rles = sa1b_like(masks, h, w, seed=seed + k)
            obj = sa1b_image_dict(rles, image_id=image_id, seed=seed + k)
            objs.append(obj)
            for name, data in ((f"sa_{image_id}.jpg", jpeg_bytes(h, w, seed + k)),
                               (f"sa_{image_id}.json", json.dumps(obj).encode())):
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
    return objs
