/* The platform layer: see rle_platform.h. POSIX and Windows implementations
 * of each function, side by side; the CPU probe for x86 (GCC/Clang and MSVC)
 * and AArch64. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity, MAP_ANONYMOUS under -std=c99 */
#endif
#include "rle_platform.h"

#include <stdlib.h>
#include "rle_compat.h"

#ifdef _WIN32
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601 /* Windows 7: GetActiveProcessorCount */
#endif
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#include <process.h>
#else
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <unistd.h>
#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON
#endif
#endif

#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64) || defined(_M_IX86)
#define FRLE_X86 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

/* ---- CPU count ---------------------------------------------------------- */

int frle_default_threads(void) {
#ifdef _WIN32
  /* the affinity mask where it covers every CPU (up to 64, one group);
   * else every active CPU of every group */
  DWORD all = GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
  DWORD_PTR proc = 0, sys = 0;
  if (all <= 64 && GetProcessAffinityMask(GetCurrentProcess(), &proc, &sys) && proc)
    return frle_popcount64((uint64_t)proc);
  return all > 0 ? (int)all : 1;
#else
#ifdef CPU_COUNT
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
#endif
  {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
  }
#endif
}

int frle_thread_count(int nthreads, int64_t n) {
  if (nthreads <= 0) nthreads = frle_default_threads();
  if (nthreads > n) nthreads = n > 0 ? (int)n : 1;
  if (nthreads > FRLE_MAX_THREADS) nthreads = FRLE_MAX_THREADS;
  return nthreads;
}

/* ---- threads ------------------------------------------------------------ */

static int start_limit = -1; /* frle_threads_fail_after */

void frle_threads_fail_after(int started) { frle_store_relaxed(&start_limit, started); }

typedef struct {
  frle_range_fn fn;
  void *ctx;
  int64_t b, e;
  int tid;
} range_arg;

static void run_range(range_arg *p) { p->fn(p->ctx, p->b, p->e, p->tid); }

#ifdef _WIN32
typedef HANDLE thread_t;
static unsigned __stdcall thread_main(void *a) {
  run_range((range_arg *)a);
  return 0;
}
/* _beginthreadex, not CreateThread: the C runtime's per-thread state */
static int thread_start(thread_t *t, range_arg *a) {
  uintptr_t h = _beginthreadex(NULL, 0, thread_main, a, 0, NULL);
  *t = (HANDLE)h;
  return h != 0;
}
static void thread_join(thread_t t) {
  WaitForSingleObject(t, INFINITE);
  CloseHandle(t);
}
#else
typedef pthread_t thread_t;
static void *thread_main(void *a) {
  run_range((range_arg *)a);
  return NULL;
}
static int thread_start(thread_t *t, range_arg *a) { return pthread_create(t, NULL, thread_main, a) == 0; }
static void thread_join(thread_t t) { pthread_join(t, NULL); }
#endif

void frle_parallel_for(int64_t n, int nthreads, frle_range_fn fn, void *ctx) {
  thread_t th[FRLE_MAX_THREADS];
  range_arg args[FRLE_MAX_THREADS];
  char ok[FRLE_MAX_THREADS];
  int i, k, limit;
  if (n <= 0) return;
  k = frle_thread_count(nthreads, n);
  if (k <= 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  limit = frle_load_relaxed(&start_limit);
  for (i = 0; i < k; i++) {
    args[i].fn = fn;
    args[i].ctx = ctx;
    args[i].tid = i;
    args[i].b = n * i / k;
    args[i].e = n * (i + 1) / k;
  }
  for (i = 1; i < k; i++) ok[i] = (char)((limit < 0 || i - 1 < limit) && thread_start(&th[i], &args[i]));
  run_range(&args[0]);
  for (i = 1; i < k; i++) {
    if (ok[i]) thread_join(th[i]);
    else run_range(&args[i]); /* no thread to be had: do its share here */
  }
}

/* ---- run once ----------------------------------------------------------- */

#ifdef _WIN32
typedef char once_fits[sizeof(frle_once_t) == sizeof(INIT_ONCE) ? 1 : -1];

typedef struct {
  void (*fn)(void);
} once_box;

static BOOL CALLBACK once_call(PINIT_ONCE o, PVOID box, PVOID *ctx) {
  (void)o;
  (void)ctx;
  ((once_box *)box)->fn();
  return TRUE;
}

void frle_once(frle_once_t *flag, void (*fn)(void)) {
  once_box box;
  box.fn = fn;
  InitOnceExecuteOnce((PINIT_ONCE)flag, once_call, &box, NULL);
}
#else
void frle_once(frle_once_t *flag, void (*fn)(void)) { pthread_once(flag, fn); }
#endif

void frle_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void)) {
#ifdef _WIN32
  (void)prepare;
  (void)parent;
  (void)child;
#else
  pthread_atfork(prepare, parent, child);
#endif
}

/* ---- zeroed pages ------------------------------------------------------- */

void *frle_alloc_zeroed(size_t n) {
#ifdef _WIN32
  return VirtualAlloc(NULL, n, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE);
#elif defined(__unix__) || defined(__APPLE__)
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
#ifdef MADV_NOHUGEPAGE
  /* 4 KiB pages: a zeroed-mode decode writes only foreground, so only the
   * pages it touches fault (12k of 82k on SA-1B-like blobs), where a 2 MiB
   * page has the kernel clear 512 pages at its first touch; and in a VM with
   * free page reporting, huge pages come back from the host, page by page */
  madvise(p, n, MADV_NOHUGEPAGE);
#endif
  return p;
#else
  return calloc(1, n);
#endif
}

void frle_free_zeroed(void *p, size_t n) {
  if (!p) return;
#ifdef _WIN32
  (void)n;
  VirtualFree(p, 0, MEM_RELEASE);
#elif defined(__unix__) || defined(__APPLE__)
  munmap(p, n);
#else
  (void)n;
  free(p);
#endif
}

/* ---- CPU features ------------------------------------------------------- */

static unsigned cpu_features;
static frle_once_t cpu_once = FRLE_ONCE_INIT;

#ifdef FRLE_X86
static void cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
#if defined(_MSC_VER) && !defined(__clang__)
  int x[4];
  __cpuidex(x, (int)leaf, (int)sub);
  r[0] = (unsigned)x[0], r[1] = (unsigned)x[1], r[2] = (unsigned)x[2], r[3] = (unsigned)x[3];
#else
  __cpuid_count(leaf, sub, r[0], r[1], r[2], r[3]);
#endif
}

/* XCR0: which register states the OS saves (AVX needs YMM, AVX-512 ZMM). */
static uint64_t xgetbv0(void) {
#if defined(_MSC_VER) && !defined(__clang__)
  return _xgetbv(0);
#else
  unsigned lo, hi;
  __asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0)); /* xgetbv */
  return ((uint64_t)hi << 32) | lo;
#endif
}
#endif

static void probe_cpu(void) {
  unsigned f = 0;
#ifdef FRLE_X86
  unsigned r[4], max, ecx1;
  int avx_os = 0, avx512_os = 0;
  cpuid(0, 0, r);
  max = r[0];
  if (max >= 1) {
    cpuid(1, 0, r);
    ecx1 = r[2];
    if (ecx1 & (1u << 19)) f |= FRLE_CPU_SSE41;
    if (ecx1 & (1u << 23)) f |= FRLE_CPU_POPCNT;
    if (ecx1 & (1u << 27)) { /* OSXSAVE */
      uint64_t xcr0 = xgetbv0();
      avx_os = (ecx1 & (1u << 28)) && (xcr0 & 0x6) == 0x6;
      /* macOS enables the AVX-512 state on first use only: no AVX-512
       * kernels there until it shows here (never a wrong result) */
      avx512_os = avx_os && (xcr0 & 0xe0) == 0xe0;
    }
  }
  if (max >= 7) {
    cpuid(7, 0, r);
    if (r[1] & (1u << 8)) f |= FRLE_CPU_BMI2;
    if (avx_os && (r[1] & (1u << 5))) f |= FRLE_CPU_AVX2;
    if (avx512_os) {
      if (r[1] & (1u << 16)) f |= FRLE_CPU_AVX512F;
      if (r[1] & (1u << 30)) f |= FRLE_CPU_AVX512BW;
      if (r[1] & (1u << 31)) f |= FRLE_CPU_AVX512VL;
      if (r[2] & (1u << 6)) f |= FRLE_CPU_AVX512VBMI2;
      if (r[2] & (1u << 1)) f |= FRLE_CPU_AVX512VBMI;
      if (r[2] & (1u << 8)) f |= FRLE_CPU_GFNI;
    }
  }
#endif
#ifdef FRLE_NEON
  f |= FRLE_CPU_NEON;
#endif
  cpu_features = f;
}

int frle_cpu_has(unsigned features) {
  frle_once(&cpu_once, probe_cpu);
  return (cpu_features & features) == features;
}
