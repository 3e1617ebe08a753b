/* Encode dense masks into runs. */
#include <stdlib.h>
#include <string.h>
#include "rle_internal.h"
#include "rle_compat.h"   /* frle_ctz64, FRLE_TARGET */
#include "rle_dispatch.h" /* frle_scan_level */
#include "rle_platform.h" /* frle_once */
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#ifndef FRLE_X86_KERNELS /* the portable build's run search (x86 takes the block kernels below) */
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
#endif

#ifdef FRLE_X86_KERNELS
/* Column-major encode by boundary bits: bit k of a 64-byte block at j is set
 * where byte j+k differs from byte j+k-1 (by value, or by zero/nonzero), so
 * every byte is read once per block (the load at j-1 overlaps the block
 * before, in cache) and a block inside a run costs one test. Each set bit is
 * one run boundary. One copy per vector width, chosen once per process. */
typedef uint64_t (*diff64_fn)(const uint8_t *q, int nonzero);

static int64_t encode_tail(const uint8_t *mask, uint64_t j, uint64_t hw, int nonzero, uint64_t *last, uint32_t *out,
                           int64_t m) {
  for (; j < hw; j++) {
    int d = nonzero ? ((mask[j] != 0) != (mask[j - 1] != 0)) : (mask[j] != mask[j - 1]);
    if (d) {
      out[m++] = (uint32_t)(j - *last);
      *last = j;
    }
  }
  return m;
}

/* The loop of every width: DIFF64(q) gives the boundary bits of q[0..64). */
#define DEFINE_ENCODE(name, attr, SAME64, DIFF64)                                                                      \
  attr static int64_t name(const uint8_t *mask, uint64_t hw, int nonzero, uint32_t **cnts, int64_t *cap) {             \
    uint64_t j = 1, last = 0;                                                                                          \
    int64_t m = 0;                                                                                                     \
    uint8_t v; /* the value (nonzero: 0 or 1) of byte j - 1 */                                                         \
    uint32_t *o;                                                                                                       \
    /* room for the head, a block and the last count; grown as runs come (the worst case, hw + 1, can be GBs) */       \
    if (*cap < 130 && !frle_grow((void **)cnts, cap, 130, sizeof(uint32_t))) return -1;                                \
    o = *cnts;                                                                                                         \
    if (hw == 0) {                                                                                                     \
      o[0] = 0;                                                                                                        \
      return 1;                                                                                                        \
    }                                                                                                                  \
    if (mask[0]) o[m++] = 0; /* pixel 0 set: an empty first run */                                                     \
    v = nonzero ? mask[0] != 0 : mask[0];                                                                              \
    for (; j + 64 <= hw; j += 64) {                                                                                    \
      uint64_t bits;                                                                                                   \
      /* inside a run: one load and one test against the run's value */                                                \
      if (SAME64(mask + j, v, nonzero)) continue;                                                                      \
      bits = DIFF64(mask + j, nonzero);                                                                                \
      v = nonzero ? mask[j + 63] != 0 : mask[j + 63];                                                                  \
      if (m + 66 > *cap) {                                                                                             \
        if (!frle_grow((void **)cnts, cap, m + 66, sizeof(uint32_t))) return -1;                                       \
        o = *cnts;                                                                                                     \
      }                                                                                                                \
      while (bits) {                                                                                                   \
        uint64_t p = j + (uint64_t)frle_ctz64(bits);                                                                   \
        o[m++] = (uint32_t)(p - last);                                                                                 \
        last = p;                                                                                                      \
        bits &= bits - 1;                                                                                              \
      }                                                                                                                \
    }                                                                                                                  \
    if (m + 66 > *cap) {                                                                                               \
      if (!frle_grow((void **)cnts, cap, m + 66, sizeof(uint32_t))) return -1;                                         \
      o = *cnts;                                                                                                       \
    }                                                                                                                  \
    m = encode_tail(mask, j, hw, nonzero, &last, o, m);                                                                \
    o[m++] = (uint32_t)(hw - last);                                                                                    \
    return m;                                                                                                          \
  }

#include <immintrin.h>

/* Bits where the 16 bytes at q differ from those at q - 1. */
static inline uint64_t diff16_sse2(const uint8_t *q, int nonzero) {
  __m128i a = _mm_loadu_si128((const __m128i *)q), b = _mm_loadu_si128((const __m128i *)(q - 1));
  if (nonzero) {
    const __m128i z = _mm_setzero_si128();
    return (uint64_t)(unsigned)(_mm_movemask_epi8(_mm_cmpeq_epi8(a, z)) ^ _mm_movemask_epi8(_mm_cmpeq_epi8(b, z)));
  }
  return (uint64_t)(~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, b)) & 0xFFFFu);
}

static inline uint64_t diff64_sse2(const uint8_t *q, int nonzero) {
  return diff16_sse2(q, nonzero) | diff16_sse2(q + 16, nonzero) << 16 | diff16_sse2(q + 32, nonzero) << 32 |
         diff16_sse2(q + 48, nonzero) << 48;
}

FRLE_TARGET("avx2") static inline uint64_t diff32_avx2(const uint8_t *q, int nonzero) {
  __m256i a = _mm256_loadu_si256((const __m256i *)q), b = _mm256_loadu_si256((const __m256i *)(q - 1));
  if (nonzero) {
    const __m256i z = _mm256_setzero_si256();
    return (uint64_t)(uint32_t)(_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, z)) ^
                                _mm256_movemask_epi8(_mm256_cmpeq_epi8(b, z)));
  }
  return (uint64_t)(uint32_t)~(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, b));
}

FRLE_TARGET("avx2") static inline uint64_t diff64_avx2(const uint8_t *q, int nonzero) {
  return diff32_avx2(q, nonzero) | diff32_avx2(q + 32, nonzero) << 32;
}

FRLE_TARGET("avx512f,avx512bw") static inline uint64_t diff64_avx512(const uint8_t *q, int nonzero) {
  __m512i a = _mm512_loadu_si512((const void *)q), b = _mm512_loadu_si512((const void *)(q - 1));
  if (nonzero) return (uint64_t)(_mm512_test_epi8_mask(a, a) ^ _mm512_test_epi8_mask(b, b));
  return (uint64_t)_mm512_cmpneq_epi8_mask(a, b);
}

/* Whether the 64 bytes at q all have value v (nonzero: all zero for v = 0,
 * all nonzero for v = 1). */
static inline int same64_sse2(const uint8_t *q, uint8_t v, int nonzero) {
  const __m128i r = _mm_set1_epi8((char)(nonzero ? 0 : v));
  const __m128i *p = (const __m128i *)q;
  __m128i e0 = _mm_cmpeq_epi8(_mm_loadu_si128(p), r), e1 = _mm_cmpeq_epi8(_mm_loadu_si128(p + 1), r);
  __m128i e2 = _mm_cmpeq_epi8(_mm_loadu_si128(p + 2), r), e3 = _mm_cmpeq_epi8(_mm_loadu_si128(p + 3), r);
  if (nonzero && v) /* no byte equals 0 */
    return _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(e0, e1), _mm_or_si128(e2, e3))) == 0;
  return _mm_movemask_epi8(_mm_and_si128(_mm_and_si128(e0, e1), _mm_and_si128(e2, e3))) == 0xFFFF;
}

FRLE_TARGET("avx2") static inline int same64_avx2(const uint8_t *q, uint8_t v, int nonzero) {
  const __m256i r = _mm256_set1_epi8((char)(nonzero ? 0 : v));
  __m256i e0 = _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)q), r);
  __m256i e1 = _mm256_cmpeq_epi8(_mm256_loadu_si256((const __m256i *)(q + 32)), r);
  if (nonzero && v) return _mm256_testz_si256(_mm256_or_si256(e0, e1), _mm256_or_si256(e0, e1));
  return (uint32_t)_mm256_movemask_epi8(_mm256_and_si256(e0, e1)) == 0xFFFFFFFFu;
}

FRLE_TARGET("avx512f,avx512bw") static inline int same64_avx512(const uint8_t *q, uint8_t v, int nonzero) {
  __m512i a = _mm512_loadu_si512((const void *)q);
  if (nonzero) return _mm512_test_epi8_mask(a, a) == (v ? ~(__mmask64)0 : 0);
  return _mm512_cmpneq_epi8_mask(a, _mm512_set1_epi8((char)v)) == 0;
}

DEFINE_ENCODE(encode_sse2, , same64_sse2, diff64_sse2)
DEFINE_ENCODE(encode_avx2, FRLE_TARGET("avx2,bmi"), same64_avx2, diff64_avx2)
DEFINE_ENCODE(encode_avx512, FRLE_TARGET("avx512f,avx512bw,bmi"), same64_avx512, diff64_avx512)

typedef int64_t (*encode_fn)(const uint8_t *, uint64_t, int, uint32_t **, int64_t *);
static encode_fn encode_kernel;
static frle_once_t encode_once = FRLE_ONCE_INIT;

static void pick_encode(void) {
  int l = frle_scan_level();
  encode_kernel = l == FRLE_ISA_AVX512 ? encode_avx512 : l == FRLE_ISA_AVX2 ? encode_avx2 : encode_sse2;
}

int64_t frle_encode_colmajor(const uint8_t *mask, uint64_t hw, int nonzero, uint32_t **cnts, int64_t *cap) {
  frle_once(&encode_once, pick_encode);
  return encode_kernel(mask, hw, nonzero, cnts, cap);
}

#else /* the portable build: one run end at a time */

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

#endif /* FRLE_X86_KERNELS */

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
