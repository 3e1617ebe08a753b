"""Decode benchmarks, one per comparator per case (see ``fastrle.bench``)."""

import pytest

CASES = {
    "warm": ["fastrle", "memset", "pycocotools"],
    "zeroed": ["fastrle-zeroed", "fastrle-full", "rlemasklib"],
    "threads": ["fastrle-1t", "fastrle-Nt", "memset-1t", "memset-Nt"],
    "fresh": ["fastrle", "pycocotools"],
    "coco": ["fastrle", "fastrle-warm", "fastrle.mask", "pycocotools"],
    "dropin": ["fastrle.mask", "pycocotools"],
}


@pytest.mark.parametrize("case,key", [(c, k) for c, ks in CASES.items() for k in ks])
def test_decode(run_comparator, bench_config, case, key):
    # "-Nt" stands for the configured thread count.
    key = key.replace("-Nt", f"-{bench_config.threads}t")
    run_comparator(case, key)
