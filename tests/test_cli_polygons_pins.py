"""Pins for ``fastrle polygons`` (cli/polygons.py) where the other tests do
not go: one bad annotation among good ones (exit 1, nothing written), two
SA-1B files with the same image id, two COCO images with one file stem
(their YOLO labels share the file), a hole kept by the default mode, and the
defaults. Expected outputs written by hand, and pycocotools' rasteriser."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import fastrle
from fastrle.cli import main

pmask = pytest.importorskip("pycocotools.mask")


def polygons(*argv):
    return main(["polygons", *[str(a) for a in argv]])


def rle(m: np.ndarray) -> dict:
    return fastrle.encode(m.astype(np.uint8))


def block(h: int, w: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def sa1b(path, image_id: int, file_name: str, masks) -> str:
    h, w = masks[0].shape
    anns = [{"id": 100 * image_id + k, "segmentation": rle(m)} for k, m in enumerate(masks)]
    with open(path, "w") as f:
        json.dump({"image": {"image_id": image_id, "width": w, "height": h, "file_name": file_name},
                   "annotations": anns}, f)
    return str(path)


def test_one_bad_annotation_among_good_ones(tmp_path, capsys):
    src = sa1b(tmp_path / "sa_1.json", 1, "sa_1.jpg", [block(4, 5, 0, 2, 0, 2), block(4, 5, 2, 4, 3, 5)])
    obj = json.loads(open(src).read())
    obj["annotations"].insert(1, {"id": 7, "segmentation": {"size": [4, 5], "counts": "0!"}})
    with open(src, "w") as f:
        json.dump(obj, f)
    out = tmp_path / "out.json"
    assert polygons(src, "-o", out) == 1
    assert not out.exists()
    assert "annotation 1" in capsys.readouterr().err
    assert polygons(src, "-o", tmp_path / "labels", "--format", "yolo") == 1
    assert not (tmp_path / "labels").exists()
    # a segmentation that is no mask at all (caught per annotation, the others go on)
    obj["annotations"][1] = {"id": 7, "segmentation": "oops"}
    with open(src, "w") as f:
        json.dump(obj, f)
    assert polygons(src, "-o", out) == 1
    assert not out.exists()
    # a good file and a bad one: nothing written either
    good = sa1b(tmp_path / "sa_3.json", 3, "sa_3.jpg", [block(4, 5, 0, 2, 0, 2)])
    obj["annotations"] = [{"id": 8, "segmentation": {"size": [4, 5], "counts": "0!"}}]
    with open(src, "w") as f:
        json.dump(obj, f)
    assert polygons(good, src, "-o", out) == 1
    assert not out.exists()
    assert polygons(good, "-o", out) == 0 and out.exists()


def test_two_sa1b_files_with_one_image_id(tmp_path):
    a = sa1b(tmp_path / "a.json", 1, "a.jpg", [block(4, 5, 0, 2, 0, 2)])
    b = sa1b(tmp_path / "b.json", 1, "b.jpg", [block(4, 5, 1, 3, 1, 4)])
    out = tmp_path / "out.json"
    assert polygons(a, b, "-o", out) == 0
    got = json.loads(out.read_text())
    assert [im["file_name"] for im in got["images"]] == ["a.jpg", "b.jpg"]
    assert [an["segmentation"] for an in got["annotations"]] == [
        [[-0.5, -0.5, -0.5, 1.5, 1.5, 1.5, 1.5, -0.5]], [[0.5, 0.5, 0.5, 2.5, 3.5, 2.5, 3.5, 0.5]]]



def test_two_sa1b_files_with_one_image_id_yolo(tmp_path):
    """Labels go to the image entry of their file, not to the last entry of
    their id (before the fix: one b.txt holding both images' rings)."""
    a = sa1b(tmp_path / "a.json", 1, "a.jpg", [block(4, 5, 0, 2, 0, 2)])
    b = sa1b(tmp_path / "b.json", 1, "b.jpg", [block(4, 5, 1, 3, 1, 4)])
    lab = tmp_path / "labels"
    assert polygons(a, b, "-o", lab, "--format", "yolo") == 0
    assert sorted(os.listdir(lab)) == ["a.txt", "b.txt"]
    # corners in pixels 0..w (x) and 0..h (y), divided by w = 5 and h = 4
    assert (lab / "a.txt").read_text() == "0 0 0 0 0.5 0.4 0.5 0.4 0\n"
    assert (lab / "b.txt").read_text() == "0 0.2 0.25 0.2 0.75 0.8 0.75 0.8 0.25\n"


def test_coco_images_sharing_a_stem_share_the_label_file(tmp_path):
    h, w = 4, 8
    coco = {
        "images": [{"id": 1, "height": h, "width": w, "file_name": "a/x.jpg"},
                   {"id": 2, "height": h, "width": w, "file_name": "b/x.png"}],
        "categories": [{"id": 3, "name": "c"}, {"id": 9, "name": "d"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 9, "segmentation": rle(block(h, w, 0, 4, 0, 2)),
             "area": 8, "bbox": [0, 0, 2, 4], "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 3, "segmentation": rle(block(h, w, 0, 2, 4, 8)),
             "area": 8, "bbox": [4, 0, 4, 2], "iscrowd": 0},
        ],
    }
    src = tmp_path / "instances.json"
    src.write_text(json.dumps(coco))
    lab = tmp_path / "labels"
    assert polygons(src, "-o", lab, "--format", "yolo") == 0
    assert os.listdir(lab) == ["x.txt"]
    assert (lab / "x.txt").read_text() == ("1 0 0 0 1 0.25 1 0.25 0\n"
                                           "0 0.5 0 0.5 0.5 1 0.5 1 0\n")


def test_default_mode_keeps_holes_and_default_approx_is_simple(tmp_path):
    m = block(7, 7, 1, 6, 1, 6)
    m[2:5, 2:5] = 0
    src = sa1b(tmp_path / "sa_2.json", 2, "sa_2.jpg", [m])
    out = tmp_path / "out.json"
    assert polygons(src, "-o", out) == 0
    seg = json.loads(out.read_text())["annotations"][0]["segmentation"]
    assert len(seg) == 1  # the hole bridged into the outer ring
    back = pmask.decode(pmask.frPyObjects(seg, 7, 7)).max(2)
    np.testing.assert_array_equal(back, m)
    assert len(seg[0]) == 2 * (4 + 4 + 2)  # simple: 4 + 4 corners and the cut's two ends
