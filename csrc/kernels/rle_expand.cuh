// Run expansion kernels for fastrle.gpu: run-end tables -> C-order masks.
//
// Same source rules as rle_parse.cuh (no #include, builtin types, __device__
// helpers, extern "C" kernels).  Inputs come from the parse kernels:
// ends[offs[m] ..] and meta[3*m ..] (status, run count).
//
// RLE is column-major but the output is C-order (N,H,W).  Each thread owns
// columns and walks down a band of rows; neighbouring threads own
// neighbouring columns, so every warp store covers a contiguous piece of one
// row and the transpose costs no extra DRAM traffic.  The cursor starts at
// a binary search once per band, then `while (p >= next_end) advance`
// (zero-length runs included) costs one compare per pixel.
//
// Grid: x = column tiles, y = row bands of `band` rows, z = masks
// (mask = mask_base + blockIdx.z; the host chunks batches above 65535).
// Masks with a non-zero status are written as zeros.

#ifndef FASTRLE_COLS
#define FASTRLE_COLS 4  // columns per thread, strided by blockDim.x
#endif

// First k in [0, n) with e[k] > p.  Valid tables end with e[n-1] == h*w > p.
__device__ __forceinline__ unsigned int fastrle_find_run(const unsigned int* e, unsigned int n,
                                                         unsigned int p)
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
__device__ __forceinline__ void fastrle_cursor(const unsigned int* e, unsigned int nr, bool ok,
                                               unsigned int x, unsigned int w, unsigned int h,
                                               unsigned int y0, unsigned int* k,
                                               unsigned int* next)
{
    *k = 0;
    *next = 0xFFFFFFFFu;
    if (ok && x < w) {
        *k = fastrle_find_run(e, nr, x * h + y0);
        *next = e[*k];
    }
}

// uint8 output, out[m][y][x] in {0, 1}.
extern "C" __global__ void fastrle_expand(const unsigned int* ends, const long long* offs,
                                          const long long* meta, unsigned char* out,
                                          unsigned int h, unsigned int w, unsigned int band,
                                          long long mask_base)
{
    const long long m = mask_base + blockIdx.z;
    const unsigned int y0 = blockIdx.y * band;
    if (y0 >= h) return;  // block-uniform
    const unsigned int y1 = (h - y0 < band) ? h : y0 + band;
    const unsigned int* e = ends + offs[m];
    const bool ok = meta[3 * m] == 0;
    const unsigned int nr = (unsigned int)meta[3 * m + 1];
    unsigned char* o = out + m * (long long)h * (long long)w;
    const unsigned int x0 = blockIdx.x * blockDim.x * FASTRLE_COLS + threadIdx.x;

    unsigned int k[FASTRLE_COLS];
    unsigned int next[FASTRLE_COLS];
#pragma unroll
    for (int j = 0; j < FASTRLE_COLS; ++j)
        fastrle_cursor(e, nr, ok, x0 + j * blockDim.x, w, h, y0, &k[j], &next[j]);
    for (unsigned int y = y0; y < y1; ++y) {
        unsigned char* row = o + (long long)y * w;
#pragma unroll
        for (int j = 0; j < FASTRLE_COLS; ++j) {
            const unsigned int x = x0 + j * blockDim.x;
            if (x < w) {
                const unsigned int p = x * h + y;  // < h*w < 2^32
                while (p >= next[j]) next[j] = e[++k[j]];
                row[x] = (unsigned char)(k[j] & 1u);  // bad masks: k stays 0
            }
        }
    }
}

// Bit-packed output in np.packbits order: out[m][y][xb], bit 7 of byte xb is
// column 8*xb.  Each thread owns one byte column (8 pixel columns); padding
// bits past w are zero.
extern "C" __global__ void fastrle_expand_packed(const unsigned int* ends, const long long* offs,
                                                 const long long* meta, unsigned char* out,
                                                 unsigned int h, unsigned int w, unsigned int band,
                                                 long long mask_base)
{
    const long long m = mask_base + blockIdx.z;
    const unsigned int wb = (w + 7u) >> 3;
    const unsigned int xb = blockIdx.x * blockDim.x + threadIdx.x;
    const unsigned int y0 = blockIdx.y * band;
    if (y0 >= h || xb >= wb) return;  // no barriers in this kernel
    const unsigned int y1 = (h - y0 < band) ? h : y0 + band;
    const unsigned int* e = ends + offs[m];
    const bool ok = meta[3 * m] == 0;
    const unsigned int nr = (unsigned int)meta[3 * m + 1];
    unsigned char* o = out + m * (long long)h * (long long)wb;

    unsigned int k[8];
    unsigned int next[8];
#pragma unroll
    for (int j = 0; j < 8; ++j) fastrle_cursor(e, nr, ok, 8u * xb + j, w, h, y0, &k[j], &next[j]);
    for (unsigned int y = y0; y < y1; ++y) {
        unsigned int byte = 0;
#pragma unroll
        for (int j = 0; j < 8; ++j) {
            const unsigned int x = 8u * xb + j;
            if (x < w) {
                const unsigned int p = x * h + y;
                while (p >= next[j]) next[j] = e[++k[j]];
                byte |= (k[j] & 1u) << (7 - j);
            }
        }
        o[(long long)y * wb + xb] = (unsigned char)byte;
    }
}
