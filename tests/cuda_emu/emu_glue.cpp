// ctypes entry points for the CPU emulation of fastrle's CUDA kernels.
// Built at test time by tests/cuda_emu/emu.py, which generates the two
// included files: the exact kernel source CuPy compiles, and one trampoline
// per kernel that unpacks cuLaunchKernel-style `void** params`.
#include "cuda_emu.h"

#include "fastrle_kernels.cuh"

struct EmuKernel {
    const char* name;
    void (*fn)(void**);
};

#include "emu_kernels.inc"  // defines kEmuKernels[]

static std::string g_last_error;

extern "C" const char* emu_last_error() { return g_last_error.c_str(); }

// Run `name` over the grid; order 0 = in order, 1 = reversed, 2 = shuffled.
extern "C" int emu_launch(const char* name, unsigned int gx, unsigned int gy, unsigned int gz, unsigned int bx,
                          unsigned int by, unsigned int bz, unsigned long long shared_mem, void** params, int order,
                          unsigned int seed)
{
    g_last_error.clear();
    if (shared_mem != 0) {
        g_last_error = "emulator: dynamic shared memory is not supported";
        return -1;
    }
    for (const EmuKernel& k : kEmuKernels) {
        if (std::strcmp(k.name, name) == 0) {
            dim3 grid{gx, gy, gz}, block{bx, by, bz};
            return cuda_emu::run_grid(grid, block, k.fn, params, order, seed, &g_last_error);
        }
    }
    g_last_error = std::string("emulator: unknown kernel ") + name;
    return -1;
}

// Restrict later launches to blocks with blockIdx.x in [begin, end) (test hook).
extern "C" void emu_set_block_window(unsigned int begin, unsigned int end)
{
    cuda_emu::block_x_begin = begin;
    cuda_emu::block_x_end = end;
}

// The same for blockIdx.y (test hook).
extern "C" void emu_set_block_window_y(unsigned int begin, unsigned int end)
{
    cuda_emu::block_y_begin = begin;
    cuda_emu::block_y_end = end;
}
