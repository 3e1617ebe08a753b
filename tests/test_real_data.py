"""Real COCO annotation files (tests/data/SOURCES.md) through both codecs."""
from __future__ import annotations

import hashlib
import json
import os
from collections import defaultdict

import numpy as np
import pytest

from common import check_same, pycoco

import fastrle
import fastrle.mask as fm

DATA = os.path.join(os.path.dirname(__file__), "data")
RESULTS = os.path.join(DATA, "cocoapi_instances_val2014_fakesegm100_results.json")
INSTANCES = os.path.join(DATA, "coco_instances_val2014_100.json")


def load(path: str):
    with open(path) as f:
        return json.load(f)


def by_size(rles: list) -> dict:
    groups = defaultdict(list)
    for r in rles:
        groups[tuple(r["size"])].append(r)
    return groups


def test_results_file_all_functions() -> None:
    rles = [d["segmentation"] for d in load(RESULTS)]
    assert len(rles) == 734
    for group in by_size(rles).values():
        check_same("decode", group)
        check_same("area", group[:255])  # pycocotools overflows beyond 255 (below)
        check_same("toBbox", group)
        check_same("merge", group)
        check_same("merge", group, intersect=True)
        check_same("iou", group, group, [i % 2 for i in range(len(group))])
        np.testing.assert_array_equal(fastrle.decode(group),
                                      np.ascontiguousarray(pycoco.decode(group).transpose(2, 0, 1)))
        dense = fastrle.decode(group)
        assert [e["counts"] for e in fastrle.encode(dense)] == [g["counts"] for g in group]
    # iou across sizes: -1 where boxes overlap
    check_same("iou", rles[:40], rles[40:80], [0] * 40)


def test_instances_polygons_and_crowds() -> None:
    data = load(INSTANCES)
    images = {im["id"]: im for im in data["images"]}
    polys = crowds = 0
    for ann in data["annotations"]:
        im = images[ann["image_id"]]
        h, w = im["height"], im["width"]
        seg = ann["segmentation"]
        if isinstance(seg, list):
            polys += 1
            rles = check_same("frPyObjects", seg, h, w)
            check_same("merge", rles)
        else:
            crowds += 1
            rle = check_same("frPyObjects", seg, h, w)
            check_same("decode", rle)
            check_same("area", rle)
            check_same("toBbox", rle)
            np.testing.assert_array_equal(fastrle.decode(seg), pycoco.decode(rle))
    assert (polys, crowds) == (830, 9)


def box_iou_oracle(dt: np.ndarray, gt: np.ndarray, crowd: list) -> np.ndarray:
    """COCO box IoU written out per pair: intersection over union, or over
    the dt box's area where the gt is a crowd region."""
    out = np.zeros((len(dt), len(gt)))
    for i, (dx, dy, dw, dh) in enumerate(dt):
        for j, (gx, gy, gw, gh) in enumerate(gt):
            iw = min(dx + dw, gx + gw) - max(dx, gx)
            ih = min(dy + dh, gy + gh) - max(dy, gy)
            if iw <= 0 or ih <= 0:
                continue
            inter = iw * ih
            out[i, j] = inter / (dw * dh if crowd[j] else dw * dh + gw * gh - inter)
    return out


def test_box_iou_from_real_annotations() -> None:
    anns = load(INSTANCES)["annotations"][:60]
    boxes = np.array([a["bbox"] for a in anns], np.float64)
    check_same("iou", boxes[:30], boxes[30:], [a["iscrowd"] for a in anns[30:]])
    check_same("iou", [list(b) for b in boxes[:5]], [list(b) for b in boxes[5:9]], [0, 1, 0, 0])


# SHA-256 of the fixtures as taken from their sources (tests/data/SOURCES.md):
# they are used unchanged, and an edit to them must be deliberate.
FIXTURE_SHA256 = {
    "coco_instances_val2014_100.json":
        "0b82aff564f8c3774595d5457d12dbcf92da59b6482d2bd973520910703762bd",
    "cocoapi_instances_val2014_fakesegm100_results.json":
        "53e131551ea6f84c6fbd7273c603cc52e6dee4eb8f42d3fcf556053c356fb91b",
}


@pytest.mark.parametrize("name", sorted(FIXTURE_SHA256))
def test_fixture_is_unchanged(name: str) -> None:
    """tests/data holds the upstream bytes, as pinned in SOURCES.md."""
    with open(os.path.join(DATA, name), "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == FIXTURE_SHA256[name]
    with open(os.path.join(DATA, "SOURCES.md"), encoding="utf-8") as f:
        assert FIXTURE_SHA256[name] in f.read()


def test_box_iou_crowd_rule_on_real_crowds() -> None:
    """Each real crowd box against the boxes of its own image, which overlap
    it: crowd IoU divides by the dt area, so it differs from plain IoU."""
    anns = load(INSTANCES)["annotations"]
    crowds = [a for a in anns if a["iscrowd"]]
    assert len(crowds) == 9
    checked = 0
    for c in crowds:
        dt = np.array([a["bbox"] for a in anns if a["image_id"] == c["image_id"] and not a["iscrowd"]],
                      np.float64).reshape(-1, 4)
        if len(dt) == 0:
            continue
        other = dt[:1]  # a non-crowd gt next to the crowd one
        gt = np.concatenate([np.array([c["bbox"]], np.float64), other])
        want = box_iou_oracle(dt, gt, [1, 0])
        got = check_same("iou", dt, gt, [1, 0])
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
        np.testing.assert_array_equal(fm.iou(dt, gt, [1, 0]), got)
        plain = box_iou_oracle(dt, gt, [0, 0])
        overlap = want[:, 0] > 0
        # the crowd rule matters here: over the dt area, not the union (the
        # two agree only where the crowd box lies inside the dt box)
        assert (want[overlap, 0] >= plain[overlap, 0]).all()
        checked += int((want[overlap, 0] > plain[overlap, 0]).sum())
        np.testing.assert_array_equal(want[:, 1], plain[:, 1])
    assert checked >= 20, checked


def test_area_of_more_than_255_masks() -> None:
    """pycocotools 2.0.11 sizes area's output with a uint8 (OverflowError under
    NumPy 2 past 255 masks); fastrle.mask returns the areas."""
    rles = [d["segmentation"] for d in load(RESULTS)][:300]
    if int(np.__version__.split(".")[0]) >= 2:
        with pytest.raises(OverflowError):
            pycoco.area(rles)
    else:  # NumPy 1 wraps the uint8 silently and pycocotools works
        np.testing.assert_array_equal(fm.area(rles), pycoco.area(rles))
    expected = np.concatenate([pycoco.area(rles[:150]), pycoco.area(rles[150:])])
    got = fm.area(rles)
    assert got.dtype == np.uint32
    np.testing.assert_array_equal(got, expected)
