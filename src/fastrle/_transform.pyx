# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Glue for csrc/rle_transform.c: decode at another size, flipped or
bit-packed, and roi_align, from the runs, with the GIL released.

Arguments are checked in fastrle.transforms; this layer only checks what
keeps the C core in bounds (buffer extents against shapes and strides).
"""
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t
from libc.string cimport memset

import numpy as np
cimport numpy as cnp

cnp.import_array()

from ._core cimport Sources
from ._crle cimport FRLE_OK, frle_error, frle_src
from ._status cimport raise_status

cdef extern from "rle_transform.h" nogil:
    int FRLE_NEAREST, FRLE_NEAREST_EXACT, FRLE_AREA
    ctypedef struct frle_xform:
        uint64_t oh, ow
        int mode
        int flip_h, flip_v
        int packed, little
        int zeroed
        uint8_t *out
        int64_t mask_stride, row_stride
    void frle_nearest_map(int64_t inp, int64_t out, int64_t other, int exact, int64_t *map)
    int64_t frle_nearest_src(int64_t dst, int64_t inp, int64_t out, int exact, int small)
    int frle_nearest_small(int64_t oh, int64_t ow)
    int frle_decode_transform(const frle_src *src, int64_t n, uint64_t h, uint64_t w,
                              const frle_xform *x, int nthreads, frle_error *err)
    int frle_roi_align(const frle_src *src, int64_t n, uint64_t h, uint64_t w,
                       const float *boxes, float spatial_scale, int sampling_ratio, int aligned,
                       int64_t ph, int64_t pw, uint8_t *out, int64_t mask_stride, int64_t row_stride,
                       int nthreads, frle_error *err)

MODES = {"nearest": 0, "nearest-exact": 1, "area": 2}


def nearest_map(int64_t in_size, int64_t out_size, bint exact, int64_t other_size=1):
    """Source index of each of out_size output indices (int64), torch's rule
    for one axis of a 2-D resize whose other output side is other_size."""
    if in_size < 1 or out_size < 0 or other_size < 0:
        raise ValueError(f"sizes must be in >= 1, out >= 0 and other >= 0, "
                         f"got {in_size}, {out_size} and {other_size}")
    m = np.empty(out_size, np.int64)
    cdef int64_t[::1] mv = m
    if out_size:
        frle_nearest_map(in_size, out_size, other_size, exact, &mv[0])
    return m


def nearest_src(int64_t in_size, int64_t out_size, bint exact, int64_t other_size, const int64_t[::1] dst):
    """nearest_map(in_size, out_size, exact, other_size)[dst], without the map."""
    if in_size < 1 or out_size < 0 or other_size < 0:
        raise ValueError(f"sizes must be in >= 1, out >= 0 and other >= 0, "
                         f"got {in_size}, {out_size} and {other_size}")
    m = np.empty(dst.shape[0], np.int64)
    cdef int64_t[::1] mv = m
    cdef Py_ssize_t i
    cdef int small = frle_nearest_small(out_size, other_size)
    for i in range(dst.shape[0]):
        if dst[i] < 0 or dst[i] >= out_size:
            raise ValueError(f"index {dst[i]} is outside [0, {out_size})")
        mv[i] = frle_nearest_src(dst[i], in_size, out_size, exact, small)
    return m


cdef uint8_t *_base(cnp.ndarray out, int64_t n, int64_t rows, int64_t rowbytes) except? NULL:
    """Data pointer of an (n, rows, ...) view whose last axis is contiguous,
    after checking that every row it addresses lies inside the view."""
    if out.ndim != 3 or out.shape[0] != n or out.shape[1] != rows or out.shape[2] * out.itemsize != rowbytes:
        raise ValueError("out does not match the output shape")
    if out.shape[2] > 1 and out.strides[2] != out.itemsize:
        raise ValueError("out's last axis must be contiguous")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    return <uint8_t *>cnp.PyArray_DATA(out)


def decode_transform(Sources s not None, cnp.ndarray out, int64_t h, int64_t w, int64_t oh, int64_t ow,
                     str mode, bint flip_h, bint flip_v, bint packed, bint little, bint zeroed,
                     int threads):
    """Validate every mask of `s` (a fastrle._core.Sources of h x w masks),
    then write each one resized/flipped/packed into `out`: an (n, oh, ow)
    uint8 or float32 (area) view, or (n, oh, ceil(ow/8)) uint8 when packed,
    with a contiguous last axis and any other strides."""
    cdef frle_xform x
    cdef frle_error err
    cdef int rc
    cdef int64_t n = s.n
    cdef const frle_src *src = s.src
    cdef int64_t rowbytes = ow * 4 if mode == "area" else ((ow + 7) // 8 if packed else ow)
    if n == 0:
        return
    memset(&x, 0, sizeof(x))
    x.out = _base(out, n, oh, rowbytes)
    x.oh = oh
    x.ow = ow
    x.mode = MODES[mode]
    x.flip_h = flip_h
    x.flip_v = flip_v
    x.packed = packed
    x.little = little
    x.zeroed = zeroed
    x.mask_stride = out.strides[0] if n > 1 else 0
    x.row_stride = out.strides[1] if oh > 1 else rowbytes
    memset(&err, 0, sizeof(err))
    with nogil:
        rc = frle_decode_transform(src, n, h, w, &x, threads, &err)
    if rc != FRLE_OK:
        raise_status(&err)


def roi_align(Sources s not None, int64_t h, int64_t w, const float[:, ::1] boxes, float spatial_scale,
              int sampling_ratio, bint aligned, cnp.ndarray out, int threads):
    """torchvision roi_align of each mask of `s` over boxes[i] (float32
    (n, 4) x1, y1, x2, y2) into `out`, an (n, PH, PW) float32 view with a
    contiguous last axis."""
    cdef frle_error err
    cdef int rc
    cdef int64_t n = s.n
    cdef const frle_src *src = s.src
    cdef int64_t ph = out.shape[1], pw = out.shape[2]
    cdef uint8_t *base
    cdef int64_t ms, rs
    if n == 0:
        return
    if boxes.shape[0] != n or boxes.shape[1] != 4:
        raise ValueError("boxes must be (N, 4)")
    base = _base(out, n, ph, pw * 4)
    ms = out.strides[0] if n > 1 else 0
    rs = out.strides[1] if ph > 1 else pw * 4
    memset(&err, 0, sizeof(err))
    with nogil:
        rc = frle_roi_align(src, n, h, w, &boxes[0, 0], spatial_scale, sampling_ratio, aligned,
                            ph, pw, base, ms, rs, threads, &err)
    if rc != FRLE_OK:
        raise_status(&err)


include "_spin.pxi"
