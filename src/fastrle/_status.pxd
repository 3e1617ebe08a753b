# The one mapping from a C core status to a Python exception, shared by every
# glue module: `from ._status cimport raise_status, raise_code`.
from libc.stdint cimport int64_t

from ._crle cimport frle_error

# Raise the exception for the C error record `e` (fastrle.errors.status_error),
# naming mask e.index + index_base. Always returns -1 with the exception set.
cdef int raise_status(const frle_error *e, int64_t index_base=*) except -1

# The same for a condition found outside the C core that is one the core
# reports (a negative run in a list, a list that does not sum to h*w).
cdef int raise_code(int code, object index, object pos, object value) except -1
