# The thread pool's spin knob, included by every glue module that runs
# threaded C calls: each extension links its own copy of the C core, so each
# has its own pool (fastrle.pool.set_spin_us sets them all).
from cpython.long cimport PyLong_AsLongLongAndOverflow as _spin_as_ll

cdef extern from "rle_platform.h" nogil:
    int frle_spin_us()
    void frle_set_spin_us(long long us)
    const int FRLE_SPIN_US_MAX

#: The C core's upper clamp of the spin time (microseconds).
SPIN_US_MAX = FRLE_SPIN_US_MAX


def spin_us():
    """Microseconds this module's pool threads spin for the next job before
    they sleep (``FASTRLE_SPIN_US``, default 200; 0: sleep at once)."""
    return frle_spin_us()


def set_spin_us(us):
    """Set this module's spin time in microseconds (an int: ``operator.index``
    takes it), clamped by the C core to [0, SPIN_US_MAX]."""
    cdef int overflow = 0
    cdef long long v = _spin_as_ll(us.__index__(), &overflow)
    # an int past 64 bits reaches the C core's clamp as the nearest 64-bit one
    frle_set_spin_us(v if overflow == 0 else (-1 if overflow < 0 else 9223372036854775807))
