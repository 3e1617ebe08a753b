# cython: language_level=3, boundscheck=False, wraparound=False
"""Packing of a batch's count strings for fastrle.gpu's upload, in one pass.

The common batch (dicts of one size, counts all ``str`` or all ``bytes``)
is read at C level and its strings copied once, back to back, into a fresh
uint8 array with int64 offsets: no joined string, no encoded copy, no
Python-level loop.  Anything else returns None, and ``fastrle.gpu.launch``
takes its checking path (its rules and messages).
"""
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_CheckExact, PyBytes_GET_SIZE
from cpython.dict cimport PyDict_CheckExact, PyDict_GetItem
from cpython.list cimport PyList_CheckExact, PyList_GET_ITEM, PyList_GET_SIZE
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_CheckExact
from libc.stdint cimport int64_t
from libc.string cimport memcpy

import numpy as np


cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL


cdef inline const char* _data(object c, bint text, Py_ssize_t* size) except? NULL:
    if text:
        return PyUnicode_AsUTF8AndSize(c, size)  # the string's own bytes when ASCII: no copy
    size[0] = PyBytes_GET_SIZE(c)
    return PyBytes_AS_STRING(c)


def pack_counts(list items):
    """``(size, offsets, chars)`` for ``items``, a list of RLE dicts that all
    have mask 0's ``size`` (a list of two ints) and whose ``counts`` are all
    ``str`` or all ``bytes`` (exact types): ``offsets`` int64 (n + 1) into
    ``chars`` uint8 (UTF-8 bytes for str); else None."""
    cdef Py_ssize_t n = PyList_GET_SIZE(items), i, size = 0
    cdef int64_t total = 0
    cdef PyObject* d
    cdef PyObject* s
    cdef PyObject* c
    cdef bint text
    cdef const char* p
    if n == 0:
        return None
    d = PyList_GET_ITEM(items, 0)
    if not PyDict_CheckExact(<object>d):
        return None
    s = PyDict_GetItem(<object>d, "size")
    c = PyDict_GetItem(<object>d, "counts")
    if s == NULL or c == NULL or not PyList_CheckExact(<object>s) or PyList_GET_SIZE(<object>s) != 2:
        return None
    first = <object>s
    if type(first[0]) is not int or type(first[1]) is not int:
        return None
    text = PyUnicode_CheckExact(<object>c)
    if not text and not PyBytes_CheckExact(<object>c):
        return None
    offsets = np.empty(n + 1, dtype=np.int64)
    cdef int64_t[::1] off = offsets
    off[0] = 0
    for i in range(n):  # check everything and measure, before any copy
        d = PyList_GET_ITEM(items, i)
        if not PyDict_CheckExact(<object>d):
            return None
        s = PyDict_GetItem(<object>d, "size")
        if s == NULL:
            return None
        if s != <PyObject*>first and not (PyList_CheckExact(<object>s) and <object>s == first):
            return None
        c = PyDict_GetItem(<object>d, "counts")  # looked up after ==, which may run Python code
        if c == NULL:
            return None
        if (PyUnicode_CheckExact(<object>c) if text else PyBytes_CheckExact(<object>c)) == 0:
            return None
        _data(<object>c, text, &size)
        total += size
        off[i + 1] = total
    chars = np.empty(total, dtype=np.uint8)
    cdef unsigned char[::1] out = chars
    for i in range(n):  # the allocation may have run Python code (a finaliser): check again
        if i >= PyList_GET_SIZE(items):
            return None
        d = PyList_GET_ITEM(items, i)
        c = PyDict_GetItem(<object>d, "counts") if PyDict_CheckExact(<object>d) else NULL
        if c == NULL or (PyUnicode_CheckExact(<object>c) if text else PyBytes_CheckExact(<object>c)) == 0:
            return None
        p = _data(<object>c, text, &size)
        if size != off[i + 1] - off[i]:
            return None
        if size:
            memcpy(&out[off[i]], p, size)
    return first, offsets, chars
