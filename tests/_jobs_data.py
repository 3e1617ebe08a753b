"""Generated datasets with planted problems for the fastrle.jobs tests.

:func:`make_dataset` writes SA-1B tar shards, a directory of SA-1B per-image
JSON files and copies of the real COCO files, and returns what was written
plus the exact set of problems planted, so a test can say "every planted
problem and nothing else".
"""
from __future__ import annotations

import copy
import io
import json
import os
import shutil
import tarfile
from typing import Any, Dict, List, Optional, Set, Tuple

from fastrle import synthetic

DATA = os.path.join(os.path.dirname(__file__), "data")
COCO_FILES = ("coco_instances_val2014_100.json", "cocoapi_instances_val2014_fakesegm100_results.json")
H, W = 40, 60

# (source base name, image_id, annotation index, kind)
Planted = Set[Tuple[str, Any, Any, str]]


def image(image_id: int, masks: int, seed: int) -> Dict[str, Any]:
    """One SA-1B per-image object from the generator."""
    return synthetic.sa1b_image_dict(synthetic.sa1b_like(masks, H, W, seed=seed),
                                     image_id=image_id, seed=seed)


def write_tar(path: Any, members: List[Tuple[str, Optional[bytes]]], mode: str = "w") -> str:
    """A tar shard of the given (name, bytes) members, in order (bytes None:
    a directory entry); ``mode`` as tarfile's ("w:gz" compresses). Returns
    the path as a str."""
    with tarfile.open(path, mode) as tf:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            if data is None:
                ti.type = tarfile.DIRTYPE
                tf.addfile(ti)
                continue
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return str(path)


def shard_members(objs: List[Dict[str, Any]]) -> List[Tuple[str, bytes]]:
    out = []
    for o in objs:
        iid = o["image"]["image_id"]
        out += [(f"sa_{iid}.jpg", b"\xff\xd8 not really a jpeg"), (f"sa_{iid}.json", json.dumps(o).encode())]
    return out


def coco_planted() -> Planted:
    """The real COCO annotation file's non-crowd RLEs whose area/bbox fields
    differ from their masks, found here with pycocotools itself. Crowd RLEs
    are skipped: their fields come from COCO's annotation tool (9 of them
    differ from their masks), and validate does not compare them."""
    from pycocotools import mask as pm

    with open(os.path.join(DATA, COCO_FILES[0])) as f:
        d = json.load(f)
    found: Planted = set()
    for i, a in enumerate(d["annotations"]):
        seg = a["segmentation"]
        if isinstance(seg, dict) and not a.get("iscrowd"):
            r = pm.frPyObjects(seg, *seg["size"])
            if float(pm.area(r)) != float(a["area"]):
                found.add((COCO_FILES[0], a["image_id"], i, "mismatch"))
            if pm.toBbox(r).tolist() != [float(v) for v in a["bbox"]]:
                found.add((COCO_FILES[0], a["image_id"], i, "mismatch"))
    return found


def make_dataset(root: str, shards: int = 3, images: int = 3, masks: int = 6) -> Dict[str, Any]:
    """Write the test dataset under ``root``.

    Returns a dict: ``sources`` (SRC arguments), ``objs`` (base name -> the
    image objects as written, problems included), ``planted`` (the problems
    :func:`fastrle.jobs.validate` must find) and ``index_planted`` (the
    problems :func:`fastrle.jobs.index` must find; ``features_planted`` more
    with ``features=True``).
    """
    os.makedirs(root, exist_ok=True)
    objs: Dict[str, List[Dict[str, Any]]] = {}
    planted: Planted = set()
    index_planted: Planted = set()
    iid = 1
    for s in range(shards):
        name = f"sa_{s:06d}.tar"
        objs[name] = [image(iid + k, masks, seed=100 * s + k) for k in range(images)]
        iid += images
        write_tar(os.path.join(root, name), shard_members(objs[name]))

    # A shard with planted problems in its second image, and an invalid JSON member.
    bad = [image(iid + k, masks, seed=900 + k) for k in range(3)]
    iid += 3
    b = bad[1]
    bid = b["image"]["image_id"]
    anns = b["annotations"]
    anns[0]["area"] += 1                                # area disagrees with the mask
    anns[1]["bbox"][2] += 2.0                           # bbox disagrees with the mask
    anns[2]["segmentation"]["counts"] = "!!" + anns[2]["segmentation"]["counts"]  # invalid RLE
    anns[3]["segmentation"]["counts"] = anns[3]["segmentation"]["counts"][:-1]    # truncated
    anns[4]["area"] = "big"                             # ill-typed field
    del anns[5]["predicted_iou"]                        # missing field: null, not a problem
    # the last run loses its last character: a truncated varint or too short a sum
    planted |= {("sa_bad.tar", bid, 0, "mismatch"), ("sa_bad.tar", bid, 1, "mismatch"),
                ("sa_bad.tar", bid, 2, "malformed"), ("sa_bad.tar", bid, 3, "malformed"),
                ("sa_bad.tar", bid, 4, "malformed"), ("sa_bad.tar", None, None, "source")}
    index_planted |= {("sa_bad.tar", bid, 4, "malformed"), ("sa_bad.tar", None, None, "source")}
    # with --features the runs are parsed, so the two invalid RLEs show up too
    features_planted = {("sa_bad.tar", bid, 2, "malformed"), ("sa_bad.tar", bid, 3, "malformed")}
    members = shard_members(bad)
    members.insert(2, ("sa_broken.json", b'{"image": {"image_id": 7'))  # invalid JSON member
    write_tar(os.path.join(root, "sa_bad.tar"), members)
    objs["sa_bad.tar"] = bad

    # A shard cut in the middle of its third image: the first two stay.
    trunc = [image(iid + k, masks, seed=700 + k) for k in range(3)]
    iid += 3
    full = os.path.join(root, "full.tmp")
    write_tar(full, shard_members(trunc))
    with open(full, "rb") as f:
        data = f.read()
    os.remove(full)
    cut = data.index(b'"image_id": %d' % trunc[2]["image"]["image_id"])
    with open(os.path.join(root, "sa_trunc.tar"), "wb") as f:
        f.write(data[:cut])
    objs["sa_trunc.tar"] = trunc[:2]
    planted.add(("sa_trunc.tar", None, None, "source"))
    index_planted.add(("sa_trunc.tar", None, None, "source"))

    # A directory of SA-1B JSON files: two good, one with a non-object
    # annotation, one invalid JSON.
    d = os.path.join(root, "json")
    os.makedirs(d)
    for k in range(3):
        o = image(iid, masks, seed=500 + k)
        name = f"sa_{iid}.json"
        iid += 1
        if k == 2:
            o["annotations"].append(17)
            planted.add((name, o["image"]["image_id"], masks, "malformed"))
            index_planted.add((name, o["image"]["image_id"], masks, "malformed"))
        with open(os.path.join(d, name), "w") as f:
            json.dump(o, f)
        objs[name] = [copy.deepcopy(o)]
    with open(os.path.join(d, "sa_zz_broken.json"), "w") as f:
        f.write('{"image": {"image_id": 1}, "annotations": [')
    planted.add(("sa_zz_broken.json", None, None, "source"))
    index_planted.add(("sa_zz_broken.json", None, None, "source"))

    coco = os.path.join(root, "coco")
    os.makedirs(coco)
    for n in COCO_FILES:
        shutil.copy(os.path.join(DATA, n), coco)
    planted |= coco_planted()

    missing = os.path.join(root, "missing.json")
    planted.add(("missing.json", None, None, "source"))
    index_planted.add(("missing.json", None, None, "source"))
    sources = [os.path.join(root, "sa_0*.tar"), os.path.join(root, "sa_bad.tar"),
               os.path.join(root, "sa_trunc.tar"), d, os.path.join(coco, COCO_FILES[0]),
               os.path.join(coco, COCO_FILES[1]), missing]
    return {"sources": sources, "objs": objs, "planted": planted, "index_planted": index_planted,
            "features_planted": features_planted}


def problem_set(summary_or_table: Any) -> Planted:
    """(source base name, image_id, index, kind) of every problem found."""
    if hasattr(summary_or_table, "problems"):
        return {(os.path.basename(s), p.image_id, p.index, p.kind) for s, p in summary_or_table.problems}
    t = summary_or_table.to_pydict()
    return {(os.path.basename(s), i, x, r.split(": ", 1)[0])
            for s, i, x, r in zip(t["source"], t["image_id"], t["index"], t["reason"])}
