"""Build and drive the CPU emulation of fastrle's CUDA kernels (test-only).

``build_emulator()`` compiles the kernel source of this checkout
(``csrc/kernels/``, concatenated as ``fastrle.gpu.launch.kernel_source()``
concatenates it for CuPy, so an edit there is tested without reinstalling) with g++ and the shim in
``cuda_emu.h`` into a shared library, cached by content hash under
``tests/cuda_emu/_build/`` (git-ignored).  ``EmuBackend`` is a backend for
``fastrle.gpu.launch.decode_with``: the same packing, planning, argument typing and
status decoding as the CuPy path, with ctypes launches instead of CuPy ones.
"""

from __future__ import annotations

import ctypes
import hashlib
import importlib
import importlib.machinery
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SRC = REPO / "src"
BUILD = HERE / "_build"

ORDER_NORMAL, ORDER_REVERSED, ORDER_SHUFFLED = 0, 1, 2


def import_fastrle_module(name: str) -> types.ModuleType:
    """Import ``fastrle.<name>`` without needing the compiled CPU core.

    Uses the real package when it imports; otherwise loads ``src/fastrle``
    under a private package name without running its ``__init__``.
    """
    if str(SRC) not in sys.path and (SRC / "fastrle").is_dir():
        sys.path.append(str(SRC))
    try:
        return importlib.import_module(f"fastrle.{name}")
    except ImportError as exc:
        if exc.name and exc.name.startswith(f"fastrle.{name}"):
            raise
    pkg_name = "_fastrle_src_for_gpu_tests"
    if pkg_name not in sys.modules:
        pkg = types.ModuleType(pkg_name)
        pkg.__path__ = [str(SRC / "fastrle")]
        pkg.__spec__ = importlib.machinery.ModuleSpec(pkg_name, None, is_package=True)
        pkg.__spec__.submodule_search_locations = pkg.__path__
        sys.modules[pkg_name] = pkg
    return importlib.import_module(f"{pkg_name}.{name}")


launch_mod = import_fastrle_module("gpu.launch")

_C_TYPES = {
    "unsigned int": "u32",
    "int": "i32",
    "long long": "i64",
    "unsigned long long": "u64",
}
_CTYPES = {
    "u32": ctypes.c_uint32,
    "i32": ctypes.c_int32,
    "i64": ctypes.c_int64,
    "u64": ctypes.c_uint64,
}


def kernel_signatures(source: str) -> dict[str, list[str]]:
    """Parameter C types of every ``extern "C" __global__`` kernel in ``source``."""
    sigs = {}
    bounds = r"(?:__launch_bounds__\s*\([^)]*\)\s*)?"  # between `void` and the name, as CUDA documents
    for m in re.finditer(r'extern\s+"C"\s+__global__\s+void\s+' + bounds + r"(\w+)\s*\(([^)]*)\)", source):
        params = []
        for p in m.group(2).split(","):
            p = " ".join(p.split())
            ctype = re.sub(r"\s*\b\w+$", "", p)  # drop the parameter name
            params.append(ctype.replace(" *", "*"))
        sigs[m.group(1)] = params
    return sigs


def type_code(ctype: str) -> str:
    """Map a kernel parameter's C type to a ``fastrle.gpu.launch.KERNEL_ARGS`` code."""
    if "*" in ctype:
        return "p"
    return _C_TYPES[ctype.replace("const ", "")]


def _trampolines(sigs: dict[str, list[str]]) -> str:
    lines = []
    for name, params in sigs.items():
        args = ", ".join(f"*static_cast<{t}*>(a[{i}])" for i, t in enumerate(params))
        lines.append(f"static void emu_{name}(void** a) {{ {name}({args}); }}")
    table = ",\n".join(f'    {{"{n}", emu_{n}}}' for n in sigs)
    lines.append(f"static const EmuKernel kEmuKernels[] = {{\n{table}\n}};")
    return "\n".join(lines) + "\n"


def kernel_source() -> str:
    """The kernels of the source tree, in ``launch_mod.KERNEL_FILES`` order."""
    kdir = REPO / "csrc" / "kernels"
    if not kdir.is_dir():  # tests run outside a checkout: the installed copy
        return launch_mod.kernel_source()
    return "\n".join((kdir / name).read_text(encoding="utf-8") for name in launch_mod.KERNEL_FILES)


#: Environment variable that :func:`run_sanitized` sets for its child: the
#: ``-fsanitize=`` list that :func:`build_sanitized` compiles with.
SANITIZERS_ENV = "FASTRLE_EMU_SANITIZERS"


def run_sanitized(script: str, timeout: float = 900) -> subprocess.CompletedProcess[str] | None:
    """Run the Python ``script`` in a child process set up for the sanitizers:
    UBSan always, ASan too when g++'s libasan can be preloaded (python itself
    is not instrumented), both aborting at the first report.  The script
    builds its emulator with :func:`build_sanitized`.  ``None`` without g++."""
    gxx = shutil.which(os.environ.get("CXX", "g++"))
    if gxx is None:
        return None
    env = dict(os.environ, UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1",
               ASAN_OPTIONS="detect_leaks=0:detect_stack_use_after_return=0")
    libasan = subprocess.run([gxx, "-print-file-name=libasan.so"], capture_output=True, text=True).stdout.strip()
    env[SANITIZERS_ENV] = "undefined"
    if os.path.isabs(libasan) and os.path.exists(libasan):
        env[SANITIZERS_ENV] = "address,undefined"
        env["LD_PRELOAD"] = libasan
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=timeout)


def build_sanitized() -> ctypes.CDLL:
    """The emulator built with the sanitizers that :func:`run_sanitized` chose
    (UBSan alone outside it), aborting on the first report."""
    sanitizers = os.environ.get(SANITIZERS_ENV, "undefined")
    return build_emulator(extra_flags=(f"-fsanitize={sanitizers}", "-fno-sanitize-recover=all",
                                       "-fno-sanitize=vptr", "-fno-omit-frame-pointer"))


def build_emulator(extra_flags: tuple[str, ...] = (), source: str | None = None) -> ctypes.CDLL:
    """Compile the kernels (fastrle's by default) + shim with g++ (cached) and load them."""
    cxx = shutil.which(os.environ.get("CXX", "g++"))
    if cxx is None:
        raise FileNotFoundError("g++ not found")
    source = kernel_source() if source is None else source
    inc = _trampolines(kernel_signatures(source))
    flags = ["-std=c++17", "-O2", "-g", "-fPIC", "-shared", "-Wall", "-Wno-unknown-pragmas",
             "-U_FORTIFY_SOURCE", *extra_flags]
    shim = (HERE / "cuda_emu.h").read_bytes() + (HERE / "emu_glue.cpp").read_bytes()
    key = hashlib.sha256(source.encode() + inc.encode() + shim + " ".join(flags).encode()).hexdigest()[:16]
    out_dir = BUILD / key
    lib_path = out_dir / "libfastrle_emu.so"
    if not lib_path.exists():
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "fastrle_kernels.cuh").write_text(source)
        (out_dir / "emu_kernels.inc").write_text(inc)
        tmp = out_dir / f"libfastrle_emu.{os.getpid()}.so"
        cmd = [cxx, *flags, f"-I{HERE}", f"-I{out_dir}", str(HERE / "emu_glue.cpp"), "-o", str(tmp)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(f"emulator build failed:\n{' '.join(cmd)}\n{res.stderr}")
        os.replace(tmp, lib_path)
    lib = ctypes.CDLL(str(lib_path))
    lib.emu_launch.restype = ctypes.c_int
    lib.emu_launch.argtypes = [ctypes.c_char_p] + [ctypes.c_uint] * 6 + [
        ctypes.c_ulonglong, ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_uint]
    lib.emu_last_error.restype = ctypes.c_char_p
    lib.emu_set_block_window.restype = None
    lib.emu_set_block_window.argtypes = [ctypes.c_uint, ctypes.c_uint]
    lib.emu_set_block_window_y.restype = None
    lib.emu_set_block_window_y.argtypes = [ctypes.c_uint, ctypes.c_uint]
    return lib


class EmuError(RuntimeError):
    """A launch the emulator refused or a detected out-of-bounds write."""


class EmuBackend:
    """``fastrle.gpu.launch`` backend on the CPU emulator.

    Buffers are numpy arrays.  Scratch and freshly allocated outputs start as
    garbage (0xCD) with canary guards on both sides, checked after each launch,
    so unwritten pixels and nearby out-of-bounds writes show up.
    """

    GUARD = 64
    CANARY = 0xA5

    def __init__(self, lib: ctypes.CDLL, order: int = ORDER_NORMAL, seed: int = 0):
        self.lib = lib
        self.order = order
        self.seed = seed
        self.launches: list[Any] = []
        self.last_buffers: dict[str, np.ndarray] = {}  # those of the last launch, for inspection
        self._guarded: list[np.ndarray] = []

    def _alloc(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        raw = np.full(nbytes + 2 * self.GUARD, self.CANARY, dtype=np.uint8)
        raw[self.GUARD:self.GUARD + nbytes] = 0xCD
        self._guarded.append(raw)
        return raw[self.GUARD:self.GUARD + nbytes].view(dtype).reshape(shape)

    def output(self, out: Any, shape: tuple[int, ...], dtype: Any = np.uint8) -> np.ndarray:
        if out is None:
            return self._alloc(shape, dtype)
        launch_mod.validate_out(out, shape, dtype)
        return out

    def buffers(self, batch: Any, maps: Any) -> dict[str, np.ndarray]:
        """One garbage-filled scratch buffer carved as ``fastrle.gpu`` carves its
        own (``launch_mod.scratch_layout``), with the upload copied in."""
        nmaps = 0 if maps is None else len(maps)
        total, upload, layout = launch_mod.scratch_layout(batch.n, batch.nchars, nmaps)
        raw = self._alloc((total,), np.uint8)
        host = np.empty(upload, np.uint8)
        assert launch_mod.fill_upload(host, batch, maps) == len(host)
        raw[:len(host)] = host
        return {name: raw[o:o + np.dtype(dt).itemsize * count].view(dt)
                for name, (o, count, dt) in layout.items()}

    def status(self, buffers: dict[str, np.ndarray]) -> np.ndarray:
        return buffers["meta"].copy()

    def status_async(self, buffers: dict[str, np.ndarray]) -> Any:
        """The status words as they are now (launches run synchronously here);
        ``wait()`` gives None when every mask's status word is 0."""
        self.status_reads = getattr(self, "status_reads", 0) + 1
        words = buffers["meta"].copy()
        result = words if words[::launch_mod.META_STRIDE].any() else None
        return types.SimpleNamespace(done=True, wait=lambda: result)

    def copy(self, dst: np.ndarray, src: np.ndarray) -> None:
        self.copies = getattr(self, "copies", 0) + 1
        np.copyto(dst, src, casting="unsafe")

    def release(self, buffers: Any) -> None:
        pass

    def launch(self, launch: Any, buffers: dict[str, np.ndarray]) -> None:
        self.launches.append(launch)
        self.last_buffers = buffers
        holders = []
        for code, value in launch.typed_args():
            if code == "p":
                holders.append(ctypes.c_void_p(buffers[value].ctypes.data))
            else:
                holders.append(_CTYPES[code](value))
        params = (ctypes.c_void_p * len(holders))(*[ctypes.addressof(h) for h in holders])
        rc = self.lib.emu_launch(launch.kernel.encode(), *launch.grid, *launch.block,
                                 launch.shared_mem, params, self.order, self.seed)
        if rc != 0:
            raise EmuError(self.lib.emu_last_error().decode())
        for raw in self._guarded:
            g = self.GUARD
            if (raw[:g] != self.CANARY).any() or (raw[-g:] != self.CANARY).any():
                raise EmuError(f"{launch.kernel}: write outside a buffer (guard overwritten)")
