/*
 * Transforms fused into decode: masks at another size (nearest, nearest-exact,
 * area), flipped, bit-packed, or pooled over boxes (roi_align), computed from
 * the runs without the full-resolution dense mask.
 *
 * Semantics (the GPU kernels mirror them bit for bit):
 *  - nearest, nearest-exact: output pixel (oy, ox) is source pixel
 *    (map(oy, h, oh), map(ox, w, ow)), with map = frle_nearest_map below
 *    (torch.nn.functional.interpolate's index arithmetic, float32 included;
 *    the GPU uploads the same maps, computed on the host).
 *  - area (downscaling only): the exact fraction of output cell
 *    [oy*h/oh, (oy+1)*h/oh) x [ox*w/ow, (ox+1)*w/ow) covered by foreground,
 *    as float32 (computed exactly in integers, rounded once).
 *  - flip: "h" mirrors columns (ox -> ow-1-ox), "v" rows, of the output.
 *  - packed: bit ox of an output row is byte ox/8, bit 7-ox%8 (big) or ox%8
 *    (little): np.packbits(axis=-1); pad bits of the last byte are 0.
 */
#ifndef FASTRLE_RLE_TRANSFORM_H
#define FASTRLE_RLE_TRANSFORM_H

#include <stdint.h>
#include "rle.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { FRLE_NEAREST = 0, FRLE_NEAREST_EXACT = 1, FRLE_AREA = 2 };

/* Source index of output index dst when resizing in -> out samples, as
 * torch 2.x's CPU interpolate computes it for float32/uint8 masks (uint8
 * indices are computed in float32), with s = (float)in / (float)out in
 * float32 (torch's compute_scales_value when given size=, not scale_factor):
 *  nearest:       min((int64)floorf((float)dst * s), in-1)
 *  nearest-exact: torch has two kernels, chosen per call (see
 *  frle_nearest_small), and they round differently:
 *   small (channels-last kernel, nearest_exact_idx in UpSample.h):
 *     min((int64)floorf((float)(((double)dst + 0.5) * (double)s)), in-1)
 *   generic (HelperInterpNearestExact in UpSampleKernel.cpp):
 *     a = (float)dst + 0.5f; r = max(fmaf(s, a, -0.5f), 0);
 *     min((int64)floorf((float)((double)r + 0.5)), in-1)
 *     (torch's x86 AVX2/AVX512 build contracts s*a - 0.5f into one fma).
 * torch's nearest_idx special cases (out == in, out == 2*in) are only in the
 * small kernel, where the formula gives the same; the generic kernel has none,
 * so in == out is not the identity past 2^23 (nearest-exact) or 2^24 samples.
 * fmaf is done in double: the float product is exact there, and so is
 * subtracting 0.5 when the result is >= 0 (a negative one clamps to 0 either
 * way). The products are >= 0, so the truncating casts are floorf. One
 * function per index: a GPU thread can call it. Pinned against torch 2.14.1
 * (tests/test_nearest_rule.py). */
static inline int64_t frle_nearest_src(int64_t dst, int64_t in, int64_t out, int exact, int small) {
  float s = (float)in / (float)out;
  int64_t src;
  if (!exact) {
    src = (int64_t)((float)dst * s);
  } else if (small) {
    src = (int64_t)(float)(((double)dst + 0.5) * (double)s);
  } else {
    float a = (float)dst + 0.5f;
    float r = (float)((double)s * (double)a - 0.5);
    if (r < 0.0f) r = 0.0f;
    src = (int64_t)(float)((double)r + 0.5);
  }
  return src < in - 1 ? src : in - 1;
}

/* Which nearest-exact kernel torch's 2-D CPU interpolate takes for an
 * oh x ow output of a C < 4 channel batch (masks are (N, 1, H, W)): the
 * channels-last one when oh + ow <= 128, else the generic one
 * (_use_vectorized_kernel_cond_2d in UpSampleKernel.cpp). */
static inline int frle_nearest_small(int64_t oh, int64_t ow) { return oh + ow <= 128; }

/* map[i] = frle_nearest_src(i, in, out, exact, frle_nearest_small(out, other))
 * for i in [0, out): the index map of one axis of a 2-D resize whose other
 * axis has other output samples. */
void frle_nearest_map(int64_t in, int64_t out, int64_t other, int exact, int64_t *map);

/* Where and how frle_decode_transform writes. Mask i's output row r
 * starts at out + i*mask_stride + r*row_stride (bytes; any strides, so the
 * output may be a view into a larger buffer). Rows hold ow uint8 (nearest
 * modes), (ow+7)/8 packed bytes (packed), or ow float32 (area). */
typedef struct {
  uint64_t oh, ow;
  int mode;                 /* FRLE_NEAREST, FRLE_NEAREST_EXACT or FRLE_AREA */
  int flip_h, flip_v;
  int packed, little;       /* bit order: little = 0 is np.packbits' "big" */
  int zeroed;               /* output already all zeros: write foreground only */
  uint8_t *out;
  int64_t mask_stride, row_stride;
} frle_xform;

/* Validate all n masks of h x w (nothing is written unless all are valid),
 * then write each transformed. area needs oh <= h and ow <= w; the other
 * fields must be consistent (the Python layer checks). */
int frle_decode_transform(const frle_src *src, int64_t n, uint64_t h, uint64_t w, const frle_xform *x, int nthreads,
                          frle_error *err);

/* torchvision.ops.roi_align of each mask (as one float channel) over its
 * box boxes[4i..4i+4) = x1, y1, x2, y2 (float32, finite), into float32
 * out + i*mask_stride + r*row_stride (bytes) for r < ph, ow = pw values per
 * row. Only the columns its sample points touch are looked at. */
int frle_roi_align(const frle_src *src, int64_t n, uint64_t h, uint64_t w, const float *boxes, float spatial_scale,
                   int sampling_ratio, int aligned, int64_t ph, int64_t pw, uint8_t *out, int64_t mask_stride,
                   int64_t row_stride, int nthreads, frle_error *err);

#ifdef __cplusplus
}
#endif
#endif /* FASTRLE_RLE_TRANSFORM_H */
