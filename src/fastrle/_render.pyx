# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Glue for csrc/rle_render.c: overlays drawn from a table of parsed runs.

Inputs are the arena/offsets of a ``fastrle._core.Runs`` table (validated
counts); policy (image loading, palette, draw order, top_k) lives in
fastrle.viz.
"""
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t
from libc.string cimport memset

from ._crle cimport FRLE_ERR_SUM_LONG, FRLE_ERR_SUM_SHORT, FRLE_OK, frle_error
from ._status cimport raise_status

cdef extern from "rle.h" nogil:
    int frle_render(const uint32_t *arena, const int64_t *offsets, const int64_t *order, int64_t k,
                    uint64_t h, uint64_t w, const uint8_t *colors, int alpha, int contour_width,
                    uint8_t *img, int nthreads, frle_error *err)


def render(const uint32_t[::1] arena, const int64_t[::1] offsets, const int64_t[::1] order,
           const uint8_t[:, ::1] colors, uint8_t[:, :, ::1] img, int alpha, int contour_width,
           int threads):
    """Draw the masks ``order`` of the table (arena, offsets) into ``img``
    ((H, W, 3) uint8, C-contiguous, modified in place): fills with alpha
    (0..255), then contours of ``contour_width`` pixels (0: none).
    ``colors`` is (n, 3) uint8, one row per table mask."""
    cdef int64_t n = offsets.shape[0] - 1, k = order.shape[0], i
    cdef uint64_t h = img.shape[0], w = img.shape[1]
    cdef frle_error err
    cdef int rc
    if n < 0:
        raise ValueError("offsets must have at least one entry")
    if img.shape[2] != 3:
        raise ValueError(f"img must be (H, W, 3), got {img.shape[0]}x{img.shape[1]}x{img.shape[2]}")
    if colors.shape[0] != n or colors.shape[1] != 3:
        raise ValueError(f"colors must be ({n}, 3), got ({colors.shape[0]}, {colors.shape[1]})")
    if not 0 <= alpha <= 255:
        raise ValueError(f"alpha must be in 0..255, got {alpha}")
    if contour_width < 0:
        raise ValueError(f"contour_width must be >= 0, got {contour_width}")
    if n and (offsets[0] < 0 or offsets[n] > arena.shape[0]):
        raise ValueError("offsets point outside the arena")
    for i in range(n):
        if offsets[i + 1] < offsets[i]:
            raise ValueError("offsets must be non-decreasing")
    for i in range(k):
        if order[i] < 0 or order[i] >= n:
            raise IndexError(f"order[{i}] = {order[i]} is out of range for {n} masks")
    if k == 0 or h == 0 or w == 0:
        return
    memset(&err, 0, sizeof(err))
    with nogil:
        rc = frle_render(&arena[0], &offsets[0], &order[0], k, h, w, &colors[0, 0], alpha,
                         contour_width, &img[0, 0, 0], threads, &err)
    if rc == FRLE_ERR_SUM_SHORT or rc == FRLE_ERR_SUM_LONG:
        # the core names the mask only; report its sum as the batch check does
        i = err.index
        err.pos = offsets[i + 1] - offsets[i]
        err.value = sum(arena[offsets[i]:offsets[i + 1]])
    if rc != FRLE_OK:
        raise_status(&err)


include "_spin.pxi"
