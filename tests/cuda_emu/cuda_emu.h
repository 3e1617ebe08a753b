// Minimal CUDA emulation so fastrle's kernel source runs on the CPU under g++.
//
// Test-only.  The kernels are compiled unchanged; this header supplies the
// CUDA keywords, built-in index variables and the intrinsics they use.
// Every emulated thread is a fiber (makecontext once, then _setjmp/_longjmp),
// so __syncthreads and warp intrinsics become rendezvous points.  The
// scheduler can visit threads (and blocks) in order, reversed or shuffled,
// and reports barriers or warp operations that not every thread reaches.
// It proves logic only: nothing here models memory ordering between blocks,
// coalescing or occupancy.
#pragma once

#include <algorithm>
#include <csetjmp>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <ucontext.h>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline __attribute__((always_inline))
#define __restrict__ __restrict
#define __launch_bounds__(...)  // a register budget for ptxas: nothing to emulate

struct dim3 {
    unsigned int x = 1, y = 1, z = 1;
};

namespace cuda_emu {

enum State { READY, WAIT_BARRIER, WAIT_WARP, DONE };
enum WarpOp { OP_BALLOT = 1, OP_SHFL, OP_SHFL_UP, OP_SHFL_DOWN, OP_SYNCWARP };

struct Fiber {
    jmp_buf ctx;
    ucontext_t uc;
    std::unique_ptr<char[]> stack;
    bool started = false;
    State state = READY;
    unsigned long long wait_gen = 0;
    unsigned int linear = 0;
    dim3 tid;
};

struct Warp {
    unsigned long long gen = 0;
    unsigned int count = 0;
    unsigned int size = 0;
    unsigned int full = 0;  // mask of the lanes that exist
    long long slot[2][32];
    int op[2] = {0, 0};
};

struct Launch {
    dim3 grid, block, bidx;
    unsigned int nthreads = 0;
    void (*fn)(void**) = nullptr;
    void** params = nullptr;
    std::vector<Fiber> fibers;
    std::vector<Warp> warps;
    unsigned long long bar_gen = 0;
    unsigned int bar_count = 0;
    Fiber* cur = nullptr;
    jmp_buf sched;
    std::string error;
};

inline Launch* g = nullptr;
// Test hook: run only blocks with blockIdx.x in [x_begin, x_end) of a grid
// (a grid too large to emulate whole, e.g. a 2^32-wide mask's last columns).
inline unsigned int block_x_begin = 0, block_x_end = 0xFFFFFFFFu;
// ... and with blockIdx.y in [y_begin, y_end) (a 2^32-tall mask's last band).
inline unsigned int block_y_begin = 0, block_y_end = 0xFFFFFFFFu;
constexpr size_t kStackBytes = 128 * 1024;

inline void yield_to_scheduler()
{
    if (!_setjmp(g->cur->ctx)) _longjmp(g->sched, 1);
}

// Record an error and abandon the launch (the fibers are never resumed).
[[noreturn]] inline void fail(const std::string& msg)
{
    if (g->error.empty()) g->error = msg;
    _longjmp(g->sched, 2);
}

inline void fiber_main()
{
    for (;;) {  // one iteration per block this fiber's thread slot runs
        Fiber* f = g->cur;
        g->fn(g->params);
        f->state = DONE;
        yield_to_scheduler();
    }
}

// Returns false when the launch was abandoned because of an error.
inline bool resume(Fiber* f)
{
    g->cur = f;
    int r = _setjmp(g->sched);
    if (r == 0) {
        if (!f->started) {
            f->started = true;
            f->stack.reset(new char[kStackBytes]);
            getcontext(&f->uc);
            f->uc.uc_stack.ss_sp = f->stack.get();
            f->uc.uc_stack.ss_size = kStackBytes;
            f->uc.uc_link = nullptr;
            makecontext(&f->uc, fiber_main, 0);
            setcontext(&f->uc);
        }
        _longjmp(f->ctx, 1);
    }
    return r == 1;
}

inline bool resumable(const Fiber& f)
{
    switch (f.state) {
        case READY: return true;
        case WAIT_BARRIER: return g->bar_gen != f.wait_gen;
        case WAIT_WARP: return g->warps[f.linear / 32].gen != f.wait_gen;
        default: return false;
    }
}

// order: 0 in order, 1 reversed, 2 shuffled (threads within a block and blocks).
inline int run_grid(dim3 grid, dim3 block, void (*fn)(void**), void** params, int order, unsigned int seed,
                    std::string* err)
{
    Launch L;
    L.grid = grid;
    L.block = block;
    L.fn = fn;
    L.params = params;
    L.nthreads = block.x * block.y * block.z;
    if (L.nthreads == 0 || L.nthreads > 1024) {
        *err = "bad block size";
        return -1;
    }
    if (grid.y > 65535 || grid.z > 65535 || grid.x > 0x7FFFFFFFu) {
        *err = "grid exceeds CUDA limits";
        return -1;
    }
    L.fibers = std::vector<Fiber>(L.nthreads);
    for (unsigned int i = 0; i < L.nthreads; ++i) {
        Fiber& f = L.fibers[i];
        f.linear = i;
        f.tid.x = i % block.x;
        f.tid.y = (i / block.x) % block.y;
        f.tid.z = i / (block.x * block.y);
    }
    L.warps.resize((L.nthreads + 31) / 32);
    for (size_t w = 0; w < L.warps.size(); ++w) {
        unsigned int size = L.nthreads - 32 * (unsigned int)w;
        L.warps[w].size = size < 32 ? size : 32;
        L.warps[w].full = size < 32 ? (1u << size) - 1u : 0xFFFFFFFFu;
    }
    std::mt19937 rng(seed);
    const unsigned long long nblocks = (unsigned long long)grid.x * grid.y * grid.z;
    std::vector<unsigned long long> border(nblocks);
    for (unsigned long long i = 0; i < nblocks; ++i) border[i] = i;
    if (order == 1) std::reverse(border.begin(), border.end());
    if (order == 2) std::shuffle(border.begin(), border.end(), rng);
    std::vector<unsigned int> torder(L.nthreads);

    Launch* saved = g;
    g = &L;
    int rc = 0;
    for (unsigned long long bi : border) {
        L.bidx.x = (unsigned int)(bi % grid.x);
        L.bidx.y = (unsigned int)((bi / grid.x) % grid.y);
        L.bidx.z = (unsigned int)(bi / ((unsigned long long)grid.x * grid.y));
        if (L.bidx.x < block_x_begin || L.bidx.x >= block_x_end) continue;
        if (L.bidx.y < block_y_begin || L.bidx.y >= block_y_end) continue;
        for (unsigned int i = 0; i < L.nthreads; ++i) torder[i] = order == 1 ? L.nthreads - 1 - i : i;
        if (order == 2) std::shuffle(torder.begin(), torder.end(), rng);
        for (Fiber& f : L.fibers) f.state = READY;
        for (Warp& w : L.warps) w.count = 0;
        L.bar_count = 0;
        unsigned int done = 0;
        while (done < L.nthreads && rc == 0) {
            bool progress = false;
            for (unsigned int i : torder) {
                Fiber& f = L.fibers[i];
                if (!resumable(f)) continue;
                if (f.state != READY) f.state = READY;
                progress = true;
                if (!resume(&f)) {
                    rc = -1;
                    break;
                }
                if (f.state == DONE) ++done;
            }
            if (rc == 0 && !progress) {
                L.error = "deadlock: a barrier or warp operation was not reached by every thread";
                rc = -1;
            }
        }
        if (rc) break;
    }
    if (rc) *err = L.error;
    g = saved;
    return rc;
}

inline void barrier()
{
    Fiber* f = g->cur;
    unsigned long long gen = g->bar_gen;
    if (++g->bar_count == g->nthreads) {
        g->bar_count = 0;
        ++g->bar_gen;
        return;
    }
    f->state = WAIT_BARRIER;
    f->wait_gen = gen;
    yield_to_scheduler();
}

// Deposit `val`, wait for every lane of the warp, return the lanes' values.
// Two slot buffers: a lane can only reuse one after all lanes passed the
// rendezvous in between, i.e. after all have read it.
inline const long long* warp_exchange(unsigned int mask, long long val, int op)
{
    Fiber* f = g->cur;
    Warp& w = g->warps[f->linear / 32];
    if ((mask & w.full) != w.full) fail("emulator: partial warp masks are not supported");
    unsigned long long gen = w.gen;
    int buf = (int)(gen & 1);
    if (w.count == 0) w.op[buf] = op;
    else if (w.op[buf] != op) fail("emulator: lanes of a warp reached different warp operations");
    w.slot[buf][f->linear % 32] = val;
    if (++w.count == w.size) {
        w.count = 0;
        ++w.gen;
    } else {
        f->state = WAIT_WARP;
        f->wait_gen = gen;
        yield_to_scheduler();
    }
    return w.slot[buf];
}

inline unsigned int lane_id() { return g->cur->linear % 32; }

template <typename T>
inline long long to_slot(T v)
{
    long long s = 0;
    std::memcpy(&s, &v, sizeof(T));
    return s;
}
template <typename T>
inline T from_slot(long long s)
{
    T v;
    std::memcpy(&v, &s, sizeof(T));
    return v;
}

}  // namespace cuda_emu

#define threadIdx (cuda_emu::g->cur->tid)
#define blockIdx (cuda_emu::g->bidx)
#define blockDim (cuda_emu::g->block)
#define gridDim (cuda_emu::g->grid)

inline void __syncthreads() { cuda_emu::barrier(); }
inline void __syncwarp(unsigned int mask = 0xFFFFFFFFu) { cuda_emu::warp_exchange(mask, 0, cuda_emu::OP_SYNCWARP); }

inline unsigned int __ballot_sync(unsigned int mask, int pred)
{
    const long long* s = cuda_emu::warp_exchange(mask, pred != 0, cuda_emu::OP_BALLOT);
    unsigned int r = 0;
    unsigned int n = cuda_emu::g->warps[cuda_emu::g->cur->linear / 32].size;
    for (unsigned int i = 0; i < n; ++i) r |= (s[i] ? 1u : 0u) << i;
    return r & mask;
}

template <typename T>
inline T __shfl_sync(unsigned int mask, T v, int src, int width = 32)
{
    const long long* s = cuda_emu::warp_exchange(mask, cuda_emu::to_slot(v), cuda_emu::OP_SHFL);
    unsigned int lane = cuda_emu::lane_id();
    unsigned int i = (lane & ~(unsigned)(width - 1)) + ((unsigned)src & (unsigned)(width - 1));
    if (i >= cuda_emu::g->warps[cuda_emu::g->cur->linear / 32].size) i = lane;
    return cuda_emu::from_slot<T>(s[i]);
}

template <typename T>
inline T __shfl_xor_sync(unsigned int mask, T v, int lane_mask, int width = 32)
{
    const long long* s = cuda_emu::warp_exchange(mask, cuda_emu::to_slot(v), cuda_emu::OP_SHFL);
    unsigned int lane = cuda_emu::lane_id();
    unsigned int i = lane ^ ((unsigned)lane_mask & (unsigned)(width - 1));
    if (i >= cuda_emu::g->warps[cuda_emu::g->cur->linear / 32].size) i = lane;
    return cuda_emu::from_slot<T>(s[i]);
}

template <typename T>
inline T __shfl_up_sync(unsigned int mask, T v, unsigned int d, int width = 32)
{
    const long long* s = cuda_emu::warp_exchange(mask, cuda_emu::to_slot(v), cuda_emu::OP_SHFL_UP);
    unsigned int lane = cuda_emu::lane_id();
    unsigned int sub = lane & (unsigned)(width - 1);
    return sub >= d ? cuda_emu::from_slot<T>(s[lane - d]) : v;
}

template <typename T>
inline T __shfl_down_sync(unsigned int mask, T v, unsigned int d, int width = 32)
{
    const long long* s = cuda_emu::warp_exchange(mask, cuda_emu::to_slot(v), cuda_emu::OP_SHFL_DOWN);
    unsigned int lane = cuda_emu::lane_id();
    unsigned int sub = lane & (unsigned)(width - 1);
    unsigned int n = cuda_emu::g->warps[cuda_emu::g->cur->linear / 32].size;
    return (sub + d < (unsigned)width && lane + d < n) ? cuda_emu::from_slot<T>(s[lane + d]) : v;
}

inline int __popc(unsigned int x) { return __builtin_popcount(x); }
inline int __clz(int x) { return x ? __builtin_clz((unsigned int)x) : 32; }
inline int __ffs(int x) { return __builtin_ffs(x); }

// Byte permute: byte n of the result is byte (s >> 4n) & 7 of the pair y:x.
inline unsigned int __byte_perm(unsigned int x, unsigned int y, unsigned int s)
{
    const unsigned long long v = ((unsigned long long)y << 32) | x;
    unsigned int r = 0;
    for (int n = 0; n < 4; ++n) r |= (unsigned int)((v >> (8 * ((s >> (4 * n)) & 7))) & 0xFF) << (8 * n);
    return r;
}
// Funnel shift right of hi:lo by min(shift, 32).
inline unsigned int __funnelshift_rc(unsigned int lo, unsigned int hi, unsigned int shift)
{
    const unsigned int s = shift < 32 ? shift : 32;
    return (unsigned int)((((unsigned long long)hi << 32) | lo) >> s);
}
// Funnel shift left of hi:lo by min(shift, 32); returns the high word.
inline unsigned int __funnelshift_lc(unsigned int lo, unsigned int hi, unsigned int shift)
{
    const unsigned int s = shift < 32 ? shift : 32;
    return (unsigned int)(((((unsigned long long)hi << 32) | lo) << s) >> 32);
}
// Funnel shift left of hi:lo by shift mod 32; returns the high word.
inline unsigned int __funnelshift_l(unsigned int lo, unsigned int hi, unsigned int shift)
{ return (unsigned int)(((((unsigned long long)hi << 32) | lo) << (shift & 31)) >> 32); }
