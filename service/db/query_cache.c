/* query_cache.c: see query_cache.h. A chained hash table under one mutex: lookups are
 * a hash, a compare and a PQcopyResult, far below the cost of the round trip they
 * replace, so finer locking would buy nothing measurable. */
#include "service/db/query_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#define QUERY_CACHE_BUCKETS 4096

typedef struct entry_st {
  struct entry_st *next;
  uint64_t hash;
  size_t key_len;
  size_t bytes; /* what this entry counts against max_bytes */
  PGresult *res;
  unsigned char key[]; /* key_len bytes */
} ENTRY;

struct query_cache_st {
  pthread_mutex_t mu;
  uint64_t seed;
  uint64_t generation;
  int enabled;
  size_t max_entries, max_bytes;
  size_t entries, bytes;
  uint64_t hits, misses, invalidations;
  ENTRY *buckets[QUERY_CACHE_BUCKETS];
};

/* hash is FNV-1a over the key from a random start, finished with a 64-bit mixer so that
 * the low bits that pick the bucket depend on every byte. */
static uint64_t hash(uint64_t seed, const unsigned char *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull ^ seed;
  for (size_t i = 0; i < n; i++) {
    h = (h ^ p[i]) * 0x100000001b3ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

/* result_bytes approximates the memory a result holds: its values plus a fixed
 * overhead per row and column. */
static size_t result_bytes(const PGresult *res) {
  size_t n = 256;
  int rows = PQntuples(res), cols = PQnfields(res);
  for (int r = 0; r < rows; r++) {
    for (int c = 0; c < cols; c++) {
      n += (size_t)PQgetlength(res, r, c) + 16;
    }
  }
  return n;
}

/* clear_locked frees every entry; the caller holds |c->mu|. */
static void clear_locked(QUERY_CACHE *c) {
  for (size_t b = 0; b < QUERY_CACHE_BUCKETS; b++) {
    ENTRY *e = c->buckets[b];
    while (e != NULL) {
      ENTRY *next = e->next;
      PQclear(e->res);
      free(e);
      e = next;
    }
    c->buckets[b] = NULL;
  }
  c->entries = 0;
  c->bytes = 0;
}

QUERY_CACHE *query_cache_new(size_t max_entries, size_t max_bytes) {
  QUERY_CACHE *c = calloc(1, sizeof(*c));
  if (c == NULL) {
    return NULL;
  }
  pthread_mutex_init(&c->mu, NULL);
  if (getrandom(&c->seed, sizeof(c->seed), 0) != (ssize_t)sizeof(c->seed)) {
    c->seed = (uint64_t)(uintptr_t)c; /* ASLR still varies it from run to run */
  }
  c->max_entries = max_entries;
  c->max_bytes = max_bytes;
  return c;
}

void query_cache_free(QUERY_CACHE *c) {
  if (c == NULL) {
    return;
  }
  clear_locked(c);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static ENTRY *find_locked(QUERY_CACHE *c, uint64_t h, const void *key, size_t key_len) {
  for (ENTRY *e = c->buckets[h % QUERY_CACHE_BUCKETS]; e != NULL; e = e->next) {
    if (e->hash == h && e->key_len == key_len && memcmp(e->key, key, key_len) == 0) {
      return e;
    }
  }
  return NULL;
}

PGresult *query_cache_get(QUERY_CACHE *c, const void *key, size_t key_len,
                          uint64_t *out_generation) {
  PGresult *copy = NULL;
  uint64_t h = hash(c->seed, key, key_len);
  pthread_mutex_lock(&c->mu);
  *out_generation = c->generation;
  ENTRY *e = c->enabled ? find_locked(c, h, key, key_len) : NULL;
  if (e != NULL) {
    /* A failed copy (out of memory) is a miss: the caller asks the database. */
    copy = PQcopyResult(e->res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
  }
  if (copy != NULL) {
    c->hits++;
  } else {
    c->misses++;
  }
  pthread_mutex_unlock(&c->mu);
  return copy;
}

void query_cache_put(QUERY_CACHE *c, const void *key, size_t key_len, uint64_t generation,
                     const PGresult *res) {
  if (PQresultStatus(res) != PGRES_TUPLES_OK) {
    return;
  }
  /* The copy is made outside the lock; most puts are kept. */
  ENTRY *e = malloc(sizeof(*e) + key_len);
  PGresult *copy = PQcopyResult(res, PG_COPYRES_ATTRS | PG_COPYRES_TUPLES);
  if (e == NULL || copy == NULL) {
    free(e);
    PQclear(copy);
    return;
  }
  e->hash = hash(c->seed, key, key_len);
  e->key_len = key_len;
  memcpy(e->key, key, key_len);
  e->res = copy;
  e->bytes = result_bytes(copy) + key_len + sizeof(*e);

  pthread_mutex_lock(&c->mu);
  if (!c->enabled || generation != c->generation ||
      find_locked(c, e->hash, key, key_len) != NULL || e->bytes > c->max_bytes) {
    pthread_mutex_unlock(&c->mu);
    PQclear(copy);
    free(e);
    return;
  }
  if (c->entries + 1 > c->max_entries || c->bytes + e->bytes > c->max_bytes) {
    /* Starting again is simpler than tracking use, and the working set of a helpdesk
     * (its own senders' certificates, settings) refills at once. */
    clear_locked(c);
  }
  ENTRY **bucket = &c->buckets[e->hash % QUERY_CACHE_BUCKETS];
  e->next = *bucket;
  *bucket = e;
  c->entries++;
  c->bytes += e->bytes;
  pthread_mutex_unlock(&c->mu);
}

void query_cache_invalidate(QUERY_CACHE *c) {
  pthread_mutex_lock(&c->mu);
  c->generation++;
  c->invalidations++;
  clear_locked(c);
  pthread_mutex_unlock(&c->mu);
}

void query_cache_set_enabled(QUERY_CACHE *c, int enabled) {
  pthread_mutex_lock(&c->mu);
  c->generation++;
  c->enabled = enabled;
  clear_locked(c);
  pthread_mutex_unlock(&c->mu);
}

void query_cache_stats(QUERY_CACHE *c, QUERY_CACHE_STATS *out) {
  pthread_mutex_lock(&c->mu);
  out->hits = c->hits;
  out->misses = c->misses;
  out->invalidations = c->invalidations;
  out->entries = c->entries;
  out->bytes = c->bytes;
  out->enabled = c->enabled;
  pthread_mutex_unlock(&c->mu);
}
