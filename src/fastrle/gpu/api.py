"""Decode COCO RLE masks on an NVIDIA GPU with CuPy.

Only the compressed ``counts`` strings (plus int64 offsets) are uploaded;
parsing and run expansion both run in CUDA kernels (``csrc/kernels/*.cuh``),
compiled once per process with ``cupy.RawModule`` and cached by CuPy.

Importing this module never touches CUDA.  CuPy is optional
(``pip install 'fastrle[gpu]'``); without it, or without a driver or device,
:func:`decode` raises :class:`GPUUnavailableError` and :func:`available`
returns ``False``.

Interop with PyTorch goes through DLPack / ``__cuda_array_interface__``
without copies::

    masks = torch.from_dlpack(fastrle.gpu.decode(rles))          # result to torch
    buf = torch.empty((n, h, w), dtype=torch.uint8, device="cuda")
    fastrle.gpu.decode(rles, out=buf, stream=torch.cuda.current_stream())
"""

from __future__ import annotations

import threading
from typing import Any, Mapping, Sequence, Union

import numpy as np

from . import launch as _launch

__all__ = ["GPUUnavailableError", "available", "decode", "decode_ragged"]

RLE = Mapping[str, Any]

_CUPY_HINT = "pip install 'fastrle[gpu]' (CuPy for CUDA 13: cupy-cuda13x)"
_lock = threading.Lock()
_module: Any = None  # cupy.RawModule, built on first use
_device_ok = False
# Pinned upload buffers must outlive their asynchronous copies.
_pending_uploads: list[tuple[Any, Any]] = []


class GPUUnavailableError(RuntimeError):
    """No usable GPU: CuPy is not installed, or there is no driver or device."""


def _import_cupy() -> Any:
    try:
        import cupy
    except ImportError as exc:
        raise GPUUnavailableError(f"fastrle.gpu needs CuPy, which is not installed ({exc}); "
                                  f"{_CUPY_HINT}") from None
    return cupy


def _require_gpu() -> Any:
    """Return the ``cupy`` module, or raise GPUUnavailableError saying what is missing."""
    global _device_ok
    cp = _import_cupy()
    if _device_ok:
        return cp
    runtime = cp.cuda.runtime
    try:
        count = runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError, or a broken CUDA install (OSError, ...)
        raise GPUUnavailableError(_diagnose(cp, exc)) from None
    if count == 0:
        raise GPUUnavailableError("no CUDA device found (the NVIDIA driver sees no GPU)")
    _device_ok = True
    return cp


def _diagnose(cp: Any, exc: BaseException) -> str:
    runtime = cp.cuda.runtime
    try:
        driver = runtime.driverGetVersion()
    except Exception:
        driver = 0
    status = getattr(exc, "status", None)
    if driver == 0:
        return "no NVIDIA driver found (libcuda could not be loaded); fastrle.gpu needs a CUDA GPU"
    if status == 35:  # cudaErrorInsufficientDriver
        try:
            rt = runtime.runtimeGetVersion()
        except Exception:
            rt = 0
        return (f"the NVIDIA driver (CUDA {driver // 1000}.{driver % 1000 // 10}) is too old for "
                f"this CuPy build (CUDA {rt // 1000}.{rt % 1000 // 10})")
    if status == 100:  # cudaErrorNoDevice
        return "no CUDA device found (the NVIDIA driver sees no GPU)"
    return f"CUDA is not usable: {exc}"


def available() -> bool:
    """Whether :func:`decode` can run: CuPy imports and a CUDA device is visible."""
    try:
        _require_gpu()
    except GPUUnavailableError:
        return False
    return True


def _kernels(cp: Any) -> Any:
    global _module
    with _lock:
        if _module is None:
            _module = cp.RawModule(code=_launch.kernel_source())
        return _module


def _as_stream(cp: Any, stream: Any) -> Any:
    if stream is None:
        return cp.cuda.get_current_stream()
    if isinstance(stream, (cp.cuda.Stream, cp.cuda.ExternalStream)):
        return stream
    ptr = getattr(stream, "cuda_stream", None)  # torch.cuda.Stream
    if ptr is None and isinstance(stream, int):
        ptr = stream
    if ptr is None:
        raise TypeError(f"stream must be a cupy or torch CUDA stream, or a raw handle, not {type(stream).__name__}")
    return cp.cuda.ExternalStream(ptr)


def _as_cupy(cp: Any, out: Any) -> Any:
    if isinstance(out, cp.ndarray):
        return out
    if hasattr(out, "__cuda_array_interface__"):
        return cp.asarray(out)  # zero-copy view, e.g. a torch CUDA tensor
    if hasattr(out, "__dlpack__"):
        return cp.from_dlpack(out)
    raise TypeError("out must be a CuPy array or a CUDA array exposing "
                    "__cuda_array_interface__ or DLPack (e.g. a torch CUDA tensor)")


class _CupyBackend:
    """Executes ``launch`` plans with CuPy on one stream."""

    def __init__(self, cp: Any, stream: Any):
        self.cp = cp
        self.stream = stream

    def output(self, out: Any, shape: tuple[int, ...]) -> Any:
        if out is None:
            with self.stream:
                return self.cp.empty(shape, dtype=np.uint8)
        arr = _as_cupy(self.cp, out)
        _launch.validate_out(arr, shape)
        return arr

    def upload(self, offsets: np.ndarray, chars: np.ndarray) -> tuple[Any, Any]:
        import cupyx

        cp = self.cp
        n8 = offsets.nbytes
        total = n8 + chars.nbytes
        # One pinned staging buffer -> one truly asynchronous copy.
        host = cupyx.empty_pinned((total,), dtype=np.uint8)
        host[:n8] = offsets.view(np.uint8)
        host[n8:] = chars
        with self.stream:
            dev = cp.empty(total, dtype=np.uint8)
        dev.data.copy_from_host_async(host.ctypes.data, total, stream=self.stream)
        event = self.stream.record()
        _pending_uploads[:] = [(e, h) for e, h in _pending_uploads if not e.done]
        _pending_uploads.append((event, host))
        return dev[:n8].view(np.int64), dev[n8:]

    def empty(self, size: int, dtype: Any) -> Any:
        with self.stream:
            return self.cp.empty(size, dtype=dtype)

    def launch(self, launch: _launch.Launch, buffers: dict[str, Any]) -> None:
        fn = _kernels(self.cp).get_function(launch.kernel)
        args = tuple(buffers[v] if code == "p" else _launch.SCALAR_DTYPES[code](v)
                     for code, v in launch.typed_args())
        with self.stream:
            fn(launch.grid, launch.block, args, shared_mem=launch.shared_mem)

    def to_host(self, arr: Any) -> np.ndarray:
        return arr.get(stream=self.stream)


def decode(
    rles: Union[RLE, Sequence[RLE]],
    out: Any = None,
    *,
    stream: Any = None,
    check: bool = True,
    packed: bool = False,
) -> Any:
    """Decode compressed COCO RLEs into a ``cupy.ndarray`` on the current device.

    Args:
        rles: one RLE dict (``{"size": [h, w], "counts": bytes | str}``) or a
            sequence of them, all of the same size with ``h*w < 2**32``.
            ``counts`` may also be an uncompressed list of run lengths.
        out: optional destination: a CuPy array, or any CUDA array exposing
            ``__cuda_array_interface__`` or DLPack (a torch CUDA tensor).  It
            must be uint8, C-contiguous and of the output shape.
        stream: CuPy stream, torch CUDA stream or raw ``cudaStream_t``; the
            current CuPy stream by default.  All work is queued on it.
        check: if true, wait for the kernels and raise ``ValueError`` naming
            the first malformed mask.  If false, nothing synchronises; masks
            with malformed counts come out as all zeros.
        packed: return bits packed along the width in ``np.packbits`` order
            (first pixel in the most significant bit), shape (N, H, ceil(W/8)).

    Returns:
        ``(N, H, W)`` uint8 (0/1) C-contiguous, or ``(H, W)`` for a single dict;
        ``out`` (as a CuPy view) when given.

    Raises:
        GPUUnavailableError: CuPy, the NVIDIA driver or a CUDA device is missing.
        ValueError: malformed input (bad size, differing sizes, bad ``out``,
            and with ``check=True`` malformed counts strings).
    """
    cp = _require_gpu()
    backend = _CupyBackend(cp, _as_stream(cp, stream))
    return _launch.decode_with(backend, rles, out, check=check, packed=packed)


def decode_ragged(
    data: Any,
    offsets: Any,
    h: int,
    w: int,
    out: Any = None,
    *,
    indices: Any = None,
    stream: Any = None,
    check: bool = True,
    packed: bool = False,
) -> Any:
    """Decode masks stored as one buffer of concatenated counts strings.

    Mask i's compressed counts are ``data[offsets[i]:offsets[i+1]]`` and every
    mask is h x w (``h*w < 2**32``): the table is uploaded as it is, with no
    per-mask Python object. ``indices`` picks and orders masks. Other
    arguments and the result as in :func:`decode`; the result is always
    (N, H, W).
    """
    batch = _launch.pack_ragged(data, offsets, h, w, indices)
    cp = _require_gpu()
    backend = _CupyBackend(cp, _as_stream(cp, stream))
    return _launch.decode_with(backend, batch, out, check=check, packed=packed)
