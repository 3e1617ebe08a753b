"""SA-1B utilities where no outside oracle exists (issue 24): the decoder
cache (invalidation on change, eviction, LRU), the dataset's boxes after
``output_size`` (every column) and index bounds, and shards with missing,
extra or reordered members. Expected values are written by hand."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from _jobs_data import write_tar

from fastrle import synthetic
from fastrle.sa1b import SA1BDataset, SA1BMaskDecoder, from_dict, iter_shard
from fastrle.sa1b.dataset import resize_nearest
from fastrle.sa1b.shard import index_shard, iter_json_members


def doc(image_id, n=3, h=30, w=50, seed=0):
    return synthetic.sa1b_image_dict(synthetic.sa1b_like(n, h, w, seed=seed), image_id=image_id, seed=seed)


def js(d):
    return json.dumps(d).encode()


# ---------------------------------------------------------------- decoder cache


def test_cache_sees_a_same_size_edit(tmp_path):
    d = doc(1, n=4)
    p = tmp_path / "a.json"

    def put(scores, bump):
        for a, v in zip(d["annotations"], scores):
            a["predicted_iou"] = v
        p.write_bytes(js(d))
        st = os.stat(p)
        os.utime(p, ns=(st.st_atime_ns, 1_000_000_000_000 + bump * 1_000_000_000))
        return st.st_size

    dec = SA1BMaskDecoder(max_masks=1, cache_decoded=1 << 20)
    n0 = put((0.5, 0.9, 0.7, 0.6), 0)
    assert dec(str(p)).indices.tolist() == [1]
    assert dec(str(p)).indices.tolist() == [1] and dec.hits == 1
    assert put((0.5, 0.6, 0.7, 0.9), 1) == n0  # the same bytes count, a later mtime
    assert dec(str(p)).indices.tolist() == [3]  # a fresh decode, not the cached [1]
    assert dec.cache_info()["misses"] == 2


def _files(tmp_path, k, n=2):
    out = []
    for i in range(k):
        p = tmp_path / f"f{i}.json"
        p.write_bytes(js(doc(i, n=n, seed=i)))
        out.append(str(p))
    return out


def test_cache_eviction_budget_and_lru(tmp_path):
    a, b, c = _files(tmp_path, 3)
    size = 2 * 30 * 50  # one file's masks: 2 x 30 x 50 bytes
    exact = SA1BMaskDecoder(cache_decoded=size)
    exact(a)
    assert exact.cache_info()["entries"] == 1 and exact.cache_info()["bytes"] == size
    lru = SA1BMaskDecoder(cache_decoded=2 * size)
    lru(a), lru(b), lru(a), lru(c)  # b is the least recently used: evicted
    assert lru.cache_info()["entries"] == 2
    lru(a)
    assert (lru.hits, lru.misses) == (2, 3)
    lru(b)
    assert lru.misses == 4
    # one big result evicts every small one
    big = tmp_path / "big.json"
    big.write_bytes(js(doc(9, n=8, seed=9)))  # 4 sizes: the whole budget
    two = SA1BMaskDecoder(cache_decoded=4 * size)
    two(a), two(b), two(c), two(str(big))
    info = two.cache_info()
    assert info["bytes"] <= info["max_bytes"] and info["entries"] == 1 and info["bytes"] == 4 * size


# ---------------------------------------------------------------- dataset


def test_dataset_boxes_every_column_and_index_bounds(tmp_path):
    d = doc(3, n=5, h=30, w=50, seed=4)
    (tmp_path / "x.json").write_bytes(js(d))
    ds = SA1BDataset(str(tmp_path / "x.json"), format="numpy", image="none", output_size=(45, 20))
    item = ds[0]
    raw = np.array([a["bbox"] for a in d["annotations"]], np.float64)
    want = raw * np.array([20 / 50, 45 / 30, 20 / 50, 45 / 30])
    order = item["indices"].tolist()
    assert np.allclose(item["bboxes"], want[order], rtol=1e-12, atol=0)
    assert item["masks"].shape == (5, 45, 20)
    assert ds[-1]["image_id"] == 3  # -len(ds) is the first item
    for bad in (1, -2):
        with pytest.raises(IndexError):
            ds[bad]


def test_resize_nearest_matches_torch_on_both_kernels():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(5)
    wide, narrow = (rng.random((2, 50, 60)) < 0.5).astype(np.uint8), (rng.random((2, 50, 2)) < 0.5).astype(np.uint8)
    # oh + ow on both sides of 128; width 2 -> 41 or 55 is where torch's two kernels differ
    # (and 2 * ow <= 128 < oh + ow: the kernel must be picked from oh + ow)
    for masks, size in ((wide, (100, 40)), (wide, (40, 100)), (wide, (30, 20)), (wide, (7, 130)),
                        (narrow, (100, 41)), (narrow, (90, 55))):
        want = torch.nn.functional.interpolate(torch.from_numpy(masks)[:, None].float(), size=size,
                                               mode="nearest-exact")[:, 0].numpy().astype(np.uint8)
        assert np.array_equal(resize_nearest(masks, size), want), size


def test_annotation_index_bounds_both_ends():
    ann = from_dict(doc(1, n=4))
    assert ann.order([-4, 3]).tolist() == [0, 3]
    for bad in ([4], [-5]):
        with pytest.raises((IndexError, ValueError)):
            ann.order(bad)
        with pytest.raises((IndexError, ValueError)):
            ann.decode(indices=bad)


# ---------------------------------------------------------------- shards


def test_shard_missing_extra_and_reordered_members(tmp_path):
    d1, d2, d3, d4 = doc(1), doc(2, seed=1), doc(3, seed=2), doc(4, seed=3)
    members = [("sa_1.json", js(d1)), ("sa_1.jpg", b"J1"),   # JSON before its JPEG
               ("sa_2.json", js(d2)),                        # no JPEG
               ("sa_5.jpg", b"J5"),                          # no JSON
               ("notes.txt", b"x"),                          # extra member
               ("sa_3.jpg", b"J3"), ("sa_3.JSON", js(d3)),   # upper-case extension
               ("sa_6.jpg", b"J6"), ("sa_4.json", js(d4))]   # a lone JPEG, then a lone JSON
    path = write_tar(tmp_path / "s.tar", members)
    got = [(iid, jpeg) for iid, jpeg, _ in iter_shard(path)]
    want = [(1, b"J1"), (2, None), (3, b"J3"), (4, None)]
    assert got == want
    assert [iid for iid, _, _ in iter_shard(path, images=False)] == [1, 2, 3, 4]
    assert [n for n, _ in iter_json_members(path)] == ["sa_1.json", "sa_2.json", "sa_3.JSON", "sa_4.json"]
    idx = index_shard(path)
    assert [(s, jp is None) for s, _, jp in idx] == [("sa_1", False), ("sa_2", True), ("sa_3", False),
                                                     ("sa_4", True)]
    ds = SA1BDataset(path, format="numpy", image="bytes")
    assert [(ds[i]["image_id"], ds[i]["image"]) for i in range(len(ds))] == want
