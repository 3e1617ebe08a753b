"""The oracle helpers of the COCOeval tests (test_cocoeval.py,
test_eval_pins.py): a pycocotools COCO made from a dataset dict, and the
equality that compares what fastrle.cocoeval leaves with what pycocotools'
COCOeval leaves."""
from __future__ import annotations

import contextlib
import copy
import io
import struct
from typing import Any

import pytest

from common import assert_same

coco_mod = pytest.importorskip("pycocotools.coco")


def make_coco(dataset: dict) -> Any:
    """pycocotools' COCO of a copy of ``dataset`` (indexed, silently)."""
    with contextlib.redirect_stdout(io.StringIO()):
        c = coco_mod.COCO()
        c.dataset = copy.deepcopy(dataset)
        c.createIndex()
    return c


def same(a: Any, b: Any, where: str) -> None:
    """assert_same, with plain floats compared bit for bit (a NaN score equals itself)."""
    if isinstance(b, dict):
        assert isinstance(a, dict) and list(a) == list(b), f"{where}: keys {list(a)} vs {list(b)}"
        for k in b:
            same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(b, list):
        assert type(a) is list and len(a) == len(b), f"{where}: {a!r} vs {b!r}"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
    elif type(b) is float:
        assert type(a) is float and struct.pack("<d", a) == struct.pack("<d", b), f"{where}: {a!r} != {b!r}"
    else:
        assert_same(a, b, where)
