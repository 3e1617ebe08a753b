"""SA-1B benchmarks (see ``fastrle.bench.sa1b``): file-to-masks end to end vs
the common recipe, and features on runs vs dense numpy. 5 rounds each; compare
the medians within one run. ``FASTRLE_BENCH_QUICK=1`` uses tiny data."""
import contextlib
import os

import pytest

from fastrle.bench import sa1b as sa1b_bench

ROUNDS = 5


@pytest.fixture(scope="module")
def sa1b_comparators():
    """``case -> {key: Comparator}``, built and verified once per module."""
    quick = os.environ.get("FASTRLE_BENCH_QUICK") == "1"
    cfg = sa1b_bench.SA1BBenchConfig.quick_config() if quick else sa1b_bench.SA1BBenchConfig()
    with contextlib.ExitStack() as stack:
        data = sa1b_bench.SA1BBenchData(cfg, stack)
        built = {}
        for case, (cid, _, builder) in sa1b_bench.CASES.items():
            comps, _, _, verify = builder(data)
            if verify() is False:
                pytest.fail(f"{case}: fastrle output differs from the reference")
            built[case] = (cid, {c.key: c for c in comps})
        yield built


CASES = {
    "sa1b": ["fastrle", "fastrle-1t", "fastrle-load", "recipe"],
    "features": ["centroids", "centroids-dense", "containment", "containment-dense", "iou", "iou-dense"],
}


@pytest.mark.parametrize("case,key", [(c, k) for c, ks in CASES.items() for k in ks])
def test_sa1b(benchmark, sa1b_comparators, case, key):
    cid, comps = sa1b_comparators[case]
    if key not in comps:
        pytest.skip(f"{key} not available (pycocotools not installed?)")
    c = comps[key]
    benchmark.group = f"{cid}. {case}"
    benchmark.name = c.name
    benchmark.pedantic(c.fn, rounds=ROUNDS, warmup_rounds=1)


def test_synthetic_sa1b_like(benchmark):
    """The built-in SA-1B-like set (100 masks of 1500x2250) that ``fastrle
    bench`` generates; the goal is under 2 s on a 2-core machine."""
    from fastrle import synthetic

    rles = benchmark.pedantic(synthetic.sa1b_like, rounds=3, iterations=1)
    assert len(rles) == 100
