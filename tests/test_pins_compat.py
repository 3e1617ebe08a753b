"""Pins for fastrle.compat's patch bookkeeping (issue 24): the state after each
step of patch/unpatch/restore sequences, written by hand."""
from __future__ import annotations

import pytest

import fastrle
from fastrle import compat
from fastrle import mask as fm

pm = pytest.importorskip("pycocotools.mask")
coco_mod = pytest.importorskip("pycocotools.coco")
cocoeval_mod = pytest.importorskip("pycocotools.cocoeval")
SEVEN = ("encode", "decode", "area", "toBbox", "iou", "merge", "frPyObjects")  # the documented seven, by hand
ORIGINALS = {name: getattr(pm, name) for name in SEVEN}
STOCK_COCOEVAL = cocoeval_mod.COCOeval
STOCK_LOADRES = coco_mod.COCO.__dict__["loadRes"]


def patched() -> bool:
    from fastrle import cocoeval

    return (all(getattr(pm, n) is getattr(fm, n) for n in SEVEN)
            and coco_mod.maskUtils is fm and cocoeval_mod.maskUtils is fm
            and cocoeval_mod.COCOeval is cocoeval.COCOeval and coco_mod.COCO.loadRes is cocoeval.loadRes)


def original() -> bool:
    return (all(getattr(pm, n) is f for n, f in ORIGINALS.items())
            and coco_mod.maskUtils is pm and cocoeval_mod.maskUtils is pm
            and cocoeval_mod.COCOeval is STOCK_COCOEVAL and coco_mod.COCO.__dict__["loadRes"] is STOCK_LOADRES)


@pytest.fixture(autouse=True)
def clean():
    assert original() and not compat.pycocotools_patched()
    yield
    compat.unpatch_pycocotools()
    assert original()


def test_a_call_taken_back_by_unpatch_cannot_undo_a_later_patch():
    """Pins the bug fixed here: a PycocotoolsPatch made before
    unpatch_pycocotools() still thought it held the patch, so its restore()
    after a new patch_pycocotools() dropped the new call's count to 0 and put
    pycocotools' own functions back under a patch that says it is active."""
    p1 = fastrle.patch_pycocotools()
    compat.unpatch_pycocotools()
    assert original() and not p1.active and repr(p1) == "<PycocotoolsPatch restored>"
    p2 = fastrle.patch_pycocotools()
    p1.restore()  # taken back already (by unpatch): must not touch p2's patch
    assert patched() and compat.pycocotools_patched() and p2.active and not p1.active
    p2.restore()
    assert original() and not compat.pycocotools_patched()


def test_three_calls_restored_out_of_order_and_the_object_api():
    """The count: the originals come back only with the last of three calls
    (any order); repr/active say which; the context manager gives the call itself."""
    a, b, c = (fastrle.patch_pycocotools() for _ in range(3))
    assert repr(a) == "<PycocotoolsPatch active>"
    for p, left in ((b, True), (a, True), (b, True), (c, False)):
        p.restore()
        assert not p.active and repr(p) == "<PycocotoolsPatch restored>"
        assert patched() is left and original() is (not left) and compat.pycocotools_patched() is left
    with fastrle.patch_pycocotools() as p:
        assert isinstance(p, compat.PycocotoolsPatch) and p.active and patched()
        assert issubclass(cocoeval_mod.COCOeval, STOCK_COCOEVAL)  # a subclass replaces it
    assert original() and not p.active
