"""Meta-tests for issue 24's oracles: each kind of oracle tells a planted
wrong answer from the right one, so the tests built on it can fail."""
from __future__ import annotations

import numpy as np
import pytest

from fastrle import viz
from test_show_pins import palette_oracle
from test_viz import TIE_AREAS, best_k, ref_overlay, want_order


def test_order_oracle_rejects_an_unstable_cut_and_score_order():
    areas = np.array(TIE_AREAS)
    unstable = np.argsort(-areas)[:17]  # numpy's default sort: ties at the cut in no set order
    assert sorted(unstable.tolist()) != sorted(best_k(areas, 17))
    scores = np.array([(i * 29) % 48 for i in range(48)], float)  # distinct
    in_score_order = best_k(scores, 5)
    assert want_order(areas, "index", 5, scores) == sorted(in_score_order) != in_score_order


def test_painter_sees_one_pixel_and_the_draw_order():
    masks = np.zeros((2, 4, 5), np.uint8)
    masks[0, :3, :3] = 1
    masks[1, 1:, 1:] = 1
    img = np.full((4, 5, 3), 90, np.uint8)
    cols = np.array([[255, 0, 0], [0, 0, 255]], np.uint8)
    got = viz.overlay(img, [viz_rle(m) for m in masks], colors=cols, contours=False, alpha=0.6)
    assert np.array_equal(got, ref_overlay(img, masks, cols, 0.6, 0))
    assert not np.array_equal(got, ref_overlay(img, masks, cols, 0.6, 0, order="index"))  # other order
    off = got.copy()
    off[3, 4, 2] ^= 1
    assert not np.array_equal(off, ref_overlay(img, masks, cols, 0.6, 0))


def viz_rle(m):
    import fastrle

    return fastrle.encode(m)


def test_palette_oracle_sees_swapped_saturations():
    good = palette_oracle(6)
    assert np.array_equal(viz.palette(6), good)
    swapped = palette_oracle(7)[1:]  # odd/even shifted by one: other saturations and hues
    assert not np.array_equal(swapped[:6], good)


def test_resume_check_sees_lost_problems(tmp_path):
    pytest.importorskip("pyarrow")
    import os

    from test_jobs_pins import coco_doc, problems, write

    from fastrle import jobs
    from fastrle.jobs import tasks
    from fastrle.jobs.sources import part_name

    src = write(tmp_path / "c.json", coco_doc())
    out = str(tmp_path / "o")
    clean = jobs.tasks.index_source(src, out)
    os.remove(os.path.join(out, tasks.ERRORS_DIR, part_name(src)))  # as if the errors file were never written
    assert problems(jobs.tasks.index_source(src, out)) != problems(clean)


def test_cache_oracle_sees_a_stale_hit(tmp_path):
    import json
    import os

    from fastrle import synthetic
    from fastrle.sa1b import SA1BMaskDecoder

    d = synthetic.sa1b_image_dict(synthetic.sa1b_like(2, 10, 10, seed=0), seed=0)
    p = tmp_path / "a.json"
    d["annotations"][0]["predicted_iou"], d["annotations"][1]["predicted_iou"] = 0.9, 0.5
    p.write_text(json.dumps(d))
    st = os.stat(p)
    dec = SA1BMaskDecoder(max_masks=1, cache_decoded=1 << 20)
    assert dec(str(p)).indices.tolist() == [0]
    d["annotations"][0]["predicted_iou"], d["annotations"][1]["predicted_iou"] = 0.5, 0.9
    p.write_text(json.dumps(d))
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: the key cannot see it
    assert dec(str(p)).indices.tolist() == [0]  # stale, as a key without mtime would be on every edit


def test_spec_writer_agrees_with_pycocotools_and_sees_a_missing_delta():
    pm = pytest.importorskip("pycocotools.mask")
    from test_generator_edges import spec_write

    counts = [3, 40, 2, 900, 17, 38]
    want = pm.frPyObjects({"size": [1000, 1], "counts": counts}, 1000, 1)["counts"].decode()
    assert spec_write(counts) == want
    no_delta = "".join(spec_write([c]) for c in counts)  # every count written alone: no deltas
    assert no_delta != want
