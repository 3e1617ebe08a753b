"""fastrle.optional: one message for a missing optional dependency, used by every entry point."""
import ast
import pathlib
import re
import sys

import pytest

from fastrle import optional

SRC = pathlib.Path(__file__).resolve().parents[1] / "src" / "fastrle"


def hide(monkeypatch, *names):
    """Make ``import name`` raise ImportError, as when the package is absent."""
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def expected(purpose, name, hint):
    # written by hand: "<purpose> needs <name>, which is not installed (<cause>): <hint>"
    return re.escape(f"{purpose} needs {name}, which is not installed (") + r"[^)]+" + re.escape(f"): {hint}") + "$"


def test_install_hint_by_hand():
    assert optional.install_hint("PIL.Image") == "pip install Pillow (or pip install 'fastrle[viz]')"
    assert optional.install_hint("PIL", extra="sa1b") == "pip install Pillow (or pip install 'fastrle[sa1b]')"
    assert optional.install_hint("pycocotools.mask") == "pip install pycocotools"
    assert optional.install_hint("distributed") == ("pip install 'dask[distributed]' "
                                                    "(or pip install 'fastrle[dask]')")
    assert optional.install_hint("cupy") == "pip install cupy-cuda13x (or pip install 'fastrle[gpu]')"


def test_require_returns_the_module():
    import json

    assert optional.require("json", "a test") is json


def test_require_names_purpose_package_and_extra(monkeypatch):
    hide(monkeypatch, "matplotlib", "matplotlib.pyplot")
    with pytest.raises(ImportError, match=expected("show_anns", "matplotlib",
                                                   "pip install matplotlib (or pip install 'fastrle[viz]')")):
        optional.require("matplotlib.pyplot", "show_anns")


def test_viz_load_image_without_pillow(monkeypatch):
    from fastrle import viz

    hide(monkeypatch, "PIL", "PIL.Image")
    with pytest.raises(ImportError, match=expected("reading and writing image files", "Pillow",
                                                   "pip install Pillow (or pip install 'fastrle[viz]')")):
        viz.load_image(b"\xff\xd8 not read")


def test_patch_pycocotools_without_pycocotools(monkeypatch):
    import fastrle

    hide(monkeypatch, "pycocotools", "pycocotools.mask")
    with pytest.raises(ImportError, match=expected("patch_pycocotools()", "pycocotools",
                                                   "pip install pycocotools")):
        fastrle.patch_pycocotools()


def test_jobs_without_dask(monkeypatch):
    pytest.importorskip("pyarrow")
    from fastrle import jobs

    hide(monkeypatch, "distributed")
    with pytest.raises(ImportError, match=expected(
            "fastrle index/validate on a cluster", "dask[distributed]",
            "pip install 'dask[distributed]' (or pip install 'fastrle[dask]')")):
        jobs.require_dask()


def test_gpu_without_cupy_same_message_in_its_error_class(monkeypatch):
    from fastrle import gpu

    hide(monkeypatch, "cupy")
    with pytest.raises(gpu.GPUUnavailableError, match=expected(
            "fastrle.gpu", "CuPy", "pip install cupy-cuda13x (or pip install 'fastrle[gpu]')")):
        gpu.decode({"size": [1, 1], "counts": "1"})


def _raises_with_install_text(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            for sub in ast.walk(node.exc):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and "pip install" in sub.value:
                    yield node.lineno


def test_no_other_module_words_an_install_message():
    found = {}
    for path in SRC.rglob("*.py"):
        if path.name == "optional.py":
            continue
        lines = list(_raises_with_install_text(ast.parse(path.read_text())))
        if lines:
            found[str(path.relative_to(SRC))] = lines
    assert found == {}
