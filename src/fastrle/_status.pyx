# cython: language_level=3
"""C core status -> exception, for the glue modules (see _status.pxd).

The exceptions and the message of each status live in fastrle.errors; this
module checks at import that its table follows the C core's enum and texts,
so the two cannot drift apart.
"""
from libc.stdint cimport int64_t

from ._crle cimport (FRLE_ERR_CHAR, FRLE_ERR_NEGATIVE, FRLE_ERR_NOMEM, FRLE_ERR_SUM_LONG,
                     FRLE_ERR_THREAD, FRLE_ERR_TRUNCATED, FRLE_OK, frle_error, frle_strerror)

from . import errors


def c_statuses():
    """[(code, frle_strerror(code))] for every status of the C core."""
    return [(c, frle_strerror(c).decode()) for c in range(FRLE_OK, FRLE_ERR_THREAD + 1)]


def _check_table():
    if [(c, s.text) for c, s in enumerate(errors.STATUSES)] != c_statuses():
        raise ImportError("fastrle.errors.STATUSES does not match the C core's statuses (csrc/rle.h)")
    for reason, code in (("bad_char", FRLE_ERR_CHAR), ("truncated", FRLE_ERR_TRUNCATED),
                         ("negative_run", FRLE_ERR_NEGATIVE), ("sum_long", FRLE_ERR_SUM_LONG),
                         ("no_memory", FRLE_ERR_NOMEM)):
        if errors.code_of(reason) != code:
            raise ImportError(f"fastrle.errors: {reason!r} is not status {code} of the C core")


_check_table()


cdef int raise_status(const frle_error *e, int64_t index_base=0) except -1:
    raise errors.status_error(e.code, e.index + index_base, e.pos, e.value)


cdef int raise_code(int code, object index, object pos, object value) except -1:
    raise errors.status_error(code, index, pos, value)
