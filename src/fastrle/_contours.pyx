# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Glue for csrc/rle_contour.c: contours (cv2.findContours' rings) of a
table of parsed runs.

Inputs are the arena/offsets/heights/widths of a ``fastrle._core.Runs``
table (the C core rechecks each mask's sum); policy (formats, holes,
areas) lives in fastrle.geometry.polygons.
"""
from libc.stdint cimport int32_t, int64_t, uint64_t, uint32_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

from ._core cimport Sources
from ._crle cimport FRLE_ERR_NOMEM, FRLE_OK, frle_check_size, frle_error, frle_src
from ._status cimport raise_status

cimport numpy as cnp

import numpy as np

from ._core import parse

cnp.import_array()

cdef extern from "rle_contour.h" nogil:
    int FRLE_CONTOUR_EXTERNAL, FRLE_CONTOUR_CCOMP, FRLE_APPROX_NONE, FRLE_APPROX_SIMPLE
    int FRLE_STORE_AUTO, FRLE_STORE_CROP, FRLE_STORE_SPARSE
    ctypedef struct frle_rings:
        int32_t *xy
        int64_t *off
        int32_t *hier
        int64_t nrings
    ctypedef int (*frle_rings_sink)(void *ctx, int64_t i, frle_rings *r) noexcept
    int frle_contours(const uint32_t *arena, const int64_t *offsets, const uint64_t *h,
                      const uint64_t *w, int64_t n, int mode, int approx, int outline, int store, int nthreads,
                      frle_rings *out, frle_error *err)
    int frle_contours_src(const frle_src *src, const uint64_t *h, const uint64_t *w, int64_t n, int mode,
                          int approx, int outline, int store, int nthreads, frle_rings *out, frle_error *err)
    int frle_contours_src_each(const frle_src *src, const uint64_t *h, const uint64_t *w, int64_t n, int mode,
                               int approx, int outline, int store, int nthreads, frle_rings *out,
                               frle_rings_sink sink, void *ctx, frle_error *err)
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


cdef int _check_rules(int mode, int approx, int store) except -1:
    """The one check of the mode, approx and store codes every entry takes."""
    if mode != FRLE_CONTOUR_EXTERNAL and mode != FRLE_CONTOUR_CCOMP:
        raise ValueError(f"unknown mode {mode}")
    if approx != FRLE_APPROX_NONE and approx != FRLE_APPROX_SIMPLE:
        raise ValueError(f"unknown approx {approx}")
    if store != FRLE_STORE_AUTO and store != FRLE_STORE_CROP and store != FRLE_STORE_SPARSE:
        raise ValueError(f"unknown store {store}")
    return 0


cdef int _check_src_sizes(Sources s) except -1:
    """Every source's h * w checked before the C core runs: a bad size
    raises the parse's error, from its home, for the lowest bad mask."""
    cdef int64_t i
    cdef int64_t[::1] hv = s.heights, wv = s.widths
    cdef uint64_t hw
    for i in range(s.n):
        if frle_check_size(hv[i], wv[i], &hw) != FRLE_OK:
            parse(s, True)
            raise AssertionError("unreachable: the parse accepts a size frle_check_size rejects")
    return 0


cdef frle_rings *_new_out(int64_t n) except NULL:
    """The C core's per-mask ring records (n >= 1): free with _free_out."""
    cdef frle_rings *out = <frle_rings *>calloc(n, sizeof(frle_rings))
    if out == NULL:
        raise MemoryError()
    return out


cdef void _free_out(frle_rings *out, int64_t n) noexcept:
    cdef int64_t k
    if out != NULL:
        for k in range(n):
            frle_rings_free(&out[k])
        free(out)


cdef int _raise_src(Sources s, int rc, frle_error *err) except -1:
    """The exception for a failed run on sources: the parse's errors come
    first, from their home, for the lowest bad mask; else the C core's."""
    if rc != FRLE_ERR_NOMEM:
        parse(s, True)
    return raise_status(err, 0)


cdef tuple _pack(frle_rings *out, int64_t n, int threads):
    """The flat arrays of contours() from out[0 .. n) (moved there by
    frle_rings_pack: no per-mask Python objects here)."""
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
    cdef int64_t n = offsets.shape[0] - 1, i
    cdef frle_error err
    cdef frle_rings *out = NULL
    cdef int rc
    if n < 0:
        raise ValueError("offsets must have at least one entry")
    if heights.shape[0] < n or widths.shape[0] < n:
        raise ValueError("heights and widths need one entry per mask")
    _check_rules(mode, approx, store)
    if n and (offsets[0] < 0 or offsets[n] > arena.shape[0]):
        raise ValueError("offsets point outside the arena")
    for i in range(n):
        if offsets[i + 1] < offsets[i]:
            raise ValueError("offsets must be non-decreasing")
        if heights[i] < 0 or widths[i] < 0:
            raise ValueError(f"mask {i}: negative size")
    if n == 0:
        return _pack(NULL, 0, 1)
    out = _new_out(n)
    try:
        with nogil:
            rc = frle_contours(&arena[0] if arena.shape[0] else NULL, &offsets[0],
                               <const uint64_t *>&heights[0], <const uint64_t *>&widths[0],
                               n, mode, approx, outline, store, threads, out, &err)
        if rc != FRLE_OK:
            raise_status(&err, 0)
        return _pack(out, n, threads)
    finally:
        _free_out(out, n)


def contours_src(Sources s, int mode, int approx, bint outline, int threads, int store=FRLE_STORE_AUTO):
    """contours() of the masks of ``s`` (fastrle._core.sources), parsed on
    the C core's threads as they are traced (no parse on this thread
    first). Malformed masks raise what fastrle._core.parse raises for them,
    naming the lowest such mask."""
    cdef int64_t n = s.n
    cdef frle_error err
    cdef frle_rings *out = NULL
    cdef int rc
    cdef int64_t[::1] hv = s.heights, wv = s.widths
    _check_rules(mode, approx, store)
    _check_src_sizes(s)
    if n == 0:
        return _pack(NULL, 0, 1)
    out = _new_out(n)
    try:
        with nogil:
            rc = frle_contours_src(s.src, <const uint64_t *>&hv[0], <const uint64_t *>&wv[0], n, mode, approx,
                                   outline, store, threads, out, &err)
        if rc != FRLE_OK:
            _raise_src(s, rc, &err)
        return _pack(out, n, threads)
    finally:
        _free_out(out, n)


cdef int _sink(void *ctx, int64_t i, frle_rings *r) noexcept nogil:
    with gil:
        return _sink_gil(<list>ctx, i, r)


cdef int _sink_gil(list box, int64_t i, frle_rings *r) noexcept:
    """One mask's rings to box[0] as (i, rings, hierarchy, parents), built
    here with the numpy C API (this runs once per mask); an exception goes
    to box[1] and stops the job (-1)."""
    cdef int64_t nr = r.nrings, k, a
    cdef cnp.npy_intp dims[2]
    cdef int32_t *pp
    try:
        rings = []
        dims[1] = 2
        for k in range(nr):
            a = r.off[k]
            dims[0] = r.off[k + 1] - a
            ring = cnp.PyArray_SimpleNew(2, dims, cnp.NPY_INT32)
            memcpy(cnp.PyArray_DATA(ring), r.xy + 2 * a, <size_t>(2 * dims[0]) * sizeof(int32_t))
            rings.append(ring)
        dims[0] = nr
        dims[1] = 4
        hier = cnp.PyArray_SimpleNew(2, dims, cnp.NPY_INT32)
        parents = cnp.PyArray_SimpleNew(1, dims, cnp.NPY_INT32)
        if nr:
            memcpy(cnp.PyArray_DATA(hier), r.hier, <size_t>(4 * nr) * sizeof(int32_t))
            pp = <int32_t *>cnp.PyArray_DATA(parents)
            for k in range(nr):
                pp[k] = r.hier[4 * k + 3]
        box[0](i, rings, hier, parents)
        return 0
    except BaseException as e:
        box[1] = e
        return -1


def contours_each(Sources s, int mode, int approx, bint outline, int threads, fn, int store=FRLE_STORE_AUTO):
    """contours_src() handed over mask by mask: ``fn(i, rings, hierarchy,
    parents)`` for each mask i (rings a list of R (N, 2) int32 arrays of
    x, y; hierarchy (R, 4) int32 as contours() gives for one mask; parents
    (R,) int32, its last column), called on this thread while the C
    core's other threads trace later masks, so that the caller's Python
    work overlaps the tracing. Each mask comes once, in the C core's
    order (on several threads the longest counts first, not index order).
    On an error (the same as contours_src's, or what fn
    raised) some masks may have gone to fn already: drop what it made."""
    cdef int64_t n = s.n
    cdef frle_error err
    cdef frle_rings *out = NULL
    cdef int rc
    cdef int64_t[::1] hv = s.heights, wv = s.widths
    cdef list box = [fn, None]
    _check_rules(mode, approx, store)
    _check_src_sizes(s)
    if n == 0:
        return
    out = _new_out(n)
    try:
        with nogil:
            rc = frle_contours_src_each(s.src, <const uint64_t *>&hv[0], <const uint64_t *>&wv[0], n, mode,
                                        approx, outline, store, threads, out, _sink, <void *>box, &err)
        if rc != FRLE_OK:
            if box[1] is not None:  # fn raised: the RLE errors still come first
                parse(s, True)
                raise box[1]
            _raise_src(s, rc, &err)
    finally:
        _free_out(out, n)


include "_spin.pxi"
