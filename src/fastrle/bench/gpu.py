"""Benchmark fastrle.gpu.decode on SA-1B-like data (needs CuPy and a CUDA GPU).

Reports, on generated masks (default: one SA-1B image, 100 masks of
1500x2250 shaped as smooth blobs):

* kernel time (parse + expand, CUDA events) and its write bandwidth, against
  ``cupy`` ``fill(0)`` of the same output buffer (target: <= 2x fill);
* end-to-end ``fastrle.gpu.decode`` time (host packing, upload, kernels,
  status check);
* host time of one ``fastrle.gpu.decode(out=)`` call with ``check=False``,
  ``"deferred"`` and ``True`` (the last includes the wait for the parse),
  and its Python function calls;
* CPU ``fastrle.decode`` + host-to-device copy of the dense masks, and the
  speedup of the GPU path over it (target: >= 20x).

Example::

    fastrle bench --gpu --masks 100 --size 1500x2250
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from typing import Any, Callable

import numpy as np


def gpu_time(cp: Any, fn: Callable[[], Any], repeat: int, warmup: int) -> float:
    """Median milliseconds of fn() on the current stream, by CUDA events."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        start, stop = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, stop))
    return statistics.median(times)


def wall_time(fn: Callable[[], Any], repeat: int, warmup: int, sync: Callable[[], Any]) -> float:
    """Median wall-clock milliseconds of fn() followed by sync()."""
    for _ in range(warmup):
        fn()
        sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def python_calls(fn: Callable[[], Any], n: int = 100) -> float:
    """Python-level function calls (cProfile's count, builtins included) per call of ``fn``."""
    import cProfile
    import pstats

    fn()
    pr = cProfile.Profile()
    pr.enable()
    for _ in range(n):
        fn()
    pr.disable()
    return float(pstats.Stats(pr).total_calls) / n  # type: ignore[attr-defined]


def host_time(fn: Callable[[], Any], repeat: int, warmup: int, sync: Callable[[], Any]) -> float:
    """Median wall-clock microseconds of fn() alone: the device is synchronised
    after each call, outside the timed span, so no call waits for an earlier
    one's work (what fn() waits for itself, e.g. check=True's parse, counts)."""
    for _ in range(warmup):
        fn()
        sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e6)
        sync()
    return statistics.median(times)


def kernel_time(cp: Any, rles: list[dict], out: Any, packed: bool, parser: str,
                repeat: int, warmup: int) -> float:
    """Median ms from the first to the last kernel of a decode (upload excluded)."""
    from ..gpu import api as gpu, launch as _gpu_launch

    class Timed(gpu.CupyBackend):
        def launch(self, launch, buffers):
            if self.start is None:
                self.start = cp.cuda.Event()
                self.start.record(self.stream)
            super().launch(launch, buffers)

    config = _gpu_launch.Config(parser=parser)
    times = []
    for i in range(warmup + repeat):
        backend = Timed(cp, cp.cuda.get_current_stream())
        backend.start = None
        backend.run(rles, out, check=False, packed=packed, config=config)
        stop = cp.cuda.Event()
        stop.record(backend.stream)
        stop.synchronize()
        if i >= warmup:
            times.append(cp.cuda.get_elapsed_time(backend.start, stop))
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--masks", type=int, default=100)
    ap.add_argument("--height", type=int, default=1500)
    ap.add_argument("--width", type=int, default=2250)
    ap.add_argument("--repeat", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-cpu", action="store_true", help="skip the CPU decode + H2D baseline")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)

    from .. import gpu, synthetic

    if not gpu.available():
        try:
            gpu.decode([])
        except gpu.GPUUnavailableError as exc:
            print(f"GPU benchmark not run: {exc}", file=sys.stderr)
        return 2
    import cupy as cp

    n, h, w = args.masks, args.height, args.width
    t0 = time.perf_counter()
    # the same SA-1B-like data as `fastrle bench` (encoded by pycocotools when present)
    rles, masks = synthetic.sa1b_like(n, h, w, args.seed, dense=True)
    masks = masks.view(np.uint8)
    nbytes = masks.nbytes
    print(f"data: {n} masks of {h}x{w}, {masks.mean() * 100:.1f}% foreground, "
          f"{sum(len(r['counts']) for r in rles) / 1e3:.0f} KB of counts, "
          f"output {nbytes / 1e6:.1f} MB (generated in {time.perf_counter() - t0:.1f} s)")
    dev = cp.cuda.Device()
    print(f"device: {cp.cuda.runtime.getDeviceProperties(dev.id)['name'].decode()}, CuPy {cp.__version__}")

    out = cp.empty((n, h, w), cp.uint8)
    got = gpu.decode(rles, out=out)
    if not bool((got == cp.asarray(masks)).all()):
        print("ERROR: GPU decode differs from the generated masks", file=sys.stderr)
        return 1
    packed_out = cp.empty((n, h, (w + 7) // 8), cp.uint8)
    if not bool((gpu.decode(rles, out=packed_out, packed=True) == cp.asarray(np.packbits(masks, -1))).all()):
        print("ERROR: packed GPU decode differs", file=sys.stderr)
        return 1

    fill = gpu_time(cp, lambda: out.fill(0), args.repeat, args.warmup)
    fill_packed = gpu_time(cp, lambda: packed_out.fill(0), args.repeat, args.warmup)
    rows = []
    for parser in ("warp", "serial"):
        k = kernel_time(cp, rles, out, False, parser, args.repeat, args.warmup)
        rows.append((f"kernels ({parser} parse) uint8", k, nbytes, fill))
    k_packed = kernel_time(cp, rles, packed_out, True, "warp", args.repeat, args.warmup)
    rows.append(("kernels (warp parse) packed", k_packed, packed_out.nbytes, fill_packed))
    sync = cp.cuda.get_current_stream().synchronize
    e2e = wall_time(lambda: gpu.decode(rles, out=out), args.repeat, args.warmup, sync)
    e2e_alloc = wall_time(lambda: gpu.decode(rles), args.repeat, args.warmup, sync)
    # Host time of one call: Python + launches (check=False, "deferred"), and
    # with check=True the wait for the parse kernel's status too.
    host_us: dict[Any, tuple[float, float]] = {}
    for check in (False, "deferred", True):
        def call(c: Any = check) -> Any:
            return gpu.decode(rles, out=out, check=c)
        host_us[check] = host_time(call, max(args.repeat, 200), args.warmup, sync), python_calls(call)
        sync()

    print(f"{'what':34s} {'ms':>9s} {'GB/s':>8s} {'x fill(0)':>10s}")
    print(f"{'fill(0) uint8 buffer':34s} {fill:9.3f} {nbytes / fill / 1e6:8.0f} {1:10.2f}")
    print(f"{'fill(0) packed buffer':34s} {fill_packed:9.3f} {packed_out.nbytes / fill_packed / 1e6:8.0f} {1:10.2f}")
    for name, ms, b, ref in rows:
        print(f"{name:34s} {ms:9.3f} {b / ms / 1e6:8.0f} {ms / ref:10.2f}")
    print(f"{'gpu.decode end-to-end, out=':34s} {e2e:9.3f}")
    print(f"{'gpu.decode end-to-end, allocating':34s} {e2e_alloc:9.3f}")
    for check, (us, calls) in host_us.items():
        what = "Python + launches" if check is not True else "Python + launches + the wait for the parse"
        print(f"host time per call, out=, check={check!r}: {us:.1f} us, {calls:.0f} Python calls "
              f"({what}; target <= 30 us of Python)")

    ok = rows[0][1] <= 2 * fill
    print(f"target kernel <= 2x fill(0): {rows[0][1] / fill:.2f}x -> {'PASS' if ok else 'MISS'}")
    if not args.no_cpu:
        try:
            from ..api import decode as cpu_decode
        except ImportError as exc:
            print(f"CPU baseline skipped: fastrle.decode unavailable ({exc})")
        else:
            host = np.empty((n, h, w), np.uint8)

            def cpu_path():
                cpu_decode(rles, out=host)
                out.set(host)

            cpu_ms = wall_time(cpu_path, max(3, args.repeat // 4), 1, sync)
            speed = cpu_ms / e2e
            print(f"{'CPU fastrle.decode + H2D':34s} {cpu_ms:9.3f}")
            print(f"target >= 20x faster than CPU decode + H2D: {speed:.1f}x end-to-end "
                  f"({cpu_ms / rows[0][1]:.0f}x kernels only) -> {'PASS' if speed >= 20 else 'MISS'}")
            ok = ok and speed >= 20
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
