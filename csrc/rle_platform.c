/* The platform layer (POSIX): see rle_platform.h. */
#define _GNU_SOURCE
#include "rle_platform.h"

#include <pthread.h>
#include <sched.h>
#include <unistd.h>

int frle_default_threads(void) {
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
}

int frle_thread_count(int nthreads, int64_t n) {
  if (nthreads <= 0) nthreads = frle_default_threads();
  if (nthreads > n) nthreads = n > 0 ? (int)n : 1;
  if (nthreads > FRLE_MAX_THREADS) nthreads = FRLE_MAX_THREADS;
  return nthreads;
}

static int start_limit = -1; /* frle_threads_fail_after */

void frle_threads_fail_after(int started) { __atomic_store_n(&start_limit, started, __ATOMIC_RELAXED); }

typedef struct {
  frle_range_fn fn;
  void *ctx;
  int64_t b, e;
  int tid;
} range_arg;

static void *run_range(void *a) {
  range_arg *p = (range_arg *)a;
  p->fn(p->ctx, p->b, p->e, p->tid);
  return NULL;
}

void frle_parallel_for(int64_t n, int nthreads, frle_range_fn fn, void *ctx) {
  pthread_t th[FRLE_MAX_THREADS];
  range_arg args[FRLE_MAX_THREADS];
  char ok[FRLE_MAX_THREADS];
  int i, k, limit;
  if (n <= 0) return;
  k = frle_thread_count(nthreads, n);
  if (k <= 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  limit = __atomic_load_n(&start_limit, __ATOMIC_RELAXED);
  for (i = 0; i < k; i++) {
    args[i].fn = fn;
    args[i].ctx = ctx;
    args[i].tid = i;
    args[i].b = n * i / k;
    args[i].e = n * (i + 1) / k;
  }
  for (i = 1; i < k; i++)
    ok[i] = (limit < 0 || i - 1 < limit) && pthread_create(&th[i], NULL, run_range, &args[i]) == 0;
  run_range(&args[0]);
  for (i = 1; i < k; i++) {
    if (ok[i]) pthread_join(th[i], NULL);
    else run_range(&args[i]); /* no thread to be had: do its share here */
  }
}

void frle_once(frle_once_t *flag, void (*fn)(void)) { pthread_once(flag, fn); }

static unsigned cpu_features;
static frle_once_t cpu_once = FRLE_ONCE_INIT;

static void probe_cpu(void) {
  unsigned f = 0;
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.1")) f |= FRLE_CPU_SSE41;
  if (__builtin_cpu_supports("popcnt")) f |= FRLE_CPU_POPCNT;
  if (__builtin_cpu_supports("avx2")) f |= FRLE_CPU_AVX2;
  if (__builtin_cpu_supports("bmi2")) f |= FRLE_CPU_BMI2;
  if (__builtin_cpu_supports("avx512f")) f |= FRLE_CPU_AVX512F;
  if (__builtin_cpu_supports("avx512bw")) f |= FRLE_CPU_AVX512BW;
  if (__builtin_cpu_supports("avx512vl")) f |= FRLE_CPU_AVX512VL;
  if (__builtin_cpu_supports("avx512vbmi2")) f |= FRLE_CPU_AVX512VBMI2;
#endif
  cpu_features = f;
}

int frle_cpu_has(unsigned features) {
  frle_once(&cpu_once, probe_cpu);
  return (cpu_features & features) == features;
}
