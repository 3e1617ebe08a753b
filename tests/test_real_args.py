"""Real-number arguments (fastrle._args.real_arg): roi_align's spatial_scale,
to_polygons' min_area, remove_small_regions' area_thresh and viz.overlay's
alpha (its [0, 1] range checked after).

A bad value gets the clear error and nothing else: no numpy RuntimeWarning
from a cast made while checking (spatial_scale=1e39 used to warn "overflow
encountered in cast" next to its ValueError), and no bare OverflowError from
float() of an int beyond float64. Every test turns warnings into errors.
Expected outcomes are written by hand; the float32 limit is checked against
numpy's own cast.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import fastrle
from fastrle import _args as A

BOX = [[0.0, 0.0, 4.0, 4.0]]
HUGE = 2**2000  # an int beyond float64: float() raises OverflowError


def _rle(m):
    return fastrle.encode(np.asarray(m, np.uint8)[None])[0]


@pytest.fixture(autouse=True)
def _warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.mark.parametrize("scale", [1e39, -1e39, 1e308, -1e308, np.float64(1e39), float("inf"), float("-inf"),
                                   float("nan"), np.float32("inf"), pytest.param(HUGE, id="2**2000"),
                                   pytest.param(-HUGE, id="-2**2000")])
def test_spatial_scale_out_of_float32_only_the_error(scale):
    with pytest.raises(ValueError, match="spatial_scale must be finite"):
        fastrle.roi_align(_rle(np.ones((4, 4))), BOX, 2, spatial_scale=scale)


@pytest.mark.parametrize("scale", ["x", "2", b"2", True, None, [1.0]])
def test_spatial_scale_not_a_number(scale):
    with pytest.raises(TypeError, match="spatial_scale must be a number"):
        fastrle.roi_align(_rle(np.ones((4, 4))), BOX, 2, spatial_scale=scale)


def test_spatial_scale_in_range_works():
    # a 4x4 mask of ones: every bin of every box inside it averages to 1
    for scale in (0.5, 1, np.float32(1.0), np.int64(1), 3.0e38):
        box = [[0.0, 0.0, 1e-38, 1e-38]] if scale == 3.0e38 else BOX  # scaled: about [0, 0, 3, 3]
        got = fastrle.roi_align([_rle(np.ones((4, 4)))], box, 1, spatial_scale=scale, sampling_ratio=1)
        assert got.shape == (1, 1, 1) and got[0, 0, 0] == 1.0


def test_box_beyond_float64_only_the_error():
    with pytest.raises(ValueError, match="boxes must be finite"):
        fastrle.roi_align(_rle(np.ones((4, 4))), [[0, 0, HUGE, 4]], 2)


def test_float32_limit_is_numpys_cast():
    lim = A.FLOAT32_INF_FROM
    below = np.nextafter(lim, 0.0)
    with np.errstate(over="ignore"):
        assert math.isinf(np.float32(lim)) and math.isinf(np.float32(-lim))
        assert math.isfinite(np.float32(below)) and math.isfinite(np.float32(-below))
    assert A.real_arg(below, "s", float32=True) == below
    assert A.real_arg(-below, "s", float32=True) == -below
    for v in (lim, -lim):
        with pytest.raises(ValueError, match="s must be finite in float32"):
            A.real_arg(v, "s", float32=True)
    assert A.real_arg(lim, "s") == lim  # float64 is enough without float32=True


def test_real_arg_rules():
    assert A.real_arg(3, "v") == 3.0 and type(A.real_arg(np.int32(3), "v")) is float
    for bad in (True, np.bool_(False), "1", b"1", None, object()):
        with pytest.raises(TypeError, match="v must be a number"):
            A.real_arg(bad, "v")
    for bad in (float("nan"), float("inf"), -HUGE):
        with pytest.raises(ValueError, match="v must be finite"):
            A.real_arg(bad, "v")
    assert A.real_arg(HUGE, "v", finite=False) == math.inf
    assert A.real_arg(-HUGE, "v", finite=False) == -math.inf
    assert math.isnan(A.real_arg(float("nan"), "v", finite=False))


def test_min_area_beyond_float64_drops_every_ring():
    # a 3x3 square: one ring (its pixel outline, area 9); any threshold above its area drops it
    r = _rle(np.ones((3, 3)))
    assert len(fastrle.to_polygons(r).rings) == 1
    assert fastrle.to_polygons(r, min_area=HUGE).rings == []
    assert fastrle.to_polygons(r, min_area=float("inf")).rings == []


def test_area_thresh_beyond_float64_is_infinite():
    # islands mode, two islands (areas 1 and 4), every region below the threshold:
    # Segment Anything keeps the largest, so the 1-pixel island goes
    m = np.zeros((4, 6), np.uint8)
    m[0, 0] = 1
    m[2:4, 3:5] = 1
    want = m.copy()
    want[0, 0] = 0
    for thresh in (HUGE, float("inf"), 5):
        (out,), changed = fastrle.remove_small_regions([_rle(m)], thresh, mode="islands")
        assert changed.tolist() == [True]
        assert np.array_equal(fastrle.decode(out), want)


@pytest.mark.parametrize("alpha", [pytest.param(HUGE, id="2**2000"), pytest.param(-HUGE, id="-2**2000"),
                                   float("nan"), float("inf"), 1e308])
def test_overlay_alpha_out_of_range_only_the_error(alpha):
    from fastrle import viz

    with pytest.raises(ValueError, match=r"alpha must be a number in \[0, 1\]"):
        viz.overlay(np.zeros((4, 6, 3), np.uint8), [_rle(np.ones((4, 6)))], alpha=alpha)
