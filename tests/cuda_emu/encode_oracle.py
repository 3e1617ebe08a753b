"""The encode side of the GPU tests, in one place (test_gpu_encode.py and
test_gpu_encode_pins.py): ``fastrle.gpu.encoder.encode_with`` run on the
emulator, and pycocotools' encode as the oracle."""
from __future__ import annotations

from typing import Any, List, Tuple

import numpy as np

from . import emu

enc = emu.import_fastrle_module("gpu.encoder")


class EmuEncodeBackend:
    """``encode_with`` backend on the emulator: garbage-filled, guarded
    scratch (``emu.EmuBackend``'s), and a count of device-to-host copies."""

    def __init__(self, lib: Any, order: int = emu.ORDER_NORMAL, seed: int = 0):
        self.base = emu.EmuBackend(lib, order=order, seed=seed)
        self.copies = 0
        self.launches: list = []

    def scratch(self, nbytes: int) -> np.ndarray:
        return self.base._alloc((nbytes,), np.uint8)

    def pointer(self, arr: np.ndarray) -> np.ndarray:
        return arr  # the emulator passes arr.ctypes.data: element (0, 0, 0) of the view

    def launch(self, launch: Any, buffers: Any) -> None:
        self.launches.append(launch)
        self.base.launch(launch, buffers)

    def fetch(self, buffer: np.ndarray, nbytes: int) -> np.ndarray:
        self.copies += 1
        return buffer[:nbytes].copy()


def gpu_encode(lib: Any, masks: Any, *, order: int = emu.ORDER_NORMAL, seed: int = 0,
               **kw: Any) -> Tuple[Any, EmuEncodeBackend]:
    """``encode_with`` on the emulator: (its result, the backend it used)."""
    backend = EmuEncodeBackend(lib, order, seed)
    out = enc.encode_with(backend, masks, **kw)
    return out, backend


def oracle(masks: np.ndarray, nonzero: bool = False) -> List[dict]:
    """pycocotools' encode of (N, H, W) masks (``nonzero``: any nonzero value is foreground)."""
    from pycocotools import mask as mask_api

    m = np.asarray(masks)
    m = (m != 0) if nonzero else m
    return mask_api.encode(np.asfortranarray(m.transpose(1, 2, 0).astype(np.uint8)))


def oracle_counts(masks: np.ndarray, nonzero: bool = False) -> List[bytes]:
    """The counts of :func:`oracle`, in order."""
    return [r["counts"] for r in oracle(masks, nonzero)]
