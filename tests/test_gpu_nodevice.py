"""fastrle.gpu without a GPU: lazy import, clear GPUUnavailableError, no CUDA tracebacks."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
from cuda_emu.emu import import_fastrle_module  # noqa: E402

gpu = import_fastrle_module("gpu.api")
RLE = {"size": [2, 2], "counts": b"04"}


def test_import_does_not_touch_cuda():
    code = (f"import sys; sys.path.insert(0, {str(TESTS)!r}); "
            "from cuda_emu.emu import import_fastrle_module; import_fastrle_module('gpu.api'); "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('cupy', 'cupy_backends', 'cuda', 'torch')]; "
            "assert not bad, bad")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_error_class():
    assert issubclass(gpu.GPUUnavailableError, RuntimeError)


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(gpu, "_device_ok", False)
    return monkeypatch


def test_cupy_missing(fresh):
    fresh.setitem(sys.modules, "cupy", None)  # makes `import cupy` raise ImportError
    with pytest.raises(gpu.GPUUnavailableError, match="CuPy.*not installed.*fastrle\\[gpu\\]") as info:
        gpu.decode([RLE])
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert gpu.available() is False


class FakeCUDARuntimeError(RuntimeError):
    def __init__(self, status: int, msg: str):
        super().__init__(msg)
        self.status = status


def fake_cupy(count=None, status=None, driver=13000, runtime=13000):
    def get_device_count():
        if status is not None:
            raise FakeCUDARuntimeError(status, f"cudaError {status}")
        return count

    rt = types.SimpleNamespace(getDeviceCount=get_device_count, driverGetVersion=lambda: driver,
                               runtimeGetVersion=lambda: runtime, CUDARuntimeError=FakeCUDARuntimeError)
    return types.SimpleNamespace(cuda=types.SimpleNamespace(runtime=rt))


@pytest.mark.parametrize("kwargs,message", [
    (dict(status=35, driver=0), "no NVIDIA driver"),
    (dict(status=35, driver=12040, runtime=13000), "driver \\(CUDA 12.4\\) is too old .*CUDA 13.0"),
    (dict(status=100), "no CUDA device"),
    (dict(count=0), "no CUDA device"),
    (dict(status=999), "CUDA is not usable"),
])
def test_missing_driver_or_device(fresh, kwargs, message):
    fresh.setitem(sys.modules, "cupy", fake_cupy(**kwargs))
    with pytest.raises(gpu.GPUUnavailableError, match=message) as info:
        gpu.decode([RLE])
    exc = info.value
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)
    assert gpu.available() is False


def test_real_cupy_without_gpu(fresh):
    cupy = pytest.importorskip("cupy", reason="CuPy not installed")
    if cupy.cuda.is_available():
        pytest.skip("a GPU is available")
    with pytest.raises(gpu.GPUUnavailableError, match="driver|device") as info:
        gpu.decode([RLE])
    assert info.value.__suppress_context__
    assert "Traceback" not in str(info.value)
    assert gpu.available() is False


def test_kernel_read_from_package_data_through_one_part_joinpath(monkeypatch):
    """On Python 3.9/3.10 a Traversable's joinpath takes one part (zip and
    namespace readers): joinpath("kernels", name) raised TypeError there, the
    package data was skipped and an installed wheel found no kernels."""
    launch = import_fastrle_module("gpu.launch")

    class Ref:
        def __init__(self, parts):
            self.parts = parts

        def joinpath(self, child):  # one part, as 3.9's Traversable
            return Ref(self.parts + (child,))

        def is_file(self):
            return self.parts == ("fastrle", "kernels", "only_in_package.cuh")

        def read_text(self, encoding):
            return "// from the package data"

    monkeypatch.setattr(launch.importlib.resources, "files", lambda pkg: Ref((pkg,)))
    assert launch._read_kernel("only_in_package.cuh") == "// from the package data"
