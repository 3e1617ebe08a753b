"""The C core's own test (csrc/tests/test_core.c), built with the system
compiler and run with no Python in the process."""
from __future__ import annotations

import os
import shutil
import subprocess

import pytest

CSRC = os.path.join(os.path.dirname(__file__), "..", "csrc")


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None,
                    reason="needs make and a C compiler")
def test_c_core(tmp_path) -> None:
    r = subprocess.run(["make", "-s", "-C", CSRC, "test", f"BUILD={tmp_path}"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all passed" in r.stdout
