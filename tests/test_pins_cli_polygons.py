"""Pins for ``fastrle polygons`` where no outside oracle exists (issue 24):
the summary line, images without annotations, category order and YOLO
classes, label file names and empty label files, the problem lines, and the
usage messages. Every expected value is written by hand."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from fastrle.cli import main

pm = pytest.importorskip("pycocotools.mask")

PIXEL = np.zeros((5, 6), np.uint8)
PIXEL[4, 5] = 1
PIXEL_RING = [4.5, 3.5, 4.5, 4.5, 5.5, 4.5, 5.5, 3.5]
# (x + 0.5) / 6 and (y + 0.5) / 5 of PIXEL_RING
PIXEL_YOLO = "0.833333 0.8 0.833333 1 1 1 1 0.8"


def rle():
    r = pm.encode(np.asfortranarray(PIXEL))
    return {"size": [5, 6], "counts": r["counts"].decode()}


def coco_file(path, anns=None):
    doc = {"images": [{"id": 3, "height": 5, "width": 6, "file_name": "b/pic3.png"},
                      {"id": 1, "height": 5, "width": 6, "file_name": "x.jpg"},
                      {"id": 2, "height": 5, "width": 6}],
           "categories": [{"id": 10, "name": "ten"}, {"id": 2, "name": "two"}, {"id": 7, "name": "seven"},
                          {"id": 5, "name": "five"}],
           "annotations": anns if anns is not None else [
               {"id": 1, "image_id": 3, "category_id": 7, "segmentation": rle(), "iscrowd": 0},
               {"id": 2, "image_id": 2, "category_id": 2, "segmentation": rle(), "iscrowd": 0}]}
    with open(path, "w") as f:
        json.dump(doc, f)
    return str(path)


def polygons(*argv):
    return main(["polygons", *[str(a) for a in argv]])


def test_coco_output_images_categories_and_summary(tmp_path, capsys):
    src = coco_file(tmp_path / "c.json")
    out = tmp_path / "o.json"
    assert polygons(src, "-o", out) == 0
    assert capsys.readouterr().out == f"2 annotations of 3 images -> {out}\n"
    got = json.loads(out.read_text())
    # images with annotations first (in annotation order), then the file's others
    assert got["images"] == [{"id": 3, "height": 5, "width": 6, "file_name": "b/pic3.png"},
                             {"id": 2, "height": 5, "width": 6, "file_name": "2"},
                             {"id": 1, "height": 5, "width": 6, "file_name": "x.jpg"}]
    assert [c["id"] for c in got["categories"]] == [2, 5, 7, 10] and got["categories"][0]["name"] == "two"
    assert got["annotations"] == [
        {"id": 1, "image_id": 3, "category_id": 7, "iscrowd": 0, "segmentation": [PIXEL_RING]},
        {"id": 2, "image_id": 2, "category_id": 2, "iscrowd": 0, "segmentation": [PIXEL_RING]}]
    assert sorted(os.listdir(tmp_path)) == ["c.json", "o.json"]


def test_yolo_classes_names_and_empty_files(tmp_path, capsys):
    src = coco_file(tmp_path / "c.json")
    out = tmp_path / "new" / "labels"  # made, parents included
    assert polygons(src, "-o", out, "--format", "yolo") == 0
    assert capsys.readouterr().out == f"2 annotations of 3 images -> {out}/\n"
    # classes: positions in the sorted ids 2, 5, 7, 10 (categories without annotations count)
    assert {n: (out / n).read_text() for n in os.listdir(out)} == {
        "pic3.txt": f"2 {PIXEL_YOLO}\n", "2.txt": f"0 {PIXEL_YOLO}\n", "x.txt": ""}


def test_problem_lines_and_nothing_written(tmp_path, capsys):
    src = coco_file(tmp_path / "c.json", anns=[
        {"id": 1, "image_id": 3, "category_id": 7, "segmentation": rle()},
        {"id": 2, "image_id": 3, "category_id": 7, "segmentation": 5}])
    out = tmp_path / "o.json"
    assert polygons(src, tmp_path / "missing.json", "-o", out) == 1
    out_text, err = capsys.readouterr()
    lines = err.splitlines()
    assert out_text == "" and len(lines) == 2
    assert lines[0].startswith("c.json: image 3 annotation 1: ")
    assert lines[1] == "missing.json: cannot read: No such file or directory"
    assert sorted(os.listdir(tmp_path)) == ["c.json"]


def test_usage_messages(tmp_path, capsys):
    src = coco_file(tmp_path / "c.json")
    assert polygons(src, "-o", tmp_path / "o.json", "--min-area", "-0.5") == 2
    assert capsys.readouterr().err == "fastrle polygons: --min-area must be >= 0\n"
    assert polygons(src, "-o", tmp_path / "o.json", "--min-area", "0") == 0
    f = tmp_path / "o.json"
    assert polygons(src, "-o", f, "--format", "yolo") == 2
    assert capsys.readouterr().err == (f"fastrle polygons: {f}: exists and is not a directory (--format yolo "
                                       "writes one .txt per image into a directory)\n")
    assert polygons(str(tmp_path / "none" / "*.json"), "-o", tmp_path / "p.json") == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'none' / '*.json'}: matches no file\n"
