"""Pins for fastrle.cocoeval's Python glue (issue 24): the params handling of
evaluate (useSegm, duplicated and unsorted ids and maxDets), accumulate with
an explicit params object or non-integer maxDets (pycocotools' own code then),
accumulate before evaluate, and keypoints delegation with changed params.
pycocotools' COCOeval is the oracle: results, printed lines, evalImgs and
ious must be the same (test_cocoeval's ``both``)."""
from __future__ import annotations

import contextlib
import copy
import io

import numpy as np
import pytest

pytest.importorskip("pycocotools.cocoeval")

from test_cocoeval import (STOCK, assert_same, both, fce, load_res, make_coco, res_for,
                           small_gt)


@pytest.mark.parametrize("iou_type, use_segm", [("bbox", 1), ("segm", 0), ("keypoints", 1)])
def test_use_segm_picks_the_iou_type(iou_type, use_segm):
    """The deprecated useSegm overrides iouType (and prints that it did)."""
    f, _ = both(small_gt(), res_for(small_gt()), iou_type, lambda p: setattr(p, "useSegm", use_segm))
    assert f["E"].params.iouType == ("segm" if use_segm else "bbox")
    assert any("useSegm (deprecated)" in ln for ln in f["printed"])


@pytest.mark.parametrize("use_cats", [1, 0])
def test_duplicated_unsorted_ids_and_max_dets(use_cats):
    gt = small_gt()

    def setup(p):
        p.useCats = use_cats
        p.imgIds = [p.imgIds[1], p.imgIds[0], p.imgIds[1]]
        p.catIds = list(p.catIds)[::-1][:30] + [p.catIds[0]]
        p.maxDets = [10, 1, 100, 10]

    f, _ = both(gt, res_for(gt), "segm", setup)
    assert f["E"].params.maxDets == [1, 10, 10, 100]
    assert f["E"].params.imgIds == sorted({i["id"] for i in gt["images"]})


@pytest.mark.parametrize("max_dets, raised", [
    ([1.0, 10.0, 100.0], ("evaluate", TypeError)), ([1, 10, 100.5], ("evaluate", TypeError)),
    ([1, 2.5], ("evaluate", TypeError)),  # more detections than 2.5 in a pair: raised before the ious
    ([1.0, 10, 100], ("accumulate", TypeError)), ([np.int64(1), 10, np.int64(100)], None)])
def test_non_int_max_dets(max_dets, raised):
    """pycocotools slices the detections with maxDets[-1] in evaluate (a float:
    TypeError there) and with every maxDets in accumulate. Pins the fix of a
    divergence: fastrle's evaluate took a float last maxDets and raised only
    in accumulate."""
    gt = small_gt()
    _, s = both(gt, res_for(gt), "segm", lambda p: setattr(p, "maxDets", list(max_dets)), summarize=False)
    assert s.get("raised") == raised
    # with nothing to evaluate pycocotools never slices: no error from either
    empty = {"images": gt["images"], "categories": gt["categories"], "annotations": []}
    _, s = both(empty, empty, "segm", lambda p: setattr(p, "maxDets", [1.0, 10.0, 100.0]), summarize=False,
                dt_is_results=False)
    assert s.get("raised") is None


def _evaluate(cls, gt, res, fast):
    g = make_coco(gt)
    d = load_res(g, res, fast)
    E = cls(g, d, "segm")
    with contextlib.redirect_stdout(io.StringIO()):
        E.evaluate()
    return E


@pytest.mark.parametrize("change", ["fewer cats", "fewer areas", "other thresholds", "fewer images"])
def test_accumulate_with_an_explicit_params_object(change):
    """accumulate(p): the cells of p that the evaluation has, the others -1."""
    gt = small_gt()
    out = []
    for cls in (STOCK, fce.COCOeval):
        E = _evaluate(cls, gt, res_for(gt), cls is fce.COCOeval)
        p = copy.deepcopy(E.params)
        if change == "fewer cats":
            p.catIds = list(p.catIds)[1::3]
        elif change == "fewer areas":
            p.areaRng, p.areaRngLbl = p.areaRng[1:], p.areaRngLbl[1:]
        elif change == "other thresholds":
            p.iouThrs = np.array([0.5, 0.75])
        else:
            p.imgIds = p.imgIds[:1]
        buf = io.StringIO()
        raised = None
        try:
            with contextlib.redirect_stdout(buf):
                E.accumulate(p)
        except Exception as e:  # other thresholds: pycocotools' IndexError, from both
            raised = type(e)
        out.append((E, [ln for ln in buf.getvalue().splitlines() if not ln.startswith("DONE")], raised))
    (s, ps, rs), (f, pf, rf) = out
    assert (pf, rf) == (ps, rs)
    assert (rs is IndexError) is (change == "other thresholds")
    for key in () if rs else ("precision", "recall", "scores", "counts"):
        assert_same(f.eval[key], s.eval[key], key)


def test_accumulate_before_evaluate_and_summarize_before_accumulate():
    """The same lines printed and the same exceptions as pycocotools."""
    gt = small_gt()
    got = []
    for cls in (STOCK, fce.COCOeval):
        g = make_coco(gt)
        E = cls(g, load_res(g, res_for(gt)), "segm")
        seen = []
        for step in (E.accumulate, E.summarize):
            buf = io.StringIO()
            try:
                with contextlib.redirect_stdout(buf):
                    step()
                seen.append((buf.getvalue(), None))
            except Exception as e:
                seen.append((buf.getvalue(), type(e), str(e)))
        got.append(seen)
    assert got[0] == got[1]
    assert got[1][0][0] == "Accumulating evaluation results...\nPlease run evaluate() first\n"
    assert got[1][1][1:] == (Exception, "Please run accumulate() first")
