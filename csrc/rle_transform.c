/* The nearest index rule's maps (rle_transform.h), shared by the resize
 * (rle_resize.c) and, through fastrle.transforms.nearest_map, the GPU's index
 * maps. roi_align is in rle_roi.c. */
#include "rle_transform.h"

void frle_nearest_map(int64_t in, int64_t out, int64_t other, int exact, int64_t *map) {
  int64_t i;
  int small = frle_nearest_small(out, other);
  for (i = 0; i < out; i++) map[i] = frle_nearest_src(i, in, out, exact, small);
}
