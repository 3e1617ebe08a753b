"""Pins for the SA-1B utilities where no outside oracle exists (issue 24):
selection and ordering rules of SA1BAnnotation, chunked decoding, loading from
every kind of source, the dataset's item order, image handling and argument
rules, the decoder cache's keys and limits, and shard reading edge cases.
Masks are encoded and decoded by pycocotools; every other expected value is
written by hand."""
from __future__ import annotations

import gzip
import io
import json
import os

import numpy as np
import pytest

from _jobs_data import write_tar

from fastrle.sa1b import SA1BDataset, SA1BFormatError, SA1BMaskDecoder, from_dict, iter_shard, load
from fastrle.sa1b.decoder import to_output
from fastrle.sa1b.shard import ShardError, index_shard, read_range

pm = pytest.importorskip("pycocotools.mask")
H, W = 6, 9


def box(y0, y1, x0, x1):
    m = np.zeros((H, W), np.uint8)
    m[y0:y1, x0:x1] = 1
    return m


# four masks: areas 6, 12, 2, 12; ious 0.5, 0.9, 0.9, 0.7; scores 0.3, 0.2, 0.8, 0.2
MASKS = [box(0, 2, 0, 3), box(1, 4, 2, 6), box(5, 6, 7, 9), box(2, 5, 5, 9)]
IOUS = [0.5, 0.9, 0.9, 0.7]
STAB = [0.3, 0.2, 0.8, 0.2]
POINTS = [[[1, 1]], [[2, 3], [4, 5]], [[8, 5]], [[6, 3]]]  # ragged: annotation 1 has two points


def doc(image_id=11, points=POINTS, masks=MASKS):
    anns = []
    for i, m in enumerate(masks):
        r = pm.encode(np.asfortranarray(m))
        anns.append({"id": 100 + i, "segmentation": {"size": [H, W], "counts": r["counts"].decode()},
                     "area": int(m.sum()), "bbox": [float(i), 2.0 * i, 3.0, 4.0 + i],
                     "predicted_iou": IOUS[i % 4], "stability_score": STAB[i % 4], "point_coords": points[i],
                     "crop_box": [0, 0, W, H]})
    return {"image": {"image_id": image_id, "width": W, "height": H, "file_name": f"sa_{image_id}.jpg"},
            "annotations": anns}


def dense(idx):
    return np.stack([MASKS[i] for i in idx]) if len(idx) else np.zeros((0, H, W), np.uint8)


# --- SA1BAnnotation ---------------------------------------------------------------------------


def test_select_gathers_every_field_in_the_order_asked():
    ann = from_dict(doc())
    s = ann.select([3, 0, 1])
    assert len(s) == 3 and s.image_id == 11 and (s.height, s.width) == (H, W)
    assert s.ids.tolist() == [103, 100, 101] and s.areas.tolist() == [12, 6, 12]
    assert s.bboxes.tolist() == [[3, 6, 3, 7], [0, 0, 3, 4], [1, 2, 3, 5]]
    assert s.predicted_ious.tolist() == [0.7, 0.5, 0.9] and s.stability_scores.tolist() == [0.2, 0.3, 0.2]
    pc = s.point_coords  # ragged: a list
    assert [p.tolist() for p in pc] == [[[6, 3]], [[1, 1]], [[2, 3], [4, 5]]]
    assert [r["counts"] for r in s.rles()] == [doc()["annotations"][i]["segmentation"]["counts"] for i in (3, 0, 1)]
    assert np.array_equal(s.decode(), dense([3, 0, 1]))
    b = ann.select(np.array([False, True, False, True]))
    assert b.ids.tolist() == [101, 103] and [p.tolist() for p in b.point_coords] == [[[2, 3], [4, 5]], [[6, 3]]]
    one = ann.select([2, 0])
    assert one.point_coords.shape == (2, 1, 2) and one.point_coords.tolist() == [[[8, 5]], [[1, 1]]]
    none = ann.select([])
    assert len(none) == 0 and none.decode().shape == (0, H, W) and none.point_coords.shape == (0, 1, 2)
    assert repr(ann) == "SA1BAnnotation(image_id=11, size=6x9, masks=4)"
    assert isinstance(ann.point_coords, list) and len(ann.point_coords) == 4  # 1, 2, 1, 1 points


def test_order_ties_are_stable_past_numpy_small_sort():
    """60 masks with 3 distinct scores: numpy's unstable sort reorders ties only
    past 16 elements; the expected order is Python's stable sorted()."""
    rng = np.random.default_rng(24)
    ious = rng.choice([0.5, 0.7, 0.9], 60).tolist()
    d = doc(masks=[MASKS[i % 4] for i in range(60)], points=[[[0, 0]]] * 60)
    for a, v in zip(d["annotations"], ious):
        a["predicted_iou"] = v
    ann = from_dict(d)
    want = sorted(range(60), key=lambda i: -ious[i])
    assert ann.order(top_k=60).tolist() == want
    rev = list(range(59, -1, -1))
    assert ann.order(rev, top_k=45).tolist() == sorted(rev, key=lambda i: -ious[i])[:45]


def test_order_rules_by_hand():
    ann = from_dict(doc())
    assert ann.order().tolist() == [0, 1, 2, 3]
    assert ann.order(top_k=2).tolist() == [1, 2]  # 0.9, 0.9: the tie in file order
    assert ann.order([2, 1, 3], top_k=2).tolist() == [2, 1]  # the tie in the order of indices
    assert ann.order(top_k=3, sort_by="stability_score").tolist() == [2, 0, 1]
    assert ann.order(top_k=3, sort_by="area").tolist() == [1, 3, 0]
    assert ann.order([3, 0, 2], top_k=2, sort_by=None).tolist() == [3, 0]
    assert ann.order(top_k=0).tolist() == [] and ann.order(top_k=9).tolist() == [1, 2, 3, 0]
    assert ann.order([-1, -4]).tolist() == [3, 0]
    assert ann.order(np.array([True, False, True, False])).tolist() == [0, 2]
    assert ann.order([]).tolist() == []
    for bad, exc in (([True, False], ValueError), ([0.5], TypeError), ([[0, 1]], TypeError), ([4], IndexError),
                     ([-5], IndexError)):
        with pytest.raises(exc):
            ann.order(bad)
    with pytest.raises(ValueError, match="top_k must be a non-negative int or None, got -1"):
        ann.order(top_k=-1)
    for k in (True, 1.5, "1"):  # the one int rule: _args.int_arg
        with pytest.raises(TypeError, match="top_k must be a non-negative int or None, got"):
            ann.order(top_k=k)
    with pytest.raises(ValueError, match="sort_by must be one of"):
        ann.order(top_k=1, sort_by="score")


def test_iter_chunks_sizes_and_contents():
    ann = from_dict(doc())
    got = [(i.tolist(), m.copy()) for i, m in ann.iter_chunks(3)]
    assert [i for i, _ in got] == [[0, 1, 2], [3]]
    assert all(np.array_equal(m, dense(i)) for i, m in got)
    got = [(i.tolist(), m.copy()) for i, m in ann.iter_chunks(2, top_k=3)]
    assert [i for i, _ in got] == [[1, 2], [3]] and np.array_equal(got[1][1], dense([3]))
    assert list(ann.iter_chunks(2, indices=[])) == []
    with pytest.raises(ValueError, match="chunk_size must be a positive int, got 0"):
        list(ann.iter_chunks(0))
    for bad in (True, 2.0):
        with pytest.raises(TypeError, match="chunk_size must be a positive int, got"):
            list(ann.iter_chunks(bad))
    with pytest.raises(ValueError, match=r"out must be a C-contiguous uint8 array of shape \(2, 6, 9\)"):
        list(ann.iter_chunks(2, out=np.zeros((3, H, W), np.uint8)))


def test_load_from_every_kind_of_source(tmp_path):
    d = doc()
    p = tmp_path / "a.json"
    p.write_text(json.dumps(d))
    for src in (str(p), p, json.dumps(d).encode(), bytearray(json.dumps(d).encode()), d,
                io.BytesIO(json.dumps(d).encode()), io.StringIO(json.dumps(d))):
        a = load(src)
        assert a.ids.tolist() == [100, 101, 102, 103] and a.file_name == "sa_11.jpg"
    with pytest.raises(TypeError, match="load\\(\\) takes a path, a file object, JSON bytes or a dict, got int"):
        load(5)
    with pytest.raises(SA1BFormatError, match="^sa1b: not valid JSON"):
        load(b"{nope")


# --- SA1BDataset ---------------------------------------------------------------------------------


def _jpeg(h, w, value):
    from PIL import Image

    b = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(b, format="JPEG", quality=95)
    return b.getvalue()


def test_dataset_item_order_images_and_fields(tmp_path):
    """A directory: its *.json and *.tar together in name order (shards expanded
    in archive order); a JSON's image is the .jpg of its stem; 'none' reads no image."""
    pytest.importorskip("PIL.Image")
    d = tmp_path / "d"
    d.mkdir()
    (d / "b.json").write_text(json.dumps(doc(2)))
    (d / "b.jpg").write_bytes(_jpeg(H, W, 40))
    (d / "d.json").write_text(json.dumps(doc(4)))  # no image
    write_tar(d / "c.tar", [("sa_3.json", json.dumps(doc(3)).encode()), ("sa_3.jpg", _jpeg(H, W, 90)),
                            ("sa_5.json", json.dumps(doc(5)).encode())])
    write_tar(d / "a.tar", [("sa_1.json", json.dumps(doc(1)).encode())])
    (d / "x.txt").write_text("ignored")
    ds = SA1BDataset(str(d), format="numpy", image="bytes")
    assert [ds[i]["image_id"] for i in range(len(ds))] == [1, 2, 3, 5, 4]
    assert [ds[i]["image"] is None for i in range(len(ds))] == [True, False, False, True, True]
    assert ds[1]["image"] == (d / "b.jpg").read_bytes()
    assert all(SA1BDataset(str(d), format="numpy", image="none")[i]["image"] is None for i in range(5))
    dec = SA1BDataset(str(d / "b.json"), format="numpy", image="decode", output_size=(4, 12), max_masks=2,
                      sort_by="area")
    it = dec[0]
    assert it["image"].shape == (4, 12, 3) and abs(int(it["image"].astype(int).mean()) - 40) <= 2
    assert it["indices"].tolist() == [1, 3] and it["masks"].shape == (2, 4, 12)
    assert it["predicted_ious"].tolist() == [0.9, 0.7] and it["stability_scores"].tolist() == [0.2, 0.2]
    assert np.allclose(it["bboxes"], [[1 * 12 / 9, 2 * 4 / 6, 3 * 12 / 9, 5 * 4 / 6],
                                      [3 * 12 / 9, 6 * 4 / 6, 3 * 12 / 9, 7 * 4 / 6]], rtol=1e-12, atol=0)
    full = SA1BDataset(str(d / "b.json"), format="numpy", image="none")[0]
    assert np.array_equal(full["masks"], dense([0, 1, 2, 3]))
    assert full["bboxes"].tolist() == [[0, 0, 3, 4], [1, 2, 3, 5], [2, 4, 3, 6], [3, 6, 3, 7]]
    area = SA1BDataset(str(d / "b.json"), format="numpy", image="none", output_size=(3, 3), mask_mode="area")[0]
    assert area["masks"].dtype == np.float32 and area["masks"].shape == (4, 3, 3)
    assert SA1BDataset.collate([1, 2]) == [1, 2]


def test_dataset_torch_fields():
    torch = pytest.importorskip("torch")
    import tempfile

    with tempfile.TemporaryDirectory() as t:
        p = os.path.join(t, "a.json")
        with open(p, "w") as f:
            json.dump(doc(), f)
        it = SA1BDataset(p, image="none", max_masks=1)[0]
    assert it["image"] is None and it["image_id"] == 11
    assert {k: type(v) for k, v in it.items() if k not in ("image", "image_id")} == \
        {k: torch.Tensor for k in ("masks", "indices", "bboxes", "predicted_ious", "stability_scores")}
    assert it["indices"].tolist() == [1] and it["masks"].dtype == torch.uint8
    assert torch.equal(it["masks"], torch.from_numpy(dense([1])))


@pytest.mark.parametrize("kw, message", [
    ({"image": "jpeg"}, "image must be 'bytes', 'decode' or 'none'"),
    ({"format": "tf"}, "format must be 'torch' or 'numpy'"),
    ({"output_size": (0, 5)}, "output_size must be positive"),
    ({"output_size": (5, 0)}, "output_size must be positive"),
    ({"mask_mode": "bilinear"}, "mask_mode must be one of"),
])
def test_dataset_argument_errors(tmp_path, kw, message):
    p = tmp_path / "a.json"
    p.write_text(json.dumps(doc()))
    with pytest.raises(ValueError, match=message):
        SA1BDataset(str(p), **kw)


def test_dataset_missing_source(tmp_path):
    with pytest.raises(FileNotFoundError, match="SA1BDataset: no such file or directory: "):
        SA1BDataset([str(tmp_path / "nope.json")])


# --- SA1BMaskDecoder ---------------------------------------------------------------------------------


def test_decoder_cache_keys_limits_and_clear(tmp_path, monkeypatch):
    p = tmp_path / "a.json"
    p.write_text(json.dumps(doc()))
    size = 4 * H * W
    dec = SA1BMaskDecoder(cache_decoded=size)
    first = dec(str(p))
    assert np.array_equal(first.masks, dense([0, 1, 2, 3])) and not first.masks.flags.writeable
    monkeypatch.chdir(tmp_path)
    assert dec("a.json") is first and dec(p) is first  # one key: the absolute path
    assert dec.cache_info() == {"hits": 2, "misses": 1, "entries": 1, "bytes": size, "max_bytes": size}
    dec(json.dumps(doc()).encode()), dec(doc()), dec(from_dict(doc()))  # not paths: never cached
    assert dec.cache_info()["hits"] == 2 and dec.cache_info()["misses"] == 1
    dec.clear()
    assert dec.cache_info() == {"hits": 2, "misses": 1, "entries": 0, "bytes": 0, "max_bytes": size}
    assert dec(str(p)) is not first and dec.misses == 2
    small = SA1BMaskDecoder(cache_decoded=size - 1)  # a result larger than the budget: not cached
    r = small(str(p))
    assert r.masks.flags.writeable and small.cache_info()["entries"] == 0 and small.cache_info()["bytes"] == 0
    off = SA1BMaskDecoder()  # no cache: counts nothing
    off(str(p)), off(str(p))
    assert off.cache_info() == {"hits": 0, "misses": 0, "entries": 0, "bytes": 0, "max_bytes": 0}
    top = SA1BMaskDecoder(max_masks=2, sort_by="stability_score", size=(3, 18))(str(p))
    assert top.indices.tolist() == [2, 0] and top.masks.shape == (2, 3, 18)
    assert np.array_equal(top.masks, dense([2, 0])[:, ::2, :].repeat(2, axis=2))  # nearest: rows 0,2,4; cols doubled


def test_decoder_argument_errors():
    with pytest.raises(ValueError, match="cache_decoded must be a byte count >= 0, got -1"):
        SA1BMaskDecoder(cache_decoded=-1)
    with pytest.raises(ValueError, match="output must be 'array' or 'torch', got 'list'"):
        SA1BMaskDecoder(output="list")
    with pytest.raises(ValueError, match="mode must be one of"):
        SA1BMaskDecoder(mode="linear")
    with pytest.raises(ValueError, match="output must be 'array' or 'torch', got 'x'"):
        to_output(np.zeros(1), "x")
    a = np.zeros(3)
    assert to_output(a, "array") is a


# --- shards ------------------------------------------------------------------------------------------


def test_shard_edge_cases(tmp_path):
    j1, j2 = json.dumps(doc(1)).encode(), json.dumps(doc(2)).encode()
    path = write_tar(tmp_path / "s.tar", [("sa_1", None), ("sa_1.jpeg", b"J1"), ("sa_1.json", j1),
                                          ("dir.json", None), ("sa_2.json", j2), ("sa_2.JPG", b"J2")])
    assert [(i, j) for i, j, _ in iter_shard(path)] == [(1, b"J1"), (2, b"J2")]
    assert [(i, j) for i, j, _ in iter_shard(path, images=False)] == [(1, None), (2, None)]
    with open(path, "rb") as f:
        assert [(i, j) for i, j, _ in iter_shard(f)] == [(1, b"J1"), (2, b"J2")]
    idx = index_shard(path)
    assert [s for s, _, _ in idx] == ["sa_1", "sa_2"]
    with open(path, "rb") as f:
        assert [read_range(f, *jp) for _, _, jp in idx] == [b"J1", b"J2"]
        assert read_range(f, *idx[1][1]) == j2
        end = os.path.getsize(path)
        with pytest.raises(ShardError, match=f"short read at byte {end - 3}"):
            read_range(f, end - 3, 10)
    gz = tmp_path / "s.tar.gz"
    gz.write_bytes(gzip.compress(open(path, "rb").read()))
    assert [i for i, _, _ in iter_shard(str(gz))] == [1, 2]
    with pytest.raises(ShardError, match="not an uncompressed tar archive"):
        index_shard(str(gz))
    with pytest.raises(TypeError, match="iter_shard\\(\\) takes a path or a binary file object, got int"):
        next(iter_shard(3))
    bad = write_tar(tmp_path / "b.tar", [("sa_9.json", b"{]")])
    with pytest.raises(SA1BFormatError, match=f"^{bad}:sa_9.json: "):
        list(iter_shard(bad))


def test_annotation_decode_options_and_features_by_hand():
    ann = from_dict(doc())
    assert np.array_equal(ann.decode(top_k=2, sort_by="area"), dense([1, 3]))
    assert np.array_equal(ann.decode(indices=[2, 0], flip="h"), dense([2, 0])[:, :, ::-1])
    assert np.array_equal(ann.decode(indices=[3], flip="v"), dense([3])[:, ::-1])
    assert np.array_equal(ann.decode(packed=True), np.packbits(dense([0, 1, 2, 3]), axis=-1))
    assert np.array_equal(ann.decode(packed=True, bitorder="little"),
                          np.packbits(dense([0, 1, 2, 3]), axis=-1, bitorder="little"))
    assert np.array_equal(ann.decode(indices=[1], size=(3, 9)), dense([1])[:, ::2])  # nearest: rows 0, 2, 4
    buf = np.full((2, H, W), 9, np.uint8)
    assert ann.decode(buf, indices=[3, 1]) is buf and np.array_equal(buf, dense([3, 1]))
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:N', got 'tpu'"):
        ann.decode(device="tpu")
    # masks 0 (rows 0-1, cols 0-2) and 1 (rows 1-3, cols 2-5) share one pixel, (1, 2)
    assert ann.centroids()[:2].tolist() == [[1.0, 0.5], [3.5, 2.0]]
    c = ann.containment()
    assert c.shape == (4, 4) and c[0, 1] == 1 / 12 and c[1, 0] == 1 / 6 and c[2, 2] == 1.0 and c[0, 2] == 0.0
    iou = ann.iou_matrix()
    assert iou[0, 1] == iou[1, 0] == 1 / 17 and iou[3, 3] == 1.0


@pytest.mark.parametrize("h, w, oh, ow", [(2, 5, 41, 93), (3, 2, 40, 200), (5, 4, 9, 7)])
def test_resize_nearest_picks_torchs_kernel_by_the_sum_of_both_sides(h, w, oh, ow):
    """torch's nearest-exact uses one kernel up to oh + ow = 128 and another
    above; these sizes (2 * oh <= 128 < oh + ow) give different maps."""
    torch = pytest.importorskip("torch")
    m = (np.random.default_rng(h * w).random((2, h, w)) < 0.5).astype(np.uint8)
    want = torch.nn.functional.interpolate(torch.from_numpy(m)[:, None].float(), size=(oh, ow),
                                           mode="nearest-exact")[:, 0].numpy().astype(np.uint8)
    from fastrle.sa1b.dataset import resize_nearest

    assert np.array_equal(resize_nearest(m, (oh, ow)), want)
