/*
 * pycocotools' COCOeval loops (evaluateImg and accumulate, 2.0.11) in C: the
 * same float64 operations in the same order, so that every array equals
 * pycocotools' to the bit. The IoUs come from rle_ops.c (frle_iou_runs,
 * frle_bbox_iou). No Python headers; glue in src/fastrle/_eval.pyx.
 */
#ifndef FASTRLE_RLE_EVAL_H
#define FASTRLE_RLE_EVAL_H

#include <stdint.h>
#include "rle.h" /* frle_src, frle_error */

#ifdef __cplusplus
extern "C" {
#endif

/* One evaluation. A pair is one (category, image) cell of pycocotools'
 * evalImgs (pair = k * I + i); its gts and dts are index lists into the
 * per-annotation arrays, in pycocotools' list order. */
typedef struct {
  int64_t npairs, T, A, maxdet;
  const double *iou_thrs; /* T */
  const double *area_rng; /* A x 2: [lo, hi] */
  /* pair p: gts gt_idx[gt_off[p] .. gt_off[p+1]), dts dt_idx[dt_off[p] .. dt_off[p+1]) */
  const int64_t *gt_off, *gt_idx, *dt_off;
  int64_t *dt_idx;      /* evaluate sorts each pair's dts by score (np.argsort(-score, kind='mergesort')) */
  const int64_t *dt_n;  /* min(dts of the pair, maxdet): the dts kept */
  const double *gt_area, *gt_id, *dt_area, *dt_id, *dt_score;
  const uint8_t *gt_crowd; /* int(iscrowd) != 0 */
  const uint8_t *gt_ign;   /* gt['ignore'] is truthy */
  /* IoU inputs: boxes (n x 4) when boxes != 0, else masks (strings or given
   * counts, each h x w), parsed strictly pair by pair on the worker threads:
   * no arena of every mask's runs */
  int boxes;
  const double *gt_box, *dt_box;
  const frle_src *gt_src, *dt_src;
  const int64_t *gt_h, *gt_w, *dt_h, *dt_w;
  /* masks only, may be NULL: dt_row[d], the row of dt d's mask in dt_src,
   * dt_h, dt_w and dt_mbox (NULL: row d); dt_mbox, frle_bbox_coco of each
   * row's mask (computed already, as loadRes does: NULL, computed here) */
  const int64_t *dt_row;
  const double *dt_mbox;
  /* out: on a mask that does not parse (or is too big), the error of the
   * lowest pair, err.index the mask's index on its side, err_side 0 for gt
   * and 1 for dt */
  frle_error err;
  int err_side;
  /* outputs: IoUs of pair p at iou + iou_off[p] (dt_n x G, Fortran order, as
   * pycocotools' iou); matches at match + match_off[p], A x T x dt_n: the
   * gt (its position in the pair's list) each dt matched, or -1; none
   * stored for a pair without gts (all -1). match16 instead of match (NULL)
   * where no pair has more than INT16_MAX gts. */
  const int64_t *iou_off, *match_off;
  double *iou;
  int32_t *match;
  int16_t *match16;
} frle_eval;

/* evaluate(): computeIoU and evaluateImg for every pair and area range, on
 * threads. Returns FRLE_OK, FRLE_ERR_NOMEM, or a parse status (ev->err). */
int frle_eval_run(frle_eval *ev, int nthreads);

/* accumulate(): pycocotools' loops over k_list x a_list x m_list (m_list
 * holds maxDet values), reading evalImgs[k0*A0*I0 + a0*I0 + i] for i in
 * i_list (every such index < K0*A0*I0: the caller checks). present[p]: the
 * pair's evalImgs entry is not None. Writes precision and scores (T x R x K
 * x A x M, C order) and recall (T x K x A x M), which hold -1 on entry.
 * Returns FRLE_OK or FRLE_ERR_NOMEM. */
typedef struct {
  const frle_eval *ev;
  const uint8_t *present;
  int64_t I0, A0;
  int64_t nk, na, nm, ni;
  const int64_t *k_list, *a_list, *m_list, *i_list;
  int64_t R;
  const double *rec_thrs;
  int64_t K, A, M;
  double *precision, *recall, *scores;
} frle_accum;

int frle_accumulate(const frle_accum *ac, int nthreads);

/* loadRes' area and box of n masks, as pycocotools' area and toBbox of
 * each (not strict: frle_parse's pycocotools arithmetic): area[i] =
 * frle_area (truncated to uint32), bb[4i..4i+4) = frle_bbox_coco. Each mask
 * is parsed once, in chunks, into per-thread buffers. hs[i], ws[i]: mask
 * i's size (checked here). Returns FRLE_OK, or the status of the lowest
 * mask that fails (err->index its index). */
int frle_area_bbox_many(const frle_src *src, const int64_t *hs, const int64_t *ws, int64_t n, uint32_t *area,
                        double *bb, int nthreads, frle_error *err);

/* numpy's stable argsort of -key (kind='mergesort'; NaN last), of n
 * indices idx into key, in place; tmp has room for n. */
void frle_argsort_desc(int64_t *idx, int64_t n, const double *key, int64_t *tmp);

#ifdef __cplusplus
}
#endif
#endif /* FASTRLE_RLE_EVAL_H */
