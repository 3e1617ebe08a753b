"""The C core's thread pool: its spin time, for every compiled module at once.

Each compiled module (``fastrle._core``, ``fastrle._contours``, ...) links its
own copy of the C core, so each has its own pool of worker threads and its own
spin time. ``set_spin_us`` sets them all; ``spin_us`` reads them (they agree
unless a module's own ``set_spin_us`` was called). See docs/threads.md.
"""
from __future__ import annotations

from types import ModuleType
from typing import Tuple

from . import _components, _contours, _core, _eval, _mask, _render, _transform
from ._args import is_int

__all__ = ["spin_us", "set_spin_us", "MODULES", "SPIN_US_MAX"]

#: The C core's upper clamp of the spin time (FRLE_SPIN_US_MAX in rle_platform.h).
SPIN_US_MAX: int = _core.SPIN_US_MAX

# every glue module that runs threaded C calls (each includes _spin.pxi)
MODULES: Tuple[ModuleType, ...] = (_core, _contours, _components, _eval, _mask, _render, _transform)


def spin_us() -> int:
    """Microseconds a pool thread spins, watching for the next job, before it
    sleeps: ``FASTRLE_SPIN_US`` (read once per module), default 200; 0 means
    sleep at once. The largest of the modules' values."""
    return max(int(m.spin_us()) for m in MODULES)


def set_spin_us(us: int) -> None:
    """Set every module's spin time in microseconds: an int (numpy ints too;
    TypeError otherwise), clamped to [0, SPIN_US_MAX] by the C core."""
    if not is_int(us):
        raise TypeError(f"us must be an int, got {us!r}")
    for m in MODULES:
        m.set_spin_us(us)
