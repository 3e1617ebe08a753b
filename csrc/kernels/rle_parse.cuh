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
// position.  Keep the codes in sync with fastrle/gpu/launch.py.

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
// Most threads per block of either parse kernel (fastrle.gpu.launch.Config's
// parse_block limit).  __launch_bounds__ makes ptxas keep the warp parser's
// registers within what this many threads can get (65536 / 256 = 255, no
// cap in practice: 168 on sm_90, 186 on sm_80), so any allowed block launches.
#define FASTRLE_PARSE_MAX_BLOCK 256

__device__ __forceinline__ void fastrle_write_meta(long long* meta, long long m, long long status, long long nruns,
                                                   long long pos)
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
extern "C" __global__ void __launch_bounds__(FASTRLE_PARSE_MAX_BLOCK)
    fastrle_parse_serial(const unsigned char* chars, const long long* offs, unsigned int* ends, long long* meta,
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
        if (c < 48 || c > 111) {
            fastrle_write_meta(meta, m, FASTRLE_ST_BAD_CHAR, nr, j);
            return;
        }
        c -= 48;
        if (k == FASTRLE_MAX_CHUNKS) {
            fastrle_write_meta(meta, m, FASTRLE_ST_VARINT_LONG, nr, j);
            return;
        }
        x |= (unsigned long long)(c & 0x1f) << (5 * k);
        ++k;
        if (c & 0x20) continue;
        if (c & 0x10) x |= ~0ULL << (5 * k);  // sign-extend
        // pycocotools: cnts[i] += cnts[i-2] only for i > 2.
        long long cnt = (long long)x + (nr > 2 ? prev2 : 0);
        sum += cnt;
        int st = fastrle_count_status(cnt, sum, hw);
        if (st) {
            fastrle_write_meta(meta, m, st, nr, j);
            return;
        }
        out[nr] = (unsigned int)sum;
        prev2 = prev1;
        prev1 = cnt;
        ++nr;
        x = 0;
        k = 0;
    }
    if (k) {
        fastrle_write_meta(meta, m, FASTRLE_ST_TRUNCATED, nr, len);
        return;
    }
    if (sum < hw) {
        fastrle_write_meta(meta, m, FASTRLE_ST_SHORT, nr, len);
        return;
    }
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

// Inclusive warp prefix sum of 32-bit values.
__device__ __forceinline__ unsigned int fastrle_warp_scan32(unsigned int v, int lane)
{
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
        unsigned int t = __shfl_up_sync(0xFFFFFFFFu, v, d);
        if (lane >= d) v += t;
    }
    return v;
}

// v << s for any s (0 past 63): chunk counts of overlong varints can be large.
__device__ __forceinline__ unsigned long long fastrle_shl(unsigned long long v, int s)
{ return s < 64 ? v << s : 0ull; }

#define FASTRLE_PARSE_CPL 16  // characters per lane per step of fastrle_parse_warp

// Warp parser: one warp per mask, 32 x FASTRLE_PARSE_CPL characters per step,
// each lane owning FASTRLE_PARSE_CPL consecutive characters.  The step's
// critical path is three rounds of warp scans over lane aggregates instead
// of one round per 32 characters:
//   1. the varint left open at each lane's start (a segmented scan of the
//      lanes' trailing chunks, reset by any lane holding a terminator) and
//      the index of each lane's first count (scan of terminator counts);
//   2. the two strided delta chains of pycocotools (cnts[m] += cnts[m-2]
//      for m > 2), as scans of the lanes' odd- and even-index sums;
//   3. the running sum (run ends), as a scan of the lanes' count sums.
// In between, each lane walks its own characters serially.  The first error
// in string order wins, exactly as in fastrle_parse_serial.  All arithmetic
// on values that may be garbage (past an error) is unsigned, so it wraps.
// blockDim.x must be a multiple of 32.
extern "C" __global__ void __launch_bounds__(FASTRLE_PARSE_MAX_BLOCK)
    fastrle_parse_warp(const unsigned char* chars, const long long* offs, unsigned int* ends, long long* meta,
                       long long n, unsigned long long hw_u)
{
    const unsigned FULL = 0xFFFFFFFFu;
    const int CPL = FASTRLE_PARSE_CPL;
    const int lane = threadIdx.x & 31;
    const long long m = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    if (m >= n) return;  // warp-uniform
    const long long b = offs[m];
    const long long len = offs[m + 1] - b;
    const long long hw = (long long)hw_u;

    unsigned long long carry_x = 0;     // chunks of the varint open at the step start
    int carry_k = 0;                    // their number
    unsigned long long carry_odd = 0;   // last count at an odd index
    unsigned long long carry_even = 0;  // last count at an even index >= 2
    unsigned long long carry_sum = 0;   // sum of all counts so far
    long long nr = 0;                   // counts finished so far
    // The next step's characters are loaded one step ahead: a lone warp is
    // otherwise idle for a memory round trip per step.
    unsigned int pre[CPL];
#pragma unroll
    for (int i = 0; i < CPL; ++i) {
        const long long j = (long long)lane * CPL + i;
        pre[i] = j < len ? chars[b + j] : 48u;
    }
    for (long long base = 0; base < len; base += 32 * CPL) {
        const long long j0 = base + (long long)lane * CPL;
        // Characters of mine in this step and the next, as small ints.
        const long long r0 = len - j0, r1 = r0 - 32 * CPL;
        const int rem = r0 <= 0 ? 0 : r0 >= CPL ? CPL : (int)r0;
        const int remn = r1 <= 0 ? 0 : r1 >= CPL ? CPL : (int)r1;
        const unsigned char* nextp = chars + b + j0 + 32 * CPL;
        unsigned int v[CPL];
        unsigned int inm = 0, badm = 0, termm = 0;
#pragma unroll
        for (int i = 0; i < CPL; ++i) {
            const bool in = i < rem;
            const unsigned int u = pre[i] - 48u;  // wraps below '0'
            pre[i] = i < remn ? nextp[i] : 48u;
            v[i] = u & 0x3fu;
            const bool bad = in && u > 63u;
            inm |= (unsigned int)in << i;
            badm |= (unsigned int)bad << i;
            termm |= (unsigned int)(in && !bad && !(v[i] & 0x20u)) << i;
        }
        // Round 1a: the varint open at my lane's start.  My aggregate is the
        // chunks after my last terminator (all of mine if I have none).
        const int lastt = termm ? 31 - __clz((int)termm) : -1;
        unsigned long long sval = 0;
        int sk = 0;
#pragma unroll
        for (int i = 0; i < CPL; ++i)
            if (i > lastt && ((inm >> i) & 1u)) {
                // sk <= i: only the 14th to 16th chunks of an open varint shift past
                // 63 bits.  Such a varint is an error before any count uses its
                // value, so those bits are don't-cares: wrap the shift (no UB).
                const int sh = 5 * i < 64 ? 5 * sk : (5 * sk) & 63;
                sval |= (unsigned long long)(v[i] & 0x1fu) << sh;
                ++sk;
            }
        int sr = termm != 0;
#pragma unroll
        for (int d = 1; d < 32; d <<= 1) {  // segmented scan: (left, me) -> me if I reset
            const unsigned long long uval = __shfl_up_sync(FULL, sval, d);
            const int uk = __shfl_up_sync(FULL, sk, d);
            const int ur = __shfl_up_sync(FULL, sr, d);
            if (lane >= d && !sr) {
                sval = uval | fastrle_shl(sval, 5 * uk);
                sk = uk + sk;
                sr = ur;
            }
        }
        unsigned long long xval = __shfl_up_sync(FULL, sval, 1);
        int xk = __shfl_up_sync(FULL, sk, 1);
        int xr = __shfl_up_sync(FULL, sr, 1);
        if (lane == 0) {
            xval = 0;
            xk = 0;
            xr = 0;
        }
        if (!xr) {  // no terminator earlier in this step: the step's carry comes first
            xval = carry_x | fastrle_shl(xval, 5 * carry_k);
            xk = carry_k + xk;
        }
        // Round 1b: index of my first count.
        const unsigned int tcount = __popc(termm);
        const long long mi0 = nr + (long long)(fastrle_warp_scan32(tcount, lane) - tcount);

        // My characters in order: count values (by terminator position) and
        // the first syntax error.
        // Written without branches (selects and predicates): a lane's
        // characters take data-dependent paths that would otherwise diverge.
        unsigned long long xv[CPL];
        int serr = CPL, sst = FASTRLE_ST_OK;
        {
            unsigned long long x = xval;
            int k = xk;
#pragma unroll
            for (int i = 0; i < CPL; ++i) {
                const bool act = ((inm >> i) & 1u) && serr == CPL;
                const bool isbad = act && ((badm >> i) & 1u);
                const bool isovf = act && !isbad && k >= FASTRLE_MAX_CHUNKS;
                sst = isbad ? FASTRLE_ST_BAD_CHAR : isovf ? FASTRLE_ST_VARINT_LONG : sst;
                serr = (isbad || isovf) ? i : serr;
                const bool chunk = act && !isbad && !isovf;  // then k < 12
                const int kk = chunk ? k : 0;
                x |= chunk ? (unsigned long long)(v[i] & 0x1fu) << (5 * kk) : 0ull;
                k += chunk;
                const bool term = chunk && ((termm >> i) & 1u);
                const bool neg = term && (v[i] & 0x10u);
                x |= neg ? ~0ull << (5 * (kk + 1)) : 0ull;  // sign-extend
                xv[i] = term ? x : 0ull;
                x = term ? 0ull : x;
                k = term ? 0 : k;
            }
        }
        const unsigned int valid = termm & ((1u << serr) - 1u);  // counts before the syntax error

        // Round 2: the two delta chains.
        const int p0 = (int)(mi0 & 1);
        const bool big0 = mi0 >= 2;
        unsigned long long s_odd = 0, s_even = 0;
#pragma unroll
        for (int i = 0; i < CPL; ++i) {
            const bool vi = (valid >> i) & 1u;
            const int li = __popc(termm & ((1u << i) - 1u));
            const bool odd = (p0 + li) & 1;
            s_odd += (vi && odd) ? xv[i] : 0ull;
            s_even += (vi && !odd && (big0 || mi0 + li >= 2)) ? xv[i] : 0ull;
        }
        const unsigned long long po = fastrle_warp_scan(s_odd, lane);
        const unsigned long long pe = fastrle_warp_scan(s_even, lane);
        unsigned long long run_odd = carry_odd + po - s_odd, run_even = carry_even + pe - s_even;
        unsigned long long s_cnt = 0;
#pragma unroll
        for (int i = 0; i < CPL; ++i) {  // xv[i] becomes the count
            const bool vi = (valid >> i) & 1u;
            const int li = __popc(termm & ((1u << i) - 1u));
            const bool odd = (p0 + li) & 1;
            const bool even2 = !odd && (big0 || mi0 + li >= 2);
            run_odd += (vi && odd) ? xv[i] : 0ull;
            run_even += (vi && even2) ? xv[i] : 0ull;
            xv[i] = !vi ? 0ull : odd ? run_odd : even2 ? run_even : xv[i];
            s_cnt += xv[i];
        }
        // Round 3: the running sum; count errors in order.
        const unsigned long long ps = fastrle_warp_scan(s_cnt, lane);
        unsigned long long sum = carry_sum + ps - s_cnt;
        unsigned long long endv[CPL];
        bool big = false;  // a count outside [0, 2^32): negative ones wrap to huge
#pragma unroll
        for (int i = 0; i < CPL; ++i) {
            sum += xv[i];  // 0 unless valid
            endv[i] = sum;
            big |= xv[i] > 0xFFFFFFFFull;
        }
        // Counts in [0, 2^32) make the sum non-decreasing, so a lane without a
        // big count and whose last sum is <= h*w has no count error.  Only
        // otherwise are the counts checked one by one, in order.
        int cerr = CPL, cst = FASTRLE_ST_OK;
#ifdef FASTRLE_STEADY_STATE
        if (false)  // SASS accounting build only: valid strings never take this path
#endif
            if (big || (long long)sum > hw) {
#pragma unroll
                for (int i = 0; i < CPL; ++i) {
                    const long long c = (long long)xv[i];
                    const int st = c < 0                     ? FASTRLE_ST_NEGATIVE
                                   : c > 0xFFFFFFFFLL        ? FASTRLE_ST_OVERFLOW
                                   : (long long)endv[i] > hw ? FASTRLE_ST_LONG
                                                             : FASTRLE_ST_OK;
                    const bool hit = ((valid >> i) & 1u) && st != FASTRLE_ST_OK && cerr == CPL;
                    cst = hit ? st : cst;
                    cerr = hit ? i : cerr;
                }
            }
        const int first = cerr < serr ? cerr : serr;  // count errors sit before serr
        const int fst = cerr < serr ? cst : sst;
        const unsigned int emask = __ballot_sync(FULL, first < CPL);
        const int fl = emask ? __ffs((int)emask) - 1 : 32;
        if (lane <= fl) {
            const unsigned int wmask = lane < fl ? valid : (valid & ((1u << first) - 1u));
            unsigned int* const ep = ends + b + mi0;  // my first count's slot
#pragma unroll
            for (int i = 0; i < CPL; ++i)
                if ((wmask >> i) & 1u) ep[__popc(termm & ((1u << i) - 1u))] = (unsigned int)endv[i];
        }
        if (emask) {
            if (lane == fl) fastrle_write_meta(meta, m, fst, mi0 + __popc(valid & ((1u << first) - 1u)), j0 + first);
            return;  // warp-uniform
        }
        nr += (long long)__shfl_sync(FULL, fastrle_warp_scan32(tcount, lane), 31);
        carry_odd += __shfl_sync(FULL, po, 31);
        carry_even += __shfl_sync(FULL, pe, 31);
        carry_sum += __shfl_sync(FULL, ps, 31);
        // The varint open after the step: lane 31's inclusive segment, after the old carry.
        const unsigned long long lval = __shfl_sync(FULL, sval, 31);
        const int lk = __shfl_sync(FULL, sk, 31);
        const int lr = __shfl_sync(FULL, sr, 31);
        if (lr) {
            carry_x = lval;
            carry_k = lk;
        } else {
            carry_x |= fastrle_shl(lval, 5 * carry_k);
            carry_k += lk;
        }
    }
    if (lane == 0) {
        if (carry_k) fastrle_write_meta(meta, m, FASTRLE_ST_TRUNCATED, nr, len);
        else if ((long long)carry_sum < hw) fastrle_write_meta(meta, m, FASTRLE_ST_SHORT, nr, len);
        else fastrle_write_meta(meta, m, FASTRLE_ST_OK, nr, len);
    }
}
