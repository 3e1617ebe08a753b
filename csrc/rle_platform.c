/* The platform layer: see rle_platform.h. POSIX and Windows implementations
 * of each function, side by side; the CPU probe for x86 (GCC/Clang and MSVC)
 * and AArch64. */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_getaffinity, MAP_ANONYMOUS under -std=c99 */
#endif
#include "rle_platform.h"

#include <stdlib.h>
#include <time.h>
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

/* ---- threads ------------------------------------------------------------ */

static int start_limit = -1; /* frle_threads_fail_after */

void frle_threads_fail_after(int started) { frle_store_relaxed(&start_limit, started); }

/* One range of a call, for the threads started per call (spawn_run). */
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

/* Threads made for this call alone: when the pool is taken (another thread's
 * call, or a range that calls frle_parallel_for itself). */
static void spawn_run(int64_t n, int k, frle_range_fn fn, void *ctx, int limit) {
  thread_t th[FRLE_MAX_THREADS];
  range_arg args[FRLE_MAX_THREADS];
  char ok[FRLE_MAX_THREADS];
  int i;
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

/* The pool: workers started on first use (never more than a call needed),
 * each waiting for the next call's job (never joined but by
 * frle_threads_stop: they end with the process). A job's ranges 1..k-1 go to
 * whoever claims them first (a counter): the workers that join, and the
 * caller after range 0, so a worker that wakes late costs nothing but its
 * share. After a job (and while the caller waits for one) a thread spins
 * for spin_us before it sleeps, so back-to-back calls find it awake: waking
 * a sleeping thread costs a futex wake plus, in a VM, the idle vCPU's wake. */
#define FRLE_SPIN_US_DEFAULT 200

static struct {
  int busy;    /* a caller owns the pool (frle_xchg_int); others spawn_run */
  int started; /* workers running */
  int gen;     /* bumped for each job; workers wait for it to move */
  int open;    /* the job takes joiners */
  int allowed, joined, active, sleepers, caller_waits;
  int quit; /* frle_threads_stop: workers return */
  int spin_us;
  frle_range_fn fn;
  void *ctx;
  int64_t n, next; /* next: the next range to claim */
  int k;
} pool;
static frle_once_t pool_once = FRLE_ONCE_INIT;
static thread_t workers[FRLE_MAX_THREADS]; /* pool.started of them, joinable */

#ifdef _WIN32
static SRWLOCK pool_mu = SRWLOCK_INIT;
static CONDITION_VARIABLE work_cv = CONDITION_VARIABLE_INIT, done_cv = CONDITION_VARIABLE_INIT;
static void pool_lock(void) { AcquireSRWLockExclusive(&pool_mu); }
static void pool_unlock(void) { ReleaseSRWLockExclusive(&pool_mu); }
static void pool_wait(CONDITION_VARIABLE *cv) { SleepConditionVariableSRW(cv, &pool_mu, INFINITE, 0); }
static void pool_signal(CONDITION_VARIABLE *cv) { WakeConditionVariable(cv); }
static void pool_broadcast(CONDITION_VARIABLE *cv) { WakeAllConditionVariable(cv); }
static int64_t now_ns(void) {
  static LARGE_INTEGER freq; /* the same every call: a race writes the same value */
  LARGE_INTEGER c;
  if (!freq.QuadPart) QueryPerformanceFrequency(&freq);
  QueryPerformanceCounter(&c);
  return (int64_t)((double)c.QuadPart * 1e9 / (double)freq.QuadPart);
}
#else
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_cv = PTHREAD_COND_INITIALIZER, done_cv = PTHREAD_COND_INITIALIZER;
static void pool_lock(void) { pthread_mutex_lock(&pool_mu); }
static void pool_unlock(void) { pthread_mutex_unlock(&pool_mu); }
static void pool_wait(pthread_cond_t *cv) { pthread_cond_wait(cv, &pool_mu); }
static void pool_signal(pthread_cond_t *cv) { pthread_cond_signal(cv); }
static void pool_broadcast(pthread_cond_t *cv) { pthread_cond_broadcast(cv); }
static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}
#endif

static void thread_yield(void) {
#ifdef _WIN32
  SwitchToThread();
#else
  sched_yield();
#endif
}

static void cpu_relax(void) {
#if defined(FRLE_X86) && defined(FRLE_GNUC)
  __builtin_ia32_pause();
#elif defined(FRLE_X86) && defined(_MSC_VER)
  _mm_pause();
#elif defined(__aarch64__) && defined(FRLE_GNUC)
  __asm__ __volatile__("yield");
#endif
}

/* Spin up to us microseconds until (*p == v) == eq; 1 when it came. Pauses
 * only, no yield: a yield lets any other runnable thread take the CPU for
 * its whole slice, and the job is missed (measured: two 50 us ranges back
 * to back took 100 us with a yield every 32 pauses, 50 us without). */
static int spin_for(const int *p, int v, int eq, int us) {
  int64_t end;
  int i;
  if (us <= 0) return (frle_load_acquire(p) == v) == eq;
  end = now_ns() + (int64_t)us * 1000;
  for (;;) {
    for (i = 0; i < 32; i++) {
      if ((frle_load_acquire(p) == v) == eq) return 1;
      cpu_relax();
    }
    if (now_ns() >= end) return 0;
  }
}

static int spin_clamp(int64_t us) { return us < 0 ? 0 : us > FRLE_SPIN_US_MAX ? FRLE_SPIN_US_MAX : (int)us; }

static int spin_from_env(void) {
  const char *s = getenv("FASTRLE_SPIN_US");
  char *end;
  long v;
  if (!s || !*s) return FRLE_SPIN_US_DEFAULT;
  v = strtol(s, &end, 10);
  if (*end || v < 0) return FRLE_SPIN_US_DEFAULT;
  return spin_clamp(v);
}

#ifndef _WIN32
/* fork: the child has none of the workers, and the lock and condition
 * variables may hold the state of threads it did not copy: start afresh. */
static void pool_prepare(void) { pool_lock(); }
static void pool_parent(void) { pool_unlock(); }
static void pool_child(void) {
  pthread_mutex_init(&pool_mu, NULL);
  pthread_cond_init(&work_cv, NULL);
  pthread_cond_init(&done_cv, NULL);
  pool.busy = pool.started = pool.open = pool.quit = 0;
  pool.allowed = pool.joined = pool.active = pool.sleepers = pool.caller_waits = 0;
}
#endif

static void pool_init(void) {
  frle_store_relaxed(&pool.spin_us, spin_from_env());
#ifndef _WIN32
  pthread_atfork(pool_prepare, pool_parent, pool_child);
#endif
}

int frle_spin_us(void) {
  frle_once(&pool_once, pool_init);
  return frle_load_relaxed(&pool.spin_us);
}

void frle_set_spin_us(int64_t us) {
  frle_once(&pool_once, pool_init);
  frle_store_relaxed(&pool.spin_us, spin_clamp(us));
}

/* Claim and run ranges until none is left. */
static void claim_ranges(void) {
  for (;;) {
    int64_t r = frle_fetch_add64(&pool.next, 1);
    if (r >= pool.k) return;
    pool.fn(pool.ctx, pool.n * r / pool.k, pool.n * (r + 1) / pool.k, (int)r);
  }
}

static void worker_loop(int seen) {
  for (;;) {
    spin_for(&pool.gen, seen, 0, frle_load_relaxed(&pool.spin_us));
    pool_lock();
    while (pool.gen == seen) {
      pool.sleepers++;
      pool_wait(&work_cv);
      pool.sleepers--;
    }
    seen = pool.gen;
    if (pool.quit) {
      pool_unlock();
      return;
    }
    if (!pool.open || pool.joined >= pool.allowed) { /* done, or enough hands */
      pool_unlock();
      continue;
    }
    pool.joined++;
    pool.active++;
    pool_unlock();
    claim_ranges();
    pool_lock();
    /* release: what the ranges wrote is seen by the caller that sees 0 */
    frle_store_release(&pool.active, pool.active - 1);
    if (!pool.active && pool.caller_waits) pool_signal(&done_cv);
    pool_unlock();
  }
}

#ifdef _WIN32
static unsigned __stdcall worker_main(void *a) {
  worker_loop((int)(intptr_t)a);
  return 0;
}
static int worker_start(thread_t *t, int gen) {
  uintptr_t h = _beginthreadex(NULL, 0, worker_main, (void *)(intptr_t)gen, 0, NULL);
  *t = (HANDLE)h;
  return h != 0;
}
#else
static void *worker_main(void *a) {
  worker_loop((int)(intptr_t)a);
  return NULL;
}
static int worker_start(thread_t *t, int gen) {
  return pthread_create(t, NULL, worker_main, (void *)(intptr_t)gen) == 0;
}
#endif

/* The call on the pool, which the caller owns (pool.busy). */
static void pool_run(int64_t n, int k, frle_range_fn fn, void *ctx, int limit) {
  int want = k - 1, wake;
  if (limit >= 0 && limit < want) want = limit;
  pool_lock();
  /* a worker started now waits for the gen after this one: this job's */
  while (pool.started < want && worker_start(&workers[pool.started], pool.gen)) pool.started++;
  pool.fn = fn;
  pool.ctx = ctx;
  pool.n = n;
  pool.k = k;
  pool.next = 1;
  pool.joined = pool.active = 0;
  pool.allowed = want < pool.started ? want : pool.started;
  pool.open = 1;
  frle_store_release(&pool.gen, (int)((unsigned)pool.gen + 1u)); /* wraps: only compared for equality */
  for (wake = pool.allowed < pool.sleepers ? pool.allowed : pool.sleepers; wake > 0; wake--) pool_signal(&work_cv);
  pool_unlock();
  fn(ctx, 0, n / k, 0);
  claim_ranges(); /* what no worker has taken yet */
  pool_lock();
  pool.open = 0; /* no new joiners: wait for those inside */
  if (pool.active) {
    pool_unlock();
    spin_for(&pool.active, 0, 1, frle_load_relaxed(&pool.spin_us));
    pool_lock();
    while (pool.active) {
      pool.caller_waits = 1;
      pool_wait(&done_cv);
    }
    pool.caller_waits = 0;
  }
  pool_unlock();
}

void frle_threads_stop(void) {
  int i, n;
  frle_once(&pool_once, pool_init);
  while (frle_xchg_int(&pool.busy, 1)) thread_yield(); /* a call in flight finishes first */
  pool_lock();
  n = pool.started;
  pool.quit = 1;
  frle_store_release(&pool.gen, (int)((unsigned)pool.gen + 1u)); /* wraps: only compared for equality */
  pool_broadcast(&work_cv);
  pool_unlock();
  for (i = 0; i < n; i++) thread_join(workers[i]);
  pool_lock();
  pool.started = pool.quit = 0;
  pool_unlock();
  frle_store_release(&pool.busy, 0);
}

void frle_parallel_for(int64_t n, int nthreads, frle_range_fn fn, void *ctx) {
  int k, limit;
  if (n <= 0) return;
  k = frle_thread_count(nthreads, n);
  if (k <= 1) {
    fn(ctx, 0, n, 0);
    return;
  }
  limit = frle_load_relaxed(&start_limit);
  frle_once(&pool_once, pool_init);
  if (frle_xchg_int(&pool.busy, 1)) {
    spawn_run(n, k, fn, ctx, limit); /* taken: threads of its own */
    return;
  }
  pool_run(n, k, fn, ctx, limit);
  frle_store_release(&pool.busy, 0);
}

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
