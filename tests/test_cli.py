"""The ``fastrle`` command: bench (quick) and validate."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastrle import bench, cli, synthetic
from fastrle.bench import harness

pm = pytest.importorskip("pycocotools.mask")


# --- bench ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quick_json():
    """One quick run of every case, shared by the checks below (a few seconds)."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = cli.main(["bench", "--quick", "--json", "--no-progress"])
    return rc, out.getvalue()


def test_bench_quick_json_is_valid(quick_json):
    rc, text = quick_json
    assert rc == 0
    data = json.loads(text)
    assert set(data) == {"environment", "config", "cases", "worst_family"}
    assert data["config"]["quick"] is True and data["config"]["repeats"] >= 5
    # the default mode runs every case registered for "all" (groups such as
    # "transforms" run with --mode or --case)
    assert [c["case"] for c in data["cases"]] == [n for n, c in bench.CASES.items() if "all" in c.modes]
    for c in data["cases"]:
        assert set(c) >= {"case", "id", "title", "timings", "ratios", "notes", "verified"}
        assert c["timings"], c["case"]
        for t in c["timings"]:
            assert t["median_ms"] > 0 and t["min_ms"] <= t["median_ms"]
            assert t["repeats"] == data["config"]["repeats"]
        for r in c["ratios"]:
            assert r["status"] in {"PASS", "FAIL", "SKIP", "INFO"}
        # fastrle's output is checked against pycocotools in every case.
        assert c["verified"] is True, c["case"]


def test_bench_compares_against_peers(quick_json):
    data = json.loads(quick_json[1])
    keys = {c["case"]: {t["key"] for t in c["timings"]} for c in data["cases"]}
    assert {"fastrle", "memset", "pycocotools"} <= keys["warm"]
    assert {"fastrle-zeroed", "fastrle-full"} <= keys["zeroed"]
    assert {"fastrle-1t", "fastrle-2t", "memset-1t", "memset-2t"} <= keys["threads"]
    assert {"fastrle", "fastrle.mask", "pycocotools"} <= keys["coco"]


def test_bench_table_and_case_filter(capsys):
    assert cli.main(["bench", "--quick", "--no-progress", "--case", "a", "iou"]) == 0
    out = capsys.readouterr().out
    assert "a. warm" in out and "f. iou" in out and "b. zeroed" not in out
    assert "target <= 1.5" in out and "targets:" in out


def test_bench_families_and_worst(capsys):
    assert cli.main(["bench", "--quick", "--json", "--no-progress", "--case", "a", "e",
                     "--family", "stars", "noise"]) == 0
    data = json.loads(capsys.readouterr().out)
    # warm reads the SA-1B-size masks: once per family; coco does not: once
    assert [(c["case"], c["family"]) for c in data["cases"]] == [
        ("warm", "stars"), ("coco", ""), ("warm", "noise")]
    assert all(c["verified"] is True for c in data["cases"])
    warm = [c for c in data["cases"] if c["case"] == "warm"]
    for w in data["worst_family"]:
        rows = {c["family"]: r for c in warm for r in c["ratios"] if r["label"] == w["label"]}
        assert w["families"] == 2 and set(rows) == {"stars", "noise"}
        # only the families where the ratio is a target compete (fastrle / memset is one for
        # stars, information for noise); (<=): the highest is the worst, (>=): the lowest
        judged = {f: r["value"] for f, r in rows.items() if r["op"]} or {f: r["value"] for f, r in rows.items()}
        want = max(judged.values()) if w["op"] == "<=" else min(judged.values())
        assert w["value"] == want and w["family"] in judged and judged[w["family"]] == want


def test_worst_by_family_by_hand():
    def res(fam, v1, v2):
        return bench.CaseResult("warm", "a", "t", family=fam, ratios=[
            bench.Ratio("lo-is-bad", v1, ">=", 1.0, "PASS"), bench.Ratio("hi-is-bad", v2, "<=", 1.5, "PASS")])
    coco = bench.CaseResult("coco", "e", "t", ratios=[bench.Ratio("x", 0.1, ">=", 1, "FAIL")])
    rows = harness.worst_by_family([res("blobs", 3.0, 1.2), res("stars", 2.0, 1.7), res("rings", 2.5, 1.1), coco])
    assert [(c, x.label, x.value, f, n) for c, x, f, n in rows] == [
        ("warm", "lo-is-bad", 2.0, "stars", 3), ("warm", "hi-is-bad", 1.7, "stars", 3)]
    assert "worst shape family per target" in harness.format_worst([res("blobs", 3.0, 1.2), res("stars", 2.0, 1.7)])
    assert harness.format_worst([res("blobs", 3.0, 1.2)]) == ""  # one family: nothing to pick


def test_bench_mode_selects_cases():
    assert bench.select_cases(bench.BenchConfig(mode="warm"))[:3] == ["warm", "zeroed", "threads"]
    assert "warm" not in bench.select_cases(bench.BenchConfig(mode="fresh"))
    assert bench.select_cases(bench.BenchConfig(cases=["f"])) == ["dropin", "encode", "iou"]
    with pytest.raises(ValueError):
        bench.select_cases(bench.BenchConfig(cases=["nope"]))


def test_bench_plot(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "b.png"
    assert cli.main(["bench", "--quick", "--no-progress", "--case", "e", "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_time_interleaved_order_and_setup():
    log = []
    comps = [bench.Comparator("a", "a", lambda: log.append("a"), lambda: log.append("sa")),
             bench.Comparator("b", "b", lambda: log.append("b"), lambda: log.append("sb"))]
    res = bench.time_interleaved(comps, repeats=5)
    assert len(res["a"][0]) == 5 and res["a"][1] == 1
    # After 2 warm-up calls each: round-robin, setup right before every call.
    assert log[8:] == ["sa", "a", "sb", "b"] * 5


def test_ratio_status():
    med = {"x": 2.0, "y": 1.0}
    assert harness._ratio(("", "x", "y", ">=", 1.5), med).status == "PASS"
    assert harness._ratio(("", "x", "y", "<=", 1.5), med).status == "FAIL"
    assert harness._ratio(("", "x", "y", "", None), med).status == "INFO"
    assert harness._ratio(("", "x", "missing", ">=", 1), med).status == "SKIP"
    assert harness._ratio(("", "x", "y", ">=", 1), med).value == 2.0


def test_case_min_repeats(monkeypatch):
    """A case's min_repeats raises the rounds, except under --quick."""
    seen = []

    def builder(d, stack):
        return [bench.Comparator("a", "a", lambda: None)], [], [], None

    monkeypatch.setitem(harness.CASES, "_probe", harness.CaseDef("z", "probe", builder, (), 9))
    for cfg, want in ((harness.BenchConfig(repeats=3), 9), (harness.BenchConfig(repeats=12), 12),
                      (harness.BenchConfig.quick_config(repeats=3), 3)):
        res = harness.run_case("_probe", harness.BenchData(cfg))
        seen.append(res.timings[0].repeats)
        assert res.timings[0].repeats == want, seen
    assert harness.CASES["cocoeval"].min_repeats == 15


def test_python_dash_m_help():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    r = subprocess.run([sys.executable, "-m", "fastrle", "bench", "--help"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--quick" in r.stdout


def test_bad_size_is_usage_error():
    with pytest.raises(SystemExit) as e:
        cli.main(["bench", "--size", "12by3"])
    assert e.value.code == 2


# --- validate -----------------------------------------------------------------------


def _coco_file(path, n=6, h=60, w=80, seed=0):
    """COCO annotation file with compressed, uncompressed and polygon segmentations."""
    rles, dense = synthetic.coco_like(n, h, w, seed=seed, dense=True)
    anns = [{"id": i, "image_id": 1, "segmentation": r} for i, r in enumerate(rles)]
    # Uncompressed (iscrowd-style) RLE of the first mask: list counts.
    m = np.asfortranarray(dense[0].astype(np.uint8))
    flat = m.ravel(order="F")
    change = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate(([0], change, [flat.size]))
    counts = np.diff(edges).tolist()
    if flat[0]:
        counts = [0] + counts
    anns.append({"id": 100, "image_id": 1, "iscrowd": 1,
                 "segmentation": {"size": [h, w], "counts": counts}})
    anns.append({"id": 101, "image_id": 1, "segmentation": [[1, 1, 20, 1, 20, 20, 1, 20]]})
    doc = {"images": [{"id": 1, "height": h, "width": w}], "annotations": anns,
           "categories": [{"id": 1, "name": "thing"}]}
    path.write_text(json.dumps(doc))
    return path


def test_validate_good_files(tmp_path, capsys):
    coco = _coco_file(tmp_path / "coco.json")
    rles = synthetic.sa1b_like(5, 90, 120, seed=1)
    sa1b = tmp_path / "sa_1.json"
    sa1b.write_text(json.dumps({"image": {"image_id": 1, "height": 90, "width": 120},
                                "annotations": [{"id": i, "segmentation": r}
                                                for i, r in enumerate(rles)]}))
    results = tmp_path / "results.json"
    results.write_text(json.dumps([{"image_id": 1, "score": 0.5, "segmentation": r} for r in rles]))
    assert cli.main(["validate", str(coco), str(sa1b), str(results)]) == 0
    out = capsys.readouterr().out
    assert "sources: 3 (0 with errors)" in out and "in process (no Dask)" in out
    assert "masks checked: 17, polygons skipped: 1" in out
    assert "mismatches: 0, malformed entries: 0, source errors: 0" in out


def test_validate_detects_mismatch(tmp_path, monkeypatch, capsys):
    import fastrle.mask as fm

    coco = _coco_file(tmp_path / "coco.json")
    real = fm.decode

    def flipped(rles):  # a wrong decoder: one pixel off
        out = np.array(real(rles), order="F")
        out.flat[7] ^= 1
        return out

    monkeypatch.setattr(fm, "decode", flipped)
    assert cli.main(["validate", str(coco)]) == 1
    out = capsys.readouterr().out
    assert "decoded masks differ in 1 pixels" in out and "image 1 annotation 0: mismatch" in out


def test_validate_flags_truncated_counts(tmp_path, capsys):
    # Dropping the last run makes the counts sum to less than h*w. pycocotools
    # decodes that into uninitialised memory without complaint; fastrle must
    # reject it, and validate must report it as malformed (exit 1), never hand it
    # to pycocotools.
    rles = synthetic.coco_like(6, 40, 50, seed=2)
    # Drop the whole last varint (chars after the previous terminator, one
    # without the 0x20 "more" bit), so the string stays well-formed.
    i = 3
    c = rles[i]["counts"]
    j = max(k for k in range(len(c) - 1) if not (ord(c[k]) - 48) & 0x20)
    bad = dict(rles[i], counts=c[:j + 1])
    pm.decode([bad])  # pycocotools accepts it
    f = tmp_path / "r.json"
    f.write_text(json.dumps([{"segmentation": r} for r in rles[:i] + [bad] + rles[i + 1:]]))
    assert cli.main(["validate", str(f)]) == 1
    out = capsys.readouterr().out
    assert "mismatches: 0, malformed entries: 1" in out
    assert f"annotation {i}: malformed: invalid RLE" in out


def test_validate_reports_one_sided_error(tmp_path):
    from fastrle import validate

    rles = synthetic.coco_like(4, 30, 40, seed=3)
    f = tmp_path / "r.json"
    f.write_text(json.dumps([{"segmentation": r} for r in rles]))

    class Picky:  # raises on one mask only, like a stricter decoder
        frPyObjects = staticmethod(pm.frPyObjects)

        @staticmethod
        def decode(rs):
            if any(r["counts"] == rles[2]["counts"] for r in rs):
                raise ValueError("invalid")
            return pm.decode(rs)

    rep = validate.validate_files([str(f)], fm=Picky, pm=pm)
    assert rep.mismatches == 1 and not rep.ok
    [(_, p)] = rep.problems
    assert p.kind == "mismatch" and p.index == 2 and "fastrle raised ValueError" in p.reason


def test_validate_without_pycocotools(tmp_path, monkeypatch, capsys):
    coco = _coco_file(tmp_path / "coco.json")
    monkeypatch.setitem(sys.modules, "pycocotools", None)
    monkeypatch.setitem(sys.modules, "pycocotools.mask", None)
    assert cli.main(["validate", str(coco)]) == 2
    err = capsys.readouterr().err
    assert "needs pycocotools, which is not installed" in err and "pip install pycocotools" in err


def test_validate_unreadable_file(tmp_path, capsys):
    # a file that cannot be parsed, or is no known layout, is a source error:
    # exit 1, as in the Dask mode (a usage error is 2)
    f = tmp_path / "x.json"
    f.write_text("{not json")
    assert cli.main(["validate", str(f)]) == 1
    assert "source errors: 1" in capsys.readouterr().out
    g = tmp_path / "y.json"
    g.write_text(json.dumps({"foo": 1}))
    assert cli.main(["validate", str(g)]) == 1
    out = capsys.readouterr().out
    assert "source errors: 1" in out and "not a COCO annotation/results file" in out
    assert cli.main(["validate", str(tmp_path / "nothing*.json")]) == 2  # a glob matching nothing


def test_rival_agreement_and_fastest():
    from fastrle.bench import percall

    # agrees: same values in another form pass; other values do not
    want = [{"size": [2, 3], "counts": b"14"}]
    assert percall.agrees([{"size": [2, 3], "counts": "14"}], want)
    assert not percall.agrees([{"size": [2, 3], "counts": "15"}], want)
    assert percall.agrees([3, 4], np.array([3, 4], np.uint32))
    assert not percall.agrees([3, 5], np.array([3, 4], np.uint32))
    assert not percall.agrees(np.zeros((2, 2)), np.zeros((2, 3)))
    assert percall.agrees(np.array([[0.5]]), np.array([[0.5 + 1e-12]]))
    assert not percall.agrees(np.array([[0.5]]), np.array([[0.51]]))
    # the fastest rival timed, by hand: hotcoco 2 ms beats pycocotools 5 ms; ultrafast was not timed
    spec = percall.rival_ratios([("decode", "decode")], {"decode:fastrle", "decode:pycocotools", "decode:hotcoco"})
    assert spec == [("decode: fastest rival / fastrle", "decode:pycocotools|decode:hotcoco", "decode:fastrle",
                     ">=", 1.0)]
    r = harness._ratio(spec[0], {"decode:fastrle": 4.0, "decode:pycocotools": 5.0, "decode:hotcoco": 2.0})
    assert (r.value, r.pick, r.status) == (0.5, "hotcoco", "FAIL")
