"""Pins for the ``fastrle`` command line where no outside oracle exists (issue 24):
exit codes, the exact messages on stdout/stderr, what each flag changes, and
the files left behind. Expected pictures are computed by hand (uniform masks
drawn at alpha 1, so every lit pixel has the mask's palette colour); masks are
encoded by pycocotools; summaries are hand-made objects. ``fastrle index`` and
``validate`` are run with ``fastrle.jobs`` stubbed (milliseconds), their
summaries' text is pinned in test_pins_jobs.py.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from typing import Any, List

import numpy as np
import pytest

from fastrle import cli
from fastrle import jobs as jobs_pkg
from fastrle.cli import _args as cli_args
from fastrle.cli import validate as cli_validate
from fastrle.jobs import IndexSummary, Problem, SourceResult, ValidateSummary

PIL = pytest.importorskip("PIL.Image")
pm = pytest.importorskip("pycocotools.mask")


def rle(m: np.ndarray) -> dict:
    r = pm.encode(np.asfortranarray(m.astype(np.uint8)))
    return {"size": [int(r["size"][0]), int(r["size"][1])], "counts": r["counts"].decode()}


def sa1b(path: Any, masks: List[np.ndarray], image_id: int, file_name: str = "none.jpg") -> None:
    """An SA-1B per-image JSON of the masks (fields SA-1B's, values plain)."""
    h, w = masks[0].shape
    anns = [{"id": i, "segmentation": rle(m), "area": int(m.sum()), "bbox": [0, 0, 0, 0],
             "predicted_iou": 0.9 - i / 100, "stability_score": 0.9, "point_coords": [[0.0, 0.0]],
             "crop_box": [0, 0, w, h]} for i, m in enumerate(masks)]
    with open(path, "w") as f:
        json.dump({"image": {"image_id": image_id, "width": w, "height": h, "file_name": file_name},
                   "annotations": anns}, f)


def full(h: int, w: int) -> np.ndarray:
    return np.ones((h, w), bool)


def png(path: Any) -> np.ndarray:
    with PIL.open(path) as im:
        return np.asarray(im.convert("RGB"))


def show(*argv: Any) -> int:
    return cli.main(["show", *[str(a) for a in argv]])


def one_error_line(capsys: Any) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fastrle show: error: "), err
    return err[0][len("fastrle show: error: "):]


# palette(0) and palette(1) by hand: HSV (0, 0.85, 0.95) and (0.618..., 0.6, 0.95)
RED = np.array([242, 36, 36], np.uint8)          # 0.95*255 = 242.25; 0.95*0.15*255 = 36.3


# --- fastrle show ------------------------------------------------------------------------


def test_show_alpha_bounds_and_format_by_extension(tmp_path, capsys):
    """--alpha 1 is allowed (a fill that replaces the pixel: the palette colour
    itself), -0.01 and 1.01 are not; OUT's extension picks the format case-blind."""
    src = tmp_path / "a.json"
    sa1b(src, [full(6, 9)], 3)
    out = tmp_path / "o.PNG"
    assert show(src, "-o", out, "--alpha", "1", "--no-contours") == 0
    with PIL.open(out) as im:
        assert im.format == "PNG"
    assert (png(out) == RED).all()
    capsys.readouterr()
    for bad in ("-0.01", "1.01"):
        assert show(src, "-o", tmp_path / "b.png", "--alpha", bad) == 1
        assert one_error_line(capsys) == f"--alpha must be in [0, 1], got {float(bad)}"
    assert show(src, "-o", tmp_path / "c.jpeg", "--alpha", "1") == 0
    with PIL.open(tmp_path / "c.jpeg") as im:
        assert im.format == "JPEG"
    assert sorted(os.listdir(tmp_path)) == ["a.json", "c.jpeg", "o.PNG"]


def test_show_sibling_image_rules_and_the_black_canvas_note(tmp_path, capsys):
    """The SA-1B JSON's image: its file_name's base name next to the JSON first,
    then <stem>.jpg/.jpeg/.png; none: a black canvas and one note line after
    success naming the image id."""
    m = np.zeros((8, 10), bool)
    m[2:5, 3:7] = True
    src = tmp_path / "sa_5.json"
    sa1b(src, [m], 5, file_name="photos/pic.png")  # a folder in file_name: only its base name counts
    out = tmp_path / "o.png"
    assert show(src, "-o", out, "--alpha", "0", "--no-contours") == 0
    assert capsys.readouterr().err == \
        "fastrle show: note: no image found for image id 5; drew on a black canvas\n"
    assert not png(out).any()
    PIL.fromarray(np.full((8, 10, 3), 30, np.uint8)).save(tmp_path / "sa_5.jpeg")  # the stem's JPEG
    assert show(src, "-o", out, "--alpha", "0", "--no-contours") == 0
    assert capsys.readouterr().err == ""
    got = png(out)
    assert np.abs(got.astype(int) - 30).max() <= 2  # a JPEG of a flat grey stays (almost) flat
    PIL.fromarray(np.full((8, 10, 3), 200, np.uint8)).save(tmp_path / "pic.png")  # file_name wins
    assert show(src, "-o", out, "--alpha", "0", "--no-contours") == 0
    assert (png(out) == 200).all()


def test_show_grid_order_sizes_centring_and_notes(tmp_path, capsys):
    """A directory grid takes its SA-1B JSONs in name order (not creation
    order), skips other JSON, scales each picture into cells of the largest
    picture's size and centres it; one note lists every image drawn black."""
    d = tmp_path / "d"
    d.mkdir()
    sa1b(d / "b.json", [np.zeros((10, 10), bool)], 2)  # written first, sorted second: nothing lit
    sa1b(d / "a.json", [full(20, 30)], 1)
    (d / "0.json").write_text('{"images": [], "annotations": []}')  # COCO, not SA-1B: skipped
    out = tmp_path / "g.png"
    assert show(d, "-o", out, "--grid", "1", "--alpha", "1", "--no-contours") == 0
    assert capsys.readouterr().err == \
        "fastrle show: note: no image found for image id 1; drew on a black canvas\n"
    assert png(out).shape == (20, 30, 3) and (png(out) == RED).all()
    # two cells of 20x30 (the largest picture); the 10x10 one is scaled by min(20/10, 30/10) = 2
    # to 20x20 and centred: x from 30 + 4 + (30 - 20) // 2 = 39
    sa1b(d / "b.json", [full(10, 10)], 2)
    assert show(d, "-o", out, "--grid", "5", "--alpha", "1", "--no-contours") == 0
    assert capsys.readouterr().err == \
        "fastrle show: note: no image found for image id 1, 2; drew on a black canvas\n"
    lit = png(out).any(axis=2)
    want = np.zeros((20, 64), bool)
    want[:, :30] = True
    want[:, 39:59] = True
    assert np.array_equal(lit, want)


def test_show_grid_cell_is_at_most_512(tmp_path, capsys):
    """A picture larger than 512 px is scaled so its longest side is 512:
    600x10 -> 512 x round(10 * 512/600) = 512x9."""
    d = tmp_path / "d"
    d.mkdir()
    sa1b(d / "a.json", [full(600, 10)], 1)
    out = tmp_path / "g.png"
    assert show(d, "-o", out, "--grid", "1", "--alpha", "1", "--no-contours") == 0
    pic = png(out)
    assert pic.shape == (512, 9, 3) and (pic == RED).all()
    capsys.readouterr()


@pytest.mark.parametrize("case, message", [
    ("grid with image", "--grid takes neither --image nor --image-id"),
    ("grid with image id", "--grid takes neither --image nor --image-id"),
    ("empty shard", "shard {shard} holds no SA-1B images"),
    ("empty shard grid", "{shard} holds no SA-1B images"),
    ("empty dir grid", "{dir} holds no SA-1B images"),
    ("coco no size", "image 4 in {coco} has no valid height/width"),
    ("coco bad type", "mask 1: segmentation must be polygons or an RLE dict, got int"),
    ("coco bad rle", "mask 0: malformed segmentation: "),
    ("results id as written", "unknown image id 04: no results for it in {res}"),
])
def test_show_more_one_line_errors(tmp_path, capsys, case, message):
    shard = tmp_path / "e.tar"
    with tarfile.open(shard, "w"):
        pass  # a valid tar with no member
    d = tmp_path / "d"
    d.mkdir()
    (d / "x.txt").write_text("not json")
    coco = tmp_path / "c.json"
    ok = rle(full(3, 4))
    coco.write_text(json.dumps({
        "images": [{"id": 4, "width": 4}, {"id": 5, "height": 3, "width": 4}], "categories": [],
        "annotations": [{"image_id": 5, "segmentation": ok}, {"image_id": 5, "segmentation": 7}]
        if case != "coco bad rle" else [{"image_id": 5, "segmentation": {"size": [3, 4], "counts": [1, "a"]}}]}))
    res = tmp_path / "r.json"
    res.write_text(json.dumps([{"image_id": 4, "category_id": 1, "score": 1.0, "segmentation": ok}]))
    img = tmp_path / "i.png"
    PIL.fromarray(np.zeros((3, 4, 3), np.uint8)).save(img)
    argv = {
        "grid with image": [shard, "--grid", 2, "--image", img],
        "grid with image id": [shard, "--grid", 2, "--image-id", 1],
        "empty shard": [shard],
        "empty shard grid": [shard, "--grid", 2],
        "empty dir grid": [d, "--grid", 2],
        "coco no size": [coco, "--image-id", 4],
        "coco bad type": [coco, "--image-id", 5],
        "coco bad rle": [coco, "--image-id", 5],
        "results id as written": [res, "--image-id", "04"],  # ids compare as text: 04 is not 4
    }[case]
    out = tmp_path / "out.png"
    assert show(*argv, "-o", out) == 1
    assert one_error_line(capsys).startswith(message.format(shard=shard, dir=d, coco=coco, res=res))
    assert not out.exists() and not [n for n in os.listdir(tmp_path) if n.endswith(".part")]


def test_show_results_size_from_the_first_rle_not_the_first_result(tmp_path, capsys):
    """A results file whose first result is a polygon: the canvas size is the
    first RLE's [h, w] (5 rows, 7 columns), no --image needed."""
    poly = [[1.0, 1.0, 4.0, 1.0, 4.0, 3.0]]
    res = tmp_path / "r.json"
    res.write_text(json.dumps([{"image_id": 1, "category_id": 1, "score": 1.0, "segmentation": poly},
                               {"image_id": 1, "category_id": 1, "score": 1.0, "segmentation": rle(full(5, 7))}]))
    out = tmp_path / "o.png"
    assert show(res, "-o", out, "--image-id", 1) == 0
    assert png(out).shape == (5, 7, 3)
    assert capsys.readouterr().err == ""


def test_show_error_text_is_one_line_or_the_type_name(tmp_path, monkeypatch, capsys):
    """An error's message is folded onto one line; an empty one becomes its type's name."""
    from fastrle import viz

    src = tmp_path / "a.json"
    sa1b(src, [full(4, 4)], 1)
    for exc, want in ((OSError(), "OSError"), (ValueError("two\n  lines\tof text"), "two lines of text")):
        def fail(pic: Any, dest: Any, fmt: Any = None, exc: Exception = exc) -> None:
            raise exc
        monkeypatch.setattr(viz, "save_image", fail)
        assert show(src, "-o", tmp_path / "o.png") == 1
        assert one_error_line(capsys) == want
    assert sorted(os.listdir(tmp_path)) == ["a.json"]


# --- index / validate as the command line sees them (jobs stubbed) -------------------------


def _stub(monkeypatch: Any, name: str, result: Any) -> List[Any]:
    calls: List[Any] = []

    def fake(*a: Any, **kw: Any) -> Any:
        calls.append((a, kw))
        if isinstance(result, BaseException):
            raise result
        return result

    monkeypatch.setattr(jobs_pkg, name, fake)
    return calls


@pytest.mark.parametrize("exc", [ValueError("x*.json: matches no file"), OSError("connection refused"),
                                 ImportError("pip install 'fastrle[dask]'")])
def test_job_errors_are_exit_2_with_one_line(monkeypatch, tmp_path, capsys, exc):
    """ImportError/ValueError/OSError from the job: 'error: <message>' on stderr, exit 2, no stdout."""
    for argv, name in ((["index", "x*.json", "-o", str(tmp_path / "o")], "index"),
                       (["validate", "x*.json"], "validate")):
        _stub(monkeypatch, name, exc)
        assert cli.main(argv) == 2
        out, err = capsys.readouterr()
        assert out == "" and err == f"error: {exc}\n"


def test_other_job_errors_are_not_swallowed(monkeypatch, tmp_path):
    _stub(monkeypatch, "index", RuntimeError("bug"))
    with pytest.raises(RuntimeError, match="bug"):
        cli.main(["index", "a.json", "-o", str(tmp_path)])


def test_index_prints_the_summary_and_passes_the_cluster_options(monkeypatch, tmp_path, capsys):
    s = IndexSummary(sources=1, out=str(tmp_path), written=1)
    calls = _stub(monkeypatch, "index", s)
    assert cli.main(["index", "a.json", "b.tar", "-o", str(tmp_path / "o"), "--scheduler", "tcp://h:1"]) == 0
    (a, kw), = calls
    assert list(a[0]) == ["a.json", "b.tar"] and a[1] == str(tmp_path / "o")
    assert kw["scheduler"] == "tcp://h:1" and kw["workers"] is None
    assert capsys.readouterr().out == s.text() + "\n"


@pytest.mark.parametrize("argv", [["--scheduler", "tcp://h:1", "--workers", "2"], ["--workers", "0"],
                                  ["--workers", "-1"], ["--workers", "two"]])
def test_cluster_option_usage_errors(tmp_path, argv):
    for cmd in (["index", "a.json", "-o", str(tmp_path)], ["validate", "a.json"]):
        with pytest.raises(SystemExit) as e:
            cli.main(cmd + argv)
        assert e.value.code == 2


def _args(*argv: str) -> Any:
    return cli.build_parser().parse_args(["validate", *argv])


def test_validate_mode_choice(tmp_path):
    """In-process for plain files; Dask for any cluster option or --report, a
    directory, or a pattern that is not itself an existing file."""
    real = tmp_path / "a[1].json"
    real.write_text("{}")
    assert cli_validate.dataset_mode(_args(str(real))) is False  # exists: a file, not a glob
    assert cli_validate.dataset_mode(_args(str(tmp_path / "missing.json"))) is False
    for pat in ("*.json", "a?.json", "a[12].json"):
        assert cli_validate.dataset_mode(_args(str(tmp_path / pat))) is True
    for opt in (["--workers", "1"], ["--scheduler", "tcp://h:1"], ["--report", "r.parquet"]):
        assert cli_validate.dataset_mode(_args(str(real), *opt)) is True


def test_validate_report_rows_and_line(monkeypatch, tmp_path, capsys):
    """--report: the Parquet table of every problem (reason prefixed by its kind)
    and a last stdout line 'report: PATH (N rows)'; exit 1 for the problems."""
    pq = pytest.importorskip("pyarrow.parquet")
    res = [SourceResult("/d/a.json", "checked", images=1, masks=2,
                        problems=[Problem("mismatch", 3, 0, "area: x"), Problem("malformed", 3, 1, "y")]),
           SourceResult("/d/b.json", "checked"), SourceResult("/d/d.json", "checked"),
           SourceResult("/d/c.tar", "unreadable", problems=[Problem("source", None, None, "unreadable: z")])]
    s = ValidateSummary.of(res, 0.5, 2)
    _stub(monkeypatch, "validate", s)
    report = tmp_path / "r.parquet"
    assert cli.main(["validate", "/d/a.json", "--report", str(report)]) == 1
    out = capsys.readouterr().out
    assert out == s.text() + "\n" + f"report: {report} (3 rows)\n"
    t = pq.read_table(report).to_pydict()
    assert t == {"source": ["/d/a.json", "/d/a.json", "/d/c.tar"], "image_id": [3, 3, None],
                 "index": [0, 1, None], "reason": ["mismatch: area: x", "malformed: y", "source: unreadable: z"]}
    assert sorted(os.listdir(tmp_path)) == ["r.parquet"]


def test_validate_in_process_mode_exit_status(monkeypatch, tmp_path, capsys):
    """The in-process mode never touches fastrle.jobs' Dask run; exit 0 only for ok."""
    from fastrle import validate as fv

    _stub(monkeypatch, "validate", AssertionError("the Dask mode was used"))
    for problems, code in (([], 0), ([Problem("malformed", 1, 0, "x")], 1)):
        s = ValidateSummary.of([SourceResult(str(tmp_path / "a.json"), "checked", problems=problems)], 0.0, 0)
        monkeypatch.setattr(fv, "validate_files", lambda files, s=s: s)
        assert cli.main(["validate", str(tmp_path / "a.json")]) == code
        assert capsys.readouterr().out == s.text() + "\n"


def test_size_and_positive_argument_types():
    import argparse

    assert cli_args.size("1500X2250") == (1500, 2250) and cli_args.size("1x1") == (1, 1)
    for bad in ("0x5", "5x0", "-1x5", "5", "5x5x5", "ax5", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            cli_args.size(bad)
    assert cli_args.positive("1") == 1
    with pytest.raises(argparse.ArgumentTypeError, match="must be >= 1"):
        cli_args.positive("0")


def test_broken_pipe_is_exit_0(tmp_path):
    """A reader that leaves (`fastrle ... | head`) is not an error: exit 0, nothing on stderr."""
    code = ("import sys, fastrle.cli as c, fastrle.cli.show as s\n"
            "def run(a):\n    raise BrokenPipeError(32, 'Broken pipe')\n"
            "s.run = run\nsys.exit(c.main(['show', 'x', '-o', 'y.png']))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert (r.returncode, r.stderr) == (0, "")


# --- fastrle bench: options and exit status (the bench itself stubbed) ------------------------------


class _Res:
    def __init__(self, verified: Any = True, statuses: Any = ("PASS",)) -> None:
        self.verified = verified
        self.ratios = [type("R", (), {"status": s})() for s in statuses]


def _stub_bench(monkeypatch: Any, results: List[Any]) -> List[Any]:
    from fastrle import bench

    seen: List[Any] = []

    class Cfg:
        def __init__(self, **kw: Any) -> None:
            self.kw, self.quick = kw, False
            seen.append(self)

        @classmethod
        def quick_config(cls, **kw: Any) -> Any:
            c = cls(**kw)
            c.quick = True
            return c

    def run(cfg: Any, progress: bool = True) -> List[Any]:
        cfg.progress = progress
        return results

    monkeypatch.setattr(bench, "BenchConfig", Cfg)
    monkeypatch.setattr(bench, "run", run)
    monkeypatch.setattr(bench, "format_table", lambda r: "TABLE")
    monkeypatch.setattr(bench, "environment", lambda: {"cpu": "x", "platform": "p", "load": "1"})
    monkeypatch.setattr(bench, "unjudged", lambda r: seen.append("unjudged"))
    monkeypatch.setattr(bench, "to_json_obj", lambda r, c: {"n": len(r)})
    return seen


def test_bench_options_reach_the_config_and_the_exit_status(monkeypatch, capsys):
    seen = _stub_bench(monkeypatch, [_Res()])
    assert cli.main(["bench", "--size", "30x40", "--masks", "3", "--threads", "4", "--repeats", "5",
                     "--seed", "9", "--family", "all", "--no-progress"]) == 0
    from fastrle import synthetic

    cfg = seen[-1]
    assert cfg.kw == {"masks": 3, "threads": 4, "repeats": 5, "h": 30, "w": 40, "mode": "all", "cases": None,
                      "seed": 9, "families": list(synthetic.FAMILIES)} and not cfg.quick and cfg.progress is False
    out = capsys.readouterr().out
    assert out == "# cpu x, load 1\nTABLE\n" + cli.bench.TARGETS_NOTE + "\n"  # platform left out
    assert cli.main(["bench", "--quick", "--family", "blobs", "blobs", "--json"]) == 0
    assert seen[-2].quick and seen[-2].kw["families"] == ["blobs"] and seen[-1] == "unjudged"
    assert "masks" not in seen[-2].kw and "h" not in seen[-2].kw
    assert capsys.readouterr().out == '{\n  "n": 1\n}\n'
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)  # a terminal: progress unless --no-progress
    assert cli.main(["bench", "--quick"]) == 0 and seen[-2].progress is True
    assert cli.main(["bench", "--quick", "--no-progress"]) == 0 and seen[-2].progress is False


@pytest.mark.parametrize("results, strict, code, err", [
    ([_Res(True, ("PASS", "FAIL"))], False, 0, ""),
    ([_Res(True, ("PASS", "FAIL"))], True, 1, ""),
    ([_Res(None, ("PASS",)), _Res(True, ("PASS",))], True, 0, ""),  # not verified is not a mismatch
    ([_Res(True), _Res(False)], False, 1, "error: fastrle output differs from the reference\n"),
])
def test_bench_exit_status(monkeypatch, capsys, results, strict, code, err):
    _stub_bench(monkeypatch, results)
    assert cli.main(["bench", "--quick"] + (["--strict"] if strict else [])) == code
    assert capsys.readouterr().err == err


def test_bench_gpu_passes_its_options(monkeypatch):
    from fastrle.bench import gpu, gpu_encode

    calls: List[Any] = []
    for mod, rc in ((gpu, 1), (gpu_encode, 0)):
        monkeypatch.setattr(mod, "main", lambda argv, mod=mod, rc=rc: calls.append((mod, list(argv))) or rc)
    assert cli.main(["bench", "--gpu", "--masks", "7", "--size", "8x9", "--repeats", "3", "--strict",
                     "--seed", "2"]) == 1
    argv = ["--seed", "2", "--masks", "7", "--height", "8", "--width", "9", "--repeat", "3", "--strict"]
    assert calls == [(gpu, argv), (gpu_encode, argv)]
    calls.clear()
    monkeypatch.setattr(gpu, "main", lambda argv: calls.append("gpu") or 2)  # no GPU: said once, no encode run
    assert cli.main(["bench", "--gpu"]) == 2 and calls == ["gpu"]
    with pytest.raises(SystemExit) as e:
        cli.main(["bench", "--gpu", "--sa1b"])
    assert e.value.code == 2
