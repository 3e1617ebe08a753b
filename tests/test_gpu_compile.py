"""Build checks for the CUDA kernel source, no GPU needed.

nvcc compiles the exact source CuPy gets for every supported architecture
and ptxas reports registers and spills; NVRTC (the compiler CuPy uses) is
checked too when cuda-bindings and nvidia-cuda-nvrtc are installed.  Also
checks that the host launch code agrees with the kernel source.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cuda_emu.emu import import_fastrle_module, kernel_signatures, launch_mod, type_code

gpu_sass = import_fastrle_module("bench.gpu_sass")
parse_ptxas = gpu_sass.parse_ptxas

ARCHS = ["sm_75", "sm_80", "sm_86", "sm_89", "sm_90", "sm_120"]
KERNELS_DIR = Path(__file__).resolve().parents[1] / "csrc" / "kernels"


def _nvcc() -> str | None:
    return shutil.which("nvcc") or next(
        (p for p in ("/usr/local/cuda/bin/nvcc", "/usr/local/bin/nvcc") if Path(p).exists()), None)


def _check_report(arch: str, info: dict[str, dict[str, int]]) -> None:
    assert set(info) == set(launch_mod.KERNEL_ARGS), info
    for name, r in sorted(info.items()):
        print(f"{arch} {name}: {r['registers']} registers, {r['stack']} B stack, "
              f"{r['spill_stores']}/{r['spill_loads']} B spill stores/loads")
        assert r["spill_stores"] == 0 and r["spill_loads"] == 0, (arch, name, r)
        assert r["stack"] == 0, (arch, name, r)
        # issue 21, finding 3: every block size Config allows must launch
        limit = launch_mod.max_block(name)
        assert limit is not None and gpu_sass.threads_that_fit(r["registers"]) >= limit, (arch, name, r)


@pytest.fixture(scope="module")
def source_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kernels") / "fastrle_kernels.cu"
    path.write_text(launch_mod.kernel_source())
    return path


@pytest.mark.parametrize("arch", ARCHS)
def test_nvcc_compiles_without_spills(arch: str, source_file: Path) -> None:
    nvcc = _nvcc()
    if nvcc is None:
        pytest.skip("nvcc not found")
    cubin = source_file.with_suffix(f".{arch}.cubin")
    cmd = [nvcc, "-cubin", f"-arch={arch}", "-Xptxas", "-v", "--Werror", "all-warnings",
           "-o", str(cubin), str(source_file)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    _check_report(arch, parse_ptxas(res.stdout + res.stderr))


@pytest.mark.parametrize("arch", ["sm_75", "sm_90", "sm_120"])
def test_nvrtc_compiles_without_spills(arch: str) -> None:
    nvrtc = pytest.importorskip("cuda.bindings.nvrtc", reason="cuda-bindings not installed")
    try:
        err, prog = nvrtc.nvrtcCreateProgram(launch_mod.kernel_source().encode(), b"fastrle.cu", 0, [], [])
    except Exception as exc:  # the NVRTC shared library itself is missing
        pytest.skip(f"NVRTC not available: {exc}")
    assert err == nvrtc.nvrtcResult.NVRTC_SUCCESS
    opts = [f"--gpu-architecture={arch}".encode(), b"--ptxas-options=-v"]
    (err,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
    _, size = nvrtc.nvrtcGetProgramLogSize(prog)
    log = b" " * size
    nvrtc.nvrtcGetProgramLog(prog, log)
    log_text = log.decode(errors="replace")
    nvrtc.nvrtcDestroyProgram(prog)
    assert err == nvrtc.nvrtcResult.NVRTC_SUCCESS, log_text
    _check_report(f"nvrtc {arch}", parse_ptxas(log_text))


def test_kernel_files_follow_source_rules() -> None:
    for name in launch_mod.KERNEL_FILES:
        text = (KERNELS_DIR / name).read_text()
        assert not re.search(r"^\s*#\s*include", text, re.M), f"{name} must not #include"
        assert "__shared__" not in text or "FASTRLE_DYN_SMEM" in text, name


def test_launch_signatures_match_kernels() -> None:
    sigs = kernel_signatures(launch_mod.kernel_source())
    assert {k: tuple(type_code(t) for t in v) for k, v in sigs.items()} == launch_mod.KERNEL_ARGS


def test_constants_match_kernels() -> None:
    src = launch_mod.kernel_source()
    defines = {m.group(1): int(m.group(2)) for m in re.finditer(r"#define (FASTRLE_\w+) (\d+)", src)}
    codes = {v: k for k, v in defines.items() if k.startswith("FASTRLE_ST_")}
    assert codes[0] == "FASTRLE_ST_OK"
    assert set(codes) - {0} == set(launch_mod.STATUS_REASONS)
    assert defines["FASTRLE_META_STRIDE"] == launch_mod.META_STRIDE
    flags = {k: v for k, v in defines.items() if k.startswith("FASTRLE_FLAG_")}
    assert flags == {"FASTRLE_FLAG_PACKED": launch_mod.MAP_PACKED, "FASTRLE_FLAG_LITTLE": launch_mod.MAP_LITTLE,
                     "FASTRLE_FLAG_ROWS_DOWN": launch_mod.MAP_ROWS_DOWN,
                     "FASTRLE_FLAG_MAPPED": launch_mod.MAP_MAPPED, "FASTRLE_FLAG_FLIP_H": launch_mod.MAP_FLIP_H}
    assert defines["FASTRLE_TILE_GROUPS"] == launch_mod.TILE_GROUPS
    assert defines["FASTRLE_TILE_ROWS"] == launch_mod.TILE_ROWS


def test_threads_that_fit_the_register_file() -> None:
    # the figures: fastrle_parse_warp's 168 registers on sm_90 and 186 on sm_80
    assert gpu_sass.threads_that_fit(168) == 384
    assert gpu_sass.threads_that_fit(186) == 320
    assert gpu_sass.threads_that_fit(255) == 256
    assert gpu_sass.threads_that_fit(64) == 1024 and gpu_sass.threads_that_fit(48) == 1024
    assert gpu_sass.threads_that_fit(65) == 896  # 72 registers a thread, in units of 8


def test_parse_block_limit_is_the_kernels_launch_bounds() -> None:
    src = launch_mod.kernel_source()
    (limit,) = re.findall(r"#define FASTRLE_PARSE_MAX_BLOCK (\d+)", src)
    assert int(limit) == launch_mod.PARSE_MAX_BLOCK
    for name in ("fastrle_parse_warp", "fastrle_parse_serial"):
        assert re.search(r"__launch_bounds__\(FASTRLE_PARSE_MAX_BLOCK\)\s+" + name + r"\(", src), name
        assert launch_mod.max_block(name) == launch_mod.PARSE_MAX_BLOCK
    launch_mod.Config(parse_block=launch_mod.PARSE_MAX_BLOCK)
    for bad in (launch_mod.PARSE_MAX_BLOCK + 32, 384, 1024):
        with pytest.raises(ValueError, match="parse_block"):
            launch_mod.Config(parse_block=bad)
    launch_mod.Config(expand_block=launch_mod.EXPAND_MAX_BLOCK)
    with pytest.raises(ValueError, match="expand_block"):
        launch_mod.Config(expand_block=launch_mod.EXPAND_MAX_BLOCK + 32)
