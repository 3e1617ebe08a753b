"""The nearest / nearest-exact index rule (fastrle.transforms.nearest_map, the C
rule frle_nearest_src) against torch, the oracle: every (in, out) pair up to
300, 2-D resizes on both sides of torch's kernel switch (oh + ow <= 128), and
sides around 2**23, 2**24, 2**31 and 2**32 - 1.

Where torch cannot run at a size (outputs of 2**31 samples), the rule is checked
against ``aten_rule`` below, an independent numpy transcription of ATen's
arithmetic, which is itself checked against torch at the sizes torch can run."""
from __future__ import annotations

import numpy as np
import pytest

import fastrle
from fastrle.transforms import nearest_map

torch = pytest.importorskip("torch")
F = torch.nn.functional

MODES = ["nearest", "nearest-exact"]


def aten_rule(n, m, mode: str, other, d) -> np.ndarray:
    """torch 2.x's CPU source index of output indices d (n -> m samples, the
    other output side ``other``; numpy arrays broadcast), for uint8/float32
    input, written from ATen (UpSample.h, cpu/UpSampleKernel.cpp):
    scale = compute_scales_value<float>(nullopt, n, m) = float(n) / float(m);
    nearest: floorf(scale * dst) (HelperInterpNearest, and nearest_idx);
    nearest-exact, oh + ow <= 128 (cpu_upsample_nearest_channels_last with
    nearest_exact_idx): floorf((dst + 0.5) * scale), the product in double;
    otherwise (HelperInterpNearestExact): floorf(src + 0.5) with
    src = max(scale * (dst + 0.5f) - 0.5f, 0) in float, one fma on x86;
    each clamped to n - 1."""
    n, m, other, d = (np.asarray(v, np.int64) for v in (n, m, other, d))
    s = n.astype(np.float32) / m.astype(np.float32)
    if mode == "nearest":
        f = np.floor(d.astype(np.float32) * s)
    else:
        small = np.floor(((d.astype(np.float64) + 0.5) * s.astype(np.float64)).astype(np.float32))
        a = d.astype(np.float32) + np.float32(0.5)
        r = (s.astype(np.float64) * a.astype(np.float64) - 0.5).astype(np.float32)  # fmaf: exact in double
        r = np.maximum(r, np.float32(0))
        generic = np.floor((r.astype(np.float64) + 0.5).astype(np.float32))
        f = np.where(m + other <= 128, small, generic)
    return np.minimum(f.astype(np.int64), n - 1)


def torch_map(n: int, m: int, mode: str, other: int = 1) -> np.ndarray:
    """torch's source index of each of m outputs: a uint8 ramp of the indices in
    base 256 over C = 3 channels (C < 4 keeps the masks' kernel choice), resized
    to (other, m); row 0 of the output spells out the map. n < 2**24."""
    idx = torch.arange(n, dtype=torch.int64)
    x = torch.stack([(idx >> 16) & 255, (idx >> 8) & 255, idx & 255]).to(torch.uint8).view(1, 3, 1, n)
    r = F.interpolate(x, size=(other, m), mode=mode)[0, :, 0].to(torch.int64)
    return ((r[0] << 16) | (r[1] << 8) | r[2]).numpy()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# --- every pair up to 300 ------------------------------------------------------------


PAIRS_MAX = 300


@pytest.mark.parametrize("mode", MODES)
def test_every_pair_up_to_300_matches_torch(mode):
    """nearest_map(n, m) is torch's map of a (1, n) -> (1, m) uint8 resize for
    every n, m in 1..300, and so is the GPU's host map (gpu.launch.Transform),
    and so is the aten_rule transcription used at the sizes torch cannot run."""
    from fastrle.gpu import launch

    ms = np.arange(1, PAIRS_MAX + 1)
    m_of = np.repeat(ms, ms)  # the out size of each entry of the concatenated maps
    d_of = np.concatenate([np.arange(m) for m in ms])
    bad, bad_gpu, bad_ref = [], [], []
    for n in range(1, PAIRS_MAX + 1):
        idx = torch.arange(n, dtype=torch.int64)
        x = torch.stack([idx >> 8, idx & 255]).to(torch.uint8).view(1, 2, 1, n)
        r = torch.cat([F.interpolate(x, size=(1, int(m)), mode=mode)[0, :, 0] for m in ms], 1).to(torch.int64)
        want = ((r[0] << 8) | r[1]).numpy()
        got = np.concatenate([nearest_map(n, int(m), mode) for m in ms])
        gpu = np.concatenate([launch.Transform(1, int(m), mode).maps(1, n)[1:1 + m] for m in ms])
        bad += [(n, int(m)) for m in np.unique(m_of[got != want])]
        bad_gpu += [(n, int(m)) for m in np.unique(m_of[gpu != want])]
        bad_ref += [(n, int(m)) for m in np.unique(m_of[aten_rule(n, m_of, mode, 1, d_of) != want])]
    assert not bad, f"{mode}: nearest_map differs from torch at (in, out) = {bad[:10]} ({len(bad)} pairs)"
    assert not bad_gpu, f"{mode}: GPU maps differ from torch at {bad_gpu[:10]} ({len(bad_gpu)} pairs)"
    assert not bad_ref, f"{mode}: aten_rule differs from torch at {bad_ref[:10]}"


def test_float32_input_takes_the_same_indices_as_uint8():
    """Masks are uint8; torch computes uint8 indices in float32, as for float32
    input (float64 input differs: it is not the oracle)."""
    for n, m in [(2, 141), (14, 287), (1500, 683), (9, 1000), (1000, 9)]:
        for mode in MODES:
            x = torch.arange(n, dtype=torch.float32).view(1, 1, 1, n)
            got = F.interpolate(x, size=(1, m), mode=mode)[0, 0, 0].to(torch.int64).numpy()
            np.testing.assert_array_equal(got, torch_map(n, m, mode))


# --- 2-D: torch switches kernels at oh + ow = 128 -------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_2d_maps_follow_torch_kernel_switch(mode):
    """For (h, w) -> (oh, ow) torch takes its channels-last kernel when
    oh + ow <= 128 and the generic one above; they round nearest-exact
    differently. Both axes' maps, and a decode, must follow the switch."""
    cases = [(2, 41, 87), (2, 41, 88), (2, 41, 100), (2, 123, 5), (2, 123, 6), (4, 82, 46), (4, 82, 47),
             (6, 123, 5), (6, 123, 6), (10, 205, 1), (300, 64, 64), (300, 64, 65), (2, 141, 1)]
    for n, m, other in cases:
        want = torch_map(n, m, mode, other)
        np.testing.assert_array_equal(nearest_map(n, m, mode, other_size=other), want, err_msg=str((n, m, other)))
        np.testing.assert_array_equal(aten_rule(n, m, mode, other, np.arange(m)), want)
    # through decode: (1, 2) [0, 1] -> (oh, 41) on both sides of the switch
    rle = fastrle.encode(np.array([[[0, 1]]], np.uint8))
    x = torch.tensor([[[[0, 1]]]], dtype=torch.uint8)
    for oh in (87, 88, 100):
        want = F.interpolate(x, size=(oh, 41), mode=mode)[:, 0].numpy()
        np.testing.assert_array_equal(fastrle.decode(rle, size=(oh, 41), mode=mode), want, err_msg=str(oh))


# --- large sides ------------------------------------------------------------------------

BIG_IN = [2**23 - 1, 2**23, 2**23 + 1, 9043592, 2**24 - 1, 2**24, 2**24 + 1]
HUGE = [2**31 - 1, 2**31, 2**31 + 1, 2**32 - 1]


def sample(m: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Output indices worth checking: the ends, random ones, and those whose
    exact source position (d + 0.5) * n / m or d * n / m is nearest a whole."""
    d = np.concatenate([np.arange(min(m, 300)), np.arange(max(0, m - 300), m), rng.integers(0, m, 3000)])
    # d with (2d + 1) n within m of a multiple of 2m (half-way cases) and d n near a multiple of m
    k = rng.integers(0, n, 3000)
    near = np.concatenate([(2 * k * m // n - 1) // 2, (2 * k * m // n + 1) // 2, k * m // n, k * m // n + 1])
    d = np.concatenate([d, near])
    return np.unique(d[(d >= 0) & (d < m)])


def test_big_inputs_match_torch():
    """Sides 2**23 - 1 .. 2**24 + 1 (float32 loses halves, then integers):
    nearest_map against torch's full map, small and large outputs, both
    modes. torch's input is a float32 ramp (indices <= 2**24 are exact in
    float32, and float32 input takes uint8's indices)."""
    rng = np.random.default_rng(1)
    big = {2**23 + 1: [2**23 + 1], 9043592: [9043591], 2**24 + 1: [2**24 + 1, 2**25 + 2]}
    ramp = torch.arange(max(BIG_IN), dtype=torch.float32).view(1, 1, 1, -1)
    for n in BIG_IN:
        x = ramp[..., :n]
        for m in [1, 7, 100, 127, 128, 129, 1000, *big.get(n, [])]:
            for mode in MODES:
                want = F.interpolate(x, size=(1, m), mode=mode)[0, 0, 0].numpy().astype(np.int64)
                got = nearest_map(n, m, mode)
                bad = np.flatnonzero(got != want)
                assert bad.size == 0, (f"{mode} {n} -> {m}: outputs {bad[:5]} give {got[bad[:5]]}, "
                                       f"torch {want[bad[:5]]}")
                d = sample(m, n, rng)
                np.testing.assert_array_equal(aten_rule(n, m, mode, 1, d), want[d], err_msg=f"aten_rule {n} -> {m}")


@pytest.mark.parametrize("mode", MODES)
def test_big_outputs_from_small_inputs(mode):
    """Outputs of 2**23 .. 2**24 + 1 samples from small inputs against torch;
    outputs up to 2**32 - 1 against aten_rule at sampled indices."""
    rng = np.random.default_rng(2)
    for n in [1, 2, 3, 7, 255, 1000, 4097]:
        for m in [2**23 + 1] if n in (3, 1000) else []:
            want = torch_map(n, m, mode)
            np.testing.assert_array_equal(nearest_map(n, m, mode), want, err_msg=f"{n} -> {m}")
        for m in [2**24 + 3, 2**25 + 7, *HUGE]:
            d = sample(m, n, rng)
            np.testing.assert_array_equal(nearest_map(n, m, mode, index=d), aten_rule(n, m, mode, 1, d),
                                          err_msg=f"{n} -> {m}")


@pytest.mark.parametrize("mode", MODES)
def test_huge_sides_against_aten_rule(mode):
    """in and out around 2**31 and up to 2**32 - 1, sampled."""
    rng = np.random.default_rng(3)
    outs = [1, 7, 127, 128, 1000, 2**23 + 1, 2**24 + 1, 2**31 - 1, 2**31, 2**31 + 1, 2**32 - 1]
    for n in BIG_IN + HUGE:
        for m in outs:
            for other in (1, 128):
                d = sample(m, n, rng)
                np.testing.assert_array_equal(nearest_map(n, m, mode, other_size=other, index=d),
                                              aten_rule(n, m, mode, other, d), err_msg=f"{n} -> {m} ({other})")


@pytest.mark.parametrize("mode", MODES)
def test_2_to_the_31_inputs_match_torch(mode):
    """torch itself on a 1 x (2**31 + 1) uint8 row: each output's predicted
    source pixel and its two neighbours hold distinct codes, so the output
    says which one torch read. (torch.empty: only the written pages are
    touched; code 0 is never used.)"""
    n = 2**31 + 1
    x = torch.empty((1, 1, 1, n), dtype=torch.uint8)
    row = x[0, 0, 0]
    for m in [7, 100, 127, 129, 1000]:
        pred = nearest_map(n, m, mode)
        pos = np.concatenate([pred - 1, pred + 1, pred])  # pred last: its code wins on overlap
        code = np.concatenate([np.full(m, 1), np.full(m, 2), 3 + np.arange(m) % 250]).astype(np.uint8)
        keep = (pos >= 0) & (pos < n)
        row[torch.from_numpy(pos[keep])] = torch.from_numpy(code[keep])
        got = F.interpolate(x, size=(1, m), mode=mode)[0, 0, 0].numpy()
        np.testing.assert_array_equal(got, 3 + np.arange(m) % 250, err_msg=f"{n} -> {m}")


# --- the two reported bugs, through the public API -----------------------------------------


def test_regression_2_to_141_decode():
    """A 1x2 mask [0, 1] resized to 1x141 (nearest-exact): torch gives 1 in
    column 70; the GPU's old numpy map gave 0 there."""
    from fastrle.gpu import launch

    mask = np.array([[[0, 1]]], np.uint8)
    want = F.interpolate(torch.from_numpy(mask)[None], size=(1, 141), mode="nearest-exact")[0].numpy()
    assert want[0, 0, 70] == 1
    got = fastrle.decode(fastrle.encode(mask), size=(1, 141), mode="nearest-exact")
    np.testing.assert_array_equal(got, want)
    maps = launch.Transform(1, 141, "nearest-exact").maps(1, 2)
    np.testing.assert_array_equal(maps[1:142], torch_map(2, 141, "nearest-exact"))


def test_regression_9043592_to_7_decode():
    """1 x 9,043,592 with one foreground pixel at column 8,397,621 (torch's
    source for output 6), resized to 1 x 7 nearest-exact: torch gives a 1 at 6."""
    n, col = 9043592, 8397621
    counts = [col, 1, n - col - 1]
    rle = {"size": [1, n], "counts": counts}
    row = torch.zeros((1, 1, 1, n), dtype=torch.uint8)
    row[0, 0, 0, col] = 1
    want = F.interpolate(row, size=(1, 7), mode="nearest-exact")[0].numpy()
    assert want.tolist() == [[[0, 0, 0, 0, 0, 0, 1]]]
    got = fastrle.decode([rle], size=(1, 7), mode="nearest-exact")
    np.testing.assert_array_equal(got, want)


def test_index_argument_checks():
    with pytest.raises(ValueError, match="outside"):
        nearest_map(5, 3, index=[3])
    with pytest.raises(ValueError, match="mode"):
        nearest_map(3, 4, "area", index=[0])
    np.testing.assert_array_equal(nearest_map(1000, 77, "nearest-exact", other_size=100, index=[76, 0, 5]),
                                  nearest_map(1000, 77, "nearest-exact", other_size=100)[[76, 0, 5]])
