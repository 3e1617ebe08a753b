# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Glue for csrc/rle_features.c: spatial features on a table of parsed runs.

Inputs are the arena/offsets of a ``fastrle._core.Runs`` table (validated
counts); policy (empty masks, ratios) lives in fastrle.features.
"""
from libc.stdint cimport int64_t, uint64_t, uint32_t

from ._crle cimport FRLE_ERR_NOMEM
from ._status cimport raise_code

import numpy as np

cdef extern from "rle_features.h" nogil:
    void frle_moments(const uint32_t *arena, const int64_t *offsets, int64_t n, uint64_t h,
                      uint64_t *area, uint64_t *sx, uint64_t *sy)
    int frle_intersections(const uint32_t *arena, const int64_t *offsets, int64_t n,
                           uint64_t h, uint64_t w, uint64_t *inter)


cdef int64_t _check(const uint32_t[::1] arena, const int64_t[::1] offsets) except -1:
    cdef int64_t n = offsets.shape[0] - 1
    if n < 0:
        raise ValueError("offsets must have at least one entry")
    if n and (offsets[0] < 0 or offsets[n] > arena.shape[0]):
        raise ValueError("offsets point outside the arena")
    for i in range(n):
        if offsets[i + 1] < offsets[i]:
            raise ValueError("offsets must be non-decreasing")
    return n


def moments(const uint32_t[::1] arena, const int64_t[::1] offsets, uint64_t h):
    """(area, sum of x, sum of y) per mask, each uint64 (n,), exact."""
    cdef int64_t n = _check(arena, offsets)
    area = np.zeros(n, np.uint64)
    sx = np.zeros(n, np.uint64)
    sy = np.zeros(n, np.uint64)
    cdef uint64_t[::1] av = area, xv = sx, yv = sy
    if n and h and arena.shape[0]:
        with nogil:
            frle_moments(&arena[0], &offsets[0], n, h, &av[0], &xv[0], &yv[0])
    return area, sx, sy


def intersections(const uint32_t[::1] arena, const int64_t[::1] offsets, uint64_t h, uint64_t w):
    """(n, n) uint64 matrix of pairwise intersection counts."""
    cdef int64_t n = _check(arena, offsets)
    cdef int rc = 0
    inter = np.zeros((n, n), np.uint64)
    cdef uint64_t[:, ::1] iv = inter
    if n and h and w and arena.shape[0]:
        with nogil:
            rc = frle_intersections(&arena[0], &offsets[0], n, h, w, &iv[0, 0])
    if rc != 0:  # -1: out of memory
        raise_code(FRLE_ERR_NOMEM, None, 0, 0)
    return inter
