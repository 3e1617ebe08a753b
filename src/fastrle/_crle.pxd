# Declarations of the C core's public header (csrc/rle.h), shared by the
# Cython glue modules: `from ._crle cimport ...`.
from libc.stdint cimport int64_t, uint64_t, uint32_t, uint8_t

cdef extern from "rle.h" nogil:
    ctypedef struct frle_error:
        int code
        int64_t index
        int64_t pos
        int64_t value
    ctypedef struct frle_src:
        const char *str
        int64_t len
        const uint32_t *cnts
        int64_t m
    ctypedef struct frle_scratch:
        pass
    void *frle_spare_take(int64_t n, int64_t *cap)
    void frle_spare_give(void *p)
    int64_t frle_spare_limit(int64_t bytes)
    void frle_spare_release()
    int64_t frle_spare_bytes()
    unsigned long long FRLE_MAX_PIXELS
    int FRLE_OK, FRLE_ERR_CHAR, FRLE_ERR_NUL, FRLE_ERR_TRUNCATED, FRLE_ERR_VARINT_LONG
    int FRLE_ERR_NEGATIVE, FRLE_ERR_RUN_TOO_BIG, FRLE_ERR_SUM_SHORT, FRLE_ERR_SUM_LONG
    int FRLE_ERR_SIZE, FRLE_ERR_NOMEM, FRLE_ERR_THREAD
    const char *frle_strerror(int code)
    const char *frle_parse_isa()
    int frle_check_size(uint64_t h, uint64_t w, uint64_t *hw)
    int frle_parse(const char *s, int64_t len, uint64_t hw, int strict,
                   uint32_t *cnts, int64_t *m, frle_error *err)
    int frle_parse_canonical(const char *s, int64_t len, uint64_t hw, int strict,
                             uint32_t *cnts, int64_t *m, frle_error *err, int *canonical)
    int64_t frle_string_bound(int64_t m)
    int64_t frle_to_string(const uint32_t *cnts, int64_t m, char *s)
    uint64_t frle_area(const uint32_t *cnts, int64_t m)
    void frle_bbox_coco(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, double *bb)
    void frle_bbox(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, double *bb)
    void frle_bbox_coco_many(const uint32_t *const *cnts, const int64_t *m, const uint64_t *h,
                             const uint64_t *w, int64_t n, double *bb, int nthreads)
    ctypedef struct frle_runs:
        const uint32_t *const *cnts
        const int64_t *m
        const uint64_t *h
        const uint64_t *w
        int64_t n
    int frle_iou_runs(const frle_runs *dt, const frle_runs *gt, const uint8_t *iscrowd,
                      double *o, int nthreads)
    int64_t frle_merge_many(const uint32_t *const *cnts, const int64_t *m, int64_t n, uint64_t hw,
                            int intersect, uint32_t **out)
    void frle_bbox_iou(const double *dt, const double *gt, int64_t md, int64_t ng,
                       const uint8_t *iscrowd, double *o)
    int frle_from_poly(const double *xy, int64_t k, uint64_t h, uint64_t w,
                       uint32_t **cnts, int64_t *m)
    int frle_parse_many(const frle_src *src, const uint64_t *hw, int64_t n, int strict,
                        uint32_t *out, const int64_t *offs, int64_t *m, int nthreads,
                        frle_error *err)
    void frle_decode_colmajor(const uint32_t *cnts, int64_t m, uint8_t *out, int zeroed)
    int frle_decode_batch(const frle_src *src, int64_t n, uint64_t h, uint64_t w,
                          uint8_t *out, char order, int zeroed, int nthreads,
                          frle_error *err)
    int frle_encode_batch(const uint8_t *base, int64_t n, uint64_t h, uint64_t w,
                          int64_t mask_stride, int64_t row_stride, int colmajor, int nonzero,
                          char **strs, int64_t *lens, int nthreads, frle_error *err)
    int frle_default_threads()
