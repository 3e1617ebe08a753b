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
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from ..errors import GPUUnavailableError, RLEError
from ..optional import require
from . import launch as _launch

__all__ = ["GPUUnavailableError", "RLEError", "available", "check_deferred", "decode", "decode_ragged"]

RLE = Mapping[str, Any]

_lock = threading.Lock()
_module: Any = None  # cupy.RawModule, built on first use
_functions: dict[tuple[int, str], Any] = {}  # (device, kernel name) -> cupy function
_device_ok: Any = False  # the cupy module once a device was seen


def _import_cupy() -> Any:
    try:
        return require("cupy", "fastrle.gpu")
    except ImportError as exc:  # the gpu API's one error class for "cannot run here"
        raise GPUUnavailableError(str(exc)) from None


def _require_gpu() -> Any:
    """Return the ``cupy`` module, or raise GPUUnavailableError saying what is missing."""
    global _device_ok
    if _device_ok:
        return _device_ok
    cp = _import_cupy()
    runtime = cp.cuda.runtime
    try:
        count = runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError, or a broken CUDA install (OSError, ...)
        raise GPUUnavailableError(_diagnose(cp, exc)) from None
    if count == 0:
        raise GPUUnavailableError("no CUDA device found (the NVIDIA driver sees no GPU)")
    _device_ok = cp  # checked once per process: later calls skip the import and the device count
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


def _function(cp: Any, device: int, name: str) -> Any:
    """The compiled kernel ``name`` on ``device``, looked up once per process."""
    fn = _functions.get((device, name))  # a dict read: no lock on the hot path
    if fn is None:
        fn = _kernels(cp).get_function(name)
        with _lock:
            _functions[(device, name)] = fn
    return fn


class _Workspace:
    """Scratch for one decode in flight on one device, reused across calls.

    ``dev`` holds the upload (offsets, maps, chars) and the parse output (run
    ends, status words) in one allocation, grown geometrically.  ``staging``
    are pinned host buffers, each with the event of the copy that last read
    it: one is refilled only once its event is done (queried, not waited
    for), else another is used, so no call has to synchronise -- unless
    MAX_STAGING copies are all still queued, when the oldest is waited for.  ``ready`` is
    recorded after the last launch; a call on another stream waits for it on
    the device before reusing ``dev``.  Events are created once and
    re-recorded.  ``statuses`` are pinned copies of the parse's status words,
    each reused once it has been read (a deferred check holds one until then).
    ``views`` (the device views by name) and ``upload`` (the bytes uploaded)
    are those of the layout ``views_key`` on ``dev``, reused while the batch
    shape stays.
    """

    __slots__ = ("dev", "retired", "staging", "statuses", "ready", "stream", "views", "views_key", "upload")

    MAX_STAGING = 4

    def __init__(self) -> None:
        self.dev: Any = None
        self.retired: list[tuple[Any, Any]] = []  # outgrown (buffer, last-use event)
        self.staging: list[list[Any]] = []  # [pinned buffer, event or None, its address]
        self.statuses: list[_Status] = []  # status copies, reused once read
        self.ready: Any = None
        self.stream: Any = None
        self.views: dict[str, Any] = {}
        self.views_key: Any = None
        self.upload = 0

    def pinned(self, nbytes: int) -> list[Any]:
        """A staging slot of at least ``nbytes`` that no queued copy reads."""
        for slot in self.staging:
            if slot[0].nbytes >= nbytes and (slot[1] is None or slot[1].done):
                return slot
        idle = [s for s in self.staging if s[1] is None or s[1].done]
        if len(self.staging) >= self.MAX_STAGING:
            if idle:  # all too small: replace the smallest idle one
                self.staging.remove(min(idle, key=lambda s: s[0].nbytes))
            else:
                # Back-pressure: the host is MAX_STAGING uploads ahead of the
                # device.  Wait for the oldest copy (only then) and reuse it.
                slot = self.staging.pop(0)
                slot[1].synchronize()
                if slot[0].nbytes >= nbytes:
                    self.staging.append(slot)
                    return slot
        import cupyx

        buf = cupyx.empty_pinned((_grow(nbytes),), dtype=np.uint8)
        slot = [buf, None, buf.ctypes.data]
        self.staging.append(slot)
        return slot


class _Status:
    """The parse's status words on their way to pinned host memory, with the
    event recorded after the copy (``fastrle.gpu.launch``'s status object).
    Reused: :meth:`start` before each copy, free again once :meth:`wait` has
    looked at the words."""

    __slots__ = ("host", "ptr", "event", "busy", "n", "flags")

    def __init__(self, cp: Any, nwords: int):
        import cupyx

        self.host = cupyx.empty_pinned((_grow(8 * nwords) // 8,), dtype=np.int64)
        self.ptr = self.host.ctypes.data  # looked up once: the ctypes view is costly
        self.event = cp.cuda.Event(disable_timing=True)
        self.busy = False
        self.n = 0
        self.flags = self.host[:0]

    def start(self, nwords: int) -> None:
        """Mark busy for a copy of ``nwords`` words (``n``)."""
        self.busy = True
        if nwords != self.n:
            self.n = nwords
            self.flags = self.host[:nwords:_launch.META_STRIDE]  # each mask's status word

    @property
    def done(self) -> bool:
        return bool(self.event.done)

    def wait(self) -> np.ndarray | None:
        """Wait for the copy; ``None`` when every mask's status word is 0, else
        the words (a copy: the pinned buffer is reused)."""
        self.event.synchronize()
        words = self.host[:self.n].copy() if np.count_nonzero(self.flags) else None
        self.busy = False
        return words


def _grow(nbytes: int) -> int:
    """Capacity for ``nbytes``: the next power of two, at least 64 KiB."""
    return max(1 << 16, 1 << max(nbytes - 1, 1).bit_length())


# Idle workspaces per device.  Guarded by _pool_lock; a workspace taken from
# the pool belongs to one call until release().
_pool: dict[int, list[_Workspace]] = {}
_pool_lock = threading.Lock()


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


class CupyBackend:
    """Executes ``launch`` plans with CuPy on one stream, with scratch from
    the per-device workspace pool.

    Public for :mod:`fastrle.bench.gpu`, which subclasses it to time the
    kernels; not user API, so not in ``__all__``.
    """

    def __init__(self, cp: Any, stream: Any):
        self.cp = cp
        self.stream = stream
        self.device = cp.cuda.runtime.getDevice()
        self.ws: _Workspace | None = None

    def output(self, out: Any, shape: tuple[int, ...], dtype: Any = np.uint8) -> Any:
        """The output array: a new one, or ``out`` checked against ``shape`` and ``dtype``."""
        if out is None:
            return self.cp.empty(shape, dtype=dtype)  # on the current stream (run)
        arr = out if isinstance(out, self.cp.ndarray) else _as_cupy(self.cp, out)
        _launch.validate_out(arr, shape, dtype)
        return arr

    def buffers(self, batch: _launch.Batch, maps: Any) -> dict[str, Any]:
        """Take a workspace, upload the batch (and maps) and return the device views by name."""
        stream = self.stream
        with _pool_lock:
            idle = _pool.get(self.device)
            ws = idle.pop() if idle else _Workspace()
        self.ws = ws
        if ws.ready is not None and ws.stream is not stream:
            stream.wait_event(ws.ready)  # device-side order; the host does not wait
        # chars and ends are laid out for characters rounded up to an eighth
        # of a power of two (<= 12.5% spare; the kernels read only what offsets
        # name), so batches of n masks of about one size share the views
        nchars = batch.nchars
        step = 1 << max((nchars - 1).bit_length() - 3, 12)
        key = (len(batch.offsets), -(-nchars // step) * step, 0 if maps is None else len(maps))
        if ws.views_key != key:  # the same layout keeps its views (and fits in dev)
            total, ws.upload, layout = _launch.scratch_layout(key[0] - 1, key[1], key[2])
            if ws.dev is None or ws.dev.nbytes < total:
                # The outgrown buffer may still be read by queued kernels of an
                # earlier call: keep it until that call's event is done.
                ws.retired = [(b, e) for b, e in ws.retired if not e.done]
                if ws.dev is not None and ws.ready is not None:
                    ws.retired.append((ws.dev, ws.ready))
                ws.dev = self.cp.empty(_grow(total), dtype=np.uint8)  # on the current stream (run)
            dev = ws.dev
            ws.views = {name: dev[o:o + np.dtype(dt).itemsize * count].view(dt)
                        for name, (o, count, dt) in layout.items()}
            ws.views_key = key
        slot = ws.pinned(ws.upload)
        nup = _launch.fill_upload(slot[0], batch, maps)
        ws.dev.data.copy_from_host_async(slot[2], nup, stream=stream)
        slot[1] = stream.record(slot[1])  # refilled only once done: the event can be re-recorded
        return dict(ws.views)

    def launch(self, launch: _launch.Launch, buffers: dict[str, Any]) -> None:
        """Queue one kernel launch on the stream (current: see :meth:`run`)."""
        fn = _functions.get((self.device, launch.kernel)) or _function(self.cp, self.device, launch.kernel)
        args = tuple([buffers[v] if ptr else v for ptr, v in launch.scalar_args()])
        fn(launch.grid, launch.block, args, shared_mem=launch.shared_mem)

    def run(self, rles: Any, out: Any, **kwargs: Any) -> Any:
        """:func:`fastrle.gpu.launch.decode_with` on this backend, with its
        stream made current once for the whole call."""
        with self.stream:
            return _launch.decode_with(self, rles, out, **kwargs)

    def status_async(self, buffers: dict[str, Any]) -> _Status:
        """Queue a copy of the kernels' status words to pinned host memory
        and an event after it; nothing waits here."""
        ws = self.ws
        assert ws is not None, "status_async() reads the workspace that buffers() took"
        meta = buffers["meta"]
        nwords = meta.size
        for st in ws.statuses:
            if not st.busy and st.host.size >= nwords:
                break
        else:
            st = _Status(self.cp, nwords)
            ws.statuses.append(st)
        st.start(nwords)
        meta.data.copy_to_host_async(st.ptr, 8 * nwords, stream=self.stream)
        self.stream.record(st.event)
        return st

    def status(self, buffers: dict[str, Any]) -> np.ndarray | None:
        """The kernels' status words (waits for them); ``None`` when all are 0."""
        return self.status_async(buffers).wait()

    def copy(self, dst: Any, src: Any) -> None:
        """Queue ``dst[...] = src`` (a padded ``out`` view from C-order scratch)."""
        self.cp.copyto(dst, src, casting="unsafe")  # uint8 0/1 into a bool view too; the current stream

    def release(self, buffers: Any) -> None:
        """Return the workspace to the pool, ready once the queued work is done."""
        ws, self.ws = self.ws, None
        if ws is None:
            return
        ws.ready = self.stream.record(ws.ready)
        ws.stream = self.stream
        with _pool_lock:
            _pool.setdefault(self.device, []).append(ws)


def _backend(stream: Any) -> CupyBackend:
    """The CuPy backend on ``stream``; GPUUnavailableError without a GPU."""
    cp = _device_ok or _require_gpu()
    return CupyBackend(cp, cp.cuda.get_current_stream() if stream is None else _as_stream(cp, stream))


def cupy_backend(stream: Any = None) -> CupyBackend:
    """The CuPy backend on ``stream`` (for :mod:`fastrle.gpu.encoder`);
    GPUUnavailableError without a GPU."""
    return _backend(stream)


def decode(
    rles: Union[RLE, Sequence[RLE]],
    out: Any = None,
    *,
    stream: Any = None,
    check: Union[bool, str] = True,
    packed: bool = False,
    size: Any = None,
    mode: str = "nearest",
    flip: Optional[str] = None,
    bitorder: str = "big",
) -> Any:
    """Decode compressed COCO RLEs into a ``cupy.ndarray`` on the current device.

    Args:
        rles: one RLE dict (``{"size": [h, w], "counts": bytes | str}``) or a
            sequence of them, all of the same size with ``h*w < 2**32``.
            ``counts`` may also be an uncompressed list of run lengths.
        out: optional destination: a CuPy array, or any CUDA array exposing
            ``__cuda_array_interface__`` or DLPack (a torch CUDA tensor).  It
            must be uint8 or bool, of the output shape, with a contiguous
            last axis (the CPU's rule, ``fastrle._args.check_out``: a padded
            view such as ``buf[:, :H, :W]`` is written through a scratch
            output and one device copy).
        stream: CuPy stream, torch CUDA stream or raw ``cudaStream_t``; the
            current CuPy stream by default.  All work is queued on it.
        check: ``True``: wait for the parse kernel only (not the expansion)
            and raise what :func:`fastrle.decode` raises for the same input
            (``fastrle.RLEError`` naming the first malformed mask, same
            ``index``, ``reason`` and message), with ``out`` untouched.
            ``False``: nothing synchronises; malformed masks come out as
            zeros.  ``"deferred"``: nothing synchronises either, and the
            error, if any, is raised by a later call of this thread (once
            its status has arrived) or by :func:`check_deferred`; ``out`` is
            written as with ``False``.
        packed: return bits packed along the width as
            ``np.packbits(masks, axis=-1, bitorder=bitorder)``, shape
            (N, H, ceil(W/8)).
        size: ``(H2, W2)``: resize while decoding, bit-identical to
            ``torch.nn.functional.interpolate(masks, size=(H2, W2), mode=mode)``
            (its CPU index arithmetic: float32 scale ``in / out``, and for
            ``"nearest"`` torch's exact and 2x special cases).
        mode: ``"nearest"``, ``"nearest-exact"`` or ``"area"`` (OpenCV's
            ``INTER_AREA``, downscaling only: float32 output, bit-identical
            to :func:`fastrle.decode`'s; not with ``packed``).
        flip: ``None``, ``"h"`` (mirror columns), ``"v"`` (rows) or ``"hv"``,
            applied to the (resized) output.
        bitorder: ``"big"`` (``np.packbits`` default) or ``"little"``; used
            with ``packed=True``, checked always (as :func:`fastrle.decode`).

    Arguments follow :func:`fastrle.decode`'s rules (``fastrle._args``):
    the same inputs are accepted and rejected with the same messages.

    Returns:
        ``(N, H, W)`` uint8 (0/1) C-contiguous (``(N, H2, W2)`` when resized;
        float32 for ``"area"``),
        or ``(H, W)`` for a single dict; ``out`` (as a CuPy view) when given.

    Raises:
        GPUUnavailableError: CuPy, the NVIDIA driver or a CUDA device is missing.
        fastrle.RLEError: malformed counts (strings only with ``check=True``),
            with the CPU decoder's ``index``, ``reason`` and message.
        ValueError: bad size, differing sizes, bad ``out``.
        TypeError: a size or ``out`` dtype of the wrong type, as on the CPU.
    """
    return _backend(stream).run(rles, out, check=check, packed=packed, size=size, mode=mode, flip=flip,
                                bitorder=bitorder)


def check_deferred(wait: bool = True) -> None:
    """Raise the first error of this thread's earlier ``check="deferred"``
    decodes (``fastrle.RLEError``, message prefixed ``"deferred check of an
    earlier call: "``, ``index`` in that call), waiting for their statuses
    (``wait=False``: only those that have arrived).  Each error is raised once."""
    _launch.check_deferred(wait)


def decode_ragged(
    data: Any,
    offsets: Any,
    h: int,
    w: int,
    out: Any = None,
    *,
    indices: Any = None,
    stream: Any = None,
    check: Union[bool, str] = True,
    packed: bool = False,
    size: Any = None,
    mode: str = "nearest",
    flip: Optional[str] = None,
    bitorder: str = "big",
) -> Any:
    """Decode masks stored as one buffer of concatenated counts strings.

    Mask i's compressed counts are ``data[offsets[i]:offsets[i+1]]`` and every
    mask is h x w (``h*w < 2**32``): the table is uploaded as it is, with no
    per-mask Python object. ``indices`` picks and orders masks. Other
    arguments and the result as in :func:`decode`; the result is always
    (N, H, W).
    """
    batch = _launch.pack_ragged(data, offsets, h, w, indices)
    return _backend(stream).run(batch, out, check=check, packed=packed, size=size, mode=mode, flip=flip,
                                bitorder=bitorder)
