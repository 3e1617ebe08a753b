"""Pins for fastrle.jobs where no outside oracle exists (issue 24): the summary
text line by line, source expansion and part names, the area/bbox check at its
tolerance, the fast mask comparison at its tail bytes, the index read back in
part order, the progress line, and a task that fails on the cluster. Every
expected value is written by hand (part names' hashes by hashlib); nothing is
taken from the code under test. Tasks run in this process; the one cluster
test uses an in-process LocalCluster (threads)."""
from __future__ import annotations

import hashlib
import io
import json
import os

import numpy as np
import pytest

from _jobs_data import write_tar

pytest.importorskip("distributed")
pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pm = pytest.importorskip("pycocotools.mask")

from fastrle import annotations as an  # noqa: E402
from fastrle import jobs  # noqa: E402
from fastrle.jobs import IndexSummary, Problem, SourceResult, ValidateSummary, api, tasks  # noqa: E402
from fastrle.jobs.sources import expand_sources, part_name, source_kind  # noqa: E402


def rle(m):
    r = pm.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"].decode()}


def write(path, obj):
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f)
    return str(path)


def sa1b(image_id, n=1, h=4, w=5):
    m = np.zeros((h, w), np.uint8)
    m[1:3, 1:4] = 1
    return {"image": {"image_id": image_id, "width": w, "height": h, "file_name": "x.jpg"},
            "annotations": [{"id": i, "segmentation": rle(m), "area": 6, "bbox": [1, 1, 2, 1],
                             "predicted_iou": 0.5, "stability_score": 0.5, "point_coords": [[1, 1]]}
                            for i in range(n)]}


# --- summaries ---------------------------------------------------------------------------


def test_index_summary_text_line_by_line():
    """Every number of the index summary in its place; source errors listed by
    source, the first three reasons, then '(+N more)'; masks/s with a thousands comma."""
    res = [SourceResult("/d/a.tar", "written", images=3, masks=10,
                        problems=[Problem("source", None, None, f"r{k}") for k in range(1, 6)]
                        + [Problem("malformed", 1, 0, "m")]),
           SourceResult("/d/b.json", "skipped", images=2, masks=12336),
           SourceResult("/d/c.json", "unreadable", problems=[Problem("source", None, None, "unreadable: x")])]
    s = IndexSummary(sources=3, images=5, masks=12346, seconds=2.0, workers=4, results=res, out="/o",
                     written=1, skipped=1, unreadable=1)
    assert s.text() == "\n".join([
        "index: /o",
        "sources: 3 (2 with errors), images: 5, workers: 4, 2.0 s (6,173 masks/s)",
        "parts written: 1, skipped (already done): 1, not indexed (unreadable or failed; retried next run): 1",
        "masks: 12346, malformed entries: 1, source errors: 6",
        "  /d/a.tar: r1; r2; r3 (+2 more)",
        "  /d/c.json: unreadable: x"])
    assert s.source_errors == {"/d/a.tar": ["r1", "r2", "r3", "r4", "r5"], "/d/c.json": ["unreadable: x"]}
    three = IndexSummary(results=[SourceResult("/e", "written", problems=[Problem("source", None, None, "q")] * 3)])
    assert three.text().splitlines()[-1] == "  /e: q; q; q"  # exactly three: no '(+0 more)'
    assert IndexSummary(out="/o").text().splitlines()[1] == \
        "sources: 0 (0 with errors), images: 0, in process (no Dask), 0.0 s (0 masks/s)"


def test_validate_summary_text_counts_and_listing():
    res = [SourceResult("/d/a.json", "checked", images=2, masks=7, polygons=3,
                        problems=[Problem("mismatch", 4, 1, "area: the file says 5"),
                                  Problem("malformed", None, 2, "bad"),
                                  Problem("mismatch", 4, None, "x")]),
           SourceResult("/d/sub/b.tar", "checked", images=1, masks=1, polygons=1,
                        problems=[Problem("source", None, None, "b.tar: truncated")])]
    s = ValidateSummary.of(res, 0.25, 0)
    assert (s.sources, s.images, s.masks, s.polygons, s.mismatches, s.malformed, s.ok) == \
        (2, 3, 8, 4, 2, 1, False)
    assert s.text(listed=3) == "\n".join([
        "validate",
        "sources: 2 (1 with errors), images: 3, in process (no Dask), 0.2 s (32 masks/s)",
        "masks checked: 8, polygons skipped: 4",
        "mismatches: 2, malformed entries: 1, source errors: 1",
        "  a.json image 4 annotation 1: mismatch: area: the file says 5",
        "  a.json image None annotation 2: malformed: bad",
        "  a.json image 4 annotation None: mismatch: x",
        "  ... and 1 more (see --report)"])
    assert s.text().splitlines()[-1] == "  b.tar: source: b.tar: truncated"  # 4 <= 20: all listed
    assert s.text(listed=4).splitlines()[-1] == "  b.tar: source: b.tar: truncated"  # 4 <= 4: all listed
    assert ValidateSummary.of([SourceResult("/a", "checked", masks=3)], 0.0, 2).ok
    empty = ValidateSummary.of([], 0.0, 0)
    assert empty.report_table().schema.names == ["source", "image_id", "index", "reason"]
    assert empty.report_table().num_rows == 0


# --- sources and part names ------------------------------------------------------------------


def test_part_names_by_hand(tmp_path, monkeypatch):
    def h(p):
        return hashlib.sha1(p.encode()).hexdigest()[:12]

    assert part_name("/x/y/My File (1).json") == f"part-My_File_1_.json-{h('/x/y/My File (1).json')}.parquet"
    assert part_name("/x/.hidden.tar") == f"part-hidden.tar-{h('/x/.hidden.tar')}.parquet"
    assert part_name("/x/%%%") == f"part-source-{h('/x/%%%')}.parquet"
    long = "a" * 100 + ".json"
    assert part_name("/x/" + long) == f"part-{'a' * 80}-{h('/x/' + long)}.parquet"
    monkeypatch.chdir(tmp_path)
    assert part_name("rel.json") == part_name(str(tmp_path / "rel.json"))


def test_expand_sources_directories_globs_and_plain_paths(tmp_path, monkeypatch):
    d = tmp_path / "d"
    d.mkdir()
    for n in ("b.JSON", "a.tar.gz", "c.TGZ", "e.tar.bz2", "f.tar.xz", "g.tar", "notes.txt", "x.tar.zst"):
        (d / n).write_bytes(b"")
    (d / "sub.tar").mkdir()
    want = [str(d / n) for n in ("a.tar.gz", "b.JSON", "c.TGZ", "e.tar.bz2", "f.tar.xz", "g.tar")]
    assert expand_sources([str(d)]) == want
    monkeypatch.chdir(tmp_path)
    # relative paths become absolute; a missing plain path is kept; repeats go, order stays
    assert expand_sources(["nope.json", "d/g.tar", "d/*.tar", str(d)]) == \
        [str(tmp_path / "nope.json"), str(d / "g.tar")] + [p for p in want if not p.endswith("g.tar")]
    assert expand_sources(["d/[ab]*"]) == [str(d / "a.tar.gz"), str(d / "b.JSON")]
    g = tmp_path / "g"
    g.mkdir()
    names = ["k3", "k0", "k7", "k1", "k5", "k2", "k6", "k4"]  # created out of order
    for n in names:
        (g / f"{n}.json").write_text("{}")
    assert expand_sources(["g/k*.json"]) == [str(g / f"k{i}.json") for i in range(8)]
    (tmp_path / "e").mkdir()
    with pytest.raises(ValueError, match=r"e: directory holds no \.json files or tar shards$"):
        expand_sources(["e"])
    with pytest.raises(ValueError, match=r"d/\*\.png: matches no file$"):
        expand_sources(["d/*.png"])
    lit = tmp_path / "a[1].json"
    lit.write_text("{}")
    assert expand_sources([str(lit)]) == [str(lit)]  # an existing name with glob characters is a file
    assert [source_kind(p) for p in ("a.TAR.GZ", "a.tgz", "a.json", "a.tar.zst", "a.gz")] == \
        ["shard", "shard", "json", "json", "json"]


# --- the area / bbox check ---------------------------------------------------------------------


def test_check_fields_rules_and_tolerance():
    tb = np.array([[1.0, 2.0, 5.0, 2.0]])  # toBbox of a 2x5 box at (x=1, y=2): area 10
    cf = tasks.check_fields
    assert cf(an.COCO, {"area": 10, "bbox": [1, 2, 5, 2]}, 10, tb) == []
    assert cf(an.COCO, {"area": 10.0, "bbox": [1, 2, 5 + 0.9e-6, 2 - 0.9e-6]}, 10, tb) == []
    assert cf(an.COCO, {"bbox": [1, 2, 5 + 1.1e-6, 2]}, 10, tb) == \
        [("mismatch", f"bbox: the file says [1, 2, {5 + 1.1e-6}, 2], the mask gives [1.0, 2.0, 5.0, 2.0] (toBbox)")]
    assert cf(an.COCO_RESULTS, {"bbox": [1, 2, 4, 1]}, 10, tb) == \
        [("mismatch", "bbox: the file says [1, 2, 4, 1], the mask gives [1.0, 2.0, 5.0, 2.0] (toBbox)")]
    assert cf(an.SA1B, {"bbox": [1, 2, 4, 1]}, 10, tb) == []  # SA-1B: [x0, y0, x1 - x0, y1 - y0]
    assert cf(an.SA1B, {"bbox": [1, 2, 5, 2]}, 10, tb) == \
        [("mismatch", "bbox: the file says [1, 2, 5, 2], the mask gives [1.0, 2.0, 4.0, 1.0] "
                      "(SA-1B's [x0, y0, x1 - x0, y1 - y0])")]
    assert cf(an.SA1B, {"bbox": [0, 0, 0, 0], "area": 0}, 0, np.zeros((1, 4))) == []  # empty mask
    assert cf(an.COCO, {"area": 11, "bbox": "b"}, 10, tb) == [
        ("mismatch", "area: the file says 11, the mask has 10 pixels"),
        ("malformed", "field 'bbox' must be [x, y, w, h] finite numbers, got 'b'")]
    assert cf(an.COCO, {"area": "10"}, 10, tb) == [("malformed", "field 'area' must be a number, got '10'")]
    # crowd regions of a COCO dataset are not checked; elsewhere iscrowd changes nothing
    assert cf(an.COCO, {"iscrowd": 1, "area": 3, "bbox": [0, 0, 1, 1]}, 10, tb) == []
    assert [k for k, _ in cf(an.COCO, {"iscrowd": 0, "area": 3}, 10, tb)] == ["mismatch"]
    assert [k for k, _ in cf(an.SA1B, {"iscrowd": 1, "area": 3}, 10, tb)] == ["mismatch"]


@pytest.mark.parametrize("n", [1, 8, 13, 24, 31])
def test_masks_equal_sees_every_byte(n):
    """Differences in the 8-byte body and in the tail, shapes, dtypes and mixed layouts."""
    a = np.zeros((n, 3), np.uint8, order="F")
    assert tasks.masks_equal(a, a.copy(order="F")) and tasks.masks_equal(a, np.ascontiguousarray(a))
    for pos in {0, a.size // 2, a.size - 1}:
        b = a.copy(order="F")
        b.T.reshape(-1)[pos] = 1  # F order: flat position pos of the memory
        assert not tasks.masks_equal(a, b), pos
        assert not tasks.masks_equal(np.ascontiguousarray(a), np.ascontiguousarray(b)), pos
        assert not tasks.masks_equal(a, np.ascontiguousarray(b)), pos
    assert not tasks.masks_equal(a, a.reshape(3, n, order="F")) or n == 3
    assert not tasks.masks_equal(a, a.astype(bool))


# --- tasks, read back ----------------------------------------------------------------------------


def test_index_read_back_in_part_order_with_features_promoted(tmp_path):
    """read_index: parts in name order (not write order), other files ignored,
    feature columns null for parts without them; a skipped source reports the
    rows and problems its first run wrote."""
    out = str(tmp_path / "o")
    src = {k: write(tmp_path / f"{k}.json", sa1b(i, n)) for k, i, n in (("z", 1, 1), ("a", 2, 2), ("m", 3, 1))}
    by_name = sorted(src, key=lambda k: part_name(src[k]))
    bad = sa1b(4)
    bad["annotations"][0]["area"] = "six"
    src["m"] = write(tmp_path / "m.json", bad)
    for k in ("z", "m"):
        assert tasks.index_source(src[k], out).status == "written"
    assert tasks.index_source(src["a"], out, features=True).status == "written"
    with open(os.path.join(out, "notes.parquet"), "wb") as f:
        f.write(b"not parquet")
    t = jobs.read_index(out)
    want_ids = {"z": [1], "a": [2, 2], "m": [4]}
    assert t.column("image_id").to_pylist() == [i for k in by_name for i in want_ids[k]]
    cx = dict(zip(t.column("image_id").to_pylist(), t.column("centroid_x").to_pylist()))
    assert cx[2] == 2.0 and cx[1] is None and cx[4] is None  # columns 1..3: mean x 2.0
    again = tasks.index_source(src["m"], out)
    assert (again.status, again.masks, again.problems) == \
        ("skipped", 1, [Problem("malformed", 4, 0, "field 'area' must be a number, got 'six'")])
    e = jobs.read_errors(out).to_pylist()
    assert e == [{"source": src["m"], "image_id": 4, "index": 0,
                  "reason": "malformed: field 'area' must be a number, got 'six'"}]
    # a reason with ': ' inside comes back whole from the errors file
    q = sa1b(5)
    q["annotations"][0]["segmentation"]["counts"] = "0"  # sums to 0, not 20: an invalid RLE
    first = tasks.index_source(write(tmp_path / "q.json", q), out, features=True)
    assert [p.reason.split(": ")[0] for p in first.problems] == ["invalid RLE"]
    assert tasks.index_source(str(tmp_path / "q.json"), out, features=True).problems == first.problems
    assert jobs.read_index(str(tmp_path / "none")).num_rows == 0
    assert jobs.read_index(str(tmp_path / "none")).schema.names[:3] == ["source", "image_id", "file_name"]
    assert jobs.read_errors(str(tmp_path / "none")).num_rows == 0


def test_progress_line(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    p = api._Progress("index", 2, enabled=True)
    p.update(SourceResult("a", "written", masks=1234, problems=[Problem("source", None, None, "x")] * 3))
    p.update(SourceResult("b", "written", masks=1))
    p.close()
    text = err.getvalue()
    assert text.startswith("\rfastrle index: 1/2 sources, 1,234 masks, ") and text.endswith("3 problems \n")
    assert "\rfastrle index: 2/2 sources, 1,235 masks, " in text and text.count("\r") == 2
    err.truncate(0)
    err.seek(0)
    q = api._Progress("index", 1, enabled=False)
    q.update(SourceResult("a", "written"))
    q.close()
    assert err.getvalue() == ""


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as c, \
            Client(c) as cl:
        yield cl


def _written(source, **kw):
    return SourceResult(source, "written", masks=len(source))


def _boom(source, **kw):
    if source.endswith("bad"):
        raise KeyError("no such thing")
    return SourceResult(source, "written", images=1, masks=2)


def test_a_failing_task_is_a_failed_source_and_counted(client, tmp_path, monkeypatch):
    """An unexpected error in a task: status 'failed', one 'source' problem
    'task failed: <type>: <message>', counted as not indexed; the job goes on.
    Leftover temporary files of killed writers are removed from OUT and _errors."""
    res, _, nw = api.map_sources(_boom, ["/s/ok", "/s/bad"], {}, what="t", client=client, progress=False)
    assert nw == 1
    import distributed

    with monkeypatch.context() as m:  # as_completed hands back the second task first: a fixed order, no race
        m.setattr(distributed, "as_completed", lambda futs, *a, **k: list(futs)[::-1])
        order, _, _ = api.map_sources(_written, ["/s/first", "/s/second"], {}, what="t", client=client,
                                      progress=False)
    assert [r.source for r in order] == ["/s/first", "/s/second"]  # in the order of the sources
    assert [(r.source, r.status) for r in res] == [("/s/ok", "written"), ("/s/bad", "failed")]
    assert res[1].problems == [Problem("source", None, None, "task failed: KeyError: 'no such thing'")]
    monkeypatch.setattr(api, "index_source", _boom)
    out = tmp_path / "o"
    (out / "_errors").mkdir(parents=True)
    for d in (out, out / "_errors"):
        (d / ".part-x.parquet.1234.part").write_bytes(b"half")
        (d / "keep.part").write_bytes(b"not a temp name")
    s = jobs.index([str(tmp_path / "ok"), str(tmp_path / "bad")], str(out), client=client)
    assert (s.sources, s.written, s.skipped, s.unreadable, s.images, s.masks) == (2, 1, 0, 1, 1, 2)
    assert sorted(os.listdir(out)) == ["_errors", "keep.part"]
    assert os.listdir(out / "_errors") == ["keep.part"]
    monkeypatch.chdir(tmp_path)
    s = jobs.index(["ok", "bad"], "rel", client=client)
    assert s.out == str(tmp_path / "rel") and os.path.isdir(tmp_path / "rel" / "_errors") and s.workers == 1
    assert s.text().splitlines()[-1] == f"  {tmp_path / 'bad'}: task failed: KeyError: 'no such thing'"
    monkeypatch.setattr(api, "validate_source", _boom)
    v = jobs.validate(["ok", "bad", "ok"], client=client)  # a source named twice is checked once
    assert (v.sources, v.images, v.masks, v.workers, v.ok) == (2, 1, 2, 1, False)
    assert [r.source for r in v.results] == [str(tmp_path / "ok"), str(tmp_path / "bad")]


# --- the decode comparison's verdicts, with decoders that disagree on purpose ------------------------------


class Lib:
    """A stand-in for fastrle.mask or pycocotools.mask: pycocotools' functions,
    except those given."""

    def __init__(self, **over):
        self.__dict__.update(over)

    def __getattr__(self, name):
        return getattr(pm, name)


def _results_file(tmp_path, segs):
    return write(tmp_path / "r.json", [{"image_id": 1, "category_id": 1, "segmentation": s} for s in segs])


def _verdicts(r):
    return [(p.kind, p.index, p.reason) for p in r.problems]


def test_validate_verdicts_of_each_kind_of_disagreement(tmp_path):
    good = rle(np.eye(4, 5, dtype=np.uint8))
    src = _results_file(tmp_path, [good])
    boom = ValueError("boom")

    def raises(*a, **k):
        raise boom

    r = tasks.validate_source(src, pm=Lib(decode=raises))
    assert _verdicts(r) == [("mismatch", 0, "pycocotools raised ValueError: boom; fastrle decoded it")]
    r = tasks.validate_source(src, fm=Lib(decode=raises))
    assert _verdicts(r) == [("mismatch", 0, "fastrle raised ValueError: boom; pycocotools decoded it "
                                            "(it does not reject every invalid RLE)")]
    r = tasks.validate_source(src, pm=Lib(decode=lambda rs: pm.decode(rs)[:3]))
    assert _verdicts(r) == [("mismatch", 0, "decoded masks differ in shape (4, 5, 1) vs (3, 5, 1)")]
    r = tasks.validate_source(src, pm=Lib(decode=lambda rs: pm.decode(rs).astype(bool)))
    assert _verdicts(r) == [("mismatch", 0, "decoded masks differ in 0 pixels")]  # the dtype differs
    r = tasks.validate_source(src, fm=Lib(decode=raises), pm=Lib(decode=raises))
    assert _verdicts(r) == [("malformed", None, "1 RLEs rejected by both decoders")]
    assert (r.status, r.masks, r.images) == ("checked", 1, 1)


def test_validate_uncompressed_rles(tmp_path):
    m = np.zeros((3, 4), np.uint8)
    m[1:, 2] = 1
    unc = {"size": [3, 4], "counts": [7, 2, 3]}  # column-major runs of m, by hand
    assert np.array_equal(pm.decode(pm.frPyObjects(unc, 3, 4)), m)
    src = _results_file(tmp_path, [unc, {"size": [3, 4], "counts": [7, 2, 3]}])
    assert _verdicts(tasks.validate_source(src)) == []

    def other(seg, h, w):
        return pm.frPyObjects({"size": [3, 4], "counts": [12]}, h, w)

    # each: the conversions differ, then their decodes (an empty mask against m's 2 pixels)
    assert _verdicts(tasks.validate_source(src, fm=Lib(frPyObjects=other))) == \
        [("mismatch", 0, "frPyObjects gives different compressed counts"),
         ("mismatch", 1, "frPyObjects gives different compressed counts"),
         ("mismatch", 0, "decoded masks differ in 2 pixels"), ("mismatch", 1, "decoded masks differ in 2 pixels")]

    def raises(*a, **k):
        raise TypeError("nope")

    assert _verdicts(tasks.validate_source(src, pm=Lib(frPyObjects=raises)))[0] == \
        ("mismatch", 0, "frPyObjects: only pycocotools raised TypeError: nope")
    assert _verdicts(tasks.validate_source(src, fm=Lib(frPyObjects=raises)))[0] == \
        ("mismatch", 0, "frPyObjects: only fastrle raised TypeError: nope")
    r = tasks.validate_source(src, fm=Lib(frPyObjects=raises), pm=Lib(frPyObjects=raises))
    assert _verdicts(r) == [("malformed", 0, "invalid uncompressed RLE: nope"),
                            ("malformed", 1, "invalid uncompressed RLE: nope")]
    assert r.masks == 2  # counted as checked masks, reported once each, no 'rejected by both' line


def test_index_counts_of_every_segmentation_kind(tmp_path):
    """Index rows keep compressed counts as text: str as is, bytes decoded,
    uncompressed and polygons compressed (pycocotools' counts)."""
    m = np.zeros((3, 4), np.uint8)
    m[1:, 2] = 1
    want = pm.encode(np.asfortranarray(m))["counts"].decode()
    poly = [[0.0, 0.0, 3.0, 0.0, 3.0, 2.0]]
    want_poly = pm.merge(pm.frPyObjects(poly, 3, 4))["counts"].decode()
    doc = {"images": [{"id": 1, "height": 3, "width": 4}],
           "annotations": [{"id": 1, "image_id": 1, "segmentation": {"size": [3, 4], "counts": want}},
                           {"id": 2, "image_id": 1, "segmentation": {"size": [3, 4], "counts": [7, 2, 3]}},
                           {"id": 3, "image_id": 1, "segmentation": poly},
                           {"id": 4, "image_id": 1, "segmentation": {"size": [3, 4], "counts": [1, "x"]}},
                           {"id": 5, "image_id": 1, "segmentation": {"size": [3, -4], "counts": want}},
                           {"id": 6, "image_id": 1, "segmentation": {"size": [3, 4], "counts": 5}}]}
    out = str(tmp_path / "o")
    r = tasks.index_source(write(tmp_path / "c.json", doc), out)
    rows = jobs.read_index(out).to_pylist()
    assert [x["counts"] for x in rows] == [want, want, want_poly, None, None, None]
    assert [(x["height"], x["width"]) for x in rows] == [(3, 4)] * 4 + [(None, None), (3, 4)]
    assert [(p.index, p.reason.split(":")[0]) for p in r.problems] == [
        (3, "uncompressed RLE"), (4, "segmentation.size must be [h, w] non-negative integers with h*w <= 2^32-1, "
                                    "got [3, -4]"),
        (5, "segmentation.counts must be a string or a list of ints, got 5")]


def test_annotation_records_and_field_types():
    """fastrle.annotations, the reader every job and command uses: records of
    each layout, and the field-type rules, by hand."""
    doc = an.document({"images": [{"id": 1, "height": 3, "width": 4}, {"id": "s", "height": 5, "width": 6},
                                  {"id": 2, "height": 3.0, "width": True}],
                       "annotations": [{"image_id": 1, "segmentation": [1]}, 7, {"image_id": "s"},
                                       {"image_id": 2, "area": 5, "bbox": [1, 2, 3, 4]}, {"image_id": 9}]})
    recs = list(an.records(doc))
    assert [(r.index, r.image_id, r.height, r.width) for r in recs] == \
        [(0, 1, 3, 4), (1, None, None, None), (2, "s", None, None), (3, 2, None, None), (4, 9, None, None)]
    assert recs[0].segmentation == [1] and recs[3].area == 5 and recs[3].bbox == [1, 2, 3, 4] and recs[1].ann == 7
    assert recs[0].image == {"id": 1, "height": 3, "width": 4} and recs[4].image is None
    sa = an.document({"image": {"image_id": 4, "width": 2, "height": 1}, "annotations": ["x", {"area": 1}]})
    assert [(r.layout, r.image_id, r.height, r.width) for r in an.records(sa)] == \
        [("sa1b", 4, None, None), ("sa1b", 4, 1, 2)]  # a non-object still names its image
    res = an.document([{"image_id": 3}])
    assert res.layout == "coco-results" and [r.image_id for r in an.records(res)] == [3]
    assert [an.is_int(v) for v in (1, np.int8(1), True, np.bool_(True), 1.0)] == [True, True, False, False, False]
    assert [an.is_number(v) for v in (1, 1.5, np.float32(1), True, "1", None)] == [True, True, True, False, False,
                                                                                   False]
    assert [an.is_box(v) for v in ([0, 0, 1, 1], (0, 0, 1.5, 1), [0, 0, 1], [0, 0, 1, float("nan")],
                                   [0, 0, 1, float("inf")], [0, 0, 1, True], np.zeros(4))] == \
        [True, True, False, False, False, False, False]
    assert an.show("a" * 10) == repr("a" * 10) and an.show("a" * 100) == repr("a" * 100)[:57] + "..."
    assert an.show("a" * 58) == repr("a" * 58) and an.show("a" * 59) == repr("a" * 59)[:57] + "..."  # 60 / 61 chars
    assert len(an.show(list(range(100)))) == 60
    assert [an.segmentation_kind(s) for s in ([], [[1.0]], {"counts": []}, {"counts": "a"}, {"counts": b"a"},
                                              {"counts": 5}, {}, None, "a")] == \
        ["polygon", "polygon", "uncompressed", "compressed", "compressed", None, None, None, None]


def test_read_source_problems_cost_one_member(tmp_path):
    """A shard: an invalid JSON member, a member of no known layout and a bad
    SA-1B image block each cost only themselves; the problems name the member."""
    from fastrle.jobs.sources import read_source

    good = json.dumps(sa1b(1, n=2)).encode()
    bad_img = json.dumps({"image": {"image_id": -1, "width": 5, "height": 4}, "annotations": []}).encode()
    path = write_tar(tmp_path / "s.tar", [("a.json", b"{nope"), ("b.json", good), ("c.json", b'{"x": 1}'),
                                          ("d.json", bad_img), ("e.jpg", b"jpeg"), ("f.json", good)])
    problems = []
    blocks = list(read_source(path, problems))
    assert [b.image["image_id"] for b in blocks] == [1, 1]
    assert [p.reason.split(": ")[:2] for p in problems] == [
        ["a.json", "invalid JSON"], ["c.json", "not a COCO annotation/results file or SA-1B image file"],
        ["d.json", "sa1b"]]
    assert all(p.kind == "source" and p.image_id is None and p.index is None for p in problems)
    r = tasks.index_source(path, str(tmp_path / "o"))
    assert (r.status, r.images, r.masks, len(r.problems)) == ("written", 2, 4, 3)
    one = write(tmp_path / "j.json", {"x": 1})
    problems = []
    assert list(read_source(one, problems)) == [] and \
        problems == [Problem("source", None, None, "j.json: not a COCO annotation/results file or SA-1B image file")]
    with pytest.raises(OSError):
        list(read_source(str(tmp_path / "missing.tar"), []))
