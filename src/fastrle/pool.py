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

__all__ = ["spin_us", "set_spin_us", "MODULES"]

# every glue module that runs threaded C calls (each includes _spin.pxi)
MODULES: Tuple[ModuleType, ...] = (_core, _contours, _components, _eval, _mask, _render, _transform)


def spin_us() -> int:
    """Microseconds a pool thread spins, watching for the next job, before it
    sleeps: ``FASTRLE_SPIN_US`` (read once per module), default 200; 0 means
    sleep at once. The largest of the modules' values."""
    return max(int(m.spin_us()) for m in MODULES)


def set_spin_us(us: int) -> None:
    """Set every module's spin time in microseconds (clamped to [0, 1000000])."""
    us = int(us)
    for m in MODULES:
        m.set_spin_us(us)
