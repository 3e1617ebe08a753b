"""One argument rule for the CPU and the GPU path (fastrle._args).

``fastrle.decode`` (CPU) and the GPU host code (``fastrle.gpu.launch.decode_with``
on the CUDA emulator in tests/cuda_emu, the code ``fastrle.gpu.decode`` runs)
get the same table of arguments. Every expected outcome below is written by
hand: the exception class and the exact message, or "ok" with the output
shape. Both paths must match the table, so they match each other.
"""
from __future__ import annotations

import ast
import io
import re
import shutil
import sys
import tokenize
from pathlib import Path

import numpy as np
import pytest

import fastrle

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cuda_emu import emu

L = emu.launch_mod

# Two 4x5 masks (input only: the expected outcomes below do not come from fastrle).
_M = np.zeros((2, 4, 5), np.uint8)
_M[1, 1:3, 2:] = 1
RLES = fastrle.encode(_M)
Z = RLES[0]["counts"]
FLIP_MSG = "flip must be None, 'h', 'v' or 'hv', got {}"
PAIR_MSG = "size must be a pair of ints (height, width), got {}"
LAST_AXIS_MSG = ("out must be C-contiguous along its last axis (a stride of one element there; "
                 "other strides are free)")


def _ro() -> np.ndarray:
    a = np.zeros((2, 4, 5), np.uint8)
    a.flags.writeable = False
    return a


OK = "ok"
# (id, decode keyword arguments, expected: ("ok", shape) or (class, exact message))
TABLE = [
    ("plain", {}, (OK, (2, 4, 5))),
    ("size-ok", dict(size=(3, 2)), (OK, (2, 3, 2))),
    ("size-list-npint", dict(size=[np.int64(7), 1]), (OK, (2, 7, 1))),
    ("size-0", dict(size=(0, 5)), (ValueError, "size[0] must be positive, got 0")),
    ("size-w0", dict(size=(4, 0), packed=True), (ValueError, "size[1] must be positive, got 0")),
    ("size-neg", dict(size=(-1, 3)), (ValueError, "size[0] must be positive, got -1")),
    ("size-float", dict(size=(2.5, 3)), (TypeError, "size[0] must be an int, got 2.5")),
    ("size-bool", dict(size=(True, 3)), (TypeError, "size[0] must be an int, got True")),
    ("size-2^32", dict(size=(2**32, 1)), (ValueError, "size[0] 4294967296 exceeds 2^32-1")),
    ("size-pixels", dict(size=(2**16, 2**16 + 1)),
     (ValueError, "size 65536x65537 has more than 2^32-1 pixels")),
    ("size-one", dict(size=(3,)), (TypeError, PAIR_MSG.format("(3,)"))),
    ("size-str", dict(size="ab"), (TypeError, PAIR_MSG.format("'ab'"))),
    ("flip-h", dict(flip="h"), (OK, (2, 4, 5))),
    ("flip-hv", dict(flip="hv", size=(3, 3)), (OK, (2, 3, 3))),
    ("flip-vh", dict(flip="vh"), (ValueError, FLIP_MSG.format("'vh'"))),
    ("flip-empty", dict(flip=""), (ValueError, FLIP_MSG.format("''"))),
    ("flip-x", dict(flip="x"), (ValueError, FLIP_MSG.format("'x'"))),
    ("flip-list", dict(flip=["h"]), (ValueError, FLIP_MSG.format("['h']"))),
    ("mode-exact", dict(mode="nearest-exact", size=(7, 3)), (OK, (2, 7, 3))),
    ("mode-bad", dict(mode="bilinear"),
     (ValueError, "mode must be one of ('nearest', 'nearest-exact', 'area'), got 'bilinear'")),
    ("mode-area-packed", dict(mode="area", packed=True),
     (ValueError, "packed=True needs binary output: use mode 'nearest' or 'nearest-exact', not 'area'")),
    ("mode-area-up", dict(mode="area", size=(8, 10)),
     (ValueError, "mode='area' only downscales: size 8x10 is larger than the masks' 4x5 on some side; "
                  "use mode='nearest' to upscale")),
    ("bitorder-bad", dict(bitorder="middle"), (ValueError, "bitorder must be 'big' or 'little', got 'middle'")),
    ("bitorder-bad-packed", dict(bitorder="middle", packed=True),
     (ValueError, "bitorder must be 'big' or 'little', got 'middle'")),
    ("bitorder-none", dict(bitorder=None), (ValueError, "bitorder must be 'big' or 'little', got None")),
    ("bitorder-little", dict(bitorder="little"), (OK, (2, 4, 5))),
    ("packed-little", dict(packed=True, bitorder="little", size=(3, 9)), (OK, (2, 3, 2))),
    ("out-ok", dict(out=np.zeros((2, 4, 5), np.uint8)), (OK, (2, 4, 5))),
    ("out-bool", dict(out=np.zeros((2, 4, 5), np.bool_)), (OK, (2, 4, 5))),
    ("out-packed", dict(out=np.zeros((2, 3, 1), np.uint8), size=(3, 3), packed=True), (OK, (2, 3, 1))),
    ("out-dtype", dict(out=np.zeros((2, 4, 5), np.int32)),
     (TypeError, "out must have dtype uint8 or bool, got int32")),
    ("out-shape", dict(out=np.zeros((2, 5, 4), np.uint8)),
     (ValueError, "out has shape (2, 5, 4), expected (2, 4, 5)")),
    ("out-shape-size", dict(out=np.zeros((2, 4, 5), np.uint8), size=(3, 3)),
     (ValueError, "out has shape (2, 4, 5), expected (2, 3, 3)")),
    ("out-transposed", dict(out=np.zeros((2, 5, 4), np.uint8).transpose(0, 2, 1)), (ValueError, LAST_AXIS_MSG)),
    ("out-readonly", dict(out=_ro()), (ValueError, "out is read-only")),
]

# Two CPU capabilities the GPU once lacked (NotImplementedError) and takes
# since issue 21: both paths decode them, to the same values.
GPU_LACKS = [
    ("mode-area", dict(mode="area", size=(2, 5)), (2, 2, 5),
     "fastrle.gpu.decode does not support mode='area' yet; use fastrle.decode (the CPU) for area resizing"),
    ("out-padded", dict(out=np.zeros((2, 6, 8), np.uint8)[:, :4, :5]), (2, 4, 5),
     "fastrle.gpu.decode needs a C-contiguous out: views with other strides (such as buf[:, :H, :W]) "
     "are not supported there yet"),
]

# RLE size fields (masks given to decode), by hand.
SIZES = [
    ("mask-float-integral", [{"size": [4.0, 5], "counts": Z}], (OK, (1, 4, 5))),
    ("mask-float", [{"size": [2.5, 3], "counts": "0"}],
     (TypeError, "mask 0: size[height] must be an integer, got 2.5")),
    ("mask-neg", [{"size": [-1, 3], "counts": "0"}], (ValueError, "mask 0: size has a negative height: -1")),
    ("mask-2^32", [{"size": [1, 2**32], "counts": "0"}], (ValueError, "mask 0: size width 4294967296 exceeds 2^32-1")),
    ("mask-pixels", [{"size": [2**16, 2**16 + 1], "counts": "0"}],
     (ValueError, "mask size 65536x65537 has more than 2^32-1 pixels, the most a uint32 run can hold")),
    ("mask-one-side", [{"size": [3], "counts": "0"}], (ValueError, "mask 0: 'size' must be [height, width], got [3]")),
    ("mask-differs", [RLES[0], {"size": [5, 4], "counts": Z}],
     (ValueError, "mask 1: size [5, 4] differs from mask 0's size [4, 5]; all masks in one call must have "
                  "the same size")),
]


@pytest.fixture(scope="module")
def lib():
    if shutil.which("g++") is None:
        pytest.skip("g++ not found")
    return emu.build_emulator()


def _copy(kw: dict) -> dict:
    """Fresh out buffers per call (the table's arrays are shared)."""
    kw = dict(kw)
    if isinstance(kw.get("out"), np.ndarray):
        base = kw["out"]
        if base.flags.writeable and base.flags.c_contiguous:
            kw["out"] = base.copy()
    return kw


def _outcome(fn):
    try:
        res = fn()
    except Exception as e:  # the class is what is compared
        return type(e), str(e)
    return OK, tuple(np.asarray(res).shape)


def cpu(rles, **kw):
    return fastrle.decode(rles, **kw)


def gpu(lib, rles, **kw):
    return L.decode_with(emu.EmuBackend(lib), rles, **kw)


@pytest.mark.parametrize("name,kw,want", TABLE, ids=[t[0] for t in TABLE])
def test_cpu_and_gpu_follow_one_table(lib, name, kw, want):
    got_cpu = _outcome(lambda: cpu(RLES, **_copy(kw)))
    got_gpu = _outcome(lambda: gpu(lib, RLES, **_copy(kw)))
    assert got_cpu == want, "CPU"
    assert got_gpu == want, "GPU"


@pytest.mark.parametrize("name,rles,want", SIZES, ids=[t[0] for t in SIZES])
def test_mask_sizes_one_rule(lib, name, rles, want):
    assert _outcome(lambda: cpu(rles)) == want, "CPU"
    assert _outcome(lambda: gpu(lib, rles)) == want, "GPU"


@pytest.mark.parametrize("name,kw,shape,msg", GPU_LACKS, ids=[t[0] for t in GPU_LACKS])
def test_gpu_takes_what_it_lacked(lib, name, kw, shape, msg):
    assert _outcome(lambda: cpu(RLES, **_copy(kw))) == (OK, shape)
    assert _outcome(lambda: gpu(lib, RLES, **_copy(kw))) == (OK, shape)
    kw_cpu, kw_gpu = _copy(kw), _copy(kw)
    if "out" in kw:  # fresh padded buffers, compared whole (the padding too)
        kw_cpu["out"] = np.full((2, 6, 8), 3, np.uint8)[:, :4, :5]
        kw_gpu["out"] = np.full((2, 6, 8), 3, np.uint8)[:, :4, :5]
    np.testing.assert_array_equal(gpu(lib, RLES, **kw_gpu), cpu(RLES, **kw_cpu))
    if "out" in kw:
        np.testing.assert_array_equal(kw_gpu["out"].base, kw_cpu["out"].base)


def test_ragged_sizes_one_rule():
    """decode_ragged's h, w: the same check on both paths (no emulator needed:
    the GPU checks them while packing)."""
    data, offs = b"0", [0, 1]
    want = (ValueError, "mask size 65536x65537 has more than 2^32-1 pixels, the most a uint32 run can hold")
    assert _outcome(lambda: fastrle.decode_ragged(data, offs, 2**16, 2**16 + 1)) == want
    assert _outcome(lambda: L.pack_ragged(data, offs, 2**16, 2**16 + 1)) == want
    want = (ValueError, "mask size -1x3 is negative")
    assert _outcome(lambda: fastrle.decode_ragged(data, offs, -1, 3)) == want
    assert _outcome(lambda: L.pack_ragged(data, offs, -1, 3)) == want
    want = (TypeError, "'float' object cannot be interpreted as an integer")
    assert _outcome(lambda: fastrle.decode_ragged(data, offs, 2.0, 3)) == want
    assert _outcome(lambda: L.pack_ragged(data, offs, 2.0, 3)) == want


def test_gpu_values_match_cpu(lib):
    """The accepted arguments decode to the same bytes on both paths."""
    rng = np.random.default_rng(5)
    masks = (rng.random((3, 9, 11)) < 0.4).astype(np.uint8)
    rles = fastrle.encode(masks)
    for kw in [dict(size=(5, 17), flip="hv"), dict(size=(4, 4), mode="nearest-exact", packed=True,
                                                   bitorder="little"), dict(flip="v"), dict(bitorder="little")]:
        np.testing.assert_array_equal(gpu(lib, rles, **kw), cpu(rles, **kw), err_msg=str(kw))


# ------------------------------------------------------------ thread policy


def test_resolve_threads_edges():
    from fastrle import _args

    below, at = _args.THREAD_MIN_BYTES - 1, _args.THREAD_MIN_BYTES
    assert _args.THREAD_MIN_BYTES == 8 << 20 and _args.THREAD_MIN_CHARS == 1 << 20
    assert _args.resolve_threads(None, 0) == 1
    assert _args.resolve_threads(None, below) == 1
    assert _args.resolve_threads(None, at) == 0 == _args.ALL_CPUS  # the C runner counts the CPUs
    assert _args.resolve_threads(3, 0) == 3 and _args.resolve_threads(3, at) == 3
    for v in (np.int64(5), np.int32(5), np.uint8(5)):
        assert _args.resolve_threads(v, 0) == 5 and type(_args.resolve_threads(v, 0)) is int
    assert _args.resolve_threads(2**31 - 1, 0) == 2**31 - 1
    assert _args.resolve_threads(2**31, 0) == 2**31 - 1  # kept in C int range, no policy cap
    assert _args.resolve_threads(10**30, 0) == 2**31 - 1
    for bad, exc, msg in [(True, TypeError, "threads must be a positive int or None, got True"),
                          (np.bool_(True), TypeError,
                           f"threads must be a positive int or None, got {np.bool_(True)!r}"),
                          (2.0, TypeError, "threads must be a positive int or None, got 2.0"),
                          ("2", TypeError, "threads must be a positive int or None, got '2'"),
                          (0, ValueError, "threads must be >= 1, got 0"),
                          (-3, ValueError, "threads must be >= 1, got -3"),
                          (np.int64(0), ValueError, "threads must be >= 1, got 0")]:
        with pytest.raises(exc) as e:
            _args.resolve_threads(bad, 0)
        assert str(e.value) == msg


@pytest.mark.parametrize("threads", [0, -1, True])
def test_bad_threads_rejected_everywhere(threads):
    ms = np.zeros((1, 3, 4), np.uint8)
    rles = fastrle.encode(ms)
    exc = TypeError if threads is True else ValueError
    for call in (lambda: fastrle.decode(rles, threads=threads),
                 lambda: fastrle.decode(rles, size=(2, 2), threads=threads),
                 lambda: fastrle.encode(ms, threads=threads),
                 lambda: fastrle.roi_align(rles, [[0, 0, 2, 2]], 2, threads=threads)):
        with pytest.raises(exc, match="threads"):
            call()


def test_size_rule_edges():
    from fastrle import _args

    assert _args.MAX_PIXELS == 4294967295
    for h, w in [(0, 0), (0, 2**32 - 1), (2**32 - 1, 1), (65535, 65537), (1, 1)]:
        _args.check_size(h, w)
        assert _args.size_ok(h, w)
    for h, w in [(2**32, 0), (0, 2**32), (65536, 65536), (-1, 1), (1, -1), (2**31, 3)]:
        with pytest.raises(ValueError):
            _args.check_size(h, w)
        assert not _args.size_ok(h, w)


# ------------------------------------------------------------ one home


SRC = Path(fastrle.__file__).resolve().parent
# the compiled glue modules (their .pyi stubs ship with the package; the .pyx only in the
# source tree) and the private-by-name pure modules
COMPILED = {p.stem for p in SRC.glob("_*.pyi")} | {"_pyrle", "_args"}


def test_no_module_imports_another_modules_underscore_names():
    """At any level, function bodies included; importing a module whose name
    starts with an underscore (the compiled glue, fastrle._args) is fine."""
    found = set()
    for p in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                mod = (node.module or "").split(".")
                for a in node.names:
                    if a.name.startswith("_") and not a.name.startswith("__") and a.name not in COMPILED:
                        found.add((".".join(m for m in mod if m), a.name, str(p.relative_to(SRC))))
    assert not found, sorted(found)


def test_transforms_does_not_import_api():
    """The hidden circle: api imports transforms, which imported api inside functions."""
    tree = ast.parse((SRC / "transforms.py").read_text(encoding="utf-8"))
    mods = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert "api" not in mods


def _code_lines(p: Path):
    """(line number, code) of a source file, strings and comments left out."""
    text = p.read_text(encoding="utf-8")
    if p.suffix == ".py":
        toks = [t for t in tokenize.generate_tokens(io.StringIO(text).readline)
                if t.type not in (tokenize.STRING, tokenize.COMMENT)]
        lines: dict = {}
        for t in toks:
            lines.setdefault(t.start[0], []).append(t.string)
        return [(i, " ".join(v)) for i, v in lines.items()]
    return [(i, re.sub(r"(f?\"[^\"]*\"|f?'[^']*')", "", line.split("#")[0]))
            for i, line in enumerate(text.splitlines(), 1)]


def test_the_limit_is_written_once():
    """2^32-1 (or 2^32) as a number appears in fastrle._args only, in the
    Python and Cython code (docstrings and messages may say it)."""
    pat = re.compile(r"0x[fF]{8}\b|\b2\s*\*\*\s*32\b|1\s*<<\s*32\b|4294967295|4294967296")
    hits = [f"{p.name}:{i}" for p in list(SRC.rglob("*.py")) + list(SRC.glob("*.pyx"))
            if p.name != "_args.py" and "bench" not in p.parts
            for i, code in _code_lines(p) if pat.search(code)]
    assert hits == []
