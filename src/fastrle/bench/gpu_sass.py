"""Static performance check of the CUDA kernels, no GPU needed (``fastrle bench --gpu-sass``).

Compiles the kernel source that ``fastrle.gpu`` hands to CuPy for sm_90 (nvcc,
or NVRTC from the ``nvidia-cuda-nvrtc`` wheel when nvcc is missing), reads
registers and spills from ptxas, disassembles the cubin with ``cuobjdump``
(``nvidia-cuda-cuobjdump`` wheel, or the CUDA toolkit) and prints, per kernel,
the length of its hot loop and the output bytes one warp writes per
warp-instruction there.

How the hot loop is found (documented so the figure can be trusted):

* A loop is a backward branch: ``BRA`` at address ``a`` to ``t <= a`` spans
  ``[t, a]``.  ``BRA.DIV``/``WARPSYNC`` fallbacks are placed after the
  function's final ``EXIT`` and jump back into the body; a span holding an
  unpredicated ``EXIT`` is such a jump, not a loop, and is ignored.
* A kernel's hot loop is the innermost loop that contains a global store
  (``STG``): inner loops without stores (run-cursor walks, binary searches)
  are nested inside it and counted once, i.e. as one run boundary per column
  per iteration, the common case for SA-1B-like masks (a run boundary every
  ~1,000 pixels of a column).
* Its cost is the number of instructions in the span (``NOP`` excluded); the
  bytes are what one warp writes per iteration, from the kernel's constants
  (:data:`HOT_LOOPS`).
* ``fastrle_expand`` has several store paths inside its slab loop (interior
  tiles, row-end tiles and partial slabs, bytewise words), so the hot-loop
  figure is taken from an accounting build (``-DFASTRLE_STEADY_STATE``) that
  keeps only the interior path (the packed expand likewise).  In
  ``fastrle_parse_warp`` that build drops the count-by-count search for the
  first bad count, which a valid string never enters (a string enters it at
  most once, then stops).  Registers and spills always come from the real
  build.

The targets apply to the whole launch (:func:`whole_launch`): every warp of
the grid the launch planner makes for 100 SA-1B-like masks of 1500x2250
(:func:`sa1b_workload`), every path it takes.  Costs come from one
accounting build per store path (``-DFASTRLE_ACCOUNT_PATH=0|1|2``,
:func:`path_costs`): slab, run-walk iteration, search step, set-up, idle
warp.  Counts come from the planner's grid and the masks' run-end tables:
per warp and slab its path and, per unrolled run-walk loop, the most run
boundaries any lane's column segment holds (SIMT).  Before/after figures
and the check against an independent emulation: docs/gpu.md, Efficiency.

Exit status 1 (so CI fails) on any spill or stack frame, on a kernel whose
registers do not let it launch the largest block ``fastrle.gpu.launch.Config``
allows it (:func:`threads_that_fit`), when ``fastrle_expand``'s hot loop is
below :data:`EXPAND_TARGET` bytes per warp-instruction, or a whole launch
below :data:`WHOLE_TARGETS`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from ..optional import missing_message, require

#: The longest counts string of one SA-1B-like image (100 masks of 1500x2250).
LONGEST_STRING = 6329

#: Output bytes per warp-instruction that the expand must reach: H200's
#: 4.8 TB/s at about 3 warp-instructions per clock per SM.
EXPAND_TARGET = 4.8


def _defines(src: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"#define (FASTRLE_\w+) (\d+)", src)}


#: Per kernel: (what one hot-loop iteration does, output bytes one warp
#: writes per iteration as a function of the source's #defines, or None when
#: the loop does not write output pixels).
HOT_LOOPS: dict[str, tuple[str, Optional[Callable[[dict[str, int]], int]]]] = {
    "fastrle_expand": ("32-row slab of a 124-column tile (interior, steady state)",
                       lambda d: 4 * d["FASTRLE_TILE_GROUPS"] * d["FASTRLE_TILE_ROWS"]),
    "fastrle_expand_packed": ("32 rows x 4 aligned words of bits (128 columns)",
                              lambda d: 16 * d["FASTRLE_TILE_ROWS"]),
    "fastrle_expand_map": ("vertical flips, uint8: one output row, a column per lane (untuned)",
                           lambda d: 32),
    "fastrle_parse_warp": ("one step of 32 lanes x FASTRLE_PARSE_CPL characters", None),
    "fastrle_parse_serial": ("one character", None),
}


#: Kernels whose figure comes from the FASTRLE_STEADY_STATE accounting build.
STEADY_KERNELS = ("fastrle_expand", "fastrle_expand_packed", "fastrle_parse_warp")


@dataclass
class Instr:
    addr: int
    text: str  # without the trailing " ;"

    @property
    def opcode(self) -> str:
        t = re.sub(r"^@!?U?P[T0-9]+\s+", "", self.text)
        return t.split()[0] if t else ""

    def branch_target(self) -> Optional[int]:
        m = re.match(r"^(?:@!?U?P[T0-9]+\s+)?BRA(?:\.U|\.ANY|\.CONV)?\s+(?:`\()?0x([0-9a-f]+)", self.text)
        return int(m.group(1), 16) if m else None


@dataclass
class KernelReport:
    name: str
    registers: int
    stack: int
    spill_stores: int
    spill_loads: int
    loop_instrs: Optional[int] = None
    loop_span: Optional[tuple[int, int]] = None
    loop_what: str = ""
    loop_bytes: Optional[int] = None
    chars_per_lane: int = 1
    costs: Optional[dict[int, "PathCosts"]] = None  # per store path (ACCOUNT_PATHS), whole-launch model
    whole: Optional["WholeLaunch"] = None

    @property
    def bytes_per_instr(self) -> Optional[float]:
        if self.loop_instrs and self.loop_bytes:
            return self.loop_bytes / self.loop_instrs
        return None


def parse_ptxas(log: str) -> dict[str, dict[str, int]]:
    """Registers, stack and spill bytes per kernel from ``ptxas -v`` output."""
    info: dict[str, dict[str, int]] = {}
    cur = None
    for line in log.splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m:
            cur = info.setdefault(m.group(1), {})
            continue
        if cur is None:
            continue
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            cur.update(stack=int(m.group(1)), spill_stores=int(m.group(2)), spill_loads=int(m.group(3)))
        m = re.search(r"Used (\d+) registers", line)
        if m:
            cur["registers"] = int(m.group(1))
    return info


def parse_sass(text: str) -> dict[str, list[Instr]]:
    """Instructions per function from ``cuobjdump -sass`` output."""
    funcs: dict[str, list[Instr]] = {}
    cur: Optional[list[Instr]] = None
    for line in text.splitlines():
        m = re.search(r"Function : (\w+)", line)
        if m:
            cur = funcs.setdefault(m.group(1), [])
            continue
        m = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;", line)
        if m and cur is not None:
            cur.append(Instr(int(m.group(1), 16), m.group(2).strip()))
    return funcs


def loops(instrs: list[Instr]) -> list[tuple[int, int]]:
    """(head, back-edge) address spans of the backward branches that are loops.

    The out-of-line ``BRA.DIV`` fallback blocks after the function's final
    ``EXIT`` branch back into the body; their spans contain that
    unpredicated ``EXIT``, which no loop body does, so they are dropped.
    """
    exits = [i.addr for i in instrs if i.text == "EXIT"]
    spans = []
    for ins in instrs:
        t = ins.branch_target()
        if t is not None and t <= ins.addr and not any(t <= a <= ins.addr for a in exits):
            spans.append((t, ins.addr))
    return sorted(set(spans))


def hot_loop(instrs: list[Instr]) -> Optional[tuple[int, int]]:
    """The innermost loop containing a global store (see the module doc)."""
    stores = [i.addr for i in instrs if i.opcode.startswith("STG")]
    cands = [s for s in loops(instrs) if any(s[0] <= a <= s[1] for a in stores)]
    inner = [s for s in cands
             if not any(o != s and s[0] <= o[0] and o[1] <= s[1] and
                        any(o[0] <= a <= o[1] for a in stores) for o in cands)]
    if not inner:
        return None
    return max(inner, key=lambda s: sum(1 for a in stores if s[0] <= a <= s[1]))


def span_length(instrs: list[Instr], span: tuple[int, int]) -> int:
    return sum(1 for i in instrs if span[0] <= i.addr <= span[1] and i.opcode != "NOP")


def find_tool(name: str) -> Optional[str]:
    """``name`` from the NVIDIA pip wheels (nvidia/*/bin), else PATH or /usr/local/cuda."""
    try:
        import nvidia  # namespace package of the nvidia-cuda-* wheels

        for root in getattr(nvidia, "__path__", []):
            for cand in sorted(Path(root).glob(f"*/bin/{name}")):
                if os.access(cand, os.X_OK):
                    return str(cand)
    except ImportError:
        pass
    found = shutil.which(name)
    if found:
        return found
    cand = Path("/usr/local/cuda/bin") / name
    return str(cand) if cand.exists() else None


def compile_cubin(source: str, arch: str, defines: tuple[str, ...], workdir: Path) -> tuple[bytes, str, str]:
    """cubin bytes, ptxas log and the compiler used (nvcc, else NVRTC)."""
    nvcc = find_tool("nvcc")
    if nvcc:
        src = workdir / "fastrle_kernels.cu"
        src.write_text(source)
        cubin = workdir / f"k{len(defines)}.cubin"
        cmd = [nvcc, "-cubin", f"-arch={arch}", "-Xptxas", "-v", *[f"-D{d}" for d in defines],
               "-o", str(cubin), str(src)]
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            raise RuntimeError(f"nvcc failed:\n{res.stderr}")
        return cubin.read_bytes(), res.stdout + res.stderr, "nvcc"
    nvrtc = require("cuda.bindings.nvrtc", "compiling the kernels without nvcc")
    try:
        err, prog = nvrtc.nvrtcCreateProgram(source.encode(), b"fastrle.cu", 0, [], [])
    except Exception as exc:  # the NVRTC shared library itself is missing
        raise RuntimeError(f"nvcc not found and NVRTC not loadable ({exc})") from None
    opts = [f"--gpu-architecture={arch}".encode(), b"--ptxas-options=-v",
            *[f"-D{d}".encode() for d in defines]]
    (err,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
    _, size = nvrtc.nvrtcGetProgramLogSize(prog)
    log = b" " * size
    nvrtc.nvrtcGetProgramLog(prog, log)
    if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        raise RuntimeError(f"NVRTC failed:\n{log.decode(errors='replace')}")
    _, n = nvrtc.nvrtcGetCUBINSize(prog)
    cubin = b" " * n
    nvrtc.nvrtcGetCUBIN(prog, cubin)
    nvrtc.nvrtcDestroyProgram(prog)
    return cubin, log.decode(errors="replace"), "NVRTC"


def disassemble(cubin: bytes, workdir: Path) -> str:
    tool = find_tool("cuobjdump")
    if tool is None:
        raise RuntimeError(missing_message("cuobjdump", "reading SASS"))
    path = workdir / "sass.cubin"
    path.write_bytes(cubin)
    res = subprocess.run([tool, "-sass", str(path)], capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"cuobjdump failed:\n{res.stderr}")
    return res.stdout


def analyse(source: str, arch: str = "sm_90") -> tuple[list[KernelReport], str]:
    """Reports for every kernel in ``source``, and the compiler used."""
    d = _defines(source)
    with tempfile.TemporaryDirectory(prefix="fastrle-sass-") as tmp:
        work = Path(tmp)
        cubin, log, compiler = compile_cubin(source, arch, (), work)
        sass = parse_sass(disassemble(cubin, work))
        steady_cubin, _, _ = compile_cubin(source, arch, ("FASTRLE_STEADY_STATE",), work)
        steady = parse_sass(disassemble(steady_cubin, work))
        paths = {0: steady}
        for path in ACCOUNT_PATHS[1:]:
            cub, _, _ = compile_cubin(source, arch, ("FASTRLE_STEADY_STATE", f"FASTRLE_ACCOUNT_PATH={path}"), work)
            paths[path] = parse_sass(disassemble(cub, work))
    reports = []
    for name, r in sorted(parse_ptxas(log).items()):
        rep = KernelReport(name, r.get("registers", -1), r.get("stack", -1),
                           r.get("spill_stores", -1), r.get("spill_loads", -1))
        what, nbytes = HOT_LOOPS.get(name, ("", None))
        instrs = (steady if name in STEADY_KERNELS else sass).get(name, [])
        span = hot_loop(instrs)
        if span is not None:
            rep.loop_span = span
            rep.loop_instrs = span_length(instrs, span)
            rep.loop_what = what or "innermost loop with a global store"
            rep.loop_bytes = nbytes(d) if nbytes else None
            rep.chars_per_lane = d.get("FASTRLE_PARSE_CPL", 1) if name == "fastrle_parse_warp" else 1
        if name in WHOLE_KERNELS:
            costs = {p: path_costs(sass_p.get(name, [])) for p, sass_p in paths.items()}
            rep.costs = {p: c for p, c in costs.items() if c is not None} if costs.get(0) else None
        reports.append(rep)
    return reports, compiler


#: Registers of one SM (and the most one block may hold), sm_75 to sm_120.
REGISTER_FILE = 65536


def threads_that_fit(registers: int) -> int:
    """The most threads (whole warps, at most 1024) one block can launch with
    when each uses ``registers`` registers: a warp's registers are allocated
    in units of 256 out of :data:`REGISTER_FILE`."""
    per_warp = -(-max(registers, 1) * 32 // 256) * 256
    return min(1024, 32 * (REGISTER_FILE // per_warp))


# --------------------------------------------------------------------------
# Whole-launch accounting (the figure the targets apply to)

#: Store paths of the expand kernels' slab loop, one accounting build each
#: (FASTRLE_ACCOUNT_PATH in rle_expand.cuh, fastrle_store_rows' MODE): 0
#: interior full slabs, 1 row-end tiles and partial slabs (lane predicates),
#: 2 words clipped bytewise (fastrle_expand only; the packed kernel has one path).
ACCOUNT_PATHS = (0, 1, 2)

#: Kernels counted over a whole launch on the SA-1B-like workload.
WHOLE_KERNELS = ("fastrle_expand", "fastrle_expand_packed")

#: Whole-launch targets, output bytes per warp-instruction (issue 21).
WHOLE_TARGETS = {"fastrle_expand": 7.0, "fastrle_expand_packed": 2.0}


@dataclass
class PathCosts:
    """Warp-instruction costs of one accounting build of an expand kernel,
    read off its SASS (see :func:`whole_launch`)."""

    slab: int  # the hot loop: one slab, one pass through each run-walk loop
    walk: float  # one more run boundary in a column segment: a run-walk loop's span (mean of the 4)
    search: int  # one step of the band's cursor searches: the loops before the hot loop
    prologue: int  # straight-line code before the hot loop (outside the search loops)
    epilogue: int  # from the hot loop's exit to the EXIT
    idle: int  # a warp with no columns or rows: up to the first EXIT
    advance: int = 0  # the run-walk loops' cursor advances (in ``slab``; run once per boundary)

    @property
    def slab_base(self) -> int:
        """A slab whose column segments hold no run boundary: each run-walk
        loop runs its check once and does not advance."""
        return self.slab - self.advance


def path_costs(instrs: list[Instr]) -> Optional[PathCosts]:
    """:class:`PathCosts` of a kernel's accounting build, or None without a hot loop."""
    span = hot_loop(instrs)
    if span is None:
        return None
    all_loops = loops(instrs)
    inner = [lp for lp in all_loops if span[0] <= lp[0] and lp[1] <= span[1] and lp != span]
    before = [lp for lp in all_loops if lp[1] < span[0]]
    # nested loops before the head count once: keep the outermost
    before = [lp for lp in before if not any(o != lp and o[0] <= lp[0] and lp[1] <= o[1] for o in before)]
    counted = [i for i in instrs if i.opcode != "NOP"]
    prologue = sum(1 for i in counted if i.addr < span[0] and not any(a <= i.addr <= b for a, b in before))
    after = [i for i in counted if i.addr > span[1]]
    end = next((k for k, i in enumerate(after) if i.text == "EXIT"), len(after) - 1)
    first_exit = next((k for k, i in enumerate(counted) if i.opcode == "EXIT"), 0)
    walks = [span_length(instrs, lp) for lp in inner]
    return PathCosts(slab=span_length(instrs, span), walk=sum(walks) / len(walks) if walks else 0.0,
                     search=sum(span_length(instrs, lp) for lp in before), prologue=prologue,
                     epilogue=end + 1, idle=first_exit + 1,
                     advance=sum(advance_length(instrs, lp) for lp in inner))


def advance_length(instrs: list[Instr], loop: tuple[int, int]) -> int:
    """Instructions of a run-walk loop after its last exit branch (a branch
    past the loop's end): the cursor advance, run only when the segment
    holds another run boundary."""
    body = [i for i in instrs if loop[0] <= i.addr <= loop[1] and i.opcode != "NOP"]
    exits = [k for k, i in enumerate(body) if (i.branch_target() or 0) > loop[1]]
    return len(body) - exits[-1] - 1 if exits else 0


@dataclass
class WholeLaunch:
    """Modelled warp-instructions of one expand launch, by part."""

    nbytes: int
    parts: dict[str, float]

    @property
    def instrs(self) -> float:
        return sum(self.parts.values())

    @property
    def bytes_per_instr(self) -> float:
        return self.nbytes / self.instrs if self.instrs else 0.0


def sa1b_workload(n: int = 100, h: int = 1500, w: int = 2250) -> tuple[list[Any], list[np.ndarray]]:
    """The SA-1B-like image (``fastrle.synthetic.sa1b_like``, seed 0): its RLEs
    and each mask's run-end table (cumulative counts, as the parse kernels write it)."""
    from .. import _core
    from ..synthetic import sa1b_like

    rles = sa1b_like(n, h, w, seed=0)
    runs = _core.parse(_core.sources(rles), True)
    o = runs.offsets
    return rles, [np.cumsum(runs.arena[o[i]:o[i + 1]].astype(np.int64)) for i in range(runs.n)]


def whole_launch(kernel: str, costs: dict[int, PathCosts], defines: dict[str, int], rles: list[Any],
                 ends: list[np.ndarray]) -> WholeLaunch:
    """Warp-instructions of one ``kernel`` launch over ``rles``: every warp of
    the grid that the launch planner makes, every slab on the path it takes.

    Per warp: an idle warp (no columns or rows) costs ``idle``.  A live warp
    costs ``prologue + epilogue``, ``search`` per step of its band-start
    cursor search (floor(log2(runs)) + 1 steps), then per 32-row slab the
    ``slab_base`` cost of its path (the hot loop less the cursor advances
    of its run-walk loops), plus ``walk`` (a whole run-walk iteration) per
    run boundary crossed: the 4 unrolled run-walk loops diverge, so each
    costs the most boundaries that any lane's column segment holds in that
    slab (SIMT: a loop runs until its last lane leaves).  Boundaries are
    counted from the run-end tables, with the kernel's own tile geometry.  A
    partial last slab is costed as a full one (an upper bound).  Check: an
    interior slab whose segments hold one boundary each costs
    ``slab_base + 4 walk`` >= the hot-loop figure.
    """
    from ..gpu import launch as L

    packed = kernel == "fastrle_expand_packed"
    if packed and defines.get("FASTRLE_PACKED_WORDS", 0) == 1:
        return _whole_packed_words(costs, defines, rles, ends)
    batch = L.pack_rles(rles)
    plan = [lc for lc in L.plan_launches(batch, L.Config(), packed) if lc.kernel == kernel]
    h, w = batch.h, batch.w
    oh, ow = h, w
    nbytes = batch.n * oh * ((ow + 7) // 8 if packed else ow)
    groups = 32 if packed else defines["FASTRLE_TILE_GROUPS"]
    g_first = 0 if packed else -1  # lane 0's group in tile 0
    prev_row = (not packed) and defines.get("FASTRLE_LANE0_PREV_ROW", 0) == 1
    rows_per_slab = defines["FASTRLE_TILE_ROWS"]
    big = oh * ow + 4 > 0xFFFFFFFF
    parts = {"idle warps": 0.0, "prologue+epilogue": 0.0, "cursor search": 0.0, "slabs path 0": 0.0,
             "slabs path 1": 0.0, "slabs path 2": 0.0, "run walks": 0.0}
    c0 = costs[0]
    for lc in plan:
        gx, gy, gz = lc.grid
        band = lc.args[9]
        tiles = gx * (lc.block[0] // 32)
        t = np.arange(tiles)
        g0 = t * groups + g_first
        live_tile = t * 16 < (ow + 7) // 8 if packed else 4 * (g0 + 1) - 3 < ow
        t, g0 = t[live_tile], g0[live_tile]
        slabs = np.arange(0, oh, rows_per_slab)
        srows = np.minimum(oh - slabs, rows_per_slab)
        band_start = slabs % band == 0
        # the store path of every (slab, tile): FASTRLE_ACCOUNT_PATH's numbering
        first, last = (t == 0)[None, :], (4 * (g0 + 1 + groups) > ow)[None, :]
        ys, nrows = slabs[:, None], srows[:, None]
        if packed:
            path = np.zeros((len(slabs), len(t)), np.int64)
        elif prev_row:
            prev = ow > 4 and not big
            slow = big | ((first | last) & (not prev)) | (first & (ys == 0)) | (last & (ys + nrows == oh))
            path = np.where(slow, 2, np.where(last | (nrows != rows_per_slab), 1, 0))
        else:
            path = np.broadcast_to(np.where(first | last | big, 1, 0), (len(slabs), len(t)))
        nbands = -(-oh // band)
        for m in range(lc.args[11], lc.args[11] + gz):
            e = ends[m]
            parts["idle warps"] += (tiles * gy - len(t) * nbands) * c0.idle
            parts["prologue+epilogue"] += len(t) * nbands * (c0.prologue + c0.epilogue)
            steps = int(np.log2(len(e))) + 1
            parts["cursor search"] += len(t) * nbands * steps * c0.search
            for pth in (0, 1, 2):
                parts[f"slabs path {pth}"] += int((path == pth).sum()) * costs[pth].slab_base if pth in costs else 0
            # run boundaries each lane's cursor walks over in each slab: those
            # in (p, p + rows), from the run holding p; in a band's first slab
            # the new kernels start all 4 columns at the first one's run
            lane = np.arange(32)
            grp = g0[:, None] + lane[None, :]  # (T, 32)
            x = 4 * grp[:, :, None] + np.arange(4)[None, None, :]  # (T, 32, 4)
            shift = np.zeros(grp.shape, np.int64)
            if prev_row and ow > 4 and not big:
                tz = np.flatnonzero(t == 0)
                x[tz, 0, :] = ow - 4 + np.arange(4)
                shift[tz, 0] = 1
            live = (x >= 0) & (x < ow)
            p = x[None, :, :, :] * h + slabs[:, None, None, None] - shift[None, :, :, None]  # (S, T, 32, 4)
            lim = p + srows[:, None, None, None]
            lo = p
            if prev_row:
                lo = np.where(band_start[:, None, None, None], p[..., :1], p)
            inside = np.searchsorted(e, lim, "left") - np.searchsorted(e, lo, "right")
            inside = np.where(live[None], np.maximum(inside, 0), 0)
            walks = inside.max(axis=2).sum(axis=2)  # (S, T): the slowest lane of each unrolled loop
            for pth in (0, 1, 2):
                if pth in costs:
                    parts["run walks"] += float(walks[path == pth].sum()) * costs[pth].walk
    return WholeLaunch(nbytes, parts)


def _whole_packed_words(costs: dict[int, PathCosts], defines: dict[str, int], rles: list[Any],
                        ends: list[np.ndarray]) -> WholeLaunch:
    """:func:`whole_launch` for the words-of-bits ``fastrle_expand_packed``:
    warps own 4 aligned output words of the rows of one phase class, lanes
    one column of each (the previous row's tail before column 0), slabs of
    32 class rows P apart; slow slabs (the mask's first or last row, rows
    under 4 bytes) cost the bytewise build (path 2).  Outputs are assumed
    4-byte aligned (CuPy allocations are)."""
    from ..gpu import launch as L

    batch = L.pack_rles(rles)
    plan = [lc for lc in L.plan_launches(batch, L.Config(), True) if lc.kernel == "fastrle_expand_packed"]
    h, ow = batch.h, batch.w
    oh, wb = h, (ow + 7) // 8
    P = 1 if wb % 4 == 0 else 2 if wb % 2 == 0 else 4
    wide = wb >= 4
    parts = {"idle warps": 0.0, "prologue+epilogue": 0.0, "cursor search": 0.0, "slabs path 0": 0.0,
             "slabs path 2": 0.0, "run walks": 0.0}
    c0 = costs[0]
    rows_per_slab = defines["FASTRLE_TILE_ROWS"]
    lane = np.arange(32)
    for lc in plan:
        gx, gy, gz = lc.grid
        band = lc.args[9]
        tiles = gx * (lc.block[0] // 32)
        t = np.arange(tiles)
        t = t[16 * t < wb + 3]
        nbands = gy // P
        for m in range(lc.args[11], lc.args[11] + gz):
            e = ends[m]
            steps = int(np.log2(len(e))) + 1
            ph0 = (m * oh * wb) & 3
            for b in range(nbands):
                y0, y1 = b * band, min(b * band + band, oh)
                for cls in range(P):
                    if y1 - y0 <= cls:
                        parts["idle warps"] += tiles * c0.idle
                        continue
                    parts["idle warps"] += (tiles - len(t)) * c0.idle
                    parts["prologue+epilogue"] += len(t) * (c0.prologue + c0.epilogue)
                    parts["cursor search"] += len(t) * steps * c0.search
                    ph = (ph0 + cls * wb) & 3
                    ys = np.arange(y0 + cls, y1, rows_per_slab * P)
                    rows = np.minimum(-(-(y1 - ys) // P), rows_per_slab)
                    slow = (ys == 0) | (ys + P * (rows - 1) >= oh - 1) | (not wide)
                    for pth, sel in ((0, ~slow), (2, slow)):
                        parts[f"slabs path {pth}"] += int(sel.sum()) * len(t) * costs[pth].slab_base
                    x = 8 * (4 * (4 * t[:, None, None] + np.arange(4)[None, None, :]) - ph) + lane[None, :, None]
                    shift = (x < 0).astype(np.int64)
                    x = np.where(x < 0, x + 8 * wb, x)  # (T, 32, 4)
                    live = (x >= 0) & (x < ow) & (wide | (shift == 0))
                    p = x[None] * h - shift[None] + ys[:, None, None, None]
                    lim = p + P * (rows[:, None, None, None] - 1) + 1
                    inside = np.searchsorted(e, lim, "left") - np.searchsorted(e, p, "right")
                    inside = np.where(live[None], np.maximum(inside, 0), 0)
                    walks = inside.max(axis=2).sum(axis=2)  # (S, T)
                    for pth, sel in ((0, ~slow), (2, slow)):
                        parts["run walks"] += float(walks[sel].sum()) * costs[pth].walk
    return WholeLaunch(batch.n * oh * wb, parts)


def whole_reports(reports: list[KernelReport], source: str) -> None:
    """Fill ``.whole`` of the expand kernels' reports (needs the built CPU core)."""
    d = _defines(source)
    rles, ends = sa1b_workload()
    for r in reports:
        if r.name in WHOLE_KERNELS and r.costs:
            r.whole = whole_launch(r.name, r.costs, d, rles, ends)


def check(reports: list[KernelReport]) -> list[str]:
    """Failures: spills, stack frames, a block size that ``fastrle.gpu``'s
    ``Config`` allows but the kernel's registers do not, expand below target
    or not found."""
    from ..gpu.launch import max_block

    bad = []
    for r in reports:
        if r.spill_stores or r.spill_loads or r.stack:
            bad.append(f"{r.name}: {r.spill_stores}/{r.spill_loads} B spill stores/loads, {r.stack} B stack")
        limit = max_block(r.name)
        if limit is not None and r.registers > 0 and threads_that_fit(r.registers) < limit:
            bad.append(f"{r.name}: {r.registers} registers allow {threads_that_fit(r.registers)} threads per "
                       f"block, but Config allows {limit}")
    exp = next((r for r in reports if r.name == "fastrle_expand"), None)
    if exp is None or exp.bytes_per_instr is None:
        bad.append("fastrle_expand: hot loop not found")
    elif exp.bytes_per_instr < EXPAND_TARGET:
        bad.append(f"fastrle_expand: {exp.bytes_per_instr:.2f} B/warp-instruction < {EXPAND_TARGET}")
    for r in reports:
        target = WHOLE_TARGETS.get(r.name)
        if target is None or r.costs is None:
            continue  # reports made without the accounting builds (unit tests)
        if r.whole is None:
            bad.append(f"{r.name}: whole launch not counted")
        elif r.whole.bytes_per_instr < target:
            bad.append(f"{r.name}: whole launch {r.whole.bytes_per_instr:.2f} B/warp-instruction < {target}")
    return bad


def format_reports(reports: list[KernelReport], arch: str, compiler: str) -> str:
    lines = [f"# fastrle CUDA kernels, {arch} SASS ({compiler} + cuobjdump); static counts, no GPU",
             f"{'kernel':24s} {'regs':>4s} {'spill B':>8s} {'loop instr':>10s} {'B/warp':>7s} "
             f"{'B/warp-instr':>12s}  hot loop"]
    for r in reports:
        bpi = f"{r.bytes_per_instr:.2f}" if r.bytes_per_instr else "-"
        span = f"[{r.loop_span[0]:#x}, {r.loop_span[1]:#x}]" if r.loop_span else "none"
        lines.append(f"{r.name:24s} {r.registers:4d} {r.spill_stores + r.spill_loads:8d} "
                     f"{r.loop_instrs or 0:10d} {r.loop_bytes or 0:7d} {bpi:>12s}  {r.loop_what} {span}")
    for r in reports:
        if r.whole is not None:
            parts = ", ".join(f"{k} {v / 1e6:.2f}" for k, v in r.whole.parts.items())
            lines.append(f"whole launch {r.name}: {r.whole.instrs / 1e6:.2f} M warp-instructions for "
                         f"{r.whole.nbytes / 1e6:.1f} MB = {r.whole.bytes_per_instr:.2f} B/warp-instruction "
                         f"(target {WHOLE_TARGETS[r.name]}); M by part: {parts}")
    parse = next((r for r in reports if r.name == "fastrle_parse_warp" and r.loop_instrs), None)
    if parse and parse.loop_instrs:
        chars = 32 * parse.chars_per_lane
        per_char = parse.loop_instrs / chars
        # One warp issues at most one instruction per clock: a floor on its time.
        us = per_char * LONGEST_STRING / 1.98e3
        lines.append(f"parse: {parse.loop_instrs} warp-instructions per {chars}-character step "
                     f"({per_char:.2f} per character); a {LONGEST_STRING}-character string needs "
                     f">= {us:.1f} us of issue at 1.98 GHz (one warp per string)")
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    """Print the report; 1 on a spill or an expand below target, 2 if tools are missing."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch", default="sm_90")
    args = ap.parse_args(argv)
    from ..gpu.launch import kernel_source

    try:
        reports, compiler = analyse(kernel_source(), args.arch)
    except (RuntimeError, ImportError) as exc:  # ImportError: from optional.require
        print(f"error: {exc}", file=sys.stderr)
        return 2
    whole_reports(reports, kernel_source())
    print(format_reports(reports, args.arch, compiler))
    bad = check(reports)
    for b in bad:
        print(f"FAIL {b}")
    if not bad:
        print(f"PASS: no spills; fastrle_expand hot loop >= {EXPAND_TARGET} B/warp-instruction; whole launches "
              + ", ".join(f"{k} >= {v}" for k, v in WHOLE_TARGETS.items()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
