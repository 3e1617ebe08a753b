"""SA1BMaskDecoder: top-k decoding of SA-1B files with a byte-bounded LRU
cache and device transfer, built on :mod:`fastrle.sa1b`."""
from __future__ import annotations

import os
from collections import OrderedDict
from typing import Any, Dict, NamedTuple, Optional, Tuple

import numpy as np

from ..optional import require
from ..transforms import MODES, check_size_arg
from .annotation import SA1BAnnotation, load

__all__ = ["DecodedMasks", "SA1BMaskDecoder", "to_output"]


class DecodedMasks(NamedTuple):
    """What :class:`SA1BMaskDecoder` returns for one file."""

    masks: Any                  # (K, H, W) uint8 (at ``size`` if given): numpy, CuPy or torch
    indices: np.ndarray         # int64 (K,): each mask's index in the file
    annotation: SA1BAnnotation  # metadata; index it with ``indices``


def nbytes(arr: Any) -> int:
    """Size in bytes of a numpy/CuPy array or a torch tensor."""
    n = getattr(arr, "nbytes", None)
    if n is None:  # torch
        n = arr.numel() * arr.element_size()
    return int(n)


def to_output(arr: Any, output: str) -> Any:
    """Hand a numpy or CuPy array over as ``output``: ``"array"`` keeps it,
    ``"torch"`` wraps it as a tensor on the same device without a copy."""
    if output == "array":
        return arr
    if output == "torch":
        torch = require("torch", 'output="torch"')  # only imported when asked for

        if isinstance(arr, np.ndarray):
            return torch.from_numpy(arr)
        return torch.from_dlpack(arr)  # CuPy -> torch CUDA tensor, zero copy
    raise ValueError(f"output must be 'array' or 'torch', got {output!r}")


class SA1BMaskDecoder:
    """Decode SA-1B annotation files to (K, H, W) uint8 masks, caching results.

    Args:
        max_masks: keep only the top ``max_masks`` masks by ``sort_by``
            (default ``predicted_iou``, descending); None keeps all, in file order.
        cache_decoded: cache budget in bytes of decoded masks (0: no cache).
            Entries are keyed by path (plus mtime and size, so an edited file
            is not served stale) and evicted least recently used first; a
            result larger than the budget is not cached.
        device: ``"cpu"`` or ``"cuda"`` / ``"cuda:N"`` (GPU decode through
            :mod:`fastrle.gpu`; GPUUnavailableError propagates).
        sort_by: ranking key for ``max_masks`` (see ``fastrle.sa1b.SORT_KEYS``).
        threads: CPU decode threads (None: by size).
        output: ``"array"`` (numpy on CPU, CuPy on GPU) or ``"torch"``.
        size: optional ``(height, width)``: decode at that size straight from
            the runs (see :func:`fastrle.decode`), with ``mode``
            ``"nearest"`` (default), ``"nearest-exact"`` or ``"area"`` (CPU).

    Cached results are shared between calls: numpy results are made
    read-only; do not modify torch or CuPy results in place.
    """

    def __init__(self, max_masks: Optional[int] = None, cache_decoded: int = 0, device: Any = "cpu",
                 *, sort_by: Optional[str] = "predicted_iou", threads: Optional[int] = None,
                 output: str = "array", size: Optional[Tuple[int, int]] = None,
                 mode: str = "nearest") -> None:
        if cache_decoded < 0:
            raise ValueError(f"cache_decoded must be a byte count >= 0, got {cache_decoded}")
        if output not in ("array", "torch"):
            raise ValueError(f"output must be 'array' or 'torch', got {output!r}")
        if size is not None:
            size = check_size_arg(size)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.size, self.mode = size, mode
        self.max_masks = max_masks
        self.cache_bytes = int(cache_decoded)
        self.device = str(device)
        self.sort_by = sort_by
        self.threads = threads
        self.output = output
        self._cache: "OrderedDict[Tuple[str, int, int], Tuple[DecodedMasks, int]]" = OrderedDict()
        self._used = 0
        self.hits = 0
        self.misses = 0

    def _decode(self, ann: SA1BAnnotation) -> DecodedMasks:
        idx = ann.order(None, self.max_masks, self.sort_by)
        kw: Dict[str, Any] = {} if self.size is None else {"size": self.size, "mode": self.mode}
        masks = ann.decode(indices=idx, threads=self.threads, device=self.device, **kw)
        return DecodedMasks(to_output(masks, self.output), idx, ann)

    def __call__(self, src: Any) -> DecodedMasks:
        """Decode one file (path), JSON bytes, parsed dict or SA1BAnnotation.
        Only paths are cached."""
        if isinstance(src, SA1BAnnotation):
            return self._decode(src)
        if not isinstance(src, (str, os.PathLike)) or self.cache_bytes == 0:
            return self._decode(load(src))
        st = os.stat(src)
        key = (os.path.abspath(os.fspath(src)), st.st_mtime_ns, st.st_size)
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            self.hits += 1
            return hit[0]
        self.misses += 1
        res = self._decode(load(src))
        size = nbytes(res.masks)
        if size <= self.cache_bytes:
            if isinstance(res.masks, np.ndarray):
                res.masks.flags.writeable = False  # shared by later hits
            self._cache[key] = (res, size)
            self._used += size
            while self._used > self.cache_bytes:
                _, (_, s) = self._cache.popitem(last=False)
                self._used -= s
        return res

    def cache_info(self) -> Dict[str, int]:
        """Hits, misses, cached entries and bytes, and the byte budget."""
        return {"hits": self.hits, "misses": self.misses, "entries": len(self._cache),
                "bytes": self._used, "max_bytes": self.cache_bytes}

    def clear(self) -> None:
        """Drop every cached result."""
        self._cache.clear()
        self._used = 0
