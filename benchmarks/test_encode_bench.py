"""Encode and IoU benchmarks, one per comparator (see ``fastrle.bench``)."""

import pytest


@pytest.mark.parametrize("key", ["fastrle", "pycocotools", "hotcoco"])
def test_encode(run_comparator, key):
    run_comparator("encode", key)


@pytest.mark.parametrize("key", ["fastrle.mask", "pycocotools"])
def test_iou(run_comparator, key):
    run_comparator("iou", key)
