# The cdef classes of fastrle._core that other glue modules read at C level:
# `from ._core cimport Sources` (cimporting also imports fastrle._core first).
from libc.stdint cimport int64_t

from ._crle cimport frle_src


cdef class Sources:
    # one frle_src per mask: pointers into the objects held by `keep`
    cdef frle_src *src
    cdef readonly int64_t n
    cdef readonly object keep
    cdef readonly object heights
    cdef readonly object widths
