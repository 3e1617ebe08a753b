"""The C core's persistent thread pool (csrc/rle_platform.c, knob fastrle.pool):
concurrent callers share it (a taken pool makes threads of its own), results
equal the oracles (pycocotools decode, cv2.findContours); a fork child starts
a pool of its own; FASTRLE_SPIN_US and the setters; a process that used the
pool exits promptly, even with a call in flight on a daemon thread."""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, List, Tuple

import numpy as np
import pytest

import fastrle
from fastrle import pool, synthetic

cv2 = pytest.importorskip("cv2")
pmask = pytest.importorskip("pycocotools.mask")

SRC = os.path.dirname(os.path.dirname(fastrle.__file__))


def cv2_rings(m: np.ndarray) -> Tuple[List[np.ndarray], np.ndarray]:
    cs, hier = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    return [c.reshape(-1, 2) for c in cs], (hier.reshape(-1, 4) if hier is not None else np.empty((0, 4), np.int32))


def data(seed: int, n: int = 12) -> Tuple[List[Any], np.ndarray, List[Tuple[List[np.ndarray], np.ndarray]]]:
    """Blobs with holes, their pycocotools decode and cv2's rings: the oracles."""
    rles = synthetic.family_masks("blobs", n, 150, 225, seed=seed)
    dense = np.ascontiguousarray(pmask.decode(rles).transpose(2, 0, 1))
    return rles, dense, [cv2_rings(m) for m in dense]


def check_polys(got: List[Any], want: List[Tuple[List[np.ndarray], np.ndarray]]) -> None:
    assert len(got) == len(want)
    for i, (g, (rings, hier)) in enumerate(zip(got, want)):
        assert len(g.rings) == len(rings), i
        for a, b in zip(g.rings, rings):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(g.hierarchy, hier)


def test_concurrent_callers_equal_the_oracles() -> None:
    """Four Python threads, each calling decode and to_polygons on 2 and 3
    threads at once (GIL released): one of them holds the pool, the others
    start threads of their own; every output equals the oracle's."""
    cases = [data(s) for s in range(4)]

    def work(k: int) -> None:
        rles, dense, rings = cases[k % 4]
        for r in range(6):
            t = 2 + (k + r) % 2
            np.testing.assert_array_equal(fastrle.decode(rles, threads=t), dense)
            check_polys(fastrle.to_polygons(rles, mode="ccomp", format="cv2", threads=t), rings)

    with ThreadPoolExecutor(4) as ex:
        for f in [ex.submit(work, k) for k in range(8)]:
            f.result()


def test_spin_knob_sets_every_module() -> None:
    old = pool.spin_us()
    try:
        pool.set_spin_us(0)
        assert [m.spin_us() for m in pool.MODULES] == [0] * len(pool.MODULES)
        rles, dense, rings = data(7)
        np.testing.assert_array_equal(fastrle.decode(rles, threads=2), dense)  # sleeping workers still come
        check_polys(fastrle.to_polygons(rles, mode="ccomp", format="cv2", threads=2), rings)
        pool.set_spin_us(-3)
        assert pool.spin_us() == 0
        pool.set_spin_us(5_000_000)
        assert [m.spin_us() for m in pool.MODULES] == [1_000_000] * len(pool.MODULES)
        assert pool.SPIN_US_MAX == 1_000_000 and all(m.SPIN_US_MAX == 1_000_000 for m in pool.MODULES)
        for big, want in ((2**40, 1_000_000), (2**70, 1_000_000), (-(2**70), 0), (2**40, 1_000_000)):
            pool.set_spin_us(big)  # past a C int, past 64 bits: the C core's clamp still applies
            assert [m.spin_us() for m in pool.MODULES] == [want] * len(pool.MODULES), big
        pool.set_spin_us(np.int64(350))
        assert [m.spin_us() for m in pool.MODULES] == [350] * len(pool.MODULES)
        for bad in (True, 1.5, "5", None):
            with pytest.raises(TypeError, match="us must be an int, got"):
                pool.set_spin_us(bad)
        assert pool.spin_us() == 350  # a rejected value changes nothing
        for m in pool.MODULES:  # each module's own setter: the C core clamps
            m.set_spin_us(5_000_000)
            assert m.spin_us() == 1_000_000
            m.set_spin_us(-3)
            assert m.spin_us() == 0
            m.set_spin_us(2**80)
            assert m.spin_us() == 1_000_000
    finally:
        pool.set_spin_us(old)


@pytest.mark.parametrize("env,want", [("0", 0), ("77", 77), ("oops", 200), ("-5", 200), ("", 200),
                                      ("99999999", 1_000_000), (None, 200)])
def test_spin_from_the_environment(env: Any, want: int) -> None:
    e = {k: v for k, v in os.environ.items() if k != "FASTRLE_SPIN_US"}
    if env is not None:
        e["FASTRLE_SPIN_US"] = env
    e["PYTHONPATH"] = SRC
    out = subprocess.run([sys.executable, "-c", "from fastrle import pool; "
                          "print(sorted({m.spin_us() for m in pool.MODULES}))"],
                         env=e, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"[{want}]"


def _child_work(seed: int) -> Tuple[bool, bool]:
    rles, dense, rings = data(seed)
    ok_d = bool(np.array_equal(fastrle.decode(rles, threads=3), dense))
    try:
        check_polys(fastrle.to_polygons(rles, mode="ccomp", format="cv2", threads=3), rings)
        ok_p = True
    except AssertionError:
        ok_p = False
    return ok_d, ok_p


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_fork_child_after_the_pool_started() -> None:
    """The parent's pool has workers (a call on 3 threads); a forked child has
    none of them, starts its own and gets the oracle's answers."""
    rles, dense, _ = data(3)
    np.testing.assert_array_equal(fastrle.decode(rles, threads=3), dense)
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(2) as p:
        assert p.map(_child_work, [11, 12, 13, 14], chunksize=1) == [(True, True)] * 4


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_fork_while_another_thread_uses_the_pool() -> None:
    """os.fork while a Python thread's threaded calls run: the child's own
    threaded call finishes (no lock or condition variable left held by a
    thread fork did not copy) with the right bytes."""
    rles, dense, _ = data(5, n=20)
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            fastrle.decode(rles, threads=2)

    t = threading.Thread(target=churn)
    t.start()
    try:
        for _ in range(10):
            pid = os.fork()
            if pid == 0:  # pragma: no cover (the child)
                signal.alarm(30)
                ok = np.array_equal(fastrle.decode(rles, threads=3), dense)
                os._exit(0 if ok else 3)
            _, st = os.waitpid(pid, 0)
            assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, st
    finally:
        stop.set()
        t.join()


EXIT_CODE = """
import threading, sys
import fastrle
from fastrle import synthetic
rles = synthetic.family_masks("blobs", 8, 150, 225, seed=1)
polys = fastrle.to_polygons(rles, threads=2)
assert len(polys) == 8
fastrle.decode(rles, threads=2)
if sys.argv[1] == "inflight":  # a daemon thread inside threaded calls when the interpreter ends
    def loop():
        while True:
            fastrle.decode(rles, threads=2)
    threading.Thread(target=loop, daemon=True).start()
print("ok")
"""


@pytest.mark.parametrize("spin", ["0", "200", "1000000"])
@pytest.mark.parametrize("how", ["idle", "inflight"])
def test_process_exits_promptly(spin: str, how: str) -> None:
    """Workers are detached and never keep the process alive, spinning or
    asleep, nor crash the interpreter's shutdown (a hang here is the
    timeout, not a speed judgement)."""
    env = {**os.environ, "PYTHONPATH": SRC, "FASTRLE_SPIN_US": spin}
    out = subprocess.run(["timeout", "60", sys.executable, "-c", EXIT_CODE, how], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    assert out.stdout.strip() == "ok"
