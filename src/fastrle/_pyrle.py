"""Pure-Python reference pieces of the RLE format, shared by the GPU host code
and the synthetic data generator (no compiled core needed)."""
from __future__ import annotations

from typing import Iterable

__all__ = ["counts_to_string"]


def counts_to_string(counts: Iterable[int]) -> bytes:
    """Compress a list of run lengths like pycocotools' ``rleToString``."""
    out = bytearray()
    cnts = [int(c) for c in counts]
    for i, c in enumerate(cnts):
        x = c - cnts[i - 2] if i > 2 else c
        while True:
            ch = x & 0x1F
            x >>= 5
            more = x != -1 if ch & 0x10 else x != 0
            if more:
                ch |= 0x20
            out.append(ch + 48)
            if not more:
                break
    return bytes(out)
