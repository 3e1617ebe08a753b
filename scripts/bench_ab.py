#!/usr/bin/env python3
"""A/B check for speed regressions: `fastrle bench --json` of two built trees,
interleaved in one run (A, B, A, B, ...), then every fastrle timing of B against
A's, as the median over rounds of B/A.

    python scripts/bench_ab.py OLD_TREE NEW_TREE [--rounds 2] [-- BENCH ARGS...]

Each tree must be built in place (`python setup.py build_ext --inplace`); it is
run with PYTHONPATH=TREE/src. Prints one line per timing and the cases whose
fastrle time moved by more than --noise (default 15%) in either direction.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from typing import Dict, List, Tuple

Key = Tuple[str, str]


def run(tree: str, bench_args: List[str]) -> Dict[Key, float]:
    """Median ms of every timing of one `fastrle bench --json` run of ``tree``."""
    env = dict(os.environ, PYTHONPATH=os.path.join(os.path.abspath(tree), "src"))
    cmd = [sys.executable, "-m", "fastrle", "bench", "--json", "--no-progress", *bench_args]
    p = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=True)
    out: Dict[Key, float] = {}
    for case in json.loads(p.stdout)["cases"]:
        if not case.get("verified", True):
            raise SystemExit(f"{tree}: case {case['case']} output not verified")
        for t in case["timings"]:
            if t.get("median_ms") is not None:
                out[(case["case"], t["name"])] = t["median_ms"]
    return out


def main() -> int:
    """Run both trees interleaved and print B/A per fastrle timing."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a", help="the baseline tree (built in place)")
    ap.add_argument("b", help="the candidate tree (built in place)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--noise", type=float, default=0.15, help="flag |B/A - 1| above this")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    args = ap.parse_args(argv[:cut])
    bench_args = argv[cut + 1:]  # after --: arguments for fastrle bench
    runs: Dict[str, List[Dict[Key, float]]] = {"a": [], "b": []}
    for r in range(args.rounds):
        for side in ("a", "b"):
            print(f"round {r + 1}: {side} = {getattr(args, side)}", file=sys.stderr, flush=True)
            runs[side].append(run(getattr(args, side), bench_args))
    keys = [k for k in runs["a"][0] if "fastrle" in k[1] and all(k in x for x in runs["a"] + runs["b"])]
    flagged = []
    print(f"{'case':<10} {'B/A':>6}  {'A ms':>9} {'B ms':>9}  timing")
    for k in keys:
        ratios = [b[k] / a[k] for a, b in zip(runs["a"], runs["b"]) if a[k] > 0]
        ratio = statistics.median(ratios)
        a_ms = statistics.median(x[k] for x in runs["a"])
        b_ms = statistics.median(x[k] for x in runs["b"])
        print(f"{k[0]:<10} {ratio:6.2f}  {a_ms:9.3f} {b_ms:9.3f}  {k[1]}")
        if abs(ratio - 1) > args.noise:
            flagged.append((k, ratio))
    ratios_all = [statistics.median(b[k] / a[k] for a, b in zip(runs["a"], runs["b"])) for k in keys]
    print(f"\n{len(keys)} fastrle timings; median B/A {statistics.median(ratios_all):.3f}, "
          f"geometric mean {statistics.geometric_mean(ratios_all):.3f}; "
          f"{len(flagged)} beyond +-{args.noise:.0%}: "
          + ", ".join(f"{k[0]}:{k[1][:40]} {r:.2f}" for k, r in flagged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
