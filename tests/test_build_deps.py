"""setup.py rebuilds what a header edit changes.

``python setup.py build_ext --inplace`` decides by file times what to
recompile: the C core's objects (build_clib, ``obj_deps``) and each glue
extension (``depends``) must list every csrc/*.h, or an edited header leaves
stale objects that still pass the tests. setup.py is run here with
``setup()`` and ``cythonize`` replaced, so nothing is built.
"""
from __future__ import annotations

import glob
import os
import runpy

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETUP = os.path.join(ROOT, "setup.py")

pytestmark = pytest.mark.skipif(not os.path.exists(SETUP), reason="no source tree (tests of an installed wheel)")


@pytest.fixture
def setup_run(monkeypatch):
    """(the keyword arguments setup.py passes to setup(), its globals)."""
    pytest.importorskip("Cython")
    import Cython.Build
    import setuptools

    seen: dict = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: seen.update(kw))
    monkeypatch.setattr(Cython.Build, "cythonize", lambda exts, **kw: exts)
    monkeypatch.chdir(ROOT)
    g = runpy.run_path(SETUP, run_name="setup_under_test")
    return seen, g


def _rel(pattern: str) -> set:
    return {os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, pattern))}


def test_every_build_step_depends_on_every_header(setup_run):
    kw, _ = setup_run
    headers, core = _rel("csrc/*.h"), _rel("csrc/*.c")
    assert "csrc/rle.h" in headers and "csrc/rle_ops.c" in core
    ((_, lib),) = kw["libraries"]
    assert set(lib["sources"]) == core
    assert headers <= set(lib["obj_deps"][""])
    exts = kw["ext_modules"]
    assert {e.name for e in exts} == {"fastrle." + os.path.basename(p)[:-4] for p in _rel("src/fastrle/_*.pyx")}
    for e in exts:
        assert headers <= set(e.depends), e.name
        assert core <= set(e.depends), e.name  # the core library changed: relink


def test_a_newer_header_makes_an_object_stale(setup_run, tmp_path):
    """The rule the core's parallel build applies to each object."""
    _, g = setup_run
    newer_group = g["newer_group"]
    src, hdr, obj = (tmp_path / n for n in ("a.c", "a.h", "a.o"))
    for i, p in enumerate((src, hdr, obj)):
        p.write_text("")
        os.utime(p, (1000 + i, 1000 + i))
    assert not newer_group([str(src), str(hdr)], str(obj))
    os.utime(hdr, (2000, 2000))  # the header edited after the object was built
    assert newer_group([str(src), str(hdr)], str(obj))
    assert newer_group([str(src)], str(tmp_path / "missing.o"))
