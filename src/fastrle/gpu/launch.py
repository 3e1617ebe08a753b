"""Host-side launch code for ``fastrle.gpu``, independent of the device backend.

Everything between the Python RLE objects and the kernels lives here:
packing the ``counts`` strings into one byte buffer with int64 offsets,
scratch sizing, grid/block planning (including chunking batches so grid y/z
stay <= 65535), the kernels' argument types and turning per-mask status
flags into ``ValueError``.  Two backends execute the plan: CuPy
(``fastrle.gpu``) and the CPU emulator in ``tests/cuda_emu`` that runs the
same kernel source, so the tests exercise this exact code path.

A backend provides:

* ``output(out, shape)`` -> device array (validate ``out`` or allocate),
* ``upload(offsets, chars)`` -> ``(offs_dev, chars_dev)``,
* ``empty(size, dtype)`` -> device array,
* ``launch(launch, buffers)`` runs one :class:`Launch`,
* ``to_host(array)`` -> ``numpy.ndarray`` (may synchronise).
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .._pyrle import counts_to_string

#: Kernel sources, concatenated in this order into one compilation unit.
KERNEL_FILES = ("rle_parse.cuh", "rle_expand.cuh")

#: Status codes written by the parse kernels (FASTRLE_ST_* in rle_parse.cuh).
STATUS_OK = 0
STATUS_MESSAGES = {
    1: "invalid character (outside 48..111, or NUL)",
    2: "truncated varint (string ends inside a count)",
    3: "negative run length",
    4: "run length too large (>= 2**32)",
    5: "run lengths sum to less than h*w",
    6: "run lengths sum to more than h*w",
}
#: Int64 words per mask in the meta buffer: status, run count, error offset.
META_STRIDE = 3
#: Columns per thread in ``fastrle_expand`` (FASTRLE_COLS in rle_expand.cuh).
EXPAND_COLS = 4
#: CUDA limits on the grid.
MAX_GRID_X = 2**31 - 1
MAX_GRID_YZ = 65535

#: Argument types per kernel: "p" device pointer, else a scalar C type.
KERNEL_ARGS: dict[str, tuple[str, ...]] = {
    "fastrle_parse_serial": ("p", "p", "p", "p", "i64", "u64"),
    "fastrle_parse_warp": ("p", "p", "p", "p", "i64", "u64"),
    "fastrle_expand": ("p", "p", "p", "p", "u32", "u32", "u32", "i64"),
    "fastrle_expand_packed": ("p", "p", "p", "p", "u32", "u32", "u32", "i64"),
}
SCALAR_DTYPES = {"u32": np.uint32, "i64": np.int64, "u64": np.uint64}


@dataclass(frozen=True)
class Config:
    """Launch configuration; the defaults are what ``fastrle.gpu`` uses."""

    parser: str = "warp"  # "warp" (one warp per mask) or "serial" (one thread per mask)
    parse_block: int = 128
    expand_block: int = 128
    band_rows: int = 64

    def __post_init__(self) -> None:
        if self.parser not in ("warp", "serial"):
            raise ValueError(f"parser must be 'warp' or 'serial', not {self.parser!r}")
        if not 32 <= self.parse_block <= 1024 or self.parse_block % 32:
            raise ValueError("parse_block must be a multiple of 32 in 32..1024")
        if not 1 <= self.expand_block <= 1024:
            raise ValueError("expand_block must be in 1..1024")
        if self.band_rows < 1:
            raise ValueError("band_rows must be >= 1")


@dataclass(frozen=True)
class Launch:
    """One kernel launch: pointer args are buffer names, scalars are ints."""

    kernel: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    args: tuple[Any, ...]
    shared_mem: int = 0

    def typed_args(self) -> list[tuple[str, Any]]:
        """Pair each argument with its type code from :data:`KERNEL_ARGS`."""
        types = KERNEL_ARGS[self.kernel]
        if len(types) != len(self.args):
            raise AssertionError(f"{self.kernel}: {len(self.args)} args, expected {len(types)}")
        return list(zip(types, self.args))


@dataclass(frozen=True)
class Batch:
    """RLE strings packed for upload."""

    h: int
    w: int
    single: bool  # a lone dict was given: return (H, W)
    offsets: np.ndarray  # int64, n + 1
    chars: np.ndarray  # uint8, all counts strings back to back

    @property
    def n(self) -> int:
        return len(self.offsets) - 1

    def out_shape(self, packed: bool) -> tuple[int, ...]:
        w = (self.w + 7) // 8 if packed else self.w
        return (self.h, w) if self.single else (self.n, self.h, w)


def kernel_source() -> str:
    """The kernel source that every backend compiles, as one string.

    Looked up as package data ``fastrle/kernels/<name>.cuh`` (installed
    wheels), falling back to ``<repo>/csrc/kernels/`` for in-tree use.
    """
    return "\n".join(_read_kernel(name) for name in KERNEL_FILES)


def _read_kernel(name: str) -> str:
    try:
        root = (__package__ or "fastrle.gpu").rsplit(".", 1)[0]  # the top package: fastrle
        ref = importlib.resources.files(root).joinpath("kernels", name)
        if ref.is_file():
            return ref.read_text(encoding="utf-8")
    except Exception:  # not installed as a package, or no package data: use the tree
        pass
    path = Path(__file__).resolve().parents[3] / "csrc" / "kernels" / name
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(
            f"fastrle GPU kernel source {name!r} not found in the package (fastrle/kernels/) "
            f"nor at {path}"
        ) from None


def pack_rles(rles: Any) -> Batch:
    """Validate RLE dicts and concatenate their ``counts`` strings.

    ``rles`` is one dict or a sequence of dicts with ``size`` ``[h, w]`` and
    ``counts`` as bytes/str (compressed) or a list of ints (uncompressed).
    All masks must share one size, and ``h*w < 2**32``.
    """
    single = isinstance(rles, Mapping)
    items = [rles] if single else list(rles)
    h = w = 0
    parts: list[bytes] = []
    for i, r in enumerate(items):
        try:
            size = r["size"]
            counts = r["counts"]
        except (KeyError, TypeError):
            raise TypeError(f"mask {i}: expected a dict with 'size' and 'counts'") from None
        if len(size) != 2:
            raise ValueError(f"mask {i}: size must be [h, w], got {size!r}")
        hi, wi = int(size[0]), int(size[1])
        if hi < 0 or wi < 0:
            raise ValueError(f"mask {i}: negative size {size!r}")
        if i == 0:
            h, w = hi, wi
            if h * w >= 2**32:
                raise ValueError(f"mask size {h}x{w}: the GPU decoder needs h*w < 2**32")
        elif (hi, wi) != (h, w):
            raise ValueError(f"mask {i}: size {[hi, wi]} differs from mask 0's {[h, w]}")
        if isinstance(counts, str):
            counts = counts.encode("utf-8")
        elif isinstance(counts, (list, tuple, np.ndarray)):
            counts = counts_to_string(counts)
        elif not isinstance(counts, (bytes, bytearray, memoryview)):
            raise TypeError(f"mask {i}: counts must be bytes, str or a list of ints")
        parts.append(bytes(counts))
    lengths = np.fromiter((len(p) for p in parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    chars = np.frombuffer(b"".join(parts), dtype=np.uint8)
    return Batch(h=h, w=w, single=single, offsets=offsets, chars=chars)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def plan_launches(batch: Batch, config: Config, packed: bool) -> list[Launch]:
    """Kernel launches for one batch: a parse, then expansions chunked by 65535 masks."""
    n, h, w = batch.n, batch.h, batch.w
    if n == 0:
        return []
    launches = []
    parse_args = ("chars", "offs", "ends", "meta", n, h * w)
    if config.parser == "warp":
        per_block = config.parse_block // 32
        kernel = "fastrle_parse_warp"
    else:
        per_block = config.parse_block
        kernel = "fastrle_parse_serial"
    gx = _ceil_div(n, per_block)
    if gx > MAX_GRID_X:
        raise ValueError(f"batch of {n} masks is too large for one launch")
    launches.append(Launch(kernel, (gx, 1, 1), (config.parse_block, 1, 1), parse_args))
    if h * w == 0:
        return launches
    block = config.expand_block
    if packed:
        kernel, gx = "fastrle_expand_packed", _ceil_div(_ceil_div(w, 8), block)
    else:
        kernel, gx = "fastrle_expand", _ceil_div(w, block * EXPAND_COLS)
    band = max(config.band_rows, _ceil_div(h, MAX_GRID_YZ))
    gy = _ceil_div(h, band)
    for base in range(0, n, MAX_GRID_YZ):
        gz = min(MAX_GRID_YZ, n - base)
        args = ("ends", "offs", "meta", "out", h, w, band, base)
        launches.append(Launch(kernel, (gx, gy, gz), (block, 1, 1), args))
    return launches


def status_error(meta: np.ndarray) -> ValueError | None:
    """A ``ValueError`` naming the first malformed mask, or ``None``."""
    meta = np.asarray(meta).reshape(-1, META_STRIDE)
    bad = np.flatnonzero(meta[:, 0] != STATUS_OK)
    if len(bad) == 0:
        return None
    i = int(bad[0])
    code, pos = int(meta[i, 0]), int(meta[i, 2])
    reason = STATUS_MESSAGES.get(code, f"unknown status {code}")
    more = f" ({len(bad) - 1} more malformed masks)" if len(bad) > 1 else ""
    return ValueError(f"invalid RLE counts in mask {i}: {reason} at character {pos}{more}")


def validate_out(arr: Any, shape: tuple[int, ...]) -> None:
    """Raise if a caller-provided output array has the wrong layout."""
    if tuple(arr.shape) != shape:
        raise ValueError(f"out has shape {tuple(arr.shape)}, expected {shape}")
    if np.dtype(arr.dtype) != np.uint8:
        raise ValueError(f"out must be uint8, not {arr.dtype}")
    if not arr.flags.c_contiguous:
        raise ValueError("out must be C-contiguous")


def pack_ragged(data: Any, offsets: Any, h: int, w: int, indices: Any = None) -> Batch:
    """A Batch straight from a ragged table: mask i's counts string is
    ``data[offsets[i]:offsets[i+1]]``. ``indices`` picks and orders masks.
    Already packed, so nothing is copied unless ``indices`` reorders."""
    chars = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8)
    offs = np.ascontiguousarray(offsets, dtype=np.int64)
    h, w = int(h), int(w)
    if offs.ndim != 1 or len(offs) < 1:
        raise ValueError("offsets must be one-dimensional with at least one entry")
    if h < 0 or w < 0 or h * w >= 2**32:
        raise ValueError(f"mask size {h}x{w}: the GPU decoder needs h*w < 2**32")
    if offs[0] < 0 or np.any(np.diff(offs) < 0) or offs[-1] > len(chars):
        raise ValueError("offsets must be non-decreasing and inside the data buffer")
    if indices is not None:
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(offs) - 1
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"indices out of range for {n} masks")
        idx = idx % n if n else idx
        starts, ends = offs[idx], offs[idx + 1]
        lengths = ends - starts
        new = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(lengths, out=new[1:])
        # gather the selected strings back to back
        pos = np.repeat(starts - new[:-1], lengths) + np.arange(new[-1], dtype=np.int64)
        chars, offs = chars[pos], new
    else:
        chars, offs = chars[offs[0]:offs[-1]], offs - offs[0]
    return Batch(h=h, w=w, single=False, offsets=offs, chars=np.ascontiguousarray(chars))


def decode_with(
    backend: Any,
    rles: Any,
    out: Any = None,
    *,
    check: bool = True,
    packed: bool = False,
    config: Config | None = None,
) -> Any:
    """Decode ``rles`` (RLE dicts, or a packed :class:`Batch`) on
    ``backend``; see :func:`fastrle.gpu.decode`."""
    config = config or Config()
    batch = rles if isinstance(rles, Batch) else pack_rles(rles)
    shape = batch.out_shape(packed)
    result = backend.output(out, shape)
    if batch.n == 0:
        return result
    offs, chars = backend.upload(batch.offsets, batch.chars)
    buffers = {
        "offs": offs,
        "chars": chars,
        # A mask has at most one run per character.
        "ends": backend.empty(max(len(batch.chars), 1), np.uint32),
        "meta": backend.empty(batch.n * META_STRIDE, np.int64),
        "out": result,
    }
    for launch in plan_launches(batch, config, packed):
        backend.launch(launch, buffers)
    if check:
        err = status_error(backend.to_host(buffers["meta"]))
        if err is not None:
            raise err
    return result
