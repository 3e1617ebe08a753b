"""Behaviour pins for fastrle.jobs and the ``index``/``validate`` commands where
no outside oracle exists (issue 24): every expected count, problem and exit
status below is written by hand from small files made here, never taken from
the code under test.

Fault injection: the writes of one task are made to fail at each step (the
task dies there), then the task is rerun and must end exactly as a clean run.
Tasks run in this process (``index_source``/``validate_source``); the summary
and the CLI run on one in-process Dask cluster (threads, about a second to start).
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from _jobs_data import write_tar

pytest.importorskip("distributed")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pm = pytest.importorskip("pycocotools.mask")

from fastrle import cli, fileio, jobs  # noqa: E402
from fastrle import mask as fmask  # noqa: E402
from fastrle.jobs import tasks  # noqa: E402
from fastrle.jobs.sources import expand_sources, part_name  # noqa: E402

H, W = 6, 8


def rle(m):
    """Compressed RLE (str counts) of a dense (H, W) mask, by pycocotools."""
    r = pm.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"].decode()}


def box_mask(y0, y1, x0, x1, h=H, w=W):
    m = np.zeros((h, w), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


def sa1b_doc(image_id, boxes, fields=None):
    """An SA-1B per-image object with rectangle masks; bbox in SA-1B's convention
    [x0, y0, x1 - x0, y1 - y0] (x1, y1 the last foreground column/row), area exact."""
    anns = []
    for i, (y0, y1, x0, x1) in enumerate(boxes):
        a = {"id": i, "segmentation": rle(box_mask(y0, y1, x0, x1)), "area": (y1 - y0) * (x1 - x0),
             "bbox": [x0, y0, x1 - 1 - x0, y1 - 1 - y0], "predicted_iou": 0.5 + i / 100,
             "stability_score": 0.9, "point_coords": [[x0, y0]], "crop_box": [0, 0, W, H]}
        a.update((fields or {}).get(i, {}))
        anns.append(a)
    return {"image": {"image_id": image_id, "width": W, "height": H, "file_name": f"sa_{image_id}.jpg"},
            "annotations": anns}


def write(path, obj):
    path = str(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


def coco_doc():
    """Two images, six annotations: a non-object at index 0, an invalid RLE at 2
    and 4 (same size as the good ones), a 5-number bbox at 3, a float id at 5."""
    good = rle(box_mask(1, 3, 1, 4))
    bad = {"size": [H, W], "counts": "0"}  # sums to 0, not 48: rejected
    anns = [5,
            {"id": 1, "image_id": 10, "segmentation": good},
            {"id": 2, "image_id": 10, "segmentation": bad},
            {"id": 3, "image_id": 11, "segmentation": good, "bbox": [1, 2, 3, 4, 5]},
            {"id": 4, "image_id": 11, "segmentation": bad},
            {"id": 5.5, "image_id": 11, "segmentation": good}]
    return {"images": [{"id": 10, "height": H, "width": W}, {"id": 11, "height": H, "width": W}],
            "annotations": anns, "categories": []}


def _sorted(rows):
    return sorted(rows, key=lambda t: tuple((x is None, x if x is not None else 0) for x in t))


def problems(res):
    """(kind, image_id, index, reason up to its first colon) of each problem, sorted."""
    return _sorted((p.kind, p.image_id, p.index, p.reason.split(":")[0]) for p in res.problems)


# ---------------------------------------------------------------- one task, in process


def test_index_source_counts_and_problems_by_hand(tmp_path):
    src = write(tmp_path / "coco.json", coco_doc())
    r = jobs.tasks.index_source(src, str(tmp_path / "out"), features=True)
    assert (r.status, r.images, r.masks) == ("written", 2, 5)
    assert problems(r) == _sorted([
        ("malformed", None, 0, "annotation must be an object, got 5"),
        ("malformed", 10, 2, "invalid RLE"), ("malformed", 11, 4, "invalid RLE"),
        ("malformed", 11, 3, "field 'bbox' must be [x, y, w, h] finite numbers, got [1, 2, 3, 4, 5]"),
        ("malformed", 11, 5, "field 'id' must be an integer, got 5.5")])
    t = jobs.read_index(str(tmp_path / "out"))
    rows = t.to_pylist()
    assert [r["ann_id"] for r in rows] == [1, 2, 3, 4, None]  # 5.5 rejected
    assert rows[2]["bbox_x"] is None and rows[2]["bbox_h"] is None  # rejected, not truncated
    # centroids of the good 2x3 box at rows 1-2, columns 1-3: (2.0, 1.5) in pixel indices
    assert [(r["centroid_x"], r["centroid_y"]) for r in rows if r["counts"] == rows[0]["counts"]][0] == (2.0, 1.5)


def test_index_sa1b_fields_checked(tmp_path):
    doc = sa1b_doc(7, [(0, 2, 0, 2), (1, 4, 2, 6)], {1: {"point_coords": [[1, 2, 3]]}})
    doc["annotations"][0]["predicted_iou"] = "high"
    r = jobs.tasks.index_source(write(tmp_path / "s.json", doc), str(tmp_path / "o"))
    assert (r.images, r.masks) == (1, 2)
    assert problems(r) == [("malformed", 7, 0, "field 'predicted_iou' must be a number, got 'high'"),
                           ("malformed", 7, 1, "field 'point_coords' must be a list of [x, y] numbers, got "
                            "[[1, 2, 3]]")]
    # a string image_id in a COCO file is reported, its rows keep a null image_id
    coco = {"images": [{"id": "a", "height": H, "width": W}],
            "annotations": [{"id": 1, "image_id": "a", "segmentation": rle(box_mask(0, 1, 0, 1))}]}
    r = jobs.tasks.index_source(write(tmp_path / "c.json", coco), str(tmp_path / "o"))
    assert problems(r) == [("malformed", None, 0, "field 'image_id' must be an integer, got 'a'")]


def test_polygon_of_an_image_without_width_stays_null(tmp_path):
    coco = {"images": [{"id": 3, "height": 10}],
            "annotations": [{"id": 1, "image_id": 3, "segmentation": [[0, 0, 5, 0, 5, 5]]}]}
    r = jobs.tasks.index_source(write(tmp_path / "p.json", coco), str(tmp_path / "o"))
    assert (r.status, r.masks, r.problems) == ("written", 1, [])
    assert jobs.read_index(str(tmp_path / "o")).column("counts").to_pylist() == [None]


def _snapshot(out):
    """Every file under out (relative name -> table or bytes), temp names included."""
    snap = {}
    for d, _, names in os.walk(out):
        for n in names:
            p = os.path.join(d, n)
            rel = os.path.relpath(p, out)
            snap[rel] = pq.read_table(p).to_pylist() if n.endswith(".parquet") and not n.startswith(".") else n
    return snap


@pytest.mark.parametrize("step", [1, 2])
def test_task_killed_at_each_write_then_resumed(tmp_path, monkeypatch, step):
    """The task dies at its step-th file write (1: the errors file, 2: the part);
    the rerun must give what a clean run gives: result, problems and files."""
    src = write(tmp_path / "coco.json", coco_doc())
    clean_out = str(tmp_path / "clean")
    clean = jobs.tasks.index_source(src, clean_out)
    out = str(tmp_path / "out")
    real = tasks._write_parquet
    calls = []

    def dying(table, path):
        calls.append(path)
        if len(calls) == step:
            raise SystemExit("worker killed")  # not an Exception: nothing may catch it
        real(table, path)

    monkeypatch.setattr(tasks, "_write_parquet", dying)
    with pytest.raises(SystemExit):
        jobs.tasks.index_source(src, out)
    monkeypatch.setattr(tasks, "_write_parquet", real)
    again = jobs.tasks.index_source(src, out)
    assert again.status == "written", "a part must not exist before its errors file"
    assert (again.masks, again.images, problems(again)) == (clean.masks, clean.images, problems(clean))
    assert _snapshot(out) == _snapshot(clean_out)
    # and a third run skips it with the same problems, read back from _errors/
    skip = jobs.tasks.index_source(src, out)
    assert (skip.status, skip.masks, problems(skip)) == ("skipped", clean.masks, problems(clean))


def test_overwrite_features_and_stale_errors(tmp_path):
    src = write(tmp_path / "coco.json", coco_doc())
    out = str(tmp_path / "o")
    assert jobs.tasks.index_source(src, out).status == "written"
    assert jobs.tasks.index_source(src, out).status == "skipped"
    assert jobs.tasks.index_source(src, out, overwrite=True).status == "written"
    # a part without the centroid columns is not done for features=True
    r = jobs.tasks.index_source(src, out, features=True)
    assert r.status == "written" and "centroid_x" in jobs.read_index(out).schema.names
    assert jobs.read_errors(out).num_rows == 5
    # the source fixed: a re-index leaves no errors file behind
    write(src, {"images": [{"id": 1, "height": H, "width": W}],
                "annotations": [{"id": 1, "image_id": 1, "segmentation": rle(box_mask(0, 2, 0, 2))}]})
    r = jobs.tasks.index_source(src, out, overwrite=True)
    assert (r.status, r.problems) == ("written", [])
    assert jobs.read_errors(out).num_rows == 0 and os.listdir(os.path.join(out, tasks.ERRORS_DIR)) == []


@pytest.mark.parametrize("name", ["missing.json", "missing.tar"])
def test_unreadable_source_gets_no_part_and_is_retried(tmp_path, name):
    src = str(tmp_path / name)
    out = str(tmp_path / "o")
    r = jobs.tasks.index_source(src, out)
    assert r.status == "unreadable" and [p.kind for p in r.problems] == ["source"]
    assert not os.path.exists(os.path.join(out, part_name(src)))
    if name.endswith(".json"):
        write(src, sa1b_doc(1, [(0, 1, 0, 1)]))
        assert jobs.tasks.index_source(src, out).status == "written"


def test_truncated_shard_keeps_what_came_before(tmp_path):
    a, b = (json.dumps(sa1b_doc(i, [(0, 2, 0, 2)] * i)).encode() for i in (1, 2))
    path = write_tar(tmp_path / "s.tar",
                     [("sa_1.jpg", b"x" * 700), ("sa_1.json", a), ("sa_2.jpg", b"y"), ("sa_2.json", b)])
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[:2048 + 512 + 100])  # ends inside sa_1.json's successor
    r = jobs.tasks.index_source(path, str(tmp_path / "o"))
    assert r.status == "written" and r.masks == 1
    assert [p.kind for p in r.problems] == ["source"] and "truncated" in r.problems[0].reason


def test_same_base_name_in_two_folders(tmp_path):
    a = write(tmp_path / "a" / "same.json", sa1b_doc(1, [(0, 1, 0, 1)]))
    b = write(tmp_path / "b" / "same.json", sa1b_doc(2, [(0, 1, 0, 1), (1, 2, 1, 2)]))
    assert part_name(a) != part_name(b)
    out = str(tmp_path / "o")
    assert [jobs.tasks.index_source(s, out).status for s in (a, b)] == ["written", "written"]
    assert sorted(jobs.read_index(out).column("image_id").to_pylist()) == [1, 2, 2]


def test_expand_sources_no_repeats_no_subfolders(tmp_path):
    a = write(tmp_path / "d" / "a.json", {})
    os.makedirs(tmp_path / "d" / "sub.json")
    got = expand_sources([str(tmp_path / "d"), a, str(tmp_path / "d" / "*.json")])
    assert got == [a]


# ---------------------------------------------------------------- validate, in process


def test_validate_counts_and_verdicts_by_hand(tmp_path):
    from fastrle import validate

    clean = write(tmp_path / "clean.json", sa1b_doc(1, [(0, 2, 0, 2), (1, 4, 2, 6)]))
    s = validate.validate_files([clean])
    assert (s.ok, s.masks, s.polygons, s.images) == (True, 2, 0, 1)
    coco = {"images": [{"id": 1, "height": H, "width": W}],
            "annotations": [{"id": 1, "image_id": 1, "segmentation": [[0, 0, 4, 0, 4, 4]]},
                            {"id": 2, "image_id": 1, "segmentation": {"size": [H, W]}},
                            {"id": 3, "image_id": 1, "segmentation": rle(box_mask(0, 2, 0, 5)), "area": 10.5},
                            {"id": 4, "image_id": 1, "segmentation": rle(box_mask(0, 2, 0, 5)),
                             "bbox": [0, 0, 5.0001, 2]}]}
    s = validate.validate_files([write(tmp_path / "c.json", coco)])
    assert (s.ok, s.masks, s.polygons, s.malformed, s.mismatches) == (False, 2, 1, 1, 2)
    assert sorted(p.index for _, p in s.problems) == [1, 2, 3]


def test_validate_batches_report_each_problem_once(tmp_path, monkeypatch):
    # batches of 2 masks: 5 masks make batches [0, 1], [2, 3] and [4]
    monkeypatch.setattr(tasks, "PIXEL_BUDGET", 2 * H * W)
    boxes = [(0, 2, 0, 2), (1, 3, 1, 3), (2, 4, 2, 4), (3, 5, 3, 5), (0, 6, 0, 8)]
    doc = sa1b_doc(1, boxes, {1: {"area": 99}})
    r = tasks.validate_source(write(tmp_path / "s.json", doc))
    assert problems(r) == [("mismatch", 1, 1, "area")]
    # a decoder that differs on the last mask of a full batch: found by the mask-by-mask retry
    last = doc["annotations"][3]["segmentation"]["counts"]

    class Flipping:
        def __getattr__(self, name):
            return getattr(fmask, name)

        @staticmethod
        def decode(rles):
            out = fmask.decode(rles)
            rl = rles if isinstance(rles, list) else [rles]
            for k, x in enumerate(rl):
                if x["counts"] == last:
                    out[..., k][0, 0] ^= 1
            return out

    doc = sa1b_doc(1, boxes)
    r = tasks.validate_source(write(tmp_path / "t.json", doc), fm=Flipping())
    assert problems(r) == [("mismatch", 1, 3, "decoded masks differ in 1 pixels")]


# ---------------------------------------------------------------- jobs.index and the CLI on Dask


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cl, \
            Client(cl) as c:
        yield c


def test_index_summary_numbers_and_cleanup(client, tmp_path, monkeypatch):
    coco = write(tmp_path / "coco.json", coco_doc())
    sa = write(tmp_path / "sa.json", sa1b_doc(4, [(0, 1, 0, 1), (0, 2, 0, 2), (0, 3, 0, 3)]))
    out = str(tmp_path / "o")
    os.makedirs(os.path.join(out, tasks.ERRORS_DIR))
    for d in (out, os.path.join(out, tasks.ERRORS_DIR)):  # leftovers of a killed writer
        open(os.path.join(d, ".part-x.parquet.0123.part"), "w").close()
    coco2 = write(tmp_path / "coco2.json", coco_doc())
    s = jobs.index([coco, sa, str(tmp_path / "gone.json"), coco2], out, client=client)
    # images: 2 + 1 + 0 + 2; masks: 5 + 3 + 0 + 5
    assert (s.sources, s.images, s.masks, s.written, s.skipped, s.unreadable) == (4, 5, 13, 3, 0, 1)
    assert s.malformed == 6 and len(s.source_errors) == 1  # without features no RLE is parsed
    assert not [n for d in (out, os.path.join(out, tasks.ERRORS_DIR)) for n in os.listdir(d)
                if fileio.is_temp_name(n)]
    # a task that fails is counted with the unreadable ones
    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(tasks, "_index_rows", boom)
    s = jobs.index([coco], out, client=client, overwrite=True)
    assert (s.written, s.unreadable) == (0, 1) and "task failed: RuntimeError: boom" in s.text()


def test_cli_index_exit_codes_and_flags(client, tmp_path, capsys):
    addr = client.scheduler.address
    good = write(tmp_path / "sa.json", sa1b_doc(4, [(0, 1, 0, 1), (0, 2, 0, 2)]))
    out = str(tmp_path / "o")
    assert cli.main(["index", good, "-o", out, "--scheduler", addr]) == 0
    assert "parts written: 1, skipped (already done): 0" in capsys.readouterr().out
    assert cli.main(["index", good, "-o", out, "--scheduler", addr]) == 0
    assert "parts written: 0, skipped (already done): 1" in capsys.readouterr().out
    assert cli.main(["index", good, "-o", out, "--scheduler", addr, "--overwrite"]) == 0
    assert "parts written: 1, skipped (already done): 0" in capsys.readouterr().out
    assert cli.main(["index", good, "-o", out, "--scheduler", addr, "--features"]) == 0
    assert jobs.read_index(out).column("centroid_x").to_pylist() == [0.0, 0.5]
    capsys.readouterr()
    # partly bad: one source unreadable -> 1; the good one still has its part
    assert cli.main(["index", good, str(tmp_path / "gone.json"), "-o", out, "--scheduler", addr]) == 1
    text = capsys.readouterr().out
    assert "not indexed (unreadable or failed; retried next run): 1" in text and "images: 1," in text
    # usage errors -> 2
    assert cli.main(["index", str(tmp_path / "none*.json"), "-o", out, "--scheduler", addr]) == 2


def test_cli_validate_exit_codes_and_modes(tmp_path, capsys):
    from fastrle.cli import validate as cv

    good = write(tmp_path / "g.json", sa1b_doc(1, [(0, 2, 0, 2)]))
    bad = write(tmp_path / "b.json", sa1b_doc(1, [(0, 2, 0, 2)], {0: {"point_coords": 3, "bbox": "x"}}))
    assert cli.main(["validate", good]) == 0
    assert cli.main(["validate", good, bad]) == 1  # malformed only, no mismatch: still 1
    assert cli.main(["validate", good, str(tmp_path / "gone.json")]) == 1  # a source error: 1
    out = capsys.readouterr().out
    assert "source errors: 1" in out
    p = cli.build_parser()
    assert cv.dataset_mode(p.parse_args(["validate", good, "--report", "r.parquet"]))
    assert not cv.dataset_mode(p.parse_args(["validate", good]))


def test_cli_argument_types():
    import argparse

    from fastrle.cli import _args

    assert _args.size("3x4") == (3, 4)
    for bad in ("0x4", "4x0", "-1x3"):
        with pytest.raises(argparse.ArgumentTypeError):
            _args.size(bad)
    assert _args.positive("1") == 1
    with pytest.raises(argparse.ArgumentTypeError):
        _args.positive("0")
