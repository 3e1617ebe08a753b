"""Check fastrle.mask against pycocotools.mask on annotation files, in this process.

:func:`validate_files` runs, file after file, the very check that
:func:`fastrle.jobs.validate` runs as one Dask task per file
(:func:`fastrle.jobs.tasks.validate_source`), and returns the same
:class:`~fastrle.jobs.ValidateSummary`: the same counts and the same verdict
for the same files, whichever way they are checked. It needs neither Dask
nor pyarrow. What is compared is described in docs/validate.md.
"""

from __future__ import annotations

import os
import time
from types import ModuleType
from typing import List, Optional, Sequence, Union

from .jobs.api import ValidateSummary
from .optional import require
from .jobs.sources import expand_sources
from .jobs.tasks import validate_source

__all__ = ["validate_files"]


def validate_files(paths: Union[str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]],
                   fm: Optional[ModuleType] = None,
                   pm: Optional[ModuleType] = None) -> ValidateSummary:
    """Compare ``fm`` (default fastrle.mask) with ``pm`` (default
    pycocotools.mask) on every RLE of ``paths`` (files, directories, globs, as
    :func:`fastrle.jobs.sources.expand_sources` reads them), one after another.

    Bad data never raises: an unreadable or unparsable file is a ``"source"``
    problem, a broken annotation a ``"malformed"`` one.

    Raises:
        ImportError if pycocotools is missing (and ``pm`` not given);
        ValueError for a glob or directory that matches nothing.
    """
    if pm is None:
        pm = require("pycocotools.mask", "fastrle.validate")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    items: List[str] = expand_sources([os.fspath(p) for p in paths])
    t0 = time.perf_counter()
    results = [validate_source(p, fm=fm, pm=pm) for p in items]
    return ValidateSummary.of(results, time.perf_counter() - t0, workers=0)
