/*
 * Spatial features of COCO RLE masks computed on the runs, without dense
 * decoding: areas, centroids and pairwise intersection counts.
 *
 * Input is a ragged table of parsed, validated counts (as frle_parse gives):
 * mask i's runs are arena[offsets[i] .. offsets[i+1]), alternating
 * background/foreground and starting with background, in column-major
 * order over an h x w image (h*w <= FRLE_MAX_PIXELS). All masks share h, w.
 * No function here takes the GIL or allocates unless it says so.
 */
#ifndef FASTRLE_RLE_FEATURES_H
#define FASTRLE_RLE_FEATURES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Per mask: area[i] = foreground pixels; sx[i], sy[i] = exact sums of the
 * foreground pixels' column (x) and row (y) indices. The sums are exact in
 * uint64 for every valid size (each is below 2^63 when h*w < 2^32). */
void frle_moments(const uint32_t *arena, const int64_t *offsets, int64_t n, uint64_t h,
                  uint64_t *area, uint64_t *sx, uint64_t *sy);

/* inter[i*n + j] = |mask i AND mask j| for all i, j (symmetric; the diagonal
 * is the area). Pairs whose bounding boxes do not overlap cost nothing; the
 * others are merge-walked over the columns both boxes share only.
 * Allocates work memory; returns 0, or -1 when out of memory. */
int frle_intersections(const uint32_t *arena, const int64_t *offsets, int64_t n,
                       uint64_t h, uint64_t w, uint64_t *inter);

#ifdef __cplusplus
}
#endif
#endif /* FASTRLE_RLE_FEATURES_H */
