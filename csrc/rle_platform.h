/*
 * The platform layer: threads, CPU count, run-once, zeroed page-backed
 * memory and CPU features. The only file of the C core that calls the OS
 * (POSIX: pthreads, sysconf, sched_getaffinity, mmap; Windows: Win32
 * threads, GetActiveProcessorCount, VirtualAlloc) or probes the CPU (cpuid,
 * xgetbv). Compiler differences live in rle_compat.h.
 */
#ifndef FASTRLE_RLE_PLATFORM_H
#define FASTRLE_RLE_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#ifndef _WIN32
#include <pthread.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The most threads one call runs on: the one cap of every threaded C call. */
#define FRLE_MAX_THREADS 256

/* The CPUs this process may run on (its affinity set), at least 1. The
 * thread count a call gets for nthreads <= 0. (Declared in rle.h too.) */
int frle_default_threads(void);

/* The threads a call over n items gets: nthreads <= 0 means
 * frle_default_threads(); then at most n, at most FRLE_MAX_THREADS, at
 * least 1. frle_thread_count(frle_thread_count(t, n), n) is the same count. */
int frle_thread_count(int nthreads, int64_t n);

/* fn(ctx, begin, end, tid) over [0, n) split into k = frle_thread_count(
 * nthreads, n) contiguous ranges, range tid being [n*tid/k, n*(tid+1)/k),
 * each run once. The caller's thread runs range 0; ranges 1..k-1 run on
 * the workers of a process-wide pool (started on first use, up to k-1 of
 * them) or, whichever comes first, on the caller's thread after range 0:
 * fewer threads, same result. When the pool is taken (another thread's call,
 * or a range that calls this), the call starts threads of its own. Returns
 * when every range has finished, with all they wrote visible. */
typedef void (*frle_range_fn)(void *ctx, int64_t begin, int64_t end, int tid);
void frle_parallel_for(int64_t n, int nthreads, frle_range_fn fn, void *ctx);

/* Testing: at most `started` threads besides the caller's help each
 * frle_parallel_for call (the rest fail to start; their ranges run on the
 * caller's thread); < 0: no limit, the default. Not for concurrent use with
 * other threaded calls. */
void frle_threads_fail_after(int started);

/* How long (microseconds) a pool thread spins, watching for the next job,
 * after a job and while a caller waits for its workers, before it sleeps:
 * FASTRLE_SPIN_US from the environment, read once (default 200; a larger
 * value than FRLE_SPIN_US_MAX is taken as it); 0 sleeps at once. The setter
 * clamps to [0, FRLE_SPIN_US_MAX]. */
#define FRLE_SPIN_US_MAX 1000000
int frle_spin_us(void);
void frle_set_spin_us(int64_t us);

/* Stop the pool's workers and wait for them to end (after any call in
 * flight); the next threaded call starts new ones. For leak checkers and
 * tests: the workers otherwise end with the process. */
void frle_threads_stop(void);

/* Run fn exactly once per process per flag, whichever thread comes first;
 * the others wait until it has returned. */
#ifdef _WIN32
typedef struct {
  void *ptr; /* an INIT_ONCE (one pointer), without <windows.h> here */
} frle_once_t;
#define FRLE_ONCE_INIT {0}
#else
typedef pthread_once_t frle_once_t;
#define FRLE_ONCE_INIT PTHREAD_ONCE_INIT
#endif
void frle_once(frle_once_t *flag, void (*fn)(void));

/* Handlers around fork() (pthread_atfork where processes fork; nothing on
 * Windows): a lock taken in prepare and let go in parent and child is never
 * held, in the child, by a thread that fork did not copy. */
void frle_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void));

/* n zeroed bytes (n > 0) in fresh pages, where the OS gives them: mmap with
 * MADV_NOHUGEPAGE on Linux (a first touch faults 4 KiB, so pages nobody writes
 * cost nothing), mmap on other POSIX systems, VirtualAlloc on Windows; calloc
 * elsewhere. NULL when out of
 * memory. Free with frle_free_zeroed(p, n), the same n. */
void *frle_alloc_zeroed(size_t n);
void frle_free_zeroed(void *p, size_t n);

/* CPU features, probed once. frle_cpu_has(FRLE_CPU_x) is 0 for every
 * feature on a CPU or compiler this file cannot probe. */
enum {
  FRLE_CPU_SSE41 = 1 << 0,
  FRLE_CPU_POPCNT = 1 << 1,
  FRLE_CPU_AVX2 = 1 << 2,
  FRLE_CPU_BMI2 = 1 << 3,
  FRLE_CPU_AVX512F = 1 << 4,
  FRLE_CPU_AVX512BW = 1 << 5,
  FRLE_CPU_AVX512VL = 1 << 6,
  FRLE_CPU_AVX512VBMI2 = 1 << 7,
  FRLE_CPU_NEON = 1 << 8, /* AArch64: always */
  FRLE_CPU_AVX512VBMI = 1 << 9,
  FRLE_CPU_GFNI = 1 << 10 /* with the AVX-512 state: its EVEX forms */
};
/* 1 when the CPU has every feature of the mask `features`. */
int frle_cpu_has(unsigned features);

#ifdef __cplusplus
}
#endif
#endif /* FASTRLE_RLE_PLATFORM_H */
