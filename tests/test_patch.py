"""fastrle.patch_pycocotools(): third-party code written for pycocotools runs
on fastrle with the same results, on the real COCO files in tests/data."""
from __future__ import annotations

import contextlib
import copy
import io
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import fastrle
from fastrle import compat
from fastrle import mask as fm

pm = pytest.importorskip("pycocotools.mask")
coco_mod = pytest.importorskip("pycocotools.coco")
cocoeval_mod = pytest.importorskip("pycocotools.cocoeval")

DATA = Path(__file__).parent / "data"
GT = DATA / "coco_instances_val2014_100.json"
RES = DATA / "cocoapi_instances_val2014_fakesegm100_results.json"
ORIGINALS = {name: getattr(pm, name) for name in compat.FUNCTIONS}


@pytest.fixture(autouse=True)
def unpatched():
    assert not compat.pycocotools_patched() and is_original()
    yield
    left = compat.pycocotools_patched()
    if not left:  # the count must be exactly 0, not negative: one patch patches, its restore restores
        p = fastrle.patch_pycocotools()
        took = is_patched()
        p.restore()
        assert took and is_original(), "the patch count is off"
    compat.unpatch_pycocotools()  # a failing test must not leave pycocotools patched for the others
    assert is_original()


def is_patched() -> bool:
    return (all(getattr(pm, n) is getattr(fm, n) for n in compat.FUNCTIONS)
            and coco_mod.maskUtils is fm and cocoeval_mod.maskUtils is fm)


def is_original() -> bool:
    return (all(getattr(pm, n) is f for n, f in ORIGINALS.items())
            and coco_mod.maskUtils is pm and cocoeval_mod.maskUtils is pm)


def test_context_manager_patches_and_restores():
    assert is_original()
    with fastrle.patch_pycocotools() as p:
        assert is_patched() and p.active and compat.pycocotools_patched()
    assert is_original() and not p.active


def test_idempotent_and_nested():
    p1 = fastrle.patch_pycocotools()
    p2 = fastrle.patch_pycocotools()
    assert is_patched()
    with fastrle.patch_pycocotools():
        assert is_patched()
    assert is_patched()  # the block took back only its own call
    p1.restore()
    p1.restore()  # idempotent per call
    assert is_patched()
    p2.restore()
    assert is_original()


def test_unpatch_restores_everything():
    p = fastrle.patch_pycocotools()
    fastrle.patch_pycocotools()
    compat.unpatch_pycocotools()
    assert is_original() and not compat.pycocotools_patched()
    p.restore()  # harmless afterwards
    assert is_original()


def test_restored_on_exception():
    with pytest.raises(RuntimeError):
        with fastrle.patch_pycocotools():
            raise RuntimeError("boom")
    assert is_original()


def test_clear_error_without_pycocotools(monkeypatch):
    monkeypatch.setitem(sys.modules, "pycocotools.mask", None)  # import now fails
    with pytest.raises(ImportError, match="pip install pycocotools"):
        fastrle.patch_pycocotools()
    assert not compat.pycocotools_patched()


def quiet():
    return contextlib.redirect_stdout(io.StringIO())


def evaluate(gt_ds, res):
    with quiet():
        gt = coco_mod.COCO()
        gt.dataset = copy.deepcopy(gt_ds)
        gt.createIndex()
        dt = gt.loadRes(copy.deepcopy(res))
        e = cocoeval_mod.COCOeval(gt, dt, "segm")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return e, dt


def test_cocoeval_segm_identical_when_patched():
    gt_ds, res = json.loads(GT.read_text()), json.loads(RES.read_text())
    stock, dt0 = evaluate(gt_ds, res)
    calls = []
    with fastrle.patch_pycocotools():
        real_iou = fm.iou
        cocoeval_mod.maskUtils = type(sys)("spy")  # count that fastrle really runs
        for n in compat.FUNCTIONS:
            setattr(cocoeval_mod.maskUtils, n, getattr(fm, n))
        cocoeval_mod.maskUtils.iou = lambda *a: calls.append(1) or real_iou(*a)
        try:
            ours, dt1 = evaluate(gt_ds, res)
        finally:
            cocoeval_mod.maskUtils = fm
    assert calls, "COCOeval did not call fastrle.mask.iou"
    assert np.array_equal(ours.stats, stock.stats)
    assert stock.ious.keys() == ours.ious.keys()
    for k in stock.ious:
        a, b = stock.ious[k], ours.ious[k]
        if isinstance(a, list):
            assert isinstance(b, list) and len(a) == len(b) == 0
        else:
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes(), k
    # loadRes' area and bbox of the results come from the mask functions
    for a in dt0.dataset["annotations"]:
        b = dt1.anns[a["id"]]
        assert a["area"] == b["area"] and type(a["area"]) is type(b["area"])
        assert list(a["bbox"]) == list(b["bbox"])


def gt_polygons():
    ds = json.loads(GT.read_text())
    imgs = {i["id"]: i for i in ds["images"]}
    by_image = {}
    for a in ds["annotations"]:
        if isinstance(a["segmentation"], list):
            by_image.setdefault(a["image_id"], []).append(a["segmentation"])
    return [(segs, imgs[i]["height"], imgs[i]["width"]) for i, segs in by_image.items()]


def test_torchvision_convert_coco_poly_to_mask_pattern():
    torch = pytest.importorskip("torch")
    from pycocotools import mask as coco_mask  # as torchvision's references/detection/coco_utils.py

    def convert_coco_poly_to_mask(segmentations, height, width):
        masks = []
        for polygons in segmentations:
            rles = coco_mask.frPyObjects(polygons, height, width)
            mask = coco_mask.decode(rles)
            if len(mask.shape) < 3:
                mask = mask[..., None]
            mask = torch.as_tensor(mask, dtype=torch.uint8)
            mask = mask.any(dim=2)
            masks.append(mask)
        if masks:
            masks = torch.stack(masks, dim=0)
        else:
            masks = torch.zeros((0, height, width), dtype=torch.uint8)
        return masks

    cases = gt_polygons()
    stock = [convert_coco_poly_to_mask(*c) for c in cases]
    with fastrle.patch_pycocotools():
        assert coco_mask.decode is fm.decode
        ours = [convert_coco_poly_to_mask(*c) for c in cases]
    assert len(stock) == len(ours) > 50
    for a, b in zip(stock, ours):
        assert a.dtype == b.dtype and torch.equal(a, b)


def test_detectron2_polygons_to_bitmask_pattern():
    import pycocotools.mask as mask_util  # as detectron2/structures/masks.py

    def polygons_to_bitmask(polygons, height, width):
        if len(polygons) == 0:
            return np.zeros((height, width)).astype(bool)
        rles = mask_util.frPyObjects(polygons, height, width)
        rle = mask_util.merge(rles)
        return mask_util.decode(rle).astype(bool)

    # detectron2 keeps polygons as float64 arrays
    cases = [([np.asarray(p, dtype=np.float64) for p in segs[0]], h, w) for segs, h, w in gt_polygons()]
    cases.append(([], 5, 7))
    stock = [polygons_to_bitmask(*c) for c in cases]
    with fastrle.patch_pycocotools():
        assert mask_util.merge is fm.merge
        ours = [polygons_to_bitmask(*c) for c in cases]
    for a, b in zip(stock, ours):
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
