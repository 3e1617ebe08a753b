"""fastrle.sa1b: reader, ragged decode, shards, dataset and caching decoder."""
import copy
import gzip
import io
import json
import tarfile

import numpy as np
import pytest

import fastrle
from fastrle import sa1b, synthetic
from fastrle.synthetic import sa1b_image_dict as make_sa1b_dict

pm = pytest.importorskip("pycocotools.mask")

H, W = 150, 225


def _jpeg(seed, h=H, w=W):
    from PIL import Image

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buf, format="JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def objs():
    """Three SA-1B-format images: 12 masks, 0 masks, 30 masks."""
    a = make_sa1b_dict(synthetic.sa1b_like(12, H, W, seed=1), image_id=1, seed=1)
    b = make_sa1b_dict([], image_id=2)
    b["image"].update(width=W, height=H)
    c = make_sa1b_dict(synthetic.sa1b_like(30, H, W, seed=2), image_id=3, seed=2)
    return [a, b, c]


def ref_decode(obj, idx=None):
    anns = obj["annotations"]
    idx = range(len(anns)) if idx is None else idx
    if len(idx) == 0:
        return np.zeros((0, H, W), np.uint8)
    return np.stack([pm.decode(anns[i]["segmentation"]) for i in idx])


def best(obj, k, key="predicted_iou", among=None):
    """The top-k oracle, from the JSON itself with sorted() and explicit
    (descending value, file index) keys: ties in file order."""
    anns = obj["annotations"]
    cand = range(len(anns)) if among is None else among
    return sorted(cand, key=lambda i: (-anns[i][key], i))[:k]


def write_json(tmp_path, obj, jpeg=True):
    p = tmp_path / f"sa_{obj['image']['image_id']}.json"
    p.write_text(json.dumps(obj))
    if jpeg:
        (tmp_path / f"sa_{obj['image']['image_id']}.jpg").write_bytes(_jpeg(obj["image"]["image_id"]))
    return p


def make_tar(members, compress=False):
    """Tar bytes from (name, bytes) pairs."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    data = raw.getvalue()
    return gzip.compress(data) if compress else data


def shard_members(objs, json_first=False):
    out = []
    for o in objs:
        i = o["image"]["image_id"]
        pair = [(f"sa_{i}.jpg", _jpeg(i)), (f"sa_{i}.json", json.dumps(o).encode())]
        out += pair[::-1] if json_first else pair
    return out


# --- load and metadata ---------------------------------------------------------


def check_meta(ann, obj):
    anns = obj["annotations"]
    assert ann.image == obj["image"] and ann.image_id == obj["image"]["image_id"]
    assert (ann.height, ann.width) == (obj["image"]["height"], obj["image"]["width"])
    assert len(ann) == len(anns)
    np.testing.assert_array_equal(ann.ids, [a["id"] for a in anns])
    np.testing.assert_array_equal(ann.areas, [a["area"] for a in anns])
    np.testing.assert_array_equal(ann.bboxes.reshape(-1, 4), np.array([a["bbox"] for a in anns]).reshape(-1, 4))
    np.testing.assert_array_equal(ann.crop_boxes.reshape(-1, 4),
                                  np.array([a["crop_box"] for a in anns]).reshape(-1, 4))
    np.testing.assert_array_equal(ann.predicted_ious, [a["predicted_iou"] for a in anns])
    np.testing.assert_array_equal(ann.stability_scores, [a["stability_score"] for a in anns])
    np.testing.assert_array_equal(ann.point_coords.reshape(-1, 1, 2),
                                  np.array([a["point_coords"] for a in anns]).reshape(-1, 1, 2))
    assert ann.bboxes.dtype == np.float64 and ann.ids.dtype == np.int64
    for i, a in enumerate(anns):
        assert ann.rle(i)["counts"] == a["segmentation"]["counts"]


def test_load_all_source_kinds(tmp_path, objs):
    p = write_json(tmp_path, objs[0], jpeg=False)
    for src in (p, str(p), p.read_bytes(), io.BytesIO(p.read_bytes()), io.StringIO(p.read_text()), objs[0]):
        check_meta(sa1b.load(src), objs[0])


def test_json_module_fallback(monkeypatch, objs):
    from fastrle import fileio

    monkeypatch.setattr(fileio, "_orjson", None)  # the one JSON backend choice, in fastrle.fileio
    assert sa1b.json_backend() == "json"
    ann = sa1b.load(json.dumps(objs[2]).encode())
    check_meta(ann, objs[2])
    np.testing.assert_array_equal(ann.decode(), ref_decode(objs[2]))


def test_decode_matches_pycocotools(objs):
    for obj in objs:
        ann = sa1b.load(obj)
        np.testing.assert_array_equal(ann.decode(), ref_decode(obj))
        np.testing.assert_array_equal(ann.decode(threads=2), ref_decode(obj))
    warm = np.ones((30, H, W), np.uint8)
    out = sa1b.load(objs[2]).decode(out=warm)
    assert out is warm
    np.testing.assert_array_equal(warm, ref_decode(objs[2]))


def test_top_k_and_indices(objs):
    obj = objs[2]
    ann = sa1b.load(obj)
    top5 = best(obj, 5)
    np.testing.assert_array_equal(ann.order(top_k=5), top5)
    np.testing.assert_array_equal(ann.decode(top_k=5), ref_decode(obj, top5))
    by_area = best(obj, 3, "area")
    np.testing.assert_array_equal(ann.decode(top_k=3, sort_by="area"), ref_decode(obj, by_area))
    by_stab = best(obj, 4, "stability_score")
    np.testing.assert_array_equal(ann.decode(top_k=4, sort_by="stability_score"), ref_decode(obj, by_stab))
    np.testing.assert_array_equal(ann.decode(indices=[4, 0, 7]), ref_decode(obj, [4, 0, 7]))
    # top_k ranks within the given indices
    sub = [1, 2, 3]
    np.testing.assert_array_equal(ann.order(indices=sub, top_k=2), best(obj, 2, among=sub))
    assert len(ann.decode(top_k=100)) == 30
    with pytest.raises(ValueError, match="sort_by"):
        ann.decode(top_k=2, sort_by="bogus")
    with pytest.raises(IndexError):
        ann.decode(indices=[30])


# Hand-made image for the ranking rules: six 8x10 masks (row bands, all
# different) whose keys tie on purpose. Expected orders below are written out
# by hand: descending key, ties in file order.
TIED_ROWS = [(0, 3), (0, 5), (1, 6), (7, 8), (1, 8), (3, 8)]   # rows [a, b) x all 10 columns
TIED_IOU = [0.5, 0.9, 0.7, 0.9, 0.5, 0.9]
TIED_STABILITY = [0.8, 0.1, 0.95, 0.3, 0.95, 0.2]
TIED_AREA = [30, 50, 50, 10, 70, 50]


@pytest.fixture(scope="module")
def tied():
    masks = np.zeros((6, 8, 10), np.uint8)
    for i, (a, b) in enumerate(TIED_ROWS):
        masks[i, a:b] = 1
    assert masks.reshape(6, -1).sum(1).tolist() == TIED_AREA
    obj = make_sa1b_dict(fastrle.encode(masks), image_id=9, seed=9)
    for a, iou, st in zip(obj["annotations"], TIED_IOU, TIED_STABILITY):
        a["predicted_iou"], a["stability_score"] = iou, st
    return obj, masks


@pytest.mark.parametrize("sort_by,top_k,want", [
    ("predicted_iou", 4, [1, 3, 5, 2]),          # 0.9 x3 in file order, then 0.7
    ("predicted_iou", 6, [1, 3, 5, 2, 0, 4]),
    ("predicted_iou", 1, [1]),
    ("stability_score", 3, [2, 4, 0]),           # 0.95 x2 in file order, then 0.8
    ("stability_score", 6, [2, 4, 0, 3, 5, 1]),
    ("area", 4, [4, 1, 2, 5]),                   # 70, then 50 x3 in file order
    ("area", 6, [4, 1, 2, 5, 0, 3]),
    (None, 3, [0, 1, 2]),                        # no ranking: file order
    (None, 9, [0, 1, 2, 3, 4, 5]),
    ("predicted_iou", 0, []),
])
def test_top_k_ties_in_file_order(tied, sort_by, top_k, want):
    obj, masks = tied
    ann = sa1b.load(obj)
    got = ann.order(top_k=top_k, sort_by=sort_by)
    assert got.dtype == np.int64 and got.tolist() == want
    np.testing.assert_array_equal(ann.decode(top_k=top_k, sort_by=sort_by), masks[want])
    if sort_by is not None:
        assert best(obj, top_k, sort_by) == want  # the sorted() oracle agrees
    chunks = [(i.copy(), m.copy()) for i, m in ann.iter_chunks(2, top_k=top_k, sort_by=sort_by)]
    assert [int(x) for i, _ in chunks for x in i] == want
    if want:
        np.testing.assert_array_equal(np.concatenate([m for _, m in chunks]), masks[want])


@pytest.mark.parametrize("indices,sort_by,top_k,want", [
    ([5, 2, 0], "predicted_iou", 2, [5, 2]),     # unsorted candidates, distinct keys
    ([0, 3, 2], "stability_score", 2, [2, 0]),
    ([3, 4, 1], "area", 2, [4, 1]),
    ([2, 0, 4], "area", 3, [4, 2, 0]),
    ([5, 0, 3], None, 2, [5, 0]),                # sort_by=None keeps the given order
    ([-1, -6], None, 2, [5, 0]),                 # negative indices count from the end
    ([True, False, True, True, False, True], "predicted_iou", 2, [3, 5]),  # a boolean mask
    ([4, 1, 3], None, None, [4, 1, 3]),          # no top_k: the indices as given
])
def test_top_k_within_unsorted_indices(tied, indices, sort_by, top_k, want):
    obj, masks = tied
    ann = sa1b.load(obj)
    sel = np.array(indices)
    assert ann.order(indices=sel, top_k=top_k, sort_by=sort_by).tolist() == want
    np.testing.assert_array_equal(ann.decode(indices=sel, top_k=top_k, sort_by=sort_by), masks[want])


def test_dataset_and_decoder_rank_by_the_chosen_key(tmp_path, tied):
    obj, masks = tied
    d = tmp_path / "tied"
    d.mkdir()
    p = write_json(d, obj, jpeg=False)
    for sort_by, k, want in (("predicted_iou", 4, [1, 3, 5, 2]), ("stability_score", 3, [2, 4, 0]),
                             ("area", 2, [4, 1]), (None, 2, [0, 1])):
        it = sa1b.SA1BDataset(d, max_masks=k, sort_by=sort_by, format="numpy", image="none")[0]
        assert it["indices"].tolist() == want
        np.testing.assert_array_equal(it["masks"], masks[want])
        np.testing.assert_array_equal(it["predicted_ious"], np.array(TIED_IOU)[want])
        r = sa1b.SA1BMaskDecoder(max_masks=k, sort_by=sort_by)(p)
        assert r.indices.tolist() == want
        np.testing.assert_array_equal(r.masks, masks[want])


def test_select(objs):
    obj = objs[2]
    ann = sa1b.load(obj)
    keep = ann.predicted_ious >= 0.88
    assert 0 < keep.sum() < len(ann)
    sel = ann.select(keep)
    idx = np.flatnonzero(keep)
    sub = copy.deepcopy(obj)
    sub["annotations"] = [obj["annotations"][i] for i in idx]
    check_meta(sel, sub)
    np.testing.assert_array_equal(sel.decode(), ref_decode(obj, idx))
    big = ann.select(ann.areas > 500)
    assert (big.areas > 500).all() and len(big) == int((ann.areas > 500).sum())
    rev = ann.select([5, 1])  # index arrays reorder
    np.testing.assert_array_equal(rev.ids, ann.ids[[5, 1]])
    np.testing.assert_array_equal(rev.decode(), ref_decode(obj, [5, 1]))
    with pytest.raises(ValueError, match="shape"):
        ann.select(np.ones(3, bool))


def test_iter_chunks_reuses_one_buffer(objs):
    obj = objs[2]
    ann = sa1b.load(obj)
    seen, bases = [], set()
    for idx, masks in ann.iter_chunks(8):
        assert len(masks) == len(idx) <= 8
        bases.add(masks.__array_interface__["data"][0])
        seen.append((idx.copy(), masks.copy()))
    assert len(bases) == 1 and len(seen) == 4
    np.testing.assert_array_equal(np.concatenate([i for i, _ in seen]), np.arange(30))
    np.testing.assert_array_equal(np.concatenate([m for _, m in seen]), ref_decode(obj))
    buf = np.empty((4, H, W), np.uint8)
    got = [(i.copy(), m.copy()) for i, m in ann.iter_chunks(4, buf, top_k=6)]
    np.testing.assert_array_equal(np.concatenate([i for i, _ in got]), best(obj, 6))
    np.testing.assert_array_equal(np.concatenate([m for _, m in got]), ref_decode(obj, best(obj, 6)))
    with pytest.raises(ValueError, match="shape"):
        next(ann.iter_chunks(5, buf))


def test_zero_masks(objs):
    ann = sa1b.load(json.dumps(objs[1]).encode())
    assert len(ann) == 0
    assert ann.decode().shape == (0, H, W)
    assert ann.bboxes.shape == (0, 4) and ann.point_coords.shape == (0, 1, 2)
    assert list(ann.iter_chunks(4)) == []
    assert ann.centroids().shape == (0, 2) and ann.containment().shape == (0, 0)
    assert len(ann.select(np.zeros(0, bool))) == 0


# --- malformed files --------------------------------------------------------------


def _broken(objs, path, value, delete=False):
    o = copy.deepcopy(objs[0])
    *parents, last = path
    tgt = o
    for k in parents:
        tgt = tgt[k]
    if delete:
        del tgt[last]
    else:
        tgt[last] = value
    return json.dumps(o).encode()


@pytest.mark.parametrize("path,value,delete,field,index", [
    (("annotations", 3, "bbox"), None, True, "bbox", 3),
    (("annotations", 4, "bbox"), [1, 2, 3], False, "bbox", 4),
    (("annotations", 5, "predicted_iou"), "high", False, "predicted_iou", 5),
    (("annotations", 2, "id"), 1.5, False, "id", 2),
    (("annotations", 6, "segmentation"), None, True, "segmentation", 6),
    (("annotations", 7, "segmentation", "counts"), None, True, "segmentation.counts", 7),
    (("annotations", 8, "segmentation", "size"), [H, W + 1], False, "segmentation.size", 8),
    (("annotations", 9, "segmentation", "counts"), 17, False, "segmentation.counts", 9),
    (("annotations", 10, "point_coords"), [[1, 2, 3]], False, "point_coords", 10),
    (("annotations", 11, "crop_box"), "full", False, "crop_box", 11),
    (("annotations", 1, "stability_score"), None, True, "stability_score", 1),
    (("annotations", 0, "area"), None, False, "area", 0),
    (("image", "height"), None, True, "image.height", None),
    (("image", "width"), -3, False, "image.width", None),
    (("annotations",), {"not": "a list"}, False, "annotations", None),
])
def test_malformed_field_named(objs, path, value, delete, field, index):
    with pytest.raises(sa1b.SA1BFormatError) as ei:
        sa1b.load(_broken(objs, path, value, delete))
    assert isinstance(ei.value, ValueError)
    assert ei.value.field == field and ei.value.index == index
    assert repr(field.split(".")[-1])[1:-1] in str(ei.value)
    if index is not None:
        assert f"annotation {index}" in str(ei.value)


def test_not_json_and_not_object():
    with pytest.raises(sa1b.SA1BFormatError, match="not valid JSON"):
        sa1b.load(b'{"image": ')
    with pytest.raises(sa1b.SA1BFormatError, match="JSON object"):
        sa1b.load(b"[1, 2]")
    with pytest.raises(sa1b.SA1BFormatError, match="'annotations'"):
        sa1b.load(b'{"image": {}}')


def test_bad_counts_string_named_at_decode(objs):
    data = _broken(objs, ("annotations", 7, "segmentation", "counts"), "0000")
    ann = sa1b.load(data)  # counts are checked when decoded
    with pytest.raises(fastrle.RLEError, match="annotation 7") as ei:
        ann.decode()
    assert ei.value.index == 7
    with pytest.raises(fastrle.RLEError, match="annotation 7"):
        ann.decode(indices=[7, 0])


# --- shards ---------------------------------------------------------------------


def test_iter_shard_streams_pairs(tmp_path, objs):
    members = shard_members(objs) + [("README.txt", b"hello")]
    p = tmp_path / "sa_000000.tar"
    p.write_bytes(make_tar(members))
    got = list(sa1b.iter_shard(p))
    assert [g[0] for g in got] == [1, 2, 3]
    for (iid, jpeg, ann), obj in zip(got, objs):
        assert jpeg == _jpeg(iid)
        check_meta(ann, obj)
        np.testing.assert_array_equal(ann.decode(), ref_decode(obj))
    no_img = list(sa1b.iter_shard(str(p), images=False))
    assert [(i, j) for i, j, _ in no_img] == [(1, None), (2, None), (3, None)]
    assert [len(a) for _, _, a in no_img] == [12, 0, 30]


class CountingFile(io.FileIO):
    """A real file that counts the bytes read from it."""

    nread = 0

    def read(self, n=-1):
        b = super().read(n)
        self.nread += len(b)
        return b

    def readinto(self, buf):
        n = super().readinto(buf)
        self.nread += n or 0
        return n


def test_iter_shard_skips_jpegs_without_reading(tmp_path, objs):
    big = b"\xff" * 400_000  # JPEG payloads dwarf the JSON in real shards
    members = []
    for o in objs:
        i = o["image"]["image_id"]
        members += [(f"sa_{i}.jpg", big), (f"sa_{i}.json", json.dumps(o).encode())]
    p = tmp_path / "big.tar"
    p.write_bytes(make_tar(members))
    with CountingFile(p) as f:
        got = list(sa1b.iter_shard(f, images=False))
        assert [len(a) for _, _, a in got] == [12, 0, 30]
        assert f.nread < 200_000 < p.stat().st_size
    with CountingFile(p) as f:
        assert [j == big for _, j, _ in sa1b.iter_shard(f)] == [True] * 3
        assert f.nread >= 3 * len(big)


class PipeLike(io.RawIOBase):
    """A non-seekable stream, like a pipe or an HTTP body."""

    def __init__(self, data):
        self._b = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buf):
        n = self._b.readinto(buf)
        return n


@pytest.mark.parametrize("images", [True, False])
def test_iter_shard_gzip_pipe_and_json_first(objs, images):
    data = make_tar(shard_members(objs, json_first=True), compress=True)
    got = list(sa1b.iter_shard(io.BufferedReader(PipeLike(data)), images=images))
    assert [g[0] for g in got] == [1, 2, 3]
    assert [g[1] is not None for g in got] == [images] * 3
    assert [len(g[2]) for g in got] == [12, 0, 30]


@pytest.mark.parametrize("cut", ["in_data", "boundary", "in_header", "no_end_block"])
@pytest.mark.parametrize("images", [True, False])
def test_truncated_shard_raises(tmp_path, objs, cut, images):
    members = shard_members(objs)
    full = make_tar(members)
    sizes = [512 + -(-len(d) // 512) * 512 for _, d in members]
    end_of_4 = sum(sizes[:4])  # after sa_2.json, before sa_3.jpg's header
    cut_at = {"in_data": end_of_4 + 512 + 100, "boundary": end_of_4, "in_header": end_of_4 + 200,
              "no_end_block": sum(sizes)}[cut]
    p = tmp_path / "trunc.tar"
    p.write_bytes(full[:cut_at])
    seen = []
    with pytest.raises(sa1b.ShardError, match="truncated"):
        for iid, _, _ in sa1b.iter_shard(p, images=images):
            seen.append(iid)
    assert seen[:2] == [1, 2]  # what precedes the damage is delivered
    # A stream that cannot seek fails the same way.
    with pytest.raises(sa1b.ShardError, match="truncated"):
        list(sa1b.iter_shard(io.BufferedReader(PipeLike(full[:cut_at])), images=images))


def test_truncated_compressed_shard_raises(objs):
    data = make_tar(shard_members(objs), compress=True)
    with pytest.raises((sa1b.ShardError, EOFError)):
        list(sa1b.iter_shard(io.BytesIO(data[: len(data) // 2])))


def test_not_a_tar(tmp_path):
    p = tmp_path / "x.tar"
    p.write_bytes(b"garbage" * 200)
    with pytest.raises(sa1b.ShardError):
        list(sa1b.iter_shard(p))


def test_malformed_json_in_shard_names_member(objs):
    bad = _broken(objs, ("annotations", 2, "bbox"), None, delete=True)
    data = make_tar([("sa_9.jpg", b"x"), ("sa_9.json", bad)])
    with pytest.raises(sa1b.SA1BFormatError, match=r"sa_9\.json.*annotation 2") as ei:
        list(sa1b.iter_shard(io.BytesIO(data)))
    assert ei.value.field == "bbox" and ei.value.index == 2


# --- dataset ------------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path, objs):
    d = tmp_path / "sa1b"
    d.mkdir()
    write_json(d, objs[0])
    write_json(d, objs[1], jpeg=False)
    (d / "sa_3_shard.tar").write_bytes(make_tar(shard_members([objs[2]])))
    return d


def test_dataset_numpy(data_dir, objs):
    ds = sa1b.SA1BDataset(data_dir, max_masks=5, format="numpy")
    assert len(ds) == 3
    items = [ds[i] for i in range(3)]
    assert [it["image_id"] for it in items] == [1, 2, 3]
    assert items[0]["image"] == _jpeg(1) and items[1]["image"] is None and items[2]["image"] == _jpeg(3)
    for it, obj in zip(items, objs):
        ann = sa1b.load(obj)
        idx = best(obj, 5)
        np.testing.assert_array_equal(it["indices"], np.array(idx, np.int64).reshape(-1))
        np.testing.assert_array_equal(it["masks"], ref_decode(obj, idx))
        np.testing.assert_array_equal(it["bboxes"], ann.bboxes[idx])
        np.testing.assert_array_equal(it["predicted_ious"], ann.predicted_ious[idx])
    assert ds[-1]["image_id"] == 3
    with pytest.raises(IndexError):
        ds[3]


def test_dataset_output_size_and_decoded_image(data_dir, objs):
    pytest.importorskip("PIL")
    ds = sa1b.SA1BDataset(data_dir / "sa_1.json", image="decode", output_size=(75, 100), format="numpy")
    it = ds[0]
    assert it["image"].shape == (75, 100, 3) and it["image"].dtype == np.uint8
    full = ref_decode(objs[0])
    rows = ((np.arange(75) + 0.5) * H / 75).astype(int)
    cols = ((np.arange(100) + 0.5) * W / 100).astype(int)
    np.testing.assert_array_equal(it["masks"], full[:, rows][:, :, cols])
    np.testing.assert_allclose(it["bboxes"][:, 0], sa1b.load(objs[0]).bboxes[:, 0] * 100 / W)


def test_dataset_rejects_truncated_shard(tmp_path, objs):
    members = shard_members(objs)
    full = make_tar(members)
    p = tmp_path / "bad.tar"
    p.write_bytes(full[: sum(512 + -(-len(d) // 512) * 512 for _, d in members) - 700])
    with pytest.raises(sa1b.ShardError):
        sa1b.SA1BDataset(p)


def test_dataset_with_dataloader(data_dir, objs):
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    ds = sa1b.SA1BDataset(data_dir, max_masks=4)
    loader = DataLoader(ds, batch_size=2, num_workers=2, collate_fn=sa1b.SA1BDataset.collate)
    items = [it for batch in loader for it in batch]
    assert [it["image_id"] for it in items] == [1, 2, 3]
    for it, obj in zip(items, objs):
        assert isinstance(it["masks"], torch.Tensor) and it["masks"].dtype == torch.uint8
        np.testing.assert_array_equal(it["masks"].numpy(), ref_decode(obj, best(obj, 4)))
    one = next(iter(DataLoader(ds, batch_size=None, num_workers=0)))
    assert one["masks"].shape == (4, H, W)


# --- the caching decoder --------------------------------------------------------------


def test_mask_decoder_top_k_and_lru_by_bytes(tmp_path, objs):
    paths = [write_json(tmp_path, o, jpeg=False) for o in (objs[0], objs[2])]
    c = copy.deepcopy(objs[2])
    c["image"]["image_id"] = 4
    paths.append(write_json(tmp_path, c, jpeg=False))
    one = 3 * H * W  # bytes of one result with max_masks=3
    dec = sa1b.SA1BMaskDecoder(max_masks=3, cache_decoded=2 * one)
    r0 = dec(paths[0])
    np.testing.assert_array_equal(r0.masks, ref_decode(objs[0], best(objs[0], 3)))
    np.testing.assert_array_equal(r0.indices, best(objs[0], 3))
    assert not r0.masks.flags.writeable
    assert dec(paths[0]) is r0 and dec.cache_info()["hits"] == 1
    dec(paths[1])
    dec(paths[0])  # refresh 0: 1 is now least recently used
    dec(paths[2])  # over budget: evicts 1
    info = dec.cache_info()
    assert info["entries"] == 2 and info["bytes"] == 2 * one
    assert dec(paths[0]) is r0
    misses = dec.cache_info()["misses"]
    dec(paths[1])
    assert dec.cache_info()["misses"] == misses + 1
    small = sa1b.SA1BMaskDecoder(cache_decoded=one - 1)  # results bigger than the budget: not kept
    small(paths[0])
    assert small.cache_info()["entries"] == 0
    r = sa1b.SA1BMaskDecoder()(sa1b.load(objs[0]))
    np.testing.assert_array_equal(r.masks, ref_decode(objs[0]))


def test_mask_decoder_torch_output(tmp_path, objs):
    torch = pytest.importorskip("torch")
    r = sa1b.SA1BMaskDecoder(max_masks=2, output="torch")(write_json(tmp_path, objs[2], jpeg=False))
    assert isinstance(r.masks, torch.Tensor) and tuple(r.masks.shape) == (2, H, W)


def test_cuda_device_raises_when_unavailable(objs):
    from fastrle import gpu

    if gpu.available():
        pytest.skip("a GPU is usable here")
    ann = sa1b.load(objs[0])
    with pytest.raises(gpu.GPUUnavailableError):
        ann.decode(device="cuda")
    with pytest.raises(gpu.GPUUnavailableError):
        ann.decode(device="cuda:0", top_k=0)
    with pytest.raises(gpu.GPUUnavailableError):
        sa1b.SA1BMaskDecoder(device="cuda")(ann)
    with pytest.raises(ValueError, match="device"):
        ann.decode(device="tpu")


def test_top_k_ties_follow_the_order_of_unsorted_indices():
    """Ties keep the candidates' order, which `indices` sets (hand-written expectations)."""
    obj = make_sa1b_dict(synthetic.sa1b_like(5, H, W, seed=7), image_id=9, seed=7)
    for a, p in zip(obj["annotations"], [0.5, 0.9, 0.5, 0.9, 0.7]):
        a["predicted_iou"] = p
    ann = sa1b.load(obj)
    assert ann.order(top_k=5).tolist() == [1, 3, 4, 0, 2]
    assert ann.order(indices=[3, 2, 1, 0], top_k=4).tolist() == [3, 1, 2, 0]
    assert ann.order(indices=[2, 4, 0], top_k=2).tolist() == [4, 2]
    assert ann.order(indices=[0, 2, 3, 1], top_k=4, sort_by=None).tolist() == [0, 2, 3, 1]
