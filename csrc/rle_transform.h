/*
 * Transforms fused into decode: masks at another size (nearest, nearest-exact,
 * area), flipped, bit-packed, or pooled over boxes (roi_align), computed from
 * the runs without the full-resolution dense mask.
 *
 * Semantics (the GPU kernels mirror them bit for bit):
 *  - nearest, nearest-exact: output pixel (oy, ox) is source pixel
 *    (map(oy, h, oh), map(ox, w, ow)), with map = frle_nearest_src below
 *    (torch.nn.functional.interpolate's index arithmetic, float32 included).
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
 * torch 2.x's CPU upsample kernels compute it for float32/uint8 masks, with
 * s = (float)in / (float)out in float32:
 *  nearest:       min((int64)floorf((float)dst * s), in-1)   (this also
 *                 gives torch's out == in and out == 2*in special cases)
 *  nearest-exact: a = (float)dst + 0.5f; r = max(s*a - 0.5f, 0);
 *                 min((int64)floorf((float)((double)r + 0.5)), in-1)
 * where torch's x86 build evaluates s*a - 0.5f as one fused multiply-add
 * (one rounding) when out >= 128 and as two float32 roundings below that.
 * The two differ only where (dst + 0.5) * in / out is within an ulp of an
 * integer; the threshold was pinned against torch 2.14 (no tie exists for
 * 124 <= out <= 140, so any threshold there agrees). A GPU port must keep
 * both forms exact: no contraction in the unfused one (__fmul_rn,
 * __fsub_rn), and the fused one as fmaf or in double as here (the float
 * product is exact in double, and so is subtracting 0.5 when the result is
 * >= 0; a negative result clamps to 0 either way). The products are >= 0,
 * so the truncating casts are floorf. One function per index: a GPU thread
 * can call it. */
static inline int64_t frle_nearest_src(int64_t dst, int64_t in, int64_t out, int exact) {
  float s = (float)in / (float)out;
  int64_t src;
  if (exact) {
    float a = (float)dst + 0.5f, r;
    if (out >= 128) {
      r = (float)((double)s * (double)a - 0.5);
    } else {
      float b = s * a;
      r = b - 0.5f;
    }
    if (r < 0.0f) r = 0.0f;
    src = (int64_t)(float)((double)r + 0.5);
  } else {
    src = (int64_t)((float)dst * s);
  }
  return src < in - 1 ? src : in - 1;
}

/* map[i] = frle_nearest_src(i, in, out, exact) for i in [0, out). */
void frle_nearest_map(int64_t in, int64_t out, int exact, int64_t *map);

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
int frle_decode_transform(const frle_src *src, int64_t n, uint64_t h, uint64_t w,
                          const frle_xform *x, int nthreads, frle_error *err);

/* torchvision.ops.roi_align of each mask (as one float channel) over its
 * box boxes[4i..4i+4) = x1, y1, x2, y2 (float32, finite), into float32
 * out + i*mask_stride + r*row_stride (bytes) for r < ph, ow = pw values per
 * row. Only the columns its sample points touch are looked at. */
int frle_roi_align(const frle_src *src, int64_t n, uint64_t h, uint64_t w,
                   const float *boxes, float spatial_scale, int sampling_ratio, int aligned,
                   int64_t ph, int64_t pw, uint8_t *out, int64_t mask_stride, int64_t row_stride,
                   int nthreads, frle_error *err);

#ifdef __cplusplus
}
#endif
#endif /* FASTRLE_RLE_TRANSFORM_H */
