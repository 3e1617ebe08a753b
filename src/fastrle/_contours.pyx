# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Glue for csrc/rle_contour.c: contours (cv2.findContours' rings) of a
table of parsed runs.

Inputs are the arena/offsets/heights/widths of a ``fastrle._core.Runs``
table (the C core rechecks each mask's sum); policy (formats, holes,
areas) lives in fastrle.geometry.polygons.
"""
from libc.stdint cimport int32_t, int64_t, uint64_t, uint32_t
from libc.stdlib cimport calloc, free

from ._core cimport Sources
from ._crle cimport FRLE_ERR_NOMEM, FRLE_OK, frle_check_size, frle_error, frle_src
from ._status cimport raise_status

import numpy as np

from ._core import parse

cdef extern from "rle_contour.h" nogil:
    int FRLE_CONTOUR_EXTERNAL, FRLE_CONTOUR_CCOMP, FRLE_APPROX_NONE, FRLE_APPROX_SIMPLE
    int FRLE_STORE_AUTO, FRLE_STORE_CROP, FRLE_STORE_SPARSE
    ctypedef struct frle_rings:
        int32_t *xy
        int64_t *off
        int32_t *hier
        int64_t nrings
    int frle_contours(const uint32_t *arena, const int64_t *offsets, const uint64_t *h,
                      const uint64_t *w, int64_t n, int mode, int approx, int outline, int store, int nthreads,
                      frle_rings *out, frle_error *err)
    int frle_contours_src(const frle_src *src, const uint64_t *h, const uint64_t *w, int64_t n, int mode,
                          int approx, int outline, int store, int nthreads, frle_rings *out, frle_error *err)
    void frle_rings_free(frle_rings *r)
    void frle_rings_pack(frle_rings *out, int64_t n, const int64_t *rbase, const int64_t *pbase, int32_t *xy,
                         int64_t *off, int32_t *hier, int nthreads)

EXTERNAL = FRLE_CONTOUR_EXTERNAL
CCOMP = FRLE_CONTOUR_CCOMP
APPROX_NONE = FRLE_APPROX_NONE
APPROX_SIMPLE = FRLE_APPROX_SIMPLE
STORE_AUTO = FRLE_STORE_AUTO
STORE_CROP = FRLE_STORE_CROP
STORE_SPARSE = FRLE_STORE_SPARSE


cdef tuple _pack(frle_rings *out, int64_t n, int threads):
    """The flat arrays of contours() from out[0 .. n) (moved there by
    frle_rings_pack, on the threads: no per-mask Python objects here)."""
    cdef int64_t i, nr, tp = 0, tr = 0
    cdef int64_t[::1] rb, pb
    cdef int32_t[:, ::1] pv, hv
    cdef int64_t[::1] ov
    mask_rings = np.empty(n + 1, np.int64)
    point_base = np.empty(n + 1, np.int64)
    rb = mask_rings
    pb = point_base
    for i in range(n):
        rb[i] = tr
        pb[i] = tp
        nr = out[i].nrings
        tr += nr
        if nr:
            tp += out[i].off[nr]
    rb[n] = tr
    pb[n] = tp
    pts = np.empty((tp, 2), np.int32)
    ring_offsets = np.zeros(tr + 1, np.int64)
    hier = np.empty((tr, 4), np.int32)
    pv = pts
    ov = ring_offsets
    hv = hier
    if n:
        with nogil:
            frle_rings_pack(out, n, &rb[0], &pb[0], &pv[0, 0] if tp else NULL, &ov[0],
                            &hv[0, 0] if tr else NULL, threads)
    return pts, ring_offsets, hier, mask_rings


def contours(const uint32_t[::1] arena, const int64_t[::1] offsets, const int64_t[::1] heights,
             const int64_t[::1] widths, int mode, int approx, bint outline, int threads,
             int store=FRLE_STORE_AUTO):
    """The rings of every mask of the table, flat: a tuple (points,
    ring_offsets, hierarchy, mask_rings). points is (P, 2) int32 of x, y;
    ring r is points[ring_offsets[r]:ring_offsets[r+1]]; hierarchy is
    (R, 4) int32, cv2's next, previous, first child, parent, ring numbers
    within the ring's mask; mask i's rings are mask_rings[i] ..
    mask_rings[i+1]. outline: each ring's pixel outline instead, corners
    as integers ((X, Y): pixel (X, Y)'s top-left corner). store: where the
    tracer keeps the pixel values (STORE_AUTO: chosen per mask;
    STORE_CROP, STORE_SPARSE: forced, for tests and benchmarks); the
    result does not depend on it. Raises RLEError for counts that do not
    sum to h*w (checked in the C core), naming the lowest such mask."""
    cdef int64_t n = offsets.shape[0] - 1, i, k
    cdef frle_error err
    cdef frle_rings *out = NULL
    cdef int rc
    if n < 0:
        raise ValueError("offsets must have at least one entry")
    if heights.shape[0] < n or widths.shape[0] < n:
        raise ValueError("heights and widths need one entry per mask")
    if mode != FRLE_CONTOUR_EXTERNAL and mode != FRLE_CONTOUR_CCOMP:
        raise ValueError(f"unknown mode {mode}")
    if approx != FRLE_APPROX_NONE and approx != FRLE_APPROX_SIMPLE:
        raise ValueError(f"unknown approx {approx}")
    if store != FRLE_STORE_AUTO and store != FRLE_STORE_CROP and store != FRLE_STORE_SPARSE:
        raise ValueError(f"unknown store {store}")
    if n and (offsets[0] < 0 or offsets[n] > arena.shape[0]):
        raise ValueError("offsets point outside the arena")
    for i in range(n):
        if offsets[i + 1] < offsets[i]:
            raise ValueError("offsets must be non-decreasing")
        if heights[i] < 0 or widths[i] < 0:
            raise ValueError(f"mask {i}: negative size")
    if n == 0:
        return _pack(NULL, 0, 1)
    out = <frle_rings *>calloc(n, sizeof(frle_rings))
    if out == NULL:
        raise MemoryError()
    try:
        with nogil:
            rc = frle_contours(&arena[0] if arena.shape[0] else NULL, &offsets[0],
                               <const uint64_t *>&heights[0], <const uint64_t *>&widths[0],
                               n, mode, approx, outline, store, threads, out, &err)
        if rc != FRLE_OK:
            raise_status(&err, 0)
        return _pack(out, n, threads)
    finally:
        for k in range(n):
            frle_rings_free(&out[k])
        free(out)


def contours_src(Sources s, int mode, int approx, bint outline, int threads, int store=FRLE_STORE_AUTO):
    """contours() of the masks of ``s`` (fastrle._core.sources), parsed on
    the C core's threads as they are traced (no parse on this thread
    first). Malformed masks raise what fastrle._core.parse raises for them,
    naming the lowest such mask."""
    cdef int64_t n = s.n, i, k
    cdef frle_error err
    cdef frle_rings *out = NULL
    cdef int rc
    cdef int64_t[::1] hv = s.heights, wv = s.widths
    cdef uint64_t hw
    if mode != FRLE_CONTOUR_EXTERNAL and mode != FRLE_CONTOUR_CCOMP:
        raise ValueError(f"unknown mode {mode}")
    if approx != FRLE_APPROX_NONE and approx != FRLE_APPROX_SIMPLE:
        raise ValueError(f"unknown approx {approx}")
    if store != FRLE_STORE_AUTO and store != FRLE_STORE_CROP and store != FRLE_STORE_SPARSE:
        raise ValueError(f"unknown store {store}")
    for i in range(n):
        if frle_check_size(hv[i], wv[i], &hw) != FRLE_OK:
            parse(s, True)  # raises the parse's error for the lowest bad mask
            raise AssertionError("unreachable: the parse accepts a size frle_check_size rejects")
    if n == 0:
        return _pack(NULL, 0, 1)
    out = <frle_rings *>calloc(n, sizeof(frle_rings))
    if out == NULL:
        raise MemoryError()
    try:
        with nogil:
            rc = frle_contours_src(s.src, <const uint64_t *>&hv[0], <const uint64_t *>&wv[0], n, mode, approx,
                                   outline, store, threads, out, &err)
        if rc != FRLE_OK:
            if rc != FRLE_ERR_NOMEM:
                parse(s, True)  # the parse's errors come first, from their home, for the lowest bad mask
            raise_status(&err, 0)
        return _pack(out, n, threads)
    finally:
        for k in range(n):
            frle_rings_free(&out[k])
        free(out)
