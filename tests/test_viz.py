"""fastrle.viz.overlay against a plain numpy implementation of its formula,
pixel for pixel; image inputs; errors; show_anns on real matplotlib axes."""
from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest

import fastrle
from fastrle import synthetic, viz
from fastrle.sa1b import from_dict

hyp = pytest.importorskip("hypothesis")
from hypothesis import given, strategies as st  # noqa: E402


# --- the reference: the documented rules, written plainly in numpy ------------

def erode(m: np.ndarray, cw: int) -> np.ndarray:
    """m eroded by a (2cw+1) square; pixels outside the image are background."""
    h, w = m.shape
    pad = np.zeros((h + 2 * cw, w + 2 * cw), bool)
    pad[cw:cw + h, cw:cw + w] = m
    out = np.ones((h, w), bool)
    for dy in range(2 * cw + 1):
        for dx in range(2 * cw + 1):
            out &= pad[dy:dy + h, dx:dx + w]
    return out


def ref_overlay(image, masks, colors, alpha=0.35, cw=1, order="area", keep=None):
    a = round(alpha * 255)
    img = image.astype(np.int64).copy()
    n = len(masks)
    idx = list(range(n)) if keep is None else sorted(keep)
    if order == "area":
        idx.sort(key=lambda i: (-int(masks[i].sum()), i))
    c = colors.astype(np.int64)
    for i in idx:
        m = masks[i].astype(bool)
        img[m] = (img[m] * (255 - a) + c[i] * a + 127) // 255
    if cw:
        for i in idx:
            m = masks[i].astype(bool)
            img[m & ~erode(m, cw)] = c[i]
    return img.astype(np.uint8)


def best_k(keys, k):
    """The documented top_k rule by hand: the k highest keys, ties to the lower index."""
    return sorted(range(len(keys)), key=lambda i: (-float(keys[i]), i))[:k]


def want_order(areas, order, top_k=None, scores=None):
    """draw_order's rule written out with Python's sorted: keep top_k by scores
    (else areas), back in index order; then "area" sorts by descending area, ties by index."""
    idx = list(range(len(areas)))
    if top_k is not None:
        idx = sorted(best_k(areas if scores is None else scores, top_k))
    if order == "area":
        idx = sorted(idx, key=lambda i: (-int(areas[i]), i))
    return idx


def rect_masks(h, w, spec):
    """Dense masks of the given (y0, y1, x0, x1) rectangles, and their RLEs
    (pycocotools' encoder when it is installed: an outside oracle)."""
    masks = np.zeros((len(spec), h, w), np.uint8)
    for i, (y0, y1, x0, x1) in enumerate(spec):
        masks[i, y0:y1, x0:x1] = 1
    try:
        from pycocotools import mask as pm
        rles = [dict(r, counts=r["counts"].decode()) for r in pm.encode(np.asfortranarray(masks.transpose(1, 2, 0)))]
    except ImportError:
        rles = fastrle.encode(masks)
    return masks, rles


def rand_image(h, w, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def check(image, masks, rles, base=None, **kw):
    colors = kw.pop("colors", None)
    cols = viz.palette(len(masks)) if colors is None else colors
    got = viz.overlay(image, rles, colors=colors, **kw)
    if base is None:
        base = np.zeros(masks.shape[1:] + (3,), np.uint8) if image is None else image
    want = ref_overlay(base, masks, cols, kw.get("alpha", 0.35),
                       kw.get("contour_width", 1) if kw.get("contours", True) else 0,
                       kw.get("order", "area"))
    assert got.shape == want.shape and got.dtype == np.uint8
    if not np.array_equal(got, want):
        bad = np.argwhere((got != want).any(2))
        raise AssertionError(f"{len(bad)} pixels differ, first at {bad[:5].tolist()}")
    return got


# --- pixel-exact -------------------------------------------------------------

@pytest.mark.parametrize("alpha", [0.0, 0.35, 0.5, 0.77, 1.0])
@pytest.mark.parametrize("cw", [1, 2, 3])
def test_blobs_match_reference(alpha, cw):
    rles, masks = synthetic.sa1b_like(25, 90, 130, seed=3, dense=True)
    check(rand_image(90, 130), masks, rles, alpha=alpha, contour_width=cw)


@pytest.mark.parametrize("order", ["area", "index"])
@pytest.mark.parametrize("threads", [1, 2, 7])
def test_noise_masks_overlap_and_threads(order, threads):
    # 260x1030 pixels: enough for 4 bands (the C code gives a thread 64K pixels at least),
    # so fills and contours cross band edges
    rng = np.random.default_rng(5)
    masks = rng.random((12, 260, 1030)) < rng.uniform(0.05, 0.9, (12, 1, 1))
    masks[:6] |= synthetic.sa1b_like(6, 260, 1030, seed=5, dense=True)[1]
    rles = fastrle.encode(masks)
    check(rand_image(260, 1030, 1), masks, rles, order=order, threads=threads, alpha=0.6, contour_width=2)


@pytest.mark.parametrize("cw", [1, 2, 3])
def test_border_masks(cw):
    h, w = 23, 31
    masks = np.zeros((7, h, w), bool)
    masks[0] = True                       # the whole image: contour = a frame
    masks[1, :, :5] = True                # left columns
    masks[2, -4:, :] = True               # bottom rows
    masks[3, 0, :] = True                 # one row: all contour
    masks[4, :, -1] = True                # one column
    masks[5, 5:18, 8:25] = True           # inside
    masks[6, 0:3, 0:3] = True             # corner
    rles = fastrle.encode(masks)
    for order in ("area", "index"):
        check(rand_image(h, w, 2), masks, rles, contour_width=cw, order=order)
        check(None, masks, rles, contour_width=cw, order=order, contours=False)


def test_ties_draw_by_index():
    masks = np.zeros((4, 10, 10), bool)
    masks[0, 0:4, 0:4] = True
    masks[1, 2:6, 2:6] = True  # same area as 0: drawn after it
    masks[2, 1:9, 1:9] = True  # larger: drawn first
    masks[3, 3:5, 3:5] = True
    got = check(rand_image(10, 10), masks, fastrle.encode(masks), alpha=1.0, contours=False)
    pal = viz.palette(4)
    assert (got[2, 2] == pal[1]).all() and (got[0, 0] == pal[0]).all() and (got[3, 3] == pal[3]).all()
    assert (got[8, 8] == pal[2]).all()


@pytest.mark.parametrize("shape", [(1, 1), (1, 17), (19, 1), (2, 2), (5, 3)])
def test_tiny_images(shape):
    rng = np.random.default_rng(sum(shape))
    masks = rng.random((6,) + shape) < 0.5
    masks[0] = True
    masks[1] = False
    for cw in (1, 2):
        check(rand_image(*shape), masks, fastrle.encode(masks), contour_width=cw)


@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 8), st.integers(0, 2**31),
       st.sampled_from([0.0, 0.2, 0.35, 1.0]), st.integers(0, 3), st.sampled_from(["area", "index"]))
def test_random_masks_hypothesis(h, w, n, seed, alpha, cw, order):
    rng = np.random.default_rng(seed)
    masks = rng.random((n, h, w)) < rng.uniform(0, 1, (n, 1, 1))
    rles = fastrle.encode(masks) if n else []
    img = rand_image(h, w, seed % 97)
    kw = dict(alpha=alpha, order=order, contours=cw > 0, contour_width=max(cw, 1))
    check(img, masks, rles, **kw)


def test_explicit_colors_and_uncompressed_counts():
    rles, masks = synthetic.coco_like(6, 40, 50, seed=2, dense=True)
    cols = np.random.default_rng(0).integers(0, 256, (6, 3), dtype=np.uint8)
    check(rand_image(40, 50), masks, rles, colors=cols)
    unc = [{"size": [40, 50], "counts": col_runs(m)} for m in masks]
    check(rand_image(40, 50), masks, unc, colors=cols)


def col_runs(m):
    """Uncompressed COCO counts (a list of ints) of a dense mask."""
    flat = m.T.ravel().astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [1 - flat[-1]]])))
    return np.diff(np.concatenate([[0], edges])).tolist()


def test_top_k_list_keeps_largest():
    rles, masks = synthetic.sa1b_like(15, 60, 70, seed=4, dense=True)
    areas = masks.reshape(15, -1).sum(1)
    keep = best_k(areas, 5)
    got = viz.overlay(rand_image(60, 70), rles, top_k=5)
    want = ref_overlay(rand_image(60, 70), masks, viz.palette(15), keep=keep)
    assert np.array_equal(got, want)
    assert np.array_equal(viz.overlay(None, rles, top_k=0), np.zeros((60, 70, 3), np.uint8))


def test_top_k_sa1b_uses_predicted_iou():
    rles, masks = synthetic.sa1b_like(12, 50, 60, seed=6, dense=True)
    ann = from_dict(synthetic.sa1b_image_dict(rles, seed=6))
    keep = best_k(ann.predicted_ious, 4)
    got = viz.overlay(None, ann, top_k=4, contour_width=2)
    want = ref_overlay(np.zeros((50, 60, 3), np.uint8), masks, viz.palette(12), cw=2, keep=keep)
    assert np.array_equal(got, want)
    assert np.array_equal(viz.overlay(None, ann), viz.overlay(None, rles))


def test_sa1b_like_full_size_threads_agree():
    rles = synthetic.sa1b_like(100, 1500, 2250, seed=0)
    one = viz.overlay(None, rles, threads=1)
    assert np.array_equal(one, viz.overlay(None, rles, threads=4))
    assert np.array_equal(one, viz.overlay(None, rles))


# --- images in and out ---------------------------------------------------------

def test_image_from_png_jpeg_path_and_bytes(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    rles, masks = synthetic.coco_like(5, 33, 47, seed=1, dense=True)
    img = rand_image(33, 47)
    png = tmp_path / "a.png"
    PIL.fromarray(img).save(png)
    check(str(png), masks, rles, base=img)
    check(png, masks, rles, base=img)
    check(png.read_bytes(), masks, rles, base=img)
    jpg = tmp_path / "a.jpg"
    PIL.fromarray(img).save(jpg, quality=95)
    decoded = np.asarray(PIL.open(jpg).convert("RGB"))
    assert np.array_equal(viz.overlay(jpg, rles), viz.overlay(decoded, rles))


def test_output_saves_and_reopens(tmp_path):
    PIL = pytest.importorskip("PIL.Image")
    pic = viz.overlay(synthetic.jpeg_bytes(61, 83), synthetic.coco_like(4, 61, 83, seed=0))
    for name, fmt in (("o.png", "PNG"), ("o.jpg", "JPEG")):
        viz.save_image(pic, str(tmp_path / name), fmt)
        with PIL.open(tmp_path / name) as im:
            assert im.size == (83, 61) and im.format == fmt
            if fmt == "PNG":
                assert np.array_equal(np.asarray(im.convert("RGB")), pic)


def test_out_and_in_place():
    rles, masks = synthetic.coco_like(5, 30, 40, seed=3, dense=True)
    img = rand_image(30, 40)
    want = ref_overlay(img, masks, viz.palette(5))
    out = np.empty((30, 40, 3), np.uint8)
    assert viz.overlay(img, rles, out=out) is out and np.array_equal(out, want)
    same = img.copy()
    viz.overlay(same, rles, out=same)
    assert np.array_equal(same, want)
    view = np.asfortranarray(img)  # any layout in; copied into out
    assert np.array_equal(viz.overlay(view, rles), want)


def test_empty_inputs():
    img = rand_image(8, 9)
    assert np.array_equal(viz.overlay(img, []), img)
    with pytest.raises(ValueError, match="canvas size"):
        viz.overlay(None, [])
    e = fastrle.empty(8, 9)
    assert np.array_equal(viz.overlay(img, [e, e]), img)


def test_palette_fixed_and_distinct():
    p = viz.palette(40)
    assert p.dtype == np.uint8 and p.shape == (40, 3)
    assert np.array_equal(p[:10], viz.palette(10))
    assert len({tuple(c) for c in p}) == 40
    # a fixed table: changing it changes every committed picture
    assert p[:3].tolist() == [[242, 36, 36], [97, 139, 242], [157, 242, 36]]


# --- errors: named, and before anything is written -------------------------------

def test_size_mismatch_names_mask_and_leaves_out_alone():
    rles = synthetic.coco_like(3, 20, 30, seed=0)
    rles.append(fastrle.empty(20, 31))
    out = np.full((20, 30, 3), 7, np.uint8)
    with pytest.raises(ValueError, match=r"mask 3: size \[20, 31\] differs from the image"):
        viz.overlay(rand_image(20, 30), rles, out=out)
    assert (out == 7).all()
    with pytest.raises(ValueError, match="mask 0: size"):
        viz.overlay(rand_image(21, 30), rles[:1])
    with pytest.raises(ValueError, match="mask 3: size"):
        viz.overlay(None, rles)


@pytest.mark.parametrize("counts, what", [("0", "sum"), ("abc~", "byte"), (["x"], "counts"),
                                          ([-1, 601], "negative"), ([5, 5], "sum")])
def test_malformed_rle_names_index(counts, what):
    rles = synthetic.coco_like(3, 20, 30, seed=0)
    rles.insert(2, {"size": [20, 30], "counts": counts})
    out = np.full((20, 30, 3), 7, np.uint8)
    with pytest.raises((ValueError, TypeError), match="mask 2"):
        viz.overlay(rand_image(20, 30), rles, out=out)
    assert (out == 7).all()


def test_argument_errors(tmp_path):
    rles = synthetic.coco_like(3, 20, 30, seed=0)
    img = rand_image(20, 30)
    for kw, exc in [(dict(alpha=1.5), ValueError), (dict(alpha="x"), TypeError),
                    (dict(contour_width=0), ValueError), (dict(order="size"), ValueError),
                    (dict(top_k=-1), ValueError), (dict(colors=np.zeros((2, 3), np.uint8)), ValueError),
                    (dict(colors=np.full((3, 3), 300)), TypeError),
                    (dict(out=np.zeros((20, 30, 3), np.float32)), TypeError),
                    (dict(out=np.zeros((20, 31, 3), np.uint8)), ValueError),
                    (dict(out=np.zeros((20, 30, 4), np.uint8)[:, :, :3]), ValueError),
                    (dict(threads=0), ValueError)]:
        with pytest.raises(exc):
            viz.overlay(img, rles, **kw)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8"):
        viz.overlay(img[:, :, :2], rles)
    with pytest.raises(FileNotFoundError, match="not found"):
        viz.overlay(str(tmp_path / "nope.jpg"), rles)
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ValueError, match="cannot read"):
        viz.overlay(str(tmp_path / "bad.png"), rles)
    with pytest.raises(TypeError):
        viz.overlay(12, rles)
    # contours off: contour_width is not looked at
    viz.overlay(img, rles, contours=False, contour_width=0)


# --- show_anns ------------------------------------------------------------------

@pytest.fixture
def plt():
    if os.environ.get("FASTRLE_SANITIZED") == "1":
        pytest.skip("matplotlib's extensions abort under the preloaded ASan runtime")
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")  # headless
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_show_anns_draws_over_the_shown_image(plt):
    rles, masks = synthetic.coco_like(5, 40, 60, seed=7, dense=True)
    img = rand_image(40, 60)
    fig, ax = plt.subplots()
    try:
        ax.imshow(img)
        # SAM records: dense bool segmentations plus metadata
        sam = [{"segmentation": m, "area": int(m.sum()), "predicted_iou": 0.9} for m in masks]
        im = viz.show_anns(sam, ax=ax, alpha=0.5)
        shown = np.asarray(im.get_array())
        assert np.array_equal(shown, ref_overlay(img, masks, viz.palette(5), alpha=0.5))
        plt.sca(ax)
        im2 = viz.show_anns(rles, image=img, contours=False)
        assert np.array_equal(np.asarray(im2.get_array()), ref_overlay(img, masks, viz.palette(5), cw=0))
        fig.canvas.draw()
    finally:
        plt.close(fig)
    fig, ax = plt.subplots()
    try:  # nothing shown yet: a black canvas
        shown = np.asarray(viz.show_anns(rles, ax=ax).get_array())
        assert np.array_equal(shown, ref_overlay(np.zeros((40, 60, 3), np.uint8), masks, viz.palette(5)))
    finally:
        plt.close(fig)
    with pytest.raises(TypeError, match="mask 0"):
        viz.show_anns([{"segmentation": [[1.0, 2.0, 3.0]]}], ax=ax)


def test_show_anns_sa1b_json_roundtrip(plt):
    rles = synthetic.sa1b_like(8, 30, 40, seed=1)
    ann = fastrle.sa1b.load(json.dumps(synthetic.sa1b_image_dict(rles)).encode())
    fig, ax = plt.subplots()
    try:
        im = viz.show_anns(ann, ax=ax, top_k=3)
        assert np.array_equal(np.asarray(im.get_array()), viz.overlay(None, ann, top_k=3))
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        assert buf.getvalue()[:4] == b"\x89PNG"
    finally:
        plt.close(fig)


def test_python_threads_share_nothing():
    """The GIL is released while drawing: concurrent calls give the same picture."""
    from concurrent.futures import ThreadPoolExecutor

    rles = synthetic.sa1b_like(40, 300, 900, seed=9)
    img = rand_image(300, 900)
    want = viz.overlay(img, rles, threads=1)
    with ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(lambda t: viz.overlay(img, rles, threads=t), [1, 2, 3, 4] * 2))
    assert all(np.array_equal(o, want) for o in outs)


# --- the draw policy against oracles written by hand (issue 24) --------------------------

# 48 masks whose areas take only 3 values (many ties, at every cut), and scores with ties
TIE_AREAS = [(6, 4, 2)[(i * 7) % 3] for i in range(48)]


def tie_masks():
    spec = [(i // 8 * 6, i // 8 * 6 + TIE_AREAS[i] // 2, (i % 8) * 5, (i % 8) * 5 + 2) for i in range(48)]
    return rect_masks(36, 40, spec)


@pytest.mark.parametrize("order", ["area", "index"])
@pytest.mark.parametrize("top_k", [None, 0, 1, 5, 16, 17, 47, 48, 60])
def test_draw_order_every_order_and_ties_at_the_cut(order, top_k):
    areas = np.array(TIE_AREAS)
    scores = np.array([(0.5, 0.9, 0.9, 0.7)[i % 4] for i in range(48)])
    assert viz.draw_order(areas, order, top_k).tolist() == want_order(areas, order, top_k)
    assert viz.draw_order(areas, order, top_k, scores).tolist() == want_order(areas, order, top_k, scores)


@pytest.mark.parametrize("order", ["area", "index"])
@pytest.mark.parametrize("top_k", [None, 7, 20])
def test_overlay_ties_against_the_painter(order, top_k):
    masks, rles = tie_masks()
    img = rand_image(36, 40, 5)
    got = viz.overlay(img, rles, order=order, top_k=top_k, alpha=0.5)
    keep = None if top_k is None else best_k(masks.reshape(48, -1).sum(1), top_k)
    assert np.array_equal(got, ref_overlay(img, masks, viz.palette(48), 0.5, 1, order, keep))


def test_hand_computed_two_masks():
    # 1x3 image; mask 0 covers columns 0-1, mask 1 (smaller) column 1; alpha 1, no contours:
    # order "area" draws 0 then 1 (1 on top), "index" also 0 then 1, top_k=1 keeps mask 0 only
    masks, rles = rect_masks(1, 3, [(0, 1, 0, 2), (0, 1, 1, 2)])
    cols = np.array([[10, 20, 30], [200, 100, 0]], np.uint8)
    img = np.full((1, 3, 3), 50, np.uint8)
    got = viz.overlay(img, rles, colors=cols, alpha=1.0, contours=False)
    assert got.tolist() == [[[10, 20, 30], [200, 100, 0], [50, 50, 50]]]
    got = viz.overlay(img, rles, colors=cols, alpha=1.0, contours=False, top_k=1, order="index")
    assert got.tolist() == [[[10, 20, 30], [10, 20, 30], [50, 50, 50]]]
    # alpha 0.5: a = round(127.5) = 128; (50 * 127 + 10 * 128 + 127) // 255 = 30
    got = viz.overlay(img, rles[:1], colors=cols[:1], alpha=0.5, contours=False)
    assert got[0, 0].tolist() == [(50 * 127 + c * 128 + 127) // 255 for c in (10, 20, 30)] == [30, 35, 40]
    # colours must be 0..255
    with pytest.raises(TypeError):
        viz.overlay(img, rles, colors=np.array([[256, 0, 0], [0, 0, 0]]))


def test_top_k_order_index_on_sa1b_scores():
    # SA-1B: top_k by predicted_iou, drawn in index order with order="index"
    masks, rles = rect_masks(20, 30, [(0, 10, 0, 10), (5, 15, 5, 15), (2, 20, 2, 28), (0, 4, 20, 30)])
    d = synthetic.sa1b_image_dict(rles, seed=1)
    for a, s in zip(d["annotations"], (0.5, 0.95, 0.7, 0.95)):
        a["predicted_iou"] = s
    ann = from_dict(d)
    img = rand_image(20, 30, 2)
    for order in ("area", "index"):
        got = viz.overlay(img, ann, top_k=3, order=order, contour_width=2)
        assert np.array_equal(got, ref_overlay(img, masks, viz.palette(4), cw=2, order=order, keep=[1, 3, 2]))


@pytest.mark.parametrize("threads", [2, 3, 4])
def test_band_split_with_heights_not_dividing_by_threads(threads):
    # h*w >= threads * 2^16 and h >= 16 * threads, so every thread gets a band; 203 % t != 0
    h, w = 203, 1000
    assert h % threads
    spec = [(0, h, 0, 300), (150, h, 200, 700), (h - 1, h, 0, w), (h - 3, h - 1, 990, w), (100, 190, 600, 900)]
    masks, rles = rect_masks(h, w, spec)
    img = rand_image(h, w, 3)
    got = viz.overlay(img, rles, threads=threads, contour_width=2)
    assert np.array_equal(got, ref_overlay(img, masks, viz.palette(len(spec)), cw=2))
