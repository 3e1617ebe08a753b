"""Which shape families ``fastrle bench`` judges a target on, written out by
hand from issue 25 (no timing here: the specs only): warm decode and the
threads case's memset bound on the families whose output outweighs their
count strings (blobs, stars, strokes, rings), zeroed >= 3x full on blobs;
elsewhere the same ratios are shown as information."""
from __future__ import annotations

import contextlib

import pytest

from fastrle import synthetic
from fastrle.bench import core
from fastrle.bench.harness import BenchConfig, BenchData

MEMSET = {"blobs", "stars", "strokes", "rings"}


def _ratios(case, family: str) -> dict:
    cfg = BenchConfig.quick_config(family=family, masks=2)
    with contextlib.ExitStack() as stack:
        _, ratios, _, _ = case(BenchData(cfg), stack)
    return {r[0]: (r[3], r[4]) for r in ratios}


def test_every_family_is_placed() -> None:
    assert set(synthetic.FAMILIES) == MEMSET | {"stripes", "noise"}


@pytest.mark.parametrize("family", synthetic.FAMILIES)
def test_zeroed_is_judged_on_blobs_only(family: str) -> None:
    want = (">=", 3.0) if family == "blobs" else ("", None)
    assert _ratios(core.case_zeroed, family)["full / zeroed"] == want


@pytest.mark.parametrize("family", synthetic.FAMILIES)
def test_memset_bounds_are_judged_where_the_output_outweighs_the_strings(family: str) -> None:
    t = BenchConfig().threads
    want_threads = ("<=", 1.10) if family in MEMSET else ("", None)
    assert _ratios(core.case_threads, family)[f"fastrle {t}t / memset {t}t"] == want_threads
    want_warm = ("<=", 1.5) if family in MEMSET else ("", None)
    assert _ratios(core.case_warm, family)["fastrle / memset"] == want_warm
