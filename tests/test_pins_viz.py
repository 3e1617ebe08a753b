"""Pins for the overlay policy where no outside oracle exists (issue 24):
hand-computed pixels for the fill formula, rounding of alpha, contour rings
and draw order; draw_order by hand with scores, ties and every order; the
argument rules of overlay/palette/colours; image loading and saving against
Pillow itself; show_anns' choice of the picture under the masks."""
from __future__ import annotations

import io

import numpy as np
import pytest

from fastrle import viz
from fastrle.sa1b import from_dict
from fastrle.viz.overlay import draw_order

pm = pytest.importorskip("pycocotools.mask")


def rle(m):
    r = pm.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"]}


def box(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def blend(p, c, a):
    """The documented fill: (p * (255 - a) + c * a + 127) // 255, per channel."""
    return (int(p) * (255 - a) + int(c) * a + 127) // 255


# --- pixels by hand ------------------------------------------------------------------------------


def test_fill_formula_alpha_rounding_and_draw_order_by_hand():
    """One 4x6 picture: a big mask (area 12) under a small one (area 2); alpha
    0.5 is a = round(127.5) = 128; the big mask is drawn first (order 'area')."""
    img = np.full((4, 6, 3), 100, np.uint8)
    big, small = box(4, 6, 0, 2, 0, 6), box(4, 6, 1, 2, 4, 6)
    cols = np.array([[0, 255, 10], [200, 0, 255]], np.uint8)
    got = viz.overlay(img, [rle(small), rle(big)], colors=cols[::-1].copy(), alpha=0.5, contours=False)
    want = img.copy()
    for y in range(4):
        for x in range(6):
            if big[y, x]:
                want[y, x] = [blend(p, c, 128) for p, c in zip(want[y, x], cols[0])]
            if small[y, x]:
                want[y, x] = [blend(p, c, 128) for p, c in zip(want[y, x], cols[1])]
    assert np.array_equal(got, want)
    assert got[0, 0].tolist() == [50, 178, 55]  # (100*127 + 127)//255 = 50; (100*127 + 255*128 + 127)//255 = 178
    # order='index' draws as given: the big one (index 1) last, over the small one
    idx = viz.overlay(img, [rle(small), rle(big)], colors=cols[::-1].copy(), alpha=1.0, contours=False,
                      order="index")
    assert idx[1, 5].tolist() == [0, 255, 10] and idx[3, 0].tolist() == [100, 100, 100]
    top = viz.overlay(img, [rle(small), rle(big)], colors=cols[::-1].copy(), alpha=1.0, contours=False)
    assert top[1, 5].tolist() == [200, 0, 255] and top[0, 0].tolist() == [0, 255, 10]


@pytest.mark.parametrize("cw", [1, 2])
def test_contour_rings_by_hand(cw):
    """A mask covering the whole 7x8 image: its contour is the ring of width cw
    at the image border (outside counts as background), drawn at full opacity
    over the fill; a 3x3 box's contour at width 1 is its 8 border pixels."""
    img = np.zeros((7, 8, 3), np.uint8)
    col = np.array([[9, 99, 199]], np.uint8)
    got = viz.overlay(img, [rle(np.ones((7, 8)))], colors=col, alpha=0.0, contour_width=cw)
    ring = np.ones((7, 8), bool)
    ring[cw:7 - cw, cw:8 - cw] = False
    assert np.array_equal(got.any(axis=2), ring) and (got[ring] == col[0]).all()
    sq = viz.overlay(img, [rle(box(7, 8, 2, 5, 3, 6))], colors=col, alpha=0.0, contour_width=1)
    lit = sq.any(axis=2)
    assert lit.sum() == 8 and not lit[3, 4] and lit[2, 3] and lit[4, 5]


def test_sa1b_table_sizes_and_single_dict():
    m = box(6, 9, 1, 3, 2, 5)
    c = pm.encode(np.asfortranarray(m))["counts"].decode()
    d = {"image": {"image_id": 1, "width": 9, "height": 6},
         "annotations": [{"id": 0, "segmentation": {"size": [6, 9], "counts": c}, "area": 6, "bbox": [2, 1, 2, 1],
                          "predicted_iou": 0.9, "stability_score": 0.9, "point_coords": [[0, 0]],
                          "crop_box": [0, 0, 9, 6]}]}
    ann = from_dict(d)
    with pytest.raises(ValueError, match=r"^mask 0: size \[6, 9\] differs from the image's size \[5, 5\]$"):
        viz.overlay(np.zeros((5, 5, 3), np.uint8), ann)
    empty = ann.select([])  # no mask: nothing to disagree with the image
    img = np.full((5, 5, 3), 7, np.uint8)
    assert np.array_equal(viz.overlay(img, empty), img)
    one = viz.overlay(None, rle(m), colors=np.array([[255, 255, 255]], np.uint8), alpha=1.0, contours=False)
    assert one.shape == (6, 9, 3) and np.array_equal(one.any(axis=2), m.astype(bool))
    with pytest.raises(ValueError, match=r"^mask 1: size \[6, 8\] differs from mask 0's size \[6, 9\]$"):
        viz.overlay(None, [rle(m), rle(np.zeros((6, 8))), rle(np.zeros((5, 9)))])  # the first bad one named


# --- draw_order by hand --------------------------------------------------------------------------


def test_draw_order_by_hand():
    areas = np.array([5, 9, 5, 1, 9])
    assert draw_order(areas).tolist() == [1, 4, 0, 2, 3]
    assert draw_order(areas, "index").tolist() == [0, 1, 2, 3, 4]
    assert draw_order(areas, "area", top_k=3).tolist() == [1, 4, 0]  # cut at the tie 5/5: the lower index
    assert draw_order(areas, "index", top_k=3).tolist() == [0, 1, 4]
    scores = np.array([0.2, 0.1, 0.8, 0.8, 0.3])
    assert draw_order(areas, "index", top_k=3, scores=scores).tolist() == [2, 3, 4]
    assert draw_order(areas, "area", top_k=3, scores=scores).tolist() == [4, 2, 3]
    assert draw_order(areas, "area", top_k=2, scores=scores).tolist() == [2, 3]
    assert draw_order(areas, top_k=0).tolist() == [] and draw_order(areas, top_k=9).tolist() == [1, 4, 0, 2, 3]
    assert draw_order(np.array([], np.int64)).tolist() == []
    out = draw_order(areas, top_k=np.int64(2))
    assert out.dtype == np.int64 and out.flags.c_contiguous and out.tolist() == [1, 4]
    with pytest.raises(ValueError, match="top_k must be a non-negative int or None, got -1"):
        draw_order(areas, top_k=-1)
    for bad in (True, 2.0, "2"):  # the one int rule: _args.int_arg
        with pytest.raises(TypeError, match="top_k must be a non-negative int or None, got"):
            draw_order(areas, top_k=bad)
    with pytest.raises(ValueError, match=r"order must be one of \('area', 'index'\), got 'size'"):
        draw_order(areas, "size")


def test_draw_order_ties_past_numpy_small_sort():
    """50 masks of 3 areas: ties keep the index order (stable), as a Python sort does."""
    areas = np.random.default_rng(7).choice([4, 9, 16], 50)
    want = sorted(range(50), key=lambda i: -areas[i])
    assert draw_order(areas).tolist() == want
    assert draw_order(areas, "index", top_k=20).tolist() == sorted(want[:20])
    scores = np.random.default_rng(8).choice([0.5, 0.75], 50)
    keep = sorted(sorted(range(50), key=lambda i: -scores[i])[:30])
    assert draw_order(areas, "index", top_k=30, scores=scores).tolist() == keep
    assert draw_order(areas, "area", top_k=30, scores=scores).tolist() == sorted(keep, key=lambda i: -areas[i])


# --- argument rules -----------------------------------------------------------------------------------


def test_overlay_argument_rules():
    img = np.zeros((4, 6, 3), np.uint8)
    r = [rle(box(4, 6, 0, 2, 0, 2))]
    for a in (-0.001, 1.001, float("nan")):
        with pytest.raises(ValueError, match="alpha must be a number in \\[0, 1\\]"):
            viz.overlay(img, r, alpha=a)
    for a in (True, np.bool_(True), None, "0.5", b"1"):  # the one rule for real numbers: _args.real_arg
        with pytest.raises(TypeError, match="alpha must be a number, got"):
            viz.overlay(img, r, alpha=a)
    for a in (0, 1, np.float32(0.5), np.int64(1)):
        viz.overlay(img, r, alpha=a)
    with pytest.raises(ValueError, match="contour_width must be an int >= 1, got 0"):
        viz.overlay(img, r, contour_width=0)
    for cw in (True, 1.0):
        with pytest.raises(TypeError, match="contour_width must be an int >= 1, got"):
            viz.overlay(img, r, contour_width=cw)
    viz.overlay(img, r, contours=False, contour_width=True)  # not looked at without contours
    for c in (np.zeros((1, 4), np.uint8), np.zeros(3, np.uint8), np.zeros((1, 1, 3), np.uint8)):
        with pytest.raises(ValueError, match=r"^colors must be an \(1, 3\) array, one RGB row per mask"):
            viz.overlay(img, r, colors=c)
    for c, exc in ((np.zeros((1, 3), np.float64), TypeError), (np.zeros((1, 3), bool), TypeError),
                   (np.array([[0, 0, 256]]), TypeError), (np.array([[-1, 0, 0]]), TypeError)):
        with pytest.raises(exc):
            viz.overlay(img, r, colors=c)
    got = viz.overlay(img, r, colors=np.array([[255, 0, 7]], np.int64), alpha=1.0, contours=False)
    assert got[0, 0].tolist() == [255, 0, 7]
    assert viz.overlay(img, [], colors=np.zeros((0, 3), np.uint8)).shape == (4, 6, 3)


def test_out_is_returned_and_torch_out():
    torch = pytest.importorskip("torch")
    img = np.full((4, 6, 3), 3, np.uint8)
    r = [rle(box(4, 6, 0, 2, 0, 2))]
    t = torch.zeros((4, 6, 3), dtype=torch.uint8)
    got = viz.overlay(img, r, out=t, alpha=1.0, contours=False, colors=np.array([[1, 2, 3]], np.uint8))
    assert got is t and t[0, 0].tolist() == [1, 2, 3] and t[3, 5].tolist() == [3, 3, 3]
    with pytest.raises(ValueError):
        viz.overlay(img, r, out=np.zeros((4, 6, 3), np.uint8).T.copy().T)  # F-contiguous


def test_palette_arguments():
    assert viz.palette(0).shape == (0, 3) and viz.palette(0).dtype == np.uint8
    assert viz.palette(np.int64(2)).tolist() == [[242, 36, 36], viz.palette(2)[1].tolist()]
    with pytest.raises(ValueError, match="n must be a non-negative int, got -1"):
        viz.palette(-1)
    for bad in (True, 2.0, None):
        with pytest.raises(TypeError, match="n must be a non-negative int, got"):
            viz.palette(bad)


# --- images --------------------------------------------------------------------------------------------


def test_load_and_save_against_pillow(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    p = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(p)
    assert np.array_equal(viz.load_image(str(p)), rgba[:, :, :3])  # alpha dropped
    gray = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    b = io.BytesIO()
    Image.fromarray(gray, "L").save(b, format="PNG")
    assert np.array_equal(viz.load_image(b.getvalue()), np.repeat(gray[:, :, None], 3, axis=2))
    assert np.array_equal(viz.load_image(memoryview(b.getvalue())), np.repeat(gray[:, :, None], 3, axis=2))
    arr = rgba[:, :, :3].copy()
    assert viz.load_image(arr) is arr
    for bad, exc, msg in ((np.zeros((2, 2, 3), np.float32), ValueError, r"\(H, W, 3\) uint8 array"),
                          (np.zeros((2, 2), np.uint8), ValueError, r"\(H, W, 3\) uint8 array"),
                          (b"junk", ValueError, "cannot read image bytes as an image"),
                          (str(tmp_path / "none.png"), FileNotFoundError, "image file not found"),
                          (3.5, TypeError, "got float")):
        with pytest.raises(exc, match=msg):
            viz.load_image(bad)
    pic = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    for fmt, kw in (("JPEG", {"quality": 90}), ("PNG", {"optimize": True})):
        viz.save_image(pic, str(tmp_path / "o"), fmt)
        ref = io.BytesIO()
        Image.fromarray(pic, "RGB").save(ref, format=fmt, **kw)
        assert (tmp_path / "o").read_bytes() == ref.getvalue(), fmt


# --- show_anns -----------------------------------------------------------------------------------------


def test_show_anns_picks_the_picture_under_the_masks():
    mpl = pytest.importorskip("matplotlib")
    mpl.use("Agg")
    import matplotlib.pyplot as plt

    m = box(4, 6, 1, 3, 1, 4).astype(bool)
    col = np.array([[255, 255, 255]], np.uint8)
    fig, ax = plt.subplots()
    try:
        ax.imshow(np.full((4, 6, 3), 20, np.uint8))  # shown first: not the one used
        ax.imshow(np.full((4, 6, 4), 60, np.uint8))  # the last of the masks' size, RGBA uint8: its RGB
        ax.imshow(np.zeros((3, 3, 3), np.uint8))  # another size, shown later: skipped
        im = viz.show_anns([{"segmentation": m}], ax=ax, colors=col, alpha=1.0, contours=False)
        pic = np.asarray(im.get_array())
        assert pic.shape == (4, 6, 3) and pic[0, 0].tolist() == [60, 60, 60] and pic[1, 1].tolist() == [255] * 3
        assert not ax.get_autoscale_on()
        given = viz.show_anns([rle(m)], ax=ax, image=np.full((4, 6, 3), 9, np.uint8), colors=col, alpha=1.0,
                              contours=False)
        assert np.asarray(given.get_array())[0, 0].tolist() == [9, 9, 9]
        ax2 = fig.add_subplot(2, 1, 2)
        black = viz.show_anns([{"segmentation": rle(m)}], ax=ax2, colors=col, alpha=1.0, contours=False)
        assert np.asarray(black.get_array())[0, 0].tolist() == [0, 0, 0] and ax2.get_autoscale_on()
        ax3 = fig.add_subplot(2, 2, 4)
        ax3.imshow(np.full((4, 6, 3), 0.58))  # floats in [0, 1]: 0.58 * 255 = 147.9, rounded to 148
        fl = viz.show_anns([rle(m)], ax=ax3, colors=col, alpha=1.0, contours=False)
        assert np.asarray(fl.get_array())[0, 0].tolist() == [148, 148, 148]
        with pytest.raises(ValueError, match=r"mask 1: a dense segmentation must be \(H, W\)"):
            viz.show_anns([{"segmentation": m}, {"segmentation": m[None]}], ax=ax2)
        with pytest.raises(TypeError, match="mask 0: expected an RLE dict or a SAM record"):
            viz.show_anns([[1, 2]], ax=ax2)
    finally:
        plt.close(fig)
