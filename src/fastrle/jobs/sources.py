"""What a job works on: expanding ``SRC`` arguments into sources, and reading
one source into blocks of raw annotation objects.

A *source* is one task and one part of the output: an SA-1B tar shard, or
one JSON file (a COCO annotation file, a COCO results file, or an SA-1B
per-image file). A directory stands for the ``.json`` files and tar shards
directly inside it; a pattern with ``*``, ``?`` or ``[`` is a glob.

Reading never raises for bad data: :func:`read_source` yields the blocks it
could read and records every problem on the way (``Problem`` tuples), so a
truncated shard still gives every image before the damage.
"""
from __future__ import annotations

import glob
import hashlib
import os
import re
from typing import Iterator, List, NamedTuple, Optional

from .. import fileio
from ..annotations import Document, document

__all__ = ["Problem", "Block", "expand_sources", "source_kind", "part_name", "read_source",
           "SHARD_SUFFIXES"]

SHARD_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
_GLOB_CHARS = re.compile(r"[*?\[]")


class Problem(NamedTuple):
    """One problem found in a source: a row of the report.

    ``kind`` is ``"mismatch"`` (the mask disagrees with the reference or with
    the file's own ``area``/``bbox``), ``"malformed"`` (one annotation is
    broken) or ``"source"`` (a file or shard member could not be read).
    ``image_id`` and ``index`` (the annotation's position in its file's, or
    image's, ``"annotations"`` list) are None where they do not apply.
    """

    kind: str
    image_id: Optional[int]
    # shadows tuple.index, as intended: the report's column is "index" (Problem is public)
    index: Optional[int]  # type: ignore[assignment]
    reason: str


Block = Document
"""Annotations read from one SA-1B image or one COCO file: a
:class:`fastrle.annotations.Document`."""


def source_kind(path: str) -> str:
    """``"shard"`` for a tar shard, else ``"json"``."""
    return "shard" if path.lower().endswith(SHARD_SUFFIXES) else "json"


def expand_sources(args: List[str]) -> List[str]:
    """Absolute paths of the sources named by ``args``, in order, without repeats.

    A directory gives its ``.json`` files and tar shards (sorted, not
    recursive); a glob gives its matches (sorted). A plain path is kept even
    if it does not exist: reading it becomes an error row, not a failed job.

    Raises:
        ValueError: a glob or directory that matches nothing.
    """
    out: List[str] = []
    seen = set()
    for a in args:
        a = os.fspath(a)
        if os.path.isdir(a):
            found = sorted(os.path.join(a, n) for n in os.listdir(a)
                           if n.lower().endswith((".json",) + SHARD_SUFFIXES)
                           and os.path.isfile(os.path.join(a, n)))
            if not found:
                raise ValueError(f"{a}: directory holds no .json files or tar shards")
        elif _GLOB_CHARS.search(a) and not os.path.exists(a):
            found = sorted(p for p in glob.glob(a) if os.path.isfile(p))
            if not found:
                raise ValueError(f"{a}: matches no file")
        else:
            found = [a]
        for p in found:
            p = os.path.abspath(p)
            if p not in seen:
                seen.add(p)
                out.append(p)
    return out


def part_name(source: str) -> str:
    """The output part of ``source``: its base name made file-system safe, plus
    a hash of the full path so that equal base names in different folders differ."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.basename(source))[:80].lstrip("._") or "source"
    h = hashlib.sha1(os.path.abspath(source).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"part-{stem}-{h}.parquet"


def _parse_block(data: bytes, where: str, problems: List[Problem]) -> Optional[Block]:
    """The block of one JSON document, or None with a problem reported."""
    try:
        return document(fileio.loads(data))
    except ValueError as e:  # invalid JSON, an unknown layout, a bad SA-1B image block
        what = str(e) if not isinstance(e, fileio.JSONError) else f"invalid JSON: {e}"
        problems.append(Problem("source", None, None, f"{where}: {what}"))
        return None


def read_source(path: str, problems: List[Problem]) -> Iterator[Block]:
    """Yield the blocks of one source; append every problem met to ``problems``.

    An invalid JSON member of a shard costs only that member. A truncated or
    corrupt shard ends the source after every complete member before the
    damage. Raises OSError only when the source cannot be opened at all (the
    caller decides; see :func:`fastrle.jobs.tasks.index_source`).
    """
    name = os.path.basename(path)
    if source_kind(path) == "json":
        with open(path, "rb") as f:
            b = _parse_block(f.read(), name, problems)
        if b is not None:
            yield b
        return
    from ..sa1b.shard import ShardError, iter_json_members

    open(path, "rb").close()  # unreadable: OSError for the caller, before any row
    try:
        for member, data in iter_json_members(path):
            b = _parse_block(data, member, problems)
            if b is not None:
                yield b
    except ShardError as e:
        problems.append(Problem("source", None, None, str(e).replace(path, name)))
    except OSError as e:  # read error in the middle: what came before stays
        problems.append(Problem("source", None, None, f"{name}: read error: {e}"))
