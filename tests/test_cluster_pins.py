"""Pins for fastrle.jobs.api.cluster / map_sources and ``fastrle polygons
--workers``: results in source order whatever order the tasks finish in,
the number of workers asked for, and the options that reach the tasks. The
cluster is Dask's LocalCluster run in this process (threads: quick to start),
its n_workers recorded; expected rings written by hand."""
from __future__ import annotations

import json
import os
import sys

import pytest

pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

sys.path.insert(0, os.path.dirname(__file__))
from test_cli_polygons_pins import block, polygons, sa1b

from fastrle.jobs import api
from fastrle.jobs.tasks import SourceResult


def _checked(path: str) -> SourceResult:
    return SourceResult(path, "checked", masks=1)


@pytest.fixture
def last_done_first(monkeypatch):
    """map_sources collects its tasks through distributed.as_completed: make
    it hand them back last source first, so results in completion order
    would come out reversed. The order is fixed, not left to sleeps racing
    on a loaded machine."""
    import distributed

    def backwards(futs, *a, **k):
        return list(futs)[::-1]

    monkeypatch.setattr(distributed, "as_completed", backwards)


@pytest.fixture
def workers_asked(monkeypatch):
    """LocalCluster in this process; the n_workers of each start."""
    import distributed

    real = distributed.LocalCluster
    seen = []

    def local(*a, **k):
        seen.append(k.get("n_workers"))
        k["processes"] = False
        return real(*a, **k)

    monkeypatch.setattr(distributed, "LocalCluster", local)
    return seen


def test_map_sources_in_source_order_on_the_workers_asked(workers_asked, last_done_first):
    items = ["s0", "s1", "s2"]
    res, _, nworkers = api.map_sources(_checked, items, {}, what="pins", workers=3, progress=False)
    assert [r.source for r in res] == items
    assert [r.status for r in res] == ["checked"] * 3
    assert nworkers == 3 and workers_asked == [3]


def test_polygons_workers_runs_on_a_cluster_with_min_area(workers_asked, tmp_path, monkeypatch):
    m = block(6, 7, 0, 2, 0, 2)  # a 2 x 2 square (area 4) ...
    m[4, 5] = 1  # ... and a lone pixel (area 1)
    a = sa1b(tmp_path / "a.json", 1, "a.jpg", [m])
    b = sa1b(tmp_path / "b.json", 2, "b.jpg", [block(6, 7, 3, 6, 3, 6)])
    square = [-0.5, -0.5, -0.5, 1.5, 1.5, 1.5, 1.5, -0.5]
    pixel = [4.5, 3.5, 4.5, 4.5, 5.5, 4.5, 5.5, 3.5]
    big = [2.5, 2.5, 2.5, 5.5, 5.5, 5.5, 5.5, 2.5]
    local = tmp_path / "local.json"
    assert polygons(a, b, "-o", local) == 0
    segs = [an["segmentation"] for an in json.loads(local.read_text())["annotations"]]
    assert sorted(segs[0]) == sorted([square, pixel]) and segs[1] == [big]
    calls = []
    real = api.map_sources

    def counted(*args, **kw):
        calls.append(kw.get("workers"))
        return real(*args, **kw)

    monkeypatch.setattr(api, "map_sources", counted)
    out = tmp_path / "out.json"
    assert polygons(a, b, "-o", out, "--min-area", "2", "--workers", "2") == 0
    assert calls == [2] and workers_asked == [2]
    got = json.loads(out.read_text())
    assert [an["segmentation"] for an in got["annotations"]] == [[square], [big]]  # the pixel's ring dropped
    assert [im["file_name"] for im in got["images"]] == ["a.jpg", "b.jpg"]
