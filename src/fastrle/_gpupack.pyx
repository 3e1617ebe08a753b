# cython: language_level=3, boundscheck=False, wraparound=False
"""Packing of a batch's count strings for fastrle.gpu's upload.

The common batch (dicts of one size, counts all ``str`` or all ``bytes``)
is read at C level by :func:`pack_counts`, which measures the strings and
keeps them (they are immutable) without copying; :func:`fill_upload` then
copies them once, back to back, straight into the pinned upload buffer: no
joined string, no encoded copy, no intermediate array, no Python-level
loop.  Anything else makes :func:`pack_counts` return None, and
``fastrle.gpu.launch`` takes its checking path (its rules and messages).
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_CheckExact, PyDict_GetItemWithError
from cpython.list cimport PyList_CheckExact, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow, PyLong_CheckExact
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_CheckExact
from libc.stdint cimport int64_t, uint32_t
from libc.string cimport memcpy

import numpy as np


cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL


cdef inline const char* _data(object c, bint text, Py_ssize_t* size) except? NULL:
    if text:
        return PyUnicode_AsUTF8AndSize(c, size)  # the string's own bytes when ASCII: no copy
    size[0] = PyBytes_GET_SIZE(c)
    return PyBytes_AS_STRING(c)


cdef inline bint _same_size(object s, long long h, long long w):
    """``s`` is a list of two exact ints equal to h and w: C compares, no Python code run."""
    cdef int overflow = 0
    if not PyList_CheckExact(s) or PyList_GET_SIZE(s) != 2:
        return False
    a = <object>PyList_GET_ITEM(s, 0)
    b = <object>PyList_GET_ITEM(s, 1)
    if not PyLong_CheckExact(a) or not PyLong_CheckExact(b):
        return False
    if PyLong_AsLongLongAndOverflow(a, &overflow) != h or overflow:
        return False
    return PyLong_AsLongLongAndOverflow(b, &overflow) == w and not overflow


def pack_counts(list items):
    """``(size, offsets, strings)`` for ``items``, a list of RLE dicts that
    all have mask 0's ``size`` (a list of two ints) and whose ``counts`` are
    all ``str`` or all ``bytes`` (exact types): ``offsets`` int64 (n + 1),
    each mask's byte offset (UTF-8 for str), and ``strings`` a new list of
    the ``counts`` objects, for :func:`fill_upload`; else None."""
    cdef Py_ssize_t n = PyList_GET_SIZE(items), i, size = 0
    cdef int64_t total = 0
    cdef PyObject* s
    cdef PyObject* c
    cdef bint text
    cdef long long h = 0, w = 0
    cdef int overflow = 0
    if n == 0:
        return None
    d = <object>PyList_GET_ITEM(items, 0)
    if not PyDict_CheckExact(d):
        return None
    s = PyDict_GetItemWithError(d, "size")
    c = PyDict_GetItemWithError(d, "counts")
    if s == NULL or c == NULL or not PyList_CheckExact(<object>s) or PyList_GET_SIZE(<object>s) != 2:
        return None
    first = <object>s
    if type(first[0]) is not int or type(first[1]) is not int:
        return None
    text = PyUnicode_CheckExact(<object>c)
    if not text and not PyBytes_CheckExact(<object>c):
        return None
    h = PyLong_AsLongLongAndOverflow(first[0], &overflow)
    if not overflow:
        w = PyLong_AsLongLongAndOverflow(first[1], &overflow)
    if overflow:  # no mask this large fits anyway: the checking path says why
        return None
    offsets = np.empty(n + 1, dtype=np.int64)
    cdef int64_t[::1] off = offsets
    strings = [None] * n
    off[0] = 0
    for i in range(n):
        if i >= PyList_GET_SIZE(items):  # == below may run Python code that shrinks the list
            return None
        d = <object>PyList_GET_ITEM(items, i)  # a reference of our own, whatever == does
        if not PyDict_CheckExact(d):
            return None
        s = PyDict_GetItemWithError(d, "size")
        if s == NULL:
            return None
        if s != <PyObject*>first and not _same_size(<object>s, h, w) and not (
                PyList_CheckExact(<object>s) and <object>s == first):
            return None
        c = PyDict_GetItemWithError(d, "counts")  # looked up after ==, which may run Python code
        if c == NULL:
            return None
        if (PyUnicode_CheckExact(<object>c) if text else PyBytes_CheckExact(<object>c)) == 0:
            return None
        _data(<object>c, text, &size)  # UnicodeEncodeError (a ValueError) for lone surrogates
        strings[i] = <object>c  # immutable: what is measured here is what fill_upload copies
        total += size
        off[i + 1] = total
    return first, offsets, strings


def fill_upload(unsigned char[::1] host, const int64_t[::1] offsets, const uint32_t[::1] maps,
                const unsigned char[::1] chars, list strings):
    """Write ``offsets``, ``maps`` (uint32, or None) and the counts bytes --
    ``chars``, or if it is None the ``strings`` of :func:`pack_counts`, back
    to back -- one after another into ``host``, as
    ``fastrle.gpu.launch.scratch_layout`` places them; returns the bytes
    written.  ValueError, before any byte is written, when ``host`` is too
    small or ``strings`` do not match ``offsets``."""
    cdef Py_ssize_t nofs = offsets.shape[0], nmaps = 0 if maps is None else maps.shape[0]
    cdef Py_ssize_t i, k = 0, size = 0, nchars = 0, pos
    cdef const char* p
    if chars is not None:
        nchars = chars.shape[0]
    else:
        if strings is None or nofs < 1 or PyList_GET_SIZE(strings) != nofs - 1:
            raise ValueError("fill_upload: strings do not match offsets")
        k = PyList_GET_SIZE(strings)
        for i in range(k):
            c = <object>PyList_GET_ITEM(strings, i)
            if PyUnicode_CheckExact(c):
                PyUnicode_AsUTF8AndSize(c, &size)
            elif PyBytes_CheckExact(c):
                size = PyBytes_GET_SIZE(c)
            else:
                raise ValueError("fill_upload: strings must be str or bytes")
            if size != offsets[i + 1] - offsets[i]:
                raise ValueError("fill_upload: strings do not match offsets")
        nchars = offsets[nofs - 1] - offsets[0]
    pos = 8 * nofs + 4 * nmaps + nchars
    if pos > host.shape[0]:
        raise ValueError(f"fill_upload: {pos} bytes do not fit in {host.shape[0]}")
    pos = 0
    if nofs:
        memcpy(&host[0], &offsets[0], 8 * nofs)
        pos = 8 * nofs
    if nmaps:
        memcpy(&host[pos], &maps[0], 4 * nmaps)
        pos += 4 * nmaps
    if chars is not None:
        if nchars:
            memcpy(&host[pos], &chars[0], nchars)
        return pos + nchars
    for i in range(k):
        c = <object>PyList_GET_ITEM(strings, i)
        p = _data(c, PyUnicode_CheckExact(c), &size)
        if size:
            memcpy(&host[pos], p, size)
            pos += size
    return pos
