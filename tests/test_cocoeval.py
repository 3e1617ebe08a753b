"""fastrle.cocoeval.COCOeval against pycocotools' COCOeval: every array of
``eval``, every ``evalImgs`` entry, ``ious``, ``stats`` and the printed
summary byte for byte, on the real files in tests/data and on generated
evaluations with random parameters; and bad input, case by case."""
from __future__ import annotations

import contextlib
import copy
import io
import json
import math
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np
import pytest

from common import assert_same
from eval_oracle import make_coco, same

pm = pytest.importorskip("pycocotools.mask")
coco_mod = pytest.importorskip("pycocotools.coco")
stock_mod = pytest.importorskip("pycocotools.cocoeval")

from fastrle import cocoeval as fce  # noqa: E402  (needs pycocotools)

STOCK = stock_mod.COCOeval
DATA = Path(__file__).parent / "data"
GT = json.loads((DATA / "coco_instances_val2014_100.json").read_text())
RES = json.loads((DATA / "cocoapi_instances_val2014_fakesegm100_results.json").read_text())


def load_res(gt: Any, results: List[dict], fast: bool = False) -> Any:
    """pycocotools' loadRes, or fastrle.cocoeval.loadRes (fast)."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fce.loadRes(gt, copy.deepcopy(results)) if fast else gt.loadRes(copy.deepcopy(results))


def index_of(c: Any) -> Tuple[Any, ...]:
    """A COCO object's index (createIndex's five dicts) as plain data: keys
    in order, annotations as their positions in dataset['annotations']."""
    pos = {id(a): n for n, a in enumerate(c.dataset.get("annotations", []))}
    ipos = {id(a): n for n, a in enumerate(c.dataset.get("images", []))}
    return (list(c.anns), [pos[id(a)] for a in c.anns.values()],
            type(c.imgToAnns), [(k, [pos[id(a)] for a in v]) for k, v in c.imgToAnns.items()],
            type(c.catToImgs), list(c.catToImgs.items()), list(c.imgs), [ipos[id(v)] for v in c.imgs.values()],
            list(c.cats), list(c.cats.values()))


def lines(text: str) -> List[str]:
    """Printed output without the timings."""
    return [ln for ln in text.splitlines() if not ln.startswith("DONE (t=")]


def run(cls: Any, gt_ds: dict, dt: Any, iou_type: str, setup: Optional[Callable[[Any], None]] = None,
        summarize: bool = True, dt_is_results: bool = True) -> Dict[str, Any]:
    """One whole evaluation on fresh COCO objects: what it leaves, or the
    exception type of the first step that raised."""
    out: Dict[str, Any] = {}
    gt = make_coco(gt_ds)
    try:
        d = load_res(gt, dt, cls is fce.COCOeval) if dt_is_results else make_coco(dt)
    except Exception as exc:  # the same exception from both is the point
        return {"raised": ("loadRes", type(exc))}
    buf = io.StringIO()
    E = cls(gt, d, iou_type)
    if setup is not None:
        setup(E.params)
    step = "evaluate"
    try:
        with contextlib.redirect_stdout(buf):
            E.evaluate()
            step = "accumulate"
            E.accumulate()
            if summarize:
                step = "summarize"
                E.summarize()
    except Exception as exc:
        out["raised"] = (step, type(exc))
    out["E"] = E
    out["printed"] = lines(buf.getvalue())
    return out


def assert_same_eval(fast: Dict[str, Any], stock: Dict[str, Any]) -> None:
    assert fast.get("raised") == stock.get("raised")
    if "E" not in stock:
        return
    a, b = fast["E"], stock["E"]
    assert isinstance(a, fce.COCOeval)
    assert fast["printed"] == stock["printed"]
    assert_same(a.stats, b.stats, "stats")
    for key in ("precision", "recall", "scores", "counts"):
        if key in b.eval:
            assert_same(a.eval[key], b.eval[key], key)
    assert a.eval.keys() == b.eval.keys()
    if b.eval:
        assert a.eval["params"] is a.params
    # evalImgs and ious are built on first read: read them after the results above
    if isinstance(b.evalImgs, list):
        same(a.evalImgs, b.evalImgs, "evalImgs")
    same(a.ious, b.ious, "ious")
    # what the evaluation left in the COCO objects: the results' fields and
    # index (fastrle's loadRes), the ground truth's RLEs and ignore flags
    # (pycocotools' evaluateImg also leaves '_ignore', fastrle does not)
    for side in ("cocoDt", "cocoGt"):
        ca, cb = getattr(a, side), getattr(b, side)
        anns_a, anns_b = ([{k: v for k, v in x.items() if k != "_ignore"} for x in c.dataset["annotations"]]
                          for c in (ca, cb))
        same(anns_a, anns_b, f"{side} annotations")
        assert index_of(ca) == index_of(cb), side


def both(gt_ds: dict, dt: Any, iou_type: str, setup: Optional[Callable[[Any], None]] = None,
         summarize: bool = True, dt_is_results: bool = True) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    s = run(STOCK, gt_ds, dt, iou_type, setup, summarize, dt_is_results)
    f = run(fce.COCOeval, gt_ds, dt, iou_type, setup, summarize, dt_is_results)
    assert_same_eval(f, s)
    return f, s


# --- the real files ------------------------------------------------------------------

def bbox_results() -> List[dict]:
    """tests/data's results as boxes: each mask's box, and its score."""
    out = []
    for r in RES:
        box = [float(v) for v in pm.toBbox(r["segmentation"])]
        out.append({"image_id": r["image_id"], "category_id": r["category_id"], "bbox": box, "score": r["score"]})
    return out


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_real_files(iou_type):
    res = RES if iou_type == "segm" else bbox_results()
    f, s = both(GT, res, iou_type)
    assert "raised" not in s and len(s["E"].evalImgs) == 80 * 4 * 100
    assert f["E"].stats[0] > 0 and len(f["printed"]) >= 14


def test_real_files_threads_agree():
    one = run(fce.COCOeval, GT, RES, "segm")
    fce.COCOeval.threads = 4
    try:
        four = run(fce.COCOeval, GT, RES, "segm")
    finally:
        fce.COCOeval.threads = 0
    assert_same_eval(four, one)


# --- generated evaluations --------------------------------------------------------------

def _rle(mask: np.ndarray) -> dict:
    r = pm.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": r["size"], "counts": r["counts"].decode()}


def _blob(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    m = np.zeros((h, w), np.uint8)
    y0, x0 = rng.integers(0, h), rng.integers(0, w)
    m[y0:y0 + rng.integers(1, h + 1), x0:x0 + rng.integers(1, w + 1)] = 1
    if rng.random() < 0.5:
        m ^= (rng.random((h, w)) < 0.15).astype(np.uint8)
    return m


def make_case(seed: int) -> Tuple[dict, List[dict], str, Callable[[Any], None], bool]:
    """A small random evaluation: crowds, ties and missing categories,
    random area ranges, maxDets, thresholds and id subsets."""
    rng = np.random.default_rng(seed)
    iou_type = "segm" if seed % 2 else "bbox"
    n_img, cats = int(rng.integers(1, 6)), [int(c) for c in rng.choice([1, 2, 3, 5, 8], rng.integers(1, 5), False)]
    images, anns, results = [], [], []
    aid = 1
    for i in range(n_img):
        h, w = int(rng.integers(6, 24)), int(rng.integers(6, 24))
        img_id = int(rng.integers(1, 1000)) * 10 + i
        images.append({"id": img_id, "height": h, "width": w})
        masks = []
        for _ in range(int(rng.integers(0, 7))):
            m = _blob(rng, h, w)
            if not m.any():
                continue
            crowd = int(rng.random() < 0.15)
            cat = int(rng.choice(cats))
            seg: Any
            if crowd:
                seg = {"size": [h, w], "counts": _uncompressed(m)}
            elif rng.random() < 0.5:
                ys, xs = np.nonzero(m)
                x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
                seg = [[float(x0), float(y0), float(x1), float(y0), float(x1), float(y1), float(x0), float(y1)]]
                m = pm.decode(pm.merge(pm.frPyObjects(seg, h, w)))
            else:
                seg = _rle(m)
            area = float(m.sum()) if rng.random() < 0.8 else float(rng.integers(0, 400))
            box = [float(v) for v in pm.toBbox(pm.encode(np.asfortranarray(m)))]
            anns.append({"id": aid if rng.random() < 0.95 else aid * 1000, "image_id": img_id, "category_id": cat,
                         "segmentation": seg, "area": area, "bbox": box, "iscrowd": crowd})
            aid += 1
            masks.append((m, cat, box))
        for _ in range(int(rng.integers(0, 9))):
            if masks and rng.random() < 0.6:  # near a gt: matches at some thresholds
                m, cat, box = masks[int(rng.integers(len(masks)))]
                m = m ^ (rng.random((h, w)) < 0.1).astype(np.uint8)
                box = [b + float(rng.normal(0, 1)) for b in box]
                if rng.random() < 0.2:
                    cat = int(rng.choice(cats))
            else:
                m, cat = _blob(rng, h, w), int(rng.choice(cats))
                box = [float(v) for v in rng.uniform(0, 12, 4)]
            score: Any = float(rng.choice([0.1, 0.3, 0.5, 0.5, 0.7, 0.9]))  # ties: the stable sort matters
            if rng.random() < 0.05:
                score = int(rng.integers(0, 2))
            r: Dict[str, Any] = {"image_id": img_id, "category_id": cat, "score": score}
            if iou_type == "segm":
                r["segmentation"] = _rle(m)
            else:
                r["bbox"] = box
            results.append(r)
    gt = {"images": images, "annotations": anns, "categories": [{"id": c, "name": str(c)} for c in cats]}

    def setup(p: Any) -> None:
        if rng.random() < 0.3:
            p.useCats = 0
        if rng.random() < 0.4:
            p.iouThrs = np.sort(rng.choice(np.linspace(0, 1, 21), rng.integers(1, 6), replace=False))
        if rng.random() < 0.3:
            p.recThrs = np.linspace(0, 1, int(rng.integers(2, 30)))
        if rng.random() < 0.2:
            p.recThrs = rng.uniform(0, 1, int(rng.integers(1, 12)))  # unsorted: the first miss ends the row
        if rng.random() < 0.4:
            p.maxDets = sorted(int(v) for v in rng.integers(0, 6, 3))
        if rng.random() < 0.4:
            lo = rng.uniform(0, 200, 3)
            p.areaRng = [[0, 1e10]] + [[float(a), float(a + rng.uniform(0, 200))] for a in lo]
        elif rng.random() < 0.5:  # integer bounds: areas land on them (the bounds are inclusive)
            lo = rng.integers(0, 40, 3)
            p.areaRng = [[0, 10 ** 10]] + [[int(a), int(a + rng.integers(0, 40))] for a in lo]
        if rng.random() < 0.3:
            p.catIds = [c for c in p.catIds if rng.random() < 0.6] + ([99] if rng.random() < 0.3 else [])
        if rng.random() < 0.3:
            p.imgIds = [i for i in p.imgIds if rng.random() < 0.6] + ([7] if rng.random() < 0.3 else [])

    summarize = bool(rng.random() < 0.5)
    return gt, results, iou_type, setup, summarize


def _decode_uncompressed(seg: dict) -> np.ndarray:
    """The mask of an uncompressed RLE (by hand: runs of 0s then 1s, column-major)."""
    h, w = seg["size"]
    flat = np.repeat(np.arange(len(seg["counts"])) % 2, seg["counts"]).astype(np.uint8)
    return flat.reshape((h, w), order="F")


def _uncompressed(m: np.ndarray) -> List[int]:
    """Uncompressed RLE counts of a mask (column-major runs, starting with 0s)."""
    flat = np.asfortranarray(m).reshape(-1, order="F")
    counts, cur, n = [], 0, 0
    for v in flat.tolist():
        if v != cur:
            counts.append(n)
            cur, n = v, 0
        n += 1
    counts.append(n)
    return counts


@pytest.mark.parametrize("block", range(8))
def test_generated(block):
    """25 generated evaluations per block, 200 in all."""
    for seed in range(block * 25, block * 25 + 25):
        gt, res, iou_type, setup, summarize = make_case(seed)
        if not res:
            res = [{"image_id": gt["images"][0]["id"], "category_id": gt["categories"][0]["id"], "score": 0.5,
                    "bbox": [0.0, 0.0, 3.0, 3.0]} if iou_type == "bbox" else
                   {"image_id": gt["images"][0]["id"], "category_id": gt["categories"][0]["id"], "score": 0.5,
                    "segmentation": _rle(np.ones((gt["images"][0]["height"], gt["images"][0]["width"])))}]
        # the same random draws for both runs: a fresh setup from the same seed each time
        s = run(STOCK, gt, res, iou_type, make_case(seed)[3], summarize)
        f = run(fce.COCOeval, gt, res, iou_type, make_case(seed)[3], summarize)
        try:
            assert_same_eval(f, s)
        except AssertionError as exc:
            raise AssertionError(f"seed {seed}: {exc}") from None


# --- bad input, one by one ----------------------------------------------------------------

def small_gt() -> dict:
    """The first two images of tests/data's annotations."""
    keep = {GT["images"][0]["id"], GT["images"][1]["id"]}
    return {"images": copy.deepcopy(GT["images"][:2]), "categories": copy.deepcopy(GT["categories"]),
            "annotations": copy.deepcopy([a for a in GT["annotations"] if a["image_id"] in keep])}


def res_for(gt: dict) -> List[dict]:
    ids = {i["id"] for i in gt["images"]}
    return [r for r in RES if r["image_id"] in ids]


def test_unknown_image_ids_in_results():
    gt = small_gt()
    res = res_for(gt) + [dict(RES[0], image_id=123456789)]
    f, s = both(gt, res, "segm")
    assert s["raised"] == ("loadRes", AssertionError)  # pycocotools' loadRes refuses them


def test_unknown_image_ids_in_params():
    gt = small_gt()
    f, s = both(gt, res_for(gt), "segm", lambda p: setattr(p, "imgIds", list(p.imgIds) + [123456789]))
    assert "raised" not in s


def test_empty_results():
    gt = small_gt()
    f, s = both(gt, [], "segm")
    assert s["raised"] == ("loadRes", IndexError)  # pycocotools' loadRes reads anns[0]
    # a results COCO with no annotations at all: every precision 0 where there is gt
    empty = {"images": gt["images"], "categories": gt["categories"], "annotations": []}
    f, s = both(gt, empty, "segm", dt_is_results=False)
    assert "raised" not in s and (s["E"].eval["precision"] <= 0).all()


def test_images_with_no_gt():
    gt = small_gt()
    extra = dict(gt["images"][0], id=987654321)
    gt["images"].append(extra)
    res = res_for(gt) + [dict(r, image_id=987654321) for r in res_for(gt)[:5]
                         if r["segmentation"]["size"] == [extra["height"], extra["width"]]]
    f, s = both(gt, res, "segm")
    assert "raised" not in s


def test_categories_with_no_detections():
    gt = small_gt()
    res = [r for r in res_for(gt) if r["category_id"] != res_for(gt)[0]["category_id"]]
    f, s = both(gt, res, "segm")
    assert "raised" not in s


def test_crowd_only_images():
    gt = small_gt()
    gt["annotations"] = [dict(a, iscrowd=1) for a in gt["annotations"]]
    f, s = both(gt, res_for(gt), "segm")
    assert "raised" not in s
    f, s = both(gt, [dict(r, bbox=[float(v) for v in pm.toBbox(r["segmentation"])]) for r in res_for(gt)], "bbox")


def test_nan_scores():
    gt = small_gt()
    res = [dict(r, score=float("nan") if i % 3 == 0 else r["score"]) for i, r in enumerate(res_for(gt))]
    assert any(math.isnan(r["score"]) for r in res)
    f, s = both(gt, res, "segm")
    assert "raised" not in s


def test_mask_size_differs_from_image():
    """pycocotools' iou gives -1 where the boxes meet and the sizes differ;
    such a detection never matches."""
    gt = small_gt()
    res = []
    for r in res_for(gt):
        h, w = r["segmentation"]["size"]
        bigger = np.zeros((h + 7, w + 3), np.uint8)
        bigger[:h, :w] = pm.decode(r["segmentation"])
        res.append(dict(r, segmentation=_rle(bigger)) if len(res) % 2 == 0 else r)
    f, s = both(gt, res, "segm")
    assert "raised" not in s
    assert any(isinstance(v, np.ndarray) and (v == -1).any() for v in s["E"].ious.values())


def test_keypoints_delegate():
    ds = {"images": [{"id": 1, "height": 50, "width": 50}], "categories": [{"id": 1, "name": "p"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": 400.0,
                           "bbox": [10, 10, 20, 20], "num_keypoints": 17,
                           "keypoints": [v for k in range(17) for v in (10 + k, 12 + k, 2)]}]}
    res = [{"image_id": 1, "category_id": 1, "score": 0.9,
            "keypoints": [v for k in range(17) for v in (10.5 + k, 12 + k, 1)]}]
    f, s = both(ds, res, "keypoints")
    assert f["E"].stats.shape == (10,)


def test_assigned_evalimgs_read_by_accumulate():
    """torchvision merges processes by assigning evalImgs: accumulate reads that list."""
    gt = small_gt()
    f = run(fce.COCOeval, gt, res_for(gt), "segm", summarize=False)["E"]
    s = run(STOCK, gt, res_for(gt), "segm", summarize=False)["E"]
    f.evalImgs = [None] * len(f.evalImgs)
    s.evalImgs = [None] * len(s.evalImgs)
    with contextlib.redirect_stdout(io.StringIO()):
        f.accumulate()
        s.accumulate()
    assert (f.eval["precision"] == -1).all()
    assert_same(f.eval["precision"], s.eval["precision"])


def test_accumulate_with_other_params():
    gt = small_gt()
    f = run(fce.COCOeval, gt, res_for(gt), "segm", summarize=False)["E"]
    s = run(STOCK, gt, res_for(gt), "segm", summarize=False)["E"]
    for E in (f, s):
        p = copy.deepcopy(E.params)
        p.maxDets = [1, 100]
        p.recThrs = np.linspace(0, 1, 11)
        p.catIds = list(p.catIds)[::2]
        with contextlib.redirect_stdout(io.StringIO()):
            E.accumulate(p)
    for k in ("precision", "recall", "scores"):
        assert_same(f.eval[k], s.eval[k], k)


def test_clear_error_without_pycocotools():
    """Importing fastrle.cocoeval without pycocotools says what to install."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['pycocotools'] = None; sys.modules['pycocotools.cocoeval'] = None\n"
            "try:\n    import fastrle.cocoeval\nexcept ImportError as e:\n    print('IE', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "PYTHONPATH": str(Path(fce.__file__).parents[1])})
    assert out.stdout.startswith("IE fastrle.cocoeval needs pycocotools") and "pip install pycocotools" in out.stdout


def test_malformed_result_mask_names_the_annotation():
    """pycocotools reads garbage from a malformed counts string; fastrle raises
    RLEError naming the result annotation (a deliberate difference)."""
    from fastrle.errors import RLEError
    gt = small_gt()
    res = res_for(gt)
    res[3] = dict(res[3], segmentation=dict(res[3]["segmentation"], counts=res[3]["segmentation"]["counts"][:-3]))
    g = make_coco(gt)
    d = load_res(g, res)
    E = fce.COCOeval(g, d, "segm")
    with contextlib.redirect_stdout(io.StringIO()), pytest.raises(RLEError, match=r"^result annotation id 4 \(image"):
        E.evaluate()


LOADRES_KINDS = ["segm", "segm+bbox", "bbox", "polygons", "uncompressed", "bytes", "bad-counts", "no-category",
                 "general-path"]


@pytest.mark.parametrize("kind", LOADRES_KINDS)
def test_loadres_same_as_pycocotools(kind, monkeypatch):
    """fastrle.cocoeval.loadRes (patch_pycocotools installs it): the same
    result COCO (annotations, their fields' types and values, the index
    createIndex builds, the printed lines), or the same exception."""
    monkeypatch.setattr(fce, "LOADRES_CHUNK", 7)  # several batches (the general path)
    res = copy.deepcopy(RES[:200])
    if kind == "segm+bbox":  # results that bring their own box keep it
        for r in res[::3]:
            r["bbox"] = [1.0, 2.0, 3.0, 4.0]
    elif kind == "bbox":
        res = bbox_results()[:200]
    elif kind == "polygons":  # not RLE dicts: result by result, as pycocotools
        res = [dict(r, segmentation=[[10.0, 10.0, 40.0, 10.0, 40.0, 30.0]]) for r in res[:20]]
    elif kind == "uncompressed":  # RLE dicts with list counts: the one-parse path reads them too
        for r in res[::2]:
            m = pm.decode(r["segmentation"])
            r["segmentation"] = {"size": list(m.shape), "counts": _uncompressed(m)}
    elif kind == "bytes":
        for r in res[::2]:
            r["segmentation"] = dict(r["segmentation"], counts=r["segmentation"]["counts"].encode())
    elif kind == "bad-counts":  # a count string that does not parse: the general path's error
        res[17]["segmentation"] = dict(res[17]["segmentation"], counts="\x01")
    elif kind == "no-category":  # createIndex's KeyError, after every result is filled in
        del res[33]["category_id"]
    elif kind == "general-path":  # a size the one-parse path declines: the chunked batches
        res[5]["segmentation"] = dict(res[5]["segmentation"], size=(427, 640))
    gt = make_coco(GT)
    outs = []
    for load in (coco_mod.COCO.loadRes, fce.loadRes):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            try:
                d = load(gt, copy.deepcopy(res))
            except Exception as exc:  # the same exception from both
                outs.append(type(exc))
                continue
        outs.append((d, lines(buf.getvalue())))
    if kind == "uncompressed":  # pycocotools' area takes count strings only; fastrle.mask reads both
        assert outs[0] is TypeError and isinstance(outs[1], tuple)
        got = [a["area"] for a in outs[1][0].dataset["annotations"]]
        assert got == [int(_decode_uncompressed(r["segmentation"]).sum()) if i % 2 == 0 else pm.area(r["segmentation"])
                       for i, r in enumerate(res)]
        assert got == [pm.area(r["segmentation"]) for r in RES[:200]]
        return
    if kind == "bad-counts":  # pycocotools reads garbage; fastrle.mask names the mask (by design)
        assert isinstance(outs[0], tuple) and isinstance(outs[1], type) and issubclass(outs[1], ValueError)
        return
    if not isinstance(outs[0], tuple):
        assert outs[0] is outs[1]
        return
    (a, pa), (b, pb) = outs
    assert pa == pb
    assert a.dataset.keys() == b.dataset.keys()
    for key in ("info", "images", "categories"):
        assert a.dataset.get(key) == b.dataset.get(key)
    assert len(a.dataset["annotations"]) == len(b.dataset["annotations"])
    for x, y in zip(a.dataset["annotations"], b.dataset["annotations"]):
        same(y, x, "ann")
    assert index_of(b) == index_of(a)


def test_loadres_failure_leaves_results_as_pycocotools():
    """A result without category_id: pycocotools fills in every result,
    then createIndex raises KeyError; fastrle's one pass does the same."""
    gt = make_coco(GT)
    outs = []
    for load in (coco_mod.COCO.loadRes, fce.loadRes):
        res = copy.deepcopy(RES[:50])
        del res[20]["category_id"]
        with contextlib.redirect_stdout(io.StringIO()), pytest.raises(KeyError):
            load(gt, res)
        outs.append(res)
    same(outs[1], outs[0], "results")


def test_loadres_patched_createindex_is_called():
    """A createIndex that is not pycocotools' own is called as it is."""
    calls = []

    orig = coco_mod.COCO.createIndex

    def mine(self):
        calls.append(1)
        orig(self)

    gt = make_coco(GT)
    coco_mod.COCO.createIndex = mine  # what loadRes' COCO() gets
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            d = fce.loadRes(gt, copy.deepcopy(RES[:30]))
    finally:
        coco_mod.COCO.createIndex = orig
    assert calls and len(d.anns) == 30


@pytest.mark.parametrize("enabled", [True, False])
def test_gc_state_kept(enabled):
    """loadRes and evaluate pause the garbage collector and give it back as
    it was."""
    import gc

    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        gt = make_coco(GT)
        with contextlib.redirect_stdout(io.StringIO()):
            d = fce.loadRes(gt, copy.deepcopy(RES[:100]))
            assert gc.isenabled() == enabled
            fce.COCOeval(gt, d, "segm").evaluate()
        assert gc.isenabled() == enabled
    finally:
        gc.enable() if was else gc.disable()


@pytest.mark.parametrize("frozen", [False, True])
def test_gc_young_containers_promoted(frozen):
    """After loadRes the index (which refers to every result) is in the
    oldest generation, not young: a young collection would walk it. Objects
    the caller froze stay frozen (then nothing is promoted)."""
    import gc

    was = gc.isenabled()
    gc.enable()
    try:
        if frozen:
            gc.freeze()
        n_frozen = gc.get_freeze_count()
        gt = make_coco(GT)
        with contextlib.redirect_stdout(io.StringIO()):
            d = fce.loadRes(gt, copy.deepcopy(RES[:100]))
        assert gc.get_freeze_count() == n_frozen
        young = {id(o) for g in (0, 1) for o in gc.get_objects(g)}
        assert (id(d.imgToAnns) in young) == frozen
        assert (id(d.anns) in young) == frozen
    finally:
        gc.unfreeze()
        gc.enable() if was else gc.disable()


def test_build_index_same_as_createindex():
    """fastrle._eval.build_index against pycocotools' createIndex: string and
    float ids, ids listed twice, no categories."""
    ds = copy.deepcopy(small_gt())
    ds["annotations"][1]["id"] = ds["annotations"][0]["id"]  # the later one wins in anns
    ds["annotations"][2]["image_id"] = str(ds["annotations"][2]["image_id"])
    ds["annotations"][3]["category_id"] = float(ds["annotations"][3]["category_id"])
    for d in (ds, {k: v for k, v in ds.items() if k != "categories"}, {"images": ds["images"]}):
        c = coco_mod.COCO()
        c.dataset = d
        with contextlib.redirect_stdout(io.StringIO()):
            c.createIndex()
        want = index_of(c)
        c.anns, c.imgToAnns, c.catToImgs, c.imgs, c.cats = fce._eval.build_index(d)
        assert index_of(c) == want


def test_results_coco_the_fast_gather_declines():
    """A results COCO the one-pass gather declines (np.float32 scores, a
    polygon result, an id listed twice): pycocotools' general steps, the
    same evaluation."""
    gt = GT
    dt = {"images": gt["images"], "categories": gt["categories"], "annotations": []}
    for n, r in enumerate(RES[:300]):
        a = dict(r, id=n + 1, area=float(pm.area(r["segmentation"])), iscrowd=0)
        if n % 7 == 3:
            a["score"] = np.float32(r["score"])
        dt["annotations"].append(a)
    dt["annotations"][4]["id"] = dt["annotations"][3]["id"]  # loadAnns finds the later one twice
    dt["annotations"][6]["segmentation"] = [[10.0, 10.0, 60.0, 10.0, 60.0, 50.0]]
    for anns in (dt["annotations"], [a for a in dt["annotations"] if type(a["score"]) is float]):
        both(gt, dict(dt, annotations=anns), "segm", dt_is_results=False)


@pytest.mark.parametrize("threads", [1, 3])
def test_area_bbox_one_parse(threads):
    """fastrle._eval.area_bbox (loadRes' one parse, 256 masks a chunk, on
    threads) against pycocotools' area and toBbox of each mask."""
    from fastrle import _core

    segs = [r["segmentation"] for r in RES] + [{"size": [5, 4], "counts": ""}, {"size": [3, 3], "counts": b"0"}]
    areas, boxes = fce._eval.area_bbox(_core.sources(segs, same_size=False), threads)
    assert areas.tolist() == [int(pm.area(s)) for s in segs]
    assert boxes.tobytes() == np.array([pm.toBbox(s) for s in segs]).tobytes()
    assert fce._eval.area_bbox(_core.sources(segs[:300] + [{"size": [4, 4], "counts": "\x01"}], same_size=False),
                               threads) is None  # a count string that does not parse: the general path


def _changed_after_loadres(how: str) -> Tuple[Any, Any]:
    """Stock and fastrle evaluations of tests/data's results, changed the
    same way between loadRes and evaluate."""
    out = []
    for cls in (STOCK, fce.COCOeval):
        gt = make_coco(GT)
        d = load_res(gt, RES, cls is fce.COCOeval)
        anns = d.dataset["annotations"]
        # two results of one image (not square) whose boxes differ, anns[a]
        # meeting a ground truth box of its category
        def meets_gt(r: dict, gt: Any = gt) -> bool:
            boxes = [g["bbox"] for g in gt.imgToAnns[r["image_id"]] if g["category_id"] == r["category_id"]]
            return bool(boxes) and pm.iou([list(pm.toBbox(r["segmentation"]))], boxes, [0] * len(boxes)).max() > 0

        a, b = next((a, b) for a in range(len(anns)) if meets_gt(anns[a]) for b in range(a + 1, len(anns))
                    if anns[a]["image_id"] == anns[b]["image_id"]
                    and anns[a]["segmentation"]["size"][0] != anns[a]["segmentation"]["size"][1]
                    and list(pm.toBbox(anns[a]["segmentation"])) != list(pm.toBbox(anns[b]["segmentation"])))
        sa, sb = anns[a]["segmentation"], anns[b]["segmentation"]
        if how == "counts":  # each result now holds the other's mask
            sa["counts"], sb["counts"] = sb["counts"], sa["counts"]
        elif how == "new-dict":  # a new dict with the same counts object: still the same mask
            anns[a]["segmentation"] = {"size": list(sa["size"]), "counts": sa["counts"]}
        elif how == "size":  # the same counts read as a mask of another shape
            sa["size"] = [sa["size"][1], sa["size"][0]]
        E = cls(gt, d, "segm")
        with contextlib.redirect_stdout(io.StringIO()):
            E.evaluate()
            E.accumulate()
        out.append(E)
    return out[0], out[1]


@pytest.mark.parametrize("how", ["counts", "new-dict", "size"])
def test_results_changed_after_loadres(how):
    """evaluate reuses loadRes' masks and boxes only for results whose counts
    object and size are the ones loadRes read: a result given another mask
    or another size after loadRes is evaluated as it is now."""
    s, f = _changed_after_loadres(how)
    same(f.ious, s.ious, "ious")
    same(f.evalImgs, s.evalImgs, "evalImgs")
    for k in ("precision", "recall", "scores"):
        assert_same(f.eval[k], s.eval[k], k)


def test_evaluate_reuses_loadres_masks(monkeypatch):
    """After fastrle's loadRes of count strings, evaluate's one-pass gather
    finds every result's mask in loadRes' rows (no second Sources, no box
    computed again); after a change it falls back."""
    seen = []
    gather = fce._eval.gather_results

    def spy(*args: Any) -> Any:
        got = gather(*args)
        seen.append(got is not None and got[6] is not None)
        return got

    monkeypatch.setattr(fce._eval, "gather_results", spy)
    run(fce.COCOeval, GT, RES, "segm")
    _changed_after_loadres("counts")
    assert seen == [True, False]
