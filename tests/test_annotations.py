"""fastrle.annotations and fastrle.fileio: the three layouts, annToRLE, the
per-format area/bbox conventions, one verdict from ``fastrle validate`` in
every mode, and the atomic write.

Oracles: pycocotools' ``COCO.annToRLE`` and ``mask`` functions, boxes and
areas written by hand, and the files' own bytes.
"""
from __future__ import annotations

import contextlib
import glob
import io
import os
import re

import numpy as np
import pytest

from fastrle import annotations as an
from fastrle import cli, fileio
from fastrle import mask as fm

pm = pytest.importorskip("pycocotools.mask")

DATA = os.path.join(os.path.dirname(__file__), "data")
COCO_GT = os.path.join(DATA, "coco_instances_val2014_100.json")


def _rle(mask: np.ndarray) -> dict:
    """Compressed RLE (str counts) of one hand-drawn (h, w) mask, by pycocotools."""
    r = pm.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")}


# a 5x6 mask, foreground in rows 1..3 and columns 2..4 (9 pixels), plus one empty mask
BOX_MASK = np.zeros((5, 6), np.uint8)
BOX_MASK[1:4, 2:5] = 1
EMPTY = np.zeros((5, 6), np.uint8)
# by hand: x0 = 2, y0 = 1, last column x1 = 4, last row y1 = 3
SA1B_BOX = [2, 1, 2, 2]          # [x0, y0, x1 - x0, y1 - y0]
COCO_BOX = [2, 1, 3, 3]          # toBbox: [x0, y0, x1 - x0 + 1, y1 - y0 + 1]


def _sa1b_obj(box=SA1B_BOX, area=9):
    return {"image": {"image_id": 7, "width": 6, "height": 5, "file_name": "sa_7.jpg"},
            "annotations": [
                {"id": 1, "segmentation": _rle(BOX_MASK), "area": area, "bbox": box,
                 "predicted_iou": 0.9, "stability_score": 0.95, "point_coords": [[3.0, 2.0]],
                 "crop_box": [0, 0, 6, 5]},
                {"id": 2, "segmentation": _rle(EMPTY), "area": 0, "bbox": [0, 0, 0, 0],
                 "predicted_iou": 0.5, "stability_score": 0.5, "point_coords": [[0.0, 0.0]],
                 "crop_box": [0, 0, 6, 5]}]}


def _coco_obj():
    return {"images": [{"id": 3, "height": 5, "width": 6}, {"id": 4, "height": 8, "width": 9}],
            "annotations": [
                {"id": 10, "image_id": 3, "segmentation": [[2, 1, 4, 1, 4, 3]], "area": 2.0,
                 "bbox": [2, 1, 2, 2], "iscrowd": 0},
                {"id": 11, "image_id": 4, "segmentation": _rle(np.ones((8, 9), np.uint8)),
                 "area": 72, "bbox": [0, 0, 9, 8], "iscrowd": 1},
                "not an object"],
            "categories": [{"id": 1, "name": "x"}]}


def _results_obj():
    return [{"image_id": 3, "category_id": 1, "score": 0.8, "segmentation": _rle(BOX_MASK)},
            {"image_id": 3, "category_id": 1, "score": 0.7, "segmentation": _rle(EMPTY),
             "area": 0, "bbox": [0, 0, 0, 0]}]


# --- layouts and records --------------------------------------------------------------


def test_three_layouts_recognised():
    doc = an.document(_sa1b_obj())
    assert doc.layout == an.SA1B and doc.image["image_id"] == 7 and len(doc.anns) == 2
    recs = list(an.records(doc))
    assert [(r.index, r.image_id, r.height, r.width, r.area, r.bbox) for r in recs] == [
        (0, 7, 5, 6, 9, SA1B_BOX), (1, 7, 5, 6, 0, [0, 0, 0, 0])]

    doc = an.document(_coco_obj())
    assert doc.layout == an.COCO and set(doc.images) == {3, 4}
    recs = list(an.records(doc))
    assert [(r.index, r.image_id, r.height, r.width) for r in recs[:2]] == [(0, 3, 5, 6), (1, 4, 8, 9)]
    assert recs[2].ann == "not an object" and recs[2].segmentation is None
    assert [an.segmentation_kind(r.segmentation) for r in recs] == ["polygon", "compressed", None]

    doc = an.document(_results_obj())
    assert doc.layout == an.COCO_RESULTS and doc.image is None and not doc.images
    recs = list(an.records(doc))
    assert [(r.image_id, r.height, r.area) for r in recs] == [(3, None, None), (3, None, 0)]


@pytest.mark.parametrize("obj", [{"foo": 1}, {"annotations": {}}, 17, "x", None])
def test_unknown_layout(obj):
    with pytest.raises(an.AnnotationFormatError, match="not a COCO annotation/results file"):
        an.document(obj)


@pytest.mark.parametrize("image,field", [("x", "image"), ({"width": 6, "height": 5}, "image.image_id"),
                                          ({"image_id": 1, "width": -1, "height": 5}, "image.width"),
                                          ({"image_id": 1, "width": 6, "height": True}, "image.height")])
def test_sa1b_image_block_checked_once_for_every_reader(image, field, tmp_path):
    obj = {"image": image, "annotations": []}
    with pytest.raises(an.SA1BFormatError) as ei:
        an.document(obj)
    assert ei.value.field == field
    from fastrle import sa1b
    with pytest.raises(sa1b.SA1BFormatError) as ei2:  # the same class and message
        sa1b.from_dict(obj)
    assert str(ei2.value) == str(ei.value)
    # validate reports it as the file's source error
    f = tmp_path / "sa.json"
    f.write_bytes(fileio.dumps(obj))
    from fastrle import validate
    s = validate.validate_files([str(f)])
    assert [p.kind for _, p in s.problems] == ["source"] and field.split(".")[-1] in s.problems[0][1].reason


# --- segmentations ------------------------------------------------------------------


def test_to_rle_equals_pycocotools_annToRLE_on_real_annotations():
    """830 polygons (merged) and 9 uncompressed crowd RLEs of real COCO val2014."""
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(COCO_GT)
    n_poly = n_multi = 0
    for ann in coco.dataset["annotations"]:
        img = coco.imgs[ann["image_id"]]
        want = coco.annToRLE(ann)
        got = an.to_rle(ann["segmentation"], img["height"], img["width"])
        assert got["counts"] == want["counts"], ann["id"]
        assert list(got["size"]) == list(want["size"])
        if isinstance(ann["segmentation"], list):
            n_poly += 1
            n_multi += len(ann["segmentation"]) > 1
    assert n_poly == 830 and n_multi > 20  # merging really happens


def test_to_rle_other_cases():
    c = _rle(BOX_MASK)
    assert an.to_rle(c) is c  # a compressed RLE is returned as it is (annToRLE does the same)
    unc = {"size": [5, 6], "counts": [7, 3, 2, 3, 2, 3, 10]}
    assert an.to_rle(unc)["counts"] == pm.frPyObjects(unc, 5, 6)["counts"]
    empty = an.to_rle([], 5, 6)  # pycocotools raises here; an empty mask
    assert fm.area(empty) == 0 and list(empty["size"]) == [5, 6]
    with pytest.raises(ValueError, match="height and width"):
        an.to_rle([[1, 1, 3, 1, 3, 3]])
    with pytest.raises(TypeError, match="RLE object or polygons"):
        an.to_rle(17, 5, 6)
    with pytest.raises(ValueError):
        an.to_rle({"size": [5], "counts": [30]})


def test_expected_boxes_hand_computed():
    tob = pm.toBbox([dict(r, counts=r["counts"].encode()) for r in (_rle(BOX_MASK), _rle(EMPTY))])
    assert tob.tolist() == [COCO_BOX, [0, 0, 0, 0]]  # the oracle agrees with the hand count
    assert an.expected_boxes(an.SA1B, tob).tolist() == [SA1B_BOX, [0, 0, 0, 0]]
    assert an.expected_boxes(an.COCO, tob).tolist() == [COCO_BOX, [0, 0, 0, 0]]
    assert an.expected_boxes(an.COCO_RESULTS, tob).tolist() == [COCO_BOX, [0, 0, 0, 0]]
    assert tob.tolist()[0] == COCO_BOX  # not changed in place
    with pytest.raises(ValueError):
        an.expected_boxes("voc", tob)


# --- fastrle validate: the conventions, and one verdict in every mode -----------------------


def _validate(argv):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cli.main(["validate", *argv])
    text = out.getvalue()
    counts = [ln for ln in text.splitlines() if ln.startswith(("masks checked", "mismatches"))]
    problems = sorted(ln.strip() for ln in text.splitlines() if ln.startswith("  "))
    return rc, counts, problems


def test_sa1b_bbox_convention_in_process(tmp_path):
    good = tmp_path / "sa_good.json"
    good.write_bytes(fileio.dumps(_sa1b_obj()))
    rc, counts, problems = _validate([str(good)])
    assert rc == 0 and counts == ["masks checked: 2, polygons skipped: 0",
                                  "mismatches: 0, malformed entries: 0, source errors: 0"], problems
    # the pycocotools box, or a wrong area, in an SA-1B file is a mismatch
    bad = tmp_path / "sa_bad.json"
    bad.write_bytes(fileio.dumps(_sa1b_obj(box=COCO_BOX, area=10)))
    rc, counts, problems = _validate([str(bad)])
    assert rc == 1 and counts[1].startswith("mismatches: 2,")
    assert any("bbox: the file says [2, 1, 3, 3], the mask gives [2.0, 1.0, 2.0, 2.0]" in p for p in problems)


def test_coco_fields_use_tobbox(tmp_path):
    f = tmp_path / "res.json"
    objs = _results_obj()
    objs[0].update(area=9, bbox=COCO_BOX)
    f.write_bytes(fileio.dumps(objs))
    assert _validate([str(f)])[0] == 0
    objs[0].update(bbox=SA1B_BOX)
    f.write_bytes(fileio.dumps(objs))
    rc, counts, problems = _validate([str(f)])
    assert rc == 1 and counts[1].startswith("mismatches: 1,") and "(toBbox)" in problems[0]


def test_coco_crowd_fields_are_not_compared(tmp_path):
    """A COCO dataset's crowd RLE keeps the annotation tool's area and box (real
    val2014 ones differ from the mask); a non-crowd RLE of the same file is checked."""
    rle = _results_obj()[0]["segmentation"]
    h, w = rle["size"]
    doc = {"images": [{"id": 1, "height": h, "width": w}], "categories": [{"id": 1, "name": "x"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": rle, "iscrowd": 1,
                            "area": 12345, "bbox": [0, 0, 1, 1]},
                           {"id": 2, "image_id": 1, "category_id": 1, "segmentation": rle, "iscrowd": 0,
                            "area": 12345, "bbox": COCO_BOX}]}
    f = tmp_path / "coco.json"
    f.write_bytes(fileio.dumps(doc))
    rc, counts, problems = _validate([str(f)])
    assert rc == 1 and counts[1].startswith("mismatches: 1,"), problems
    assert len(problems) == 1 and "area: the file says 12345" in problems[0]


@pytest.fixture(scope="module")
def scheduler():
    """A real LocalCluster of one single-threaded worker process (as test_jobs.py starts one)."""
    pytest.importorskip("distributed")
    pytest.importorskip("pyarrow")
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                      timeout=120) as cluster, Client(cluster, timeout=120) as c:
        c.wait_for_workers(1, timeout=120)
        yield cluster.scheduler_address


def test_one_verdict_in_every_mode(scheduler, tmp_path):
    """tests/data/*.json (real COCO) and an SA-1B file in SA-1B's own convention:
    the same counts, problems and exit status in process, with --workers 1
    and on an existing cluster. On the old code the in-process run saw 0
    mismatches (exit 0) where --workers 1 saw 17 (exit 1), and --workers 1
    called every SA-1B box a mismatch."""
    sa = tmp_path / "sa_7.json"
    sa.write_bytes(fileio.dumps(_sa1b_obj()))
    files = sorted(glob.glob(os.path.join(DATA, "*.json"))) + [str(sa)]
    runs = {"in process": _validate(files), "--workers 1": _validate(files + ["--workers", "1"]),
            "--scheduler": _validate(files + ["--scheduler", scheduler])}
    first = runs["in process"]
    for mode, got in runs.items():
        assert got == first, mode
    rc, counts, problems = first
    # the 9 crowd RLEs of the real COCO file carry the annotation tool's area and box
    # (8 areas and 9 boxes differ from the mask): not compared, so a clean verdict
    assert rc == 0 and counts == ["masks checked: 745, polygons skipped: 830",
                                  "mismatches: 0, malformed entries: 0, source errors: 0"], problems
    assert not any("sa_7.json" in p for p in problems)


# --- atomic writes ---------------------------------------------------------------------


def _listing(d):
    return sorted(os.listdir(d))


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "out.bin"
    fileio.atomic_write(p, lambda tmp: open(tmp, "wb").write(b"one"))
    fileio.atomic_write(str(p), lambda tmp: open(tmp, "wb").write(b"two"))
    assert p.read_bytes() == b"two" and _listing(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("where", ["write", "fsync", "replace"])
def test_atomic_write_fault_keeps_old_file(tmp_path, monkeypatch, where):
    p = tmp_path / "out.bin"
    p.write_bytes(b"old content")
    seen = []

    def write(tmp):
        seen.append(tmp)
        with open(tmp, "wb") as f:
            f.write(b"half of the new")
        if where == "write":
            raise OSError(28, "No space left on device")

    def boom(*a, **k):
        raise OSError(5, "Input/output error")

    if where != "write":
        monkeypatch.setattr(os, where, boom)
    with pytest.raises(OSError):
        fileio.atomic_write(p, write)
    monkeypatch.undo()
    assert p.read_bytes() == b"old content"
    assert _listing(tmp_path) == ["out.bin"] and not os.path.exists(seen[0])
    assert fileio.is_temp_name(os.path.basename(seen[0]))
    # KeyboardInterrupt too
    def interrupted(tmp):
        open(tmp, "wb").write(b"x")
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        fileio.atomic_write(p, interrupted)
    assert _listing(tmp_path) == ["out.bin"] and p.read_bytes() == b"old content"


def test_show_png_write_fault_keeps_old_file(tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    import fastrle.viz as viz

    src = tmp_path / "sa_7.json"
    src.write_bytes(fileio.dumps(_sa1b_obj()))
    out = tmp_path / "pic.png"
    out.write_bytes(b"old picture")
    real = viz.save_image

    def failing(pic, path, fmt):
        real(pic, path, fmt)  # the whole file is written, then the disk fails
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(viz, "save_image", failing)
    assert cli.main(["show", str(src), "-o", str(out)]) == 1
    assert out.read_bytes() == b"old picture"
    assert _listing(tmp_path) == ["pic.png", "sa_7.json"]
    monkeypatch.setattr(viz, "save_image", real)
    assert cli.main(["show", str(src), "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG") and _listing(tmp_path) == ["pic.png", "sa_7.json"]


def test_index_part_write_fault_leaves_no_part(tmp_path, monkeypatch):
    pq = pytest.importorskip("pyarrow.parquet")
    from fastrle.jobs import index_source, part_name

    src = tmp_path / "sa_7.json"
    src.write_bytes(fileio.dumps(_sa1b_obj()))
    out = tmp_path / "idx"
    out.mkdir()
    real = pq.write_table

    def failing(table, where, **kw):
        real(table, where, **kw)
        with open(where, "ab") as f:
            f.write(b"garbage")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pq, "write_table", failing)
    r = index_source(str(src), str(out))
    assert r.status == "failed" and "No space left" in r.problems[0].reason
    assert _listing(out) == ["_errors"] and _listing(out / "_errors") == []
    monkeypatch.setattr(pq, "write_table", real)
    r = index_source(str(src), str(out))
    assert r.status == "written" and _listing(out) == ["_errors", part_name(str(src))]
    assert pq.read_table(out / part_name(str(src))).num_rows == 2


# --- JSON backend -------------------------------------------------------------------------


def test_one_json_backend(monkeypatch):
    from fastrle import sa1b

    assert sa1b.json_backend() == fileio.json_backend() in ("orjson", "json")
    obj = {"a": [1, 2.5, "é"], "b": None}
    assert fileio.loads(fileio.dumps(obj)) == obj
    with pytest.raises(fileio.JSONError):
        fileio.loads(b'{"a": ')
    monkeypatch.setattr(fileio, "_orjson", None)  # the fallback: the json module
    assert fileio.json_backend() == "json" and fileio.loads(fileio.dumps(obj)) == obj
    for bad in (b'{"a": ', b"\xff\xfe{}"):
        with pytest.raises(fileio.JSONError):
            fileio.loads(bad)
    assert re.fullmatch(r"\.x\.bin\.[0-9a-f]{32}\.part", ".x.bin." + "0" * 32 + ".part")
