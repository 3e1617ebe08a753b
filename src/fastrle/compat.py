"""Route code written for pycocotools through fastrle: :func:`patch_pycocotools`.

Third-party code (COCOeval, torchvision's and detectron2's dataset code, ...)
calls ``pycocotools.mask`` itself. One call swaps the seven mask functions
for fastrle's drop-in (:mod:`fastrle.mask`), which gives the same results to
the bit, faster, and raises clear errors where pycocotools would return
garbage; and ``pycocotools.cocoeval.COCOeval`` for
:class:`fastrle.cocoeval.COCOeval`, whose loops run in C with the same
results to the bit. ::

    import fastrle
    fastrle.patch_pycocotools()            # for good

    with fastrle.patch_pycocotools():      # or for a block: originals come back on exit
        COCOeval(gt, dt, "segm").evaluate()
"""
from __future__ import annotations

import importlib
import threading
from types import ModuleType
from typing import Any, List, Tuple

from . import mask as _fmask
from .optional import require

__all__ = ["patch_pycocotools", "unpatch_pycocotools", "PycocotoolsPatch", "pycocotools_patched"]

FUNCTIONS = ("encode", "decode", "area", "toBbox", "iou", "merge", "frPyObjects")
# modules that hold ``from . import mask as maskUtils``
_HOLDERS = ("pycocotools.coco", "pycocotools.cocoeval")
_HOLDER_NAME = "maskUtils"
# the class pycocotools.cocoeval gets: fastrle.cocoeval.COCOeval; and
# pycocotools.coco.COCO.loadRes gets fastrle.cocoeval.loadRes
_EVAL_MODULE, _EVAL_NAME = "pycocotools.cocoeval", "COCOeval"
_COCO_MODULE, _COCO_CLASS, _LOADRES = "pycocotools.coco", "COCO", "loadRes"

_lock = threading.Lock()
_active = 0  # patches in force: the originals come back when this drops to 0
_era = 0  # bumped by unpatch_pycocotools(): calls made before it hold nothing after it
_saved: List[Tuple[Any, str, Any]] = []  # (module or class, name, original)


def _import_pycocotools() -> Tuple[ModuleType, List[ModuleType]]:
    pm = require("pycocotools.mask", "patch_pycocotools()")
    holders = []
    for name in _HOLDERS:
        try:
            holders.append(importlib.import_module(name))
        except ImportError:  # e.g. no matplotlib for pycocotools.coco: nothing there to patch
            continue
    return pm, holders


def _apply() -> None:
    pm, holders = _import_pycocotools()
    for f in FUNCTIONS:
        _saved.append((pm, f, getattr(pm, f)))
        setattr(pm, f, getattr(_fmask, f))
    for mod in holders:
        if hasattr(mod, _HOLDER_NAME):
            _saved.append((mod, _HOLDER_NAME, getattr(mod, _HOLDER_NAME)))
            setattr(mod, _HOLDER_NAME, _fmask)
        if mod.__name__ == _EVAL_MODULE and hasattr(mod, _EVAL_NAME):
            from . import cocoeval  # subclasses the class it replaces: imported before the swap

            _saved.append((mod, _EVAL_NAME, getattr(mod, _EVAL_NAME)))
            setattr(mod, _EVAL_NAME, cocoeval.COCOeval)
        if mod.__name__ == _COCO_MODULE and hasattr(getattr(mod, _COCO_CLASS, None), _LOADRES):
            from . import cocoeval

            cls = getattr(mod, _COCO_CLASS)
            _saved.append((cls, _LOADRES, cls.__dict__[_LOADRES]))
            setattr(cls, _LOADRES, cocoeval.loadRes)


def _undo() -> None:
    while _saved:
        mod, name, value = _saved.pop()
        setattr(mod, name, value)


class PycocotoolsPatch:
    """One call of :func:`patch_pycocotools`. As a context manager, or with
    :meth:`restore`, it takes its call back; the originals return once no
    call is left in force."""

    def __init__(self) -> None:
        self._live = True
        self._era = _era

    @property
    def active(self) -> bool:
        """Whether this call still holds the patch."""
        return self._live and self._era == _era

    def restore(self) -> None:
        """Take this call back (idempotent). When it was the last in force,
        pycocotools gets its own functions again."""
        global _active
        with _lock:
            if not self._live or self._era != _era:  # taken back already, or by unpatch_pycocotools()
                self._live = False
                return
            self._live = False
            _active -= 1
            if _active == 0:
                _undo()

    def __enter__(self) -> "PycocotoolsPatch":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.restore()

    def __repr__(self) -> str:
        return f"<PycocotoolsPatch {'active' if self.active else 'restored'}>"


def patch_pycocotools() -> PycocotoolsPatch:
    """Make code that uses pycocotools run its mask functions on fastrle.

    Replaces ``encode, decode, area, toBbox, iou, merge, frPyObjects`` in
    ``pycocotools.mask`` with :mod:`fastrle.mask`'s, points the
    ``maskUtils`` names held by ``pycocotools.coco`` and
    ``pycocotools.cocoeval`` at :mod:`fastrle.mask`, and replaces
    ``pycocotools.cocoeval.COCOeval`` with :class:`fastrle.cocoeval.COCOeval`
    (a subclass of it) and ``COCO.loadRes`` with :func:`fastrle.cocoeval.loadRes`
    (the same results; segmentation areas and boxes in one batch). So ``COCO.loadRes``, ``COCO.annToRLE``, ``COCOeval``
    and any code that calls ``pycocotools.mask.<function>`` or
    ``pycocotools.cocoeval.COCOeval`` at call time use fastrle. (A name bound
    earlier with ``from pycocotools.mask import decode`` or ``from
    pycocotools.cocoeval import COCOeval`` keeps the original.)

    Idempotent: patching twice is patching once. Used as a context manager,
    it restores the originals on exit::

        with fastrle.patch_pycocotools():
            ...

    Returns:
        A :class:`PycocotoolsPatch`; its ``restore()`` undoes this call.

    Raises:
        ImportError: pycocotools is not installed (``pip install pycocotools``).
    """
    global _active
    with _lock:
        if _active == 0:
            _apply()
        _active += 1
        return PycocotoolsPatch()


def unpatch_pycocotools() -> None:
    """Give pycocotools its own functions back now, whatever calls of
    :func:`patch_pycocotools` are still in force (a no-op when none is)."""
    global _active, _era
    with _lock:
        _active = 0
        _era += 1
        _undo()


def pycocotools_patched() -> bool:
    """Whether :func:`patch_pycocotools` is in force."""
    return _active > 0
