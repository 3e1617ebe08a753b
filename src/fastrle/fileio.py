"""File I/O shared by every reader and writer: the JSON backend and the atomic write.

- :func:`loads` / :func:`dumps`: orjson when installed (3-10x faster on
  SA-1B files), else the ``json`` module; both give plain dicts and lists.
- :func:`atomic_write`: a file appears complete or not at all.
"""
from __future__ import annotations

import json
import os
import uuid
from types import ModuleType
from typing import Any, Callable, Optional, Union

__all__ = ["JSONError", "loads", "dumps", "read_json", "json_backend", "atomic_write", "is_temp_name",
           "TEMP_SUFFIX"]

_orjson: Optional[ModuleType]
try:
    import orjson as _orjson
except ImportError:  # pragma: no cover - depends on the environment
    _orjson = None

JSONError = json.JSONDecodeError
"""What :func:`loads` raises for invalid JSON (orjson's error is a subclass); a ValueError."""

TEMP_SUFFIX = ".part"
"""Suffix of the temporary files :func:`atomic_write` writes (with a leading dot)."""


def json_backend() -> str:
    """Name of the JSON parser in use: ``"orjson"`` or ``"json"``."""
    return "orjson" if _orjson is not None else "json"


def loads(data: Union[bytes, bytearray, memoryview, str]) -> Any:
    """Parse JSON text. Raises :data:`JSONError` (a ValueError) for invalid
    JSON, bytes that are not UTF-8 included."""
    if _orjson is not None:
        return _orjson.loads(data)
    if isinstance(data, (bytes, bytearray, memoryview)):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as e:
            raise JSONError(f"not UTF-8: {e.reason}", "", e.start) from None
    return json.loads(data)


def dumps(obj: Any) -> bytes:
    """JSON text of ``obj`` as UTF-8 bytes."""
    if _orjson is not None:
        return _orjson.dumps(obj)
    return json.dumps(obj).encode("utf-8")


def read_json(path: Union[str, "os.PathLike[str]"]) -> Any:
    """Read and parse one JSON file. Raises OSError, or ValueError for invalid JSON."""
    with open(path, "rb") as f:
        return loads(f.read())


def is_temp_name(name: str) -> bool:
    """Whether a base name is one of :func:`atomic_write`'s temporary files
    (a leftover of a writer that was killed)."""
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def atomic_write(path: Union[str, "os.PathLike[str]"], write: Callable[[str], Any]) -> None:
    """Create or replace ``path`` so that readers see the old file or the new one, never a part.

    ``write(tmp)`` writes the new content to ``tmp``, a fresh name in the
    same folder (``.<name>.<random>.part``); the file is then flushed to disk
    and renamed over ``path``. If anything raises, the temporary file is
    removed, ``path`` is left as it was, and the error propagates.
    """
    path = os.fspath(path)
    d, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(d, f".{base}.{uuid.uuid4().hex}{TEMP_SUFFIX}")
    try:
        write(tmp)
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)  # the data is on disk before the name points at it
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.remove(tmp)
        except OSError:
            pass
        raise
