"""Python-side cost of one ``fastrle.gpu.decode`` call for 100 SA-1B-like
masks (1500x2250), without a GPU: CuPy is replaced by a fake whose device
calls (copies, launches, events) do nothing, so what is timed is fastrle's
host code -- packing, planning, workspace reuse, argument marshalling.

    python tests/cuda_emu/host_overhead.py [--profile]

The fake's allocations are numpy ones, so only the ``out=`` rows are
meaningful (an allocating call adds CuPy's pool allocation on a real GPU).
"""
import statistics
import sys
import time
import types

import numpy as np

from fastrle import synthetic
from fastrle.gpu import api as gpu, launch as L

class Ev:
    done = True
    def synchronize(self): pass
class Stream:
    def __enter__(self): return self
    def __exit__(self, *a): return False
    def record(self): return Ev()
    def wait_event(self, e): pass
    def synchronize(self): pass
class Arr(np.ndarray):
    @property
    def data(self):
        return types.SimpleNamespace(copy_from_host_async=lambda *a, **k: None,
                                     copy_to_host_async=lambda *a, **k: None, ptr=0)
class Mod:
    def __init__(self, code, options=()): pass
    def get_function(self, name): return lambda grid, block, args, shared_mem=0: None
stream = Stream()
cp = types.SimpleNamespace(ndarray=Arr, RawModule=Mod, empty=lambda s, dtype=None: np.empty(s, dtype).view(Arr),
    cuda=types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=lambda: 1, getDevice=lambda: 0),
                               Stream=Stream, ExternalStream=Stream, get_current_stream=lambda: stream))
sys.modules["cupy"] = cp
sys.modules["cupyx"] = types.SimpleNamespace(empty_pinned=lambda shape, dtype: np.zeros(shape, dtype))
rles = synthetic.sa1b_like(100, 1500, 2250, 0)
out = cp.empty((100, 1500, 2250), np.uint8)
def t(f, n=2000):
    for _ in range(50): f()
    ts = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e6
print(f"decode(out=, check=False): {t(lambda: gpu.decode(rles, out=out, check=False)):.1f} us")
print(f"decode(out=, check=True):  {t(lambda: gpu.decode(rles, out=out)):.1f} us")
print(f"pack_rles alone: {t(lambda: L.pack_rles(rles)):.1f} us")
if "--profile" in sys.argv:
    import cProfile
    import pstats

    pr = cProfile.Profile()
    pr.enable()
    for _ in range(3000):
        gpu.decode(rles, out=out, check=False)
    pr.disable()
    pstats.Stats(pr).sort_stats("tottime").print_stats(14)
