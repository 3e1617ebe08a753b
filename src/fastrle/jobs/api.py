"""``fastrle.jobs.index`` / ``validate`` / ``read_index``: whole datasets on Dask.

One Dask task per source (see :mod:`fastrle.jobs.sources`); the client only
submits tasks, shows progress and gathers small per-source results. By
default a ``LocalCluster`` of processes, one single-threaded worker per CPU,
is started and closed around the job; ``client=`` (a ``distributed.Client``)
or ``scheduler=`` (an address such as ``tcp://host:8786``) uses an existing
cluster, whose workers must have fastrle installed and see the same paths.
"""
from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple, Union

from .. import fileio
from ..optional import install_hint, require
from .sources import Problem, expand_sources
from .tasks import (ERRORS_DIR, SourceResult, index_schema, index_source, problems_table,
                    report_schema, validate_source)

__all__ = ["index", "validate", "read_index", "read_errors", "IndexSummary", "ValidateSummary",
           "require_dask", "DASK_HINT", "cluster", "map_sources"]

DASK_HINT = install_hint("distributed")
PathList = Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]


def require_dask(what: str = "fastrle index/validate on a cluster") -> None:
    """Raise ImportError saying what to install (for ``what``) when Dask or pyarrow is missing."""
    for mod in ("distributed", "pyarrow"):
        require(mod, what)


# --- summaries ----------------------------------------------------------------------


@dataclass
class _Summary:
    sources: int = 0
    images: int = 0
    masks: int = 0
    seconds: float = 0.0
    workers: int = 0
    results: List[SourceResult] = field(default_factory=list, repr=False)

    def _count(self, kind: str) -> int:
        return sum(1 for r in self.results for p in r.problems if p.kind == kind)

    @property
    def source_errors(self) -> Dict[str, List[str]]:
        """Source path -> reasons it (or a member of it) could not be read."""
        out: Dict[str, List[str]] = {}
        for r in self.results:
            for p in r.problems:
                if p.kind == "source":
                    out.setdefault(r.source, []).append(p.reason)
        return out

    @property
    def malformed(self) -> int:
        """Annotations that are broken (missing or ill-typed fields, invalid RLEs)."""
        return self._count("malformed")

    @property
    def problems(self) -> List[tuple]:
        """Every problem as ``(source, Problem)``, in source order."""
        return [(r.source, p) for r in self.results for p in r.problems]

    def report_table(self) -> Any:
        """Every problem as a pyarrow table ``source, image_id, index, reason``."""
        import pyarrow as pa

        tables = [problems_table(r.source, r.problems) for r in self.results if r.problems]
        return pa.concat_tables(tables) if tables else report_schema().empty_table()

    @property
    def masks_per_s(self) -> float:
        """Masks per second of wall time."""
        return self.masks / self.seconds if self.seconds > 0 else 0.0

    def _lines(self) -> List[str]:
        errs = self.source_errors
        where = f"workers: {self.workers}" if self.workers else "in process (no Dask)"
        lines = [f"sources: {self.sources} ({len(errs)} with errors), images: {self.images}, "
                 f"{where}, {self.seconds:.1f} s ({self.masks_per_s:,.0f} masks/s)"]
        return lines

    def _tail(self) -> List[str]:
        lines = []
        for src, reasons in self.source_errors.items():
            lines.append(f"  {src}: " + "; ".join(reasons[:3])
                         + (f" (+{len(reasons) - 3} more)" if len(reasons) > 3 else ""))
        return lines


@dataclass
class IndexSummary(_Summary):
    """What :func:`index` did. ``written``/``skipped``/``unreadable`` count sources
    (``unreadable``: no part written, could not be opened or its task failed)."""

    out: str = ""
    written: int = 0
    skipped: int = 0
    unreadable: int = 0

    def text(self) -> str:
        """Human-readable summary."""
        lines = [f"index: {self.out}"] + self._lines()
        lines.append(f"parts written: {self.written}, skipped (already done): {self.skipped}, "
                     f"not indexed (unreadable or failed; retried next run): {self.unreadable}")
        lines.append(f"masks: {self.masks}, malformed entries: {self.malformed}, "
                     f"source errors: {self._count('source')}")
        return "\n".join(lines + self._tail())


@dataclass
class ValidateSummary(_Summary):
    """What :func:`validate` found; ``ok`` is True when there is no problem at all."""

    polygons: int = 0

    @classmethod
    def of(cls, results: List[SourceResult], seconds: float, workers: int) -> "ValidateSummary":
        """The summary of per-source results (``workers`` 0: run in this process)."""
        s = cls(sources=len(results), seconds=seconds, workers=workers, results=results)
        for r in results:
            s.images += r.images
            s.masks += r.masks
            s.polygons += r.polygons
        return s

    @property
    def mismatches(self) -> int:
        """Masks whose decode differs from pycocotools', or whose area/bbox differ from the file."""
        return self._count("mismatch")

    @property
    def ok(self) -> bool:
        """No mismatch, malformed entry or source error."""
        return not any(r.problems for r in self.results)

    def text(self, listed: int = 20) -> str:
        """Human-readable summary, listing the first ``listed`` problems."""
        lines = ["validate"] + self._lines()
        lines.append(f"masks checked: {self.masks}, polygons skipped: {self.polygons}")
        lines.append(f"mismatches: {self.mismatches}, malformed entries: {self.malformed}, "
                     f"source errors: {self._count('source')}")
        probs = self.problems
        for src, p in probs[:listed]:
            where = "" if p.image_id is None and p.index is None else \
                f" image {p.image_id} annotation {p.index}"
            lines.append(f"  {os.path.basename(src)}{where}: {p.kind}: {p.reason}")
        if len(probs) > listed:
            lines.append(f"  ... and {len(probs) - listed} more (see --report)")
        return "\n".join(lines)


# --- cluster and progress ---------------------------------------------------------------


@contextlib.contextmanager
def cluster(client: Any = None, scheduler: Optional[str] = None,
            workers: Optional[int] = None) -> Iterator[Any]:
    """A ``distributed.Client`` for a job: ``client`` itself, one connected to
    ``scheduler`` (an address such as ``tcp://host:8786``), or one of a
    ``LocalCluster`` of ``workers`` single-threaded processes (default: one
    per CPU) started here and closed on exit. Raises ImportError naming
    what to install without Dask or pyarrow."""
    require_dask()
    if client is not None:
        yield client
        return
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as c:
            yield c
        return
    n = workers or os.cpu_count() or 1
    # processes: the decoders release the GIL, but JSON parsing does not.
    # ":0": the scheduler's HTTP server on a free port, not a clash on 8787
    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


class _Progress:
    """One live line on stderr: sources done/total, masks/s, errors. Off unless
    stderr is a terminal."""

    def __init__(self, what: str, total: int, enabled: Optional[bool] = None) -> None:
        self.what, self.total = what, total
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.done = self.masks = self.errors = 0
        self.t0 = time.perf_counter()

    def update(self, r: SourceResult) -> None:
        self.done += 1
        self.masks += r.masks
        self.errors += len(r.problems)
        if self.enabled:
            rate = self.masks / max(time.perf_counter() - self.t0, 1e-9)
            sys.stderr.write(f"\rfastrle {self.what}: {self.done}/{self.total} sources, "
                             f"{self.masks:,} masks, {rate:,.0f} masks/s, {self.errors} problems ")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _sources(sources: PathList) -> List[str]:
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    return expand_sources([os.fspath(s) for s in sources])


def map_sources(fn: Any, items: List[str], kwargs: Dict[str, Any], *, what: str, client: Any = None,
                scheduler: Optional[str] = None, workers: Optional[int] = None,
                progress: Optional[bool] = None) -> Tuple[List[Any], float, int]:
    """Run ``fn(source, **kwargs)`` for each source of ``items``, one Dask task
    each, on :func:`cluster` (``client``, ``scheduler``, ``workers``), with
    the progress line ``fastrle <what>: done/total sources, masks, masks/s,
    problems`` on stderr (``progress``: default when stderr is a terminal).

    ``fn`` returns a :class:`SourceResult` (or a subclass) for its source; a
    task that fails (an unexpected error, or a worker that died on it on
    every try) becomes a ``"failed"`` SourceResult with one ``"source"``
    problem. Returns (results in the order of ``items``, seconds, workers).
    """
    t0 = time.perf_counter()
    results: Dict[str, SourceResult] = {}
    with cluster(client, scheduler, workers) as c:
        from distributed import as_completed

        nworkers = len(c.nthreads())
        prog = _Progress(what, len(items), progress)
        try:
            # pure=False: a fresh key per job, so two jobs on one cluster never share results
            futs = c.map(fn, items, pure=False, **kwargs)
            source_of = {f.key: s for f, s in zip(futs, items)}
            for fut in as_completed(futs):
                try:
                    r = fut.result()
                except Exception as e:  # e.g. KilledWorker: it crashed every worker it ran on
                    r = SourceResult(source_of[fut.key], "failed", problems=[Problem(
                        "source", None, None, f"task failed: {type(e).__name__}: {e}")])
                results[r.source] = r
                prog.update(r)
        finally:
            prog.close()
    return [results[s] for s in items], time.perf_counter() - t0, nworkers


# --- public API ----------------------------------------------------------------------


def index(sources: PathList, out: Union[str, "os.PathLike[str]"], *, client: Any = None,
          features: bool = False, overwrite: bool = False, scheduler: Optional[str] = None,
          workers: Optional[int] = None, progress: Optional[bool] = None) -> IndexSummary:
    """Index SA-1B shards, SA-1B JSON directories and COCO files into a Parquet dataset.

    Args:
        sources: paths, directories or globs (see :func:`fastrle.jobs.sources.expand_sources`).
        out: output directory; one part file per source, one row per mask.
        client: a ``distributed.Client`` to run on (default: a LocalCluster,
            one process per CPU, started and closed here).
        features: add ``centroid_x``/``centroid_y`` computed on the runs.
        overwrite: redo sources whose part exists (default: skip them).
        scheduler, workers: without ``client``, the address of an existing
            scheduler, or the number of local worker processes.
        progress: live progress on stderr (default: when stderr is a terminal).

    Returns:
        An :class:`IndexSummary`. Bad sources never raise: they become
        problems, written to ``out/_errors/`` and counted in the summary.

    Raises:
        ImportError without Dask/pyarrow; ValueError for a glob or directory
        that matches nothing.
    """
    require_dask()
    items = _sources(sources)
    out = os.path.abspath(os.fspath(out))
    os.makedirs(os.path.join(out, ERRORS_DIR), exist_ok=True)
    for d in (out, os.path.join(out, ERRORS_DIR)):  # leftovers of killed writers
        for n in os.listdir(d):
            if fileio.is_temp_name(n):
                with contextlib.suppress(OSError):
                    os.remove(os.path.join(d, n))
    res, secs, nw = map_sources(index_source, items, dict(out=out, features=features, overwrite=overwrite),
                                what="index", client=client, scheduler=scheduler, workers=workers,
                                progress=progress)
    s = IndexSummary(sources=len(items), seconds=secs, workers=nw, results=res, out=out)
    for r in res:
        s.images += r.images
        s.masks += r.masks
        s.written += r.status == "written"
        s.skipped += r.status == "skipped"
        s.unreadable += r.status in ("unreadable", "failed")
    return s


def validate(sources: PathList, *, client: Any = None, scheduler: Optional[str] = None,
             workers: Optional[int] = None, progress: Optional[bool] = None) -> ValidateSummary:
    """Check every mask of a dataset: fastrle's decode against pycocotools' bit
    for bit, and ``area``/``bbox`` against the file's own fields under the
    file's convention (docs/validate.md). The same check, counts and verdict
    as :func:`fastrle.validate.validate_files`, which runs without Dask.

    ``sources``, ``client``, ``scheduler``, ``workers`` and ``progress`` are
    as for :func:`index`. Workers need pycocotools. An RLE that fastrle
    rejects is a malformed entry and is not handed to pycocotools, whose
    behaviour on invalid RLEs is undefined. Polygons are counted and skipped.

    Returns:
        A :class:`ValidateSummary`; ``.ok`` is True when nothing is wrong and
        ``.report_table()`` lists every problem.
    """
    require_dask()
    items = _sources(sources)
    res, secs, nw = map_sources(validate_source, items, {}, what="validate", client=client, scheduler=scheduler,
                                workers=workers, progress=progress)
    return ValidateSummary.of(res, secs, nw)


def _parts(path: str, sub: str = "") -> List[str]:
    d = os.path.join(path, sub)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, n) for n in os.listdir(d)
                  if n.startswith("part-") and n.endswith(".parquet"))


def read_index(path: Union[str, "os.PathLike[str]"]) -> Any:
    """The index at ``path`` as one ``pyarrow.Table``: parts in name order, rows
    in source order. Parts without the feature columns get nulls there."""
    require_dask()
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(p) for p in _parts(os.fspath(path))]
    if not tables:
        return index_schema().empty_table()
    return pa.concat_tables(tables, promote_options="default").replace_schema_metadata(None)


def read_errors(path: Union[str, "os.PathLike[str]"]) -> Any:
    """The problems an index met, ``source, image_id, index, reason``, as a ``pyarrow.Table``."""
    require_dask()
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = [pq.read_table(p) for p in _parts(os.fspath(path), ERRORS_DIR)]
    return pa.concat_tables(tables) if tables else report_schema().empty_table()

