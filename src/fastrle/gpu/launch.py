"""Host-side launch code for ``fastrle.gpu``, independent of the device backend.

Everything between the Python RLE objects and the kernels lives here:
packing the ``counts`` strings into one byte buffer with int64 offsets,
scratch sizing, grid/block planning (including chunking batches so grid y/z
stay <= 65535), the kernels' argument types and turning per-mask status
flags into the CPU decoder's exception (:func:`cpu_error`).  Two backends execute the plan: CuPy
(``fastrle.gpu``) and the CPU emulator in ``tests/cuda_emu`` that runs the
same kernel source, so the tests exercise this exact code path.

A backend provides:

* ``output(out, shape, dtype=uint8)`` -> device array (validate ``out`` or allocate),
* ``buffers(batch, maps)`` -> dict of device arrays ``offs``, ``chars``,
  ``maps`` (uploaded) and ``ends``, ``meta`` (scratch), laid out by
  :func:`scratch_layout`,
* ``launch(launch, buffers)`` runs one :class:`Launch` (queued, no wait),
* ``status_async(buffers)`` -> the ``meta`` words on their way to the host:
  an object with ``done`` (a query) and ``wait()`` (-> ``None`` when every
  mask's status word is 0, else the words as ``numpy`` int64),
* ``copy(dst, src)`` queues a device copy (a padded ``out`` view),
* ``release(buffers)`` once every launch is queued (scratch reuse).
"""

from __future__ import annotations

import functools
import importlib.resources
import itertools
import operator
import threading
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Sequence

import numpy as np

from .._args import check_out, check_size, differing_size, mask_size, size_ok, transform_args
from .._pyrle import counts_to_string as counts_to_string  # re-exported: the tests build strings with it
from ..errors import STATUSES, RLEError, code_of
from ..transforms import nearest_map

#: Kernel sources, concatenated in this order into one compilation unit.
KERNEL_FILES = ("rle_parse.cuh", "rle_expand.cuh", "rle_area.cuh", "rle_encode.cuh")

#: Status codes written by the parse kernels (FASTRLE_ST_* in rle_parse.cuh)
#: and the reason (:data:`fastrle.errors.STATUSES`) of the C core's status for
#: the same fault; 1 is a NUL byte too.
STATUS_OK = 0
STATUS_REASONS: dict[int, str] = {
    1: "bad_char",
    2: "truncated",
    3: "negative_run",
    4: "run_too_big",
    5: "sum_short",
    6: "sum_long",
    7: "varint_too_long",
}
_REASONS = {s.reason for s in STATUSES}
#: Int64 words per mask in the meta buffer: status, run count, error offset.
META_STRIDE = 3
#: Columns one warp of ``fastrle_expand`` writes per row (FASTRLE_TILE_GROUPS
#: groups of 4) and rows per slab (FASTRLE_TILE_ROWS); bands are whole slabs.
TILE_GROUPS = 31
TILE_COLS = 4 * TILE_GROUPS
TILE_ROWS = 32
#: CUDA limits on the grid.
MAX_GRID_X = 2**31 - 1
MAX_GRID_YZ = 65535
#: Most threads per block :class:`Config` takes: the parse kernels'
#: ``__launch_bounds__`` (FASTRLE_PARSE_MAX_BLOCK in rle_parse.cuh), and 512
#: for the expand kernels (the packed words kernel's 78 registers on sm_90 fit
#: 800 threads, not 1024).  ``fastrle bench --gpu-sass`` checks that each
#: kernel's registers let a block of its limit launch (:func:`max_block`).
PARSE_MAX_BLOCK = 256
EXPAND_MAX_BLOCK = 512
#: Threads per block of every encode kernel (fixed; planned in gpu/encoder.py).
ENCODE_BLOCK = 128

#: Argument types per kernel: "p" device pointer, else a scalar C type.
KERNEL_ARGS: dict[str, tuple[str, ...]] = {
    "fastrle_parse_serial": ("p", "p", "p", "p", "i64", "u64"),
    "fastrle_parse_warp": ("p", "p", "p", "p", "i64", "u64"),
    "fastrle_expand": ("p", "p", "p", "p", "p", "u32", "u32", "u32", "u32", "u32", "u32", "i64"),
    "fastrle_expand_packed": ("p", "p", "p", "p", "p", "u32", "u32", "u32", "u32", "u32", "u32", "i64"),
    "fastrle_expand_map": ("p", "p", "p", "p", "p", "u32", "u32", "u32", "u32", "u32", "u32", "i64"),
    "fastrle_expand_area": ("p", "p", "p", "p", "u32", "u32", "u32", "u32", "u32", "i64"),
    # fastrle.gpu.encode (rle_encode.cuh; planned in gpu/encoder.py)
    "fastrle_encode_cols": ("p", "p", "p", "i64", "i64", "i64", "u32", "u32", "u32", "u32", "u32", "i64"),
    "fastrle_encode_scan": ("p", "p", "u64", "i64"),
    "fastrle_encode_len": ("p", "p", "p", "i64", "i64", "i64", "u32", "u32", "u32", "u32", "u32", "i64"),
    "fastrle_encode_sum": ("p", "p", "u64", "u64", "i64"),
    "fastrle_encode_offs": ("p", "p", "p", "i64", "u64", "i64"),
    "fastrle_encode_write": ("p", "p", "p", "p", "p", "p", "i64", "i64", "i64", "i64", "u32", "u32", "u32", "u32",
                             "u32", "i64"),
}
SCALAR_DTYPES = {"u32": np.uint32, "i64": np.int64, "u64": np.uint64}


@dataclass(frozen=True)
class Config:
    """Launch configuration; the defaults are what ``fastrle.gpu`` uses."""

    parser: str = "warp"  # "warp" (one warp per mask) or "serial" (one thread per mask)
    parse_block: int = 128
    expand_block: int = 128
    band_rows: int = 128  # the fewest rows per band (expand_grid makes the expand's bands longer)

    def __post_init__(self) -> None:
        if self.parser not in ("warp", "serial"):
            raise ValueError(f"parser must be 'warp' or 'serial', not {self.parser!r}")
        if not 32 <= self.parse_block <= PARSE_MAX_BLOCK or self.parse_block % 32:
            raise ValueError(f"parse_block must be a multiple of 32 in 32..{PARSE_MAX_BLOCK}")
        if not 32 <= self.expand_block <= EXPAND_MAX_BLOCK or self.expand_block % 32:
            raise ValueError(f"expand_block must be a multiple of 32 in 32..{EXPAND_MAX_BLOCK}")
        if self.band_rows < 1:
            raise ValueError("band_rows must be >= 1")


def max_block(kernel: str) -> int | None:
    """The most threads per block :class:`Config` lets ``kernel`` launch with
    (``None`` for a kernel it does not configure)."""
    if kernel.startswith("fastrle_parse_"):
        return PARSE_MAX_BLOCK
    if kernel.startswith("fastrle_expand"):
        return EXPAND_MAX_BLOCK
    if kernel.startswith("fastrle_encode_"):
        return ENCODE_BLOCK
    return None


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

    @functools.cached_property
    def _scalars(self) -> tuple[tuple[bool, Any], ...]:
        return tuple((code == "p", v if code == "p" else SCALAR_DTYPES[code](v)) for code, v in self.typed_args())

    def scalar_args(self) -> tuple[tuple[bool, Any], ...]:
        """``(is_pointer, value)`` per argument: buffer names, and scalars as
        numpy scalars of their C type (built once per cached plan)."""
        return self._scalars


@dataclass(frozen=True)
class Batch:
    """RLE strings packed for upload: the bytes in ``chars``, or still in
    ``strings`` (the compiled packer's, copied once by :func:`fill_upload`)."""

    h: int
    w: int
    single: bool  # a lone dict was given: return (H, W)
    offsets: np.ndarray  # int64, n + 1, from 0
    chars: np.ndarray | None  # uint8, all counts strings back to back; None: in strings
    strings: list[Any] | None = None  # the masks' counts (str or bytes), when chars is None

    @property
    def n(self) -> int:
        return len(self.offsets) - 1

    @property
    def nchars(self) -> int:
        """Bytes of all counts strings together."""
        return len(self.chars) if self.chars is not None else int(self.offsets[-1])

    def all_chars(self) -> np.ndarray:
        """``chars``, or the ``strings`` joined into a new uint8 array."""
        if self.chars is not None:
            return self.chars
        host = np.empty(8 * len(self.offsets) + self.nchars, np.uint8)
        start = fill_upload(host, self, None) - self.nchars
        return host[start:]

    def out_shape(self, packed: bool) -> tuple[int, ...]:
        w = (self.w + 7) // 8 if packed else self.w
        return (self.h, w) if self.single else (self.n, self.h, w)


_DEFAULT_CONFIG = Config()


def scratch_layout(n: int, nchars: int, nmaps: int) -> tuple[int, int, dict[str, tuple[int, int, Any]]]:
    """Byte layout of one device scratch buffer for a batch: total size, the
    size of the uploaded prefix and, per buffer, (offset, element count, dtype).  ``offs``, ``chars`` and
    ``maps`` come first and back to back, so one host-to-device copy uploads
    them; every piece is 8-byte aligned."""
    def up8(x: int) -> int:
        return (x + 7) & ~7

    o_offs = 0
    o_maps = o_offs + 8 * (n + 1)
    o_chars = o_maps + 4 * nmaps
    upload = o_chars + nchars
    o_meta = up8(upload)
    o_ends = o_meta + 8 * META_STRIDE * n
    total = o_ends + 4 * max(nchars, 1)  # a mask has at most one run per character
    layout = {
        "offs": (o_offs, n + 1, np.int64),
        "chars": (o_chars, nchars, np.uint8),
        "meta": (o_meta, META_STRIDE * n, np.int64),
        "ends": (o_ends, max(nchars, 1), np.uint32),
    }
    if nmaps:
        layout["maps"] = (o_maps, nmaps, np.uint32)
    return total, upload, layout


def fill_upload(host: np.ndarray, batch: Batch, maps: np.ndarray | None) -> int:
    """Write offsets, maps and chars into ``host`` (uint8) as
    :func:`scratch_layout` places them; returns the byte count to upload."""
    if _fill_upload is not None:  # one compiled call; the strings copied straight from the dicts' objects
        return int(_fill_upload(host, batch.offsets, maps, batch.chars, batch.strings))
    chars = batch.chars
    if chars is None:
        assert batch.strings is not None
        chars = np.frombuffer(b"".join(s.encode() if type(s) is str else s for s in batch.strings), np.uint8)
    n8 = batch.offsets.nbytes
    host[:n8] = batch.offsets.view(np.uint8)
    pos = n8
    if maps is not None:
        host[pos:pos + maps.nbytes] = maps.view(np.uint8)
        pos += maps.nbytes
    host[pos:pos + chars.nbytes] = chars
    return pos + chars.nbytes


def kernel_source() -> str:
    """The kernel source that every backend compiles, as one string.

    Looked up as package data ``fastrle/kernels/<name>.cuh`` (installed
    wheels), falling back to ``<repo>/csrc/kernels/`` for in-tree use.
    """
    return "\n".join(_read_kernel(name) for name in KERNEL_FILES)


def _read_kernel(name: str) -> str:
    try:
        root = (__package__ or "fastrle.gpu").rsplit(".", 1)[0]  # the top package: fastrle
        ref = importlib.resources.files(root).joinpath("kernels").joinpath(name)  # one part per call before 3.11
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
    All masks must share one size, with ``h*w <= 2**32 - 1`` (the size rules
    are :mod:`fastrle._args`', as for :func:`fastrle.decode`).  Uncompressed counts
    go through the CPU core's validation (:func:`_list_counts`), so they fail
    with the same exception types and messages as :func:`fastrle.decode`.
    """
    items: Sequence[Any]
    if type(rles) is list:  # the common call: no ABC check
        single, items = False, rles
    else:
        single = type(rles) is dict or isinstance(rles, Mapping)
        items = (rles,) if single else rles if isinstance(rles, (list, tuple)) else list(rles)
    fast = _pack_fast(items, single)
    if fast is not None:
        return fast
    try:
        return _pack_checked(items, single)
    except (TypeError, ValueError):
        cpu = cpu_error(items)  # the CPU's checks, in its order: the same mask and message
        if cpu is None:
            raise
        raise cpu from None


def _pack_checked(items: Sequence[Any], single: bool) -> Batch:
    """:func:`pack_rles` for any batch, checking every field on the way."""
    h = w = 0
    first: Any = None  # mask 0's size object: equal sizes skip the slow check
    parts: list[bytes] = []
    append = parts.append
    lists: list[tuple[int, Any]] = []
    for i, r in enumerate(items):
        try:
            size = r["size"]
            counts = r["counts"]
        except (KeyError, TypeError, IndexError):
            raise TypeError(f"mask {i}: expected a dict with 'size' and 'counts'") from None
        if i == 0 or size != first:
            hi, wi = mask_size(size, i)
            if i == 0:
                h, w, first = hi, wi, size
            elif (hi, wi) != (h, w):
                raise differing_size(i, hi, wi, h, w)
        t = type(counts)
        if t is bytes:
            append(counts)
        elif t is str:
            append(counts.encode("utf-8"))
        elif isinstance(counts, (list, tuple, np.ndarray)):
            lists.append((i, counts))
            append(b"")  # filled in below, once every mask's counts are validated
        elif isinstance(counts, (bytes, bytearray, memoryview, str)):
            append(bytes(counts) if not isinstance(counts, str) else counts.encode("utf-8"))
        else:
            raise TypeError(f"mask {i}: counts must be bytes, str or a list of ints")
    check_size(h, w)
    if lists:
        for i, s in _list_counts(lists, h, w, len(parts)):
            parts[i] = s
    lengths = np.fromiter(map(len, parts), dtype=np.int64, count=len(parts))
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    chars = np.frombuffer(b"".join(parts), dtype=np.uint8)
    return Batch(h=h, w=w, single=single, offsets=offsets, chars=chars)


_SIZE = operator.itemgetter("size")
_COUNTS = operator.itemgetter("counts")


_pack_counts: Any
_fill_upload: Any
try:  # compiled: one pass, and one copy, into the upload buffer
    from .._gpupack import fill_upload as _fill_upload, pack_counts as _pack_counts
except ImportError:  # the source tree without its build (the emulator's tests)
    _pack_counts = _fill_upload = None


def _pack_fast(items: Sequence[Any], single: bool) -> Batch | None:
    """:func:`pack_rles` for the common batch: dicts of one size, all counts
    ``str`` (ASCII) or all ``bytes``.  C-level loops only (a few µs for 100
    masks); ``None`` sends anything else to the checking loop."""
    n = len(items)
    if n == 0:
        return None
    if _pack_counts is not None:
        try:
            packed = _pack_counts(items if type(items) is list else list(items))
        except ValueError:  # a str that is not valid UTF-8 (lone surrogates): the checking path says so
            return None
        if packed is None:
            return None
        (h, w), offsets, strings = packed
        if not size_ok(h, w):
            return None
        return Batch(h, w, single, offsets, None, strings)
    try:
        sizes = list(map(_SIZE, items))
        counts = list(map(_COUNTS, items))
    except Exception:
        return None
    first = sizes[0]
    if type(first) is not list or len(first) != 2 or sizes.count(first) != n:
        return None
    h, w = first
    if type(h) is not int or type(w) is not int or not size_ok(h, w):
        return None
    kind = type(counts[0])
    try:  # join takes only its own type (TypeError otherwise); a str subclass is not exact
        if kind is str:
            joined = "".join(counts)
            if not joined.isascii():  # char and byte offsets would differ
                return None
            data = joined.encode()
        elif kind is bytes:
            data = b"".join(counts)
        else:
            return None
    except TypeError:
        return None
    offsets = np.empty(n + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = np.fromiter(itertools.accumulate(map(len, counts)), np.int64, n)
    if offsets[-1] != len(data):  # bytearray, memoryview or a str subclass among them
        return None
    return Batch(h=h, w=w, single=single, offsets=offsets, chars=np.frombuffer(data, dtype=np.uint8))


def _list_counts(lists: list[tuple[int, Any]], h: int, w: int, n: int) -> list[tuple[int, bytes]]:
    """Uncompressed counts (``(index, counts)`` of a batch of ``n`` h x w
    masks) -> compressed strings, checked by the CPU decoder itself.

    ``fastrle._core.sources`` checks types, negative and oversized runs and
    the C core's batch parse checks that each mask's runs sum to h*w, mask by
    mask in index order; the other masks of the batch stand in as one valid
    run so that errors name the batch's own index.  Raises ``TypeError`` or
    ``fastrle.RLEError``.
    """
    from .. import _core  # the built CPU core, as fastrle.decode uses

    size = [h, w]
    filler = {"size": size, "counts": _core.to_string(np.array([h * w], np.uint32))}
    rles = [filler] * n
    for i, c in lists:
        rles[i] = {"size": size, "counts": c}
    src = _core.sources(rles, same_size=False)
    _core.parse(src, True)
    return [(i, _core.to_string(src.keep[i])) for i, _ in lists]  # as_str=False: bytes


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


@dataclass(frozen=True)
class Transform:
    """Resize (nearest / nearest-exact, as ``torch.nn.functional.interpolate``),
    flip and bit order of the output.  Only a resize (or torch's same-size map
    where it is not the identity) and vertical flips need index maps
    (:meth:`mapped`); the bit order and a horizontal flip at the masks' own
    size are flags of the plain kernels."""

    oh: int
    ow: int
    mode: str = "nearest"
    flip: str = ""  # "", "h", "v" or "hv"
    bitorder: str = "big"

    def mapped(self, h: int, w: int) -> bool:
        """Whether h x w masks go through :meth:`maps`: a vertical flip,
        another size, or a same-size map of torch's that is not the identity
        (long sides).  ``"area"`` has its own kernel, without maps."""
        if self.mode == "area":
            return False
        return "v" in self.flip or (self.oh, self.ow) != (h, w) or not _identity_maps(h, w, self.mode)

    def is_identity(self, h: int, w: int) -> bool:
        """The plain decode of h x w masks: no map, no flip, big bit order."""
        return self.mode != "area" and self.bitorder == "big" and not self.flip and not self.mapped(h, w)

    @property
    def dtype(self) -> np.dtype:
        """The output's dtype: float32 for ``"area"`` (a fraction per pixel), else uint8."""
        return np.dtype(np.float32) if self.mode == "area" else np.dtype(np.uint8)

    def maps(self, h: int, w: int) -> np.ndarray:
        """Source row of every output row, source column of every output
        column (flips applied), then for each source row s in 0..h the first
        output row whose source row is >= s (uint32, read-only); computed once
        per (shape, transform) and cached."""
        return _maps(h, w, self.oh, self.ow, self.mode, self.flip)


@functools.lru_cache(maxsize=64)
def _identity_maps(h: int, w: int, mode: str) -> bool:
    # torch's float32 index arithmetic is not the identity on long sides
    return all(np.array_equal(nearest_map(n, n, mode, other_size=o), np.arange(n)) for n, o in ((h, w), (w, h)))


@functools.lru_cache(maxsize=64)
def _maps(h: int, w: int, oh: int, ow: int, mode: str, flip: str) -> np.ndarray:
    rows = nearest_map(h, oh, mode, other_size=ow)  # the C rule, as the CPU
    cols = nearest_map(w, ow, mode, other_size=oh)
    inv = np.searchsorted(rows, np.arange(h + 1), side="left")  # rows is non-decreasing
    if "v" in flip:
        rows = rows[::-1]
    if "h" in flip:
        cols = cols[::-1]
    maps = np.concatenate([rows, cols, inv]).astype(np.uint32)
    maps.flags.writeable = False  # shared by every call of this shape
    return maps


def make_transform(h: int, w: int, size: Any, mode: str, flip: Any, packed: bool,
                   bitorder: str, n: int = 1) -> Transform | None:
    """Validate the transform options with :func:`fastrle._args.transform_args`
    (the CPU's rule: ``n`` masks of h x w); ``None`` for the plain decode.
    Results for arguments of exact built-in types are cached (a bool is not
    taken for an int: ``(True, 3)`` is a TypeError, never ``(1, 3)``'s plan)."""
    if size is None and flip is None and mode == "nearest" and bitorder == "big":
        return None  # the common call: nothing to check
    exact = (type(mode) is str and type(bitorder) is str and type(packed) is bool
             and (flip is None or type(flip) is str)
             and (size is None or type(size) is tuple and len(size) == 2
                  and type(size[0]) is int and type(size[1]) is int))
    if exact:
        return _make_transform(h, w, size, mode, flip, packed, bitorder, n > 0)
    return _make_transform.__wrapped__(h, w, size, mode, flip, packed, bitorder, n)


@functools.lru_cache(maxsize=256)
def _make_transform(h: int, w: int, size: Any, mode: str, flip: Any, packed: bool, bitorder: str,
                    n: int) -> Transform | None:
    # n: a mask count, or whether there is any (all transform_args looks at)
    a = transform_args(h, w, n, size, mode, flip, packed, bitorder)
    flips = ("h" if a.flip_h else "") + ("v" if a.flip_v else "")
    t = Transform(a.oh, a.ow, a.mode, flips, "little" if a.packed and a.little else "big")
    return None if t.is_identity(h, w) else t


#: Bits of the expand kernels' ``flags`` (FASTRLE_FLAG_* in rle_expand.cuh).
MAP_PACKED, MAP_LITTLE, MAP_ROWS_DOWN, MAP_MAPPED, MAP_FLIP_H = 1, 2, 4, 8, 16


def plan_launches(batch: Batch, config: Config, packed: bool,
                  transform: Transform | None = None) -> list[Launch]:
    """Kernel launches for one batch: a parse, then expansions chunked by 65535 masks."""
    return _plan(batch.n, batch.h, batch.w, config, packed, transform)


@functools.lru_cache(maxsize=256)
def _plan(n: int, h: int, w: int, config: Config, packed: bool,
          transform: Transform | None) -> list[Launch]:
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
    block = config.expand_block
    if transform is not None and transform.mode == "area":
        return launches + _plan_area(n, h, w, block, transform)
    oh, ow, flags, maps = h, w, 0, "meta"  # "meta": any valid pointer; maps is not read
    kernel = "fastrle_expand_packed" if packed else "fastrle_expand"
    if transform is not None:
        flags = MAP_LITTLE if packed and transform.bitorder == "little" else 0
    if transform is not None and transform.mapped(h, w):
        oh, ow, maps = transform.oh, transform.ow, "maps"
        if "v" in transform.flip:  # rows walked bottom-up: the per-pixel map kernel
            kernel = "fastrle_expand_map"
            flags |= (MAP_PACKED if packed else 0) | MAP_ROWS_DOWN
        else:
            flags |= MAP_MAPPED
    elif transform is not None and transform.flip == "h":  # own size: the plain kernels, columns reversed
        flags |= MAP_FLIP_H
    if oh * ow == 0:
        return launches
    band = max(config.band_rows, _ceil_div(oh, MAX_GRID_YZ))
    if kernel == "fastrle_expand_map":
        gx, gy = _ceil_div(_ceil_div(ow, 8) if packed else ow, block), _ceil_div(oh, band)
    else:
        band, gx, gy = expand_grid(oh, ow, n, packed, bool(flags & MAP_MAPPED), block, band)
    for base in range(0, n, MAX_GRID_YZ):
        gz = min(MAX_GRID_YZ, n - base)
        args = ("ends", "offs", "meta", "out", maps, h, w, oh, ow, band, flags, base)
        launches.append(Launch(kernel, (gx, gy, gz), (block, 1, 1), args))
    return launches


#: Bits of fastrle_expand_area's ``flags`` (FASTRLE_AREA_* in rle_area.cuh).
AREA_FLIP_H, AREA_FLIP_V = 1, 2


def _plan_area(n: int, h: int, w: int, block: int, t: Transform) -> list[Launch]:
    """``mode="area"``: a thread per output pixel, rows strided over grid y."""
    if t.oh * t.ow == 0:
        return []
    flags = (AREA_FLIP_H if "h" in t.flip else 0) | (AREA_FLIP_V if "v" in t.flip else 0)
    grid_xy = (_ceil_div(t.ow, block), min(t.oh, MAX_GRID_YZ))
    return [Launch("fastrle_expand_area", (*grid_xy, min(MAX_GRID_YZ, n - base)), (block, 1, 1),
                   ("ends", "offs", "meta", "out", h, w, t.oh, t.ow, flags, base))
            for base in range(0, n, MAX_GRID_YZ)]
#: Warps an expand launch keeps at least, where the rows allow: about 4 per
#: scheduler of an H100 (132 SMs x 4), enough to keep its stores streaming.
EXPAND_MIN_WARPS = 2048


def expand_grid(oh: int, ow: int, n: int, packed: bool, mapped: bool, block: int,
                band: int) -> tuple[int, int, int]:
    """(band, grid x, grid y) of ``fastrle_expand(_packed)`` for n masks of
    oh x ow output, bands of at least ``band`` rows.

    A warp walks its band's rows with its run cursors, so bands are as long
    as keeps :data:`EXPAND_MIN_WARPS` warps busy (one cursor search per
    band).  uint8: tile t writes from column 124t - 3 on (row phase), so
    ceil((ow + 3) / 124) tiles.  Packed, resized: tiles of 16 bytes.  Packed,
    identity size (words of bits): tiles of 4 aligned words of ceil(ow / 8)
    + 3 bytes, and grid y = bands x P phase classes (P = 1, 2, 4 as the row's
    bytes are 0, 2, odd mod 4), bands a multiple of 32 P rows.
    """
    wb = _ceil_div(ow, 8)
    period = 1
    if not packed:
        tiles = _ceil_div(ow + 3, TILE_COLS)
    elif mapped:
        tiles = _ceil_div(wb, 16)
    else:
        tiles = _ceil_div(wb + 3, 16)
        period = 1 if wb % 4 == 0 else 2 if wb % 2 == 0 else 4
    unit = TILE_ROWS * period
    band = max(band, _ceil_div(oh, MAX_GRID_YZ // period))
    bands = max(1, min(_ceil_div(EXPAND_MIN_WARPS, tiles * n * period), _ceil_div(oh, band)))
    band = _ceil_div(max(band, _ceil_div(oh, bands)), unit) * unit
    return band, _ceil_div(tiles, block // 32), _ceil_div(oh, band) * period


def cpu_error(rles: Any) -> Exception | None:
    """The exception fastrle's CPU decoder raises for ``rles`` (RLE dicts, or
    a :class:`Batch`), or ``None`` if it accepts them. The GPU's error paths
    raise it, so both name the same mask with the same class, ``reason`` and
    message (the CPU checks masks in index order)."""
    try:
        from .. import _core  # the built CPU core
    except ImportError:  # loaded from the source tree without it (the emulator's tests)
        return None
    try:
        if isinstance(rles, Batch):
            check_size(rles.h, rles.w)
            src = _core.sources_ragged(rles.all_chars(), rles.offsets, rles.h, rles.w)
        else:
            src = _core.sources([rles] if isinstance(rles, Mapping) else list(rles))
            if src.n:  # as fastrle.decode: the size rule, then the counts in index order
                check_size(int(src.heights[0]), int(src.widths[0]))
        _core.parse(src, True)
    except (TypeError, ValueError) as exc:
        return exc
    return None


def status_error(meta: np.ndarray, rles: Any) -> Exception | None:
    """The exception for the parse kernels' status words ``meta`` of a batch
    made from ``rles`` (as :func:`cpu_error` takes them), or ``None`` when
    every mask parsed."""
    meta = np.asarray(meta).reshape(-1, META_STRIDE)
    bad = np.flatnonzero(meta[:, 0] != STATUS_OK)
    if len(bad) == 0:
        return None
    cpu = cpu_error(rles)
    if cpu is not None:
        return cpu
    # no CPU core, or it accepts what the kernels rejected (a bug in one of
    # them): say what the kernels saw, without the C core's run/sum details
    i = int(bad[0])
    code, pos = int(meta[i, 0]), int(meta[i, 2])
    reason = STATUS_REASONS.get(code, "unknown")
    text = STATUSES[code_of(reason)].text if reason in _REASONS else "unknown status"
    detail = f"{text} (GPU parse status {code} at character {pos})"
    return RLEError(f"mask {i}: {detail}", i, reason, detail)


def validate_out(arr: Any, shape: tuple[int, ...], dtype: Any = np.uint8) -> None:
    """Raise unless a caller-provided output array is one that
    :func:`fastrle.decode` takes (:func:`fastrle._args.check_out`: uint8 or
    bool masks, float32 for ``"area"``, the shape, a contiguous last axis,
    other strides free)."""
    if dtype is np.uint8 or np.dtype(dtype) == np.uint8:
        check_out(arr, shape)
    else:
        check_out(arr, shape, (dtype,))


def pack_ragged(data: Any, offsets: Any, h: int, w: int, indices: Any = None) -> Batch:
    """A Batch straight from a ragged table: mask i's counts string is
    ``data[offsets[i]:offsets[i+1]]``. ``indices`` picks and orders masks.
    Already packed, so nothing is copied unless ``indices`` reorders."""
    chars = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.view(np.uint8)
    offs = np.ascontiguousarray(offsets, dtype=np.int64)
    h, w = operator.index(h), operator.index(w)
    if offs.ndim != 1 or len(offs) < 1:
        raise ValueError("offsets must be one-dimensional with at least one entry")
    check_size(h, w)
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


#: ``check=`` values of :func:`decode_with`: wait and raise in the call,
#: never look, or raise at a later call (:func:`check_deferred`).
CHECKS = (True, False, "deferred")

_deferred = threading.local()  # .items: this thread's [(status, rles)], oldest first


def check_deferred(wait: bool = True) -> None:
    """Raise the first error of this thread's earlier ``check="deferred"``
    decodes, then forget that call: an :class:`~fastrle.RLEError` whose
    message starts with ``"deferred check of an earlier call: "``, with the
    mask's index in that call.  ``wait=False`` looks only at statuses that
    have arrived (each decode does that first); ``True`` waits for all."""
    items = getattr(_deferred, "items", None)
    while items:
        status, rles = items[0]
        if not wait and not status.done:
            return
        del items[0]
        error = _status_of(status, rles)
        if isinstance(error, RLEError):
            raise error.with_context("deferred check of an earlier call: ") from None
        if error is not None:
            raise error


def decode_with(
    backend: Any,
    rles: Any,
    out: Any = None,
    *,
    check: bool | str = True,
    packed: bool = False,
    size: Any = None,
    mode: str = "nearest",
    flip: Any = None,
    bitorder: str = "big",
    config: Config | None = None,
) -> Any:
    """Decode ``rles`` (RLE dicts, or a packed :class:`Batch`) on
    ``backend``; see :func:`fastrle.gpu.decode`.

    The backend queues everything on its stream.  The parse runs first and
    its status words are copied to the host behind an event
    (``backend.status_async``).  ``check=True`` waits for that event only:
    with a caller's ``out`` before queueing the expansions (so a malformed
    mask raises the CPU decoder's exception, :func:`status_error`, with
    ``out`` untouched), else after (the expansions run on while the host
    checks).  ``"deferred"`` waits for nothing: a later call or
    :func:`check_deferred` raises.  ``out`` views with padded strides are
    written through a contiguous scratch output and one device copy.
    """
    if check is not True and check is not False:
        if isinstance(check, str):
            if check != "deferred":
                raise ValueError(f"check must be True, False or 'deferred', got {check!r}")
        else:
            check = bool(check)
    deferred = getattr(_deferred, "items", None)
    if deferred:
        check_deferred(wait=False)
    batch = rles if isinstance(rles, Batch) else pack_rles(rles)
    h, w, n = batch.h, batch.w, len(batch.offsets) - 1
    transform = make_transform(h, w, size, mode, flip, packed, bitorder, n)
    if transform is None:
        shape = batch.out_shape(packed)
        result = backend.output(out, shape)
    else:
        ow = _ceil_div(transform.ow, 8) if packed else transform.ow
        shape = (transform.oh, ow) if batch.single else (n, transform.oh, ow)
        result = backend.output(out, shape, transform.dtype)
    if n == 0:
        return result
    maps = transform.maps(h, w) if transform is not None and transform.mapped(h, w) else None
    parse, *expands = _plan(n, h, w, config or _DEFAULT_CONFIG, packed, transform)
    buffers = None
    try:  # the scratch goes back to the backend whatever happens
        buffers = backend.buffers(batch, maps)
        # the kernels write C order; a padded view gets a copy of it
        buffers["out"] = target = (result if out is None or result.flags.c_contiguous
                                   else backend.output(None, shape, result.dtype))
        backend.launch(parse, buffers)
        status = backend.status_async(buffers) if check else None
        if check is True and out is not None:  # validate before expand, as the CPU does
            _raise_status(status, rles)
        for launch in expands:
            backend.launch(launch, buffers)
        if target is not result:
            backend.copy(result, target)
        if check is True and out is None:
            _raise_status(status, rles)
        elif check == "deferred":
            if deferred is None:
                deferred = _deferred.items = []
            deferred.append((status, rles))
    finally:
        backend.release(buffers)
    return result


def _status_of(status: Any, rles: Any) -> Exception | None:
    """Wait for ``status`` (``backend.status_async``); :func:`status_error`."""
    meta = status.wait()  # None: every mask parsed (the backend's one look at the words)
    return None if meta is None else status_error(meta, rles)


def _raise_status(status: Any, rles: Any) -> None:
    error = _status_of(status, rles)
    if error is not None:
        raise error
