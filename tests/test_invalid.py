"""Bad input gets a clear ValueError/TypeError naming the mask; nothing is
written before the whole batch has been validated."""
from __future__ import annotations

import numpy as np
import pytest

from common import pycoco

import fastrle
import fastrle.mask as fm

GOOD = {"size": [3, 4], "counts": "57"}  # 5 zeros, 7 ones: sums to 12


def bad(counts, size=(3, 4)):
    return {"size": list(size), "counts": counts}


@pytest.mark.parametrize("counts,match", [
    ("56", "less than h\\*w"),           # short: pycocotools returns garbage
    ("58", "more than h\\*w"),           # long
    ("5~", "outside"),                   # byte outside 48..111
    ("5 2", "outside"),
    ("5\x002", "NUL"),                    # pycocotools truncates silently
    ("5P", "truncated"),                 # continuation bit on the last char
    ("5@", "negative"),                  # '@' = sign bit set: -16
    ("5O", "negative: run 1 is -1"),     # 'O' = 31: the smallest negative run
    ("5PPPPPP4", "uint32: run 1 is 4294967296"),  # 2^32: seven chunks
    ("PPPPPPPPPPPP0", "longer than 12"),  # varint overflow
    ("5\u00e92", "outside"),             # non-ASCII str
    (b"5\xff", "outside"),
    ([5, 8], "more than h\\*w"),
    ([5, 6], "less than h\\*w"),
    ([5, -1, 8], "negative"),
    ([5, 2**33], "uint32"),
])
def test_malformed_counts_name_the_mask(counts, match) -> None:
    rles = [GOOD, GOOD, bad(counts)]
    out = np.full((3, 3, 4), 9, np.uint8)
    with pytest.raises(ValueError, match=match) as info:
        fastrle.decode(rles, out=out, threads=2)
    assert "mask 2" in str(info.value) and info.value.index == 2
    assert (out == 9).all(), "wrote output before validating every mask"
    if not isinstance(counts, list):
        with pytest.raises(ValueError, match="mask 2"):
            fm.decode(rles)


def test_pycocotools_returns_garbage_where_we_raise() -> None:
    """The reason for the checks above: pycocotools does not raise on a
    short RLE (it returns uninitialised memory)."""
    pycoco.decode([bad(b"56")])  # no exception
    with pytest.raises(ValueError):
        fm.decode([bad(b"56")])


def test_mixed_sizes() -> None:
    a = fastrle.encode(np.ones((4, 5), bool))
    b = fastrle.encode(np.ones((5, 4), bool))
    with pytest.raises(ValueError, match="mask 1: size \\[5, 4\\] differs"):
        fastrle.decode([a, b])
    with pytest.raises(ValueError, match="differs"):
        fm.decode([a, b])


@pytest.mark.parametrize("rle,exc,match", [
    ({"counts": "57"}, ValueError, "no 'size'"),
    ({"size": [3, 4]}, ValueError, "no 'counts'"),
    ({"size": [3], "counts": "57"}, ValueError, "size"),
    ({"size": [-3, 4], "counts": "57"}, ValueError, "negative"),
    ({"size": [3.5, 4], "counts": "57"}, TypeError, "integer"),
    ({"size": [3, 4], "counts": 12}, TypeError, "counts must be"),
    ({"size": [3, 4], "counts": None}, TypeError, "counts must be"),
    ({"size": [3, 4], "counts": [[1, 2]]}, TypeError, "flat"),
    ({"size": [65536, 65536], "counts": "0"}, ValueError, "2\\^32"),
    ("57", TypeError, "RLE dict"),
])
def test_malformed_dicts(rle, exc, match) -> None:
    with pytest.raises(exc, match=match):
        fastrle.decode([rle])


@pytest.mark.parametrize("out,exc,match", [
    (np.zeros((2, 3, 4), np.float32), TypeError, "dtype"),
    (np.zeros((2, 4, 3), np.uint8), ValueError, "shape"),
    (np.zeros((3, 3, 4), np.uint8), ValueError, "shape"),
    (np.zeros((2, 3, 8), np.uint8)[:, :, ::2], ValueError, "C-contiguous"),
    (np.zeros((2, 3, 4), np.uint8, order="F"), ValueError, "C-contiguous"),
    ([[0]], TypeError, "numpy array"),
])
def test_bad_out(out, exc, match) -> None:
    with pytest.raises(exc, match=match):
        fastrle.decode([GOOD, GOOD], out=out)


def test_read_only_out() -> None:
    out = np.zeros((1, 3, 4), np.uint8)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="^out is read-only$"):  # ours, before Cython's own check
        fastrle.decode([GOOD], out=out)


def test_bad_threads_and_masks() -> None:
    with pytest.raises(ValueError, match="threads"):
        fastrle.decode([GOOD], threads=0)
    with pytest.raises(TypeError, match="threads"):
        fastrle.decode([GOOD], threads=1.5)
    with pytest.raises(TypeError, match="float"):
        fastrle.encode(np.zeros((2, 2), np.float32))
    with pytest.raises(ValueError, match="\\(H, W\\)"):
        fastrle.encode(np.zeros(4, bool))


def test_strict_area_and_bbox() -> None:
    with pytest.raises(ValueError, match="mask 0"):
        fastrle.area(bad("56"))
    with pytest.raises(ValueError, match="mask 1"):
        fastrle.bbox([GOOD, bad("5~")])


def test_dropin_iou_merge_reject_inconsistent_runs() -> None:
    """pycocotools loops forever here: runs of one mask end before the other's."""
    a = fm.encode(np.ones((3, 4), np.uint8, order="F"))
    with pytest.raises(ValueError, match="mask 1"):
        fm.merge([a, bad(b"56")])
    with pytest.raises(ValueError, match="mask 0"):
        fm.iou([bad(b"56")], [a], [0])


def test_side_over_uint32_with_zero_area() -> None:
    with pytest.raises(ValueError, match="2\\^32"):
        fastrle.decode_ragged(b"", [0, 0], 2**33, 0)


def test_merge_of_a_dict_is_type_error_like_pycocotools() -> None:
    with pytest.raises(TypeError):
        pycoco.merge(GOOD)
    with pytest.raises(TypeError):
        fm.merge(GOOD)
