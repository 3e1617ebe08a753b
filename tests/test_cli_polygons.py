"""``fastrle polygons``: hand-written expected outputs for a small SA-1B
file, pycocotools' rasterisation of what it writes for a shard and the COCO
test file, and its exit codes (nothing written on bad input)."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import fastrle
from fastrle import synthetic
from fastrle.cli import main
from fastrle.sa1b import iter_shard

pmask = pytest.importorskip("pycocotools.mask")

DATA = os.path.join(os.path.dirname(__file__), "data")
COCO = os.path.join(DATA, "coco_instances_val2014_100.json")

# a 3x3 square with a 1-pixel hole, and a lone pixel, in a 5x6 image
SQUARE = np.zeros((5, 6), np.uint8)
SQUARE[1:4, 1:4] = 1
SQUARE[2, 2] = 0
PIXEL = np.zeros((5, 6), np.uint8)
PIXEL[4, 5] = 1

# written by hand: the square's outline from (0.5, 0.5) down, the cut from its
# corner (0.5, 3.5) to the hole's start (1.5, 2.5), round the hole and back
SQUARE_RING = [0.5, 0.5, 0.5, 3.5, 1.5, 2.5, 1.5, 1.5, 2.5, 1.5, 2.5, 2.5, 1.5, 2.5, 0.5, 3.5,
               3.5, 3.5, 3.5, 0.5]
PIXEL_RING = [4.5, 3.5, 4.5, 4.5, 5.5, 4.5, 5.5, 3.5]
YOLO_TXT = ("0 0.166667 0.2 0.166667 0.8 0.333333 0.6 0.333333 0.4 0.5 0.4 0.5 0.6 0.333333 0.6 "
            "0.166667 0.8 0.666667 0.8 0.666667 0.2\n"
            "0 0.833333 0.8 0.833333 1 1 1 1 0.8\n")


def sa1b_file(path, anns=None):
    rles = fastrle.encode(np.stack([SQUARE, PIXEL]))
    anns = anns if anns is not None else [
        {"id": 10, "segmentation": rles[0], "area": 8, "bbox": [1, 1, 3, 3]},
        {"id": 11, "segmentation": rles[1], "area": 1, "bbox": [5, 4, 1, 1]},
    ]
    obj = {"image": {"image_id": 1, "width": 6, "height": 5, "file_name": "sa_1.jpg"}, "annotations": anns}
    with open(path, "w") as f:
        json.dump(obj, f)
    return str(path)


def polygons(*argv):
    return main(["polygons", *[str(a) for a in argv]])


def test_coco_output_by_hand(tmp_path):
    src = sa1b_file(tmp_path / "sa_1.json")
    out = tmp_path / "out.json"
    assert polygons(src, "-o", out) == 0
    got = json.loads(out.read_text())
    assert got["images"] == [{"image_id": 1, "width": 6, "height": 5, "file_name": "sa_1.jpg", "id": 1}]
    assert got["categories"] == []
    assert got["annotations"] == [
        {"id": 10, "area": 8, "bbox": [1, 1, 3, 3], "image_id": 1, "segmentation": [SQUARE_RING]},
        {"id": 11, "area": 1, "bbox": [5, 4, 1, 1], "image_id": 1, "segmentation": [PIXEL_RING]},
    ]
    # external: the outer ring only (the hole filled), every corner, from the
    # first pixel's top-right corner (the way in from its last pixel, to its right)
    assert polygons(src, "-o", out, "--mode", "external", "--approx", "none") == 0
    seg = json.loads(out.read_text())["annotations"][0]["segmentation"]
    assert seg == [[1.5, 0.5, 0.5, 0.5, 0.5, 1.5, 0.5, 2.5, 0.5, 3.5, 1.5, 3.5, 2.5, 3.5, 3.5, 3.5,
                    3.5, 2.5, 3.5, 1.5, 3.5, 0.5, 2.5, 0.5]]
    # --min-area 2 drops the rings of area 1: the lone pixel's, and the hole (filled)
    assert polygons(src, "-o", out, "--min-area", 2) == 0
    assert [a["segmentation"] for a in json.loads(out.read_text())["annotations"]] == [
        [[0.5, 0.5, 0.5, 3.5, 3.5, 3.5, 3.5, 0.5]], []]


def test_yolo_output_by_hand(tmp_path):
    src = sa1b_file(tmp_path / "sa_1.json")
    out = tmp_path / "labels"
    assert polygons(src, "-o", out, "--format", "yolo") == 0
    assert os.listdir(out) == ["sa_1.txt"]
    assert (out / "sa_1.txt").read_text() == YOLO_TXT


def test_shard_round_trip_through_pycocotools(tmp_path):
    path = str(tmp_path / "sa_000000.tar")
    synthetic.write_sa1b_shard(path, images=3, masks=20, h=70, w=90, seed=4, first_id=5)
    out = tmp_path / "out.json"
    assert polygons(path, "-o", out) == 0
    got = json.loads(out.read_text())
    n = 0  # annotations come out in shard order, each image's in file order
    for _, _, ann in iter_shard(path, images=False):
        for rle in ann.rles():
            seg = got["annotations"][n]["segmentation"]
            h, w = rle["size"]
            m = pmask.decode(rle)
            d = pmask.decode(pmask.frPyObjects(seg, h, w)).max(2) if seg else np.zeros_like(m)
            assert np.array_equal(d, m)
            n += 1
    assert n == 60 == len(got["annotations"]) and len(got["images"]) == 3


def test_coco_file_classes_and_round_trip(tmp_path):
    out = tmp_path / "labels"
    assert polygons(COCO, "-o", out, "--format", "yolo") == 0
    coco = json.load(open(COCO))
    assert len(os.listdir(out)) == len(coco["images"])
    ids = sorted({c["id"] for c in coco["categories"]} | {a["category_id"] for a in coco["annotations"]})
    a = coco["annotations"][0]
    im = next(i for i in coco["images"] if i["id"] == a["image_id"])
    lines = (out / (os.path.splitext(im["file_name"])[0] + ".txt")).read_text().splitlines()
    assert lines and lines[0].split()[0] == str(ids.index(a["category_id"]))
    vals = [float(v) for v in lines[0].split()[1:]]
    assert all(0 <= v <= 1 for v in vals) and len(vals) % 2 == 0
    js = tmp_path / "coco.json"
    assert polygons(COCO, "-o", js) == 0
    got = json.loads(js.read_text())
    assert len(got["annotations"]) == len(coco["annotations"])
    assert {c["id"] for c in got["categories"]} == {c["id"] for c in coco["categories"]}
    for src, new in list(zip(coco["annotations"], got["annotations"]))[:60]:
        h, w = im_size = next((i["height"], i["width"]) for i in coco["images"] if i["id"] == src["image_id"])
        rle = fastrle.mask.frPyObjects(src["segmentation"], *im_size) if isinstance(src["segmentation"], list) \
            else src["segmentation"]
        m = pmask.decode(rle)
        m = m.max(2) if m.ndim == 3 else m
        if isinstance(src["segmentation"], dict) and isinstance(src["segmentation"]["counts"], list):
            m = pmask.decode(pmask.frPyObjects(src["segmentation"], h, w))
        d = pmask.decode(pmask.frPyObjects(new["segmentation"], h, w)).max(2) if new["segmentation"] \
            else np.zeros_like(m)
        assert np.array_equal(d, m)


def test_bad_input_exit_1_and_nothing_written(tmp_path, capsys):
    bad = {"id": 12, "segmentation": {"size": [5, 6], "counts": "0!"}}
    src = sa1b_file(tmp_path / "sa_1.json", anns=[bad])
    out = tmp_path / "out.json"
    assert polygons(src, "-o", out) == 1
    assert not out.exists()
    assert "image 1 annotation 0" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert polygons(broken, "-o", out) == 1
    assert polygons(tmp_path / "missing.json", "-o", out) == 1
    assert sorted(os.listdir(tmp_path)) == ["broken.json", "sa_1.json"]


def test_usage_errors_exit_2(tmp_path):
    src = sa1b_file(tmp_path / "sa_1.json")
    f = tmp_path / "file.txt"
    f.write_text("")
    assert polygons(src, "-o", f, "--format", "yolo") == 2
    assert polygons(src, "-o", tmp_path / "o.json", "--min-area", -1) == 2
    assert polygons(str(tmp_path / "none" / "*.json"), "-o", tmp_path / "o.json") == 2
    with pytest.raises(SystemExit) as e:
        polygons(src)
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        polygons(src, "-o", tmp_path / "o.json", "--format", "voc")
    assert e.value.code == 2
