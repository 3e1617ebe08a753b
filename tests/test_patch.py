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
STOCK_COCOEVAL = cocoeval_mod.COCOeval
STOCK_LOADRES = coco_mod.COCO.loadRes


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
    from fastrle import cocoeval
    return (all(getattr(pm, n) is getattr(fm, n) for n in compat.FUNCTIONS)
            and coco_mod.maskUtils is fm and cocoeval_mod.maskUtils is fm
            and cocoeval_mod.COCOeval is cocoeval.COCOeval and coco_mod.COCO.loadRes is cocoeval.loadRes)


def is_original() -> bool:
    return (all(getattr(pm, n) is f for n, f in ORIGINALS.items())
            and coco_mod.maskUtils is pm and cocoeval_mod.maskUtils is pm
            and cocoeval_mod.COCOeval is STOCK_COCOEVAL and coco_mod.COCO.loadRes is STOCK_LOADRES)


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


def same_arrays(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_cocoeval_segm_identical_when_patched():
    from fastrle import cocoeval
    gt_ds, res = json.loads(GT.read_text()), json.loads(RES.read_text())
    stock, dt0 = evaluate(gt_ds, res)
    assert type(stock) is STOCK_COCOEVAL
    with fastrle.patch_pycocotools():
        assert coco_mod.COCO.loadRes is cocoeval.loadRes  # loadRes' areas and boxes: fastrle.mask
        ours, dt1 = evaluate(gt_ds, res)
    assert type(ours) is cocoeval.COCOeval and isinstance(ours, STOCK_COCOEVAL)
    assert same_arrays(ours.stats, stock.stats)
    for k in ("precision", "recall", "scores"):
        assert same_arrays(ours.eval[k], stock.eval[k]), k
    assert stock.ious.keys() == ours.ious.keys()
    for k in stock.ious:
        a, b = stock.ious[k], ours.ious[k]
        if isinstance(a, list):
            assert isinstance(b, list) and len(a) == len(b) == 0
        else:
            assert same_arrays(a, b), k
    # loadRes' area and bbox of the results come from the mask functions
    for a in dt0.dataset["annotations"]:
        b = dt1.anns[a["id"]]
        assert a["area"] == b["area"] and type(a["area"]) is type(b["area"])
        assert type(a["bbox"]) is type(b["bbox"]) and list(a["bbox"]) == list(b["bbox"])


def test_torchvision_coco_eval_pattern():
    """torchvision's references/detection/coco_eval.py: evaluate, reshape
    evalImgs, assign the merged list back, accumulate (that list is read)."""
    gt_ds, res = json.loads(GT.read_text()), json.loads(RES.read_text())

    def tv_eval():
        with quiet():
            gt = coco_mod.COCO()
            gt.dataset = copy.deepcopy(gt_ds)
            gt.createIndex()
            E = cocoeval_mod.COCOeval(cocoGt=gt, iouType="segm")  # as CocoEvaluator
            E.cocoDt = gt.loadRes(copy.deepcopy(res))
            E.params.imgIds = list(sorted(gt.getImgIds()))
            E.evaluate()
            imgs = np.asarray(E.evalImgs).reshape(-1, len(E.params.areaRng), len(E.params.imgIds))
            ids, idx = np.unique(E.params.imgIds, return_index=True)
            E.evalImgs = list(imgs[..., idx].flatten())
            E.params.imgIds = list(ids)
            E._paramsEval = copy.deepcopy(E.params)
            E.accumulate()
            E.summarize()
        return E

    stock = tv_eval()
    with fastrle.patch_pycocotools():
        ours = tv_eval()
    assert type(ours) is not STOCK_COCOEVAL
    for k in ("precision", "recall", "scores"):
        assert same_arrays(ours.eval[k], stock.eval[k]), k
    assert same_arrays(ours.stats, stock.stats)


def test_name_bound_before_patch_keeps_stock():
    from pycocotools.cocoeval import COCOeval as bound
    with fastrle.patch_pycocotools():
        from pycocotools.cocoeval import COCOeval as late
        assert bound is STOCK_COCOEVAL and late is not STOCK_COCOEVAL and issubclass(late, STOCK_COCOEVAL)
    assert cocoeval_mod.COCOeval is STOCK_COCOEVAL


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
