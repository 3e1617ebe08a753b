// Run expansion kernels for fastrle.gpu: run-end tables -> C-order masks.
//
// Same source rules as rle_parse.cuh (no #include, builtin types, __device__
// helpers, extern "C" kernels).  Inputs come from the parse kernels:
// ends[offs[m] ..] and meta[3*m ..] (status, run count).
//
// RLE is column-major but the output is C-order (N,H,W).  fastrle_expand
// works on run boundaries, not pixels:
//
// * A warp owns a tile of 32 rows x 32 groups of 4 adjacent columns (lane l
//   owns group g0 + l).  Each lane turns the runs crossing its 4 column
//   segments into four 32-bit row masks, one compare-and-or per run
//   boundary (SA-1B-like masks have far fewer than one per 32 pixels).
// * A 4x4 byte transpose (8 byte permutes) regroups them so that
//   (Q[i] >> k) & 0x01010101 is the 4 output bytes of row 8i+k: 2
//   instructions per row per lane give 4 pixels.
// * Rows start at any address (w and the buffer are arbitrary), so each lane
//   stores the 4-byte ALIGNED word of its row that ends in its group: a
//   funnel shift of its word and its left neighbour's (one shuffle).  Lane 0
//   only supplies the neighbour word, so a tile writes 31 groups (124
//   columns) per row with one coalesced 4-byte store per lane.  In tile 0,
//   lane 0 holds the previous row's last 4 columns, so the word across a
//   row end is whole; tiles at a row end skip it (a lane predicate).  Only a
//   mask's first and last rows are stored byte by byte; interior tiles never
//   test a column.
// * A lane's cursors come from one binary search per band, and walk down the
//   band's rows (bands are long: gpu/launch.py expand_grid); warps whose tile
//   lies past the last column exit at once.
//
// fastrle_expand_packed (identity size) works on words of bits instead:
// see fastrle_expand_packed_words.
//
// Grid: x = tiles (blockDim.x / 32 warps per block), y = row bands of `band`
// rows (a multiple of 32), z = masks (mask = mask_base + blockIdx.z; the
// host chunks batches above 65535).  Masks with a non-zero status are
// written as zeros.

#define FASTRLE_TILE_GROUPS 31  // column groups of 4 a warp tile writes
#define FASTRLE_TILE_ROWS 32
#define FASTRLE_PACKED_WORDS 1    // packed: words of bits, grid y = band * P + class
#define FASTRLE_LANE0_PREV_ROW 1  // tile 0 lane 0: the previous row (read by --gpu-sass)

// e[i] of a run-end table, the address in one IMAD.WIDE.U32 (C's e[i] costs
// ptxas 4 instructions: it adds i to the table's 64-bit offset first).
__device__ __forceinline__ unsigned int fastrle_end(const unsigned int* e, unsigned int i)
{
#ifdef __CUDA_ARCH__
    unsigned int v;
    asm("{ .reg .u64 a; mad.wide.u32 a, %1, 4, %2; ld.global.nc.u32 %0, [a]; }" : "=r"(v) : "r"(i), "l"(e));
    return v;
#else
    return e[i];
#endif
}

// Bits [lo, hi) set; lo < 32, hi <= 32 (empty when lo >= hi): two funnel
// shifts and an and.
__device__ __forceinline__ unsigned int fastrle_span(unsigned int lo, unsigned int hi)
{ return __funnelshift_lc(0xFFFFFFFFu, 0u, hi) & (0xFFFFFFFFu << lo); }

// Row mask of one column segment: bit r = pixel p + r for p + r < lim
// (lim - p <= 32).  The cursor is run k = [st, en); it may end at or before
// p on entry (a band's first slab starts the lane's 4 columns at the run of
// its first column), and is left on the run that reaches lim, ready for the
// next segment.
__device__ __forceinline__ unsigned int fastrle_column_bits(const unsigned int* e, unsigned int* k, unsigned int* st,
                                                            unsigned int* en, unsigned int p, unsigned int lim)
{
    unsigned int bits = 0;
    for (;;) {
        if (*k & 1u) {
            const unsigned int lo = (*st > p ? *st : p) - p;
            const unsigned int c = *en < lim ? *en : lim;
            bits |= fastrle_span(lo, (c > p ? c : p) - p);
        }
        if (*en >= lim) break;
        *st = *en;
        *en = fastrle_end(e, ++*k);
    }
    return bits;
}

// p[i] = v, global memory, the address in one IMAD.WIDE.U32: C's p[i]
// costs ptxas 4-5 instructions here (it splits p back into base and index).
__device__ __forceinline__ void fastrle_store_word(unsigned int* p, unsigned int i, unsigned int v)
{
#ifdef __CUDA_ARCH__
    asm volatile("{ .reg .u64 a; mad.wide.u32 a, %0, 4, %1; st.global.u32 [a], %2; }" ::"r"(i), "l"(p), "r"(v)
                 : "memory");
#else
    p[i] = v;
#endif
}

// Store rows [0, rows) of a slab.  q: the 4 transposed words; o4: the mask's
// output rounded down to 4 bytes; d: byte offset of the slab's row 0 from o4
// (its low 2 bits are the row's phase); g: this lane's column group.  The
// lane writes bytes [4g - ph, 4g + 4 - ph) of each row: the aligned word
// ending in its group, its left neighbour's last ph bytes then its own first
// 4 - ph (one funnel shift).  Lane 0 only supplies the neighbour word.
// MODE 0: interior tile, full slab: no column is tested, offsets fit 32 bits.
// MODE 1: as 0, but the lane writes its word only when ph >= t (t = 4g + 4 -
//   w: the word ends inside the row; the word across a row end is written by
//   the next row's tile 0, whose lane 0 holds this row's last 4 columns), and
//   only rows < rows.
// MODE 2: words clipped to [0, w) byte by byte (64-bit offsets): the mask's
//   first and last row, resized tiles at a row end, huge masks.  With
//   `wrap` (tile 0 with lane 0 on the previous row) a row's word also
//   writes the previous row's tail, except in the mask's row 0 (ys + r).
template <int MODE>
__device__ __forceinline__ void fastrle_store_rows(const unsigned int* q, unsigned int* o4, unsigned long long d,
                                                   unsigned int w, long long g, int t, int lane, int rows, bool wrap,
                                                   unsigned int ys)
{
    unsigned int* const lanew = o4 + (g > 0 ? g : 0);
    unsigned int d32 = (unsigned int)d;
    // Funnel shifts use their amount mod 32, so 8 * offset (mod 2^32) gives
    // 8 * phase for free: one add per row instead of an and and a shift.
    unsigned int d8 = 8u * d32;
    const unsigned int w8 = 8u * w;
#pragma unroll
    for (int r = 0; r < FASTRLE_TILE_ROWS; ++r) {
        if (r >= rows) break;  // rows == 32 is a constant on the hot path
        const unsigned int word = (q[r >> 3] >> (r & 7)) & 0x01010101u;
        const unsigned int left = __shfl_up_sync(0xFFFFFFFFu, word, 1);
        if (MODE != 2) {
            // (word:left << 8ph) >> 32: left's last ph bytes, then word's first 4 - ph.
            const unsigned int v = __funnelshift_l(left, word, d8);
            if (lane && (MODE == 0 || (int)(d32 & 3u) >= t)) fastrle_store_word(lanew, d32 >> 2, v);
            d32 += w;
            d8 += w8;
        } else {
            const unsigned int ph = (unsigned int)d & 3u;
            const unsigned int v = __funnelshift_l(left, word, 8u * ph);
            unsigned char* row = (unsigned char*)o4 + d;  // column 0 of the row
            const long long c = 4 * g - (long long)ph;   // first column of the word
            const long long cmin = wrap && ys + (unsigned int)r != 0u ? -4 : 0;
            if (lane && c >= cmin && c + 4 <= (long long)w) {
                *(unsigned int*)(row + c) = v;
            } else if (lane) {
#pragma unroll
                for (int b = 0; b < 4; ++b)
                    if (c + b >= cmin && c + b < (long long)w) row[c + b] = (unsigned char)(v >> (8 * b));
            }
            d += w;
        }
    }
}

// Row mask of one column segment of a resized output: bit r is output row
// ys + r (r < rows), whose source row is rmap[ys + r]; the segment covers
// source pixels [p, lim) of the column starting at pixel `base`.  inv[s] is
// the first output row whose source row is >= s, so the source rows [a, b)
// of a run are the output rows [inv[a], inv[b]).  One compare-and-or and two
// table reads per run boundary, as in fastrle_column_bits.
__device__ __forceinline__ unsigned int fastrle_column_bits_mapped(const unsigned int* e, unsigned int* k,
                                                                   unsigned int* st, unsigned int* en, unsigned int p,
                                                                   unsigned int lim, unsigned int base,
                                                                   const unsigned int* inv, unsigned int ys,
                                                                   unsigned int rows)
{
    unsigned int bits = 0;
    for (;;) {
        if (*k & 1u) {
            const unsigned int c = *en < lim ? *en : lim;  // the cursor may start behind p
            const unsigned int sa = (*st > p ? *st : p) - base, sb = (c > p ? c : p) - base;
            if (sa < sb) {
                const unsigned int ya = inv[sa], yb = inv[sb];
                const unsigned int lo = ya > ys ? ya - ys : 0u;
                const unsigned int hi = yb - ys < rows ? yb - ys : rows;  // yb >= ys here
                if (lo < hi) bits |= fastrle_span(lo, hi);
            }
        }
        if (*en >= lim) break;
        *st = *en;
        *en = fastrle_end(e, ++*k);
    }
    return bits;
}

// Cursors of a lane's 4 output columns at output row y0: run k = [st, en)
// and the column's first pixel `base`.  The columns are x0..x0+3; `shift`
// rows up (base - shift: lane 0 of tile 0 holds the previous row's last 4
// columns).  One binary search, for the first column (in source order): all
// 4 start at its run and the first slab's walks bring the others forward
// (they are h pixels apart, a few run boundaries).  MAPPED: output column x reads source column
// cols[x] and output row y source row rows[y]; FLIP: source column ow-1-x.
// Columns outside the output and bad masks are not live (their bits stay 0).
template <bool MAPPED, bool FLIP>
__device__ __forceinline__ void fastrle_cursors4(const unsigned int* e, unsigned int nr, bool ok, long long x0,
                                                 unsigned int shift, unsigned int ow, unsigned int h, unsigned int y0,
                                                 const unsigned int* maps, unsigned int oh, unsigned int* k,
                                                 unsigned int* st, unsigned int* en, bool* live, unsigned int* base)
{
    const unsigned int* rows = maps;     // source row of each output row
    const unsigned int* cols = maps + oh;  // source column of each output column
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        const long long x = x0 + j;
        live[j] = ok && x >= 0 && x < (long long)ow;
        // < h*w < 2^32; FLIP: 0 - 1 for lane0_prev's source column 0 (fastrle_unwrap)
        base[j] = live[j] ? (MAPPED ? cols[x] : FLIP ? ow - 1u - (unsigned int)x : (unsigned int)x) * h - shift : 0u;
    }
    // Number of e[0..nr) that are < p1: the first kk with e[kk] >= p1 (< nr:
    // valid tables end with h*w >= p1), for one past the lane's first pixel
    // (a flip reverses the source columns, so search the smallest).  One past
    // it: a flip's lane0_prev reads pixel -1 of source column 0 in the mask's
    // row 0 (base 2^32 - 1), whose p1 is 0 (kk = 0, never past the table).
    // live[0] is set whenever any is.
    unsigned int kk = 0;
    if (live[0]) {
        unsigned int p1 = base[0] + 1u;
        if (MAPPED || FLIP) {
#pragma unroll
            for (int j = 1; j < 4; ++j)
                if (live[j] && base[j] + 1u < p1) p1 = base[j] + 1u;
        }
        p1 += MAPPED ? rows[y0] : y0;
        unsigned int step = 1;
        while (step <= nr / 2) step <<= 1;  // largest power of two <= nr (nr >= 1)
        for (; step; step >>= 1)
            if (kk + step <= nr && fastrle_end(e, kk + step - 1) < p1) kk += step;
    }
    const unsigned int s0 = live[0] && kk ? fastrle_end(e, kk - 1) : 0u, e0 = live[0] ? fastrle_end(e, kk) : 0u;
#pragma unroll
    for (int j = 0; j < 4; ++j) {  // a column that is not live sits in background run 0, forever
        k[j] = live[j] ? kk : 0u;
        st[j] = live[j] ? s0 : 0u;
        en[j] = live[j] ? e0 : 0xFFFFFFFFu;
    }
}

// A horizontal flip's lane that holds the previous row's tail reads source
// column 0 one row up: in the mask's row 0 that is pixel p = 2^32 - 1, and
// its segment [p, lim) wraps.  That row is never stored, so the segment's
// bits come from its next row on (pixel p + step, bit 0 up to bit 1; lim
// itself when the segment is that one row): a segment that does not wrap.
__device__ __forceinline__ unsigned int fastrle_unwrap(unsigned int p, unsigned int lim, unsigned int step)
{ return p + step < lim ? p + step : lim; }

// The lane's 4 columns over output rows [ys, ys + rows), transposed: byte j
// of q[i] is rows 8i..8i+7 of column 4g+j, so (q[r >> 3] >> (r & 7)) &
// 0x01010101 holds the 4 pixels of row ys + r as bytes.
template <bool MAPPED, bool FLIP>
__device__ __forceinline__ void fastrle_slab4(const unsigned int* e, unsigned int* k, unsigned int* st,
                                              unsigned int* en, const bool* live, const unsigned int* base,
                                              unsigned int ys, int rows, const unsigned int* maps, unsigned int oh,
                                              unsigned int ow, unsigned int* q)
{
    const unsigned int* rmap = maps;          // source row of each output row
    const unsigned int* inv = maps + oh + ow;  // first output row of each source row
    unsigned int b[4];
#pragma unroll
    for (int j = 0; j < 4; ++j) {
        // Columns that are not live sit in run 0 (background) ending at 2^32 - 1: no bits, no walk.
        if (MAPPED) {
            const unsigned int p = base[j] + rmap[ys], lim = base[j] + rmap[ys + rows - 1] + 1u;
            b[j] = fastrle_column_bits_mapped(e, &k[j], &st[j], &en[j], p, lim, base[j], inv, ys, (unsigned int)rows);
        } else {
            const unsigned int p = base[j] + ys, lim = p + (unsigned int)rows;
            // FLIP: only lane0_prev's last column (source column 0) wraps; selects, not a second walk
            const bool wrap = FLIP && j == 3 && lim < p;
            b[j] = fastrle_column_bits(e, &k[j], &st[j], &en[j], wrap ? fastrle_unwrap(p, lim, 1u) : p, lim)
                   << (wrap ? 1 : 0);
        }
    }
    // 4x4 byte transpose (8 byte permutes).
    const unsigned int t0 = __byte_perm(b[0], b[1], 0x5140), t1 = __byte_perm(b[0], b[1], 0x7362);
    const unsigned int t2 = __byte_perm(b[2], b[3], 0x5140), t3 = __byte_perm(b[2], b[3], 0x7362);
    q[0] = __byte_perm(t0, t2, 0x5410);
    q[1] = __byte_perm(t0, t2, 0x7632);
    q[2] = __byte_perm(t1, t3, 0x5410);
    q[3] = __byte_perm(t1, t3, 0x7632);
}

// Mask m's run-end table and run count; false for a malformed mask (its
// output is all zeros).
__device__ __forceinline__ bool fastrle_mask_runs(const unsigned int* ends, const long long* offs,
                                                  const long long* meta, long long m, const unsigned int** e,
                                                  unsigned int* nr)
{
    *e = ends + offs[m];
    *nr = (unsigned int)meta[FASTRLE_META_STRIDE * m + 1];
    return meta[FASTRLE_META_STRIDE * m] == FASTRLE_ST_OK;
}

// End of the band of `band` rows from y0 < oh: min(y0 + band, oh), without
// overflowing 32 bits.
__device__ __forceinline__ unsigned int fastrle_band_end(unsigned int y0, unsigned int band, unsigned int oh)
{ return (oh - y0 < band) ? oh : y0 + band; }

// SASS accounting builds (FASTRLE_STEADY_STATE, fastrle bench --gpu-sass)
// keep one store path of the slab loop: FASTRLE_ACCOUNT_PATH 0 = interior
// tiles' full slabs, 1 = row-end tiles and partial slabs (lane predicates),
// 2 = words clipped bytewise (fastrle_store_rows' MODE).
#if defined(FASTRLE_STEADY_STATE) && !defined(FASTRLE_ACCOUNT_PATH)
#define FASTRLE_ACCOUNT_PATH 0
#endif

// Rows of the slab starting at ys in a band ending at y1.
__device__ __forceinline__ int fastrle_slab_rows(unsigned int ys, unsigned int y1)
{
#ifdef FASTRLE_STEADY_STATE
    return FASTRLE_TILE_ROWS;  // SASS accounting build: full slabs only
#else
    return (y1 - ys < FASTRLE_TILE_ROWS) ? (int)(y1 - ys) : FASTRLE_TILE_ROWS;
#endif
}

// Whether the slab at ys is the band's last.  The slab loops test this at
// their end instead of `ys < y1` at their head: ys + 32 wraps 32 bits when y1
// is within 32 rows of 2^32 (h = 2^32 - 1, w = 1), and the warp would start
// again at row 0, forever.
__device__ __forceinline__ bool fastrle_last_slab(unsigned int ys, unsigned int y1)
{ return y1 - ys <= FASTRLE_TILE_ROWS; }

// Bits of the `flags` argument of the expand kernels (MAP_* in fastrle/gpu/launch.py).
#define FASTRLE_FLAG_PACKED 1     // fastrle_expand_map: packed output
#define FASTRLE_FLAG_LITTLE 2     // packed bit order: first column in bit 0
#define FASTRLE_FLAG_ROWS_DOWN 4  // fastrle_expand_map: walk bands bottom-up (vertical flip)
#define FASTRLE_FLAG_MAPPED 8     // fastrle_expand(_packed): resized through `maps`
#define FASTRLE_FLAG_FLIP_H 16    // fastrle_expand(_packed), identity size: column x is source column w-1-x

// The expand kernels share one argument list.  maps (when
// FASTRLE_FLAG_MAPPED, and always for fastrle_expand_map): source row of each
// of the oh output rows, source column of each of the ow output columns,
// then for each source row s in 0..h the first output row whose source row
// is >= s.  Without the flag, oh == h, ow == w and maps is not read.

template <bool MAPPED, bool FLIP>
__device__ __forceinline__ void fastrle_expand_body(const unsigned int* ends, const long long* offs,
                                                    const long long* meta, unsigned char* out, const unsigned int* maps,
                                                    unsigned int h, unsigned int oh, unsigned int ow, unsigned int band,
                                                    long long mask_base)
{
    const int lane = threadIdx.x & 31;
    const long long tile = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    const long long g0 = tile * FASTRLE_TILE_GROUPS - 1;  // lane 0's group
    const unsigned int y0 = blockIdx.y * band;
    // Idle warps leave at once: the tile's first word starts at 4(g0+1) - phase.
    if (4 * (g0 + 1) - 3 >= (long long)ow || y0 >= oh) return;  // warp-uniform
    const unsigned int y1 = fastrle_band_end(y0, band, oh);
    const long long m = mask_base + blockIdx.z;
    const unsigned int* e;
    unsigned int nr;
    const bool ok = fastrle_mask_runs(ends, offs, meta, m, &e, &nr);
    unsigned char* o = out + m * (long long)oh * (long long)ow;
    unsigned int* o4 = (unsigned int*)(o - ((unsigned long long)o & 3u));  // aligned down
    const unsigned long long ph0 = (unsigned long long)o & 3u;
    const long long g = g0 + lane;
    // Offsets fit 32 bits (MODE 0 and 1), else every slab is clipped bytewise.
    const bool big = (unsigned long long)oh * ow + 4u > 0xFFFFFFFFull;
    const bool first = tile == 0, last = 4 * (g0 + 1 + FASTRLE_TILE_GROUPS) > (long long)ow;  // row start / end
    // Lane 0 of tile 0 holds the previous row's last 4 columns, so the words
    // across row ends are whole (FASTRLE_LANE0_PREV_ROW).
    const bool prev = !MAPPED && !big && ow > 4u;
    const bool lane0_prev = prev && first && lane == 0;
    // Lane writes its word when ph >= t (MODE 1): -1 always, 4 never.
    const long long t64 = 4 * g + 4 - (long long)ow;
    const int t = lane == 0 ? 4 : (int)(t64 < -1 ? -1 : (t64 > 4 ? 4 : t64));
    unsigned int k[4], st[4], en[4], base[4], q[4];
    bool live[4];
    fastrle_cursors4<MAPPED, FLIP>(e, nr, ok, lane0_prev ? (long long)ow - 4 : 4 * g, lane0_prev ? 1u : 0u, ow, h, y0,
                                   maps, oh, k, st, en, live, base);
    for (unsigned int ys = y0;; ys += FASTRLE_TILE_ROWS) {  // y0 < y1; see fastrle_last_slab
        const int rows = fastrle_slab_rows(ys, y1);
        fastrle_slab4<MAPPED, FLIP>(e, k, st, en, live, base, ys, rows, maps, oh, ow, q);
        const unsigned long long d = ph0 + (unsigned long long)ys * ow;
        // Bytewise: the mask's first row in tile 0 (its first word starts
        // before the mask), its last row in the last tile (no next row
        // writes the word across the end), row ends without `prev`.
        int mode = (big || ((first || last) && !prev) || (first && ys == 0) || (last && ys + (unsigned int)rows == oh))
                       ? 2
                   : (last || rows != FASTRLE_TILE_ROWS) ? 1
                                                         : 0;
#ifdef FASTRLE_STEADY_STATE
        mode = FASTRLE_ACCOUNT_PATH;  // SASS accounting builds only (fastrle bench --gpu-sass)
#endif
        if (mode == 0) fastrle_store_rows<0>(q, o4, d, ow, g, t, lane, FASTRLE_TILE_ROWS, false, ys);
        else if (mode == 1) fastrle_store_rows<1>(q, o4, d, ow, g, t, lane, rows, false, ys);
        else fastrle_store_rows<2>(q, o4, d, ow, g, t, lane, rows, prev && first, ys);
        if (fastrle_last_slab(ys, y1)) break;
    }
}

// uint8 output, out[m][y][x] in {0, 1}.  blockDim.x must be a multiple of 32.
extern "C" __global__ void fastrle_expand(const unsigned int* ends, const long long* offs, const long long* meta,
                                          unsigned char* out, const unsigned int* maps, unsigned int h, unsigned int w,
                                          unsigned int oh, unsigned int ow, unsigned int band, unsigned int flags,
                                          long long mask_base)
{
    (void)w;
#ifndef FASTRLE_STEADY_STATE
    if (flags & FASTRLE_FLAG_MAPPED) {
        fastrle_expand_body<true, false>(ends, offs, meta, out, maps, h, oh, ow, band, mask_base);
        return;
    }
    if (flags & FASTRLE_FLAG_FLIP_H) {
        fastrle_expand_body<false, true>(ends, offs, meta, out, maps, h, oh, ow, band, mask_base);
        return;
    }
#endif
    (void)flags;
    fastrle_expand_body<false, false>(ends, offs, meta, out, maps, h, oh, ow, band, mask_base);
}

// Bit-packed output in np.packbits order: out[m][y][xb], bit 7 of byte xb is
// column 8*xb (bit 0 with FASTRLE_FLAG_LITTLE); padding bits past ow are
// zero.  Resized output (FASTRLE_FLAG_MAPPED; the identity size takes
// fastrle_expand_packed_words).  Same slabs as fastrle_expand, but a warp tile is 32 groups = 16
// output bytes per row and needs no realignment: per row, each lane folds
// its 4 pixel bytes into a nibble (one multiply), even lanes take their right
// neighbour's nibble and store one byte, so a warp writes 16 contiguous
// bytes per row.
// Grid: x = tiles of 128 columns (blockDim.x / 32 per block), y = bands of
// `band` rows (a multiple of 32), z = masks.
template <bool MAPPED>
__device__ __forceinline__ void fastrle_expand_packed_body(const unsigned int* ends, const long long* offs,
                                                           const long long* meta, unsigned char* out,
                                                           const unsigned int* maps, unsigned int h, unsigned int oh,
                                                           unsigned int ow, unsigned int band, bool little,
                                                           long long mask_base)
{
    const int lane = threadIdx.x & 31;
    const long long tile = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    // 64-bit: (w + 7) wraps to 0 in 32 bits for w >= 2^32 - 7.
    const unsigned long long wb = ((unsigned long long)ow + 7u) >> 3;
    const unsigned int y0 = blockIdx.y * band;
    if ((unsigned long long)tile * 16u >= wb || y0 >= oh) return;  // warp-uniform
    const unsigned int y1 = fastrle_band_end(y0, band, oh);
    const long long m = mask_base + blockIdx.z;
    const unsigned int* e;
    unsigned int nr;
    const bool ok = fastrle_mask_runs(ends, offs, meta, m, &e, &nr);
    const long long g = tile * 32 + lane;
    const unsigned long long xb = (unsigned long long)g >> 1;
    const bool writer = !(lane & 1) && xb < wb;
    // oh * wb < 2^32 + oh: 64-bit offsets.
    unsigned char* o = out + m * (long long)oh * (long long)wb + (long long)xb;
    // Nibble of the 4 pixel bytes: column 4g in bit 3 (big) or bit 0 (little).
    const unsigned int fold = little ? 0x01020408u : 0x08040201u;
    unsigned int k[4], st[4], en[4], base[4], q[4];
    bool live[4];
    fastrle_cursors4<MAPPED, false>(e, nr, ok, 4 * g, 0u, ow, h, y0, maps, oh, k, st, en, live, base);
    for (unsigned int ys = y0;; ys += FASTRLE_TILE_ROWS) {  // y0 < y1; see fastrle_last_slab
        const int rows = fastrle_slab_rows(ys, y1);
        fastrle_slab4<MAPPED, false>(e, k, st, en, live, base, ys, rows, maps, oh, ow, q);
        unsigned char* row = o + (unsigned long long)ys * wb;
#pragma unroll
        for (int r = 0; r < FASTRLE_TILE_ROWS; ++r) {
            if (r >= rows) break;
            const unsigned int word = (q[r >> 3] >> (r & 7)) & 0x01010101u;
            const unsigned int nib = (word * fold) >> 24;
            const unsigned int right = __shfl_down_sync(0xFFFFFFFFu, nib, 1);
            if (writer) *row = (unsigned char)(little ? nib | (right << 4) : (nib << 4) | right);
            row += wb;
        }
        if (fastrle_last_slab(ys, y1)) break;
    }
}

// (a & b) | (c & ~b): one LOP3 (ptxas splits the C expression in two).
__device__ __forceinline__ unsigned int fastrle_select(unsigned int a, unsigned int b, unsigned int c)
{
#ifdef __CUDA_ARCH__
    unsigned int r;
    asm("lop3.b32 %0, %1, %2, %3, 0xE2;" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
#else
    return (a & b) | (c & ~b);
#endif
}

// Rows of one phase class: packed row y starts at byte ph0 + y * wb of the
// mask's aligned output, so rows y = c (mod P) share the phase (ph0 + c * wb)
// & 3, with P = 1, 2 or 4 as wb = 0, 2 or odd (mod 4).
__device__ __forceinline__ unsigned int fastrle_packed_period(unsigned long long wb)
{ return (wb & 3u) == 0 ? 1u : (wb & 1u) ? 4u : 2u; }

// Row mask of one column segment, rows P apart: bit r = pixel p + P r
// (r < rows; lim = p + P (rows - 1) + 1; P = 1 << sh).  As
// fastrle_column_bits: one compare-and-or per run boundary, cursor run
// k = [st, en) with en > p on entry, left on the run that reaches lim.
__device__ __forceinline__ unsigned int fastrle_column_bits_strided(const unsigned int* e, unsigned int* k,
                                                                    unsigned int* st, unsigned int* en, unsigned int p,
                                                                    unsigned int lim, unsigned int sh)
{
    const unsigned int pm1 = (1u << sh) - 1u;
    unsigned int bits = 0;
    for (;;) {
        if (*k & 1u) {
            const unsigned int lo = (*st > p ? *st : p) - p;
            const unsigned int hi = (*en < lim ? *en : lim) - p;
            bits |= fastrle_span((lo + pm1) >> sh, (hi + pm1) >> sh);  // ceil: first row at or after
        }
        if (*en >= lim) break;
        *st = *en;
        *en = fastrle_end(e, ++*k);
    }
    return bits;
}

// Number of e[0..n) that are <= p, i.e. the first k with e[k] > p, for 4
// columns at once (their loads overlap instead of forming 4 dependent
// chains).  Valid tables end with e[n-1] == h*w > p, so k < n.  Compared
// as e[k] < p + 1: p = 2^32 - 1 (fastrle_unwrap) gives k = 0.
__device__ __forceinline__ void fastrle_find_runs4(const unsigned int* e, unsigned int n, const unsigned int* p,
                                                   unsigned int* k)
{
    unsigned int step = 1;
    while (step <= n / 2) step <<= 1;  // largest power of two <= n (n >= 1)
#pragma unroll
    for (int j = 0; j < 4; ++j) k[j] = 0;
    for (; step; step >>= 1) {
#pragma unroll
        for (int j = 0; j < 4; ++j)
            if (k[j] + step <= n && fastrle_end(e, k[j] + step - 1) < p[j] + 1u) k[j] += step;
    }
}

// Bit-packed output, identity size: words of bits.  A warp owns 4 aligned
// 32-bit output words (16 bytes) of every row of one phase class
// (fastrle_packed_period) in a band: word a of a row is bytes
// [4a - ph, 4a - ph + 4) of the row, and lane l computes column 8(4a - ph) +
// l of each (bits reversed within each byte for np.packbits' big order)
// over 32 class rows, one compare-and-or per run boundary.  Four 32x32 bit
// transposes across the warp (5 rounds of rotate, shuffle, merge) turn the
// 4 column words into lane r's 4 row words of class row r: 4 aligned stores.
// A word before column 0 holds the previous row's tail (those lanes read the
// previous row: columns + 8 wb, one row up); a word past the row's end is
// the next row's word 0 and is left to it.  Only the mask's first and last
// rows, and rows of fewer than 4 bytes, store bytewise.
// Grid: x = tiles of 4 words (blockDim.x / 32 per block), y = band * P +
// class (bands of `band` rows, a multiple of 32 P), z = masks.  FLIP: column
// x reads source column ow-1-x.
template <bool FLIP>
__device__ __forceinline__ void fastrle_expand_packed_words(const unsigned int* ends, const long long* offs,
                                                            const long long* meta, unsigned char* out, unsigned int h,
                                                            unsigned int oh, unsigned int ow, unsigned int band,
                                                            bool little, long long mask_base)
{
    const int lane = threadIdx.x & 31;
    const long long tile = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    const unsigned long long wb = ((unsigned long long)ow + 7u) >> 3;  // 64-bit: ow + 7 wraps 32 bits
    const unsigned int P = fastrle_packed_period(wb), sh = P == 1u ? 0u : P == 2u ? 1u : 2u;
    const unsigned int cls = blockIdx.y % P, y0 = (blockIdx.y / P) * band;
    if ((unsigned long long)(16 * tile) >= wb + 3u || y0 >= oh) return;  // warp-uniform
    const unsigned int y1 = fastrle_band_end(y0, band, oh);
    if (y1 - y0 <= cls) return;  // no row of this class (bands are multiples of P rows)
    const unsigned int yc0 = y0 + cls;
    const long long m = mask_base + blockIdx.z;
    const unsigned int* e;
    unsigned int nr;
    const bool ok = fastrle_mask_runs(ends, offs, meta, m, &e, &nr);
    unsigned char* o = out + m * (long long)oh * (long long)wb;
    const unsigned long long ph0 = (unsigned long long)o & 3u;
    unsigned char* o4 = o - ph0;  // aligned
    const long long ph = (long long)((ph0 + cls * wb) & 3u);
    const bool wide = wb >= 4u;  // a row's word 0 reaches back one row at most
    // Cursors of the lane's column in each of the 4 words.
    const int col = little ? lane : (lane & ~7) | (7 - (lane & 7));
    unsigned int k[4], st[4], en[4], base[4], q[4], p[4];
    bool live[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        long long x = 8 * (4 * (4 * tile + i) - ph) + col;
        unsigned int shift = 0;
        if (x < 0) {  // the previous row's tail
            x += 8 * (long long)wb;
            shift = 1;
        }
        live[i] = ok && x >= 0 && x < (long long)ow && (wide || !shift);
        const unsigned int sx = FLIP ? ow - 1u - (unsigned int)x : (unsigned int)x;
        base[i] = live[i] ? sx * h - shift : 0u;  // no wrap (x >= 8 when shift) but FLIP's: fastrle_unwrap
        p[i] = base[i] + yc0;
    }
    if (ok) fastrle_find_runs4(e, nr, p, k);
#pragma unroll
    for (int i = 0; i < 4; ++i) {  // a column that is not live sits in background run 0, forever
        st[i] = live[i] && k[i] ? fastrle_end(e, k[i] - 1) : 0u;
        en[i] = live[i] ? fastrle_end(e, k[i]) : 0xFFFFFFFFu;
        k[i] = live[i] ? k[i] : 0u;
    }
    // Transpose rounds: rotate by s towards the partner, swap, keep half.
    unsigned int rot[5], keep[5];
#pragma unroll
    for (int b = 0; b < 5; ++b) {
        const int s = 16 >> b;
        const unsigned int mlo = b == 0   ? 0x0000FFFFu
                                 : b == 1 ? 0x00FF00FFu
                                 : b == 2 ? 0x0F0F0F0Fu
                                 : b == 3 ? 0x33333333u
                                          : 0x55555555u;
        rot[b] = (lane & s) ? (unsigned int)s : 32u - (unsigned int)s;
        keep[b] = (lane & s) ? ~mlo : mlo;
    }
    // Per word (warp-uniform): first byte in the row (32 bits: wb < 2^29 + 1),
    // whether the fast path stores it whole: inside the row, or holding the
    // previous row's tail (then not in the mask's row 0); a word reaching past
    // the row's end is the next row's word 0.
    const int start0 = 16 * (int)tile - (int)ph;
    bool whole[4], tail[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
        const int s0 = start0 + 4 * i;
        whole[i] = wide && s0 >= 0 && (unsigned long long)(s0 + 4) <= wb;
        tail[i] = wide && s0 < 0;
    }
    for (unsigned int ys = yc0;; ys += FASTRLE_TILE_ROWS * P) {  // ys < y1; wrap-safe end below
#ifdef FASTRLE_STEADY_STATE
        const int rows = FASTRLE_TILE_ROWS;
#else
        const unsigned int left = (y1 - ys + P - 1u) >> sh;  // class rows left, >= 1
        const int rows = left < FASTRLE_TILE_ROWS ? (int)left : FASTRLE_TILE_ROWS;
#endif
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const unsigned int pi = base[i] + ys, lim = pi + ((unsigned int)(rows - 1) << sh) + 1u;
            // FLIP: only tile 0's word 0 holds a previous row's tail, which can wrap
            const bool wrap = FLIP && i == 0 && lim < pi;
            q[i] =
                fastrle_column_bits_strided(e, &k[i], &st[i], &en[i], wrap ? fastrle_unwrap(pi, lim, P) : pi, lim, sh)
                << (wrap ? 1 : 0);
        }
#pragma unroll
        for (int b = 0; b < 5; ++b) {
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                const unsigned int z = __shfl_xor_sync(0xFFFFFFFFu, __funnelshift_l(q[i], q[i], rot[b]), 16 >> b);
                q[i] = fastrle_select(q[i], keep[b], z);
            }
        }
        // Lane r now holds row y = ys + P r, words 4 tile .. 4 tile + 3.
        const unsigned int y = ys + ((unsigned int)lane << sh);
        const unsigned long long d = ph0 + (unsigned long long)y * wb - (unsigned long long)ph;  // aligned
        unsigned int* const wp = (unsigned int*)(o4 + d) + 4 * tile;
        const bool valid = lane < rows, top = y == 0u;
#pragma unroll
        for (int i = 0; i < 4; ++i)
            if (valid && (whole[i] || (tail[i] && !top))) wp[i] = q[i];
#if !defined(FASTRLE_STEADY_STATE) || FASTRLE_ACCOUNT_PATH == 2
        // The mask's first and last rows, and rows under 4 bytes: the bytes
        // of the 4 words that lie inside the row.
#if defined(FASTRLE_STEADY_STATE)
        const bool slow = true;  // SASS accounting build of this path
#else
        const bool slow = valid && (top || y == oh - 1u || !wide);
#endif
        if (slow) {
            unsigned char* const bp = (unsigned char*)wp;
#pragma unroll
            for (int i = 0; i < 4; ++i)
#pragma unroll
                for (int c = 0; c < 4; ++c) {
                    const int pos = start0 + 4 * i + c;
                    if (pos >= 0 && (unsigned long long)pos < wb) bp[4 * i + c] = (unsigned char)(q[i] >> (8 * c));
                }
        }
#endif
        if (y1 - ys <= FASTRLE_TILE_ROWS * P) break;  // the class's last slab in the band
    }
}

extern "C" __global__ void fastrle_expand_packed(const unsigned int* ends, const long long* offs, const long long* meta,
                                                 unsigned char* out, const unsigned int* maps, unsigned int h,
                                                 unsigned int w, unsigned int oh, unsigned int ow, unsigned int band,
                                                 unsigned int flags, long long mask_base)
{
    (void)w;
    const bool little = flags & FASTRLE_FLAG_LITTLE;
#ifndef FASTRLE_STEADY_STATE
    if (flags & FASTRLE_FLAG_MAPPED) {  // resized: bytes (fastrle_expand_packed_body), grid y = bands
        fastrle_expand_packed_body<true>(ends, offs, meta, out, maps, h, oh, ow, band, little, mask_base);
        return;
    }
    if (flags & FASTRLE_FLAG_FLIP_H) {
        fastrle_expand_packed_words<true>(ends, offs, meta, out, h, oh, ow, band, little, mask_base);
        return;
    }
#endif
    (void)maps;
    fastrle_expand_packed_words<false>(ends, offs, meta, out, h, oh, ow, band, little, mask_base);
}

// Per-pixel cursor helpers, used by the resize/flip kernel.
// First k in [0, n) with e[k] > p.  Valid tables end with e[n-1] == h*w > p.
__device__ __forceinline__ unsigned int fastrle_find_run(const unsigned int* e, unsigned int n, unsigned int p)
{
    unsigned int lo = 0, hi = n - 1;
    while (lo < hi) {
        unsigned int mid = (lo + hi) >> 1;
        if (e[mid] > p) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

// Cursor of column x at row y0: the run holding pixel (y0, x), and its end.
// Columns outside the mask, or of a bad mask, stay in run 0 ending never.
__device__ __forceinline__ void fastrle_cursor(const unsigned int* e, unsigned int nr, bool ok, unsigned int x,
                                               unsigned int w, unsigned int h, unsigned int y0, unsigned int* k,
                                               unsigned int* next)
{
    *k = 0;
    *next = 0xFFFFFFFFu;
    if (ok && x < w) {
        *k = fastrle_find_run(e, nr, x * h + y0);
        *next = e[*k];
    }
}

// Resized / flipped output (fastrle.gpu.decode(size=, flip=, bitorder=)):
// out[m][y][x] = mask[rows[y]][cols[x]], with maps = rows (oh entries) then
// cols (ow entries), computed on the host exactly as torch's nearest /
// nearest-exact index functions, flips folded in.  Each thread owns one output
// column (flags & 1: one output byte of 8 columns, np.packbits order, bit 7
// first or, with flags & 2, bit 0 first) and walks a band of output rows.
// Source rows are monotone along the output rows, so the band is walked in
// the direction where they do not decrease (flags & 4: bottom-up, for a
// vertical flip) and each column cursor only moves forward after one search.
template <int NC>
__device__ __forceinline__ void fastrle_expand_map_cols(const unsigned int* e, unsigned int nr, bool ok,
                                                        const unsigned int* rows, const unsigned int* cols,
                                                        unsigned int h, unsigned long long ow, unsigned long long x0,
                                                        unsigned int y0, unsigned int y1, bool down, bool little,
                                                        unsigned char* o, unsigned long long pitch,
                                                        unsigned long long xo)
{
    unsigned int base[NC], k[NC], next[NC];
    bool live[NC];
#pragma unroll
    for (int j = 0; j < NC; ++j) {
        live[j] = ok && x0 + j < ow;
        base[j] = live[j] ? cols[x0 + j] * h : 0u;  // < h*w < 2^32
        k[j] = 0;
        next[j] = 0xFFFFFFFFu;
        if (live[j]) {
            k[j] = fastrle_find_run(e, nr, base[j] + rows[down ? y1 - 1 : y0]);
            next[j] = e[k[j]];
        }
    }
    for (unsigned int i = y0; i < y1; ++i) {
        const unsigned int y = down ? y1 - 1 - (i - y0) : i;
        const unsigned int sy = rows[y];
        unsigned int byte = 0;
#pragma unroll
        for (int j = 0; j < NC; ++j) {
            if (live[j]) {
                const unsigned int p = base[j] + sy;
                while (p >= next[j]) next[j] = e[++k[j]];
                byte |= (k[j] & 1u) << (NC == 1 ? 0 : (little ? j : 7 - j));
            }
        }
        o[(unsigned long long)y * pitch + xo] = (unsigned char)byte;
    }
}

extern "C" __global__ void fastrle_expand_map(const unsigned int* ends, const long long* offs, const long long* meta,
                                              unsigned char* out, const unsigned int* maps, unsigned int h,
                                              unsigned int w, unsigned int oh, unsigned int ow, unsigned int band,
                                              unsigned int flags, long long mask_base)
{
    const bool packed = flags & FASTRLE_FLAG_PACKED;
    const unsigned long long pitch = packed ? ((unsigned long long)ow + 7u) >> 3 : ow;
    const unsigned long long xo = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    const unsigned int y0 = blockIdx.y * band;
    if (y0 >= oh || xo >= pitch) return;  // no barriers in this kernel
    (void)w;
    const unsigned int y1 = fastrle_band_end(y0, band, oh);
    const long long m = mask_base + blockIdx.z;
    const unsigned int* e;
    unsigned int nr;
    const bool ok = fastrle_mask_runs(ends, offs, meta, m, &e, &nr);
    unsigned char* o = out + m * (long long)oh * (long long)pitch;
    const unsigned int* rows = maps;
    const unsigned int* cols = maps + oh;
    const bool down = flags & FASTRLE_FLAG_ROWS_DOWN, little = flags & FASTRLE_FLAG_LITTLE;
    if (packed) fastrle_expand_map_cols<8>(e, nr, ok, rows, cols, h, ow, 8u * xo, y0, y1, down, little, o, pitch, xo);
    else fastrle_expand_map_cols<1>(e, nr, ok, rows, cols, h, ow, xo, y0, y1, down, little, o, pitch, xo);
}
