/*
 * Batch operations behind fastrle.mask (pycocotools' API) on parsed runs:
 * parsing many masks, boxes, IoU and merge, on threads where the batch is
 * large. Results are pycocotools' to the bit; see rle.h for the format.
 * No function here takes the GIL.
 */
#ifndef FASTRLE_RLE_DROPIN_H
#define FASTRLE_RLE_DROPIN_H

#include <stdint.h>
#include "rle.h"

#ifdef __cplusplus
extern "C" {
#endif


/* Parse n masks: src[i] (a string, or given counts, which are copied) into
 * out + offs[i] (room for src[i].len, or src[i].m, counts); m[i] gets the
 * count. hw[i] is mask i's h*w (already checked). strict as in frle_parse;
 * for given counts, strict checks their sum. On failure returns the code of
 * the lowest failing mask index, err filled (err->index = that index). */
int frle_parse_many(const frle_src *src, const uint64_t *hw, int64_t n, int strict,
                    uint32_t *out, const int64_t *offs, int64_t *m, int nthreads,
                    frle_error *err);

/* pycocotools rleToBbox of n masks (see frle_bbox_coco): bb is (n, 4). */
void frle_bbox_coco_many(const uint32_t *const *cnts, const int64_t *m, const uint64_t *h,
                         const uint64_t *w, int64_t n, double *bb, int nthreads);

/* One side of an IoU: n masks of parsed counts with their sizes. */
typedef struct {
  const uint32_t *const *cnts;
  const int64_t *m;
  const uint64_t *h, *w;
  int64_t n;
} frle_runs;

/* pycocotools rleIou on strictly parsed masks: o[g*dt.n + d] is 0 where the
 * boxes do not overlap, -1 where they do and the sizes differ, else
 * |d AND g| / |d OR g| (|d AND g| / |d| for a crowd g), with pycocotools'
 * uint32 arithmetic. The intersections are run sweeps over the columns both
 * masks span. dt == gt (the same frle_runs) prepares the masks once and
 * walks each pair once. Returns FRLE_OK or FRLE_ERR_NOMEM (o then untouched). */
int frle_iou_runs(const frle_runs *dt, const frle_runs *gt, const uint8_t *iscrowd,
                  double *o, int nthreads);

/* Union (or intersection) of n >= 1 strictly parsed masks of hw pixels, with
 * pycocotools' exact runs; *out gets a malloc'd array (free()). Many masks
 * go through a bitmap of hw bits, a few through pairwise run merges.
 * Returns the number of runs, or -1 when out of memory. */
int64_t frle_merge_many(const uint32_t *const *cnts, const int64_t *m, int64_t n, uint64_t hw,
                        int intersect, uint32_t **out);

#ifdef __cplusplus
}
#endif
#endif /* FASTRLE_RLE_DROPIN_H */
