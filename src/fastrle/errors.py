"""fastrle's exceptions, and the one table that turns a C core status into one.

Every layer raises from here: the Cython glue through ``fastrle._status``
(``raise_status``, ``raise_code``), the Python-side checks that test the same
condition as the C core (a negative run in a list, a list that does not sum
to h*w) and the GPU decoder through :func:`status_error`. So the same bad
input gives the same class, ``index``, ``reason`` and message on every path.

``STATUSES[code]`` describes the C core's ``frle_status`` ``code``
(csrc/rle.h, in its order; ``fastrle._status`` checks the order and the texts
against the C core when it is imported).
"""

from __future__ import annotations

from typing import NamedTuple, Optional

__all__ = ["GPUUnavailableError", "RLEError", "RLEKeyError", "STATUSES", "Status", "code_of", "status_error"]


class RLEError(ValueError):
    """A malformed RLE.

    Attributes:
        index: the mask's position in the input batch (None when no one mask is to blame).
        reason: a short machine-readable name of the problem, stable across
            versions: one of ``STATUSES``' reasons (``"bad_char"``, ``"nul"``,
            ``"truncated"``, ``"varint_too_long"``, ``"negative_run"``,
            ``"run_too_big"``, ``"sum_short"``, ``"sum_long"``, ``"bad_size"``)
            or ``"missing_key"``; None when the raiser gave none.
        detail: the message without its ``"mask i: "`` prefix.
    """

    def __init__(self, message: str, index: Optional[int] = None, reason: Optional[str] = None,
                 detail: Optional[str] = None) -> None:
        super().__init__(message)
        self.index = index
        self.reason = reason
        self.detail = message if detail is None else detail

    def with_context(self, prefix: str, index: Optional[int] = None) -> "RLEError":
        """The same error (reason, detail) with ``prefix`` before its message
        and, if given, another ``index`` (e.g. the mask's place in a file)."""
        return RLEError(prefix + str(self), self.index if index is None else index, self.reason, self.detail)


class RLEKeyError(RLEError, KeyError):
    """An RLE dict without its ``counts`` or ``size`` field. Both an RLEError
    (so a ValueError) and a KeyError, which is what pycocotools raises:
    ``except KeyError`` and ``except ValueError`` handlers both catch it.
    ``key`` is the missing field; ``reason`` is ``"missing_key"``."""

    def __init__(self, message: str, index: Optional[int] = None, key: object = None) -> None:
        super().__init__(message, index, "missing_key")
        self.key = key

    # KeyError's str() is the repr of its argument (quotes and all); the
    # message reads better as it is
    __str__ = ValueError.__str__


class GPUUnavailableError(RuntimeError):
    """``fastrle.gpu`` cannot run: CuPy, the NVIDIA driver or a CUDA device is missing."""


class Status(NamedTuple):
    """One C core status: its reason name, the C core's text for it
    (csrc/rle_string.c) and the detail that follows, formatted with the
    ``frle_error`` fields ``pos`` and ``value``."""

    reason: str
    text: str
    detail: str


#: Indexed by ``frle_status`` code (FRLE_OK, FRLE_ERR_CHAR, ... in csrc/rle.h).
STATUSES: tuple[Status, ...] = (
    Status("ok", "ok", ""),
    Status("bad_char", "character outside '0'..'o' (48..111)", ": byte {value} at offset {pos} of counts"),
    Status("nul", "NUL byte inside counts", " (at offset {pos} of counts)"),
    Status("truncated", "counts string ends inside a varint (truncated)", " (at offset {pos} of counts)"),
    Status("varint_too_long", "varint longer than 12 characters", " (at offset {pos} of counts)"),
    Status("negative_run", "run length is negative", ": run {pos} is {value}"),
    Status("run_too_big", "run length does not fit in uint32", ": run {pos} is {value}"),
    Status("sum_short", "counts sum to less than h*w", ": they sum to {value}"),
    Status("sum_long", "counts sum to more than h*w", ": they reach {value} at run {pos}"),
    Status("bad_size", "h*w exceeds the 2^32-1 pixels a uint32 count can hold", ""),
    Status("no_memory", "out of memory", ""),
    Status("no_thread", "could not start a worker thread", ""),
)

_CODES = {s.reason: code for code, s in enumerate(STATUSES)}


def code_of(reason: str) -> int:
    """The ``frle_status`` code whose reason is ``reason`` (KeyError if none)."""
    return _CODES[reason]


def status_error(code: int, index: Optional[int] = None, pos: int = 0, value: int = 0) -> Exception:
    """The exception for C core status ``code`` with the ``frle_error`` fields
    ``index`` (the mask), ``pos`` and ``value``: MemoryError for no memory,
    RuntimeError for a thread that could not start, else RLEError whose
    message is ``"mask {index}: {text}{detail}"``."""
    if code == _CODES["no_memory"]:
        return MemoryError("fastrle: out of memory")
    if code == _CODES["no_thread"]:
        return RuntimeError("fastrle: could not start a worker thread")
    if 0 < code < len(STATUSES):
        st = STATUSES[code]
        reason, detail = st.reason, st.text + st.detail.format(pos=pos, value=value)
    else:
        reason, detail = "unknown", f"unknown error (status {code})"
    message = detail if index is None else f"mask {index}: {detail}"
    return RLEError(message, index, reason, detail)
