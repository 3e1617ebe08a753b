"""Whole datasets on a Dask cluster: ``fastrle index`` and ``fastrle validate``.

- :func:`index`: one Parquet part per source (SA-1B tar shard or JSON file),
  one row per mask with its metadata; resumable.
- :func:`validate`: every mask's decode against pycocotools, bit for bit, and
  its ``area``/``bbox`` against the file's own fields.
- :func:`read_index` / :func:`read_errors`: the index and its problems as
  ``pyarrow.Table``.

Needs the ``dask`` extra (``pip install 'fastrle[dask]'``); importing this
package does not, the functions raise ImportError saying what to install.

- :mod:`.sources`: expanding ``SRC`` arguments, reading one source;
- :mod:`.tasks`: the per-source work that runs on the workers;
- :mod:`.api`: clusters, progress and summaries.
"""
from .api import (DASK_HINT, IndexSummary, ValidateSummary, index, read_errors, read_index,
                  require_dask, validate)
from .sources import Problem, expand_sources, part_name
from .tasks import SourceResult, index_schema, index_source, report_schema, validate_source

__all__ = ["index", "validate", "read_index", "read_errors", "IndexSummary", "ValidateSummary",
           "SourceResult", "Problem", "expand_sources", "part_name", "index_schema",
           "report_schema", "index_source", "validate_source", "require_dask", "DASK_HINT"]
