/* Per-thread scratch memory (see rle_scratch.h), and the spare blocks kept
 * between calls (see rle.h): the one home of the core's reusable memory. */
#include <stdlib.h>
#include <string.h>
#include "rle_internal.h"
#include "rle_platform.h"

int frle_grow(void **buf, int64_t *cap, int64_t n, size_t elem) {
  int64_t c;
  void *p;
  if (n <= *cap) return 1;
  c = *cap ? *cap : 64;
  while (c < n) c *= 2;
  p = realloc(*buf, (size_t)c * elem);
  if (!p) return 0;
  *buf = p;
  *cap = c;
  return 1;
}

frle_scratch *frle_scratch_new(void) { return (frle_scratch *)calloc(1, sizeof(frle_scratch)); }

void frle_scratch_free(frle_scratch *s) {
  if (!s) return;
  free(s->seg);
  free(s->ev);
  free(s->row);
  free(s->tr);
  free(s->pos);
  free(s->aux);
  free(s->rcnt);
  free(s->rseg);
  free(s->stage);
  free(s->bits);
  free(s->bwork);
  free(s);
}

/* ---- spare blocks (see rle.h) ---- */

/* Each block starts with a header line holding its usable size, so that a
 * kept block can be matched to a request. Below SPARE_MIN bytes malloc reuses
 * its own free lists, and a block is simply freed. */
#define SPARE_HEAD 64
#define SPARE_SLOTS 8
#define SPARE_MIN ((int64_t)128 << 10)

static char *spare_slot[SPARE_SLOTS]; /* kept blocks (their header), NULL where empty */
static int64_t spare_held;            /* bytes kept in spare_slot */
static int64_t spare_cap; /* 0: keep nothing until a caller sets a limit (frle_spare_limit) */
static int spare_lock_word;

/* A spin lock: the sections under it scan eight slots. */
static frle_once_t spare_fork_once = FRLE_ONCE_INIT;

static void spare_take_lock(void) {
  while (frle_xchg_int(&spare_lock_word, 1)) {}
}
static void spare_unlock(void) { frle_xchg_int(&spare_lock_word, 0); }
/* a fork while another thread holds the lock would leave it held for good
 * in the child: fork waits for it instead */
static void spare_fork_handlers(void) { frle_atfork(spare_take_lock, spare_unlock, spare_unlock); }
static void spare_lock(void) {
  frle_once(&spare_fork_once, spare_fork_handlers);
  spare_take_lock();
}

static int64_t head_cap(const char *h) {
  int64_t c;
  memcpy(&c, h, sizeof(c));
  return c;
}

void *frle_spare_take(int64_t n, int64_t *cap) {
  char *h = NULL;
  int i, best = -1;
  if (n < 1) n = 1;
  if (n >= SPARE_MIN) {
    /* the smallest kept block that fits: the larger ones stay for larger requests */
    spare_lock();
    for (i = 0; i < SPARE_SLOTS; i++)
      if (spare_slot[i] && head_cap(spare_slot[i]) >= n &&
          (best < 0 || head_cap(spare_slot[i]) < head_cap(spare_slot[best])))
        best = i;
    if (best >= 0) {
      h = spare_slot[best];
      spare_slot[best] = NULL;
      spare_held -= head_cap(h);
    }
    spare_unlock();
  }
  if (!h) {
    /* room for the header, and the block rounded up to whole lines */
    int64_t c = (n + SPARE_HEAD - 1) / SPARE_HEAD * SPARE_HEAD;
    h = (char *)malloc((size_t)(c + SPARE_HEAD));
    if (!h) return NULL;
    memcpy(h, &c, sizeof(c));
  }
  if (cap) *cap = head_cap(h);
  return h + SPARE_HEAD;
}

void frle_spare_give(void *p) {
  char *h, *drop[SPARE_SLOTS + 1]; /* freed after the lock */
  int64_t c;
  int i, nd = 0, small = -1;
  if (!p) return;
  h = (char *)p - SPARE_HEAD;
  c = head_cap(h);
  if (c < SPARE_MIN) {
    free(h);
    return;
  }
  spare_lock();
  /* an empty slot, else the smallest kept block if this one is larger */
  for (i = 0; i < SPARE_SLOTS; i++) {
    if (!spare_slot[i]) {
      small = i;
      break;
    }
    if (small < 0 || head_cap(spare_slot[i]) < head_cap(spare_slot[small])) small = i;
  }
  if (spare_slot[small] && head_cap(spare_slot[small]) >= c) {
    drop[nd++] = h;
  } else {
    if (spare_slot[small]) {
      spare_held -= head_cap(spare_slot[small]);
      drop[nd++] = spare_slot[small];
    }
    spare_slot[small] = h;
    spare_held += c;
    /* over the limit: drop the smallest others first, then this one */
    while (spare_held > spare_cap) {
      int k = -1;
      for (i = 0; i < SPARE_SLOTS; i++)
        if (spare_slot[i] && i != small && (k < 0 || head_cap(spare_slot[i]) < head_cap(spare_slot[k]))) k = i;
      if (k < 0) k = small; /* only this block is kept, and it alone is too big */
      spare_held -= head_cap(spare_slot[k]);
      drop[nd++] = spare_slot[k];
      spare_slot[k] = NULL;
    }
  }
  spare_unlock();
  for (i = 0; i < nd; i++) free(drop[i]);
}

int64_t frle_spare_limit(int64_t bytes) {
  int64_t old;
  spare_lock();
  old = spare_cap;
  if (bytes >= 0) spare_cap = bytes;
  spare_unlock();
  if (bytes >= 0 && bytes < old) frle_spare_release(); /* then the kept blocks fit again: none kept */
  return old;
}

void frle_spare_release(void) {
  char *drop[SPARE_SLOTS];
  int i;
  spare_lock();
  for (i = 0; i < SPARE_SLOTS; i++) {
    drop[i] = spare_slot[i];
    spare_slot[i] = NULL;
  }
  spare_held = 0;
  spare_unlock();
  for (i = 0; i < SPARE_SLOTS; i++) free(drop[i]);
}

int64_t frle_spare_bytes(void) {
  int64_t b;
  spare_lock();
  b = spare_held;
  spare_unlock();
  return b;
}
