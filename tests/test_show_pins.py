"""``fastrle show`` against an oracle that is not the code under test (issue 24):
the masks decoded by pycocotools, the JPEG by Pillow, the colours by
``colorsys`` and the picture by test_viz's brute-force painter. Also: its exit
codes and the files a failed save leaves (none)."""
from __future__ import annotations

import colorsys
import json
import os

import numpy as np
import pytest

from fastrle import synthetic, viz
from fastrle.cli import main

PIL = pytest.importorskip("PIL.Image")
pm = pytest.importorskip("pycocotools.mask")

from test_viz import ref_overlay  # noqa: E402  (the brute-force painter)

GOLDEN = 0.6180339887498949


def palette_oracle(n):
    """The documented palette through colorsys: hue frac(i/phi), saturation 0.85
    (even i) or 0.6 (odd i), value 0.95."""
    out = []
    for i in range(n):
        rgb = colorsys.hsv_to_rgb((i * GOLDEN) % 1.0, 0.85 if i % 2 == 0 else 0.6, 0.95)
        out.append([min(255, max(0, int(np.rint(c * 255.0)))) for c in rgb])
    return np.array(out, np.uint8)


def pil_rgb(data_or_path):
    import io

    src = io.BytesIO(data_or_path) if isinstance(data_or_path, bytes) else data_or_path
    with PIL.open(src) as im:
        return np.asarray(im.convert("RGB"))


def dense(anns_or_rles):
    rles = [a["segmentation"] if "segmentation" in a else a for a in anns_or_rles]
    rles = [dict(r, counts=r["counts"].encode() if isinstance(r["counts"], str) else r["counts"]) for r in rles]
    return np.ascontiguousarray(pm.decode(rles).transpose(2, 0, 1))


def best(keys, k):
    return sorted(range(len(keys)), key=lambda i: (-float(keys[i]), i))[:k]


@pytest.fixture(scope="module")
def shard(tmp_path_factory):
    d = tmp_path_factory.mktemp("shardpins")
    path = str(d / "sa_000001.tar")
    objs = synthetic.write_sa1b_shard(path, images=3, masks=12, h=40, w=56, seed=11, first_id=20)
    return path, objs


def show(*argv):
    return main(["show", *[str(a) for a in argv]])


def test_palette_is_the_documented_one():
    assert np.array_equal(viz.palette(40), palette_oracle(40))


def test_shard_image_against_the_painter(shard, tmp_path):
    import tarfile

    path, objs = shard
    with tarfile.open(path) as tf:
        jpeg = tf.extractfile("sa_21.jpg").read()
    obj = objs[1]
    masks = dense(obj["annotations"])
    ious = [a["predicted_iou"] for a in obj["annotations"]]
    out = tmp_path / "a.png"
    assert show(path, "-o", out, "--image-id", 21, "--top-k", 5, "--contour-width", 2, "--alpha", 0.5) == 0
    want = ref_overlay(pil_rgb(jpeg), masks, palette_oracle(len(masks)), 0.5, 2, keep=best(ious, 5))
    assert np.array_equal(pil_rgb(str(out)), want)
    assert show(path, "-o", out, "--image-id", 21, "--no-contours") == 0
    assert np.array_equal(pil_rgb(str(out)), ref_overlay(pil_rgb(jpeg), masks, palette_oracle(len(masks)), cw=0))
    # --image replaces the shard's own JPEG
    img = np.random.default_rng(3).integers(0, 256, (40, 56, 3), dtype=np.uint8)
    PIL.fromarray(img).save(str(tmp_path / "other.png"))
    assert show(path, "-o", out, "--image-id", 21, "--image", tmp_path / "other.png") == 0
    assert np.array_equal(pil_rgb(str(out)), ref_overlay(img, masks, palette_oracle(len(masks))))


def test_coco_file_picks_annotations_by_image_id(tmp_path):
    rles, masks = synthetic.coco_like(4, 30, 20, seed=2, dense=True)
    # annotation ids equal to the other image's id: a wrong filter picks them
    anns = [{"id": 7 if i < 2 else 5, "image_id": 5 if i < 2 else 7, "segmentation": r} for i, r in enumerate(rles)]
    doc = {"images": [{"id": 5, "height": 30, "width": 20}, {"id": 7, "height": 30, "width": 20}],
           "annotations": anns, "categories": []}
    src = tmp_path / "c.json"
    src.write_text(json.dumps(doc))
    out = tmp_path / "c.png"
    assert show(src, "-o", out, "--image-id", 7) == 0
    want = ref_overlay(np.zeros((30, 20, 3), np.uint8), masks[2:], palette_oracle(2))
    assert np.array_equal(pil_rgb(str(out)), want)


def test_failed_save_leaves_no_file(shard, tmp_path, monkeypatch, capsys):
    path, _ = shard
    out = tmp_path / "x.png"

    def half_then_fail(pic, dest, fmt=None):
        with open(dest, "wb") as f:
            f.write(b"\x89PNG half")
        raise OSError("disk full")

    monkeypatch.setattr(viz, "save_image", half_then_fail)
    assert show(path, "-o", out) == 1
    assert os.listdir(tmp_path) == []
    assert capsys.readouterr().err.strip() == "fastrle show: error: disk full"
    # an existing output stays as it was
    out.write_bytes(b"old")
    assert show(path, "-o", out) == 1
    assert os.listdir(tmp_path) == ["x.png"] and out.read_bytes() == b"old"


@pytest.mark.parametrize("argv", [["--top-k", "0"], ["--contour-width", "0"], ["--grid", "0"]])
def test_non_positive_options_are_usage_errors(shard, tmp_path, argv):
    with pytest.raises(SystemExit) as e:
        show(shard[0], "-o", tmp_path / "y.png", *argv)
    assert e.value.code == 2
    assert os.listdir(tmp_path) == []


def test_bad_input_exits_1(tmp_path):
    assert show(tmp_path / "none.json", "-o", tmp_path / "z.png") == 1
    (tmp_path / "bad.json").write_text("{")
    assert show(tmp_path / "bad.json", "-o", tmp_path / "z.png") == 1
    assert sorted(os.listdir(tmp_path)) == ["bad.json"]
