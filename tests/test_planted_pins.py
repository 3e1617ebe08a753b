"""Pins for the planted bugs of scripts/planted.py that the suite let through
(tests/PLANTED.md lists them). Each test names the planted bug it kills; the
expected values are written by hand or come from an outside oracle
(pycocotools), never from the code under test.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List

import numpy as np
import pytest

from fastrle import cli
from fastrle import jobs as jobs_pkg
from fastrle.cli import validate as cli_validate
from fastrle.jobs import IndexSummary, Problem, SourceResult, ValidateSummary


# --- CLI: index/validate as the command line sees them ------------------------------


def _fake_index(monkeypatch: pytest.MonkeyPatch, summary: IndexSummary) -> List[Dict[str, Any]]:
    """Replace fastrle.jobs.index by a stub that records its keyword arguments."""
    calls: List[Dict[str, Any]] = []

    def fake(sources: Any, out: Any, **kw: Any) -> IndexSummary:
        calls.append(dict(kw, sources=list(sources), out=out))
        return summary

    monkeypatch.setattr(jobs_pkg, "index", fake)
    return calls


def test_index_exit_0_when_a_damaged_source_still_got_its_part(monkeypatch, tmp_path, capsys):
    # planted cli-index-exit-source-errors: exit 1 is for sources with no part only
    damaged = SourceResult(str(tmp_path / "a.tar"), "written", images=2, masks=5,
                           problems=[Problem("source", None, None, "a.tar: truncated tar shard")])
    s = IndexSummary(sources=1, images=2, masks=5, results=[damaged], out=str(tmp_path), written=1)
    _fake_index(monkeypatch, s)
    assert cli.main(["index", str(tmp_path / "a.tar"), "-o", str(tmp_path / "o")]) == 0
    unread = SourceResult(str(tmp_path / "b.tar"), "unreadable",
                          problems=[Problem("source", None, None, "unreadable: Permission denied")])
    s2 = IndexSummary(sources=2, results=[damaged, unread], out=str(tmp_path), written=1, unreadable=1)
    _fake_index(monkeypatch, s2)
    assert cli.main(["index", str(tmp_path / "a.tar"), str(tmp_path / "b.tar"), "-o", str(tmp_path / "o")]) == 1
    capsys.readouterr()


@pytest.mark.parametrize("flags, features, overwrite", [
    ([], False, False), (["--features"], True, False), (["--overwrite"], False, True),
    (["--features", "--overwrite"], True, True)])
def test_index_flags_reach_the_job(monkeypatch, tmp_path, capsys, flags, features, overwrite):
    # planted cli-index-features-dropped
    calls = _fake_index(monkeypatch, IndexSummary(out=str(tmp_path)))
    assert cli.main(["index", "x.json", "-o", str(tmp_path / "o"), "--workers", "3", *flags]) == 0
    assert len(calls) == 1
    kw = calls[0]
    assert (kw["features"], kw["overwrite"], kw["workers"], kw["scheduler"]) == (features, overwrite, 3, None)
    assert kw["sources"] == ["x.json"]
    capsys.readouterr()


@pytest.mark.parametrize("name, dask", [("s.tar", True), ("s.TAR", True), ("s.tar.gz", True), ("s.tgz", True),
                                        ("s.tar.bz2", True), ("s.tar.xz", True), ("a.json", False)])
def test_validate_sends_shards_to_the_dataset_mode(tmp_path, name, dask):
    # planted cli-validate-shard-inprocess: the in-process mode reads JSON files only
    p = tmp_path / name
    p.write_bytes(b"")
    args = cli.build_parser().parse_args(["validate", str(p)])
    assert cli_validate.dataset_mode(args) is dask
    d = tmp_path / "dir"
    d.mkdir()
    assert cli_validate.dataset_mode(cli.build_parser().parse_args(["validate", str(d)])) is True


def _fake_validate(monkeypatch: pytest.MonkeyPatch, summary: ValidateSummary) -> None:
    monkeypatch.setattr(jobs_pkg, "validate", lambda sources, **kw: summary)


@pytest.mark.parametrize("kind, code", [(None, 0), ("malformed", 1), ("source", 1), ("mismatch", 1)])
def test_validate_dataset_mode_exit_status_counts_every_kind_of_problem(monkeypatch, tmp_path, capsys, kind, code):
    # planted cli-validate-ok-mismatch-only: exit 1 for any mismatch, malformed entry or source error
    probs = [] if kind is None else [Problem(kind, 1, 0, "hand-made problem")]
    s = ValidateSummary.of([SourceResult(str(tmp_path / "a.json"), "checked", images=1, masks=1,
                                         problems=probs)], 0.1, 1)
    _fake_validate(monkeypatch, s)
    assert cli.main(["validate", str(tmp_path / "a.json"), "--workers", "1"]) == code
    capsys.readouterr()


def test_validate_report_failed_write_leaves_no_file(monkeypatch, tmp_path, capsys):
    # planted cli-validate-report-nonatomic: a write that fails half way leaves nothing behind
    import pyarrow.parquet as pq

    s = ValidateSummary.of([SourceResult(str(tmp_path / "a.json"), "checked",
                                         problems=[Problem("malformed", 1, 0, "x")])], 0.1, 1)
    _fake_validate(monkeypatch, s)

    def broken(table: Any, where: Any, *a: Any, **k: Any) -> None:
        with open(where, "wb") as f:
            f.write(b"PAR1 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", broken)
    report = tmp_path / "r.parquet"
    assert cli.main(["validate", str(tmp_path / "a.json"), "--report", str(report)]) == 2
    assert sorted(os.listdir(tmp_path)) == []
    assert "No space left" in capsys.readouterr().err


# --- fastrle show -----------------------------------------------------------------------


def _sa1b_json(path: Any, masks: np.ndarray, ious: Any = None, image_id: int = 7) -> None:
    """An SA-1B per-image JSON of (N, H, W) masks; counts from pycocotools."""
    import json

    from pycocotools import mask as pm

    n, h, w = masks.shape
    ious = [0.9] * n if ious is None else ious
    anns = []
    for i in range(n):
        r = pm.encode(np.asfortranarray(masks[i].astype(np.uint8)))
        x, y, bw, bh = pm.toBbox(r).tolist()
        anns.append({"id": i, "segmentation": {"size": [h, w], "counts": r["counts"].decode()},
                     "area": int(masks[i].sum()), "bbox": [x, y, max(bw - 1, 0), max(bh - 1, 0)],
                     "predicted_iou": float(ious[i]), "stability_score": 0.9,
                     "point_coords": [[0.0, 0.0]], "crop_box": [0, 0, w, h]})
    with open(path, "w") as f:
        json.dump({"image": {"image_id": image_id, "width": w, "height": h, "file_name": "none.jpg"},
                   "annotations": anns}, f)


def test_show_alpha_zero_draws_nothing_but_contours(tmp_path, capsys):
    # planted cli-show-alpha-zero: 0 is inside [0, 1]; a fill of opacity 0 leaves every pixel as it was
    from PIL import Image

    m = np.zeros((1, 20, 30), bool)
    m[0, 5:15, 8:20] = True
    src = tmp_path / "a.json"
    _sa1b_json(src, m)
    out = tmp_path / "o.png"
    assert cli.main(["show", str(src), "-o", str(out), "--alpha", "0", "--no-contours"]) == 0
    pic = np.asarray(Image.open(out))
    assert pic.shape == (20, 30, 3) and not pic.any()  # a black canvas, untouched
    assert cli.main(["show", str(src), "-o", str(out), "--alpha", "0"]) == 0
    pic = np.asarray(Image.open(out))
    ring = m[0] & ~np.pad(m[0], 1)[:-2, 1:-1] | m[0] & ~np.pad(m[0], 1)[2:, 1:-1] \
        | m[0] & ~np.pad(m[0], 1)[1:-1, :-2] | m[0] & ~np.pad(m[0], 1)[1:-1, 2:]
    assert (pic.any(axis=2) == ring).all()  # 4-neighbour border = the 1-px Chebyshev contour of a box
    capsys.readouterr()


def test_show_grid_takes_k_images_with_gaps(tmp_path, capsys):
    # planted cli-show-grid-k-plus-one and cli-show-sheet-gap: 3 images of 20x30 in a folder,
    # --grid 2 -> one row of 2 cells of 30 px with a 4 px gap: 20 x (30 + 4 + 30)
    from PIL import Image

    full = np.ones((1, 20, 30), bool)
    for k, name in enumerate(("a", "b", "c")):
        _sa1b_json(tmp_path / f"{name}.json", full, image_id=k + 1)
    out = tmp_path / "sheet.png"
    assert cli.main(["show", str(tmp_path), "-o", str(out), "--grid", "2", "--alpha", "1",
                     "--no-contours"]) == 0
    pic = np.asarray(Image.open(out))
    assert pic.shape == (20, 64, 3)
    lit = pic.any(axis=2)
    assert lit[:, :30].all() and not lit[:, 30:34].any() and lit[:, 34:].all()
    assert cli.main(["show", str(tmp_path), "-o", str(out), "--grid", "4", "--alpha", "1",
                     "--no-contours"]) == 0  # 3 images: 2 columns, 2 rows, the fourth cell empty
    lit = np.asarray(Image.open(out)).any(axis=2)
    assert lit.shape == (44, 64)
    assert lit[24:, :30].all() and not lit[24:, 30:].any() and not lit[20:24].any()
    capsys.readouterr()


# --- SA-1B and overlay ----------------------------------------------------------------


@pytest.mark.parametrize("h, w, oh, ow", [(2, 5, 41, 93), (2, 7, 47, 87), (2, 3, 55, 79), (3, 2, 40, 200)])
def test_resize_nearest_equals_torch_when_the_sides_sum_past_128(h, w, oh, ow):
    # planted sa1b-resize-other-size: torch picks its nearest-exact kernel by oh + ow (> 128 here)
    # while 2 * oh <= 128; the row maps of the two kernels differ at these sizes
    torch = pytest.importorskip("torch")
    from fastrle.sa1b import resize_nearest

    rng = np.random.default_rng(2412)
    m = (rng.random((3, h, w)) < 0.5).astype(np.uint8)
    want = torch.nn.functional.interpolate(torch.from_numpy(m[:, None].astype(np.float32)), size=(oh, ow),
                                           mode="nearest-exact")[:, 0].numpy().astype(np.uint8)
    assert (resize_nearest(m, (oh, ow)) == want).all()


@pytest.mark.parametrize("bad", [[[-1, 0, 0]], [[0, 256, 0]], [[0, 0, -300]]])
def test_overlay_rejects_colours_outside_0_255(bad):
    # planted viz-colors-negative: integer colours must lie in 0..255 (no wrap-around)
    from fastrle.viz import overlay

    from pycocotools import mask as pm

    m = np.zeros((4, 4), np.uint8)
    m[1:3, 1:3] = 1
    rle = pm.encode(np.asfortranarray(m))
    with pytest.raises(TypeError, match="0..255"):
        overlay(None, [rle], colors=np.array(bad, np.int64))
    pic = overlay(None, [rle], colors=np.array([[0, 255, 7]], np.int64), alpha=1.0, contours=False)
    assert pic.reshape(-1, 3)[pic.reshape(-1, 3).any(axis=1)].tolist() == [[0, 255, 7]] * 4


def test_show_anns_rounds_a_float_image_on_the_axes():
    # planted viz-showanns-float-trunc: a float image in [0, 1] becomes round(v * 255), 0.65 -> 166 (not 165)
    pytest.importorskip("matplotlib").use("Agg")
    import matplotlib.pyplot as plt
    from pycocotools import mask as pm

    from fastrle.viz import show_anns

    m = np.zeros((6, 8), np.uint8)
    m[2:4, 3:6] = 1
    fig, ax = plt.subplots()
    try:
        ax.imshow(np.full((6, 8, 3), 0.65))
        im = show_anns([pm.encode(np.asfortranarray(m))], ax=ax, alpha=0.0, contours=False)
        pic = np.asarray(im.get_array())
        assert pic.dtype == np.uint8 and pic.shape == (6, 8, 3)
        assert (pic == 166).all()
    finally:
        plt.close(fig)


# --- compat ---------------------------------------------------------------------------


def test_patch_swaps_each_of_the_seven_documented_functions():
    # planted compat-no-frpyobjects: the list is the docstring's, written out here by hand
    import pycocotools.mask as pm

    import fastrle
    import fastrle.mask as fm

    names = ["encode", "decode", "area", "toBbox", "iou", "merge", "frPyObjects"]
    before = {n: getattr(pm, n) for n in names}
    from fastrle.compat import pycocotools_patched

    assert not pycocotools_patched()
    with fastrle.patch_pycocotools():
        assert [n for n in names if getattr(pm, n) is not getattr(fm, n)] == []
        h, w = 5, 6
        rle = pm.frPyObjects([[1.0, 1.0, 4.0, 1.0, 4.0, 3.0, 1.0, 3.0]], h, w)  # goes through fastrle now
        assert isinstance(rle, list) and rle[0]["size"] == [h, w]
    assert {n: getattr(pm, n) for n in names} == before


# --- geometry and `fastrle polygons` -----------------------------------------------------


@pytest.mark.parametrize("min_area", [0, 0.5])
def test_ccomp_hierarchy_previous_sibling_equals_cv2(min_area):
    # planted geo-hierarchy-prev: the second outer ring's previous sibling is the first outer
    # ring, not the first ring's hole that comes between them in pre-order (min_area > 0
    # rebuilds the hierarchy in Python; 0.5 drops no ring here: the smallest, the hole, has area 2)
    cv2 = pytest.importorskip("cv2")
    from pycocotools import mask as pm

    from fastrle.geometry import to_polygons

    m = np.zeros((12, 16), np.uint8)
    m[6:11, 1:6] = 1
    m[8, 3] = 0          # a ring with a hole, low in the image
    m[1:4, 9:14] = 1     # a blob above: cv2 lists ring, hole, blob (blob's previous: the ring, 0)
    _, want = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    got = to_polygons(pm.encode(np.asfortranarray(m)), mode="ccomp", format="cv2", min_area=min_area)
    assert got.hierarchy.tolist() == want[0].tolist()


def test_polygons_keeps_sa1b_images_of_equal_id_from_two_files_apart(tmp_path):
    # planted geo-cli-sa1b-image-key: SA-1B files are keyed by (file, image id)
    from fastrle.cli.polygons import convert

    m = np.zeros((1, 6, 7), bool)
    m[0, 1:3, 2:5] = True
    os.mkdir(tmp_path / "a")
    os.mkdir(tmp_path / "b")
    _sa1b_json(tmp_path / "a" / "x.json", m, image_id=1)
    _sa1b_json(tmp_path / "b" / "y.json", m, image_id=1)
    coco = convert([str(tmp_path / "a" / "x.json"), str(tmp_path / "b" / "y.json")])
    assert len(coco["annotations"]) == 2
    assert len(coco["images"]) == 2


# --- cocoeval ------------------------------------------------------------------------------


def test_cocoeval_no_cats_with_a_category_listed_twice_equals_pycocotools(capsys):
    # planted ce-int-positions-dupes: useCats=0 and catIds [1, 1]: pycocotools takes each
    # annotation once per listed category; the oracle is pycocotools' own COCOeval
    pytest.importorskip("matplotlib")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval as Stock

    from fastrle.cocoeval import COCOeval

    gt = COCO()
    gt.dataset = {"images": [{"id": 1, "height": 40, "width": 40}, {"id": 2, "height": 40, "width": 40}],
                  "categories": [{"id": 1}, {"id": 2}],
                  "annotations": [
                      {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "area": 100, "iscrowd": 0},
                      {"id": 2, "image_id": 1, "category_id": 2, "bbox": [20, 20, 8, 8], "area": 64, "iscrowd": 0},
                      {"id": 3, "image_id": 2, "category_id": 1, "bbox": [5, 5, 20, 12], "area": 240, "iscrowd": 0}]}
    gt.createIndex()
    dets = [{"image_id": 1, "category_id": 1, "bbox": [3, 2, 10, 10], "score": 0.9},
            {"image_id": 1, "category_id": 2, "bbox": [21, 19, 8, 9], "score": 0.6},
            {"image_id": 2, "category_id": 2, "bbox": [5, 6, 18, 12], "score": 0.7},
            {"image_id": 2, "category_id": 1, "bbox": [30, 30, 5, 5], "score": 0.8}]
    res = []
    for cls in (Stock, COCOeval):
        dt = gt.loadRes([dict(d) for d in dets])
        e = cls(gt, dt, "bbox")
        e.params.useCats = 0
        e.params.catIds = [1, 1]
        e.evaluate()
        e.accumulate()
        res.append((e.eval["precision"], e.eval["recall"]))
    capsys.readouterr()
    np.testing.assert_array_equal(res[1][0], res[0][0])
    np.testing.assert_array_equal(res[1][1], res[0][1])


@pytest.mark.parametrize("extra, max_dets", [(2, None), (-3, None), (0, [-5]), (0, [-1, 3])])
def test_cocoeval_accumulate_after_changing_iou_thresholds_equals_pycocotools(capsys, extra, max_dets):
    # planted ce-accumulate-T-check: evaluate with 10 thresholds, then accumulate with 12 or 7:
    # whatever pycocotools' accumulate does then (fill the first 10 rows, or raise), so must fastrle.
    # planted ce-slice-len-negative: maxDets -5 with 2 detections keeps dt[0:-5], none
    pytest.importorskip("matplotlib")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval as Stock

    from fastrle.cocoeval import COCOeval

    gt = COCO()
    gt.dataset = {"images": [{"id": 1, "height": 40, "width": 40}], "categories": [{"id": 1}],
                  "annotations": [
                      {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "area": 100, "iscrowd": 0},
                      {"id": 2, "image_id": 1, "category_id": 1, "bbox": [20, 20, 8, 8], "area": 64, "iscrowd": 0}]}
    gt.createIndex()
    dets = [{"image_id": 1, "category_id": 1, "bbox": [3, 2, 10, 10], "score": 0.9},
            {"image_id": 1, "category_id": 1, "bbox": [21, 19, 8, 9], "score": 0.6}]
    out = []
    for cls in (Stock, COCOeval):
        e = cls(gt, gt.loadRes([dict(d) for d in dets]), "bbox")
        if max_dets is not None:
            e.params.maxDets = max_dets
        e.evaluate()
        e.params.iouThrs = np.linspace(0.5, 0.95, 10 + extra)
        try:
            e.accumulate()
            out.append(("ok", e.eval["precision"], e.eval["recall"]))
        except Exception as err:
            out.append((type(err).__name__, None, None))
    capsys.readouterr()
    assert out[1][0] == out[0][0]
    if out[0][0] == "ok":
        np.testing.assert_array_equal(out[1][1], out[0][1])
        np.testing.assert_array_equal(out[1][2], out[0][2])
