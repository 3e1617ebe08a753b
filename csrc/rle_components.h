/*
 * Connected components of COCO RLE masks, computed on the runs (no dense
 * decode), numbered and measured as OpenCV's connectedComponentsWithStats
 * numbers and measures them on the decoded (h, w) uint8 mask; and Segment
 * Anything's remove_small_regions built on them.
 *
 * Input is a ragged table of parsed counts (as frle_parse_many gives): mask
 * i's runs are arena[offsets[i] .. offsets[i+1]), alternating background and
 * foreground from background, column-major over an h[i] x w[i] image. Every
 * mask's runs are checked to sum to h*w before it is used (FRLE_ERR_SUM_*,
 * err->index the mask, err->pos its count of runs, err->value their sum).
 *
 * Labels, cv2's order (pinned against OpenCV 5.1 by tests/test_components.py):
 *  - connectivity 8 (cv2's block-based Spaghetti, sequential or parallel):
 *    components sorted by their first 2x2 block, the lexicographic minimum
 *    of (y / 2, x / 2) over their pixels;
 *  - connectivity 4 (pixel-based): by their first pixel in raster order,
 *    the minimum of (y, x).
 *  Label 0 is the background (every 0 pixel), the others are 1..n.
 * Stats per label: left, top, width, height, area (cv2's CC_STAT_* order);
 * centroids: (double)sum_x / area, (double)sum_y / area with the sums exact.
 * A background of no pixel gets cv2's row [-1, 2^31-1, 0, 0, 0] and a NaN
 * centroid (0x7ff8000000000000, the bits cv2 gives).
 */
#ifndef FASTRLE_RLE_COMPONENTS_H
#define FASTRLE_RLE_COMPONENTS_H

#include <stdint.h>
#include "rle.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One mask's components. All arrays malloc'd; free with frle_cc_free. */
typedef struct {
  int64_t n;         /* components, the background not counted */
  int64_t *stats;    /* (n + 1) x 5: left, top, width, height, area; row 0 the background */
  double *centroids; /* (n + 1) x 2: x, y */
  char *strs;        /* the components' COCO counts strings, label order, one after another */
  int64_t *ends;     /* n: label k+1's string is strs[k ? ends[k-1] : 0 .. ends[k]) */
} frle_cc;

/* Components of n masks with connectivity 4 or 8, each component as the
 * counts string pycocotools would encode for it. out[0..n) is filled on
 * success; on failure (the lowest failing mask in err) nothing is left
 * allocated. h, w: per mask sizes (h*w <= FRLE_MAX_PIXELS). */
int frle_components(const uint32_t *arena, const int64_t *offsets, const uint64_t *h, const uint64_t *w, int64_t n,
                    int connectivity, frle_cc *out, int nthreads, frle_error *err);

/* Free what frle_components put in out[0..n) (safe on zeroed entries). */
void frle_cc_free(frle_cc *out, int64_t n);

/* Segment Anything's remove_small_regions (segment_anything/utils/amg.py)
 * on n masks: components with connectivity 8 of the mask (islands) or of
 * its complement (holes); a component is small when (double)area <
 * area_thresh. No small component: changed[i] = 0 and strs[i] = NULL.
 * Else changed[i] = 1 and strs[i] (malloc'd, NUL-terminated, lens[i] long)
 * is the counts string of the result: holes, the mask with its small holes
 * filled; islands, the components that are not small, or if all are, the
 * largest (the lowest label among equals). On failure no string is left. */
int frle_remove_small(const uint32_t *arena, const int64_t *offsets, const uint64_t *h, const uint64_t *w, int64_t n,
                      double area_thresh, int holes, uint8_t *changed, char **strs, int64_t *lens, int nthreads,
                      frle_error *err);

#ifdef __cplusplus
}
#endif
#endif /* FASTRLE_RLE_COMPONENTS_H */
