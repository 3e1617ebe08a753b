"""Options and error handling shared by ``fastrle index``, ``validate`` and ``polygons``
on a Dask cluster (see :mod:`fastrle.jobs`)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from ._args import positive


def add_cluster_options(p: argparse.ArgumentParser) -> None:
    """``--scheduler`` and ``--workers``."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="ADDR",
                   help="run on an existing Dask cluster, e.g. tcp://host:8786 (started with "
                        "`dask scheduler` and `dask worker`; workers need fastrle and the same paths)")
    g.add_argument("--workers", type=positive, metavar="N",
                   help="start a local cluster of N worker processes (default: one per CPU)")


def run_job(job: Callable[[], Any]) -> Any:
    """Run ``job``; print what went wrong and return an exit status instead of
    raising for a missing Dask, an empty glob or an unreachable scheduler."""
    try:
        return job()
    except (ImportError, ValueError, OSError) as e:  # no Dask; empty glob; scheduler unreachable
        print(f"error: {e}", file=sys.stderr)
        return 2
