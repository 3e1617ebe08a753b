"""Encode masks that live on the GPU as COCO RLE (``fastrle.gpu.encode``).

The kernels (``csrc/kernels/rle_encode.cuh``) find the run boundaries in
COCO's column-major order straight from the mask in whatever memory order it
has, and build pycocotools' compressed ``counts`` strings on the device. The
strings of the whole batch and their offsets come back in one buffer, with
one device-to-host copy.

The host side (argument checks, launch plan, result splitting) is
:func:`encode_with`, shared by the CuPy backend here and the CPU emulator of
the tests. A backend provides:

* ``scratch(nbytes)`` -> a device uint8 array, contents undefined;
* ``pointer(masks)`` -> what a kernel's pointer argument for the mask is;
* ``launch(launch, buffers)`` runs one :class:`~fastrle.gpu.launch.Launch`;
* ``fetch(buffer, nbytes)`` -> the first ``nbytes`` of a device array as a
  host ``numpy`` uint8 array of its own (the device-to-host copy; it waits).
"""
from __future__ import annotations

import functools
import threading
from typing import Any, Dict, List, Tuple, Union

import numpy as np

from .._args import check_size, mask_dtype_rule, masks_ndim
from . import api
from .launch import ENCODE_BLOCK, Launch

__all__ = ["LAYOUTS", "bands", "encode", "encode_with", "plan_encode", "CupyEncodeBackend"]

RLE = Dict[str, Any]

#: ``layout`` values: the axes of the array, N the mask index.
LAYOUTS = ("nhw", "hwn")
#: Flag bit of the kernels (FASTRLE_ENC_NONZERO in rle_encode.cuh).
FLAG_NONZERO = 1
#: int64 words per mask of the kernels' per-mask state (FASTRLE_ENC_MSTRIDE).
MSTATE_STRIDE = 5
#: Threads per block of the per-segment kernels; masks per launch (grid y).
BLOCK = ENCODE_BLOCK
MAX_GRID_Y = 65535
#: A batch with fewer columns than this (one thread each) cuts its columns
#: into bands of rows, down to MIN_BAND_ROWS rows, to have about this many
#: threads: about half of what an H100 holds at once.
PARALLEL_THREADS = 1 << 17
MIN_BAND_ROWS = 64

# Characters per (mask, column) that the result buffer is sized for at
# first; raised to the largest ratio seen, so a second copy (a result larger
# than the buffer) happens at most once per growth.
_hint_lock = threading.Lock()
_chars_per_col = 1.0  # SA-1B-like masks take 0.7, COCO-like 0.9


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def bands(n: int, h: int, w: int) -> Tuple[int, int]:
    """(bands per column, rows per band) for n h x w masks: one band unless
    n*w columns are too few threads (:data:`PARALLEL_THREADS`)."""
    cols = n * w
    if cols == 0 or cols >= PARALLEL_THREADS or h < 2 * MIN_BAND_ROWS:
        return 1, max(h, 1)
    nb = min(h // MIN_BAND_ROWS, _ceil_div(PARALLEL_THREADS, cols))
    rows = _ceil_div(h, nb)
    return _ceil_div(h, rows), rows


def scratch_layout(n: int, nseg: int) -> Tuple[int, Dict[str, Tuple[int, int, Any]]]:
    """Byte layout of the scratch of n masks of nseg segments each: total
    size and, per buffer, (offset, element count, dtype); each piece 8-byte
    aligned."""
    o_cols = 0
    o_clen = o_cols + 16 * n * nseg
    o_ms = o_clen + 8 * n * nseg
    total = o_ms + 8 * MSTATE_STRIDE * n
    return max(total, 8), {
        "cols": (o_cols, 4 * n * nseg, np.uint32),
        "clen": (o_clen, n * nseg, np.int64),
        "mstate": (o_ms, MSTATE_STRIDE * n, np.int64),
    }


@functools.lru_cache(maxsize=256)
def plan_encode(n: int, h: int, w: int, strides: Tuple[int, int, int], flags: int, cap: int,
                nb: int = 1, rows: int = 0) -> Tuple[List[Launch], List[Launch]]:
    """The launches for n h x w masks with byte strides ``(sn, sh, sw)``,
    columns cut in ``nb`` bands of ``rows`` rows (:func:`bands`; 0: h): those
    that find the boundaries and string lengths, and those that write the
    offsets and strings into a result of ``cap`` characters (rerun alone
    into a larger result). Empty masks (h*w == 0) have nothing to walk."""
    hw = h * w
    if hw == 0:
        h = w = 0
    rows = rows or max(h, 1)
    sn, sh, sw = strides
    nseg = w * nb
    gx = _ceil_div(nseg, BLOCK)
    per_mask_warp = (_ceil_div(n, BLOCK // 32), 1, 1)
    block = (BLOCK, 1, 1)
    count: List[Launch] = []
    write: List[Launch] = []
    chunks = [(base, min(MAX_GRID_Y, n - base)) for base in range(0, n, MAX_GRID_Y)] if gx else []
    geom = (sn, sh, sw, h, w, nb, rows, flags)
    for base, gy in chunks:
        count.append(Launch("fastrle_encode_cols", (gx, gy, 1), block, ("mask", "cols", "clen", *geom, base)))
    count.append(Launch("fastrle_encode_scan", per_mask_warp, block, ("cols", "mstate", nseg, n)))
    for base, gy in chunks:
        count.append(Launch("fastrle_encode_len", (gx, gy, 1), block, ("mask", "cols", "clen", *geom, base)))
    count.append(Launch("fastrle_encode_sum", per_mask_warp, block, ("clen", "mstate", nseg, hw, n)))
    write.append(Launch("fastrle_encode_offs", (1, 1, 1), (32, 1, 1), ("mstate", "offs", "chars", cap, hw, n)))
    for base, gy in chunks:
        write.append(Launch("fastrle_encode_write", (gx, gy, 1), block,
                            ("mask", "cols", "clen", "mstate", "offs", "chars", cap, *geom, base)))
    return count, write


def _cap_for(n: int, w: int) -> int:
    """Result characters to allocate for n masks of w columns."""
    want = int(_chars_per_col * n * (w + 1)) + 64
    return max(1 << 12, 1 << (want - 1).bit_length())


def _note_size(n: int, w: int, total: int) -> None:
    global _chars_per_col
    ratio = total / max(1, n * (w + 1))
    with _hint_lock:
        _chars_per_col = max(_chars_per_col, ratio * 1.25)


def _as_nhw(arr: Any, layout: str) -> Tuple[Any, bool]:
    """``arr`` as an (N, H, W) view (no copy) and whether it was one (H, W) mask."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(map(repr, LAYOUTS))}, not {layout!r}")
    single = masks_ndim(arr.shape, "(N, H, W)" if layout == "nhw" else "(H, W, N)")
    if single:
        return arr[None], True
    return (arr if layout == "nhw" else arr.transpose(2, 0, 1)), False


def encode_with(backend: Any, masks: Any, *, layout: str = "nhw",
                nonzero: bool = False) -> Union[RLE, List[RLE]]:
    """Encode the device array ``masks`` on ``backend``; see :func:`encode`.

    ``masks`` is an array the backend can read (a ``cupy.ndarray`` for CuPy,
    a ``numpy`` array for the emulator) with ``shape``, ``dtype`` and byte
    ``strides``."""
    if mask_dtype_rule(masks.dtype) == "nonzero":
        masks = masks != 0  # any nonzero value is foreground, as fastrle.encode (on the device)
    elif masks.dtype == np.int8:
        masks = masks.view(np.uint8)
    arr, single = _as_nhw(masks, layout)
    n, h, w = (int(d) for d in arr.shape)
    check_size(h, w)
    if n == 0:
        return []
    strides = tuple(int(s) for s in arr.strides)
    flags = FLAG_NONZERO if nonzero else 0
    cap = _cap_for(n, w)
    nb, rows = bands(n, h, w) if h * w else (1, 1)
    count, write = plan_encode(n, h, w, strides, flags, cap, nb, rows)
    total, layout_ = scratch_layout(n, w * nb if h * w else 0)
    scratch = backend.scratch(total)
    buffers = {name: scratch[o:o + np.dtype(dt).itemsize * k].view(dt) for name, (o, k, dt) in layout_.items()}
    buffers["mask"] = backend.pointer(arr)
    for launch in count:
        backend.launch(launch, buffers)
    head = 8 * (n + 1)
    while True:
        result = backend.scratch(head + cap)
        buffers["offs"] = result[:head].view(np.int64)
        buffers["chars"] = result[head:]
        for launch in write:
            backend.launch(launch, buffers)
        host = backend.fetch(result, head + cap)
        offs = host[:head].view(np.int64)
        used = int(offs[n])
        if used <= cap:
            break
        cap = max(1 << 12, 1 << (used - 1).bit_length())  # rare: the result outgrew the guess
        write = plan_encode(n, h, w, strides, flags, cap, nb, rows)[1]
    _note_size(n, w, used)
    data = host[head:head + used].tobytes()
    ends = offs.tolist()
    rles: List[RLE] = [{"size": [h, w], "counts": data[a:b]} for a, b in zip(ends, ends[1:])]
    return rles[0] if single else rles


class CupyEncodeBackend:
    """:func:`encode_with`'s backend on CuPy, launching through
    :class:`fastrle.gpu.api.CupyBackend`. ``copies`` counts device-to-host
    copies (the bench prints it)."""

    _pinned: Dict[int, Any] = {}
    _pinned_lock = threading.Lock()

    def __init__(self, stream: Any = None):
        self.base = api.cupy_backend(stream)
        self.cp = self.base.cp
        self.copies = 0

    def scratch(self, nbytes: int) -> Any:
        with self.base.stream:
            return self.cp.empty(nbytes, dtype=np.uint8)

    def pointer(self, arr: Any) -> Any:
        return np.uint64(arr.data.ptr)  # element (0, 0, 0), whatever the strides' signs

    def launch(self, launch: Launch, buffers: Dict[str, Any]) -> None:
        self.base.launch(launch, buffers)

    def fetch(self, buffer: Any, nbytes: int) -> np.ndarray:
        import cupyx

        self.copies += 1
        dev = self.base.device
        with self._pinned_lock:
            host = self._pinned.get(dev)
            if host is None or host.nbytes < nbytes:
                host = cupyx.empty_pinned((max(1 << 16, 1 << (nbytes - 1).bit_length()),), dtype=np.uint8)
                self._pinned[dev] = host
            buffer.data.copy_to_host_async(host.ctypes.data, nbytes, stream=self.base.stream)
            self.base.stream.synchronize()
            return host[:nbytes].copy()


def _device_array(cp: Any, masks: Any) -> Any:
    if isinstance(masks, cp.ndarray):
        return masks
    if isinstance(masks, np.ndarray):
        raise TypeError("fastrle.gpu.encode takes masks on the GPU (CuPy array or torch CUDA tensor); "
                        "use fastrle.encode for numpy arrays")
    if hasattr(masks, "__dlpack__"):
        try:
            return cp.from_dlpack(masks)  # torch CUDA tensors, JAX arrays, ...: no copy
        except Exception:
            if not hasattr(masks, "__cuda_array_interface__"):
                raise
    if hasattr(masks, "__cuda_array_interface__"):
        return cp.asarray(masks)
    raise TypeError(f"masks must be a CuPy array or a CUDA array exposing DLPack or "
                    f"__cuda_array_interface__ (e.g. a torch CUDA tensor), got {type(masks).__name__}")


def encode(masks: Any, *, layout: str = "nhw", nonzero: bool = False, stream: Any = None) -> Union[RLE, List[RLE]]:
    """Encode masks on the GPU as COCO RLE, byte-identical to pycocotools.

    Args:
        masks: a CuPy array or a CUDA tensor with DLPack (a torch CUDA
            tensor), bool or integer, in any memory order (C, Fortran,
            transposed or sliced views are read in place). (H, W) for one
            mask, else a batch in ``layout``.
        layout: ``"nhw"`` (default): (N, H, W), as models produce them;
            ``"hwn"``: (H, W, N), pycocotools' layout (a Fortran array
            from ``pycocotools.mask.decode`` moved to the GPU).
        nonzero: how a run boundary is found: False (default) at any change
            of byte value, as ``pycocotools.mask.encode`` (and
            ``fastrle.mask.encode``) compare; True at a change between zero
            and nonzero, as ``fastrle.encode``. The same for 0/1 masks.
        stream: CuPy stream, torch CUDA stream or raw ``cudaStream_t``; the
            current CuPy stream by default. The call waits for it once, for
            the one device-to-host copy of the strings.

    Returns:
        ``{"size": [h, w], "counts": bytes}`` for one (H, W) mask, else a list
        of N of them; ``counts`` equal ``pycocotools.mask.encode``'s.

    Raises:
        GPUUnavailableError: CuPy, the NVIDIA driver or a CUDA device is missing.
        TypeError: a float (or other non-integer) dtype, or masks not on the GPU,
            with :func:`fastrle.encode`'s message for the dtype.
        ValueError: not 2-D or 3-D, a bad ``layout``, or h*w > 2^32-1.
    """
    backend = CupyEncodeBackend(stream)
    cp = backend.cp
    with backend.base.stream:
        return encode_with(backend, _device_array(cp, masks), layout=layout, nonzero=nonzero)
