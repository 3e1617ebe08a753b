/* Compressed counts strings: parse with validation, and write. */
#include "rle.h"
#include "rle_internal.h"

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

int64_t frle_to_string(const uint32_t *cnts, int64_t m, char *s) {
  int64_t i, p = 0;
  for (i = 0; i < m; i++) {
    int64_t x = (int64_t)cnts[i];
    uint64_t mag;
    int nb, k, j;
    if (i > 2) x -= (int64_t)cnts[i - 2];
    /* chunks: the fewest 5-bit groups that hold x in two's complement (the
     * last chunk's bit 4 is the sign), which is where pycocotools' loop
     * stops; one or two chunks nearly always, written without a loop */
    mag = (uint64_t)(x ^ (x >> 63));
    nb = mag ? 65 - frle_clz64(mag) : 1;
    k = (nb + 4) / 5;
    if (k <= 2) {
      s[p] = (char)(((x & 0x1f) | (k == 2 ? 0x20 : 0)) + 48);
      s[p + 1] = (char)(((x >> 5) & 0x1f) + 48); /* overwritten next when k == 1 */
      p += k;
      continue;
    }
    for (j = 0; j < k; j++) {
      int c = (int)((x >> (5 * j)) & 0x1f);
      if (j + 1 < k) c |= 0x20;
      s[p++] = (char)(c + 48);
    }
  }
  s[p] = 0;
  return p;
}
