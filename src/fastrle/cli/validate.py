"""``fastrle validate``: fastrle against pycocotools on real files, in this
process (no Dask) or as a whole dataset on a Dask cluster.

Both modes run the same per-file check (:func:`fastrle.jobs.tasks.validate_source`)
and print the same summary, so the counts and the exit status never depend
on the mode. In-process mode: plain files and none of ``--scheduler``,
``--workers``, ``--report``. Dask mode (:func:`fastrle.jobs.validate`): any
of those options, or a tar shard, a directory or an unexpanded glob among
the sources.
"""

from __future__ import annotations

import argparse
import os
from typing import Any, List

from ..jobs.sources import SHARD_SUFFIXES
from ..optional import require
from ._jobs import add_cluster_options, run_job

CHECKS = (
    "Checks, the same in both modes: (1) decode: every RLE segmentation (compressed, or "
    "uncompressed after frPyObjects, whose output must also be equal) is decoded by fastrle.mask "
    "and pycocotools.mask and the masks compared bit for bit; an RLE that fastrle rejects is "
    "'malformed' and never handed to pycocotools. (2) area: where an RLE annotation has an "
    "'area', it must equal the mask's pixel count. (3) bbox: where it has a 'bbox', it must "
    "equal, within 1e-6, pycocotools' toBbox [x0, y0, x1-x0+1, y1-y0+1] in COCO annotation and "
    "results files, and [x0, y0, x1-x0, y1-y0] in SA-1B files (x1, y1: the last foreground "
    "column and row; Segment Anything's batched_mask_to_box convention); [0, 0, 0, 0] for an "
    "empty mask in both. Polygons are counted and skipped (COCO gives them the polygon's own "
    "area and extent). (4) fields: a missing or ill-typed segmentation, size, counts, area or "
    "bbox, or an annotation that is not an object, is 'malformed'; an SA-1B image block "
    "without non-negative integer image_id, width and height, a file that cannot be read or "
    "parsed, or one of none of the three layouts, is a 'source' error. "
    "Exit 0: no problem at all; 1: any mismatch, malformed entry or source error; 2: usage "
    "error, or pycocotools (or, for the Dask mode, Dask) missing. See docs/validate.md.")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``validate``."""
    v = sub.add_parser(
        "validate", help="compare fastrle with pycocotools on files or whole datasets (Dask)",
        description="Check COCO annotation files, COCO results files and SA-1B per-image files "
                    "(or SA-1B tar shards, directories and globs). In-process mode (plain JSON "
                    "files, none of --scheduler/--workers/--report; no Dask needed): the files "
                    "one after another. Dask mode (any of those options, or shards, directories "
                    "or globs among the sources; needs pip install 'fastrle[dask]'): one task "
                    "per source. " + CHECKS)
    v.add_argument("files", nargs="+", metavar="SRC")
    add_cluster_options(v)
    v.add_argument("--report", metavar="REPORT.parquet",
                   help="write every problem (source, image_id, index, reason) to this Parquet file")
    return v


def dataset_mode(args: argparse.Namespace) -> bool:
    """Whether ``args`` ask for the Dask run rather than the in-process one."""
    if args.scheduler or args.workers or args.report:
        return True
    return any(os.path.isdir(f) or f.lower().endswith(SHARD_SUFFIXES)
               or (not os.path.exists(f) and any(c in f for c in "*?[")) for f in args.files)


def run(args: argparse.Namespace) -> int:
    """Run ``validate``; 0 when nothing is wrong."""
    if dataset_mode(args):
        return run_job(lambda: _run_dataset(args))
    return run_job(lambda: _run_files(args.files))


def _run_dataset(args: argparse.Namespace) -> int:
    require("pycocotools.mask", "fastrle validate")  # run_job: the message, exit 2
    from .. import fileio, jobs

    s = jobs.validate(args.files, scheduler=args.scheduler, workers=args.workers)
    print(s.text())
    if args.report:
        import pyarrow.parquet as pq

        fileio.atomic_write(args.report, lambda tmp: pq.write_table(s.report_table(), tmp))
        print(f"report: {args.report} ({len(s.problems)} rows)")
    return 0 if s.ok else 1


def _run_files(files: List[str]) -> int:
    require("pycocotools.mask", "fastrle validate")  # run_job: the message, exit 2
    from .. import validate

    s = validate.validate_files(files)
    print(s.text())
    return 0 if s.ok else 1
