"""``fastrle bench --case geometry`` at quick sizes: its check passes, the
thread ratio compares two calls that do the same work (equal outputs), and
the ceilings it names next to the ratio (compute, memory) are measured in
the same run."""
import contextlib

import numpy as np
import pytest

pytest.importorskip("cv2")
pytest.importorskip("pycocotools")


def test_geometry_case_same_work_and_its_ceilings():
    from fastrle import bench

    cfg = bench.BenchConfig.quick_config()
    with contextlib.ExitStack() as stack:
        comps, ratios, notes, verify = bench.CASES["geometry"].builder(bench.BenchData(cfg), stack)
        assert verify is not None and verify() is True
        by = {c.key: c for c in comps}
        assert all(r[1] in by and r[2] in by for r in ratios)
        target = next(r for r in ratios if r[4] == 1.7)
        one, many = by[target[1]].fn(), by[target[2]].fn()
        assert "threads=1" in by[target[1]].name and f"threads={cfg.threads}" in by[target[2]].name
        assert len(one) == len(many) == cfg.masks
        for a, b in zip(one, many):  # the same rings: the same work on 1 and on T threads
            assert len(a.rings) == len(b.rings)
            assert all(np.array_equal(x, y) for x, y in zip(a.rings, b.rings))
            assert np.array_equal(a.hierarchy, b.hierarchy) and np.array_equal(a.parents, b.parents)
        labels = [r[0] for r in ratios]
        assert any("compute" in x for x in labels) and any("memset" in x for x in labels)
        for c in comps:
            if c.setup is not None:
                c.setup()
            c.fn()
