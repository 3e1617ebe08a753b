# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Thin glue between Python objects and the C core in csrc/.

Everything here turns Python inputs into C arrays (no copies of count
strings), calls the core with the GIL released, and turns C error records
into exceptions that name the mask. Policy (which checks, which layout,
pycocotools quirks) lives in api.py and mask.py.
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_FromStringAndSize
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy, memmove, memset

import numpy as np
cimport numpy as cnp

cnp.import_array()

cdef extern from "Python.h":
    const char *PyUnicode_AsUTF8AndSize(object s, Py_ssize_t *size) except NULL

cdef extern from "rle_platform.h" nogil:
    void *frle_alloc_zeroed(size_t n)
    void frle_free_zeroed(void *p, size_t n)

from ._crle cimport *

from ._args import MAX_PIXELS, differing_size, mask_size

# fastrle._args holds the size rule; a copy for the per-mask fast path
cdef int64_t _MAX_DIM = MAX_PIXELS
if MAX_PIXELS != FRLE_MAX_PIXELS:  # the Python rule and the C core's are one limit
    raise ImportError(f"fastrle._args.MAX_PIXELS {MAX_PIXELS} != the C core's FRLE_MAX_PIXELS {FRLE_MAX_PIXELS}")

from ._status cimport raise_code, raise_status

from .errors import RLEError, RLEKeyError  # re-exported: fastrle._core.RLEError keeps working


def default_threads():
    """Number of CPUs this process may run on."""
    return frle_default_threads()


def parse_isa():
    """The count-string parse kernel in use on this CPU: ``"avx512"``,
    ``"avx2"``, ``"sse41"`` (x86-64), ``"neon"`` (AArch64) or ``"scalar"``. The
    environment variable ``FRLE_ISA`` (one of those names), read at first use once in
    each extension module, caps it (on AArch64 an x86 name caps to scalar; on x86-64
    ``"neon"`` caps nothing)."""
    return frle_parse_isa().decode()


cdef class Sources:
    """C views of the counts of a list of RLE dicts: char pointers into the
    callers' str/bytes objects, or uint32 arrays for uncompressed counts.
    Holds references so the pointers stay valid while the GIL is released.
    Its attributes are declared in _core.pxd (other glue modules cimport it)."""

    def __dealloc__(self):
        free(self.src)


cdef inline int64_t _as_dim(object v) except -2:
    """An exact int in 0.._MAX_DIM, else -1 (the caller asks _args.mask_size)."""
    cdef int overflow = 0
    cdef long long d
    if type(v) is not int:
        return -1
    d = PyLong_AsLongLongAndOverflow(v, &overflow)
    if overflow or d < 0 or d > _MAX_DIM:
        return -1
    return d


def counts_array(object counts, int64_t i):
    """Uncompressed counts (a list of ints or an int array) as uint32, with
    negative and oversized runs rejected and the mask index named."""
    try:
        a = np.asarray(counts)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"mask {i}: counts must be str, bytes or a list of ints: {exc}") from None
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        if a.size == 0 and a.ndim == 1:
            return np.zeros(0, np.uint32)
        raise TypeError(f"mask {i}: counts must be str, bytes or a flat list of ints, "
                        f"got an array of {a.dtype} with shape {a.shape}")
    if a.size:
        if a.dtype.kind == "i" and a.min() < 0:
            j = int(np.argmax(a < 0))
            raise_code(FRLE_ERR_NEGATIVE, i, j, int(a[j]))
        if a.max() > MAX_PIXELS:  # a run is at most a whole mask
            j = int(np.argmax(a > MAX_PIXELS))
            raise_code(FRLE_ERR_RUN_TOO_BIG, i, j, int(a[j]))
    return np.ascontiguousarray(a, dtype=np.uint32)


def sources(object rles, bint same_size=True):
    """Collect the counts of `rles` (a list of dicts) without copying strings.

    Raises TypeError/ValueError naming the mask for a missing or malformed
    field, and, with same_size, for sizes that differ from the first mask's.
    """
    cdef Sources s = Sources()
    if isinstance(rles, dict):
        raise TypeError("expected a list of RLE dicts, got a single dict")
    cdef int64_t n = len(rles), i
    cdef Py_ssize_t ln
    cdef const char *p
    cdef cnp.ndarray arr
    s.n = n
    s.src = <frle_src *>malloc(max(n, 1) * sizeof(frle_src))
    if s.src == NULL:
        raise MemoryError()
    keep = []
    hs = np.empty(n, np.int64)
    ws = np.empty(n, np.int64)
    cdef int64_t[::1] hv = hs, wv = ws
    for i in range(n):
        r = rles[i]
        if not isinstance(r, dict):
            raise TypeError(f"mask {i}: expected an RLE dict with 'size' and 'counts', got {type(r).__name__}")
        try:
            size = r["size"]
            counts = r["counts"]
        except KeyError as exc:
            raise RLEKeyError(f"mask {i}: RLE dict has no {exc.args[0]!r} field", i, exc.args[0]) from None
        if type(size) is list and len(<list>size) == 2:
            hv[i] = _as_dim((<list>size)[0])
            wv[i] = _as_dim((<list>size)[1])
        else:
            hv[i] = wv[i] = -1
        if hv[i] < 0 or wv[i] < 0:  # not two plain ints in range: the full rule, and its errors
            hv[i], wv[i] = mask_size(size, i)
        if same_size and i and (hv[i] != hv[0] or wv[i] != wv[0]):
            raise differing_size(i, hv[i], wv[i], hv[0], wv[0])
        if isinstance(counts, str):
            p = PyUnicode_AsUTF8AndSize(counts, &ln)
            keep.append(counts)
            s.src[i].str = p
            s.src[i].len = ln
            s.src[i].cnts = NULL
            s.src[i].m = 0
        elif isinstance(counts, bytes):
            keep.append(counts)
            s.src[i].str = PyBytes_AS_STRING(counts)
            s.src[i].len = PyBytes_GET_SIZE(counts)
            s.src[i].cnts = NULL
            s.src[i].m = 0
        elif isinstance(counts, (list, tuple, np.ndarray)):
            arr = counts_array(counts, i)
            keep.append(arr)
            s.src[i].str = NULL
            s.src[i].len = 0
            s.src[i].cnts = <const uint32_t *>cnp.PyArray_DATA(arr)
            s.src[i].m = arr.shape[0]
        else:
            raise TypeError(f"mask {i}: counts must be str, bytes or a list of ints, "
                            f"got {type(counts).__name__}")
    s.keep = keep
    s.heights = hs
    s.widths = ws
    return s


def sources_ragged(const uint8_t[::1] data, const int64_t[::1] offsets, int64_t h, int64_t w, indices=None):
    """Sources over a ragged table: mask i's string is data[offsets[i]:offsets[i+1]].
    `indices` selects and orders masks (default: all)."""
    cdef Sources s = Sources()
    cdef int64_t n, i, k, total = data.shape[0]
    cdef const int64_t[::1] idx
    cdef int64_t nm = offsets.shape[0] - 1
    if nm < 0:
        raise ValueError("offsets must have at least one entry")
    if indices is None:
        idx_arr = np.arange(nm, dtype=np.int64)
    else:
        idx_arr = np.ascontiguousarray(indices, dtype=np.int64)
        if idx_arr.ndim != 1:
            raise ValueError("indices must be one-dimensional")
    idx = idx_arr
    n = idx.shape[0]
    s.n = n
    s.src = <frle_src *>malloc(max(n, 1) * sizeof(frle_src))
    if s.src == NULL:
        raise MemoryError()
    for k in range(n):
        i = idx[k]
        if i < 0 or i >= nm:
            raise IndexError(f"index {i} out of range for {nm} masks")
        if offsets[i] < 0 or offsets[i + 1] < offsets[i] or offsets[i + 1] > total:
            raise ValueError(f"mask {i}: offsets {offsets[i]}..{offsets[i + 1]} outside the data buffer")
        s.src[k].str = <const char *>&data[0] + offsets[i] if total else <const char *>""
        s.src[k].len = offsets[i + 1] - offsets[i]
        s.src[k].cnts = NULL
        s.src[k].m = 0
    s.keep = [data, offsets, idx_arr]
    s.heights = np.full(n, h, np.int64)
    s.widths = np.full(n, w, np.int64)
    return s


def decode_into(Sources s, object out, int64_t h, int64_t w, str order, bint zeroed, int threads,
                int64_t index_base=0):
    """Validate all masks of `s` (size h x w), then write them into `out`, a
    writable contiguous uint8/bool buffer of n*h*w bytes. order 'C' writes
    (n,h,w) row-major masks, 'F' pycocotools' column-major (h,w,n)."""
    cdef frle_error err
    cdef uint8_t[::1] buf
    cdef uint8_t *dst
    cdef uint64_t hw
    cdef int rc
    cdef char o = b'F' if order == "F" else b'C'
    if frle_check_size(h, w, &hw) != FRLE_OK:
        raise ValueError(f"mask size {h}x{w} has more than 2^32-1 pixels, the most a uint32 run can hold")
    buf = out
    if <uint64_t>buf.shape[0] != hw * <uint64_t>s.n:
        raise ValueError(f"out holds {buf.shape[0]} bytes, expected {s.n}*{h}*{w}")
    if s.n == 0:
        return
    dst = &buf[0] if buf.shape[0] else <uint8_t *>NULL
    if dst == NULL:
        dst = <uint8_t *>&err  # zero-size masks: never written, but not NULL
    memset(&err, 0, sizeof(err))
    with nogil:
        rc = frle_decode_batch(s.src, s.n, h, w, dst, o, zeroed, threads, &err)
    if rc != FRLE_OK:
        raise_status(&err, index_base)


cdef class _MappedBuffer:
    """Fresh zeroed pages from the C core's platform layer
    (``frle_alloc_zeroed``: mmap of 4 KiB pages on Linux, mmap on macOS,
    VirtualAlloc on Windows), exposed through the buffer protocol. The OS
    hands out zero pages, so only foreground needs writing."""
    cdef void *ptr
    cdef size_t size
    cdef Py_ssize_t shape[1]
    cdef Py_ssize_t strides[1]

    def __cinit__(self, size_t size):
        self.size = size if size else 1
        self.ptr = frle_alloc_zeroed(self.size)
        if self.ptr == NULL:
            raise MemoryError(f"could not map {size} bytes")
        self.shape[0] = size
        self.strides[0] = 1

    def __dealloc__(self):
        if self.ptr != NULL:
            frle_free_zeroed(self.ptr, self.size)

    def __getbuffer__(self, Py_buffer *view, int flags):
        view.buf = self.ptr
        view.obj = self
        view.len = self.shape[0]
        view.readonly = 0
        view.itemsize = 1
        view.format = "B"
        view.ndim = 1
        view.shape = self.shape
        view.strides = self.strides
        view.suboffsets = NULL
        view.internal = NULL

    def __releasebuffer__(self, Py_buffer *view):
        pass


def zeroed_pages(size_t nbytes):
    """A writable uint8 array of nbytes zero bytes from fresh anonymous pages
    (4 KiB pages on Linux). Pages nobody writes are never faulted in."""
    return np.frombuffer(_MappedBuffer(nbytes), dtype=np.uint8)


def encode_batch(object masks, bint colmajor, bint nonzero, int threads, bint as_str):
    """Encode masks (n, a, b) uint8: for colmajor each masks[i] is an (h, w)
    mask stored column-major (the array is (n, w, h) C-contiguous); otherwise
    an (h, w) row-major mask with any row stride. Returns a list of counts."""
    cdef cnp.ndarray a = masks
    cdef int64_t n = a.shape[0], i, h, w, ms, rs
    cdef char **strs
    cdef int64_t *lens
    cdef frle_error err
    cdef int rc
    cdef const uint8_t *base
    if colmajor:
        w, h = a.shape[1], a.shape[2]
        rs = 0
    else:
        h, w = a.shape[1], a.shape[2]
        rs = a.strides[1]
    if n == 0 or h == 0 or w == 0:  # no pixels: one empty run; strides may be anything
        return ["0" if as_str else b"0"] * n
    if not colmajor and a.strides[2] != 1 and w > 1:
        raise ValueError("rows must be contiguous")
    ms = a.strides[0] if n > 1 else 0
    base = <const uint8_t *>cnp.PyArray_DATA(a)
    strs = <char **>malloc(max(n, 1) * sizeof(char *))
    lens = <int64_t *>malloc(max(n, 1) * sizeof(int64_t))
    if strs == NULL or lens == NULL:
        free(strs); free(lens)
        raise MemoryError()
    memset(&err, 0, sizeof(err))
    with nogil:
        rc = frle_encode_batch(base, n, h, w, ms, rs, colmajor, nonzero, strs, lens, threads, &err)
    try:
        if rc != FRLE_OK:
            raise_status(&err)
        if as_str:
            return [PyUnicode_DecodeASCII(strs[i], lens[i], NULL) for i in range(n)]
        return [PyBytes_FromStringAndSize(strs[i], lens[i]) for i in range(n)]
    finally:
        if rc == FRLE_OK:
            for i in range(n):
                free(strs[i])
        free(strs)
        free(lens)


cdef class Runs:
    """Parsed counts of n masks in one uint32 arena (a ragged table)."""
    cdef readonly object arena      # uint32 (total,)
    cdef readonly object offsets    # int64 (n+1,)
    cdef readonly object heights    # int64 (n,)
    cdef readonly object widths     # int64 (n,)
    cdef readonly int64_t n


def parse(Sources s, bint strict, int64_t index_base=0):
    """Parse every mask of `s` into a Runs table (the C batch parse,
    frle_parse_many). strict: every run valid and summing to h*w; else
    pycocotools' wrapping arithmetic (syntax checked)."""
    cdef Runs r = Runs()
    cdef int64_t n = s.n, i, total = 0, bad = n, pos = 0
    cdef frle_error err
    cdef int rc
    offs = np.empty(n + 1, np.int64)
    ms = np.empty(max(n, 1), np.int64)
    hws = np.empty(max(n, 1), np.uint64)
    cdef int64_t[::1] ov = offs, mv = ms
    cdef uint64_t[::1] hwv = hws
    cdef int64_t[::1] hv = s.heights, wv = s.widths
    for i in range(n):
        ov[i] = total  # room for each mask's counts: at most one per char
        total += s.src[i].len if s.src[i].str != NULL else s.src[i].m
        if bad == n and frle_check_size(hv[i], wv[i], &hwv[i]) != FRLE_OK:
            bad = i
    arena = np.empty(max(total, 1), np.uint32)
    cdef uint32_t[::1] av = arena
    # the masks before a bad size first: the error of the lowest index wins
    rc = frle_parse_many(s.src, &hwv[0], bad, strict, &av[0], &ov[0], &mv[0], 1, &err)
    if rc != FRLE_OK:
        raise_status(&err, index_base)
    if bad < n:
        raise ValueError(f"mask {bad + index_base}: size {hv[bad]}x{wv[bad]} has more than 2^32-1 pixels")
    for i in range(n):  # close the gaps: mask i's counts follow mask i-1's
        if pos != ov[i]:
            memmove(&av[pos], &av[ov[i]], mv[i] * sizeof(uint32_t))
        ov[i] = pos
        pos += mv[i]
    ov[n] = pos
    r.arena = arena
    r.offsets = offs
    r.heights = s.heights
    r.widths = s.widths
    r.n = n
    return r


def area(Runs r):
    """Foreground pixels per mask as uint64."""
    cdef int64_t i, n = r.n
    out = np.empty(n, np.uint64)
    cdef uint64_t[::1] o = out
    cdef const uint32_t[::1] a = r.arena
    cdef const int64_t[::1] off = r.offsets
    for i in range(n):
        o[i] = frle_area(&a[off[i]], off[i + 1] - off[i])
    return out


def bbox(Runs r, bint coco):
    """Boxes [x, y, w, h] (n, 4) float64; coco: pycocotools' rleToBbox quirks."""
    cdef int64_t i, n = r.n
    out = np.zeros((n, 4), np.float64)
    cdef double[:, ::1] o = out
    cdef const uint32_t[::1] a = r.arena
    cdef const int64_t[::1] off = r.offsets
    cdef const int64_t[::1] hv = r.heights, wv = r.widths
    for i in range(n):
        if coco:
            frle_bbox_coco(&a[off[i]], off[i + 1] - off[i], hv[i], wv[i], &o[i, 0])
        else:
            frle_bbox(&a[off[i]], off[i + 1] - off[i], hv[i], wv[i], &o[i, 0])
    return out


cdef class _RunsView:
    """A Runs table as the C ops take it (frle_runs): a pointer and a count
    per mask."""
    cdef frle_runs v
    cdef const uint32_t **ptrs
    cdef int64_t *ms
    cdef object keep

    def __dealloc__(self):
        free(self.ptrs)
        free(self.ms)


cdef _RunsView _view(Runs r):
    cdef _RunsView rv = _RunsView()
    cdef int64_t i, n = r.n
    cdef const uint32_t[::1] a = r.arena
    cdef const int64_t[::1] off = r.offsets
    cdef const int64_t[::1] hv = r.heights, wv = r.widths
    rv.keep = r
    rv.ptrs = <const uint32_t **>malloc(max(n, 1) * sizeof(uint32_t *))
    rv.ms = <int64_t *>malloc(max(n, 1) * sizeof(int64_t))
    if rv.ptrs == NULL or rv.ms == NULL:
        raise MemoryError()
    for i in range(n):
        rv.ptrs[i] = &a[off[i]]
        rv.ms[i] = off[i + 1] - off[i]
    rv.v.cnts = rv.ptrs
    rv.v.m = rv.ms
    rv.v.n = n
    if n:  # sizes are checked (0..2^32-1): int64 reads as uint64
        rv.v.h = <const uint64_t *>&hv[0]
        rv.v.w = <const uint64_t *>&wv[0]
    return rv


def merge(Runs r, bint intersect):
    """pycocotools' merge of all masks of r (frle_merge_many, as the fast
    path): merged counts (uint32). The masks have r's first size; two or
    more need a strict parse."""
    cdef _RunsView rv = _view(r)
    cdef uint64_t hw = <uint64_t>r.heights[0] * <uint64_t>r.widths[0] if r.n else 0
    cdef uint32_t *cnts = NULL
    cdef int64_t m
    with nogil:
        m = frle_merge_many(rv.v.cnts, rv.v.m, rv.v.n, hw, intersect, &cnts)
    if m < 0:
        raise MemoryError()
    try:
        out = np.empty(m, np.uint32)
        if m:
            memcpy(cnp.PyArray_DATA(out), cnts, m * sizeof(uint32_t))
        return out
    finally:
        frle_spare_give(cnts)


def iou_rle(Runs dt, Runs gt, const uint8_t[::1] iscrowd, int threads=1):
    """pycocotools rleIou of strictly parsed masks (frle_iou_runs, as the
    fast path): boxes first, runs only where boxes overlap; -1 for a size
    mismatch there; crowd IoU = |dt∩gt|/|dt|. iscrowd: one flag per gt, or
    empty for none. Returns (m, n) float64 in Fortran order."""
    cdef int64_t m = dt.n, n = gt.n
    cdef int rc
    if iscrowd.shape[0] and iscrowd.shape[0] != n:
        raise ValueError(f"iscrowd has {iscrowd.shape[0]} flags for {n} gt masks")
    cdef const uint8_t *crowd = &iscrowd[0] if iscrowd.shape[0] else NULL
    o = np.zeros((m, n), np.float64, order="F")
    if m == 0 or n == 0:
        return o
    cdef _RunsView vd = _view(dt), vg = _view(gt)
    cdef double *ov = <double *>cnp.PyArray_DATA(o)
    with nogil:
        rc = frle_iou_runs(&vd.v, &vg.v, crowd, ov, threads)
    if rc != FRLE_OK:
        raise MemoryError()
    return o


def bbox_iou(const double[:, ::1] dt, const double[:, ::1] gt, const uint8_t[::1] iscrowd):
    """pycocotools bbIou on (m,4) and (n,4) boxes; (m, n) float64."""
    cdef int64_t m = dt.shape[0], n = gt.shape[0]
    o = np.zeros(m * n, np.float64)
    cdef double[::1] ov = o
    if m and n:
        frle_bbox_iou(&dt[0, 0], &gt[0, 0], m, n, &iscrowd[0] if iscrowd.shape[0] else NULL, &ov[0])
    return o.reshape((m, n), order="F")


def to_string(const uint32_t[::1] cnts, bint as_str=False):
    """Compressed counts string of a uint32 counts array (bytes, or str)."""
    cdef int64_t m = cnts.shape[0], ln
    cdef char *s = <char *>malloc(frle_string_bound(m) + 1)
    if s == NULL:
        raise MemoryError()
    try:
        ln = frle_to_string(&cnts[0] if m else NULL, m, s)
        if as_str:
            return PyUnicode_DecodeASCII(s, ln, NULL)
        return PyBytes_FromStringAndSize(s, ln)
    finally:
        free(s)


def from_poly(const double[::1] xy, int64_t h, int64_t w):
    """Counts (uint32) of a polygon [x0, y0, x1, y1, ...], pycocotools' rule."""
    cdef uint32_t *c
    cdef int64_t m, k = xy.shape[0] // 2
    cdef int rc
    rc = frle_from_poly(&xy[0] if xy.shape[0] else NULL, k, h, w, &c, &m)
    if rc != FRLE_OK:
        raise MemoryError()
    try:
        out = np.empty(m, np.uint32)
        for i in range(m):
            out[i] = c[i]
        return out
    finally:
        free(c)


include "_spin.pxi"
