"""``fastrle bench --gpu-sass``: hot-loop accounting on SASS, no GPU."""

from __future__ import annotations

import subprocess
import sys

import pytest

G = pytest.importorskip("fastrle.bench.gpu_sass")

SASS = """
	code for sm_90
		Function : k
        /*0000*/                   MOV R1, c[0x0][0x28] ;
        /*0010*/                   NOP ;
        /*0020*/                   IADD3 R2, R2, 0x1, RZ ;
        /*0030*/                   LDG.E R4, desc[UR4][R2.64] ;
        /*0040*/              @!P0 BRA 0x20 ;
        /*0050*/                   STG.E desc[UR4][R2.64], R4 ;
        /*0060*/                   SHFL.UP PT, R5, R4, 0x1, RZ ;
        /*0070*/                   NOP ;
        /*0080*/                   BRA.DIV UR4, 0x100 ;
        /*0090*/               @P1 BRA 0x20 ;
        /*00a0*/                   EXIT ;
        /*0100*/                   BRA 0x90 ;
"""


def test_hot_loop_is_innermost_loop_with_a_store():
    instrs = G.parse_sass(SASS)["k"]
    assert [i.opcode for i in instrs[:3]] == ["MOV", "NOP", "IADD3"]
    assert instrs[4].branch_target() == 0x20 and instrs[8].branch_target() is None  # BRA.DIV
    # 0x100 -> 0x90 is a divergence fallback jumping back over the EXIT: not a loop
    assert G.loops(instrs) == [(0x20, 0x40), (0x20, 0x90)]
    span = G.hot_loop(instrs)
    assert span == (0x20, 0x90)  # the (0x20, 0x40) loop has no store
    assert G.span_length(instrs, span) == 7  # 8 instructions, one NOP


def test_check_flags_spills_and_slow_expand():
    ok = G.KernelReport("fastrle_expand", 40, 0, 0, 0, loop_instrs=400, loop_bytes=3968)
    assert G.check([ok]) == []
    slow = G.KernelReport("fastrle_expand", 40, 0, 0, 0, loop_instrs=1000, loop_bytes=3968)
    assert "3.97" in G.check([slow])[0]
    spill = G.KernelReport("fastrle_parse_warp", 255, 8, 8, 8)
    assert any("spill" in m for m in G.check([ok, spill]))
    assert G.check([]) == ["fastrle_expand: hot loop not found"]


def test_check_whole_launch_targets():
    rep = G.KernelReport("fastrle_expand_packed", 40, 0, 0, 0)
    rep.costs = {0: G.PathCosts(100, 20.0, 40, 200, 1, 10)}
    ok = G.KernelReport("fastrle_expand", 40, 0, 0, 0, loop_instrs=400, loop_bytes=3968)
    assert G.check([ok, rep]) == ["fastrle_expand_packed: whole launch not counted"]
    rep.whole = G.WholeLaunch(1000, {"slabs path 0": 600.0})
    assert "1.67 B/warp-instruction < 2.0" in G.check([ok, rep])[0]
    rep.whole = G.WholeLaunch(1300, {"slabs path 0": 600.0, "run walks": 50.0})
    assert G.check([ok, rep]) == []


def test_path_costs_from_sass():
    """Prologue, search loops before the hot loop, run-walk loops inside it."""
    sass = """
	code for sm_90
		Function : k
        /*0000*/                   MOV R1, c[0x0][0x28] ;
        /*0010*/               @P0 EXIT ;
        /*0020*/                   IADD3 R2, R2, 0x1, RZ ;
        /*0030*/                   LDG.E R4, desc[UR4][R2.64] ;
        /*0040*/              @!P0 BRA 0x20 ;
        /*0050*/                   MOV R5, R4 ;
        /*0060*/                   IADD3 R6, R6, 0x1, RZ ;
        /*0070*/                   LDG.E R7, desc[UR4][R6.64] ;
        /*0080*/              @!P1 BRA 0x60 ;
        /*0090*/                   STG.E desc[UR4][R2.64], R4 ;
        /*00a0*/               @P2 BRA 0x60 ;
        /*00b0*/                   NOP ;
        /*00c0*/                   EXIT ;
"""
    c = G.path_costs(G.parse_sass(sass)["k"])
    assert c == G.PathCosts(slab=5, walk=3.0, search=3, prologue=3, epilogue=1, idle=2, advance=0)


def _tools_or_skip():
    if G.find_tool("cuobjdump") is None:
        pytest.skip("cuobjdump not found (pip install 'fastrle[gpu-test]')")
    if G.find_tool("nvcc") is None:
        pytest.importorskip("cuda.bindings.nvrtc", reason="neither nvcc nor NVRTC")


def test_kernels_meet_the_static_targets():
    _tools_or_skip()
    from fastrle.gpu.launch import kernel_source

    try:
        reports, _ = G.analyse(kernel_source())
    except RuntimeError as exc:
        pytest.skip(str(exc))
    G.whole_reports(reports, kernel_source())
    by = {r.name: r for r in reports}
    assert G.check(reports) == []
    assert by["fastrle_expand"].bytes_per_instr >= G.EXPAND_TARGET
    assert by["fastrle_expand_packed"].loop_instrs and by["fastrle_parse_warp"].loop_instrs
    for name, target in G.WHOLE_TARGETS.items():
        whole = by[name].whole
        assert whole is not None and whole.bytes_per_instr >= target
        # the interior slabs carry the launch; the model counts every warp of the grid
        assert whole.parts["slabs path 0"] > 0.5 * whole.instrs and whole.parts["idle warps"] >= 0


def test_cli_exit_status():
    _tools_or_skip()
    res = subprocess.run([sys.executable, "-m", "fastrle", "bench", "--gpu-sass"], capture_output=True,
                         text=True, timeout=600)
    if res.returncode == 2:
        pytest.skip(res.stderr)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "fastrle_expand" in res.stdout and "PASS" in res.stdout
