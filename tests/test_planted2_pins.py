"""Pins for the survivors of the second planted set (scripts/planted_set2.py,
tests/PLANTED.md): each test fails with its bug applied and passes without.
Expected values are written by hand or come from pycocotools."""
from __future__ import annotations

import json

import numpy as np
import pytest

from _jobs_data import write_tar

from fastrle import mask as fmask
from fastrle.geometry import to_polygons


def _rle(m: np.ndarray) -> dict:
    r = fmask.encode(np.asfortranarray(m.astype(np.uint8)))
    assert isinstance(r, dict)
    return {"size": r["size"], "counts": r["counts"].decode("ascii")}


def _sa1b(h: int, w: int, m: np.ndarray, image_id: int = 1) -> dict:
    return {"image": {"image_id": image_id, "width": w, "height": h, "file_name": f"sa_{image_id}.jpg"},
            "annotations": [{"id": 7, "segmentation": _rle(m), "area": int(m.sum()), "bbox": [0, 0, 1, 1],
                             "predicted_iou": 0.9, "stability_score": 0.9, "point_coords": [[0, 0]],
                             "crop_box": [0, 0, w, h]}]}


# s2-cli-poly-results-size-swap: a results file has no image sizes; the
# output image takes (height, width) from the RLE's size, in that order.
def test_polygons_results_file_image_size_from_rle(tmp_path):
    from fastrle.cli.polygons import convert

    m = np.zeros((2, 5), np.uint8)
    m[0, 1:4] = 1
    path = tmp_path / "res.json"
    path.write_text(json.dumps([{"image_id": 3, "category_id": 1, "score": 0.5, "segmentation": _rle(m)}]))
    coco = convert([str(path)])
    assert [(im["id"], im["height"], im["width"]) for im in coco["images"]] == [(3, 2, 5)]


# s2-sa1b-decoder-mode-dropped: SA1BMaskDecoder(size=, mode=) decodes with that mode.
def test_mask_decoder_uses_its_mode():
    from fastrle.sa1b import SA1BMaskDecoder, from_dict

    ann = from_dict(_sa1b(1, 3, np.array([[0, 1, 0]])))
    # 3 -> 2 columns: torch's nearest takes columns 0, 1; nearest-exact 0, 2 (by hand)
    near = SA1BMaskDecoder(size=(1, 2), mode="nearest")(ann).masks
    exact = SA1BMaskDecoder(size=(1, 2), mode="nearest-exact")(ann).masks
    area = SA1BMaskDecoder(size=(1, 1), mode="area")(ann).masks
    assert near.tolist() == [[[0, 1]]]
    assert exact.tolist() == [[[0, 0]]]
    assert area.dtype == np.float32 and area.shape == (1, 1, 1)
    assert abs(float(area[0, 0, 0]) - 1 / 3) < 1e-6


# s2-sa1b-no-seek-back: a gzip shard read without images (seekable file,
# 'r:' tried first and given up) must be read from its start again.
def test_gzip_shard_without_images(tmp_path):
    from fastrle.sa1b import iter_shard
    from fastrle.sa1b.shard import iter_json_members

    data = json.dumps(_sa1b(1, 3, np.array([[0, 1, 0]]), image_id=5)).encode()
    path = tmp_path / "shard.tar.gz"
    write_tar(path, [("sa_5.jpg", b"\xff\xd8jpeg"), ("sa_5.json", data)], "w:gz")
    assert [(iid, jpeg) for iid, jpeg, _ in iter_shard(str(path), images=False)] == [(5, None)]
    assert [name for name, _ in iter_json_members(str(path))] == ["sa_5.json"]


def _two_holes() -> dict:
    m = np.zeros((7, 9), np.uint8)
    m[1:6, 1:8] = 1
    m[2:4, 2:4] = 0
    m[2:4, 5:7] = 0
    return _rle(m)


# s2-geo-first-child-last: the hierarchy rebuilt after min_area keeps the
# FIRST hole as the outer ring's first child (cv2's rows, by hand).
def test_min_area_hierarchy_first_child_is_the_first_hole():
    r = to_polygons(_two_holes(), mode="ccomp", format="cv2", min_area=1)
    assert r.parents.tolist() == [-1, 0, 0]
    assert r.hierarchy.tolist() == [[-1, -1, 1, -1], [2, -1, -1, 0], [-1, 1, -1, 0]]


# s2-geo-min-area-strict: a ring of exactly min_area is kept (a COCO pixel
# outline's area is its pixel count: 2 x 3 = 6).
def test_min_area_keeps_a_ring_of_exactly_that_area():
    m = np.zeros((4, 5), np.uint8)
    m[1:3, 1:4] = 1
    assert len(to_polygons(_rle(m), min_area=6).rings) == 1
    assert len(to_polygons(_rle(m), min_area=6.5).rings) == 0


# s2-geo-min-area-nan
def test_min_area_nan_rejected():
    with pytest.raises(ValueError, match="min_area"):
        to_polygons(_two_holes(), min_area=float("nan"))


# s2-ce-tomask-4-numbers: pycocotools' annToRLE treats a first polygon of 4
# numbers as a box list and raises TypeError; fastrle's evaluate does too.
def test_cocoeval_gt_polygon_of_four_numbers_raises_like_pycocotools():
    pytest.importorskip("pycocotools.cocoeval")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval as StockEval

    from fastrle.cocoeval import COCOeval

    def run(cls):
        gt = COCO()
        gt.dataset = {"images": [{"id": 1, "height": 6, "width": 6}], "categories": [{"id": 1}],
                      "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 4,
                                       "bbox": [1, 1, 2, 2], "segmentation": [[1, 1, 3, 3]]}]}
        gt.createIndex()
        m = np.zeros((6, 6), np.uint8)
        m[1:3, 1:3] = 1
        dt = gt.loadRes([{"image_id": 1, "category_id": 1, "score": 0.9, "segmentation": _rle(m)}])
        cls(gt, dt, "segm").evaluate()

    with pytest.raises(TypeError):
        run(StockEval)
    with pytest.raises(TypeError):
        run(COCOeval)


# s2-in-encode3-nonzero: mask.encode's general path (arrays of 8 MiB and
# more) splits runs at every change of byte value, as pycocotools does.
def test_mask_encode_large_non_binary_like_pycocotools():
    pm = pytest.importorskip("pycocotools.mask")
    a = np.zeros((1024, 8192), np.uint8, order="F")  # 8 MiB: past the fast path
    a[3:5, 0] = 1
    a[5:9, 0] = 2
    a[0, 1] = 7
    assert fmask.encode(a) == pm.encode(a)


# s2-in-sa1b-image-id-zero: image_id 0 is a non-negative integer.
def test_sa1b_image_id_zero_accepted():
    from fastrle.sa1b import from_dict

    ann = from_dict(_sa1b(1, 3, np.array([[0, 1, 0]]), image_id=0))
    assert ann.image_id == 0 and len(ann) == 1


# --- survivors of the reserve list (scripts/planted_set2.py RESERVE) -------------------

# s2-sa1b-area-float: SA-1B areas are integers.
def test_sa1b_fractional_area_rejected():
    from fastrle.sa1b import SA1BFormatError, from_dict

    obj = _sa1b(1, 3, np.array([[0, 1, 0]]))
    obj["annotations"][0]["area"] = 1.5
    with pytest.raises(SA1BFormatError, match="area"):
        from_dict(obj)


# s2-geo-ring-area-triangle: a 3-point ring has its shoelace area.
def test_ring_area_of_a_triangle():
    from fastrle.geometry import ring_area

    assert ring_area(np.array([[0, 0], [4, 0], [0, 2]])) == 4.0


# s2-in-frpy-flat-5: pycocotools' branch for a list of more than 4 items whose
# first item has neither 4 nor more numbers: one polygon (here a 2-D one, which
# its buffer rejects with ValueError; a flat list of floats fails before, on len()).
def test_frpyobjects_list_of_five_short_items_like_pycocotools():
    pm = pytest.importorskip("pycocotools.mask")
    odd = [[1.0], [2.0], [3.0], [4.0], [5.0]]
    with pytest.raises(ValueError):
        pm.frPyObjects(odd, 8, 8)
    with pytest.raises(ValueError):
        fmask.frPyObjects(odd, 8, 8)


# s2-in-siz-zero: a height of 0 is a valid size on the general path too
# (float32 polygons: the C fast path declines them).
def test_frpyobjects_zero_height_general_path_like_pycocotools():
    pm = pytest.importorskip("pycocotools.mask")
    poly = [np.array([1, 1, 4, 1, 4, 3], np.float32)]
    assert fmask.frPyObjects(poly, 0, 5) == pm.frPyObjects(poly, 0, 5)


def _png(path, h: int, w: int) -> None:
    from PIL import Image

    Image.fromarray(np.full((h, w, 3), 255, np.uint8)).save(path)


# s2-cli-show-sibling-png: an SA-1B JSON without file_name finds its .png.
def test_show_finds_a_png_next_to_the_json(tmp_path, capsys):
    pytest.importorskip("PIL.Image")
    from fastrle.cli import main

    obj = _sa1b(2, 3, np.zeros((2, 3), np.uint8))
    del obj["image"]["file_name"]
    (tmp_path / "sa_1.json").write_text(json.dumps(obj))
    _png(tmp_path / "sa_1.png", 2, 3)
    assert main(["show", str(tmp_path / "sa_1.json"), "-o", str(tmp_path / "out.png")]) == 0
    assert "black canvas" not in capsys.readouterr().err


# s2-cli-show-sheet-no-centre: a shorter picture is centred in its cell.
def test_grid_centres_a_shorter_picture(tmp_path):
    pytest.importorskip("PIL.Image")
    from PIL import Image

    from fastrle.cli import main

    d = tmp_path / "d"
    d.mkdir()
    for k, h in ((1, 4), (2, 2)):  # white 4x4 and 2x4 images, no masks
        obj = _sa1b(h, 4, np.zeros((h, 4), np.uint8), image_id=k)
        obj["annotations"] = []
        obj["image"]["file_name"] = f"sa_{k}.png"
        (d / f"sa_{k}.json").write_text(json.dumps(obj))
        _png(d / f"sa_{k}.png", h, 4)
    out = tmp_path / "sheet.png"
    assert main(["show", str(d), "-o", str(out), "--grid", "2", "--no-contours"]) == 0
    sheet = np.asarray(Image.open(out))
    # two cells of 4x4 side by side with a 4-pixel gap; the 2-row picture at rows 1-2
    assert sheet.shape == (4, 12, 3)
    assert (sheet[:, 8:12, 0].max(axis=1) > 0).tolist() == [False, True, True, False]
