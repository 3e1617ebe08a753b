// mode="area" resize for fastrle.gpu (OpenCV's INTER_AREA on 0/1 masks),
// exactly csrc/rle_resize.c's write_area: coverage in exact integers.  With
// a source pixel oh units tall and ow wide, an output cell is h units tall
// and w wide; a foreground pixel adds its overlap with the cell, and the sum
// is divided once: (float)((double)acc * (1.0 / ((double)h * (double)w))).
//
// Same rules as rle_parse.cuh (no #include, builtin types only).  Reads the
// parse kernels' run ends and status words; a mask whose status is not 0
// comes out as zeros.

#define FASTRLE_AREA_FLIP_H 1  // mirror the output's columns
#define FASTRLE_AREA_FLIP_V 2  // mirror the output's rows

// Length of [a0, a1) intersected with [b0, b1) (0 when they do not meet).
__device__ __forceinline__ unsigned long long fastrle_overlap(unsigned long long a0, unsigned long long a1,
                                                              unsigned long long b0, unsigned long long b1)
{
    const unsigned long long lo = a0 > b0 ? a0 : b0, hi = a1 < b1 ? a1 : b1;
    return hi > lo ? hi - lo : 0;
}

// One thread per output pixel: out[m][oy][ox] (float32), rows strided over
// grid.y.  For each source column of the cell, a binary search finds the run
// at the cell's first row, then the foreground runs are walked to its last
// row; the rows s..t-1 of a run overlap the cell by |[s*oh, t*oh) & [oy*h,
// (oy+1)*h)| units (the per-row overlaps tile that interval).
extern "C" __global__ void fastrle_expand_area(const unsigned int* ends, const long long* offs, const long long* meta,
                                               float* out, unsigned int h, unsigned int w, unsigned int oh,
                                               unsigned int ow, unsigned int flags, long long mask_base)
{
    const unsigned long long ox = (unsigned long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (ox >= ow) return;
    const long long m = mask_base + blockIdx.z;
    const bool ok = meta[3 * m] == 0;
    const unsigned int* e = ends + offs[m];
    const unsigned int nr = ok ? (unsigned int)meta[3 * m + 1] : 0u;
    const double inv = 1.0 / ((double)h * (double)w);
    const unsigned long long H = h, W = w, OH = oh, OW = ow;
    const unsigned long long xa = ox * W / OW, xb = ((ox + 1) * W - 1) / OW;
    const unsigned long long oxo = (flags & FASTRLE_AREA_FLIP_H) ? OW - 1 - ox : ox;
    for (unsigned long long oy = blockIdx.y; oy < OH; oy += gridDim.y) {
        const unsigned long long ya = oy * H / OH, yb = ((oy + 1) * H - 1) / OH;
        const unsigned long long ca = oy * H, cb = ca + H;  // the cell's rows, in units
        unsigned long long acc = 0;
        for (unsigned long long x = xa; nr && x <= xb; ++x) {
            const unsigned long long ovx = fastrle_overlap(x * OW, x * OW + OW, ox * W, ox * W + W);
            const unsigned long long p0 = x * H + ya, p1 = x * H + yb + 1;  // the cell's pixels of column x
            unsigned int lo = 0, hi = nr - 1;  // first run k with e[k] > p0
            while (lo < hi) {
                const unsigned int mid = (lo + hi) >> 1;
                if (e[mid] > p0) hi = mid;
                else lo = mid + 1;
            }
            unsigned long long rows = 0;
            for (unsigned int k = lo; k < nr; ++k) {
                const unsigned long long s0 = k ? e[k - 1] : 0u, s1 = e[k];
                if (s0 >= p1) break;
                if (k & 1u) {  // foreground: its rows inside the cell
                    const unsigned long long s = (s0 > p0 ? s0 : p0) - x * H, t = (s1 < p1 ? s1 : p1) - x * H;
                    rows += fastrle_overlap(s * OH, t * OH, ca, cb);
                }
            }
            acc += ovx * rows;
        }
        const unsigned long long oyo = (flags & FASTRLE_AREA_FLIP_V) ? OH - 1 - oy : oy;
        out[(m * OH + oyo) * OW + oxo] = (float)((double)acc * inv);
    }
}
