"""``fastrle index``: a Parquet index of a whole dataset, one row per mask, on Dask."""

from __future__ import annotations

import argparse
from typing import Any

from ._jobs import add_cluster_options, run_job


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``index``."""
    p = sub.add_parser(
        "index", help="index SA-1B shards / COCO files into Parquet, one row per mask (Dask)",
        description="Write a Parquet dataset with one part per source and one row per mask: "
                    "source, image_id, file_name, ann_id, height, width, area, bbox_x, bbox_y, "
                    "bbox_w, bbox_h, predicted_iou, stability_score, point_coords, counts "
                    "(null where a source lacks the field). SRC: SA-1B tar shards, directories "
                    "of SA-1B JSON files, COCO annotation or results files, or globs. One Dask "
                    "task per source; a rerun skips sources whose part exists. Malformed entries "
                    "and damaged sources are recorded in OUT/_errors/ and never stop the job. "
                    "Exit 0: every source has its part; 1: some source could not be opened "
                    "(no part; a rerun retries it); 2: usage error or Dask missing. "
                    "Needs: pip install 'fastrle[dask]'.")
    p.add_argument("sources", nargs="+", metavar="SRC")
    p.add_argument("-o", "--out", required=True, metavar="OUT", help="output directory")
    add_cluster_options(p)
    p.add_argument("--features", action="store_true",
                   help="add centroid_x and centroid_y, computed on the runs")
    p.add_argument("--overwrite", action="store_true", help="redo sources whose part exists")
    return p


def run(args: argparse.Namespace) -> int:
    """Run ``index``."""
    def job() -> int:
        from .. import jobs

        s = jobs.index(args.sources, args.out, features=args.features, overwrite=args.overwrite,
                       scheduler=args.scheduler, workers=args.workers)
        print(s.text())
        return 1 if s.unreadable else 0

    return run_job(job)
