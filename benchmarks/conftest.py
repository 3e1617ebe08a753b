"""Fixtures for the pytest-benchmark suites.

Run with ``pytest benchmarks/`` (add ``--benchmark-only`` or
``--benchmark-json=out.json`` as usual). Sizes come from the same
``BenchConfig`` as ``fastrle bench``; set ``FASTRLE_BENCH_QUICK=1`` for tiny
data, or ``FASTRLE_BENCH_SIZE=HxW`` / ``FASTRLE_BENCH_MASKS=N`` /
``FASTRLE_BENCH_THREADS=T``.

Comparators, data and correctness are shared with ``fastrle.bench``: each
benchmark is one comparator of one case, grouped by case so pytest-benchmark
prints them side by side.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from fastrle import bench

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    # These are slow; only run them when this folder was asked for by path.
    asked = [Path(a.split("::")[0]).resolve() for a in config.invocation_params.args
             if not a.startswith("-")]
    if any(p == HERE or HERE in p.parents for p in asked):
        return
    skip = pytest.mark.skip(reason="benchmarks run only with: pytest benchmarks/")
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def bench_config() -> bench.BenchConfig:
    """The benchmark configuration, from environment variables."""
    over = {}
    if os.environ.get("FASTRLE_BENCH_SIZE"):
        over["h"], over["w"] = (int(v) for v in os.environ["FASTRLE_BENCH_SIZE"].lower().split("x"))
    for env, key in (("FASTRLE_BENCH_MASKS", "masks"), ("FASTRLE_BENCH_THREADS", "threads")):
        if os.environ.get(env):
            over[key] = int(os.environ[env])
    if os.environ.get("FASTRLE_BENCH_QUICK") == "1":
        return bench.BenchConfig.quick_config(**over)
    return bench.BenchConfig(**over)


@pytest.fixture(scope="session")
def bench_data(bench_config) -> bench.BenchData:
    """Synthetic inputs and warm buffers, built once per session."""
    return bench.BenchData(bench_config)


@pytest.fixture(scope="session")
def case_comparators(bench_data):
    """``case name -> {key: Comparator}``, built on first use and kept."""
    built: dict[str, dict[str, bench.Comparator]] = {}
    with contextlib.ExitStack() as stack:  # e.g. the thread pool of the threads case
        def get(case: str) -> dict[str, bench.Comparator]:
            if case not in built:
                comps, _, _, verify = bench.CASES[case].builder(bench_data, stack)
                if verify is not None and verify() is False:
                    pytest.fail(f"{case}: fastrle output differs from the reference")
                built[case] = {c.key: c for c in comps}
            return built[case]

        yield get


@pytest.fixture
def run_comparator(benchmark, case_comparators):
    """``run(case, key)``: benchmark one comparator, or skip if it is not installed."""

    def run(case: str, key: str) -> None:
        comps = case_comparators(case)
        if key not in comps:
            pytest.skip(f"{key} not available for case {case} (not installed?)")
        c = comps[key]
        benchmark.group = f"{bench.CASES[case].id}. {case}"
        benchmark.name = c.name
        if c.setup is None:
            benchmark(c.fn)
            return
        setup = c.setup

        def untimed_setup() -> None:  # pytest-benchmark wants None or (args, kwargs)
            setup()

        # The setup (rewriting a buffer) must precede every call, untimed.
        benchmark.pedantic(c.fn, setup=untimed_setup, rounds=max(5, bench.BenchConfig().repeats),
                           warmup_rounds=1)

    return run
