/*
 * Vector parse of compressed counts strings (the fast path of frle_parse).
 *
 * Pass 1 reads the string in blocks of bytes. A varint starts after each
 * byte without the 0x20 continuation bit, so the start positions of a block
 * come from one mask, with no walk from varint to varint. At every byte the
 * value of a varint of up to 3 chars starting there is computed in 16-bit
 * lanes; the lanes at start positions are packed to the front and widened
 * to int32 deltas. Varints of 4 or more chars (rare: only deltas of 2^14 and
 * more) are patched afterwards by a scalar decode.
 * Pass 2 turns deltas into counts (cnts[i] += cnts[i-2] for i > 2) as a
 * stride-2 prefix sum, and for strict parses checks that they sum to h*w.
 *
 * Any irregularity (a bad byte, truncation, an overlong varint, a strict
 * check failing, h*w of 2^31 or more) makes the fast path give up: the caller
 * then runs the scalar parse, which finds and reports the exact error. The
 * fast path only ever writes cnts[0 .. len), as the scalar parse may.
 *
 * Kernels: AVX-512 VBMI2 (packing with vpcompressw), AVX2 and SSE4.1
 * (packing with a pshufb table) on x86-64, NEON (the same table, with tbl)
 * on AArch64, chosen at run time. Written with intrinsics only (no GCC
 * vector extensions), so MSVC builds them too.
 * rle_dispatch.c picks the kernel (FRLE_ISA caps it).
 */
#include <stdlib.h>
#include <string.h>
#include "rle.h"
#include "rle_internal.h"

#include "rle_compat.h"
#include "rle_platform.h"

#ifdef FRLE_X86_KERNELS /* not: a portable-fallback test build */
#include <immintrin.h>
#define FRLE_SIMD_PARSE 1
#endif
#ifdef FRLE_NEON_KERNELS
#include <arm_neon.h>
#define FRLE_SIMD_PARSE 1
#endif

#ifdef FRLE_SIMD_PARSE /* the helpers of the vector kernels */

/* Scalar decode of the one varint at s[p] (bounds: len): *d gets its value
 * (sign-extended), returns the position after it, or -1 on any error. */
static int64_t varint_at(const char *s, int64_t p, int64_t len, int64_t *d) {
  uint64_t x = 0, c;
  int k = 0;
  do {
    if (p >= len || k == 12) return -1;
    c = (uint64_t)(unsigned char)s[p] - 48u;
    if (c > 63) return -1;
    x |= (c & 0x1f) << (5 * k);
    p++;
    k++;
  } while (c & 0x20);
  if (c & 0x10) x |= ~(uint64_t)0 << (5 * k);
  *d = (int64_t)x;
  return p;
}

/* Store one delta; strict deltas must fit int32 (pass 2's arithmetic). */
static inline int put_delta(uint32_t *cnts, int64_t i, int64_t d, int strict) {
  if (strict && (d < INT32_MIN || d > INT32_MAX)) return 0;
  cnts[i] = (uint32_t)d;
  return 1;
}

/* Deltas of the varints starting at s[p], up to len, from index m on. */
static int tail(const char *s, int64_t p, int64_t len, int strict, uint32_t *cnts, int64_t *m) {
  int64_t d;
  while (p < len) {
    p = varint_at(s, p, len, &d);
    if (p < 0 || !put_delta(cnts, *m, d, strict)) return 0;
    (*m)++;
  }
  return 1;
}

/* Where the first varint starting at or after q begins, for a block loop
 * that stopped at q: carry says s[q-1] ended a varint; otherwise the varint
 * holding s[q-1] ends at the next byte without a continuation bit (checked
 * already: the block loop validated 2 bytes past q, patch_long the whole of
 * a longer varint). -1 where the string ends first. */
static int64_t resume_at(const char *s, int64_t q, int64_t len, int carry) {
  if (carry) return q;
  while (((unsigned char)s[q - 1] - 48u) & 0x20)
    if (q++ >= len) return -1;
  return q;
}

/* Patch the 4+ char varints starting at block offsets in lng (a bit mask of
 * the block's starts), given the block's start mask and first count index. */
static int patch_long(const char *s, int64_t q, int64_t len, uint64_t starts, uint64_t lng, int64_t mbase, int strict,
                      uint32_t *cnts) {
  while (lng) {
    int b = frle_ctz64(lng);
    int64_t d, idx = mbase + frle_popcount64(starts & ((1ull << b) - 1));
    int64_t e = varint_at(s, q + b, len, &d);
    if (e < 0 || !put_delta(cnts, idx, d, strict)) return 0;
    lng &= lng - 1;
  }
  return 1;
}

/* Pass 2, scalar part: counts from deltas over [i, m), and their sum. */
static void prefix_scalar(uint32_t *c, int64_t i, int64_t m, uint64_t *sum) {
  for (; i < m; i++) {
    if (i > 2) c[i] += c[i - 2];
    *sum += c[i];
  }
}

/* Strict: the uint32 counts, summed in 64 bits, must make h*w. That alone
 * proves every count is exact: then each is at most h*w < 2^31, and by
 * induction each true value (a count plus an int32 delta) lies within
 * (-2^31, 2^32), where a wrapped uint32 of at most h*w can only be itself. */
/* After a block loop that stopped at q: the varints left, then pass 2's
 * first counts (those before any delta). Returns where pass 2 goes on, or
 * -1 to give up. */
static int64_t after_blocks(const char *s, int64_t q, int64_t len, int carry, int strict, uint32_t *cnts, int64_t *m,
                            uint64_t *sum) {
  int64_t p = q ? resume_at(s, q, len, carry) : 0, i;
  if (p < 0 || !tail(s, p, len, strict, cnts, m)) return -1;
  i = *m < 3 ? *m : 3;
  prefix_scalar(cnts, 0, i, sum);
  return i;
}

static int finish(int strict, uint64_t hw, uint64_t sum) { return !strict || sum == hw; }

/* The varint starts of a block of `bits` bytes (16 or 32), from k0 (bit b:
 * byte b has the continuation bit): the bytes after one without it, and
 * byte 0 when the block before ended a varint (*carry, then set for the
 * next block). */
static inline uint32_t block_starts(uint32_t k0, int bits, uint64_t *carry) {
  uint64_t all = (1ull << bits) - 1, term = ~(uint64_t)k0 & all, starts = ((term << 1) | *carry) & all;
  *carry = term >> (bits - 1);
  return (uint32_t)starts;
}

/* pack_tbl[k]: pshufb (tbl) control moving the 16-bit lanes at the set bits
 * of k to the front; 0x80 zeroes a lane on both. */
static uint8_t pack_tbl[256][16];

static void init_pack_tbl(void) {
  int k, j, o;
  for (k = 0; k < 256; k++) {
    for (j = 0, o = 0; j < 8; j++)
      if (k & (1 << j)) {
        pack_tbl[k][2 * o] = (uint8_t)(2 * j);
        pack_tbl[k][2 * o + 1] = (uint8_t)(2 * j + 1);
        o++;
      }
    for (; o < 8; o++) pack_tbl[k][2 * o] = pack_tbl[k][2 * o + 1] = 0x80;
  }
}

/* Values of the varints (up to 3 chars) starting at each position, one
 * 16-bit lane a position: w01 lanes hold c[p] | c[p+1] << 8, w2 lanes c[p+2]
 * (chars minus 48). m2: the first char continues; m3: the second does too.
 * Written once for 8 lanes (SSE4.1), 16 (AVX2) and 8 (NEON) by naming the
 * operations. */
#define DEFINE_CAND(name, V, attr, set1, and_, or_, xor_, sub, cmpeq, slli, srli)                                      \
  attr static inline V name(V w01, V w2) {                                                                             \
    const V k20 = set1(0x20), k2020 = set1(0x2020);                                                                    \
    V m2 = cmpeq(and_(w01, k20), k20), m3 = cmpeq(and_(w01, k2020), k2020);                                            \
    V v = or_(or_(and_(w01, set1(0x1f)), and_(and_(srli(w01, 3), m2), set1(0x3e0))),                                   \
              and_(and_(slli(w2, 10), m3), set1(0x7c00)));                                                             \
    /* the sign bit: bit 4, 9 or 14 for 1, 2 or 3 chars */                                                             \
    V sb = xor_(xor_(set1(0x10), and_(m2, set1(0x210))), and_(m3, set1(0x4200)));                                      \
    return sub(xor_(v, sb), sb);                                                                                       \
  }
#endif /* FRLE_SIMD_PARSE */

/* ---- SSE4.1 ------------------------------------------------------------- */

#ifdef FRLE_X86_KERNELS

#define SET1_128(x) _mm_set1_epi16((short)(x))
DEFINE_CAND(cand_sse, __m128i, FRLE_TARGET("sse4.1"), SET1_128, _mm_and_si128, _mm_or_si128, _mm_xor_si128,
            _mm_sub_epi16, _mm_cmpeq_epi16, _mm_slli_epi16, _mm_srli_epi16)

/* The block's bytes from s, s + 1 and s + 2, less '0'; bad collects c0 | c2,
 * which between them hold every byte the block reads. */
FRLE_TARGET("sse4.1")
static FRLE_FORCE_INLINE void load3_sse(const char *s, __m128i *c0, __m128i *c1, __m128i *c2, __m128i *bad) {
  const __m128i k48 = _mm_set1_epi8(48);
  *c0 = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)s), k48);
  *c1 = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(s + 1)), k48);
  *c2 = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(s + 2)), k48);
  *bad = _mm_or_si128(*bad, _mm_or_si128(*c0, *c2));
}

/* Pack the lanes of v at the bits of k (8 bits) to cnts + m as int32. */
FRLE_TARGET("sse4.1") static inline void pack8(__m128i v, unsigned k, uint32_t *out) {
  __m128i p = _mm_shuffle_epi8(v, _mm_loadu_si128((const __m128i *)pack_tbl[k]));
  _mm_storeu_si128((__m128i *)out, _mm_cvtepi16_epi32(p));
  _mm_storeu_si128((__m128i *)(out + 4), _mm_cvtepi16_epi32(_mm_srli_si128(p, 8)));
}

FRLE_TARGET("sse4.1,popcnt")
static int parse_sse41(const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m_out) {
  const __m128i zero = _mm_setzero_si128();
  __m128i bad = zero, c0, c1, c2;
  int64_t q = 0, m = 0, i;
  uint64_t carry = 1, sum = 0;
  /* pass 1: 16 bytes a block; a block reads 2 bytes past itself */
  for (; q + 18 <= len; q += 16) {
    load3_sse(s + q, &c0, &c1, &c2, &bad);
    /* bit 5 to bit 7 of each byte, for movemask */
    unsigned k0 = (unsigned)_mm_movemask_epi8(_mm_slli_epi16(c0, 2));
    unsigned k1 = (unsigned)_mm_movemask_epi8(_mm_slli_epi16(c1, 2));
    unsigned k2 = (unsigned)_mm_movemask_epi8(_mm_slli_epi16(c2, 2));
    unsigned starts = block_starts(k0, 16, &carry);
    unsigned lng = starts & k0 & k1 & k2;
    int64_t mbase = m;
    pack8(cand_sse(_mm_unpacklo_epi8(c0, c1), _mm_unpacklo_epi8(c2, zero)), starts & 0xff, cnts + m);
    m += frle_popcount32(starts & 0xff);
    pack8(cand_sse(_mm_unpackhi_epi8(c0, c1), _mm_unpackhi_epi8(c2, zero)), starts >> 8, cnts + m);
    m += frle_popcount32(starts >> 8);
    if (lng && !patch_long(s, q, len, starts, lng, mbase, strict, cnts)) return 0;
  }
  /* bytes outside '0'..'o' have bit 6 or 7 set after the subtraction */
  if (_mm_movemask_epi8(_mm_or_si128(bad, _mm_slli_epi16(bad, 1)))) return 0;
  if ((i = after_blocks(s, q, len, (int)carry, strict, cnts, &m, &sum)) < 0) return 0;
  /* pass 2: 4 counts a step; lanes i..i+3 add the two counts before i */
  if (m >= 7) {
    __m128i back = _mm_set_epi32((int)cnts[2], (int)cnts[1], (int)cnts[2], (int)cnts[1]);
    __m128i vsum = zero;
    for (; i + 4 <= m; i += 4) {
      __m128i v = _mm_loadu_si128((const __m128i *)(cnts + i));
      v = _mm_add_epi32(_mm_add_epi32(v, _mm_slli_si128(v, 8)), back);
      back = _mm_shuffle_epi32(v, _MM_SHUFFLE(3, 2, 3, 2));
      _mm_storeu_si128((__m128i *)(cnts + i), v);
      vsum = _mm_add_epi64(vsum, _mm_add_epi64(_mm_unpacklo_epi32(v, zero), _mm_unpackhi_epi32(v, zero)));
    }
    sum += (uint64_t)_mm_cvtsi128_si64(vsum) + (uint64_t)_mm_extract_epi64(vsum, 1);
  }
  prefix_scalar(cnts, i, m, &sum);
  *m_out = m;
  return finish(strict, hw, sum);
}

/* ---- AVX2 --------------------------------------------------------------- */

#define T256 FRLE_TARGET("avx2,popcnt")

#define SET1_256(x) _mm256_set1_epi16((short)(x))
DEFINE_CAND(cand_avx2, __m256i, T256, SET1_256, _mm256_and_si256, _mm256_or_si256, _mm256_xor_si256, _mm256_sub_epi16,
            _mm256_cmpeq_epi16, _mm256_slli_epi16, _mm256_srli_epi16)

/* load3_sse for 32-byte blocks (the AVX2 and AVX-512 kernels). */
FRLE_TARGET("avx2")
static FRLE_FORCE_INLINE void load3_avx(const char *s, __m256i *c0, __m256i *c1, __m256i *c2, __m256i *bad) {
  const __m256i k48 = _mm256_set1_epi8(48);
  *c0 = _mm256_sub_epi8(_mm256_loadu_si256((const __m256i *)s), k48);
  *c1 = _mm256_sub_epi8(_mm256_loadu_si256((const __m256i *)(s + 1)), k48);
  *c2 = _mm256_sub_epi8(_mm256_loadu_si256((const __m256i *)(s + 2)), k48);
  *bad = _mm256_or_si256(*bad, _mm256_or_si256(*c0, *c2));
}

/* Pack the lanes of one 128-bit half (8 positions, start bits k) to out as int32. */
T256 static inline void pack8_avx2(__m128i p, uint32_t *out) {
  _mm256_storeu_si256((__m256i *)out, _mm256_cvtepi16_epi32(p));
}

T256 static int parse_avx2(const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m_out) {
  const __m256i zero = _mm256_setzero_si256();
  __m256i bad = zero, c0, c1, c2;
  int64_t q = 0, m = 0, i;
  uint64_t carry = 1, sum = 0;
  /* pass 1: 32 bytes a block; a block reads 2 bytes past itself */
  for (; q + 34 <= len; q += 32) {
    load3_avx(s + q, &c0, &c1, &c2, &bad);
    uint32_t k0 = (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(c0, 2));
    uint32_t k1 = (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(c1, 2));
    uint32_t k2 = (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(c2, 2));
    uint32_t starts = block_starts(k0, 32, &carry);
    uint32_t lng = starts & k0 & k1 & k2;
    unsigned s0 = starts & 0xff, s1 = (starts >> 8) & 0xff, s2 = (starts >> 16) & 0xff, s3 = starts >> 24;
    int64_t mbase = m;
    /* unpack works within 128-bit halves: lo holds positions 0-7 and 16-23,
     * hi 8-15 and 24-31 */
    __m256i lo = cand_avx2(_mm256_unpacklo_epi8(c0, c1), _mm256_unpacklo_epi8(c2, zero));
    __m256i hi = cand_avx2(_mm256_unpackhi_epi8(c0, c1), _mm256_unpackhi_epi8(c2, zero));
    lo = _mm256_shuffle_epi8(
      lo, _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)pack_tbl[s0])),
                                  _mm_loadu_si128((const __m128i *)pack_tbl[s2]), 1));
    hi = _mm256_shuffle_epi8(
      hi, _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)pack_tbl[s1])),
                                  _mm_loadu_si128((const __m128i *)pack_tbl[s3]), 1));
    pack8_avx2(_mm256_castsi256_si128(lo), cnts + m);
    m += frle_popcount32(s0);
    pack8_avx2(_mm256_castsi256_si128(hi), cnts + m);
    m += frle_popcount32(s1);
    pack8_avx2(_mm256_extracti128_si256(lo, 1), cnts + m);
    m += frle_popcount32(s2);
    pack8_avx2(_mm256_extracti128_si256(hi, 1), cnts + m);
    m += frle_popcount32(s3);
    if (lng && !patch_long(s, q, len, starts, lng, mbase, strict, cnts)) return 0;
  }
  if (_mm256_movemask_epi8(_mm256_or_si256(bad, _mm256_slli_epi16(bad, 1)))) return 0;
  if ((i = after_blocks(s, q, len, (int)carry, strict, cnts, &m, &sum)) < 0) return 0;
  /* pass 2: 8 counts a step; shifts by 2 and 4 lanes cross the halves */
  if (m >= 11) {
    const __m256i last2 = _mm256_set_epi32(7, 6, 7, 6, 7, 6, 7, 6);
    __m256i back = _mm256_set_epi32((int)cnts[2], (int)cnts[1], (int)cnts[2], (int)cnts[1], (int)cnts[2], (int)cnts[1],
                                    (int)cnts[2], (int)cnts[1]);
    __m256i vsum = zero;
    for (; i + 8 <= m; i += 8) {
      __m256i v = _mm256_loadu_si256((const __m256i *)(cnts + i));
      v = _mm256_add_epi32(v, _mm256_alignr_epi8(v, _mm256_permute2x128_si256(v, v, 0x08), 8));
      v = _mm256_add_epi32(v, _mm256_permute2x128_si256(v, v, 0x08));
      v = _mm256_add_epi32(v, back);
      back = _mm256_permutevar8x32_epi32(v, last2);
      _mm256_storeu_si256((__m256i *)(cnts + i), v);
      vsum = _mm256_add_epi64(vsum, _mm256_cvtepu32_epi64(_mm256_castsi256_si128(v)));
      vsum = _mm256_add_epi64(vsum, _mm256_cvtepu32_epi64(_mm256_extracti128_si256(v, 1)));
    }
    __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(vsum), _mm256_extracti128_si256(vsum, 1));
    sum += (uint64_t)_mm_cvtsi128_si64(s2) + (uint64_t)_mm_extract_epi64(s2, 1);
  }
  prefix_scalar(cnts, i, m, &sum);
  *m_out = m;
  return finish(strict, hw, sum);
}

/* ---- AVX-512 (BW, VL, VBMI2) -------------------------------------------- */

#define T512 FRLE_TARGET("avx512f,avx512bw,avx512vl,avx512vbmi2,popcnt,bmi2")

T512 static int parse_avx512(const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m_out) {
  const __m256i k20 = _mm256_set1_epi8(0x20);
  const __m512i k1f = _mm512_set1_epi16(0x1f), k3e0 = _mm512_set1_epi16(0x3e0);
  const __m512i k7c00 = _mm512_set1_epi16(0x7c00), s4 = _mm512_set1_epi16(0x10);
  const __m512i s9 = _mm512_set1_epi16(0x200), s14 = _mm512_set1_epi16(0x4000);
  __m256i bad = _mm256_setzero_si256(), c0, c1, c2;
  int64_t q = 0, m = 0, i;
  uint64_t carry = 1, sum = 0;
  /* pass 1: 32 bytes a block; a block reads 2 bytes past itself */
  for (; q + 34 <= len; q += 32) {
    load3_avx(s + q, &c0, &c1, &c2, &bad);
    __mmask32 k0 = _mm256_test_epi8_mask(c0, k20), k1 = _mm256_test_epi8_mask(c1, k20);
    __mmask32 k2 = _mm256_test_epi8_mask(c2, k20), k01 = k0 & k1;
    uint32_t starts = block_starts(k0, 32, &carry);
    uint32_t lng = starts & k01 & k2;
    int64_t mbase = m;
    __m512i w0 = _mm512_cvtepu8_epi16(c0), w1 = _mm512_cvtepu8_epi16(c1);
    __m512i w2 = _mm512_cvtepu8_epi16(c2);
    /* the varint (up to 3 chars) starting at each byte: fields do not
     * overlap, so add works as or */
    __m512i v = _mm512_and_si512(w0, k1f);
    v = _mm512_mask_add_epi16(v, k0, v, _mm512_and_si512(_mm512_slli_epi16(w1, 5), k3e0));
    v = _mm512_mask_add_epi16(v, k01, v, _mm512_and_si512(_mm512_slli_epi16(w2, 10), k7c00));
    __m512i sb = _mm512_mask_mov_epi16(_mm512_mask_mov_epi16(s4, k0, s9), k01, s14);
    v = _mm512_sub_epi16(_mm512_xor_si512(v, sb), sb);
    __m512i p = _mm512_maskz_compress_epi16(starts, v);
    _mm512_storeu_si512((void *)(cnts + m), _mm512_cvtepi16_epi32(_mm512_castsi512_si256(p)));
    _mm512_storeu_si512((void *)(cnts + m + 16), _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(p, 1)));
    m += frle_popcount32(starts);
    if (lng && !patch_long(s, q, len, starts, lng, mbase, strict, cnts)) return 0;
  }
  if (_mm256_movemask_epi8(_mm256_or_si256(bad, _mm256_slli_epi16(bad, 1)))) return 0;
  if ((i = after_blocks(s, q, len, (int)carry, strict, cnts, &m, &sum)) < 0) return 0;
  /* pass 2: 16 counts a step, a stride-2 prefix sum in 3 shifted adds */
  if (m >= 19) {
    const __m512i z = _mm512_setzero_si512();
    const __m512i last2 = _mm512_set_epi32(15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14);
    __m512i back = _mm512_set_epi32((int)cnts[2], (int)cnts[1], (int)cnts[2], (int)cnts[1], (int)cnts[2], (int)cnts[1],
                                    (int)cnts[2], (int)cnts[1], (int)cnts[2], (int)cnts[1], (int)cnts[2], (int)cnts[1],
                                    (int)cnts[2], (int)cnts[1], (int)cnts[2], (int)cnts[1]);
    __m512i vsum = z;
    for (; i + 16 <= m; i += 16) {
      __m512i v = _mm512_loadu_si512((const void *)(cnts + i));
      v = _mm512_add_epi32(v, _mm512_alignr_epi32(v, z, 14));
      v = _mm512_add_epi32(v, _mm512_alignr_epi32(v, z, 12));
      v = _mm512_add_epi32(v, _mm512_alignr_epi32(v, z, 8));
      v = _mm512_add_epi32(v, back);
      back = _mm512_permutexvar_epi32(last2, v);
      _mm512_storeu_si512((void *)(cnts + i), v);
      vsum = _mm512_add_epi64(vsum, _mm512_cvtepu32_epi64(_mm512_castsi512_si256(v)));
      vsum = _mm512_add_epi64(vsum, _mm512_cvtepu32_epi64(_mm512_extracti64x4_epi64(v, 1)));
    }
    sum += (uint64_t)_mm512_reduce_add_epi64(vsum);
  }
  prefix_scalar(cnts, i, m, &sum);
  *m_out = m;
  return finish(strict, hw, sum);
}

#endif /* FRLE_X86_KERNELS */

/* ---- NEON (AArch64) ----------------------------------------------------- */

#ifdef FRLE_NEON_KERNELS

DEFINE_CAND(cand_neon, uint16x8_t, , vdupq_n_u16, vandq_u16, vorrq_u16, veorq_u16, vsubq_u16, vceqq_u16, vshlq_n_u16,
            vshrq_n_u16)

/* Bit b: byte b of v has the continuation bit (0x20); w holds 1, 2, .., 128
 * twice (NEON has no movemask). */
static inline unsigned cont_bits(uint8x16_t v, uint8x16_t w) {
  uint8x16_t t = vandq_u8(vtstq_u8(v, vdupq_n_u8(0x20)), w);
  return (unsigned)vaddv_u8(vget_low_u8(t)) | ((unsigned)vaddv_u8(vget_high_u8(t)) << 8);
}

/* Pack the lanes of v at the bits of k (8 bits) to out as int32. */
static inline void pack8_neon(uint16x8_t v, unsigned k, uint32_t *out) {
  int16x8_t p = vreinterpretq_s16_u8(vqtbl1q_u8(vreinterpretq_u8_u16(v), vld1q_u8(pack_tbl[k])));
  vst1q_u32(out, vreinterpretq_u32_s32(vmovl_s16(vget_low_s16(p))));
  vst1q_u32(out + 4, vreinterpretq_u32_s32(vmovl_high_s16(p)));
}

/* parse_sse41's steps, with NEON's instructions. */
static int parse_neon(const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m_out) {
  static const uint8_t bitw[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t zero = vdupq_n_u8(0), k48 = vdupq_n_u8(48), w = vld1q_u8(bitw);
  uint8x16_t bad = zero;
  int64_t q = 0, m = 0, i;
  uint64_t carry = 1, sum = 0;
  /* pass 1: 16 bytes a block; a block reads 2 bytes past itself */
  for (; q + 18 <= len; q += 16) {
    const uint8_t *b = (const uint8_t *)s + q;
    uint8x16_t c0 = vsubq_u8(vld1q_u8(b), k48), c1 = vsubq_u8(vld1q_u8(b + 1), k48);
    uint8x16_t c2 = vsubq_u8(vld1q_u8(b + 2), k48);
    unsigned k0 = cont_bits(c0, w), k1 = cont_bits(c1, w), k2 = cont_bits(c2, w);
    unsigned starts = block_starts(k0, 16, &carry);
    unsigned lng = starts & k0 & k1 & k2;
    int64_t mbase = m;
    bad = vorrq_u8(bad, vorrq_u8(c0, c2));
    pack8_neon(cand_neon(vreinterpretq_u16_u8(vzip1q_u8(c0, c1)), vreinterpretq_u16_u8(vzip1q_u8(c2, zero))),
               starts & 0xff, cnts + m);
    m += frle_popcount32(starts & 0xff);
    pack8_neon(cand_neon(vreinterpretq_u16_u8(vzip2q_u8(c0, c1)), vreinterpretq_u16_u8(vzip2q_u8(c2, zero))),
               starts >> 8, cnts + m);
    m += frle_popcount32(starts >> 8);
    if (lng && !patch_long(s, q, len, starts, lng, mbase, strict, cnts)) return 0;
  }
  /* bytes outside '0'..'o' have bit 6 or 7 set after the subtraction */
  if (vmaxvq_u8(vandq_u8(bad, vdupq_n_u8(0xc0)))) return 0;
  if ((i = after_blocks(s, q, len, (int)carry, strict, cnts, &m, &sum)) < 0) return 0;
  /* pass 2: 4 counts a step; lanes i..i+3 add the two counts before i */
  if (m >= 7) {
    const uint32_t b0[4] = {cnts[1], cnts[2], cnts[1], cnts[2]};
    const uint32x4_t z4 = vdupq_n_u32(0);
    uint32x4_t back = vld1q_u32(b0);
    uint64x2_t vsum = vdupq_n_u64(0);
    for (; i + 4 <= m; i += 4) {
      uint32x4_t v = vld1q_u32(cnts + i);
      v = vaddq_u32(vaddq_u32(v, vextq_u32(z4, v, 2)), back);
      back = vcombine_u32(vget_high_u32(v), vget_high_u32(v));
      vst1q_u32(cnts + i, v);
      vsum = vpadalq_u32(vsum, v);
    }
    sum += vaddvq_u64(vsum);
  }
  prefix_scalar(cnts, i, m, &sum);
  *m_out = m;
  return finish(strict, hw, sum);
}

#endif /* FRLE_NEON_KERNELS */

typedef int (*parse_fn)(const char *, int64_t, uint64_t, int, uint32_t *, int64_t *);

/* The kernel of a level (FRLE_ISA_*), or NULL where this CPU or build lacks it. */
static parse_fn kernel_of(int level) {
  if (!frle_parse_kernel_ok(level)) return NULL;
#ifdef FRLE_X86_KERNELS
  if (level == FRLE_ISA_AVX512) return parse_avx512;
  if (level == FRLE_ISA_AVX2) return parse_avx2;
  if (level == FRLE_ISA_SSE41) return parse_sse41;
#endif
#ifdef FRLE_NEON_KERNELS
  if (level == FRLE_ISA_NEON) return parse_neon;
#endif
  return NULL;
}

#ifdef FRLE_SIMD_PARSE
static frle_once_t tbl_once = FRLE_ONCE_INIT; /* the SSE4.1/AVX2/NEON kernels' table */
#endif

int frle_parse_fast_isa(int lvl, const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m) {
  parse_fn f = kernel_of(lvl);
  if (!f) return -1;
#ifdef FRLE_SIMD_PARSE
  frle_once(&tbl_once, init_pack_tbl);
#endif
  if (strict && hw >= 0x7fffffffull) return 0; /* pass 2 compares in 31 bits */
  return f(s, len, hw, strict, cnts, m);
}

int frle_parse_fast(const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m) {
  int l = frle_parse_level();
  return l == FRLE_ISA_SCALAR ? 0 : frle_parse_fast_isa(l, s, len, hw, strict, cnts, m);
}

const char *frle_parse_isa(void) { return frle_isa_name(frle_parse_level()); }
