/*
 * fastrle C core: COCO run-length encoding without Python.
 *
 * Format (pycocotools maskApi.c): counts alternate runs of 0 and 1, starting
 * with 0, over the pixels in column-major order (y fastest). The compressed
 * string stores each count in 5-bit chunks, least significant first, one
 * char per chunk: (chunk | 0x20 if more follow) + 48. The last chunk's bit
 * 0x10 is a sign bit. For index i > 2 the value is a delta from cnts[i-2].
 *
 * Every size and offset is 64-bit. Counts are uint32, as in pycocotools, so
 * one mask may have at most UINT32_MAX pixels. Functions that take external
 * input validate it and report through frle_error; none writes output before
 * its input has been validated.
 */
#ifndef FASTRLE_RLE_H
#define FASTRLE_RLE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FRLE_MAX_PIXELS 0xFFFFFFFFull /* counts are uint32 */

typedef enum {
  FRLE_OK = 0,
  FRLE_ERR_CHAR,          /* byte outside '0'..'o' (48..111); pos = offset */
  FRLE_ERR_NUL,           /* NUL byte inside the string; pos = offset */
  FRLE_ERR_TRUNCATED,     /* string ends inside a varint; pos = offset */
  FRLE_ERR_VARINT_LONG,   /* varint longer than 12 chars; pos = offset */
  FRLE_ERR_NEGATIVE,      /* a run decodes below zero; pos = count index */
  FRLE_ERR_RUN_TOO_BIG,   /* a run above UINT32_MAX; pos = count index */
  FRLE_ERR_SUM_SHORT,     /* runs sum below h*w; value = sum */
  FRLE_ERR_SUM_LONG,      /* runs sum above h*w; value = sum so far */
  FRLE_ERR_SIZE,          /* h*w above FRLE_MAX_PIXELS, or overflows */
  FRLE_ERR_NOMEM,         /* allocation failed */
  FRLE_ERR_THREAD         /* a worker thread could not be started */
} frle_status;

/* Where and why validation failed. index is the mask index in a batch. */
typedef struct {
  int code;
  int64_t index;
  int64_t pos;
  int64_t value;
} frle_error;

/* One mask's runs as handed to the batch functions: either a compressed
 * string (str, len; need not be NUL-terminated) or parsed counts (cnts, m). */
typedef struct {
  const char *str;
  int64_t len;
  const uint32_t *cnts;
  int64_t m;
} frle_src;

/* Human-readable text for a status code (static storage). */
const char *frle_strerror(int code);

/* Which parse kernel frle_parse uses on this CPU: "avx512", "avx2", "sse41"
 * or "scalar". The environment variable FRLE_ISA (one of those names) caps
 * this and every other kernel's choice (rle_dispatch.h); it is read once per
 * copy of the core, i.e. once per extension module that links it. */
const char *frle_parse_isa(void);

/* Checks h*w against FRLE_MAX_PIXELS without overflow. */
int frle_check_size(uint64_t h, uint64_t w, uint64_t *hw_out);

/* ---- strings (rle_string.c) ---- */

/* Parse s[0..len) into cnts (capacity >= len counts). *m gets the count.
 * strict: every run in 0..UINT32_MAX and the sum exactly hw.
 * !strict: pycocotools arithmetic (mod 2^32, no sum check); the syntax is
 * still checked (chars, NUL, truncation), since pycocotools reads past the
 * end of the string there. */
int frle_parse(const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m, frle_error *err);

/* frle_parse, and *canonical = whether frle_to_string of the counts gives
 * s[0..len) back (fewest chunks per varint, no count wrapped), so that a
 * caller can reuse the string instead of writing it again. */
int frle_parse_canonical(const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m,
                         frle_error *err, int *canonical);

/* Upper bound of the string length frle_to_string writes, without the NUL. */
int64_t frle_string_bound(int64_t m);

/* Write the compressed string of cnts[0..m) to s (at least
 * frle_string_bound(m)+1 bytes), NUL-terminated. Returns its length. */
int64_t frle_to_string(const uint32_t *cnts, int64_t m, char *s);

/* ---- decode (rle_decode.c) ---- */

typedef struct frle_scratch frle_scratch; /* per-thread work memory */
frle_scratch *frle_scratch_new(void);
void frle_scratch_free(frle_scratch *s);

/* Spare blocks (rle_scratch.c): big work buffers (parse arenas, bitmaps)
 * kept between calls, so that a call on megabytes of counts does not fault
 * in fresh pages each time. frle_spare_take gives a block of at least n
 * bytes (64-byte aligned; *cap gets its usable size), or NULL when out of
 * memory; frle_spare_give takes it back (NULL is fine) and keeps it while
 * the blocks kept stay within the limit, else frees it. Thread-safe: a
 * kept block goes to one taker at a time. The limit starts at 0 (nothing
 * kept: each extension module has its own copy, and only the drop-in opts
 * in). frle_spare_limit sets the limit in
 * bytes (negative: leaves it; a lower one frees every kept block, and 0 keeps
 * none from then on) and returns the previous one; frle_spare_release frees
 * the kept blocks now; frle_spare_bytes: bytes kept. */
void *frle_spare_take(int64_t n, int64_t *cap);
void frle_spare_give(void *p);
int64_t frle_spare_limit(int64_t bytes);
void frle_spare_release(void);
int64_t frle_spare_bytes(void);

/* Writes one validated mask (runs sum to h*w) into out.
 * Row-major (C order, out[y*w + x]): runs are transposed to row spans.
 * If zeroed, out is known to be all zeros and only foreground is written;
 * otherwise every byte is written. Returns FRLE_OK or FRLE_ERR_NOMEM. */
int frle_decode_rowmajor(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, uint8_t *out, int zeroed,
                         frle_scratch *scr);

/* Column-major (F order, out[x*h + y]): runs are written as they come. */
void frle_decode_colmajor(const uint32_t *cnts, int64_t m, uint8_t *out, int zeroed);

/* ---- encode (rle_encode.c) ---- */

/* Encode a column-major (F order) mask of hw bytes. A run ends wherever the
 * byte value changes (pycocotools' rule; non-binary values included), or,
 * with nonzero, wherever zero/nonzero changes. *cnts is a malloc'd buffer
 * of *cap entries, grown with realloc as needed. Returns m, or -1 when out
 * of memory. */
int64_t frle_encode_colmajor(const uint8_t *mask, uint64_t hw, int nonzero, uint32_t **cnts, int64_t *cap);

/* Encode a row-major (C order) h x w mask with row stride `stride` bytes.
 * nonzero: treat any nonzero byte as 1 (else pycocotools' value rule).
 * *cnts is a malloc'd buffer of *cap entries, grown with realloc as needed.
 * Returns m, or -1 when out of memory. */
int64_t frle_encode_rowmajor(const uint8_t *mask, uint64_t h, uint64_t w, int64_t stride, int nonzero, uint32_t **cnts,
                             int64_t *cap, frle_scratch *scr);

/* ---- operations on runs (rle_ops.c) ---- */

/* Sum of the foreground runs, in uint64 (pycocotools truncates to uint32). */
uint64_t frle_area(const uint32_t *cnts, int64_t m);

/* pycocotools rleToBbox, quirks included: uint32 arithmetic, an odd final
 * count ignored, and a mask with only zero-length foreground runs giving
 * wrapped widths. bb = [x, y, w, h]. */
void frle_bbox_coco(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, double bb[4]);

/* Tight box [x, y, w, h]; all zeros for an empty mask. */
void frle_bbox(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, double bb[4]);

/* pycocotools rleToBbox of n masks (see frle_bbox_coco): bb is (n, 4). */
void frle_bbox_coco_many(const uint32_t *const *cnts, const int64_t *m, const uint64_t *h, const uint64_t *w, int64_t n,
                         double *bb, int nthreads);

/* One side of an IoU: n masks of parsed counts with their sizes. */
typedef struct {
  const uint32_t *const *cnts;
  const int64_t *m;
  const uint64_t *h, *w;
  int64_t n;
} frle_runs;

/* pycocotools rleIou on strictly parsed masks: o[g*dt.n + d] is 0 where the
 * boxes do not overlap (pycocotools' bbIou prefilter), -1 where they do and
 * the sizes differ, else |d AND g| / |d OR g| (|d AND g| / |d| for a crowd
 * g), with pycocotools' uint32 arithmetic. The intersections are run sweeps
 * over the columns both masks span. dt == gt (the same frle_runs) prepares
 * the masks once and walks each pair once. iscrowd may be NULL (no crowd).
 * Returns FRLE_OK or FRLE_ERR_NOMEM (o then untouched). */
int frle_iou_runs(const frle_runs *dt, const frle_runs *gt, const uint8_t *iscrowd, double *o, int nthreads);

/* frle_iou_runs (not dt == gt) for callers that pair each mask with few
 * others, such as COCOeval's (image, category) cells: dt_box and gt_box are
 * frle_bbox_coco of each mask, computed once by the caller (NULL: computed
 * here); every intersection is a run sweep (a bitmap costs more to build
 * than the few sweeps it would save); the calling thread only. The same o,
 * to the bit. Returns FRLE_OK or FRLE_ERR_NOMEM (o then untouched). */
int frle_iou_runs_few(const frle_runs *dt, const frle_runs *gt, const double *dt_box, const double *gt_box,
                      const uint8_t *iscrowd, double *o);

/* pycocotools merge: the union (or intersection) of n masks of hw pixels,
 * with its exact runs; *out gets a spare block (frle_spare_give it: a long
 * result then costs the next call no page faults). n >= 2 needs
 * strictly parsed masks; one mask's counts are copied as they are. Many
 * masks go through a bitmap of hw bits, a few through pairwise run merges.
 * Returns the number of runs, or -1 when out of memory. */
int64_t frle_merge_many(const uint32_t *const *cnts, const int64_t *m, int64_t n, uint64_t hw, int intersect,
                        uint32_t **out);

/* pycocotools bbIou: o[g*md + d], boxes as [x, y, w, h]; iscrowd may be NULL. */
void frle_bbox_iou(const double *dt, const double *gt, int64_t md, int64_t ng, const uint8_t *iscrowd, double *o);

/* ---- polygons and boxes (rle_poly.c) ---- */

/* pycocotools rleFrPoly: k points xy[2k]; *cnts is malloc'd, *m set.
 * Returns FRLE_OK or FRLE_ERR_NOMEM. */
int frle_from_poly(const double *xy, int64_t k, uint64_t h, uint64_t w, uint32_t **cnts, int64_t *m);

/* ---- batches with threads (rle_batch.c, rle_parse_batch.c) ---- */

/* The batch parse: n masks, src[i] (a string, or given counts, which are
 * copied) into out + offs[i] (room for src[i].len, or src[i].m, counts); m[i]
 * gets the count. hw[i] is mask i's h*w (already checked). strict as in
 * frle_parse; for given counts, strict checks their sum. On failure returns
 * the code of the lowest failing mask index, err filled (err->index = that
 * index). */
int frle_parse_many(const frle_src *src, const uint64_t *hw, int64_t n, int strict, uint32_t *out, const int64_t *offs,
                    int64_t *m, int nthreads, frle_error *err);

/* Validate every mask, then write all n masks of h x w into out:
 * order 'C' gives (n, h, w) C-contiguous; 'F' gives pycocotools' (h, w, n)
 * Fortran layout (mask i at out + i*h*w, column-major). Nothing is written
 * unless every mask is valid. zeroed: out is all zeros already. */
int frle_decode_batch(const frle_src *src, int64_t n, uint64_t h, uint64_t w, uint8_t *out, char order, int zeroed,
                      int nthreads, frle_error *err);

/* Encode n masks at base + i*mask_stride. colmajor: each mask is h*w
 * contiguous bytes in column-major order; else rows of w bytes at
 * row_stride. strs[i] gets a malloc'd NUL-terminated string (free with
 * free()), lens[i] its length. On failure every string is freed. */
int frle_encode_batch(const uint8_t *base, int64_t n, uint64_t h, uint64_t w, int64_t mask_stride, int64_t row_stride,
                      int colmajor, int nonzero, char **strs, int64_t *lens, int nthreads, frle_error *err);

/* ---- overlays (rle_render.c) ---- */

/* Draw masks over an h x w RGB image img (h*w*3 bytes, row-major, channels
 * interleaved), straight from their runs. Mask i's counts are
 * arena[offsets[i]..offsets[i+1]); order[0..k) lists the masks to draw, in
 * draw order (each in range); colors holds 3 bytes per mask i. With
 * a = alpha (0..255), every foreground pixel of each mask, in order, becomes
 * (p*(255-a) + c*a + 127)/255 per channel. Then, with contour_width cw > 0,
 * each mask's contour (its pixels within Chebyshev distance cw of a
 * background pixel; outside the image is background) is set to its colour,
 * in the same order. Every drawn mask is checked (runs sum to h*w) before
 * img is touched; err->index is then the failing mask i. Threads split the
 * rows into bands, so each pixel sees the masks in the given order. */
int frle_render(const uint32_t *arena, const int64_t *offsets, const int64_t *order, int64_t k, uint64_t h, uint64_t w,
                const uint8_t *colors, int alpha, int contour_width, uint8_t *img, int nthreads, frle_error *err);

/* Number of threads the batch functions use for nthreads <= 0 (auto). */
int frle_default_threads(void);

#ifdef __cplusplus
}
#endif
#endif /* FASTRLE_RLE_H */
