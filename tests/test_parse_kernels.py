"""Every parse kernel (FRLE_ISA=scalar, sse41, avx2, avx512, neon) gives the same
results and the same errors, through the public API, on SA-1B-like and
damaged count strings. Each extension module picks its kernel once, on its first
parse (every extension holds its own copy of the C core's choice), so each
kernel runs in a subprocess."""
from __future__ import annotations

import json

import pytest

from common import run_probe

import fastrle
from fastrle import _core

# every FRLE_ISA level; names of another architecture's kernels cap to scalar
KERNELS = ("scalar", "sse41", "avx2", "avx512", "neon")

_PROBE = r"""
import json, sys
import numpy as np
import fastrle
from fastrle import _core, mask, synthetic

rles = synthetic.sa1b_like(12, 300, 450, seed=3) + synthetic.coco_like(12, 120, 160, seed=4)
rng = np.random.default_rng(5)
cases = []
for r in rles:
    s = r["counts"] if isinstance(r["counts"], str) else r["counts"].decode()
    cases.append(s)
    for _ in range(6):  # damaged: a changed byte, a cut, a run of continuation chars
        b = bytearray(s.encode())
        p = int(rng.integers(len(b)))
        k = int(rng.integers(3))
        if k == 0:
            b[p] = int(rng.integers(40, 120))
        elif k == 1:
            del b[p:]
        else:
            b[p:p] = bytes(rng.integers(80, 112, int(rng.integers(2, 14))).tolist())  # 80..111: continued
        cases.append(b.decode("latin-1"))
out = {"isa": _core.parse_isa(), "results": []}
for i, s in enumerate(cases):
    h, w = rles[i // 7]["size"]
    row = []
    for strict in (False, True):
        try:
            d = fastrle.decode([{"size": [h, w], "counts": s}]) if strict else None
            row.append(["ok", int(d.sum()) if d is not None else None])
        except (ValueError, TypeError) as e:
            row.append(["err", str(e)])
    try:
        r = {"size": [h, w], "counts": s}
        row.append([int(mask.area(r)), mask.toBbox(r).tolist(), mask.area([r, r]).tolist()])
    except Exception as e:
        row.append(["err", type(e).__name__, str(e)])
    out["results"].append(row)
json.dump(out, sys.stdout)
"""


def _run(isa: str) -> dict:
    return json.loads(run_probe(_PROBE, isa, timeout=300))


def test_parse_isa_reports_a_kernel() -> None:
    assert _core.parse_isa() in KERNELS
    assert fastrle.parse_isa() == _core.parse_isa()


def test_every_kernel_agrees_with_scalar() -> None:
    ref = _run("scalar")
    assert ref["isa"] == "scalar"
    errors = sum(1 for row in ref["results"] for cell in row if cell[0] == "err")
    assert errors > 20, "the damaged strings should produce errors"
    seen = {"scalar"}
    for isa in KERNELS[1:]:
        got = _run(isa)
        seen.add(got["isa"])
        assert got["isa"] in KERNELS
        for i, (a, b) in enumerate(zip(got["results"], ref["results"])):
            assert a == b, f"FRLE_ISA={isa} (kernel {got['isa']}): case {i} differs"
    if len(seen) == 1:
        pytest.skip("this CPU runs no vector parse kernel; only the scalar parse was checked")
