"""scripts/mutate.py keeps matching the code: every mutant's text is found exactly
once in its file (a move or a reformat that strands a mutant fails here, not in
the next full mutation run)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "mutate.py")


@pytest.mark.skipif(not os.path.isfile(SCRIPT), reason="scripts/ not in this tree (installed wheel)")
def test_every_mutant_matches_its_code_once() -> None:
    p = subprocess.run([sys.executable, SCRIPT, "--list"], capture_output=True, text=True, timeout=120)
    stale = [ln for ln in p.stdout.splitlines() if "STALE" in ln]
    assert p.returncode == 0 and not stale, "\n".join(stale) or p.stdout[-2000:] + p.stderr[-2000:]
