"""The C core's own test (csrc/tests/test_core.c), built with the system
compiler and run with no Python in the process: once as shipped, and once
without SSE2 so the portable fallbacks (used on non-x86 builds) run too."""
from __future__ import annotations

import os
import platform
import shutil
import subprocess

import pytest

CSRC = os.path.join(os.path.dirname(__file__), "..", "csrc")
X86 = platform.machine() in ("x86_64", "AMD64")


@pytest.mark.skipif(shutil.which("make") is None or shutil.which("cc") is None,
                    reason="needs make and a C compiler")
@pytest.mark.parametrize("cflags", [  # added to build_flags.txt's list
    None,
    pytest.param("-O2 -mno-sse2 -mno-avx",
                 marks=pytest.mark.skipif(not X86, reason="x86 flags")),
    # rle_compat.h's plain-C bit scans and popcounts (compilers with no builtins)
    "-DFRLE_PORTABLE_BUILTINS",
])
def test_c_core(tmp_path, cflags) -> None:
    cmd = ["make", "-s", "-C", CSRC, "test", f"BUILD={tmp_path}"]
    if cflags:
        cmd.append(f"EXTRA_CFLAGS={cflags}")  # after build_flags.txt's list
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "all passed" in r.stdout
