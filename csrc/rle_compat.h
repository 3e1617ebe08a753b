/*
 * Compiler portability for the C core: bit scans, popcount, relaxed atomics,
 * per-function ISA targets and which vector instruction sets a build may
 * use. GCC and Clang (Apple Clang, clang-cl, zig cc) take their builtins,
 * MSVC its intrinsics, anything else plain C. Building with
 * -DFRLE_PORTABLE_BUILTINS forces the plain-C versions, so the C tests check
 * them on any compiler. Every other file uses these names, never a
 * compiler's own.
 */
#ifndef FASTRLE_RLE_COMPAT_H
#define FASTRLE_RLE_COMPAT_H

#include <stdint.h>

#if defined(__GNUC__) || defined(__clang__)
#define FRLE_GNUC 1
#endif

/* SSE2: baseline on x86-64 (MSVC says so with _M_X64, not __SSE2__). */
#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#define FRLE_SSE2 1
#endif

/* NEON: baseline on AArch64. */
#if defined(__aarch64__) || defined(_M_ARM64)
#define FRLE_NEON 1
#endif

/* A function compiled for an ISA the build flags do not enable (called only
 * after run-time dispatch). MSVC needs no attribute for intrinsics. */
#ifdef FRLE_GNUC
#define FRLE_TARGET(isa) __attribute__((target(isa)))
#define FRLE_FORCE_INLINE inline __attribute__((always_inline))
#elif defined(_MSC_VER)
#define FRLE_TARGET(isa)
#define FRLE_FORCE_INLINE __forceinline
#else
#define FRLE_TARGET(isa)
#define FRLE_FORCE_INLINE inline
#endif

#if defined(FRLE_GNUC) && !defined(FRLE_PORTABLE_BUILTINS)

/* ctz/clz of 0 are undefined, as the builtins' */
static inline int frle_ctz32(uint32_t x) { return __builtin_ctz(x); }
static inline int frle_ctz64(uint64_t x) { return __builtin_ctzll(x); }
static inline int frle_clz64(uint64_t x) { return __builtin_clzll(x); }
static inline int frle_popcount32(uint32_t x) { return __builtin_popcount(x); }
static inline int frle_popcount64(uint64_t x) { return __builtin_popcountll(x); }

#elif defined(_MSC_VER) && (defined(_M_X64) || defined(_M_ARM64)) && !defined(FRLE_PORTABLE_BUILTINS)
#include <intrin.h>

static __inline int frle_ctz32(uint32_t x) {
  unsigned long i;
  _BitScanForward(&i, x);
  return (int)i;
}
static __inline int frle_ctz64(uint64_t x) {
  unsigned long i;
  _BitScanForward64(&i, x);
  return (int)i;
}
static __inline int frle_clz64(uint64_t x) {
  unsigned long i;
  _BitScanReverse64(&i, x);
  return 63 - (int)i;
}
/* not __popcnt: that needs a POPCNT CPU */
static __inline int frle_popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (int)((x * 0x0101010101010101ull) >> 56);
}
static __inline int frle_popcount32(uint32_t x) { return frle_popcount64(x); }

#else /* plain C */

static inline int frle_ctz64(uint64_t x) {
  int n = 0;
  if (!(x & 0xffffffffull)) n += 32, x >>= 32;
  if (!(x & 0xffff)) n += 16, x >>= 16;
  if (!(x & 0xff)) n += 8, x >>= 8;
  if (!(x & 0xf)) n += 4, x >>= 4;
  if (!(x & 0x3)) n += 2, x >>= 2;
  return n + !(x & 1);
}
static inline int frle_ctz32(uint32_t x) { return frle_ctz64(x); }
static inline int frle_clz64(uint64_t x) {
  int n = 0;
  if (!(x >> 32)) n += 32, x <<= 32;
  if (!(x >> 48)) n += 16, x <<= 16;
  if (!(x >> 56)) n += 8, x <<= 8;
  if (!(x >> 60)) n += 4, x <<= 4;
  if (!(x >> 62)) n += 2, x <<= 2;
  return n + !(x >> 63);
}
static inline int frle_popcount64(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return (int)((x * 0x0101010101010101ull) >> 56);
}
static inline int frle_popcount32(uint32_t x) { return frle_popcount64(x); }

#endif

/* Relaxed atomic int load and store (a flag one thread sets and others read;
 * aligned int accesses are atomic on every target of MSVC). */
#ifdef FRLE_GNUC
static inline int frle_load_relaxed(const int *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void frle_store_relaxed(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELAXED); }
/* *p += v atomically; returns the old value (a shared work counter) */
static inline int64_t frle_fetch_add64(int64_t *p, int64_t v) { return __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
/* *p = v, returning the old value, ordered both ways (a spin lock's take and release) */
static inline int frle_xchg_int(int *p, int v) { return __atomic_exchange_n(p, v, __ATOMIC_ACQ_REL); }
/* a flag that publishes what its writer wrote before it (release), seen
 * with all of that by a reader that loads it (acquire) */
static inline int frle_load_acquire(const int *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void frle_store_release(int *p, int v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
#elif defined(_MSC_VER)
#include <intrin.h>
static __inline int frle_load_relaxed(const int *p) { return *(const volatile int *)p; }
static __inline void frle_store_relaxed(int *p, int v) { *(volatile int *)p = v; }
static __inline int64_t frle_fetch_add64(int64_t *p, int64_t v) {
  return _InterlockedExchangeAdd64((volatile __int64 *)p, v);
}
static __inline int frle_xchg_int(int *p, int v) { return (int)_InterlockedExchange((volatile long *)p, v); }
/* full barriers: acquire and release on every MSVC target (long is 32 bits) */
static __inline int frle_load_acquire(const int *p) { return (int)_InterlockedOr((volatile long *)p, 0); }
static __inline void frle_store_release(int *p, int v) { _InterlockedExchange((volatile long *)p, (long)v); }
#else
#error "rle_compat.h: no atomics for this compiler (add them here)"
#endif

/* A 64-bit word whose memory bytes are its low byte first (pixels 0-7 of a
 * packed row in byte 0): a byte swap on big-endian hosts. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define FRLE_WORD_LE(v) __builtin_bswap64(v)
#else
#define FRLE_WORD_LE(v) (v)
#endif

#endif /* FASTRLE_RLE_COMPAT_H */
