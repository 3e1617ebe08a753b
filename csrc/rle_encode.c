/* Encode dense masks into runs. */
#include <stdlib.h>
#include <string.h>
#include "rle_internal.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if !defined(__SSE2__)
/* Word tests for the skip loop: all 8 bytes zero / all 8 nonzero. */
static inline int all_zero(uint64_t v) { return v == 0; }
static inline int all_nonzero(uint64_t v) { return ((v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull) == 0; }
#else
/* Bit k set where byte k of the 16 at q ends a run of value p: with r = p
 * (value mode) or r = 0 (nonzero mode), a byte ends the run where it differs
 * from r, except in a nonzero run, which ends where it equals r = 0. */
static inline unsigned end_bits(const uint8_t *q, __m128i r, unsigned flip) {
  return (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)q), r)) ^ flip;
}
#endif

/* The end of the run of value p that starts at j. Short runs end within the
 * first 32 bytes; long ones (most of a COCO mask) are skipped 64 bytes a
 * step with one test per step, and the exact end comes from the compare
 * bits, with no byte loop. */
static inline uint64_t run_end(const uint8_t *mask, uint64_t j, uint64_t hw, uint8_t p, int nonzero) {
#if defined(__SSE2__)
  const __m128i r = _mm_set1_epi8((char)(nonzero ? 0 : p));
  const unsigned flip = nonzero && p ? 0 : 0xFFFF;
  unsigned b;
  int k;
  for (k = 0; k < 2 && j + 16 <= hw; k++, j += 16)
    if ((b = end_bits(mask + j, r, flip)) != 0) return j + (unsigned)frle_ctz32(b);
  for (; j + 64 <= hw; j += 64) {
    const __m128i *q = (const __m128i *)(mask + j);
    __m128i e0 = _mm_cmpeq_epi8(_mm_loadu_si128(q), r), e1 = _mm_cmpeq_epi8(_mm_loadu_si128(q + 1), r);
    __m128i e2 = _mm_cmpeq_epi8(_mm_loadu_si128(q + 2), r), e3 = _mm_cmpeq_epi8(_mm_loadu_si128(q + 3), r);
    /* the run goes on while every compare is all ones (flip) or all zeros */
    __m128i e = flip ? _mm_and_si128(_mm_and_si128(e0, e1), _mm_and_si128(e2, e3))
                     : _mm_or_si128(_mm_or_si128(e0, e1), _mm_or_si128(e2, e3));
    if ((unsigned)_mm_movemask_epi8(e) != flip) {
      if ((b = (unsigned)_mm_movemask_epi8(e0) ^ flip) != 0) return j + (unsigned)frle_ctz32(b);
      if ((b = (unsigned)_mm_movemask_epi8(e1) ^ flip) != 0) return j + 16 + (unsigned)frle_ctz32(b);
      if ((b = (unsigned)_mm_movemask_epi8(e2) ^ flip) != 0) return j + 32 + (unsigned)frle_ctz32(b);
      return j + 48 + (unsigned)frle_ctz32((unsigned)_mm_movemask_epi8(e3) ^ flip);
    }
  }
  for (; j + 16 <= hw; j += 16)
    if ((b = end_bits(mask + j, r, flip)) != 0) return j + (unsigned)frle_ctz32(b);
#else
  uint64_t v, rep = 0x0101010101010101ull * p;
  for (; j + 8 <= hw; j += 8) {
    memcpy(&v, mask + j, 8);
    if (nonzero ? (p ? !all_nonzero(v) : !all_zero(v)) : v != rep) break;
  }
#endif
  if (nonzero)
    while (j < hw && (mask[j] != 0) == p) j++;
  else
    while (j < hw && mask[j] == p) j++;
  return j;
}

int64_t frle_encode_colmajor(const uint8_t *mask, uint64_t hw, int nonzero, uint32_t **cnts, int64_t *cap) {
  uint64_t j = 0, last = 0;
  int64_t m = 0;
  uint8_t p = 0;
  while (j < hw) {
    j = run_end(mask, j, hw, p, nonzero);
    if (j < hw) {
      /* grown as runs come: the worst case (hw + 1) can be gigabytes */
      if (m + 2 > *cap && !frle_grow((void **)cnts, cap, m + 2, sizeof(uint32_t))) return -1;
      (*cnts)[m++] = (uint32_t)(j - last);
      last = j;
      p = nonzero ? !p : mask[j];
    }
  }
  if (m + 1 > *cap && !frle_grow((void **)cnts, cap, m + 1, sizeof(uint32_t))) return -1;
  (*cnts)[m++] = (uint32_t)(hw - last);
  return m;
}

/* Bit k set where byte k of a differs from byte k of b (by value, or by
 * zero/nonzero). Covers n <= 16 bytes. */
static inline uint32_t diff_bits(const uint8_t *a, const uint8_t *b, uint64_t n, int nonzero) {
  uint32_t bits = 0;
  uint64_t k;
#if defined(__SSE2__)
  if (n == 16) {
    __m128i va = _mm_loadu_si128((const __m128i *)a), vb = _mm_loadu_si128((const __m128i *)b);
    if (nonzero) {
      __m128i z = _mm_setzero_si128();
      return (uint32_t)(_mm_movemask_epi8(_mm_cmpeq_epi8(va, z)) ^ _mm_movemask_epi8(_mm_cmpeq_epi8(vb, z)));
    }
    return (uint32_t)(~_mm_movemask_epi8(_mm_cmpeq_epi8(va, vb)) & 0xFFFF);
  }
#endif
  for (k = 0; k < n; k++) {
    int d = nonzero ? ((a[k] != 0) != (b[k] != 0)) : (a[k] != b[k]);
    bits |= (uint32_t)d << k;
  }
  return bits;
}

/* Run boundaries in column-major order are the pixels that differ from the
 * pixel above them (or, in row 0, from the bottom of the previous column).
 * Scanning rows top to bottom reads the C-order input sequentially; the
 * boundaries are then bucketed by column, which keeps them sorted by y. */
int64_t frle_encode_rowmajor(const uint8_t *mask, uint64_t h, uint64_t w, int64_t stride, int nonzero, uint32_t **cnts,
                             int64_t *cap, frle_scratch *scr) {
  uint64_t y, x, hw = h * w;
  int64_t nb = 0, i, m = 0;
  uint64_t last = 0;

  if (h == 0 || w == 0) {
    if (!frle_grow((void **)cnts, cap, 1, sizeof(uint32_t))) return -1;
    (*cnts)[0] = 0;
    return 1;
  }
  if (h == 1 || (w == 1 && stride == 1)) {
    /* one row or one column: the bytes are already in column-major order,
     * and the per-column sort below would need 8 bytes per column */
    return frle_encode_colmajor(mask, hw, nonzero, cnts, cap);
  }
  /* pos[] holds (x << 32 | y) keys while scanning */
  for (y = 0; y < h; y++) {
    const uint8_t *row = mask + (int64_t)y * stride;
    if (y == 0) {
      const uint8_t *bottom = mask + (int64_t)(h - 1) * stride;
      for (x = 0; x < w; x++) {
        uint8_t prev = x ? bottom[x - 1] : 0, cur = row[x];
        int d = nonzero ? ((cur != 0) != (prev != 0)) : (cur != prev);
        if (d) {
          if (!FRLE_GROW(scr->pos, scr->pos_cap, nb + 1)) return -1;
          scr->pos[nb++] = x << 32;
        }
      }
      continue;
    }
    {
      const uint8_t *above = row - stride;
      x = 0;
#if defined(__SSE2__)
      /* Most of a mask equals the row above it: test 64 bytes per branch */
      for (; x + 64 <= w; x += 64) {
        const __m128i *pa = (const __m128i *)(row + x), *pb = (const __m128i *)(above + x);
        __m128i e = _mm_and_si128(_mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128(pa), _mm_loadu_si128(pb)),
                                                _mm_cmpeq_epi8(_mm_loadu_si128(pa + 1), _mm_loadu_si128(pb + 1))),
                                  _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128(pa + 2), _mm_loadu_si128(pb + 2)),
                                                _mm_cmpeq_epi8(_mm_loadu_si128(pa + 3), _mm_loadu_si128(pb + 3))));
        uint64_t k;
        if (_mm_movemask_epi8(e) == 0xFFFF) continue;
        if (!FRLE_GROW(scr->pos, scr->pos_cap, nb + 64)) return -1;
        for (k = 0; k < 64; k += 16) {
          uint32_t bits = diff_bits(row + x + k, above + x + k, 16, nonzero);
          while (bits) {
            unsigned b = (unsigned)frle_ctz32(bits);
            scr->pos[nb++] = ((x + k + b) << 32) | y;
            bits &= bits - 1;
          }
        }
      }
#endif
      for (; x < w; x += 16) {
        uint64_t n = w - x < 16 ? w - x : 16;
        uint32_t bits = diff_bits(row + x, above + x, n, nonzero);
        if (!bits) continue;
        if (!FRLE_GROW(scr->pos, scr->pos_cap, nb + 16)) return -1;
        while (bits) {
          unsigned k = (unsigned)frle_ctz32(bits);
          scr->pos[nb++] = ((x + k) << 32) | y;
          bits &= bits - 1;
        }
      }
    }
  }
  /* Counting sort by column (keys are already sorted by y within a column). */
  {
    int64_t *start;
    uint64_t *sorted;
    if (!FRLE_GROW(scr->row, scr->row_cap, (int64_t)w + 1)) return -1;
    start = scr->row;
    memset(start, 0, (w + 1) * sizeof(int64_t));
    for (i = 0; i < nb; i++) start[(scr->pos[i] >> 32) + 1]++;
    for (x = 0; x < w; x++) start[x + 1] += start[x];
    if (!FRLE_GROW(scr->pos, scr->pos_cap, 2 * nb)) return -1;
    sorted = scr->pos + nb;
    for (i = 0; i < nb; i++) {
      uint64_t k = scr->pos[i], cx = k >> 32;
      sorted[start[cx]++] = cx * h + (k & 0xFFFFFFFFu);
    }
    if (!frle_grow((void **)cnts, cap, nb + 1, sizeof(uint32_t))) return -1;
    for (i = 0; i < nb; i++) {
      (*cnts)[m++] = (uint32_t)(sorted[i] - last);
      last = sorted[i];
    }
    (*cnts)[m++] = (uint32_t)(hw - last);
  }
  return m;
}
