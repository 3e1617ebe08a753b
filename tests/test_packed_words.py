"""packed=True writes 64-bit words from the run boundaries: check it bit for bit
against np.packbits of pycocotools' decode at the awkward widths (not multiples
of 8 or 64), with spans that cross word and row ends, both bit orders, flips,
zeroed, and out= views whose gaps must stay untouched."""

import numpy as np
import pytest

import fastrle

pm = pytest.importorskip("pycocotools.mask")

WIDTHS = [1, 5, 8, 9, 63, 64, 65, 100, 127, 128, 129, 191, 200, 513]


def _masks(rng, n, h, w):
    """Noise, long spans that run over row ends, whole rows, empty and full masks."""
    m = np.zeros((n, h, w), np.uint8)
    m[0] = rng.random((h, w)) < 0.5
    flat = m[1].reshape(-1)  # row-major runs: spans that cross row (and word) ends
    for a in rng.integers(0, h * w, 6):
        flat[a:a + int(rng.integers(1, 3 * w + 2))] = 1
    m[2, ::2] = 1
    m[3] = 1
    # m[4] stays empty
    m[5, :, ::3] = 1
    m[6, 3:5, 1:] = 1  # empty rows above (3) and below (2): the bulk-cleared rows, flipped or not
    return m


def _rles(m):
    return pm.encode(np.asfortranarray(m.transpose(1, 2, 0)))


def _flip(m, flip):
    if flip in ("h", "hv"):
        m = m[:, :, ::-1]
    if flip in ("v", "hv"):
        m = m[:, ::-1, :]
    return m


@pytest.mark.parametrize("w", WIDTHS)
@pytest.mark.parametrize("bitorder", ["big", "little"])
@pytest.mark.parametrize("flip", [None, "h", "v", "hv"])
def test_packed_words_match_packbits(w, bitorder, flip):
    rng = np.random.default_rng(w)
    h = 7
    m = _masks(rng, 7, h, w)
    rles = _rles(m)
    ref = np.packbits(_flip(m, flip), axis=-1, bitorder=bitorder)
    got = fastrle.decode(rles, packed=True, bitorder=bitorder, flip=flip)
    np.testing.assert_array_equal(got, ref)
    # into a warm buffer of ones, and zeroed into zeros: the same bytes
    out = np.full(ref.shape, 0xA5, np.uint8)
    np.testing.assert_array_equal(fastrle.decode(rles, out=out, packed=True, bitorder=bitorder, flip=flip), ref)
    z = np.zeros(ref.shape, np.uint8)
    np.testing.assert_array_equal(
        fastrle.decode(rles, out=z, packed=True, bitorder=bitorder, flip=flip, zeroed=True), ref)


@pytest.mark.parametrize("w", [9, 65, 129])
def test_packed_words_into_a_strided_view(w):
    # rows of the view are 3 bytes apart from the next row's start: the gap bytes stay 0x5A
    rng = np.random.default_rng(1)
    m = _masks(rng, 7, 5, w)
    rb = (w + 7) // 8
    big = np.full((7, 5, rb + 3), 0x5A, np.uint8)
    fastrle.decode(_rles(m), out=big[:, :, :rb], packed=True)
    np.testing.assert_array_equal(big[:, :, :rb], np.packbits(m, axis=-1))
    assert (big[:, :, rb:] == 0x5A).all()


def test_packed_words_sa1b_size_stars():
    # one full-size many-span mask of each bit order (2250 = 35 words + 10 bytes per row)
    from fastrle import synthetic

    rles, dense = synthetic.family_masks("stars", 3, 1500, 2250, seed=0, dense=True)
    for bo in ("big", "little"):
        np.testing.assert_array_equal(fastrle.decode(rles, packed=True, bitorder=bo),
                                      np.packbits(dense, axis=-1, bitorder=bo))
