/* CPU dispatch: see rle_dispatch.h. */
#include "rle_dispatch.h"

#include <stdlib.h>
#include <string.h>
#include "rle_platform.h"

static const char *const isa_names[] = {"scalar", "sse41", "avx2", "avx512", "neon"};

const char *frle_isa_name(int level) {
  return level >= FRLE_ISA_SCALAR && level <= FRLE_ISA_MAX ? isa_names[level] : "scalar";
}

int frle_parse_kernel_ok(int level) {
#ifdef FRLE_X86_KERNELS
  switch (level) {
    case FRLE_ISA_SSE41: return frle_cpu_has(FRLE_CPU_SSE41 | FRLE_CPU_POPCNT);
    case FRLE_ISA_AVX2: return frle_cpu_has(FRLE_CPU_AVX2 | FRLE_CPU_POPCNT);
    case FRLE_ISA_AVX512:
      return frle_cpu_has(FRLE_CPU_AVX512F | FRLE_CPU_AVX512BW | FRLE_CPU_AVX512VL | FRLE_CPU_AVX512VBMI2 |
                          FRLE_CPU_POPCNT | FRLE_CPU_BMI2);
    default: break;
  }
#endif
#ifdef FRLE_NEON_KERNELS
  if (level == FRLE_ISA_NEON) return frle_cpu_has(FRLE_CPU_NEON);
#endif
  (void)level;
  return 0;
}

static int cap = FRLE_ISA_MAX, parse_level = FRLE_ISA_SCALAR, fill_level = FRLE_ISA_SCALAR,
           bits_level = FRLE_ISA_SCALAR, scan_level = FRLE_ISA_SCALAR, use_bmi2 = 0;
static frle_once_t pick_once = FRLE_ONCE_INIT;

static void pick(void) {
  const char *env = getenv("FRLE_ISA");
  int l;
  for (l = 0; env && l <= FRLE_ISA_MAX; l++)
    if (!strcmp(env, isa_names[l])) cap = l;
  for (l = cap; l > FRLE_ISA_SCALAR && !frle_parse_kernel_ok(l); l--) {}
  parse_level = l;
#ifdef FRLE_X86_KERNELS
  if (cap >= FRLE_ISA_AVX512 && frle_cpu_has(FRLE_CPU_AVX512F)) fill_level = FRLE_ISA_AVX512;
  else if (cap >= FRLE_ISA_AVX2 && frle_cpu_has(FRLE_CPU_AVX2)) fill_level = FRLE_ISA_AVX2;
  if (cap >= FRLE_ISA_AVX512 &&
      frle_cpu_has(FRLE_CPU_AVX512F | FRLE_CPU_AVX512BW | FRLE_CPU_AVX512VBMI | FRLE_CPU_GFNI))
    bits_level = FRLE_ISA_AVX512;
  if (cap >= FRLE_ISA_AVX512 && frle_cpu_has(FRLE_CPU_AVX512F | FRLE_CPU_AVX512BW)) scan_level = FRLE_ISA_AVX512;
  else if (cap >= FRLE_ISA_AVX2 && frle_cpu_has(FRLE_CPU_AVX2)) scan_level = FRLE_ISA_AVX2;
  use_bmi2 = cap >= FRLE_ISA_AVX2 && frle_cpu_has(FRLE_CPU_BMI2);
#endif
#ifdef FRLE_NEON_KERNELS
  if (cap >= FRLE_ISA_NEON && frle_cpu_has(FRLE_CPU_NEON)) fill_level = FRLE_ISA_NEON;
#endif
}

int frle_isa_cap(void) {
  frle_once(&pick_once, pick);
  return cap;
}

int frle_parse_level(void) {
  frle_once(&pick_once, pick);
  return parse_level;
}

int frle_fill_level(void) {
  frle_once(&pick_once, pick);
  return fill_level;
}

int frle_bits_level(void) {
  frle_once(&pick_once, pick);
  return bits_level;
}

int frle_scan_level(void) {
  frle_once(&pick_once, pick);
  return scan_level;
}

int frle_use_bmi2(void) {
  frle_once(&pick_once, pick);
  return use_bmi2;
}
