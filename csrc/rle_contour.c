/* Contours from runs; see rle_contour.h.
 *
 * The border following runs with OpenCV's rules (contours_new.cpp) on a
 * plane of pixel values in the coordinates of the mask's bounding box with
 * a one-pixel zero frame: 0 (background), 1 (unvisited), nbd (visited),
 * nbd | 0x80 (visited, right edge); with the LNBD position, the 127-entry
 * table of marks for finding a hole's parent, and the tree whose pre-order
 * walk is cv2's output order. Borders start only at span starts (outer) and
 * span ends (holes), so the raster scan walks the spans (frle_row_transitions)
 * and looks inside a span only for the LNBD mark.
 *
 * The plane is one of two stores, chosen per mask (use_crop):
 * - crop: the bounding box as bytes (per-thread scratch), spans written in;
 *   one byte load per pixel test, memory the box;
 * - sparse: each row's spans cut into pieces, "edge" pieces (pixels with
 *   background among their 8 neighbours, the only ones the tracer visits:
 *   Suzuki's border points) holding one mark byte per pixel and "inner"
 *   pieces (all 1); a pixel test is a search among its row's pieces from
 *   the last one hit. Memory: the runs, the rows and the edge pixels
 *   (at most the mask's perimeter in pixels); never the box. */
#include "rle_contour.h"

#include <stdlib.h>
#include <string.h>

#include "rle_compat.h"
#include "rle_internal.h"
#include "rle_platform.h"

/* cv2's chain codes: 0 right, then counter-clockwise (y grows down). */
static const int DX[8] = {1, 1, 0, -1, -1, -1, 0, 1};
static const int DY[8] = {0, -1, -1, -1, 0, 1, 1, 1};
/* the chain code of a unit move, by (dy + 1) * 3 + dx + 1 */
static const int CODE[9] = {3, 2, 1, 4, -1, 0, 5, 6, 7};

typedef struct {
  int32_t parent, first_child, prev, next, ctable_next;
  int hole;
  int32_t ox, oy;             /* start point in the crop */
  int32_t bx, by, bw, bh;     /* bounding rect in the crop */
  int64_t p0, np;             /* points in the worker's pts */
} cnode;

typedef struct {
  frle_scratch *scr;
  int8_t *img;
  int64_t img_cap;
  cnode *nodes;
  int64_t nodes_cap, nnodes;
  int32_t *pts;
  int64_t pts_cap, npts; /* x, y pairs in the crop */
  int32_t *aux;
  int64_t aux_cap; /* output walk: a stack and the index map */
  int32_t *opts;
  int64_t opts_cap; /* pixel outlines, x, y pairs of corners */
  int64_t *rs;
  int64_t rs_cap; /* per row of the box: its spans' first and end offsets */
  int64_t *rowp, *finger, *poff;
  int64_t rowp_cap, finger_cap, poff_cap; /* the sparse store's rows and pieces */
  int32_t *px0, *px1;
  int64_t px0_cap, px1_cap;
  int8_t *marks;
  int64_t marks_cap;
  uint32_t *iv;
  int64_t iv_cap; /* one row's inner intervals */
  int rc;
  int64_t bad;
  frle_error err; /* a bad sum's pos and value */
  uint32_t *cnts;
  int64_t cnts_cap; /* a parsed count string */
} cworker;

/* The pixel values of one mask; see the top of the file. Coordinates are
 * those of the box with its frame: (x, y) in [0, W2) x [0, H2). */
typedef struct {
  int sparse;
  int8_t *img; /* crop: W2 * H2 bytes */
  int64_t step;
  int64_t d[16];            /* crop: index step of chain code s & 7 */
  const int64_t *rowp;      /* sparse: row y's pieces are [rowp[y], rowp[y+1]) */
  const int32_t *px0, *px1; /* piece [px0, px1) */
  const int64_t *poff;      /* its first mark byte, or -1: inner (all 1) */
  int8_t *marks;
  int64_t *finger; /* per row, the last piece hit */
  int8_t spare;    /* what a write outside the edge pieces lands on */
  int off_edge;    /* such a write happened: redo the mask in a crop */
} plane;

/* The piece of row y holding x, or -1. */
static inline int64_t piece_of(const plane *p, int32_t x, int32_t y) {
  int64_t lo = p->rowp[y], hi = p->rowp[y + 1], f = p->finger[y], mid;
  if (lo == hi) return -1;
  if (x >= p->px0[f] && x < p->px1[f]) return f;
  if (x >= p->px1[f]) {
    lo = f + 1;
    if (lo < hi && x < p->px1[lo]) return x >= p->px0[lo] ? (p->finger[y] = lo) : -1;
  } else {
    hi = f;
  }
  while (lo < hi) { /* the first piece ending after x */
    mid = lo + (hi - lo) / 2;
    if (p->px1[mid] <= x) lo = mid + 1;
    else hi = mid;
  }
  if (lo == p->rowp[y + 1] || x < p->px0[lo]) return -1;
  return p->finger[y] = lo;
}

/* Pixel (x, y), at index i of the crop. sp: the plane is sparse (a
 * constant where the tracer is inlined, so each store gets its own loop). */
static FRLE_FORCE_INLINE int8_t pget(const plane *p, int32_t x, int32_t y, int64_t i, int sp) {
  int64_t k;
  if (!sp) return p->img[i];
  k = piece_of(p, x, y);
  if (k < 0) return 0;
  return p->poff[k] < 0 ? 1 : p->marks[p->poff[k] + x - p->px0[k]];
}

/* The value of a pixel the tracer visits, to read and write. */
static FRLE_FORCE_INLINE int8_t *pref(plane *p, int32_t x, int32_t y, int64_t i, int sp) {
  int64_t k;
  if (!sp) return p->img + i;
  k = piece_of(p, x, y);
  if (k >= 0 && p->poff[k] >= 0) return p->marks + p->poff[k] + x - p->px0[k];
  p->off_edge = 1; /* never for a border point; kept safe all the same */
  p->spare = 1;
  return &p->spare;
}

/* A pixel's index in the crop (unused for the sparse store). */
static inline int64_t at(const plane *p, int32_t x, int32_t y) { return p->sparse ? 0 : (int64_t)y * p->step + x; }

static int put_pt(cworker *wk, int32_t x, int32_t y) {
  if (2 * wk->npts + 2 > wk->pts_cap && !FRLE_GROW(wk->pts, wk->pts_cap, 2 * wk->npts + 2)) return 0;
  wk->pts[2 * wk->npts] = x;
  wk->pts[2 * wk->npts + 1] = y;
  wk->npts++;
  return 1;
}

/* Follows the border from (x, y), marking it with nbd, and records its
 * points (all, or only where the direction changes) and bounding rect.
 * (xN, yN) are pixels i0, i1, i3, i4 of cv2's code, iN their crop indices. */
static FRLE_FORCE_INLINE int follow_in(cworker *wk, plane *c, int32_t x, int32_t y, int8_t nbd, int hole, int direct,
                                       cnode *nd, int sp) {
  const int32_t x0 = x, y0 = y;
  const int64_t i0 = at(c, x, y);
  int32_t x1, y1, x3 = x, y3 = y, x4 = x, y4 = y;
  int64_t i1, i3 = i0, i4 = i0;
  int32_t rx = x, ry = y, rx1 = x, ry1 = y;
  int s_end = hole ? 0 : 4, s = s_end;
  int8_t right = (int8_t)(nbd - 128); /* nbd | 0x80 */

  nd->p0 = wk->npts;
  do {
    s = (s - 1) & 7;
    x1 = x0 + DX[s];
    y1 = y0 + DY[s];
    i1 = i0 + c->d[s];
  } while (pget(c, x1, y1, i1, sp) == 0 && s != s_end);

  if (s == s_end) { /* a single pixel */
    *pref(c, x0, y0, i0, sp) = right;
    if (!put_pt(wk, x, y)) return FRLE_ERR_NOMEM;
  } else {
    int prev_s = s ^ 4;
    for (;;) {
      int8_t *v3;
      s_end = s;
      while (s < 15) {
        ++s;
        x4 = x3 + DX[s & 7];
        y4 = y3 + DY[s & 7];
        i4 = i3 + c->d[s];
        if (pget(c, x4, y4, i4, sp) != 0) break;
      }
      s &= 7;
      v3 = pref(c, x3, y3, i3, sp);
      if ((unsigned)(s - 1) < (unsigned)s_end) *v3 = right; /* its right neighbour is 0 */
      else if (*v3 == 1) *v3 = nbd;
      if (s != prev_s || direct) {
        if (!put_pt(wk, x, y)) return FRLE_ERR_NOMEM;
      }
      if (s != prev_s) {
        if (x < rx) rx = x;
        else if (x > rx1) rx1 = x;
        if (y < ry) ry = y;
        else if (y > ry1) ry1 = y;
      }
      prev_s = s;
      x += DX[s];
      y += DY[s];
      if (sp ? x4 == x0 && y4 == y0 && x3 == x1 && y3 == y1 : i4 == i0 && i3 == i1) break;
      x3 = x4;
      y3 = y4;
      i3 = i4;
      s = (s + 4) & 7;
    }
  }
  nd->np = wk->npts - nd->p0;
  nd->bx = rx;
  nd->by = ry;
  nd->bw = rx1 - rx + 1;
  nd->bh = ry1 - ry + 1;
  return FRLE_OK;
}

static int follow(cworker *wk, plane *c, int32_t x, int32_t y, int8_t nbd, int hole, int direct, cnode *nd) {
  if (c->sparse) return follow_in(wk, c, x, y, nbd, hole, direct, nd, 1);
  return follow_in(wk, c, x, y, nbd, hole, direct, nd, 0);
}

/* 1 when following the border that starts at (x0, y0) reaches (sx, sy) as
 * the last border met there in the raster scan (cv2's test for a hole's
 * parent among borders that share a mark). */
static FRLE_FORCE_INLINE int reaches_in(plane *c, int32_t x0, int32_t y0, int32_t sx, int32_t sy, int hole, int sp) {
  const int64_t i0 = at(c, x0, y0);
  int32_t x1, y1, x3 = x0, y3 = y0, x4 = x0, y4 = y0;
  int64_t i1, i3 = i0, i4 = i0;
  int s_end = hole ? 0 : 4, s = s_end;
  do {
    s = (s - 1) & 7;
    x1 = x0 + DX[s];
    y1 = y0 + DY[s];
    i1 = i0 + c->d[s];
  } while (pget(c, x1, y1, i1, sp) == 0 && s != s_end);
  if (s == s_end) return x3 == sx && y3 == sy;
  for (;;) {
    while (s < 15) {
      ++s;
      x4 = x3 + DX[s & 7];
      y4 = y3 + DY[s & 7];
      i4 = i3 + c->d[s];
      if (pget(c, x4, y4, i4, sp) != 0) break;
    }
    if (x3 == sx && y3 == sy) {
      int t = s;
      if (!(pget(c, x3, y3, i3, sp) & 0x80)) return 1;
      for (;;) {
        t = (t - 1) & 7;
        if (pget(c, x3 + DX[t], y3 + DY[t], i3 + c->d[t], sp) != 0) break;
        if (t == 0) return 1;
      }
    }
    if (sp ? x4 == x0 && y4 == y0 && x3 == x1 && y3 == y1 : i4 == i0 && i3 == i1) break;
    x3 = x4;
    y3 = y4;
    i3 = i4;
    s = (s + 4) & 7;
  }
  return 0;
}

static int reaches(plane *c, int32_t x0, int32_t y0, int32_t sx, int32_t sy, int hole) {
  if (c->sparse) return reaches_in(c, x0, y0, sx, sy, hole, 1);
  return reaches_in(c, x0, y0, sx, sy, hole, 0);
}

/* A pixel of the scan (not the tracer): either store. */
static int8_t pix(const plane *c, int32_t x, int32_t y) { return pget(c, x, y, at(c, x, y), c->sparse); }

static int32_t new_node(cworker *wk) {
  if (!FRLE_GROW(wk->nodes, wk->nodes_cap, wk->nnodes + 1)) return -1;
  cnode *nd = &wk->nodes[wk->nnodes];
  memset(nd, 0, sizeof(*nd));
  nd->parent = nd->first_child = nd->prev = nd->next = nd->ctable_next = -1;
  return (int32_t)wk->nnodes++;
}

static void add_child(cnode *nodes, int32_t parent, int32_t child) {
  cnode *p = &nodes[parent], *ch = &nodes[child];
  if (p->first_child != -1) {
    nodes[p->first_child].prev = child;
    ch->next = p->first_child;
  }
  p->first_child = child;
  ch->parent = parent;
  ch->prev = -1;
}

typedef struct {
  int mode, direct;
  int8_t nbd;
  int32_t ctable[128];
} scan_state;

/* A border starts at (x, y) (a hole's at x - 1); lx is the LNBD column. */
static int start_border(cworker *wk, plane *c, scan_state *st, int32_t x, int32_t y, int32_t lx, int hole) {
  int32_t parent = 0, k;
  int simple = st->mode == FRLE_CONTOUR_EXTERNAL;
  int8_t mark = 2;
  int rc;

  if (!simple && hole && lx > 0) {
    int lval = pix(c, lx, y) & 0x7F;
    int32_t res = -1, cur = st->ctable[lval];
    while (cur != -1) {
      const cnode *e = &wk->nodes[cur];
      if (lx - e->bx < e->bw && y - e->by < e->bh) {
        if (res != -1) {
          const cnode *r = &wk->nodes[res];
          if (reaches(c, r->ox, r->oy, lx, y, r->hole)) break;
        }
        res = cur;
      }
      cur = e->ctable_next;
    }
    parent = res < 0 ? 0 : res;
    if (wk->nodes[parent].hole == hole) parent = wk->nodes[parent].parent != -1 ? wk->nodes[parent].parent : 0;
  }
  k = new_node(wk);
  if (k < 0) return FRLE_ERR_NOMEM;
  if (!simple) {
    mark = st->nbd;
    st->nbd = (int8_t)((st->nbd + 1) & 0x7F);
    if (st->nbd == 0) st->nbd = 3;
  }
  wk->nodes[k].hole = hole;
  wk->nodes[k].ox = x - hole;
  wk->nodes[k].oy = y;
  rc = follow(wk, c, x - hole, y, mark, hole, st->direct, &wk->nodes[k]);
  if (rc != FRLE_OK) return rc;
  if (!simple) {
    wk->nodes[k].ctable_next = st->ctable[mark];
    st->ctable[mark] = k;
  }
  add_child(wk->nodes, parent, k);
  return FRLE_OK;
}

/* Pixel outlines. A border keeps the background on its right (the search
 * turns counter-clockwise from the way back), so for a move in direction d
 * the outline passes corner EXIT[d] of the pixel left, the same point as
 * corner ENTRY[d] of the pixel reached. Corners of pixel (x, y), counter-
 * clockwise on screen: 0 (x, y), 1 (x, y+1), 2 (x+1, y+1), 3 (x+1, y), in
 * units where pixel (x, y) spans [x, x+1) x [y, y+1). */
static const int EXIT[8] = {2, 3, 3, 0, 0, 1, 1, 2};
static const int ENTRY[8] = {1, 1, 2, 2, 3, 3, 0, 0};
static const int CX[4] = {0, 0, 1, 1};
static const int CY[4] = {0, 1, 1, 0};

static int dir_of(const int32_t *p, const int32_t *q) { return CODE[(q[1] - p[1] + 1) * 3 + (q[0] - p[0] + 1)]; }

static int put_corner(cworker *wk, int64_t *n, int32_t x, int32_t y) {
  if (2 * *n + 2 > wk->opts_cap && !FRLE_GROW(wk->opts, wk->opts_cap, 2 * *n + 2)) return 0;
  wk->opts[2 * *n] = x;
  wk->opts[2 * *n + 1] = y;
  (*n)++;
  return 1;
}

/* Every ring's points (unit moves) become its pixel outline; simple keeps
 * only the corners where the outline turns. */
static int to_outlines(cworker *wk, int simple) {
  int64_t i, k, n = 0;
  for (i = 1; i < wk->nnodes; i++) {
    cnode *nd = &wk->nodes[i];
    const int32_t *p = wk->pts + 2 * nd->p0;
    int64_t np = nd->np, first = n;
    for (k = 0; k < np; k++) {
      const int32_t *cur = p + 2 * k;
      int a, cnt, j;
      if (np == 1) {
        a = 0;
        cnt = 4;
      } else {
        int din = dir_of(p + 2 * ((k + np - 1) % np), cur), dout = dir_of(cur, p + 2 * ((k + 1) % np));
        a = ENTRY[din];
        cnt = (EXIT[dout] - a) & 3;
        if (cnt == 0 && dout == ((din + 4) & 7)) cnt = 4; /* the tip of a spike: all round */
      }
      for (j = 0; j < cnt; j++) {
        int c = (a + j) & 3;
        if (!put_corner(wk, &n, cur[0] + CX[c], cur[1] + CY[c])) return FRLE_ERR_NOMEM;
      }
    }
    if (simple && n - first > 2) { /* drop corners on a straight line (the outline is rectilinear) */
      int64_t m = n - first, out = first;
      int32_t *q = wk->opts + 2 * first;
      int32_t lx = q[2 * (m - 1)], ly = q[2 * (m - 1) + 1];
      int32_t x0 = q[0], y0 = q[1];
      for (k = 0; k < m; k++) {
        int32_t cx = q[2 * k], cy = q[2 * k + 1];
        int32_t nx = k + 1 < m ? q[2 * k + 2] : x0, ny = k + 1 < m ? q[2 * k + 3] : y0;
        int straight =
          (cx - lx) * (ny - cy) - (cy - ly) * (nx - cx) == 0 && (cx - lx) * (nx - cx) + (cy - ly) * (ny - cy) > 0;
        lx = cx;
        ly = cy;
        if (!straight) {
          wk->opts[2 * out] = cx;
          wk->opts[2 * out + 1] = cy;
          out++;
        }
      }
      n = out;
    }
    nd->p0 = first;
    nd->np = n - first;
  }
  { /* the outlines become the points */
    int32_t *t = wk->pts;
    int64_t tc = wk->pts_cap;
    wk->pts = wk->opts;
    wk->pts_cap = wk->opts_cap;
    wk->opts = t;
    wk->opts_cap = tc;
    wk->npts = n;
  }
  return FRLE_OK;
}

/* The tree in pre-order, children newest first (cv2's output order), into
 * out, with the points moved back to mask coordinates. */
static int emit(cworker *wk, int32_t ox, int32_t oy, frle_rings *out) {
  int64_t k = wk->nnodes, i, r = 0, sp = 0, total = 0;
  int32_t *stack, *map;
  if (!FRLE_GROW(wk->aux, wk->aux_cap, 2 * k + 2)) return FRLE_ERR_NOMEM;
  stack = wk->aux;
  map = wk->aux + k + 1;
  for (i = 1; i < k; i++) total += wk->nodes[i].np;
  out->nrings = k - 1;
  out->off = (int64_t *)malloc((size_t)k * sizeof(int64_t));
  out->xy = (int32_t *)malloc((size_t)(2 * total + 1) * sizeof(int32_t));
  out->hier = (int32_t *)malloc((size_t)(4 * (k - 1) + 1) * sizeof(int32_t));
  if (!out->off || !out->xy || !out->hier) return FRLE_ERR_NOMEM;
  map[0] = -1;
  stack[sp++] = 0;
  int64_t pos = 0;
  out->off[0] = 0;
  while (sp) {
    int32_t idx = stack[--sp], ch;
    const cnode *nd = &wk->nodes[idx];
    if (idx != 0) {
      map[idx] = (int32_t)r;
      for (i = 0; i < nd->np; i++) {
        out->xy[2 * (pos + i)] = wk->pts[2 * (nd->p0 + i)] + ox;
        out->xy[2 * (pos + i) + 1] = wk->pts[2 * (nd->p0 + i) + 1] + oy;
      }
      pos += nd->np;
      out->off[++r] = pos;
    }
    ch = nd->first_child;
    if (ch != -1) {
      while (wk->nodes[ch].next != -1) ch = wk->nodes[ch].next;
      for (; ch != -1; ch = wk->nodes[ch].prev) stack[sp++] = ch;
    }
  }
  /* second walk, same order: the hierarchy rows through map */
  r = 0;
  stack[sp++] = 0;
  while (sp) {
    int32_t idx = stack[--sp], ch;
    const cnode *nd = &wk->nodes[idx];
    if (idx != 0) {
      int32_t *hr = out->hier + 4 * r++;
      hr[0] = nd->next < 0 ? -1 : map[nd->next];
      hr[1] = nd->prev < 0 ? -1 : map[nd->prev];
      hr[2] = nd->first_child < 0 ? -1 : map[nd->first_child];
      hr[3] = nd->parent < 0 ? -1 : map[nd->parent];
    }
    ch = nd->first_child;
    if (ch != -1) {
      while (wk->nodes[ch].next != -1) ch = wk->nodes[ch].next;
      for (; ch != -1; ch = wk->nodes[ch].prev) stack[sp++] = ch;
    }
  }
  return FRLE_OK;
}

/* The store of a mask whose box with its frame is W2 x H2 and whose spans
 * have ntr boundaries: the crop (faster) while it costs at most
 * FRLE_CROP_BYTES, or at most FRLE_CROP_PER_BOUNDARY bytes per boundary of
 * the spans; else the sparse store. */
static int use_crop(int64_t W2, int64_t H2, int64_t ntr) {
  int64_t bytes = W2 * H2;
  return bytes <= FRLE_CROP_BYTES || bytes / FRLE_CROP_PER_BOUNDARY <= ntr;
}

/* The last x in (a, b), a span of row y, where the scan meets a visited
 * pixel that differs from its left neighbour; -1 if none. */
static int32_t lnbd_in_span(const plane *c, int32_t y, int32_t a, int32_t b) {
  int32_t x;
  if (!c->sparse) {
    const int8_t *row = c->img + (int64_t)y * c->step;
    for (x = b - 1; x > a; x--)
      if (row[x] != row[x - 1] && row[x] != 1) return x;
    return -1;
  }
  /* the pieces that cover the span, from its end: inner pieces are all 1 */
  for (int64_t k = piece_of(c, b - 1, y); k >= c->rowp[y] && c->px1[k] > a + 1; k--) {
    if (c->poff[k] < 0) continue;
    const int8_t *m = c->marks + c->poff[k] - c->px0[k]; /* m[x]: pixel x */
    int32_t lo = c->px0[k] > a + 1 ? c->px0[k] : a + 1;
    for (x = c->px1[k] < b ? c->px1[k] - 1 : b - 1; x >= lo; x--) {
      int8_t left;
      if (m[x] == 1) continue;
      if (x > c->px0[k]) left = m[x - 1];
      else left = c->poff[k - 1] < 0 ? 1 : c->marks[c->poff[k - 1] + x - 1 - c->px0[k - 1]];
      if (m[x] != left) return x;
    }
  }
  return -1;
}

/* Cuts row spans into the sparse store's pieces (see the top of the file).
 * Spans of row y are tr[rs[y] .. re[y]) (mask columns, minus xmin - 1 for
 * the box's); rows 0 and H2 - 1 are the empty frame. */
static int build_sparse(cworker *wk, const uint32_t *tr, const int64_t *rs, const int64_t *re, int64_t H2,
                        int64_t xshift, plane *c) {
  int64_t y, np = 0, nm = 0;
  if (!FRLE_GROW(wk->rowp, wk->rowp_cap, H2 + 1) || !FRLE_GROW(wk->finger, wk->finger_cap, H2)) return FRLE_ERR_NOMEM;
  wk->rowp[0] = 0;
  for (y = 0; y < H2; y++) {
    int64_t na, ni = 0, j = 0, k;
    wk->finger[y] = np;
    if (y == 0 || y == H2 - 1 || rs[y] == re[y]) {
      wk->rowp[y + 1] = np;
      continue;
    }
    /* inner pixels: all 8 neighbours foreground, i.e. [x-1, x+1] inside the
     * spans of rows y-1, y and y+1: their intersection, shrunk by 1 */
    na = re[y - 1] - rs[y - 1];
    if (!FRLE_GROW(wk->iv, wk->iv_cap, 2 * (na + re[y] - rs[y] + re[y + 1] - rs[y + 1]) + 4)) return FRLE_ERR_NOMEM;
    if (na && re[y + 1] > rs[y + 1]) {
      const uint32_t *A = tr + rs[y - 1], *B = tr + rs[y], *C = tr + rs[y + 1];
      int64_t nb = re[y] - rs[y], nc = re[y + 1] - rs[y + 1], ia = 0, ib = 0, ic = 0;
      while (ia < na && ib < nb && ic < nc) {
        uint32_t lo = A[ia], hi = A[ia + 1];
        if (B[ib] > lo) lo = B[ib];
        if (C[ic] > lo) lo = C[ic];
        if (B[ib + 1] < hi) hi = B[ib + 1];
        if (C[ic + 1] < hi) hi = C[ic + 1];
        if ((int64_t)hi - (int64_t)lo > 2) {
          wk->iv[2 * ni] = lo + 1;
          wk->iv[2 * ni + 1] = hi - 1;
          ni++;
        }
        /* drop the interval that ends first */
        if (A[ia + 1] == hi) ia += 2;
        else if (B[ib + 1] == hi) ib += 2;
        else ic += 2;
      }
    }
    for (k = rs[y]; k < re[y]; k += 2) {
      uint32_t cur = tr[k], end = tr[k + 1];
      for (;;) {
        uint32_t e0 = j < ni && wk->iv[2 * j] < end ? wk->iv[2 * j] : end;
        int64_t need = np + 2;
        if (!FRLE_GROW(wk->px0, wk->px0_cap, need) || !FRLE_GROW(wk->px1, wk->px1_cap, need) ||
            !FRLE_GROW(wk->poff, wk->poff_cap, need))
          return FRLE_ERR_NOMEM;
        if (e0 > cur) { /* edge pixels */
          wk->px0[np] = (int32_t)(cur - xshift);
          wk->px1[np] = (int32_t)(e0 - xshift);
          wk->poff[np++] = nm;
          nm += e0 - cur;
        }
        if (e0 == end) break;
        wk->px0[np] = (int32_t)(e0 - xshift); /* inner pixels */
        wk->px1[np] = (int32_t)(wk->iv[2 * j + 1] - xshift);
        wk->poff[np++] = -1;
        cur = wk->iv[2 * j + 1];
        j++;
      }
    }
    wk->rowp[y + 1] = np;
  }
  if (!FRLE_GROW(wk->marks, wk->marks_cap, nm + 1)) return FRLE_ERR_NOMEM;
  memset(wk->marks, 1, (size_t)nm);
  c->sparse = 1;
  c->rowp = wk->rowp;
  c->px0 = wk->px0;
  c->px1 = wk->px1;
  c->poff = wk->poff;
  c->marks = wk->marks;
  c->finger = wk->finger;
  c->off_edge = 0;
  return FRLE_OK;
}

static int one_mask(cworker *wk, const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, int mode, int approx,
                    int outline, int store, frle_rings *out) {
  frle_scratch *scr = wk->scr;
  uint64_t y, ylo, yhi, xmin = UINT64_MAX, xmax = 0;
  int64_t start, bw, bh, W2, H2, k;
  scan_state st;
  plane c;
  int rc, crop;

  memset(out, 0, sizeof(*out));
  if (h > INT32_MAX - 2 || w > INT32_MAX - 2) return FRLE_ERR_SIZE;
  rc = frle_row_transitions(cnts, m, h, w, scr);
  if (rc != FRLE_OK) return rc;
  ylo = scr->ylo;
  yhi = scr->yhi;
  for (y = ylo, start = 0; y < yhi; start = scr->row[y], y++) {
    if (start == scr->row[y]) continue;
    if (scr->tr[start] < xmin) xmin = scr->tr[start];
    if (scr->tr[scr->row[y] - 1] > xmax) xmax = scr->tr[scr->row[y] - 1];
  }
  bw = (int64_t)(xmax - xmin);
  bh = (int64_t)(yhi - ylo);
  W2 = bw + 2;
  H2 = bh + 2;
  crop = store == FRLE_STORE_CROP || (store == FRLE_STORE_AUTO && use_crop(W2, H2, ylo == yhi ? 0 : scr->row[yhi - 1]));
again:
  wk->nnodes = 0;
  wk->npts = 0;
  if (new_node(wk) < 0) return FRLE_ERR_NOMEM; /* the root: the frame's hole */
  wk->nodes[0].hole = 1;
  if (ylo == yhi) return emit(wk, 0, 0, out);

  memset(&c, 0, sizeof(c));
  /* row y of the box (1 .. bh) has the spans tr[rs[y] .. re[y]) */
  if (!FRLE_GROW(wk->rs, wk->rs_cap, 2 * H2)) return FRLE_ERR_NOMEM;
  int64_t *rs = wk->rs, *re = wk->rs + H2;
  rs[0] = re[0] = rs[H2 - 1] = re[H2 - 1] = 0;
  for (y = ylo, start = 0; y < yhi; start = scr->row[y], y++) {
    rs[y - ylo + 1] = start;
    re[y - ylo + 1] = scr->row[y];
  }
  if (crop) {
    if (!FRLE_GROW(wk->img, wk->img_cap, W2 * H2)) return FRLE_ERR_NOMEM;
    /* row by row, each byte written once while its row is in cache (a
     * memset of the whole box first, then the spans, passes over big boxes
     * twice: memory traffic that two threads share) */
    for (y = 0; y < (uint64_t)H2; y++) {
      int8_t *line = wk->img + (int64_t)y * W2;
      int64_t at = 0, a, b;
      for (k = rs[y]; k < re[y]; k += 2) {
        a = (int64_t)scr->tr[k] + 1 - (int64_t)xmin;
        b = (int64_t)scr->tr[k + 1] + 1 - (int64_t)xmin;
        memset(line + at, 0, (size_t)(a - at));
        memset(line + a, 1, (size_t)(b - a));
        at = b;
      }
      memset(line + at, 0, (size_t)(W2 - at));
    }
    c.img = wk->img;
    c.step = W2;
    for (k = 0; k < 16; k++) c.d[k] = DX[k & 7] + DY[k & 7] * W2;
  } else if ((rc = build_sparse(wk, scr->tr, rs, re, H2, (int64_t)xmin - 1, &c)) != FRLE_OK) {
    return rc;
  }
  wk->nodes[0].bw = (int32_t)W2;
  wk->nodes[0].bh = (int32_t)H2;
  st.mode = mode;
  st.direct = approx == FRLE_APPROX_NONE || outline;
  st.nbd = 2;
  for (k = 0; k < 128; k++) st.ctable[k] = -1;

  /* The raster scan, span by span (cv2's findNext): a border's start is an
   * unvisited pixel after a 0 (outer) or a 0 after a pixel > 0 (hole); the
   * LNBD column lx is the last place in the row where the scan met a
   * visited pixel that differs from its left neighbour. */
  for (y = 1; y <= (uint64_t)bh; y++) {
    int32_t yy = (int32_t)y, lx = 0, x;
    for (k = rs[y]; k < re[y]; k += 2) {
      int32_t a = (int32_t)(scr->tr[k] - xmin + 1), b = (int32_t)(scr->tr[k + 1] - xmin + 1);
      int8_t last;
      if (pix(&c, a, yy) == 1) {
        if (!(mode == FRLE_CONTOUR_EXTERNAL && pix(&c, lx, yy) > 0)) {
          rc = start_border(wk, &c, &st, a, yy, lx, 0);
          if (rc != FRLE_OK) return rc;
          lx = a;
        }
      } else {
        lx = a;
      }
      x = lnbd_in_span(&c, yy, a, b);
      if (x >= 0) lx = x;
      /* cv2 scans up to its last column: no hole starts after it */
      last = pix(&c, b - 1, yy);
      if (scr->tr[k + 1] < w && last >= 1) {
        if (last != 1) lx = b - 1;
        if (mode != FRLE_CONTOUR_EXTERNAL) {
          rc = start_border(wk, &c, &st, b, yy, lx, 1);
          if (rc != FRLE_OK) return rc;
          lx = b - 1;
        }
      }
    }
  }
  if (c.off_edge) { /* cannot happen (the tracer visits border points only); if it did, the crop is right */
    crop = 1;
    goto again;
  }
  if (outline && (rc = to_outlines(wk, approx == FRLE_APPROX_SIMPLE)) != FRLE_OK) return rc;
  return emit(wk, (int32_t)xmin - 1, (int32_t)ylo - 1, out);
}

void frle_rings_free(frle_rings *r) {
  free(r->xy);
  free(r->off);
  free(r->hier);
  memset(r, 0, sizeof(*r));
}

typedef struct {
  const uint32_t *arena;
  const int64_t *offsets;
  const frle_src *src; /* or the masks' sources, parsed on the threads (arena NULL) */
  const uint64_t *h, *w;
  int mode, approx, outline, store;
  frle_rings *out;
  cworker *wk;
  const int64_t *order; /* masks by falling run count, or NULL: in index order */
  int64_t n, next;      /* the next place in order a thread takes */
  int failed;
  frle_rings_sink sink; /* or NULL: out keeps every mask's rings */
  void *sink_ctx;
  int *done;      /* sink: done[k], the mask at place k is traced (release) */
  int64_t handed; /* sink: places [0, handed) went to the sink */
  int sink_rc;    /* the sink's nonzero return, which stopped the job */
} cjob;

/* Mask i's counts: the table's, whose sum is checked, or its source's: a
 * string parsed (strictly, as the parse) into the worker's buffer, or given
 * counts, whose sum is checked. */
static int mask_counts(const cjob *jb, cworker *wk, int64_t i, const uint32_t **cnts, int64_t *m) {
  uint64_t hw = jb->h[i] * jb->w[i];
  if (jb->src) {
    const frle_src *s = &jb->src[i];
    if (s->str) {
      if (!FRLE_GROW(wk->cnts, wk->cnts_cap, s->len + 1)) return FRLE_ERR_NOMEM;
      *cnts = wk->cnts;
      return frle_parse(s->str, s->len, hw, 1, wk->cnts, m, &wk->err);
    }
    *cnts = s->cnts;
    *m = s->m;
  } else {
    *cnts = jb->arena + jb->offsets[i];
    *m = jb->offsets[i + 1] - jb->offsets[i];
  }
  return frle_check_sum(*cnts, *m, hw, &wk->err);
}

/* Polls of the done flags without one turning up before the caller's
 * thread stops spinning (about 0.1-1 ms). */
#define SPIN_LIMIT ((int64_t)1 << 18)

/* The masks traced so far, in place order up to the first one still being
 * traced, to the sink, each freed after it (the caller's thread only: the
 * sink may take the GIL). Stops the job on the sink's nonzero return. */
static void hand_over(cjob *jb) {
  while (jb->handed < jb->n && !jb->sink_rc && frle_load_acquire(&jb->done[jb->handed])) {
    int64_t i = jb->order ? jb->order[jb->handed] : jb->handed;
    int rc = jb->sink(jb->sink_ctx, i, &jb->out[i]);
    frle_rings_free(&jb->out[i]);
    jb->handed++;
    if (rc) {
      jb->sink_rc = rc;
      frle_store_relaxed(&jb->failed, 1);
    }
  }
}

/* Each thread takes the next mask until none is left, biggest first, so
 * one big mask at the end of a range does not leave the other threads idle
 * (frle_parallel_for's ranges only say how many takers there are). */
static void run_range(void *ctx, int64_t b, int64_t e, int tid) {
  cjob *jb = (cjob *)ctx;
  cworker *wk = &jb->wk[tid];
  (void)b;
  (void)e;
  wk->rc = FRLE_OK;
  if (!wk->scr) wk->scr = frle_scratch_new();
  for (;;) {
    int64_t k = frle_fetch_add64(&jb->next, 1), i, m;
    const uint32_t *cnts;
    int rc;
    if (k >= jb->n || frle_load_relaxed(&jb->failed)) break;
    i = jb->order ? jb->order[k] : k;
    /* each mask's parse or sum check on its thread; a failure is placed in
     * frle_contours (or by the caller's parse) */
    rc = mask_counts(jb, wk, i, &cnts, &m);
    if (rc == FRLE_OK)
      rc = wk->scr
             ? one_mask(wk, cnts, m, jb->h[i], jb->w[i], jb->mode, jb->approx, jb->outline, jb->store, &jb->out[i])
             : FRLE_ERR_NOMEM;
    if (rc != FRLE_OK) {
      frle_rings_free(&jb->out[i]);
      wk->rc = rc;
      wk->bad = i;
      frle_store_relaxed(&jb->failed, 1);
      return;
    }
    if (jb->sink) {
      frle_store_release(&jb->done[k], 1);
      /* range 0 runs on the caller's thread (frle_parallel_for): it hands
       * finished masks over between its own, while the others trace */
      if (tid == 0) hand_over(jb);
    }
  }
  /* every mask is taken: the caller's thread hands the others' over as
   * they finish (each is being traced on a running thread, or failed),
   * awake, rather than after sleeping in the join; for a while only (a
   * thread that waits for a CPU is not helped by one spinning on it), the
   * rest after the join */
  if (jb->sink && tid == 0) {
    int64_t last = jb->handed, idle = 0;
    while (jb->handed < jb->n && !frle_load_relaxed(&jb->failed) && idle < SPIN_LIMIT) {
      hand_over(jb);
      idle = jb->handed == last ? idle + 1 : 0;
      last = jb->handed;
    }
  }
}

typedef struct {
  int64_t m, i;
} by_runs;

static int more_runs_first(const void *a, const void *b) {
  const by_runs *x = (const by_runs *)a, *y = (const by_runs *)b;
  if (x->m != y->m) return x->m > y->m ? -1 : 1;
  return x->i < y->i ? -1 : (x->i > y->i);
}

static int contours_job(const uint32_t *arena, const int64_t *offsets, const frle_src *src, const uint64_t *h,
                        const uint64_t *w, int64_t n, int mode, int approx, int outline, int store, int nthreads,
                        frle_rings *out, frle_rings_sink sink, void *sink_ctx, frle_error *err) {
  cjob jb;
  cworker one;
  int t, nt, rc = FRLE_OK;
  int64_t bad = -1, i;

  if (n <= 0) return FRLE_OK;
  memset(out, 0, (size_t)n * sizeof(*out));
  for (i = 0; i < n; i++) /* points are int32: the lowest index with a side too long */
    if (h[i] > INT32_MAX - 2 || w[i] > INT32_MAX - 2) return frle_fail(err, FRLE_ERR_SIZE, i);
  nt = frle_thread_count(nthreads, n);
  jb.wk = nt > 1 ? (cworker *)calloc((size_t)nt, sizeof(cworker)) : NULL;
  if (!jb.wk) {
    jb.wk = &one;
    nt = 1;
  }
  memset(jb.wk, 0, sizeof(cworker) * (size_t)nt);
  jb.arena = arena;
  jb.offsets = offsets;
  jb.src = src;
  jb.h = h;
  jb.w = w;
  jb.mode = mode;
  jb.approx = approx;
  jb.outline = outline;
  jb.store = store;
  jb.out = out;
  jb.n = n;
  jb.next = 0;
  jb.failed = 0;
  jb.order = NULL;
  jb.sink = sink;
  jb.sink_ctx = sink_ctx;
  jb.handed = 0;
  jb.sink_rc = 0;
  jb.done = sink ? (int *)calloc((size_t)n, sizeof(int)) : NULL;
  if (sink && !jb.done) {
    if (jb.wk != &one) free(jb.wk);
    return frle_fail(err, FRLE_ERR_NOMEM, 0);
  }
  int64_t *order = NULL;
  by_runs *tmp = nt > 1 ? (by_runs *)malloc((size_t)n * sizeof(by_runs)) : NULL;
  if (tmp && (order = (int64_t *)malloc((size_t)n * sizeof(int64_t))) != NULL) {
    for (i = 0; i < n; i++) {
      tmp[i].m = src ? (src[i].str ? src[i].len : src[i].m) : offsets[i + 1] - offsets[i];
      tmp[i].i = i;
    }
    qsort(tmp, (size_t)n, sizeof(by_runs), more_runs_first);
    for (i = 0; i < n; i++) order[i] = tmp[i].i;
    jb.order = order;
  }
  free(tmp);
  frle_parallel_for(n, nt, run_range, &jb);
  if (sink && !jb.failed) hand_over(&jb); /* the rest, all traced now */
  free(order);
  free(jb.done);
  for (t = 0; t < nt; t++) {
    cworker *wk = &jb.wk[t];
    if (wk->rc != FRLE_OK && (bad < 0 || wk->bad < bad)) {
      bad = wk->bad;
      rc = wk->rc;
    }
    frle_scratch_free(wk->scr);
    free(wk->img);
    free(wk->nodes);
    free(wk->pts);
    free(wk->aux);
    free(wk->opts);
    free(wk->rs);
    free(wk->rowp);
    free(wk->finger);
    free(wk->poff);
    free(wk->px0);
    free(wk->px1);
    free(wk->marks);
    free(wk->iv);
    free(wk->cnts);
  }
  if (jb.wk != &one) free(jb.wk);
  if (rc == FRLE_OK && jb.sink_rc) {
    for (i = 0; i < n; i++) frle_rings_free(&out[i]);
    return jb.sink_rc;
  }
  if (rc != FRLE_OK) {
    for (i = 0; i < n; i++) frle_rings_free(&out[i]);
    /* the threads stop at the first failure they see: the lowest mask
     * with a bad sum, if any, is found here, else the failure seen (for
     * sources, the caller's parse finds the lowest) */
    for (i = 0; !src && i < n; i++) {
      int src = frle_check_sum(arena + offsets[i], offsets[i + 1] - offsets[i], h[i] * w[i], err);
      if (src != FRLE_OK) {
        err->code = src;
        err->index = i;
        return src;
      }
    }
    return frle_fail(err, rc, bad);
  }
  return FRLE_OK;
}

int frle_contours(const uint32_t *arena, const int64_t *offsets, const uint64_t *h, const uint64_t *w, int64_t n,
                  int mode, int approx, int outline, int store, int nthreads, frle_rings *out, frle_error *err) {
  return contours_job(arena, offsets, NULL, h, w, n, mode, approx, outline, store, nthreads, out, NULL, NULL, err);
}

int frle_contours_src(const frle_src *src, const uint64_t *h, const uint64_t *w, int64_t n, int mode, int approx,
                      int outline, int store, int nthreads, frle_rings *out, frle_error *err) {
  return contours_job(NULL, NULL, src, h, w, n, mode, approx, outline, store, nthreads, out, NULL, NULL, err);
}

int frle_contours_src_each(const frle_src *src, const uint64_t *h, const uint64_t *w, int64_t n, int mode, int approx,
                           int outline, int store, int nthreads, frle_rings *out, frle_rings_sink sink, void *ctx,
                           frle_error *err) {
  return contours_job(NULL, NULL, src, h, w, n, mode, approx, outline, store, nthreads, out, sink, ctx, err);
}

typedef struct {
  frle_rings *out;
  const int64_t *rbase, *pbase;
  int32_t *xy;
  int64_t *off;
  int32_t *hier;
} pack_job;

static void pack_range(void *ctx, int64_t b, int64_t e, int tid) {
  pack_job *pj = (pack_job *)ctx;
  int64_t i, r;
  (void)tid;
  for (i = b; i < e; i++) {
    frle_rings *o = &pj->out[i];
    int64_t nr = o->nrings, rb = pj->rbase[i], pb = pj->pbase[i];
    if (nr) {
      memcpy(pj->xy + 2 * pb, o->xy, (size_t)(2 * o->off[nr]) * sizeof(int32_t));
      memcpy(pj->hier + 4 * rb, o->hier, (size_t)(4 * nr) * sizeof(int32_t));
      for (r = 0; r < nr; r++) pj->off[rb + r] = pb + o->off[r];
    }
    frle_rings_free(o);
  }
}

void frle_rings_pack(frle_rings *out, int64_t n, const int64_t *rbase, const int64_t *pbase, int32_t *xy, int64_t *off,
                     int32_t *hier, int nthreads) {
  pack_job pj = {out, rbase, pbase, xy, off, hier};
  if (n <= 0) return;
  off[rbase[n]] = pbase[n];
  /* a thread's start (and an idle CPU's wake-up) costs more than copying
   * a few MB: more threads only for big outputs */
  if (pbase[n] < FRLE_PACK_SERIAL_POINTS) nthreads = 1;
  frle_parallel_for(n, nthreads, pack_range, &pj);
}
