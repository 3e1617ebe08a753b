"""The one equivalence helper every test uses: run the same call on fastrle
and on pycocotools and compare type, dtype, shape, memory order and value."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest

pycoco = pytest.importorskip("pycocotools.mask")


def assert_same(a: Any, b: Any, where: str = "") -> None:
    """a (fastrle) must equal b (pycocotools) exactly, structure included."""
    if isinstance(b, np.ndarray) or isinstance(b, np.generic):
        assert type(a) is type(b), f"{where}: type {type(a)} != {type(b)}"
        if isinstance(b, np.ndarray):
            assert a.dtype == b.dtype, f"{where}: dtype {a.dtype} != {b.dtype}"
            assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
            assert a.flags.f_contiguous == b.flags.f_contiguous, f"{where}: F-order differs"
            assert a.flags.c_contiguous == b.flags.c_contiguous, f"{where}: C-order differs"
            # bit for bit, NaN included
            assert a.tobytes() == b.tobytes(), f"{where}: values differ"
        else:
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), f"{where}: {a!r} != {b!r}"
    elif isinstance(b, dict):
        assert isinstance(a, dict) and a.keys() == b.keys(), f"{where}: keys {a!r} vs {b!r}"
        for k in b:
            assert_same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(b, list):
        assert isinstance(a, list) and len(a) == len(b), f"{where}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert type(a) is type(b) and a == b, f"{where}: {a!r} != {b!r}"


# pycocotools raises these as a bare Exception; fastrle.mask raises the
# specific type with the same message (README: deliberate differences).
BARE_EXCEPTION_TYPES = {
    "numpy ndarray input is only for *bounding boxes*": ValueError,
    "list input can be bounding box (Nx4) or RLEs ([RLE])": TypeError,
    "unrecognized type.": TypeError,
    "input type is not supported.": TypeError,
    "The dt and gt should have the same data type": TypeError,
}


def expected_error(exc: BaseException) -> type:
    """The exact exception type fastrle.mask must raise where pycocotools
    raised `exc`: the same type, except for the bare Exceptions above."""
    if type(exc) is not Exception:
        return type(exc)
    for prefix, kind in BARE_EXCEPTION_TYPES.items():
        if str(exc).startswith(prefix):
            return kind
    raise AssertionError(f"pycocotools raised a bare Exception that has no documented mapping: {exc!r}")


def assert_same_error(ours: Callable[[], Any], exc: BaseException) -> None:
    """ours() must raise exactly expected_error(exc) (RLEError counts as the
    ValueError it subclasses), with pycocotools' message for a bare Exception."""
    want = expected_error(exc)
    with pytest.raises(Exception) as info:
        ours()
    got = info.value
    from fastrle import RLEError
    ok = type(got) is want or (want is ValueError and type(got) is RLEError)
    assert ok, f"raised {type(got).__name__}({got}), expected {want.__name__} (pycocotools: {exc!r})"
    if type(exc) is Exception:
        assert str(got) == str(exc), (str(got), str(exc))


def check_same(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call fastrle.mask.<name> and pycocotools.mask.<name> with the same
    arguments; both must return the same thing, or raise the same exception
    type (see expected_error). Returns pycocotools' result, None if it raised."""
    from fastrle import mask as fm

    ours: Callable = getattr(fm, name)
    theirs: Callable = getattr(pycoco, name)
    try:
        expected = theirs(*args, **kwargs)
    except Exception as exc:
        assert_same_error(lambda: ours(*args, **kwargs), exc)
        return None
    got = ours(*args, **kwargs)
    assert_same(got, expected, name)
    return expected


def to_f(masks_nhw: np.ndarray) -> np.ndarray:
    """(N, H, W) -> pycocotools' (H, W, N) uint8 in Fortran order."""
    return np.asfortranarray(masks_nhw.transpose(1, 2, 0).astype(np.uint8))


def pyc_decode_c(rles: list) -> np.ndarray:
    """pycocotools decode, as C-order (N, H, W): the native API's oracle."""
    return np.ascontiguousarray(pycoco.decode(rles).transpose(2, 0, 1))


def ticks_inside(call: Callable[[], Any], period: float = 0.0005) -> tuple:
    """Run call() once while a ticker thread records a timestamp every
    `period` s; returns (ticks inside the middle 60% of the call's window,
    the call's seconds).

    Only ticks *inside* one call count: a call that holds the GIL lets the
    ticker in only at its edges (GIL hand-overs as it starts and returns,
    a few more on a busy machine), however long it takes, while a call that
    releases it lets the ticker run throughout. Counting ticks across several
    calls would not tell these apart, since the ticker runs between calls
    either way; leaving out the first and last 20% drops the edges."""
    import threading
    import time

    stamps: list = []
    stop = threading.Event()
    running = threading.Event()

    def ticker() -> None:
        running.set()
        while not stop.is_set():
            stamps.append(time.perf_counter())
            time.sleep(period)

    t = threading.Thread(target=ticker, daemon=True)
    t.start()
    running.wait(10)
    time.sleep(0.01)
    try:
        t0 = time.perf_counter()
        call()
        t1 = time.perf_counter()
    finally:
        stop.set()
        t.join(10)
    assert not t.is_alive()
    lo, hi = t0 + 0.2 * (t1 - t0), t1 - 0.2 * (t1 - t0)
    return sum(lo < s < hi for s in stamps), t1 - t0


def run_probe(code: str, isa: str, timeout: float = 600) -> str:
    """Run ``code`` in a fresh Python with FRLE_ISA=isa (the kernels are picked
    once per process); assert it exits 0 and return its stdout."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, FRLE_ISA=isa)
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=timeout)
    assert p.returncode == 0, f"FRLE_ISA={isa}: " + p.stderr[-3000:]
    return p.stdout


def scaled_call(make: Callable[[int], Callable[[], Any]], target: float = 0.15, cap: int = 64) -> Callable[[], Any]:
    """make(n) -> a call of n units; pick n so that one call takes ~target s
    on this machine (a fixed size is too short to measure on a fast one)."""
    import time

    probe = make(2)
    probe()  # warm: first-touch page faults would inflate the estimate
    t0 = time.perf_counter()
    probe()
    one = (time.perf_counter() - t0) / 2
    return make(max(1, min(cap, int(target / max(one, 1e-6)) + 1)))


def gil_holding_ticks(seconds: float, tries: int = 3) -> int:
    """Ticks inside a call that holds the GIL for about `seconds`: the C loop
    of sum() over a range never lets other threads in. This is the baseline
    a GIL-releasing call must clearly beat: 0 on CPython. The least of
    `tries` runs, in case a busy machine stretches an edge hand-over."""
    import time

    t0 = time.perf_counter()
    sum(range(200_000))
    per = (time.perf_counter() - t0) / 200_000
    n = int(seconds / max(per, 1e-10))
    return min(ticks_inside(lambda: sum(range(n)))[0] for _ in range(tries))
