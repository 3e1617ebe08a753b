"""Pins for fastrle.cocoeval (csrc/rle_eval.c, cocoeval.py): small hand-made
evaluations, each built to reach one rule of pycocotools' evaluateImg,
accumulate or loadRes at its edge (an IoU equal to the threshold, an area on
a range's end, score ties on both sides of the 16-dt sort switch, a crowd
matched twice, an ignored gt before a real one, ...). pycocotools' COCOeval
is the oracle; each case also checks by hand that the stock result shows the
behaviour it is about, so a case cannot pass by missing its rule."""
from __future__ import annotations

import contextlib
import copy
import io
from typing import Any, Callable, Dict, List, Optional

import numpy as np
import pytest

from common import assert_same
from eval_oracle import make_coco, same

pm = pytest.importorskip("pycocotools.mask")
coco_mod = pytest.importorskip("pycocotools.coco")
stock_mod = pytest.importorskip("pycocotools.cocoeval")

from fastrle import cocoeval as fce  # noqa: E402  (needs pycocotools)

H = W = 100


def dataset(gts: List[dict], n_img: int = 1, cats=(1,)) -> dict:
    """gts: dicts with bbox (x, y, w, h) and optional iscrowd/area/image_id/
    category_id/ignore; ids 1.. in order."""
    anns = []
    for k, g in enumerate(gts):
        x, y, w, h = g["bbox"]
        a = {"id": k + 1, "image_id": g.get("image_id", 1), "category_id": g.get("category_id", 1),
             "bbox": [float(v) for v in g["bbox"]], "area": float(g.get("area", w * h)),
             "iscrowd": g.get("iscrowd", 0),
             "segmentation": [[x, y, x + w, y, x + w, y + h, x, y + h]]}
        if "ignore" in g:
            a["ignore"] = g["ignore"]
        anns.append(a)
    return {"images": [{"id": i + 1, "height": H, "width": W} for i in range(n_img)],
            "annotations": anns, "categories": [{"id": c, "name": str(c)} for c in cats]}


def dets(boxes: List[tuple], image_id: int = 1, category_id: int = 1) -> List[dict]:
    """(x, y, w, h, score) -> bbox results."""
    return [{"image_id": image_id, "category_id": category_id, "bbox": [float(v) for v in b[:4]],
             "score": float(b[4])} for b in boxes]


def evaluate(cls: Any, ds: dict, results: List[dict], iou_type: str = "bbox",
             setup: Optional[Callable[[Any], None]] = None) -> Any:
    gt = make_coco(ds)
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(copy.deepcopy(results))
        E = cls(gt, dt, iou_type)
        if setup is not None:
            setup(E.params)
        E.evaluate()
        E.accumulate()
    return E


def both(ds: dict, results: List[dict], iou_type: str = "bbox",
         setup: Optional[Callable[[Any], None]] = None) -> Any:
    """Run both; every output equal (NaN bit for bit); the stock COCOeval back."""
    s = evaluate(stock_mod.COCOeval, ds, results, iou_type, setup)
    f = evaluate(fce.COCOeval, ds, results, iou_type, setup)
    assert_same(f.ious, s.ious, "ious")
    same(f.evalImgs, s.evalImgs, "evalImgs")
    for k in ("precision", "recall", "scores"):
        assert_same(f.eval[k], s.eval[k], k)
    return s


def entry(E: Any, area: int = 0, img: int = 1, cat: int = 0) -> Dict[str, Any]:
    """evalImgs' entry of (category index, area index, image id)."""
    n_img = len(E.params.imgIds)
    return E.evalImgs[cat * len(E.params.areaRng) * n_img + area * n_img + E.params.imgIds.index(img)]


# --- matching (evaluateImg) ------------------------------------------------------------

def test_iou_equal_to_the_threshold_matches():
    # gt 10x10, dt its left half: IoU exactly 0.5
    s = both(dataset([{"bbox": (10, 10, 10, 10)}]), dets([(10, 10, 5, 10, 0.9)]))
    assert s.ious[1, 1][0, 0] == 0.5
    assert entry(s)["dtMatches"][0, 0] == 1 and entry(s)["dtMatches"][1, 0] == 0  # t=0.5 yes, 0.55 no


def test_equal_ious_later_gt_wins():
    # one dt straddling two gts with the same IoU: pycocotools keeps the later gt (`<`, not `<=`)
    ds = dataset([{"bbox": (0, 0, 10, 10)}, {"bbox": (10, 0, 10, 10)}])
    s = both(ds, dets([(5, 0, 10, 10, 0.9)]))
    assert s.ious[1, 1][0, 0] == s.ious[1, 1][0, 1]
    # IoU 50/150 < 0.5: lower the thresholds so it matches
    s = both(ds, dets([(5, 0, 10, 10, 0.9)]), setup=lambda p: setattr(p, "iouThrs", np.array([0.3, 0.33])))
    assert list(entry(s)["dtMatches"][:, 0]) == [2.0, 2.0]


def test_crowd_gt_matches_every_dt():
    ds = dataset([{"bbox": (0, 0, 50, 50), "iscrowd": 1}])
    s = both(ds, dets([(0, 0, 20, 20, 0.9), (25, 25, 20, 20, 0.8)]))
    assert list(entry(s)["dtMatches"][0]) == [1.0, 1.0]
    assert entry(s)["dtIgnore"][0].all()


def test_ignored_gt_listed_first_and_break_at_the_real_ones():
    # gt 1 a crowd (ignored) with the higher IoU, gt 2 real: the dt matches gt 2 and
    # stops there (pycocotools' break); gtIds, gtMatches in ignore-sorted order
    ds = dataset([{"bbox": (0, 0, 20, 20), "iscrowd": 1}, {"bbox": (0, 0, 20, 30)}])
    s = both(ds, dets([(0, 0, 20, 20, 0.9), (0, 0, 20, 29, 0.8)]))
    e = entry(s)
    assert e["gtIds"] == [2, 1]
    assert list(e["dtMatches"][0]) == [2.0, 1.0]
    assert list(e["gtMatches"][0]) == [1.0, 2.0]
    assert list(e["gtIgnore"]) == [0, 1]


def test_gt_area_on_a_range_end_is_not_ignored():
    # areas exactly 32**2 (the small/medium edge) and 96**2: in both adjacent ranges
    ds = dataset([{"bbox": (0, 0, 32, 32)}, {"bbox": (0, 0, 96, 96), "image_id": 2}], n_img=2)
    res = dets([(0, 0, 32, 31, 0.9)]) + dets([(0, 0, 96, 95, 0.8)], image_id=2)
    s = both(ds, res)
    assert list(entry(s, 1)["gtIgnore"]) == [0] and list(entry(s, 2)["gtIgnore"]) == [0]
    assert list(entry(s, 2, img=2)["gtIgnore"]) == [0] and list(entry(s, 3, img=2)["gtIgnore"]) == [0]


def test_dt_area_on_a_range_end_counts():
    # an unmatched dt of area exactly 32**2 is a false positive in 'medium', not ignored
    ds = dataset([{"bbox": (0, 0, 40, 40)}])
    s = both(ds, dets([(50, 50, 32, 32, 0.95), (0, 0, 40, 40, 0.5)]))
    assert not entry(s, 2)["dtIgnore"][0, 0]
    assert s.eval["precision"][0, 100, 0, 2, 2] == 0.5


def test_matched_dt_outside_the_area_range_is_not_ignored():
    # gt of area 1100 (medium), dt of area 900 (small) matching it: in 'medium' the dt counts
    ds = dataset([{"bbox": (0, 0, 44, 25)}])
    s = both(ds, dets([(0, 0, 36, 25, 0.9)]))
    assert not entry(s, 2)["dtIgnore"][0, 0] and entry(s, 2)["dtMatches"][0, 0] == 1


def test_own_ignore_key_is_overwritten_by_iscrowd():
    # pycocotools sets gt['ignore'] = iscrowd, whatever 'ignore' said
    ds = dataset([{"bbox": (0, 0, 20, 20), "ignore": 1}, {"bbox": (30, 30, 20, 20), "iscrowd": 1, "ignore": 0}])
    s = both(ds, dets([(0, 0, 20, 20, 0.9)]))
    assert list(entry(s)["gtIgnore"]) == [0, 1]


def test_score_ties_keep_input_order_small_and_large():
    # ties among <= 16 dts (insertion sort) and among 20 (merge sort): stable, as numpy's
    # mergesort; the dts overlap one gt, so the first in that order takes it
    for n in (5, 20):
        boxes = [(0, 0, 20, 20 - (k % 3), 0.5 if k % 2 else 0.7) for k in range(n)]
        s = both(dataset([{"bbox": (0, 0, 20, 20)}]), dets(boxes), setup=lambda p: setattr(p, "maxDets", [1, 10, 100]))
        ids = entry(s)["dtIds"]
        want = [k + 1 for k in range(n) if k % 2 == 0] + [k + 1 for k in range(n) if k % 2]
        assert ids == want


def test_ties_across_images_in_accumulate():
    # 20 dts over 2 images, many equal scores: accumulate's merge of the images' dts is stable
    ds = dataset([{"bbox": (0, 0, 20, 20)}, {"bbox": (50, 50, 20, 20), "image_id": 2}], n_img=2)
    res = dets([(0, 0, 20, 20 - k % 5, 0.5 + 0.1 * (k % 2)) for k in range(10)]) \
        + dets([(50 + k % 4, 50, 20, 20, 0.5 + 0.1 * (k % 3 == 0)) for k in range(10)], image_id=2)
    both(ds, res)


def test_nan_score_sorts_last():
    res = dets([(0, 0, 20, 20, float("nan")), (0, 0, 20, 19, 0.3), (30, 30, 5, 5, 0.2)])
    s = both(dataset([{"bbox": (0, 0, 20, 20)}]), res)
    assert entry(s)["dtIds"] == [2, 3, 1]


def test_maxdets_keeps_the_largest_per_image():
    res = dets([(0, 0, 20, 20 - k, 0.9 - 0.1 * k) for k in range(4)])
    s = both(dataset([{"bbox": (0, 0, 20, 20)}]), res, setup=lambda p: setattr(p, "maxDets", [1, 3]))
    assert entry(s)["dtIds"] == [1, 2, 3]


def test_images_with_one_side_only_have_entries():
    ds = dataset([{"bbox": (0, 0, 20, 20)}], n_img=3)
    s = both(ds, dets([(0, 0, 10, 10, 0.9)], image_id=2))
    assert entry(s, img=1) is not None and entry(s, img=2) is not None and entry(s, img=3) is None
    assert s.eval["recall"][0, 0, 0, 2] == 0  # gts, no dt matched
    # a category with gts and no dt at all: recall 0, not -1
    ds = dataset([{"bbox": (0, 0, 20, 20)}, {"bbox": (0, 0, 20, 20), "category_id": 2}], cats=(1, 2))
    s = both(ds, dets([(0, 0, 20, 20, 0.9)]))
    assert s.eval["recall"][0, 1, 0, 2] == 0 and s.eval["recall"][0, 0, 0, 2] == 1


def test_ious_layout_dts_by_gts():
    ds = dataset([{"bbox": (0, 0, 20, 20)}, {"bbox": (40, 0, 20, 20)}, {"bbox": (0, 40, 20, 20)}])
    s = both(ds, dets([(0, 0, 20, 10, 0.9), (40, 0, 20, 5, 0.8)]))
    assert s.ious[1, 1].shape == (2, 3) and s.ious[1, 1][1, 1] == 0.25


def test_category_listed_twice_without_use_cats():
    # useCats=0 walks p.catIds: a category listed twice brings its annotations twice
    def setup(p):
        p.useCats = 0
        p.catIds = [1, 1]

    s = both(dataset([{"bbox": (0, 0, 20, 20)}]), dets([(0, 0, 20, 20, 0.9)]), setup=setup)
    assert entry(s)["gtIds"] == [1, 1]


# --- accumulate ------------------------------------------------------------------------

def test_first_dt_ignored_precision_is_not_nan():
    # the top dt matches a crowd (ignored): tp = fp = 0 there, 0 / np.spacing(1) = 0
    ds = dataset([{"bbox": (0, 0, 30, 30), "iscrowd": 1}, {"bbox": (50, 50, 20, 20)}])
    s = both(ds, dets([(0, 0, 30, 30, 0.9), (50, 50, 20, 20, 0.8)]))
    assert s.eval["precision"][0, 0, 0, 0, 2] == pytest.approx(1.0)


def test_envelope_raises_the_first_dt():
    # fp then tp: precision [0, 0.5] becomes [0.5, 0.5]
    ds = dataset([{"bbox": (0, 0, 20, 20)}])
    s = both(ds, dets([(50, 50, 20, 20, 0.9), (0, 0, 20, 20, 0.8)]))
    assert s.eval["precision"][0, 0, 0, 0, 2] == 0.5


def test_recall_equal_to_a_recall_threshold():
    # 2 gts, tp then fp: recalls [0.5, 0.5]; searchsorted(side='left') at 0.5 is the tp
    ds = dataset([{"bbox": (0, 0, 20, 20)}, {"bbox": (50, 50, 20, 20)}])
    s = both(ds, dets([(0, 0, 20, 20, 0.9), (30, 30, 5, 5, 0.8)]))
    assert s.eval["precision"][0, 50, 0, 0, 2] == pytest.approx(1.0) and s.eval["precision"][0, 51, 0, 0, 2] == 0
    assert s.eval["scores"][0, 50, 0, 0, 2] == 0.9


def test_scores_in_sorted_order_across_images():
    ds = dataset([{"bbox": (0, 0, 20, 20)}, {"bbox": (0, 0, 20, 20), "image_id": 2}], n_img=2)
    res = dets([(0, 0, 20, 20, 0.3)]) + dets([(0, 0, 20, 20, 0.9)], image_id=2)
    s = both(ds, res)
    assert s.eval["scores"][0, 0, 0, 0, 2] == 0.9 and s.eval["scores"][0, 100, 0, 0, 2] == 0.3


# --- loadRes ---------------------------------------------------------------------------

def test_load_res_boxes_of_segm_results_without_bbox():
    gt = make_coco(dataset([{"bbox": (0, 0, 20, 20)}]))
    masks = []
    for x0, y0, w, h in [(0, 0, 10, 10), (5, 5, 30, 20), (60, 40, 7, 3)]:
        m = np.zeros((H, W), np.uint8)
        m[y0:y0 + h, x0:x0 + w] = 1
        r = pm.encode(np.asfortranarray(m))
        masks.append({"size": r["size"], "counts": r["counts"].decode()})
    res = [{"image_id": 1, "category_id": 1, "segmentation": masks[0], "score": 0.9},
           {"image_id": 1, "category_id": 1, "segmentation": masks[1], "score": 0.8, "bbox": [1.0, 2.0, 3.0, 4.0]},
           {"image_id": 1, "category_id": 1, "segmentation": masks[2], "score": 0.7}]
    with contextlib.redirect_stdout(io.StringIO()):
        a = fce.loadRes(gt, copy.deepcopy(res))
        b = gt.loadRes(copy.deepcopy(res))
    got = [list(map(float, x["bbox"])) for x in a.dataset["annotations"]]
    assert got == [list(map(float, x["bbox"])) for x in b.dataset["annotations"]]
    assert got == [[0, 0, 10, 10], [1, 2, 3, 4], [60, 40, 7, 3]]
