"""``fastrle polygons``: hand-written expected outputs for a small SA-1B
file, pycocotools' rasterisation of what it writes for a shard and the COCO
test file, and its exit codes (nothing written on bad input); on Dask
(``--scheduler`` against a real LocalCluster of 2 processes, ``--workers``):
the same bytes as the local run and as written by hand, the same exit codes
and problem lines, the same progress line as ``fastrle index``."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

import fastrle
from fastrle import synthetic
from fastrle.cli import main
from fastrle.sa1b import iter_shard

pmask = pytest.importorskip("pycocotools.mask")

DATA = os.path.join(os.path.dirname(__file__), "data")
COCO = os.path.join(DATA, "coco_instances_val2014_100.json")

# a 3x3 square with a 1-pixel hole, and a lone pixel, in a 5x6 image
SQUARE = np.zeros((5, 6), np.uint8)
SQUARE[1:4, 1:4] = 1
SQUARE[2, 2] = 0
PIXEL = np.zeros((5, 6), np.uint8)
PIXEL[4, 5] = 1

# written by hand: the square's outline from (0.5, 0.5) down, the cut from its
# corner (0.5, 3.5) to the hole's start (1.5, 2.5), round the hole and back
SQUARE_RING = [0.5, 0.5, 0.5, 3.5, 1.5, 2.5, 1.5, 1.5, 2.5, 1.5, 2.5, 2.5, 1.5, 2.5, 0.5, 3.5,
               3.5, 3.5, 3.5, 0.5]
PIXEL_RING = [4.5, 3.5, 4.5, 4.5, 5.5, 4.5, 5.5, 3.5]
YOLO_TXT = ("0 0.166667 0.2 0.166667 0.8 0.333333 0.6 0.333333 0.4 0.5 0.4 0.5 0.6 0.333333 0.6 "
            "0.166667 0.8 0.666667 0.8 0.666667 0.2\n"
            "0 0.833333 0.8 0.833333 1 1 1 1 0.8\n")


def sa1b_file(path, anns=None, image_id=1):
    rles = fastrle.encode(np.stack([SQUARE, PIXEL]))
    anns = anns if anns is not None else [
        {"id": 10, "segmentation": rles[0], "area": 8, "bbox": [1, 1, 3, 3]},
        {"id": 11, "segmentation": rles[1], "area": 1, "bbox": [5, 4, 1, 1]},
    ]
    obj = {"image": {"image_id": image_id, "width": 6, "height": 5, "file_name": f"sa_{image_id}.jpg"},
           "annotations": anns}
    with open(path, "w") as f:
        json.dump(obj, f)
    return str(path)


def polygons(*argv):
    return main(["polygons", *[str(a) for a in argv]])


def test_coco_output_by_hand(tmp_path):
    src = sa1b_file(tmp_path / "sa_1.json")
    out = tmp_path / "out.json"
    assert polygons(src, "-o", out) == 0
    got = json.loads(out.read_text())
    assert got["images"] == [{"image_id": 1, "width": 6, "height": 5, "file_name": "sa_1.jpg", "id": 1}]
    assert got["categories"] == []
    assert got["annotations"] == [
        {"id": 10, "area": 8, "bbox": [1, 1, 3, 3], "image_id": 1, "segmentation": [SQUARE_RING]},
        {"id": 11, "area": 1, "bbox": [5, 4, 1, 1], "image_id": 1, "segmentation": [PIXEL_RING]},
    ]
    # external: the outer ring only (the hole filled), every corner, from the
    # first pixel's top-right corner (the way in from its last pixel, to its right)
    assert polygons(src, "-o", out, "--mode", "external", "--approx", "none") == 0
    seg = json.loads(out.read_text())["annotations"][0]["segmentation"]
    assert seg == [[1.5, 0.5, 0.5, 0.5, 0.5, 1.5, 0.5, 2.5, 0.5, 3.5, 1.5, 3.5, 2.5, 3.5, 3.5, 3.5,
                    3.5, 2.5, 3.5, 1.5, 3.5, 0.5, 2.5, 0.5]]
    # --min-area 2 drops the rings of area 1: the lone pixel's, and the hole (filled)
    assert polygons(src, "-o", out, "--min-area", 2) == 0
    assert [a["segmentation"] for a in json.loads(out.read_text())["annotations"]] == [
        [[0.5, 0.5, 0.5, 3.5, 3.5, 3.5, 3.5, 0.5]], []]


def test_yolo_output_by_hand(tmp_path):
    src = sa1b_file(tmp_path / "sa_1.json")
    out = tmp_path / "labels"
    assert polygons(src, "-o", out, "--format", "yolo") == 0
    assert os.listdir(out) == ["sa_1.txt"]
    assert (out / "sa_1.txt").read_text() == YOLO_TXT


def test_shard_round_trip_through_pycocotools(tmp_path):
    path = str(tmp_path / "sa_000000.tar")
    synthetic.write_sa1b_shard(path, images=3, masks=20, h=70, w=90, seed=4, first_id=5)
    out = tmp_path / "out.json"
    assert polygons(path, "-o", out) == 0
    got = json.loads(out.read_text())
    n = 0  # annotations come out in shard order, each image's in file order
    for _, _, ann in iter_shard(path, images=False):
        for rle in ann.rles():
            seg = got["annotations"][n]["segmentation"]
            h, w = rle["size"]
            m = pmask.decode(rle)
            d = pmask.decode(pmask.frPyObjects(seg, h, w)).max(2) if seg else np.zeros_like(m)
            assert np.array_equal(d, m)
            n += 1
    assert n == 60 == len(got["annotations"]) and len(got["images"]) == 3


def test_coco_file_classes_and_round_trip(tmp_path):
    out = tmp_path / "labels"
    assert polygons(COCO, "-o", out, "--format", "yolo") == 0
    coco = json.load(open(COCO))
    assert len(os.listdir(out)) == len(coco["images"])
    ids = sorted({c["id"] for c in coco["categories"]} | {a["category_id"] for a in coco["annotations"]})
    a = coco["annotations"][0]
    im = next(i for i in coco["images"] if i["id"] == a["image_id"])
    lines = (out / (os.path.splitext(im["file_name"])[0] + ".txt")).read_text().splitlines()
    assert lines and lines[0].split()[0] == str(ids.index(a["category_id"]))
    vals = [float(v) for v in lines[0].split()[1:]]
    assert all(0 <= v <= 1 for v in vals) and len(vals) % 2 == 0
    js = tmp_path / "coco.json"
    assert polygons(COCO, "-o", js) == 0
    got = json.loads(js.read_text())
    assert len(got["annotations"]) == len(coco["annotations"])
    assert {c["id"] for c in got["categories"]} == {c["id"] for c in coco["categories"]}
    for src, new in list(zip(coco["annotations"], got["annotations"]))[:60]:
        h, w = im_size = next((i["height"], i["width"]) for i in coco["images"] if i["id"] == src["image_id"])
        rle = fastrle.mask.frPyObjects(src["segmentation"], *im_size) if isinstance(src["segmentation"], list) \
            else src["segmentation"]
        m = pmask.decode(rle)
        m = m.max(2) if m.ndim == 3 else m
        if isinstance(src["segmentation"], dict) and isinstance(src["segmentation"]["counts"], list):
            m = pmask.decode(pmask.frPyObjects(src["segmentation"], h, w))
        d = pmask.decode(pmask.frPyObjects(new["segmentation"], h, w)).max(2) if new["segmentation"] \
            else np.zeros_like(m)
        assert np.array_equal(d, m)


def test_bad_input_exit_1_and_nothing_written(tmp_path, capsys):
    bad = {"id": 12, "segmentation": {"size": [5, 6], "counts": "0!"}}
    src = sa1b_file(tmp_path / "sa_1.json", anns=[bad])
    out = tmp_path / "out.json"
    assert polygons(src, "-o", out) == 1
    assert not out.exists()
    assert "image 1 annotation 0" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert polygons(broken, "-o", out) == 1
    assert polygons(tmp_path / "missing.json", "-o", out) == 1
    assert sorted(os.listdir(tmp_path)) == ["broken.json", "sa_1.json"]


def test_usage_errors_exit_2(tmp_path):
    src = sa1b_file(tmp_path / "sa_1.json")
    f = tmp_path / "file.txt"
    f.write_text("")
    assert polygons(src, "-o", f, "--format", "yolo") == 2
    assert polygons(src, "-o", tmp_path / "o.json", "--min-area", -1) == 2
    assert polygons(str(tmp_path / "none" / "*.json"), "-o", tmp_path / "o.json") == 2
    with pytest.raises(SystemExit) as e:
        polygons(src)
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        polygons(src, "-o", tmp_path / "o.json", "--format", "voc")
    assert e.value.code == 2


# ---------------------------------------------------------------- on Dask


@pytest.fixture(scope="module")
def client():
    """A real LocalCluster: 2 single-threaded worker processes on 127.0.0.1."""
    pytest.importorskip("distributed")
    pytest.importorskip("pyarrow")
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0", timeout=120) as cl, Client(cl, timeout=120) as c:
        c.wait_for_workers(2, timeout=120)
        yield c


def _dask_sources(tmp_path):
    """Three sources: two SA-1B files (images 2 and 1, in that order) and a shard."""
    shard = str(tmp_path / "sa_000000.tar")
    synthetic.write_sa1b_shard(shard, images=2, masks=5, h=40, w=50, seed=7, first_id=5)
    rle = fastrle.encode(np.stack([PIXEL]))[0]
    two = sa1b_file(tmp_path / "sa_2.json", anns=[{"id": 20, "segmentation": rle}], image_id=2)
    return [two, sa1b_file(tmp_path / "sa_1.json"), shard]


def test_dask_output_equals_the_local_run_and_the_hand_written_one(client, tmp_path, capsys):
    from fastrle.jobs import api

    addr = client.scheduler.address
    srcs = _dask_sources(tmp_path)
    calls = []
    real = api.cluster

    def counted(*a, **k):
        calls.append(1)
        return real(*a, **k)

    for fmt in ("coco", "yolo"):
        local, dask = tmp_path / f"local.{fmt}", tmp_path / f"dask.{fmt}"
        assert polygons(*srcs, "-o", local, "--format", fmt) == 0
        api.cluster = counted
        try:
            assert polygons(*srcs, "-o", dask, "--format", fmt, "--scheduler", addr) == 0
        finally:
            api.cluster = real
        if fmt == "coco":
            assert dask.read_bytes() == local.read_bytes()
            got = json.loads(dask.read_text())
        else:
            assert sorted(os.listdir(dask)) == sorted(os.listdir(local)) == ["sa_1.txt", "sa_2.txt", "sa_5.txt",
                                                                          "sa_6.txt"]
            for n in os.listdir(local):
                assert (dask / n).read_bytes() == (local / n).read_bytes()
            assert (dask / "sa_1.txt").read_text() == YOLO_TXT
            assert (dask / "sa_2.txt").read_text() == "0 0.833333 0.8 0.833333 1 1 1 1 0.8\n"
    assert len(calls) == 2  # through jobs.api.cluster, the home of the cluster start
    # by hand: sources in the order given, whatever order the tasks finished in
    assert [im["id"] for im in got["images"]] == [2, 1, 5, 6]
    assert got["annotations"][:3] == [
        {"id": 20, "image_id": 2, "segmentation": [PIXEL_RING]},
        {"id": 10, "area": 8, "bbox": [1, 1, 3, 3], "image_id": 1, "segmentation": [SQUARE_RING]},
        {"id": 11, "area": 1, "bbox": [5, 4, 1, 1], "image_id": 1, "segmentation": [PIXEL_RING]},
    ]
    assert len(got["annotations"]) == 3 + 10
    assert "13 annotations of 4 images" in capsys.readouterr().out


def test_dask_bad_input_same_exit_codes_and_lines(client, tmp_path, capsys):
    addr = client.scheduler.address
    bad = sa1b_file(tmp_path / "sa_3.json", anns=[{"id": 12, "segmentation": {"size": [5, 6], "counts": "0!"}}],
                    image_id=3)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    good = sa1b_file(tmp_path / "sa_1.json")
    srcs = [good, bad, str(broken), str(tmp_path / "missing.json")]
    out = tmp_path / "out.json"
    capsys.readouterr()
    assert polygons(*srcs, "-o", out) == 1
    local_err = capsys.readouterr().err
    assert polygons(*srcs, "-o", out, "--scheduler", addr) == 1
    assert capsys.readouterr().err == local_err
    lines = local_err.splitlines()
    assert len(lines) == 3 and lines[0].startswith("sa_3.json: image 3 annotation 0: ")
    assert lines[1].startswith("broken.json: broken.json: invalid JSON")
    assert lines[2].startswith("missing.json: cannot read: ")
    assert not out.exists()
    # a glob that matches nothing is a usage error, as for fastrle index
    assert polygons(str(tmp_path / "none*.json"), "-o", out, "--scheduler", addr) == 2
    # --scheduler and --workers together: argparse's usage error
    with pytest.raises(SystemExit) as e:
        polygons(good, "-o", out, "--scheduler", addr, "--workers", "1")
    assert e.value.code == 2


def test_dask_progress_line_as_fastrle_index(client, tmp_path, capsys):
    from fastrle.cli.polygons import convert

    srcs = _dask_sources(tmp_path)
    a = convert(srcs, client=client, progress=True)
    err = capsys.readouterr().err
    assert "\rfastrle polygons: 3/3 sources, 13 masks" in err and "masks/s, 0 problems" in err
    assert a == convert(srcs)
    convert(srcs, client=client)  # stderr is not a terminal here: no line
    assert capsys.readouterr().err == ""


def test_workers_starts_a_local_cluster(tmp_path):
    pytest.importorskip("distributed")
    pytest.importorskip("pyarrow")
    srcs = _dask_sources(tmp_path)
    assert polygons(*srcs, "-o", tmp_path / "local.json") == 0
    assert polygons(*srcs, "-o", tmp_path / "dask.json", "--workers", 1) == 0
    assert (tmp_path / "dask.json").read_bytes() == (tmp_path / "local.json").read_bytes()


def test_without_dask_says_what_to_install(tmp_path):
    import subprocess
    import sys

    src = sa1b_file(tmp_path / "sa_1.json")
    # None in sys.modules makes `import distributed` raise ImportError, as when it is absent
    code = ("import sys\nsys.modules['distributed'] = None\nfrom fastrle import cli\n"
            f"sys.exit(cli.main(['polygons', {src!r}, '-o', {str(tmp_path / 'o.json')!r}, '--workers', '2']))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2, p.stderr
    assert "fastrle polygons on a cluster" in p.stderr and "pip install 'fastrle[dask]'" in p.stderr
    assert not (tmp_path / "o.json").exists()
