/*
 * CPU dispatch: which vector kernel each hot loop uses, decided once per
 * process from the CPU's features (rle_platform.c) and the environment
 * variable FRLE_ISA=scalar|sse41|avx2|avx512|neon, which caps every kernel's
 * level (the parse kernels and the decode's line fill alike), so tests can
 * run each level on one machine. Kernels are picked at run time, never by
 * build flags (no -march).
 */
#ifndef FASTRLE_RLE_DISPATCH_H
#define FASTRLE_RLE_DISPATCH_H

#include "rle_compat.h"

/* Builds with the x86 vector kernels: x86-64 with GCC/Clang (SSE2 on; a
 * build with -mno-sse2 tests the portable fallbacks) or MSVC. */
#if (defined(FRLE_GNUC) && defined(__x86_64__) && defined(__SSE2__)) || (defined(_MSC_VER) && defined(_M_X64))
#define FRLE_X86_KERNELS 1
#endif

/* Builds with the NEON kernels: AArch64, any compiler (NEON is baseline
 * there). -DFRLE_NO_NEON builds the portable fallbacks instead. */
#if defined(FRLE_NEON) && !defined(FRLE_NO_NEON)
#define FRLE_NEON_KERNELS 1
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Kernel levels, in order: a level's kernel runs only where the CPU has its
 * features and FRLE_ISA allows that level. NEON (AArch64) comes last, so an
 * x86 name caps it to scalar and FRLE_ISA=neon caps nothing on x86. */
enum { FRLE_ISA_SCALAR = 0, FRLE_ISA_SSE41 = 1, FRLE_ISA_AVX2 = 2, FRLE_ISA_AVX512 = 3, FRLE_ISA_NEON = 4 };
#define FRLE_ISA_MAX FRLE_ISA_NEON

/* "scalar", "sse41", "avx2", "avx512" or "neon". */
const char *frle_isa_name(int level);

/* The level FRLE_ISA names (read once per process), or FRLE_ISA_MAX
 * when it is unset or names no level. */
int frle_isa_cap(void);

/* Whether this build and CPU run the parse kernel of `level` (> scalar). */
int frle_parse_kernel_ok(int level);

/* The parse kernel in use: the highest level up to frle_isa_cap() that
 * frle_parse_kernel_ok, else FRLE_ISA_SCALAR. */
int frle_parse_level(void);

/* The decode's non-temporal line fill in use: FRLE_ISA_AVX512 (avx512f),
 * FRLE_ISA_AVX2, FRLE_ISA_NEON (AArch64 stnp), or FRLE_ISA_SCALAR for the
 * baseline (SSE2 stores on x86, plain stores elsewhere), capped by
 * frle_isa_cap() too. */
int frle_fill_level(void);

/* The decode's bit-block kernel (64x64 bit transpose and expansion to
 * bytes): FRLE_ISA_AVX512 (avx512f, avx512bw, avx512vbmi and gfni) or
 * FRLE_ISA_SCALAR, capped by frle_isa_cap(). */
int frle_bits_level(void);

/* The byte-compare scans' level (the encode's run-end search): FRLE_ISA_AVX512
 * (avx512bw), FRLE_ISA_AVX2, or FRLE_ISA_SCALAR for the baseline (SSE2 on
 * x86), capped by frle_isa_cap() too. */
int frle_scan_level(void);

/* Whether the scalar loops with variable shifts take their BMI2 copies
 * (shlx, shrx: the bit band's build, merge's toggle words): the CPU has
 * BMI2 and frle_isa_cap() is AVX2 or more (FRLE_ISA=scalar or sse41 keeps
 * the plain copies). */
int frle_use_bmi2(void);

#ifdef __cplusplus
}
#endif
#endif /* FASTRLE_RLE_DISPATCH_H */
