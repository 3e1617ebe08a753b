"""fastrle._contours.contours_each, the hand-over behind to_polygons: every
mask's rings reach the callback exactly once, on the calling thread, equal
to cv2.findContours (the oracle); errors: bad RLEs first, then what the
callback raised; and the C core's flat pack of big outputs on threads."""
import threading

import numpy as np
import pytest

import fastrle
from fastrle import _contours, _core

cv2 = pytest.importorskip("cv2")
pmask = pytest.importorskip("pycocotools.mask")


def rle_of(m):
    r = pmask.encode(np.asfortranarray(m.astype(np.uint8)))
    r["counts"] = r["counts"].decode()
    return r


def masks_with_holes(n, seed):
    """Blobs with holes and islands in holes, some empty, sizes differing."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        h, w = int(rng.integers(1, 60)), int(rng.integers(1, 60))
        m = rng.random((h, w)) < [0.0, 0.3, 0.6, 0.9][k % 4]
        if h > 8 and w > 8:
            m[2:-2, 2:-2] = True
            m[4:-4, 4:-4] = False
            m[h // 2, w // 2] = True
        out.append(np.ascontiguousarray(m, np.uint8))
    return out


def cv2_rings(m):
    cs, hier = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    return [c.reshape(-1, 2) for c in cs], (hier.reshape(-1, 4) if hier is not None else np.empty((0, 4), np.int32))


def each(rles, threads, fn):
    _contours.contours_each(_core.sources(rles, same_size=False), _contours.CCOMP, _contours.APPROX_NONE,
                            False, threads, fn)


@pytest.mark.parametrize("threads", [1, 2, 3, 8])  # 8: more threads than CPUs
def test_every_mask_once_on_the_calling_thread_equal_to_cv2(threads):
    masks = masks_with_holes(120, seed=threads)
    rles = [rle_of(m) for m in masks]
    calls, idents = [], set()

    def fn(i, rings, hier, parents):
        idents.add(threading.get_ident())
        calls.append((i, rings, hier, parents))

    each(rles, threads, fn)
    assert sorted(c[0] for c in calls) == list(range(len(masks)))  # each mask once
    assert idents == {threading.get_ident()}  # the callback may use Python freely
    for i, rings, hier, parents in calls:
        want, whier = cv2_rings(masks[i])
        assert len(rings) == len(want), i
        assert all(r.dtype == np.int32 and np.array_equal(r, c) for r, c in zip(rings, want)), i
        assert np.array_equal(hier, whier) and np.array_equal(parents, whier[:, 3]), i


@pytest.mark.parametrize("threads", [1, 2])
def test_a_raising_callback_stops_the_job_and_its_exception_comes_out(threads):
    rles = [rle_of(m) for m in masks_with_holes(60, seed=7)]
    seen = []

    class Stop(Exception):
        pass

    def fn(i, rings, hier, parents):
        seen.append(i)
        if len(seen) == 2:
            raise Stop(i)

    with pytest.raises(Stop):
        each(rles, threads, fn)
    assert len(seen) == 2  # not called again after it raised


@pytest.mark.parametrize("threads", [1, 2])
def test_bad_rles_come_before_the_callbacks_exception(threads):
    good = rle_of(np.ones((4, 4), np.uint8))
    bad = {"size": [4, 4], "counts": [3, 2]}  # sums to 5, not 16

    def fn(i, rings, hier, parents):
        raise KeyError(i)

    with pytest.raises(fastrle.RLEError) as e:
        each([good, good, bad, good], threads, fn)
    assert e.value.index == 2 and e.value.reason == "sum_short"
    with pytest.raises(fastrle.RLEError) as e:
        fastrle.to_polygons([good, bad, good], threads=threads)
    assert e.value.index == 1


def test_no_masks_no_calls():
    each([], 2, lambda *a: pytest.fail("called"))


def test_flat_pack_of_a_big_output_on_threads():
    """Over FRLE_PACK_SERIAL_POINTS (2**20) points the flat pack runs on
    threads: the flat table equals the per-mask one and cv2's rings."""
    rng = np.random.default_rng(3)
    masks = [np.ascontiguousarray(rng.random((700, 700)) < 0.5, np.uint8) for _ in range(4)]
    rles = [rle_of(m) for m in masks]
    runs = _core.parse(_core.sources(rles, same_size=False), True)
    flat = _contours.contours(runs.arena, runs.offsets, runs.heights, runs.widths, _contours.CCOMP,
                              _contours.APPROX_NONE, False, 2)
    pts, roff, hier, mr = flat
    assert len(pts) > 2**20  # the threaded pack ran
    for i, m in enumerate(masks):
        want, whier = cv2_rings(m)
        a, b = mr[i], mr[i + 1]
        assert b - a == len(want)
        assert all(np.array_equal(pts[roff[r]:roff[r + 1]], c) for r, c in zip(range(a, b), want))
        assert np.array_equal(hier[a:b], whier)


@pytest.mark.parametrize("threads", [1, 2])
def test_flat_table_from_sources_equal_to_cv2(threads):
    """contours_src (the flat table, parsed on the threads) on the same masks."""
    masks = masks_with_holes(80, seed=11)
    pts, roff, hier, mr = _contours.contours_src(_core.sources([rle_of(m) for m in masks], same_size=False),
                                                 _contours.CCOMP, _contours.APPROX_NONE, False, threads)
    for i, m in enumerate(masks):
        want, whier = cv2_rings(m)
        a, b = mr[i], mr[i + 1]
        assert b - a == len(want), i
        assert all(np.array_equal(pts[roff[r]:roff[r + 1]], c) for r, c in zip(range(a, b), want)), i
        assert np.array_equal(hier[a:b], whier), i
