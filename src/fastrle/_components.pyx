# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Glue for csrc/rle_components.c: connected components and Segment
Anything's remove_small_regions on a table of parsed runs.

Inputs are the arena/offsets/heights/widths of a ``fastrle._core.Runs``
table (validated counts); policy (argument checks, result types) lives in
fastrle.geometry.regions.
"""
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset

import numpy as np
cimport numpy as cnp

cnp.import_array()

from ._crle cimport FRLE_OK, frle_check_size, frle_error
from ._status cimport raise_status

cdef extern from "rle_components.h" nogil:
    ctypedef struct frle_cc:
        int64_t n
        int64_t *stats
        double *centroids
        char *strs
        int64_t *ends
    int frle_components(const uint32_t *arena, const int64_t *offsets, const uint64_t *h,
                        const uint64_t *w, int64_t n, int connectivity, frle_cc *out, int nthreads,
                        frle_error *err)
    void frle_cc_free(frle_cc *out, int64_t n)
    int frle_remove_small(const uint32_t *arena, const int64_t *offsets, const uint64_t *h,
                          const uint64_t *w, int64_t n, double area_thresh, int holes,
                          uint8_t *changed, char **strs, int64_t *lens, int nthreads,
                          frle_error *err)


cdef int64_t _check(const uint32_t[::1] arena, const int64_t[::1] offsets,
                    const int64_t[::1] heights, const int64_t[::1] widths) except -1:
    cdef int64_t n = offsets.shape[0] - 1, i
    cdef uint64_t hw
    if n < 0:
        raise ValueError("offsets must have at least one entry")
    if heights.shape[0] != n or widths.shape[0] != n:
        raise ValueError(f"heights and widths must have {n} entries")
    if n and (offsets[0] < 0 or offsets[n] > arena.shape[0]):
        raise ValueError("offsets point outside the arena")
    for i in range(n):
        if offsets[i + 1] < offsets[i]:
            raise ValueError("offsets must be non-decreasing")
        if heights[i] < 0 or widths[i] < 0 or frle_check_size(heights[i], widths[i], &hw) != FRLE_OK:
            raise ValueError(f"mask {i}: size {heights[i]}x{widths[i]} is negative or has more than 2^32-1 pixels")
    return n


def components(const uint32_t[::1] arena, const int64_t[::1] offsets, const int64_t[::1] heights,
               const int64_t[::1] widths, int connectivity, int threads):
    """Per mask (stats int64 (n+1, 5), centroids float64 (n+1, 2), list of n
    counts str), cv2's labels order; row 0 is the background."""
    cdef int64_t n = _check(arena, offsets, heights, widths), i, k, nc, b
    cdef frle_error err
    cdef frle_cc *cc
    cdef int rc
    cdef cnp.ndarray st, ce
    cdef uint32_t zero = 0
    cdef const uint32_t *ap
    if connectivity != 4 and connectivity != 8:
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    if n == 0:
        return []
    ap = &arena[0] if arena.shape[0] else &zero  # no run is read through it
    cc = <frle_cc *>calloc(n, sizeof(frle_cc))
    if cc == NULL:
        raise MemoryError()
    memset(&err, 0, sizeof(err))
    try:
        with nogil:
            rc = frle_components(ap, &offsets[0], <const uint64_t *>&heights[0],
                                 <const uint64_t *>&widths[0], n, connectivity, cc, threads, &err)
        if rc != FRLE_OK:
            raise_status(&err)
        out = []
        for i in range(n):
            nc = cc[i].n
            st = np.empty((nc + 1, 5), np.int64)
            ce = np.empty((nc + 1, 2), np.float64)
            memcpy(cnp.PyArray_DATA(st), cc[i].stats, (nc + 1) * 5 * sizeof(int64_t))
            memcpy(cnp.PyArray_DATA(ce), cc[i].centroids, (nc + 1) * 2 * sizeof(double))
            strs = []
            b = 0
            for k in range(nc):
                strs.append(PyUnicode_DecodeASCII(cc[i].strs + b, cc[i].ends[k] - b, NULL))
                b = cc[i].ends[k]
            out.append((st, ce, strs))
        return out
    finally:
        frle_cc_free(cc, n)
        free(cc)


def remove_small(const uint32_t[::1] arena, const int64_t[::1] offsets, const int64_t[::1] heights,
                 const int64_t[::1] widths, double area_thresh, bint holes, int threads):
    """(list of n counts str or None where unchanged, changed bool (n,))."""
    cdef int64_t n = _check(arena, offsets, heights, widths), i
    cdef frle_error err
    cdef char **strs
    cdef int64_t *lens
    cdef int rc
    cdef uint32_t zero = 0
    cdef const uint32_t *ap
    changed = np.zeros(n, np.uint8)
    if n == 0:
        return [], changed.astype(bool)
    cdef uint8_t[::1] cv = changed
    ap = &arena[0] if arena.shape[0] else &zero
    strs = <char **>calloc(n, sizeof(char *))
    lens = <int64_t *>calloc(n, sizeof(int64_t))
    if strs == NULL or lens == NULL:
        free(strs)
        free(lens)
        raise MemoryError()
    memset(&err, 0, sizeof(err))
    try:
        with nogil:
            rc = frle_remove_small(ap, &offsets[0], <const uint64_t *>&heights[0],
                                   <const uint64_t *>&widths[0], n, area_thresh, holes, &cv[0],
                                   strs, lens, threads, &err)
        if rc != FRLE_OK:
            raise_status(&err)
        return [PyUnicode_DecodeASCII(strs[i], lens[i], NULL) if strs[i] != NULL else None
                for i in range(n)], changed.view(bool)
    finally:
        for i in range(n):
            free(strs[i])
        free(strs)
        free(lens)


include "_spin.pxi"
