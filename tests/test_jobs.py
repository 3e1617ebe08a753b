"""fastrle.jobs on a real Dask LocalCluster of 2 worker processes: index rows,
planted problems, resuming, features, and the CLI against that cluster.

The dataset (tests/_jobs_data.py) mixes generated SA-1B shards and JSON files,
some with planted problems, and the real COCO files of tests/data.
"""
from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("distributed")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pm = pytest.importorskip("pycocotools.mask")

from _jobs_data import COCO_FILES, make_dataset, problem_set  # noqa: E402

from fastrle import cli, jobs  # noqa: E402

TIMEOUT = 120  # seconds for cluster start-up on a slow, shared machine


@pytest.fixture(scope="module")
def client():
    """A real LocalCluster: 2 single-threaded worker processes."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      timeout=TIMEOUT) as cluster, Client(cluster, timeout=TIMEOUT) as c:
        c.wait_for_workers(2, timeout=TIMEOUT)
        yield c


@pytest.fixture(scope="module")
def ds(tmp_path_factory):
    return make_dataset(str(tmp_path_factory.mktemp("jobs_ds")))


@pytest.fixture(scope="module")
def indexed(client, ds, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("jobs_idx") / "index")
    return out, jobs.index(ds["sources"], out, client=client, features=True)


def _rows_by_source(table):
    out = {}
    for r in table.to_pylist():
        out.setdefault(os.path.basename(r["source"]), []).append(r)
    return out


def test_index_rows_equal_what_the_generator_wrote(indexed, ds):
    out, s = indexed
    table = jobs.read_index(out)
    assert table.schema.names == jobs.index_schema(features=True).names
    rows = _rows_by_source(table)
    for name, objs in ds["objs"].items():
        got = rows[name]
        want = [(o, i, a) for o in objs for i, a in enumerate(o["annotations"]) if isinstance(a, dict)]
        assert len(got) == len(want), name
        for r, (o, _i, a) in zip(got, want):
            img = o["image"]
            assert r["image_id"] == img["image_id"] and r["file_name"] == img["file_name"]
            assert r["ann_id"] == a["id"]
            assert [r["height"], r["width"]] == a["segmentation"]["size"]
            assert r["counts"] == a["segmentation"]["counts"]
            assert r["area"] == (a["area"] if not isinstance(a["area"], str) else None)
            assert [r["bbox_x"], r["bbox_y"], r["bbox_w"], r["bbox_h"]] == a["bbox"]
            assert r["predicted_iou"] == a.get("predicted_iou")  # None where the file lacks it
            assert r["stability_score"] == a["stability_score"]
            assert r["point_coords"] == a["point_coords"]
    assert s.masks == table.num_rows
    # every source but the missing file has a part; the broken JSON file's has no rows
    assert s.written == s.sources - 1 and s.unreadable == 1 and len(rows) == s.sources - 2


def test_index_real_coco_rows(indexed):
    """Annotation file: polygons and crowd RLEs get pycocotools' counts; results file: as is."""
    import json

    out, _ = indexed
    rows = _rows_by_source(jobs.read_index(out))
    with open(os.path.join(os.path.dirname(__file__), "data", COCO_FILES[0])) as f:
        d = json.load(f)
    images = {im["id"]: im for im in d["images"]}
    got = rows[COCO_FILES[0]]
    assert len(got) == len(d["annotations"]) == 839
    for r, a in zip(got, d["annotations"]):
        im = images[a["image_id"]]
        seg = a["segmentation"]
        ref = pm.merge(pm.frPyObjects(seg, im["height"], im["width"])) if isinstance(seg, list) \
            else pm.frPyObjects(seg, *seg["size"])
        assert r["counts"] == ref["counts"].decode()
        assert (r["image_id"], r["ann_id"], r["file_name"]) == (a["image_id"], a["id"], im["file_name"])
        assert r["area"] == a["area"] and r["bbox_w"] == a["bbox"][2]
        assert r["predicted_iou"] is None and r["point_coords"] is None
    with open(os.path.join(os.path.dirname(__file__), "data", COCO_FILES[1])) as f:
        res = json.load(f)
    got = rows[COCO_FILES[1]]
    assert [r["counts"] for r in got] == [a["segmentation"]["counts"] for a in res]
    assert [r["image_id"] for r in got] == [a["image_id"] for a in res]
    assert all(r["ann_id"] is None and r["file_name"] is None and r["area"] is None for r in got)


def test_index_features_are_centroids_of_the_masks(indexed):
    out, _ = indexed
    t = jobs.read_index(out)
    rows = [r for r in t.to_pylist() if r["counts"] is not None][::37]
    assert len(rows) > 20
    for r in rows:
        m = pm.decode({"size": [r["height"], r["width"]], "counts": r["counts"].encode()})
        yx = np.argwhere(m)
        if len(yx) == 0:
            assert math.isnan(r["centroid_x"])
            continue
        assert r["centroid_x"] == pytest.approx(yx[:, 1].mean(), abs=1e-9)
        assert r["centroid_y"] == pytest.approx(yx[:, 0].mean(), abs=1e-9)


def test_index_records_every_planted_problem(indexed, ds):
    out, s = indexed
    # index does not decode: it finds what makes a row incomplete or a source
    # unreadable, and with features=True the RLEs whose runs do not parse
    want = ds["index_planted"] | ds["features_planted"]
    assert problem_set(s) == want
    on_disk = problem_set(jobs.read_errors(out))
    assert on_disk == want - {("missing.json", None, None, "source")}  # no part, retried next run


def test_validate_finds_every_planted_problem_and_nothing_else(client, ds, tmp_path):
    s = jobs.validate(ds["sources"], client=client)
    assert problem_set(s) == ds["planted"]
    assert not s.ok and s.mismatches > 0 and s.malformed > 0
    assert set(s.source_errors) == {p for p in s.source_errors
                                    if os.path.basename(p) in {"sa_bad.tar", "sa_trunc.tar",
                                                               "sa_zz_broken.json", "missing.json"}}
    assert len(s.source_errors) == 4
    assert s.polygons == 830
    assert problem_set(s.report_table()) == ds["planted"]


def test_validate_clean_sources_are_clean(client, ds):
    srcs = [p for p in jobs.expand_sources(ds["sources"][:1])] + [
        os.path.join(os.path.dirname(ds["sources"][-1]), "coco", COCO_FILES[1])]
    s = jobs.validate(srcs, client=client)
    assert s.ok, s.text()
    assert s.masks == 3 * 3 * 6 + 734


def test_resume_skips_finished_parts(client, ds, tmp_path):
    out = str(tmp_path / "idx")
    srcs = ds["sources"][:4]
    first = jobs.index(srcs, out, client=client)
    assert first.skipped == 0 and first.written == len(jobs.expand_sources(srcs))
    ref = jobs.read_index(out)
    parts = sorted(p for p in os.listdir(out) if p.startswith("part-"))
    victim = parts[1]
    os.remove(os.path.join(out, victim))
    stamps = {p: os.stat(os.path.join(out, p)).st_mtime_ns for p in parts if p != victim}
    again = jobs.index(srcs, out, client=client)
    assert again.written == 1 and again.skipped == len(parts) - 1
    assert {os.stat(os.path.join(out, p)).st_mtime_ns for p in stamps} == set(stamps.values())
    assert jobs.read_index(out).equals(ref)
    assert again.masks == first.masks and problem_set(again) == problem_set(first)
    # --features changes the columns: every part is redone; --overwrite redoes them anyway
    feat = jobs.index(srcs, out, client=client, features=True)
    assert feat.written == len(parts) and "centroid_x" in jobs.read_index(out).schema.names
    over = jobs.index(srcs, out, client=client, features=True, overwrite=True)
    assert over.written == len(parts) and over.skipped == 0


def test_cli_index_and_validate_against_the_cluster(client, ds, tmp_path, capsys):
    addr = client.scheduler.address
    out = str(tmp_path / "cli_idx")
    good = ds["sources"][:1]
    assert cli.main(["index", *good, "-o", out, "--scheduler", addr]) == 0
    assert "parts written: 3" in capsys.readouterr().out
    assert jobs.read_index(out).num_rows == 3 * 3 * 6
    assert cli.main(["validate", *good, "--scheduler", addr]) == 0
    rep = str(tmp_path / "report.parquet")
    assert cli.main(["validate", *ds["sources"], "--scheduler", addr, "--report", rep]) == 1
    text = capsys.readouterr().out
    assert "malformed entries: 4" in text and f"report: {rep}" in text
    t = pq.read_table(rep)
    assert t.schema.names == ["source", "image_id", "index", "reason"]
    assert problem_set(t) == ds["planted"]
    # a glob that matches nothing is a usage error, not an empty success
    assert cli.main(["index", str(tmp_path / "nothing*.tar"), "-o", out, "--scheduler", addr]) == 2


def _run_py(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT)


def test_file_validate_needs_no_dask():
    f = os.path.join(os.path.dirname(__file__), "data", COCO_FILES[1])
    p = _run_py("import sys\nfrom fastrle import cli\nrc = cli.main(['validate', %r])\n"
                "assert not {'dask', 'distributed', 'pyarrow'} & set(sys.modules), sys.modules.keys()\n"
                "sys.exit(rc)" % f)
    assert p.returncode == 0, p.stderr
    assert "masks checked: 734" in p.stdout


@pytest.mark.parametrize("argv", [["index", "X.tar", "-o", "OUT"], ["validate", "X.tar"],
                                  ["validate", "X.json", "--workers", "2"]])
def test_without_dask_the_commands_say_what_to_install(argv, tmp_path):
    # None in sys.modules makes `import distributed` raise ImportError, as when it is absent
    p = _run_py("import sys\nsys.modules['distributed'] = None\nfrom fastrle import cli\n"
                f"sys.exit(cli.main({argv!r}))")
    assert p.returncode == 2, p.stderr
    assert "pip install 'fastrle[dask]'" in p.stderr


def test_progress_line_only_when_asked(client, ds, capsys):
    jobs.validate(ds["sources"][:1], client=client, progress=True)
    err = capsys.readouterr().err
    assert "\rfastrle validate: 3/3 sources" in err and "masks/s" in err
    jobs.validate(ds["sources"][:1], client=client)  # stderr is not a terminal here
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("order", ["F", "C", "strided"])
def test_decode_comparison_sees_every_differing_pixel(order):
    from fastrle.jobs.tasks import masks_equal as _equal

    rng = np.random.default_rng(0)
    a = (rng.random((13, 7, 3)) < 0.5).astype(np.uint8)  # 273 bytes: an 8-byte body and a tail
    if order == "F":
        a = np.asfortranarray(a)
    elif order == "strided":
        a = np.asfortranarray(rng.random((13, 14, 3)) < 0.5).astype(np.uint8)[:, ::2]
    assert _equal(a, a.copy(order="K"))
    mem = "F" if a.flags.f_contiguous and not a.flags.c_contiguous else "C"
    for k in (0, 100, a.size - 1):  # in memory order: the 8-byte body and the tail
        b = a.copy(order="K")
        b[np.unravel_index(k, a.shape, order=mem)] ^= 1
        assert not _equal(a, b) and not _equal(b, a)
    assert not _equal(a, a[:, :, :2])
