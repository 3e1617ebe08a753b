// COCO RLE encoding kernels for fastrle.gpu.encode.
//
// Same rules as rle_parse.cuh: no #include, builtin types only, every helper
// __device__, kernels extern "C" __global__ (NVRTC, nvcc and the g++
// emulator in tests/cuda_emu/ compile this file unchanged).
//
// Input: n masks of h x w bytes anywhere in memory: pixel (m, y, x) is
// mask[m*sn + y*sh + x*sw] (byte strides, any sign), so C order, Fortran
// order and strided views are read in place.  COCO's run order is column
// major: pixel index p = x*h + y.  A boundary is a pixel that differs from
// the one before it in p order (pixel 0 differs from a virtual 0), by value
// as pycocotools' rleEncode compares, or by zero / nonzero with
// FASTRLE_ENC_NONZERO.  With boundaries B_0 < ... < B_{k-1}, B_{-1} = 0 and
// B_k = h*w, the counts are c_i = B_i - B_{i-1}, i = 0..k (c_0 = 0 when
// pixel 0 is set), and the string is pycocotools' rleToString of them.
//
// The work is split by column: the boundaries of column x are its pixels
// that differ from the pixel above (row 0: from the bottom of column x-1),
// so one thread per segment (a column, or a band of rows of one when the
// batch has few columns) finds them walking down, and adjacent threads read
// adjacent bytes of a C-order mask.
//   1. fastrle_encode_cols   per segment: boundary count and its last three
//                            boundaries (3 and 6 skip segments without any:
//                            most of a mask's columns are empty);
//   2. fastrle_encode_scan   one warp per mask: exclusive scan of (1) over the
//                            segments: each one's first boundary index and
//                            the three boundaries before it; mask totals;
//   3. fastrle_encode_len    per segment: characters of its counts;
//   4. fastrle_encode_sum    one warp per mask: exclusive scan of (3), plus
//                            the last count c_k: the mask's string length;
//   5. fastrle_encode_offs   one warp: string offsets of all masks, and the
//                            last count's characters of each;
//   6. fastrle_encode_write  per segment: the characters of its counts.
// The result, offs[0..n] (int64) followed by the characters, is one buffer,
// so one device-to-host copy fetches it.  Characters at or past `cap` are
// not written (the host sizes `cap`; a short buffer is grown and 5-6 rerun).
//
// Scratch: cols = 4 uint32 per (mask, segment), clen = 1 int64 per (mask,
// segment), mstate = FASTRLE_ENC_MSTRIDE int64 per mask.

#define FASTRLE_ENC_NONZERO 1u
#define FASTRLE_ENC_NONE 0xFFFFFFFFu  // no boundary (p < h*w <= 2^32-1)
#define FASTRLE_ENC_MSTRIDE 5          // k, B_{k-1}, B_{k-2}, B_{k-3}, string length

__device__ __forceinline__ unsigned int fastrle_enc_px(const unsigned char* mask, long long at, unsigned int flags)
{
    const unsigned int v = mask[at];
    return (flags & FASTRLE_ENC_NONZERO) ? (unsigned int)(v != 0) : v;
}

// Characters pycocotools' rleToString writes for count i, given
// b0 = B_i, b1 = B_{i-1}, b2 = B_{i-2}, b3 = B_{i-3} (b1 = 0 for i = 0;
// b2 and b3 are read only for i > 2).  With `s`, they are also written to
// s[pos..] for positions below cap.
__device__ __forceinline__ int fastrle_enc_count(unsigned long long i, long long b0, long long b1, long long b2,
                                                 long long b3, unsigned char* s, long long pos, long long cap)
{
    long long x = b0 - b1;
    if (i > 2) x -= b2 - b3;
    int n = 0;
    for (;;) {
        int c = (int)(x & 0x1f);
        x >>= 5;  // arithmetic: the sign is kept, as pycocotools' long
        const bool more = (c & 0x10) ? x != -1 : x != 0;
        if (more) c |= 0x20;
        if (s && pos + n < cap) s[pos + n] = (unsigned char)(c + 48);
        ++n;
        if (!more) return n;
    }
}

// The boundaries before a segment, as fastrle_encode_scan leaves them:
// index of its first boundary and the (up to) three before it.
struct FastrleEncState {
    unsigned int k, p1, p2, p3;  // p1 is the latest; FASTRLE_ENC_NONE if none
};

// The state after `a` then `b` (associative; identity {0, NONE, NONE, NONE}).
__device__ __forceinline__ FastrleEncState fastrle_enc_combine(FastrleEncState a, FastrleEncState b)
{
    FastrleEncState r;
    r.k = a.k + b.k;
    if (b.k >= 3) {
        r.p1 = b.p1, r.p2 = b.p2, r.p3 = b.p3;
    } else if (b.k == 2) {
        r.p1 = b.p1, r.p2 = b.p2, r.p3 = a.p1;
    } else if (b.k == 1) {
        r.p1 = b.p1, r.p2 = a.p1, r.p3 = a.p2;
    } else {
        r = a;
        r.k = a.k;
    }
    return r;
}

// A segment: rows [y0, y1) of column x of mask m, the part of one thread.
// Columns are cut into nb bands of `rows` rows (nb = 1 unless the batch has
// too few columns to fill the GPU); segment s = x * nb + band, so segments
// are in p order, and of nseg = w * nb per mask.
struct FastrleEncSeg {
    long long m;
    unsigned long long x, y0, y1, s, nseg;
};

// The segment of this thread: mask base + blockIdx.y, and t = blockIdx.x *
// blockDim.x + threadIdx.x with x = t % w, band = t / w (adjacent threads,
// adjacent columns: a warp reads 32 adjacent bytes of a C-order row).
__device__ __forceinline__ bool fastrle_enc_seg(unsigned int h, unsigned int w, unsigned int nb, unsigned int rows,
                                                long long base, FastrleEncSeg* g)
{
    g->m = base + blockIdx.y;
    g->nseg = (unsigned long long)w * nb;
    const unsigned long long t = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= g->nseg) return false;
    g->x = t % w;
    const unsigned long long band = t / w;
    g->y0 = band * rows;
    g->y1 = g->y0 + rows < h ? g->y0 + rows : h;
    g->s = g->x * nb + band;
    return true;
}

// The pixel before the segment's first in p order (0 before pixel 0): the
// one above it, or the bottom of the previous column.
__device__ __forceinline__ unsigned int fastrle_enc_before(const unsigned char* mask, long long sn, long long sh,
                                                           long long sw, unsigned int h, const FastrleEncSeg& g,
                                                           unsigned int flags)
{
    const long long mo = g.m * sn;
    if (g.y0) return fastrle_enc_px(mask, mo + (long long)(g.y0 - 1) * sh + (long long)g.x * sw, flags);
    return g.x ? fastrle_enc_px(mask, mo + (long long)(h - 1) * sh + (long long)(g.x - 1) * sw, flags) : 0u;
}

extern "C" __global__ void fastrle_encode_cols(const unsigned char* mask, unsigned int* cols, long long* clen,
                                               long long sn, long long sh, long long sw, unsigned int h, unsigned int w,
                                               unsigned int nb, unsigned int rows, unsigned int flags, long long base)
{
    FastrleEncSeg g;
    if (!fastrle_enc_seg(h, w, nb, rows, base, &g)) return;
    const long long mo = g.m * sn + (long long)g.x * sw;
    unsigned int prev = fastrle_enc_before(mask, sn, sh, sw, h, g, flags);
    const unsigned long long p0 = g.x * h;
    unsigned int k = 0, p1 = FASTRLE_ENC_NONE, p2 = FASTRLE_ENC_NONE, p3 = FASTRLE_ENC_NONE;
    for (unsigned long long y = g.y0; y < g.y1; ++y) {
        const unsigned int v = fastrle_enc_px(mask, mo + (long long)y * sh, flags);
        if (v != prev) {
            ++k;
            p3 = p2;
            p2 = p1;
            p1 = (unsigned int)(p0 + y);
        }
        prev = v;
    }
    const unsigned long long at = (unsigned long long)g.m * g.nseg + g.s;
    unsigned int* c = cols + 4 * at;
    c[0] = k;
    c[1] = p1;
    c[2] = p2;
    c[3] = p3;
    clen[at] = k;  // a segment without boundaries is not walked again
}

// One warp per mask; blockDim.x a multiple of 32.  Replaces each segment's
// (count, last three) by the state before it, and writes the mask's k and
// last three boundaries to mstate.
extern "C" __global__ void fastrle_encode_scan(unsigned int* cols, long long* mstate, unsigned long long nseg,
                                               long long n)
{
    const unsigned FULL = 0xFFFFFFFFu;
    const int lane = threadIdx.x & 31;
    const long long m = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    if (m >= n) return;  // warp-uniform
    FastrleEncState carry = {0u, FASTRLE_ENC_NONE, FASTRLE_ENC_NONE, FASTRLE_ENC_NONE};
    for (unsigned long long x0 = 0; x0 < nseg; x0 += 32) {
        const unsigned long long x = x0 + lane;
        unsigned int* c = cols + 4 * ((unsigned long long)m * nseg + x);
        FastrleEncState s = {0u, FASTRLE_ENC_NONE, FASTRLE_ENC_NONE, FASTRLE_ENC_NONE};
        if (x < nseg) s = {c[0], c[1], c[2], c[3]};
        for (int d = 1; d < 32; d <<= 1) {  // inclusive scan over the lanes
            FastrleEncState u;
            u.k = __shfl_up_sync(FULL, s.k, d);
            u.p1 = __shfl_up_sync(FULL, s.p1, d);
            u.p2 = __shfl_up_sync(FULL, s.p2, d);
            u.p3 = __shfl_up_sync(FULL, s.p3, d);
            if (lane >= d) s = fastrle_enc_combine(u, s);
        }
        FastrleEncState e;  // exclusive: the lane before me, after the carry
        e.k = __shfl_up_sync(FULL, s.k, 1);
        e.p1 = __shfl_up_sync(FULL, s.p1, 1);
        e.p2 = __shfl_up_sync(FULL, s.p2, 1);
        e.p3 = __shfl_up_sync(FULL, s.p3, 1);
        e = lane ? fastrle_enc_combine(carry, e) : carry;
        if (x < nseg) {
            c[0] = e.k;
            c[1] = e.p1;
            c[2] = e.p2;
            c[3] = e.p3;
        }
        FastrleEncState t;
        t.k = __shfl_sync(FULL, s.k, 31);
        t.p1 = __shfl_sync(FULL, s.p1, 31);
        t.p2 = __shfl_sync(FULL, s.p2, 31);
        t.p3 = __shfl_sync(FULL, s.p3, 31);
        carry = fastrle_enc_combine(carry, t);
    }
    if (lane == 0) {
        long long* ms = mstate + FASTRLE_ENC_MSTRIDE * m;
        ms[0] = carry.k;
        ms[1] = carry.p1 == FASTRLE_ENC_NONE ? 0 : (long long)carry.p1;  // B_{-1} = 0
        ms[2] = carry.p2;
        ms[3] = carry.p3;
    }
}

// Walk a segment: with `s` null, count the characters of its counts, else
// write them from `pos`.  Returns the characters.
__device__ __forceinline__ long long fastrle_enc_walk(const unsigned char* mask, const unsigned int* cols, long long sn,
                                                      long long sh, long long sw, unsigned int h,
                                                      const FastrleEncSeg& g, unsigned int flags, unsigned char* s,
                                                      long long pos, long long cap)
{
    const unsigned int* c = cols + 4 * ((unsigned long long)g.m * g.nseg + g.s);
    unsigned long long i = c[0];  // index of the next boundary
    long long b1 = c[1] == FASTRLE_ENC_NONE ? 0 : (long long)c[1], b2 = c[2], b3 = c[3];
    const long long mo = g.m * sn + (long long)g.x * sw;
    unsigned int prev = fastrle_enc_before(mask, sn, sh, sw, h, g, flags);
    const long long p0 = (long long)(g.x * h);
    long long nc = 0;
    for (unsigned long long y = g.y0; y < g.y1; ++y) {
        const unsigned int v = fastrle_enc_px(mask, mo + (long long)y * sh, flags);
        if (v != prev) {
            const long long b0 = p0 + (long long)y;
            nc += fastrle_enc_count(i, b0, b1, b2, b3, s, pos + nc, cap);
            ++i;
            b3 = b2;
            b2 = b1;
            b1 = b0;
        }
        prev = v;
    }
    return nc;
}

extern "C" __global__ void fastrle_encode_len(const unsigned char* mask, const unsigned int* cols, long long* clen,
                                              long long sn, long long sh, long long sw, unsigned int h, unsigned int w,
                                              unsigned int nb, unsigned int rows, unsigned int flags, long long base)
{
    FastrleEncSeg g;
    if (!fastrle_enc_seg(h, w, nb, rows, base, &g)) return;
    long long* c = clen + (unsigned long long)g.m * g.nseg + g.s;
    if (*c == 0) return;  // no boundaries (fastrle_encode_cols): no characters
    *c = fastrle_enc_walk(mask, cols, sn, sh, sw, h, g, flags, 0, 0, 0);
}

// One warp per mask: clen becomes each segment's exclusive character offset
// in the mask's string; mstate gets the string length, last count included.
extern "C" __global__ void fastrle_encode_sum(long long* clen, long long* mstate, unsigned long long nseg,
                                              unsigned long long hw, long long n)
{
    const unsigned FULL = 0xFFFFFFFFu;
    const int lane = threadIdx.x & 31;
    const long long m = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    if (m >= n) return;  // warp-uniform
    long long carry = 0;
    for (unsigned long long x0 = 0; x0 < nseg; x0 += 32) {
        const unsigned long long x = x0 + lane;
        long long* c = clen + (unsigned long long)m * nseg + x;
        long long v = x < nseg ? *c : 0;
        for (int d = 1; d < 32; d <<= 1) {
            const long long u = __shfl_up_sync(FULL, v, d);
            if (lane >= d) v += u;
        }
        long long e = __shfl_up_sync(FULL, v, 1);
        if (lane == 0) e = 0;
        if (x < nseg) *c = carry + e;
        carry += __shfl_sync(FULL, v, 31);
    }
    if (lane == 0) {
        long long* ms = mstate + FASTRLE_ENC_MSTRIDE * m;
        ms[4] = carry + fastrle_enc_count((unsigned long long)ms[0], (long long)hw, ms[1], ms[2], ms[3], 0, 0, 0);
    }
}

// One warp for the whole batch: offs[m] = start of mask m's string in
// chars (offs[n] the total), and each mask's last count written.
extern "C" __global__ void fastrle_encode_offs(const long long* mstate, long long* offs, unsigned char* chars,
                                               long long cap, unsigned long long hw, long long n)
{
    const unsigned FULL = 0xFFFFFFFFu;
    const int lane = threadIdx.x & 31;
    if (blockIdx.x != 0 || threadIdx.x >= 32) return;
    long long carry = 0;
    for (long long m0 = 0; m0 < n; m0 += 32) {
        const long long m = m0 + lane;
        const long long* ms = mstate + FASTRLE_ENC_MSTRIDE * m;
        long long v = m < n ? ms[4] : 0;
        for (int d = 1; d < 32; d <<= 1) {
            const long long u = __shfl_up_sync(FULL, v, d);
            if (lane >= d) v += u;
        }
        if (m < n) {
            offs[m] = carry + v - ms[4];
            // the last count's characters end the string
            const unsigned long long k = (unsigned long long)ms[0];
            const long long len = fastrle_enc_count(k, (long long)hw, ms[1], ms[2], ms[3], 0, 0, 0);
            fastrle_enc_count(k, (long long)hw, ms[1], ms[2], ms[3], chars, carry + v - len, cap);
        }
        carry += __shfl_sync(FULL, v, 31);
    }
    if (lane == 0) offs[n] = carry;
}

extern "C" __global__ void fastrle_encode_write(const unsigned char* mask, const unsigned int* cols,
                                                const long long* clen, const long long* mstate, const long long* offs,
                                                unsigned char* chars, long long cap, long long sn, long long sh,
                                                long long sw, unsigned int h, unsigned int w, unsigned int nb,
                                                unsigned int rows, unsigned int flags, long long base)
{
    FastrleEncSeg g;
    if (!fastrle_enc_seg(h, w, nb, rows, base, &g)) return;
    const unsigned long long at = (unsigned long long)g.m * g.nseg + g.s;
    const long long next = g.s + 1 < g.nseg ? (long long)cols[4 * (at + 1)] : mstate[FASTRLE_ENC_MSTRIDE * g.m];
    if (next == (long long)cols[4 * at]) return;  // no boundaries: no characters
    fastrle_enc_walk(mask, cols, sn, sh, sw, h, g, flags, chars, offs[g.m] + clen[at], cap);
}
