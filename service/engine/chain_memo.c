/* chain_memo.c: see chain_memo.h. */
#include "service/engine/chain_memo.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "service/common/status.h"
#include "service/x509/cert_info.h"

/* MARGIN_SECONDS: a bound this close to the time checked at makes the answer not
 * remembered, and answers are given only this far inside the bounds. */
#define MARGIN_SECONDS 1

typedef struct slot_st {
  uint8_t digest[SHA256_DIGEST_LENGTH];
  int64_t lo, hi; /* the answer holds for lo < t < hi */
  int used;
} SLOT;

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static SLOT g_slots[CHAIN_MEMO_SLOTS];

/* add_bound appends |t| to |in|'s bounds. */
static void add_bound(CHAIN_INPUTS *in, int64_t t) {
  if (in->num_bounds == in->cap_bounds) {
    size_t cap = in->cap_bounds == 0 ? 16 : in->cap_bounds * 2;
    int64_t *b = realloc(in->bounds, cap * sizeof(*b));
    if (b == NULL) {
      in->usable = 0;
      return;
    }
    in->bounds = b;
    in->cap_bounds = cap;
  }
  in->bounds[in->num_bounds++] = t;
}

/* hash_certificate feeds |role|, |len| and |der| to |sha|: unambiguous however the
 * certificates are split among roles. */
static void hash_certificate(SHA256_CTX *sha, int role, const uint8_t *der, size_t len) {
  uint8_t head[9];
  head[0] = (uint8_t)role;
  for (int i = 0; i < 8; i++) {
    head[1 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  }
  SHA256_Update(sha, head, sizeof(head));
  SHA256_Update(sha, der, len);
}

void chain_inputs_init(CHAIN_INPUTS *in, unsigned max_chain) {
  uint8_t limit[4] = {(uint8_t)(max_chain >> 24), (uint8_t)(max_chain >> 16),
                      (uint8_t)(max_chain >> 8), (uint8_t)max_chain};
  memset(in, 0, sizeof(*in));
  in->usable = 1;
  SHA256_Init(&in->sha);
  SHA256_Update(&in->sha, limit, sizeof(limit));
}

void chain_inputs_add(CHAIN_INPUTS *in, int role, const uint8_t *der, size_t len) {
  CERT_OUTLINE o;
  STATUS ignored;
  if (!in->usable) {
    return;
  }
  /* A certificate whose validity we cannot read may still be one BoringSSL uses, at
   * times we do not know: such inputs are never remembered. */
  if (!cert_outline(der, len, &o, &ignored)) {
    in->usable = 0;
    return;
  }
  hash_certificate(&in->sha, role, der, len);
  add_bound(in, o.not_before);
  add_bound(in, o.not_after);
}

void chain_inputs_cleanup(CHAIN_INPUTS *in) {
  free(in->bounds);
  memset(in, 0, sizeof(*in));
}

/* interval_of sets (|*lo|, |*hi|) to the open interval around |when| between the
 * nearest bounds, a margin inside them. Returns 0 when a bound is within the margin of
 * |when|. */
static int interval_of(const int64_t *bounds, size_t n, int64_t when, int64_t *lo,
                       int64_t *hi) {
  *lo = INT64_MIN;
  *hi = INT64_MAX;
  for (size_t i = 0; i < n; i++) {
    int64_t b = bounds[i];
    if (b >= when - MARGIN_SECONDS && b <= when + MARGIN_SECONDS) {
      return 0;
    }
    if (b < when && b + MARGIN_SECONDS > *lo) {
      *lo = b + MARGIN_SECONDS;
    } else if (b > when && b - MARGIN_SECONDS < *hi) {
      *hi = b - MARGIN_SECONDS;
    }
  }
  return 1;
}

void chain_leaf_init(CHAIN_LEAF *out, const CHAIN_INPUTS *in, const uint8_t *leaf,
                     size_t leaf_len) {
  CERT_OUTLINE o;
  STATUS ignored;
  memset(out, 0, sizeof(*out));
  if (!in->usable || !cert_outline(leaf, leaf_len, &o, &ignored)) {
    return;
  }
  out->bounds[0] = o.not_before;
  out->bounds[1] = o.not_after;
  SHA256_CTX sha = in->sha;
  hash_certificate(&sha, CHAIN_ROLE_LEAF, leaf, leaf_len);
  SHA256_Final(out->digest, &sha);
  out->usable = 1;
}

/* leaf_interval sets |lo| and |hi| for the check of |leaf| with |in| at |when|.
 * Returns 0 when that check must not be looked up or remembered. */
static int leaf_interval(const CHAIN_INPUTS *in, const CHAIN_LEAF *leaf, int64_t when,
                         int64_t *lo, int64_t *hi) {
  int64_t llo, lhi;
  if (!in->usable || !leaf->usable ||
      !interval_of(in->bounds, in->num_bounds, when, lo, hi) ||
      !interval_of(leaf->bounds, 2, when, &llo, &lhi)) {
    return 0;
  }
  *lo = llo > *lo ? llo : *lo;
  *hi = lhi < *hi ? lhi : *hi;
  return 1;
}

/* slot_of picks the slot of |digest| (its first bytes are as good as any hash). */
static SLOT *slot_of(const uint8_t *digest) {
  uint32_t h = (uint32_t)digest[0] | (uint32_t)digest[1] << 8 | (uint32_t)digest[2] << 16;
  return &g_slots[h % CHAIN_MEMO_SLOTS];
}

int chain_memo_trusted(const CHAIN_INPUTS *in, const CHAIN_LEAF *leaf, int64_t when) {
  int64_t lo, hi;
  int hit = 0;
  if (!leaf_interval(in, leaf, when, &lo, &hi)) {
    return 0;
  }
  pthread_mutex_lock(&g_mu);
  const SLOT *s = slot_of(leaf->digest);
  hit = s->used && memcmp(s->digest, leaf->digest, sizeof(s->digest)) == 0 && s->lo < when &&
        when < s->hi;
  pthread_mutex_unlock(&g_mu);
  return hit;
}

void chain_memo_remember(const CHAIN_INPUTS *in, const CHAIN_LEAF *leaf, int64_t when) {
  int64_t lo, hi;
  if (!leaf_interval(in, leaf, when, &lo, &hi)) {
    return;
  }
  pthread_mutex_lock(&g_mu);
  SLOT *s = slot_of(leaf->digest);
  memcpy(s->digest, leaf->digest, sizeof(s->digest));
  s->lo = lo;
  s->hi = hi;
  s->used = 1;
  pthread_mutex_unlock(&g_mu);
}
