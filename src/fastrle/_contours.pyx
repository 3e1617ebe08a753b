# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Glue for csrc/rle_contour.c: contours (cv2.findContours' rings) of a
table of parsed runs.

Inputs are the arena/offsets/heights/widths of a ``fastrle._core.Runs``
table (validated counts); policy (formats, holes, areas) lives in
fastrle.geometry.polygons.
"""
from libc.stdint cimport int32_t, int64_t, uint64_t, uint32_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

from ._crle cimport FRLE_ERR_NOMEM, FRLE_ERR_SUM_LONG, FRLE_ERR_SUM_SHORT, FRLE_OK, frle_error
from ._status cimport raise_code, raise_status

import numpy as np

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
    void frle_rings_free(frle_rings *r)

EXTERNAL = FRLE_CONTOUR_EXTERNAL
CCOMP = FRLE_CONTOUR_CCOMP
APPROX_NONE = FRLE_APPROX_NONE
APPROX_SIMPLE = FRLE_APPROX_SIMPLE
STORE_AUTO = FRLE_STORE_AUTO
STORE_CROP = FRLE_STORE_CROP
STORE_SPARSE = FRLE_STORE_SPARSE


def contours(const uint32_t[::1] arena, const int64_t[::1] offsets, const int64_t[::1] heights,
             const int64_t[::1] widths, int mode, int approx, bint outline, int threads,
             int store=FRLE_STORE_AUTO):
    """Per mask of the table, a tuple (points, offsets, hierarchy): the
    rings' points as one (P, 2) int32 array of x, y; ring r is
    points[offsets[r]:offsets[r+1]]; hierarchy is (R, 4) int32, cv2's
    next, previous, first child, parent. outline: each ring's pixel
    outline instead, corners as integers ((X, Y): pixel (X, Y)'s top-left
    corner). store: where the tracer keeps the pixel values (STORE_AUTO:
    chosen per mask; STORE_CROP, STORE_SPARSE: forced, for tests and
    benchmarks); the result does not depend on it. Raises RLEError for
    counts that do not sum to h*w, naming the mask."""
    cdef int64_t n = offsets.shape[0] - 1, i, j, k, nr, np_
    cdef uint64_t s
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
        s = 0
        for j in range(offsets[i], offsets[i + 1]):
            s += arena[j]
        if s != <uint64_t>heights[i] * <uint64_t>widths[i]:
            # the C core trusts the table: a sum off h*w is the parse's error
            raise_code(FRLE_ERR_SUM_SHORT if s < <uint64_t>heights[i] * <uint64_t>widths[i]
                       else FRLE_ERR_SUM_LONG, i, offsets[i + 1] - offsets[i], s)
    if n == 0:
        return []
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
        res = []
        for i in range(n):
            nr = out[i].nrings
            np_ = out[i].off[nr] if nr else 0
            pts = np.empty((np_, 2), np.int32)
            offs = np.empty(nr + 1, np.int64)
            hier = np.empty((nr, 4), np.int32)
            if np_:
                memcpy(<void *>(<size_t>pts.ctypes.data), out[i].xy, np_ * 2 * sizeof(int32_t))
            memcpy(<void *>(<size_t>offs.ctypes.data), out[i].off, (nr + 1) * sizeof(int64_t))
            if nr:
                memcpy(<void *>(<size_t>hier.ctypes.data), out[i].hier, nr * 4 * sizeof(int32_t))
            res.append((pts, offs, hier))
            frle_rings_free(&out[i])
        return res
    finally:
        for k in range(n):
            frle_rings_free(&out[k])
        free(out)
