"""The ``fastrle bench`` harness: timing, results, the case registry and output.

Every case times all of its comparators in the same run, interleaved round
by round, so that drift (thermal, other processes, page cache) hits every
comparator alike. Each reported number is the median over ``repeats`` rounds.

Case modules (:mod:`.core`, and one module per group) call :func:`register`;
this module knows none of them.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from types import ModuleType
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from .. import synthetic
from ..optional import require

__all__ = [
    "BenchConfig", "BenchData", "Timing", "Ratio", "CaseResult", "Comparator", "CASES",
    "register", "case_aliases", "modes", "select_cases", "run", "run_case", "time_interleaved",
    "format_table", "to_json_obj", "plot", "environment", "unjudged", "worst_by_family", "format_worst",
    # for the case modules
    "WARM_NOTE", "RatioSpec", "CaseSpec", "import_or_none", "fastrle_or_none", "memset", "memset_threads", "touch",
    "faulted", "calls", "skip_note", "version_of",
]

# --- result types -------------------------------------------------------------


@dataclass
class Timing:
    """One comparator's measurement within a case."""

    key: str                 # stable id, e.g. "fastrle", "pycocotools"
    name: str                # what was called
    median_ms: float | None  # None when skipped
    min_ms: float | None = None
    repeats: int = 0
    number: int = 1          # calls per repeat (small calls are batched)
    note: str = ""


@dataclass
class Ratio:
    """A ratio of two medians, checked against a target."""

    label: str
    value: float | None
    op: str                  # ">=", "<=", or "" for information only
    target: float | None
    status: str              # PASS, FAIL, SKIP or INFO
    pick: str = ""           # for an "a|b" numerator: the one that was fastest


@dataclass
class CaseResult:
    """All timings and checks of one case."""

    case: str
    id: str
    title: str
    timings: list[Timing] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    verified: bool | None = None  # fastrle output == reference, None if unchecked
    family: str = ""  # shape family of the SA-1B-size masks, "" for a case that has none


@dataclass
class BenchConfig:
    """What to run. Defaults are the SA-1B setting of the performance issue."""

    h: int = 1500
    w: int = 2250
    masks: int = 100
    threads: int = 2
    repeats: int = 7
    mode: str = "all"
    cases: list[str] | None = None
    seed: int = 0
    coco_h: int = 480
    coco_w: int = 640
    coco_masks: int = 10
    encode_masks: int = 20
    iou_n: int = 100
    iou_size: int = 100
    min_sample_s: float = 0.02  # batch calls shorter than this per repeat
    quick: bool = False
    # shape families (synthetic.FAMILIES) of the SA-1B-size masks: cases registered
    # with per_family=True run once per family; the others once
    families: list[str] = field(default_factory=lambda: ["blobs"])
    family: str = "blobs"  # the family a BenchData is built for (set by run)

    @classmethod
    def quick_config(cls, **overrides: Any) -> "BenchConfig":
        """Tiny sizes that run in a couple of seconds (smoke tests, CI)."""
        base: Dict[str, Any] = dict(h=150, w=225, masks=10, repeats=5, coco_h=48, coco_w=64,
                    coco_masks=5, encode_masks=5, iou_n=10, iou_size=20,
                    min_sample_s=0.001, quick=True)
        base.update(overrides)
        return cls(**base)


# --- comparators and timing -----------------------------------------------------


@dataclass
class Comparator:
    """A timed callable. ``setup`` runs before every call, untimed."""

    key: str
    name: str
    fn: Callable[[], Any]
    setup: Callable[[], Any] | None = None


def time_interleaved(comps: list[Comparator], repeats: int, min_sample_s: float = 0.02,
                     tick: Callable[[], None] | None = None) -> dict[str, tuple[list[float], int]]:
    """Time ``comps`` round-robin; return key -> (per-call seconds per repeat, number).

    Two untimed warm-up calls each first (imports, caches, lazy init). Calls
    faster than ``min_sample_s`` are repeated ``number`` times per sample so
    the timer's resolution does not matter; comparators with a setup always
    run once per sample because the setup must precede every call.
    """
    numbers: dict[str, int] = {}
    for c in comps:
        dt = 0.0
        for _ in range(2):  # the first call may pay one-off costs; calibrate on the second
            if c.setup:
                c.setup()
            t0 = time.perf_counter()
            c.fn()
            dt = time.perf_counter() - t0
        numbers[c.key] = 1 if c.setup or dt >= min_sample_s else \
            max(1, int(min_sample_s / max(dt, 1e-7)))
    samples: dict[str, list[float]] = {c.key: [] for c in comps}
    for _ in range(repeats):
        for c in comps:
            n = numbers[c.key]
            if c.setup:
                c.setup()
                # a setup that allocates (COCOeval's copies) would otherwise leave a
                # cyclic-GC pass to land inside one comparator's timed call or another's
                gc.collect()
            t0 = time.perf_counter()
            for _ in range(n):
                c.fn()
            samples[c.key].append((time.perf_counter() - t0) / n)
            if tick:
                tick()
    return {k: (v, numbers[k]) for k, v in samples.items()}


def import_or_none(name: str) -> ModuleType | None:
    """Import ``name`` or return None (comparator not installed)."""
    try:
        return importlib.import_module(name)
    except Exception:
        return None


def fastrle_or_none() -> ModuleType | None:
    """fastrle with its core built, else None."""
    mod = import_or_none("fastrle")
    return mod if mod is not None and hasattr(mod, "decode") else None


def memset(buf: np.ndarray) -> None:
    """Zero ``buf`` with libc's memset, one thread: the bandwidth floor comparator."""
    ctypes.memset(buf.ctypes.data, 0, buf.nbytes)


def memset_threads(buf: np.ndarray, t: int, stack: contextlib.ExitStack) -> Callable[[], None]:
    """A call that zeroes ``buf`` with libc's memset on ``t`` equal chunks in
    ``t`` Python threads (ctypes releases the GIL), the pool closed with
    ``stack``: the T-thread bandwidth bound next to a threaded case."""
    from concurrent.futures import ThreadPoolExecutor
    pool = stack.enter_context(ThreadPoolExecutor(t))
    chunks = [c for c in np.array_split(buf.reshape(-1), t) if c.size]

    def run() -> None:
        list(pool.map(memset, chunks))

    return run


def calls(*fns: Callable[[], Any]) -> Callable[[], None]:
    """One timed call that runs ``fns`` in order (say, a decode, then a peer's resize)."""
    def run() -> None:
        for fn in fns:
            fn()

    return run


def faulted(shape: Tuple[int, ...], dtype: Any = np.uint8) -> np.ndarray:
    """A new array of ones with every page touched now: first-touch page
    faults are not what the cases time."""
    buf = np.empty(shape, dtype)
    buf.fill(1)
    return buf


def touch(buf: np.ndarray) -> Callable[[], None]:
    """Untimed setup that rewrites ``buf`` so it is resident before a timed call.

    On VMs the host may reclaim pages that sat idle while another comparator
    ran (seen here: a 9 ms decode jumping to 20-900 ms after a 1 s
    pycocotools call); rewriting keeps "warm" meaning warm for everyone.
    """
    def setup() -> None:
        ctypes.memset(buf.ctypes.data, 1, buf.nbytes)

    return setup


# --- data -------------------------------------------------------------------------


class BenchData:
    """Inputs shared by the cases, built lazily so a single case stays cheap."""

    def __init__(self, cfg: BenchConfig) -> None:
        self.cfg = cfg
        self._memo: Dict[str, Any] = {}

    def cached(self, key: str, factory: Callable[[], Any]) -> Any:
        """Build ``factory()`` once per run under ``key``: case modules share inputs this way."""
        if key not in self._memo:
            self._memo[key] = factory()
        return self._memo[key]

    @cached_property
    def rles(self) -> list[dict]:
        c = self.cfg
        return synthetic.family_masks(c.family, c.masks, c.h, c.w, seed=c.seed)

    @cached_property
    def warm(self) -> np.ndarray:
        return faulted((self.cfg.masks, self.cfg.h, self.cfg.w))

    @cached_property
    def zero_buf(self) -> np.ndarray:
        return faulted((self.cfg.masks, self.cfg.h, self.cfg.w))

    @cached_property
    def ref_c(self) -> np.ndarray | None:
        """Reference decode, C-order (N,H,W), for verification."""
        pm = import_or_none("pycocotools.mask")
        if pm is None:
            return None
        return np.ascontiguousarray(pm.decode(self.rles).transpose(2, 0, 1))

    @cached_property
    def dense_c(self) -> np.ndarray:
        """(encode_masks, H, W) bool, C-order, for the encode case."""
        c = self.cfg
        _, d = synthetic.family_masks(c.family, c.encode_masks, c.h, c.w, seed=c.seed + 1, dense=True)
        return d

    @cached_property
    def coco_rles(self) -> list[dict]:
        c = self.cfg
        return synthetic.coco_like(c.coco_masks, c.coco_h, c.coco_w, seed=c.seed)

    @cached_property
    def iou_pair(self) -> tuple[list[dict], list[dict]]:
        c = self.cfg
        dt = synthetic.coco_like(c.iou_n, c.iou_size, c.iou_size, seed=c.seed + 2)
        gt = synthetic.coco_like(c.iou_n, c.iou_size, c.iou_size, seed=c.seed + 3)
        return dt, gt


# --- cases ------------------------------------------------------------------------
# A case builder returns (comparators, ratio specs, notes, verify). A ratio spec
# is (label, numerator key, denominator key, op, target); op "" = info only; a
# numerator "a|b" is the fastest of a and b, named in the label; a denominator
# "@S" is a fixed time of S seconds (a rate target: work / rate).

WARM_NOTE = "the warm buffer is rewritten (memset) before every timed call, untimed"
RatioSpec = Tuple[str, str, str, str, Optional[float]]
# Sequence, not List: a builder's list of (..., float) specs is a valid Sequence[RatioSpec].
CaseSpec = Tuple[List[Comparator], Sequence[RatioSpec], List[str], Optional[Callable[[], Optional[bool]]]]
Builder = Callable[[BenchData, contextlib.ExitStack], CaseSpec]


def skip_note(what: str) -> str:
    """The note a case adds when comparator ``what`` is missing."""
    return f"{what} not installed: skipped"


@dataclass(frozen=True)
class CaseDef:
    """A registered case: table id, title, builder and the modes that include it."""

    id: str
    title: str
    builder: Builder
    modes: Tuple[str, ...]
    min_repeats: int = 0  # at least this many rounds (outside --quick)
    per_family: bool = False  # runs once per shape family of cfg.families


# name -> CaseDef, in table order (registration order).
CASES: Dict[str, CaseDef] = {}


def register(name: str, cid: str, title: str, builder: Builder,
             modes: Sequence[str] = ("all",), min_repeats: int = 0, per_family: bool = False) -> None:
    """Add a case. ``modes`` lists the ``--mode`` values that run it; a case
    outside ``"all"`` runs only when named with ``--case``. ``min_repeats``
    raises the rounds of a case whose ratio is near 1 and whose samples are
    long enough for the machine's noise to move the median. ``per_family``
    marks a case that reads the SA-1B-size masks (``BenchData.rles``,
    ``dense_c``): it runs once per shape family asked for."""
    if name in CASES:
        raise ValueError(f"bench case {name!r} registered twice")
    CASES[name] = CaseDef(cid, title, builder, tuple(modes), min_repeats, per_family)


def case_aliases() -> Dict[str, List[str]]:
    """Table id -> case names (``--case f`` runs every case with id f)."""
    out: Dict[str, List[str]] = {}
    for name, c in CASES.items():
        out.setdefault(c.id, []).append(name)
    return out


def modes() -> Dict[str, List[str]]:
    """Mode -> case names."""
    out: Dict[str, List[str]] = {}
    for name, c in CASES.items():
        for m in c.modes:
            out.setdefault(m, []).append(name)
    return out


def select_cases(cfg: BenchConfig) -> List[str]:
    """Case names to run, in table order: ``cfg.cases`` if given, else by mode."""
    if cfg.cases:
        wanted: set = set()
        aliases = case_aliases()
        for n in cfg.cases:
            if n in CASES:
                wanted.add(n)
            elif n in aliases:
                wanted.update(aliases[n])
            else:
                raise ValueError(f"unknown case {n!r}; choose from "
                                 f"{sorted(CASES) + sorted(set(aliases) - set(CASES))}")
    else:
        m = modes()
        if cfg.mode not in m:
            raise ValueError(f"unknown mode {cfg.mode!r}; choose from {sorted(m)}")
        wanted = set(m[cfg.mode])
    return [n for n in CASES if n in wanted]


# --- running ------------------------------------------------------------------------


class _Progress:
    """tqdm on stderr if installed, else one line per case."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.bar = enabled, None
        if enabled:
            tqdm = getattr(import_or_none("tqdm"), "tqdm", None)
            if tqdm is not None:
                self.bar = tqdm(file=sys.stderr, unit="call", leave=False)

    def case(self, name: str, i: int, n: int) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.set_description(f"{name} ({i}/{n})")
        else:
            print(f"fastrle bench: case {i}/{n}: {name} ...", file=sys.stderr, flush=True)

    def tick(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _ratio(spec: RatioSpec, med: dict[str, float]) -> Ratio:
    label, num, den, op, target = spec
    if "|" in num:  # "a|b|c": the fastest of those timed (say, the fastest rival)
        timed = [k for k in num.split("|") if k in med]
        num = min(timed, key=med.__getitem__) if timed else ""
    pick = num.rsplit(":", 1)[-1] if "|" in spec[1] else ""
    if den.startswith("@"):
        med = dict(med, **{den: float(den[1:])})
    if num not in med or den not in med or med[den] <= 0:
        return Ratio(label, None, op, target, "SKIP")
    v = med[num] / med[den]
    if not op or target is None:
        return Ratio(label, v, op, target, "INFO", pick)
    ok = v >= target if op == ">=" else v <= target
    return Ratio(label, v, op, target, "PASS" if ok else "FAIL", pick)


def measure(res: CaseResult, spec: CaseSpec, repeats: int, min_sample_s: float,
            tick: Optional[Callable[[], None]] = None) -> CaseResult:
    """Verify and time one built case into ``res``: medians, minimums and ratios."""
    comps, ratios, notes, verify = spec
    res.notes.extend(notes)
    if verify is not None:
        try:
            res.verified = verify()
        except Exception as e:  # a crash is a failed verification, not a skip
            res.verified = False
            res.notes.append(f"verification raised {type(e).__name__}: {e}")
    times = time_interleaved(comps, repeats, min_sample_s, tick)
    med: Dict[str, float] = {}
    for c in comps:
        s, number = times[c.key]
        med[c.key] = statistics.median(s)
        res.timings.append(Timing(c.key, c.name, med[c.key] * 1e3, min(s) * 1e3, len(s), number))
    res.ratios = [_ratio(r, med) for r in ratios]
    return res


def run_case(name: str, data: BenchData, progress: Optional[_Progress] = None) -> CaseResult:
    """Build, verify and time one registered case."""
    c = CASES[name]
    res = CaseResult(name, c.id, c.title, family=data.cfg.family if c.per_family else "")
    with contextlib.ExitStack() as stack:
        repeats = data.cfg.repeats if data.cfg.quick else max(data.cfg.repeats, c.min_repeats)
        measure(res, c.builder(data, stack), repeats, data.cfg.min_sample_s,
                progress.tick if progress else None)
    if name == "threads":
        res.notes.append(_threads_limit(res))
        _judge_threads(res)
    return res


def _judge_threads(res: CaseResult) -> None:
    """The thread target is one of two: >= 1.5x over one thread, or, where a
    multi-threaded memset itself does not scale (the bandwidth wall), within
    10% of that memset. Only the applicable line keeps PASS/FAIL."""
    mem = next((x for x in res.ratios if x.label.startswith("memset")), None)
    speedup = next((x for x in res.ratios if x.label.startswith("fastrle 1t")), None)
    vs_mem = next((x for x in res.ratios if x.label.startswith("fastrle") and "memset" in x.label), None)
    if mem is None or mem.value is None or speedup is None or vs_mem is None:
        return
    if mem.value < 1.5 and speedup.status == "FAIL":
        speedup.status = "INFO"  # bandwidth wall: judged by the memset line
    elif mem.value >= 1.5 and vs_mem.status == "FAIL":
        vs_mem.status = "INFO"


def _threads_limit(res: CaseResult) -> str:
    """Say whether the thread target is reachable on this machine."""
    r = {x.label.split(" (")[0]: x.value for x in res.ratios}
    mem = next((v for k, v in r.items() if k.startswith("memset")), None)
    if mem is None:
        return "thread limit: unknown"
    if mem < 1.5:
        return (f"limit: memory bandwidth (or busy cores) — a multi-threaded memset only gains "
                f"{mem:.2f}x here, so the >= 1.5x thread target is bounded by it; judge by "
                "'fastrle Tt / memset Tt'")
    return f"limit: compute — memset scales {mem:.2f}x with threads, so fastrle can too"


def run(cfg: BenchConfig, progress: bool = True) -> list[CaseResult]:
    """Run the selected cases and return their results, in table order."""
    names = select_cases(cfg)
    for f in cfg.families:
        if f not in synthetic.FAMILIES:
            raise ValueError(f"unknown shape family {f!r}; choose from {list(synthetic.FAMILIES)}")
    # (case, family): a per-family case once per family, the first family's data for the others
    jobs = [(n, f) for f in cfg.families for n in names
            if CASES[n].per_family or f == cfg.families[0]]
    datas = {f: BenchData(replace(cfg, family=f)) for f in cfg.families}
    prog = _Progress(enabled=progress)
    out = []
    try:
        for i, (n, f) in enumerate(jobs, 1):
            prog.case(n if len(cfg.families) == 1 else f"{n} [{f}]", i, len(jobs))
            out.append(run_case(n, datas[f], prog))
            if all(j[1] != f for j in jobs[i:]):
                datas.pop(f, None)  # frees this family's buffers (337 MB each at full size)
    finally:
        prog.close()
    return out


def worst_by_family(results: Iterable[CaseResult]) -> List[Tuple[str, Ratio, str, int]]:
    """Per (case, ratio label) of the per-family cases, the worst ratio over the families:
    ``(case, ratio, family, families seen)``. Worst is the one furthest on the failing
    side of its target (lowest for ``>=``, highest for ``<=``; lowest when info only),
    among the families where it is a target (a ratio may be one for some families and
    information for others)."""
    groups: Dict[Tuple[str, str], List[Tuple[Ratio, str]]] = {}
    for r in results:
        if not r.family:
            continue
        for x in r.ratios:
            if x.value is not None:
                groups.setdefault((r.case, x.label), []).append((x, r.family))
    out = []
    for (case, _), rs in groups.items():
        pool = [t for t in rs if t[0].op] or rs
        pick = max if pool[0][0].op == "<=" else min
        x, fam = pick(pool, key=lambda t: t[0].value or 0.0)
        out.append((case, x, fam, len(rs)))
    return out


def format_worst(results: Iterable[CaseResult]) -> str:
    """The worst family per target, as a table; empty when only one family ran."""
    rows = worst_by_family(results)
    if not rows or max(n for *_, n in rows) < 2:
        return ""
    lines = ["worst shape family per target:"]
    for case, x, fam, n in rows:
        tgt = f"{x.op} {x.target:g}" if x.op else "info"
        lines.append(f"   {case:<10} {x.label:<40} {_fmt(x.value, 2):>8}   {fam:<8} (of {n})   "
                     f"target {tgt:<8} {x.status}" + (f"  ({x.pick})" if x.pick else ""))
    return "\n".join(lines)


def unjudged(results: list[CaseResult]) -> None:
    """At --quick sizes per-call overhead dominates and the targets, set for
    the full-size run, do not apply: keep the ratios, drop PASS/FAIL."""
    for res in results:
        judged = [r for r in res.ratios if r.status in ("PASS", "FAIL")]
        for r in judged:
            r.status = "INFO"
        if judged:
            res.notes.append("quick sizes: targets apply to the full-size run, shown for information")


# --- output -------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    """Versions and machine facts that the numbers depend on."""
    env: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(),
                           "cpu_count": os.cpu_count(), "numpy": np.__version__}
    # Other processes skew every timing; the load average says how much.
    env["loadavg"] = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
    for mod in COMPARATOR_MODULES:
        env[mod] = version_of(mod)
    fr = fastrle_or_none()
    if fr is not None:
        env["fastrle parse kernel"] = fr.parse_isa()
    return env


# Distributions whose versions the table names (import name -> distribution).
COMPARATOR_MODULES = ("fastrle", "pycocotools", "rlemasklib", "hotcoco", "ultrafast_pycocotools",
                      "faster_coco_eval", "torch", "torchvision", "cv2")
_DIST = {"cv2": "opencv-python-headless", "faster_coco_eval": "faster-coco-eval",
         "ultrafast_pycocotools": "ultrafast-pycocotools"}


def version_of(mod: str) -> Optional[str]:
    """Installed version of comparator ``mod``, or None when it is not importable."""
    from importlib import metadata

    if import_or_none(mod) is None:
        return None
    for dist in (_DIST.get(mod, mod), mod):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return str(getattr(sys.modules[mod], "__version__", "installed"))


def to_json_obj(results: Iterable[CaseResult], cfg: BenchConfig) -> dict[str, Any]:
    """JSON-serialisable dict: ``{"environment", "config", "cases"}``."""
    results = list(results)
    return {"environment": environment(), "config": asdict(cfg),
            "cases": [asdict(r) for r in results],
            "worst_family": [{"case": c, "family": f, "families": n, **asdict(x)}
                             for c, x, f, n in worst_by_family(results)]}


def _fmt(v: float | None, digits: int = 3) -> str:
    if v is None:
        return "-"
    if v < 0.1:  # per-call times of a few microseconds keep 3 significant digits
        return f"{v:.3g}" if v > 0 else "0"
    return f"{v:.{digits}f}" if v < 10 else f"{v:.1f}"


def format_table(results: Iterable[CaseResult]) -> str:
    """Plain-text table: timings per case, then its ratio checks."""
    results = list(results)
    lines = []
    for r in results:
        v = {None: "", True: "  [output verified]", False: "  [OUTPUT MISMATCH]"}[r.verified]
        fam = f" [{r.family}]" if r.family else ""
        lines.append(f"{r.id}. {r.case}{fam}: {r.title}{v}")
        width = max([len(t.name) for t in r.timings] + [20])
        lines.append(f"   {'comparator':<{width}}  {'median ms':>10}  {'min ms':>10}  {'reps':>4}")
        for t in r.timings:
            lines.append(f"   {t.name:<{width}}  {_fmt(t.median_ms):>10}  {_fmt(t.min_ms):>10}  "
                         f"{t.repeats:>4}" + (f" x{t.number}" if t.number > 1 else ""))
        for x in r.ratios:
            tgt = f"{x.op} {x.target:g}" if x.op else "info"
            lines.append(f"   ratio {x.label:<40} {_fmt(x.value, 2):>8}   target {tgt:<8} {x.status}"
                         + (f"  ({x.pick})" if x.pick else ""))
        for n in r.notes:
            lines.append(f"   note: {n}")
        lines.append("")
    worst = format_worst(results)
    if worst:
        lines += [worst, ""]
    summary = [x.status for r in results for x in r.ratios]
    lines.append(f"targets: {summary.count('PASS')} PASS, {summary.count('FAIL')} FAIL, "
                 f"{summary.count('SKIP')} SKIP")
    return "\n".join(lines)


def plot(results: list[CaseResult], path: str) -> None:
    """Bar chart of median ms per comparator, one panel per case (needs matplotlib)."""
    require("matplotlib", "--plot").use("Agg")  # no display needed
    plt = require("matplotlib.pyplot", "--plot")
    n = len(results)
    fig, axes = plt.subplots(n, 1, figsize=(9, 1.2 + 0.45 * sum(len(r.timings) for r in results) + 0.6 * n),
                             squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        ts = [t for t in r.timings if t.median_ms is not None]
        names = [t.key for t in ts]
        vals = [t.median_ms for t in r.timings if t.median_ms is not None]
        colors = ["tab:orange" if k.startswith("fastrle") else "tab:gray" for k in names]
        ax.barh(names, vals, color=colors)
        for y, v in enumerate(vals):
            ax.text(v, y, f" {_fmt(v)} ms", va="center", fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{r.id}. {r.case}: {r.title}", fontsize=9, loc="left")
        ax.set_xlabel("median ms (lower is better)", fontsize=8)
        ax.tick_params(labelsize=8)
        if vals:
            ax.set_xlim(0, max(vals) * 1.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
