"""Stream SA-1B tar shards without extracting them.

A shard holds ``sa_N.jpg`` / ``sa_N.json`` pairs, next to each other.
:func:`iter_shard` reads it front to back in tarfile's streaming mode
(``'r|*'``: pipes, sockets and gzip/bz2/xz shards work), so memory holds one
pair at a time. With ``images=False`` an uncompressed, seekable shard is read
in ``'r:'`` mode instead, so JPEG payloads are skipped by seeking rather than
read; anything else falls back to streaming, which reads and discards them.

Truncation is an error, never a silent early stop: tarfile itself treats a
header cut short, or a missing end-of-archive block, as the end of the
archive. Here every way the archive can end is recorded, and anything but
the end-of-archive zero block raises :class:`ShardError`.
"""
from __future__ import annotations

import os
import tarfile
from typing import IO, Any, Iterator, List, Optional, Tuple, Union

from .annotation import SA1BAnnotation, SA1BFormatError, load

__all__ = ["ShardError", "iter_shard", "iter_json_members", "index_shard", "read_range", "ShardEntry"]

ShardSource = Union[str, "os.PathLike[str]", IO[bytes]]
ShardEntry = Tuple[str, Tuple[int, int], Optional[Tuple[int, int]]]
"""``(stem, (json offset, size), (jpeg offset, size) or None)``: index_shard lists only
stems that have a JSON."""


class ShardError(ValueError):
    """A shard that is truncated, corrupt or not a tar archive."""


class _RecordingTarInfo(tarfile.TarInfo):
    """Notes why header reading stopped, on the TarFile, before tarfile
    decides whether to treat it as a normal end."""

    @classmethod
    def fromtarfile(cls, tf: tarfile.TarFile) -> tarfile.TarInfo:  # type: ignore[override]
        try:
            return super().fromtarfile(tf)
        except tarfile.HeaderError as e:
            tf._fastrle_stop = e  # type: ignore[attr-defined]
            raise


def _check_end(tf: tarfile.TarFile, name: str) -> None:
    stop = getattr(tf, "_fastrle_stop", None)
    # EOFHeaderError and its siblings are tarfile's own but undocumented (typeshed omits them).
    if isinstance(stop, tarfile.EOFHeaderError):  # type: ignore[attr-defined]
        return
    why = {tarfile.EmptyHeaderError: "the data ends without the end-of-archive block",  # type: ignore[attr-defined]
           tarfile.TruncatedHeaderError: "the data ends inside a member header",  # type: ignore[attr-defined]
           }.get(type(stop))
    if why is None:
        why = f"bad header ({stop})" if stop is not None else "the archive ends early"
    raise ShardError(f"{name}: truncated or corrupt tar shard at byte {tf.offset}: {why}")


def _open(src: ShardSource, seek_ok: bool) -> Tuple[tarfile.TarFile, Optional[IO[bytes]], str]:
    """(tarfile, file to close or None, display name)."""
    own: Optional[IO[bytes]] = None
    if isinstance(src, (str, os.PathLike)):
        own = open(src, "rb")
        f: IO[bytes] = own
        name = os.fspath(src)
    elif hasattr(src, "read"):
        f = src
        name = str(getattr(src, "name", "<shard>"))
    else:
        raise TypeError(f"iter_shard() takes a path or a binary file object, got {type(src).__name__}")
    try:
        if seek_ok and getattr(f, "seekable", lambda: False)():
            start = f.tell()
            try:
                return tarfile.open(fileobj=f, mode="r:", tarinfo=_RecordingTarInfo), own, name
            except tarfile.ReadError:  # compressed or not a tar: let streaming mode decide
                f.seek(start)
        return tarfile.open(fileobj=f, mode="r|*", tarinfo=_RecordingTarInfo), own, name
    except tarfile.ReadError as e:
        if own is not None:
            own.close()
        raise ShardError(f"{name}: not a readable tar archive: {e}") from e
    except BaseException:
        if own is not None:
            own.close()
        raise


def _members(tf: tarfile.TarFile, name: str) -> Iterator[tarfile.TarInfo]:
    """Members one by one, then the truncation check."""
    while True:
        try:
            m = tf.next()
        except tarfile.ReadError as e:
            raise ShardError(f"{name}: truncated or corrupt tar shard: {e}") from e
        if m is None:
            break
        # tarfile keeps every TarInfo it has seen; drop them so memory stays flat.
        tf.members.clear()  # type: ignore[attr-defined]  # undocumented, as above
        yield m
    _check_end(tf, name)


def _split(member: str) -> Tuple[str, str]:
    stem, ext = os.path.splitext(member)
    return stem, ext.lower()


def _read_member(tf: tarfile.TarFile, m: tarfile.TarInfo, name: str) -> bytes:
    f = tf.extractfile(m)
    if f is None:
        return b""
    try:
        return f.read()
    except tarfile.ReadError as e:
        raise ShardError(f"{name}: truncated tar shard inside {m.name!r}: {e}") from e


def iter_shard(src: ShardSource, *, images: bool = True
               ) -> Iterator[Tuple[Any, Optional[bytes], SA1BAnnotation]]:
    """Yield ``(image_id, jpeg_bytes or None, annotation)`` per JSON in a shard.

    Args:
        src: path of a ``.tar`` (optionally compressed) shard, or a binary
            file object (a pipe works).
        images: also read each JSON's JPEG (``sa_N.jpg`` next to
            ``sa_N.json``). With False, only JSON payloads are read.

    ``jpeg_bytes`` is None with ``images=False``, or when the JSON has no
    JPEG next to it. Members other than ``.json``/``.jpg``/``.jpeg`` files are
    skipped. ``image_id`` is the annotation's ``image.image_id``.

    Raises:
        ShardError (a ValueError) for a truncated or corrupt shard, when the
        damage is reached; pairs before it have been yielded.
        SA1BFormatError naming the member, field and annotation index for a
        malformed JSON.
    """
    tf, own, name = _open(src, seek_ok=not images)
    try:
        stem: Optional[str] = None
        jpeg: Optional[bytes] = None
        ann: Optional[SA1BAnnotation] = None
        for m in _members(tf, name):
            if not m.isfile():
                continue
            s, ext = _split(m.name)
            if ext not in (".json", ".jpg", ".jpeg"):
                continue
            if s != stem:  # pairs are adjacent: a new stem closes the last one
                if ann is not None:
                    yield ann.image_id, jpeg, ann
                stem, jpeg, ann = s, None, None
            if ext == ".json":
                data = _read_member(tf, m, name)
                try:
                    ann = load(data)
                except SA1BFormatError as e:
                    raise SA1BFormatError(f"{name}:{m.name}: {e}", e.field, e.index) from e
            elif images:
                jpeg = _read_member(tf, m, name)
            if ann is not None and (jpeg is not None or not images):
                yield ann.image_id, jpeg, ann
                jpeg, ann = None, None
        if ann is not None:
            yield ann.image_id, jpeg, ann
    finally:
        tf.close()
        if own is not None:
            own.close()


def iter_json_members(src: ShardSource) -> Iterator[Tuple[str, bytes]]:
    """Yield ``(member name, raw bytes)`` for every ``.json`` member of a shard,
    unparsed, so a caller can survive one malformed JSON and go on with the next.

    JPEG payloads are skipped by seeking when the shard is an uncompressed
    file, read and discarded otherwise.

    Raises:
        ShardError when the damage of a truncated or corrupt shard is reached;
        the members before it have been yielded.
    """
    tf, own, name = _open(src, seek_ok=True)
    try:
        for m in _members(tf, name):
            if m.isfile() and _split(m.name)[1] == ".json":
                yield m.name, _read_member(tf, m, name)
    finally:
        tf.close()
        if own is not None:
            own.close()


def index_shard(path: Union[str, "os.PathLike[str]"]) -> List[ShardEntry]:
    """Where each JSON and JPEG lies in an uncompressed tar shard, for random
    access: a list of ``(stem, (offset, size), (offset, size) | None)``
    for the JSON and the JPEG, in archive order, one per stem with a JSON.

    Only headers are read (payloads are skipped by seeking). Raises
    ShardError for a compressed, truncated or corrupt shard.
    """
    name = os.fspath(path)
    with open(path, "rb") as f:
        try:
            tf = tarfile.open(fileobj=f, mode="r:", tarinfo=_RecordingTarInfo)
        except tarfile.ReadError as e:
            raise ShardError(f"{name}: not an uncompressed tar archive (random access needs "
                             f"one; use iter_shard to stream compressed shards): {e}") from e
        total = os.fstat(f.fileno()).st_size
        found: dict = {}  # stem -> [json, jpeg]; dicts keep archive order
        for m in _members(tf, name):
            s, ext = _split(m.name)
            if not m.isfile() or ext not in (".json", ".jpg", ".jpeg"):
                continue
            if m.offset_data + m.size > total:
                raise ShardError(f"{name}: truncated tar shard inside {m.name!r}")
            found.setdefault(s, [None, None])[0 if ext == ".json" else 1] = (m.offset_data, m.size)
    return [(s, js, jp) for s, (js, jp) in found.items() if js is not None]


def read_range(f: IO[bytes], offset: int, size: int) -> bytes:
    """``size`` bytes at ``offset`` of an open file; a short read raises
    ShardError (the shard changed or was truncated after indexing)."""
    f.seek(offset)
    data = f.read(size)
    if len(data) != size:
        raise ShardError(f"{getattr(f, 'name', '<shard>')}: short read at byte {offset}")
    return data

