# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Glue for csrc/rle_eval.c: pycocotools' evaluateImg and accumulate in C.

fastrle.cocoeval packs one evaluation into flat arrays (per annotation, and
per (category, image) pair as offsets into index lists) and calls
:func:`evaluate` then :func:`accumulate`; both release the GIL. The arrays'
meaning is documented in csrc/rle_eval.h.
"""
from cpython.float cimport PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_AsDouble, PyLong_AsLongLongAndOverflow
from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t, int32_t, int16_t

from collections import defaultdict

import numpy as np
cimport numpy as cnp

from ._core cimport Sources
from ._crle cimport FRLE_OK, FRLE_ERR_NOMEM, frle_error, frle_src
from ._status cimport raise_code, raise_status

cnp.import_array()

cdef extern from "Python.h":
    bint PyDict_CheckExact(object o)
    bint PyFloat_CheckExact(object o)
    bint PyLong_CheckExact(object o)
    bint PyBool_Check(object o)
    bint PyUnicode_CheckExact(object o)
    bint PyBytes_CheckExact(object o)
    PyObject *PyDict_GetItem(object d, object k)
    PyObject *PyDict_GetItemWithError(object d, object k) except? NULL
    const char *PyUnicode_AsUTF8AndSize(object o, Py_ssize_t *size) except NULL
    char *PyBytes_AS_STRING(object o)
    Py_ssize_t PyBytes_GET_SIZE(object o)

cdef extern from "numpy/arrayobject.h":
    object PyArray_Scalar(void *data, cnp.dtype descr, object base)
    object PyArray_NewFromDescr(type subtype, cnp.dtype descr, int nd, cnp.npy_intp *dims, cnp.npy_intp *strides,
                                void *data, int flags, object obj)

cdef extern from "rle_eval.h" nogil:
    ctypedef struct frle_eval:
        int64_t npairs, T, A, maxdet
        const double *iou_thrs
        const double *area_rng
        const int64_t *gt_off
        const int64_t *gt_idx
        const int64_t *dt_off
        int64_t *dt_idx
        const int64_t *dt_n
        const double *gt_area
        const double *gt_id
        const double *dt_area
        const double *dt_id
        const double *dt_score
        const uint8_t *gt_crowd
        const uint8_t *gt_ign
        int boxes
        const double *gt_box
        const double *dt_box
        const frle_src *gt_src
        const frle_src *dt_src
        const int64_t *gt_h
        const int64_t *gt_w
        const int64_t *dt_h
        const int64_t *dt_w
        const int64_t *dt_row
        const double *dt_mbox
        const int64_t *iou_off
        const int64_t *match_off
        double *iou
        int32_t *match
        int16_t *match16
        frle_error err
        int err_side
    ctypedef struct frle_accum:
        const frle_eval *ev
        const uint8_t *present
        int64_t I0, A0, nk, na, nm, ni
        const int64_t *k_list
        const int64_t *a_list
        const int64_t *m_list
        const int64_t *i_list
        int64_t R
        const double *rec_thrs
        int64_t K, A, M
        double *precision
        double *recall
        double *scores
    int frle_eval_run(frle_eval *ev, int nthreads)
    int frle_area_bbox_many(const frle_src *src, const int64_t *hs, const int64_t *ws, int64_t n, uint32_t *area,
                            double *bb, int nthreads, frle_error *err)
    int frle_accumulate(const frle_accum *ac, int nthreads)


cdef void _check_offsets(const int64_t[::1] off, int64_t n, int64_t total, str what) except *:
    cdef int64_t i
    if off.shape[0] != n + 1 or off[0] != 0 or off[n] > total:
        raise ValueError(f"{what}: offsets do not fit")
    for i in range(n):
        if off[i + 1] < off[i]:
            raise ValueError(f"{what}: offsets must be non-decreasing")


cdef void _check_index(const int64_t[::1] idx, int64_t n, str what) except *:
    cdef int64_t i
    for i in range(idx.shape[0]):
        if idx[i] < 0 or idx[i] >= n:
            raise ValueError(f"{what}: index {idx[i]} out of range")


cdef class Evaluation:
    """One evaluation's arrays (see csrc/rle_eval.h, frle_eval); holds
    references to them for as long as it lives."""
    cdef frle_eval ev
    cdef list keep
    cdef readonly bint done
    cdef readonly int bad_side

    def __init__(self, const double[::1] iou_thrs, const double[:, ::1] area_rng, int64_t maxdet,
                 const int64_t[::1] gt_off, const int64_t[::1] gt_idx, const int64_t[::1] dt_off,
                 int64_t[::1] dt_idx, const int64_t[::1] dt_n,
                 const double[::1] gt_area, const double[::1] gt_id, const uint8_t[::1] gt_crowd,
                 const uint8_t[::1] gt_ign, const double[::1] dt_area, const double[::1] dt_id,
                 const double[::1] dt_score, object gt_geom, object dt_geom,
                 const int64_t[::1] iou_off, const int64_t[::1] match_off, double[::1] iou, cnp.ndarray match, object dt_row=None,
                 object dt_mbox=None):
        """gt_geom/dt_geom: a float64 (n, 4) box array, or the masks as a
        fastrle._core.Sources (parsed, strictly, pair by pair in run()).
        match: int16 (every pair has at most 32767 gts) or int32; a pair
        without gts has no matches stored. Masks only: dt_row (int64, one
        per dt): the row of each dt's mask in dt_geom (else row d);
        dt_mbox: float64 (rows, 4), pycocotools' toBbox of each row's mask
        (else computed in run())."""
        cdef int64_t npairs = gt_off.shape[0] - 1, ng = gt_area.shape[0], nd = dt_area.shape[0], p
        cdef int64_t T = iou_thrs.shape[0], A = area_rng.shape[0]
        if npairs < 0 or dt_off.shape[0] != npairs + 1 or dt_n.shape[0] != npairs \
                or iou_off.shape[0] != npairs + 1 or match_off.shape[0] != npairs + 1:
            raise ValueError("per-pair arrays differ in length")
        if area_rng.shape[1] != 2:
            raise ValueError("area_rng must be (A, 2)")
        if gt_id.shape[0] != ng or gt_crowd.shape[0] != ng or gt_ign.shape[0] != ng \
                or dt_id.shape[0] != nd or dt_score.shape[0] != nd:
            raise ValueError("per-annotation arrays differ in length")
        _check_offsets(gt_off, npairs, gt_idx.shape[0], "gt")
        _check_offsets(dt_off, npairs, dt_idx.shape[0], "dt")
        _check_index(gt_idx, ng, "gt")
        _check_index(dt_idx, nd, "dt")
        for p in range(npairs):
            if dt_n[p] < 0 or dt_n[p] > dt_off[p + 1] - dt_off[p]:
                raise ValueError("dt_n out of range")
            if iou_off[p + 1] - iou_off[p] != dt_n[p] * (gt_off[p + 1] - gt_off[p]) \
                    or match_off[p + 1] - match_off[p] != (A * T * dt_n[p] if gt_off[p + 1] > gt_off[p] else 0):
                raise ValueError("output offsets do not fit")
        if iou_off[0] != 0 or match_off[0] != 0 or iou.shape[0] < iou_off[npairs] \
                or match.ndim != 1 or match.shape[0] < match_off[npairs]:
            raise ValueError("output arrays too small")
        if not match.flags.c_contiguous or not match.flags.writeable or match.dtype not in (_I16, _I32):
            raise ValueError("match must be a writable contiguous int16 or int32 array")
        if match.dtype == _I16:
            for p in range(npairs):
                if gt_off[p + 1] - gt_off[p] > 32767:
                    raise ValueError("int16 matches: a pair has more than 32767 gts")
        self.keep = [iou_thrs.base, area_rng.base, gt_off.base, gt_idx.base, dt_off.base, dt_idx.base,
                     dt_n.base, gt_area.base, gt_id.base, gt_crowd.base, gt_ign.base, dt_area.base,
                     dt_id.base, dt_score.base, gt_geom, dt_geom, iou_off.base, match_off.base, iou.base,
                     match]
        ev = &self.ev
        ev.npairs = npairs
        ev.T = T
        ev.A = A
        ev.maxdet = maxdet
        ev.iou_thrs = &iou_thrs[0] if T else NULL
        ev.area_rng = &area_rng[0, 0] if A else NULL
        ev.gt_off = &gt_off[0]
        ev.gt_idx = &gt_idx[0] if gt_idx.shape[0] else NULL
        ev.dt_off = &dt_off[0]
        ev.dt_idx = &dt_idx[0] if dt_idx.shape[0] else NULL
        ev.dt_n = &dt_n[0] if npairs else NULL
        ev.gt_area = &gt_area[0] if ng else NULL
        ev.gt_id = &gt_id[0] if ng else NULL
        ev.gt_crowd = &gt_crowd[0] if ng else NULL
        ev.gt_ign = &gt_ign[0] if ng else NULL
        ev.dt_area = &dt_area[0] if nd else NULL
        ev.dt_id = &dt_id[0] if nd else NULL
        ev.dt_score = &dt_score[0] if nd else NULL
        ev.iou_off = &iou_off[0]
        ev.match_off = &match_off[0]
        ev.iou = &iou[0] if iou.shape[0] else NULL
        ev.match = NULL
        ev.match16 = NULL
        if match.dtype == _I16:
            ev.match16 = <int16_t *>cnp.PyArray_DATA(match) if match.shape[0] else NULL
        else:
            ev.match = <int32_t *>cnp.PyArray_DATA(match) if match.shape[0] else NULL
        ev.dt_row = NULL
        ev.dt_mbox = NULL
        if isinstance(gt_geom, Sources):
            ev.boxes = 0
            self._runs(gt_geom, ng, True)
            self._runs(dt_geom, nd if dt_row is None else (<Sources>dt_geom).n, False)
            if dt_row is not None:
                self._rows(dt_row, nd, (<Sources>dt_geom).n)
            if dt_mbox is not None:
                self._mbox(dt_mbox, (<Sources>dt_geom).n)
        else:
            ev.boxes = 1
            self._boxes(gt_geom, ng, True)
            self._boxes(dt_geom, nd, False)
        self.done = False

    cdef _boxes(self, const double[:, ::1] b, int64_t n, bint gt):
        if b.shape[0] != n or (n and b.shape[1] != 4):
            raise ValueError("boxes must be (n, 4)")
        if gt:
            self.ev.gt_box = &b[0, 0] if n else NULL
        else:
            self.ev.dt_box = &b[0, 0] if n else NULL

    cdef _runs(self, Sources src, int64_t n, bint gt):
        cdef const int64_t[::1] hs = src.heights
        cdef const int64_t[::1] ws = src.widths
        if src.n != n or hs.shape[0] != n or ws.shape[0] != n:
            raise ValueError("masks: counts differ in length")
        if gt:
            self.ev.gt_src = src.src
            self.ev.gt_h = &hs[0] if n else NULL
            self.ev.gt_w = &ws[0] if n else NULL
        else:
            self.ev.dt_src = src.src
            self.ev.dt_h = &hs[0] if n else NULL
            self.ev.dt_w = &ws[0] if n else NULL

    cdef _rows(self, const int64_t[::1] rows, int64_t nd, int64_t n):
        if rows.shape[0] != nd:
            raise ValueError("dt_row: one row per dt")
        _check_index(rows, n, "dt_row")
        self.keep.append(rows.base)
        self.ev.dt_row = &rows[0] if nd else NULL

    cdef _mbox(self, const double[:, ::1] b, int64_t n):
        if b.shape[0] != n or (n and b.shape[1] != 4):
            raise ValueError("dt_mbox must be (rows, 4)")
        self.keep.append(b.base)
        self.ev.dt_mbox = &b[0, 0] if n else NULL

    def run(self, int threads=0):
        """evaluate(): sort each pair's dts, compute its IoUs and its matches
        for every area range and IoU threshold (once; later calls do nothing).
        A mask that does not parse raises RLEError with the mask's index on
        its side; ``bad_side`` then says which side (0 gt, 1 dt)."""
        cdef int rc
        if self.done:
            return
        with nogil:
            rc = frle_eval_run(&self.ev, threads)
        if rc != FRLE_OK:
            self.bad_side = self.ev.err_side
            raise_status(&self.ev.err)
        self.done = True

    def accumulate(self, const uint8_t[::1] present, int64_t I0, int64_t A0, const int64_t[::1] k_list,
                   const int64_t[::1] a_list, const int64_t[::1] m_list, const int64_t[::1] i_list,
                   const double[::1] rec_thrs, double[:, :, :, :, ::1] precision,
                   double[:, :, :, ::1] recall, double[:, :, :, :, ::1] scores, int threads=0):
        """accumulate()'s loops into precision, scores (T, R, K, A, M) and
        recall (T, K, A, M), which hold -1 on entry."""
        cdef frle_accum ac
        cdef int rc
        cdef int64_t x, nk = k_list.shape[0], na = a_list.shape[0], nm = m_list.shape[0], ni = i_list.shape[0]
        cdef int64_t K = precision.shape[2], A = precision.shape[3], M = precision.shape[4]
        cdef int64_t R = rec_thrs.shape[0], T = self.ev.T, K0
        if not self.done:
            raise RuntimeError("evaluate first")
        if present.shape[0] != self.ev.npairs or I0 <= 0 or A0 != self.ev.A or self.ev.npairs % I0:
            raise ValueError("present/I0/A0 do not fit the evaluation")
        K0 = self.ev.npairs // I0
        if precision.shape[0] != T or precision.shape[1] != R or scores.shape[0] != T or scores.shape[1] != R \
                or scores.shape[2] != K or scores.shape[3] != A or scores.shape[4] != M \
                or recall.shape[0] != T or recall.shape[1] != K or recall.shape[2] != A or recall.shape[3] != M:
            raise ValueError("output shapes do not fit")
        if nk > K or na > A or nm > M:
            raise ValueError("more loop entries than output cells")
        cdef int64_t kmax = 0, amax = 0, imax = 0
        for x in range(nk):
            if k_list[x] < 0:
                raise ValueError("negative category index")
            kmax = max(kmax, k_list[x])
        for x in range(na):
            if a_list[x] < 0:
                raise ValueError("negative area index")
            amax = max(amax, a_list[x])
        for x in range(ni):
            if i_list[x] < 0:
                raise ValueError("negative image index")
            imax = max(imax, i_list[x])
        if nk and na and ni and kmax * A0 * I0 + amax * I0 + imax >= K0 * A0 * I0:
            raise IndexError("list index out of range")  # as evalImgs[Nk + Na + i] would
        ac.ev = &self.ev
        ac.present = &present[0] if present.shape[0] else NULL
        ac.I0 = I0
        ac.A0 = A0
        ac.nk = nk
        ac.na = na
        ac.nm = nm
        ac.ni = ni
        ac.k_list = &k_list[0] if nk else NULL
        ac.a_list = &a_list[0] if na else NULL
        ac.m_list = &m_list[0] if nm else NULL
        ac.i_list = &i_list[0] if ni else NULL
        ac.R = R
        ac.rec_thrs = &rec_thrs[0] if R else NULL
        ac.K = K
        ac.A = A
        ac.M = M
        ac.precision = &precision[0, 0, 0, 0, 0] if precision.size else NULL
        ac.recall = &recall[0, 0, 0, 0] if recall.size else NULL
        ac.scores = &scores[0, 0, 0, 0, 0] if scores.size else NULL
        if nk * na * nm * ni == 0 or T == 0:
            return
        with nogil:
            rc = frle_accumulate(&ac, threads)
        if rc != FRLE_OK:
            raise_code(FRLE_ERR_NOMEM, None, 0, 0)


# --- loadRes and _prepare: pycocotools' per-annotation Python loops, at C level -------------

cdef object _AREA = "area"
cdef object _BBOX = "bbox"
cdef object _ID = "id"
cdef object _ISCROWD = "iscrowd"
cdef object _IMAGE_ID = "image_id"
cdef object _CATEGORY_ID = "category_id"
cdef object _SEGMENTATION = "segmentation"
cdef object _COUNTS = "counts"
cdef object _SCORE = "score"
cdef object _SIZE = "size"
cdef object _ZERO = 0
cdef cnp.dtype _U32 = np.dtype(np.uint32)
cdef cnp.dtype _I16 = np.dtype(np.int16)
cdef cnp.dtype _F64 = np.dtype(np.float64)
cdef cnp.dtype _I32 = np.dtype(np.int32)
cdef object _NP_U32 = np.uint32
cdef object _NP_F64 = np.float64


def area_bbox(Sources s, int threads=0):
    """(area uint32 (n,), box float64 (n, 4)) of every mask of ``s``, each
    parsed once: pycocotools' area and toBbox of each (not strict). None
    when a mask is not a count string, does not parse or has a bad size:
    the caller's general path does what fastrle.mask does with it."""
    cdef int64_t n = s.n, i
    cdef frle_error err
    cdef int rc
    areas = np.empty(n, np.uint32)
    boxes = np.empty((n, 4), np.float64)
    cdef uint32_t[::1] av = areas
    cdef double[:, ::1] bv = boxes
    cdef const int64_t[::1] hs = s.heights
    cdef const int64_t[::1] ws = s.widths
    if n == 0:
        return areas, boxes
    for i in range(n):
        if s.src[i].str == NULL:  # given counts: pycocotools' area and toBbox take strings only
            return None
    with nogil:
        rc = frle_area_bbox_many(s.src, &hs[0], &ws[0], n, &av[0], &bv[0, 0], threads, &err)
    if rc != FRLE_OK:
        return None
    return areas, boxes


def fill_results(list anns, cnp.ndarray areas, cnp.ndarray boxes, bint index=False):
    """loadRes' loop over segmentation results, statement for statement:
    ann['area'] = areas[i] (a np.uint32), ann['bbox'] = boxes[i] (a (4,)
    row) when the result has none, ann['id'] = i + 1, ann['iscrowd'] = 0.

    index: also build, in the same pass, the annotation part of
    createIndex over ``anns`` (see :func:`build_index`) and return it as
    (anns, imgToAnns, catToImgs) plain dicts, or None where reading an
    annotation for it raised (every result is still filled; createIndex
    itself then raises that error)."""
    cdef Py_ssize_t i
    cdef uint32_t *ap = <uint32_t *>cnp.PyArray_DATA(areas)
    cdef char *bp = <char *>cnp.PyArray_DATA(boxes)
    cdef dict by_id = {}, ita = {}, cti = {}
    cdef bint ok = index
    cdef cnp.npy_intp four = 4
    if areas.dtype != _U32 or not areas.flags.c_contiguous or areas.shape[0] < len(anns) \
            or boxes.shape[0] < len(anns) or boxes.ndim != 2 or boxes.shape[1] != 4 or boxes.dtype != _F64 \
            or not boxes.flags.c_contiguous or not boxes.flags.writeable:
        raise ValueError("areas and boxes must cover every result")
    for i in range(len(anns)):
        ann = anns[i]
        ann[_AREA] = PyArray_Scalar(&ap[i], _U32, None)
        if _BBOX not in ann:
            # boxes[i], made directly: a writable (4,) view with boxes as its base
            Py_INCREF(_F64)  # PyArray_NewFromDescr steals a reference
            row = PyArray_NewFromDescr(np.ndarray, _F64, 1, &four, NULL, bp + 32 * i, cnp.NPY_ARRAY_CARRAY, None)
            cnp.set_array_base(row, boxes)
            ann[_BBOX] = row
        ann[_ID] = i + 1
        ann[_ISCROWD] = _ZERO
        if ok:
            try:
                _index_ann(ann, by_id, ita, cti, True)
            except Exception:
                ok = False
    return (by_id, ita, cti) if ok else None


cdef inline void _append(dict d, object k, object v) except *:
    """d.setdefault(k, []).append(v), as a defaultdict(list) does it."""
    o = d.get(k)
    if o is None:
        d[k] = [v]
    else:
        (<list>o).append(v)


cdef inline void _index_ann(object ann, dict by_id, dict ita, dict cti, bint cats) except *:
    # the statements of createIndex's two loops over the annotations, in order
    # for one annotation (their dicts are independent, so the order of keys
    # and values is the same)
    _append(ita, ann[_IMAGE_ID], ann)
    by_id[ann[_ID]] = ann
    if cats:
        _append(cti, ann[_CATEGORY_ID], ann[_IMAGE_ID])


def build_index(object dataset, object parts=None):
    """pycocotools' COCO.createIndex, loop for loop, without its prints:
    (anns, imgToAnns, catToImgs, imgs, cats), the same dicts (keys, their
    order, values; the two lists defaultdict(list)). parts: the
    annotations' part made already by :func:`fill_results`."""
    cdef dict anns = {}, cats = {}, imgs = {}, ita = {}, cti = {}
    cdef list lst
    has_anns, has_cats = "annotations" in dataset, "categories" in dataset
    if parts is not None:
        anns, ita, cti = parts
    elif has_anns:
        for ann in dataset["annotations"]:
            _append(ita, ann[_IMAGE_ID], ann)
            anns[ann[_ID]] = ann
    if "images" in dataset:
        for img in dataset["images"]:
            imgs[img[_ID]] = img
    if has_cats:
        for cat in dataset["categories"]:
            cats[cat[_ID]] = cat
    if parts is None and has_anns and has_cats:
        for ann in dataset["annotations"]:
            _append(cti, ann[_CATEGORY_ID], ann[_IMAGE_ID])
    img_to_anns = defaultdict(list)
    img_to_anns.update(ita)
    cat_to_imgs = defaultdict(list)
    cat_to_imgs.update(cti)
    return anns, img_to_anns, cat_to_imgs, imgs, cats


def segmentations(list anns):
    """([ann['segmentation'] for ann in anns], whether every one is exactly
    a dict), the list's KeyError or TypeError as that list raises it."""
    cdef Py_ssize_t i, n = len(anns)
    cdef list out = [None] * n
    cdef bint dicts = True
    for i in range(n):
        seg = anns[i][_SEGMENTATION]
        dicts = dicts and PyDict_CheckExact(seg)
        out[i] = seg
    return out, dicts


def not_compressed(list anns):
    """Positions of the annotations whose segmentation is not a plain dict
    with str or bytes counts (what annToRLE would change, or fail on),
    found without raising."""
    cdef Py_ssize_t i
    cdef PyObject *seg
    cdef PyObject *c
    out = []
    for i in range(len(anns)):
        ann = anns[i]
        if PyDict_CheckExact(ann):
            seg = PyDict_GetItem(ann, _SEGMENTATION)
            if seg != NULL and PyDict_CheckExact(<object>seg):
                c = PyDict_GetItem(<object>seg, _COUNTS)
                if c != NULL and (PyUnicode_CheckExact(<object>c) or PyBytes_CheckExact(<object>c)):
                    continue
        out.append(i)
    return out


def positions(list anns, object key, dict pos):
    """pos[ann[key]] for each annotation (int64), -1 where absent; KeyError
    or TypeError as reading and hashing ann[key] raise them."""
    cdef Py_ssize_t i, n = len(anns)
    out = np.empty(n, np.int64)
    cdef int64_t[::1] ov = out
    cdef PyObject *p
    for i in range(n):
        p = PyDict_GetItemWithError(pos, anns[i][key])
        ov[i] = -1 if p == NULL else <int64_t>(<object>p)
    return out


cdef inline int _double(object v, double *out) except -1:
    """v as np.array([v], np.float64) reads it -> 1, for floats, ints and
    np.uint32; 0 for anything else."""
    cdef uint32_t u
    if PyFloat_CheckExact(v) or type(v) is _NP_F64:
        out[0] = PyFloat_AS_DOUBLE(v)
        return 1
    if PyLong_CheckExact(v):
        try:
            out[0] = PyLong_AsDouble(v)
        except OverflowError:
            return 0
        return 1
    if type(v) is _NP_U32:
        cnp.PyArray_ScalarAsCtype(v, &u)
        out[0] = <double>u
        return 1
    return 0


def doubles(list anns, object key):
    """np.array([a[key] for a in anns], np.float64) when every value is a
    float, an int or a np.uint32; else None (the caller asks numpy)."""
    cdef Py_ssize_t i, n = len(anns)
    out = np.empty(n, np.float64)
    cdef double[::1] ov = out
    for i in range(n):
        if not _double(anns[i][key], &ov[i]):
            return None
    return out


def flags(list anns, object key, bint as_int):
    """uint8 of each ann[key]: int(v) != 0 (as_int; ints and bools only,
    else None) or bool(v)."""
    cdef Py_ssize_t i, n = len(anns)
    out = np.empty(n, np.uint8)
    cdef uint8_t[::1] ov = out
    for i in range(n):
        v = anns[i][key]
        if as_int and not PyLong_CheckExact(v) and not PyBool_Check(v):
            return None
        ov[i] = 1 if v else 0
    return out


def group(const int64_t[::1] key, int64_t npairs):
    """A stable counting sort of the annotations by pair: (off (npairs+1),
    idx): pair p's annotations are idx[off[p]:off[p+1]], in their order.
    key[i] < 0: annotation i is in no pair."""
    cdef int64_t i, n = key.shape[0], k
    off = np.zeros(npairs + 1, np.int64)
    cdef int64_t[::1] ov = off
    for i in range(n):
        k = key[i]
        if k >= npairs:
            raise ValueError("pair out of range")
        if k >= 0:
            ov[k + 1] += 1
    for i in range(npairs):
        ov[i + 1] += ov[i]
    idx = np.empty(ov[npairs], np.int64)
    cdef int64_t[::1] iv = idx
    cur = off[:npairs].copy()
    cdef int64_t[::1] cv = cur
    for i in range(n):
        k = key[i]
        if k >= 0:
            iv[cv[k]] = i
            cv[k] += 1
    return off, idx


cdef inline int64_t _pos(dict pos, PyObject *v) except -2:
    """pos[v] (an int), -1 when absent or unhashable."""
    cdef PyObject *p
    try:
        p = PyDict_GetItemWithError(pos, <object>v)
    except TypeError:
        return -1
    return -1 if p == NULL else <int64_t>(<object>p)


cdef inline bint _same_mask(Sources prior, const int64_t *hs, const int64_t *ws, int64_t row, object seg,
                            object c) except -1:
    """Whether row ``row`` of ``prior`` holds this very counts object (its
    buffer: prior keeps every object it points into alive, so no other
    object has that address) with the size ``seg`` gives now."""
    cdef Py_ssize_t ln
    cdef const char *p
    cdef PyObject *sz
    cdef int overflow = 0
    if PyUnicode_CheckExact(c):
        p = PyUnicode_AsUTF8AndSize(c, &ln)
    else:
        p = PyBytes_AS_STRING(c)
        ln = PyBytes_GET_SIZE(c)
    if p != prior.src[row].str or ln != prior.src[row].len:
        return False
    sz = PyDict_GetItem(seg, _SIZE)
    if sz == NULL or type(<object>sz) is not list or len(<list>sz) != 2:
        return False
    h, w = (<list>sz)[0], (<list>sz)[1]
    if not PyLong_CheckExact(h) or not PyLong_CheckExact(w):
        return False
    if PyLong_AsLongLongAndOverflow(h, &overflow) != hs[row] or overflow:
        return False
    return PyLong_AsLongLongAndOverflow(w, &overflow) == ws[row] and not overflow


def gather_results(object img_to_anns, dict table, list img_ids, dict img_pos, dict cat_pos, bint filter_cats,
                   bint use_cats, Sources prior=None):
    """_prepare's work on the results side of a segm evaluation, in one pass:
    the annotations ``loadAnns(getAnnIds(imgIds, catIds))`` gives (as
    pycocotools' COCO: imgToAnns image by image, the category test when
    filter_cats, ``table[ann['id']]``), each one's pair key (category
    position * len(img_ids) + image position with use_cats, else image
    position * len(cat_pos) + category position; -1: in no pair, from
    img_pos/cat_pos lookups of its own ids), and the area, id, score (as
    np.float64 reads them) and segmentation of those in a pair.

    prior: the masks :func:`fastrle.cocoeval.loadRes` read (row i: result
    i, whose id it set to i + 1).

    Returns (anns, key, area, id, score, segs, rows) for the annotations in
    a pair, rows (int64) the row of each one's mask in ``prior`` when every
    one is that row's very counts object at the same size (else None), or
    None, having changed nothing, when anything is not of the plain kind
    (a segmentation that is not a dict with str or bytes counts, a missing
    field, a value that is not a float, int or np.uint32...): the caller's
    general path then does pycocotools' work, errors included."""
    cdef Py_ssize_t x, y, n_img = len(img_ids), n_cat = len(cat_pos)
    cdef PyObject *lst
    cdef PyObject *a
    cdef PyObject *b
    cdef PyObject *v
    cdef PyObject *seg
    cdef PyObject *c
    cdef int64_t ii, jj, n = 0
    cdef double av, iv, sv
    cdef list anns = [], segs = []
    cdef bint by_row = prior is not None
    cdef int64_t n_prior = prior.n if by_row else 0, row = 0
    cdef const int64_t[::1] prior_h = prior.heights if by_row else np.zeros(1, np.int64)
    cdef const int64_t[::1] prior_w = prior.widths if by_row else np.zeros(1, np.int64)
    if not isinstance(img_to_anns, dict):
        return None
    keys = np.empty(16, np.int64)
    rows = np.empty(16, np.int64)
    cdef int64_t[::1] rv = rows
    fa = np.empty(16, np.float64)
    fi = np.empty(16, np.float64)
    fs = np.empty(16, np.float64)
    cdef int64_t[::1] kv = keys
    cdef double[::1] av_ = fa, iv_ = fi, sv_ = fs
    try:
        for x in range(n_img):
            lst = PyDict_GetItemWithError(img_to_anns, img_ids[x])
            if lst == NULL:
                continue
            if type(<object>lst) is not list:
                return None
            for y in range(len(<list>lst)):
                a = <PyObject *>(<list>lst)[y]
                if not PyDict_CheckExact(<object>a):
                    return None
                if filter_cats:
                    v = PyDict_GetItem(<object>a, _CATEGORY_ID)
                    if v == NULL:
                        return None
                    if _pos(cat_pos, v) < 0:
                        continue
                v = PyDict_GetItem(<object>a, _ID)
                if v == NULL:
                    return None
                b = PyDict_GetItemWithError(table, <object>v)
                if b == NULL or not PyDict_CheckExact(<object>b):
                    return None
                seg = PyDict_GetItem(<object>b, _SEGMENTATION)
                if seg == NULL or not PyDict_CheckExact(<object>seg):
                    return None
                c = PyDict_GetItem(<object>seg, _COUNTS)
                if c == NULL or not (PyUnicode_CheckExact(<object>c) or PyBytes_CheckExact(<object>c)):
                    return None  # annToRLE would change it
                v = PyDict_GetItem(<object>b, _IMAGE_ID)
                if v == NULL:
                    return None
                ii = _pos(img_pos, v)
                v = PyDict_GetItem(<object>b, _CATEGORY_ID)
                if v == NULL:
                    return None
                jj = _pos(cat_pos, v)
                if ii < 0 or jj < 0:
                    continue
                v = PyDict_GetItem(<object>b, _AREA)
                if v == NULL or not _double(<object>v, &av):
                    return None
                v = PyDict_GetItem(<object>b, _ID)
                if v == NULL or not _double(<object>v, &iv):
                    return None
                v = PyDict_GetItem(<object>b, _SCORE)
                if v == NULL or not _double(<object>v, &sv):
                    return None
                if n == kv.shape[0]:
                    keys = np.resize(keys, 2 * n)
                    fa = np.resize(fa, 2 * n)
                    fi = np.resize(fi, 2 * n)
                    fs = np.resize(fs, 2 * n)
                    rows = np.resize(rows, 2 * n)
                    rv = rows
                    kv = keys
                    av_ = fa
                    iv_ = fi
                    sv_ = fs
                if by_row:
                    by_row = 1 <= iv <= n_prior
                    if by_row:
                        row = <int64_t>iv - 1
                        by_row = iv == <double>(row + 1) and _same_mask(prior, &prior_h[0], &prior_w[0], row,
                                                                        <object>seg, <object>c)
                    rv[n] = row
                kv[n] = jj * n_img + ii if use_cats else ii * n_cat + jj
                av_[n] = av
                iv_[n] = iv
                sv_[n] = sv
                n += 1
                anns.append(<object>b)
                segs.append(<object>seg)
    except Exception:  # the general path raises it, at pycocotools' point
        return None
    return anns, keys[:n].copy(), fa[:n].copy(), fi[:n].copy(), fs[:n].copy(), segs, \
        rows[:n].copy() if by_row else None


include "_spin.pxi"
