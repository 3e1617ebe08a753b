/* Compressed counts strings: parse with validation, and write. */
#include <string.h>
#include "rle.h"
#include "rle_internal.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static const char *const frle_messages[] = {
  "ok",
  "character outside '0'..'o' (48..111)",
  "NUL byte inside counts",
  "counts string ends inside a varint (truncated)",
  "varint longer than 12 characters",
  "run length is negative",
  "run length does not fit in uint32",
  "counts sum to less than h*w",
  "counts sum to more than h*w",
  "h*w exceeds the 2^32-1 pixels a uint32 count can hold",
  "out of memory",
  "could not start a worker thread",
};

const char *frle_strerror(int code) {
  if (code < 0 || code > FRLE_ERR_THREAD) return "unknown error";
  return frle_messages[code];
}

int frle_check_size(uint64_t h, uint64_t w, uint64_t *hw_out) {
  if (w != 0 && h > FRLE_MAX_PIXELS / w) return FRLE_ERR_SIZE;
  *hw_out = h * w;
  return FRLE_OK;
}

static int fail(frle_error *err, int code, int64_t pos, int64_t value) {
  if (err) {
    err->code = code;
    err->pos = pos;
    err->value = value;
  }
  return code;
}

/* Error for the byte at s[p], which is outside '0'..'o'. */
static int bad_byte(const char *s, int64_t p, frle_error *err) {
  unsigned char ch = (unsigned char)s[p];
  return ch == 0 ? fail(err, FRLE_ERR_NUL, p, 0) : fail(err, FRLE_ERR_CHAR, p, ch);
}

/* canonical (may be NULL): set to whether frle_to_string of the result gives
 * s back, that is every varint has the fewest chunks for its value and no
 * count wrapped. */
static inline int parse_impl(const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m_out,
                             frle_error *err, int *canonical) {
  int64_t p = 0, m = 0;
  int canon = 1;
  uint64_t sum = 0;
  /* the counts one and two back, in registers: reading cnts[m-2] back from
   * memory would put a store-to-load forwarding delay on every count */
  uint32_t back1 = 0, back2 = 0;
  *m_out = 0;
  while (p < len) {
    /* (unsigned) ch - 48 > 63 catches both ends of '0'..'o' in one test */
    uint64_t c = (uint64_t)(unsigned char)s[p] - 48u, x;
    int64_t start = p;
    if (c > 63) return bad_byte(s, p, err);
    int k = 1;
    x = c & 0x1f;
    p++;
    if (c & 0x20) { /* more chunks: rare for SA-1B and COCO counts */
      do {
        if (p >= len) return fail(err, FRLE_ERR_TRUNCATED, start, 0);
        c = (uint64_t)(unsigned char)s[p] - 48u;
        if (c > 63) return bad_byte(s, p, err);
        if (k == 12) return fail(err, FRLE_ERR_VARINT_LONG, start, 0);
        x |= (c & 0x1f) << (5 * k);
        p++;
        k++;
      } while (c & 0x20);
      if (c & 0x10) x |= ~(uint64_t)0 << (5 * k); /* sign-extend */
    } else if (c & 0x10) {
      x |= ~(uint64_t)0 << 5;
    }
    if (canonical) {
      int64_t d = (int64_t)x, v = d + (m > 2 ? (int64_t)back2 : 0);
      uint64_t mag = (uint64_t)(d ^ (d >> 63));
      int nb = mag ? 65 - frle_clz64(mag) : 1;
      if ((nb + 4) / 5 != k || v < 0 || v > (int64_t)FRLE_MAX_PIXELS) canon = 0;
    }
    if (m > 2) x += back2;
    if (strict) {
      int64_t v = (int64_t)x;
      if (v < 0) return fail(err, FRLE_ERR_NEGATIVE, m, v);
      if ((uint64_t)v > FRLE_MAX_PIXELS) return fail(err, FRLE_ERR_RUN_TOO_BIG, m, v);
      sum += (uint64_t)v;
      if (sum > hw) return fail(err, FRLE_ERR_SUM_LONG, m, (int64_t)sum);
    }
    cnts[m++] = (uint32_t)x; /* !strict: wraps mod 2^32 like pycocotools */
    back2 = back1;
    back1 = (uint32_t)x;
  }
  *m_out = m;
  if (canonical) *canonical = canon;
  if (strict && sum != hw) return fail(err, FRLE_ERR_SUM_SHORT, m, (int64_t)sum);
  return FRLE_OK;
}

/* Strings shorter than this go straight to the scalar parse: the vector
 * kernels' blocks read 18 or 34 bytes. */
#define FAST_MIN_LEN 48

int frle_parse(const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m_out, frle_error *err) {
  if (len >= FAST_MIN_LEN && frle_parse_fast(s, len, hw, strict, cnts, m_out)) return FRLE_OK;
  return parse_impl(s, len, hw, strict, cnts, m_out, err, NULL);
}

int frle_parse_canonical(const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m_out,
                         frle_error *err, int *canonical) {
  return parse_impl(s, len, hw, strict, cnts, m_out, err, canonical);
}

int64_t frle_string_bound(int64_t m) { return 7 * m; /* a delta of two uint32 needs at most 33 bits: 7 chunks */ }

/* One count's chunks at s[p]: returns the new p. */
static inline int64_t put_count(int64_t x, char *s, int64_t p) {
  /* chunks: the fewest 5-bit groups that hold x in two's complement (the
   * last chunk's bit 4 is the sign), which is where pycocotools' loop
   * stops; one or two chunks nearly always, written without a loop */
  uint64_t mag = (uint64_t)(x ^ (x >> 63));
  int nb = mag ? 65 - frle_clz64(mag) : 1, k = (nb + 4) / 5, j;
  if (k <= 2) {
    s[p] = (char)(((x & 0x1f) | (k == 2 ? 0x20 : 0)) + 48);
    s[p + 1] = (char)(((x >> 5) & 0x1f) + 48); /* overwritten next when k == 1 */
    return p + k;
  }
  for (j = 0; j < k; j++) {
    int c = (int)((x >> (5 * j)) & 0x1f);
    if (j + 1 < k) c |= 0x20;
    s[p++] = (char)(c + 48);
  }
  return p;
}

int64_t frle_to_string(const uint32_t *cnts, int64_t m, char *s) {
  int64_t i = 0, p = 0;
  for (; i < m && i < 3; i++) p = put_count((int64_t)cnts[i], s, p);
#ifdef __SSE2__
  {
    /* blocks of 4 counts whose deltas all take one chunk (-16..15; noise
     * strings are nearly all such): 4 characters from one compare. Counts
     * below 2^31 keep the 32-bit difference exact. */
    const __m128i k16 = _mm_set1_epi32(16), hi = _mm_set1_epi32(~31), k48 = _mm_set1_epi32(48);
    for (; i + 4 <= m; i += 4) {
      __m128i a = _mm_loadu_si128((const __m128i *)(cnts + i)), b = _mm_loadu_si128((const __m128i *)(cnts + i - 2));
      __m128i t = _mm_add_epi32(_mm_sub_epi32(a, b), k16); /* delta + 16: 0..31 when one chunk */
      __m128i bad = _mm_or_si128(_mm_and_si128(t, hi), _mm_srai_epi32(_mm_or_si128(a, b), 31));
      if (_mm_movemask_epi8(_mm_cmpeq_epi32(bad, _mm_setzero_si128())) != 0xFFFF) {
        int64_t j;
        for (j = i; j < i + 4; j++) p = put_count((int64_t)cnts[j] - (int64_t)cnts[j - 2], s, p);
        continue;
      }
      /* (delta & 31) + 48 = ((delta + 16) ^ 16) + 48, as t is 0..31 */
      t = _mm_add_epi32(_mm_xor_si128(t, k16), k48);
      t = _mm_packs_epi32(t, t);
      t = _mm_packus_epi16(t, t);
      {
        int v = _mm_cvtsi128_si32(t);
        memcpy(s + p, &v, 4);
      }
      p += 4;
    }
  }
#endif
  for (; i < m; i++) p = put_count((int64_t)cnts[i] - (int64_t)cnts[i - 2], s, p);
  s[p] = 0;
  return p;
}
