"""``fastrle show`` on generated SA-1B shards and JSONs and the real COCO files
in tests/data: the pictures it writes, and its one-line error exits that
leave no file behind."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fastrle import synthetic, viz
from fastrle.cli import main
from fastrle.sa1b import from_dict, iter_shard

PIL = pytest.importorskip("PIL.Image")

DATA = os.path.join(os.path.dirname(__file__), "data")
COCO = os.path.join(DATA, "coco_instances_val2014_100.json")
RESULTS = os.path.join(DATA, "cocoapi_instances_val2014_fakesegm100_results.json")


def read(path):
    with PIL.open(path) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    d = tmp_path_factory.mktemp("shard")
    path = str(d / "sa_000000.tar")
    objs = synthetic.write_sa1b_shard(path, images=3, masks=25, h=90, w=140, seed=3, first_id=7)
    return path, objs


def show(*argv):
    return main(["show", *[str(a) for a in argv]])


def test_shard_first_image(shard, tmp_path):
    path, objs = shard
    out = tmp_path / "a.png"
    assert show(path, "-o", out) == 0
    _, jpeg, ann = next(iter_shard(path))
    assert np.array_equal(read(out), viz.overlay(jpeg, ann))
    assert ann.image_id == 7


def test_shard_options(shard, tmp_path):
    path, objs = shard
    out = tmp_path / "b.png"
    assert show(path, "-o", out, "--image-id", 8, "--top-k", 4, "--alpha", 0.6, "--no-contours") == 0
    jpeg, ann = [(j, a) for i, j, a in iter_shard(path) if i == 8][0]
    assert np.array_equal(read(out), viz.overlay(jpeg, ann, top_k=4, alpha=0.6, contours=False))
    assert show(path, "-o", out, "--image-id", 9, "--contour-width", 3) == 0
    jpeg, ann = [(j, a) for i, j, a in iter_shard(path) if i == 9][0]
    assert np.array_equal(read(out), viz.overlay(jpeg, ann, contour_width=3))


def test_jpeg_output(shard, tmp_path):
    for name in ("c.jpg", "c.JPEG"):
        out = tmp_path / name
        assert show(shard[0], "-o", out) == 0
        with PIL.open(out) as im:
            assert im.format == "JPEG" and im.size == (140, 90)


def test_grid_shard_and_directory(shard, tmp_path):
    out = tmp_path / "g.png"
    assert show(shard[0], "-o", out, "--grid", 2) == 0
    assert read(out).shape == (90, 2 * 140 + 4, 3)
    assert show(shard[0], "-o", out, "--grid", 10) == 0  # only 3 images: 2x2 cells
    g = read(out)
    assert g.shape == (2 * 90 + 4, 2 * 140 + 4, 3)
    first = viz.overlay(*next(iter_shard(shard[0]))[1:])
    assert np.array_equal(g[:90, :140], first)
    # a directory of SA-1B JSONs with their JPEGs next to them
    d = tmp_path / "dir"
    d.mkdir()
    for k, obj in enumerate(shard[1]):
        (d / f"sa_{obj['image']['image_id']}.json").write_text(json.dumps(obj))
        (d / obj["image"]["file_name"]).write_bytes(synthetic.jpeg_bytes(90, 140, 3 + k))
    (d / "notes.json").write_text("[1, 2]")  # not SA-1B: skipped
    assert show(d, "-o", out, "--grid", 3) == 0
    assert np.array_equal(read(out)[:90, :140], first)


def test_sa1b_json_image_next_to_it_or_given_or_black(shard, tmp_path, capsys):
    obj = shard[1][0]
    js = tmp_path / "sa_7.json"
    js.write_text(json.dumps(obj))
    ann = from_dict(obj)
    out = tmp_path / "j.png"
    assert show(js, "-o", out) == 0  # no image anywhere: black canvas, with a note
    assert "black canvas" in capsys.readouterr().err
    assert np.array_equal(read(out), viz.overlay(None, ann))
    jpeg = synthetic.jpeg_bytes(90, 140, 3)
    (tmp_path / obj["image"]["file_name"]).write_bytes(jpeg)
    assert show(js, "-o", out) == 0
    assert np.array_equal(read(out), viz.overlay(jpeg, ann))
    other = tmp_path / "other.png"
    PIL.fromarray(np.full((90, 140, 3), 200, np.uint8)).save(other)
    assert show(js, "-o", out, "--image", other, "--image-id", 7) == 0
    assert np.array_equal(read(out), viz.overlay(str(other), ann))


def _ann_to_rle(ann, h, w):
    """pycocotools' COCO.annToRLE: the oracle for polygons and crowd RLE."""
    pm = pytest.importorskip("pycocotools.mask")
    seg = ann["segmentation"]
    if isinstance(seg, list):
        return pm.merge(pm.frPyObjects(seg, h, w))
    if isinstance(seg["counts"], list):
        return pm.frPyObjects(seg, h, w)
    return seg


@pytest.mark.parametrize("pick", ["polygons", "crowd"])
def test_coco_annotation_file(tmp_path, pick):
    with open(COCO) as f:
        coco = json.load(f)
    if pick == "crowd":
        img_id = next(a["image_id"] for a in coco["annotations"] if a["iscrowd"])
    else:
        img_id = coco["images"][3]["id"]
    im = next(i for i in coco["images"] if i["id"] == img_id)
    h, w = im["height"], im["width"]
    anns = [a for a in coco["annotations"] if a["image_id"] == img_id]
    rles = [_ann_to_rle(a, h, w) for a in anns]
    out = tmp_path / "coco.png"
    assert show(COCO, "-o", out, "--image-id", img_id) == 0
    assert np.array_equal(read(out), viz.overlay(np.zeros((h, w, 3), np.uint8), rles))
    photo = tmp_path / "photo.jpg"
    PIL.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(photo)
    assert show(COCO, "-o", out, "--image-id", img_id, "--image", photo, "--top-k", 2) == 0
    assert np.array_equal(read(out), viz.overlay(str(photo), rles, top_k=2))


def test_coco_results_file(tmp_path):
    with open(RESULTS) as f:
        res = json.load(f)
    img_id = res[0]["image_id"]
    rles = [r["segmentation"] for r in res if r["image_id"] == img_id]
    out = tmp_path / "r.png"
    assert show(RESULTS, "-o", out, "--image-id", img_id) == 0
    h, w = rles[0]["size"]
    assert np.array_equal(read(out), viz.overlay(None, rles))
    assert read(out).shape == (h, w, 3)


def _bad_sa1b(tmp_path, index):
    obj = json.loads(json.dumps(synthetic.sa1b_image_dict(synthetic.sa1b_like(6, 30, 40, seed=2))))
    obj["annotations"][index]["segmentation"]["counts"] = "0"  # sums to 0, not h*w
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(obj))
    return p


@pytest.mark.parametrize("case, message", [
    ("missing image", "image file not found"),
    ("image size", "mask 0: size [90, 140] differs from the image's size"),
    ("unknown shard id", "unknown image id 99"),
    ("unknown coco id", "unknown image id 99"),
    ("unknown results id", "unknown image id 99"),
    ("unknown sa1b id", "unknown image id 99"),
    ("malformed rle", "mask 4:"),
    ("coco without id", "--image-id is required"),
    ("bad extension", "must end in .png, .jpg or .jpeg"),
    ("missing src", "no such file"),
    ("not json", "not a JSON file"),
    ("not a mask file", "not an SA-1B JSON"),
    ("directory without grid", "use --grid"),
    ("grid of a json", "--grid needs a shard or a directory"),
    ("bad alpha", "--alpha must be in [0, 1]"),
])
def test_errors_one_line_no_file(shard, tmp_path, capsys, case, message):
    small = tmp_path / "small.png"
    PIL.fromarray(np.zeros((10, 10, 3), np.uint8)).save(small)
    junk = tmp_path / "junk.json"
    junk.write_bytes(b"\x00\x01 not json")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": 1}))
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "o.png"
    argv = {
        "missing image": [shard[0], "--image", tmp_path / "nope.jpg"],
        "image size": [shard[0], "--image", small],
        "unknown shard id": [shard[0], "--image-id", 99],
        "unknown coco id": [COCO, "--image-id", 99],
        "unknown results id": [RESULTS, "--image-id", 99],
        "unknown sa1b id": [_bad_sa1b(tmp_path, 0), "--image-id", 99],
        "malformed rle": [_bad_sa1b(tmp_path, 4)],
        "coco without id": [COCO],
        "bad extension": [shard[0]],
        "missing src": [tmp_path / "nothing.tar"],
        "not json": [junk],
        "not a mask file": [other],
        "directory without grid": [tmp_path],
        "grid of a json": [COCO, "--grid", 2],
        "bad alpha": [shard[0], "--alpha", 1.5],
    }[case]
    if case == "bad extension":
        out = out_dir / "o.gif"
    assert show(*argv, "-o", out) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fastrle show: error:"), err
    assert message in err[0]
    assert os.listdir(out_dir) == []  # no output, no temporary file


def test_error_keeps_existing_output(shard, tmp_path):
    out = tmp_path / "keep.png"
    out.write_bytes(b"old")
    assert show(shard[0], "-o", out, "--image-id", 99) == 1
    assert out.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["keep.png"]


def test_python_dash_m(shard, tmp_path):
    out = tmp_path / "m.png"
    r = subprocess.run([sys.executable, "-m", "fastrle", "show", shard[0], "-o", str(out), "--top-k", "3"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    with PIL.open(out) as im:
        assert im.size == (140, 90)
    assert oct(os.stat(out).st_mode & 0o777) != oct(0o600)  # not mkstemp's private mode
    r = subprocess.run([sys.executable, "-m", "fastrle", "show", str(tmp_path / "none.tar"), "-o",
                        str(tmp_path / "n.png")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "n.png").exists()


def test_results_with_polygons_take_their_size_from_the_image(tmp_path, capsys):
    pm = pytest.importorskip("pycocotools.mask")
    poly = [[10.0, 5.0, 60.0, 8.0, 55.0, 40.0, 12.0, 35.0]]
    res = tmp_path / "res.json"
    res.write_text(json.dumps([{"image_id": 5, "category_id": 1, "score": 0.9, "segmentation": poly},
                               {"image_id": 6, "category_id": 1, "score": 0.8, "segmentation": poly}]))
    out = tmp_path / "p.png"
    assert show(res, "-o", out, "--image-id", 5) == 1
    assert "give --image for its size" in capsys.readouterr().err
    assert not out.exists()
    photo = tmp_path / "photo.png"
    img = np.random.default_rng(1).integers(0, 255, (48, 70, 3), dtype=np.uint8)
    PIL.fromarray(img).save(photo)
    assert show(res, "-o", out, "--image-id", 5, "--image", photo) == 0
    want = viz.overlay(img, [pm.merge(pm.frPyObjects(poly, 48, 70))])
    assert np.array_equal(read(out), want)
