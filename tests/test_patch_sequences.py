"""patch/unpatch/restore sequences of fastrle.patch_pycocotools (issue 24):
the state after every step, written by hand."""
from __future__ import annotations

import pytest

import fastrle
from fastrle import compat
from fastrle import mask as fm

pm = pytest.importorskip("pycocotools.mask")
coco_mod = pytest.importorskip("pycocotools.coco")
cocoeval_mod = pytest.importorskip("pycocotools.cocoeval")
ORIGINALS = {name: getattr(pm, name) for name in compat.FUNCTIONS}


def state():
    """'patched', 'original', or 'mixed' (a bug), and what pycocotools_patched() says."""
    ours = [getattr(pm, n) is getattr(fm, n) for n in compat.FUNCTIONS] + \
        [coco_mod.maskUtils is fm, cocoeval_mod.maskUtils is fm]
    theirs = [getattr(pm, n) is f for n, f in ORIGINALS.items()] + \
        [coco_mod.maskUtils is pm, cocoeval_mod.maskUtils is pm]
    s = "patched" if all(ours) else "original" if all(theirs) else "mixed"
    return s, compat.pycocotools_patched()


PATCHED, ORIGINAL = ("patched", True), ("original", False)


@pytest.fixture(autouse=True)
def clean():
    assert state() == ORIGINAL
    yield
    compat.unpatch_pycocotools()
    assert state() == ORIGINAL


def test_nested_restores_in_any_order_and_twice():
    p1 = fastrle.patch_pycocotools()
    p2 = fastrle.patch_pycocotools()
    assert state() == PATCHED
    p1.restore()
    assert state() == PATCHED and not p1.active and p2.active
    p1.restore()  # twice: takes nothing more back
    assert state() == PATCHED and p2.active
    p2.restore()
    assert state() == ORIGINAL
    p3 = fastrle.patch_pycocotools()  # the count is back at 0: a new patch patches
    assert state() == PATCHED
    p3.restore()
    assert state() == ORIGINAL


def test_unpatch_then_restore_then_patch_again():
    p1 = fastrle.patch_pycocotools()
    fastrle.patch_pycocotools()
    compat.unpatch_pycocotools()
    assert state() == ORIGINAL
    p1.restore()  # after unpatch: a no-op
    assert state() == ORIGINAL
    with fastrle.patch_pycocotools():
        assert state() == PATCHED
        with fastrle.patch_pycocotools() as inner:
            assert state() == PATCHED
        assert state() == PATCHED and not inner.active
    assert state() == ORIGINAL
    compat.unpatch_pycocotools()  # with none in force: a no-op
    assert state() == ORIGINAL
