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


def check_same(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call fastrle.mask.<name> and pycocotools.mask.<name> with the same
    arguments; both must return the same thing or raise the same kind of
    exception. Returns pycocotools' result."""
    from fastrle import mask as fm

    ours: Callable = getattr(fm, name)
    theirs: Callable = getattr(pycoco, name)
    try:
        expected = theirs(*args, **kwargs)
    except Exception as exc:  # pycocotools raises bare Exception too
        with pytest.raises(Exception) as info:
            ours(*args, **kwargs)
        assert isinstance(info.value, (type(exc), TypeError, ValueError)), (exc, info.value)
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
