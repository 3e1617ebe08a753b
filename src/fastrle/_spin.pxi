# The thread pool's spin knob, included by every glue module that runs
# threaded C calls: each extension links its own copy of the C core, so each
# has its own pool (fastrle.pool.set_spin_us sets them all).
cdef extern from "rle_platform.h" nogil:
    int frle_spin_us()
    void frle_set_spin_us(int us)


def spin_us():
    """Microseconds this module's pool threads spin for the next job before
    they sleep (``FASTRLE_SPIN_US``, default 200; 0: sleep at once)."""
    return frle_spin_us()


def set_spin_us(int us):
    """Set this module's spin time in microseconds, clamped to [0, 1000000]."""
    frle_set_spin_us(us)
