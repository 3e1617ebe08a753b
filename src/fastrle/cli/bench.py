"""``fastrle bench``: side-by-side timings (see :mod:`fastrle.bench`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._args import positive, size

TARGETS_NOTE = ("note: targets are measured on this machine under its current load (see the "
                "loadavg above); FAIL means this run missed the target, not that the output is "
                "wrong (outputs are verified separately). --strict exits 1 on a FAIL.")


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``bench``."""
    from .. import bench, synthetic

    b = sub.add_parser("bench", help="compare fastrle with memset and its peers",
                       description="Time fastrle side by side with memset, pycocotools, rlemasklib "
                                   "and hotcoco on synthetic SA-1B-like and COCO-like masks.")
    b.add_argument("--size", type=size, help="SA-1B-like image size HxW (default 1500x2250)")
    b.add_argument("--masks", type=positive, help="masks per SA-1B-like image (default 100)")
    b.add_argument("--threads", type=positive, help="threads for the threads case (default 2)")
    b.add_argument("--repeats", type=positive, help="repeats per measurement; the median is "
                                                    "reported (default 7)")
    b.add_argument("--mode", choices=sorted(bench.modes()), default="all",
                   help="warm: preallocated buffers; fresh: output allocated per call")
    aliases = bench.case_aliases()
    b.add_argument("--case", nargs="+", metavar="NAME",
                   choices=list(bench.CASES) + sorted(set(aliases) - set(bench.CASES)),
                   help="run only these cases (overrides --mode): "
                        + ", ".join(f"{k} ({v.id})" for k, v in bench.CASES.items()))
    b.add_argument("--family", nargs="+", metavar="NAME", default=["blobs"],
                   choices=["all", *synthetic.FAMILIES],
                   help="shape families of the SA-1B-size masks (default blobs; 'all' for every one): "
                        + ", ".join(synthetic.FAMILIES) + "; the table adds the worst family per target")
    b.add_argument("--seed", type=int, default=0, help="synthetic data seed")
    b.add_argument("--json", action="store_true", help="print JSON instead of the table")
    b.add_argument("--plot", metavar="FILE.png", help="save a bar chart (needs matplotlib)")
    b.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test")
    b.add_argument("--no-progress", action="store_true",
                   help="no progress display (it is off anyway when stderr is not a terminal)")
    b.add_argument("--strict", action="store_true", help="exit 1 if any target FAILs")
    g = b.add_mutually_exclusive_group()
    g.add_argument("--sa1b", action="store_true",
                   help="run the SA-1B end-to-end cases instead: read a per-image JSON file and "
                        "decode every mask, vs json.load + pycocotools + np.stack")
    g.add_argument("--gpu", action="store_true",
                   help="time the GPU kernels, fastrle.gpu.decode and fastrle.gpu.encode (needs CuPy "
                        "and a GPU)")
    g.add_argument("--gpu-sass", action="store_true",
                   help="static check, no GPU: compile the kernels for sm_90, count the hot-loop "
                        "SASS instructions per output byte, registers and spills; exit 1 on a "
                        "spill or an expand below 4.8 bytes per warp-instruction (needs nvcc or "
                        "'fastrle[gpu-test]')")
    return b


def _progress_wanted(args: argparse.Namespace) -> bool:
    # A redirected log gets no carriage-return bar.
    return not args.no_progress and sys.stderr.isatty()


def run(args: argparse.Namespace) -> int:
    """Run ``bench``; 0 unless an output mismatched or (--strict) a target failed."""
    from .. import bench, synthetic

    if args.gpu_sass:
        from ..bench import gpu_sass

        return gpu_sass.main([])
    if args.gpu:
        from ..bench import gpu as gpu_bench

        argv = ["--seed", str(args.seed)]
        if args.masks:
            argv += ["--masks", str(args.masks)]
        if args.size:
            argv += ["--height", str(args.size[0]), "--width", str(args.size[1])]
        if args.repeats:
            argv += ["--repeat", str(args.repeats)]
        if args.strict:
            argv.append("--strict")
        rc = gpu_bench.main(argv)
        if rc == 2:  # no GPU: said once
            return rc
        from ..bench import gpu_encode

        return max(rc, gpu_encode.main(argv))
    over = {k: v for k, v in (("masks", args.masks), ("threads", args.threads),
                              ("repeats", args.repeats)) if v is not None}
    if args.size:
        over["h"], over["w"] = args.size
    progress = _progress_wanted(args)
    if args.sa1b:
        from ..bench import sa1b as sa1b_bench

        over["seed"] = args.seed
        cfg: Any = (sa1b_bench.SA1BBenchConfig.quick_config(**over) if args.quick
                    else sa1b_bench.SA1BBenchConfig(**over))
        results = sa1b_bench.run(cfg, progress=progress)
    else:
        fams = list(synthetic.FAMILIES) if "all" in args.family else list(dict.fromkeys(args.family))
        over.update(mode=args.mode, cases=args.case, seed=args.seed, families=fams)
        cfg = bench.BenchConfig.quick_config(**over) if args.quick else bench.BenchConfig(**over)
        results = bench.run(cfg, progress=progress)
    if args.quick:
        bench.unjudged(results)
    if args.json:
        print(json.dumps(bench.to_json_obj(results, cfg), indent=2))
    else:
        env = bench.environment()
        print("# " + ", ".join(f"{k} {v}" for k, v in env.items() if k != "platform"))
        print(bench.format_table(results))
        print(TARGETS_NOTE)
    if args.plot:
        bench.plot(results, args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    if any(r.verified is False for r in results):
        print("error: fastrle output differs from the reference", file=sys.stderr)
        return 1
    if args.strict and any(x.status == "FAIL" for r in results for x in r.ratios):
        return 1
    return 0
