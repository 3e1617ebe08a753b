// COCO compressed-RLE parsing kernels for fastrle.gpu.
//
// Rules that keep this file compilable by NVRTC (CuPy), nvcc and g++ with the
// emulation shim in tests/cuda_emu/: no #include, builtin types only, every
// helper __device__, kernels extern "C" __global__.
//
// Input: all `counts` strings concatenated in `chars`, mask m owning
// chars[offs[m] .. offs[m+1]).  Output per mask m:
//   ends[offs[m] + k] = end (exclusive) of run k in column-major pixel order,
//                       so pixel p is in the first run k with ends[k] > p and
//                       its value is k & 1.  A mask has at most as many runs
//                       as characters, so the string offsets double as the
//                       run-table offsets.
//   meta[3*m + 0]     = status (FASTRLE_ST_*), 0 when valid
//   meta[3*m + 1]     = number of runs parsed
//   meta[3*m + 2]     = character offset of the first error (string length
//                       for truncation / short sums)
//
// Validation is strict and stops at the first error in string order, so the
// warp parser and the serial reference parser must agree on status *and*
// position.  Keep the codes in sync with fastrle/_gpu_launch.py.

#define FASTRLE_ST_OK 0
#define FASTRLE_ST_BAD_CHAR 1   // character outside 48..111 (NUL included)
#define FASTRLE_ST_TRUNCATED 2  // string ends inside a varint
#define FASTRLE_ST_NEGATIVE 3   // reconstructed count < 0
#define FASTRLE_ST_OVERFLOW 4   // count >= 2^32
#define FASTRLE_ST_SHORT 5      // counts sum to less than h*w
#define FASTRLE_ST_LONG 6       // counts sum to more than h*w
#define FASTRLE_ST_VARINT_LONG 7  // varint longer than 12 chars

// 12 chunks = 60 bits: any canonical uint32 difference fits, and the shift
// used for sign extension stays below 64.
#define FASTRLE_MAX_CHUNKS 12
#define FASTRLE_META_STRIDE 3

__device__ __forceinline__ void fastrle_write_meta(long long* meta, long long m, long long status,
                                                   long long nruns, long long pos)
{
    meta[FASTRLE_META_STRIDE * m + 0] = status;
    meta[FASTRLE_META_STRIDE * m + 1] = nruns;
    meta[FASTRLE_META_STRIDE * m + 2] = pos;
}

// Status for a finished count, in the order the serial parser checks them.
__device__ __forceinline__ int fastrle_count_status(long long cnt, long long sum, long long hw)
{
    if (cnt < 0) return FASTRLE_ST_NEGATIVE;
    if (cnt > 0xFFFFFFFFLL) return FASTRLE_ST_OVERFLOW;
    if (sum > hw) return FASTRLE_ST_LONG;
    return FASTRLE_ST_OK;
}

// Reference parser: one thread per mask, a direct port of rleFrString with
// strict checks.  Launch with any 1-D block; grid.x * block.x >= n.
extern "C" __global__ void fastrle_parse_serial(const unsigned char* chars, const long long* offs,
                                                unsigned int* ends, long long* meta,
                                                long long n, unsigned long long hw_u)
{
    long long m = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (m >= n) return;
    const long long b = offs[m];
    const long long len = offs[m + 1] - b;
    const long long hw = (long long)hw_u;
    unsigned int* out = ends + b;

    unsigned long long x = 0;
    int k = 0;                      // chunks read in the current varint
    long long nr = 0;               // counts finished
    long long prev1 = 0, prev2 = 0; // cnts[nr-1], cnts[nr-2]
    long long sum = 0;
    for (long long j = 0; j < len; ++j) {
        int c = chars[b + j];
        if (c < 48 || c > 111) { fastrle_write_meta(meta, m, FASTRLE_ST_BAD_CHAR, nr, j); return; }
        c -= 48;
        if (k == FASTRLE_MAX_CHUNKS) { fastrle_write_meta(meta, m, FASTRLE_ST_VARINT_LONG, nr, j); return; }
        x |= (unsigned long long)(c & 0x1f) << (5 * k);
        ++k;
        if (c & 0x20) continue;
        if (c & 0x10) x |= ~0ULL << (5 * k);  // sign-extend
        // pycocotools: cnts[i] += cnts[i-2] only for i > 2.
        long long cnt = (long long)x + (nr > 2 ? prev2 : 0);
        sum += cnt;
        int st = fastrle_count_status(cnt, sum, hw);
        if (st) { fastrle_write_meta(meta, m, st, nr, j); return; }
        out[nr] = (unsigned int)sum;
        prev2 = prev1;
        prev1 = cnt;
        ++nr;
        x = 0;
        k = 0;
    }
    if (k) { fastrle_write_meta(meta, m, FASTRLE_ST_TRUNCATED, nr, len); return; }
    if (sum < hw) { fastrle_write_meta(meta, m, FASTRLE_ST_SHORT, nr, len); return; }
    fastrle_write_meta(meta, m, FASTRLE_ST_OK, nr, len);
}

// Inclusive warp prefix sum (Hillis-Steele over shuffles).  Unsigned, so it
// wraps: lanes after an error may hold garbage, and signed overflow would be
// undefined behaviour.  Callers read only sums of valid lanes.
__device__ __forceinline__ unsigned long long fastrle_warp_scan(unsigned long long v, int lane)
{
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
        unsigned long long t = __shfl_up_sync(0xFFFFFFFFu, v, d);
        if (lane >= d) v += t;
    }
    return v;
}

// Warp parser: one warp per mask, 32 characters per step.  A varint ends at
// every character without the 0x20 bit, so one ballot finds all count
// boundaries in the step; shuffles and prefix sums assemble the values, apply
// the two strided delta chains (odd / even indices) and the running sum.
// Carries hold the varint, chains and sum that continue into the next step.
// blockDim.x must be a multiple of 32.
extern "C" __global__ void fastrle_parse_warp(const unsigned char* chars, const long long* offs,
                                              unsigned int* ends, long long* meta,
                                              long long n, unsigned long long hw_u)
{
    const unsigned FULL = 0xFFFFFFFFu;
    const int lane = threadIdx.x & 31;
    const long long m = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    if (m >= n) return;  // warp-uniform
    const long long b = offs[m];
    const long long len = offs[m + 1] - b;
    const long long hw = (long long)hw_u;
    const unsigned below = (1u << lane) - 1u;  // lanes before this one

    unsigned long long carry_x = 0;  // partial varint carried into this step
    int carry_k = 0;                 // its chunk count
    unsigned long long carry_odd = 0;   // last count at an odd index
    unsigned long long carry_even = 0;  // last count at an even index >= 2
    unsigned long long carry_sum = 0;   // sum of all counts so far
    long long nr = 0;                // counts finished so far
    for (long long base = 0; base < len; base += 32) {
        const long long j = base + lane;
        const bool in = j < len;
        const int c = in ? (int)chars[b + j] : 48;
        const bool bad = in && (c < 48 || c > 111);
        const int v = (c - 48) & 0x3f;
        const bool chunk = in && !bad;
        const bool term = chunk && !(v & 0x20);
        const unsigned tmask = __ballot_sync(FULL, term);
        const unsigned tb = tmask & below;
        const int prev = tb ? 31 - __clz((int)tb) : -1;  // last terminator before me
        const int kpos = lane - prev - 1 + (prev < 0 ? carry_k : 0);
        const bool ovf = chunk && kpos >= FASTRLE_MAX_CHUNKS;

        // Chunks occupy disjoint bits of their varint, so a segmented OR is a
        // difference of (wrapping) prefix sums.
        const unsigned long long contrib = (chunk && !ovf) ? (unsigned long long)(v & 0x1f) << (5 * kpos) : 0;
        const unsigned long long s = fastrle_warp_scan(contrib, lane);
        const unsigned long long s_prev = __shfl_sync(FULL, s, prev < 0 ? 0 : prev);
        unsigned long long x = prev < 0 ? s + carry_x : s - s_prev;
        const unsigned long long partial = x;  // before sign extension, for the carry
        if (term && !ovf && (v & 0x10)) x |= ~0ULL << (5 * (kpos + 1));

        const long long mi = nr + __popc(tb);  // count index of my varint
        // Wrapping (unsigned) arithmetic: past an invalid lane the values are
        // meaningless but must not be undefined behaviour.  Signed views are
        // taken only of values whose lanes precede the first error.
        const unsigned long long po = fastrle_warp_scan((term && (mi & 1)) ? x : 0, lane);
        const unsigned long long pe = fastrle_warp_scan((term && !(mi & 1) && mi >= 2) ? x : 0, lane);
        const long long cnt = (long long)((mi & 1) ? carry_odd + po : (mi == 0 ? x : carry_even + pe));
        const unsigned long long ps = fastrle_warp_scan(term ? (unsigned long long)cnt : 0, lane);
        const long long sum = (long long)(carry_sum + ps);

        int err = FASTRLE_ST_OK;
        if (bad) err = FASTRLE_ST_BAD_CHAR;
        else if (ovf) err = FASTRLE_ST_VARINT_LONG;
        else if (term) err = fastrle_count_status(cnt, sum, hw);
        const unsigned emask = __ballot_sync(FULL, err != FASTRLE_ST_OK);
        const int first_err = emask ? __ffs((int)emask) - 1 : 32;
        if (term && lane < first_err) ends[b + mi] = (unsigned int)sum;
        if (emask) {
            const int st = __shfl_sync(FULL, err, first_err);
            const long long done = nr + __popc(tmask & ((1u << first_err) - 1u));
            if (lane == 0) fastrle_write_meta(meta, m, st, done, base + first_err);
            return;  // warp-uniform
        }

        nr += __popc(tmask);
        carry_odd += __shfl_sync(FULL, po, 31);
        carry_even += __shfl_sync(FULL, pe, 31);
        carry_sum += __shfl_sync(FULL, ps, 31);
        // The varint still open after the last valid lane continues next step.
        const long long rem = len - base;
        const int last = rem < 32 ? (int)rem - 1 : 31;
        const bool last_term = (tmask >> last) & 1u;
        const unsigned long long px = __shfl_sync(FULL, partial, last);
        const int pk = __shfl_sync(FULL, kpos, last);
        carry_x = last_term ? 0 : px;
        carry_k = last_term ? 0 : pk + 1;
    }
    if (lane == 0) {
        if (carry_k) fastrle_write_meta(meta, m, FASTRLE_ST_TRUNCATED, nr, len);
        else if ((long long)carry_sum < hw) fastrle_write_meta(meta, m, FASTRLE_ST_SHORT, nr, len);
        else fastrle_write_meta(meta, m, FASTRLE_ST_OK, nr, len);
    }
}
