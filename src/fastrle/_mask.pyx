# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Fast paths of fastrle.mask: pycocotools' API at C speed on every call.

Each function here handles the common, valid input entirely in C: RLE dicts
whose ``size`` is a list or tuple of two ints and whose ``counts`` is a str or
bytes, polygons as lists of floats, boxes as float64 arrays. Nothing goes
through numpy temporaries or memoryviews on the way. When the input is
anything else, or fails validation, a function returns None and
fastrle.mask runs its general path, which accepts the same inputs and raises
the error that names the mask. So these functions never raise for bad input:
validation stays in one place, complete, and the fast paths only ever agree
with it.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.dict cimport PyDict_GetItem
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.list cimport PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_AsDouble
from cpython.object cimport PyObject
from cpython.ref cimport Py_DECREF
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.math cimport fabs, isfinite
from libc.stdint cimport INT64_MAX, int64_t, uint64_t, uint32_t, uint8_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

import numpy as np
cimport numpy as cnp

from ._args import MAX_PIXELS, MAX_POLY_COORD, SPARE_ARENA_BYTES, THREAD_MIN_BYTES, THREAD_MIN_CHARS, int_arg

cnp.import_array()

cdef extern from "Python.h":
    bint PyDict_CheckExact(object o)
    bint PyList_CheckExact(PyObject *o)
    bint PyTuple_CheckExact(PyObject *o)
    bint PyLong_CheckExact(PyObject *o)
    bint PyFloat_CheckExact(PyObject *o)
    bint PyFloat_Check(PyObject *o)
    bint PyLong_Check(PyObject *o)
    bint PyBytes_CheckExact(PyObject *o)
    bint PyUnicode_CheckExact(PyObject *o)
    bint PyUnicode_IS_COMPACT_ASCII(PyObject *o)
    void *PyUnicode_DATA(PyObject *o)
    PyObject *_bytes_raw "PyBytes_FromStringAndSize"(const char *v, Py_ssize_t n)
    int _bytes_resize_raw "_PyBytes_Resize"(PyObject **s, Py_ssize_t n)
    Py_ssize_t PyUnicode_GET_LENGTH(PyObject *o)

cdef extern from "numpy/arrayobject.h":
    object PyArray_Scalar(void *data, cnp.dtype descr, object base)

from ._status cimport raise_status
from ._crle cimport (FRLE_OK, frle_area, frle_bbox_coco, frle_bbox_coco_many, frle_check_size,
                    frle_decode_batch, frle_decode_colmajor, frle_encode_batch, frle_error, frle_from_poly, frle_iou_runs,
                    frle_merge_many, frle_parse, frle_parse_canonical, frle_parse_many, frle_runs, frle_src,
                    frle_spare_bytes, frle_spare_give, frle_spare_limit, frle_spare_release, frle_spare_take,
                    frle_string_bound, frle_to_string)

cdef object _SIZE = "size"
cdef object _COUNTS = "counts"
cdef object _TRUE = True
cdef object _FALSE = False
cdef cnp.dtype _U32 = np.dtype(np.uint32)
cdef tuple _NP_REAL = (np.floating, np.integer)

# Thresholds and limits live in fastrle._args; cdef copies for the C-level paths.
# Batches with at least THREAD_MIN_CHARS count characters are parsed on
# threads, with the GIL released.
cdef int64_t _THREAD_MIN_CHARS = THREAD_MIN_CHARS
# Outputs (decode) and inputs (encode) of fewer bytes run on the calling
# thread with the GIL held, as _args.resolve_threads decides for the general
# path; larger ones go there (threads; the layers cost nothing at that size).
cdef int64_t _SMALL_BYTES = THREAD_MIN_BYTES
cdef int64_t _MAX_DIM = MAX_PIXELS
cdef double _MAX_COORD = MAX_POLY_COORD

# Parse arenas of long strings come from the core's spare blocks
# (frle_spare_take in csrc/rle_scratch.c): kept between calls up to
# SPARE_ARENA_BYTES, since faulting in megabytes of fresh pages costs more
# than the vector parse that fills them.
frle_spare_limit(SPARE_ARENA_BYTES)


cdef inline uint32_t *_arena_take(int64_t n):
    """Room for n counts, or NULL when out of memory."""
    return <uint32_t *>frle_spare_take(n * sizeof(uint32_t), NULL)


def release_spare():
    """Free the work memory kept between calls (parse arenas, bitmaps), now.
    Returns the bytes freed. Later calls keep blocks again, up to the limit."""
    cdef int64_t held = frle_spare_bytes()
    frle_spare_release()
    return held


def spare_limit(object limit=None):
    """The most bytes of work memory kept between calls; with ``limit``
    (an int >= 0, numpy ints too) sets it first and returns the previous one.
    A lower limit frees what is kept now; 0 keeps nothing."""
    if limit is None:
        return frle_spare_limit(-1)
    n = int_arg(limit, "limit")
    return frle_spare_limit(min(n, INT64_MAX))


def spare_bytes():
    """Bytes of work memory kept between calls now."""
    return frle_spare_bytes()


def _set_thread_min_chars(int64_t n):
    """Set the threading threshold (tests drive the threaded paths with small
    batches); returns the previous value."""
    global _THREAD_MIN_CHARS
    old, _THREAD_MIN_CHARS = _THREAD_MIN_CHARS, n
    return old


cdef inline int _dim(PyObject *v, uint64_t *out):
    """An exact int in 0.._MAX_DIM -> 1; anything else -> 0 (no exception)."""
    cdef int overflow = 0
    cdef long long d
    if not PyLong_CheckExact(v):
        return 0
    d = PyLong_AsLongLongAndOverflow(<object>v, &overflow)
    if overflow or d < 0 or d > _MAX_DIM:
        return 0
    out[0] = <uint64_t>d
    return 1


cdef int _fast_rle(object r, frle_src *s, uint64_t *h, uint64_t *w, uint64_t *hw, PyObject **counts_ref):
    """Fill s, h, w, hw from an RLE dict of the plain kind (see the module
    doc) and return 1; return 0 for anything else. counts_ref gets the
    counts object (borrowed): a caller that releases the GIL keeps it alive."""
    cdef PyObject *size
    cdef PyObject *counts
    cdef PyObject *a
    cdef PyObject *b
    if not PyDict_CheckExact(r):
        return 0
    size = PyDict_GetItem(r, _SIZE)
    counts = PyDict_GetItem(r, _COUNTS)
    if size == NULL or counts == NULL:
        return 0
    if PyList_CheckExact(size) and PyList_GET_SIZE(<object>size) == 2:
        a = <PyObject *>PyList_GET_ITEM(<object>size, 0)
        b = <PyObject *>PyList_GET_ITEM(<object>size, 1)
    elif PyTuple_CheckExact(size) and PyTuple_GET_SIZE(<object>size) == 2:
        a = <PyObject *>PyTuple_GET_ITEM(<object>size, 0)
        b = <PyObject *>PyTuple_GET_ITEM(<object>size, 1)
    else:
        return 0
    if not _dim(a, h) or not _dim(b, w) or frle_check_size(h[0], w[0], hw) != FRLE_OK:
        return 0
    if PyBytes_CheckExact(counts):
        s.str = PyBytes_AS_STRING(<object>counts)
        s.len = PyBytes_GET_SIZE(<object>counts)
    elif PyUnicode_CheckExact(counts) and PyUnicode_IS_COMPACT_ASCII(counts):
        # an ASCII str stores its characters as bytes: no conversion needed
        s.str = <const char *>PyUnicode_DATA(counts)
        s.len = PyUnicode_GET_LENGTH(counts)
    else:
        return 0  # list counts, non-ASCII (invalid anyway), subclasses: general path
    s.cnts = NULL
    s.m = 0
    counts_ref[0] = counts
    return 1


cdef class _Batch:
    """A list of plain RLE dicts as C arrays, then parsed into one arena."""
    cdef int64_t n, chars
    cdef frle_src *src
    cdef uint64_t *h
    cdef uint64_t *w
    cdef uint64_t *hw
    cdef int64_t *offs
    cdef int64_t *m
    cdef uint32_t *arena
    cdef const uint32_t **ptrs
    cdef list keep

    def __dealloc__(self):
        free(self.src)  # one block holds every per-mask array
        frle_spare_give(self.arena)

    cdef int collect(self, list rles, bint arena=True) except -1:
        """1 when every item is a plain RLE dict, else 0. arena: make room
        to parse into (decode_batch parses on its own)."""
        cdef int64_t n = len(rles), i, total = 0
        cdef PyObject *counts
        cdef char *block
        self.n = n
        block = <char *>malloc(n * (sizeof(frle_src) + 3 * sizeof(uint64_t) + 2 * sizeof(int64_t)
                                    + sizeof(uint32_t *)) + 1)
        if block == NULL:
            raise MemoryError()
        self.src = <frle_src *>block
        self.h = <uint64_t *>(block + n * sizeof(frle_src))
        self.w = self.h + n
        self.hw = self.w + n
        self.offs = <int64_t *>(self.hw + n)
        self.m = self.offs + n
        self.ptrs = <const uint32_t **>(self.m + n)
        self.keep = [None] * n  # the count strings stay alive while the GIL is released
        for i in range(n):
            if i >= PyList_GET_SIZE(rles) or not _fast_rle(
                    <object>PyList_GET_ITEM(rles, i), &self.src[i], &self.h[i], &self.w[i], &self.hw[i], &counts):
                return 0
            self.keep[i] = <object>counts
            self.offs[i] = total
            total += self.src[i].len  # at most one count per character
        self.chars = total
        if not arena:
            return 1
        self.arena = _arena_take(total)
        if self.arena == NULL:
            raise MemoryError()
        for i in range(n):
            self.ptrs[i] = self.arena + self.offs[i]
        return 1

    cdef int parse(self, bint strict) except -1:
        """1 when every mask parses (strict: and sums to its h*w), else 0."""
        cdef frle_error err
        cdef int rc
        cdef int threads = self.threads()
        if threads == 1:
            rc = frle_parse_many(self.src, self.hw, self.n, strict, self.arena, self.offs, self.m, 1, &err)
        else:
            with nogil:
                rc = frle_parse_many(self.src, self.hw, self.n, strict, self.arena, self.offs, self.m,
                                     threads, &err)
        return rc == FRLE_OK

    cdef int threads(self):
        return 0 if self.chars >= _THREAD_MIN_CHARS and self.n > 1 else 1


cdef _Batch _batch(object rles, bint strict):
    """Parsed plain RLE dicts of a non-empty list, or None."""
    if type(rles) is not list or len(rles) == 0:
        return None
    cdef _Batch b = _Batch()
    if not b.collect(rles) or not b.parse(strict):
        return None
    return b


cdef bytes _string(const uint32_t *cnts, int64_t m):
    """Compressed counts string of cnts[0..m) as bytes."""
    cdef char stack[4096]  # COCO masks: up to 585 runs
    cdef int64_t need = frle_string_bound(m) + 1, ln
    cdef PyObject *obj
    cdef char *tmp
    if need <= 4096:
        ln = frle_to_string(cnts, m, stack)
        return PyBytes_FromStringAndSize(stack, ln)
    if need <= 65536:  # a heap buffer and a copy cost less than resizing bytes here
        tmp = <char *>malloc(need)
        if tmp == NULL:
            raise MemoryError()
        try:
            ln = frle_to_string(cnts, m, tmp)
            return PyBytes_FromStringAndSize(tmp, ln)
        finally:
            free(tmp)
    # long strings are written in place and the bytes shrunk to fit (no copy,
    # and no page faults of a second buffer)
    obj = _bytes_raw(NULL, need - 1)
    if obj == NULL:
        raise MemoryError()
    ln = frle_to_string(cnts, m, PyBytes_AS_STRING(<object>obj))
    if _bytes_resize_raw(&obj, ln) < 0:  # frees obj on failure
        raise MemoryError()
    res = <bytes>obj  # a second reference; the one from _bytes_raw goes
    Py_DECREF(res)
    return res


cdef struct _OneRle:
    uint32_t *cnts   # the caller's buffer, or an arena (_arena_take) when the counts need more
    int64_t m
    uint64_t h, w, hw
    PyObject *counts # borrowed: the dict's counts (str or bytes)
    int canonical    # writing the counts again would give that same string


# counts parsed on the C stack: most COCO masks have fewer runs
DEF ONE_CAP = 1024


cdef int _one(object r, bint strict, uint32_t *buf, _OneRle *o, bint canon=False) except -1:
    """Parse one plain RLE dict into buf (ONE_CAP counts) or a malloc'd
    buffer (the caller frees o.cnts when it is not buf): 1, or 0 to decline.
    canon: also find whether the counts string is canonical (o.canonical).
    The GIL is held throughout, so the counts object stays alive."""
    cdef frle_src s
    cdef frle_error err
    o.cnts = buf
    if not _fast_rle(r, &s, &o.h, &o.w, &o.hw, &o.counts):
        return 0
    if s.len > ONE_CAP:
        o.cnts = _arena_take(s.len)
        if o.cnts == NULL:
            o.cnts = buf
            raise MemoryError()
    o.canonical = 0
    # only merge asks, for a string it may hand back as it is. The check runs
    # in the scalar parse: from 48 chars on, frle_parse's vector kernel and
    # writing the string again cost less (0.18 against 0.24 ns per char).
    if canon and s.len < 48:
        return frle_parse_canonical(s.str, s.len, o.hw, strict, o.cnts, &o.m, &err, &o.canonical) == FRLE_OK
    return frle_parse(s.str, s.len, o.hw, strict, o.cnts, &o.m, &err) == FRLE_OK


cdef inline void _one_free(_OneRle *o, uint32_t *buf):
    """Give back the counts of _one, unless they are in the caller's buf."""
    if o.cnts != buf:
        frle_spare_give(o.cnts)
        o.cnts = buf


def area(object rles):
    """pycocotools' area of a dict (np.uint32) or a non-empty list (uint32
    array), or None for the general path."""
    cdef uint32_t a
    cdef int64_t i
    cdef uint32_t buf[ONE_CAP]
    cdef _OneRle o
    cdef _Batch b
    if PyDict_CheckExact(rles):
        try:
            if not _one(rles, False, buf, &o):
                return None
            a = <uint32_t>frle_area(o.cnts, o.m)
        finally:
            _one_free(&o, buf)
        return PyArray_Scalar(&a, _U32, None)
    b = _batch(rles, False)
    if b is None:
        return None
    cdef cnp.npy_intp dims[1]
    dims[0] = b.n
    out = cnp.PyArray_EMPTY(1, dims, cnp.NPY_UINT32, 0)
    cdef uint32_t *ov = <uint32_t *>cnp.PyArray_DATA(out)
    for i in range(b.n):
        ov[i] = <uint32_t>frle_area(b.ptrs[i], b.m[i])
    return out


def toBbox(object rles):
    """pycocotools' toBbox of a dict ((4,) float64) or a non-empty list
    ((n, 4)), or None for the general path."""
    cdef uint32_t buf[ONE_CAP]
    cdef _OneRle o
    cdef _Batch b
    cdef cnp.npy_intp dims[2]
    cdef int threads
    cdef double bb4[4]
    if PyDict_CheckExact(rles):
        try:
            if not _one(rles, False, buf, &o):
                return None
            frle_bbox_coco(o.cnts, o.m, o.h, o.w, bb4)
        finally:
            _one_free(&o, buf)
        dims[0] = 4
        out = cnp.PyArray_EMPTY(1, dims, cnp.NPY_DOUBLE, 0)
        memcpy(cnp.PyArray_DATA(out), bb4, sizeof(bb4))
        return out
    b = _batch(rles, False)
    if b is None:
        return None
    dims[0] = b.n
    dims[1] = 4
    out = cnp.PyArray_EMPTY(2, dims, cnp.NPY_DOUBLE, 0)
    cdef double *bb = <double *>cnp.PyArray_DATA(out)
    threads = b.threads()
    with nogil:
        frle_bbox_coco_many(b.ptrs, b.m, b.h, b.w, b.n, bb, threads)
    return out


def merge(object rles, bint intersect):
    """pycocotools' merge of a non-empty list of dicts, or None."""
    cdef _Batch b
    cdef uint32_t buf[ONE_CAP]
    cdef _OneRle o
    cdef int64_t i, m
    cdef uint32_t *cnts = NULL
    if type(rles) is not list or len(rles) == 0:
        return None
    if len(rles) == 1:
        try:
            if not _one(rles[0], False, buf, &o, True):
                return None
            if o.canonical:
                # merge of one mask writes its counts again: when that gives the
                # same string, the string is the result (bytes are immutable)
                if PyBytes_CheckExact(o.counts):
                    counts = <object>o.counts
                else:
                    counts = PyBytes_FromStringAndSize(<const char *>PyUnicode_DATA(o.counts),
                                                       PyUnicode_GET_LENGTH(o.counts))
                return {"size": [o.h, o.w], "counts": counts}
            return {"size": [o.h, o.w], "counts": _string(o.cnts, o.m)}
        finally:
            _one_free(&o, buf)
    b = _Batch()
    if not b.collect(rles):
        return None
    for i in range(1, b.n):
        if b.h[i] != b.h[0] or b.w[i] != b.w[0]:
            return {"size": [0, 0], "counts": b""}
    # the run walk needs counts that agree on h*w (pycocotools spins otherwise)
    if not b.parse(True):
        return None
    with nogil:
        m = frle_merge_many(b.ptrs, b.m, b.n, b.hw[0], intersect, &cnts)
    if m < 0:
        raise MemoryError()
    try:
        return {"size": [b.h[0], b.w[0]], "counts": _string(cnts, m)}
    finally:
        frle_spare_give(cnts)


cdef int _crowd(object pyiscrowd, int64_t n, uint8_t *out) except -1:
    """pycocotools' np.array(iscrowd, dtype=np.uint8) for a list of n ints
    in 0..255 (or bools) -> 1; anything else -> 0."""
    cdef int64_t i
    cdef uint64_t v
    cdef PyObject *x
    if type(pyiscrowd) is not list or len(pyiscrowd) != n:
        return 0
    for i in range(n):
        x = <PyObject *>PyList_GET_ITEM(pyiscrowd, i)
        if x == <PyObject *>_TRUE:
            out[i] = 1
        elif x == <PyObject *>_FALSE:
            out[i] = 0
        elif _dim(x, &v) and v <= 255:
            out[i] = <uint8_t>v
        else:
            return 0
    return 1


def iou(object dt, object gt, object pyiscrowd):
    """pycocotools' iou of two lists of RLE dicts: (m, n) float64 in Fortran
    order, ``[]`` when a side is empty (after the other side is checked, as
    pycocotools does), or None for the general path."""
    cdef _Batch bd = None, bg = None
    cdef frle_runs rd, rg
    cdef cnp.npy_intp dims[2]
    cdef int rc, threads
    cdef uint8_t crowd_stack[64]
    cdef uint8_t *crowd
    cdef double *o
    cdef bint self_iou
    if type(dt) is not list or type(gt) is not list:
        return None
    cdef int64_t ng = len(gt)
    crowd = &crowd_stack[0] if ng <= 64 else <uint8_t *>malloc(ng)
    if crowd == NULL:
        raise MemoryError()
    try:
        if not _crowd(pyiscrowd, ng, crowd):
            return None
        if len(dt):
            bd = _batch(dt, True)
            if bd is None:
                return None
        if ng:
            bg = bd if gt is dt else _batch(gt, True)  # iou(rles, rles, ...): parse once
            if bg is None:
                return None
        if bd is None or bg is None:
            return []
        rd.cnts = bd.ptrs; rd.m = bd.m; rd.h = bd.h; rd.w = bd.w; rd.n = bd.n
        rg.cnts = bg.ptrs; rg.m = bg.m; rg.h = bg.h; rg.w = bg.w; rg.n = bg.n
        self_iou = bg is bd
        dims[0] = bd.n
        dims[1] = bg.n
        out = cnp.PyArray_EMPTY(2, dims, cnp.NPY_DOUBLE, 1)  # Fortran, as pycocotools
        # threads pay off once the pairs hold enough runs to walk
        threads = 0 if (bd.chars + bg.chars) * min(bd.n, bg.n) >= _THREAD_MIN_CHARS and bg.n > 1 else 1
        o = <double *>cnp.PyArray_DATA(out)
        with nogil:
            rc = frle_iou_runs(&rd, &rd if self_iou else &rg, crowd, o, threads)
        if rc != FRLE_OK:
            raise MemoryError()
        return out
    finally:
        if crowd != &crowd_stack[0]:
            free(crowd)


cdef int _poly_xy(object p, double *xy, int64_t k) except -1:
    """Coordinates of a list of k floats/ints into xy -> 1, checked as
    mask.py checks them; anything else -> 0. Subclasses (np.float64 from
    list(array), bool) and NumPy's real scalars count: their value as a
    double is what np.array(p, np.double), pycocotools' conversion, gives."""
    cdef int64_t i
    cdef PyObject *x
    cdef double v
    for i in range(k):
        x = <PyObject *>PyList_GET_ITEM(p, i)
        if PyFloat_Check(x):
            v = PyFloat_AS_DOUBLE(<object>x)
        elif PyLong_Check(x):
            try:
                v = PyLong_AsDouble(<object>x)
            except OverflowError:
                return 0
        elif isinstance(<object>x, _NP_REAL):  # np.float32, np.int64: as np.array converts them
            v = float(<object>x)
        else:
            return 0
        if not isfinite(v) or not fabs(v) < _MAX_COORD:
            return 0
        xy[i] = v
    return 1


cdef object _poly_rle(const double *xy, int64_t k, uint64_t h, uint64_t w):
    cdef uint32_t *c = NULL
    cdef int64_t m
    if frle_from_poly(xy, k // 2, h, w, &c, &m) != FRLE_OK:
        raise MemoryError()
    try:
        return {"size": [h, w], "counts": _string(c, m)}
    finally:
        free(c)


cdef int _hw(object h, object w, uint64_t *hv, uint64_t *wv) except -1:
    cdef uint64_t hw
    return (_dim(<PyObject *>h, hv) and _dim(<PyObject *>w, wv)
            and frle_check_size(hv[0], wv[0], &hw) == FRLE_OK)


cdef int _array_xy(object p, double *xy, int64_t k) except -1:
    """Coordinates of a 1-D float64 array (detectron2 passes polygons so) -> 1,
    checked as mask.py checks them; 0 otherwise."""
    cdef cnp.ndarray a = p
    cdef int64_t i, st = a.strides[0]
    cdef char *base = <char *>cnp.PyArray_DATA(a)
    cdef double v
    for i in range(k):
        v = (<double *>(base + i * st))[0]
        if not isfinite(v) or not fabs(v) < _MAX_COORD:
            return 0
        xy[i] = v
    return 1


cdef inline bint _plain_doubles(object p, int ndim):
    """A float64 array of ndim dimensions whose elements can be read in place
    (native byte order, aligned)."""
    return (type(p) is np.ndarray and (<cnp.ndarray>p).descr.type_num == cnp.NPY_DOUBLE
            and (<cnp.ndarray>p).ndim == ndim and cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>p)
            and cnp.PyArray_ISALIGNED(<cnp.ndarray>p))


def fr_polys(object polys, object h, object w):
    """pycocotools' frPyObjects of a list of polygons (lists of numbers, or
    1-D float64 arrays): one RLE dict each, or None for the general path."""
    cdef uint64_t hv, wv
    cdef int64_t i, k, n
    cdef double stack[512]
    cdef double *xy
    cdef int ok
    if not _hw(h, w, &hv, &wv) or type(polys) is not list:
        return None
    n = len(polys)
    for i in range(n):  # all checked before any work, as the general path raises first
        if type(polys[i]) is not list and not _plain_doubles(polys[i], 1):
            return None
    out = []
    for i in range(n):
        p = polys[i]
        k = len(p)
        xy = &stack[0] if k <= 512 else <double *>malloc(k * sizeof(double) + 1)
        if xy == NULL:
            raise MemoryError()
        try:
            ok = _poly_xy(p, xy, k) if type(p) is list else _array_xy(p, xy, k)
            if not ok:
                return None
            out.append(_poly_rle(xy, k, hv, wv))
        finally:
            if xy != &stack[0]:
                free(xy)
    return out


def fr_bbox(object bb, object h, object w):
    """pycocotools' frPyObjects of an (n, >=4) float64 array of boxes, or
    None for the general path."""
    cdef uint64_t hv, wv
    cdef double xy[8]
    cdef double x, y, xe, ye
    cdef int64_t i, j, n, s0, s1
    cdef char *base
    if not _plain_doubles(bb, 2) or not _hw(h, w, &hv, &wv):
        return None
    cdef cnp.ndarray a = bb
    if a.shape[1] < 4:
        return None
    n = a.shape[0]
    s0 = a.strides[0]
    s1 = a.strides[1]
    base = <char *>cnp.PyArray_DATA(a)
    out = []
    for i in range(n):
        x = (<double *>(base + i * s0))[0]
        y = (<double *>(base + i * s0 + s1))[0]
        xe = x + (<double *>(base + i * s0 + 2 * s1))[0]
        ye = y + (<double *>(base + i * s0 + 3 * s1))[0]
        xy[0] = x; xy[1] = y; xy[2] = x; xy[3] = ye
        xy[4] = xe; xy[5] = ye; xy[6] = xe; xy[7] = y
        for j in range(8):
            if not isfinite(xy[j]) or not fabs(xy[j]) < _MAX_COORD:
                return None
        out.append(_poly_rle(xy, 8, hv, wv))
    return out


def encode(object bimask):
    """pycocotools' encode of a Fortran-contiguous uint8/bool (H, W) or
    (H, W, N) array of under 8 MiB: a dict or a list of dicts; None for the
    general path (other layouts, empty or large arrays)."""
    cdef cnp.ndarray a
    cdef int nd, rc
    cdef int64_t h, w, n, i
    cdef uint64_t hw
    cdef char *strs_stack[16]
    cdef int64_t lens_stack[16]
    cdef char **strs
    cdef int64_t *lens
    cdef frle_error err
    if type(bimask) is not np.ndarray:
        return None
    a = bimask
    nd = a.ndim
    if (nd != 2 and nd != 3) or not cnp.PyArray_IS_F_CONTIGUOUS(a) or \
            (a.descr.type_num != cnp.NPY_UINT8 and a.descr.type_num != cnp.NPY_BOOL):
        return None
    h, w = a.shape[0], a.shape[1]
    n = a.shape[2] if nd == 3 else 1
    if h == 0 or w == 0 or n == 0 or frle_check_size(h, w, &hw) != FRLE_OK or <int64_t>hw * n >= _SMALL_BYTES:
        return None
    strs, lens = &strs_stack[0], &lens_stack[0]
    if n > 16:
        strs = <char **>malloc(n * sizeof(char *))
        lens = <int64_t *>malloc(n * sizeof(int64_t))
        if strs == NULL or lens == NULL:
            free(strs); free(lens)
            raise MemoryError()
    try:
        # colmajor: mask i is h*w bytes at i*h*w, as an F-order (H, W, N) array holds it
        rc = frle_encode_batch(<const uint8_t *>cnp.PyArray_DATA(a), n, h, w, <int64_t>hw, 0, 1, 0,
                               strs, lens, 1, &err)
        if rc != FRLE_OK:
            raise_status(&err)  # out of memory: the only failure on one thread
        try:
            if nd == 2:
                return {"size": [h, w], "counts": PyBytes_FromStringAndSize(strs[0], lens[0])}
            return [{"size": [h, w], "counts": PyBytes_FromStringAndSize(strs[i], lens[i])} for i in range(n)]
        finally:
            for i in range(n):
                free(strs[i])
    finally:
        if strs != &strs_stack[0]:
            free(strs); free(lens)


cdef object _decode_one(object r):
    """decode of one plain dict, parsed on the stack and written as its runs
    come (F order is run order), or None."""
    cdef uint32_t buf[ONE_CAP]
    cdef _OneRle o
    cdef cnp.npy_intp dims[2]
    try:
        # strict: the runs must sum to h*w before any byte is written
        if not _one(r, True, buf, &o) or o.hw == 0 or <int64_t>o.hw >= _SMALL_BYTES:
            return None
        dims[0], dims[1] = o.h, o.w
        out = cnp.PyArray_EMPTY(2, dims, cnp.NPY_UINT8, 1)  # Fortran order
        frle_decode_colmajor(o.cnts, o.m, <uint8_t *>cnp.PyArray_DATA(out), 0)
        return out
    finally:
        _one_free(&o, buf)


def decode(object rles):
    """pycocotools' decode of a plain RLE dict ((H, W), Fortran order) or a
    non-empty list of same-size plain dicts ((H, W, N)), of under 8 MiB of
    output; None for the general path (which also raises the errors)."""
    cdef bint one = PyDict_CheckExact(rles)
    cdef list items
    cdef _Batch b
    cdef int64_t i
    cdef frle_error err
    cdef cnp.npy_intp dims[3]
    if one:
        out = _decode_one(rles)
        if out is not None:
            return out
        items = [rles]
    elif type(rles) is list and len(rles) > 0:
        items = rles
    else:
        return None
    b = _Batch()
    if not b.collect(items, False):
        return None
    for i in range(1, b.n):
        if b.h[i] != b.h[0] or b.w[i] != b.w[0]:
            return None
    if b.hw[0] == 0 or <int64_t>b.hw[0] * b.n >= _SMALL_BYTES:
        return None
    dims[0], dims[1], dims[2] = b.h[0], b.w[0], b.n
    out = cnp.PyArray_EMPTY(3, dims, cnp.NPY_UINT8, 1)  # Fortran order
    if frle_decode_batch(b.src, b.n, b.h[0], b.w[0], <uint8_t *>cnp.PyArray_DATA(out), b'F', 0, 1,
                         &err) != FRLE_OK:
        return None
    return out[:, :, 0] if one else out


cdef int _counts_u32(object c, uint32_t *out, int64_t m) except -1:
    """A list of m exact ints in 0..2^32-1 (np.array(c, np.uint32) takes
    them as they are) into out -> 1; anything else -> 0."""
    cdef int64_t i
    cdef uint64_t v
    for i in range(m):
        if not _dim(<PyObject *>PyList_GET_ITEM(c, i), &v):
            return 0
        out[i] = <uint32_t>v
    return 1


def fr_uncompressed(object objs, object h, object w):
    """pycocotools' frPyObjects of a list of dicts with list counts (size
    from each dict): one RLE dict each, or None for the general path."""
    cdef uint64_t hv, wv, sh, sw
    cdef uint32_t stack[256]
    cdef uint32_t *c
    cdef int64_t i, m
    cdef PyObject *size
    cdef PyObject *counts
    if type(objs) is not list or not _dim(<PyObject *>h, &hv) or not _dim(<PyObject *>w, &wv):
        return None
    out = []
    for r in objs:
        if not PyDict_CheckExact(r):
            return None
        size = PyDict_GetItem(r, _SIZE)
        counts = PyDict_GetItem(r, _COUNTS)
        if size == NULL or counts == NULL or not PyList_CheckExact(counts):
            return None
        if PyList_CheckExact(size) and PyList_GET_SIZE(<object>size) == 2:
            if not _dim(<PyObject *>PyList_GET_ITEM(<object>size, 0), &sh) or \
                    not _dim(<PyObject *>PyList_GET_ITEM(<object>size, 1), &sw):
                return None
        else:
            return None
        m = PyList_GET_SIZE(<object>counts)
        c = &stack[0] if m <= 256 else <uint32_t *>malloc(m * sizeof(uint32_t))
        if c == NULL:
            raise MemoryError()
        try:
            if not _counts_u32(<object>counts, c, m):
                return None
            out.append({"size": [sh, sw], "counts": _string(c, m)})
        finally:
            if c != &stack[0]:
                free(c)
    return out


include "_spin.pxi"
