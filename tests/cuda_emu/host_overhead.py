"""Python-side cost of one ``fastrle.gpu.decode`` call for 100 SA-1B-like
masks (1500x2250), without a GPU: CuPy is replaced by a fake whose device
calls (copies, launches, events) do nothing, so what is timed is fastrle's
host code -- packing, planning, workspace reuse, argument marshalling.

    python tests/cuda_emu/host_overhead.py [--limit US] [--profile]

Prints the median µs per call (wall and thread CPU time) into a caller's
``out`` with ``check=False``, ``True`` and ``"deferred"``, the Python
function calls per call, and PASS or FAIL per mode against issue 21's
target (``--limit``, 30 µs per call; judged on the thread CPU time, which
leaves out the waits for a core on a shared machine); the exit status is 1
if any mode fails.  A second set of rows alternates two batches of 100
masks (the strings differ call to call, as in a real loop; not judged).  The
fake's allocations are numpy ones, so only the ``out=`` rows are meaningful
(an allocating call adds CuPy's pool allocation on a real GPU).  On a
shared machine the medians carry its load: the 1-minute load average is
printed with them.
"""
from __future__ import annotations

import itertools
import os
import statistics
import sys
import time
import types
from typing import Any, Callable

import numpy as np


class Ev:
    done = True

    def __init__(self, **kw: Any) -> None:
        pass

    def synchronize(self) -> None:
        pass


class Stream:
    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *a: Any) -> None:
        return None

    def record(self, event: Any = None) -> Any:
        return event if event is not None else Ev()

    def wait_event(self, e: Any) -> None:
        pass

    def synchronize(self) -> None:
        pass


class Arr(np.ndarray):
    @property
    def data(self) -> Any:
        return types.SimpleNamespace(copy_from_host_async=lambda *a, **k: None,
                                     copy_to_host_async=lambda *a, **k: None, ptr=0)


class Mod:
    def __init__(self, code: str, options: Any = ()) -> None:
        pass

    def get_function(self, name: str) -> Callable[..., None]:
        return lambda grid, block, args, shared_mem=0: None


def install_fake_cupy() -> Any:
    """Put the do-nothing CuPy into ``sys.modules``; returns it."""
    stream = Stream()
    cp = types.SimpleNamespace(
        ndarray=Arr, RawModule=Mod, empty=lambda s, dtype=None: np.empty(s, dtype).view(Arr),
        copyto=lambda dst, src, casting="same_kind": None,
        cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 1, getDevice=lambda: 0),
                                   Stream=Stream, ExternalStream=Stream, Event=Ev,
                                   get_current_stream=lambda: stream))
    sys.modules["cupy"] = cp  # type: ignore[assignment]
    sys.modules["cupyx"] = types.SimpleNamespace(  # type: ignore[assignment]
        empty_pinned=lambda shape, dtype: np.zeros(shape, dtype))
    return cp


def median_us(f: Callable[[], Any], n: int = 2000, clock: Callable[[], float] = time.perf_counter) -> float:
    """Median µs per call of ``f`` on ``clock``: wall time, or
    ``time.thread_time`` (this thread's CPU time: on a loaded machine it
    leaves out the waits for a core, not the slower caches)."""
    for _ in range(50):
        f()
    ts = []
    for _ in range(n):
        t0 = clock()
        f()
        ts.append(clock() - t0)
    return statistics.median(ts) * 1e6


#: Issue 21's target: host µs per call for 100 masks with ``out=``, each check mode.
LIMIT_US = 30.0


def main() -> int:
    limit = float(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else LIMIT_US
    cp = install_fake_cupy()
    from fastrle import synthetic
    from fastrle.gpu import api as gpu
    from fastrle.bench.gpu import python_calls
    from fastrle.gpu import launch as L

    rles = synthetic.sa1b_like(100, 1500, 2250, 0)
    other = synthetic.sa1b_like(100, 1500, 2250, 1)
    out = cp.empty((100, 1500, 2250), np.uint8)
    print(f"load average (1 min) {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    failed = []
    for check in (False, True, "deferred"):
        def f(check: Any = check) -> Any:
            return gpu.decode(rles, out=out, check=check)
        cpu = median_us(f, clock=time.thread_time)
        verdict = "PASS" if cpu <= limit else "FAIL"
        if cpu > limit:
            failed.append(check)
        print(f"decode(out=, check={check!r}): {median_us(f):.1f} us wall, {cpu:.1f} us CPU, "
              f"{python_calls(f):.0f} Python calls: {verdict} (<= {limit:g} us CPU)")
    turns = itertools.cycle((rles, other))
    for check in (False, True, "deferred"):
        def g(check: Any = check) -> Any:
            return gpu.decode(next(turns), out=out, check=check)
        print(f"decode(out=, check={check!r}), two batches in turn: {median_us(g):.1f} us wall, "
              f"{median_us(g, clock=time.thread_time):.1f} us CPU")
    print(f"pack_rles alone: {median_us(lambda: L.pack_rles(rles)):.1f} us wall, "
          f"{median_us(lambda: L.pack_rles(rles), clock=time.thread_time):.1f} us CPU")
    print("all modes PASS" if not failed else f"FAIL: check={', '.join(map(repr, failed))} over {limit:g} us")
    if "--profile" in sys.argv:
        import cProfile
        import pstats

        pr = cProfile.Profile()
        pr.enable()
        for _ in range(3000):
            gpu.decode(rles, out=out, check=True)
        pr.disable()
        pstats.Stats(pr).sort_stats("tottime").print_stats(16)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
